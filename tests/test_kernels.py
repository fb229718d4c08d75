"""Tests of the point-mass kernels (METHODS.md sections 5 and 12)."""

import importlib.util

import numpy as np
import pytest
from pyshtools.legendre import PlmBar, PlmIndex

from hma_mascon.constants import A_GRACE, GM_GRACE, RHO_WATER, G
from hma_mascon.geometry import mascon_grid, observation_grid
from hma_mascon.kernels import design_matrix, design_matrix_3d, point_mass_kernel


class Points:
    def __init__(self, lat, lon, radius, area=None):
        self.lat = np.atleast_1d(np.asarray(lat, float))
        self.lon = np.atleast_1d(np.asarray(lon, float))
        self.radius = np.broadcast_to(np.asarray(radius, float), self.lat.shape)
        if area is not None:
            self.lat_geocentric = self.lat
            self.area = np.broadcast_to(np.asarray(area, float), self.lat.shape)


SMALL_BOX = (85.0, 90.0, 30.0, 34.0)


def test_mass_directly_below_gives_positive_radial_disturbance():
    # harmonica's spherical g_z (downward) of a point mass M at distance l straight below is
    # + G M / l^2 (in mGal: x 1e5); written by hand, no harmonica dependency.
    d, r, area = 6.37e6, 6.37e6 + 450e3, 2.5e9
    mass = Points(30.0, 90.0, d, area)
    obs = Points(30.0, 90.0, r)
    a = design_matrix(obs, mass, kind="radial")[0, 0]
    g_z_mgal = G * RHO_WATER * area / (r - d) ** 2 * 1e5
    assert a > 0
    assert np.isclose(a, g_z_mgal * 1e-5, rtol=1e-13)
    # general position: harmonica's kernel (r - d cos psi)/l^3, built from Cartesian vectors
    obs2 = Points([31.3, 25.0], [92.1, 70.0], r)
    p = np.array([[r * np.cos(np.deg2rad(la)) * np.cos(np.deg2rad(lo)), r * np.cos(np.deg2rad(la)) * np.sin(np.deg2rad(lo)),
                   r * np.sin(np.deg2rad(la))] for la, lo in zip(obs2.lat, obs2.lon)])
    q = d * np.array([np.cos(np.deg2rad(30)) * np.cos(np.deg2rad(90)), np.cos(np.deg2rad(30)) * np.sin(np.deg2rad(90)),
                      np.sin(np.deg2rad(30))])
    diff = p - q
    l = np.linalg.norm(diff, axis=1)
    radial_unit = p / np.linalg.norm(p, axis=1)[:, None]
    g_down = G * RHO_WATER * area * np.sum(diff * radial_unit, axis=1) / l**3  # -dV/dr
    assert np.allclose(design_matrix(obs2, mass, kind="radial")[:, 0], g_down, rtol=1e-12)
    # potential positive and decreasing with distance
    v = design_matrix(Points([30.0, 31.0, 35.0], [90.0] * 3, r), mass, kind="potential")[:, 0]
    assert np.all(v > 0) and np.all(np.diff(v) < 0)


def _sh_point_mass(obs, lat_j, lon_j, d_j, mass, nmax, quantity, kprime):
    """Independent SH route (METHODS.md section 12): point-mass Stokes coefficients times (1 + k'_n),
    synthesised with the section-4 formulas (kappa_n applied) by explicit Legendre sums."""
    me = GM_GRACE / G
    a = A_GRACE
    pj = PlmBar(nmax, np.sin(np.deg2rad(lat_j)), csphase=1, cnorm=0)
    out = np.empty(obs.lat.size)
    n_idx = np.concatenate([[n] * (n + 1) for n in range(nmax + 1)])
    m_idx = np.concatenate([np.arange(n + 1) for n in range(nmax + 1)])
    idx = PlmIndex(n_idx, m_idx)
    love = 1 + kprime[n_idx]
    cnm = mass / me * (d_j / a) ** n_idx * pj[idx] * np.cos(m_idx * np.deg2rad(lon_j)) / (2 * n_idx + 1) * love
    snm = mass / me * (d_j / a) ** n_idx * pj[idx] * np.sin(m_idx * np.deg2rad(lon_j)) / (2 * n_idx + 1) * love
    for i, (la, lo, r) in enumerate(zip(obs.lat, obs.lon, obs.radius)):
        pi_ = PlmBar(nmax, np.sin(np.deg2rad(la)), csphase=1, cnorm=0)[idx]
        trig = cnm * np.cos(m_idx * np.deg2rad(lo)) + snm * np.sin(m_idx * np.deg2rad(lo))
        kappa = 1.0 / love
        if quantity == "potential":
            out[i] = GM_GRACE / r * np.sum((a / r) ** n_idx * kappa * pi_ * trig)
        else:
            out[i] = GM_GRACE / r**2 * np.sum((n_idx + 1) * (a / r) ** n_idx * kappa * pi_ * trig)
    return out


