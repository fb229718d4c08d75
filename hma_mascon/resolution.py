"""What a regularized solve does to a true field: the resolution operator and the damping of trends.

* :func:`resolution_factors` -- H = (N + αR)⁻¹N = U Wᵀ over the modes the data resolve;
* :func:`apply_resolution` -- H applied to fields, from one eigensystem;
* :func:`trend_recovery` -- the trend the two-step solve returns for a noise-free trend field,
  H_pre β + H_ref (I - H_pre) β (the regularization damping of regional sums);
* :func:`trend_bias_sd` -- a white-spectrum upper bound of the per-cell trend bias;
* :func:`trend_bias_factor` -- the factor M of the prior-expected bias covariance c² M Mᵀ of the
  trend of the two-step solve: what the stated per-cell and regional trend errors add for the
  regularization bias (issue 11, suspect 6).

References
----------
Landerer, F. W. & Swenson, S. C. (2012), Water Resour. Res. 48, W04531 (scaling factors).
"""

from __future__ import annotations

import numpy as np

from .regularization import as_precision

__all__ = ["RESOLUTION_TOL", "resolution_factors", "apply_resolution", "trend_recovery", "trend_bias_sd", "trend_bias_factor", "trend_prior_scale"]


#: Modes whose λ/(λ+α) is at most this are left out of H (:func:`resolution_factors`).
RESOLUTION_TOL = 1e-12


def resolution_factors(system, R, alpha: float):
    r"""H = (N + αR)⁻¹N as a product U Wᵀ over the modes the data resolve at all.

    With Q^T N Q = Λ and Q^T R Q = I, H = Q diag(λ_k/(λ_k+α)) Q^T R. The normal matrix of a
    point-mass problem is numerically rank-deficient (HMA default: about 400 of 4400 eigenvalues
    above 1e-12 α), and a mode with λ_k/(λ_k+α) ≤ :data:`RESOLUTION_TOL` adds at most that share of
    its component to H x, so those modes are left out:

    .. math:: H \approx U W^T,\quad U = Q_H\,\mathrm{diag}\!\left(\frac{\lambda_k}{\lambda_k+\alpha}\right)_H,
              \quad W = R\,Q_H .

    Returns
    -------
    U, W : ndarray (m, k)
    """
    lam, Q = np.asarray(system.lam, float), system.Q
    h = lam / (lam + alpha)
    keep = h > RESOLUTION_TOL
    QH = Q[:, keep]
    R = as_precision(R)
    W = R[:, None] * QH if R.ndim == 1 else R @ QH  # R Q_H (R symmetric)
    return QH * h[keep], W


def apply_resolution(system, R, alpha: float, x) -> np.ndarray:
    r"""Resolution operator H = (N + αR)⁻¹N applied to fields ``x`` (..., m): what a noise-free
    solve returns for the true field x.

    With Q^T N Q = Λ and Q^T R Q = I, (N + αR)⁻¹ = Q(Λ + αI)⁻¹Q^T and N = Q⁻ᵀΛQ⁻¹ with
    Q⁻¹ = Q^T R, so

    .. math:: H x = Q\,\mathrm{diag}\!\left(\frac{\lambda_k}{\lambda_k+\alpha}\right) Q^T R\, x ,

    over the modes the data resolve (:func:`resolution_factors`).
    """
    U, W = resolution_factors(system, R, alpha)
    return (np.asarray(x, float) @ W) @ U.T


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


def trend_bias_sd(system, R, alpha: float, beta1) -> np.ndarray:
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
    R = as_precision(R)
    beta1 = np.asarray(beta1, float)
    Rb = R * beta1 if R.ndim == 1 else R @ beta1
    xi = Q.T @ Rb
    g = (lam / (lam + alpha)) ** 2
    well = lam > alpha
    if not np.any(well):
        return np.full(beta1.shape, np.nan)
    c2 = float(np.sum(xi[well] ** 2) / np.sum(g[well]))
    return np.sqrt(c2 * alpha**2 * ((Q**2) @ (1.0 / (lam + alpha) ** 2)))


