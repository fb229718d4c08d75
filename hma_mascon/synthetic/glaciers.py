"""Synthetic glaciers: area map along the real ranges, and regional mass-change terms.

Each range of :data:`parameters.GLACIER_RANGES` owns the 0.5 deg cells of its buffered centre line
(:mod:`.regions`). Its glacier area (RGI-like total) is spread over these cells with a cross-range
Gaussian profile times a lognormal texture, capped at :data:`parameters.MAX_GLACIER_FRACTION` of the
cell. Its mass change is a sum of (fixed pattern x time series) terms, in Gt:

.. math:: M_r(t) = \\dot M_r (t - t_{ref})\\,p^{trend}_r + A_r\\,[s(t) + v_r(t)]\\,p^{area}_r,

with :math:`p^{area}_r` the area share of each cell, :math:`p^{trend}_r` the area share times a
lognormal factor (renormalised, so the regional trend is exact), :math:`A_r = a_r\\,\\mathrm{area}_r`
the specific half-range times the area (1 m w.e. over 1 km2 = 1e-3 Gt), :math:`s` the seasonal shape
(:func:`season_shape`) and :math:`v_r` interannual sinusoids (:func:`interannual`). In the default
world every range has its own :math:`v_r`, independent of its neighbours'; the ``"regional"`` world
(:func:`glacier_terms`) mixes them so that neighbouring ranges share their weather. Written by hand
(numpy); nothing here needs a library.
"""

from __future__ import annotations

import numpy as np

from . import parameters as P
from ..regularization import great_circle_km
from .grids import cell_area_m2, product_axes
from .regions import range_index_map

GT_PER_MWE_KM2 = 1e-3  # 1 m w.e. over 1 km2 = 1e9 kg = 1e-3 Gt


def season_shape(t, t_max: float, t_min: float) -> np.ndarray:
    """Periodic seasonal mass shape in [-1, 1]: +1 at fraction-of-year ``t_max``, -1 at ``t_min``.

    Half-cosine ramps: ablation from t_max to t_min, accumulation from t_min to t_max + 1, with zero
    slope at both extremes (C1-continuous).
    """
    u = np.mod(np.asarray(t, float) - t_max, 1.0)
    abl = np.mod(t_min - t_max, 1.0)
    return np.where(u < abl, np.cos(np.pi * u / abl), -np.cos(np.pi * (u - abl) / (1.0 - abl)))


def interannual_params(rng: np.random.Generator, n: int = P.INTERANNUAL_N_TERMS,
                       periods=P.INTERANNUAL_PERIODS) -> np.ndarray:
    """Random sinusoids (period [yr], phase [rad], weight) with unit total RMS amplitude."""
    per = rng.uniform(*periods, size=n)
    phase = rng.uniform(0, 2 * np.pi, size=n)
    w = rng.uniform(0.5, 1.0, size=n)
    w = w * np.sqrt(2.0) / np.sqrt(np.sum(w**2))  # RMS of the sum = 1
    return np.stack([per, phase, w], axis=1)


def interannual(t, params: np.ndarray) -> np.ndarray:
    """Sum of the sinusoids of :func:`interannual_params` at decimal years ``t`` (RMS 1)."""
    t = np.asarray(t, float)[..., None]
    return np.sum(params[:, 2] * np.sin(2 * np.pi * t / params[:, 0] + params[:, 1]), axis=-1)


def glacier_area(rng: np.random.Generator):
    """Glacier area [km2] per product cell (lat, lon) and the range index map."""
    lat, lon = product_axes()
    idx = range_index_map(lat, lon)
    area_cell = cell_area_m2(lat)[:, None] * np.ones(lon.size) / 1e6
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    out = np.zeros(idx.shape)
    from shapely import distance, points
    from shapely.geometry import LineString

    for k, (_, line, hw, total, *_r) in enumerate(P.GLACIER_RANGES):
        mask = idx == k
        d = distance(LineString(line), points(lo[mask], la[mask]))
        w = np.exp(-0.5 * (d / (0.6 * hw)) ** 2) * rng.lognormal(0.0, P.AREA_TEXTURE_SIGMA, size=d.size)
        cap = P.MAX_GLACIER_FRACTION * area_cell[mask]
        a = np.zeros_like(w)
        free = np.ones_like(w, bool)
        remaining = total
        for _ in range(50):  # water-filling: cap cells, redistribute the excess over the others
            a[free] = remaining * w[free] / w[free].sum()
            over = free & (a > cap)
            if not over.any():
                break
            a[over] = cap[over]
            free &= ~over
            remaining = total - a[~free].sum()
        out[mask] = a
    return out, idx


#: the interannual modes of :func:`glacier_terms`
INTERANNUAL_MODES = ("independent", "regional")


