"""A region's GRACE glacier trend beside Hugonnet et al. (2021) (issue 14, "Beyond High Mountain Asia").

:func:`region_table` reads a solution file of any region (``hma-mascon solve --region NAME``) and its data
directory and gives, for each Hugonnet period that GRACE covers, the trend of the region's glacier mass
(the glacier signal summed over the region's glacier cells, :func:`hma_mascon.glacier_regions.glacier_cell_weights`)
with its 95 % error, beside the Hugonnet rate of the region's RGI codes with its error, and whether
they agree within the combined 95 % errors. High Mountain Asia keeps the paper's definition of its
glacier mass (``GlacierRegion.glacier_sum`` = "himap"): the glacier signal summed over the 16 HiMAP
region polygons, with chapter 7's stated error (:func:`hma_mascon.reproduction.regional_trend_table`).
Summed over the glacier cells alone, HMA's loss is a third smaller (CSR, 2006-2019: -16.0 against
-22.6 Gt/yr), because the regularization spreads it into the glacier-free cells next to the glaciers
and the HiMAP polygons hold those cells; no polygons of the other regions exist offline.

The GRACE error is that of the HMA regional trends (:func:`hma_mascon.reproduction.stated_errors`,
METHODS.md §10.2 plus issue 11): 1.96 sqrt(σ_fit² + σ_GIA² + σ_bias²) with σ_GIA the spread of the three
GIA models on the same cells and σ_bias the prior-expected regularization bias the solve stored
(``glacier_trend_bias_sd``, rescaled to the period's months), then the damping of a prior-shaped trend
(``glacier_prior_trend_recovered`` - ``glacier_prior_trend``) in quadrature. The Hugonnet error is the
table's ``err_dmdt`` (Hugonnet et al. 2021 state 95 % confidence intervals), summed in quadrature
over RGI codes.

Two diagnostics for what differs from HMA: the trend of the total field over the sea cells of the box
(``land_mask`` 0; mass the solve put in the ocean next to the glaciers) and over the land cells without
glacier, in Gt/yr.

Written by hand: the comparison's bookkeeping; trends come from :func:`hma_mascon.timeseries.trend_with_error`.
"""

from __future__ import annotations

import json
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import xarray as xr

from .consistency import filtered_ewh, filtered_ewh_of_grid
from .constants import RHO_WATER
from .geometry import grid_of_solution
from .glacier_regions import HUGONNET_PERIODS, REGIONS, glacier_area_cells, hugonnet_rates
from .inputs import filtered_grace_ewh, gia_rates, read_grace
from .love_numbers import load_love_numbers
from .reproduction import prepare as prepare_context
from .reproduction import regional_trend_table
from .params import resolve
from .stokes import anomalies
from .timeseries import decimal_year, harmonic_design, trend_with_error

__all__ = ["region_of", "glacier_mass_series", "filtered_box_series", "grace_anomalies", "filtered_trend_maps",
           "filtered_trend_fit", "region_table", "region_group", "read_region_cache",
           "reading_notes", "agreement_summary"]


def region_of(sol) -> str:
    """The region a solution was solved for (its ``param_region`` attribute; ``hma`` for older files)."""
    name = str(sol.attrs.get("param_region", "hma"))
    if name not in REGIONS:
        raise ValueError(f"the solution names region {name!r}, not one of {', '.join(REGIONS)}")
    return name


def _cells(sol, data_dir):
    grid = grid_of_solution(sol)
    inner = np.asarray(sol["is_buffer"].values, bool).ravel() == 0 if "is_buffer" in sol else np.ones(grid.size, bool)
    if "glacier_area" in sol:
        area_km2 = np.nan_to_num(np.asarray(sol["glacier_area"].values, float).ravel()) / 1e6
    else:
        area_km2 = glacier_area_cells(data_dir, grid)
    return grid, inner, area_km2


def glacier_mass_series(sol, data_dir, var="glacier_lwe_thickness", cells=None) -> xr.DataArray:
    """Mass anomaly [Gt] of ``var`` summed over ``cells`` (default: the region's glacier cells)."""
    grid, inner, area_km2 = _cells(sol, data_dir)
    if cells is None:
        cells = inner & (area_km2 > 0)
    x = np.asarray(sol[var].transpose("time", "lat", "lon").values, float).reshape(sol.sizes["time"], -1) / 100.0
    mass = np.nansum(x[:, cells] * grid.area[cells], axis=1) * RHO_WATER / 1e12
    mass[~np.all(np.isfinite(x[:, cells]), axis=1)] = np.nan
    return xr.DataArray(mass, dims=("time",), coords={"time": sol["time"].values}, name="glacier_mass",
                        attrs={"units": "Gt"})


