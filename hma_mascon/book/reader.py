"""Reading the built book as a reader would: every page in headless Chromium, checked and photographed.

:func:`read_book` opens each HTML page of a built book in Chromium (Debian's ``chromium``, driven
by Playwright), waits for MathJax, and checks what a reader would notice:

* no table, figure or output wider than the page's content column (a table that needs a
  horizontal scroll bar counts);
* no cache chatter and no absolute path of the build machine in the visible text;
* typeset math (``mjx-container``) wherever the page has math;
* every figure of a chapter at least :data:`MIN_FIGURE_PX` pixels wide as rendered (maps whose
  cells can be told apart);
* no Python traceback.

It also takes full-page screenshots of the chapters named in :data:`SCREENSHOT_CHAPTERS` into
``_build/screenshots`` for a reviewer. :func:`hma_mascon.book.run_book` calls it after every build;
``tests/test_book_html.py`` asserts that it finds nothing.

Written by hand because no package checks these properties of a Sphinx page; the browser is
Playwright's (with the system Chromium, never a downloaded browser build).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["MIN_FIGURE_PX", "SCREENSHOT_CHAPTERS", "PageReport", "find_chromium", "machine_path_pattern",
           "read_book"]

#: the narrowest a chapter's figure may be rendered [CSS px] in a 1280-px wide window
MIN_FIGURE_PX = 600

#: chapters (file-name prefixes) photographed into ``_build/screenshots``
SCREENSHOT_CHAPTERS = ("05", "06", "07", "08", "09")

#: visible text that is cache or build plumbing, not content
CACHE_PATTERN = re.compile(r"hma-mascon cache|reusing solution-|\.hma_cache|stored solution-", re.IGNORECASE)

TRACEBACK_PATTERN = re.compile(r"Traceback \(most recent call last\)|^-{20,}\n\w+(Error|Exception)\b", re.MULTILINE)

#: the JavaScript that measures a page (returns plain data; every width in CSS pixels)
_MEASURE = """
() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const limit = article.getBoundingClientRect().right + 2;
  const content = article.clientWidth;
  const name = (el) => {
    const cap = el.closest('table')?.querySelector('caption');
    return (el.tagName + ' ' + (cap ? cap.innerText : (el.getAttribute('alt') || el.innerText || '')))
      .replace(/\\s+/g, ' ').slice(0, 80);
  };
  const wide = [];
  // code inputs may scroll (a reader opens them on request); results may not
  for (const el of article.querySelectorAll('table, img, .cell_output, figure, pre')) {
    if (el.closest('.cell_input')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    const clipped = el.scrollWidth > el.clientWidth + 2 && getComputedStyle(el).overflowX !== 'visible';
    if (r.right > limit || clipped) wide.push({what: name(el), right: r.right, limit: limit,
                                                 scroll: el.scrollWidth, client: el.clientWidth});
  }
  for (const box of article.querySelectorAll('.cell_output, .output, .table-wrapper, div.pst-scrollable-table-container')) {
    if (box.closest('.cell_input')) continue;
    if (box.scrollWidth > box.clientWidth + 2) wide.push({what: name(box), right: box.scrollWidth, limit: box.clientWidth});
  }
  const figures = [];
  for (const img of article.querySelectorAll('.cell_output img, figure img')) {
    figures.push({src: img.getAttribute('src'), width: img.getBoundingClientRect().width,
                  natural: img.naturalWidth});
  }
  return {content: content, wide: wide, figures: figures,
          math: article.querySelectorAll('.math, span.math, div.math').length,
          typeset: document.querySelectorAll('mjx-container').length,
          merror: document.querySelectorAll('mjx-merror').length,
          text: article.innerText};
}
"""


@dataclass
class PageReport:
    """What a reader would notice on one page (:func:`read_book`)."""

    page: str
    problems: list = field(default_factory=list)
    content_width: float = 0.0
    figures: list = field(default_factory=list)
    math: int = 0
    typeset: int = 0
    screenshot: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def find_chromium() -> str | None:
    """The system Chromium (``chromium``, ``chromium-browser`` or ``google-chrome``), or None."""
    for name in (os.environ.get("HMA_MASCON_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def machine_path_pattern(*extra_paths) -> re.Pattern:
    """Absolute paths of the build machine as they could leak into a page: the home, temporary and
    working directories, ``extra_paths`` (the book and data roots), and any ``/home/``, ``/root/``,
    ``/tmp/``, ``/work/`` or ``/Users/`` path."""
    roots = {str(Path.home()), tempfile.gettempdir(), os.getcwd(), *(str(p) for p in extra_paths if p)}
    roots = sorted((r for r in roots if len(r) > 4), key=len, reverse=True)
    alternatives = [re.escape(r) + r"(?:/|\b)" for r in roots]
    alternatives.append(r"(?<![\w.:/])/(?:home|root|tmp|work|Users|var/folders)/[\w.-]+")
    return re.compile("|".join(alternatives))


def _is_chapter(page: str) -> bool:
    return bool(re.match(r"\d\d_", Path(page).name))


def read_book(html_dir, *, pages=None, screenshots_dir=None, screenshot_chapters=SCREENSHOT_CHAPTERS,
              width: int = 1280, height: int = 1000, private_paths=(), chromium: str | None = None,
              timeout_ms: int = 30_000) -> list[PageReport]:
    """Open every page of a built book in headless Chromium and report what a reader would notice.

    Parameters
    ----------
    html_dir : path
        The built HTML (``_build/html``).
    pages : list of str, optional
        Pages relative to ``html_dir`` (default: ``index.html`` and every page under ``book/``).
    screenshots_dir : path, optional
        Where full-page PNGs of the chapters in ``screenshot_chapters`` go (none when None).
    width, height : int
        Browser window [CSS px].
    private_paths : iterable of path
        Further absolute paths that must not show (the data directory, the cache).
    chromium : str, optional
        Browser executable (default :func:`find_chromium`).

    Returns
    -------
    list of PageReport
        One per page, with its problems (empty when the page reads well).

    Raises
    ------
    RuntimeError
        When no Chromium is installed (``apt-get install chromium``).
    """
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only this check drives a browser

    html_dir = Path(html_dir).resolve()
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError("read_book: no Chromium found (apt-get install chromium, or set HMA_MASCON_CHROMIUM)")
    if pages is None:
        pages = ["index.html"] + sorted(p.relative_to(html_dir).as_posix() for p in (html_dir / "book").glob("*.html"))
    leak = machine_path_pattern(html_dir.parents[1] if len(html_dir.parents) > 1 else html_dir, *private_paths)
    if screenshots_dir is not None:
        Path(screenshots_dir).mkdir(parents=True, exist_ok=True)
    reports = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            # the book is offline: any request that leaves the file system is a defect, and is refused
            context.route(re.compile(r"^(https?|wss?)://"), lambda route: route.abort())
            page = context.new_page()
            for rel in pages:
                reports.append(_read_page(page, html_dir, rel, leak, screenshots_dir, screenshot_chapters,
                                          timeout_ms))
        finally:
            browser.close()
    if screenshots_dir is not None:
        (Path(screenshots_dir) / "report.json").write_text(
            json.dumps([asdict(r) for r in reports], indent=1, default=str))
    return reports


def _read_page(page, html_dir: Path, rel: str, leak: re.Pattern, screenshots_dir, screenshot_chapters,
               timeout_ms) -> PageReport:
    report = PageReport(page=rel)
    uri = (html_dir / rel).as_uri()
    page.goto(uri, wait_until="load", timeout=timeout_ms)
    try:  # a redirect page (the root index.html, a meta refresh): read the page it leads to, once loaded
        redirect = page.evaluate("() => !!document.querySelector('meta[http-equiv=\"Refresh\" i]')")
    except Exception:  # noqa: BLE001 - the page's context went away: the redirect is under way
        redirect = True
    if redirect:
        page.wait_for_url(lambda url: url != uri, timeout=timeout_ms)
        page.wait_for_load_state("load", timeout=timeout_ms)
    try:  # MathJax 3 typesets after load; its startup promise settles when it is done
        page.wait_for_function("() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)",
                               timeout=timeout_ms)
        page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    except Exception as exc:  # noqa: BLE001 - a page whose MathJax never starts is a finding, not a crash
        report.problems.append(f"MathJax did not finish: {exc}")
    m = page.evaluate(_MEASURE)
    report.content_width, report.math, report.typeset = m["content"], m["math"], m["typeset"]
    report.figures = m["figures"]
    for w in m["wide"]:
        report.problems.append(f"wider than the page: {w['what']!r} ({w['right']:.0f} px beyond a limit of "
                               f"{w['limit']:.0f} px)")
    text = m["text"]
    for pattern, what in ((CACHE_PATTERN, "cache message"), (leak, "absolute path of the build machine"),
                          (TRACEBACK_PATTERN, "Python traceback")):
        hit = pattern.search(text)
        if hit:
            start = max(0, hit.start() - 40)
            report.problems.append(f"{what} in the text: …{text[start:hit.end() + 40]!r}…")
    if m["math"] and not m["typeset"]:
        report.problems.append(f"{m['math']} math element(s) but no typeset math (MathJax not loaded?)")
    if m["merror"]:
        report.problems.append(f"{m['merror']} MathJax error(s)")
    if _is_chapter(rel):
        for fig in m["figures"]:
            if fig["width"] < MIN_FIGURE_PX:
                report.problems.append(f"figure {fig['src']} rendered {fig['width']:.0f} px wide "
                                       f"(< {MIN_FIGURE_PX} px)")
    name = Path(rel).stem
    if screenshots_dir is not None and any(name.startswith(c) for c in screenshot_chapters):
        shot = Path(screenshots_dir) / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        report.screenshot = str(shot)
    return report
