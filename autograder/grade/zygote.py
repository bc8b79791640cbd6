"""A zygote for the split runner's grading children: one process per grader that imports
the judges' libraries once, and forks a fresh child for each submission.

A fresh interpreter per submission paid Python's start, our imports and Keras' (about 4 s
of CPU) every time, for judging code that is the same for every student. Forking from a
process that already imported them costs milliseconds. Nothing of a submission ever
reaches the zygote: it imports libraries and forks; each child is still a new process, in
a session of its own, confined (rlimits, its cgroup) before it reads the submission, and it
starts the student's jailed kernel exactly as a fresh interpreter would. The zygote runs no
TensorFlow operation before forking (only imports), so no thread pool is copied half-held.

Built on the standard library's ``forkserver``: it is started on first use with the grading
children's thread share in its environment (the numeric libraries read it when they load),
exits when the grader does, and its children die with it (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from typing import TYPE_CHECKING

from autograder.grade.environment import THREAD_VARIABLES

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from autograder.grade.child import ChildJob
    from autograder.grade.sandbox import ProcessCgroup

# what every split runner child imports: its own module (nbclient, jupyter_client, the jail)
# and the judges' libraries; never the judges themselves, whose settings are the zip's
PRELOAD = ("autograder.grade.split_runner", "keras", "sklearn.neural_network", "sklearn.exceptions")
DISABLE_ENV_VAR = "AUTOGRADER_NO_ZYGOTE"  # set to 1: a fresh interpreter per child, as before

_CONTEXT = multiprocessing.get_context("forkserver")
_START_LOCK = threading.Lock()
_started = False


def usable() -> bool:
    """Daemonic processes (Dask's workers) may not have children of their own through
    multiprocessing, and a grader may opt out; both use a fresh interpreter instead."""
    return not multiprocessing.current_process().daemon and os.environ.get(DISABLE_ENV_VAR) != "1"


def fork(job: ChildJob, cgroup: ProcessCgroup | None) -> BaseProcess:
    """Start ``job`` (the split runner) in a child forked from the zygote."""
    _ensure_started(job.env)
    process = _CONTEXT.Process(target=run_child, args=(job, cgroup), name="autograder-grading-child")
    process.start()
    return process


def _ensure_started(env: dict[str, str]) -> None:
    """Start the zygote once, with the children's thread share in its environment: OpenMP and
    OpenBLAS size their pools when they load, in the zygote, not in the child."""
    global _started
    with _START_LOCK:
        if _started:
            return
        _CONTEXT.set_forkserver_preload(list(PRELOAD))
        saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
        os.environ.update({name: env[name] for name in THREAD_VARIABLES if name in env})
        try:
            from multiprocessing import forkserver
            forkserver.ensure_running()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        _started = True


def run_child(job: ChildJob, cgroup: ProcessCgroup | None) -> None:
    """In the forked child: become what ``python -m <runner> …`` started with Popen would be
    (own session, the job's environment, folder and log, confined), then grade and exit
    without the interpreter's shutdown."""
    from autograder.grade.sandbox import confine
    os.setsid()
    os.chdir(job.cwd)
    os.environ.clear()
    os.environ.update(job.env)
    log = os.open(job.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for stream in (1, 2):
        os.dup2(log, stream)
    os.close(log)
    status = 1
    try:
        confine(job.limits, cgroup)
        from autograder.grade.split_runner import child_main
        child_main(*job.arguments)
        status = 0
    except BaseException as error:  # noqa: BLE001 (reported in the log the parent reads)
        print(f"the grading child failed: {type(error).__name__}: {error}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
