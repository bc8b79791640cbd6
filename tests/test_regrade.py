"""`autograder grade … --only QUESTION` (SPEC §8): a corrected judge, a rebuilt zip, and only
that question graded again for every submission, every other result kept; crash-safe and
resumable like any batch.

The toy here is tests/fixtures/toy with two more questions: `q2_half` (one hidden test, whose
first version is wrong: it expects 20 where the question asks for 21) and `q3_written`
(manual). The second version fixes q2's test, and also rewords q1's failure message: a run
that regraded q1 would show the new wording, one that kept it shows the old.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from helpers import killed_graders_temp

from autograder.config import ASSIGNMENTS_DIR_ENV_VAR

FIXTURES = Path(__file__).parent / "fixtures"
NAME = "regrade_toy"  # its own name: no other test's manifest of "toy" is cached for it
Q1_V1 = "answer should be 6 × 7"
Q1_V2 = "second wording: answer must be forty-two"
ANSWERS = {"alice": ("42", "21"), "bob": ("41", "21"), "carol": ("42", "20")}  # name: (answer, half)


def q2_cells(expected_half: int) -> list[nbformat.NotebookNode]:
    raw, code, markdown = nbformat.v4.new_raw_cell, nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    return [
        raw("# BEGIN QUESTION\nname: q2_half"), markdown("Set `half` to half of `answer`."),
        raw("# BEGIN SOLUTION"), code("half = answer // 2 # SOLUTION"), raw("# END SOLUTION"),
        raw("# BEGIN TESTS"),
        code('""" # BEGIN TEST CONFIG\npoints: 1\nhidden: true\n""" # END TEST CONFIG\n'
             f"def test_half(half):\n    assert half == {expected_half}, f\"half should be 21, got {{half}}\""),
        raw("# END TESTS"), raw("# END QUESTION"),
        raw("# BEGIN QUESTION\nname: q3_written\nmanual: true\npoints: 2"),
        markdown("In one sentence: why 21?"), raw("# BEGIN SOLUTION"),
        markdown("_Type your answer here._\n\n**Solution:** it is half of 42."), raw("# END SOLUTION"),
        raw("# END QUESTION"),
    ]


def write_master(folder: Path, version: int) -> None:
    """The master notebook, version 1 (q2's test wrong) or 2 (corrected, q1's message reworded)."""
    notebook = nbformat.read(FIXTURES / "toy" / "toy.ipynb", as_version=4)
    notebook.cells[0].source = notebook.cells[0].source.replace("name: toy", f"name: {NAME}")
    for cell in notebook.cells:
        if version == 2:
            cell.source = cell.source.replace(Q1_V1, Q1_V2)
    notebook.cells.extend(q2_cells(20 if version == 1 else 21))
    nbformat.write(notebook, folder / f"{NAME}.ipynb")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Both versions built: {"assignments": …, "dist1": …, "dist2": …, "subs": …, "base": …},
    "base" being the three submissions graded in full with version 1."""
    from autograder.build import build_assignment
    root = tmp_path_factory.mktemp("regrade")
    folder = root / "assignments" / NAME
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "toy" / "grading.toml", folder / "grading.toml")
    paths = {"assignments": root / "assignments", "subs": root / "subs", "base": root / "base"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(paths["assignments"]))
        write_master(folder, 1)
        solutions = build_assignment(NAME, root / "dist1", verify=False).solutions_notebook
        for name, (answer, half) in ANSWERS.items():
            submission(solutions, paths["subs"], name, answer, half)
        paths["dist1"] = root / "dist1"
        run_grade(paths, "dist1", paths["base"], "-j", "2")
        write_master(folder, 2)
        build_assignment(NAME, root / "dist2", verify=False)
        paths["dist2"] = root / "dist2"
    return paths


def submission(solutions: Path, folder: Path, name: str, answer: str, half: str) -> None:
    notebook = nbformat.read(solutions, as_version=4)
    for cell in notebook.cells:
        cell.source = cell.source.replace("answer = 6 * 7", f"answer = {answer}").replace(
            "half = answer // 2", f"half = {half}")
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / f"{name}.ipynb")


def command(toy, dist: str, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "autograder.cli", "grade", NAME, str(toy["subs"]), "--out", str(out),
            "--dist", str(toy[dist]), *extra]


def environment(toy) -> dict[str, str]:
    return dict(os.environ, **{ASSIGNMENTS_DIR_ENV_VAR: str(toy["assignments"])})


def run_grade(toy, dist: str, out: Path, *extra: str, status: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run(command(toy, dist, out, *extra), env=environment(toy), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == status, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def journal(out: Path) -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in (out / ".journal").glob("*.json")}


def cases(out: Path, question: str) -> dict[str, list[dict]]:
    return {name: [case for case in record["result"]["cases"] if case["question"] == question]
            for name, record in journal(out).items()}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def regraded(toy, tmp_path_factory):
    """The base output, then `--only q2_half` with version 2, uninterrupted: (folder, stdout)."""
    out = tmp_path_factory.mktemp("regraded") / "out"
    shutil.copytree(toy["base"], out)
    return out, run_grade(toy, "dist2", out, "--only", "q2_half", "-j", "2").stdout


@pytest.mark.slow
def test_the_base_is_what_version_1_grades(toy):
    """The starting point the other tests change: q2's wrong test fails alice, passes carol."""
    rows = sorted((toy["base"] / "gradebook.csv").read_text().splitlines())
    assert rows == ["alice,graded,2.0,3.0,2.0,0.0,", "bob,graded,0.0,3.0,0.0,0.0,",
                    "carol,graded,3.0,3.0,2.0,1.0,", "submission,status,total,possible,q1_answer,q2_half,q3_written"]
    assert Q1_V1 in cases(toy["base"], "q1_answer")["bob"][-1]["message"]


