"""Fault corpus (issue 13): each class of fault names the file (and line) and leaves previous outputs intact.

Faults: SIGINT during a netCDF write, a full disk (RLIMIT_FSIZE), two concurrent writers, a one-digit
change in one coefficient of one month (checksums), a file cut inside its last record, a header
whose units disagree with its values, ``synthetic --out`` over a directory with real-looking data.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from hma_mascon import datadir, safeio
from hma_mascon.cli import main
from hma_mascon.io_grace import MalformedFileError, read_gfc, read_gsm, write_gfc, write_gsm
from hma_mascon.low_degree import read_tn13, read_tn14
from hma_mascon.output import read_solution, solution_to_dataset, write_solution
from hma_mascon.stokes import make_stokes_dataset
from hma_mascon.synthetic import world as synthetic_world

REPO = Path(__file__).resolve().parents[1]
CSR_FILES = ["GSM-2_2002095-2002120_GRAC_UTCSR_BB01_0600.gz", "GSM-2_2002123-2002137_GRAC_UTCSR_BB01_0600.gz",
             "GSM-2_2002213-2002243_GRAC_UTCSR_BB01_0600.gz"]
TN13 = "low_degree/TN-13_GEOC_CSR_RL0602.txt"
TN14 = "low_degree/TN-14_C30_C20_GSFC_SLR.txt"

# a subprocess that writes a large solution to argv[2] (argv[1] months), after printing "writing"
_WRITER = textwrap.dedent("""
    import resource, signal, sys
    import numpy as np
    from hma_mascon.output import solution_to_dataset, write_solution
    nt, ny, nx = int(sys.argv[1]), 82, 160
    rng = np.random.default_rng(0)
    lat, lon = 26.25 + 0.5 * np.arange(ny), 65.25 + 0.5 * np.arange(nx)
    t = np.datetime64("2003-01-16", "ns") + np.arange(nt) * np.timedelta64(30, "D")
    x = rng.normal(0, 0.1, (nt, ny * nx))
    ds = solution_to_dataset(x, t, lat, lon, np.ones((ny, nx)), ewh_error=x * 0.5, glacier=x * 0.2)
    if len(sys.argv) > 3:  # a full disk: no file may grow beyond argv[3] bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]), resource.RLIM_INFINITY))
    print("writing", flush=True)
    try:
        write_solution(ds, sys.argv[2])
    except Exception as exc:
        print(f"ERROR {type(exc).__name__}: {exc}", flush=True)
        sys.exit(3)
