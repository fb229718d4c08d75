r"""Spherical-harmonic synthesis and analysis: Stokes coefficients <-> EWH and gravity.

METHODS.md sections 1, 4 and 10.7. Conventions: 4pi fully normalised associated Legendre
functions :math:`\bar P_{nm}` without the Condon-Shortley phase; geocentric latitude
:math:`\varphi` (degrees), longitude :math:`\lambda` (degrees), radius r [m]; SI units.
T is the potential of the surface load only (:math:`\kappa_n = 1/(1+k'_n)` applied),
:math:`\delta g = -\partial T/\partial r` is positive above a mass excess.

What does the work
------------------
* pyshtools (SHTOOLS, Wieczorek & Meschede 2018) evaluates every Legendre function
  (:func:`pyshtools.legendre.PlmBar`, :func:`pyshtools.legendre.PlmBar_d1`) and does the
  global-grid analysis (:func:`pyshtools.expand.SHExpandDH`, :func:`SHExpandGLQ`); it is also
  the independent reference the tests compare with (``MakeGravGridDH``, ``MakeGridPoint``).
* Written by hand, because pyshtools has no such routine:

  - :func:`synthesis_matrix`: the matrix B (points x coefficients) of a linear functional of
    the coefficients (pyshtools synthesises grids for one coefficient set, it does not return
    the operator). It is built once, row block per latitude (Legendre values depend on
    latitude only), so all months are one matrix product ``y = c @ B.T``.
  - :func:`stokes_to_ewh_grid`: synthesis on an arbitrary regular lat/lon grid (not a DH or
    GLQ grid) for many epochs at once as one tensor contraction.
  - :func:`analyse_ewh_grid`: analysis of a piecewise-constant field on arbitrary cells with
    exact cell integrals (Gauss-Legendre in latitude inside each cell row, where
    :math:`\bar P_{nm}(\sin\varphi)\cos\varphi` is a trigonometric polynomial of degree n+1,
    and closed-form longitude integrals of :math:`\cos m\lambda`, :math:`\sin m\lambda`).
  - the EWH <-> Stokes degree factors of Wahr et al. (1998).

References
----------
Heiskanen, W. A. & Moritz, H. (1967), Physical Geodesy, Freeman.
Wahr, J., Molenaar, M. & Bryan, F. (1998), J. Geophys. Res. 103(B12), 30205-30229.
Wieczorek, M. A. & Meschede, M. (2018), Geochem. Geophys. Geosyst. 19, 2574-2592.
"""

from __future__ import annotations

import numpy as np
import pyshtools
import xarray as xr

from .constants import RHO_EARTH, RHO_WATER, G
from .love_numbers import as_love_array
from .stokes import coefficient_index

QUANTITIES = ("potential", "radial", "north", "east", "3d")


# --------------------------------------------------------------------------- helpers
def _rho_e(rho_e, GM=None, radius=None) -> float:
    if isinstance(rho_e, str):
        if rho_e != "consistent":
            raise ValueError(f"rho_e must be a number or 'consistent', got {rho_e!r}")
        if GM is None or radius is None:
            raise ValueError("rho_e='consistent' needs GM and radius")
        return 3.0 * GM / (4.0 * np.pi * G * radius**3)
    return float(rho_e)


def _plm_index(n, m):
    return n * (n + 1) // 2 + m


def legendre_table(lat_deg, nmax: int, derivative: bool = False):
    r"""4pi-normalised :math:`\bar P_{nm}(\sin\varphi)` (no Condon-Shortley phase) per latitude.

    Returns an array ``(nlat, nmax+1, nmax+1)`` indexed ``[i, n, m]`` (0 for m > n); with
    ``derivative=True`` also :math:`d\bar P_{nm}/dz` with :math:`z = \sin\varphi`
    (pyshtools.legendre.PlmBar / PlmBar_d1).
    """
    lat = np.atleast_1d(np.asarray(lat_deg, dtype=float))
    nn, mm = np.tril_indices(nmax + 1)
    idx = _plm_index(nn, mm)
    P = np.zeros((lat.size, nmax + 1, nmax + 1))
    dP = np.zeros_like(P) if derivative else None
    for i, z in enumerate(np.sin(np.deg2rad(lat))):
        if derivative:
            p, d = pyshtools.legendre.PlmBar_d1(nmax, z, csphase=1, cnorm=0)
            dP[i, nn, mm] = d[idx]
        else:
            p = pyshtools.legendre.PlmBar(nmax, z, csphase=1, cnorm=0)
        P[i, nn, mm] = p[idx]
    return (P, dP) if derivative else P


