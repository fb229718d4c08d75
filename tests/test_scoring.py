"""The closed-loop scores: perfect for the truth itself, and they fall when the solution is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hma_mascon.reproduction import cell_trend_skill
from hma_mascon.scoring import deficit_table, score_solution
from hma_mascon.synthetic import ensure_synthetic_data_dir, load_truth


def test_cell_trend_skill_limits():
    b = np.array([-3.0, -1.0, 0.0, 2.0])
    assert cell_trend_skill(b, b) == pytest.approx(1.0)
    assert cell_trend_skill(np.full(4, b.mean()), b) == pytest.approx(0.0)
    assert cell_trend_skill(-b, b) < 0


def _truth_dataset(d, step: int = 1) -> xr.Dataset:
    """The truth of the synthetic data directory ``d`` (every ``step``-th month) dressed as a solution."""
    tr = load_truth(d).isel(time=slice(0, None, step))
    return xr.Dataset(
        {"glacier_lwe_thickness": (("time", "lat", "lon"), tr["glacier"].values.astype(float), {"units": "cm"}),
         "lwe_thickness": (("time", "lat", "lon"), tr["lwe_thickness"].values.astype(float), {"units": "cm"}),
         "cell_area": tr["cell_area"]},
        coords={"time": tr["time"].values, "lat": tr["lat"].values, "lon": tr["lon"].values,
                "month": ("time", tr["month"].values), "decimal_year": ("time", tr["decimal_year"].values)})


@pytest.fixture(scope="module")
def truth_solution():
    d = ensure_synthetic_data_dir()
    return d, _truth_dataset(d, 6)


def test_the_truth_scores_perfectly_and_a_damped_truth_does_not(truth_solution):
    d, sol = truth_solution
    s = score_solution(sol, d)
    assert s.loc["HMA glacier trend", "ours"] == pytest.approx(s.loc["HMA glacier trend", "truth"], rel=1e-9)
    r2 = [m for m in s.index if m.startswith("per-cell glacier trend R²")]
    assert len(r2) == 2 and np.allclose(s.loc[r2, "ours"], 1.0)
    assert s["passed"].dropna().all(), s[s["passed"] == False]  # noqa: E712
    damped = sol.copy()
    damped["glacier_lwe_thickness"] = 0.7 * sol["glacier_lwe_thickness"]
    damped["lwe_thickness"] = sol["lwe_thickness"] - 0.3 * sol["glacier_lwe_thickness"]
    s2 = score_solution(damped, d)
    assert not s2.loc["HMA glacier trend", "passed"]
    assert s2.loc["HMA glacier trend", "ours"] == pytest.approx(0.7 * s.loc["HMA glacier trend", "truth"], rel=1e-6)
    assert (s2.loc[r2, "ours"] < 1.0).all()
    assert not s2.loc["box total-mass trend (non-buffer cells)", "passed"]


def test_departure_table_the_truth_keeps_its_lakes_and_a_moved_lake_is_found(truth_solution):
    """The truth itself keeps all of its lake trend where it happened; a solution that moves the lake
    trend one cell south books it as error in those cells and elsewhere, and the table adds up."""
    from hma_mascon.scoring import departure_table

    d, sol = truth_solution
    tab = departure_table(sol, d, "lake")
    total = tab.iloc[0]["Gt/yr"]
    assert total > 0  # the synthetic lakes grow
    assert tab.loc["recovered where it happened", "share of the component's trend"] == pytest.approx(1.0, abs=1e-9)
    assert abs(tab.loc["error in those cells", "Gt/yr"]) < 1e-9 * total
    lake = load_truth(d)["lake"].isel(time=slice(0, None, 6)).values.astype(float)
    moved = sol.copy()
    moved["lwe_thickness"] = sol["lwe_thickness"] - lake + np.roll(lake, -1, axis=1)  # one cell south
    tab2 = departure_table(moved, d, "lake")
    share = tab2.loc["recovered where it happened", "share of the component's trend"]
    assert share < 0.9
    errs = tab2.loc[["error in those cells", "error in glacier cells within 1 deg", "error in all other cells"],
                    "Gt/yr"].sum()
    assert abs(errs) < 0.05 * total  # mass moved, not lost (the southern edge row aside)
    with pytest.raises(KeyError, match="component"):
        departure_table(sol, d, "permafrost")


def test_scenario_world_scores_its_departure_and_the_script_row_reads_it(tmp_path):
    """In the Karakoram scenario world the truth keeps all of its departure (-2.5 Gt/yr) where it
    happened and within 1 deg; a solution that drops the departure keeps none of it; the scenario
    script's row and the committed table read back."""
    import importlib.util
    from pathlib import Path

    from hma_mascon.reproduction import read_scenario_scores
    from hma_mascon.scoring import departure_table

    d = ensure_synthetic_data_dir(scenario="karakoram_loss")
    assert d.name.startswith("synthetic-20240101-karakoram_loss-")
    sol = _truth_dataset(d, 12)
    tab = departure_table(sol, d, "scenario")
    assert tab.iloc[0]["Gt/yr"] == pytest.approx(-2.5, rel=0.02)  # the cells above 1 % of the largest hold ~all
    share = tab["share of the component's trend"]
    assert share["recovered where it happened"] == pytest.approx(1.0, abs=1e-9)
    assert share["within 1 deg (all cells)"] == pytest.approx(1.0, abs=1e-9)
    blind = sol.copy()  # a solution that follows the prior: the departure is missing everywhere
    dep = load_truth(d).isel(time=slice(0, None, 12))["scenario"].values.astype(float)
    blind["lwe_thickness"] = sol["lwe_thickness"] - dep
    blind["glacier_lwe_thickness"] = sol["glacier_lwe_thickness"] - dep
    assert departure_table(blind, d, "scenario")["share of the component's trend"]["within 1 deg (all cells)"] == \
        pytest.approx(0.0, abs=0.02)
    spec = importlib.util.spec_from_file_location(
        "score_scenarios", Path(__file__).resolve().parents[1] / "scripts" / "score_scenarios.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    row = script.scenario_row(blind, d, "scenario")
    assert row["target: >= 0.7 within 1 deg"] is False and row["departure's trend [Gt/yr]"] < 0
    from hma_mascon.scoring import departure_response

    base_tr = load_truth(ensure_synthetic_data_dir()).isel(time=slice(0, None, 12))
    base = sol.copy()
    base["lwe_thickness"] = (sol["lwe_thickness"].dims, base_tr["lwe_thickness"].values.astype(float))
    resp = departure_response(sol, base, d, "scenario")  # truth minus truth: exactly the departure
    assert resp["departure [Gt/yr]"] == pytest.approx(-2.5, rel=0.02)
    assert resp["where it happened"] == pytest.approx(1.0, abs=0.02) and resp["whole box"] == pytest.approx(1.0, abs=0.02)
    assert resp["within 1 deg"] >= resp["where it happened"] - 1e-9
    smeared = sol.copy()  # the departure spread 2 deg north: little of it stays where it happened
    smeared["lwe_thickness"] = base["lwe_thickness"] + np.roll(dep, 4, axis=1)
    r2 = departure_response(smeared, base, d, "scenario")
    assert r2["where it happened"] < 0.5 and r2["within 2 deg"] == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="different months"):
        departure_response(sol, base.isel(time=slice(1, None)), d, "scenario")
    row = script.scenario_row(sol, d, "scenario", base)  # with a baseline the response decides: all of it kept
    assert row["response within 1 deg [fraction]"] == pytest.approx(1.0, abs=0.02) and row["target: >= 0.7 within 1 deg"]
    got = read_scenario_scores(Path(__file__).resolve().parents[1] / "reproduction")
    if got is not None:
        table, meta = got
        assert "stays within 1 deg, all cells [fraction]" in table.index and "month step" in meta
    assert read_scenario_scores(tmp_path) is None


