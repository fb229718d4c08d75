"""Building the book: stage the source, run the notebooks with papermill, render with Jupyter Book.

Heavy lifting: papermill executes the notebooks with injected parameters, Jupyter Book (Sphinx,
MyST-NB) renders them to HTML with execution turned off, and MathJax 3, taken from the npm registry
into a cache directory at build time, renders the math offline. Written by hand: the staging, the
local MathJax and the check that no page refers to a network resource (:func:`find_external_urls`).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..params import ParameterError, add_arguments, overrides_from_args
from ..safeio import atomic_path
from .parameters import resolve_book_data_dir, validate_parameters
from .provenance import git_commit, provenance_banner
from .reader import find_chromium, read_book

__all__ = ["BOOK_ROOT", "toc_files", "toc_notebooks", "is_myst_notebook", "staged_name", "convert_to_ipynb",
           "hide_plumbing", "stage_book", "default_jobs", "run_notebooks", "install_mathjax", "find_external_urls",
           "strip_external_links", "execute_notebook", "BookResult", "run_book", "read_as_a_reader",
           "register_cli", "REGION_TOC"]


#: Where the book's source lives: the repository root holds _config.yml and _toc.yml.
BOOK_ROOT = Path(__file__).resolve().parents[2]

#: The table of contents of a region book (``--region`` other than ``hma``; the HMA chapters' inputs are HMA's).
REGION_TOC = "_toc_region.yml"

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


def is_myst_notebook(path: str | Path) -> bool:
    """True for a MyST Markdown notebook: a ``.md`` file whose front matter has a ``kernelspec``
    (jupytext's ``myst`` format). Plain Markdown pages (the landing page) are not notebooks."""
    path = Path(path)
    if path.suffix != ".md" or not path.is_file():
        return False
    text = path.read_text(errors="replace")
    if not text.startswith("---"):
        return False
    end = text.find("\n---", 3)
    return end > 0 and "kernelspec:" in text[:end]


def toc_notebooks(root: str | Path = BOOK_ROOT, toc: str = "_toc.yml") -> list[Path]:
    """The notebooks of the table of contents ``toc``, relative to ``root``, in order.

    A chapter is a MyST Markdown notebook (``book/NN_name.md``, edited directly, in Jupyter with
    jupytext or in any editor) or an ``.ipynb``; :func:`run_book` converts the Markdown ones to
    ``.ipynb`` in the staging directory for papermill.
    """
    root = Path(root)
    out = []
    for entry in toc_files(root, toc):
        candidate = Path(entry)
        if candidate.suffix == "":
            if (root / candidate.with_suffix(".ipynb")).is_file():
                candidate = candidate.with_suffix(".ipynb")
            else:
                candidate = candidate.with_suffix(".md")
        if (candidate.suffix == ".ipynb" and (root / candidate).is_file()) or is_myst_notebook(root / candidate):
            out.append(candidate)
    return out


def staged_name(notebook: str | Path) -> Path:
    """Where a notebook of :func:`toc_notebooks` is executed in the staging directory (an ``.ipynb``)."""
    return Path(notebook).with_suffix(".ipynb")


def convert_to_ipynb(source: Path, target: Path) -> Path:
    """Write the MyST notebook ``source`` as ``target`` (``.ipynb``, jupytext), cells without outputs."""
    import jupytext  # noqa: PLC0415 - only the book build needs it

    try:
        nb = jupytext.read(source, fmt="md:myst")
    except Exception as exc:  # noqa: BLE001 - jupytext raises several types; name the file
        raise ValueError(f"{source}: not a readable MyST notebook ({exc})") from exc
    nb.metadata.pop("jupytext", None)
    nb.metadata.setdefault("language_info", {"name": "python"})
    for i, cell in enumerate(nb.cells):
        cell["id"] = cell.get("id") or f"cell-{i}"
    jupytext.write(nb, target, fmt="ipynb")
    return target


#: tags of the cells a rendered page does not show at all (they stay in the notebook for re-running)
PLUMBING_TAGS = ("parameters", "injected-parameters")


def hide_plumbing(notebook: Path) -> int:
    """Tag the parameters cells (the notebook's and papermill's injected one) ``remove-cell``.

    They stay in the executed notebook (and in the download) for people who re-run it; the rendered
    page starts with the chapter's results. Returns the number of cells tagged.
    """
    import nbformat  # noqa: PLC0415 - only the book build needs it

    nb = nbformat.read(notebook, as_version=4)
    count = 0
    for cell in nb.cells:
        tags = list(cell.get("metadata", {}).get("tags", []))
        if any(t in tags for t in PLUMBING_TAGS) and "remove-cell" not in tags:
            cell.setdefault("metadata", {})["tags"] = tags + ["remove-cell"]
            count += 1
    nbformat.write(nb, notebook)
    return count


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


def stage_book(root: Path, staged: Path, toc: str = "_toc.yml") -> None:
    """Copy the book source (config, ``toc`` as ``_toc.yml``, ``book/``, the committed ``reproduction/``
    ledgers) into ``staged``."""
    if staged.exists():
        shutil.rmtree(staged)
    staged.mkdir(parents=True)
    shutil.copy2(root / "_config.yml", staged / "_config.yml")
    shutil.copy2(root / toc, staged / "_toc.yml")
    ignore = shutil.ignore_patterns("_executed", ".ipynb_checkpoints", "__pycache__", "_build")
    shutil.copytree(root / "book", staged / "book", ignore=ignore)
    for extra in ("references.bib",):
        if (root / extra).is_file():
            shutil.copy2(root / extra, staged / extra)
    if (root / "reproduction").is_dir():  # committed real-data ledgers, shown in chapter 10
        shutil.copytree(root / "reproduction", staged / "reproduction")
    # the chapters are MyST notebooks: papermill runs their .ipynb conversion, and Sphinx must
    # see one source per page, so the staged .md of a notebook is replaced by its .ipynb
    for nb in toc_notebooks(staged):
        if nb.suffix == ".md":
            convert_to_ipynb(staged / nb, staged / staged_name(nb))
            (staged / nb).unlink()


def execute_notebook(source: Path, output: Path, parameters: dict, *, cwd: Path | None = None,
                     progress: bool = True, env: dict | None = None) -> None:
    """Run one notebook (``.ipynb``, or a MyST ``.md`` converted first) with papermill (kernel ``python3``).

    Only the parameters that the notebook's ``parameters`` cell declares are injected (papermill
    would warn about each other one); a notebook without a ``parameters`` cell gets them all.
    """
    import papermill as pm  # noqa: PLC0415 - heavy; only the book build needs it

    source, output = Path(source), Path(output)
    if source.suffix == ".md":  # a MyST notebook: papermill reads its .ipynb conversion
        converted = output.with_name(output.stem + ".source.ipynb")
        convert_to_ipynb(source, converted)
        try:
            return execute_notebook(converted, output, parameters, cwd=cwd or source.parent, progress=progress,
                                    env=env)
        finally:
            converted.unlink(missing_ok=True)
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


def default_jobs() -> int:
    """Notebooks run at once by default: one per core, at most 2, and 1 below 8 GB of memory
    (the whole-box solve takes about 2 GB, a result chapter about 0.7 GB)."""
    import psutil  # noqa: PLC0415 - only the book build needs it

    cores = os.cpu_count() or 1
    return 1 if psutil.virtual_memory().total < 8e9 else max(1, min(2, cores))


def _execute_one(path: str, parameters: dict, env: dict, progress: bool = False) -> float:
    """Worker of :func:`run_notebooks`: execute one staged notebook in place, return seconds."""
    start = time.perf_counter()
    execute_notebook(Path(path), Path(path), parameters, cwd=Path(path).parent, progress=progress, env=env)
    hide_plumbing(Path(path))
    return time.perf_counter() - start


def run_notebooks(paths, parameters: dict, *, env: dict, jobs: int | None = None, progress: bool = True) -> dict:
    """Execute staged notebooks in place, ``jobs`` at a time (separate processes), in table-of-contents
    order of starting; each gets its parameters-cell tags (:func:`hide_plumbing`).

    Returns ``{path: seconds}``. The first failure is raised (papermill's error names the cell) after
    the notebooks already running have finished.
    """
    paths = [Path(p) for p in paths]
    jobs = max(1, int(jobs or default_jobs()))
    seconds = {}
    if jobs == 1 or len(paths) < 2:
        for i, path in enumerate(paths, 1):
            if progress:
                print(f"[{i}/{len(paths)}] executing {path.name}", flush=True)
            seconds[path] = _execute_one(str(path), parameters, env, progress)
        return seconds
    if progress:
        print(f"executing {len(paths)} notebooks, {jobs} at a time", flush=True)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(_execute_one, str(p), parameters, env): p for p in paths}
        done = 0
        try:
            for future in concurrent.futures.as_completed(futures):
                path = futures[future]
                seconds[path] = future.result()
                done += 1
                if progress:
                    print(f"[{done}/{len(paths)}] {path.name}: {seconds[path]:.0f} s", flush=True)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # the running ones finish, the rest never start
            raise
    return seconds