@pytest.mark.parametrize("quantity", ["radial", "potential"])
def test_kernel_equals_sh_synthesis_of_point_mass(quantity):
    nmax = 96
    # elastic load Love numbers (any values with 1 + k'_n != 0: they cancel between section 12 and 4)
    kprime = np.concatenate([[0.0, 0.021], -0.3025 * 2 / np.arange(2, nmax + 1) ** 0.8])
    g = mascon_grid(box=SMALL_BOX)
    j = 37
    mass_cell = Points(g.lat_geocentric[j], g.lon[j], g.radius[j], g.area[j])
    obs = Points([g.lat_geocentric[j], 31.0, 29.0, 36.0], [g.lon[j], 87.2, 91.0, 84.0], A_GRACE + 450e3)
    sh = _sh_point_mass(obs, g.lat_geocentric[j], g.lon[j], g.radius[j], RHO_WATER * g.area[j], nmax, quantity, kprime)
    trunc = design_matrix(obs, mass_cell, kind=quantity, kernel="truncated", nmax=nmax)[:, 0]
    closed = design_matrix(obs, mass_cell, kind=quantity, kernel="closed")[:, 0]
    # truncated kernel = SH synthesis to round-off
    assert np.max(np.abs(trunc - sh)) / np.max(np.abs(sh)) < 1e-11
    # closed kernel = SH synthesis to the truncation error: measured 0.92 % (radial) and 0.12 % (potential)
    # of the peak directly above at 450 km, d/o 96
    rel = np.max(np.abs(closed - sh)) / np.max(np.abs(closed))
    assert rel < (0.02 if quantity == "radial" else 3e-3)
    # and the truncation error shrinks as nmax grows (the closed form is the limit)
    errs = [np.max(np.abs(closed - design_matrix(obs, mass_cell, kind=quantity, kernel="truncated", nmax=nn)[:, 0]))
            for nn in (48, 96, 192, 400)]
    assert np.all(np.diff(errs) < 0) and errs[-1] / np.max(np.abs(closed)) < 1e-8


@pytest.mark.skipif(importlib.util.find_spec("hma_mascon.synthesis") is None, reason="synthesis module not available")
def test_kernels_match_synthesis_module():
    """The synthesis module's B applied to point-mass coefficients x (1 + k'_n) (section 12):
    truncated kernels to round-off; closed 3-D kernel (north, east, radial) to truncation error."""
    from hma_mascon.stokes import coefficient_index
    from hma_mascon.synthesis import synthesis_matrix

    nmax = 96
    kprime = np.concatenate([[0.0, 0.021], -0.3025 * 2 / np.arange(2, nmax + 1) ** 0.8])
    g = mascon_grid(box=SMALL_BOX)
    j = 10
    mass_cell = Points(g.lat_geocentric[j], g.lon[j], g.radius[j], g.area[j])
    obs = Points([g.lat_geocentric[j] + 0.3, 33.0, 29.5], [g.lon[j] - 0.4, 86.0, 91.0], A_GRACE + 450e3)
    n, m, is_sine = coefficient_index(nmax, nmin=1)
    pj = PlmBar(nmax, np.sin(np.deg2rad(g.lat_geocentric[j])), csphase=1, cnorm=0)[PlmIndex(n, m)]
    lonj = np.deg2rad(g.lon[j])
    trig = np.where(is_sine, np.sin(m * lonj), np.cos(m * lonj))
    mass = RHO_WATER * g.area[j]
    c = mass / (GM_GRACE / G) * (g.radius[j] / A_GRACE) ** n * pj * trig / (2 * n + 1) * (1 + kprime[n])
    for quantity in ("radial", "potential"):
        b = np.asarray(synthesis_matrix(obs.lat, obs.lon, obs.radius, nmax, GM_GRACE, A_GRACE, kprime, quantity))
        trunc = design_matrix(obs, mass_cell, kind=quantity, kernel="truncated", nmax=nmax)[:, 0]
        p = 1 if quantity == "potential" else 2
        degree0 = G * mass / obs.radius**p  # the n = 0 term (synthesis starts at n = 1)
        assert np.allclose(b @ c + degree0, trunc, rtol=1e-10)
    b3 = np.asarray(synthesis_matrix(obs.lat, obs.lon, obs.radius, nmax, GM_GRACE, A_GRACE, kprime, "3d"))
    closed3 = design_matrix_3d(obs, mass_cell)[:, 0]
    sh3 = b3 @ c
    sh3[6:] += G * mass / obs.radius**2
    for blk in range(3):
        sl = slice(3 * blk, 3 * blk + 3)
        assert np.max(np.abs(sh3[sl] - closed3[sl])) < 0.02 * np.max(np.abs(closed3))


