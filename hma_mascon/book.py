"""The executable book: parameters, provenance, a solution cache, and the ``book`` command.

The heavy lifting is done by existing tools: papermill executes the notebooks with injected
parameters, Jupyter Book (Sphinx, MyST-NB) renders them to HTML with execution turned off, and
MathJax 3, taken from the npm registry into a cache directory at build time, renders the math
offline. Written by hand here, because no tool does it for this book:

* :func:`validate_parameters` -- one schema (:data:`PARAMETER_SCHEMA`) for every notebook's
  ``parameters`` cell. papermill injects what a person typed on the command line, so values are
  coerced (``"450"``, ``"450 km"``, ``"GCV"`` all work) and wrong ones fail fast, naming the
  parameter, the value and what is accepted;
* :func:`setup_notebook` -- the first code cell after ``parameters``: validates the notebook's
  globals, resolves the data directory and shows the provenance banner;
* :func:`provenance_banner` -- which data built the page (synthetic seed, or the real data
  directory and the substitutes it holds), the parameters, the package version and commit;
* :func:`cached` -- one solution shared by all notebooks, stored under a key that hashes the
  parameters, the package version *and source*, and the identity of the input data, so an entry
  is never silently stale;
* :func:`run_book` / ``hma-mascon book`` -- stage the book, run the notebooks of ``_toc.yml``
  with papermill, install MathJax locally, build the HTML, and check that no page references a
  network resource (:func:`find_external_urls`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from . import __version__

__all__ = [
    "PARAMETER_SCHEMA", "Parameter", "ParameterError", "validate_parameters", "parse_assignments",
    "setup_notebook", "BookParameters", "provenance_banner", "git_commit", "resolve_book_data_dir",
    "cached", "cached_solution", "cache_key", "data_identity", "source_fingerprint", "default_cache_dir",
    "run_book", "BookResult", "execute_notebook", "toc_files", "toc_notebooks", "install_mathjax",
    "find_external_urls", "strip_external_links", "register_cli",
]

# ----------------------------------------------------------------------------------------------
# Parameter schema and validation
# ----------------------------------------------------------------------------------------------


class ParameterError(ValueError):
    """A book parameter has a wrong type or value."""


@dataclass(frozen=True)
class Parameter:
    """One book parameter.

    Attributes
    ----------
    kind : {"str", "choice", "int", "float", "month", "path"}
    default : object
    choices : tuple of str, optional
        Accepted values of a ``"choice"`` (matched case-insensitively, returned as spelled here).
    minimum, maximum : float, optional
        Inclusive bounds of a number.
    unit : str, optional
        Unit of a number; a value typed with this unit (``"450 km"``) is accepted.
    doc : str
    """

    kind: str
    default: Any
    doc: str
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None
    nullable: bool = False


#: The parameters every notebook of the book understands (METHODS.md section numbers in ``doc``).
PARAMETER_SCHEMA: dict[str, Parameter] = {
    "data": Parameter("choice", "synthetic", "input data: the synthetic world (known truth) or a real "
                      "data directory", choices=("synthetic", "real")),
    "data_dir": Parameter("path", None, "data directory (real data, or where the synthetic world is "
                          "written); default HMA_MASCON_DATA or the synthetic world", nullable=True),
    "seed": Parameter("int", 20240101, "random seed of the synthetic world and of noise draws",
                      minimum=0, maximum=2**32 - 1),
    "period_start": Parameter("month", "2002-04", "first month used (YYYY-MM), section 2"),
    "period_end": Parameter("month", "2023-08", "last month used (YYYY-MM), section 2"),
    "altitude_km": Parameter("float", 450.0, "altitude H of the observation sphere above a_s, "
                             "section 3 [AMB-2]", minimum=100.0, maximum=1000.0, unit="km"),
    "nmax": Parameter("int", 96, "maximum spherical-harmonic degree, section 4", minimum=2, maximum=180),
    "kind": Parameter("choice", "radial", "observation type, section 4",
                      choices=("radial", "potential", "3d")),
    "prior_rule": Parameter("choice", "B", "prior-variance combination rule, section 7 [AMB-6]",
                            choices=("A", "B", "C")),
    "sigma_floor_m": Parameter("float", 0.01, "prior RMS floor, section 7 [AMB-7]", minimum=0.0,
                               maximum=10.0, unit="m"),
    "alpha_method": Parameter("choice", "mse", "regularization-parameter choice, section 8",
                              choices=("mse", "gcv", "vce", "lcurve")),
    "P_mode": Parameter("choice", "mean", "weight matrix from mean, per-mission or monthly error "
                        "variances, section 6", choices=("mean", "mission", "monthly")),
    "lon_min": Parameter("float", 65.0, "region box, west edge, section 3", minimum=-180.0,
                         maximum=360.0, unit="deg"),
    "lon_max": Parameter("float", 105.0, "region box, east edge", minimum=-180.0, maximum=360.0,
                         unit="deg"),
    "lat_min": Parameter("float", 26.0, "region box, south edge", minimum=-90.0, maximum=90.0, unit="deg"),
    "lat_max": Parameter("float", 47.0, "region box, north edge", minimum=-90.0, maximum=90.0, unit="deg"),
    "mascon_step_deg": Parameter("float", 0.5, "mascon cell size, section 3", minimum=0.05,
                                 maximum=5.0, unit="deg"),
    "obs_step_deg": Parameter("float", 0.4, "observation grid spacing, section 3", minimum=0.05,
                              maximum=5.0, unit="deg"),
}

_ALIASES = {"mmse": "mse", "l-curve": "lcurve", "l_curve": "lcurve", "3-d": "3d", "gravity": "radial"}
_TRUE = {"none", "null", ""}


def _describe(p: Parameter) -> str:
    if p.kind == "choice":
        return "one of " + ", ".join(repr(c) for c in p.choices) + " (any case)"
    if p.kind in ("int", "float"):
        what = "an integer" if p.kind == "int" else "a number"
        unit = f" [{p.unit}] (the unit may be typed, e.g. '{p.default} {p.unit}')" if p.unit else ""
        return f"{what} in [{p.minimum:g}, {p.maximum:g}]{unit}"
    if p.kind == "month":
        return "a month 'YYYY-MM' (or 'YYYY-MM-DD', or a decimal year like 2002.5)"
    if p.kind == "path":
        return "a directory path" + (" or None" if p.nullable else "")
    return "a string"


def _fail(name, value, p: Parameter, why: str = "") -> ParameterError:
    why = f" ({why})" if why else ""
    return ParameterError(f"book parameter {name!r} = {value!r} is not accepted{why}: expected {_describe(p)}")


def _coerce_number(name, value, p: Parameter):
    raw = value
    if isinstance(value, bool):
        raise _fail(name, raw, p, "a boolean is not a number")
    if isinstance(value, str):
        text = value.strip()
        if p.unit:
            m = re.fullmatch(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z°]+)", text)
            if m:
                unit = m.group(2)
                if unit.lower() not in (p.unit.lower(), "°" if p.unit == "deg" else p.unit.lower()):
                    raise _fail(name, raw, p, f"unit {unit!r}, expected {p.unit!r}")
                text = m.group(1)
        try:
            value = float(text)
        except ValueError:
            raise _fail(name, raw, p) from None
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise _fail(name, raw, p) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _fail(name, raw, p, "not finite")
    if p.kind == "int":
        if value != int(value):
            raise _fail(name, raw, p, "not a whole number")
        value = int(value)
    if p.minimum is not None and value < p.minimum or p.maximum is not None and value > p.maximum:
        raise _fail(name, raw, p, "out of range")
    return value


def _coerce_month(name, value, p: Parameter) -> str:
    raw = value
    if isinstance(value, (_dt.date, _dt.datetime)):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        year = int(value)
        month = int((float(value) - year) * 12) + 1
        if 1900 <= year <= 2100:
            return f"{year:04d}-{month:02d}"
        raise _fail(name, raw, p, "year out of range")
    if isinstance(value, str):
        text = value.strip()
        m = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-\d{1,2})?", text)
        if m and 1 <= int(m.group(2)) <= 12:
            return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}"
        if re.fullmatch(r"\d{4}(\.\d+)?", text):
            return _coerce_month(name, float(text), p)
    raise _fail(name, raw, p)


def _coerce(name: str, value, p: Parameter):
    if p.nullable and (value is None or (isinstance(value, str) and value.strip().lower() in _TRUE)):
        return None
    if value is None:
        raise _fail(name, value, p, "missing")
    if p.kind == "choice":
        if not isinstance(value, str):
            raise _fail(name, value, p, f"a {type(value).__name__}, not a string")
        key = value.strip().lower()
        key = _ALIASES.get(key, key)
        for choice in p.choices:
            if choice.lower() == key:
                return choice
        raise _fail(name, value, p)
    if p.kind in ("int", "float"):
        return _coerce_number(name, value, p)
    if p.kind == "month":
        return _coerce_month(name, value, p)
    if p.kind == "path":
        if not isinstance(value, (str, os.PathLike)):
            raise _fail(name, value, p, f"a {type(value).__name__}")
        return str(Path(os.path.expanduser(str(value))))
    if not isinstance(value, str):
        raise _fail(name, value, p, f"a {type(value).__name__}")
    return value


def validate_parameters(params: dict, schema: dict[str, Parameter] | None = None, *,
                        allow_unknown: bool = False) -> dict:
    """Check, coerce and complete book parameters.

    Parameters
    ----------
    params : dict
        Values as a person or papermill gives them (strings, ints, floats). Missing keys take the
        schema default.
    schema : dict of str to Parameter, optional
        Default :data:`PARAMETER_SCHEMA`.
    allow_unknown : bool
        Pass unknown keys through unchanged instead of failing.

    Returns
    -------
    dict
        Every schema parameter with a typed value (``float``, ``int``, canonical choice spelling,
        ``"YYYY-MM"`` months), in schema order.

    Raises
    ------
    ParameterError
        Naming the parameter, the value and what is accepted. Also for inconsistent pairs:
        ``lon_min < lon_max``, ``lat_min < lat_max``, ``period_start <= period_end``.
    """
    schema = PARAMETER_SCHEMA if schema is None else schema
    unknown = [k for k in params if k not in schema]
    if unknown and not allow_unknown:
        raise ParameterError(f"unknown book parameter(s) {unknown}; accepted: {', '.join(schema)}")
    out = {}
    for name, p in schema.items():
        out[name] = _coerce(name, params[name], p) if name in params else p.default
    for lo, hi in (("lon_min", "lon_max"), ("lat_min", "lat_max"), ("period_start", "period_end")):
        if lo in out and hi in out and out[lo] is not None and out[hi] is not None:
            if (out[lo] > out[hi]) or (out[lo] == out[hi] and not lo.startswith("period")):
                raise ParameterError(f"book parameters {lo!r} = {out[lo]!r} and {hi!r} = {out[hi]!r}: "
                                     f"{lo} must be smaller than {hi}")
    for name in unknown:
        out[name] = params[name]
    return out


def parse_assignments(items: list[str] | None) -> dict:
    """``["key=value", ...]`` (the ``-p`` options) -> dict of strings; fails on a missing ``=``."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"-p {item!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


# ----------------------------------------------------------------------------------------------
# Provenance
# ----------------------------------------------------------------------------------------------


def git_commit(path: str | Path | None = None) -> str:
    """The git commit of the package source (``+dirty`` with uncommitted changes), or ``"unknown"``.

    The environment variable ``HMA_MASCON_COMMIT`` (set by :func:`run_book` for its kernels)
    takes precedence.
    """
    if os.environ.get("HMA_MASCON_COMMIT"):
        return os.environ["HMA_MASCON_COMMIT"]
    path = Path(path or Path(__file__).parent)
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=path, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=path,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def _data_description(params: dict) -> tuple[str, list[str]]:
    """A one-line description of the input data and a list of 'substitute' notes."""
    data_dir = params.get("data_dir")
    if params.get("data", "synthetic") == "synthetic":
        where = f", written to <code>{html.escape(str(data_dir))}</code>" if data_dir else ""
        return (f"synthetic world (known truth), seed {params.get('seed')}{where}", [])
    notes = []
    ident = data_identity(data_dir) if data_dir else "unknown"
    try:  # the manifest names what each real dataset stands in for
        from . import datadir as _datadir  # noqa: PLC0415

        manifest = _datadir.load_manifest()
        entries = manifest.get("datasets", manifest) if isinstance(manifest, dict) else {}
        for key, entry in (entries.items() if isinstance(entries, dict) else []):
            if isinstance(entry, dict):
                sub = entry.get("stands_in_for") or entry.get("substitute_for")
                if sub:
                    notes.append(f"{key}: stands in for {sub}")
    except Exception:  # noqa: BLE001 - the banner must not fail on a missing manifest
        pass
    return (f"real data directory <code>{html.escape(str(data_dir))}</code> (identity {ident[:12]})", notes)


class Banner:
    """Rich display object (HTML and Markdown) returned by :func:`provenance_banner`."""

    def __init__(self, html_text: str, markdown_text: str):
        self.html = html_text
        self.markdown = markdown_text

    def _repr_html_(self):
        return self.html

    def _repr_markdown_(self):
        return self.markdown

    def __str__(self):
        return self.markdown


def provenance_banner(params: dict) -> Banner:
    """What built this page: the data, the parameters, the package version and commit.

    Parameters
    ----------
    params : dict
        Validated book parameters (:func:`validate_parameters` / :func:`setup_notebook`).

    Returns
    -------
    Banner
        Displays as an HTML box in a notebook (Markdown in plain front ends). It contains no
        external URL.
    """
    data_line, notes = _data_description(params)
    commit = git_commit()
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = "".join(f"<tr><td><code>{html.escape(str(k))}</code></td><td>{html.escape(repr(v))}</td></tr>"
                   for k, v in params.items())
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    note_html = f"<ul>{note_html}</ul>" if note_html else ""
    html_text = (
        '<div class="hma-provenance">'
        f"<p><strong>Built from:</strong> {data_line}. "
        f"<strong>hma-mascon</strong> {html.escape(__version__)}, commit <code>{html.escape(commit)}</code>, "
        f"Python {sys.version.split()[0]}, executed {now}.</p>{note_html}"
        f"<details><summary>Parameters</summary><table>{rows}</table></details></div>"
    )
    md_rows = "\n".join(f"| `{k}` | `{v!r}` |" for k, v in params.items())
    md_data = re.sub(r"</?code>", "`", data_line)
    md_notes = "".join(f"\n- {n}" for n in notes)
    markdown = (f"**Built from:** {md_data}. **hma-mascon** {__version__}, commit `{commit}`, "
                f"executed {now}.{md_notes}\n\n| parameter | value |\n|---|---|\n{md_rows}\n")
    return Banner(html_text, markdown)


# ----------------------------------------------------------------------------------------------
# Notebook set-up
# ----------------------------------------------------------------------------------------------


class BookParameters(dict):
    """Validated parameters; items are also attributes (``params.altitude_km``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(lon_min, lon_max, lat_min, lat_max)``."""
        return (self["lon_min"], self["lon_max"], self["lat_min"], self["lat_max"])


def resolve_book_data_dir(params: dict) -> str | None:
    """The data directory the notebooks read.

    Real data: ``data_dir`` or ``HMA_MASCON_DATA`` (it must exist). Synthetic: ``data_dir`` if
    given, else :func:`hma_mascon.synthetic.ensure_synthetic_data_dir` (the synthetic world,
    written on first use); ``None`` when that module is not available yet.
    """
    if params.get("data") == "real":
        path = params.get("data_dir") or os.environ.get("HMA_MASCON_DATA")
        if not path:
            raise ParameterError("book parameter 'data' = 'real' needs 'data_dir' (or HMA_MASCON_DATA)")
        if not Path(path).is_dir():
            raise ParameterError(f"book parameter 'data_dir' = {path!r}: no such directory")
        return str(Path(path).resolve())
    if params.get("data_dir"):
        return str(Path(params["data_dir"]).resolve())
    try:
        from .synthetic import ensure_synthetic_data_dir  # noqa: PLC0415
    except ImportError:
        return None
    import inspect  # noqa: PLC0415

    kwargs = {}
    if "seed" in inspect.signature(ensure_synthetic_data_dir).parameters:
        kwargs["seed"] = params.get("seed")
    return str(ensure_synthetic_data_dir(**kwargs))


def setup_notebook(namespace: dict, schema: dict[str, Parameter] | None = None, *, need_data: bool = True,
                   show_banner: bool = True) -> BookParameters:
    """First code cell after ``parameters``: validate, resolve the data and show provenance.

    Parameters
    ----------
    namespace : dict
        The notebook's ``globals()``; the schema's names are read from it (the ``parameters`` cell
        defines them, papermill overrides them), the typed values are written back.
    need_data : bool
        Resolve the data directory (writing the synthetic world if needed).
    show_banner : bool
        Display :func:`provenance_banner`.

    Returns
    -------
    BookParameters
    """
    schema = PARAMETER_SCHEMA if schema is None else schema
    given = {k: namespace[k] for k in schema if k in namespace}
    params = BookParameters(validate_parameters(given, schema))
    if need_data:
        params["data_dir"] = resolve_book_data_dir(params)
    namespace.update({k: params[k] for k in schema})
    # Progress bars in a rendered page: tqdm.auto falls back to text bars without ipywidgets and
    # warns about it; the text bar is what we want in a static book.
    import warnings  # noqa: PLC0415

    warnings.filterwarnings("ignore", message="IProgress not found")
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 110, "figure.autolayout": False})
    except ImportError:  # pragma: no cover
        pass
    if show_banner:
        try:
            from IPython.display import display  # noqa: PLC0415

            display(provenance_banner(params))
        except ImportError:  # pragma: no cover
            print(provenance_banner(params))
    return params


