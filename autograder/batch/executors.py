"""Where submissions are graded: this machine's worker pool, or a Dask cluster.

Both are ``concurrent.futures.Executor``s, so ``grade_submissions`` neither knows nor
cares which one runs a task. A task carries everything it needs as bytes (the submission,
the autograder zip) and returns a GradingOutcome (pickled, no files), so a Dask worker on another machine needs
the package installed but no shared file system. Journaling, outputs and the progress bar
stay with the grader that started the batch: a worker that dies costs only its task.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from autograder.grade.isolation.limits import Limits
from autograder.grade.processes.grading_child import grade_in_child
from autograder.grade.runners import DEFAULT_RUNNER
from autograder.results import GradingOutcome

EXECUTORS = ("local", "dask")
LOCAL_WORKER = "local"


class ExecutorSetupError(RuntimeError):
    """The executor cannot be reached or is not installed."""


@dataclass(frozen=True)
class GradingTask:
    """One submission to grade, self-contained so it can travel to another machine."""

    file_name: str            # the submission's own name (Otter reads notebooks and zips by suffix)
    submission: bytes
    autograder_zip: bytes
    timeout: float
    dataset: str
    limits: Limits
    cpus: int | None = None  # the child's share of the cores; None: this worker's share of its machine's
    runner: str = DEFAULT_RUNNER  # a name of grade.runners.RUNNERS, or "auto" (grade.runners.choose_runner)
    from_zygote: bool = False   # fork the child from the worker's zygote: the batch grades several
    training_store: str | None = None  # the batch's checks.training_store folder (this machine's workers)
    only: tuple[str, ...] = ()  # judge these questions alone (`grade --only`; the split runner); empty: all


def run_grading_task(task: GradingTask) -> GradingOutcome:
    """Grade one submission where this runs, saying where (``worker``)."""
    worker, cpus = _where_am_i()
    with tempfile.TemporaryDirectory(prefix="autograder-task-") as folder:
        submission = Path(folder) / task.file_name
        submission.write_bytes(task.submission)
        autograder_zip = Path(folder) / "autograder.zip"
        autograder_zip.write_bytes(task.autograder_zip)
        graded = grade_in_child(submission, autograder_zip, timeout=task.timeout,
                                  dataset=task.dataset, cpus=task.cpus or cpus,
                                  limits=task.limits, runner=task.runner,
                                  from_zygote=task.from_zygote,
                                  training_store=Path(task.training_store) if task.training_store else None,
                                  only=task.only)
    graded.worker = worker
    return graded


def _where_am_i() -> tuple[str, int]:
    """The Dask worker's address and its cores per task; ``local`` on this machine's pool."""
    cores = os.cpu_count() or 1
    if "distributed" not in sys.modules:  # a Dask worker imported it; importing it costs 0.4 s
        return LOCAL_WORKER, cores
    try:
        from distributed import get_worker
        worker = get_worker()
    except (ImportError, ValueError):
        return LOCAL_WORKER, cores
    return worker.address, max(1, cores // max(1, worker.state.nthreads))


@contextmanager
def open_executor(kind: str = "local", *, jobs: int | None = None,
                  scheduler: str | None = None) -> Iterator[Executor]:
    """``local``: ``jobs`` threads, each driving one grading child process on this machine.
    ``dask``: the workers of the Dask scheduler at ``scheduler`` (their threads set the
    concurrency; ``jobs`` is ignored)."""
    if kind == "local":
        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
            yield pool
    elif kind == "dask":
        if not scheduler:
            raise ExecutorSetupError("the dask executor needs --scheduler ADDRESS (e.g. tcp://host:8786)")
        try:
            from distributed import Client
        except ImportError as error:
            raise ExecutorSetupError("the dask executor needs `pip install 'dask[distributed]'`") from error
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as error:
            raise ExecutorSetupError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from error
        with client:
            yield client.get_executor(pure=False)
    else:
        raise ExecutorSetupError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTORS)}")
