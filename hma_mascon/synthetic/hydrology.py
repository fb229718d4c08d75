"""Synthetic hydrology: soil moisture and snow with monsoon-phased seasonal cycles, groundwater
depletion south of the box, and interannual anomalies. All smooth analytic fields (EWH, metres).

Terms (pattern x time series):

* soil moisture/surface water: :math:`A(\\varphi,\\lambda)\\cos 2\\pi(t - t_p(\\varphi,\\lambda))`
  split into cos and sin patterns; amplitude grows to the south-east (monsoon), peak in early
  September there and in late winter in the north-west (westerlies);
* snow: :math:`A_s(\\varphi)\\cos 2\\pi(t - 0.2)` over the high latitudes of HMA;
* groundwater: Gaussian lobes of :data:`parameters.GROUNDWATER_LOBES` times (t - t_ref);
* interannual: random smooth Gaussian blobs times random sinusoid sums.

Everything is multiplied by a cosine edge taper of :data:`parameters.HYDRO_DOMAIN`; oceans are not
masked (a simplification: the Arabian Sea/Bay of Bengal corners get a little signal). Hand-written numpy.
"""

from __future__ import annotations

import numpy as np

from . import parameters as P
from .glaciers import interannual, interannual_params

CM = 0.01


def taper(lat, lon):
    """1 inside the hydrology domain, cosine ramp to 0 over its edge width."""
    lo0, lo1, la0, la1, w = P.HYDRO_DOMAIN

    def ramp(x, a, b):
        r = np.clip(np.minimum(x - a, b - x) / w, 0.0, 1.0)
        return 0.5 - 0.5 * np.cos(np.pi * r)

    return ramp(np.asarray(lat, float), la0, la1) * ramp(np.asarray(lon, float), lo0, lo1)


def _se_weight(lat, lon):
    """0 in the north-west, 1 in the south-east (logistic in lon - lat)."""
    return 1.0 / (1.0 + np.exp(-((lon - 80.0) - 1.5 * (lat - 32.0)) / 6.0))


def soil_amplitude(lat, lon):
    """Soil-moisture annual half-range [m]."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    se = _se_weight(lat, lon)
    south = np.exp(-0.5 * np.clip(lat - 25.0, 0, None) ** 2 / 7.0**2)
    return P.SOIL_AMPLITUDE_MAX_CM * CM * (0.25 + 0.75 * se) * south * taper(lat, lon)


def soil_peak(lat, lon):
    """Fraction of year of the soil-moisture maximum."""
    se = _se_weight(np.asarray(lat, float), np.asarray(lon, float))
    return P.SOIL_PEAK_NW + (P.SOIL_PEAK_SE - P.SOIL_PEAK_NW) * se


def snow_amplitude(lat, lon):
    """Snow water equivalent annual half-range [m] (largest 35-45N)."""
    lat = np.asarray(lat, float)
    return P.SNOW_AMPLITUDE_CM * CM * np.exp(-0.5 * ((lat - 40.0) / 5.0) ** 2) * taper(lat, lon)


def groundwater_rate(lat, lon):
    """Groundwater storage rate [m/yr] (negative: depletion)."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    out = np.zeros(np.broadcast(lat, lon).shape)
    for la, lo, sla, slo, rate in P.GROUNDWATER_LOBES:
        out = out + rate * CM * np.exp(-0.5 * (((lat - la) / sla) ** 2 + ((lon - lo) / slo) ** 2))
    return out


def hydrology_terms(rng: np.random.Generator):
    """Hydrology terms: dict(name, component, sub, pattern_fn(lat, lon) [m per unit], func(t))."""
    two_pi = 2 * np.pi
    terms = [
        dict(name="soil cos", sub="soil", pattern_fn=lambda la, lo: soil_amplitude(la, lo)
             * np.cos(two_pi * soil_peak(la, lo)), func=lambda t: np.cos(two_pi * np.asarray(t, float))),
        dict(name="soil sin", sub="soil", pattern_fn=lambda la, lo: soil_amplitude(la, lo)
             * np.sin(two_pi * soil_peak(la, lo)), func=lambda t: np.sin(two_pi * np.asarray(t, float))),
        dict(name="snow cos", sub="snow", pattern_fn=lambda la, lo: snow_amplitude(la, lo)
             * np.cos(two_pi * P.SNOW_PEAK), func=lambda t: np.cos(two_pi * np.asarray(t, float))),
        dict(name="snow sin", sub="snow", pattern_fn=lambda la, lo: snow_amplitude(la, lo)
             * np.sin(two_pi * P.SNOW_PEAK), func=lambda t: np.sin(two_pi * np.asarray(t, float))),
        dict(name="groundwater", sub="groundwater", pattern_fn=groundwater_rate,
             func=lambda t: np.asarray(t, float) - P.T_REF),
    ]
    lo0, lo1, la0, la1, w = P.HYDRO_DOMAIN
    for k in range(P.HYDRO_INTERANNUAL_N):
        cla, clo = rng.uniform(la0 + w, la1 - w), rng.uniform(lo0 + w, lo1 - w)
        params = interannual_params(rng)
        r = P.HYDRO_INTERANNUAL_RADIUS

        def pat(la, lo, cla=cla, clo=clo, r=r):
            return (P.HYDRO_INTERANNUAL_CM * CM * np.exp(-0.5 * ((la - cla) ** 2 + (lo - clo) ** 2) / r**2)
                    * taper(la, lo))

        terms.append(dict(name=f"interannual {k}", sub="soil_iav", pattern_fn=pat,
                          func=lambda t, params=params: interannual(t, params)))
    for term in terms:
        term["component"] = "hydrology"
    return terms
