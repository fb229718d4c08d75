"""Tests of the TN-13 / TN-14 low-degree replacement (hma_mascon.low_degree)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hma_mascon import io_grace, low_degree, stokes
from hma_mascon.io_grace import MalformedFileError


def _months(labels, nmax=4, seed=0):
    rng = np.random.default_rng(seed)
    per = [pd.Period(x, freq="M") for x in labels]
    t0 = [p.start_time for p in per]
    t1 = [(p + 1).start_time for p in per]
    C = rng.normal(scale=1e-9, size=(len(per), nmax + 1, nmax + 1))
    return stokes.make_stokes_dataset(C, C * 0.5, time_start=t0, time_end=t1, GM=3.986004415e14, radius=6378136.3)


def _tables(labels, seed=3):
    rng = np.random.default_rng(seed)
    per = [pd.Period(x, freq="M") for x in labels]
    base = pd.DataFrame({"time_start": [p.start_time for p in per], "time_end": [(p + 1).start_time for p in per]})
    tn13 = base.assign(C10=rng.normal(size=len(per)) * 1e-10, C11=rng.normal(size=len(per)) * 1e-10,
                       S11=rng.normal(size=len(per)) * 1e-10, sigma_C10=4.4585e-11, sigma_C11=4.5296e-11,
                       sigma_S11=5.0724e-11)
    c30 = 9.57e-7 + rng.normal(size=len(per)) * 1e-10
    c30[: len(per) // 2] = np.nan  # no SLR C30 in the early half
    tn14 = base.assign(C20=-4.8416e-4 + rng.normal(size=len(per)) * 1e-10, sigma_C20=1.6e-11, C30=c30,
                       sigma_C30=np.where(np.isnan(c30), np.nan, 2.5e-11))
    return tn13, tn14


LABELS = ["2015-01", "2015-02", "2015-04", "2016-07", "2016-08", "2016-09", "2018-06", "2018-07"]


def test_tn_round_trips(tmp_path):
    tn13, tn14 = _tables(LABELS)
    back13 = low_degree.read_tn13(low_degree.write_tn13(tmp_path / "TN-13.txt", tn13))
    back14 = low_degree.read_tn14(low_degree.write_tn14(tmp_path / "TN-14.txt", tn14))
    for col in ("C10", "C11", "S11", "sigma_C10", "sigma_C11", "sigma_S11"):
        np.testing.assert_array_equal(back13[col].values, tn13[col].values)
    for col in ("C20", "C30"):
        np.testing.assert_array_equal(back14[col].values, tn14[col].values)
    np.testing.assert_allclose(back14["sigma_C20"].values, tn14["sigma_C20"].values, rtol=1e-14)
    assert np.array_equal(back14["time_start"].values, tn14["time_start"].values.astype("datetime64[ns]"))
    assert np.array_equal(back13["time_end"].values, tn13["time_end"].values.astype("datetime64[ns]"))
    assert back14.index.contains(pd.Timestamp("2016-08-15")).sum() == 1


def test_replace_low_degrees(tmp_path):
    ds = _months(LABELS)
    tn13, tn14 = _tables(LABELS)
    p13 = low_degree.write_tn13(tmp_path / "TN-13.txt", tn13)
    p14 = low_degree.write_tn14(tmp_path / "TN-14.txt", tn14)
    out = low_degree.replace_low_degrees(ds, p13, p14, c30_from="2016-08")
    np.testing.assert_array_equal(out.C.values[:, 1, 0], tn13.C10.values)
    np.testing.assert_array_equal(out.S.values[:, 1, 1], tn13.S11.values)
    np.testing.assert_array_equal(out.sigma_C.values[:, 1, 1], tn13.sigma_C11.values)
    np.testing.assert_array_equal(out.C.values[:, 2, 0], tn14.C20.values)
    late = out.month.values >= "2016-08"
    np.testing.assert_array_equal(out.C.values[late, 3, 0], tn14.C30.values[late])
    np.testing.assert_array_equal(out.C.values[~late, 3, 0], ds.C.values[~late, 3, 0])  # untouched
    # everything else is unchanged and the input is not modified
    np.testing.assert_array_equal(out.C.values[:, 4], ds.C.values[:, 4])
    assert not np.array_equal(ds.C.values[:, 2, 0], out.C.values[:, 2, 0])
    assert "C30" in out.attrs["history"] and "TN-13.txt" in out.attrs["history"]
    # C30 requested where TN-14 has NaN -> clear error
    with pytest.raises(ValueError, match="C30 is NaN for month 2015-01"):
        low_degree.replace_low_degrees(ds, None, p14, c30_from="2015-01")
    # no record for a month -> error naming month and file
    ds2 = _months(LABELS + ["2019-03"])
    with pytest.raises(ValueError, match=r"2019-03.*TN-13\.txt"):
        low_degree.replace_low_degrees(ds2, p13, None)


def test_overlapping_records_choose_best_match():
    # CSR-like Oct/Nov 2011: two overlapping TN records; each month gets the one matching its span
    ds = stokes.make_stokes_dataset(np.zeros((2, 4, 4)), np.zeros((2, 4, 4)),
                                    time_start=["2011-10-01", "2011-10-16"], time_end=["2011-11-01", "2011-11-16"],
                                    GM=1.0, radius=1.0)
    tab = pd.DataFrame({"time_start": pd.to_datetime(["2011-10-16", "2011-10-01"]),
                        "time_end": pd.to_datetime(["2011-11-16", "2011-11-01"])})
    assert list(low_degree.match_records(ds, tab)) == [1, 0]


def test_malformed_tn_files(tmp_path):
    tn13, tn14 = _tables(LABELS[:2])
    path = low_degree.write_tn13(tmp_path / "TN-13.txt", tn13)
    lines = path.read_text().splitlines()
    k = next(i for i, l in enumerate(lines) if l.startswith("GRCOF2"))
    lines[k] = lines[k].replace("GRCOF2    1   0", "GRCOF2    2   0")
    path.write_text("\n".join(lines))
    with pytest.raises(MalformedFileError, match=f"TN-13.txt, line {k + 1}: TN-13 record for degree 2"):
        low_degree.read_tn13(path)
    path = low_degree.write_tn14(tmp_path / "TN-14.txt", tn14)
    lines = path.read_text().splitlines()
    lines[-1] = lines[-1].replace(" ", "  x ", 1)
    path.write_text("\n".join(lines))
    with pytest.raises(MalformedFileError, match=f"line {len(lines)}"):
        low_degree.read_tn14(path)


@pytest.mark.realdata
def test_real_replacement(data_dir):
    ds = io_grace.read_stokes_directory(data_dir / "grace" / "csr_rl06", start="2016-06", end="2018-08", nmax=4,
                                        progress=False)
    tn13 = low_degree.read_tn13(data_dir / "low_degree" / "TN-13_GEOC_CSR_RL0602.txt")
    tn14 = low_degree.read_tn14(data_dir / "low_degree" / "TN-14_C30_C20_GSFC_SLR.txt")
    out = low_degree.replace_low_degrees(ds, tn13, tn14)
    # 2016-07: TN-14 row starting MJD 57570 (2016-07-01); C20 replaced, C30 not (before 2016-08)
    k = list(out.month.values).index("2016-07")
    row = tn14.loc[tn14.time_start == pd.Timestamp("2016-07-01")]
    assert len(row) == 1
    assert out.C.values[k, 2, 0] == row.C20.item()
    assert out.C.values[k, 3, 0] == ds.C.values[k, 3, 0]
    # 2018-06 (GRACE-FO): C30 from TN-14, degree 1 from TN-13
    k = list(out.month.values).index("2018-06")
    s = pd.Timestamp(out.time.values[k])
    row14 = tn14[(tn14.time_start <= s) & (tn14.time_end > s)]
    row13 = tn13[(tn13.time_start <= s) & (tn13.time_end > s)]
    assert out.C.values[k, 3, 0] == row14.C30.item()
    assert out.C.values[k, 1, 1] == row13.C11.item() and out.S.values[k, 1, 1] == row13.S11.item()
    # the GSM had zero degree 1 and a C20 close to (not equal to) SLR
    assert np.all(ds.C.values[:, 1, :2] == 0)
    assert np.all(np.abs(out.C.values[:, 2, 0] - ds.C.values[:, 2, 0]) < 1e-9)
    assert np.all(out.C.values[:, 1, 0] != 0)
