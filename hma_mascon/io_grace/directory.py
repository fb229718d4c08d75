"""A directory of monthly Level-2 files (GSM or gfc) read into one coefficient series.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from tqdm import tqdm

from ..stokes import (
    make_stokes_dataset,
    mid_epoch,
    select_period,
    unique_month_labels,
)
from .common import (
    span_from_name,
)
from .gfc import read_gfc
from .gsm import read_gsm


def is_gfc(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".gfc") or name.endswith(".gfc.gz")


def read_stokes_file(path, nmax: int | None = None) -> xr.Dataset:
    """Read a GSM or gfc file, choosing the reader from the name (``.gfc``/``.gfc.gz``) or content."""
    path = Path(path)
    if is_gfc(path):
        return read_gfc(path, nmax)
    return read_gsm(path, nmax)


def read_stokes_directory(directory, pattern: str | None = None, start: str | None = None,
                          end: str | None = None, nmax: int | None = None, progress: bool = True) -> xr.Dataset:
    """Read every monthly solution of a directory into one container.

    Parameters
    ----------
    directory : path-like
    pattern : str, optional
        Glob pattern; default: ``GSM-2_*`` files and ``*.gfc``/``*.gfc.gz``.
    start, end : str, optional
        Keep months whose GRACE label is in ``[start, end]`` (``"YYYY-MM"``, inclusive).
    nmax : int, optional
        Truncate every field to this degree.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    xarray.Dataset
        Sorted by time, with unique month labels (see :func:`hma_mascon.stokes.unique_month_labels`).
    """

    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory")
    if pattern is None:
        files = sorted(p for p in directory.iterdir() if p.is_file()
                       and (p.name.startswith("GSM-2_") or is_gfc(p)))
    else:
        files = sorted(p for p in directory.glob(pattern) if p.is_file())
    # cheap pre-selection on the file-name span (one month margin for the label adjustment)
    lo = pd.Period(start, freq="M") - 1 if start else None
    hi = pd.Period(end, freq="M") + 1 if end else None
    if lo is not None or hi is not None:
        keep = []
        for p in files:
            span = span_from_name(p.name)
            if span is not None:
                mid = pd.Timestamp(mid_epoch(span[0], span[1])[0]).to_period("M")
                if (lo is not None and mid < lo) or (hi is not None and mid > hi):
                    continue
            keep.append(p)
        files = keep
    if not files:
        raise FileNotFoundError(f"{directory}: no coefficient files (pattern {pattern or 'GSM-2_*, *.gfc[.gz]'})")
    fields = [read_stokes_file(p, nmax) for p in tqdm(files, desc=f"reading {directory.name}", disable=not progress)]
    sizes = {int(f.sizes["degree"]) - 1 for f in fields}
    if len(sizes) > 1 and nmax is None:
        raise ValueError(f"{directory}: files have different maximum degrees {sorted(sizes)}; pass nmax")
    for f in fields[1:]:
        for key in ("GM", "radius"):
            if not np.isclose(f.attrs[key], fields[0].attrs[key], rtol=1e-12):
                raise ValueError(f"{directory}: {key} differs between {fields[0].source_file.item()} "
                                 f"({fields[0].attrs[key]}) and {f.source_file.item()} ({f.attrs[key]})")
    tstart = np.array([f.time_start.values[0] for f in fields])
    tend = np.array([f.time_end.values[0] for f in fields])
    order = np.argsort(mid_epoch(tstart, tend), kind="stable")
    fields = [fields[k] for k in order]
    tstart, tend = tstart[order], tend[order]
    for k in range(1, len(fields)):
        if tstart[k] == tstart[k - 1] and tend[k] == tend[k - 1]:
            raise ValueError(f"{directory}: {fields[k - 1].source_file.item()} and {fields[k].source_file.item()} "
                             "cover the same time span (duplicate solutions)")
    labels = unique_month_labels(tstart, tend)
    tides = sorted({f.attrs["tide_system"] for f in fields})
    products = sorted({f.attrs["product"] for f in fields})
    stack = {v: np.stack([f[v].values[0] for f in fields]) for v in ("C", "S", "sigma_C", "sigma_S")}
    ds = make_stokes_dataset(
        stack["C"], stack["S"], stack["sigma_C"], stack["sigma_S"],
        time_start=tstart, time_end=tend, month=labels,
        mission=[f.mission.item() for f in fields], source_file=[f.source_file.item() for f in fields],
        GM=fields[0].attrs["GM"], radius=fields[0].attrs["radius"], tide_system=", ".join(tides),
        product=" / ".join(products),
        history=f"read {len(fields)} files from {directory}" + (f" (truncated to nmax={nmax})" if nmax else ""),
    )
    if start or end:

        ds = select_period(ds, start, end)
        ds.attrs["history"] += f"; selected months {start or '...'}..{end or '...'}"
    return ds
