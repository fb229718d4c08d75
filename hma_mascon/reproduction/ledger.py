"""The ledger: every number of the paper beside ours (and the truth's), and the committed real-data ledgers.

:func:`paper_numbers_from_solution` turns a solution into the ``ours`` dict of
:func:`hma_mascon.paper.ledger` (ids of ``hma_mascon/data/paper_numbers.yml`` mapped to
``(value, reason)``) from the tables of :mod:`hma_mascon.reproduction`; :func:`ledger_table` puts the
paper, ours and, in the synthetic world, the truth side by side (chapter 10).
:func:`read_committed_ledgers` reads the real-data ledgers written by ``scripts/make_real_ledger.py``
(``reproduction/ledger_real_*.csv`` with a ``.json`` of the settings beside each).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..paper import ledger, paper_numbers
from .comparisons import ablation_table, table2, table3
from .context import (
    ABLATION_YEARS,
    NO_PRODUCT,
    PAPER_PERIOD,
    PRODUCTS,
    Context,
    prepare,
    truth_as_solution,
)
from .trends import max_cell_trends, regional_trend_table, table4

__all__ = ["paper_numbers_from_solution", "ledger_table", "read_committed_ledgers", "committed_ledger_comparison",
           "read_sensitivity"]


def _input_reasons(ctx: Context) -> dict:
    if ctx.synthetic:
        base = "synthetic world: compare with the truth column, not with the paper (different Earth)"
        return {"grace": base, "aster": base, "insitu": base, "trend": base}
    grace = "CSR RL06 instead of Tongji-Grace2022; no lake/WGHM/GLDAS products offline (priors substituted)"
    return {"grace": grace,
            "aster": grace + "; ASTER reference = Shean et al. 2020 rates (2000-2018, rate-only) instead of "
                             "Hugonnet et al. 2021 tiles 2002-2019",
            "insitu": grace + "; WGMS FoG 2021-05 ends 2019/2020, so fewer years than the paper's periods",
            "trend": grace + "; no soil moisture removed (GLDAS not offline)"}


def paper_numbers_from_solution(sol, data_dir, ctx: Context | None = None,
                                var="glacier_lwe_thickness") -> dict:
    """Every number of ``paper_numbers.yml`` computed from a solution: the ``ours`` dict of the ledger.

    Parameters
    ----------
    sol : xarray.Dataset
        :func:`hma_mascon.pipeline.run_solution` output (or :func:`truth_as_solution`).
    data_dir : path-like
    ctx : Context, optional
        From :func:`prepare` (computed when omitted).

    Returns
    -------
    dict
        ``{id: (value, reason)}``; the CSR/JPL/GSFC entries are NaN with the reason.  Signs: trends
        negative for loss; ablation amounts positive.
    """

    ctx = ctx or prepare(sol, data_dir)
    why = _input_reasons(ctx)
    ref = paper_numbers()
    ours = {qid: (np.nan, NO_PRODUCT) for qid in ref.index if any(f".{p}." in qid + "." for p in PRODUCTS)}

    t2 = table2(sol, ctx, var=var)
    span = f"mascon {t2['mascon_period']}, ASTER {t2['reference']['period']}"
    for k in ("slope", "intercept", "r2"):
        ours[f"table2.this_study.{k}"] = (t2["region"][k], f"16 regions; {span}; {why['aster']}")
    for k in ("slope", "r2"):
        ours[f"grid_regression.this_study.{k}"] = (t2["cell"][k], f"{t2['cell']['n']} cells with glacier area > 0; "
                                                   f"{span}; {why['aster']}")
    t3 = table3(sol, ctx, var=var)
    for label, row in t3.iterrows():
        qid = f"table3.{label}.this_study.r"
        if qid in ref.index:
            ours[qid] = (row.r, f"n = {row.n} balance years ({row.years}); {why['insitu']}")
    months = pd.DatetimeIndex(sol["time"].values).strftime("%Y-%m")
    period = (max(PAPER_PERIOD[0], months.min()), min(PAPER_PERIOD[1], months.max()))
    tr = regional_trend_table(sol, ctx, period=PAPER_PERIOD, var=var)
    for region in ("Central Himalaya", "Western Himalaya", "Nyainqentanglha"):
        if region not in tr.index:
            ours[f"trend.region.{region}"] = (np.nan, "region outside the solution's box")
            continue
        r = tr.loc[region]
        ours[f"trend.region.{region}"] = (r.trend, f"±{r.error95:.2f} (95 %), {r.start}..{r.end}; {why['trend']}")
    r = tr.loc["HMA"]
    partial = "PARTIAL: sum of the regions inside the box; " if ctx.notes else ""
    ours["trend.HMA.this_study"] = (r.trend, f"{partial}±{r.error95:.2f} (95 %), {r.start}..{r.end}; {why['trend']}")
    mx = max_cell_trends(sol, ctx, var=var, period=period)
    for group, row in mx.iterrows():
        ours[f"max_cell_trend.{group}"] = (row.trend_cm_yr, f"cell {row.lat:.2f}N {row.lon:.2f}E ({row.region}); "
                                           f"{why['trend']}")
    t4 = table4(sol, ctx, var=var)
    for study, row in t4.iterrows():
        flag = "TRUNCATED to the GRACE months; " if row.truncated else ""
        ours[f"table4.{study}.{row.period}"] = (row.ours, f"{partial}{flag}±{row.ours_error95:.2f}, {row.start}..{row.end} "
                                                f"({row.n_months} months); {why['trend']}")
    try:
        ab = ablation_table(sol, ctx, var=var)
        amounts = ab["amount"].sel(region=[r for r in ab["region"].values if r != "HMA"])
        note = f"{ABLATION_YEARS[0]}-{ABLATION_YEARS[1]}, trend kept [AMB-15]; {why['trend']}"
        ours["ablation.total"] = (ab.attrs["total"], note)
        names = [str(r) for r in amounts["region"].values]
        ours["ablation.min_region"] = (float(amounts.min()), f"{names[int(np.argmin(amounts.values))]}; {note}")
        ours["ablation.max_region"] = (float(amounts.max()), f"{names[int(np.argmax(amounts.values))]}; {note}")
    except ValueError as exc:
        for k in ("total", "min_region", "max_region"):
            ours[f"ablation.{k}"] = (np.nan, f"ablation not computed: {exc}")
    return ours


def ledger_table(sol, data_dir, ctx: Context | None = None, truth: bool = True) -> pd.DataFrame:
    """:func:`hma_mascon.paper.ledger` of :func:`paper_numbers_from_solution`, with a ``truth`` column.

    In the synthetic world (``truth/truth.nc`` present and ``truth`` True) the column holds the same
    number computed from the known truth, and ``within_truth_error`` says whether ours is within the
    tolerance of the paper entry around the truth instead of around the paper.
    """

    ctx = ctx or prepare(sol, data_dir)
    df = ledger(paper_numbers_from_solution(sol, data_dir, ctx))
    if truth and ctx.synthetic:
        tsol = truth_as_solution(data_dir, sol)
        tnum = paper_numbers_from_solution(tsol, data_dir, ctx)
        df["truth"] = [float(tnum.get(q, (np.nan,))[0]) for q in df["quantity"]]
        df["ours_minus_truth"] = df["ours"] - df["truth"]
        df["within_truth_tolerance"] = np.abs(df["ours_minus_truth"]) <= df["tolerance"] + 1e-12
    return df


def read_committed_ledgers(directory) -> dict:
    """Ledgers of real-data runs kept in the repository (``ledger_real_<source>.csv``).

    Each CSV may have a ``.json`` sidecar with the settings of its run (written by
    ``scripts/make_real_ledger.py``). Returns ``{source: (DataFrame, meta dict)}``, sorted by
    source; a directory without ledgers gives an empty dict (an installed package has none).
    """

    out = {}
    d = Path(directory)
    if not d.is_dir():
        return out
    for path in sorted(d.glob("ledger_real_*.csv")):
        src = path.stem.removeprefix("ledger_real_")
        try:
            table = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read the ledger ({exc})") from exc
        missing = {"quantity", "paper", "ours"} - set(table.columns)
        if missing:
            raise ValueError(f"{path}: not a ledger, columns {sorted(missing)} missing")
        side = path.with_suffix(".json")
        meta = json.loads(side.read_text()) if side.is_file() else {"settings": "not recorded"}
        out[src] = (table, meta)
    return out


def committed_ledger_comparison(committed: dict) -> pd.DataFrame:
    """The committed ledgers side by side: paper, ours per source, and the first source's reasons.

    Only quantities computed by at least one source are kept.
    """
    if not committed:
        return pd.DataFrame(columns=["quantity", "paper"])
    frames = []
    first = next(iter(committed))
    for src, (table, _) in committed.items():
        t = table.set_index("quantity")
        cols = {"ours": f"ours_{src}"}
        part = t[["ours"]].rename(columns=cols)
        if src == first:
            part = t[["paper"] + (["unit"] if "unit" in t else [])].join(part)
            if "reasons" in t:
                part = part.join(t[["reasons"]].rename(columns={"reasons": f"reasons_{src}"}))
        frames.append(part)
    out = pd.concat(frames, axis=1)
    ours = [c for c in out.columns if c.startswith("ours_")]
    out = out[out[ours].notna().any(axis=1)]
    order = ["paper"] + (["unit"] if "unit" in out else []) + ours + [c for c in out.columns if c.startswith("reasons_")]
    return out[order]


def read_sensitivity(directory):
    """The committed one-at-a-time sensitivity of the real-data HMA trend (issue 14), or None.

    ``sensitivity_real_csr.csv`` (written by ``scripts/run_sensitivity.py``: one Dask ensemble per
    factor around the default preset on CSR) and its ``.json`` sidecar.

    Returns
    -------
    (pandas.DataFrame, dict) or None
        Rows indexed by (factor, value): ``HMA``, ``HMA error95``, ``change`` (HMA minus the
        centre's) and every region's trend [Gt/yr], ``seconds``, ``peak_memory_mb``; the sidecar.
    """
    path = Path(directory) / "sensitivity_real_csr.csv"
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path, dtype={"value": str})
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the sensitivity table ({exc})") from exc
    missing = {"factor", "value", "HMA", "HMA error95"} - set(table.columns)
    if missing:
        raise ValueError(f"{path}: not a sensitivity table, columns {sorted(missing)} missing")
    centre = table.loc[table["factor"] == "centre", "HMA"]
    if centre.size != 1:
        raise ValueError(f"{path}: expected one 'centre' row, found {centre.size}")
    table.insert(table.columns.get_loc("HMA error95") + 1, "change", table["HMA"] - float(centre.iloc[0]))
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text()) if side.is_file() else {"settings": "not recorded"}
    return table.set_index(["factor", "value"]), meta
