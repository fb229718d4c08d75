"""One path from a data directory to the inputs of a solve (METHODS.md §2, §6, §7, §10.1).

:func:`prepare` is the only place where the chain

    read the Level-2 series -> drop months without a TN-13/TN-14 record -> replace degree 1, C20
    and C30 -> calibrate the coefficient sigmas -> keep every k-th month -> anomalies -> Load Love
    numbers -> priors (with their fallbacks) -> GIA models -> soil moisture

is written. The solve (:func:`hma_mascon.pipeline.run_solution`), the reduced problems of the book
and of the closed-loop experiments (:func:`hma_mascon.experiments.load_reduced_problem`), the
consistency check and the GIA spread all call it, so they cannot drift apart.

Fallbacks are decided from what the data directory holds (:func:`hma_mascon.datadir.dataset_exists`),
never from an exception's text:

* no hydrology model -> the hydrology prior is the DDK5 + 200 km filtered GRACE EWH minus the
  glacier prior (:func:`hma_mascon.priors.hydrology_prior_from_grace`);
* no soil-moisture grid -> the glacier signal removes GIA only (recorded in the provenance);
* GIA models absent from the directory are skipped (the spread uses those present).

Heavy lifting is in the modules called; written here: the order, the provenance record and the
decision between a synthetic and a real data directory (:func:`hma_mascon.datadir.is_synthetic`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from .datadir import dataset_exists, dataset_files, dataset_path, file_sha256, is_synthetic, verify_inputs
from .errors import InputError
from .filters import apply_ddk_dataset, gaussian_weights
from .geometry import MasconGrid, mascon_grid
from .glacier_regions import REGIONS, glacier_area_cells, hugonnet_prior
from .gia import gia_ewh_rate, read_gia_rates
from .io_grace import read_stokes_directory
from .love_numbers import LOVE_MODELS, load_love_numbers, love_data_path
from .low_degree import months_with_records, read_tn13, read_tn14, replace_low_degrees
from .noise_model import calibrate_sigmas, difference_coefficient_sigma
from .params import Settings, resolve
from .plausibility import check_months
from .priors import (component_trend, load_priors, load_soil_moisture, with_rate_variability, with_variability,
                     without_cells)
from .product import land_mask
from .stokes import anomalies
from .synthesis import stokes_to_ewh_grid
from .synthetic import ensure_synthetic_data_dir

__all__ = ["PreparedInputs", "prepare", "read_grace", "filtered_grace_ewh", "gia_rates", "SOURCES",
           "GIA_MODELS", "CHECKED_INPUTS", "sea_hydrology_cells", "drop_months_without_records", "noisy_months", "drop_noisy_months", "dropped_months", "MIN_CALIBRATION_MONTHS", "needs_priors",
           "PRIOR_INPUTS"]

#: GRACE sources -> manifest entry of their Level-2 files.
SOURCES = {"csr": "csr_rl06_gsm", "itsg": "itsg2018_gfc", "tongji": "tongji_grace2022"}

#: The second centre whose difference floors the sigmas of ``coefficient_sigma="hybrid-floored"``.
PARTNER_SOURCES = {"csr": "itsg", "itsg": "csr", "tongji": "csr"}

#: GIA models of the spread (§10.2), manifest entries; the first is the correction (§10.1).
GIA_MODELS = ("gia_ice6g_d", "gia_caron2018", "gia_caron_ivins2019")

#: Further manifest datasets a solve may read (GIA, priors), checked by :func:`hma_mascon.datadir.verify_inputs`.
CHECKED_INPUTS = (*GIA_MODELS, "rgi6_glacier_area", "shean2020_mass_balance", "hugonnet2021_regional")

#: Gridded priors and soil moisture: checked (and recorded) when the data directory holds them and
#: :func:`prepare` reads them (:func:`hma_mascon.priors.load_priors` uses a gridded product when present).
PRIOR_INPUTS = ("glacier_prior_grid", "lake_storage", "hydrology_model")

#: A window shorter than this calibrates the coefficient sigmas on the whole record of its source.
MIN_CALIBRATION_MONTHS = 24

#: Regularization families that need no prior (§7).
_PRIOR_FREE = ("identity", "smoothness")


@dataclass
class PreparedInputs:
    """Everything a solve reads, prepared.

    Attributes
    ----------
    stokes : xarray.Dataset
        Coefficient anomalies (low degrees replaced, sigmas calibrated, reference mean removed).
    love : xarray.DataArray
        Load Love numbers k'_n.
    grid : MasconGrid
        Mascon grid of the settings (box, step, buffer).
    priors : dict or None
        :func:`hma_mascon.priors.load_priors` output (plus ``grace_ewh`` for the
        ``grace_variance`` family); None for the prior-free families.
    gia : dict
        Manifest entry -> GIA EWH rate on the grid (m,) [m/yr], models present only.
    soil_moisture : ndarray (T, m) or None
        Soil-moisture anomaly on the grid at the solution months [m], None when absent.
    trend_probe : ndarray (m,) or None
        The glacier prior's trend [m/yr] (probe of the regularization damping), None without one.
    synthetic : bool
        The data directory is a synthetic world with a known truth.
    data_dir : pathlib.Path
    settings : Settings
    provenance : dict
        What was read and decided, for the output's attributes.
    """

    stokes: xr.Dataset
    love: xr.DataArray
    grid: MasconGrid
    priors: dict | None
    gia: dict
    soil_moisture: np.ndarray | None
    trend_probe: np.ndarray | None
    synthetic: bool
    data_dir: Path
    settings: Settings
    provenance: dict = field(default_factory=dict)


def needs_priors(settings) -> bool:
    """True when the regularization family of ``settings`` is built from priors."""
    return settings["regularization"] not in _PRIOR_FREE


def read_grace(data_dir, settings, provenance: dict | None = None, progress: bool = False) -> xr.Dataset:
    """Level-2 series of ``settings`` with months lacking a TN-13/TN-14 record dropped and degree 1,
    C20 and C30 (from 2016-08) replaced (§2.1); no anomalies, no calibration.

    Dropped months are recorded in ``provenance["months_dropped"]`` and warned about.
    """
    provenance = {} if provenance is None else provenance
    source = settings["source"]
    ds = _read_level2(data_dir, settings, progress)
    provenance["grace_source"] = SOURCES[source]
    provenance["grace_files"] = [Path(p).name for p in np.asarray(ds["source_file"].values).astype(str)]
    tn13, tn14 = dataset_path("tn13", data_dir), dataset_path("tn14", data_dir)
    ds = drop_months_without_records(ds, tn13, tn14, provenance)
    ds = replace_low_degrees(ds, tn13=tn13, tn14=tn14, c30_from="2016-08")
    provenance["low_degree"] = f"{tn13.name}; {tn14.name} (C20 all months, C30 from 2016-08)"
    return ds


def _read_level2(data_dir, settings, progress: bool = False) -> xr.Dataset:
    """The Level-2 files of ``settings["source"]`` inside the period, as read (nothing replaced)."""
    directory = Path(dataset_files(SOURCES[settings["source"]], data_dir)[0]).parent
    ds = read_stokes_directory(directory, start=settings["period_start"], end=settings["period_end"],
                               nmax=int(settings["nmax"]), progress=progress)
    if ds.sizes["time"] == 0:
        raise ValueError(f"{directory}: no months between {settings['period_start']} and {settings['period_end']}")
    return ds


def dropped_months(data_dir, settings=None) -> dict[str, str]:
    """The months of ``settings``' source and period that a solve drops, each with its reason.

    Reads the Level-2 headers and records (no solve); what :func:`read_grace` will drop and warn
    about. The book's provenance banner lists them.
    """
    if settings is None or not isinstance(settings, Settings):
        settings = resolve("default", settings or {})
    ds = _read_level2(data_dir, settings)
    tn13, tn14 = dataset_path("tn13", data_dir), dataset_path("tn14", data_dir)
    keep, dropped = months_with_records(ds, read_tn13(tn13), read_tn14(tn14))
    out = {month: f"no TN-13/TN-14 record in {tn13.name} / {tn14.name}" for month in dropped}
    if settings["max_noise_factor"] is not None:
        ds = _calibrated(ds.isel(time=keep), data_dir, settings, is_synthetic(Path(data_dir)), {}, False)
        step = int(settings["month_step"])
        for label in noisy_months(ds.isel(time=slice(None, None, step)), settings["max_noise_factor"]):
            month, factor = label.split()
            out[month] = f"noise level {factor.strip('()')} its era's, above max_noise_factor"
    return out


def noisy_months(ds: xr.Dataset, max_noise_factor) -> list[str]:
    """Months of ``ds`` whose ``noise_factor`` exceeds ``max_noise_factor`` (none: no screen, ``[]``).

    The factor (:func:`hma_mascon.noise_model.monthly_noise_factor`) is the RMS of the month's
    standardized six-term residuals at degrees >= 30 relative to its era; only calibrated sigmas
    carry it. Measured on the real mirror: CSR RL06 2015-02 6.3 and ITSG-Grace2018 2015-02 5.0
    (the next: 2004-09, 3.0 in both; median 1.0). Kept, CSR's 2015-02 puts a 10 m cell-month on the
    Ganges plain, a 2 m blob at 28.25 N 80.75 E even after a 300 km Gaussian filter of its own
    coefficients: correlated errors that the diagonal P cannot describe.
    """
    if max_noise_factor is None or "noise_factor" not in ds.coords:
        return []
    f = np.asarray(ds["noise_factor"].values, float)
    labels = np.asarray(ds["month"].values).astype(str)
    return [f"{m} ({v:.1f}x)" for m, v in zip(labels, f) if v > float(max_noise_factor)]


def drop_noisy_months(ds: xr.Dataset, max_noise_factor, provenance: dict) -> xr.Dataset:
    """Drop the months of :func:`noisy_months`, record them in ``provenance["months_dropped"]`` and
    warn, naming the months, their factors and the parameter."""
    bad = noisy_months(ds, max_noise_factor)
    if not bad:
        return ds
    months = {b.split()[0] for b in bad}
    keep = [i for i, m in enumerate(np.asarray(ds["month"].values).astype(str)) if m not in months]
    why = f"noise level above max_noise_factor={float(max_noise_factor):g} times its era's: {', '.join(bad)}"
    provenance["months_dropped"] = "; ".join(filter(None, [provenance.get("months_dropped", ""), why]))
    warnings.warn(f"{len(bad)} month(s) dropped, {why} (recorded in provenance_months_dropped; "
                  "-p max_noise_factor=none keeps them)", UserWarning, stacklevel=3)
    return ds.isel(time=keep)


def drop_months_without_records(ds: xr.Dataset, tn13, tn14, provenance: dict) -> xr.Dataset:
    """Drop the months that the TN-13 or TN-14 file has no record for (e.g. ITSG's 2004-01: the
    CSR-flavoured TN-13 follows CSR's month spans), record them in ``provenance["months_dropped"]``
    and warn, naming the months, the files and the reason."""
    keep, dropped = months_with_records(ds, read_tn13(tn13), read_tn14(tn14))
    if dropped:
        provenance["months_dropped"] = f"no TN-13/TN-14 record: {', '.join(dropped)}"
        warnings.warn(f"{len(dropped)} month(s) dropped, no TN-13/TN-14 record in {tn13} / {tn14}: "
                      f"{', '.join(dropped)} (recorded in provenance_months_dropped)", UserWarning, stacklevel=3)
        ds = ds.isel(time=keep)
    return ds


def _calibrated(ds, data_dir, settings, synthetic, provenance, progress):
    """Coefficient sigmas per ``coefficient_sigma`` (:func:`hma_mascon.noise_model.calibrate_sigmas`)."""
    method = settings["coefficient_sigma"]
    if method == "auto":
        method = "formal" if synthetic else "hybrid"
    floored = method == "hybrid-floored"
    method = "hybrid" if floored else method
    short = method != "formal" and ds.sizes["time"] < MIN_CALIBRATION_MONTHS  # calibrate on the whole record
    whole = None
    if short or floored:  # the floor also compares whole records
        everything = resolve(settings.preset, {**settings, "period_start": "1900-01", "period_end": "2100-12"})
        whole = read_grace(data_dir, everything, {}, progress)
    out = calibrate_sigmas(ds, method, calibration=whole if short else None, min_months=MIN_CALIBRATION_MONTHS,
                           n_scale=int(settings["sigma_degree_split"]))
    step = out.attrs["history"][len(ds.attrs.get("history", "")):].lstrip("; ")
    if short:
        step += f" (calibrated on all {whole.sizes['time']} months of {SOURCES[settings['source']]})"
    if floored:
        out, note = _floor_by_partner(out, whole, data_dir, settings, progress)
        step += note
    provenance["coefficient_sigma"] = step
    return out


def _floor_by_partner(ds, whole, data_dir, settings, progress):
    """``ds``'s sigmas floored by the two-centre difference noise (``coefficient_sigma="hybrid-floored"``):
    sigma = max(hybrid, sigma of (this - partner)/sqrt 2 over all their common months, per era)."""
    partner = PARTNER_SOURCES[settings["source"]]
    if data_dir is None or is_synthetic(Path(data_dir)):
        raise InputError(f"coefficient_sigma='hybrid-floored' needs a second centre's series ({SOURCES[partner]}); "
                         "a synthetic data directory has one centre only")
    if not dataset_exists(SOURCES[partner], data_dir):
        raise InputError(f"coefficient_sigma='hybrid-floored' needs the {SOURCES[partner]} series in {data_dir} "
                         f"(the second centre whose difference from {SOURCES[settings['source']]} is the noise floor)")
    other = read_grace(data_dir, resolve(settings.preset, {**settings, "source": partner, "period_start": "1900-01",
                                                           "period_end": "2100-12"}), {}, progress)
    floor = difference_coefficient_sigma(whole, other, min_months=MIN_CALIBRATION_MONTHS)
    labels = np.asarray(whole["month"].values).astype(str)
    pick = [int(np.flatnonzero(labels == m)[0]) for m in np.asarray(ds["month"].values).astype(str)]
    out = ds.copy()
    raised = []
    for v in ("sigma_C", "sigma_S"):
        f = floor[v].values[pick]
        old = np.asarray(ds[v].values, float)
        out[v] = (ds[v].dims, np.where(np.isfinite(old), np.fmax(old, np.nan_to_num(f)), old), ds[v].attrs)
        raised.append(np.nansum(np.isfinite(old) & (f > old)) / max(np.sum(np.isfinite(old)), 1))
    return out, (f"; floored by the {SOURCES[partner]} difference noise (CSR-ITSG-style (a - b)/sqrt 2, "
                 f"{floor.attrs['eras']}): {100 * np.mean(raised):.0f} % of the sigmas raised")


def filtered_grace_ewh(stokes: xr.Dataset, grid: MasconGrid, love, nmax: int | None = None) -> np.ndarray:
    """DDK5 + 200 km Gaussian filtered GRACE EWH at the mascon cells (time, m) [m] (§10.7 filters):
    the hydrology-prior substitute and the ``grace_variance`` family."""
    nmax = int(stokes["degree"].max()) if nmax is None else int(nmax)
    f = apply_ddk_dataset(stokes, 5)
    h = stokes_to_ewh_grid(f, grid.lat_axis, grid.lon_axis, love, weights=gaussian_weights(nmax, 200.0))
    arr = np.asarray(getattr(h, "values", h), float)
    return arr.reshape(arr.shape[0], -1)


def gia_rates(data_dir, grid: MasconGrid, love, nmax: int = 96, provenance: dict | None = None) -> dict:
    """EWH rate [m/yr] on the grid of each GIA model of :data:`GIA_MODELS` present in ``data_dir``."""
    out = {}
    for name in GIA_MODELS:
        if not dataset_exists(name, data_dir):
            continue
        path = dataset_path(name, data_dir)
        rate = gia_ewh_rate(read_gia_rates(path), grid.lat_axis, grid.lon_axis, love, nmax=nmax)
        out[name] = grid.from_dataarray(rate)
        if provenance is not None:
            provenance.setdefault("gia_models", []).append(path.name)
    return out


def sea_hydrology_cells(grid: MasconGrid, rule: str) -> np.ndarray:
    """The cells (bool, (m,), (lat, lon) row-major) whose hydrology prior variance the sea rule zeroes.

    ``rule`` is the ``sea_hydrology`` parameter: ``prior`` none; ``none`` every sea cell of the GLOBE
    land mask; ``inner`` the sea cells inside the box only, so that the buffer ring's sea cells keep
    the variance with which they absorb signal from outside the box.
    """
    if rule == "prior":
        return np.zeros(grid.lat.size, bool)
    if rule not in ("none", "inner"):
        raise ValueError(f"sea_hydrology={rule!r}: choose prior, none or inner")
    sea = land_mask(grid.lat_axis, grid.lon_axis).ravel() == 0
    return sea & ~np.asarray(grid.is_buffer, bool) if rule == "inner" else sea


def _priors(data_dir, grid, stokes, love, settings, provenance):
    period = (settings["prior_period_start"], settings["prior_period_end"])
    grace_ewh = None
    hydrology = settings["prior_hydrology"]
    if hydrology == "auto":
        hydrology = "model" if dataset_exists("hydrology_model", data_dir) else "grace"
    glacier = settings["prior_glacier"]
    if glacier == "hugonnet":
        glacier = hugonnet_prior(data_dir, grid, REGIONS[settings["region"]].rgi, period)
    kwargs = {"glacier": glacier, "hydrology": hydrology, "lake": settings["prior_lake"]}
    if hydrology == "grace":
        grace_ewh = filtered_grace_ewh(stokes, grid, love)
        kwargs.update(grace_ewh=grace_ewh, grace_time=stokes["time"].values)
    priors = load_priors(data_dir, grid, period=period, **kwargs)
    if settings["glacier_rate_sd_mwe"] is not None:
        priors["glacier"] = with_rate_variability(priors["glacier"], glacier_area_cells(data_dir, grid), grid.area,
                                                  float(settings["glacier_rate_sd_mwe"]), period)
    if settings["glacier_variability_sd_mwe"] is not None:
        priors["glacier"] = with_variability(priors["glacier"], glacier_area_cells(data_dir, grid), grid.area,
                                             float(settings["glacier_variability_sd_mwe"]))
    sea = sea_hydrology_cells(grid, settings["sea_hydrology"])
    if sea.any():  # sea cells: filtered GRACE there is leaked land signal
        priors["hydrology"] = without_cells(priors["hydrology"], sea,
                                            f"sea cells (sea_hydrology={settings['sea_hydrology']})")
    for name, comp in priors.items():
        provenance[f"prior_{name}"] = comp.source
        if comp.substitute:
            provenance[f"prior_{name}_substitute"] = comp.substitute
    if settings["regularization"] == "grace_variance":
        priors = dict(priors, grace_ewh=filtered_grace_ewh(stokes, grid, love) if grace_ewh is None else grace_ewh)
    return priors


def prepare(data_dir=None, settings=None, *, grid: MasconGrid | None = None, priors: bool = True,
            gia: bool = True, soil_moisture: bool = True, reference=None, progress: bool = False,
            allow_modified_inputs: bool = False, check_month_count: bool = False) -> PreparedInputs:
    """Read and prepare every input of a solve from a data directory.

    Parameters
    ----------
    data_dir : path-like, optional
        Data directory laid out like the real mirror; None: the synthetic world of ``settings["seed"]``.
    settings : Settings or mapping, optional
        The parameter set (:func:`hma_mascon.params.resolve`); a plain mapping is resolved on the
        ``default`` preset. Uses the data rows (source, periods, month step, coefficient sigmas) and
        the geometry rows (box, mascon step and buffer, nmax, regularization).
    grid : MasconGrid, optional
        Mascon grid to prepare the priors, GIA and soil moisture on; default that of ``settings``.
    priors, gia, soil_moisture : bool
        Prepare these (the priors only when the regularization family needs them).
    reference : (str, str), optional
        Reference period of the anomalies; default all months used (§2.2).
    progress : bool
        Progress bars while reading.
    allow_modified_inputs : bool
        Warn instead of refusing when an input's SHA-256 differs from the manifest's
        (:func:`hma_mascon.datadir.verify_inputs`; a synthetic world has no recorded checksums).
    check_month_count : bool
        The inputs are for a solve: refuse, right after reading the coefficients and before the
        priors, a two-step solve (``settings["two_step"]``) with fewer months than
        :data:`hma_mascon.plausibility.MIN_TWO_STEP_MONTHS`.

    Returns
    -------
    PreparedInputs
    """
    if settings is None or not isinstance(settings, Settings):
        settings = resolve("default", settings or {})
    provenance = {}
    if data_dir is None:
        data_dir = ensure_synthetic_data_dir(int(settings["seed"]))
    data_dir = Path(data_dir)
    synthetic = is_synthetic(data_dir)
    if synthetic:
        provenance["synthetic"] = "yes"
        if settings["region"] != "hma":
            raise InputError(f"region {settings['region']!r}: the synthetic world ({data_dir}) covers High Mountain "
                             "Asia only; pass the real data directory (--data-dir or HMA_MASCON_DATA)")
    provenance["region"] = settings["region"]
    provenance["data_dir"] = str(data_dir)
    nmax = int(settings["nmax"])

    ds = read_grace(data_dir, settings, provenance, progress)
    files = dataset_files(SOURCES[settings["source"]], data_dir)  # the calibration may read them all
    provenance["input_sha256"] = verify_inputs(
        [*files, dataset_path("tn13", data_dir), dataset_path("tn14", data_dir)], data_dir,
        datasets=CHECKED_INPUTS, allow_modified=allow_modified_inputs)
    ds = _calibrated(ds, data_dir, settings, synthetic, provenance, progress)
    step = int(settings["month_step"])
    if step > 1:
        ds = ds.isel(time=slice(None, None, step))
        provenance["month_step"] = f"every {step}th month solved ({ds.sizes['time']} months)"
    ds = drop_noisy_months(ds, settings["max_noise_factor"], provenance)
    if check_month_count:
        check_months(ds.sizes["time"], bool(settings["two_step"]),
                     where=f"{data_dir}, {settings['period_start']}..{settings['period_end']}, month_step {step}")
    ref = reference or (None, None)
    ds = anomalies(ds, ref[0], ref[1])
    provenance["reference_period"] = ds.attrs.get("reference_period", "")

    love = load_love_numbers(nmax)
    provenance["love_numbers"] = str(love.attrs.get("source", ""))
    model = str(love.attrs.get("model", "han_wahr"))  # a package file: keyed by its path in the package
    provenance["input_sha256"][f"gravity_toolkit/data/{LOVE_MODELS[model][0]}"] = file_sha256(love_data_path(model))
    if grid is None:
        grid = mascon_grid(settings["box"], settings["mascon_step_deg"], settings["mascon_buffer_deg"],
                           extent=settings["buffer_extent"])
    prior_set, probe = None, None
    if priors and needs_priors(settings):
        prior_set = _priors(data_dir, grid, ds, love, settings, provenance)
        if "glacier" in prior_set:
            probe = component_trend(prior_set["glacier"], grid)
            probe = probe if np.any(probe) else None
    rates = gia_rates(data_dir, grid, love, nmax, provenance) if gia else {}
    sm = None
    if soil_moisture:
        if dataset_exists("soil_moisture", data_dir):
            months = np.asarray(ds["month"].values).astype(str)
            sm_da = load_soil_moisture(data_dir, grid, period=(settings["prior_period_start"],
                                                               settings["prior_period_end"]),
                                       reference=(months[0], months[-1]))
            sm_da = sm_da.reindex(time=ds["time"].values, method="nearest", tolerance=np.timedelta64(20, "D"))
            sm = grid.from_dataarray(sm_da)
            provenance["soil_moisture"] = str(dataset_path("soil_moisture", data_dir).name)
        else:
            provenance["soil_moisture"] = "absent from the data directory: not removed"
    read = [*(PRIOR_INPUTS if prior_set is not None else ()), *(("soil_moisture",) if sm is not None else ())]
    read = [name for name in read if dataset_exists(name, data_dir)]
    if read:  # every input with its checksum (the output's provenance_input_sha256)
        provenance["input_sha256"].update(verify_inputs([], data_dir, datasets=read,
                                                        allow_modified=allow_modified_inputs))
    return PreparedInputs(stokes=ds, love=love, grid=grid, priors=prior_set, gia=rates, soil_moisture=sm,
                          trend_probe=probe, synthetic=synthetic, data_dir=data_dir, settings=settings,
                          provenance=provenance)
