"""Tests of priors.py: regridding, rate RMS, seasonal second moment, Shean distribution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _grid_standin import make_grid

from hma_mascon.priors import (
    PriorComponent,
    hugonnet_comparison,
    hydrology_prior_from_grace,
    load_priors,
    rate_rms,
    regrid_to_cells,
    seasonal_second_moment,
    series_rms,
    shean_rate_grid,
)
from hma_mascon.timeseries import decimal_year as _decimal_years


@pytest.fixture(scope="module")
def grid():
    return make_grid(box=(80.0, 84.0, 30.0, 33.0))


def test_regrid_conserves_mass_and_means(grid):
    # fine 0.25 deg input: the extensive sum and the area-weighted mean are both conserved
    lat = np.arange(28.125, 35, 0.25)
    lon = np.arange(78.125, 86, 0.25)
    rng = np.random.default_rng(0)
    v = rng.random((2, lat.size, lon.size))
    da = xr.DataArray(v, dims=("time", "lat", "lon"), coords={"lat": lat, "lon": lon})
    mean = regrid_to_cells(da, grid)
    # independent path: each 0.5 deg cell = the mean of its 4 sub-cells weighted by cos(lat)-areas
    j = 5
    sub = (np.abs(lat - grid.lat[j]) < 0.25)
    subl = (np.abs(lon - grid.lon[j]) < 0.25)
    wts = np.diff(np.sin(np.radians(np.r_[lat[sub] - 0.125, lat[sub][-1] + 0.125])))
    expect = (v[:, sub][:, :, subl].mean(axis=2) * wts).sum(axis=1) / wts.sum()
    np.testing.assert_allclose(mean[:, j], expect, rtol=1e-12)
    ext = regrid_to_cells(da.isel(time=0), grid, extensive=True)
    inside = (lat > 30) & (lat < 33)
    np.testing.assert_allclose(ext.sum(), v[0][inside][:, (lon > 80) & (lon < 84)].sum(), rtol=1e-12)


def test_regrid_errors(grid):
    lat = np.arange(30.25, 32, 0.5)
    lon = np.arange(80.25, 84, 0.5)
    da = xr.DataArray(np.ones((lat.size, lon.size)), dims=("lat", "lon"), coords={"lat": lat, "lon": lon})
    with pytest.raises(ValueError, match="myfile.nc.*does not contain"):
        regrid_to_cells(da, grid, source="myfile.nc")


def test_rate_rms_and_seasonal_moment():
    # sigma of a ramp = |rate| * std(t) with t monthly: 16 years -> (16 * 12)/12 / sqrt(12) approx
    r = rate_rms(np.array([-2.0, 0.0, 3.0]), ("2002-01", "2017-12"))
    n = 192
    std_t = np.sqrt((n**2 - 1) / 12) / 12
    np.testing.assert_allclose(r, [2 * std_t, 0, 3 * std_t], rtol=1e-4)  # months differ in length
    t = (pd.date_range("2002-01", "2017-12", freq="MS") + pd.Timedelta(days=14)).values
    tdec = _decimal_years(t)
    x = np.c_[0.1 * np.cos(2 * np.pi * tdec) + 0.05 * (tdec - 2008), 0.3 * (tdec - 2002)]
    m2 = seasonal_second_moment(x, t)
    np.testing.assert_allclose(m2[:, 1], 0.0, atol=1e-20)  # a ramp has no seasonal moment
    month = pd.DatetimeIndex(t).month
    expect = [np.mean((0.1 * np.cos(2 * np.pi * tdec[month == c])) ** 2) for c in range(1, 13)]
    np.testing.assert_allclose(m2[:, 0], expect, rtol=0.02, atol=2e-5)
    np.testing.assert_allclose(series_rms(x[:, :1] - 0.05 * (np.asarray(tdec)[:, None] - 2008)), 0.1 / np.sqrt(2), rtol=5e-3)


def test_hydrology_from_grace_removes_glacier(grid):
    t = (pd.date_range("2002-04", "2019-12", freq="MS") + pd.Timedelta(days=14)).values
    tdec = np.asarray(_decimal_years(t))
    m = grid.lat.size
    rate = np.linspace(-0.1, 0.0, m)
    hyd = 0.05 * np.cos(2 * np.pi * tdec)[:, None] * np.ones(m)
    grace = hyd + np.outer(tdec - 2010, rate)
    glacier = PriorComponent("glacier", None, rate_rms(rate), np.zeros((12, m)), "test", rate=rate)
    out = hydrology_prior_from_grace(grace, t, glacier)
    np.testing.assert_allclose(out.rms, 0.05 / np.sqrt(2), rtol=1e-2)
    assert out.substitute and "GRACE" in out.source


def _write_lwe(path, grid, with_nan=False):
    lat = np.arange(29.75, 34, 0.5)
    lon = np.arange(79.75, 85, 0.5)
    t = pd.date_range("2001-01-15", "2018-12-15", freq="MS") + pd.Timedelta(days=14)
    tdec = np.asarray(_decimal_years(t.values))
    v = 10.0 * np.cos(2 * np.pi * tdec)[:, None, None] * np.ones((1, lat.size, lon.size))  # cm
    if with_nan:
        v[:, 4, 4] = np.nan
    ds = xr.Dataset({"lwe_thickness": (("time", "lat", "lon"), v, {"units": "cm"})},
                    coords={"time": t.values, "lat": lat, "lon": lon})
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path)


def test_load_priors_from_grids(tmp_path, grid):
    pytest.importorskip("hma_mascon.datadir")
    _write_lwe(tmp_path / "glaciers/aster_glacier_mass_0.5deg.nc", grid)
    _write_lwe(tmp_path / "hydrology/wghm_tws_0.5deg.nc", grid, with_nan=True)
    with pytest.raises(ValueError, match="hydrology_model.*1 mascon cells contain NaN"):
        load_priors(tmp_path, grid)
    p = load_priors(tmp_path, grid, nan="zero")
    np.testing.assert_allclose(p["glacier"].rms, 0.1 / np.sqrt(2), rtol=1e-2)  # 10 cm cosine
    assert p["lake"].substitute and np.all(p["lake"].rms == 0)
    assert p["glacier"].series.attrs["units"] == "m" and p["glacier"].series.dims == ("time", "lat", "lon")
    assert p["hydrology"].rms.min() == 0.0 and p["hydrology"].rms.max() > 0.07


@pytest.mark.realdata
def test_real_shean_prior(data_dir):
    g = make_grid()
    rate, info = shean_rate_grid(data_dir, g)
    gt = np.sum(rate * g.area * 1000.0) / 1e12
    print(f"Shean 2020 on the grid: {gt:.2f} Gt/yr, file {info['file_total_gt']:.2f} Gt/yr")
    assert abs(gt - info["file_total_gt"]) < 0.1 * abs(info["file_total_gt"])
    assert -21 < gt < -17  # Shean et al. 2020: -19.0 +- 2.5 Gt/yr
    assert info["hex_radius_m"] == pytest.approx(31500, rel=0.01)
    # cells without glacier area receive nothing
    area = xr.open_dataset(data_dir / "glaciers/rgi6_glacier_area_0.5deg.nc")["Area"]
    a = area.sel(y=xr.DataArray(g.lat), x=xr.DataArray(g.lon), method="nearest").values
    assert np.all(rate[np.nan_to_num(a) == 0] == 0)
    tab = hugonnet_comparison(data_dir, info)
    h = tab[tab["period"] == "2000-01-01_2020-01-01"]["dmdt_gt_per_yr"].item()
    assert abs(h - gt) < 6  # Hugonnet 2000-2020 HMA (-22) vs Shean 2000-2018 (-19)
    p = load_priors(data_dir, g, hydrology="none")
    assert p["glacier"].substitute and "Shean" in p["glacier"].substitute
    assert np.all(p["glacier"].seasonal_second_moment == 0)


def test_rate_variability_unclamps_a_near_zero_prior_rate():
    """sigma^2 gains (A/S * sd * std(t))^2: a glacier cell whose prior rate is ~0 gets the variance of
    what could change on its ice; a cell without glacier keeps its sigma; a zero sd changes nothing."""
    from hma_mascon.priors import PriorComponent, rate_rms, with_rate_variability

    rms = np.array([0.5, 1e-3, 0.2])
    comp = PriorComponent("glacier", None, rms, np.zeros((12, 3)), source="test", rate=np.array([-0.1, 2e-4, 0.0]))
    area_km2 = np.array([100.0, 500.0, 0.0])
    cell = np.full(3, 2.5e9)
    out = with_rate_variability(comp, area_km2, cell, 0.3)
    extra = rate_rms(area_km2 * 1e6 / cell * 0.3, ("2002-01", "2017-12"))
    np.testing.assert_allclose(out.rms ** 2, rms ** 2 + extra ** 2)
    assert out.rms[1] > 100 * rms[1] and out.rms[2] == rms[2]
    assert extra[1] == pytest.approx(0.2 * 0.3 * 4.62, rel=0.01)  # 20 % ice, std of a 16-year monthly ramp 4.62 yr
    np.testing.assert_array_equal(with_rate_variability(comp, area_km2, cell, 0.0).rms, rms)
    assert "rate variability 0.3" in out.source and np.array_equal(out.rate, comp.rate)


def test_variability_gives_a_rate_only_prior_seasons_on_its_ice():
    """sigma^2(c) and sigma^2 both gain (A/S * sd)^2: a rate-only prior (no seasonal moment) gets the
    same variance in every calendar month, a glacier-free cell keeps its variances, the rate is kept,
    and a zero sd changes nothing."""
    from hma_mascon.priors import PriorComponent, with_variability

    rms = np.array([0.5, 1e-3, 0.2])
    comp = PriorComponent("glacier", None, rms, None, source="test", rate=np.array([-0.1, 2e-4, 0.0]))
    area_km2 = np.array([100.0, 500.0, 0.0])
    cell = np.full(3, 2.5e9)
    out = with_variability(comp, area_km2, cell, 0.5)
    extra2 = (area_km2 * 1e6 / cell * 0.5) ** 2
    np.testing.assert_allclose(out.rms ** 2, rms ** 2 + extra2)
    assert out.seasonal_second_moment.shape == (12, 3)
    np.testing.assert_allclose(out.seasonal_second_moment, np.broadcast_to(extra2, (12, 3)))
    assert np.sqrt(out.seasonal_second_moment[0, 1]) == pytest.approx(0.2 * 0.5)  # 20 % ice x 0.5 m w.e.
    assert out.rms[2] == rms[2] and np.all(out.seasonal_second_moment[:, 2] == 0)
    seasonal = np.linspace(0.01, 0.12, 36).reshape(12, 3)
    again = with_variability(PriorComponent("glacier", None, rms, seasonal, source="s"), area_km2, cell, 0.5)
    np.testing.assert_allclose(again.seasonal_second_moment, seasonal + extra2)
    np.testing.assert_array_equal(with_variability(comp, area_km2, cell, 0.0).rms, rms)
    assert "variability 0.5 m w.e." in out.source and np.array_equal(out.rate, comp.rate)