def _split(C, S=None):
    """Arrays C, S and attrs from arrays or a coefficient container."""
    if isinstance(C, xr.Dataset):
        ds = C
        return ds["C"].values, ds["S"].values, ds
    if S is None:
        raise TypeError("give both C and S arrays (or one coefficient container)")
    C = np.asarray(C, dtype=float)
    S = np.asarray(S, dtype=float)
    if C.shape != S.shape or C.shape[-1] != C.shape[-2]:
        raise ValueError(f"C and S must have the same shape (..., N+1, N+1); got {C.shape}, {S.shape}")
    return C, S, None


# --------------------------------------------------------------------------- degree factors
def ewh_degree_factors(nmax: int, love, radius: float, rho_e=RHO_EARTH, GM=None, inverse: bool = False):
    r"""Stokes -> EWH factor per degree (Wahr et al. 1998, eq. 14).

    .. math:: h_{nm} = \frac{a\,\rho_e\,(2n+1)}{3\rho_w (1 + k'_n)}\,C_{nm}

    Parameters
    ----------
    nmax : int
    love : DataArray or array_like
        :math:`k'_n`, n = 0..nmax (``None``: no elastic correction).
    radius : float
        Reference radius a of the coefficients [m].
    rho_e : float or "consistent"
        Mean Earth density [kg m-3]; ``"consistent"`` gives :math:`3GM/(4\pi G a^3)` (needs GM).
    inverse : bool
        Return the EWH -> Stokes factor :math:`3\rho_w(1+k'_n)/(a\rho_e(2n+1))` instead.

    Returns
    -------
    numpy.ndarray, shape (nmax+1,) [m per unit Stokes coefficient, or its inverse]
    """
    k = as_love_array(love, nmax)
    n = np.arange(nmax + 1)
    f = radius * _rho_e(rho_e, GM, radius) * (2 * n + 1) / (3.0 * RHO_WATER * (1.0 + k))
    return 1.0 / f if inverse else f


def stokes_degree_factors(nmax: int, love, radius: float, rho_e=RHO_EARTH, GM=None):
    """EWH -> Stokes factor per degree, the inverse of :func:`ewh_degree_factors`."""
    return ewh_degree_factors(nmax, love, radius, rho_e, GM, inverse=True)


def stokes_to_ewh_coefficients(C, S, love, radius: float, rho_e=RHO_EARTH, GM=None):
    """EWH coefficients [m] from Stokes coefficients ``(..., N+1, N+1)``; returns (hC, hS)."""
    C, S, _ = _split(C, S)
    f = ewh_degree_factors(C.shape[-1] - 1, love, radius, rho_e, GM)[:, None]
    return C * f, S * f


def ewh_coefficients_to_stokes(hC, hS, love, radius: float, rho_e=RHO_EARTH, GM=None):
    r"""Stokes coefficients from EWH coefficients [m]:
    :math:`C_{nm} = 3\rho_w(1+k'_n)/(a\rho_e(2n+1))\,\hat\sigma_{nm}`; returns (C, S)."""
    hC = np.asarray(hC, dtype=float)
    hS = np.asarray(hS, dtype=float)
    f = ewh_degree_factors(hC.shape[-1] - 1, love, radius, rho_e, GM, inverse=True)[:, None]
    return hC * f, hS * f


def point_mass_coefficients(mass: float, lat: float, lon: float, d: float, nmax: int, GM: float, radius: float):
    r"""Stokes coefficients of the potential of a point mass (METHODS.md section 12).

    .. math:: C_{nm} + i S_{nm} = \frac{M}{M_E}\left(\frac{d}{a}\right)^n
        \frac{\bar P_{nm}(\sin\varphi_j)}{2n+1}\,(\cos m\lambda_j + i \sin m\lambda_j),
        \quad M_E = GM/G.

    This is the load's own potential; multiply by :math:`1+k'_n` for a GRACE-like field.
    """
    P = legendre_table([lat], nmax)[0]
    n = np.arange(nmax + 1)[:, None]
    m = np.arange(nmax + 1)[None, :]
    base = mass * G / GM * (d / radius) ** n * P / (2 * n + 1)
    lam = np.deg2rad(lon)
    return base * np.cos(m * lam), base * np.sin(m * lam)


