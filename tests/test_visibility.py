"""grading.toml's [visibility] (SPEC §8): per question or check, `visible`, `hidden`,
`after_due_date` or `after_published`, written into each test of the results (Gradescope's
schema, by `autograder grade` and by the zip on Gradescope alike) and respected by the feedback
files: a hidden check is left out of them, with the question's total and the score (which would
tell its result). A typo, a wrong value or a name that is no question or check is an error
naming the file and the entry. Built from synthetic results: nothing is graded here."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from helpers import ASSIGNMENT

from autograder.assignment import manifest
from autograder.config import (
    ASSIGNMENTS_DIR_ENV_VAR,
    ConfigError,
    assignment_config,
    clear_cache,
    config,
    config_overrides,
)
from autograder.grade.records import submission_result
from autograder.report import submission_files, write_submission_files
from autograder.report.feedback import feedback_markdown, gradescope_results
from autograder.results import CaseResult, GradingOutcome, SubmissionResult

FAILING = {"unroll_single_image", "forward_accepts_a_single_example", "tune_mlp_returns_a_choice"}
VISIBILITY = {
    "q1_vectorize": "hidden",                       # a question: all its checks…
    "unroll_colour_batches": "visible",             # …but this one, whose own entry wins
    "forward_accepts_a_single_example": "hidden",   # one check of a question
    "mlp_16x16_architecture": "after_due_date",
    "q5_tuning": "after_published",
}


def graded(failing: set[str] = FAILING, name: str = "alice") -> SubmissionResult:
    """A graded nn_foundations submission: every hidden check, those in ``failing`` failed."""
    cases = [CaseResult(question, check, points, 0.0 if check in failing else points, True,
                        f"`{check}` gave None, not an array." if check in failing else "", passed=check not in failing)
             for question, check, points in manifest(ASSIGNMENT).hidden_checks()]
    return submission_result(ASSIGNMENT, name, f"{name}.ipynb", GradingOutcome(cases=cases),
                             asked=manifest(ASSIGNMENT).questions)


@pytest.fixture
def visibility(monkeypatch):
    """nn_foundations graded with VISIBILITY in its grading.toml."""
    monkeypatch.setitem(config_overrides, ASSIGNMENT, config(ASSIGNMENT).with_values("visibility", **VISIBILITY))
    return VISIBILITY


def test_visibility_of_a_check_is_its_own_else_its_questions_else_visible(visibility):
    settings = config(ASSIGNMENT)
    assert settings.visibility_of("q1_vectorize", "unroll_single_image") == "hidden"
    assert settings.visibility_of("q1_vectorize", "unroll_colour_batches") == "visible"
    assert settings.visibility_of("q3_trace", "forward_accepts_a_single_example") == "hidden"
    assert settings.visibility_of("q3_trace", "hand_trace_output") == "visible"
    assert settings.visibility_of("q5_tuning", "tune_mlp_returns_a_choice") == "after_published"


# --- validation: the file and the entry named -----------------------------------------------------

def load(tmp_path, monkeypatch, name: str, visibility: str) -> dict:
    """The toy's grading.toml with ``visibility`` after it (before it, a top-level key)."""
    toy = (Path(__file__).parent / "fixtures" / "toy" / "grading.toml").read_text()
    text = toy + visibility if visibility.lstrip().startswith("[") else visibility + toy
    (tmp_path / name).mkdir()
    (tmp_path / name / "grading.toml").write_text(text)
    monkeypatch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(tmp_path))
    return assignment_config(name)


@pytest.mark.parametrize(("name", "section", "says"), [
    ("vis_value", '\n[visibility]\nq1 = "hiden"\n',
     "[visibility] q1 = 'hiden' must be one of 'visible', 'hidden', 'after_due_date', 'after_published'"),
    ("vis_type", "\n[visibility]\nq1 = true\n", "[visibility] q1 = True must be one of"),
    ("vis_section_typo", '\n[visibilty]\nq1 = "hidden"\n', "unknown section [visibilty]; known sections: "),
    ("vis_scalar", 'visibility = "hidden"\n', "`visibility` must be a section ([visibility]), not a single value"),
    ("vis_dotted", '\n[visibility]\nq1.check = "hidden"\n', "[visibility] q1 = {'check': 'hidden'} must be one of"),
])
def test_a_wrong_value_or_a_typo_is_an_error_naming_the_file_and_the_key(tmp_path, monkeypatch, name, section, says):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, monkeypatch, name, section)
    assert says in str(caught.value)
    assert str(tmp_path / name / "grading.toml") in str(caught.value)


