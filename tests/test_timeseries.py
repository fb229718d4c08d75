"""Tests of trend fits, trend errors, the 2x12 filter and gap filling (METHODS.md 9, 10.2, 10.5)."""

import numpy as np
import pytest
import xarray as xr

from hma_mascon.timeseries import (
    decimal_year,
    fill_short_gaps,
    fit_harmonic_trend,
    harmonic_design,
    moving_average_2x12,
    trend_with_error,
)

rng = np.random.default_rng(21)
T = 2002 + (np.arange(3, 260) + 0.5) / 12  # 2002-04 .. 2023-08, mid-month


def test_decimal_year():
    t = decimal_year(np.array(["2004-01-01", "2004-07-01T12:00"], dtype="datetime64[ns]"))
    assert t[0] == 2004.0 and np.isclose(t[1], 2004 + (182.5) / 366)
    assert np.array_equal(decimal_year(T), T)


def test_recovers_known_trend_and_seasonal_with_gaps():
    truth = np.array([[0.3, -1.2, 0.5, 0.2, 0.1, -0.05], [0.0, 2.0, -0.1, 0.4, 0.0, 0.0]]).T  # (6, 2)
    t0 = T.mean()
    y = harmonic_design(T, t0) @ truth
    y[150:161] = np.nan  # GRACE/GRACE-FO gap
    y[[20, 90], 0] = np.nan  # isolated missing months in series 0 only
    fit = fit_harmonic_trend(T, y, t0=t0)
    assert np.allclose(fit.coef, truth, atol=1e-10)
    assert np.array_equal(fit.n_used, [T.size - 13, T.size - 11])
    # noisy series: the estimate is within its formal error, and the error is the OLS one
    noise = 0.5
    yn = harmonic_design(T, t0) @ truth[:, :1] + noise * rng.normal(size=(T.size, 1))
    f2 = fit_harmonic_trend(T, yn)
    X = harmonic_design(T, f2.t0)
    cov = np.linalg.inv(X.T @ X) * f2.sigma2[0]
    assert np.isclose(f2.trend_sigma[0], np.sqrt(cov[1, 1]))
    assert abs(f2.trend[0] - truth[1, 0]) < 4 * f2.trend_sigma[0]
    assert np.isclose(np.sqrt(f2.sigma2[0]), noise, rtol=0.15)
    # default t0 = mean of available epochs; trend component is only the linear term (AMB-9)
    assert np.isclose(fit_harmonic_trend(T, y).t0, T[np.isfinite(y).any(1)].mean())
    xt = fit.trend_component(T)
    assert np.allclose(xt, np.outer(T - t0, truth[1]))
    # many series with a (lat, lon) tail
    y3 = np.repeat(y[:, :1], 6, axis=1).reshape(T.size, 2, 3)
    f3 = fit_harmonic_trend(T, y3, t0=t0)
    assert f3.coef.shape == (6, 2, 3) and np.allclose(f3.trend, truth[1, 0])
    assert np.allclose(f3.predict(T)[np.isfinite(y3)], y3[np.isfinite(y3)])


def test_error_formula_properties():
    t0 = T.mean()
    base = harmonic_design(T, t0) @ np.array([0, -1.0, 0.3, 0.1, 0, 0])
    e = rng.normal(size=T.size)
    tr1, err1, _ = trend_with_error(T, base + 0.2 * e)
    tr2, err2, _ = trend_with_error(T, base + 0.8 * e)
    assert np.isclose(err2, 4 * err1, rtol=1e-6)  # grows linearly with the noise
    # shrinks with period length (same noise level)
    short = T < 2010
    _, err_short, _ = trend_with_error(T[short], (base + 0.2 * e)[short])
    assert err_short > 2 * err1
    # GIA spread adds in quadrature, ddof = 1
    gia = np.array([0.1, 0.3, 0.5])
    _, err_g, info = trend_with_error(T, base + 0.2 * e, gia_trends=gia)
    assert np.isclose(info["sigma_gia"], 0.2)
    assert np.isclose(err_g, 1.96 * np.sqrt(info["sigma_fit"] ** 2 + 0.04))
    _, err_alt, _ = trend_with_error(T, base + 0.2 * e, gia_trends=gia, method="sqrt((1.96*fit)^2+gia^2)")
    assert err_alt < err_g
    _, err_t, info_t = trend_with_error(T, base + 0.2 * e, quantile="student")
    assert info_t["quantile"] > 1.96 and err_t > err1
    # AR(1) residuals inflate the error; white residuals barely change it
    ar = np.zeros(T.size)
    for k in range(1, T.size):
        ar[k] = 0.8 * ar[k - 1] + 0.2 * rng.normal()
    _, e_ar_off, info_ar = trend_with_error(T, base + ar)
    _, e_ar_on, _ = trend_with_error(T, base + ar, ar1=True)
    assert info_ar["fit"].rho1 > 0.5 and e_ar_on > 2 * e_ar_off
    _, e_w_on, _ = trend_with_error(T, base + 0.2 * e, ar1=True)
    assert abs(e_w_on / err1 - 1) < 0.2
    with pytest.raises(ValueError, match="unknown"):
        trend_with_error(T, base, method="rss")


