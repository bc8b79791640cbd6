"""The manifest: one parse of the master notebook that the build checks against the judges'
registered checks and ships, and that runners, report and tests read."""

from __future__ import annotations

import ast
import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from helpers import ASSIGNMENTS

from autograder.assignment import MANIFEST_FILE, Manifest, ManifestError, Question, TestCase, read_manifest
from autograder.build import BuildError, checked_manifest
from autograder.bundle import Bundle
from autograder.checks.suite import load_suite
from autograder.config import ASSIGNMENTS_DIR_ENV_VAR, assignments_dir


def master_of(assignment: str) -> Path:
    return assignments_dir() / assignment / f"{assignment}.ipynb"


def otter_test_functions(zip_path: Path) -> dict[str, list[str]]:
    """An independent reading of what Otter Assign wrote: the test functions of each test file."""
    with zipfile.ZipFile(zip_path) as archive:
        return {Path(member).stem: [node.name.removeprefix("test_") for node in ast.parse(archive.read(member)).body
                                    if isinstance(node, ast.FunctionDef)]
                for member in archive.namelist() if member.startswith("tests/") and member.endswith(".py")}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_shipped_manifest_names_the_test_functions_otter_wrote(assignment, builds):
    zip_path = builds(assignment).autograder_zip
    shipped = Bundle.read(zip_path).manifest
    assert shipped is not None, f"the {assignment} zip has no {MANIFEST_FILE}"
    assert shipped.test_functions() == otter_test_functions(zip_path)
    suite = load_suite(assignment)
    assert shipped == read_manifest(master_of(assignment)).with_judges(suite.gates, suite.preload)
    assert shipped.preload
    assert set(shipped.preload) == set(suite.preload)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_manifest_agrees_with_the_registered_checks(assignment):
    assert load_suite(assignment).disagreements_with(read_manifest(master_of(assignment))) == []


def test_the_tuning_gates_are_in_the_manifest(builds):
    shipped = Bundle.read(builds("nn_foundations").autograder_zip).manifest
    assert shipped is not None
    assert shipped.question("q5_tuning").gates == ("test_set_not_used_for_tuning",
                                                   "the_notebook_ran_no_test_leak",
                                                   "tune_mlp_does_not_read_the_test_set")


def test_a_manifest_survives_json():
    manifest = read_manifest(master_of("nn_foundations"))
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert json.loads(manifest.to_json())["assignment"] == "nn_foundations"


def _renamed_check(manifest: Manifest, old: str, new: str, question: str | None = None) -> Manifest:
    def case(c: TestCase) -> TestCase:
        return TestCase(c.function, c.points, c.hidden, new) if c.check == old else c
    return Manifest(manifest.assignment, tuple(
        Question(q.name, q.points, q.manual, tuple(case(c) for c in q.cases), q.gates) for q in manifest.questions))


def test_a_test_cell_naming_an_unregistered_check_and_a_check_no_cell_runs_are_both_named():
    suite = load_suite("nn_foundations")
    manifest = _renamed_check(read_manifest(master_of("nn_foundations")), "unroll_single_image", "unroll_one_image")
    problems = suite.disagreements_with(manifest)
    assert problems == [
        "the master notebook's test cell runs check 'unroll_one_image', which judges.py does not declare",
        "judges.py declares check 'unroll_single_image' (q1_vectorize), but no test cell of the master "
        "notebook runs it"]


def test_a_check_tested_under_another_question_is_named():
    suite = load_suite("nn_foundations")
    manifest = read_manifest(master_of("nn_foundations"))
    moved = Manifest(manifest.assignment, tuple(
        Question(q.name, q.points, q.manual,
                 (*q.cases, manifest.question("q1_vectorize").cases[-1]) if q.name == "q2_hyperparameters"
                 else tuple(c for c in q.cases if c.check != "unroll_single_image"), q.gates)
        for q in manifest.questions))
    assert suite.disagreements_with(moved) == [
        "check 'unroll_single_image' is declared under q1_vectorize but tested in q2_hyperparameters"]


@pytest.fixture
def master_copy(tmp_path, monkeypatch) -> Path:
    """A copy of nn_foundations' assignment folder the test may edit (its judges are the real ones)."""
    shutil.copytree(assignments_dir() / "nn_foundations", tmp_path / "nn_foundations")
    monkeypatch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(tmp_path))
    return tmp_path / "nn_foundations" / "nn_foundations.ipynb"


def _edit(master: Path, old: str, new: str) -> None:
    notebook = nbformat.read(master, as_version=4)
    cell = next(cell for cell in notebook.cells if old in cell.source)
    cell.source = cell.source.replace(old, new)
    nbformat.write(notebook, master)


def test_the_build_refuses_a_master_whose_test_cell_runs_an_unknown_check(master_copy):
    _edit(master_copy, '"unroll_single_image")', '"unroll_one_image")')
    with pytest.raises(BuildError, match=r"runs check 'unroll_one_image', which judges\.py does not declare"):
        checked_manifest(master_copy)


def test_a_test_cell_with_two_functions_is_refused_naming_the_cell(master_copy):
    _edit(master_copy, "def test_unroll_single_image(env):", "def helper():\n    pass\ndef test_unroll_single_image(env):")
    with pytest.raises(ManifestError, match=r"nn_foundations.ipynb, cell \d+: a test cell holds exactly one function"):
        read_manifest(master_copy)


def test_a_hidden_test_must_name_its_check_literally(master_copy):
    _edit(master_copy, 'run_check(env, "nn_foundations", "unroll_single_image")',
          'run_check(env, "nn_foundations", "unroll_" + "single_image")')
    with pytest.raises(ManifestError, match="with literal names"):
        read_manifest(master_copy)


def test_the_judges_process_reads_the_shipped_manifest_not_a_master(builds, tmp_path, monkeypatch):
    """Where grading runs from a zip there is no master notebook: the manifest beside grading.toml
    is what ``questions`` reads."""
    from autograder.assignment import manifest, questions
    Bundle.read(builds("keras_networks").autograder_zip).write_assignment_files(tmp_path)
    assert not (tmp_path / "keras_networks" / "keras_networks.ipynb").exists()
    monkeypatch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(tmp_path))
    manifest.cache_clear()
    try:
        assert [q.name for q in questions("keras_networks")][-1] == "q6_reflection"
        assert (tmp_path / "keras_networks" / MANIFEST_FILE).is_file()
    finally:
        manifest.cache_clear()