def _period_months(sol, first, last):
    return _months_between(sol["time"].values, first, last)


def _months_between(time, first, last):
    tt = pd.DatetimeIndex(np.asarray(time))
    return np.asarray((tt >= pd.Timestamp(first)) & (tt < pd.Timestamp(last) + pd.offsets.MonthBegin(1)))


def filtered_box_series(sol, data_dir, stokes=None) -> tuple[np.ndarray, np.ndarray, float]:
    """What the data say before any inversion: filtered GRACE mass [Gt] over the solution's box.

    The Level-2 series of the solution's settings (:func:`hma_mascon.inputs.read_grace`, anomalies
    over the whole series), DDK5 and a 200 km Gaussian (:func:`hma_mascon.inputs.filtered_grace_ewh`,
    the hydrology-prior substitute's filter), summed over the inner cells (buffer excluded), land and
    sea alike, with the first GIA model removed as in the glacier signal. Filtering leaks part of the
    signal out of the box, so this is a lower bound of the size of a box-wide loss, not an estimate.
    ``stokes``: those anomalies when the caller has read them already (:func:`grace_anomalies`).

    Returns
    -------
    (time (datetime64), mass [Gt], GIA trend removed [Gt/yr])
    """
    stokes = grace_anomalies(sol, data_dir) if stokes is None else stokes
    grid = grid_of_solution(sol)
    inner = np.asarray(sol["is_buffer"].values, bool).ravel() == 0 if "is_buffer" in sol else np.ones(grid.size, bool)
    nmax = int(sol.attrs.get("param_nmax", 96))
    love = load_love_numbers(nmax)
    ewh = filtered_grace_ewh(stokes, grid, love, nmax)
    t = decimal_year(stokes["time"].values)
    rates = list(gia_rates(data_dir, grid, love, nmax).values())
    gia = float(np.sum(rates[0][inner] * grid.area[inner]) * RHO_WATER / 1e12) if rates else 0.0
    mass = np.sum(ewh[:, inner] * grid.area[inner], axis=1) * RHO_WATER / 1e12 - gia * (t - t.mean())
    return stokes["time"].values, mass, gia


def grace_anomalies(sol, data_dir) -> xr.Dataset:
    """The Level-2 anomalies (:func:`hma_mascon.stokes.anomalies`) of the data centre and region the
    solution names (``param_source``, ``param_region``; the default's otherwise), read from ``data_dir``."""
    settings = resolve("default", {k.removeprefix("param_"): v for k, v in sol.attrs.items()
                                   if k.startswith("param_") and k.removeprefix("param_") in ("region", "source")})
    return anomalies(read_grace(data_dir, settings))


def filtered_trend_maps(sol, stokes, months) -> tuple[np.ndarray, np.ndarray]:
    r"""The data's trend and the solution's trend, both seen through the same filters, per cell [m/yr EWH].

    The six-term trend of the Level-2 coefficients and that of the solution's total field
    (``lwe_thickness``, GIA and everything else included, as GRACE sees it) over the same months,
    each synthesized on the solution's cells after DDK5 and a 200 km Gaussian
    (:func:`hma_mascon.consistency.filtered_ewh` and :func:`~hma_mascon.consistency.filtered_ewh_of_grid`;
    the solution's trend grid is analysed into Stokes coefficients first). :func:`filtered_trend_fit`
    sums them over a set of cells.

    Parameters
    ----------
    sol : xarray.Dataset
        A solution (``lwe_thickness`` in cm, ``decimal_year``).
    stokes : xarray.Dataset
        Level-2 anomalies (:func:`grace_anomalies`), attributes ``radius`` and ``GM``.
    months : ndarray of bool (time,)
        The solution's months used.

    Returns
    -------
    (grace, solution) : two ndarrays (m,), (lat, lon) row-major
    """
    sol_month = np.asarray(sol["time"].values).astype("datetime64[M]")[months]
    take = np.isin(np.asarray(stokes["time"].values).astype("datetime64[M]"), sol_month)
    if take.sum() < 6:
        raise ValueError(f"filtered_trend_maps: only {int(take.sum())} months of the coefficients match the solution's")
    t = decimal_year(stokes["time"].values[take])
    H = harmonic_design(t, float(t.mean()))
    coef = []
    for name in ("C", "S"):
        v = np.asarray(stokes[name].values, float)[take]
        coef.append(np.linalg.lstsq(H, v.reshape(v.shape[0], -1), rcond=None)[0][1].reshape(v.shape[1:]))
    love = load_love_numbers(int(stokes["degree"].max()))
    radius, gm = float(stokes.attrs["radius"]), float(stokes.attrs["GM"])
    lat, lon = sol["lat"].values, sol["lon"].values
    grace = np.asarray(filtered_ewh(coef[0], coef[1], lat, lon, love, radius, GM=gm).values).ravel()
    x = np.asarray(sol["lwe_thickness"].transpose("time", "lat", "lon").values, float)[months] / 100.0
    ts = np.asarray(sol["decimal_year"].values, float)[months] if "decimal_year" in sol.coords \
        else decimal_year(sol["time"].values[months])
    slope = np.linalg.lstsq(harmonic_design(ts, float(ts.mean())), np.nan_to_num(x.reshape(x.shape[0], -1)),
                            rcond=None)[0][1]
    trend = xr.DataArray(slope.reshape(lat.size, lon.size), dims=("lat", "lon"), coords={"lat": lat, "lon": lon})
    fitted = np.asarray(filtered_ewh_of_grid(trend, love, radius, nmax=int(stokes["degree"].max()), GM=gm).values).ravel()
    return grace, fitted


