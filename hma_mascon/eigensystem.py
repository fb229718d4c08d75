"""One generalized eigensystem per (whitened normal matrix, R) pair, and every month it serves (METHODS.md §8).

* :func:`eigen_system` -- with s = r^(-1/2), Ñ = diag(s) Ã^T Ã diag(s) = V Λ V^T and Q = diag(s) V;
* :func:`select_alpha` -- the α rule of one month (:mod:`hma_mascon.alpha`), with the calibrated-P
  start of the MSE iteration;
* :func:`regularized_solve` -- all months that share that pair, all trial alphas: with
  u = Q^T Ã^T ỹ per month, every alpha-dependent quantity costs O(m) (§8); solutions, formal
  errors, the plug-in regularization bias and its prior expectation, vectorised over months.

Heavy lifting: numpy/scipy LAPACK (``eigh`` inside :class:`hma_mascon.solver.EigenTikhonov`, GEMM
over all months at once); the α rules are :mod:`hma_mascon.alpha`'s. Written by hand: the
projection of all months in two products, the direct residuals and the error terms vectorised
over months, and the robust α floor (a deviation from METHODS.md §8, see :func:`regularized_solve`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from . import alpha as alpha_rules
from .regularization import as_precision
from .solver import EigenTikhonov, mode_split
from .weights import apply_whitener, effective_nobs, whitener_of

#: Fewest months of one call for the robust α floor: the median of 3 is not moved by one collapsed month.
MIN_FLOOR_MONTHS = 3

__all__ = ["EigenSystem", "eigen_system", "NormalMatrices", "select_alpha", "select_alphas", "StepResult", "regularized_solve"]


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
    R : ndarray (m,) or (m, m), or CorrelatedPrecision
        Regularization matrix: its diagonal r (> 0), a dense SPD matrix (constraint families) or the
        factored correlated prior.
    nobs : int, optional
        Effective number of observations (default: rows of ``Aw``).
    N : ndarray (m, m), optional
        Ã^T Ã when already formed (shared by the 13 systems of one P).
    """
    Aw = np.asarray(Aw, dtype=float)
    R = as_precision(R)
    if R.shape[0] != Aw.shape[1]:
        raise ValueError(f"R has shape {R.shape}, expected ({Aw.shape[1]},) or ({Aw.shape[1]}, {Aw.shape[1]})")
    solver = EigenTikhonov(Aw.T @ Aw if N is None else N, R)
    return EigenSystem(solver=solver, Aw=Aw, nobs=int(Aw.shape[0] if nobs is None else nobs))


class NormalMatrices:
    """Whitened design matrix and normal matrix per whitening group, computed once and shared by
    the preliminary and the refined step (one L⁻¹A and one Ã^T Ã per P)."""

    def __init__(self, A, whiten):
        self.A = A
        self.whiten = whiten
        self._cache = {}

    def clear(self):
        """Drop the cached matrices (after the last step that needs them)."""
        self._cache.clear()

    def get(self, g):
        if g not in self._cache:
            if len(self._cache) >= 1 and isinstance(self.whiten, (list, tuple, dict)) and len(self.whiten) > 2:
                self._cache.clear()  # monthly P: keep one at a time
            w = whitener_of(self.whiten, g)
            Aw = np.ascontiguousarray(apply_whitener(w, self.A))
            self._cache[g] = (w, Aw, Aw.T @ Aw, effective_nobs(w, self.A.shape[0]))
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
    solver, n = system.solver, system.nobs
    if method != "mse":
        return alpha_rules.select_alpha(method, solver, u, yPy, n)
    start, bounds = _mse_start(system, u, yPy, sigma0sq)
    return alpha_rules.select_alpha_mse(solver, u, yPy, n, sigma0_sq=sigma0sq, norm=mse_norm, alpha_start=start,
                                   bounds=bounds)


def _mse_start(system: EigenSystem, u, yPy, sigma0sq):
    """The start and the search interval of the MSE iteration of one month (:func:`select_alpha`)."""
    solver, n = system.solver, system.nobs
    start = alpha_rules.select_alpha_gcv(solver, u, yPy, n).alpha
    lo, hi = alpha_rules.default_bounds(solver)
    if sigma0sq is not None and start < 10.0 * lo:
        start = min(max(float(sigma0sq), lo), hi)  # a tiny σ0² (noise-free data, a trend's) stays in range
    # search within 5 decades of the start (the Euclidean MSE costs one m x m product per trial
    # alpha on the coarse grid; the collapse safeguard acts at 3 decades anyway)
    return start, (max(lo, start * 1e-5), min(hi, start * 1e5))


