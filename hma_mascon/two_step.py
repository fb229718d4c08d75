"""Two-step estimation of METHODS.md §9: preliminary solve, six-term fit, refined solve.

1. :func:`preliminary_solve` -- every month with R_pre and its own α;
2. :func:`fit_six_term` -- per mascon, offset, trend, annual and semi-annual terms over the
   available months; the trend part x_trend(t) = β1 (t - t0) is removed [AMB-9];
3. :func:`refined_solve` -- y - A x_trend with R_sv of each calendar month;
4. :func:`two_step_solve` -- final = trend part + refined part, with the stated error (formal
   covariance and the regularization bias) and, optionally, the damping of probe trend fields
   (:func:`hma_mascon.resolution.trend_recovery`).

Written by hand: the bookkeeping of which months share an eigensystem (one L⁻¹A and one Ã^T Ã
per P, shared by the 13 systems of the two steps) and the two-step logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .eigensystem import NormalMatrices, StepResult, eigen_system, regularized_solve
from .regularization import as_precision
from .resolution import trend_bias_factor, trend_bias_sd, trend_prior_scale, trend_recovery
from .timeseries import harmonic_design  # the six-term model of §9, shared with the trend fits
from .weights import apply_whitener

__all__ = ["fit_six_term", "preliminary_solve", "refined_solve", "data_trend_solve", "TwoStepResult", "two_step_solve"]


# ----------------------------------------------------------------------------------------------
# six-term fit (§9 step 2)
# ----------------------------------------------------------------------------------------------
def fit_six_term(t, X):
    """Least-squares six-term fit of every column of ``X`` (T, m) over the finite months.

    Returns
    -------
    beta : ndarray (6, m)
        [β0, β1, a1, b1, a2, b2] per column.
    t0 : float
        The mean epoch of the months used.
    """
    t = np.asarray(t, float)
    X = np.asarray(X, float)
    ok = np.all(np.isfinite(X), axis=1)
    if ok.sum() < 6:
        raise ValueError(f"a six-term fit needs at least 6 months with solutions, got {int(ok.sum())}")
    t0 = float(np.mean(t[ok]))
    H = harmonic_design(t[ok], t0)
    beta, *_ = np.linalg.lstsq(H, X[ok], rcond=None)
    return beta, t0


# ----------------------------------------------------------------------------------------------
# the two steps
# ----------------------------------------------------------------------------------------------
def _groups(group, T):
    group = np.zeros(T, int) if group is None else np.asarray(group)
    if group.shape != (T,):
        raise ValueError(f"group has shape {group.shape}, expected ({T},)")
    return group


def _take(sigma0sq, idx):
    """Per-month variance factors of the months ``idx`` (a scalar or None passes through)."""
    if sigma0sq is None or np.ndim(sigma0sq) == 0:
        return sigma0sq
    return np.asarray(sigma0sq, float)[idx]


def _checked_alpha(alpha):
    """A fixed α (a positive finite number, or one per month) or None."""
    if alpha is None:
        return None
    a = np.asarray(alpha, float)
    if not np.all(np.isfinite(a) & (a > 0)):
        raise ValueError(f"a fixed alpha must be a positive finite number, got {alpha!r}")
    return a if a.ndim else float(a)


def _r_of(R, c, m):
    """R_sv of calendar month c from (12, m), (12, m, m), (m,) or (m, m)."""
    R = as_precision(R)
    if R.shape in ((12, m), (12, m, m)):
        return R[c - 1]
    if R.shape in ((m,), (m, m)):
        return R
    raise ValueError(f"R_sv has shape {R.shape}; expected (12, {m}), (12, {m}, {m}), ({m},) or ({m}, {m})")


def preliminary_solve(A, Y, r_pre, *, whiten=None, group=None, alpha_method="mse", alpha=None, sigma0sq=None,
                      mse_norm="euclidean", progress=False, keep_systems=False, alpha_floor_factor=None, alpha_per="month",
                      alpha_scale=1.0, _normals=None) -> StepResult:
    """Preliminary solve of every month with R_pre and its own α (METHODS.md §9 step 1).

    Parameters
    ----------
    A : ndarray (n, m)
        Design matrix (scaled, unwhitened).
    Y : ndarray (T, n)
        Pseudo-observations per month (same scaling); rows with NaN are missing months.
    r_pre : ndarray (m,) or (m, m)
        R_pre (its diagonal, or a dense SPD matrix).
    whiten : Whitener, callable, or sequence of them, optional
        ``whiten.whiten(M)`` (or ``whiten(M)``) returns L⁻¹M for an (n, k) matrix; one per group
        (``P_mode``). Default: identity.
    group : array_like of int (T,), optional
        Index into ``whiten`` per month (``P_mode="mission"``/``"monthly"``).
    alpha_method, sigma0sq, mse_norm : see :func:`hma_mascon.eigensystem.select_alpha`.
    alpha : float or array_like (T,), optional
        A fixed α for every month (``alpha_method`` is then not used); also in
        :func:`refined_solve` and :func:`two_step_solve`.
    progress : bool
        tqdm bar over months.
    keep_systems : bool
        Keep the eigensystem of each group in ``result.systems`` (for :func:`trend_bias_sd`).
    alpha_floor_factor : float, optional
        Robust α floor per eigensystem (:func:`regularized_solve`); also in :func:`refined_solve`.
    alpha_per, alpha_scale :
        One α per month or per eigensystem, and the factor on the rule's α
        (:func:`hma_mascon.eigensystem.regularized_solve`); also in :func:`refined_solve`.

    Returns
    -------
    StepResult
        NaN rows for missing months.
    """
    Y = np.atleast_2d(np.asarray(Y, float))
    T, m = Y.shape[0], A.shape[1]
    group = _groups(group, T)
    out = StepResult.empty(T, m)
    ok = np.all(np.isfinite(Y), axis=1)
    normals = _normals if _normals is not None else NormalMatrices(A, whiten)
    for g in np.unique(group[ok]):
        idx = np.flatnonzero(ok & (group == g))
        w, Aw, N, nobs = normals.get(g)
        system = eigen_system(Aw, r_pre, nobs=nobs, N=N)
        out.put(idx, regularized_solve(system, apply_whitener(w, Y[idx].T).T, alpha_method, _checked_alpha(alpha),
                                       sigma0sq=_take(sigma0sq, idx), mse_norm=mse_norm, progress=progress,
                                       desc="preliminary", alpha_floor_factor=alpha_floor_factor,
                                       alpha_per=alpha_per, alpha_scale=alpha_scale))
        if keep_systems:
            out.systems[g] = (system, idx)
    return out


def refined_solve(A, Y, x_trend, r_sv, calendar_month, *, whiten=None, group=None, alpha_method="mse", alpha=None,
                  sigma0sq=None, mse_norm="euclidean", progress=False, keep_largest_system=False,
                  alpha_floor_factor=None, alpha_per="month", alpha_scale=1.0, _normals=None) -> StepResult:
    """Refined solve of y' = y - A x_trend with R_sv(c(t)) and its own α (METHODS.md §9 step 3).

    Parameters
    ----------
    A, Y, whiten, group, alpha_method, sigma0sq, progress : see :func:`preliminary_solve`.
    x_trend : ndarray (T, m)
        Trend part removed from the data [m].
    r_sv : ndarray (12, m)
        Diagonal of R_sv for calendar months 1..12 (row c-1); also accepted: (12, m, m), or one
        (m,)/(m, m) matrix for every calendar month.
    calendar_month : array_like of int (T,)
        c(t_k) in 1..12.
    keep_largest_system : bool
        Keep the eigensystem that solved the most months in ``result.systems`` as
        ``{key: (system, idx, R)}`` (one m x m system only, for :func:`trend_recovery`).

    Returns
    -------
    StepResult
        Solutions x_sv (without the trend part).
    """
    Y = np.atleast_2d(np.asarray(Y, float))
    T, m = Y.shape[0], A.shape[1]
    cal = np.asarray(calendar_month, int)
    if cal.shape != (T,) or np.any((cal < 1) | (cal > 12)):
        raise ValueError("calendar_month must give 1..12 for every month")
    group = _groups(group, T)
    x_trend = np.asarray(x_trend, float)
    ok = np.all(np.isfinite(Y), axis=1) & np.all(np.isfinite(x_trend), axis=1)
    Yp = Y - np.nan_to_num(x_trend) @ A.T
    out = StepResult.empty(T, m)
    same = as_precision(r_sv).shape in ((m,), (m, m))
    normals = _normals if _normals is not None else NormalMatrices(A, whiten)
    for g in np.unique(group[ok]):
        ing = ok & (group == g)
        w, Aw, N, nobs = normals.get(g)
        cals = [0] if same else range(1, 13)
        for c in cals:
            idx = np.flatnonzero(ing if same else ing & (cal == c))
            if idx.size == 0:
                continue
            Rc = _r_of(r_sv, max(c, 1), m)
            system = eigen_system(Aw, Rc, nobs=nobs, N=N)
            out.put(idx, regularized_solve(system, apply_whitener(w, Yp[idx].T).T, alpha_method, _checked_alpha(alpha),
                                           sigma0sq=_take(sigma0sq, idx),
                                           mse_norm=mse_norm, progress=progress, desc=f"refined c={c}",
                                           alpha_floor_factor=alpha_floor_factor, alpha_per=alpha_per,
                                           alpha_scale=alpha_scale))
            if keep_largest_system and idx.size > max((v[1].size for v in out.systems.values()), default=0):
                out.systems = {(g, c): (system, idx, Rc)}
    return out


@dataclass
class TwoStepResult:
    """Output of :func:`two_step_solve`.

    Attributes
    ----------
    x : ndarray (T, m)
        Final solution x_trend + x_sv [m]; NaN for missing months.
    x_trend : ndarray (T, m)
        Trend part removed before the refined step.
    preliminary, refined : StepResult
    beta : ndarray (6, m)
        Six-term coefficients of the preliminary solution; with ``trend_from="data"`` beta[1] is the
        trend solved from the data (:func:`data_trend_solve`).
    t0 : float
        Reference epoch of the fit (mean of the available epochs).
    error : ndarray (T, m)
        Formal 1-sigma error of the final solution (that of the refined step) [m].
    trend_bias_sd : ndarray (m,)
        Upper bound of the regularization bias of the per-cell trend [m/yr] (:func:`trend_bias_sd`).
    stated_error : ndarray (T, m)
        1-sigma error stated for the final solution [m]: the larger of the refined and the
        preliminary posterior sd, each sqrt(formal² + bias_sd²) = sqrt(diag σ0²(N + αR)⁻¹).
        The formal covariance alone ignores the regularization bias (noisy closed loop of
        tests/test_closed_loop.py: it covers 1.4 % of the cell-months at 95 %); the refined
        posterior treats x_trend as known (28.5 %); the stated error covers 97 % (every cell
        >= 90 % of its months), with a median 95 % half-width of 5.9 x the actual error.
    trend_probe, trend_probe_recovered : ndarray (k, m) or None
        Probe trend fields [m/yr] and what the two-step solve returns for them, noise-free
        (:func:`trend_recovery`).
    trend_bias_factor : ndarray (m, m) or None
        M of :func:`hma_mascon.resolution.trend_bias_factor`: the prior-expected covariance of the
        regularization bias of the trend is ``trend_bias_scale**2 * M @ M.T`` [(m/yr)²].
    trend_bias_scale : float
        c of :func:`hma_mascon.resolution.trend_prior_scale` (from the preliminary step's median α
        and σ0² and the months used), or sqrt(σ²_0,β/α_β) with ``trend_from="data"``.
    alpha_trend : float
        The α of the trend: the preliminary step's median α, or α_β with ``trend_from="data"``.
    """

    x: np.ndarray
    x_trend: np.ndarray
    preliminary: StepResult
    refined: StepResult
    beta: np.ndarray
    t0: float
    error: np.ndarray = field(default=None)
    trend_bias_sd: np.ndarray = field(default=None)
    stated_error: np.ndarray = field(default=None)
    trend_probe: np.ndarray = field(default=None)
    trend_probe_recovered: np.ndarray = field(default=None)
    trend_bias_factor: np.ndarray = field(default=None)
    trend_bias_scale: float = np.nan
    alpha_trend: float = np.nan

    def expected_trend_bias_sd(self, weights=None) -> np.ndarray:
        """Prior-expected sd of the regularization bias of the trend [m/yr per cell, or the units
        of ``weights`` (k, m) times m/yr per row]: c ‖M_j·‖ per cell, c ‖w Mᵀ‖ per functional."""
        if self.trend_bias_factor is None:
            return None
        M = self.trend_bias_factor
        if weights is None:
            return self.trend_bias_scale * np.sqrt(np.einsum("jk,jk->j", M, M))
        G = np.atleast_2d(np.asarray(weights, float)) @ M
        return self.trend_bias_scale * np.sqrt(np.einsum("rk,rk->r", G, G))


def data_trend_solve(normals, system, g, Y, t, t0, months, alpha_months, *, sigma0sq=None, sigma0sq_fallback=1.0):
    r"""The trend field solved from the trend of the data (``trend_from="data"``).

    The six-term model of §9 is fitted to every pseudo-observation over the months used,
    :math:`\dot y = w^T Y` with :math:`w` the trend row of :math:`(H^TH)^{-1}H^T`, and the trend
    field is the regularized solution of that one right-hand side with the preliminary step's
    prior R_pre and eigensystem:

    .. math:: \hat\beta = (N + \alpha_\beta R_{pre})^{-1} A^T P\, \dot y , \qquad
              \alpha_\beta = \alpha\,\mathrm{var}(t) \sum_k w_k^2 , \qquad
              \sigma^2_{0,\beta} = \sum_k w_k^2\, \sigma^2_{0,k} .

    α is the months' α (the median of the preliminary step's), so the trend's prior is the one
    the months' α implies, N(0, σ0²/(α var t) R⁻¹) (:func:`hma_mascon.resolution.trend_prior_scale`:
    a trend as large as the prior's own), and the noise is the trend's, σ0² Σ w_k² (about
    σ0²/(T var t)): α_β is about α/T. METHODS.md §9 instead fits the trend to the preliminary
    solutions, each damped with the α of one month's signal-to-noise, so their trend is damped
    as much as a single month (real CSR, Southern Andes: that solve kept 48 % of the data's own
    filtered trend over the glacier cells). The months' rule is not run again on the trend: on the
    real CSR record the plug-in MSE on this one right-hand side collapsed to α_β ~ 1e-9 and
    cells of kilometres, because real trend errors (striping, leakage from outside the grid)
    do not average down over the months as white noise does.

    Parameters
    ----------
    normals : NormalMatrices
    system : EigenSystem
        The preliminary eigensystem of whitening group ``g`` (its whitener whitens ẏ).
    Y : ndarray (T, n)
    t : ndarray (T,)
        Decimal years.
    t0 : float
        Reference epoch (that of the six-term fit of the preliminary solutions).
    months : ndarray of bool (T,)
        The months used (those the preliminary step solved).
    alpha_months : float
        The months' α (median of the preliminary step's, or the fixed α).
    sigma0sq : float, array (T,) or None
        Variance factors of the months (None: ``sigma0sq_fallback`` for every month).

    Returns
    -------
    (beta (m,), alpha_beta, sigma0sq_beta)
    """
    idx = np.flatnonzero(months)
    H = harmonic_design(t[idx], t0)
    w = np.linalg.pinv(H)[1]  # trend row of (H^T H)^-1 H^T
    ydot = w @ Y[idx]
    s0 = np.broadcast_to(np.asarray(sigma0sq_fallback if sigma0sq is None else sigma0sq, float), (t.size,))[idx]
    s0_beta = float(np.sum(w**2 * s0))
    a_beta = float(alpha_months) * float(np.sum(w**2)) * float(np.var(t[idx]))
    wg, _, _, _ = normals.get(g)
    step = regularized_solve(system, apply_whitener(wg, ydot[:, None]).T, alpha=a_beta, sigma0sq=s0_beta)
    return step.x[0], a_beta, s0_beta


def _median_sigma0sq(step, idx, sigma0sq):
    """σ0² the step's stated errors used: the fixed value(s) if given, else the estimates."""
    if sigma0sq is not None:
        return float(np.nanmedian(np.broadcast_to(np.asarray(sigma0sq, float), step.sigma0sq.shape)[idx]))
    return float(np.nanmedian(step.sigma0sq[idx]))


