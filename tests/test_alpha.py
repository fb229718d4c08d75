"""Tests of the alpha selectors against optima known by construction (METHODS.md section 8)."""

import numpy as np
import pytest

from hma_mascon.alpha import (
    gcv_function,
    lcurve_curvature,
    mse_function,
    select_alpha,
    select_alpha_gcv,
    select_alpha_lcurve,
    select_alpha_mse,
    select_alpha_mse_many,
    select_alpha_vce,
)
from hma_mascon.solver import EigenTikhonov


def _ill_posed(rng, n=200, m=50, noise=1e-3, decay=6):
    U, _ = np.linalg.qr(rng.normal(size=(n, m)))
    V, _ = np.linalg.qr(rng.normal(size=(m, m)))
    sv = np.logspace(0, -decay, m)
    A = (U * sv) @ V.T
    x_true = V @ (sv ** 0.5 * rng.normal(size=m))  # smooth truth (Picard condition)
    y = A @ x_true + noise * rng.normal(size=n)
    return A, x_true, y


def test_gcv_equal_eigenvalues_analytic():
    # N = lam I, R = I, n > m: V(alpha) has the closed-form minimiser
    # alpha* = c m lam / (S (n - m) - c m), with c the out-of-range residual and S = sum u^2 / lam.
    rng = np.random.default_rng(1)
    m, n, lam = 40, 100, 3.0
    s = EigenTikhonov(lam * np.eye(m), np.ones(m))
    u = rng.normal(size=m) * 2.0
    S = np.sum(u**2) / lam
    c = 0.5 * S * (n - m) / m  # so that S (n - m) > c m
    ypy = c + S
    res = select_alpha_gcv(s, u, ypy, n)
    expected = c * m * lam / (S * (n - m) - c * m)
    assert np.isclose(res.alpha, expected, rtol=1e-5)
    assert res.method == "gcv" and res.converged


def test_gcv_matches_brute_force_dense():
    rng = np.random.default_rng(2)
    A, _, y = _ill_posed(rng)
    n, m = A.shape
    N, b = A.T @ A, A.T @ y
    s = EigenTikhonov(N, np.ones(m))
    res = select_alpha_gcv(s, s.project(b), y @ y, n)
    grid = np.logspace(-12, 0, 1201)
    v = []
    for a in grid:
        sol = np.linalg.solve(N + a * np.eye(m), np.column_stack([b, N]))
        e = y - A @ sol[:, 0]
        trace_h = np.trace(sol[:, 1:])  # tr A (N + aI)^-1 A^T = tr (N + aI)^-1 N
        v.append(n * (e @ e) / (n - trace_h) ** 2)
    best = grid[int(np.argmin(v))]
    assert abs(np.log10(res.alpha / best)) < 0.011  # one grid step
    assert np.isclose(gcv_function(s, s.project(b), best, y @ y, n), np.min(v), rtol=1e-6)