# ----------------------------------------------------------------------------------------------
# Cache
# ----------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$HMA_MASCON_CACHE`` or ``~/.cache/hma-mascon`` (the synthetic world's cache root too).

    :func:`run_book` points ``HMA_MASCON_CACHE`` of its kernels at ``<out>/_build/.hma_cache``.
    """
    return Path(os.environ.get("HMA_MASCON_CACHE") or Path.home() / ".cache" / "hma-mascon")


def source_fingerprint() -> str:
    """SHA-256 over the package's Python sources and shipped data (so code changes invalidate)."""
    root = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc",):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def data_identity(data_dir: str | Path | None) -> str:
    """Identity of a data directory: SHA-256 of its ``SHA256SUMS`` if present, else of the list of
    (relative path, size, modification time) of every file. ``"none"`` without a directory."""
    if not data_dir:
        return "none"
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {root} does not exist")
    h = hashlib.sha256()
    sums = root / "SHA256SUMS"
    if sums.is_file():
        h.update(b"SHA256SUMS\0" + sums.read_bytes())
        # files not listed in SHA256SUMS (e.g. written by the synthetic world) still count
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != "SHA256SUMS":
            st = path.stat()
            h.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cache_key(key_params: dict, *, data_dir: str | Path | None = None) -> tuple[str, dict]:
    """The key of a cache entry and the material hashed into it.

    Returns
    -------
    key : str
        Hex SHA-256 of the JSON of ``material``.
    material : dict
        ``params`` (``key_params``), ``version``, ``source`` (:func:`source_fingerprint`) and
        ``data`` (:func:`data_identity`).
    """
    material = {
        "params": json.loads(json.dumps(key_params, sort_keys=True, default=str)),
        "version": __version__,
        "source": source_fingerprint(),
        "data": data_identity(data_dir),
    }
    blob = json.dumps(material, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest(), material


def _is_xarray(obj) -> bool:
    try:
        import xarray as xr  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, (xr.Dataset, xr.DataArray))


