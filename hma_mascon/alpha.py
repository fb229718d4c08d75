"""Choice of the regularization parameter alpha (METHODS.md section 8, AMB-8).

All four rules evaluate their criterion in the eigenbasis of :class:`solver.EigenTikhonov`, so
one evaluation is O(m) (the Euclidean MSE: see below). Minimisation: a coarse grid over log alpha brackets the global optimum
and :func:`scipy.optimize.minimize_scalar` (bounded Brent) refines it; the iterations of MSE and
VCE, and the curvature of the L-curve, are written here.

* **MSE** (default; Hoerl & Kennard 1970, Xu & Rummel 1994, Shen, Xu & Li 2012)

  .. math:: \\mathrm{MSE}(\\alpha) = \\sigma_0^2\\sum_k\\frac{\\lambda_k\\|Q_k\\|^2}{(\\lambda_k+\\alpha)^2}
            + \\alpha^2\\|Q D^{-1}\\xi\\|^2,\\qquad \\xi = Q^T R x_{true}

  with the plug-in xi_k = u_k/(lambda_k + alpha_prev), sigma0^2 = sigma0_hat^2(alpha_prev) (or
  given), iterated from alpha_GCV until |dlog alpha| < 1e-4 (at most 60 steps; METHODS.md says 30, see
  below). If alpha runs away by
  more than 1e3 x the start (the plug-in collapsed, x -> 0), the one-step estimate from alpha_GCV
  is returned (``converged=False``). ``norm="R"`` uses the R-norm of the bias, O(m) per
  evaluation; the Euclidean norm (default) needs Q @ v products (m^2 each): the coarse grid and
  the Chebyshev nodes of each bracket take one GEMM each, and every Brent step is then O(m)
  (:class:`ChebyshevMSE`). The plug-in iteration converges linearly (steps shrink by a ratio of
  0.4-0.7 on the HMA problem, 13 steps a month on average), so every two plain steps are followed by
  Aitken's delta-squared extrapolation in log alpha (``accelerate=True``): 5 steps a month, and
  the stopping point is nearer the fixed point (reduced regression problem, median |d log alpha|
  from the fixed point run to 1e-10: preliminary 6.9e-3 plain against 1.1e-5 accelerated, refined
  7.6e-4 against 3.4e-5). The extrapolated jump is capped at three times the last step, because
  the map contracts faster near its fixed point than its first steps suggest (an uncapped
  jump once landed 3.5 decades past the fixed point, :func:`_aitken`); the capped steps need
  more iterations on the slowest months, hence 60 at most. Real CSR, default, 444 month-steps: every
  alpha within 1.6e-3 in log of the fixed point of the plain iteration run to 1e-9 (median 1e-5), one
  refined month (2012-06) at the 60-step limit, 1.5e-3 from it; uncapped, 2004-08 and 2012-06 had stopped
  a factor 5 and 2.6 away.
  Months that share an eigensystem run together
  (:func:`select_alpha_mse_many`: their squared bias norms together, from the Gram matrix of Q
  over the nonzero modes, :class:`hma_mascon.euclidean_bias.BiasProducts`).
* **VCE** (Koch & Kusche 2002): sigma0^2 = Omega/(n - t), sigma_x^2 = eta/t, alpha = sigma0^2/sigma_x^2.
* **GCV** (Golub, Heath & Wahba 1979): minimise V = n Omega/(n - t)^2.
* **L-curve** (Hansen 1992): maximise the curvature of (log Omega, log eta).

Each selector returns an :class:`AlphaResult`, with the residual recomputed from the cheap
formula (recompute it directly at the chosen alpha when the design matrix is at hand).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from .euclidean_bias import BiasProducts, BiasRequest, ChebyshevMSE, bias_columns

__all__ = [
    "AlphaResult",
    "select_alpha",
    "select_alpha_mse",
    "select_alpha_mse_many",
    "select_alpha_vce",
    "select_alpha_gcv",
    "select_alpha_lcurve",
    "gcv_function",
    "lcurve_curvature",
    "mse_function",
    "default_bounds",
]


@dataclass
class AlphaResult:
    """Outcome of an alpha selection.

    Attributes
    ----------
    alpha : float
    sigma0_sq : float
        Variance factor Omega/(n - t) at alpha.
    dof : float
        Signal degrees of freedom t(alpha).
    residual : float
        Weighted residual Omega(alpha) (cheap formula).
    iterations : int
    method : str
    converged : bool
    info : dict
        Method-specific diagnostics (e.g. ``alpha_start``, ``collapsed``).
    """

    alpha: float
    sigma0_sq: float
    dof: float
    residual: float
    iterations: int
    method: str
    converged: bool
    info: dict = field(default_factory=dict)


def default_bounds(solver):
    """Search interval for alpha: [1e-12, 1e3] x lambda_max (in the units of N)."""
    lmax = float(np.max(solver.eigenvalues))
    if lmax <= 0:
        raise ValueError("N is zero: nothing to regularise")
    return (1e-12 * lmax, 1e3 * lmax)


def weighted_residual(solver, u, alpha, yPy):
    # guard the cancellation of the cheap formula at tiny alpha
    return max(float(solver.residual(u, alpha, yPy)), np.finfo(float).tiny)


def _result(solver, u, yPy, n, alpha, iterations, method, converged, **info):
    omega = float(solver.residual(u, alpha, yPy))
    t = float(solver.dof(alpha))
    return AlphaResult(alpha=float(alpha), sigma0_sq=omega / (n - t), dof=t, residual=omega,
                       iterations=int(iterations), method=method, converged=bool(converged), info=info)


def _grid_then_brent(fun, bounds, npts=121, fun_grid=None):
    """Global minimum of fun(log alpha) on a log grid, refined by bounded Brent in the bracket
    (``fun_grid``: fun of the whole grid at once, the same numbers)."""
    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    grid = np.linspace(lo, hi, npts)
    vals = np.array([fun(g) for g in grid]) if fun_grid is None else fun_grid(grid)
    vals = np.where(np.isfinite(vals), vals, np.inf)
    k = int(np.argmin(vals))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, npts - 1)]
    res = optimize.minimize_scalar(fun, bounds=(a, b), method="bounded", options={"xatol": 1e-7})
    best = res.x if res.fun <= vals[k] else grid[k]
    return float(np.exp(best)), int(res.nfev) + npts


def gcv_function(solver, u, alpha, yPy, n):
    """GCV function V(alpha) = n Omega / (n - t)^2."""
    t = solver.dof(alpha)
    return n * solver.residual(u, alpha, yPy) / (n - t) ** 2


def select_alpha_gcv(solver, u, yPy, n, bounds=None) -> AlphaResult:
    """Minimise the GCV function over log alpha (grid bracket + bounded Brent).

    Parameters
    ----------
    solver : EigenTikhonov
    u : ndarray (m,)
        Projected right-hand side Q^T b of one month.
    yPy : float
        y^T P y of that month.
    n : int
        Effective number of observations (``Whitener.n_effective``).
    bounds : (float, float), optional
        Search interval for alpha; default :func:`default_bounds`.
    """
    bounds = bounds or default_bounds(solver)
    t_max = float(solver.dof(bounds[0]))
    if n - t_max <= 0:
        raise ValueError(f"n={n} observations leave no residual degrees of freedom (t up to {t_max:.1f})")

    def fun(la):
        a = np.exp(la)
        return float(np.log(max(gcv_function(solver, u, a, yPy, n), np.finfo(float).tiny)))

    def fun_grid(la):  # fun at every grid point in one pass, the same operations as solver.dof/residual
        a = np.exp(la)[:, None]
        d = solver.eigenvalues[None, :] + a
        t = np.sum(solver.eigenvalues[None, :] / d, axis=1)
        omega = yPy - np.sum(u[None, :] ** 2 * ((d - a) + 2 * a) / d**2, axis=1)
        return np.log(np.maximum(n * omega / (n - t) ** 2, np.finfo(float).tiny))

    alpha, nfev = _grid_then_brent(fun, bounds, fun_grid=fun_grid)
    return _result(solver, u, yPy, n, alpha, nfev, "gcv", True)


def lcurve_curvature(solver, u, alpha, yPy):
    """Signed curvature of the L-curve (rho, zeta) = (log Omega, log eta) at alpha.

    With eta' = -2 sum u^2/(lambda+alpha)^3, eta'' = 6 sum u^2/(lambda+alpha)^4,
    Omega' = -alpha eta', Omega'' = -eta' - alpha eta'', rho' = Omega'/Omega,
    rho'' = Omega''/Omega - rho'^2 (likewise zeta), kappa = (rho' zeta'' - rho'' zeta')/(rho'^2 + zeta'^2)^1.5.
    Positive at the corner of the L.
    """
    lam = solver.eigenvalues
    d = lam + alpha
    u2 = np.asarray(u, float) ** 2
    eta = np.sum(u2 / d**2)
    e1 = -2.0 * np.sum(u2 / d**3)
    e2 = 6.0 * np.sum(u2 / d**4)
    om = weighted_residual(solver, u, alpha, yPy)
    o1 = -alpha * e1
    o2 = -e1 - alpha * e2
    r1 = o1 / om
    r2 = o2 / om - r1**2
    z1 = e1 / eta
    z2 = e2 / eta - z1**2
    return (r1 * z2 - r2 * z1) / (r1**2 + z1**2) ** 1.5


def select_alpha_lcurve(solver, u, yPy, n, bounds=None) -> AlphaResult:
    """Maximise the L-curve curvature over log alpha (grid bracket + bounded Brent)."""
    bounds = bounds or default_bounds(solver)

    def fun(la):
        k = lcurve_curvature(solver, u, np.exp(la), yPy)
        return -float(k) if np.isfinite(k) else np.inf

    alpha, nfev = _grid_then_brent(fun, bounds, npts=241)
    return _result(solver, u, yPy, n, alpha, nfev, "lcurve", True)


def select_alpha_vce(solver, u, yPy, n, alpha0=None, tol=1e-4, maxiter=200, bounds=None) -> AlphaResult:
    """Variance-component estimation: iterate alpha = sigma0^2 t / eta (Koch & Kusche 2002).

    sigma0^2 = Omega/(n - t) and sigma_x^2 = eta/t are the observation and prior variance factors;
    their ratio alpha near 1 means P and R are mutually calibrated (``info["sigma_x_sq"]``).
    """
    bounds = bounds or default_bounds(solver)
    alpha = float(alpha0) if alpha0 is not None else float(np.sqrt(bounds[0] * bounds[1]) * 1e-3)
    converged = False
    it = 0
    for it in range(1, maxiter + 1):
        t = float(solver.dof(alpha))
        s0 = weighted_residual(solver, u, alpha, yPy) / (n - t)
        sx = float(solver.prior_norm(u, alpha)) / t
        new = float(np.clip(s0 / sx, bounds[0], bounds[1]))
        step = abs(np.log(new) - np.log(alpha))
        alpha = new
        if step < tol:
            converged = True
            break
    res = _result(solver, u, yPy, n, alpha, it, "vce", converged)
    res.info["sigma_x_sq"] = float(solver.prior_norm(u, alpha)) / float(solver.dof(alpha))
    return res


def mse_function(solver, alpha, xi, sigma0_sq, norm="euclidean"):
    """MSE(alpha) = sigma0^2 sum lambda ||Q_k||^2/(lambda+alpha)^2 + alpha^2 ||Q D^-1 xi||^2.

    ``xi = Q^T R x_true`` (or its plug-in). ``norm="R"`` measures the error in the R-norm:
    sigma0^2 sum lambda/(lambda+alpha)^2 + alpha^2 sum xi^2/(lambda+alpha)^2.
    """
    lam = solver.eigenvalues
    d = lam + alpha
    if norm == "R":
        return sigma0_sq * np.sum(lam / d**2) + alpha**2 * np.sum(xi**2 / d**2)
    if norm != "euclidean":
        raise ValueError(f'norm must be "euclidean" or "R", got {norm!r}')
    bias = solver.Q @ (xi / d)
    return sigma0_sq * np.sum(lam * solver.column_norms2 / d**2) + alpha**2 * float(bias @ bias)


def _mse_on_grid(solver, xi, sigma0_sq, alphas, norm, g=None):
    """Exact MSE at several alphas; the squared Euclidean bias norms in one GEMM (``g``: those, given)."""
    alphas = np.asarray(alphas, float)
    if norm == "R":
        return np.array([mse_function(solver, a, xi, sigma0_sq, "R") for a in alphas])
    lam = solver.eigenvalues
    d = lam[:, None] + alphas[None, :]
    if g is None:
        B = solver.Q @ bias_columns(solver, xi, alphas)
        g = np.einsum("ij,ij->j", B, B)
    var = sigma0_sq * np.sum((lam * solver.column_norms2)[:, None] / d**2, axis=0)
    return var + alphas**2 * g


def _drive(steps, solver):
    """Run one of this module's step generators alone: every request gets ||Q W||² by columns; its return value."""
    try:
        req = next(steps)
        while True:
            B = solver.Q @ req.columns(solver.eigenvalues)
            req = steps.send(np.einsum("ij,ij->j", B, B))
    except StopIteration as stop:
        return stop.value