def test_mse_formula_and_minimum_against_brute_force_truth():
    rng = np.random.default_rng(3)
    A, x_true, y = _ill_posed(rng, noise=1e-3)
    n, m = A.shape
    r = rng.uniform(0.5, 2.0, m)
    R = np.diag(r)
    N = A.T @ A
    s = EigenTikhonov(N, r)
    sigma0_sq = 1e-6
    xi = s.Q.T @ (R @ x_true)
    grid = np.logspace(-10, 0, 501)
    true_mse = []
    for a in grid:
        Minv = np.linalg.inv(N + a * R)
        bias = -a * Minv @ R @ x_true
        true_mse.append(sigma0_sq * np.trace(Minv @ N @ Minv) + bias @ bias)
    true_mse = np.array(true_mse)
    for k in (50, 250, 450):
        assert np.isclose(mse_function(s, grid[k], xi, sigma0_sq), true_mse[k], rtol=1e-6)
    best = grid[int(np.argmin(true_mse))]
    # the fast evaluator used inside the iteration (Chebyshev interpolation in log alpha over a
    # bracket of one or two decades) agrees with the exact MSE between its nodes, and the batched
    # grid evaluation is the exact function
    from hma_mascon.alpha import _mse_on_grid
    from hma_mascon.euclidean_bias import ChebyshevMSE
    for lo, hi in ((1e-6, 1e-5), (1e-4, 1e-2), (1e-3, 1e-1)):
        ev = ChebyshevMSE(s, xi, sigma0_sq, np.log(lo), np.log(hi))
        for a in np.geomspace(lo, hi, 13)[1:-1] * 1.0137:
            assert np.isclose(ev(a), mse_function(s, a, xi, sigma0_sq), rtol=1e-9)
    a3 = np.array([1e-6, 1e-4, 1e-1])
    np.testing.assert_allclose(_mse_on_grid(s, xi, sigma0_sq, a3, "euclidean"),
                               [mse_function(s, a, xi, sigma0_sq) for a in a3], rtol=1e-12)
    # plug-in iteration with the known sigma0^2: converges near the true optimum and its true MSE
    # is close to the minimum achievable
    res = select_alpha_mse(s, s.project(A.T @ y), y @ y, n, sigma0_sq=sigma0_sq)
    assert res.converged and res.method == "mse" and not res.info["collapsed"]
    mse_at = np.interp(np.log(res.alpha), np.log(grid), true_mse)
    assert mse_at < 1.5 * true_mse.min()
    assert abs(np.log10(res.alpha / best)) < 1.0
    # the fixed point is a fixed point
    xi_fp = s.project(A.T @ y) / (s.eigenvalues + res.alpha)
    a_grid = np.logspace(np.log10(res.alpha) - 1, np.log10(res.alpha) + 1, 2001)
    f = [mse_function(s, a, xi_fp, sigma0_sq) for a in a_grid]
    assert abs(np.log10(a_grid[int(np.argmin(f))] / res.alpha)) < 2e-3


def test_aitken_limit_of_a_linear_iteration_is_exact():
    from hma_mascon.alpha import _aitken
    z, zs = 1.7, [0.3]
    for _ in range(2):
        zs.append(z + 0.6 * (zs[-1] - z))  # z_k+1 - z* = 0.6 (z_k - z*)
    assert np.isclose(_aitken(*zs), z, rtol=0, atol=1e-13)
    assert _aitken(0.0, 1.0, 2.0) is None  # steps that do not shrink: no extrapolation
    assert _aitken(0.0, 1.0, 1.0) == 1.0  # already at the fixed point


def test_aitken_jump_is_capped_at_three_last_steps():
    # log alpha of the first three plug-in iterates of a real CSR month (2004-05, refined step):
    # their ratio 0.89 puts the limit 7.3 past the last iterate (alpha 1e-4), 3.5 decades beyond
    # the map's fixed point log(0.045); the cap allows three last steps, in the same direction
    from hma_mascon.alpha import _aitken
    z = np.log([1.16, 0.396, 0.153])
    d2 = z[2] - z[1]
    free = _aitken(*z, max_jump=np.inf)
    assert free - z[2] < -7 * abs(d2)
    assert np.isclose(_aitken(*z), z[2] - 3 * abs(d2), rtol=0, atol=1e-12)
    assert np.isclose(_aitken(*(-z)), -z[2] + 3 * abs(d2), rtol=0, atol=1e-12)  # symmetric
    # a jump inside the cap is Aitken's limit, unchanged (ratio 0.6: 1.5 last steps)
    zs = [0.3, 0.3 + 1.4, 0.3 + 1.4 + 0.84]
    assert np.isclose(_aitken(*zs), _aitken(*zs, max_jump=np.inf), rtol=0, atol=0)


