"""Acceptance tests of the synthetic world (reduced mode: a subset of months)."""

from __future__ import annotations

import numpy as np
import pytest

from hma_mascon.synthetic import generate_world, load_truth, write_world
from hma_mascon.synthetic import parameters as P
from hma_mascon.synthetic._sh import ewh_to_stokes_factors, synthesise
from hma_mascon.synthetic.glaciers import season_shape
from hma_mascon.synthetic.noise import coefficient_noise

MONTHS = 9  # every 9th GRACE month: 25 months spanning 2002-2023


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=7, months=MONTHS)


@pytest.fixture(scope="module")
def written(world, tmp_path_factory):
    return write_world(world, tmp_path_factory.mktemp("synthetic"))


def _fit(t, y):
    """Trend of y(t) with annual + semiannual terms (least squares)."""
    X = np.stack([np.ones_like(t), t - t.mean(), np.cos(2 * np.pi * t), np.sin(2 * np.pi * t),
                  np.cos(4 * np.pi * t), np.sin(4 * np.pi * t)], axis=1)
    return np.linalg.lstsq(X, y, rcond=None)[0]


def test_deterministic(world):
    again = generate_world(seed=7, months=MONTHS)
    np.testing.assert_array_equal(world.stokes["C"].values, again.stokes["C"].values)
    np.testing.assert_array_equal(world.truth["lwe_thickness"].values, again.truth["lwe_thickness"].values)
    other = generate_world(seed=8, months=MONTHS)
    assert not np.allclose(world.stokes["C"].values, other.stokes["C"].values, equal_nan=True)


def test_round_trip_through_real_readers(world, written):
    from hma_mascon.gia import read_gia_rates
    from hma_mascon.io_grace import read_stokes_directory
    from hma_mascon.low_degree import read_tn13, read_tn14

    ds = read_stokes_directory(written / "grace" / "csr_rl06")
    assert ds.sizes["time"] == world.months.shape[0]
    np.testing.assert_allclose(ds["C"].values, world.stokes["C"].values, rtol=1e-12, atol=1e-25, equal_nan=True)
    assert list(ds["month"].values) == list(world.months["month"])
    assert np.all(ds["C"].values[:, 1, :2] == 0)  # degree 1 zero in GSM files
    tn13, tn14 = read_tn13(written / "low_degree" / "TN-13_GEOC_CSR_RL0602.txt"), read_tn14(
        written / "low_degree" / "TN-14_C30_C20_GSFC_SLR.txt")
    # SLR C20 is much closer to the truth than the degraded GSM C20
    true_c20 = world.stokes_clean[:, 0, 2, 0] + P.C20_MEAN
    assert np.std(tn14["C20"].values - true_c20) < 0.2 * np.std(ds["C"].values[:, 2, 0] - true_c20)
    np.testing.assert_allclose(tn13["C10"].values, world.stokes_clean[:, 0, 1, 0], atol=5 * P.DEG1_SIGMA)
    gia = read_gia_rates(written / "gia" / "GIA.ICE-6G_D.txt")
    np.testing.assert_allclose(np.asarray(gia["C"].values)[:97, :97][np.tril_indices(97)][3:],
                               world.gia_stokes["ICE-6G_D"][0][np.tril_indices(97)][3:], rtol=1e-10, atol=1e-25)
    truth = load_truth(written)
    assert truth["lwe_thickness"].dims == ("time", "lat", "lon") and truth["lwe_thickness"].attrs["units"] == "cm"
    assert truth.sizes["lat"] == 42 and truth.sizes["lon"] == 80


def test_truth_coefficients_consistent(world):
    """Synthesising the clean coefficients at degree 96 reproduces the truth smoothed by truncation:
    the total mass in the box agrees within leakage (few %), an independent path from the grid sums."""
    tr = world.truth
    k = int(np.argmax(np.abs(tr["glacier"].values).sum(axis=(1, 2))))
    ewh = world.stokes_clean[k] / ewh_to_stokes_factors()[None, :, None]
    ewh[:, :2] = 0
    lat, lon = tr.lat.values, tr.lon.values
    grid = synthesise(ewh, lat, lon) * 100
    ref = tr["lwe_thickness"].values[k] - 0  # truth includes degree 0/1; compare anomalies vs another epoch
    j = int(np.argmin(np.abs(tr["glacier"].values).sum(axis=(1, 2))))
    ewh2 = world.stokes_clean[j] / ewh_to_stokes_factors()[None, :, None]
    ewh2[:, :2] = 0
    d_sh = grid - synthesise(ewh2, lat, lon) * 100
    d_tr = ref - tr["lwe_thickness"].values[j]
    A = tr["cell_area"].values
    assert np.corrcoef(d_sh.ravel(), d_tr.ravel())[0, 1] > 0.5  # truncation at 96 smooths the 0.5-deg blocks
    assert abs((d_sh * A).sum() / (d_tr * A).sum() - 1) < 0.25


