"""The chapters are MyST Markdown notebooks, edited directly: thin, parametrised, results first.

Static checks read every chapter of ``_toc.yml`` with jupytext; the papermill runs execute two
chapters on reduced problems with changed parameters and check that the numbers glued into the
prose follow the parameters.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from hma_mascon import book
from hma_mascon.book import build as book_build

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [nb for nb in book.toc_notebooks(ROOT)] + book.toc_notebooks(ROOT, book_build.REGION_TOC)
CHAPTER_IDS = [nb.stem for nb in CHAPTERS]
#: tags that keep a code cell's input out of the reader's way (shown on request or not at all)
QUIET = {"hide-input", "remove-input", "remove-cell"}


def _read(nb):
    return jupytext.read(ROOT / nb, fmt="md:myst")


def test_every_chapter_is_a_myst_notebook_and_no_generated_copy_exists():
    assert len(CHAPTERS) >= 10
    for nb in CHAPTERS:
        assert nb.suffix == ".md", f"{nb}: chapters are MyST Markdown notebooks"
        assert not (ROOT / nb).with_suffix(".ipynb").exists(), f"{nb}: a generated .ipynb copy sits beside it"
    assert not list((ROOT / "scripts").glob("make_notebooks_*.py")), "notebook generator scripts are gone"


@pytest.mark.parametrize("nb", CHAPTERS, ids=CHAPTER_IDS)
def test_chapter_is_thin_and_parametrised(nb):
    cells = _read(nb).cells
    code = [c for c in cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the parameters cell comes first"
    names = {line.split("=")[0].strip() for line in code[0].source.splitlines()
             if "=" in line and not line.lstrip().startswith("#")}
    assert names == set(book.BOOK_KEYS), names ^ set(book.BOOK_KEYS)
    assert "hb.setup_notebook(globals()" in code[1].source
    # no function or class definitions, no loops over data: computations live in the package
    for c in code:
        for line in c.source.splitlines():
            assert not line.lstrip().startswith(("def ", "class ", "lambda ")), f"{nb}: {line.strip()}"


@pytest.mark.parametrize("nb", CHAPTERS, ids=CHAPTER_IDS)
def test_results_come_first_and_plumbing_is_hidden(nb):
    cells = _read(nb).cells
    code = [c for c in cells if c.cell_type == "code"]
    assert "remove-input" in code[1].metadata.get("tags", []) or "remove-cell" in code[1].metadata.get("tags", []), \
        "the set-up cell's code is not shown (its output, the provenance banner, is)"
    for c in code[1:]:
        tags = set(c.metadata.get("tags", []))
        assert tags & QUIET, f"{nb}: a code cell shows its code by default:\n{c.source[:200]}"
    text = "\n".join(c.source for c in cells)
    assert "print(f\"solution:" not in text


@pytest.mark.parametrize("nb", CHAPTERS, ids=CHAPTER_IDS)
def test_numbers_of_ours_in_the_prose_are_glued(nb):
    """Prose that states a result of ours ('we find', 'ours') takes it from the run (``{glue:text}``)."""
    cells = _read(nb).cells
    for c in cells:
        if c.cell_type != "markdown":
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", c.source):
            if re.search(r"\bwe find\b", sentence, re.IGNORECASE):
                assert "{glue:text}" in sentence or "{glue}" in sentence, f"{nb}: typed-in result: {sentence[:200]}"
    keys = re.findall(r"\{glue:text\}`([^`:]+)", "\n".join(c.source for c in cells if c.cell_type == "markdown"))
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    if keys:
        assert "glue" in code, f"{nb}: the prose pastes {keys[:3]} but no code cell glues anything"


@pytest.mark.parametrize("nb", CHAPTERS, ids=CHAPTER_IDS)
def test_opening_and_saving_in_jupyter_keeps_the_file(nb, tmp_path):
    """Jupyter (with jupytext) reads the .md and writes it back: the text must come back unchanged
    apart from the jupytext version stamp, so a student's save does not rewrite the chapter."""
    text = (ROOT / nb).read_text()
    copy = tmp_path / nb.name
    jupytext.write(jupytext.reads(text, fmt="md:myst"), copy, fmt="md:myst")
    strip = lambda s: re.sub(r"jupytext_version: .*\n", "", s)  # noqa: E731
    assert strip(copy.read_text()) == strip(text)


