"""Spectral filters for GRACE Stokes coefficients: Gaussian, DDK, Swenson-Wahr destriping.

METHODS.md section 10.7 (items 4-5). Coefficient arrays are ``C, S`` shaped
``(..., nmax+1, nmax+1)`` indexed ``[n, m]`` (4pi normalised); the xarray coefficient
container of :mod:`hma_mascon.stokes` is accepted as a convenience.

What does the work
------------------
* Gaussian: the Jekeli (1981) recursion, written by hand (ten lines; gravity-toolkit's
  ``gauss_weights`` uses another normalisation, W_0 = 1/(2 pi)).
* DDK (Kusche et al. 2009): the official filter matrices ``Wbd_2-120.a_*`` are not available
  offline. They are rebuilt here from the block-diagonal GRACE normal matrix that ships in the
  PyPI wheel of l3py 0.2 (``l3py/data/ddk_normals.npz``, MIT) with the official
  regularisation weights: :math:`W_m = (N_m + \\alpha\\,\\mathrm{diag}(n^4))^{-1} N_m` over
  degrees ``max(2, m)..120`` (like the official ``Wbd_2-120`` files), then truncated to the
  data's nmax; degrees 0 and 1 pass unchanged. The ``.npz`` holds a *pickled* object array;
  it is read with a restricted unpickler that admits only numpy array reconstruction (no
  arbitrary code), without importing l3py (its import fails on ``pkg_resources``). Linear
  algebra: numpy.
* Swenson & Wahr (2006) destriping: written by hand (vectorised moving-window polynomial
  fit) because gravity-toolkit's ``destripe_harmonics`` hard-codes its window and loops in
  pure Python.

References
----------
Jekeli, C. (1981), Alternative methods to smooth the Earth's gravity field, OSU Rep. 327.
Wahr, J., Molenaar, M. & Bryan, F. (1998), J. Geophys. Res. 103(B12), 30205-30229.
Kusche, J., Schmidt, R., Petrovic, S. & Rietbroek, R. (2009), J. Geod. 83, 903-913.
Swenson, S. & Wahr, J. (2006), Geophys. Res. Lett. 33, L08402.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import xarray as xr

from .constants import R_GAUSSIAN

#: Official DDK regularisation parameters alpha (Kusche et al. 2009; ICGEM / GRACE-filter).
DDK_ALPHA = {1: 1e14, 2: 1e13, 3: 1e12, 4: 5e11, 5: 1e11, 6: 5e10, 7: 1e10, 8: 5e9}

#: Maximum degree of the DDK normal matrix.
DDK_NMAX = 120


# --------------------------------------------------------------------------- Gaussian
def gaussian_weights(nmax: int, radius_km: float = 200.0, clamp: float = 1e-10) -> np.ndarray:
    r"""Gaussian smoothing weights :math:`W_n` (Jekeli 1981, normalised :math:`W_0 = 1`).

    .. math::
        b = \frac{\ln 2}{1 - \cos(r_G/R)},\quad
        W_1 = \frac{1 + e^{-2b}}{1 - e^{-2b}} - \frac{1}{b},\quad
        W_{n+1} = -\frac{2n+1}{b} W_n + W_{n-1},

    with R = 6371 km and :math:`r_G` the half-weight radius. The upward recursion is unstable
    for large n: once :math:`W_n` falls below ``clamp`` it and all higher weights are set to
    ``clamp`` (METHODS.md 10.7.5).

    Parameters
    ----------
    nmax : int
    radius_km : float
        Half-weight radius [km]; 0 gives all ones (no smoothing).
    clamp : float

    Returns
    -------
    numpy.ndarray, shape (nmax+1,)
    """
    nmax = int(nmax)
    if radius_km < 0:
        raise ValueError(f"Gaussian radius must be >= 0 km, got {radius_km}")
    w = np.ones(nmax + 1)
    if radius_km == 0 or nmax == 0:
        return w
    b = np.log(2.0) / (1.0 - np.cos(radius_km * 1e3 / R_GAUSSIAN))
    e = np.exp(-2.0 * b)
    w[1] = (1.0 + e) / (1.0 - e) - 1.0 / b
    for n in range(1, nmax):
        if w[n] < clamp:
            w[n:] = clamp
            break
        w[n + 1] = -(2 * n + 1) / b * w[n] + w[n - 1]
    if w[nmax] < clamp:
        w[nmax] = clamp
    return w


# --------------------------------------------------------------------------- DDK
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that admits only what numpy needs to rebuild plain arrays."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            if name == "_reconstruct":
                return np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own _reconstruct
            return getattr(np, name)
        raise pickle.UnpicklingError(f"refused to unpickle {module}.{name}: only numpy arrays are allowed")


def ddk_normals_path() -> Path:
    """Path of ``ddk_normals.npz`` inside the installed l3py wheel (l3py is not imported)."""
    spec = importlib.util.find_spec("l3py")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package l3py (0.2) is not installed: it ships the DDK normal matrix")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "ddk_normals.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: DDK normal matrix not found in the l3py installation")
    return path


@functools.lru_cache(maxsize=1)
def load_ddk_normals(path: str | None = None) -> tuple[np.ndarray, ...]:
    """The 241 order-wise blocks of the GRACE normal matrix (d/o 120), read safely.

    Block 0 is C of order 0 (degrees 0..120); block 2m-1 is C of order m and block 2m is S
    of order m (degrees m..120).
    """
    path = Path(path) if path is not None else ddk_normals_path()
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        if "arr_0.npy" not in names:
            raise ValueError(f"{path}: expected member arr_0.npy, found {names}")
        raw = zf.read("arr_0.npy")
    f = io.BytesIO(raw)
    version = np.lib.format.read_magic(f)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _fortran, dtype = reader(f)
    if dtype != np.dtype(object) or len(shape) != 1:
        raise ValueError(f"{path}: expected a 1-D object array of blocks, found {dtype} {shape}")
    blocks = _NumpyOnlyUnpickler(f).load()
    nmax = DDK_NMAX
    if len(blocks) != 2 * nmax + 1:
        raise ValueError(f"{path}: expected {2 * nmax + 1} blocks, found {len(blocks)}")
    out = []
    for i, blk in enumerate(blocks):
        blk = np.asarray(blk, dtype=float)
        m = 0 if i == 0 else (i + 1) // 2
        size = nmax + 1 - m
        if blk.shape != (size, size):
            raise ValueError(f"{path}: block {i} has shape {blk.shape}, expected {(size, size)}")
        blk.setflags(write=False)
        out.append(blk)
    return tuple(out)


class DDKFilter:
    """Block-diagonal DDK filter: one matrix per order and trigonometric type.

    Attributes
    ----------
    level : int
    alpha : float
    nmax : int
        Degree to which the blocks are truncated.
    blocks_C, blocks_S : list of numpy.ndarray
        ``blocks_C[m]`` acts on ``C[n0:nmax+1, m]`` with ``n0 = max(2, m)``; ``blocks_S[0]``
        is ``None``.
    """

    def __init__(self, level: int, alpha: float, nmax: int, blocks_C, blocks_S):
        self.level, self.alpha, self.nmax = level, alpha, nmax
        self.blocks_C, self.blocks_S = blocks_C, blocks_S

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return f"DDKFilter(DDK{self.level}, alpha={self.alpha:g}, nmax={self.nmax})"

    def apply(self, C, S):
        """Filter ``C, S`` of shape ``(..., N+1, N+1)`` with N <= nmax; returns new arrays."""
        C = np.asarray(C, dtype=float)
        S = np.asarray(S, dtype=float)
        N = C.shape[-1] - 1
        if C.shape[-2:] != (N + 1, N + 1) or S.shape != C.shape:
            raise ValueError(f"C and S must have the same shape (..., N+1, N+1); got {C.shape}, {S.shape}")
        if N > self.nmax:
            raise ValueError(f"coefficients to degree {N} exceed the DDK filter's nmax {self.nmax}")
        Cf, Sf = C.copy(), S.copy()
        for m in range(N + 1):
            n0 = max(2, m)
            if n0 > N:
                break
            k = N + 1 - n0
            W = self.blocks_C[m][:k, :k]
            Cf[..., n0:, m] = np.einsum("ij,...j->...i", W, np.nan_to_num(C[..., n0:, m]))
            if m > 0:
                W = self.blocks_S[m][:k, :k]
                Sf[..., n0:, m] = np.einsum("ij,...j->...i", W, np.nan_to_num(S[..., n0:, m]))
        return Cf, Sf

    def propagate_sigma(self, sigma_C, sigma_S):
        """Formal sigmas after filtering, sqrt(diag(W diag(sigma^2) W^T)) (no correlations)."""
        vc, vs = self.apply(np.square(sigma_C), np.square(sigma_S))  # shape check only
        sC = np.asarray(sigma_C, dtype=float)
        sS = np.asarray(sigma_S, dtype=float)
        N = sC.shape[-1] - 1
        oc, os_ = sC.copy(), sS.copy()
        for m in range(N + 1):
            n0 = max(2, m)
            if n0 > N:
                break
            k = N + 1 - n0
            W = self.blocks_C[m][:k, :k]
            oc[..., n0:, m] = np.sqrt(np.einsum("ij,...j->...i", W**2, np.nan_to_num(sC[..., n0:, m]) ** 2))
            if m > 0:
                W = self.blocks_S[m][:k, :k]
                os_[..., n0:, m] = np.sqrt(np.einsum("ij,...j->...i", W**2, np.nan_to_num(sS[..., n0:, m]) ** 2))
        del vc, vs
        return oc, os_


@functools.lru_cache(maxsize=16)
def ddk_filter(level: int, nmax: int = 96, alpha: float | None = None) -> DDKFilter:
    r"""Build (and cache) the DDK filter of a given level from the l3py normal matrix.

    For each order m and type t (C, or S if m >= 1), with :math:`N_{m,t}` the normal-matrix
    block over degrees :math:`n = \max(2, m) .. 120`,

    .. math:: W_{m,t} = (N_{m,t} + \alpha\,\mathrm{diag}(n^4))^{-1} N_{m,t},

    which is then truncated to degrees <= ``nmax`` (leading sub-block), as the official
    ``Wbd_2-120`` files are. Degrees 0 and 1 pass unchanged.

    Parameters
    ----------
    level : int
        1..8 (DDK1 strongest .. DDK8 weakest); alphas in :data:`DDK_ALPHA`.
    nmax : int
        Truncation degree (<= 120).
    alpha : float, optional
        Override the official alpha (for tests).
    """
    level = int(level)
    if alpha is None:
        if level not in DDK_ALPHA:
            raise ValueError(f"DDK level must be one of {sorted(DDK_ALPHA)}, got {level}")
        alpha = DDK_ALPHA[level]
    nmax = int(nmax)
    if not 2 <= nmax <= DDK_NMAX:
        raise ValueError(f"DDK nmax must be within 2..{DDK_NMAX}, got {nmax}")
    normals = load_ddk_normals()
    deg = np.arange(DDK_NMAX + 1, dtype=float)
    blocks_C, blocks_S = [], [None]
    for m in range(nmax + 1):
        n0 = max(2, m)
        types = [0] if m == 0 else [2 * m - 1, 2 * m]
        for t, idx in enumerate(types):
            Nb = normals[idx]
            start = n0 - (0 if m == 0 else m)  # row of degree n0 inside the block
            Nm = Nb[start:, start:]
            W = np.linalg.solve(Nm + alpha * np.diag(deg[n0:] ** 4), Nm)
            W = np.ascontiguousarray(W[: nmax + 1 - n0, : nmax + 1 - n0])
            W.setflags(write=False)
            (blocks_C if t == 0 else blocks_S).append(W)
    return DDKFilter(level, float(alpha), nmax, blocks_C, blocks_S)


def apply_ddk(C, S=None, level: int = 5):
    """Apply DDK``level`` to Stokes coefficients.

    Parameters
    ----------
    C, S : array_like, shape (..., N+1, N+1)
        Or ``C`` an xarray coefficient container (then ``S`` may be omitted, or given as the
        level: ``apply_ddk(ds, 5)``), see :func:`apply_ddk_dataset`.
    level : int

    Returns
    -------
    (Cf, Sf) for arrays; a filtered copy of the container for a Dataset.
    """
    if isinstance(C, xr.Dataset):
        if S is not None:
            level = int(S)
        return apply_ddk_dataset(C, level)
    if S is None:
        raise TypeError("apply_ddk needs both C and S arrays (or one coefficient container)")
    N = np.asarray(C).shape[-1] - 1
    return ddk_filter(level, max(N, 2)).apply(C, S)


def apply_ddk_dataset(ds: xr.Dataset, level: int = 5) -> xr.Dataset:
    """DDK-filter a coefficient container; sigmas propagated without correlations; history appended."""
    N = ds.sizes["degree"] - 1
    flt = ddk_filter(level, max(N, 2))
    mask = ds["order"].values[None, :] > ds["degree"].values[:, None]
    out = ds.copy()
    Cf, Sf = flt.apply(ds["C"].values, ds["S"].values)
    Cf[..., mask] = np.nan
    Sf[..., mask] = np.nan
    out["C"] = ds["C"].copy(data=Cf)
    out["S"] = ds["S"].copy(data=Sf)
    if "sigma_C" in ds and "sigma_S" in ds:
        sc, ss = flt.propagate_sigma(ds["sigma_C"].values, ds["sigma_S"].values)
        sc[..., mask] = np.nan
        ss[..., mask] = np.nan
        out["sigma_C"] = ds["sigma_C"].copy(data=sc)
        out["sigma_S"] = ds["sigma_S"].copy(data=ss)
    out.attrs = dict(ds.attrs)
    _append_history(out, f"DDK{level} filter (alpha={flt.alpha:g}, Kusche et al. 2009, l3py normals)")
    return out


def apply_gaussian(C, S=None, radius_km: float = 200.0):
    """Multiply coefficients by Gaussian weights W_n; arrays -> (Cf, Sf); container -> container."""
    if isinstance(C, xr.Dataset):
        if S is not None:
            radius_km = float(S)
        N = C.sizes["degree"] - 1
        w = xr.DataArray(gaussian_weights(N, radius_km), dims=("degree",), coords={"degree": C["degree"]})
        out = C.copy()
        for v in ("C", "S", "sigma_C", "sigma_S"):
            if v in C:
                out[v] = C[v] * w
        out.attrs = dict(C.attrs)
        _append_history(out, f"Gaussian filter {radius_km:g} km (Jekeli 1981)")
        return out
    N = np.asarray(C).shape[-1] - 1
    w = gaussian_weights(N, radius_km)[:, None]
    return np.asarray(C) * w, np.asarray(S) * w


def _append_history(ds: xr.Dataset, step: str) -> None:
    old = ds.attrs.get("history", "")
    ds.attrs["history"] = f"{old}; {step}" if old else step


# --------------------------------------------------------------------------- destriping
def destripe_swenson_wahr(
    C,
    S,
    m_start: int = 5,
    n_start: int = 2,
    poly_degree: int = 2,
    window_A: float = 30.0,
    window_K: float = 10.0,
    window_min: int = 5,
):
    r"""Swenson & Wahr (2006) destriping: remove the part smooth in n per order and parity.

    For every order :math:`m \ge` ``m_start`` and separately for even and odd degrees
    :math:`n \ge \max(m, n_{start})`, a polynomial of degree ``poly_degree`` in n is fitted by
    least squares to the coefficients inside a moving window centred on n, and its value at n
    (the correlated "stripe") is subtracted. The window holds
    :math:`w = \max(\mathrm{round}(A\,e^{-m/K}) + 1, w_{min})` coefficients of the same parity
    (A = 30, K = 10, :math:`w_{min}` = 5 by default, after Swenson & Wahr 2006 and Duan et
    al. 2009). Near the ends of a sequence the window is shifted to stay inside it; sequences
    shorter than the window are fitted as a whole; sequences of at most ``poly_degree``
    coefficients and orders below ``m_start`` pass unchanged.

    Parameters
    ----------
    C, S : array_like, shape (..., N+1, N+1)
    m_start, n_start, poly_degree : int
    window_A, window_K : float
    window_min : int

    Returns
    -------
    (Cd, Sd) : numpy.ndarray
    """
    C = np.asarray(C, dtype=float)
    S = np.asarray(S, dtype=float)
    if C.shape != S.shape or C.shape[-1] != C.shape[-2]:
        raise ValueError(f"C and S must have the same shape (..., N+1, N+1); got {C.shape}, {S.shape}")
    N = C.shape[-1] - 1
    Cd, Sd = C.copy(), S.copy()
    for m in range(max(m_start, 0), N + 1):
        w = max(int(np.round(window_A * np.exp(-m / window_K))) + 1, int(window_min))
        for parity in (0, 1):
            ns = np.arange(max(m, n_start), N + 1)
            ns = ns[ns % 2 == parity]
            L = ns.size
            if L <= poly_degree:
                continue
            win = min(w, L)
            # smoothing operator: row i gives the fitted value at ns[i]
            F = np.zeros((L, L))
            for i in range(L):
                lo = min(max(i - win // 2, 0), L - win)
                idx = np.arange(lo, lo + win)
                x = (ns[idx] - ns[i]).astype(float)
                V = np.vander(x, poly_degree + 1, increasing=True)
                # value at x=0 of the LS polynomial: first row of pinv(V)
                F[i, idx] = np.linalg.pinv(V)[0]
            for A, Ad in ((C, Cd), (S, Sd)):
                seq = np.nan_to_num(A[..., ns, m])
                Ad[..., ns, m] = seq - np.einsum("ij,...j->...i", F, seq)
    return Cd, Sd
