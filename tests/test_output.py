"""CF netCDF output: round trip, units, bounds, attributes."""

from __future__ import annotations

import re

import cftime
import netCDF4
import numpy as np
import pytest

from hma_mascon.output import cell_bounds, read_solution, solution_to_dataset, write_solution

# A minimal UDUNITS-2 grammar for the units this package writes: products of known symbols with
# optional integer exponents, or the dimensionless "1".
_SYMBOLS = {"cm": 1e-2, "m": 1.0, "m2": 1.0, "yr": 1.0, "year": 1.0, "degrees_north": 1.0, "degrees_east": 1.0}
_TOKEN = re.compile(r"^(cm|m|yr|year|degrees_north|degrees_east)(-?\d+)?$")


def _parse_units(units: str):
    if units == "1":
        return {}
    dims = {}
    for tok in units.split():
        m = _TOKEN.match(tok)
        if m is None:
            raise ValueError(f"unparseable unit token {tok!r} in {units!r}")
        base = "m" if m.group(1) in ("cm", "m") else m.group(1)
        base = "yr" if base == "year" else base
        dims[base] = dims.get(base, 0) + int(m.group(2) or 1)
    return dims


def _problem(nt=5, seed=0):
    rng = np.random.default_rng(seed)
    lat = np.arange(30.25, 32.0, 0.5)
    lon = np.arange(80.25, 82.0, 0.5)
    ny, nx = lat.size, lon.size
    time = np.array(["2003-01-16", "2003-02-15", "2003-03-16", "2003-05-16", "2003-06-16"], dtype="datetime64[ns]")[:nt]
    # spherical cell areas computed independently of the package
    R = 6371008.8
    dlam = np.deg2rad(0.5)
    area_row = R**2 * dlam * (np.sin(np.deg2rad(lat + 0.25)) - np.sin(np.deg2rad(lat - 0.25)))
    area = np.repeat(area_row[:, None], nx, axis=1)
    ewh = rng.normal(0, 0.05, (nt, ny * nx))
    ewh[3] = np.nan  # a missing month
    return dict(ewh=ewh, time=time, lat=lat, lon=lon, cell_area=area, rng=rng)


def test_round_trip_and_cm(tmp_path):
    p = _problem()
    rng = p.pop("rng")
    trend = rng.normal(0, 0.01, p["cell_area"].shape)
    alpha = rng.uniform(0.1, 10, 5)
    ds = solution_to_dataset(
        **p,
        trend=trend,
        trend_error=np.abs(trend) + 0.001,
        glacier=p["ewh"] * 0.5,
        alpha_preliminary=alpha,
        alpha_refined=alpha * 2,
        variance_factor=np.ones(5),
        degrees_of_freedom=np.full(5, 7.0),
        month=["2003-01", "2003-02", "2003-03", "2003-05", "2003-06"],
        parameters={"altitude": 450e3, "kind": "radial", "two_step": True, "box": (65, 105, 26, 47)},
        provenance={"files": ["a.gz", "b.gz"], "data_dir": "/x"},
    )
    path = write_solution(ds, tmp_path / "sub" / "sol.nc")
    back = read_solution(path)
    # metres in, cm in the file
    np.testing.assert_allclose(back["lwe_thickness"].values.reshape(5, -1), p["ewh"] * 100, equal_nan=True)
    assert np.isnan(back["lwe_thickness"].values[3]).all()
    np.testing.assert_allclose(back["lwe_thickness_trend"].values, trend * 100)
    np.testing.assert_allclose(back["alpha_refined"].values, alpha * 2)
    np.testing.assert_array_equal(back["time"].values, p["time"])
    assert list(back["month"].values) == ["2003-01", "2003-02", "2003-03", "2003-05", "2003-06"]
    assert back.attrs["param_kind"] == "radial"
    assert back.attrs["param_two_step"] == 1
    np.testing.assert_allclose(back.attrs["param_box"], [65, 105, 26, 47])
    assert "a.gz" in back.attrs["provenance_files"]
    # Gt sums a reader forms from the file equal those from the metres in memory
    gt_file = (back["lwe_thickness"] / 100 * 1000 * back["cell_area"]).sum(("lat", "lon")).values / 1e12
    gt_mem = np.nansum(p["ewh"] * 1000 * p["cell_area"].ravel(), axis=1) / 1e12
    np.testing.assert_allclose(gt_file, gt_mem, rtol=1e-12)


