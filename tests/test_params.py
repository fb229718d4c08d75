"""The parameter table: coercion of what a person types, presets, and the doors it feeds (CLI, book,
estimator) -- one declaration per hyper-parameter."""

from __future__ import annotations

import argparse

import pytest

from hma_mascon import params as hp
from hma_mascon.estimator import PointMassMascon
from hma_mascon.params import PARAMETERS, ParameterError, coerce, resolve


def test_defaults_complete_and_typed():
    s = resolve()
    assert list(s) == list(PARAMETERS) and s.preset == "default"
    for name, p in PARAMETERS.items():
        assert s[name] == p.default
        assert p.section.startswith("§") and p.stage in ("data", "estimator", "analysis") and p.doc
    assert isinstance(s["altitude_km"], float) and isinstance(s["seed"], int) and s.box == (65.0, 105.0, 26.0, 47.0)


def test_every_choice_default_is_a_choice_and_every_number_in_range():
    for name, p in PARAMETERS.items():
        for preset in hp.PRESETS:
            value = p.presets.get(preset, p.default)
            assert coerce(name, value) == value, (name, preset)


@pytest.mark.parametrize(
    "name, typed, expected",
    [
        ("altitude_km", "400", 400.0),
        ("altitude_km", "400 km", 400.0),
        ("altitude_km", " 400.5km ", 400.5),
        ("altitude_km", 400, 400.0),
        ("alpha_method", "GCV", "gcv"),
        ("alpha_method", "L-curve", "lcurve"),
        ("alpha_method", "MMSE", "mse"),
        ("prior_rule", "b", "B"),
        ("kind", "3D", "3d"),
        ("P_mode", "Monthly", "monthly"),
        ("mse_norm", "r", "R"),
        ("box", "70, 90, 28, 40", (70.0, 90.0, 28.0, 40.0)),
        ("box", [70, 90, 28, 40], (70.0, 90.0, 28.0, 40.0)),
        ("seed", "42", 42),
        ("seed", 42.0, 42),
        ("period_start", "2003-1", "2003-01"),
        ("period_start", "2003-01-15", "2003-01"),
        ("period_start", 2003.5, "2003-07"),
        ("period_start", "2003.0", "2003-01"),
        ("alpha_fixed", "none", None),
        ("alpha_fixed", "1e-3", 1e-3),
        ("alpha_floor_factor", "", None),
        ("two_step", "false", False),
        ("two_step", "Yes", True),
    ],
)
def test_coercion_of_what_a_person_types(name, typed, expected):
    value = coerce(name, typed)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "name, bad, fragment",
    [
        ("altitude_km", "high", "altitude_km"),
        ("altitude_km", "400 m", "unit 'm'"),
        ("altitude_km", 5.0, "out of range"),
        ("altitude_km", True, "boolean"),
        ("altitude_km", "nan", "not finite"),
        ("alpha_method", "bayes", "'mse', 'gcv', 'vce', 'lcurve'"),
        ("alpha_method", 3, "not a string"),
        ("prior_rule", "D", "'A', 'B', 'C'"),
        ("seed", "1.5", "whole number"),
        ("seed", -1, "out of range"),
        ("period_end", "2003-13", "YYYY-MM"),
        ("box", (65, 105, 26, 95), "latitudes"),
        ("box", (105, 65, 26, 47), "smaller than its maximum"),
        ("box", (65, 105, 26), "3 numbers"),
        ("prior_floor_m", -0.01, "out of range"),
        ("sigma0_sq", -1, "out of range"),
        ("alpha_fixed", 0, "out of range"),
        ("two_step", "maybe", "true or false"),
    ],
)
def test_bad_values_fail_fast_naming_parameter_and_value(name, bad, fragment):
    with pytest.raises(ParameterError) as err:
        coerce(name, bad)
    msg = str(err.value)
    assert repr(name) in msg and repr(bad) in msg and "expected" in msg
    assert fragment in msg


def test_inconsistent_pairs_and_unknown_names():
    with pytest.raises(ParameterError, match="period_start"):
        resolve("default", {"period_start": "2010-01", "period_end": "2009-12"})
    with pytest.raises(ParameterError, match="unknown parameter 'altitud_km'"):
        resolve("default", {"altitud_km": 400})
    with pytest.raises(ParameterError, match="unknown preset 'papr'"):
        resolve("papr")


def test_presets_and_single_overrides():
    paper = resolve("paper")
    assert paper.preset == "paper" and paper["prior_rule"] == "A" and paper["degree0"] == "keep"
    assert paper["alpha_floor_factor"] is None and paper["coefficient_sigma"] == "formal"
    over = resolve("paper", {"kernel": "truncated"})
    assert over["kernel"] == "truncated" and over["prior_rule"] == "A"
    assert over.overrides() == {"kernel": "truncated"}
    attrs = over.attrs()
    assert attrs["preset"] == "paper" and attrs["param_kernel"] == "truncated" and len(attrs) == len(PARAMETERS) + 1
    assert resolve("default").overrides() == {}


def test_cli_flags_come_from_the_table():
    parser = argparse.ArgumentParser()
    hp.add_arguments(parser)
    flags = {a.dest for a in parser._actions}
    assert {f"param_{n}" for n in PARAMETERS} <= flags
    args = parser.parse_args(["--preset", "paper", "-p", "kernel=truncated", "--altitude-km", "400 km",
                              "--box", "70", "90", "28", "40", "--alpha-floor-factor", "none"])
    s = hp.settings_from_args(args)
    assert s.preset == "paper" and s["kernel"] == "truncated" and s["altitude_km"] == 400.0
    assert s.box == (70.0, 90.0, 28.0, 40.0) and s["alpha_floor_factor"] is None
    assert hp.settings_from_args(parser.parse_args(["--trend-ar1", "yes"]))["trend_ar1"] is True
    args = parser.parse_args(["--sigma0-sq", "-1"])
    with pytest.raises(ParameterError, match="sigma0_sq"):
        hp.settings_from_args(args)


def test_estimator_takes_exactly_the_estimator_rows():
    est = PointMassMascon("paper", altitude_km="300 km")
    params = est.get_params()
    assert set(params) == set(hp.names("estimator")) | {"preset"}
    assert est.altitude_km == 300.0 and est.prior_rule == "A"
    with pytest.raises(ParameterError, match="estimator stage"):
        PointMassMascon(source="itsg")


def test_parse_assignments():
    assert hp.parse_assignments(["altitude_km=400 km", "alpha_method = gcv"]) == {
        "altitude_km": "400 km", "alpha_method": "gcv"}
    with pytest.raises(ParameterError, match="name=value"):
        hp.parse_assignments(["altitude_km"])


def test_table_for_display():
    df = hp.table()
    assert list(df.index) == list(PARAMETERS) and {"default", "paper", "section", "unit"} <= set(df.columns)
