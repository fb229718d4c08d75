"""Two-step estimator: the pure functions against direct linear algebra, and the class contract."""

from __future__ import annotations

import numpy as np
import pytest

from hma_mascon.eigensystem import eigen_system, regularized_solve
from hma_mascon.estimator import PointMassMascon
from hma_mascon.kernels import remove_degree0
from hma_mascon.params import ParameterError
from hma_mascon.resolution import apply_resolution, resolution_factors, trend_bias_factor, trend_prior_scale
from hma_mascon.stokes import calendar_months
from hma_mascon.timeseries import harmonic_design
from hma_mascon.two_step import fit_six_term, preliminary_solve, refined_solve, two_step_solve
from hma_mascon.weights import Whitener


def _problem(n=80, m=30, T=5, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, m)) @ np.diag(np.linspace(1.0, 0.05, m))  # ill-conditioned columns
    r = rng.uniform(0.5, 20.0, m)
    X = rng.normal(size=(T, m))
    Y = X @ A.T + 0.05 * rng.normal(size=(T, n))
    return rng, A, r, X, Y


@pytest.mark.parametrize("rank", [None, 10])
def test_eigen_path_equals_direct_solve(rank):
    """Solutions, residuals, dof, formal errors and bias against direct algebra; with a design of
    rank 10, the low-rank route's exact zero eigenvalues go through the closed-form terms."""
    rng, A, r, _, Y = _problem()
    if rank is not None:
        A = A[:, :rank] @ rng.normal(size=(rank, A.shape[1])) / np.sqrt(rank)
        Y = rng.normal(size=(Y.shape[0], rank)) @ A[:, :rank].T + 0.05 * rng.normal(size=Y.shape)
    system = eigen_system(A, r)
    if rank is not None:
        assert np.sum(system.lam == 0) == A.shape[1] - rank
    alphas = np.array([1e-3, 0.1, 1.0, 10.0, 100.0])
    out = regularized_solve(system, Y, alpha=alphas)
    N = A.T @ A
    for k, a in enumerate(alphas):
        M = N + a * np.diag(r)
        x = np.linalg.solve(M, A.T @ Y[k])
        np.testing.assert_allclose(out.x[k], x, rtol=1e-10, atol=1e-12 * np.abs(x).max())
        # residual recomputed directly; dof = tr[(N + aR)^-1 N]
        assert np.isclose(out.residual[k], np.sum((Y[k] - A @ x) ** 2), rtol=1e-10)
        dof = np.trace(np.linalg.solve(M, N))
        assert np.isclose(out.dof[k], dof, rtol=1e-10)
        assert np.isclose(out.sigma0sq[k], out.residual[k] / (A.shape[0] - dof), rtol=1e-10)
        # formal + prior-expected bias = posterior variance sigma0^2 diag (N + aR)^-1
        post = out.sigma0sq[k] * np.diag(np.linalg.inv(M))
        np.testing.assert_allclose(out.error[k] ** 2 + out.bias_sd[k] ** 2, post, rtol=1e-8)
        # formal covariance sigma0^2 M^-1 N M^-1
        Minv = np.linalg.inv(M)
        np.testing.assert_allclose(out.error[k] ** 2, out.sigma0sq[k] * np.diag(Minv @ N @ Minv), rtol=1e-8,
                                   atol=1e-9 * post.max())
        # plug-in bias: -a (N + aR)^-1 R x_hat
        # (with a null space the bias at small alpha is ill-conditioned: the dense eigen route and
        # direct algebra differ by 4e-7 of its largest element at alpha = 1e-3)
        b_ref = -a * Minv @ (r * x)
        np.testing.assert_allclose(out.bias[k], b_ref, rtol=1e-8, atol=1e-12 if rank is None else 1e-6 * np.abs(b_ref).max())


def test_dense_regularization_matrix():
    rng, A, r, _, Y = _problem(seed=1)
    L = rng.normal(size=(A.shape[1], A.shape[1]))
    R = L @ L.T + A.shape[1] * np.eye(A.shape[1])
    out = regularized_solve(eigen_system(A, R), Y[:1], alpha=0.3)
    x = np.linalg.solve(A.T @ A + 0.3 * R, A.T @ Y[0])
    np.testing.assert_allclose(out.x[0], x, rtol=1e-9)