def cached(key_params: dict, compute_fn: Callable[[], Any], *, name: str = "solution",
           data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
           verbose: bool = True):
    """Return ``compute_fn()``, computing it only when no valid cache entry exists.

    Entries live in ``cache_dir/<name>-<key[:16]>.{nc,pkl}`` with a ``.json`` sidecar holding the
    full key material. An entry is reused only when the sidecar's material equals the current one
    (parameters, package version, package source fingerprint, input-data identity), so a change
    to any of them recomputes, and a mismatching or unreadable entry is recomputed and replaced.

    Parameters
    ----------
    key_params : dict
        Everything the result depends on besides code and data (JSON-serialisable or ``str()``-able).
    compute_fn : callable
        No-argument function producing the result: an xarray Dataset/DataArray (stored as
        netCDF) or any picklable object.
    name : str
        Prefix of the file names.
    data_dir : path, optional
        Input data directory whose identity enters the key (defaults to ``key_params["data_dir"]``).
    cache_dir : path, optional
        Default :func:`default_cache_dir`.

    Returns
    -------
    object
        The (possibly cached) result.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if data_dir is None:
        data_dir = key_params.get("data_dir")
    key, material = cache_key(key_params, data_dir=data_dir)
    stem = cache_dir / f"{name}-{key[:16]}"
    meta_path = stem.with_suffix(".json")
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("material") == material and meta.get("key") == key:
                payload = stem.with_suffix(meta["format"])
                if meta["format"] == ".nc":
                    import xarray as xr  # noqa: PLC0415

                    opener = xr.open_dataarray if meta.get("type") == "DataArray" else xr.open_dataset
                    with opener(payload) as obj:
                        result = obj.load()
                else:
                    with open(payload, "rb") as fh:
                        result = pickle.load(fh)
                if verbose:
                    print(f"hma-mascon cache: reusing {payload.name}")
                return result
            if verbose:
                print(f"hma-mascon cache: {meta_path.name} does not match the current key; recomputing")
        except Exception as exc:  # noqa: BLE001 - a broken entry is recomputed, never trusted
            if verbose:
                print(f"hma-mascon cache: {meta_path.name} unusable ({exc}); recomputing")
    result = compute_fn()
    cache_dir.mkdir(parents=True, exist_ok=True)
    fmt = ".nc" if _is_xarray(result) else ".pkl"
    payload = stem.with_suffix(fmt)
    tmp = payload.with_name(payload.name + f".tmp{os.getpid()}")
    if fmt == ".nc":
        result.to_netcdf(tmp)
    else:
        with open(tmp, "wb") as fh:
            pickle.dump(result, fh)
    os.replace(tmp, payload)
    meta = {"key": key, "material": material, "format": fmt, "type": type(result).__name__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat()}
    tmp_meta = meta_path.with_name(meta_path.name + f".tmp{os.getpid()}")
    tmp_meta.write_text(json.dumps(meta, indent=1))
    os.replace(tmp_meta, meta_path)
    if verbose:
        print(f"hma-mascon cache: stored {payload.name}")
    return result


def cached_solution(params: dict, compute_fn: Callable[[], Any], *, name: str = "solution",
                    exclude: tuple[str, ...] = (), cache_dir: str | Path | None = None,
                    verbose: bool = True):
    """The one solution shared by the book's notebooks: :func:`cached` keyed by the parameters.

    Every book parameter enters the key (the period too: it sets the months and the reference
    mean of the anomalies) except the names in ``exclude``, plus the package version and source
    and the identity of ``params["data_dir"]``. A notebook that needs the solution calls
    ``hb.cached_solution(params, lambda: run_solution(...))``; the first notebook computes it, the
    others reuse it.
    """
    key = {k: v for k, v in params.items() if k not in exclude}
    return cached(key, compute_fn, name=name, data_dir=params.get("data_dir"), cache_dir=cache_dir,
                  verbose=verbose)


# ----------------------------------------------------------------------------------------------
# Building the book
# ----------------------------------------------------------------------------------------------

#: Where the book's source lives: the repository root holds _config.yml and _toc.yml.
BOOK_ROOT = Path(__file__).resolve().parents[1]

#: Files of MathJax 3 (npm package ``mathjax``, relative to its ``es5/``) copied into the book.
MATHJAX_FILES = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "a11y",
                 "ui", "sre")
MATHJAX_VERSION = "3.2.2"
MATHJAX_CDN = f"https://cdn.jsdelivr.net/npm/mathjax@{MATHJAX_VERSION}/es5/tex-mml-chtml.js"

_URL_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(["'])\s*((?:https?:)?//[^"']*)\2""", re.IGNORECASE)

