"""The whole path, through the grader: every hidden check runs on the solution, which also
scores full marks with the autograder zip under `otter run`, a partial submission loses points
where it should, grading is deterministic, and the gradebook, results, feedback and report say
so (the solutions' full marks in the batches: test_solutions; known-wrong submissions:
test_known_wrong)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from helpers import ASSIGNMENT, DETERMINISM_COPY, LEDGER_ATTACK, LEDGER_ROUND_TRIP, UNTOUCHED

from autograder.assignment import questions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(graded_batch):
    return graded_batch(ASSIGNMENT)


@pytest.fixture(scope="module")
def results(batch_results):
    return batch_results(ASSIGNMENT)


def question_points() -> dict[str, float]:
    return {q.name: q.points for q in questions(ASSIGNMENT) if not q.manual}


def test_every_hidden_check_ran_on_the_solution(results):
    from autograder.checks.suite import load_suite
    ran = {c.name for c in results[ASSIGNMENT].cases if c.hidden}
    assert ran == set(load_suite(ASSIGNMENT).checks)


def test_an_untouched_notebook_scores_zero_with_a_pointer_for_every_check(results):
    result = results[UNTOUCHED]
    assert result.status == "graded"
    assert result.score == 0
    failed = result.failed_cases()
    assert {c.name for c in failed if c.points > 0} == {c.name for c in result.cases if c.points > 0}
    for case in failed:
        assert case.message, case
        assert "raised returned" not in case.message, case
        if case.hidden and case.points > 0:
            assert any(hint in case.message for hint in ("placeholder", "not defined", "No credit",
                                                         "not been fitted", "make it")), case


def test_the_kernels_ledger_catches_a_leak_no_reading_of_the_code_can_see(results):
    """Candidates scored on a test set written to disk and read back: the static analysis sees no
    test data there (its blind spot), the ledger's row fingerprints do. Only q5_tuning is lost."""
    from autograder.checks.leakage import find_leaks
    assert find_leaks([LEDGER_ROUND_TRIP]) == []
    result, solution = results[LEDGER_ATTACK], results[ASSIGNMENT]
    assert result.question_scores["q5_tuning"] == 0
    assert result.score == solution.score - question_points()["q5_tuning"]
    gate = next(c for c in result.cases if c.name == "the_notebook_ran_no_test_leak")
    assert gate.message.startswith("while your notebook ran")
    assert "L1 multi-test: 3 different models" in gate.message
    assert "`final_mlp` (MLPClassifier)" in gate.message


def test_grading_twice_gives_the_same_score(results):
    first, again = results[DETERMINISM_COPY], results[f"{DETERMINISM_COPY}_again"]
    assert [(c.name, c.score, c.message) for c in first.cases] == \
           [(c.name, c.score, c.message) for c in again.cases]


def test_gradebook_has_one_row_per_submission_in_spec_columns(graded, results):
    with open(graded.out_dir / "gradebook.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = [q.name for q in questions(ASSIGNMENT)]
    assert list(rows[0]) == ["submission", "status", "total", "possible", *names]
    assert sorted(r["submission"] for r in rows) == sorted(results)
    solution = next(r for r in rows if r["submission"] == ASSIGNMENT)
    assert float(solution["total"]) == float(solution["possible"]) > 0
    assert solution["q6_reflection"] == "", "a manual question has no autograded score"


def test_results_json_follows_gradescope_schema_and_records_the_dataset(graded):
    data = json.loads((graded.out_dir / "results" / "q3_relu_forgotten.json").read_text())
    assert set(data) >= {"score", "tests", "output"}
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
    failed = [t for t in data["tests"] if t["score"] < t["max_score"]]
    assert failed
    assert all("ReLU" in t["output"] or "before ReLU" in t["output"] for t in failed)
    dataset = data["extra_data"]["dataset"]
    assert dataset["name"] == "digits"
    assert dataset["n_train"] + dataset["n_test"] == 1797
    assert "split" in dataset


def test_every_result_records_the_data_the_grading_child_judged_on(results, monkeypatch):
    """The child reports the summary of the data its judges loaded; the batch uses it rather
    than load the data again itself (a second of scikit-learn's import per command)."""
    from autograder.data import load_dataset
    from autograder.grade import records as grade_results
    from autograder.grade.intake import Submission
    from autograder.results import GradingOutcome
    digits = load_dataset("digits", verbose=False).summary()
    assert all(r.dataset == digits for r in results.values() if r.status == "graded")

    def must_not_load(name):
        raise AssertionError(f"the batch loaded {name} although the child reported its summary")
    monkeypatch.setattr(grade_results, "dataset_summary", must_not_load)
    reported = GradingOutcome(dataset={**digits, "n_train": 7})
    submission = Submission(path=Path("x.ipynb"), name="x")
    assert grade_results.from_grading(ASSIGNMENT, submission, reported, "digits").dataset["n_train"] == 7


def test_feedback_says_what_to_change(graded):
    text = (graded.out_dir / "feedback" / f"{DETERMINISM_COPY}.md").read_text()
    assert "## q3_trace: 6 / 8" in text
    assert "❌" in text
    assert "the ReLU is missing" in text
    assert "graded by a TA" in text  # the manual question is named, not silently dropped


def test_report_has_plots_and_lists_the_leak(graded):
    html = (graded.out_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2
    assert "q5_tunes_on_test_set" in html
    assert "test-set leak" in html
    assert "manual grading" in html


def test_the_zip_grades_the_solution_with_the_otter_run_command(built, tmp_path):
    """Exactly what a TA or Gradescope would run: Otter's own CLI and the zip, nothing of ours."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(built.autograder_zip),
                          "-o", str(tmp_path), str(built.solutions_notebook)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    tests = json.loads((tmp_path / "results.json").read_text())["tests"]
    scored = {t["name"]: (t["score"], t["max_score"]) for t in tests if t.get("max_score")}
    assert scored, scored
    assert all(score == maximum for score, maximum in scored.values()), scored
    assert sum(m for _, m in scored.values()) == sum(question_points().values())