def filtered_trend_fit(sol, stokes, cells, months) -> tuple[float, float]:
    r"""How much of the data's trend the solution keeps, judged by the data alone [Gt/yr].

    The two maps of :func:`filtered_trend_maps` summed over ``cells``:

    .. math:: F_{GRACE} = \sum_{j} \rho_w S_j\,\mathcal{F}[\dot C, \dot S]_j, \qquad
              F_{sol} = \sum_{j} \rho_w S_j\,\mathcal{F}[\mathcal{A}\,\dot x]_j ,

    with :math:`\mathcal{A}` the analysis of the solution's trend grid into Stokes coefficients. A
    solve that fits the data's trend gives F_sol ≈ F_GRACE whatever the truth is; a ratio well
    below 1 means the regularization, not the data, set the trend there. The data carry signal
    from outside the grid (ocean mass, degree 1) that the solution does not model, so over a
    small sum the ratio is a diagnostic, not a correction. No Hugonnet rate or prior enters it.

    Parameters
    ----------
    sol, stokes, months
        As in :func:`filtered_trend_maps`.
    cells : ndarray of bool (m,)
        The cells summed ((lat, lon) row-major).

    Returns
    -------
    (F_GRACE, F_sol) [Gt/yr]
    """
    grace, fitted = filtered_trend_maps(sol, stokes, months)
    area = grid_of_solution(sol).area
    gt = lambda f: float(np.sum(f[cells] * area[cells]) * RHO_WATER / 1e12)  # noqa: E731
    return gt(grace), gt(fitted)


