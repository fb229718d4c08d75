"""CF-1.8 netCDF output of a mascon solution, laid out like the JPL and CSR RL06 mascon products.

Users script against the JPL (Watkins et al. 2015) and CSR (Save et al. 2016) mascon grids, so the
file uses their names and units where they have one:

=================================  ==================  ==================================================
variable                           units               content
=================================  ==================  ==================================================
``lwe_thickness``                  cm                  mascon EWH (time, lat, lon), ``_FillValue`` -99999
``uncertainty``                    cm                  1-sigma error of each cell and month, ``_FillValue``
                                                       -99999
``time``, ``time_bounds``          days since 2002-01  mid-epoch and data span ``[start, end)`` of a month
``lat_bounds``, ``lon_bounds``     degrees             cell edges (CF ``bounds`` of ``lat`` / ``lon``)
``cell_area``                      m2                  the S_j of the design matrix (CF ``cell_area``)
``glacier_area``                   m2                  RGI 6.0 glacier area per cell, and its fraction
``land_mask``                      1                   1 land, 0 sea (:func:`hma_mascon.product.land_mask`)
``alpha_*``, ``variance_factor*``  1                   per month: alpha, variance factor sigma0^2 and
                                                       t(alpha) of both steps (§8, §9)
=================================  ==================  ==================================================

plus the per-cell trend and its 95 % error (cm/yr, §10.2) and optionally the glacier signal
(METHODS.md §10.1). A reader forms Gt sums from the file alone,

.. math::

    M(t)\\,[\\mathrm{Gt}] = \\sum_j w_j\\,10^{-2}\\,h_j(t)\\,[\\mathrm{cm}]\\;\\rho_w\\,S_j / 10^{12},

with w_j a 0/1 mask (``land_mask``, ``glacier_area > 0``, ``is_buffer == 0``) or region area
fractions. Global attributes name the preset and every parameter (``param_<name>``; netCDF
attributes cannot hold dicts, so they are flattened) and the provenance (``provenance_<name>``),
with the SHA-256 of every input file in ``provenance_input_sha256`` (JSON, keyed by the path
relative to the data directory, or to its package for shipped files).

xarray and netCDF4 do the writing and the CF time encoding; this module decides the names,
units, fill values and attributes, and :mod:`hma_mascon.product` the fields the products add
to a solve (bounds, glacier area, land mask) and the rules behind them (fill value, which CF
standard names exist). Inside the package EWH is in metres (CONTRIBUTING.md); the conversion to
cm happens here and nowhere else.

References
----------
Eaton, B. et al. (2020). NetCDF Climate and Forecast (CF) Metadata Conventions, version 1.8.
Watkins, M. M. et al. (2015). Improved methods for observing Earth's time variable mass
distribution with GRACE using spherical cap mascons. JGR Solid Earth 120, 2648-2671.
Save, H., Bettadpur, S., Tapley, B. D. (2016). High-resolution CSR GRACE RL05 mascons.
JGR Solid Earth 121, 7547-7569.
"""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
from pathlib import Path
from typing import Mapping

import numpy as np
import xarray as xr

from . import __version__
from .constants import RHO_WATER
from .product import BOUNDS_VARIABLES, FILL_VALUE, STANDARD_NAME_VOCABULARY, cell_bounds, layout_variables
from .safeio import atomic_path, deferred_interrupt, exclusive_lock

__all__ = [
    "solution_to_dataset",
    "write_solution",
    "write_zarr",
    "solution_to_netcdf",
    "read_solution",
    "cell_bounds",
    "git_commit",
    "TIME_UNITS",
    "FILL_VALUE",
    "RENAMED_VARIABLES",
]

#: CF time units of the output files.
TIME_UNITS = "days since 2002-01-01 00:00:00"

#: Variables of older solution files and their current names (:func:`read_solution` renames them).
RENAMED_VARIABLES = {"lwe_thickness_error": "uncertainty", "lat_bnds": "lat_bounds", "lon_bnds": "lon_bounds"}

_M_TO_CM = 100.0


def git_commit(path=None) -> str:
    """The git commit of the package source tree, or ``""`` when it is not a git checkout."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _attr_value(value):
    """A value netCDF can store as an attribute (str, number, or 1-D numeric array)."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, float, np.integer, np.floating, str)):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.dtype.kind in "if" and arr.ndim == 1 and arr.size > 0:
            return arr
        return json.dumps([str(v) for v in np.ravel(arr)])
    if isinstance(value, Mapping):
        return json.dumps({str(k): str(v) for k, v in value.items()})
    return str(value)


