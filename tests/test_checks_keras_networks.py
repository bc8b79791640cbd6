"""Hidden checks of keras_networks run in-process on the executed solutions notebook (that the
solutions pass every one: test_solutions.py)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import KERAS, check_failure, with_changes

from autograder.checks import run_check


@pytest.fixture(scope="module")
def env(solution_envs):
    return solution_envs(KERAS)


@pytest.fixture(autouse=True)
def in_the_submission_folder(builds, monkeypatch):
    monkeypatch.chdir(builds(KERAS).solutions_notebook.parent)


def failure(env: dict, check: str) -> str:
    return check_failure(env, KERAS, check)


def functional_mlp():
    import keras
    from keras import layers
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Flatten()(inputs)
    x = layers.Dense(16)(x)
    x = layers.ReLU()(x)
    x = layers.Dense(16, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def input_shape_mlp():
    import keras
    from keras import layers
    return keras.Sequential([layers.Flatten(input_shape=(28, 28, 1)), layers.Dense(16, activation="relu"),
                             layers.Dense(16, activation="relu"), layers.Dense(10, activation="softmax")])


@pytest.mark.parametrize("builder", [functional_mlp, input_shape_mlp])
def test_equivalent_spellings_of_the_mlp_pass(env, builder):
    run_check(with_changes(env, build_mlp_16x16=builder), KERAS, "mlp_16x16_architecture")


def test_a_lambda_layer_is_refused_not_run(env, tmp_path):
    import keras
    from keras import layers
    marker = tmp_path / "ran"

    def build():
        return keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
                                 layers.Lambda(lambda x: x * 2), layers.Dense(10, activation="softmax")])
    message = failure(with_changes(env, build_mlp_16x16=build), "mlp_16x16_architecture")
    assert "refuses" in message
    assert "Lambda" in message
    assert not marker.exists()


def test_returning_a_trained_model_gains_nothing(env):
    """The grader trains the architecture itself: weights the student trained are ignored,
    and a model whose architecture cannot reach the threshold fails however it was trained."""
    import keras
    from keras import layers

    def tiny():
        return keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
                                 layers.Dense(1, activation="relu"), layers.Dense(10, activation="softmax")])
    message = failure(with_changes(env, build_mlp_16x16=tiny), "mlp_16x16_trains_to_accuracy")
    assert "The grader trained your build_mlp_16x16() architecture" in message


def test_not_a_model_is_refused(env):
    message = failure(with_changes(env, build_cnn=lambda: "a model"), "cnn_architecture")
    assert "not a keras.Model" in message


def test_kernel_size_as_a_non_square_tuple_is_checked(env):
    conv2d_params = lambda k, c, f: (k if np.isscalar(k) else k[0]) ** 2 * c * f + f
    message = failure(with_changes(env, conv2d_params=conv2d_params), "conv2d_params_match_keras")
    assert "not square" in message


def test_course_totals_are_judged_by_keras_and_never_quoted(env):
    """The expected total is Keras' own count of the course model (a total one off fails),
    and the message shows the student's value and how to check it, never the answer."""
    from autograder.checks.keras_networks.judges import portfolio_cnn
    expected = portfolio_cnn().count_params()
    message = failure(with_changes(env, portfolio_cnn_params=expected + 1), "portfolio_cnn_total")
    assert f"{expected + 1:,}" in message
    assert "count_params()" in message
    assert f"{expected:,}" not in message
    assert str(expected) not in message.replace(f"{expected + 1:,}", "")


def test_the_lesson_cnns_total_given_in_the_prompt_is_not_a_hidden_point():
    from autograder.assignment import check_points
    assert "lesson_cnn_total" not in check_points("keras_networks")
    assert check_points("keras_networks")["portfolio_cnn_total"] == ("q2_param_counts", 2.0)


def test_invert_that_changes_dtype_is_named(env):
    invert = lambda images: 1 - np.asarray(images, dtype=np.float64)
    assert "keep both" in failure(with_changes(env, invert=invert), "invert_random_batches")


def test_augment_that_interleaves_is_named(env):
    def augment_with_inverted(X, y):
        pairs = np.stack([X, 1 - X], axis=1).reshape(-1, *X.shape[1:])
        return pairs, np.repeat(y, 2)
    message = failure(with_changes(env, augment_with_inverted=augment_with_inverted),
                      "augment_with_inverted_random_batches")
    assert "originals first" in message


def test_a_model_without_flatten_is_told_to_add_one_before_training(env):
    """Keras' own error ("Argument `output` must have rank ...") never reaches the student: the
    output shape is read before anything trains, and the missing layer named."""
    import keras
    from keras import layers

    def no_flatten():
        return keras.Sequential([keras.Input((28, 28, 1)), layers.Dense(16, activation="relu"),
                                 layers.Dense(16, activation="relu"), layers.Dense(10, activation="softmax")])
    message = failure(with_changes(env, build_mlp_16x16=no_flatten), "mlp_16x16_trains_to_accuracy")
    assert "your model's output has shape (None, 28, 28, 10): add a Flatten layer before the first Dense" in message
    assert "Argument" not in message
    assert "ValueError" not in message


