"""``autograder grade``: a folder of submissions → gradebook, results, feedback, report.

The steps, each in its own module:

1. ``intake``: find the submissions below the given paths and validate each one;
2. ``otter_runner``: grade each valid one with the assignment's autograder zip, in a child
   process with a time limit;
3. ``results``: turn Otter's per-case results into one result per submission, with a
   status from SPEC §6 (``graded``, ``error``, ``timeout``, ``invalid``);
4. ``journal``: record each result atomically as soon as it is known, so that running the
   same command again after a crash grades only what is missing or changed;
5. ``autograder.report``: write the gradebook, the per-submission JSON and feedback, and the
   HTML report.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from autograder.config import setting
from autograder.grade.intake import Submission, collect_submissions
from autograder.grade.journal import Journal, file_digest
from autograder.grade.otter_runner import grade_with_otter
from autograder.grade.sandbox import Limits
from autograder.grade.results import SubmissionResult, from_otter, invalid_result


class GradingSetupError(RuntimeError):
    """Grading cannot start (no autograder zip, unknown assignment)."""


@dataclass
class GradeRun:
    assignment: str
    out_dir: Path
    results: list[SubmissionResult] = field(default_factory=list)
    resumed: int = 0  # results taken from the journal instead of grading again

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for result in self.results:
            counted[result.status] = counted.get(result.status, 0) + 1
        return counted


def autograder_zip(assignment: str, dist: Path) -> Path:
    path = Path(dist) / assignment / "autograder" / f"{assignment}-autograder.zip"
    if not path.is_file():
        raise GradingSetupError(f"no autograder zip at {path}: run `autograder build {assignment}` first")
    return path


def grade_submissions(assignment: str, paths: list[Path], out_dir: Path, *, dist: Path = Path("dist"),
                      jobs: int | None = None, timeout: float | None = None, force: bool = False,
                      on_result: Callable[[SubmissionResult], None] | None = None) -> GradeRun:
    """Grade every submission found below ``paths`` and write all outputs to ``out_dir``.

    Results already in ``out_dir``'s journal for an unchanged file are reused unless
    ``force``; every new result is journaled the moment it is known.
    """
    from autograder.report import write_outputs, write_submission_files
    zip_path = autograder_zip(assignment, dist)
    dataset = setting(assignment, "grading", "dataset")
    timeout = timeout or float(setting(assignment, "grading", "submission_timeout"))
    submissions = collect_submissions([Path(p) for p in paths], assignment)
    jobs = jobs or os.cpu_count() or 1
    threads = max(1, (os.cpu_count() or 1) // jobs)
    limits = Limits.from_config(setting(assignment, "limits"))
    journal = Journal(out_dir)
    run = GradeRun(assignment=assignment, out_dir=Path(out_dir))

    def grade(submission: Submission) -> tuple[SubmissionResult, bool]:
        digest = file_digest(submission.path)
        kept = None if force else journal.recorded(submission, digest)
        result = kept or _grade_one(assignment, submission, zip_path, timeout, dataset, threads, limits)
        if kept is None:
            journal.record(result, digest)
            write_submission_files(run.out_dir, result)
        if on_result:
            on_result(result)
        return result, kept is not None

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        graded = list(pool.map(grade, submissions))
    run.results = [result for result, _ in graded]
    run.resumed = sum(kept for _, kept in graded)
    write_outputs(run)
    return run


def _grade_one(assignment: str, submission: Submission, zip_path: Path, timeout: float,
               dataset: str, threads: int, limits: Limits) -> SubmissionResult:
    if not submission.valid:
        return invalid_result(assignment, submission)
    graded = grade_with_otter(submission.path, zip_path, timeout=timeout, dataset=dataset,
                              threads=threads, limits=limits)
    return from_otter(assignment, submission, graded, dataset)
