"""Tests of regions.py: area fractions, Gt sums, point lookup, WGMS readers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from _grid_standin import make_grid

from hma_mascon import regions
from hma_mascon.regions import (
    PAPER_REGIONS,
    area_fraction_weights,
    load_regions,
    load_wgms_balances,
    load_wgms_stations,
    point_cell_index,
    regional_mass,
)


def _box(w, e, s, n, k=40):
    t = np.linspace(0, 1, k, endpoint=False)
    xs = np.r_[w + (e - w) * t, np.full(k, e), e - (e - w) * t, np.full(k, w)]
    ys = np.r_[np.full(k, s), s + (n - s) * t, np.full(k, n), n - (n - s) * t]
    return shapely.Polygon(np.c_[xs, ys])


@pytest.fixture(scope="module")
def small_grid():
    return make_grid(box=(80.0, 84.0, 30.0, 33.0))


def _gdf(names, geoms):
    return gpd.GeoDataFrame({"region": names}, geometry=list(geoms), crs="EPSG:4326")


def test_aligned_and_shifted_boxes(small_grid):
    g = small_grid
    regs = _gdf(["aligned", "shifted"], [_box(81.0, 82.0, 31.0, 32.0), _box(81.25, 82.25, 31.25, 32.25)])
    w = area_fraction_weights(regs, g).values
    inside = (g.lon > 81) & (g.lon < 82) & (g.lat > 31) & (g.lat < 32)
    np.testing.assert_allclose(w[0][inside], 1.0, atol=1e-4)
    np.testing.assert_allclose(w[0][~inside], 0.0, atol=1e-4)
    # shifted by half a cell: the 3x3 cells touched get 1 (centre), ~1/2 (edges), ~1/4 (corners)
    vals = np.sort(w[1][w[1] > 1e-6])
    assert np.sum(vals > 1e-3) == 9
    vals = vals[vals > 1e-3]
    np.testing.assert_allclose(vals[:4], 0.25, atol=0.01)
    np.testing.assert_allclose(vals[4:8], 0.5, atol=0.01)
    np.testing.assert_allclose(vals[8], 1.0, atol=1e-4)
    # sum of fraction x cell area equals the polygon area on the equal-area projection
    area = shapely.area(regions.to_albers(regs.geometry.values))
    np.testing.assert_allclose((w * g.area).sum(axis=1), area, rtol=1e-4)


def test_centre_method_and_buffer(small_grid):
    g = small_grid
    regs = _gdf(["a"], [_box(81.1, 82.1, 31.1, 32.1)])
    wc = area_fraction_weights(regs, g, method="centre").values[0]
    expect = (g.lon > 81.1) & (g.lon < 82.1) & (g.lat > 31.1) & (g.lat < 32.1)
    np.testing.assert_array_equal(wc.astype(bool), expect)


def test_region_outside_grid_raises(small_grid):
    regs = _gdf(["far"], [_box(60.0, 61.0, 10.0, 11.0)])
    with pytest.raises(ValueError, match="far"):
        area_fraction_weights(regs, small_grid)
    part = _gdf(["part"], [_box(83.0, 86.0, 31.0, 32.0)])
    with pytest.raises(ValueError, match="part"):
        area_fraction_weights(part, small_grid)


def test_regional_mass_closed_loop(small_grid):
    g = small_grid
    regs = _gdf(["a", "b"], [_box(80.5, 81.5, 30.5, 31.5), _box(82.0, 83.5, 31.0, 32.5)])
    w = area_fraction_weights(regs, g)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, g.lat.size))
    m = regional_mass(x, w, g, time=np.arange(5))
    # independent path: per-cell mass in Gt, masked by region
    cell_gt = x * g.area * 1000.0 / 1e12
    inside_a = (g.lon > 80.5) & (g.lon < 81.5) & (g.lat > 30.5) & (g.lat < 31.5)
    np.testing.assert_allclose(m.sel(region="a").values, cell_gt[:, inside_a].sum(axis=1), rtol=1e-4)
    np.testing.assert_allclose(m.sel(region="HMA").values, m.sel(region=["a", "b"]).sum("region").values)
    # 1 m EWH over a region = rho_w x area
    area_b = shapely.area(regions.to_albers([regs.geometry.values[1]]))[0]
    one = regional_mass(np.ones(g.lat.size), w, g)
    np.testing.assert_allclose(one.sel(region="b").item(), 1000.0 * area_b / 1e12, rtol=1e-4)
    assert m.attrs["units"] == "Gt"


def test_point_cell_index(small_grid):
    g = small_grid
    i = point_cell_index(g, 31.3, 82.6)
    assert abs(g.lat[i] - 31.25) < 1e-9 and abs(g.lon[i] - 82.75) < 1e-9
    idx = point_cell_index(g, [30.01, 32.99], [80.01, 83.99])
    assert idx.tolist() == [0, g.lat.size - 1]
    with pytest.raises(ValueError, match="outside"):
        point_cell_index(g, 40.0, 82.0)


@pytest.mark.realdata
def test_real_regions(data_dir):
    g = make_grid()
    regs = load_regions(data_dir)
    assert list(regs["region"]) == list(PAPER_REGIONS)
    assert regs["number"].tolist() == list(range(1, 17))
    all22 = load_regions(data_dir, names=None)
    assert len(all22) == 22
    # robust but exact matching
    assert load_regions(data_dir, names=["  northern/western tien SHAN "])["himap_region"].item() == \
        "Northern/Western Tien Shan"
    with pytest.raises(ValueError, match="Tien Shan"):
        load_regions(data_dir, names=["Tien Shan"])
    w = area_fraction_weights(regs, g)
    area = shapely.area(regions.to_albers(regs.geometry.values))
    np.testing.assert_allclose((w.values * g.area).sum(axis=1), area, rtol=0.01)


@pytest.mark.realdata
def test_real_wgms(data_dir):
    st = load_wgms_stations(data_dir)
    assert sorted(st["short"]) == ["ABRAMOV", "AKSHIYRAK", "TS", "YALA"]
    ab = st[st["short"] == "ABRAMOV"].iloc[0]
    # AMB-17: the paper prints ABRAMOV at (71.57 N, 39.65 E); it is in the Pamir Alay at 39.6 N, 71.6 E
    assert abs(ab.lat - 39.6) < 0.1 and abs(ab.lon - 71.55) < 0.1
    g = make_grid()
    regs = load_regions(data_dir, names=["Pamir Alay"])
    assert regs.geometry.values[0].distance(shapely.Point(ab.lon, ab.lat)) < 0.3
    point_cell_index(g, st["lat"].values, st["lon"].values)
    b = load_wgms_balances(data_dir, "TS")
    assert b.index.is_monotonic_increasing and b.index.max() >= 2019
    np.testing.assert_allclose(b["balance_m_we"], b["balance_mm_we"] / 1000)
    assert (b["end"].dt.month == 9).all()
    # TS lost mass on average since 2006 (negative mean balance)
    assert b.loc[2006:, "balance_m_we"].mean() < 0