def _minimise_mse_steps(solver, xi, sigma0_sq, bounds, norm, start, coarse=True, width=None, alpha_xi=None):
    """Minimiser of MSE(alpha) for a fixed xi, as a generator: it yields the :class:`BiasRequest` of
    the (m, p) columns W whose squared norms ||Q W_{:j}||² the Euclidean norm needs and is sent them back
    (:func:`_drive` runs it alone), so that a driver can answer the requests of many
    months in one GEMM (:func:`select_alpha_mse_many`); returns the minimiser.

    ``width``: half-width in log alpha of the first bracket around ``start`` (default one decade
    after the coarse look, half a decade without it); a minimum on the bracket's edge moves the
    bracket there and doubles it. A narrow bracket needs fewer Chebyshev nodes (8 below 0.1)."""
    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    if coarse:
        # global coarse look (exact MSE on a one-decade grid), then refine around the best node
        grid = np.append(np.arange(lo, hi, np.log(10)), hi)
        g = None if norm == "R" else (yield BiasRequest(xi, np.exp(grid), alpha_xi))
        vals = _mse_on_grid(solver, xi, sigma0_sq, np.exp(grid), norm, g=g)
        c = grid[int(np.argmin(vals))]
    else:
        c = float(np.clip(np.log(start), lo, hi))
    if width is None or coarse:
        width = np.log(10) if coarse else 0.5 * np.log(10)
    for _ in range(12):
        a, b = max(lo, c - width), min(hi, c + width)
        if norm == "R":
            def fun(la):
                return float(np.log(mse_function(solver, np.exp(la), xi, sigma0_sq, "R")))
        else:
            z, _ = ChebyshevMSE.nodes(a, b)
            g = yield BiasRequest(xi, np.exp(z), alpha_xi)
            ev = ChebyshevMSE(solver, xi, sigma0_sq, a, b, g=g)

            def fun(la):
                return float(np.log(ev(np.exp(la))))
        res = optimize.minimize_scalar(fun, bounds=(a, b), method="bounded", options={"xatol": 1e-5})
        x = float(res.x)
        at_edge = (x - a < 1e-3 and a > lo) or (b - x < 1e-3 and b < hi)
        if not at_edge:
            break
        c = x  # the minimum lies beyond the bracket: move it there, wider, and try again
        width *= 2.0
    return float(np.exp(x))