def select_alphas(system: EigenSystem, U, yPy, method: str = "mse", sigma0sq=None, mse_norm: str = "euclidean",
                  progress=None) -> np.ndarray:
    """:func:`select_alpha` for every month of ``U`` (T, m): the α of each, as one would get month by month.

    The MSE rule runs all months together (:func:`hma_mascon.alpha.select_alpha_mse_many`): the
    Q-products of the Euclidean norm of every month share GEMMs. ``sigma0sq``: None, one value or
    one per month. ``progress``: a tqdm bar (its ``update`` is called once per month).
    """
    U = np.atleast_2d(U)
    T = U.shape[0]
    s0 = [None] * T if sigma0sq is None else [float(v) for v in np.broadcast_to(np.asarray(sigma0sq, float), (T,))]
    tick = None if progress is None else progress.update
    if method != "mse":
        out = []
        for k in range(T):
            out.append(select_alpha(system, U[k], yPy[k], method, s0[k], mse_norm).alpha)
            if tick:
                tick()
        return np.array(out, float)
    starts, bounds = zip(*(_mse_start(system, U[k], yPy[k], s0[k]) for k in range(T))) if T else ((), ())
    res = alpha_rules.select_alpha_mse_many(system.solver, U, yPy, system.nobs, sigma0_sq=s0, norm=mse_norm,
                                            alpha_start=list(starts), bounds=list(bounds), on_done=tick)
    return np.array([r.alpha for r in res], float)


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
    alpha_rule : ndarray (T,)
        The α the rule chose (after the floor), whose prior N(0, (σ0²/α_rule) R⁻¹) the stated bias
        assumes; ``alpha`` is ``alpha_scale`` times it (equal unless :func:`regularized_solve` was given
        a scale).
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
    alpha_rule: np.ndarray = None
    systems: dict = field(default_factory=dict, repr=False)

    @classmethod
    def empty(cls, ntime: int, m: int) -> "StepResult":
        nan = np.full(ntime, np.nan)
        return cls(np.full((ntime, m), np.nan), nan.copy(), nan.copy(), nan.copy(), nan.copy(),
                   np.full((ntime, m), np.nan), np.full((ntime, m), np.nan), np.full((ntime, m), np.nan), nan.copy(),
                   nan.copy())

    def put(self, idx, other: "StepResult") -> None:
        for name in ("x", "alpha", "sigma0sq", "dof", "residual", "error", "bias", "bias_sd", "alpha_floored", "alpha_rule"):
            getattr(self, name)[idx] = getattr(other, name)