def test_alpha_rules_pick_different_but_sane_values():
    _, A, r, _, Y = _problem(T=2)
    system = eigen_system(A, r)
    found = {}
    for method in ("mse", "gcv", "vce", "lcurve"):
        out = regularized_solve(system, Y, alpha_method=method)
        assert np.all(np.isfinite(out.alpha)) and np.all(out.alpha > 0)
        found[method] = out.alpha
        # the solution is the direct solve at the chosen alpha
        x = np.linalg.solve(A.T @ A + out.alpha[0] * np.diag(r), A.T @ Y[0])
        np.testing.assert_allclose(out.x[0], x, rtol=1e-8)
    # a much noisier month needs more regularization (GCV)
    rng = np.random.default_rng(5)
    noisy = Y + 3.0 * rng.normal(size=Y.shape)
    assert regularized_solve(system, noisy, alpha_method="gcv").alpha[0] > found["gcv"][0]


def test_whitening_matches_weighted_normal_equations():
    rng, A, r, _, Y = _problem(seed=2)
    n = A.shape[0]
    G = rng.normal(size=(n, n))
    Sy = G @ G.T / n + 0.1 * np.eye(n)
    W = Whitener(Sy, "full", delta=0.0)
    out = preliminary_solve(A, Y[:2], r, whiten=W, alpha_method="gcv")
    P = np.linalg.inv(Sy)
    for k in range(2):
        x = np.linalg.solve(A.T @ P @ A + out.alpha[k] * np.diag(r), A.T @ P @ Y[k])
        np.testing.assert_allclose(out.x[k], x, rtol=1e-7)


def test_refined_uses_the_calendar_month_prior_and_removes_the_trend():
    rng, A, r, _, Y = _problem(T=4, seed=3)
    m = A.shape[1]
    r_sv = rng.uniform(1.0, 50.0, (12, m))
    cal = np.array([1, 7, 7, 12])
    x_trend = 0.1 * rng.normal(size=(4, m))
    out = refined_solve(A, Y, x_trend, r_sv, cal, alpha_method="gcv")
    for k in range(4):
        R = np.diag(r_sv[cal[k] - 1])
        x = np.linalg.solve(A.T @ A + out.alpha[k] * R, A.T @ (Y[k] - A @ x_trend[k]))
        np.testing.assert_allclose(out.x[k], x, rtol=1e-8)
    with pytest.raises(ValueError, match="calendar_month"):
        refined_solve(A, Y, x_trend, r_sv, np.array([0, 1, 2, 3]))


def test_six_term_fit_recovers_coefficients():
    t = 2003 + np.arange(100) / 12 + 1 / 24
    t = np.delete(t, [10, 11, 50])  # gaps
    beta = np.array([[0.3, -1.0], [-0.05, 0.02], [0.1, 0.0], [0.0, 0.2], [0.01, -0.03], [0.02, 0.0]])
    t0 = t.mean()
    X = harmonic_design(t, t0) @ beta
    X_nan = np.vstack([X, np.full((1, 2), np.nan)])
    est, t0_est = fit_six_term(np.append(t, 2020.0), X_nan)
    assert np.isclose(t0_est, t0)
    np.testing.assert_allclose(est, beta, atol=1e-12)


def test_two_step_closed_loop_on_consistent_data():
    """Consistent data with a trend and a seasonal cycle: the trend part equals the truth's linear
    term, the final solution equals the truth, and a missing month stays NaN."""
    rng = np.random.default_rng(4)
    n, m, T = 120, 25, 48
    A = rng.normal(size=(n, m))
    t = 2004 + (np.arange(T) + 0.5) / 12
    cal = np.arange(T) % 12 + 1
    slope = rng.normal(0, 0.05, m)
    amp = rng.uniform(0.05, 0.2, m)
    X = np.outer(t - t.mean(), slope) + amp * np.cos(2 * np.pi * t[:, None])
    X -= X.mean(0)
    Y = X @ A.T
    Y[5] = np.nan
    r_pre = 1 / np.sqrt(np.mean(X**2, 0)) ** 2
    r_sv = np.tile(1 / amp**2, (12, 1))
    res = two_step_solve(A, Y, t, cal, r_pre, r_sv, alpha_method="gcv")
    assert np.all(np.isnan(res.x[5])) and np.all(np.isnan(res.preliminary.alpha[5]))
    ok = np.arange(T) != 5
    assert np.isclose(res.t0, t[ok].mean())
    np.testing.assert_allclose(res.beta[1], slope, atol=1e-4)
    np.testing.assert_allclose(res.x_trend[ok], np.outer(t[ok] - res.t0, res.beta[1]))
    np.testing.assert_allclose(res.x[ok], X[ok], atol=1e-3)
    # offset+trend removes beta0 too; the final solution does not change for consistent data
    res2 = two_step_solve(A, Y, t, cal, r_pre, r_sv, alpha_method="gcv", remove="offset+trend")
    np.testing.assert_allclose(res2.x[ok], X[ok], atol=1e-3)
    # one step: the final solution is the preliminary one
    res1 = two_step_solve(A, Y, t, cal, r_pre, r_sv, alpha_method="gcv", two_step=False)
    np.testing.assert_array_equal(res1.x, res1.preliminary.x)


