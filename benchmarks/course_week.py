"""A TA's week with one assignment, command by command (SPEC §8), with each command's time.

    .venv/bin/python benchmarks/course_week.py [--assignment nn_foundations] [--dist dist] [--class N]

The submissions are laid out as Canvas' "Download Submissions" writes them
(``<login>[_late]_<user id>_<file id>_<file>``), with a Canvas gradebook export as the roster:

* by default, the assignment's bundled samples (``submissions/<assignment>/``), one student each,
  the second one late, plus a student on the roster who handed in nothing;
* with ``--class N``, N notebooks written as a class hands them in (``benchmarks/similarity.py``'s
  ``build_class``: every answer cell from one of several hand-written correct solutions, with the
  student's own debugging lines, disguised; one in 50 an exact copy and one in 25 a disguised copy
  of an earlier one).

The week, each step one command run as a TA would type it (``autograder …`` in a subprocess, timed
from its start to its exit):

1. ``grade`` the download folder;
2. ``similarity`` on the same files, into the grading folder;
3. ``manual``: the pages of the written answers and ``manual_scores.csv``;
4. (the TA fills ``manual_scores.csv``: every answer 2 points with a comment; and writes
   ``overrides.csv``: one failed check of one submission given its points, with a reason);
5. ``grade`` again: nothing is graded, the scores, the overrides and the similarity pairs are
   merged into the gradebook, results, feedback and report;
6. ``grade --only Q --force``: one question graded again for everyone (as after a judge is
   fixed and the assignment rebuilt), the other questions kept;
7. ``export --format canvas``: the import file for Canvas, and what did not match.

``--replicate K`` then grows the class K times without grading it again: each graded file is
copied under K - 1 new students' names together with its journal record (the same bytes, so the
same result the grader recorded; its name and path changed), and the commands that read a graded
folder are timed again on it: ``similarity``, ``manual``, ``grade`` (nothing to grade: the
merge of the TA's files into N × K results) and ``export``. ``grade`` itself is not timed there.

Each command's output is printed, then a table of the times. Nothing is asserted: the suite's
tests (tests/test_manual.py, test_corrections.py, test_regrade.py, test_export.py,
test_similarity.py) check what the commands do.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "submissions"
MANUAL_POINTS = "2"
MANUAL_COMMENT = "Clear and right; say also what the validation set is for."
OVERRIDE_REASON = "Regraded by hand: your answer is right, written another way than the check expects."


def canvas_name(index: int, file_name: str, late: bool = False) -> str:
    """Canvas' bulk-download name for student ``index``: login, LATE, user id, file id, file."""
    return f"student{index:04d}{'_late' if late else ''}_{1000 + index}_{50000 + index}_{file_name}"


def write_roster(path: Path, assignment: str, students: int) -> None:
    """A Canvas gradebook export: the student columns, the assignment's column, read-only totals,
    the "Points Possible" row; ``students`` students (ids 1000 + index)."""
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{assignment} (48213)",
              "Current Points", "Final Points"]
    rows = [header, ["    Points Possible", "", "", "", "", "32.00", "(read only)", "(read only)"]]
    rows += [[f"Student, Number {i}", str(1000 + i), f"S{1000 + i}", f"student{i:04d}", "Section A", "", "", ""]
             for i in range(students)]
    with path.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows(rows)


def lay_out_samples(assignment: str, folder: Path) -> int:
    """The bundled samples under Canvas names (the second late); returns the roster's size (one
    student more, who handed in nothing)."""
    folder.mkdir(parents=True)
    samples = sorted(SAMPLES.joinpath(assignment).glob("*.ipynb"))
    for index, sample in enumerate(samples):
        shutil.copy(sample, folder / canvas_name(index, f"{assignment}.ipynb", late=index == 1))
    return len(samples) + 1


