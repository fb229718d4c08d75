"""Tests of the regularization matrices (METHODS.md section 7) and constraint families."""

import numpy as np
import pytest
import xarray as xr

from hma_mascon.geometry import mascon_grid
from hma_mascon.regularization import (
    combine_prior_variance,
    period_mask,
    prior_rms,
    prior_variance,
    regularization_exponential,
    regularization_grace_variance,
    regularization_hydrology_only,
    regularization_identity,
    regularization_smoothness,
    rms_from_rate,
    seasonal_prior_variance,
)

rng = np.random.default_rng(11)
# monthly mid-month epochs 2000-01 .. 2019-12 (decimal years)
T = 2000 + (np.arange(240) + 0.5) / 12


def test_period_mask_inclusive_months():
    mask = period_mask(T, ("2002-01", "2017-12"))
    assert mask.sum() == 16 * 12
    assert np.isclose(T[mask][0], 2002 + 0.5 / 12) and np.isclose(T[mask][-1], 2017 + 11.5 / 12)
    times = np.array(["2001-12-16", "2002-01-16", "2017-12-16", "2018-01-16"], dtype="datetime64[ns]")
    assert list(period_mask(times, ("2002-01", "2017-12"))) == [False, True, True, False]
    with pytest.raises(ValueError, match="YYYY-MM"):
        period_mask(T, ("2002", "2017-12"))


def test_prior_rms_reference_and_rate_closed_loop():
    rate = np.array([-0.5, 0.0, 0.2])
    offset = np.array([3.0, -1.0, 10.0])
    series = offset + np.outer(T, rate)
    sel = period_mask(T, ("2002-01", "2017-12"))
    # the offset does not matter (own mean removed); a trend has RMS |rate| std(t)
    assert np.allclose(prior_rms(series, T), rms_from_rate(rate, T[sel]), rtol=1e-12)
    # a sinusoid of amplitude a over whole years has RMS a / sqrt(2)
    amp = np.array([0.1, 0.3])
    sin = np.sin(2 * np.pi * T)[:, None] * amp
    assert np.allclose(prior_rms(sin, T), amp / np.sqrt(2), rtol=1e-10)
    # DataArray input, NaN epochs ignored
    s2 = sin.copy()
    s2[sel.nonzero()[0][::12]] = np.nan  # drop every January: RMS changes but stays finite
    da = xr.DataArray(s2, dims=("time", "cell"), coords={"time": T})
    out = prior_rms(da)
    assert np.all(np.isfinite(out)) and np.all(np.abs(out - amp / np.sqrt(2)) < 0.05 * amp)


def test_combination_rules():
    sg = np.array([0.0, 0.5, 0.02, 0.0])
    sl = np.array([0.0, 0.0, 0.02, 0.0])
    sh = np.array([0.005, 0.2, 0.0, 0.3])
    sig = {"glacier": sg, "lake": sl, "hydro": sh}
    rB = combine_prior_variance(sig, "B")
    tot = np.sqrt(sg**2 + sl**2 + sh**2)
    assert np.allclose(rB, 1 / np.maximum(tot, 0.01) ** 2)
    assert rB[0] == 1 / 0.01**2  # floor acts
    # rule A lets the smallest component dominate: a glacier-free cell with large hydrology is clamped
    rA = combine_prior_variance(sig, "A")
    assert rA[3] > 100 * rB[3]
    assert np.all(rA >= rB)  # sum of precisions >= precision of the summed variance
    # relative floor: 50 % of the median
    rrel = combine_prior_variance(sig, "B", floor=0.5, floor_mode="relative")
    assert np.isclose(rrel.max(), 1 / (0.5 * np.median(tot)) ** 2)
    # rule C with independent series equals rule B asymptotically; with anti-correlated series it is smaller
    a = np.sin(2 * np.pi * T)[:, None] * np.array([[0.3]])
    rC_anti = combine_prior_variance({"g": [0.3 / np.sqrt(2)], "h": [0.3 / np.sqrt(2)]}, "C",
                                     series={"g": a, "h": -0.5 * a}, time=T)
    assert np.isclose(rC_anti[0], 1 / (0.15 / np.sqrt(2)) ** 2, rtol=1e-8)
    with pytest.raises(ValueError, match="rule"):
        combine_prior_variance(sig, "D")
    with pytest.raises(ValueError, match="series"):
        combine_prior_variance(sig, "C")
    assert np.allclose(regularization_hydrology_only(sh), 1 / prior_variance(sh))