def test_remove_degree0_is_the_monopole_of_the_kernel():
    """The column sum over a full sphere of observation points of the radial kernel minus its
    degree-0 part vanishes: the degree-0 term is the mean field G M / r^2 (Gauss's law)."""
    from hma_mascon.geometry import mascon_grid
    from hma_mascon.kernels import design_matrix

    grid = mascon_grid((80.0, 81.0, 30.0, 31.0))

    class Sphere:
        # Gauss-Legendre x uniform nodes: surface mean (exact to degree ~299; the closed kernel's
    # spectrum at 450 km decays like (d/r)^n ~ 0.93^n, so the quadrature error is ~1e-6)
        z, w = np.polynomial.legendre.leggauss(150)
        lon = np.linspace(0, 360, 300, endpoint=False)
        lat = np.repeat(np.rad2deg(np.arcsin(z)), lon.size)
        lon = np.tile(lon, z.size)
        weights = np.repeat(w, 300) / 2 / 300
        radius = np.full(lat.size, 6378136.3 + 450e3)

    obs = Sphere()
    A = design_matrix(obs, grid, "radial", "closed")
    A0 = remove_degree0(A, obs, grid, "radial")
    mean_full = obs.weights @ A
    mean_removed = obs.weights @ A0
    assert np.all(mean_full > 0)
    assert np.all(np.abs(mean_removed) < 1e-5 * mean_full)


def test_calendar_months_from_labels_and_epochs():
    import xarray as xr

    ds = xr.Dataset(coords={"time": np.array(["2002-04-18", "2015-01-02"], "datetime64[ns]"),
                            "month": ("time", ["2002-04", "2014-12"])})
    np.testing.assert_array_equal(calendar_months(ds), [4, 12])
    ds2 = ds.drop_vars("month")
    np.testing.assert_array_equal(calendar_months(ds2), [4, 1])


def test_estimator_parameter_errors():
    with pytest.raises(ParameterError, match="'kind' = 'potent'"):
        PointMassMascon(kind="potent")
    with pytest.raises(ParameterError, match="P_mode"):
        PointMassMascon(P_mode="weekly")
    with pytest.raises(ParameterError, match="alpha_method"):
        PointMassMascon(alpha_method="aic")
    with pytest.raises(ParameterError, match="unknown parameter 'period_start' of the estimator stage"):
        PointMassMascon(period_start="2004-01")
    with pytest.raises(RuntimeError, match="fit"):
        PointMassMascon().predict()
    p = PointMassMascon().get_params()
    assert p["altitude_km"] == 450.0 and p["kernel"] == "truncated" and p["regularization"] == "multisource"
    assert p["preset"] == "default"
    paper = PointMassMascon("paper", kernel="truncated").get_params()
    assert paper["prior_rule"] == "A" and paper["degree0"] == "keep" and paper["kernel"] == "truncated"