def test_an_edited_chapter_is_what_the_build_runs(tmp_path):
    """A student changes a parameter in the .md and saves: the staged notebook papermill runs has it."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "book", src / "book", ignore=shutil.ignore_patterns("_executed", "_build"))
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, src / name)
    chapter = src / "book" / "03_preliminary.md"
    text = chapter.read_text()
    assert 'preset = "default"' in text
    chapter.write_text(text.replace('preset = "default"', 'preset = "paper"'))
    staged = tmp_path / "staged"
    book_build.stage_book(src, staged)
    nb = nbformat.read(staged / "book" / "03_preliminary.ipynb", as_version=4)
    assert 'preset = "paper"' in nb.cells[[c.cell_type for c in nb.cells].index("code")].source
    assert not (staged / "book" / "03_preliminary.md").exists(), "Sphinx must see one source per page"
    import papermill

    assert papermill.inspect_notebook(str(staged / "book" / "03_preliminary.ipynb"))["preset"]["default"] == '"paper"'


def test_a_broken_chapter_is_named(tmp_path):
    bad = tmp_path / "x.md"
    bad.write_text("---\nkernelspec:\n  name: python3\n---\n\n```{code-cell}\n:tags: [parameters\nx = 1\n```\n")
    with pytest.raises(ValueError, match=r"x\.md"):
        book_build.convert_to_ipynb(bad, tmp_path / "x.ipynb")


def test_toc_lists_the_chapters_in_order():
    files = book.toc_files(ROOT)
    numbers = [int(Path(f).name.split("_")[0]) for f in files if re.match(r"\d+_", Path(f).name)]
    assert numbers == sorted(numbers)


def _glued(nb) -> dict:
    """``{key: text/plain}`` of every value a notebook glued (myst-nb ``glue``)."""
    out = {}
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook", {})
            if meta.get("name"):
                prefix = meta.get("mime_prefix", "")
                data = o["data"]
                out[meta["name"]] = data.get(prefix + "text/plain", data.get(prefix + "text/markdown"))
    return out


def _run_chapter(name, tmp_path, overrides, label):
    from hma_mascon.synthetic import ensure_synthetic_data_dir

    data_dir = ensure_synthetic_data_dir()
    out = tmp_path / f"{label}.ipynb"
    env = dict(os.environ, HMA_MASCON_CACHE=str(tmp_path / "cache"))
    code = ("import sys, json; from hma_mascon import book; "
            f"book.execute_notebook(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), progress=False)")
    params = {"data_dir": str(data_dir), "overrides": overrides}
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT / "book" / name), str(out), json.dumps(params)],
                          capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


REDUCED = {"period_start": "2004-01", "period_end": "2005-12", "box": [68, 86, 38, 46],
           "mascon_step_deg": 1.0, "obs_step_deg": 1.0}


@pytest.mark.book
def test_regional_chapter_text_follows_a_changed_parameter(tmp_path):
    """Chapter 7 on a reduced problem at two altitudes: the numbers glued into its prose change,
    the paper's do not, and the page has its figures and no error."""
    a = _run_chapter("07_regional_trends.md", tmp_path, {**REDUCED, "altitude_km": 400}, "h400")
    b = _run_chapter("07_regional_trends.md", tmp_path, {**REDUCED, "altitude_km": 300}, "h300")
    ga, gb = _glued(a), _glued(b)
    ours = [k for k in ga if k.startswith("ours.")]
    assert ours, "chapter 7 glues no number of ours"
    assert any(ga[k] != gb.get(k) for k in ours), "the text did not follow the altitude"
    assert all(ga[k] == gb[k] for k in ga if k.startswith("paper."))
    for nb in (a, b):
        text = json.dumps(nb["cells"])
        assert '"output_type": "error"' not in text and "image/png" in text
        assert "2004-01..2005-12" in text
    injected = [c for c in a["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert injected and '"altitude_km": 400' in "".join(injected[0]["source"])


@pytest.mark.book
def test_papermill_runs_preliminary_chapter_at_400_km_on_a_reduced_problem(tmp_path):
    """Chapter 3 with altitude 400 km, a small box and seven years: the changed parameter reaches
    the page, figures are drawn and nothing errors."""
    nb = _run_chapter("03_preliminary.md", tmp_path, {"altitude_km": "400 km", "nmax": 60,
                                                     "box": [79.0, 86.0, 30.0, 35.0], "period_start": "2004-01",
                                                     "period_end": "2010-12"}, "ch3")
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert not any(o.get("output_type") == "error" for o in outputs)
    html = ["".join(o["data"]["text/html"]) for o in outputs if "text/html" in o.get("data", {})]
    assert any("hma-provenance" in h and "400.0" in h for h in html)
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 5
    glued = _glued(nb)
    assert glued.get("ours.n_months") == "84"
    assert "ours.median_alpha" in glued


@pytest.mark.realdata
@pytest.mark.book
def test_closed_loop_chapter_on_real_data_says_it_needs_the_truth(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("HMA_MASCON_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out.ipynb"
    book.execute_notebook(ROOT / "book" / "09_closed_loop.md", out, {"data": "real", "data_dir": str(data_dir)},
                          cwd=tmp_path, progress=False)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not any(o.get("output_type") == "error" for o in outputs)
    text = "\n".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    text += "\n".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "needs the synthetic world" in text
    assert not any("image/png" in o.get("data", {}) for o in outputs)
