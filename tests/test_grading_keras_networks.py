"""keras_networks through the grader (the session's batch): the comparator's message for a model
without Flatten, and students' training cells never run during grading (the solutions' full
marks: test_solutions.py)."""

from __future__ import annotations

import pytest
from helpers import IGNORED_CELL_RAN, KERAS, SLOW_TRAINING_CELL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(batch_results):
    return batch_results(KERAS)


def test_missing_flatten_gets_the_parameter_counts_through_the_grader(results):
    result = results["q1_no_flatten"]
    message = {c.name: c.message for c in result.failed_cases()}["mlp_16x16_architecture"]
    assert "Flatten" in message
    assert "474" in message
    assert "13,002" in message
    assert result.question_scores["q1_keras_mlp"] < 5
    assert result.question_scores["q3_cnn"] == 5


def test_training_cells_tagged_otter_ignore_do_not_run(results):
    """The tagged cell raises as its first line: had grading run it, the student's notes would
    name it ("Cell N (`raise RuntimeError(…)`) raised RuntimeError: this otter_ignore cell ran")."""
    result = results[SLOW_TRAINING_CELL]
    assert result.status == "graded"
    assert not result.failed_cases()
    assert not [note for note in result.notes if IGNORED_CELL_RAN in note], result.notes
