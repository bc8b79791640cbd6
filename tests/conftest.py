"""Session fixtures: the expensive things (a build, a batch of otter runs) happen once.

A notebook through ``otter run`` costs tens of seconds, so the end-to-end tests read the
results of one small batch per assignment. Every known-wrong submission is also judged
in-process, by re-running the cells its edit affects in a copy of the solution's
namespace: the same hidden checks, without paying for a kernel per variant.
"""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("AUTOGRADER_DATASET", "digits")  # the grader's dataset, even where MNIST is cached

ASSIGNMENT = "nn_foundations"
KERAS = "keras_networks"
DETERMINISM_COPY = "q3_relu_forgotten"
UNTOUCHED = "untouched_student_notebook"
OTTER_BATCH_VARIANTS = {ASSIGNMENT: (DETERMINISM_COPY, "q5_tunes_on_test_set"),
                        KERAS: ("q1_no_flatten",)}
SLOW_TRAINING_CELL = "keras_training_cell_must_not_run"
IGNORED_CELL_RAN = "this otter_ignore cell ran"  # what the tagged cell raises if grading runs it
PATCHES_COUNT_PARAMS = "patches_count_params"  # the bundled `partial` sample + a patch of Keras
COUNT_PARAMS_PATCH = ("import keras\n"
                      "for _cls in (keras.Model, keras.Sequential, keras.layers.Layer):\n"
                      "    _cls.count_params = lambda self: 13002\n")
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "submissions"


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dist")


@pytest.fixture(scope="session")
def builds(dist):
    """``autograder build`` per assignment, on first use (no self-grading: the batches
    below grade the same solutions notebooks)."""
    from autograder.build import build_assignment
    cache: dict = {}

    def build(assignment: str):
        if assignment not in cache:
            cache[assignment] = build_assignment(assignment, dist, verify=False)
        return cache[assignment]
    return build


@pytest.fixture(scope="session")
def built(builds):
    return builds(ASSIGNMENT)


@pytest.fixture(scope="session")
def keras_built(builds):
    return builds(KERAS)


def otter_batch(build, tmp_path_factory, extra: dict[str, Path] | None = None):
    """Grade the solutions, the assignment's batch variants, its correct-style variants, its
    bundled sample submissions (submissions/<assignment>/) and ``extra`` through the grader."""
    from autograder.grade import grade_submissions
    assignment = build.assignment
    batch = tmp_path_factory.mktemp(f"batch-{assignment}")
    known_wrong = build.student_dir.parent / "known_wrong"
    for name in OTTER_BATCH_VARIANTS[assignment]:
        shutil.copy(known_wrong / f"{name}.ipynb", batch / f"{name}.ipynb")
    shutil.copy(build.solutions_notebook, batch / f"{assignment}.ipynb")
    for sample in (SAMPLES_DIR / assignment).glob("*.ipynb"):
        shutil.copy(sample, batch / sample.name)
    for path in (build.student_dir.parent / "correct_styles").glob("*.ipynb"):
        shutil.copy(path, batch / path.name)
    for name, path in (extra or {}).items():
        shutil.copy(path, batch / f"{name}.ipynb")
    out = tmp_path_factory.mktemp(f"graded-{assignment}")
    return grade_submissions(assignment, [batch], out, dist=build.student_dir.parent.parent, jobs=2)


@pytest.fixture(scope="session")
def graded(built, tmp_path_factory):
    """nn_foundations: solutions, two known-wrong, a duplicate, the untouched student notebook."""
    known_wrong = built.student_dir.parent / "known_wrong"
    return otter_batch(built, tmp_path_factory, {
        f"{DETERMINISM_COPY}_again": known_wrong / f"{DETERMINISM_COPY}.ipynb",
        UNTOUCHED: built.student_dir / f"{ASSIGNMENT}.ipynb",
    })


@pytest.fixture(scope="session")
def keras_graded(keras_built, tmp_path_factory):
    """keras_networks: solutions, one known-wrong, the solutions with a tagged training cell
    that raises at once (the grader must skip it: if it ran, the feedback would name it), and
    the `partial` sample patching Keras' count_params (it must keep its honest score)."""
    import nbformat
    folder = tmp_path_factory.mktemp("keras-extra")
    notebook = nbformat.read(keras_built.solutions_notebook, as_version=4)
    training = [c for c in notebook.cells if "otter_ignore" in c.metadata.get("tags", [])]
    training[0].source = f"raise RuntimeError({IGNORED_CELL_RAN!r})\n" + training[0].source
    nbformat.write(notebook, folder / f"{SLOW_TRAINING_CELL}.ipynb")
    patched = nbformat.read(SAMPLES_DIR / KERAS / "partial.ipynb", as_version=4)
    patched.cells.append(nbformat.v4.new_code_cell(COUNT_PARAMS_PATCH))
    nbformat.write(patched, folder / f"{PATCHES_COUNT_PARAMS}.ipynb")
    return otter_batch(keras_built, tmp_path_factory, {
        SLOW_TRAINING_CELL: folder / f"{SLOW_TRAINING_CELL}.ipynb",
        PATCHES_COUNT_PARAMS: folder / f"{PATCHES_COUNT_PARAMS}.ipynb"})


