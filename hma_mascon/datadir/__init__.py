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

Modules: :mod:`~hma_mascon.datadir.manifest` (the entries), :mod:`~hma_mascon.datadir.paths` (the data
directory and an entry's files), :mod:`~hma_mascon.datadir.hashing` and
:mod:`~hma_mascon.datadir.checksums` (SHA-256, verified against the manifest),
:mod:`~hma_mascon.datadir.status` (``hma-mascon data status`` / ``fetch``).
"""

from .checksums import InputChecksumError, verify_checksums, verify_inputs
from .hashing import ChecksumMismatchWarning, cached_file_sha256, file_sha256, user_cache_dir
from .manifest import (
                       CACHE_ENV_VAR,
                       ENV_VAR,
                       MANIFEST_KEYS,
                       SYNTHETIC_MARKER,
                       DatasetEntry,
                       DatasetNotFoundError,
                       ManifestError,
                       load_manifest,
                       manifest_path,
                       read_sha256sum_file,
)
from .paths import dataset_exists, dataset_files, dataset_path, is_synthetic, resolve_data_dir
from .status import data_status, duplicate_months, fetch_dataset, register_cli

__all__ = [
    "ENV_VAR", "MANIFEST_KEYS", "CACHE_ENV_VAR", "ChecksumMismatchWarning", "cached_file_sha256",
    "InputChecksumError", "DatasetEntry", "DatasetNotFoundError", "ManifestError", "data_status", "dataset_exists",
    "dataset_files", "dataset_path", "is_synthetic", "SYNTHETIC_MARKER", "duplicate_months", "fetch_dataset",
    "file_sha256", "load_manifest", "manifest_path", "read_sha256sum_file", "register_cli", "resolve_data_dir",
    "user_cache_dir", "verify_checksums", "verify_inputs",
]
