"""Grade one notebook with an autograder zip in a child process (``grade_in_child``), with
the split runner (``split_runner``) or, for plain Otter tests, through ``otter run`` (below).

Otter runs the notebook in a kernel of its own, but the code that drives it (nbclient,
Otter's runner) would still share our process: a submission that hangs the kernel, or a
crash in Otter, would take the grader down with it. So each grading runs in a child
process in its own session, killed with its whole process group when it runs out of
time, and it reports back through a JSON file, never through pickles.

Otter's results.json gives one row per question; the child reads the per-case results
instead, so every hidden check keeps its own points and message.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from autograder.data import DATASET_ENV_VAR
from autograder.grade.sandbox import (
    PARENT_NETNS_ENV_VAR,
    Limits,
    ProcessCgroup,
    confine,
    network_isolated,
    network_namespace,
)
from autograder.grade.shipped import autograder_files, zip_manifest
from autograder.results import CaseResult, GradingOutcome

FAILURE_PREFIXES = ("CheckFailed: ", "AssertionError: ")
# Each numeric library sizes its thread pool to the whole machine. With several submissions
# graded at once, every kernel would start that many spinning threads and they would all
# slow each other down, so each child gets its share of the cores instead.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


CELL_TIMEOUT_ENV_VAR = "AUTOGRADER_CELL_TIMEOUT"
# A kernel that dies before answering kernel_info never ran student code: two kernels
# started at the same moment can race for the same TCP ports. Such a start is retried.
KERNEL_START_FAILURE = "Kernel died before replying to kernel_info"
KERNEL_START_ATTEMPTS = 3


RUNNERS = {"split": "autograder.grade.split_runner", "otter": "autograder.grade.otter_runner"}


def grade_in_child(submission: Path, autograder_zip: Path, *, timeout: float | None = None,
                     dataset: str | None = None, threads: int | None = None,
                     limits: Limits = Limits(), runner: str = "otter") -> GradingOutcome:
    """Grade ``submission`` (a notebook or an Otter export zip) in a child process, with the
    split runner or ``otter run`` (``runner``, see RUNNERS).

    ``threads`` caps the numeric libraries' thread pools in the child (see THREAD_VARIABLES).
    A kernel that failed to start is started again (KERNEL_START_ATTEMPTS in all).
    """
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        grade = _grade_once(submission, autograder_zip, timeout, dataset, threads, limits, runner)
        if not (grade.error and KERNEL_START_FAILURE in grade.error) or attempt == KERNEL_START_ATTEMPTS:
            return grade
        time.sleep(random.uniform(0.5, 2.0))  # let the other kernel take its ports first
    return grade


def _grade_once(submission: Path, autograder_zip: Path, timeout: float | None, dataset: str | None,
                threads: int | None, limits: Limits, runner: str) -> GradingOutcome:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="otter-run-") as tmp:
        report = Path(tmp) / "grade.json"
        command = [sys.executable, "-m", RUNNERS[runner],
                   str(Path(submission).resolve()), str(Path(autograder_zip).resolve()), str(report)]
        env = dict(os.environ)
        if dataset:
            env[DATASET_ENV_VAR] = dataset
        if threads:
            env.update({name: str(threads) for name in THREAD_VARIABLES})
        if limits.cell_timeout:
            env[CELL_TIMEOUT_ENV_VAR] = str(limits.cell_timeout)
        env[PARENT_NETNS_ENV_VAR] = network_namespace() or ""
        returncode, output, timed_out = _run_in_own_session(command, env, tmp, timeout, limits, threads)
        if timed_out:
            grade = GradingOutcome(error=f"grading stopped after {timeout:g} s (time limit)", timed_out=True)
        elif report.is_file():
            grade = GradingOutcome.from_dict(json.loads(report.read_text()))
        else:
            grade = GradingOutcome(error=f"the grading process exited with code {returncode} "
                                     f"without a result:\n{output[-2000:]}")
    grade.seconds = time.monotonic() - started
    grade.log = output[-20000:]
    return grade


# The grading children running now, so that Ctrl-C or SIGTERM of the grader can stop them
# all (each is in a session of its own, which the terminal's Ctrl-C does not reach).
_RUNNING: dict[int, tuple[subprocess.Popen, ProcessCgroup | None]] = {}
_RUNNING_LOCK = threading.Lock()


def stop_grading_children() -> int:
    """SIGKILL every grading child of this process, with its process group and cgroup."""
    with _RUNNING_LOCK:
        running = list(_RUNNING.values())
    for process, cgroup in running:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if cgroup:
            cgroup.kill_all()
    return len(running)


def _run_in_own_session(command: list[str], env: dict[str, str], cwd: str, timeout: float | None,
                        limits: Limits, threads: int | None) -> tuple[int, str, bool]:
    cgroup = ProcessCgroup.create(limits.max_processes, memory_mb=limits.memory_mb, cpus=threads)
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True, text=True,
                               preexec_fn=lambda: confine(limits, cgroup))
    with _RUNNING_LOCK:
        _RUNNING[process.pid] = (process, cgroup)
    try:
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output, False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        if cgroup:
            cgroup.kill_all()  # what left the process group still holds the output pipe
        output, _ = process.communicate()
        return -9, output or "", True
    finally:
        with _RUNNING_LOCK:
            _RUNNING.pop(process.pid, None)
        if cgroup:
            cgroup.remove()


# Child side ------------------------------------------------------------------------------

def _apply_cell_timeout() -> None:
    """Give every notebook execution a per-cell time limit that interrupts the cell.

    Otter builds its own ExecutePreprocessor (imported inside ``grade_notebook`` at call
    time) with a config of its own, so the limit goes in as a subclass whose trait defaults
    carry it; traitlets caches defaults per class, so mutating the parent's would not work.
    On timeout the kernel is interrupted and the next cells still run: a runaway cell costs
    only what depends on it.
    """
    seconds = os.environ.get(CELL_TIMEOUT_ENV_VAR)
    if not seconds:
        return
    import nbconvert.preprocessors as preprocessors
    from traitlets import Bool, Integer
    limit = int(float(seconds))

    class CellTimeLimitedPreprocessor(preprocessors.ExecutePreprocessor):
        timeout = Integer(limit, allow_none=True).tag(config=True)
        interrupt_on_timeout = Bool(True).tag(config=True)

    preprocessors.ExecutePreprocessor = CellTimeLimitedPreprocessor  # type: ignore[misc]  # deliberate monkeypatch


def _child_main(submission: str, autograder_zip: str, report: str) -> None:
    _apply_cell_timeout()
    import otter.run
    try:
        results = otter.run.main(submission, autograder=autograder_zip, output_dir=None,
                                 no_logo=True)
        grade = results_to_grade(results, test_function_names(Path(autograder_zip)))
    except Exception as error:  # Otter raises for invalid submissions; report, don't crash
        grade = GradingOutcome(error=f"{type(error).__name__}: {error}")
    grade.network_isolated = network_isolated()
    Path(report).write_text(json.dumps(grade.to_dict()))


def test_function_names(autograder_zip: Path) -> dict[str, list[str]]:
    """Per question, the names of its test functions in file order, from the zip's manifest.

    Otter names exception-based cases "q1 - 1", "q1 - 2"; the function names (one per
    hidden check) are what a person reading the gradebook recognises. Zips built before
    manifests keep Otter's names.
    """
    manifest = zip_manifest(autograder_files(autograder_zip))
    return manifest.test_functions() if manifest else {}


def results_to_grade(results: Any, function_names: dict[str, list[str]]) -> GradingOutcome:
    grade = GradingOutcome()
    for question, test_file in results.results.items():
        names = function_names.get(question, [])
        for index, case in enumerate(test_file.test_case_results):
            points = float(case.test_case.points or 0)
            grade.cases.append(CaseResult(
                question=question,
                name=names[index] if index < len(names) else case.test_case.name,
                points=points,
                score=points if case.passed else 0.0,
                hidden=bool(case.test_case.hidden),
                message="" if case.passed else student_message(case.message or ""),
                passed=bool(case.passed),
            ))
    grade.score = sum(c.score for c in grade.cases)
    grade.possible = sum(c.points for c in grade.cases)
    if results.catastrophic_error is not None:
        grade.error = f"{type(results.catastrophic_error).__name__}: {results.catastrophic_error}"
    return grade


def student_message(otter_message: str) -> str:
    """Keep the sentence meant for the student; drop Otter's frame of test-source lines."""
    for prefix in FAILURE_PREFIXES:
        if prefix in otter_message:
            return otter_message.split(prefix, 1)[1].strip()
    lines = [line for line in otter_message.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "failed"


if __name__ == "__main__":
    _child_main(*sys.argv[1:4])