@dataclass
class BookResult:
    """What :func:`run_book` produced."""

    executed_dir: Path
    html_dir: Path | None
    notebooks: list[Path] = field(default_factory=list)
    mathjax_local: bool = False
    stripped_links: int = 0
    #: what headless Chromium found on each page (:func:`hma_mascon.book.reader.read_book`); None
    #: when no Chromium is installed
    pages: list | None = None
    screenshots_dir: Path | None = None


def select_notebooks(notebooks, only: str) -> list:
    """The notebooks ``--only`` names: a chapter number (``3`` or ``03``) or a part of a file name.

    Raises
    ------
    ValueError
        For an empty value, or one that matches no notebook (the message lists the notebooks).
    """
    text = str(only).strip()
    have = [Path(nb).name for nb in notebooks]
    if not text:
        raise ValueError(f"--only {only!r}: give a chapter number or a part of a notebook name; have {have}")
    if text.isdigit():
        chosen = [nb for nb in notebooks
                  if (m := re.match(r"(\d+)_", Path(nb).name)) and int(m.group(1)) == int(text)]
    else:
        chosen = [nb for nb in notebooks if text in Path(nb).name]
    if not chosen:
        raise ValueError(f"--only {only!r}: no notebook of _toc.yml matches; have {have}")
    return chosen


