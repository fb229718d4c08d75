"""Tests of the SH-domain consistency check (METHODS.md §10.7)."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hma_mascon import consistency as cons
from hma_mascon.love_numbers import load_love_numbers

RADIUS = 6378136.3
GM = 3.986004415e14
NMAX = 60


@pytest.fixture(scope="module")
def love():
    return load_love_numbers(NMAX)


def _grid(lat0=26.0, lat1=47.0, lon0=65.0, lon1=105.0, step=0.5):
    lat = np.arange(lat0 + step / 2, lat1, step)
    lon = np.arange(lon0 + step / 2, lon1, step)
    return lat, lon


def _field(values, lat, lon, time=None):
    dims = (("time",) if time is not None else ()) + ("lat", "lon")
    coords = {"lat": lat, "lon": lon}
    if time is not None:
        coords["time"] = time
    return xr.DataArray(values, dims=dims, coords=coords, attrs={"units": "m"})


def _disc(lat, lon, centre=(36.0, 85.0), radius_deg=4.0, value=1.0):
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    d = np.hypot(la - centre[0], (lo - centre[1]) * np.cos(np.deg2rad(centre[0])))
    return np.where(d <= radius_deg, value, 0.0)


def test_unfiltered_round_trip_recovers_a_large_load(love):
    """grid -> Stokes -> grid without filters returns the load (truncation error only)."""
    lat, lon = _grid()
    h = _field(_disc(lat, lon, radius_deg=6.0), lat, lon)
    back = cons.filtered_ewh_of_grid(h, love, RADIUS, NMAX, ddk_level=None, gaussian_km=None, GM=GM)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    inner = np.hypot(la - 36.0, (lo - 85.0) * np.cos(np.deg2rad(36.0))) < 3.0
    outer = np.hypot(la - 36.0, (lo - 85.0) * np.cos(np.deg2rad(36.0))) > 10.0
    assert abs(float(back.values[inner].mean()) - 1.0) < 0.05
    assert float(np.abs(back.values[outer]).max()) < 0.1


def test_gaussian_spreads_but_conserves_mass(love):
    """A 200 km Gaussian lowers the peak, leaks outside, and keeps the area integral (W_0 = 1)."""
    lat, lon = _grid(20.0, 53.0, 55.0, 115.0)
    h = _field(_disc(lat, lon, radius_deg=2.0), lat, lon)
    raw = cons.filtered_ewh_of_grid(h, love, RADIUS, NMAX, None, None, GM=GM)
    smooth = cons.filtered_ewh_of_grid(h, love, RADIUS, NMAX, None, 200.0, GM=GM)
    iy, ix = np.argmin(np.abs(lat - 36.0)), np.argmin(np.abs(lon - 85.0))
    assert smooth.values[iy, ix] < raw.values[iy, ix]
    w = np.cos(np.deg2rad(lat))[:, None]
    ring = (_disc(lat, lon, radius_deg=4.0) - _disc(lat, lon, radius_deg=2.5)) > 0
    assert smooth.values[ring].mean() > raw.values[ring].mean()
    mass_raw, mass_smooth = float((raw.values * w).sum()), float((smooth.values * w).sum())
    assert mass_smooth == pytest.approx(mass_raw, rel=0.05)
    assert mass_smooth > 0


def test_ddk_acts_on_stokes_not_on_ewh_coefficients(love):
    """Filtering EWH coefficients with the DDK blocks gives a different field: the order matters."""
    from hma_mascon.synthesis import (
        analyse_ewh_grid,
        ewh_coefficients_to_stokes,
        stokes_to_ewh_coefficients,
    )

    lat, lon = _grid()
    h = _field(_disc(lat, lon, radius_deg=3.0), lat, lon)
    right = cons.filtered_ewh_of_grid(h, love, RADIUS, NMAX, 5, None, GM=GM)
    hC, hS = analyse_ewh_grid(h, nmax=NMAX)
    hCf, hSf = cons.filter_stokes(hC, hS, 5, None)  # wrong: DDK on EWH coefficients
    C, S = ewh_coefficients_to_stokes(hCf, hSf, love, RADIUS, GM=GM)
    wrong = cons.filtered_ewh(C, S, lat, lon, love, RADIUS, None, None, GM=GM)
    diff = float(np.abs(right.values - wrong.values).max())
    assert diff > 1e-3 * float(np.abs(right.values).max())  # far above round-off (1e-12)
    # and the right path is linear in the load: twice the load, twice the field
    double = cons.filtered_ewh_of_grid(2 * h, love, RADIUS, NMAX, 5, None, GM=GM)
    np.testing.assert_allclose(double.values, 2 * right.values, atol=1e-12)
    # stokes <-> EWH coefficients are inverse operations
    C0, S0 = cons.prior_stokes(h, love, RADIUS, NMAX, GM)
    hC2, _ = stokes_to_ewh_coefficients(C0, S0, love, RADIUS, GM=GM)
    np.testing.assert_allclose(hC2[1:], hC[1:], rtol=1e-10, atol=1e-16)


def test_trend_and_annual_amplitude_recovered():
    lat, lon = _grid(30.0, 32.0, 80.0, 82.0)
    time = pd.date_range("2003-01-15", periods=96, freq="MS") + pd.Timedelta(days=14)
    from hma_mascon.timeseries import decimal_year

    t = decimal_year(time.values)
    rate = np.linspace(-0.05, 0.05, lat.size)[:, None] * np.ones(lon.size)
    amp = 0.1 + 0.0 * rate
    x = rate[None] * (t - t.mean())[:, None, None] + amp[None] * np.cos(2 * np.pi * (t[:, None, None] - 0.3))
    out = cons.trend_annual_maps(_field(x, lat, lon, time.values))
    np.testing.assert_allclose(out["trend"].values, 100 * rate, atol=1e-9)
    np.testing.assert_allclose(out["annual_amplitude"].values, 100 * amp, atol=1e-9)
    assert out["trend"].attrs["units"] == "cm yr-1"


def test_rms_maps_both_readings():
    lat, lon = _grid(30.0, 31.0, 80.0, 81.0)
    time = pd.date_range("2003-01-01", periods=120, freq="MS").values
    ph = 2 * np.pi * np.arange(120) / 12
    a = 0.2 * np.sin(ph)[:, None, None] * np.ones((1, lat.size, lon.size))
    b = a + 5.0  # offset only
    c = 0.5 * a
    out = cons.rms_maps({"a": _field(a, lat, lon, time), "b": _field(b, lat, lon, time),
                         "c": _field(c, lat, lon, time)})
    np.testing.assert_allclose(out["rms_a"].values, 100 * 0.2 / np.sqrt(2), rtol=1e-10)
    np.testing.assert_allclose(out["rms_diff_a_minus_b"].values, 0.0, atol=1e-9)
    np.testing.assert_allclose(out["rms_diff_a_minus_c"].values, 100 * 0.1 / np.sqrt(2), rtol=1e-10)
    a2 = a.copy()
    a2[3] = np.nan  # a missing month drops out of every map
    out2 = cons.rms_maps({"a": _field(a2, lat, lon, time), "b": _field(b, lat, lon, time)})
    assert out2.attrs["months_used"] == 119
    with pytest.raises(ValueError, match="field 'b'"):
        cons.rms_maps({"a": _field(a, lat, lon, time), "b": _field(a[:10], lat, lon, time[:10])})


def test_consistency_maps_identical_fields_correlate_perfectly(love):
    lat, lon = _grid(30.0, 40.0, 80.0, 90.0)
    time = pd.date_range("2004-01-01", periods=36, freq="MS").values
    t = np.arange(36) / 12
    base = _disc(lat, lon, (35.0, 85.0), 3.0)
    x = _field(-0.05 * t[:, None, None] * base[None] + 0.1 * np.cos(2 * np.pi * t)[:, None, None], lat, lon, time)
    out = cons.consistency_maps({"GRACE": x, "prior": x.copy(), "neg": -x})
    assert out["trend_correlation"].sel(source="prior") == pytest.approx(1.0)
    assert out["trend_correlation"].sel(source="neg") == pytest.approx(-1.0)
    assert float(out["trend"].sel(source="GRACE").min()) < 0  # mass loss gives a negative trend


@pytest.mark.realdata
def test_grace_filtered_field_is_finite_on_real_data(data_dir):
    ds = cons.load_grace_anomalies(data_dir, start="2005-01", end="2005-12", nmax=NMAX)
    assert ds.sizes["time"] >= 10
    lat, lon = _grid()
    C, S = ds["C"].values, ds["S"].values
    h = cons.filtered_ewh(C, S, lat, lon, love=load_love_numbers(NMAX), radius=float(ds.attrs["radius"]),
                          GM=float(ds.attrs["GM"]), time=ds["time"].values)
    assert np.all(np.isfinite(h.values))
    assert float(np.abs(h).max()) < 2.0  # metres: filtered monthly anomalies are decimetres
