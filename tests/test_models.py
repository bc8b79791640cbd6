"""The Keras model comparator: fair to every way of writing the lesson's models, specific
about each mistake, and unwilling to run any code that came with a configuration.

Every model goes through the grader's path: built here, sent as ``model.to_json()``,
rebuilt by :func:`rebuild_model`, summarised. Building a Keras model costs a tenth of a
second, so all of them are built once, by the module-scoped ``summaries`` fixture.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from autograder.checks.models import (
    LayerRow,
    ModelSummary,
    UnbuiltModelError,
    UnsafeModelError,
    activation_name,
    compare,
    rebuild_model,
    summarize_config,
)

MLP, CNN = "the 16×16 MLP", "the lesson CNN"
IMAGE = (28, 28, 1)
MLP_TOTALS = "your model has {mine} parameters, the 16×16 MLP has 13,002."
CNN_TOTALS = "your model has {mine} parameters, the lesson CNN has 34,826."

Builder = Callable[[Any], Any]  # the keras module -> a model


def sequential(keras, *layers, shape=IMAGE):
    return keras.Sequential([keras.Input(shape), *layers])


def functional(keras, *layers, shape=IMAGE):
    inputs = x = keras.Input(shape)
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


def with_input_shape(keras, first, *layers):
    """The older spelling: ``input_shape=`` on the first layer, which Keras 3 warns about."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return keras.Sequential([first(input_shape=IMAGE), *layers])


def mlp(keras, hidden=("relu", "relu"), output="softmax", units=(16, 16)):
    L = keras.layers
    return [L.Flatten(), *(L.Dense(n, activation=a) for n, a in zip(units, hidden)), L.Dense(10, activation=output)]


def cnn(keras, kernel=3, second_filters=64, output="softmax", rate=0.2, pooling=("Max", "Max")):
    L = keras.layers
    pool = [getattr(L, f"{kind}Pooling2D")(2) for kind in pooling]
    return [L.Conv2D(32, kernel, activation="relu"), pool[0], L.Conv2D(second_filters, 3, activation="relu"), pool[1],
            L.Flatten(), L.Dropout(rate), L.Dense(10, activation=output)]


MLP_SPELLINGS: dict[str, Builder] = {
    "sequential_with_input": lambda k: sequential(k, *mlp(k)),
    "sequential_with_input_shape": lambda k: with_input_shape(
        k, k.layers.Flatten, k.layers.Dense(16, activation="relu"), k.layers.Dense(16, activation="relu"),
        k.layers.Dense(10, activation="softmax")),
    "functional": lambda k: functional(k, *mlp(k)),
    "activation_layers": lambda k: sequential(
        k, k.layers.Flatten(), k.layers.Dense(16), k.layers.Activation("relu"), k.layers.Dense(16), k.layers.ReLU(),
        k.layers.Dense(10), k.layers.Softmax()),
    "functional_with_activation_layers": lambda k: functional(
        k, k.layers.Flatten(), k.layers.Dense(16), k.layers.ReLU(), k.layers.Dense(16),
        k.layers.Activation(k.activations.relu), k.layers.Dense(10), k.layers.Activation("softmax")),
    "activation_layers_as_arguments": lambda k: sequential(
        k, k.layers.Flatten(), k.layers.Dense(16, activation=k.layers.ReLU()),
        k.layers.Dense(16, activation=k.layers.ReLU()), k.layers.Dense(10, activation=k.layers.Softmax())),
    "activation_functions": lambda k: sequential(
        k, k.layers.Flatten(), k.layers.Dense(16, activation=k.activations.relu),
        k.layers.Dense(16, activation=k.activations.relu), k.layers.Dense(10, activation=k.activations.softmax)),
}

CNN_SPELLINGS: dict[str, Builder] = {
    "sequential_with_input": lambda k: sequential(k, *cnn(k)),
    "sequential_with_input_shape": lambda k: with_input_shape(
        k, lambda **kw: k.layers.Conv2D(32, (3, 3), activation="relu", **kw), *cnn(k)[1:]),
    "functional": lambda k: functional(k, *cnn(k)),
    "activation_layers_and_tuples": lambda k: sequential(
        k, k.layers.Conv2D(32, (3, 3)), k.layers.ReLU(), k.layers.MaxPooling2D(pool_size=(2, 2), strides=2),
        k.layers.Conv2D(64, kernel_size=(3, 3), padding="VALID"), k.layers.Activation("relu"),
        k.layers.MaxPooling2D((2, 2)), k.layers.Flatten(), k.layers.Dropout(rate=0.2), k.layers.Dense(10),
        k.layers.Softmax()),
}

