"""Write the reproduction ledger of a real-data solution (every paper number beside ours) as CSV.

Usage::

    hma-mascon solve --data-dir DATA --source csr --out real_csr.nc
    python scripts/make_real_ledger.py real_csr.nc DATA reproduction/ledger_real_csr.csv

Next to the CSV a ``.json`` sidecar records the run's settings (source, months, coefficient sigmas,
estimator parameters, package version and commit), which chapter 10 of the book prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hma_mascon import reproduction
from hma_mascon.output import read_solution
from hma_mascon.safeio import atomic_path, atomic_write_text, exclusive_lock


def run_settings(sol) -> dict:
    """The settings of a solution worth printing beside its ledger."""
    a = sol.attrs
    months = [str(m) for m in sol["month"].values] if "month" in sol.coords else []
    meta = {
        "source": a.get("provenance_grace_source", ""),
        "preset": a.get("param_preset", ""),
        "prior": (f"correlated over {a.get('param_prior_correlation_km')} km ({a.get('param_prior_correlation_blocks')})"
                  if str(a.get("param_prior_correlation_km", "none")) not in ("none", "None", "nan", "")
                  else "diagonal"),
        "kernel": a.get("param_kernel", ""),
        "buffer [deg]": a.get("param_mascon_buffer_deg", ""),
        "months": f"{len(months)} ({months[0]}..{months[-1]})" if months else "",
        "month step": a.get("provenance_month_step", ""),
        "coefficient sigmas": a.get("provenance_coefficient_sigma", ""),
        "alpha method": a.get("param_alpha_method", ""),
        "MSE norm": a.get("param_mse_norm", ""),
        "alpha floor factor": a.get("param_alpha_floor_factor", ""),
        "alpha floored (preliminary / refined)": f"{a.get('provenance_alpha_floored_preliminary', '')} / "
                                                 f"{a.get('provenance_alpha_floored_refined', '')}",
        "hma-mascon": f"{a.get('hma_mascon_version', '')} commit {str(a.get('git_commit', ''))[:12]}",
    }
    return {k: v for k, v in meta.items() if v not in ("", " / ")}


def write_ledger_files(df, settings: dict, out) -> Path:
    """Write the ledger CSV and its JSON sidecar, each atomically, under one lock on the CSV.

    A failure names the file and leaves that file's previous version intact (the sidecar is
    written first: if the CSV then fails, the new sidecar stands beside the previous CSV).
    """
    out = Path(out)
    with exclusive_lock(out):
        atomic_write_text(out.with_suffix(".json"), json.dumps(settings, indent=1) + "\n")
        with atomic_path(out) as tmp:
            df.to_csv(tmp, index=False)
    return out


def main(solution: str, data_dir: str, out: str) -> None:
    sol = read_solution(solution)
    df = reproduction.ledger_table(sol, data_dir)
    write_ledger_files(df, run_settings(sol), out)
    print(df.to_string())


if __name__ == "__main__":
    main(*sys.argv[1:4])
