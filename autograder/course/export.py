"""``autograder export``: the scores of an ``autograder grade`` folder in the file an LMS imports
(SPEC §8), and the list of everything that could not be matched.

* ``canvas``: Canvas' gradebook import CSV, made from its gradebook export (the roster): the
  student columns through ``Section``, the ``Points Possible`` row when the export has one, and
  one column for the assignment: the export's own ``Title (id)`` column when one is titled like
  the assignment (or ``--column``), so that the import updates it; else a new title, which
  Canvas' import offers to create. Canvas' importer (``GradebookImporter``) reads the student
  from ``ID``, then SIS ids, then the name.
* ``gradescope``: a CSV for Gradescope's score upload, in the columns of its own grade
  download: the roster's name columns, ``SID``, ``Email`` and ``Total Score``, one row per
  student with a score.
* ``csv``: the roster as it was, with the assignment's column filled in.

A student without a score keeps the value the roster already had in that column (Canvas'
import changes only the cells that differ, so a blank would erase a score entered by hand);
so does a submission whose grading did not finish (``error``): exporting its 0 would look like
a grade. Both are listed with the files no student owns in ``<out>.unmatched.csv`` and printed.
Everything is read and matched before anything is written; the two files are each written to a
temporary name and renamed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course.roster import (
    ExportError,
    ExportFormat,
    GradedFile,
    Match,
    Matching,
    Roster,
    Unmatched,
    find_submission_metadata,
    match_canvas,
    match_file_column,
    match_gradescope,
    read_graded,
    read_roster,
    read_submission_metadata,
)
from autograder.report import write_atomically
from autograder.results import Status

GRADESCOPE_SCORE_COLUMN = "Total Score"  # as Gradescope's own grade download names it
LISTING_COLUMNS = ("kind", "student", "submission", "file", "reason")
_CANVAS_TITLE = re.compile(r"(?P<title>.*?)\s*\((?P<id>\d+)\)")  # Assignment#title_with_id


@dataclass
class ExportReport:
    """What an export wrote and what it could not place, for the TA to read."""

    format: ExportFormat
    out: Path
    listing: Path
    column: str
    new_column: bool  # Canvas: no column of the roster is the assignment's; the import creates one
    exported: list[Match] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)

    @property
    def late(self) -> list[Match]:
        return [match for match in self.exported if match.late]

    def summary(self) -> str:
        late = f" ({len(self.late)} late, as Canvas named them)" if self.late else ""
        kinds = {kind: sum(item.kind == kind for item in self.unmatched) for kind in Unmatched.KINDS}
        listed = "; ".join(f"{n} {kind if n == 1 else Unmatched.KINDS[kind]}" for kind, n in kinds.items() if n)
        new = (f"; Canvas will create the column {self.column!r} on import (no column of the roster is titled "
               "like the assignment: --column names one)" if self.new_column else "")
        return (f"wrote {self.out}: {len(self.exported)} scores in column {self.column!r}{late}{new}\n"
                + (f"{listed}: listed in {self.listing}" if listed else f"nothing unmatched ({self.listing})"))

    def lines(self) -> list[str]:
        """One line per unmatched item, for the terminal."""
        return [f"{item.kind}: {_who(item)}: {item.reason}" for item in self.unmatched]


def export_scores(assignment: str, out_dir: Path, roster_path: Path, fmt: ExportFormat, out: Path,
                  metadata: Path | None = None, column: str | None = None) -> ExportReport:
    """Match ``out_dir``'s graded files to ``roster_path``'s students and write ``out`` in
    ``fmt``'s import format, with the unmatched listed beside it. Raises ExportError (or its
    RosterError, with a file and line) before writing anything."""
    listing = out.with_name(f"{out.stem}.unmatched.csv")
    if roster_path.resolve() in (out.resolve(), listing.resolve()):
        raise ExportError(f"--out {out} would overwrite the roster {roster_path} (with {out} or {listing}); "
                          "write to another file")
    graded = read_graded(assignment, out_dir)
    roster = read_roster(roster_path, fmt)
    if fmt is ExportFormat.CANVAS:
        matching = match_canvas(roster, graded)
    elif fmt is ExportFormat.GRADESCOPE:
        metadata = metadata or find_submission_metadata(graded)
        matching = match_gradescope(roster, graded, read_submission_metadata(metadata))
    else:
        matching = match_file_column(roster, graded)
    exported, unfinished = _exportable(matching)
    if fmt is ExportFormat.CANVAS:
        header, rows, title, new = _canvas_table(roster, exported, assignment, column, graded)
    elif fmt is ExportFormat.GRADESCOPE:
        header, rows, title, new = _gradescope_table(roster, exported, column)
    else:
        header, rows, title, new = _roster_table(roster, exported, column or assignment)
    order = list(Unmatched.KINDS)
    unmatched = sorted([*matching.unmatched, *unfinished], key=lambda item: order.index(item.kind))
    report = ExportReport(fmt, out, listing, title, new, exported, unmatched)
    write_atomically(out, _csv_text(header, rows))
    write_atomically(listing, _csv_text(LISTING_COLUMNS, [
        (item.kind, item.student.label() if item.student else "", item.graded.submission if item.graded else "",
         item.graded.source if item.graded else (item.student.file if item.student else ""), item.reason)
        for item in report.unmatched]))
    return report


def _exportable(matching: Matching) -> tuple[list[Match], list[Unmatched]]:
    """The matches whose total is a score; the others (grading did not finish) to be listed."""
    exported, unfinished = [], []
    for match in matching.matches:
        if match.graded.status == Status.ERROR or match.graded.total is None:
            unfinished.append(Unmatched(f"grading did not finish ({match.graded.status}): grade it again, "
                                        "then export; the roster's value is kept", match.graded, match.student))
        else:
            exported.append(match)
    return exported, unfinished


def _canvas_table(roster: Roster, exported: Sequence[Match], assignment: str, column: str | None,
                  graded: Sequence[GradedFile]) -> tuple[list[str], list[list[str]], str, bool]:
    wanted = column or assignment
    grades = roster.header[roster.identity:]
    hits = [index for index, title in enumerate(grades)
            if title == wanted or ((found := _CANVAS_TITLE.fullmatch(title)) and found["title"] == wanted)]
    if len(hits) > 1:
        raise ExportError(f"{roster.path.name} has {len(hits)} columns titled {wanted!r} "
                          f"({', '.join(grades[i] for i in hits)}); give --column with the one to fill")
    at = roster.identity + hits[0] if hits else None
    title = roster.header[at] if at is not None else wanted
    header = [*roster.header[:roster.identity], title]
    rows = []
    if roster.points_possible is not None:
        possible = max((row.possible for row in graded if row.possible is not None), default=None)
        value = roster.points_possible[at] if at is not None else (_points(possible) if possible is not None else "")
        rows.append([*roster.points_possible[:roster.identity], value])
    scores = {match.student.key: match.graded.total for match in exported}
    for student in roster.students:
        score = scores.get(student.key)
        kept = student.row[at] if at is not None else ""
        rows.append([*student.row[:roster.identity], _points(score) if score is not None else kept])
    return header, rows, title, at is None


def _gradescope_table(roster: Roster, exported: Sequence[Match],
                      column: str | None) -> tuple[list[str], list[list[str]], str, bool]:
    names = ["Name"] if "Name" in roster.header else ["First Name", "Last Name"]
    identity = [*names, *(["SID"] if "SID" in roster.header else []), "Email"]
    at = [roster.header.index(name) for name in identity]
    title = column or GRADESCOPE_SCORE_COLUMN
    scores = {match.student.key: match.graded.total for match in exported}
    rows = [[student.row[i] for i in at] + [_points(scores[student.key])]
            for student in roster.students if scores.get(student.key) is not None]
    return [*identity, title], rows, title, False


def _roster_table(roster: Roster, exported: Sequence[Match],
                  title: str) -> tuple[list[str], list[list[str]], str, bool]:
    header = list(roster.header)
    if title in header:
        at = header.index(title)
    else:
        header.append(title)
        at = len(header) - 1
    scores = {match.student.key: match.graded.total for match in exported}
    rows = []
    for student in roster.students:
        row = [*student.row, ""][:len(header)]
        score = scores.get(student.key)
        if score is not None:
            row[at] = _points(score)
        rows.append(row)
    return header, rows, title, False


def _points(value: float | None) -> str:
    """27 rather than 27.0; every digit a float has otherwise (LMSs round for display)."""
    return "" if value is None else f"{value:.15g}"


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _who(item: Unmatched) -> str:
    parts = []
    if item.student is not None:
        parts.append(f"{item.student.label()} (roster line {item.student.line})")
    if item.graded is not None:
        parts.append(item.graded.source)
    return ", ".join(parts)