def test_resolution_operator_equals_a_noise_free_solve():
    """H x from the eigen system equals (N + aR)^-1 N x by direct algebra, for diagonal and dense R."""
    rng, A, r, _, _ = _problem(n=20, m=30, seed=7)  # underdetermined: H is not the identity
    x = rng.normal(size=(3, A.shape[1]))
    for R in (r, np.diag(r) + 0.1):
        system = eigen_system(A, R)
        Rm = R if R.ndim == 2 else np.diag(R)
        for a in (1e-2, 1.0):
            H = np.linalg.solve(A.T @ A + a * Rm, A.T @ A)
            np.testing.assert_allclose(apply_resolution(system, R, a, x), x @ H.T, rtol=1e-8, atol=1e-10)
            U, W = resolution_factors(system, R, a)  # the 10 modes of the null space are left out
            assert U.shape == W.shape == (30, 20)
            # the same through the solver: noise-free data A x
            out = regularized_solve(system, x @ A.T, alpha=a)
            np.testing.assert_allclose(out.x, x @ H.T, rtol=1e-8, atol=1e-10)
    # limits: H -> I as a -> 0 on the row space; H -> 0 as a -> inf
    system = eigen_system(A, r)
    assert np.abs(apply_resolution(system, r, 1e12, x)).max() < 1e-8 * np.abs(x).max()


def test_trend_probe_predicts_the_trend_of_a_noise_free_two_step_solve():
    """A pure trend y_k = A beta (t_k - t0) solved with one fixed alpha per step: the trend the
    two-step solve returns equals H_pre beta + H_ref (I - H_pre) beta exactly, and it is damped."""
    rng = np.random.default_rng(11)
    n, m, T = 40, 60, 24
    A = rng.normal(size=(n, m))
    t = 2004 + (np.arange(T) + 0.5) / 12
    cal = np.arange(T) % 12 + 1
    beta = rng.normal(0, 0.05, m)
    Y = np.outer(t - t.mean(), beta) @ A.T
    r_pre = rng.uniform(1.0, 10.0, m)
    r_sv = rng.uniform(1.0, 10.0, m)  # one R_sv for every calendar month
    res = two_step_solve(A, Y, t, cal, r_pre, r_sv, alpha=0.5, trend_probe=beta)
    assert np.all(res.preliminary.alpha == 0.5) and np.all(res.refined.alpha == 0.5)
    got, _ = fit_six_term(t, res.x)
    np.testing.assert_allclose(res.trend_probe_recovered[0], got[1], rtol=1e-6, atol=1e-9)
    # and by hand from the two operators
    hp = np.linalg.solve(A.T @ A + res.preliminary.alpha[0] * np.diag(r_pre), A.T @ A)
    hr = np.linalg.solve(A.T @ A + res.refined.alpha[0] * np.diag(r_sv), A.T @ A)
    np.testing.assert_allclose(res.trend_probe_recovered[0], hp @ beta + hr @ (beta - hp @ beta), rtol=1e-6,
                               atol=1e-9)
    assert np.linalg.norm(res.trend_probe_recovered[0]) < np.linalg.norm(beta)  # damped (n < m)
    assert np.linalg.norm(res.trend_probe_recovered[0] - beta) > 1e-3 * np.linalg.norm(beta)
    with pytest.raises(ValueError, match="positive finite"):
        two_step_solve(A, Y, t, cal, r_pre, r_sv, alpha=-1.0)


