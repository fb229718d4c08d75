"""Map plotting helpers that work offline.

cartopy does the projection and drawing (``GeoAxes``, ``ShapelyFeature``); matplotlib does the
rest. What is written by hand is only the wiring that keeps the maps offline and consistent:

* coastlines and borders come from a small shipped file, ``hma_mascon/data/naturalearth/
  asia_50m.geojson`` (Natural Earth 1:50m, public domain, clipped to 40-120E, 10-60N; see the
  README beside it). ``GeoAxes.coastlines()`` and ``cartopy.feature.BORDERS`` are never used,
  because they download Natural Earth at run time, which the book must not do;
* gridded fields are drawn from labelled ``xarray.DataArray`` objects with dims ``(lat, lon)``;
  the colour bar is labelled from the CF attributes ``long_name`` and ``units``;
* HiMAP region outlines (Bolch et al. 2019) are drawn from a GeoDataFrame or a vector file
  when one is available.

All functions take an optional ``ax`` and return the artist or axes they drew, so figures can be
composed in the notebooks.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .constants import HMA_BOX
from .errors import InputError

#: The shipped Natural Earth extract (land polygons and country borders, 40-120E, 10-60N).
NATURALEARTH_FILE = Path(__file__).parent / "data" / "naturalearth" / "asia_50m.geojson"

#: The box covered by :data:`NATURALEARTH_FILE` (lon_min, lon_max, lat_min, lat_max) [deg].
NATURALEARTH_BOX = (40.0, 120.0, 10.0, 60.0)


class MapDataError(InputError):
    """A shipped or user-given map file is malformed."""


@lru_cache(maxsize=4)
def load_naturalearth(path: str | Path = NATURALEARTH_FILE) -> dict:
    """Read the shipped Natural Earth extract.

    Parameters
    ----------
    path : str or Path
        A GeoJSON FeatureCollection whose features carry a ``kind`` property
        (``"land"`` and ``"border"``).

    Returns
    -------
    dict
        ``{"land": MultiPolygon, "border": MultiLineString}`` as shapely geometries in lon/lat.

    Raises
    ------
    MapDataError
        If the file cannot be parsed or lacks one of the two kinds; the message names the file.
    """
    from shapely.geometry import shape

    path = Path(path)
    try:
        collection = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MapDataError(f"{path}: cannot read the Natural Earth GeoJSON ({exc})") from exc
    out = {}
    for k, feature in enumerate(collection.get("features", [])):
        kind = feature.get("properties", {}).get("kind")
        try:
            out[kind] = shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MapDataError(f"{path}: feature {k} ({kind!r}) has no valid geometry ({exc})") from exc
    missing = {"land", "border"} - set(out)
    if missing:
        raise MapDataError(f"{path}: missing feature kind(s) {sorted(missing)}; expected 'land' and 'border'")
    return out


def _plate_carree():
    import cartopy.crs as ccrs

    return ccrs.PlateCarree()


def coastline_feature(edgecolor="0.2", linewidth=0.6, **kwargs):
    """A cartopy ``ShapelyFeature`` of the coastline (outline of the shipped land polygons)."""
    from cartopy.feature import ShapelyFeature

    land = load_naturalearth()["land"]
    return ShapelyFeature([land], _plate_carree(), facecolor="none", edgecolor=edgecolor,
                          linewidth=linewidth, **kwargs)


def land_feature(facecolor="0.93", **kwargs):
    """A filled land ``ShapelyFeature`` (draw it below data, ``zorder=0``)."""
    from cartopy.feature import ShapelyFeature

    land = load_naturalearth()["land"]
    return ShapelyFeature([land], _plate_carree(), facecolor=facecolor, edgecolor="none", **kwargs)


def border_feature(edgecolor="0.25", linewidth=0.5, linestyle=":", **kwargs):
    """A cartopy ``ShapelyFeature`` of the country borders from the shipped file."""
    from cartopy.feature import ShapelyFeature

    border = load_naturalearth()["border"]
    return ShapelyFeature([border], _plate_carree(), facecolor="none", edgecolor=edgecolor,
                          linewidth=linewidth, linestyle=linestyle, **kwargs)


def map_axes(extent=HMA_BOX, ax=None, *, figsize=(8.0, 4.6), land=True, borders=True,
             gridlines=True):
    """Create (or decorate) a Plate Carree map of ``extent`` with offline coastlines and borders.

    Parameters
    ----------
    extent : tuple of float
        ``(lon_min, lon_max, lat_min, lat_max)`` in degrees; default the paper's HMA box.
    ax : cartopy GeoAxes, optional
        Axes to decorate; a new figure is made when omitted.
    figsize : tuple
        Size of a new figure [inch].
    land, borders, gridlines : bool
        Draw the land fill, the country borders and labelled gridlines.

    Returns
    -------
    cartopy.mpl.geoaxes.GeoAxes
    """
    import matplotlib.pyplot as plt

    lon_min, lon_max, lat_min, lat_max = (float(v) for v in extent)
    if not (lon_min < lon_max and lat_min < lat_max):
        raise ValueError(f"map extent {extent}: expected lon_min < lon_max and lat_min < lat_max")
    if ax is None:
        fig = plt.figure(figsize=figsize)
        ax = fig.add_subplot(1, 1, 1, projection=_plate_carree())
    ax.set_extent([lon_min, lon_max, lat_min, lat_max], crs=_plate_carree())
    if land:
        ax.add_feature(land_feature(), zorder=0)
    ax.add_feature(coastline_feature(), zorder=3)
    if borders:
        ax.add_feature(border_feature(), zorder=3)
    if gridlines:
        gl = ax.gridlines(draw_labels=True, linewidth=0.3, color="0.6", alpha=0.7)
        gl.top_labels = False
        gl.right_labels = False
    return ax


def plot_points(lon, lat, ax=None, *, s=1.0, **kwargs):
    """Scatter points given in degrees (e.g. mascon centres or observation nodes) on a map."""
    if ax is None:
        ax = map_axes()
    lon = np.asarray(lon, dtype=float).ravel()
    lat = np.asarray(lat, dtype=float).ravel()
    if lon.shape != lat.shape:
        raise ValueError(f"plot_points: lon has {lon.size} values, lat has {lat.size}")
    return ax.scatter(lon, lat, s=s, transform=_plate_carree(), zorder=4, **kwargs)


def add_box(box=HMA_BOX, ax=None, **kwargs):
    """Outline the box ``(lon_min, lon_max, lat_min, lat_max)`` on a map."""
    lon_min, lon_max, lat_min, lat_max = box
    kwargs.setdefault("color", "k")
    kwargs.setdefault("linewidth", 1.0)
    return ax.plot([lon_min, lon_max, lon_max, lon_min, lon_min],
                   [lat_min, lat_min, lat_max, lat_max, lat_min],
                   transform=_plate_carree(), zorder=5, **kwargs)


def cf_label(da) -> str:
    """``"long_name [units]"`` from a DataArray's CF attributes (falls back to its name)."""
    name = da.attrs.get("long_name") or da.attrs.get("standard_name") or da.name or ""
    units = da.attrs.get("units")
    return f"{name} [{units}]" if units else str(name)