#: (id, reference, how the student wrote it, how the message starts, the student's total)
MISTAKES: list[tuple[str, str, Builder, str, str]] = [
    ("mlp_without_flatten", MLP, lambda k: sequential(k, *mlp(k)[1:]),
     "expected Flatten before the first Dense layer", "474"),
    ("mlp_wrong_activation", MLP, lambda k: sequential(k, *mlp(k, hidden=("sigmoid", "relu"))),
     "layer 2 (Dense 16) uses activation 'sigmoid', expected 'relu'", "13,002"),
    ("mlp_missing_activation", MLP, lambda k: sequential(k, *mlp(k, hidden=("relu", None))),
     "layer 3 (Dense 16) has no activation (linear), expected 'relu': without it,", "13,002"),
    ("mlp_wrong_units", MLP, lambda k: sequential(k, *mlp(k, units=(32, 16))),
     "layer 2 (Dense) has 32 units, expected 16", "25,818"),
    ("mlp_flat_input", MLP, lambda k: sequential(k, *mlp(k)[1:], shape=(784,)),
     "your model's input shape is (784,), expected (28, 28, 1): start with keras.Input(shape=(28, 28, 1)) and "
     "let a Flatten layer do the unrolling", "13,002"),
    ("mlp_extra_dense", MLP, lambda k: sequential(k, *mlp(k, hidden=("relu",) * 3, units=(16,) * 3)),
     "layer 4 (Dense 16, activation 'relu') is extra: the 16×16 MLP goes from layer 3 (Dense 16) straight to Dense 10",
     "13,274"),
    ("mlp_missing_hidden_layer", MLP, lambda k: sequential(k, *mlp(k, hidden=("relu",), units=(16,))),
     "layer 3 (Dense 16, activation 'relu') is missing: the 16×16 MLP has it after layer 2 (Dense 16), and your "
     "layer 3 is the Dense 10 that the 16×16 MLP has as layer 4", "12,730"),
    ("mlp_trailing_layer", MLP, lambda k: sequential(k, *mlp(k), k.layers.Dense(10, activation="softmax")),
     "your model has 5 layers, the 16×16 MLP has 4: remove layer 5 (Dense 10)", "13,112"),
    ("mlp_without_output_layer", MLP, lambda k: sequential(k, *mlp(k)[:-1]),
     "your model stops after layer 3, the 16×16 MLP continues with Dense 10, activation 'softmax'", "12,832"),
    ("cnn_5x5_kernels", CNN, lambda k: sequential(k, *cnn(k, kernel=5)),
     "layer 1 (Conv2D) uses 5×5 kernels, expected 3×3", "35,338"),
    ("cnn_missing_pooling", CNN, lambda k: sequential(k, *[layer for i, layer in enumerate(cnn(k)) if i != 1]),
     "layer 2 (MaxPooling2D 2×2) is missing: the lesson CNN has it after layer 1 (Conv2D 32 3×3)", "110,986"),
    ("cnn_sigmoid_output", CNN, lambda k: sequential(k, *cnn(k, output="sigmoid")),
     "layer 7 (Dense 10) uses activation 'sigmoid', expected 'softmax': the output layer gives one probability "
     "per class", "34,826"),
    ("cnn_wrong_dropout_rate", CNN, lambda k: sequential(k, *cnn(k, rate=0.5)),
     "layer 6 (Dropout) uses dropout rate 0.5, expected 0.2", "34,826"),
    ("cnn_wrong_filters", CNN, lambda k: sequential(k, *cnn(k, second_filters=32)),
     "layer 3 (Conv2D) has 32 filters, expected 64", "17,578"),
    ("cnn_average_pooling", CNN, lambda k: sequential(k, *cnn(k, pooling=("Average", "Max"))),
     "layer 2 is an AveragePooling2D layer, expected MaxPooling2D 2×2 here", "34,826"),
    ("cnn_without_flatten", CNN,
     lambda k: sequential(k, *[layer for layer in cnn(k) if not isinstance(layer, k.layers.Flatten)]),
     "expected Flatten before the first Dense layer", "19,466"),
]

