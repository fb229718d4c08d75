"""Tests of hma_mascon.reproduction: every paper number from a solution Dataset.

The solution used here is the synthetic truth dressed as a solution (no solve needed), so each number
has an independent expectation: the synthetic world's own parameters (regional trends), exact
identities (a scaled copy of the ASTER series regresses with slope = the scale and R² = 1; a series
built from the in-situ balances correlates with them; flipping the sign flips r; scaling the mass
scales the ablation) and the ledger's contract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hma_mascon import reproduction as rp
from hma_mascon.paper import paper_numbers
from hma_mascon.reproduction import context as rp_context
from hma_mascon.timeseries import decimal_year


@pytest.fixture(scope="module")
def world():
    from hma_mascon.synthetic import ensure_synthetic_data_dir, load_truth

    d = ensure_synthetic_data_dir()
    tr = load_truth(d)
    sol = xr.Dataset({"glacier_lwe_thickness": tr["glacier"].astype(float), "cell_area": tr["cell_area"],
                      "is_buffer": (("lat", "lon"), np.zeros(tr["cell_area"].shape, "i1"))},
                     coords={"month": tr["month"], "decimal_year": tr["decimal_year"]})
    return d, sol, rp.prepare(sol, d)


def _with_glacier(sol, values_cm):
    out = sol.copy()
    out["glacier_lwe_thickness"] = (("time", "lat", "lon"), np.asarray(values_cm, float),
                                    {"units": "cm"})
    return out


def test_solution_grid_round_trip(world):
    _, sol, ctx = world
    g = ctx.grid
    assert g.size == sol.sizes["lat"] * sol.sizes["lon"]
    field = sol["glacier_lwe_thickness"].isel(time=5)
    back = g.to_dataarray(g.from_dataarray(field), "x", "cm", "x")
    np.testing.assert_array_equal(back.values, field.values)
    # the cell of a point is where the point is
    assert abs(g.lat[g.from_dataarray(field).argmax()] - float(field.lat[field.argmax() // field.shape[1]])) < 1e-9


def test_regional_trends_recover_the_synthetic_parameters(world):
    from hma_mascon.synthetic import parameters as P

    _, sol, ctx = world
    df = rp.regional_trend_table(sol, ctx)
    expected = {r[0]: r[4] for r in P.GLACIER_RANGES[: P.N_PAPER_REGIONS]}
    for name, trend in expected.items():
        assert df.loc[name, "trend"] == pytest.approx(trend, abs=0.05 * abs(trend) + 0.1), name
    # the HMA total is the sum of the 16 regions, and it is a loss
    assert df.loc["HMA", "trend"] == pytest.approx(df.drop(index="HMA")["trend"].sum(), rel=1e-9)
    assert df.loc["HMA", "trend"] < 0
    # the GIA spread enters the error: error >= 1.96 sigma_fit, equality only without spread
    assert (df["error95"] >= 1.96 * df["sigma_fit"] - 1e-12).all()
    assert (df["sigma_gia"] > 0).any()


def test_table2_scaled_copy_of_aster_gives_slope_and_r2_one(world):
    d, sol, ctx = world
    aster, info = rp.aster_reference(sol, ctx)
    assert info["substitute"] is False  # the synthetic world's ASTER-like grid, 2002-2019
    t = np.asarray(sol["decimal_year"].values, float)  # the trend is fitted on the mid-epochs
    k = 1.7
    season = 20.0 * np.sin(2 * np.pi * t)[:, None]  # cm; the six-term fit removes it
    fake = (k * 100.0 * aster[None, :] * (t - 2010.0)[:, None] + season).reshape(sol["glacier_lwe_thickness"].shape)
    res = rp.table2(_with_glacier(sol, fake), ctx)
    for level in ("region", "cell"):
        assert res[level]["slope"] == pytest.approx(k, rel=1e-6)
        assert res[level]["r2"] == pytest.approx(1.0, abs=1e-9)
        assert res[level]["intercept"] == pytest.approx(0.0, abs=1e-6)
    assert res["region"]["n"] == 16
    # per-cell regression only over glacier cells [AMB-13]
    assert res["cell"]["n"] == int(((ctx.glacier_area_km2 > 0) & ~ctx.grid.is_buffer).sum())
    # the truth itself: the ASTER-like reference is biased and noisy, but strongly related
    truth = rp.table2(sol, ctx)
    assert 0.6 < truth["region"]["slope"] < 1.4 and truth["region"]["r2"] > 0.8


def test_table3_sign_and_alignment(world):
    _, sol, ctx = world
    t3 = rp.table3(sol, ctx)
    assert list(t3.index) == ["YALA", "TS", "AKSHIYRAK", "ABRAMOV"]
    assert (t3["r"] > 0).all() and (t3["n"] >= 5).all()
    flipped = rp.table3(_with_glacier(sol, -sol["glacier_lwe_thickness"].values), ctx)
    np.testing.assert_allclose(flipped["r"].values, -t3["r"].values, atol=1e-12)
    # periods respected: the balance years used lie inside the paper's period
    for label, row in t3.iterrows():
        first, last = (int(v) for v in row.years.split("-"))
        lo, hi = rp.TABLE3_PERIODS[label]
        assert lo <= first <= last <= hi


def test_table3_series_built_from_the_balances_correlates(world):
    """A cell series equal to the detrended cumulative in-situ balance (plus an annual cycle, which the
    2x12 average cancels) must correlate with it under the stock-stock alignment [AMB-14]; the
    13-month window smooths the kinks at the balance-year ends, so r stays a little below 1."""
    from hma_mascon.regions import load_wgms_balances, load_wgms_stations, point_cell_index

    d, sol, ctx = world
    t = rp_context.label_time(sol)
    values = np.zeros(sol["glacier_lwe_thickness"].shape)
    stations = load_wgms_stations(d)
    for _, st in stations.iterrows():
        bal = load_wgms_balances(d, st.short)
        tend = decimal_year(bal["end"].values)
        cum = np.cumsum(bal["balance_m_we"].values)
        cum = cum - np.polyval(np.polyfit(tend, cum, 1), tend)  # the in-situ side is detrended too
        stock = np.interp(t, tend, cum)
        i, j = np.unravel_index(point_cell_index(ctx.grid, st.lat, st.lon), ctx.grid.shape)
        values[:, i, j] = 100 * stock + 30 * np.cos(2 * np.pi * t)
    res = rp.table3(_with_glacier(sol, values), ctx)
    assert (res["r"] > 0.9).all(), res


def test_table4_truncation_and_consistency(world):
    _, sol, ctx = world
    t4 = rp.table4(sol, ctx)
    assert len(t4) == len(rp.TABLE4_LITERATURE)
    assert t4.loc["Shean", "truncated"] and t4.loc["Fan", "truncated"] and t4.loc["Li", "truncated"]
    assert not t4.loc["Loomis", "truncated"] and not t4.loc["Zemp", "truncated"]
    assert t4.loc["Shean", "start"] == "2002-04"  # 2000-2018 -> 2002-04..2018-12 (METHODS §11)
    # independent path: the same period through regional_trend_table
    df = rp.regional_trend_table(sol, ctx, period=("2003-01", "2016-12"))
    assert t4.loc["Loomis", "ours"] == pytest.approx(df.loc["HMA", "trend"], rel=1e-12)
    # shorter periods have larger errors (the paper's ±8.9..13.9 shrink with length)
    assert t4.loc["Matsuo & Heki", "ours_error95"] > t4.loc["Ciraci", "ours_error95"]


def test_max_cell_trends_find_an_injected_loss(world):
    _, sol, ctx = world
    owner = (np.asarray(ctx.weights.sel(region="Central Himalaya").values) > 0.99) & (ctx.glacier_area_km2 > 0)
    j = int(np.flatnonzero(owner)[0])
    i, k = np.unravel_index(j, ctx.grid.shape)
    values = sol["glacier_lwe_thickness"].values.copy()
    values[:, i, k] += -50.0 * (sol["decimal_year"].values - 2010.0)  # -50 cm/yr
    mx = rp.max_cell_trends(_with_glacier(sol, values), ctx)
    assert mx.loc["Himalaya", "lat"] == pytest.approx(ctx.grid.lat[j])
    assert mx.loc["Himalaya", "lon"] == pytest.approx(ctx.grid.lon[j])
    assert mx.loc["Himalaya", "trend_cm_yr"] < -45
    assert (rp.max_cell_trends(sol, ctx)["trend_cm_yr"] < 0).all()
    # only glacier cells count: the same loss in a glacier-free cell of the region is ignored
    free = np.flatnonzero((np.asarray(ctx.weights.sel(region="Central Himalaya").values) > 0.99)
                          & (ctx.glacier_area_km2 == 0))
    if free.size:
        i, k = np.unravel_index(int(free[0]), ctx.grid.shape)
        values = sol["glacier_lwe_thickness"].values.copy()
        values[:, i, k] += -50.0 * (sol["decimal_year"].values - 2010.0)
        assert rp.max_cell_trends(_with_glacier(sol, values), ctx).loc["Himalaya", "trend_cm_yr"] > -45


def test_ablation_scales_linearly_and_is_positive(world):
    _, sol, ctx = world
    ab = rp.ablation_table(sol, ctx)
    amounts = ab["amount"].drop_sel(region="HMA")
    assert (amounts > 0).all()
    assert ab.attrs["total"] == pytest.approx(float(amounts.sum()))
    ab2 = rp.ablation_table(_with_glacier(sol, 2.5 * sol["glacier_lwe_thickness"].values), ctx)
    assert ab2.attrs["total"] == pytest.approx(2.5 * ab.attrs["total"], rel=1e-9)


def test_paper_numbers_cover_the_ledger_and_truth_closes(world):
    d, sol, ctx = world
    ours = rp.paper_numbers_from_solution(sol, d, ctx)
    ref = paper_numbers()
    assert set(ours) == set(ref.index)
    missing = [q for q, (v, _) in ours.items() if not np.isfinite(v)]
    assert all(any(p in q for p in ("CSR-M", "JPL-M", "GSFC-M")) for q in missing), missing
    assert all(isinstance(why, str) and why for _, why in ours.values())
    # signs as in paper_numbers.yml: losses negative, ablation positive
    assert ours["trend.HMA.this_study"][0] < 0 and ours["ablation.total"][0] > 0
    assert ours["ablation.min_region"][0] <= ours["ablation.max_region"][0]
    # the truth dressed as a solution: ours == truth exactly
    led = rp.ledger_table(rp.truth_as_solution(d, sol), d, ctx)
    assert {"truth", "ours_minus_truth", "within_truth_tolerance"} <= set(led.columns)
    finite = np.isfinite(led["ours"])
    np.testing.assert_allclose(led.loc[finite, "ours_minus_truth"], 0.0, atol=1e-9)
    assert led.loc[finite, "within_truth_tolerance"].all()


def test_sub_box_keeps_the_regions_inside(world):
    d, sol, _ = world
    sub = sol.sel(lon=slice(68.0, 86.0), lat=slice(38.0, 46.5))
    ctx = rp.prepare(sub, d)
    names = set(ctx.weights["region"].values)
    assert "Central Tien Shan" in names and "Central Himalaya" not in names
    assert ctx.notes and "left out" in ctx.notes[0]
    t3 = rp.table3(sub, ctx)
    assert np.isnan(t3.loc["YALA", "r"]) and "outside" in t3.loc["YALA", "years"]
    assert np.isfinite(t3.loc["TS", "r"])
    ours = rp.paper_numbers_from_solution(sub, d, ctx)
    assert np.isnan(ours["trend.region.Central Himalaya"][0])
    assert ours["trend.HMA.this_study"][1].startswith("PARTIAL")


def test_truth_as_solution_rejects_a_real_directory(tmp_path, world):
    _, sol, _ = world
    with pytest.raises(FileNotFoundError, match="truth"):
        rp.truth_as_solution(tmp_path, sol)


def test_month_labels_not_calendar_of_mid_epoch(world):
    """Two GRACE months can share the calendar month of their mid-epochs; the label decides."""
    _, sol, _ = world
    t = rp_context.label_time(sol)
    labels = pd.PeriodIndex(np.asarray(sol["month"].values).astype(str), freq="M")
    np.testing.assert_array_equal(np.floor(t).astype(int), labels.year.values)
    np.testing.assert_array_equal(np.floor((t - np.floor(t)) * 12).astype(int) + 1, labels.month.values)


@pytest.mark.realdata
def test_real_data_reference_is_shean(data_dir):
    from hma_mascon.geometry import mascon_grid

    g = mascon_grid()
    lat, lon = g.lat_axis, g.lon_axis
    months = pd.period_range("2003-01", "2012-12", freq="M")
    t = months.year.values + (months.month.values - 0.5) / 12
    sol = xr.Dataset(
        {"glacier_lwe_thickness": (("time", "lat", "lon"), np.zeros((t.size, lat.size, lon.size))),
         "cell_area": (("lat", "lon"), np.asarray(g.area).reshape(lat.size, lon.size))},
        coords={"time": months.to_timestamp().values + np.timedelta64(14, "D"), "lat": lat, "lon": lon,
                "month": ("time", months.strftime("%Y-%m")), "decimal_year": ("time", t)})
    ctx = rp.prepare(sol, data_dir)
    assert not ctx.synthetic
    rate, info = rp.aster_reference(sol, ctx)
    assert info["substitute"] and "2000" in info["period"]
    total = float(np.sum(rate * ctx.grid.area) * 1000 / 1e12)
    assert -25 < total < -12  # Shean et al. 2020: -19.0 +/- 2.5 Gt/yr over HMA
    t3 = rp.table3(sol, ctx)
    assert set(t3.index) == {"YALA", "TS", "AKSHIYRAK", "ABRAMOV"}


def test_committed_ledgers_read_and_compare(tmp_path):
    """The repository's real-data ledgers parse, carry their settings, and line up by quantity."""
    from pathlib import Path

    from hma_mascon.reproduction import committed_ledger_comparison, read_committed_ledgers

    repo = Path(__file__).resolve().parents[1] / "reproduction"
    committed = read_committed_ledgers(repo)
    assert set(committed) == {"csr", "itsg"}
    for src, (table, meta) in committed.items():
        assert "coefficient sigmas" in meta, (src, meta)
        assert table["ours"].notna().sum() > 20
    both = committed_ledger_comparison(committed)
    assert {"paper", "ours_csr", "ours_itsg", "reasons_csr"} <= set(both.columns)
    assert "trend.HMA.this_study" in both.index
    # a broken file is named in the error; an empty directory gives nothing
    (tmp_path / "ledger_real_x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="ledger_real_x.csv"):
        read_committed_ledgers(tmp_path)
    assert read_committed_ledgers(tmp_path / "absent") == {}


def test_committed_sensitivity_reads_and_is_centred(tmp_path):
    """The committed real-data sensitivity holds every factor of issue 14 around one centre, the GIA
    model rows differ from the centre only by the models' regional sums, and a file without a centre
    is refused by name."""
    from pathlib import Path

    from hma_mascon.reproduction import read_sensitivity

    repo = Path(__file__).resolve().parents[1] / "reproduction"
    got = read_sensitivity(repo)
    if got is not None:
        table, meta = got
        factors = set(table.index.get_level_values("factor"))
        assert {"centre", "preset", "data centre", "GIA model", "altitude [km]", "prior floor [m]"} <= factors
        assert table.xs("centre", level="factor")["change"].iloc[0] == 0.0
        gia = table.loc["GIA model"]
        assert gia["change"].iloc[0] == pytest.approx(0.0, abs=1e-9)  # the solution removed the first model
        assert gia["change"].abs().max() > 0  # the models differ over HMA
        assert (gia["seconds"] == 0).all()  # no solve behind them
        assert np.all(np.isfinite(table["HMA"])) and meta["month_step"] >= 1
    (tmp_path / "sensitivity_real_csr.csv").write_text("factor,value,HMA,HMA error95\npreset,paper,-20,3\n")
    with pytest.raises(ValueError, match="sensitivity_real_csr.csv.*centre"):
        read_sensitivity(tmp_path)
    assert read_sensitivity(tmp_path / "absent") is None


def test_soil_moisture_trend_table_against_the_world(world):
    """The soil-moisture omission per region equals the trend of the GLDAS-like stand-in summed over
    the region; on a directory without the product it is None."""
    from hma_mascon.priors import load_soil_moisture

    d, sol, ctx = world
    sm = rp.soil_moisture_trend_table(sol, ctx)
    assert sm is not None and "HMA" in sm.index
    assert sm.loc["HMA", "soil_moisture_trend"] == pytest.approx(
        sm.drop(index="HMA")["soil_moisture_trend"].sum(), rel=1e-9)
    # independent path: straight-line fit of the regional mass built by hand
    da = load_soil_moisture(d, ctx.grid, reference=(str(sol["month"].values[0]), str(sol["month"].values[-1])))
    da = da.reindex(time=sol["time"].values, method="nearest", tolerance=np.timedelta64(20, "D"))
    x = ctx.grid.from_dataarray(da.transpose("time", "lat", "lon"))
    ok = np.all(np.isfinite(x), axis=1)
    w = np.asarray(ctx.weights.values, float)[0]
    m = (x[ok] * w * ctx.grid.area).sum(axis=1) * 1000.0 / 1e12
    t = np.asarray(sol["decimal_year"].values, float)[ok]
    name = str(ctx.weights["region"].values[0])
    slope = np.polyfit(t, m, 1)[0]
    assert sm.loc[name, "soil_moisture_trend"] == pytest.approx(slope, abs=0.02 + 0.2 * abs(slope))


def test_centre_comparison_committed_and_computed(world, tmp_path):
    """The committed CSR-ITSG table reads back with its targets; compare_centres of a solution with
    itself gives R² 1, a zero HMA difference and the solution's own largest cell-month."""
    from pathlib import Path

    from hma_mascon.reproduction import read_centre_comparison

    repo = Path(__file__).resolve().parents[1] / "reproduction"
    got = read_centre_comparison(repo)
    if got is not None:
        table, meta = got
        assert table["metric"].str.contains("R²").any() and "period" in meta
    assert read_centre_comparison(tmp_path) is None
    (tmp_path / "centres_real.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="columns"):
        read_centre_comparison(tmp_path)
    d, sol, _ = world
    sol = sol.assign(lwe_thickness=sol["glacier_lwe_thickness"])
    df = rp.compare_centres(sol, sol, d).set_index("metric")
    r2 = df.loc[df.index.str.startswith("per-cell glacier trend R²"), "value"].astype(float)
    assert np.allclose(r2, 1.0) and df.loc[df.index.str.startswith("per-cell glacier trend R²"), "met"].all()
    diff = df.loc[df.index.str.startswith("HMA difference")].iloc[0]
    assert float(diff["value"]) == 0.0 and diff["met"]
    top = float(np.nanmax(np.abs(sol["glacier_lwe_thickness"].values))) / 100.0
    assert float(df.loc["largest |cell-month| csr, all months and cells [m]", "value"]) == pytest.approx(top)
    assert float(df.loc["largest |cell-month| csr, glacier cells [m]", "value"]) <= top + 1e-12
    assert "°N" in df.loc["where and when (csr)", "value"]
    inner = float(df.loc["largest |cell-month| csr, cells inside the box (no buffer ring) [m]", "value"])
    box = (~np.asarray(sol["is_buffer"].values, bool) if "is_buffer" in sol
           else np.ones(sol["glacier_lwe_thickness"].shape[1:], bool))
    assert inner == pytest.approx(float(np.nanmax(np.abs(sol["glacier_lwe_thickness"].values[:, box]))) / 100.0)
    assert "months dropped (csr)" in df.index
    shifted = _with_glacier(sol, sol["glacier_lwe_thickness"].values * 0.5)  # half the trends: R² drops
    low = rp.compare_centres(sol, shifted, d).set_index("metric")
    assert float(low.loc[low.index.str.startswith("per-cell glacier trend R², itsg"), "value"].iloc[0]) < 0.9
