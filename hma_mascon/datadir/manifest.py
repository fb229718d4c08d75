"""The data manifest (``data_manifest.yml``): every dataset the method uses, its paths, checksums and
what it stands in for, parsed into :class:`DatasetEntry` objects.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import InputError

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
_PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"
_REPO_MANIFEST = Path(__file__).resolve().parents[2] / MANIFEST_FILENAME
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
GLOB_CHARS = set("*?[")
SYNTHETIC_HINT = "not obtainable offline; run `hma-mascon synthetic` for a stand-in"


class DatasetNotFoundError(FileNotFoundError):
    """A manifest dataset is absent from the data directory.

    The message names the manifest entry, the path looked for and where to get the data.
    """


class ManifestError(InputError):
    """The manifest or a checksum file is malformed (the message names the file and the problem)."""


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
        if not any(GLOB_CHARS & set(p) for p in self.path):
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
            return f"{SYNTHETIC_HINT} (original: {self.source})"
        return f"get it from {self.source}"

    def urls(self) -> dict[str, str]:
        """Map relative paths to download URLs (empty when there is no ``fetch_url``)."""
        return entry_urls(self, self.fetch_url)


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


def manifest_entry(name: str, manifest: Mapping[str, DatasetEntry] | None) -> DatasetEntry:
    entries = load_manifest() if manifest is None else manifest
    try:
        return entries[name]
    except KeyError:
        raise KeyError(
            f"no dataset {name!r} in the manifest; known datasets: {', '.join(entries)}"
        ) from None


def entry_urls(entry: DatasetEntry, url: str | Mapping[str, str] | None) -> dict[str, str]:
    """Relative paths of ``entry`` -> download URLs for ``url`` (a base URL ending in "/", one URL, or a
    mapping); empty for None."""
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
        if len(entry.path) == 1 and not (GLOB_CHARS & set(entry.path[0])):
            return {entry.path[0]: url}
        raise ValueError(
            f"dataset {entry.name!r} has {len(expected) if expected else 'an unknown number of'} files; "
            "give a base URL ending in '/' or a mapping of files to URLs"
        )
    return {expected[0]: url}