def test_the_section_reads_as_a_table_of_names(tmp_path, monkeypatch):
    load(tmp_path, monkeypatch, "vis_valid", '\n[visibility]\nq1 = "after_due_date"\nsome_check = "hidden"\n')
    assert config("vis_valid").visibility == {"q1": "after_due_date", "some_check": "hidden"}
    assert config("vis_valid").has("visibility")


@pytest.mark.parametrize(("entry", "hint"), [
    ("q1_vectorise", "(did you mean `q1_vectorize`?)"),
    ("unrol_single_image", "(did you mean `unroll_single_image`?)"),
    ("q9", ""),
])
def test_a_name_that_is_no_question_or_check_is_an_error_naming_it(monkeypatch, entry, hint):
    monkeypatch.setitem(config_overrides, ASSIGNMENT, config(ASSIGNMENT).with_values("visibility", **{entry: "hidden"}))
    with pytest.raises(ConfigError) as caught:
        manifest(ASSIGNMENT).refuse_unknown_visibility()
    message = str(caught.value)
    assert message.startswith(f"{config(ASSIGNMENT).path}: [visibility] {entry} names no question or check of "
                              f"{ASSIGNMENT}")
    assert hint in message
    assert "its questions: q1_vectorize, q2_hyperparameters" in message


def test_the_build_and_the_batch_refuse_an_unknown_name_before_any_work(monkeypatch, tmp_path):
    from autograder.assignment import master_path
    from autograder.batch import GradingSetupError, grade_submissions
    from autograder.build import BuildError, build_assignment, refuse_unknown_visibility
    monkeypatch.setitem(config_overrides, ASSIGNMENT, config(ASSIGNMENT).with_values("visibility", q7="hidden"))
    with pytest.raises(BuildError, match=r"\[visibility\] q7 names no question or check"):
        refuse_unknown_visibility(master_path(ASSIGNMENT))
    with pytest.raises(BuildError, match=r"\[visibility\] q7"):  # first: before Otter Assign runs
        build_assignment(ASSIGNMENT, tmp_path / "dist", verify=False)
    assert not (tmp_path / "dist").exists()
    fake_zip = tmp_path / "dist" / ASSIGNMENT / "autograder" / f"{ASSIGNMENT}-autograder.zip"
    fake_zip.parent.mkdir(parents=True)
    fake_zip.write_bytes(b"")
    with pytest.raises(GradingSetupError, match=r"\[visibility\] q7 names no question or check"):
        grade_submissions(ASSIGNMENT, [tmp_path], tmp_path / "graded", dist=tmp_path / "dist")
    assert not (tmp_path / "graded").exists()


def test_the_assignments_name_only_their_questions_and_checks():
    for assignment in ("nn_foundations", "keras_networks", "training_diagnostics"):
        manifest(assignment).refuse_unknown_visibility()


def test_the_otter_runners_names_are_checks_too():
    """The otter runner names a case by its test function (``test_`` dropped)."""
    names = manifest(ASSIGNMENT).check_names()
    assert {check for _, check, _ in manifest(ASSIGNMENT).hidden_checks()} <= names
    assert {case.function.removeprefix("test_") for q in manifest(ASSIGNMENT).questions for case in q.cases} <= names


# --- the results: each test's visibility ----------------------------------------------------------

def expected_visibility(question: str, check: str) -> str:
    return VISIBILITY.get(check) or VISIBILITY.get(question) or "visible"


def test_each_test_of_the_results_has_its_checks_visibility(visibility, tmp_path):
    result = graded()
    write_submission_files(tmp_path, result)
    written = json.loads(submission_files(tmp_path, result)[0].read_text())
    assert written == json.loads(json.dumps(gradescope_results(result)))
    seen = {test["name"]: test["visibility"] for test in written["tests"]}
    assert seen == {f"{c.question} · {c.name}": expected_visibility(c.question, c.name)
                    for c in result.cases if c.points > 0 or not c.passed}  # as ever, no passed 0-point gate
    assert seen["q1_vectorize · unroll_single_image"] == "hidden"
    assert seen["q1_vectorize · unroll_colour_batches"] == "visible"
    assert seen["q4_mlp · mlp_16x16_architecture"] == "after_due_date"
    assert seen["q5_tuning · final_mlp_uses_the_chosen_settings"] == "after_published"
    assert seen["q2_hyperparameters · parameters_are_learned_values"] == "visible"


