r"""Guards on a solve's inputs and results: enough months, and cells the data could plausibly carry.

Two checks that a user would otherwise only notice in a figure:

* :func:`check_months` -- the two-step solution (METHODS.md §9) fits six terms per cell to the
  preliminary solutions; with fewer than :data:`MIN_TWO_STEP_MONTHS` months the annual and
  semi-annual terms absorb the monthly noise and the refined step fits its own residuals. The
  estimator calls it before anything is computed and names the minimum.
* :func:`ewh_limit` and :func:`check_solution` -- the largest EWH a cell can plausibly carry is
  taken from the data themselves, not from a constant tuned to High Mountain Asia. The
  coefficients are synthesised to EWH at the mascon centres without any filter (degrees 1 to the
  degree N used, METHODS.md 10.7.1); their largest absolute value over all months and cells,
  signal and stripes together, is the data's own amplitude ``h_max``. A mass confined to one cell
  of area S_j shows in the degree-N field with a peak of

  .. math:: h_{peak} = h_j \frac{S_j}{4\pi a^2}\sum_{n=1}^{N}(2n+1) = h_j\frac{S_j N(N+2)}{4\pi a^2}

  (the Love numbers cancel between load and EWH), so no cell can hold more than
  :math:`h_{max}\,4\pi a^2/(S_j N(N+2))` without the data showing a larger field: the limit per cell
  (:func:`concentration_factor`, about 19.5 for 0.5 deg cells at 35 deg N and N = 96). It is the bound of
  the most concentrated signal there is, and loose for real signals, which spread over many
  cells: a guard against the absurd, not a score. Measured: the synthetic world (seed 20240101,
  every 6th month, the paper's box) has ``h_max`` = 2.2 m against a true cell maximum of 2.7 m; a
  6 x 4 deg box of it over 12 months of 2005 gives 4.6 m with the MSE rule (passes; the truth
  there is below 0.3 m) and 4989 m with GCV (1128 cell-months flagged, 216 times the limit of 23 m).
  Real CSR RL06 (degree 96, unfiltered) has ``h_max`` = 22 m.

Written by hand (no library has them); the synthesis is :func:`hma_mascon.synthesis.stokes_to_ewh_grid`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .synthesis import stokes_to_ewh_grid

__all__ = [
    "MIN_TWO_STEP_MONTHS", "ImplausibleSolutionWarning", "PlausibilityReport",
    "check_months", "concentration_factor", "ewh_limit", "check_solution",
]

#: fewest months the two-step solution accepts (six terms per cell and as many residual degrees of freedom)
MIN_TWO_STEP_MONTHS = 12


class ImplausibleSolutionWarning(UserWarning):
    """Cells exceed what the data could carry (:func:`check_solution`); the message gives the numbers."""


@dataclass(frozen=True)
class PlausibilityReport:
    """Outcome of :func:`check_solution`.

    Attributes
    ----------
    data_amplitude_m : float
        ``h_max``: largest |EWH| of the unfiltered synthesis of the coefficients at the cells [m].
    limit_m : float
        The smallest per-cell limit ``h_max * concentration_factor`` [m] (the largest cells').
    largest_m : float
        Largest |EWH| of the solution over all cell-months [m].
    exceeding : int
        Number of cell-months above their cell's limit.
    worst : tuple
        ``(month label, lat, lon, |EWH| / limit)`` of the cell-month closest to (or furthest beyond)
        its limit.
    """

    data_amplitude_m: float
    limit_m: float
    largest_m: float
    exceeding: int
    worst: tuple

    @property
    def plausible(self) -> bool:
        return self.exceeding == 0

    def attrs(self) -> dict:
        """Global attributes for an output file."""
        return {"plausibility_data_amplitude_m": self.data_amplitude_m, "plausibility_limit_m": self.limit_m,
                "plausibility_largest_m": self.largest_m, "plausibility_exceeding_cell_months": self.exceeding,
                "plausibility_worst": f"{self.worst[0]} at {self.worst[1]:.2f}N {self.worst[2]:.2f}E, "
                                      f"{self.worst[3]:.3g} x its limit"}


def concentration_factor(area, nmax: int, radius: float):
    """``4 pi a^2 / (S_j N (N+2))``: how much larger a one-cell mass is than its degree 1..N EWH peak.

    Parameters
    ----------
    area : array_like
        Cell areas S_j [m2].
    nmax : int
        Highest degree N of the data.
    radius : float
        Reference radius a [m].
    """
    return 4.0 * np.pi * float(radius) ** 2 / (np.asarray(area, float) * int(nmax) * (int(nmax) + 2))


def check_months(n_months: int, two_step: bool = True, *, where: str = "the solve") -> None:
    """Refuse a two-step solve with fewer than :data:`MIN_TWO_STEP_MONTHS` months.

    Raises
    ------
    hma_mascon.errors.InputError
        Naming the number of months, the minimum and the two ways out (a longer period or
        ``two_step=false``).
    """
    if two_step and n_months < MIN_TWO_STEP_MONTHS:
        raise InputError(f"{where}: {n_months} month(s) with data, the two-step solution (METHODS.md §9) needs "
                         f"at least {MIN_TWO_STEP_MONTHS} (it fits six terms per cell); widen period_start/"
                         "period_end, lower month_step, or set two_step=false")


def ewh_limit(stokes_anomalies, love, lat, lon, nmax: int | None = None) -> float:
    """The data's own EWH amplitude ``h_max`` at the cells [m].

    Parameters
    ----------
    stokes_anomalies : xarray.Dataset
        Coefficient container of anomalies (with ``time``).
    love : array_like
        Load Love numbers k'_n.
    lat, lon : array_like
        Cell-centre latitudes and longitudes [deg] (points; a grid's flattened centres).
    nmax : int, optional
        Highest degree used (default: all of the container's).
    """
    ds = stokes_anomalies
    if nmax is not None:
        ds = ds.sel(degree=slice(0, nmax), order=slice(0, nmax))
    lat = np.asarray(lat, float).ravel()
    lon = np.asarray(lon, float).ravel()
    ulat, ilat = np.unique(lat, return_inverse=True)
    ulon, ilon = np.unique(lon, return_inverse=True)
    h = np.asarray(stokes_to_ewh_grid(ds, ulat, ulon, love, nmin=1), float)
    h = h.reshape(-1, ulat.size, ulon.size)[:, ilat, ilon]  # the cells only
    return float(np.nanmax(np.abs(h))) if np.isfinite(h).any() else float("nan")


def check_solution(x, h_max: float, area, nmax: int, radius: float, lat, lon, months=None, *,
                   warn: bool = True) -> PlausibilityReport:
    """Compare a solution's cells with their plausible limits; warn with the numbers when exceeded.

    Parameters
    ----------
    x : array_like (time, m)
        Mascon EWH [m].
    h_max : float
        The data's amplitude from :func:`ewh_limit` [m].
    area : array_like (m,)
        Cell areas [m2].
    nmax, radius : int, float
        Degree and reference radius of the data (:func:`concentration_factor`).
    lat, lon : array_like (m,)
        Cell centres [deg].
    months : array_like of str, optional
        Month labels for the message.
    warn : bool
        Issue an :class:`ImplausibleSolutionWarning` when a cell-month exceeds its limit.
    """
    x = np.atleast_2d(np.asarray(x, float))
    limit = float(h_max) * concentration_factor(area, nmax, radius)
    a = np.abs(x)
    if not np.isfinite(a).any():
        return PlausibilityReport(float(h_max), float(np.min(limit)), float("nan"), 0,
                                  ("", float("nan"), float("nan"), float("nan")))
    ratio = a / limit[None, :]
    k, j = np.unravel_index(np.nanargmax(ratio), ratio.shape)
    label = str(months[k]) if months is not None else f"month {k}"
    report = PlausibilityReport(float(h_max), float(np.min(limit)), float(np.nanmax(a)), int(np.sum(ratio > 1.0)),
                                (label, float(np.ravel(lat)[j]), float(np.ravel(lon)[j]), float(ratio[k, j])))
    if warn and not report.plausible:
        warnings.warn(
            f"implausible solution: {report.exceeding} cell-month(s) carry more than one cell could without "
            f"the data showing it (the data's own unfiltered EWH amplitude is {h_max:.3g} m, so no cell can "
            f"exceed {report.limit_m:.3g} m); the worst is {a[k, j]:.4g} m ({label}, {report.worst[1]:.2f}N "
            f"{report.worst[2]:.2f}E, {ratio[k, j]:.3g} x its limit). The box, its buffer or alpha do not suit "
            "these data: widen the box or mascon_buffer_deg, or use alpha_method=mse",
            ImplausibleSolutionWarning, stacklevel=3)
    return report
