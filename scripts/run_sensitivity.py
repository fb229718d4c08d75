"""Sensitivity of the real-data HMA glacier trend to the method's settings, one setting at a time.

Usage::

    python scripts/run_sensitivity.py DATA_DIR [--month-step 6] [--workers 2] [--scheduler ADDRESS]

Each factor is one ``hma-mascon ensemble`` (:func:`hma_mascon.ensemble.run_ensemble`, a Dask
computation on a local cluster, or on ``--scheduler``) around the default preset on CSR: the preset
(default, paper, diagonal; the default member is the centre of every other factor), the data centre
(ITSG-Grace2018), the altitude of the pseudo-observations (300 and 600 km against 450) and the prior
floor (0.005 and 0.02 m against 0.01). The GIA model needs no solve: the solution removes the first
model (:func:`hma_mascon.pipeline.run_solution`) and each other model changes the regional trends
by the difference of the models' regional sums (``Context.gia_trends``).

Every member solves every ``--month-step``-th month (default 6: 38 of the 223 CSR months, a
quarter of an hour on two cores for the eight solves); the trend is fitted over those months, so
the centre differs slightly from the all-month trend of chapter 7. Written to ``reproduction/``:

* ``sensitivity_real_csr.csv``: one row per member (factor, value, HMA trend and its stated 95 %
  error, every HiMAP region's trend [Gt/yr], wall time and peak memory of the member);
* ``sensitivity_real_csr.json``: commit, date, month step, cluster and the centre's settings.
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

from hma_mascon.ensemble import run_ensemble, select_member, sensitivity_table
from hma_mascon.reproduction import prepare

ROOT = Path(__file__).resolve().parents[1]

#: factor -> (parameter or "preset", the values other than the centre's)
FACTORS = {
    "preset": ("preset", ["default", "paper", "diagonal"]),
    "data centre": ("source", ["itsg"]),
    "altitude [km]": ("altitude_km", [300.0, 600.0]),
    "prior floor [m]": ("prior_floor_m", [0.005, 0.02]),
}
CENTRE = {"source": "csr", "altitude_km": 450.0, "prior_floor_m": 0.01, "preset": "default"}


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir")
    ap.add_argument("--month-step", type=int, default=6)
    ap.add_argument("--workers", type=int, default=None, help="local cluster workers (default: planned)")
    ap.add_argument("--scheduler", default=None, help="an existing Dask scheduler instead of a local cluster")
    ap.add_argument("--out", default=str(ROOT / "reproduction"))
    args = ap.parse_args(argv)
    fixed = {"month_step": args.month_step}
    rows, centre_row, seconds = [], None, {}
    for factor, (name, values) in FACTORS.items():
        t0 = time.perf_counter()
        vary = {name: values}
        ens = run_ensemble(vary, fixed, data_dir=args.data_dir,
                           scheduler=args.scheduler, n_workers=None if args.scheduler else args.workers)
        seconds[factor] = round(time.perf_counter() - t0, 1)
        tab = sensitivity_table(ens, args.data_dir).reset_index()
        for i, rec in tab.iterrows():
            value = rec[name]
            row = {"factor": factor, "value": str(value), **rec.drop(labels=[name]).to_dict(),
                   "seconds": float(ens["member_seconds"].values[i]),
                   "peak_memory_mb": float(ens["member_peak_rss"].values[i])}
            if name == "preset" and value == "default":
                centre_row = dict(row, factor="centre", value="default preset, CSR")
                # the GIA models on the centre: the solution removed the first one
                sol = select_member(ens, i)
                ctx = prepare(sol, args.data_dir)
                gia = ctx.gia_trends.to_pandas()  # (model, region) glacier-trend change per model
                first = gia.index[0]
                for model in gia.index:
                    shifted = {k: (v + gia.loc[model, k] - gia.loc[first, k]) if k in gia.columns else v
                               for k, v in centre_row.items()}
                    rows.append({**shifted, "factor": "GIA model", "value": str(model), "seconds": 0.0,
                                 "peak_memory_mb": 0.0})
            else:
                rows.append(row)
        print(f"{factor}: {seconds[factor]:.0f} s", flush=True)
    if centre_row is None:
        raise RuntimeError("the preset factor must include the default (the centre)")
    table = pd.DataFrame([centre_row] + rows)
    out = Path(args.out)
    stem = out / "sensitivity_real_csr"
    table.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.4g")
    meta = {"commit": _commit(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "centre": CENTRE, "month_step": args.month_step,
            "cluster": args.scheduler or f"LocalCluster ({args.workers or 'planned'} workers)",
            "factor_seconds": seconds, "data_dir": "the real mirror (data_manifest.yml)"}
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(table.round(2).to_string())
    print(f"wrote {stem}.csv, .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
