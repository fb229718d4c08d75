"""Tests of hma_mascon.noise_model: empirical coefficient errors recover known noise."""

import numpy as np
import pytest
import xarray as xr

from hma_mascon.noise_model import (
    calibrate_sigmas,
    empirical_coefficient_sigma,
    monthly_noise_factor,
    six_term_residual_rms,
    smooth_over_degree,
)

NMAX = 20


def _series(seed=0, ntime=200, noise_grace=None, noise_fo=None, split=140, formal_scale=0.2):
    """Container with a large seasonal + trend signal and white noise of known sigma per coefficient."""
    rng = np.random.default_rng(seed)
    deg = np.arange(NMAX + 1)
    months = np.arange(ntime)
    t = 2002.3 + (months + 0.5) / 12.0
    tri = deg[None, :] <= deg[:, None]
    # noise sigma grows with degree (like GRACE); different level per mission era
    base = 1e-11 * (1.0 + (deg[:, None] / 10.0) ** 2) * np.ones((1, NMAX + 1))
    sig_g = base if noise_grace is None else noise_grace
    sig_f = 2.5 * base if noise_fo is None else noise_fo
    mission = np.where(months < split, "GRACE", "GRACE-FO")
    sig_t = np.where((mission == "GRACE")[:, None, None], sig_g[None], sig_f[None])
    w = 2 * np.pi * (t - 2012.0)
    amp = rng.normal(size=(6, NMAX + 1, NMAX + 1)) * 20 * base[None]  # signal 20x the noise
    X = np.stack([np.ones_like(t), t - 2012, np.cos(w), np.sin(w), np.cos(2 * w), np.sin(2 * w)], 1)
    signal = np.einsum("tk,knm->tnm", X, amp)
    C = signal + rng.normal(size=signal.shape) * sig_t
    S = np.einsum("tk,knm->tnm", X, amp[::-1]) + rng.normal(size=signal.shape) * sig_t
    S[:, :, 0] = 0
    nan = np.where(tri, 1.0, np.nan)[None]
    ds = xr.Dataset(
        {"C": (("time", "degree", "order"), C * nan), "S": (("time", "degree", "order"), S * nan),
         "sigma_C": (("time", "degree", "order"), formal_scale * sig_t * nan),
         "sigma_S": (("time", "degree", "order"), formal_scale * sig_t * nan)},
        coords={"time": np.datetime64("2002-04-15") + (months * 30.44).astype("timedelta64[D]"),
                "degree": deg, "order": deg, "decimal_year": ("time", t), "mission": ("time", mission)},
        attrs={"history": "synthetic", "product": "test"},
    )
    ds["S"][:, :, 0] = xr.where(ds["degree"] >= 0, 0.0, 0.0)
    return ds, sig_t, tri


def test_six_term_rms_recovers_white_noise_under_large_seasonal_signal():
    rng = np.random.default_rng(1)
    t = 2003 + np.arange(240) / 12
    sigma = 0.7
    y = 50 + 3 * (t - 2003) + 40 * np.cos(2 * np.pi * t) - 25 * np.sin(4 * np.pi * t)
    Y = y[:, None] + rng.normal(scale=sigma, size=(240, 500))
    rms = six_term_residual_rms(t, Y)
    assert abs(np.mean(rms) / sigma - 1) < 0.02
    # without the noise the residual vanishes: the model spans the signal
    assert np.all(six_term_residual_rms(t, np.repeat(y[:, None], 3, 1)) < 1e-9 * np.abs(y).max())


def test_six_term_rms_sees_unmodelled_signal():
    """An interannual signal is not in the model: the estimate is conservative (larger), never smaller."""
    t = 2003 + np.arange(240) / 12
    y = np.sin(2 * np.pi * t / 5.0)  # 5-yr period, amplitude 1
    assert six_term_residual_rms(t, y[:, None])[0] > 0.3


