"""Grade one submission with the judges outside the student's process.

Otter runs hidden tests inside the student's kernel, beside the test files: student code
can read them, monkeypatch the checker, or print a fake result. Here the grading child is
the judge and the kernel (``student_kernel``) only answers:

1. the kernel runs the notebook's cells, with no hidden test, probe or expected value
   anywhere it can read;
2. then the probe code goes in, and for each hidden check the judge sends the check's
   hidden inputs and gets back plain values (``checks/channel.py``: JSON and ``.npz``);
3. the judge (``checks/<assignment>/judges.py``, in this process) decides, and scores.

The score is computed here from values, never read from anything the kernel printed or
wrote about itself, so printing, writing files or exiting early cannot raise it; a kernel
that dies keeps the points of the checks it answered before.

    python -m autograder.grade.split_runner SUBMISSION AUTOGRADER_ZIP REPORT
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import nbformat

from autograder.checks.probing import ProbeFailure, failure_answer
from autograder.config import ASSIGNMENTS_DIR_ENV_VAR, PACKAGE_DIR
from autograder.data import DATASET_ENV_VAR, mnist_path
from autograder.grade.environment import CELL_TIMEOUT_ENV_VAR, THREAD_VARIABLES
from autograder.grade.intake import read_submitted_notebook
from autograder.grade.jail import (
    give_folders_their_own_disks,
    namespaces_available,
    require_reachable_interpreter,
    tmpfs_size,
    unmount,
    view_config,
)
from autograder.grade.kernel_bootstrap import SNAPSHOT_CELL, answer_cell, install_cell
from autograder.grade.kernel_template import KernelTemplate
from autograder.grade.sandbox import (
    Limits,
    ProcessCgroup,
    gain_namespace_rights,
    isolate_network,
    network_isolated,
    network_namespace,
)
from autograder.grade.shipped import (
    autograder_files,
    hidden_cases,
    shipped_course_secret,
    write_assignment_files,
    zip_assignment,
)
from autograder.grade.student_kernel import RunStatus, StudentKernel, cell_notes, notebook_code_cells
from autograder.results import CaseResult, GradingOutcome
from autograder.shipping import ship_student_runtime

PROBE_MODULES = ("checks/channel.py", "checks/probing.py")  # below the package, in order
MAX_ANSWER_BYTES = 512 << 20
REQUEST_DISK = "size=256m,mode=0755"  # the hidden inputs of one probe, MNIST's test set included
STUDENT_UID_BASE = 1_000_000  # + the judge's PID: a user of its own per submission graded at once


def submitted_notebook(submission: Path) -> tuple[nbformat.NotebookNode, bytes]:
    """The notebook to grade, read as intake read it, with its stored outputs dropped: the
    kernel runs the code, and tens of megabytes of old outputs need not follow it. Also its
    bytes as submitted, which the hidden inputs are drawn from."""
    raw = read_submitted_notebook(submission)
    notebook = nbformat.reads(raw.decode(), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook, raw


class Judge:
    """Asks the kernel for answers and keeps them per (probe, inputs), so checks that share a
    probe run the student's code once."""

    def __init__(self, assignment: str, kernel: StudentKernel, notebook_dir: Path) -> None:
        self.assignment, self.kernel, self.notebook_dir = assignment, kernel, notebook_dir
        self.answers: dict[tuple[str, str], Any] = {}
        self.calls = 0
        self.seconds = 0.0  # spent getting answers (the student's code, called by the probes)
        self.install_error = ""             # why the probes could not be installed, if they could not
        self.timed_out: dict[str, str] = {}  # probe → its failure: a probe that hung is not called again

    def install_probes(self) -> None:
        """Sent only now, after every student cell has run."""
        sources = [(f"autograder.{Path(p).with_suffix('').as_posix().replace('/', '.')}",
                    (PACKAGE_DIR / p).read_text()) for p in PROBE_MODULES]
        probes = f"autograder.checks.{self.assignment}.probes"
        sources.append((probes, (PACKAGE_DIR / "checks" / self.assignment / "probes.py").read_text()))
        run = self.kernel.run(install_cell(sources, self.assignment), replayable=False)
        self.install_error = "" if run.status == RunStatus.OK else (
            "your notebook changed Python itself (its built-in functions, the import system or the "
            f"grader's helpers), so the grader's code could not run beside it ({run.error}); remove "
            "those changes")

    def __call__(self, check, inputs: Any) -> Any:
        from autograder.checks.channel import encode
        from autograder.checks.suite import check_seed, load_probes
        key = (check.probe, hashlib.sha256(encode(inputs)).hexdigest())
        if key in self.answers:
            return self.answers[key]
        started = time.monotonic()
        probes = load_probes(self.assignment)
        if check.probe in getattr(probes, "SUBMISSION_PROBES", ()):
            answers = self._from_submission(getattr(probes, check.probe))
        else:
            answers = self._from_kernel(check.probe, encode(inputs), check_seed(self.assignment, check.probe))
        self.answers[key] = answers
        self.seconds += time.monotonic() - started
        return answers

    def _from_submission(self, probe) -> Any:
        """Probes that read the submitted file read the grader's copy, which the student's
        code could not touch."""
        here = os.getcwd()
        os.chdir(self.notebook_dir)
        try:
            return probe({}, None)
        except ProbeFailure as failure:
            return failure_answer(str(failure))
        finally:
            os.chdir(here)

    def _from_kernel(self, probe: str, inputs: bytes, seed: int) -> Any:
        from autograder.checks.channel import decode
        if not self.kernel.alive:
            return failure_answer("your notebook's Python process had ended (it exited or was killed more "
                                  "than once), so this check could not call your code; remove sys.exit, "
                                  "os._exit and os.kill calls from your notebook")
        if self.install_error or probe in self.timed_out:
            return failure_answer(self.install_error or self.timed_out[probe])
        self.calls += 1
        request = self.kernel.workdir / REQUESTS / f"{self.calls}.in"
        reply = self.kernel.workdir / ANSWERS / f"{self.calls}.out"
        reply.unlink(missing_ok=True)  # only what the probe writes now is its answer
        try:
            request.write_bytes(inputs)
        except OSError as error:
            return failure_answer(f"the grader could not hand your code this check's inputs ({error})")
        run = self.kernel.run(answer_cell(probe, seed, str(request), str(reply)), replayable=False)
        if run.status in (RunStatus.DIED, RunStatus.STOPPED):  # a fresh kernel, with the student's cells replayed
            self.install_probes()
        if run.status == RunStatus.DIED:
            return failure_answer("your code ended the Python process (an exit, a kill or a crash) "
                                  "when the grader called it; make your functions return instead")
        if run.status in (RunStatus.TIMEOUT, RunStatus.STOPPED):
            self.timed_out[probe] = (f"your code did not return within {self.kernel.limits.cell_timeout:g} s "
                                     "(the per-cell limit) when the grader called it: look for a loop "
                                     "that never ends")
            return failure_answer(self.timed_out[probe])
        if run.status == RunStatus.LOST:
            return failure_answer(f"this check could not call your code: {run.error}")
        try:
            if reply.stat().st_size > MAX_ANSWER_BYTES:
                return failure_answer("your code returned far more data than the check needs; "
                                      "return only what the question asks for")
            return decode(reply.read_bytes())
        except (OSError, ValueError) as error:
            detail = run.error or f"{type(error).__name__}: {error}"
            return failure_answer(f"the grader could not get an answer from your code ({detail})")
        finally:
            for path in (request, reply):
                path.unlink(missing_ok=True)


