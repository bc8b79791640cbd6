"""Feedback never quotes a hidden expected value, and hidden inputs are drawn per submission.

Every message of the held-out known-wrong corpus (graded by the real grader in the session's
batches) is searched for the expected values of the hidden cases that submission met: those
cases are redrawn here exactly as the grader drew them, from the course secret and the
submitted file, and their expected values computed by the judges' own oracles. A number that
is also one of the case's inputs is not evidence (the message may show the case), so it is
not searched for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ASSIGNMENT, COURSE_SECRET_FILE, KERAS

from autograder.build.variants import known_wrong
from autograder.checks.judging import count, number_text, shape_text
from autograder.checks.suite import check_seed, hidden_inputs, load_suite, submission_salt
from autograder.grade.intake import read_submitted_notebook

Expected = Callable[[Any], list[str]]


def _numbers(*values: float) -> list[str]:
    texts = []
    for value in values:
        texts += [count(value), str(int(value))] if float(value).is_integer() else [number_text(value)]
    return texts


def _unrolled_lengths(inputs: dict) -> list[str]:
    return _numbers(*(int(np.prod(shape)) for shape in inputs["shapes"][3:]))  # the first 3 are in the prompt


def _unrolled_shapes(inputs: dict) -> list[str]:
    return [shape_text((len(b), int(np.prod(b.shape[1:])))) for b in inputs["batches"]]


def _forward_outputs(inputs: dict) -> list[str]:
    from autograder.checks.nn_foundations.judges import _keras_forward
    texts = []
    for case in inputs["cases"]:
        out = _keras_forward(case["layers"], case["x"])
        texts.append(shape_text(out.shape))
        texts += [number_text(v) for v in out.ravel() if abs(v) > 1e-3]
    return texts


def _mlp_counts(inputs: dict) -> list[str]:
    from autograder.checks.nn_foundations.judges import PUBLIC_PARAM_COUNT_CASES, fitted_sklearn_param_count
    return _numbers(*(fitted_sklearn_param_count(c["n_inputs"], c["hidden_layer_sizes"], c["n_outputs"])
                      for c in inputs["cases"] if c not in PUBLIC_PARAM_COUNT_CASES))


def _tuning_winner(inputs: dict) -> list[str]:
    from autograder.checks.nn_foundations.judges import clear_winner
    rate, size = clear_winner(inputs)
    return [f"learning_rate_init={rate}, hidden_layer_sizes={tuple(size)}"]


def _hand_trace(inputs: None) -> list[str]:
    from autograder.checks.nn_foundations.judges import _tiny_trace
    return [f"{v:.4f}".rstrip("0") for v in np.concatenate(
        [np.ravel(value) for value in _tiny_trace().values()])]


def _dense_counts(inputs: dict) -> list[str]:
    from autograder.checks.keras_networks.judges import keras_dense_count
    return _numbers(*(keras_dense_count(*c["arguments"]) for c in inputs["cases"][2:]))


def _conv_counts(inputs: dict) -> list[str]:
    from autograder.checks.keras_networks.judges import keras_conv2d_count
    return _numbers(*(keras_conv2d_count(*c["arguments"]) for c in inputs["cases"][3:]))


def _inverted_values(inputs: dict) -> list[str]:
    """Their shapes are the inputs' own; their values must never be printed."""
    arrays = [1 - b for b in inputs.get("batches", [])] + [1 - c["X"] for c in inputs.get("cases", [])]
    return [number_text(v) for a in arrays for v in a.ravel()[:20]]


def _activation_values(inputs: dict) -> list[str]:
    """The layers' output shapes follow from the model, which is an input; their values must
    never be printed."""
    from autograder.checks.keras_networks.judges import reference_activations
    return [number_text(v) for a in reference_activations(inputs) for v in a.ravel()[:40] if abs(v) > 1e-3]


def _total(variable: str) -> Expected:
    def expected(inputs: None) -> list[str]:
        from autograder.checks.keras_networks.judges import COURSE_MODELS, reference_summary
        return _numbers(reference_summary(COURSE_MODELS[variable][1]).total_params)
    return expected


