"""Everything a grading run writes: for the TA, for each student, and for Gradescope.

* ``gradebook.csv``: one row per submission (SPEC §6 columns, questions in order);
* ``results/<submission>.json``: Gradescope's results.json schema, one test per check;
* ``feedback/<submission>.md``: what passed, what failed and what to change, and beside it
  ``feedback/<submission>.html``, the same rendered (the report links to it);
* ``report.html``: plots and the submissions that need a person.

Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from autograder.assignment import questions
from autograder.report.corrections import Corrections
from autograder.report.feedback import feedback_markdown, gradescope_results
from autograder.report.html import feedback_page, feedback_page_path, render_report
from autograder.results import SubmissionResult

if TYPE_CHECKING:
    from autograder.results import GradeRun

GRADEBOOK_COLUMNS = ("submission", "status", "total", "possible")


def write_outputs(run: GradeRun, corrections: Corrections | None = None) -> None:
    """The end of a batch: the files about all submissions, with the TA's ``corrections``
    (``report.corrections``: manual scores, overrides) applied. Each submission's own files were
    written when its result was known (``write_submission_files``); those that differ from what
    they should hold now (a correction added or removed since) are written again."""
    out = run.out_dir
    corrections = corrections or Corrections()
    results = [corrections.apply(result) for result in run.results]
    for result in results:
        _write_files_of(out, result)
    write_atomically(out / "gradebook.csv", gradebook(run.assignment, results).to_csv(index=False))
    write_atomically(out / "report.html", render_report(run.assignment, results, out))


def submission_files(out: Path, result: SubmissionResult) -> tuple[Path, Path]:
    """Where one submission's results (Gradescope's JSON) and feedback (Markdown) go."""
    return out / "results" / f"{result.submission}.json", out / "feedback" / f"{result.submission}.md"


def write_submission_files(out: Path, result: SubmissionResult, corrections: Corrections | None = None) -> None:
    """One submission's results and feedback, with the TA's corrections applied."""
    _write_files_of(out, (corrections or Corrections()).apply(result))


def _write_files_of(out: Path, result: SubmissionResult) -> None:
    results, feedback = submission_files(out, result)
    _write_if_changed(results, json.dumps(gradescope_results(result), indent=2))
    if _write_if_changed(feedback, feedback_markdown(result)) or not feedback_page_path(feedback).is_file():
        write_feedback_page(out, result)


def _write_if_changed(path: Path, text: str) -> bool:
    """``write_atomically``, unless the file already holds ``text`` (a batch that grades nothing
    new compares each submission's files instead of writing them all again); True if written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    write_atomically(path, text)
    return True


def write_feedback_page(out: Path, result: SubmissionResult) -> None:
    """``feedback/<submission>.html``: the Markdown file as written, rendered."""
    feedback = submission_files(out, result)[1]
    write_atomically(feedback_page_path(feedback), feedback_page(result, feedback.read_text(encoding="utf-8")))


def gradebook(assignment: str, results: list[SubmissionResult]) -> pd.DataFrame:
    names = [q.name for q in questions(assignment)]
    rows = [{"submission": r.submission, "status": r.status, "total": r.score,
             "possible": r.possible, **{n: r.question_scores.get(n) for n in names}}
            for r in sorted(results, key=lambda r: r.submission)]
    return pd.DataFrame(rows, columns=[*GRADEBOOK_COLUMNS, *names])


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
