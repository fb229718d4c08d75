"""Data directory, dataset manifest, checksums and downloads.

Every input of the method is described once, in ``data_manifest.yml`` at the repository root: its
role in the method (METHODS.md section), source, licence, citation, where it lives inside a data
directory (a glob pattern relative to the directory, laid out like the offline mirror
``../shared/data``), its file format, per-file SHA-256 checksums, what it substitutes for in the
paper, whether the offline mirror holds it and a public anonymous download URL when one exists.
Code never hard-codes a data path: it asks :func:`dataset_path` / :func:`dataset_files` with the
manifest entry name, and an absent dataset raises :class:`DatasetNotFoundError` saying where to
get it.

Which library does what
-----------------------
* `PyYAML <https://pyyaml.org>`_ parses the manifest;
* :mod:`hashlib` hashes files (SHA-256, streamed);
* `pooch <https://www.fatiando.org/pooch>`_ downloads (:func:`pooch.retrieve`), checks the hash of the
  download before moving it into place and re-downloads a file whose hash is wrong;
* `pandas <https://pandas.pydata.org>`_ holds the status table and `tqdm` shows hashing progress.

Written by hand: the manifest schema and its validation, glob resolution in the data directory,
the data-directory precedence rule (argument > ``HMA_MASCON_DATA`` > caller's default), the status
report and the ``hma-mascon data`` command line, because they are specific to this project.

Checksums of the large multi-file datasets (231 CSR RL06 files, 214 ITSG-Grace2018 files, the
Lehmann et al. 2022 tables and basin masks) live in ``hma_mascon/data/checksums/<name>.sha256`` in
``sha256sum`` format (``<hex digest>  <path relative to the data directory>``), generated from the
mirror's ``SHA256SUMS``; small datasets list them inline in the manifest.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import pooch
import yaml
from tqdm.auto import tqdm

from .errors import InputError
from .io_grace import MalformedFileError
from .safeio import atomic_write_text

__all__ = [
    "ENV_VAR",
    "MANIFEST_KEYS",
    "CACHE_ENV_VAR",
    "ChecksumMismatchWarning",
    "cached_file_sha256",
    "InputChecksumError",
    "DatasetEntry",
    "DatasetNotFoundError",
    "ManifestError",
    "data_status",
    "dataset_exists",
    "dataset_files",
    "dataset_path",
    "is_synthetic",
    "SYNTHETIC_MARKER",
    "duplicate_months",
    "fetch_dataset",
    "file_sha256",
    "load_manifest",
    "manifest_path",
    "read_sha256sum_file",
    "register_cli",
    "resolve_data_dir",
    "user_cache_dir",
    "verify_checksums",
    "verify_inputs",
]

#: Environment variable naming the data directory.
ENV_VAR = "HMA_MASCON_DATA"

#: Keys every manifest entry must have (``name`` is the mapping key).
MANIFEST_KEYS = (
    "title",
    "role",
    "source",
    "licence",
    "citation",
    "path",
    "format",
    "sha256",
    "substitute_for",
    "obtainable_offline",
    "fetch_url",
    "required_by",
)

#: Environment variable naming the user cache directory (default ``~/.cache/hma-mascon``).
CACHE_ENV_VAR = "HMA_MASCON_CACHE"

MANIFEST_FILENAME = "data_manifest.yml"
SYNTHETIC_MARKER = "hma_synthetic.json"
_SHA256_CACHE = "sha256-cache.json"
_PACKAGE_DATA = Path(__file__).resolve().parent / "data"
_REPO_MANIFEST = Path(__file__).resolve().parents[1] / MANIFEST_FILENAME
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_GLOB_CHARS = set("*?[")
_SYNTHETIC_HINT = "not obtainable offline; run `hma-mascon synthetic` for a stand-in"


class DatasetNotFoundError(FileNotFoundError):
    """A manifest dataset is absent from the data directory.

    The message names the manifest entry, the path looked for and where to get the data.
    """


class ManifestError(InputError):
    """The manifest or a checksum file is malformed (the message names the file and the problem)."""


class ChecksumMismatchWarning(UserWarning):
    """A data file's SHA-256 differs from the one recorded in the manifest."""


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


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset of the manifest.

    Attributes mirror the manifest keys (see the header of ``data_manifest.yml``). ``path`` is a
    tuple of glob patterns relative to the data directory, the first being the primary file;
    ``sha256`` maps relative paths to hex digests (resolved from an inline mapping or a checksum
    file) or is None when unknown; ``sha256_source`` is what the manifest wrote.
    """

    name: str
    title: str
    role: str
    source: str
    licence: str
    citation: str
    path: tuple[str, ...]
    format: str
    sha256: Mapping[str, str] | None
    sha256_source: str | None
    substitute_for: str | None
    obtainable_offline: bool
    fetch_url: str | Mapping[str, str] | None
    required_by: tuple[str, ...]

    @property
    def expected_files(self) -> tuple[str, ...] | None:
        """Relative paths the dataset should contain, when known (from checksums or literal paths)."""
        if self.sha256:
            return tuple(sorted(self.sha256))
        if not any(_GLOB_CHARS & set(p) for p in self.path):
            return self.path
        return None

    def where_to_get(self) -> str:
        """One sentence saying where to obtain the dataset."""
        if self.fetch_url is not None:
            return (
                f"download it with `hma-mascon data fetch {self.name}` "
                f"(source: {self.source})"
            )
        if not self.obtainable_offline:
            return f"{_SYNTHETIC_HINT} (original: {self.source})"
        return f"get it from {self.source}"

    def urls(self) -> dict[str, str]:
        """Map relative paths to download URLs (empty when there is no ``fetch_url``)."""
        return _urls_for(self, self.fetch_url)


# --------------------------------------------------------------------------- manifest


def manifest_path() -> Path:
    """Path of the manifest: the repository root file, else the copy shipped in the package."""
    if _REPO_MANIFEST.is_file():
        return _REPO_MANIFEST
    return _PACKAGE_DATA / MANIFEST_FILENAME


def read_sha256sum_file(path: str | os.PathLike) -> dict[str, str]:
    """Read a ``sha256sum``-format file into ``{relative path: hex digest}``.

    Lines are ``<64 hex digits><space><space or *><path>``; a leading ``./`` of the path is
    dropped and blank lines are skipped.

    Raises
    ------
    ManifestError
        naming the file and line of a malformed record or a duplicated path.
    """
    path = Path(path)
    out: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(None, 1)
        digest = parts[0].lower()
        if len(parts) != 2 or not _HEX64.match(digest):
            raise ManifestError(f"{path}, line {lineno}: expected '<sha256 hex>  <path>', got {line!r}")
        rel = parts[1].strip().lstrip("*")
        rel = rel[2:] if rel.startswith("./") else rel
        if rel in out:
            raise ManifestError(f"{path}, line {lineno}: duplicate entry for {rel!r}")
        out[rel] = digest
    return out


def _resolve_sha256(spec: Any, name: str, manifest: Path) -> Mapping[str, str] | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        for base in (manifest.parent, _PACKAGE_DATA):
            candidate = base / spec
            if candidate.is_file():
                return read_sha256sum_file(candidate)
        raise ManifestError(
            f"{manifest}: dataset {name!r}: checksum file {spec!r} not found next to the manifest "
            f"or in {_PACKAGE_DATA}"
        )
    if isinstance(spec, Mapping):
        out = {}
        for rel, digest in spec.items():
            digest = str(digest).lower()
            if not _HEX64.match(digest):
                raise ManifestError(
                    f"{manifest}: dataset {name!r}: sha256 of {rel!r} is not 64 hex digits: {digest!r}"
                )
            out[str(rel)] = digest
        return out
    raise ManifestError(
        f"{manifest}: dataset {name!r}: sha256 must be a mapping, a checksum file name or null, "
        f"got {type(spec).__name__}"
    )


def _as_tuple(value: Any, key: str, name: str, manifest: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ManifestError(
        f"{manifest}: dataset {name!r}: {key!r} must be a string or a non-empty list of strings"
    )


def _parse_entry(name: str, raw: Any, manifest: Path) -> DatasetEntry:
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{manifest}: dataset {name!r} must be a mapping of keys")
    missing = [k for k in MANIFEST_KEYS if k not in raw]
    if missing:
        raise ManifestError(f"{manifest}: dataset {name!r} lacks key(s) {', '.join(missing)}")
    unknown = sorted(set(raw) - set(MANIFEST_KEYS))
    if unknown:
        raise ManifestError(f"{manifest}: dataset {name!r} has unknown key(s) {', '.join(unknown)}")
    if not isinstance(raw["obtainable_offline"], bool):
        raise ManifestError(f"{manifest}: dataset {name!r}: obtainable_offline must be true or false")
    paths = _as_tuple(raw["path"], "path", name, manifest)
    for p in paths:
        if Path(p).is_absolute() or ".." in Path(p).parts:
            raise ManifestError(f"{manifest}: dataset {name!r}: path {p!r} must be relative to the data directory")
    fetch_url = raw["fetch_url"]
    if fetch_url is not None and not isinstance(fetch_url, (str, Mapping)):
        raise ManifestError(f"{manifest}: dataset {name!r}: fetch_url must be a URL, a mapping or null")
    sha_spec = raw["sha256"]
    return DatasetEntry(
        name=name,
        title=str(raw["title"]),
        role=str(raw["role"]),
        source=str(raw["source"]),
        licence=str(raw["licence"]),
        citation=str(raw["citation"]),
        path=paths,
        format=str(raw["format"]),
        sha256=_resolve_sha256(sha_spec, name, manifest),
        sha256_source=sha_spec if isinstance(sha_spec, str) else ("inline" if sha_spec else None),
        substitute_for=raw["substitute_for"],
        obtainable_offline=raw["obtainable_offline"],
        fetch_url=dict(fetch_url) if isinstance(fetch_url, Mapping) else fetch_url,
        required_by=_as_tuple(raw["required_by"], "required_by", name, manifest),
    )


@functools.lru_cache(maxsize=8)
def _load_manifest_cached(path: str, mtime: float) -> dict[str, DatasetEntry]:
    manifest = Path(path)
    try:
        doc = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ManifestError(f"{manifest}{where}: invalid YAML: {exc}") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("datasets"), Mapping):
        raise ManifestError(f"{manifest}: expected a top-level mapping with a 'datasets' mapping")
    return {str(name): _parse_entry(str(name), raw, manifest) for name, raw in doc["datasets"].items()}


def load_manifest(path: str | os.PathLike | None = None) -> dict[str, DatasetEntry]:
    """Load the dataset manifest.

    Parameters
    ----------
    path : path-like, optional
        Manifest file; default :func:`manifest_path` (the repository's ``data_manifest.yml``, or
        the identical copy in ``hma_mascon/data/`` for an installed package).

    Returns
    -------
    dict of str to DatasetEntry
        Entries in manifest order, keyed by name.

    Raises
    ------
    ManifestError
        naming the file (and line) when the YAML, an entry or a checksum file is malformed.
    """
    manifest = Path(path) if path is not None else manifest_path()
    if not manifest.is_file():
        raise ManifestError(f"{manifest}: manifest file not found")
    manifest = manifest.resolve()
    return dict(_load_manifest_cached(str(manifest), manifest.stat().st_mtime))


def _entry(name: str, manifest: Mapping[str, DatasetEntry] | None) -> DatasetEntry:
    entries = load_manifest() if manifest is None else manifest
    try:
        return entries[name]
    except KeyError:
        raise KeyError(
            f"no dataset {name!r} in the manifest; known datasets: {', '.join(entries)}"
        ) from None


# --------------------------------------------------------------------------- data directory


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


def _glob(root: Path, patterns: Iterable[str]) -> list[Path]:
    found: set[Path] = set()
    for pattern in patterns:
        found.update(p for p in root.glob(pattern) if p.is_file())
    return sorted(found)


def _relpath(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _not_found(entry: DatasetEntry, root: Path, patterns: Iterable[str]) -> DatasetNotFoundError:
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
    entry = _entry(name, manifest)
    root = resolve_data_dir(data_dir)
    files = _glob(root, entry.path)
    if match is not None:
        files = [
            f for f in files
            if fnmatch.fnmatch(f.name, match) or fnmatch.fnmatch(_relpath(f, root), match)
        ]
    if not files and required:
        patterns = entry.path if match is None else [f"{p} (matching {match!r})" for p in entry.path]
        raise _not_found(entry, root, patterns)
    if verify and files:
        _warn_mismatches(entry, root, files)
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
    entry = _entry(name, manifest)
    root = resolve_data_dir(data_dir)
    files = _glob(root, entry.path[:1])
    if not files:
        raise _not_found(entry, root, entry.path[:1])
    if len(files) > 1:
        raise ValueError(
            f"dataset {name!r}: pattern {entry.path[0]!r} matches {len(files)} files in {root} "
            f"({files[0].name}, ...); use dataset_files({name!r})"
        )
    if verify:
        _warn_mismatches(entry, root, files)
    return files[0]


def dataset_exists(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """True when the data directory holds at least one file of manifest entry ``name``."""
    return bool(dataset_files(name, data_dir, required=False))


#: Marker file of a synthetic world (written by :func:`hma_mascon.synthetic.write_world`).
SYNTHETIC_MARKER = "hma_synthetic.json"


def is_synthetic(data_dir: str | os.PathLike | None) -> bool:
    """True when ``data_dir`` is a synthetic world (it holds :data:`SYNTHETIC_MARKER`); the one test
    of "is this the synthetic world?" used everywhere."""
    return data_dir is not None and (Path(data_dir) / SYNTHETIC_MARKER).is_file()


# --------------------------------------------------------------------------- checksums


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file (streamed)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


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
    entry = _entry(name, manifest)
    root = resolve_data_dir(data_dir)
    if not entry.sha256:
        return []
    mismatches = []
    for path in _glob(root, entry.path):
        expected = entry.sha256.get(_relpath(path, root))
        if expected is None:
            continue
        actual = file_sha256(path)
        if progress is not None:
            progress.update(1)
        if actual != expected:
            mismatches.append((path, expected, actual))
    return mismatches


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
        files += _glob(root, _entry(name, entries).path)
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


def _warn_mismatches(entry: DatasetEntry, root: Path, files: list[Path]) -> None:
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
        expected = entry.sha256.get(_relpath(path, root))
        if expected is not None and (actual := file_sha256(path)) != expected:
            bad.append(f"{path}: expected {expected}, got {actual}")
    if bad:
        warnings.warn(
            f"dataset {entry.name!r}: {len(bad)} file(s) differ from the manifest checksums:\n  "
            + "\n  ".join(bad),
            ChecksumMismatchWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------- status
_SPAN_IN_NAME = re.compile(r"(?<!\d)(\d{7}-\d{7}|\d{8}-\d{8}|\d{4}-\d{2})(?![\d-])")


def duplicate_months(files: Iterable[str | os.PathLike]) -> list[tuple[str, list[str]]]:
    """Files of a monthly series whose names carry the same time span (duplicate solutions).

    The span is the first ``YYYYDOY-YYYYDOY``, ``YYYYMMDD-YYYYMMDD`` or ``YYYY-MM`` in the file
    name (the GRACE Level-2 conventions); files without one are ignored.

    Returns
    -------
    list of (str, list of str)
        ``(span, [file names])`` for every span carried by more than one file, sorted by span.
    """
    by_span: dict[str, list[str]] = {}
    for f in files:
        name = Path(f).name
        m = _SPAN_IN_NAME.search(name)
        if m is not None:
            by_span.setdefault(m.group(1), []).append(name)
    return sorted((span, sorted(names)) for span, names in by_span.items() if len(names) > 1)




def data_status(
    data_dir: str | os.PathLike | None = None,
    manifest: Mapping[str, DatasetEntry] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Inventory of every manifest dataset in a data directory, with checksum verification.

    Returns
    -------
    pandas.DataFrame
        One row per dataset with columns ``dataset``, ``found`` (int), ``expected`` (int, or
        <NA> when unknown), ``files`` (``"found/expected"``), ``checksum`` (``"ok"``,
        ``"mismatch"`` or ``"unknown"`` when no file with a recorded checksum is present),
        ``obtainable_offline``, ``path`` (pattern(s)), ``substitute_for``, ``mismatched``
        (list of relative paths), ``duplicates`` (``(span, [file names])`` of files carrying the
        same month, :func:`duplicate_months`, at least one of them not listed in the manifest; they
        make the status NOT OK), ``complete`` (bool) and
        ``problem`` (text, empty when fine).
    """

    entries = load_manifest() if manifest is None else manifest
    root = resolve_data_dir(data_dir)
    found_files = {name: _glob(root, e.path) for name, e in entries.items()}
    to_hash = sum(
        sum(1 for f in found_files[n] if _relpath(f, root) in (e.sha256 or {}))
        for n, e in entries.items()
    )
    rows = []
    with tqdm(total=to_hash, desc="sha256", unit="file", disable=not progress, leave=False) as bar:
        for name, entry in entries.items():
            files = found_files[name]
            expected_files = entry.expected_files
            expected = len(expected_files) if expected_files is not None else None
            checked = [f for f in files if _relpath(f, root) in (entry.sha256 or {})]
            mismatches = verify_checksums(name, root, manifest=entries, progress=bar) if checked else []
            checksum = "unknown" if not checked else ("mismatch" if mismatches else "ok")
            if expected_files is not None:
                rels = {_relpath(f, root) for f in files}
                missing = [r for r in expected_files if r not in rels]
            else:
                missing = [] if files else list(entry.path)
            complete = not missing
            problems = []
            if not files:
                problems.append("missing" + ("" if entry.obtainable_offline else " (not obtainable offline)"))
            elif missing:
                problems.append(f"{len(missing)} file(s) missing, e.g. {missing[0]}")
            if mismatches:
                problems.append(f"{len(mismatches)} checksum mismatch(es), e.g. {_relpath(mismatches[0][0], root)}")
            listed = {Path(r).name for r in (expected_files or ())}  # the manifest's own pairs (e.g. DDK in/out) pass
            duplicates = [(span, names) for span, names in (duplicate_months(files) if len(files) > 1 else [])
                          if not set(names) <= listed]
            if duplicates:
                span, names = duplicates[0]
                problems.append(f"{len(duplicates)} duplicate month(s), e.g. {span}: {' and '.join(names)}")
            rows.append(
                {
                    "dataset": name,
                    "found": len(files),
                    "expected": expected,
                    "files": f"{len(files)}/{expected if expected is not None else '?'}",
                    "checksum": checksum,
                    "obtainable_offline": entry.obtainable_offline,
                    "path": ", ".join(entry.path),
                    "substitute_for": entry.substitute_for,
                    "mismatched": [_relpath(m[0], root) for m in mismatches],
                    "duplicates": duplicates,
                    "complete": complete,
                    "problem": "; ".join(problems),
                }
            )
    df = pd.DataFrame(rows)
    df["expected"] = df["expected"].astype("Int64")
    df.attrs["data_dir"] = str(root)
    return df


