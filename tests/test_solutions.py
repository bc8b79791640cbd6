"""Each assignment's reference solutions: every hidden check passes on them in-process, and the
real grader gives them full marks in the session's batch of their assignment.

What only one assignment has stays in its own files (test_checks_<assignment>.py for the
judges' edge cases, test_grading_<assignment>.py for the whole path through the grader).
"""

from __future__ import annotations

import pytest
from helpers import ASSIGNMENTS

from autograder.assignment import questions
from autograder.checks import run_check
from autograder.checks.suite import load_suite
from autograder.checks.training_store import TRAINING_STORE_ENV_VAR

CHECKS = [(assignment, check) for assignment in ASSIGNMENTS for check in sorted(load_suite(assignment).checks)]


@pytest.mark.parametrize(("assignment", "check"), CHECKS, ids=[f"{a}/{c}" for a, c in CHECKS])
def test_the_solution_passes_every_hidden_check_in_process(assignment, check, solution_envs, builds,
                                                           reference_trainings, monkeypatch):
    monkeypatch.chdir(builds(assignment).solutions_notebook.parent)  # checks read the notebook there, as graded
    # the build's reference trainings, as the grader reads them from the zip
    monkeypatch.setenv(TRAINING_STORE_ENV_VAR, str(reference_trainings(assignment)))
    run_check(solution_envs(assignment), assignment, check)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_solution_scores_full_marks_through_the_grader(assignment, batch_results):
    solution = batch_results(assignment)[assignment]
    assert solution.status == "graded", solution.message
    failed = [f"{c.question}/{c.name}: {c.message}" for c in solution.failed_cases()]
    assert not failed, "the reference solution failed checks:\n" + "\n".join(failed)
    assert solution.score == solution.possible == sum(q.points for q in questions(assignment) if not q.manual)