def test_accelerated_plug_in_lands_nearer_its_fixed_point_and_months_batch_exactly():
    # a slowly converging plug-in iteration (ratio ~0.9): the plain iteration stops when a step is
    # below tol, which leaves it tol * r / (1 - r) from the fixed point; Aitken's extrapolation
    # does not. Both are judged by the same iteration run to 1e-12.
    rng = np.random.default_rng(11)
    A, _, _ = _ill_posed(rng, n=300, m=80, decay=4)
    n, m = A.shape
    s = EigenTikhonov(A.T @ A, rng.uniform(0.5, 3.0, m))
    X = rng.normal(size=(12, m)) * 0.05
    Y = X @ A.T + 1e-3 * rng.normal(size=(12, n))
    U = s.project(A.T @ Y.T).T
    yPy = np.einsum("ij,ij->i", Y, Y)
    kw = dict(sigma0_sq=1e-6)
    exact = np.array([select_alpha_mse(s, U[k], yPy[k], n, tol=1e-12, maxiter=500, **kw).alpha for k in range(12)])
    plain = [select_alpha_mse(s, U[k], yPy[k], n, accelerate=False, **kw) for k in range(12)]
    fast = [select_alpha_mse(s, U[k], yPy[k], n, **kw) for k in range(12)]
    err_plain = np.abs(np.log([r.alpha for r in plain] / exact))
    err_fast = np.abs(np.log([r.alpha for r in fast] / exact))
    assert all(r.converged for r in fast)
    # (the jump is capped at three last steps, the limit of a ratio of 0.75: on the slowest month the
    # stopping point is then no nearer than the plain iteration's, 3.1e-4 against 2.8e-4)
    assert np.max(err_fast) < 1.5 * np.max(err_plain) and np.median(err_fast) < 0.1 * np.median(err_plain)
    assert np.mean([r.iterations for r in fast]) < np.mean([r.iterations for r in plain])
    # the months together (their Q-products in shared GEMMs, in rounds of at most 30 columns) give
    # what each gives alone
    many = select_alpha_mse_many(s, U, yPy, n, max_columns=30, **kw)
    np.testing.assert_allclose([r.alpha for r in many], [r.alpha for r in fast], rtol=1e-9)
    assert [r.iterations for r in many] == [r.iterations for r in fast]



def test_zero_eigenvalues_and_the_gram_matrix_give_the_squared_bias_norms():
    # a design of rank 60 for 150 unknowns: N has a null space, which the low-rank route of
    # EigenTikhonov gives exact zero eigenvalues. BiasProducts sums those once per month and the
    # rest through the 60 x 60 Gram matrix of Q; its squared norms equal those of the full
    # products Q @ W at every alpha the search can reach, and the months together select what
    # each selects alone.
    from hma_mascon.alpha import default_bounds
    from hma_mascon.euclidean_bias import BiasProducts, BiasRequest

    rng = np.random.default_rng(5)
    n, m = 300, 150
    A = rng.normal(size=(n, 60)) @ (rng.normal(size=(60, m)) * np.logspace(0, -3, m))
    s = EigenTikhonov(A.T @ A, rng.uniform(0.5, 3.0, m))
    X = rng.normal(size=(6, m)) * 0.05
    Y = X @ A.T + 1e-3 * rng.normal(size=(6, n))
    U = s.project(A.T @ Y.T).T
    yPy = np.einsum("ij,ij->i", Y, Y)
    lo, hi = default_bounds(s)
    products = BiasProducts(s, U)
    assert products.gram and products.G.shape == (60, 60) and np.sum(s.eigenvalues == 0) == 90
    reqs, months = [], []
    for k, a in enumerate(np.geomspace(lo, hi, 6)):
        reqs.append(BiasRequest(U[k] / (s.eigenvalues + a), np.geomspace(lo, hi, 9), a))
        months.append(k)
    reqs.append(BiasRequest(U[0] / (s.eigenvalues + 1.0), np.array([1.0, 2.0])))  # no alpha_xi: full product
    months.append(0)
    for r, g in zip(reqs, products(months, reqs)):
        full = s.Q @ r.columns(s.eigenvalues)
        np.testing.assert_allclose(g, np.sum(full**2, axis=0), rtol=1e-11)
    kw = dict(sigma0_sq=1e-6)
    alone = [select_alpha_mse(s, U[k], yPy[k], n, **kw) for k in range(6)]
    many = select_alpha_mse_many(s, U, yPy, n, **kw)
    np.testing.assert_allclose([r.alpha for r in many], [r.alpha for r in alone], rtol=1e-9)
    assert [r.iterations for r in many] == [r.iterations for r in alone]