def test_trend_bias_covariance_equals_the_algebra_and_a_monte_carlo():
    """The bias of the two-step trend is -(I - H_ref)(I - H_pre) beta; for beta ~ N(0, c² R_pre⁻¹)
    its covariance c² M Mᵀ (trend_bias_factor) equals that product with dense algebra, for a
    diagonal and a dense R_pre, and a Monte Carlo over beta agrees within sampling error."""
    rng = np.random.default_rng(3)
    n, m = 25, 40
    A = rng.normal(size=(n, m))
    r_sv = rng.uniform(1.0, 10.0, m)
    N = A.T @ A
    for r_pre in (rng.uniform(1.0, 10.0, m), np.diag(rng.uniform(1.0, 10.0, m)) + 0.2):
        Rp = r_pre if r_pre.ndim == 2 else np.diag(r_pre)
        pre, ref = eigen_system(A, r_pre), eigen_system(A, r_sv)
        a_pre, a_ref = 0.7, 0.3
        Hp = np.linalg.solve(N + a_pre * Rp, N)
        Hr = np.linalg.solve(N + a_ref * np.diag(r_sv), N)
        B = (np.eye(m) - Hr) @ (np.eye(m) - Hp)
        M = trend_bias_factor(pre, a_pre, ref, r_sv, a_ref)
        np.testing.assert_allclose(M @ M.T, B @ np.linalg.inv(Rp) @ B.T, rtol=1e-7, atol=1e-10)
        # one step: M = Q diag(a/(lambda + a)), covariance (I - Hp) R⁻¹ (I - Hp)ᵀ
        M1 = trend_bias_factor(pre, a_pre)
        np.testing.assert_allclose(M1 @ M1.T, (np.eye(m) - Hp) @ np.linalg.inv(Rp) @ (np.eye(m) - Hp).T,
                                   rtol=1e-7, atol=1e-10)
        # posterior: with c² = σ0²/α, c² M Mᵀ = σ0² (N + αR)⁻¹ (formal noise plus bias), and it exceeds
        # the bias alone
        Mp = trend_bias_factor(pre, a_pre, posterior=True)
        np.testing.assert_allclose(Mp @ Mp.T / a_pre, np.linalg.inv(N + a_pre * Rp), rtol=1e-7, atol=1e-10)
        assert np.all(np.einsum("jk,jk->j", Mp, Mp) > np.einsum("jk,jk->j", M1, M1))
    # Monte Carlo: the bias of beta drawn from the prior
    L = np.linalg.cholesky(np.linalg.inv(Rp))
    betas = rng.normal(size=(4000, m)) @ L.T
    bias = betas @ B.T
    g = rng.uniform(0, 1, m)  # a regional sum
    sd_mc = float(np.std(bias @ g))
    sd = float(np.sqrt(g @ M @ M.T @ g))
    assert sd == pytest.approx(sd_mc, rel=0.06)
    # the scale: a trend whose sd over the months is the prior's
    t = 2004 + np.arange(120) / 12
    assert trend_prior_scale(2.0, 0.5, t) == pytest.approx(np.sqrt(2.0 / (0.5 * np.var(t))))
    assert np.isnan(trend_prior_scale(1.0, 1.0, [2004.0]))


