"""keras_networks through otter: full marks for the solutions, the comparator's message for a
model without Flatten, and students' training cells never run during grading."""

from __future__ import annotations

import pytest
from conftest import IGNORED_CELL_RAN, KERAS, SLOW_TRAINING_CELL

from autograder.assignment import questions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(batch_results):
    return batch_results(KERAS)


def test_solution_scores_full_marks(results):
    solution = results[KERAS]
    assert solution.status == "graded", solution.message
    assert not solution.failed_cases(), [(c.name, c.message) for c in solution.failed_cases()]
    assert solution.score == sum(q.points for q in questions(KERAS) if not q.manual)


def test_missing_flatten_gets_the_parameter_counts_through_otter(results):
    result = results["q1_no_flatten"]
    message = {c.name: c.message for c in result.failed_cases()}["mlp_16x16_architecture"]
    assert "Flatten" in message and "474" in message and "13,002" in message
    assert result.question_scores["q1_keras_mlp"] < 5 and result.question_scores["q3_cnn"] == 5


def test_training_cells_tagged_otter_ignore_do_not_run(results):
    """The tagged cell raises as its first line: had grading run it, the student's notes would
    name it ("Cell N (`raise RuntimeError(…)`) raised RuntimeError: this otter_ignore cell ran")."""
    result = results[SLOW_TRAINING_CELL]
    assert result.status == "graded" and not result.failed_cases()
    assert not [note for note in result.notes if IGNORED_CELL_RAN in note], result.notes
