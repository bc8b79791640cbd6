"""grading.toml is validated once, on loading: a typo or a wrong type is an error naming the key
and the file, never a setting silently ignored."""

from __future__ import annotations

import pytest

from autograder.config import (
    ASSIGNMENTS_DIR_ENV_VAR,
    SCHEMA,
    AssignmentConfig,
    ConfigError,
    assignment_config,
    config,
    config_overrides,
    grading_dataset,
    threshold,
)

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


# [training] but judge_cpu_seconds: every key the keras judges read, so each one is required
TRAINING = """optimizer = "adam"
loss = "sparse_categorical_crossentropy"
batch_size = 64
mlp_epochs = 20
cnn_epochs = 5
max_parameters = 1_000_000
max_flops_per_image = 20_000_000
"""


def load(tmp_path, monkeypatch, name: str, text: str) -> dict:
    (tmp_path / name).mkdir()
    (tmp_path / name / "grading.toml").write_text(text)
    monkeypatch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(tmp_path))
    return assignment_config(name)


def test_a_valid_file_loads_and_its_settings_are_read(tmp_path, monkeypatch):
    assert load(tmp_path, monkeypatch, "cfg_valid", VALID)["limits"]["cell_timeout"] == 20
    assert config("cfg_valid").threshold("digits", "mlp_16x16_accuracy") == 0.85


@pytest.mark.parametrize("assignment", ["nn_foundations", "keras_networks"])
def test_the_bundled_assignments_are_valid(assignment):
    assert assignment_config(assignment)["grading"]["dataset"] == "digits"