def two_step_solve(A, Y, t, calendar_month, r_pre, r_sv, *, whiten=None, group=None, alpha_method="mse", alpha=None,
                   sigma0sq=None, mse_norm="euclidean", remove="trend", two_step=True, progress=False,
                   trend_probe=None, alpha_floor_factor=None, alpha_per="month", alpha_scale=1.0,
                   trend_from="preliminary") -> TwoStepResult:
    """Two-step estimation of METHODS.md §9.

    1. x_pre(t) with R_pre, α_pre(t);
    2. per mascon, least squares x = β0 + β1(t - t0) + a1 cos2πt + b1 sin2πt + a2 cos4πt + b2 sin4πt
       over the available months, t0 = their mean epoch; x_trend(t) = β1 (t - t0)
       (``remove="offset+trend"``: β0 + β1 (t - t0)) [AMB-9];
    3. x_sv(t) from y - A x_trend(t) with R_sv(c(t)) and its own α;
    4. x = x_trend + x_sv.

    ``trend_from="data"`` replaces step 2's trend β1 by :func:`data_trend_solve`: the trend of the
    data solved once, with the prior the months' α implies and the trend's own noise level
    (deviation from METHODS.md §9, which fits the trend to the damped preliminary solutions); the
    offset, annual and semi-annual terms stay those of the preliminary fit, and the bias and probe
    terms use α_β.

    With ``two_step=False`` the preliminary solution is returned as final (refined = preliminary).
    The formal error of the final solution is that of the refined step (the trend part is a
    deterministic function of the preliminary solution and is treated as known, as in the paper).

    ``trend_probe`` (k, m), optional: true trend fields to pass through the resolution operators
    of both steps (:func:`trend_recovery`); the result's ``trend_probe_recovered`` holds what the
    solve would return for each of them.

    The result also carries the factor of the prior-expected bias covariance of the trend
    (:func:`hma_mascon.resolution.trend_bias_factor`, ``TwoStepResult.expected_trend_bias_sd``), evaluated
    with the eigensystems that solved the most months and their median α. With ``alpha_scale`` s ≠ 1
    the months are solved at s times the rule's α (:func:`hma_mascon.eigensystem.regularized_solve`):
    the factor M takes the α of the solve, the prior's scale c the rule's α.
    """
    if remove not in ("trend", "offset+trend"):
        raise ValueError(f'remove must be "trend" or "offset+trend", got {remove!r}')
    if trend_from not in ("preliminary", "data"):
        raise ValueError(f'trend_from must be "preliminary" or "data", got {trend_from!r}')
    Y = np.atleast_2d(np.asarray(Y, float))
    t = np.asarray(t, float)
    normals = NormalMatrices(A, whiten)
    pre = preliminary_solve(A, Y, r_pre, whiten=whiten, group=group, alpha_method=alpha_method, alpha=alpha, sigma0sq=sigma0sq,
                            mse_norm=mse_norm, progress=progress,
                            keep_systems=True,
                            alpha_floor_factor=alpha_floor_factor, alpha_per=alpha_per, alpha_scale=alpha_scale,
                            _normals=normals)
    g_main = max(pre.systems, key=lambda g: pre.systems[g][1].size) if pre.systems else None
    probe = None if trend_probe is None else np.atleast_2d(np.asarray(trend_probe, float))
    if not two_step:
        rec, M, c = None, None, np.nan
        if g_main is not None:
            system, idx = pre.systems[g_main]
            alpha_pre = float(np.nanmedian(pre.alpha[idx]))
            if probe is not None:
                rec = trend_recovery(system, r_pre, alpha_pre, None, None, None, probe)
            M = trend_bias_factor(system, alpha_pre)
            c = trend_prior_scale(_median_sigma0sq(pre, idx, sigma0sq), float(np.nanmedian(pre.alpha_rule[idx])),
                                  t[np.all(np.isfinite(pre.x), axis=1)])
        pre.systems = {}
        return TwoStepResult(x=pre.x, x_trend=np.zeros_like(pre.x), preliminary=pre, refined=pre,
                             beta=np.full((6, A.shape[1]), np.nan), t0=float(np.nanmean(t)), error=pre.error,
                             stated_error=np.hypot(pre.error, pre.bias_sd), trend_probe=probe,
                             trend_probe_recovered=rec, trend_bias_factor=M, trend_bias_scale=c)
    beta, t0 = fit_six_term(t, pre.x)
    system, idx = pre.systems[g_main]
    alpha_pre = float(np.nanmedian(pre.alpha[idx]))
    # the prior's scale from the rule's α, the damping (M) from the α the months were solved with
    c = trend_prior_scale(_median_sigma0sq(pre, idx, sigma0sq), float(np.nanmedian(pre.alpha_rule[idx])),
                          t[np.all(np.isfinite(pre.x), axis=1)])
    if trend_from == "data":
        solved = np.all(np.isfinite(pre.x), axis=1)
        beta[1], alpha_pre, s0_beta = data_trend_solve(
            normals, system, g_main, Y, t, t0, solved, alpha_pre, sigma0sq=sigma0sq,
            sigma0sq_fallback=float(np.nanmedian(pre.sigma0sq[solved])))
        c = float(np.sqrt(s0_beta / alpha_pre))  # the trend system's own prior scale, c² = σ0²_β/α_β
    x_trend = np.outer(t - t0, beta[1])
    if remove == "offset+trend":
        x_trend = x_trend + beta[0][None, :]
    x_trend[~np.all(np.isfinite(pre.x), axis=1)] = np.nan
    ref = refined_solve(A, Y, x_trend, r_sv, calendar_month, whiten=whiten, group=group,
                        alpha_method=alpha_method, alpha=alpha, sigma0sq=sigma0sq, mse_norm=mse_norm, progress=progress,
                        keep_largest_system=True, alpha_floor_factor=alpha_floor_factor, alpha_per=alpha_per,
                        alpha_scale=alpha_scale,
                        _normals=normals)
    normals.clear()  # N (m x m) is not needed for the error terms below
    tb = trend_bias_sd(system, r_pre, alpha_pre, beta[1])
    (rsys, ridx, rR), = ref.systems.values()
    alpha_ref = float(np.nanmedian(ref.alpha[ridx]))
    rec = None
    if probe is not None:
        rec = trend_recovery(system, r_pre, alpha_pre, rsys, rR, alpha_ref, probe)
    M = trend_bias_factor(system, alpha_pre, rsys, rR, alpha_ref, posterior=trend_from == "data")
    pre.systems = {}
    ref.systems = {}
    post_ref = np.hypot(ref.error, ref.bias_sd)
    post_pre = np.hypot(pre.error, pre.bias_sd)
    return TwoStepResult(x=x_trend + ref.x, x_trend=x_trend, preliminary=pre, refined=ref, beta=beta, t0=t0,
                         error=ref.error, trend_bias_sd=tb, stated_error=np.fmax(post_ref, post_pre),
                         trend_probe=probe, trend_probe_recovered=rec, trend_bias_factor=M, trend_bias_scale=c,
                         alpha_trend=alpha_pre)
