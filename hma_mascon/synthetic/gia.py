"""Synthetic glacial isostatic adjustment: a smooth small apparent-EWH rate and two alternatives.

The GIA field is defined as an apparent EWH rate (Gaussian lobes of :data:`parameters.GIA_LOBES`,
mm/yr), analysed to Stokes-coefficient rates with the *same* load conversion (kappa_n) that
:func:`hma_mascon.gia.gia_ewh_rate` inverts (METHODS.md §10.1), so the truth ``gia`` variable is exactly
what a consumer recovers from the file (to degree 96). The alternative models scale the field and add a
lobe (:data:`parameters.GIA_ALTERNATIVES`), a 30-50 % spread like ICE-6G_D vs Caron et al. Files are
written in the mirror's layout (SaGEA reordering: 6 header lines, columns l m C S, 1/yr).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..safeio import atomic_write_text
from . import parameters as P

MM = 1e-3


def _lobes(lat, lon, lobes):
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    out = np.zeros(np.broadcast(lat, lon).shape)
    for la, lo, s, rate in lobes:
        out = out + rate * MM * np.exp(-0.5 * ((lat - la) ** 2 + (lon - lo) ** 2) / s**2)
    return out


def gia_rate(lat, lon, model: str = "ICE-6G_D"):
    """Apparent EWH rate of a GIA model [m/yr]."""
    if model == "ICE-6G_D":
        return _lobes(lat, lon, P.GIA_LOBES)
    for name, scale, extra, _n in P.GIA_ALTERNATIVES:
        if name == model:
            return scale * _lobes(lat, lon, P.GIA_LOBES) + _lobes(lat, lon, [extra])
    raise ValueError(f"unknown synthetic GIA model {model!r}")


def gia_models() -> list[tuple[str, int]]:
    """(model name, maximum degree written) of the three synthetic GIA models."""
    return [("ICE-6G_D", P.NMAX)] + [(name, n) for name, _s, _e, n in P.GIA_ALTERNATIVES]


def write_gia_file(path: Path, stokes_rate: np.ndarray, nmax: int, model: str) -> None:
    """Write Stokes rates (2, N+1, N+1) [1/yr] in the SaGEA layout of the mirror, degrees 0..nmax."""
    lines = [f'This file is a synthetic stand-in for "{model}" (hma-mascon synthetic world) for use in the SaGEA layout.',
             "Column 1: degree l", "Column 2: order m", "Column 3: stokes coefficients C in unit [yr^-1]",
             "Column 4: stokes coefficients S in unit [yr^-1]",
             "============================END OF HEADER============================="]
    for n in range(nmax + 1):
        for m in range(n + 1):
            c = stokes_rate[0, n, m] if n >= 2 else 0.0
            s = stokes_rate[1, n, m] if n >= 2 else 0.0
            lines.append(f"{n}\t{m}\t{c: .16e}\t{s: .16e}")
    atomic_write_text(Path(path), "\n".join(lines) + "\n")