def region_table(sol, data_dir, nmax: int | None = None, filtered: bool = False) -> pd.DataFrame:
    """GRACE glacier trend of the solution's region beside the Hugonnet rate, per period.

    Parameters
    ----------
    sol : xarray.Dataset
        A solution of :func:`hma_mascon.pipeline.run_solution` with the glacier signal.
    data_dir : path-like
        The real data directory it was solved from (Hugonnet table, GIA models, RGI area).

    Returns
    -------
    pandas.DataFrame
        Index: the period label; columns ``months``, ``grace_trend`` and ``grace_error95`` [Gt/yr] (and
        its parts ``sigma_fit``, ``sigma_gia``, ``sigma_bias``, ``damping``), ``hugonnet``,
        ``hugonnet_error95``, ``difference``, ``combined_error95``, ``agree`` (bool), ``sea_trend`` and
        ``land_no_glacier_trend`` [Gt/yr], ``glacier_area_km2`` (cells summed) and ``rgi_area_km2``
        (the table's); with ``filtered``, ``filtered_box_trend`` and ``gia_box_trend`` [Gt/yr]
        (:func:`filtered_box_series`: the box's filtered GRACE trend, GIA removed, and the GIA trend
        removed), and ``filtered_grace_glacier``, ``filtered_solution_glacier`` [Gt/yr] and
        ``data_kept`` (their ratio) over the glacier cells (:func:`filtered_trend_fit`: how much of
        the data's own trend the solve kept there).
    """
    region = REGIONS[region_of(sol)]
    grid, inner, area_km2 = _cells(sol, data_dir)
    glacier = inner & (area_km2 > 0)
    nmax = int(sol.attrs.get("param_nmax", 96)) if nmax is None else nmax
    rates = gia_rates(data_dir, grid, load_love_numbers(nmax), nmax)
    # the glacier signal subtracts the GIA rate, so model k moves the sum's trend by -sum(rate_k)
    gia_sums = np.array([-np.sum(r[glacier] * grid.area[glacier]) * RHO_WATER / 1e12 for r in rates.values()])
    series = glacier_mass_series(sol, data_dir, cells=glacier)
    land = np.asarray(sol["land_mask"].values).ravel() if "land_mask" in sol else None
    t_all = (np.asarray(sol["decimal_year"].values, float) if "decimal_year" in sol.coords
             else decimal_year(sol["time"].values))
    ok_all = np.isfinite(series.values)
    bias_all = float(sol["glacier_trend_bias_sd"].values[0]) if "glacier_trend_bias_sd" in sol else 0.0
    var_all = float(sol.attrs.get("trend_bias_time_variance", np.var(t_all[ok_all])))
    damping = 0.0
    if "glacier_prior_trend" in sol and "glacier_prior_trend_recovered" in sol:
        d = (np.asarray(sol["glacier_prior_trend_recovered"].values, float).ravel()
             - np.asarray(sol["glacier_prior_trend"].values, float).ravel()) / 100.0
        damping = float(np.sum(d[glacier] * grid.area[glacier]) * RHO_WATER / 1e12)
    hug = hugonnet_rates(data_dir, region.rgi)
    himap = prepare_context(sol, data_dir) if region.glacier_sum == "himap" else None
    stokes = grace_anomalies(sol, data_dir) if filtered else None  # read once, for both filtered checks
    box = filtered_box_series(sol, data_dir, stokes) if filtered else None
    rows = []
    for period, (label, first, last) in HUGONNET_PERIODS.items():
        sel = _period_months(sol, first, last) & ok_all
        if sel.sum() < 24 or period not in hug.index:
            continue
        t = t_all[sel]
        if himap is not None:  # the paper's HMA: the 16 HiMAP regions with chapter 7's stated error
            r = regional_trend_table(sol, himap, period=(first, last)).loc["HMA"]
            trend, err95, damp = float(r["trend"]), float(r["error95"]), float(r.get("damping", 0.0))
            info = {"sigma_fit": r["sigma_fit"], "sigma_gia": r["sigma_gia"]}
            sigma_bias = float(r.get("sigma_bias", 0.0))
        else:
            trend, err, info = trend_with_error(t, series.values[sel],
                                                gia_trends=gia_sums if len(gia_sums) > 1 else None)
            sigma_bias = bias_all * np.sqrt(var_all / np.var(t))
            err95 = float(np.hypot(np.hypot(err, 1.96 * sigma_bias), damping))
            damp = damping
        h, he = float(hug.loc[period, "dmdt"]), float(hug.loc[period, "err_dmdt"])
        row = {"period": label, "months": int(sel.sum()), "glacier_sum": region.glacier_sum,
               "grace_trend": float(trend), "grace_error95": err95,
               "sigma_fit": float(info["sigma_fit"]), "sigma_gia": float(info["sigma_gia"]),
               "sigma_bias": float(sigma_bias), "damping": damp, "hugonnet": h, "hugonnet_error95": he,
               "difference": float(trend) - h, "combined_error95": float(np.hypot(err95, he)),
               "glacier_area_km2": float(area_km2[glacier].sum()), "rgi_area_km2": float(hug.loc[period, "area_km2"])}
        row["agree"] = bool(abs(row["difference"]) <= row["combined_error95"])
        if land is not None:
            for name, cells in (("sea_trend", inner & (land == 0)), ("land_no_glacier_trend",
                                                                    inner & (land == 1) & (area_km2 <= 0))):
                s = glacier_mass_series(sol, data_dir, var="lwe_thickness", cells=cells).values[sel]
                row[name] = float(trend_with_error(t, s)[0]) if cells.any() else 0.0
        if box is not None:
            tb, mb, gia_box = box
            w = _months_between(tb, first, last) & np.isfinite(mb)
            row["filtered_box_trend"] = float(trend_with_error(decimal_year(tb[w]), mb[w])[0])
            row["gia_box_trend"] = gia_box
            fg, fs = filtered_trend_fit(sol, stokes, glacier, sel)
            row.update(filtered_grace_glacier=fg, filtered_solution_glacier=fs,
                       data_kept=fs / fg if abs(fg) > 1e-9 else np.nan)
        rows.append(row)
    return pd.DataFrame(rows).set_index("period")


