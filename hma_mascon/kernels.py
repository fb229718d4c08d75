"""Point-mass design matrices (METHODS.md section 5).

The kernels are Newton's potential of a point mass and its gradient, evaluated in closed form
(the paper's choice) or as the degree-``nmax`` truncated Legendre series (the spectrally
consistent option). They are written by hand with numpy: each is a few array expressions over
the ``(n, m)`` matrix of observation-mass pairs, built in row blocks to bound memory. No
library offers exactly these kernels with the EWH scaling G rho_w S_j built in; harmonica's
``point_gravity`` has the same physics (and its ``g_z`` convention equals our radial kernel,
checked in the tests by hand), but works per point set and in mGal.

Geometry (geocentric latitudes phi, longitudes lambda, radii r_i of the observation points and
d_j of the masses):

.. math::
    \\cos\\psi_{ij} = \\sin\\varphi_i\\sin\\varphi_j + \\cos\\varphi_i\\cos\\varphi_j\\cos(\\lambda_i-\\lambda_j),
    \\qquad l_{ij} = (r_i^2 + d_j^2 - 2 r_i d_j\\cos\\psi_{ij})^{1/2}.

Kernels per metre of EWH in cell j (mass M_j = rho_w S_j x_j):

* potential  :math:`A^V_{ij} = G\\rho_w S_j / l_{ij}`  [m2 s-2 per m]
* radial     :math:`A^g_{ij} = G\\rho_w S_j (r_i - d_j\\cos\\psi_{ij}) / l_{ij}^3` = -dV/dr_i > 0 above a mass
* north      :math:`A^N_{ij} = G\\rho_w S_j d_j[\\cos\\varphi_i\\sin\\varphi_j - \\sin\\varphi_i\\cos\\varphi_j\\cos(\\lambda_j-\\lambda_i)]/l^3`
* east       :math:`A^E_{ij} = G\\rho_w S_j d_j\\cos\\varphi_j\\sin(\\lambda_j-\\lambda_i)/l^3`

North and east are the projections of grad(G M/l) at point i on the local unit vectors,
(1/r) dV/dphi and (1/(r cos phi)) dV/dlambda, positive toward the mass; the "3d" matrix stacks
north rows, then east rows, then radial rows (the order of ``synthesis.synthesis_matrix``).

Truncated option (``kernel="truncated"``), with q = d_j / r_i and Legendre polynomials P_n:

.. math::
    A^V_{ij} = G\\rho_w S_j \\sum_{n=0}^{N} d_j^n r_i^{-(n+1)} P_n(\\cos\\psi_{ij}),\\qquad
    A^g_{ij} = G\\rho_w S_j \\sum_{n=0}^{N} (n+1) d_j^n r_i^{-(n+2)} P_n(\\cos\\psi_{ij}).

It equals the SH synthesis (section 4) of the point mass's Stokes coefficients to round-off.

References
----------
Baur, O., & Sneeuw, N. (2011). Assessing Greenland ice mass loss by means of point-mass
modeling. J. Geodesy 85, 713-731.  Heiskanen & Moritz (1967), Physical Geodesy, eq. 1-81.
"""

from __future__ import annotations

import numpy as np

from .constants import RHO_WATER, G

__all__ = [
    "design_matrix",
    "remove_degree0",
    "design_matrix_potential",
    "design_matrix_radial",
    "design_matrix_3d",
    "point_mass_kernel",
]

_BLOCK_ELEMENTS = 2_000_000  # pairs per row block (bounded temporaries, ~16 MB each)


def _obs_arrays(obs):
    lat = np.atleast_1d(np.asarray(obs.lat, float))
    lon = np.atleast_1d(np.asarray(obs.lon, float))
    r = np.broadcast_to(np.asarray(obs.radius, float), lat.shape)
    return lat, lon, r


def _mascon_arrays(mascons):
    lat = getattr(mascons, "lat_geocentric", None)
    if lat is None:
        lat = mascons.lat
    lat = np.atleast_1d(np.asarray(lat, float))
    lon = np.atleast_1d(np.asarray(mascons.lon, float))
    d = np.broadcast_to(np.asarray(mascons.radius, float), lat.shape)
    s = np.broadcast_to(np.asarray(mascons.area, float), lat.shape)
    return lat, lon, d, s


