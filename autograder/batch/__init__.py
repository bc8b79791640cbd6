"""``autograder grade``: a folder of submissions → gradebook, results, feedback, report.

The batch layer, above grading one submission (``autograder.grade``) and the report
(``autograder.report``), below the entry points. The steps, each in its own module:

1. ``grade.intake``: find the submissions below the given paths and validate each one;
2. ``batch.executors``: hand each valid one, as a self-contained task, to this machine's worker
   pool or to a Dask cluster; there it is graded with the assignment's autograder zip in a
   grading child confined by ``grade.isolation`` (limits, no network): by the split runner
   (``grade.runners.split``: the student's kernel, jailed by ``grade.isolation.jail``, only
   answers probes; the judges run in the child), or for plain Otter tests by the Otter runner
   (``grade.runners.otter``: ``otter run``);
3. ``grade.records``: turn the per-check results into one result per submission, with a
   status from SPEC §6 (``graded``, ``error``, ``timeout``, ``invalid``);
4. ``batch.journal``: record each result atomically as soon as it is known, so that running the
   same command again after a crash grades only what is missing or changed;
5. ``autograder.report``: write the gradebook, the per-submission JSON and feedback, and the
   HTML report.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, as_completed
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.batch.executors import GradingTask, open_executor, run_grading_task
from autograder.batch.journal import Journal, JournalEntry
from autograder.batch.regrade import QuestionChoiceError, chosen_questions, plan, regraded_result
from autograder.checks.training_store import create_store
from autograder.config import config, grading_dataset
from autograder.grade.intake import MAX_NOTEBOOK_MB, Submission, collect_submissions
from autograder.grade.processes.grading_child import stop_grading_children
from autograder.grade.records import from_grading, invalid_result
from autograder.grade.runners import DEFAULT_RUNNER, choose_runner
from autograder.results import GradeRun, GradingOutcome, SubmissionResult

LOCK_FILE = ".autograder.lock"
TRAINING_STORE_DIR = ".trainings"  # the grader's training results, shared by the batch's children

if TYPE_CHECKING:
    from autograder.report.corrections import Corrections


class GradingSetupError(RuntimeError):
    """Grading cannot start (no autograder zip, unknown assignment)."""


def autograder_zip(assignment: str, dist: Path) -> Path:
    path = Path(dist) / assignment / "autograder" / f"{assignment}-autograder.zip"
    if not path.is_file():
        raise GradingSetupError(f"no autograder zip at {path}: run `autograder build {assignment}` first")
    return path


def refuse_unknown_visibility(assignment: str) -> None:
    """Before anything is graded: grading.toml's ``[visibility]`` names only the assignment's
    questions and checks (the results and the feedback follow it)."""
    from autograder.assignment import manifest
    from autograder.config import ConfigError
    try:
        manifest(assignment).refuse_unknown_visibility()
    except ConfigError as error:
        raise GradingSetupError(str(error)) from error


class OutputWriteError(RuntimeError):
    """The output folder could not be written (a full disk, a read-only folder)."""


class BatchInterrupted(RuntimeError):
    """Ctrl-C or SIGTERM: the grading children were stopped, the journal is intact."""


def _import_the_report_meanwhile() -> None:
    """The report's libraries (pandas, Jinja, matplotlib: about 0.6 s) are imported in the
    background: while the batch grades, this process only waits, and the zygote starts sooner."""
    def import_the_report() -> None:
        try:
            import matplotlib.backends.backend_agg  # the report's charts
            import matplotlib.figure  # noqa: F401

            import autograder.report  # noqa: F401
        except ImportError:
            pass  # the report's own import says what is missing
    threading.Thread(target=import_the_report, name="import-report", daemon=True).start()


def grade_submissions(assignment: str, paths: list[Path], out_dir: Path, *, dist: Path = Path("dist"),
                      jobs: int | None = None, timeout: float | None = None, force: bool = False,
                      executor: str = "local", scheduler: str | None = None, runner: str = DEFAULT_RUNNER,
                      on_result: Callable[[SubmissionResult], None] | None = None,
                      on_start: Callable[[int], None] | None = None, only: Iterable[str] = ()) -> GradeRun:
    """Grade every submission found below ``paths`` and write all outputs to ``out_dir``.

    Results already in ``out_dir``'s journal for an unchanged file are reused unless
    ``force``; every new result is journaled the moment it is known, here, whichever
    executor (``local`` or ``dask`` at ``scheduler``) graded it. ``runner``: see ``grade.runners``.
    One batch at a time writes to ``out_dir`` (``BatchLocked`` otherwise). A full disk
    raises ``OutputWriteError``, Ctrl-C ``BatchInterrupted``: both after stopping every
    grading child, with what was journaled kept for the same command to resume from.
    ``on_start`` learns how many submissions were found, ``on_result`` each result.
    ``only``: question names (``--only``, ``batch.regrade``): grade those questions' checks
    again for every submission, keeping every other result; unknown or manual ones raise
    ``GradingSetupError`` before anything is written.
    """
    _import_the_report_meanwhile()
    zip_path = autograder_zip(assignment, dist)
    refuse_unknown_visibility(assignment)
    try:
        chosen = chosen_questions(assignment, only) if only else ()
    except QuestionChoiceError as error:
        raise GradingSetupError(str(error)) from error
    zip_bytes = zip_path.read_bytes()
    runner = choose_runner(zip_path, runner)
    with batch_lock(Path(out_dir)):
        submissions = collect_submissions([Path(p) for p in paths], assignment)
        corrections = _corrections(assignment, Path(out_dir), submissions)  # before anything is graded or written
        if on_start:
            on_start(len(submissions))
        journal = Journal(out_dir, grader=f"{runner}:{hashlib.sha256(zip_bytes).hexdigest()}")
        run = GradeRun(assignment=assignment, out_dir=Path(out_dir), only=chosen)
        contents = {s.name: _read(s) for s in submissions}
        digests = {name: hashlib.sha256(data).hexdigest() if data is not None else ""
                   for name, data in contents.items()}

        earlier: dict[str, JournalEntry] = {}  # --only: the records whose other questions are kept

        def settle(result: SubmissionResult, kept: bool) -> None:
            if not kept:
                _write_result(journal, run.out_dir, result, digests[result.submission],
                              earlier.get(result.submission), chosen, corrections=corrections)
                run.regraded += result.submission in earlier
            elif not _submission_files_present(run.out_dir, result):  # removed since: written again
                _write_submission_files(journal, run.out_dir, result, corrections)
            run.results.append(result)
            run.resumed += kept
            if on_result:
                on_result(result)

        to_grade = []
        for submission in submissions:
            kept, merge_into = plan(journal, submission, digests[submission.name], chosen, force)
            content = contents[submission.name]
            if kept is not None:
                if older := kept.questions_graded_by_others():
                    run.earlier_zip_questions[submission.name] = older
                settle(kept.result, True)
            elif content is None:
                settle(invalid_result(assignment, _vanished(submission)), False)
            elif not submission.valid:
                settle(invalid_result(assignment, submission), False)
            else:
                if merge_into is not None:
                    earlier[submission.name] = merge_into
                to_grade.append((submission, content))
        local_jobs = (jobs or os.cpu_count() or 1) if executor == "local" else None
        store = create_store(Path(out_dir) / TRAINING_STORE_DIR) if to_grade and local_jobs else None
        task_for = _task_factory(assignment, zip_bytes, timeout, local_jobs, runner, len(to_grade), store)
        with open_executor(executor, jobs=jobs, scheduler=scheduler) as pool:
            futures = {pool.submit(run_grading_task, task_for(s, data, chosen if s.name in earlier else ())): s
                       for s, data in to_grade}
            try:
                for future in as_completed(futures):
                    run.graded += 1
                    merge = earlier.get(futures[future].name)
                    settle(_result_of(assignment, futures[future], future,
                                      merge.result if merge else None, chosen), False)
            except BaseException as error:  # Ctrl-C, SIGTERM, a full disk: stop, keep the journal
                for future in futures:
                    future.cancel()
                stop_grading_children()
                if isinstance(error, KeyboardInterrupt):
                    raise BatchInterrupted(_resume_hint(len(run.results), len(submissions))) from None
                raise
        run.results.sort(key=lambda result: result.submission)
        try:
            from autograder.report import write_outputs
            write_outputs(run, corrections)
        except OSError as error:
            raise OutputWriteError(_disk_message(run.out_dir, error, len(run.results))) from error
    return run


def _read(submission: Submission) -> bytes | None:
    """The bytes graded, read once: the journal's digest is of exactly these. An invalid
    submission is read only if it is a regular file of a size intake accepts (never through
    a link, a pipe or a device); otherwise its digest is of what ``lstat`` says."""
    try:
        info = submission.path.lstat()
        if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_NOTEBOOK_MB << 20:
            return submission.path.read_bytes()
    except OSError:
        return None if submission.valid else b""
    return None if submission.valid else f"{info.st_mode}:{info.st_size}:{info.st_mtime_ns}".encode()


def _vanished(submission: Submission) -> Submission:
    return replace(submission, problem=(
        f"{submission.path} could not be read when grading started (it was moved, removed or "
        "changed while the batch ran); put it back and run the same command again"))


def _write_result(journal: Journal, out_dir: Path, result: SubmissionResult, digest: str,
                  regrading: JournalEntry | None = None, only: tuple[str, ...] = (), *,
                  corrections: Corrections | None = None) -> None:
    """The submission's own files, then its journal record: a record means its files are
    written, so a crash between the two leaves no stale results file beside a newer record
    (the same command grades that one again). ``regrading``, ``only``: see ``Journal.record``."""
    _write_submission_files(journal, out_dir, result, corrections)
    try:
        journal.record(result, digest, regrading=regrading, only=only)
    except OSError as error:
        saved = len(list(journal.folder.glob("*.json")))
        raise OutputWriteError(_disk_message(out_dir, error, saved)) from error


def _submission_files_present(out_dir: Path, result: SubmissionResult) -> bool:
    from autograder.report import submission_files
    return all(path.is_file() for path in submission_files(out_dir, result))


def _write_submission_files(journal: Journal, out_dir: Path, result: SubmissionResult,
                            corrections: Corrections | None = None) -> None:
    from autograder.report import write_submission_files
    try:
        write_submission_files(out_dir, result, corrections)
    except OSError as error:
        saved = len(list(journal.folder.glob("*.json")))
        raise OutputWriteError(_disk_message(out_dir, error, saved)) from error


def _corrections(assignment: str, out_dir: Path, submissions: list[Submission]) -> Corrections:
    """``out_dir``'s manual_scores.csv and overrides.csv (``report.corrections``), checked before
    anything is graded or written; a row may name a submission of this batch or of the journal.
    A bad row stops the batch with its file and line."""
    from autograder.report.corrections import CorrectionsError, load_corrections
    known = {s.name for s in submissions} | {path.stem for path in Journal(out_dir).folder.glob("*.json")}
    try:
        return load_corrections(assignment, out_dir, known)
    except CorrectionsError as error:
        raise GradingSetupError(f"{error}. Nothing was graded or written.") from error


def _disk_message(out_dir: Path, error: OSError, saved: int) -> str:
    return (f"could not write to {out_dir} ({error.strerror or error}: {error.filename or out_dir}). "
            f"{saved} result(s) are saved in its journal and will be kept; free space there (or "
            "choose another --out) and run the same command again: it grades only what is not "
            "saved yet")


def _resume_hint(saved: int, total: int) -> str:
    return (f"interrupted: every grading process was stopped; {saved} of {total} results are saved "
            "in the output folder's journal. Run the same command again to grade the other "
            f"{total - saved}.")


class BatchLocked(GradingSetupError):
    """Another batch is writing to the same output folder."""


@contextmanager
def batch_lock(out_dir: Path) -> Iterator[None]:
    """One ``autograder grade`` per output folder: two would grade the same submissions twice
    and race on the gradebook. The lock is the kernel's (flock), so a batch killed with -9
    never leaves a stale one."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_FILE
    with open(path, "a+") as stream:
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.seek(0)
            holder = stream.read().strip() or "another process"
            raise BatchLocked(f"another `autograder grade` is writing to {out_dir} ({holder}); wait "
                              "for it to finish, or give this one another --out") from None
        stream.seek(0)
        stream.truncate()
        stream.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        stream.flush()
        try:
            yield
        finally:
            fcntl.flock(stream, fcntl.LOCK_UN)