def regularized_solve(system: EigenSystem, Yw, alpha_method="mse", alpha=None, sigma0sq=None, progress=False,
                      desc="months", mse_norm="euclidean", alpha_floor_factor=None, alpha_per="month",
                      alpha_scale=1.0) -> StepResult:
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
        the months of this call, at least 3 of them, so that one collapsed month cannot move the
        median) gets median(α)/factor. The plug-in MSE
        iteration occasionally runs a month's α down by two decades (real CSR data, refined step:
        cells of 30 m), or to the bottom of the search interval (the synthetic world at the real noise
        level, a 2° box with 4 months per system: α 4e-9 against 2.7, cells of 32 m; the floor asked
        for 6 months until then); the months of one system share the prior and, after the monthly noise
        factor, the noise level, so such a jump is a failure of the plug-in, not information.
        None: no floor. Fixed ``alpha`` values are never changed.
    alpha_per : {"month", "system"}
        ``"month"`` (METHODS.md §8): every month keeps its own α. ``"system"``: every month of this
        call gets the median of the monthly choices (after the floor), one α per eigensystem
        (issue 11, suspect 3: month-to-month swings of α change the damping of every cell and put
        interannual variation into the series that the data do not carry).
    alpha_scale : float
        The solve uses ``alpha_scale`` times the rule's α (after the floor and ``alpha_per``; fixed
        ``alpha`` values are used as given). The rule's α stays the scale of the prior, x ~ N(0,
        (σ0²/α_rule) R⁻¹), so the prior-expected bias of the solve at α = s α_rule is

        .. math:: E[b_j^2] = \sigma_0^2\,\frac{\alpha^2}{\alpha_{rule}}\sum_k\frac{Q_{jk}^2}{(\lambda_k+\alpha)^2},

        (null modes: σ0²/α_rule), which is the posterior variance's bias part when s = 1. The MSE
        rule minimises the error of one month; a trend or a regional sum averages the noise over the
        months while the bias does not average, so their error is smallest at a smaller α
        (issue 11; measured in chapter 9).

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
        bar = tqdm(total=T, desc=desc, leave=False) if progress else None
        try:
            alphas = select_alphas(system, U, yPy, alpha_method, s0fix, mse_norm, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        if alpha_floor_factor is not None and T >= MIN_FLOOR_MONTHS:
            floor = float(np.median(alphas)) / float(alpha_floor_factor)
            floored = alphas < floor
            alphas = np.where(floored, floor, alphas)
        if alpha_per == "system":
            alphas = np.full(T, float(np.median(alphas)))
        elif alpha_per != "month":
            raise ValueError(f'alpha_per must be "month" or "system", got {alpha_per!r}')
        if not (np.isfinite(alpha_scale) and alpha_scale > 0):
            raise ValueError(f"alpha_scale must be a positive number, got {alpha_scale!r}")
        alpha_rule, alphas = alphas, alphas * float(alpha_scale)
    else:
        alphas = np.broadcast_to(np.asarray(alpha, float), (T,)).copy()
        alpha_rule = alphas
    if alpha is not None or alpha_floor_factor is None or T < MIN_FLOOR_MONTHS:
        floored = np.zeros(T, bool)
    # modes with λ_k = 0 exactly (EigenTikhonov's low-rank route) in closed form: their
    # coefficient is u_k/α, they add nothing to the formal variance and 1/α to the bias variance
    Q, (zero, head) = system.Q, mode_split(lam)
    has_zero = bool(lam[zero].size)
    Qh = Q[:, head]
    lam_h = lam[head]
    D = lam_h[None, :] + alphas[:, None]
    Z = U[:, head] / D  # (T, r) coefficients in the Q basis
    X = Z @ Qh.T
    # regularization bias: plug-in b = -α Q D⁻¹ Q^T R x̂ = -α Q D⁻¹ Z (Q^T R Q = I), and its
    # prior expectation E[b_j²] = σ0² (α²/α_rule) Σ_k Q_jk²/(λ_k+α)² for x drawn from N(0, (σ0²/α_rule) R⁻¹);
    # at α = α_rule, formal variance + bias variance = diag σ0² (N + αR)⁻¹, the Bayesian posterior variance.
    bias = -(alphas[:, None] * Z / D) @ Qh.T
    if has_zero:
        X0 = (U[:, zero] @ Q[:, zero].T) / alphas[:, None]
        X += X0
        bias -= X0
        del X0
    resid = Yw - X @ system.Aw.T  # direct residual (the closed form loses precision)
    omega = np.einsum("ij,ij->i", resid, resid)
    dof = np.sum(lam_h[None, :] / D, axis=1)
    s0 = omega / np.maximum(system.nobs - dof, 1.0)
    s_err = s0 if s0fix is None else np.array(s0fix, float)
    Q2T = (Qh**2).T
    var = ((lam_h[None, :] / D**2) * s_err[:, None]) @ Q2T
    # α (α/α_rule), not α²/α_rule: at alpha_scale = 1 the ratio is exactly 1 and the result bitwise the rule's
    bias_var = (((alphas * (alphas / alpha_rule))[:, None] / D**2) * s_err[:, None]) @ Q2T
    if has_zero:
        bias_var += (s_err / alpha_rule)[:, None] * np.sum(Q[:, zero] ** 2, axis=1)[None, :]
    return StepResult(x=X, alpha=alphas, sigma0sq=s0, dof=dof, residual=omega, error=np.sqrt(np.maximum(var, 0)),
                      bias=bias, bias_sd=np.sqrt(np.maximum(bias_var, 0)), alpha_floored=floored.astype(float),
                      alpha_rule=alpha_rule)
