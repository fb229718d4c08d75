"""Closed-loop experiments against the synthetic truth (book chapter 9) and the book's solve call.

The paper had no truth to compare with; the synthetic world has one (``truth/truth.nc``). This
module runs the estimator on a *reduced problem* (a sub-box with a buffer ring, every k-th month)
under different hyper-parameters and scores each run against the truth with the same metrics:

* RMS error per cell over time [cm] (time means removed from both: the solution is an anomaly about
  the mean of the months used, the truth about its own period);
* the error of the box-total trend [% of the true trend];
* the errors of regional trends [Gt/yr] (HiMAP regions inside the sub-box);
* R² of the per-cell trends (estimated against true);
* the resolution: the spread of the columns of the resolution matrix H = (N + αR)⁻¹N
  (a point-spread function: column j is the solution's response to a unit impulse in cell j),

  .. math:: s_j = \\sqrt{\\sum_i H_{ij}^2 d_{ij}^2 / \\sum_i H_{ij}^2}\\quad [km],

  with d_ij the great-circle distance between cells, and its diagonal H_jj (the fraction of a
  cell's own signal it keeps).

Heavy lifting: :class:`hma_mascon.estimator.PointMassMascon` (the inversion),
:mod:`hma_mascon.solver` and :mod:`hma_mascon.alpha` (curves of the alpha rules),
:mod:`hma_mascon.timeseries` (six-term fits), :mod:`hma_mascon.regions` (area fractions, Gt sums).
Written by hand: the reduced-problem bookkeeping, the metrics and the rebuilding of the whitened
design matrix for the resolution matrix (the estimator does not keep it).

:func:`solution_parameters` maps the book's parameters (``hma_mascon.book.PARAMETER_SCHEMA``) to
:func:`hma_mascon.pipeline.run_solution` arguments, so every notebook computes the shared cached
solution with the same call (:func:`book_solution`).
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from shapely.geometry import box as shapely_box

from .constants import RHO_WATER
from .datadir import dataset_exists
from .diagnostics import alpha_curves, resolution_matrix, resolution_spread
from .estimator import PointMassMascon
from .inputs import filtered_grace_ewh, prepare
from .params import PARAMETERS, resolve
from .priors import (
    PriorComponent,
    component_trend,
    hydrology_prior_from_grace,
    rate_rms,
    zero_component,
)
from .regions import area_fraction_weights, load_regions
from .synthetic import load_truth
from .timeseries import fit_harmonic_trend

__all__ = [
    "ReducedProblem",
    "reduced_box",
    "load_reduced_problem",
    "offline_substitute_priors",
    "fit_variant",
    "truth_anomalies",
    "recovery_metrics",
    "recovery_error_map",
    "regional_trend_errors",
    "compare_variants",
    "VARIANTS",
    "reduced_solution_maps",
    "closed_loop_study",
]


# ------------------------------------------------------------------------------------------ problem
@dataclass
class ReducedProblem:
    """Inputs of the closed-loop experiments on a sub-box.

    Attributes
    ----------
    stokes : xarray.Dataset
        Coefficient anomalies of the months used (about their own mean).
    love : xarray.DataArray
    priors : dict
        :func:`hma_mascon.priors.load_priors` on the estimator's grid (buffer included), plus
        ``grace_ewh`` (filtered GRACE EWH at the cells, for the ``grace_variance`` family).
    box : tuple
        Sub-box (lon_min, lon_max, lat_min, lat_max) [deg].
    buffer_deg : float
        Buffer ring of mascons and observations around the box.
    grid : MasconGrid
        Estimator grid (buffer cells flagged).
    truth : ndarray (T, m) or None
        True EWH [m] of the grid cells at the months used (time mean removed); None on real data.
    weights : xarray.DataArray or None
        Area fractions (region, cell) of the parts of the HiMAP regions inside the box (regions
        with at least five cells' worth of area there).
    """

    stokes: xr.Dataset
    love: object
    priors: dict
    box: tuple
    buffer_deg: float
    grid: object
    truth: np.ndarray | None = None
    weights: object = None
    data_dir: str | None = None
    base_params: dict = field(default_factory=dict)
    preset: str = "default"

    @property
    def t(self) -> np.ndarray:
        return np.asarray(self.stokes["decimal_year"].values, float)

    @property
    def inner(self) -> np.ndarray:
        """Boolean mask of the cells inside the box (not buffer)."""
        return ~np.asarray(self.grid.is_buffer, bool)


def reduced_box(box, centre=(80.0, 33.0), size=(8.0, 6.0), margin=2.0):
    """A sub-box of ``size`` (dlon, dlat) [deg] around ``centre`` that stays ``margin`` inside ``box``.

    When ``box`` is too small, the box shrunk by the margin is returned (or ``box`` itself if even
    that is empty).
    """
    lon0, lon1, lat0, lat1 = (float(v) for v in box)
    lo0, lo1 = lon0 + margin, lon1 - margin
    la0, la1 = lat0 + margin, lat1 - margin
    if lo1 - lo0 < 1.0 or la1 - la0 < 1.0:
        return (lon0, lon1, lat0, lat1)
    w, h = min(size[0], lo1 - lo0), min(size[1], la1 - la0)
    cx = min(max(centre[0], lo0 + w / 2), lo1 - w / 2)
    cy = min(max(centre[1], la0 + h / 2), la1 - h / 2)
    snap = lambda v: float(np.round(v * 2) / 2)  # noqa: E731 - cell edges on the 0.5 deg lattice
    return (snap(cx - w / 2), snap(cx + w / 2), snap(cy - h / 2), snap(cy + h / 2))


def truth_anomalies(truth: xr.Dataset, grid, time, variable="lwe_thickness") -> np.ndarray:
    """True EWH [m] of the grid cells at ``time`` (nearest month), time mean removed.

    Raises
    ------
    ValueError
        If a month or a cell of the grid is not in the truth file.
    """
    da = truth[variable].reindex(time=np.asarray(time).astype("datetime64[ns]"), method="nearest",
                                 tolerance=np.timedelta64(20, "D"))
    lat = xr.DataArray(np.asarray(grid.lat), dims="cell")
    lon = xr.DataArray(np.asarray(grid.lon), dims="cell")
    vals = da.sel(lat=lat, lon=lon, method="nearest", tolerance=1e-6).transpose("time", "cell").values / 100.0
    if not np.all(np.isfinite(vals)):
        raise ValueError("truth: some months or cells of the reduced problem are not in truth/truth.nc")
    return vals - vals.mean(axis=0)


def load_reduced_problem(data_dir, box, *, month_step=3, buffer_deg=1.5, settings=None, preset="default",
                         **params) -> ReducedProblem:
    """Read and prepare a reduced closed-loop problem (every ``month_step``-th month, sub-box + buffer).

    The inputs come from :func:`hma_mascon.inputs.prepare` (the same path as the whole solve,
    including the coefficient-sigma calibration), on the estimator's grid (buffer included).

    Parameters
    ----------
    data_dir : path-like
    box : (lon_min, lon_max, lat_min, lat_max)
        The sub-box [deg].
    month_step : int
        Keep every k-th month.
    buffer_deg : float
        Ring of buffer mascons and observations around the sub-box.
    settings : Settings, optional
        A complete parameter set (e.g. the book's); else ``preset`` with ``params`` (table rows).
        Its estimator rows, except the geometry of the box, are shared by every variant
        (``base_params``).
    """
    if settings is None:
        settings = resolve(preset, params)
    geometry = {"box": tuple(box), "mascon_buffer_deg": float(buffer_deg), "obs_buffer_deg": float(buffer_deg),
                "month_step": int(month_step)}
    settings = resolve(settings.preset, {**{k: settings[k] for k in PARAMETERS if k in settings}, **geometry})
    inputs = prepare(data_dir, settings, gia=False, soil_moisture=False)
    grid = inputs.grid
    priors = dict(inputs.priors or {})
    if "grace_ewh" not in priors:
        priors["grace_ewh"] = filtered_grace_ewh(inputs.stokes, grid, inputs.love)
    truth = None
    if inputs.synthetic:
        truth = truth_anomalies(load_truth(data_dir), grid, inputs.stokes["time"].values)
    base = {k: v for k, v in settings.stage("estimator").items() if k not in _PROBLEM_GEOMETRY}
    return ReducedProblem(stokes=inputs.stokes, love=inputs.love, priors=priors, box=tuple(box), buffer_deg=buffer_deg,
                          grid=grid, truth=truth, weights=_subbox_region_weights(data_dir, box, grid),
                          data_dir=str(data_dir), base_params=base, preset=settings.preset)


#: Estimator rows fixed by the reduced problem itself (not by a variant).
_PROBLEM_GEOMETRY = ("box", "mascon_buffer_deg", "obs_buffer_deg")


def _subbox_region_weights(data_dir, box, grid):
    """Area fractions (region, cell) of the parts of the HiMAP regions inside the sub-box (regions
    with at least five cells' worth of area there), or None when the directory has no regions."""
    if not dataset_exists("himap_regions", data_dir):
        return None
    gdf = load_regions(data_dir).to_crs(4326)
    inner_box = shapely_box(box[0], box[2], box[1], box[3])
    gdf = gdf[gdf.intersects(inner_box)].copy()
    gdf["geometry"] = gdf.intersection(inner_box)  # the part of each region inside the sub-box
    gdf = gdf[[g.area > 0.25 for g in gdf.geometry]]  # more than one 0.5 deg cell [deg2]
    if gdf.empty:
        return None
    w = area_fraction_weights(gdf, grid)
    inside = np.asarray(w.values, float) * ~np.asarray(grid.is_buffer, bool)[None, :]
    keep = inside.sum(axis=1) >= 5.0  # regions with at least 5 cells' worth of area in the box
    return w.isel({w.dims[0]: np.flatnonzero(keep)}) if keep.any() else None


def offline_substitute_priors(problem: ReducedProblem, period=("2002-01", "2017-12")) -> dict:
    """The prior set a real-data run has, built from the synthetic world's full priors.

    What the offline mirror forces on the real path (:mod:`hma_mascon.priors`): the glacier prior is
    rate-only (Shean et al. 2020: no series, so no seasonal second moment and sigma = |rate| std(t)),
    there is no lake prior (zero variance, the floor acts) and the hydrology prior is the filtered
    GRACE EWH minus the glacier prior (CSR-like) instead of WaterGAP. Fitting the paper's
    configuration with these priors in the synthetic world measures what the missing products cost.
    """

    m = problem.grid.size
    rate = component_trend(problem.priors["glacier"], problem.grid)
    glacier = PriorComponent("glacier", None, rate_rms(rate, period), np.zeros((12, m)),
                             source="synthetic glacier prior reduced to its trend", rate=rate,
                             substitute="rate-only, as the Shean et al. (2020) substitute on real data")
    lake = zero_component("lake", m, "no lake product offline: zero variance, the floor acts")
    hydro = hydrology_prior_from_grace(problem.priors["grace_ewh"], problem.stokes["time"].values, glacier,
                                       period=period)
    return {"glacier": glacier, "lake": lake, "hydrology": hydro, "grace_ewh": problem.priors["grace_ewh"]}


def fit_variant(problem: ReducedProblem, priors=None, **params):
    """Fit :class:`~hma_mascon.estimator.PointMassMascon` on the reduced problem with ``params``
    (on top of ``problem.base_params``); returns the fitted estimator.

    ``priors``: ``None`` (the problem's), ``"offline"`` (:func:`offline_substitute_priors`) or a
    prior dict.
    """
    if isinstance(priors, str):
        if priors != "offline":
            raise ValueError(f'priors must be None, "offline" or a dict, got {priors!r}')
        priors = offline_substitute_priors(problem)
    kw = dict(problem.base_params)
    kw.update(params)
    est = PointMassMascon(problem.preset, box=problem.box, mascon_buffer_deg=problem.buffer_deg,
                          obs_buffer_deg=problem.buffer_deg, progress=False, **kw)
    return est.fit(problem.stokes, problem.love, priors=problem.priors if priors is None else priors)


# ------------------------------------------------------------------------------------------ metrics
def _trends(t, X):

    return fit_harmonic_trend(t, X).trend


def recovery_metrics(x, truth, t, area, inner=None, weights=None) -> dict:
    """Score a solution against the truth.

    Parameters
    ----------
    x, truth : ndarray (T, m)
        Estimated and true EWH [m]; NaN rows of ``x`` (missing months) are skipped.
    t : ndarray (T,)
        Decimal years.
    area : ndarray (m,)
        Cell areas [m2].
    inner : ndarray of bool (m,), optional
        Cells scored (default all).
    weights : xarray.DataArray (region, m), optional
        Area fractions for the regional trends.

    Returns
    -------
    dict
        ``rms_error_cm`` (mean over cells of the per-cell RMS error; means removed),
        ``rms_signal_cm`` (same for the truth), ``total_trend_true_gt``, ``total_trend_est_gt``,
        ``total_trend_error_pct`` (100 (est - true)/true: -50 means half the true trend), ``trend_r2`` (R² = 1 - SS_res/SS_tot of the per-cell trends),
        ``regional_trend_rmse_gt`` (RMS over regions of the trend errors, NaN without regions).
    """
    x = np.asarray(x, float)
    truth = np.asarray(truth, float)
    ok = np.all(np.isfinite(x), axis=1)
    inner = np.ones(x.shape[1], bool) if inner is None else np.asarray(inner, bool)
    xe = x[ok][:, inner]
    xt = truth[ok][:, inner]
    xe = xe - xe.mean(axis=0)
    xt = xt - xt.mean(axis=0)
    rms_err = np.sqrt(np.mean((xe - xt) ** 2, axis=0))
    rms_sig = np.sqrt(np.mean(xt**2, axis=0))
    tt = np.asarray(t, float)[ok]
    te, tr = _trends(tt, xe), _trends(tt, xt)
    gt = RHO_WATER * np.asarray(area, float)[inner] / 1e12
    tot_e, tot_t = float(te @ gt), float(tr @ gt)
    ss_res = float(np.sum((te - tr) ** 2))
    ss_tot = float(np.sum((tr - tr.mean()) ** 2))
    out = {
        "rms_error_cm": 100 * float(rms_err.mean()),
        "rms_signal_cm": 100 * float(rms_sig.mean()),
        "total_trend_true_gt": tot_t,
        "total_trend_est_gt": tot_e,
        "total_trend_error_pct": 100 * (tot_e - tot_t) / tot_t if tot_t != 0 else np.nan,
        "trend_r2": 1 - ss_res / ss_tot if ss_tot > 0 else np.nan,
        "regional_trend_rmse_gt": np.nan,
    }
    if weights is not None:
        table = regional_trend_errors(x, truth, t, area, weights)
        out["regional_trend_rmse_gt"] = float(np.sqrt(np.mean(table["error_gt_per_yr"] ** 2)))
    return out


def recovery_error_map(x, truth, grid, name="rms_error") -> xr.DataArray:
    """RMS over time of (estimate - truth) per cell [cm], time means removed, as a (lat, lon) map."""
    x = np.asarray(x, float)
    ok = np.all(np.isfinite(x), axis=1)
    xe = x[ok] - x[ok].mean(axis=0)
    xt = np.asarray(truth, float)[ok]
    xt = xt - xt.mean(axis=0)
    rms = 100 * np.sqrt(np.mean((xe - xt) ** 2, axis=0))
    return grid.to_dataarray(rms, name=name, units="cm", long_name="RMS recovery error (estimate - truth)")


def regional_trend_errors(x, truth, t, area, weights) -> pd.DataFrame:
    """True and estimated regional trends [Gt/yr] and their differences (six-term fits of the sums).

    ``weights`` (region, m) are area fractions; M_R = Σ_j w_Rj ρ_w S_j x_j / 1e12.
    """
    x = np.asarray(x, float)
    ok = np.all(np.isfinite(x), axis=1)
    W = np.asarray(weights.values, float) * RHO_WATER * np.asarray(area, float)[None, :] / 1e12
    me = x[ok] @ W.T
    mt = np.asarray(truth, float)[ok] @ W.T
    tt = np.asarray(t, float)[ok]
    te, tr = _trends(tt, me), _trends(tt, mt)
    names = [str(v) for v in weights[weights.dims[0]].values]
    return pd.DataFrame({"region": names, "true_gt_per_yr": tr, "estimate_gt_per_yr": te,
                         "error_gt_per_yr": te - tr,
                         "error_pct": 100 * (te - tr) / np.where(np.abs(tr) > 0, tr, np.nan)}).set_index("region")


# --------------------------------------------------------------------------------------- resolution


# ------------------------------------------------------------------------------------------ alpha


# -------------------------------------------------------------------------------------- comparisons
#: The experiments of chapter 9: label -> estimator hyper-parameters (on top of the base ones).
VARIANTS = {
    "constraint": {
        "multisource prior (paper)": {},
        "identity": {"regularization": "identity"},
        "1st-order smoothness": {"regularization": "smoothness"},
        "exponential 150 km": {"regularization": "exponential"},
        "GRACE-only variance (CSR-like)": {"regularization": "grace_variance"},
        "hydrology-model variance (JPL-like)": {"regularization": "hydrology_only"},
    },
    "kind": {
        "radial (paper)": {"kind": "radial"},
        "potential": {"kind": "potential"},
        "3-D gradient": {"kind": "3d"},
    },
    "priors": {
        "full synthetic priors (paper's products)": {},
        "offline substitutes (real-data path)": {"priors": "offline"},
    },
    "alpha": {
        "MMSE (paper)": {"alpha_method": "mse"},
        "GCV": {"alpha_method": "gcv"},
        "L-curve": {"alpha_method": "lcurve"},
        "variance components": {"alpha_method": "vce"},
    },
}


def compare_variants(problem: ReducedProblem, variants: dict, resolution_cells=None, keep=False):
    """Fit every variant and score it with :func:`recovery_metrics` and :func:`resolution_spread`.

    Parameters
    ----------
    problem : ReducedProblem
        With ``truth`` (synthetic world).
    variants : dict
        label -> hyper-parameters.
    resolution_cells : array_like of int, optional
        Cells whose point-spread functions enter the median spread (default: every inner cell).
    keep : bool
        Also return the fitted estimators.

    Returns
    -------
    pandas.DataFrame (one row per variant) [, dict label -> estimator]
    """

    if problem.truth is None:
        raise ValueError("compare_variants needs the synthetic truth (problem.truth is None)")
    cells = np.flatnonzero(problem.inner) if resolution_cells is None else np.asarray(resolution_cells, int)
    rows, fitted = [], {}
    for label, params in variants.items():
        t0 = _time.perf_counter()
        try:
            est = fit_variant(problem, **params)
        except Exception as exc:  # noqa: BLE001 - one failing variant is reported, not fatal
            rows.append({"variant": label, "failed": f"{type(exc).__name__}: {exc}"})
            continue
        m = recovery_metrics(est.x_, problem.truth, problem.t, problem.grid.area, problem.inner, problem.weights)
        try:
            H = resolution_matrix(est, problem)
            spread = resolution_spread(H, problem.grid, cells)
            m["median_spread_km"] = float(spread["spread_km"].median())
            m["median_diagonal"] = float(spread["diagonal"].median())
        except Exception:  # noqa: BLE001
            m["median_spread_km"] = m["median_diagonal"] = np.nan
        m["median_alpha"] = float(np.nanmedian(est.result_.preliminary.alpha))
        m["seconds"] = _time.perf_counter() - t0
        rows.append({"variant": label, **m})
        if keep:
            fitted[label] = est
    table = pd.DataFrame(rows).set_index("variant")
    return (table, fitted) if keep else table


# ------------------------------------------------------------------------------------ book helpers


def reduced_solution_maps(problem: ReducedProblem, est) -> xr.Dataset:
    """Preliminary solution, trend part and refined (seasonal) part of a fitted estimator on the
    reduced problem as a labelled Dataset [cm], with the per-month alphas."""
    g = problem.grid
    res = est.result_
    ds = xr.Dataset()
    for name, values, ln in (("preliminary", res.preliminary.x, "preliminary solution x_pre (R_pre)"),
                             ("trend_part", res.x_trend, "trend part x_trend = beta1 (t - t0)"),
                             ("refined_part", res.refined.x, "refined part x_sv (R_sv)"),
                             ("final", res.x, "final solution x_trend + x_sv")):
        da = g.to_dataarray(100 * values, name=name, units="cm", long_name=ln, extra_dims=("time",))
        ds[name] = da.assign_coords(time=("time", problem.stokes["time"].values))
    if problem.truth is not None:
        da = g.to_dataarray(100 * problem.truth, name="truth", units="cm", long_name="synthetic truth",
                            extra_dims=("time",))
        ds["truth"] = da.assign_coords(time=("time", problem.stokes["time"].values))
    ds["alpha_preliminary"] = ("time", res.preliminary.alpha, {"units": "1", "long_name": "alpha, preliminary"})
    ds["alpha_refined"] = ("time", res.refined.alpha, {"units": "1", "long_name": "alpha, refined"})
    ds["is_buffer"] = (("lat", "lon"), np.asarray(g.is_buffer).reshape(g.shape).astype("i1"))
    ds.attrs["box"] = str(problem.box)
    ds.attrs["months"] = int(problem.stokes.sizes["time"])
    return ds


def closed_loop_study(problem: ReducedProblem, groups=("constraint", "priors", "kind", "alpha"), psf_cells=3) -> dict:
    """Run :data:`VARIANTS` on the reduced problem and collect tables, error maps and PSFs.

    The paper's configuration (multisource prior, radial, MMSE) is fitted once and shared by the
    three groups. Returns a picklable dict: ``tables`` (group -> DataFrame), ``error_maps``
    (label -> DataArray [cm]), ``psf`` (label -> DataArray of the resolution-matrix columns at
    ``psf_cells`` inner cells), ``regional`` (label -> DataFrame), ``alpha_curves`` (DataFrame),
    ``reduced`` (:func:`reduced_solution_maps` of the paper's configuration).
    """
    if problem.truth is None:
        raise ValueError("closed_loop_study needs the synthetic truth")
    base = fit_variant(problem)
    inner = np.flatnonzero(problem.inner)
    cells = inner[np.linspace(0, inner.size - 1, psf_cells + 2).astype(int)[1:-1]]
    g = problem.grid
    out = {"tables": {}, "error_maps": {}, "psf": {}, "regional": {}, "psf_cells": cells,
           "box": problem.box, "months": int(problem.stokes.sizes["time"])}
    for group in groups:
        rows = []
        for label, params in VARIANTS[group].items():

            t0 = _time.perf_counter()
            paper = all(problem.base_params.get(k) == v for k, v in params.items())  # = base config
            paper = paper and "priors" not in params
            try:
                est = base if paper else fit_variant(problem, **params)
            except Exception as exc:  # noqa: BLE001
                rows.append({"variant": label, "failed": f"{type(exc).__name__}: {exc}"})
                continue
            m = recovery_metrics(est.x_, problem.truth, problem.t, g.area, problem.inner, problem.weights)
            try:
                H = resolution_matrix(est, problem)
                sp = resolution_spread(H, g, inner)
                m["median_spread_km"] = float(sp["spread_km"].median())
                m["median_diagonal"] = float(sp["diagonal"].median())
                if label not in out["psf"]:
                    psf = g.to_dataarray(H[:, cells].T, name="psf", units="1",
                                         long_name="resolution-matrix column (response to a unit impulse)",
                                         extra_dims=("impulse",))
                    out["psf"][label] = psf
            except Exception:  # noqa: BLE001
                m["median_spread_km"] = m["median_diagonal"] = np.nan
            m["median_alpha"] = float(np.nanmedian(est.result_.preliminary.alpha))
            m["seconds"] = 0.0 if paper else _time.perf_counter() - t0
            rows.append({"variant": label, **m})
            out["error_maps"].setdefault(label, recovery_error_map(est.x_, problem.truth, g))
            if problem.weights is not None:
                out["regional"].setdefault(label, regional_trend_errors(est.x_, problem.truth, problem.t, g.area,
                                                                        problem.weights))
        out["tables"][group] = pd.DataFrame(rows).set_index("variant")
    out["alpha_curves"] = alpha_curves(base, problem, month=0)
    out["reduced"] = reduced_solution_maps(problem, base)
    return out