def range_weather_mixing(length_km: float = P.INTERANNUAL_CORRELATION_KM, ranges=P.GLACIER_RANGES) -> np.ndarray:
    r"""Lower-triangular L with L L^T = ρ, :math:`ρ_{rs} = \exp(-d_{rs}/L)` between the ranges.

    :math:`d_{rs}` is the great-circle distance between the mean points of the centre lines of ranges r
    and s. The exponential of great-circle distance is positive definite on the sphere (Gneiting 2013),
    so the Cholesky factor exists. Mixing independent unit-RMS series u with L, :math:`v = L u`, gives
    series of unit variance that correlate as ρ; the first range keeps its own series (L_00 = 1).
    """
    pts = np.array([np.mean(np.asarray(line, float), axis=0) for _, line, *_ in ranges])  # (lon, lat)
    rho = np.exp(-great_circle_km(pts[:, 1], pts[:, 0]) / float(length_km))
    return np.linalg.cholesky(rho)


def glacier_terms(rng_area, rng_time, interannual_mode: str = "independent"):
    """Glacier model: area map and (pattern [Gt per cell], time function) terms per range.

    Parameters
    ----------
    rng_area, rng_time : numpy.random.Generator
    interannual_mode : {"independent", "regional"}
        ``"independent"`` (the default world): each range's interannual series :math:`v_r` is its own.
        ``"regional"``: the same draws mixed by :func:`range_weather_mixing`, so that ranges share
        their weather (correlation exp(-d / 500 km)), and the Tien Shan ranges share the phase of their
        quasi-5-year oscillation. Every random draw is the same in both modes, so the two worlds differ
        by the correlation alone.

    Returns
    -------
    area : ndarray (lat, lon), km2
    idx : ndarray (lat, lon), range index of each cell (-1 none)
    terms : list of dict(name, range, kind, pattern_gt, func)
    specs : list of dict per range (trend, amplitude_gt, season, interannual params)
    """
    if interannual_mode not in INTERANNUAL_MODES:
        raise ValueError(f"interannual_mode={interannual_mode!r}: choose one of {INTERANNUAL_MODES}")
    area, idx = glacier_area(rng_area)
    ts = P.TIENSHAN_OSCILLATION
    draws = []  # the draws, in the order of generator 1.2.0 (per range: trend texture, sinusoids, phase)
    for k, (name, *_r) in enumerate(P.GLACIER_RANGES):
        fac = np.where(idx == k, rng_area.lognormal(0.0, P.TREND_TEXTURE_SIGMA, size=area.shape), 0.0)
        draws.append((fac, interannual_params(rng_time), rng_time.uniform(0, 2 * np.pi)))
    mixing = (range_weather_mixing() if interannual_mode == "regional" else np.eye(len(draws)))
    if interannual_mode == "regional":
        shared = next(d[2] for (n, *_r), d in zip(P.GLACIER_RANGES, draws) if n in ts["ranges"])
        draws = [(f, q, shared if n in ts["ranges"] else ph) for (n, *_r), (f, q, ph) in zip(P.GLACIER_RANGES, draws)]
    all_params = [d[1] for d in draws]
    terms, specs = [], []
    for k, (name, _line, _hw, total, trend, season, half, iav) in enumerate(P.GLACIER_RANGES):
        fac, params, osc_phase = draws[k]
        share = np.where(idx == k, area, 0.0) / total
        tshare = share * fac / np.sum(share * fac)
        amp = half * total * GT_PER_MWE_KM2
        iav_gt = iav * total * GT_PER_MWE_KM2
        osc = ts["amplitude"] * total * GT_PER_MWE_KM2 if name in ts["ranges"] else 0.0
        tmax, tmin = P.SEASON_SHAPES[season]
        weights = [(mixing[k, j], all_params[j]) for j in range(k + 1) if mixing[k, j] != 0.0]

        def f_trend(t, trend=trend):
            return trend * (np.asarray(t, float) - P.T_REF)

        def f_var(t, amp=amp, iav_gt=iav_gt, osc=osc, ph=osc_phase, weights=weights, tmax=tmax, tmin=tmin):
            t = np.asarray(t, float)
            v = sum(w * interannual(t, q) for w, q in weights)
            return (amp * season_shape(t, tmax, tmin) + iav_gt * v
                    + osc * np.sin(2 * np.pi * t / ts["period"] + ph))

        terms.append(dict(name=f"glacier trend {name}", component="glacier", pattern_gt=tshare, func=f_trend))
        terms.append(dict(name=f"glacier variability {name}", component="glacier", pattern_gt=share, func=f_var))
        specs.append(dict(name=name, trend=trend, amplitude_gt=amp, season=season, area_km2=total,
                          f_trend=f_trend, f_var=f_var, share=share, tshare=tshare))
    return area, idx, terms, specs
