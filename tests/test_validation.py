"""Tests of validation.py with synthetic series of known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hma_mascon.validation import ablation, aster_regression, insitu_correlation


def _monthly(start="2002-01", end="2023-12"):
    t = pd.date_range(start, end, freq="MS") + pd.Timedelta(days=14)
    tdec = t.year + (t.month - 0.5) / 12
    return t.values, np.asarray(tdec)


def test_regression_exact_line_and_r2():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    fit = aster_regression(x, 0.97 * x - 0.26)
    assert fit["slope"] == pytest.approx(0.97) and fit["intercept"] == pytest.approx(-0.26)
    assert fit["r2"] == pytest.approx(1.0)
    y = 0.5 * x + rng.normal(size=50)
    fit = aster_regression(x, y)
    assert fit["r2"] == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2)
    # cell rule (AMB-13): cells without glacier are excluded
    area = np.where(np.arange(50) < 25, 1.0, 0.0)
    y2 = np.where(area > 0, 2.0 * x, 100.0 * rng.normal(size=50))
    assert aster_regression(x, y2, glacier_area=area)["slope"] == pytest.approx(2.0)
    assert aster_regression(x, y2, glacier_area=area)["n"] == 25


def test_ablation_pure_seasonal_cycle():
    t, tdec = _monthly()
    amp = 10.0
    m = amp * np.cos(2 * np.pi * (tdec - 4.5 / 12))  # maximum at mid-May (month 5)
    res = ablation(m, t)
    samples = amp * np.cos(2 * np.pi * (np.arange(12) + 0.5 - 4.5) / 12)
    assert res["amount"].item() == pytest.approx(samples.max() - samples.min(), rel=1e-9)
    assert res["start_month"].item() == 5 and res["end_month"].item() == 11
    # a 2017-2018 gap does not change the answer (consecutive pairs only)
    gap = m.copy()
    gap[(tdec > 2017.5) & (tdec < 2018.4)] = np.nan
    assert ablation(gap, t)["amount"].item() == pytest.approx(res["amount"].item(), rel=1e-9)


def test_ablation_trend_kept_or_removed():
    t, tdec = _monthly()
    amp, rate = 10.0, -12.0  # Gt, Gt/yr
    m = amp * np.cos(2 * np.pi * (tdec - 4.5 / 12)) + rate * (tdec - 2010)
    kept = ablation(m, t)
    removed = ablation(m, t, detrend=True)
    seasonal = ablation(amp * np.cos(2 * np.pi * (tdec - 4.5 / 12)), t)
    assert removed["amount"].item() == pytest.approx(seasonal["amount"].item(), rel=1e-9)
    # with the trend kept the decline over the 6 ablation months gains 6 x rate/12
    assert kept["n_months"].item() == 6
    assert kept["amount"].item() == pytest.approx(seasonal["amount"].item() - rate * 6 / 12, rel=1e-9)
    # cycle does not close with the trend kept: S_12 = annual loss
    assert kept["cycle"].values[0, -1] == pytest.approx(rate, rel=1e-9)


def test_ablation_regions_total_excludes_hma():
    t, tdec = _monthly()
    a = 3 * np.sin(2 * np.pi * tdec)
    b = 5 * np.sin(2 * np.pi * tdec)
    da = xr.DataArray(np.c_[a, b, a + b], dims=("time", "region"),
                      coords={"time": t, "region": ["r1", "r2", "HMA"]})
    res = ablation(da, t)
    assert res.attrs["total"] == pytest.approx(res["amount"].sel(region=["r1", "r2"]).sum().item())
    assert res["amount"].sel(region="r2").item() == pytest.approx(5 / 3 * res["amount"].sel(region="r1").item())


def _stock_world(seed=3):
    rng = np.random.default_rng(seed)
    t, tdec = _monthly("2005-01", "2022-12")
    years = np.arange(2006, 2023)
    b = rng.normal(-0.5, 0.4, years.size)  # m w.e. per balance year
    ends = years + 0.75  # 30 September
    stock = np.interp(tdec, np.r_[ends[0] - 1, ends], np.r_[0, np.cumsum(b)])
    seasonal = 0.3 * np.cos(2 * np.pi * tdec) + 0.1 * np.sin(4 * np.pi * tdec)
    return t, tdec, years, b, ends, stock + seasonal + 0.02 * (tdec - 2010)


def test_insitu_stock_alignment_recovers_signal():
    pytest.importorskip("hma_mascon.timeseries")
    t, tdec, years, b, ends, m = _stock_world()
    ends_dt = pd.to_datetime([f"{y}-09-30" for y in years]).values
    res = insitu_correlation(m, t, b, ends_dt)
    assert res["r"] > 0.9 and res["n"] >= 14
    # the same stock against shuffled balances loses the correlation
    rng = np.random.default_rng(7)
    shuffled = insitu_correlation(m, t, rng.permutation(b), ends_dt)
    assert shuffled["r"] < res["r"] - 0.3
    # flux alignment sees the same information
    assert insitu_correlation(m, t, b, ends_dt, alignment="flux")["r"] > 0.8


def test_insitu_gap_months_drop_years():
    pytest.importorskip("hma_mascon.timeseries")
    t, tdec, years, b, ends, m = _stock_world()
    gap = m.copy()
    gap[(tdec > 2017.5) & (tdec < 2018.42)] = np.nan  # 2017-07 .. 2018-05
    full = insitu_correlation(m, t, b, ends)
    res = insitu_correlation(gap, t, b, ends)
    assert res["n"] < full["n"]
    assert 2017 not in res["years"] and 2018 not in res["years"]
    with pytest.raises(ValueError, match="alignment"):
        insitu_correlation(m, t, b, ends, alignment="bogus")
