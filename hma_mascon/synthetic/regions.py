"""Mountain ranges and the 16 HiMAP-like region polygons of the synthetic world.

Each glacierised range of :data:`parameters.GLACIER_RANGES` is a buffered centre line (shapely); it is
rasterised on the 0.5 deg product grid (a cell belongs to the first range, in list order, whose buffer
contains the cell centre), and each of the paper's 16 regions is written as the union of its cells.
The polygons therefore **approximate** the HiMAP regions of Bolch et al. (2019) -- same names, similar
extents, staircase outlines -- and every 0.5 deg cell lies entirely inside one region or outside all of
them, so area-fraction weights (METHODS.md §10.3, AMB-12) are exactly 0 or 1 and the regional sums of
the truth close exactly. Written by hand; geometry by shapely, the file by geopandas/pyogrio.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, box

from . import parameters as P
from .grids import product_axes

APPROXIMATION_NOTE = ("synthetic approximation of the HiMAP region (Bolch et al. 2019): buffered range centre "
                      "line rasterised on the 0.5-degree grid; not the real boundary")


def range_names() -> list[str]:
    """Names of all glacierised ranges (the first 16 are the paper's regions)."""
    return [r[0] for r in P.GLACIER_RANGES]


def paper_region_names() -> list[str]:
    """The paper's 16 HiMAP region names, spelled as in the HiMAP file."""
    return range_names()[: P.N_PAPER_REGIONS]


def range_index_map(lat=None, lon=None) -> np.ndarray:
    """Integer map (lat, lon) on the product grid: index of the range owning each cell, -1 if none."""
    if lat is None:
        lat, lon = product_axes()
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    pts = shapely.points(lo.ravel(), la.ravel())
    out = np.full(la.size, -1, dtype=int)
    for k, (_, line, half_width, *_rest) in enumerate(P.GLACIER_RANGES):
        inside = shapely.contains(LineString(line).buffer(half_width), pts) & (out < 0)
        out[inside] = k
    return out.reshape(la.shape)


def region_polygons():
    """GeoDataFrame of the 16 approximate HiMAP regions (attribute ``himap_region``, EPSG:4326)."""
    import geopandas as gpd

    lat, lon = product_axes()
    idx = range_index_map(lat, lon)
    h = P.CELL_DEG / 2
    names, geoms = [], []
    for k, name in enumerate(paper_region_names()):
        ii, jj = np.nonzero(idx == k)
        cells = [box(lon[j] - h, lat[i] - h, lon[j] + h, lat[i] + h) for i, j in zip(ii, jj)]
        geoms.append(shapely.union_all(cells))
        names.append(name)
    return gpd.GeoDataFrame({"himap_region": names, "approximation": [APPROXIMATION_NOTE] * len(names)},
                            geometry=geoms, crs="EPSG:4326")