REQUESTS, ANSWERS = ".requests", ".answers"  # in the kernel's folder: judge → kernel, kernel → judge


def uid_if_root() -> int | None:
    """The kernel's own user, when this process may give it one (as root)."""
    return STUDENT_UID_BASE + os.getpid() if os.geteuid() == 0 else None


def prepare_kernel_folder(workdir: Path, limits: Limits) -> tuple[int | None, bool]:
    """The kernel's folder and the user it runs as. As root: a user of its own, a tmpfs of
    ``disk_mb`` as its folder, hidden inputs on a tmpfs it can read and not write, answers
    on one it owns, so filling its disk cannot stop the grader from asking or answering.
    Returns the user (None: the grader's own) and whether the folders got disks of their own."""
    uid = uid_if_root()
    disk = tmpfs_size(limits.disk_mb)
    mounted = uid is not None and give_folders_their_own_disks({
        workdir: f"{disk}mode=0755,uid={uid},gid={uid}",
        workdir / REQUESTS: REQUEST_DISK,
        workdir / ANSWERS: f"size={MAX_ANSWER_BYTES >> 20}m,mode=0700,uid={uid},gid={uid}",
    })
    if not mounted:
        for folder in (REQUESTS, ANSWERS):
            (workdir / folder).mkdir(exist_ok=True)
        if uid is not None:
            os.chown(workdir / ANSWERS, uid, uid)
    return uid, mounted


