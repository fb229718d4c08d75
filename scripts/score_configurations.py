"""Score configurations of the method against the synthetic truth (issue 11: "Earn the 0.5° resolution").

Each configuration is one ``hma-mascon solve`` of the whole box on the synthetic world (every
``--month-step``-th month; the noise calibration always uses every month), scored with
:func:`hma_mascon.scoring.score_solution`. The table of every configuration's metrics is written to
``reproduction/closed_loop_configurations.csv`` with a ``.json`` sidecar (generator version, month step,
package version and commit, date), which chapter 9 of the book prints beside its own full solve.

Usage::

    python scripts/score_configurations.py [--month-step 12] [--only NAME ...] [--out CSV]

Runs one solve at a time (each takes 1.5-3 minutes and 2-6 GB on 2 cores); a configuration whose
solution file already exists in ``--work`` is scored again without solving.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import pandas as pd

from hma_mascon import __version__
from hma_mascon.output import git_commit, read_solution, write_solution
from hma_mascon.pipeline import run_solution
from hma_mascon.safeio import atomic_write_text
from hma_mascon.scoring import departure_table, score_solution
from hma_mascon.synthetic import GENERATOR_VERSION, ensure_synthetic_data_dir

#: name -> (preset, overrides, what it tests)
CONFIGURATIONS = {
    "paper": ("paper", {}, "the paper's literal choices"),
    "diagonal": ("diagonal", {}, "the default before issue 11: diagonal prior, closed kernel, no buffer"),
    "diagonal + truncated kernel": ("diagonal", {"kernel": "truncated"}, "suspect 2 alone"),
    "correlated 100 km, closed kernel": ("diagonal", {"prior_correlation_km": 100.0}, "suspect 1 alone"),
    "correlated 100 km + truncated": ("diagonal", {"prior_correlation_km": 100.0, "kernel": "truncated"},
                                      "suspects 1 and 2"),
    "correlated + truncated + 2 deg buffer": ("default", {"prior_correlation_blocks": "all"},
                                              "suspects 1, 2 and 5"),
    "default": ("default", {}, "suspects 1, 2, 5, correlation within each prior component"),
    "default, closed kernel": ("default", {"kernel": "closed"}, "suspect 2 within the default"),
    "default, one alpha per system": ("default", {"alpha_per": "system"}, "suspect 3"),
    "default, no lake prior": ("default", {"prior_lake": "none"},
                               "suspect 8: lake growth in the truth, in no prior (as on the real data)"),
    "default, GRACE-derived hydrology prior": ("default", {"prior_hydrology": "grace"},
                                               "suspect 8: the real-data substitute for the hydrology model"),
}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--month-step", type=int, default=12)
    p.add_argument("--only", nargs="*", default=None, help="configuration names (default: all)")
    p.add_argument("--work", default="closed_loop_runs", help="directory for the solution files")
    p.add_argument("--out", default="reproduction/closed_loop_configurations.csv")
    args = p.parse_args(argv)
    data_dir = ensure_synthetic_data_dir()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows, truth = [], {}
    for name, (preset, over, what) in CONFIGURATIONS.items():
        if args.only and name not in args.only:
            continue
        path = work / (name.replace(" ", "_").replace(",", "").replace("+", "plus").replace("=", "") + ".nc")
        if not path.is_file():
            print(f"solving {name!r} ...", flush=True)
            write_solution(run_solution(data_dir, preset, progress=False, month_step=args.month_step, **over), path)
        sol = read_solution(path)
        scores = score_solution(sol, data_dir)
        lake = departure_table(sol, data_dir, "lake")
        scores.loc["lake trend recovered where it happened", ["ours", "truth", "unit"]] = [
            lake.loc["recovered where it happened", "share of the component's trend"], 1.0, "fraction"]
        near = [i for i in lake.index if i.startswith("error in glacier cells")][0]
        scores.loc["lake trend booked to glacier cells within 1 deg", ["ours", "truth", "unit"]] = [
            lake.loc[near, "share of the component's trend"], 0.0, "fraction"]
        row = {"configuration": name, "preset": preset, "overrides": json.dumps(over), "tests": what}
        row.update({f"{m} [{u}]" if u else m: v for m, v, u in zip(scores.index, scores["ours"], scores["unit"])})
        row["targets met"] = f"{int(scores['passed'].eq(True).sum())} of {int(scores['passed'].notna().sum())}"
        rows.append(row)
        truth = {f"{m} [{u}]" if u else m: t for m, t, u in zip(scores.index, scores["truth"], scores["unit"])}
        print(f"{name}: {row['targets met']} targets met", flush=True)
    table = pd.DataFrame(rows).set_index("configuration")
    if truth:
        table.loc["truth"] = pd.Series(truth)
    out = Path(args.out)
    atomic_write_text(out, table.to_csv())
    meta = {"generator": GENERATOR_VERSION, "month step": args.month_step, "box": "whole (65-105 E, 26-47 N)",
            "hma-mascon": f"{__version__} commit {git_commit()[:12]}", "date": dt.date.today().isoformat()}
    atomic_write_text(out.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    print(table.T.to_string())


if __name__ == "__main__":
    main()
