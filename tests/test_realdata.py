"""The paper's analysis on the real GRACE record (needs HMA_MASCON_DATA; ~several minutes on 2 cores).

One CSR and one ITSG solution over the full HMA box are computed once per session (hybrid
coefficient sigmas, :mod:`hma_mascon.noise_model`), then checked against things that can fail:
the HMA glacier trend (sign, order of magnitude of the paper's -25.8 Gt/yr), the agreement of two
independent Level-2 series, the correlation with the JPL/CSR mascon basin means, the size of the
cells, the CLI and the error on a missing input.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import xarray as xr

pytestmark = pytest.mark.realdata

PAPER_HMA_TREND = -25.8  # Gt/yr, Wang et al. 2024, 2002-04..2023-08
#: months of the real runs (CSR: the paper's span; ITSG-Grace2018 ends 2022-11)
RUNS = {"csr": ("2002-04", "2023-08"), "itsg": ("2002-04", "2022-11")}
#: every 3rd month (CSR 74, ITSG 70 months; every 2nd month cost 5.7 min of a 20-minute test budget);
#: the sigmas are still calibrated on every month
MONTH_STEP = 3


class _Grid:
    """The mascon grid of a solution Dataset (what regions/basins need)."""

    def __init__(self, sol):
        self.lat_axis = sol["lat"].values
        self.lon_axis = sol["lon"].values
        self.shape = (self.lat_axis.size, self.lon_axis.size)
        la, lo = np.meshgrid(self.lat_axis, self.lon_axis, indexing="ij")
        self.lat, self.lon = la.ravel(), lo.ravel()
        self.area = sol["cell_area"].transpose("lat", "lon").values.ravel()
        self.is_buffer = sol["is_buffer"].transpose("lat", "lon").values.ravel().astype(bool)
        self.size = self.lat.size
        self.resolution = float(np.diff(self.lat_axis).min())


def _cells(sol, var):
    v = sol[var].transpose("time", "lat", "lon").values / 100.0
    return v.reshape(v.shape[0], -1)


@pytest.fixture(scope="session")
def solutions(data_dir):
    from hma_mascon.pipeline import run_solution

    return {src: run_solution(data_dir, source=src, period_start=start, period_end=end, progress=False,
                         month_step=MONTH_STEP)
            for src, (start, end) in RUNS.items()}


#: the common months of the two centres (ITSG-Grace2018 ends 2022-11)
COMMON = ("2002-04", "2022-11")


@pytest.fixture(scope="session")
def hma_trends(solutions, data_dir):
    """Regional glacier trends over the common period, with fit, GIA and damping errors."""
    from hma_mascon.reproduction import prepare, regional_trend_table

    out = {}
    for src, sol in solutions.items():
        df = regional_trend_table(sol, prepare(sol, data_dir), period=COMMON)
        cols = ["trend", "error95", "error95_fit", "sigma_bias", "sigma_gia", "probe_trend", "probe_recovered",
                "damping", "gain"]
        print(f"\n{src}: regional glacier trends {COMMON} [Gt/yr]\n{df[cols].round(2).to_string()}")
        out[src] = df
    return out


def test_provenance_records_the_calibrated_sigmas(solutions):
    for src, sol in solutions.items():
        text = sol.attrs["provenance_coefficient_sigma"]
        assert "hybrid" in text and "empirical" in text, (src, text)
        assert "GRACE-FO" in text or src == "itsg", text


def test_cells_are_physical(solutions):
    """No blow-up: 99.9 % of the cell-months within 6 m EWH, no cell beyond 20 m.

    Measured on all months (hybrid sigmas split at n = 20, alpha floor 10): CSR 99.9th percentile
    2.39 m, maximum 8.7 m; ITSG 4.70 m and 14.2 m (a handful of months with a small alpha). The
    failures this guards against: formal sigmas gave 142 m, empirical sigmas without the monthly
    noise factor 160 m (2015-02), no alpha floor 30.6 m (2004-07). Since the noise screen
    (max_noise_factor = 4) drops 2015-02, all months: CSR 2.8 m inside the box and 4.8 m in the
    buffer ring, ITSG 2.4 m and 5.6 m (reproduction/centres_real.csv).
    """
    for src, sol in solutions.items():
        v = np.abs(sol["lwe_thickness"].values) / 100.0
        p999, vmax = float(np.nanpercentile(v, 99.9)), float(np.nanmax(v))
        print(f"{src}: |cell EWH| 99.9th percentile {p999:.2f} m, max {vmax:.2f} m")
        assert p999 < 6.0, (src, p999)
        assert vmax < 20.0, (src, vmax)


def test_hma_glacier_trend_negative_and_paper_order(hma_trends):
    """Negative and of the paper's order of magnitude: within half a decade (x/÷ 10**0.5) of -25.8.

    Measured 2026-11, all months, 2002-04..2022-11: CSR -25.5, ITSG -26.4 Gt/yr (default hybrid
    sigmas split at n = 20); CSR every 3rd month: -25.0 at n = 20, -28.4 at n = 30, -12 with
    empirical sigmas at every degree (low-degree signal counted as noise over-regularizes).
    """
    for src, df in hma_trends.items():
        trend = float(df.loc["HMA", "trend"])
        assert trend < 0, (src, trend)
        assert PAPER_HMA_TREND / 10**0.5 >= trend >= PAPER_HMA_TREND * 10**0.5, (src, trend)


def test_damping_probe_is_physical(hma_trends):
    """The glacier prior passed noise-free through the solve comes back damped, not amplified or
    sign-flipped, for HMA as a whole."""
    for src, df in hma_trends.items():
        r = df.loc["HMA"]
        assert r["probe_trend"] < 0, (src, r["probe_trend"])
        assert 0.1 < r["probe_recovered"] / r["probe_trend"] < 1.05, (src, r["probe_recovered"], r["probe_trend"])


def test_csr_and_itsg_agree_within_errors(hma_trends):
    """Same months (2002-04..2022-11), the stated errors (95 % fit + GIA spread + the regularization
    bias of each solution: its own noise level sets its own alpha), combined in quadrature."""
    a, b = hma_trends["csr"].loc["HMA"], hma_trends["itsg"].loc["HMA"]
    combined = float(np.hypot(a["error95"], b["error95"]))
    print(f"HMA trend {COMMON}: CSR {a['trend']:.2f} +/- {a['error95']:.2f} (damping {a['damping']:.2f}), "
          f"ITSG {b['trend']:.2f} +/- {b['error95']:.2f} (damping {b['damping']:.2f}); combined {combined:.2f}")
    assert abs(float(a["trend"]) - float(b["trend"])) < combined


def test_basin_means_correlate_with_jpl_and_csr_mascons(solutions, data_dir):
    from hma_mascon.basins import basin_comparison

    sol = solutions["csr"]
    grid = _Grid(sol)
    df = basin_comparison(_cells(sol, "lwe_thickness"), grid, data_dir, time=sol["time"].values,
                          min_coverage=0.8)
    print("\n" + df.round(3).to_string())
    assert len(df) > 0
    # measured (all months): r 0.49-0.74 for Brahmaputra, Indus and the Tibetan plateau, but Tarim He
    # -0.13 (JPL) / -0.09 (CSR), a basin with a small signal; the median over basins is what we claim
    assert np.median(df["r"].values) > 0.4, df


def _small_dir_args(tmp_path, data_dir):
    out = tmp_path / "small.nc"
    return ["solve", "--data-dir", str(data_dir), "--out", str(out), "--box", "84", "90", "28", "32",
            "--mascon-buffer-deg", "5", "--period-start", "2005-01", "--period-end", "2006-01", "--quiet"], out


def test_cli_solve_small_box_writes_cf_file(tmp_path, data_dir):
    from hma_mascon.cli import main

    argv, out = _small_dir_args(tmp_path, data_dir)
    assert main(argv) == 0
    with xr.open_dataset(out) as ds:
        assert ds.attrs["Conventions"].startswith("CF")
        assert ds["lwe_thickness"].attrs["units"] == "cm"
        assert ds.sizes["time"] >= 12
        assert "hybrid" in ds.attrs["provenance_coefficient_sigma"]
        # 13 months cannot calibrate; the whole record of the source did
        assert "calibrated on all" in ds.attrs["provenance_coefficient_sigma"]
        inner = ds["is_buffer"].values == 0  # the 5 deg buffer absorbs the signal from outside
        assert np.nanmax(np.abs(ds["lwe_thickness"].values[:, inner])) < 150.0


def test_missing_file_names_the_manifest_entry(tmp_path, data_dir, capsys):
    """A data directory without TN-13: the error names the entry ``tn13``, not a bare path."""
    from hma_mascon.cli import main

    fake = tmp_path / "data"
    fake.mkdir()
    for entry in os.listdir(data_dir):
        if entry != "low_degree":
            (fake / entry).symlink_to(data_dir / entry)
    (fake / "low_degree").mkdir()
    for name in os.listdir(data_dir / "low_degree"):
        if not name.startswith("TN-13"):
            (fake / "low_degree" / name).symlink_to(data_dir / "low_degree" / name)
    argv, _ = _small_dir_args(tmp_path, fake)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "tn13" in err, err


def test_hybrid_floored_sigmas_are_the_hybrid_ones_raised_to_the_two_centre_noise(data_dir):
    """coefficient_sigma="hybrid-floored": every sigma is at least the hybrid one, the low degrees
    (scaled formal in the hybrid rule) are raised to the CSR-ITSG difference noise, and the
    provenance says so; a synthetic data directory (one centre) is refused by name."""
    from hma_mascon.errors import InputError
    from hma_mascon.inputs import prepare
    from hma_mascon.params import resolve
    from hma_mascon.synthetic import ensure_synthetic_data_dir

    small = dict(box=(80.0, 84.0, 30.0, 33.0), period_start="2005-01", period_end="2006-12")
    hyb = prepare(data_dir, resolve("default", small), priors=False, gia=False, soil_moisture=False)
    flo = prepare(data_dir, resolve("default", {**small, "coefficient_sigma": "hybrid-floored"}), priors=False,
                  gia=False, soil_moisture=False)
    h, f = hyb.stokes["sigma_C"].values, flo.stokes["sigma_C"].values
    ok = np.isfinite(h)
    assert np.array_equal(ok, np.isfinite(f)) and np.all(f[ok] >= h[ok])
    n = hyb.stokes["degree"].values
    low = ok & ((n >= 5) & (n < 20))[None, :, None]
    assert np.median(f[low] / h[low]) > 1.5  # the scaled formal sigmas lie below the centres' disagreement
    assert "floored by the itsg2018_gfc difference noise" in flo.provenance["coefficient_sigma"]
    with pytest.raises(InputError, match="hybrid-floored"):
        prepare(ensure_synthetic_data_dir(), resolve("default", {**small, "coefficient_sigma": "hybrid-floored"}),
                priors=False, gia=False, soil_moisture=False)
