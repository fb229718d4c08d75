"""Mascon and observation grids (METHODS.md section 3).

Everything here is written by hand with numpy: the geometry is a few closed formulas
(geodetic -> Earth-centred Cartesian -> geocentric latitude and radius, and the exact
ellipsoidal zone area), and writing them out keeps the conventions visible. xarray only
labels the output of :meth:`MasconGrid.to_dataarray`.

Conventions
-----------
* Mascon cells are indexed in C order over ``(lat, lon)``: cell ``j = i_lat * nlon + i_lon``,
  latitudes and longitudes ascending. Every cell vector (x, r, S, ...) uses this order.
* Mascon centres are *geodetic* coordinates on the ellipsoid (Ditmar 2018); the point
  masses sit at geocentric latitude ``lat_geocentric`` and radius ``radius`` (= d_j).
* Observation points are geocentric (a sphere of radius ``a_s + H``).

References
----------
Ditmar, P. (2018). Conversion of time-varying Stokes coefficients into mass anomalies at the
Earth's surface considering the Earth's oblateness. J. Geodesy 92, 1401-1412.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from .constants import A_GRACE, ELLIPSOIDS, HMA_BOX, R_MEAN, Ellipsoid

__all__ = [
    "grid_of_solution",
    "MasconGrid",
    "ObservationGrid",
    "mascon_grid",
    "grid_limits",
    "observation_grid",
    "ellipsoidal_cell_area",
    "spherical_cell_area",
    "geodetic_to_geocentric",
    "grid_axis",
]


def _ellipsoid(ellipsoid: str | Ellipsoid) -> Ellipsoid:
    if isinstance(ellipsoid, Ellipsoid):
        return ellipsoid
    try:
        return ELLIPSOIDS[str(ellipsoid).upper()]
    except KeyError:
        raise ValueError(f"unknown ellipsoid {ellipsoid!r}; choose one of {sorted(ELLIPSOIDS)}") from None


def geodetic_to_geocentric(lat, lon, height=0.0, ellipsoid="GRS80"):
    """Geodetic (lat, lon, h) -> geocentric latitude [deg] and radius [m].

    .. math::
        N = a/\\sqrt{1-e^2\\sin^2\\varphi},\\quad
        (X, Y, Z) = ((N+h)\\cos\\varphi\\cos\\lambda, (N+h)\\cos\\varphi\\sin\\lambda,
        (N(1-e^2)+h)\\sin\\varphi),

    :math:`d = |(X,Y,Z)|`, :math:`\\varphi_c = \\operatorname{atan2}(Z, \\sqrt{X^2+Y^2})`.

    Parameters
    ----------
    lat, lon : array_like
        Geodetic latitude and longitude [deg].
    height : array_like
        Ellipsoidal height [m] (0 puts the point on the ellipsoid).
    ellipsoid : str or Ellipsoid

    Returns
    -------
    lat_geocentric : ndarray [deg]
    radius : ndarray [m]
    """
    ell = _ellipsoid(ellipsoid)
    phi = np.deg2rad(np.asarray(lat, dtype=float))
    h = np.asarray(height, dtype=float)
    sin = np.sin(phi)
    n_prime = ell.a / np.sqrt(1.0 - ell.e2 * sin**2)
    rho = (n_prime + h) * np.cos(phi)  # sqrt(X^2 + Y^2), independent of lon
    z = (n_prime * (1.0 - ell.e2) + h) * sin
    lat_c = np.rad2deg(np.arctan2(z, rho))
    radius = np.hypot(rho, z)
    lat_c, radius = np.broadcast_arrays(lat_c, radius)
    return np.array(lat_c), np.array(radius)


def _authalic_F(phi, e):
    s = np.sin(phi)
    return s / (2.0 * (1.0 - e**2 * s**2)) + np.log((1.0 + e * s) / (1.0 - e * s)) / (4.0 * e)


def ellipsoidal_cell_area(lat_south, lat_north, dlon, ellipsoid="GRS80"):
    """Exact area of an ellipsoidal cell bounded by two parallels and two meridians [m2].

    .. math::
        S = a^2(1-e^2)\\,\\Delta\\lambda\\,[F(\\varphi_n) - F(\\varphi_s)],\\quad
        F(\\varphi) = \\frac{\\sin\\varphi}{2(1-e^2\\sin^2\\varphi)}
        + \\frac{1}{4e}\\ln\\frac{1+e\\sin\\varphi}{1-e\\sin\\varphi}

    Parameters
    ----------
    lat_south, lat_north : array_like
        Geodetic latitudes of the bounding parallels [deg].
    dlon : array_like
        Longitude width [deg].
    ellipsoid : str or Ellipsoid
    """
    ell = _ellipsoid(ellipsoid)
    fn = _authalic_F(np.deg2rad(np.asarray(lat_north, float)), ell.e)
    fs = _authalic_F(np.deg2rad(np.asarray(lat_south, float)), ell.e)
    return ell.a**2 * (1.0 - ell.e2) * np.deg2rad(np.asarray(dlon, float)) * (fn - fs)


def spherical_cell_area(lat_south, lat_north, dlon, radius):
    """Area of a spherical cell, :math:`R^2\\Delta\\lambda(\\sin\\varphi_n - \\sin\\varphi_s)` [m2]."""
    return (
        radius**2
        * np.deg2rad(np.asarray(dlon, float))
        * (np.sin(np.deg2rad(np.asarray(lat_north, float))) - np.sin(np.deg2rad(np.asarray(lat_south, float))))
    )


def grid_axis(start: float, stop: float, step: float, centres: bool) -> np.ndarray:
    """Grid axis over ``[start, stop]``.

    ``centres=True``: cell centres ``start + step/2, ..., stop - step/2`` (the interval must hold
    a whole number of cells). ``centres=False``: nodes ``start, start+step, ...`` up to the last
    node not beyond ``stop`` (the AMB-3 rule: 26.0:0.4:47 -> 26.0 ... 46.8).
    """
    span = (stop - start) / step
    if centres:
        ncell = int(round(span))
        if ncell < 1 or abs(span - ncell) > 1e-6:
            raise ValueError(f"interval [{start}, {stop}] does not hold a whole number of {step} deg cells")
        return start + step * (np.arange(ncell) + 0.5)
    nnode = int(np.floor(span + 1e-9)) + 1
    return np.round(start + step * np.arange(nnode), 10)


@dataclass(frozen=True, eq=False)
class MasconGrid:
    """Point-mass (mascon) grid.

    Attributes
    ----------
    lat, lon : ndarray (m,)
        Geodetic latitude and longitude of the cell centres [deg], C order over (lat, lon).
    lat_axis, lon_axis : ndarray
        The ascending 1-D axes; ``shape = (lat_axis.size, lon_axis.size)``.
    lat_geocentric : ndarray (m,)
        Geocentric latitude of the point masses [deg].
    radius : ndarray (m,)
        Geocentric radius d_j of the point masses [m].
    area : ndarray (m,)
        Cell area S_j [m2] (the same S_j enters the kernels and every Gt conversion).
    is_buffer : ndarray of bool (m,)
        True for cells of the optional buffer ring (excluded from reported sums).
    resolution : float
        Cell size [deg].
    ellipsoid, area_kind, height_kind : str
        Provenance of the geometry.
    """

    lat: np.ndarray
    lon: np.ndarray
    lat_axis: np.ndarray
    lon_axis: np.ndarray
    lat_geocentric: np.ndarray
    radius: np.ndarray
    area: np.ndarray
    is_buffer: np.ndarray
    resolution: float
    ellipsoid: str = "GRS80"
    area_kind: str = "ellipsoidal"
    height_kind: str = "ellipsoid"
    attrs: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """Grid shape ``(nlat, nlon)``."""
        return (self.lat_axis.size, self.lon_axis.size)

    @property
    def size(self) -> int:
        """Number of cells m."""
        return self.lat.size

    def to_dataarray(self, values, name: str | None = None, units: str = "m",
                     long_name: str | None = None, extra_dims: tuple[str, ...] = ()) -> xr.DataArray:
        """Reshape a cell vector into a labelled ``(..., lat, lon)`` DataArray.

        Parameters
        ----------
        values : array_like, shape (..., m)
            Cell values; leading dimensions are named by ``extra_dims`` (e.g. ``("time",)``).
        name, units, long_name : str
            CF metadata.
        extra_dims : tuple of str
            Names of the leading dimensions.
        """
        values = np.asarray(values)
        if values.shape[-1] != self.size:
            raise ValueError(f"expected {self.size} cell values in the last axis, got shape {values.shape}")
        lead = values.shape[:-1]
        if len(extra_dims) != len(lead):
            raise ValueError(f"extra_dims {extra_dims} does not name the leading axes of shape {lead}")
        data = values.reshape(lead + self.shape)
        attrs = {"units": units}
        if long_name:
            attrs["long_name"] = long_name
        coords = {
            "lat": ("lat", self.lat_axis, {"units": "degrees_north", "long_name": "geodetic latitude of cell centre",
                                           "standard_name": "latitude"}),
            "lon": ("lon", self.lon_axis, {"units": "degrees_east", "long_name": "longitude of cell centre",
                                           "standard_name": "longitude"}),
        }
        return xr.DataArray(data, dims=tuple(extra_dims) + ("lat", "lon"), coords=coords, name=name, attrs=attrs)

    def from_dataarray(self, da) -> np.ndarray:
        """Inverse of :meth:`to_dataarray`: flatten the trailing ``(lat, lon)`` into the cell axis."""
        arr = np.asarray(da.transpose(..., "lat", "lon") if hasattr(da, "transpose") else da)
        if arr.shape[-2:] != self.shape:
            raise ValueError(f"expected trailing grid shape {self.shape}, got {arr.shape}")
        return arr.reshape(arr.shape[:-2] + (self.size,))


def grid_of_solution(sol: xr.Dataset, ellipsoid: str = "GRS80") -> MasconGrid:
    """The :class:`MasconGrid` of a solution Dataset (``lat``, ``lon``, ``cell_area``, ``is_buffer``).

    The cell areas are the solution's own ``cell_area`` (the S_j of its design matrix); the point-mass
    positions are recomputed on ``ellipsoid`` (heights 0).
    """
    lat_axis = np.asarray(sol["lat"].values, float)
    lon_axis = np.asarray(sol["lon"].values, float)
    lat2, lon2 = np.meshgrid(lat_axis, lon_axis, indexing="ij")
    lat, lon = lat2.ravel(), lon2.ravel()
    lat_c, radius = geodetic_to_geocentric(lat, lon, 0.0, _ellipsoid(ellipsoid))
    area = np.asarray(sol["cell_area"].transpose("lat", "lon").values, float).ravel()
    buf = sol["is_buffer"].transpose("lat", "lon").values if "is_buffer" in sol else np.zeros(lat2.shape)
    resolution = float(np.min(np.diff(lat_axis))) if lat_axis.size > 1 else 0.5
    return MasconGrid(lat=lat, lon=lon, lat_axis=lat_axis, lon_axis=lon_axis, lat_geocentric=lat_c, radius=radius,
                      area=area, is_buffer=np.asarray(buf, bool).ravel(), resolution=resolution,
                      ellipsoid=ellipsoid, area_kind="from the solution")


@dataclass(frozen=True, eq=False)
class ObservationGrid:
    """Pseudo-observation points at satellite altitude (geocentric).

    Attributes
    ----------
    lat, lon : ndarray (n,)
        Geocentric latitude and longitude [deg], C order over (lat, lon).
    lat_axis, lon_axis : ndarray
    radius : ndarray (n,)
        Geocentric radius r_i = a_s + H [m].
    altitude : float
        H [m].
    is_buffer : ndarray of bool (n,)
    resolution : float
    """

    lat: np.ndarray
    lon: np.ndarray
    lat_axis: np.ndarray
    lon_axis: np.ndarray
    radius: np.ndarray
    altitude: float
    is_buffer: np.ndarray
    resolution: float

    @property
    def shape(self) -> tuple[int, int]:
        return (self.lat_axis.size, self.lon_axis.size)

    @property
    def size(self) -> int:
        return self.lat.size


def _in_box(lat, lon, box, tol=1e-9):
    lon_min, lon_max, lat_min, lat_max = box
    return (lon >= lon_min - tol) & (lon <= lon_max + tol) & (lat >= lat_min - tol) & (lat <= lat_max + tol)


def grid_limits(box, buffer_deg: float = 0.0, extent=None) -> tuple:
    """The (lon_min, lon_max, lat_min, lat_max) a grid covers: ``box`` widened by ``buffer_deg`` on every
    side and, when ``extent`` (a box) is given, by as much more as it takes to cover ``extent`` too."""
    lon_min, lon_max, lat_min, lat_max = box
    out = [lon_min - buffer_deg, lon_max + buffer_deg, lat_min - buffer_deg, lat_max + buffer_deg]
    if extent is not None:
        e = [float(v) for v in extent]
        out = [min(out[0], e[0]), max(out[1], e[1]), min(out[2], e[2]), max(out[3], e[3])]
    return tuple(float(v) for v in out)


def mascon_grid(box=HMA_BOX, resolution: float = 0.5, buffer_deg: float = 0.0, ellipsoid="GRS80",
                area: str = "ellipsoidal", height: str = "ellipsoid", heights=None, extent=None) -> MasconGrid:
    """Build the mascon grid of METHODS.md section 3.

    Parameters
    ----------
    box : (lon_min, lon_max, lat_min, lat_max)
        Box in degrees; default the paper's 65-105E, 26-47N (42 x 80 = 3360 cells at 0.5 deg).
    resolution : float
        Cell size [deg].
    buffer_deg : float
        Width of an extra ring of cells around the box (a multiple of ``resolution``), flagged
        ``is_buffer``.
    ellipsoid : {"GRS80", "WGS84"}
    area : {"ellipsoidal", "spherical"}
        Cell area rule; spherical uses the IUGG mean radius R1.
    height : {"ellipsoid", "topography"}
        AMB-1: masses on the ellipsoid (default) or at the cell-mean ellipsoidal height given by
        ``heights`` (shape ``(nlat, nlon)`` or ``(m,)``, metres). The topography option moves
        the point along the ellipsoid normal (``N -> N + h``), which raises d_j by ~h.
    heights : array_like, optional
        Required for ``height="topography"``.
    extent : (lon_min, lon_max, lat_min, lat_max), optional
        A box the buffer also covers (:func:`grid_limits`): a buffer wider on one side, for a large mass
        change outside the box that the grid must hold (parameter ``buffer_extent``). Its edges must lie
        on the box's lattice (whole cells from the box's edges).
    """

    if buffer_deg < 0:
        raise ValueError("buffer_deg must be >= 0")
    nbuf = int(round(buffer_deg / resolution))
    if abs(nbuf * resolution - buffer_deg) > 1e-9:
        raise ValueError(f"buffer_deg={buffer_deg} is not a multiple of the resolution {resolution}")
    lon0, lon1, lat0, lat1 = grid_limits(box, buffer_deg, extent)
    if extent is not None:
        steps = (np.array([lon0, lon1, lat0, lat1]) - np.asarray(box, float)) / resolution
        if np.any(np.abs(steps - np.round(steps)) > 1e-6):
            raise ValueError(f"buffer extent {tuple(extent)} is not on the lattice of the box {tuple(box)} at "
                             f"{resolution} deg: its edges must be whole cells from the box's")
    lat_axis = grid_axis(lat0, lat1, resolution, centres=True)
    lon_axis = grid_axis(lon0, lon1, resolution, centres=True)
    if lat_axis[0] < -90 or lat_axis[-1] > 90:
        raise ValueError("box plus buffer crosses a pole")
    lat2, lon2 = np.meshgrid(lat_axis, lon_axis, indexing="ij")
    lat = lat2.ravel()
    lon = lon2.ravel()
    ell = _ellipsoid(ellipsoid)
    if height == "ellipsoid":
        h = 0.0
    elif height == "topography":
        if heights is None:
            raise ValueError('height="topography" needs the cell-mean ellipsoidal heights (heights=...)')
        h = np.asarray(heights, float).reshape(-1)
        if h.size != lat.size:
            raise ValueError(f"heights has {h.size} values, the grid has {lat.size} cells")
    else:
        raise ValueError(f'height must be "ellipsoid" or "topography", got {height!r}')
    lat_c, radius = geodetic_to_geocentric(lat, lon, h, ell)
    half = resolution / 2.0
    if area == "ellipsoidal":
        s = ellipsoidal_cell_area(lat - half, lat + half, resolution, ell)
    elif area == "spherical":
        s = spherical_cell_area(lat - half, lat + half, resolution, R_MEAN)
    else:
        raise ValueError(f'area must be "ellipsoidal" or "spherical", got {area!r}')
    is_buffer = ~_in_box(lat, lon, box)
    return MasconGrid(lat=lat, lon=lon, lat_axis=lat_axis, lon_axis=lon_axis, lat_geocentric=lat_c,
                      radius=radius, area=np.asarray(s, float), is_buffer=is_buffer, resolution=float(resolution),
                      ellipsoid=ell.name, area_kind=area, height_kind=height)


def observation_grid(box=HMA_BOX, resolution: float = 0.4, altitude: float = 450e3, buffer_deg: float = 0.0,
                     radius: float = A_GRACE, extent=None) -> ObservationGrid:
    """Build the pseudo-observation grid (METHODS.md section 3, AMB-2, AMB-3).

    Nodes ``lon_min - b : res : lon_max + b`` and ``lat_min - b : res : lat_max + b`` (last node not
    beyond the upper edge), geocentric, on the sphere ``r = radius + altitude``. Default: 101 x 53 =
    5353 points at 450 km. ``extent``: a box the nodes also cover (:func:`grid_limits`).
    """
    if altitude <= 0:
        raise ValueError("altitude must be positive (metres above the reference sphere)")
    lon0, lon1, lat0, lat1 = grid_limits(box, buffer_deg, extent)
    lat_axis = grid_axis(lat0, lat1, resolution, centres=False)
    lon_axis = grid_axis(lon0, lon1, resolution, centres=False)
    lat2, lon2 = np.meshgrid(lat_axis, lon_axis, indexing="ij")
    lat = lat2.ravel()
    lon = lon2.ravel()
    r = np.full(lat.size, float(radius) + float(altitude))
    return ObservationGrid(lat=lat, lon=lon, lat_axis=lat_axis, lon_axis=lon_axis, radius=r,
                           altitude=float(altitude), is_buffer=~_in_box(lat, lon, box), resolution=float(resolution))
