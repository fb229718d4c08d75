"""Area-weighted regridding of regular lat/lon fields onto the mascon cells (the priors, the RGI area).

Written by hand: the exact spherical overlap of regular lat/lon cells, separable in latitude and
longitude (overlap area ∝ Δλ Δ(sin φ)), so no extra dependency such as xESMF is needed for the one
operation the package needs; numpy does the arithmetic.
"""

from __future__ import annotations

import numpy as np

from .regions import DataFileError, grid_resolution

__all__ = ["regrid_to_cells", "crop_to_grid"]


def _edges(centres):
    c = np.asarray(centres, float)
    if c.size < 2:
        raise ValueError("need at least two coordinate values to infer cell edges")
    d = np.diff(c)
    if not np.allclose(d, d[0], rtol=1e-6, atol=1e-9):
        raise ValueError("coordinate is not regular")
    return np.r_[c - d[0] / 2, c[-1] + d[0] / 2]


def _overlap(out_lo, out_hi, in_edges, transform=lambda v: v):
    """Matrix (n_out, n_in) of overlap measures between intervals after ``transform``."""
    lo = np.maximum(out_lo[:, None], in_edges[None, :-1])
    hi = np.minimum(out_hi[:, None], in_edges[None, 1:])
    return np.where(hi > lo, transform(hi) - transform(np.minimum(lo, hi)), 0.0)


def regrid_to_cells(da, grid, extensive=False, source="input"):
    """Area-weighted regridding of a regular lat/lon field onto the mascon cells.

    Intensive fields (EWH): x_j = sum_i a_ij v_i / sum_i a_ij, with a_ij the spherical overlap area
    |cell_j ∩ input_i| ∝ Δλ_ij Δ(sin φ)_ij.  Extensive fields (km2, Gt per cell): x_j = sum_i
    (a_ij / A_i) v_i.  A mascon cell that receives a NaN input cell becomes NaN.

    Parameters
    ----------
    da : xarray.DataArray (..., lat, lon)
        Regular grid (any resolution, ascending or descending axes).  Coordinates named
        ``lat``/``lon``, ``latitude``/``longitude`` or ``y``/``x``.
    grid : MasconGrid
    source : str
        Name of the file, for error messages.

    Returns
    -------
    ndarray (..., m)

    Raises
    ------
    ValueError
        If the input does not cover every mascon cell.
    """
    latn = next((n for n in ("lat", "latitude", "y") if n in da.dims), None)
    lonn = next((n for n in ("lon", "longitude", "x") if n in da.dims), None)
    if latn is None or lonn is None:
        raise DataFileError(f"{source}: no lat/lon dimensions in {da.dims}")
    da = da.sortby(latn).sortby(lonn).transpose(..., latn, lonn)
    lat_e = _edges(da[latn].values)
    lon_e = _edges(da[lonn].values)
    half = grid_resolution(grid) / 2
    glat = np.asarray(grid.lat, float)
    glon = np.asarray(grid.lon, float)
    tol = 1e-6
    if (glat.min() - half < lat_e[0] - tol or glat.max() + half > lat_e[-1] + tol
            or glon.min() - half < lon_e[0] - tol or glon.max() + half > lon_e[-1] + tol):
        raise ValueError(
            f"{source}: coverage lat {lat_e[0]:.2f}..{lat_e[-1]:.2f}, lon {lon_e[0]:.2f}..{lon_e[-1]:.2f} "
            f"does not contain the mascon grid (lat {glat.min() - half:.2f}..{glat.max() + half:.2f}, "
            f"lon {glon.min() - half:.2f}..{glon.max() + half:.2f})")
    ulat, ilat = np.unique(np.round(glat, 9), return_inverse=True)
    ulon, ilon = np.unique(np.round(glon, 9), return_inverse=True)
    sin = lambda v: np.sin(np.radians(v))  # noqa: E731
    wlat = _overlap(ulat - half, ulat + half, lat_e, sin)
    wlon = _overlap(ulon - half, ulon + half, lon_e)
    if extensive:
        wlat = wlat / np.diff(sin(lat_e))[None, :]
        wlon = wlon / np.diff(lon_e)[None, :]
    else:
        wlat = wlat / wlat.sum(axis=1, keepdims=True)
        wlon = wlon / wlon.sum(axis=1, keepdims=True)
    v = np.asarray(da.values, float)
    nanmask = ~np.isfinite(v)
    v0 = np.where(nanmask, 0.0, v)
    out = np.einsum("ak,...kl,bl->...ab", wlat, v0, wlon)
    touched = np.einsum("ak,...kl,bl->...ab", (wlat > 0).astype(float), nanmask.astype(float),
                        (wlon > 0).astype(float))
    out = np.where(touched > 0, np.nan, out)
    return out[..., ilat, ilon]


def crop_to_grid(da, grid, margin=1.0):
    """Cut a global lat/lon grid to the mascon box plus ``margin`` degrees (regridding cost)."""
    latn = next(n for n in ("lat", "latitude", "y") if n in da.dims)
    lonn = next(n for n in ("lon", "longitude", "x") if n in da.dims)
    da = da.sortby(latn).sortby(lonn)
    return da.sel({latn: slice(grid.lat.min() - margin, grid.lat.max() + margin),
                   lonn: slice(grid.lon.min() - margin, grid.lon.max() + margin)})