def _trend_problem(n, m, seed, T=24):
    """A random design, T monthly epochs with their calendar months, data of a trend field plus noise,
    and a diagonal prior: the two-step trend tests' problem."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, m))
    t = 2004 + (np.arange(T) + 0.5) / 12
    cal = np.arange(T) % 12 + 1
    Y = np.outer(t - t.mean(), rng.normal(0, 0.05, m)) @ A.T + 0.01 * rng.normal(size=(T, n))
    return A, Y, t, cal, rng.uniform(1.0, 10.0, m)


def test_two_step_states_the_trend_bias_and_a_larger_alpha_damps_more():
    """TwoStepResult carries the factor and the scale: a larger alpha damps more (larger rows of M)
    and says the prior is tighter (c ∝ alpha^-1/2, the MSE prior (σ0²/α) R⁻¹); the sd per cell is
    c ‖M_j‖, positive; a weighted sum uses the same factor."""
    m = 45
    A, Y, t, cal, r = _trend_problem(n=30, m=m, seed=5)
    rows, scale = {}, {}
    for a in (0.1, 10.0):
        res = two_step_solve(A, Y, t, cal, r, r, alpha=a, sigma0sq=1.0)
        assert res.trend_bias_factor.shape == (m, m) and np.isfinite(res.trend_bias_scale)
        rows[a] = np.linalg.norm(res.trend_bias_factor, axis=1)
        scale[a] = res.trend_bias_scale
        sd = res.expected_trend_bias_sd()
        np.testing.assert_allclose(sd, scale[a] * rows[a], rtol=1e-12)
        assert np.all(sd > 0)
        w = np.ones((1, m))
        np.testing.assert_allclose(res.expected_trend_bias_sd(w)[0], res.trend_bias_scale * np.sqrt(
            w[0] @ res.trend_bias_factor @ res.trend_bias_factor.T @ w[0]), rtol=1e-10)
    assert np.all(rows[10.0] > rows[0.1])
    assert scale[10.0] / scale[0.1] == pytest.approx(np.sqrt(0.1 / 10.0), rel=1e-9)


def test_alpha_per_system_gives_every_month_the_median():
    rng, A, r, X, _ = _problem(n=60, m=30, T=8, seed=5)
    Y = X @ A.T + 0.05 * rng.normal(size=(8, 60))
    system = eigen_system(A, r)
    monthly = regularized_solve(system, Y, "mse", sigma0sq=0.05**2)
    one = regularized_solve(system, Y, "mse", sigma0sq=0.05**2, alpha_per="system")
    assert np.ptp(monthly.alpha) > 0
    np.testing.assert_allclose(one.alpha, np.median(monthly.alpha))
    with pytest.raises(ValueError, match="alpha_per"):
        regularized_solve(system, Y, "mse", sigma0sq=0.05**2, alpha_per="year")


def test_alpha_scale_solves_below_the_rule_and_keeps_the_rules_prior():
    """alpha_scale s: the months are solved at s times the rule's α (the same solution as a fixed α
    there) while the stated bias keeps the rule's prior x ~ N(0, (σ0²/α_r) R⁻¹): bias covariance
    (σ0² α²/α_r) M⁻¹ R M⁻¹ with M = N + αR, against direct algebra. The posterior mean (s = 1) is the
    minimum-variance linear estimate under that prior, so for every cell formal² + bias² is smallest
    at s = 1; a smaller α has less bias and more noise. s = 1 is the rule's solve, bitwise."""
    rng, A, r, X, _ = _problem(n=60, m=30, T=6, seed=8)
    Y = X @ A.T + 0.05 * rng.normal(size=(6, 60))
    system = eigen_system(A, r)
    s0 = 0.05**2
    rule = regularized_solve(system, Y, "mse", sigma0sq=s0)
    same = regularized_solve(system, Y, "mse", sigma0sq=s0, alpha_scale=1.0)
    for name in ("x", "alpha", "error", "bias_sd"):
        np.testing.assert_array_equal(getattr(same, name), getattr(rule, name))
    np.testing.assert_array_equal(rule.alpha_rule, rule.alpha)
    N = A.T @ A
    total = {}
    for s in (0.3, 1.0, 3.0):
        out = regularized_solve(system, Y, "mse", sigma0sq=s0, alpha_scale=s)
        np.testing.assert_allclose(out.alpha, s * rule.alpha, rtol=1e-14)
        np.testing.assert_array_equal(out.alpha_rule, rule.alpha)
        fixed = regularized_solve(system, Y, alpha=out.alpha, sigma0sq=s0)
        np.testing.assert_allclose(out.x, fixed.x, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out.error, fixed.error, rtol=1e-12)
        for k in range(Y.shape[0]):
            a, ar = out.alpha[k], rule.alpha[k]
            Minv = np.linalg.inv(N + a * np.diag(r))
            expected = s0 * a**2 / ar * np.diag(Minv @ np.diag(r) @ Minv)
            np.testing.assert_allclose(out.bias_sd[k] ** 2, expected, rtol=1e-8)
        total[s] = out.error**2 + out.bias_sd**2
    assert np.all(total[0.3] >= total[1.0] * (1 - 1e-10)) and np.all(total[3.0] >= total[1.0] * (1 - 1e-10))
    low, high = (regularized_solve(system, Y, "mse", sigma0sq=s0, alpha_scale=s) for s in (0.3, 3.0))
    assert np.all(low.bias_sd < high.bias_sd) and np.all(low.error > high.error)
    with pytest.raises(ValueError, match="alpha_scale"):
        regularized_solve(system, Y, "mse", sigma0sq=s0, alpha_scale=0.0)


def test_two_step_alpha_scale_keeps_the_trend_prior_of_the_rule():
    """The trend's prior scale c comes from the rule's α (c ∝ α_rule^-1/2), the damping factor M from
    the α the months were solved with: a scale changes M and leaves c."""
    A, Y, t, cal, r = _trend_problem(n=80, m=40, seed=9)
    base = two_step_solve(A, Y, t, cal, r, r, sigma0sq=1e-4)
    low = two_step_solve(A, Y, t, cal, r, r, sigma0sq=1e-4, alpha_scale=0.3)
    np.testing.assert_allclose(low.preliminary.alpha, 0.3 * base.preliminary.alpha, rtol=1e-12)
    assert low.trend_bias_scale == pytest.approx(base.trend_bias_scale, rel=1e-12)
    assert np.all(np.linalg.norm(low.trend_bias_factor, axis=1) < np.linalg.norm(base.trend_bias_factor, axis=1))