def colour_limits(values, vmin=None, vmax=None, symmetric=None):
    """Default colour limits of a field (or of several panels' values together).

    ``symmetric`` (default: the finite values take both signs) gives ±(99th percentile of |values|),
    else the 1-99 % range (widened by 1 when it is empty). Limits passed in are kept.

    Returns
    -------
    (vmin, vmax, symmetric)
    """
    v = np.asarray(values, dtype=float).ravel()
    finite = v[np.isfinite(v)]
    if symmetric is None:
        symmetric = bool(finite.size > 0 and finite.min() < 0 < finite.max())
    if finite.size and (vmin is None or vmax is None):
        if symmetric:
            lim = float(np.percentile(np.abs(finite), 99)) or 1.0
            lo, hi = -lim, lim
        else:
            lo, hi = (float(q) for q in np.percentile(finite, [1, 99]))
            hi = hi if hi > lo else lo + 1.0
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    return vmin, vmax, symmetric


def plot_field(da, ax=None, *, cmap=None, symmetric=None, vmin=None, vmax=None, colorbar=True,
               extent=None, **kwargs):
    """Draw a gridded field with dims ``(lat, lon)`` as cells (``pcolormesh``).

    Parameters
    ----------
    da : xarray.DataArray
        2-D, dims ``("lat", "lon")`` (cell centres in degrees, ascending).
    symmetric : bool, optional
        Centre the colour scale on zero (diverging colour map). Default: True when the field
        takes both signs.
    vmin, vmax : float, optional
        Colour limits; by default the 99th percentile of ``|da|`` (symmetric) or the 1-99 range.

    Returns
    -------
    matplotlib.collections.QuadMesh
    """
    if da.ndim != 2 or set(da.dims) != {"lat", "lon"}:
        raise ValueError(f"plot_field: expected a 2-D field with dims (lat, lon), got dims {da.dims}")
    da = da.transpose("lat", "lon")
    values = np.asarray(da.values, dtype=float)
    vmin, vmax, symmetric = colour_limits(values, vmin, vmax, symmetric)
    cmap = cmap or ("RdBu" if symmetric else "viridis")
    lon = da["lon"].values
    lat = da["lat"].values
    if ax is None:
        if extent is None:
            dlon = np.diff(lon).mean() / 2 if lon.size > 1 else 0.25
            dlat = np.diff(lat).mean() / 2 if lat.size > 1 else 0.25
            extent = (lon.min() - dlon, lon.max() + dlon, lat.min() - dlat, lat.max() + dlat)
        ax = map_axes(extent)
    mesh = ax.pcolormesh(lon, lat, values, cmap=cmap, vmin=vmin, vmax=vmax, shading="nearest",
                         transform=_plate_carree(), zorder=1, **kwargs)
    if colorbar:
        cbar = ax.figure.colorbar(mesh, ax=ax, shrink=0.8, pad=0.02)
        cbar.set_label(cf_label(da))
    return mesh


