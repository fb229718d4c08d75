"""Labelled containers for series of spherical-harmonic (Stokes) coefficients.

The container is an :class:`xarray.Dataset` (see ``CONTRIBUTING.md``, "Coefficient container"):

* data variables ``C``, ``S``, ``sigma_C``, ``sigma_S`` with dims ``(time, degree, order)``,
  float64, NaN where ``order > degree``, ``S[..., 0] = 0``, sigmas 0 where unknown;
* per-time coordinates ``time`` (mid-epoch of the data span), ``decimal_year``, ``month``
  (GRACE month label ``"YYYY-MM"``), ``time_start``, ``time_end``, ``mission``, ``source_file``;
* attributes ``GM`` [m3 s-2], ``radius`` [m], ``tide_system``, ``product``, ``normalization``,
  ``history``.

Coefficients are 4pi fully normalised without the Condon-Shortley phase (METHODS.md §1), so the
potential is

.. math::

    V(r, \\theta, \\lambda) = \\frac{GM}{r} \\sum_{n=0}^{N} \\left(\\frac{a}{r}\\right)^n
    \\sum_{m=0}^{n} \\bar P_{nm}(\\cos\\theta)\\,[C_{nm}\\cos m\\lambda + S_{nm}\\sin m\\lambda].

Heavy lifting: xarray (labelling), numpy (indexing), pandas (dates). Written by hand: the
container layout, the coefficient-vector ordering shared by every synthesis matrix and
covariance in the package, the GRACE month labels (including the rule that makes labels unique
when two solutions are centred in the same calendar month), anomalies over a reference period
(METHODS.md §2.2; missing months are never interpolated, §11) and decimal years (§2.3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .timeseries import decimal_year

__all__ = [
    "calendar_months",
    "NORMALIZATION",
    "make_stokes_dataset",
    "coefficient_index",
    "to_coefficient_vector",
    "to_sigma_vector",
    "from_coefficient_vector",
    "anomalies",
    "select_period",
    "grace_month_label",
    "unique_month_labels",
    "mid_epoch",
    "append_history",
]

NORMALIZATION = "4pi, no Condon-Shortley"


# --------------------------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------------------------
def _as_datetime64(values) -> np.ndarray:
    """Convert dates (strings, datetimes, datetime64) to a 1-D ``datetime64[ns]`` array."""
    return np.atleast_1d(pd.to_datetime(np.atleast_1d(values)).values.astype("datetime64[ns]"))


def mid_epoch(time_start, time_end) -> np.ndarray:
    """Mid-point of data spans, ``t = t_start + (t_end - t_start) / 2`` (METHODS.md §2.3).

    ``time_end`` is the exclusive end of the span (00:00 of the day after the last day used),
    as in the ``time_coverage_end`` of the PO.DAAC headers.
    """
    start = _as_datetime64(time_start)
    end = _as_datetime64(time_end)
    if np.any(end < start):
        raise ValueError("mid_epoch: time_end precedes time_start")
    return start + (end - start) / 2


def grace_month_label(time_start, time_end):
    """GRACE month label ``"YYYY-MM"``: the calendar month of the mid-epoch of the data span.

    Parameters
    ----------
    time_start, time_end : datetime-like or array_like
        Begin and (exclusive) end of the data span.

    Returns
    -------
    str or numpy.ndarray of str
        One label per span (a plain ``str`` for scalar input).

    Notes
    -----
    Labels of single solutions may collide (two solutions centred in one calendar month, e.g.
    CSR Oct/Nov 2011 or Apr/May 2015). :func:`unique_month_labels` resolves a whole series.
    """
    scalar = np.ndim(time_start) == 0
    mid = pd.DatetimeIndex(mid_epoch(time_start, time_end))
    labels = np.array([f"{t.year:04d}-{t.month:02d}" for t in mid])
    return str(labels[0]) if scalar else labels


def _month_number(label: str) -> int:
    year, month = label.split("-")
    return int(year) * 12 + int(month) - 1


def _month_label(number: int) -> str:
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def unique_month_labels(time_start, time_end) -> np.ndarray:
    """Unique GRACE month labels for a series of solutions.

    Each solution gets the calendar month of its mid-epoch (:func:`grace_month_label`). When two
    solutions fall in the same calendar month (the accelerometer-off "special months" of late
    GRACE: CSR/GFZ Nov 2011 centred in Oct 2011, JPL Dec 2011 centred in Jan 2012, all centres
    May 2015 centred in Apr 2015), one of them is moved to a free neighbouring month: the earlier
    solution to the previous month or the later one to the next month, whichever move gives the
    moved solution the larger overlap (in days) of its data span with the target calendar month.
    This is the intent of gravity-toolkit's ``adjust_months`` (``grace_date``), written as an
    explicit rule. Collisions that cannot be resolved raise ``ValueError``.

    Parameters
    ----------
    time_start, time_end : array_like of datetime-like

    Returns
    -------
    numpy.ndarray of str
    """
    start = _as_datetime64(time_start)
    end = _as_datetime64(time_end)
    labels = list(grace_month_label(start, end))
    numbers = np.array([_month_number(lab) for lab in labels])
    order = np.argsort(mid_epoch(start, end), kind="stable")

    def overlap(k: int, number: int) -> float:
        m0 = np.datetime64(f"{_month_label(number)}-01", "ns")
        m1 = np.datetime64(f"{_month_label(number + 1)}-01", "ns")
        lo, hi = max(start[k], m0), min(end[k], m1)
        return max((hi - lo) / np.timedelta64(1, "D"), 0.0)

    for _ in range(len(labels)):
        values, counts = np.unique(numbers, return_counts=True)
        dup = values[counts > 1]
        if dup.size == 0:
            break
        number = int(dup[0])
        members = [k for k in order if numbers[k] == number]
        if len(members) > 2:
            raise ValueError(f"more than two solutions centred in {_month_label(number)}")
        early, late = members
        taken = set(numbers.tolist())
        moves = []
        if number - 1 not in taken:
            moves.append((overlap(early, number - 1), early, number - 1))
        if number + 1 not in taken:
            moves.append((overlap(late, number + 1), late, number + 1))
        if not moves:
            raise ValueError(
                f"two solutions centred in {_month_label(number)} and both neighbouring months taken"
            )
        _, k, new = max(moves, key=lambda item: item[0])
        numbers[k] = new
    return np.array([_month_label(int(n)) for n in numbers])


# --------------------------------------------------------------------------------------------
# container
# --------------------------------------------------------------------------------------------
def append_history(ds: xr.Dataset, step: str) -> xr.Dataset:
    """Return ``ds`` (shallow copy) with ``step`` appended to ``attrs["history"]`` (``"; "``)."""
    out = ds.copy()
    out.attrs = dict(ds.attrs)
    old = out.attrs.get("history", "")
    out.attrs["history"] = f"{old}; {step}" if old else step
    return out


def _per_time(value, ntime: int, name: str, default):
    if value is None:
        return [default] * ntime
    arr = np.atleast_1d(np.asarray(value, dtype=object))
    if arr.size == 1 and ntime != 1:
        return [arr[0]] * ntime
    if arr.size != ntime:
        raise ValueError(f"{name} has {arr.size} entries, expected {ntime} (one per time)")
    return list(arr)


def make_stokes_dataset(
    C,
    S,
    sigma_C=None,
    sigma_S=None,
    *,
    time=None,
    time_start=None,
    time_end=None,
    month=None,
    mission=None,
    source_file=None,
    GM,
    radius,
    tide_system="unknown",
    product="",
    history="",
    units=None,
) -> xr.Dataset:
    """Build the labelled coefficient container.

    Parameters
    ----------
    C, S : array_like
        Cosine and sine coefficients shaped ``(time, n+1, n+1)`` or ``(n+1, n+1)`` (single field),
        indexed ``[degree, order]``. Entries with ``order > degree`` are set to NaN and
        ``S[..., 0]`` to 0.
    sigma_C, sigma_S : array_like, optional
        Formal errors, same shape; 0 where unknown (default).
    time : datetime-like or array_like, optional
        Epochs. Default: mid-epoch of ``[time_start, time_end)``. A 2-D field without any of
        ``time``, ``time_start`` gives a container without a time dimension (e.g. GIA rates).
    time_start, time_end : datetime-like or array_like, optional
        Data span (``time_end`` exclusive). Default: ``time``.
    month : str or sequence of str, optional
        GRACE month labels. Default: :func:`unique_month_labels` of the spans.
    mission : str or sequence of str, optional
        ``"GRACE"``, ``"GRACE-FO"`` or ``""`` (default).
    source_file : str or sequence of str, optional
    GM : float
        Gravitational constant times mass of the Earth of the coefficients [m3 s-2].
    radius : float
        Reference radius of the coefficients [m].
    tide_system, product, history : str
    units : str, optional
        ``units`` attribute of C and S (``"1"`` by default; ``"1/yr"`` for rates).

    Returns
    -------
    xarray.Dataset
    """
    C = np.array(C, dtype=np.float64)
    S = np.array(S, dtype=np.float64)
    if C.shape != S.shape or C.ndim not in (2, 3) or C.shape[-1] != C.shape[-2]:
        raise ValueError(f"C and S must share a shape (time, n+1, n+1) or (n+1, n+1); got {C.shape}, {S.shape}")
    sC = np.zeros_like(C) if sigma_C is None else np.array(sigma_C, dtype=np.float64)
    sS = np.zeros_like(S) if sigma_S is None else np.array(sigma_S, dtype=np.float64)
    if sC.shape != C.shape or sS.shape != C.shape:
        raise ValueError("sigma_C and sigma_S must have the shape of C")
    if GM is None or radius is None or not (np.isfinite(GM) and np.isfinite(radius)):
        raise ValueError("GM and radius are required (finite numbers)")
    has_time = C.ndim == 3 or time is not None or time_start is not None
    if C.ndim == 2 and has_time:
        C, S, sC, sS = C[None], S[None], sC[None], sS[None]
    nmax = C.shape[-1] - 1
    upper = np.triu(np.ones((nmax + 1, nmax + 1), dtype=bool), k=1)  # order > degree
    for arr in (C, S, sC, sS):
        arr[..., upper] = np.nan
    S[..., 0] = 0.0
    sS[..., 0] = 0.0

    dims = ("time", "degree", "order") if has_time else ("degree", "order")
    cunits = units or "1"
    data_vars = {
        "C": (dims, C, {"long_name": "cosine Stokes coefficient", "units": cunits}),
        "S": (dims, S, {"long_name": "sine Stokes coefficient", "units": cunits}),
        "sigma_C": (dims, sC, {"long_name": "formal standard error of C (0 = unknown)", "units": cunits}),
        "sigma_S": (dims, sS, {"long_name": "formal standard error of S (0 = unknown)", "units": cunits}),
    }
    coords = {
        "degree": ("degree", np.arange(nmax + 1), {"long_name": "spherical harmonic degree"}),
        "order": ("order", np.arange(nmax + 1), {"long_name": "spherical harmonic order"}),
    }
    if has_time:
        ntime = C.shape[0]
        if time_start is None and time is None:
            raise ValueError("give time or time_start/time_end")
        if time_start is not None:
            tstart = _as_datetime64(time_start)
            tend = _as_datetime64(time_end if time_end is not None else time_start)
        else:
            tstart = tend = _as_datetime64(time)
        t = mid_epoch(tstart, tend) if time is None else _as_datetime64(time)
        if not (t.size == tstart.size == tend.size == ntime):
            raise ValueError(f"time coordinates must have {ntime} entries (one per field)")
        if month is None:
            labels = unique_month_labels(tstart, tend)
        else:
            labels = np.array(_per_time(month, ntime, "month", ""), dtype=str)
        coords.update(
            {
                "time": ("time", t, {"long_name": "mid-epoch of the data span"}),
                "decimal_year": ("time", decimal_year(t), {"long_name": "decimal year of the mid-epoch", "units": "year"}),
                "month": ("time", labels, {"long_name": "GRACE month label YYYY-MM"}),
                "time_start": ("time", tstart, {"long_name": "begin of the data span"}),
                "time_end": ("time", tend, {"long_name": "end of the data span (exclusive)"}),
                "mission": ("time", np.array(_per_time(mission, ntime, "mission", ""), dtype=str), {"long_name": "satellite mission"}),
                "source_file": ("time", np.array(_per_time(source_file, ntime, "source_file", ""), dtype=str), {"long_name": "input file"}),
            }
        )
    attrs = {
        "GM": float(GM),
        "GM_units": "m3 s-2",
        "radius": float(radius),
        "radius_units": "m",
        "tide_system": str(tide_system),
        "product": str(product),
        "normalization": NORMALIZATION,
        "history": str(history),
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


# --------------------------------------------------------------------------------------------
# coefficient vectors
# --------------------------------------------------------------------------------------------
def coefficient_index(nmax: int, nmin: int = 1):
    """Degree, order and sine flag of each entry of a coefficient vector.

    Order (the package-wide convention): for n = nmin..nmax, for m = 0..n: C_nm, then S_nm if
    m > 0. The length is ``(nmax+1)^2 - nmin^2``.

    Returns
    -------
    n, m, is_sine : numpy.ndarray
        Integer arrays (``is_sine`` is 0/1 integer).
    """
    if nmin < 0 or nmax < nmin:
        raise ValueError(f"need 0 <= nmin <= nmax, got nmin={nmin}, nmax={nmax}")
    n_list, m_list, s_list = [], [], []
    for n in range(nmin, nmax + 1):
        m = np.arange(n + 1)
        # C_n0, C_n1, S_n1, C_n2, S_n2, ...
        mm = np.concatenate([[0], np.repeat(m[1:], 2)])
        ss = np.concatenate([[0], np.tile([0, 1], n)])
        n_list.append(np.full(mm.size, n))
        m_list.append(mm)
        s_list.append(ss)
    return (np.concatenate(n_list).astype(int), np.concatenate(m_list).astype(int),
            np.concatenate(s_list).astype(int))


def _vector(ds, nmin, nmax, cname, sname):
    nmax_ds = int(ds.sizes["degree"]) - 1
    nmax = nmax_ds if nmax is None else int(nmax)
    if nmax > nmax_ds:
        raise ValueError(f"nmax={nmax} exceeds the container's maximum degree {nmax_ds}")
    n, m, s = coefficient_index(nmax, nmin)
    C = ds[cname].transpose(..., "degree", "order").values
    S = ds[sname].transpose(..., "degree", "order").values
    return np.where(s == 1, S[..., n, m], C[..., n, m])


def to_coefficient_vector(ds: xr.Dataset, nmin: int = 1, nmax: int | None = None, variable: str = "C/S") -> np.ndarray:
    """Flatten the container into coefficient vectors (order of :func:`coefficient_index`).

    Parameters
    ----------
    ds : xarray.Dataset
        Coefficient container.
    nmin, nmax : int
        Degree range (``nmax`` defaults to the container's).
    variable : {"C/S", "sigma"}
        Coefficients or their formal errors.

    Returns
    -------
    numpy.ndarray
        ``(time, ncoef)``, or ``(ncoef,)`` for a container without a time dimension.
    """
    if variable == "C/S":
        return _vector(ds, nmin, nmax, "C", "S")
    if variable == "sigma":
        return _vector(ds, nmin, nmax, "sigma_C", "sigma_S")
    raise ValueError(f"variable must be 'C/S' or 'sigma', got {variable!r}")


def to_sigma_vector(ds: xr.Dataset, nmin: int = 1, nmax: int | None = None) -> np.ndarray:
    """Formal errors as vectors: ``to_coefficient_vector(ds, nmin, nmax, variable="sigma")``."""
    return to_coefficient_vector(ds, nmin, nmax, variable="sigma")


def from_coefficient_vector(vec, nmax: int, nmin: int = 1, *, sigma=None, template: xr.Dataset | None = None, **kwargs) -> xr.Dataset:
    """Inverse of :func:`to_coefficient_vector`.

    Parameters
    ----------
    vec : array_like
        ``(ncoef,)`` or ``(time, ncoef)`` in the order of :func:`coefficient_index`.
    nmax, nmin : int
        Degree range of the vector; degrees below ``nmin`` are set to 0.
    sigma : array_like, optional
        Formal errors, same shape as ``vec``.
    template : xarray.Dataset, optional
        Copy the time coordinates and attributes (GM, radius, ...) from this container.
    **kwargs
        Passed to :func:`make_stokes_dataset` (``GM``, ``radius``, ``time_start``, ...) when no
        template is given.
    """
    vec = np.asarray(vec, dtype=float)
    n, m, s = coefficient_index(nmax, nmin)
    if vec.shape[-1] != n.size:
        raise ValueError(f"vector length {vec.shape[-1]} does not match nmin={nmin}, nmax={nmax} ({n.size})")
    lead = vec.shape[:-1]

    def unpack(v):
        C = np.zeros(lead + (nmax + 1, nmax + 1))
        S = np.zeros_like(C)
        C[..., n[s == 0], m[s == 0]] = v[..., s == 0]
        S[..., n[s == 1], m[s == 1]] = v[..., s == 1]
        return C, S

    C, S = unpack(vec)
    sC, sS = unpack(np.asarray(sigma, dtype=float)) if sigma is not None else (None, None)
    if template is not None:
        kw = {"GM": template.attrs["GM"], "radius": template.attrs["radius"],
              "tide_system": template.attrs.get("tide_system", "unknown"),
              "product": template.attrs.get("product", ""), "history": template.attrs.get("history", "")}
        if "time" in template.dims:
            kw.update({k: template[k].values for k in ("time", "time_start", "time_end", "month", "mission", "source_file")})
        kw.update(kwargs)
        kwargs = kw
    return make_stokes_dataset(C, S, sC, sS, **kwargs)


# --------------------------------------------------------------------------------------------
# anomalies and selection
# --------------------------------------------------------------------------------------------
def _check_label(label: str, what: str) -> str:
    try:
        pd.Period(label, freq="M")
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"{what} must be a month label 'YYYY-MM', got {label!r}") from exc
    return str(pd.Period(label, freq="M"))


def select_period(ds: xr.Dataset, start: str | None = None, end: str | None = None) -> xr.Dataset:
    """Months whose GRACE label lies in ``[start, end]`` (inclusive, ``"YYYY-MM"``)."""
    labels = ds["month"].values.astype(str)
    keep = np.ones(labels.size, dtype=bool)
    if start is not None:
        keep &= labels >= _check_label(start, "start")
    if end is not None:
        keep &= labels <= _check_label(end, "end")
    return ds.isel(time=np.nonzero(keep)[0])


def anomalies(ds: xr.Dataset, ref_start: str | None = None, ref_end: str | None = None) -> xr.Dataset:
    """Remove the mean over a reference period (METHODS.md §2.2).

    .. math:: \\Delta C_{nm}(t) = C_{nm}(t) - \\frac{1}{K}\\sum_{k \\in \\mathrm{ref}} C_{nm}(t_k),
              \\qquad \\Delta C_{00} = 0,

    with the mean taken over the available months whose labels lie in ``[ref_start, ref_end]``
    (default: all months of ``ds``). Missing months are never interpolated (§11): months absent
    from ``ds`` stay absent and months that are NaN stay NaN (NaN months are skipped in the mean).
    Formal errors are left unchanged. The reference period is recorded in ``attrs`` and
    ``history``.
    """
    if "time" not in ds.dims or ds.sizes["time"] == 0:
        raise ValueError("anomalies need a container with a non-empty time dimension")
    ref = select_period(ds, ref_start, ref_end)
    if ref.sizes["time"] == 0:
        raise ValueError(f"no months in the reference period {ref_start}..{ref_end}")
    out = ds.copy()
    for var in ("C", "S"):
        with np.errstate(all="ignore"), _quiet():
            mean = np.nanmean(ref[var].values, axis=ref[var].dims.index("time"))
        out[var] = ds[var] - xr.DataArray(mean, dims=("degree", "order"))
        out[var].attrs = dict(ds[var].attrs)
    out["C"].loc[{"degree": 0, "order": 0}] = xr.where(np.isnan(ds["C"].sel(degree=0, order=0)), np.nan, 0.0)
    labels = sorted(ref["month"].values.astype(str))
    period = f"{labels[0]}..{labels[-1]}"
    out.attrs = dict(ds.attrs)
    out.attrs["reference_period"] = period
    out.attrs["reference_months"] = int(ref.sizes["time"])
    return append_history(out, f"anomalies relative to the mean of {ref.sizes['time']} months {period}; dC00 = 0")


class _quiet:
    """Silence 'Mean of empty slice' warnings (order > degree entries are all-NaN)."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def calendar_months(ds) -> np.ndarray:
    """Nominal calendar month c(t_k) in 1..12 of each solution of a coefficient container (§2.3):
    from the GRACE month label ``"YYYY-MM"`` when the container has one, else from the mid-epoch."""
    if "month" in ds.coords:
        labels = np.asarray(ds["month"].values).astype(str)
        if all(len(s) >= 7 and s[4] == "-" for s in labels):
            return np.array([int(s[5:7]) for s in labels])
    return (np.asarray(ds["time"].values).astype("datetime64[M]").astype(int) % 12) + 1