def select_alpha_mse(solver, u, yPy, n, sigma0_sq=None, norm="euclidean", tol=1e-4, maxiter=60,
                     collapse_factor=1e3, bounds=None, alpha_start=None, accelerate=True) -> AlphaResult:
    """Minimum-MSE alpha by the plug-in iteration of AMB-8 (default selector).

    Parameters
    ----------
    solver, u, yPy, n : see :func:`select_alpha_gcv`.
    sigma0_sq : float, optional
        Known variance factor (e.g. 1 if P is calibrated); default the estimate Omega/(n - t) at the
        previous alpha.
    norm : {"euclidean", "R"}
    tol : float
        Convergence on |d log alpha|.
    maxiter : int
    collapse_factor : float
        Safeguard: alpha > collapse_factor x alpha_start means the plug-in collapsed.
    alpha_start : float, optional
        Default alpha_GCV.
    accelerate : bool
        After every two plain steps, jump to Aitken's limit of the last three iterates (in log
        alpha; only while the steps shrink by a common ratio below 0.95). False: the plain
        iteration of AMB-8. The convergence test is on plain steps either way.
    """
    return _drive(_select_alpha_mse_steps(solver, u, yPy, n, sigma0_sq, norm, tol, maxiter, collapse_factor, bounds,
                                          alpha_start, accelerate), solver)


