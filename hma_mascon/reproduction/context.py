"""The inputs every reproduced number shares: the paper's periods and groups, the regions, area
fractions, glacier area and GIA spread of a solution (:class:`Context`), and the truth dressed as a
solution (:func:`truth_as_solution`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from ..datadir import DatasetNotFoundError, is_synthetic
from ..geometry import MasconGrid, grid_of_solution
from ..inputs import gia_rates
from ..love_numbers import load_love_numbers
from ..glacier_regions import glacier_area_cells
from ..priors import load_soil_moisture
from ..regions import (
    area_fraction_weights,
    load_regions,
    regions_in_grid,
    regional_mass,
)
from ..synthetic import load_truth
from ..timeseries import decimal_year, fit_harmonic_trend

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

PRODUCTS = ("CSR-M", "JPL-M", "GSFC-M")
NO_PRODUCT = "the CSR/JPL/GSFC mascon grids are not in the offline data (paper's value only)"


@dataclass
class Context:
    """What every number needs besides the solution: grid, regions, weights, glacier area, GIA spread."""

    data_dir: str
    grid: MasconGrid
    regions: object  # GeoDataFrame
    weights: xr.DataArray  # (region, cell)
    glacier_area_km2: np.ndarray  # (cell,)
    gia_trends: xr.DataArray | None  # (model, region) Gt/yr of the glacier-trend change per GIA model
    synthetic: bool
    notes: list = field(default_factory=list)


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

    grid = grid_of_solution(sol)
    regions = load_regions(data_dir)
    # a solution on a sub-box (reduced problems) keeps the regions lying wholly inside its cells
    regions, left_out = regions_in_grid(regions, grid)
    notes = []
    if left_out:
        notes.append(f"regions outside the solution's box left out: {left_out}; "
                     "'HMA' is the sum of the remaining regions")
    if regions.empty:
        raise ValueError("no HiMAP region lies wholly inside the solution's box")
    weights = area_fraction_weights(regions, grid)
    nmax = int(sol.attrs.get("param_nmax", 96))
    return Context(str(data_dir), grid, regions, weights, glacier_area_cells(data_dir, grid),
                   gia_regional_trends(data_dir, grid, weights, nmax=nmax), is_synthetic(data_dir), notes)


def cell_values(sol, var="glacier_lwe_thickness") -> np.ndarray:
    """(time, m) EWH in metres from a cm variable."""
    if var not in sol:
        raise KeyError(f"the solution has no variable {var!r} (has {sorted(sol.data_vars)})")
    v = np.asarray(sol[var].transpose("time", "lat", "lon").values, float) / 100.0
    return v.reshape(v.shape[0], -1)


def soil_moisture_cells(sol, ctx: Context) -> np.ndarray | None:
    """The soil-moisture anomaly [m] on the solution's months and cells (time, m), referenced to the
    solution's months, or None when the data directory has no soil-moisture grid (the real mirror)."""
    months = np.asarray(sol["month"].values).astype(str) if "month" in sol.coords else None
    try:
        ref = (str(months[0]), str(months[-1])) if months is not None else None
        sm = load_soil_moisture(ctx.data_dir, ctx.grid, reference=ref)
    except DatasetNotFoundError:
        return None
    sm = sm.reindex(time=sol["time"].values, method="nearest", tolerance=np.timedelta64(20, "D"))
    return np.asarray(sm.transpose("time", "lat", "lon").values, float).reshape(sm.sizes["time"], -1)


def regional_glacier_mass(sol, ctx: Context, var="glacier_lwe_thickness") -> xr.DataArray:
    """Regional glacier mass M_R(t) [Gt] of the 16 HiMAP regions and their sum ``HMA`` (§10.3)."""

    return regional_mass(cell_values(sol, var), ctx.weights, ctx.grid, time=sol["time"].values)


def period_mask(time, period):
    tt = pd.DatetimeIndex(np.asarray(time))
    p0 = pd.Timestamp(period[0])
    p1 = pd.Timestamp(period[1]) + pd.offsets.MonthBegin(1)
    return np.asarray((tt >= p0) & (tt < p1))


def month_span(text):
    """'2003-2016' -> ('2003-01', '2016-12')."""
    a, b = text.split("-")
    return f"{a}-01", f"{b}-12"


def is_truncated(sol, period) -> bool:
    months = np.asarray(sol["month"].values).astype(str) if "month" in sol.coords else \
        pd.DatetimeIndex(sol["time"].values).strftime("%Y-%m").values
    months = sorted(str(m) for m in months)
    if period is None:  # the whole series
        return False
    return bool(period[0] < months[0] or period[1] > months[-1])


def trend_map(sol, var="glacier_lwe_thickness", period=None) -> np.ndarray:
    """Per-cell six-term trend [m/yr] over the available months of ``period`` (whole series if None)."""

    x = cell_values(sol, var)
    t = np.asarray(sol["decimal_year"].values, float) if "decimal_year" in sol.coords else \
        decimal_year(sol["time"].values)
    sel = np.ones(t.size, bool) if period is None else period_mask(sol["time"].values, period)
    sel &= np.isfinite(x).all(axis=1)
    return np.asarray(fit_harmonic_trend(t[sel], x[sel]).trend, float)


def label_time(sol) -> np.ndarray:
    """Decimal year of the middle of each solution's GRACE *month label* (``month`` coordinate).

    The mid-epochs of two GRACE months can fall in one calendar month (e.g. 2002-05/2002-06), so the
    monthly statistics (in situ, ablation) place each solution at its label, as GRACE products do.
    """
    if "month" not in sol.coords:
        return decimal_year(sol["time"].values)
    lab = pd.PeriodIndex(np.asarray(sol["month"].values).astype(str), freq="M")
    return lab.year.values + (lab.month.values - 1) / 12.0 + 1.0 / 24.0


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
