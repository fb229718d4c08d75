"""Tests of glacier.py: the subtraction of SM and GIA, the GIA spread."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hma_mascon.glacier import gia_spread, glacier_signal, regional_trends


def test_glacier_signal_closed_loop():
    t = (pd.date_range("2003-01", "2010-12", freq="MS") + pd.Timedelta(days=14)).values
    rng = np.random.default_rng(2)
    glacier = rng.normal(size=(t.size, 4))
    sm = rng.normal(size=(t.size, 4))
    gia = np.array([0.01, -0.02, 0.0, 0.005])
    from hma_mascon.timeseries import decimal_year as _decimal_years
    tdec = _decimal_years(t)
    x = glacier + sm + np.outer(tdec - 2005.0, gia)
    out = glacier_signal(x, t, soil_moisture=sm, gia_rate=gia, t0=2005.0)
    np.testing.assert_allclose(out["glacier"].values, glacier, atol=1e-12)
    # AMB-10: products with GIA already removed -> only SM subtracted
    out2 = glacier_signal(x, t, soil_moisture=sm)
    np.testing.assert_allclose(out2["glacier"].values, x - sm)
    assert out2.attrs["gia_removed"] == 0
    # t0 only shifts by a constant
    d = glacier_signal(x, t, gia_rate=gia, t0=2000.0)["glacier"] - glacier_signal(x, t, gia_rate=gia, t0=2010.0)["glacier"]
    np.testing.assert_allclose(d.values, np.tile(-10 * gia, (t.size, 1)), atol=1e-12)


def test_gia_spread_ddof1():
    models = {"ice6g": np.array([1.0, 2.0]), "caron": np.array([3.0, 2.0]), "caron_ivins": np.array([5.0, 2.0])}
    np.testing.assert_allclose(gia_spread(models), [2.0, 0.0])
    with pytest.raises(ValueError):
        gia_spread({"one": np.array([1.0])})


def test_regional_trends_recovers_rate():
    pytest.importorskip("hma_mascon.timeseries")
    t = (pd.date_range("2002-04", "2023-08", freq="MS") + pd.Timedelta(days=14)).values
    tdec = pd.DatetimeIndex(t).year + (pd.DatetimeIndex(t).month - 0.5) / 12
    y = np.c_[-5.46 * (tdec - 2010) + 3 * np.sin(2 * np.pi * tdec), 2.0 * (tdec - 2010)]
    mass = xr.DataArray(y, dims=("time", "region"), coords={"time": t, "region": ["a", "b"]})
    tab = regional_trends(mass, t, {"m1": [0.0, 0.0], "m2": [0.2, 0.0], "m3": [0.4, 0.0]})
    np.testing.assert_allclose(tab["trend"], [-5.46, 2.0], atol=1e-3)  # month-length jitter
    assert tab.loc["a", "error95"] >= 1.96 * 0.2 - 1e-9