#: Why-sentences that teach, for the mistakes where one is promised.
TEACHING = {
    "mlp_without_flatten": "outputs shape (28, 28, 16), not (16,): add keras.layers.Flatten()",
    "mlp_wrong_units": "A Dense layer has inputs × units + units parameters: 784 × 32 + 32 = 25,120 here.",
    "cnn_5x5_kernels": "kernel height × width × input channels × filters + filters parameters: "
                       "5 × 5 × 1 × 32 + 32 = 832 here.",
    "cnn_missing_pooling": "Pooling adds no parameters",
    "cnn_wrong_dropout_rate": "Dropout has no parameters",
}


@pytest.fixture(scope="module")
def keras():
    import keras
    return keras


@pytest.fixture(scope="module")
def summaries(keras) -> dict[str, ModelSummary]:
    """Every model of this module, as the grader sees it: through its JSON config."""
    builders = {"mlp": MLP_SPELLINGS["sequential_with_input"], "cnn": CNN_SPELLINGS["sequential_with_input"],
                **{f"mlp/{name}": build for name, build in MLP_SPELLINGS.items()},
                **{f"cnn/{name}": build for name, build in CNN_SPELLINGS.items()},
                **{name: build for name, _, build, _, _ in MISTAKES}}
    return {name: summarize_config(build(keras).to_json()) for name, build in builders.items()}


def reference(summaries: dict[str, ModelSummary], name: str) -> ModelSummary:
    return summaries["mlp" if name == MLP else "cnn"]


# --- the reference models, as Keras counts them -------------------------------------------

def test_mlp_rows_are_what_the_lesson_draws(summaries):
    assert summaries["mlp"] == ModelSummary(
        input_shape=IMAGE,
        rows=(LayerRow("Flatten", (784,), 0, None, {}),
              LayerRow("Dense", (16,), 12_560, "relu", {"units": 16}),
              LayerRow("Dense", (16,), 272, "relu", {"units": 16}),
              LayerRow("Dense", (10,), 170, "softmax", {"units": 10})),
        total_params=13_002)


def test_cnn_has_34826_parameters_as_counted_by_keras(keras, summaries):
    built = sequential(keras, *cnn(keras))
    assert built.count_params() == 34_826
    assert summaries["cnn"].total_params == 34_826
    assert sum(row.params for row in summaries["cnn"].rows) == 34_826


def test_cnn_rows_carry_the_settings_that_matter(summaries):
    first_conv, first_pool = summaries["cnn"].rows[:2]
    assert first_conv == LayerRow("Conv2D", (26, 26, 32), 320, "relu",
                                  {"filters": 32, "kernel_size": (3, 3), "strides": (1, 1), "padding": "valid"})
    assert first_pool == LayerRow("MaxPooling2D", (13, 13, 32), 0, None,
                                  {"pool_size": (2, 2), "strides": (2, 2), "padding": "valid"})
    assert [row.kind for row in summaries["cnn"].rows] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"]
    assert summaries["cnn"].rows[5].settings == {"rate": 0.2}


# --- fairness: the same network however it is written -------------------------------------

@pytest.mark.parametrize("spelling", MLP_SPELLINGS)
def test_every_spelling_of_the_mlp_matches_it(summaries, spelling):
    assert summaries[f"mlp/{spelling}"] == summaries["mlp"]
    assert compare(summaries[f"mlp/{spelling}"], summaries["mlp"], name=MLP) is None


@pytest.mark.parametrize("spelling", CNN_SPELLINGS)
def test_every_spelling_of_the_cnn_matches_it(summaries, spelling):
    assert summaries[f"cnn/{spelling}"] == summaries["cnn"]
    assert compare(summaries[f"cnn/{spelling}"], summaries["cnn"], name=CNN) is None