def test_mse_R_norm_and_collapse_safeguard():
    rng = np.random.default_rng(4)
    A, x_true, y = _ill_posed(rng)
    n, m = A.shape
    s = EigenTikhonov(A.T @ A, np.ones(m))
    res = select_alpha_mse(s, s.project(A.T @ y), y @ y, n, sigma0_sq=1e-6, norm="R")
    assert res.converged
    # with R = I and the R-norm, MSE is sum (s0 lam + a^2 xi^2)/(lam+a)^2: check the stationarity
    xi = s.project(A.T @ y) / (s.eigenvalues + res.alpha)
    lam, a = s.eigenvalues, res.alpha
    fixed = 1e-6 * np.sum(lam / (lam + a) ** 3) / np.sum(lam * xi**2 / (lam + a) ** 3)
    assert np.isclose(a, fixed, rtol=1e-3)
    # pure noise (x_true = 0): the plug-in runs to x -> 0; the safeguard returns the one-step alpha
    ynoise = 1e-3 * rng.normal(size=n)
    res0 = select_alpha_mse(s, s.project(A.T @ ynoise), ynoise @ ynoise, n)
    assert res0.info["collapsed"] and not res0.converged
    assert res0.alpha <= 1e3 * res0.info["alpha_start"]
    # the returned value is the first plug-in step from alpha_GCV
    one = select_alpha_mse(s, s.project(A.T @ ynoise), ynoise @ ynoise, n, maxiter=1)
    assert np.isclose(res0.alpha, one.alpha)


def test_vce_recovers_variance_ratio():
    rng = np.random.default_rng(5)
    n, m = 4000, 200
    A = rng.normal(size=(n, m))
    r = rng.uniform(0.5, 4.0, m)
    sigma0, sigma_x = 3.0, 0.05
    x = sigma_x * rng.normal(size=m) / np.sqrt(r)  # x ~ N(0, sigma_x^2 R^-1)
    y = A @ x + sigma0 * rng.normal(size=n)
    s = EigenTikhonov(A.T @ A, r)
    res = select_alpha_vce(s, s.project(A.T @ y), y @ y, n)
    true_ratio = sigma0**2 / sigma_x**2
    assert res.converged
    assert abs(np.log(res.alpha / true_ratio)) < np.log(1.3)
    assert np.isclose(res.sigma0_sq, sigma0**2, rtol=0.1)


def test_lcurve_corner_against_numerical_curvature():
    rng = np.random.default_rng(6)
    A, _, y = _ill_posed(rng, noise=1e-2, decay=8)
    n, m = A.shape
    N = A.T @ A
    s = EigenTikhonov(N, np.ones(m))
    u = s.project(A.T @ y)
    res = select_alpha_lcurve(s, u, y @ y, n)
    # brute force: direct solves on a fine grid, curvature by finite differences in log alpha
    la = np.linspace(np.log(1e-12), np.log(1e1), 3001)
    rho, zeta = [], []
    for a in np.exp(la):
        x = np.linalg.solve(N + a * np.eye(m), A.T @ y)
        e = y - A @ x
        rho.append(np.log(e @ e))
        zeta.append(np.log(x @ x))
    rho, zeta = np.array(rho), np.array(zeta)
    r1, z1 = np.gradient(rho, la), np.gradient(zeta, la)
    r2, z2 = np.gradient(r1, la), np.gradient(z1, la)
    kappa = (r1 * z2 - r2 * z1) / (r1**2 + z1**2) ** 1.5
    best = np.exp(la[int(np.argmax(kappa[5:-5])) + 5])
    assert abs(np.log10(res.alpha / best)) < 0.02
    k_analytic = lcurve_curvature(s, u, best, y @ y)
    assert np.isclose(k_analytic, kappa.max(), rtol=1e-2)


def test_dispatch():
    rng = np.random.default_rng(8)
    A, _, y = _ill_posed(rng, n=80, m=20)
    s = EigenTikhonov(A.T @ A, np.ones(20))
    u = s.project(A.T @ y)
    for method in ("mse", "vce", "gcv", "lcurve"):
        res = select_alpha(method, s, u, y @ y, 80)
        assert res.method == method and res.alpha > 0 and 0 < res.dof < 20
        assert np.isclose(res.residual, s.residual(u, res.alpha, y @ y))
    with pytest.raises(ValueError, match="unknown"):
        select_alpha("bayes", s, u, y @ y, 80)
