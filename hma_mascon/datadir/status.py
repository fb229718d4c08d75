"""``hma-mascon data status`` (every entry found or missing, its checksums, duplicate months) and
``hma-mascon data fetch`` (pooch, for an online user).
"""

from __future__ import annotations

import argparse
import os
import re
import warnings
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd
import pooch
from tqdm import tqdm

from .checksums import verify_checksums
from .hashing import ChecksumMismatchWarning
from .manifest import (
    ENV_VAR,
    SYNTHETIC_HINT,
    DatasetEntry,
    entry_urls,
    load_manifest,
    manifest_entry,
)
from .paths import glob_files, is_synthetic, relative_path, resolve_data_dir

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
    found_files = {name: glob_files(root, e.path) for name, e in entries.items()}
    to_hash = sum(
        sum(1 for f in found_files[n] if relative_path(f, root) in (e.sha256 or {}))
        for n, e in entries.items()
    )
    rows = []
    with tqdm(total=to_hash, desc="sha256", unit="file", disable=not progress, leave=False) as bar:
        for name, entry in entries.items():
            files = found_files[name]
            expected_files = entry.expected_files
            expected = len(expected_files) if expected_files is not None else None
            checked = [f for f in files if relative_path(f, root) in (entry.sha256 or {})]
            mismatches = verify_checksums(name, root, manifest=entries, progress=bar) if checked else []
            checksum = "unknown" if not checked else ("mismatch" if mismatches else "ok")
            if expected_files is not None:
                rels = {relative_path(f, root) for f in files}
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
                problems.append(f"{len(mismatches)} checksum mismatch(es), e.g. {relative_path(mismatches[0][0], root)}")
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
                    "mismatched": [relative_path(m[0], root) for m in mismatches],
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

    entry = manifest_entry(name, manifest)
    root = resolve_data_dir(data_dir, must_exist=False)
    urls = entry_urls(entry, url if url is not None else entry.fetch_url)
    if not urls:
        raise ValueError(
            f"dataset {name!r} has no public anonymous download URL: "
            + (SYNTHETIC_HINT + f" (original: {entry.source})" if not entry.obtainable_offline
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
