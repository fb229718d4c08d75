"""Tests of the eigen-decomposition Tikhonov solver (METHODS.md sections 8 and 12)."""

import numpy as np
import pytest

from hma_mascon.solver import EigenTikhonov, direct_residual

rng = np.random.default_rng(7)


def _problem(n=120, m=60, months=4):
    A = rng.normal(size=(n, m)) @ np.diag(np.logspace(0, -4, m))  # ill-conditioned
    P = np.diag(rng.uniform(0.5, 2.0, n))
    y = rng.normal(size=(n, months))
    r = rng.uniform(0.2, 5.0, m)
    return A, P, y, r


def _direct(A, P, y, R, alpha):
    N = A.T @ P @ A
    return np.linalg.solve(N + alpha * R, A.T @ P @ y)


@pytest.mark.parametrize("alpha", [1e-6, 1e-3, 0.3, 10.0])
def test_equals_direct_solve(alpha):
    A, P, y, r = _problem()
    N, b = A.T @ P @ A, A.T @ P @ y
    s = EigenTikhonov(N, r)
    u = s.project(b)
    x = s.solution(u, alpha)
    xd = _direct(A, P, y, np.diag(r), alpha)
    assert np.max(np.abs(x - xd)) / np.max(np.abs(xd)) < 1e-10
    # per-month alphas in one call
    alphas = np.array([1e-3, 0.1, 1.0, 10.0])
    xm = s.solution(u, alphas)
    for k, a in enumerate(alphas):
        assert np.allclose(xm[:, k], _direct(A, P, y[:, k], np.diag(r), a), rtol=1e-9, atol=0)


def test_residual_norm_dof_match_direct():
    A, P, y, r = _problem()
    N, b = A.T @ P @ A, A.T @ P @ y
    ypy = np.einsum("ik,ij,jk->k", y, P, y)
    s = EigenTikhonov(N, r)
    u = s.project(b)
    for alpha in (1e-4, 0.05, 3.0):
        x = _direct(A, P, y, np.diag(r), alpha)
        assert np.allclose(s.residual(u, alpha, ypy), direct_residual(A, y, x, P), rtol=1e-9)
        assert np.allclose(s.residual(u, alpha, ypy), direct_residual(A, y, x, np.diag(P)), rtol=1e-9)
        assert np.allclose(s.prior_norm(u, alpha), np.einsum("ik,i,ik->k", x, r, x), rtol=1e-9)
        H = np.linalg.solve(N + alpha * np.diag(r), N)
        assert np.isclose(s.dof(alpha), np.trace(H), rtol=1e-10)
        assert np.allclose(s.resolution_matrix(alpha), H, atol=1e-10 * np.abs(H).max())
        n = A.shape[0]
        assert np.allclose(s.variance_factor(u, alpha, ypy, n), direct_residual(A, y, x, P) / (n - np.trace(H)))
    # limits: dof -> m as alpha -> 0 (full rank), -> 0 as alpha -> inf
    assert np.isclose(s.dof(1e-14), A.shape[1], rtol=1e-6) and s.dof(1e14) < 1e-6


def test_covariance_and_functional_variance():
    A, P, y, r = _problem(m=30)
    N = A.T @ P @ A
    s = EigenTikhonov(N, r)
    alpha, s0 = 0.01, 2.5
    Minv = np.linalg.inv(N + alpha * np.diag(r))
    cov = s0 * Minv @ N @ Minv
    assert np.allclose(s.covariance(alpha, s0), cov, atol=1e-10 * np.abs(cov).max())
    assert np.allclose(s.covariance_diag(alpha, s0), np.diag(cov), rtol=1e-8)
    w = rng.normal(size=(30, 2))
    assert np.allclose(s.functional_variance(w, alpha, s0), np.einsum("ip,ij,jp->p", w, cov, w), rtol=1e-8)


