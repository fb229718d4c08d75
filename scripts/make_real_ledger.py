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


def run_settings(sol) -> dict:
    """The settings of a solution worth printing beside its ledger."""
    a = sol.attrs
    months = [str(m) for m in sol["month"].values] if "month" in sol.coords else []
    meta = {
        "source": a.get("provenance_grace_source", ""),
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


def main(solution: str, data_dir: str, out: str) -> None:
    sol = read_solution(solution)
    df = reproduction.ledger_table(sol, data_dir)
    df.to_csv(out, index=False)
    Path(out).with_suffix(".json").write_text(json.dumps(run_settings(sol), indent=1) + "\n")
    print(df.to_string())


if __name__ == "__main__":
    main(*sys.argv[1:4])
