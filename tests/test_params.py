from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from analysis.errors import ParameterError
from analysis.params import ReportParams, parse_cli_params, parse_value, validate_params

HAS_RECOVERY = importlib.util.find_spec("analysis.recovery") is not None
needs_recovery = pytest.mark.skipif(
    not HAS_RECOVERY, reason="validate_params checks families against analysis.recovery (not on this branch)"
)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"levle": 0.9}, "unknown parameter 'levle'"),
        ({"level": 1.5}, "parameter 'level': must be strictly between 0 and 1, got 1.5"),
        ({"level": 0}, "parameter 'level': must be strictly between 0 and 1"),
        ({"level": float("nan")}, "parameter 'level': must be finite"),
        ({"level": "0.9"}, "parameter 'level': expected a number, got str '0.9'"),
        ({"level": True}, "parameter 'level': expected a number, got bool"),
        ({"n_boot": 0}, "parameter 'n_boot': at least 20 bootstrap replicates are needed, got 0"),
        ({"n_boot": 100.5}, "parameter 'n_boot': expected an integer, got float 100.5"),
        ({"bin_minutes": -5}, "parameter 'bin_minutes': must be between 0.5 and 240 minutes, got -5.0"),
        ({"bin_minutes": 0}, "parameter 'bin_minutes'"),
        ({"bin_minutes": float("inf")}, "parameter 'bin_minutes': must be finite"),
        ({"seed": -1}, "parameter 'seed': must be ≥ 0, got -1"),
        ({"language": "de"}, "parameter 'language': expected one of en, fr, nl, got 'de'"),
        ({"propensity": "hourly"}, "parameter 'propensity': expected one of auto, default, flat"),
        ({"incident_dir": "  "}, "parameter 'incident_dir': must name an incident folder"),
        ({"run_id": 12}, "parameter 'run_id': expected text, got int 12"),
    ],
)
def test_wrong_name_type_or_value_is_a_clear_error(values: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError) as info:
        validate_params(**values)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@needs_recovery
def test_valid_parameters_become_a_frozen_object() -> None:
    params = validate_params(level=0.8, n_boot=50.0, bin_minutes=10, seed=1)
    assert isinstance(params, ReportParams)
    assert (params.level, params.n_boot, params.bin_minutes) == (0.8, 50, 10.0)
    assert isinstance(params.n_boot, int)
    with pytest.raises(AttributeError):
        params.level = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("level=high", "parameter 'level': expected a number, got 'high'"),
        ("n_boot=1e3", "parameter 'n_boot': expected an integer, got '1e3'"),
        ("colour=red", "unknown parameter 'colour'"),
        ("level", "parameter 'level': expected name=value"),
    ],
)
def test_command_line_pairs_are_checked(pair: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        parse_cli_params([pair])


def test_command_line_values_get_the_parameter_type() -> None:
    assert parse_value("level", "0.95") == 0.95
    assert parse_value("n_boot", "200") == 200
    assert parse_value("language", "fr") == "fr"
    assert parse_cli_params(["level=0.8", "model=weibull"]) == {"level": 0.8, "model": "weibull"}


def test_impossible_value_from_the_command_line_fails_before_any_kernel() -> None:
    values = parse_cli_params(["level=1.5"])
    with pytest.raises(ParameterError, match="strictly between 0 and 1"):
        validate_params(**values)


def test_yaml_file_is_read_with_the_safe_loader(tmp_path: Path) -> None:
    good = tmp_path / "p.yaml"
    good.write_text("level: 0.8\nn_boot: 100\n", encoding="utf-8")
    assert parse_cli_params(["level=0.9"], yaml_file=good) == {"level": 0.9, "n_boot": 100}  # pairs win over the file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("level: !!python/object/apply:os.system ['echo pwned']\n", "could not determine a constructor for the tag"),
        ("!!python/object:analysis.params.ReportParams {level: 0.5}\n", "could not determine a constructor for the tag"),
        ("level: [unclosed\n", "cannot read parameters"),
        ("- level\n- 0.9\n", "expected a mapping of parameter names to values"),
        ("colour: red\n", "unknown parameter 'colour'"),
        ("1: 2\n", "unknown parameter '1'"),
    ],
)
def test_unsafe_or_malformed_yaml_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParameterError) as info:
        parse_cli_params([], yaml_file=path)
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_yaml_that_is_not_text_or_missing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"level: \xff\xfe0.9\n")
    with pytest.raises(ParameterError, match="cannot read parameters"):
        parse_cli_params([], yaml_file=path)
    with pytest.raises(ParameterError, match="cannot read parameters"):
        parse_cli_params([], yaml_file=tmp_path / "absent.yaml")


@needs_recovery
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"families": "weibul"}, "parameter 'families': unknown family 'weibul'"),
        ({"families": " , "}, "parameter 'families': give at least one family, or 'all'"),
        ({"model": "nope"}, "parameter 'model': expected 'auto' or one of"),
        ({"model": "gamma", "families": "weibull"}, "parameter 'model': 'gamma' is not among the candidate families weibull"),
    ],
)
def test_families_and_model_must_be_known(values: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=message.replace("(", r"\(")):
        validate_params(**values)
