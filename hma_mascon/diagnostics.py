"""What the inversion sees and does, drawn for a reader (book chapters 1-4 and 9).

* :func:`kernel_maps` -- a column and a row of the design matrix A (how one mascon is seen from
  orbit, and what one observation sees);
* :func:`observation_covariance_spectrum` -- the eigenvalues of Σ_y over a box: how few directions the
  degree-96 data resolve (§6);
* :func:`prior_sigma_maps` -- the prior RMS per component and after each combination rule (§7);
* :func:`resolution_matrix`, :func:`resolution_spread` -- H = (N + αR)⁻¹N and the spread of its
  columns (point-spread functions),

  .. math:: s_j = \\sqrt{\\sum_i H_{ij}^2 d_{ij}^2 / \\sum_i H_{ij}^2}\\quad [km],

  with d_ij the great-circle distance between cells;
* :func:`alpha_curves` -- every α rule's criterion over α for one month (§8);
* :func:`box_total_gt` -- the box total mass series of a solution.

Written by hand: the rebuilding of the whitened design matrix of a fitted estimator (it does not keep
it) and the spread measure; the linear algebra is numpy/scipy's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import linalg

from . import alpha as alpha_rules
from . import regularization as reg
from .constants import R_MEAN, RHO_WATER
from .eigensystem import eigen_system
from .geometry import mascon_grid, observation_grid
from .kernels import design_matrix
from .stokes import to_sigma_vector
from .synthesis import synthesis_matrix
from .weights import observation_covariance

__all__ = ["kernel_maps", "observation_covariance_spectrum", "prior_sigma_maps", "whitened_system", "resolution_matrix",
           "resolution_spread", "alpha_curves", "box_total_gt"]


def kernel_maps(box, altitude=450e3, kind="radial", mascon_step=0.5, obs_step=0.4, at=(31.0, 85.0), nmax=96):
    """One column (all observations, one mascon at ``at``) and one row (one observation above ``at``,
    all mascons) of the design matrix A, for 1 m EWH, as (lat, lon) maps [SI units of ``kind``;
    the radial block for "3d"]."""

    obs = observation_grid(box, obs_step, altitude)
    grid = mascon_grid(box, mascon_step)
    j = int(np.argmin((np.asarray(grid.lat) - at[0]) ** 2 + (np.asarray(grid.lon) - at[1]) ** 2))
    i = int(np.argmin((np.asarray(obs.lat) - at[0]) ** 2 + (np.asarray(obs.lon) - at[1]) ** 2))
    A = design_matrix(obs, grid, kind=kind, nmax=nmax)
    n = obs.lat.size
    A = A[-n:] if A.shape[0] == 3 * n else A
    units = "m2 s-2 per m EWH" if kind == "potential" else "m s-2 per m EWH"
    col = xr.DataArray(A[:, j].reshape(obs.shape), dims=("lat", "lon"),
                       coords={"lat": obs.lat_axis, "lon": obs.lon_axis},
                       attrs={"units": units, "long_name": f"A[:, j] ({kind}), mascon at "
                              f"{grid.lat[j]:.2f}N {grid.lon[j]:.2f}E"})
    row = grid.to_dataarray(A[i], name="row", units=units,
                            long_name=f"A[i, :] ({kind}), observation at {obs.lat[i]:.2f}N {obs.lon[i]:.2f}E")
    return col, row


def observation_covariance_spectrum(stokes, love, box, altitude=450e3, resolution=0.4, kind="radial",
                                    delta=1e-3) -> dict:
    """Eigenvalues of Σ_y = B Σ_c B^T (mean coefficient variances) on an observation grid, and the
    white-noise floor ν² = δ·mean(diag Σ_y) of the ``full`` weight matrix (METHODS.md §6).

    Returns
    -------
    dict with ``eigenvalues`` (descending), ``floor``, ``n`` (observations) and ``rank_1e-10``.
    """

    nmax = int(stokes["degree"].max())
    obs = observation_grid(box, resolution, altitude, radius=float(stokes.attrs["radius"]))
    B = synthesis_matrix(obs.lat, obs.lon, obs.radius, nmax, float(stokes.attrs["GM"]), float(stokes.attrs["radius"]),
                         love, quantity=kind)
    sigma = np.nan_to_num(to_sigma_vector(stokes, nmin=1, nmax=nmax))
    s = np.sqrt(np.mean(np.where(sigma > 0, sigma, np.nan) ** 2, axis=0))
    Sy = observation_covariance(B, np.nan_to_num(s))
    ev = np.sort(np.linalg.eigvalsh(Sy))[::-1]
    return {"eigenvalues": ev, "floor": float(delta * np.mean(np.diag(Sy))), "n": int(obs.lat.size),
            "rank_1e-10": int(np.sum(ev > 1e-10 * ev[0]))}


def prior_sigma_maps(priors: dict, grid, floor=0.01) -> xr.Dataset:
    """Prior RMS per component, combined σ under rules A and B, and the month-of-year σ of R_sv.

    σ_tot (rule B) = sqrt(Σ_k σ_k²) floored; rule A's equivalent σ = (Σ_k 1/max(σ_k, σ_f)²)^(-1/2)
    (precisions add, so the smallest component wins, AMB-6); R_sv(c): sqrt of the summed
    month-of-year second moments, floored (§7). All in cm.
    """

    comps = {k: v for k, v in priors.items() if hasattr(v, "rms")}
    sig = {k: np.asarray(v.rms, float) for k, v in comps.items()}
    out = xr.Dataset()
    for k, s in sig.items():
        out[f"sigma_{k}"] = grid.to_dataarray(100 * s, name=f"sigma_{k}", units="cm",
                                              long_name=f"prior RMS, {k}")
    for rule in ("A", "B"):
        r = reg.combine_prior_variance(sig, rule=rule, floor=floor)
        out[f"sigma_rule_{rule}"] = grid.to_dataarray(100 / np.sqrt(r), name=f"sigma_rule_{rule}", units="cm",
                                                      long_name=f"combined prior sigma, rule {rule}")
    second = np.zeros((12, grid.size))
    for v in comps.values():
        if v.seasonal_second_moment is not None:
            second = second + np.nan_to_num(np.asarray(v.seasonal_second_moment, float))
    sv = 100 * np.maximum(np.sqrt(second), floor)
    da = grid.to_dataarray(sv, name="sigma_sv", units="cm", long_name="month-of-year prior sigma of R_sv",
                           extra_dims=("calendar_month",))
    out["sigma_sv"] = da.assign_coords(calendar_month=np.arange(1, 13))
    return out


def whitened_system(est, problem):
    """Rebuild Ã = L⁻¹ A·scale and the whitened data L⁻¹ y·scale exactly as
    :meth:`PointMassMascon.fit` does (first P group; the default ``P_mode="mean"`` has one)."""

    ds = problem.stokes
    nmax = int(min(est.nmax, int(ds["degree"].max())))
    B = synthesis_matrix(est.obs_.lat, est.obs_.lon, est.obs_.radius, nmax, float(ds.attrs["GM"]),
                         float(ds.attrs["radius"]), problem.love, quantity=est.kind)
    A = est.design_matrix_
    scale = 1.0 / float(np.sqrt(np.mean(A**2)))
    sigma = np.nan_to_num(to_sigma_vector(ds, nmin=1, nmax=nmax))
    mission = np.asarray(ds["mission"].values).astype(str) if "mission" in ds.coords else None
    whiten, _ = est.observation_whiteners(B, sigma, mission, scale, A.shape[0])
    w = whiten[0] if isinstance(whiten, list) else whiten
    Aw = w.whiten(A * scale)
    Y = np.nan_to_num(est.observations_ * scale)
    Yw = w.whiten(Y.T).T
    return Aw, Yw, int(getattr(w, "n_effective", A.shape[0]))


def resolution_matrix(est, problem, alpha=None, R=None) -> np.ndarray:
    """H = (N + αR)⁻¹ N of the preliminary step (α default: median preliminary α over months).

    H_ij is the response of cell i to a unit EWH impulse in cell j; H = I means perfect resolution.
    """

    Aw, _, _ = whitened_system(est, problem)
    N = Aw.T @ Aw
    alpha = float(np.nanmedian(est.result_.preliminary.alpha)) if alpha is None else float(alpha)
    R = np.asarray(est.r_pre_ if R is None else R, float)
    Rm = np.diag(R) if R.ndim == 1 else R
    return linalg.solve(N + alpha * Rm, N, assume_a="sym")


def resolution_spread(H, grid, cells=None) -> pd.DataFrame:
    """Spread s_j [km] and diagonal H_jj of resolution-matrix columns (point-spread functions).

    .. math:: s_j = \\sqrt{\\sum_i H_{ij}^2 d_{ij}^2 / \\sum_i H_{ij}^2}

    Parameters
    ----------
    H : ndarray (m, m)
    grid : MasconGrid
    cells : array_like of int, optional
        Columns evaluated (default all).
    """

    lat = np.deg2rad(np.asarray(grid.lat, float))
    lon = np.deg2rad(np.asarray(grid.lon, float))
    cells = np.arange(H.shape[1]) if cells is None else np.asarray(cells, int)
    rows = []
    for j in cells:
        cosd = np.sin(lat) * np.sin(lat[j]) + np.cos(lat) * np.cos(lat[j]) * np.cos(lon - lon[j])
        d = R_MEAN / 1e3 * np.arccos(np.clip(cosd, -1, 1))
        h2 = H[:, j] ** 2
        rows.append((int(j), float(grid.lat[j]), float(grid.lon[j]), float(np.sqrt(h2 @ d**2 / h2.sum())),
                     float(H[j, j])))
    return pd.DataFrame(rows, columns=["cell", "lat", "lon", "spread_km", "diagonal"]).set_index("cell")


def alpha_curves(est, problem, month: int = 0, alphas=None, sigma0_sq=None) -> pd.DataFrame:
    """The alpha rules of METHODS.md §8 as curves for one month's preliminary step.

    Rebuilt from the same eigensystem (whitened N against R_pre) the estimator used. Columns:
    ``residual`` Ω(α), ``prior_norm`` η(α), ``dof`` t(α), ``gcv`` V(α) = nΩ/(n-t)², ``curvature``
    κ of the L-curve, ``mse`` (plug-in, ξ from the estimator's solution of that month, σ0² =
    ``sigma0_sq`` or the estimator's). ``attrs["alpha_chosen"]`` is the estimator's α.
    """

    Aw, Yw, nobs = whitened_system(est, problem)
    system = eigen_system(Aw, est.r_pre_, nobs=nobs)
    solver = system.solver
    yw = Yw[month]
    u = system.project(yw[None, :])[0]
    yPy = float(yw @ yw)
    a0 = float(est.result_.preliminary.alpha[month])
    lam = solver.eigenvalues
    xi = u / (lam + a0)
    s0 = float(est.sigma0_sq if sigma0_sq is None and est.sigma0_sq is not None else
               (sigma0_sq if sigma0_sq is not None else est.result_.preliminary.sigma0sq[month]))
    lo, hi = alpha_rules.default_bounds(solver)
    alphas = np.logspace(np.log10(lo), np.log10(hi), 50) if alphas is None else np.asarray(alphas, float)
    rows = []
    for a in alphas:
        omega = float(alpha_rules.weighted_residual(solver, u, a, yPy))
        rows.append((a, omega, float(solver.prior_norm(u, a)), float(solver.dof(a)),
                     float(alpha_rules.gcv_function(solver, u, a, yPy, nobs)),
                     float(alpha_rules.lcurve_curvature(solver, u, a, yPy)),
                     float(alpha_rules.mse_function(solver, a, xi, s0, est.mse_norm))))
    out = pd.DataFrame(rows, columns=["alpha", "residual", "prior_norm", "dof", "gcv", "curvature", "mse"])
    out = out.set_index("alpha")
    out.attrs["alpha_chosen"] = a0
    out.attrs["sigma0_sq"] = s0
    return out


def box_total_gt(sol: xr.Dataset, variable="lwe_thickness") -> xr.DataArray:
    """Σ_j ρ_w S_j x_j / 1e12 over the non-buffer cells of a CF solution (x in cm) [Gt]."""
    x = sol[variable] / 100.0
    w = sol["cell_area"] * RHO_WATER / 1e12
    if "is_buffer" in sol:
        w = w.where(sol["is_buffer"] == 0, 0.0)
    tot = (x * w).sum(("lat", "lon"), skipna=False)
    tot.attrs = {"units": "Gt", "long_name": f"box total of {variable}"}
    return tot
