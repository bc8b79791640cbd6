"""Grade one submission in a child process, the *grading child* (``grade_in_child``),
whichever runner (``runners``) judges it.

The code that drives a kernel (nbclient, Otter's runner, our judges) must not share the
grader's process: a submission that hangs its kernel, or a crash in Otter, would take the
grader down with it. So each grading runs in a child process in its own session, confined
(rlimits, a cgroup), killed with its whole process group and cgroup when it runs out of
time, and it reports back through a JSON file, never through pickles.

The split runner's child is forked from a *zygote* (``zygote``) that imported the
judges' libraries once (Keras alone costs about 4 s of CPU per process); the child is still
a new process per submission, in its own session, confined before it reads anything of the
submission, and the student's code runs in the jailed kernel it starts, forked from a
template of the child made before it read anything (``kernel_template``). Where a zygote
cannot be used (a daemonic worker, such as Dask's), the child is a fresh interpreter
(``python -m autograder.grade.runners RUNNER SUBMISSION ZIP REPORT``), and so is its kernel.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from autograder.bundle import Bundle
from autograder.checks.training_store import TRAINING_STORE_ENV_VAR
from autograder.data import DATASET_ENV_VAR
from autograder.grade import runners
from autograder.grade.isolation.cgroups import ProcessCgroup
from autograder.grade.isolation.limits import CPU_SHARE_ENV_VAR, Limits, confine, numeric_thread_environment
from autograder.grade.isolation.namespaces import PARENT_NETNS_ENV_VAR, network_namespace
from autograder.grade.processes import zygote
from autograder.grade.processes.requests import ONLY_QUESTIONS_ENV_VAR, ChildJob
from autograder.grade.runners import DEFAULT_RUNNER, choose_runner
from autograder.grade.runners.otter import CELL_TIMEOUT_ENV_VAR
from autograder.results import GradingOutcome

KERNEL_START_ATTEMPTS = 3  # gradings whose kernel failed to start (GradingOutcome.retryable) are retried


def grade_in_child(submission: Path, autograder_zip: Path, *, timeout: float | None = None,
                   dataset: str | None = None, cpus: int | None = None,
                   limits: Limits = Limits(), runner: str = DEFAULT_RUNNER,
                   from_zygote: bool = False, training_store: Path | None = None,
                   only: tuple[str, ...] = ()) -> GradingOutcome:
    """Grade ``submission`` (a notebook or an Otter export zip) in a child process, with the
    split runner or ``otter run`` (``runner``: a name of ``runners.RUNNERS``, or ``auto``,
    chosen by the zip, see ``runners.choose_runner``).

    ``cpus``: the child's share of the cores (its cgroup's CPU quota; None: no quota); its numeric
    libraries run ``NUMERIC_THREADS`` threads per pool whatever the share.
    ``from_zygote``: fork the split runner's child from this grader's zygote, which pays the judges'
    imports once for all the submissions it forks; for a single submission a fresh interpreter
    is faster (its imports overlap the student's cells instead of preceding them). A kernel
    that failed to start is started again (KERNEL_START_ATTEMPTS in all). ``training_store``:
    the batch's ``checks.training_store`` folder, given to the split runner's child only (the
    judge side; the Otter runner runs student code in the judges' process). ``only``: judge
    these questions' checks alone (``autograder grade --only``; the split runner honours it, the
    Otter runner runs every test); empty: every question.
    """
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        grade = _grade_once(submission, autograder_zip, timeout, dataset, cpus, limits, runner, from_zygote,
                            training_store, only)
        if not grade.retryable or attempt == KERNEL_START_ATTEMPTS:
            return grade
        time.sleep(random.uniform(0.5, 2.0))  # let the other kernel take its ports first
    return grade


def child_environment(dataset: str | None, cpus: int | None, limits: Limits,
                      training_store: Path | None = None, only: tuple[str, ...] = ()) -> dict[str, str]:
    """The grading child's environment: the grader's, with the dataset, the thread share,
    the cell limit, the batch's training store (or none), the questions to judge (or all) and
    the grader's network namespace (to tell whether the child left it)."""
    env = dict(os.environ)
    env.pop(TRAINING_STORE_ENV_VAR, None)  # only the batch gives one, and only to a judge
    if training_store:
        env[TRAINING_STORE_ENV_VAR] = str(training_store)
    if dataset:
        env[DATASET_ENV_VAR] = dataset
    env.pop(ONLY_QUESTIONS_ENV_VAR, None)  # only `--only` gives one
    if only:
        env[ONLY_QUESTIONS_ENV_VAR] = ",".join(only)
    env.update(numeric_thread_environment())
    env.pop(CPU_SHARE_ENV_VAR, None)
    if cpus:
        env[CPU_SHARE_ENV_VAR] = str(cpus)
    if limits.cell_timeout:
        env[CELL_TIMEOUT_ENV_VAR] = str(limits.cell_timeout)
    env[PARENT_NETNS_ENV_VAR] = network_namespace() or ""
    return env


def _grade_once(submission: Path, autograder_zip: Path, timeout: float | None, dataset: str | None,
                cpus: int | None, limits: Limits, runner: str, from_zygote: bool,
                training_store: Path | None, only: tuple[str, ...] = ()) -> GradingOutcome:
    started = time.monotonic()
    runner = choose_runner(autograder_zip, runner)
    store = training_store if runner == "split" else None
    with tempfile.TemporaryDirectory(prefix="grading-child-") as tmp:
        report = Path(tmp) / "grade.json"
        forked = from_zygote and runner in zygote.RUNNERS
        if forked:  # the zygote keeps its requests' bytes: let them name no student (kernel_template)
            submission = _task_copy(Path(submission), Path(tmp))
        arguments = [str(Path(submission).resolve()), str(Path(autograder_zip).resolve()), str(report)]
        job = ChildJob(runner, arguments, child_environment(dataset, cpus, limits, store, only), tmp, limits,
                       from_zygote=forked, preload=judges_libraries(autograder_zip) if forked else ())
        returncode, output, timed_out = _run_in_own_session(job, timeout, cpus)
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


def _task_copy(submission: Path, folder: Path) -> Path:
    """The submission under a name that is every submission's (``submission.ipynb``, or
    ``.zip``), in the task's folder."""
    copy = folder / f"submission{submission.suffix.lower()}"
    shutil.copyfile(submission, copy)
    return copy


def judges_libraries(autograder_zip: Path) -> tuple[str, ...]:
    """What the zip's judges import (its manifest's ``preload``); none for older zips."""
    try:
        manifest = Bundle.read(Path(autograder_zip)).manifest
    except (OSError, ValueError, zipfile.BadZipFile):
        return ()  # the child reports what is wrong with the zip
    return manifest.preload if manifest else ()


class Child:
    """A running grading child, however it was started: a Popen or a process forked by the zygote."""

    def __init__(self, pid: int, wait: Callable[[float | None], int | None]) -> None:
        self.pid, self._wait = pid, wait

    def wait(self, timeout: float | None) -> int | None:
        """The exit code, or None if it is still running after ``timeout``."""
        return self._wait(timeout)

    def kill(self) -> None:
        """SIGKILL its process group (it leads a session of its own) and itself."""
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


# The grading children running now, so that Ctrl-C or SIGTERM of the grader can stop them
# all (each is in a session of its own, which the terminal's Ctrl-C does not reach).
_RUNNING: dict[int, tuple[Child, ProcessCgroup | None]] = {}
_RUNNING_LOCK = threading.Lock()


def stop_grading_children() -> int:
    """SIGKILL every grading child of this process, with its process group and cgroup."""
    with _RUNNING_LOCK:
        running = list(_RUNNING.values())
    for child, cgroup in running:
        child.kill()
        if cgroup:
            cgroup.kill_all()
    return len(running)


def _run_in_own_session(job: ChildJob, timeout: float | None, cpus: int | None) -> tuple[int, str, bool]:
    cgroup = ProcessCgroup.create(job.limits.max_processes, memory_mb=job.limits.memory_mb, cpus=cpus)
    child = start_child(job, cgroup)
    with _RUNNING_LOCK:
        _RUNNING[child.pid] = (child, cgroup)
    try:
        returncode = child.wait(timeout)
        timed_out = returncode is None
        if timed_out:
            child.kill()
            if cgroup:
                cgroup.kill_all()  # what left the process group
            returncode = child.wait(None)
        return (-9 if timed_out else returncode or 0), _read_log(job.log), timed_out
    finally:
        with _RUNNING_LOCK:
            _RUNNING.pop(child.pid, None)
        if cgroup:
            cgroup.remove()


def start_child(job: ChildJob, cgroup: ProcessCgroup | None) -> Child:
    """Start ``job``: forked from the zygote (if the job asks, for the runner the zygote forks,
    where usable), else a fresh interpreter; in a session of its own, confined, in ``cgroup``."""
    note = b""
    if job.from_zygote and job.runner in zygote.RUNNERS and zygote.usable():
        try:
            pid, parent = zygote.fork(job, cgroup)
            return Child(pid, lambda timeout: parent.wait(pid, timeout))
        except zygote.ZygoteError as error:  # a zygote that cannot fork costs speed, never a grade
            note = f"{error}; this submission was graded by a fresh interpreter\n".encode()
    with open(job.log, "wb") as log:
        log.write(note)
        log.flush()
        popen = subprocess.Popen([sys.executable, "-m", runners.__name__, job.runner, *job.arguments],
                                 cwd=job.cwd, env=job.env,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                 preexec_fn=partial(confine, job.limits, cgroup, os.getpid()))

    def wait_popen(timeout: float | None) -> int | None:
        try:
            return popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
    return Child(popen.pid, wait_popen)


def _read_log(path: Path) -> str:
    try:
        return path.read_bytes()[-200_000:].decode(errors="replace")
    except OSError:
        return ""