def test_robust_alpha_floor_lifts_only_outlying_months():
    """One month whose data are 1e3 times larger gets a much smaller MSE alpha; the floor lifts it
    to median/factor and leaves the others alone."""
    rng, A, r, X, _ = _problem(n=60, m=30, T=8, seed=5)
    Y = X @ A.T + 0.05 * rng.normal(size=(8, 60))
    Y[3] *= 1e3
    system = eigen_system(A, r)
    free = regularized_solve(system, Y, "mse", sigma0sq=0.05**2)
    med = np.median(free.alpha)
    assert free.alpha[3] < med / 10  # the outlier month would be solved with a far smaller alpha
    out = regularized_solve(system, Y, "mse", sigma0sq=0.05**2, alpha_floor_factor=10.0)
    assert np.isclose(out.alpha[3], med / 10)
    assert out.alpha_floored[3] == 1 and np.sum(out.alpha_floored) == 1
    np.testing.assert_allclose(np.delete(out.alpha, 3), np.delete(free.alpha, 3))
    # the solution of the lifted month is the direct solve at the lifted alpha
    x = np.linalg.solve(A.T @ A + out.alpha[3] * np.diag(r), A.T @ Y[3])
    np.testing.assert_allclose(out.x[3], x, rtol=1e-8)


def test_trend_from_data_is_the_regularized_solve_of_the_data_trend():
    """trend_from="data": beta1 = (N + a_b R_pre)^-1 A^T (w^T Y) with w the trend row of the six-term
    fit and, for a fixed monthly alpha a, a_b = a sum(w^2) var(t) (the same prior scale for the
    trend); the refined step then works on y - A beta1 (t - t0)."""
    rng = np.random.default_rng(21)
    n, m, T = 50, 30, 36
    A = rng.normal(size=(n, m))
    t = 2004 + (np.arange(T) + 0.5) / 12
    cal = np.arange(T) % 12 + 1
    Y = np.outer(t - t.mean(), rng.normal(0, 0.05, m)) @ A.T + 0.1 * rng.normal(size=(T, n))
    r = rng.uniform(1.0, 10.0, m)
    res = two_step_solve(A, Y, t, cal, r, r, alpha=2.0, sigma0sq=1.0, trend_from="data")
    w = np.linalg.pinv(harmonic_design(t, t.mean()))[1]
    a_b = 2.0 * np.sum(w**2) * np.var(t)
    assert res.alpha_trend == pytest.approx(a_b, rel=1e-12)
    direct = np.linalg.solve(A.T @ A + a_b * np.diag(r), A.T @ (w @ Y))
    np.testing.assert_allclose(res.beta[1], direct, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.x_trend, np.outer(t - res.t0, direct), rtol=1e-8, atol=1e-12)
    assert res.trend_bias_scale == pytest.approx(np.sqrt(np.sum(w**2) / a_b), rel=1e-12)
    with pytest.raises(ValueError, match="trend_from"):
        two_step_solve(A, Y, t, cal, r, r, alpha=2.0, trend_from="fit")


def test_trend_from_data_is_not_damped_like_the_months():
    """Noisy months: the MSE rule picks each month's alpha for one month's signal-to-noise and the
    preliminary solutions' trend comes back damped; the trend solved from the data's trend, at its
    own noise level (T months: a smaller alpha), is closer to the truth and less damped."""
    rng = np.random.default_rng(8)
    n, m, T = 60, 40, 120
    A = rng.normal(size=(n, m))
    t = 2003 + (np.arange(T) + 0.5) / 12
    cal = np.arange(T) % 12 + 1
    beta = rng.normal(0, 0.05, m)
    amp = rng.uniform(0.05, 0.2, m)
    X = np.outer(t - t.mean(), beta) + amp * np.cos(2 * np.pi * t[:, None])
    Y = X @ A.T + 1.5 * rng.normal(size=(T, n))
    r_pre = 1 / np.mean(X**2, 0)
    r_sv = np.tile(1 / amp**2, (12, 1))
    kw = dict(alpha_method="mse", sigma0sq=1.5**2)
    old = two_step_solve(A, Y, t, cal, r_pre, r_sv, **kw)
    new = two_step_solve(A, Y, t, cal, r_pre, r_sv, trend_from="data", **kw)
    got_old, got_new = fit_six_term(t, old.x)[0][1], fit_six_term(t, new.x)[0][1]
    assert new.alpha_trend < np.median(old.preliminary.alpha)
    assert np.linalg.norm(got_new - beta) < 0.7 * np.linalg.norm(got_old - beta)
    damping = lambda b: float(b @ beta / (beta @ beta))  # noqa: E731  regression slope on the truth
    assert damping(got_old) < damping(got_new) <= 1.1
