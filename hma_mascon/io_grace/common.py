"""What the Level-2 readers share: text lines of plain or gzip files, record checks, the Earth constants
of a header, epochs, missions and the filling of coefficient arrays.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import MalformedFileError
from ..records import record_problem
from ..safeio import atomic_path, atomic_write_text

GRACE_GM = 3.986004415e14

GRACE_RADIUS = 6378136.3

GRACE_FO_START = np.datetime64("2018-05-01", "ns")

GM_UNITS = {"m3/s2": 1.0, "m^3/s^2": 1.0, "m**3/s**2": 1.0, "m3 s-2": 1.0, "m3.s-2": 1.0, "m3s-2": 1.0,
             "km3/s2": 1e9, "km^3/s^2": 1e9, "km**3/s**2": 1e9, "km3 s-2": 1e9}

LENGTH_UNITS = {"m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
                 "km": 1e3, "kilometer": 1e3, "kilometers": 1e3, "kilometre": 1e3, "kilometres": 1e3}

#: relative tolerance of the Earth's GM and equatorial radius in a file header
EARTH_CONSTANT_RTOL = 0.01




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


def check_record_shape(path, lines_no, tokens, float_columns, names, ends_nl) -> None:
    problem = record_problem(lines_no, tokens, float_columns, names, ends_nl)
    if problem is not None:
        raise MalformedFileError(path, problem[1], int(problem[0]))


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
    for what, value, units, table, earth in (("GM", gm, gm_units, GM_UNITS, GRACE_GM),
                                             ("radius", radius, radius_units, LENGTH_UNITS, GRACE_RADIUS)):
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


def parse_float(token: str, path, lineno: int, what: str) -> float:
    try:
        value = float(token.replace("D", "E").replace("d", "e"))
    except ValueError:
        raise MalformedFileError(path, f"non-numeric {what} {token!r}", lineno) from None
    if not np.isfinite(value):
        raise MalformedFileError(path, f"{what} is {token!r} (not finite)", lineno)
    return value


def parse_int(token: str, path, lineno: int, what: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise MalformedFileError(path, f"non-integer {what} {token!r}", lineno) from None


def parse_epoch(token: str) -> np.datetime64:
    """``yyyymmdd.hhmm`` -> datetime64; 23:59 rounds up to the next midnight."""
    day, _, hhmm = token.partition(".")
    t = pd.Timestamp(f"{day[:4]}-{day[4:6]}-{day[6:8]}")
    hhmm = (hhmm + "0000")[:4]
    t = t + pd.Timedelta(hours=int(hhmm[:2]), minutes=int(hhmm[2:]))
    if hhmm == "2359":
        t = t + pd.Timedelta(minutes=1)
    return np.datetime64(t.to_datetime64(), "ns")


def span_from_name(name: str):
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
            return "GRACE-FO" if np.datetime64(time_start, "ns") >= GRACE_FO_START else "GRACE"
        return "GRACE"
    return ""


def fill_coefficients(path, records, nmax: int, nmin_required: int, first_line: int):
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


def truncate_degree(arrs, nmax_file: int, nmax: int | None, path):
    if nmax is None:
        return arrs
    if nmax > nmax_file:
        raise MalformedFileError(path, f"requested nmax={nmax} exceeds the file's maximum degree {nmax_file}")
    return tuple(a[: nmax + 1, : nmax + 1] for a in arrs)


def single_month(ds: xr.Dataset, index: int):
    if "time" in ds.dims:
        one = ds.isel(time=index)
    else:
        one = ds
    return one


def write_text_file(path: Path, text: str) -> Path:
    """Write ``text`` atomically (:func:`hma_mascon.safeio.atomic_path`), gzip-compressed if ``.gz``."""
    if not path.name.endswith(".gz"):
        return atomic_write_text(path, text)
    with atomic_path(path) as tmp:
        with gzip.open(tmp, "wt", encoding="utf-8") as fh:
            fh.write(text)
    return path


def format_epoch(t) -> str:
    ts = pd.Timestamp(t)
    return f"{ts:%Y%m%d}.{ts:%H%M}"
