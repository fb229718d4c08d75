"""Validation statistics: ASTER regression, in-situ correlation, ablation (METHODS.md §10.4-10.6, §11).

Heavy lifting: **numpy** (least squares, Pearson r); the 2x12 moving average and the short-gap filling
come from :mod:`hma_mascon.timeseries` (``moving_average_2x12``, ``fill_short_gaps``).  Written by hand:
the three statistics themselves, because each encodes a choice of the paper that no library makes
(the cell-selection rule AMB-13, the stock/flux alignment AMB-14, the ablation definition AMB-15).

Time axes are monthly.  ``time`` arguments may be ``datetime64`` values or decimal years; months are
identified by their calendar year and month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import timeseries
from .regions import HMA_TOTAL
from .timeseries import decimal_year


# ------------------------------------------------------------------------------------------ helpers
def _months(time):
    """(year, month) integer arrays of monthly epochs given as datetime64 or decimal years."""
    t = np.asarray(getattr(time, "values", time))
    if np.issubdtype(t.dtype, np.datetime64):
        idx = pd.DatetimeIndex(t)
        return idx.year.values.astype(int), idx.month.values.astype(int)
    t = t.astype(float)
    year = np.floor(t).astype(int)
    month = np.floor((t - year) * 12).astype(int) + 1
    return year, np.clip(month, 1, 12)


def _regular_monthly(values, time):
    """Place a monthly series on a complete monthly axis (NaN for absent months).

    Returns the values, the month index (12*year + month - 1) and the mid-month decimal years.
    """
    y, m = _months(time)
    k = 12 * y + (m - 1)
    if np.unique(k).size != k.size:
        raise ValueError("two epochs fall in the same calendar month")
    full = np.arange(k.min(), k.max() + 1)
    out = np.full(full.size, np.nan)
    out[k - k.min()] = np.asarray(values, float)
    tdec = full / 12.0 + 1.0 / 24.0
    return out, full, tdec


def detrend_linear(t, y):
    ok = np.isfinite(y)
    if ok.sum() < 2:
        raise ValueError("fewer than two valid values: cannot detrend")
    coef = np.polyfit(t[ok], y[ok], 1)
    return y - np.polyval(coef, t)


def _pearson(a, b):
    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < 3:
        return np.nan, n
    return float(np.corrcoef(a[ok], b[ok])[0, 1]), n


# ------------------------------------------------------------------------------------- §10.4 ASTER
def aster_regression(x_trend, y_trend, glacier_area=None):
    """Ordinary least squares y = b0 + b1 x of mascon trends on ASTER trends (METHODS.md §10.4).

    R² = 1 - SS_res/SS_tot, which for OLS with intercept equals Pearson r².

    Parameters
    ----------
    x_trend, y_trend : array-like
        ASTER (x) and mascon (y) trends in identical units (Gt/yr per region or per cell).
    glacier_area : array-like, optional
        Per-cell glacier area; when given only cells with area > 0 are used [AMB-13].  Non-finite
        pairs are always dropped.

    Returns
    -------
    dict
        ``slope``, ``intercept``, ``r2``, ``n``.
    """
    x = np.asarray(x_trend, float).ravel()
    y = np.asarray(y_trend, float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x has {x.size} values, y {y.size}")
    ok = np.isfinite(x) & np.isfinite(y)
    if glacier_area is not None:
        ok &= np.asarray(glacier_area, float).ravel() > 0
    x, y = x[ok], y[ok]
    if x.size < 3:
        raise ValueError(f"only {x.size} valid pairs for the regression")
    X = np.column_stack([np.ones_like(x), x])
    (b0, b1), *_ = np.linalg.lstsq(X, y, rcond=None)
    res = y - (b0 + b1 * x)
    r2 = 1.0 - np.sum(res**2) / np.sum((y - y.mean()) ** 2)
    return {"slope": float(b1), "intercept": float(b0), "r2": float(r2), "n": int(x.size)}


# ----------------------------------------------------------------------------------- §10.5 in-situ
def smooth_interannual(series, time, max_gap=2, window="2x12"):
    """Detrended, gap-filled and 13-month-smoothed monthly series (the mascon side of §10.5).

    Steps: complete monthly axis; linear detrend over the available months; linear interpolation of
    isolated gaps of at most ``max_gap`` months (``timeseries.fill_short_gaps``; the 11-month
    2017-07..2018-05 gap is longer and is never filled); centred 13-tap moving average with complete
    windows only (``timeseries.moving_average_2x12``, 2x12 weights by default, ``window="13"`` for 13
    equal weights).

    Returns
    -------
    values, tdec : ndarray
        Smoothed values on the complete monthly axis and its mid-month decimal years.
    """

    y, k, tdec = _regular_monthly(series, time)
    y = detrend_linear(tdec, y)
    labels = [f"{kk // 12:04d}-{kk % 12 + 1:02d}" for kk in k]
    y = np.asarray(timeseries.fill_short_gaps(y, time=labels, max_gap=max_gap), float)
    if window in ("2x12", "13"):
        s = np.asarray(timeseries.moving_average_2x12(y, equal_weights=(window == "13")), float)
    else:
        raise ValueError(f"window must be '2x12' or '13', not {window!r}")
    return s, tdec


def insitu_correlation(mascon_series, time, balances, balance_year_end, alignment="stock", years=None,
                       max_gap=2, window="2x12"):
    """Pearson r between a mascon cell series and in-situ annual balances (METHODS.md §10.5, AMB-14).

    Parameters
    ----------
    mascon_series : array-like (time,)
        Monthly EWH [m] of the cell containing the glacier (NaN for missing months).
    time : array-like (time,)
        Monthly epochs (datetime64 or decimal years).
    balances : array-like (year,)
        Annual glacier-wide balances [m w.e.] (a flux per balance year).
    balance_year_end : array-like (year,)
        End date of each balance year (datetime64 or decimal year).
    alignment : {"stock", "flux", "paper_literal"}
        ``stock`` (default): cumulative balances, detrended, vs. the smoothed detrended mascon series
        linearly interpolated at each balance-year end.  ``flux``: detrended balances vs. the
        differences M_s(end y) - M_s(end y-1).  ``paper_literal``: detrended balances vs. the mean of
        the smoothed series over the 12 months of the balance year (at least 9 valid months).
    years : (int, int), optional
        Keep balance years whose end falls in [years[0], years[1]] (inclusive, calendar year of the end).

    Returns
    -------
    dict
        ``r`` (Pearson), ``n`` (years used), ``years`` (calendar years of the balance-year ends used).
    """
    s, tdec = smooth_interannual(mascon_series, time, max_gap=max_gap, window=window)
    b = np.asarray(balances, float)
    tend = decimal_year(balance_year_end)
    order = np.argsort(tend)
    b, tend = b[order], tend[order]
    if years is not None:
        endyear = np.floor(tend - 1e-9).astype(int)
        keep = (endyear >= years[0]) & (endyear <= years[1])
        b, tend = b[keep], tend[keep]
    if b.size < 3:
        raise ValueError(f"only {b.size} balance years to correlate")

    def sample(t):
        """Linear interpolation of s at t; NaN if a neighbour is NaN or t is outside."""
        out = np.full(np.size(t), np.nan)
        for k, tk in enumerate(np.atleast_1d(t)):
            i = np.searchsorted(tdec, tk)
            if 0 < i < tdec.size:
                a, c = s[i - 1], s[i]
                f = (tk - tdec[i - 1]) / (tdec[i] - tdec[i - 1])
                out[k] = a + f * (c - a)
            elif i < tdec.size and np.isclose(tdec[i], tk):
                out[k] = s[i]
        return out

    if alignment == "stock":
        insitu = detrend_linear(tend, np.cumsum(b))
        mascon = sample(tend)
    elif alignment == "flux":
        insitu = detrend_linear(tend, b)
        m_end = sample(tend)
        m_start = sample(tend - 1.0)
        mascon = m_end - m_start
    elif alignment == "paper_literal":
        insitu = detrend_linear(tend, b)
        mascon = np.full(b.size, np.nan)
        for k, te in enumerate(tend):
            sel = (tdec > te - 1.0) & (tdec <= te)
            v = s[sel]
            if np.isfinite(v).sum() >= 9:
                mascon[k] = np.nanmean(v)
    else:
        raise ValueError(f"alignment must be 'stock', 'flux' or 'paper_literal', not {alignment!r}")
    r, n = _pearson(insitu, mascon)
    ok = np.isfinite(insitu) & np.isfinite(mascon)
    return {"r": r, "n": n, "years": np.floor(tend[ok] - 1e-9).astype(int).tolist(), "alignment": alignment}


# ---------------------------------------------------------------------------------- §10.6 ablation
def _ablation_one(values, year, month, years, detrend):
    table = np.full((years[1] - years[0] + 2, 12), np.nan)  # row 0 = year before the first
    for v, y, m in zip(values, year, month):
        if years[0] - 1 <= y <= years[1]:
            table[y - years[0] + 1, m - 1] = v
    prev = np.concatenate([table[:-1, 11:12], table[1:, :11]], axis=1)  # M(y, c-1); Jan uses Dec of y-1
    inc = table[1:] - prev
    valid = np.isfinite(inc)
    if not valid.any(axis=0).all():
        raise ValueError("a calendar month has no valid consecutive pair in the period")
    D = np.nanmean(inc, axis=0)
    if detrend:
        D = D - D.mean()
    S = np.cumsum(D)
    annual = S[-1]
    ext = np.concatenate([S, S + annual])
    i_max = int(np.argmax(S))
    seg = ext[i_max + 1:i_max + 13]
    j = int(np.argmin(seg)) + i_max + 1
    amount = float(S[i_max] - ext[j])
    return {"increments": D, "cycle": S, "start_month": i_max % 12 + 1, "end_month": j % 12 + 1,
            "n_months": j - i_max, "amount": amount, "pairs": valid.sum(axis=0)}


def ablation(mass_gt_series, time, detrend=False, years=(2003, 2022)):
    """Ablation period and amount from a monthly mass series (METHODS.md §10.6, AMB-15).

    D_c = mean over years of [M(y, c) - M(y, c-1)] (consecutive months only; January uses the previous
    December); S_c = cumulative sum of D_c.  The ablation runs from the month of max S to the following
    minimum of S, taken on the cycle continued into the next year (S_{c+12} = S_c + S_12, so that a
    period crossing December is handled); the amount is S_max - S_min [Gt].  With the default
    ``detrend=False`` the net annual loss is kept (S_12 = annual trend); ``detrend=True`` subtracts the
    mean of D_c, closing the cycle (= the climatology of the detrended series).

    Parameters
    ----------
    mass_gt_series : array-like (time,) or xarray.DataArray (time, region)
        Monthly mass [Gt] (NaN for missing months).
    time : array-like (time,)
    years : (int, int)
        Calendar years whose monthly increments are averaged.

    Returns
    -------
    xarray.Dataset
        Per region: ``amount`` [Gt], ``start_month``, ``end_month`` (months of the maximum and of the
        minimum of the mean cycle), ``n_months``, ``cycle`` (region, month) [Gt], ``increments``;
        attribute ``total`` = sum of the amounts over the regions (the HMA aggregate excluded).
    """
    year, month = _months(time)
    da = mass_gt_series
    if isinstance(da, xr.DataArray) and da.ndim == 2:
        other = [d for d in da.dims if d != "time"][0]
        names = [str(v) for v in da[other].values]
        cols = [da.isel({other: i}).values for i in range(len(names))]
    else:
        names, cols = ["series"], [np.asarray(getattr(da, "values", da), float)]
    res = [_ablation_one(np.asarray(c, float), year, month, years, detrend) for c in cols]

    amounts = np.array([r["amount"] for r in res])
    total = float(sum(a for n, a in zip(names, amounts) if n != HMA_TOTAL))
    ds = xr.Dataset(
        {
            "amount": ("region", amounts, {"units": "Gt", "long_name": "ablation amount S_max - S_min"}),
            "start_month": ("region", [r["start_month"] for r in res], {"long_name": "month of max of the mean cycle"}),
            "end_month": ("region", [r["end_month"] for r in res], {"long_name": "month of the following min"}),
            "n_months": ("region", [r["n_months"] for r in res], {"units": "months"}),
            "cycle": (("region", "month"), np.array([r["cycle"] for r in res]),
                      {"units": "Gt", "long_name": "cumulative mean monthly increment S_c"}),
            "increments": (("region", "month"), np.array([r["increments"] for r in res]),
                           {"units": "Gt", "long_name": "mean monthly increment D_c"}),
        },
        coords={"region": names, "month": np.arange(1, 13)},
        attrs={"total": total, "total_units": "Gt", "detrend": int(detrend), "years": f"{years[0]}-{years[1]}"},
    )
    return ds
