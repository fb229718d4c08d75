"""HiMAP regions, cell-region area fractions, regional mass sums, WGMS stations (METHODS.md §10.3, §10.5).

Heavy lifting: **geopandas/pyogrio** read the GeoPackage, **shapely 2** (vectorised, STRtree) intersects
the 0.5 deg cells with the region polygons, **pyproj** projects both onto an equal-area Albers projection
centred on High Mountain Asia so that intersection areas are true areas.  Written by hand: the mapping
from the mirror's 22 HiMAP names to the paper's 16 regions (exact, after whitespace/case normalisation),
the cell polygons (edges densified so that parallels stay curved after projection), the Gt sum
M_R(t) = sum_j w_Rj rho_w S_j x_j(t) / 1e12 and the WGMS readers, because no library knows these
formats.

The paper's station table prints ABRAMOV at (71.57 N, 39.65 E) [AMB-17]; the coordinates used here come
from the WGMS/RGI link table (``rgi_wgms_links_*``), where ABRAMOV is at 39.61 N, 71.57 E.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import xarray as xr

from .constants import RHO_WATER
from .datadir import dataset_files, dataset_path
from .errors import InputError

#: The paper's 16 regions in HiMAP numbering (METHODS.md §14), spelled as in the HiMAP GeoPackage.
PAPER_REGIONS = (
    "Dzhungarsky Alatau",
    "Eastern Tien Shan",
    "Central Tien Shan",
    "Northern/Western Tien Shan",
    "Pamir Alay",
    "Western Pamir",
    "Eastern Pamir",
    "Eastern Hindu Kush",
    "Karakoram",
    "Western Kunlun Shan",
    "Western Himalaya",
    "Central Himalaya",
    "Eastern Himalaya",
    "Gangdise Mountains",
    "Nyainqentanglha",
    "Tanggula Shan",
)

#: Equal-area projection used for all polygon areas (Albers, standard parallels 25 N and 47 N; the
#: projection of Shean et al. 2020).
HMA_ALBERS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=36 +lon_0=85 +datum=WGS84 +units=m +no_defs"

#: Name of the aggregate appended by :func:`regional_mass`.
HMA_TOTAL = "HMA"

class DataFileError(InputError):
    """Malformed or unsuitable input file (the message names the file and the problem)."""


# --------------------------------------------------------------------------------------------- grid
def grid_resolution(grid) -> float:
    """Cell size [deg] of a mascon grid: ``grid.resolution`` or the smallest latitude step."""
    res = getattr(grid, "resolution", None)
    if res is not None:
        return float(res)
    lat = np.unique(np.round(np.asarray(grid.lat, float), 9))
    return float(np.min(np.diff(lat))) if lat.size > 1 else 0.5


def cell_polygons(grid, densify: int = 8):
    """Shapely polygons (lon/lat degrees) of the mascon cells, each edge with ``densify`` segments."""

    half = grid_resolution(grid) / 2.0
    lat = np.asarray(grid.lat, float)
    lon = np.asarray(grid.lon, float)
    s = np.linspace(0.0, 1.0, densify + 1)[:-1]
    polys = []
    for la, lo in zip(lat, lon):
        w, e, so, no = lo - half, lo + half, la - half, la + half
        xs = np.concatenate([w + (e - w) * s, np.full(s.size, e), e - (e - w) * s, np.full(s.size, w)])
        ys = np.concatenate([np.full(s.size, so), so + (no - so) * s, np.full(s.size, no), no - (no - so) * s])
        polys.append(shapely.Polygon(np.column_stack([xs, ys])))
    return np.array(polys, dtype=object)


def to_albers(geoms, crs="EPSG:4326"):
    import geopandas as gpd

    return np.asarray(gpd.GeoSeries(list(geoms), crs=crs).to_crs(HMA_ALBERS).values, dtype=object)


def point_cell_index(grid, lat, lon):
    """Index of the mascon cell containing each point (lat, lon in degrees).

    Raises
    ------
    ValueError
        If a point lies outside every cell of the grid.
    """
    half = grid_resolution(grid) / 2.0
    glat = np.asarray(grid.lat, float)
    glon = np.asarray(grid.lon, float)
    lat_a = np.atleast_1d(np.asarray(lat, float))
    lon_a = np.atleast_1d(np.asarray(lon, float))
    out = np.empty(lat_a.size, dtype=int)
    for k, (la, lo) in enumerate(zip(lat_a, lon_a)):
        inside = (np.abs(glat - la) <= half + 1e-9) & (np.abs(glon - lo) <= half + 1e-9)
        idx = np.flatnonzero(inside)
        if idx.size == 0:
            raise ValueError(f"point ({la:.4f} N, {lo:.4f} E) is outside the mascon grid")
        out[k] = idx[0]
    return out if np.ndim(lat) else int(out[0])


# ------------------------------------------------------------------------------------------ regions
def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", str(name)).strip().casefold()


def load_regions(data_dir, names=PAPER_REGIONS):
    """Read the HiMAP region polygons (manifest entry ``himap_regions``) and keep ``names``.

    Names are matched exactly after case folding and whitespace normalisation, so that
    "Northern/Western  Tien shan" finds "Northern/Western Tien Shan" but "Tien Shan" finds nothing.

    Parameters
    ----------
    data_dir : path-like
    names : sequence of str or None
        Region names in the wanted order; ``None`` keeps all 22 polygons.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``region`` (the name as in ``names``), ``himap_region`` (as in the file), ``number``
        (HiMAP number 1..16 of the paper, 0 for regions the paper does not use), geometry (EPSG:4326).
    """
    import geopandas as gpd

    path = dataset_path("himap_regions", data_dir)
    gdf = gpd.read_file(path)
    if "himap_region" not in gdf.columns:
        raise DataFileError(f"{path}: no attribute 'himap_region' (columns: {list(gdf.columns)})")
    if gdf.crs is None:
        raise DataFileError(f"{path}: the layer has no CRS")
    gdf = gdf.to_crs("EPSG:4326")
    lookup = {}
    for i, n in enumerate(gdf["himap_region"]):
        key = _norm(n)
        if key in lookup:
            raise DataFileError(f"{path}: region name {n!r} occurs twice")
        lookup[key] = i
    numbers = {_norm(n): k + 1 for k, n in enumerate(PAPER_REGIONS)}
    wanted = list(gdf["himap_region"]) if names is None else list(names)
    rows, missing = [], []
    for n in wanted:
        i = lookup.get(_norm(n))
        if i is None:
            missing.append(n)
        else:
            rows.append((n, i))
    if missing:
        raise DataFileError(
            f"{path}: region(s) {missing} not found; the file has {sorted(gdf['himap_region'])}")
    out = gdf.iloc[[i for _, i in rows]].copy()
    out.insert(0, "region", [n for n, _ in rows])
    out["number"] = [numbers.get(_norm(n), 0) for n, _ in rows]
    return out.reset_index(drop=True)


def regions_in_grid(regions_gdf, grid):
    """The regions lying wholly inside the cells of ``grid`` (a solution on a sub-box keeps these).

    Returns
    -------
    (geopandas.GeoDataFrame, list of str)
        The regions inside (index reset) and the names left out.
    """
    half = grid.resolution / 2
    b = regions_gdf.geometry.bounds
    lon, lat = np.asarray(grid.lon, float), np.asarray(grid.lat, float)
    inside = ((b["minx"] >= lon.min() - half) & (b["maxx"] <= lon.max() + half)
              & (b["miny"] >= lat.min() - half) & (b["maxy"] <= lat.max() + half))
    return regions_gdf[inside].reset_index(drop=True), list(regions_gdf.loc[~inside, "region"])


def area_fraction_weights(regions_gdf, grid, method: str = "area"):
    """Fraction w_Rj of each mascon cell j inside each region polygon R [AMB-12].

    ``method="area"`` (default): w_Rj = |cell_j ∩ R| / |cell_j|, both areas on the equal-area Albers
    projection :data:`HMA_ALBERS` (cell edges densified).  ``method="centre"``: w_Rj = 1 if the cell
    centre lies inside R, else 0.  Buffer cells (``grid.is_buffer``) get weight 0.

    Parameters
    ----------
    regions_gdf : geopandas.GeoDataFrame
        From :func:`load_regions` (column ``region``, or ``himap_region``).
    grid : MasconGrid
        Needs 1-D ``lat``, ``lon`` (cell centres), optional ``is_buffer``.

    Returns
    -------
    xarray.DataArray
        dims ``(region, cell)``, values in [0, 1].

    Raises
    ------
    ValueError
        If a region does not overlap the grid at all, or only partly (less than 99 % of its area
        inside the grid cells).
    """

    if method not in ("area", "centre"):
        raise ValueError(f"method must be 'area' or 'centre', not {method!r}")
    names = list(regions_gdf["region"] if "region" in regions_gdf.columns else regions_gdf["himap_region"])
    gdf = regions_gdf.to_crs("EPSG:4326")
    reg_geo = np.asarray(gdf.geometry.values, dtype=object)
    ncell = np.asarray(grid.lat).size
    w = np.zeros((len(names), ncell))
    cells = cell_polygons(grid)
    cells_a = to_albers(cells)
    regs_a = to_albers(reg_geo)
    cell_area = shapely.area(cells_a)
    if method == "area":
        tree = shapely.STRtree(cells_a)
        for r, geom in enumerate(regs_a):
            idx = tree.query(geom, predicate="intersects")
            if idx.size:
                w[r, idx] = shapely.area(shapely.intersection(cells_a[idx], geom)) / cell_area[idx]
    else:
        pts = shapely.points(np.asarray(grid.lon, float), np.asarray(grid.lat, float))
        for r, geom in enumerate(reg_geo):
            w[r] = shapely.contains(geom, pts)
    w = np.clip(w, 0.0, 1.0)
    # coverage check: the area inside the grid must be (almost) the whole polygon
    for r, geom in enumerate(regs_a):
        inside = float(np.sum(w[r] * cell_area)) if method == "area" else None
        if not np.any(w[r] > 0):
            raise ValueError(f"region {names[r]!r} lies outside the mascon grid")
        if inside is not None and inside < 0.99 * shapely.area(geom):
            raise ValueError(
                f"region {names[r]!r}: only {100 * inside / shapely.area(geom):.1f} % of its area "
                "lies inside the mascon grid")
    is_buffer = getattr(grid, "is_buffer", None)
    if is_buffer is not None:
        w[:, np.asarray(is_buffer, bool)] = 0.0
    return xr.DataArray(
        w, dims=("region", "cell"), coords={"region": names, "cell": np.arange(ncell)},
        name="area_fraction",
        attrs={"units": "1", "long_name": "fraction of the mascon cell inside the region",
               "method": method, "projection": HMA_ALBERS})


def regional_mass(x, weights, grid, time=None):
    """Regional mass M_R(t) = sum_j w_Rj rho_w S_j x_j(t) / 1e12 [Gt] (METHODS.md §10.3).

    Parameters
    ----------
    x : array-like or xarray.DataArray, shape (time, cell) or (cell,)
        EWH [m].
    weights : xarray.DataArray (region, cell)
        From :func:`area_fraction_weights`.
    grid : MasconGrid
        ``area`` [m2] per cell; buffer cells are excluded.
    time : array-like, optional
        Time coordinate (taken from ``x`` if it is a DataArray with ``time``).

    Returns
    -------
    xarray.DataArray
        dims ``(time, region)`` in Gt; the last region, :data:`HMA_TOTAL`, is the sum of the others.
    """
    values = np.asarray(getattr(x, "values", x), float)
    squeeze = values.ndim == 1
    values = np.atleast_2d(values)
    area = np.asarray(grid.area, float)
    if values.shape[-1] != area.size:
        raise ValueError(f"x has {values.shape[-1]} cells, the grid {area.size}")
    w = np.asarray(weights.values, float).copy()
    is_buffer = getattr(grid, "is_buffer", None)
    if is_buffer is not None:
        w[:, np.asarray(is_buffer, bool)] = 0.0
    mass = values @ (w * area * RHO_WATER / 1e12).T
    mass = np.concatenate([mass, mass.sum(axis=1, keepdims=True)], axis=1)
    regions = list(weights["region"].values) + [HMA_TOTAL]
    if time is None and isinstance(x, xr.DataArray) and "time" in x.coords:
        time = x["time"].values
    if time is None:
        time = np.arange(mass.shape[0])
    out = xr.DataArray(
        mass, dims=("time", "region"), coords={"time": np.atleast_1d(time), "region": regions},
        name="mass", attrs={"units": "Gt", "long_name": "regional mass anomaly",
                            "total": f"{HMA_TOTAL} = sum over the other regions"})
    return out.isel(time=0) if squeeze else out


# --------------------------------------------------------------------------------------------- WGMS
_WGMS_LINKS = "rgi_wgms_links_*.csv"


def _wgms_dir(data_dir) -> Path:
    return dataset_files("wgms_insitu", data_dir)[0].parent


def load_wgms_stations(data_dir):
    """The four WGMS glaciers with coordinates from the RGI-WGMS link table [AMB-17].

    Returns
    -------
    pandas.DataFrame
        Index ``name`` (WGMS name), columns ``wgms_id``, ``lat``, ``lon`` (deg), ``rgi_id``, ``short``
        (the paper's label: YALA, TS, AKSHIYRAK, ABRAMOV).
    """
    path = dataset_files("wgms_insitu", data_dir, match=_WGMS_LINKS)[-1]
    df = pd.read_csv(path)
    need = {"CenLon", "CenLat", "NAME", "WGMS_ID", "RGI60_ID"}
    if not need <= set(df.columns):
        raise DataFileError(f"{path}: missing columns {sorted(need - set(df.columns))}")
    for i, row in df.iterrows():
        if not (-90 <= row.CenLat <= 90 and -180 <= row.CenLon <= 180):
            raise DataFileError(f"{path}, line {i + 2}: bad coordinates {row.CenLat}, {row.CenLon}")
    out = pd.DataFrame({
        "name": df["NAME"].astype(str), "wgms_id": df["WGMS_ID"].astype(int),
        "lat": df["CenLat"].astype(float), "lon": df["CenLon"].astype(float),
        "rgi_id": df["RGI60_ID"].astype(str)})
    out["short"] = [_short_name(n) for n in out["name"]]
    return out.set_index("name")


def _short_name(name: str) -> str:
    n = name.upper()
    if "AKSHIYRAK" in n:
        return "AKSHIYRAK"
    if n.startswith("TS.TUYUKSU"):
        return "TS"
    return n


def _find_station(data_dir, glacier):
    st = load_wgms_stations(data_dir)
    g = str(glacier).upper()
    for name, row in st.iterrows():
        if g in (name.upper(), row.short, str(row.wgms_id)):
            return name, row
    raise KeyError(f"glacier {glacier!r} not among the WGMS stations {list(st['short'])}")


def load_wgms_balances(data_dir, glacier, balance_year_end="09-30"):
    """Annual glacier-wide balances of one WGMS glacier with balance-year end dates.

    Parameters
    ----------
    glacier : str or int
        WGMS name, the paper's short label (``"TS"``, ``"AKSHIYRAK"``) or WGMS id.
    balance_year_end : str
        ``"MM-DD"`` end of the balance year (default 30 September: hydrological year 1 Oct - 30 Sep).

    Returns
    -------
    pandas.DataFrame
        Index ``year`` (the balance year, named by its end), columns ``balance_mm_we`` [mm w.e.],
        ``balance_m_we`` [m w.e.], ``balance_m_ewh`` (= m w.e., the mascon EWH unit),
        ``balance_gt`` (specific balance x glacier area, Gt), ``area_km2``, ``end`` (Timestamp).
        Years without an annual balance are dropped.
    """
    name, row = _find_station(data_dir, glacier)
    folder = _wgms_dir(data_dir)
    path = folder / f"mbdata_WGMS-{int(row.wgms_id):05d}.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path}: WGMS balance file for {name} not found")
    df = pd.read_csv(path)
    for col in ("YEAR", "ANNUAL_BALANCE"):
        if col not in df.columns:
            raise DataFileError(f"{path}: column {col!r} missing")
    years = pd.to_numeric(df["YEAR"], errors="coerce")
    bad = np.flatnonzero(years.isna().values)
    if bad.size:
        raise DataFileError(f"{path}, line {bad[0] + 2}: YEAR is not a number")
    df = df[df["ANNUAL_BALANCE"].notna()]
    bal = df["ANNUAL_BALANCE"].astype(float).values
    area = df["AREA"].astype(float).values if "AREA" in df.columns else np.full(bal.size, np.nan)
    years = df["YEAR"].astype(int).values
    ends = pd.to_datetime([f"{y}-{balance_year_end}" for y in years])
    return pd.DataFrame({
        "balance_mm_we": bal, "balance_m_we": bal / 1000.0, "balance_m_ewh": bal / 1000.0,
        "balance_gt": bal / 1000.0 * RHO_WATER * area * 1e6 / 1e12, "area_km2": area, "end": ends},
        index=pd.Index(years, name="year"))
