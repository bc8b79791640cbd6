"""Every file given becomes a submission; the ones that cannot be graded say why."""

from __future__ import annotations

import zipfile

import nbformat
import pytest

from autograder.grade.intake import collect_submissions

ASSIGNMENT = "nn_foundations"


def notebook(assignment: str | None = ASSIGNMENT, code: str = "x = 1") -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)] if code else [])
    if assignment:
        nb.metadata["otter"] = {"assignment_name": assignment}
    return nbformat.writes(nb)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "good.ipynb").write_text(notebook())
    (tmp_path / "corrupt.ipynb").write_text('{"cells": [')
    (tmp_path / "essay.txt").write_text("not a notebook")
    (tmp_path / "empty.ipynb").write_text(notebook(code=""))
    (tmp_path / "other.ipynb").write_text(notebook(assignment="keras_networks"))
    with zipfile.ZipFile(tmp_path / "nozip.zip", "w") as archive:
        archive.writestr("readme.md", "hello")
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as archive:
        archive.writestr("nn_foundations.ipynb", notebook())
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "twin.ipynb").write_text(notebook())
    (tmp_path / "twin.zip").write_bytes((tmp_path / "export.zip").read_bytes())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.ipynb").write_text(notebook())
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "good-checkpoint.ipynb").write_text(notebook())
    return tmp_path


def by_name(folder):
    return {s.name: s for s in collect_submissions([folder], ASSIGNMENT)}


def test_valid_notebooks_and_exports_are_gradable(folder):
    found = by_name(folder)
    assert found["good"].valid and found["export"].valid and found["sub__deep"].valid


@pytest.mark.parametrize("name, reason", [
    ("corrupt", "not a readable Jupyter notebook"),
    ("essay", "not a notebook"),
    ("empty", "has no code"),
    ("other", "assignment 'keras_networks'"),
    ("nozip", "holds 0 notebooks"),
    ("broken", "not a valid zip"),
    ("twin", "would both be named 'twin'"),
])
def test_each_bad_input_is_invalid_with_a_reason(folder, name, reason):
    found = collect_submissions([folder], ASSIGNMENT)
    matching = [s for s in found if s.name == name]
    assert matching and all(not s.valid and reason in s.problem for s in matching), matching


def test_nothing_given_is_dropped_and_checkpoints_are_ignored(folder):
    names = [s.name for s in collect_submissions([folder], ASSIGNMENT)]
    assert len(names) == 11 and not any("checkpoint" in n for n in names)


def test_a_missing_path_is_reported_not_skipped(tmp_path):
    [missing] = collect_submissions([tmp_path / "nope.ipynb"], ASSIGNMENT)
    assert not missing.valid and "does not exist" in missing.problem
