"""Observation covariance and the weight matrix P (METHODS.md section 6).

The covariance of the pseudo-observations is propagated from the coefficient sigmas,
:math:`\\Sigma_y = B\\,\\Sigma_c\\,B^T`, with ``B`` the synthesis matrix of ``synthesis.py``.
P is never formed: a :class:`Whitener` applies a square root ``W`` with ``W^T W = P``, so that
``N = (WA)^T (WA)`` and ``b = (WA)^T (Wy)``. numpy/scipy do the linear algebra (BLAS matrix
products, LAPACK Cholesky ``potrf``, triangular solve ``trtrs``, ``syevd``); the modes, the
white-noise floor and the rank bookkeeping are written here.

Modes
-----
``identity``  P = I.
``diagonal``  P = diag(1/diag Sigma_y).
``full``      P = (Sigma_y + nu^2 I)^-1 with the white-noise floor nu^2 = delta mean(diag Sigma_y),
              delta = 1e-3 (default): Sigma_y is numerically singular because the 0.4 deg grid
              oversamples a degree-96 field at altitude (~150 dominant directions). Cholesky
              Sigma_y + nu^2 I = L L^T and W = L^-1.
``eigen``     truncated pseudo-inverse: Sigma_y = U Gamma U^T, keep gamma_k > thr gamma_max
              (thr = 1e-10), W = Gamma_k^-1/2 U_k^T. The number of observations in every
              degrees-of-freedom formula becomes rank(P) (``Whitener.n_effective``).

``P_mode`` (which months share one P) is handled by :func:`coefficient_variance_groups`.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

__all__ = ["observation_covariance", "Whitener", "coefficient_variance_groups", "DEFAULT_DELTA", "whitener_of",
           "apply_whitener", "effective_nobs"]

#: Relative white-noise floor of the ``full`` mode (METHODS.md section 6).
DEFAULT_DELTA = 1e-3


def observation_covariance(B, sigma_c):
    """Propagate coefficient errors to the observations, :math:`\\Sigma_y = B\\Sigma_c B^T`.

    Parameters
    ----------
    B : ndarray (n, ncoef)
        Synthesis matrix (columns in the ``coefficient_index`` order).
    sigma_c : ndarray (ncoef,) or (ncoef, ncoef)
        Per-coefficient standard deviations (diagonal Sigma_c = diag(sigma_c^2)), or a full
        coefficient covariance matrix.

    Returns
    -------
    ndarray (n, n), symmetric.
    """
    B = np.asarray(B, dtype=float)
    sigma_c = np.asarray(sigma_c, dtype=float)
    if sigma_c.ndim == 1:
        if sigma_c.size != B.shape[1]:
            raise ValueError(f"sigma_c has {sigma_c.size} values, B has {B.shape[1]} columns")
        if np.any(~np.isfinite(sigma_c)) or np.any(sigma_c < 0):
            raise ValueError("sigma_c must be finite and non-negative")
        Bs = B * sigma_c
        cov = Bs @ Bs.T
        del Bs  # before the symmetrisation below: at most one n x ncoef and two n x n arrays at once
    elif sigma_c.ndim == 2:
        if sigma_c.shape != (B.shape[1], B.shape[1]):
            raise ValueError(f"coefficient covariance has shape {sigma_c.shape}, expected {(B.shape[1],) * 2}")
        cov = B @ sigma_c @ B.T
    else:
        raise ValueError("sigma_c must be 1-D (sigmas) or 2-D (covariance)")
    sym = cov + cov.T  # symmetrised in place: one n x n temporary fewer (n = 7000: 0.4 GB)
    del cov
    sym *= 0.5
    return sym


class Whitener:
    """Square root of the weight matrix, ``W^T W = P``, built from Sigma_y.

    Parameters
    ----------
    sigma_y : ndarray (n, n) or (n,)
        Observation covariance (or its diagonal for ``mode="diagonal"``). Ignored (may be
        None) for ``mode="identity"`` if ``n`` is given.
    mode : {"identity", "diagonal", "full", "eigen"}
    delta : float
        Relative white-noise floor of the ``full`` mode, nu^2 = delta * mean(diag Sigma_y).
    threshold : float
        Relative eigenvalue cut of the ``eigen`` mode.
    n : int, optional
        Number of observations for ``identity`` without a covariance.

    Attributes
    ----------
    n : int
        Number of observations.
    n_effective : int
        n for identity/diagonal/full; rank(P) for eigen. Use it in every dof formula.
    nu2 : float
        The white-noise floor added (``full``), else 0.
    """

    def __init__(self, sigma_y=None, mode: str = "full", delta: float = DEFAULT_DELTA, threshold: float = 1e-10,
                 n: int | None = None):
        if mode not in ("identity", "diagonal", "full", "eigen"):
            raise ValueError(f'mode must be "identity", "diagonal", "full" or "eigen", got {mode!r}')
        self.mode = mode
        self.delta = float(delta)
        self.threshold = float(threshold)
        self.nu2 = 0.0
        if sigma_y is None:
            if mode != "identity" or n is None:
                raise ValueError("sigma_y is required unless mode='identity' with n given")
            self.n = int(n)
            self.n_effective = self.n
            return
        sigma_y = np.asarray(sigma_y, dtype=float)
        diag = sigma_y if sigma_y.ndim == 1 else np.diag(sigma_y)
        self.n = diag.size
        if mode == "identity":
            self.n_effective = self.n
        elif mode == "diagonal":
            if np.any(diag <= 0) or not np.all(np.isfinite(diag)):
                raise ValueError("diagonal weighting needs positive finite variances")
            self._inv_std = 1.0 / np.sqrt(diag)
            self.n_effective = self.n
        elif mode == "full":
            if sigma_y.ndim != 2:
                raise ValueError("mode='full' needs the full covariance matrix")
            self.nu2 = self.delta * float(np.mean(diag))
            cov = np.array(sigma_y, dtype=float, copy=True)  # Σ_y + ν²I without an n x n identity,
            cov[np.diag_indices(self.n)] += self.nu2  # factored in place (n = 7000: 0.8 GB fewer)
            try:
                self._L = linalg.cholesky(cov, lower=True, check_finite=True, overwrite_a=True)
            except linalg.LinAlgError as exc:
                raise ValueError(f"Sigma_y + nu^2 I is not positive definite (delta={self.delta}): {exc}") from None
            self.n_effective = self.n
        else:  # eigen
            if sigma_y.ndim != 2:
                raise ValueError("mode='eigen' needs the full covariance matrix")
            gam, U = linalg.eigh(sigma_y, check_finite=True)
            keep = gam > self.threshold * gam.max()
            self._W = (U[:, keep] / np.sqrt(gam[keep])).T
            self.n_effective = int(keep.sum())
        self.rank = self.n_effective

    def whiten(self, A):
        """Apply W: ``L^-1 A`` (full, triangular solve), ``A / sigma`` (diagonal), ``W A`` (eigen).

        ``A`` has the observations on its first axis (a design matrix, or y as (n,) or (n, months)).
        """
        A = np.asarray(A, dtype=float)
        if A.shape[0] != self.n:
            raise ValueError(f"first axis has {A.shape[0]} rows, the whitener has {self.n} observations")
        if self.mode == "identity":
            return A
        if self.mode == "diagonal":
            return A * self._inv_std.reshape((-1,) + (1,) * (A.ndim - 1))
        if self.mode == "full":
            return linalg.solve_triangular(self._L, A, lower=True, check_finite=False)
        return self._W @ A

    def weight_matrix(self):
        """The dense P = W^T W (for tests and small problems; the solver never needs it)."""
        if self.mode == "identity":
            return np.eye(self.n)
        if self.mode == "diagonal":
            return np.diag(self._inv_std**2)
        if self.mode == "full":
            Linv = linalg.solve_triangular(self._L, np.eye(self.n), lower=True)
            return Linv.T @ Linv
        return self._W.T @ self._W

    def normal_equations(self, A, y=None):
        """``N = A^T P A`` and, if ``y`` is given, ``b = A^T P y`` and ``yPy = y^T P y``.

        ``y`` may be (n,) or (n, months); ``yPy`` then has one value per month.
        """
        Aw = self.whiten(A)
        N = Aw.T @ Aw
        if y is None:
            return N
        yw = self.whiten(y)
        return N, Aw.T @ yw, np.sum(yw * yw, axis=0)


def coefficient_variance_groups(sigma, mode: str = "mean", mission=None):
    """Group the monthly coefficient variances by ``P_mode`` (METHODS.md section 6).

    Parameters
    ----------
    sigma : ndarray (time, ncoef)
        Formal coefficient sigmas per month (0 or NaN where unknown: NaN is ignored in the means).
    mode : {"mean", "mission", "monthly"}
        ``mean``: one P from the mean variance over all months; ``mission``: one per mission
        label (GRACE / GRACE-FO); ``monthly``: one per month.
    mission : array_like of str (time,), optional
        Mission label per month (required for ``"mission"``).

    Returns
    -------
    list of (label, sigma_c, month_indices)
        ``sigma_c`` is the root of the group's mean variance (feed it to
        :func:`observation_covariance`); ``month_indices`` are the months the group serves.
    """
    sigma = np.atleast_2d(np.asarray(sigma, dtype=float))
    nt = sigma.shape[0]
    var = sigma**2
    if mode == "mean":
        return [("mean", np.sqrt(np.nanmean(var, axis=0)), np.arange(nt))]
    if mode == "mission":
        if mission is None:
            raise ValueError('P_mode="mission" needs the mission label of each month')
        mission = np.asarray(mission).astype(str)
        if mission.size != nt:
            raise ValueError(f"{mission.size} mission labels for {nt} months")
        out = []
        for label in dict.fromkeys(mission):
            idx = np.flatnonzero(mission == label)
            out.append((label, np.sqrt(np.nanmean(var[idx], axis=0)), idx))
        return out
    if mode == "monthly":
        return [(str(k), np.sqrt(var[k]), np.array([k])) for k in range(nt)]
    raise ValueError(f'P_mode must be "mean", "mission" or "monthly", got {mode!r}')


def whitener_of(whiten, g):
    """The whitener of group ``g`` from one whitener, a sequence or a dict of them (None: identity)."""
    if whiten is None:
        return None
    return whiten[g] if isinstance(whiten, (list, tuple, dict)) else whiten


def apply_whitener(w, M):
    """L⁻¹M for a :class:`Whitener`, a callable or None (identity); M has observations on axis 0."""
    if w is None:
        return M
    return w.whiten(M) if hasattr(w, "whiten") else w(M)


def effective_nobs(w, n: int) -> int:
    """Effective number of observations behind whitener ``w`` (rank(P) for a pseudo-inverse P)."""
    return int(getattr(w, "n_effective", n)) if w is not None else n