def test_cf_sanity(tmp_path):
    p = _problem()
    p.pop("rng")
    ds = solution_to_dataset(**p, trend=np.zeros(p["cell_area"].shape), trend_error=np.ones(p["cell_area"].shape))
    path = write_solution(ds, tmp_path / "sol.nc")
    with netCDF4.Dataset(path) as nc:
        assert nc.getncattr("Conventions") == "CF-1.8"
        for attr in ("title", "history", "institution", "source", "references"):
            assert nc.getncattr(attr)
        v = nc["lwe_thickness"]
        # the CF table has no "lwe_thickness" (only lwe_thickness_of_..._amount): no standard name claimed
        assert "standard_name" not in v.ncattrs() and v.long_name
        assert v.dimensions == ("time", "lat", "lon")
        # every data variable with units has parseable units; EWH in a length, trend in length/time
        assert _parse_units(v.units) == {"m": 1}
        assert _parse_units(nc["lwe_thickness_trend"].units) == {"m": 1, "yr": -1}
        assert _parse_units(nc["cell_area"].units) == {"m": 2} or nc["cell_area"].units == "m2"
        for name in nc.variables:
            if hasattr(nc[name], "units") and name != "time":
                _parse_units(nc[name].units)
        # time units are CF: cftime decodes them back to the dates we wrote
        t = nc["time"]
        dates = cftime.num2date(t[:], t.units, calendar=t.calendar, only_use_cftime_datetimes=False)
        assert [d.strftime("%Y-%m-%d") for d in dates] == [str(x)[:10] for x in p["time"]]
        # bounds: named, contiguous, contain the centres, widths = spacing
        for c in ("lat", "lon"):
            bname = nc[c].bounds
            b = nc[bname][:]
            centres = nc[c][:]
            assert np.all(b[:, 0] < centres) and np.all(centres < b[:, 1])
            np.testing.assert_allclose(b[1:, 0], b[:-1, 1])
            np.testing.assert_allclose(b[:, 1] - b[:, 0], 0.5)
        assert nc["lwe_thickness"].cell_measures == "area: cell_area"
        # the cell areas tile the box: sum equals the spherical zone area computed from the bounds
        R = 6371008.8
        latb = nc["lat_bounds"][:]
        lonb = nc["lon_bounds"][:]
        box = R**2 * np.deg2rad(lonb[-1, 1] - lonb[0, 0]) * (
            np.sin(np.deg2rad(latb[-1, 1])) - np.sin(np.deg2rad(latb[0, 0]))
        )
        np.testing.assert_allclose(nc["cell_area"][:].sum(), box, rtol=1e-10)


def test_errors_name_the_problem(tmp_path):
    p = _problem()
    p.pop("rng")
    with pytest.raises(ValueError, match="alpha_refined"):
        solution_to_dataset(**p, alpha_refined=np.ones(3))
    bad = dict(p)
    bad["ewh"] = p["ewh"][:, :-1]
    with pytest.raises(ValueError, match="ewh"):
        solution_to_dataset(**bad)
    with pytest.raises(ValueError, match="equally spaced"):
        cell_bounds([1.0, 2.0, 4.0], "lat")
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    with pytest.raises(ValueError, match="junk.nc"):
        read_solution(junk)
    with pytest.raises(FileNotFoundError, match="missing.nc"):
        read_solution(tmp_path / "missing.nc")


def test_old_files_keep_working(tmp_path):
    """A file of an earlier version (error as lwe_thickness_error, bounds lat_bnds/lon_bnds on nv, NaN
    fill) reads with the current names."""
    p = _problem()
    p.pop("rng")
    ds = solution_to_dataset(**p, ewh_error=np.abs(p["ewh"]))
    old = ds.rename({"uncertainty": "lwe_thickness_error", "lat_bounds": "lat_bnds", "lon_bounds": "lon_bnds"})
    old = old.rename_dims(bounds="nv")
    old["lat"].attrs["bounds"], old["lon"].attrs["bounds"] = "lat_bnds", "lon_bnds"
    old.to_netcdf(tmp_path / "old.nc")
    back = read_solution(tmp_path / "old.nc")
    assert "uncertainty" in back and "lwe_thickness_error" not in back
    np.testing.assert_allclose(back["uncertainty"].values, ds["uncertainty"].values, equal_nan=True)
    assert back["lat"].attrs["bounds"] == "lat_bounds" and back["lat_bounds"].dims == ("lat", "bounds")
    assert np.isnan(back["lwe_thickness"].values[3]).all()
    # a current file is read as written
    new = read_solution(write_solution(ds, tmp_path / "new.nc"))
    assert set(new.data_vars) == set(ds.data_vars)


def test_zarr_store_round_trips_and_replaces_atomically(tmp_path):
    """A Zarr store holds the values (NaN where missing) and JSON-able attributes; a failed write
    leaves the previous store as it was."""
    import xarray as xr

    from hma_mascon.output import write_zarr
    from hma_mascon.safeio import AtomicWriteError

    p = _problem()
    p.pop("rng")
    ds = solution_to_dataset(**p)
    ds.attrs["numpy_scalar"] = np.float64(2.5)
    path = write_zarr(ds, tmp_path / "s.zarr", chunks={"time": 2})
    with xr.open_zarr(path) as back:
        back = back.load()
    np.testing.assert_array_equal(back["lwe_thickness"].values, ds["lwe_thickness"].values)  # NaN month too
    assert np.isnan(back["lwe_thickness"].values[3]).all() and back.attrs["numpy_scalar"] == 2.5
    bad = ds.assign(broken=("time", np.array([object()] * ds.sizes["time"])))  # not storable
    with pytest.raises(AtomicWriteError):
        write_zarr(bad, path)
    with xr.open_zarr(path) as again:
        assert set(again.data_vars) == set(ds.data_vars)