#: Attribute values with http(s) that load nothing and are allowed in built HTML: XML namespace
#: declarations (``xmlns``/``xmlns:*`` on inline SVG/MathML) are identifiers, not resources.
URL_ALLOW_ATTRIBUTES = ("xmlns",)


def toc_files(root: str | Path = BOOK_ROOT, toc: str = "_toc.yml") -> list[str]:
    """Files of ``_toc.yml`` in reading order (paths relative to the book root, no suffix)."""
    path = Path(root) / toc
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the table of contents ({exc})") from exc
    if not isinstance(data, dict) or "root" not in data:
        raise ValueError(f"{path}: a table of contents needs a 'root' entry")
    out = [data["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                out.append(node["file"])
            for key in ("chapters", "sections", "parts"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk({k: v for k, v in data.items() if k != "root"})
    return out


def toc_notebooks(root: str | Path = BOOK_ROOT) -> list[Path]:
    """The notebooks (``.ipynb``) of the table of contents, relative to ``root``, in order."""
    root = Path(root)
    out = []
    for entry in toc_files(root):
        candidate = Path(entry)
        if candidate.suffix == "":
            candidate = candidate.with_suffix(".ipynb")
        if candidate.suffix == ".ipynb" and (root / candidate).is_file():
            out.append(candidate)
    return out


def install_mathjax(static_dir: str | Path, *, cache_dir: str | Path | None = None) -> bool:
    """Put MathJax 3 (from the npm registry, cached) into ``static_dir/mathjax``.

    Runs ``npm install mathjax@3`` into ``cache_dir`` (default ``~/.cache/hma-mascon/npm``) once,
    then copies ``es5/tex-mml-chtml.js`` and the fonts and extensions it loads. Returns False
    (and warns) when npm is not available and nothing is cached.
    """
    cache_dir = Path(cache_dir or os.environ.get("HMA_MASCON_NPM_CACHE")
                     or Path.home() / ".cache" / "hma-mascon" / "npm")
    es5 = cache_dir / "node_modules" / "mathjax" / "es5"
    if not (es5 / "tex-mml-chtml.js").is_file():
        npm = shutil.which("npm")
        if npm is None:
            warnings.warn("npm not found: the book's math uses the MathJax CDN (needs internet to view)",
                          stacklevel=2)
            return False
        cache_dir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache_dir),
                               f"mathjax@{MATHJAX_VERSION}"], capture_output=True, text=True)
        if proc.returncode != 0 or not (es5 / "tex-mml-chtml.js").is_file():
            warnings.warn(f"npm install mathjax failed ({proc.stderr.strip()[-300:]}); using the CDN",
                          stacklevel=2)
            return False
    target = Path(static_dir) / "mathjax"
    for rel in MATHJAX_FILES:
        src = es5 / rel
        dst = target / rel
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        elif src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return True


