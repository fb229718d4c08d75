"""Benchmark of the two-step solve on the default HMA problem (n = 5353, m = 3360, 257 months).

Run: ``.venv/bin/python benchmarks/bench_solve.py [--months 257] [--straight-months 2] [--skip-modes]``

Measures, in one process:

1. set-up: design matrix A, synthesis matrix B, Σ_y = B Σ_c B^T and its Cholesky whitening;
2. the full preliminary + refined solve (``two_step.two_step_solve``) of every month with the
   minimum-MSE α per month and step (P_mode="mean": 1 + 12 eigendecompositions), wall time and
   peak memory (``resource.ru_maxrss`` of the process, plus tracemalloc of numpy allocations);
3. the straightforward path on a few months: for every trial α the MSE selection evaluates, a
   Cholesky factorisation and solve of N + αR (N formed once); scaled to all months and
   compared per month with the eigen path;
4. the three P modes: "mean" (measured in 2), "mission" (GRACE / GRACE-FO: 2 x 13
   decompositions, measured), "monthly" (one whitening and 2 decompositions per month; measured on
   two months and scaled to all).

The data are synthetic (no data directory needed): a smooth random EWH field with trend and
annual cycle, forward-modelled with the degree-96 truncated kernel, plus noise drawn from the
GRACE-like coefficient errors of ``_sigma_model``. Prints a table and writes
``benchmarks/results/bench_solve.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from hma_mascon import alpha as alpha_mod
from hma_mascon import euclidean_bias
from hma_mascon.constants import A_GRACE, GM_GRACE, HMA_BOX
from hma_mascon.eigensystem import eigen_system, select_alpha
from hma_mascon.two_step import two_step_solve
from hma_mascon.geometry import mascon_grid, observation_grid
from hma_mascon.kernels import design_matrix
from hma_mascon.love_numbers import load_love_numbers
from hma_mascon.stokes import coefficient_index
from hma_mascon.synthesis import synthesis_matrix
from hma_mascon.weights import Whitener, observation_covariance

from common import CallCounter  # noqa: E402 - benchmarks/ is on sys.path when run as a script

RESULTS = Path(__file__).resolve().parent / "results"


def _sigma_model(nmax):
    """GRACE-like per-coefficient errors, log-linear in degree (CSR RL06 formal sigmas: ~4e-13 at
    n = 10, ~6e-13 at 30, ~3e-12 at 60, ~2.5e-11 at 96)."""
    n, _, _ = coefficient_index(nmax)
    return np.maximum(3e-13, 1.4e-13 * np.exp(0.054 * n))


def _peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB on Linux


def _smooth_field(grid, rng, k, amp, width):
    f = np.zeros(grid.size)
    for _ in range(k):
        la = rng.uniform(grid.lat.min(), grid.lat.max())
        lo = rng.uniform(grid.lon.min(), grid.lon.max())
        f += rng.normal() * amp * np.exp(-((grid.lat - la) ** 2 + (grid.lon - lo) ** 2) / (2 * width**2))
    return f


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--months", type=int, default=257)
    ap.add_argument("--straight-months", type=int, default=2)
    ap.add_argument("--skip-modes", action="store_true", help="skip the mission/monthly P modes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mse-norm", choices=["euclidean", "R"], default="euclidean",
                    help="norm of the MSE criterion in the full solve (the Euclidean one is also timed per month)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    out = {"python": sys.version.split()[0], "machine": platform.machine(), "numpy": np.__version__}
    timing = {}

    # ------------------------------------------------------------------ set-up
    t = time.perf_counter()
    grid = mascon_grid(HMA_BOX)
    obs = observation_grid(HMA_BOX)
    A = design_matrix(obs, grid, "radial", "closed")
    At = design_matrix(obs, grid, "radial", "truncated", nmax=96)
    timing["design_matrices_s"] = time.perf_counter() - t
    t = time.perf_counter()
    love = load_love_numbers(96)
    B = synthesis_matrix(obs.lat, obs.lon, obs.radius, 96, GM_GRACE, A_GRACE, love, "radial")
    timing["synthesis_matrix_s"] = time.perf_counter() - t
    n, m = A.shape
    T = args.months
    tt = 2002.0 + (3 + np.arange(T) + 0.5) / 12.0  # 2002-04 .. 2023-08
    cal = (3 + np.arange(T)) % 12 + 1
    trend = -np.abs(_smooth_field(grid, rng, 30, 0.05, 1.5))
    amp = np.abs(_smooth_field(grid, rng, 30, 0.08, 3.0)) + 0.01
    phase = rng.uniform(0, 1, m)
    X = np.outer(tt - tt.mean(), trend) + amp * np.cos(2 * np.pi * (tt[:, None] - phase))
    X -= X.mean(0)
    sig = _sigma_model(96)
    scale = 1.0 / float(np.sqrt(np.mean(A**2)))
    t = time.perf_counter()
    Y = (X @ At.T + (rng.standard_normal((T, sig.size)) * sig) @ B.T) * scale
    timing["pseudo_observations_s"] = time.perf_counter() - t
    del At
    t = time.perf_counter()
    Sy = observation_covariance(B, sig) * scale**2
    W = Whitener(Sy, "full")
    del Sy
    timing["weights_cholesky_s"] = time.perf_counter() - t
    rms = np.sqrt(np.mean(X**2, axis=0))
    r_pre = 1.0 / np.maximum(rms, 0.01) ** 2
    det = X - np.outer(tt - tt.mean(), np.polyfit(tt, X, 1)[0])
    r_sv = np.array([1.0 / np.maximum(np.sqrt(np.mean(det[cal == c] ** 2, axis=0)), 0.01) ** 2 for c in range(1, 13)])
    As = A * scale
    print(f"problem: n={n} observations, m={m} mascons, {T} months; set-up "
          f"{sum(timing.values()):.1f} s", flush=True)

    # ------------------------------------------------------------------ full two-step solve, P_mode="mean"
    tracemalloc.start()
    t = time.perf_counter()
    res = two_step_solve(As, Y, tt, cal, r_pre, r_sv, whiten=W, alpha_method="mse", sigma0sq=1.0,
                         mse_norm=args.mse_norm, progress=False)
    timing["two_step_solve_s"] = time.perf_counter() - t
    _, peak_traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["peak_traced_numpy_gb"] = peak_traced / 1024**3
    out["peak_rss_gb"] = _peak_rss_gb()
    bt = np.polyfit(tt, res.x, 1)[0]
    out["total_trend_error_percent"] = float(100 * ((bt * grid.area).sum() / (trend * grid.area).sum() - 1))
    out["trend_r2"] = float(1 - np.sum((bt - trend) ** 2) / np.sum((trend - trend.mean()) ** 2))
    out["alpha_pre_median"] = float(np.median(res.preliminary.alpha))
    out["alpha_ref_median"] = float(np.median(res.refined.alpha))
    print(f"two-step solve ({T} months, {args.mse_norm} MSE alpha, P_mode=mean): {timing['two_step_solve_s']:.1f} s, "
          f"peak RSS {out['peak_rss_gb']:.2f} GB", flush=True)

    # ------------------------------------------------------------------ eigen path per month, and trial count
    Aw = W.whiten(As)
    t = time.perf_counter()
    system = eigen_system(Aw, r_pre)
    t_eig = time.perf_counter() - t
    k_months = max(1, args.straight_months)
    sel = np.linspace(0, T - 1, k_months).astype(int)
    Yw = W.whiten(Y[sel].T).T
    U = system.project(Yw)
    yPy = np.einsum("ij,ij->i", Yw, Yw)
    counter = CallCounter()
    orig = (alpha_mod.mse_function, euclidean_bias.ChebyshevMSE.__call__, alpha_mod._mse_on_grid, alpha_mod.gcv_function)
    alpha_mod.mse_function = counter.wrap(orig[0])
    euclidean_bias.ChebyshevMSE.__call__ = counter.wrap(orig[1])
    alpha_mod._mse_on_grid = counter.wrap(orig[2], count=lambda solver, xi, s0, alphas, norm, **k: len(alphas))
    alpha_mod.gcv_function = counter.wrap(orig[3])
    try:
        t = time.perf_counter()
        alphas = [select_alpha(system, U[k], yPy[k], "mse", 1.0, args.mse_norm).alpha for k in range(sel.size)]
        t_sel = (time.perf_counter() - t) / sel.size
        n_trials_run = counter.n
        t = time.perf_counter()
        for k in range(sel.size):
            select_alpha(system, U[k], yPy[k], "mse", 1.0, "euclidean" if args.mse_norm == "R" else "R")
        t_sel_other = (time.perf_counter() - t) / sel.size
    finally:
        (alpha_mod.mse_function, euclidean_bias.ChebyshevMSE.__call__, alpha_mod._mse_on_grid,
         alpha_mod.gcv_function) = orig
    trials = n_trials_run / sel.size
    # eigen path cost per month (amortised): its share of the measured full run
    per_month_eigen = timing["two_step_solve_s"] / (2 * T)

    # ------------------------------------------------------------------ straightforward path
    import scipy.linalg as sla

    N = Aw.T @ Aw
    b = Aw.T @ Yw[0]
    t = time.perf_counter()
    reps = 3
    for a in np.geomspace(alphas[0] / 10, alphas[0] * 10, reps):
        cf = sla.cho_factor(N + a * np.diag(r_pre), lower=True, check_finite=False)
        x_direct = sla.cho_solve(cf, b, check_finite=False)
    t_chol = (time.perf_counter() - t) / reps
    x_eig = system.solver.solution(U[0], a)
    out["direct_vs_eigen_rel_diff"] = float(np.linalg.norm(x_direct - x_eig) / np.linalg.norm(x_direct))
    per_month_straight = trials * t_chol
    timing["straightforward_full_estimate_s"] = per_month_straight * 2 * T
    out.update({
        "mse_norm": args.mse_norm, "eigendecomposition_s": t_eig, "alpha_selection_per_month_s": t_sel,
        "alpha_selection_per_month_other_norm_s": t_sel_other, "trial_alphas_per_month": trials,
        "cholesky_solve_per_trial_s": t_chol, "per_month_eigen_path_s": per_month_eigen,
        "per_month_straightforward_s": per_month_straight,
        "speedup_per_month": per_month_straight / per_month_eigen,
    })
    del N, Aw

    # ------------------------------------------------------------------ P modes
    modes = {"mean": {"wall_s": timing["two_step_solve_s"], "decompositions": 13, "measured": True}}
    if not args.skip_modes:
        half = T // 2
        group = np.where(np.arange(T) < 0.7 * T, 0, 1)  # GRACE then GRACE-FO
        sig_b = sig * 1.3
        Sy2 = observation_covariance(B, sig_b) * scale**2
        W2 = [W, Whitener(Sy2, "full")]
        del Sy2
        t = time.perf_counter()
        two_step_solve(As, Y, tt, cal, r_pre, r_sv, whiten=W2, group=group, alpha_method="mse", sigma0sq=1.0,
                       mse_norm=args.mse_norm)
        modes["mission"] = {"wall_s": time.perf_counter() - t, "decompositions": 26, "measured": True}
        # monthly: per month one Sigma_y + Cholesky, and one preliminary + one refined decomposition
        k = 2
        t = time.perf_counter()
        for j in (0, half)[:k]:
            Syj = observation_covariance(B, sig * rng.uniform(0.8, 1.2)) * scale**2
            Wj = Whitener(Syj, "full")
            del Syj
            Awj = Wj.whiten(As)
            for r in (r_pre, r_sv[cal[j] - 1]):
                sj = eigen_system(Awj, r)
                uj = sj.project(Wj.whiten(Y[j]))
                select_alpha(sj, uj, float(np.sum(Wj.whiten(Y[j]) ** 2)), "mse", 1.0, args.mse_norm)
        per = (time.perf_counter() - t) / k
        modes["monthly"] = {"wall_s": per * T, "per_month_s": per, "decompositions": 2 * T, "measured": False,
                            "note": f"measured on {k} months, scaled to {T}"}
    out["P_modes"] = modes
    out["timing"] = timing
    out["n"], out["m"], out["months"] = n, m, T
    out["peak_rss_gb"] = _peak_rss_gb()
    out["targets"] = {"wall_s_max": 180, "memory_gb_max": 4, "speedup_min": 20}

    # ------------------------------------------------------------------ report
    rows = [
        ("problem", f"n={n}, m={m}, months={T}"),
        ("set-up (A, B, Sigma_y, Cholesky)", f"{sum(v for k, v in timing.items() if k not in ('two_step_solve_s', 'straightforward_full_estimate_s')):.1f} s"),
        (f"two-step solve, {args.mse_norm} MSE alpha, P=mean", f"{timing['two_step_solve_s']:.1f} s (target <= 180 s)"),
        ("peak RSS (whole process)", f"{out['peak_rss_gb']:.2f} GB (target <= 4 GB)"),
        ("peak traced numpy (solve only)", f"{out['peak_traced_numpy_gb']:.2f} GB"),
        ("one eigendecomposition (m=3360)", f"{t_eig:.1f} s"),
        (f"alpha selection per month ({args.mse_norm} MSE)", f"{1e3 * t_sel:.1f} ms, {trials:.0f} trial alphas"),
        ("alpha selection per month, other MSE norm", f"{1e3 * t_sel_other:.1f} ms"),
        ("Cholesky solve of N + alpha R", f"{t_chol:.2f} s per trial alpha"),
        ("per month: eigen path / straightforward", f"{per_month_eigen:.2f} s / {per_month_straight:.1f} s"),
        ("speed-up per month", f"{out['speedup_per_month']:.0f}x (target >= 20x)"),
        ("eigen vs direct solution", f"{out['direct_vs_eigen_rel_diff']:.1e} relative"),
        ("closed loop (noisy): total trend error", f"{out['total_trend_error_percent']:.1f} %, R2 {out['trend_r2']:.2f}"),
    ]
    for name, v in modes.items():
        rows.append((f"P_mode={name}", f"{v['wall_s']:.0f} s ({v['decompositions']} decompositions"
                     f"{'' if v['measured'] else ', scaled'})"))
    w = max(len(r[0]) for r in rows)
    for a, b_ in rows:
        print(f"{a:<{w}}  {b_}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench_solve_{args.mse_norm}.json"
    path.write_text(json.dumps(out, indent=1, default=float))
    print(f"written {path}")
    return out


if __name__ == "__main__":
    main()
