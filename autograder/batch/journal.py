"""The grader's journal: one record per submission, written the moment its result is known.

A batch of 200 notebooks takes an hour; a laptop lid, a ``kill -9`` or a power cut must
not cost that hour. Each record is written atomically (temporary file, fsync, rename), so a
record is either complete or absent, and it carries the SHA-256 of the file it graded: the
same command run again takes every record whose file is unchanged and grades only the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

from autograder.grade.intake import Submission
from autograder.results import CaseResult, SubmissionResult

JOURNAL_DIR = ".journal"


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
        try:
            record = json.loads(self.path(submission.name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (record.get("source_sha256") != digest or record.get("source") != str(submission.path)
                or record.get("grader", "") != self.grader):
            return None
        return result_from_dict(record["result"])

    def record(self, result: SubmissionResult, digest: str) -> None:
        from autograder.report import write_atomically
        record = {"source": result.source, "source_sha256": digest, "grader": self.grader,
                  "result": result.to_dict()}
        write_atomically(self.path(result.submission), json.dumps(record))


def result_from_dict(data: dict) -> SubmissionResult:
    data = dict(data)
    data["cases"] = [CaseResult(**case) for case in data.get("cases", [])]
    return SubmissionResult(**data)
