"""Write the reproduction ledger of a real-data solution (every paper number beside ours) as CSV.

Usage::

    hma-mascon solve --data-dir DATA --out real_csr.nc
    python scripts/make_real_ledger.py real_csr.nc DATA reproduction/ledger_real_csr.csv
"""

from __future__ import annotations

import sys

from hma_mascon import reproduction
from hma_mascon.output import read_solution


def main(solution: str, data_dir: str, out: str) -> None:
    sol = read_solution(solution)
    df = reproduction.ledger_table(sol, data_dir)
    df.to_csv(out, index=False)
    print(df.to_string())


if __name__ == "__main__":
    main(*sys.argv[1:4])
