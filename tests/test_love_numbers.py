"""Load Love numbers: values of METHODS.md section 1, frames, provenance."""

import numpy as np
import pytest

from hma_mascon.love_numbers import K1_CF_SWENSON2008, as_love_array, load_love_numbers


@pytest.mark.parametrize("model", ["han_wahr", "gegout", "wang2012"])
def test_low_degree_values(model):
    k = load_love_numbers(10, model=model)
    # METHODS.md section 1 (Han & Wahr); the other PREM computations agree to ~0.003
    tol = 0.0005 if model == "han_wahr" else 0.004
    for n, ref in ((2, -0.3025), (3, -0.1941), (4, -0.1323), (5, -0.1037)):
        assert abs(float(k.sel(degree=n)) - ref) < tol
    assert float(k.sel(degree=0)) == 0.0
    assert k.attrs["frame"] == "CF" and k.attrs["model"] == model
    assert "gravity-toolkit" in k.attrs["source"]


def test_degree1_cf():
    k = load_love_numbers(4)
    # Blewitt isomorphism of the Han & Wahr numbers (0.0274) vs Swenson et al. 2008 (0.021)
    assert abs(float(k[1]) - 0.0274) < 5e-4
    assert abs(float(k[1]) - 0.021) < 0.007
    k2 = load_love_numbers(4, degree1=K1_CF_SWENSON2008)
    assert float(k2[1]) == pytest.approx(0.021)
    np.testing.assert_array_equal(k2.values[2:], k.values[2:])


def test_cm_frame_refused():
    with pytest.raises(ValueError, match="1 \\+ k'_1 = 0"):
        load_love_numbers(10, frame="CM")
    with pytest.raises(ValueError, match="unknown Love-number model"):
        load_love_numbers(10, model="nope")


def test_high_degree_limit():
    # k'_n -> -(g-dependent constant)/n: n k'_n tends to a constant (Farrell 1972), k'_n < 0 and |k'_n| decreasing
    k = load_love_numbers(200).values
    assert np.all(k[2:] < 0) and np.all(np.diff(np.abs(k[2:])) < 0)
    nk = np.arange(201) * k
    assert abs(nk[200] - nk[150]) / abs(nk[200]) < 0.05


def test_as_love_array():
    k = load_love_numbers(5)
    np.testing.assert_array_equal(as_love_array(k, 3), k.values[:4])
    assert np.all(as_love_array(None, 3) == 0)
    with pytest.raises(ValueError):
        as_love_array(k, 10)


def test_loading_love_numbers_leaves_the_warning_filters_alone():
    """gravity_toolkit.tools calls warnings.filterwarnings("ignore") when imported; loading the Love
    numbers through the package must not silence the warnings of the rest of the process."""
    import subprocess
    import sys

    code = ("import warnings\n"
            "blanket = lambda: any(f[0] == 'ignore' and f[1] is None and f[2] is Warning for f in warnings.filters)\n"
            "from hma_mascon.love_numbers import load_love_numbers, love_data_path\n"
            "import hma_mascon.pipeline\n"
            "load_love_numbers(4); love_data_path()\n"
            "assert not blanket(), warnings.filters[:3]\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
