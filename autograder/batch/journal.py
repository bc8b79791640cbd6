"""The grader's journal: one record per submission, written the moment its result is known.

A batch of 200 notebooks takes an hour; a laptop lid, a ``kill -9`` or a power cut must
not cost that hour. Each record is written atomically (temporary file, fsync, rename), so a
record is either complete or absent, and it carries the SHA-256 of the file it graded: the
same command run again takes every record whose file is unchanged and grades only the rest.

A record made by ``autograder grade --only`` (``batch.regrade``) also says which grader judged
each question (``graders``) and which questions each ``--only`` run regraded (``regraded``), so
that the same ``--only`` command run again after a crash regrades only the submissions whose
record does not say so yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.grade.intake import Submission
from autograder.results import CaseResult, SubmissionResult

JOURNAL_DIR = ".journal"


@dataclass(frozen=True)
class JournalEntry:
    """One submission's record: its result, the grader that wrote it, and, for a record that
    ``--only`` made, the grader of each question and the ``--only`` runs, oldest first."""

    result: SubmissionResult
    grader: str
    graders: dict[str, str] = field(default_factory=dict)  # question -> grader; absent: ``grader``
    regraded: list[dict[str, Any]] = field(default_factory=list)  # {"questions": [...], "grader": ...} per run

    def graded_by(self, question: str) -> str:
        return self.graders.get(question, self.grader)

    def questions_graded_by_others(self) -> list[str]:
        """The questions whose results another grader (an earlier autograder zip) judged than
        the one that wrote the record, in the result's order: those an ``--only`` run kept."""
        return [question for question in self.result.question_scores if self.graded_by(question) != self.grader]


class Journal:
    """``grader`` names what grades (the autograder zip's digest and the runner): a result
    recorded by another grader (a rebuilt zip, another runner) is not reused."""

    def __init__(self, out_dir: Path, grader: str = "") -> None:
        self.folder = Path(out_dir) / JOURNAL_DIR
        self.grader = grader

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def recorded(self, submission: Submission, digest: str) -> SubmissionResult | None:
        """The recorded result of this exact file, or None if it must be graded (again)."""
        entry = self.entry(submission, digest)
        return entry.result if entry is not None and entry.grader == self.grader else None

    def entry(self, submission: Submission, digest: str) -> JournalEntry | None:
        """The record of this exact file, whichever grader wrote it; None if there is none."""
        try:
            record = json.loads(self.path(submission.name).read_text(encoding="utf-8"))
            if record.get("source_sha256") != digest or record.get("source") != str(submission.path):
                return None
            return JournalEntry(result_from_dict(record["result"]), str(record.get("grader", "")),
                                dict(record.get("graders", {})), list(record.get("regraded", [])))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # unreadable: grade it again
            return None

    def record(self, result: SubmissionResult, digest: str, *, regrading: JournalEntry | None = None,
               only: tuple[str, ...] = ()) -> None:
        """``regrading``: the record that ``only``'s results were merged into (``--only``); the
        new record says who judged each question, and adds this run to its ``regraded``."""
        from autograder.report import write_atomically
        record: dict[str, Any] = {"source": result.source, "source_sha256": digest, "grader": self.grader,
                                  "result": result.to_dict()}
        if regrading is not None:
            graders = {case.question: regrading.graded_by(case.question) for case in result.cases}
            record["graders"] = {**graders, **{question: self.grader for question in only}}
            record["regraded"] = [*regrading.regraded, {"questions": list(only), "grader": self.grader}]
        write_atomically(self.path(result.submission), json.dumps(record))


def result_from_dict(data: dict) -> SubmissionResult:
    data = dict(data)
    data["cases"] = [CaseResult(**case) for case in data.get("cases", [])]
    return SubmissionResult(**data)