def trend_bias_factor(pre_system, alpha_pre: float, ref_system=None, r_ref=None, alpha_ref=None,
                      posterior: bool = False) -> np.ndarray:
    r"""Factor M (m, m) of the regularization-bias covariance of the two-step trend, c² M Mᵀ.

    The two-step trend of a true trend field β is :math:`\hat\beta = H_{pre}\beta +
    H_{ref}(I - H_{pre})\beta` (:func:`trend_recovery`), so its bias is

    .. math:: \hat\beta - \beta = -(I - H_{ref})(I - H_{pre})\,\beta .

    For a trend drawn from the preliminary step's own prior, β ~ N(0, c² R_pre⁻¹), and with
    R_pre⁻¹ = Q Qᵀ (Qᵀ R_pre Q = I) and (I - H_pre) Q = Q diag(α/(λ+α)), the bias covariance is
    c² M Mᵀ with

    .. math:: M = (I - H_{ref})\, Q\, \mathrm{diag}\!\left(\frac{\alpha}{\lambda_k+\alpha}\right).

    A per-cell bias sd is c ‖M_j·‖; a regional sum g has c ‖gᵀM‖. Unlike a plug-in of the
    estimated trend (:func:`trend_bias_sd`) this is the Bayesian expectation the monthly stated
    errors already use (diag σ0²(N + αR)⁻¹ = formal + bias variance), carried to the trend.

    Parameters
    ----------
    pre_system : EigenSystem
        Eigensystem of the preliminary step (Qᵀ N Q = Λ, Qᵀ R_pre Q = I).
    alpha_pre : float
        Representative α of the preliminary step (the median over its months).
    ref_system, r_ref, alpha_ref : optional
        Eigensystem, R_sv and α of the refined step (None: a one-step solve, M = Q diag(α/(λ+α))).

    posterior : bool
        With ``posterior=True`` the first factor is Q diag(sqrt(α/(λ+α))), so that c² M Mᵀ is the
        posterior covariance σ²_0,β (N + αR)⁻¹ of a trend solved once from the data's trend
        (formal noise plus bias, c² = σ²_0,β/α; :func:`hma_mascon.two_step.data_trend_solve`),
        then reduced by what the refined step recovers.

    Returns
    -------
    numpy.ndarray (m, m)
    """
    lam = np.asarray(pre_system.lam, float)
    g = alpha_pre / (lam + alpha_pre)
    M = np.asarray(pre_system.Q, float) * (np.sqrt(g) if posterior else g)
    if ref_system is not None:
        # M <- (I - H_ref) M = M - U (Wᵀ M), by blocks of columns in place: (m, 512) temporaries
        U, W = resolution_factors(ref_system, r_ref, alpha_ref)
        for j in range(0, M.shape[1], 512):
            M[:, j:j + 512] -= U @ (W.T @ M[:, j:j + 512])
    return M


def trend_prior_scale(sigma0sq: float, alpha: float, t) -> float:
    r"""Scale c of the trend prior β ~ N(0, c² R⁻¹) implied by the monthly prior of METHODS.md §8.

    The MSE rule treats the monthly field as x ~ N(0, (σ0²/α) R⁻¹) (R from the multisource prior
    variances, §7). A linear trend over the months t whose standard deviation is that prior's has
    sd(β) = sd(x)/std(t), hence

    .. math:: c^2 = \frac{\sigma_0^2}{\alpha\,\mathrm{var}(t)} .

    For a glacier cell with the rate-based prior σ_j = |rate_j| std(t) (§7) this gives a trend sd
    of |rate_j| sqrt(σ0²/α): a trend as large as the prior's own.
    """
    t = np.asarray(t, float)
    t = t[np.isfinite(t)]
    var_t = float(np.var(t)) if t.size > 1 else np.nan
    return float(np.sqrt(sigma0sq / (alpha * var_t))) if var_t > 0 and alpha > 0 else np.nan