def _aitken(z0, z1, z2, max_ratio=0.95, max_jump=3.0):
    """Aitken's delta-squared limit of three iterates of a linearly converging fixed-point iteration,
    or None unless the two steps shrink by a common ratio below ``max_ratio`` in size.

    The jump from ``z2`` is at most ``max_jump`` times the last step (the limit of a ratio of 0.75).
    Far from its fixed point the plug-in MSE map contracts more slowly than near it, so the ratio
    of the first two steps over-predicts the distance: on the real CSR record (2004-05, refined
    step, reduced box) the iterates 1.16, 0.396, 0.153 have a ratio of 0.89, and the uncapped
    limit 9.6e-5 lay 3.5 decades past the fixed point 0.045; the plain iteration from there had not
    come back after 30 steps. With the cap the same month reaches 0.045 in 11 steps.
    """
    d1, d2 = z1 - z0, z2 - z1
    if d1 == 0 or d2 == d1 or not abs(d2 / d1) < max_ratio:
        return None
    jump = -d2 * d2 / (d2 - d1)
    return float(z2 + np.clip(jump, -max_jump * abs(d2), max_jump * abs(d2)))


def _select_alpha_mse_steps(solver, u, yPy, n, sigma0_sq, norm, tol, maxiter, collapse_factor, bounds, alpha_start,
                            accelerate=True):
    """Generator form of :func:`select_alpha_mse` (requests as in :func:`_minimise_mse_steps`)."""
    bounds = bounds or default_bounds(solver)
    u = np.asarray(u, dtype=float)
    if alpha_start is None:
        alpha_start = select_alpha_gcv(solver, u, yPy, n, bounds).alpha
    alpha = float(alpha_start)
    one_step = None
    converged = False
    it = 0
    width = None
    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    plain = [np.log(alpha)]  # log alpha of the plain iterates since the last extrapolation
    for it in range(1, maxiter + 1):
        xi = u / (solver.eigenvalues + alpha)
        s0 = float(sigma0_sq) if sigma0_sq is not None else weighted_residual(solver, u, alpha, yPy) / (n - solver.dof(alpha))
        new = yield from _minimise_mse_steps(solver, xi, s0, bounds, norm, alpha, coarse=(it == 1), width=width,
                                             alpha_xi=alpha)
        if one_step is None:
            one_step = new
        step = abs(np.log(new) - np.log(alpha))
        alpha = new
        if alpha > collapse_factor * alpha_start:
            res = _result(solver, u, yPy, n, one_step, it, "mse", False, alpha_start=alpha_start, collapsed=True)
            return res
        if step < tol:
            converged = True
            break
        plain.append(np.log(alpha))
        if accelerate and len(plain) == 3:
            z0, z1, z2 = plain
            za = _aitken(z0, z1, z2)
            if za is not None and lo < za < hi:
                alpha, step = float(np.exp(za)), abs(za - z2)
            plain = [np.log(alpha)]
        width = min(0.5 * np.log(10), max(0.05, 4.0 * step))  # the next minimum lies within a few steps
    return _result(solver, u, yPy, n, alpha, it, "mse", converged, alpha_start=alpha_start, collapsed=False)


