"""Synthetic inner-Tibetan lakes gaining mass, each concentrated in a single 0.5 deg cell.

Lake storage of lake i: :math:`L_i(t) = \\dot L_i (t-t_{ref}) + \\dot L_i [a_s\\cos 2\\pi(t-t_p) + a_v v(t)]`
(Gt), with rates :math:`\\dot L_i` proportional to the shares of :data:`parameters.LAKES` (times a
lognormal scatter) and summing to :data:`parameters.LAKE_TOTAL_TREND`; the seasonal cycle peaks after
the monsoon; one common interannual series v. Three (pattern x time series) terms. Hand-written numpy.
"""

from __future__ import annotations

import numpy as np

from . import parameters as P
from .glaciers import interannual, interannual_params
from .grids import product_axes


def lake_terms(rng: np.random.Generator):
    """Lake terms (pattern [Gt per cell per unit], time function) and the per-lake table."""
    lat, lon = product_axes()
    share = np.array([s for *_x, s in P.LAKES]) * rng.lognormal(0.0, 0.2, size=len(P.LAKES))
    rate = P.LAKE_TOTAL_TREND * share / share.sum()
    pat = np.zeros((lat.size, lon.size))
    cells = []
    for (name, la, lo, _s), r in zip(P.LAKES, rate):
        i = int(np.argmin(np.abs(lat - la)))
        j = int(np.argmin(np.abs(lon - lo)))
        pat[i, j] += r
        cells.append((name, lat[i], lon[j], r))
    params = interannual_params(rng)

    def f_trend(t):
        return np.asarray(t, float) - P.T_REF

    def f_season(t):
        return P.LAKE_SEASONAL_FRACTION * np.cos(2 * np.pi * (np.asarray(t, float) - P.LAKE_SEASON_PEAK))

    def f_iav(t):
        return P.LAKE_INTERANNUAL_FRACTION * interannual(t, params)

    terms = [dict(name="lake trend", component="lake", pattern_gt=pat, func=f_trend),
             dict(name="lake seasonal", component="lake", pattern_gt=np.abs(pat), func=f_season),
             dict(name="lake interannual", component="lake", pattern_gt=np.abs(pat), func=f_iav)]
    return terms, cells
