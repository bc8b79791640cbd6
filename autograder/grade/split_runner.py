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

import ast
import hashlib
import importlib
import json
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from autograder.checks.judging import WITHHELD
from autograder.checks.probing import ProbeFailure, failure_answer
from autograder.config import ASSIGNMENTS_DIR_ENV_VAR, PACKAGE_DIR
from autograder.data import DATASET_ENV_VAR, mnist_path
from autograder.grade.environment import THREAD_VARIABLES
from autograder.grade.intake import read_submitted_notebook
from autograder.grade.jail import (
    give_folders_their_own_disks,
    namespaces_available,
    require_reachable_interpreter,
    tmpfs_size,
    unmount,
    view_config,
)
from autograder.grade.kernel_bootstrap import SNAPSHOT_CELL, answer_expression, install_expression
from autograder.grade.kernel_template import KernelTemplate
from autograder.grade.sandbox import (
    Limits,
    ProcessCgroup,
    gain_namespace_rights,
    isolate_network,
    network_isolated,
    network_namespace,
    remove_ipc_of,
)
from autograder.grade.shipped import (
    autograder_files,
    hidden_cases,
    shipped_course_secret,
    write_assignment_files,
    zip_assignment,
)
from autograder.grade.student_kernel import (
    CappedOutput,
    KernelStartFailed,
    RunStatus,
    StudentKernel,
    cell_notes,
    notebook_code_cells,
)
from autograder.results import CaseResult, GradingOutcome
from autograder.shipping import ship_student_runtime

if TYPE_CHECKING:
    from autograder.checks.suite import Check, Suite

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


class ProbeFolders:
    """The two folders probes talk through, as the judge holds them: descriptors opened before
    any student code ran, so a folder the notebook later renames or replaces by a symlink is
    not followed. Requests are created (never opened if they exist) and replies read only if
    they are regular files, without following a symlink, and at most MAX_ANSWER_BYTES: a FIFO,
    a device, a directory or a link in their place is a failed check, never a judge that
    blocks or reads a host file. Names are random per call, so nothing can be put in their
    place beforehand."""

    def __init__(self, workdir: Path) -> None:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        self.paths = {REQUESTS: workdir / REQUESTS, ANSWERS: workdir / ANSWERS}
        self.fds = {name: os.open(path, flags) for name, path in self.paths.items()}

    def new_names(self) -> tuple[str, str]:
        token = secrets.token_hex(8)
        return f"{token}.in", f"{token}.out"

    def write_request(self, name: str, data: bytes) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                     dir_fd=self.fds[REQUESTS])
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)

    def read_reply(self, name: str) -> bytes:
        """Raises ReplyUnreadable with what the student reads."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=self.fds[ANSWERS])
        except FileNotFoundError:
            raise ReplyUnreadable("no answer came back") from None
        except OSError as error:
            why = os.strerror(error.errno or 0)
            raise ReplyUnreadable(f"its answer could not be opened as a file ({why})") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ReplyUnreadable("something other than a file stood where its answer goes")
            if info.st_size > MAX_ANSWER_BYTES:
                raise ReplyUnreadable("your code returned far more data than the check needs; return "
                                      "only what the question asks for")
            with os.fdopen(os.dup(fd), "rb") as stream:
                data = stream.read(MAX_ANSWER_BYTES + 1)
        finally:
            os.close(fd)
        if len(data) > MAX_ANSWER_BYTES:  # it grew after fstat: written to while the judge read
            raise ReplyUnreadable("your code returned far more data than the check needs")
        return data

    def remove(self, *names: str) -> None:
        for folder, name in zip((REQUESTS, ANSWERS), names):
            try:
                os.unlink(name, dir_fd=self.fds[folder])
            except OSError:
                pass  # never there, or a folder the notebook put there: it goes with the kernel's folder

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)


class ReplyUnreadable(Exception):
    """A probe's reply could not be taken as one; the message says why, for the student."""