@pytest.mark.parametrize("smooth", [0, 2])
def test_empirical_sigma_recovers_noise_per_mission(smooth):
    ds, sig_t, tri = _series()
    emp = empirical_coefficient_sigma(ds, per_mission=True, smooth=smooth)
    assert "GRACE (140 months)" in emp.attrs["eras"] and "GRACE-FO (60 months)" in emp.attrs["eras"]
    for k in (0, 150):  # one month per era
        est = emp["sigma_C"].values[k][tri]
        true = sig_t[k][tri]
        ratio = est / true
        # each coefficient within 10 % on the average; the median within 10 % per coefficient scatter
        assert abs(np.median(ratio) - 1) < 0.10
        if smooth:  # smoothing over 5 degrees shrinks the scatter of a single RMS
            assert np.std(np.log(ratio)) < np.std(np.log(
                empirical_coefficient_sigma(ds, smooth=0)["sigma_C"].values[k][tri] / true))
    # the GRACE-FO era is noisier by 2.5 and the estimate sees it
    ratio_eras = np.median(emp["sigma_C"].values[150][tri] / emp["sigma_C"].values[0][tri])
    assert 2.2 < ratio_eras < 2.8
    assert np.all(np.isnan(emp["sigma_C"].values[0][~tri]))
    assert np.all(emp["sigma_S"].values[:, :, 0][:, tri[:, 0]] == 0)


def test_pooled_estimate_mixes_eras():
    ds, sig_t, tri = _series()
    pooled = empirical_coefficient_sigma(ds, per_mission=False, smooth=0)
    r = np.median(pooled["sigma_C"].values[0][tri] / sig_t[0][tri])
    assert r > 1.3  # the noisier GRACE-FO months inflate the pooled GRACE estimate


def test_too_few_months_raises():
    ds, _, _ = _series(ntime=12, split=100)
    with pytest.raises(ValueError, match="at least 24 months"):
        empirical_coefficient_sigma(ds)


def test_smooth_over_degree_keeps_a_smooth_power_law():
    deg = np.arange(40)
    s = np.where(deg[None, :] <= deg[:, None], (1.0 + deg[:, None]) ** 1.0, np.nan)
    sm = smooth_over_degree(s, 2)
    inner = (deg[:, None] >= deg[None, :] + 2) & (deg[:, None] < 37) & (deg[:, None] >= 10)
    # geometric mean of a power law over a symmetric window equals it to second order
    assert np.allclose(sm[inner], s[inner], rtol=0.02)
    assert np.all(np.isnan(sm[~(deg[None, :] <= deg[:, None])]))


def test_calibrate_methods_and_history():
    ds, sig_t, tri = _series(formal_scale=0.2)
    formal = calibrate_sigmas(ds, "formal")
    assert np.array_equal(formal["sigma_C"].values, ds["sigma_C"].values, equal_nan=True)
    assert formal.attrs["history"].endswith("formal (as in the files)")
    emp = calibrate_sigmas(ds, "empirical", smooth=0)
    assert "empirical" in emp.attrs["history"]
    sc = calibrate_sigmas(ds, "scaled-formal", n_scale=5)
    # formal sigmas were 5x too small: the scale factor restores the level, keeps the pattern
    r = sc["sigma_C"].values[0][tri] / sig_t[0][tri]
    assert abs(np.median(r) - 1) < 0.1
    pattern = sc["sigma_C"].values[0][tri] / ds["sigma_C"].values[0][tri]
    assert np.allclose(pattern, pattern[0])
    assert "x5" in sc.attrs["history"] or "x4.9" in sc.attrs["history"] or "x5.0" in sc.attrs["history"]
    with pytest.raises(ValueError, match="method must be"):
        calibrate_sigmas(ds, "bogus")


def test_calibration_on_a_longer_record_is_mapped_by_mission():
    ds, sig_t, tri = _series()
    short = ds.isel(time=slice(130, 150))  # 10 GRACE + 10 GRACE-FO months
    out = calibrate_sigmas(short, "empirical", calibration=ds, smooth=0)
    full = empirical_coefficient_sigma(ds, smooth=0)
    assert np.allclose(out["sigma_C"].values[0][tri], full["sigma_C"].values[0][tri])
    assert np.allclose(out["sigma_C"].values[-1][tri], full["sigma_C"].values[-1][tri])