def test_dense_R_equals_diagonal_path_and_general_dense():
    A, P, y, r = _problem()
    N, b = A.T @ P @ A, A.T @ P @ y
    sd = EigenTikhonov(N, r)
    sf = EigenTikhonov(N, np.diag(r))
    assert not sf.diagonal and sd.diagonal
    ud, uf = sd.project(b), sf.project(b)
    ypy = np.einsum("ik,ij,jk->k", y, P, y)
    for alpha in (1e-3, 1.0):
        assert np.allclose(sd.solution(ud, alpha), sf.solution(uf, alpha), rtol=1e-10, atol=0)
        assert np.allclose(sd.residual(ud, alpha, ypy), sf.residual(uf, alpha, ypy), rtol=1e-10)
        assert np.isclose(sd.dof(alpha), sf.dof(alpha))
        assert np.allclose(sd.covariance_diag(alpha), sf.covariance_diag(alpha), rtol=1e-8)
        assert np.allclose(sd.resolution_matrix(alpha), sf.resolution_matrix(alpha), atol=1e-10)
    # a genuinely dense SPD R
    L = rng.normal(size=(60, 60))
    R = L @ L.T + 60 * np.eye(60)
    s = EigenTikhonov(N, R)
    x = s.solution(s.project(b), 0.2)
    xd = _direct(A, P, y, R, 0.2)
    assert np.max(np.abs(x - xd)) / np.max(np.abs(xd)) < 1e-10
    assert np.allclose(s.Q.T @ R @ s.Q, np.eye(60), atol=1e-9)
    assert np.allclose(s.resolution_matrix(0.2), np.linalg.solve(N + 0.2 * R, N), atol=1e-9)


def test_rank_deficient_N_and_errors():
    A = rng.normal(size=(10, 25))  # m > n: N singular, eigenvalues clipped
    N = A.T @ A
    s = EigenTikhonov(N, np.ones(25))
    assert np.all(s.eigenvalues >= 0) and np.sum(s.eigenvalues < 1e-8 * s.eigenvalues.max()) == 15
    x = s.solution(s.project(A.T @ np.ones(10)), 0.1)
    assert np.allclose(x, np.linalg.solve(N + 0.1 * np.eye(25), A.T @ np.ones(10)))
    with pytest.raises(ValueError, match="positive"):
        EigenTikhonov(N, -np.ones(25))
    with pytest.raises(ValueError, match="positive definite"):
        EigenTikhonov(N, -np.eye(25))


@pytest.mark.parametrize("prior", ["diagonal", "exponential"])
def test_closed_loop_prior_forward_noise_inversion(prior):
    """METHODS.md section 12: prior -> forward (point-mass kernels) -> noise drawn from Sigma_y ->
    whitened eigen-inversion recovers the input within its formal (posterior) error."""
    from hma_mascon.geometry import mascon_grid, observation_grid
    from hma_mascon.kernels import design_matrix
    from hma_mascon.regularization import regularization_exponential
    from hma_mascon.weights import Whitener

    box = (85.0, 88.0, 30.0, 32.0)
    g = mascon_grid(box=box)
    o = observation_grid(box=box, buffer_deg=1.2)
    A = design_matrix(o, g) * 1e8  # microGal per metre EWH (conditioning)
    # correlated observation noise: exponential covariance of 300 km on the observation points
    d = np.deg2rad(np.hypot(o.lat[:, None] - o.lat[None, :], (o.lon[:, None] - o.lon[None, :]) * np.cos(np.deg2rad(31))))
    sigma_y = 0.05**2 * np.exp(-d * 6371.0 / 300.0)
    w = Whitener(sigma_y, mode="full")
    Ly = np.linalg.cholesky(sigma_y)
    sig_x = rng.uniform(0.05, 0.3, g.size)
    ndraw = 200
    if prior == "diagonal":
        R = 1 / sig_x**2
        x_true = sig_x[:, None] * rng.normal(size=(g.size, ndraw))
    else:
        R = regularization_exponential(g, 150.0, sig_x)
        x_true = np.linalg.cholesky(np.linalg.inv(R)) @ rng.normal(size=(g.size, ndraw))
    Aw = w.whiten(A)
    s = EigenTikhonov(Aw.T @ Aw, R)
    y = A @ x_true + Ly @ rng.normal(size=(o.size, ndraw))
    u = s.project(Aw.T @ w.whiten(y))
    x_hat = s.solution(u, 1.0)  # alpha = 1: P and R mutually calibrated
    # posterior (total error) covariance (N + R)^-1 = Q diag(1/(lambda+1)) Q^T
    post = (s.Q / (s.eigenvalues + 1.0)) @ s.Q.T
    z = (x_hat - x_true) / np.sqrt(np.diag(post))[:, None]
    frac = np.mean(np.abs(z) < 1.96)
    assert 0.93 < frac < 0.975, frac  # calibrated to ~95 % (the nu^2 floor makes it slightly conservative)
    # the regional sum (Gt) is recovered within its formal error too
    wsum = g.area * 1000.0 / 1e12
    zr = (wsum @ (x_hat - x_true)) / np.sqrt(wsum @ post @ wsum)
    assert 0.88 < np.mean(np.abs(zr) < 1.96) <= 1.0