def add_region_outlines(regions, ax, *, name_column="himap_region", labels=False, **kwargs):
    """Outline region polygons (e.g. the HiMAP regions of Bolch et al. 2019).

    Parameters
    ----------
    regions : geopandas.GeoDataFrame or str or Path
        Polygons in any CRS (re-projected to lon/lat), or a vector file readable by geopandas.
    ax : GeoAxes
    name_column : str
        Attribute holding the region name (used when ``labels`` is True).
    labels : bool
        Write each region's name at a representative point.

    Returns
    -------
    int
        The number of regions drawn.
    """
    import geopandas as gpd
    from cartopy.feature import ShapelyFeature

    if not isinstance(regions, gpd.GeoDataFrame):
        path = Path(regions)
        try:
            regions = gpd.read_file(path)
        except Exception as exc:  # noqa: BLE001 - re-raised with the file name
            raise MapDataError(f"{path}: cannot read region polygons ({exc})") from exc
    if regions.crs is not None:
        regions = regions.to_crs(4326)
    kwargs.setdefault("edgecolor", "k")
    kwargs.setdefault("linewidth", 0.7)
    ax.add_feature(ShapelyFeature(list(regions.geometry), _plate_carree(), facecolor="none", **kwargs),
                   zorder=5)
    if labels and name_column in regions:
        for geom, name in zip(regions.geometry, regions[name_column]):
            p = geom.representative_point()
            ax.text(p.x, p.y, str(name), fontsize=8, ha="center", va="center", transform=_plate_carree(), zorder=6,
                    bbox={"boxstyle": "circle,pad=0.15", "facecolor": "white", "alpha": 0.7, "linewidth": 0})
    return len(regions)


