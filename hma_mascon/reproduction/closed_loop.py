"""The committed closed-loop tables of ``reproduction/`` and their readings (issue 11).

Each table is written by a script in ``scripts/`` (one whole-box solve per column, scored against the
synthetic truth) with a ``.json`` sidecar of its settings, and read here for chapter 9:
:func:`read_configuration_scores` (``score_configurations.py``), :func:`read_limit_scores`
(``score_limits.py``), :func:`read_scenario_scores` (``score_scenarios.py``); the noise spectra of ``noise_spectra.py`` have
their own module (:mod:`hma_mascon.reproduction.noise_spectra`).
:func:`limits_reading`, :func:`scenario_reading`, :func:`interannual_reading`
(of :func:`hma_mascon.scoring.interannual_scales`, computed on the book's solve) and
:func:`weather_reading` (the regional-weather world of the limits table) turn a table into the
sentences the book prints, so that the prose follows the committed numbers (and says on which side
of a target they fall) instead of quoting numbers that a re-measurement leaves behind.

Written by hand: the readings are this project's sentences; pandas reads and pivots the tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..params import PARAMETERS

__all__ = ["read_configuration_scores", "read_limit_scores", "read_scenario_scores", "limits_reading",
           "scenario_reading", "interannual_reading", "weather_reading"]


def read_scenario_scores(directory):
    """The committed wrong-prior scenarios of the closed loop (issue 11, suspect 8), or None.

    ``wrong_prior_scenarios.csv`` (written by ``scripts/score_scenarios.py``: one whole-box solve per
    scenario, where the synthetic truth departs from the priors, split by
    :func:`hma_mascon.scoring.departure_table`) and its ``.json`` sidecar.

    Returns
    -------
    (pandas.DataFrame, dict) or None
        Metrics as rows, scenarios as columns; the sidecar's settings.
    """
    return _read_scores(directory, "wrong_prior_scenarios.csv", "scenario", "scenario scores", ("overrides",))


def _metric(num: pd.DataFrame, column, prefix: str) -> float:
    """The value of the first row of a numeric score table whose name starts with ``prefix``, in
    ``column`` (NaN when either is missing)."""
    rows = [r for r in num.index if str(r).startswith(prefix)]
    return float(num.loc[rows[0], column]) if rows and column in num.columns else float("nan")


def read_configuration_scores(directory):
    """The committed closed-loop scores of the method's configurations (issue 11), or None.

    ``closed_loop_configurations.csv`` (written by ``scripts/score_configurations.py``: one whole-box
    solve of the synthetic world per configuration, scored with :func:`hma_mascon.scoring.score_solution`)
    and its ``.json`` sidecar (generator version, month step, commit, date).

    Returns
    -------
    (pandas.DataFrame, dict) or None
        Metrics as rows, configurations (and ``truth``) as columns; the sidecar's settings.
    """
    return _read_scores(directory, "closed_loop_configurations.csv", "configuration", "configuration scores",
                        ("preset", "overrides", "tests"))


def read_limit_scores(directory):
    """The committed closed-loop limits (issue 11): noise-free world, α rule and correlation length, or None.

    ``closed_loop_limits.csv`` (written by ``scripts/score_limits.py``: one whole-box solve per run, on the
    default world or on the same world without coefficient noise, scored with
    :func:`hma_mascon.scoring.score_solution`) and its ``.json`` sidecar.

    Returns
    -------
    (pandas.DataFrame, dict) or None
        Metrics as rows, runs (and ``truth``) as columns; the sidecar's settings.
    """
    return _read_scores(directory, "closed_loop_limits.csv", "run", "closed-loop limits",
                        ("world noise", "overrides", "tests"))


def limits_reading(table: pd.DataFrame) -> str:
    """Markdown paragraphs reading a :func:`read_limit_scores` table (metrics as rows, runs as columns,
    with the ``targets met`` row that ``scripts/score_limits.py`` writes).

    Each paragraph compares the runs it needs with the ``default world`` column and is left out when
    one of them is missing, so a partial table (``score_limits.py --only``) reads as far as it goes.
    """
    num = table.apply(pd.to_numeric, errors="coerce")

    def get(run, prefix):
        return _metric(num, run, prefix)

    def has(*runs):
        return all(r in num.columns for r in runs)

    def targets(run):
        try:
            return int(str(table.loc["targets met", run]).split(" of ")[0])
        except (KeyError, ValueError):
            return -1

    def cells(run):
        return f"{get(run, 'per-cell glacier trend R², all'):.2f} / {get(run, 'per-cell glacier trend R², 10 %'):.2f}"

    def stations(run):
        return ", ".join(f"{get(run, f'interannual r, {s}'):.2f}" for s in ("YALA", "TS", "AKSHIYRAK"))

    base, quiet, out = "default world", "noise-free world", []
    hma, r2, ts = "HMA glacier trend", "per-cell glacier trend R², all", "largest cell loss, Tien Shan"
    if has(base, quiet, "truth"):
        same = (abs(get(quiet, r2) - get(base, r2)) < 0.1
                and abs(get(quiet, hma) - get(base, hma)) < 0.1 * abs(get("truth", hma)))
        out.append(
            ("**At the default's α the noise realisation barely matters.**" if same else
             "**The noise realisation matters even at the default's α.**")
            + " Without its noise the same solve gives "
            f"{get(quiet, hma):.1f} Gt/yr for HMA against {get(base, hma):.1f} with it (truth "
            f"{get('truth', hma):.1f}), a per-cell R² (all glacier cells / 10 % largest losses) of "
            f"{cells(quiet)} against {cells(base)}, and interannual r at YALA, TS and AKSHIYRAK of "
            f"{stations(quiet)} against {stations(base)} (truth {stations('truth')})."
            + (" What the solve misses there is its bias, the pull of the regularization toward the prior, "
               "which is the same with and without the noise." if same else ""))
    half_q, half_n, tenth_q = (f"{quiet}, sigma0^2 = 0.25", f"{base}, sigma0^2 = 0.25", f"{quiet}, sigma0^2 = 0.01")
    if has(base, half_q, half_n):
        sets = get(half_q, r2) > get(base, r2) > get(half_n, r2)
        text = (("**The noise sets how small α can be.** " if sets else "**A smaller α.** ")
                + f"With the α the MSE rule picks for half the stated noise (`sigma0_sq=0.25`), the "
                f"noise-free data give a per-cell R² of {cells(half_q)}, HMA {get(half_q, hma):.1f} Gt/yr, the "
                f"largest Tien Shan cell {get(half_q, ts):.1f} cm/yr and r at AKSHIYRAK "
                f"{get(half_q, 'interannual r, AKSHIYRAK'):.2f} ({table.loc['targets met', half_q]} targets), while "
                f"the noisy data give {cells(half_n)}, HMA {get(half_n, hma):.1f}, Tien Shan {get(half_n, ts):.1f} "
                f"({table.loc['targets met', half_n]}); the default {cells(base)}, HMA {get(base, hma):.1f}, Tien "
                f"Shan {get(base, ts):.1f}, truth {get('truth', ts):.1f}.")
        if sets:
            text += (" The data resolve more than the default lets through, and the noise is what stops α from "
                     "letting it through.")
        if tenth_q in num.columns:
            text += (f" With the α for a tenth of the noise (`sigma0_sq=0.01`) even the noise-free solve breaks down "
                     f"(R² {cells(tenth_q)}, Tien Shan {get(tenth_q, ts):.1f} cm/yr): the data hold signal the "
                     "grid cannot represent (hydrology and GIA beyond the buffer ring; degree 1, C20 and C30 from "
                     "TN-13 and SLR, with their own errors in both worlds), and the regularization keeps it out of "
                     "single cells.")
        double = f"{base}, sigma0^2 = 4"
        if double in num.columns:
            text += (f" With twice the stated noise (`sigma0_sq=4`) the noisy data give R² {cells(double)} and "
                     f"HMA {get(double, hma):.1f} Gt/yr ({table.loc['targets met', double]}).")
            if get(double, r2) < get(base, r2) and get(half_n, r2) < get(base, r2):
                text += (" By the per-cell R² of all glacier cells the MSE rule's α scores better on the noisy "
                         "data than the α of half or twice the noise.")
        if targets(half_n) > targets(base):
            text += (f" By the count of targets the smaller α is better on this world ({table.loc['targets met', half_n]} "
                     f"against {table.loc['targets met', base]}); below: what it does to the real record.")
        out.append(text)
    longer = [r for r in ("default world, L = 200 km", "default world, L = 300 km") if r in num.columns]
    if has(base) and longer:
        cov = "cells whose 95 % trend bounds"
        parts = [f"{r.split(', ')[1]}: R² {cells(r)}, largest Himalayan cell "
                 f"{get(r, 'largest cell loss, Himalaya'):.1f} cm/yr, HMA {get(r, hma):.1f} Gt/yr, "
                 f"coverage {100 * get(r, cov):.1f} %" for r in longer]
        out.append(
            ("**A longer correlation moves the cells, not the total** ("
             if all(abs(get(r, hma) - get(base, hma)) < 0.05 * abs(get("truth", hma)) for r in longer)
             else "**A longer correlation** (") + "; ".join(parts) +
            f"; the default's 150 km: R² {cells(base)}, Himalaya {get(base, 'largest cell loss, Himalaya'):.1f}, "
            f"HMA {get(base, hma):.1f}, coverage {100 * get(base, cov):.1f} %; truth Himalaya "
            f"{get('truth', 'largest cell loss, Himalaya'):.1f}). Targets met: "
            + ", ".join(f"{r.split(', ')[1]} {table.loc['targets met', r]}" for r in longer)
            + f", 150 km {table.loc['targets met', base]}.")
    data = [r for r in ("default world, trend from the data", "default world, trend from the data, L = 200 km")
            if r in num.columns]
    if has(base) and data:
        parts = [f"{'at 200 km' if '200' in r else 'at 150 km'}: HMA {get(r, hma):.1f} Gt/yr, box "
                 f"{get(r, 'box total-mass trend'):.1f}, R² {cells(r)}, Tien Shan {get(r, ts):.1f} cm/yr, "
                 f"{table.loc['targets met', r]} targets" for r in data]
        trade = all(abs(get(r, hma) - get("truth", hma)) < abs(get(base, hma) - get("truth", hma))
                    and get(r, r2) < get(base, r2) for r in data)
        out.append(("**The trend from the data trades the cells for the total.** " if trade else
                    "**The trend from the data.** ") + "Its noise averages down over the months, so its α is "
                   "smaller (" + "; ".join(parts) + f"; the default: HMA {get(base, hma):.1f}, box "
                   f"{get(base, 'box total-mass trend'):.1f}, R² {cells(base)}; truth HMA {get('truth', hma):.1f}, "
                   f"box {get('truth', 'box total-mass trend'):.1f}).")
    low = "low-noise world"
    if has(base, low, "truth"):
        cov = "cells whose 95 % trend bounds"

        def run_text(r):
            return (f"HMA {get(r, hma):.1f} Gt/yr, box {get(r, 'box total-mass trend'):.1f}, R² {cells(r)}, Tien Shan "
                    f"{get(r, ts):.1f} cm/yr, r at the stations {stations(r)}, coverage {100 * get(r, cov):.1f} %, "
                    f"{table.loc['targets met', r]} targets")

        flattered = get(low, r2) >= get(base, r2) or abs(get(low, hma) - get("truth", hma)) <= abs(
            get(base, hma) - get("truth", hma))
        little = abs(targets(low) - targets(base)) <= 1 and abs(get(low, r2) - get(base, r2)) < 0.05
        out.append(
            (("**The low noise flattered the method a little.** " if little else
              "**The low noise flattered the method.** ") if flattered else "**The low noise did not flatter it.** ")
            + "With generator 1.1.0's noise, a third of the real noise's lower bound (the section above), the "
            f"default preset gives {run_text(low)}; at the real noise level (the default world since generator "
            f"1.2.0): {run_text(base)}; truth HMA {get('truth', hma):.1f}, box "
            f"{get('truth', 'box total-mass trend'):.1f}, Tien Shan {get('truth', ts):.1f}.")
    steady = "default world, one alpha per system"
    if has(base, steady, "truth"):
        calmer = sum(get(steady, f"interannual r, {s}") >= get(base, f"interannual r, {s}") + 0.1
                     for s in ("YALA", "TS", "AKSHIYRAK"))  # a station helped: r up by 0.1 at least
        out.append(
            ("**The month-to-month swings of α are not what blurs the stations.** " if calmer < 2 else
             "**Steadier α helps the stations.** ")
            + f"With one α per eigensystem and step instead of one per month (`alpha_per=\"system\"`), r at the "
            f"stations is {stations(steady)} against the default's {stations(base)}; HMA {get(steady, hma):.1f} "
            f"Gt/yr, R² {cells(steady)} ({table.loc['targets met', steady]} targets, the default "
            f"{table.loc['targets met', base]}).")
    seasons = [r for r in num.columns if str(r).startswith("default world, glacier variability")]
    if has(base, "truth") and seasons:
        amp, rest = "glacier cells' total mass, annual", "glacier cells' total mass, RMS"

        def season_text(r):
            return (f"annual amplitude {get(r, amp):.0f} Gt, RMS about the fit {get(r, rest):.1f} Gt, HMA "
                    f"{get(r, hma):.1f} Gt/yr, R² {cells(r)}, Tien Shan {get(r, ts):.1f} cm/yr, r at the stations "
                    f"{stations(r)}, {table.loc['targets met', r]} targets")

        louder = all(get(r, amp) > get(base, amp) for r in seasons)
        noisier = all(get(r, rest) > get(base, rest) for r in seasons)
        helps = any(all(get(r, f"interannual r, {s}") >= 0.6 for s in ("YALA", "TS", "AKSHIYRAK")) for r in seasons)
        out.append(
            ("**Seasons on the ice bring the seasons back, and the noise with them.** " if louder and noisier
             else "**Seasons on the ice.** ")
            + "A rate-only glacier prior has no seasonal or interannual variance, so the refined step sees a "
            "glacier cell with little more than the hydrology's variance. Giving the glacier prior the variance "
            "of a specific mass variability about its trend on the RGI area (`glacier_variability_sd_mwe`): "
            + "; ".join(f"{r.split(', ')[1]}: {season_text(r)}" for r in seasons)
            + f"; the default: {season_text(base)}; the truth: annual amplitude {get('truth', amp):.0f} Gt, RMS "
            f"{get('truth', rest):.1f} Gt. "
            + ("The stations' r does not follow: what the glacier cells gain in variance is mostly noise. "
               if not helps else "")
            + ("The option stays off by default." if PARAMETERS["glacier_variability_sd_mwe"].default is None else
               f"The default sets {PARAMETERS['glacier_variability_sd_mwe'].default:g} m w.e."))
    fractions = sorted((r for r in num.columns if str(r).startswith(f"{base}, alpha x ")),
                       key=lambda r: -float(str(r).rsplit(" ", 1)[1]))
    if has(base, "truth") and fractions:
        cov, ratio, rest = "cells whose 95 % trend bounds", "median half-width", "glacier cells' total mass, RMS"

        def fraction_text(r):
            return (f"R² {cells(r)}, HMA {get(r, hma):.1f} Gt/yr, box {get(r, 'box total-mass trend'):.1f}, largest "
                    f"Himalaya / Nyainqentanglha / Tien Shan cell {get(r, 'largest cell loss, Himalaya'):.1f} / "
                    f"{get(r, 'largest cell loss, Nyainqentanglha'):.1f} / {get(r, ts):.1f} cm/yr, coverage "
                    f"{100 * get(r, cov):.1f} % at {get(r, ratio):.2f} times the median error, RMS about the fit "
                    f"{get(r, rest):.1f} Gt, {table.loc['targets met', r]} targets")

        sharper = all(get(r, "per-cell glacier trend R², 10 %") > get(base, "per-cell glacier trend R², 10 %") + 0.05
                      for r in fractions)
        honest = all(0.90 <= get(r, cov) <= 0.98 for r in fractions)
        out.append(
            ("**A fraction of the rule's α sharpens the cells, and the error bars stay honest.** " if sharper and honest
             else "**A fraction of the rule's α sharpens the cells.** " if sharper else "**A fraction of the rule's α.** ")
            + "The MSE rule minimises the error of one month; a trend averages the noise of the months but not "
            "the bias, so it is best at a smaller α. Every month solved at a fixed fraction of the α the rule "
            "chose, with the stated bias still that of the rule's prior (`alpha_scale`): "
            + "; ".join(f"α × {str(r).rsplit(' ', 1)[1]}: {fraction_text(r)}" for r in fractions)
            + f"; the default: {fraction_text(base)}; the truth: Himalaya / Nyainqentanglha / Tien Shan "
            f"{get('truth', 'largest cell loss, Himalaya'):.1f} / {get('truth', 'largest cell loss, Nyainqentanglha'):.1f}"
            f" / {get('truth', ts):.1f}, RMS about the fit {get('truth', rest):.1f} Gt. Unlike `sigma0_sq`, which moves "
            "the plug-in iteration's fixed point by decades, the factor is exactly what it says.")
    scaled = "HMA scaled by the resolution gain"
    sane = [c for c in num.columns if not str(c).startswith("truth") and np.isfinite(get(c, scaled)) and get(c, r2) > 0]
    if sane and "truth" in num.columns:
        rel = [abs(get(c, scaled) / get("truth", hma) - 1) for c in sane]
        raw = [get(c, hma) / get("truth", hma) for c in sane]
        raw_text = (f"{100 * (1 - max(raw)):.0f} % short of the truth" if len(raw) == 1 and raw[0] < 1 else
                    f"{100 * (1 - max(raw)):.0f} % to {100 * (1 - min(raw)):.0f} % short of the truth" if max(raw) < 1 else
                    f"between {100 * min(raw):.0f} % and {100 * max(raw):.0f} % of the truth")
        out.append(
            f"**The resolution gain earns the total.** In every run above whose cells hold together "
            f"(per-cell R² > 0), the raw HMA sum is {raw_text}, and the estimate scaled by the resolution "
            f"gain is within {100 * max(rel):.0f} % of it (the *information* row of the first table; chapter 7 shows it "
            "beside the raw sum, with its own error).")
    return "\n\n".join(out)


def scenario_reading(table: pd.DataFrame) -> dict:
    """Markdown sentences reading a :func:`read_scenario_scores` table (metrics as rows, scenarios as
    columns, as ``scripts/score_scenarios.py`` writes them), keyed by what they read.

    ``"karakoram"`` and ``"rate_only"``: where the Karakoram's unexpected loss goes with the default
    glacier variance and with the rate-only one (the *response* rows); ``"right"``: what the rate
    variability does on the world whose priors are right; ``"lakes"``: the lake growth with and
    without a lake prior; ``"fraction"``: the lakes and the Karakoram at 0.3 times the rule's α;
    ``"scaled"``: the resolution-gain estimate against the raw HMA sum. A key
    whose columns are missing is left out, so a partial table reads as far as it goes.
    """
    num = table.apply(pd.to_numeric, errors="coerce")

    def get(col, prefix):
        return _metric(num, col, prefix)

    def pct(v):
        return f"{100 * v:.0f} %"

    kara = [c for c in num.columns if str(c).startswith("Karakoram loses")]
    kara_rate = [c for c in num.columns if str(c).startswith("Karakoram, rate-only")]
    lake, no_lake = "lake growth, lake prior", "lake growth, no lake prior"
    right_rate = "default world, rate-only glacier prior"
    out, hma = {}, "HMA glacier trend [Gt/yr]"
    if kara:
        within = get(kara[0], "response within 1 deg")
        out["karakoram"] = (
            f"With the default, {pct(get(kara[0], 'response where it happened'))} of the Karakoram's loss comes back "
            f"in its own cells and {pct(within)} within 1°, "
            + ("past the issue's 70 %." if within >= 0.7 else "short of the issue's 70 %."))
    if kara_rate:
        c = kara_rate[0]
        out["rate_only"] = (
            f"Only {pct(get(c, 'response where it happened'))} of the loss comes back in the Karakoram's own cells "
            f"and {pct(get(c, 'response within 1 deg'))} within 1°. The box still sees "
            f"{pct(get(c, 'response whole box'))} of it, and {pct(get(c, 'response within 2 deg'))} lands within 2°.")
    if lake in num.columns and right_rate in num.columns:
        out["right"] = (
            f"On the world whose priors are right (the first and fourth columns), the rate variability moves the "
            f"HMA trend from {get(right_rate, hma):.1f} to {get(lake, hma):.1f} Gt/yr (the truth is "
            f"{get(lake, 'HMA glacier trend, truth'):.1f}) and leaves the lake shares within 1° at "
            f"{pct(get(right_rate, 'stays within 1 deg'))} and {pct(get(lake, 'stays within 1 deg'))}.")
    if lake in num.columns and no_lake in num.columns:
        w_lake, w_none = get(lake, "stays within 1 deg"), get(no_lake, "stays within 1 deg")
        out["lakes"] = (
            f"With the lake prior, {pct(w_lake)} of the lake growth stays within 1°"
            + ("." if w_lake >= 0.7 else ", under the issue's 70 % even with the prior.")
            + f" Without it the share is {pct(w_none)}, "
            + ("under the target. " if w_none < 0.7 else "still at the target. ")
            + f"Only {pct(get(no_lake, 'recovered where it happened'))} stays in the lake cells, and "
            f"{pct(get(no_lake, 'booked to glacier cells within 1 deg'))} is booked to the glacier cells within 1°, "
            "where it hides glacier loss.")
    low = {k: f"{k}, alpha x 0.3" for k in (lake, no_lake)}
    kara_low = "Karakoram, alpha x 0.3"
    if all(c in num.columns for c in (lake, *low.values())):
        text = (f"Solved at 0.3 times the rule's α (`alpha_scale=0.3`), {pct(get(low[lake], 'stays within 1 deg'))} "
                f"of the lake growth stays within 1° with the lake prior (default {pct(get(lake, 'stays within 1 deg'))}) "
                f"and {pct(get(low[no_lake], 'stays within 1 deg'))} without it"
                + (f" (default {pct(get(no_lake, 'stays within 1 deg'))})" if no_lake in num.columns else "") + ".")
        if kara and kara_low in num.columns:
            text += (f" Of the Karakoram's unexpected loss {pct(get(kara_low, 'response where it happened'))} comes back "
                     f"in its own cells and {pct(get(kara_low, 'response within 1 deg'))} within 1° (default "
                     f"{pct(get(kara[0], 'response where it happened'))} and {pct(get(kara[0], 'response within 1 deg'))}).")
        out["fraction"] = text
    cols = [c for c in num.columns if np.isfinite(get(c, "HMA scaled by the resolution gain"))]
    if cols:
        rel = [abs(get(c, "HMA scaled by the resolution gain") / get(c, "HMA glacier trend, truth") - 1) for c in cols]
        short = [1 - get(c, hma) / get(c, "HMA glacier trend, truth") for c in cols]
        out["scaled"] = (
            f"In every column the resolution-gain estimate of the HMA trend (`HMA scaled`) is within "
            f"{100 * max(rel):.0f} % of the truth ({100 * min(rel):.1f} % to {100 * max(rel):.1f} %). The raw sum is "
            f"{100 * min(short):.0f} % to {100 * max(short):.0f} % short. Chapter 7 shows both.")
    return out


def interannual_reading(scales: pd.DataFrame, limits: pd.DataFrame | None = None, target: float = 0.6,
                        ceiling: float = 0.85) -> str:
    """Markdown reading an :func:`hma_mascon.scoring.interannual_scales` table, station by station.

    For each station where the truth's r reaches ``ceiling`` (where the issue sets the target): what a
    perfect solve keeps after the soil-moisture-only separation, the largest averaging square over
    which the truth keeps r >= ``target``, ours, and (with ``limits``, a :func:`read_limit_scores`
    table) the best r of any closed-loop run and which. A station is *beyond the data's resolution*
    when the truth averaged over the largest square falls below the target: no solve that resolves
    only that square can meet it there.
    """
    num = scales.apply(pd.to_numeric, errors="coerce")
    squares = [c for c in num.columns if c.startswith("truth averaged over")]
    size = {c: c.split("(")[-1].rstrip(")") for c in squares}  # "... (4.5 deg)" -> "4.5 deg"
    lim = limits.apply(pd.to_numeric, errors="coerce") if limits is not None else None
    out, beyond, within = [], [], []
    for st, row in num.iterrows():
        if not row["truth"] >= ceiling:
            continue
        kept = [c for c in squares if row[c] >= target]
        keep_txt = (f"keeps r >= {target:g} up to {size[kept[-1]]}" if kept
                    else f"falls below {target:g} already over {size[squares[0]]}")
        sq = ", ".join(f"{row[c]:.2f}" for c in squares)
        txt = (f"**{st}** (truth {row['truth']:.2f}): a perfect solve keeps "
               f"{row['perfect solve, the SM prior removed']:.2f} once the soil-moisture prior is removed; "
               f"the truth averaged over the squares ({', '.join(size.values())}) "
               f"gives {sq}, so it {keep_txt}; ours {row['ours']:.2f}")
        rows = [] if lim is None else [r for r in lim.index
                                       if str(r).startswith("interannual r") and str(r).endswith(str(st))]
        if rows:
            runs = lim.loc[rows[0]].drop(labels=[c for c in lim.columns if str(c).startswith("truth")
                                                 or str(c).startswith(WEATHER_RUN)]).dropna()
            if not runs.empty:
                txt += f"; the best of the closed-loop runs above: {runs.max():.2f} ({runs.idxmax()})"
        out.append(txt + ".")
        (beyond if squares and row[squares[-1]] < target else within).append(str(st))
    if not out:
        return ""
    last = size[squares[-1]] if squares else ""
    rms_km = float(last.split()[0]) * 111.2 / np.sqrt(6) if last else np.nan  # RMS radius of the square, N-S
    verdict = []
    if beyond:
        verdict.append(f"At {', '.join(beyond)} the truth itself, averaged over {last} (an RMS radius of "
                       f"{rms_km:.0f} km; compare the point-spread widths of the reduced study below), "
                       f"is below {target:g}: the station's interannual signal is smaller in space than what "
                       "the solve resolves, and the signal of its neighbours dominates the average. A solve "
                       "this wide cannot meet the target there, however well it does otherwise.")
    if within:
        verdict.append(f"At {', '.join(within)} the truth keeps the target over {last}: the miss is the "
                       "solve's, and the closed-loop runs show how much the noise and its regularization take.")
    return "\n\n".join(["- " + o for o in out] + [" ".join(verdict)])


#: the run of ``closed_loop_limits.csv`` on the world whose ranges share their interannual weather,
#: and its truth column (``scripts/score_limits.py``)
WEATHER_RUN, WEATHER_TRUTH = "regional-weather world", "truth, regional-weather world"
#: the rows of the truth columns that hold the truth averaged over 4.5 deg (``scripts/score_limits.py``)
WIDE_ROW = "truth over 4.5 deg: interannual r, "


def _r2(value) -> str:
    """A correlation with two decimals, without a sign on zero ("0.00", not "-0.00")."""
    return f"{round(float(value), 2) + 0.0:.2f}"


def _and(names) -> str:
    """"A", "A and B", "A, B and C"."""
    names = [str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def weather_reading(table: pd.DataFrame | None, target: float = 0.6, ceiling: float = 0.85) -> str:
    """Markdown reading the regional-weather run of a :func:`read_limit_scores` table ("" without it).

    It compares the default preset on the world whose ranges share their interannual weather with the
    default world, station by station where that world's truth reaches ``ceiling``, and says whether
    the rest of the scores (HMA, the cells) moved: the weather is the one difference between the worlds.
    """
    if table is None or not {WEATHER_RUN, WEATHER_TRUTH, "default world", "truth"} <= set(table.columns):
        return ""
    num = table.apply(pd.to_numeric, errors="coerce")
    stations = [str(r).removeprefix("interannual r, ") for r in num.index if str(r).startswith("interannual r, ")]
    parts, met, missed = [], [], []
    wide = {st: (_metric(num, WEATHER_TRUTH, f"{WIDE_ROW}{st}"), _metric(num, "truth", f"{WIDE_ROW}{st}"))
            for st in stations}
    for st in stations:
        row = f"interannual r, {st}"
        truth_w = num.loc[row, WEATHER_TRUTH]
        over = (f", {wide[st][0]:.2f} over 4.5°" if np.isfinite(wide[st][0]) else "")
        parts.append(f"{st} {_r2(num.loc[row, WEATHER_RUN])} (truth {truth_w:.2f}{over}; in the default world "
                     f"{num.loc[row, 'default world']:.2f}, truth {num.loc[row, 'truth']:.2f}"
                     + (f", {wide[st][1]:.2f} over 4.5°)" if np.isfinite(wide[st][1]) else ")"))
        if truth_w >= ceiling:
            (met if num.loc[row, WEATHER_RUN] >= target else missed).append(st)
    reach = [st for st in missed if wide[st][0] >= target]  # the truth keeps the target at GRACE's scale

    def other(prefix):
        return (f"{_metric(num, WEATHER_RUN, prefix):.2f} against {_metric(num, 'default world', prefix):.2f}")

    text = ("**With shared weather the stations come within reach.** " if met and not missed else
            "**Shared weather helps some stations.** " if met else "**Shared weather does not rescue the stations.** ")
    text += ("On the world whose ranges share their interannual weather (correlation exp(-d / 500 km) between "
             "the ranges, the same draws otherwise), the default preset's interannual r is " + "; ".join(parts) + ".")
    if met:
        text += f" It meets r >= {target:g} at {_and(met)}"
        text += f" and misses at {_and(missed)}." if missed else "."
    elif missed:
        text += f" It misses r >= {target:g} at {_and(missed)}."
    if reach:
        text += (f" At {_and(reach)} the truth averaged over 4.5° keeps the target in this world, so there the "
                 "miss is the solve's, not the world's.")
    half = f"{WEATHER_RUN}, sigma0^2 = 0.25"
    if half in num.columns:
        text += (" With the α for half the stated noise (`sigma0_sq=0.25`) the same world gives "
                 + ", ".join(f"{st} {_r2(num.loc[f'interannual r, {st}', half])}" for st in stations)
                 + f" ({table.loc['targets met', half]} targets).")
    text += (f" The rest barely depends on the weather: HMA {other('HMA glacier trend')} Gt/yr, per-cell R² "
             f"{other('per-cell glacier trend R², all')} (all glacier cells); targets met "
             f"{table.loc['targets met', WEATHER_RUN]} against {table.loc['targets met', 'default world']}.")
    return text


def _read_scores(directory, name: str, index: str, what: str, drop: tuple):
    """A committed score table ``name`` (columns transposed to rows) and its ``.json`` sidecar, or None."""
    path = Path(directory) / name
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path, index_col=index)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the {what} ({exc})") from exc
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text()) if side.is_file() else {"settings": "not recorded"}
    keep = [c for c in table.columns if c not in drop]
    return table[keep].T, meta
