"""How close grading comes to the cost of the student's own code (issue 13).

Grades the same N submissions (both assignments: the solutions and known-wrong ones, so
correct and wrong) three ways, one after the other, and prints wall times, ratios, the median
per submission and the peak memory of each run (the machine's in use, over its level before;
and the process tree's resident sizes summed, which counts pages forked processes share once
per process):

(a) ``otter run`` one submission at a time on the same autograder zips: Otter's own path
    without Docker, the reference to beat;
(b) ``autograder grade`` with its default workers (one command per assignment);
(c) the floor: each submission's graded code cells (the cells the grader runs) executed as
    one plain Python script, one submission at a time, with all cores.

    .venv/bin/python benchmarks/grading_speed.py [--submissions 12] [--rounds 1] [--skip-otter]
                                                 [--profile] [--dist DIR]
                                                 [--corpus samples|spellings] [--batch-of N]

``--rounds N`` measures (b), (c), (a) N times in turn and prints each round and the median of
the ratios: this machine's speed drifts by 15-20 % over minutes, so one round's ratio can land
a few hundredths either side of a target, while a round's three runs share its drift.

``--profile`` also grades one solutions notebook per assignment with one worker and prints
where its time goes (``GradingOutcome.phases``: kernel start, the student's cells, the probes
calling student code, the judges, clean-up).

``--corpus spellings`` grades instead a class as it writes (issue 25): the hand-written
submissions of ``benchmarks/spellings.toml`` (each the solutions notebook with named edits,
made by ``autograder.build.variants.apply_edits``; correct ones in other spellings, and wrong
ones), (a) by ``otter run`` one at a time and (b) by ``autograder grade`` (one command per
assignment, default workers). It checks each result against the file (a correct spelling has
full marks; a wrong one loses points on its own question only), and prints both wall times,
b/a, the trainings the batch paid (``*.json`` records in ``<out>/.trainings/``: one per
distinct architecture the grader trained), then each submission graded alone (one
``autograder grade -j 1`` per submission, so each figure is that submission's alone) and each
correct spelling's grading time over its assignment's reference's.

``--batch-of N`` grades N submissions cycled from the ``keras_networks`` spellings (copies
named distinctly) in one ``autograder grade`` command and prints its wall time, the seconds
per submission and the trainings it paid.

Without ``--dist`` the assignments are built first (``--no-verify``) into a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from autograder.build.variants import Edit, write_variants

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from batch_grading import sampled_run  # noqa: E402  (same folder: the process-tree sampler)

ASSIGNMENTS = ("nn_foundations", "keras_networks")
# peak memory of a run: the machine's in use above its level before, and the process tree's
# resident sizes summed (batch_grading.PeakMemory)
Peak = tuple[int, int]
ENV = dict(os.environ, AUTOGRADER_DATASET="digits", TF_CPP_MIN_LOG_LEVEL="2")


@dataclass
class Run:
    """One way of grading the batch: its wall time, the seconds of each submission, its peak."""

    wall: float
    each: list[float]
    peak: Peak


@dataclass
class Round:
    b: Run
    c: Run
    a: Run | None  # None with --skip-otter


def submissions_for(assignment: str, dist: Path, count: int, folder: Path) -> list[Path]:
    """The solutions and the first known-wrong submissions, copied under stable names."""
    sources = [dist / assignment / "solutions" / f"{assignment}.ipynb",
               *sorted((dist / assignment / "known_wrong").glob("*.ipynb"))][:count]
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for source in sources:
        target = folder / f"{source.stem}.ipynb"
        shutil.copy(source, target)
        copies.append(target)
    return copies


def run_timed(command: list[str], cwd: Path | None = None) -> tuple[float, Peak, int]:
    """Wall seconds, peak memory (batch_grading.PeakMemory: the machine's, and the tree's RSS), exit status."""
    seconds, sampler, status = sampled_run(command, cwd, ENV)
    return seconds, (sampler.peak, sampler.peak_rss), status


def fresh_folder(folder: Path) -> Path:
    """An empty folder (a later round's run must not find the last one's results)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def otter_run_one(notebook: Path, zip_path: Path, work: Path) -> tuple[float, Peak]:
    out = fresh_folder(work / f"otter-{notebook.stem}")
    seconds, peak, status = run_timed([sys.executable, "-m", "otter", "run", "-a", str(zip_path),
                                       "-o", str(out), str(notebook)])
    if status != 0:
        print(f"  otter run failed on {notebook.name} (exit {status})")
    return seconds, peak


