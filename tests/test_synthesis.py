"""SH synthesis/analysis: against pyshtools, closed loops, mass conservation, finite differences."""

import numpy as np
import pyshtools
import pytest
from scipy.special import eval_legendre

from hma_mascon import synthesis as sy
from hma_mascon.constants import A_GRACE, GM_GRACE, RHO_WATER, G
from hma_mascon.filters import gaussian_weights
from hma_mascon.love_numbers import load_love_numbers

L = 30
R_OBS = A_GRACE + 450e3


def _random_cilm(L, seed=1):
    rng = np.random.default_rng(seed)
    cilm = rng.standard_normal((2, L + 1, L + 1)) * 1e-9 * (np.arange(L + 1)[:, None] + 1.0) ** -2
    iu = np.triu_indices(L + 1, 1)
    cilm[:, iu[0], iu[1]] = 0
    cilm[1, :, 0] = 0
    cilm[:, 0, 0] = 0
    return cilm


def _vector(cilm, nmin=1):
    n, m, s = sy.coefficient_index(cilm.shape[-1] - 1, nmin)
    return np.where(s == 1, cilm[1, n, m], cilm[0, n, m])


def test_synthesis_matrix_matches_pyshtools_at_altitude():
    cilm = _random_cilm(L)
    rad, th, ph, _tot, pot = pyshtools.gravmag.MakeGravGridDH(cilm, GM_GRACE, A_GRACE, a=R_OBS, f=0, lmax=L,
                                                               normal_gravity=0, sampling=2)
    nlat, nlon = rad.shape
    lats = 90 - np.arange(nlat) * 180 / nlat
    lons = np.arange(nlon) * 360 / nlon
    ii, jj = np.arange(1, nlat, 5), np.arange(0, nlon, 7)
    LA, LO = np.meshgrid(lats[ii], lons[jj], indexing="ij")
    c = _vector(cilm)
    # pyshtools returns grad V: rad = +dV/dr = -delta g, theta = (1/r) dV/dtheta = -north, phi = east
    for q, ref in (("radial", -rad), ("potential", pot), ("north", -th), ("east", ph)):
        y = sy.synthesis_matrix(LA.ravel(), LO.ravel(), R_OBS, L, GM_GRACE, A_GRACE, None, q) @ c
        r = ref[np.ix_(ii, jj)].ravel()
        assert np.abs(y - r).max() / np.abs(r).max() < 1e-10, q
    B3 = sy.synthesis_matrix(LA.ravel(), LO.ravel(), R_OBS, L, GM_GRACE, A_GRACE, None, "3d")
    np.testing.assert_allclose((B3 @ c)[2 * LA.size:], -rad[np.ix_(ii, jj)].ravel(), rtol=1e-10, atol=1e-20)
    np.testing.assert_allclose((B3 @ c)[: LA.size], -th[np.ix_(ii, jj)].ravel(), rtol=1e-10, atol=1e-20)


def test_love_numbers_scale_columns_and_nmin():
    k = load_love_numbers(L)
    lat, lon = np.array([30.0, 40.0]), np.array([80.0, 90.0])
    B0 = sy.synthesis_matrix(lat, lon, R_OBS, L, GM_GRACE, A_GRACE, None, "radial", nmin=2)
    Bk = sy.synthesis_matrix(lat, lon, R_OBS, L, GM_GRACE, A_GRACE, k, "radial", nmin=2)
    n, _, _ = sy.coefficient_index(L, 2)
    np.testing.assert_allclose(Bk, B0 / (1 + k.values[n]), rtol=1e-13)
    assert Bk.shape == (2, (L + 1) ** 2 - 4)


def test_radial_is_minus_finite_difference_of_potential():
    k = load_love_numbers(L)
    c = _vector(_random_cilm(L, 5))
    lat, lon = np.array([-10.0, 33.3, 60.0]), np.array([0.0, 85.0, 200.0])
    h = 10.0
    Tp = sy.synthesis_matrix(lat, lon, R_OBS + h, L, GM_GRACE, A_GRACE, k, "potential") @ c
    Tm = sy.synthesis_matrix(lat, lon, R_OBS - h, L, GM_GRACE, A_GRACE, k, "potential") @ c
    g = sy.synthesis_matrix(lat, lon, R_OBS, L, GM_GRACE, A_GRACE, k, "radial") @ c
    np.testing.assert_allclose(g, -(Tp - Tm) / (2 * h), rtol=1e-6)
    # horizontal derivatives by finite differences in latitude and longitude
    d = 1e-4
    Tn = sy.synthesis_matrix(lat + d, lon, R_OBS, L, GM_GRACE, A_GRACE, k, "potential") @ c
    Ts = sy.synthesis_matrix(lat - d, lon, R_OBS, L, GM_GRACE, A_GRACE, k, "potential") @ c
    north = sy.synthesis_matrix(lat, lon, R_OBS, L, GM_GRACE, A_GRACE, k, "north") @ c
    np.testing.assert_allclose(north, (Tn - Ts) / (2 * np.deg2rad(d) * R_OBS), rtol=1e-5)
    Te = sy.synthesis_matrix(lat, lon + d, R_OBS, L, GM_GRACE, A_GRACE, k, "potential") @ c
    Tw = sy.synthesis_matrix(lat, lon - d, R_OBS, L, GM_GRACE, A_GRACE, k, "potential") @ c
    east = sy.synthesis_matrix(lat, lon, R_OBS, L, GM_GRACE, A_GRACE, k, "east") @ c
    np.testing.assert_allclose(east, (Te - Tw) / (2 * np.deg2rad(d) * R_OBS * np.cos(np.deg2rad(lat))), rtol=1e-5)


