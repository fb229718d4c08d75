"""Is the closed loop as hard as reality? Degree RMS of the noise, synthetic world against real GRACE
(issue 11, suspect 4).

Per mission era (GRACE 2002-2017, GRACE-FO 2018-), as degree RMS curves (dimensionless Stokes
coefficients, :mod:`hma_mascon.noise_model`):

* ``real CSR residual``: the six-term-fit residuals of CSR RL06 (noise plus the interannual signal,
  which dominates the low degrees);
* ``real CSR - ITSG``: the six-term residuals of CSR minus ITSG-Grace2018, divided by sqrt(2): a
  nearly signal-free sample of one series' noise (the two centres see the same Earth; what they
  share -- background models, the same orbits' aliasing -- is not in it, so it is a lower bound);
* ``real CSR stated``: the sigmas a default real solve weights with (``coefficient_sigma=hybrid``);
* ``synthetic residual``: the six-term residuals of the embedded world's coefficients;
* ``synthetic noise``: the embedded world minus its noise-free twin, the noise exactly;
* ``synthetic stated``: the sigmas the synthetic solve weights with (the true noise sigmas).

The months are those a default solve keeps (TN-13/TN-14 records, the noise screen). Written to
``reproduction/noise_spectra.csv`` (long form: era, curve, degree, value) with a ``.json`` sidecar;
chapter 9 draws it. Needs the real data directory (``--data-dir`` or ``HMA_MASCON_DATA``).

Usage::

    python scripts/noise_spectra.py [--data-dir DATA] [--out reproduction/noise_spectra.csv]

About a minute (reading 223 + 210 + 2 x 223 Level-2 files).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from hma_mascon import __version__
from hma_mascon.inputs import drop_noisy_months, read_grace
from hma_mascon.noise_model import calibrate_sigmas, difference_degree_rms, residual_degree_rms, sigma_degree_rms
from hma_mascon.output import git_commit
from hma_mascon.params import resolve
from hma_mascon.safeio import atomic_write_text
from hma_mascon.synthetic import GENERATOR_VERSION, ensure_synthetic_data_dir

ERAS = {"GRACE": ("2002-01", "2017-12"), "GRACE-FO": ("2018-01", "2100-12")}


def series(data_dir, source: str, calibrate: bool):
    """The Level-2 series a default solve of ``source`` uses, with the sigmas it weights with."""
    settings = resolve("default", {"source": source})
    ds = read_grace(data_dir, settings)
    if calibrate:
        ds = calibrate_sigmas(ds, "hybrid", n_scale=int(settings["sigma_degree_split"]))
        ds = drop_noisy_months(ds, settings["max_noise_factor"], {})
    return ds


def era(ds, name):
    lo, hi = ERAS[name]
    m = np.asarray(ds["month"].values).astype(str)
    return ds.isel(time=np.flatnonzero((m >= lo) & (m <= hi)))


def spectra(data_dir) -> pd.DataFrame:
    csr, itsg = series(data_dir, "csr", True), series(data_dir, "itsg", True)
    world = series(ensure_synthetic_data_dir(), "csr", False)
    twin = series(ensure_synthetic_data_dir(noise=False), "csr", False)
    rows = []
    for name in ERAS:
        c, i, w, t = (era(x, name) for x in (csr, itsg, world, twin))
        curves = {
            "real CSR residual": residual_degree_rms(c),
            "real CSR - ITSG": difference_degree_rms(c, i),
            "real CSR stated": sigma_degree_rms(c),
            "synthetic residual": residual_degree_rms(w),
            "synthetic noise": difference_degree_rms(w, t, per_series=False),
            "synthetic stated": sigma_degree_rms(w),
        }
        for curve, d in curves.items():
            rows += [{"era": name, "curve": curve, "degree": int(n), "value": float(v), "months": int(c.sizes["time"])}
                     for n, v in zip(d["degree"].values, d.values)]
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get("HMA_MASCON_DATA"))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "reproduction" / "noise_spectra.csv")
    args = ap.parse_args(argv)
    if not args.data_dir:
        ap.error("the real data directory is needed: --data-dir DATA or HMA_MASCON_DATA")
    table = spectra(args.data_dir)
    atomic_write_text(args.out, table.to_csv(index=False))
    meta = {"generator": GENERATOR_VERSION, "real": "CSR RL06 GSM and ITSG-Grace2018, default months",
            "hma-mascon": f"{__version__} commit {git_commit()[:12]}", "date": dt.date.today().isoformat()}
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    print(f"wrote {args.out} ({len(table)} rows)")


if __name__ == "__main__":
    main()
