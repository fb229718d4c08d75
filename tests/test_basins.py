"""Tests of basins.py on the real Lehmann et al. 2022 tables."""

import numpy as np
import pandas as pd
import pytest
from _grid_standin import make_grid

from hma_mascon.basins import basin_comparison, basin_weights, grace_months, load_basin_series


@pytest.mark.realdata
def test_basin_series_masked_in_gap(data_dir):
    s = load_basin_series(data_dir, "JPL")
    labels = pd.DatetimeIndex(s["time"].values).strftime("%Y-%m")
    gap = (labels >= "2017-07") & (labels <= "2018-05")
    assert np.all(np.isnan(s.values[gap]))
    months = set(grace_months(data_dir))
    assert "2011-01" not in months and "2011-01" in s.attrs["masked_months"]
    present = np.array([lab in months for lab in labels])
    assert np.isfinite(s.values[present]).all()


@pytest.mark.realdata
def test_basin_comparison_identity(data_dir):
    g = make_grid()
    w = basin_weights(data_dir, g)
    assert w.sel(basin="TARIM HE")["coverage"].item() > 0.9
    ref = load_basin_series(data_dir, "CSR")
    # put the CSR basin series itself on the Tarim cells: r = 1 and zero RMS difference against CSR
    tarim = w.sel(basin="TARIM HE").values > 0
    x = np.zeros((ref.sizes["time"], g.lat.size))
    x[:, tarim] = ref.sel(basin="TARIM HE").values[:, None] / 1000.0
    out = basin_comparison(x, g, data_dir, time=ref["time"].values)
    row = out[(out["basin"] == "TARIM HE") & (out["product"] == "CSR")].iloc[0]
    assert row.r == pytest.approx(1.0) and row.rms_diff_mm == pytest.approx(0.0, abs=1e-9)
