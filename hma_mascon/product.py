"""What the solution file holds besides the solve: the JPL/CSR mascon product layout (CF-1.8).

Users script against the JPL RL06 (``GRCTellus.JPL.*.MSCNv03CRI.nc``, Watkins et al. 2015) and
CSR RL06 (``CSR_GRACE_GRACE-FO_RL06*_Mascons_all-corrections.nc``, Save et al. 2016) grids, so
:func:`hma_mascon.output.solution_to_dataset` writes their names where they have one. This module
makes the fields those products carry and a solve does not: the cell bounds (``lat_bounds``,
``lon_bounds``, ``time_bounds`` on a dimension ``bounds`` of size 2, as in the JPL files), the
glacier area of each cell, the land mask, and the variables and attributes that describe them
(:func:`layout_variables`). :func:`product_fields` gathers them from a solve's prepared inputs.

Choices written here, with their reasons:

* **Fill value.** Float fields are stored with ``_FillValue`` :data:`FILL_VALUE` = -99999, the
  value of the JPL and CSR grids; netCDF readers (xarray, netCDF4, NCO) decode it to NaN/masked.
  Bounds carry no fill value (CF 1.8 §7.1: boundary variables must not have one).
* **Land mask.** No land-sea product is in the offline data, so the mask is made from the
  Natural Earth 1:50m land polygons that the package ships for its maps
  (:data:`hma_mascon.maps.NATURALEARTH_FILE`, 40-120E, 10-60N): a cell is land (1) when at least
  :data:`LAND_THRESHOLD` of it, measured in the lon/lat plane, lies inside them. Inland water
  bodies that the extract counts as land (Balkhash, Issyk-Kul, Qinghai Lake, the Aral Sea) are
  land here; the Caspian Sea is sea. Cells beyond the extract (the regions beyond HMA, issue 14)
  take the land fraction from the 1-km GLOBE land/sea grid of the ``global-land-mask`` package
  (sampled on a 0.05-degree lattice inside each cell), with the same threshold.
* **Glacier area.** RGI 6.0 glacier area per 0.5-degree cell (``rgi6_glacier_area``, gridded
  by Li et al. 2021) regridded to the mascon cells with
  :func:`hma_mascon.glacier_regions.glacier_area_cells`, the same numbers every reproduced
  glacier sum uses; written in m2 beside ``cell_area`` and as a fraction of it.
* **Standard names.** Only names the CF standard-name table defines (checked against table v93,
  :data:`STANDARD_NAME_VOCABULARY`): ``time``, ``latitude``, ``longitude``, ``cell_area``,
  ``land_binary_mask`` and ``land_ice_area_fraction``. The table has no ``lwe_thickness``
  (only ``lwe_thickness_of_<something>_amount``), so the mascon fields carry a ``long_name`` only,
  although the JPL and CSR files put ``lwe_thickness`` there.

References
----------
Eaton, B. et al. (2020). NetCDF Climate and Forecast (CF) Metadata Conventions, version 1.8.
Watkins, M. M. et al. (2015). Improved methods for observing Earth's time variable mass
distribution with GRACE using spherical cap mascons. JGR Solid Earth 120, 2648-2671.
Save, H., Bettadpur, S., Tapley, B. D. (2016). High-resolution CSR GRACE RL05 mascons.
JGR Solid Earth 121, 7547-7569.
RGI Consortium (2017). Randolph Glacier Inventory 6.0, doi:10.7265/N5-RGI-60; gridded by Li, Y.
et al. (2021), J. Glaciol. 67, 773-776.
"""

from __future__ import annotations


import numpy as np
import shapely
import xarray as xr

from .datadir import dataset_exists, file_sha256
from .glacier_regions import glacier_area_cells
from .maps import NATURALEARTH_BOX, NATURALEARTH_FILE, load_naturalearth

__all__ = [
    "FILL_VALUE",
    "LAND_THRESHOLD",
    "STANDARD_NAME_VOCABULARY",
    "BOUNDS_VARIABLES",
    "cell_bounds",
    "land_mask",
    "inside_naturalearth",
    "globe_land_fraction",
    "time_bounds_of",
    "layout_variables",
    "product_fields",
]

#: Fill value of the float fields on disk (the JPL and CSR mascon grids use -99999).
FILL_VALUE = -99999.0

#: Land fraction (lon/lat plane) from which a cell is land in :func:`land_mask`.
LAND_THRESHOLD = 0.5

#: The CF standard-name table the file's standard names were checked against (global attribute).
STANDARD_NAME_VOCABULARY = "CF Standard Name Table v93"

#: Names of the bounds variables (written without a fill value).
BOUNDS_VARIABLES = ("lat_bounds", "lon_bounds", "time_bounds")

#: Key of the Natural Earth extract in the record of input checksums (a file of the package).
NATURALEARTH_KEY = "hma_mascon/data/naturalearth/asia_50m.geojson"


