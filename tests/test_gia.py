"""GIA rate files and their apparent EWH rate."""

import numpy as np
import pytest

from hma_mascon.gia import MalformedGIAFileError, gia_ewh_rate, read_gia_rates
from hma_mascon.love_numbers import load_love_numbers
from hma_mascon.synthesis import stokes_to_ewh_grid

HEADER = "A test file\nColumn 1: degree l\n=====END OF HEADER=====\n"


def _write(tmp_path, body, name="GIA.test.txt"):
    p = tmp_path / name
    p.write_text(HEADER + body)
    return p


def test_read_small_file_and_truncate(tmp_path):
    body = "0 0 0 0\n1 0 0 0\n1 1 0 0\n2 0 1e-11 0\n2 1 -2e-12 3e-12\n2 2 4e-12 5e-12\n3 0 7e-12 0\n"
    ds = read_gia_rates(_write(tmp_path, body))
    assert ds.sizes["degree"] == 4 and "time" not in ds.dims
    assert ds.attrs["units"] == "1/yr" and ds.attrs["model"] == "test" and ds["C"].attrs["units"] == "1/yr"
    assert float(ds["S"].sel(degree=2, order=1)) == 3e-12
    ds2 = read_gia_rates(_write(tmp_path, body), nmax=2)
    assert ds2.sizes["degree"] == 3


@pytest.mark.parametrize(
    "body, match",
    [
        ("2 0 1e-11\n", "line 4: expected 4 columns"),
        ("2 0 abc 0\n", "line 4: cannot parse"),
        ("2 3 1e-11 0\n", "line 4: invalid degree/order"),
        ("2 0 1e-11 0\n2 0 1e-11 0\n", "line 5: duplicate"),
        ("2 0 nan 0\n", "line 4: non-finite"),
        ("", "no coefficient rows"),
    ],
)
def test_malformed_files(tmp_path, body, match):
    p = _write(tmp_path, body)
    with pytest.raises(MalformedGIAFileError, match=match) as err:
        read_gia_rates(p)
    assert str(p) in str(err.value)


def test_missing_header(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("2 0 1e-11 0\n")
    with pytest.raises(MalformedGIAFileError, match="header terminator"):
        read_gia_rates(p)


def test_ewh_rate_is_linear_synthesis(tmp_path):
    body = "".join(f"{n} {m} {1e-12 * (n + m)} {2e-12 * m}\n" for n in range(0, 11) for m in range(n + 1))
    ds = read_gia_rates(_write(tmp_path, body))
    k = load_love_numbers(10)
    lat, lon = np.array([30.0, 40.0]), np.array([70.0, 80.0, 90.0])
    r = gia_ewh_rate(ds, lat, lon, k, nmax=10, nmin=2)
    C = np.nan_to_num(ds["C"].values)
    S = np.nan_to_num(ds["S"].values)
    C[:2] = 0
    S[:2] = 0
    ref = stokes_to_ewh_grid(C, S, lat, lon, k, ds.attrs["radius"])
    np.testing.assert_allclose(r.values, ref, rtol=1e-13)
    assert r.attrs["units"] == "m/yr" and r.dims == ("lat", "lon")


@pytest.mark.realdata
def test_ice6g_hudson_bay_uplift_and_model_spread(data_dir):
    k = load_love_numbers(96)
    files = sorted((data_dir / "gia").glob("GIA.*.txt"))
    assert len(files) == 3
    models = {f.name: read_gia_rates(f, nmax=96 if "ICE-6G" in f.name else None) for f in files}
    ice = models["GIA.ICE-6G_D.txt"]
    assert ice.sizes["degree"] == 97 and ice.attrs["model"] == "ICE-6G_D"
    # mantle inflow under the former Laurentide ice sheet: positive apparent mass gain
    hb = gia_ewh_rate(ice, [60.0], [-85.0], k)
    assert 0.01 < hb.values.item() < 0.06  # measured +3.1 cm/yr at n<=96
    # three-model spread over HMA is finite and small compared with the Hudson Bay signal
    lat, lon = np.arange(26.25, 47, 1.0), np.arange(65.25, 105, 1.0)
    maps = np.stack([gia_ewh_rate(g, lat, lon, k).values for g in models.values()])
    spread = maps.std(axis=0)
    assert np.all(np.isfinite(spread)) and spread.max() < 0.01
    assert spread.max() > 0  # the models do differ
