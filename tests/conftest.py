"""Session fixtures: the expensive things (a build, a graded batch) happen once.

A notebook through the grader costs seconds to tens of seconds, so the end-to-end tests
read the results of one batch per assignment, graded once per session by the real grader
(``grade_submissions``, jailed kernels, judges outside them): the solutions, every known-wrong
and correct-style submission, the bundled samples and a few extras. Unit tests of the judges'
edge cases run the hidden checks in-process on a private copy of the solutions' namespace.

The constants and helpers test modules share (assignment names, the extras' names,
``with_changes``, ``check_failure``) are in helpers.py: ``from helpers import ...``.
"""

from __future__ import annotations

import fcntl
import fnmatch
import multiprocessing
import os
import pickle
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import (
    ASSIGNMENT,
    ASSIGNMENTS,
    AUDIT_HOOK,
    AUDIT_HOOK_ATTACK,
    BATCH_JOBS,
    COUNT_PARAMS_PATCH,
    COURSE_SECRET_FILE,
    CPU_PROFILE_ENV_VAR,
    DETERMINISM_COPY,
    IGNORED_CELL_RAN,
    KERAS,
    LEDGER_ATTACK,
    LEDGER_ROUND_TRIP,
    PATCHES_COUNT_PARAMS,
    SAMPLES_DIR,
    SLOW_TRAINING_CELL,
    SUITE_CELL_LIMIT,
    UNTOUCHED,
    machine_busy_seconds,
)

from autograder.grade.isolation.limits import numeric_thread_environment
from autograder.results import GradeRun

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("AUTOGRADER_DATASET", "digits")  # the grader's dataset, even where MNIST is cached
# Before NumPy or TensorFlow is imported (nothing above imports them): the suite runs one
# worker per core, and a second thread per pool only spins (NUMERIC_THREADS: on 2 busy cores a
# scikit-learn fit took 4 times the CPU time with two OpenBLAS threads as with one)
for _name, _value in numeric_thread_environment().items():
    os.environ.setdefault(_name, _value)



REPO = Path(__file__).resolve().parent.parent


# Run last: measured on this machine, the session's graded batches took 260 s instead of 192 s
# when these ran before them (no process, mount or cgroup was left behind that we could find),
# and they depend on no fixture of the others.
RUN_LAST = ("test_batch_grading.py",)
# Tests that read the session's graded batches: one xdist group, so one worker grades the
# batches once (the others would grade them again), and first, as the longest group.
BATCH_FIXTURES = frozenset({"graded_batch", "batch_results", "variant_scores"})
BATCH_GROUP = "graded-batches"
# Tests that run the hidden checks in-process on the executed solutions (``solution_envs``, in
# test_solutions.py) and the files of the judges' edge cases (test_checks_<assignment>.py, which
# read them): one group, so each assignment's solutions notebook is executed by one worker, once.
SOLUTION_ENV_FIXTURES = frozenset({"solution_envs"})
SOLUTION_ENV_FILES = "test_checks_*.py"
SOLUTION_ENV_GROUP = "solution-namespaces"


def _reads_batches(item) -> bool:
    return bool(BATCH_FIXTURES & set(getattr(item, "fixturenames", ())))


def xdist_group_of(item) -> str:
    fixtures = set(getattr(item, "fixturenames", ()))
    if BATCH_FIXTURES & fixtures:
        return BATCH_GROUP
    if SOLUTION_ENV_FIXTURES & fixtures or fnmatch.fnmatch(item.path.name, SOLUTION_ENV_FILES):
        return SOLUTION_ENV_GROUP
    return item.path.name


def pytest_itemcollected(item) -> None:
    """With pytest-xdist (``-n``, ``--dist loadgroup``, README): the batch readers in one group,
    the readers of the solutions' namespaces in another, every other test grouped by its file, so
    a module's or session's expensive fixture (the toy batches, the adversarial corpus, the
    platforms' user) is made by one worker only. Marked as each test is collected: xdist reads the
    groups in its own collection hook."""
    item.add_marker(pytest.mark.xdist_group(xdist_group_of(item)))