def test_seasonal_prior_variance_second_moment():
    a, trend = 0.2, -0.3
    s = trend * (T - 2010) + 5.0 + a * np.cos(2 * np.pi * T)  # offset + trend + annual
    s2 = np.sin(4 * np.pi * T) * 0.05  # second component, semi-annual
    r = seasonal_prior_variance({"glacier": s[:, None], "hydro": s2[:, None]}, T, floor=1e-4)
    assert r.shape == (12, 1)
    c = np.arange(12)
    tmid = (c + 0.5) / 12
    # detrending removes offset + trend (annual over whole years is orthogonal to a line only
    # approximately: allow 1e-3 relative)
    expected = (a * np.cos(2 * np.pi * tmid)) ** 2 + (0.05 * np.sin(4 * np.pi * tmid)) ** 2
    expected = np.maximum(expected, 1e-8)
    assert np.allclose(1 / r[:, 0], expected, rtol=2e-2, atol=2e-5)
    # floor applies month by month: with the default 1 cm floor the near-zero months of a 3 cm
    # annual cycle (|cos| < 1/3 in Mar/Apr and Sep/Oct) are floored, the others are not
    r_default = seasonal_prior_variance({"glacier": 0.03 * np.cos(2 * np.pi * T)[:, None]}, T)
    floored = np.isclose(r_default[:, 0], 1 / 0.01**2)
    assert list(np.flatnonzero(floored)) == [2, 3, 8, 9]
    # datetime input gives the same
    times = np.array([f"{2000 + k // 12}-{k % 12 + 1:02d}-16" for k in range(240)], dtype="datetime64[ns]")
    r_dt = seasonal_prior_variance({"glacier": s[:, None], "hydro": s2[:, None]}, times, floor=1e-4)
    assert np.allclose(r_dt, r, rtol=0.05)


def test_smoothness_matrix():
    g = mascon_grid(box=(80.0, 83.0, 30.0, 32.0))  # 4 x 6 cells
    R = regularization_smoothness(g, ridge=1e-6)
    np.linalg.cholesky(R)  # SPD
    x = rng.normal(size=g.size)
    X = x.reshape(g.shape)
    direct = np.sum(np.diff(X, axis=0) ** 2) + np.sum(np.diff(X, axis=1) ** 2) + 1e-6 * x @ x
    assert np.isclose(x @ R @ x, direct)
    const = np.ones(g.size)
    assert np.allclose(R @ const, 1e-6)  # a constant field is not penalised (except the ridge)
    assert np.allclose(R, R.T)


def test_exponential_covariance_inverse():
    g = mascon_grid(box=(80.0, 83.0, 30.0, 32.0))
    sig = rng.uniform(0.05, 0.2, g.size)
    R = regularization_exponential(g, 200.0, sig)
    # R C = I where C is rebuilt independently from 3-D vectors (chord -> great-circle angle)
    v = np.stack([np.cos(np.deg2rad(g.lat)) * np.cos(np.deg2rad(g.lon)),
                  np.cos(np.deg2rad(g.lat)) * np.sin(np.deg2rad(g.lon)), np.sin(np.deg2rad(g.lat))], 1)
    cross = np.linalg.norm(np.cross(v[:, None, :], v[None, :, :]), axis=-1)
    ang = np.arctan2(cross, v @ v.T)
    C = np.exp(-ang * 6371.0088 / 200.0) * np.outer(sig, sig)
    assert np.allclose(R @ C, np.eye(g.size), atol=1e-8)
    # tiny correlation length -> independent cells, R = diag(1/sigma^2)
    R0 = regularization_exponential(g, 1e-3, sig)
    assert np.allclose(R0, np.diag(1 / sig**2), rtol=1e-10)


def test_grace_variance_and_identity():
    series = np.sin(2 * np.pi * T)[:, None] * np.array([0.001, 0.3])
    r = regularization_grace_variance(series)
    assert np.isclose(r[0], 1 / 0.01**2) and np.isclose(r[1], 1 / (0.3 / np.sqrt(2)) ** 2, rtol=1e-3)
    g = mascon_grid(box=(80.0, 83.0, 30.0, 32.0))
    da = g.to_dataarray(np.repeat(series[:, 1:], g.size, axis=1), extra_dims=("time",)).assign_coords(time=T)
    assert np.allclose(regularization_grace_variance(da), r[1], rtol=1e-3)
    assert np.array_equal(regularization_identity(5), np.ones(5))


