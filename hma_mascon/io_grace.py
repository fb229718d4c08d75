"""Readers and writers for GRACE/GRACE-FO Level-2 spherical-harmonic files.

Formats
-------
* **GSM, GRCOF2 with a YAML header** (PO.DAAC RL06: CSR, JPL, GFZ; plain or gzip). The header,
  up to the line ``# End of YAML header``, is parsed with PyYAML; ``header.dimensions.degree``,
  ``earth_gravity_param.value``, ``mean_equator_radius.value`` are required. Records are
  ``GRCOF2 n m C S sigma_C sigma_S begin end flags``.
* **GSM, older RL04/RL05 headers**: either the classic PO.DAAC layout (``EARTH GM a`` and
  ``SHM nmax ...`` header records, then ``GRCOF2`` records; ``CMMNT``/``FIRST`` lines ignored) or
  the layout of the GRACE-filter test files (``META nmax t_begin t_mid t_end`` in decimal years,
  then ``n m C S sigma_C sigma_S`` rows). The META layout carries no GM/radius; the GRACE
  values 3.986004415e14 m3 s-2 and 6378136.3 m are assumed unless given (recorded in history).
* **ICGEM .gfc** (ITSG-Grace2018, Tongji-Grace2022): header between ``begin_of_head`` and
  ``end_of_head`` (``earth_gravity_constant``, ``radius``, ``max_degree`` required), then
  ``gfc n m C S [sigma_C sigma_S]`` records.

Time spans (``time_end`` exclusive): YAML ``time_coverage_start/end``; else the file name
(``YYYYDOY-YYYYDOY`` with the end day inclusive, ``YYYYMMDD-YYYYMMDD``, or ``YYYY-MM`` for a
calendar month); else the GRCOF2 epoch columns (``yyyymmdd.hhmm``; an end at 23:59 is read as
00:00 of the next day). Epoch = mid-point of the span; month labels by
:func:`hma_mascon.stokes.unique_month_labels` (mid-epoch month, the special months resolved).
Mission from the file name (``GRAC``/``GRFO``, ``Gracefo``), else from the date (GRACE before
2018-05, GRACE-FO after).

Heavy lifting: PyYAML (headers), numpy, tqdm (progress bar). The record parsers are written by
hand: no installed library reads all three layouts with line-numbered errors (gravity-toolkit's
``read_GRACE_harmonics`` needs its own file-name conventions and does not validate records).
Every malformed input raises :class:`MalformedFileError` naming the file, the line and the problem.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml
from tqdm.auto import tqdm

from .errors import MalformedFileError
from .records import record_problem
from .safeio import atomic_path, atomic_write_text
from .stokes import (
    make_stokes_dataset,
    mid_epoch,
    select_period,
    unique_month_labels,
)
from .timeseries import decimal_year_to_datetime

__all__ = [
    "MalformedFileError",
    "read_gsm",
    "read_gfc",
    "read_stokes_file",
    "read_stokes_directory",
    "write_gsm",
    "write_gfc",
    "mission_from_filename",
    "read_text_lines",
    "check_earth_constants",
]

GRACE_GM = 3.986004415e14
GRACE_RADIUS = 6378136.3
_GRACE_FO_START = np.datetime64("2018-05-01", "ns")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def read_text_lines(path) -> tuple[list[str], bool]:
    """Lines of a text file, plain or gzip, and whether its text ends with a newline.

    A file cut inside its last record has no final newline; :func:`hma_mascon.records.record_problem`
    uses the flag to compare that record in full.

    Raises
    ------
    MalformedFileError
        for a corrupt or truncated gzip stream.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise MalformedFileError(path, f"corrupt or truncated gzip stream ({exc})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.splitlines(), text.endswith(("\n", "\r"))


def _check_shape(path, lines_no, tokens, float_columns, names, ends_nl) -> None:
    problem = record_problem(lines_no, tokens, float_columns, names, ends_nl)
    if problem is not None:
        raise MalformedFileError(path, problem[1], int(problem[0]))


_GM_UNITS = {"m3/s2": 1.0, "m^3/s^2": 1.0, "m**3/s**2": 1.0, "m3 s-2": 1.0, "m3.s-2": 1.0, "m3s-2": 1.0,
             "km3/s2": 1e9, "km^3/s^2": 1e9, "km**3/s**2": 1e9, "km3 s-2": 1e9}
_LENGTH_UNITS = {"m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
                 "km": 1e3, "kilometer": 1e3, "kilometers": 1e3, "kilometre": 1e3, "kilometres": 1e3}
#: relative tolerance of the Earth's GM and equatorial radius in a file header
EARTH_CONSTANT_RTOL = 0.01


def check_earth_constants(path, gm: float, radius: float, line=None, gm_units: str | None = None,
                          radius_units: str | None = None) -> tuple[float, float]:
    """GM [m3 s-2] and radius [m] of a header, converted from the units it states and checked.

    Parameters
    ----------
    path : path-like
        File, for the message.
    gm, radius : float
        Values as written.
    line : int or str, optional
        Line (range) of the header, for the message.
    gm_units, radius_units : str, optional
        Units the header states (``m3/s2``, ``km3/s2``, ...; ``meters``, ``km``, ...); None: SI.

    Returns
    -------
    (float, float)
        GM in m3 s-2 and radius in m.

    Raises
    ------
    MalformedFileError
        When a unit is unknown, or the converted value is not within 1 % of the Earth's
        (3.986004415e14 m3 s-2, 6378136.3 m): the label and the value disagree (e.g. ``km3/s2``
        with 3.986e14).
    """
    out = []
    for what, value, units, table, earth in (("GM", gm, gm_units, _GM_UNITS, GRACE_GM),
                                             ("radius", radius, radius_units, _LENGTH_UNITS, GRACE_RADIUS)):
        si_units = "m3/s2" if what == "GM" else "m"
        if units is None or str(units).strip() == "":
            factor, label = 1.0, f"{si_units} (no units stated)"
        else:
            key = str(units).strip().lower()
            if key not in table:
                raise MalformedFileError(path, f"unknown units {units!r} of {what} in the header "
                                               f"(known: {', '.join(sorted(table))})", line)
            factor, label = table[key], str(units).strip()
        si = float(value) * factor
        if not abs(si / earth - 1.0) <= EARTH_CONSTANT_RTOL:
            raise MalformedFileError(
                path, f"{what} = {value!r} {label} is {si:.6e} {si_units}, not the Earth's {earth:.6e} {si_units} "
                      f"(within {EARTH_CONSTANT_RTOL:.0%}): the units label and the value disagree", line)
        out.append(si)
    return out[0], out[1]


def _float(token: str, path, lineno: int, what: str) -> float:
    try:
        value = float(token.replace("D", "E").replace("d", "e"))
    except ValueError:
        raise MalformedFileError(path, f"non-numeric {what} {token!r}", lineno) from None
    if not np.isfinite(value):
        raise MalformedFileError(path, f"{what} is {token!r} (not finite)", lineno)
    return value


def _int(token: str, path, lineno: int, what: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise MalformedFileError(path, f"non-integer {what} {token!r}", lineno) from None


def _epoch(token: str) -> np.datetime64:
    """``yyyymmdd.hhmm`` -> datetime64; 23:59 rounds up to the next midnight."""
    day, _, hhmm = token.partition(".")
    t = pd.Timestamp(f"{day[:4]}-{day[4:6]}-{day[6:8]}")
    hhmm = (hhmm + "0000")[:4]
    t = t + pd.Timedelta(hours=int(hhmm[:2]), minutes=int(hhmm[2:]))
    if hhmm == "2359":
        t = t + pd.Timedelta(minutes=1)
    return np.datetime64(t.to_datetime64(), "ns")


def _span_from_name(name: str):
    """(start, end) with exclusive end from a file name, or None."""
    m = re.search(r"(?<!\d)(\d{4})(\d{3})-(\d{4})(\d{3})(?!\d)", name)
    if m:
        y0, d0, y1, d1 = map(int, m.groups())
        if 1 <= d0 <= 366 and 1 <= d1 <= 366:
            start = np.datetime64(f"{y0:04d}-01-01", "ns") + np.timedelta64(d0 - 1, "D")
            end = np.datetime64(f"{y1:04d}-01-01", "ns") + np.timedelta64(d1, "D")
            return start, end
    m = re.search(r"(?<!\d)(\d{8})-(\d{8})(?!\d)", name)
    if m:
        start = np.datetime64(pd.Timestamp(m.group(1)).to_datetime64(), "ns")
        end = np.datetime64(pd.Timestamp(m.group(2)).to_datetime64(), "ns") + np.timedelta64(1, "D")
        return start, end
    m = re.search(r"(?<!\d)(\d{4})-(\d{2})(?!\d)", name)
    if m and 1 <= int(m.group(2)) <= 12:
        p = pd.Period(f"{m.group(1)}-{m.group(2)}", freq="M")
        return (np.datetime64(p.start_time.to_datetime64(), "ns"),
                np.datetime64((p + 1).start_time.to_datetime64(), "ns"))
    return None


def mission_from_filename(name: str, time_start=None) -> str:
    """``"GRACE"``, ``"GRACE-FO"`` or ``""`` from a file name (and the date as a tie-breaker).

    ``GRFO``/``gracefo``/``grace-fo`` -> GRACE-FO; ``GRAC`` (PO.DAAC mission code) -> GRACE;
    other names mentioning GRACE (ITSG ``Grace_operational``, Tongji-Grace2022) -> by date:
    GRACE-FO from 2018-05 on, GRACE before.
    """
    low = Path(name).name.lower()
    if "grfo" in low or "gracefo" in low or "grace-fo" in low or "grace_fo" in low:
        return "GRACE-FO"
    if re.search(r"(^|_)grac(_|$)", low):
        return "GRACE"
    if "grace" in low or "gsm" in low or "eigen" in low:
        if time_start is not None:
            return "GRACE-FO" if np.datetime64(time_start, "ns") >= _GRACE_FO_START else "GRACE"
        return "GRACE"
    return ""


def _fill(path, records, nmax: int, nmin_required: int, first_line: int):
    """Scatter parsed records into arrays, checking degree range, duplicates and completeness.

    ``records`` is a list of ``(line, n, m, C, S, sigma_C, sigma_S)`` or a tuple of arrays
    ``(lines, n, m, values[N, 4])``.
    """
    if isinstance(records, tuple):
        lines, n, m, vals = records
    else:
        lines = np.array([r[0] for r in records], dtype=np.int64)
        n = np.array([r[1] for r in records], dtype=np.int64)
        m = np.array([r[2] for r in records], dtype=np.int64)
        vals = np.array([r[3:7] for r in records], dtype=np.float64).reshape(-1, 4)
    bad = np.flatnonzero((n < 0) | (m < 0) | (m > n))
    if bad.size:
        k = bad[0]
        raise MalformedFileError(path, f"invalid degree/order ({n[k]}, {m[k]})", int(lines[k]))
    bad = np.flatnonzero(n > nmax)
    if bad.size:
        k = bad[0]
        raise MalformedFileError(path, f"degree {n[k]} exceeds the maximum degree {nmax} of the header", int(lines[k]))
    flat = n * (nmax + 1) + m
    _, first, counts = np.unique(flat, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup_keys = set(flat[first[counts > 1]].tolist())
        seen = {}
        for k, key in enumerate(flat.tolist()):
            if key in dup_keys and key in seen:
                raise MalformedFileError(
                    path, f"duplicate record for degree {n[k]}, order {m[k]} (first on line {seen[key]})", int(lines[k]))
            seen.setdefault(key, int(lines[k]))
    arrs = [np.zeros((nmax + 1, nmax + 1)) for _ in range(4)]
    for j in range(4):
        arrs[j][n, m] = vals[:, j]
    have = np.zeros((nmax + 1, nmax + 1), dtype=bool)
    have[n, m] = True
    tri = np.tril(np.ones_like(have))
    tri[:nmin_required] = False
    missing = np.argwhere(tri & ~have)
    if missing.size:
        mn, mm = missing[0]
        last = int(lines[-1]) if lines.size else first_line
        raise MalformedFileError(
            path,
            f"{len(missing)} coefficient records missing for maximum degree {nmax} "
            f"(first missing: degree {mn}, order {mm}); file truncated or nmax inconsistent with the header",
            last,
        )
    return tuple(arrs)


def _truncate(arrs, nmax_file: int, nmax: int | None, path):
    if nmax is None:
        return arrs
    if nmax > nmax_file:
        raise MalformedFileError(path, f"requested nmax={nmax} exceeds the file's maximum degree {nmax_file}")
    return tuple(a[: nmax + 1, : nmax + 1] for a in arrs)


# --------------------------------------------------------------------------------------------
# GSM
# --------------------------------------------------------------------------------------------
def _yaml_get(tree, keys, path, header_lines):
    node = tree
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise MalformedFileError(path, f"YAML header lacks the key {'.'.join(keys)}", header_lines)
        node = node[key]
    return node


def _parse_gsm_yaml(path, lines, end_idx):
    header_text = "\n".join(lines[:end_idx])
    try:
        tree = yaml.load(header_text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise MalformedFileError(path, f"invalid YAML header ({getattr(exc, 'problem', exc)})", line) from None
    if not isinstance(tree, dict) or "header" not in tree:
        raise MalformedFileError(path, "YAML header has no top-level 'header' key", 1)
    head = tree["header"]
    hl = f"1-{end_idx + 1}"  # header line range
    nmax_tok = _yaml_get(head, ["dimensions", "degree"], path, hl)
    nsa = ["non-standard_attributes"]
    gm = _yaml_get(head, nsa + ["earth_gravity_param", "value"], path, hl)
    radius = _yaml_get(head, nsa + ["mean_equator_radius", "value"], path, hl)
    gm_units = (head[nsa[0]].get("earth_gravity_param") or {}).get("units")
    radius_units = (head[nsa[0]].get("mean_equator_radius") or {}).get("units")
    try:
        nmax, gm, radius = int(nmax_tok), float(gm), float(radius)
    except (TypeError, ValueError):
        raise MalformedFileError(path, f"non-numeric degree/GM/radius in the YAML header ({nmax_tok!r}, {gm!r}, {radius!r})", hl) from None
    if not (np.isfinite(gm) and np.isfinite(radius)) or gm <= 0 or radius <= 0:
        raise MalformedFileError(path, f"GM={gm} or radius={radius} in the YAML header is not a positive number", hl)
    gm, radius = check_earth_constants(path, gm, radius, hl, gm_units, radius_units)
    ns = head.get("non-standard_attributes", {}) or {}
    ga = head.get("global_attributes", {}) or {}
    tide = str(ns.get("permanent_tide_flag", "unknown"))
    product = " ".join(str(x) for x in (ga.get("title", ""),) if x)
    span = None
    if ga.get("time_coverage_start") and ga.get("time_coverage_end"):
        try:
            span = (np.datetime64(pd.Timestamp(str(ga["time_coverage_start"])).to_datetime64(), "ns"),
                    np.datetime64(pd.Timestamp(str(ga["time_coverage_end"])).to_datetime64(), "ns"))
        except ValueError:
            raise MalformedFileError(path, "unreadable time_coverage_start/end in the YAML header", hl) from None
    return dict(nmax=nmax, GM=gm, radius=radius, tide_system=tide, product=product, span=span,
                platform=str(ga.get("platform", "")))


_GRCOF2_FLOATS = (3, 4, 5, 6, 7, 8)
_GRCOF2_NAMES = ("C", "S", "sigma_C", "sigma_S", "begin epoch", "end epoch")


def _parse_grcof2_fast(path, lines, start_idx, key, ends_nl):
    """Vectorised parse of clean GRCOF2 blocks; ``None`` if anything looks odd (slow path then)."""
    body = [(i, line.split()) for i, line in enumerate(lines[start_idx:], start_idx + 1) if line.strip()]
    if not body or any(len(t) < 7 or t[0] != key for _, t in body):
        return None
    _check_shape(path, [i for i, _ in body], [t for _, t in body], _GRCOF2_FLOATS, _GRCOF2_NAMES, ends_nl)
    try:
        nm = np.array([(t[1], t[2]) for _, t in body], dtype=np.int64)
        vals = np.array([t[3:7] for _, t in body], dtype=np.float64)
    except ValueError:
        return None
    if not np.all(np.isfinite(vals)):
        return None
    epochs = None
    t = body[0][1]
    if len(t) >= 9:
        try:
            epochs = (_epoch(t[7]), _epoch(t[8]))
        except (ValueError, IndexError):
            return None
    lines_no = np.array([i for i, _ in body], dtype=np.int64)
    return (lines_no, nm[:, 0], nm[:, 1], vals), epochs


def _parse_grcof2(path, lines, start_idx, key="GRCOF2", ends_nl=True):
    fast = _parse_grcof2_fast(path, lines, start_idx, key, ends_nl)
    if fast is not None:
        return fast
    records, epochs, shape = [], None, []
    for i in range(start_idx, len(lines)):
        line = lines[i]
        tok = line.split()
        if not tok:
            continue
        lineno = i + 1
        if tok[0] != key:
            if tok[0] in ("CMMNT", "FIRST", "EARTH", "SHM", "GRCOEF"):
                continue
            raise MalformedFileError(path, f"unexpected record key {tok[0]!r} (expected {key})", lineno)
        if len(tok) < 7:
            raise MalformedFileError(path, f"{key} record has {len(tok) - 1} fields, expected at least 6", lineno)
        n = _int(tok[1], path, lineno, "degree")
        m = _int(tok[2], path, lineno, "order")
        vals = [_float(t, path, lineno, w) for t, w in zip(tok[3:7], ("C", "S", "sigma_C", "sigma_S"))]
        records.append((lineno, n, m, *vals))
        shape.append((lineno, tok))
        if epochs is None and len(tok) >= 9:
            try:
                epochs = (_epoch(tok[7]), _epoch(tok[8]))
            except (ValueError, IndexError):
                raise MalformedFileError(path, f"unreadable epoch columns {tok[7]!r} {tok[8]!r}", lineno) from None
    if not records:
        raise MalformedFileError(path, f"no {key} coefficient records")
    _check_shape(path, [i for i, _ in shape], [t for _, t in shape], _GRCOF2_FLOATS, _GRCOF2_NAMES, ends_nl)
    return records, epochs


def read_gsm(path, nmax: int | None = None, *, GM: float | None = None, radius: float | None = None) -> xr.Dataset:
    """Read one GRACE Level-2 GSM file (GRCOF2, YAML or older header; plain or gzip).

    Parameters
    ----------
    path : str or path-like
    nmax : int, optional
        Truncate to this degree.
    GM, radius : float, optional
        Constants for the META layout, which carries none (default: GRACE values). Ignored for
        files that state them.

    Returns
    -------
    xarray.Dataset
        Coefficient container with a time dimension of length 1.

    Raises
    ------
    MalformedFileError
        Truncated file, degree beyond/short of the header's nmax, missing GM/radius/degree,
        NaN or non-numeric values, duplicate records, unknown layout.
    """
    path = Path(path)
    lines, ends_nl = read_text_lines(path)
    if not any(line.strip() for line in lines):
        raise MalformedFileError(path, "empty file", 1)
    history = f"read {path.name}"
    epochs = None
    end_idx = next((i for i, line in enumerate(lines) if line.strip().lower().startswith("# end of yaml header")), None)
    first = next(i for i, line in enumerate(lines) if line.strip())
    if end_idx is not None:
        meta = _parse_gsm_yaml(path, lines, end_idx)
        records, epochs = _parse_grcof2(path, lines, end_idx + 1, ends_nl=ends_nl)
        arrs = _fill(path, records, meta["nmax"], 2, end_idx + 1)
        span = meta["span"]
    elif lines[first].split()[0] == "META":
        tok = lines[first].split()
        if len(tok) < 5:
            raise MalformedFileError(path, "META line needs 'META nmax t_begin t_mid t_end'", first + 1)
        nmax_file = _int(tok[1], path, first + 1, "maximum degree")
        t0, t1 = (_float(tok[k], path, first + 1, "decimal year") for k in (2, 4))

        records, shape = [], []
        for i in range(first + 1, len(lines)):
            t = lines[i].split()
            if not t:
                continue
            if len(t) < 6:
                raise MalformedFileError(path, f"record has {len(t)} fields, expected 6 (n m C S sigma_C sigma_S)", i + 1)
            records.append((i + 1, _int(t[0], path, i + 1, "degree"), _int(t[1], path, i + 1, "order"),
                            *[_float(x, path, i + 1, w) for x, w in zip(t[2:6], ("C", "S", "sigma_C", "sigma_S"))]))
            shape.append((i + 1, t))
        _check_shape(path, [i for i, _ in shape], [t for _, t in shape], (2, 3, 4, 5),
                     ("C", "S", "sigma_C", "sigma_S"), ends_nl)
        arrs = _fill(path, records, nmax_file, 2, first + 1)
        # the file name (YYYYDOY-YYYYDOY) is exact; the META decimal years are rounded to days
        span = _span_from_name(path.name) or tuple(
            np.datetime64(pd.Timestamp(decimal_year_to_datetime(x)[0]).round("D").to_datetime64(), "ns")
            for x in (t0, t1))
        given = GM is not None and radius is not None
        meta = dict(nmax=nmax_file, GM=GM if GM is not None else GRACE_GM,
                    radius=radius if radius is not None else GRACE_RADIUS, tide_system="unknown",
                    product="GSM (META layout)")
        if not given:
            history += f" (GM/radius not in file, assumed {meta['GM']:.9e} m3 s-2, {meta['radius']} m)"
    else:
        # classic RL04/RL05 layout: EARTH and SHM header records
        gm = rad = nmax_file = None
        tide = "unknown"
        start_idx = None
        for i, line in enumerate(lines):
            t = line.split()
            if not t:
                continue
            if t[0] == "EARTH":
                if len(t) < 3:
                    raise MalformedFileError(path, "EARTH record needs GM and radius", i + 1)
                gm, rad = _float(t[1], path, i + 1, "GM"), _float(t[2], path, i + 1, "radius")
            elif t[0] == "SHM":
                if len(t) < 2:
                    raise MalformedFileError(path, "SHM record needs the maximum degree", i + 1)
                nmax_file = _int(t[1], path, i + 1, "maximum degree")
                low = line.lower()
                tide = "tide_free" if "exclusive" in low else ("zero_tide" if "inclusive" in low else "unknown")
            elif t[0] == "GRCOF2":
                start_idx = i
                break
        if start_idx is None:
            raise MalformedFileError(path, "unknown layout: no YAML header, META line or GRCOF2 records")
        if gm is None or rad is None:
            raise MalformedFileError(path, "header lacks the EARTH record (GM, radius)", start_idx)
        gm, rad = check_earth_constants(path, gm, rad, start_idx)
        if nmax_file is None:
            raise MalformedFileError(path, "header lacks the SHM record (maximum degree)", start_idx)
        records, epochs = _parse_grcof2(path, lines, start_idx, ends_nl=ends_nl)
        arrs = _fill(path, records, nmax_file, 2, start_idx + 1)
        meta = dict(nmax=nmax_file, GM=gm, radius=rad, tide_system=tide, product="GSM (RL04/RL05 layout)")
        span = None
    if span is None:
        span = _span_from_name(path.name) or epochs
    if span is None:
        raise MalformedFileError(path, "no time span in the header, the file name or the records")
    if span[1] <= span[0]:
        raise MalformedFileError(path, f"time span end {span[1]} is not after its begin {span[0]}")
    C, S, sC, sS = _truncate(arrs, meta["nmax"], nmax, path)
    return make_stokes_dataset(
        C[None], S[None], sC[None], sS[None],
        time_start=[span[0]], time_end=[span[1]],
        mission=mission_from_filename(path.name, span[0]), source_file=path.name,
        GM=meta["GM"], radius=meta["radius"], tide_system=meta["tide_system"], product=meta["product"],
        history=history,
    )


# --------------------------------------------------------------------------------------------
# gfc
# --------------------------------------------------------------------------------------------
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
    gm = _float(head["earth_gravity_constant"][0].split()[0], path, head["earth_gravity_constant"][1], "earth_gravity_constant")
    rad = _float(head["radius"][0].split()[0], path, head["radius"][1], "radius")
    nmax_file = _int(head["max_degree"][0].split()[0], path, head["max_degree"][1], "max_degree")
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
        vals = [_float(x, path, lineno, w) for x, w in zip(t[3:7], ("C", "S", "sigma_C", "sigma_S"))]
        vals += [0.0] * (4 - len(vals))
        records.append((lineno, _int(t[1], path, lineno, "degree"), _int(t[2], path, lineno, "order"), *vals))
        shape.append((lineno, t))
    if not records:
        raise MalformedFileError(path, "no gfc coefficient records", end_idx + 1)
    _check_shape(path, [i for i, _ in shape], [t for _, t in shape], (3, 4, 5, 6),
                 ("C", "S", "sigma_C", "sigma_S"), ends_nl)
    arrs = _fill(path, records, nmax_file, 2, end_idx + 1)
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
        span = _span_from_name(head["modelname"][0]) if "modelname" in head else None
        span = _span_from_name(name) or span
        if span is None:
            raise MalformedFileError(path, "no time span: neither the file name nor the header gives one")
    C, S, sC, sS = _truncate(arrs, nmax_file, nmax, path)
    tide = head.get("tide_system", ("unknown", 0))[0]
    product = head.get("modelname", (path.name, 0))[0]
    return make_stokes_dataset(
        C[None], S[None], sC[None], sS[None], time_start=[span[0]], time_end=[span[1]],
        mission=mission_from_filename(path.name, span[0]), source_file=path.name,
        GM=gm, radius=rad, tide_system=tide, product=product, history=f"read {path.name}",
    )


# --------------------------------------------------------------------------------------------
# directories
# --------------------------------------------------------------------------------------------
def _is_gfc(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".gfc") or name.endswith(".gfc.gz")


def read_stokes_file(path, nmax: int | None = None) -> xr.Dataset:
    """Read a GSM or gfc file, choosing the reader from the name (``.gfc``/``.gfc.gz``) or content."""
    path = Path(path)
    if _is_gfc(path):
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
                       and (p.name.startswith("GSM-2_") or _is_gfc(p)))
    else:
        files = sorted(p for p in directory.glob(pattern) if p.is_file())
    # cheap pre-selection on the file-name span (one month margin for the label adjustment)
    lo = pd.Period(start, freq="M") - 1 if start else None
    hi = pd.Period(end, freq="M") + 1 if end else None
    if lo is not None or hi is not None:
        keep = []
        for p in files:
            span = _span_from_name(p.name)
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


# --------------------------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------------------------
def _single(ds: xr.Dataset, index: int):
    if "time" in ds.dims:
        one = ds.isel(time=index)
    else:
        one = ds
    return one


def _write_text_file(path: Path, text: str) -> Path:
    """Write ``text`` atomically (:func:`hma_mascon.safeio.atomic_path`), gzip-compressed if ``.gz``."""
    if not path.name.endswith(".gz"):
        return atomic_write_text(path, text)
    with atomic_path(path) as tmp:
        with gzip.open(tmp, "wt", encoding="utf-8") as fh:
            fh.write(text)
    return path


def _fmt_epoch(t) -> str:
    ts = pd.Timestamp(t)
    return f"{ts:%Y%m%d}.{ts:%H%M}"


def write_gsm(path, ds: xr.Dataset, index: int = 0, *, title: str | None = None) -> Path:
    """Write one field of the container as a GRCOF2 file with a YAML header (CSR layout).

    Values are written with 17 significant digits so that :func:`read_gsm` returns them
    exactly. The file is gzip-compressed if ``path`` ends in ``.gz``, and written atomically
    (:func:`hma_mascon.safeio.atomic_path`: a failure leaves a previous file intact).

    Parameters
    ----------
    path : path-like
    ds : xarray.Dataset
        Coefficient container (with ``time_start``/``time_end``).
    index : int
        Which time step to write.
    title : str, optional
        ``global_attributes.title`` (default: ``ds.attrs["product"]``).
    """
    path = Path(path)
    one = _single(ds, index)
    nmax = int(ds.sizes["degree"]) - 1
    t0, t1 = one["time_start"].values, one["time_end"].values
    mission = str(one["mission"].values) if "mission" in one.coords else ""
    head = {
        "header": {
            "dimensions": {"degree": nmax, "order": nmax},
            "non-standard_attributes": {
                "product_id": "GSM-2",
                "normalization": "fully normalized",
                "permanent_tide_flag": ds.attrs.get("tide_system", "unknown"),
                "earth_gravity_param": {"long_name": "gravitational constant times mass of Earth",
                                        "units": "m3/s2", "value": float(ds.attrs["GM"])},
                "mean_equator_radius": {"long_name": "mean equator radius", "units": "meters",
                                        "value": float(ds.attrs["radius"])},
            },
            "global_attributes": {
                "title": title if title is not None else (ds.attrs.get("product") or "GSM-2 synthetic"),
                "platform": mission,
                "history": ds.attrs.get("history", ""),
                "time_coverage_start": pd.Timestamp(t0).strftime("%Y-%m-%dT%H:%M:%S.00"),
                "time_coverage_end": pd.Timestamp(t1).strftime("%Y-%m-%dT%H:%M:%S.00"),
            },
        }
    }
    out = [yaml.safe_dump(head, sort_keys=False, width=1000).rstrip("\n"), "", "# End of YAML header"]
    e0, e1 = _fmt_epoch(t0), _fmt_epoch(t1)
    C, S = one["C"].values, one["S"].values
    sC, sS = one["sigma_C"].values, one["sigma_S"].values
    for n in range(nmax + 1):
        for m in range(n + 1):
            out.append(f"GRCOF2 {n:4d} {m:4d} {C[n, m]: .16e} {S[n, m]: .16e} {sC[n, m]: .16e} {sS[n, m]: .16e} "
                       f"{e0} {e1} {'yy' if n > 1 else 'nn'}nn")
    return _write_text_file(path, "\n".join(out) + "\n")


def write_gfc(path, ds: xr.Dataset, index: int = 0, *, modelname: str | None = None) -> Path:
    """Write one field as an ICGEM ``.gfc`` file with formal errors (gzip if ``.gz``).

    The data span is written as the extra header keys ``time_coverage_start`` and
    ``time_coverage_end`` (read back by :func:`read_gfc`); values have 17 significant digits.
    """
    path = Path(path)
    one = _single(ds, index)
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
    return _write_text_file(path, "\n".join(lines) + "\n")

