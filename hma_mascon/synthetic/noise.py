"""GRACE-like correlated coefficient errors (north-south stripes).

Per-coefficient standard deviation (4pi-normalised Stokes coefficients), log-linear in degree and
larger for near-zonal orders (polar orbit geometry):

.. math:: \\sigma_{nm} = \\sigma_{lo}\\,(\\sigma_{hi}/\\sigma_{lo})^{(n-2)/94}\\,[1 + b(1 - m/n)].

Within each order m, trigonometric type (C/S) and degree parity, the errors are correlated across
degrees, :math:`\\mathrm{corr}(n, n') = \\rho\\,e^{-|n-n'|/(2\\ell)} + (1-\\rho)\\delta_{nn'}`; this
correlation of same-parity coefficients is what the DDK filters decorrelate (Kusche 2007) and what
makes the stripes of unfiltered GRACE maps (Swenson & Wahr 2006). Each month's draw is scaled by a
per-month factor (:data:`parameters.NOISE_MONTH_FACTORS` x lognormal scatter), and the same
sigma_nm x factor are written as the files' formal sigmas. Hand-written numpy (Cholesky per block).
"""

from __future__ import annotations

import numpy as np

from . import parameters as P


def degree_sigma(nmax: int = P.NMAX) -> np.ndarray:
    """sigma_nm (nmax+1, nmax+1) of one coefficient (C or S), 0 for n < 2 and m > n."""
    n = np.arange(nmax + 1, dtype=float)[:, None]
    m = np.arange(nmax + 1, dtype=float)[None, :]
    base = P.NOISE_SIGMA_LOW * (P.NOISE_SIGMA_HIGH / P.NOISE_SIGMA_LOW) ** ((n - 2) / 94.0)
    sig = base * (1.0 + P.NOISE_ORDER_BOOST * (1.0 - m / np.maximum(n, 1)))
    sig[(m > n) | (n < 2)] = 0.0
    return sig


def real_noise_factor(nmax: int = P.NMAX) -> np.ndarray:
    """Factor (nmax+1,) per degree of the ``"real"`` noise level (the default) over the ``"low"`` one:
    :data:`parameters.NOISE_REAL_KNOTS` interpolated linearly in degree (held constant beyond the end
    knots)."""
    n, f = np.asarray(P.NOISE_REAL_KNOTS, float).T
    return np.interp(np.arange(nmax + 1, dtype=float), n, f)


def real_noise_era_factor(months) -> np.ndarray:
    """Factor per month of the ``"real"`` noise level: :data:`parameters.NOISE_REAL_GRACEFO`'s factor
    from its first month on (GRACE-FO is quieter than GRACE), 1 before."""
    first, factor = P.NOISE_REAL_GRACEFO
    return np.where(np.asarray(months, dtype=str) >= first, float(factor), 1.0)


def month_factors(months, rng: np.random.Generator) -> np.ndarray:
    """Per-month sigma factor (worse early GRACE, end of GRACE, GRACE-FO start)."""
    labels = np.asarray(months, dtype=str)
    f = np.ones(labels.size)
    for first, last, factor in P.NOISE_MONTH_FACTORS:
        f[(labels >= first) & (labels <= last)] *= factor
    return f * rng.lognormal(0.0, P.NOISE_MONTH_SCATTER, size=labels.size)


def _chol(k: int) -> np.ndarray:
    i = np.arange(k)
    c = P.NOISE_CORRELATED_FRACTION * np.exp(-np.abs(i[:, None] - i[None, :]) / P.NOISE_CORRELATION_LENGTH)
    c[i, i] = 1.0
    return np.linalg.cholesky(c)


def coefficient_noise(ntime: int, rng: np.random.Generator, nmax: int = P.NMAX) -> np.ndarray:
    """Unit-month-factor noise (ntime, 2, nmax+1, nmax+1) with the stated spectrum and correlation."""
    sig = degree_sigma(nmax)
    out = np.zeros((ntime, 2, nmax + 1, nmax + 1))
    chols: dict[int, np.ndarray] = {}
    for m in range(nmax + 1):
        for t in (0, 1) if m > 0 else (0,):
            for parity in (0, 1):
                deg = np.array([n for n in range(max(2, m), nmax + 1) if n % 2 == parity])
                if deg.size == 0:
                    continue
                L = chols.setdefault(deg.size, _chol(deg.size))
                z = rng.standard_normal((ntime, deg.size)) @ L.T
                out[:, t, deg, m] = z * sig[deg, m]
    return out