def cell_bounds(centres, name: str = "coordinate") -> np.ndarray:
    """Cell bounds ``(n, 2)`` of a regular grid of cell centres (half a spacing either side).

    Parameters
    ----------
    centres : array_like, shape (n,)
        Ascending, equally spaced centres [deg].
    name : str
        Used in the error message.

    Returns
    -------
    numpy.ndarray, shape (n, 2)
    """
    c = np.asarray(centres, dtype=float)
    if c.ndim != 1 or c.size < 1:
        raise ValueError(f"{name}: expected a 1-D array of cell centres, got shape {c.shape}")
    if c.size == 1:
        raise ValueError(f"{name}: cannot infer the cell size from a single centre")
    d = np.diff(c)
    if np.any(d <= 0) or not np.allclose(d, d[0], rtol=1e-6, atol=1e-9):
        raise ValueError(f"{name}: cell centres must be ascending and equally spaced")
    h = d[0] / 2.0
    return np.stack([c - h, c + h], axis=1)


def land_mask(lat, lon, threshold: float = LAND_THRESHOLD) -> np.ndarray | None:
    """Land/sea mask of the cells from the shipped Natural Earth extract (1 land, 0 sea).

    Parameters
    ----------
    lat, lon : array_like
        Ascending, equally spaced cell centres [deg].
    threshold : float
        Land fraction (in the lon/lat plane, which within a 0.5-degree cell differs from the area
        fraction by < 0.5 %) from which a cell is land.

    Returns
    -------
    numpy.ndarray of int8, shape (lat, lon)
        From the Natural Earth extract where all cells lie inside
        :data:`hma_mascon.maps.NATURALEARTH_BOX`, else from the GLOBE grid (:func:`globe_land_fraction`).
    """
    lat_b, lon_b = cell_bounds(lat, "lat"), cell_bounds(lon, "lon")
    if not inside_naturalearth(lat, lon):
        return (globe_land_fraction(lat_b, lon_b) >= threshold).astype("i1")
    land = load_naturalearth()["land"]
    shapely.prepare(land)
    la0, lo0 = np.meshgrid(lat_b[:, 0], lon_b[:, 0], indexing="ij")
    la1, lo1 = np.meshgrid(lat_b[:, 1], lon_b[:, 1], indexing="ij")
    cells = shapely.box(lo0.ravel(), la0.ravel(), lo1.ravel(), la1.ravel())
    inside = shapely.contains_properly(land, cells)
    frac = inside.astype(float)
    edge = ~inside & shapely.intersects(land, cells)  # coast cells only: intersections are slow
    frac[edge] = shapely.area(shapely.intersection(cells[edge], land)) / shapely.area(cells[edge])
    return (frac >= threshold).astype("i1").reshape(la0.shape)


def inside_naturalearth(lat, lon) -> bool:
    """Whether cells with centres ``lat``, ``lon`` lie inside the shipped Natural Earth extract."""
    lat_b, lon_b = cell_bounds(lat, "lat"), cell_bounds(lon, "lon")
    x0, x1, y0, y1 = NATURALEARTH_BOX
    return bool(lon_b.min() >= x0 and lon_b.max() <= x1 and lat_b.min() >= y0 and lat_b.max() <= y1)


def globe_land_fraction(lat_b, lon_b, step: float = 0.05) -> np.ndarray:
    """Land fraction (lat, lon) of cells with bounds ``lat_b``, ``lon_b`` (n, 2) from the GLOBE land/sea
    grid of ``global-land-mask``, sampled on a ``step``-degree lattice inside each cell (lon/lat plane).

    ``global_land_mask`` is imported here, not at the module top: importing it reads its whole 1 km
    grid (0.93 GB), which a solve inside the Natural Earth extract (HMA) never needs and which, held
    from the start, was a quarter of the default solve's peak memory."""
    from global_land_mask import globe  # deliberately lazy: see above

    n = max(1, int(round((lat_b[0, 1] - lat_b[0, 0]) / step)))
    off = (np.arange(n) + 0.5) / n
    la = lat_b[:, :1] + off[None, :] * (lat_b[:, 1:] - lat_b[:, :1])  # (nlat, n)
    lo = lon_b[:, :1] + off[None, :] * (lon_b[:, 1:] - lon_b[:, :1])  # (nlon, n)
    lo = (lo + 180.0) % 360.0 - 180.0
    LA, LO = np.meshgrid(la.ravel(), lo.ravel(), indexing="ij")
    land = globe.is_land(np.clip(LA, -89.999, 89.999), np.clip(LO, -179.999, 179.999)).astype(float)
    return land.reshape(la.shape[0], n, lo.shape[0], n).mean(axis=(1, 3))


def time_bounds_of(stokes: xr.Dataset, time=None) -> np.ndarray:
    """Data span ``[time_start, time_end)`` of each month of a coefficient container, shape (time, 2).

    Parameters
    ----------
    stokes : xarray.Dataset
        Coefficient container with the ``time_start`` / ``time_end`` coordinates (CONTRIBUTING.md;
        ``time_end`` exclusive).
    time : array_like of datetime64, optional
        The solution's months (a subset of ``stokes.time``); default all.

    Returns
    -------
    numpy.ndarray of datetime64[ns], shape (time, 2)
    """
    if "time_start" not in stokes.coords or "time_end" not in stokes.coords:
        raise ValueError("time_bounds_of: the coefficient container has no time_start/time_end coordinates")
    sel = stokes if time is None else stokes.sel(time=np.asarray(time).astype("datetime64[ns]"))
    return np.stack([sel["time_start"].values, sel["time_end"].values], axis=1).astype("datetime64[ns]")