def test_regional_trends_and_area(world, written):
    import geopandas as gpd
    import shapely

    tr = world.truth
    area = float(world.glacier_area.sum())
    assert 8e4 < area < 1.2e5
    g = gpd.read_file(written / "regions" / "boundary_mountain_regions_hma_v3_clean.gpkg")
    assert len(g) == 16 and g.crs.to_epsg() == 4326
    lat, lon = tr.lat.values, tr.lon.values
    LA, LO = np.meshgrid(lat, lon, indexing="ij")
    pts = shapely.points(LO.ravel(), LA.ravel())
    gt = tr["glacier"].values * 1e-2 * 1e3 * tr["cell_area"].values / 1e12  # Gt per cell
    t = tr["decimal_year"].values
    trends = {}
    for name, geom in zip(g.himap_region, g.geometry):
        mask = shapely.contains(geom, pts).reshape(LA.shape)
        trends[name] = _fit(t, gt[:, mask].sum(axis=1))[1]
    total = sum(trends.values())
    assert P.ACCEPT_HMA_TREND[0] < total < P.ACCEPT_HMA_TREND[1]
    top3 = sorted(trends, key=trends.get)[:3]
    assert set(top3) == {"Central Himalaya", "Western Himalaya", "Nyainqentanglha"}
    assert trends["Karakoram"] > 0 and trends["Western Kunlun Shan"] > 0
    # lakes gain a few Gt/yr
    lk = tr["lake"].values * 1e-2 * 1e3 * tr["cell_area"].values / 1e12
    assert 2.0 < _fit(t, lk.sum(axis=(1, 2)))[1] < 7.0


def test_seasonal_types():
    """Winter-accumulation glaciers peak in spring, monsoon glaciers peak in summer; shapes span [-1, 1]."""
    tt = np.linspace(0, 1, 366, endpoint=False)
    w = season_shape(tt, *P.SEASON_SHAPES["winter"])
    m = season_shape(tt, *P.SEASON_SHAPES["monsoon"])
    assert 3 <= int(tt[np.argmax(w)] * 12) + 1 <= 5 and 6 <= int(tt[np.argmax(m)] * 12) + 1 <= 8
    assert np.isclose(w.max(), 1, atol=1e-3) and np.isclose(w.min(), -1, atol=1e-3)
    assert np.all(np.abs(np.diff(w)) < 0.05)  # continuous


def _gradient_ratio(C, S):
    ewh = np.stack([C, S]) / ewh_to_stokes_factors()[None, :, None]
    ewh[:, :2] = 0
    lat = np.arange(26.25, 47, 0.5)
    lon = np.arange(65.25, 105, 0.5)
    g = synthesise(ewh, lat, lon)
    gx = np.diff(g, axis=1) * np.cos(np.deg2rad(lat))[:, None] ** -1
    gy = np.diff(g, axis=0)
    return float(np.mean(gx**2) / np.mean(gy**2)), float(np.std(g))


def test_noise_stripes_and_filtering():
    from hma_mascon.filters import apply_ddk, apply_gaussian

    noise = coefficient_noise(1, np.random.default_rng(3))[0]
    ratio_raw, std_raw = _gradient_ratio(noise[0], noise[1])
    assert ratio_raw > 3.0  # north-south stripes: east-west gradients dominate
    Cf, Sf = apply_ddk(noise[0], noise[1], level=5)
    Cf, Sf = apply_gaussian(Cf, Sf, radius_km=200.0)
    ratio_f, std_f = _gradient_ratio(np.asarray(Cf), np.asarray(Sf))
    assert ratio_f < 2.0 and std_f < 0.1 * std_raw


