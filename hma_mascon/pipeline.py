"""End-to-end mascon solution from a data directory (METHODS.md §2-§10.2), and ``hma-mascon solve``.

:func:`run_solution` strings the modules together: read the monthly Level-2 series
(:mod:`io_grace`), replace degree 1, C20 and C30 (:mod:`low_degree`; C30 from 2016-08), remove the
reference-period mean (:mod:`stokes`), load the Love numbers and the priors, fit the two-step
estimator (:mod:`estimator`), form the glacier signal (soil moisture and GIA removed, §10.1,
:mod:`glacier`), fit trends with their 95 % errors (§10.2, :mod:`timeseries`), and assemble the
CF output in the JPL/CSR mascon layout (:mod:`output`, :mod:`product`). Nothing here computes
physics; it only decides the order, records the provenance (files, substitutes, data directory,
checksums) and degrades gracefully where the offline data
directory lacks a product (e.g. no soil-moisture grid: the glacier signal then removes GIA only,
and the output says so).

Without a data directory the synthetic world (:func:`hma_mascon.synthetic.ensure_synthetic_data_dir`)
is used, so the command runs anywhere without downloads.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from threadpoolctl import threadpool_info

from . import __version__
from .datadir import DatasetNotFoundError
from .estimator import PointMassMascon
from .glacier import glacier_signal, regional_trend_bias_sd
from .glacier_regions import REGIONS, glacier_area_cells, glacier_cell_weights
from .inputs import prepare
from .output import solution_to_dataset, write_solution
from .params import ParameterError, add_arguments, resolve, settings_from_args
from .product import product_fields
from .regions import area_fraction_weights, load_regions, regions_in_grid
from .safeio import AtomicWriteError, check_writable, exclusive_lock
from .timeseries import trend_with_error

__all__ = ["run_solution", "register_cli", "warn_small_box", "blas_threads", "SMALL_BOX_BUFFER_DEG"]

#: smallest buffer [deg] around a box smaller than the paper's when the low-degree data are trusted
SMALL_BOX_BUFFER_DEG = 5.0


def blas_threads() -> str:
    """The BLAS/LAPACK libraries in use and their thread counts (threadpoolctl), for the output record.

    One and two OpenBLAS threads give the same solution to 1.9e-11 relative (synthetic world, whole
    box, every 18th month: EWH 1.9e-11, trends 2.0e-11, alphas 1.4e-11 of their largest values; the
    eigendecompositions sum in a different order); the record lets a reader tell the runs apart.
    """
    libs = sorted(f"{i.get('internal_api', i.get('user_api'))} {i.get('version', '')} x{i.get('num_threads')}"
                  for i in threadpool_info() if i.get("user_api") == "blas")  # sorted: load order varies
    return "; ".join(libs) or "unknown"


def warn_small_box(settings):
    """Warn when a box smaller than the paper's has a narrow buffer and low degrees are trusted, when
    it uses the truncated kernel, and when the box is less than five prior correlation lengths across.

    On real data with hybrid (or formal) sigmas the large-scale signal from outside the box is
    data the model must explain, and the edge cells absorb it: a 8 x 6 deg box with a 1 deg buffer
    gave cells of 130 m (CSR 2004), with a 5 deg buffer 53 cm at most inside the box.
    """
    lon0, lon1, lat0, lat1 = settings["box"]
    small = (lon1 - lon0) < 30.0 or (lat1 - lat0) < 15.0
    obs_buffer = settings["mascon_buffer_deg"] if settings["obs_buffer_deg"] is None else settings["obs_buffer_deg"]
    buffer = min(float(settings["mascon_buffer_deg"]), float(obs_buffer))
    if small and buffer < SMALL_BOX_BUFFER_DEG and settings["coefficient_sigma"] != "empirical":
        warnings.warn(f"box {tuple(settings['box'])} is smaller than the paper's and its buffer is {buffer:g} deg: "
                      "signal from outside the box will be absorbed by the edge cells (tens of metres on real "
                      f"data); use a buffer of >= {SMALL_BOX_BUFFER_DEG:g} deg (--mascon-buffer-deg) and read the "
                      "inner cells only", UserWarning, stacklevel=3)
    if small and settings["kernel"] == "truncated":
        warnings.warn(f"box {tuple(settings['box'])} is smaller than the paper's and the kernel is truncated at "
                      "degree nmax: its ringing reaches the edge cells (real CSR, 8 x 6 deg box, 5 deg buffer, "
                      "2004: cells up to 169 cm against 53 cm with the closed kernel); consider --kernel closed",
                      UserWarning, stacklevel=3)
    L = settings["prior_correlation_km"]
    if L is not None and settings["regularization"] == "multisource":
        side_km = 111.2 * min(lat1 - lat0, (lon1 - lon0) * np.cos(np.radians(0.5 * (lat0 + lat1))))
        if side_km < 5.0 * float(L):
            warnings.warn(f"box {tuple(settings['box'])} is {side_km:.0f} km across, less than 5 times the prior's "
                          f"correlation length ({float(L):g} km): the correlated prior cannot resolve cells in it "
                          "(2 x 2 deg box: RMS cell error 19.5 cm against 3.3 cm with the diagonal prior); use "
                          "--preset diagonal or -p prior_correlation_km=none", UserWarning, stacklevel=3)


def run_solution(data_dir=None, preset="default", *, glacier=True, progress=True, reference=None,
                 allow_modified_inputs=False, **params):
    """Run the whole solution and return its CF Dataset (EWH in cm, :func:`output.solution_to_dataset`).

    Parameters
    ----------
    data_dir : path-like, optional
        Data directory laid out like the real mirror; None: the synthetic world (``seed``).
    preset : str
        Named parameter set (:data:`hma_mascon.params.PRESETS`).
    glacier : bool
        Also compute the glacier signal (§10.1).
    progress : bool
        tqdm progress bars (file reading, months).
    reference : (str, str), optional
        Reference period of the anomalies; default all months used (§2.2).
    allow_modified_inputs : bool
        Use input files whose SHA-256 differs from the manifest's with a warning instead of
        refusing them (:func:`hma_mascon.datadir.verify_inputs`; the digests of all inputs are
        recorded in the ``provenance_input_sha256`` attribute, JSON).
    **params
        Any row of the parameter table (:data:`hma_mascon.params.PARAMETERS`), overriding the
        preset: the data rows (``source``, ``period_start``, ``period_end``, ``month_step``,
        ``coefficient_sigma``, ``sigma_degree_split``, ``seed``, the prior period) and the
        estimator rows. The coefficient sigmas (``coefficient_sigma``): ``"auto"`` is ``"formal"``
        in a synthetic data directory (its files carry the true noise standard deviations as
        formal sigmas, so calibrating them would only absorb signal) and ``"hybrid"`` otherwise.
        The formal sigmas of real files are optimistic (a real CSR run with them and σ0² = 1 is
        under-regularized: cells of tens of metres); ``"empirical"`` (RMS of the six-term-fit
        residuals per coefficient and mission era) counts real low-degree signal as noise and
        halves the HMA glacier trend (CSR, every 3rd month: -12 Gt/yr against -25.0 with
        ``"hybrid"``). Sensitivity to ``sigma_degree_split`` (CSR, every 3rd month,
        2002-04..2022-11): -25.0 Gt/yr at 20, -28.4 at 30, with noisier cells at 30 (99.9th
        percentile of |EWH| 3.7 m against 2.3 m).

    Returns
    -------
    xarray.Dataset
        See :mod:`hma_mascon.output`; the preset, every parameter and the provenance in the
        global attributes.
    """
    settings = resolve(preset, params)
    est = PointMassMascon(settings.preset, progress=progress, **settings.stage("estimator"))
    inputs = prepare(data_dir, settings, gia=glacier, soil_moisture=glacier, reference=reference, progress=progress,
                     allow_modified_inputs=allow_modified_inputs, check_month_count=True)
    provenance = inputs.provenance
    warn_small_box(settings)  # every data directory (issue 13: it used to skip the synthetic world)
    ds, love, grid, priors = inputs.stokes, inputs.love, inputs.grid, inputs.priors

    # 3. estimator (§3-§9); the glacier prior's trend probes the regularization damping
    est.fit(ds, love, priors=priors, trend_probe=inputs.trend_probe)
    x = est.predict()
    res = est.result_
    t = est.decimal_year_

    # 4. glacier signal (§10.1): soil moisture and GIA removed
    glacier_x = None
    gia_trends = None
    if glacier:
        rates = list(inputs.gia.values())  # some models stop below nmax (Caron: 89); gia_ewh_rate truncates
        gl = glacier_signal(x, t, soil_moisture=inputs.soil_moisture, gia_rate=rates[0] if rates else None)
        glacier_x = np.where(np.isfinite(x), gl["glacier"].values, np.nan)
        if len(rates) > 1:
            gia_trends = -np.asarray(rates)  # the glacier trend changes by minus each model's rate

    # 5. trends and 95 % errors (§10.2), with the prior-expected regularization bias of the trend
    #    (issue 11, suspect 6: errors that ignore the damping do not cover the truth)
    trend, err, _ = trend_with_error(t, x, ar1=settings["trend_ar1"])
    bias_sd = res.expected_trend_bias_sd()  # m/yr per cell, None without a factor
    kappa = float(settings["cell_bias_calibration"])  # closed-loop calibration of the per-cell bias sd
    if bias_sd is not None:
        err = np.hypot(err, 1.96 * kappa * bias_sd)
    out = solution_to_dataset(
        x, est.time_, grid.lat_axis, grid.lon_axis, grid.area, ewh_error=res.stated_error, trend=trend, trend_error=err,
        glacier=glacier_x, alpha_preliminary=res.preliminary.alpha, alpha_refined=res.refined.alpha,
        variance_factor=res.refined.sigma0sq, degrees_of_freedom=res.refined.dof,
        variance_factor_preliminary=res.preliminary.sigma0sq, degrees_of_freedom_preliminary=res.preliminary.dof,
        month=est.month_, decimal_year=t, parameters={"preset": settings.preset, **settings}, provenance=provenance,
        **product_fields(inputs, est.time_),  # JPL/CSR layout: time bounds, glacier area, land mask
    )
    if glacier_x is not None:
        gtrend, gerr, _ = trend_with_error(t, glacier_x, gia_trends=gia_trends, ar1=settings["trend_ar1"])
        out["glacier_lwe_thickness_trend"] = (("lat", "lon"), 100.0 * gtrend.reshape(grid.shape),
                                              {"units": "cm yr-1", "long_name": "linear trend of the glacier signal"})
        rule = "1.96 sqrt(fit^2 + GIA spread^2)"
        if bias_sd is not None:
            gerr = np.hypot(gerr, 1.96 * kappa * bias_sd)
            rule = f"1.96 sqrt(fit^2 + GIA spread^2 + ({kappa:g} x regularization bias sd)^2)"
        out["glacier_lwe_thickness_trend_error"] = (
            ("lat", "lon"), 100.0 * gerr.reshape(grid.shape),
            {"units": "cm yr-1", "long_name": f"95 % error of the glacier trend, {rule}"})
    for step in ("preliminary", "refined"):
        fl = getattr(res, step).alpha_floored
        if fl is not None:
            out[f"alpha_floored_{step}"] = ("time", np.nan_to_num(fl).astype("i1"), {
                "units": "1", "long_name": f"1 where the robust alpha floor (median/{est.alpha_floor_factor}) "
                                           f"acted in the {step} step"})
            provenance_floor = int(np.nansum(fl))
            out.attrs[f"provenance_alpha_floored_{step}"] = f"{provenance_floor} of {fl.size} months"
    if res.trend_probe_recovered is not None:
        out["glacier_prior_trend"] = (("lat", "lon"), 100.0 * res.trend_probe[0].reshape(grid.shape),
                                      {"units": "cm yr-1", "long_name": "trend of the glacier prior (damping probe)",
                                       "source": provenance.get("prior_glacier", "")})
        out["glacier_prior_trend_recovered"] = (
            ("lat", "lon"), 100.0 * res.trend_probe_recovered[0].reshape(grid.shape),
            {"units": "cm yr-1", "long_name": "trend the two-step solve returns for the glacier prior trend "
                                             "(noise-free, resolution operators at the median alpha)"})
    if bias_sd is not None:
        _add_trend_bias(out, res, bias_sd, grid, inputs.data_dir, t, kappa, settings["region"])
    out["is_buffer"] = (("lat", "lon"), grid.is_buffer.reshape(grid.shape).astype("i1"),
                        {"long_name": "buffer mascon (excluded from reported sums)", "units": "1"})
    out.attrs.update(est.plausibility_.attrs())
    out.attrs["t0"] = float(res.t0)
    out.attrs["hma_mascon_version"] = __version__
    out.attrs["blas_threads"] = blas_threads()
    return out


def _add_trend_bias(out, res, bias_sd, grid, data_dir, t, kappa=1.0, region="hma") -> None:
    """Record the trend-bias sd per cell and, where the data directory has the HiMAP regions, per
    region (:func:`hma_mascon.glacier.regional_trend_bias_sd`), with the time variance it assumed."""
    out["trend_bias_sd"] = (("lat", "lon"), 100.0 * bias_sd.reshape(grid.shape), {
        "units": "cm yr-1", "long_name": "prior-expected sd of the regularization bias of the trend "
                                         "(in the trend errors times cell_bias_calibration)",
        "cell_bias_calibration": float(kappa)})
    ok = np.all(np.isfinite(res.x), axis=1)
    out.attrs["trend_bias_time_variance"] = float(np.var(np.asarray(t, float)[ok]))
    out.attrs["trend_bias_scale"] = float(res.trend_bias_scale)
    out.attrs["alpha_trend"] = float(res.alpha_trend)
    if region != "hma":  # beyond HMA: the region's glacier cells (hma_mascon.glacier_regions)
        weights = glacier_cell_weights(glacier_area_cells(data_dir, grid), grid.is_buffer, REGIONS[region].title)
        sd = regional_trend_bias_sd(res.trend_bias_factor, res.trend_bias_scale, weights, grid)
        out["glacier_trend_bias_sd"] = sd.isel(region=[0])  # without the HMA total row
        return
    try:
        regions, _ = regions_in_grid(load_regions(data_dir), grid)  # as hma_mascon.reproduction.prepare
    except DatasetNotFoundError:
        return
    if regions.empty:
        return
    weights = area_fraction_weights(regions, grid)
    sd = regional_trend_bias_sd(res.trend_bias_factor, res.trend_bias_scale, weights, grid)
    out["glacier_trend_bias_sd"] = sd


# ---------------------------------------------------------------------------------------------- CLI
def _solve(args) -> int:
    try:
        settings = settings_from_args(args)
    except ParameterError as exc:
        raise SystemExit(f"hma-mascon solve: {exc}") from None
    try:  # --out is checked before anything is computed
        check_writable(args.out)
    except AtomicWriteError as exc:
        raise SystemExit(f"hma-mascon solve: --out {exc}") from None
    data_dir = args.data_dir or os.environ.get("HMA_MASCON_DATA") or None
    with exclusive_lock(args.out):  # a second solve to the same --out refuses at once
        ds = run_solution(data_dir, settings.preset, glacier=not args.no_glacier, progress=not args.quiet,
                          allow_modified_inputs=args.allow_modified_inputs, **settings)
        path = write_solution(ds, args.out)
    print(f"solution ({ds.sizes['time']} months, {ds.sizes['lat']} x {ds.sizes['lon']} mascons, preset "
          f"{settings.preset!r}) written to {path}")
    return 0


def register_cli(subparsers) -> None:
    """Add ``hma-mascon solve --data-dir DIR --out FILE.nc [--preset NAME] [-p name=value] [--flags]``.

    The method's flags are generated from the parameter table (:func:`hma_mascon.params.add_arguments`).
    """
    p = subparsers.add_parser("solve", help="run the two-step mascon solution and write a CF netCDF file")
    p.add_argument("--data-dir", default=None,
                   help="data directory (default: $HMA_MASCON_DATA, else the synthetic world)")
    p.add_argument("--out", required=True, help="output netCDF file")
    p.add_argument("--no-glacier", action="store_true", help="skip the glacier signal")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("--allow-modified-inputs", action="store_true",
                   help="use input files whose SHA-256 differs from data_manifest.yml (warn instead of refusing)")
    add_arguments(p)
    p.set_defaults(func=_solve)
