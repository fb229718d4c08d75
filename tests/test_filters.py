"""Gaussian, DDK and destriping filters."""

import numpy as np
import pytest
from scipy.special import eval_legendre

from hma_mascon import filters
from hma_mascon.constants import R_GAUSSIAN


def test_gaussian_checkpoints():
    w = filters.gaussian_weights(96, 200.0)
    assert w[0] == 1.0
    assert w[20] == pytest.approx(0.861, abs=5e-4)
    assert w[60] == pytest.approx(0.272, abs=5e-4)
    assert w[96] == pytest.approx(0.0365, abs=5e-5)
    assert np.all(np.diff(w) < 0)
    np.testing.assert_array_equal(filters.gaussian_weights(50, 0.0), np.ones(51))


def test_gaussian_equals_legendre_transform_of_kernel():
    # independent path: W_n = 2 pi int W(psi) P_n(cos psi) sin psi dpsi of the Jekeli kernel
    r = 300.0
    b = np.log(2) / (1 - np.cos(r * 1e3 / R_GAUSSIAN))
    x, wq = np.polynomial.legendre.leggauss(400)
    z = 1 - (x + 1) / 2 * 0.05  # kernel negligible beyond 1 - cos psi = 0.05
    jac = 0.05 / 2
    kern = b * np.exp(-b * (1 - z)) / (1 - np.exp(-2 * b))
    n = np.arange(61)
    ref = np.array([np.sum(wq * jac * kern * eval_legendre(k, z)) for k in n])
    np.testing.assert_allclose(filters.gaussian_weights(60, r), ref, rtol=1e-9, atol=1e-12)


def test_gaussian_clamp():
    w = filters.gaussian_weights(400, 500.0)
    assert np.all(w >= 1e-10) and np.all(np.isfinite(w))
    assert w[-1] == 1e-10


def test_ddk_structure_and_ordering():
    ddk = {lvl: filters.ddk_filter(lvl, 60) for lvl in (1, 5, 8)}
    rng = np.random.default_rng(0)
    C = np.tril(rng.standard_normal((61, 61)))
    S = np.tril(rng.standard_normal((61, 61)))
    S[:, 0] = 0
    out = {lvl: f.apply(C, S) for lvl, f in ddk.items()}
    for Cf, Sf in out.values():
        # degrees 0 and 1 unchanged, order m=0 of S stays 0
        np.testing.assert_array_equal(Cf[:2], C[:2])
        np.testing.assert_array_equal(Sf[:2], S[:2])
        assert np.all(Sf[:, 0] == 0)
    # DDK1 smooths more than DDK5 more than DDK8 (power removed at high degrees)
    hi = lambda cs: np.sum(cs[0][40:] ** 2 + cs[1][40:] ** 2)  # noqa: E731
    assert hi(out[1]) < hi(out[5]) < hi(out[8]) < np.sum(C[40:] ** 2 + S[40:] ** 2)
    # truncation: filtering a field to degree 40 with the nmax-60 blocks = the nmax-40 filter
    a = ddk[5].apply(C[:41, :41], S[:41, :41])
    b = filters.ddk_filter(5, 40).apply(C[:41, :41], S[:41, :41])
    np.testing.assert_allclose(a[0], b[0], rtol=0, atol=1e-14)


def test_ddk_limits_of_alpha():
    C = np.tril(np.ones((31, 31)))
    S = np.tril(np.ones((31, 31)))
    S[:, 0] = 0
    f0 = filters.ddk_filter(1, 30, alpha=1e-30)  # no regularisation -> identity
    Cf, Sf = f0.apply(C, S)
    np.testing.assert_allclose(Cf, C, atol=1e-8)
    finf = filters.ddk_filter(1, 30, alpha=1e40)  # infinite regularisation -> kills n >= 2
    Cf, Sf = finf.apply(C, S)
    assert np.abs(Cf[2:]).max() < 1e-6 and np.abs(Sf[2:]).max() < 1e-6


def test_restricted_unpickler_refuses_code():
    import io
    import pickle

    payload = pickle.dumps(print)  # a global that is not a numpy array constructor
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        filters._NumpyOnlyUnpickler(io.BytesIO(payload)).load()