class ProbeClient:
    """Asks the kernel for answers (the grading run keeps them per (probe, inputs), so checks
    that share a probe run the student's code once). Each probe is evaluated as a user expression
    (``StudentKernel.evaluate``: no transformer or run-cell event of the notebook runs around
    it), and its reply is taken only if its bytes are those the probe said it wrote.

    What the kernel reports of hooks it found (``kernel_bootstrap``) is kept in
    ``hooks_reported``: evidence that can only add to what the judge reads from the file."""

    def __init__(self, suite: Suite, kernel: StudentKernel, notebook_dir: Path, folders: ProbeFolders) -> None:
        self.suite, self.assignment = suite, suite.assignment
        self.kernel, self.notebook_dir, self.folders = kernel, notebook_dir, folders
        self.seconds = 0.0  # spent getting answers (the student's code, called by the probes)
        self.install_error = ""             # why the probes could not be installed, if they could not
        self.timed_out: dict[str, str] = {}  # probe → its failure: a probe that hung is not called again
        self.hooks_reported: list[str] = []  # what the kernel found of the notebook's hooks

    def install_probes(self) -> None:
        """Sent only now, after every student cell has run."""
        sources = [(f"autograder.{Path(p).with_suffix('').as_posix().replace('/', '.')}",
                    (PACKAGE_DIR / p).read_text()) for p in PROBE_MODULES]
        probes = f"autograder.checks.{self.assignment}.probes"
        sources.append((probes, (PACKAGE_DIR / "checks" / self.assignment / "probes.py").read_text()))
        run = self.kernel.evaluate(install_expression(sources, self.assignment))
        found = _kernel_report(run.value) if run.status == RunStatus.OK else None
        if isinstance(found, list):
            self._keep_reported(found)
            self.install_error = ""
        else:
            self.install_error = (
                "your notebook changed Python itself (its built-in functions, the import system or the "
                f"grader's helpers), so the grader's code could not run beside it ({run.error or 'no report'}); "
                "remove those changes")

    def __call__(self, check: Check, inputs: Any) -> Any:
        """The answers to one check's inputs (a grading run's answer source: the run caches them)."""
        from autograder.checks.channel import encode
        from autograder.checks.suite import check_seed
        started = time.monotonic()
        if self.suite.reads_the_submission(check):
            answers = self._from_submission(check.probe)
        else:
            answers = self._from_kernel(check.probe_name, encode(inputs), check_seed(self.assignment, check.probe_name))
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
        if not self.kernel.alive:
            return failure_answer("your notebook's Python process had ended (it exited or was killed more "
                                  "than once), so this check could not call your code; remove sys.exit, "
                                  "os._exit and os.kill calls from your notebook")
        if self.install_error or probe in self.timed_out:
            return failure_answer(self.install_error or self.timed_out[probe])
        request, reply = self.folders.new_names()
        try:
            self.folders.write_request(request, inputs)
            return self._ask(probe, seed, request, reply)
        except OSError as error:
            return failure_answer(f"the grader could not hand your code this check's inputs "
                                  f"({os.strerror(error.errno or 0)})")
        finally:
            self.folders.remove(request, reply)

    def _ask(self, probe: str, seed: int, request: str, reply: str) -> Any:
        from autograder.checks.channel import ChannelError, decode
        paths = self.folders.paths
        run = self.kernel.evaluate(answer_expression(probe, seed, str(paths[REQUESTS] / request),
                                                     str(paths[ANSWERS] / reply)))
        if run.status in (RunStatus.DIED, RunStatus.STOPPED):  # a fresh kernel, with the student's cells replayed
            self.install_probes()
        if run.status == RunStatus.DIED:
            return failure_answer("your code ended the Python process (an exit, a kill or a crash) "
                                  "when the grader called it; make your functions return instead")
        if run.status in (RunStatus.TIMEOUT, RunStatus.STOPPED):
            self.timed_out[probe] = (f"your code did not return within {self.kernel.limits.cell_timeout:g} s of "
                                     "computing time "
                                     "(the per-cell limit) when the grader called it: look for a loop "
                                     "that never ends")
            return failure_answer(self.timed_out[probe])
        if run.status == RunStatus.LOST:
            return failure_answer(f"this check could not call your code: {run.error}")
        said = _kernel_report(run.value) if run.status == RunStatus.OK else None
        if not isinstance(said, dict) or not isinstance(said.get("digest"), str):
            return failure_answer("the grader could not get an answer from your code "
                                  f"({run.error or 'the grader’s helper in your notebook’s process gave no answer'})")
        self._keep_reported(said.get("found"))
        try:
            data = self.folders.read_reply(reply)
        except ReplyUnreadable as unreadable:
            return failure_answer(f"the grader could not get an answer from your code: {unreadable}")
        if hashlib.sha256(data).hexdigest() != said["digest"]:
            self.hooks_reported.append("an answer changed after the grader's probe had written it")
            return failure_answer("the answer to this check was changed after the grader's probe had written "
                                  "it, by code of your notebook still running beside it; this check cannot be "
                                  "graded. Remove code that runs in the background or hooks into Python.")
        try:
            return decode(data)
        except (ChannelError, ValueError, KeyError, OSError) as error:
            return failure_answer(f"the grader could not read the answer your code gave ({type(error).__name__})")

    def _keep_reported(self, found: Any) -> None:
        for item in found if isinstance(found, list) else []:
            text = _plain(item)
            if text and text not in self.hooks_reported and len(self.hooks_reported) < MAX_REPORTED_HOOKS:
                self.hooks_reported.append(text)


