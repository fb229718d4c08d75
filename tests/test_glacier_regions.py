"""Glacier regions beyond HMA (issue 14): the region table through the parameter table, the Hugonnet
rates and the rate-only prior they make, and the comparison of a region's solution with them."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hma_mascon.consistency import prior_stokes
from hma_mascon.errors import InputError
from hma_mascon.geometry import mascon_grid
from hma_mascon.glacier_regions import (
    PRIOR_PERIOD,
    REGIONS,
    glacier_area_cells,
    glacier_cell_weights,
    hugonnet_prior,
    hugonnet_rate_grid,
    hugonnet_rates,
)
from hma_mascon.inputs import prepare
from hma_mascon.love_numbers import load_love_numbers
from hma_mascon.params import resolve
from hma_mascon.pipeline import warn_small_box
from hma_mascon.priors import PriorComponent, hugonnet_comparison, without_cells
from hma_mascon.region_validation import agreement_summary, filtered_trend_fit
from hma_mascon.timeseries import decimal_year
from hma_mascon.synthetic import ensure_synthetic_data_dir


def test_a_region_sets_its_rows_under_the_users_values():
    s = resolve("default", {"region": "alaska"})
    assert s["box"] == REGIONS["alaska"].values["box"] and s["prior_glacier"] == "hugonnet"
    assert s["kernel"] == "closed" and s["mascon_buffer_deg"] == 5.0
    s = resolve("default", {"region": "alaska", "kernel": "truncated", "box": "-150 -140 58 64"})
    assert s["kernel"] == "truncated" and s["box"] == (-150.0, -140.0, 58.0, 64.0)
    assert resolve("default")["region"] == "hma" and resolve("default")["box"] == (65.0, 105.0, 26.0, 47.0)
    # the preset's own rows stand where the region is silent
    assert resolve("paper", {"region": "svalbard"})["prior_rule"] == "A"


def test_the_new_regions_follow_the_small_box_rules():
    for name, region in REGIONS.items():
        if name == "hma":
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warn_small_box(resolve("default", {"region": name}))  # no warning fires
        assert region.why and region.rgi


def test_uniform_specific_rate_conserves_the_regional_mass():
    rng = np.random.default_rng(1)
    cell = rng.uniform(2e9, 3e9, 50)
    area = np.where(rng.uniform(size=50) < 0.4, rng.uniform(0, 500, 50), 0.0)  # km2
    rate = hugonnet_rate_grid(area, cell, -700.0)
    # sum of EWH rate x cell area x rho_w = specific rate x glacier area, exactly
    np.testing.assert_allclose(np.sum(rate * cell) * 1000.0, -700.0 * area.sum() * 1e6, rtol=1e-12)
    assert np.all(rate[area == 0] == 0) and np.all(rate[area > 0] < 0)
    with pytest.raises(ValueError, match="exceeds"):
        hugonnet_rate_grid(np.array([4000.0]), np.array([2e9]), -700.0)


def test_glacier_cell_weights_exclude_the_buffer():
    w = glacier_cell_weights(np.array([0.0, 3.0, 5.0, np.nan]), np.array([False, False, True, False]), "X")
    assert w.dims == ("region", "cell") and list(w["region"].values) == ["X"]
    np.testing.assert_array_equal(w.values[0], [0, 1, 0, 0])


@pytest.mark.realdata
def test_hugonnet_rates_sum_the_rgi_codes(data_dir):
    hma = hugonnet_rates(data_dir, (13, 14, 15))
    ref = hugonnet_comparison(data_dir).set_index("period")
    np.testing.assert_allclose(hma["dmdt"], ref.loc[hma.index, "dmdt_gt_per_yr"], rtol=1e-12)
    np.testing.assert_allclose(hma["err_dmdt"], ref.loc[hma.index, "err_gt_per_yr"], rtol=1e-12)
    ak = hugonnet_rates(data_dir, (1,)).loc[PRIOR_PERIOD]
    assert ak["dmdt"] == pytest.approx(-66.61) and 80e3 < ak["area_km2"] < 95e3  # RGI 01: 86,725 km2
    with pytest.raises(InputError, match="RGI region"):
        hugonnet_rates(data_dir, (99,))


@pytest.mark.realdata
def test_hugonnet_prior_of_alaska_carries_the_table_rate_on_the_box_glaciers(data_dir):
    s = resolve("default", {"region": "alaska"})
    grid = mascon_grid(s["box"], 0.5, s["mascon_buffer_deg"])
    comp = hugonnet_prior(data_dir, grid, REGIONS["alaska"].rgi)
    info = comp.attrs
    # the box holds 98 % of RGI 01's area (Aleutian glaciers west of 168 W are outside, a few of RGI 02 inside)
    assert 0.9 < info["grid_area_km2"] / info["table_area_km2"] < 1.05
    assert info["grid_total_gt"] == pytest.approx(info["dmdtda_kg_m2_yr"] * info["grid_area_km2"] / 1e6, rel=1e-9)
    area = glacier_area_cells(data_dir, grid)
    assert np.all(comp.rate[area == 0] == 0) and np.all(comp.rms[area > 0] > 0)
    assert "Hugonnet" in comp.substitute and "01" in comp.substitute


def test_the_synthetic_world_refuses_other_regions():
    with pytest.raises(InputError, match="High Mountain Asia only"):
        prepare(ensure_synthetic_data_dir(), resolve("default", {"region": "alaska"}), priors=False, gia=False,
                soil_moisture=False)


def test_without_cells_zeroes_the_variance_only_there():
    m = 5
    comp = PriorComponent("hydrology", None, np.full(m, 0.05), np.full((12, m), 0.002), source="grace",
                          substitute="filtered GRACE", rate=np.full(m, -0.01))
    sea = np.array([True, False, False, True, False])
    out = without_cells(comp, sea, "sea cells")
    np.testing.assert_array_equal(out.rms, [0, 0.05, 0.05, 0, 0.05])
    assert np.all(out.seasonal_second_moment[:, sea] == 0) and np.all(out.seasonal_second_moment[:, ~sea] == 0.002)
    np.testing.assert_array_equal(out.rate, [0, -0.01, -0.01, 0, -0.01])
    assert out.substitute.endswith("zero on 2 sea cells") and comp.rms[0] == 0.05  # the input is unchanged


def test_sea_rule_inner_keeps_the_buffer_ring_sea_cells():
    """``none`` zeroes every sea cell, ``inner`` only those inside the box, ``prior`` none."""
    from hma_mascon.geometry import mascon_grid
    from hma_mascon.inputs import sea_hydrology_cells

    grid = mascon_grid((8.0, 36.0, 76.0, 81.0), buffer_deg=5.0)  # Svalbard: sea in the box and the ring
    every, inner = sea_hydrology_cells(grid, "none"), sea_hydrology_cells(grid, "inner")
    assert not sea_hydrology_cells(grid, "prior").any()
    assert inner.sum() > 0 and (every & grid.is_buffer).sum() > 0
    np.testing.assert_array_equal(inner, every & ~grid.is_buffer)
    with pytest.raises(ValueError, match="sea_hydrology='coast'"):
        sea_hydrology_cells(grid, "coast")


@pytest.mark.realdata
def test_a_region_book_solves_compares_and_writes_a_cf_product(data_dir, tmp_path, cf_check):
    """``hma-mascon book --region svalbard`` (two years, no HTML) builds the region page, not the HMA
    chapters; its solution is Svalbard's, compares with Hugonnet on every period with 24 months, and
    written as the product it passes the CF-1.8 check."""
    import nbformat
    import xarray as xr

    from hma_mascon.book.build import run_book
    from hma_mascon.output import write_solution
    from hma_mascon.region_validation import region_table

    result = run_book(data_dir=data_dir, parameters={"region": "svalbard", "period_start": "2009-01",
                                                      "period_end": "2010-12"},
                      out_dir=tmp_path, build_html=False, progress=False)
    assert [p.name for p in result.notebooks] == ["region.ipynb"]
    page = nbformat.read(result.executed_dir / "book" / "region.ipynb", as_version=4)
    text = nbformat.writes(page)
    assert "Svalbard" in text and "reference periods" in text and "Traceback" not in text
    (path,) = (tmp_path / "_build" / ".hma_cache").glob("solution-*.nc")
    with xr.open_dataset(path) as ds:
        sol = ds.load()
    assert sol.attrs["param_region"] == "svalbard" and sol.attrs["param_sea_hydrology"] == "none"
    assert cf_check(write_solution(sol, tmp_path / "svalbard.nc")) == []
    table = region_table(sol, data_dir, filtered=True)
    assert len(table) >= 1 and (table["months"] >= 24).all()
    # what the data say before any inversion: filtered GRACE over the box, the first GIA model removed
    assert np.all(np.isfinite(table["filtered_box_trend"])) and np.all(table["gia_box_trend"] > 0)  # Barents uplift
    assert np.all(np.isfinite(table["grace_trend"])) and np.all(table["grace_error95"] > 0)
    # how much of the data's own filtered trend over the glacier cells the solve kept
    assert np.all(np.isfinite(table["data_kept"])) and np.all(table["filtered_grace_glacier"] != 0)
    assert table["hugonnet"].lt(0).all()  # Svalbard's glaciers lose mass in every Hugonnet period


def test_filtered_trend_fit_judges_a_solution_by_the_data_alone():
    """The data-kept diagnostic (:func:`filtered_trend_fit`): a solution that carries the data's whole
    trend keeps all of it, one that carries half keeps half, a seasonal cycle does not leak into the
    trend, a month missing from the solution is left out of the data's fit too, and the filtered sum
    over the load and a 4 deg margin is the load's mass (the filters move mass, they keep it)."""
    nmax, radius, gm = 40, 6378136.3, 3.986004415e14
    lat = np.arange(24.25, 48.0, 0.5)
    lon = np.arange(70.25, 100.0, 0.5)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    dist = np.hypot(la - 36.0, (lo - 85.0) * np.cos(np.deg2rad(36.0)))
    disc = np.where(dist <= 5.0, -0.2, 0.0)  # m/yr: a 5 deg loss
    time = pd.date_range("2004-01-15", periods=96, freq="MS") + pd.Timedelta(days=14)
    t = decimal_year(time.values)
    field = (t - t.mean())[:, None, None] * disc + 0.5 * np.sin(2 * np.pi * t)[:, None, None] * (disc != 0)
    data = field.copy()
    data[40] += 5.0 * disc  # a bad month in the data, which the solution left out (months[40] False below)
    C, S = prior_stokes(xr.DataArray(data, dims=("time", "lat", "lon"), coords={"lat": lat, "lon": lon}),
                        load_love_numbers(nmax), radius, nmax, GM=gm)
    stokes = xr.Dataset({"C": (("time", "degree", "order"), C), "S": (("time", "degree", "order"), S)},
                        coords={"time": time.values, "degree": np.arange(nmax + 1)},
                        attrs={"radius": radius, "GM": gm})
    r = 6371000.0
    area = (r**2 * np.deg2rad(0.5) * (np.sin(np.deg2rad(la + 0.25)) - np.sin(np.deg2rad(la - 0.25))))

    def solution(scale):
        return xr.Dataset({"lwe_thickness": (("time", "lat", "lon"), 100.0 * scale * field),
                           "cell_area": (("lat", "lon"), area)},
                          coords={"time": time.values, "lat": lat, "lon": lon, "decimal_year": ("time", t)})

    cells = (dist <= 9.0).ravel()
    months = np.ones(time.size, bool)
    months[40] = False
    grace, whole = filtered_trend_fit(solution(1.0), stokes, cells, months)
    _, half = filtered_trend_fit(solution(0.5), stokes, cells, months)
    mass = float(np.sum(disc * area)) * 1000.0 / 1e12
    assert grace < 0 and whole == pytest.approx(grace, rel=1e-9) and half == pytest.approx(0.5 * grace, rel=1e-9)
    assert grace == pytest.approx(mass, rel=0.1)
    with pytest.raises(ValueError, match="months"):
        filtered_trend_fit(solution(1.0), stokes.isel(time=slice(0, 3)), cells, months)


def test_agreement_summary_names_the_periods_and_whose_loss_is_larger():
    rows = pd.DataFrame({"period": ["2000-2020 (GRACE from 2002-04)", "2006-2019", "2010-2020"],
                         "difference": [3.0, 11.0, -9.5], "combined_error95": [7.0, 8.0, 9.0]})
    text = agreement_summary(rows)
    assert text.startswith("agrees over 2000-2020;")
    assert "2006-2019 by 11.0 Gt/yr against a combined error of 8.0" in text and "2010-2020 by 9.5" in text
    assert "smaller in some periods and larger in others" in text
    # GRACE minus Hugonnet positive for a loss: GRACE loses less.
    assert agreement_summary(rows.iloc[1:2]).endswith("(GRACE's loss is the smaller one)")
    assert "does not agree over any period" in agreement_summary(rows.iloc[1:2])
    assert agreement_summary(rows.iloc[:1]) == "agrees over every period (2000-2020)"
    with pytest.raises(ValueError, match="at least one row"):
        agreement_summary(rows.iloc[:0])
