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

``--rounds N`` measures (b), (c), (a) N times in turn and prints each round and the median of
the ratios: this machine's speed drifts by 15-20 % over minutes, so one round's ratio can land
a few hundredths either side of a target, while a round's three runs share its drift.

``--profile`` also grades one solutions notebook per assignment with one worker and prints
where its time goes (``GradingOutcome.phases``: kernel start, the student's cells, the probes
calling student code, the judges, clean-up).

Without ``--dist`` the assignments are built first (``--no-verify``) into a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

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


def autograder_grade(assignment: str, folder: Path, dist: Path, out: Path) -> tuple[float, Peak, list[float]]:
    seconds, peak, status = run_timed([sys.executable, "-m", "autograder.cli", "grade", assignment,
                                       str(folder), "--out", str(out), "--dist", str(dist)])
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
                               runner="split", threads=os.cpu_count(), dataset="digits",
                               limits=config(assignment).limits)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=12, help="in all, split between the assignments")
    parser.add_argument("--dist", type=Path, default=None)
    parser.add_argument("--skip-otter", action="store_true", help="leave out (a), the slowest")
    parser.add_argument("--rounds", type=int, default=1, help="measure b, c and a this many times in turn")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        work = Path(tmp)
        dist = args.dist or work / "dist"
        if args.dist is None:
            build(dist)
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
