"""Build the book once and read it like a reader would: offline, with math and figures.

The build runs ``hma_mascon.book.run_book`` into a temporary directory (papermill + Jupyter Book,
about half a minute). Headless Chromium renders the pages; the browser tests skip when it is not
installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from hma_mascon import __version__, book
from hma_mascon.book import reader

pytestmark = pytest.mark.book

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                                    "(apt-get install chromium); browser checks skipped")


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    result = book.run_book(out_dir=out, progress=False)
    return result


def _chromium(args, tmp_path, timeout=120):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_notebooks_executed_without_errors(built_book):
    import nbformat

    assert built_book.notebooks
    for nb_path in built_book.notebooks:
        nb = nbformat.read(built_book.executed_dir / nb_path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.get("execution_count") for c in code), f"{nb_path}: a cell was not executed"
        errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{nb_path}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        assert "injected-parameters" in str([c.metadata.get("tags") for c in code])


def test_every_source_page_became_html(built_book):
    html = built_book.html_dir
    for entry in book.toc_files():
        assert (html / f"{entry}.html").is_file(), entry
    assert (html / "index.html").is_file()


def test_no_external_url_in_any_html_page(built_book):
    """Any http(s) URL in an attribute (or a JS string) of any page fails. The only allowed,
    documented exception: xmlns namespace declarations, which are identifiers that load nothing."""
    pages = sorted(built_book.html_dir.rglob("*.html"))
    assert len(pages) >= 3
    assert book.find_external_urls(built_book.html_dir) == []
    # an independent, blunter check: no http(s):// anywhere in a page, except in xmlns="..."
    for page in pages:
        text = page.read_text(errors="replace")
        text = re.sub(r"""xmlns(:\w+)?=(["'])https?://[^"']*\2""", "", text)
        found = re.findall(r"https?://[^\s\"'<>]*", text)
        assert not found, f"{page}: {found[:5]}"


def test_mathjax_is_local(built_book):
    assert built_book.mathjax_local, "npm could not provide MathJax"
    script = built_book.html_dir / "_static" / "mathjax" / "tex-mml-chtml.js"
    assert script.is_file() and script.stat().st_size > 100_000
    fonts = list((built_book.html_dir / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    assert fonts, "MathJax CHTML fonts were not copied"
    page = (built_book.html_dir / "book" / "01_grids.html").read_text()
    assert re.search(r'src="[./]*_static/mathjax/tex-mml-chtml\.js', page)


def test_every_page_shows_provenance(built_book):
    for entry in book.toc_files():
        page = (built_book.html_dir / f"{entry}.html").read_text()
        assert "hma-provenance" in page and __version__ in page and "Built from" in page, entry
        assert "seed 20240101" in page, entry  # the default build uses the synthetic world


def _screenshot_variance(png):
    import matplotlib.pyplot as plt

    img = plt.imread(png)[..., :3]
    return float(img.std()), img


@needs_chromium
@pytest.mark.parametrize("page", ["index.html", "book/01_grids.html"])
def test_screenshot_is_not_blank(built_book, tmp_path, page):
    png = tmp_path / (page.replace("/", "_") + ".png")
    proc = _chromium([f"--screenshot={png}", "--window-size=1280,2000", "--virtual-time-budget=10000",
                      f"file://{built_book.html_dir / page}"], tmp_path)
    assert png.is_file(), proc.stderr[-2000:]
    std, img = _screenshot_variance(png)
    assert img.shape[:2] == (2000, 1280)
    assert std > 0.05, f"{page}: screenshot is nearly uniform (std {std:.3f})"
    # text and figure: a good share of the page is not background white
    assert (img.mean(axis=2) < 0.9).mean() > 0.02


@needs_chromium
def test_dom_has_typeset_math_and_the_figure(built_book, tmp_path):
    proc = _chromium(["--dump-dom", "--virtual-time-budget=10000",
                      f"file://{built_book.html_dir / 'book' / '01_grids.html'}"], tmp_path)
    dom = proc.stdout
    assert "</html>" in dom, proc.stderr[-2000:]
    assert dom.count("<mjx-container") >= 3, "MathJax did not typeset the page (offline copy not loaded?)"
    assert "<mjx-merror" not in dom, "MathJax reported a TeX error"
    imgs = re.findall(r"<img[^>]+src=\"([^\"]+\.png)\"", dom)
    assert imgs, "the map figure is missing"
    for src in imgs:
        assert not src.startswith(("http:", "https:", "//"))
        assert (built_book.html_dir / "book" / src).resolve().is_file(), src


@needs_chromium
def test_every_page_reads_well_in_the_browser(built_book):
    """Issue 12's reader check, run by the build itself: per page no table or figure wider than the
    content, no cache message or machine path, math typeset where there is math, chapter figures at
    least 600 px wide, no traceback."""
    assert built_book.pages is not None, "the build did not read its pages in Chromium"
    pages = {r.page for r in built_book.pages}
    assert {f"{entry}.html" for entry in book.toc_files()} <= pages | {"index.html"}
    problems = [f"{r.page}: {p}" for r in built_book.pages for p in r.problems]
    assert not problems, "\n".join(problems)
    maps = [f for r in built_book.pages if r.page.startswith("book/0") for f in r.figures]
    assert maps and min(f["width"] for f in maps) >= reader.MIN_FIGURE_PX
    assert all(r.typeset >= r.math for r in built_book.pages)


@needs_chromium
def test_screenshots_of_chapters_5_to_9_are_in_the_build(built_book):
    shots = sorted(built_book.screenshots_dir.glob("*.png"))
    assert [p.name[:2] for p in shots] == ["05", "06", "07", "08", "09"]
    for png in shots:
        std, img = _screenshot_variance(png)
        assert img.shape[1] == 1280 and img.shape[0] > 1500 and std > 0.05, png.name


@needs_chromium
def test_the_reader_check_finds_what_a_reader_would(tmp_path):
    """A page with a too-wide table, a narrow figure, cache chatter, a machine path and a traceback:
    every one is reported (the check is not one that cannot fail)."""
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True)
    wide = "<table><tr>" + "".join(f"<td>column-{i}-value</td>" for i in range(60)) + "</tr></table>"
    page = f"""<html><body><article class="bd-article" style="width:700px">
    <p>Hello</p>{wide}
    <div class="cell_output"><img src="x.png" width="300" height="50"></div>
    <pre>hma-mascon cache: reusing solution-abc.nc</pre>
    <p>written to /root/.cache/hma-mascon/world</p>
    <pre>Traceback (most recent call last):\n  File "x"\nValueError: no</pre>
    </article></body></html>"""
    (html / "book" / "05_bad.html").write_text(page)
    (html / "index.html").write_text('<html><body><article class="bd-article"><p>fine</p></article></body></html>')
    reports = {r.page: r for r in reader.read_book(html, screenshots_dir=tmp_path / "shots")}
    assert reports["index.html"].ok
    found = "\n".join(reports["book/05_bad.html"].problems)
    for what in ("wider than the page", "rendered 300 px", "cache message", "absolute path", "traceback"):
        assert what in found, (what, found)
    assert (tmp_path / "shots" / "05_bad.png").is_file()


@needs_chromium
def test_the_reader_check_follows_a_redirect_page(tmp_path):
    """The root index.html of a Jupyter Book is a meta refresh to the first page: the check reads the
    page it leads to once that has loaded (a fresh-clone build once measured the half-loaded target:
    math not yet typeset)."""
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True)
    (html / "book" / "intro.html").write_text(
        '<html><body><article class="bd-article"><pre>Traceback (most recent call last):\n  File "x"\n'
        "ValueError: no</pre></article></body></html>")
    (html / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />')
    (report,) = reader.read_book(html, pages=["index.html"])
    assert any("traceback" in p for p in report.problems), report.problems