@pytest.mark.slow
def test_only_regrades_that_question_and_keeps_every_other_result(toy, regraded):
    out, stdout = regraded
    assert "--only q2_half: 3 regraded with their other questions kept, 0 graded in full" in stdout
    rows = sorted((out / "gradebook.csv").read_text().splitlines())
    assert rows == ["alice,graded,3.0,3.0,2.0,1.0,", "bob,graded,1.0,3.0,0.0,1.0,",
                    "carol,graded,2.0,3.0,2.0,0.0,", "submission,status,total,possible,q1_answer,q2_half,q3_written"]
    # q1's cases as version 1 judged them, its old message included, though version 2 rewords it
    assert cases(out, "q1_answer") == cases(toy["base"], "q1_answer")
    assert Q1_V1 in cases(out, "q1_answer")["bob"][-1]["message"]
    assert [case["passed"] for case in cases(out, "q2_half")["alice"]] == [True]
    assert cases(out, "q2_half")["carol"][0]["message"] == "half should be 21, got 20"
    tests = json.loads((out / "results" / "carol.json").read_text())["tests"]
    assert [test["output"] for test in tests if test["name"] == "q2_half · half"] == ["half should be 21, got 20"]
    # the journal says which zip judged which question, and which run regraded what
    grader_2 = journal(out)["alice"]["grader"]
    assert grader_2 != journal(toy["base"])["alice"]["grader"]
    for record in journal(out).values():
        assert record["regraded"] == [{"questions": ["q2_half"], "grader": grader_2}]
        assert record["graders"]["q2_half"] == grader_2
        assert record["graders"]["q1_answer"] == journal(toy["base"])["alice"]["grader"]


