"""`autograder export` (SPEC §8): graded files matched to students and written in an LMS's import
format, with nothing dropped.

Each test lays out a download folder as the LMS writes it (Canvas' bulk-download names, with
`late`/`LATE` and a renamed resubmission; Gradescope's export tree with its
`submission_metadata.yml`), names its files as `autograder grade` would (grade/intake.py), and
writes the grading folder with the report's own writers (gradebook.csv, results/<name>.json) from
`SubmissionResult`s, so no notebook is graded here.
"""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.course.export import export_scores
from autograder.course.roster import (
    ExportFormat,
    RosterError,
    parse_canvas_name,
    read_roster,
    split_resubmission,
)
from autograder.grade.intake import collect_submissions
from autograder.report import gradebook, write_atomically, write_submission_files
from autograder.results import Status, SubmissionResult

ASSIGNMENT = "nn_foundations"
POSSIBLE = 29.0


def notebook() -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.metadata["otter"] = {"assignment_name": ASSIGNMENT}
    return nbformat.writes(nb)


def download(folder: Path, names: list[str]) -> Path:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(notebook())
    return folder


def graded_folder(out: Path, downloads: Path, outcomes: dict[str, tuple[Status, float]]) -> Path:
    """The folder `autograder grade ASSIGNMENT downloads --out out` would leave: the submission
    names are intake's; `outcomes` gives each file's (by its path below `downloads`) status and score."""
    results = []
    for submission in collect_submissions([downloads], ASSIGNMENT):
        status, score = outcomes[submission.path.relative_to(downloads).as_posix()]
        results.append(SubmissionResult(assignment=ASSIGNMENT, submission=submission.name,
                                        source=str(submission.path), status=status, score=score,
                                        possible=POSSIBLE, question_scores={"q1_vectorize": min(score, 5.0)}))
    for result in results:
        write_submission_files(out, result)
    write_atomically(out / "gradebook.csv", gradebook(ASSIGNMENT, results).to_csv(index=False))
    return out


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")  # Canvas may add a byte-order mark
    return path


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(path.read_text(encoding="utf-8").splitlines()))


def listed(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


# ---------------------------------------------------------------------------------------------
# Canvas

# Canvas' gradebook export (GradebookExporter): the student columns through Section, one column
# "Title (id)" per assignment, the read-only totals, and a "Points Possible" row
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "nn_foundations (48213)",
                 "Quiz 1 (48200)", "Current Points", "Final Points", "Current Score", "Unposted Current Score",
                 "Final Score", "Unposted Final Score"]
READ_ONLY = ["(read only)"] * 6
CANVAS_ROSTER = [
    CANVAS_HEADER,
    ["    Points Possible", "", "", "", "", "32.00", "10.00", *READ_ONLY],
    ["Doe, Jane", "1001", "S1001", "jdoe", "Section A", "", "8.00", *["8.00"] * 6],
    ["Smith, Bob", "1002", "S1002", "bsmith", "Section A", "", "9.00", *["9.00"] * 6],
    ["Lee, Ann", "1003", "S1003", "alee", "Section B", "", "7.00", *["7.00"] * 6],
    ["Kim, Chris", "1004", "S1004", "ckim", "Section B", "12.00", "6.00", *["6.00"] * 6],
    ["Nguyen, Tam", "1005", "S1005", "tnguyen", "Section B", "25.00", "10.00", *["10.00"] * 6],
    ["Student, Test", "9999", "", "b1c7f0e2d3a4", "Section A", "", "", *[""] * 6],
]
# "Download Submissions" (lib/content_zipper.rb): <sortable name, word characters only>[_LATE]
# _<user id>_<file id>_<file>; older Canvas lowercased it all ("late"). Ann uploaded the notebook
# again under the same name, which Canvas stored as nn_foundations-1.ipynb; the TA merged her
# earlier download into the folder too.
CANVAS_FILES = {
    "doejane_1001_50001_nn_foundations.ipynb": (Status.GRADED, 27.0),
    "smithbob_late_1002_50002_nn_foundations.ipynb": (Status.GRADED, 21.5),
    "leeann_1003_50003_nn_foundations.ipynb": (Status.GRADED, 10.0),
    "leeann_LATE_1003_50010_nn_foundations-1.ipynb": (Status.GRADED, 29.0),
    "kimchris_1004_50004_nn_foundations.ipynb": (Status.ERROR, 0.0),
    "garciamaria_1777_50005_nn_foundations.ipynb": (Status.GRADED, 20.0),
    "anon_x7k2p_50006_nn_foundations.ipynb": (Status.GRADED, 18.0),
}