def test_the_deep_mlp_hint_speaks_of_dense_layers_only(env):
    from autograder.checks.keras_networks.judges import COURSE_MODELS, reference_summary
    expected = reference_summary(COURSE_MODELS["deep_mlp_params"][1]).total_params
    message = failure(with_changes(env, deep_mlp_params=expected + 7), "deep_mlp_total")
    assert "Add up every Dense layer" in message
    assert "784 flattened pixels" in message
    assert "Conv2D" not in message
    assert "pooling" not in message
    weights_only = sum(a * b for a, b in zip([784, 256, 64, 64, 32], [256, 64, 64, 32, 10]))
    assert "left out the biases" in failure(with_changes(env, deep_mlp_params=weights_only), "deep_mlp_total")


def _reads_layers(first: int, last: int):
    """A layer_activations that returns the outputs of model.layers[first:last + n_layers]."""
    import keras

    def layer_activations(model, images, n_layers):
        chosen = model.layers[first:last + n_layers]
        return list(keras.Model(model.inputs, [layer.output for layer in chosen])(images))
    return layer_activations


@pytest.mark.parametrize(("first", "last", "named"), [
    (1, 1, "you returned the outputs of layers 2 to 4, one layer later than asked"),
    (0, 1, "you returned n_layers + 1 = 4 outputs, one layer too many"),
    (1, 0, "you returned n_layers - 1 = 2 outputs, skipping layer 1"),
    (0, -1, "you returned n_layers - 1 = 2 outputs, stopping one layer early"),
])
def test_layer_activations_off_by_one_is_named_with_the_model(env, first, last, named):
    message = failure(with_changes(env, layer_activations=_reads_layers(first, last)),
                      "layer_activations_match_reference")
    assert named in message
    # the hidden model, described by its architecture (never its weights)
    assert ("a 5-layer model on 12×12×1 images: Conv2D 4 3×3 relu, MaxPooling2D 2×2, Conv2D 6 3×3 relu, "
            "Flatten, Dense 5 softmax") in message


def test_layer_activations_that_unwraps_a_single_output_loses_the_check_and_is_told_why(env):
    """With n_layers = 1, Keras' predict returns the array itself: the hidden check asks for one
    layer as well as several, and names what happened."""
    import keras

    def unwrapped(model, images, n_layers):
        reader = keras.Model(model.inputs, [layer.output for layer in model.layers[:n_layers]])
        return reader.predict(images, verbose=0)
    message = failure(with_changes(env, layer_activations=unwrapped), "layer_activations_match_reference")
    assert "layer_activations(model, images, 1)" in message
    assert "list of one array" in message


def _cells_of(notebook) -> dict:
    """What the notebook_cells probe reads, from a notebook object rather than a file."""
    return {"cells": [c.source if c.cell_type == "code" else None for c in notebook.cells],
            "markdown": [c.source if c.cell_type == "markdown" else None for c in notebook.cells]}


@pytest.mark.parametrize(("question", "find", "replace", "rule"), [
    ("q1_keras_mlp", "validation_split=0.1, verbose=0)\n    print(\"test accuracy:\", mlp",
     "validation_data=(X_test, y_test), verbose=0)\n    print(\"test accuracy:\", mlp", "L2"),
    ("q3_cnn", "cnn.fit(X_train, y_train,", "cnn.fit(np.concatenate([X_train, X_test]), np.concatenate([y_train, y_test]),",
     "L2"),
])
def test_a_leak_in_a_training_cell_costs_its_own_question_only(builds, question, find, replace, rule):
    """The grader never runs the training cells, but it reads them: the leak is charged to the
    question under whose heading the cell stands, with the rule, cell and line."""
    import nbformat

    from autograder.checks.judging import CheckFailed
    from autograder.checks.keras_networks import judges
    notebook = nbformat.read(builds(KERAS).solutions_notebook, as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code" and find in c.source)
    cell.source = cell.source.replace(find, replace)
    answers = _cells_of(notebook)
    gates = {q: getattr(judges, f"q{q[1]}_keeps_the_test_set_apart") for q in
             ("q1_keras_mlp", "q2_param_counts", "q3_cnn", "q4_augment", "q5_activations")}
    for other, gate in gates.items():
        if other == question:
            with pytest.raises(CheckFailed) as failed:
                gate(None, answers, None)
            message = str(failed.value)
            assert f"costs all of {question}'s points" in message
            assert f"{rule} " in message
            assert f"cell {notebook.cells.index(cell) + 1} line " in message
        else:
            gate(None, answers, None)  # no leak charged to the other questions
