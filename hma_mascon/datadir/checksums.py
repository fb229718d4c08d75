"""Checksums of the inputs against the manifest: :func:`verify_checksums` per dataset and
:func:`verify_inputs` for the files a solve reads (refused on a mismatch unless allowed).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..io_grace import MalformedFileError
from .hashing import ChecksumMismatchWarning, cached_file_sha256, file_sha256
from .manifest import (
    SYNTHETIC_MARKER,
    DatasetEntry,
    load_manifest,
    manifest_entry,
)
from .paths import glob_files, relative_path, resolve_data_dir


class InputChecksumError(MalformedFileError):
    """Input files whose SHA-256 differs from the manifest's (raised by :func:`verify_inputs`).

    The message names every mismatching file with the expected and the found digest;
    ``mismatches`` holds ``(path, expected, found)`` tuples, ``path`` the first file.
    """

    def __init__(self, mismatches):
        self.mismatches = [(Path(p), e, f) for p, e, f in mismatches]
        listing = "\n  ".join(f"{p}: expected sha256 {e}, found {f}" for p, e, f in self.mismatches)
        self.path, self.line = str(self.mismatches[0][0]), None
        self.problem = (
            f"{len(self.mismatches)} input file(s) differ from the checksums recorded in the manifest "
            f"(modified or corrupt data):\n  {listing}\nrestore them from the mirror or a download "
            "(`hma-mascon data status` lists every mismatch), or pass allow_modified_inputs=True "
            "(--allow-modified-inputs) to use them anyway")
        ValueError.__init__(self, self.problem)


def verify_checksums(
    name: str,
    data_dir: str | os.PathLike | None = None,
    manifest: Mapping[str, DatasetEntry] | None = None,
    progress: Any = None,
) -> list[tuple[Path, str, str]]:
    """Compare the dataset's files with the SHA-256 digests recorded in the manifest.

    Only files present in the data directory and listed in the manifest are hashed (absent
    files are reported by :func:`data_status`; a dataset without recorded checksums gives ``[]``).

    Parameters
    ----------
    progress : tqdm-like, optional
        Object with ``update(n)``, advanced once per hashed file.

    Returns
    -------
    list of (Path, str, str)
        ``(file, expected digest, actual digest)`` for every mismatch; empty when all match.
    """
    entry = manifest_entry(name, manifest)
    root = resolve_data_dir(data_dir)
    if not entry.sha256:
        return []
    mismatches = []
    for path in glob_files(root, entry.path):
        expected = entry.sha256.get(relative_path(path, root))
        if expected is None:
            continue
        actual = file_sha256(path)
        if progress is not None:
            progress.update(1)
        if actual != expected:
            mismatches.append((path, expected, actual))
    return mismatches


def verify_inputs(
    paths: Iterable[str | os.PathLike],
    data_dir: str | os.PathLike | None = None,
    *,
    datasets: Iterable[str] = (),
    allow_modified: bool = False,
    manifest: Mapping[str, DatasetEntry] | None = None,
    cache_file: str | os.PathLike | None = None,
) -> dict[str, str]:
    """Check the files a computation reads against the manifest's SHA-256 checksums.

    Each file is hashed once; the digest is cached in a small JSON file under the user cache
    directory (:func:`user_cache_dir`, ``sha256-cache.json``, written atomically) keyed by the
    file's absolute path, size, modification and change time stamps (ns) and inode, so a later
    call re-hashes only files that changed (a rewrite that restores the size and modification
    time still changes the change time).

    A file is compared when its path relative to ``data_dir`` has a checksum in the manifest;
    files without one (user-supplied data, generated grids, files outside ``data_dir``) pass and
    are only recorded. A synthetic data directory (it holds ``hma_synthetic.json``) is not in the
    manifest's checksums: its files pass (no expected checksum), even where their names equal
    the real mirror's.

    Parameters
    ----------
    paths : iterable of path-like
        Files to check (absolute, or relative to the current directory).
    data_dir : path-like, optional
        The data directory the relative manifest paths refer to (see :func:`resolve_data_dir`).
    datasets : iterable of str
        Names of manifest datasets whose files present in ``data_dir`` are checked as well.
    allow_modified : bool
        Warn (:class:`ChecksumMismatchWarning`) instead of raising on a mismatch.
    manifest : mapping, optional
        Manifest entries (default :func:`load_manifest`).
    cache_file : path-like, optional
        Checksum cache (default ``user_cache_dir() / "sha256-cache.json"``).

    Returns
    -------
    dict of str to str
        SHA-256 hex digest of every file, keyed by its path relative to ``data_dir`` (POSIX) or,
        outside it, by its absolute path; in the order given (duplicates once).

    Raises
    ------
    InputChecksumError
        naming every mismatching file with the expected and the found digest (unless
        ``allow_modified``).
    FileNotFoundError
        when a path does not exist.
    """
    entries = load_manifest() if manifest is None else manifest
    root = resolve_data_dir(data_dir)
    files = [Path(p) for p in paths]
    for name in datasets:
        files += glob_files(root, manifest_entry(name, entries).path)
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"{f}: input file not found")
    files = list(dict.fromkeys(f.absolute() for f in files))
    synthetic = (root / SYNTHETIC_MARKER).is_file()
    expected_by_rel = {} if synthetic else {
        rel: digest for e in entries.values() for rel, digest in (e.sha256 or {}).items()}
    digests = cached_file_sha256(files, cache_file)
    root_abs = root.resolve()
    out, bad = {}, []
    for f in files:
        try:
            key = f.resolve().relative_to(root_abs).as_posix()
        except ValueError:
            key = str(f)
        out[key] = digests[f]
        expected = expected_by_rel.get(key)
        if expected is not None and expected != digests[f]:
            bad.append((f, expected, digests[f]))
    if bad:
        err = InputChecksumError(bad)
        if not allow_modified:
            raise err
        warnings.warn(f"allow_modified_inputs: using modified inputs. {err}", ChecksumMismatchWarning, stacklevel=2)
    return out
