"""The result chapters (5-8, 10) are generated, listed in the table of contents, and run with papermill
with changed parameters on a reduced problem (a Tien Shan sub-box, 1-degree grids, two years, H = 400 km).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["05_aster", "06_insitu", "07_regional_trends", "08_ablation", "10_ledger"]


def _cells(name):
    return json.loads((ROOT / "book" / f"{name}.ipynb").read_text())["cells"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_thin_and_parametrised(name):
    cells = _cells(name)
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code.index(tagged[0]) == 0, "the parameters cell comes first"
    setup = "".join(code[1]["source"])
    assert "hb.setup_notebook(globals())" in setup and "hb.book_solution(params)" in setup
    assert all(not c.get("outputs") for c in code), "notebooks are committed without outputs"
    # no function or class definitions in a notebook: computations live in the package
    assert not any(line.lstrip().startswith(("def ", "class ")) for c in code for line in "".join(c["source"]).splitlines())


def test_generator_reproduces_the_committed_notebooks(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "make_notebooks_results.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.BOOK = tmp_path
    gen.main()
    for name in NOTEBOOKS:
        new = json.loads((tmp_path / f"{name}.ipynb").read_text())["cells"]
        assert [c["source"] for c in new] == [c["source"] for c in _cells(name)], name


def test_toc_lists_the_chapters_in_order():
    from hma_mascon.book import toc_files

    files = toc_files(ROOT)
    pos = [files.index(f"book/{n}") for n in NOTEBOOKS]
    assert pos == sorted(pos)
    assert files.index("book/08_ablation") < files.index("book/09_closed_loop") < files.index("book/10_ledger")


def test_regional_trends_chapter_runs_with_changed_parameters(tmp_path):
    """``papermill book/07_regional_trends.ipynb -p altitude_km 400 ...`` on a reduced problem."""
    from hma_mascon.synthetic import ensure_synthetic_data_dir

    data_dir = ensure_synthetic_data_dir()
    out = tmp_path / "07.ipynb"
    env = dict(os.environ, HMA_MASCON_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "papermill", str(ROOT / "book" / "07_regional_trends.ipynb"), str(out),
           "--cwd", str(ROOT / "book"), "-p", "data_dir", str(data_dir),
           "-y", "overrides: {altitude_km: 400, period_start: '2004-01', period_end: '2005-12', box: [68, 86, 38, 46], "
           "mascon_step_deg: 1.0, obs_step_deg: 1.0}", "--no-progress-bar"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = json.loads(out.read_text())
    text = json.dumps(nb["cells"])
    injected = [c for c in nb["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert injected and '"altitude_km": 400' in "".join(injected[0]["source"])  # the injected parameters cell
    assert "2004-01..2005-12" in text  # the solution covers the reduced period
    assert '"output_type": "error"' not in text
    assert "image/png" in text
