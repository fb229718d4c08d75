"""Solve the shipped glacier regions on the real data and cache what the chapter "Beyond High Mountain Asia" draws.

Usage::

    python scripts/run_regions.py DATA_DIR [--source csr] [--regions alaska southern_andes svalbard hma]
                                   [--solutions DIR]

For each region, ``hma-mascon solve --region NAME`` (default preset, all months) writes its product to
``--solutions`` (kept, with its wall time in a ``.seconds`` file beside it: a rerun reuses a finished
solution, so an interruption loses one solve at most), then :func:`hma_mascon.region_validation.region_table` compares its glacier trend with
Hugonnet et al. (2021). Written to ``reproduction/``:

* ``regions_real_<source>.csv``: the comparison, one row per region, variant and Hugonnet period. The
  regions that pin their sea cells (``sea_hydrology=none``) are also solved without that rule
  (variant ``sea_hydrology=prior``), so that the chapter can show what the rule does;
* ``regions_real_<source>.nc``: one netCDF group per region with the glacier-trend map [cm/yr], the
  RGI glacier area, the land mask and the monthly glacier-mass series [Gt] (small: 0.5° grids);
* ``regions_real_<source>.json``: commit, date, settings and the wall time of each solve.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from hma_mascon.glacier_regions import REGIONS
from hma_mascon.output import read_solution, write_solution
from hma_mascon.pipeline import run_solution
from hma_mascon.region_validation import region_group, region_table

ROOT = Path(__file__).resolve().parents[1]


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("--source", default="csr")
    ap.add_argument("--regions", nargs="+", default=["alaska", "southern_andes", "svalbard", "hma"],
                    choices=list(REGIONS))
    ap.add_argument("--solutions", default=str(Path.home() / ".cache" / "hma-mascon" / "regions"))
    ap.add_argument("--out", default=str(ROOT / "reproduction"))
    args = ap.parse_args(argv)
    sols, out = Path(args.solutions), Path(args.out)
    sols.mkdir(parents=True, exist_ok=True)
    stem = out / f"regions_real_{args.source}"
    tables, runtimes = [], {}
    nc = stem.with_suffix(".nc")
    tmp = nc.with_suffix(".nc.part")
    tmp.unlink(missing_ok=True)
    for name in args.regions:
        variants = [("region preset", {})]
        if REGIONS[name].values.get("sea_hydrology") == "none":  # the sea rule, and without it
            variants.append(("sea_hydrology=prior", {"sea_hydrology": "prior"}))
        for label, extra in variants:
            suffix = "".join(f"_{k}-{v}" for k, v in extra.items())
            path = sols / f"{name}_{args.source}{suffix}.nc"
            if not path.is_file():
                t0 = time.perf_counter()
                ds = run_solution(args.data_dir, "default", region=name, source=args.source, progress=True, **extra)
                write_solution(ds, path)
                seconds = round(time.perf_counter() - t0, 1)
                path.with_suffix(".seconds").write_text(f"{seconds}\n")
                print(f"{name} {label}: solved in {seconds:.0f} s -> {path}", flush=True)
            timing = path.with_suffix(".seconds")
            runtimes[f"{name} ({label})"] = float(timing.read_text()) if timing.is_file() else None
            sol = read_solution(path)
            tab = region_table(sol, args.data_dir, filtered=True).reset_index()
            tab.insert(0, "region", name)
            tab.insert(1, "variant", label)
            tables.append(tab)
            if not extra:
                group = region_group(sol, args.data_dir)
                group.to_netcdf(tmp, mode="a" if tmp.exists() else "w", group=name)
            print(tab.round(2).to_string(), flush=True)
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.4g")
    tmp.replace(nc)
    meta = {"commit": _commit(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "preset": "default", "source": args.source, "regions": args.regions,
            "solve_seconds": runtimes, "data_dir": "the real mirror (data_manifest.yml)"}
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {stem}.csv, .nc, .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
