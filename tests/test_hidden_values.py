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
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import ASSIGNMENT, ASSIGNMENTS, COURSE_SECRET_FILE, KERAS

from autograder.build.variants import known_wrong
from autograder.checks.judging import count, number_text, shape_text
from autograder.checks.suite import Check, check_seed, hidden_inputs, load_suite, submission_salt
from autograder.grade.intake import read_submitted_notebook


def _numbers(*values: float) -> list[str]:
    texts = []
    for value in values:
        texts += [count(value), str(int(value))] if float(value).is_integer() else [number_text(value)]
    return texts


def value_texts(value: Any) -> list[str]:
    """An expected value as a message would print it: numbers as counts or values, arrays as
    their shape and their first values, a dict of settings also as ``key=value`` pairs (how a
    tuning choice is spelled). Other objects (a model summary) print nothing searchable."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, np.integer, float, np.floating)):
        return _numbers(float(value))
    if isinstance(value, np.ndarray):
        return [shape_text(value.shape)] + [number_text(v) for v in value.ravel()[:40] if abs(v) > 1e-3]
    if isinstance(value, dict):
        texts = [text for item in value.values() for text in value_texts(item)]
        if all(isinstance(item, (int, float, str, tuple)) for item in value.values()):
            texts.append(", ".join(f"{key}={item}" for key, item in value.items()))
        return texts
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in value_texts(item)]
    return []


def drawn(assignment: str, check: Check) -> bool:
    from autograder.checks.channel import encode
    return encode(hidden_inputs(assignment, check, b"a")) != encode(hidden_inputs(assignment, check, b"b"))


def hidden_expected_texts(assignment: str, check: Check, inputs: Any) -> list[str]:
    """What the check's own oracle expects on these inputs, as text, less what is not hidden:
    for drawn cases, the values every draw has (the fixed cases, shown in the prompt)."""
    texts = value_texts(check.expected_for(inputs))
    if drawn(assignment, check):
        fixed = set(value_texts(check.expected_for(hidden_inputs(assignment, check, b"another draw"))))
        texts = [text for text in texts if text not in fixed]
    return texts


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
    """``text`` as a whole number or value in ``message`` (not a part of a longer one: not the
    digits after a decimal point or a thousands separator, as the 960 of "12,960")."""
    return re.search(rf"(?<![\w.])(?<!\d,){re.escape(text)}(?![\w]|[.,]\d)", message) is not None


@pytest.mark.parametrize(("text", "message", "found"), [
    ("960", "returned 12,960, but a fitted MLPClassifier has 13,002", False),  # a group of a longer count
    ("960", "a fitted MLPClassifier of that shape has 960 learned values", True),
    ("13,002", "a fitted MLPClassifier of that shape has 13,002 learned values.", True),
    ("0.25", "differs by 0.25, more than 0.001", True),
    ("25", "differs by 0.25", False),
    ("12", "returned 12,960", False),
])
def test_the_search_finds_whole_values_only(text, message, found):
    """Found by the suite: a student's own count, 12,960, was taken to quote a hidden 960 (the
    course secret is drawn per session, so a run met it only when a drawn case expected 960)."""
    assert quoted(text, message) is found


def without_the_students_output(message: str) -> str:
    """The message less the shapes it says the student's code returned: those are the
    student's own values. Found by the suite: a student's (5, 1, 3) for a case expecting
    (5, 3, 1) was taken to quote another drawn case of the same check, which expected (5, 1, 3)."""
    return re.sub(r"returned shape \([\d, ]*\)", "returned shape", message)


@pytest.mark.parametrize(("message", "found"), [
    ("conv_kernels(model) with a model … returned shape (5, 1, 3), the right sizes in another order", False),
    ("conv_kernels(model) should return shape (5, 1, 3)", True),  # the grader's value: still found
])
def test_a_shape_the_students_code_returned_is_not_searched(message, found):
    assert quoted("(5, 1, 3)", without_the_students_output(message)) is found


def hidden_values_quoted(assignment: str, result, salt: bytes) -> list[str]:
    suite = load_suite(assignment)
    found = []
    for case in result.cases:
        check = suite.checks.get(case.name)
        if not case.message or check is None or check.expected is None:
            continue
        inputs = hidden_inputs(assignment, check, salt)
        shown = inputs_text(inputs)
        found += [f"{case.name}: {text!r} in {case.message!r}"
                  for text in hidden_expected_texts(assignment, check, inputs)
                  if text not in shown and quoted(text, without_the_students_output(case.message))]
    return found


def salt_of(build, path: Path) -> bytes:
    secret = bytes.fromhex((build.student_dir.parent.parent / COURSE_SECRET_FILE).read_text().strip())
    return submission_salt(secret, read_submitted_notebook(path))


@pytest.mark.parametrize("assignment", [ASSIGNMENT, KERAS])
def test_every_check_with_drawn_inputs_declares_its_oracle(assignment):
    """A check whose inputs are drawn per submission must declare what it expects (its
    ``expected=``), so that its messages are searched for it."""
    checks = load_suite(assignment).checks.values()
    drawn_checks = [check for check in checks if drawn(assignment, check)]
    assert drawn_checks
    assert not [check.name for check in drawn_checks if check.expected is None]
    # and each such oracle gives something to search for on a drawn case
    assert not [check.name for check in drawn_checks
                if not hidden_expected_texts(assignment, check, hidden_inputs(assignment, check, b"a"))]


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
    expected = count(check.expected_for(inputs)[1])
    old_style = (f"mlp_param_count({case['n_inputs']}, {tuple(case['hidden_layer_sizes'])}, "
                 f"{case['n_outputs']}) returned 3, but a fitted MLPClassifier of that shape has "
                 f"{expected} learned values.")
    fake = type("Result", (), {"cases": [type("Case", (), {"name": check.name, "message": old_style})]})
    assert hidden_values_quoted(ASSIGNMENT, fake, b"some salt")


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_known_wrong_feedback_quotes_a_hidden_expected_value(assignment, builds, batch_results):
    results = batch_results(assignment)
    build = builds(assignment)
    suite = load_suite(assignment)
    searched, found = 0, []
    for variant in known_wrong(assignment):
        path = build.student_dir.parent / "known_wrong" / f"{variant.name}.ipynb"
        result = results[variant.name]
        searched += sum(1 for case in result.cases
                        if case.message and suite.checks.get(case.name) and suite.checks[case.name].expected)
        found += [f"{variant.name}: {hit}" for hit in hidden_values_quoted(assignment, result, salt_of(build, path))]
    assert searched > 0, "no message of a check with hidden cases was searched"
    assert not found, "\n".join(found)


def test_the_zip_carries_the_course_secret_and_the_student_folder_does_not(built):
    import zipfile

    from autograder.bundle import COURSE_SECRET_MEMBER
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
    draw = lambda salt: hidden_inputs(ASSIGNMENT, check, salt)["cases"]
    assert draw(first) == draw(again)
    assert draw(first) != draw(changed)
    assert draw(first) != draw(other_course)
    assert draw(first)[0] == draw(changed)[0], "the public case stays"
    assert check_seed(ASSIGNMENT, check.name) == check_seed(ASSIGNMENT, check.name, b"")


def test_the_tuning_case_is_drawn_per_submission_with_a_clear_winner_in_it():
    from autograder.checks.judging import grading_data
    from autograder.checks.nn_foundations.judges import clear_winner, tuning_rows
    from autograder.config import config
    check = load_suite(ASSIGNMENT).checks["tune_mlp_picks_the_clear_winner"]
    tuning = config(ASSIGNMENT).tuning
    cases = [hidden_inputs(ASSIGNMENT, check, bytes([n]) * 32) for n in range(12)]
    assert len({(tuple(c["learning_rates"]), str(c["sizes"]), c["rows_seed"]) for c in cases}) > 6
    data = grading_data(ASSIGNMENT)
    for case in cases:
        rate, size = clear_winner(case)
        assert rate in tuning.strong_learning_rates
        assert size in tuning.strong_sizes
        # the rows are what the failure message tells the student to rebuild them with
        rows = tuning_rows(case["rows_seed"], len(data.y_train), tuning.rows)
        assert np.array_equal(case["X"], data.X_train.reshape(len(data.X_train), -1)[rows])
        assert np.array_equal(case["y"], data.y_train[rows])
        assert len(set(rows.tolist())) == tuning.rows


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
