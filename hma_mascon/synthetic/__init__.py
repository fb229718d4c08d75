"""Synthetic High Mountain Asia with a known truth: the embedded default data of hma-mascon.

``generate_world`` -> ``write_world`` writes a data directory laid out like the real mirror (same file
formats, read by the same readers); ``ensure_synthetic_data_dir`` caches it; ``load_truth`` reads the
answer. Parameters and their sources: :mod:`hma_mascon.synthetic.parameters`.
"""

from __future__ import annotations

from .parameters import DEFAULT_SEED, GENERATOR_VERSION, SCENARIOS
from .world import (
    World,
    WorldTargetError,
    cache_key,
    check_world_target,
    ensure_synthetic_data_dir,
    generate_world,
    load_truth,
    write_world,
)

__all__ = ["World", "generate_world", "write_world", "check_world_target", "WorldTargetError", "ensure_synthetic_data_dir", "load_truth", "cache_key",
           "register_cli", "DEFAULT_SEED", "GENERATOR_VERSION", "SCENARIOS"]


def _run(args) -> int:
    import time

    t0 = time.perf_counter()
    check_world_target(args.out, force=args.force)  # refuse before the minutes of generation
    noise = False if args.no_noise else "low" if args.low_noise else True
    world = generate_world(seed=args.seed, scenario=args.scenario, noise=noise, interannual=args.interannual)
    out = write_world(world, args.out, force=args.force)
    what = (f"seed {args.seed}" + (f", scenario {args.scenario}" if args.scenario else "")
            + (", no coefficient noise" if args.no_noise else ", generator 1.1.0's low noise level" if args.low_noise else "")
            + (f", {args.interannual} interannual weather" if args.interannual != "independent" else ""))
    print(f"synthetic world ({what}) written to {out} in {time.perf_counter() - t0:.1f} s")
    return 0


def register_cli(subparsers) -> None:
    """Add ``hma-mascon synthetic --out DIR [--seed N] [--force] [--scenario NAME] [--no-noise | --low-noise]
    [--interannual regional]``."""
    p = subparsers.add_parser("synthetic", help="write the synthetic High Mountain Asia data directory")
    p.add_argument("--out", required=True, help="output data directory")
    p.add_argument("--force", action="store_true",
                   help="replace a non-empty OUT that is not a synthetic world (never a directory with real data)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default=None,
                   help="wrong-prior scenario: the truth departs from the priors (" +
                        "; ".join(f"{k}: {v['doc']}" for k, v in SCENARIOS.items()) + ")")
    p.add_argument("--interannual", choices=["independent", "regional"], default="independent",
                   help="the glaciers' interannual weather: each range its own series (independent, the default "
                        "world) or shared by neighbouring ranges, correlated as exp(-d / 500 km) (regional)")
    level = p.add_mutually_exclusive_group()
    level.add_argument("--no-noise", action="store_true",
                       help="no coefficient noise in the GSM files (the same truth, priors and stated sigmas): what "
                            "is left in a solution is the resolution of the data and the regularization")
    level.add_argument("--low-noise", action="store_true",
                       help="the coefficient noise and stated sigmas of generator 1.1.0, 0.29 (GRACE) and 0.52 (GRACE-FO) "
                            "of the lower bound of the real CSR noise over degrees 30-96 (the default world is at "
                            "that bound): a closed loop easier than reality")
    p.set_defaults(func=_run)
