"""Tests of the mascon and observation grids (METHODS.md section 3)."""

import numpy as np
import pytest
from scipy import integrate

from hma_mascon.constants import A_GRACE, GRS80, R_MEAN, WGS84
from hma_mascon.geometry import (
    ellipsoidal_cell_area,
    geodetic_to_geocentric,
    mascon_grid,
    observation_grid,
)


def test_default_sizes():
    g = mascon_grid()
    assert g.shape == (42, 80) and g.size == 3360
    assert np.isclose(g.lat_axis[0], 26.25) and np.isclose(g.lat_axis[-1], 46.75)
    assert np.isclose(g.lon_axis[0], 65.25) and np.isclose(g.lon_axis[-1], 104.75)
    o = observation_grid()
    assert o.shape == (53, 101) and o.size == 5353  # AMB-3
    assert np.isclose(o.lat_axis[-1], 46.8) and np.isclose(o.lon_axis[-1], 105.0)
    assert np.allclose(o.radius, A_GRACE + 450e3)
    assert not g.is_buffer.any() and not o.is_buffer.any()


def test_methods_numbers():
    # METHODS.md section 3: d = 6373.98 km at 26.25N, 6366.84 km at 46.75N; 46.75 -> 46.56 geocentric
    lat_c, d = geodetic_to_geocentric([26.25, 46.75], 0.0)
    assert np.allclose(d / 1e3, [6373.98, 6366.84], atol=0.005)
    assert abs(lat_c[1] - 46.56) < 0.005
    g = mascon_grid()
    assert np.isclose(g.radius[g.lat == 26.25][0] / 1e3, 6373.98, atol=0.005)


def test_geocentric_radius_is_on_the_ellipsoid():
    # independent check: a point on the ellipsoid satisfies (rho/a)^2 + (z/b)^2 = 1
    lat = np.linspace(-89, 89, 50)
    lat_c, d = geodetic_to_geocentric(lat, 0.0)
    rho = d * np.cos(np.deg2rad(lat_c))
    z = d * np.sin(np.deg2rad(lat_c))
    assert np.allclose((rho / GRS80.a) ** 2 + (z / GRS80.b) ** 2, 1.0, atol=1e-12)
    # geocentric latitude is closer to the equator than geodetic, tan(phi_c) = (1-e2) tan(phi)
    assert np.allclose(np.tan(np.deg2rad(lat_c)), (1 - GRS80.e2) * np.tan(np.deg2rad(lat)))


def _numeric_area(lat_s, lat_n, dlon, ell):
    # area element M N cos(phi) dphi dlambda, integrated numerically (independent of the closed form)
    def integrand(phi):
        w = 1 - ell.e2 * np.sin(phi) ** 2
        return ell.a * (1 - ell.e2) / w**1.5 * ell.a / np.sqrt(w) * np.cos(phi)
    val, _ = integrate.quad(integrand, np.deg2rad(lat_s), np.deg2rad(lat_n), epsabs=0, epsrel=1e-13)
    return val * np.deg2rad(dlon)


def test_cell_areas_sum_to_box_area():
    g = mascon_grid()
    box = _numeric_area(26.0, 47.0, 40.0, GRS80)
    assert np.isclose(g.area.sum(), box, rtol=1e-10)
    # one cell against numerical integration too
    assert np.isclose(ellipsoidal_cell_area(30.0, 30.5, 0.5), _numeric_area(30.0, 30.5, 0.5, GRS80), rtol=1e-10)
    # whole ellipsoid: 4 pi R_authalic^2 ~ 5.10066e14 m2; spherical option with R1 within 0.01 %
    full = ellipsoidal_cell_area(-90.0, 90.0, 360.0)
    assert np.isclose(full, 4 * np.pi * R_MEAN**2, rtol=1e-4)
    gs = mascon_grid(area="spherical")
    assert np.isclose(gs.area.sum(), 4 * np.pi * R_MEAN**2 * 40 / 360 * (np.sin(np.deg2rad(47)) - np.sin(np.deg2rad(26))) / 2)
    assert abs(gs.area.sum() / g.area.sum() - 1) < 5e-3


def test_wgs84_and_topography_options():
    g = mascon_grid()
    gw = mascon_grid(ellipsoid="WGS84")
    assert np.max(np.abs(gw.radius - g.radius)) < 1e-3  # < 1 mm
    h = np.full(g.shape, 4500.0)
    gt = mascon_grid(height="topography", heights=h)
    assert np.allclose(gt.radius - g.radius, 4500.0, atol=1.0)
    with pytest.raises(ValueError, match="heights"):
        mascon_grid(height="topography")
    assert WGS84.a == GRS80.a


def test_buffers():
    g = mascon_grid(buffer_deg=1.0)
    assert g.shape == (46, 84)
    assert g.is_buffer.sum() == 46 * 84 - 42 * 80
    assert np.isclose(g.area[~g.is_buffer].sum(), mascon_grid().area.sum())
    o = observation_grid(buffer_deg=0.8)
    assert o.is_buffer.sum() == o.size - 5353
    with pytest.raises(ValueError, match="multiple"):
        mascon_grid(buffer_deg=0.3)


def test_buffer_extent_widens_one_side_and_keeps_the_box_cells():
    """A buffer extent to the west adds buffer cells on that side only; the box's cells (and the ring's
    other sides) are the plain grid's, with the same areas; off the box's lattice is an error."""
    box = (8.0, 36.0, 76.0, 81.0)
    plain = mascon_grid(box, 0.5, 5.0)
    wide = mascon_grid(box, 0.5, 5.0, extent=(-25.0, 36.0, 76.0, 81.0))
    assert wide.lon_axis[0] == -24.75 and wide.lon_axis[-1] == plain.lon_axis[-1]
    assert np.array_equal(wide.lat_axis, plain.lat_axis)
    assert wide.shape == (plain.shape[0], plain.shape[1] + 56)
    assert (~wide.is_buffer).sum() == (~plain.is_buffer).sum() == 10 * 56
    inner = ~wide.is_buffer
    assert np.array_equal(wide.lon[inner], plain.lon[~plain.is_buffer])
    assert np.allclose(wide.area[inner], plain.area[~plain.is_buffer], rtol=0, atol=0)
    assert wide.is_buffer[wide.lon < 3.0].all()
    o = observation_grid(box, 0.4, 450e3, 5.0, extent=(-25.0, 36.0, 76.0, 81.0))
    assert o.lon_axis[0] == -25.0 and o.lon_axis[-1] <= 41.0 and o.is_buffer[o.lon < 8.0].all()
    assert mascon_grid(box, 0.5, 5.0, extent=(10.0, 20.0, 77.0, 80.0)).shape == plain.shape  # inside: no change
    with pytest.raises(ValueError, match="lattice"):
        mascon_grid(box, 0.5, 5.0, extent=(-25.2, 36.0, 76.0, 81.0))


def test_to_dataarray_roundtrip():
    g = mascon_grid()
    x = np.arange(g.size, dtype=float)
    da = g.to_dataarray(x, name="ewh", units="m", long_name="equivalent water height")
    assert da.dims == ("lat", "lon") and da.attrs["units"] == "m"
    # the value at (lat, lon) is the cell whose centre is there
    j = 1234
    assert da.sel(lat=g.lat[j], lon=g.lon[j]).item() == x[j]
    assert np.array_equal(g.from_dataarray(da), x)
    xt = np.stack([x, 2 * x])
    dat = g.to_dataarray(xt, extra_dims=("time",))
    assert dat.dims == ("time", "lat", "lon")
    with pytest.raises(ValueError, match="3360"):
        g.to_dataarray(x[:-1])
