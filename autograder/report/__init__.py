"""Everything a grading run writes: for the TA, for each student, and for Gradescope.

* ``gradebook.csv``: one row per submission (SPEC §6 columns, questions in order);
* ``results/<submission>.json``: Gradescope's results.json schema, one test per check;
* ``feedback/<submission>.md``: what passed, what failed and what to change;
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
from autograder.report.feedback import feedback_markdown, gradescope_results
from autograder.report.html import render_report
from autograder.results import SubmissionResult

if TYPE_CHECKING:
    from autograder.results import GradeRun

GRADEBOOK_COLUMNS = ("submission", "status", "total", "possible")


def write_outputs(run: GradeRun) -> None:
    """The end of a batch: the files about all submissions. Each submission's own files were
    written when its result was known (``write_submission_files``)."""
    out = run.out_dir
    write_atomically(out / "gradebook.csv", gradebook(run.assignment, run.results).to_csv(index=False))
    write_atomically(out / "report.html", render_report(run.assignment, run.results))


def submission_files(out: Path, result: SubmissionResult) -> tuple[Path, Path]:
    """Where one submission's results (Gradescope's JSON) and feedback (Markdown) go."""
    return out / "results" / f"{result.submission}.json", out / "feedback" / f"{result.submission}.md"


def write_submission_files(out: Path, result: SubmissionResult) -> None:
    results, feedback = submission_files(out, result)
    write_atomically(results, json.dumps(gradescope_results(result), indent=2))
    write_atomically(feedback, feedback_markdown(result))


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
