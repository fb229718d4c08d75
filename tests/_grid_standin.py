"""A tiny stand-in for ``geometry.mascon_grid`` used by the tests of regions/priors/basins/glacier."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def ellipsoidal_area(lat, half, a=6378137.0, f=1 / 298.257223563):
    """Exact area of lat/lon cells on the WGS84 ellipsoid via the authalic-latitude formula."""
    e = np.sqrt(f * (2 - f))

    def q(phi):
        s = np.sin(np.radians(phi))
        return (1 - e**2) * (s / (1 - e**2 * s**2) - np.log((1 - e * s) / (1 + e * s)) / (2 * e))

    return a**2 / 2 * np.radians(2 * half) * (q(lat + half) - q(lat - half))


def make_grid(box=(65.0, 105.0, 26.0, 47.0), resolution=0.5):
    """Grid with 1-D ``lat``, ``lon``, ``area`` [m2], ``is_buffer`` over cells (C order lat, lon)."""
    try:
        from hma_mascon.geometry import mascon_grid

        return mascon_grid(box, resolution=resolution)
    except ImportError:
        pass
    w, e, s, n = box
    lat1 = np.arange(s + resolution / 2, n, resolution)
    lon1 = np.arange(w + resolution / 2, e, resolution)
    LAT, LON = np.meshgrid(lat1, lon1, indexing="ij")
    lat, lon = LAT.ravel(), LON.ravel()
    return SimpleNamespace(lat=lat, lon=lon, area=ellipsoidal_area(lat, resolution / 2),
                           is_buffer=np.zeros(lat.size, bool), resolution=resolution,
                           lat_axis=lat1, lon_axis=lon1)
