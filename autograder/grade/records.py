"""A submission's result (``autograder.results.SubmissionResult``) made from what grading it
produced: its status, the message that explains it, the per-question scores."""

from __future__ import annotations

import functools
from typing import Any

from autograder.assignment import Question, questions
from autograder.grade.intake import Submission
from autograder.results import GradingOutcome, Status, SubmissionResult


@functools.cache
def dataset_summary(name: str) -> dict[str, Any]:
    """What SPEC §2 asks each result to record: the dataset, its size and its split."""
    from autograder.data import load_dataset
    return load_dataset(name, verbose=False).summary()


def submission_result(assignment: str, name: str, source: str, graded: GradingOutcome, *,
                      asked: tuple[Question, ...], dataset: dict[str, Any] | None = None,
                      worker: str = "") -> SubmissionResult:
    """The one way a grading becomes a gradebook record (``autograder grade`` and Gradescope
    alike); ``asked``: the assignment's questions, from its manifest; ``dataset``: the data's
    summary, if not the one the grading reported."""
    status = status_of(graded)
    result = SubmissionResult(
        assignment=assignment, submission=name, source=source,
        status=status, cases=graded.cases, message=status_message(status, graded),
        dataset=dataset or graded.dataset, seconds=round(graded.seconds, 2),
        network_isolated=graded.network_isolated, sandbox=graded.sandbox, worker=worker,
        notes=graded.notes + limit_notes(graded.limits_reached, assignment), protections=graded.protections,
        limits_reached=graded.limits_reached, hooks=graded.hooks,
    )
    _fill_scores(result, asked)
    return result


def from_grading(assignment: str, submission: Submission, graded: GradingOutcome, dataset: str,
                 worker: str = "") -> SubmissionResult:
    """A batch's record: the question list from the course's manifest, the dataset's summary
    (as the grading child reports it; loading the data here would cost the grader a second of
    scikit-learn's import)."""
    return submission_result(assignment, submission.name, str(submission.path), graded,
                             asked=questions(assignment), dataset=graded.dataset or dataset_summary(dataset),
                             worker=worker)


def limit_notes(reached: list[str], assignment: str) -> list[str]:
    """What the student reads when a limit stopped part of the notebook (grading.toml's values)."""
    from autograder.config import config
    limits = config(assignment).limits
    sentences = {
        "memory": f"Your notebook reached the memory limit ({limits.memory_mb} MB for all its "
                  "processes together): an allocation failed or a process was stopped. Use smaller "
                  "arrays or models, and free what you no longer need.",
        "processes": f"Your notebook reached the limit of {limits.max_processes} processes and "
                     "threads: starting another one failed. Do not start processes in a loop.",
    }
    return [sentences[name] for name in reached if name in sentences]


def invalid_result(assignment: str, submission: Submission) -> SubmissionResult:
    result = SubmissionResult(assignment=assignment, submission=submission.name,
                              source=str(submission.path), status=Status.INVALID,
                              message=submission.problem or "")
    _fill_scores(result, questions(assignment))
    return result


def _fill_scores(result: SubmissionResult, asked: tuple[Question, ...]) -> None:
    """Per-question scores in assignment order; manual questions stay empty for a TA."""
    result.possible = sum(q.points for q in asked if not q.manual)
    for question in asked:
        cases = [case for case in result.cases if case.question == question.name]
        ungraded = question.manual or (not cases and result.status != Status.GRADED)
        result.question_scores[question.name] = None if ungraded else sum((c.score for c in cases), 0.0)
    # a float even with no case (a timeout): the gradebook writes 0.0 whatever the other rows hold
    result.score = sum((case.score for case in result.cases), 0.0)


def status_of(graded: GradingOutcome) -> Status:
    return Status.TIMEOUT if graded.timed_out else Status.ERROR if graded.error else Status.GRADED


def status_message(status: Status, graded: GradingOutcome) -> str:
    if status == Status.TIMEOUT:
        return (f"{graded.error}. The notebook did not finish in time: look for a loop that never "
                "ends or training that runs far longer than the assignment asks.")
    if status == Status.ERROR:
        return f"grading could not finish: {graded.error}"
    return ""
