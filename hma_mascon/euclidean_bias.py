"""The Euclidean bias norm of the MSE rule: its Q-products (METHODS.md section 8, AMB-8).

The Euclidean MSE of :mod:`hma_mascon.alpha` needs g(alpha) = ||Q D^-1 xi||^2, an m^2 product per
alpha. Here:

* :class:`ChebyshevMSE` -- g on a bracket of log alpha from its Chebyshev interpolant, the node
  values from one GEMM;
* :class:`BiasRequest` -- the columns W_kj = xi_k / (lambda_k + alpha_j) a step of the MSE iteration
  asks the squared norms ||Q W_{:j}||² of;
* :class:`BiasProducts` -- those norms for many months at once, the zero eigenvalues of the
  normal matrix summed once per month and the others through the small Gram matrix Q_Hᵀ Q_H.

Written by hand: the interpolation (Trefethen 2013) and the product split are the point of this
module; the GEMMs are numpy's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .solver import mode_split

__all__ = ["chebyshev_nodes", "ChebyshevMSE", "bias_columns", "BiasRequest", "BiasProducts"]


def chebyshev_nodes(lo, hi, p):
    """Chebyshev points of the second kind on [lo, hi] and their barycentric weights."""
    j = np.arange(p)
    z = 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * j / (p - 1))
    w = (-1.0) ** j
    w[[0, -1]] *= 0.5
    return z, w


class ChebyshevMSE:
    r"""MSE(alpha) for alpha in a bracket [e^lo, e^hi] with a fixed xi (Euclidean norm).

    The squared bias norm g(z) = ||Q D^-1 xi||^2 as a function of z = log alpha is analytic in the
    strip |Im z| < pi (each 1/(lambda_k + alpha) has its pole at alpha = -lambda_k <= 0), so its
    Chebyshev interpolant on the bracket converges geometrically, with error ~ rho^-p for
    rho = h + sqrt(h^2 + 1), h = pi / (half-width of the bracket) (Trefethen 2013, Approximation
    Theory and Approximation Practice, ch. 8). The p node values come from one GEMM,
    Q [xi / (lambda + alpha_j)]_j (or ``g``, from :class:`BiasProducts`); every evaluation after that is O(p) (barycentric formula) plus the
    exact O(m) variance term. p is chosen for a relative error near 1e-12 (17 nodes for one decade,
    26 for two), so the minimiser is that of the exact function.
    """

    def __init__(self, solver, xi, sigma0_sq, lo, hi, tol=1e-12, g=None):
        lam = solver.eigenvalues
        self.lam = lam
        self.var_w = sigma0_sq * lam * solver.column_norms2
        self.z, self.w = self.nodes(lo, hi, tol)
        if g is None:  # the squared norms at the nodes, unless a driver computed them
            B = solver.Q @ bias_columns(solver, xi, np.exp(self.z))
            g = np.einsum("ij,ij->j", B, B)
        self.g = np.asarray(g, float)

    @staticmethod
    def nodes(lo, hi, tol=1e-12):
        """The Chebyshev nodes in log alpha for the bracket [lo, hi] and their barycentric weights."""
        h = np.pi / max(0.5 * (hi - lo), 1e-12)
        p = int(np.clip(np.ceil(-np.log(tol) / np.log(h + np.hypot(h, 1.0))) + 1, 8, 64))
        return chebyshev_nodes(lo, hi, p)

    def bias2(self, alpha):
        """||Q D^-1 xi||^2 at alpha (interpolated)."""
        dz = np.log(alpha) - self.z
        hit = np.flatnonzero(dz == 0)
        if hit.size:
            return float(self.g[hit[0]])
        c = self.w / dz
        return float(c @ self.g / c.sum())

    def __call__(self, alpha):
        d = self.lam + alpha
        return float(np.sum(self.var_w / d**2)) + alpha**2 * self.bias2(alpha)


def bias_columns(solver, xi, alphas):
    """Columns xi / (lambda + alpha_j): Q times column j is the Euclidean bias vector at alpha_j over alpha_j."""
    return xi[:, None] / (solver.eigenvalues[:, None] + np.asarray(alphas, float)[None, :])


@dataclass(frozen=True)
class BiasRequest:
    """The columns :func:`bias_columns` (xi, alphas) whose squared Q-product norms a step generator needs, with
    ``alpha_xi`` when xi = u / (lambda + alpha_xi) (what :class:`BiasProducts` needs to shorten them)."""

    xi: np.ndarray
    alphas: np.ndarray
    alpha_xi: float | None = None

    def columns(self, lam, rows=slice(None)):
        return self.xi[rows, None] / (lam[rows, None] + self.alphas[None, :])


class BiasProducts:
    r"""The squared bias norms ||Q W_{:j}||² of many months' requests, from a small Gram matrix.

    A request of month k is W_kj = u_k / ((\lambda_k + a)(\lambda_k + b_j)) (a = ``alpha_xi``, b_j
    its alphas). The normal matrix of a point-mass problem is numerically rank-deficient: on the
    HMA default 478 of 4400 eigenvalues are above its round-off and the others exactly 0
    (:class:`hma_mascon.solver.EigenTikhonov`'s low-rank route). For \lambda_k = 0 the column is
    u_k/(ab), so with Z the zero eigenvalues, H the other r and v = Q_Z u_Z once per month,
    Q W_{:j} = Q_H W_{Hj} + v/(a b_j), and its squared norm needs only the Gram matrix
    G = Q_H^T Q_H (r x r, once per system), z = Q_H^T v and v^T v:

    .. math:: \|QW_{:j}\|^2 = w^T G w + \frac{2\, z^T w}{a b_j} + \frac{v^T v}{(a b_j)^2},\quad w = W_{Hj},

    O(r²) a column instead of O(m r) (HMA default, whole fit: 0.9 s for the bias norms of the 13
    systems against 4.7 s for the products Q W). The Gram route is taken when r <= m/2 and the
    request carries a (``alpha_xi``); otherwise the squared norms of the full products Q W.
    """

    def __init__(self, solver, U):
        self.Q, self.lam = solver.Q, solver.eigenvalues
        m = self.lam.size
        zero, self.head = mode_split(self.lam)
        r = self.lam[self.head].size
        self.gram = 0 < r <= m // 2
        if self.gram:
            QH = self.Q[:, self.head]
            self.G = QH.T @ QH
            v = self.Q[:, zero] @ U[:, zero].T  # (m, months)
            self.z, self.vv = QH.T @ v, np.einsum("ij,ij->j", v, v)

    def __call__(self, months, requests):
        """||Q W||² of the columns of every request (``months[i]`` is the month of ``requests[i]``)."""
        gram = [self.gram and r.alpha_xi is not None for r in requests]
        out = [None] * len(requests)
        for flag in (True, False):
            idx = [i for i, f in enumerate(gram) if f == flag]
            if not idx:
                continue
            if flag:
                W = np.concatenate([requests[i].columns(self.lam, self.head) for i in idx], axis=1)
                g = np.einsum("ij,ij->j", W, self.G @ W)
            else:
                B = self.Q @ np.concatenate([requests[i].columns(self.lam) for i in idx], axis=1)
                g = np.einsum("ij,ij->j", B, B)
            o = 0
            for i in idx:
                r, w = requests[i], requests[i].alphas.size
                gi = g[o:o + w]
                if flag:
                    k, c = months[i], 1.0 / (r.alpha_xi * r.alphas)
                    gi = gi + 2 * c * (self.z[:, k] @ W[:, o:o + w]) + c**2 * self.vv[k]
                out[i] = gi
                o += w
        return out