def _status_ok(df: pd.DataFrame) -> tuple[bool, list[str]]:
    reasons = []
    for row in df.itertuples():
        if row.obtainable_offline and not row.complete:
            reasons.append(f"{row.dataset}: {row.problem}")
        elif row.checksum == "mismatch" or row.duplicates:
            reasons.append(f"{row.dataset}: {row.problem}")
    return not reasons, reasons


# --------------------------------------------------------------------------- fetch


def _urls_for(entry: DatasetEntry, url: str | Mapping[str, str] | None) -> dict[str, str]:
    if url is None:
        return {}
    if isinstance(url, Mapping):
        return {str(k): str(v) for k, v in url.items()}
    expected = entry.expected_files
    if url.endswith("/"):
        if not expected:
            raise ValueError(
                f"dataset {entry.name!r}: a base URL ({url}) needs the file list, but the manifest "
                "records no checksums / literal paths for it"
            )
        return {rel: url + rel.rsplit("/", 1)[-1] for rel in expected}
    if expected is None or len(expected) != 1:
        if len(entry.path) == 1 and not (_GLOB_CHARS & set(entry.path[0])):
            return {entry.path[0]: url}
        raise ValueError(
            f"dataset {entry.name!r} has {len(expected) if expected else 'an unknown number of'} files; "
            "give a base URL ending in '/' or a mapping of files to URLs"
        )
    return {expected[0]: url}


