"""Shared fixtures: the real-data directory (skips cleanly without it)."""

from __future__ import annotations

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
