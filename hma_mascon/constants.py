"""Physical and geodetic constants, each with its reference.

All values are SI. The Stokes-coefficient constants (GM and reference radius of a
gravity-field model) are *not* here: they are read from each file's header and carried
as attributes of the coefficient container (METHODS.md section 1).
"""

from __future__ import annotations

import numpy as np

#: Newtonian constant of gravitation [m3 kg-1 s-2] (CODATA 2018, Tiesinga et al. 2021).
G = 6.67430e-11

#: Density of fresh water [kg m-3], the EWH <-> mass conversion (Wahr et al. 1998).
RHO_WATER = 1000.0

#: Mean density of the Earth [kg m-3] used in the SH <-> EWH factors (Wahr et al. 1998).
RHO_EARTH = 5517.0

#: IUGG mean Earth radius R1 = (2a + b)/3 of GRS80 [m] (Moritz 2000).
R_MEAN = 6371008.8

#: Earth radius used by the Jekeli (1981) Gaussian filter [m] (Wahr et al. 1998).
R_GAUSSIAN = 6371.0e3

#: Typical GRACE Level-2 constants (CSR/GFZ/JPL RL06, ITSG-Grace2018): GM [m3 s-2], a [m].
GM_GRACE = 3.986004415e14
A_GRACE = 6378136.3


class Ellipsoid:
    """A reference ellipsoid given by semi-major axis ``a`` [m], inverse flattening and GM.

    Parameters
    ----------
    name : str
    a : float
        Semi-major axis [m].
    inverse_flattening : float
    GM : float
        Geocentric gravitational constant [m3 s-2].
    """

    def __init__(self, name: str, a: float, inverse_flattening: float, GM: float):
        self.name = name
        self.a = float(a)
        self.inverse_flattening = float(inverse_flattening)
        self.GM = float(GM)

    @property
    def f(self) -> float:
        """Flattening."""
        return 1.0 / self.inverse_flattening

    @property
    def b(self) -> float:
        """Semi-minor axis [m]."""
        return self.a * (1.0 - self.f)

    @property
    def e2(self) -> float:
        """First eccentricity squared."""
        return self.f * (2.0 - self.f)

    @property
    def e(self) -> float:
        """First eccentricity."""
        return float(np.sqrt(self.e2))

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return f"Ellipsoid({self.name!r}, a={self.a}, 1/f={self.inverse_flattening})"


#: GRS80 (Moritz 2000, J. Geodesy 74:128-133). Default mascon ellipsoid (Ditmar 2018).
GRS80 = Ellipsoid("GRS80", 6378137.0, 298.257222101, 3.986005e14)

#: WGS84 (NIMA TR8350.2). Differs from GRS80 by < 1 mm in b.
WGS84 = Ellipsoid("WGS84", 6378137.0, 298.257223563, 3.986004418e14)

ELLIPSOIDS = {"GRS80": GRS80, "WGS84": WGS84}


#: Default High Mountain Asia box (lon_min, lon_max, lat_min, lat_max) in degrees (the paper).
HMA_BOX = (65.0, 105.0, 26.0, 47.0)