MAX_REPORTED_HOOKS = 10


def _kernel_report(value: str) -> Any:
    """What a grader expression evaluated to in the kernel: a JSON text, as IPython's plain
    repr of a string. Anything else (a notebook that changed the grader's helpers) is None."""
    try:
        text = ast.literal_eval(value)
        return json.loads(text) if isinstance(text, str) else None
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def _plain(item: Any) -> str:
    """Text from the student's process, made safe to show: plain characters, bounded."""
    return re.sub(r"[^\w .,:;()<>'/-]", "", str(item))[:160] if isinstance(item, str) else ""


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


def grade_submission(submission: Path, autograder_zip: Path, template: KernelTemplate | None = None,
                     kernel_output: CappedOutput | None = None) -> GradingOutcome:
    """``autograder_zip``: the zip, or the folder it was unzipped into. ``template``: a
    pre-imported process to become the kernel (``kernel_template``); else a fresh one.
    ``kernel_output``: where a fresh kernel's stdout and stderr go (``CappedOutput``; one of
    its own where none is given, as from the Gradescope entry point)."""
    from autograder.checks.suite import GradingRun, load_suite, submission_salt
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
    folders = ProbeFolders(workdir)
    kernel = StudentKernel(workdir=workdir, limits=limits, env=kernel_environment(), cgroup=cgroup,
                           view=kernel_view(private, workdir, limits, uid), template=template,
                           output=kernel_output or CappedOutput())
    grade = GradingOutcome()
    clock = PhaseClock(grade.phases)
    clock.lap("set-up (folders, notebook, cgroup)")
    try:
        try:
            kernel.start()
        except KernelStartFailed as start_failure:  # before any student code: worth another try
            grade.error, grade.retryable = str(start_failure), True
            return grade
        clock.lap("kernel start (forked from the template)" if kernel.forked
                  else "kernel start (jail, Python, ipykernel)")
        if kernel.template_failure:  # for the grader's log: it cost time, not a grade
            print(f"the kernel template could not start the kernel ({kernel.template_failure}); "
                  "a fresh kernel was started", file=sys.stderr)
        grade.sandbox = kernel.isolation
        grade.network_isolated = no_network
        grade.protections = protections_obtained(grade.sandbox, cgroup, own_disk, uid, no_network,
                                                 kernel.namespaces, kernel.seccomp_filtered)
        suite = load_suite(assignment)
        preloading = preload(suite.preload)
        kernel.run(SNAPSHOT_CELL, replayable=True)
        cells = notebook_code_cells(notebook)
        runs = [kernel.run(cell.source) for cell in cells]
        clock.lap("student cells")
        strays = kernel.stop_strays()
        client = ProbeClient(suite, kernel, notebook_dir, folders)
        client.install_probes()
        preloading.join()
        clock.lap("probes installed, judges' modules imported")
        run = GradingRun(suite, client, salt)
        for question, name, points in cases:
            failure = run.outcome(suite.checks[name])
            grade.cases.append(CaseResult(question=question, name=name, points=points,
                                          score=0.0 if failure else points, hidden=True,
                                          message=str(failure) if failure else "", passed=failure is None))
        grade.hooks = hook_evidence(notebook, client.hooks_reported)
        withhold_gated_questions(grade.cases, gates_resting_on_the_kernel(suite), grade.hooks)
        grade.notes = cell_notes(cells, runs, limits.cell_timeout) + _grader_notes(kernel.restarts, strays)
        grade.dataset = _judged_data_summary(assignment)
        checks = clock.lap("checks")
        grade.phases["checks: probes (student code called)"] = client.seconds
        grade.phases["checks: judges (expected values, training)"] = checks - client.seconds
        del grade.phases["checks"]
    finally:
        kernel.shutdown()
        folders.close()
        if uid is not None:  # a kernel without an IPC namespace of its own left them in ours
            remove_ipc_of(uid)
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
                         uid: int | None, no_network: bool, namespaces: frozenset[str] = frozenset(),
                         seccomp: bool = False) -> list[str]:
    """What held the student's kernel, as obtained on this machine (README: 'Isolation by
    platform'), each read from outside the kernel."""
    obtained = ["rlimits", "environment from an allow-list", "process output capped"]
    if sandbox == "view":
        obtained.append("private view (mount and PID namespaces)")
    if {"ipc", "uts"} <= namespaces:
        obtained.append("IPC and UTS namespaces of its own")
    if seccomp:
        obtained.append("seccomp filter")
    if uid is not None:
        obtained.append("a user of its own")
    obtained += [f"{name} cgroup" for name in (cgroup.controllers() if cgroup else [])]
    if own_disk:
        obtained.append("disk of its own (tmpfs)")
    if no_network:
        obtained.append("no network (namespace with loopback only)")
    return obtained