def test_insitu_and_priors(world, written):
    import pandas as pd

    links = pd.read_csv(written / "insitu" / "wgms" / "rgi_wgms_links_20220112_HMA4.csv")
    assert set(links.NAME) == {"YALA", "TS.TUYUKSUYSKIY", "GLACIER NO. 354 (AKSHIYRAK)", "ABRAMOV"}
    yala = pd.read_csv(written / "insitu" / "wgms" / "mbdata_WGMS-00912.csv")
    assert yala.YEAR.min() == 2012 and yala.YEAR.max() == 2022
    assert (yala.WINTER_BALANCE + yala.SUMMER_BALANCE == yala.ANNUAL_BALANCE).all()
    assert yala.ANNUAL_BALANCE.mean() < -200  # glacier-scale loss (mm w.e./yr), larger than the cell mean
    import xarray as xr

    wghm = xr.open_dataset(written / "hydrology" / "wghm_tws_0.5deg.nc")
    assert str(wghm.time.values[-1])[:7] == "2017-12" and wghm.lwe_thickness.attrs["units"] == "cm"
    aster = xr.open_dataset(written / "glaciers" / "aster_glacier_mass_0.5deg.nc")
    assert str(aster.time.values[-1])[:7] == "2019-12"


@pytest.mark.parametrize("cell", [(26.25, 65.25), (35.75, 80.25), (46.75, 104.75)])
def test_block_mass_sits_at_the_cell_centre(cell):
    """One 0.5 deg cell spread onto the analysis nodes and analysed: its degree-1 coefficients give
    the direction of its centre of mass, which must be the cell centre that truth.nc reports
    (generator 1.0.0 put it 0.125 deg south-west), and its degree-0 term its mass."""
    from hma_mascon.synthetic._sh import analyse_many
    from hma_mascon.synthetic.grids import blocks_to_dh, cell_area_m2, product_axes

    lat, lon = product_axes()
    block = np.zeros((1, lat.size, lon.size))
    i, j = np.argmin(np.abs(lat - cell[0])), np.argmin(np.abs(lon - cell[1]))
    block[0, i, j] = 1.0
    c = analyse_many(blocks_to_dh(block, lat, lon), nmax=1)[0]
    lat_c = np.degrees(np.arctan2(c[0, 1, 0], np.hypot(c[0, 1, 1], c[1, 1, 1])))
    lon_c = np.degrees(np.arctan2(c[1, 1, 1], c[0, 1, 1])) % 360
    assert lat_c == pytest.approx(lat[i], abs=0.01)
    assert lon_c == pytest.approx(lon[j], abs=0.01)
    # mass: C00 * 4 pi r^2 = cell area (unit thickness), to the ellipsoid-vs-sphere area difference
    r = 6371e3
    assert c[0, 0, 0] * 4 * np.pi * r**2 == pytest.approx(cell_area_m2(np.array([lat[i]]))[0], rel=0.01)


def test_cell_node_weights_are_centred_and_conserve_width():
    from hma_mascon.synthetic.grids import cell_node_weights

    nodes = np.arange(0.0, 10.0, 0.25)
    centres = np.arange(2.25, 8.0, 0.5)
    W = cell_node_weights(nodes, centres, 0.5)
    np.testing.assert_allclose(W.sum(axis=0), 2.0)  # two node widths per 0.5 deg cell
    np.testing.assert_allclose(W.T @ nodes / W.sum(axis=0), centres)  # node centroid = cell centre
    assert W.sum(axis=1).max() == pytest.approx(1.0)  # an edge node is shared, never doubled


def test_scenario_world_departs_from_its_priors_by_one_term(world):
    """The Karakoram scenario changes the truth and the coefficients by the range's trend departure
    (-2.0 - 0.5 = -2.5 Gt/yr on its trend pattern) and nothing else: same priors, same noise."""
    sc = generate_world(seed=7, months=MONTHS, scenario="karakoram_loss")
    tr, t0 = sc.truth, world.truth
    dep = (tr["lwe_thickness"] - t0["lwe_thickness"]).values
    np.testing.assert_allclose(dep, tr["scenario"].values, atol=1e-4)  # float32 round-off, cm
    np.testing.assert_allclose((tr["glacier"] - t0["glacier"]).values, tr["scenario"].values, atol=1e-4)
    for name in ("lake", "hydrology", "gia"):
        np.testing.assert_array_equal(tr[name].values, t0[name].values)
    for rel, ds in world.products.items():  # the priors do not see the departure
        np.testing.assert_array_equal(sc.products[rel]["lwe_thickness"].values, ds["lwe_thickness"].values)
    t = tr["decimal_year"].values
    area = tr["cell_area"].values
    gt = np.nansum(tr["scenario"].values.astype(float) / 100.0 * area, axis=(1, 2)) * 1e3 / 1e12
    slope = np.polyfit(t, gt, 1)[0]
    assert slope == pytest.approx(-2.5, rel=1e-3)
    spec = next(s for s in world.range_specs if s["name"] == "Karakoram")
    assert spec["trend"] == 0.5 and P.SCENARIOS["karakoram_loss"]["trend"] == -2.0
    dC = sc.stokes["C"].values - world.stokes["C"].values  # same noise: the coefficients differ by the term
    clean = (sc.stokes_clean - world.stokes_clean)[:, 0]
    ok = np.isfinite(dC)
    ok[:, :2] = False  # degrees 0 and 1 are not in GSM files
    ok[:, 2:4, 0] = False  # C20, C30 carry their own noise draws
    assert np.abs(clean[ok]).max() > 1e-13  # 25 Gt ten years from T_REF: ~1e-12
    np.testing.assert_allclose(dC[ok], clean[ok], rtol=0, atol=1e-6 * np.abs(clean[ok]).max())
    with pytest.raises(ValueError, match="scenario 'nope': unknown"):
        generate_world(seed=7, months=2, scenario="nope")