def run_book(*, data_dir: str | Path | None = None, parameters: dict | None = None,
             only: str | None = None, out_dir: str | Path | None = None, build_html: bool = True,
             root: str | Path = BOOK_ROOT, progress: bool = True, jobs: int | None = None) -> BookResult:
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
        Book parameters (:func:`hma_mascon.book.parameters.validate_parameters`): ``data``,
        ``data_dir``, ``preset``, ``overrides`` and any row of the parameter table (strings accepted).
    only : str, optional
        Run just the notebooks whose file name contains this text; the others keep their executed
        copies from an earlier run (or are rendered unexecuted).
    out_dir : path, optional
        Output root (default: the book root); artefacts go to ``out_dir/_build``.
    build_html : bool
        Build the HTML after executing.
    jobs : int, optional
        Notebooks executed at the same time (default :func:`default_jobs`: 2 on a machine with at
        least 2 cores and 8 GB). The chapters share cache entries written under a lock, so a chapter
        that needs the solution another one is computing waits for it and reuses it.

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
    toc = "_toc.yml" if params["region"] == "hma" else REGION_TOC
    if toc != "_toc.yml" and params["data"] != "real":
        raise ParameterError(f"region {params['region']!r}: the synthetic world covers High Mountain Asia only; "
                             "pass the real data directory (--data-dir or HMA_MASCON_DATA)")
    params["data_dir"] = resolve_book_data_dir(params)
    build = Path(out_dir).resolve() / "_build" if out_dir else root / "_build"
    staged = build / "_executed"
    notebooks = [staged_name(nb) for nb in toc_notebooks(root, toc)]
    if only is not None:
        chosen = select_notebooks(notebooks, only)
        # keep the executed copies of the other notebooks from an earlier run
        kept = {nb: (staged / nb).read_bytes() for nb in notebooks
                if nb not in chosen and (staged / nb).is_file()}
        notebooks = chosen
    else:
        kept = {}
    stage_book(root, staged, toc)
    for nb, content in kept.items():
        (staged / nb).write_bytes(content)
    env = {"HMA_MASCON_CACHE": str(build / ".hma_cache"), "HMA_MASCON_COMMIT": git_commit(root),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           # pooch imports tqdm.auto, which warns (with an external URL) when ipywidgets is absent;
           # a static page wants tqdm's text bars, so the kernels start with that warning ignored
           "PYTHONWARNINGS": "ignore:IProgress not found"}
    inject = {"data": params["data"], "data_dir": params["data_dir"], "preset": params.preset,
              "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in params.overrides().items()}}
    run_notebooks([staged / nb for nb in notebooks], inject, env=env, jobs=jobs, progress=progress)
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
    html_dir = build / "html"
    # the HTML is built beside the previous book and replaces it only when built and checked
    with atomic_path(html_dir, directory=True) as tmp_html:
        work = tmp_html.with_name(tmp_html.name + "-jb")
        try:
            cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(staged), "--path-output", str(work),
                   "--all"]
            if not progress:
                cmd.append("-q")
            proc = subprocess.run(cmd, capture_output=not progress, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode})" + (
                    f":\n{(proc.stdout or '')[-3000:]}{(proc.stderr or '')[-3000:]}" if not progress else ""))
            for item in (work / "_build" / "html").iterdir():
                shutil.move(str(item), str(tmp_html / item.name))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        result.stripped_links = strip_external_links(tmp_html)
        hits = find_external_urls(tmp_html)
        if hits and result.mathjax_local:
            listing = "\n".join(f"  {f}:{n}: {a}={u}" for f, n, a, u in hits[:20])
            raise RuntimeError(f"the built book refers to {len(hits)} external URL(s):\n{listing}")
    result.html_dir = html_dir
    read_as_a_reader(result, build / "screenshots", private_paths=(params["data_dir"], env["HMA_MASCON_CACHE"]),
                     progress=progress)
    if progress:
        print(f"book: {html_dir / 'index.html'}", flush=True)
    return result