def find_external_urls(html_dir: str | Path, allow_attributes=URL_ALLOW_ATTRIBUTES) -> list[tuple]:
    """Every attribute in the built HTML whose value is an external URL.

    Returns
    -------
    list of (file, line, attribute, url)
        Empty when the book is fully offline. ``xmlns`` declarations are allowed (they load nothing).
    """
    hits = []
    for path in sorted(Path(html_dir).rglob("*.html")):
        for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for m in _URL_ATTR.finditer(line):
                attr = m.group(1).lower()
                if attr.split(":")[0] in allow_attributes:
                    continue
                hits.append((str(path), lineno, attr, m.group(3)))
    return hits


def strip_external_links(html_dir: str | Path) -> int:
    """Remove external ``href`` targets of plain hyperlinks (``<a>``), keeping the link text, and
    blank the unused sphinx-thebe CDN address.

    A last line of defence for links written in Markdown text (e.g. a DOI): the link is turned
    into text, so no page refers to the network. Returns the number of links changed.
    """
    anchor = re.compile(r"""<a\b([^>]*?)\shref\s*=\s*(["'])(?:https?:)?//[^"']*\2([^>]*)>""", re.IGNORECASE)
    # sphinx-thebe (always loaded by Jupyter Book) writes the URL of its CDN script into every page;
    # launch buttons are off, so it is never used: blank it.
    thebe = re.compile(r"""(THEBE_JS_URL\s*=\s*)(["'])(?:https?:)?//[^"']*\2""")
    count = 0
    for path in Path(html_dir).rglob("*.html"):
        text = path.read_text(errors="replace")
        new, n = anchor.subn(r'<a\1 class="hma-offline-link"\3>', text)
        new, n_thebe = thebe.subn(r'\1""', new)
        n += n_thebe
        if n:
            path.write_text(new)
            count += n
    return count


