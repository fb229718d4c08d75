"""Tests of the closed-loop experiment tools (hma_mascon.experiments)."""

import numpy as np
import pytest
import xarray as xr

from hma_mascon import diagnostics as dg
from hma_mascon import experiments as ex
from hma_mascon.constants import HMA_BOX, RHO_WATER
from hma_mascon.geometry import mascon_grid


def _series(T=48, m=30, seed=1):
    rng = np.random.default_rng(seed)
    t = 2004 + (np.arange(T) + 0.5) / 12
    rate = rng.normal(0, 0.02, m)
    amp = rng.uniform(0.02, 0.1, m)
    truth = np.outer(t - t.mean(), rate) + amp * np.cos(2 * np.pi * t)[:, None]
    return t, truth - truth.mean(axis=0), rate


def test_reduced_box_stays_inside_and_snaps():
    box = ex.reduced_box(HMA_BOX, centre=(79.0, 35.0), size=(6.0, 5.0), margin=2.0)
    lon0, lon1, lat0, lat1 = box
    assert lon0 >= HMA_BOX[0] + 2 and lon1 <= HMA_BOX[1] - 2 and lat0 >= HMA_BOX[2] + 2 and lat1 <= HMA_BOX[3] - 2
    assert lon1 - lon0 == pytest.approx(6.0) and lat1 - lat0 == pytest.approx(5.0)
    assert all(abs(v * 2 - round(v * 2)) < 1e-12 for v in box)
    # a centre near the edge is pushed inside
    edge = ex.reduced_box(HMA_BOX, centre=(66.0, 27.0), size=(6.0, 5.0), margin=2.0)
    assert edge[0] >= HMA_BOX[0] + 2 and edge[2] >= HMA_BOX[2] + 2
    # a box too small for the margin is returned unchanged
    assert ex.reduced_box((80, 82, 30, 32), margin=2.0) == (80.0, 82.0, 30.0, 32.0)


def test_recovery_metrics_perfect_zero_and_offset():
    t, truth, rate = _series()
    area = np.full(truth.shape[1], 2.5e9)
    perfect = ex.recovery_metrics(truth, truth, t, area)
    assert perfect["rms_error_cm"] == pytest.approx(0.0, abs=1e-12)
    assert perfect["total_trend_error_pct"] == pytest.approx(0.0, abs=1e-9)
    assert perfect["trend_r2"] == pytest.approx(1.0)
    assert perfect["total_trend_true_gt"] == pytest.approx(float(rate @ area) * RHO_WATER / 1e12, rel=1e-9)
    # a constant offset per cell is not an error (anomalies about different means)
    shifted = truth + np.linspace(-1, 1, truth.shape[1])
    shifted[5] = np.nan  # a missing month is skipped
    m = ex.recovery_metrics(shifted, truth, t, area)
    assert m["rms_error_cm"] == pytest.approx(0.0, abs=1e-10)
    # estimating nothing: the whole signal is the error and the trend is missed by 100 %
    zero = ex.recovery_metrics(np.zeros_like(truth), truth, t, area)
    assert zero["rms_error_cm"] == pytest.approx(zero["rms_signal_cm"])
    assert zero["total_trend_error_pct"] == pytest.approx(-100.0)
    assert zero["trend_r2"] <= 0.0
    # half the signal: error is half the signal, trend error -50 %
    half = ex.recovery_metrics(0.5 * truth, truth, t, area)
    assert half["rms_error_cm"] == pytest.approx(0.5 * half["rms_signal_cm"])
    assert half["total_trend_error_pct"] == pytest.approx(-50.0)


def test_regional_trend_errors_and_error_map():
    grid = mascon_grid((80.0, 82.5, 30.0, 33.0), 0.5)
    m = grid.size
    t, truth, _ = _series(m=m)
    w = xr.DataArray(np.vstack([np.ones(m), (np.arange(m) % 2).astype(float)]), dims=("region", "cell"),
                     coords={"region": ["all", "every other"]})
    table = ex.regional_trend_errors(truth, truth, t, grid.area, w)
    np.testing.assert_allclose(table["error_gt_per_yr"], 0.0, atol=1e-12)
    doubled = ex.regional_trend_errors(2 * truth, truth, t, grid.area, w)
    np.testing.assert_allclose(doubled["error_gt_per_yr"], doubled["true_gt_per_yr"], rtol=1e-9)
    emap = ex.recovery_error_map(truth + 0.01 * np.sin(np.arange(truth.shape[0]))[:, None], truth, grid)
    assert emap.dims == ("lat", "lon") and emap.attrs["units"] == "cm"
    assert float(emap.max()) < 1.0 and float(emap.min()) > 0.0


