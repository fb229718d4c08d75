"""ICGEM ``.gfc`` files (ITSG-Grace2018, Tongji-Grace2022 format): read and write.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import MalformedFileError
from ..stokes import (
    make_stokes_dataset,
)
from .common import (
    check_earth_constants,
    check_record_shape,
    fill_coefficients,
    mission_from_filename,
    parse_float,
    parse_int,
    read_text_lines,
    single_month,
    span_from_name,
    truncate_degree,
    write_text_file,
)


def read_gfc(path, nmax: int | None = None, *, time_start=None, time_end=None) -> xr.Dataset:
    """Read an ICGEM ``.gfc`` file (plain or gzip) with optional formal errors.

    The time span comes from ``time_start``/``time_end`` if given, else from header keys
    ``time_coverage_start``/``time_coverage_end`` (written by :func:`write_gfc`), else from the
    file name (``..._YYYY-MM.gfc`` = that calendar month, or ``YYYYMMDD-YYYYMMDD``).

    Raises
    ------
    MalformedFileError
        Missing ``end_of_head`` or header keys (``earth_gravity_constant``, ``radius``,
        ``max_degree``), degree beyond ``max_degree``, missing/duplicate/NaN/non-numeric records.
    """
    path = Path(path)
    lines, ends_nl = read_text_lines(path)
    end_idx = next((i for i, line in enumerate(lines) if line.lstrip().startswith("end_of_head")), None)
    if end_idx is None:
        raise MalformedFileError(path, "no 'end_of_head' line: not an ICGEM gfc file or header truncated")
    begin = next((i for i, line in enumerate(lines[:end_idx]) if line.lstrip().startswith("begin_of_head")), -1)
    head: dict[str, tuple[str, int]] = {}
    for i in range(begin + 1, end_idx):
        t = lines[i].split()
        if len(t) >= 2:
            head.setdefault(t[0].lower(), (" ".join(t[1:]), i + 1))
    for key in ("earth_gravity_constant", "radius", "max_degree"):
        if key not in head:
            raise MalformedFileError(path, f"header lacks the key {key!r}", end_idx + 1)
    gm = parse_float(head["earth_gravity_constant"][0].split()[0], path, head["earth_gravity_constant"][1], "earth_gravity_constant")
    rad = parse_float(head["radius"][0].split()[0], path, head["radius"][1], "radius")
    nmax_file = parse_int(head["max_degree"][0].split()[0], path, head["max_degree"][1], "max_degree")
    gm, rad = check_earth_constants(path, gm, rad, head["earth_gravity_constant"][1])
    errors = head.get("errors", ("formal", 0))[0].lower()
    records, shape = [], []
    for i in range(end_idx + 1, len(lines)):
        t = lines[i].split()
        if not t:
            continue
        lineno = i + 1
        if t[0] != "gfc":
            raise MalformedFileError(path, f"unsupported record key {t[0]!r} (only 'gfc' is read)", lineno)
        need = 5 if errors == "no" else 7
        if len(t) < need:
            raise MalformedFileError(path, f"gfc record has {len(t) - 1} fields, expected {need - 1}", lineno)
        vals = [parse_float(x, path, lineno, w) for x, w in zip(t[3:7], ("C", "S", "sigma_C", "sigma_S"))]
        vals += [0.0] * (4 - len(vals))
        records.append((lineno, parse_int(t[1], path, lineno, "degree"), parse_int(t[2], path, lineno, "order"), *vals))
        shape.append((lineno, t))
    if not records:
        raise MalformedFileError(path, "no gfc coefficient records", end_idx + 1)
    check_record_shape(path, [i for i, _ in shape], [t for _, t in shape], (3, 4, 5, 6),
                 ("C", "S", "sigma_C", "sigma_S"), ends_nl)
    arrs = fill_coefficients(path, records, nmax_file, 2, end_idx + 1)
    if time_start is not None:
        span = (np.datetime64(pd.Timestamp(time_start).to_datetime64(), "ns"),
                np.datetime64(pd.Timestamp(time_end).to_datetime64(), "ns"))
    elif "time_coverage_start" in head and "time_coverage_end" in head:
        try:
            span = tuple(np.datetime64(pd.Timestamp(head[k][0]).to_datetime64(), "ns")
                         for k in ("time_coverage_start", "time_coverage_end"))
        except ValueError:
            raise MalformedFileError(path, "unreadable time_coverage_start/end", head["time_coverage_start"][1]) from None
    else:
        name = path.name
        span = span_from_name(head["modelname"][0]) if "modelname" in head else None
        span = span_from_name(name) or span
        if span is None:
            raise MalformedFileError(path, "no time span: neither the file name nor the header gives one")
    C, S, sC, sS = truncate_degree(arrs, nmax_file, nmax, path)
    tide = head.get("tide_system", ("unknown", 0))[0]
    product = head.get("modelname", (path.name, 0))[0]
    return make_stokes_dataset(
        C[None], S[None], sC[None], sS[None], time_start=[span[0]], time_end=[span[1]],
        mission=mission_from_filename(path.name, span[0]), source_file=path.name,
        GM=gm, radius=rad, tide_system=tide, product=product, history=f"read {path.name}",
    )


def write_gfc(path, ds: xr.Dataset, index: int = 0, *, modelname: str | None = None) -> Path:
    """Write one field as an ICGEM ``.gfc`` file with formal errors (gzip if ``.gz``).

    The data span is written as the extra header keys ``time_coverage_start`` and
    ``time_coverage_end`` (read back by :func:`read_gfc`); values have 17 significant digits.
    """
    path = Path(path)
    one = single_month(ds, index)
    nmax = int(ds.sizes["degree"]) - 1
    stem = path.name.split(".gfc")[0]
    lines = [
        "ICGEM gravity field written by hma_mascon.io_grace.write_gfc",
        "",
        "begin_of_head " + "=" * 60,
        f"modelname              {modelname or stem}",
        "product_type           gravity_field",
        f"earth_gravity_constant {float(ds.attrs['GM']):.10e}",
        f"radius                 {float(ds.attrs['radius']):.10e}",
        f"max_degree             {nmax}",
        "norm                   fully_normalized",
        f"tide_system            {ds.attrs.get('tide_system', 'unknown')}",
        "errors                 formal",
    ]
    if "time_start" in one.coords:
        lines += [f"time_coverage_start    {pd.Timestamp(one['time_start'].values).isoformat()}",
                  f"time_coverage_end      {pd.Timestamp(one['time_end'].values).isoformat()}"]
    lines += ["", "key     L    M         C                   S                sigma C             sigma S",
              "end_of_head " + "=" * 60]
    C, S = one["C"].values, one["S"].values
    sC, sS = one["sigma_C"].values, one["sigma_S"].values
    for n in range(nmax + 1):
        for m in range(n + 1):
            lines.append(f"gfc {n:5d} {m:4d} {C[n, m]: .16e} {S[n, m]: .16e} {sC[n, m]: .16e} {sS[n, m]: .16e}")
    return write_text_file(path, "\n".join(lines) + "\n")