def pytest_collection_modifyitems(items: list) -> None:
    # stable sorts: the order within each part stays
    items.sort(key=lambda item: item.path.name in RUN_LAST)
    items.sort(key=lambda item: not _reads_batches(item))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """With AUTOGRADER_SUITE_CPU_PROFILE set (benchmarks/suite_cpu.py, which runs the suite on one
    worker): each test's CPU seconds, its fixtures' set-up included, as the machine's busy time
    (``/proc/stat``) over the test, one line per test in that file. That counts every process the
    test caused, also those no process of the test waits for (a zygote's children, a kernel in
    its own PID namespace), which resource usage would miss; it is the test's own only while no
    other test runs. Wall time (``--durations``) cannot say what a test costs when both cores are
    shared."""
    target = os.environ.get(CPU_PROFILE_ENV_VAR)
    if not target:
        yield
        return
    import time
    before, started = machine_busy_seconds(), time.monotonic()
    yield
    line = f"{machine_busy_seconds() - before:.2f}\t{time.monotonic() - started:.2f}\t{item.nodeid}\n"
    with open(f"{target}.{os.environ.get('PYTEST_XDIST_WORKER', 'main')}", "a") as stream:
        stream.write(line)


def session_folder(tmp_path_factory) -> Path:
    """The folder every xdist worker of this session shares (each worker's own is below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """One worker at a time (``flock``: released if the worker dies)."""
    with open(path, "a") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(stream, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    """The session's builds (``builds``), shared by its xdist workers: built once, by the first
    worker that needs each (a build is 10 to 50 s, and every worker needed every one)."""
    folder = session_folder(tmp_path_factory) / "dist"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def suite_course(tmp_path_factory) -> Path:
    """The bundled assignments folder with SUITE_CELL_LIMIT in each grading.toml: what the
    session's builds are built from (``builds``)."""
    course = tmp_path_factory.mktemp("course")
    for assignment in ASSIGNMENTS:
        shutil.copytree(REPO / "assignments" / assignment, course / assignment)
        settings = course / assignment / "grading.toml"
        text = settings.read_text()
        assert text.count("cell_timeout = 60") == 1, f"{settings}: the suite expects cell_timeout = 60"
        settings.write_text(text.replace("cell_timeout = 60", f"cell_timeout = {SUITE_CELL_LIMIT}"))
    return course


@pytest.fixture(scope="session")
def builds(dist, suite_course):
    """``autograder build`` per assignment, on first use, from ``suite_course`` (no
    self-grading: the batches below grade the same solutions notebooks), into the ``dist`` the
    session's workers share: a worker that finds a build made by another uses it. Its zip's grading.toml
    is what the judges and the kernel read; the grader's parent side reads the repository's."""
    from autograder.build import build_assignment
    from autograder.config import ASSIGNMENTS_DIR_ENV_VAR, clear_cache
    cache: dict = {}

    def build(assignment: str):
        if assignment not in cache:
            made = dist / f".{assignment}.build.pickle"  # the BuildResult, for the other workers
            with locked(dist / f".{assignment}.lock"):
                if made.exists():
                    cache[assignment] = pickle.loads(made.read_bytes())
                else:
                    with pytest.MonkeyPatch.context() as patch:
                        patch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(suite_course))
                        clear_cache()
                        cache[assignment] = build_assignment(assignment, dist, verify=False,
                                                             secret_file=dist / COURSE_SECRET_FILE)
                    clear_cache()
                    made.write_bytes(pickle.dumps(cache[assignment]))
        return cache[assignment]
    return build


@pytest.fixture(scope="session")
def built(builds):
    """nn_foundations' build, for the tests about one build's artefacts (others use ``builds``)."""
    return builds(ASSIGNMENT)


def nn_extras(build, folder: Path) -> dict[str, Path]:
    """nn_foundations: a duplicate of a known-wrong submission (determinism), the untouched
    student notebook, and the solutions with candidates scored on a test set written to disk and
    read back (only the kernel's ledger can see it)."""
    import nbformat
    known_wrong = build.student_dir.parent / "known_wrong"
    notebook = nbformat.read(build.solutions_notebook, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(LEDGER_ROUND_TRIP))
    nbformat.write(notebook, folder / f"{LEDGER_ATTACK}.ipynb")
    return {f"{DETERMINISM_COPY}_again": known_wrong / f"{DETERMINISM_COPY}.ipynb",
            UNTOUCHED: build.student_dir / f"{ASSIGNMENT}.ipynb", LEDGER_ATTACK: folder / f"{LEDGER_ATTACK}.ipynb"}