@pytest.fixture
def canvas(tmp_path):
    downloads = download(tmp_path / "submissions", list(CANVAS_FILES))
    out = graded_folder(tmp_path / "graded", downloads, CANVAS_FILES)
    roster = write_csv(tmp_path / "gradebook_export.csv", CANVAS_ROSTER)
    return out, roster


def test_canvas_import_file(canvas, tmp_path):
    out, roster = canvas
    report = export_scores(ASSIGNMENT, out, roster, ExportFormat.CANVAS, tmp_path / "lms" / "canvas.csv")
    rows = read_csv(tmp_path / "lms" / "canvas.csv")
    # the student columns and the assignment's own column (so the import updates it), nothing else
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "nn_foundations (48213)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "32.00"]  # unchanged: the import would set it
    scores = {row[1]: row[5] for row in rows[2:]}
    assert scores == {
        "1001": "27",
        "1002": "21.5",    # late (lowercase, older Canvas)
        "1003": "29",      # the resubmission (LATE, -1), not the earlier upload
        "1004": "12.00",   # grading did not finish: the roster's value is kept
        "1005": "25.00",   # no submission: the roster's value is kept, never blanked
        "9999": "",
    }
    assert [row[:5] for row in rows[2:]] == [row[:5] for row in CANVAS_ROSTER[2:]]
    assert sorted(m.student.key for m in report.late) == ["1002", "1003"]
    assert report.column == "nn_foundations (48213)"
    assert not report.new_column


def test_canvas_unmatched_both_sides_are_listed(canvas, tmp_path):
    out, roster = canvas
    report = export_scores(ASSIGNMENT, out, roster, ExportFormat.CANVAS, tmp_path / "canvas.csv")
    rows = listed(tmp_path / "canvas.unmatched.csv")
    assert [(row["kind"], row["student"], Path(row["file"]).name) for row in rows] == [
        ("file without a student", "", "anon_x7k2p_50006_nn_foundations.ipynb"),
        ("file without a student", "", "garciamaria_1777_50005_nn_foundations.ipynb"),
        ("student without a submission", "Nguyen, Tam (1005)", ""),
        ("student without a submission", "Student, Test (9999)", ""),
        ("file not exported", "Lee, Ann (1003)", "leeann_1003_50003_nn_foundations.ipynb"),
        ("file not exported", "Kim, Chris (1004)", "kimchris_1004_50004_nn_foundations.ipynb"),
    ]
    reasons = {Path(row["file"]).name or row["student"]: row["reason"] for row in rows}
    assert "user id 1777 is not in gradebook_export.csv" in reasons["garciamaria_1777_50005_nn_foundations.ipynb"]
    assert "anonymized" in reasons["anon_x7k2p_50006_nn_foundations.ipynb"]
    assert "later upload" in reasons["leeann_1003_50003_nn_foundations.ipynb"]
    assert "did not finish" in reasons["kimchris_1004_50004_nn_foundations.ipynb"]
    assert len(report.lines()) == len(rows)
    ann = next(m for m in report.exported if m.student.key == "1003")
    assert ann.note == "resubmitted: Canvas renamed nn_foundations.ipynb to nn_foundations-1.ipynb"


def test_canvas_from_the_command_line(canvas, tmp_path):
    out, roster = canvas
    result = CliRunner().invoke(main, ["export", ASSIGNMENT, str(out), "--roster", str(roster),
                                       "--format", "canvas", "--out", str(tmp_path / "canvas.csv")])
    assert result.exit_code == 0, result.output
    assert "3 scores in column 'nn_foundations (48213)' (2 late" in result.output
    assert "2 files without a student; 2 students without a submission; 2 files not exported" in result.output
    assert "student without a submission: Nguyen, Tam (1005) (roster line 7)" in result.output
    assert (tmp_path / "canvas.csv").is_file()
    assert (tmp_path / "canvas.unmatched.csv").is_file()