def region_group(sol, data_dir) -> xr.Dataset:
    """What a region's maps and series need from its solution, small enough to commit (0.5° grids).

    Variables ``glacier_trend`` [cm/yr], ``glacier_area`` [m2], ``land_mask``, ``is_buffer`` and the
    monthly ``glacier_mass`` [Gt] of :func:`glacier_mass_series`; attributes ``region``, ``title``,
    ``box`` and ``source``. One netCDF group per region in ``reproduction/regions_real_<source>.nc``,
    and what :func:`hma_mascon.maps.region_maps` draws.
    """
    name = region_of(sol)
    return xr.Dataset({
        "glacier_trend": sol["glacier_lwe_thickness_trend"],
        "glacier_area": sol["glacier_area"],
        "land_mask": sol["land_mask"] if "land_mask" in sol else xr.zeros_like(sol["glacier_area"]),
        "is_buffer": sol["is_buffer"],
        "glacier_mass": glacier_mass_series(sol, data_dir),
    }, attrs={"region": name, "title": REGIONS[name].title,
              "box": str(tuple(REGIONS[name].values.get("box", sol.attrs.get("param_box", "")))),
              "source": str(sol.attrs.get("param_source", ""))})


def read_region_cache(directory, source: str = "csr"):
    """The committed run of ``scripts/run_regions.py`` (``regions_real_<source>.csv/.nc/.json``), or None.

    Returns
    -------
    (pandas.DataFrame, dict, dict) or None
        The comparison (one row per region and period), ``{region: xarray.Dataset}`` (trend map,
        glacier area, land mask, buffer flag, glacier-mass series) and the sidecar's record.
    """
    stem = Path(directory) / f"regions_real_{source}"
    csv, nc = stem.with_suffix(".csv"), stem.with_suffix(".nc")
    if not (csv.is_file() and nc.is_file()):
        return None
    try:
        table = pd.read_csv(csv)
        with netCDF4.Dataset(nc) as f:
            names = list(f.groups)
        groups = {name: xr.load_dataset(nc, group=name) for name in names}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{stem}: cannot read the cached regions ({exc})") from exc
    side = stem.with_suffix(".json")
    meta = json.loads(side.read_text()) if side.is_file() else {"settings": "not recorded"}
    return table, groups, meta


def reading_notes(table: pd.DataFrame, period_prefix: str = "2006") -> str:
    """One Markdown bullet per region of a :func:`region_table`-like table (column ``region``): whether
    GRACE agrees with Hugonnet over the period starting ``period_prefix``, the difference, the
    combined error and the trend the box's sea cells carry."""
    rows = table[table["period"].astype(str).str.startswith(period_prefix)]
    notes = []
    for r in rows.itertuples(index=False):
        verdict = "agrees" if abs(r.difference) <= r.combined_error95 else "does not agree"
        sea = f"; the sea cells of the box carry {r.sea_trend:+.1f} Gt/yr" if hasattr(r, "sea_trend") else ""
        notes.append(f"- **{REGIONS[r.region].title}** {verdict}: the difference is {r.difference:+.1f} Gt/yr "
                     f"against a combined 95 % error of {r.combined_error95:.1f}{sea}.")
    return "\n".join(notes)


def agreement_summary(rows: pd.DataFrame) -> str:
    """One sentence on one region's rows of a :func:`region_table`-like table: the periods over which GRACE
    agrees with Hugonnet within the combined 95 % errors, the periods over which it misses (by how much,
    against which combined error) and, where it misses, whose loss is the larger.

    Periods are shortened to their years (``"2000-2020 (GRACE from 2002-04)"`` -> ``"2000-2020"``).
    """
    if rows.empty:
        raise ValueError("agreement_summary needs at least one row (columns period, difference, combined_error95)")
    short = rows["period"].astype(str).str.replace(r" \(.*\)", "", regex=True)
    ok = (rows["difference"].abs() <= rows["combined_error95"]).to_numpy()
    agree = list(short[ok])
    if not ok.any():
        head = "does not agree over any period"
    elif ok.all():
        return "agrees over every period (" + ", ".join(agree) + ")"
    else:
        head = "agrees over " + " and ".join(agree)
    misses = [f"{p} by {abs(d):.1f} Gt/yr against a combined error of {e:.1f}"
              for p, d, e in zip(short[~ok], rows["difference"][~ok], rows["combined_error95"][~ok])]
    # difference = GRACE - Hugonnet: a positive difference of a loss means GRACE's loss is the smaller one.
    smaller = (rows["difference"][~ok] > 0).to_numpy()
    whose = ("GRACE's loss is the smaller one" if smaller.all() else "GRACE's loss is the larger one"
             if not smaller.any() else "GRACE's loss is smaller in some periods and larger in others")
    return f"{head}; misses over " + "; over ".join(misses) + f" ({whose})"