# --------------------------------------------------------------------------- grids
def stokes_to_ewh_grid(
    C,
    S=None,
    lat=None,
    lon=None,
    love=None,
    radius=None,
    weights=None,
    rho_e=RHO_EARTH,
    nmin: int = 0,
    GM=None,
):
    r"""Equivalent water height on a regular lat/lon grid (METHODS.md 10.7.1).

    .. math:: h(\varphi,\lambda) = \frac{a\rho_e}{3\rho_w}\sum_{n}\frac{2n+1}{1+k'_n} W_n
        \sum_{m=0}^{n}\bar P_{nm}(\sin\varphi)[C_{nm}\cos m\lambda + S_{nm}\sin m\lambda]

    Parameters
    ----------
    C, S : array_like, shape (..., N+1, N+1)
        Stokes coefficients (anomalies); or ``C`` a coefficient container (then call as
        ``stokes_to_ewh_grid(ds, lat, lon, love)``; ``radius`` and ``GM`` from its attrs).
    lat, lon : array_like
        1-D grid latitudes and longitudes [degrees, geocentric].
    love : DataArray or array_like
        :math:`k'_n` (``None``: no elastic correction).
    radius : float
        Reference radius a [m] of the coefficients.
    weights : array_like, optional
        Degree weights :math:`W_n` (e.g. :func:`hma_mascon.filters.gaussian_weights`).
    rho_e : float or "consistent"
    nmin : int
        Lowest degree synthesised.

    Returns
    -------
    numpy.ndarray ``(..., nlat, nlon)`` [m]; for a container an :class:`xarray.DataArray`
    ``(time, lat, lon)`` (or ``(lat, lon)``) with CF attributes.
    """
    if isinstance(C, xr.Dataset) and S is not None and not (hasattr(S, "shape") and np.ndim(S) >= 2):
        # stokes_to_ewh_grid(ds, lat, lon, love[, radius]) positional form
        S, lat, lon, love, radius = None, S, lat, lon, love if radius is None else radius
        if isinstance(radius, (xr.DataArray, np.ndarray, list)):
            radius = None
    Cv, Sv, ds = _split(C, S)
    if ds is not None:
        radius = float(ds.attrs["radius"]) if radius is None else radius
        GM = ds.attrs.get("GM") if GM is None else GM
    if radius is None or lat is None or lon is None:
        raise TypeError("stokes_to_ewh_grid needs lat, lon and radius")
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    N = Cv.shape[-1] - 1
    f = ewh_degree_factors(N, love, radius, rho_e, GM)
    if weights is not None:
        w = np.asarray(getattr(weights, "values", weights), dtype=float)[: N + 1]
        if w.size < N + 1:
            raise ValueError(f"weights given to degree {w.size - 1}, need {N}")
        f = f * w
    f[:nmin] = 0.0
    P = legendre_table(lat, N)  # (y, n, m)
    Cf = np.nan_to_num(Cv) * f[:, None]
    Sf = np.nan_to_num(Sv) * f[:, None]
    a = np.einsum("ynm,...nm->...ym", P, Cf)
    b = np.einsum("ynm,...nm->...ym", P, Sf)
    ml = np.outer(np.arange(N + 1), np.deg2rad(lon))  # (m, x)
    h = a @ np.cos(ml) + b @ np.sin(ml)
    if ds is None:
        return h
    dims = (("time",) if "time" in ds["C"].dims else ()) + ("lat", "lon")
    coords = {
        "lat": ("lat", lat, {"units": "degrees_north", "long_name": "geocentric latitude", "standard_name": "latitude"}),
        "lon": ("lon", lon, {"units": "degrees_east", "long_name": "longitude", "standard_name": "longitude"}),
    }
    if "time" in dims:
        coords["time"] = ds["time"]
        for c in ("decimal_year", "month"):
            if c in ds.coords:
                coords[c] = ds[c]
    units = "m/yr" if str(ds["C"].attrs.get("units", "")) in ("1/yr", "yr-1") else "m"
    return xr.DataArray(
        h,
        dims=dims,
        coords=coords,
        name="ewh",
        attrs={
            "units": units,
            "long_name": "equivalent water height" + (" rate" if units == "m/yr" else ""),
            "standard_name": "lwe_thickness" if units == "m" else "tendency_of_lwe_thickness",
            "comment": f"SH synthesis n={nmin}..{N}, rho_e={_rho_e(rho_e, GM, radius):.1f} kg m-3, "
            f"kappa_n=1/(1+k'_n){', degree weights applied' if weights is not None else ''}",
        },
    )