def test_finite_differences_of_potential_give_radial_and_3d():
    g = mascon_grid(box=SMALL_BOX)
    obs_lat = np.array([31.1, 33.7, 29.0])
    obs_lon = np.array([86.3, 88.9, 93.0])
    r = A_GRACE + 450e3
    mass = (g.lat_geocentric, g.lon, g.radius, g.area)

    def pot(lat, lon, rr):
        return point_mass_kernel(lat, lon, rr, *mass, quantity="potential")

    h = 1.0  # metres
    radial_fd = -(pot(obs_lat, obs_lon, r + h) - pot(obs_lat, obs_lon, r - h)) / (2 * h)
    dphi = 1e-6  # degrees
    north_fd = (pot(obs_lat + dphi, obs_lon, r) - pot(obs_lat - dphi, obs_lon, r)) / (2 * np.deg2rad(dphi) * r)
    east_fd = (pot(obs_lat, obs_lon + dphi, r) - pot(obs_lat, obs_lon - dphi, r)) / (
        2 * np.deg2rad(dphi) * r * np.cos(np.deg2rad(obs_lat))[:, None])
    obs = Points(obs_lat, obs_lon, r)
    a3 = design_matrix_3d(obs, g)
    k = obs_lat.size
    for fd, block in ((north_fd, a3[:k]), (east_fd, a3[k:2 * k]), (radial_fd, a3[2 * k:])):
        assert np.max(np.abs(fd - block)) / np.max(np.abs(block)) < 1e-6
    assert np.allclose(a3[2 * k:], design_matrix(obs, g, kind="radial"))
    # north/east point toward the mass: a mass north-east of the point pulls north and east
    a_ne = design_matrix_3d(Points(30.0, 85.0, r), Points(31.0, 86.0, 6.37e6, 1e9))
    assert a_ne[0, 0] > 0 and a_ne[1, 0] > 0


def test_truncated_radial_kernel_on_grid_and_symmetry():
    g = mascon_grid(box=SMALL_BOX)
    o = observation_grid(box=SMALL_BOX)
    closed = design_matrix(o, g)
    trunc = design_matrix(o, g, kernel="truncated", nmax=96)
    assert closed.shape == (o.size, g.size) and closed.dtype == np.float64
    assert np.all(closed > 0)
    # truncated kernel is a smoothed (band-limited) version: same total attraction to within a few %
    assert abs(trunc.sum() / closed.sum() - 1) < 0.05
    # rotational symmetry: shifting observations and masses by the same longitude changes nothing
    o2 = Points(o.lat, o.lon + 7.0, o.radius)
    g2 = Points(g.lat_geocentric, g.lon + 7.0, g.radius, g.area)
    assert np.allclose(design_matrix(o2, g2), closed, rtol=1e-10)
    with pytest.raises(ValueError):
        design_matrix(o, g, kind="gradient")
