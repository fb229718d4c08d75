"""GRACE/GRACE-FO Level-2 GSM files (GRCOF2 records, YAML or classic header): read and write.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from ..errors import MalformedFileError
from ..stokes import (
    make_stokes_dataset,
)
from ..timeseries import decimal_year_to_datetime
from .common import (
    GRACE_GM,
    GRACE_RADIUS,
    check_earth_constants,
    check_record_shape,
    fill_coefficients,
    format_epoch,
    mission_from_filename,
    parse_epoch,
    parse_float,
    parse_int,
    read_text_lines,
    single_month,
    span_from_name,
    truncate_degree,
    write_text_file,
)

_GRCOF2_FLOATS = (3, 4, 5, 6, 7, 8)
_GRCOF2_NAMES = ("C", "S", "sigma_C", "sigma_S", "begin epoch", "end epoch")



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


def _parse_grcof2_fast(path, lines, start_idx, key, ends_nl):
    """Vectorised parse of clean GRCOF2 blocks; ``None`` if anything looks odd (slow path then)."""
    body = [(i, line.split()) for i, line in enumerate(lines[start_idx:], start_idx + 1) if line.strip()]
    if not body or any(len(t) < 7 or t[0] != key for _, t in body):
        return None
    check_record_shape(path, [i for i, _ in body], [t for _, t in body], _GRCOF2_FLOATS, _GRCOF2_NAMES, ends_nl)
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
            epochs = (parse_epoch(t[7]), parse_epoch(t[8]))
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
        n = parse_int(tok[1], path, lineno, "degree")
        m = parse_int(tok[2], path, lineno, "order")
        vals = [parse_float(t, path, lineno, w) for t, w in zip(tok[3:7], ("C", "S", "sigma_C", "sigma_S"))]
        records.append((lineno, n, m, *vals))
        shape.append((lineno, tok))
        if epochs is None and len(tok) >= 9:
            try:
                epochs = (parse_epoch(tok[7]), parse_epoch(tok[8]))
            except (ValueError, IndexError):
                raise MalformedFileError(path, f"unreadable epoch columns {tok[7]!r} {tok[8]!r}", lineno) from None
    if not records:
        raise MalformedFileError(path, f"no {key} coefficient records")
    check_record_shape(path, [i for i, _ in shape], [t for _, t in shape], _GRCOF2_FLOATS, _GRCOF2_NAMES, ends_nl)
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
        arrs = fill_coefficients(path, records, meta["nmax"], 2, end_idx + 1)
        span = meta["span"]
    elif lines[first].split()[0] == "META":
        tok = lines[first].split()
        if len(tok) < 5:
            raise MalformedFileError(path, "META line needs 'META nmax t_begin t_mid t_end'", first + 1)
        nmax_file = parse_int(tok[1], path, first + 1, "maximum degree")
        t0, t1 = (parse_float(tok[k], path, first + 1, "decimal year") for k in (2, 4))

        records, shape = [], []
        for i in range(first + 1, len(lines)):
            t = lines[i].split()
            if not t:
                continue
            if len(t) < 6:
                raise MalformedFileError(path, f"record has {len(t)} fields, expected 6 (n m C S sigma_C sigma_S)", i + 1)
            records.append((i + 1, parse_int(t[0], path, i + 1, "degree"), parse_int(t[1], path, i + 1, "order"),
                            *[parse_float(x, path, i + 1, w) for x, w in zip(t[2:6], ("C", "S", "sigma_C", "sigma_S"))]))
            shape.append((i + 1, t))
        check_record_shape(path, [i for i, _ in shape], [t for _, t in shape], (2, 3, 4, 5),
                     ("C", "S", "sigma_C", "sigma_S"), ends_nl)
        arrs = fill_coefficients(path, records, nmax_file, 2, first + 1)
        # the file name (YYYYDOY-YYYYDOY) is exact; the META decimal years are rounded to days
        span = span_from_name(path.name) or tuple(
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
                gm, rad = parse_float(t[1], path, i + 1, "GM"), parse_float(t[2], path, i + 1, "radius")
            elif t[0] == "SHM":
                if len(t) < 2:
                    raise MalformedFileError(path, "SHM record needs the maximum degree", i + 1)
                nmax_file = parse_int(t[1], path, i + 1, "maximum degree")
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
        arrs = fill_coefficients(path, records, nmax_file, 2, start_idx + 1)
        meta = dict(nmax=nmax_file, GM=gm, radius=rad, tide_system=tide, product="GSM (RL04/RL05 layout)")
        span = None
    if span is None:
        span = span_from_name(path.name) or epochs
    if span is None:
        raise MalformedFileError(path, "no time span in the header, the file name or the records")
    if span[1] <= span[0]:
        raise MalformedFileError(path, f"time span end {span[1]} is not after its begin {span[0]}")
    C, S, sC, sS = truncate_degree(arrs, meta["nmax"], nmax, path)
    return make_stokes_dataset(
        C[None], S[None], sC[None], sS[None],
        time_start=[span[0]], time_end=[span[1]],
        mission=mission_from_filename(path.name, span[0]), source_file=path.name,
        GM=meta["GM"], radius=meta["radius"], tide_system=meta["tide_system"], product=meta["product"],
        history=history,
    )


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
    one = single_month(ds, index)
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
    e0, e1 = format_epoch(t0), format_epoch(t1)
    C, S = one["C"].values, one["S"].values
    sC, sS = one["sigma_C"].values, one["sigma_S"].values
    for n in range(nmax + 1):
        for m in range(n + 1):
            out.append(f"GRCOF2 {n:4d} {m:4d} {C[n, m]: .16e} {S[n, m]: .16e} {sC[n, m]: .16e} {sS[n, m]: .16e} "
                       f"{e0} {e1} {'yy' if n > 1 else 'nn'}nn")
    return write_text_file(path, "\n".join(out) + "\n")
