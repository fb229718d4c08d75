"""End-to-end mascon solution from a data directory (METHODS.md §2-§10.2), and ``hma-mascon solve``.

:func:`run_solution` strings the modules together: read the monthly Level-2 series
(:mod:`io_grace`), replace degree 1, C20 and C30 (:mod:`low_degree`; C30 from 2016-08), remove the
reference-period mean (:mod:`stokes`), load the Love numbers and the priors, fit the two-step
estimator (:mod:`estimator`), form the glacier signal (soil moisture and GIA removed, §10.1,
:mod:`glacier`), fit trends with their 95 % errors (§10.2, :mod:`timeseries`), and assemble the
CF output (:mod:`output`). Nothing here computes physics; it only decides the order, records the
provenance (files, substitutes, data directory) and degrades gracefully where the offline data
directory lacks a product (e.g. no soil-moisture grid: the glacier signal then removes GIA only,
and the output says so).

Without a data directory the synthetic world (:func:`hma_mascon.synthetic.ensure_synthetic_data_dir`)
is used, so the command runs anywhere without downloads.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from . import __version__

__all__ = ["run_solution", "register_cli", "SOURCES"]

#: GRACE sources -> manifest entry of their Level-2 files.
SOURCES = {"csr": "csr_rl06_gsm", "itsg": "itsg2018_gfc", "tongji": "tongji_grace2022"}

_GIA_MODELS = ("gia_ice6g_d", "gia_caron2018", "gia_caron_ivins2019")
#: further manifest datasets a solve may read (priors, GIA), checked by datadir.verify_inputs
_CHECKED_INPUTS = (*_GIA_MODELS, "rgi6_glacier_area", "shean2020_mass_balance", "hugonnet2021_regional")


def _grace_directory(source, data_dir):
    from .datadir import dataset_files

    if source not in SOURCES:
        raise ValueError(f"source must be one of {sorted(SOURCES)}, got {source!r}")
    files = dataset_files(SOURCES[source], data_dir)
    return Path(files[0]).parent, files


def _filtered_grace_ewh(ds, grid, love, nmax):
    """DDK5 + 200 km Gaussian filtered GRACE EWH at the mascon cells (time, m) [m] (priors' hydrology
    substitute and the ``grace_variance`` family)."""
    from .filters import apply_ddk_dataset, gaussian_weights
    from .synthesis import stokes_to_ewh_grid

    f = apply_ddk_dataset(ds, 5)
    h = stokes_to_ewh_grid(f, grid.lat_axis, grid.lon_axis, love, weights=gaussian_weights(nmax, 200.0))
    arr = np.asarray(getattr(h, "values", h), float)
    return arr.reshape(arr.shape[0], -1)


_MIN_CALIBRATION_MONTHS = 24


def _months_with_low_degrees(ds, tn13, tn14, provenance):
    """Drop the months that TN-13/TN-14 have no record for (e.g. ITSG's 2004-01: the CSR-flavoured
    TN-13 follows CSR's month spans), record them in ``provenance["months_dropped"]`` and warn
    (UserWarning naming the months and the reason)."""
    from .low_degree import match_records, read_tn13, read_tn14

    tables = [(read_tn13(tn13), "TN-13"), (read_tn14(tn14), "TN-14")]
    keep, dropped = [], []
    for k in range(ds.sizes["time"]):
        one = ds.isel(time=[k])
        try:
            for tab, what in tables:
                match_records(one, tab, what)
            keep.append(k)
        except ValueError:
            dropped.append(str(ds["month"].values[k]))
    if dropped:
        provenance["months_dropped"] = f"no TN-13/TN-14 record: {', '.join(dropped)}"
        warnings.warn(f"{len(dropped)} month(s) dropped, no TN-13/TN-14 record in {tn13} / {tn14}: "
                      f"{', '.join(dropped)} (recorded in provenance_months_dropped)", UserWarning, stacklevel=3)
        ds = ds.isel(time=keep)
    return ds


def _calibrated(ds, sigma, source, data_dir, directory, nmax, tn13, tn14, progress, provenance, n_scale=20):
    """Coefficient sigmas per ``sigma`` (:mod:`hma_mascon.noise_model`), recorded in ``provenance``."""
    from .io_grace import read_stokes_directory
    from .low_degree import replace_low_degrees
    from .noise_model import calibrate_sigmas

    calibration = None
    if sigma != "formal" and ds.sizes["time"] < _MIN_CALIBRATION_MONTHS:
        calibration = read_stokes_directory(directory, nmax=nmax, progress=progress)
        calibration = replace_low_degrees(calibration, tn13=tn13, tn14=tn14, c30_from="2016-08")
    out = calibrate_sigmas(ds, sigma, calibration=calibration, min_months=_MIN_CALIBRATION_MONTHS, n_scale=n_scale)
    old = ds.attrs.get("history", "")
    step = out.attrs["history"][len(old):].lstrip("; ")
    if calibration is not None:
        step += f" (calibrated on all {calibration.sizes['time']} months of {SOURCES[source]})"
    provenance["coefficient_sigma"] = step
    return out


#: smallest buffer [deg] around a box smaller than the paper's when the low-degree data are trusted
SMALL_BOX_BUFFER_DEG = 5.0


def _warn_small_box(est, sigma):
    """Warn when a box smaller than the paper's has a narrow buffer and low degrees are trusted.

    On real data with hybrid (or formal) sigmas the large-scale signal from outside the box is
    data the model must explain, and the edge cells absorb it: a 8 x 6 deg box with a 1 deg buffer
    gave cells of 130 m (CSR 2004), with a 5 deg buffer 53 cm at most inside the box.
    """
    import warnings

    lon0, lon1, lat0, lat1 = est.box
    small = (lon1 - lon0) < 30.0 or (lat1 - lat0) < 15.0
    buffer = min(float(est.mascon_buffer_deg), float(est.obs_buffer_deg))
    if small and buffer < SMALL_BOX_BUFFER_DEG and sigma != "empirical":
        warnings.warn(f"box {tuple(est.box)} is smaller than the paper's and its buffer is {buffer:g} deg: "
                      "signal from outside the box will be absorbed by the edge cells (tens of metres on real "
                      f"data); use a buffer of >= {SMALL_BOX_BUFFER_DEG:g} deg (--mascon-buffer-deg) and read the "
                      "inner cells only", UserWarning, stacklevel=3)


def run_solution(data_dir=None, source="csr", start="2002-04", end="2023-08", *, reference=None,
                 prior_period=("2002-01", "2017-12"), glacier=True, progress=True, seed=None, sigma="auto",
                 month_step=1, sigma_degree_split=20, allow_modified_inputs=False, **params):
    """Run the whole solution and return its CF Dataset (EWH in cm, :func:`output.solution_to_dataset`).

    Parameters
    ----------
    data_dir : path-like, optional
        Data directory laid out like the real mirror; None: the synthetic world.
    source : {"csr", "itsg", "tongji"}
        Level-2 series (manifest entries ``csr_rl06_gsm``, ``itsg2018_gfc``, ``tongji_grace2022``).
    start, end : str
        First and last GRACE month ``"YYYY-MM"`` used (the paper: 2002-04..2023-08).
    reference : (str, str), optional
        Reference period of the anomalies; default all months used (§2.2).
    prior_period : (str, str)
        Period of the prior RMS (§7).
    glacier : bool
        Also compute the glacier signal (§10.1).
    progress : bool
        tqdm progress bars (file reading, months).
    seed : int, optional
        Seed of the synthetic world when ``data_dir`` is None.
    sigma : {"auto", "empirical", "hybrid", "scaled-formal", "formal"}
        Coefficient errors behind the weight matrix P (:func:`hma_mascon.noise_model.calibrate_sigmas`).
        ``"auto"`` (default): ``"formal"`` in a synthetic data directory (its files carry the true
        noise standard deviations as formal sigmas, so calibrating them would only absorb signal),
        ``"hybrid"`` otherwise. The formal sigmas of the files are optimistic (a real CSR run with
        them and σ0² = 1 is under-regularized: cells of tens of metres). ``"empirical"``: RMS of the
        six-term-fit residuals per coefficient and mission era; at low degrees that residual holds
        real signal (interannual hydrology, glacier acceleration), over-regularizes the solve and
        halves the HMA glacier trend (CSR, every 3rd month: -12 Gt/yr against -25.0 with
        ``"hybrid"``). ``"hybrid"``: empirical for n >= ``sigma_degree_split``, the formal pattern
        scaled to the empirical level (and capped by the residual RMS) below. When the requested window has fewer than 24 months,
        the calibration uses the whole record of the source. ``"formal"``: the files' sigmas.
        Recorded in the ``coefficient_sigma`` provenance attribute.
    sigma_degree_split : int
        ``n_scale`` of :func:`hma_mascon.noise_model.calibrate_sigmas`: the degree from which the
        residuals count as noise (hybrid: empirical from there, scaled formal below; scaled-formal:
        the scale factor's lowest degree). Default 20. Sensitivity of the CSR HMA glacier trend
        (every 3rd month, 2002-04..2022-11): -25.0 Gt/yr at 20, -28.4 at 30; the split at 30 also
        gives noisier cells (99.9th percentile of |EWH| 3.7 m against 2.3 m).
    month_step : int
        Solve every ``month_step``-th month only (after the calibration on all months; fast
        real-data tests). Recorded in the ``month_step`` provenance attribute when > 1.
    allow_modified_inputs : bool
        Use input files whose SHA-256 differs from the manifest's with a warning instead of
        refusing them (:func:`hma_mascon.datadir.verify_inputs`; the digests of all inputs are
        recorded in the ``provenance_input_sha256`` attribute, JSON).
    **params
        Hyper-parameters of :class:`hma_mascon.estimator.PointMassMascon`.

    Returns
    -------
    xarray.Dataset
        See :mod:`hma_mascon.output`; parameters and provenance in the global attributes.
    """
    from .datadir import DatasetNotFoundError, dataset_path, verify_inputs
    from .estimator import PointMassMascon
    from .io_grace import read_stokes_directory
    from .love_numbers import load_love_numbers
    from .low_degree import replace_low_degrees
    from .output import solution_to_dataset
    from .priors import load_priors
    from .stokes import anomalies

    provenance = {}
    if data_dir is None:
        from .synthetic import DEFAULT_SEED, ensure_synthetic_data_dir

        data_dir = ensure_synthetic_data_dir(DEFAULT_SEED if seed is None else seed)
        provenance["synthetic"] = "yes"
    data_dir = Path(data_dir)
    provenance["data_dir"] = str(data_dir)

    est = PointMassMascon(progress=progress, **params)
    nmax = int(est.nmax)
    if not (data_dir / "hma_synthetic.json").is_file():  # the synthetic world's noise is white and known
        _warn_small_box(est, "hybrid" if sigma == "auto" else sigma)

    # 1. Level-2 series, low degrees, anomalies (§2)
    directory, files = _grace_directory(source, data_dir)
    ds = read_stokes_directory(directory, start=start, end=end, nmax=nmax, progress=progress)
    if ds.sizes["time"] == 0:
        raise ValueError(f"{directory}: no months between {start} and {end}")
    provenance["grace_source"] = SOURCES[source]
    provenance["grace_files"] = [Path(p).name for p in np.asarray(ds["source_file"].values).astype(str)]
    tn13, tn14 = dataset_path("tn13", data_dir), dataset_path("tn14", data_dir)
    provenance["input_sha256"] = verify_inputs([*files, tn13, tn14], data_dir, datasets=_CHECKED_INPUTS,
                                               allow_modified=allow_modified_inputs)
    ds = _months_with_low_degrees(ds, tn13, tn14, provenance)
    ds = replace_low_degrees(ds, tn13=tn13, tn14=tn14, c30_from="2016-08")
    provenance["low_degree"] = f"{tn13.name}; {tn14.name} (C20 all months, C30 from 2016-08)"
    if sigma == "auto":
        sigma = "formal" if (data_dir / "hma_synthetic.json").is_file() else "hybrid"
    ds = _calibrated(ds, sigma, source, data_dir, directory, nmax, tn13, tn14, progress, provenance,
                     n_scale=int(sigma_degree_split))
    if int(month_step) > 1:
        ds = ds.isel(time=slice(None, None, int(month_step)))
        provenance["month_step"] = f"every {int(month_step)}th month solved ({ds.sizes['time']} months)"
    ref = reference or (None, None)
    ds = anomalies(ds, ref[0], ref[1])
    provenance["reference_period"] = ds.attrs.get("reference_period", "")

    # 2. Love numbers, priors (§1, §7)
    love = load_love_numbers(nmax)
    provenance["love_numbers"] = str(love.attrs.get("source", ""))
    grid, _ = est._geometry(float(ds.attrs["radius"]))
    priors = None
    if est.regularization != "identity" and est.regularization != "smoothness":
        try:
            priors = load_priors(data_dir, grid, period=prior_period)
        except ValueError as exc:
            if "grace_ewh" not in str(exc):
                raise
            ewh = _filtered_grace_ewh(ds, grid, love, nmax)
            priors = load_priors(data_dir, grid, period=prior_period, grace_ewh=ewh, grace_time=ds["time"].values)
        for name, comp in priors.items():
            provenance[f"prior_{name}"] = comp.source
            if comp.substitute:
                provenance[f"prior_{name}_substitute"] = comp.substitute
        if est.regularization == "grace_variance":
            priors = dict(priors, grace_ewh=_filtered_grace_ewh(ds, grid, love, nmax))

    # 3. estimator (§3-§9); the glacier prior's trend probes the regularization damping
    probe = None
    if priors is not None and "glacier" in priors:
        from .priors import component_trend

        probe = component_trend(priors["glacier"], grid)
        if not np.any(probe):
            probe = None
    est.fit(ds, love, priors=priors, trend_probe=probe)
    x = est.predict()
    res = est.result_
    t = est.decimal_year_

    # 4. glacier signal (§10.1): soil moisture and GIA removed
    from .timeseries import trend_with_error

    glacier_x = None
    gia_trends = None
    if glacier:
        from .gia import gia_ewh_rate, read_gia_rates
        from .glacier import glacier_signal
        from .priors import load_soil_moisture

        sm = None
        try:
            sm_da = load_soil_moisture(data_dir, grid, period=prior_period,
                                       reference=(str(est.month_[0]), str(est.month_[-1])))
            sm_da = sm_da.reindex(time=est.time_, method="nearest", tolerance=np.timedelta64(20, "D"))
            sm = grid.from_dataarray(sm_da)
            provenance["soil_moisture"] = str(dataset_path("soil_moisture", data_dir).name)
        except DatasetNotFoundError:
            provenance["soil_moisture"] = "absent from the data directory: not removed"
        rates = []
        for name in _GIA_MODELS:
            try:
                path = dataset_path(name, data_dir)
            except DatasetNotFoundError:
                continue
            g = read_gia_rates(path)  # some models stop below nmax (Caron: 89); gia_ewh_rate truncates
            rate = gia_ewh_rate(g, grid.lat_axis, grid.lon_axis, love, nmax=nmax)
            rates.append(grid.from_dataarray(rate))
            provenance.setdefault("gia_models", []).append(path.name)
        gia_rate = rates[0] if rates else None
        gl = glacier_signal(x, t, soil_moisture=sm, gia_rate=gia_rate)
        glacier_x = np.where(np.isfinite(x), gl["glacier"].values, np.nan)
        if len(rates) > 1:
            gia_trends = -np.asarray(rates)  # the glacier trend changes by minus each model's rate

    # 5. trends and 95 % errors (§10.2)
    trend, err, _ = trend_with_error(t, x)
    out = solution_to_dataset(
        x, est.time_, grid.lat_axis, grid.lon_axis, grid.area, ewh_error=res.stated_error, trend=trend, trend_error=err,
        glacier=glacier_x, alpha_preliminary=res.preliminary.alpha, alpha_refined=res.refined.alpha,
        variance_factor=res.refined.sigma0sq, degrees_of_freedom=res.refined.dof,
        variance_factor_preliminary=res.preliminary.sigma0sq, degrees_of_freedom_preliminary=res.preliminary.dof,
        month=est.month_, decimal_year=t, parameters=est.get_params(), provenance=provenance,
    )
    if glacier_x is not None:
        gtrend, gerr, _ = trend_with_error(t, glacier_x, gia_trends=gia_trends)
        out["glacier_lwe_thickness_trend"] = (("lat", "lon"), 100.0 * gtrend.reshape(grid.shape),
                                              {"units": "cm yr-1", "long_name": "linear trend of the glacier signal"})
        out["glacier_lwe_thickness_trend_error"] = (
            ("lat", "lon"), 100.0 * gerr.reshape(grid.shape),
            {"units": "cm yr-1", "long_name": "95 % error of the glacier trend, 1.96 sqrt(fit^2 + GIA spread^2)"})
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
    out["is_buffer"] = (("lat", "lon"), grid.is_buffer.reshape(grid.shape).astype("i1"),
                        {"long_name": "buffer mascon (excluded from reported sums)", "units": "1"})
    out.attrs["t0"] = float(res.t0)
    out.attrs["hma_mascon_version"] = __version__
    return out


# ---------------------------------------------------------------------------------------------- CLI
def _solve(args) -> int:
    from .output import write_solution
    from .safeio import exclusive_lock

    params = {"altitude": args.altitude_km * 1e3, "alpha_method": args.alpha_method, "kind": args.kind,
              "kernel": args.kernel, "weight": args.weight, "P_mode": args.P_mode,
              "regularization": args.regularization, "prior_rule": args.prior_rule, "prior_floor": args.prior_floor,
              "two_step": not args.one_step, "mse_norm": args.mse_norm,
              "alpha_floor_factor": (args.alpha_floor_factor or None)}
    sigma = getattr(args, "sigma", "auto")
    if args.sigma0_sq is not None:
        params["sigma0_sq"] = args.sigma0_sq
    if args.box is not None:
        params["box"] = tuple(args.box)
    if args.mascon_buffer_deg:
        params["mascon_buffer_deg"] = args.mascon_buffer_deg
        params["obs_buffer_deg"] = args.mascon_buffer_deg
    with exclusive_lock(args.out):  # a second solve to the same --out refuses at once
        ds = run_solution(args.data_dir, source=args.source, start=args.start, end=args.end,
                          glacier=not args.no_glacier, progress=not args.quiet, sigma=sigma,
                          sigma_degree_split=args.sigma_degree_split,
                          allow_modified_inputs=getattr(args, "allow_modified_inputs", False), **params)
        path = write_solution(ds, args.out)
    print(f"solution ({ds.sizes['time']} months, {ds.sizes['lat']} x {ds.sizes['lon']} mascons) written to {path}")
    return 0


def register_cli(subparsers) -> None:
    """Add ``hma-mascon solve --data-dir DIR --out FILE.nc [...]``."""
    p = subparsers.add_parser("solve", help="run the two-step mascon solution and write a CF netCDF file")
    p.add_argument("--data-dir", default=None,
                   help="data directory (default: $HMA_MASCON_DATA, else the synthetic world)")
    p.add_argument("--out", required=True, help="output netCDF file")
    p.add_argument("--source", choices=sorted(SOURCES), default="csr")
    p.add_argument("--start", default="2002-04")
    p.add_argument("--end", default="2023-08")
    p.add_argument("--altitude-km", type=float, default=450.0)
    p.add_argument("--box", type=float, nargs=4, metavar=("LON_MIN", "LON_MAX", "LAT_MIN", "LAT_MAX"),
                   default=None, help="box in degrees (default: the paper's 65 105 26 47)")
    p.add_argument("--mascon-buffer-deg", type=float, default=0.0,
                   help="extra ring of mascons and observations around the box [deg]")
    p.add_argument("--alpha-method", choices=["mse", "gcv", "vce", "lcurve"], default="mse")
    p.add_argument("--mse-norm", choices=["euclidean", "R"], default="euclidean",
                   help="norm of the minimum-MSE alpha rule (R: O(m) per trial alpha, stronger damping)")
    p.add_argument("--sigma0-sq", type=float, default=None, help="fixed variance factor for the MSE rule")
    p.add_argument("--kind", choices=["radial", "potential", "3d"], default="radial")
    p.add_argument("--kernel", choices=["closed", "truncated"], default="closed")
    p.add_argument("--weight", choices=["full", "diagonal", "identity"], default="full")
    p.add_argument("--P-mode", dest="P_mode", choices=["mean", "mission", "monthly"], default="mean")
    p.add_argument("--regularization", default="multisource",
                   choices=["multisource", "identity", "smoothness", "exponential", "grace_variance",
                            "hydrology_only"])
    p.add_argument("--prior-rule", choices=["A", "B", "C"], default="B")
    p.add_argument("--sigma", choices=["auto", "empirical", "hybrid", "scaled-formal", "formal"], default="auto",
                   help="coefficient errors behind P (default auto: the files' formal sigmas in a synthetic "
                        "directory, else hybrid: empirical six-term residual RMS for n >= 30, scaled formal below)")
    p.add_argument("--sigma-degree-split", type=int, default=20,
                   help="degree from which six-term residuals count as noise (hybrid/scaled-formal sigmas)")
    p.add_argument("--alpha-floor-factor", type=float, default=10.0,
                   help="robust floor of the monthly alpha: median/FACTOR within each eigensystem (0: off)")
    p.add_argument("--prior-floor", type=float, default=0.01)
    p.add_argument("--one-step", action="store_true", help="preliminary solution only")
    p.add_argument("--no-glacier", action="store_true", help="skip the glacier signal")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("--allow-modified-inputs", action="store_true",
                   help="use input files whose SHA-256 differs from data_manifest.yml (warn instead of refusing)")

    def func(args):
        import os

        if args.data_dir is None and os.environ.get("HMA_MASCON_DATA"):
            args.data_dir = os.environ["HMA_MASCON_DATA"]
        return _solve(args)

    p.set_defaults(func=func)
