"""The grader's own training of a student's architecture is bounded (issue "Unbounded training
by the judge"): an architecture of built-in layers over grading.toml's parameter or multiply-add
budget is refused before any weight is built or any training starts, and a training run is
stopped when it has used the CPU time one run may use. Either fails the accuracy check with the
count or the limit in the message; the reference architectures are far within both.
"""

from __future__ import annotations

import json
import os
import re
import time
from types import SimpleNamespace

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from autograder.checks.judging import CheckFailed, count
from autograder.checks.keras_networks import judges
from autograder.checks.models import model_cost, rebuild_model, summarize
from autograder.checks.probing import gave
from autograder.config import config, config_overrides

KERAS = "keras_networks"


def change_training(monkeypatch, **values) -> None:
    """grading.toml's [training] with some values changed, for this test (the judges read it)."""
    monkeypatch.setitem(config_overrides, KERAS, config(KERAS).with_values("training", **values))


def judge_cpu_seconds(**per_dataset: float) -> dict[str, float]:
    return {**config(KERAS).training.judge_cpu_seconds, **per_dataset}


@pytest.fixture(scope="module")
def keras():
    import keras
    return keras


@pytest.fixture
def training_calls(monkeypatch, keras) -> list:
    """Every call that would train: the judge's training run and Keras' own fit."""
    calls: list = []
    monkeypatch.setattr(judges, "train_and_score", lambda *args: calls.append(("train_and_score", args)) or 1.0)
    monkeypatch.setattr(keras.Model, "fit", lambda *args, **kwargs: calls.append(("fit", args)))
    return calls


def feedback(architecture: judges.TrainedArchitecture, config_json: str) -> str:
    with pytest.raises(CheckFailed) as failed:
        judges.judge_accuracy(architecture, gave({"config": config_json}))
    return str(failed.value)


def mlp_with_units(*units: int) -> str:
    """The 16×16 MLP's configuration with other Dense sizes, written without building that
    model: a stack of Dense(100000) layers would need 40 GB of weights."""
    config = json.loads(judges.mlp_16x16().to_json())
    layers = config["config"]["layers"]
    for layer, n in zip((layer for layer in layers if layer["class_name"] == "Dense"), units):
        layer["config"]["units"] = n
    for layer in layers:  # the shapes each layer was built for: the rebuild works them out again
        layer.pop("build_config", None)
    return json.dumps(config)


def wide_convolutions(keras):
    """Few parameters, many multiply-adds: a 3×3 convolution with 128 filters over 32 channels
    of 24 × 24 positions."""
    from keras import layers
    return keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
                             layers.Conv2D(128, 3, activation="relu"), layers.GlobalAveragePooling2D(),
                             layers.Dense(10, activation="softmax")])


# --- the budget, checked before anything is built or trained -----------------------------------

def test_a_huge_model_of_built_in_layers_is_refused_with_its_count_and_never_trained(training_calls):
    attack = mlp_with_units(100_000, 100_000)  # 10 billion parameters: 368 s and more of training
    message = feedback(judges.MLP_16X16, attack)
    total = 784 * 100_000 + 100_000 + 100_000 * 100_000 + 100_000 + 100_000 * 10 + 10
    budget = config(KERAS).training.max_parameters
    # Keras numbers unnamed layers per process (`dense_1`, or `dense_41` after other tests)
    assert re.match(re.escape(f"Your build_mlp_16x16() model has {count(total)} parameters, "
                              f"{count(100_000 * 100_000 + 100_000)} of them in layer `") + r"dense_\d+` \(Dense\)",
                    message), message
    assert f"the grader does not train models over {count(budget)} parameters (see the prompt)" in message
    assert message.endswith("The 16×16 MLP has 13,002.")
    assert training_calls == []


def test_a_model_over_the_multiply_add_budget_is_refused_though_its_parameters_are_few(keras, training_calls):
    model = wide_convolutions(keras)
    assert model.count_params() < config(KERAS).training.max_parameters
    message = feedback(judges.LESSON_CNN, model.to_json())
    budget = config(KERAS).training.max_flops_per_image
    assert f"{count(24 * 24 * 3 * 3 * 32 * 128)} of them in layer `{model.layers[1].name}` (Conv2D)" in message
    assert f"the grader does not train models over {count(budget)} multiply-adds per image" in message
    assert message.endswith("the lesson CNN has 34,826 parameters.")
    assert training_calls == []