def _stage(root: Path, staged: Path) -> None:
    """Copy the book source (config, toc, ``book/``, the committed ``reproduction/`` ledgers) into ``staged``."""
    if staged.exists():
        shutil.rmtree(staged)
    staged.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, staged / name)
    ignore = shutil.ignore_patterns("_executed", ".ipynb_checkpoints", "__pycache__", "_build")
    shutil.copytree(root / "book", staged / "book", ignore=ignore)
    for extra in ("references.bib",):
        if (root / extra).is_file():
            shutil.copy2(root / extra, staged / extra)
    if (root / "reproduction").is_dir():  # committed real-data ledgers, shown in chapter 10
        shutil.copytree(root / "reproduction", staged / "reproduction")


def execute_notebook(source: Path, output: Path, parameters: dict, *, cwd: Path | None = None,
                     progress: bool = True, env: dict | None = None) -> None:
    """Run one notebook with papermill (kernel ``python3`` = this interpreter).

    Only the parameters that the notebook's ``parameters`` cell declares are injected (papermill
    would warn about each other one); a notebook without a ``parameters`` cell gets them all.
    """
    import papermill as pm  # noqa: PLC0415

    declared = pm.inspect_notebook(str(source))
    if declared:
        parameters = {k: v for k, v in parameters.items() if k in declared}
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        pm.execute_notebook(str(source), str(output), parameters=parameters, kernel_name="python3",
                            cwd=str(cwd or source.parent), progress_bar=progress, log_output=False)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class BookResult:
    """What :func:`run_book` produced."""

    executed_dir: Path
    html_dir: Path | None
    notebooks: list[Path] = field(default_factory=list)
    mathjax_local: bool = False
    stripped_links: int = 0


