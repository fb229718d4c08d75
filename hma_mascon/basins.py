"""Basin-scale comparison with the JPL and CSR RL06 mascon products (Lehmann et al. 2022).

Heavy lifting: **pandas** reads the basin tables, **geopandas/pyogrio** the basin point masks.
Written by hand: the masking of gap-filled months and the weight vectors on our grid.

The basin tables (``lehmann2022_basin_series``) are GAP-FILLED: every month 2002-04..2020-09 has a
value, including the 2017-07..2018-05 GRACE/GRACE-FO gap and the isolated months GRACE did not fly.
**How we know which months to mask:** a month is real only if a CSR RL06 Level-2 GSM file exists for
it in the data directory (manifest ``csr_rl06_gsm``; file names ``GSM-2_YYYYDOY-YYYYDOY_*``, the month
being that of the mid-point of the span).  Without those files, pass ``available_months`` explicitly.

The basin masks (``lehmann2022_basins``) are point shapefiles, one point per 0.5 deg cell centre in the
basin; the weight of a mascon cell is 1 when its centre coincides with a basin point.  The basin mean
of our solution is the area-weighted mean over the basin cells inside our grid; ``coverage`` reports
the fraction of the basin's cells (by area) that lie inside the grid.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .datadir import dataset_files
from .regions import DataFileError

PRODUCTS = {"JPL": "TWS_GRACE_JPL_mascons_monthly.csv", "CSR": "TWS_GRACE_CSR_mascons_monthly.csv"}

_GSM = re.compile(r"GSM-2_(\d{4})(\d{3})-(\d{4})(\d{3})_")


def grace_months(data_dir):
    """Months ``"YYYY-MM"`` with a CSR RL06 GSM file (mid-point of each file's day span)."""
    files = dataset_files("csr_rl06_gsm", data_dir)
    out = set()
    for f in files:
        m = _GSM.search(Path(f).name)
        if not m:
            raise DataFileError(f"{f}: file name does not match GSM-2_YYYYDOY-YYYYDOY_*")
        y0, d0, y1, d1 = map(int, m.groups())
        t0 = pd.Timestamp(f"{y0}-01-01") + pd.Timedelta(days=d0 - 1)
        t1 = pd.Timestamp(f"{y1}-01-01") + pd.Timedelta(days=d1 - 1)
        out.add((t0 + (t1 - t0) / 2).strftime("%Y-%m"))
    return sorted(out)


def load_basin_series(data_dir, product="JPL", available_months=None):
    """Basin-mean TWS of a mascon product [mm], gap-filled months set to NaN.

    Returns
    -------
    xarray.DataArray (time, basin)
        ``time`` = first day of each month; attribute ``masked_months``.
    """
    files = dataset_files("lehmann2022_basin_series", data_dir, match=PRODUCTS[product])
    path = files[0]
    df = pd.read_csv(path)
    if df.columns[0] != "name":
        raise DataFileError(f"{path}: first column must be 'name', found {df.columns[0]!r}")
    try:
        time = pd.to_datetime(df.columns[1:], format="%Y-%m-%d")
    except ValueError as err:
        raise DataFileError(f"{path}, line 1: month columns are not YYYY-MM-DD ({err})") from err
    values = df.iloc[:, 1:].apply(pd.to_numeric, errors="coerce").values.T
    if available_months is None:
        available_months = grace_months(data_dir)
    avail = set(available_months)
    labels = time.strftime("%Y-%m")
    mask = np.array([lab not in avail for lab in labels])
    values = np.where(mask[:, None], np.nan, values)
    return xr.DataArray(values, dims=("time", "basin"),
                        coords={"time": time.values, "basin": df["name"].astype(str).values},
                        name=f"tws_{product.lower()}",
                        attrs={"units": "mm", "long_name": f"{product} RL06 mascon basin-mean TWS anomaly",
                               "source": str(path), "masked_months": ",".join(labels[mask])})


def _basin_name(stem):
    return stem.replace("_", " ")


def basin_weights(data_dir, grid):
    """Weight vectors (basin, cell): 1 where a basin's cell-centre point is a mascon cell centre.

    Attribute ``coverage`` (per basin, in the ``coverage`` coordinate): fraction of the basin points
    inside the grid.
    """
    import geopandas as gpd

    files = [f for f in dataset_files("lehmann2022_basins", data_dir) if f.suffix == ".shp"]
    glat = np.round(np.asarray(grid.lat, float), 4)
    glon = np.round(np.asarray(grid.lon, float), 4)
    index = {(a, b): i for i, (a, b) in enumerate(zip(glat, glon))}
    names, rows, coverage = [], [], []
    for f in sorted(files):
        pts = gpd.read_file(f)
        if not (pts.geom_type == "Point").all():
            raise DataFileError(f"{f}: expected cell-centre points")
        w = np.zeros(glat.size)
        hit = 0
        for x, y in zip(np.round(pts.geometry.x.values, 4), np.round(pts.geometry.y.values, 4)):
            j = index.get((y, x))
            if j is not None:
                w[j] = 1.0
                hit += 1
        names.append(_basin_name(f.stem))
        rows.append(w)
        coverage.append(hit / max(len(pts), 1))
    return xr.DataArray(np.array(rows), dims=("basin", "cell"),
                        coords={"basin": names, "coverage": ("basin", coverage)},
                        attrs={"units": "1", "long_name": "basin membership of mascon cells"})


def _match(name, names):
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    for n in names:
        if re.sub(r"[^a-z0-9]", "", n.lower()) == key:
            return n
    return None


def basin_comparison(our_series, grid, data_dir, time=None, available_months=None, min_coverage=0.5):
    """Per-basin Pearson r and RMS difference of our solution against the JPL and CSR mascons.

    Parameters
    ----------
    our_series : array-like or DataArray (time, cell)
        Our EWH [m] (monthly; NaN for missing months).
    grid : MasconGrid
    time : array-like, optional
        Epochs of ``our_series`` (taken from its ``time`` coordinate if a DataArray).
    min_coverage : float
        Basins with a smaller fraction of their cells inside the grid are skipped.

    Returns
    -------
    pandas.DataFrame
        Rows (basin, product): ``r``, ``rms_diff_mm`` (after removing each series' mean over the
        common months), ``n``, ``coverage``.
    """
    x = np.asarray(getattr(our_series, "values", our_series), float)
    if time is None:
        time = our_series["time"].values
    labels = pd.DatetimeIndex(np.asarray(time)).strftime("%Y-%m")
    w = basin_weights(data_dir, grid)
    area = np.asarray(grid.area, float)
    rows = []
    for product in PRODUCTS:
        ref = load_basin_series(data_dir, product, available_months)
        ref_labels = pd.DatetimeIndex(ref["time"].values).strftime("%Y-%m")
        common = sorted(set(labels) & set(ref_labels))
        ia = [list(labels).index(c) for c in common]
        ib = [list(ref_labels).index(c) for c in common]
        for b, basin in enumerate(w["basin"].values):
            cov = float(w["coverage"].values[b])
            col = _match(str(basin), list(ref["basin"].values))
            if col is None or cov < min_coverage:
                continue
            wb = w.values[b] * area
            ours = 1000.0 * (x[ia] @ wb) / wb.sum()
            theirs = ref.sel(basin=col).values[ib]
            ok = np.isfinite(ours) & np.isfinite(theirs)
            if ok.sum() < 3:
                continue
            a, c = ours[ok] - ours[ok].mean(), theirs[ok] - theirs[ok].mean()
            rows.append({"basin": col, "product": product, "r": float(np.corrcoef(a, c)[0, 1]),
                         "rms_diff_mm": float(np.sqrt(np.mean((a - c) ** 2))), "n": int(ok.sum()),
                         "coverage": cov})
    return pd.DataFrame(rows)