def test_the_budget_is_read_from_a_rebuild_without_weights(keras):
    """Ten billion parameters are counted in well under a second, and no initialisation of
    them is left pending for Keras to run later."""
    from keras.src.backend.common import global_state
    model = rebuild_model(mlp_with_units(100_000, 100_000), weights=False)
    assert model.count_params() == 10_079_600_010
    assert all(weight._value is None for weight in model.weights)
    assert not global_state.get_global_attribute("uninitialized_variables")
    reference = judges.lesson_cnn()
    assert summarize(rebuild_model(reference.to_json(), weights=False)) == summarize(reference)


@pytest.mark.parametrize("architecture", judges.REFERENCE_ARCHITECTURES, ids=lambda a: a.function)
def test_the_reference_architectures_are_far_within_the_budget(architecture):
    cost = judges.require_within_budget(architecture.builder().to_json())
    assert 20 * cost.params <= config(KERAS).training.max_parameters
    assert 5 * cost.flops_per_image <= config(KERAS).training.max_flops_per_image


@pytest.mark.parametrize("variable", sorted(judges.COURSE_MODELS))
def test_the_course_models_are_within_the_budget(variable):
    judges.require_within_budget(judges.COURSE_MODELS[variable][1]().to_json())


def test_multiply_adds_are_counted_as_the_prompt_states():
    mlp = model_cost(judges.mlp_16x16())
    assert (mlp.params, mlp.flops_per_image) == (13_002, 784 + 784 * 16 + 16 * 16 + 16 * 10)  # Flatten: its 784 outputs
    cnn = {layer.kind + str(i): layer.flops_per_image for i, layer in enumerate(model_cost(judges.lesson_cnn()).layers)}
    assert cnn["Conv2D0"] == 26 * 26 * 3 * 3 * 1 * 32
    assert cnn["Conv2D2"] == 11 * 11 * 3 * 3 * 32 * 64
    assert cnn["Dense6"] == 1600 * 10
    assert cnn["MaxPooling2D1"] == 13 * 13 * 32


def test_a_layer_called_several_times_counts_each_call(keras):
    """Reusing one layer must not hide its cost: a functional model counts every call."""
    from keras import layers
    inputs = keras.Input((28, 28, 1))
    shared, x = layers.Dense(784), layers.Flatten()(inputs)
    for _ in range(5):
        x = shared(x)
    model = keras.Model(inputs, layers.Dense(10)(x))
    cost = model_cost(rebuild_model(model.to_json(), weights=False))
    assert cost.params == model.count_params()
    assert cost.largest("flops_per_image").flops_per_image == 5 * 784 * 784


def test_the_limits_do_not_change_which_training_is_recorded(monkeypatch):
    """The build records the reference trainings by key; a budget bounds a run, it does not
    change its result, so changing one must not make every reference train again."""
    config = judges.mlp_16x16().to_json()
    before = judges.training_key(config, 20)
    change_training(monkeypatch, max_parameters=5, judge_cpu_seconds=judge_cpu_seconds(digits=1))
    assert judges.training_key(config, 20) == before
    change_training(monkeypatch, batch_size=32)
    assert judges.training_key(config, 20) != before


# --- the CPU-time limit of a training run ------------------------------------------------------

def test_a_training_run_over_its_cpu_time_is_stopped_and_fails_the_check(monkeypatch, keras):
    change_training(monkeypatch, judge_cpu_seconds=judge_cpu_seconds(digits=0.001))
    monkeypatch.setattr(judges, "_accuracy_by_training", {})
    monkeypatch.setattr(judges, "recorded_trainings", dict)
    histories = []
    fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: histories.append(fit(*a, **k)) or histories[-1])
    message = feedback(judges.MLP_16X16, judges.mlp_16x16().to_json())
    assert message.startswith("The grader stopped training your build_mlp_16x16() architecture in epoch 1 of 20: "
                              "it had used the 0.001 CPU-seconds that one training run on the digits training "
                              "images may use (see the prompt), so this check fails.")
    assert [len(history.epoch) for history in histories] == [1]  # stopped in its first epoch, not after 20


def test_the_limit_is_the_process_cpu_time_checked_after_every_batch():
    clock = SimpleNamespace(now=100.0)
    limit = judges.cpu_time_limit(5, clock=lambda: clock.now)
    model = SimpleNamespace(stop_training=False)
    limit.set_model(model)
    for elapsed, stops in ((1.0, False), (5.0, False), (5.5, True)):
        clock.now = 100.0 + elapsed
        limit.on_train_batch_end(0)
        assert (limit.exceeded, model.stop_training) == (stops, stops)
    assert judges.cpu_time_limit(5).clock is time.process_time


def test_every_dataset_the_grader_may_use_has_a_cpu_limit():
    from autograder.data import DATASETS
    assert set(config(KERAS).training.judge_cpu_seconds) == set(DATASETS)
