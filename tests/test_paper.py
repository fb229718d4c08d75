"""Tests of paper.py: the number table and the ledger arithmetic."""

import numpy as np
import pytest

from hma_mascon.paper import ledger, paper_numbers, write_ledger


def test_table_complete():
    df = paper_numbers()
    assert sum(i.startswith("table2.") for i in df.index) == 12
    assert sum(i.startswith("table3.") for i in df.index) == 16
    assert sum(i.startswith("table4.") for i in df.index) == 14
    assert df.loc["trend.HMA.this_study", "value"] == -25.8
    assert df["source"].str.len().min() > 3


def test_ledger_tolerances(tmp_path):
    ours = {"table2.this_study.slope": 0.97 + 0.09, "table2.this_study.r2": 0.81 - 0.11,
            "trend.HMA.this_study": -25.8 + 9.5, "ablation.total": (156.7 * 1.11, "synthetic")}
    df = ledger(ours).set_index("quantity")
    assert df.loc["table2.this_study.slope", "within_tolerance"]
    assert not df.loc["table2.this_study.r2", "within_tolerance"]
    assert df.loc["trend.HMA.this_study", "within_tolerance"]
    assert not df.loc["ablation.total", "within_tolerance"]
    assert "synthetic" in df.loc["ablation.total", "reasons"]
    assert np.isnan(df.loc["table4.Loomis.2003-2016", "ours"])
    assert "not computed" in df.loc["table4.Loomis.2003-2016", "reasons"]
    np.testing.assert_allclose(df.loc["table2.this_study.slope", "difference"], 0.09)
    out = write_ledger(tmp_path / "ledger.csv", ours)
    assert (tmp_path / "ledger.csv").read_text().startswith("quantity,paper,ours")
    assert len(out) == len(paper_numbers())
    with pytest.raises(KeyError, match="bogus"):
        ledger({"bogus": 1.0})
