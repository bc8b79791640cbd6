"""What only training_diagnostics has: the figure read from its data, the
compile settings, the bug hunt's two training runs (the reference passes, the broken setup does
not, with the judges' own functions and the build's records), its public checks. The generic tests (points,
solutions, known-wrong, correct styles, samples, feedback searched for hidden values) run it
through helpers.ASSIGNMENTS."""

from __future__ import annotations

import json
import re
import zipfile

import nbformat
import numpy as np
import pytest
from helpers import DIAGNOSTICS, check_failure, with_changes
from test_hidden_values import drawn, hidden_expected_texts
from test_public_checks import public_tests, run_public_check

from autograder.checks import run_check
from autograder.checks.suite import hidden_inputs, load_suite
from autograder.config import config


@pytest.fixture(scope="module")
def env(solution_envs):
    return solution_envs(DIAGNOSTICS)


@pytest.fixture(autouse=True)
def in_the_submission_folder(builds, monkeypatch):
    """Checks and the public leak check read the notebook there, as graded."""
    monkeypatch.chdir(builds(DIAGNOSTICS).solutions_notebook.parent)


def failure(env: dict, check: str) -> str:
    return check_failure(env, DIAGNOSTICS, check)


def test_every_check_with_drawn_inputs_declares_its_oracle():
    checks = load_suite(DIAGNOSTICS).checks.values()
    drawn_checks = [check for check in checks if drawn(DIAGNOSTICS, check)]
    assert len(drawn_checks) >= 15
    assert not [check.name for check in drawn_checks if check.expected is None and check.case_name == check.name]
    # what the search can find: not single-digit classes (any draw has them all) nor names (words)
    unsearchable = {"predicted_classes_match_argmax", "label_names_random_labels"}
    assert not [check.name for check in drawn_checks if check.expected is not None and check.name not in unsearchable
                and not hidden_expected_texts(DIAGNOSTICS, check, hidden_inputs(DIAGNOSTICS, check, b"a"))]


# q3: the figure, read from its data -------------------------------------------------------------------

def test_a_figure_drawn_with_pyplot_calls_and_an_unlabelled_marker_passes(env):
    import matplotlib.pyplot as plt

    def plot_history(history):
        n = len(history["loss"])
        figure = plt.figure()
        plt.subplot(1, 2, 1)
        plt.plot(range(1, n + 1), history["loss"], label="train_loss")
        plt.plot(range(1, n + 1), history["val_loss"], label="val_loss")
        plt.axvline(2)  # no label: ignored
        plt.subplot(1, 2, 2)
        plt.plot(range(1, n + 1), history["accuracy"], label="train_acc")
        plt.plot(range(1, n + 1), history["val_accuracy"], label="val_acc")
        return figure
    before = plt.get_fignums()
    for check in ("plot_history_axes_and_labels", "plot_history_data"):
        run_check(with_changes(env, plot_history=plot_history), DIAGNOSTICS, check)
    assert plt.get_fignums() == before, "the probe closes every figure the student's function opened"


def test_axes_in_the_wrong_order_are_named(env):
    import matplotlib.pyplot as plt

    def accuracy_first(history):
        figure, (acc, loss) = plt.subplots(1, 2)
        acc.plot(history["accuracy"], label="train_acc")
        acc.plot(history["val_accuracy"], label="val_acc")
        loss.plot(history["loss"], label="train_loss")
        loss.plot(history["val_loss"], label="val_loss")
        return figure
    message = failure(with_changes(env, plot_history=accuracy_first), "plot_history_axes_and_labels")
    assert "first (loss) axes" in message
    assert "['train_acc', 'val_acc']" in message


def test_swapped_data_and_a_missing_figure_are_explained(env):
    import matplotlib.pyplot as plt

    def swapped(history):
        figure, (loss, acc) = plt.subplots(1, 2)
        epochs = range(1, len(history["loss"]) + 1)
        loss.plot(epochs, history["val_loss"], label="train_loss")
        loss.plot(epochs, history["loss"], label="val_loss")
        acc.plot(epochs, history["accuracy"], label="train_acc")
        acc.plot(epochs, history["val_accuracy"], label="val_acc")
        return figure
    message = failure(with_changes(env, plot_history=swapped), "plot_history_data")
    assert "it shows those of 'val_loss'" in message
    message = failure(with_changes(env, plot_history=lambda history: plt.gca()), "plot_history_axes_and_labels")
    assert "not a matplotlib Figure" in message


# q2, q5: compile settings and the fixed setup ----------------------------------------------------------

def sigmoid_mlp(**compile_settings):
    import keras
    from keras import layers

    def build():
        model = keras.Sequential([keras.Input((784,)), layers.Dense(128, activation="sigmoid"),
                                  layers.Dense(64, activation="sigmoid"), layers.Dense(10, activation="softmax")])
        if compile_settings:
            model.compile(**compile_settings)
        return model
    return build


def test_compile_settings_are_read_from_the_model(env):
    import keras
    message = failure(with_changes(env, build_sigmoid_mlp=sigmoid_mlp()), "sigmoid_mlp_optimizer")
    assert "not compiled" in message
    momentum = sigmoid_mlp(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="categorical_crossentropy",
                           metrics=["accuracy"])
    assert "momentum=0.9" in failure(with_changes(env, build_sigmoid_mlp=momentum), "sigmoid_mlp_optimizer")
    no_metric = sigmoid_mlp(optimizer="sgd", loss="categorical_crossentropy")
    run_check(with_changes(env, build_sigmoid_mlp=no_metric), DIAGNOSTICS, "sigmoid_mlp_optimizer")
    assert 'metrics=["accuracy"]' in failure(with_changes(env, build_sigmoid_mlp=no_metric),
                                             "sigmoid_mlp_loss_and_metric")


