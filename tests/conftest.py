"""Shared fixtures: the real-data directory (skips cleanly without it) and the offline CF checker."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest


def _real_data_dir() -> Path | None:
    value = os.environ.get("HMA_MASCON_DATA")
    if not value:
        return None
    path = Path(value)
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real-data mirror named by ``HMA_MASCON_DATA``; skip when it is absent."""
    path = _real_data_dir()
    if path is None:
        pytest.skip("real-data tests need HMA_MASCON_DATA pointing at the data mirror (e.g. ../shared/data)")
    return path


def pytest_collection_modifyitems(config, items):
    if _real_data_dir() is not None:
        return
    skip = pytest.mark.skip(reason="HMA_MASCON_DATA is not set: real-data test skipped")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


#: The CF standard-name table the product is checked against (tests/data/README.md).
CF_STANDARD_NAME_TABLE = Path(__file__).parent / "data" / "cf-standard-name-table-v93.xml.gz"


@pytest.fixture(scope="session")
def cf_standard_name_table(tmp_path_factory) -> Path:
    """The shipped CF standard-name table (v93), uncompressed into a temporary file."""
    out = tmp_path_factory.mktemp("cf") / "cf-standard-name-table.xml"
    out.write_bytes(gzip.decompress(CF_STANDARD_NAME_TABLE.read_bytes()))
    return out


@pytest.fixture
def cf_check(cf_standard_name_table, monkeypatch):
    """``check(path) -> list of str``: the CF-1.8 failures of a netCDF file, empty when it complies.

    IOOS compliance-checker's ``cf:1.8`` suite, offline: it reads the shipped standard-name table
    (``CF_STANDARD_NAME_TABLE``), and a download of another table fails the check instead of
    reaching the network. Every check counts, down to the low-priority recommendations.
    """
    from compliance_checker.cf import util as cf_util
    from compliance_checker.runner import CheckSuite

    monkeypatch.setenv("CF_STANDARD_NAME_TABLE", str(cf_standard_name_table))

    def no_download(version, location=None):
        raise AssertionError(f"the CF check tried to download standard-name table {version}: it must run offline")

    monkeypatch.setattr(cf_util, "download_cf_standard_name_table", no_download)
    assert cf_util.StandardNameTable()._version == "93"  # the shipped table, not the package's
    CheckSuite.load_all_available_checkers()

    def check(path) -> list[str]:
        suite = CheckSuite()
        ds = suite.load_dataset(str(path))
        try:
            groups, errors = suite.run_all(ds, ["cf:1.8"], skip_checks=[])["cf:1.8"]
        finally:
            ds.close()
        out = [f"{name}: the check raised {exc!r}" for name, (exc, _) in errors.items()]
        out += [f"{r.name}: {'; '.join(r.msgs)}" for r in groups if r.value[1] and r.value[0] < r.value[1]]
        return out

    return check