def kernel_view(private: Path, workdir: Path, limits: Limits, uid: int | None) -> dict:
    """The kernel sees the system, the interpreter and its folder; MNIST too when graded on it."""
    readable = [str(mnist_path())] if os.environ.get(DATASET_ENV_VAR, "") == "mnist" else []
    return view_config(private / "kernel-root", workdir, limits.disk_mb, uid, readable)


def grade_submission(submission: Path, autograder_zip: Path,
                     template: KernelTemplate | None = None) -> GradingOutcome:
    """``autograder_zip``: the zip, or the folder it was unzipped into. ``template``: a
    pre-imported process to become the kernel (``kernel_template``); else a fresh one."""
    from autograder.checks.suite import load_suite, outcome, submission_salt
    files = autograder_files(autograder_zip)
    assignment, _ = zip_assignment(files)
    cases = hidden_cases(files)
    if not cases:
        raise ValueError("this autograder has no probe/judge checks to run outside the student's "
                         "process; grade it with --runner otter")
    private = Path(tempfile.mkdtemp(prefix="judge-"))      # the grader's: never the kernel's cwd
    workdir = Path(tempfile.mkdtemp(prefix="student-"))   # the kernel's
    write_assignment_files(files, assignment, private / "assignments")
    os.environ[ASSIGNMENTS_DIR_ENV_VAR] = str(private / "assignments")
    notebook, submitted_bytes = submitted_notebook(submission)
    salt = submission_salt(shipped_course_secret(files), submitted_bytes)
    notebook_dir = private / "submitted"
    notebook_dir.mkdir()
    nbformat.write(notebook, notebook_dir / f"{assignment}.ipynb")
    from autograder.config import setting
    limits = Limits.from_config(setting(assignment, "limits"))
    if (root_uid := uid_if_root()) is not None and not namespaces_available():
        require_reachable_interpreter(root_uid)
    uid, own_disk = prepare_kernel_folder(workdir, limits)
    shutil.copy(notebook_dir / f"{assignment}.ipynb", workdir / f"{assignment}.ipynb")
    ship_student_runtime(workdir)  # `from autograder.data import …`, as in the student folder
    outside = network_namespace()
    if not limits.network and not network_isolated():
        isolate_network()  # the kernel, started by this process, shares its namespace
    no_network = network_isolated() or network_namespace() != outside
    cgroup = ProcessCgroup.create(limits.max_processes, memory_mb=limits.memory_mb, cpus=_cpu_share())
    kernel = StudentKernel(workdir=workdir, limits=limits, env=_kernel_env(), cgroup=cgroup,
                           view=kernel_view(private, workdir, limits, uid), template=template)
    grade = GradingOutcome()
    clock = PhaseClock(grade.phases)
    clock.lap("set-up (folders, notebook, cgroup)")
    try:
        kernel.start()
        clock.lap("kernel start (forked from the template)" if kernel.forked
                  else "kernel start (jail, Python, ipykernel)")
        if kernel.template_failure:  # for the grader's log: it cost time, not a grade
            print(f"the kernel template could not start the kernel ({kernel.template_failure}); "
                  "a fresh kernel was started", file=sys.stderr)
        grade.sandbox = kernel.isolation
        grade.network_isolated = no_network
        grade.protections = protections_obtained(grade.sandbox, cgroup, own_disk, uid, no_network)
        suite = load_suite(assignment)
        preloading = preload(suite.preload)
        kernel.run(SNAPSHOT_CELL)
        cells = notebook_code_cells(notebook)
        runs = [kernel.run(cell.source) for cell in cells]
        clock.lap("student cells")
        strays = kernel.stop_strays()
        judge = Judge(assignment, kernel, notebook_dir)
        judge.install_probes()
        preloading.join()
        clock.lap("probes installed, judges' modules imported")
        verdicts: dict = {}
        for question, name, points in cases:
            failure = outcome(suite, suite.checks[name], judge, verdicts, salt)
            grade.cases.append(CaseResult(question=question, name=name, points=points,
                                          score=0.0 if failure else points, hidden=True,
                                          message=str(failure) if failure else "", passed=failure is None))
        grade.notes = cell_notes(cells, runs, limits.cell_timeout) + _grader_notes(kernel.restarts, strays)
        grade.dataset = _judged_data_summary(assignment)
        checks = clock.lap("checks")
        grade.phases["checks: probes (student code called)"] = judge.seconds
        grade.phases["checks: judges (expected values, training)"] = checks - judge.seconds
        del grade.phases["checks"]
    finally:
        kernel.shutdown()
        if cgroup:
            grade.limits_reached = cgroup.limits_reached()
            cgroup.remove()
        for folder in (workdir / REQUESTS, workdir / ANSWERS, workdir):
            unmount(folder)  # where they were tmpfs mounts; a no-op otherwise
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)
        clock.lap("clean-up")
    grade.score = sum(case.score for case in grade.cases)
    grade.possible = sum(case.points for case in grade.cases)
    return grade