def test_resolution_spread_identity_and_blur():
    grid = mascon_grid((80.0, 84.0, 30.0, 34.0), 0.5)
    m = grid.size
    sp = dg.resolution_spread(np.eye(m), grid)
    np.testing.assert_allclose(sp["spread_km"], 0.0, atol=1e-9)
    np.testing.assert_allclose(sp["diagonal"], 1.0)
    # blur: every cell shares its impulse with its 4 neighbours -> spread about one cell (~50 km)
    lat, lon = np.asarray(grid.lat), np.asarray(grid.lon)
    H = np.eye(m)
    for j in range(m):
        nb = np.flatnonzero((np.abs(lat - lat[j]) + np.abs(lon - lon[j]) > 0.1)
                            & (np.abs(lat - lat[j]) + np.abs(lon - lon[j]) < 0.6))
        H[nb, j] = 0.5
    sp2 = dg.resolution_spread(H, grid, cells=[m // 2 + 4])
    assert 35.0 < float(sp2["spread_km"].iloc[0]) < 56.0


def test_box_total():
    grid = mascon_grid((80.0, 81.0, 30.0, 31.0), 0.5)
    area = grid.area.reshape(grid.shape)
    sol = xr.Dataset({"lwe_thickness": (("time", "lat", "lon"), np.full((2,) + grid.shape, 100.0)),
                      "cell_area": (("lat", "lon"), area),
                      "is_buffer": (("lat", "lon"), np.array([[0, 0], [0, 1]], "i1"))})
    tot = dg.box_total_gt(sol)
    expected = RHO_WATER * area.ravel()[:3].sum() / 1e12  # 1 m over the three non-buffer cells
    np.testing.assert_allclose(tot.values, expected, rtol=1e-12)
    assert tot.attrs["units"] == "Gt"


@pytest.fixture(scope="module")
def tiny_problem():
    from hma_mascon.synthetic import ensure_synthetic_data_dir

    d = ensure_synthetic_data_dir()
    # a 2 x 2 deg box is less than five correlation lengths of the default's prior across: the
    # diagonal prior (hma_mascon.regularization.correlated_prior_precision, Limits)
    return ex.load_reduced_problem(d, (80.0, 82.0, 32.0, 34.0), period_start="2005-01", period_end="2008-12",
                                   month_step=4, buffer_deg=1.0, nmax=60, preset="diagonal")


def test_closed_loop_tiny_problem(tiny_problem):
    """On the synthetic world: truth present, the recovery is bounded, the resolution matrix loses
    its diagonal as alpha grows and its trace is the signal degrees of freedom."""
    p = tiny_problem
    assert p.truth is not None and p.truth.shape == (p.stokes.sizes["time"], p.grid.size)
    assert p.inner.sum() == 16 and (~p.inner).sum() > 0
    est = ex.fit_variant(p)
    m = ex.recovery_metrics(est.x_, p.truth, p.t, p.grid.area, p.inner)
    assert m["rms_error_cm"] < 3 * m["rms_signal_cm"]
    H_small = dg.resolution_matrix(est, p, alpha=1e-9)
    H_big = dg.resolution_matrix(est, p, alpha=1e9)
    d_small = np.median(np.diag(H_small))
    d_big = np.median(np.diag(H_big))
    assert d_big < 1e-3
    assert d_small > np.median(np.diag(dg.resolution_matrix(est, p))) > d_big
    # trace H = t(alpha) = sum lambda/(lambda + alpha) of the generalized eigenproblem (independent path)
    from hma_mascon.eigensystem import eigen_system

    Aw, _, _ = dg.whitened_system(est, p)
    solver = eigen_system(Aw, est.r_pre_).solver
    for a in (1e-6, 1e-2, 1e2):
        assert np.trace(dg.resolution_matrix(est, p, alpha=a)) == pytest.approx(solver.dof(a), rel=1e-6)
    curves = dg.alpha_curves(est, p, month=0)
    assert np.all(np.diff(curves["prior_norm"].values) <= 1e-12 * curves["prior_norm"].max())  # eta falls
    assert np.all(np.diff(curves["dof"].values) <= 1e-9)  # t(alpha) falls
    assert np.all(np.diff(curves["residual"].values) >= -1e-9 * curves["residual"].max())  # Omega rises


def test_kernel_maps_sign_altitude_and_reciprocity():
    """A mass excess pulls down (positive radial kernel, peak above the mascon); a lower orbit sees a
    stronger, narrower peak; row and column of the same pair agree (A_ij is one number)."""
    box = (82.0, 88.0, 28.0, 34.0)
    col450, row450 = dg.kernel_maps(box, 450e3, at=(31.0, 85.0), nmax=60)
    col400, _ = dg.kernel_maps(box, 400e3, at=(31.0, 85.0), nmax=60)
    iy, ix = np.unravel_index(int(np.argmax(col450.values)), col450.shape)
    # within a mascon half-cell + an observation step (+ geodetic vs geocentric latitude) of the mass
    assert abs(float(col450.lat[iy]) - 31.0) <= 0.65 and abs(float(col450.lon[ix]) - 85.0) <= 0.65
    assert float(col450.max()) > 0
    assert float(col400.max()) > float(col450.max())
    half = lambda c: int((c.values > c.values.max() / 2).sum())  # noqa: E731
    assert half(col400) < half(col450)
    # the row's value at the mascon = the column's value at the observation (same A_ij)
    assert float(row450.max()) == pytest.approx(float(col450.max()), rel=0.2)


def test_offline_substitute_priors_have_the_real_data_shape():
    """Rate-only glacier prior (no seasonal variance, sigma = |rate| std t), no lake, GRACE-derived
    hydrology; the paper's configuration fits with them and is scored against the same truth."""
    from hma_mascon.priors import component_trend
    from hma_mascon.synthetic import ensure_synthetic_data_dir

    # the GRACE-derived hydrology prior needs >= 12 months inside the prior period
    p = ex.load_reduced_problem(ensure_synthetic_data_dir(), (80.0, 82.0, 32.0, 34.0), period_start="2005-01",
                                period_end="2008-12", month_step=3, buffer_deg=1.0, nmax=60, preset="diagonal")
    sub = ex.offline_substitute_priors(p)
    g = sub["glacier"]
    assert g.series is None and np.all(g.seasonal_second_moment == 0)
    np.testing.assert_allclose(g.rate, component_trend(p.priors["glacier"], p.grid))
    t = np.arange(2002 + 1 / 24, 2018, 1 / 12)  # monthly 2002-01..2017-12
    np.testing.assert_allclose(g.rms, np.abs(g.rate) * np.std(t), rtol=1e-2)
    assert np.all(sub["lake"].rms == 0)
    assert "GRACE" in sub["hydrology"].source and np.all(np.isfinite(sub["hydrology"].rms))
    est = ex.fit_variant(p, priors="offline")
    m = ex.recovery_metrics(est.x_, p.truth, p.t, p.grid.area, p.inner)
    assert np.isfinite(m["rms_error_cm"]) and m["rms_error_cm"] < 3 * m["rms_signal_cm"]
    with pytest.raises(ValueError, match="offline"):
        ex.fit_variant(p, priors="bogus")


def test_correlated_prior_runs_dense_and_has_the_diagonal_limit(tiny_problem):
    """prior_correlation_km: the fit runs with dense R_pre/R_sv (13 of them) and stays finite; with a
    correlation length far below the cell spacing it is the diagonal (paper) prior again."""
    p = tiny_problem
    diag = ex.fit_variant(p, prior_correlation_km=None)
    corr = ex.fit_variant(p, prior_correlation_km=100.0)
    assert np.asarray(corr.r_pre_).ndim == 2 and np.asarray(corr.r_sv_).shape[-2:] == (p.grid.size, p.grid.size)
    ok = np.isfinite(diag.x_)
    assert np.isfinite(corr.x_[ok]).all()
    assert not np.allclose(corr.x_[ok], diag.x_[ok], atol=1e-6)  # the correlation changes the solution
    limit = ex.fit_variant(p, prior_correlation_km=1.0)
    np.testing.assert_allclose(limit.x_[ok], diag.x_[ok], atol=1e-6 * max(np.abs(diag.x_[ok]).max(), 1e-3))
