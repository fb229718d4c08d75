"""The two-step point-mass mascon estimator (METHODS.md §3-§9).

:class:`PointMassMascon` follows the estimator pattern of harmonica's ``EquivalentSourcesSph``:
hyper-parameters in ``__init__`` (the rows of :mod:`hma_mascon.params`, with a preset), ``fit`` on
data, ``predict`` and labelled output. It assembles the pure functions of the other modules:

* :mod:`hma_mascon.geometry` -- mascon and observation grids (§3);
* :mod:`hma_mascon.synthesis` and :mod:`hma_mascon.kernels` -- pseudo-observations y = B c and the
  point-mass design matrix A (§4-§5);
* :mod:`hma_mascon.weights` -- P per ``P_mode`` and the Cholesky whitening (§6);
* :mod:`hma_mascon.regularization` -- R_pre and the 12 R_sv (§7);
* :mod:`hma_mascon.eigensystem` -- one eigendecomposition per (whitened N, R) pair, all months
  and trial alphas (§8);
* :mod:`hma_mascon.two_step` -- preliminary solve, six-term fit, refined solve (§9);
* :mod:`hma_mascon.resolution` -- the damping of a probe trend field.

Written by hand here: the order of those steps, the conditioning scale of A and y, and the
per-month variance factors of the noise model.

References
----------
Wang, Shen, Chen, Wang (2024), IEEE JSTARS (two-step solution, prior-variance regularization).
Xu, P. & Rummel, R. (1994), Manuscr. Geod. 19, 225-241 (MSE-optimal alpha).
Koch, K.-R. & Kusche, J. (2002), J. Geodesy 76, 259-268 (variance components).
Uieda, L. et al. harmonica ``EquivalentSourcesSph`` (estimator interface).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import regularization as reg
from .constants import RHO_WATER
from .geometry import mascon_grid, observation_grid
from .kernels import design_matrix, remove_degree0
from .params import Settings, names, resolve
from .plausibility import check_months, check_solution, ewh_limit
from .stokes import calendar_months, to_coefficient_vector, to_sigma_vector
from .synthesis import synthesis_matrix
from .timeseries import decimal_year
from .two_step import two_step_solve
from .weights import Whitener, coefficient_variance_groups, observation_covariance

__all__ = ["PointMassMascon"]


class PointMassMascon:
    """Point-mass mascon solution over a box from monthly Stokes-coefficient anomalies.

    Pipeline of METHODS.md §3-§9: synthesis matrix B (once) -> pseudo-observations y = B c of all
    months in one product -> design matrix A -> whitening (P per ``P_mode``) -> R_pre and the 12
    R_sv -> one eigendecomposition per (whitened N, R) pair serving all its months and alphas ->
    preliminary solve -> per-mascon six-term fit -> refined solve of y - A x_trend with
    R_sv(calendar month) -> final = trend part + refined part.

    Parameters
    ----------
    preset : str
        A named parameter set of :data:`hma_mascon.params.PRESETS` (``"default"``, ``"paper"``).
    progress : bool
        tqdm progress bars over months.
    **params
        Any estimator row of the parameter table (:data:`hma_mascon.params.PARAMETERS`), overriding
        the preset: ``box``, ``altitude_km``, ``obs_step_deg``, ``mascon_step_deg``,
        ``mascon_buffer_deg``, ``obs_buffer_deg``, ``buffer_extent``, ``nmax``, ``kind``, ``kernel``, ``degree0``,
        ``weight``, ``P_mode``, ``regularization``, ``prior_rule``, ``prior_floor_m``,
        ``prior_correlation_km``, ``prior_correlation_blocks``, ``correlation_length_km``, ``alpha_method``,
        ``alpha_fixed``, ``mse_norm``, ``sigma0_sq``,
        ``alpha_floor_factor``, ``alpha_per``, ``alpha_scale``, ``two_step``, ``remove``. Each is validated here (the message names
        the parameter and what is accepted) and becomes an attribute of the same name.

    Notes
    -----
    The rows whose default deviates from METHODS.md or the paper, with the measurement behind each:

    * ``regularization="multisource"``: R_pre from the prior components' RMS (rule ``prior_rule``,
      AMB-6) and R_sv(c) from their month-of-year second moments (§7). The other constraint
      families are used for both steps: R = I; first differences between neighbours; exponential
      covariance (``correlation_length_km``, σ from the priors' total RMS, else 0.1 m); the RMS of
      the filtered GRACE EWH itself (CSR-like; pass ``priors={"grace_ewh": (T, m) array}``); the
      hydrology prior alone (JPL-like).
    * ``prior_correlation_km=100``, ``prior_correlation_blocks="component"`` (deviation from §7;
      the ``paper`` and ``diagonal`` presets keep the diagonal R): the multisource prior covariance
      C = D ρ D with D the multisource σ and ρ_ij = exp(-d_ij/L) between cells whose largest prior
      component is the same. A diagonal R brings a coherent trend back proportional to σ² and piles
      it into the highest-variance cells. Whole-box closed loop, all 223 months (truth in brackets),
      diagonal -> default: per-cell glacier trend R² 0.22 -> 0.69; largest Himalayan cell loss -62
      -> -34 cm/yr (-22); ASTER-style slope 1.38 -> 0.88 (0.90). The stated errors follow the
      prior: where the truth's seasons are coherent they cover (98 % of the glacier cell-months);
      where a truth has cell-to-cell independent phases (tests/test_closed_loop.py) only 32 % of
      the cells are covered in >= 90 % of their months, against 100 % with the diagonal prior.
    * ``kernel="truncated"`` (deviation from §5): the kernel's Legendre series stops at the data's
      nmax; the closed form carries degrees the coefficients lack (noise-free loop: per-cell trend
      R² 0.99 truncated).
    * ``mascon_buffer_deg=2`` (deviation; the paper has no buffer): a ring of mascons outside the
      box, excluded from every sum, takes the signal just outside (groundwater south of 26°N) that
      would leak into the edge cells. Whole box, every 12th month, correlated + truncated: box total
      -33.6 -> -29.5 Gt/yr (truth -30.3).
    * ``sigma0_sq=1``: the variance factor for the MSE rule is that of a calibrated P ("or 1 if P
      is calibrated", §8). ``None`` estimates it from the residuals, σ̂0² = Ω/(n - t), as METHODS.md
      §8 prescribes first; on the default geometry that estimate collapses: the 0.4° grid
      oversamples a degree-96 field, Σ_y is made regular only by the white-noise floor, and the m
      point masses fit the whole noise subspace, so Ω/(n - t) → 0, GCV and the plug-in pick α at
      the lower end of the search interval and the solution blows up (measured: σ̂0² ~ 1e-5,
      α ~ 1e-12, EWH errors of metres on the synthetic world).
    * ``mse_norm="euclidean"`` (METHODS.md). The R-norm variant costs O(m) per trial α instead of
      an m-vector product with Q but weighs each cell by its prior precision 1/σ², so the many
      glacier-free cells at the 1 cm floor dominate it and it picks larger α: on the closed loop of
      the book's chapter 9 it recovered 43 % of the box trend against 107 % for the Euclidean norm.
    * ``alpha_floor_factor=10``: α ≥ median(α)/factor within each eigensystem, a deviation from
      METHODS.md §8 (which selects each month on its own): on the real CSR record the plug-in MSE
      iteration ran a few refined-step months two decades below their neighbours, giving cells of
      10-30 m. Months where it acted are counted in the ``alpha_floored_*`` variables. The
      ``paper`` preset has no floor.
    * ``alpha_scale=1`` (METHODS.md §8). The option s < 1 solves every month at s times the α the
      rule chose and keeps the rule's α as the prior of the stated bias (bias variance σ0² (α²/α_rule)
      Σ_k Q_jk²/(λ_k+α)², :func:`hma_mascon.eigensystem.regularized_solve`). The MSE rule minimises one
      month's error; a trend averages the noise of ~220 months but not the bias, so for trends the
      smaller α is better, in theory down to α_rule/T if the coefficient noise were the only error.
      Whole box, all months, s = 0.3 against 1 (truth in brackets): per-cell R² 0.72 / 0.42 -> 0.74
      / 0.62, HMA -19.7 -> -21.3 Gt/yr (-25.0), largest Tien Shan cell -6.8 -> -8.9 cm/yr (-10.7),
      coverage 94.0 % -> 94.5 %, 7 -> 8 of 14 targets. On the real CSR record the largest
      cell-month grows from 2.3 to 4.0 m, HMA -25.6 -> -27.7 Gt/yr (paper -25.8), ablation 328 ->
      355 Gt (paper 157); against the Hugonnet et al. (2021) rates of the four shipped regions it
      agrees in 6 of 12 region-periods, the default in 8. Measured in chapter 9; not the default.
    * ``trend_from="preliminary"`` (METHODS.md §9). The option ``"data"`` solves the trend once from
      the six-term trend of the pseudo-observations, with the prior the months' α implies
      (:func:`hma_mascon.two_step.data_trend_solve`), instead of fitting it to the preliminary
      solutions, which are damped with the α of one month's signal-to-noise. Whole box, all
      months: HMA total 18 % -> 7 % short and box total 5.0 % -> 2.0 % short, but per-cell R²
      0.65 -> 0.52; the trade is measured in chapter 9 and is not the default.
    * ``degree0="remove"`` takes the degree-0 term out of every kernel column
      (:func:`hma_mascon.kernels.remove_degree0`): the pseudo-observations are synthesised from
      degrees 1..nmax (ΔC00 = 0, §2.2), so a kernel that keeps the total-mass term is inconsistent
      with them. On the noise-free closed loop (tests/test_closed_loop.py) "keep" (the paper's
      kernel, the ``paper`` preset) misses the box total trend by 2.3 % and, with a small α, lets
      the inconsistency blow up the cell values.

    Attributes (after ``fit``)
    --------------------------
    grid_ : MasconGrid
    obs_ : ObservationGrid
    time_, decimal_year_, month_, calendar_month_ : ndarray (T,)
    x_ : ndarray (T, m)
        Final EWH [m] (NaN for months without data).
    result_ : TwoStepResult
    r_pre_, r_sv_ : regularization diagonals (or matrices)
    """

    def __init__(self, preset: str = "default", *, progress: bool = True, **params):
        settings = resolve(preset, params, stage="estimator")
        self.preset = settings.preset
        for name, value in settings.items():
            setattr(self, name, value)
        self.progress = progress

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> dict:
        """Every hyper-parameter of the table's estimator stage, with the preset (recorded in the output)."""
        return {"preset": self.preset, **{k: getattr(self, k) for k in names("estimator")}}

    def settings(self) -> Settings:
        """The hyper-parameters as validated :class:`~hma_mascon.params.Settings` (re-checks attributes
        changed after construction)."""
        return resolve(self.preset, {k: getattr(self, k) for k in names("estimator")}, stage="estimator")

    @property
    def obs_buffer(self) -> float:
        """Observation buffer [deg]: ``obs_buffer_deg``, or the mascon buffer when that is None."""
        return float(self.mascon_buffer_deg if self.obs_buffer_deg is None else self.obs_buffer_deg)

    # ------------------------------------------------------------------ building blocks
    def geometry(self, radius: float):
        """The mascon grid and the observation grid on the sphere of ``radius`` [m] (§3)."""
        grid = mascon_grid(self.box, self.mascon_step_deg, self.mascon_buffer_deg, extent=self.buffer_extent)
        obs = observation_grid(self.box, self.obs_step_deg, self.altitude_km * 1e3, self.obs_buffer, radius=radius,
                               extent=self.buffer_extent)
        return grid, obs

    def _regularization(self, priors, grid):
        m = grid.size
        kind = self.regularization
        if kind == "multisource":
            if priors is None:
                raise ValueError('regularization="multisource" needs the priors (priors.load_priors(...))')
            comps = {k: v for k, v in priors.items() if hasattr(v, "rms")}
            if not comps:
                raise ValueError("priors: no PriorComponent (with .rms) given")
            series = None
            rule = str(self.prior_rule).upper()
            if rule == "C":
                series = {k: np.asarray(v.series.values, float).reshape(v.series.shape[0], -1)
                          for k, v in comps.items() if v.series is not None}
                time = next(v.series["time"].values for v in comps.values() if v.series is not None)
                r_pre = reg.combine_prior_variance({k: v.rms for k, v in comps.items()}, rule="C",
                                                   floor=self.prior_floor_m, series=series, time=time)
            else:
                r_pre = reg.combine_prior_variance({k: v.rms for k, v in comps.items()}, rule=rule,
                                                   floor=self.prior_floor_m)
            second = np.zeros((12, m))
            for v in comps.values():
                if v.seasonal_second_moment is not None:
                    second = second + np.nan_to_num(np.asarray(v.seasonal_second_moment, float))
            r_sv = 1.0 / reg.prior_variance(np.sqrt(second), self.prior_floor_m)
            if self.prior_correlation_km is not None:
                classes = None
                if self.prior_correlation_blocks == "component":  # the dominant component; -1: floor only
                    rms = np.vstack([np.nan_to_num(np.asarray(v.rms, float)) for v in comps.values()])
                    classes = np.where(rms.max(axis=0) > self.prior_floor_m, rms.argmax(axis=0), -1)
                L = reg.correlation_cholesky(grid, self.prior_correlation_km, classes)  # one ρ for all 13
                r_pre = reg.CorrelatedPrecision(r_pre, L)
                r_sv = reg.CorrelatedPrecision(r_sv, L)
            return r_pre, r_sv
        if kind == "identity":
            R = reg.regularization_identity(m)
        elif kind == "smoothness":
            R = reg.regularization_smoothness(grid)
        elif kind == "exponential":
            sigma = 0.1
            if priors:
                comps = [v for v in priors.values() if hasattr(v, "rms")]
                if comps:
                    sigma = np.maximum(np.sqrt(np.sum([np.asarray(v.rms) ** 2 for v in comps], axis=0)),
                                       self.prior_floor_m)
            R = reg.regularization_exponential(grid, self.correlation_length_km, sigma)
        elif kind == "hydrology_only":
            if not priors or "hydrology" not in priors:
                raise ValueError('regularization="hydrology_only" needs priors["hydrology"]')
            R = reg.regularization_hydrology_only(priors["hydrology"].rms, self.prior_floor_m)
        else:  # grace_variance
            if not priors or "grace_ewh" not in priors:
                raise ValueError('regularization="grace_variance" needs priors={"grace_ewh": (time, m) array [m]} '
                                 "(filtered GRACE EWH at the mascon cells)")
            R = reg.regularization_grace_variance(priors["grace_ewh"], self.prior_floor_m)
        return R, R

    def observation_whiteners(self, B, sigma, mission, scale, n):
        """Whiteners L⁻¹ of the observation covariance, one per coefficient-variance group (``P_mode``),
        and the group index of each month (used by :meth:`fit` and by the diagnostics)."""
        T = sigma.shape[0]
        if self.weight == "identity":
            return Whitener(None, "identity", n=n), np.zeros(T, int)
        groups = coefficient_variance_groups(np.where(sigma > 0, sigma, np.nan), self.P_mode, mission)
        whiteners, group = [], np.zeros(T, int)
        for g, (label, sigma_c, idx) in enumerate(groups):
            sigma_c = np.nan_to_num(sigma_c)
            if not np.any(sigma_c > 0):
                raise ValueError(f"P_mode={self.P_mode!r}, group {label!r}: the coefficients have no formal errors "
                                 f"(sigma_C/sigma_S all 0); use weight='identity'")
            if self.weight == "diagonal":
                Sy = np.einsum("ij,ij->i", B * sigma_c, B * sigma_c) * scale**2
            else:
                Sy = observation_covariance(B, sigma_c)
                Sy *= scale**2
            whiteners.append(Whitener(Sy, self.weight))
            group[idx] = g
        return whiteners, group

    # ------------------------------------------------------------------ fit
    def fit(self, stokes_anomalies, love, priors=None, trend_probe=None):
        """Estimate the mascon EWH of every month.

        Parameters
        ----------
        stokes_anomalies : xarray.Dataset
            Coefficient container (CONTRIBUTING.md) of anomalies ΔC, ΔS (low degrees replaced,
            reference mean removed), with ``sigma_C``/``sigma_S`` for the weights.
        love : xarray.DataArray or array_like
            Load Love numbers k'_n (``love_numbers.load_love_numbers``).
        priors : dict, optional
            ``priors.load_priors`` output (``{"glacier", "lake", "hydrology"}`` -> PriorComponent);
            see ``regularization`` for the other families.
        trend_probe : array_like (m,) or (k, m), optional
            Trend fields [m/yr] on the mascon cells to pass noise-free through the solve's
            resolution operators (:func:`trend_recovery`): the damping of a trend of that shape.
            The pipeline passes the glacier prior's trend.

        Returns
        -------
        self
            With ``plausibility_`` (:class:`hma_mascon.plausibility.PlausibilityReport`): the cells
            against the data's own unfiltered EWH amplitude.

        Raises
        ------
        hma_mascon.errors.InputError
            A two-step fit of fewer than :data:`hma_mascon.plausibility.MIN_TWO_STEP_MONTHS`
            months, before anything is computed.

        Warns
        -----
        hma_mascon.plausibility.ImplausibleSolutionWarning
            When a cell-month exceeds the plausible limit (the message gives the numbers).
        """
        self.settings()
        ds = stokes_anomalies
        if "time" not in ds.dims:
            raise ValueError("stokes_anomalies must have a time dimension")
        nmax = int(min(self.nmax, int(ds["degree"].max())))
        GM, radius = float(ds.attrs["GM"]), float(ds.attrs["radius"])
        grid, obs = self.geometry(radius)
        c = to_coefficient_vector(ds, nmin=1, nmax=nmax)
        check_months(int(np.all(np.isfinite(c), axis=1).sum()), self.two_step, where="PointMassMascon.fit")
        sigma = np.nan_to_num(to_sigma_vector(ds, nmin=1, nmax=nmax)) if "sigma_C" in ds else np.zeros_like(c)
        B = synthesis_matrix(obs.lat, obs.lon, obs.radius, nmax, GM, radius, love, quantity=self.kind)
        A = design_matrix(obs, grid, kind=self.kind, kernel=self.kernel, nmax=nmax)
        if self.degree0 == "remove":
            A = remove_degree0(A, obs, grid, self.kind)
        scale = 1.0 / float(np.sqrt(np.mean(A**2)))  # O(1) numbers for conditioning (§4)
        Y = (np.nan_to_num(c, nan=0.0) @ B.T) * scale
        Y[~np.all(np.isfinite(c), axis=1)] = np.nan
        mission = np.asarray(ds["mission"].values).astype(str) if "mission" in ds.coords else None
        whiten, group = self.observation_whiteners(B, sigma, mission, scale, A.shape[0])
        del B
        r_pre, r_sv = self._regularization(priors, grid)
        t = (np.asarray(ds["decimal_year"].values, float) if "decimal_year" in ds.coords
             else decimal_year(ds["time"].values))
        cal = calendar_months(ds)
        s0 = self.sigma0_sq
        if s0 is not None and "noise_factor" in ds.coords:  # month-to-month noise level (noise_model)
            s0 = float(s0) * np.asarray(ds["noise_factor"].values, float) ** 2
        A *= scale  # the solve's scaling in place (no second n x m copy), undone below
        n_groups = len(whiten) if isinstance(whiten, list) else 1
        solve_A, solve_Y = A, Y
        if n_groups == 1:  # one P: whiten A and y once and drop the n x n factor before the solve
            w = whiten[0] if isinstance(whiten, list) else whiten
            solve_A, solve_Y = np.ascontiguousarray(w.whiten(A)), w.whiten(Y.T).T  # months stay NaN rows
            del w
            whiten = None  # the solve sees whitened data: its own whitener is the identity
        result = two_step_solve(solve_A, solve_Y, t, cal, r_pre, r_sv, whiten=whiten, group=group,
                                alpha_method=self.alpha_method, alpha=self.alpha_fixed, sigma0sq=s0, mse_norm=self.mse_norm,
                                alpha_floor_factor=self.alpha_floor_factor, alpha_per=self.alpha_per,
                                alpha_scale=self.alpha_scale,
                                remove=self.remove, two_step=self.two_step, progress=self.progress,
                                trend_from=self.trend_from,
                                trend_probe=None if trend_probe is None else self._probe(trend_probe, grid.size))
        del solve_A, solve_Y
        A /= scale
        self.grid_, self.obs_ = grid, obs
        self.design_matrix_ = A
        self.time_ = np.asarray(ds["time"].values)
        self.decimal_year_ = t
        self.month_ = (np.asarray(ds["month"].values).astype(str) if "month" in ds.coords
                       else np.datetime_as_string(self.time_, unit="M"))
        self.calendar_month_ = cal
        self.r_pre_, self.r_sv_ = r_pre, r_sv
        self.result_ = result
        self.x_ = result.x
        self.observations_ = Y / scale
        self.n_groups_ = n_groups
        # the cells against the data's own unfiltered EWH amplitude (hma_mascon.plausibility)
        h_max = ewh_limit(ds, love, grid.lat, grid.lon, nmax=nmax)
        self.plausibility_ = check_solution(result.x, h_max, grid.area, nmax, radius, grid.lat, grid.lon, self.month_)
        return self

    @staticmethod
    def _probe(trend_probe, m):
        p = np.atleast_2d(np.asarray(trend_probe, float))
        if p.shape[1] != m:
            raise ValueError(f"trend_probe has {p.shape[1]} cells, the mascon grid {m}")
        if not np.all(np.isfinite(p)):
            raise ValueError("trend_probe contains NaN or inf (fill cells without a trend with 0)")
        return p

    # ------------------------------------------------------------------ outputs
    def _fitted(self):
        if not hasattr(self, "x_"):
            raise RuntimeError("call fit() first")

    def predict(self) -> np.ndarray:
        """Final mascon EWH x (time, cell) [m]; NaN rows for months without data."""
        self._fitted()
        return self.x_

    def predict_observations(self) -> np.ndarray:
        """Pseudo-observations predicted by the solution, A x (time, n) in SI units of ``kind``."""
        self._fitted()
        return self.x_ @ self.design_matrix_.T

    def to_dataset(self) -> xr.Dataset:
        """Labelled solution: ``ewh`` (time, lat, lon) [m] with its formal error, the trend part,
        the preliminary solution and the per-month diagnostics of both steps."""
        self._fitted()
        g = self.grid_
        res = self.result_

        def da(values, name, units, long_name):
            return g.to_dataarray(values, name=name, units=units, long_name=long_name, extra_dims=("time",))

        data = {
            "ewh": da(res.x, "ewh", "m", "mascon equivalent water height anomaly (final: trend + refined)"),
            "ewh_error": da(res.error, "ewh_error", "m", "formal 1-sigma error of ewh (refined step)"),
            "ewh_bias_sd": da(res.refined.bias_sd, "ewh_bias_sd", "m",
                              "expected regularization bias of ewh (prior expectation, refined step)"),
            "ewh_stated_error": da(res.stated_error, "ewh_stated_error", "m",
                                   "stated 1-sigma error of ewh (formal + regularization bias)"),
            "ewh_trend_part": da(res.x_trend, "ewh_trend_part", "m", "trend part removed before the refined step"),
            "ewh_preliminary": da(res.preliminary.x, "ewh_preliminary", "m", "preliminary solution (R_pre)"),
        }
        ds = xr.Dataset({k: v.variable for k, v in data.items()},
                        coords={"time": ("time", self.time_), "lat": data["ewh"]["lat"], "lon": data["ewh"]["lon"]})
        per = {
            "alpha_preliminary": (res.preliminary.alpha, "1", "alpha of the preliminary solve"),
            "alpha_refined": (res.refined.alpha, "1", "alpha of the refined solve"),
            "variance_factor_preliminary": (res.preliminary.sigma0sq, "1", "sigma0^2 of the preliminary solve"),
            "variance_factor": (res.refined.sigma0sq, "1", "sigma0^2 of the refined solve"),
            "degrees_of_freedom_preliminary": (res.preliminary.dof, "1", "t(alpha) of the preliminary solve"),
            "degrees_of_freedom": (res.refined.dof, "1", "t(alpha) of the refined solve"),
            "residual_preliminary": (res.preliminary.residual, "1", "weighted residual Omega, preliminary"),
            "residual_refined": (res.refined.residual, "1", "weighted residual Omega, refined"),
        }
        for name, (v, units, ln) in per.items():
            ds[name] = ("time", np.asarray(v, float), {"units": units, "long_name": ln})
        ds["trend_bias_sd"] = (("lat", "lon"),
                               (res.trend_bias_sd if res.trend_bias_sd is not None
                                else np.full(g.size, np.nan)).reshape(g.shape),
                               {"units": "m yr-1", "long_name": "expected regularization bias of the cell trend"})
        if res.trend_probe is not None:
            k = res.trend_probe.shape[0]
            ds["trend_probe"] = (("probe", "lat", "lon"), res.trend_probe.reshape((k,) + g.shape),
                                 {"units": "m yr-1", "long_name": "probe trend field passed through the solve"})
            ds["trend_probe_recovered"] = (
                ("probe", "lat", "lon"), res.trend_probe_recovered.reshape((k,) + g.shape),
                {"units": "m yr-1", "long_name": "trend the two-step solve returns for the probe (noise-free; "
                                                 "resolution operators at the median alpha)"})
        ds["cell_area"] = (("lat", "lon"), g.area.reshape(g.shape), {"units": "m2", "long_name": "cell area S_j"})
        ds["is_buffer"] = (("lat", "lon"), g.is_buffer.reshape(g.shape),
                           {"long_name": "buffer mascon (excluded from reported sums)"})
        ds = ds.assign_coords(decimal_year=("time", self.decimal_year_), month=("time", self.month_),
                              calendar_month=("time", self.calendar_month_))
        ds.attrs.update({"t0": float(res.t0), "rho_water": RHO_WATER,
                         **self.settings().attrs()})
        return ds
