"""What built a page: the data, the preset and parameters, the package version and commit.

:func:`provenance_banner` is displayed by every notebook (:func:`hma_mascon.book.setup_notebook`)
and appended to the Markdown pages; it holds no machine path beyond the data directory the reader
chose, and no external URL.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
import re
import subprocess
import sys
from pathlib import Path

from .. import __version__
from ..datadir import load_manifest
from ..inputs import dropped_months
from ..params import PARAMETERS, resolve
from .cache import cached, data_identity
from .display import without_data_dir

__all__ = ["git_commit", "Banner", "provenance_banner", "months_dropped_line"]


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
        # the directory itself is a path of the build machine: the seed and version identify the world
        return (f"synthetic world (known truth), seed {params.get('seed')}", [])
    notes = []
    ident = data_identity(data_dir) if data_dir else "unknown"
    try:  # the manifest names what each real dataset stands in for
        manifest = load_manifest()
        entries = manifest.get("datasets", manifest) if isinstance(manifest, dict) else {}
        for key, entry in (entries.items() if isinstance(entries, dict) else []):
            if isinstance(entry, dict):
                sub = entry.get("stands_in_for") or entry.get("substitute_for")
                if sub:
                    notes.append(f"{key}: stands in for {sub}")
    except Exception:  # noqa: BLE001 - the banner must not fail on a missing manifest
        pass
    # only the directory's name: its absolute path belongs to the build machine, its contents are
    # identified by the hash of every file (book.cache.data_identity)
    name = html.escape(Path(str(data_dir)).name) if data_dir else "?"
    return (f"real data directory <code>{name}/</code> (content identity {ident[:12]})", notes)


def months_dropped_line(params: dict) -> str:
    """``"none"`` or ``"2004-01, 2011-12 (no TN-13/TN-14 record in ...)"`` for the banner.

    The months a solve of these parameters drops (:func:`hma_mascon.inputs.dropped_months`), read
    once per data directory, source and period (book cache) and then reused by every page.
    """
    data_dir = params.get("data_dir")
    if not data_dir:
        return "not checked (no data directory yet)"
    preset = getattr(params, "preset", params.get("preset", "default"))
    rows = {k: params[k] for k in ("source", "period_start", "period_end", "nmax", "month_step", "coefficient_sigma",
                                   "sigma_degree_split", "max_noise_factor") if k in params and k in PARAMETERS}
    try:
        settings = resolve(preset, rows)
        dropped = cached({"what": "months_dropped", "preset": preset, **rows, "data_dir": str(data_dir)},
                         lambda: dropped_months(data_dir, settings), name="months-dropped", data_dir=data_dir,
                         verbose=False)
    except (OSError, ValueError) as exc:  # the banner says why instead of failing the page
        # the message names files under the data directory: relative to it, not the machine's paths
        return f"not checked ({type(exc).__name__}: {without_data_dir(exc, data_dir)})"
    by_reason: dict[str, list[str]] = {}
    for month, why in dropped.items():
        by_reason.setdefault(why, []).append(month)
    return "; ".join(f"{', '.join(ms)} ({why})" for why, ms in by_reason.items()) or "none"


def _shown_value(key, value):
    """A parameter as the banner shows it: a data directory by its name only (its absolute path is
    the build machine's; its contents are identified by the content hash in the banner)."""
    if key == "data_dir" and value:
        return f"{Path(str(value)).name}/"
    return value


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
    preset = getattr(params, "preset", params.get("preset", "default"))
    over = params.overrides() if hasattr(params, "overrides") else {}
    over_text = ", ".join(f"{k} = {v!r}" for k, v in over.items()) or "none"
    commit = git_commit()
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    shown = {k: _shown_value(k, v) for k, v in params.items()}
    rows = "".join(f"<tr><td><code>{html.escape(str(k))}</code></td><td>{html.escape(repr(v))}</td></tr>"
                   for k, v in shown.items())
    dropped = months_dropped_line(params)
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    note_html = f"<ul>{note_html}</ul>" if note_html else ""
    html_text = (
        '<div class="hma-provenance">'
        f"<p><strong>Built from:</strong> {data_line}. "
        f"<strong>hma-mascon</strong> {html.escape(__version__)}, commit <code>{html.escape(commit)}</code>, "
        f"Python {sys.version.split()[0]}, executed {now}.</p>"
        f"<p><strong>Preset:</strong> <code>{html.escape(str(preset))}</code>; <strong>overrides:</strong> "
        f"{html.escape(over_text)}. <strong>Months dropped:</strong> {html.escape(dropped)}.</p>{note_html}"
        f"<details><summary>Parameters</summary><table>{rows}</table></details></div>"
    )
    md_rows = "\n".join(f"| `{k}` | `{v!r}` |" for k, v in shown.items())
    md_data = re.sub(r"</?code>", "`", data_line)
    md_notes = "".join(f"\n- {n}" for n in notes)
    markdown = (f"**Built from:** {md_data}. **hma-mascon** {__version__}, commit `{commit}`, "
                f"executed {now}.\n\n**Preset:** `{preset}`; **overrides:** {over_text}. **Months dropped:** {dropped}.{md_notes}\n\n| parameter | value |\n|---|---|\n{md_rows}\n")
    return Banner(html_text, markdown)
