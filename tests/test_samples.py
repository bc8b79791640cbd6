"""The bundled sample submissions (submissions/<assignment>/) grade as their expected.csv says.

They are graded in the session's batch of each assignment (conftest ``graded_batch``, runner auto),
the same way `bash scripts/main.sh` grades them.
"""

from __future__ import annotations

import csv

import pytest
from helpers import ASSIGNMENT, ASSIGNMENTS, AUDIT_HOOK, KERAS, PATCHES_COUNT_PARAMS, SAMPLES_DIR

pytestmark = pytest.mark.slow


def expected(assignment: str) -> dict[str, tuple[str, float]]:
    with open(SAMPLES_DIR / assignment / "expected.csv", newline="") as stream:
        return {row["submission"]: (row["status"], float(row["total"])) for row in csv.DictReader(stream)}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_sample_has_an_expected_row_and_the_kinds_a_ta_meets(assignment):
    names = {path.stem for path in (SAMPLES_DIR / assignment).glob("*.ipynb")}
    assert names == set(expected(assignment))
    assert {"full_marks", "partial", "crashes", "broken_file", "runaway_loop"} <= names


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_samples_grade_to_their_expected_status_and_total(assignment, batch_results):
    results = batch_results(assignment)
    got = {name: (results[name].status, results[name].score) for name in expected(assignment)}
    assert got == expected(assignment)
    full = results["full_marks"]
    assert full.score == full.possible
    assert 0 < results["partial"].score < full.possible


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_broken_file_is_invalid_with_a_reason(assignment, batch_results):
    broken = batch_results(assignment)["broken_file"]
    assert broken.status == "invalid", broken.message
    assert "notebook" in broken.message.lower(), broken.message


def test_the_leaking_sample_loses_the_tuning_question_for_the_leak(batch_results):
    leaking = batch_results(ASSIGNMENT)["leaks_test_set"]
    assert leaking.question_scores["q5_tuning"] == 0
    assert any("leaked into tuning" in case.message for case in leaking.failed_cases())


def test_patching_keras_count_params_keeps_the_honest_score(batch_results):
    """The judge counts parameters from the model's config it rebuilt, never by asking the
    student's Keras, so a patched count_params changes nothing (issue 5's corpus)."""
    results = batch_results(KERAS)
    patched, honest = results[PATCHES_COUNT_PARAMS], results["partial"]
    assert (patched.status, patched.score) == ("graded", honest.score) == ("graded", expected(KERAS)["partial"][1])


def test_correct_code_lent_from_an_audit_hook_keeps_only_the_honest_score(batch_results):
    """The kernel refuses audit hooks from before the student's first cell; the judge finds the
    install in the file (issue 21's corpus, keras_networks: 26 against 12 before)."""
    results = batch_results(KERAS)
    hooked, honest = results[AUDIT_HOOK], results["partial"]
    assert (hooked.status, hooked.score) == ("graded", honest.score)
    assert any("sys.addaudithook" in item and item.startswith("cell ") for item in hooked.hooks), hooked.hooks
    assert any("refused" in item for item in hooked.hooks), hooked.hooks