def test_canvas_new_column_and_semicolons(tmp_path):
    """A TA's export (no SIS User ID, semicolons, no Points Possible row) and an assignment that has
    no column yet: the import file names a new one, which Canvas' import offers to create."""
    downloads = download(tmp_path / "dl", ["doejane_1001_50001_nn_foundations.ipynb"])
    out = graded_folder(tmp_path / "graded", downloads,
                        {"doejane_1001_50001_nn_foundations.ipynb": (Status.GRADED, 27.0)})
    roster = write_csv(tmp_path / "roster.csv", [["Student", "ID", "SIS Login ID", "Section", "Quiz 1 (48200)"],
                                                 ["Doe, Jane", "1001", "jdoe", "A", "8,00"]], delimiter=";")
    report = export_scores(ASSIGNMENT, out, roster, ExportFormat.CANVAS, tmp_path / "c.csv", column="Lab 1")
    assert read_csv(tmp_path / "c.csv") == [["Student", "ID", "SIS Login ID", "Section", "Lab 1"],
                                            ["Doe, Jane", "1001", "jdoe", "A", "27"]]
    assert report.new_column
    assert "Canvas will create the column 'Lab 1'" in report.summary()


@pytest.mark.parametrize(("name", "user", "late", "attachment", "original", "resubmission"), [
    ("doejane_1001_50001_nn_foundations.ipynb", "1001", False, 50001, "nn_foundations.ipynb", 0),
    ("doejane_late_1001_50001_nn_foundations.ipynb", "1001", True, 50001, "nn_foundations.ipynb", 0),
    ("doejane_LATE_1001_50001_nn_foundations-2.ipynb", "1001", True, 50001, "nn_foundations.ipynb", 2),
    ("obrienpat_1001_50001_hw_3_final-1.tar.gz", "1001", False, 50001, "hw_3_final.tar.gz", 1),
    ("doejane_1001_50001_nn-foundations-4f1c2a3b-9d8e-4f7a-b6c5-1a2b3c4d5e6f.ipynb", "1001", False, 50001,
     "nn-foundations.ipynb", 8),
    ("doejane_1001_text.html", "1001", False, None, "text.html", 0),
    ("LATE_anon_x7k2p_50006_nn_foundations.ipynb", None, True, 50006, "nn_foundations.ipynb", 0),
])
def test_canvas_download_names(name, user, late, attachment, original, resubmission):
    parsed = parse_canvas_name(name)
    assert parsed is not None
    assert (parsed.user_id, parsed.late, parsed.attachment_id, parsed.original, parsed.resubmission) == (
        user, late, attachment, original, resubmission)


@pytest.mark.parametrize("name", ["nn_foundations.ipynb", "alice_final.ipynb", "doejane_1001_notebook.ipynb"])
def test_not_canvas_download_names(name):
    assert parse_canvas_name(name) is None


def test_a_name_ending_in_a_number_is_not_a_resubmission_without_the_dash():
    assert split_resubmission("hw2.ipynb") == ("hw2.ipynb", 0)
    assert split_resubmission("hw-2.ipynb") == ("hw.ipynb", 2)  # as Canvas would have renamed hw.ipynb


# ---------------------------------------------------------------------------------------------
# Gradescope

# "Export Submissions": one folder per submission beside submission_metadata.yml, Ruby's YAML
# of symbols as Gradescope writes it (a group submission lists several submitters)
GRADESCOPE_METADATA = textwrap.dedent("""\
    ---
    submission_216975964:
      :submitters:
      - :name: Ana Lopez
        :sid: '0612345'
        :email: ana.lopez@example.edu
      :created_at: 2023-12-02 02:52:07.938335000 Z
      :score: 0.0
      :status: processed
      :results:
        score: 0.0
        tests: []
        output: This assignment does not have an autograder configured.
        extra_data:
        visibility:
        leaderboard: []
        output_format:
        execution_time:
        test_name_format:
        test_output_format:
      :history: []
    submission_216996427:
      :submitters:
      - :name: Ben Okafor
        :sid: '0688001'
        :email: ben@example.edu
      - :name: Cara Weiss
        :sid: '0688002'
        :email: cara.weiss@old-mail.example.edu
      :created_at: 2023-12-02 04:04:59.089605000 Z
      :score: 0.0
      :status: processed
      :results:
        score: 0.0
        tests: []
        output: This assignment does not have an autograder configured.
      :history:
      - :submitters: []
        :created_at: 2023-12-01 06:59:12.419858000 Z
        :score: 0.0
        :status: processed
        :results:
          score: 0.0
          tests: []
        :id: 216688425
    submission_217001111:
      :submitters:
      - :name: Dan Visitor
        :sid: '0777777'
        :email: dan@elsewhere.example.edu
      :created_at: 2023-12-03 08:36:30.409435000 Z
      :score: 0.0
      :status: processed
      :history: []
    """)
