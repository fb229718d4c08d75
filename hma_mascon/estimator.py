"""Two-step point-mass mascon estimator (METHODS.md §3-§9).

:class:`PointMassMascon` follows the estimator pattern of harmonica's ``EquivalentSourcesSph``:
hyper-parameters in ``__init__``, ``fit`` on data, ``predict`` and labelled output. Underneath it
are pure functions that a reader can test alone:

* :func:`eigen_system` -- one generalized eigendecomposition per (whitened normal matrix, R) pair
  (§8): with s = r^(-1/2), Ñ = diag(s) Ã^T Ã diag(s) = V Λ V^T and Q = diag(s) V;
* :func:`regularized_solve` -- all months that share that pair, all trial alphas: with
  u = Q^T Ã^T ỹ per month, every alpha-dependent quantity costs O(m) (§8);
* :func:`preliminary_solve` (R_pre), :func:`refined_solve` (R_sv of each calendar month, data
  minus the trend part) and :func:`two_step_solve` (§9: preliminary -> six-term fit per mascon ->
  refined -> final = trend + refined part).

Heavy lifting: numpy/scipy LAPACK (``eigh`` inside :class:`hma_mascon.solver.EigenTikhonov`,
Cholesky whitening in :class:`hma_mascon.weights.Whitener`, GEMM over all months at once); the α
rules are :mod:`hma_mascon.alpha`'s. Written by hand here: the bookkeeping of which months share
an eigensystem (one L⁻¹A and one Ã^T Ã per P, shared by the 13 systems), the projection of all
months in two products, the direct residuals, formal errors and MSE bias terms vectorised over
months, the two-step logic (§9), the degree-0 consistency of the kernel and the month loop
(tqdm progress).

Deviations from METHODS.md, each measured (details in the docstrings): the MSE rule uses the
calibrated variance factor σ0² = 1 by default (``sigma0_sq``), because the residual estimate
collapses on the oversampled grid; the degree-0 term is removed from the kernel (``degree0``);
the stated error adds the regularization-bias term to the formal covariance
(``TwoStepResult.stated_error``).

References
----------
Wang, Shen, Chen, Wang (2024), IEEE JSTARS (two-step solution, prior-variance regularization).
Xu, P. & Rummel, R. (1994), Manuscr. Geod. 19, 225-241 (MSE-optimal alpha).
Koch, K.-R. & Kusche, J. (2002), J. Geodesy 76, 259-268 (variance components).
Uieda, L. et al. harmonica ``EquivalentSourcesSph`` (estimator interface).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from .constants import HMA_BOX, RHO_WATER
from .timeseries import harmonic_design  # the six-term model of §9, shared with the trend fits

__all__ = [
    "PointMassMascon",
    "EigenSystem",
    "StepResult",
    "TwoStepResult",
    "eigen_system",
    "regularized_solve",
    "select_alpha",
    "preliminary_solve",
    "refined_solve",
    "two_step_solve",
    "trend_bias_sd",
    "apply_resolution",
    "trend_recovery",
    "harmonic_design",
    "fit_six_term",
    "calendar_months",
    "remove_degree0",
]



# ----------------------------------------------------------------------------------------------
# eigen system of one (whitened normal matrix, R) pair
# ----------------------------------------------------------------------------------------------
@dataclass
class EigenSystem:
    """Generalized eigensystem of (N = Ã^T Ã, R) with the whitened design matrix (METHODS.md §8).

    Attributes
    ----------
    solver : hma_mascon.solver.EigenTikhonov
        Eigenvalues Λ (clipped at 0) and Q with Q^T N Q = Λ, Q^T R Q = I.
    Aw : ndarray (n, m)
        Whitened design matrix Ã (a reference, shared by all systems of one P).
    nobs : int
        Effective number of observations n (rank(P) for a pseudo-inverse P).
    """

    solver: object
    Aw: np.ndarray
    nobs: int

    @property
    def lam(self) -> np.ndarray:
        return self.solver.eigenvalues

    @property
    def Q(self) -> np.ndarray:
        return self.solver.Q

    def project(self, Yw) -> np.ndarray:
        """u = Q^T Ã^T ỹ for whitened data ``Yw`` (T, n) -> (T, m), all months in two products."""
        return (np.asarray(Yw) @ self.Aw) @ self.Q


def eigen_system(Aw, R, nobs: int | None = None, N=None) -> EigenSystem:
    """Generalized eigendecomposition of N = Ã^T Ã against R (:class:`~hma_mascon.solver.EigenTikhonov`).

    .. math:: \\tilde N = S N S = V\\Lambda V^T,\\quad S = R^{-1/2},\\quad Q = S V.

    Parameters
    ----------
    Aw : ndarray (n, m)
        Whitened design matrix Ã = L⁻¹A.
    R : ndarray (m,) or (m, m)
        Regularization matrix: its diagonal r (> 0) or a dense SPD matrix (constraint families).
    nobs : int, optional
        Effective number of observations (default: rows of ``Aw``).
    N : ndarray (m, m), optional
        Ã^T Ã when already formed (shared by the 13 systems of one P).
    """
    from .solver import EigenTikhonov

    Aw = np.asarray(Aw, dtype=float)
    R = np.asarray(R, dtype=float)
    if R.shape[0] != Aw.shape[1]:
        raise ValueError(f"R has shape {R.shape}, expected ({Aw.shape[1]},) or ({Aw.shape[1]}, {Aw.shape[1]})")
    solver = EigenTikhonov(Aw.T @ Aw if N is None else N, R)
    return EigenSystem(solver=solver, Aw=Aw, nobs=int(Aw.shape[0] if nobs is None else nobs))


class _Normals:
    """Whitened design matrix and normal matrix per whitening group, computed once and shared by
    the preliminary and the refined step (one L⁻¹A and one Ã^T Ã per P)."""

    def __init__(self, A, whiten):
        self.A = A
        self.whiten = whiten
        self._cache = {}

    def get(self, g):
        if g not in self._cache:
            if len(self._cache) >= 1 and isinstance(self.whiten, (list, tuple, dict)) and len(self.whiten) > 2:
                self._cache.clear()  # monthly P: keep one at a time
            w = _pick(self.whiten, g)
            Aw = np.ascontiguousarray(_apply(w, self.A))
            self._cache[g] = (w, Aw, Aw.T @ Aw, _nobs(w, self.A.shape[0]))
        return self._cache[g]


# ----------------------------------------------------------------------------------------------
# alpha selection (hma_mascon.alpha) with the calibrated-P start of the MSE iteration
# ----------------------------------------------------------------------------------------------
def select_alpha(system: EigenSystem, u, yPy, method: str = "mse", sigma0sq: float | None = None,
                 mse_norm: str = "euclidean"):
    """Regularization parameter of one month (METHODS.md §8) -> :class:`hma_mascon.alpha.AlphaResult`.

    Dispatches to :func:`hma_mascon.alpha.select_alpha`. One addition for ``method="mse"`` with a
    known variance factor (``sigma0sq``, a calibrated P): when GCV sits on the lower end of its
    search interval the plug-in iteration is started from α = σ0² instead of α_GCV. This happens
    with the full P of an oversampled grid: Σ_y has rank ≈ (nmax+1)² × (area fraction) < m, the
    model fits the whole noise subspace, and residual-based rules (GCV, σ̂0²) see no noise. α = σ0²
    is the Bayesian value when R is the prior precision and P the noise precision.

    Parameters
    ----------
    system : EigenSystem
    u : ndarray (m,)
        Projected data of the month.
    yPy : float
    method : {"mse", "gcv", "vce", "lcurve"}
    sigma0sq : float, optional
        Known variance factor (MSE only); default estimated (Ω/(n - t) at the previous α).
    mse_norm : {"euclidean", "R"}
    """
    from . import alpha as _alpha

    solver, n = system.solver, system.nobs
    if method != "mse":
        return _alpha.select_alpha(method, solver, u, yPy, n)
    start = _alpha.select_alpha_gcv(solver, u, yPy, n).alpha
    lo, hi = _alpha.default_bounds(solver)
    if sigma0sq is not None and start < 10.0 * lo:
        start = float(sigma0sq)
    # search within 5 decades of the start (the Euclidean MSE costs one m x m product per trial
    # alpha on the coarse grid; the collapse safeguard acts at 3 decades anyway)
    bounds = (max(lo, start * 1e-5), min(hi, start * 1e5))
    return _alpha.select_alpha_mse(solver, u, yPy, n, sigma0_sq=sigma0sq, norm=mse_norm, alpha_start=start,
                                   bounds=bounds)


# ----------------------------------------------------------------------------------------------
# one step: all months sharing one eigen system
# ----------------------------------------------------------------------------------------------
@dataclass
class StepResult:
    """Per-month output of one regularized step (arrays over the months given).

    Attributes
    ----------
    x : ndarray (T, m)
        Solutions x_α [m EWH].
    alpha, sigma0sq, dof, residual : ndarray (T,)
        α, σ̂0² = Ω/(n - t), t(α) = Σ λ/(λ+α), and the weighted residual Ω recomputed directly.
    error : ndarray (T, m)
        Formal 1-sigma error sqrt(diag Cov x_α) = sqrt(σ0² Σ_k Q_jk² λ_k/(λ_k+α)²) [m].
    bias : ndarray (T, m)
        Plug-in estimate of the regularization bias -α Q D⁻¹ Q^T R x̂ [m] (the bias term of the MSE).
    bias_sd : ndarray (T, m)
        Prior-expected size of the bias, sqrt(σ0² α Σ_k Q_jk²/(λ_k+α)²) [m]; with ``error`` it adds
        up to the posterior variance diag σ0²(N + αR)⁻¹.
    alpha_floored : ndarray (T,)
        1 where the robust α floor of :func:`regularized_solve` acted, else 0 (NaN: missing month).
    """

    x: np.ndarray
    alpha: np.ndarray
    sigma0sq: np.ndarray
    dof: np.ndarray
    residual: np.ndarray
    error: np.ndarray
    bias: np.ndarray
    bias_sd: np.ndarray
    alpha_floored: np.ndarray = None
    systems: dict = field(default_factory=dict, repr=False)

    @classmethod
    def empty(cls, ntime: int, m: int) -> "StepResult":
        nan = np.full(ntime, np.nan)
        return cls(np.full((ntime, m), np.nan), nan.copy(), nan.copy(), nan.copy(), nan.copy(),
                   np.full((ntime, m), np.nan), np.full((ntime, m), np.nan), np.full((ntime, m), np.nan), nan.copy())

    def put(self, idx, other: "StepResult") -> None:
        for name in ("x", "alpha", "sigma0sq", "dof", "residual", "error", "bias", "bias_sd", "alpha_floored"):
            getattr(self, name)[idx] = getattr(other, name)


def regularized_solve(system: EigenSystem, Yw, alpha_method="mse", alpha=None, sigma0sq=None, progress=False,
                      desc="months", mse_norm="euclidean", alpha_floor_factor=None) -> StepResult:
    """Solve x_α = Q (Λ + αI)⁻¹ u for every month sharing ``system`` (METHODS.md §8).

    Parameters
    ----------
    system : EigenSystem
    Yw : ndarray (T, n)
        Whitened observations, one row per month.
    alpha_method : str
        See :func:`select_alpha`. Ignored when ``alpha`` is given.
    alpha : float or array_like (T,), optional
        Fixed regularization parameter(s).
    sigma0sq : float or array_like (T,), optional
        Fixed variance factor for the MSE rule (see :func:`select_alpha`); one per month when the
        noise level varies (``noise_factor`` of :mod:`hma_mascon.noise_model`: σ0²_k = σ0² f_k²).
    progress : bool
        tqdm bar over months.
    alpha_floor_factor : float, optional
        Robust floor of the selected α: a month whose α falls below median(α)/factor (median over
        the months of this call, at least 6 of them) gets median(α)/factor. The plug-in MSE
        iteration occasionally runs a month's α down by two decades (real CSR data, refined step:
        cells of 30 m); the months of one system share the prior and, after the monthly noise
        factor, the noise level, so such a jump is a failure of the plug-in, not information.
        None: no floor. Fixed ``alpha`` values are never changed.

    Returns
    -------
    StepResult
    """
    Yw = np.atleast_2d(np.asarray(Yw, float))
    T = Yw.shape[0]
    s0fix = None if sigma0sq is None else np.broadcast_to(np.asarray(sigma0sq, float), (T,))
    lam = system.lam
    U = system.project(Yw)  # (T, m)
    yPy = np.einsum("ij,ij->i", Yw, Yw)
    if alpha is None:
        it = range(T)
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=desc, leave=False)
        alphas = np.array([select_alpha(system, U[k], yPy[k], alpha_method,
                                        None if s0fix is None else float(s0fix[k]), mse_norm).alpha for k in it])
        if alpha_floor_factor is not None and T >= 6:
            floor = float(np.median(alphas)) / float(alpha_floor_factor)
            floored = alphas < floor
            alphas = np.where(floored, floor, alphas)
    else:
        alphas = np.broadcast_to(np.asarray(alpha, float), (T,)).copy()
    if alpha is not None or alpha_floor_factor is None or T < 6:
        floored = np.zeros(T, bool)
    D = lam[None, :] + alphas[:, None]
    Z = U / D  # (T, m) coefficients in the Q basis
    Q = system.Q
    X = Z @ Q.T
    resid = Yw - X @ system.Aw.T  # direct residual (the closed form loses precision)
    omega = np.einsum("ij,ij->i", resid, resid)
    dof = np.sum(lam[None, :] / D, axis=1)
    s0 = omega / np.maximum(system.nobs - dof, 1.0)
    s_err = s0 if s0fix is None else np.array(s0fix, float)
    Q2T = (Q**2).T
    var = ((lam[None, :] / D**2) * s_err[:, None]) @ Q2T
    # regularization bias: plug-in b = -α Q D⁻¹ Q^T R x̂ = -α Q D⁻¹ Z (Q^T R Q = I), and its
    # prior expectation E[b_j²] = σ0² α Σ_k Q_jk²/(λ_k+α)² for x drawn from N(0, (σ0²/α) R⁻¹);
    # formal variance + that bias variance = diag σ0² (N + αR)⁻¹, the Bayesian posterior variance.
    bias = -(alphas[:, None] * Z / D) @ Q.T
    bias_var = ((alphas[:, None] / D**2) * s_err[:, None]) @ Q2T
    return StepResult(x=X, alpha=alphas, sigma0sq=s0, dof=dof, residual=omega, error=np.sqrt(np.maximum(var, 0)),
                      bias=bias, bias_sd=np.sqrt(np.maximum(bias_var, 0)), alpha_floored=floored.astype(float))


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


def _pick(whiten, g):
    if whiten is None:
        return None
    return whiten[g] if isinstance(whiten, (list, tuple, dict)) else whiten


def _apply(w, M):
    """L⁻¹M for a Whitener, a callable or None (identity); M has observations on axis 0."""
    if w is None:
        return M
    return w.whiten(M) if hasattr(w, "whiten") else w(M)


def _nobs(w, n):
    return int(getattr(w, "n_effective", n)) if w is not None else n


def _method_or_alpha(alpha_method):
    """(alpha_method, alpha) for :func:`regularized_solve`: a number fixes α for every month."""
    if isinstance(alpha_method, (int, float, np.floating, np.integer)) and not isinstance(alpha_method, bool):
        if not (np.isfinite(alpha_method) and alpha_method > 0):
            raise ValueError(f"a fixed alpha must be a positive finite number, got {alpha_method!r}")
        return "mse", float(alpha_method)
    return alpha_method, None


def _r_of(R, c, m):
    """R_sv of calendar month c from (12, m), (12, m, m), (m,) or (m, m)."""
    R = np.asarray(R, float)
    if R.shape in ((12, m), (12, m, m)):
        return R[c - 1]
    if R.shape in ((m,), (m, m)):
        return R
    raise ValueError(f"R_sv has shape {R.shape}; expected (12, {m}), (12, {m}, {m}), ({m},) or ({m}, {m})")


def preliminary_solve(A, Y, r_pre, *, whiten=None, group=None, alpha_method="mse", sigma0sq=None,
                      mse_norm="euclidean", progress=False, keep_systems=False, alpha_floor_factor=None,
                      _normals=None) -> StepResult:
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
    alpha_method, sigma0sq, mse_norm : see :func:`select_alpha`; a positive number as
        ``alpha_method`` fixes α for every month (also in :func:`refined_solve`, :func:`two_step_solve`).
    progress : bool
        tqdm bar over months.
    keep_systems : bool
        Keep the eigensystem of each group in ``result.systems`` (for :func:`trend_bias_sd`).
    alpha_floor_factor : float, optional
        Robust α floor per eigensystem (:func:`regularized_solve`); also in :func:`refined_solve`.

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
    normals = _normals if _normals is not None else _Normals(A, whiten)
    for g in np.unique(group[ok]):
        idx = np.flatnonzero(ok & (group == g))
        w, Aw, N, nobs = normals.get(g)
        system = eigen_system(Aw, r_pre, nobs=nobs, N=N)
        out.put(idx, regularized_solve(system, _apply(w, Y[idx].T).T, *_method_or_alpha(alpha_method),
                                       sigma0sq=_take(sigma0sq, idx), mse_norm=mse_norm, progress=progress,
                                       desc="preliminary", alpha_floor_factor=alpha_floor_factor))
        if keep_systems:
            out.systems[g] = (system, idx)
    return out


def refined_solve(A, Y, x_trend, r_sv, calendar_month, *, whiten=None, group=None, alpha_method="mse",
                  sigma0sq=None, mse_norm="euclidean", progress=False, keep_largest_system=False,
                  alpha_floor_factor=None, _normals=None) -> StepResult:
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
    same = np.asarray(r_sv).shape in ((m,), (m, m))
    normals = _normals if _normals is not None else _Normals(A, whiten)
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
            out.put(idx, regularized_solve(system, _apply(w, Yp[idx].T).T, *_method_or_alpha(alpha_method),
                                           sigma0sq=_take(sigma0sq, idx),
                                           mse_norm=mse_norm, progress=progress, desc=f"refined c={c}",
                                           alpha_floor_factor=alpha_floor_factor))
            if keep_largest_system and idx.size > max((v[1].size for v in out.systems.values()), default=0):
                out.systems = {(g, c): (system, idx, Rc)}
    return out


def apply_resolution(system: EigenSystem, R, alpha: float, x) -> np.ndarray:
    r"""Resolution operator H = (N + αR)⁻¹N applied to fields ``x`` (..., m): what a noise-free
    solve returns for the true field x.

    With Q^T N Q = Λ and Q^T R Q = I, (N + αR)⁻¹ = Q(Λ + αI)⁻¹Q^T and N = Q⁻ᵀΛQ⁻¹ with
    Q⁻¹ = Q^T R, so

    .. math:: H x = Q\,\mathrm{diag}\!\left(\frac{\lambda_k}{\lambda_k+\alpha}\right) Q^T R\, x .
    """
    lam, Q = system.lam, system.Q
    R = np.asarray(R, float)
    x = np.asarray(x, float)
    Rx = x * R if R.ndim == 1 else x @ R  # R symmetric
    return ((Rx @ Q) * (lam / (lam + alpha))) @ Q.T


def trend_recovery(pre_system, r_pre, alpha_pre, ref_system, r_ref, alpha_ref, trend) -> np.ndarray:
    r"""Trend field the two-step solve returns for a true, noise-free trend field ``trend`` (..., m).

    The preliminary step returns H_pre β; its six-term fit is removed, and the refined step
    recovers part of the remainder, H_ref (β - H_pre β):

    .. math:: \hat\beta = H_{pre}\beta + H_{ref}(I - H_{pre})\beta ,

    with each H evaluated at one representative α (the median over the months of the system that
    solved the most months). The regional sums of :math:`\hat\beta - \beta` estimate the
    regularization damping of a trend shaped like ``trend`` (the glacier prior in
    :func:`hma_mascon.pipeline.run_solution`): a systematic error that the fit and GIA errors do
    not contain. Approximate, because α and R_sv vary from month to month.
    """
    hp = apply_resolution(pre_system, r_pre, alpha_pre, trend)
    if ref_system is None:
        return hp
    return hp + apply_resolution(ref_system, r_ref, alpha_ref, np.asarray(trend, float) - hp)


def trend_bias_sd(system: EigenSystem, R, alpha: float, beta1) -> np.ndarray:
    """Upper bound of the regularization bias of a per-cell trend field (white-spectrum MSE bias).

    The trend of the regularized solution is H β1 with H = (N + αR)⁻¹N, so its bias is
    b = -α Q D⁻¹ ξ with ξ = Q^T R β1. For a trend field drawn from N(0, c² R⁻¹) the ξ_k are
    white with variance c² and

    .. math:: E[b_j^2] = c^2 \\alpha^2 \\sum_k Q_{jk}^2/(\\lambda_k+\\alpha)^2 ,

    with c² = Σ ξ̂_k² / Σ (λ_k/(λ_k+α))² over the well-determined modes (λ_k > α), ξ̂ = Q^T R β̂1.
    Real trend fields are smooth and carry far less energy in the small-λ (short-wavelength)
    modes than a white spectrum, so this is an upper bound: on the reduced closed loop
    (tests/test_closed_loop.py) it is ~30 times the actual trend error. It is not added to the
    reported trend errors.
    """
    lam, Q = system.lam, system.Q
    R = np.asarray(R, float)
    beta1 = np.asarray(beta1, float)
    Rb = R * beta1 if R.ndim == 1 else R @ beta1
    xi = Q.T @ Rb
    g = (lam / (lam + alpha)) ** 2
    well = lam > alpha
    if not np.any(well):
        return np.full(beta1.shape, np.nan)
    c2 = float(np.sum(xi[well] ** 2) / np.sum(g[well]))
    return np.sqrt(c2 * alpha**2 * ((Q**2) @ (1.0 / (lam + alpha) ** 2)))


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
        Six-term coefficients of the preliminary solution.
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


def two_step_solve(A, Y, t, calendar_month, r_pre, r_sv, *, whiten=None, group=None, alpha_method="mse",
                   sigma0sq=None, mse_norm="euclidean", remove="trend", two_step=True, progress=False,
                   trend_probe=None, alpha_floor_factor=None) -> TwoStepResult:
    """Two-step estimation of METHODS.md §9.

    1. x_pre(t) with R_pre, α_pre(t);
    2. per mascon, least squares x = β0 + β1(t - t0) + a1 cos2πt + b1 sin2πt + a2 cos4πt + b2 sin4πt
       over the available months, t0 = their mean epoch; x_trend(t) = β1 (t - t0)
       (``remove="offset+trend"``: β0 + β1 (t - t0)) [AMB-9];
    3. x_sv(t) from y - A x_trend(t) with R_sv(c(t)) and its own α;
    4. x = x_trend + x_sv.

    With ``two_step=False`` the preliminary solution is returned as final (refined = preliminary).
    The formal error of the final solution is that of the refined step (the trend part is a
    deterministic function of the preliminary solution and is treated as known, as in the paper).

    ``trend_probe`` (k, m), optional: true trend fields to pass through the resolution operators
    of both steps (:func:`trend_recovery`); the result's ``trend_probe_recovered`` holds what the
    solve would return for each of them.
    """
    if remove not in ("trend", "offset+trend"):
        raise ValueError(f'remove must be "trend" or "offset+trend", got {remove!r}')
    Y = np.atleast_2d(np.asarray(Y, float))
    t = np.asarray(t, float)
    normals = _Normals(A, whiten)
    pre = preliminary_solve(A, Y, r_pre, whiten=whiten, group=group, alpha_method=alpha_method, sigma0sq=sigma0sq,
                            mse_norm=mse_norm, progress=progress,
                            keep_systems=two_step or trend_probe is not None,
                            alpha_floor_factor=alpha_floor_factor, _normals=normals)
    g_main = max(pre.systems, key=lambda g: pre.systems[g][1].size) if pre.systems else None
    probe = None if trend_probe is None else np.atleast_2d(np.asarray(trend_probe, float))
    if not two_step:
        rec = None
        if probe is not None and g_main is not None:
            system, idx = pre.systems[g_main]
            rec = trend_recovery(system, r_pre, float(np.nanmedian(pre.alpha[idx])), None, None, None, probe)
        pre.systems = {}
        return TwoStepResult(x=pre.x, x_trend=np.zeros_like(pre.x), preliminary=pre, refined=pre,
                             beta=np.full((6, A.shape[1]), np.nan), t0=float(np.nanmean(t)), error=pre.error,
                             stated_error=np.hypot(pre.error, pre.bias_sd), trend_probe=probe,
                             trend_probe_recovered=rec)
    beta, t0 = fit_six_term(t, pre.x)
    x_trend = np.outer(t - t0, beta[1])
    if remove == "offset+trend":
        x_trend = x_trend + beta[0][None, :]
    x_trend[~np.all(np.isfinite(pre.x), axis=1)] = np.nan
    ref = refined_solve(A, Y, x_trend, r_sv, calendar_month, whiten=whiten, group=group,
                        alpha_method=alpha_method, sigma0sq=sigma0sq, mse_norm=mse_norm, progress=progress,
                        keep_largest_system=probe is not None, alpha_floor_factor=alpha_floor_factor,
                        _normals=normals)
    system, idx = pre.systems[g_main]
    alpha_pre = float(np.nanmedian(pre.alpha[idx]))
    tb = trend_bias_sd(system, r_pre, alpha_pre, beta[1])
    rec = None
    if probe is not None:
        (rsys, ridx, rR), = ref.systems.values()
        rec = trend_recovery(system, r_pre, alpha_pre, rsys, rR, float(np.nanmedian(ref.alpha[ridx])), probe)
    pre.systems = {}
    ref.systems = {}
    post_ref = np.hypot(ref.error, ref.bias_sd)
    post_pre = np.hypot(pre.error, pre.bias_sd)
    return TwoStepResult(x=x_trend + ref.x, x_trend=x_trend, preliminary=pre, refined=ref, beta=beta, t0=t0,
                         error=ref.error, trend_bias_sd=tb, stated_error=np.fmax(post_ref, post_pre),
                         trend_probe=probe, trend_probe_recovered=rec)


# ----------------------------------------------------------------------------------------------
# the estimator
# ----------------------------------------------------------------------------------------------
_KINDS = ("radial", "potential", "3d")
_REGULARIZATIONS = ("multisource", "identity", "smoothness", "exponential", "grace_variance", "hydrology_only")


def calendar_months(ds) -> np.ndarray:
    """Nominal calendar month c(t_k) in 1..12 of each solution: from the GRACE month label
    ``"YYYY-MM"`` when the container has one, else from the mid-epoch."""
    if "month" in ds.coords:
        labels = np.asarray(ds["month"].values).astype(str)
        if all(len(s) >= 7 and s[4] == "-" for s in labels):
            return np.array([int(s[5:7]) for s in labels])
    return (np.asarray(ds["time"].values).astype("datetime64[M]").astype(int) % 12) + 1


class PointMassMascon:
    """Point-mass mascon solution over a box from monthly Stokes-coefficient anomalies.

    Pipeline of METHODS.md §3-§9: synthesis matrix B (once) -> pseudo-observations y = B c of all
    months in one product -> design matrix A -> whitening (P per ``P_mode``) -> R_pre and the 12
    R_sv -> one eigendecomposition per (whitened N, R) pair serving all its months and alphas ->
    preliminary solve -> per-mascon six-term fit -> refined solve of y - A x_trend with
    R_sv(calendar month) -> final = trend part + refined part.

    Parameters
    ----------
    kind : {"radial", "potential", "3d"}
        Pseudo-observation type (§4); "radial" is δg = -∂T/∂r (the paper's).
    kernel : {"closed", "truncated"}
        Point-mass kernel (§5); "truncated" is the degree-``nmax`` Legendre series, spectrally
        consistent with the data.
    altitude : float
        Observation altitude H above the reference sphere of the coefficients [m] (AMB-2).
    box : (lon_min, lon_max, lat_min, lat_max)
    obs_resolution, mascon_resolution : float
        Grid spacings [deg] (0.4 and 0.5).
    obs_buffer_deg, mascon_buffer_deg : float
        Extra rings of observations / mascons (buffer mascons are excluded from reported sums).
    weight : {"full", "diagonal", "identity"}
        P = Σ_y⁻¹ (white-noise floor δ = 1e-3, Cholesky whitening), its diagonal, or I (§6).
    P_mode : {"mean", "mission", "monthly"}
        Σ_c from the mean error variances of all months, per mission era, or per month.
    regularization : {"multisource", "identity", "smoothness", "exponential", "grace_variance", "hydrology_only"}
        "multisource" (default): R_pre from the prior components' RMS (rule ``prior_rule``) and
        R_sv(c) from their month-of-year second moments (§7). The others are constraint families
        used for both steps: R = I; first differences between neighbours; exponential covariance
        (``correlation_length_km``, σ from the priors' total RMS, else 0.1 m); the RMS of the
        filtered GRACE EWH itself (CSR-like; pass ``priors={"grace_ewh": (T, m) array}``); the
        hydrology prior alone (JPL-like).
    prior_rule : {"B", "A", "C"}
        Combination of the component variances (AMB-6).
    prior_floor : float
        σ_floor [m] (AMB-7).
    alpha_method : {"mse", "gcv", "vce", "lcurve"}
        α rule, chosen per month and per step (§8).
    sigma0_sq : float or None
        Variance factor for the MSE rule. Default 1.0: trust the calibrated P ("or 1 if P is
        calibrated", §8). None estimates it from the residuals, σ̂0² = Ω/(n - t), as METHODS.md
        §8 prescribes first; **deviation:** on the default geometry that estimate collapses. The
        0.4° grid oversamples a degree-96 field, Σ_y (rank ≈ number of dominant SH directions
        over the box) is made regular only by the white-noise floor, and the m point masses fit
        the whole noise subspace, so Ω/(n - t) → 0, GCV and the plug-in pick α at the lower end
        of the search interval and the solution blows up (measured: σ̂0² ~ 1e-5, α ~ 1e-12,
        EWH errors of metres on the synthetic world). Residual-based rules need redundant data.
    mse_norm : {"euclidean", "R"}
        Norm in which the MSE of x_α is minimised (§8). Default the Euclidean norm of METHODS.md.
        The R-norm variant (MSE = σ0² Σ λ/(λ+α)² + α² Σ ξ²/(λ+α)²) costs O(m) per trial α instead
        of an m-vector product with Q (0.06 s against ~0.9 s per month on 2 cores) but weighs each
        cell by its prior precision 1/σ², so the many glacier-free cells at the 1 cm floor dominate
        it and it picks larger α: on the closed loop of the book's chapter 9 it recovered 43 % of the
        box trend against 107 % for the Euclidean norm. Kept as an option (and in the benchmark).
    alpha_floor_factor : float or None
        Robust floor of the per-month α within each eigensystem: α ≥ median(α)/factor (default 10;
        None: off). A deviation from METHODS.md §8 (which selects each month on its own): on the
        real CSR record the plug-in MSE iteration ran a few refined-step months two decades below
        their neighbours, giving cells of 10-30 m. Months where it acted are counted in the
        ``alpha_floored_*`` variables of the solution.
    remove : {"trend", "offset+trend"}
        What is taken out of the data before the refined step (AMB-9).
    two_step : bool
        False returns the preliminary solution.
    nmax : int
        Maximum degree of the coefficients used.
    correlation_length_km : float
        D of the "exponential" family.
    degree0 : {"remove", "keep"}
        "remove" (default) takes the degree-0 term out of every kernel column
        (:func:`remove_degree0`): the pseudo-observations are synthesised from degrees 1..nmax
        (ΔC00 = 0, §2.2), so a kernel that keeps the total-mass term is inconsistent with them.
        **Deviation** from the paper's closed kernel; measured on the noise-free closed loop
        (tests/test_closed_loop.py) "keep" misses the box total trend by 2.3 % and, with a
        small α, lets the inconsistency blow up the cell values. "keep" is the paper's kernel.
    progress : bool
        tqdm progress bars over months.

    Attributes (after ``fit``)
    --------------------------
    grid_ : MasconGrid
    obs_ : ObservationGrid
    time_, decimal_year_, month_, calendar_month_ : ndarray (T,)
    x_ : ndarray (T, m)
        Final EWH [m] (NaN for months without data).
    result_ : TwoStepResult
    r_pre_, r_sv_ : regularization diagonals (or matrices)
    """

    def __init__(self, kind="radial", kernel="closed", altitude=450e3, box=HMA_BOX, obs_resolution=0.4,
                 mascon_resolution=0.5, obs_buffer_deg=0.0, mascon_buffer_deg=0.0, weight="full", P_mode="mean",
                 regularization="multisource", prior_rule="B", prior_floor=0.01, alpha_method="mse",
                 sigma0_sq=1.0, mse_norm="euclidean", alpha_floor_factor=10.0, remove="trend", two_step=True, nmax=96,
                 correlation_length_km=150.0, degree0="remove", progress=True):
        self.kind = kind
        self.kernel = kernel
        self.altitude = altitude
        self.box = tuple(box)
        self.obs_resolution = obs_resolution
        self.mascon_resolution = mascon_resolution
        self.obs_buffer_deg = obs_buffer_deg
        self.mascon_buffer_deg = mascon_buffer_deg
        self.weight = weight
        self.P_mode = P_mode
        self.regularization = regularization
        self.prior_rule = prior_rule
        self.prior_floor = prior_floor
        self.alpha_method = alpha_method
        self.sigma0_sq = sigma0_sq
        self.mse_norm = mse_norm
        self.alpha_floor_factor = alpha_floor_factor
        self.remove = remove
        self.two_step = two_step
        self.nmax = nmax
        self.correlation_length_km = correlation_length_km
        self.degree0 = degree0
        self.progress = progress

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> dict:
        """Hyper-parameters as a dict (recorded in the output file)."""
        names = ("kind", "kernel", "altitude", "box", "obs_resolution", "mascon_resolution", "obs_buffer_deg",
                 "mascon_buffer_deg", "weight", "P_mode", "regularization", "prior_rule", "prior_floor",
                 "alpha_method", "sigma0_sq", "mse_norm", "alpha_floor_factor", "remove", "two_step", "nmax", "correlation_length_km",
                 "degree0")
        return {k: getattr(self, k) for k in names}

    def _check(self):
        checks = {
            "kind": (self.kind, _KINDS),
            "kernel": (self.kernel, ("closed", "truncated")),
            "weight": (self.weight, ("full", "diagonal", "identity")),
            "P_mode": (self.P_mode, ("mean", "mission", "monthly")),
            "regularization": (self.regularization, _REGULARIZATIONS),
            "prior_rule": (str(self.prior_rule).upper(), ("A", "B", "C")),
            "alpha_method": (self.alpha_method, ("mse", "gcv", "vce", "lcurve")),
            "remove": (self.remove, ("trend", "offset+trend")),
            "degree0": (self.degree0, ("remove", "keep")),
        }
        for name, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"{name}={value!r} is not one of {allowed}")
        if self.altitude <= 0:
            raise ValueError("altitude must be positive [m]")
        f = self.alpha_floor_factor
        if f is not None and not (isinstance(f, (int, float)) and np.isfinite(f) and f >= 1):
            raise ValueError(f"alpha_floor_factor must be None or a number >= 1, got {f!r}")

    # ------------------------------------------------------------------ building blocks
    def _geometry(self, radius):
        from .geometry import mascon_grid, observation_grid

        grid = mascon_grid(self.box, self.mascon_resolution, self.mascon_buffer_deg)
        obs = observation_grid(self.box, self.obs_resolution, self.altitude, self.obs_buffer_deg, radius=radius)
        return grid, obs

    def _regularization(self, priors, grid):
        from . import regularization as reg

        m = grid.size
        kind = self.regularization
        if kind == "multisource":
            if priors is None:
                raise ValueError('regularization="multisource" needs the priors (priors.load_priors(...))')
            comps = {k: v for k, v in priors.items() if hasattr(v, "rms")}
            if not comps:
                raise ValueError("priors: no PriorComponent (with .rms) given")
            series = None
            rule = str(self.prior_rule).upper()
            if rule == "C":
                series = {k: np.asarray(v.series.values, float).reshape(v.series.shape[0], -1)
                          for k, v in comps.items() if v.series is not None}
                time = next(v.series["time"].values for v in comps.values() if v.series is not None)
                r_pre = reg.combine_prior_variance({k: v.rms for k, v in comps.items()}, rule="C",
                                                   floor=self.prior_floor, series=series, time=time)
            else:
                r_pre = reg.combine_prior_variance({k: v.rms for k, v in comps.items()}, rule=rule,
                                                   floor=self.prior_floor)
            second = np.zeros((12, m))
            for v in comps.values():
                if v.seasonal_second_moment is not None:
                    second = second + np.nan_to_num(np.asarray(v.seasonal_second_moment, float))
            r_sv = 1.0 / reg.prior_variance(np.sqrt(second), self.prior_floor)
            return r_pre, r_sv
        if kind == "identity":
            R = reg.regularization_identity(m)
        elif kind == "smoothness":
            R = reg.regularization_smoothness(grid)
        elif kind == "exponential":
            sigma = 0.1
            if priors:
                comps = [v for v in priors.values() if hasattr(v, "rms")]
                if comps:
                    sigma = np.maximum(np.sqrt(np.sum([np.asarray(v.rms) ** 2 for v in comps], axis=0)),
                                       self.prior_floor)
            R = reg.regularization_exponential(grid, self.correlation_length_km, sigma)
        elif kind == "hydrology_only":
            if not priors or "hydrology" not in priors:
                raise ValueError('regularization="hydrology_only" needs priors["hydrology"]')
            R = reg.regularization_hydrology_only(priors["hydrology"].rms, self.prior_floor)
        else:  # grace_variance
            if not priors or "grace_ewh" not in priors:
                raise ValueError('regularization="grace_variance" needs priors={"grace_ewh": (time, m) array [m]} '
                                 "(filtered GRACE EWH at the mascon cells)")
            R = reg.regularization_grace_variance(priors["grace_ewh"], self.prior_floor)
        return R, R

    def _whiteners(self, B, sigma, mission, scale, n):
        from .weights import Whitener, coefficient_variance_groups, observation_covariance

        T = sigma.shape[0]
        if self.weight == "identity":
            return Whitener(None, "identity", n=n), np.zeros(T, int)
        groups = coefficient_variance_groups(np.where(sigma > 0, sigma, np.nan), self.P_mode, mission)
        whiteners, group = [], np.zeros(T, int)
        for g, (label, sigma_c, idx) in enumerate(groups):
            sigma_c = np.nan_to_num(sigma_c)
            if not np.any(sigma_c > 0):
                raise ValueError(f"P_mode={self.P_mode!r}, group {label!r}: the coefficients have no formal errors "
                                 f"(sigma_C/sigma_S all 0); use weight='identity'")
            if self.weight == "diagonal":
                Sy = np.einsum("ij,ij->i", B * sigma_c, B * sigma_c) * scale**2
            else:
                Sy = observation_covariance(B, sigma_c) * scale**2
            whiteners.append(Whitener(Sy, self.weight))
            group[idx] = g
        return whiteners, group

    # ------------------------------------------------------------------ fit
    def fit(self, stokes_anomalies, love, priors=None, trend_probe=None):
        """Estimate the mascon EWH of every month.

        Parameters
        ----------
        stokes_anomalies : xarray.Dataset
            Coefficient container (CONTRIBUTING.md) of anomalies ΔC, ΔS (low degrees replaced,
            reference mean removed), with ``sigma_C``/``sigma_S`` for the weights.
        love : xarray.DataArray or array_like
            Load Love numbers k'_n (``love_numbers.load_love_numbers``).
        priors : dict, optional
            ``priors.load_priors`` output (``{"glacier", "lake", "hydrology"}`` -> PriorComponent);
            see ``regularization`` for the other families.
        trend_probe : array_like (m,) or (k, m), optional
            Trend fields [m/yr] on the mascon cells to pass noise-free through the solve's
            resolution operators (:func:`trend_recovery`): the damping of a trend of that shape.
            The pipeline passes the glacier prior's trend.

        Returns
        -------
        self
        """
        from .kernels import design_matrix
        from .stokes import to_coefficient_vector, to_sigma_vector
        from .synthesis import synthesis_matrix

        self._check()
        ds = stokes_anomalies
        if "time" not in ds.dims:
            raise ValueError("stokes_anomalies must have a time dimension")
        nmax = int(min(self.nmax, int(ds["degree"].max())))
        GM, radius = float(ds.attrs["GM"]), float(ds.attrs["radius"])
        grid, obs = self._geometry(radius)
        c = to_coefficient_vector(ds, nmin=1, nmax=nmax)
        sigma = np.nan_to_num(to_sigma_vector(ds, nmin=1, nmax=nmax)) if "sigma_C" in ds else np.zeros_like(c)
        B = synthesis_matrix(obs.lat, obs.lon, obs.radius, nmax, GM, radius, love, quantity=self.kind)
        A = design_matrix(obs, grid, kind=self.kind, kernel=self.kernel, nmax=nmax)
        if self.degree0 == "remove":
            A = remove_degree0(A, obs, grid, self.kind)
        scale = 1.0 / float(np.sqrt(np.mean(A**2)))  # O(1) numbers for conditioning (§4)
        Y = (np.nan_to_num(c, nan=0.0) @ B.T) * scale
        Y[~np.all(np.isfinite(c), axis=1)] = np.nan
        mission = np.asarray(ds["mission"].values).astype(str) if "mission" in ds.coords else None
        whiten, group = self._whiteners(B, sigma, mission, scale, A.shape[0])
        del B
        r_pre, r_sv = self._regularization(priors, grid)
        t = (np.asarray(ds["decimal_year"].values, float) if "decimal_year" in ds.coords
             else _decimal_year(ds["time"].values))
        cal = calendar_months(ds)
        s0 = self.sigma0_sq
        if s0 is not None and "noise_factor" in ds.coords:  # month-to-month noise level (noise_model)
            s0 = float(s0) * np.asarray(ds["noise_factor"].values, float) ** 2
        result = two_step_solve(A * scale, Y, t, cal, r_pre, r_sv, whiten=whiten, group=group,
                                alpha_method=self.alpha_method, sigma0sq=s0, mse_norm=self.mse_norm,
                                alpha_floor_factor=self.alpha_floor_factor,
                                remove=self.remove, two_step=self.two_step, progress=self.progress,
                                trend_probe=None if trend_probe is None else self._probe(trend_probe, grid.size))
        self.grid_, self.obs_ = grid, obs
        self.design_matrix_ = A
        self.time_ = np.asarray(ds["time"].values)
        self.decimal_year_ = t
        self.month_ = (np.asarray(ds["month"].values).astype(str) if "month" in ds.coords
                       else np.datetime_as_string(self.time_, unit="M"))
        self.calendar_month_ = cal
        self.r_pre_, self.r_sv_ = r_pre, r_sv
        self.result_ = result
        self.x_ = result.x
        self.observations_ = Y / scale
        self.n_groups_ = len(whiten) if isinstance(whiten, list) else 1
        return self

    @staticmethod
    def _probe(trend_probe, m):
        p = np.atleast_2d(np.asarray(trend_probe, float))
        if p.shape[1] != m:
            raise ValueError(f"trend_probe has {p.shape[1]} cells, the mascon grid {m}")
        if not np.all(np.isfinite(p)):
            raise ValueError("trend_probe contains NaN or inf (fill cells without a trend with 0)")
        return p

    # ------------------------------------------------------------------ outputs
    def _fitted(self):
        if not hasattr(self, "x_"):
            raise RuntimeError("call fit() first")

    def predict(self) -> np.ndarray:
        """Final mascon EWH x (time, cell) [m]; NaN rows for months without data."""
        self._fitted()
        return self.x_

    def predict_observations(self) -> np.ndarray:
        """Pseudo-observations predicted by the solution, A x (time, n) in SI units of ``kind``."""
        self._fitted()
        return self.x_ @ self.design_matrix_.T

    def to_dataset(self) -> xr.Dataset:
        """Labelled solution: ``ewh`` (time, lat, lon) [m] with its formal error, the trend part,
        the preliminary solution and the per-month diagnostics of both steps."""
        self._fitted()
        g = self.grid_
        res = self.result_

        def da(values, name, units, long_name):
            return g.to_dataarray(values, name=name, units=units, long_name=long_name, extra_dims=("time",))

        data = {
            "ewh": da(res.x, "ewh", "m", "mascon equivalent water height anomaly (final: trend + refined)"),
            "ewh_error": da(res.error, "ewh_error", "m", "formal 1-sigma error of ewh (refined step)"),
            "ewh_bias_sd": da(res.refined.bias_sd, "ewh_bias_sd", "m",
                              "expected regularization bias of ewh (prior expectation, refined step)"),
            "ewh_stated_error": da(res.stated_error, "ewh_stated_error", "m",
                                   "stated 1-sigma error of ewh (formal + regularization bias)"),
            "ewh_trend_part": da(res.x_trend, "ewh_trend_part", "m", "trend part removed before the refined step"),
            "ewh_preliminary": da(res.preliminary.x, "ewh_preliminary", "m", "preliminary solution (R_pre)"),
        }
        ds = xr.Dataset({k: v.variable for k, v in data.items()},
                        coords={"time": ("time", self.time_), "lat": data["ewh"]["lat"], "lon": data["ewh"]["lon"]})
        per = {
            "alpha_preliminary": (res.preliminary.alpha, "1", "alpha of the preliminary solve"),
            "alpha_refined": (res.refined.alpha, "1", "alpha of the refined solve"),
            "variance_factor_preliminary": (res.preliminary.sigma0sq, "1", "sigma0^2 of the preliminary solve"),
            "variance_factor": (res.refined.sigma0sq, "1", "sigma0^2 of the refined solve"),
            "degrees_of_freedom_preliminary": (res.preliminary.dof, "1", "t(alpha) of the preliminary solve"),
            "degrees_of_freedom": (res.refined.dof, "1", "t(alpha) of the refined solve"),
            "residual_preliminary": (res.preliminary.residual, "1", "weighted residual Omega, preliminary"),
            "residual_refined": (res.refined.residual, "1", "weighted residual Omega, refined"),
        }
        for name, (v, units, ln) in per.items():
            ds[name] = ("time", np.asarray(v, float), {"units": units, "long_name": ln})
        ds["trend_bias_sd"] = (("lat", "lon"),
                               (res.trend_bias_sd if res.trend_bias_sd is not None
                                else np.full(g.size, np.nan)).reshape(g.shape),
                               {"units": "m yr-1", "long_name": "expected regularization bias of the cell trend"})
        if res.trend_probe is not None:
            k = res.trend_probe.shape[0]
            ds["trend_probe"] = (("probe", "lat", "lon"), res.trend_probe.reshape((k,) + g.shape),
                                 {"units": "m yr-1", "long_name": "probe trend field passed through the solve"})
            ds["trend_probe_recovered"] = (
                ("probe", "lat", "lon"), res.trend_probe_recovered.reshape((k,) + g.shape),
                {"units": "m yr-1", "long_name": "trend the two-step solve returns for the probe (noise-free; "
                                                 "resolution operators at the median alpha)"})
        ds["cell_area"] = (("lat", "lon"), g.area.reshape(g.shape), {"units": "m2", "long_name": "cell area S_j"})
        ds["is_buffer"] = (("lat", "lon"), g.is_buffer.reshape(g.shape),
                           {"long_name": "buffer mascon (excluded from reported sums)"})
        ds = ds.assign_coords(decimal_year=("time", self.decimal_year_), month=("time", self.month_),
                              calendar_month=("time", self.calendar_month_))
        ds.attrs.update({"t0": float(res.t0), "rho_water": RHO_WATER,
                         **{f"param_{k}": str(v) for k, v in self.get_params().items()}})
        return ds


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
    from .constants import G

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


def _decimal_year(time) -> np.ndarray:
    t = np.asarray(time).astype("datetime64[s]")
    y = t.astype("datetime64[Y]")
    start = y.astype("datetime64[s]")
    end = (y + 1).astype("datetime64[s]")
    return y.astype(int) + 1970 + (t - start).astype(float) / (end - start).astype(float)