@pytest.mark.parametrize(("name", "edit", "says"), [
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
    assert says in str(caught.value)
    assert str(tmp_path / name / "grading.toml") in str(caught.value)


@pytest.mark.parametrize(("name", "training", "says"), [
    ("cfg_cpu_ok", TRAINING + "[training.judge_cpu_seconds]\ndigits = 60\nmnist = 900.5\n", None),
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


def typed(tmp_path, monkeypatch, name: str, text: str) -> AssignmentConfig:
    load(tmp_path, monkeypatch, name, text)
    return config(name)


# --- the typed configuration -------------------------------------------------------------------

def test_the_bundled_assignments_read_as_typed_attributes():
    nn, keras = config("nn_foundations"), config("keras_networks")
    assert nn.grading.dataset == keras.grading.dataset == "digits"
    assert (nn.grading.seed, nn.grading.submission_timeout) == (0, 1200)
    assert (nn.limits.cell_timeout, nn.limits.memory_mb, nn.limits.network) == (60, 6144, False)
    assert (nn.tuning.rows, nn.tuning.strong_sizes) == (300, [[48], [64]])
    assert (nn.tolerance("hand_trace"), nn.threshold("mnist", "mlp_16x16_accuracy")) == (0.005, 0.90)
    assert nn.leakage.reported_models == ["mlp_16x16"]
    assert keras.training.judge_cpu_seconds == {"digits": 60, "mnist": 900, "fashion_mnist": 900}
    assert (keras.training.optimizer, keras.training.batch_size, keras.training.cnn_epochs) == ("adam", 64, 5)
    assert keras.thresholds["mnist"]["cnn_accuracy"] == 0.97
    assert threshold("keras_networks", "digits", "cnn_accuracy") == 0.85
    assert config("nn_foundations") is nn  # read once


def test_values_keep_the_types_the_file_gives_them(tmp_path, monkeypatch):
    """An int stays an int, in an int field and in a float one (``cell_timeout = 60`` reads as
    the prompt rendered from the file says it, 60), a float stays a float; threshold() is a float."""
    text = VALID + "\n[training]\n" + TRAINING + "[training.judge_cpu_seconds]\ndigits = 60\nmnist = 900.5\n"
    values = typed(tmp_path, monkeypatch, "cfg_types", text.replace("cell_timeout = 20", "cell_timeout = 20.5"))
    for value, kind in [(values.grading.seed, int), (values.grading.submission_timeout, int),
                        (values.limits.cell_timeout, float), (values.training.batch_size, int),
                        (values.training.judge_cpu_seconds["digits"], int),
                        (values.training.judge_cpu_seconds["mnist"], float),
                        (values.tolerance("forward"), float), (values.threshold("digits", "mlp_16x16_accuracy"), float),
                        (config("keras_networks").limits.cell_timeout, int)]:
        assert type(value) is kind, (value, kind)
    assert (values.limits.network, values.limits.memory_mb) == (False, None)  # memory_mb left out: no limit


def test_the_limits_default_as_the_sandbox_s_do():
    """A [limits] key left out is no limit, as autograder.grade.isolation.limits.Limits has it."""
    from dataclasses import asdict, fields

    from autograder.config import Limits
    from autograder.grade.isolation.limits import Limits as SandboxLimits
    assert asdict(Limits()) == asdict(SandboxLimits())
    assert {f.name for f in fields(Limits)} == {f.name for f in fields(SandboxLimits)}


def test_a_section_the_assignment_lacks_is_an_error_naming_the_file_and_the_section(tmp_path, monkeypatch):
    with pytest.raises(ConfigError) as caught:
        _ = config("keras_networks").tuning
    assert "keras_networks/grading.toml has no [tuning] section" in str(caught.value)
    bare = typed(tmp_path, monkeypatch, "cfg_bare", VALID.replace("[limits]\ncell_timeout = 20\nnetwork = false\n", ""))
    assert (bare.has("limits"), bare.has("grading"), config("nn_foundations").has("tuning")) == (False, True, True)
    for section in ("limits", "training", "leakage", "tuning"):
        with pytest.raises(ConfigError, match=rf"cfg_bare/grading.toml has no \[{section}\] section"):
            getattr(bare, section)
    with pytest.raises(ConfigError, match=r"\[tolerances\] has no `hand_trace`; it has: forward"):
        bare.tolerance("hand_trace")
    with pytest.raises(ConfigError, match=r"\[thresholds.mnist\] has no `mlp_16x16_accuracy`"):
        bare.threshold("mnist", "mlp_16x16_accuracy")


# --- the schema is the dataclasses' ------------------------------------------------------------

def schema_paths(values: dict, section: str) -> set[tuple[str, str]]:
    """The (section, key) pairs of SCHEMA a parsed grading.toml uses, ``*`` for any name."""
    used = set()
    for key, value in values.items():
        declared = key if key in SCHEMA[section] else "*"
        used.add((section, declared))
        if isinstance(value, dict):
            used |= schema_paths(value, f"{section}.{declared}")
    return used


def test_the_schema_declares_exactly_the_keys_the_assignments_use():
    """Every key of both grading.toml files is declared, and every declared key is used by one."""
    used = set()
    for assignment in ("nn_foundations", "keras_networks"):
        for section, values in assignment_config(assignment).items():
            used |= schema_paths(values, section)
    assert used == {(section, key) for section, keys in SCHEMA.items() for key in keys}


def test_the_schema_is_derived_from_the_dataclasses():
    from dataclasses import MISSING, fields

    from autograder.config import Grading, Leakage, Limits, Training, Tuning
    for section, kind in [("grading", Grading), ("limits", Limits), ("training", Training),
                          ("leakage", Leakage), ("tuning", Tuning)]:
        assert list(SCHEMA[section]) == [f.name for f in fields(kind)]
        for f in fields(kind):
            spec = SCHEMA[section][f.name]
            assert spec.description == f.metadata["description"]
            assert spec.required == (f.default is MISSING and f.default_factory is MISSING)
    assert all(spec.required for spec in SCHEMA["grading"].values())
    assert not any(spec.required for spec in SCHEMA["limits"].values())
    assert set(SCHEMA) == {"grading", "limits", "tolerances", "thresholds", "thresholds.*", "training",
                           "training.judge_cpu_seconds", "leakage", "tuning", "visibility"}


def test_the_dataset_names_are_the_loaders():
    from typing import get_args

    from autograder.config import DatasetName
    from autograder.data import DATASETS
    assert set(get_args(DatasetName)) == set(DATASETS)


@pytest.mark.parametrize(("name", "text", "says"), [
    ("cfg_typo_tuning", VALID + "[tuning]\nrow = 600\n",
     "[tuning] has no setting `row`; known: rows, weak_learning_rates, strong_learning_rates, weak_sizes, strong_sizes"),
    ("cfg_typo_leakage", VALID + "[leakage]\nreported_model = []\n",
     "[leakage] has no setting `reported_model`; known: reported_models"),
    ("cfg_typo_section", VALID + "[tunning]\nrows = 600\n",
     "unknown section [tunning]; known sections: grading, limits, tolerances, thresholds, training, leakage, tuning"),
    ("cfg_typo_scalar", "tuning = 600\n" + VALID, "`tuning` must be a section ([tuning]), not a single value"),
    ("cfg_tuning_missing", VALID + "[tuning]\nrows = 600\n",
     "[tuning] must set `weak_learning_rates` (learning rates too small"),
    ("cfg_rows_float", VALID + "[tuning]\nrows = 600.0\n", "[tuning] rows = 600.0 must be of type int (training rows"),
    ("cfg_models", VALID + "[leakage]\nreported_models = [\"mlp\", 2]\n",
     "[leakage] reported_models = ['mlp', 2] must be of type list of str (models other questions"),
    ("cfg_dataset", VALID.replace('"digits"', '"cifar"'),
     "[grading] dataset = 'cifar' must be one of 'digits', 'mnist', 'fashion_mnist' (what the grader loads"),
])
def test_a_typo_or_a_wrong_value_in_any_section_is_an_error(tmp_path, monkeypatch, name, text, says):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, monkeypatch, name, text)
    assert says in str(caught.value)
    assert str(tmp_path / name / "grading.toml") in str(caught.value)


# --- one dataset name; the deprecated string paths -----------------------------------------------

def test_the_grading_dataset_is_the_forced_one_else_grading_tomls(monkeypatch):
    from autograder.data import DATASET_ENV_VAR, DatasetError
    monkeypatch.delenv(DATASET_ENV_VAR, raising=False)
    assert grading_dataset("nn_foundations") == "digits"
    monkeypatch.setenv(DATASET_ENV_VAR, " MNIST ")
    assert grading_dataset("nn_foundations") == "mnist"
    monkeypatch.setenv(DATASET_ENV_VAR, "cifar")
    with pytest.raises(DatasetError, match=DATASET_ENV_VAR):
        grading_dataset("nn_foundations")


def test_an_override_is_validated_and_read_through_the_typed_configuration(monkeypatch):
    with pytest.raises(ConfigError, match=r"has no \[tuning\]"):
        _ = config("keras_networks").tuning.rows
    changed = config("keras_networks").with_values("training", batch_size=32)
    monkeypatch.setitem(config_overrides, "keras_networks", changed)
    assert config("keras_networks").training.batch_size == 32
    assert config("keras_networks").training.cnn_epochs == 5
    with pytest.raises(ConfigError, match="must be of type int"):
        changed.with_values("training", batch_size="32")