def test_scenario_reading_follows_the_committed_numbers_and_their_side_of_the_target():
    """The reading of the wrong-prior table quotes its numbers (as percentages of the departure) and
    says on which side of the issue's 70 % they are; a partial table reads as far as it goes."""
    from pathlib import Path

    from hma_mascon.reproduction import read_scenario_scores, scenario_reading

    got = read_scenario_scores(Path(__file__).resolve().parents[1] / "reproduction")
    if got is None:
        pytest.skip("reproduction/wrong_prior_scenarios.csv is not in this checkout")
    table = got[0]
    text = scenario_reading(table)
    keys = {"karakoram", "rate_only", "right", "lakes", "scaled"}
    if "Karakoram, alpha x 0.3" in table.columns:  # the runs at 0.3 times the rule's alpha
        keys.add("fraction")
        low = float(table.loc["response within 1 deg [fraction]", "Karakoram, alpha x 0.3"])
        assert f"{100 * low:.0f} % within 1° (default" in text["fraction"]
    assert set(text) == keys and "nan" not in " ".join(text.values())
    kara = [c for c in table.columns if c.startswith("Karakoram loses")][0]
    within = float(table.loc["response within 1 deg [fraction]", kara])
    assert f"{100 * within:.0f} % within 1°" in text["karakoram"]
    assert ("past the issue's 70 %" in text["karakoram"]) == (within >= 0.7)
    worse = table.copy()
    worse.loc["response within 1 deg [fraction]", kara] = 0.4
    assert "short of the issue's 70 %" in scenario_reading(worse)["karakoram"]
    assert set(scenario_reading(table[["lake growth, lake prior", "lake growth, no lake prior"]])) == {"lakes", "scaled"}
    worse.loc["stays within 1 deg, all cells [fraction]", "lake growth, lake prior"] = 0.5
    assert "even with the prior" in scenario_reading(worse)["lakes"]