def floor_script(notebook: Path) -> str:
    """The grader's cells as a plain script: each cell in its own try, as a kernel would go on
    after a failing cell; IPython's magics and shell lines left out."""
    import nbformat

    from autograder.grade.kernel.student_kernel import notebook_code_cells
    cells = notebook_code_cells(nbformat.read(notebook, as_version=4))
    parts = ["import traceback"]
    for cell in cells:
        source = "\n".join(line for line in cell.source.splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        parts.append(f"try:\n    exec(compile({source!r}, 'cell {cell.number}', 'exec'), globals())\n"
                     "except BaseException:\n    traceback.print_exc()")
    return "\n".join(parts) + "\n"


def floor_one(notebook: Path, work: Path) -> tuple[float, Peak]:
    from autograder.bundle import ship_student_runtime
    folder = fresh_folder(work / f"floor-{notebook.parent.name}-{notebook.stem}")
    shutil.copy(notebook, folder / notebook.name)
    ship_student_runtime(folder)
    (folder / "script.py").write_text(floor_script(notebook))
    seconds, peak, _ = run_timed([sys.executable, "script.py"], cwd=folder)
    return seconds, peak


def autograder_grade(assignment: str, folder: Path, dist: Path, out: Path,
                     jobs: int | None = None) -> tuple[float, Peak, list[float]]:
    workers = ["-j", str(jobs)] if jobs else []
    seconds, peak, status = run_timed([sys.executable, "-m", "autograder.cli", "grade", assignment,
                                       str(folder), "--out", str(out), "--dist", str(dist), *workers])
    if status != 0:
        raise SystemExit(f"autograder grade {assignment} failed (exit {status})")
    per = [json.loads(p.read_text())["result"]["seconds"] for p in sorted((out / ".journal").glob("*.json"))]
    return seconds, peak, per


def profile(dist: Path) -> None:

    from autograder.config import config
    from autograder.grade.processes.grading_child import grade_in_child
    os.environ.update(AUTOGRADER_DATASET="digits")
    for assignment in ASSIGNMENTS:
        started = time.monotonic()
        grade = grade_in_child(dist / assignment / "solutions" / f"{assignment}.ipynb",
                               dist / assignment / "autograder" / f"{assignment}-autograder.zip",
                               runner="split", dataset="digits", limits=config(assignment).limits)
        total = time.monotonic() - started
        print(f"\nprofile: {assignment} solutions, one worker: {grade.score:g}/{grade.possible:g} in {total:.1f} s")
        for phase, seconds in grade.phases.items():
            print(f"  {seconds:6.2f} s  {phase}")
        print(f"  {total - sum(grade.phases.values()):6.2f} s  the parent (starting the child, reading its report)")


def build(dist: Path) -> None:
    subprocess.run([sys.executable, "-m", "autograder.cli", "build", "--no-verify", "--dist", str(dist),
                    "--secret", str(dist / ".course_secret"), *ASSIGNMENTS],
                   env=ENV, check=True, stdout=subprocess.DEVNULL)


def gib(peak: Peak) -> str:
    machine, summed = peak
    return f"{machine / 2**30:.2f} GiB (resident sizes summed over the tree: {summed / 2**30:.2f} GiB)"


def largest(peaks: list[Peak]) -> Peak:
    return max(machine for machine, _ in peaks), max(summed for _, summed in peaks)


def measure_round(batches: dict[str, list[Path]], dist: Path, work: Path, skip_otter: bool) -> Round:
    b_wall, b_peaks, b_each = 0.0, list[Peak](), list[float]()
    for assignment, notebooks in batches.items():
        out = fresh_folder(work / f"out-{assignment}")  # every round grades every submission
        seconds, peak, per = autograder_grade(assignment, notebooks[0].parent, dist, out)
        b_wall, b_peaks, b_each = b_wall + seconds, [*b_peaks, peak], b_each + per
    c_runs = [floor_one(nb, work) for notebooks in batches.values() for nb in notebooks]
    a_runs = [] if skip_otter else [otter_run_one(nb, dist / a / "autograder" / f"{a}-autograder.zip", work)
                                    for a, notebooks in batches.items() for nb in notebooks]
    return Round(b=Run(b_wall, b_each, largest(b_peaks)), c=runs(c_runs), a=runs(a_runs) if a_runs else None)


def runs(timed: list[tuple[float, Peak]]) -> Run:
    return Run(sum(s for s, _ in timed), [s for s, _ in timed], largest([p for _, p in timed]))


def ratios(one: Round, cores: int) -> str:
    a = f"a {one.a.wall:.1f} s, " if one.a else ""
    b_over_a = f"b/a = {one.b.wall / one.a.wall:.3f}, " if one.a else ""
    return (f"{a}b {one.b.wall:.1f} s, c {one.c.wall:.1f} s: {b_over_a}"
            f"b/(c/cores) = {one.b.wall / (one.c.wall / cores):.3f}")


def report(rounds: list[Round], cores: int) -> None:
    """The last round in full, then (over several rounds) the medians of the ratios."""
    last = rounds[-1]
    print(f"(b) autograder grade, default workers: {last.b.wall:.1f} s wall; median "
          f"{statistics.median(last.b.each):.1f} s per submission (its own grading time); "
          f"peak memory {gib(last.b.peak)}")
    print(f"(c) floor, plain Python, one at a time: {last.c.wall:.1f} s wall; median "
          f"{statistics.median(last.c.each):.1f} s per submission; peak memory {gib(last.c.peak)}")
    if last.a:
        print(f"(a) otter run, one at a time: {last.a.wall:.1f} s wall; median "
              f"{statistics.median(last.a.each):.1f} s per submission; peak memory {gib(last.a.peak)}")
        print(f"b/a = {last.b.wall / last.a.wall:.3f}")
    print(f"b/(c/cores) = {last.b.wall / (last.c.wall / cores):.3f}")
    if len(rounds) > 1:
        medians = [f"b/a = {statistics.median(r.b.wall / r.a.wall for r in rounds if r.a):.3f}"] if last.a else []
        medians.append(f"b/(c/cores) = {statistics.median(r.b.wall / (r.c.wall / cores) for r in rounds):.3f}")
        print(f"median over {len(rounds)} rounds: " + "; ".join(medians))


# --- a class as it writes (issue 25): benchmarks/spellings.toml -------------------------------

SPELLINGS_FILE = ROOT / "benchmarks" / "spellings.toml"
REFERENCE = "reference"  # the solutions notebook itself, one per assignment
KERAS = "keras_networks"


@dataclass(frozen=True)
class Spelling:
    """One hand-written submission: the solutions notebook with ``edits``, correct (full marks)
    or wrong (points lost on ``question`` only)."""

    name: str
    assignment: str
    correct: bool
    spelling: str
    edits: tuple[Edit, ...]
    question: str = ""


def load_spellings(path: Path = SPELLINGS_FILE) -> list[Spelling]:
    corpus = [Spelling(name=e["name"], assignment=e["assignment"], correct=bool(e["correct"]),
                       spelling=e["spelling"], question=e.get("question", ""),
                       edits=tuple(Edit(x["find"], x["replace"]) for x in e.get("edit", ())))
              for e in tomllib.loads(path.read_text())["submission"]]
    for assignment in ASSIGNMENTS:
        names = [s.name for s in corpus if s.assignment == assignment]
        references = [s for s in corpus if s.assignment == assignment and s.name == REFERENCE]
        if len(set(names)) != len(names) or len(references) != 1 or references[0].edits or not references[0].correct:
            raise SystemExit(f"{path}: {assignment} needs distinct names and one correct `{REFERENCE}` without edits")
    if bad := [s.name for s in corpus if s.assignment not in ASSIGNMENTS or (not s.correct and not s.question)]:
        raise SystemExit(f"{path}: unknown assignment, or wrong without a `question`: {bad}")
    return corpus


def write_spellings(corpus: list[Spelling], dist: Path, folder: Path) -> dict[str, Path]:
    """Each assignment's spellings as notebooks ``<folder>/<assignment>/<name>.ipynb``, made from
    its solutions notebook by the build's own find/replace (``variants.write_variants``)."""
    folders = {}
    for assignment in ASSIGNMENTS:
        folders[assignment] = fresh_folder(folder / assignment)
        write_variants([s for s in corpus if s.assignment == assignment],  # type: ignore[arg-type]
                       dist / assignment / "solutions" / f"{assignment}.ipynb", folders[assignment])
    return folders


def trainings_paid(out: Path) -> int:
    """Distinct architectures the grader trained in the batch written to ``out``: the training
    store's records (``batch.TRAINING_STORE_DIR``)."""
    return len(list((out / ".trainings").glob("*.json")))


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open(newline="") as stream:
        return {row["submission"]: row for row in csv.DictReader(stream)}


def score_text(row: dict[str, str] | None) -> str:
    return "missing" if row is None else f"{float(row['total']):g}/{float(row['possible']):g}"


def unexpected(book: dict[str, dict[str, str]], graded_as: dict[str, Spelling]) -> list[str]:
    """Where the gradebook disagrees with the file: a correct spelling without full marks, a
    wrong one that loses nothing, or loses on another question than its own. Full marks of a
    question: the reference's score there (the reference must have full marks itself)."""
    reference = next(book.get(row) for row, s in graded_as.items() if s.name == REFERENCE)
    if reference is None or float(reference["total"]) != float(reference["possible"]):
        return [f"the reference has {score_text(reference)}"]
    questions = [q for q in reference if q not in ("submission", "status", "total", "possible") and reference[q]]
    problems = []
    for row_name, spelling in graded_as.items():
        row = book.get(row_name)
        if row is None or row["status"] != "graded":
            problems.append(f"{row_name}: {row['status'] if row else 'not in the gradebook'}")
            continue
        lost = [q for q in questions if float(row[q] or 0) < float(reference[q])]
        if spelling.correct and lost:
            problems.append(f"{row_name} (correct): {score_text(row)}, lost on {', '.join(lost)}")
        elif not spelling.correct and lost != [spelling.question]:
            problems.append(f"{row_name} (wrong on {spelling.question}): {score_text(row)}, lost on "
                            f"{', '.join(lost) or 'nothing'}")
    return problems


def kind(spelling: Spelling) -> str:
    return "correct" if spelling.correct else f"wrong ({spelling.question})"


@dataclass
class Alone:
    """One submission graded by itself: ``autograder grade -j 1`` on a folder holding it only."""

    spelling: Spelling
    wall: float     # the command, start to gradebook
    seconds: float  # its grading, as journaled (result.seconds)
    score: str
    trainings: int


def grade_alone(spelling: Spelling, notebook: Path, dist: Path, work: Path) -> Alone:
    folder = fresh_folder(work / "alone" / spelling.assignment / spelling.name)
    shutil.copy(notebook, folder / notebook.name)
    out = fresh_folder(work / "alone-out" / spelling.assignment / spelling.name)
    wall, _, per = autograder_grade(spelling.assignment, folder, dist, out, jobs=1)
    return Alone(spelling, wall, per[0], score_text(gradebook(out).get(spelling.name)), trainings_paid(out))


def spellings_corpus(dist: Path, work: Path, skip_otter: bool) -> None:
    corpus = load_spellings()
    folders = write_spellings(corpus, dist, work / "spellings")
    by_assignment = {a: [s for s in corpus if s.assignment == a] for a in ASSIGNMENTS}
    print(f"{len(corpus)} hand-written submissions ({SPELLINGS_FILE.relative_to(ROOT)}): "
          + "; ".join(f"{a} {len(c)} ({sum(s.correct for s in c)} correct, {sum(not s.correct for s in c)} wrong)"
                      for a, c in by_assignment.items()) + f"; {os.cpu_count()} cores")

    b_wall, b_peaks, paid, problems, scores = 0.0, list[Peak](), {}, [], {}
    for assignment, spellings in by_assignment.items():
        out = fresh_folder(work / f"spellings-out-{assignment}")
        seconds, peak, _ = autograder_grade(assignment, folders[assignment], dist, out)
        b_wall, b_peaks, paid[assignment] = b_wall + seconds, [*b_peaks, peak], trainings_paid(out)
        book = gradebook(out)
        problems += [f"{assignment}/{p}" for p in unexpected(book, {s.name: s for s in spellings})]
        scores |= {(assignment, s.name): score_text(book.get(s.name)) for s in spellings}
    print(f"(b) autograder grade, one command per assignment, default workers: {b_wall:.1f} s wall "
          f"({b_wall / len(corpus):.2f} s per submission); peak memory {gib(largest(b_peaks))}")
    print("    trainings the batch paid (records in <out>/.trainings/): "
          + ", ".join(f"{a} {n}" for a, n in paid.items()))
    print("    every result as spellings.toml says" if not problems else
          "    NOT as spellings.toml says:\n" + "\n".join(f"      {p}" for p in problems))

    if not skip_otter:
        a_runs = [otter_run_one(folders[s.assignment] / f"{s.name}.ipynb",
                                dist / s.assignment / "autograder" / f"{s.assignment}-autograder.zip", work)
                  for s in corpus]
        a = runs(a_runs)
        print(f"(a) otter run, one at a time: {a.wall:.1f} s wall ({a.wall / len(corpus):.2f} s per submission); "
              f"peak memory {gib(a.peak)}")
        print(f"b/a = {b_wall / a.wall:.3f}")

    print("\nEach submission graded alone (its own `autograder grade -j 1` on a folder holding only it, so "
          "its figure is its alone: no batch, no other submission's training shared):")
    alone = [grade_alone(s, folders[s.assignment] / f"{s.name}.ipynb", dist, work) for s in corpus]
    reference = {x.spelling.assignment: x for x in alone if x.spelling.name == REFERENCE}
    print(f"  {'assignment':<15} {'spelling':<33} {'kind':<26} {'score':>7} {'wall s':>7} {'grading s':>9} "
          f"{'trained':>7} {'÷ reference':>11}")
    for x in alone:
        s, ref = x.spelling, reference[x.spelling.assignment]
        ratio = f"{x.seconds / ref.seconds:.2f}" if s.correct and s.name != REFERENCE else ""
        print(f"  {s.assignment:<15} {s.name:<33} {kind(s):<26} {x.score:>7} {x.wall:7.1f} {x.seconds:9.1f} "
              f"{x.trainings:7d} {ratio:>11}")
        if x.score != scores[(s.assignment, s.name)]:
            print(f"    ^ scored {scores[(s.assignment, s.name)]} in the batch")
    print("  grading s: the submission's own grading time as journaled (result.seconds); wall s: the whole "
          "command; ÷ reference: grading s of a correct spelling over its assignment's reference's")
    for assignment in ASSIGNMENTS:
        ratios_ = [x.seconds / reference[assignment].seconds for x in alone
                   if x.spelling.assignment == assignment and x.spelling.correct and x.spelling.name != REFERENCE]
        print(f"  {assignment}: correct spellings over the reference, grading s: median "
              f"{statistics.median(ratios_):.2f}, range {min(ratios_):.2f}-{max(ratios_):.2f}")


def batch_of(count: int, dist: Path, work: Path) -> None:
    """``count`` keras_networks submissions cycled over its spellings, in one batch."""
    corpus = [s for s in load_spellings() if s.assignment == KERAS]
    source = write_spellings(load_spellings(), dist, work / "spellings")[KERAS]
    folder = fresh_folder(work / "batch-of")
    graded_as = {}
    for index in range(count):
        spelling = corpus[index % len(corpus)]
        name = f"student_{index + 1:03d}_{spelling.name}"
        shutil.copy(source / f"{spelling.name}.ipynb", folder / f"{name}.ipynb")
        graded_as[name] = spelling
    out = fresh_folder(work / "batch-of-out")
    seconds, peak, per = autograder_grade(KERAS, folder, dist, out)
    problems = unexpected(gradebook(out), graded_as)
    print(f"--batch-of {count}: {count} {KERAS} submissions cycled over its {len(corpus)} spellings "
          f"({sum(s.correct for s in corpus)} correct, {sum(not s.correct for s in corpus)} wrong), one "
          f"`autograder grade`, default workers ({os.cpu_count()} cores): {seconds:.1f} s wall, "
          f"{seconds / count:.2f} s per submission (median grading time {statistics.median(per):.1f} s); "
          f"trainings paid: {trainings_paid(out)}; peak memory {gib(peak)}")
    print("every result as spellings.toml says" if not problems else
          "NOT as spellings.toml says:\n" + "\n".join(f"  {p}" for p in problems))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=12, help="in all, split between the assignments")
    parser.add_argument("--dist", type=Path, default=None)
    parser.add_argument("--skip-otter", action="store_true", help="leave out (a), the slowest")
    parser.add_argument("--rounds", type=int, default=1, help="measure b, c and a this many times in turn")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--corpus", choices=("samples", "spellings"), default="samples",
                        help="samples: the solutions and known-wrong ones (b, c, a); spellings: "
                             "benchmarks/spellings.toml, a class as it writes (a, b, each alone)")
    parser.add_argument("--batch-of", type=int, default=None, metavar="N",
                        help="grade N keras_networks spellings (cycled, copies named distinctly) in one "
                             "autograder grade (with the default corpus: this only)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        work = Path(tmp)
        dist = args.dist or work / "dist"
        if args.dist is None:
            build(dist)
        if args.corpus == "spellings" or args.batch_of:
            if args.corpus == "spellings":
                spellings_corpus(dist, work, args.skip_otter)
            if args.batch_of:
                batch_of(args.batch_of, dist, work)
            return
        per_assignment = max(1, args.submissions // len(ASSIGNMENTS))
        batches = {a: submissions_for(a, dist, per_assignment, work / "batches" / a) for a in ASSIGNMENTS}
        count = sum(len(b) for b in batches.values())
        print(f"{count} submissions ({', '.join(f'{len(b)} {a}' for a, b in batches.items())}: "
              f"solutions + known-wrong), {cores} cores")

        rounds = []
        for number in range(1, args.rounds + 1):
            rounds.append(measure_round(batches, dist, work, args.skip_otter))
            if args.rounds > 1:
                print(f"round {number}: " + ratios(rounds[-1], cores))
        report(rounds, cores)
        if args.profile:
            profile(dist)


if __name__ == "__main__":
    main()