# check -> its hidden expected values, as a message would print them
EXPECTED: dict[str, dict[str, Expected]] = {
    ASSIGNMENT: {
        "unrolled_length_counts_every_value": _unrolled_lengths,
        "unroll_grayscale_batches": _unrolled_shapes, "unroll_colour_batches": _unrolled_shapes,
        "unroll_single_image": _unrolled_shapes,
        "hand_trace_hidden_weighted_sums": _hand_trace, "hand_trace_hidden_activations": _hand_trace,
        "hand_trace_output": _hand_trace,
        "forward_single_layer_each_activation": _forward_outputs,
        "forward_matches_keras_on_random_networks": _forward_outputs,
        "forward_accepts_a_single_example": _forward_outputs,
        "mlp_param_count_matches_fitted_models": _mlp_counts,
        "tune_mlp_returns_a_choice": _tuning_winner, "tune_mlp_picks_the_clear_winner": _tuning_winner,
        "tune_mlp_does_not_read_the_test_set": _tuning_winner,
    },
    KERAS: {
        "dense_params_match_keras": _dense_counts, "conv2d_params_match_keras": _conv_counts,
        "layer_activations_match_reference": _activation_values,
        "invert_random_batches": _inverted_values, "augment_with_inverted_random_batches": _inverted_values,
        **{name: _total(name.replace("_total", "_params"))
           for name in ("wide_mlp_total", "deep_mlp_total", "portfolio_cnn_total")},
    },
}


