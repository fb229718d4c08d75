"""Tests of the book machinery: parameter validation, notebook execution, the solution cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jupytext
import numpy as np
import pytest
import xarray as xr

from hma_mascon import __version__ as book_version
from hma_mascon import book
from hma_mascon.book import ParameterError, cache_key, cached, validate_parameters
from hma_mascon.book import build as book_build

# ------------------------------------------------------------------ parameters


def test_book_parameters_are_the_table_plus_data():
    params = validate_parameters({})
    assert params["data"] == "synthetic" and params["data_dir"] is None and params.preset == "default"
    assert params.stage("estimator") == book.validate_parameters({}).stage("estimator")
    p = validate_parameters({"preset": "paper", "overrides": {"altitude_km": "400 km"}, "alpha_method": "GCV"})
    assert p.preset == "paper" and p["altitude_km"] == 400.0 and p["alpha_method"] == "gcv"
    assert p["prior_rule"] == "A" and p.overrides() == {"altitude_km": 400.0, "alpha_method": "gcv"}
    with pytest.raises(ParameterError, match="unknown book parameter"):
        validate_parameters({"altitud_km": 400})
    with pytest.raises(ParameterError, match="'data' = 'reel'"):
        validate_parameters({"data": "reel"})
    with pytest.raises(ParameterError, match="altitude_km"):
        validate_parameters({"overrides": {"altitude_km": "high"}})


def test_setup_notebook_reads_the_parameters_cell_and_banner_names_the_data():
    ns = {"data": "synthetic", "preset": "default", "overrides": {"altitude_km": "300 km", "seed": "7"}}
    params = book.setup_notebook(ns, need_data=False, show_banner=False)
    assert ns["params"] is params and params.altitude_km == 300.0 and params.seed == 7
    assert params.box == (65.0, 105.0, 26.0, 47.0)
    banner = book.provenance_banner(params)
    for text in (banner._repr_html_(), banner._repr_markdown_()):
        assert "seed 7" in text and book_version in text and "300.0" in text and "default" in text
        assert "http" not in text
    real = book.provenance_banner({**params, "data": "real", "data_dir": str(Path(__file__).parent)})
    # the banner names the directory and its content identity, never the build machine's path
    assert "real data directory <code>tests/</code>" in real.html and str(Path(__file__).parent) not in real.html


def test_real_data_needs_an_existing_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("HMA_MASCON_DATA", raising=False)
    with pytest.raises(ParameterError, match="data_dir"):
        book.resolve_book_data_dir(validate_parameters({"data": "real"}))
    with pytest.raises(ParameterError, match="no such directory"):
        book.resolve_book_data_dir(validate_parameters({"data": "real", "data_dir": str(tmp_path / "x")}))
    assert book.resolve_book_data_dir(validate_parameters({"data": "real", "data_dir": str(tmp_path)})) == \
        str(tmp_path.resolve())


# ------------------------------------------------------------------ table of contents, notebooks


def test_toc_lists_intro_and_demo_notebook_with_parameters_cell():
    files = book.toc_files()
    assert files[0] == "book/intro"
    notebooks = book.toc_notebooks()
    assert notebooks, "the table of contents must hold at least one notebook"
    for nb_path in notebooks:
        nb = jupytext.read(book.BOOK_ROOT / nb_path, fmt="md:myst")
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{nb_path}: needs exactly one cell tagged 'parameters'"
        after = nb.cells[nb.cells.index(tagged[0]) + 1]
        assert "setup_notebook(globals()" in after.source, f"{nb_path}: setup_notebook must follow parameters"
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
            f"{nb_path}: source notebooks are committed without outputs"


def test_toc_errors_name_the_file(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nchapters: []\n")
    with pytest.raises(ValueError, match="_toc.yml.*root"):
        book.toc_files(tmp_path)


@pytest.mark.book
def test_papermill_runs_demo_with_changed_parameter(tmp_path, monkeypatch):
    import nbformat

    monkeypatch.setenv("HMA_MASCON_CACHE", str(tmp_path / "cache"))
    src = book.BOOK_ROOT / "book" / "01_grids.md"
    out = tmp_path / "out.ipynb"
    book.execute_notebook(src, out, {"overrides": {"altitude_km": "300 km", "obs_step_deg": "0.8"}}, cwd=tmp_path,
                          progress=False)
    nb = nbformat.read(out, as_version=4)
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
                     if o.get("output_type") == "stream")
    # 0.8 deg nodes over 65..105 x 26..46.8 -> 51 x 27; the altitude reached the notebook as a number
    n_lon = int(np.floor((105 - 65) / 0.8 + 1e-9)) + 1
    n_lat = int(np.floor((47 - 26) / 0.8 + 1e-9)) + 1
    assert f"{n_lat} x {n_lon} = {n_lat * n_lon} points at H = 300 km" in text
    assert "3360 cells" in text
    html_outputs = [o["data"]["text/html"] for c in nb.cells for o in c.get("outputs", [])
                    if "text/html" in o.get("data", {})]
    assert any("hma-provenance" in h and "300.0" in h for h in html_outputs)
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.book
def test_papermill_rejects_a_bad_parameter(tmp_path):
    import papermill

    src = book.BOOK_ROOT / "book" / "01_grids.md"
    with pytest.raises(papermill.PapermillExecutionError, match="altitude_km"):
        book.execute_notebook(src, tmp_path / "bad.ipynb", {"overrides": {"altitude_km": "very high"}},
                              cwd=tmp_path,
                              progress=False)


# ------------------------------------------------------------------ cache


def _field(value):
    return xr.Dataset({"x": (("lat", "lon"), np.full((2, 3), float(value)), {"units": "m"})},
                      coords={"lat": [30.0, 30.5], "lon": [80.0, 80.5, 81.0]})


def test_cache_key_changes_with_each_ingredient(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("1")
    base = {"altitude_km": 450.0, "alpha_method": "mse"}
    k0, material = cache_key(base, data_dir=data)
    assert k0 == cache_key(dict(reversed(list(base.items()))), data_dir=data)[0]  # order-free
    assert cache_key({**base, "altitude_km": 400.0}, data_dir=data)[0] != k0
    assert cache_key({**base, "alpha_method": "gcv"}, data_dir=data)[0] != k0
    assert material["version"] == book_version and len(material["source"]) == 64
    (data / "a.txt").write_text("22")  # the input data changed
    assert cache_key(base, data_dir=data)[0] != k0


def test_cached_reuses_then_recomputes_when_stale(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "input.txt").write_text("v1")
    calls = []

    def compute(value):
        def fn():
            calls.append(value)
            return _field(value)
        return fn

    key = {"altitude_km": 450.0}
    first = cached(key, compute(1), data_dir=data, cache_dir=tmp_path / "c", verbose=False)
    again = cached(key, compute(99), data_dir=data, cache_dir=tmp_path / "c", verbose=False)
    assert calls == [1] and float(again["x"].mean()) == 1.0 and again["x"].attrs["units"] == "m"
    xr.testing.assert_identical(first, again)
    # changed parameter -> new entry
    other = cached({"altitude_km": 400.0}, compute(2), data_dir=data, cache_dir=tmp_path / "c", verbose=False)
    assert calls == [1, 2] and float(other["x"].mean()) == 2.0
    # changed input data -> the old entry is stale and not reused
    (data / "input.txt").write_text("v2-longer")
    fresh = cached(key, compute(3), data_dir=data, cache_dir=tmp_path / "c", verbose=False)
    assert calls == [1, 2, 3] and float(fresh["x"].mean()) == 3.0


def test_cached_never_trusts_a_mismatching_or_broken_entry(tmp_path):
    calls = []

    def fn():
        calls.append(1)
        return {"alpha": 0.5, "n": len(calls)}

    key = {"seed": 1}
    assert cached(key, fn, cache_dir=tmp_path, verbose=False)["n"] == 1
    (meta_path,) = tmp_path.glob("solution-*.json")
    meta = json.loads(meta_path.read_text())
    meta["material"]["version"] = "0.0.0-old"  # an entry written by another package version
    meta_path.write_text(json.dumps(meta))
    assert cached(key, fn, cache_dir=tmp_path, verbose=False)["n"] == 2
    (payload,) = tmp_path.glob("solution-*.pkl")
    payload.write_bytes(b"not a pickle")
    assert cached(key, fn, cache_dir=tmp_path, verbose=False)["n"] == 3
    assert cached(key, fn, cache_dir=tmp_path, verbose=False)["n"] == 3  # repaired entry reused


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HMA_MASCON_CACHE", str(tmp_path / "envcache"))
    cached({"a": 1}, lambda: [1, 2], name="demo", verbose=False)
    assert list((tmp_path / "envcache").glob("demo-*.pkl"))


# ------------------------------------------------------------------ HTML checks and CLI


def test_external_url_finder_and_stripper(tmp_path):
    page = tmp_path / "p.html"
    page.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"></svg>\n'
        '<script src="https://cdn.example.org/x.js"></script>\n'
        '<a href="https://doi.org/10.1/abc">doi</a> <a href="local.html">ok</a>\n'
        '<script>const THEBE_JS_URL = "https://unpkg.com/thebe"; </script>\n')
    hits = book.find_external_urls(tmp_path)
    assert {(h[1], h[2]) for h in hits} == {(2, "src"), (3, "href"), (4, "thebe_js_url")}
    assert book.strip_external_links(tmp_path) == 2
    left = book.find_external_urls(tmp_path)
    assert [(h[1], h[2]) for h in left] == [(2, "src")]  # a loading script is reported, not hidden
    assert ">doi</a>" in page.read_text() and 'href="local.html"' in page.read_text()


def test_cli_registers_book_command():
    from hma_mascon.cli import build_parser

    args = build_parser().parse_args(["book", "-p", "altitude_km=400", "-p", "alpha_method=GCV",
                                      "--only", "01_grids", "--out", "/tmp/x", "--preset", "paper", "--kernel",
                                      "truncated"])
    assert args.func is not None and args.only == "01_grids" and args.out == "/tmp/x"
    assert book.parse_assignments(args.param) == {"altitude_km": "400", "alpha_method": "GCV"}
    from hma_mascon.params import overrides_from_args

    over = overrides_from_args(args)
    assert args.preset == "paper" and over == {"altitude_km": "400", "alpha_method": "GCV", "kernel": "truncated"}
    p = validate_parameters({"preset": args.preset, **over})
    assert p["prior_rule"] == "A" and p["kernel"] == "truncated" and p["altitude_km"] == 400.0


def test_cached_solution_is_shared_and_keyed_by_every_parameter(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "f.txt").write_text("x")
    params = validate_parameters({"data": "real", "data_dir": str(data)})
    calls = []

    def solve():
        calls.append(1)
        return _field(len(calls))

    a = book.cached_solution(params, solve, cache_dir=tmp_path / "c", verbose=False)
    b = book.cached_solution(dict(params), solve, cache_dir=tmp_path / "c", verbose=False)  # next notebook
    assert len(calls) == 1
    xr.testing.assert_identical(a, b)
    book.cached_solution({**params, "period_end": "2020-12"}, solve, cache_dir=tmp_path / "c", verbose=False)
    assert len(calls) == 2
    book.cached_solution({**params, "period_end": "2020-12"}, solve, exclude=("period_end",),
                         cache_dir=tmp_path / "c", verbose=False)
    assert len(calls) == 3  # a different key material (period left out) is a different entry
    book.cached_solution({**params, "period_end": "2019-12"}, solve, exclude=("period_end",),
                         cache_dir=tmp_path / "c", verbose=False)
    assert len(calls) == 3  # ... and the excluded parameter no longer matters


def test_mathjax_falls_back_with_a_warning_when_npm_is_absent(tmp_path, monkeypatch):
    monkeypatch.setattr(book_build.shutil, "which", lambda name: None)
    with pytest.warns(UserWarning, match="npm not found"):
        assert book.install_mathjax(tmp_path / "static", cache_dir=tmp_path / "empty-npm-cache") is False
    assert not (tmp_path / "static" / "mathjax").exists()


def test_data_identity_follows_checksums_and_files(tmp_path):
    (tmp_path / "SHA256SUMS").write_text("abc  grace/a.gz\n")
    (tmp_path / "grace").mkdir()
    (tmp_path / "grace" / "a.gz").write_bytes(b"1")
    first = book.data_identity(tmp_path)
    assert first == book.data_identity(tmp_path)
    (tmp_path / "SHA256SUMS").write_text("abd  grace/a.gz\n")
    second = book.data_identity(tmp_path)
    assert second != first
    (tmp_path / "grace" / "b.gz").write_bytes(b"2")  # a file the checksums do not list still counts
    assert book.data_identity(tmp_path) != second
    assert book.data_identity(None) == "none"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        book.data_identity(tmp_path / "nowhere")


def test_data_identity_sees_a_byte_changed_with_size_and_time_put_back(tmp_path, monkeypatch):
    monkeypatch.setenv("HMA_MASCON_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    (data / "grace").mkdir(parents=True)
    f = data / "grace" / "a.gz"
    f.write_bytes(b"GRCOF2 2 0 1.0e-10")
    first = book.data_identity(data)
    assert (tmp_path / "cache" / "sha256-cache.json").is_file()  # hashed once, cached
    assert book.data_identity(data) == first
    st = f.stat()
    f.write_bytes(b"GRCOF2 2 0 1.1e-10")  # one digit, same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same modification time
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    assert book.data_identity(data) != first
    lock = data / "grace" / ".a.gz.lock"  # a writer's lock or temporary is not data
    lock.write_text("1 host 0")
    (data / "grace" / ".tmp-x-a.gz").write_bytes(b"partial")
    f.write_bytes(b"GRCOF2 2 0 1.0e-10")
    assert book.data_identity(data) == first


@pytest.mark.parametrize("only, expect", [("3", ["03_preliminary.md"]), ("03", ["03_preliminary.md"]),
                                          ("refined", ["04_refined.md"]), ("10", ["10_ledger.md"])])
def test_only_takes_a_chapter_number_or_a_name_part(only, expect):
    notebooks = book.toc_notebooks(book.BOOK_ROOT)
    assert [Path(nb).name for nb in book_build.select_notebooks(notebooks, only)] == expect


@pytest.mark.parametrize("only", ["", "  ", "0", "99", "nothing-like-this"])
def test_only_refuses_an_empty_or_unmatched_value_before_running(only):
    """Issue 13: ``--only ''`` and ``--only 0`` used to run the whole book."""
    with pytest.raises(ValueError, match="--only"):
        book_build.select_notebooks(book.toc_notebooks(book.BOOK_ROOT), only)


def test_html_replaces_the_previous_book_only_when_built_and_checked(tmp_path, monkeypatch):
    """Issue 13: the HTML is built beside the previous book and renamed into place only when
    jupyter-book succeeded; a failed build names the target and leaves the previous book intact."""
    import subprocess

    root = tmp_path / "src"
    root.mkdir()
    (root / "book").mkdir()
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (root / "_config.yml").write_text("title: t\n")
    (root / "book" / "intro.md").write_text("# Intro\n")
    out = tmp_path / "out"
    html = out / "_build" / "html"
    html.mkdir(parents=True)
    (html / "index.html").write_text("previous")
    monkeypatch.setattr(book_build, "install_mathjax", lambda static: True)
    real_run = subprocess.run

    def jupyter_book(result):  # stands in for the jupyter-book call only (git etc. run for real)
        return lambda cmd, **kw: result(cmd) if "--path-output" in cmd else real_run(cmd, **kw)

    monkeypatch.setattr(book_build.subprocess, "run",
                        jupyter_book(lambda cmd: subprocess.CompletedProcess(cmd, 1, "", "boom")))
    with pytest.raises(OSError, match=r"html: writing failed.*jupyter-book build failed \(exit 1\)"):
        book.run_book(out_dir=out, root=root, progress=False)
    assert (html / "index.html").read_text() == "previous"
    assert [p.name for p in html.parent.iterdir() if p.name.startswith(".tmp-")] == []

    def build(cmd):
        page = Path(cmd[cmd.index("--path-output") + 1]) / "_build" / "html"
        page.mkdir(parents=True)
        (page / "index.html").write_text("<p>new</p>")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(book_build.subprocess, "run", jupyter_book(build))
    result = book.run_book(out_dir=out, root=root, progress=False)
    assert result.html_dir == html and (html / "index.html").read_text() == "<p>new</p>"


def test_without_data_dir_names_files_relative_to_the_data_directory(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    text = f"glacier_prior_grid: {data}/glaciers/x.nc; also {data.resolve()}/gia/y.txt"
    assert book.without_data_dir(text, data) == "glacier_prior_grid: glaciers/x.nc; also gia/y.txt"
    assert book.without_data_dir(text, None) == text