def fetch_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    url: str | Mapping[str, str] | None = None,
    manifest: Mapping[str, DatasetEntry] | None = None,
    progress: bool = True,
) -> list[Path]:
    """Download a dataset into the data directory with :func:`pooch.retrieve`, checking hashes.

    Each file goes to ``<data_dir>/<relative path of the manifest>``. pooch downloads to a
    temporary file and moves it into place only when its SHA-256 equals the manifest's; a file
    already present with the right hash is not downloaded again, one with a wrong hash is.

    Parameters
    ----------
    name : str
        Manifest entry name.
    data_dir : path-like, optional
        Target data directory (created if needed; see :func:`resolve_data_dir`).
    url : str or mapping, optional
        Override of the entry's ``fetch_url``: one URL (single-file dataset), a base URL ending
        in ``/`` (file names appended) or ``{relative path: URL}``.
    manifest : mapping, optional
        Manifest entries (default :func:`load_manifest`).

    Returns
    -------
    list of Path
        The local files.

    Raises
    ------
    ValueError
        when the dataset has no download URL, or (from pooch) when a download's hash differs
        from the manifest; the wrong file is not kept.
    """

    entry = _entry(name, manifest)
    root = resolve_data_dir(data_dir, must_exist=False)
    urls = _urls_for(entry, url if url is not None else entry.fetch_url)
    if not urls:
        raise ValueError(
            f"dataset {name!r} has no public anonymous download URL: "
            + (_SYNTHETIC_HINT + f" (original: {entry.source})" if not entry.obtainable_offline
               else f"get it from {entry.source}")
            + f" and place it at {root / entry.path[0]}"
        )
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for rel, file_url in urls.items():
        expected = (entry.sha256 or {}).get(rel)
        if expected is None:
            warnings.warn(
                f"dataset {name!r}: no checksum recorded for {rel}; the download is not verified",
                ChecksumMismatchWarning,
                stacklevel=2,
            )
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            local = pooch.retrieve(
                url=file_url,
                known_hash=f"sha256:{expected}" if expected else None,
                fname=target.name,
                path=target.parent,
                progressbar=progress,
            )
        except ValueError as exc:
            raise ValueError(f"dataset {name!r}: download of {file_url} rejected: {exc}") from exc
        out.append(Path(local))
    return out


