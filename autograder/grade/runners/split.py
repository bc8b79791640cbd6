"""The split runner: grade one submission with the judges outside the student's process.

Otter runs hidden tests inside the student's kernel, beside the test files: student code
can read them, monkeypatch the checker, or print a fake result. Here the grading child is
the judge and the kernel (``kernel.student_kernel``) only answers:

1. the kernel runs the notebook's cells, with no hidden test, probe or expected value
   anywhere it can read;
2. then the probe code goes in, and for each hidden check the judge sends the check's
   hidden inputs and gets back plain values (``kernel.probe_client``, over
   ``checks/channel.py``: JSON and ``.npz``);
3. the judge (``checks/<assignment>/judges.py``, in this process) decides, and scores.

The score is computed here from values, never read from anything the kernel printed or
wrote about itself, so printing, writing files or exiting early cannot raise it; a kernel
that dies keeps the points of the checks it answered before.

    python -m autograder.grade.runners split SUBMISSION AUTOGRADER_ZIP REPORT
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from autograder.bundle import Bundle, ship_student_runtime
from autograder.checks.judging import WITHHELD
from autograder.config import ASSIGNMENTS_DIR_ENV_VAR
from autograder.data import DATASET_ENV_VAR, dataset_cache_paths
from autograder.grade.intake import read_submitted_notebook
from autograder.grade.isolation.cgroups import ProcessCgroup
from autograder.grade.isolation.jail import (
    View,
    give_folders_their_own_disks,
    namespaces_available,
    require_reachable_interpreter,
    tmpfs_size,
    unmount,
    view_config,
)
from autograder.grade.isolation.limits import CPU_SHARE_ENV_VAR, THREAD_VARIABLES, Limits
from autograder.grade.isolation.namespaces import (
    gain_namespace_rights,
    isolate_network,
    network_isolated,
    network_namespace,
    remove_ipc_of,
)
from autograder.grade.kernel.bootstrap import SNAPSHOT_CELL
from autograder.grade.kernel.probe_client import ANSWERS, MAX_ANSWER_BYTES, REQUESTS, ProbeClient, ProbeFolders
from autograder.grade.kernel.student_kernel import (
    CappedOutput,
    KernelStartFailed,
    StudentKernel,
    cell_notes,
    notebook_code_cells,
)
from autograder.grade.processes.kernel_template import KernelTemplate
from autograder.grade.processes.requests import only_questions
from autograder.results import CaseResult, GradingOutcome

if TYPE_CHECKING:
    from autograder.checks.suite import Suite

REQUEST_DISK = "size=256m,mode=0755"  # the hidden inputs of one probe, MNIST's test set included
# templates forked beside the kernel's own for a kernel started again after a death: a fresh
# kernel pays Python's start and the notebook's imports again (a notebook that exits at its end,
# graded alone: 13.1-13.5 s fresh, 8.7-8.9 s from the spare; an idle template costs a fork and a
# kill, its pages shared)
SPARE_TEMPLATES = 1
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


def kernel_view(private: Path, workdir: Path, limits: Limits, uid: int | None) -> View:
    """The kernel sees the system, the interpreter and its folder; the cached dataset too
    (MNIST's file, Fashion-MNIST's folder) when graded on it."""
    readable = [str(path) for path in dataset_cache_paths(os.environ.get(DATASET_ENV_VAR, ""))]
    return view_config(private / "kernel-root", workdir, limits.disk_mb, uid, readable)


def grade_submission(submission: Path, autograder_zip: Path, template: KernelTemplate | None = None,
                     kernel_output: CappedOutput | None = None,
                     spares: list[KernelTemplate] | None = None) -> GradingOutcome:
    """``autograder_zip``: the zip, or the folder it was unzipped into. ``template``: a
    pre-imported process to become the kernel (``kernel_template``); else a fresh one.
    ``spares``: templates for the kernels started again after a death (``StudentKernel.spares``).
    ``kernel_output``: where a fresh kernel's stdout and stderr go (``CappedOutput``; one of
    its own where none is given, as from the Gradescope entry point)."""
    from autograder.checks.suite import GradingRun, load_suite, submission_salt
    bundle = Bundle.read(autograder_zip)
    assignment = bundle.assignment
    cases = bundle.hidden_checks()
    if not cases:
        raise ValueError("this autograder has no probe/judge checks to run outside the student's "
                         "process; grade it with --runner otter")
    if only := only_questions():  # `autograder grade --only`: the notebook runs whole, these are judged
        cases = [case for case in cases if case[0] in only]
    private = Path(tempfile.mkdtemp(prefix="judge-"))      # the grader's: never the kernel's cwd
    workdir = Path(tempfile.mkdtemp(prefix="student-"))   # the kernel's
    bundle.write_assignment_files(private / "assignments")
    os.environ[ASSIGNMENTS_DIR_ENV_VAR] = str(private / "assignments")
    notebook, submitted_bytes = submitted_notebook(submission)
    salt = submission_salt(bundle.course_secret, submitted_bytes)
    notebook_dir = private / "submitted"
    notebook_dir.mkdir()
    nbformat.write(notebook, notebook_dir / f"{assignment}.ipynb")
    from autograder.config import config
    limits = config(assignment).limits
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
                           spares=list(spares or []), output=kernel_output or CappedOutput())
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


def protections_obtained(isolation: str, cgroup: ProcessCgroup | None, own_disk: bool,
                         uid: int | None, no_network: bool, namespaces: frozenset[str] = frozenset(),
                         seccomp: bool = False) -> list[str]:
    """What held the student's kernel, as obtained on this machine (docs/isolation.md: 'Isolation by
    platform'), each read from outside the kernel."""
    obtained = ["rlimits", "environment from an allow-list", "process output capped"]
    if isolation == "view":
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
    """The kernel's cores: the share the batch gave this submission (see NUMERIC_THREADS)."""
    return float(os.environ.get(CPU_SHARE_ENV_VAR) or os.cpu_count() or 1)


def _judged_data_summary(assignment: str) -> dict[str, Any]:
    """What the result records of the data (SPEC §2), from the judges' own copy (loaded for
    the checks already, so this costs nothing); empty, for the grader to fill, if it cannot load."""
    from autograder.checks.judging import grading_data
    try:
        return grading_data(assignment).summary()
    except Exception:  # the checks that needed the data reported it
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
    # now, before anything of the zip or the submission is read: the templates copy this memory
    templates = ([KernelTemplate.fork(output=output.write_end) for _ in range(1 + SPARE_TEMPLATES)]
                 if kernel_template else [])
    try:
        grade = grade_submission(Path(submission), Path(autograder_zip), templates[0] if templates else None,
                                 output, spares=templates[1:])
    except Exception as error:  # report, don't crash: the parent turns it into an error row
        grade = GradingOutcome(error=f"{type(error).__name__}: {error}")
    finally:
        for template in templates:
            template.discard()
    grade.network_isolated = grade.network_isolated or network_isolated()
    grade.seconds = time.monotonic() - started
    grade.phases = {"child imports": imported, **grade.phases}
    Path(report).write_text(json.dumps(grade.to_dict()))


class SplitRunner:
    """The judges outside the student's process (this module)."""

    name = "split"
    exits_at_once = True
    libraries: tuple[str, ...] = ()  # this module imports what its child grades with

    def grade_into(self, submission: Path, autograder_zip: Path, report: Path, *, from_zygote: bool = False) -> None:
        child_main(str(submission), str(autograder_zip), str(report), kernel_template=from_zygote)