def test_fixed_labels_must_agree_with_the_loss(env):
    message = failure(with_changes(env, FIXED_LABELS="integer"), "fixed_loss_matches_labels")
    assert "categorical_crossentropy, which expects one-hot labels" in message
    message = failure(with_changes(env, FIXED_LABELS="labels"), "fixed_loss_matches_labels")
    assert "\"one_hot\" or \"integer\"" in message


def test_scale_pixels_in_float64_names_the_dtype(env):
    float64 = with_changes(env, scale_pixels=lambda images: np.asarray(images) / 255)
    message = failure(float64, "scale_pixels_random_batches")
    assert "float64" in message
    assert "float32" in message


def test_the_notebooks_broken_setup_is_the_one_the_grader_trains(env):
    """The given broken_deep_mlp() is the judges' deep MLP with BROKEN_OPTIMIZER and
    binary_crossentropy, and the classmate's cell trains it with grading.toml's budget."""
    from autograder.checks.models import architecture_fingerprint
    from autograder.checks.training_diagnostics import judges
    from autograder.config import assignments_dir
    broken = env["broken_deep_mlp"]()
    assert architecture_fingerprint(broken.to_json()) == architecture_fingerprint(judges.deep_mlp().to_json())
    settings = broken.get_compile_config()
    assert settings["loss"] == "binary_crossentropy"
    assert settings["optimizer"]["class_name"] == judges.BROKEN_OPTIMIZER["class_name"]
    for key, value in judges.BROKEN_OPTIMIZER["config"].items():
        assert settings["optimizer"]["config"][key] == pytest.approx(value)
    master = nbformat.read(assignments_dir() / DIAGNOSTICS / f"{DIAGNOSTICS}.ipynb", as_version=4)
    code = "\n".join(cell.source for cell in master.cells if cell.cell_type == "code")
    training = config(DIAGNOSTICS).training
    budgets = set(re.findall(r"epochs=(\d+), batch_size=(\d+),\s+validation_split=0\.2,", code))
    assert budgets == {(str(training.mlp_epochs), str(training.batch_size))}


def test_the_reference_runs_pass_and_the_broken_setup_does_not(builds):
    """The build's recorded runs, made by the judges' own train_and_score: the sigmoid MLP and the
    fixed deep MLP reach their thresholds, the broken setup stays below (benchmarks/
    training_diagnostics_budgets.py measures the margins over seeds)."""
    from autograder.bundle import assignment_member
    from autograder.checks.models import REFERENCE_TRAINING_FILE
    from autograder.checks.training_diagnostics import judges
    with zipfile.ZipFile(builds(DIAGNOSTICS).autograder_zip) as archive:
        recorded = json.loads(archive.read(assignment_member(DIAGNOSTICS, REFERENCE_TRAINING_FILE)))
    threshold = config(DIAGNOSTICS).thresholds["digits"]
    runs = dict(zip(("sigmoid", "fixed", "broken"), judges.reference_runs()))
    accuracy = {name: recorded[judges.training_key(builder().to_json(), run)] for name, (builder, run) in runs.items()}
    assert accuracy["sigmoid"] >= threshold["sigmoid_mlp_accuracy"] + 0.1
    assert accuracy["fixed"] >= threshold["deep_mlp_accuracy"] + 0.05
    assert accuracy["broken"] <= threshold["deep_mlp_accuracy"] - 0.3


# Public checks ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def public_checks(builds) -> dict[str, str]:
    return public_tests(builds(DIAGNOSTICS).student_dir / f"{DIAGNOSTICS}.ipynb")


def test_the_public_checks_pass_on_the_solutions(public_checks, env):
    failed = {question: run_public_check(source, dict(env)) for question, source in public_checks.items()}
    assert failed == {question: [] for question in public_checks}


def stub(*args, **kwargs):
    """A stub as the student notebook ships it: its body is ``...``."""


UNANSWERED = {
    "q1_outputs": {"one_hot": stub}, "q2_sigmoid_mlp": {"build_sigmoid_mlp": stub},
    "q3_history": {"best_epoch": stub}, "q4_confusion": {"confusion": stub},
    "q5_bug_hunt": {"scale_pixels": stub}, "q6_weights": {"first_layer_images": stub},
    "q7_fashion": {"FASHION_CLASSES": ...},
}


@pytest.mark.parametrize("question", sorted(UNANSWERED))
def test_a_public_check_on_a_stub_says_not_answered_yet(public_checks, env, question):
    messages = run_public_check(public_checks[question], with_changes(env, **UNANSWERED[question]))
    assert messages
    assert all("not answered yet" in message for message in messages), messages


@pytest.mark.slow
def test_the_leaking_sample_loses_q3_for_validation_data(batch_results):
    leaking = batch_results(DIAGNOSTICS)["leaks_test_set"]
    assert leaking.question_scores["q3_history"] == 0
    assert any("validation_data" in case.message for case in leaking.failed_cases())
    assert all(score > 0 for question, score in leaking.question_scores.items()
               if question != "q3_history" and score is not None)  # q8 waits for a TA