def keras_extras(build, folder: Path) -> dict[str, Path]:
    """keras_networks: the solutions with a tagged training cell that raises at once (the
    grader must skip it: if it ran, the feedback would name it), and the `partial` sample
    patching Keras' count_params, or lending correct code from an audit hook (each must keep
    its honest score)."""
    import nbformat
    notebook = nbformat.read(build.solutions_notebook, as_version=4)
    training = [c for c in notebook.cells if "otter_ignore" in c.metadata.get("tags", [])]
    training[0].source = f"raise RuntimeError({IGNORED_CELL_RAN!r})\n" + training[0].source
    nbformat.write(notebook, folder / f"{SLOW_TRAINING_CELL}.ipynb")
    patched = nbformat.read(SAMPLES_DIR / KERAS / "partial.ipynb", as_version=4)
    patched.cells.append(nbformat.v4.new_code_cell(COUNT_PARAMS_PATCH))
    nbformat.write(patched, folder / f"{PATCHES_COUNT_PARAMS}.ipynb")
    hooked = nbformat.read(SAMPLES_DIR / KERAS / "partial.ipynb", as_version=4)
    hooked.cells.append(nbformat.v4.new_code_cell(AUDIT_HOOK_ATTACK))
    nbformat.write(hooked, folder / f"{AUDIT_HOOK}.ipynb")
    return {SLOW_TRAINING_CELL: folder / f"{SLOW_TRAINING_CELL}.ipynb",
            PATCHES_COUNT_PARAMS: folder / f"{PATCHES_COUNT_PARAMS}.ipynb",
            AUDIT_HOOK: folder / f"{AUDIT_HOOK}.ipynb"}


# Each assignment's batch: the common corpus plus what only that assignment's tests need. A
# third assignment is graded by the same fixtures (with no extras unless it adds some here).
BATCH_EXTRAS = {ASSIGNMENT: nn_extras, KERAS: keras_extras}


def grade_batch(build, tmp_path_factory) -> GradeRun:
    """Grade the solutions, every known-wrong and correct-style submission of the assignment,
    its bundled sample submissions (submissions/<assignment>/) and its extras through the grader."""
    from autograder.batch import grade_submissions
    assignment = build.assignment
    batch = tmp_path_factory.mktemp(f"batch-{assignment}")
    for path in (build.student_dir.parent / "known_wrong").glob("*.ipynb"):
        shutil.copy(path, batch / path.name)
    shutil.copy(build.solutions_notebook, batch / f"{assignment}.ipynb")
    for sample in (SAMPLES_DIR / assignment).glob("*.ipynb"):
        shutil.copy(sample, batch / sample.name)
    for path in (build.student_dir.parent / "correct_styles").glob("*.ipynb"):
        shutil.copy(path, batch / path.name)
    extras = BATCH_EXTRAS.get(assignment, lambda build, folder: {})(build, tmp_path_factory.mktemp("extras"))
    for name, path in extras.items():
        shutil.copy(path, batch / f"{name}.ipynb")
    out = tmp_path_factory.mktemp(f"graded-{assignment}")
    # one worker more than cores: while a worker waits on a child starting or ending, the others
    # keep both cores busy
    return grade_submissions(assignment, [batch], out, dist=build.student_dir.parent.parent,
                             jobs=BATCH_JOBS)


@pytest.fixture(scope="session")
def graded_batch(builds, tmp_path_factory) -> Callable[[str], GradeRun]:
    """The assignment's batch (``grade_batch``), graded on first use, once per session."""
    cache: dict[str, GradeRun] = {}

    def batch(assignment: str) -> GradeRun:
        if assignment not in cache:
            cache[assignment] = grade_batch(builds(assignment), tmp_path_factory)
        return cache[assignment]
    return batch


@pytest.fixture(scope="session")
def batch_results(graded_batch) -> Callable[[str], dict]:
    """The assignment's batch results by submission name."""
    def results(assignment: str) -> dict:
        return {result.submission: result for result in graded_batch(assignment).results}
    return results


@pytest.fixture(scope="session")
def solution_envs(builds):
    """Each assignment's solutions notebook executed in this process, on first use.

    In-process checks are fast, so the judges' edge cases are tested on these namespaces,
    and the grader's whole path on the session's batches (``graded_batch``).
    """
    import nbformat
    cache: dict = {}

    def env_for(assignment: str) -> dict:
        if assignment not in cache:
            build = builds(assignment)
            cache[assignment] = {}
            run_cells(nbformat.read(build.solutions_notebook, as_version=4), cache[assignment],
                      build.solutions_notebook.parent)
        return cache[assignment]
    return env_for


