"""Prior signal RMS of the glacier, lake and hydrology components on the mascon cells (METHODS.md §7).

Heavy lifting: **xarray/netCDF4** read the gridded priors, **geopandas/shapely/pyproj** rebuild and
intersect the Shean et al. (2020) hexagons, :mod:`hma_mascon.regrid` does the area-weighted
regridding.  Written by hand: the hexagon reconstruction and the glacier-area-proportional
distribution, because no installed library does these on our grid.

Sources, best first (``"auto"``):

* **glacier**: ``glacier_prior_grid`` (gridded ASTER-like series, the paper's Hugonnet et al. 2021
  tiles); else the real substitute, Shean et al. (2020) 2000.4-2018.4 geodetic mass balance on 55-km
  hexagons (``shean2020_mass_balance``), distributed onto 0.5 deg cells in proportion to the RGI 6.0
  glacier area (``rgi6_glacier_area``) inside each hexagon (:func:`shean_rate_grid`).  A rate-only
  product gives sigma = |rate| std(t) over the prior period (§7).  **Month-of-year prior of a
  rate-only product:** the seasonal second moment of a detrended linear ramp is exactly zero, and
  inventing a seasonal amplitude (e.g. scaled from the rate with a regional phase) would have no
  source; so ``seasonal_second_moment`` is zero for this component and the floor acts.  The seasonal
  cycle of the glacier cells then comes from the GRACE-derived hydrology substitute below (which
  contains the total seasonal signal, glacier included).
* **lake**: ``lake_storage`` (gridded lake water storage); else **none**: zero variance, so the
  floor (or the other components) act.  No honest lake substitute exists offline.
* **hydrology**: ``hydrology_model`` (WGHM-like TWS grid); else the CSR-like substitute: the prior
  RMS of DDK5 + 200 km Gaussian filtered GRACE EWH (computed by the caller on the mascon cells) minus
  the glacier prior (:func:`hydrology_prior_from_grace`).

All series are referenced to their own mean over the prior period (2002-2017 by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import shapely
import xarray as xr
from scipy.spatial import cKDTree

from .constants import RHO_WATER
from .datadir import dataset_exists, dataset_files, dataset_path
from .regions import HMA_ALBERS, DataFileError, cell_polygons, grid_resolution, to_albers
from .regrid import crop_to_grid, regrid_to_cells
from .timeseries import decimal_year


@dataclass
class PriorComponent:
    """One prior component on the mascon cells.

    Attributes
    ----------
    name : str
        ``"glacier"``, ``"lake"`` or ``"hydrology"``.
    series : xarray.DataArray (time, lat, lon) or None
        EWH anomaly [m] about the prior-period mean; None for rate-only or absent products.
    rms : ndarray (m,)
        Prior signal RMS sigma_k,i [m].
    seasonal_second_moment : ndarray (12, m) or None
        Mean over years of the detrended value squared, per calendar month [m2].
    source : str
        Dataset (manifest name and file) the prior comes from.
    substitute : str or None
        What stands in for the paper's product, and how; None when it is the paper's kind of product.
    rate : ndarray (m,) or None
        EWH rate [m/yr] of a rate-only product.
    """

    name: str
    series: xr.DataArray | None
    rms: np.ndarray
    seasonal_second_moment: np.ndarray | None
    source: str
    substitute: str | None = None
    rate: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------- series statistics


def _monthly_epochs(period):
    t = pd.date_range(period[0], period[1], freq="MS") + pd.Timedelta(days=14)
    return decimal_year(t.values)


def series_rms(x):
    """RMS about the period mean, sqrt(mean_t (x - x̄)²) per cell [same unit as x]."""
    x = np.asarray(x, float)
    return np.sqrt(np.mean((x - x.mean(axis=0)) ** 2, axis=0))


def seasonal_second_moment(x, time):
    """Per calendar month, the mean over years of the value squared after removing offset + trend.

    The second moment about 0 (not about the monthly mean), so that the seasonal cycle is carried
    (METHODS.md §7, R_sv step 3).  Returns (12, m); months absent from ``time`` give NaN.
    """
    x = np.asarray(x, float)
    t = decimal_year(time)
    X = np.column_stack([np.ones_like(t), t - t.mean()])
    coef, *_ = np.linalg.lstsq(X, x, rcond=None)
    r = x - X @ coef
    month = pd.DatetimeIndex(np.asarray(time)).month.values
    out = np.full((12, x.shape[1]), np.nan)
    for c in range(1, 13):
        sel = month == c
        if sel.any():
            out[c - 1] = np.mean(r[sel] ** 2, axis=0)
    return out


def rate_rms(rate, period=("2002-01", "2017-12")):
    """sigma = |rate| std(t) of a linear ramp sampled monthly over ``period`` (population std)."""
    return np.abs(np.asarray(rate, float)) * np.std(_monthly_epochs(period))


def component_trend(component: PriorComponent, grid) -> np.ndarray:
    """Linear EWH trend [m/yr] of a prior component on the mascon cells (m,).

    The rate of a rate-only product (Shean et al. 2020), else the least-squares slope (offset +
    trend) of its series over the prior period; zero for an absent component and for cells without
    data. Used as the probe of the regularization damping (:func:`hma_mascon.estimator.trend_recovery`).
    """
    if component.rate is not None:
        rate = np.asarray(component.rate, float)
    elif component.series is not None:
        x = grid.from_dataarray(component.series.transpose("time", "lat", "lon"))
        t = decimal_year(component.series["time"].values)
        X = np.column_stack([np.ones_like(t), t - t.mean()])
        ok = np.all(np.isfinite(x), axis=0)
        coef, *_ = np.linalg.lstsq(X, np.where(ok, x, 0.0), rcond=None)
        rate = np.where(ok, coef[1], 0.0)
    else:
        rate = np.zeros(grid.size)
    return np.nan_to_num(rate, nan=0.0)


def _check_nan(values, dataset, path, nan):
    bad = ~np.isfinite(values)
    if bad.any():
        ncell = int(bad.reshape(-1, bad.shape[-1]).any(axis=0).sum())
        if nan == "zero":
            return np.where(bad, 0.0, values)
        raise ValueError(
            f"prior {dataset!r} ({path}): {ncell} mascon cells contain NaN after regridding; "
            "pass nan='zero' to set them to 0")
    return values


def _read_lwe(path, dataset):
    try:
        ds = xr.open_dataset(path)
    except Exception as err:  # noqa: BLE001
        raise DataFileError(f"{path}: cannot be read as netCDF ({err})") from err
    if "lwe_thickness" not in ds:
        raise DataFileError(f"{path}: variable 'lwe_thickness' missing (has {list(ds.data_vars)})")
    da = ds["lwe_thickness"]
    if "time" not in da.dims:
        raise DataFileError(f"{path}: 'lwe_thickness' has no time dimension")
    units = str(da.attrs.get("units", "cm")).strip().lower()
    scale = {"cm": 0.01, "m": 1.0, "mm": 0.001}.get(units)
    if scale is None:
        raise DataFileError(f"{path}: unsupported units {units!r} of 'lwe_thickness' (cm, mm or m)")
    return da, scale


def load_gridded_prior(name, data_dir, grid, component, period=("2002-01", "2017-12"), nan="raise",
                       substitute=None):
    """A prior component from a CF netCDF ``lwe_thickness(time, lat, lon)`` dataset (cm).

    The series is cut to ``period``, regridded area-weighted to the mascon cells, converted to metres
    and referenced to its own mean over the period.
    """
    path = dataset_path(name, data_dir)
    da, scale = _read_lwe(path, name)
    da = da.sel(time=slice(period[0], period[1] + "-31" if len(period[1]) == 7 else period[1]))
    if da.sizes["time"] < 12:
        raise DataFileError(f"{path}: fewer than 12 epochs inside the prior period {period}")
    values = regrid_to_cells(da, grid, source=str(path)) * scale
    values = _check_nan(values, name, path, nan)
    values = values - values.mean(axis=0)
    time = da["time"].values
    series = grid.to_dataarray(values, name=f"{component}_prior", units="m",
                               long_name=f"{component} prior EWH anomaly", extra_dims=("time",))
    series = series.assign_coords(time=time)
    return PriorComponent(component, series, series_rms(values), seasonal_second_moment(values, time),
                          source=f"{name}: {path}", substitute=substitute)


# ------------------------------------------------------------------------------- Shean hexagons
def _hexagons(points_xy):
    """Rebuild the flat-topped hexagons around lattice centroids (circumradius from the spacing)."""

    d, _ = cKDTree(points_xy).query(points_xy, k=2)
    spacing = float(np.median(d[:, 1]))  # centre-to-centre distance = sqrt(3) * circumradius
    r = spacing / np.sqrt(3.0)
    ang = np.radians(np.arange(0, 360, 60))
    verts = np.stack([points_xy[:, :1] + r * np.cos(ang), points_xy[:, 1:] + r * np.sin(ang)], axis=-1)
    return np.array([shapely.Polygon(v) for v in verts], dtype=object), r


def shean_rate_grid(data_dir, grid):
    """Shean et al. (2020) glacier mass rates distributed onto the mascon cells.

    Each hexagon's mass rate (``mb_Gta_sum``, Gt/yr) is spread over the 0.5 deg RGI cells it
    overlaps in proportion to the RGI 6.0 glacier area inside the hexagon, taken as A_i |hex ∩ cell_i|
    / |cell_i| (glacier area assumed uniform inside an RGI cell); a hexagon whose overlapped cells hold
    no RGI area is spread by overlap area.  The hexagons are rebuilt from their centroids (the file
    stores points) on the Albers projection :data:`~hma_mascon.regions.HMA_ALBERS` (the file's CRS
    tag is wrong), flat-topped, with circumradius = centre spacing / sqrt(3).

    Returns
    -------
    rate : ndarray (m,)
        EWH rate [m/yr] per mascon cell.
    info : dict
        ``file_total_gt`` (sum of the file), ``grid_total_gt`` (sum on the mascon cells, buffer
        included), ``outside_gt`` (mass of hexagon parts outside the grid), ``hex_radius_m``,
        ``period``.
    """
    import geopandas as gpd


    path = dataset_path("shean2020_mass_balance", data_dir)
    hexes = gpd.read_file(path)
    if "mb_Gta_sum" not in hexes.columns:
        raise DataFileError(f"{path}: column 'mb_Gta_sum' missing")
    if not (hexes.geom_type == "Point").all():
        raise DataFileError(f"{path}: expected hexagon centroids (points)")
    xy = np.column_stack([hexes.geometry.x.values, hexes.geometry.y.values])
    if np.abs(xy).max() < 1000:
        raise DataFileError(f"{path}: coordinates look geographic, expected Albers metres")
    gt = hexes["mb_Gta_sum"].astype(float).values
    polys, radius = _hexagons(xy)
    # RGI area grid around the hexagons
    rgi_path = dataset_files("rgi6_glacier_area", data_dir, match="rgi6_glacier_area_0.5deg.nc")[0]
    rgi = xr.open_dataset(rgi_path)
    var = "Area" if "Area" in rgi else list(rgi.data_vars)[0]
    hull = gpd.GeoSeries(list(polys), crs=HMA_ALBERS).to_crs("EPSG:4326").total_bounds
    half = grid_resolution(grid) / 2
    w = min(hull[0], np.min(grid.lon) - half) - 0.5
    e = max(hull[2], np.max(grid.lon) + half) + 0.5
    so = min(hull[1], np.min(grid.lat) - half) - 0.5
    no = max(hull[3], np.max(grid.lat) + half) + 0.5
    area = rgi[var].sortby("y").sortby("x").sel(x=slice(w, e), y=slice(so, no))
    rlat, rlon = np.meshgrid(area["y"].values, area["x"].values, indexing="ij")
    rgi_cells = _Cells(rlat.ravel(), rlon.ravel(), 0.5)

    cells_a = to_albers(cell_polygons(rgi_cells))
    cell_area = shapely.area(cells_a)
    a_rgi = np.nan_to_num(area.values.ravel().astype(float))
    tree = shapely.STRtree(cells_a)
    gt_cell = np.zeros(a_rgi.size)
    for h, poly in enumerate(polys):
        idx = tree.query(poly, predicate="intersects")
        if idx.size == 0:
            continue
        ov = shapely.area(shapely.intersection(cells_a[idx], poly))
        w = a_rgi[idx] * ov / cell_area[idx]
        if w.sum() <= 0:
            w = ov
        gt_cell[idx] += gt[h] * w / w.sum()
    gt_grid = regrid_to_cells(xr.DataArray(gt_cell.reshape(rlat.shape), dims=("y", "x"),
                                           coords={"y": area["y"].values, "x": area["x"].values}),
                              grid, extensive=True, source=str(rgi_path))
    rate = gt_grid * 1e12 / RHO_WATER / np.asarray(grid.area, float)
    info = {"file_total_gt": float(gt.sum()), "grid_total_gt": float(np.nansum(gt_grid)),
            "outside_gt": float(gt_cell.sum() - np.nansum(gt_grid)), "hex_radius_m": radius,
            "period": "2000.4-2018.4", "file": str(path), "rgi_file": str(rgi_path)}
    return np.nan_to_num(rate), info


class _Cells:
    def __init__(self, lat, lon, resolution):
        self.lat, self.lon, self.resolution = lat, lon, resolution


def hugonnet_comparison(data_dir, shean_info=None):
    """HMA glacier mass rates: Hugonnet et al. (2021) RGI regions 13+14+15 vs. Shean et al. (2020).

    Returns
    -------
    pandas.DataFrame
        One row per product/period: ``source``, ``period``, ``dmdt_gt_per_yr``, ``err_gt_per_yr``
        (Hugonnet errors added in quadrature over the three regions).
    """
    path = dataset_path("hugonnet2021_regional", data_dir)
    df = pd.read_csv(path)
    need = {"reg", "period", "dmdt", "err_dmdt"}
    if not need <= set(df.columns):
        raise DataFileError(f"{path}: missing columns {sorted(need - set(df.columns))}")
    sub = df[df["reg"].isin([13, 14, 15])]
    rows = []
    for period, g in sub.groupby("period"):
        if len(g) != 3:
            raise DataFileError(f"{path}: period {period} does not have the three HMA regions 13, 14, 15")
        rows.append({"source": "Hugonnet 2021 (RGI 13+14+15)", "period": period,
                     "dmdt_gt_per_yr": float(g["dmdt"].sum()),
                     "err_gt_per_yr": float(np.sqrt(np.sum(g["err_dmdt"] ** 2)))})
    if shean_info is not None:
        rows.append({"source": "Shean 2020 (file total)", "period": shean_info["period"],
                     "dmdt_gt_per_yr": shean_info["file_total_gt"], "err_gt_per_yr": np.nan})
        rows.append({"source": "Shean 2020 on the mascon grid", "period": shean_info["period"],
                     "dmdt_gt_per_yr": shean_info["grid_total_gt"], "err_gt_per_yr": np.nan})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ hydrology/GRACE
def hydrology_prior_from_grace(grace_ewh, time, glacier, period=("2002-01", "2017-12")):
    """CSR-like hydrology prior: filtered GRACE EWH minus the glacier prior.

    Parameters
    ----------
    grace_ewh : array-like (time, m)
        DDK5 + 200 km Gaussian filtered GRACE EWH [m] synthesised at the mascon cells by the caller.
    time : array-like (time,) datetime64
    glacier : PriorComponent
        Its ``series`` (interpolated to ``time``) or ``rate`` x (t - t̄) is subtracted.
    period : (str, str)
        Prior period; only epochs inside it are used.  Missing months (NaN rows) are dropped.

    Returns
    -------
    PriorComponent
        ``rms`` and ``seasonal_second_moment`` of the residual, referenced to its own mean.
    """
    x = np.asarray(grace_ewh, float)
    t = pd.DatetimeIndex(np.asarray(time))
    sel = (t >= pd.Timestamp(period[0])) & (t < pd.Timestamp(period[1]) + pd.offsets.MonthBegin(1))
    sel &= np.all(np.isfinite(x), axis=1)
    x, t = x[sel], t[sel]
    if x.shape[0] < 12:
        raise ValueError(f"fewer than 12 GRACE epochs inside the prior period {period}")
    tdec = decimal_year(t.values)
    if glacier.series is not None:
        g = glacier.series.interp(time=t.values)
        gv = np.asarray(g.values, float).reshape(t.size, -1)
    elif glacier.rate is not None:
        gv = np.outer(tdec - tdec.mean(), glacier.rate)
    else:
        gv = 0.0
    resid = x - gv
    resid = resid - resid.mean(axis=0)
    return PriorComponent("hydrology", None, series_rms(resid), seasonal_second_moment(resid, t.values),
                          source="GRACE (DDK5 + 200 km Gaussian) minus the glacier prior",
                          substitute="CSR-like: filtered GRACE minus glacier prior stands in for WaterGAP WGHM 2.2e")


# ----------------------------------------------------------------------------------- load_priors
def zero_component(name, m, reason):
    return PriorComponent(name, None, np.zeros(m), np.zeros((12, m)), source="none", substitute=reason)


def with_rate_variability(component: PriorComponent, glacier_area_km2, cell_area_m2, rate_sd_mwe: float,
                          period=("2002-01", "2017-12")) -> PriorComponent:
    r"""The glacier component with the variance of an unknown mass-balance rate added to its RMS.

    .. math:: \sigma_j^2 \leftarrow \sigma_j^2 + \left(\frac{A_j}{S_j}\, s\, \mathrm{std}(t)\right)^2

    with :math:`A_j` the RGI glacier area of cell j, :math:`S_j` its area, :math:`s` the sd of the
    specific rate [m w.e./yr] and std(t) that of a monthly ramp over ``period`` (:func:`rate_rms`).
    A prior built from rates alone gives :math:`\sigma_j = |\dot h_j|\,\mathrm{std}(t)`, so a region
    whose prior rate is near zero (the Karakoram's "anomaly") is clamped whatever the data say and its
    change is booked to the nearest high-variance cells (issue 11, suspect 7). The added term is what
    could change on that much ice; the rate stays information on top. The seasonal second moments are
    left as they are (the term is a trend's variance).
    """
    frac = np.asarray(glacier_area_km2, float) * 1e6 / np.asarray(cell_area_m2, float)
    extra = rate_rms(frac * float(rate_sd_mwe), period)
    rms = np.sqrt(np.asarray(component.rms, float) ** 2 + extra**2)
    note = f"+ rate variability {rate_sd_mwe:g} m w.e./yr on the RGI area"
    return replace(component, rms=rms, source=f"{component.source} {note}",
                   substitute=(component.substitute + "; " if component.substitute else "") + note)


def with_variability(component: PriorComponent, glacier_area_km2, cell_area_m2, sd_mwe: float) -> PriorComponent:
    r"""The glacier component with the variance of an unknown variability about the trend added.

    .. math:: \sigma^2_j(c) \leftarrow \sigma^2_j(c) + \left(\frac{A_j}{S_j}\, s\right)^2 ,
              \qquad \sigma_j^2 \leftarrow \sigma_j^2 + \left(\frac{A_j}{S_j}\, s\right)^2

    for every calendar month c of the seasonal second moment (R_sv, METHODS.md §7) and for the RMS
    (R_pre), with :math:`A_j` the RGI glacier area of cell j, :math:`S_j` its area and :math:`s` the
    RMS of the specific mass about its trend [m w.e.] (seasons and interannual weather). A rate-only
    glacier prior (Shean et al. 2020 on the real data, the ASTER-like windows in the synthetic world)
    has no seasons, so the refined step sees the glacier cells with little more than the hydrology's
    variance and books the glaciers' seasonal and interannual mass to the cells around them. The term
    is the variability that much ice could have, as :func:`with_rate_variability` is for the trend.

    Off by default (``glacier_variability_sd_mwe=None``). Measured with 0.5 m w.e. (chapter 9, limits
    table): on the synthetic world the glacier cells' annual amplitude rises from 37 to 61 Gt (truth
    101) with more monthly noise, and the stations' r does not rise; on the real CSR record (once, at
    commit 2afa749) the HMA trend is unchanged (-25.6 Gt/yr), the ablation rises from 328 to 335 Gt
    and the r at Yala falls from 0.69 to 0.46.
    """
    frac = np.asarray(glacier_area_km2, float) * 1e6 / np.asarray(cell_area_m2, float)
    extra2 = (frac * float(sd_mwe)) ** 2
    seasonal = component.seasonal_second_moment
    seasonal = (np.zeros((12, extra2.size)) if seasonal is None else np.nan_to_num(np.asarray(seasonal, float)))
    note = f"+ variability {sd_mwe:g} m w.e. about the trend on the RGI area"
    return replace(component, rms=np.sqrt(np.nan_to_num(np.asarray(component.rms, float)) ** 2 + extra2),
                   seasonal_second_moment=seasonal + extra2[None, :], source=f"{component.source} {note}",
                   substitute=(component.substitute + "; " if component.substitute else "") + note)


def without_cells(component: PriorComponent, cells, why: str) -> PriorComponent:
    """``component`` with zero variance (RMS, seasonal second moment, rate) on ``cells`` (bool, (m,)):
    the floor of METHODS.md §7 acts there. ``why`` is appended to its ``substitute`` record."""
    cells = np.asarray(cells, bool)
    seasonal = component.seasonal_second_moment
    return replace(component, rms=np.where(cells, 0.0, component.rms),
                   seasonal_second_moment=None if seasonal is None else np.where(cells[None, :], 0.0, seasonal),
                   rate=None if component.rate is None else np.where(cells, 0.0, component.rate),
                   substitute=f"{component.substitute or component.source}; zero on {int(cells.sum())} {why}")


def load_priors(data_dir, grid, period=("2002-01", "2017-12"), glacier="auto", lake="auto",
                hydrology="auto", nan="raise", grace_ewh=None, grace_time=None):
    """The three prior components on the mascon cells, each from the best available source.

    Parameters
    ----------
    data_dir : path-like
    grid : MasconGrid
    period : (str, str)
        Prior period ``("YYYY-MM", "YYYY-MM")``.
    glacier : {"auto", "grid", "shean", "none"} or PriorComponent
        A component made by the caller (e.g. :func:`hma_mascon.glacier_regions.hugonnet_prior`) is used as is.
    lake : {"auto", "grid", "none"}
    hydrology : {"auto", "model", "grace", "none"}
        ``grace`` (or ``auto`` without the model file) needs ``grace_ewh`` (time, m) [m] and
        ``grace_time``.
    nan : {"raise", "zero"}
        NaN cells in a gridded prior raise (naming the dataset and the count) or become 0.

    Returns
    -------
    dict
        ``{"glacier", "lake", "hydrology"}`` -> :class:`PriorComponent`.
    """
    m = np.asarray(grid.lat).size
    out = {}
    # glacier
    if isinstance(glacier, PriorComponent):
        out["glacier"], glacier = glacier, "given"
    elif glacier == "auto":
        glacier = "grid" if dataset_exists("glacier_prior_grid", data_dir) else "shean"
    if glacier == "given":
        pass
    elif glacier == "grid":
        out["glacier"] = load_gridded_prior("glacier_prior_grid", data_dir, grid, "glacier", period, nan)
    elif glacier == "shean":
        rate, info = shean_rate_grid(data_dir, grid)
        out["glacier"] = PriorComponent(
            "glacier", None, rate_rms(rate, period), np.zeros((12, m)),
            source=f"shean2020_mass_balance: {info['file']} (+ rgi6_glacier_area)",
            substitute=("Shean et al. 2020 rates (2000.4-2018.4) on hexagons distributed by RGI 6.0 glacier "
                        "area; rate-only: sigma = |rate| std(t), seasonal second moment 0 (floor acts)"),
            rate=rate, attrs=info)
    elif glacier == "none":
        out["glacier"] = zero_component("glacier", m, "no glacier prior (floor acts)")
    else:
        raise ValueError(f"glacier must be 'auto', 'grid', 'shean' or 'none', not {glacier!r}")
    # lake
    if lake == "auto":
        lake = "grid" if dataset_exists("lake_storage", data_dir) else "none"
    if lake == "grid":
        out["lake"] = load_gridded_prior("lake_storage", data_dir, grid, "lake", period, nan)
    elif lake == "none":
        why = ("lake prior switched off (lake='none')" if dataset_exists("lake_storage", data_dir)
               else "no lake storage product offline")
        out["lake"] = zero_component("lake", m, f"{why}: zero variance, the floor acts")
    else:
        raise ValueError(f"lake must be 'auto', 'grid' or 'none', not {lake!r}")
    # hydrology
    if hydrology == "auto":
        hydrology = "model" if dataset_exists("hydrology_model", data_dir) else "grace"
    if hydrology == "model":
        out["hydrology"] = load_gridded_prior("hydrology_model", data_dir, grid, "hydrology", period, nan)
    elif hydrology == "grace":
        if grace_ewh is None or grace_time is None:
            raise ValueError("hydrology prior: 'hydrology_model' is absent; pass grace_ewh (time, m) [m] and "
                             "grace_time (filtered GRACE EWH at the mascon cells) or hydrology='none'")
        out["hydrology"] = hydrology_prior_from_grace(grace_ewh, grace_time, out["glacier"], period)
    elif hydrology == "none":
        out["hydrology"] = zero_component("hydrology", m, "no hydrology prior (floor acts)")
    else:
        raise ValueError(f"hydrology must be 'auto', 'model', 'grace' or 'none', not {hydrology!r}")
    return out


def load_soil_moisture(data_dir, grid, period=("2002-01", "2017-12"), reference=None):
    """GLDAS-like soil moisture on the mascon cells as an EWH anomaly [m] (METHODS.md §10.1).

    The whole series is regridded area-weighted, anomalised over ``reference`` (default: ``period``),
    and NaN (fill / glacier-masked) cells are set to 0.  Absent file: ``DatasetNotFoundError``
    (the caller decides).

    Returns
    -------
    xarray.DataArray (time, lat, lon) [m]
    """
    path = dataset_path("soil_moisture", data_dir)
    da, scale = _read_lwe(path, "soil_moisture")
    values = regrid_to_cells(da, grid, source=str(path)) * scale
    values = np.where(np.isfinite(values), values, 0.0)
    time = da["time"].values
    ref = reference or period
    t = pd.DatetimeIndex(time)
    sel = (t >= pd.Timestamp(ref[0])) & (t < pd.Timestamp(ref[1]) + pd.offsets.MonthBegin(1))
    if not sel.any():
        raise DataFileError(f"{path}: no epoch inside the reference period {ref}")
    values = values - values[sel].mean(axis=0)
    out = grid.to_dataarray(values, name="soil_moisture", units="m",
                            long_name="soil moisture EWH anomaly", extra_dims=("time",))
    return out.assign_coords(time=time)