def lay_out_class(assignment: str, dist: Path, folder: Path, n: int) -> int:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from similarity import build_class  # a class as it hands its notebooks in
    written = Path(tempfile.mkdtemp(prefix="course-week-class-"))
    build_class(assignment, dist, written, n)
    folder.mkdir(parents=True)
    for index, notebook in enumerate(sorted(written.glob("*.ipynb"))):
        shutil.move(notebook, folder / canvas_name(index, f"{assignment}.ipynb", late=index % 10 == 1))
    shutil.rmtree(written)
    return n


def run(step: str, args: list[str], times: list[tuple[str, float]], show: int = 25) -> str:
    """One command as a TA types it: printed, timed, its output shown (the last ``show`` lines)."""
    command = [str(ROOT / ".venv" / "bin" / "autograder"), *args]
    print(f"\n$ autograder {' '.join(args)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    # what the command says, less its progress bar (tqdm's lines, on stderr)
    progress = re.compile(r"\d+%\||submission \[|submission/s")
    output = [*done.stdout.rstrip().splitlines(),
              *(line for line in done.stderr.rstrip().splitlines() if line.strip() and not progress.search(line))]
    if len(output) > show:
        print(f"  … {len(output) - show} lines before")
    for line in output[-show:]:
        print(f"  {line}")
    print(f"  [exit {done.returncode}, {seconds:.1f} s]", flush=True)
    times.append((step, seconds))
    if done.returncode != 0:
        raise SystemExit(f"{step} failed (exit {done.returncode})")
    return done.stdout


def fill_manual_scores(path: Path) -> int:
    """What the TA types: points and a comment on every row still empty whose submission was
    graded (an unreadable file's row is left empty); returns the rows scored."""
    with path.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    with (path.parent / "gradebook.csv").open(newline="", encoding="utf-8") as stream:
        graded = {row["submission"] for row in csv.DictReader(stream) if row["status"] == "graded"}
    fields = ["submission", "question", "points", "comment"]
    scored = 0
    for row in rows:
        if not row["points"] and row["submission"] in graded:
            row["points"], row["comment"] = MANUAL_POINTS, MANUAL_COMMENT
            scored += 1
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return scored


def write_one_override(out: Path) -> str | None:
    """overrides.csv with one row: the first failed check with points, of the first graded
    submission that has one, given its points back with a reason."""
    for path in sorted((out / "results").glob("*.json")):
        results = json.loads(path.read_text(encoding="utf-8"))
        if results.get("extra_data", {}).get("status") != "graded":
            continue
        for test in results["tests"]:
            if test["status"] == "failed" and test["max_score"] > 0 and " · " in test["name"]:
                check = test["name"].split(" · ", 1)[1]
                with (out / "overrides.csv").open("w", newline="", encoding="utf-8") as stream:
                    csv.writer(stream).writerows([["submission", "check", "points", "reason"],
                                                  [path.stem, check, f"{test['max_score']:g}", OVERRIDE_REASON]])
                return f"{path.stem}: {check} → {test['max_score']:g} points"
    return None


def replicate(downloads: Path, out: Path, assignment: str, copies: int) -> int:
    """Each graded file again under ``copies - 1`` new students' names, with its journal record
    renamed (same bytes, same digest: the result the grader recorded for it); returns how many
    files the folder holds then."""
    originals = sorted(downloads.glob("*.ipynb"))
    index = len(originals)
    for original in originals:
        record_path = out / ".journal" / f"{original.stem}.json"
        record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else None
        for _ in range(copies - 1):
            name = canvas_name(index, f"{assignment}.ipynb")
            shutil.copy(original, downloads / name)
            if record is not None:
                copy = json.loads(json.dumps(record))
                copy["source"] = copy["result"]["source"] = str(downloads / name)
                copy["result"]["submission"] = Path(name).stem
                (out / ".journal" / f"{Path(name).stem}.json").write_text(json.dumps(copy), encoding="utf-8")
            index += 1
    return index


def last_autograded_question(assignment: str) -> str:
    sys.path.insert(0, str(ROOT))
    from autograder.assignment import questions
    return [q.name for q in questions(assignment) if not q.manual][-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="nn_foundations")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--class", dest="class_size", type=int, default=0,
                        help="N notebooks written as a class hands them in (default: the bundled samples)")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    parser.add_argument("--replicate", type=int, default=0, metavar="K",
                        help="then grow the class K times (files and journal records copied) and time the "
                             "commands that read a graded folder again")
    parser.add_argument("--no-regrade", action="store_true",
                        help="leave out step 6 (it grades every submission's notebook again)")
    args = parser.parse_args()
    assignment, dist = args.assignment, args.dist.resolve()
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="course-week-"))
    times: list[tuple[str, float]] = []
    if not (dist / assignment / "autograder" / f"{assignment}-autograder.zip").is_file():
        run("build", ["build", assignment, "--dist", str(dist), "--no-verify"], times)
    downloads, out, roster = work / "downloads", work / "graded", work / "gradebook_export.csv"
    students = (lay_out_class(assignment, dist, downloads, args.class_size) if args.class_size
                else lay_out_samples(assignment, downloads))
    write_roster(roster, assignment, students)
    files = len(list(downloads.glob("*.ipynb")))
    print(f"{assignment}: {files} submissions in {downloads} (Canvas' names), roster of {students} students",
          flush=True)
    os.environ.setdefault("AUTOGRADER_DATASET", "digits")
    dist_args = ["--dist", str(dist)]
    run("1 grade", ["grade", assignment, str(downloads), "--out", str(out), *dist_args], times)
    run("2 similarity", ["similarity", assignment, str(downloads), "--out", str(out), *dist_args], times)
    run("3 manual", ["manual", assignment, str(out), *dist_args], times)
    filled = fill_manual_scores(out / "manual_scores.csv")
    override = write_one_override(out)
    print(f"\n(the TA scores {filled} written answers in manual_scores.csv"
          + (f" and overrides {override}" if override else "") + ")")
    run("5 grade (merge)", ["grade", assignment, str(downloads), "--out", str(out), *dist_args], times)
    question = last_autograded_question(assignment)
    if not args.no_regrade:
        run(f"6 grade --only {question}", ["grade", assignment, str(downloads), "--out", str(out), "--only",
                                           question, "--force", *dist_args], times)
    run("7 export canvas", ["export", assignment, str(out), "--roster", str(roster), "--format", "canvas",
                            "--out", str(work / "canvas_import.csv")], times)
    print(f"\n{files} submissions of {assignment} ({work}):")
    for step, seconds in times:
        print(f"  {step:32} {seconds:8.1f} s")
    if args.replicate > 1:
        grown = replicate(downloads, out, assignment, args.replicate)
        write_roster(roster, assignment, grown)
        print(f"\n{assignment}: grown to {grown} submissions (each graded file and its record copied "
              f"{args.replicate - 1} times)", flush=True)
        more: list[tuple[str, float]] = []
        grade = ["grade", assignment, str(downloads), "--out", str(out), *dist_args]
        run("grade (all kept: gradebook of all)", grade, more, show=3)
        run("similarity", ["similarity", assignment, str(downloads), "--out", str(out), *dist_args], more, show=6)
        run("manual", ["manual", assignment, str(out), *dist_args], more, show=6)
        filled = fill_manual_scores(out / "manual_scores.csv")
        print(f"\n(the TA scores the {filled} rows of manual_scores.csv)")
        run("grade (merge)", grade, more, show=3)
        run("export canvas", ["export", assignment, str(out), "--roster", str(roster), "--format", "canvas",
                              "--out", str(work / "canvas_import.csv")], more, show=6)
        print(f"\n{grown} submissions of {assignment}:")
        for step, seconds in more:
            print(f"  {step:32} {seconds:8.1f} s")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