def test_monthly_noise_factor_flags_a_bad_month():
    ds, sig_t, tri = _series(seed=3)
    bad = 77
    rng = np.random.default_rng(9)
    extra = rng.normal(size=ds["C"].shape[1:]) * sig_t[bad] * np.sqrt(5.0**2 - 1)  # total noise 5x
    ds["C"].values[bad] += np.where(tri, extra, np.nan)
    ds["S"].values[bad, :, 1:] += np.where(tri, extra, np.nan)[:, 1:]
    emp = empirical_coefficient_sigma(ds, smooth=0)
    f = monthly_noise_factor(ds, emp, floor=None)
    assert 3.5 < f[bad] < 6.0  # the era sigma is itself inflated by the bad month
    others = np.delete(f, bad)
    assert np.all(others < 1.3) and abs(np.median(others) - 1) < 0.15
    assert np.all(monthly_noise_factor(ds, emp) >= 1.0)
    out = calibrate_sigmas(ds, "empirical")
    assert np.argmax(out["noise_factor"].values) == bad
    assert f"{str(ds['month'].values[bad]) if 'month' in ds.coords else bad}" in out.attrs["history"]


def test_hybrid_keeps_low_degrees_free_of_unmodelled_signal():
    """An interannual signal at n < 8 inflates the empirical sigma there; hybrid takes the scaled
    formal level (the noise) below n_scale and the empirical one above."""
    ds, sig_t, tri = _series(seed=5, formal_scale=0.2)
    t = ds["decimal_year"].values
    low = (np.arange(NMAX + 1) < 8)[:, None] & tri
    inter = np.sin(2 * np.pi * t / 4.3)[:, None, None] * 10 * sig_t * low[None]
    ds["C"].values[:] += inter
    emp = calibrate_sigmas(ds, "empirical", smooth=0)
    hyb = calibrate_sigmas(ds, "hybrid", smooth=0, n_scale=10)
    k = 0  # a GRACE month
    r_emp = emp["sigma_C"].values[k][low] / sig_t[k][low]
    r_hyb = hyb["sigma_C"].values[k][low] / sig_t[k][low]
    assert np.median(r_emp) > 4  # signal counted as noise
    assert abs(np.median(r_hyb) - 1) < 0.1  # the formal pattern at the calibrated level
    high = (np.arange(NMAX + 1) >= 10)[:, None] & tri
    assert np.allclose(hyb["sigma_C"].values[k][high], emp["sigma_C"].values[k][high])
    # never above the residual RMS (which bounds the noise from above)
    assert np.all(hyb["sigma_C"].values[k][tri] <= emp["sigma_C"].values[k][tri] * (1 + 1e-12))
    assert "hybrid" in hyb.attrs["history"] and "n >= 10" in hyb.attrs["history"]


def test_residual_degree_rms_of_white_noise_is_sigma_sqrt_2n_plus_1():
    """White noise of one sigma per coefficient (no signal): delta_n = sigma sqrt(2n+1); a six-term
    signal added on top is fitted away and changes nothing."""
    from hma_mascon.noise_model import residual_degree_rms
    from hma_mascon.stokes import make_stokes_dataset

    rng = np.random.default_rng(3)
    T, N, sigma = 120, 30, 2e-11
    C = np.tril(rng.normal(0, sigma, (T, N + 1, N + 1)))
    S = np.tril(rng.normal(0, sigma, (T, N + 1, N + 1)))
    S[:, :, 0] = 0.0
    months = np.datetime64("2004-01", "M") + np.arange(T + 1)
    start, end = months[:-1].astype("datetime64[D]"), months[1:].astype("datetime64[D]")
    ds = make_stokes_dataset(C, S, time_start=start, time_end=end, GM=3.986004415e14, radius=6378136.3)
    d = residual_degree_rms(ds)
    n = d["degree"].values
    expected = sigma * np.sqrt(2 * n + 1)  # C_n0..C_nn and S_n1..S_nn
    np.testing.assert_allclose(d.values, expected, rtol=0.08)
    t = ds["decimal_year"].values
    ds2 = ds.copy(deep=True)
    ds2["C"] = ds["C"] + 5e-10 * (t - t.mean())[:, None, None] + 3e-10 * np.cos(2 * np.pi * t)[:, None, None]
    np.testing.assert_allclose(residual_degree_rms(ds2).values, d.values, rtol=1e-6)