def run_book(*, data_dir: str | Path | None = None, parameters: dict | None = None,
             only: str | None = None, out_dir: str | Path | None = None, build_html: bool = True,
             root: str | Path = BOOK_ROOT, progress: bool = True) -> BookResult:
    """Execute the notebooks of ``_toc.yml`` with papermill and build the HTML book.

    Steps: validate ``parameters``; stage the book source into ``out_dir/_build/_executed``;
    run each notebook there (papermill injects the validated parameters; the kernels share one
    cache directory, ``out_dir/_build/.hma_cache``, so a solution is computed once); install
    MathJax locally and set ``mathjax_path`` in the staged ``_config.yml``; run
    ``jupyter-book build`` (execution off: the executed copies are rendered) into
    ``out_dir/_build/html``; turn remaining external hyperlinks into text; fail if any page still
    refers to an external URL.

    Parameters
    ----------
    data_dir : path, optional
        Real data directory (sets ``data="real"``); default: the synthetic world.
    parameters : dict, optional
        Book parameters (strings accepted), see :data:`PARAMETER_SCHEMA`.
    only : str, optional
        Run just the notebooks whose file name contains this text; the others keep their executed
        copies from an earlier run (or are rendered unexecuted).
    out_dir : path, optional
        Output root (default: the book root); artefacts go to ``out_dir/_build``.
    build_html : bool
        Build the HTML after executing.

    Returns
    -------
    BookResult
    """
    root = Path(root).resolve()
    params = dict(parameters or {})
    if data_dir is not None:
        params.setdefault("data", "real")
        params["data_dir"] = str(data_dir)
    params = validate_parameters(params)
    resolved = resolve_book_data_dir(params)
    params["data_dir"] = resolved
    build = Path(out_dir).resolve() / "_build" if out_dir else root / "_build"
    staged = build / "_executed"
    notebooks = toc_notebooks(root)
    if only:
        chosen = [nb for nb in notebooks if only in nb.name]
        if not chosen:
            raise ValueError(f"--only {only!r}: no notebook of _toc.yml matches; have "
                             f"{[nb.name for nb in notebooks]}")
        # keep the executed copies of the other notebooks from an earlier run
        kept = {nb: (staged / nb).read_bytes() for nb in notebooks
                if nb not in chosen and (staged / nb).is_file()}
        notebooks = chosen
    else:
        kept = {}
    _stage(root, staged)
    for nb, content in kept.items():
        (staged / nb).write_bytes(content)
    env = {"HMA_MASCON_CACHE": str(build / ".hma_cache"), "HMA_MASCON_COMMIT": git_commit(root),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    inject = {k: v for k, v in params.items() if v is not None}
    for i, nb in enumerate(notebooks, 1):
        if progress:
            print(f"[{i}/{len(notebooks)}] executing {nb}", flush=True)
        src = staged / nb
        execute_notebook(src, src, inject, cwd=src.parent, progress=progress, env=env)
    # Markdown pages execute nothing: they get the banner of this build appended as raw HTML.
    banner = provenance_banner(params)
    for entry in toc_files(staged):
        page = staged / f"{entry}.md"
        if page.is_file():
            page.write_text(page.read_text().rstrip() + "\n\n" + banner.html + "\n")
    result = BookResult(executed_dir=staged, html_dir=None, notebooks=notebooks)
    if not build_html:
        return result
    static = staged / "book" / "_static"
    result.mathjax_local = install_mathjax(static)
    config_path = staged / "_config.yml"
    config = yaml.safe_load(config_path.read_text())
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["mathjax_path"] = "mathjax/tex-mml-chtml.js" if result.mathjax_local else MATHJAX_CDN
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    if progress:
        print("building the HTML with jupyter-book (execution off)", flush=True)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(staged), "--path-output", str(build.parent),
           "--all"]
    if not progress:
        cmd.append("-q")
    proc = subprocess.run(cmd, capture_output=not progress, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode})"
                           + (f":\n{(proc.stdout or '')[-3000:]}{(proc.stderr or '')[-3000:]}" if not progress else ""))
    html_dir = build / "html"
    result.html_dir = html_dir
    result.stripped_links = strip_external_links(html_dir)
    hits = find_external_urls(html_dir)
    if hits and result.mathjax_local:
        listing = "\n".join(f"  {f}:{n}: {a}={u}" for f, n, a, u in hits[:20])
        raise RuntimeError(f"the built book refers to {len(hits)} external URL(s):\n{listing}")
    if progress:
        print(f"book: {html_dir / 'index.html'}", flush=True)
    return result


