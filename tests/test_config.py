"""grading.toml is validated once, on loading: a typo or a wrong type is an error naming the key
and the file, never a setting silently ignored."""

from __future__ import annotations

import pytest

from autograder.config import ASSIGNMENTS_DIR_ENV_VAR, ConfigError, assignment_config, setting

VALID = """
[grading]
dataset = "digits"
seed = 0
submission_timeout = 120

[limits]
cell_timeout = 20
network = false

[thresholds.digits]
mlp_16x16_accuracy = 0.85

[tolerances]
forward = 1e-4
"""


def load(tmp_path, monkeypatch, name: str, text: str) -> dict:
    (tmp_path / name).mkdir()
    (tmp_path / name / "grading.toml").write_text(text)
    monkeypatch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(tmp_path))
    return assignment_config(name)


def test_a_valid_file_loads_and_its_settings_are_read(tmp_path, monkeypatch):
    assert load(tmp_path, monkeypatch, "cfg_valid", VALID)["limits"]["cell_timeout"] == 20
    assert setting("cfg_valid", "thresholds", "digits", "mlp_16x16_accuracy") == 0.85


@pytest.mark.parametrize("assignment", ["nn_foundations", "keras_networks"])
def test_the_bundled_assignments_are_valid(assignment):
    assert assignment_config(assignment)["grading"]["dataset"] == "digits"


@pytest.mark.parametrize("name, edit, says", [
    ("cfg_typo", ("cell_timeout = 20", "cell_timout = 20"), "[limits] has no setting `cell_timout`"),
    ("cfg_type", ("cell_timeout = 20", 'cell_timeout = "20"'), "[limits] cell_timeout = '20' must be of type int or float"),
    ("cfg_bool", ("network = false", "network = 0"), "[limits] network = 0 must be of type bool"),
    ("cfg_number_bool", ("seed = 0", "seed = true"), "[grading] seed = True must be of type int"),
    ("cfg_section", ("[tolerances]", "[tolerance]"), "unknown section [tolerance]"),
    ("cfg_missing", ('dataset = "digits"\n', ""), "[grading] must set `dataset`"),
    ("cfg_threshold", ("mlp_16x16_accuracy = 0.85", 'mlp_16x16_accuracy = "high"'), "must be of type int or float"),
])
def test_a_mistake_is_an_error_naming_the_key_and_the_file(tmp_path, monkeypatch, name, edit, says):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, monkeypatch, name, VALID.replace(*edit))
    assert says in str(caught.value) and str(tmp_path / name / "grading.toml") in str(caught.value)


@pytest.mark.parametrize("name, training, says", [
    ("cfg_cpu_ok", "max_parameters = 1_000_000\n[training.judge_cpu_seconds]\ndigits = 60\nmnist = 900.5\n", None),
    ("cfg_cpu_scalar", "judge_cpu_seconds = 60\n", "[training] judge_cpu_seconds = 60 must be of type dict"),
    ("cfg_cpu_text", '[training.judge_cpu_seconds]\ndigits = "1 min"\n',
     "[training.judge_cpu_seconds] digits = '1 min' must be of type int or float"),
    ("cfg_budget_typo", "max_params = 1000\n", "[training] has no setting `max_params`"),
])
def test_the_judges_training_limits_are_validated(tmp_path, monkeypatch, name, training, says):
    """The judge's CPU-time limit is one number per dataset (the grader may force either)."""
    text = VALID + "\n[training]\n" + training
    if says is None:
        assert load(tmp_path, monkeypatch, name, text)["training"]["judge_cpu_seconds"]["mnist"] == 900.5
        return
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, monkeypatch, name, text)
    assert says in str(caught.value)
