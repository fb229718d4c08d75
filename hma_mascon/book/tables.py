"""Side-by-side tables of the chapters: ours beside the paper's numbers and the synthetic truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..paper import paper_numbers

__all__ = ["table2_comparison", "paper_numbers_table", "table3_comparison", "regional_comparison"]


def table2_comparison(t2: dict, t2_truth: dict | None = None) -> pd.DataFrame:
    """Table II beside the paper: rows the paper's four solutions, ours (and the truth's) regression.

    The CSR-M, JPL-M and GSFC-M rows are the paper's values only (the products are not offline).
    """
    ref = paper_numbers_table("table2")
    rows = []
    for sol in ("CSR-M", "JPL-M", "GSFC-M", "this_study"):
        rows.append({"solution": f"{sol} (paper)", "slope": ref.get(f"table2.{sol}.slope"),
                     "intercept": ref.get(f"table2.{sol}.intercept"), "R2": ref.get(f"table2.{sol}.r2"),
                     "n": 16})
    grid_ref = paper_numbers_table("grid_regression")
    rows.append({"solution": "this study, per cell (paper)", "slope": grid_ref.get("grid_regression.this_study.slope"),
                 "intercept": np.nan, "R2": grid_ref.get("grid_regression.this_study.r2"), "n": np.nan})
    for label, res in (("ours", t2), ("truth", t2_truth)):
        if res is None:
            continue
        for level, name in (("region", "16 regions"), ("cell", "per cell")):
            r = res[level]
            rows.append({"solution": f"{label}, {name}", "slope": r["slope"], "intercept": r["intercept"],
                         "R2": r["r2"], "n": r["n"]})
    return pd.DataFrame(rows).set_index("solution")


def paper_numbers_table(prefix: str) -> dict:
    """``{id: value}`` of the paper numbers whose id starts with ``prefix``."""

    ref = paper_numbers()
    return {q: float(v) for q, v in ref["value"].items() if q.startswith(prefix)}


def table3_comparison(t3: pd.DataFrame, t3_truth: pd.DataFrame | None = None, **variants) -> pd.DataFrame:
    """Table III beside the paper: the paper's four columns, ours with n and the years, variants.

    ``variants`` are further :func:`table3` results (e.g. ``mean_3x3=...``, ``flux=...``), one r column each.
    """
    ref = paper_numbers_table("table3")
    out = pd.DataFrame(index=t3.index)
    out["paper period"] = t3["paper_period"]
    for p in ("CSR-M", "JPL-M", "GSFC-M", "this_study"):
        out[f"paper {p}"] = [ref.get(f"table3.{g}.{p}.r", np.nan) for g in t3.index]
    out["ours r"] = t3["r"]
    out["ours n"] = t3["n"]
    out["ours years"] = t3["years"]
    for name, tab in variants.items():
        out[f"ours r ({name})"] = tab["r"].reindex(t3.index)
    if t3_truth is not None:
        out["truth r"] = t3_truth["r"].reindex(t3.index)
    return out


def regional_comparison(tr: pd.DataFrame, tr_truth: pd.DataFrame | None = None) -> pd.DataFrame:
    """Regional trend table beside the paper's quoted values (three regions and HMA) and the truth.

    With a damping probe in the solution (:func:`regional_damping`) the table also has ``damping``
    (expected bias of a prior-shaped trend, inside ``error95``), ``gain`` and the scaled
    estimate ``trend_scaled`` with ``error95_scaled`` (:func:`regional_trend_table`; gain 1 where
    it is undefined).
    """
    ref = paper_numbers_table("trend.")
    cols = ["number", "trend", "error95", "error95_fit", "sigma_fit", "sigma_gia"]
    if "sigma_bias" in tr:
        cols += ["sigma_bias"]
    if "damping" in tr:
        cols += ["damping", "gain", "trend_scaled", "error95_scaled"]
    out = tr[cols + ["n_months", "start", "end"]].copy()
    out["paper"] = [ref.get(f"trend.region.{r}", ref.get("trend.HMA.this_study") if r == "HMA" else np.nan)
                    for r in out.index]
    if tr_truth is not None:
        out["truth"] = tr_truth["trend"].reindex(out.index)
    return out