def read_as_a_reader(result: BookResult, screenshots_dir: Path, *, private_paths=(), progress: bool = True) -> None:
    """Open every built page in headless Chromium (:func:`hma_mascon.book.reader.read_book`), photograph
    chapters 5 to 9 into ``screenshots_dir`` and warn about every problem a reader would see.

    The book stays built whatever is found (a reader can still use it); ``result.pages`` keeps the
    reports, and ``tests/test_book_html.py`` fails on any problem. Without Chromium nothing is read
    (``result.pages`` stays None) and a note says how to install it.
    """
    if find_chromium() is None:
        if progress:
            print("no Chromium: the pages were not read by a browser (apt-get install chromium)", flush=True)
        return
    if progress:
        print("reading the pages in headless Chromium", flush=True)
    try:
        result.pages = read_book(result.html_dir, screenshots_dir=screenshots_dir, private_paths=private_paths)
    except Exception as exc:  # noqa: BLE001 - a browser that fails to start must not lose the built book
        warnings.warn(f"the pages could not be read in Chromium: {exc}", stacklevel=2)
        return
    result.screenshots_dir = screenshots_dir
    problems = [f"  {r.page}: {p}" for r in result.pages for p in r.problems]
    if problems:
        warnings.warn(f"{len(problems)} problem(s) a reader would see (report: {screenshots_dir / 'report.json'}):\n"
                      + "\n".join(problems[:30]), stacklevel=2)
    elif progress:
        print(f"every page reads well; screenshots in {screenshots_dir}", flush=True)


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
    p.add_argument("--only", default=None, metavar="NOTEBOOK", help="run only this chapter: its number (3) or a part of its file name (refined)")
    p.add_argument("--out", default=None, metavar="DIR", help="output root; artefacts in DIR/_build")
    p.add_argument("--no-html", action="store_true", help="execute the notebooks only")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="notebooks executed at the same time (default: 2 with 2 cores and 8 GB, else 1)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    add_arguments(p)
    p.set_defaults(func=_cli_book)


def _cli_book(args) -> int:
    data_dir = args.data_dir
    if data_dir is None and not args.synthetic:
        data_dir = os.environ.get("HMA_MASCON_DATA") or None
    if args.synthetic and args.data_dir is not None:
        raise ParameterError("--synthetic and --data-dir exclude each other")
    print(f"hma-mascon book: data = {data_dir or 'synthetic world'}")
    result = run_book(data_dir=data_dir, parameters={"preset": args.preset, **overrides_from_args(args)},
                      only=args.only, jobs=args.jobs,
                      out_dir=args.out, build_html=not args.no_html)
    print(f"executed notebooks: {result.executed_dir}")
    return 0
