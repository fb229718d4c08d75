"""SHA-256 of input files, hashed once and cached by (path, size, times, inode).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Iterable

from ..safeio import atomic_write_text
from .manifest import (
    CACHE_ENV_VAR,
)

_SHA256_CACHE = "sha256-cache.json"


class ChecksumMismatchWarning(UserWarning):
    """A data file's SHA-256 differs from the one recorded in the manifest."""


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file (streamed)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def user_cache_dir() -> Path:
    """The user cache directory: ``$HMA_MASCON_CACHE`` or ``~/.cache/hma-mascon``."""
    return Path(os.environ.get(CACHE_ENV_VAR) or Path.home() / ".cache" / "hma-mascon")


def _file_identity(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def cached_file_sha256(paths: Iterable[str | os.PathLike],
                       cache_file: str | os.PathLike | None = None) -> dict[Path, str]:
    """SHA-256 of each file, hashed once and cached by path, size, time stamps and inode.

    Parameters
    ----------
    paths : iterable of path-like
        Existing files.
    cache_file : path-like, optional
        JSON cache (default ``user_cache_dir() / "sha256-cache.json"``), written atomically; an
        absent or unreadable cache is rebuilt, an unwritable one only costs time (RuntimeWarning).

    Returns
    -------
    dict of Path to str
        Hex digest per path (keys as given). An entry is reused only when the file's size,
        modification time, change time (ns) and inode all equal the cached ones.
    """
    paths = [Path(p) for p in paths]
    cache_file = Path(cache_file) if cache_file is not None else user_cache_dir() / _SHA256_CACHE
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
        if not isinstance(cache, dict):
            cache = {}
    except (OSError, ValueError):
        cache = {}  # absent or unreadable cache: hash again
    out, changed = {}, False
    for path in paths:
        key = str(path.resolve())
        ident = _file_identity(path)
        hit = cache.get(key)
        if isinstance(hit, dict) and hit.get("identity") == ident and isinstance(hit.get("sha256"), str):
            out[path] = hit["sha256"]
            continue
        out[path] = file_sha256(path)
        cache[key] = {"identity": ident, "sha256": out[path]}
        changed = True
    if changed:
        try:
            atomic_write_text(cache_file, json.dumps(cache, indent=0, sort_keys=True))
        except OSError as exc:  # a read-only cache costs time, not correctness
            warnings.warn(f"{cache_file}: checksum cache not written ({exc})", RuntimeWarning, stacklevel=3)
    return out