GRADESCOPE_ROSTER = [
    ["First Name", "Last Name", "SID", "Email", "Role", "Sections"],
    ["Ana", "Lopez", "0612345", "Ana.Lopez@Example.edu", "Student", "101"],
    ["Ben", "Okafor", "0688001", "ben@example.edu", "Student", "101"],
    ["Cara", "Weiss", "0688002", "cweiss@example.edu", "Student", "102"],  # email changed since: SID matches
    ["Eve", "Park", "0699999", "eve@example.edu", "Student", "102"],
    ["Tom", "Reyes", "", "treyes@example.edu", "TA", ""],
]
GRADESCOPE_FILES = {
    "submission_216975964/nn_foundations.ipynb": (Status.GRADED, 24.0),
    "submission_216996427/nn_foundations.ipynb": (Status.GRADED, 28.5),
    "submission_217001111/nn_foundations.ipynb": (Status.GRADED, 11.0),
    "submission_217999999/nn_foundations.ipynb": (Status.GRADED, 5.0),  # not in the metadata
    "submission_metadata.yml": (Status.INVALID, 0.0),  # grading the export's folder grades it too
}


@pytest.fixture
def gradescope(tmp_path):
    export = download(tmp_path / "assignment_3712_export", [f for f in GRADESCOPE_FILES if f.endswith(".ipynb")])
    (export / "submission_metadata.yml").write_text(GRADESCOPE_METADATA)
    out = graded_folder(tmp_path / "graded", export, GRADESCOPE_FILES)
    roster = write_csv(tmp_path / "roster.csv", GRADESCOPE_ROSTER)
    return out, roster, export


def test_gradescope_upload_file(gradescope, tmp_path):
    out, roster, _ = gradescope
    report = export_scores(ASSIGNMENT, out, roster, ExportFormat.GRADESCOPE, tmp_path / "gs.csv")
    assert read_csv(tmp_path / "gs.csv") == [
        ["First Name", "Last Name", "SID", "Email", "Total Score"],
        ["Ana", "Lopez", "0612345", "Ana.Lopez@Example.edu", "24"],   # email matched whatever its case
        ["Ben", "Okafor", "0688001", "ben@example.edu", "28.5"],      # the group's score
        ["Cara", "Weiss", "0688002", "cweiss@example.edu", "28.5"],   # the group's score, matched by SID
    ]
    assert {m.student.key: m.note for m in report.exported}["ben@example.edu"] == (
        "group submission: Ben Okafor, Cara Weiss")


def test_gradescope_unmatched_both_sides_are_listed(gradescope, tmp_path):
    out, roster, _ = gradescope
    export_scores(ASSIGNMENT, out, roster, ExportFormat.GRADESCOPE, tmp_path / "gs.csv")
    rows = listed(tmp_path / "gs.unmatched.csv")
    assert [(row["kind"], row["student"], row["submission"]) for row in rows] == [
        ("file without a student", "", "submission_217001111__nn_foundations"),
        ("file without a student", "", "submission_217999999__nn_foundations"),
        ("file without a student", "", "submission_metadata"),
        ("student without a submission", "Eve Park (eve@example.edu)", ""),  # the TA is not listed
    ]
    assert "Dan Visitor <dan@elsewhere.example.edu>" in rows[0]["reason"]
    assert "no submitters in submission_metadata.yml" in rows[1]["reason"]
    assert "Gradescope's metadata, not a submission" in rows[2]["reason"]


