"""Low-degree replacements: degree 1 from GRACE TN-13, C20 and C30 from TN-14 (METHODS.md §2.1).

* **TN-13** (Landerer; Sun et al. 2016): ``GRCOF2 1 m C S sigma_C sigma_S begin end`` records
  (``yyyymmdd.hhmm``, end exclusive) after a free-text header.
* **TN-14** (Loomis et al. 2020): rows ``MJD_begin year_begin C20 dC20 sigC20 C30 dC30 sigC30
  MJD_end year_end`` after a ``Product:`` line; sigmas and differences in units of 1e-10; C30 is
  NaN before 2012-08. The MJD end is exclusive (it equals the next day of the GSM span).

:func:`replace_low_degrees` inserts C10, C11, S11 for every month, replaces C20 for every month
(optional) and C30 from ``c30_from`` on (the paper: 2016-08, including all GRACE-FO months), with
their sigmas. A GRACE month is matched to the record whose span contains the month's mid-epoch;
among several (overlapping TN-13 records of the special months) the one with the largest
overlap (intersection over union of the spans) wins; when none contains the mid-epoch, the record
with the largest overlap is used if it covers at least half of the month's span.

No tide-system conversion is applied: the TN-14 C20 is zero tide and so are the RL06 GSM C20
values ("permanent_tide_flag: inclusive" in the CSR headers; their mean C20 agrees with the TN-14
mean to 1e-11), and any constant offset cancels in anomalies (§2.2).

Heavy lifting: pandas (tables). Parsing and matching are written by hand (small fixed formats;
gravity-toolkit's readers need its directory layout), with line-numbered errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .io_grace import MalformedFileError, read_text_lines
from .records import record_problem
from .safeio import atomic_write_text
from .stokes import append_history
from .timeseries import decimal_year

__all__ = ["read_tn13", "read_tn14", "write_tn13", "write_tn14", "replace_low_degrees", "match_records",
           "months_with_records"]

_MJD0 = np.datetime64("1858-11-17", "ns")
_TN13_FLOATS = ((3, 4, 5, 6, 7, 8), ("C", "S", "sigma_C", "sigma_S", "begin date", "end date"))
_TN14_FLOATS = (tuple(range(10)), ("MJD begin", "year begin", "C20", "dC20", "C20 sigma", "C30", "dC30",
                                   "C30 sigma", "MJD end", "year end"))


def _check_shape(path, shape, floats, ends_nl):
    """Token counts and number forms of the records (:func:`hma_mascon.records.record_problem`)."""
    problem = record_problem([ln for ln, _ in shape], [t for _, t in shape], floats[0], floats[1], ends_nl)
    if problem is not None:
        raise MalformedFileError(path, problem[1], int(problem[0]))


def _num(tok, path, lineno, what, allow_nan=False):
    try:
        v = float(tok)
    except ValueError:
        raise MalformedFileError(path, f"non-numeric {what} {tok!r}", lineno) from None
    if not allow_nan and not np.isfinite(v):
        raise MalformedFileError(path, f"{what} is {tok!r} (not finite)", lineno)
    return v


def _date(tok, path, lineno):
    try:
        day, _, hhmm = tok.partition(".")
        hhmm = (hhmm + "0000")[:4]
        t = pd.Timestamp(f"{day[:4]}-{day[4:6]}-{day[6:8]}") + pd.Timedelta(hours=int(hhmm[:2]), minutes=int(hhmm[2:]))
    except (ValueError, IndexError):
        raise MalformedFileError(path, f"unreadable date {tok!r} (expected yyyymmdd.hhmm)", lineno) from None
    return t


def read_tn13(path) -> pd.DataFrame:
    """Read a TN-13 degree-1 file.

    Returns
    -------
    pandas.DataFrame
        Indexed by an :class:`pandas.IntervalIndex` of ``[time_start, time_end)``; columns
        ``time_start``, ``time_end``, ``C10``, ``C11``, ``S11``, ``sigma_C10``, ``sigma_C11``,
        ``sigma_S11``; ``attrs["source_file"]``.

    Raises
    ------
    MalformedFileError
        Record with the wrong degree/field count, non-numeric or NaN values, a date range with
        only one of the two order records, duplicate records.
    """
    path = Path(path)
    rows: dict[tuple, dict] = {}
    first_line: dict[tuple, int] = {}
    lines, ends_nl = read_text_lines(path)
    shape = []
    for i, line in enumerate(lines):
        tok = line.split()
        if not tok or tok[0] != "GRCOF2":
            continue
        ln = i + 1
        shape.append((ln, tok))
        if len(tok) < 9:
            raise MalformedFileError(path, f"GRCOF2 record has {len(tok) - 1} fields, expected 8", ln)
        try:
            n, m = int(tok[1]), int(tok[2])
        except ValueError:
            raise MalformedFileError(path, f"non-integer degree/order {tok[1]!r} {tok[2]!r}", ln) from None
        if n != 1 or m not in (0, 1):
            raise MalformedFileError(path, f"TN-13 record for degree {n}, order {m}; only degree 1 expected", ln)
        c, s, sc, ss = (_num(t, path, ln, w) for t, w in zip(tok[3:7], ("C", "S", "sigma_C", "sigma_S")))
        key = (_date(tok[7], path, ln), _date(tok[8], path, ln))
        if key[1] <= key[0]:
            raise MalformedFileError(path, f"end date {tok[8]} not after begin date {tok[7]}", ln)
        row = rows.setdefault(key, {})
        if f"C1{m}" in row:
            raise MalformedFileError(path, f"duplicate degree-1 order-{m} record for {tok[7]}-{tok[8]}", ln)
        first_line.setdefault(key, ln)
        row[f"C1{m}"], row[f"sigma_C1{m}"] = c, sc
        if m == 1:
            row["S11"], row["sigma_S11"] = s, ss
    if not rows:
        raise MalformedFileError(path, "no GRCOF2 degree-1 records")
    _check_shape(path, shape, _TN13_FLOATS, ends_nl)
    for key, row in rows.items():
        if len(row) != 6:
            raise MalformedFileError(path, f"date range {key[0]:%Y-%m-%d}..{key[1]:%Y-%m-%d} lacks the order-0 or order-1 record", first_line[key])
    table = pd.DataFrame([{"time_start": k[0], "time_end": k[1], **v} for k, v in rows.items()])
    table = table[["time_start", "time_end", "C10", "C11", "S11", "sigma_C10", "sigma_C11", "sigma_S11"]]
    return _finish(table, path, "TN-13 degree-1 coefficients (fully normalised)")


def _finish(table, path, title):
    table = table.sort_values("time_start").reset_index(drop=True)
    table.index = pd.IntervalIndex.from_arrays(table["time_start"], table["time_end"], closed="left", name="span")
    table.attrs = {"source_file": str(path), "title": title}
    return table


def read_tn14(path) -> pd.DataFrame:
    """Read a TN-14 SLR C20/C30 file.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``[time_start, time_end)`` intervals (from the MJD columns); columns
        ``time_start``, ``time_end``, ``C20``, ``sigma_C20``, ``C30``, ``sigma_C30`` (sigmas
        converted from 1e-10 to plain units; C30 and its sigma NaN where the file has NaN).

    Raises
    ------
    MalformedFileError
        No ``Product:`` line, rows with the wrong field count, non-numeric values, NaN C20,
        MJD end not after begin.
    """
    path = Path(path)
    lines, ends_nl = read_text_lines(path)
    start = next((i for i, line in enumerate(lines) if line.strip().lower().startswith("product:")), None)
    if start is None:
        raise MalformedFileError(path, "no 'Product:' line before the data rows (not a TN-14 file?)")
    rows, shape = [], []
    for i in range(start + 1, len(lines)):
        tok = lines[i].split()
        if not tok:
            continue
        ln = i + 1
        shape.append((ln, tok))
        if len(tok) != 10:
            raise MalformedFileError(path, f"row has {len(tok)} fields, expected 10", ln)
        mjd0 = _num(tok[0], path, ln, "MJD begin")
        mjd1 = _num(tok[8], path, ln, "MJD end")
        if mjd1 <= mjd0:
            raise MalformedFileError(path, f"MJD end {tok[8]} not after MJD begin {tok[0]}", ln)
        rows.append({
            "time_start": _MJD0 + np.timedelta64(int(round(mjd0 * 86400)), "s"),
            "time_end": _MJD0 + np.timedelta64(int(round(mjd1 * 86400)), "s"),
            "C20": _num(tok[2], path, ln, "C20"),
            "sigma_C20": _num(tok[4], path, ln, "C20 sigma") * 1e-10,
            "C30": _num(tok[5], path, ln, "C30", allow_nan=True),
            "sigma_C30": _num(tok[7], path, ln, "C30 sigma", allow_nan=True) * 1e-10,
        })
    if not rows:
        raise MalformedFileError(path, "no data rows after 'Product:'", start + 1)
    _check_shape(path, shape, _TN14_FLOATS, ends_nl)
    table = pd.DataFrame(rows)
    dup = table.duplicated(["time_start", "time_end"])
    if dup.any():
        raise MalformedFileError(path, f"duplicate rows for {table.loc[dup, 'time_start'].iloc[0]:%Y-%m-%d}")
    return _finish(table, path, "TN-14 SLR C20 and C30 (fully normalised)")


def write_tn13(path, table: pd.DataFrame, header: str = "GRACE Technical Note 13 (synthetic)") -> Path:
    """Write degree-1 coefficients in the TN-13 GRCOF2 layout (read back by :func:`read_tn13`)."""
    path = Path(path)
    out = [header, "", "# End of header"]
    for _, r in table.sort_values("time_start").iterrows():
        d = f"{pd.Timestamp(r['time_start']):%Y%m%d.%H%M} {pd.Timestamp(r['time_end']):%Y%m%d.%H%M}"
        out.append(f"GRCOF2    1   0 {r['C10']:+.16e} {0.0:+.16e} {r['sigma_C10']:+.16e} {0.0:+.16e} {d}")
        out.append(f"GRCOF2    1   1 {r['C11']:+.16e} {r['S11']:+.16e} {r['sigma_C11']:+.16e} {r['sigma_S11']:+.16e} {d}")
    atomic_write_text(path, "\n".join(out) + "\n")
    return path


def write_tn14(path, table: pd.DataFrame, title: str = "SLR C20 and C30 solutions (synthetic)") -> Path:
    """Write C20/C30 in the TN-14 layout (MJD begin/end, sigmas in 1e-10; NaN C30 allowed)."""

    path = Path(path)
    tab = table.sort_values("time_start")
    c20m = float(np.mean(tab["C20"]))
    c30m = float(np.nanmean(tab["C30"])) if np.isfinite(tab["C30"]).any() else 0.0
    out = [f"Title: {title}", "Format: MJD0 yr0 C20 dC20(1e-10) sig(1e-10) C30 dC30(1e-10) sig(1e-10) MJD1 yr1",
           "Constants:", f"   Mean C20: {c20m:.12E}", f"   Mean C30: {c30m:.12E}", "Product:"]
    for _, r in tab.iterrows():
        t0, t1 = np.datetime64(r["time_start"], "ns"), np.datetime64(r["time_end"], "ns")
        mjd0 = (t0 - _MJD0) / np.timedelta64(1, "D")
        mjd1 = (t1 - _MJD0) / np.timedelta64(1, "D")
        y0, y1 = decimal_year([t0, t1])
        c30 = r["C30"]
        out.append(
            f"{mjd0:.6f} {y0:.4f} {r['C20']:.16e} {(r['C20'] - c20m) * 1e10:.4f} {r['sigma_C20'] * 1e10:.16e} "
            f"{c30:.16e} {(c30 - c30m) * 1e10:.4f} {r['sigma_C30'] * 1e10:.16e} {mjd1:.6f} {y1:.4f}"
        )
    atomic_write_text(path, "\n".join(out) + "\n")
    return path


def months_with_records(ds: xr.Dataset, *tables: pd.DataFrame) -> tuple[list[int], list[str]]:
    """Indices of the months of ``ds`` that every table (TN-13, TN-14) has a record for, and the
    ``"YYYY-MM"`` labels of the others (e.g. ITSG's 2004-01: the CSR-flavoured TN-13 follows CSR's
    month spans)."""
    keep, dropped = [], []
    for k in range(ds.sizes["time"]):
        one = ds.isel(time=[k])
        try:
            for tab in tables:
                match_records(one, tab)
            keep.append(k)
        except ValueError:
            dropped.append(str(ds["month"].values[k]))
    return keep, dropped


def match_records(ds: xr.Dataset, table: pd.DataFrame, what: str = "record") -> np.ndarray:
    """Row number of ``table`` for every month of ``ds`` (rules in the module docstring).

    Raises ``ValueError`` naming the month and the table's file when no record fits.
    """
    t0 = table["time_start"].values.astype("datetime64[ns]")
    t1 = table["time_end"].values.astype("datetime64[ns]")
    out = np.empty(ds.sizes["time"], dtype=int)
    for k in range(ds.sizes["time"]):
        s, e = ds["time_start"].values[k], ds["time_end"].values[k]
        mid = s + (e - s) / 2
        inter = np.clip((np.minimum(t1, e) - np.maximum(t0, s)) / np.timedelta64(1, "s"), 0, None)
        union = (np.maximum(t1, e) - np.minimum(t0, s)) / np.timedelta64(1, "s")
        iou = inter / union
        inside = (t0 <= mid) & (mid < t1)
        if inside.any():
            out[k] = int(np.flatnonzero(inside)[np.argmax(iou[inside])])
        elif inter.max() >= 0.5 * (e - s) / np.timedelta64(1, "s"):
            out[k] = int(np.argmax(iou))
        else:
            raise ValueError(
                f"no {what} for month {ds['month'].values[k]} ({pd.Timestamp(s):%Y-%m-%d}..{pd.Timestamp(e):%Y-%m-%d}) "
                f"in {table.attrs.get('source_file', 'the table')}"
            )
    return out


def replace_low_degrees(ds: xr.Dataset, tn13=None, tn14=None, c30_from: str | None = "2016-08",
                        replace_c20: bool = True) -> xr.Dataset:
    """Insert degree 1 (TN-13) and replace C20/C30 (TN-14) in a coefficient series (METHODS.md §2.1).

    Parameters
    ----------
    ds : xarray.Dataset
        Coefficient container with a time dimension.
    tn13, tn14 : path-like or pandas.DataFrame, optional
        Tables (or files) from :func:`read_tn13` / :func:`read_tn14`; ``None`` skips that step.
    c30_from : str or None
        Replace C30 for months labelled ``>= c30_from`` (``"YYYY-MM"``); ``None``: never.
    replace_c20 : bool
        Replace C20 for every month.

    Returns
    -------
    xarray.Dataset
        Copy with the replaced coefficients and sigmas; the steps are recorded in ``history``.

    Raises
    ------
    ValueError
        A month without a matching record (message names the month and the file), or a NaN C30
        in a month that needs one.
    """
    if "time" not in ds.dims:
        raise ValueError("replace_low_degrees needs a container with a time dimension")
    out = ds.copy(deep=True)
    steps = []
    if tn13 is not None:
        tab = tn13 if isinstance(tn13, pd.DataFrame) else read_tn13(tn13)
        idx = match_records(ds, tab, "TN-13 degree-1 record")
        for var, col in (("C", "C10"), ("C", "C11"), ("S", "S11")):
            m = int(col[-1])
            out[var].values[:, 1, m] = tab[col].values[idx]
            out["sigma_" + var].values[:, 1, m] = tab["sigma_" + col].values[idx]
        steps.append(f"degree 1 (C10, C11, S11) from {Path(tab.attrs.get('source_file', 'TN-13')).name}")
    if tn14 is not None and (replace_c20 or c30_from is not None):
        tab = tn14 if isinstance(tn14, pd.DataFrame) else read_tn14(tn14)
        idx = match_records(ds, tab, "TN-14 record")
        name = Path(tab.attrs.get("source_file", "TN-14")).name
        if replace_c20:
            out["C"].values[:, 2, 0] = tab["C20"].values[idx]
            out["sigma_C"].values[:, 2, 0] = tab["sigma_C20"].values[idx]
            steps.append(f"C20 from {name} (all months)")
        if c30_from is not None:
            if ds.sizes["degree"] < 4:
                raise ValueError("C30 replacement needs nmax >= 3")
            sel = np.flatnonzero(ds["month"].values.astype(str) >= str(pd.Period(c30_from, freq="M")))
            c30 = tab["C30"].values[idx[sel]]
            bad = ~np.isfinite(c30)
            if bad.any():
                raise ValueError(f"TN-14 C30 is NaN for month {ds['month'].values[sel[bad][0]]} in {tab.attrs.get('source_file')}")
            out["C"].values[sel, 3, 0] = c30
            out["sigma_C"].values[sel, 3, 0] = tab["sigma_C30"].values[idx[sel]]
            steps.append(f"C30 from {name} for {sel.size} months from {c30_from}")
    for step in steps:
        out = append_history(out, step)
    return out