# What of the grader's environment the kernel receives: what Python, the numeric libraries
# and Jupyter read, never the rest (a TA's tokens, the grader's own settings).
KERNEL_VARIABLES = frozenset({
    "PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TERM", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
    "PYTHONHASHSEED", "MPLBACKEND", "KERAS_BACKEND", "KERAS_HOME", "TF_CPP_MIN_LOG_LEVEL",
    "TF_ENABLE_ONEDNN_OPTS", "CUDA_VISIBLE_DEVICES", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
    DATASET_ENV_VAR, *THREAD_VARIABLES})
KERNEL_VARIABLE_PREFIXES = ("LC_", "JPY_")


def kernel_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment, from an allow-list of the grader's (``KERNEL_VARIABLES``); the
    user has no name in /etc/passwd, so libraries that ask for one read it from here."""
    source = os.environ if environ is None else environ
    env = {key: value for key, value in source.items()
           if key in KERNEL_VARIABLES or key.startswith(KERNEL_VARIABLE_PREFIXES)}
    return {**env, "USER": "student", "LOGNAME": "student"}


def hook_evidence(notebook: nbformat.NotebookNode, reported: list[str]) -> list[str]:
    """The interpreter hooks the notebook installs: read from the file by the judge (each with
    its cell and line), then what the kernel itself reported while it was graded."""
    from autograder.checks.hooks import find_interpreter_hooks
    cells = [cell.source if cell.cell_type == "code" else None for cell in notebook.cells]
    return ([finding.describe() for finding in find_interpreter_hooks(cells)]
            + [f"while it was graded: {item}" for item in reported])


def gates_resting_on_the_kernel(suite: Suite) -> dict[str, list[str]]:
    """The gates whose verdict the student's process gives (a probe run in the kernel, as the
    counterfactual tuning run); gates that read the submitted file (the suite's
    ``submission_probes``, the static leak analysis) are the judge's alone, and a hook cannot
    touch them."""
    gates = {question: [name for name in names if not suite.reads_the_submission(suite.checks[name])]
             for question, names in suite.gates.items()}
    return {question: names for question, names in gates.items() if names}


def withhold_gated_questions(cases: list[CaseResult], gates: dict[str, list[str]], hooks: list[str]) -> None:
    """A question with gates (a test-set leak costs all of it) is judged on what the student's
    process answered. Where the notebook hooks into the interpreter, that answer cannot be
    trusted either way: its points wait for a person. The evidence is given once, on the
    question's first check; each check keeps what it found, where it failed anyway."""
    if not hooks:
        return
    evidence = "\n".join(f"  • {item}" for item in hooks)
    first: dict[str, str] = {}
    for case in cases:
        if case.question not in gates or not case.points:
            continue
        found = f"\nThis check also found: {case.message}" if case.message else ""
        case.score, case.passed = 0.0, False
        if case.question not in first:
            first[case.question] = case.name
            case.message = (
                f"{WITHHELD}: your notebook installs code that runs on Python's or "
                f"IPython's behalf, where the grader calls your functions:\n{evidence}\n{case.question}'s "
                "verdict rests on your notebook's process answering truthfully, so its points wait for "
                f"a TA. Remove these hooks and submit again, or ask your TA.{found}")
        else:
            case.message = (f"{WITHHELD}, with the rest of {case.question} (the "
                            f"evidence is under {first[case.question]}).{found}")


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
    output = CappedOutput()  # the kernel's stdout and stderr, whichever way it starts
    # now, before anything of the zip or the submission is read: the template copies this memory
    template = KernelTemplate.fork(output=output.write_end) if kernel_template else None
    try:
        grade = grade_submission(Path(submission), Path(autograder_zip), template, output)
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