def test_an_activation_layer_is_folded_only_into_a_linear_layer(keras):
    L = keras.layers
    summary = summarize_config(sequential(keras, L.Flatten(), L.Activation("relu"), L.Dense(16, activation="relu"),
                                          L.ReLU(), shape=(4,)).to_json())
    assert [(row.kind, row.activation) for row in summary.rows] == [
        ("Flatten", None), ("Activation", "relu"), ("Dense", "relu"), ("Activation", "relu")]


@pytest.mark.parametrize("spelling", ["relu", "ReLU", "keras.activations.relu", "serialised", "ReLU()"])
def test_activation_names_are_normalised(keras, spelling):
    activation = {"relu": "relu", "ReLU": "ReLU", "keras.activations.relu": keras.activations.relu,
                  "serialised": {"module": "keras.activations", "class_name": "function", "config": "relu",
                                 "registered_name": "function"},
                  "ReLU()": keras.layers.ReLU()}[spelling]
    assert activation_name(activation) == "relu"


# --- one specific message per mistake ----------------------------------------------------

@pytest.mark.parametrize(("variant", "name", "message_start", "total"),
                         [(variant, name, start, total) for variant, name, _, start, total in MISTAKES],
                         ids=[variant for variant, *_ in MISTAKES])
def test_each_mistake_is_explained_specifically(summaries, variant, name, message_start, total):
    message = compare(summaries[variant], reference(summaries, name), name=name)
    assert message is not None, message
    assert message.startswith(message_start), message
    totals = (MLP_TOTALS if name == MLP else CNN_TOTALS).format(mine=total)
    assert f"; {totals}" in message, message
    assert summaries[variant].total_params == int(total.replace(",", ""))
    assert TEACHING.get(variant, "") in message


def test_swapping_one_parameter_free_layer_for_another_explains_no_parameters(summaries):
    message = compare(summaries["cnn_average_pooling"], summaries["cnn"], name=CNN)
    assert "adds no parameters" not in message
    assert "adds no parameters" in compare(summaries["cnn_missing_pooling"], summaries["cnn"], name=CNN)


def test_messages_never_start_or_end_with_a_quote(summaries):
    """Otter strips quotes from both ends of a failure message (see judging.CheckFailed)."""
    for variant, name, *_ in MISTAKES:
        message = compare(summaries[variant], reference(summaries, name), name=name)
        assert message[:1] != "'", message
        assert message[-1:] == ".", message


def test_rows_that_match_with_different_totals_are_reported(summaries):
    inflated = ModelSummary(summaries["mlp"].input_shape, summaries["mlp"].rows, 13_003)
    assert compare(inflated, summaries["mlp"], name=MLP) == (
        "your model's layers match the 16×16 MLP, but the parameter counts differ: your model has 13,003 "
        "parameters, the 16×16 MLP has 13,002.")


def test_table_lists_each_layer_and_the_total(summaries):
    table = summaries["cnn"].table()
    lines = table.splitlines()
    assert lines[0] == "input shape: (28, 28, 1)"
    for n, row in enumerate(summaries["cnn"].rows, start=1):
        line = next(line for line in lines if line.split()[:2] == [str(n), row.kind])
        assert str(row.output_shape) in line
        assert f"{row.params:,}" in line
    assert "18,496" in table
    assert "filters=64, kernel_size=3×3, strides=1×1, padding=valid" in table
    assert lines[-1].split() == ["total", "34,826"]


# --- nothing but built-in Keras layers is rebuilt ----------------------------------------

def code_writing(marker: Path) -> Callable:
    """A Python lambda whose only trace is a file: Keras serialises its bytecode."""
    return eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), x)[1]")


def test_a_lambda_layer_is_refused_without_running_its_code(keras, tmp_path):
    marker = tmp_path / "lambda_ran"
    config = sequential(keras, keras.layers.Lambda(code_writing(marker), name="sneaky"), shape=(4,)).to_json()
    assert marker.exists(), "building the model runs the lambda: the marker shows when it ran"
    marker.unlink()
    with pytest.raises(UnsafeModelError, match=r"Lambda layer \(`sneaky`\).*built-in Keras layers"):
        rebuild_model(config)
    assert not marker.exists()
    keras.saving.deserialize_keras_object(json.loads(config), safe_mode=False)
    assert marker.exists(), "unsafe deserialisation runs the lambda, so the check above could fail"


