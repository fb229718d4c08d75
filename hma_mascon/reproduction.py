"""Every number of the paper computed from a solution Dataset (METHODS.md §10-§14; Tables II-IV, Figs. 5-11).

:func:`paper_numbers_from_solution` takes the CF Dataset of :func:`hma_mascon.pipeline.run_solution`
(``glacier_lwe_thickness`` (time, lat, lon) in cm, ``cell_area``, ``is_buffer``) and the data directory
it was computed from, and returns the ``ours`` dict that :func:`hma_mascon.paper.ledger` takes: ids of
``hma_mascon/data/paper_numbers.yml`` mapped to ``(value, reason)``.  The chapters 5-8 and 10 of the
book draw the intermediate tables returned by the other public functions.

Heavy lifting elsewhere: region polygons, area fractions and Gt sums (:mod:`hma_mascon.regions`,
shapely/pyproj), the six-term trend fit and its 95 % error (:mod:`hma_mascon.timeseries`,
:func:`hma_mascon.glacier.regional_trends`), the regression / in-situ / ablation statistics
(:mod:`hma_mascon.validation`), the GIA synthesis (:mod:`hma_mascon.gia`), the regridding and the
Shean et al. (2020) rates (:mod:`hma_mascon.priors`).  Written by hand here: only the book-keeping of
the paper -- which series, which period, which cells and which regions make each printed number:

* **Table II** [§10.4, AMB-13]: mascon glacier trends vs. ASTER trends in Gt/yr, 2002-2019, per HiMAP
  region (16 points) and per 0.5 deg cell with RGI glacier area > 0.  The ASTER reference is the
  gridded glacier series ``glacier_prior_grid`` (the synthetic world's ASTER-like stand-in for the
  Hugonnet et al. 2021 tiles) when the data directory holds it, else the Shean et al. (2020) rates,
  which are **rate-only and span 2000.4-2018.4**, not 2002-2019.
* **Table III** [§10.5, AMB-14]: Pearson r between the WGMS annual balances and the mascon glacier
  series of the cell containing the glacier (option: 3x3 mean), over the balance years of the paper's
  period that the series cover, with n.
* **Trends** [§10.2-§10.3]: regional glacier trends with 1.96 sqrt(sigma_fit^2 + sigma_GIA^2), sigma_GIA
  the spread of the three GIA models on the same regional aggregate; the HMA total is the sum over the
  16 regions; maximum cell losses of the Himalaya (W/C/E Himalaya), Nyainqentanglha and Tien Shan
  (Central, Northern/Western and Eastern Tien Shan) cells, a cell belonging to the region holding most
  of its area.
* **Table IV** [§11]: each study period computed over the GRACE-available months inside it; a period
  reaching outside the solution (e.g. Shean 2000-2018 starts before 2002-04) is flagged ``truncated``.
* **Ablation** [§10.6, AMB-15]: per region over 2003-2022 with the trend kept; total and range.

In the synthetic world :func:`truth_as_solution` dresses the known truth as a solution Dataset, so the
same functions give the truth's value of every number (the closed loop of chapter 10).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from . import datadir
from .constants import RHO_WATER
from .datadir import DatasetNotFoundError, dataset_path
from .glacier import regional_trends
from .inputs import gia_rates
from .love_numbers import load_love_numbers
from .paper import ledger, paper_numbers
from .priors import load_soil_moisture, regrid_to_cells, shean_rate_grid
from .regions import (
    area_fraction_weights,
    load_regions,
    load_wgms_balances,
    load_wgms_stations,
    point_cell_index,
    regional_mass,
)
from .synthetic import load_truth
from .timeseries import fit_harmonic_trend
from .validation import (
    ablation,
    aster_regression,
    detrend_linear,
    insitu_correlation,
    smooth_interannual,
)

__all__ = [
    "SolutionGrid", "Context", "prepare", "regional_glacier_mass", "gia_regional_trends",
    "aster_reference", "table2", "table3", "insitu_curves", "regional_trend_table", "max_cell_trends",
    "table4", "ablation_table", "paper_numbers_from_solution", "truth_as_solution", "ledger_table",
    "TABLE3_PERIODS", "TABLE4_LITERATURE", "MAX_CELL_GROUPS", "PAPER_PERIOD",
    "table2_comparison", "table3_comparison", "paper_numbers_table", "regional_comparison", "regional_damping",
    "read_committed_ledgers", "committed_ledger_comparison", "soil_moisture_trend_table",
]

#: Study period of the paper's solution (Sec. II): first and last GRACE month.
PAPER_PERIOD = ("2002-04", "2023-08")

#: Table II period (Sec. IV-A): mascon and ASTER trends over 2002-2019.
TABLE2_PERIOD = ("2002-01", "2019-12")

#: Table III: balance years (calendar year of the balance-year end) of each WGMS glacier.
TABLE3_PERIODS = {"YALA": (2012, 2022), "TS": (2006, 2022), "AKSHIYRAK": (2011, 2022), "ABRAMOV": (2012, 2022)}

#: Table IV literature values (Gt/yr; error None when the study quotes none), METHODS.md §14.
TABLE4_LITERATURE = {
    "Loomis": ("2003-2016", -23.6, 5.5), "Ciraci": ("2002-2019", -28.8, 12.0),
    "Matsuo & Heki": ("2003-2009", -47.0, None), "Jacob": ("2003-2010", -4.0, 20.0),
    "Schrama": ("2003-2013", -16.5, 3.8), "Wouters": ("2003-2016", -17.7, 11.3),
    "Liu": ("2010-2019", -27.3, 3.1), "Wang": ("2003-2019", -28.0, 6.0),
    "Gardner": ("2003-2009", -26.0, 12.0), "Shean": ("2000-2018", -19.0, 2.5),
    "Li": ("2000-2019", -21.10, 2.5), "Jakob": ("2010-2019", -28.0, 3.0),
    "Fan": ("2000-2021", -17.53, 11.36), "Zemp": ("2006-2016", -13.0, 12.0),
}

#: Groups of HiMAP regions of the maximum cell trends (Sec. V-A).
MAX_CELL_GROUPS = {
    "Himalaya": ("Western Himalaya", "Central Himalaya", "Eastern Himalaya"),
    "Nyainqentanglha": ("Nyainqentanglha",),
    "Tien Shan": ("Central Tien Shan", "Northern/Western Tien Shan", "Eastern Tien Shan"),
}

#: Ablation years (Sec. V-C).
ABLATION_YEARS = (2003, 2022)

_PRODUCTS = ("CSR-M", "JPL-M", "GSFC-M")
_NO_PRODUCT = "the CSR/JPL/GSFC mascon grids are not in the offline data (paper's value only)"


# --------------------------------------------------------------------------------------------- grid
class SolutionGrid:
    """The mascon grid of a solution Dataset, with the attributes :mod:`regions` and :mod:`priors` use.

    Attributes
    ----------
    lat, lon : ndarray (m,)
        Cell centres [deg], row-major over ``(lat, lon)``.
    lat_axis, lon_axis : ndarray
    area : ndarray (m,)
        ``cell_area`` [m2] of the solution (the S_j of the design matrix).
    is_buffer : ndarray of bool (m,)
    shape : (int, int)
    resolution : float [deg]
    """

    def __init__(self, sol: xr.Dataset):
        self.lat_axis = np.asarray(sol["lat"].values, float)
        self.lon_axis = np.asarray(sol["lon"].values, float)
        self.shape = (self.lat_axis.size, self.lon_axis.size)
        lat2, lon2 = np.meshgrid(self.lat_axis, self.lon_axis, indexing="ij")
        self.lat, self.lon = lat2.ravel(), lon2.ravel()
        self.area = np.asarray(sol["cell_area"].transpose("lat", "lon").values, float).ravel()
        buf = sol["is_buffer"].transpose("lat", "lon").values if "is_buffer" in sol else np.zeros(self.shape)
        self.is_buffer = np.asarray(buf, bool).ravel()
        self.resolution = float(np.min(np.diff(self.lat_axis))) if self.lat_axis.size > 1 else 0.5
        self.size = self.lat.size

    def from_dataarray(self, da) -> np.ndarray:
        """(..., lat, lon) DataArray -> (..., m) array."""
        v = np.asarray(da.transpose(..., "lat", "lon").values, float)
        return v.reshape(v.shape[:-2] + (-1,))

    def to_dataarray(self, values, name, units, long_name, extra_dims=()) -> xr.DataArray:
        """(..., m) -> (..., lat, lon) DataArray with CF attributes (leading axes named by ``extra_dims``,
        as :meth:`hma_mascon.geometry.MasconGrid.to_dataarray`)."""
        v = np.asarray(values, float)
        lead = v.shape[:-1]
        if len(extra_dims) != len(lead):
            raise ValueError(f"extra_dims {extra_dims} does not name the leading axes of shape {lead}")
        return xr.DataArray(v.reshape(lead + self.shape), dims=tuple(extra_dims) + ("lat", "lon"),
                            coords={"lat": self.lat_axis, "lon": self.lon_axis}, name=name,
                            attrs={"units": units, "long_name": long_name})


@dataclass
class Context:
    """What every number needs besides the solution: grid, regions, weights, glacier area, GIA spread."""

    data_dir: str
    grid: SolutionGrid
    regions: object  # GeoDataFrame
    weights: xr.DataArray  # (region, cell)
    glacier_area_km2: np.ndarray  # (cell,)
    gia_trends: xr.DataArray | None  # (model, region) Gt/yr of the glacier-trend change per GIA model
    synthetic: bool
    notes: list = field(default_factory=list)


def _is_synthetic(data_dir) -> bool:

    return (Path(data_dir) / "truth" / "truth.nc").is_file()


def _glacier_area(data_dir, grid) -> np.ndarray:

    path = datadir.dataset_files("rgi6_glacier_area", data_dir, match="rgi6_glacier_area_0.5deg.nc")[0]
    with xr.open_dataset(path) as ds:
        var = "Area" if "Area" in ds else list(ds.data_vars)[0]
        da = _crop(ds[var], grid).load()
    return np.nan_to_num(regrid_to_cells(da, grid, extensive=True, source=str(path)))


def _crop(da, grid, margin=1.0):
    """Cut a global lat/lon grid to the mascon box plus ``margin`` degrees (regridding cost)."""
    latn = next(n for n in ("lat", "latitude", "y") if n in da.dims)
    lonn = next(n for n in ("lon", "longitude", "x") if n in da.dims)
    da = da.sortby(latn).sortby(lonn)
    return da.sel({latn: slice(grid.lat.min() - margin, grid.lat.max() + margin),
                   lonn: slice(grid.lon.min() - margin, grid.lon.max() + margin)})


def gia_regional_trends(data_dir, grid, weights, nmax=96) -> xr.DataArray | None:
    """Change of the regional glacier trend under each GIA model [Gt/yr] (METHODS.md §10.2 item 3).

    The glacier signal subtracts the GIA EWH rate, so model k changes the regional trend by
    -sum_j w_Rj rho_w S_j xdot_k,j / 1e12.  Only the spread (ddof = 1) over the models enters the error.

    Returns
    -------
    xarray.DataArray (model, region) or None when fewer than two GIA models are present.
    """

    rates = gia_rates(data_dir, grid, load_love_numbers(nmax), nmax)
    rows = [regional_mass(-rate, weights, grid).values for rate in rates.values()]
    names = list(rates)
    if len(rows) < 2:
        return None
    regions = list(weights["region"].values) + ["HMA"]
    return xr.DataArray(np.array(rows), dims=("model", "region"), coords={"model": names, "region": regions},
                        attrs={"units": "Gt yr-1", "long_name": "regional glacier-trend change per GIA model"})


def prepare(sol: xr.Dataset, data_dir) -> Context:
    """Load the regions, area fractions, glacier area and GIA spread once for a solution.

    Parameters
    ----------
    sol : xarray.Dataset
        From :func:`hma_mascon.pipeline.run_solution` (or :func:`truth_as_solution`).
    data_dir : path-like
        The data directory the solution was computed from.
    """

    grid = SolutionGrid(sol)
    regions = load_regions(data_dir)
    # a solution on a sub-box (reduced problems) keeps the regions lying wholly inside its cells
    half = grid.resolution / 2
    b = regions.geometry.bounds
    inside = ((b["minx"] >= grid.lon.min() - half) & (b["maxx"] <= grid.lon.max() + half)
              & (b["miny"] >= grid.lat.min() - half) & (b["maxy"] <= grid.lat.max() + half))
    notes = []
    if not inside.all():
        notes.append(f"regions outside the solution's box left out: {list(regions.loc[~inside, 'region'])}; "
                     "'HMA' is the sum of the remaining regions")
    if not inside.any():
        raise ValueError("no HiMAP region lies wholly inside the solution's box")
    regions = regions[inside].reset_index(drop=True)
    weights = area_fraction_weights(regions, grid)
    nmax = int(sol.attrs.get("param_nmax", 96))
    return Context(str(data_dir), grid, regions, weights, _glacier_area(data_dir, grid),
                   gia_regional_trends(data_dir, grid, weights, nmax=nmax), _is_synthetic(data_dir), notes)


def _cells(sol, var="glacier_lwe_thickness") -> np.ndarray:
    """(time, m) EWH in metres from a cm variable."""
    if var not in sol:
        raise KeyError(f"the solution has no variable {var!r} (has {sorted(sol.data_vars)})")
    v = np.asarray(sol[var].transpose("time", "lat", "lon").values, float) / 100.0
    return v.reshape(v.shape[0], -1)


def regional_glacier_mass(sol, ctx: Context, var="glacier_lwe_thickness") -> xr.DataArray:
    """Regional glacier mass M_R(t) [Gt] of the 16 HiMAP regions and their sum ``HMA`` (§10.3)."""

    return regional_mass(_cells(sol, var), ctx.weights, ctx.grid, time=sol["time"].values)


def _period_mask(time, period):
    tt = pd.DatetimeIndex(np.asarray(time))
    p0 = pd.Timestamp(period[0])
    p1 = pd.Timestamp(period[1]) + pd.offsets.MonthBegin(1)
    return np.asarray((tt >= p0) & (tt < p1))


def _month_span(text):
    """'2003-2016' -> ('2003-01', '2016-12')."""
    a, b = text.split("-")
    return f"{a}-01", f"{b}-12"


def _truncated(sol, period) -> bool:
    months = np.asarray(sol["month"].values).astype(str) if "month" in sol.coords else \
        pd.DatetimeIndex(sol["time"].values).strftime("%Y-%m").values
    months = sorted(str(m) for m in months)
    return bool(period[0] < months[0] or period[1] > months[-1])


# -------------------------------------------------------------------------------------------- trends
def regional_trend_table(sol, ctx: Context, period=PAPER_PERIOD, var="glacier_lwe_thickness") -> pd.DataFrame:
    """Trend and 95 % error [Gt/yr] per region and for HMA over the available months of ``period``.

    Returns
    -------
    pandas.DataFrame
        :func:`hma_mascon.glacier.regional_trends` columns plus ``number`` (HiMAP number, 0 for HMA)
        and ``truncated`` (the period reaches outside the solution's months, §11).
    """

    mass = regional_glacier_mass(sol, ctx, var)
    df = regional_trends(mass, sol["time"].values, gia_mass_trends_by_model=ctx.gia_trends, period=period)
    numbers = dict(zip(ctx.regions["region"], ctx.regions["number"]))
    df["number"] = [int(numbers.get(r, 0)) for r in df.index]
    df["truncated"] = _truncated(sol, period)
    damp = regional_damping(sol, ctx)
    if damp is not None:
        df = df.join(damp)
        df["error95_with_damping"] = np.hypot(df["error95"], df["damping"])
    return df


def regional_damping(sol, ctx: Context) -> pd.DataFrame | None:
    """Regularization damping of a glacier trend shaped like the glacier prior, per region [Gt/yr].

    The solution's ``glacier_prior_trend`` (the prior's trend, the probe) and
    ``glacier_prior_trend_recovered`` (what the two-step solve returns for it, noise-free:
    :func:`hma_mascon.estimator.trend_recovery`) are summed per region like the mass (§10.3).

    Returns
    -------
    pandas.DataFrame or None
        Index region; ``probe_trend`` and ``probe_recovered`` [Gt/yr], ``damping`` = recovered -
        probe (the expected bias of our trend if the truth were shaped like the prior; a systematic
        error that the fit and GIA terms do not contain), ``gain`` = probe / recovered (the scaling
        factor of Landerer & Swenson 2012, NaN where the recovery is below 10 % or the probe is
        below 0.01 Gt/yr). None when the solution carries no probe.
    """

    if "glacier_prior_trend_recovered" not in sol:
        return None
    probe = np.asarray(sol["glacier_prior_trend"].transpose("lat", "lon").values, float).ravel() / 100.0
    rec = np.asarray(sol["glacier_prior_trend_recovered"].transpose("lat", "lon").values, float).ravel() / 100.0
    m = regional_mass(np.vstack([probe, rec]), ctx.weights, ctx.grid)
    p, r = np.asarray(m.values[0], float), np.asarray(m.values[1], float)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where((np.abs(p) >= 0.01) & (r / np.where(p == 0, np.nan, p) > 0.1), p / r, np.nan)
    return pd.DataFrame({"probe_trend": p, "probe_recovered": r, "damping": r - p, "gain": gain},
                        index=pd.Index(m["region"].values, name="region"))


def _trend_map(sol, var="glacier_lwe_thickness", period=None) -> np.ndarray:
    """Per-cell six-term trend [m/yr] over the available months of ``period`` (whole series if None)."""

    x = _cells(sol, var)
    t = np.asarray(sol["decimal_year"].values, float) if "decimal_year" in sol.coords else \
        _decimal_year(sol["time"].values)
    sel = np.ones(t.size, bool) if period is None else _period_mask(sol["time"].values, period)
    sel &= np.isfinite(x).all(axis=1)
    return np.asarray(fit_harmonic_trend(t[sel], x[sel]).trend, float)


def _label_time(sol) -> np.ndarray:
    """Decimal year of the middle of each solution's GRACE *month label* (``month`` coordinate).

    The mid-epochs of two GRACE months can fall in one calendar month (e.g. 2002-05/2002-06), so the
    monthly statistics (in situ, ablation) place each solution at its label, as GRACE products do.
    """
    if "month" not in sol.coords:
        return _decimal_year(sol["time"].values)
    lab = pd.PeriodIndex(np.asarray(sol["month"].values).astype(str), freq="M")
    return lab.year.values + (lab.month.values - 1) / 12.0 + 1.0 / 24.0


def _decimal_year(time):
    idx = pd.DatetimeIndex(np.asarray(time))
    start = pd.to_datetime(idx.year.astype(str) + "-01-01")
    end = pd.to_datetime((idx.year + 1).astype(str) + "-01-01")
    return idx.year.values + ((idx - start) / (end - start)).values


def max_cell_trends(sol, ctx: Context, var="glacier_lwe_thickness", period=PAPER_PERIOD) -> pd.DataFrame:
    """Largest cell loss [cm/yr] of each group of :data:`MAX_CELL_GROUPS` (Sec. V-A, Fig. 8).

    A cell belongs to the region holding the largest fraction of its area (at least one half) and
    counts only if it holds glacier (RGI area > 0, as for the per-cell regression [AMB-13]): the
    glacier signal still contains lake and groundwater trends (only soil moisture and GIA are
    removed, §10.1), which would otherwise win in glacier-free cells.

    Returns
    -------
    pandas.DataFrame
        Index group; columns ``trend_cm_yr`` (the minimum of the glacier trend map), ``lat``, ``lon``,
        ``region``, ``n_cells``.
    """
    trend = 100.0 * _trend_map(sol, var, period)
    w = np.asarray(ctx.weights.values)
    names = np.asarray(ctx.weights["region"].values).astype(str)
    owner = np.where((w.max(axis=0) >= 0.5) & (ctx.glacier_area_km2 > 0), w.argmax(axis=0), -1)
    rows = []
    for group, members in MAX_CELL_GROUPS.items():
        idx = [k for k, n in enumerate(names) if n in members]
        cells = np.flatnonzero(np.isin(owner, idx) & np.isfinite(trend))
        if cells.size == 0:
            rows.append({"group": group, "trend_cm_yr": np.nan, "lat": np.nan, "lon": np.nan, "region": "",
                         "n_cells": 0})
            continue
        j = cells[np.argmin(trend[cells])]
        rows.append({"group": group, "trend_cm_yr": float(trend[j]), "lat": float(ctx.grid.lat[j]),
                     "lon": float(ctx.grid.lon[j]), "region": names[owner[j]], "n_cells": int(cells.size)})
    return pd.DataFrame(rows).set_index("group")


def table4(sol, ctx: Context, var="glacier_lwe_thickness") -> pd.DataFrame:
    """Table IV: HMA glacier trend over each study's period, available months only (§11).

    Returns
    -------
    pandas.DataFrame
        Index study; columns ``period``, ``literature``, ``literature_error``, ``paper_ours``,
        ``paper_ours_error`` (the paper's "Our results"), ``ours``, ``ours_error95`` [Gt/yr],
        ``n_months``, ``start``, ``end`` (months used), ``truncated``.
    """

    ref = paper_numbers()
    mass = regional_glacier_mass(sol, ctx, var).sel(region=["HMA"])
    gia = None if ctx.gia_trends is None else ctx.gia_trends.sel(region=["HMA"])
    rows = []
    for study, (span, lit, lit_err) in TABLE4_LITERATURE.items():
        period = _month_span(span)
        qid = f"table4.{study}.{span}"
        row = {"study": study, "period": span, "literature": lit, "literature_error": lit_err,
               "paper_ours": ref.loc[qid, "value"], "paper_ours_error": ref.loc[qid, "tolerance"]}
        sel = _period_mask(sol["time"].values, period) & np.isfinite(mass.values[:, 0])
        if sel.sum() < 12:
            row.update(ours=np.nan, ours_error95=np.nan, n_months=int(sel.sum()), start="", end="",
                       truncated=True)
        else:
            df = regional_trends(mass, sol["time"].values, gia_mass_trends_by_model=gia, period=period)
            r = df.loc["HMA"]
            row.update(ours=r.trend, ours_error95=r.error95, n_months=int(r.n_months), start=r.start,
                       end=r.end, truncated=_truncated(sol, period))
        rows.append(row)
    return pd.DataFrame(rows).set_index("study")


# --------------------------------------------------------------------------------------------- ASTER
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
            da = _crop(ds["lwe_thickness"], ctx.grid).load()
        scale = {"cm": 0.01, "mm": 0.001, "m": 1.0}[str(da.attrs.get("units", "cm")).strip().lower()]
        da = da.isel(time=_period_mask(da["time"].values, period))
        t = _decimal_year(da["time"].values)
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
    mascon = _trend_map(sol, var, period)
    to_gt = RHO_WATER * ctx.grid.area / 1e12
    w = np.asarray(ctx.weights.values)
    reg_x, reg_y = w @ (aster * to_gt), w @ (mascon * to_gt)
    sel = (ctx.glacier_area_km2 > 0) & ~ctx.grid.is_buffer
    cell_x, cell_y = aster * to_gt, mascon * to_gt
    used = _period_mask(sol["time"].values, period)
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


# ------------------------------------------------------------------------------------------- in situ
def _station_cells(ctx, lat, lon, neighbourhood):

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
    x = _cells(sol, var)
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
        series = x[:, _station_cells(ctx, st.lat, st.lon, neighbourhood)].mean(axis=1)
        row = {"label": label, "name": name, "lat": st.lat, "lon": st.lon,
               "paper_period": f"{years[0]}-{years[1]}" if years else "",
               "paper_r": ref.loc[f"table3.{label}.this_study.r", "value"]
               if f"table3.{label}.this_study.r" in ref.index else np.nan}
        try:
            res = insitu_correlation(series, _label_time(sol), bal["balance_m_we"].values, bal["end"].values,
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
    series = _cells(sol, var)[:, _station_cells(ctx, st.lat, st.lon, neighbourhood)].mean(axis=1)
    s, tdec = smooth_interannual(series, _label_time(sol))
    bal = load_wgms_balances(ctx.data_dir, label, balance_year_end=balance_year_end)
    years = TABLE3_PERIODS.get(label, (-9999, 9999))
    bal = bal[(bal.index >= years[0]) & (bal.index <= years[1])]
    tend = _decimal_year(bal["end"].values)
    cum = detrend_linear(tend, np.cumsum(bal["balance_m_we"].values)) if len(bal) >= 2 else np.full(len(bal), np.nan)
    return {"mascon": pd.Series(100 * s, index=tdec, name="mascon [cm]"),
            "insitu": pd.Series(cum, index=tend, name="in situ [m w.e.]")}


# ------------------------------------------------------------------------------------------ ablation
def ablation_table(sol, ctx: Context, var="glacier_lwe_thickness", years=ABLATION_YEARS, detrend=False):
    """Fig. 11: ablation period and amount per region [Gt] (§10.6, AMB-15: trend kept by default).

    Returns
    -------
    xarray.Dataset
        :func:`hma_mascon.validation.ablation` over the 16 regions and HMA (attribute ``total``: sum
        over the 16 regions).
    """

    mass = regional_glacier_mass(sol, ctx, var)
    return ablation(mass, _label_time(sol), detrend=detrend, years=years)


# ------------------------------------------------------------------------------------------- ledger
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
    ours = {qid: (np.nan, _NO_PRODUCT) for qid in ref.index if any(f".{p}." in qid + "." for p in _PRODUCTS)}

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


def truth_as_solution(data_dir, sol: xr.Dataset) -> xr.Dataset:
    """The synthetic truth on the solution's months, dressed as a solution Dataset (cm).

    ``glacier_lwe_thickness`` is the truth's glacier component and ``lwe_thickness`` its total, both
    on the solution's months (matched by GRACE month label) and grid, so every function of this module
    gives the truth's value of each number.

    Raises
    ------
    FileNotFoundError
        If ``data_dir`` holds no ``truth/truth.nc`` (a real data directory).
    """

    truth = load_truth(data_dir)
    tm = list(np.asarray(truth["month"].values).astype(str))
    months = np.asarray(sol["month"].values).astype(str)
    missing = [m for m in months if m not in tm]
    if missing:
        raise ValueError(f"{data_dir}/truth/truth.nc: months {missing[:3]} of the solution are not in the truth")
    idx = [tm.index(m) for m in months]
    tr = truth.isel(time=idx).sel(lat=sol["lat"], lon=sol["lon"], method="nearest")
    out = xr.Dataset(
        {"glacier_lwe_thickness": (("time", "lat", "lon"), tr["glacier"].values.astype(float),
                                   {"units": "cm", "long_name": "truth glacier EWH"}),
         "lwe_thickness": (("time", "lat", "lon"), tr["lwe_thickness"].values.astype(float),
                           {"units": "cm", "long_name": "truth total EWH"}),
         "cell_area": sol["cell_area"]},
        coords={"time": sol["time"].values, "lat": sol["lat"].values, "lon": sol["lon"].values,
                "month": ("time", months),
                "decimal_year": ("time", np.asarray(sol["decimal_year"].values, float))},
        attrs={"title": "synthetic truth as a solution", **{k: v for k, v in sol.attrs.items()
                                                             if k.startswith("param_")}})
    if "is_buffer" in sol:
        out["is_buffer"] = sol["is_buffer"]
    return out


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


def ids_by_section(ids) -> dict:
    """Group ledger ids by their first component (``table2``, ``trend``, ...), keeping the order."""
    out = {}
    for q in ids:
        out.setdefault(re.split(r"\.", q, maxsplit=1)[0], []).append(q)
    return out


# ------------------------------------------------------------------------------------ book helpers
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
    (expected bias of a prior-shaped trend), ``error95_with_damping`` and ``gain_scaled``
    (trend x gain, the trend a prior-shaped truth would have; NaN where the gain is undefined).
    """
    ref = paper_numbers_table("trend.")
    cols = ["number", "trend", "error95", "sigma_fit", "sigma_gia"]
    if "damping" in tr:
        cols += ["damping", "error95_with_damping", "gain"]
    out = tr[cols + ["n_months", "start", "end"]].copy()
    if "gain" in out:
        out.insert(out.columns.get_loc("gain") + 1, "gain_scaled", out["trend"] * out["gain"])
    out["paper"] = [ref.get(f"trend.region.{r}", ref.get("trend.HMA.this_study") if r == "HMA" else np.nan)
                    for r in out.index]
    if tr_truth is not None:
        out["truth"] = tr_truth["trend"].reindex(out.index)
    return out


# ------------------------------------------------------------------------------ committed ledgers
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


# ------------------------------------------------------------------------------ soil moisture
def soil_moisture_trend_table(sol, ctx: Context, period=PAPER_PERIOD) -> pd.DataFrame | None:
    """Regional trend [Gt/yr] of the soil-moisture product over the solution's months: what the
    glacier trend would carry if soil moisture were not removed (§10.1).

    The real mirror has no GLDAS grid, so on real data it is not removed and this returns None;
    in the synthetic world the GLDAS-like stand-in gives the size of that omission.
    """

    months = np.asarray(sol["month"].values).astype(str) if "month" in sol.coords else None
    try:
        ref = (str(months[0]), str(months[-1])) if months is not None else None
        sm = load_soil_moisture(ctx.data_dir, ctx.grid, reference=ref)
    except DatasetNotFoundError:
        return None
    sm = sm.reindex(time=sol["time"].values, method="nearest", tolerance=np.timedelta64(20, "D"))
    x = np.asarray(sm.transpose("time", "lat", "lon").values, float).reshape(sm.sizes["time"], -1)
    ok = np.all(np.isfinite(x), axis=1)
    mass = regional_mass(x[ok], ctx.weights, ctx.grid, time=sol["time"].values[ok])
    df = regional_trends(mass, sol["time"].values[ok], period=period)
    return df[["trend", "error95", "n_months"]].rename(columns={"trend": "soil_moisture_trend",
                                                              "error95": "soil_moisture_error95"})
