"""Ensembles on Dask: members bitwise equal to the serial solves, on a LocalCluster and through
``--scheduler`` (a ``dask scheduler`` and ``dask worker`` started here on loopback); the stacking of
members on different grids and months; bad input refused before any computation.

The problem is tiny (7 x 14 cells, 12 months, nmax 60, the ``diagonal`` preset): a member takes
~3 s alone. BLAS runs single-threaded in the serial solves and in the members, since threaded
BLAS may change the last bits.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr
from threadpoolctl import threadpool_limits

from hma_mascon import ensemble as E
from hma_mascon.cli import main as cli_main
from hma_mascon.pipeline import run_solution
from hma_mascon.reproduction import prepare, regional_trend_table
from hma_mascon.synthetic import ensure_synthetic_data_dir

PRESET = "diagonal"
FIXED = dict(box=(89.0, 96.0, 27.0, 30.5), nmax=60, period_start="2004-01", period_end="2004-12")
ALTITUDES = (400.0, 450.0)
CLI_FIXED = ["--preset", PRESET, "-p", "box=89,96,27,30.5", "--nmax", "60", "--period-start", "2004-01",
             "--period-end", "2004-12"]


@pytest.fixture(scope="module")
def synthetic_dir():
    return str(ensure_synthetic_data_dir())


@pytest.fixture(scope="module")
def serial(synthetic_dir):
    """The serial solves of the two members (single-threaded BLAS)."""
    with threadpool_limits(limits=1, user_api="blas"), pytest.warns(UserWarning):
        return [run_solution(synthetic_dir, PRESET, progress=False, altitude_km=a, **FIXED) for a in ALTITUDES]


def assert_same_solution(got: xr.Dataset, want: xr.Dataset, skip_attrs=()):
    """Every variable with its dims, dtype and bits (NaN where NaN), and every attribute."""
    assert set(got.variables) == set(want.variables)
    for name in want.variables:
        a, b = got[name], want[name]
        assert a.dims == b.dims and a.dtype == b.dtype, name
        assert np.array_equal(a.values, b.values, equal_nan=b.dtype.kind == "f"), name
    assert got.attrs.keys() == want.attrs.keys()
    for key, value in want.attrs.items():
        if key in skip_attrs:
            continue
        assert np.array_equal(got.attrs[key], value) if isinstance(value, np.ndarray) else got.attrs[key] == value, key


def assert_same_values(got: xr.Dataset, want: xr.Dataset):
    """Data variables bit for bit (what a file read back holds)."""
    for name in want.data_vars:
        assert np.array_equal(got[name].values, want[name].values, equal_nan=want[name].dtype.kind == "f"), name


@pytest.mark.slow
def test_local_cluster_members_equal_serial_solves(serial, synthetic_dir, tmp_path):
    t0 = time.perf_counter()
    with pytest.warns(UserWarning, match="member 0"):
        ens = E.run_ensemble({"altitude_km": ["400 km", 450]}, FIXED, synthetic_dir, PRESET, n_workers=2,
                             threads_per_worker=1, blas_threads=1, progress=False)
    print(f"ensemble of 2 on a LocalCluster: {time.perf_counter() - t0:.1f} s; member seconds "
          f"{ens['member_seconds'].values}, worker peak RSS MB {ens['member_peak_rss'].values}")
    assert dask.config.get("scheduler", None) != "dask.distributed"  # the caller's dask config is left alone
    assert ens.sizes["member"] == 2
    assert list(ens["member_altitude_km"].values) == list(ALTITUDES)
    assert ens["lwe_thickness"].dims == ("member", "time", "lat", "lon")
    assert "member" not in ens["cell_area"].dims  # the same in every member: stored once
    for i, want in enumerate(serial):
        assert_same_solution(E.select_member(ens, i), want, skip_attrs=("history",))  # its creation time
        assert np.array_equal(ens["lwe_thickness"].values[i], want["lwe_thickness"].values, equal_nan=True)
    path = E.write_ensemble(ens, tmp_path / "ens.nc")
    with xr.open_dataset(path) as back:
        back = back.load()
    assert back["lwe_thickness"].encoding["_FillValue"] == -99999
    for i, want in enumerate(serial):
        assert_same_values(E.select_member(back, i), want)
    # the same ensemble as a Zarr store: every member's values back bit for bit, one chunk per member
    store = E.write_ensemble(ens, tmp_path / "ens.zarr")
    with xr.open_zarr(store) as back:
        back = back.load()
        assert back["lwe_thickness"].encoding["chunks"][0] == 1
    assert back.attrs["ensemble_varying"] == ens.attrs["ensemble_varying"]
    for i, want in enumerate(serial):
        assert_same_values(E.select_member(back, i), want)
    # the sensitivity table: one row per member, HMA as regional_trend_table gives it
    table = E.sensitivity_table(ens)
    assert list(table.index) == list(ALTITUDES) and table.index.name == "altitude_km"
    direct = regional_trend_table(serial[1], prepare(serial[1], synthetic_dir), period=None)
    assert table.loc[450.0, "HMA"] == direct.loc["HMA", "trend"]
    assert table.loc[450.0, "HMA error95"] == direct.loc["HMA", "error95"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def scheduler_address(tmp_path):
    """A ``dask scheduler`` and a ``dask worker`` (2 processes x 1 thread) on loopback, torn down after."""
    dask = Path(sys.executable).with_name("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    logs = [open(tmp_path / f"{name}.log", "w") for name in ("scheduler", "worker")]
    procs = []
    try:
        procs.append(subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port",
                                       address.rsplit(":", 1)[1], "--no-dashboard"],
                                      stdout=logs[0], stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen([str(dask), "worker", address, "--nworkers", "2", "--nthreads", "1",
                                       "--no-dashboard", "--memory-limit", "2GB", "--local-directory",
                                       str(tmp_path / "dask-worker")], stdout=logs[1], stderr=subprocess.STDOUT))
        with E.Client(address, timeout="60s", set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        if procs:
            try:  # the scheduler closes its workers, then itself
                with E.Client(address, timeout="10s", set_as_default=False) as client:
                    client.shutdown()
            except Exception:  # noqa: BLE001 - the processes are terminated below in any case
                pass
        for proc in reversed(procs):  # workers first, then the scheduler
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


@pytest.mark.slow
def test_scheduler_cli_members_equal_serial_solves(serial, synthetic_dir, scheduler_address, tmp_path, capsys):
    out, csv = tmp_path / "ens.nc", tmp_path / "sensitivity.csv"
    t0 = time.perf_counter()
    with pytest.warns(UserWarning):
        code = cli_main(["ensemble", "--data-dir", synthetic_dir, "--out", str(out), "--vary", "altitude_km=400,450",
                         "--scheduler", scheduler_address, "--blas-threads", "1", "--quiet", "--sensitivity", str(csv),
                         *CLI_FIXED])
    print(f"ensemble of 2 through --scheduler: {time.perf_counter() - t0:.1f} s")
    assert code == 0
    assert dask.config.get("scheduler", None) != "dask.distributed"
    assert "ensemble of 2 members" in capsys.readouterr().out
    with xr.open_dataset(out) as back:
        back = back.load()
    for i, want in enumerate(serial):
        assert_same_values(E.select_member(back, i), want)
    assert len(csv.read_text().splitlines()) == 3


def test_members_on_different_grids_and_months(serial, tmp_path):
    """A smaller grid (as the paper preset beside the default's buffer ring), fewer months and a
    variable only one member has: the union grid, and each member back bit for bit."""
    small = serial[1].isel(lat=slice(1, -1), lon=slice(2, None), time=slice(0, 10))
    small = small.drop_vars("glacier_prior_trend")
    mems = E.members({"altitude_km": list(ALTITUDES)}, FIXED, PRESET)
    ens = E.stack_members([serial[0], small], mems)
    assert ens.sizes["member"] == 2
    assert (ens.sizes["time"], ens.sizes["lat"], ens.sizes["lon"]) == serial[0]["lwe_thickness"].shape
    assert ens["member_in_lat"].values[1].sum() == small.sizes["lat"]
    assert np.isnan(ens["lwe_thickness"].values[1, -1]).all()  # a month member 1 lacks
    assert_same_solution(E.select_member(ens, 0), serial[0])
    assert_same_solution(E.select_member(ens, 1), small)
    path = E.write_ensemble(ens, tmp_path / "ens.nc")
    with xr.open_dataset(path) as back:
        back = back.load()
    assert_same_values(E.select_member(back, 1), small)


@pytest.mark.parametrize("argv, names", [
    (["--vary", "altitude=400,450"], "'altitude'"),
    (["--vary", "altitude_km=400,abc"], "'altitude_km' = 'abc'"),
    (["--vary", "altitude_km=400,50"], "'altitude_km' = '50'"),
    (["--vary", "preset=default,papr"], "'papr'"),
    (["--vary", "alpha_method=mse,gvc"], "'alpha_method' = 'gvc'"),
    (["--vary", "altitude_km=400,450", "-p", "nmaxx=60"], "'nmaxx'"),
    (["--vary", "altitude_km=400,450", "-p", "altitude_km=300"], "'altitude_km' is both varied and fixed"),
    (["--vary", "altitude_km=400,400"], "'altitude_km' has a repeated value"),
    (["--vary", "period_start=2004-01,2005-06"], "period_start"),
    (["--vary", "mascon_step_deg=0.5,1", "-p", "box=89,96,27,31"], "--vary mascon_step_deg"),
    ([], "at least one --vary"),
])
def test_bad_input_fails_before_any_computation(argv, names, monkeypatch, tmp_path):
    def no_computation(*args, **kwargs):
        raise AssertionError("a computation started before the input was checked")

    for name in ("LocalCluster", "Client", "run_solution", "ensure_synthetic_data_dir"):
        monkeypatch.setattr(E, name, no_computation)
    base = ["ensemble", "--out", str(tmp_path / "ens.nc"), "--period-end", "2005-01"]
    with pytest.raises(SystemExit) as exc:
        cli_main(base + argv)
    assert names in str(exc.value)
    assert not (tmp_path / "ens.nc").exists()


def test_cluster_plan_fits_cores_and_memory():
    gb = 1e9
    plan = E.cluster_plan(8, "5GB", cpus=2, memory=23 * gb)
    assert (plan.n_workers, plan.threads_per_worker, plan.blas_threads) == (2, 1, 1)
    plan = E.cluster_plan(8, "5GB", cpus=16, memory=23 * gb)  # memory-bound: 4 members fit
    assert (plan.n_workers, plan.blas_threads) == (4, 4)
    assert plan.memory_limit >= 5 * gb
    assert E.cluster_plan(1, "5GB", cpus=16, memory=64 * gb).n_workers == 1  # never more workers than members