def preload(modules: tuple[str, ...]) -> threading.Thread:
    """Import the judges' modules in the background: the kernel is another process, so while
    it runs the student's cells this one only waits for its messages."""
    def import_all() -> None:
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:  # the judge that needs it will report the failure itself
                pass
    thread = threading.Thread(target=import_all, name="preload-judges", daemon=True)
    thread.start()
    return thread


class PhaseClock:
    """Seconds per phase of one grading, for profiling (``GradingOutcome.phases``)."""

    def __init__(self, phases: dict[str, float]) -> None:
        self.phases, self.last = phases, time.monotonic()

    def lap(self, phase: str) -> float:
        now = time.monotonic()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - self.last
        self.last = now
        return self.phases[phase]


def protections_obtained(sandbox: str, cgroup: ProcessCgroup | None, own_disk: bool,
                         uid: int | None, no_network: bool) -> list[str]:
    """What held the student's kernel, as obtained on this machine (README: 'Isolation by
    platform')."""
    obtained = ["rlimits"]
    if sandbox == "view":
        obtained.append("private view (mount and PID namespaces)")
    if uid is not None:
        obtained.append("a user of its own")
    obtained += [f"{name} cgroup" for name in (cgroup.controllers() if cgroup else [])]
    if own_disk:
        obtained.append("disk of its own (tmpfs)")
    if no_network:
        obtained.append("no network (namespace with loopback only)")
    return obtained


def _kernel_env() -> dict[str, str]:
    """The kernel's environment: the grader's, minus where the grader keeps its files; the
    user has no name in /etc/passwd, so libraries that ask for one read it from here."""
    env = {key: value for key, value in os.environ.items()
           if key not in (ASSIGNMENTS_DIR_ENV_VAR, CELL_TIMEOUT_ENV_VAR)}
    return {**env, "USER": "student", "LOGNAME": "student"}


def _cpu_share() -> float:
    """The kernel's cores: the share the batch gave this submission (see THREAD_VARIABLES)."""
    return float(os.environ.get(THREAD_VARIABLES[0]) or os.cpu_count() or 1)


def _judged_data_summary(assignment: str) -> dict[str, Any]:
    """What the result records of the data (SPEC §2), from the judges' own copy (loaded for
    the checks already, so this costs nothing); empty, for the grader to fill, if it cannot load."""
    from autograder.checks.judging import grading_data
    try:
        return grading_data(assignment).summary()
    except Exception:  # noqa: BLE001 (the checks that needed the data reported it)
        return {}


def _grader_notes(restarts: int, strays: int) -> list[str]:
    notes = []
    if restarts:
        notes.append(f"Your notebook's Python process was started again {restarts} time(s) "
                     "(see the cells above, or a check that ended it).")
    if strays:
        notes.append(f"{strays} process(es) your notebook left running were stopped before the "
                     "checks ran.")
    return notes


def _seconds_since_this_process_started() -> float:
    """Python's start-up and this module's imports, before any grading (Linux's /proc)."""
    try:
        started_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def child_main(submission: str, autograder_zip: str, report: str, *, kernel_template: bool = False) -> None:
    """``kernel_template``: this process was forked from a zygote that imported the libraries
    (see ``kernel_template``); its kernel is forked from it rather than started afresh."""
    started = time.monotonic()
    imported = _seconds_since_this_process_started()
    gain_namespace_rights()  # root without CAP_SYS_ADMIN: a user namespace of its own, where allowed
    # now, before anything of the zip or the submission is read: the template copies this memory
    template = KernelTemplate.fork() if kernel_template else None
    try:
        grade = grade_submission(Path(submission), Path(autograder_zip), template)
    except Exception as error:  # report, don't crash: the parent turns it into an error row
        grade = GradingOutcome(error=f"{type(error).__name__}: {error}")
    finally:
        if template:
            template.discard()
    grade.network_isolated = grade.network_isolated or network_isolated()
    grade.seconds = time.monotonic() - started
    grade.phases = {"child imports": imported, **grade.phases}
    Path(report).write_text(json.dumps(grade.to_dict()))


if __name__ == "__main__":
    child_main(*sys.argv[1:4])
    # The report is written and closed; skip the interpreter's shutdown, which with TensorFlow
    # loaded takes about a second (its threads and atexit hooks) for nothing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
