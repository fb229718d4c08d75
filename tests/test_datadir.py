"""Data directory resolution, missing-data errors, checksum verification, status and fetch."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import shutil
import threading
import warnings
from pathlib import Path

import pytest

from hma_mascon import datadir
from hma_mascon.cli import main

# --------------------------------------------------------------------------- resolve_data_dir


def test_resolve_precedence(tmp_path, monkeypatch):
    a, b, c = (tmp_path / x for x in "abc")
    for d in (a, b, c):
        d.mkdir()
    monkeypatch.setenv(datadir.ENV_VAR, str(b))
    assert datadir.resolve_data_dir(a, default=c) == a
    assert datadir.resolve_data_dir(None, default=c) == b
    monkeypatch.delenv(datadir.ENV_VAR)
    assert datadir.resolve_data_dir(None, default=c) == c
    with pytest.raises(FileNotFoundError) as err:
        datadir.resolve_data_dir()
    assert "--data-dir" in str(err.value) and datadir.ENV_VAR in str(err.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datadir.resolve_data_dir(tmp_path / "nope")
    assert datadir.resolve_data_dir(tmp_path / "nope", must_exist=False) == tmp_path / "nope"
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        datadir.resolve_data_dir(tmp_path / "file")


# --------------------------------------------------------------------------- not found


def test_not_found_message_obtainable(tmp_path):
    with pytest.raises(datadir.DatasetNotFoundError) as err:
        datadir.dataset_path("tn13", tmp_path)
    msg = str(err.value)
    entry = datadir.load_manifest()["tn13"]
    assert "'tn13'" in msg
    assert str(tmp_path / "low_degree/TN-13_GEOC_CSR_RL0602.txt") in msg
    assert "hma-mascon data fetch tn13" in msg and entry.source in msg
    assert isinstance(err.value, FileNotFoundError)


def test_not_found_message_not_obtainable(tmp_path):
    for name in ("lake_storage", "hydrology_model", "tongji_grace2022"):
        with pytest.raises(datadir.DatasetNotFoundError) as err:
            datadir.dataset_files(name, tmp_path)
        msg = str(err.value)
        assert repr(name) in msg
        assert "not obtainable offline" in msg and "hma-mascon synthetic" in msg
        assert str(tmp_path / datadir.load_manifest()[name].path[0]) in msg
    assert datadir.dataset_files("lake_storage", tmp_path, required=False) == []


def test_unknown_dataset_lists_names(tmp_path):
    with pytest.raises(KeyError, match="csr_rl06_gsm"):
        datadir.dataset_files("no_such_thing", tmp_path)


def test_multi_file_primary_and_match(tmp_path):
    wgms = tmp_path / "insitu" / "wgms"
    wgms.mkdir(parents=True)
    for name in ("mbdata_WGMS-00912.csv", "mbdata_WGMS-00732.csv", "rgi_wgms_links_x.csv", "profile_WGMS-1.csv"):
        (wgms / name).write_text("x\n")
    files = datadir.dataset_files("wgms_insitu", tmp_path)
    assert [f.name for f in files] == ["mbdata_WGMS-00732.csv", "mbdata_WGMS-00912.csv", "rgi_wgms_links_x.csv"]
    links = datadir.dataset_files("wgms_insitu", tmp_path, match="rgi_wgms_links*")
    assert [f.name for f in links] == ["rgi_wgms_links_x.csv"]
    with pytest.raises(ValueError, match="matches 2 files"):
        datadir.dataset_path("wgms_insitu", tmp_path)


# --------------------------------------------------------------------------- checksums


def _copy_small(data_dir: Path, tmp_path: Path, rel: str) -> Path:
    dst = tmp_path / rel
    dst.parent.mkdir(parents=True)
    shutil.copyfile(data_dir / rel, dst)
    return dst


@pytest.mark.realdata
def test_checksum_ok_then_tampered(data_dir, tmp_path):
    rel = "low_degree/TN-14_C30_C20_GSFC_SLR.txt"
    dst = _copy_small(data_dir, tmp_path, rel)
    assert datadir.verify_checksums("tn14", tmp_path) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert datadir.dataset_path("tn14", tmp_path, verify=True) == dst
    expected = datadir.load_manifest()["tn14"].sha256[rel]
    content = dst.read_bytes()
    dst.write_bytes(content.replace(b"C20", b"C2O", 1))  # one byte changed
    bad = datadir.verify_checksums("tn14", tmp_path)
    assert bad == [(dst, expected, hashlib.sha256(dst.read_bytes()).hexdigest())]
    assert bad[0][1] != bad[0][2]
    with pytest.warns(datadir.ChecksumMismatchWarning, match=str(dst)):
        datadir.dataset_path("tn14", tmp_path, verify=True)
    df = datadir.data_status(tmp_path, progress=False).set_index("dataset")
    assert df.loc["tn14", "checksum"] == "mismatch"
    assert df.loc["tn14", "mismatched"] == [rel]
    assert main(["data", "status", "--data-dir", str(tmp_path), "--no-progress"]) == 1


def test_checksum_detection_on_generated_dataset(tmp_path):
    """Independent of the mirror: a manifest whose digest we compute, then a flipped byte."""
    payload = b"degree order C S\n2 0 -4.84e-4 0\n"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_bytes(payload)
    manifest = _tmp_manifest(tmp_path, hashlib.sha256(payload).hexdigest())
    assert datadir.verify_checksums("toy", tmp_path, manifest=manifest) == []
    (tmp_path / "d" / "a.txt").write_bytes(payload[:-2] + b"1\n")
    [(path, expected, actual)] = datadir.verify_checksums("toy", tmp_path, manifest=manifest)
    assert expected == hashlib.sha256(payload).hexdigest() and actual == datadir.file_sha256(path)


def test_malformed_checksum_file_names_file_and_line(tmp_path):
    bad = tmp_path / "x.sha256"
    bad.write_text("0" * 64 + "  ok/file\nnot-a-hash  other/file\n")
    with pytest.raises(datadir.ManifestError, match=r"x\.sha256, line 2"):
        datadir.read_sha256sum_file(bad)


def test_malformed_manifest_names_file(tmp_path):
    path = tmp_path / "m.yml"
    path.write_text("datasets:\n  toy:\n    title: t\n")
    with pytest.raises(datadir.ManifestError, match=r"m\.yml.*'toy'.*lacks key"):
        datadir.load_manifest(path)
    path.write_text("datasets: [\n")
    with pytest.raises(datadir.ManifestError, match=r"m\.yml, line \d+: invalid YAML"):
        datadir.load_manifest(path)


# --------------------------------------------------------------------------- status


def test_status_empty_dir_lists_everything_and_fails(tmp_path, capsys):
    df = datadir.data_status(tmp_path, progress=False)
    names = list(datadir.load_manifest())
    assert list(df["dataset"]) == names
    assert (df["found"] == 0).all() and (df["checksum"] == "unknown").all()
    assert df.set_index("dataset").loc["csr_rl06_gsm", "expected"] == 231
    assert main(["data", "status", "--data-dir", str(tmp_path), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "NOT OK" in out and "csr_rl06_gsm: missing" in out


@pytest.mark.realdata
def test_status_cli_on_mirror(data_dir, capsys):
    assert main(["data", "status", "--data-dir", str(data_dir), "--no-progress"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name, entry in datadir.load_manifest().items():
        [tokens] = [ln.split() for ln in lines if ln.split() and ln.split()[0] == name]
        if entry.obtainable_offline:
            n = len(entry.sha256)
            assert tokens[1:4] == ["ok", f"{n}/{n}", "ok"], tokens
        else:
            assert tokens[1] == "absent" and tokens[2].startswith("0/") and tokens[3] == "unknown", tokens
    assert "OK: every dataset" in out


# --------------------------------------------------------------------------- fetch (loopback only)


def _tmp_manifest(tmp_path: Path, digest: str, url: str | None = None) -> dict:
    base = dataclasses.replace(
        datadir.load_manifest()["tn13"],
        name="toy",
        path=("d/a.txt",),
        sha256={"d/a.txt": digest},
        sha256_source="inline",
        fetch_url=url,
    )
    return {"toy": base}


@pytest.fixture
def http_root(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


def test_fetch_checks_hash(tmp_path, http_root):
    served, base = http_root
    payload = ("\n".join(f"{n} {1.0 / (n + 1):.6e}" for n in range(200)) + "\n").encode()
    (served / "a.txt").write_bytes(payload)
    manifest = _tmp_manifest(tmp_path, hashlib.sha256(payload).hexdigest(), url=base + "a.txt")
    target = tmp_path / "dd"
    [got] = datadir.fetch_dataset("toy", target, manifest=manifest, progress=False)
    assert got == target / "d" / "a.txt" and got.read_bytes() == payload
    assert datadir.dataset_path("toy", target, manifest=manifest) == got
    # a wrong hash is rejected and nothing is left at the destination
    wrong = _tmp_manifest(tmp_path, hashlib.sha256(payload + b"x").hexdigest(), url=base + "a.txt")
    other = tmp_path / "other"
    with pytest.raises(ValueError, match="rejected"):
        datadir.fetch_dataset("toy", other, manifest=wrong, progress=False)
    assert not (other / "d" / "a.txt").exists()


def test_fetch_real_entry_rejects_wrong_file_and_cli(tmp_path, http_root, capsys):
    served, base = http_root
    (served / "tn13.txt").write_bytes(b"GRCOF2 1 0 0 0 0 0 20020101.0000 20020201.0000\n")
    # the real manifest's TN-13 digest cannot match a generated file
    rc = main(["data", "fetch", "tn13", "--data-dir", str(tmp_path), "--url", base + "tn13.txt", "--no-progress"])
    assert rc == 1
    assert "rejected" in capsys.readouterr().err
    assert not (tmp_path / "low_degree" / "TN-13_GEOC_CSR_RL0602.txt").exists()


def test_fetch_cli_with_manifest(tmp_path, http_root, capsys):
    served, base = http_root
    payload = b"hello loopback\n"
    (served / "a.txt").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    text = (
        "datasets:\n  toy:\n"
        + "".join(f"    {k}: x\n" for k in ("title", "role", "source", "licence", "citation", "format"))
        + f"    path: d/a.txt\n    sha256:\n      d/a.txt: \"{digest}\"\n    substitute_for: null\n"
        + f"    obtainable_offline: true\n    fetch_url: \"{base}\"\n    required_by: [tests]\n"
    )
    (tmp_path / "m.yml").write_text(text)
    dd = tmp_path / "dd"
    argv = ["data", "fetch", "toy", "--data-dir", str(dd), "--manifest", str(tmp_path / "m.yml"), "--no-progress"]
    assert main(argv) == 0
    assert (dd / "d" / "a.txt").read_bytes() == payload
    assert main(["data", "status", "--data-dir", str(dd), "--manifest", str(tmp_path / "m.yml"), "--no-progress"]) == 0


def test_fetch_without_url_says_where(tmp_path):
    with pytest.raises(ValueError, match="not obtainable offline.*hma-mascon synthetic"):
        datadir.fetch_dataset("lake_storage", tmp_path)
    with pytest.raises(ValueError, match="no public anonymous download URL"):
        datadir.fetch_dataset("itsg2018_gfc", tmp_path)