def test_gradescope_metadata_given_explicitly(gradescope, tmp_path):
    out, roster, export = gradescope
    moved = tmp_path / "elsewhere" / "submission_metadata.yml"
    moved.parent.mkdir()
    (export / "submission_metadata.yml").rename(moved)
    result = CliRunner().invoke(main, ["export", ASSIGNMENT, str(out), "--roster", str(roster), "--format",
                                       "gradescope", "--out", str(tmp_path / "gs.csv")])
    assert result.exit_code == 1
    assert "give --metadata PATH" in result.output
    assert not (tmp_path / "gs.csv").exists()
    result = CliRunner().invoke(main, ["export", ASSIGNMENT, str(out), "--roster", str(roster), "--format",
                                       "gradescope", "--out", str(tmp_path / "gs.csv"), "--metadata", str(moved)])
    assert result.exit_code == 0, result.output
    assert len(read_csv(tmp_path / "gs.csv")) == 4


def test_malformed_metadata_names_its_line(gradescope, tmp_path):
    out, roster, export = gradescope
    (export / "submission_metadata.yml").write_text("submission_1:\n  :submitters:\n\t- :name: Ana\n")
    with pytest.raises(RosterError, match=r"submission_metadata\.yml:3: is not valid YAML"):
        export_scores(ASSIGNMENT, out, roster, ExportFormat.GRADESCOPE, tmp_path / "gs.csv")
    assert not (tmp_path / "gs.csv").exists()


# ---------------------------------------------------------------------------------------------
# Any LMS: a roster with a `file` column

def test_roster_with_a_file_column(tmp_path):
    files = {"alice.ipynb": (Status.GRADED, 26.0), "late/bob.ipynb": (Status.TIMEOUT, 3.0),
             "stray.ipynb": (Status.GRADED, 9.0)}
    out = graded_folder(tmp_path / "graded", download(tmp_path / "subs", list(files)), files)
    roster = write_csv(tmp_path / "roster.csv", [["student", "email", "file"],
                                                 ["alice", "alice@example.edu", "alice.ipynb"],
                                                 ["bob", "bob@example.edu", "late/bob.ipynb"],
                                                 ["carol", "carol@example.edu", ""],
                                                 ["dave", "dave@example.edu", "dave.ipynb"]])
    export_scores(ASSIGNMENT, out, roster, ExportFormat.CSV, tmp_path / "scores.csv")
    assert read_csv(tmp_path / "scores.csv") == [
        ["student", "email", "file", ASSIGNMENT],
        ["alice", "alice@example.edu", "alice.ipynb", "26"],
        ["bob", "bob@example.edu", "late/bob.ipynb", "3"],  # a timeout's score stands
        ["carol", "carol@example.edu", "", ""],
        ["dave", "dave@example.edu", "dave.ipynb", ""],
    ]
    rows = listed(tmp_path / "scores.unmatched.csv")
    assert [(row["kind"], row["student"], Path(row["file"]).name) for row in rows] == [
        ("file without a student", "", "stray.ipynb"),
        ("student without a submission", "dave", "dave.ipynb"),
        ("student without a submission", "carol", ""),
    ]


# ---------------------------------------------------------------------------------------------
# A malformed roster stops the export, with its file and line, and nothing is written

def _canvas_with(*changes: tuple[int, list[str] | None]) -> list[list[str]]:
    rows = [list(row) for row in CANVAS_ROSTER]
    for index, row in sorted(changes, reverse=True):
        if row is None:
            del rows[index]
        else:
            rows.insert(index, row)
    return rows


