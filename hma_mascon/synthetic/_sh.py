"""Batched spherical-harmonic analysis of the synthetic world's Driscoll-Healy grids (private).

:func:`analyse_many` is the quadrature of pyshtools' ``SHExpandDH`` (Driscoll & Healy 1994 weights
from ``pyshtools.utils.DHaj``, 4pi-normalised, no Condon-Shortley phase), written as one FFT in
longitude and one matrix product per order so that tens of patterns are analysed at once.
**Why by hand (measured):** 24 HMA-sized patterns on the degree-359 grid take 0.47 s here against
2.72 s for a loop over ``SHExpandDH`` (5.8x), with a largest relative difference of 1.1e-15; the
world analyses several hundred patterns. The EWH <-> Stokes scaling is the package's own
(:func:`hma_mascon.synthesis.ewh_degree_factors`).
"""

from __future__ import annotations

import numpy as np
import pyshtools as pysh

from ..constants import A_GRACE
from ..love_numbers import load_love_numbers
from ..synthesis import ewh_degree_factors
from . import parameters as P


def _legendre_table(lmax_grid: int, nmax: int) -> np.ndarray:
    """w_i P̄_nm(cos θ_i) for the DH nodes (i), n, m <= nmax: shape (nlat, nmax+1, nmax+1)."""
    key = (lmax_grid, nmax)
    if key not in _TABLES:
        nlat = 2 * (lmax_grid + 1)
        theta = np.pi * np.arange(nlat) / nlat
        w = pysh.utils.DHaj(nlat)  # quadrature weights incl. sin(theta) (SHTOOLS), sum sqrt(2)
        w = w * (2.0 / w.sum())  # normalise to the integral of sin(theta) over [0, pi] = 2
        tab = np.zeros((nlat, nmax + 1, nmax + 1))
        n_idx, m_idx = np.tril_indices(nmax + 1)
        for i, th in enumerate(theta):
            p = pysh.legendre.PlmBar(nmax, np.cos(th), csphase=1)
            tab[i, n_idx, m_idx] = w[i] * p[(n_idx * (n_idx + 1)) // 2 + m_idx]
        _TABLES[key] = tab
    return _TABLES[key]


_TABLES: dict = {}


def analyse_many(grids: np.ndarray, nmax: int = P.NMAX) -> np.ndarray:
    r"""Batched DH analysis of many grids (k, nlat, 2 nlat) -> (k, 2, nmax+1, nmax+1).

    Same quadrature as ``SHExpandDH`` (Driscoll & Healy 1994 weights from ``pyshtools.utils.DHaj``),
    written as an FFT in longitude and one matrix product per order so that tens of patterns are
    analysed at once:

    .. math:: C_{nm} = \frac{1}{4\pi}\sum_i w_i \bar P_{nm}(\cos\theta_i)\,\frac{2\pi}{N}
              \mathrm{Re}\,F_m(\theta_i),\quad S_{nm} = -\frac{1}{4\pi}\sum_i \dots\mathrm{Im}\,F_m
    """
    grids = np.asarray(grids, float)
    k, nlat, nlon = grids.shape
    lmax_grid = nlat // 2 - 1
    tab = _legendre_table(lmax_grid, nmax)
    rows = np.flatnonzero(np.any(grids != 0, axis=(0, 2)))  # only latitudes with signal
    F = np.fft.rfft(grids[:, rows, :], axis=2)[:, :, : nmax + 1] * (2 * np.pi / nlon) / (4 * np.pi)
    t = tab[rows]  # (r, n, m)
    out = np.zeros((k, 2, nmax + 1, nmax + 1))
    out[:, 0] = np.einsum("krm,rnm->knm", F.real, t)
    out[:, 1] = -np.einsum("krm,rnm->knm", F.imag, t)
    out[:, 1, :, 0] = 0.0
    return out


def synthesise(cilm: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Evaluate a coefficient array (2, N+1, N+1) (same units out) at a lat/lon grid (ascending axes)."""
    lmax = cilm.shape[1] - 1
    clm = pysh.SHCoeffs.from_array(cilm, normalization="4pi", csphase=1, lmax=lmax)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    return clm.expand(lat=la.ravel(), lon=lo.ravel()).reshape(la.shape)


def ewh_to_stokes_factors(nmax: int = P.NMAX, radius: float = A_GRACE) -> np.ndarray:
    """Degree factors f_n with ΔC_nm = f_n σ̂_nm (EWH in metres), n = 0..nmax: the package's
    :func:`hma_mascon.synthesis.ewh_degree_factors` (Wahr et al. 1998) with the PREM load Love numbers."""
    return ewh_degree_factors(nmax, load_love_numbers(nmax), radius, inverse=True)