def test_correlated_prior_keeps_the_variances_and_correlates_neighbours():
    from hma_mascon.geometry import mascon_grid
    from hma_mascon.regularization import correlated_prior_precision

    grid = mascon_grid((80.0, 82.0, 30.0, 31.5), 0.5, 0.0)
    rng = np.random.default_rng(1)
    sigma = rng.uniform(0.02, 0.5, grid.size)
    R = correlated_prior_precision(1 / sigma**2, grid, 100.0)
    C = np.linalg.inv(R)
    np.testing.assert_allclose(np.diag(C), sigma**2, rtol=1e-8)  # multisource variances kept
    rho = C / np.outer(sigma, sigma)
    assert np.all(rho > 0) and np.all(rho <= 1 + 1e-9)
    # correlation falls with distance: cell 0 with its east neighbour (~48 km) and a cell 1.5 deg away
    east = np.argmin(np.hypot(grid.lat - grid.lat[0], grid.lon - grid.lon[0] - 0.5))
    far = np.argmin(np.hypot(grid.lat - grid.lat[0], grid.lon - grid.lon[0] - 1.5))
    assert rho[0, east] > rho[0, far] > 0
    assert rho[0, east] == pytest.approx(np.exp(-0.5 * 111.2 * np.cos(np.radians(grid.lat[0])) / 100.0), rel=0.02)
    # a stack of diagonals (the 12 R_sv) is correlated one by one; a tiny L gives back the diagonal
    Rs = correlated_prior_precision(np.stack([1 / sigma**2, 4 / sigma**2]), grid, 100.0)
    np.testing.assert_allclose(np.asarray(Rs[1]), 4 * np.asarray(R), rtol=1e-10)
    np.testing.assert_allclose(correlated_prior_precision(1 / sigma**2, grid, 1.0), np.diag(1 / sigma**2),
                               rtol=1e-6, atol=1e-6 * (1 / sigma**2).max())
    with pytest.raises(ValueError):
        correlated_prior_precision(-np.ones(grid.size), grid, 100.0)


def test_correlated_prior_blocks_by_class():
    """With classes, cells of different classes are uncorrelated (C_ij = 0), cells of one class keep
    exp(-d/L), and the variances stay on the diagonal; the block matrix is positive definite."""
    from hma_mascon.regularization import correlated_prior_precision

    grid = mascon_grid((80.0, 82.0, 30.0, 31.5))
    sigma = np.linspace(0.02, 0.2, grid.size)
    classes = (np.arange(grid.size) % 3 == 0).astype(int)
    R = correlated_prior_precision(1 / sigma**2, grid, 100.0, classes)
    C = np.linalg.inv(R)
    np.testing.assert_allclose(np.diag(C), sigma**2, rtol=1e-8)
    other = classes[:, None] != classes[None, :]
    assert np.abs(C[other]).max() < 1e-10 * sigma.max() ** 2
    same = ~other & ~np.eye(grid.size, dtype=bool)
    rho = C / np.outer(sigma, sigma)
    R_all = correlated_prior_precision(1 / sigma**2, grid, 100.0)
    rho_all = np.linalg.inv(R_all) / np.outer(sigma, sigma)
    np.testing.assert_allclose(rho[same], rho_all[same], rtol=1e-8)  # exp(-d/L) within a class
    assert np.all(np.linalg.eigvalsh(R) > 0)
    with pytest.raises(ValueError, match="classes"):
        correlated_prior_precision(1 / sigma**2, grid, 100.0, classes[:-1])


def test_correlated_precision_factored_equals_dense():
    """The factored R = S ρ⁻¹ S does what the dense matrix does: products from both sides, the
    whitened normal matrix K⁻¹ N K⁻ᵀ with R = K Kᵀ, and the back-transformation K⁻ᵀ V."""
    from scipy import linalg

    from hma_mascon.regularization import correlated_prior_precision

    grid = mascon_grid((80.0, 82.0, 30.0, 31.5), 0.5, 0.0)
    rng = np.random.default_rng(7)
    r = 1 / rng.uniform(0.02, 0.5, (3, grid.size)) ** 2
    Rs = correlated_prior_precision(r, grid, 100.0)
    assert Rs.shape == (3, grid.size, grid.size) and len(Rs) == 3
    R = Rs[2]
    D = np.asarray(R)
    x = rng.normal(size=(grid.size, 4))
    np.testing.assert_allclose(R @ x, D @ x, rtol=1e-10, atol=1e-12 * np.abs(D @ x).max())
    np.testing.assert_allclose(x.T @ R, x.T @ D, rtol=1e-10, atol=1e-12 * np.abs(D @ x).max())
    np.testing.assert_allclose(R @ x[:, 0], D @ x[:, 0], rtol=1e-10, atol=1e-12 * np.abs(D @ x).max())
    # K = S L^-T is a factor of R: K K^T = R, and whitened_normal / back_transform use it
    A = rng.normal(size=(40, grid.size))
    N = A.T @ A
    K = np.sqrt(R.r)[:, None] * linalg.inv(R.cholesky).T
    np.testing.assert_allclose(K @ K.T, D, rtol=1e-8, atol=1e-10 * np.abs(D).max())
    Kinv = linalg.inv(K)
    np.testing.assert_allclose(R.whitened_normal(N), Kinv @ N @ Kinv.T, rtol=1e-8, atol=1e-10 * np.abs(N).max())
    np.testing.assert_allclose(R.back_transform(x), Kinv.T @ x, rtol=1e-8, atol=1e-10 * np.abs(x).max())
    with pytest.raises(ValueError, match="R\\[c\\]"):
        Rs @ x