def test_point_mass_signs_and_far_field():
    M = 1e12
    C, S = sy.point_mass_coefficients(M, 35.0, 85.0, A_GRACE, 120, GM_GRACE, A_GRACE)
    cilm = np.stack([C, S])
    c = _vector(cilm, nmin=0)
    B = sy.synthesis_matrix([35.0, 35.0], [85.0, 95.0], R_OBS, 120, GM_GRACE, A_GRACE, None, "radial", nmin=0)
    g = B @ c
    assert g[0] > 0  # mass excess below -> delta g > 0
    assert g[0] == pytest.approx(G * M / 450e3**2, rel=0.02)  # closed kernel, truncation at n=120
    Bn = sy.synthesis_matrix([34.0, 36.0], [85.0, 85.0], R_OBS, 120, GM_GRACE, A_GRACE, None, "north", nmin=0)
    gn = Bn @ c
    assert gn[0] > 0 > gn[1]  # points toward the mass


def test_ewh_degree_factors_inverse_and_consistent_density():
    k = load_love_numbers(60)
    f = sy.ewh_degree_factors(60, k, A_GRACE)
    fi = sy.stokes_degree_factors(60, k, A_GRACE)
    np.testing.assert_allclose(f * fi, 1.0, rtol=1e-14)
    fc = sy.ewh_degree_factors(60, k, A_GRACE, rho_e="consistent", GM=GM_GRACE)
    assert fc[2] / f[2] == pytest.approx(3 * GM_GRACE / (4 * np.pi * G * A_GRACE**3) / 5517.0)
    rng = np.random.default_rng(2)
    C, S = np.tril(rng.standard_normal((61, 61))), np.tril(rng.standard_normal((61, 61)))
    hC, hS = sy.stokes_to_ewh_coefficients(C, S, k, A_GRACE)
    C2, S2 = sy.ewh_coefficients_to_stokes(hC, hS, k, A_GRACE)
    np.testing.assert_allclose(C2, C, rtol=1e-13, atol=1e-16)


def test_ewh_grid_agrees_with_pyshtools_makegridpoint():
    k = load_love_numbers(L)
    cilm = _random_cilm(L, 7)
    lat = np.array([-60.0, 0.5, 30.25, 46.75])
    lon = np.array([65.25, 100.0, 300.0])
    w = gaussian_weights(L, 200.0)
    h = sy.stokes_to_ewh_grid(cilm[0], cilm[1], lat, lon, k, A_GRACE, weights=w)
    f = sy.ewh_degree_factors(L, k, A_GRACE) * w
    scaled = cilm * f[None, :, None]
    LA, LO = np.meshgrid(lat, lon, indexing="ij")
    ref = pyshtools.expand.MakeGridPoint(scaled, LA.ravel(), LO.ravel(), norm=1, csphase=1).reshape(LA.shape)
    np.testing.assert_allclose(h, ref, rtol=1e-11, atol=1e-12 * np.abs(ref).max())


def test_global_analysis_then_synthesis_round_trip():
    cilm = _random_cilm(20, 3) * 1e9
    for sampling, grid in ((2, "DH"), (None, "GLQ")):
        if grid == "DH":
            field = pyshtools.expand.MakeGridDH(cilm, sampling=2, norm=1, csphase=1, lmax=20)
        else:
            zero, _ = pyshtools.expand.SHGLQ(20)
            field = pyshtools.expand.MakeGridGLQ(cilm, zero, norm=1, csphase=1)
        hC, hS = sy.analyse_global_grid(np.stack([field, 2 * field]), 20, grid=grid)
        np.testing.assert_allclose(hC[1], 2 * cilm[0], atol=1e-12)
        np.testing.assert_allclose(hS[0], cilm[1], atol=1e-12)


def test_cell_analysis_exact_for_zonal_band():
    # h = 1 m in the band 26..47 N (all longitudes): sigma_n0 = sqrt(2n+1)/2 int P_n dz (analytic)
    nmax = 96
    lat_e = np.arange(26.0, 47.01, 0.5)
    lon_e = np.arange(0.0, 360.01, 0.5)
    h = np.ones((lat_e.size - 1, lon_e.size - 1))
    hC, hS = sy.analyse_ewh_grid(h, lat_e, lon_e, nmax)
    z1, z2 = np.sin(np.deg2rad(26.0)), np.sin(np.deg2rad(47.0))
    n = np.arange(nmax + 1)

    def intP(z):
        return np.where(n == 0, z, (eval_legendre(n + 1, z) - eval_legendre(np.maximum(n - 1, 0), z)) / (2 * n + 1))

    ref = 0.5 * np.sqrt(2 * n + 1) * (intP(z2) - intP(z1))
    np.testing.assert_allclose(hC[:, 0], ref, rtol=1e-10, atol=1e-14)
    assert np.abs(hC[:, 1:]).max() < 1e-12 and np.abs(hS).max() < 1e-12