def test_2x12_filter_cancels_annual_and_semiannual():
    k = np.arange(120)
    tm = 2003 + (k + 0.5) / 12
    seasonal = 3 * np.cos(2 * np.pi * tm + 0.4) + 1.5 * np.sin(4 * np.pi * tm) + 0.7 * np.cos(6 * np.pi * tm)
    line = 0.25 * (tm - 2005) + 1.0
    out = moving_average_2x12(seasonal + line)
    assert np.all(np.isnan(out[:6])) and np.all(np.isnan(out[-6:]))
    assert np.allclose(out[6:-6], line[6:-6], atol=1e-12)  # seasonal gone, linear trend preserved
    # equal weights leak 1/13 of the annual cycle
    ann = np.cos(2 * np.pi * tm)
    leak = moving_average_2x12(ann, equal_weights=True)
    assert np.isclose(np.nanmax(np.abs(leak)), 1 / 13, rtol=0.05)
    # complete windows only
    y = seasonal + line
    y[50] = np.nan
    o2 = moving_average_2x12(np.stack([y, y], axis=1))
    assert np.all(np.isnan(o2[44:57, 0])) and np.isfinite(o2[43, 0]) and np.isfinite(o2[57, 0])


def test_fill_short_gaps():
    months = np.arange("2015-01", "2020-01", dtype="datetime64[M]")
    y = np.arange(months.size, dtype=float) * 2.0
    truth = y.copy()
    y[[3, 4]] = np.nan  # 2-month gap: filled exactly (linear data)
    y[[10, 11, 12]] = np.nan  # 3-month gap: kept
    gap = (months >= np.datetime64("2017-07")) & (months <= np.datetime64("2018-05"))
    y[gap] = np.nan  # long gap: kept
    y[months == np.datetime64("2018-06")] = np.nan  # isolated, but adjacent to the never-window run
    y[0] = np.nan  # at the start: kept
    out = fill_short_gaps(y, time=months)
    assert np.allclose(out[[3, 4]], truth[[3, 4]])
    assert np.all(np.isnan(out[[10, 11, 12]])) and np.all(np.isnan(out[gap])) and np.isnan(out[0])
    # a 1-month gap inside the never window region is still blocked
    y2 = truth.copy()
    y2[np.flatnonzero(months == np.datetime64("2017-08"))] = np.nan
    assert np.isnan(fill_short_gaps(y2, time=months)[months == np.datetime64("2017-08")]).all()
    y2b = truth.copy()
    y2b[np.flatnonzero(months == np.datetime64("2016-08"))] = np.nan
    assert np.allclose(fill_short_gaps(y2b, time=months), truth)
    # DataArray input keeps labels; month labels work as time
    da = xr.DataArray(np.stack([y, y], axis=1), dims=("time", "cell"), coords={"time": months.astype("datetime64[ns]")})
    oda = fill_short_gaps(da)
    assert isinstance(oda, xr.DataArray) and np.allclose(oda.values[[3, 4], 1], truth[[3, 4]])
    labels = np.array([str(m) for m in months])
    assert np.allclose(fill_short_gaps(y, time=labels), out, equal_nan=True)
    with pytest.raises(ValueError, match="regular monthly"):
        fill_short_gaps(y[::2], time=months[::2])
