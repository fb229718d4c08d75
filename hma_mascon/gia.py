"""Glacial isostatic adjustment (GIA): Stokes-coefficient rates and their EWH rate.

METHODS.md sections 2.5 and 10.1. The GIA files of the data directory (``gia/GIA.*.txt``,
reformatted by SaGEA) hold fully normalised Stokes-coefficient rates in 1/yr: a free-text
header ending with a line of ``=`` characters, then rows ``l m C S``. Reading is written here
by hand (a four-column table with a clear error for each malformed line); the container is
:func:`hma_mascon.stokes.make_stokes_dataset` and the synthesis is
:func:`hma_mascon.synthesis.stokes_to_ewh_grid` (pyshtools Legendre functions). The apparent
EWH rate applies the same :math:`\\kappa_n = 1/(1+k'_n)` as the GRACE data (METHODS.md 10.1:
"kappa_n applied consistently with section 4"), i.e. the GIA signal is expressed as the
surface load that GRACE would see.

References
----------
Peltier, W. R., Argus, D. F. & Drummond, R. (2018), J. Geophys. Res. 123, 2019-2028 (ICE-6G_D).
Caron, L. et al. (2018), Geophys. Res. Lett. 45, 2203-2212.
Caron, L. & Ivins, E. R. (2020), Earth Planet. Sci. Lett. 531, 115994.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import xarray as xr

from .constants import A_GRACE, GM_GRACE, RHO_EARTH
from .errors import InputError
from .stokes import make_stokes_dataset
from .synthesis import stokes_to_ewh_grid


class MalformedGIAFileError(InputError):
    """A GIA rate file that cannot be read; the message names the file and line."""


def _model_name(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".txt"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name[4:] if name.startswith("GIA.") else name


def read_gia_rates(
    path,
    nmax: int | None = None,
    GM: float = GM_GRACE,
    radius: float = A_GRACE,
    model: str | None = None,
) -> xr.Dataset:
    """Read a GIA Stokes-rate file (columns ``l m C S`` in 1/yr after a ``=====`` header line).

    Parameters
    ----------
    path : str or Path
        File (optionally gzip-compressed).
    nmax : int, optional
        Truncation degree (default: the file's maximum degree).
    GM, radius : float
        Constants attached to the coefficients (the files carry none; the GRACE constants by
        default, which the coefficients are referred to in SaGEA).
    model : str, optional
        Model name (default: from the file name, e.g. ``"ICE-6G_D"``).

    Returns
    -------
    xarray.Dataset
        Coefficient container without ``time``; ``C``/``S`` units ``"1/yr"``; attrs ``model``,
        ``units`` = ``"1/yr"``, ``source_file``.

    Raises
    ------
    MalformedGIAFileError
        Missing header terminator, a row without four numbers, negative or m > l indices,
        duplicates, non-finite values, or no data.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise MalformedGIAFileError(f"{path}: cannot be read ({exc})") from exc
    start = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped and set(stripped.replace("END OF HEADER", "")) <= {"="} and "===" in stripped:
            start = i + 1
            break
    if start is None:
        raise MalformedGIAFileError(f"{path}: no header terminator line of '=' characters found")
    rows = []
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line:
            continue
        parts = line.replace(",", " ").split()
        if len(parts) < 4:
            raise MalformedGIAFileError(f"{path}, line {i + 1}: expected 4 columns 'l m C S', got {line!r}")
        try:
            l, m = int(parts[0]), int(parts[1])
            c, s = float(parts[2].replace("D", "E")), float(parts[3].replace("D", "E"))
        except ValueError as exc:
            raise MalformedGIAFileError(f"{path}, line {i + 1}: cannot parse {line!r} ({exc})") from exc
        if l < 0 or m < 0 or m > l:
            raise MalformedGIAFileError(f"{path}, line {i + 1}: invalid degree/order l={l}, m={m}")
        if not (np.isfinite(c) and np.isfinite(s)):
            raise MalformedGIAFileError(f"{path}, line {i + 1}: non-finite coefficient in {line!r}")
        rows.append((l, m, c, s, i + 1))
    if not rows:
        raise MalformedGIAFileError(f"{path}: no coefficient rows after the header")
    lmax_file = max(r[0] for r in rows)
    N = lmax_file if nmax is None else int(nmax)
    if N > lmax_file:
        raise MalformedGIAFileError(f"{path}: file reaches degree {lmax_file}, requested nmax={N}")
    C = np.zeros((N + 1, N + 1))
    S = np.zeros((N + 1, N + 1))
    seen = np.zeros((N + 1, N + 1), dtype=bool)
    for l, m, c, s, ln in rows:
        if l > N:
            continue
        if seen[l, m]:
            raise MalformedGIAFileError(f"{path}, line {ln}: duplicate coefficient l={l}, m={m}")
        seen[l, m] = True
        C[l, m], S[l, m] = c, s
    name = model or _model_name(path)
    ds = make_stokes_dataset(
        C, S, GM=GM, radius=radius, product=f"GIA {name}", units="1/yr",
        history=f"read_gia_rates({path.name}, nmax={N})",
    )
    ds.attrs.update({"units": "1/yr", "model": name, "source_file": str(path)})
    return ds


def gia_ewh_rate(gia: xr.Dataset, lat, lon, love, nmax: int = 96, radius: float | None = None,
                 rho_e=RHO_EARTH, nmin: int = 2) -> xr.DataArray:
    """Apparent EWH rate [m/yr] of GIA Stokes rates on a lat/lon grid (METHODS.md 10.1).

    Parameters
    ----------
    gia : xarray.Dataset
        From :func:`read_gia_rates`.
    lat, lon : array_like
        Grid coordinates [degrees].
    love : DataArray or array_like
        k'_n (kappa_n applied as for GRACE data).
    nmax : int
        Truncation degree (96, like the GRACE data).
    radius : float, optional
        Reference radius (default: the container's).
    nmin : int
        Lowest degree (2: degree 0/1 of the files are zero by construction in SaGEA).

    Returns
    -------
    xarray.DataArray ``(lat, lon)`` [m/yr] with attrs ``model``.
    """
    N = min(int(nmax), gia.sizes["degree"] - 1)
    g = gia.isel(degree=slice(0, N + 1), order=slice(0, N + 1))
    out = stokes_to_ewh_grid(g, lat=lat, lon=lon, love=love, radius=radius, rho_e=rho_e, nmin=nmin)
    out.name = "gia_ewh_rate"
    out.attrs.update({"units": "m/yr", "model": gia.attrs.get("model", ""),
                      "long_name": f"apparent EWH rate of GIA ({gia.attrs.get('model', '')}), n={nmin}..{N}"})
    return out