def test_noise_free_world_differs_by_the_noise_alone(world):
    """Without coefficient noise the GSM coefficients are the noisy world's minus exactly its noise
    draw (the same month factors), the stated sigmas, truth and priors are unchanged, and the
    metadata and cache key say so (the noisy default's key is unchanged)."""
    from hma_mascon.synthetic.world import cache_key, metadata

    quiet = generate_world(seed=7, months=MONTHS, noise=False)
    assert quiet.noise is False and world.noise is True
    for v in ("sigma_C", "sigma_S"):
        np.testing.assert_array_equal(quiet.stokes[v].values, world.stokes[v].values)
    np.testing.assert_array_equal(quiet.truth["lwe_thickness"].values, world.truth["lwe_thickness"].values)
    for rel, ds in world.products.items():
        np.testing.assert_array_equal(quiet.products[rel]["lwe_thickness"].values, ds["lwe_thickness"].values)
    noise = world.stokes["C"].values - quiet.stokes["C"].values
    ok = np.isfinite(noise)
    ok[:, :2] = False  # degrees 0 and 1 are not in GSM files
    ok[:, 2:4, 0] = False  # C20, C30 carry their own draws (the low-degree stream)
    sig = world.stokes["sigma_C"].values
    z = noise[ok] / sig[ok]  # the noisy world's noise in units of its stated sigma: about 1, never 0
    assert 0.5 < np.sqrt(np.mean(z**2)) < 2.0
    assert metadata(7)["parameters"] == metadata(7, noise=False)["parameters"]
    assert "noise" not in metadata(7) and metadata(7, noise=False)["noise"] is False
    assert cache_key(7) != cache_key(7, noise=False)


def test_low_noise_world_differs_by_the_noise_level_alone(world):
    """The default world is at the real noise level: generator 1.1.0's low-level draws scaled per
    degree by the knots' factor and per month by the GRACE-FO factor. The noise (world minus its
    noise-free twin) and the stated sigmas of the default are the low world's times that factor;
    truth and priors are unchanged, the metadata says "low" and the key differs. A wrong level is
    refused by name."""
    from hma_mascon.synthetic.noise import real_noise_era_factor, real_noise_factor
    from hma_mascon.synthetic.world import cache_key, metadata

    low = generate_world(seed=7, months=MONTHS, noise="low")
    quiet = generate_world(seed=7, months=MONTHS, noise=False)
    assert low.noise == "low" and world.noise is True
    f = real_noise_factor()
    knots = np.asarray(P.NOISE_REAL_KNOTS)
    np.testing.assert_allclose(f[knots[:, 0].astype(int)], knots[:, 1])  # passes through the knots
    era = real_noise_era_factor(world.months["month"])
    assert set(np.unique(era)) <= {1.0, P.NOISE_REAL_GRACEFO[1]}
    assert np.all(era[world.months["month"].to_numpy() < P.NOISE_REAL_GRACEFO[0]] == 1.0)
    np.testing.assert_array_equal(low.truth["lwe_thickness"].values, world.truth["lwe_thickness"].values)
    for rel, ds in world.products.items():
        np.testing.assert_array_equal(low.products[rel]["lwe_thickness"].values, ds["lwe_thickness"].values)
    deg = world.stokes["degree"].values
    scale = f[deg][None, :, None] * era[:, None, None]
    for v in ("sigma_C", "sigma_S"):
        np.testing.assert_allclose(world.stokes[v].values, low.stokes[v].values * scale, rtol=1e-12)
    ok = np.isfinite(world.stokes["C"].values)
    ok[:, :4] = False  # degrees 0, 1 (not in GSM files) and 2, 3 (C20, C30 carry their own draws)
    n_world = (world.stokes["C"].values - quiet.stokes["C"].values)
    n_low = (low.stokes["C"].values - quiet.stokes["C"].values) * scale
    np.testing.assert_allclose(n_world[ok], n_low[ok], rtol=1e-6, atol=1e-20)
    assert metadata(7, noise="low")["noise"] == "low" and "noise" not in metadata(7)
    assert len({cache_key(7), cache_key(7, noise=False), cache_key(7, noise="low")}) == 3
    with pytest.raises(ValueError, match="noise='loud'"):
        generate_world(seed=7, months=MONTHS, noise="loud")