def test_difference_degree_rms_recovers_the_noise_of_each_series():
    """Two series with the same signal (trend, annual cycle and an interannual random walk that the
    six-term fit does not remove) and independent white errors of sigma: the residuals of each hold
    the signal's leftover, those of the difference / sqrt(2) only the noise, sigma sqrt(2n+1). The
    second series in other constants (GM, radius) is brought back first; the stated sigmas give the
    same curve."""
    from hma_mascon.noise_model import difference_degree_rms, residual_degree_rms, sigma_degree_rms
    from hma_mascon.stokes import make_stokes_dataset

    rng = np.random.default_rng(8)
    T, N, sigma = 150, 30, 2e-11
    months = np.datetime64("2004-01", "M") + np.arange(T + 1)
    start, end = months[:-1].astype("datetime64[D]"), months[1:].astype("datetime64[D]")
    walk = np.cumsum(rng.normal(0, 3 * sigma, (T, N + 1, N + 1)), axis=0)
    tril = np.tril(np.ones((N + 1, N + 1)))
    def series(gm, radius):
        C = (walk + rng.normal(0, sigma, walk.shape)) * tril
        S = (walk + rng.normal(0, sigma, walk.shape)) * tril
        S[:, :, 0] = 0.0
        n = np.arange(N + 1)[:, None]
        f = (3.986004415e14 / gm) * (6378136.3 / radius) ** n  # same field, other constants
        sig_c = np.full(C.shape, sigma) * tril
        sig_s = sig_c.copy()
        sig_s[:, :, 0] = 0.0
        return make_stokes_dataset(C * f, S * f, time_start=start, time_end=end, GM=gm, radius=radius,
                                   sigma_C=sig_c, sigma_S=sig_s)
    a, b = series(3.986004415e14, 6378136.3), series(3.9860044e14, 6378137.0)
    n = np.arange(2, N + 1)
    expected = sigma * np.sqrt(2 * n + 1)
    d = difference_degree_rms(a, b)
    np.testing.assert_allclose(d.values, expected, rtol=0.08)
    assert np.all(residual_degree_rms(a).values > 2 * expected)  # the walk is not six-term
    np.testing.assert_allclose(difference_degree_rms(a, b, per_series=False).values, np.sqrt(2) * d.values)
    np.testing.assert_allclose(sigma_degree_rms(a).values, expected, rtol=1e-12)
    # only the common months count; fewer than 7 is an error that says so
    np.testing.assert_allclose(difference_degree_rms(a, b.isel(time=slice(3, None))).values, expected, rtol=0.08)
    with pytest.raises(ValueError, match="common months"):
        difference_degree_rms(a.isel(time=slice(0, 4)), b)


def test_difference_coefficient_sigma_is_the_noise_of_one_centre_per_era():
    """Two centres with the same signal and independent white errors of sigma (GRACE era) and
    2 sigma (GRACE-FO era): the per-coefficient sigma of their difference / sqrt 2 is each era's
    noise, on the first series' months, including those the second lacks; a second series of
    lower degree is refused."""
    from hma_mascon.noise_model import difference_coefficient_sigma
    from hma_mascon.stokes import make_stokes_dataset

    rng = np.random.default_rng(21)
    T, N, sigma = 120, 12, 3e-11
    months = np.datetime64("2004-01", "M") + np.arange(T + 1)
    start, end = months[:-1].astype("datetime64[D]"), months[1:].astype("datetime64[D]")
    mission = np.where(np.arange(T) < 70, "GRACE", "GRACE-FO")
    level = np.where(mission == "GRACE", sigma, 2 * sigma)[:, None, None]
    walk = np.cumsum(rng.normal(0, 3 * sigma, (T, N + 1, N + 1)), axis=0)
    tril = np.tril(np.ones((N + 1, N + 1)))

    def centre():
        C = (walk + level * rng.normal(size=walk.shape)) * tril
        S = (walk + level * rng.normal(size=walk.shape)) * tril
        S[:, :, 0] = 0.0
        ds = make_stokes_dataset(C, S, time_start=start, time_end=end, GM=3.986004415e14, radius=6378136.3)
        return ds.assign_coords(mission=("time", mission))

    a, b = centre(), centre()
    f = difference_coefficient_sigma(a, b.isel(time=slice(0, T - 10)), smooth=0)
    assert f["sigma_C"].shape == a["C"].shape
    tri = tril.astype(bool)
    for era, want in (("GRACE", sigma), ("GRACE-FO", 2 * sigma)):
        k = np.flatnonzero(mission == era)
        got = f["sigma_C"].values[k][:, tri]
        assert np.all(got == got[0])  # one estimate per era, on every month of the era
        assert abs(np.median(got[0][2:]) / want - 1) < 0.1  # (the months b lacks included)
    with pytest.raises(ValueError, match="below the first"):
        difference_coefficient_sigma(a, b.sel(degree=slice(0, 8), order=slice(0, 8)))
