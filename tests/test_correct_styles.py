"""Correct answers written another way than the solutions notebook keep full marks, graded by
the real grader in the session's batches (solutions/<assignment>/correct_styles.toml)."""

from __future__ import annotations

import pytest
from helpers import ASSIGNMENTS

from autograder.build.variants import correct_styles

CASES = [(assignment, style) for assignment in ASSIGNMENTS for style in correct_styles(assignment)]


def test_there_are_correct_styles_to_grade():
    assert CASES


@pytest.mark.slow
@pytest.mark.parametrize(("assignment", "style"), CASES, ids=[f"{a}/{s.name}" for a, s in CASES])
def test_a_correct_style_keeps_full_marks(assignment, style, batch_results):
    result = batch_results(assignment)[style.name]
    failed = {case.name: case.message for case in result.cases if not case.passed}
    assert (result.status, result.score, failed) == ("graded", result.possible, {}), style.style
