"""Guards of hma_mascon.plausibility: the months a two-step fit needs, and cells the data can carry."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hma_mascon import plausibility as pl
from hma_mascon.cli import main
from hma_mascon.constants import RHO_WATER
from hma_mascon.errors import InputError
from hma_mascon.pipeline import run_solution
from hma_mascon.synthesis import point_mass_coefficients, stokes_to_ewh_grid
from hma_mascon.synthetic import ensure_synthetic_data_dir

GM, A = 3.986004415e14, 6378136.3


@pytest.mark.parametrize("nmax", [20, 96])
def test_one_cell_mass_peaks_at_the_concentration_factor(nmax):
    """A mass confined to one cell shows in the degree 1..N EWH field with the peak h S N(N+2) / (4 pi a^2):
    the sum over m of Pbar_nm^2 at one point is 2n+1 (addition theorem), so the identity is exact."""
    h_cell, area = 2.0, 2.8e9  # 2 m of water on a 0.5 deg cell
    lat, lon = 35.25, 80.75
    C, S = point_mass_coefficients(RHO_WATER * h_cell * area, lat, lon, A, nmax, GM, A)
    peak = stokes_to_ewh_grid(C, S, [lat], [lon], love=None, radius=A, rho_e="consistent", GM=GM, nmin=1)
    assert float(peak[0, 0]) * pl.concentration_factor(area, nmax, A) == pytest.approx(h_cell, rel=1e-10)
    off = stokes_to_ewh_grid(C, S, [lat + 3.0], [lon], love=None, radius=A, rho_e="consistent", GM=GM, nmin=1)
    assert abs(float(off[0, 0])) < float(peak[0, 0])  # the peak sits above the mass


def test_check_solution_counts_and_warns_with_the_numbers():
    area = np.full(3, 2.8e9)
    lim = 0.5 * pl.concentration_factor(area, 96, A)[0]
    x = np.array([[0.1, 0.2, 0.3], [0.1, 2.0 * lim, 0.3]])
    with pytest.warns(pl.ImplausibleSolutionWarning, match=r"1 cell-month.*0.5 m.*2005-02, 31.00N 81.00E, 2 x"):
        rep = pl.check_solution(x, 0.5, area, 96, A, [30.0, 31.0, 32.0], [80.0, 81.0, 82.0], ["2005-01", "2005-02"])
    assert not rep.plausible and rep.exceeding == 1 and rep.largest_m == pytest.approx(2 * lim)
    assert rep.attrs()["plausibility_exceeding_cell_months"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pl.check_solution(x[:1], 0.5, area, 96, A, [30, 31, 32], [80, 81, 82]).plausible


def test_two_step_refuses_too_few_months_naming_the_minimum():
    pl.check_months(pl.MIN_TWO_STEP_MONTHS)
    pl.check_months(3, two_step=False)
    with pytest.raises(InputError, match=rf"5 month\(s\).*at least {pl.MIN_TWO_STEP_MONTHS}.*two_step=false"):
        pl.check_months(5)


def test_six_month_small_box_is_refused_before_computing(tmp_path, capsys):
    """Issue 13, problem 5: a 6 x 4 deg box over 6 months of the synthetic world returned cells of 118 m;
    now the solve refuses up front, naming the minimum, and writes nothing."""
    out = tmp_path / "small.nc"
    world = ensure_synthetic_data_dir()
    rc = main(["solve", "--data-dir", str(world), "--out", str(out), "--quiet", "--no-glacier",
               "--box", "80", "86", "30", "34", "--period-start", "2005-01", "--period-end", "2005-06"])
    assert rc != 0
    err = capsys.readouterr().err
    assert "6 month(s)" in err and f"at least {pl.MIN_TWO_STEP_MONTHS}" in err and "2005-01..2005-06" in err
    assert not out.exists()


def test_absurd_small_box_solution_does_not_pass_silently():
    """The same box over 12 months with GCV returns kilometres of water: the solve warns with the
    numbers and the output records them."""
    with pytest.warns(pl.ImplausibleSolutionWarning, match="implausible solution"):
        ds = run_solution(None, box=(80, 86, 30, 34), period_start="2005-01", period_end="2005-12",
                          alpha_method="gcv", progress=False, glacier=False)
    assert ds.attrs["plausibility_exceeding_cell_months"] > 0
    assert ds.attrs["plausibility_largest_m"] > ds.attrs["plausibility_limit_m"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the small-box warning
        warnings.simplefilter("error", pl.ImplausibleSolutionWarning)
        ok = run_solution(None, box=(80, 86, 30, 34), period_start="2005-01", period_end="2005-12",
                          progress=False, glacier=False)
    assert ok.attrs["plausibility_exceeding_cell_months"] == 0


@pytest.mark.parametrize("argv, needle", [
    (["--out", "{d}"], "is a directory"),
    (["--out", "{f}/x.nc"], "is a file, not a directory"),
])
def test_solve_out_is_checked_before_computing(tmp_path, capsys, argv, needle):
    (tmp_path / "plain").write_text("x")
    argv = [a.format(d=tmp_path, f=tmp_path / "plain") for a in argv]
    with pytest.raises(SystemExit, match=needle):
        main(["solve", *argv, "--quiet"])
