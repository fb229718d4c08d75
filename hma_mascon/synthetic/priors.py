"""Prior products of the synthetic world, with the faults of the real ones.

* ASTER-like glacier mass (2002-2019): the truth's glacier mass at the edges of multi-year windows
  (2000, 2005, ..., 2020), window increments perturbed by a per-cell relative error and a regional
  bias, linearly interpolated to months -- no seasonal cycle, like DEM differencing (Hugonnet 2021).
* Lake storage to 2017 with white noise in the lake cells.
* WGHM-like hydrology to 2017: soil moisture + snow + interannual, with a phase error and an amplitude
  factor, and *without* the groundwater loss (models miss irrigation pumping).
* GLDAS-like soil moisture 2002-2023: soil moisture + interannual part, amplitude factor, noise.

All on the 0.5 deg product grid in cm (the manifest's "HMA 0.5-degree CF grid"). Hand-written numpy.
"""

from __future__ import annotations

import numpy as np

from . import parameters as P


def aster_series(glacier_field, t_months, idx, rng: np.random.Generator) -> np.ndarray:
    """ASTER-like cumulative glacier EWH [m] (time, lat, lon) at decimal years ``t_months``."""
    edges = np.asarray(P.ASTER_WINDOW_EDGES, float)
    at_edges = glacier_field(edges)  # (k, lat, lon)
    inc = np.diff(at_edges, axis=0)
    bias = 1.0 + P.ASTER_REGION_BIAS * rng.standard_normal(idx.max() + 2)
    cell_err = 1.0 + P.ASTER_CELL_ERROR * rng.standard_normal(inc.shape)
    inc = inc * cell_err * bias[idx][None]
    cum = np.concatenate([np.zeros((1,) + inc.shape[1:]), np.cumsum(inc, axis=0)])
    out = np.empty((len(t_months),) + cum.shape[1:])
    pos = np.clip(np.searchsorted(edges, t_months) - 1, 0, edges.size - 2)
    w = (np.asarray(t_months) - edges[pos]) / (edges[pos + 1] - edges[pos])
    for k, (p, ww) in enumerate(zip(pos, w)):
        out[k] = (1 - ww) * cum[p] + ww * cum[p + 1]
    return out


def noisy(field: np.ndarray, sigma_m: float, rng: np.random.Generator, mask=None) -> np.ndarray:
    """Add white noise of std ``sigma_m`` (only where ``mask`` if given)."""
    e = sigma_m * rng.standard_normal(field.shape)
    if mask is not None:
        e = e * mask
    return field + e
