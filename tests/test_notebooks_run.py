"""The solutions notebook of every assignment runs top to bottom as a student runs it
(*Restart & Run All*, the training cells tagged ``otter_ignore`` included), in the student
folder. Grading skips those cells, so nothing else would notice one that breaks: a plot of
feature maps once indexed a list ("list indices must be integers or slices, not tuple")."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from conftest import ASSIGNMENT, KERAS


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [ASSIGNMENT, KERAS])
def test_the_solutions_run_all_without_an_error(assignment, builds, tmp_path):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    build = builds(assignment)
    folder = tmp_path / "student"
    shutil.copytree(build.student_dir, folder)
    notebook = nbformat.read(build.solutions_notebook, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{assignment}: a cell failed when run top to bottom:\n{str(error)[-3000:]}")
