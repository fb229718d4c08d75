"""The solve chapters of the book (2, 3, 4, 9): generated from the script, parameters from the
schema, and a papermill run with a changed parameter on a reduced problem."""

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

from hma_mascon import book

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["02_consistency.ipynb", "03_preliminary.ipynb", "04_refined.ipynb", "09_closed_loop.ipynb"]


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks_solve", ROOT / "scripts" / "make_notebooks_solve.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_notebooks_match_their_generator(tmp_path):
    """The committed notebooks are exactly what the script writes (no outputs, reviewable)."""
    gen = _generator()
    gen.BOOK = tmp_path
    for name, cells in (("02_consistency.ipynb", gen.CH2), ("03_preliminary.ipynb", gen.CH3),
                        ("04_refined.ipynb", gen.CH4), ("09_closed_loop.ipynb", gen.CH9)):
        gen.nb_write(name, cells)
        fresh = json.loads((tmp_path / name).read_text())
        committed = json.loads((ROOT / "book" / name).read_text())
        assert fresh == committed, f"book/{name} is stale: run python scripts/make_notebooks_solve.py"
        assert all(not c.get("outputs") for c in committed["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameters_cell_uses_schema_names_and_setup_follows(name):
    nb = nbformat.read(ROOT / "book" / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    names = {line.split("=")[0].strip() for line in code[0].source.splitlines()
             if "=" in line and not line.startswith("#")}
    assert names == set(book.BOOK_KEYS), names ^ set(book.BOOK_KEYS)
    assert "hb.setup_notebook(globals())" in code[1].source


def test_toc_lists_the_solve_chapters_in_order():
    files = book.toc_files(ROOT)
    mine = [f"book/{n[:-6]}" for n in NOTEBOOKS]
    assert all(f in files for f in mine)
    assert [files.index(f) for f in mine] == sorted(files.index(f) for f in mine)


@pytest.mark.book
def test_papermill_runs_preliminary_chapter_at_400_km_on_a_reduced_problem(tmp_path, monkeypatch):
    """Chapter 3 with altitude 400 km, a small box and seven years (12 months of the reduced problem): runs end to end, the changed
    parameter reaches the page, figures are drawn and nothing errors."""
    from hma_mascon.synthetic import ensure_synthetic_data_dir

    data_dir = ensure_synthetic_data_dir()  # before moving the cache: reuse the world
    monkeypatch.setenv("HMA_MASCON_CACHE", str(tmp_path / "cache"))
    src = ROOT / "book" / "03_preliminary.ipynb"
    out = tmp_path / "out.ipynb"
    params = {"data_dir": str(data_dir), "overrides": {"altitude_km": "400 km", "nmax": 60,
                                                       "box": [79.0, 86.0, 30.0, 35.0], "period_start": "2004-01",
                                                       "period_end": "2010-12"}}
    book.execute_notebook(src, out, params, cwd=tmp_path, progress=False)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not any(o.get("output_type") == "error" for o in outputs)
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("hma-provenance" in h and "400.0" in h for h in html)
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 5
    text = "\n".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "84 months" in text and "median alpha" in text


@pytest.mark.realdata
@pytest.mark.book
def test_closed_loop_chapter_on_real_data_says_it_needs_the_truth(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("HMA_MASCON_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out.ipynb"
    book.execute_notebook(ROOT / "book" / "09_closed_loop.ipynb", out, {"data": "real", "data_dir": str(data_dir)},
                          cwd=tmp_path, progress=False)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not any(o.get("output_type") == "error" for o in outputs)
    text = "\n".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "needs the synthetic world" in text
    assert not any("image/png" in o.get("data", {}) for o in outputs)
