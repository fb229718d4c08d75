"""What limits the closed loop (issue 11): the noise, the regularization it calls for, or the prior's correlation?

Each run is one ``hma-mascon solve`` of the whole box (default preset, every ``--month-step``-th month,
default all months), scored against its world's truth with :func:`hma_mascon.scoring.score_solution`:

* ``default world``: the book's solve (the reference row);
* ``noise-free world``: the same truth, priors and stated sigmas, no coefficient noise
  (:func:`hma_mascon.synthetic.generate_world` with ``noise=False``). The solve's operator is the same
  (the α rule sees the same stated noise), so what is left against the truth is the resolution of the
  data under that regularization, not the noise realisation;
* ``noise-free world, sigma0^2 = 0.25`` and ``0.01``: the same data solved as if the noise were two and
  ten times smaller (α about 4 and 100 times smaller): whether the data without their noise resolve
  more than the default's α lets through;
* ``default world, sigma0^2 = 0.25`` and ``4``: the trade on the noisy data: half and twice the stated
  noise in the α rule;
* ``low-noise world``: the same truth and priors with generator 1.1.0's noise and stated sigmas
  (``generate_world(noise="low")``), 0.29 (GRACE) and 0.52 (GRACE-FO) of the lower bound of the real
  CSR noise over degrees 30-96 that the default world has since generator 1.2.0 (chapter 9): how much
  the closed loop flattered the method while its noise was a third of reality's;
* ``default world, glacier variability 0.5 / 1 m w.e.``: the glacier prior given the variance of a
  specific mass variability about its trend on the RGI area (``glacier_variability_sd_mwe``,
  :func:`hma_mascon.priors.with_variability`): a rate-only glacier prior has no seasons or weather, so
  the refined step sees the glacier cells with little more than the hydrology's variance;
* ``default world, one alpha per system``: one α per eigensystem and step instead of one per month, so
  that month-to-month swings of α cannot make interannual variation (issue 11, suspect 3);
* ``regional-weather world`` (and with ``sigma0^2 = 0.25``): the same world with the glaciers' interannual series shared by
  neighbouring ranges (``generate_world(interannual="regional")``, correlation exp(-d / 500 km)), as
  real balances are, where the default world gives every range its own: whether the stations'
  interannual r misses because of the method or because of a world whose weather is narrower than
  GRACE's resolution (its own truth row, ``truth, regional-weather world``);
* ``default world, alpha x 0.3`` / ``0.1`` (and the regional-weather world at 0.3): every month solved at
  that factor times the α the MSE rule chose (``alpha_scale``), with the stated bias still from the
  rule's prior (:func:`hma_mascon.eigensystem.regularized_solve`). Unlike ``sigma0_sq``, which moves the
  plug-in iteration's fixed point by decades (0.25 gave α 28 times smaller here and 96 times on real
  CSR), the factor is exactly what it says. The rule minimises one month's error; a trend averages the
  noise of the months and not the bias;
* ``default world, L = 200 km`` / ``300 km``: the prior's correlation length (the default's 150 km was
  chosen between 50, 100 and 150 km);
* ``default world, trend from the data`` (and with L = 200 km): the trend solved once from the
  pseudo-observations' six-term fit, whose noise averages down over the months
  (:func:`hma_mascon.two_step.data_trend_solve`), instead of the trend of the damped months.

Written to ``reproduction/closed_loop_limits.csv`` with a ``.json`` sidecar, which chapter 9 prints.

Usage::

    python scripts/score_limits.py [--month-step 1] [--only NAME ...] [--work DIR]

One solve at a time (about 6 minutes and 2.5 GB each for all months on 2 cores); a run whose solution
file already exists in ``--work`` is scored again without solving.
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
from hma_mascon.reproduction.closed_loop import WIDE_ROW  # rows of the truth columns: r over 4.5 deg
from hma_mascon.safeio import atomic_write_text
from hma_mascon.scoring import interannual_scales, score_solution
from hma_mascon.synthetic import GENERATOR_VERSION, ensure_synthetic_data_dir

#: name -> (the world: its coefficient noise, True, "low" or False, or a dict of
#: :func:`~hma_mascon.synthetic.ensure_synthetic_data_dir` keywords; parameter overrides, what the run tests)
RUNS = {
    "default world": (True, {}, "the book's solve"),
    "noise-free world": (False, {}, "the same operator without the noise realisation"),
    "noise-free world, sigma0^2 = 0.25": (False, {"sigma0_sq": 0.25},
                                          "the same data, alpha for half the stated noise"),
    "noise-free world, sigma0^2 = 0.01": (False, {"sigma0_sq": 0.01},
                                          "the same data, alpha for a ten times smaller noise"),
    "default world, sigma0^2 = 0.25": (True, {"sigma0_sq": 0.25},
                                       "alpha for half the stated noise, on the noisy data"),
    "default world, sigma0^2 = 4": (True, {"sigma0_sq": 4.0}, "alpha for twice the stated noise"),
    "default world, L = 200 km": (True, {"prior_correlation_km": 200.0}, "prior correlation length"),
    "default world, L = 300 km": (True, {"prior_correlation_km": 300.0}, "prior correlation length"),
    "default world, trend from the data": (True, {"trend_from": "data"},
                                           "the trend solved once from the data, whose noise averages down"),
    "default world, trend from the data, L = 200 km": (True, {"trend_from": "data", "prior_correlation_km": 200.0},
                                                       "both"),
    "low-noise world": ("low", {}, "generator 1.1.0's noise, a third of the real noise's lower bound"),
    "default world, glacier variability 0.5 m w.e.": (True, {"glacier_variability_sd_mwe": 0.5},
                                                      "the glacier prior given seasons and weather on its ice"),
    "default world, glacier variability 1 m w.e.": (True, {"glacier_variability_sd_mwe": 1.0},
                                                    "the same, twice the RMS"),
    "default world, one alpha per system": (True, {"alpha_per": "system"},
                                            "no month-to-month swings of alpha (issue 11, suspect 3)"),
    "regional-weather world": ({"interannual": "regional"}, {},
                               "the glaciers' interannual weather shared by neighbouring ranges (exp(-d / 500 km))"),
    "regional-weather world, sigma0^2 = 0.25": ({"interannual": "regional"}, {"sigma0_sq": 0.25},
                                                "the same, alpha for half the stated noise"),
    "default world, alpha x 0.3": (True, {"alpha_scale": 0.3},
                                   "the months solved at 0.3 x the MSE rule's alpha, the stated bias from the rule's"),
    "default world, alpha x 0.1": (True, {"alpha_scale": 0.1}, "the same at 0.1 x"),
    "regional-weather world, alpha x 0.3": ({"interannual": "regional"}, {"alpha_scale": 0.3},
                                            "the regional-weather world at 0.3 x the rule's alpha"),
}

#: score_solution rows carried into the table (prefix match: the 10 % row names its cell count)
SCORE_ROWS = ["HMA glacier trend", "  HMA scaled by the resolution gain", "box total-mass trend",
              "per-cell glacier trend R², all", "per-cell glacier trend R², 10 %", "largest cell loss, Himalaya",
              "largest cell loss, Nyainqentanglha", "largest cell loss, Tien Shan", "interannual r, YALA",
              "interannual r, TS", "interannual r, AKSHIYRAK", "glacier cells' total mass, annual",
              "glacier cells' total mass, RMS", "cells whose 95 % trend bounds",
              "median half-width / median actual error"]


def limits_row(scores: pd.DataFrame) -> dict:
    """The table row of one run: the ``ours`` column of :data:`SCORE_ROWS` and the targets met."""
    row = {}
    for prefix in SCORE_ROWS:
        match = [i for i in scores.index if i.startswith(prefix)]
        if match:
            unit = scores.loc[match[0], "unit"]
            row[match[0].strip() + (f" [{unit}]" if isinstance(unit, str) and unit else "")] = float(
                scores.loc[match[0], "ours"])
    passed = scores["passed"]
    row["targets met"] = f"{int(passed.eq(True).sum())} of {int(passed.notna().sum())}"
    return row


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--month-step", type=int, default=1)
    p.add_argument("--only", nargs="*", default=None, help="run names (default: all)")
    p.add_argument("--work", default="closed_loop_runs", help="directory for the solution files")
    p.add_argument("--out", default="reproduction/closed_loop_limits.csv")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows, truths = [], {}
    for name, (world, over, what) in RUNS.items():
        if args.only and name not in args.only:
            continue
        world = world if isinstance(world, dict) else {"noise": world}
        data_dir = ensure_synthetic_data_dir(**world)
        stem = "".join(c if c.isalnum() else "_" for c in name)
        path = work / f"limits_{stem}_step{args.month_step}.nc"
        if not path.is_file():
            print(f"solving {name!r} ...", flush=True)
            write_solution(run_solution(data_dir, "default", progress=False, month_step=args.month_step, **over), path)
        scores = score_solution(read_solution(path), data_dir)
        rows.append({"run": name, "world noise": world.get("noise", True), "overrides": json.dumps(over),
                     "tests": what, **limits_row(scores)})
        # the truth through the same code, once per truth (the noise levels share one; the regional
        # weather has its own)
        mode = world.get("interannual", "independent")
        if mode not in truths:
            label = "truth" if mode == "independent" else f"truth, {mode}-weather world"
            truths[mode] = {"run": label, **limits_row(scores.assign(ours=scores["truth"])), "targets met": ""}
            # what a solve whose point-spread is a 4.5 deg square could reach (scoring.interannual_scales)
            scales = interannual_scales(read_solution(path), data_dir, windows=(9,))
            wide = next(c for c in scales.columns if c.startswith("truth averaged over"))
            for st, value in scales[wide].items():
                truths[mode][f"{WIDE_ROW}{st}"] = float(value)
        print(f"{name}: {rows[-1]['targets met']} targets met", flush=True)
    table = pd.DataFrame(rows + list(truths.values())).set_index("run")
    out = Path(args.out)
    atomic_write_text(out, table.to_csv())
    meta = {"generator": GENERATOR_VERSION, "month step": args.month_step, "box": "whole (65-105 E, 26-47 N)",
            "preset": "default", "hma-mascon": f"{__version__} commit {git_commit()[:12]}",
            "date": dt.date.today().isoformat()}
    atomic_write_text(out.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    print(table.T.to_string())


if __name__ == "__main__":
    main()
