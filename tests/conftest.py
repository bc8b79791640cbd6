"""Session fixtures: the expensive things (a build, a batch of otter runs) happen once.

A notebook through ``otter run`` costs tens of seconds, so the end-to-end tests read the
results of one small batch: the solutions notebook, a partial submission twice (to check
that grading is deterministic) and a leaking one. Every known-wrong submission is also
judged in-process, by re-running its notebook from the first edited cell in a copy of the
solution's namespace: the same hidden checks, without paying for a kernel per variant.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("AUTOGRADER_DATASET", "digits")  # the grader's dataset, even where MNIST is cached

ASSIGNMENT = "nn_foundations"
DETERMINISM_COPY = "q3_relu_forgotten"
UNTOUCHED = "untouched_student_notebook"
OTTER_BATCH_VARIANTS = (DETERMINISM_COPY, "q5_tunes_on_test_set")


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """``autograder build nn_foundations`` into a fresh dist folder (no self-grading: the
    batch below grades the same solutions notebook)."""
    from autograder.build import build_assignment
    return build_assignment(ASSIGNMENT, tmp_path_factory.mktemp("dist"), verify=False)


@pytest.fixture(scope="session")
def graded(built, tmp_path_factory):
    """One otter batch: the solutions, two known-wrong submissions, a duplicate, and the
    student notebook as handed out (every stub still `...`)."""
    from autograder.grade import grade_submissions
    batch = tmp_path_factory.mktemp("batch")
    known_wrong = built.student_dir.parent / "known_wrong"
    for name in OTTER_BATCH_VARIANTS:
        shutil.copy(known_wrong / f"{name}.ipynb", batch / f"{name}.ipynb")
    shutil.copy(known_wrong / f"{DETERMINISM_COPY}.ipynb", batch / f"{DETERMINISM_COPY}_again.ipynb")
    shutil.copy(built.solutions_notebook, batch / f"{ASSIGNMENT}.ipynb")
    shutil.copy(built.student_dir / f"{ASSIGNMENT}.ipynb", batch / f"{UNTOUCHED}.ipynb")
    out = tmp_path_factory.mktemp("graded")
    return grade_submissions(ASSIGNMENT, [batch], out, dist=built.student_dir.parent.parent, jobs=2)


@pytest.fixture(scope="session")
def results_by_name(graded):
    return {result.submission: result for result in graded.results}


@pytest.fixture(scope="session")
def solution_env(built):
    """The solutions notebook executed in this process: a namespace to probe directly.

    In-process checks are fast, so the judges' many edge cases are tested here, and the
    full otter path is tested once per known-wrong submission.
    """
    import nbformat
    env: dict = {}
    run_cells(nbformat.read(built.solutions_notebook, as_version=4).cells, env,
              built.solutions_notebook.parent)
    return env


@pytest.fixture(scope="session")
def variant_scores(built, solution_env, tmp_path_factory):
    """For every known-wrong submission: {check name: (question, points earned, message)}."""
    import nbformat
    from autograder.build.variants import known_wrong
    solution = nbformat.read(built.solutions_notebook, as_version=4).cells
    scores = {}
    for variant in known_wrong(ASSIGNMENT):
        path = built.student_dir.parent / "known_wrong" / f"{variant.name}.ipynb"
        cells = nbformat.read(path, as_version=4).cells
        folder = tmp_path_factory.mktemp(variant.name)
        shutil.copy(path, folder / path.name)  # as under otter: the notebook alone in its folder
        env = dict(solution_env)
        run_cells(cells_to_rerun(solution, cells), env, folder)
        scores[variant.name] = score_checks(env, folder)
    return scores


def score_checks(env: dict, folder: Path) -> dict[str, tuple[str, float, str]]:
    """Every hidden check on a namespace, scored with the master notebook's points."""
    from autograder.assignment import check_points
    from autograder.checks import CheckFailed, run_check
    scored = {}
    previous = os.getcwd()
    os.chdir(folder)
    try:
        for name, (question, points) in check_points(ASSIGNMENT).items():
            try:
                run_check(env, ASSIGNMENT, name)
                scored[name] = (question, points, "")
            except CheckFailed as failure:
                scored[name] = (question, 0.0, str(failure))
    finally:
        os.chdir(previous)
    return scored


def cells_to_rerun(solution: list, variant: list) -> list:
    """The edited cells, and every later cell that reads a name they (re)bind, transitively:
    what a full re-run would recompute differently, without retraining the rest."""
    import ast
    changed: set[str] = set()
    rerun = []
    for before, after in zip(solution, variant):
        if after.cell_type != "code" or _uses_otter(after.source):
            continue
        tree = ast.parse(after.source)
        reads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        if before.source != after.source or reads & changed:
            rerun.append(after)
            changed |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            changed |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return rerun


def run_cells(cells, env: dict, cwd: Path) -> None:
    """Execute a notebook's code cells in ``env`` (Otter's own cells skipped), in ``cwd``."""
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        for cell in cells:
            if cell.cell_type == "code" and not _uses_otter(cell.source):
                exec(compile(cell.source, "<notebook cell>", "exec"), env)
    finally:
        os.chdir(previous)


def _uses_otter(source: str) -> bool:
    """Otter's own cells (init, checks, export) need a kernel Otter set up: skip them."""
    return any(line.strip().startswith(("grader.", "import otter")) for line in source.splitlines())
