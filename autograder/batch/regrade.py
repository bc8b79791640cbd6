"""``autograder grade … --only QUESTION[,QUESTION…]`` (SPEC §8): grade some questions' checks
again for every submission, after a judge was corrected and the assignment rebuilt, keeping
every other result.

What each submission gets, from its journal record (``batch.journal``) of the same file:

* a record whose every chosen question was already judged by this grader (this autograder
  zip and runner), say by an earlier run of the same command that a crash cut short: kept,
  nothing graded (``--force``: regraded all the same);
* a ``graded`` record for the assignment's current questions: graded again with only the
  chosen questions judged (the split runner probes and judges their checks alone, after the
  whole notebook ran; the Otter runner runs every test and only theirs are kept); their new
  cases replace their old ones, every other question's cases are kept as recorded, and the
  result is made from them by ``grade.records`` as any other;
* no record (a new or changed file), a record of another status (``error``, ``timeout``,
  ``invalid``: nothing in it to keep) or of other questions (the assignment changed): graded
  in full.

A merged result is journaled like any other, the moment it is known, with the grader of each
question and this run among the record's ``regraded``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from autograder.assignment import questions
from autograder.batch.journal import Journal, JournalEntry
from autograder.grade.intake import Submission
from autograder.grade.records import from_grading
from autograder.results import CaseResult, GradingOutcome, Status, SubmissionResult


class QuestionChoiceError(ValueError):
    """``--only`` names no question, an unknown one or a manual one."""


def chosen_questions(assignment: str, names: Iterable[str]) -> tuple[str, ...]:
    """The questions ``--only`` names (each value may hold several, comma-separated), in the
    assignment's order; a ``QuestionChoiceError`` that lists the assignment's questions for a
    name that is none of them, and one for a manual question (scored in manual_scores.csv)."""
    asked = questions(assignment)
    wanted = {name.strip() for value in names for name in value.split(",") if name.strip()}
    autograded = [question.name for question in asked if not question.manual]
    listing = f"{assignment}'s autograded questions are {', '.join(autograded)}"
    if not wanted:
        raise QuestionChoiceError(f"--only names no question; {listing}")
    unknown = sorted(wanted - {question.name for question in asked})
    if unknown:
        raise QuestionChoiceError(f"--only: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not "
                                  f"a question of {assignment}; {listing}")
    manual = [question.name for question in asked if question.manual and question.name in wanted]
    if manual:
        kind = "is a manual question" if len(manual) == 1 else "are manual questions"
        raise QuestionChoiceError(f"--only: {', '.join(manual)} {kind}, scored by TAs in DIR/manual_scores.csv "
                                  f"(see `autograder manual`), never graded again; {listing}")
    return tuple(question.name for question in asked if question.name in wanted)


def plan(journal: Journal, submission: Submission, digest: str, only: tuple[str, ...],
         force: bool) -> tuple[JournalEntry | None, JournalEntry | None]:
    """What to do with one submission: (the record to keep as it is, or None; the record whose
    other questions to keep while ``only`` is graded again, or None). Both None: grade it in full.
    Without ``only``, a record is kept if this grader wrote it (``--force``: never)."""
    entry = journal.entry(submission, digest)
    if entry is None:
        return None, None
    if not only:
        return (entry if not force and entry.grader == journal.grader else None), None
    if not force and all(entry.graded_by(question) == journal.grader for question in only):
        return entry, None
    current = {question.name for question in questions(entry.result.assignment)}
    if entry.result.status == Status.GRADED and set(entry.result.question_scores) == current:
        return None, entry
    return None, None


def merged_cases(earlier: list[CaseResult], regraded: list[CaseResult], only: tuple[str, ...]) -> list[CaseResult]:
    """``earlier``'s cases with those of ``only`` replaced by ``regraded``'s, where they were;
    a regraded question the earlier result had no case of goes last."""
    merged: list[CaseResult] = []
    placed: set[str] = set()
    for case in earlier:
        if case.question not in only:
            merged.append(case)
        elif case.question not in placed:
            placed.add(case.question)
            merged.extend(new for new in regraded if new.question == case.question)
    merged.extend(new for new in regraded if new.question in only and new.question not in placed)
    return merged


def regraded_result(assignment: str, submission: Submission, earlier: SubmissionResult,
                    graded: GradingOutcome, only: tuple[str, ...], dataset: str,
                    worker: str = "") -> SubmissionResult:
    """The result of grading ``only`` again: ``graded`` (this run: its status, notes and the
    cases of ``only``) with ``earlier``'s cases of every other question, made into a result by
    ``grade.records`` as a full grading is. A regrading that could not finish (an error, a
    timeout) gives that status, with the other questions' cases still kept."""
    merged = replace(graded, cases=merged_cases(earlier.cases, graded.cases, only))
    return from_grading(assignment, submission, merged, dataset, worker=worker)