@pytest.fixture(scope="session")
def reference_trainings(builds, tmp_path_factory) -> Callable[[str], Path]:
    """A training store (``checks.training_store``) holding the reference trainings the build
    recorded in the assignment's zip: given to in-process checks (its folder in the store's
    environment variable), a judge finds the reference architecture's accuracy there, as the
    grader finds it in the zip, instead of training it again in the test's process."""
    import json
    import zipfile

    from autograder.checks.models import REFERENCE_TRAINING_FILE
    from autograder.checks.training_store import TrainingStore, create_store
    folder = create_store(tmp_path_factory.mktemp("reference-trainings") / "store")
    store, seeded = TrainingStore(folder), set()

    def store_for(assignment: str) -> Path:
        if assignment not in seeded:
            with zipfile.ZipFile(builds(assignment).autograder_zip) as archive:
                for name in archive.namelist():
                    if name.endswith(f"/{assignment}/{REFERENCE_TRAINING_FILE}"):
                        for key, accuracy in json.loads(archive.read(name)).items():
                            store.accuracy(key, lambda accuracy=accuracy: accuracy)
            seeded.add(assignment)
        return folder
    return store_for


@pytest.fixture(scope="session")
def variant_scores(batch_results):
    """For (assignment, known-wrong name): {check name: (question, points earned, message)},
    as the real grader scored that submission in the session's batch."""
    def scores_for(assignment: str, name: str) -> dict:
        result = batch_results(assignment)[name]
        assert result.status == "graded", f"{assignment}/{name}: {result.status}: {result.error}"
        return {case.name: (case.question, case.score, case.message) for case in result.cases}
    return scores_for


def run_cells(notebook, env: dict, cwd: Path) -> None:
    """Execute the cells grading runs (production's own selection, ``notebook_code_cells``) in
    ``env``, in ``cwd``, less Otter's set-up cell (``import otter``: it needs the kernel Otter
    starts, and no check here calls the grader)."""
    from autograder.grade.kernel.student_kernel import notebook_code_cells
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        for cell in notebook_code_cells(notebook):
            if "import otter" not in cell.source:
                exec(compile(cell.source, f"<notebook {cell.label}>", "exec"), env)
    finally:
        os.chdir(previous)


SPINNERS_PER_CORE = 3  # each process beside them gets at most a quarter of its core


def _spin(stop, started, cores) -> None:
    # a session of its own, as each grading child and each process of another TA's batch has:
    # with the scheduler's autogroups (Linux's default, sched_autogroup_enabled), the CPU is
    # shared between sessions first, and spinners sharing the suite's session would together
    # get what one child gets (a cell that should wait three times its CPU time waited 1.1 s for 1)
    os.setsid()
    if cores is not None:
        os.sched_setaffinity(0, cores)
    started.release()
    while not stop.is_set():
        pass


@contextmanager
def spinning(count: int, cores: set[int] | None = None) -> Iterator[None]:
    """``count`` processes spinning (on ``cores`` only, if given) while the block runs."""
    stop, started = multiprocessing.Event(), multiprocessing.Semaphore(0)
    spinners = [multiprocessing.Process(target=_spin, args=(stop, started, cores), daemon=True)
                for _ in range(count)]
    for spinner in spinners:
        spinner.start()
    for _ in spinners:  # all of them spinning before the test starts
        started.acquire(timeout=30)
    try:
        yield
    finally:
        stop.set()
        for spinner in spinners:
            spinner.join(5)
            if spinner.is_alive():
                spinner.kill()


@pytest.fixture
def busy_machine():
    """Three spinning processes per core beside what the test runs: its work gets a small
    share of the CPU, as on a machine where a TA runs two batches at once. For a test of a few
    seconds: the suite's other worker waits with it (``busy_core`` for a longer one)."""
    with spinning(SPINNERS_PER_CORE * (os.cpu_count() or 1)):
        yield


@pytest.fixture
def busy_core() -> Iterator[int]:
    """One core made as busy as ``busy_machine`` makes every core (three spinning processes):
    the test pins its work there (``os.sched_setaffinity``) and gets the same small share of
    it, while the suite's other worker keeps the other cores. On all the cores, the spinners
    of a one-minute batch took about 120 CPU-seconds (benchmarks/suite_cpu.py), and the other
    worker stood still that long."""
    core = max(os.sched_getaffinity(0))
    with spinning(SPINNERS_PER_CORE, {core}):
        yield core
