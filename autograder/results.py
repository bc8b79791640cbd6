"""The results every layer passes on: one check's, one grading's, one submission's, one batch's.

Plain dataclasses with no behaviour beyond their own fields, below the runners that fill
them and the report that writes them, so that neither imports the other to share them.
Every output (gradebook row, results JSON, feedback, report) is written from
:class:`SubmissionResult`, so a status or a score cannot mean different things in different files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


@dataclass
class CaseResult:
    question: str
    name: str
    points: float
    score: float
    hidden: bool
    message: str
    passed: bool = True  # a 0-point check (a gate, a public check) can fail too


@dataclass
class GradingOutcome:
    """What grading one notebook produced; ``error`` is set when it could not finish."""

    score: float = 0.0
    possible: float = 0.0
    cases: list[CaseResult] = field(default_factory=list)
    error: str | None = None
    timed_out: bool = False
    network_isolated: bool = False  # student code ran without network (see grade/isolation/namespaces.py)
    sandbox: str = ""               # split runner: the kernel's isolation (jail.isolation_of)
    seconds: float = 0.0
    log: str = ""
    notes: list[str] = field(default_factory=list)  # for the student: cells stopped, restarts
    protections: list[str] = field(default_factory=list)  # split runner: what held the kernel
    limits_reached: list[str] = field(default_factory=list)  # split runner: from the cgroups' counters
    phases: dict[str, float] = field(default_factory=dict)  # split runner: seconds per phase (profiling)
    dataset: dict[str, Any] = field(default_factory=dict)  # split runner: the summary of the data judged on
    hooks: list[str] = field(default_factory=list)  # split runner: interpreter hooks the notebook installs
    # set by the grader, never from text: the kernel failed before any student code ran, so
    # grading again may succeed
    retryable: bool = False
    worker: str = ""  # where it was graded: ``local``, or the Dask worker's address

    def failure_summary(self) -> str:
        if self.error:
            return self.error
        return "\n".join(f"  {c.question}/{c.name}: {c.message}" for c in self.cases
                         if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradingOutcome:
        cases = [CaseResult(**case) for case in data.pop("cases", [])]
        return cls(cases=cases, **data)


class Status(StrEnum):
    """A submission's status in the gradebook (a str: it is written as its value)."""

    GRADED = "graded"    # every check ran; its score is final
    ERROR = "error"      # grading could not finish (the message says why)
    TIMEOUT = "timeout"  # the notebook ran past the submission's time limit
    INVALID = "invalid"  # the file could not be graded at all (intake said why)


@dataclass
class SubmissionResult:
    assignment: str
    submission: str
    source: str
    status: Status
    score: float = 0.0
    possible: float = 0.0
    question_scores: dict[str, float | None] = field(default_factory=dict)
    cases: list[CaseResult] = field(default_factory=list)
    message: str = ""          # why it is not simply `graded`
    dataset: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    network_isolated: bool = False  # student code ran in a network namespace of its own
    sandbox: str = ""               # split runner: view, user or none (grade/isolation/jail.py)
    worker: str = ""                # who graded it: "local", or a Dask worker's address
    notes: list[str] = field(default_factory=list)  # what happened while the notebook ran
    protections: list[str] = field(default_factory=list)  # what held the kernel (split runner)
    limits_reached: list[str] = field(default_factory=list)  # limits the submission ran into
    hooks: list[str] = field(default_factory=list)  # interpreter hooks it installs: for a person

    def failed_cases(self) -> list[CaseResult]:
        return [case for case in self.cases if not case.passed]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GradeRun:
    assignment: str
    out_dir: Path
    results: list[SubmissionResult] = field(default_factory=list)
    resumed: int = 0  # results taken from the journal instead of grading again
    only: tuple[str, ...] = ()  # `grade --only`: the questions graded again (batch.regrade)
    regraded: int = 0  # results made by grading only those again, the other questions' kept
    graded: int = 0  # submissions this run sent to grading (regraded ones included; not those intake refused)
    # kept results some of whose questions an earlier autograder zip judged (an --only run
    # regraded the others): submission -> those questions
    earlier_zip_questions: dict[str, list[str]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for result in self.results:
            counted[result.status] = counted.get(result.status, 0) + 1
        return counted