def _per_time(values, ntime: int, name: str):
    arr = np.asarray(values, dtype=float)
    if arr.shape != (ntime,):
        raise ValueError(f"{name}: expected shape ({ntime},) (one value per month), got {arr.shape}")
    return arr


def _grid_field(values, shape, name: str, scale: float = 1.0):
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1 and arr.size == shape[0] * shape[1]:
        arr = arr.reshape(shape)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)} (lat, lon) or a flat cell vector, got {arr.shape}")
    return arr * scale


def _series_field(values, ntime, shape, name: str, scale: float = 1.0):
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 2 and arr.shape == (ntime, shape[0] * shape[1]):
        arr = arr.reshape(ntime, *shape)
    if arr.shape != (ntime, *shape):
        raise ValueError(
            f"{name}: expected shape ({ntime}, {shape[0]}, {shape[1]}) (time, lat, lon) "
            f"or (time, cell), got {arr.shape}"
        )
    return arr * scale


def solution_to_dataset(
    ewh,
    time,
    lat,
    lon,
    cell_area,
    *,
    ewh_error=None,
    trend=None,
    trend_error=None,
    glacier=None,
    alpha_preliminary=None,
    alpha_refined=None,
    variance_factor=None,
    degrees_of_freedom=None,
    variance_factor_preliminary=None,
    degrees_of_freedom_preliminary=None,
    month=None,
    decimal_year=None,
    time_bounds=None,
    glacier_area=None,
    land_mask=None,
    input_sha256: Mapping | None = None,
    parameters: Mapping | None = None,
    provenance: Mapping | None = None,
    title: str = "hma-mascon point-mass mascon solution over High Mountain Asia",
) -> xr.Dataset:
    """Assemble the CF-1.8 output Dataset of a mascon solution (EWH in cm), JPL/CSR layout.

    Parameters
    ----------
    ewh : array_like, shape (time, lat, lon) or (time, cell)
        Mascon EWH [m] (cells in row-major (lat, lon) order when flat). NaN for missing months.
    time : array_like of datetime64, shape (time,)
        Mid-epoch of each solution.
    lat, lon : array_like
        Ascending cell-centre latitudes (geodetic) and longitudes [deg].
    cell_area : array_like, shape (lat, lon) or (cell,)
        Cell areas S_j [m2], the same as used in the design matrix (METHODS.md §3).
    ewh_error : array_like, optional
        1-sigma error of each cell and month [m], same shape as ``ewh``, written as ``uncertainty``
        (the JPL/CSR name; the pipeline writes the estimator's ``stated_error``: formal
        covariance plus the regularization-bias term).
    trend, trend_error : array_like, optional
        Linear trend [m/yr] and its 95 % error [m/yr] per cell (§10.2).
    glacier : array_like, optional
        Glacier signal x_gl(t) [m] (§10.1), same shape as ``ewh``.
    alpha_preliminary, alpha_refined, variance_factor, degrees_of_freedom : array_like, optional
        Per-month diagnostics (§8, §9): regularization parameter of each step, refined-step
        variance factor sigma0^2 and effective number of signal parameters t(alpha).
    variance_factor_preliminary, degrees_of_freedom_preliminary : array_like, optional
        The same for the preliminary step.
    month : array_like of str, optional
        GRACE month labels ``"YYYY-MM"``.
    decimal_year : array_like of float, optional
    time_bounds : array_like of datetime64, shape (time, 2), optional
        Data span ``[start, end)`` of each month (:func:`hma_mascon.product.time_bounds_of`).
    glacier_area : array_like, shape (lat, lon) or (cell,), optional
        Glacier area of each cell [m2] (RGI 6.0); written with ``glacier_area_fraction``.
    land_mask : array_like of 0/1, shape (lat, lon) or (cell,), optional
        1 land, 0 sea (:func:`hma_mascon.product.land_mask`).
    input_sha256 : mapping, optional
        SHA-256 of further input files (path -> digest), merged into ``provenance["input_sha256"]``.
    parameters : mapping, optional
        The preset and every hyper-parameter; stored as global attributes ``param_<name>``.
    provenance : mapping, optional
        Input files, substitutes, data directory... stored as ``provenance_<name>``;
        ``input_sha256`` (path -> digest) as JSON.
    title : str

    Returns
    -------
    xarray.Dataset
        CF-1.8 dataset; see the module docstring for the variables. Fill values are set when
        writing (:func:`write_solution`); in memory a missing value is NaN.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    time = np.asarray(time).astype("datetime64[ns]")
    shape = (lat.size, lon.size)
    nt = time.size
    area = _grid_field(cell_area, shape, "cell_area")
    measures = {"cell_measures": "area: cell_area"}

    data_vars = {}
    data_vars["lwe_thickness"] = (("time", "lat", "lon"), _series_field(ewh, nt, shape, "ewh", _M_TO_CM), {
        "long_name": "liquid water equivalent thickness anomaly", "units": "cm",
        "cell_methods": "area: mean time: mean", **measures,
        **({"ancillary_variables": "uncertainty"} if ewh_error is not None else {}),
        "comment": "point-mass mascon EWH, anomaly about the reference period; no standard_name: the CF "
                   "standard-name table defines none for the lwe thickness of a total mass anomaly"})
    data_vars["cell_area"] = (("lat", "lon"), area, {
        "standard_name": "cell_area", "long_name": "area of the mascon cell (the S_j of the design matrix)",
        "units": "m2", "comment": f"mass [Gt] = sum(lwe_thickness/100 * {RHO_WATER:g} * cell_area) / 1e12"})
    data_vars.update(layout_variables(lat, lon, time, area, time_bounds=time_bounds, glacier_area=glacier_area,
                                      land_mask=land_mask))
    if ewh_error is not None:
        data_vars["uncertainty"] = (("time", "lat", "lon"), _series_field(ewh_error, nt, shape, "ewh_error", _M_TO_CM),
                                    {"long_name": "1-sigma uncertainty of lwe_thickness (formal covariance + "
                                                  "regularization bias)", "units": "cm", **measures})
    if glacier is not None:
        data_vars["glacier_lwe_thickness"] = (
            ("time", "lat", "lon"), _series_field(glacier, nt, shape, "glacier", _M_TO_CM),
            {"long_name": "glacier signal: mascon EWH minus soil moisture minus GIA (METHODS.md 10.1)",
             "units": "cm", **measures})
    if trend is not None:
        data_vars["lwe_thickness_trend"] = (("lat", "lon"), _grid_field(trend, shape, "trend", _M_TO_CM), {
            "long_name": "linear trend of lwe_thickness (six-term fit, METHODS.md 10.2)", "units": "cm yr-1",
            **measures, **({"ancillary_variables": "lwe_thickness_trend_error"} if trend_error is not None else {})})
    if trend_error is not None:
        data_vars["lwe_thickness_trend_error"] = (
            ("lat", "lon"), _grid_field(trend_error, shape, "trend_error", _M_TO_CM),
            {"long_name": "95 % error of the linear trend of lwe_thickness", "units": "cm yr-1", **measures})
    diag = {
        "alpha_preliminary": (alpha_preliminary, "regularization parameter alpha of the preliminary solve"),
        "alpha_refined": (alpha_refined, "regularization parameter alpha of the refined solve"),
        "variance_factor": (variance_factor, "a-posteriori variance factor sigma0^2 of the refined solve"),
        "degrees_of_freedom": (degrees_of_freedom, "effective number of signal parameters t(alpha) of the refined "
                                                   "solve"),
        "variance_factor_preliminary": (variance_factor_preliminary,
                                        "a-posteriori variance factor sigma0^2 of the preliminary solve"),
        "degrees_of_freedom_preliminary": (degrees_of_freedom_preliminary,
                                           "effective number of signal parameters t(alpha) of the preliminary solve"),
    }
    for name, (values, long_name) in diag.items():
        if values is not None:
            data_vars[name] = (("time",), _per_time(values, nt, name), {"long_name": long_name, "units": "1"})

    coords = {
        "time": ("time", time, {"standard_name": "time", "long_name": "mid-epoch of the solution", "axis": "T",
                                **({"bounds": "time_bounds"} if "time_bounds" in data_vars else {})}),
        "lat": ("lat", lat, {"standard_name": "latitude", "long_name": "geodetic latitude of the cell centre",
                             "units": "degrees_north", "axis": "Y", "bounds": "lat_bounds"}),
        "lon": ("lon", lon, {"standard_name": "longitude", "long_name": "longitude of the cell centre",
                             "units": "degrees_east", "axis": "X", "bounds": "lon_bounds"}),
    }
    if month is not None:
        coords["month"] = ("time", np.asarray(month).astype(str), {"long_name": "GRACE month label YYYY-MM"})
    if decimal_year is not None:
        coords["decimal_year"] = ("time", _per_time(decimal_year, nt, "decimal_year"),
                                  {"long_name": "decimal year of the mid-epoch", "units": "1"})

    attrs = {
        "Conventions": "CF-1.8",
        "standard_name_vocabulary": STANDARD_NAME_VOCABULARY,
        "title": title,
        "institution": "hma-mascon (reproduction of Wang, Shen, Chen & Wang 2024, IEEE JSTARS)",
        "source": "GRACE/GRACE-FO Level-2 Stokes coefficients -> point-mass mascon inversion",
        "references": (
            "Wang, Shen, Chen, Wang (2024) High-Spatial Resolution Mascon Solution Over High Mountain Asia "
            "Constrained by Multisource Prior Information, IEEE JSTARS; layout after the JPL RL06 mascons "
            "(Watkins et al. 2015, JGR 120) and the CSR RL06 mascons (Save et al. 2016, JGR 121)"
        ),
        "history": f"{_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')} created by hma-mascon "
        f"{__version__}",
        "hma_mascon_version": __version__,
        "git_commit": git_commit(),
        "geospatial_lat_min": float(data_vars["lat_bounds"][1].min()),
        "geospatial_lat_max": float(data_vars["lat_bounds"][1].max()),
        "geospatial_lon_min": float(data_vars["lon_bounds"][1].min()),
        "geospatial_lon_max": float(data_vars["lon_bounds"][1].max()),
    }
    if "time_bounds" in data_vars and nt:
        tb = data_vars["time_bounds"][1]
        attrs["time_coverage_start"] = str(np.datetime_as_string(tb[:, 0].min(), unit="s")) + "Z"
        attrs["time_coverage_end"] = str(np.datetime_as_string(tb[:, 1].max(), unit="s")) + "Z"
    for key, value in (parameters or {}).items():
        attrs[f"param_{key}"] = _attr_value(value)
    provenance = dict(provenance or {})
    if input_sha256:
        provenance["input_sha256"] = {**dict(provenance.get("input_sha256") or {}), **dict(input_sha256)}
    if "input_sha256" in provenance:  # one attribute, JSON of path -> digest
        provenance["input_sha256"] = json.dumps(dict(provenance["input_sha256"]))
    for key, value in provenance.items():
        attrs[f"provenance_{key}"] = _attr_value(value)
    ds = xr.Dataset(data_vars=data_vars, coords=coords, attrs=attrs)
    ds["time"].encoding = {"units": TIME_UNITS, "calendar": "standard"}  # time_bounds follows on any to_netcdf
    return ds


def write_solution(ds: xr.Dataset, path, *, lock_timeout: float = 0.0) -> Path:
    """Write a solution Dataset to a CF-1.8 netCDF-4 file (compressed) and return its path.

    Float variables are stored with ``_FillValue`` = :data:`FILL_VALUE` (-99999, as in the JPL
    and CSR mascon grids), so NaN in memory is -99999 on disk and NaN again after
    ``xarray.open_dataset`` (or a masked value in netCDF4); bounds, coordinates and ``time``
    have no fill value.

    The file is written to a temporary file beside ``path`` and renamed into place only when
    complete (:func:`hma_mascon.safeio.atomic_path`), under an exclusive lock on ``path``
    (:func:`hma_mascon.safeio.exclusive_lock`): an interrupt or a write error (full disk) leaves
    the previous file intact, and a second concurrent writer is refused. A SIGINT is held back
    until the netCDF library call returns (:func:`hma_mascon.safeio.deferred_interrupt`), then
    the new file is discarded.

    Parameters
    ----------
    ds : xarray.Dataset
        As returned by :func:`solution_to_dataset`.
    path : str or path-like
        Output file; parent folders are created.
    lock_timeout : float
        Seconds to wait for another writer of ``path`` before refusing (default 0: refuse at once).

    Raises
    ------
    ValueError
        When ``ds`` is not a solution or ``path`` is a directory.
    hma_mascon.safeio.AtomicWriteError
        When writing fails (the message names ``path``; the previous file is unchanged).
    hma_mascon.safeio.TargetLockedError
        When another process is writing ``path`` (the message names its pid).
    """
    path = Path(path)
    if "lwe_thickness" not in ds:
        raise ValueError(f"{path}: the dataset has no 'lwe_thickness' variable; build it with solution_to_dataset")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; give the output netCDF file name (e.g. {path / 'solution.nc'})")
    encoding = {}
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "f":  # NaN -> the products' -99999; bounds carry no fill value (CF 7.1)
            encoding[name] = {"zlib": True, "complevel": 4,
                              "_FillValue": None if name in BOUNDS_VARIABLES else FILL_VALUE}
    encoding["time"] = {"units": TIME_UNITS, "calendar": "standard", "dtype": "float64", "_FillValue": None}
    if "time_bounds" in ds:  # units and calendar are those of time; no 'coordinates' on a bounds variable
        encoding["time_bounds"] = dict(encoding["time"])
        ds = ds.copy(deep=False)
        ds["time_bounds"].encoding = {**ds["time_bounds"].encoding, "coordinates": None}
    for name in ("lat", "lon", "decimal_year"):
        if name in ds.coords:
            encoding[name] = {"_FillValue": None}
    with exclusive_lock(path, timeout=lock_timeout), atomic_path(path) as tmp:
        with deferred_interrupt(f"the netCDF write of {path}"):  # HDF5 deadlocks when interrupted
            ds.to_netcdf(tmp, format="NETCDF4", encoding=encoding)
    return path


#: Name used in CONTRIBUTING.md's module map.
solution_to_netcdf = write_solution


def _json_attrs(attrs: Mapping) -> dict:
    """Attributes a Zarr store can hold (JSON): numpy scalars and arrays as Python values."""
    return {k: (v.item() if isinstance(v, np.generic) else v.tolist() if isinstance(v, np.ndarray) else v)
            for k, v in attrs.items()}


def write_zarr(ds: xr.Dataset, path, *, chunks: dict | None = None, lock_timeout: float = 0.0) -> Path:
    """Write ``ds`` as a Zarr store (format 2, consolidated metadata), atomically and under a lock.

    The store is written beside ``path`` and renamed onto it under the same lock as
    :func:`write_solution`, so an interruption leaves any earlier store intact. Missing values stay
    NaN (Zarr's own fill value), not -99999. ``chunks`` (e.g. ``{"member": 1}``) is passed to
    :meth:`xarray.Dataset.chunk`. Read it with ``xarray.open_zarr(path)``.
    """
    path = Path(path)
    out = ds.copy(deep=False)
    out.attrs = _json_attrs(out.attrs)
    for name in out.variables:
        out[name].attrs = _json_attrs(out[name].attrs)
        out[name].encoding = {}
    if chunks:
        out = out.chunk(chunks)
    with exclusive_lock(path, timeout=lock_timeout), atomic_path(path, directory=True) as tmp:
        out.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2)
    return path


def read_solution(path) -> xr.Dataset:
    """Read a solution file written by :func:`write_solution` (loaded into memory).

    Files of older versions keep working: their variables are renamed to the current ones
    (:data:`RENAMED_VARIABLES`, e.g. ``lwe_thickness_error`` -> ``uncertainty``), the bounds
    dimension ``nv`` becomes ``bounds`` and string region coordinates become the ``region_name`` label.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When the file is not a hma-mascon solution (no ``lwe_thickness`` on (time, lat, lon)).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such solution file")
    try:
        with xr.open_dataset(path) as ds:
            ds = ds.load()
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable netCDF file ({exc})") from exc
    if "lwe_thickness" not in ds or ds["lwe_thickness"].dims != ("time", "lat", "lon"):
        raise ValueError(f"{path}: not a hma-mascon solution file (no lwe_thickness(time, lat, lon))")
    old = {k: v for k, v in RENAMED_VARIABLES.items() if k in ds.variables and v not in ds.variables}
    if old:
        ds = ds.rename(old)
        for name in ("lat", "lon"):
            if ds[name].attrs.get("bounds") in old:
                ds[name].attrs["bounds"] = old[ds[name].attrs["bounds"]]
    if "nv" in ds.dims and "bounds" not in ds.dims:
        ds = ds.rename_dims(nv="bounds")
    if "region" in ds.coords and ds["region"].dtype.kind in "USO" and "region_name" not in ds.coords:
        # region names were the (string) dimension coordinate before they became a CF label coordinate
        ds = ds.assign_coords(region_name=("region", ds["region"].values.astype(str))).drop_vars("region")
    return ds