# --------------------------------------------------------------------------- command line


def _cmd_status(args: argparse.Namespace) -> int:
    manifest = load_manifest(args.manifest) if args.manifest else None
    df = data_status(args.data_dir, manifest=manifest, progress=not args.no_progress)
    table = df.assign(
        offline=df["obtainable_offline"].map({True: "yes", False: "no"}),
        substitute=df["substitute_for"].fillna("-").map(lambda s: s if len(s) <= 48 else s[:45] + "..."),
        status=[
            "ok" if r.complete
            else ("MISSING" if r.obtainable_offline else "absent") if r.found == 0
            else "INCOMPLETE"
            for r in df.itertuples()
        ],
        path=df["path"].map(lambda s: s.split(", ")[0] + (f" (+{s.count(', ')})" if ", " in s else "")),
    )[["dataset", "status", "files", "checksum", "offline", "path", "substitute"]]
    print(f"data directory: {df.attrs['data_dir']}")
    with pd.option_context("display.max_colwidth", 70, "display.width", 250):
        print(table.to_string(index=False))
    ok, reasons = _status_ok(df)
    root = Path(df.attrs["data_dir"])
    if is_synthetic(root):
        print("note: this is a synthetic data directory (hma_synthetic.json); real-data checksums do not apply")
    if ok:
        print("OK: every dataset obtainable offline is present and every recorded checksum matches")
        return 0
    print(f"NOT OK ({len(reasons)} problem(s)):")
    for reason in reasons:
        print(f"  - {reason}")
    return 1


