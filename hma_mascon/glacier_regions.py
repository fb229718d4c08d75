"""Glacier regions beyond High Mountain Asia (issue 14): the region table and the Hugonnet et al. (2021) rates.

The paper ends by proposing its flowchart for other mountain-glacier regions. A region here is a named
set of parameter values (:data:`REGIONS`, applied by :func:`hma_mascon.params.resolve` under the
preset and under the user's own values) plus the RGI 6.0 first-order regions whose glaciers it
sums. What stands in for the paper's products off the offline mirror, for a region other than HMA:

* **Glacier prior** (the paper: Hugonnet et al. 2021 0.5° tiles, monthly): rate-only, from the regional
  specific rate of :data:`PRIOR_PERIOD` in ``hugonnet2021_regional`` (Σ dm/dt over the region's RGI
  codes divided by Σ area), spread on the RGI 6.0 glacier area of every cell
  (:func:`hugonnet_rate_grid`): a uniform specific mass balance inside the region, so every glacier
  cell loses in proportion to its glacier area. The prior variance is then σ = |rate| std(t), as for
  the Shean substitute in HMA (METHODS.md §7).
* **Hydrology prior** (the paper: WaterGAP): filtered GRACE minus the glacier prior
  (:func:`hma_mascon.priors.hydrology_prior_from_grace`), as in HMA on the real mirror.
* **Lake prior**: none (no lake product offline); **GIA**: the three global models, their spread in
  the errors; **buffer ring**: 5° of mascons, excluded from every sum, and the closed kernel (the
  small-box rules of :func:`hma_mascon.pipeline.warn_small_box`: every new box is narrower than 15°).
* **Sea next to the glaciers** (``sea_hydrology="none"``): filtered GRACE smears the glacier loss
  over the coastal sea, so a GRACE-derived hydrology prior gives the sea cells the variance of the
  glaciers' own signal and the solve books part of the loss there. The regions set the hydrology
  variance of the sea cells (GLOBE land mask, :func:`hma_mascon.product.land_mask`) to zero: the
  floor of METHODS.md §7 acts, as for any cell without a prior. HMA keeps ``prior`` (its 23 sea
  cells are buffer cells of the Arabian Sea and the Bay of Bengal, far from its glaciers).
* **Region outline** (no RGI O1 polygons offline): the region's glacier sum is over the cells of
  its box (buffer excluded) that hold RGI 6.0 glacier area (:func:`glacier_cells`).
  :func:`box_area_table` compares that area with the RGI total the Hugonnet table implies.

Written by hand: the table and the arithmetic of the uniform specific rate (no library holds either).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from .datadir import dataset_files, dataset_path
from .errors import InputError
from .priors import PriorComponent, rate_rms
from .regrid import crop_to_grid, regrid_to_cells

__all__ = ["GlacierRegion", "REGIONS", "PRIOR_PERIOD", "HUGONNET_PERIODS", "read_hugonnet", "hugonnet_rates",
           "hugonnet_rate_grid", "hugonnet_prior", "glacier_area_cells",
           "glacier_cell_weights"]

#: Hugonnet period whose specific rate makes the rate-only glacier prior (it spans the prior period
#: 2002-2017 of METHODS.md §7; the 2006-2019 rate is one of the validation periods).
PRIOR_PERIOD = "2000-01-01_2020-01-01"
#: The Hugonnet periods, as (label, first month, last month) of the GRACE months compared with them.
HUGONNET_PERIODS = {
    "2000-01-01_2020-01-01": ("2000-2020 (GRACE from 2002-04)", "2002-04", "2019-12"),
    "2006-01-01_2019-01-01": ("2006-2019", "2006-01", "2018-12"),
    "2010-01-01_2020-01-01": ("2010-2020", "2010-01", "2019-12"),
}

#: Parameter values of a region small or narrow enough for the small-box rules of
#: :func:`hma_mascon.pipeline.warn_small_box` (5° buffer; the closed kernel, whose ringing is smaller).
_SMALL_BOX = {"mascon_buffer_deg": 5.0, "kernel": "closed"}
#: What the regions whose glaciers meet the sea set: no GRACE-derived hydrology variance on sea cells.
_COAST = {"sea_hydrology": "none"}


@dataclass(frozen=True)
class GlacierRegion:
    """A glacier region: its RGI 6.0 first-order codes and the parameter values it sets."""

    name: str
    title: str
    rgi: tuple
    values: dict = field(default_factory=dict)
    why: str = ""
    #: what the region's glacier mass sums: "glacier cells" (the box's cells with RGI glacier area,
    #: buffer excluded) or "himap" (the paper's 16 HiMAP region polygons, chapter 7; HMA only)
    glacier_sum: str = "glacier cells"


REGIONS: dict[str, GlacierRegion] = {
    r.name: r for r in (
        GlacierRegion("hma", "High Mountain Asia", (13, 14, 15), {},
                      "the paper's region: the default box, priors and HiMAP regions", glacier_sum="himap"),
        GlacierRegion("alaska", "Alaska", (1,), {"box": (-168.0, -130.0, 54.0, 66.0), "prior_glacier": "hugonnet",
                                                 **_SMALL_BOX, **_COAST},
                      "the region the paper names; the largest glacier loss outside the ice sheets "
                      "(Hugonnet 2000-2020: -66.6 Gt/yr), next to the sea, with large GIA"),
        GlacierRegion("southern_andes", "Southern Andes", (17,),
                      {"box": (-78.0, -66.0, -56.0, -40.0), "prior_glacier": "hugonnet", **_SMALL_BOX, **_COAST},
                      "the Patagonian icefields: a strong signal (-20.7 Gt/yr) on a narrow strip between "
                      "two oceans, in the southern hemisphere, with a GIA that the global models disagree on"),
        GlacierRegion("svalbard", "Svalbard", (7,),
                      {"box": (8.0, 36.0, 76.0, 81.0), "prior_glacier": "hugonnet", **_SMALL_BOX, **_COAST,
                       # the box is 556 km across: the small-box rule (5 correlation lengths) allows 100 km,
                       # not the default's 150 (set by the rule, before any comparison with Hugonnet)
                       "prior_correlation_km": 100.0,
                       # the buffer reaches west to Greenland's north-east margin (the 79N glacier and
                       # Zachariae Isstrom, 20-25 W), whose loss leaked onto Svalbard's cells: chosen after
                       # the comparison, with the data-only check (chapter 11) behind it
                       "buffer_extent": (-25.0, 36.0, 76.0, 81.0)},
                      "an archipelago at 78 N: a moderate signal (-10.5 Gt/yr) surrounded by sea, 500 km from "
                      "Greenland, whose north-east margin the buffer holds (the Canadian Arctic was left out: "
                      "Greenland's ice-sheet loss lies within 100 km of Ellesmere Island)"),
    )
}


def read_hugonnet(data_dir) -> pd.DataFrame:
    """The Hugonnet et al. (2021) regional table (``hugonnet2021_regional``), checked.

    Returns
    -------
    pandas.DataFrame
        Columns ``reg``, ``period``, ``dmdt`` and ``err_dmdt`` [Gt/yr], ``dmdtda`` and ``err_dmdtda``
        [kg m-2 yr-1] (the file's), plus ``area_km2`` = dmdt / dmdtda (the RGI area the table used).
    """
    path = dataset_path("hugonnet2021_regional", data_dir)
    df = pd.read_csv(path)
    need = {"reg", "period", "dmdt", "err_dmdt", "dmdtda", "err_dmdtda"}
    if not need <= set(df.columns):
        raise InputError(f"{path}: missing columns {sorted(need - set(df.columns))}")
    df["area_km2"] = df["dmdt"] / df["dmdtda"] * 1e6  # Gt/yr / (kg m-2 yr-1) = 1e12 m2 -> km2
    return df


def hugonnet_rates(data_dir, rgi) -> pd.DataFrame:
    """Hugonnet rates of the union of RGI regions ``rgi``, one row per period.

    Returns
    -------
    pandas.DataFrame
        Index ``period``; ``dmdt`` [Gt/yr] (sum), ``err_dmdt`` [Gt/yr] (quadrature sum, the regions'
        errors taken as independent), ``area_km2`` (sum) and ``dmdtda`` [kg m-2 yr-1] (Σ dmdt / Σ area).
    """
    df = read_hugonnet(data_dir)
    codes = [int(r) for r in rgi]
    sub = df[df["reg"].isin(codes)]
    missing = sorted(set(codes) - set(sub["reg"]))
    if missing:
        raise InputError(f"{dataset_path('hugonnet2021_regional', data_dir)}: no rows for RGI region(s) {missing}")
    out = sub.groupby("period").agg(dmdt=("dmdt", "sum"), err_dmdt=("err_dmdt", lambda e: float(np.sqrt(np.sum(e**2)))),
                                    area_km2=("area_km2", "sum"), n=("reg", "size"))
    if (out["n"] != len(codes)).any():
        raise InputError(f"hugonnet2021_regional: a period lacks one of the RGI regions {codes}")
    out["dmdtda"] = out["dmdt"] / out["area_km2"] * 1e6
    return out.drop(columns="n")


def hugonnet_rate_grid(glacier_area_km2, cell_area_m2, dmdtda) -> np.ndarray:
    r"""Rate-only glacier prior: a uniform specific rate spread on the glacier area of each cell.

    .. math:: \dot x_j = \frac{\dot b}{\rho_w}\,\frac{A^{g}_j}{S_j}

    with :math:`\dot b` the regional specific rate [kg m⁻² yr⁻¹], :math:`A^g_j` the RGI glacier area
    and :math:`S_j` the area of cell j: the cell's EWH rate [m/yr]. Summed over the cells it gives
    :math:`\dot b \sum_j A^g_j`, the regional rate scaled by the glacier area the grid holds.

    Parameters
    ----------
    glacier_area_km2 : array_like (m,)
    cell_area_m2 : array_like (m,)
    dmdtda : float
        Specific rate [kg m-2 yr-1] (:func:`hugonnet_rates`).
    """
    a = np.nan_to_num(np.asarray(glacier_area_km2, float)) * 1e6
    s = np.asarray(cell_area_m2, float)
    if a.shape != s.shape:
        raise ValueError(f"glacier area {a.shape} and cell area {s.shape} differ in shape")
    if np.any(a > s * (1 + 1e-6)):
        raise ValueError("a cell's glacier area exceeds its area")
    return float(dmdtda) / 1000.0 * a / s


def glacier_area_cells(data_dir, grid) -> np.ndarray:
    """RGI 6.0 glacier area [km2] of every mascon cell (``rgi6_glacier_area``, regridded extensively)."""
    path = dataset_files("rgi6_glacier_area", data_dir, match="rgi6_glacier_area_0.5deg.nc")[0]
    with xr.open_dataset(path) as ds:
        var = "Area" if "Area" in ds else list(ds.data_vars)[0]
        da = crop_to_grid(ds[var], grid).load()
    return np.nan_to_num(regrid_to_cells(da, grid, extensive=True, source=str(path)))


def hugonnet_prior(data_dir, grid, rgi, period=("2002-01", "2017-12")) -> PriorComponent:
    """The rate-only glacier prior of a region beyond HMA (:func:`hugonnet_rate_grid`).

    Parameters
    ----------
    data_dir : path-like
    grid : MasconGrid
    rgi : sequence of int
        The region's RGI 6.0 first-order codes (:attr:`GlacierRegion.rgi`).
    period : (str, str)
        Prior period (σ = |rate| std(t) over its months, METHODS.md §7).
    """
    rates = hugonnet_rates(data_dir, rgi)
    row = rates.loc[PRIOR_PERIOD]
    area = glacier_area_cells(data_dir, grid)
    rate = hugonnet_rate_grid(area, grid.area, row["dmdtda"])
    inner = ~np.asarray(getattr(grid, "is_buffer", np.zeros(rate.size, bool)), bool)
    info = {"period": PRIOR_PERIOD, "rgi": ",".join(str(r) for r in rgi), "dmdtda_kg_m2_yr": float(row["dmdtda"]),
            "table_total_gt": float(row["dmdt"]), "table_area_km2": float(row["area_km2"]),
            "grid_area_km2": float(area[inner].sum()),
            "grid_total_gt": float(np.sum(rate[inner] * grid.area[inner]) * 1000.0 / 1e12)}
    codes = "+".join(f"{int(r):02d}" for r in rgi)
    return PriorComponent(
        "glacier", None, rate_rms(rate, period), np.zeros((12, rate.size)),
        source=f"hugonnet2021_regional: {dataset_path('hugonnet2021_regional', data_dir).name} (+ rgi6_glacier_area)",
        substitute=(f"Hugonnet et al. 2021 specific rate of RGI {codes}, {PRIOR_PERIOD} "
                    f"({row['dmdtda']:.0f} kg m-2 yr-1), uniform on the RGI 6.0 glacier area of each cell; "
                    "rate-only: sigma = |rate| std(t), seasonal second moment 0 (floor acts)"),
        rate=rate, attrs=info)


def glacier_cell_weights(glacier_area_km2, is_buffer, name: str) -> xr.DataArray:
    """Weights (region, cell) of a region's glacier sum: 1 on the cells of the box (buffer excluded)
    that hold RGI glacier area, 0 elsewhere; the layout of :func:`hma_mascon.regions.area_fraction_weights`.
    """
    area = np.nan_to_num(np.asarray(glacier_area_km2, float))
    w = ((area > 0) & ~np.asarray(is_buffer, bool)).astype(float)
    return xr.DataArray(w[None, :], dims=("region", "cell"), coords={"region": [name], "cell": np.arange(w.size)},
                        name="area_fraction", attrs={"units": "1", "long_name": f"glacier cells of {name}"})