def test_factored_correlated_prior_matches_dense():
    """EigenTikhonov with the factored correlated prior gives the eigenvalues, solutions, errors and
    resolution matrix of the same R passed dense (the default preset's path against the reference)."""
    from hma_mascon.geometry import mascon_grid
    from hma_mascon.regularization import correlated_prior_precision

    grid = mascon_grid((80.0, 83.0, 30.0, 32.0), 0.5, 0.0)
    rng = np.random.default_rng(3)
    m = grid.size
    A = rng.normal(size=(3 * m, m))
    N = A.T @ A
    R = correlated_prior_precision(1 / rng.uniform(0.05, 0.4, m) ** 2, grid, 120.0)
    sf, sd = EigenTikhonov(N, R), EigenTikhonov(N, np.asarray(R))
    np.testing.assert_allclose(sf.eigenvalues, sd.eigenvalues, rtol=1e-9, atol=1e-9 * sd.eigenvalues.max())
    b = A.T @ rng.normal(size=3 * m)
    for alpha in (1e-2, 1.0, 30.0):
        x_ref = np.linalg.solve(N + alpha * np.asarray(R), b)
        np.testing.assert_allclose(sf.solution(sf.project(b), alpha), x_ref, rtol=1e-8, atol=1e-10 * np.abs(x_ref).max())
        np.testing.assert_allclose(sf.covariance_diag(alpha), sd.covariance_diag(alpha), rtol=1e-8)
        np.testing.assert_allclose(sf.resolution_matrix(alpha), np.linalg.solve(N + alpha * np.asarray(R), N),
                                   atol=1e-9)


@pytest.mark.parametrize("kind", ["diagonal", "dense", "correlated"])
def test_low_rank_route_equals_direct_algebra(kind):
    """A normal matrix of rank m/4 goes through the pivoted-Cholesky factor and a thin SVD; its
    eigenpairs still satisfy Q^T R Q = I and Q^T N Q = Lambda, and solutions, covariances and the
    resolution matrix equal direct algebra, for each kind of R."""
    from hma_mascon.geometry import mascon_grid
    from hma_mascon.regularization import correlated_prior_precision
    from hma_mascon.solver import normal_factor

    grid = mascon_grid((80.0, 84.0, 30.0, 33.0), 0.5, 0.0)
    g = np.random.default_rng(12)
    m = grid.size
    r_true = m // 4
    A = g.normal(size=(3 * m, r_true)) @ (g.normal(size=(r_true, m)) * np.logspace(0, -2, m))
    N = A.T @ A
    F = normal_factor(N)
    assert F.shape == (m, r_true)
    np.testing.assert_allclose(F @ F.T, N, atol=1e-12 * np.abs(N).max())
    assert normal_factor(N + np.eye(m)) is None  # full rank: the dense route
    with pytest.raises(ValueError, match="NaN"):
        normal_factor(np.where(np.eye(m) > 0, np.nan, N))
    r = 1 / g.uniform(0.05, 0.4, m) ** 2
    R = {"diagonal": r, "dense": np.diag(r) + 0.3 * np.sqrt(np.outer(r, r)) * np.exp(-g.uniform(1, 3, (m, m))),
         "correlated": correlated_prior_precision(r, grid, 120.0)}[kind]
    if kind == "dense":
        R = 0.5 * (R + R.T) + m * np.diag(r)  # symmetric positive definite
    Rd = np.diag(R) if kind == "diagonal" else np.asarray(R)
    s = EigenTikhonov(N, R)
    assert s.n_clipped == 0 and np.sum(s.eigenvalues == 0) == m - r_true
    assert np.all(np.diff(s.eigenvalues) >= 0)
    np.testing.assert_allclose(s.Q.T @ Rd @ s.Q, np.eye(m), atol=1e-9)
    np.testing.assert_allclose(s.Q.T @ N @ s.Q, np.diag(s.eigenvalues), atol=1e-10 * s.eigenvalues.max())
    b = A.T @ g.normal(size=3 * m)
    for alpha in (1e-3, 0.1, 10.0):
        M = N + alpha * Rd
        x_ref = np.linalg.solve(M, b)
        np.testing.assert_allclose(s.solution(s.project(b), alpha), x_ref, rtol=1e-8, atol=1e-10 * np.abs(x_ref).max())
        cov = np.linalg.solve(M, N) @ np.linalg.inv(M)
        np.testing.assert_allclose(s.covariance_diag(alpha), np.diag(cov), rtol=1e-7, atol=1e-12 * np.diag(cov).max())
        np.testing.assert_allclose(s.resolution_matrix(alpha), np.linalg.solve(M, N), atol=1e-8)
