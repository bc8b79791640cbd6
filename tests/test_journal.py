"""The journal reuses a result only for the same file graded by the same grader."""

from __future__ import annotations

from autograder.batch.journal import Journal
from autograder.grade.intake import Submission
from autograder.results import SubmissionResult


def recorded_by(tmp_path, writer: str, reader: str, content: bytes = b"{}"):
    notebook = tmp_path / "alice.ipynb"
    notebook.write_bytes(content)
    submission = Submission(name="alice", path=notebook)
    result = SubmissionResult(assignment="toy", submission="alice", source=str(notebook), status="graded",
                              score=2.0, possible=2.0)
    Journal(tmp_path / "out", grader=writer).record(result, "sha-of-alice")
    return Journal(tmp_path / "out", grader=reader).recorded(submission, "sha-of-alice")


def test_the_same_grader_reuses_the_result(tmp_path):
    kept = recorded_by(tmp_path, "split:zip-1", "split:zip-1")
    assert kept is not None
    assert kept.score == 2.0


def test_a_rebuilt_zip_or_another_runner_grades_again(tmp_path):
    assert recorded_by(tmp_path, "split:zip-1", "split:zip-2") is None
    assert recorded_by(tmp_path, "otter:zip-1", "split:zip-1") is None