def point_mass_kernel(lat_obs, lon_obs, r_obs, lat_mass, lon_mass, d_mass, area, quantity="radial",
                      kernel="closed", nmax=96, rho=RHO_WATER):
    """Point-mass kernel matrix for arbitrary points (the engine behind the ``design_matrix_*``).

    Parameters
    ----------
    lat_obs, lon_obs, r_obs : array_like (n,)
        Geocentric latitude, longitude [deg] and radius [m] of the observation points.
    lat_mass, lon_mass, d_mass, area : array_like (m,)
        Geocentric latitude, longitude [deg], radius [m] and cell area [m2] of the masses.
    quantity : {"potential", "radial", "north", "east"}
    kernel : {"closed", "truncated"}
    nmax : int
        Truncation degree of the ``"truncated"`` kernel.
    rho : float
        Density converting EWH [m] to surface density [kg m-2] (rho_w).

    Returns
    -------
    ndarray (n, m), float64
        SI units per metre EWH: m2 s-2 m-1 (potential) or m s-2 m-1 (gravity components).
    """
    if quantity not in ("potential", "radial", "north", "east"):
        raise ValueError(f"unknown quantity {quantity!r}")
    if kernel not in ("closed", "truncated"):
        raise ValueError(f'kernel must be "closed" or "truncated", got {kernel!r}')
    if kernel == "truncated" and quantity in ("north", "east"):
        raise NotImplementedError("the truncated kernel is implemented for potential and radial only")
    lat_i = np.deg2rad(np.atleast_1d(np.asarray(lat_obs, float)))
    lon_i = np.deg2rad(np.atleast_1d(np.asarray(lon_obs, float)))
    r_i = np.broadcast_to(np.asarray(r_obs, float), lat_i.shape)
    lat_j = np.deg2rad(np.atleast_1d(np.asarray(lat_mass, float)))
    lon_j = np.deg2rad(np.atleast_1d(np.asarray(lon_mass, float)))
    d_j = np.broadcast_to(np.asarray(d_mass, float), lat_j.shape)
    scale = G * rho * np.broadcast_to(np.asarray(area, float), lat_j.shape)

    n, m = lat_i.size, lat_j.size
    out = np.empty((n, m), dtype=np.float64)
    sin_j, cos_j = np.sin(lat_j), np.cos(lat_j)
    step = max(1, _BLOCK_ELEMENTS // max(m, 1))
    for start in range(0, n, step):
        sl = slice(start, min(n, start + step))
        si = np.sin(lat_i[sl])[:, None]
        ci = np.cos(lat_i[sl])[:, None]
        dlon = lon_j[None, :] - lon_i[sl][:, None]  # lambda_j - lambda_i
        cdl = np.cos(dlon)
        cospsi = si * sin_j + ci * cos_j * cdl
        np.clip(cospsi, -1.0, 1.0, out=cospsi)
        r = r_i[sl][:, None]
        if kernel == "closed":
            l2 = r * r + d_j * d_j - 2.0 * r * d_j * cospsi
            if quantity == "potential":
                blk = 1.0 / np.sqrt(l2)
            else:
                inv_l3 = l2 ** (-1.5)
                if quantity == "radial":
                    blk = (r - d_j * cospsi) * inv_l3
                elif quantity == "north":
                    blk = d_j * (ci * sin_j - si * cos_j * cdl) * inv_l3
                else:  # east
                    blk = d_j * cos_j * np.sin(dlon) * inv_l3
        else:
            blk = _truncated_series(cospsi, r, d_j, nmax, radial=(quantity == "radial"))
        blk *= scale
        out[sl] = blk
    return out


def _truncated_series(t, r, d, nmax, radial):
    """sum_{n=0}^{nmax} c_n q^n P_n(t) / r^{p}, q = d/r, c_n = n+1 (radial, p=2) or 1 (potential, p=1)."""
    q = d / r
    p_prev = np.ones_like(t)  # P_0
    p_cur = t.copy()  # P_1
    qn = np.ones_like(t) * np.ones_like(q)  # q^0
    acc = p_prev * qn  # n = 0 term (c_0 = 1 for both)
    if nmax >= 1:
        qn = qn * q
        acc += (2.0 if radial else 1.0) * qn * p_cur
    for nn in range(1, nmax):
        # P_{n+1} = ((2n+1) t P_n - n P_{n-1}) / (n+1)
        p_next = ((2 * nn + 1) * t * p_cur - nn * p_prev) / (nn + 1)
        p_prev, p_cur = p_cur, p_next
        qn *= q
        acc += ((nn + 2) if radial else 1.0) * qn * p_cur
    return acc / (r * r if radial else r)


def design_matrix_potential(obs, mascons, kernel="closed", nmax=96):
    """Potential design matrix A^V (n, m) [m2 s-2 per m EWH]; see the module docstring."""
    return point_mass_kernel(*_obs_arrays(obs), *_mascon_arrays(mascons), quantity="potential",
                             kernel=kernel, nmax=nmax)


def design_matrix_radial(obs, mascons, kernel="closed", nmax=96):
    """Radial design matrix A^g (n, m) = -dV/dr [m s-2 per m EWH] (the paper's observation type)."""
    return point_mass_kernel(*_obs_arrays(obs), *_mascon_arrays(mascons), quantity="radial",
                             kernel=kernel, nmax=nmax)


def design_matrix_3d(obs, mascons, kernel="closed", nmax=96):
    """3-D design matrix (3n, m): north rows, then east rows, then radial rows [m s-2 per m EWH].

    Only the closed form exists for the horizontal components.
    """
    if kernel != "closed":
        raise NotImplementedError('design_matrix_3d supports kernel="closed" only')
    o, mm = _obs_arrays(obs), _mascon_arrays(mascons)
    return np.vstack([point_mass_kernel(*o, *mm, quantity=q) for q in ("north", "east", "radial")])


def design_matrix(obs, mascons, kind="radial", kernel="closed", nmax=96):
    """Design matrix of observation type ``kind`` in {"potential", "radial", "3d"}.

    Parameters
    ----------
    obs : ObservationGrid
        Or any object with geocentric ``lat``, ``lon`` [deg] and ``radius`` [m].
    mascons : MasconGrid
        Or any object with ``lat_geocentric`` (or ``lat``), ``lon``, ``radius`` and ``area``.
    kind : {"potential", "radial", "3d"}
    kernel : {"closed", "truncated"}
    nmax : int
        Degree of the truncated kernel.
    """
    if kind == "potential":
        return design_matrix_potential(obs, mascons, kernel, nmax)
    if kind == "radial":
        return design_matrix_radial(obs, mascons, kernel, nmax)
    if kind == "3d":
        return design_matrix_3d(obs, mascons, kernel, nmax)
    raise ValueError(f'kind must be "potential", "radial" or "3d", got {kind!r}')


def remove_degree0(A, obs, grid, kind="radial"):
    """Take the degree-0 (total-mass) term out of point-mass kernel columns.

    The degree-0 part of a point mass M_j = ρ_w S_j x_j is G M_j / r_i (potential) and
    G M_j / r_i² (radial, -∂/∂r); it has no horizontal gradient. The data carry no degree 0
    (ΔC00 = 0), so the consistent kernel is A - (that term).

    Parameters
    ----------
    A : ndarray (n, m) or (3n, m) for "3d" (north, east, radial row blocks)
    obs : ObservationGrid
    grid : MasconGrid
    kind : {"radial", "potential", "3d"}
    """
    r = np.asarray(obs.radius, float)
    mass = G * RHO_WATER * np.asarray(grid.area, float)
    A = np.array(A, dtype=float, copy=True)
    if kind == "potential":
        A -= np.outer(1.0 / r, mass)
    elif kind == "radial":
        A -= np.outer(1.0 / r**2, mass)
    elif kind == "3d":
        n = r.size
        A[2 * n:] -= np.outer(1.0 / r**2, mass)
    else:
        raise ValueError(f"kind must be radial, potential or 3d, got {kind!r}")
    return A
