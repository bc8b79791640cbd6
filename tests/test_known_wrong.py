"""Each known-wrong submission loses points on the question it breaks, and only there, with
feedback that says what to change: every one graded once by the real grader, in the
session's batch of its assignment (see conftest)."""

from __future__ import annotations

import pytest
from helpers import ASSIGNMENTS

from autograder.assignment import questions
from autograder.build.variants import known_wrong

CASES = [(a, v) for a in ASSIGNMENTS for v in known_wrong(a)]
IDS = [f"{a}/{v.name}" for a, v in CASES]
VAGUE_MESSAGES = ("assertion failed", "AssertionError", "Test case failed", "Traceback")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_there_is_a_known_wrong_submission_for_every_autograded_question(assignment):
    covered = {variant.question for variant in known_wrong(assignment)}
    assert covered == {q.name for q in questions(assignment) if not q.manual}


@pytest.mark.parametrize(("assignment", "variant"), CASES, ids=IDS)
def test_known_wrong_loses_points_only_on_its_question(assignment, variant, variant_scores):
    scores = variant_scores(assignment, variant.name)
    lost = {question for question, earned, message in scores.values() if message}
    assert lost == {variant.question}, (
        f"{variant.mistake}: expected to lose points on {variant.question} only, lost on {sorted(lost)}")


@pytest.mark.parametrize(("assignment", "variant"), CASES, ids=IDS)
def test_known_wrong_fails_the_expected_checks_with_actionable_feedback(assignment, variant, variant_scores):
    failing = {name: message for name, (_, _, message) in variant_scores(assignment, variant.name).items()
               if message}
    missing = sorted(set(variant.failing) - set(failing))
    assert not missing, f"{variant.mistake}: these checks should fail but passed: {missing}"
    messages = "\n".join(failing.values())
    assert variant.message in messages, f"feedback lacks {variant.message!r}:\n{messages}"
    for name, message in failing.items():
        assert len(message) > 40, f"{name}: feedback is not actionable: {message!r}"
        assert not any(v in message for v in VAGUE_MESSAGES), f"{name}: feedback is not actionable: {message!r}"