def test_regional_weather_world_shares_the_interannual_series_of_neighbouring_ranges(world):
    """``interannual="regional"`` mixes the same draws so that ranges correlate as exp(-d / 500 km):
    the mixing factor reproduces that correlation, the first range keeps its own series, two
    neighbouring ranges' interannual series correlate as the kernel says (they hardly do in the
    default world), and the world differs from the default in the glaciers alone (trends, seasons,
    lakes, hydrology, priors unchanged); the metadata and cache key say so."""
    from hma_mascon.regularization import great_circle_km
    from hma_mascon.synthetic.glaciers import glacier_terms, range_weather_mixing
    from hma_mascon.synthetic.world import cache_key, metadata

    L = range_weather_mixing()
    pts = np.array([np.mean(np.asarray(r[1], float), axis=0) for r in P.GLACIER_RANGES])
    rho = np.exp(-great_circle_km(pts[:, 1], pts[:, 0]) / P.INTERANNUAL_CORRELATION_KM)
    np.testing.assert_allclose(L @ L.T, rho, atol=1e-12)
    assert L[0, 0] == 1.0 and np.all(np.triu(L, 1) == 0)

    def series(mode):  # each range's interannual series (variability minus its season and oscillation)
        rng_a, rng_t = (np.random.default_rng(s) for s in np.random.SeedSequence(3).spawn(2))
        *_, specs = glacier_terms(rng_a, rng_t, mode)
        t = np.linspace(2002.0, 2023.0, 600)
        return t, {s["name"]: s for s in specs}

    t, ind = series("independent")
    _, reg = series("regional")
    names = [r[0] for r in P.GLACIER_RANGES]
    ts = P.TIENSHAN_OSCILLATION["ranges"]
    pair = ("Central Himalaya", "Gangdise Mountains")  # neighbours, no Tien Shan oscillation
    i, j = names.index(pair[0]), names.index(pair[1])
    assert pair[0] not in ts and pair[1] not in ts

    def iav(specs, name):  # the variability term minus its seasonal part (no oscillation here): v_r
        s = specs[name]
        tmax, tmin = P.SEASON_SHAPES[s["season"]]
        return s["f_var"](t) - s["amplitude_gt"] * season_shape(t, tmax, tmin)

    r_ind = np.corrcoef(iav(ind, pair[0]), iav(ind, pair[1]))[0, 1]
    r_reg = np.corrcoef(iav(reg, pair[0]), iav(reg, pair[1]))[0, 1]
    assert rho[i, j] > 0.5
    assert r_reg > r_ind + 0.2 and r_reg > 0.3  # finite sums of sinusoids: the kernel's value only on average
    np.testing.assert_allclose(iav(reg, names[0]), iav(ind, names[0]), rtol=1e-12, atol=1e-12)
    for name in names:  # the trends are untouched
        np.testing.assert_array_equal(reg[name]["f_trend"](t), ind[name]["f_trend"](t))

    shared = generate_world(seed=7, months=MONTHS, interannual="regional")
    assert shared.interannual == "regional" and world.interannual == "independent"
    for name in ("lake", "hydrology", "gia"):
        np.testing.assert_array_equal(shared.truth[name].values, world.truth[name].values)
    assert not np.allclose(shared.truth["glacier"].values, world.truth["glacier"].values)
    for rel in ("lakes/lake_storage_0.5deg.nc", "hydrology/wghm_tws_0.5deg.nc"):
        np.testing.assert_array_equal(shared.products[rel]["lwe_thickness"].values,
                                      world.products[rel]["lwe_thickness"].values)
    assert metadata(7, interannual="regional")["interannual"] == "regional" and "interannual" not in metadata(7)
    assert cache_key(7) != cache_key(7, interannual="regional")
    with pytest.raises(ValueError, match="interannual_mode='weekly'"):
        generate_world(seed=7, months=2, interannual="weekly")