def test_a_lambda_of_a_registered_function_is_refused_though_keras_safe_mode_allows_it(keras, tmp_path):
    calls = []

    def record(x):
        calls.append(x)
        return x
    registered = keras.saving.register_keras_serializable(package="student")(record)
    try:
        config = sequential(keras, keras.layers.Lambda(registered), shape=(4,)).to_json()
        calls.clear()
        with pytest.raises(UnsafeModelError, match="Lambda layer"):
            rebuild_model(config)
        assert calls == []
        keras.saving.deserialize_keras_object(json.loads(config), safe_mode=True)
        assert calls, "Keras' own safe mode runs it, so refusing it is this module's doing"
    finally:
        keras.saving.get_custom_objects().pop("student>record", None)


def test_a_custom_layer_class_is_refused_by_name(keras):
    class Doubling(keras.layers.Layer):
        def call(self, x):
            return 2 * x
    config = sequential(keras, Doubling(name="twice"), shape=(4,)).to_json()
    with pytest.raises(UnsafeModelError, match=r"type Doubling \(`twice`\).*built-in Keras layers"):
        rebuild_model(config)


def test_a_registered_custom_layer_is_refused_without_being_constructed(keras):
    constructed = []

    class Counting(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            constructed.append(self)
    keras.saving.register_keras_serializable(package="student")(Counting)
    try:
        config = sequential(keras, Counting(), shape=(4,)).to_json()
        constructed.clear()
        with pytest.raises(UnsafeModelError, match="type Counting"):
            rebuild_model(config)
        assert constructed == []
    finally:
        keras.saving.get_custom_objects().pop("student>Counting", None)


def test_a_custom_activation_function_is_refused(keras):
    def wiggle(x):
        return x
    config = sequential(keras, keras.layers.Dense(3, activation=wiggle), shape=(4,)).to_json()
    with pytest.raises(UnsafeModelError, match="your own function `wiggle`"):
        rebuild_model(config)


def forge(config_json: str, edit: Callable[[dict], None]) -> str:
    config = json.loads(config_json)
    edit(config)
    return json.dumps(config)


FORGERIES = {
    "model_class_from_elsewhere": (lambda c: c.update(module="student_code", registered_name="student>Sequential"),
                                   "class defined outside Keras"),
    "layer_registered_elsewhere": (lambda c: c["config"]["layers"][2].update(registered_name="student>Dense"),
                                   r"type Dense \(`dense"),
    "initializer_from_elsewhere": (lambda c: c["config"]["layers"][2]["config"]["kernel_initializer"].update(
        module="student_code"), "custom object of type GlorotUniform"),
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_configuration_edited_to_point_outside_keras_is_refused(keras, forgery):
    """The JSON comes from the student's process, so it may have been written by hand."""
    edit, reason = FORGERIES[forgery]
    config = sequential(keras, *mlp(keras)).to_json()
    rebuild_model(config)  # unedited, it is accepted
    with pytest.raises(UnsafeModelError, match=reason):
        rebuild_model(forge(config, edit))


@pytest.mark.parametrize(("config", "reason"), [
    ("{not json", "not valid JSON"),
    (b"\x80\x04K\x01.", "JSON string"),
    ("[1, 2]", "describes a list, not a Keras model"),
    (json.dumps({"class_name": "Dense", "config": {"units": 3}}), "describes a Dense, not a Keras model"),
])
def test_what_is_not_a_model_configuration_is_refused_clearly(config, reason):
    with pytest.raises(UnsafeModelError, match=reason):
        rebuild_model(config)


def test_a_model_without_input_shape_asks_for_keras_input(keras):
    unbuilt = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(UnbuiltModelError, match=r"keras\.Input\(shape=...\)") as raised:
        summarize_config(unbuilt.to_json())
    assert isinstance(raised.value, UnsafeModelError), "judges catch UnsafeModelError around summarize_config"


def test_module_imports_without_tensorflow():
    """Judges import this module in processes that must stay light."""
    import subprocess
    import sys
    code = "import sys, autograder.checks.models; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
