"""What course staff correct after grading (SPEC §8): ``DIR/manual_scores.csv`` (the points and a
comment of each manual question, per submission) and ``DIR/overrides.csv`` (the points of one
autograded check of one submission replaced, with the reason the student reads).

Both are files a TA edits by hand, so they are read strictly: a row that names an unknown
submission, question or check, points that are not a number or out of range, a duplicate, a
row with another number of fields than the header, a missing column or bytes that are not UTF-8
raise :class:`CorrectionsError`, whose message starts with ``FILE:LINE:`` and says what to do.
``autograder grade`` reads them before it grades or writes anything, so a bad row changes
nothing.

Corrections are applied when the outputs are written (:meth:`Corrections.apply`), never to the
journal: the journal keeps what the autograder found, so removing a row and grading again gives
the automatic score back. A manual question's score becomes a test of its own (``MANUAL_CASE``)
in the results, and an override changes the check's score and puts ``CORRECTED`` and the
reason in its message.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from autograder.assignment import questions
from autograder.report.csvfile import CsvFileError, csv_rows
from autograder.results import CaseResult, SubmissionResult

MANUAL_SCORES_FILE = "manual_scores.csv"
OVERRIDES_FILE = "overrides.csv"
MANUAL_COLUMNS = ("submission", "question", "points", "comment")
OVERRIDE_COLUMNS = ("submission", "check", "points", "reason")
MANUAL_CASE = "graded by a TA"      # the name of a manual question's one test in the results
CORRECTED = "Corrected by a TA"    # how an overridden check's message starts
_DECIMAL_COMMA = re.compile(r"^[0-9]+,[0-9]+$")  # 2,5 from a spreadsheet that writes semicolons


class CorrectionsError(CsvFileError):
    """``manual_scores.csv`` or ``overrides.csv`` is malformed or names something unknown; the
    message is ``FILE:LINE: what is wrong; what to do``."""


@dataclass(frozen=True)
class CheckRef:
    """An autograded check as the manifest declares it: the names it goes by in the results
    (the hidden check's name, the test function without ``test_``), its question and points."""

    name: str
    question: str
    points: float
    hidden: bool
    names: frozenset[str]


@dataclass(frozen=True)
class ManualScore:
    """One row of ``manual_scores.csv``; ``points`` is None while the TA has not scored it."""

    submission: str
    question: str
    points: float | None
    comment: str
    possible: float  # the question's points
    line: int


@dataclass(frozen=True)
class Override:
    """One row of ``overrides.csv``: ``check``'s points in ``submission`` replaced by ``points``."""

    submission: str
    check: CheckRef
    points: float
    reason: str
    line: int


@dataclass(frozen=True)
class Corrections:
    """Every correction of one grading folder, applied to each result as it is written."""

    manual: tuple[ManualScore, ...] = ()
    overrides: tuple[Override, ...] = ()
    _by_submission: dict[str, tuple[list[ManualScore], list[Override]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for score in self.manual:
            self._by_submission.setdefault(score.submission, ([], []))[0].append(score)
        for override in self.overrides:
            self._by_submission.setdefault(override.submission, ([], []))[1].append(override)

    def __bool__(self) -> bool:
        return bool(self.manual or self.overrides)

    def scores_for(self, submission: str) -> list[ManualScore]:
        """The manual scores a TA gave ``submission`` (rows with empty points left out)."""
        return [s for s in self._by_submission.get(submission, ([], []))[0] if s.points is not None]

    def overrides_for(self, submission: str) -> list[Override]:
        return list(self._by_submission.get(submission, ([], []))[1])

    def apply(self, result: SubmissionResult) -> SubmissionResult:
        """``result`` as the outputs show it: each overridden check's score replaced (a check the
        autograder did not reach is added), each scored manual question a test of its own,
        and the question scores, total and possible points to match. ``result`` itself is
        not changed (it is the journal's)."""
        scores, overrides = self.scores_for(result.submission), self.overrides_for(result.submission)
        if not scores and not overrides:
            return result
        cases: list[CaseResult] = []
        pending = list(overrides)
        for case in result.cases:
            override = next((o for o in pending if o.check.question == case.question
                             and case.name in o.check.names), None)
            if override is None:
                cases.append(case)
            else:
                pending.remove(override)
                cases.append(_overridden(case, override))
        cases += [_added(override) for override in pending]
        cases += [CaseResult(question=score.question, name=MANUAL_CASE, points=score.possible,
                             score=float(score.points or 0.0), hidden=False,
                             message=score.comment or "Graded by a TA.", passed=True) for score in scores]
        order = {question.name: index for index, question in enumerate(questions(result.assignment))}
        cases.sort(key=lambda case: order.get(case.question, len(order)))  # stable: checks keep their order
        question_scores = dict(result.question_scores)
        for name in {o.check.question for o in overrides} | {s.question for s in scores}:
            question_scores[name] = sum((c.score for c in cases if c.question == name), 0.0)
        return replace(result, cases=cases, question_scores=question_scores,
                       score=sum((case.score for case in cases), 0.0),
                       possible=result.possible + sum(score.possible for score in scores))


def _overridden(case: CaseResult, override: Override) -> CaseResult:
    message = f"{CORRECTED} (the autograder gave {case.score:g}/{case.points:g}): {override.reason}"
    if case.message:
        message += f"\nThe autograder's message was: {case.message}"
    passed = override.points >= case.points if case.points > 0 else case.passed
    return replace(case, score=override.points, message=message, passed=passed)


def _added(override: Override) -> CaseResult:
    check = override.check
    return CaseResult(question=check.question, name=check.name, points=check.points, score=override.points,
                      hidden=check.hidden, passed=override.points >= check.points,
                      message=f"{CORRECTED} (the autograder did not grade this check): {override.reason}")


# ---------------------------------------------------------------------------------------------
# For the feedback (report.feedback)

def is_correction(case: CaseResult) -> bool:
    """A check whose points a TA replaced: its message (the reason) is shown even if it passed."""
    return case.message.startswith(CORRECTED)


def score_scope(result: SubmissionResult) -> str:
    """What the feedback's score covers: the autograded part, and the questions a TA scored."""
    manual = [case.question for case in result.cases if case.name == MANUAL_CASE]
    return f"(autograded part and {', '.join(manual)}, graded by a TA)" if manual else "(autograded part)"


def manual_case(question_name: str, result: SubmissionResult) -> CaseResult | None:
    """The test a TA's score of a manual question became (``Corrections.apply``), if scored."""
    return next((c for c in result.cases if c.question == question_name and c.name == MANUAL_CASE), None)


def manual_section(question_name: str, points: float, result: SubmissionResult) -> list[str] | None:
    """A manual question's part of the feedback once a TA scored it (None until then): the
    points and the TA's comment."""
    case = manual_case(question_name, result)
    if case is None:
        return None
    lines = [f"## {question_name}: {case.score:g} / {points:g} (graded by a TA)"]
    if case.message != "Graded by a TA.":
        lines += ["", *[f"> {line}".rstrip() for line in case.message.splitlines()]]
    return lines


# ---------------------------------------------------------------------------------------------
# Reading the files

def load_corrections(assignment: str, out_dir: Path, submissions: Collection[str]) -> Corrections:
    """``out_dir``'s manual_scores.csv and overrides.csv (either may be absent), checked against
    the assignment and ``submissions`` (the names a row may use: this batch's and the
    journal's). CorrectionsError on the first problem."""
    return Corrections(manual=read_manual_scores(out_dir / MANUAL_SCORES_FILE, assignment, submissions),
                       overrides=read_overrides(out_dir / OVERRIDES_FILE, assignment, submissions))


def read_manual_scores(path: Path, assignment: str, submissions: Collection[str]) -> tuple[ManualScore, ...]:
    """Every row of ``manual_scores.csv``, scored or not; () when there is no such file."""
    manual = {q.name: q for q in questions(assignment) if q.manual}
    autograded = [q.name for q in questions(assignment) if not q.manual]
    rows = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in _table(path, MANUAL_COLUMNS):
        submission = _submission(path, line, row["submission"], submissions)
        name = row["question"].strip()
        if name not in manual:
            if name in autograded:
                raise CorrectionsError(path, line, f"{name!r} is an autograded question, not one a TA scores "
                                       f"(manual: {_listed(manual)}); to change an autograded check's points, "
                                       f"write a row in {OVERRIDES_FILE}")
            raise CorrectionsError(path, line, f"unknown question {name!r}{_close(name, manual)}; the manual "
                                   f"questions of {assignment} are {_listed(manual)}")
        _once(path, line, seen, (submission, name), f"{submission!r} has a second row for {name!r}")
        question = manual[name]
        points = _points(path, line, row["points"], question.points, f"{name}'s", required=False)
        rows.append(ManualScore(submission, name, points, row["comment"].strip(), question.points, line))
    return tuple(rows)


def read_overrides(path: Path, assignment: str, submissions: Collection[str]) -> tuple[Override, ...]:
    """Every row of ``overrides.csv``; () when there is no such file."""
    checks = known_checks(assignment)
    rows = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in _table(path, OVERRIDE_COLUMNS):
        submission = _submission(path, line, row["submission"], submissions)
        name = row["check"].strip()
        check = checks.get(name)
        if check is None:
            manual = {q.name for q in questions(assignment) if q.manual}
            if name in manual:
                raise CorrectionsError(path, line, f"{name!r} is a manual question: score it in "
                                       f"{MANUAL_SCORES_FILE}, not here")
            raise CorrectionsError(path, line, f"unknown check {name!r}{_close(name, checks)}; a check is named "
                                   "as in the feedback (`name`) or after '·' in a test of results/*.json")
        _once(path, line, seen, (submission, check.name), f"{submission!r} has a second row for check {name!r}")
        points = _points(path, line, row["points"], check.points, f"check {check.name}'s", required=True)
        reason = row["reason"].strip()
        if not reason:
            raise CorrectionsError(path, line, "reason is empty: write why the points change (the student reads "
                                   "it in the feedback)")
        rows.append(Override(submission, check, float(points or 0.0), reason, line))
    return tuple(rows)


def known_checks(assignment: str) -> dict[str, CheckRef]:
    """Every autograded check of the assignment under each name it may be given by."""
    found: dict[str, CheckRef] = {}
    for question in questions(assignment):
        if question.manual:
            continue
        for case in question.cases:
            function = case.function.removeprefix("test_")
            names = frozenset(n for n in (case.check, function, case.function) if n)
            check = CheckRef(case.check or function, question.name, case.points, case.hidden, names)
            for name in names:
                found.setdefault(name, check)
    return found


def _table(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The non-blank rows of a corrections file as {column: cell}, with their lines; [] when the
    file does not exist or holds nothing (not even a header)."""
    if not path.exists():
        return []
    rows = csv_rows(path, CorrectionsError)
    if not rows or not any(cell.strip() for _, row in rows for cell in row):
        return []
    header = [cell.strip() for cell in rows[0][1]]
    for index, name in enumerate(header):
        if name and header.index(name) != index:
            raise CorrectionsError(path, 1, f"column {name!r} appears twice; keep one")
    missing = [name for name in columns if name not in header]
    if missing:
        raise CorrectionsError(path, 1, f"has no column {', '.join(repr(m) for m in missing)}; the first line "
                               f"must be the header {','.join(columns)}")
    table = []
    for line, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) != len(header):
            raise CorrectionsError(path, line, f"has {len(row)} fields where the header has {len(header)}; "
                                   "quote a cell that holds a comma (\"like, this\")")
        table.append((line, {name: row[header.index(name)] for name in columns}))
    return table


def _submission(path: Path, line: int, text: str, submissions: Collection[str]) -> str:
    name = text.strip()
    if not name:
        raise CorrectionsError(path, line, "submission is empty; write the submission's name as gradebook.csv has it")
    if name not in submissions:
        raise CorrectionsError(path, line, f"unknown submission {name!r}{_close(name, submissions)}: it was not "
                               "graded into this folder; write the name as gradebook.csv's `submission` column "
                               "has it, or remove the row")
    return name


def _points(path: Path, line: int, text: str, possible: float, whose: str, *, required: bool) -> float | None:
    value = text.strip()
    if not value:
        if required:
            raise CorrectionsError(path, line, f"points is empty; give a number from 0 to {possible:g}")
        return None
    try:
        points = float(value.replace(",", ".") if _DECIMAL_COMMA.match(value) else value)
    except ValueError:
        points = math.nan
    if not math.isfinite(points):
        raise CorrectionsError(path, line, f"points {value!r} is not a number; give a number from 0 to {possible:g}")
    if points < 0:
        raise CorrectionsError(path, line, f"points {value} is negative; give a number from 0 to {possible:g}")
    if points > possible:
        raise CorrectionsError(path, line, f"points {value} is more than {whose} {possible:g}; give a number from "
                               f"0 to {possible:g}")
    return points


def _once(path: Path, line: int, seen: dict[tuple[str, str], int], key: tuple[str, str], what: str) -> None:
    if key in seen:
        raise CorrectionsError(path, line, f"{what} (also line {seen[key]}); keep one of the two")
    seen[key] = line


def _close(name: str, known: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def _listed(names: Iterable[str]) -> str:
    return ", ".join(names) or "none"
