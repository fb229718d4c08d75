"""Tests of the labelled coefficient container (hma_mascon.stokes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hma_mascon import stokes, timeseries


def _series(nmonths=12, nmax=6, seed=0, start="2004-01"):
    rng = np.random.default_rng(seed)
    months = pd.period_range(start, periods=nmonths, freq="M")
    t0 = [p.start_time for p in months]
    t1 = [(p + 1).start_time for p in months]
    C = rng.normal(size=(nmonths, nmax + 1, nmax + 1))
    S = rng.normal(size=(nmonths, nmax + 1, nmax + 1))
    return stokes.make_stokes_dataset(C, S, np.abs(C) * 0.1, np.abs(S) * 0.1, time_start=t0, time_end=t1,
                                      GM=3.986004415e14, radius=6378136.3, product="test")


def test_container_layout():
    ds = _series()
    n = ds.degree.values[:, None]
    m = ds.order.values[None, :]
    assert np.all(np.isnan(ds.C.values[:, m > n]))
    assert np.all(np.isfinite(ds.C.values[:, m <= n]))
    assert np.all(ds.S.values[:, :, 0] == 0) and np.all(ds.sigma_S.values[:, :, 0] == 0)
    assert ds.attrs["normalization"] == "4pi, no Condon-Shortley"
    # time is the mid-epoch and lies strictly inside the data span
    assert np.all(ds.time_start.values < ds.time.values) and np.all(ds.time.values < ds.time_end.values)
    assert list(ds.month.values[:3]) == ["2004-01", "2004-02", "2004-03"]
    # single field without time
    one = stokes.make_stokes_dataset(np.ones((4, 4)), np.ones((4, 4)), GM=1.0, radius=1.0, units="1/yr")
    assert "time" not in one.dims and one.C.attrs["units"] == "1/yr"


def test_coefficient_index_order_and_length():
    n, m, s = stokes.coefficient_index(5, 2)
    assert n.size == 6**2 - 2**2
    # each (n, m, is_sine) appears once; no sine for m = 0; C precedes S for the same (n, m)
    assert len(set(zip(n, m, s))) == n.size
    assert not np.any((m == 0) & (s == 1))
    for k in np.flatnonzero(s == 1):
        assert (n[k - 1], m[k - 1], s[k - 1]) == (n[k], m[k], 0)
    assert np.all(np.diff(n) >= 0)


def test_vector_round_trip():
    ds = _series(nmonths=3, nmax=5)
    vec = stokes.to_coefficient_vector(ds, nmin=2)
    sig = stokes.to_sigma_vector(ds, nmin=2)
    assert vec.shape == (3, 6**2 - 4)
    back = stokes.from_coefficient_vector(vec, 5, 2, sigma=sig, template=ds)
    sel = dict(degree=slice(2, None))
    np.testing.assert_array_equal(back.C.sel(**sel).values, ds.C.sel(**sel).values)
    np.testing.assert_array_equal(back.S.sel(**sel).values, ds.S.sel(**sel).values)
    np.testing.assert_array_equal(back.sigma_C.sel(**sel).values, ds.sigma_C.sel(**sel).values)
    assert np.all(back.C.sel(degree=[0, 1]).fillna(0).values == 0)
    np.testing.assert_array_equal(back.month.values, ds.month.values)
    # the vector entry of S_32 is the container's S[3, 2]
    n, m, s = stokes.coefficient_index(5, 2)
    k = np.flatnonzero((n == 3) & (m == 2) & (s == 1))[0]
    assert vec[1, k] == ds.S.values[1, 3, 2]


@pytest.mark.filterwarnings("ignore:Mean of empty slice")
def test_anomalies_mean_zero_over_reference_and_gaps_stay():
    ds = _series(nmonths=24)
    # drop three months (a gap) and blank one month with NaN
    ds = ds.isel(time=[k for k in range(24) if k not in (5, 6, 7)])
    C = ds.C.values.copy()
    C[10] = np.nan
    ds["C"] = (ds.C.dims, C)
    an = stokes.anomalies(ds, "2004-03", "2005-06")
    ref = stokes.select_period(an, "2004-03", "2005-06")
    mean = np.nanmean(ref.C.values, axis=0)
    tri = np.tril(np.ones(mean.shape, dtype=bool))
    assert np.max(np.abs(mean[tri])) < 1e-14
    assert an.C.values[0, 0, 0] == 0
    assert an.sizes["time"] == ds.sizes["time"]
    assert "2004-06" not in an.month.values  # the gap is not filled
    assert np.all(np.isnan(an.C.values[10]))  # a NaN month stays NaN
    assert an.attrs["reference_period"] == "2004-03..2005-06"
    assert "anomalies" in an.attrs["history"]
    # changing the reference period only shifts every month by the same constant
    other = stokes.anomalies(ds)
    diff = (an.C - other.C).values[:, tri]
    good = np.isfinite(diff[:, 3])
    assert good.sum() == ds.sizes["time"] - 1
    np.testing.assert_allclose(diff[good] - diff[good][0], 0, atol=1e-12)
    assert np.max(np.abs(diff[good][0])) > 1e-3  # the two reference means really differ


def test_month_labels_and_special_months():
    assert stokes.grace_month_label("2002-04-05", "2002-05-01") == "2002-04"
    # CSR Oct/Nov 2011: the second solution (Oct 16 - Nov 15) is centred in October too
    start = ["2011-09-01", "2011-10-01", "2011-10-16", "2011-12-13"]
    end = ["2011-10-01", "2011-11-01", "2011-11-16", "2012-01-12"]
    assert list(stokes.grace_month_label(start, end)) == ["2011-09", "2011-10", "2011-10", "2011-12"]
    assert list(stokes.unique_month_labels(start, end)) == ["2011-09", "2011-10", "2011-11", "2011-12"]
    # JPL-like Dec 2011 centred in Jan 2012: the earlier solution goes back to December
    start = ["2011-11-01", "2011-12-20", "2012-01-01", "2012-02-01"]
    end = ["2011-12-01", "2012-01-14", "2012-02-01", "2012-03-01"]
    assert list(stokes.unique_month_labels(start, end)) == ["2011-11", "2011-12", "2012-01", "2012-02"]
    with pytest.raises(ValueError):
        stokes.unique_month_labels(["2011-09-01", "2011-10-01", "2011-10-16", "2011-11-01"],
                                   ["2011-10-01", "2011-11-01", "2011-11-16", "2011-12-01"])


def test_decimal_year_round_trip_and_leap_years():
    t = np.array(["2004-07-01T12:00", "2019-12-31T23:00", "2000-01-01"], dtype="datetime64[ns]")
    y = timeseries.decimal_year(t)
    assert y[2] == 2000.0
    assert abs(y[0] - (2004 + (182.5) / 366)) < 1e-12  # leap year: Jul 1 is day 183
    back = timeseries.decimal_year_to_datetime(y)
    assert np.all(np.abs((back - t) / np.timedelta64(1, "s")) < 1e-3)


def test_select_period_inclusive():
    ds = _series(nmonths=12)
    sub = stokes.select_period(ds, "2004-03", "2004-05")
    assert list(sub.month.values) == ["2004-03", "2004-04", "2004-05"]
    with pytest.raises(ValueError):
        stokes.select_period(ds, "March 2004x", None)