MALFORMED = {
    "missing column": (ExportFormat.CANVAS, [[c for c in row if c != "Section"] if i == 0 else row[:4] + row[5:]
                                             for i, row in enumerate(CANVAS_ROSTER)],
                       r"roster\.csv:1: has no column 'Section'"),
    "not a Canvas export": (ExportFormat.CANVAS, GRADESCOPE_ROSTER, r"roster\.csv:1: is not a Canvas gradebook export"),
    "duplicate student": (ExportFormat.CANVAS, _canvas_with((6, CANVAS_ROSTER[3])),
                          r"roster\.csv:7: student ID '1002' appears twice \(also line 4\)"),
    "wrong field count": (ExportFormat.CANVAS, _canvas_with((5, ["Park, Eve", "1006", "S1006", "epark"])),
                          r"roster\.csv:6: has 4 fields where the header has 13"),
    "duplicate email": (ExportFormat.GRADESCOPE, [*GRADESCOPE_ROSTER, ["Ana", "L", "", "ANA.LOPEZ@example.edu",
                                                                       "Student", ""]],
                        r"roster\.csv:7: email 'ana\.lopez@example\.edu' appears twice \(also line 2\)"),
    "no email": (ExportFormat.GRADESCOPE, [*GRADESCOPE_ROSTER[:3], ["Zoe", "Q", "1", "", "Student", ""]],
                 r"roster\.csv:4: has no email"),
    "no file column": (ExportFormat.CSV, [["student", "email"], ["alice", "a@example.edu"]],
                       r"roster\.csv:1: has no column 'file'"),
    # a quoted cell may span lines: alice's row is lines 2-3, bob's short one starts on line 4
    "wrong field count after a multi-line cell": (
        ExportFormat.CSV, [["student", "file", "note"], ["alice", "a.ipynb", "first\nsecond line"],
                           ["bob", "b.ipynb\nc.ipynb"]], r"roster\.csv:4: has 2 fields where the header has 3"),
    "duplicate file": (ExportFormat.CSV, [["student", "file"], ["alice", "a.ipynb"], ["bob", "a.ipynb"]],
                       r"roster\.csv:3: file 'a\.ipynb' appears twice \(also line 2\)"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_roster_stops_with_file_and_line(case, canvas, tmp_path):
    fmt, rows, message = MALFORMED[case]
    out, _ = canvas
    roster = write_csv(tmp_path / "roster.csv", rows)
    target = tmp_path / "lms" / "import.csv"
    target.parent.mkdir()
    target.write_text("the previous export\n")
    with pytest.raises(RosterError, match=message):
        read_roster(roster, fmt)
    result = CliRunner().invoke(main, ["export", ASSIGNMENT, str(out), "--roster", str(roster),
                                       "--format", fmt.value, "--out", str(target)])
    assert result.exit_code == 1
    assert f"{roster}:" in result.output
    assert target.read_text() == "the previous export\n"  # untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["import.csv"]  # no listing, no temporary file


def test_roster_not_utf8_names_its_line(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_bytes(b"student,file\nalice,a.ipynb\nj\xe9r\xf4me,b.ipynb\n")
    with pytest.raises(RosterError, match=r"roster\.csv:3: is not UTF-8"):
        read_roster(roster, ExportFormat.CSV)


def test_grading_folder_of_another_assignment_is_refused(canvas, tmp_path):
    out, roster = canvas
    with pytest.raises(ValueError, match=r"holds grades of 'nn_foundations' \(.*\), not of 'keras_networks'"):
        export_scores("keras_networks", out, roster, ExportFormat.CANVAS, tmp_path / "c.csv")
    assert not (tmp_path / "c.csv").exists()


def test_export_replaces_the_file_whole(canvas, tmp_path):
    """Written to a temporary name and renamed: an earlier export is replaced, not appended to, and
    nothing else is left beside it."""
    out, roster = canvas
    target = tmp_path / "lms" / "canvas.csv"
    target.parent.mkdir()
    target.write_text("x" * 10_000)
    export_scores(ASSIGNMENT, out, roster, ExportFormat.CANVAS, target)
    assert target.read_text(encoding="utf-8").startswith("Student,ID,")
    assert "x" not in target.read_text(encoding="utf-8")
    assert sorted(p.name for p in target.parent.iterdir()) == ["canvas.csv", "canvas.unmatched.csv"]
    with pytest.raises(ValueError, match="would overwrite the roster"):
        export_scores(ASSIGNMENT, out, roster, ExportFormat.CANVAS, roster)


def test_a_failed_write_leaves_the_previous_export(canvas, tmp_path, monkeypatch):
    """The new file only replaces the old one by a rename: if that fails, the old one is intact and
    no half-written file or temporary is left."""
    out, roster = canvas
    target = tmp_path / "lms" / "canvas.csv"
    target.parent.mkdir()
    target.write_text("the previous export\n")

    def fail(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        export_scores(ASSIGNMENT, out, roster, ExportFormat.CANVAS, target)
    assert target.read_text() == "the previous export\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["canvas.csv"]
