"""Compare two real-data solutions of different processing centres (CSR and ITSG) cell by cell.

Usage::

    hma-mascon solve --data-dir DATA --source csr --out real_csr.nc
    hma-mascon solve --data-dir DATA --source itsg --out real_itsg.nc
    python scripts/compare_centres.py real_csr.nc real_itsg.nc DATA reproduction/centres_real.csv

The numbers are those of :func:`hma_mascon.reproduction.compare_centres`; next to the CSV a ``.json``
records the files, the period and the package version. Chapter 10 of the book prints both.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from hma_mascon.output import read_solution
from hma_mascon.reproduction import CENTRE_PERIOD, compare_centres
from hma_mascon.safeio import atomic_write_text


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 4:
        print(__doc__)
        return 2
    a, b = read_solution(argv[0]), read_solution(argv[1])
    df = compare_centres(a, b, argv[2])
    out = Path(argv[3])
    settings = {"files": [Path(argv[0]).name, Path(argv[1]).name], "period": "..".join(CENTRE_PERIOD),
                "preset": a.attrs.get("param_preset", ""), "version": a.attrs.get("hma_mascon_version", ""),
                "commit": a.attrs.get("git_commit", "")}
    atomic_write_text(out, df.to_csv(index=False))
    atomic_write_text(out.with_suffix(".json"), json.dumps({"settings": settings}, indent=1))
    with pd.option_context("display.width", 140, "display.max_colwidth", 70):
        print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
