"""Synthetic WGMS-like annual glacier mass balances at the paper's four stations (Table III, AMB-17).

Balance of hydrological year Y (1 Oct Y-1 .. 30 Sep Y): the specific balance of the glaciers of the
station's 0.5 deg cell (cell glacier mass change / cell glacier area), times a local amplification
(small glaciers lose more than the cell mean), plus local noise [mm w.e.]; winter (Oct-Apr) and summer
(May-Sep) parts likewise. Written in the WGMS FoG ``mbdata`` column layout and with a
``rgi_wgms_links`` table of the same columns as the mirror's. Hand-written pandas.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

from ..timeseries import decimal_year
from . import parameters as P

MB_COLUMNS = ["YEAR", "WGMS_ID", "POLITICAL_UNIT", "NAME", "AREA", "WINTER_BALANCE", "SUMMER_BALANCE",
              "ANNUAL_BALANCE", "REMARKS", "RGI_ID"]
LINK_COLUMNS = ["CenLon", "CenLat", "POLITICAL_UNIT", "NAME", "WGMS_ID", "PSFG_ID", "WGI_ID", "GLIMS_ID", "RGI40_ID",
                "RGI50_ID", "RGI60_ID", "RGI_REG", "RGI_REG_NAME", "GlacierType", "TerminusType", "IsTidewater",
                "N_MB_YRS", "HAS_PROFILE", "REMARKS"]


def _dy(y, m, d):
    return float(decimal_year(np.datetime64(_dt.date(y, m, d), "ns"))[0])


def station_balances(specific_mwe, rng: np.random.Generator) -> dict[int, pd.DataFrame]:
    """Annual/winter/summer balances per station.

    Parameters
    ----------
    specific_mwe : callable (lat, lon, t) -> specific glacier mass [m w.e.] of the cell at decimal years t
    """
    out = {}
    for wid, name, pu, lat, lon, rgi, y0, y1, area, amp, noise in P.STATIONS:
        rows = []
        for y in range(y0, y1 + 1):
            t = np.array([_dy(y - 1, 10, 1), _dy(y, 5, 1), _dy(y, 10, 1)])
            mass = specific_mwe(lat, lon, t) * 1000.0 * amp  # mm w.e.
            e = rng.normal(0.0, noise / np.sqrt(2), size=2)
            bw = mass[1] - mass[0] + e[0]
            bs = mass[2] - mass[1] + e[1]
            rows.append([y, wid, pu, name, area, round(bw), round(bs), round(bw) + round(bs),
                         "synthetic (hma-mascon), hydrological year 1.10-30.9", rgi])
        out[wid] = pd.DataFrame(rows, columns=MB_COLUMNS)
    return out


def station_links() -> pd.DataFrame:
    """The ``rgi_wgms_links`` table of the four stations (coordinates of the paper's Table III)."""
    rows = []
    for wid, name, pu, lat, lon, rgi, y0, y1, *_ in P.STATIONS:
        reg = rgi.split("-")[1].split(".")[0]
        regname = {"13": "13: Asia, Central", "14": "14: Asia, South West", "15": "15: Asia, South East"}[reg]
        rows.append([lon, lat, pu, name, wid, "", "", "", "", "", rgi, int(reg), regname, "Glacier",
                     "Land-terminating", False, y1 - y0 + 1, False, "synthetic station (hma-mascon)"])
    return pd.DataFrame(rows, columns=LINK_COLUMNS)
