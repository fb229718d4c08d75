"""Glacier signal and regional trends with errors (METHODS.md §10.1, §10.2; AMB-10, AMB-11).

Heavy lifting: **numpy/xarray**; the six-term fit and its 95 % error come from
:func:`hma_mascon.timeseries.trend_with_error`.  Written by hand: the subtraction
x_gl(t) = x(t) - SM(t) - ẋ_GIA (t - t0) and the GIA spread on the same aggregate, which are
bookkeeping specific to this method.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import timeseries
from .regions import regional_mass
from .timeseries import decimal_year


def glacier_signal(x, time, soil_moisture=None, gia_rate=None, t0=None):
    """Glacier signal x_gl(t) = x(t) - SM(t) - ẋ_GIA (t - t0) (METHODS.md §10.1).

    For the CSR/JPL/GSFC mascon products pass ``gia_rate=None``: they are distributed with ICE-6G_D
    already removed, so only SM is subtracted [AMB-10].

    Parameters
    ----------
    x : array-like (time, cell)
        Mascon EWH [m].
    time : array-like (time,)
        datetime64 or decimal years.
    soil_moisture : array-like (time, cell), optional
        SM anomaly [m] on the same epochs and cells (e.g. from :func:`priors.load_soil_moisture`
        reshaped to cells); NaN treated as 0 (fill / glacier-masked cells, §10.1).
    gia_rate : array-like (cell,), optional
        GIA EWH rate [m/yr] at the cells.
    t0 : float, optional
        Reference epoch [decimal year] of the GIA term; default: the mean epoch.  It only shifts
        the series by a constant, so trends do not depend on it.

    Returns
    -------
    xarray.Dataset
        ``glacier`` (time, cell) [m], ``soil_moisture`` and ``gia`` (the subtracted terms) [m].
    """
    xv = np.asarray(getattr(x, "values", x), float)
    if xv.ndim != 2:
        raise ValueError(f"x must be (time, cell), got shape {xv.shape}")
    t = decimal_year(time)
    if t.size != xv.shape[0]:
        raise ValueError(f"time has {t.size} epochs, x {xv.shape[0]}")
    t0 = float(np.mean(t)) if t0 is None else float(t0)
    sm = np.zeros_like(xv)
    if soil_moisture is not None:
        sm = np.asarray(getattr(soil_moisture, "values", soil_moisture), float).reshape(xv.shape)
        sm = np.where(np.isfinite(sm), sm, 0.0)
    gia = np.zeros_like(xv)
    if gia_rate is not None:
        gia = np.outer(t - t0, np.asarray(gia_rate, float))
    coords = {"time": np.asarray(getattr(time, "values", time)), "cell": np.arange(xv.shape[1])}
    return xr.Dataset(
        {"glacier": (("time", "cell"), xv - sm - gia, {"units": "m", "long_name": "glacier signal EWH"}),
         "soil_moisture": (("time", "cell"), sm, {"units": "m", "long_name": "subtracted soil moisture"}),
         "gia": (("time", "cell"), gia, {"units": "m", "long_name": "subtracted GIA rate x (t - t0)"})},
        coords=coords,
        attrs={"t0": t0, "gia_removed": int(gia_rate is not None),
               "soil_moisture_removed": int(soil_moisture is not None)})


def gia_spread(gia_mass_trends_by_model):
    """Sample standard deviation (ddof=1) over the GIA models of the trend on the same aggregate.

    Parameters
    ----------
    gia_mass_trends_by_model : mapping {model: array (region,)} or DataArray (model, region)
        Trend [Gt/yr] of each model's GIA correction summed over each region (the regional sum per
        model first, then the spread, §10.2 step 3).
    """
    if isinstance(gia_mass_trends_by_model, xr.DataArray):
        arr = np.asarray(gia_mass_trends_by_model.transpose("model", ...).values, float)
    else:
        arr = np.array([np.asarray(v, float) for v in gia_mass_trends_by_model.values()])
    if arr.shape[0] < 2:
        raise ValueError("need at least two GIA models for a spread")
    return np.std(arr, axis=0, ddof=1)


def regional_trends(mass_gt, time, gia_mass_trends_by_model=None, period=None, **kwargs):
    """Trend and 95 % error per region (METHODS.md §10.2) over the available months of ``period``.

    Parameters
    ----------
    mass_gt : xarray.DataArray (time, region)
        Regional glacier mass [Gt] (from :func:`regions.regional_mass`).
    time : array-like (time,)
    gia_mass_trends_by_model : mapping or DataArray, optional
        See :func:`gia_spread`; None -> sigma_GIA = 0.
    period : (str, str), optional
        ``("YYYY-MM", "YYYY-MM")`` inclusive; epochs outside are dropped.  A period starting before
        the first epoch is truncated to the data and flagged (``truncated``), §11.
    **kwargs
        Passed to :func:`timeseries.trend_with_error` (e.g. ``error_rule``, ``ar1``).

    Returns
    -------
    pandas.DataFrame
        Index region; columns ``trend`` [Gt/yr], ``error95`` [Gt/yr], ``sigma_fit``, ``sigma_gia``,
        ``n_months``, ``start``, ``end``, ``truncated``.
    """

    tt = pd.DatetimeIndex(np.asarray(getattr(time, "values", time)))
    values = np.asarray(getattr(mass_gt, "values", mass_gt), float)
    regions = list(mass_gt["region"].values) if isinstance(mass_gt, xr.DataArray) else \
        [f"r{i}" for i in range(values.shape[1])]
    sel = np.ones(tt.size, bool)
    truncated = False
    if period is not None:
        p0, p1 = pd.Timestamp(period[0]), pd.Timestamp(period[1]) + pd.offsets.MonthBegin(1)
        sel = (tt >= p0) & (tt < p1)
        truncated = bool(p0 < tt.min().replace(day=1))
    gia = None
    if gia_mass_trends_by_model is not None:
        if isinstance(gia_mass_trends_by_model, xr.DataArray):
            gia = np.asarray(gia_mass_trends_by_model.transpose("model", ...).values, float)
        else:
            gia = np.array([np.asarray(v, float) for v in gia_mass_trends_by_model.values()])
        gia = gia.reshape(gia.shape[0], -1)
        if gia.shape[1] != len(regions):
            raise ValueError(f"GIA trends have {gia.shape[1]} regions, mass {len(regions)}")
    tdec = decimal_year(tt.values)
    rows = []
    for k, name in enumerate(regions):
        y = values[sel, k]
        t = tdec[sel]
        ok = np.isfinite(y)
        trend, err, info = timeseries.trend_with_error(
            t[ok], y[ok], gia_trends=None if gia is None else gia[:, k], **kwargs)
        rows.append({"region": name, "trend": float(trend), "error95": float(err),
                     "sigma_fit": float(info["sigma_fit"]), "sigma_gia": float(info["sigma_gia"]),
                     "n_months": int(ok.sum()), "start": str(tt[sel][ok].min().strftime("%Y-%m")),
                     "end": str(tt[sel][ok].max().strftime("%Y-%m")), "truncated": truncated})
    return pd.DataFrame(rows).set_index("region")


def regional_trend_bias_sd(bias_factor, scale: float, weights, grid) -> xr.DataArray:
    """Prior-expected sd of the regularization bias of each regional trend [Gt/yr].

    With the trend-bias covariance c² M Mᵀ of the two-step solve
    (:func:`hma_mascon.resolution.trend_bias_factor`) and the regional sum g_R of §10.3 (area
    fractions, ρ_w S_j), the bias sd is c ‖g_Rᵀ M‖. The glacier signal differs from x by soil
    moisture and GIA, both subtracted exactly, so it has the same bias.

    Parameters
    ----------
    bias_factor : ndarray (m, m)
        M [m/yr per unit of c].
    scale : float
        c.
    weights : xarray.DataArray (region, cell)
        :func:`hma_mascon.regions.area_fraction_weights`.
    grid : MasconGrid

    Returns
    -------
    xarray.DataArray (region,)
        Names in the label coordinate ``region_name``; including the total ``HMA`` (its own
        functional, not a quadrature sum of the regions).
    """
    G = regional_mass(np.asarray(bias_factor, float).T, weights, grid)  # (k, region), Gt per unit
    sd = float(scale) * np.sqrt(np.sum(np.asarray(G.values, float) ** 2, axis=0))
    # region names as an auxiliary (label) coordinate: CF coordinate variables must be numeric
    return xr.DataArray(sd, dims=("region",), coords={"region_name": ("region", G["region"].values.astype(str))},
                        name="glacier_trend_bias_sd",
                        attrs={"units": "Gt yr-1",
                               "long_name": "prior-expected sd of the regularization bias of the regional glacier trend"})