def test_without_visibility_every_test_is_visible():
    assert not config(ASSIGNMENT).visibility.keys() - {"q1_vectorize"}  # the file's one entry: visible
    assert {test["visibility"] for test in gradescope_results(graded())["tests"]} == {"visible"}


def test_the_zip_on_gradescope_writes_the_visibility_of_its_own_grading_toml(tmp_path, monkeypatch):
    """autograder.gradescope.run, in a simulated /autograder: the results file carries the
    visibility of the grading.toml the zip ships (its package reads it), not of the course's."""
    import autograder.grade.runners.split as split
    import autograder.gradescope as gradescope
    from autograder.bundle import ASSIGNMENTS_MEMBER, assignment_member, manifest_member
    from autograder.data import DATASET_ENV_VAR
    from autograder.grade.isolation.limits import numeric_thread_environment
    source = tmp_path / "source"
    toml = (config(ASSIGNMENT).path.read_text()
            .replace('q1_vectorize = "visible"', 'q1_vectorize = "hidden"\nmlp_16x16_architecture = "after_due_date"'))
    shipped = {assignment_member(ASSIGNMENT, "grading.toml"): toml, manifest_member(ASSIGNMENT): manifest(ASSIGNMENT).to_json()}
    for member, text in shipped.items():
        (source / member).parent.mkdir(parents=True, exist_ok=True)
        (source / member).write_text(text)
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / f"{ASSIGNMENT}.ipynb").write_text("{}")
    cases = graded().cases
    monkeypatch.setattr(split, "grade_submission", lambda notebook, folder: GradingOutcome(cases=cases))
    monkeypatch.setattr(gradescope, "prepare_the_container", lambda: None)
    for key in [*numeric_thread_environment(), DATASET_ENV_VAR]:  # run() sets them: put back after
        if key in os.environ:
            monkeypatch.setenv(key, os.environ[key])
        else:
            monkeypatch.delenv(key, raising=False)
    # the folder the zip's own package reads first (config.BUNDLED_ASSIGNMENTS_DIR), here by the variable
    monkeypatch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(source / ASSIGNMENTS_MEMBER))
    clear_cache()
    try:
        results = gradescope.run(tmp_path)
    finally:
        monkeypatch.delenv(ASSIGNMENTS_DIR_ENV_VAR)
        clear_cache()
    assert json.loads((tmp_path / "results" / "results.json").read_text()) == results
    seen = {test["name"]: test["visibility"] for test in results["tests"]}
    assert seen["q1_vectorize · unroll_single_image"] == "hidden"
    assert seen["q4_mlp · mlp_16x16_architecture"] == "after_due_date"
    assert seen["q3_trace · hand_trace_output"] == "visible"


def test_the_zip_ships_the_assignments_grading_toml_with_its_visibility(tmp_path):
    """What the build puts into the zip (``ship_grading_code``) is the file, [visibility] and all."""
    from autograder.build import ship_grading_code
    from autograder.bundle import Bundle
    archive = tmp_path / "a.zip"
    zipfile.ZipFile(archive, "w").close()
    ship_grading_code(archive, ASSIGNMENT)
    assert Bundle.read(archive).grading_toml == config(ASSIGNMENT).path.read_text()
    assert "[visibility]" in Bundle.read(archive).grading_toml


# --- the feedback files ---------------------------------------------------------------------------

def test_a_hidden_check_is_left_out_of_the_feedback_with_the_totals_it_would_tell(visibility):
    text = feedback_markdown(graded())
    for check in ("unroll_single_image", "unroll_grayscale_batches", "forward_accepts_a_single_example"):
        assert f"`{check}`" not in text
    assert "`unroll_colour_batches` (1/1)" in text  # its own entry: visible
    # q1: 5 points, 1 shown (passed): 4 points not shown; the total 4/5 would tell the failure
    assert "## q1_vectorize: 1 / 1; 4 points from checks not shown besides" in text
    assert "## q3_trace: 7 / 7; 1 point from checks not shown besides" in text
    assert "q3_trace: 7 / 8" not in text
    # the score of the checks shown: 29 - 5 hidden points, 24 - 2 failed of them visible (tune_mlp_returns_a_choice)
    assert "**Score on the checks shown: 22 / 24; 5 points from checks not shown besides** (autograded part)." in text
    assert "Score: 24 / 29" not in text
    assert "## q2_hyperparameters: 2 / 2" in text