@pytest.fixture(scope="session")
def results_by_name(graded):
    return {result.submission: result for result in graded.results}


@pytest.fixture(scope="session")
def keras_results_by_name(keras_graded):
    return {result.submission: result for result in keras_graded.results}


@pytest.fixture(scope="session")
def solution_envs(builds):
    """Each assignment's solutions notebook executed in this process, on first use.

    In-process checks are fast, so the judges' edge cases are tested on these namespaces,
    and the full otter path is tested on a few submissions per assignment.
    """
    import nbformat
    cache: dict = {}

    def env_for(assignment: str) -> dict:
        if assignment not in cache:
            build = builds(assignment)
            cache[assignment] = {}
            run_cells(nbformat.read(build.solutions_notebook, as_version=4).cells, cache[assignment],
                      build.solutions_notebook.parent)
        return cache[assignment]
    return env_for


@pytest.fixture(scope="session")
def solution_env(solution_envs):
    return solution_envs(ASSIGNMENT)


@pytest.fixture(scope="session")
def variant_scores(builds, solution_envs, tmp_path_factory):
    """For (assignment, known-wrong name): {check name: (question, points earned, message)}."""
    import nbformat
    from autograder.build.variants import known_wrong
    cache: dict = {}

    def scores_for(assignment: str, name: str) -> dict:
        if (assignment, name) not in cache:
            build = builds(assignment)
            solution = nbformat.read(build.solutions_notebook, as_version=4).cells
            variant = next(v for v in known_wrong(assignment) if v.name == name)
            path = build.student_dir.parent / "known_wrong" / f"{variant.name}.ipynb"
            cells = nbformat.read(path, as_version=4).cells
            folder = tmp_path_factory.mktemp(variant.name)
            shutil.copy(path, folder / path.name)  # as under otter: the notebook alone in its folder
            env = private_copy(solution_envs(assignment))
            run_cells(cells_to_rerun(solution, cells), env, folder)
            cache[assignment, name] = score_checks(assignment, env, folder)
        return cache[assignment, name]
    return scores_for


def private_copy(env: dict) -> dict:
    """A namespace a variant may change without changing the shared one: its arrays are copied
    (a variant that scales X_train in place must not scale it for the next test); modules,
    functions and fitted models are shared, as the variant's cells rebind what they change."""
    import numpy as np
    return {name: value.copy() if isinstance(value, np.ndarray) else value for name, value in env.items()}


def score_checks(assignment: str, env: dict, folder: Path) -> dict[str, tuple[str, float, str]]:
    """Every hidden check on a namespace, scored with the master notebook's points."""
    from autograder.assignment import check_points
    from autograder.checks import CheckFailed, run_check
    scored = {}
    previous = os.getcwd()
    os.chdir(folder)
    try:
        for name, (question, points) in check_points(assignment).items():
            try:
                run_check(env, assignment, name)
                scored[name] = (question, points, "")
            except CheckFailed as failure:
                scored[name] = (question, 0.0, str(failure))
    finally:
        os.chdir(previous)
    return scored


def cells_to_rerun(solution: list, variant: list) -> list:
    """The edited cells, and every later cell that reads a name they (re)bind, transitively:
    what a full re-run would recompute differently, without retraining the rest."""
    changed: set[str] = set()
    rerun = []
    for before, after in zip(solution, variant):
        if not _runs_when_graded(after):
            continue
        tree = ast.parse(after.source)
        reads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        if before.source != after.source or reads & changed:
            rerun.append(after)
            changed |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            changed |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return rerun


def run_cells(cells, env: dict, cwd: Path) -> None:
    """Execute the cells grading would run, in ``env``, in ``cwd``."""
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        for cell in cells:
            if _runs_when_graded(cell):
                exec(compile(cell.source, "<notebook cell>", "exec"), env)
    finally:
        os.chdir(previous)


def _runs_when_graded(cell) -> bool:
    """Code cells, less Otter's own (they need a kernel Otter set up) and those tagged
    ``otter_ignore`` (students' training cells, which grading skips)."""
    if cell.cell_type != "code" or "otter_ignore" in cell.metadata.get("tags", []):
        return False
    return not any(line.strip().startswith(("grader.", "import otter")) for line in cell.source.splitlines())