def _grid(values, shape, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1 and arr.size == shape[0] * shape[1]:
        arr = arr.reshape(shape)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)} (lat, lon) or a flat cell vector, got {arr.shape}")
    return arr


def layout_variables(lat, lon, time, cell_area, *, time_bounds=None, glacier_area=None,
                     land_mask=None) -> dict:
    """The product's bounds, glacier-area and land-mask variables, with their CF attributes.

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Ascending cell centres [deg].
    time : numpy.ndarray of datetime64[ns]
        Mid-epochs of the months.
    cell_area : numpy.ndarray, shape (lat, lon)
        Cell areas S_j [m2].
    time_bounds : array_like of datetime64, shape (time, 2), optional
        Data span ``[start, end)`` of each month (:func:`time_bounds_of`).
    glacier_area : array_like, shape (lat, lon) or (cell,), optional
        Glacier area of each cell [m2]; written with ``glacier_area_fraction``.
    land_mask : array_like of 0/1, shape (lat, lon) or (cell,), optional
        1 land, 0 sea (:func:`land_mask`).

    Returns
    -------
    dict
        Variable name -> ``(dims, values, attrs)`` for :class:`xarray.Dataset`.
    """
    shape = (lat.size, lon.size)
    out = {"lat_bounds": (("lat", "bounds"), cell_bounds(lat, "lat"), {}),
           "lon_bounds": (("lon", "bounds"), cell_bounds(lon, "lon"), {})}
    if time_bounds is not None:
        tb = np.asarray(time_bounds).astype("datetime64[ns]")
        if tb.shape != (time.size, 2):
            raise ValueError(f"time_bounds: expected shape ({time.size}, 2) (start, end of each month), "
                             f"got {tb.shape}")
        if np.any(tb[:, 0] > time) or np.any(time >= tb[:, 1]):
            raise ValueError("time_bounds: each month's [start, end) must contain its mid-epoch time")
        out["time_bounds"] = (("time", "bounds"), tb, {})
    if glacier_area is not None:
        ga = _grid(glacier_area, shape, "glacier_area")
        out["glacier_area"] = (("lat", "lon"), ga, {
            "long_name": "glacier area in the cell (RGI 6.0, gridded by Li et al. 2021)", "units": "m2",
            "cell_measures": "area: cell_area",
            "comment": "0 where the cell holds no glacier; the glacier cells are glacier_area > 0"})
        out["glacier_area_fraction"] = (("lat", "lon"), ga / cell_area, {
            "standard_name": "land_ice_area_fraction", "long_name": "glacier_area / cell_area", "units": "1",
            "cell_measures": "area: cell_area"})
    if land_mask is not None:
        lm = _grid(land_mask, shape, "land_mask")
        if not np.isin(lm, (0, 1)).all():
            raise ValueError("land_mask: expected 0 (sea) or 1 (land) in every cell")
        out["land_mask"] = (("lat", "lon"), lm.astype("i1"), {
            "standard_name": "land_binary_mask", "long_name": "land mask (1 land, 0 sea)", "units": "1",
            "flag_values": np.array([0, 1], dtype="i1"), "flag_meanings": "sea land",
            "comment": f"1 where at least {LAND_THRESHOLD:g} of the cell (lon/lat plane) lies inside the land "
                       "polygons of the Natural Earth 1:50m extract shipped with hma-mascon"})
    return out


def product_fields(inputs, time=None) -> dict:
    """What the JPL/CSR layout adds to a solve, from its prepared inputs.

    Parameters
    ----------
    inputs : hma_mascon.inputs.PreparedInputs
        Uses ``stokes`` (time bounds), ``grid`` (cells) and ``data_dir`` (glacier area).
    time : array_like of datetime64, optional
        The solution's months (default all months of ``inputs.stokes``).

    Returns
    -------
    dict
        Keywords of :func:`hma_mascon.output.solution_to_dataset`: ``time_bounds`` (time, 2);
        ``glacier_area`` [m2] per cell (None when the data directory lacks ``rgi6_glacier_area``);
        ``land_mask`` (:func:`land_mask`); ``input_sha256``, the SHA-256 of the Natural Earth file
        when the land mask uses it.
    """
    grid, data_dir = inputs.grid, inputs.data_dir
    area = None
    if dataset_exists("rgi6_glacier_area", data_dir):
        area = 1e6 * np.asarray(glacier_area_cells(data_dir, grid), dtype=float)  # km2 -> m2
    mask = land_mask(grid.lat_axis, grid.lon_axis)
    ne = inside_naturalearth(grid.lat_axis, grid.lon_axis)
    sha = {NATURALEARTH_KEY: file_sha256(NATURALEARTH_FILE)} if ne else {}
    return {"time_bounds": time_bounds_of(inputs.stokes, time), "glacier_area": area, "land_mask": mask,
            "input_sha256": sha}