def test_checks_shown_after_the_due_date_or_once_published_are_in_the_feedback(visibility):
    """The feedback files are handed out with the grades, after the due date (docs/grading.md)."""
    text = feedback_markdown(graded())
    assert "- ✅ `mlp_16x16_architecture` (2/2)" in text
    assert "- ❌ `tune_mlp_returns_a_choice` (0/2)" in text
    assert "## q4_mlp: 6 / 6" in text
    assert "## q5_tuning: 6 / 8" in text


def test_a_question_whose_checks_are_all_hidden_shows_its_points_only(monkeypatch):
    monkeypatch.setitem(config_overrides, ASSIGNMENT, config(ASSIGNMENT).with_values("visibility", q4_mlp="hidden"))
    text = feedback_markdown(graded({"mlp_16x16_architecture"}))
    section = text.split("## q4_mlp: ", 1)[1].split("## ", 1)[0]
    assert section.strip() == "6 points from checks not shown"
    assert "mlp_16x16" not in text
    assert "Not graded" not in section


def test_a_repeated_message_refers_only_to_a_check_shown(monkeypatch):
    """A long message said by a hidden check and a later visible one is written out in full."""
    from autograder.report.feedback import REPEATED_MESSAGE_CHARS
    monkeypatch.setitem(config_overrides, ASSIGNMENT, config(ASSIGNMENT).with_values(
        "visibility", tune_mlp_returns_a_choice="hidden"))
    paragraph = "Your tune_mlp " + "returns nothing " * (REPEATED_MESSAGE_CHARS // 16)
    result = graded(set())
    for case in result.cases:
        if case.name in ("tune_mlp_returns_a_choice", "tune_mlp_picks_the_clear_winner"):
            case.passed, case.score, case.message = False, 0.0, paragraph
    text = feedback_markdown(result)
    assert text.count(paragraph.strip()) == 1
    assert "The same as" not in text


def test_without_hidden_checks_the_feedback_shows_the_score():
    text = feedback_markdown(graded())
    assert "**Score: 25 / 29** (autograded part)." in text
    assert "## q3_trace: 7 / 8" in text
    assert "not shown" not in text


def test_the_feedback_page_leaves_the_hidden_check_out_too(visibility, tmp_path):
    result = graded()
    write_submission_files(tmp_path, result)
    page = (tmp_path / "feedback" / "alice.html").read_text()
    assert "unroll_single_image" not in page
    assert "forward_accepts_a_single_example" not in page
    assert "<code>unroll_colour_batches</code>" in page


def test_a_hidden_manual_question_shows_neither_the_tas_score_nor_the_comment(monkeypatch):
    """A TA's score (manual_scores.csv) is a test like any other: where its question is
    ``hidden``, the feedback shows its points only, and the score sentence leaves it out."""
    from autograder.report.corrections import Corrections, ManualScore
    manual = next(q for q in manifest(ASSIGNMENT).questions if q.manual)
    scored = Corrections(manual=(ManualScore("alice", manual.name, 1.0, "Name the test set's role.",
                                             manual.points, 2),)).apply(graded(set()))
    shown = feedback_markdown(scored)
    assert f"## {manual.name}: 1 / {manual.points:g} (graded by a TA)" in shown
    assert "Name the test set's role." in shown
    monkeypatch.setitem(config_overrides, ASSIGNMENT, config(ASSIGNMENT).with_values("visibility", **{manual.name: "hidden"}))
    hidden = feedback_markdown(scored)
    section = hidden.split(f"## {manual.name}: ", 1)[1].split("## ", 1)[0]
    assert section.strip() == f"{manual.points:g} points from checks not shown (graded by a TA)"
    assert "Name the test set's role." not in hidden
    assert f"**Score on the checks shown: 29 / 29; {manual.points:g} points from checks not shown besides**" in hidden
