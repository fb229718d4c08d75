"""Benchmark of the default preset's two-step solve beside its floor and the straightforward path.

Run: ``.venv/bin/python benchmarks/bench_default.py [--month-step 1] [--straight-months 2]``

Issue 11 asks for the default preset's full two-step solve measured in one run

1. as ``PointMassMascon("default").fit`` does it (correlated prior precision, degree-96 truncated
   kernel, 2 deg buffer ring, Euclidean-MSE alpha per month and step): wall time and peak memory;
2. beside its *floor*, the work it cannot avoid, timed piece by piece in the same process: the
   synthesis matrix B, the design matrix A, the whitening (Sigma_y = B Sigma_c B^T and its Cholesky),
   the regularization matrices, the normal matrix and the 13 eigendecompositions (R_pre and the 12
   R_sv; ``P_mode="mean"``);
3. beside the straightforward path: for every trial alpha the MSE selection evaluates (counted), a
   Cholesky factorisation and solve of N + alpha R with the dense R of the default; measured on a
   few months and compared per month with the eigen path's amortised cost.

Targets (issue 11): at most 1.25 x the floor, at least 100 x faster per month than the
straightforward path, at most 2.5 GB peak.

The problem is the embedded synthetic world (no data directory needed), whose months are those of
the real CSR record: 223 months with data in 2002-04 .. 2023-08 (257 calendar months; the 34 gap
months cost nothing). Writes ``benchmarks/results/bench_default.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg as sla

from hma_mascon import alpha as alpha_mod
from hma_mascon import euclidean_bias
from hma_mascon.eigensystem import eigen_system, select_alpha
from hma_mascon.estimator import PointMassMascon
from hma_mascon.inputs import prepare
from hma_mascon.kernels import design_matrix, remove_degree0
from hma_mascon.params import resolve
from hma_mascon.stokes import to_coefficient_vector, to_sigma_vector
from hma_mascon.synthesis import synthesis_matrix

from common import CallCounter  # noqa: E402 - benchmarks/ is on sys.path when run as a script

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"floor_ratio_max": 1.25, "speedup_min": 100, "memory_gb_max": 2.5}


def _rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB on Linux


def _current_rss_gb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1024**3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--month-step", type=int, default=1, help="every k-th month (1: all)")
    ap.add_argument("--straight-months", type=int, default=2)
    ap.add_argument("--box", type=float, nargs=4, default=None, metavar=("W", "E", "S", "N"),
                    help="a smaller box for a quick look (default: the HMA box)")
    args = ap.parse_args(argv)
    over = {"month_step": args.month_step}
    if args.box:
        over["box"] = tuple(args.box)
    settings = resolve("default", over)
    out = {"python": sys.version.split()[0], "machine": platform.machine(), "numpy": np.__version__,
           "preset": "default", "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in over.items()}}

    t = time.perf_counter()
    inputs = prepare(None, settings, gia=False, soil_moisture=False)
    out["prepare_inputs_s"] = time.perf_counter() - t
    out["rss_after_inputs_gb"] = _current_rss_gb()
    ds, love, priors = inputs.stokes, inputs.love, inputs.priors
    months = int(np.all(np.isfinite(to_coefficient_vector(ds, nmin=1, nmax=96)), axis=1).sum())
    print(f"inputs: {months} months, {out['prepare_inputs_s']:.0f} s", flush=True)

    # ------------------------------------------------------------------ 1. the solve as the package does it
    est = PointMassMascon("default", progress=False, **settings.stage("estimator"))
    t = time.perf_counter()
    est.fit(ds, love, priors=priors, trend_probe=inputs.trend_probe)
    out["fit_s"] = time.perf_counter() - t
    out["peak_rss_fit_gb"] = _rss_gb()
    n, m = est.design_matrix_.shape
    alpha_pre = float(np.nanmedian(est.result_.preliminary.alpha))
    print(f"fit: n={n}, m={m}, {out['fit_s']:.1f} s, peak RSS {out['peak_rss_fit_gb']:.2f} GB", flush=True)
    del est

    # ------------------------------------------------------------------ 2. the floor, piece by piece
    floor = {}
    nmax = 96
    est = PointMassMascon("default", progress=False, **settings.stage("estimator"))
    radius, GM = float(ds.attrs["radius"]), float(ds.attrs["GM"])
    t = time.perf_counter()
    grid, obs = est.geometry(radius)
    B = synthesis_matrix(obs.lat, obs.lon, obs.radius, nmax, GM, radius, love, quantity=est.kind)
    floor["synthesis_matrix_s"] = time.perf_counter() - t
    t = time.perf_counter()
    A = remove_degree0(design_matrix(obs, grid, kind=est.kind, kernel=est.kernel, nmax=nmax), obs, grid, est.kind)
    floor["design_matrix_s"] = time.perf_counter() - t
    scale = 1.0 / float(np.sqrt(np.mean(A**2)))
    sigma = np.nan_to_num(to_sigma_vector(ds, nmin=1, nmax=nmax))
    t = time.perf_counter()
    whiten, _ = est.observation_whiteners(B, sigma, None, scale, A.shape[0])
    floor["whitening_s"] = time.perf_counter() - t
    # the straightforward path's months, synthesised with the same B (outside the timed floor)
    c = to_coefficient_vector(ds, nmin=1, nmax=nmax)
    ok = np.flatnonzero(np.all(np.isfinite(c), axis=1))
    sel = ok[np.linspace(0, ok.size - 1, max(1, args.straight_months)).astype(int)]
    Ysel = (c[sel] @ B.T) * scale
    del B, c
    t = time.perf_counter()
    r_pre, r_sv = est._regularization(priors, grid)
    floor["regularization_s"] = time.perf_counter() - t
    t = time.perf_counter()
    Aw = whiten[0].whiten(A * scale)
    N = Aw.T @ Aw
    floor["normal_matrix_s"] = time.perf_counter() - t
    t = time.perf_counter()
    system = eigen_system(Aw, r_pre, N=N)
    for c in range(12):
        eigen_system(Aw, r_sv[c], N=N)
    floor["eigendecompositions_13_s"] = time.perf_counter() - t
    out["floor"] = floor
    out["floor_s"] = sum(floor.values())
    out["floor_ratio"] = out["fit_s"] / out["floor_s"]
    print(f"floor {out['floor_s']:.1f} s ({', '.join(f'{k} {v:.1f}' for k, v in floor.items())}); "
          f"fit / floor = {out['floor_ratio']:.2f}", flush=True)

    # ------------------------------------------------------------------ 3. the straightforward path
    Yw = whiten[0].whiten(Ysel.T).T
    U = system.project(Yw)
    yPy = np.einsum("ij,ij->i", Yw, Yw)
    counter = CallCounter()
    orig = (alpha_mod.mse_function, euclidean_bias.ChebyshevMSE.__call__, alpha_mod._mse_on_grid)
    alpha_mod.mse_function = counter.wrap(orig[0])
    euclidean_bias.ChebyshevMSE.__call__ = counter.wrap(orig[1])
    alpha_mod._mse_on_grid = counter.wrap(orig[2], count=lambda solver, xi, s0, alphas, norm, **k: len(alphas))
    try:
        t = time.perf_counter()
        alphas = [select_alpha(system, U[k], yPy[k], "mse", 1.0, "euclidean").alpha for k in range(sel.size)]
        t_sel = (time.perf_counter() - t) / sel.size
    finally:
        alpha_mod.mse_function, euclidean_bias.ChebyshevMSE.__call__, alpha_mod._mse_on_grid = orig
    trials = counter.n / sel.size
    R = np.asarray(r_pre)
    R = np.diag(R) if R.ndim == 1 else R
    b = Aw.T @ Yw[0]
    reps = 3
    t = time.perf_counter()
    for a in np.geomspace(alphas[0] / 10, alphas[0] * 10, reps):
        cf = sla.cho_factor(N + a * R, lower=True, check_finite=False)
        x_direct = sla.cho_solve(cf, b, check_finite=False)
    t_chol = (time.perf_counter() - t) / reps
    x_eig = system.solver.solution(U[0], a)
    per_month_eigen = out["fit_s"] / (2 * months)
    per_month_straight = trials * t_chol
    out.update({
        "n": n, "m": m, "months": months, "alpha_pre_median": alpha_pre,
        "alpha_selection_per_month_s": t_sel, "trial_alphas_per_month": trials,
        "cholesky_solve_per_trial_s": t_chol, "per_month_eigen_path_s": per_month_eigen,
        "per_month_straightforward_s": per_month_straight, "speedup_per_month": per_month_straight / per_month_eigen,
        "direct_vs_eigen_rel_diff": float(np.linalg.norm(x_direct - x_eig) / np.linalg.norm(x_direct)),
        "peak_rss_gb": _rss_gb(), "targets": TARGETS,
    })

    rows = [
        ("problem", f"n={n}, m={m}, months={months} (default preset, synthetic world)"),
        ("two-step fit (PointMassMascon.fit)", f"{out['fit_s']:.1f} s"),
        ("floor (B, A, whitening, R, N, 13 eigendecompositions)", f"{out['floor_s']:.1f} s"),
        ("fit / floor", f"{out['floor_ratio']:.2f} (target <= {TARGETS['floor_ratio_max']})"),
        ("peak RSS up to the end of the fit", f"{out['peak_rss_fit_gb']:.2f} GB (target <= {TARGETS['memory_gb_max']} GB)"),
        ("peak RSS (whole run, floor and Cholesky included)", f"{out['peak_rss_gb']:.2f} GB"),
        ("alpha selection per month", f"{1e3 * t_sel:.1f} ms, {trials:.0f} trial alphas"),
        ("Cholesky solve of N + alpha R (dense R)", f"{t_chol:.2f} s per trial alpha"),
        ("per month: eigen path / straightforward", f"{per_month_eigen:.2f} s / {per_month_straight:.1f} s"),
        ("speed-up per month", f"{out['speedup_per_month']:.0f}x (target >= {TARGETS['speedup_min']}x)"),
        ("eigen vs direct solution", f"{out['direct_vs_eigen_rel_diff']:.1e} relative"),
    ]
    w = max(len(r[0]) for r in rows)
    for a_, b_ in rows:
        print(f"{a_:<{w}}  {b_}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("bench_default.json" if not args.box and args.month_step == 1 else "bench_default_quick.json")
    path.write_text(json.dumps(out, indent=1, default=float))
    print(f"written {path}")
    return out


if __name__ == "__main__":
    main()