def _task_factory(assignment: str, zip_bytes: bytes, timeout: float | None, local_jobs: int | None,
                  runner: str, count: int,
                  training_store: Path | None = None) -> Callable[[Submission, bytes, tuple[str, ...]], GradingTask]:
    """The grading settings of ``assignment`` packed with each submission into a task. Local
    workers fork the children of a batch of several from a zygote, which imports the judges'
    libraries once for all; a single submission is faster in a fresh interpreter. Local
    workers share the batch's training store (``checks.training_store``), so the grader
    trains each distinct architecture once per batch."""
    dataset = grading_dataset(assignment)
    timeout = timeout or float(config(assignment).grading.submission_timeout)
    limits = config(assignment).limits
    # local workers share this machine's cores; a Dask worker works out its own share
    cpus = max(1, (os.cpu_count() or 1) // local_jobs) if local_jobs else None
    from_zygote = bool(local_jobs) and count > 1

    def task_for(submission: Submission, content: bytes, only: tuple[str, ...] = ()) -> GradingTask:
        return GradingTask(file_name=submission.path.name, submission=content,
                           autograder_zip=zip_bytes, timeout=timeout, dataset=dataset,
                           limits=limits, cpus=cpus, runner=runner, from_zygote=from_zygote,
                           training_store=str(training_store) if local_jobs and training_store else None,
                           only=only)
    return task_for


def _result_of(assignment: str, submission: Submission, future: Future, earlier: SubmissionResult | None = None,
               only: tuple[str, ...] = ()) -> SubmissionResult:
    """The result of one task; a task that itself failed (a worker lost, a grader bug) is an
    ``error`` row that says so, never a hole in the gradebook. ``earlier``: the result whose
    questions other than ``only`` are kept (``--only``, ``batch.regrade``)."""
    dataset = grading_dataset(assignment)
    try:
        graded = future.result()
    except Exception as error:  # the worker, not the student's code, failed
        graded = GradingOutcome(error=f"the grading worker failed ({type(error).__name__}: {error}); "
                                  "grade this submission again")
    if earlier is not None:
        return regraded_result(assignment, submission, earlier, graded, only, dataset, worker=graded.worker)
    return from_grading(assignment, submission, graded, dataset, worker=graded.worker)
