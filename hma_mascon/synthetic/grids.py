"""Grids of the synthetic world: the 0.5 deg product grid, the global Driscoll-Healy analysis grid,
cell areas, and the mapping of 0.5 deg blocks onto the analysis nodes.

Written by hand (index arithmetic and a centred trapezoidal quadrature). The cell areas come from :mod:`hma_mascon.geometry` (the
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


def cell_node_weights(nodes: np.ndarray, centres: np.ndarray, step: float) -> np.ndarray:
    """Weights W[node, cell] of the centred (trapezoidal) quadrature of one axis.

    A node strictly inside a cell gets weight 1 for it; a node on the edge between two cells gets 1/2
    for each, so the nodes of a cell are placed symmetrically about its centre (for 0.5 deg cells on
    0.25 deg nodes: 1/2, 1, 1/2 at south edge, centre, north edge) and each cell keeps the share of
    nodes that matches its width. A node that lies outside every cell gets no weight.

    Parameters
    ----------
    nodes : ndarray (n,)
        Node coordinates [deg].
    centres : ndarray (k,)
        Ascending, equally spaced cell centres [deg].
    step : float
        Cell width [deg].
    """
    u = (np.asarray(nodes, float)[:, None] - np.asarray(centres, float)[None, :]) / step  # in cell widths
    tol = 1e-9
    inside = np.abs(u) < 0.5 - tol
    edge = np.abs(np.abs(u) - 0.5) <= tol
    return inside.astype(float) + 0.5 * edge


def blocks_to_dh(block: np.ndarray, lat: np.ndarray, lon: np.ndarray, lmax: int = P.ANALYSIS_LMAX) -> np.ndarray:
    """Spread a field that is uniform in each 0.5 deg cell onto the analysis nodes.

    The quadrature is centred on the cells (:func:`cell_node_weights`): a node on the edge between two
    cells carries the mean of both, so the mass of each cell sits at its centre, where ``truth.nc``
    reports it. (Generator 1.0.0 gave an edge node to the cell north/east of it, which put each cell's
    mass 0.125 deg south-west of its centre, about 14 km.) The cell's mass is conserved to the
    cos-latitude variation inside the cell.

    Parameters
    ----------
    block : ndarray (..., nlat, nlon)
        Values on the product grid given by the ascending cell-centre axes ``lat``, ``lon``.
    """
    glat, glon = dh_axes(lmax)
    step = float(lat[1] - lat[0])
    Wlat = cell_node_weights(glat, lat, step)
    Wlon = cell_node_weights(glon, lon, float(lon[1] - lon[0]))
    return np.einsum("ia,...ab,jb->...ij", Wlat, np.asarray(block, float), Wlon, optimize=True)