def _cmd_fetch(args: argparse.Namespace) -> int:
    manifest = load_manifest(args.manifest) if args.manifest else None
    files = fetch_dataset(args.name, args.data_dir, url=args.url, manifest=manifest,
                          progress=not args.no_progress)
    for path in files:
        print(f"fetched {path} (sha256 checked)" if path.exists() else f"failed {path}")
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``hma-mascon data status|fetch`` to the command line."""
    data = subparsers.add_parser(
        "data",
        help="inventory, verify and download the input datasets (data_manifest.yml)",
        description="Inventory, verify and download the datasets described in data_manifest.yml.",
    )
    actions = data.add_subparsers(dest="data_command", metavar="ACTION")
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", default=None,
                       help=f"data directory (default: ${ENV_VAR})")
        p.add_argument("--manifest", default=None, help="alternative manifest file (testing)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")

    status = actions.add_parser(
        "status",
        help="list every dataset: found/missing, checksum ok/mismatch/unknown",
        description="Exit code 0 when every dataset obtainable offline is present and every "
        "recorded checksum matches, else 1 (and the reasons are printed).",
    )
    common(status)
    status.set_defaults(func=_cmd_status)

    fetch = actions.add_parser("fetch", help="download a dataset that has a public URL (pooch, hash-checked)")
    fetch.add_argument("name", help="manifest entry name, e.g. tn13")
    fetch.add_argument("--url", default=None, help="override the manifest's fetch_url")
    common(fetch)
    fetch.set_defaults(func=_cmd_fetch)
