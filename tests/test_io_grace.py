"""Tests of the Level-2 readers and writers (hma_mascon.io_grace)."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pandas as pd
import pytest

from hma_mascon import io_grace, stokes
from hma_mascon.io_grace import MalformedFileError


def _field(nmax=8, start="2015-04-12", end="2015-05-13", seed=1):
    rng = np.random.default_rng(seed)
    C = rng.normal(scale=1e-9, size=(1, nmax + 1, nmax + 1))
    S = rng.normal(scale=1e-9, size=(1, nmax + 1, nmax + 1))
    C[0, 0, 0], C[0, 2, 0] = 1.0, -4.8416935e-4
    return stokes.make_stokes_dataset(C, S, np.abs(C) / 7, np.abs(S) / 7, time_start=[start], time_end=[end],
                                      mission="GRACE", GM=3.986004415e14, radius=6378136.3,
                                      tide_system="zero_tide", product="synthetic")


def _same(a, b):
    for v in ("C", "S", "sigma_C", "sigma_S"):
        np.testing.assert_array_equal(a[v].values, b[v].values)
    assert a.time_start.values[0] == b.time_start.values[0]
    assert a.time_end.values[0] == b.time_end.values[0]
    assert a.attrs["GM"] == b.attrs["GM"] and a.attrs["radius"] == b.attrs["radius"]


@pytest.mark.parametrize("name", ["GSM-2_2015102-2015132_GRAC_TEST_BB01_0600", "GSM-2_2015102-2015132_GRAC_TEST_BB01_0600.gz"])
def test_gsm_round_trip(tmp_path, name):
    ds = _field()
    path = io_grace.write_gsm(tmp_path / name, ds)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    back = io_grace.read_gsm(path)
    _same(ds, back)
    assert back.mission.item() == "GRACE" and back.month.item() == "2015-04"
    assert back.attrs["tide_system"] == "zero_tide"
    # truncation keeps the low degrees
    low = io_grace.read_gsm(path, nmax=4)
    np.testing.assert_array_equal(low.C.values, ds.C.values[:, :5, :5])


def test_gfc_round_trip_and_name_span(tmp_path):
    ds = _field(start="2019-01-01", end="2019-02-01")
    path = io_grace.write_gfc(tmp_path / "Model_n8_2019-01.gfc.gz", ds)
    _same(ds, io_grace.read_gfc(path))
    # without the time keys the span comes from the file name (calendar month)
    text = gzip.decompress(path.read_bytes()).decode()
    text = "\n".join(l for l in text.splitlines() if not l.startswith("time_coverage"))
    p2 = tmp_path / "Tongji-Grace2022_n8_2019-01.gfc"
    p2.write_text(text)
    back = io_grace.read_gfc(p2)
    assert str(back.time_start.values[0])[:10] == "2019-01-01" and str(back.time_end.values[0])[:10] == "2019-02-01"
    assert back.mission.item() == "GRACE-FO"


def test_directory_reader_labels_and_period(tmp_path):
    spans = [("2011-09-01", "2011-10-01"), ("2011-10-01", "2011-11-01"), ("2011-10-16", "2011-11-16"),
             ("2011-12-13", "2012-01-12"), ("2018-06-01", "2018-07-01")]
    for k, (a, b) in enumerate(spans):
        ds = _field(nmax=4, start=a, end=b, seed=k)
        d0, d1 = pd.Timestamp(a), pd.Timestamp(b) - pd.Timedelta(days=1)
        mis = "GRFO" if d0.year == 2018 else "GRAC"
        io_grace.write_gsm(tmp_path / f"GSM-2_{d0:%Y%j}-{d1:%Y%j}_{mis}_TEST_BB01_0600.gz", ds)
    (tmp_path / "README.txt").write_text("not a coefficient file")
    all_ = io_grace.read_stokes_directory(tmp_path, progress=False)
    assert list(all_.month.values) == ["2011-09", "2011-10", "2011-11", "2011-12", "2018-06"]
    assert list(all_.mission.values) == ["GRACE"] * 4 + ["GRACE-FO"]
    assert np.all(np.diff(all_.time.values) > np.timedelta64(0))
    sub = io_grace.read_stokes_directory(tmp_path, start="2011-10", end="2011-12", progress=False)
    assert list(sub.month.values) == ["2011-10", "2011-11", "2011-12"]
    one = io_grace.read_gsm(tmp_path / sub.source_file.values[1])
    np.testing.assert_array_equal(one.C.values[0], sub.C.values[1])


def _gsm_text(tmp_path):
    path = io_grace.write_gsm(tmp_path / "GSM-2_2015102-2015132_GRAC_TEST_BB01_0600", _field(nmax=6))
    return path, path.read_text().splitlines()


def _line_of(lines, pattern):
    return next(i for i, l in enumerate(lines) if re.match(pattern, l)) + 1


def _expect(path, lines, match):
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MalformedFileError, match=match) as info:
        io_grace.read_gsm(path)
    assert str(path) in str(info.value)
    return info.value


def test_malformed_gsm(tmp_path):
    path, lines = _gsm_text(tmp_path)
    # truncated: the last records are missing
    err = _expect(path, lines[:-3], "missing")
    assert err.line == len(lines) - 3
    # degree beyond the header's nmax
    bad = list(lines)
    k = _line_of(bad, r"GRCOF2\s+6\s+6")
    bad[k - 1] = bad[k - 1].replace("GRCOF2    6    6", "GRCOF2    7    6")
    assert _expect(path, bad, "exceeds the maximum degree").line == k
    # NaN and non-numeric coefficients
    bad = list(lines)
    k = _line_of(bad, r"GRCOF2\s+3\s+1")
    tok = bad[k - 1].split()
    tok[3] = "NaN"
    bad[k - 1] = " ".join(tok)
    assert _expect(path, bad, f"line {k}: C is 'NaN'").line == k
    tok[3] = "0.12x4E-09"
    bad[k - 1] = " ".join(tok)
    _expect(path, bad, f"line {k}: non-numeric C")
    # duplicate record
    bad = list(lines)
    k = _line_of(bad, r"GRCOF2\s+4\s+2")
    bad.insert(k, bad[k - 1])
    assert _expect(path, bad, "duplicate record for degree 4, order 2").line == k + 1
    # missing GM in the YAML header
    bad = [l.replace("earth_gravity_param:", "gm_renamed:") for l in lines]
    _expect(path, bad, "lacks the key .*earth_gravity_param")
    bad = [l.replace("mean_equator_radius:", "radius_renamed:") for l in lines]
    _expect(path, bad, "lacks the key .*mean_equator_radius")
    # a GRCOF2 record with too few fields
    bad = list(lines)
    k = _line_of(bad, r"GRCOF2\s+5\s+0")
    bad[k - 1] = "GRCOF2    5    0 1.0"
    _expect(path, bad, f"line {k}: GRCOF2 record has 3 fields")


def test_malformed_gfc(tmp_path):
    path = io_grace.write_gfc(tmp_path / "x_2019-01.gfc", _field(nmax=5))
    lines = path.read_text().splitlines()
    bad = [l for l in lines if not l.startswith("radius")]
    path.write_text("\n".join(bad))
    with pytest.raises(MalformedFileError, match="radius"):
        io_grace.read_gfc(path)
    bad = list(lines)
    k = next(i for i, l in enumerate(bad) if l.startswith("max_degree"))
    bad[k] = "max_degree 4"
    path.write_text("\n".join(bad))
    with pytest.raises(MalformedFileError, match="exceeds the maximum degree 4"):
        io_grace.read_gfc(path)
    path.write_text("\n".join(lines[:-1]))
    with pytest.raises(MalformedFileError, match="missing"):
        io_grace.read_gfc(path)


def test_mission_from_filename():
    assert io_grace.mission_from_filename("GSM-2_2018152-2018181_GRFO_UTCSR_BB01_0602.gz") == "GRACE-FO"
    assert io_grace.mission_from_filename("GSM-2_2002095-2002120_GRAC_UTCSR_BB01_0600.gz") == "GRACE"
    t = np.datetime64("2019-01-01")
    assert io_grace.mission_from_filename("ITSG-Grace_operational_n96_2019-01.gfc", t) == "GRACE-FO"
    assert io_grace.mission_from_filename("ITSG-Grace2018_n96_2010-01.gfc", np.datetime64("2010-01-01")) == "GRACE"


@pytest.mark.realdata
def test_csr_rl06_months(data_dir):
    ds = io_grace.read_stokes_directory(data_dir / "grace" / "csr_rl06", start="2002-04", end="2023-08",
                                        nmax=4, progress=False)
    labels = list(ds.month.values)
    assert len(labels) == 223 and len(set(labels)) == 223
    assert labels[0] == "2002-04" and labels[-1] == "2023-08"
    gap = [str(p) for p in pd.period_range("2017-07", "2018-05", freq="M")]
    assert not set(gap) & set(labels)
    # the special months got their own labels
    lab = dict(zip(ds.source_file.values, labels))
    assert lab["GSM-2_2011289-2011319_GRAC_UTCSR_BB01_0600.gz"] == "2011-11"
    assert lab["GSM-2_2011274-2011304_GRAC_UTCSR_BB01_0600.gz"] == "2011-10"
    assert lab["GSM-2_2015102-2015131_GRAC_UTCSR_BB01_0600.gz"] == "2015-05"
    assert set(ds.mission.values[ds.month.values < "2017-07"]) == {"GRACE"}
    assert set(ds.mission.values[ds.month.values > "2018-05"]) == {"GRACE-FO"}
    # C20 is the dominant term of the real field
    assert np.all(np.abs(ds.C.values[:, 2, 0] + 4.8417e-4) < 1e-8)


@pytest.mark.realdata
def test_ddk_pair_and_itsg(data_dir):
    a = io_grace.read_gsm(data_dir / "ddk" / "test_GSM-2_2008122-2008153_0030_EIGEN_G---_0004in")
    b = io_grace.read_gsm(data_dir / "ddk" / "test_GSM-2_2008122-2008153_0030_EIGEN_G---_0004out_DDK2")
    assert a.sizes["degree"] == b.sizes["degree"] == 121
    assert a.month.item() == b.month.item() == "2008-05"
    # the DDK2 filter damps high degrees strongly and low degrees little
    ra = np.nansum(b.C.values[0, 100:] ** 2) / np.nansum(a.C.values[0, 100:] ** 2)
    rl = abs(b.C.values[0, 2, 0] / a.C.values[0, 2, 0])
    assert ra < 1e-6 and 0.99 < rl <= 1.0
    # ITSG and CSR, two independent centres, agree on C22 of April 2002 (dominant static term)
    g = io_grace.read_gfc(data_dir / "grace" / "itsg2018" / "ITSG-Grace2018_n96_2002-04.gfc.gz")
    c = io_grace.read_gsm(data_dir / "grace" / "csr_rl06" / "GSM-2_2002095-2002120_GRAC_UTCSR_BB01_0600.gz")
    assert g.month.item() == c.month.item() == "2002-04"
    assert abs(g.C.values[0, 2, 2] / c.C.values[0, 2, 2] - 1) < 1e-6
    assert np.all(g.sigma_C.values[0, 2:, 0] > 0)