@pytest.mark.slow
def test_the_same_only_command_again_regrades_nothing(toy, regraded, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(regraded[0], out)
    before = snapshot(out / ".journal")
    stdout = run_grade(toy, "dist2", out, "--only", "q2_half").stdout
    assert "3 kept from an earlier run; --only q2_half: 0 regraded" in stdout
    assert snapshot(out / ".journal") == before
    assert (out / "gradebook.csv").read_text() == (regraded[0] / "gradebook.csv").read_text()


@pytest.mark.slow
def test_a_plain_grade_after_only_keeps_the_merged_results_and_says_what_is_older(toy, regraded, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(regraded[0], out)
    done = run_grade(toy, "dist2", out)
    assert "3 kept from an earlier run" in done.stdout
    assert "3 result(s) kept from an earlier run hold q1_answer as an earlier autograder zip judged them" in done.stderr
    assert (out / "gradebook.csv").read_text() == (regraded[0] / "gradebook.csv").read_text()


@pytest.mark.slow
def test_kill_9_during_only_then_the_same_command_finishes_as_an_uninterrupted_run(toy, regraded, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(toy["base"], out)
    grader = subprocess.Popen(command(toy, "dist2", out, "--only", "q2_half", "-j", "1"),
                              env={**environment(toy), **killed_graders_temp(tmp_path)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def merged() -> dict[str, bytes]:
        return {name: (out / ".journal" / f"{name}.json").read_bytes() for name, record in journal(out).items()
                if record.get("regraded")}
    deadline = time.monotonic() + 300
    while not merged() and time.monotonic() < deadline and grader.poll() is None:
        time.sleep(0.1)
    grader.send_signal(signal.SIGKILL)
    grader.wait()
    kept = merged()
    assert 1 <= len(kept) < 3, sorted(kept)

    stdout = run_grade(toy, "dist2", out, "--only", "q2_half", "-j", "2").stdout
    assert f"{len(kept)} kept from an earlier run; --only q2_half: {3 - len(kept)} regraded" in stdout
    assert {name: (out / ".journal" / f"{name}.json").read_bytes() for name in kept} == kept  # not graded again
    assert (out / "gradebook.csv").read_text() == (regraded[0] / "gradebook.csv").read_text()
    for name in ANSWERS:  # each result as the uninterrupted run's (times and workers aside)
        assert json.loads((out / "results" / f"{name}.json").read_text())["tests"] == \
            json.loads((regraded[0] / "results" / f"{name}.json").read_text())["tests"]


@pytest.mark.slow
@pytest.mark.parametrize(("only", "said"), [
    ("q2_half,q9_missing", "q9_missing is not a question of regrade_toy; regrade_toy's autograded questions "
                           "are q1_answer, q2_half"),
    ("q3_written", "q3_written is a manual question, scored by TAs in DIR/manual_scores.csv"),
])
def test_an_unknown_or_manual_question_stops_before_anything_is_written(toy, tmp_path, only, said):
    out = tmp_path / "out"
    shutil.copytree(toy["base"], out)
    before = snapshot(out)
    done = run_grade(toy, "dist2", out, "--only", only, status=1)
    assert said in done.stderr
    assert snapshot(out) == before
    fresh = tmp_path / "fresh"
    run_grade(toy, "dist2", fresh, "--only", only, status=1)
    assert not fresh.exists()


# The decisions, without grading ------------------------------------------------------------

def case(question: str, name: str, score: float = 1.0, message: str = ""):
    from autograder.results import CaseResult
    return CaseResult(question=question, name=name, points=1.0, score=score, hidden=True, message=message,
                      passed=score > 0)


def test_merged_cases_replace_the_chosen_questions_where_they_were():
    from autograder.batch.regrade import merged_cases
    earlier = [case("q2", "a", 0.0, "old"), case("q1", "x", 0.0, "kept"), case("q2", "b", 0.0, "old"), case("q3", "y")]
    regraded = [case("q1", "x", 1.0), case("q2", "a"), case("q2", "b"), case("q2", "c"), case("q4", "new")]
    assert merged_cases(earlier, regraded, ("q2", "q4")) == [
        case("q2", "a"), case("q2", "b"), case("q2", "c"), case("q1", "x", 0.0, "kept"), case("q3", "y"),
        case("q4", "new")]


@pytest.fixture
def written_toy(tmp_path, monkeypatch):
    """The toy's version 1 master alone (no build): what ``questions`` reads."""
    from autograder.assignment import manifest
    folder = tmp_path / "assignments" / NAME
    folder.mkdir(parents=True)
    write_master(folder, 1)
    monkeypatch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(tmp_path / "assignments"))
    manifest.cache_clear()
    yield tmp_path
    manifest.cache_clear()


def recorded(tmp_path: Path, grader: str, status: str = "graded", questions=("q1_answer", "q2_half", "q3_written")):
    """Alice's result recorded by ``grader``; returns the journal as grader "otter:zip-2"
    (this run's) reads it, and alice."""
    from autograder.batch.journal import Journal
    from autograder.grade.intake import Submission
    from autograder.results import SubmissionResult
    notebook = tmp_path / "alice.ipynb"
    notebook.write_bytes(b"{}")
    result = SubmissionResult(assignment=NAME, submission="alice", source=str(notebook), status=status,
                              question_scores=dict.fromkeys(questions, 0.0),
                              cases=[case("q1_answer", "x"), case("q2_half", "half", 0.0)])
    Journal(tmp_path / "out", grader=grader).record(result, "sha")
    return Journal(tmp_path / "out", grader="otter:zip-2"), Submission(name="alice", path=notebook)


@pytest.mark.parametrize(("grader", "status", "questions", "only", "force", "decision"), [
    ("otter:zip-1", "graded", None, ("q2_half",), False, "merge"),    # a rebuilt zip: regrade q2
    ("otter:zip-2", "graded", None, ("q2_half",), False, "keep"),     # this zip graded it already
    ("otter:zip-2", "graded", None, ("q2_half",), True, "merge"),     # --force: regrade q2 all the same
    ("otter:zip-1", "error", None, ("q2_half",), False, "full"),      # nothing in an error to keep
    ("otter:zip-1", "graded", ("q1_answer",), ("q2_half",), False, "full"),  # other questions then
    ("otter:zip-1", "graded", None, (), False, "full"),               # a plain grade after a rebuild
    ("otter:zip-2", "graded", None, (), False, "keep"),
    ("otter:zip-2", "graded", None, (), True, "full"),
])
def test_what_each_submission_gets(written_toy, grader, status, questions, only, force, decision):
    from autograder.batch.regrade import plan
    journal, alice = recorded(written_toy, grader, status, questions or ("q1_answer", "q2_half", "q3_written"))
    kept, merge_into = plan(journal, alice, "sha", only, force)
    assert {(True, False): "keep", (False, True): "merge", (False, False): "full"}[
        (kept is not None, merge_into is not None)] == decision
    assert plan(journal, alice, "another file's sha", only, force) == (None, None)


def test_a_merged_record_says_who_judged_each_question_and_a_second_merge_adds_to_it(written_toy):
    from autograder.batch.regrade import plan
    journal, alice = recorded(written_toy, "otter:zip-1")
    _, earlier = plan(journal, alice, "sha", ("q2_half",), False)
    journal.record(earlier.result, "sha", regrading=earlier, only=("q2_half",))
    entry = journal.entry(alice, "sha")
    assert entry.graders == {"q1_answer": "otter:zip-1", "q2_half": "otter:zip-2"}
    assert entry.questions_graded_by_others() == ["q1_answer"]
    assert plan(journal, alice, "sha", ("q2_half",), False)[0] == entry  # done: kept
    _, again = plan(journal, alice, "sha", ("q1_answer",), False)
    journal.record(again.result, "sha", regrading=again, only=("q1_answer",))
    entry = journal.entry(alice, "sha")
    assert entry.graders == {"q1_answer": "otter:zip-2", "q2_half": "otter:zip-2"}
    assert entry.regraded == [{"questions": ["q2_half"], "grader": "otter:zip-2"},
                              {"questions": ["q1_answer"], "grader": "otter:zip-2"}]
    assert entry.questions_graded_by_others() == []


def test_the_grading_child_is_told_the_questions_and_only_by_the_batch(monkeypatch):
    from autograder.grade.isolation.limits import Limits
    from autograder.grade.processes.grading_child import child_environment
    from autograder.grade.processes.requests import ONLY_QUESTIONS_ENV_VAR, only_questions
    monkeypatch.setenv(ONLY_QUESTIONS_ENV_VAR, "q9_left_over")
    assert ONLY_QUESTIONS_ENV_VAR not in child_environment(None, None, Limits())
    told = child_environment(None, None, Limits(), only=("q1_answer", "q2_half"))
    assert only_questions(told) == {"q1_answer", "q2_half"}
    assert only_questions({}) == frozenset()


@pytest.mark.slow
def test_the_split_runner_judges_only_the_chosen_questions_checks(builds):
    """The toy's tests are plain Otter tests (the Otter runner runs them all); nn_foundations'
    are probes and judges, which the split runner restricts to the chosen questions."""
    from helpers import ASSIGNMENT

    from autograder.assignment import questions
    from autograder.config import config
    from autograder.grade.processes.grading_child import grade_in_child
    build = builds(ASSIGNMENT)
    chosen = next(question for question in questions(ASSIGNMENT) if question.cases and not question.manual)
    grade = grade_in_child(build.solutions_notebook, build.autograder_zip, runner="split", dataset="digits",
                           limits=config(ASSIGNMENT).limits, only=(chosen.name,))
    assert grade.error is None, grade.log[-3000:]
    assert {case.question for case in grade.cases} == {chosen.name}
    assert len(grade.cases) == len([case for case in chosen.cases if case.check])
    assert grade.score == grade.possible == chosen.hidden_points
