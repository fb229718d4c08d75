"""Trend + seasonal fits, trend errors, moving averages and gap filling (METHODS.md 9, 10.2, 10.5).

Ordinary least squares on the six-term model (numpy ``lstsq``/``solve`` do the algebra); the
model, the grouping of series by their missing-month pattern (so that thousands of cells are
fitted with a handful of factorisations), the error budget of AMB-11 and the 2x12 filter are
written here, because they are small and their conventions matter.

Time is in decimal years (``decimal_year`` converts datetime64). Monthly series for the
filters live on a *regular* monthly axis with NaN for missing months.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "decimal_year_to_datetime",
    "decimal_year",
    "harmonic_design",
    "HarmonicFit",
    "fit_harmonic_trend",
    "trend_with_error",
    "lag1_autocorrelation",
    "moving_average_2x12",
    "fill_short_gaps",
    "TERMS",
]

#: Names of the six columns of :func:`harmonic_design`.
TERMS = ("offset", "trend", "cos1", "sin1", "cos2", "sin2")


def decimal_year(time) -> np.ndarray:
    """Decimal year ``y + (t - Jan 1 of y) / (days in y)`` (leap years honoured): the one conversion of
    the package.

    Parameters
    ----------
    time : array_like
        datetime64, datetime-like strings or objects, or an xarray object holding them; floats
        (already decimal years) pass through.

    Returns
    -------
    numpy.ndarray of float
        Shape of ``time`` (at least 1-D for datetime input).
    """
    t = np.asarray(getattr(time, "values", time))
    if not (np.issubdtype(t.dtype, np.datetime64) or t.dtype.kind in "OUS"):
        return t.astype(float)
    shape = np.atleast_1d(t).shape
    idx = pd.DatetimeIndex(pd.to_datetime(np.ravel(t)).values.astype("datetime64[ns]"))
    year = idx.year.values
    start = pd.to_datetime({"year": year, "month": 1, "day": 1}).values
    days = np.array([366.0 if calendar.isleap(int(y)) else 365.0 for y in year])
    return (year + (idx.values - start) / np.timedelta64(1, "D") / days).reshape(shape)


def decimal_year_to_datetime(value) -> np.ndarray:
    """Inverse of :func:`decimal_year` (to the nanosecond)."""
    value = np.atleast_1d(np.asarray(value, dtype=float))
    year = np.floor(value).astype(int)
    start = pd.to_datetime({"year": year, "month": 1, "day": 1}).values
    days = np.array([366.0 if calendar.isleap(int(y)) else 365.0 for y in year])
    ns = np.round((value - year) * days * 86400e9).astype("int64")
    return start + ns.astype("timedelta64[ns]")


def harmonic_design(t, t0):
    """Design matrix of the six-term model (METHODS.md section 9).

    .. math:: x(t) = \\beta_0 + \\beta_1(t-t_0) + a_1\\cos 2\\pi t + b_1\\sin 2\\pi t
              + a_2\\cos 4\\pi t + b_2\\sin 4\\pi t

    Returns ndarray (len(t), 6), columns in the order of :data:`TERMS`.
    """
    t = decimal_year(t)
    w = 2 * np.pi * t
    return np.column_stack([np.ones_like(t), t - t0, np.cos(w), np.sin(w), np.cos(2 * w), np.sin(2 * w)])


@dataclass
class HarmonicFit:
    """Result of :func:`fit_harmonic_trend` (trailing shape ``...`` = that of one epoch of y).

    Attributes
    ----------
    coef : ndarray (6, ...)
        beta_0, beta_1 [units/yr], a1, b1, a2, b2.
    cov_unscaled : ndarray (6, 6, ...)
        (X^T X)^-1 over each series' available epochs.
    sigma2 : ndarray (...)
        Residual variance RSS/(n_t - 6).
    n_used : ndarray (...)
        Number of epochs used.
    t0 : float
        Reference epoch (mean of the epochs available in any series unless given).
    rho1 : ndarray (...)
        Lag-1 residual autocorrelation from consecutive-month pairs only.
    residuals : ndarray (time, ...)
        y - fit (NaN where y is NaN).
    """

    coef: np.ndarray
    cov_unscaled: np.ndarray
    sigma2: np.ndarray
    n_used: np.ndarray
    t0: float
    rho1: np.ndarray
    residuals: np.ndarray

    @property
    def trend(self):
        """beta_1 per series."""
        return self.coef[1]

    @property
    def trend_sigma(self):
        """OLS standard error of beta_1, sqrt(sigma^2 (X^TX)^-1_11)."""
        return np.sqrt(self.sigma2 * self.cov_unscaled[1, 1])

    @property
    def annual_amplitude(self):
        """sqrt(a1^2 + b1^2)."""
        return np.hypot(self.coef[2], self.coef[3])

    def trend_component(self, t):
        """x_trend(t) = beta_1 (t - t0), shape (len(t), ...) (AMB-9: only the linear term)."""
        t = decimal_year(t)
        return (t - self.t0).reshape((-1,) + (1,) * self.coef[1].ndim) * self.coef[1]

    def predict(self, t):
        """Full six-term model at epochs t, shape (len(t), ...)."""
        X = harmonic_design(t, self.t0)
        return np.tensordot(X, self.coef, axes=(1, 0))


def lag1_autocorrelation(t, resid):
    """Lag-1 autocorrelation of residuals from consecutive-month pairs only.

    Pairs (k, k+1) count when both are finite and 0.5/12 < t_{k+1} - t_k < 1.5/12 yr.
    rho1 = sum e_k e_{k+1} / sum e_k^2 (over all finite residuals). resid: (time, k).
    """
    t = decimal_year(t)
    e = np.asarray(resid, float)
    dt = np.diff(t)
    consecutive = (dt > 0.5 / 12) & (dt < 1.5 / 12)
    prod = e[:-1] * e[1:]
    ok = consecutive[:, None] & np.isfinite(prod)
    num = np.where(ok, prod, 0.0).sum(0)
    den = np.nansum(e**2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def fit_harmonic_trend(t, y, t0=None) -> HarmonicFit:
    """Least-squares fit of the six-term model to many series at once.

    Parameters
    ----------
    t : array_like (time,)
        Decimal years or datetime64.
    y : array_like (time, ...)
        Series; NaN epochs are dropped per series. Series sharing the same missing-month pattern
        are solved together (one factorisation per pattern).
    t0 : float, optional
        Reference epoch; default the mean of the epochs where any series is finite (recorded).

    Returns
    -------
    HarmonicFit
    """
    t = decimal_year(t)
    y = np.asarray(y, float)
    if y.shape[0] != t.size:
        raise ValueError(f"y has {y.shape[0]} epochs, t has {t.size}")
    tail = y.shape[1:]
    Y = y.reshape(t.size, -1)
    finite = np.isfinite(Y)
    any_rows = finite.any(axis=1)
    if t0 is None:
        t0 = float(np.mean(t[any_rows])) if any_rows.any() else float(np.mean(t))
    X = harmonic_design(t, t0)
    k = Y.shape[1]
    coef = np.full((6, k), np.nan)
    cov = np.full((6, 6, k), np.nan)
    sigma2 = np.full(k, np.nan)
    n_used = finite.sum(0)
    resid = np.full_like(Y, np.nan)
    patterns, inverse = np.unique(finite.T, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    for p, pattern in enumerate(patterns):
        cols = np.flatnonzero(inverse == p)
        rows = np.flatnonzero(pattern)
        if rows.size < 6:
            continue
        Xp = X[rows]
        xtx_inv = np.linalg.inv(Xp.T @ Xp)
        beta = xtx_inv @ (Xp.T @ Y[np.ix_(rows, cols)])
        e = Y[np.ix_(rows, cols)] - Xp @ beta
        coef[:, cols] = beta
        cov[:, :, cols] = xtx_inv[:, :, None]
        dof = rows.size - 6
        sigma2[cols] = np.sum(e**2, axis=0) / dof if dof > 0 else np.nan
        resid[np.ix_(rows, cols)] = e
    rho1 = lag1_autocorrelation(t, resid)
    return HarmonicFit(coef=coef.reshape((6,) + tail), cov_unscaled=cov.reshape((6, 6) + tail),
                       sigma2=sigma2.reshape(tail), n_used=n_used.reshape(tail), t0=t0, rho1=rho1.reshape(tail),
                       residuals=resid.reshape(y.shape))


_METHODS = ("1.96*sqrt(fit^2+gia^2)", "sqrt((1.96*fit)^2+gia^2)")


def trend_with_error(t, y, gia_trends=None, method="1.96*sqrt(fit^2+gia^2)", ar1=False, quantile="normal",
                     extra_sigmas=(), t0=None):
    """Trend and its 95 % error (METHODS.md section 10.2, AMB-11).

    sigma_fit is the OLS standard error of beta_1 (sigma^2 = RSS/(n_t - 6)), optionally inflated
    by sqrt((1+rho1)/(1-rho1)) (``ar1=True``); sigma_GIA is the sample std (ddof=1) of the trends
    of the GIA models on the same aggregate.

    * ``"1.96*sqrt(fit^2+gia^2)"`` (default): q sqrt(sigma_fit^2 + sigma_GIA^2 + sum extra^2)
    * ``"sqrt((1.96*fit)^2+gia^2)"``: sqrt((q sigma_fit)^2 + sigma_GIA^2 + sum extra^2)

    with q = 1.96 (``quantile="normal"``) or the Student-t 0.975 quantile with n_t - 6 dof
    (``quantile="student"``).

    Parameters
    ----------
    t : (time,) decimal years or datetime64
    y : (time, ...) series (NaN = missing)
    gia_trends : array_like (n_models, ...), optional
        Trends of the same aggregate under each GIA model.
    extra_sigmas : sequence of array_like
        Further 1-sigma terms added in quadrature (e.g. GLDAS spread).

    Returns
    -------
    trend, error : ndarray (...)
    info : dict with ``sigma_fit``, ``sigma_gia``, ``quantile``, ``fit`` (the HarmonicFit)
    """
    if method not in _METHODS:
        raise ValueError(f"unknown error method {method!r}; choose one of {_METHODS}")
    fit = fit_harmonic_trend(t, y, t0=t0)
    sigma_fit = fit.trend_sigma
    if ar1:
        rho = np.clip(fit.rho1, -0.99, 0.99)
        sigma_fit = sigma_fit * np.sqrt((1 + rho) / (1 - rho))
    if gia_trends is None:
        sigma_gia = np.zeros_like(sigma_fit)
    else:
        g = np.asarray(gia_trends, float)
        sigma_gia = np.std(g, axis=0, ddof=1) if g.shape[0] > 1 else np.zeros_like(sigma_fit)
    extra = np.sum([np.asarray(e, float) ** 2 for e in extra_sigmas], axis=0) if len(extra_sigmas) else 0.0
    if quantile == "normal":
        q = 1.96
    elif quantile == "student":
        q = stats.t.ppf(0.975, np.asarray(fit.n_used) - 6)
    else:
        raise ValueError(f'quantile must be "normal" or "student", got {quantile!r}')
    if method == _METHODS[0]:
        err = q * np.sqrt(sigma_fit**2 + sigma_gia**2 + extra)
    else:
        err = np.sqrt((q * sigma_fit) ** 2 + sigma_gia**2 + extra)
    return fit.trend, err, {"sigma_fit": sigma_fit, "sigma_gia": sigma_gia, "quantile": q, "fit": fit}


def moving_average_2x12(series, equal_weights=False, axis=0):
    """Centred 13-month moving average on a regular monthly axis (METHODS.md section 10.5).

    Default 2x12 weights (1/24, 1/12 x 11, 1/24): cancels the annual and semi-annual cycles
    exactly (and every harmonic of 12 months). ``equal_weights=True`` uses 13 x 1/13, which leaks
    1/13 of the annual cycle. Only complete windows give a value: NaN where the window runs off the
    ends or holds a NaN (so nothing crosses the 2017-2018 gap).
    """
    x = np.moveaxis(np.asarray(series, float), axis, 0)
    w = np.full(13, 1.0 / 13) if equal_weights else np.r_[0.5, np.ones(11), 0.5] / 12.0
    n = x.shape[0]
    out = np.full_like(x, np.nan)
    if n >= 13:
        acc = np.zeros((n - 12,) + x.shape[1:])
        for j in range(13):
            acc = acc + w[j] * x[j:n - 12 + j]
        out[6:n - 6] = acc  # NaN propagates: incomplete windows stay NaN
    return np.moveaxis(out, 0, axis)


def _month_index(time):
    t = np.asarray(time)
    if np.issubdtype(t.dtype, np.datetime64):
        return t.astype("datetime64[M]").astype(int)  # months since 1970-01
    if t.dtype.kind in "US":
        return np.array([int(s[:4]) * 12 + int(s[5:7]) - 1 - 1970 * 12 for s in t.astype(str)])
    return np.floor(t.astype(float) * 12 + 1e-9).astype(int) - 1970 * 12


def fill_short_gaps(series, max_gap=2, never=("2017-07", "2018-05"), *, time=None, axis=0):
    """Linearly interpolate interior NaN runs of at most ``max_gap`` months.

    Runs that touch the ``never`` window (inclusive ``"YYYY-MM"`` bounds; default the GRACE /
    GRACE-FO gap) and runs at the ends of the series stay NaN.

    Parameters
    ----------
    series : ndarray or DataArray
        On a regular monthly axis (``axis``), NaN for missing months. A DataArray supplies
        ``time`` from its ``time`` coordinate.
    time : array_like, optional
        datetime64, ``"YYYY-MM"`` labels, or decimal years, one per step; needed for ``never``.
    """
    is_da = hasattr(series, "dims")
    if is_da:
        da = series
        if time is None and "time" in da.coords:
            time = da["time"].values
        axis = da.dims.index("time") if "time" in da.dims else axis
        values = np.asarray(da.values, float)
    else:
        values = np.asarray(series, float)
    x = np.moveaxis(values.copy(), axis, 0)
    n = x.shape[0]
    blocked = np.zeros(n, bool)
    if never is not None:
        if time is None:
            raise ValueError("fill_short_gaps needs time to honour the 'never' window")
        mi = _month_index(time)
        if np.any(np.diff(mi) != 1):
            raise ValueError("fill_short_gaps expects a regular monthly axis (one step per month, NaN for gaps)")
        lo = _month_index(np.array([never[0]]))[0]
        hi = _month_index(np.array([never[1]]))[0]
        blocked = (mi >= lo) & (mi <= hi)
    flat = x.reshape(n, -1)
    idx = np.arange(n)
    for c in range(flat.shape[1]):
        col = flat[:, c]
        nan = np.isnan(col)
        if not nan.any() or nan.all():
            continue
        k = 0
        while k < n:
            if not nan[k]:
                k += 1
                continue
            start = k
            while k < n and nan[k]:
                k += 1
            end = k  # run is [start, end)
            if start == 0 or end == n or end - start > max_gap or blocked[start:end].any():
                continue
            col[start:end] = np.interp(idx[start:end], [start - 1, end], [col[start - 1], col[end]])
    out = np.moveaxis(flat.reshape(x.shape), 0, axis)
    if is_da:
        return da.copy(data=out)
    return out
