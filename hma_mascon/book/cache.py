"""The book's cache: one solution shared by all notebooks, never silently stale.

An entry's key hashes the parameters, the package version *and source*
(:func:`source_fingerprint`) and the identity of the input data (:func:`data_identity`), so a
changed parameter, a changed line of the package or a changed data directory makes a new entry.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import pickle
from pathlib import Path
from typing import Any, Callable

import xarray as xr

from .. import __version__
from ..datadir import cached_file_sha256
from ..safeio import atomic_path, atomic_write_text, exclusive_lock

#: seconds a notebook waits for another process computing the same cache entry
LOCK_WAIT_S = 6 * 3600.0

#: cache messages go to this logger (INFO), not into the rendered pages (issue 12)
logger = logging.getLogger(__name__)

__all__ = ["default_cache_dir", "source_fingerprint", "data_identity", "cache_key", "cached", "cached_solution"]


def default_cache_dir() -> Path:
    """``$HMA_MASCON_CACHE`` or ``~/.cache/hma-mascon`` (the synthetic world's cache root too).

    :func:`run_book` points ``HMA_MASCON_CACHE`` of its kernels at ``<out>/_build/.hma_cache``.
    """
    return Path(os.environ.get("HMA_MASCON_CACHE") or Path.home() / ".cache" / "hma-mascon")


def source_fingerprint() -> str:
    """SHA-256 over the package's Python sources and shipped data (so code changes invalidate)."""
    root = Path(__file__).resolve().parents[1]  # the hma_mascon package
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc",):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def data_identity(data_dir: str | Path | None) -> str:
    """Identity of a data directory: SHA-256 over the relative path and the *content* hash of every file.

    The content hashes come from :func:`hma_mascon.datadir.cached_file_sha256`: each file is hashed
    once and re-hashed when its size, modification time, change time or inode differs, so a byte
    changed in place (even with the size and modification time put back) gives a new identity and
    hence a new solution. ``"none"`` without a directory.
    """
    if not data_dir:
        return "none"
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"data directory {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith((".tmp-", ".old-"))
                   and not p.name.endswith(".lock"))
    digests = cached_file_sha256(files)
    h = hashlib.sha256()
    for path in files:
        h.update(f"{path.relative_to(root)}\0{digests[path]}\n".encode())
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
    return isinstance(obj, (xr.Dataset, xr.DataArray))


def cached(key_params: dict, compute_fn: Callable[[], Any], *, name: str = "solution",
           data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
           verbose: bool = True):
    """Return ``compute_fn()``, computing it only when no valid cache entry exists.

    Entries live in ``cache_dir/<name>-<key[:16]>.{nc,pkl}`` with a ``.json`` sidecar holding the
    full key material. An entry is reused only when the sidecar's material equals the current one
    (parameters, package version, package source fingerprint, input-data identity), so a change
    to any of them recomputes, and a mismatching or unreadable entry is recomputed and replaced.
    Entries are written atomically (:func:`hma_mascon.safeio.atomic_path`) under a lock file per
    entry: a second process asking for the same entry waits for the first and reuses its result.

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
    # one writer per entry: a second process computing the same entry waits, then reuses it
    with exclusive_lock(meta_path, timeout=LOCK_WAIT_S):
        hit = _load_entry(stem, meta_path, key, material, verbose)
        if hit is not None:
            return hit[0]
        result = compute_fn()
        fmt = ".nc" if _is_xarray(result) else ".pkl"
        payload = stem.with_suffix(fmt)
        with atomic_path(payload) as tmp:
            if fmt == ".nc":
                result.to_netcdf(tmp)
            else:
                with open(tmp, "wb") as fh:
                    pickle.dump(result, fh)
        meta = {"key": key, "material": material, "format": fmt, "type": type(result).__name__,
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat()}
        atomic_write_text(meta_path, json.dumps(meta, indent=1))
    if verbose:
        logger.info(f"hma-mascon cache: stored {payload.name}")
    return result


def _load_entry(stem: Path, meta_path: Path, key: str, material: dict, verbose: bool):
    """``(result,)`` of a valid entry, or None (absent, mismatching or unreadable: recompute)."""
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("material") == material and meta.get("key") == key:
            payload = stem.with_suffix(meta["format"])
            if meta["format"] == ".nc":
                opener = xr.open_dataarray if meta.get("type") == "DataArray" else xr.open_dataset
                with opener(payload) as obj:
                    result = obj.load()
            else:
                with open(payload, "rb") as fh:
                    result = pickle.load(fh)
            if verbose:
                logger.info(f"hma-mascon cache: reusing {payload.name}")
            return (result,)
        if verbose:
            logger.info(f"hma-mascon cache: {meta_path.name} does not match the current key; recomputing")
    except Exception as exc:  # noqa: BLE001 - a broken entry is recomputed, never trusted
        if verbose:
            logger.info(f"hma-mascon cache: {meta_path.name} unusable ({exc}); recomputing")
    return None


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