def register_cli(subparsers) -> None:
    """Add ``hma-mascon book`` to the command line."""
    p = subparsers.add_parser("book", help="run the notebooks and build the HTML book",
                              description="Execute the book's notebooks with papermill and build the "
                              "HTML with Jupyter Book. The data: --data-dir, else HMA_MASCON_DATA, else "
                              "the synthetic world (--synthetic forces it).")
    p.add_argument("--data-dir", default=None,
                   help="real data directory (default: $HMA_MASCON_DATA if set, else the synthetic world)")
    p.add_argument("--synthetic", action="store_true",
                   help="build on the synthetic world even when HMA_MASCON_DATA is set")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="book parameter, repeatable (e.g. -p altitude_km=400 -p alpha_method=gcv)")
    p.add_argument("--only", default=None, metavar="NOTEBOOK", help="run only this notebook")
    p.add_argument("--out", default=None, metavar="DIR", help="output root; artefacts in DIR/_build")
    p.add_argument("--no-html", action="store_true", help="execute the notebooks only")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(func=_cli_book)


def _cli_book(args) -> int:
    data_dir = args.data_dir
    if data_dir is None and not args.synthetic:
        data_dir = os.environ.get("HMA_MASCON_DATA") or None
    if args.synthetic and args.data_dir is not None:
        raise ParameterError("--synthetic and --data-dir exclude each other")
    print(f"hma-mascon book: data = {data_dir or 'synthetic world'}")
    result = run_book(data_dir=data_dir, parameters=parse_assignments(args.param), only=args.only,
                      out_dir=args.out, build_html=not args.no_html)
    print(f"executed notebooks: {result.executed_dir}")
    return 0
