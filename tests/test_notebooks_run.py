"""The notebooks run top to bottom as a student runs them (*Restart & Run All*, the training
cells tagged ``otter_ignore`` included), in the student folder, without a library's log line in
any output:

* the solutions notebook: grading skips the tagged cells, so nothing else would notice one that
  breaks (a plot of feature maps once indexed a list: "list indices must be integers or slices,
  not tuple");
* the student version as it ships, every answer still a stub: Run All reaches the last cell
  (the export), and each question says it is not answered yet, in its public check and in the
  given code around its stubs, instead of stopping Run All with an error."""

from __future__ import annotations

import ast
import re
import shutil

import nbformat
import pytest
from helpers import ASSIGNMENT, KERAS

from autograder.assignment import questions

# TensorFlow's C++ logging (absl): "I0000 00:00:1796601528.337900   10089 cpu_feature_guard.cc:227] ..."
LIBRARY_LOG_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\]|absl::InitializeLog", re.MULTILINE)


def run_all(notebook_path, build, tmp_path, monkeypatch):
    """Execute the notebook in a kernel started as a student's is: without the suite's
    ``TF_CPP_MIN_LOG_LEVEL`` (conftest), so the notebook's own setting is what quiets TensorFlow."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    folder = tmp_path / "student"
    shutil.copytree(build.student_dir, folder)
    notebook = nbformat.read(notebook_path, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{build.assignment}: a cell failed when run top to bottom:\n{str(error)[-3000:]}")
    return notebook


def output_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output:
            parts.append(output.data.get("text/plain", ""))
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
    return "".join(parts)


def library_log_lines(notebook) -> list[str]:
    return [f"cell {n}: {match.group(0)}" for n, cell in enumerate(notebook.cells)
            for match in LIBRARY_LOG_LINE.finditer(output_text(cell))]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [ASSIGNMENT, KERAS])
def test_the_solutions_run_all_without_an_error(assignment, builds, tmp_path, monkeypatch):
    build = builds(assignment)
    notebook = run_all(build.solutions_notebook, build, tmp_path, monkeypatch)
    assert library_log_lines(notebook) == []


def gives_code_beyond_stubs(cell) -> bool:
    """Whether an answer cell runs given code besides its stubs: anything but imports, function
    definitions (their bodies are the stubs) and ``name = ...``."""
    def stub(node: ast.stmt) -> bool:
        return ((isinstance(node, (ast.Assign, ast.Expr)) and isinstance(node.value, ast.Constant)
                 and node.value.value is Ellipsis)
                or isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom)))
    return not all(stub(node) for node in ast.parse(cell.source).body)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [ASSIGNMENT, KERAS])
def test_the_student_version_runs_all_to_the_end_saying_what_is_unanswered(assignment, builds, tmp_path,
                                                                           monkeypatch):
    build = builds(assignment)
    notebook = run_all(build.student_dir / f"{assignment}.ipynb", build, tmp_path, monkeypatch)
    assert "grader.export(" in notebook.cells[-2].source + notebook.cells[-1].source
    question, said = None, {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if "otter_answer_cell" in cell.metadata.get("tags", []) and gives_code_beyond_stubs(cell):
            said.setdefault("given code", []).append(output_text(cell))
        check = re.fullmatch(r'grader\.check\("(\w+)"\)', cell.source.strip())
        if check:
            question = check.group(1)
            given = said.pop("given code", [])
            assert all(f"{question} is not answered yet" in text for text in given), (question, given)
            assert f"{question} is not answered yet" in output_text(cell), output_text(cell)
            said[question] = output_text(cell)
    assert set(said) == {q.name for q in questions(assignment) if not q.manual}
    assert library_log_lines(notebook) == []