def inputs_text(value: Any) -> str:
    """Everything a message may show of a case's inputs: numbers, lists, shapes."""
    if isinstance(value, np.ndarray):
        return shape_text(value.shape) + " " + str(value.shape)
    if isinstance(value, dict):
        return " ".join(inputs_text(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return str(value) + " " + str(tuple(value)) + " " + " ".join(inputs_text(v) for v in value)
    return "" if value is None else f"{value} {count(value) if isinstance(value, (int, float)) else ''}"


def quoted(text: str, message: str) -> bool:
    """``text`` as a whole number or value in ``message`` (not a part of a longer one)."""
    return re.search(rf"(?<![\w.]){re.escape(text)}(?![\w]|[.,]\d)", message) is not None


def hidden_values_quoted(assignment: str, result, salt: bytes) -> list[str]:
    suite = load_suite(assignment)
    found = []
    for case in result.cases:
        expected = EXPECTED[assignment].get(case.name)
        if not case.message or expected is None:
            continue
        inputs = hidden_inputs(assignment, suite.checks[case.name], salt)
        shown = inputs_text(inputs)
        found += [f"{case.name}: {text!r} in {case.message!r}" for text in expected(inputs)
                  if text not in shown and quoted(text, case.message)]
    return found


def salt_of(build, path: Path) -> bytes:
    secret = bytes.fromhex((build.student_dir.parent.parent / COURSE_SECRET_FILE).read_text().strip())
    return submission_salt(secret, read_submitted_notebook(path))


def test_every_check_with_drawn_inputs_is_searched():
    """A new check whose inputs are drawn per submission must say what its messages may never show."""
    from autograder.checks.channel import encode
    for assignment in (ASSIGNMENT, KERAS):
        drawn = {name for name, check in load_suite(assignment).checks.items()
                 if encode(hidden_inputs(assignment, check, b"a")) != encode(hidden_inputs(assignment, check, b"b"))}
        assert drawn and drawn <= set(EXPECTED[assignment]), sorted(drawn - set(EXPECTED[assignment]))


def test_a_mismatch_is_counted_never_measured():
    """Found by this search on a drawn case: a forward pass that never added the bias returned 0
    where Keras gives 0.6193, and "differs by up to 0.6193" quoted that hidden value."""
    from autograder.checks.judging import mismatch_text
    expected = np.array([[0.6193, 0.25], [0.0, 1.5]])
    text = mismatch_text(np.zeros_like(expected), expected, 1e-3)
    assert text == "3 of 4 values differ by more than 0.001"
    assert not any(f"{value:.4g}" in text for value in expected.ravel() if value)


def test_the_search_finds_an_expected_value_when_a_message_quotes_one():
    """The search itself can fail: a message in the old style, quoting the expected count."""
    check = load_suite(ASSIGNMENT).checks["mlp_param_count_matches_fitted_models"]
    inputs = hidden_inputs(ASSIGNMENT, check, b"some salt")
    case = inputs["cases"][1]
    expected = _mlp_counts(inputs)[0]
    old_style = (f"mlp_param_count({case['n_inputs']}, {tuple(case['hidden_layer_sizes'])}, "
                 f"{case['n_outputs']}) returned 3, but a fitted MLPClassifier of that shape has "
                 f"{expected} learned values.")
    fake = type("Result", (), {"cases": [type("Case", (), {"name": check.name, "message": old_style})]})
    assert hidden_values_quoted(ASSIGNMENT, fake, b"some salt")


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [ASSIGNMENT, KERAS])
def test_no_known_wrong_feedback_quotes_a_hidden_expected_value(assignment, builds, batch_results):
    results = batch_results(assignment)
    build = builds(assignment)
    searched, found = 0, []
    for variant in known_wrong(assignment):
        path = build.student_dir.parent / "known_wrong" / f"{variant.name}.ipynb"
        result = results[variant.name]
        searched += sum(1 for case in result.cases if case.message and case.name in EXPECTED[assignment])
        found += [f"{variant.name}: {hit}" for hit in hidden_values_quoted(assignment, result, salt_of(build, path))]
    assert searched > 0, "no message of a check with hidden cases was searched"
    assert not found, "\n".join(found)


def test_the_zip_carries_the_course_secret_and_the_student_folder_does_not(built):
    import zipfile

    from autograder.shipping import COURSE_SECRET_MEMBER
    secret = (built.student_dir.parent.parent / COURSE_SECRET_FILE).read_text().strip()
    with zipfile.ZipFile(built.autograder_zip) as archive:
        assert archive.read(COURSE_SECRET_MEMBER).decode() == secret
        assert not [n for n in archive.namelist() if n.startswith(("files/", "tests/")) and
                    secret.encode() in archive.read(n)]
    assert not [p for p in built.student_dir.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_a_resubmission_meets_other_hidden_cases_and_the_same_file_the_same_ones():
    suite = load_suite(ASSIGNMENT)
    check = suite.checks["mlp_param_count_matches_fitted_models"]
    secret = b"s" * 32
    first = submission_salt(secret, b'{"cells": []}')
    again = submission_salt(secret, b'{"cells": []}')
    changed = submission_salt(secret, b'{"cells": [] }')
    other_course = submission_salt(b"t" * 32, b'{"cells": []}')
    draw = lambda salt: hidden_inputs(ASSIGNMENT, check, salt)["cases"]  # noqa: E731
    assert draw(first) == draw(again)
    assert draw(first) != draw(changed) and draw(first) != draw(other_course)
    assert draw(first)[0] == draw(changed)[0], "the public case stays"
    assert check_seed(ASSIGNMENT, check.name) == check_seed(ASSIGNMENT, check.name, b"")


def test_the_tuning_case_is_drawn_per_submission_with_a_clear_winner_in_it():
    from autograder.checks.judging import grading_data
    from autograder.checks.nn_foundations.judges import clear_winner, tuning_rows
    from autograder.config import setting
    check = load_suite(ASSIGNMENT).checks["tune_mlp_picks_the_clear_winner"]
    tuning = setting(ASSIGNMENT, "tuning")
    cases = [hidden_inputs(ASSIGNMENT, check, bytes([n]) * 32) for n in range(12)]
    assert len({(tuple(c["learning_rates"]), str(c["sizes"]), c["rows_seed"]) for c in cases}) > 6
    data = grading_data(ASSIGNMENT)
    for case in cases:
        rate, size = clear_winner(case)
        assert rate in tuning["strong_learning_rates"] and size in tuning["strong_sizes"]
        # the rows are what the failure message tells the student to rebuild them with
        rows = tuning_rows(case["rows_seed"], len(data.y_train), tuning["rows"])
        assert np.array_equal(case["X"], data.X_train.reshape(len(data.X_train), -1)[rows])
        assert np.array_equal(case["y"], data.y_train[rows]) and len(set(rows.tolist())) == tuning["rows"]


@pytest.mark.slow
def test_the_grader_drew_the_tuning_case_from_the_secret_and_the_file(builds, batch_results):
    """The message shows the case the submission met: the one drawn with its own salt, not the
    one the check's name alone gives (what a grader ignoring the course secret would draw)."""
    build = builds(ASSIGNMENT)
    path = build.student_dir.parent / "known_wrong" / "q5_keeps_the_worst.ipynb"
    check = load_suite(ASSIGNMENT).checks["tune_mlp_picks_the_clear_winner"]
    message = next(c.message for c in batch_results(ASSIGNMENT)["q5_keeps_the_worst"].cases if c.name == check.name)
    drawn = hidden_inputs(ASSIGNMENT, check, salt_of(build, path))
    unsalted = hidden_inputs(ASSIGNMENT, check)
    assert f"default_rng({drawn['rows_seed']})" in message, message
    if drawn["rows_seed"] != unsalted["rows_seed"]:
        assert f"default_rng({unsalted['rows_seed']})" not in message
