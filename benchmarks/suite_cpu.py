"""Where the test suite's CPU time goes: per file and per test, fixtures' set-up included.

On 2 cores the suite is CPU-bound, so its wall time is about its CPU time over the cores; but
pytest's ``--durations`` gives wall time, which a test spends partly waiting for the other
worker. This runs the README's test command on one worker (``-n 0``) with
``AUTOGRADER_SUITE_CPU_PROFILE`` set: ``tests/conftest.py`` then records, per test, the
machine's busy CPU seconds over it (``/proc/stat``), which counts every process the test caused
(a grader's CLI, its zygote, grading children, kernels in their own namespaces). It prints the
totals per file and the costliest tests. Run it on an otherwise idle machine: whatever else
runs is counted too (a few CPU-s per hour on an idle one).

    .venv/bin/python benchmarks/suite_cpu.py [--top 30] [pytest arguments ...]
    .venv/bin/python benchmarks/suite_cpu.py --read /tmp/suite-cpu-…/profile   # an earlier run

A session fixture's cost (a build, a graded batch) lands on the first test that uses it.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers import CPU_PROFILE_ENV_VAR, machine_busy_seconds  # noqa: E402  (the suite's own)


def read_profile(prefix: Path) -> list[tuple[float, float, str]]:
    """(CPU seconds, wall seconds, test id) from every worker's file of one run."""
    rows = []
    for path in sorted(prefix.parent.glob(prefix.name + ".*")):
        for line in path.read_text().splitlines():
            cpu, wall, test = line.split("\t", 2)
            rows.append((float(cpu), float(wall), test.split("@")[0]))
    return rows


def report(rows: list[tuple[float, float, str]], top: int) -> None:
    per_file: collections.Counter[str] = collections.Counter()
    for cpu, _, test in rows:
        per_file[test.split("::")[0]] += cpu
    total = sum(per_file.values())
    print(f"{len(rows)} tests, {total:,.0f} CPU-s recorded")
    print("\nper file (CPU-s, share):")
    for name, cpu in per_file.most_common():
        if cpu >= 1:
            print(f"  {cpu:8.1f}  {cpu / total:5.1%}  {name}")
    print(f"\nthe {top} costliest tests (CPU-s, wall s):")
    for cpu, wall, test in sorted(rows, reverse=True)[:top]:
        print(f"  {cpu:8.1f} {wall:8.1f}  {test}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--read", type=Path, help="report an earlier run's files (their common prefix)")
    options, pytest_arguments = parser.parse_known_args()
    if options.read:
        report(read_profile(options.read), options.top)
        return 0
    prefix = Path(tempfile.mkdtemp(prefix="suite-cpu-")) / "profile"
    busy, started = machine_busy_seconds(), time.monotonic()
    done = subprocess.run(["bash", str(ROOT / "scripts" / "test.sh"), "-n", "0", *pytest_arguments],
                          env={**os.environ, CPU_PROFILE_ENV_VAR: str(prefix)})
    busy, wall = machine_busy_seconds() - busy, time.monotonic() - started
    print(f"\nthe suite exited with {done.returncode} after {wall:,.0f} s; the machine was busy "
          f"{busy:,.0f} CPU-s of {wall * (os.cpu_count() or 1):,.0f} (files: {prefix}.*)")
    report(read_profile(prefix), options.top)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
