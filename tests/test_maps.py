"""Tests of the offline map helpers and the shipped Natural Earth extract."""

from __future__ import annotations

import io
import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from shapely.geometry import LineString, Point  # noqa: E402

from hma_mascon import maps  # noqa: E402


def test_shipped_extract_covers_the_box_and_knows_land_from_sea():
    ne = maps.load_naturalearth()
    lon_min, lon_max, lat_min, lat_max = maps.NATURALEARTH_BOX
    for geom in ne.values():
        x0, y0, x1, y1 = geom.bounds
        assert lon_min - 1e-6 <= x0 and x1 <= lon_max + 1e-6 and lat_min - 1e-6 <= y0 and y1 <= lat_max + 1e-6
    land = ne["land"]
    for lon, lat in [(91.1, 29.65), (77.2, 28.6), (74.3, 31.5), (87.6, 43.8)]:  # Lhasa, Delhi, Lahore, Urumqi
        assert land.contains(Point(lon, lat)), (lon, lat)
    for lon, lat in [(88.0, 15.0), (65.0, 15.0), (115.0, 15.0)]:  # Bay of Bengal, Arabian and S China seas
        assert not land.contains(Point(lon, lat)), (lon, lat)
    # The HMA box is mostly land: > 90 % of its area
    from shapely.geometry import box

    hma = box(65, 26, 105, 47)
    assert land.intersection(hma).area / hma.area > 0.9


def test_borders_separate_neighbours():
    border = maps.load_naturalearth()["border"]
    # India-China and Pakistan-India are crossed by a straight walk between their capitals' regions
    assert border.intersects(LineString([(77.2, 28.6), (91.1, 29.65)]))  # Delhi -> Lhasa
    assert border.intersects(LineString([(74.3, 31.5), (77.2, 28.6)]))  # Lahore -> Delhi
    # ... but not inside one country (central Tibetan plateau, far from any border)
    assert not border.intersects(LineString([(88.0, 32.0), (90.0, 32.5)]))


def test_malformed_file_is_named(tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(maps.MapDataError, match="bad.geojson"):
        maps.load_naturalearth(bad)
    partial = tmp_path / "partial.geojson"
    partial.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(maps.MapDataError, match="partial.geojson.*border"):
        maps.load_naturalearth(partial)


def _png_array(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    plt.close(fig)
    buf.seek(0)
    return plt.imread(buf)


def test_map_draws_offline_without_any_download(monkeypatch):
    import cartopy.io

    def forbidden(*args, **kwargs):
        raise AssertionError("cartopy tried to download map data")

    monkeypatch.setattr(cartopy.io.Downloader, "acquire_resource", forbidden)
    monkeypatch.setattr(cartopy.io.Downloader, "path", forbidden)
    ax = maps.map_axes()
    lon, lat = np.meshgrid(np.arange(65.25, 105, 2.0), np.arange(26.25, 47, 2.0))
    maps.plot_points(lon, lat, ax=ax, color="k")
    maps.add_box(ax=ax)
    img = _png_array(ax.figure)
    assert img[..., :3].std() > 0.02  # coastlines, borders, fill and points were drawn


def test_coastline_lies_where_the_map_changes(monkeypatch):
    """Land fill and coastline come from the same polygons: on a map of the Bay of Bengal,
    the sea (white) is south and the land (grey) is north of the coast at 90E."""
    ax = maps.map_axes((80, 100, 10, 30), gridlines=False, borders=False, figsize=(4, 4))
    ax.set_position([0, 0, 1, 1])
    img = _png_array(ax.figure)[..., :3].mean(axis=2)
    h = img.shape[0]
    col = img.shape[1] // 2  # 90E
    south, north = img[int(0.85 * h), col], img[int(0.1 * h), col]  # ~13N sea, ~28N land
    assert south > north + 0.03


def test_plot_field_symmetric_limits_and_cf_label():
    lat = np.arange(26.25, 47, 0.5)
    lon = np.arange(65.25, 105, 0.5)
    values = np.outer(np.linspace(-1, 1, lat.size), np.ones(lon.size)) * 0.2
    da = xr.DataArray(values, dims=("lat", "lon"), coords={"lat": lat, "lon": lon}, name="x",
                      attrs={"long_name": "equivalent water height trend", "units": "m/yr"})
    mesh = maps.plot_field(da)
    vmin, vmax = mesh.get_clim()
    assert vmin == -vmax and 0.19 <= vmax <= 0.2
    cbar_label = mesh.colorbar.ax.get_ylabel()
    assert cbar_label == "equivalent water height trend [m/yr]"
    plt.close(mesh.axes.figure)
    positive = maps.plot_field(da + 1.0)  # one sign only: sequential scale, not centred on zero
    assert positive.get_clim()[0] > 0.5
    plt.close(positive.axes.figure)
    with pytest.raises(ValueError, match="dims"):
        maps.plot_field(da.rename(lat="y"))


def test_region_outlines_from_geodataframe():
    import geopandas as gpd
    from shapely.geometry import box

    regions = gpd.GeoDataFrame({"himap_region": ["A", "B"]},
                               geometry=[box(70, 30, 75, 35), box(80, 30, 85, 35)], crs=4326)
    ax = maps.map_axes(gridlines=False)
    assert maps.add_region_outlines(regions, ax, labels=True) == 2
    assert {t.get_text() for t in ax.texts} == {"A", "B"}
    plt.close(ax.figure)


@pytest.mark.realdata
def test_himap_regions_from_the_data_mirror(data_dir):
    path = data_dir / "regions" / "boundary_mountain_regions_hma_v3_clean.gpkg"
    ax = maps.map_axes(gridlines=False)
    assert maps.add_region_outlines(path, ax) == 22
    plt.close(ax.figure)


def test_colour_limits_defaults_and_kept_limits():
    from hma_mascon.maps import colour_limits

    v = np.concatenate([np.linspace(-2.0, 2.0, 101), [np.nan, 50.0]])
    vmin, vmax, sym = colour_limits(v)
    f = v[np.isfinite(v)]
    assert sym and vmin == -vmax and vmax == pytest.approx(np.percentile(np.abs(f), 99)) and vmax < 50.0
    # a limit passed in is kept, the other one defaults (chapter 9 asks vmin=0 for RMS maps)
    vmin, vmax, sym = colour_limits(np.linspace(1.0, 3.0, 50), vmin=0.0)
    assert not sym and vmin == 0.0 and vmax == pytest.approx(np.percentile(np.linspace(1.0, 3.0, 50), 99))
    # a constant field gets a non-empty range
    vmin, vmax, _ = colour_limits(np.full(10, 4.0))
    assert vmax > vmin