def map_panels(fields, titles=None, ncols=3, vmin=None, vmax=None, cmap=None, symmetric=None, regions=None,
               extent=None, panel_size=(4.2, 2.7), suptitle=None, colorbar_label=None):
    """Draw several (lat, lon) fields on one shared colour scale with coastlines (and regions).

    The colour limits default to the 99th percentile of |values| over all panels (symmetric) or the
    common 1-99 % range, so panels can be compared by colour. Returns the figure.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 - pyplot only when drawing

    fields = list(fields)
    values = np.concatenate([np.asarray(f.values, float).ravel() for f in fields])
    vmin, vmax, symmetric = colour_limits(values, vmin, vmax, symmetric)  # limits passed in are kept
    cmap = cmap or ("RdBu" if symmetric else "viridis")
    nrows = int(np.ceil(len(fields) / ncols))
    import cartopy.crs as ccrs

    fig = plt.figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows + 0.6))
    mesh = None
    for k, f in enumerate(fields):
        ax = fig.add_subplot(nrows, ncols, k + 1, projection=ccrs.PlateCarree())
        lon, lat = f["lon"].values, f["lat"].values
        ext = extent or (lon.min() - 0.25, lon.max() + 0.25, lat.min() - 0.25, lat.max() + 0.25)
        map_axes(ext, ax=ax, gridlines=False)
        mesh = plot_field(f, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax, colorbar=False)
        if regions is not None:
            try:
                add_region_outlines(regions, ax, linewidth=0.4)
            except Exception:  # noqa: BLE001 - outlines are decoration
                pass
        ax.set_title(titles[k] if titles else (f.attrs.get("long_name") or ""), fontsize=9)
    if mesh is not None:
        cbar = fig.colorbar(mesh, ax=fig.axes, shrink=0.8, pad=0.02)
        cbar.set_label(colorbar_label or cf_label(fields[0]))
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


def comparison_maps(fields, titles, *, regions=None, label_column="number", colorbar_label=None, vmin=None,
                    vmax=None, cmap=None, symmetric=None, width=12.0, extent=None):
    """Maps to be compared, one per row at full page width, on one colour scale (the book's figures).

    Each panel is ``width`` inches wide (1200 px at the book's 100 dpi), so a 0.5° cell of the HMA box
    is about 14 px: a cell can be told from its neighbour. The colour bar sits under the last map with
    ``colorbar_label`` (give the unit); ``regions`` are outlined and labelled with ``label_column``
    (the HiMAP numbers of the paper's Fig. 1 by default).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import cartopy.crs as ccrs  # noqa: PLC0415 - cartopy only when drawing
    import matplotlib.pyplot as plt  # noqa: PLC0415 - pyplot only when drawing

    fields = list(fields)
    if len(titles) != len(fields):
        raise ValueError(f"comparison_maps: {len(fields)} fields but {len(titles)} titles")
    values = np.concatenate([np.asarray(f.values, float).ravel() for f in fields])
    vmin, vmax, symmetric = colour_limits(values, vmin, vmax, symmetric)
    cmap = cmap or ("RdBu" if symmetric else "viridis")
    lon, lat = fields[0]["lon"].values, fields[0]["lat"].values
    ext = extent or (lon.min() - 0.25, lon.max() + 0.25, lat.min() - 0.25, lat.max() + 0.25)
    aspect = (ext[3] - ext[2]) / (ext[1] - ext[0])
    row = width * aspect + 0.5
    fig = plt.figure(figsize=(width, row * len(fields) + 1.2))
    axes = []
    mesh = None
    for k, (f, title) in enumerate(zip(fields, titles)):
        ax = fig.add_axes([0.05, 1 - (k + 1) * row / fig.get_figheight() + 0.02,
                           0.9, (row - 0.45) / fig.get_figheight()], projection=ccrs.PlateCarree())
        map_axes(ext, ax=ax, gridlines=True)
        mesh = plot_field(f, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax, colorbar=False)
        if regions is not None:
            add_region_outlines(regions, ax, name_column=label_column, labels=label_column in regions,
                                linewidth=0.6)
        ax.set_title(title, fontsize=11)
        axes.append(ax)
    cax = fig.add_axes([0.25, 0.65 / fig.get_figheight(), 0.5, 0.18 / fig.get_figheight()])
    cbar = fig.colorbar(mesh, cax=cax, orientation="horizontal")
    cbar.set_label(colorbar_label or cf_label(fields[0]), fontsize=10)
    return fig


def region_value_map(regions, values, *, label, name_column="region", number_column="number", extent=None,
                     vmax=None, cmap="RdBu", width=12.0, fmt="{:.1f}"):
    """Each region filled with its value and labelled "number: value" (the paper's Fig. 8, right).

    Parameters
    ----------
    regions : geopandas.GeoDataFrame
        With ``name_column`` (matching the index of ``values``) and ``number_column``.
    values : pandas.Series or mapping
        Value per region name (e.g. the regional glacier trend [Gt/yr]).
    label : str
        Colour-bar label, with the unit.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import cartopy.crs as ccrs  # noqa: PLC0415 - cartopy only when drawing
    import matplotlib.pyplot as plt  # noqa: PLC0415 - pyplot only when drawing

    values = {str(k): float(v) for k, v in dict(values).items()}
    shown = [values.get(str(n), np.nan) for n in regions[name_column]]
    finite = np.asarray([v for v in shown if np.isfinite(v)])
    vmax = vmax or (float(np.max(np.abs(finite))) if finite.size else 1.0)
    norm = plt.Normalize(-vmax, vmax)
    colours = plt.get_cmap(cmap)
    geoms = list(regions.to_crs(4326).geometry) if regions.crs is not None else list(regions.geometry)
    if extent is None:
        b = np.asarray([g.bounds for g in geoms])
        extent = (b[:, 0].min() - 0.5, b[:, 2].max() + 0.5, b[:, 1].min() - 0.5, b[:, 3].max() + 0.5)
    aspect = (extent[3] - extent[2]) / (extent[1] - extent[0])
    fig = plt.figure(figsize=(width, width * aspect + 1.3))
    ax = fig.add_axes([0.05, 1.0 / fig.get_figheight(), 0.9, 1 - 1.1 / fig.get_figheight()],
                      projection=ccrs.PlateCarree())
    map_axes(extent, ax=ax)
    for geom, value, number in zip(geoms, shown, regions[number_column]):
        face = colours(norm(value)) if np.isfinite(value) else "0.85"
        ax.add_geometries([geom], ccrs.PlateCarree(), facecolor=face, edgecolor="k", linewidth=0.6, zorder=2)
        p = geom.representative_point()
        text = f"{int(number)}: " + (fmt.format(value) if np.isfinite(value) else "–")
        ax.text(p.x, p.y, text, fontsize=9, ha="center", va="center", transform=ccrs.PlateCarree(), zorder=6,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.75, "linewidth": 0})
    cax = fig.add_axes([0.25, 0.35 / fig.get_figheight(), 0.5, 0.18 / fig.get_figheight()])
    cbar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=colours), cax=cax, orientation="horizontal")
    cbar.set_label(label, fontsize=10)
    return fig


def region_maps(groups, *, var="glacier_trend", ncols=2, panel_size=(5.2, 3.4), colorbar_label=None):
    """One panel per glacier region (:func:`hma_mascon.region_validation.read_region_cache` groups).

    Drawn on plain lon/lat axes: the shipped Natural Earth extract covers Asia only, so the coast is the
    0.5 contour of each group's ``land_mask`` (the product's GLOBE-based mask) and the box is outlined;
    buffer cells are left blank. One symmetric colour scale for all panels. Returns the figure.
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 - pyplot only when drawing

    groups = dict(groups)
    fields = {k: g[var].where(g["is_buffer"] == 0) for k, g in groups.items()}
    vmin, vmax, _ = colour_limits(np.concatenate([np.asarray(f.values, float).ravel() for f in fields.values()]),
                                  symmetric=True)
    nrows = int(np.ceil(len(groups) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows), squeeze=False)
    mesh = None
    for ax, (name, g) in zip(axes.ravel(), groups.items()):
        f = fields[name]
        mesh = ax.pcolormesh(f["lon"], f["lat"], f, cmap="RdBu", vmin=vmin, vmax=vmax, shading="nearest")
        ax.contour(g["lon"], g["lat"], g["land_mask"], levels=[0.5], colors="0.3", linewidths=0.6)
        inner = g["is_buffer"] == 0
        lon, lat = g["lon"].where(inner.any("lat"), drop=True), g["lat"].where(inner.any("lon"), drop=True)
        ax.add_patch(plt.Rectangle((float(lon.min()) - 0.25, float(lat.min()) - 0.25), float(lon.max() - lon.min()) + 0.5,
                                   float(lat.max() - lat.min()) + 0.5, fill=False, edgecolor="k", linewidth=0.8))
        ax.set_title(g.attrs.get("title", name), fontsize=10)
        ax.set_xlabel("longitude [deg]")
        ax.set_ylabel("latitude [deg]")
        ax.set_aspect(1.0 / np.cos(np.radians(float(g["lat"].mean()))))
    for ax in axes.ravel()[len(groups):]:
        ax.set_visible(False)
    if mesh is not None:
        cbar = fig.colorbar(mesh, ax=axes.ravel().tolist(), shrink=0.8, pad=0.02)
        cbar.set_label(colorbar_label or cf_label(next(iter(groups.values()))[var]))
    return fig
