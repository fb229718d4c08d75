"""Build ``hma_mascon/data/naturalearth/asia_50m.geojson`` from the npm package ``world-atlas``.

``world-atlas`` (ISC licence, by Mike Bostock) is Natural Earth 1:50m (public domain) converted to
TopoJSON. This script decodes the TopoJSON by hand (quantised, delta-encoded arcs; the format is
small enough that a dependency is not worth it), keeps

* ``land``: land polygons (filled in maps; their outlines are the coastline),
* ``border``: country borders, i.e. arcs shared by two different countries,

clips both to the box 40-120E, 10-60N with shapely, rounds to 1e-3 deg and writes one GeoJSON
FeatureCollection. Run once by a maintainer; the package never runs it::

    npm install --prefix /tmp/ne world-atlas@2.0.2
    python scripts/make_naturalearth.py /tmp/ne/node_modules/world-atlas
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon, box, mapping

BOX = (40.0, 10.0, 120.0, 60.0)  # lon_min, lat_min, lon_max, lat_max
OUT = Path(__file__).resolve().parents[1] / "hma_mascon" / "data" / "naturalearth" / "asia_50m.geojson"


def decode_arcs(topo: dict) -> list[list[tuple[float, float]]]:
    """Absolute lon/lat coordinates of every arc (quantised arcs are delta-encoded)."""
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)
    return arcs


def ring(arcs, indices):
    """A ring from arc indices (a negative index ~i means arc i reversed; shared end points once)."""
    pts: list[tuple[float, float]] = []
    for i in indices:
        seg = arcs[i] if i >= 0 else arcs[~i][::-1]
        pts.extend(seg if not pts else seg[1:])
    return pts


def polygons(arcs, geom) -> list[Polygon]:
    polys = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
    out = []
    for rings in polys:
        shell, *holes = (ring(arcs, r) for r in rings)
        if len(shell) >= 4:
            out.append(Polygon(shell, [h for h in holes if len(h) >= 4]))
    return out


def main(world_atlas: str) -> None:
    root = Path(world_atlas)
    clip = box(*BOX)
    land_topo = json.loads((root / "land-50m.json").read_text())
    land_arcs = decode_arcs(land_topo)
    land = []
    for geom in land_topo["objects"]["land"]["geometries"]:
        land.extend(polygons(land_arcs, geom))
    land = shapely.make_valid(MultiPolygon(land)).intersection(clip)

    topo = json.loads((root / "countries-50m.json").read_text())
    arcs = decode_arcs(topo)
    owners: dict[int, set[int]] = {}
    for k, geom in enumerate(topo["objects"]["countries"]["geometries"]):
        polys = geom.get("arcs", [])
        polys = polys if geom["type"] == "MultiPolygon" else [polys]
        for rings in polys:
            for r in rings:
                for i in r:
                    owners.setdefault(i if i >= 0 else ~i, set()).add(k)
    shared = [LineString(arcs[i]) for i, who in owners.items() if len(who) >= 2]
    borders = MultiLineString(shared).intersection(clip)

    def rounded(g):
        return shapely.set_precision(g, 1e-3)

    fc = {
        "type": "FeatureCollection",
        "name": "naturalearth_50m_asia",
        "bbox": list(BOX),
        "features": [
            {"type": "Feature", "properties": {"kind": "land"}, "geometry": mapping(rounded(land))},
            {"type": "Feature", "properties": {"kind": "border"}, "geometry": mapping(rounded(borders))},
        ],
    }
    OUT.write_text(json.dumps(fc, separators=(",", ":")))
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "node_modules/world-atlas")
