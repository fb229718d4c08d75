"""The JPL/CSR product layout: land mask, time bounds, fill values, and the CF-1.8 check (offline)."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import shapely
import xarray as xr

from hma_mascon.geometry import mascon_grid
from hma_mascon.maps import load_naturalearth
from hma_mascon.output import solution_to_dataset, write_solution
from hma_mascon.product import (
    FILL_VALUE,
    cell_bounds,
    globe_land_fraction,
    inside_naturalearth,
    land_mask,
    layout_variables,
    time_bounds_of,
)

#: The shipped CF standard-name table (tests/data/README.md), also used by the ``cf_check`` fixture.
CF_STANDARD_NAME_TABLE = Path(__file__).parent / "data" / "cf-standard-name-table-v93.xml.gz"


def _product(nt=5, seed=1, **extra):
    """A small product with every optional field (one missing month), EWH in metres."""
    rng = np.random.default_rng(seed)
    lat, lon = np.arange(30.25, 32.0, 0.5), np.arange(80.25, 82.0, 0.5)
    grid = mascon_grid((80.0, 82.0, 30.0, 32.0))
    time = np.array(["2003-01-16", "2003-02-15", "2003-03-16", "2003-05-16", "2003-06-16"], "datetime64[ns]")[:nt]
    bounds = np.stack([time - np.timedelta64(14, "D"), time + np.timedelta64(15, "D")], axis=1)
    ewh = rng.normal(0, 0.05, (nt, grid.size))
    ewh[3] = np.nan
    kw = dict(ewh_error=np.abs(ewh) + 0.01, trend=rng.normal(0, 0.01, grid.size), trend_error=np.full(grid.size, 0.01),
              glacier=0.5 * ewh, alpha_preliminary=np.ones(nt), alpha_refined=np.full(nt, 2.0),
              variance_factor=np.ones(nt), degrees_of_freedom=np.full(nt, 9.0), month=[str(t)[:7] for t in time],
              decimal_year=2003 + np.arange(nt) / 12, time_bounds=bounds, glacier_area=0.1 * grid.area,
              land_mask=land_mask(lat, lon), parameters={"preset": "default", "box": (80, 82, 30, 32)},
              provenance={"data_dir": "/x", "input_sha256": {"grace/a.gz": "0" * 64}})
    kw.update(extra)
    return solution_to_dataset(ewh, time, lat, lon, grid.area, **kw), ewh


def test_land_mask_is_the_shipped_coastline():
    # the paper's box is land throughout; its 5-degree buffer reaches the Arabian Sea and the Bay of Bengal
    grid = mascon_grid()
    assert land_mask(grid.lat_axis, grid.lon_axis).all()
    wide = mascon_grid(buffer_deg=5.0)
    m = land_mask(wide.lat_axis, wide.lon_axis)
    assert m.dtype == np.int8 and set(np.unique(m)) == {0, 1}
    sea = wide.to_dataarray(1 - m.ravel())
    assert sea.sel(lat=21.25, lon=88.25) == 1 and sea.sel(lat=30.25, lon=88.25) == 0  # Bay of Bengal, Tibet
    # across the Bengal coast the land cells cover the land area of the box (cells >= half land)
    lat, lon = np.arange(18.25, 26.0, 0.5), np.arange(84.25, 94.0, 0.5)
    box = shapely.box(84.0, 18.0, 94.0, 26.0)
    land_fraction = shapely.area(shapely.intersection(box, load_naturalearth()["land"])) / shapely.area(box)
    assert abs(land_mask(lat, lon).mean() - land_fraction) < 0.02
    # the threshold decides the coast cells only
    assert (land_mask(lat, lon, threshold=0.01) >= land_mask(lat, lon, threshold=0.99)).all()


def test_land_mask_beyond_the_extract_comes_from_globe():
    # Alaska: interior land, the Gulf of Alaska sea, and Kodiak Island's coast
    lat, lon = np.arange(56.25, 66.0, 0.5), np.arange(-155.75, -140.0, 0.5)
    assert not inside_naturalearth(lat, lon)
    m = land_mask(lat, lon)
    da = mascon_grid((-156.0, -140.0, 56.0, 66.0)).to_dataarray(m.ravel())
    assert da.sel(lat=64.25, lon=-150.25) == 1 and da.sel(lat=57.25, lon=-145.25) == 0
    # inside the extract the two sources agree on all but the coast cells (Bay of Bengal)
    lat, lon = np.arange(18.25, 26.0, 0.5), np.arange(84.25, 94.0, 0.5)
    assert inside_naturalearth(lat, lon)
    lat_b, lon_b = cell_bounds(lat, "lat"), cell_bounds(lon, "lon")
    globe_mask = (globe_land_fraction(lat_b, lon_b) >= 0.5).astype("i1")
    assert np.mean(globe_mask == land_mask(lat, lon)) > 0.95
    # the fraction is a fraction: all-sea and all-land cells
    lat_b = cell_bounds(np.array([40.25, 40.75]), "lat")
    assert globe_land_fraction(lat_b, cell_bounds(np.array([-150.25, -149.75]), "lon")).max() == 0.0  # Pacific
    assert globe_land_fraction(lat_b, cell_bounds(np.array([100.25, 100.75]), "lon")).min() == 1.0  # Gansu


def test_time_bounds_are_the_data_spans():
    t = np.array(["2004-01-16", "2004-02-15", "2004-03-16"], "datetime64[ns]")
    start = np.array(["2004-01-01", "2004-02-01", "2004-03-01"], "datetime64[ns]")
    end = np.array(["2004-02-01", "2004-03-01", "2004-04-01"], "datetime64[ns]")
    ds = xr.Dataset(coords={"time": t, "time_start": ("time", start), "time_end": ("time", end)})
    np.testing.assert_array_equal(time_bounds_of(ds), np.stack([start, end], axis=1))
    np.testing.assert_array_equal(time_bounds_of(ds, t[[0, 2]]), np.stack([start, end], axis=1)[[0, 2]])
    with pytest.raises(ValueError, match="time_start"):
        time_bounds_of(xr.Dataset(coords={"time": t}))


def test_layout_refuses_inconsistent_fields():
    lat, lon = np.arange(30.25, 31.0, 0.5), np.arange(80.25, 81.0, 0.5)
    t = np.array(["2004-01-16"], "datetime64[ns]")
    area = np.ones((2, 2))
    with pytest.raises(ValueError, match="must contain its mid-epoch"):
        layout_variables(lat, lon, t, area, time_bounds=[[t[0] + np.timedelta64(1, "D"), t[0] + np.timedelta64(9, "D")]])
    with pytest.raises(ValueError, match="time_bounds: expected shape"):
        layout_variables(lat, lon, t, area, time_bounds=[t[0], t[0]])
    with pytest.raises(ValueError, match="land_mask"):
        layout_variables(lat, lon, t, area, land_mask=np.full((2, 2), 2))
    with pytest.raises(ValueError, match="glacier_area"):
        layout_variables(lat, lon, t, area, glacier_area=np.ones(3))


def test_missing_values_are_minus_99999_on_disk_and_nan_when_read(tmp_path):
    ds, ewh = _product()
    path = write_solution(ds, tmp_path / "p.nc")
    with netCDF4.Dataset(path) as nc:
        for name in ("lwe_thickness", "uncertainty", "glacier_lwe_thickness"):
            v = nc[name]
            v.set_auto_mask(False)
            assert v._FillValue == FILL_VALUE == -99999.0
            assert (v[3] == FILL_VALUE).all() and (v[[0, 1, 2, 4]] != FILL_VALUE).all()
        for name in ("lat_bounds", "lon_bounds", "time_bounds", "time", "lat", "lon"):
            assert "_FillValue" not in nc[name].ncattrs(), name
        assert nc["lat"].bounds == "lat_bounds" and nc["time"].bounds == "time_bounds"
        assert nc["lat_bounds"].dimensions == ("lat", "bounds")
    with xr.open_dataset(path) as back:
        assert np.isnan(back["lwe_thickness"].values[3]).all()
        assert np.isnan(back["uncertainty"].values[3]).all()
        np.testing.assert_allclose(back["lwe_thickness"].values.reshape(5, -1), 100 * ewh, equal_nan=True, rtol=1e-15)
        np.testing.assert_array_equal(back["time_bounds"].values, ds["time_bounds"].values)
        assert back["land_mask"].dtype == np.int8
        assert back.attrs["time_coverage_start"] == "2003-01-02T00:00:00Z"


def test_the_product_passes_the_cf_check(cf_check, tmp_path):
    ds, _ = _product()
    assert cf_check(write_solution(ds, tmp_path / "p.nc")) == []


@pytest.mark.parametrize("var, attr, value, expect", [
    ("lwe_thickness", "standard_name", "mascon_liquid_water_thickness", "mascon_liquid_water_thickness is not defined"),
    ("lwe_thickness", "standard_name", "lwe_thickness", "lwe_thickness is not defined"),  # the JPL/CSR files' name
    ("cell_area", "units", "cm", 'cell_area must be convertible to canonical units "m2"'),  # cell_area is an area
    ("glacier_area_fraction", "units", "m",  # land_ice_area_fraction is dimensionless
     'glacier_area_fraction must be convertible to canonical units "1"'),
    ("lwe_thickness", "units", "furlongs per fortnight squared", "not recognized by UDUNITS"),
])
def test_the_cf_check_can_fail(cf_check, tmp_path, var, attr, value, expect):
    ds, _ = _product()
    path = write_solution(ds, tmp_path / "p.nc")
    with netCDF4.Dataset(path, "a") as nc:
        nc[var].setncattr(attr, value)
    failures = cf_check(path)
    assert failures, f"{var}.{attr} = {value!r} passed the CF check"
    assert any(expect in f for f in failures), failures


def test_standard_names_are_those_cf_defines(tmp_path):
    table = ET.fromstring(gzip.decompress(CF_STANDARD_NAME_TABLE.read_bytes()))
    defined = {e.get("id") for e in table.iter("entry")} | {e.get("id") for e in table.iter("alias")}
    assert table.findtext("version_number") == "93" and len(defined) > 4000
    assert "lwe_thickness" not in defined  # why the mascon fields carry a long_name only
    ds, _ = _product()
    with netCDF4.Dataset(write_solution(ds, tmp_path / "p.nc")) as nc:
        assert nc.standard_name_vocabulary == "CF Standard Name Table v93"
        names = {v.standard_name for v in nc.variables.values() if "standard_name" in v.ncattrs()}
    assert names == {"time", "latitude", "longitude", "cell_area", "land_ice_area_fraction", "land_binary_mask"}
    assert names <= defined