def test_cell_analysis_of_box_conserves_mass_and_approximates_field():
    # an HMA-like box of 1 m: sigma_00 = area/(4 pi a^2), and synthesis (smoothed) integrates to the mass
    nmax = 96
    lat_e = np.arange(26.0, 47.01, 0.5)
    lon_e = np.arange(65.0, 105.01, 0.5)
    h = np.ones((lat_e.size - 1, lon_e.size - 1))
    hC, hS = sy.analyse_ewh_grid(h, lat_e, lon_e, nmax)
    area_frac = np.deg2rad(40.0) * (np.sin(np.deg2rad(47)) - np.sin(np.deg2rad(26))) / (4 * np.pi)
    assert hC[0, 0] == pytest.approx(area_frac, rel=1e-12)
    # synthesise on a global grid and integrate: total volume = area (only degree 0 integrates)
    k = load_love_numbers(nmax)
    C, S = sy.ewh_coefficients_to_stokes(hC, hS, k, A_GRACE)
    lat = np.arange(-89.75, 90, 0.5)
    lon = np.arange(0.25, 360, 0.5)
    grid = sy.stokes_to_ewh_grid(C, S, lat, lon, k, A_GRACE)
    area = np.deg2rad(0.5) * 2 * np.sin(np.deg2rad(0.25)) * np.cos(np.deg2rad(lat))[:, None]
    vol = np.sum(grid * area)
    assert vol == pytest.approx(4 * np.pi * area_frac, rel=1e-4)
    inside = grid[np.ix_((lat > 30) & (lat < 43), (lon > 70) & (lon < 100))]
    assert abs(np.mean(inside) - 1.0) < 0.05  # interior of the box is recovered (Gibbs ripple only)


def test_point_load_ewh_map_integrates_to_mass():
    # point mass -> GRACE-like Stokes (x (1+k'_n)) -> EWH map (Gaussian 300 km) -> integrate over a 10 deg cap
    nmax = 96
    M = 1e14  # 100 Gt
    k = load_love_numbers(nmax)
    C, S = sy.point_mass_coefficients(M, 0.0, 90.0, A_GRACE, nmax, GM_GRACE, A_GRACE)
    C, S = C * (1 + k.values)[:, None], S * (1 + k.values)[:, None]
    lat = np.arange(-14.95, 15, 0.1)
    lon = np.arange(75.05, 105, 0.1)
    h = sy.stokes_to_ewh_grid(C, S, lat, lon, k, A_GRACE, weights=gaussian_weights(nmax, 300.0),
                              rho_e="consistent", GM=GM_GRACE)
    LA, LO = np.meshgrid(lat, lon, indexing="ij")
    psi = np.rad2deg(np.arccos(np.cos(np.deg2rad(LA)) * np.cos(np.deg2rad(LO - 90.0))))
    dA = A_GRACE**2 * np.deg2rad(0.1) ** 2 * np.cos(np.deg2rad(LA))
    mass = RHO_WATER * np.sum(np.where(psi < 10.0, h, 0.0) * dA)
    assert mass == pytest.approx(M, rel=0.01)
    centre = h[np.abs(lat).argmin(), np.abs(lon - 90).argmin()]
    assert centre > 0 and h.max() == pytest.approx(centre, rel=1e-12)


def test_container_input_gives_labelled_ewh():
    stokes = pytest.importorskip("hma_mascon.stokes")
    cilm = _random_cilm(10, 9)
    ds = stokes.make_stokes_dataset(np.stack([cilm[0], -cilm[0]]), np.stack([cilm[1], -cilm[1]]),
                                    time_start=["2005-01-01", "2005-02-01"], time_end=["2005-02-01", "2005-03-01"],
                                    GM=GM_GRACE, radius=A_GRACE)
    k = load_love_numbers(10)
    lat, lon = np.arange(26.25, 30, 0.5), np.arange(65.25, 70, 0.5)
    da = sy.stokes_to_ewh_grid(ds, lat, lon, k)
    assert da.dims == ("time", "lat", "lon") and da.attrs["units"] == "m"
    ref = sy.stokes_to_ewh_grid(cilm[0], cilm[1], lat, lon, k, A_GRACE)
    np.testing.assert_allclose(da.values[0], ref, rtol=1e-13)
    np.testing.assert_allclose(da.values[1], -ref, rtol=1e-13)
    # cell analysis of the labelled map infers edges from its coordinates
    hC, _ = sy.analyse_ewh_grid(da.isel(time=0), nmax=5)
    assert hC.shape == (6, 6)
