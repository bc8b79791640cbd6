"""Who handed in what: the LMS's roster, the names its downloads give files, and the match
between the rows of an ``autograder grade`` folder and the students (SPEC §8).

Three ways to know whose file a file is:

* **Canvas**: "Download Submissions" names each file ``<name>_<user id>_<file id>_<file>``, and
  ``<name>_LATE_<user id>_…`` when Canvas counts the submission late (``get_filename`` in
  canvas-lms' ``lib/content_zipper.rb``; older Canvas lowercased the whole name, hence ``late``
  too). ``<name>`` is the sortable name stripped of everything but word characters, so only the
  user id identifies the student: it is the ``ID`` column of the gradebook export that serves as
  the roster. A file the student uploads again under the same name is stored as ``<base>-1.<ext>``,
  ``-2``… (``Attachment.make_unique_filename``); with anonymous grading the name is
  ``anon_<anonymous id>_<file id>_<file>`` and says nothing about the student.
* **Gradescope**: "Export Submissions" is one folder ``submission_<id>/`` per submission beside
  ``submission_metadata.yml``, which maps each folder to its ``:submitters:`` (``:name:``,
  ``:sid:``, ``:email:``); a group submission has several.
* **Any LMS**: a roster with a ``file`` column naming each student's file.

A roster is a file a TA may edit by hand, so a malformed one (a missing column, the same
student twice, a row with the wrong number of fields, bytes that are not UTF-8) stops the export
with the file's name and line number (:class:`RosterError`) before anything is written.
Nothing found is dropped: a file no student owns, a student with no file, and a student's file
that is not the one exported each become an :class:`Unmatched` with a sentence saying why.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePath
from typing import Any, ClassVar

import yaml

from autograder.report import GRADEBOOK_COLUMNS, read_json
from autograder.report.csvfile import csv_rows
from autograder.results import Status


class ExportFormat(StrEnum):
    """The LMS an export is for: which roster it reads, how it matches, which file it writes."""

    CANVAS = "canvas"
    GRADESCOPE = "gradescope"
    CSV = "csv"


class ExportError(ValueError):
    """The export cannot be made as asked (a grading folder or a metadata file is missing or not
    what it should be); nothing was written."""


class RosterError(ExportError):
    """A file a person edits (the roster, Gradescope's metadata) is malformed; the message starts
    with ``FILE:LINE:`` so that it can be found and fixed."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


@dataclass(frozen=True)
class Student:
    """One student of a roster, with the cells of their row kept to be written back unchanged."""

    key: str    # what the LMS knows them by: Canvas' user ID, Gradescope's email (lowercased), `student`
    name: str
    line: int   # of the roster, for the messages
    row: tuple[str, ...]
    sid: str = ""
    email: str = ""
    file: str = ""  # csv rosters: the file named for them ("" for none)

    def label(self) -> str:
        """How a person finds them in the LMS: name and the key it matches on."""
        return f"{self.name} ({self.key})" if self.name and self.name != self.key else self.key


@dataclass(frozen=True)
class Roster:
    path: Path
    format: ExportFormat
    header: tuple[str, ...]
    students: tuple[Student, ...]
    identity: int = 0  # Canvas: the columns through `Section` are the student's, the rest grades
    points_possible: tuple[str, ...] | None = None  # Canvas' "Points Possible" row, when the export has one


@dataclass(frozen=True)
class GradedFile:
    """One row of ``gradebook.csv``, with the file it came from (its results JSON's ``source``)."""

    submission: str
    source: str
    status: str
    total: float | None
    possible: float | None

    @property
    def file_name(self) -> str:
        return PurePath(self.source).name or self.submission


@dataclass(frozen=True)
class Match:
    """The file whose score a student gets."""

    student: Student
    graded: GradedFile
    late: bool = False  # Canvas named it `late`
    note: str = ""      # what a person may want to know: a resubmission, a group submission


@dataclass(frozen=True)
class Unmatched:
    """A graded file no student owns (``student`` None), a student with no file (``graded``
    None), or a student's file that is not the one exported (both set), and why."""

    reason: str
    graded: GradedFile | None = None
    student: Student | None = None

    # each kind and its plural, in the order they are listed
    KINDS: ClassVar[dict[str, str]] = {"file without a student": "files without a student",
                                       "student without a submission": "students without a submission",
                                       "file not exported": "files not exported"}

    @property
    def kind(self) -> str:
        if self.student is None:
            return "file without a student"
        if self.graded is None:
            return "student without a submission"
        return "file not exported"


@dataclass
class Matching:
    matches: list[Match] = field(default_factory=list)      # one per student, in roster order
    unmatched: list[Unmatched] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# The grading folder

def read_graded(assignment: str, out_dir: Path) -> list[GradedFile]:
    """The rows of ``DIR/gradebook.csv``, each with the file it graded (from ``DIR/results/``).

    The gradebook's ``submission`` is the graded file's path below the folder that was given,
    ``__``-joined and without its suffix (grade/intake.py), which loses the suffix and the
    folders; the results JSON keeps the path as given, so matching reads it from there."""
    path = out_dir / "gradebook.csv"
    if not path.is_file():
        raise ExportError(f"{path} does not exist: give the folder `autograder grade … --out` wrote")
    rows = _csv_rows(path)
    if not rows:
        raise RosterError(path, 1, "is empty: a gradebook starts with a header row")
    header = [cell.strip() for cell in rows[0][1]]
    missing = [name for name in GRADEBOOK_COLUMNS if name not in header]
    if missing:
        raise RosterError(path, 1, f"is not a gradebook: no column {', '.join(missing)}")
    at = {name: header.index(name) for name in GRADEBOOK_COLUMNS}
    graded = []
    for line, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise RosterError(path, line, f"has {len(row)} fields, the header {len(header)}")
        submission = row[at["submission"]]
        extra = _extra_data(out_dir / "results" / f"{submission}.json")
        graded_for = extra.get("assignment")
        if graded_for and graded_for != assignment:
            raise ExportError(f"{out_dir} holds grades of {graded_for!r} ({submission}), not of {assignment!r}")
        graded.append(GradedFile(submission=submission, source=str(extra.get("source") or submission),
                                 status=row[at["status"]], total=_number(row[at["total"]], path, line),
                                 possible=_number(row[at["possible"]], path, line)))
    return graded


def _extra_data(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = read_json(path)
    except ValueError as error:
        raise ExportError(f"{path} is not JSON ({error}); grade the folder again") from error
    extra = data.get("extra_data") if isinstance(data, dict) else None
    return extra if isinstance(extra, dict) else {}


def _number(text: str, path: Path, line: int) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise RosterError(path, line, f"{text!r} is not a number") from None


# ---------------------------------------------------------------------------------------------
# Rosters

def read_roster(path: Path, fmt: ExportFormat) -> Roster:
    """The roster at ``path`` as ``fmt``'s LMS exports it; RosterError (file, line) if malformed."""
    rows = _csv_rows(path)
    if not rows:
        raise RosterError(path, 1, "is empty: a roster starts with a header row")
    header = tuple(cell.strip() for cell in rows[0][1])
    seen: dict[str, int] = {}
    for index, name in enumerate(header):
        if name and name in seen:
            raise RosterError(path, 1, f"column {name!r} appears twice (columns {seen[name] + 1} and {index + 1})")
        seen[name] = index
    body = []
    for line, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue  # a blank line, or one of separators only (Canvas skips them too)
        if len(row) != len(header):
            raise RosterError(path, line, f"has {len(row)} fields where the header has {len(header)}")
        body.append((line, tuple(row)))
    reader = {ExportFormat.CANVAS: _canvas_roster, ExportFormat.GRADESCOPE: _gradescope_roster,
              ExportFormat.CSV: _csv_roster}[fmt]
    return reader(path, header, body)


def _csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Every row of a CSV file with the line it starts on (``report.csvfile``, the reader of every
    file a person edits), its problems raised as ``RosterError``."""
    return csv_rows(path, RosterError)


def _require(path: Path, header: Sequence[str], names: Iterable[str], what: str) -> None:
    missing = [name for name in names if name not in header]
    if missing:
        raise RosterError(path, 1, f"has no column {', '.join(repr(m) for m in missing)} ({what})")


def _unique(path: Path, seen: dict[str, int], value: str, line: int, what: str) -> None:
    if value in seen:
        raise RosterError(path, line, f"{what} {value!r} appears twice (also line {seen[value]})")
    seen[value] = line


CANVAS_NAME_COLUMNS = (("Student",), ("LastName", "FirstName"))  # GradebookExporter's two layouts


def _canvas_roster(path: Path, header: tuple[str, ...], body: list[tuple[int, tuple[str, ...]]]) -> Roster:
    """Canvas' gradebook export (GradebookExporter): ``Student`` (or ``LastName``,
    ``FirstName``), ``ID``, ``SIS User ID`` (not in every export), ``SIS Login ID``, maybe
    ``Integration ID`` and ``Root Account``, ``Section``, then custom columns and one column
    ``Title (id)`` per assignment; rows ``Points Possible`` and ``Manual Posting`` carry no
    student."""
    names = next((n for n in CANVAS_NAME_COLUMNS if header[:len(n)] == n), None)
    if names is None or header[len(names):len(names) + 1] != ("ID",):
        raise RosterError(path, 1, "is not a Canvas gradebook export: its first columns are `Student, ID` "
                                   "(Grades → Export → Export Entire Gradebook)")
    _require(path, header, ("SIS Login ID", "Section"), "Canvas' gradebook export has both")
    identity = header.index("Section") + 1
    at = {name: header.index(name) for name in header}
    points_possible = None
    students = []
    seen: dict[str, int] = {}
    for line, row in body:
        if "Points Possible" in row[0]:
            points_possible = row
            continue
        if all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", cell, re.IGNORECASE) for cell in row):
            continue
        user_id = row[at["ID"]].strip()
        if not user_id.isdigit():
            raise RosterError(path, line, f"ID {user_id!r} is not a Canvas user id (a number)")
        _unique(path, seen, user_id, line, "student ID")
        name = row[0].strip() if names == ("Student",) else f"{row[1].strip()} {row[0].strip()}".strip()
        students.append(Student(key=user_id, name=name, line=line, row=row,
                                sid=row[at["SIS User ID"]].strip() if "SIS User ID" in at else ""))
    return Roster(path, ExportFormat.CANVAS, header, tuple(students), identity, points_possible)


def _gradescope_roster(path: Path, header: tuple[str, ...], body: list[tuple[int, tuple[str, ...]]]) -> Roster:
    """Gradescope's roster download: ``First Name``, ``Last Name`` (or ``Name``), ``SID``,
    ``Email``, ``Role``, ``Sections``; only students are kept (staff submit nothing)."""
    _require(path, header, ("Email",), "Gradescope matches students by email")
    if "Name" not in header:
        _require(path, header, ("First Name", "Last Name"), "or one column `Name`")
    at = {name: header.index(name) for name in header}
    students = []
    emails: dict[str, int] = {}
    sids: dict[str, int] = {}
    for line, row in body:
        if "Role" in at and row[at["Role"]].strip().lower() not in ("", "student"):
            continue
        email = row[at["Email"]].strip()
        if not email:
            raise RosterError(path, line, "has no email; Gradescope needs one per student")
        _unique(path, emails, email.lower(), line, "email")
        sid = row[at["SID"]].strip() if "SID" in at else ""
        if sid:
            _unique(path, sids, sid, line, "SID")
        name = (row[at["Name"]].strip() if "Name" in at
                else f"{row[at['First Name']].strip()} {row[at['Last Name']].strip()}".strip())
        students.append(Student(key=email.lower(), name=name, line=line, row=row, sid=sid, email=email))
    return Roster(path, ExportFormat.GRADESCOPE, header, tuple(students))


def _csv_roster(path: Path, header: tuple[str, ...], body: list[tuple[int, tuple[str, ...]]]) -> Roster:
    """Any LMS: a column ``student`` (whatever identifies them there) and a column ``file`` (their
    file as graded: its name, its path, or the gradebook's submission; empty for none)."""
    lowered = tuple(name.lower() for name in header)
    _require(path, lowered, ("student", "file"), "`student` identifies them, `file` names their submission")
    student_at, file_at = lowered.index("student"), lowered.index("file")
    students = []
    keys: dict[str, int] = {}
    files: dict[str, int] = {}
    for line, row in body:
        key, file = row[student_at].strip(), row[file_at].strip()
        if not key:
            raise RosterError(path, line, "has no `student`")
        _unique(path, keys, key, line, "student")
        if file:
            _unique(path, files, file, line, "file")
        students.append(Student(key=key, name=key, line=line, row=row, file=file))
    return Roster(path, ExportFormat.CSV, header, tuple(students))


# ---------------------------------------------------------------------------------------------
# Canvas' download names

@dataclass(frozen=True)
class CanvasName:
    """What a file name from Canvas' "Download Submissions" says."""

    user_id: str | None        # None when anonymized
    late: bool
    attachment_id: int | None  # the file's id: later uploads have larger ones (None: text or URL entry)
    file: str                  # the file's name as the student's upload was stored
    original: str              # `file` without the `-N` Canvas adds to a name uploaded again
    resubmission: int = 0      # that N (0: the name was new)
    anonymous_id: str = ""


# <name>[_late]_<user id>_<file id>_<file>, or _text.html / _link.html for text and URL entries;
# the name is matched lazily, so the first `_<digits>_<digits>_` ends it (Canvas removes
# `_<digits>_` from names so that this split is unambiguous)
_CANVAS = re.compile(r"(?P<name>.*?)(?:_(?P<late>(?i:late)))?_(?P<user>\d+)"
                     r"(?:_(?P<attachment>\d+)_(?P<file>.+)|_(?P<entry>text|link)(?:\.html)?)", re.DOTALL)
_CANVAS_ANONYMOUS = re.compile(r"(?:(?P<late>(?i:late))_)?anon_(?P<anon>[A-Za-z0-9]+)"
                               r"(?:_(?P<attachment>\d+)_(?P<file>.+)|_(?P<entry>text|link)(?:\.html)?)", re.DOTALL)
# Attachment.make_unique_filename: the extension is every trailing `.word`, and a name already
# taken becomes `<base>-1<ext>` … `-7`, then `<base>-<uuid><ext>`
_EXTENSION = re.compile(r"(\.[A-Za-z][A-Za-z0-9]*)*(\.[A-Za-z0-9]*)$")
_RENAMED = re.compile(r"(?P<base>.+)-(?:(?P<n>[1-9]\d*)|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


def parse_canvas_name(name: str) -> CanvasName | None:
    """The parts of a Canvas download name, or None if it is not one."""
    anonymous = _CANVAS_ANONYMOUS.fullmatch(name)
    found = anonymous or _CANVAS.fullmatch(name)
    if found is None:
        return None
    file = found["file"] or f"{found['entry']}.html"
    original, resubmission = split_resubmission(file) if found["file"] else (file, 0)
    return CanvasName(user_id=None if anonymous else found["user"], late=bool(found["late"]),
                      attachment_id=int(found["attachment"]) if found["attachment"] else None,
                      file=file, original=original, resubmission=resubmission,
                      anonymous_id=found["anon"] if anonymous else "")


def split_resubmission(file: str) -> tuple[str, int]:
    """``("nn_foundations.ipynb", 2)`` for ``nn_foundations-2.ipynb``: the name the student gave
    and how many times Canvas had to rename it (8 for the random suffix after seven)."""
    extension = _EXTENSION.search(file)
    suffix = extension.group(0) if extension else ""
    renamed = _RENAMED.fullmatch(file[:len(file) - len(suffix)])
    if renamed is None:
        return file, 0
    return renamed["base"] + suffix, int(renamed["n"]) if renamed["n"] else 8


def match_canvas(roster: Roster, graded: Sequence[GradedFile]) -> Matching:
    """Each file to the student whose Canvas user id its name carries."""
    by_id = {student.key: student for student in roster.students}
    candidates: dict[str, list[tuple[Match, int | None]]] = defaultdict(list)
    unmatched = []
    for row in graded:
        name = parse_canvas_name(row.file_name) or parse_canvas_name(row.submission.rsplit("__", 1)[-1])
        if name is None:
            unmatched.append(Unmatched("not a Canvas download name (<name>_<user id>_<file id>_<file>)", row))
        elif name.user_id is None:
            unmatched.append(Unmatched(f"Canvas anonymized it (anon_{name.anonymous_id}): the name carries no "
                                       "user id; download after anonymity is lifted, or use --format csv", row))
        elif name.user_id not in by_id:
            unmatched.append(Unmatched(f"Canvas user id {name.user_id} is not in {roster.path.name}", row))
        else:
            note = (f"resubmitted: Canvas renamed {name.original} to {name.file}" if name.resubmission else "")
            candidates[name.user_id].append((Match(by_id[name.user_id], row, name.late, note), name.attachment_id))
    return _one_per_student(roster, candidates, unmatched, "the later upload (larger Canvas file id) was exported")


# ---------------------------------------------------------------------------------------------
# Gradescope's export

@dataclass(frozen=True)
class Submitter:
    name: str
    sid: str
    email: str


class _MetadataLoader(yaml.SafeLoader):
    """Safe YAML whose timestamps stay text: `:created_at:` is not needed, and a date PyYAML
    cannot build should not stop an export."""


_MetadataLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)

SUBMISSION_FOLDER = re.compile(r"submission_\d+")
METADATA_FILE = "submission_metadata.yml"


def read_submission_metadata(path: Path) -> dict[str, tuple[Submitter, ...]]:
    """Gradescope's ``submission_metadata.yml``: each ``submission_<id>`` folder's submitters.

    It is Ruby's YAML of symbols: ``submission_123:`` → ``:submitters:`` → a list of
    ``:name:``, ``:sid:`` (quoted, leading zeros kept), ``:email:``; beside them ``:created_at:``,
    ``:score:`` (Gradescope's own), ``:status:``, ``:results:`` and ``:history:``, not needed."""
    try:
        loader = _MetadataLoader(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise RosterError(path, None, f"cannot be read as UTF-8 text ({error})") from None
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise RosterError(path, mark.line + 1 if mark else None, f"is not valid YAML ({problem})") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict) or node is None:
        raise RosterError(path, 1, "is not Gradescope's submission metadata (a mapping of submission folders)")
    lines = {str(key.value): key.start_mark.line + 1 for key, _ in node.value}
    folders = {}
    for folder, entry in data.items():
        line = lines.get(str(folder))
        submitters = entry.get(":submitters") if isinstance(entry, dict) else None
        if not isinstance(submitters, list) or not all(isinstance(s, dict) for s in submitters):
            raise RosterError(path, line, f"{folder} has no `:submitters:` list")
        folders[str(folder)] = tuple(Submitter(name=_text(s.get(":name")), sid=_text(s.get(":sid")),
                                               email=_text(s.get(":email"))) for s in submitters)
    return folders


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def submission_folder(row: GradedFile) -> tuple[str, PurePath] | None:
    """The ``submission_<id>`` folder a graded file came from, and the path to it as graded."""
    parts = PurePath(row.source).parts
    for index in range(len(parts) - 2, -1, -1):
        if SUBMISSION_FOLDER.fullmatch(parts[index]):
            return parts[index], PurePath(*parts[:index + 1])
    for part in reversed(row.submission.split("__")[:-1]):
        if SUBMISSION_FOLDER.fullmatch(part):
            return part, PurePath(part)
    return None


def find_submission_metadata(graded: Sequence[GradedFile]) -> Path:
    """The ``submission_metadata.yml`` beside the ``submission_<id>`` folders that were graded
    (the paths in the results are as ``autograder grade`` was given them: relative to where it ran)."""
    found = set()
    for row in graded:
        located = submission_folder(row)
        if located is not None:
            found.add(Path(located[1]).parent / METADATA_FILE)
    existing = sorted(path for path in found if path.is_file())
    if len(existing) == 1:
        return existing[0]
    if not existing:
        raise ExportError("no submission_metadata.yml found beside the graded submission_<id> folders "
                          f"({', '.join(sorted(map(str, found))) or 'none graded'}); give --metadata PATH")
    raise ExportError(f"several submission_metadata.yml ({', '.join(map(str, existing))}); give --metadata PATH")


def match_gradescope(roster: Roster, graded: Sequence[GradedFile],
                     metadata: dict[str, tuple[Submitter, ...]]) -> Matching:
    """Each file to the roster's students among its folder's submitters (by email, then SID):
    every member of a group gets the group's score."""
    by_email = {student.key: student for student in roster.students}
    by_sid = {student.sid: student for student in roster.students if student.sid}
    candidates: dict[str, list[tuple[Match, int | None]]] = defaultdict(list)
    unmatched = []
    for row in graded:
        located = submission_folder(row)
        if located is None:
            unmatched.append(Unmatched("Gradescope's metadata, not a submission" if row.file_name == METADATA_FILE
                                       else "not in a Gradescope submission_<id> folder", row))
            continue
        submitters = metadata.get(located[0])
        if not submitters:
            unmatched.append(Unmatched(f"{located[0]} has no submitters in submission_metadata.yml", row))
            continue
        names = [submitter.name or submitter.email for submitter in submitters]
        for submitter in submitters:
            student = by_email.get(submitter.email.lower()) or by_sid.get(submitter.sid)
            if student is None:
                unmatched.append(Unmatched(f"{submitter.name} <{submitter.email}> (SID {submitter.sid or 'none'}) "
                                           f"submitted it ({located[0]}) but is not in {roster.path.name}", row))
                continue
            note = f"group submission: {', '.join(names)}" if len(submitters) > 1 else ""
            candidates[student.key].append((Match(student, row, note=note), None))
    return _one_per_student(roster, candidates, unmatched, "")


# ---------------------------------------------------------------------------------------------
# A roster with a `file` column

def match_file_column(roster: Roster, graded: Sequence[GradedFile]) -> Matching:
    """Each student to the graded file their ``file`` cell names: the path as graded, the
    gradebook's submission, or (if only one file has it) the file's name."""
    exact: dict[str, list[GradedFile]] = defaultdict(list)
    by_name: dict[str, list[GradedFile]] = defaultdict(list)
    for row in graded:
        for key in {row.source, PurePath(row.source).as_posix(), row.submission}:
            exact[key].append(row)
        by_name[row.file_name].append(row)
    claimed: dict[str, Student] = {}
    candidates: dict[str, list[tuple[Match, int | None]]] = defaultdict(list)
    unmatched = []
    for student in roster.students:
        if not student.file:
            continue
        rows = exact.get(student.file) or exact.get(PurePath(student.file).as_posix()) or by_name.get(
            PurePath(student.file).name, [])
        if len(rows) > 1:
            unmatched.append(Unmatched(f"{student.file!r} names {len(rows)} graded files "
                                       f"({', '.join(r.source for r in rows)}); write the path as graded",
                                       student=student))
            continue
        if not rows:
            unmatched.append(Unmatched(f"{student.file!r} was not graded in this folder",
                                       student=student))
            continue
        row = rows[0]
        if row.submission in claimed:
            other = claimed[row.submission]
            unmatched.append(Unmatched(f"{student.file!r} is the file line {other.line} "
                                       f"({other.key}) names too", row, student))
            continue
        claimed[row.submission] = student
        candidates[student.key].append((Match(student, row), None))
    unmatched += [Unmatched("no student's `file` names it", row) for row in graded
                  if row.submission not in claimed and not any(u.graded == row for u in unmatched)]
    return _one_per_student(roster, candidates, unmatched, "")


# ---------------------------------------------------------------------------------------------

def _one_per_student(roster: Roster, candidates: dict[str, list[tuple[Match, int | None]]],
                     unmatched: list[Unmatched], later_wins: str) -> Matching:
    """One file per student; every other file of theirs, and every student with none, listed.

    A student's only gradable file wins over files intake found invalid (the PDF beside the
    notebook); between gradable files, the later upload when the LMS says which is later
    (``later_wins`` explains it), and otherwise none: a person decides."""
    matching = Matching(unmatched=list(unmatched))
    listed = {u.student.key for u in unmatched if u.student is not None}
    for student in roster.students:
        found = candidates.get(student.key, [])
        if not found:
            if student.key not in listed:
                matching.unmatched.append(Unmatched(
                    f"no file named for them in {roster.path.name}" if roster.format is ExportFormat.CSV
                    else "no graded file of theirs", student=student))
            continue
        gradable = [item for item in found if item[0].graded.status != Status.INVALID] or found
        if len(gradable) > 1 and all(order is not None for _, order in gradable):
            gradable = [max(gradable, key=lambda item: item[1] or 0)]
        if len(gradable) == 1:
            chosen = gradable[0][0]
            matching.matches.append(chosen)
            for match, _ in found:
                if match is not chosen:
                    why = (f"this one is {match.graded.status}" if match.graded.status == Status.INVALID
                           and chosen.graded.status != Status.INVALID else later_wins)
                    reason = f"another file of theirs was exported ({chosen.graded.file_name}): {why}"
                    matching.unmatched.append(Unmatched(reason, match.graded, student))
        else:
            matching.unmatched += [Unmatched(f"{len(gradable)} gradable files of theirs and no way to tell which "
                                             "counts; keep one in the graded folder and export again",
                                             match.graded, student) for match, _ in found]
    return matching
