"""Benchmark `autograder grade` on a batch: wall time and peak memory with 1 and 2 workers,
and the time from a `kill -9` mid-batch to a resumed, finished gradebook.

Needs a build (`autograder build nn_foundations`). The batch is N notebooks cycled from the
build's solutions and known-wrong submissions, so every one runs all of its cells and all
hidden checks. Peak memory (``PeakMemory``, sampled every 0.2 s from /proc): the machine's
memory in use above its level before the run, and the resident sizes summed over the grader's
whole process tree (grader, zygote, grading children, kernels).

    .venv/bin/python benchmarks/batch_grading.py [--submissions 20] [--jobs 1 2] [--runner split]
                                                 [--no-kill]

``--runner otter`` against ``--runner split`` gives the cost of judging outside the
student's process (issue 5) per submission.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from autograder.grade.isolation.cgroups import process_tree_stats

ROOT = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def make_batch(assignment: str, dist: Path, folder: Path, count: int) -> None:
    sources = [dist / assignment / "solutions" / f"{assignment}.ipynb",
               *sorted((dist / assignment / "known_wrong").glob("*.ipynb"))]
    folder.mkdir(parents=True)
    for index in range(count):
        shutil.copy(sources[index % len(sources)], folder / f"student_{index + 1:02d}.ipynb")


def tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants."""
    return sum(int(fields[21]) * PAGE for fields in process_tree_stats(root).values())


def memory_in_use() -> int:
    """The machine's memory in use: MemTotal − MemAvailable (/proc/meminfo), in bytes."""
    fields = {line.split(":")[0]: int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
              if line.startswith(("MemTotal:", "MemAvailable:"))}
    return (fields["MemTotal"] - fields["MemAvailable"]) * 1024


class PeakMemory(threading.Thread):
    """Two peaks of one run, sampled every 0.2 s. ``peak``: the machine's memory in use above
    its level when sampling began, i.e. what the run needs, a page that forked processes share
    counted once (run nothing else meanwhile). ``peak_rss``: resident sizes summed over the
    process tree, which counts such a page in every process that maps it. (Proportional set
    sizes would split them, but reading them costs about 10 ms per process of Keras' size,
    far too much to sample.)"""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.peak_rss, self.done = pid, 0, 0, threading.Event()
        self.baseline = memory_in_use()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, memory_in_use() - self.baseline)
            self.peak_rss = max(self.peak_rss, tree_rss(self.pid))
            time.sleep(0.2)


def grade_command(assignment: str, folder: Path, out: Path, jobs: int, dist: Path, runner: str) -> list[str]:
    return [sys.executable, "-m", "autograder.cli", "grade", assignment, str(folder),
            "--out", str(out), "-j", str(jobs), "--dist", str(dist), "--runner", runner]


def sampled_run(command: list[str], cwd: Path | None = None,
                env: dict[str, str] | None = None) -> tuple[float, PeakMemory, int]:
    """Run ``command`` to its end: wall seconds, its peak memory, its exit status."""
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sampler = PeakMemory(process.pid)
    sampler.start()
    process.wait()
    sampler.done.set()
    sampler.join()
    return time.monotonic() - started, sampler, process.returncode


def timed_run(command: list[str]) -> tuple[float, PeakMemory]:
    seconds, sampler, status = sampled_run(command)
    if status != 0:
        raise SystemExit(f"grading failed ({status}): {' '.join(command)}")
    return seconds, sampler


def kill_and_resume(command: list[str], out: Path, count: int) -> tuple[int, float]:
    """Kill -9 once half the batch is journaled; time the same command to a finished gradebook."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / ".journal"
    while process.poll() is None and len(list(journal.glob("*.json"))) < count // 2:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    process.wait()
    kept = len(list(journal.glob("*.json")))
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return kept, time.monotonic() - killed_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="nn_foundations")
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--runner", default="auto", choices=("auto", "split", "otter"))
    parser.add_argument("--no-kill", action="store_true", help="skip the kill -9 and resume run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        folder = Path(tmp) / "batch"
        make_batch(args.assignment, args.dist, folder, args.submissions)
        print(f"{args.submissions} {args.assignment} submissions, {os.cpu_count()} cores, runner {args.runner}")
        gradebooks = {}
        for jobs in args.jobs:
            out = Path(tmp) / f"out-j{jobs}"
            seconds, peak = timed_run(grade_command(args.assignment, folder, out, jobs, args.dist, args.runner))
            gradebooks[jobs] = (out / "gradebook.csv").read_text()
            print(f"-j {jobs}: {seconds:.0f} s wall ({seconds / args.submissions:.1f} s per submission), "
                  f"peak memory {peak.peak / 2**30:.2f} GiB (the machine's, over its level before; "
                  f"resident sizes summed over the process tree: {peak.peak_rss / 2**30:.2f} GiB)")
        if args.no_kill:
            return
        jobs = max(args.jobs)
        out = Path(tmp) / "out-killed"
        kept, seconds = kill_and_resume(grade_command(args.assignment, folder, out, jobs, args.dist, args.runner),
                                        out, args.submissions)
        same = (out / "gradebook.csv").read_text() == gradebooks[jobs]
        print(f"kill -9 with {kept} of {args.submissions} journaled (-j {jobs}): {seconds:.0f} s from the kill "
              f"to a finished gradebook; same gradebook as the uninterrupted run: {same}")


if __name__ == "__main__":
    main()
