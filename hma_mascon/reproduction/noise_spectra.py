"""The committed noise spectra of ``reproduction/noise_spectra.csv`` and their reading (issue 11, suspect 4).

``scripts/noise_spectra.py`` writes the degree RMS of real GRACE (CSR's six-term residuals, CSR minus
ITSG, the stated sigmas) beside the synthetic world's noise, stated sigmas and residuals, per mission era,
with a ``.json`` sidecar; :func:`read_noise_spectra` reads it for chapter 9, :func:`noise_ratios` takes the
median ratios over a band of degrees and :func:`noise_reading` says whether the closed loop is easier or
harder than reality, so that the prose follows the committed numbers.

Written by hand: the reading is this project's sentences; pandas reads and pivots the table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["read_noise_spectra", "noise_ratios", "noise_reading"]


def read_noise_spectra(directory):
    """The committed noise spectra of the synthetic world and of real GRACE (issue 11, suspect 4), or None.

    ``noise_spectra.csv`` (written by ``scripts/noise_spectra.py``; long form: ``era``, ``curve``,
    ``degree``, ``value``, ``months``) and its ``.json`` sidecar.

    Returns
    -------
    (pandas.DataFrame, dict) or None
        Degree RMS curves with ``(era, degree)`` rows and one column per curve; the sidecar.
    """
    path = Path(directory) / "noise_spectra.csv"
    if not path.is_file():
        return None
    try:
        long = pd.read_csv(path)
        table = long.pivot_table(index=["era", "degree"], columns="curve", values="value", sort=False)
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: cannot read the noise spectra ({exc})") from exc
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text()) if side.is_file() else {"settings": "not recorded"}
    return table, meta


def noise_ratios(table: pd.DataFrame, degrees=(30, 96)) -> pd.DataFrame:
    """Median ratios of the :func:`read_noise_spectra` curves over ``degrees`` (inclusive), per era:
    the synthetic noise against the real noise's lower bound (CSR - ITSG) and upper bound (CSR's own
    six-term residual), and each world's stated sigmas against its noise."""
    pairs = {"synthetic noise / real CSR - ITSG": ("synthetic noise", "real CSR - ITSG"),
             "synthetic noise / real CSR residual": ("synthetic noise", "real CSR residual"),
             "synthetic stated / synthetic noise": ("synthetic stated", "synthetic noise"),
             "real CSR stated / real CSR - ITSG": ("real CSR stated", "real CSR - ITSG"),
             "real CSR stated / real CSR residual": ("real CSR stated", "real CSR residual")}
    out = {}
    for era, sub in table.groupby(level="era", sort=False):
        deg = sub.index.get_level_values("degree")
        sel = sub[(deg >= degrees[0]) & (deg <= degrees[1])]
        out[era] = {k: float(np.median(sel[a] / sel[b])) for k, (a, b) in pairs.items()
                    if a in sel.columns and b in sel.columns}
    return pd.DataFrame(out)


def noise_reading(ratios: pd.DataFrame, low: pd.DataFrame | None = None) -> str:
    """A Markdown paragraph reading a :func:`noise_ratios` table (ratios as rows, eras as columns):
    is the synthetic world's noise inside the bounds of the real noise, and are the stated sigmas of
    each world those of its noise. ``low``: the same ratios over the low degrees, whose real stated
    sigmas are compared with the lower bound too."""
    def r(row, era):
        return float(ratios.loc[row, era]) if row in ratios.index and era in ratios.columns else float("nan")

    eras = list(ratios.columns)
    lower = [r("synthetic noise / real CSR - ITSG", e) for e in eras]
    upper = [r("synthetic noise / real CSR residual", e) for e in eras]
    if not np.all(np.isfinite(lower + upper)):
        return ""

    def each(vals):
        return " and ".join(f"{v:.2f} ({e})" for v, e in zip(vals, eras))

    if max(lower) < 0.8:
        verdict = ("below even the lower bound of the real noise in every era: **the closed loop is easier than "
                   "reality**, and its scores flatter the method by what a larger noise would cost")
    elif min(upper) > 1.25:
        verdict = "above even the upper bound of the real noise: the closed loop is harder than reality"
    elif all(0.8 <= v <= 1.25 for v in lower):
        verdict = ("at the lower bound of the real noise in every era: the closed loop is as hard as reality at "
                   "least is (the real noise may be larger by what the two centres share)")
    else:
        verdict = "between the bounds of the real noise: the closed loop is about as hard as reality"
    text = (f"Over degrees 30 to 96, where the residuals are noise, the synthetic world's noise is {each(lower)} "
            f"times the lower bound of the real noise, (CSR − ITSG)/√2, and {each(upper)} times its upper bound, "
            f"CSR's own six-term residual: {verdict}.")
    syn = [r("synthetic stated / synthetic noise", e) for e in eras]
    real_lo = [r("real CSR stated / real CSR - ITSG", e) for e in eras]
    real_hi = [r("real CSR stated / real CSR residual", e) for e in eras]
    if np.all(np.isfinite(syn + real_lo + real_hi)):
        where = ("near the upper bound" if all(0.8 <= v <= 1.25 for v in real_hi) else
                 "inside the bounds" if all(v < 1.0 for v in real_hi) and all(v > 1.0 for v in real_lo) else
                 "outside the bounds")
        text += (f" The synthetic solve weights with its true sigmas ({each(syn)} times its noise); the real "
                 f"solve's hybrid sigmas are {each(real_lo)} times the lower bound and {each(real_hi)} times "
                 f"the upper one, so the real α is chosen for a noise {where}.")
    if low is not None and "real CSR stated / real CSR - ITSG" in low.index:
        lo = [float(low.loc["real CSR stated / real CSR - ITSG", e]) for e in low.columns if e in eras]
        if lo and all(np.isfinite(lo)) and max(lo) < 1.0:
            text += (f" At the low degrees the real stated sigmas lie below even the lower bound ({each(lo)} times it): "
                     "there the hybrid rule keeps the formal sigmas, scaled by the high degrees' factor, and trusts "
                     "the low degrees more than the two centres' disagreement allows "
                     "(`coefficient_sigma=hybrid-floored` raises them to it).")
    return text