def _read_ddk_test_file(path):
    lines = path.read_text().splitlines()
    nmax = int(lines[0].split()[1])
    arr = np.zeros((4, nmax + 1, nmax + 1))
    for line in lines[1:]:
        t = line.split()
        n, m = int(t[0]), int(t[1])
        arr[:, n, m] = [float(v) for v in t[2:6]]
    return arr


@pytest.mark.realdata
def test_ddk2_reproduces_official_reference(data_dir):
    base = data_dir / "ddk" / "test_GSM-2_2008122-2008153_0030_EIGEN_G---_0004"
    inp = _read_ddk_test_file(base.parent / (base.name + "in"))
    ref = _read_ddk_test_file(base.parent / (base.name + "out_DDK2"))
    Cf, Sf = filters.apply_ddk(inp[0], inp[1], 2)
    rel = np.sqrt(np.sum((Cf - ref[0]) ** 2 + (Sf - ref[1]) ** 2) / np.sum(ref[0] ** 2 + ref[1] ** 2))
    assert rel < 1e-9
    # the filter is specific: DDK3 misses by percent
    C3, S3 = filters.apply_ddk(inp[0], inp[1], 3)
    rel3 = np.sqrt(np.sum((C3 - ref[0]) ** 2 + (S3 - ref[1]) ** 2) / np.sum(ref[0] ** 2 + ref[1] ** 2))
    assert rel3 > 1e-2
    # reference sigmas are propagated as sqrt(W^2 sigma^2)
    sc, ss = filters.ddk_filter(2, 120).propagate_sigma(inp[2], inp[3])
    assert np.abs(sc - ref[2]).max() / np.abs(ref[2]).max() < 1e-9


def test_apply_ddk_dataset():
    stokes = pytest.importorskip("hma_mascon.stokes")
    rng = np.random.default_rng(3)
    C = rng.standard_normal((2, 31, 31))
    S = rng.standard_normal((2, 31, 31))
    ds = stokes.make_stokes_dataset(C, S, sigma_C=np.abs(C), sigma_S=np.abs(S),
                                    time_start=["2005-01-01", "2005-02-01"], time_end=["2005-02-01", "2005-03-01"],
                                    GM=3.986004415e14, radius=6378136.3)
    out = filters.apply_ddk(ds, 5)
    Cf, Sf = filters.apply_ddk(np.nan_to_num(ds["C"].values), ds["S"].values, 5)
    np.testing.assert_allclose(np.nan_to_num(out["C"].values), np.where(np.isnan(ds["C"].values), 0, Cf))
    assert np.isnan(out["C"].values[0, 3, 5]) and "DDK5" in out.attrs["history"]
    g = filters.apply_gaussian(ds, 200.0)
    w = filters.gaussian_weights(30, 200.0)
    np.testing.assert_allclose(g["C"].values[1, :, 0], ds["C"].values[1, :, 0] * w)


def test_destripe_removes_smooth_stripes_only():
    N = 60
    n = np.arange(N + 1)[:, None] * np.ones((1, N + 1))
    # stripes: per order, even and odd degrees follow different quadratics in n
    stripe = np.where(n % 2 == 0, 1e-10 * (1 + 0.01 * n**2), -2e-10 * (1 - 0.02 * n))
    stripe = np.tril(stripe)
    Cd, Sd = filters.destripe_swenson_wahr(stripe, stripe, m_start=5)
    # quadratic per parity removed exactly (where each parity has > 3 degrees, i.e. m <= N - 6)
    np.testing.assert_allclose(Cd[:, 5 : N - 5], 0, atol=1e-20)
    np.testing.assert_array_equal(Cd[:, :5], stripe[:, :5])  # low orders untouched
    # an isolated spike (not smooth in n) survives mostly
    spike = np.zeros((N + 1, N + 1))
    spike[40, 10] = 1.0
    Cd, _ = filters.destripe_swenson_wahr(spike, spike)
    assert 0.5 < Cd[40, 10] < 1.0
