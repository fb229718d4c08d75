"""The paper's validations (Sec. V-B, V-C): Table II (ASTER regression, regions and cells), Table III
(in-situ interannual correlation) and the ablation amounts (Fig. 11).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..constants import RHO_WATER
from ..datadir import DatasetNotFoundError, dataset_path
from ..paper import paper_numbers
from ..priors import shean_rate_grid
from ..regrid import crop_to_grid, regrid_to_cells
from ..regions import (
    load_wgms_balances,
    load_wgms_stations,
    point_cell_index,
    regional_mass,
)
from ..timeseries import decimal_year
from ..validation import (
    ablation,
    aster_regression,
    detrend_linear,
    insitu_correlation,
    smooth_interannual,
)
from .context import (
    ABLATION_YEARS,
    TABLE2_PERIOD,
    TABLE3_PERIODS,
    Context,
    cell_values,
    label_time,
    period_mask,
    regional_glacier_mass,
    soil_moisture_cells,
    trend_map,
)


def aster_reference(sol, ctx: Context, period=TABLE2_PERIOD):
    """ASTER glacier trend per cell [m/yr] and a description of where it comes from.

    The gridded ASTER-like series (manifest ``glacier_prior_grid``) is regridded area-weighted to the
    cells and fitted by a straight line over ``period``.  Without it (the real mirror), the Shean et
    al. (2020) rates are used: 2000.4-2018.4 and rate-only, so ``period`` does not apply.

    Returns
    -------
    rate : ndarray (m,)
    info : dict
        ``source``, ``period`` (of the reference), ``substitute`` (bool: not the paper's 2002-2019 data).
    """

    try:
        path = dataset_path("glacier_prior_grid", ctx.data_dir)
    except DatasetNotFoundError:
        path = None
    if path is not None:
        with xr.open_dataset(path) as ds:
            da = crop_to_grid(ds["lwe_thickness"], ctx.grid).load()
        scale = {"cm": 0.01, "mm": 0.001, "m": 1.0}[str(da.attrs.get("units", "cm")).strip().lower()]
        da = da.isel(time=period_mask(da["time"].values, period))
        t = decimal_year(da["time"].values)
        # the straight-line fit and the area-weighted regridding are both linear: fit, then regrid
        v = np.nan_to_num(np.asarray(da.values, float)).reshape(t.size, -1)
        slope = np.polyfit(t - t.mean(), v, 1)[0].reshape(da.shape[1:])
        rate = regrid_to_cells(da.isel(time=0, drop=True).copy(data=slope), ctx.grid, source=str(path)) * scale
        months = pd.DatetimeIndex(da["time"].values).strftime("%Y-%m")
        return rate, {"source": f"glacier_prior_grid ({path.name}), linear fit", "period":
                      f"{months[0]}..{months[-1]}", "substitute": not ctx.synthetic}
    rate, info = shean_rate_grid(ctx.data_dir, ctx.grid)
    return rate, {"source": "Shean et al. (2020) hexagon rates on the mascon cells (rate-only)",
                  "period": info["period"] + " (not 2002-2019)", "substitute": True}


def table2(sol, ctx: Context, period=TABLE2_PERIOD, var="glacier_lwe_thickness") -> dict:
    """Table II and Fig. 6: regression of mascon glacier trends on ASTER trends, in Gt/yr (§10.4).

    Returns
    -------
    dict
        ``region`` and ``cell``: :func:`hma_mascon.validation.aster_regression` results;
        ``region_points`` (DataFrame: ``aster``, ``mascon`` per region [Gt/yr]); ``cell_points``
        (DataFrame: ``lat``, ``lon``, ``aster``, ``mascon`` [Gt/yr] of the cells with glacier area > 0);
        ``aster_rate``, ``mascon_rate`` ((lat, lon) DataArrays [cm/yr]); ``glacier_cells`` ((lat, lon)
        bool: the cells of the per-cell regression); ``reference`` (see :func:`aster_reference`);
        ``mascon_period`` (months used).
    """

    aster, info = aster_reference(sol, ctx, period)
    mascon = trend_map(sol, var, period)
    to_gt = RHO_WATER * ctx.grid.area / 1e12
    w = np.asarray(ctx.weights.values)
    reg_x, reg_y = w @ (aster * to_gt), w @ (mascon * to_gt)
    sel = (ctx.glacier_area_km2 > 0) & ~ctx.grid.is_buffer
    cell_x, cell_y = aster * to_gt, mascon * to_gt
    used = period_mask(sol["time"].values, period)
    months = pd.DatetimeIndex(sol["time"].values[used]).strftime("%Y-%m")
    return {
        "region": aster_regression(reg_x, reg_y),
        "cell": aster_regression(cell_x[sel], cell_y[sel]),
        "region_points": pd.DataFrame({"aster": reg_x, "mascon": reg_y},
                                      index=pd.Index(ctx.weights["region"].values, name="region")),
        "cell_points": pd.DataFrame({"lat": ctx.grid.lat[sel], "lon": ctx.grid.lon[sel], "aster": cell_x[sel],
                                     "mascon": cell_y[sel]}),
        "aster_rate": ctx.grid.to_dataarray(100 * aster, "aster_trend", "cm yr-1",
                                            f"ASTER glacier trend ({info['period']})"),
        "mascon_rate": ctx.grid.to_dataarray(100 * mascon, "mascon_glacier_trend", "cm yr-1",
                                             f"mascon glacier trend ({months[0]}..{months[-1]})"),
        "reference": info,
        "glacier_cells": ctx.grid.to_dataarray(sel, "glacier_cells", "1", "cell with RGI glacier area > 0").astype(bool),
        "mascon_period": f"{months[0]}..{months[-1]}",
    }


def station_cells(ctx, lat, lon, neighbourhood):

    j = point_cell_index(ctx.grid, lat, lon)
    if neighbourhood == 1:
        return [j]
    i0, k0 = np.unravel_index(j, ctx.grid.shape)
    h = neighbourhood // 2
    return [int(np.ravel_multi_index((i, k), ctx.grid.shape))
            for i in range(max(i0 - h, 0), min(i0 + h + 1, ctx.grid.shape[0]))
            for k in range(max(k0 - h, 0), min(k0 + h + 1, ctx.grid.shape[1]))]


def table3(sol, ctx: Context, var="glacier_lwe_thickness", neighbourhood=1, alignment="stock",
           balance_year_end=None) -> pd.DataFrame:
    """Table III: Pearson r of the WGMS balances with the mascon glacier series (§10.5, AMB-14).

    Parameters
    ----------
    neighbourhood : {1, 3}
        The cell containing the glacier (1) or the mean of the 3x3 cells around it (3).
    alignment : {"stock", "flux", "paper_literal"}
        See :func:`hma_mascon.validation.insitu_correlation`.
    balance_year_end : dict, optional
        ``{"YALA": "MM-DD", ...}``; default 30 September for every glacier.

    Returns
    -------
    pandas.DataFrame
        Index the paper's label (YALA, TS, AKSHIYRAK, ABRAMOV); columns ``name``, ``lat``, ``lon``,
        ``paper_period``, ``r``, ``n``, ``years`` (balance years used, as "first-last"), ``paper_r``.
    """

    if neighbourhood not in (1, 3):
        raise ValueError(f"neighbourhood must be 1 or 3, not {neighbourhood!r}")
    ref = paper_numbers()
    x = cell_values(sol, var)
    stations = load_wgms_stations(ctx.data_dir)
    rows = []
    half = ctx.grid.resolution / 2
    for name, st in stations.iterrows():
        label = st.short
        years = TABLE3_PERIODS.get(label)
        if not (np.any(np.abs(ctx.grid.lat - st.lat) <= half) and np.any(np.abs(ctx.grid.lon - st.lon) <= half)):
            rows.append({"label": label, "name": name, "lat": st.lat, "lon": st.lon, "r": np.nan, "n": 0,
                         "years": "not computed: outside the solution's box",
                         "paper_period": f"{years[0]}-{years[1]}" if years else "", "paper_r": np.nan})
            continue
        end = (balance_year_end or {}).get(label, "09-30")
        bal = load_wgms_balances(ctx.data_dir, label, balance_year_end=end)
        series = x[:, station_cells(ctx, st.lat, st.lon, neighbourhood)].mean(axis=1)
        row = {"label": label, "name": name, "lat": st.lat, "lon": st.lon,
               "paper_period": f"{years[0]}-{years[1]}" if years else "",
               "paper_r": ref.loc[f"table3.{label}.this_study.r", "value"]
               if f"table3.{label}.this_study.r" in ref.index else np.nan}
        try:
            res = insitu_correlation(series, label_time(sol), bal["balance_m_we"].values, bal["end"].values,
                                     alignment=alignment, years=years)
            row.update(r=res["r"], n=res["n"],
                       years=f"{min(res['years'])}-{max(res['years'])}" if res["years"] else "")
        except ValueError as exc:
            row.update(r=np.nan, n=0, years=f"not computed: {exc}")
        rows.append(row)
    return pd.DataFrame(rows).set_index("label")


def insitu_curves(sol, ctx: Context, label, var="glacier_lwe_thickness", neighbourhood=1,
                  balance_year_end="09-30") -> dict:
    """Series of Fig. 7 for one WGMS glacier: smoothed mascon series and detrended cumulative balance.

    Returns
    -------
    dict
        ``mascon`` (pandas.Series over decimal years [cm EWH]: detrended, gap-filled, 2x12-smoothed),
        ``insitu`` (pandas.Series over balance-year ends [m w.e.]: cumulative balance, detrended).
    """

    st = load_wgms_stations(ctx.data_dir)
    st = st[st["short"] == label].iloc[0]
    series = cell_values(sol, var)[:, station_cells(ctx, st.lat, st.lon, neighbourhood)].mean(axis=1)
    s, tdec = smooth_interannual(series, label_time(sol))
    bal = load_wgms_balances(ctx.data_dir, label, balance_year_end=balance_year_end)
    years = TABLE3_PERIODS.get(label, (-9999, 9999))
    bal = bal[(bal.index >= years[0]) & (bal.index <= years[1])]
    tend = decimal_year(bal["end"].values)
    cum = detrend_linear(tend, np.cumsum(bal["balance_m_we"].values)) if len(bal) >= 2 else np.full(len(bal), np.nan)
    return {"mascon": pd.Series(100 * s, index=tdec, name="mascon [cm]"),
            "insitu": pd.Series(cum, index=tend, name="in situ [m w.e.]")}


def ablation_soil_moisture_share(sol, ctx: Context, years=ABLATION_YEARS) -> dict | None:
    """What leaving soil moisture in the glacier signal does to the total ablation [Gt] (§10.1, §10.6).

    The real mirror has no GLDAS grid, so the real-data glacier signal keeps its soil moisture. In a
    data directory with the GLDAS-like stand-in (the synthetic world) the ablation total of the 16
    regions is computed twice: from the glacier signal (soil moisture removed) and from the glacier
    signal plus the soil-moisture anomaly (as the real-data run must do).

    Returns
    -------
    dict or None
        ``removed``, ``kept`` and ``difference`` = kept - removed [Gt]; None without soil moisture.
    """
    x = soil_moisture_cells(sol, ctx)
    if x is None:
        return None
    gl = cell_values(sol, "glacier_lwe_thickness")
    kept_mass = regional_mass(gl + np.nan_to_num(x), ctx.weights, ctx.grid, time=sol["time"].values)
    removed = float(ablation_table(sol, ctx, years=years).attrs["total"])
    kept = float(ablation(kept_mass, label_time(sol), years=years).attrs["total"])
    return {"removed": removed, "kept": kept, "difference": kept - removed}


def ablation_table(sol, ctx: Context, var="glacier_lwe_thickness", years=ABLATION_YEARS, detrend=False):
    """Fig. 11: ablation period and amount per region [Gt] (§10.6, AMB-15: trend kept by default).

    Returns
    -------
    xarray.Dataset
        :func:`hma_mascon.validation.ablation` over the 16 regions and HMA (attribute ``total``: sum
        over the 16 regions).
    """

    mass = regional_glacier_mass(sol, ctx, var)
    return ablation(mass, label_time(sol), detrend=detrend, years=years)
