"""Hidden checks of keras_networks run in-process on the executed solutions notebook."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import KERAS, check_failure, with_changes

from autograder.checks import run_check
from autograder.checks.suite import load_suite

SUITE = load_suite(KERAS)


@pytest.fixture(scope="module")
def env(solution_envs):
    return solution_envs(KERAS)


@pytest.fixture(autouse=True)
def in_the_submission_folder(builds, monkeypatch):
    monkeypatch.chdir(builds(KERAS).solutions_notebook.parent)


def failure(env: dict, check: str) -> str:
    return check_failure(env, KERAS, check)


@pytest.mark.parametrize("check", sorted(SUITE.checks))
def test_solution_passes(env, check):
    run_check(env, KERAS, check)


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
    assert "refuses" in message and "Lambda" in message
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
    assert f"{expected + 1:,}" in message and "count_params()" in message
    assert f"{expected:,}" not in message and str(expected) not in message.replace(f"{expected + 1:,}", "")


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