""")


def _env():
    return dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")


def _small_solution(seed=0, nt=3):
    rng = np.random.default_rng(seed)
    lat, lon = np.arange(30.25, 32.0, 0.5), np.arange(80.25, 82.0, 0.5)
    t = np.datetime64("2003-01-16", "ns") + np.arange(nt) * np.timedelta64(30, "D")
    return solution_to_dataset(rng.normal(0, 0.05, (nt, lat.size * lon.size)), t, lat, lon,
                               np.ones((lat.size, lon.size)))


def _previous(tmp_path):
    """A previous solution file and its bytes."""
    target = tmp_path / "out" / "solution.nc"
    write_solution(_small_solution(), target)
    return target, target.read_bytes()


def _no_temporaries(directory: Path):
    left = [p.name for p in directory.iterdir() if p.name.startswith((".tmp-", ".old-")) or p.name.endswith(".lock")]
    assert not left, f"temporaries left behind: {left}"


# ------------------------------------------------------------------------------------ 1. safe writes
def test_sigint_during_netcdf_write_keeps_previous_solution(tmp_path):
    target, before = _previous(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, "150", str(target)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    assert proc.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + 30
    while not any(p.name.startswith(".tmp-") for p in target.parent.iterdir()):  # the write has begun
        assert proc.poll() is None and time.monotonic() < deadline, "the writer finished before the signal"
        time.sleep(0.005)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert str(target) in err and "KeyboardInterrupt" in err  # the interrupt names the target
    assert target.read_bytes() == before  # the previous solution is intact
    read_solution(target)
    _no_temporaries(target.parent)


def test_full_disk_names_the_file_and_keeps_previous_solution(tmp_path):
    target, before = _previous(tmp_path)
    proc = subprocess.run([sys.executable, "-c", _WRITER, "60", str(target), "2000000"], capture_output=True,
                          text=True, env=_env(), timeout=120)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "ERROR AtomicWriteError" in proc.stdout and str(target) in proc.stdout
    assert target.read_bytes() == before
    _no_temporaries(target.parent)


def test_second_concurrent_writer_refuses_naming_path_and_pid(tmp_path):
    target, before = _previous(tmp_path)
    code = ("import sys; from hma_mascon.output import write_solution, read_solution\n"
            "ds = read_solution(sys.argv[1])\n"
            "try:\n    write_solution(ds, sys.argv[1])\n"
            "except Exception as exc:\n    print(type(exc).__name__, exc); sys.exit(3)\n")
    with safeio.exclusive_lock(target):  # this process is the first writer
        proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                              env=_env(), timeout=120)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert proc.stdout.startswith("TargetLockedError") and str(target) in proc.stdout
    assert f"pid {os.getpid()}" in proc.stdout
    assert target.read_bytes() == before
    _no_temporaries(target.parent)


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    target = tmp_path / "solution.nc"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    safeio.lock_path(target).write_text(f"{dead.pid} somehost 0\n")
    write_solution(_small_solution(), target)
    read_solution(target)
    _no_temporaries(tmp_path)


def test_lock_waits_a_bounded_time(tmp_path):
    target = tmp_path / "ledger.csv"
    code = ("import sys, time; from hma_mascon.safeio import exclusive_lock\n"
            "with exclusive_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(1.0)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True, env=_env())
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(safeio.TargetLockedError, match=rf"{target}.*pid {holder.pid}.*waited 0.2 s"):
        with safeio.exclusive_lock(target, timeout=0.2):
            pass
    with safeio.exclusive_lock(target, timeout=20):  # the holder finishes: the waiter gets it
        pass
    holder.wait(timeout=30)


def test_atomic_path_failure_names_target_and_keeps_previous(tmp_path):
    target = tmp_path / "ledger.csv"
    target.write_text("previous\n")
    with pytest.raises(safeio.AtomicWriteError, match=rf"{target}: writing failed.*ZeroDivisionError"):
        with safeio.atomic_path(target) as tmp:
            tmp.write_text("half a ledg")
            1 / 0
    assert target.read_text() == "previous\n"
    _no_temporaries(tmp_path)


def test_interrupted_directory_write_keeps_previous_world(tmp_path, monkeypatch):
    out = tmp_path / "world"
    out.mkdir()
    (out / synthetic_world.MARKER).write_text("{}")
    (out / "README.md").write_text("previous world\n")

    def interrupted(world, directory):
        (directory / "grace").mkdir()
        (directory / "grace" / "half.gz").write_bytes(b"\x1f\x8b")
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic_world, "_write_world_files", interrupted)
    with pytest.raises(KeyboardInterrupt, match=str(out)):
        synthetic_world.write_world(object(), out)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", synthetic_world.MARKER]
    assert (out / "README.md").read_text() == "previous world\n"
    _no_temporaries(tmp_path)


def test_ledger_written_atomically(tmp_path):
    from hma_mascon.paper import write_ledger

    path = tmp_path / "ledger.csv"
    write_ledger(path, {})
    first = path.read_text()
    assert first.startswith("quantity,paper,ours")
    with pytest.raises(KeyError):
        write_ledger(path, {"no such quantity": 1.0})
    assert path.read_text() == first
    _no_temporaries(tmp_path)


# ------------------------------------------------------------------------------------ 2. synthetic --out
def test_synthetic_out_refuses_a_foreign_directory_unless_forced(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes\n")
    assert main(["synthetic", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert str(out) in err and "--force" in err
    assert (out / "notes.txt").read_text() == "my notes\n"
    synthetic_world.check_world_target(out, force=True)  # allowed with --force
    synthetic_world.check_world_target(tmp_path / "new")  # absent: allowed


def test_synthetic_out_never_writes_over_a_grace_directory(tmp_path, capsys):
    out = tmp_path / "mirror"
    (out / "grace" / "csr_rl06").mkdir(parents=True)
    (out / "grace" / "csr_rl06" / "GSM-2_x.gz").write_bytes(b"real?")
    assert main(["synthetic", "--out", str(out), "--force"]) == 1
    err = capsys.readouterr().err
    assert str(out) in err and "real data" in err and "not even with --force" in err
    assert (out / "grace" / "csr_rl06" / "GSM-2_x.gz").read_bytes() == b"real?"


@pytest.mark.realdata
def test_synthetic_out_never_writes_over_real_files(tmp_path, data_dir, capsys):
    out = tmp_path / "copy"
    (out / "low_degree").mkdir(parents=True)
    shutil.copy(data_dir / TN13, out / TN13)
    (out / synthetic_world.MARKER).write_text("{}")  # even a stray marker does not make it synthetic
    before = (out / TN13).read_bytes()
    assert main(["synthetic", "--out", str(out), "--force"]) == 1
    err = capsys.readouterr().err
    assert str(out / TN13) in err and "tn13" in err
    assert (out / TN13).read_bytes() == before


# ------------------------------------------------------------------------------------ 3. checksums
def _gsm_bytes_with_digit_changed(path: Path) -> bytes:
    text = gzip.decompress(path.read_bytes()).decode()
    key = "GRCOF2   10    3 "
    k = text.index(key) + len(key)
    d = k + 5  # a digit inside C(10, 3)
    assert text[d].isdigit()
    return gzip.compress((text[:d] + str((int(text[d]) + 1) % 10) + text[d + 1:]).encode())


def _copy_real(data_dir: Path, dest: Path) -> Path:
    (dest / "grace" / "csr_rl06").mkdir(parents=True)
    (dest / "low_degree").mkdir()
    for name in CSR_FILES:
        shutil.copy2(data_dir / "grace" / "csr_rl06" / name, dest / "grace" / "csr_rl06" / name)
    for rel in (TN13, TN14):
        shutil.copy2(data_dir / rel, dest / rel)
    return dest


@pytest.mark.realdata
def test_one_digit_change_is_refused_by_solve(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("HMA_MASCON_CACHE", str(tmp_path / "cache"))
    data = _copy_real(data_dir, tmp_path / "data")
    files = [data / "grace" / "csr_rl06" / n for n in CSR_FILES]
    digests = datadir.verify_inputs([*files, data / TN13, data / TN14], data)
    assert digests[f"grace/csr_rl06/{CSR_FILES[1]}"] == datadir.file_sha256(files[1])
    bad = files[1]
    expected = datadir.file_sha256(bad)
    bad.write_bytes(_gsm_bytes_with_digit_changed(bad))
    found = datadir.file_sha256(bad)
    with pytest.raises(datadir.InputChecksumError) as info:
        datadir.verify_inputs(files, data)
    msg = str(info.value)
    assert f"{bad}: expected sha256 {expected}, found {found}" in msg and msg.count("expected sha256") == 1
    assert isinstance(info.value, MalformedFileError)
    with pytest.warns(datadir.ChecksumMismatchWarning, match=str(bad)):
        assert datadir.verify_inputs(files, data, allow_modified=True)[f"grace/csr_rl06/{bad.name}"] == found
    # the command line: refused before any computation, the previous solution intact
    target, before = _previous(tmp_path)
    rc = main(["solve", "--data-dir", str(data), "--out", str(target), "--period-start", "2002-04", "--period-end", "2002-08",
               "--quiet", "--coefficient-sigma", "formal"])
    err = capsys.readouterr().err
    assert rc == 1 and str(bad) in err and expected in err and found in err and "--allow-modified-inputs" in err
    assert target.read_bytes() == before
    _no_temporaries(target.parent)


def test_checksum_cache_hashes_once_and_rehashes_a_changed_file(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "low_degree").mkdir(parents=True)
    f = data / "low_degree" / "a.txt"
    f.write_text("GRCOF2 1 0 1.0e-10\n")
    digest = datadir.file_sha256(f)
    manifest = {"toy": datadir.DatasetEntry(
        name="toy", title="t", role="r", source="s", licence="l", citation="c", path=("low_degree/a.txt",),
        format="f", sha256={"low_degree/a.txt": digest}, sha256_source="inline", substitute_for=None,
        obtainable_offline=True, fetch_url=None, required_by=("tests",))}
    cache = tmp_path / "cache.json"
    calls = []
    real = datadir.file_sha256
    monkeypatch.setattr(datadir.hashing, "file_sha256", lambda p: calls.append(p) or real(p))
    assert datadir.verify_inputs([], data, datasets=["toy"], manifest=manifest, cache_file=cache) == {
        "low_degree/a.txt": digest}
    assert datadir.verify_inputs([f], data, manifest=manifest, cache_file=cache)
    assert len(calls) == 1 and json.loads(cache.read_text())  # hashed once, cached
    st = f.stat()
    f.write_text("GRCOF2 1 0 1.1e-10\n")  # one digit, same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same modification time
    with pytest.raises(datadir.InputChecksumError, match=rf"{f}: expected sha256 {digest}"):
        datadir.verify_inputs([f], data, manifest=manifest, cache_file=cache)
    (data / "hma_synthetic.json").write_text("{}")  # a synthetic directory: no expected checksums
    datadir.verify_inputs([f], data, manifest=manifest, cache_file=cache)


# ------------------------------------------------------------------------------------ 4. readers
def _field(nmax=6):
    rng = np.random.default_rng(1)
    C = np.tril(rng.normal(0, 1e-9, (nmax + 1, nmax + 1)))
    S = np.tril(rng.normal(0, 1e-9, (nmax + 1, nmax + 1)))
    S[:, 0] = 0
    sig = np.tril(np.full((nmax + 1, nmax + 1), 2.7123456789e-12))
    return make_stokes_dataset(C[None], S[None], sig[None], sig[None], time_start=["2005-01-01"],
                               time_end=["2005-02-01"], GM=3.986004415e14, radius=6378136.3)


def _cut_last_record(path: Path, keep: str) -> int:
    """Cut the (gzip) file inside its last field so that the field reads ``keep``; returns the line."""
    raw = path.read_bytes()
    gz = raw[:2] == b"\x1f\x8b"
    text = (gzip.decompress(raw) if gz else raw).decode().rstrip("\n")
    last = text.rsplit("\n", 1)[1]
    field = next(t for t in reversed(last.split()) if t.startswith(keep) and t != keep)
    cut = text[: text.rindex(field) + len(keep)]
    path.write_bytes(gzip.compress(cut.encode()) if gz else cut.encode())
    return cut.count("\n") + 1


@pytest.mark.parametrize("kind", ["gsm", "gfc"])
def test_cut_inside_last_record_is_refused(tmp_path, kind):
    path = tmp_path / ("GSM-2_2005001-2005031_GRAC_UTCSR_BB01_0600.gz" if kind == "gsm" else "x_2005-01.gfc.gz")
    (write_gsm if kind == "gsm" else write_gfc)(path, _field())
    reader = read_gsm if kind == "gsm" else read_gfc
    assert float(reader(path)["sigma_S"].values[0, 6, 6]) == pytest.approx(2.7123456789e-12)
    line = _cut_last_record(path, "2.7")
    with pytest.raises(MalformedFileError, match=rf"{path.name}, line {line}: .*(cut|fields)") as info:
        reader(path)
    assert info.value.line == line and info.value.path == str(path)


@pytest.mark.realdata
@pytest.mark.parametrize("rel, keep", [
    ("grace/csr_rl06/GSM-2_2002095-2002120_GRAC_UTCSR_BB01_0600.gz", "0.74"),  # last sigma_S 0.7455E-11
    ("grace/itsg2018/ITSG-Grace2018_n96_2002-04.gfc.gz", None),
    (TN14, None),
])
def test_real_file_cut_inside_last_record_is_refused(tmp_path, data_dir, rel, keep):
    from hma_mascon.io_grace import read_stokes_file

    path = tmp_path / Path(rel).name
    shutil.copy(data_dir / rel, path)
    text = (gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()).decode()
    last = text.rstrip("\n").rsplit("\n", 1)[1].split()
    keep = keep or last[-1][:6 if rel == TN14 else 4]  # 7.204139519518e-11 -> 7.20; year 2024.4153 -> 2024.4
    line = _cut_last_record(path, keep)
    reader = read_tn14 if rel == TN14 else read_stokes_file
    with pytest.raises(MalformedFileError, match=rf"{path.name}, line {line}: "):
        reader(path)


def test_record_with_a_short_token_count_is_refused(tmp_path):
    path = tmp_path / "TN-13.txt"
    path.write_text("TN-13\n# End of header\n"
                    "GRCOF2 1 0 1.0e-10 0.0e+00 1.0e-11 0.0e+00 20050101.0000 20050201.0000\n"
                    "GRCOF2 1 1 1.0e-10 2.0e-10 1.0e-11 1.1e-11 20050101.0000 20050201.0000\n"
                    "GRCOF2 1 0 1.0e-10 0.0e+00 1.0e-11 0.0e+00 20050201.0000 20050301.0000\n"
                    "GRCOF2 1 1 1.0e-10 2.0e-10 1.0e-11 1.1e-11 20050201.0000 20050301.0000 extra\n")
    with pytest.raises(MalformedFileError, match=r"TN-13.txt, line 6: record has 10 fields, the other records have 9"):
        read_tn13(path)


def test_field_without_exponent_is_refused_anywhere(tmp_path):
    path = tmp_path / "GSM-2_2005001-2005031_GRAC_UTCSR_BB01_0600.gz"
    write_gsm(path, _field())
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("GRCOF2    4    2"))
    tok = lines[k].split()
    lines[k] = lines[k].replace(tok[5], "0.27")
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(MalformedFileError, match=rf"line {k + 1}: sigma_C '0.27' has no exponent"):
        read_gsm(path)


@pytest.mark.parametrize("units, value, ok", [("m3/s2", "3.9860044150E+14", True), ("km3/s2", "3.9860044150E+05", True),
                                              ("km3/s2", "3.9860044150E+14", False), ("furlongs", "3.986E+14", False)])
def test_header_units_are_checked_against_the_values(tmp_path, units, value, ok):
    path = tmp_path / "GSM-2_2005001-2005031_GRAC_UTCSR_BB01_0600"
    write_gsm(path, _field())
    text = path.read_text()
    assert "units: m3/s2" in text
    text = text.replace("units: m3/s2", f"units: {units}").replace("value: 398600441500000.0", f"value: {value}")
    path.write_text(text)
    if ok:
        assert read_gsm(path).attrs["GM"] == pytest.approx(3.986004415e14, rel=1e-12)
    else:
        with pytest.raises(MalformedFileError, match=rf"{path.name}, line 1-\d+: .*(disagree|unknown units)"):
            read_gsm(path)


def test_gfc_gm_in_wrong_units_is_refused(tmp_path):
    path = tmp_path / "x_2005-01.gfc"
    write_gfc(path, _field())
    lines = path.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("earth_gravity_constant"))
    lines[k] = "earth_gravity_constant 3.986004415e+05"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MalformedFileError, match=rf"line {k + 1}: GM = .*not the Earth's"):
        read_gfc(path)


# ------------------------------------------------------------------------------------ 6. silent drops
def test_duplicate_month_file_is_flagged_by_data_status(tmp_path):
    grace = tmp_path / "grace" / "csr_rl06"
    grace.mkdir(parents=True)
    names = ["GSM-2_2005001-2005031_GRAC_UTCSR_BB01_0600.gz", "GSM-2_2005032-2005059_GRAC_UTCSR_BB01_0600.gz",
             "GSM-2_2005001-2005031_GRAC_UTCSR_BB01_0600 (1).gz"]
    for name in names:
        (grace / name).write_bytes(b"x")
    assert datadir.duplicate_months(grace.iterdir()) == [("2005001-2005031", sorted([names[0], names[2]]))]
    entry = datadir.DatasetEntry(
        name="toy", title="t", role="r", source="s", licence="l", citation="c", path=("grace/csr_rl06/GSM-2_*.gz",),
        format="f", sha256=None, sha256_source=None, substitute_for=None, obtainable_offline=True, fetch_url=None,
        required_by=("tests",))
    row = datadir.data_status(tmp_path, manifest={"toy": entry}, progress=False).iloc[0]
    assert row.duplicates and "duplicate month" in row.problem and names[2] in row.problem


def test_month_dropped_for_lack_of_tn13_record_is_reported(tmp_path):
    from hma_mascon.inputs import drop_months_without_records
    from hma_mascon.low_degree import write_tn13, write_tn14

    t0 = np.array(["2005-01-01", "2005-02-01"], "datetime64[ns]")
    t1 = np.array(["2005-02-01", "2005-03-01"], "datetime64[ns]")
    ds = make_stokes_dataset(np.zeros((2, 4, 4)), np.zeros((2, 4, 4)), time_start=t0, time_end=t1,
                             GM=3.986004415e14, radius=6378136.3)
    import pandas as pd

    one = {"time_start": t0[:1], "time_end": t1[:1]}
    tn13 = write_tn13(tmp_path / "TN-13.txt", pd.DataFrame({**one, "C10": [0.0], "C11": [0.0], "S11": [0.0],
                                                             "sigma_C10": [1e-11], "sigma_C11": [1e-11],
                                                             "sigma_S11": [1e-11]}))
    tn14 = write_tn14(tmp_path / "TN-14.txt", pd.DataFrame({"time_start": t0, "time_end": t1, "C20": [-4.8e-4] * 2,
                                                             "sigma_C20": [1e-11] * 2, "C30": [np.nan] * 2,
                                                             "sigma_C30": [np.nan] * 2}))
    provenance = {}
    with pytest.warns(UserWarning, match=r"1 month\(s\) dropped, no TN-13/TN-14 record .*TN-13.txt.*: 2005-02"):
        out = drop_months_without_records(ds, tn13, tn14, provenance)
    assert out.sizes["time"] == 1 and "2005-02" in provenance["months_dropped"]


def test_noisy_months_are_dropped_named_and_recorded():
    """A month whose noise factor exceeds max_noise_factor leaves the series with a warning naming it;
    none keeps every month; a container without calibrated sigmas (no factor) is left alone."""
    import xarray as xr

    from hma_mascon.inputs import drop_noisy_months, noisy_months

    months = ["2015-01", "2015-02", "2015-03"]
    ds = xr.Dataset({"C": (("time",), np.zeros(3))},
                    coords={"month": ("time", months), "noise_factor": ("time", [1.0, 6.3, 3.9])})
    assert noisy_months(ds, 4.0) == ["2015-02 (6.3x)"] and noisy_months(ds, None) == []
    assert noisy_months(ds, 3.5) == ["2015-02 (6.3x)", "2015-03 (3.9x)"]
    provenance = {"months_dropped": "no TN-13/TN-14 record: 2004-01"}
    with pytest.warns(UserWarning, match=r"1 month\(s\) dropped, noise level above max_noise_factor=4 .*2015-02 \(6.3x\)"):
        out = drop_noisy_months(ds, 4.0, provenance)
    assert list(out["month"].values) == ["2015-01", "2015-03"]
    assert provenance["months_dropped"].startswith("no TN-13/TN-14 record: 2004-01; noise level above")
    assert drop_noisy_months(ds.drop_vars("noise_factor"), 4.0, {}).sizes["time"] == 3
    assert drop_noisy_months(ds, None, {}).sizes["time"] == 3


def test_csr_2015_02_is_dropped_for_its_noise_and_the_paper_keeps_it(data_dir):
    """Real CSR RL06 2015-02 (noise 6.3 times its era's) is the one month the default screen drops."""
    from hma_mascon.inputs import dropped_months
    from hma_mascon.params import resolve

    period = {"source": "csr", "period_start": "2014-06", "period_end": "2015-06"}
    dropped = dropped_months(data_dir, resolve("default", period))
    assert list(dropped) == ["2015-02"] and "above max_noise_factor" in dropped["2015-02"]
    assert float(dropped["2015-02"].split()[2].rstrip("x")) > 5.0
    assert dropped_months(data_dir, resolve("paper", period)) == {}


def test_book_banner_lists_the_dropped_months_with_their_reason(data_dir, tmp_path, monkeypatch):
    """ITSG's 2004-01 has no record in the CSR-flavoured TN-13: every page of a book on it says so."""
    from hma_mascon import book

    monkeypatch.setenv("HMA_MASCON_CACHE", str(tmp_path / "cache"))
    params = book.validate_parameters({"data": "real", "data_dir": str(data_dir), "source": "itsg",
                                       "period_start": "2003-06", "period_end": "2004-06"})
    banner = book.provenance_banner(params)
    for text in (banner.html, banner.markdown):
        assert "Months dropped:" in text and "2004-01 (no TN-13/TN-14 record in TN-13" in text
    csr = book.provenance_banner(book.validate_parameters({**params, "source": "csr"}))
    assert "Months dropped:</strong> none" in csr.html


def test_real_ledger_script_writes_csv_and_sidecar_atomically(tmp_path, monkeypatch):
    import importlib.util

    import pandas as pd

    spec = importlib.util.spec_from_file_location("make_real_ledger", REPO / "scripts" / "make_real_ledger.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "ledger_real_csr.csv"
    script.write_ledger_files(pd.DataFrame({"quantity": ["a"], "ours": [1.0]}), {"source": "csr"}, out)
    assert out.read_text().startswith("quantity,ours") and json.loads(out.with_suffix(".json").read_text())
    before = out.read_bytes()

    class Broken(pd.DataFrame):
        def to_csv(self, *args, **kwargs):
            Path(args[0]).write_text("quantity,ou")  # half a ledger, then the disk is full
            raise OSError(28, "No space left on device")

    with pytest.raises(safeio.AtomicWriteError, match=rf"{out}: writing failed.*No space left"):
        script.write_ledger_files(Broken({"quantity": ["b"]}), {"source": "csr"}, out)
    assert out.read_bytes() == before
    _no_temporaries(tmp_path)


def test_atomic_directory_gets_the_usual_mode(tmp_path):
    out = tmp_path / "world"
    with safeio.atomic_path(out, directory=True) as tmp:
        (tmp / "a.txt").write_text("a")
    mask = os.umask(0o022)
    os.umask(mask)
    assert (out.stat().st_mode & 0o777) == (0o777 & ~mask) and (out / "a.txt").read_text() == "a"
    _no_temporaries(tmp_path)


def test_second_solve_to_the_same_out_refuses_before_computing(tmp_path):
    target, before = _previous(tmp_path)
    cmd = [sys.executable, "-m", "hma_mascon.cli", "solve", "--data-dir", str(tmp_path / "nowhere"),
           "--out", str(target), "--quiet"]
    with safeio.exclusive_lock(target):  # a first solve is running
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 1
    assert str(target) in proc.stderr and f"pid {os.getpid()}" in proc.stderr and "nowhere" not in proc.stderr
    assert target.read_bytes() == before
