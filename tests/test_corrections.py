"""The TA's corrections (SPEC §8): manual_scores.csv and overrides.csv read strictly (every
problem named with its file and the line its row starts on), applied to the outputs and never to
the journal's results. No notebook is graded here: results are made as the grader makes them
(``SubmissionResult``) and written with the report's own writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import ASSIGNMENT

from autograder.report import write_outputs, write_submission_files
from autograder.report.corrections import (
    CORRECTED,
    MANUAL_CASE,
    Corrections,
    CorrectionsError,
    load_corrections,
    read_manual_scores,
    read_overrides,
)
from autograder.report.feedback import feedback_markdown, gradescope_results
from autograder.results import CaseResult, GradeRun, Status, SubmissionResult

KNOWN = {"alice", "bob"}
MANUAL = "q6_reflection"  # nn_foundations' manual question, 3 points
CHECK = "unroll_grayscale_batches"  # a q1_vectorize check, 2 points


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def result(name: str = "alice", passed: bool = False) -> SubmissionResult:
    """A graded nn_foundations result with two q1 checks (one failed unless ``passed``)."""
    cases = [CaseResult("q1_vectorize", "unrolled_length_counts_every_value", 1.0, 1.0, True, ""),
             CaseResult("q1_vectorize", CHECK, 2.0, 2.0 if passed else 0.0, True,
                        "" if passed else "unroll(images) gave the wrong shape", passed=passed)]
    score = sum(c.score for c in cases)
    return SubmissionResult(ASSIGNMENT, name, f"{name}.ipynb", Status.GRADED, score=score, possible=29.0,
                            question_scores={"q1_vectorize": score, MANUAL: None}, cases=cases)


# ---------------------------------------------------------------------------------------------
# Reading: every kind of problem, with its line

MANUAL_ERRORS = {
    "unknown submission": ("submission,question,points,comment\nalice,q6_reflection,2,ok\ncarol,q6_reflection,1,\n",
                           3, "unknown submission 'carol'"),
    "close name suggested": ("submission,question,points,comment\nalicee,q6_reflection,2,\n",
                             2, "did you mean 'alice'"),
    "unknown question": ("submission,question,points,comment\nalice,q9_essay,2,\n", 2, "unknown question 'q9_essay'"),
    "autograded question": ("submission,question,points,comment\nalice,q1_vectorize,2,\n",
                            2, "'q1_vectorize' is an autograded question"),
    "negative points": ("submission,question,points,comment\nbob,q6_reflection,-1,\n", 2, "points -1 is negative"),
    "points above the question's": ("submission,question,points,comment\nbob,q6_reflection,3.5,\n",
                                    2, "more than q6_reflection's 3"),
    "not a number": ("submission,question,points,comment\nbob,q6_reflection,two,\n", 2, "'two' is not a number"),
    "nan is not a number": ("submission,question,points,comment\nbob,q6_reflection,nan,\n", 2, "is not a number"),
    "duplicate": ("submission,question,points,comment\nbob,q6_reflection,1,\nalice,q6_reflection,,\n"
                  "bob,q6_reflection,2,\n", 4, "second row for 'q6_reflection' (also line 2)"),
    "wrong number of fields": ("submission,question,points,comment\nbob,q6_reflection,1,good,really\n",
                               2, "has 5 fields where the header has 4"),
    "missing column": ("submission,question,comment\nbob,q6_reflection,good\n", 1, "has no column 'points'"),
    "line of the row's start": ('submission,question,points,comment\nalice,q6_reflection,1,"one\ntwo\nthree"\n'
                                "bob,q6_reflection,9,\n", 5, "more than"),
    "bad quoting": ('submission,question,points,comment\nalice,q6_reflection,1,"open"x\n', 2, "is not valid CSV"),
}


@pytest.mark.parametrize("case", MANUAL_ERRORS, ids=list(MANUAL_ERRORS))
def test_a_bad_manual_scores_row_names_its_file_and_line(case, tmp_path):
    text, line, message = MANUAL_ERRORS[case]
    path = write(tmp_path / "manual_scores.csv", text)
    with pytest.raises(CorrectionsError) as caught:
        read_manual_scores(path, ASSIGNMENT, KNOWN)
    assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
    assert message in str(caught.value)
    assert caught.value.line == line


OVERRIDE_ERRORS = {
    "unknown submission": ("submission,check,points,reason\nzed,unroll_grayscale_batches,2,ok\n", 2,
                           "unknown submission 'zed'"),
    "unknown check": ("submission,check,points,reason\nalice,unroll_grayscale_batchez,2,ok\n", 2,
                      "unknown check 'unroll_grayscale_batchez' (did you mean 'unroll_grayscale_batches'?)"),
    "manual question": ("submission,check,points,reason\nalice,q6_reflection,2,ok\n", 2, "is a manual question"),
    "above the check's points": ("submission,check,points,reason\nalice,unroll_grayscale_batches,3,ok\n", 2,
                                 "more than check unroll_grayscale_batches's 2"),
    "negative": ("submission,check,points,reason\nalice,unroll_grayscale_batches,-0.5,ok\n", 2, "is negative"),
    "empty points": ("submission,check,points,reason\nalice,unroll_grayscale_batches,,ok\n", 2, "points is empty"),
    "empty reason": ("submission,check,points,reason\nalice,unroll_grayscale_batches,2,\n", 2, "reason is empty"),
    "duplicate by another name": ("submission,check,points,reason\nalice,unroll_grayscale_batches,2,a\n"
                                  "alice,test_unroll_grayscale_batches,1,b\n", 3, "also line 2"),
    "missing column": ("submission,check,points\nalice,unroll_grayscale_batches,2\n", 1, "has no column 'reason'"),
    "too few fields": ("submission,check,points,reason\nalice,unroll_grayscale_batches,2\n", 2,
                       "has 3 fields where the header has 4"),
    "column twice": ("submission,check,points,reason,points\n", 1, "column 'points' appears twice"),
}


@pytest.mark.parametrize("case", OVERRIDE_ERRORS, ids=list(OVERRIDE_ERRORS))
def test_a_bad_override_row_names_its_file_and_line(case, tmp_path):
    text, line, message = OVERRIDE_ERRORS[case]
    path = write(tmp_path / "overrides.csv", text)
    with pytest.raises(CorrectionsError) as caught:
        read_overrides(path, ASSIGNMENT, KNOWN)
    assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
    assert message in str(caught.value)


def test_bytes_that_are_not_utf8_name_their_line(tmp_path):
    path = write(tmp_path / "manual_scores.csv",
                 b"submission,question,points,comment\nalice,q6_reflection,2,tr\xe8s bien\n")
    with pytest.raises(CorrectionsError, match=r"manual_scores\.csv:2: is not UTF-8"):
        read_manual_scores(path, ASSIGNMENT, KNOWN)


def test_good_files_are_read_as_typed_rows(tmp_path):
    write(tmp_path / "manual_scores.csv", "\ufeffsubmission;question;points;comment\n"
          "alice;q6_reflection;2,5;Clear, but too short.\n\nbob;q6_reflection;;\n")
    write(tmp_path / "overrides.csv", "submission,check,points,reason,grader\n"
          'bob,test_unroll_grayscale_batches,2,"Right, the judge was wrong.",kim\n')
    corrections = load_corrections(ASSIGNMENT, tmp_path, KNOWN)
    alice, bob = corrections.manual
    assert (alice.submission, alice.question, alice.points, alice.comment, alice.line) == (
        "alice", MANUAL, 2.5, "Clear, but too short.", 2)
    assert (bob.points, bob.line) == (None, 4)  # empty points: not scored yet
    (override,) = corrections.overrides
    assert (override.submission, override.check.name, override.check.question, override.points, override.line) == (
        "bob", CHECK, "q1_vectorize", 2.0, 2)
    assert corrections.scores_for("bob") == []
    assert [s.submission for s in corrections.scores_for("alice")] == ["alice"]


def test_no_files_and_empty_files_are_no_corrections(tmp_path):
    assert not load_corrections(ASSIGNMENT, tmp_path, KNOWN)
    write(tmp_path / "overrides.csv", "")
    write(tmp_path / "manual_scores.csv", "submission,question,points,comment\n")
    assert not load_corrections(ASSIGNMENT, tmp_path, KNOWN)


# ---------------------------------------------------------------------------------------------
# Applying

def corrections_for(tmp_path: Path, manual: str = "", overrides: str = "") -> Corrections:
    write(tmp_path / "manual_scores.csv", "submission,question,points,comment\n" + manual)
    write(tmp_path / "overrides.csv", "submission,check,points,reason\n" + overrides)
    return load_corrections(ASSIGNMENT, tmp_path, KNOWN)


def test_a_manual_score_is_a_test_of_its_own_and_counts_in_the_totals(tmp_path):
    corrections = corrections_for(tmp_path, manual="alice,q6_reflection,2,Good; name the test set's role.\n")
    original = result()
    corrected = corrections.apply(original)
    assert (corrected.score, corrected.possible, corrected.question_scores[MANUAL]) == (3.0, 32.0, 2.0)
    assert (original.score, original.possible, original.question_scores[MANUAL]) == (1.0, 29.0, None)
    assert len(original.cases) == 2  # the journal's result is not changed
    test = gradescope_results(corrected)["tests"][-1]
    assert (test["name"], test["score"], test["max_score"], test["output"]) == (
        f"{MANUAL} · {MANUAL_CASE}", 2.0, 3.0, "Good; name the test set's role.")
    feedback = feedback_markdown(corrected)
    assert f"## {MANUAL}: 2 / 3 (graded by a TA)\n\n> Good; name the test set's role." in feedback
    assert "**Score: 3 / 32** (autograded part and q6_reflection, graded by a TA)" in feedback


def test_an_unscored_manual_row_leaves_the_result_as_it_is(tmp_path):
    corrections = corrections_for(tmp_path, manual="alice,q6_reflection,,Still reading.\n")
    assert corrections.apply(result()) == result()
    assert f"## {MANUAL}: graded by a TA (3 points)" in feedback_markdown(corrections.apply(result()))


def test_an_override_replaces_the_checks_points_and_the_feedback_shows_the_reason(tmp_path):
    corrections = corrections_for(tmp_path, overrides="alice,unroll_grayscale_batches,2,Your reshape is right.\n")
    corrected = corrections.apply(result())
    case = next(c for c in corrected.cases if c.name == CHECK)
    assert (case.score, case.passed, corrected.score, corrected.question_scores["q1_vectorize"]) == (2.0, True, 3.0, 3.0)
    assert case.message.startswith(f"{CORRECTED} (the autograder gave 0/2): Your reshape is right.")
    feedback = feedback_markdown(corrected)
    assert f"- ✅ `{CHECK}` (2/2)\n  {CORRECTED} (the autograder gave 0/2): Your reshape is right." in feedback
    assert "unroll(images) gave the wrong shape" in feedback  # the autograder's message, for context
    test = next(t for t in gradescope_results(corrected)["tests"] if t["name"].endswith(CHECK))
    assert (test["score"], test["status"]) == (2.0, "passed")
    assert "Your reshape is right." in test["output"]
    assert corrections.apply(result("bob")) == result("bob")  # another submission: nothing


def test_an_override_can_take_points_away_and_add_a_check_the_grader_did_not_reach(tmp_path):
    corrections = corrections_for(tmp_path, overrides="alice,unroll_grayscale_batches,0,Hard-coded answer.\n"
                                  "alice,hyperparameters_are_chosen_settings,1,Checked by hand.\n")
    corrected = corrections.apply(result(passed=True))
    assert next(c for c in corrected.cases if c.name == CHECK).passed is False
    added = next(c for c in corrected.cases if c.name == "hyperparameters_are_chosen_settings")
    assert (added.question, added.score, added.points) == ("q2_hyperparameters", 1.0, 1.0)
    assert corrected.question_scores["q2_hyperparameters"] == 1.0
    assert corrected.score == 2.0


def test_the_outputs_follow_the_corrections_and_go_back_when_a_row_is_removed(tmp_path):
    out = tmp_path / "out"
    run = GradeRun(ASSIGNMENT, out, results=[result("alice"), result("bob")])
    for each in run.results:  # as the batch writes them while grading
        write_submission_files(out, each)
    write_outputs(run)
    automatic = {path.relative_to(out): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}

    corrections = corrections_for(tmp_path, manual="alice,q6_reflection,3,Excellent.\n",
                                  overrides="bob,unroll_grayscale_batches,1,Half right.\n")
    write_outputs(run, corrections)
    gradebook = (out / "gradebook.csv").read_text().splitlines()
    assert gradebook[1].startswith("alice,graded,4.0,32.0,1.0,")
    assert gradebook[1].endswith(",3.0")
    assert gradebook[2].startswith("bob,graded,2.0,29.0,2.0,")
    assert gradebook[2].endswith(",")
    assert json.loads((out / "results" / "alice.json").read_text())["score"] == 4.0
    assert "Half right." in (out / "feedback" / "bob.md").read_text()
    assert "Excellent." in (out / "feedback" / "alice.md").read_text()
    assert [r.score for r in run.results] == [1.0, 1.0]  # the run's (the journal's) results unchanged

    write_outputs(run, Corrections())  # both rows removed: the automatic scores again
    again = {path.relative_to(out): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}
    assert again == automatic


def test_the_report_asks_for_manual_scores_only_where_none_is_given_yet(tmp_path):
    """The needs-a-human row counts the submissions still waiting for a TA, and goes once every
    graded one has a score; the score chart's range takes the manual points in."""
    from autograder.report.html import _most_possible, needs_a_human
    corrections = corrections_for(tmp_path, manual="alice,q6_reflection,2,\n")
    results = [corrections.apply(result("alice")), corrections.apply(result("bob"))]
    rows = [row for row in needs_a_human(ASSIGNMENT, results) if row["why"] == "manual grading"]
    assert [row["submission"] for row in rows] == ["1 of 2 submissions"]
    assert _most_possible(results) == 32.0
    both = corrections_for(tmp_path, manual="alice,q6_reflection,2,\nbob,q6_reflection,3,\n")
    scored = [both.apply(result("alice")), both.apply(result("bob"))]
    assert not [row for row in needs_a_human(ASSIGNMENT, scored) if row["why"] == "manual grading"]
