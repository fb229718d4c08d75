"""Grids of the synthetic world: the 0.5 deg product grid, the global Driscoll-Healy analysis grid,
cell areas, and the mapping of 0.5 deg blocks onto the analysis nodes.

Written by hand (simple index arithmetic). The cell areas come from :mod:`hma_mascon.geometry` (the
same ellipsoidal S_j the inversion uses for every Gt conversion, METHODS.md §3), so regional Gt sums
of the truth close exactly.
"""

from __future__ import annotations

import numpy as np

from ..geometry import ellipsoidal_cell_area
from . import parameters as P


def axis(start: float, stop: float, step: float = P.CELL_DEG) -> np.ndarray:
    """Cell centres from ``start`` to ``stop`` (edges) with ``step`` [deg]."""
    n = int(round((stop - start) / step))
    return start + step * (np.arange(n) + 0.5)


def product_axes(box=P.PRODUCT_BOX):
    """(lat, lon) cell-centre axes of the gridded products [deg], ascending."""
    lon0, lon1, lat0, lat1 = box
    return axis(lat0, lat1), axis(lon0, lon1)


def cell_area_m2(lat: np.ndarray, dlat: float = P.CELL_DEG, dlon: float = P.CELL_DEG) -> np.ndarray:
    """Ellipsoidal (GRS80) area of cells centred at ``lat`` [m2] (METHODS.md §3)."""
    lat = np.asarray(lat, float)
    return ellipsoidal_cell_area(lat - dlat / 2, lat + dlat / 2, dlon)


def dh_axes(lmax: int = P.ANALYSIS_LMAX):
    """Node latitudes (90 .. -90+d, descending) and longitudes (0 .. 360-d) of the pyshtools
    Driscoll-Healy grid with ``sampling=2`` that is exact to degree ``lmax``."""
    n = 2 * (lmax + 1)
    d = 180.0 / n
    return 90.0 - d * np.arange(n), d * np.arange(2 * n)


def blocks_to_dh(block: np.ndarray, lat: np.ndarray, lon: np.ndarray, lmax: int = P.ANALYSIS_LMAX) -> np.ndarray:
    """Spread a field that is uniform in each 0.5 deg cell onto the analysis nodes.

    Nodes on a cell edge belong to the cell north/east of the edge (half-open cells
    ``[south, north) x [west, east)``), so each cell receives its correct share of nodes and the
    quadrature conserves its mass (to the cos-latitude variation inside the cell).

    Parameters
    ----------
    block : ndarray (..., nlat, nlon)
        Values on the product grid given by the ascending cell-centre axes ``lat``, ``lon``.
    """
    glat, glon = dh_axes(lmax)
    step = lat[1] - lat[0]
    i = np.floor((glat - (lat[0] - step / 2)) / step + 1e-9).astype(int)
    j = np.floor((glon - (lon[0] - step / 2)) / step + 1e-9).astype(int)
    iv = (i >= 0) & (i < lat.size)
    jv = (j >= 0) & (j < lon.size)
    out = np.zeros(block.shape[:-2] + (glat.size, glon.size))
    sub = block[..., i[iv], :][..., j[jv]]
    out[..., np.flatnonzero(iv)[:, None], np.flatnonzero(jv)[None, :]] = sub
    return out
