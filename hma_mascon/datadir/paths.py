"""The data directory (``--data-dir`` / ``HMA_MASCON_DATA``) and the files of a manifest entry in it.
"""

from __future__ import annotations

import fnmatch
import os
import warnings
from pathlib import Path
from typing import Iterable, Mapping

from .hashing import ChecksumMismatchWarning, file_sha256
from .manifest import (
    ENV_VAR,
    SYNTHETIC_MARKER,
    DatasetEntry,
    DatasetNotFoundError,
    manifest_entry,
)


def resolve_data_dir(
    data_dir: str | os.PathLike | None = None,
    default: str | os.PathLike | None = None,
    must_exist: bool = True,
) -> Path:
    """Return the data directory.

    Precedence: the explicit ``data_dir`` argument, then the environment variable
    ``HMA_MASCON_DATA``, then ``default`` (e.g. the synthetic-world cache directory).

    Parameters
    ----------
    data_dir : path-like, optional
        Explicit directory (``--data-dir`` on the command line).
    default : path-like, optional
        Fallback when neither the argument nor the environment variable is set.
    must_exist : bool
        Raise when the directory does not exist (set False before creating it).

    Raises
    ------
    FileNotFoundError
        when no directory is named (the message names both ways to set it) or it does not exist.
    NotADirectoryError
        when the path exists but is not a directory.
    """
    if data_dir is not None and str(data_dir) != "":
        path, origin = Path(data_dir), "the data_dir argument / --data-dir"
    elif os.environ.get(ENV_VAR):
        path, origin = Path(os.environ[ENV_VAR]), f"the environment variable {ENV_VAR}"
    elif default is not None:
        path, origin = Path(default), "the default data directory"
    else:
        raise FileNotFoundError(
            "no data directory given: pass --data-dir DIR (data_dir= in Python) or set the "
            f"environment variable {ENV_VAR}=DIR (e.g. the real-data mirror ../shared/data, or the "
            "directory written by `hma-mascon synthetic`)"
        )
    path = path.expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} (from {origin}) is not a directory")
    if must_exist and not path.is_dir():
        raise FileNotFoundError(f"data directory {path} (from {origin}) does not exist")
    return path


def glob_files(root: Path, patterns: Iterable[str]) -> list[Path]:
    found: set[Path] = set()
    for pattern in patterns:
        found.update(p for p in root.glob(pattern) if p.is_file())
    return sorted(found)


def relative_path(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def not_found_error(entry: DatasetEntry, root: Path, patterns: Iterable[str]) -> DatasetNotFoundError:
    looked = ", ".join(str(root / p) for p in patterns)
    return DatasetNotFoundError(
        f"dataset {entry.name!r} ({entry.title}) not found: looked for {looked}; {entry.where_to_get()}"
    )


def dataset_files(
    name: str,
    data_dir: str | os.PathLike | None = None,
    required: bool = True,
    verify: bool = False,
    match: str | None = None,
    manifest: Mapping[str, DatasetEntry] | None = None,
) -> list[Path]:
    """Sorted files of a dataset in the data directory.

    Parameters
    ----------
    name : str
        Manifest entry name, e.g. ``"csr_rl06_gsm"``.
    data_dir : path-like, optional
        Data directory (see :func:`resolve_data_dir`).
    required : bool
        Raise :class:`DatasetNotFoundError` when nothing matches (else return ``[]``).
    verify : bool
        Check SHA-256 of the files against the manifest and emit a
        :class:`ChecksumMismatchWarning` listing every mismatch.
    match : str, optional
        fnmatch pattern applied to the file name (or the relative path), selecting part of a
        multi-pattern dataset, e.g. ``match="rgi_wgms_links*"`` in ``wgms_insitu``.
    manifest : mapping, optional
        Manifest entries (default :func:`load_manifest`).
    """
    entry = manifest_entry(name, manifest)
    root = resolve_data_dir(data_dir)
    files = glob_files(root, entry.path)
    if match is not None:
        files = [
            f for f in files
            if fnmatch.fnmatch(f.name, match) or fnmatch.fnmatch(relative_path(f, root), match)
        ]
    if not files and required:
        patterns = entry.path if match is None else [f"{p} (matching {match!r})" for p in entry.path]
        raise not_found_error(entry, root, patterns)
    if verify and files:
        warn_mismatches(entry, root, files)
    return files


def dataset_path(
    name: str,
    data_dir: str | os.PathLike | None = None,
    verify: bool = False,
    manifest: Mapping[str, DatasetEntry] | None = None,
) -> Path:
    """Path of a single-file dataset (the file matching the entry's first, primary pattern).

    Raises
    ------
    DatasetNotFoundError
        when the file is absent (names the dataset, the path and where to get it).
    ValueError
        when the primary pattern matches several files (use :func:`dataset_files`).
    """
    entry = manifest_entry(name, manifest)
    root = resolve_data_dir(data_dir)
    files = glob_files(root, entry.path[:1])
    if not files:
        raise not_found_error(entry, root, entry.path[:1])
    if len(files) > 1:
        raise ValueError(
            f"dataset {name!r}: pattern {entry.path[0]!r} matches {len(files)} files in {root} "
            f"({files[0].name}, ...); use dataset_files({name!r})"
        )
    if verify:
        warn_mismatches(entry, root, files)
    return files[0]


def dataset_exists(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """True when the data directory holds at least one file of manifest entry ``name``."""
    return bool(dataset_files(name, data_dir, required=False))


def is_synthetic(data_dir: str | os.PathLike | None) -> bool:
    """True when ``data_dir`` is a synthetic world (it holds :data:`SYNTHETIC_MARKER`); the one test
    of "is this the synthetic world?" used everywhere."""
    return data_dir is not None and (Path(data_dir) / SYNTHETIC_MARKER).is_file()


def warn_mismatches(entry: DatasetEntry, root: Path, files: list[Path]) -> None:
    if not entry.sha256:
        warnings.warn(
            f"dataset {entry.name!r}: no checksums recorded in the manifest; {len(files)} file(s) "
            f"in {root} not verified",
            ChecksumMismatchWarning,
            stacklevel=3,
        )
        return
    bad = []
    for path in files:
        expected = entry.sha256.get(relative_path(path, root))
        if expected is not None and (actual := file_sha256(path)) != expected:
            bad.append(f"{path}: expected {expected}, got {actual}")
    if bad:
        warnings.warn(
            f"dataset {entry.name!r}: {len(bad)} file(s) differ from the manifest checksums:\n  "
            + "\n  ".join(bad),
            ChecksumMismatchWarning,
            stacklevel=3,
        )