def test_limits_script_row_carries_every_metric_and_counts_the_targets(truth_solution, tmp_path):
    """The limits script's row of a score table: one column per metric it names (with its unit), the
    truth meets every target and a damped truth does not; the committed table reads back."""
    import importlib.util
    from pathlib import Path

    from hma_mascon.reproduction import limits_reading, read_limit_scores

    spec = importlib.util.spec_from_file_location(
        "score_limits", Path(__file__).resolve().parents[1] / "scripts" / "score_limits.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    d, sol = truth_solution
    s = score_solution(sol, d)
    row = script.limits_row(s)
    found = sum(any(i.startswith(p) for i in s.index) for p in script.SCORE_ROWS)
    assert found >= 10 and len(row) == found + 1  # every metric the table has, once, plus the targets
    assert row["HMA glacier trend [Gt/yr]"] == pytest.approx(s.loc["HMA glacier trend", "truth"], rel=1e-9)
    met, of = row["targets met"].split(" of ")
    assert met == of and int(of) >= 8  # the truth has no stated errors: no coverage targets
    damped = sol.copy()
    damped["glacier_lwe_thickness"] = 0.7 * sol["glacier_lwe_thickness"]
    damped["lwe_thickness"] = sol["lwe_thickness"] - 0.3 * sol["glacier_lwe_thickness"]
    met2, of2 = script.limits_row(score_solution(damped, d))["targets met"].split(" of ")
    assert of2 == of and int(met2) < int(met)
    got = read_limit_scores(Path(__file__).resolve().parents[1] / "reproduction")
    if got is not None:
        table, meta = got
        assert {"default world", "noise-free world", "truth"} <= set(table.columns) and "month step" in meta
        text = limits_reading(table)
        assert "noise realisation" in text and "nan" not in text
        partial = limits_reading(table[["default world", "truth"]])  # the paragraphs whose runs are there
        assert "noise realisation" not in partial and "resolution gain earns" in partial
        # the headlines follow the numbers: a noise-free solve far better than the noisy one says so
        better = table.copy()
        better.loc[[r for r in table.index if r.startswith("per-cell glacier trend R², all")], "noise-free world"] = 0.99
        assert "barely matters" in text or "matters even" in text
        assert "matters even at the default" in limits_reading(better)
        if "default world, sigma0^2 = 0.25" in table.columns:  # the count of targets is read, not assumed
            counted = table.copy()
            counted.loc["targets met", "default world, sigma0^2 = 0.25"] = "14 of 14"
            assert "By the count of targets the smaller α is better" in limits_reading(counted)
            counted.loc["targets met", "default world, sigma0^2 = 0.25"] = "0 of 14"
            assert "By the count of targets" not in limits_reading(counted)
        seasons = [c for c in table.columns if c.startswith("default world, glacier variability")]
        if seasons:  # the headline follows the glacier cells' amplitude and noise, not a fixed sentence
            assert "**Seasons on the ice" in text and "stays off by default" in text
            quiet = table.copy()
            quiet.loc[[r for r in table.index if r.startswith("glacier cells' total mass, RMS")], seasons] = 0.0
            assert "and the noise with them" not in limits_reading(quiet)
        fractions = [c for c in table.columns if c.startswith("default world, alpha x ")]
        if fractions:  # the headline follows the top-10 % R² and the coverage of the fraction runs
            assert "**A fraction of the rule's α" in text and "α × 0.3: R²" in text
            blunt = table.copy()
            top = [r for r in table.index if r.startswith("per-cell glacier trend R², 10 %")]
            blunt.loc[top, fractions] = float(table.loc[top[0], "default world"])
            assert "**A fraction of the rule's α.**" in limits_reading(blunt)
            loose = table.copy()
            loose.loc[[r for r in table.index if r.startswith("cells whose 95 % trend bounds")], fractions] = 1.0
            assert "error bars stay honest" not in limits_reading(loose)
    assert read_limit_scores(tmp_path) is None
    if got is not None and "low-noise world" in table.columns:
        assert "low noise" in text and "generator 1.1.0" in text


def test_noise_spectra_read_back_and_their_reading_follows_the_ratios(tmp_path):
    """A long-form spectra file reads back as (era, degree) x curve; the median ratios over degrees
    30-96 are those built in, and the verdict follows them: a synthetic noise below the lower bound
    of the real one is an easier loop, above the upper bound a harder one, at the lower bound as hard as
    reality at least is, between the bounds as hard."""
    from hma_mascon.reproduction import noise_ratios, noise_reading, read_noise_spectra

    n = np.arange(2, 97)
    lower = 1e-12 * np.exp(n / 30)

    def write(factor):
        curves = {"real CSR - ITSG": lower, "real CSR residual": 2 * lower, "real CSR stated": 2.2 * lower,
                  "synthetic noise": factor * lower, "synthetic stated": factor * lower,
                  "synthetic residual": factor * lower}
        rows = [{"era": era, "curve": c, "degree": int(k), "value": float(v), "months": 100}
                for era in ("GRACE", "GRACE-FO") for c, vals in curves.items() for k, v in zip(n, vals)]
        pd.DataFrame(rows).to_csv(tmp_path / "noise_spectra.csv", index=False)
        return read_noise_spectra(tmp_path)

    assert read_noise_spectra(tmp_path) is None
    table, meta = write(0.3)
    assert table.shape == (2 * n.size, 6) and meta == {"settings": "not recorded"}
    r = noise_ratios(table)
    assert list(r.columns) == ["GRACE", "GRACE-FO"]
    np.testing.assert_allclose(r.loc["synthetic noise / real CSR - ITSG"], 0.3)
    np.testing.assert_allclose(r.loc["synthetic noise / real CSR residual"], 0.15)
    np.testing.assert_allclose(r.loc["real CSR stated / real CSR residual"], 1.1)
    text = noise_reading(r)
    assert "easier than reality" in text and "0.30 (GRACE)" in text and "near the upper bound" in text
    assert "harder than reality" in noise_reading(noise_ratios(write(3.0)[0]))
    assert "about as hard as reality" in noise_reading(noise_ratios(write(1.5)[0]))
    assert "at the lower bound" in noise_reading(noise_ratios(write(1.0)[0]))  # the default world since 1.2.0
    assert noise_reading(r.drop(index="synthetic noise / real CSR residual")) == ""
    assert "below even the lower bound" in noise_reading(r, low=r * 0.3) and "hybrid-floored" in noise_reading(r, low=r * 0.3)
    assert "hybrid-floored" not in noise_reading(r, low=r)  # stated above the lower bound: nothing to say
    (tmp_path / "noise_spectra.csv").write_text("era,curve\nGRACE,x\n")
    with pytest.raises(ValueError, match="noise_spectra.csv"):
        read_noise_spectra(tmp_path)


def test_deficit_table_adds_up_and_tells_a_misplaced_loss_from_a_damped_one(truth_solution):
    """The truth fits itself: ours equal the truth's in every area and it keeps the data's filtered
    trend over the glacier cells (the synthetic coefficients are the truth's plus noise). A solution
    that moves a quarter of the glacier loss 4 degrees south books exactly that in the glacier cells
    while the data's column does not move; a damped total field keeps half of the data."""
    d, sol = truth_solution
    tab = deficit_table(sol, d)
    parts = tab.drop(index="whole grid")
    assert parts["cells"].sum() == tab.loc["whole grid", "cells"]
    for col in ("total, ours", "glacier signal, ours", "filtered data", "filtered, ours"):
        assert parts[col].sum() == pytest.approx(tab.loc["whole grid", col], rel=1e-9, abs=1e-9)
    assert np.allclose(tab["total, ours"], tab["total, truth"]) and np.allclose(tab["glacier signal, ours"],
                                                                                  tab["glacier signal, truth"])
    g = "glacier cells"
    kept = tab.loc[g, "data kept"]
    assert 0.9 < kept < 1.1, kept
    assert tab.loc[g, "glacier signal, truth"] < 0  # the synthetic glaciers lose mass

    glacier = sol["glacier_lwe_thickness"]
    moved = (0.25 * glacier).shift(lat=-8, fill_value=0.0)
    smeared = sol.copy()
    smeared["glacier_lwe_thickness"] = 0.75 * glacier + moved
    smeared["lwe_thickness"] = sol["lwe_thickness"] - 0.25 * glacier + moved
    tab2 = deficit_table(smeared, d)
    share = deficit_table(sol.assign(glacier_lwe_thickness=moved), d).loc[g, "glacier signal, ours"]
    assert tab2.loc[g, "glacier signal, ours"] == pytest.approx(0.75 * tab.loc[g, "glacier signal, ours"] + share,
                                                                rel=1e-9)
    assert tab2.loc[g, "glacier signal, ours"] > 0.9 * tab.loc[g, "glacier signal, ours"]  # the loss left them
    assert np.allclose(tab2["filtered data"], tab["filtered data"])  # the data are the data

    damped = sol.copy()
    damped["lwe_thickness"] = 0.5 * sol["lwe_thickness"]
    assert deficit_table(damped, d).loc[g, "data kept"] == pytest.approx(0.5 * kept, rel=1e-6)


def test_interannual_scales_the_truth_is_its_own_ceiling_and_one_cell_is_no_average():
    """With the truth as the solution (every month: the station series need monthly data), ours and the
    perfect solve are the ceiling; a 1-cell square is the cell itself (the r of the total field), and
    averaging over wider squares changes the r."""
    from hma_mascon.reproduction import prepare, table3
    from hma_mascon.scoring import interannual_scales

    d = ensure_synthetic_data_dir()
    sol = _truth_dataset(d)
    tab = interannual_scales(sol, d, windows=(1, 9))
    assert tab.notna().all().all() and len(tab) == 4, tab
    assert np.allclose(tab["ours"], tab["truth"], equal_nan=True)
    assert np.allclose(tab["perfect solve, the SM prior removed"], tab["truth"], equal_nan=True)
    one = [c for c in tab.columns if c.startswith("truth averaged over 1 x 1")][0]
    total = table3(sol, prepare(sol, d), var="lwe_thickness")["r"]
    assert np.allclose(tab[one], total.loc[tab.index], equal_nan=True)
    nine = [c for c in tab.columns if c.startswith("truth averaged over 9 x 9")][0]
    assert "4.5 deg" in nine and not np.allclose(tab[nine], tab[one], equal_nan=True)


def test_interannual_reading_names_the_stations_beyond_the_resolution():
    from hma_mascon.reproduction import interannual_reading

    cols = ["truth", "perfect solve, the SM prior removed", "truth averaged over 3 x 3 cells (1.5 deg)",
            "truth averaged over 9 x 9 cells (4.5 deg)", "ours"]
    tab = pd.DataFrame([[0.9, 0.8, 0.7, 0.2, 0.1], [0.95, 0.9, 0.9, 0.8, 0.3], [0.5, 0.5, 0.5, 0.5, 0.5]],
                       index=["NARROW", "WIDE", "LOW"], columns=cols)
    text = interannual_reading(tab)
    assert "**NARROW**" in text and "**WIDE**" in text and "LOW" not in text
    assert "At NARROW the truth itself, averaged over 4.5 deg" in text
    assert "At WIDE the truth keeps the target over 4.5 deg" in text
    assert "keeps r >= 0.6 up to 1.5 deg" in text and "up to 4.5 deg" in text
    limits = pd.DataFrame({"default world": [0.1, 0.3], "noise-free world": [0.4, 0.7], "truth": [0.9, 0.95]},
                          index=["interannual r, NARROW", "interannual r, WIDE"])
    assert "0.70 (noise-free world)" in interannual_reading(tab, limits)
    assert interannual_reading(tab.loc[["LOW"]]) == ""
    with_weather = limits.assign(**{"regional-weather world": [0.2, 0.9], "truth, regional-weather world": [0.9, 0.97]})
    assert "0.70 (noise-free world)" in interannual_reading(tab, with_weather)  # another world is not a run here


def test_weather_reading_says_where_shared_weather_brings_the_target_within_reach():
    """The reading compares the regional-weather run with the default world station by station, names
    where it meets the target, and where the truth over 4.5 deg keeps the target but the solve misses."""
    from hma_mascon.reproduction import weather_reading

    rows = ["HMA glacier trend [Gt/yr]", "per-cell glacier trend R², all glacier cells (806)",
            "interannual r, NEAR", "interannual r, FAR", "truth over 4.5 deg: interannual r, NEAR",
            "truth over 4.5 deg: interannual r, FAR", "targets met"]
    tab = pd.DataFrame({"default world": [-19.7, 0.72, 0.3, 0.1, np.nan, np.nan, "7 of 14"],
                        "regional-weather world": [-19.8, 0.71, 0.7, 0.2, np.nan, np.nan, "8 of 14"],
                        "truth": [-25.0, 1.0, 0.9, 0.95, 0.5, -0.4, ""],
                        "truth, regional-weather world": [-25.0, 1.0, 0.92, 0.9, 0.8, 0.85, ""]}, index=rows)
    text = weather_reading(tab)
    assert text.startswith("**Shared weather helps some stations.**")
    assert "meets r >= 0.6 at NEAR and misses at FAR" in text
    assert "At FAR the truth averaged over 4.5° keeps the target in this world" in text
    assert "NEAR 0.70 (truth 0.92, 0.80 over 4.5°; in the default world 0.30, truth 0.90, 0.50 over 4.5°)" in text
    assert "HMA -19.80 against -19.70" in text and "8 of 14 against 7 of 14" in text
    assert weather_reading(tab.drop(columns=["regional-weather world"])) == "" and weather_reading(None) == ""