def select_alpha_mse_many(solver, U, yPy, n, sigma0_sq=None, norm="euclidean", tol=1e-4, maxiter=60,
                          collapse_factor=1e3, bounds=None, alpha_start=None, accelerate=True, max_columns=1024,
                          on_done=None) -> list:
    """:func:`select_alpha_mse` for many months that share one eigensystem, their GEMMs shared.

    Every month runs the same plug-in iteration as :func:`select_alpha_mse`, as a generator; at each
    round the squared bias norms that all unfinished months need (the coarse grid and the Chebyshev
    nodes of the Euclidean bias, :class:`ChebyshevMSE`) are computed together for at most
    ``max_columns`` columns at a time by :class:`hma_mascon.euclidean_bias.BiasProducts`: the
    zero eigenvalues summed once per month, the others through the r x r Gram matrix of Q
    (HMA default, whole fit: 0.9 s against 4.7 s for the products Q W). The result of each month
    is that of :func:`select_alpha_mse` up to rounding (in the tests, alphas within 1e-9).

    Parameters
    ----------
    U : ndarray (T, m)
        Projected data of the months.
    yPy : ndarray (T,)
    sigma0_sq, bounds, alpha_start : one value (or None) for every month, or a sequence of T of them.
    on_done : callable, optional
        Called with no argument each time a month finishes (a progress bar's ``update``).

    Returns
    -------
    list of AlphaResult
    """
    U = np.atleast_2d(np.asarray(U, float))
    T = U.shape[0]

    def per_month(v):
        return [v] * T if v is None or np.ndim(v) == 0 else list(v)

    s0s, starts = per_month(sigma0_sq), per_month(alpha_start)
    bnds = [bounds] * T if bounds is None or np.ndim(bounds[0]) == 0 else list(bounds)
    if not len(s0s) == len(starts) == len(bnds) == T:
        raise ValueError(f"sigma0_sq, alpha_start and bounds need one value per month ({T})")
    steps = [_select_alpha_mse_steps(solver, U[k], float(yPy[k]), n, s0s[k], norm, tol, maxiter, collapse_factor,
                                     bnds[k], starts[k], accelerate) for k in range(T)]
    results = [None] * T
    pending = {}

    def advance(k, g=None):
        try:
            pending[k] = next(steps[k]) if g is None else steps[k].send(g)
        except StopIteration as stop:
            results[k] = stop.value
            pending.pop(k, None)
            if on_done is not None:
                on_done()

    for k in range(T):
        advance(k)
    products = BiasProducts(solver, U) if pending else None
    while pending:
        keys, width = [], 0
        for k in list(pending):  # a round: as many months as fit in max_columns (at least one)
            if keys and width + pending[k].alphas.size > max_columns:
                break
            keys.append(k)
            width += pending[k].alphas.size
        for k, g in zip(keys, products(keys, [pending[k] for k in keys])):
            advance(k, g)
    return results


_SELECTORS = {"mse": select_alpha_mse, "vce": select_alpha_vce, "gcv": select_alpha_gcv,
              "lcurve": select_alpha_lcurve}


def select_alpha(method, solver, u, yPy, n, **kwargs) -> AlphaResult:
    """Dispatch to ``select_alpha_<method>`` (method in mse, vce, gcv, lcurve)."""
    try:
        fun = _SELECTORS[method]
    except KeyError:
        raise ValueError(f"unknown alpha method {method!r}; choose one of {sorted(_SELECTORS)}") from None
    return fun(solver, u, yPy, n, **kwargs)