def synthesis_matrix(
    lat,
    lon,
    r,
    nmax: int,
    GM: float,
    radius: float,
    love,
    quantity: str = "radial",
    nmin: int = 1,
    dtype=np.float64,
):
    r"""Synthesis matrix B with ``y = B c`` for the load's potential or its gradient.

    Columns follow :func:`hma_mascon.stokes.coefficient_index` ``(nmax, nmin)``; with
    :math:`q = a/r` and :math:`\kappa_n = 1/(1+k'_n)` (METHODS.md section 4):

    * ``"potential"``: :math:`T = \frac{GM}{r}\sum q^n\kappa_n\bar P_{nm}(\sin\varphi)
      [C\cos m\lambda + S\sin m\lambda]` [m2 s-2];
    * ``"radial"``: :math:`\delta g = -\partial T/\partial r = \frac{GM}{r^2}\sum (n+1)q^n
      \kappa_n \bar P_{nm}[\dots]` [m s-2], positive above a mass excess;
    * ``"north"``: :math:`\frac1r\partial T/\partial\varphi = \frac{GM}{r^2}\sum q^n\kappa_n
      \cos\varphi\,\frac{d\bar P_{nm}}{dz}[\dots]` (z = sin φ; equal to
      :math:`-\frac{GM}{r^2}\sum q^n\kappa_n\,\partial_\theta\bar P_{nm}[\dots]`);
    * ``"east"``: :math:`\frac{1}{r\cos\varphi}\partial T/\partial\lambda = \frac{GM}{r^2\cos\varphi}
      \sum q^n\kappa_n m\bar P_{nm}[-C\sin m\lambda + S\cos m\lambda]`;
    * ``"3d"``: north, east and radial blocks stacked row-wise: rows ``0..n-1`` north,
      ``n..2n-1`` east, ``2n..3n-1`` radial (shape ``(3 n, ncoef)``).

    North and east are undefined at the poles (cos φ = 0).

    Parameters
    ----------
    lat, lon : array_like
        Point latitudes (geocentric) and longitudes [degrees], same length (points, not a
        grid: pass a flattened mesh).
    r : float or array_like
        Point radii [m].
    nmax, nmin : int
    GM, radius : float
        Constants of the coefficients [m3 s-2], [m].
    love : DataArray or array_like or None
        :math:`k'_n` (``None``: :math:`\kappa_n = 1`).
    quantity : str
        One of :data:`QUANTITIES`.
    dtype : numpy dtype
        Of the result (float32 halves the memory; default float64).

    Returns
    -------
    numpy.ndarray, shape (npoints, ncoef) or (3 npoints, ncoef)
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
    lat = np.atleast_1d(np.asarray(lat, dtype=float)).ravel()
    lon = np.atleast_1d(np.asarray(lon, dtype=float)).ravel()
    if lat.shape != lon.shape:
        raise ValueError(f"lat and lon must have the same number of points, got {lat.size} and {lon.size}")
    npts = lat.size
    r = np.broadcast_to(np.asarray(r, dtype=float), (npts,))
    n, m, s = coefficient_index(nmax, nmin)
    ncoef = n.size
    kappa = 1.0 / (1.0 + as_love_array(love, nmax))
    parts = ["north", "east", "radial"] if quantity == "3d" else [quantity]
    need_d = "north" in parts
    B = np.empty((len(parts) * npts, ncoef), dtype=dtype)
    lm = _plm_index(n, m)
    is_s = s.astype(bool)
    ulat, inverse = np.unique(lat, return_inverse=True)
    degs = np.arange(nmax + 1)
    for u, phi in enumerate(ulat):
        rows = np.nonzero(inverse == u)[0]
        z = np.sin(np.deg2rad(phi))
        cphi = np.cos(np.deg2rad(phi))
        if need_d:
            p, dp = pyshtools.legendre.PlmBar_d1(nmax, z, csphase=1, cnorm=0)
            dP = dp[lm]
        else:
            p = pyshtools.legendre.PlmBar(nmax, z, csphase=1, cnorm=0)
        P = p[lm]
        rr = r[rows][:, None]
        qn = (radius / rr) ** degs[None, :]  # (k, nmax+1)
        base = (qn * kappa[None, :])[:, n]  # (k, ncoef)
        lam = np.deg2rad(lon[rows])[:, None] * degs[None, :]
        cm, sm = np.cos(lam)[:, m], np.sin(lam)[:, m]
        trig = np.where(is_s[None, :], sm, cm)
        for j, part in enumerate(parts):
            if part == "potential":
                val = (GM / rr) * base * P * trig
            elif part == "radial":
                val = (GM / rr**2) * base * (n + 1)[None, :] * P * trig
            elif part == "north":
                val = (GM / rr**2) * base * (cphi * dP) * trig
            else:  # east
                dtrig = np.where(is_s[None, :], cm, -sm) * m[None, :]
                val = (GM / (rr**2 * cphi)) * base * P * dtrig
            B[j * npts + rows] = val
    return B


# --------------------------------------------------------------------------- analysis
def _edges_from_centres(c):
    c = np.asarray(c, dtype=float)
    d = np.diff(c)
    if c.size < 2 or not np.allclose(d, d[0]):
        raise ValueError("cell edges can only be inferred from evenly spaced centres; pass edges")
    return np.concatenate([c - d[0] / 2, [c[-1] + d[0] / 2]])


def analyse_ewh_grid(ewh, lat_edges=None, lon_edges=None, nmax: int = 96, n_gauss: int | None = None):
    r"""SH analysis of a cell-wise constant EWH field with exact cell integrals (METHODS.md 10.7.2).

    .. math:: \hat\sigma_{nm}^{c,s} = \frac{1}{4\pi}\sum_j h_j
        \int_{\varphi_s}^{\varphi_n}\bar P_{nm}(\sin\varphi)\cos\varphi\,d\varphi
        \int_{\lambda_w}^{\lambda_e}\{\cos,\sin\}(m\lambda)\,d\lambda

    The latitude integral uses Gauss-Legendre quadrature in φ inside each cell row (the
    integrand is a trigonometric polynomial of degree n+1, so ``n_gauss`` nodes with
    :math:`(n+1)\Delta\varphi/2` well below ``n_gauss`` make it exact to round-off; default
    ``ceil((nmax+1) Δφ / 2) + 6``); the longitude integrals are analytic:
    :math:`[\sin m\lambda]/m`, :math:`[-\cos m\lambda]/m` (Δλ for m = 0). Cells outside the
    given grid count as zero, so a regional grid is implicitly embedded in a global one.

    Parameters
    ----------
    ewh : array_like ``(..., nlat, nlon)`` or DataArray with dims ``lat``, ``lon`` (last)
        Cell values [m]. NaN counts as 0.
    lat_edges, lon_edges : array_like, optional
        Cell edges [degrees] (nlat+1, nlon+1); inferred from evenly spaced DataArray
        coordinates when omitted.
    nmax : int
    n_gauss : int, optional

    Returns
    -------
    (hC, hS) : numpy.ndarray ``(..., nmax+1, nmax+1)`` EWH coefficients [m] (0 for m > n).
    """
    if isinstance(ewh, xr.DataArray):
        if lat_edges is None:
            lat_edges = _edges_from_centres(ewh["lat"].values)
        if lon_edges is None:
            lon_edges = _edges_from_centres(ewh["lon"].values)
        ewh = ewh.transpose(..., "lat", "lon").values
    h = np.nan_to_num(np.asarray(ewh, dtype=float))
    le = np.deg2rad(np.asarray(lat_edges, dtype=float))
    oe = np.deg2rad(np.asarray(lon_edges, dtype=float))
    if h.shape[-2:] != (le.size - 1, oe.size - 1):
        raise ValueError(f"ewh grid {h.shape[-2:]} does not match edges ({le.size - 1}, {oe.size - 1})")
    dphi = np.abs(np.diff(le))
    if n_gauss is None:
        n_gauss = int(np.ceil((nmax + 1) * dphi.max() / 2.0)) + 6
    x, wq = np.polynomial.legendre.leggauss(n_gauss)
    # latitude integrals I[row, n, m]
    I = np.zeros((le.size - 1, nmax + 1, nmax + 1))
    for i in range(le.size - 1):
        a, b = le[i], le[i + 1]
        phi = 0.5 * (b - a) * x + 0.5 * (a + b)
        P = legendre_table(np.rad2deg(phi), nmax)
        I[i] = 0.5 * (b - a) * np.einsum("q,qnm->nm", wq * np.cos(phi), P)
    # longitude integrals L[col, m]
    mm = np.arange(nmax + 1)[None, :]
    lw, le_ = oe[:-1, None], oe[1:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        Lc = np.where(mm == 0, le_ - lw, (np.sin(mm * le_) - np.sin(mm * lw)) / np.where(mm == 0, 1, mm))
        Ls = np.where(mm == 0, 0.0, (np.cos(mm * lw) - np.cos(mm * le_)) / np.where(mm == 0, 1, mm))
    hc = np.einsum("...yx,xm->...ym", h, Lc)
    hs = np.einsum("...yx,xm->...ym", h, Ls)
    hC = np.einsum("...ym,ynm->...nm", hc, I) / (4 * np.pi)
    hS = np.einsum("...ym,ynm->...nm", hs, I) / (4 * np.pi)
    return hC, hS


def analyse_global_grid(ewh_global, nmax: int, grid: str = "DH"):
    """SH analysis of a band-limited global grid with pyshtools (exact for n <= nmax).

    Parameters
    ----------
    ewh_global : array_like ``(..., nlat, nlon)``
        Values on a pyshtools grid: ``"DH"`` (Driscoll-Healy, nlat = 2(L+1), nlon = nlat or
        2 nlat, latitudes 90 .. -90+Δ, longitudes 0 .. 360-Δ; :func:`pyshtools.expand.SHExpandDH`)
        or ``"GLQ"`` (Gauss-Legendre nodes of :func:`pyshtools.expand.SHGLQ`, nlat = L+1,
        nlon = 2L+1; :func:`pyshtools.expand.SHExpandGLQ`).
    nmax : int
        Degree of the result (<= the grid's degree).
    grid : {"DH", "GLQ"}

    Returns
    -------
    (hC, hS) : numpy.ndarray ``(..., nmax+1, nmax+1)`` in the units of the grid.
    """
    g = np.asarray(ewh_global, dtype=float)
    lead = g.shape[:-2]
    flat = g.reshape((-1,) + g.shape[-2:])
    outC = np.zeros((flat.shape[0], nmax + 1, nmax + 1))
    outS = np.zeros_like(outC)
    for i, f in enumerate(flat):
        if grid == "DH":
            nlat, nlon = f.shape
            sampling = nlon // nlat
            if nlat % 2 or sampling not in (1, 2) or nlon != sampling * nlat:
                raise ValueError(f"DH grid must be (2(L+1), 2(L+1)) or (2(L+1), 4(L+1)); got {f.shape}")
            cilm = pyshtools.expand.SHExpandDH(f, norm=1, sampling=sampling, csphase=1, lmax_calc=nmax)
        elif grid == "GLQ":
            L = f.shape[0] - 1
            if f.shape[1] != 2 * L + 1:
                raise ValueError(f"GLQ grid must be (L+1, 2L+1); got {f.shape}")
            zero, w = pyshtools.expand.SHGLQ(L)
            cilm = pyshtools.expand.SHExpandGLQ(f, w, zero, norm=1, csphase=1, lmax_calc=nmax)
        else:
            raise ValueError(f"grid must be 'DH' or 'GLQ', got {grid!r}")
        outC[i], outS[i] = cilm[0], cilm[1]
    return outC.reshape(lead + outC.shape[1:]), outS.reshape(lead + outS.shape[1:])
