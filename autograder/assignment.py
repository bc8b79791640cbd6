"""What an assignment asks: its manifest (questions, their test cases, checks, points, gates).

The master notebook is the one source, read by one parser (:func:`read_manifest`): Otter
Assign reads the same ``# BEGIN QUESTION`` cells and test configs, so the gradebook's
columns, the points it shows and the checks the runners judge cannot drift from what
students were given. The build checks the manifest against the registered checks (a
mismatch fails the build) and ships it in the zip (``MANIFEST_FILE`` beside grading.toml);
the runners, the report and the tests read it instead of parsing test files again.
"""

from __future__ import annotations

import ast
import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

from autograder.config import assignments_dir, config

MANIFEST_FILE = "manifest.json"
_TEST_CONFIG = '""" # BEGIN TEST CONFIG'


class ManifestError(ValueError):
    """The master notebook's questions or tests cannot be read as a manifest."""


@dataclass(frozen=True)
class TestCase:
    """One test function of a question (a test cell of the master notebook)."""

    __test__ = False  # pytest: not a test class

    function: str          # its name in the test file Otter writes, e.g. "test_unroll_single_image"
    points: float
    hidden: bool
    check: str | None = None  # the hidden check it runs (``run_check(env, assignment, check)``)


@dataclass(frozen=True)
class Question:
    name: str
    points: float
    manual: bool
    cases: tuple[TestCase, ...] = ()
    gates: tuple[str, ...] = ()  # checks whose failure withdraws the question's other points

    @property
    def hidden_points(self) -> float:
        return sum(case.points for case in self.cases if case.hidden)


@dataclass(frozen=True)
class Manifest:
    assignment: str
    questions: tuple[Question, ...] = field(default_factory=tuple)
    # the libraries the judges import (their suite's ``preload``): a grader's zygote imports
    # them once, so that no grading child pays for them; the build fills it in
    preload: tuple[str, ...] = ()

    def question(self, name: str) -> Question:
        return next(question for question in self.questions if question.name == name)

    def hidden_checks(self) -> list[tuple[str, str, float]]:
        """(question, check, points) of every check judged outside the student's code, in
        notebook order."""
        return [(question.name, case.check, case.points) for question in self.questions
                for case in question.cases if case.check is not None]

    def check_points(self) -> dict[str, tuple[str, float]]:
        """Each hidden check's question and points."""
        return {check: (question, points) for question, check, points in self.hidden_checks()}

    def test_functions(self) -> dict[str, list[str]]:
        """Per question, its test functions without the ``test_`` prefix, in file order: the
        names a person reading the gradebook recognises (Otter calls them "q1 - 1", ...)."""
        return {question.name: [case.function.removeprefix("test_") for case in question.cases]
                for question in self.questions if not question.manual}

    def check_names(self) -> set[str]:
        """What the results call the checks: a hidden check's name, or a test function's without
        ``test_`` (plain Otter tests, and the otter runner's names)."""
        return {name for question in self.questions for case in question.cases
                for name in (case.check, case.function.removeprefix("test_")) if name}

    def refuse_unknown_visibility(self) -> None:
        """grading.toml's ``[visibility]`` names only this assignment's questions and checks
        (``config.ConfigError`` otherwise, naming the file and the entry)."""
        config(self.assignment).refuse_unknown_visibility(
            self.assignment, [question.name for question in self.questions], sorted(self.check_names()))

    def autograded_points(self) -> float:
        return sum(question.points for question in self.questions if not question.manual)

    def with_judges(self, gates: dict[str, list[str]], preload: tuple[str, ...]) -> Manifest:
        """The manifest with what only the judges know: each question's gate checks and the
        libraries they import."""
        return Manifest(self.assignment, tuple(
            Question(q.name, q.points, q.manual, q.cases, tuple(gates.get(q.name, ())))
            for q in self.questions), tuple(preload))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        return cls(data["assignment"], tuple(
            Question(q["name"], float(q["points"]), bool(q["manual"]),
                     tuple(TestCase(**case) for case in q["cases"]), tuple(q.get("gates", ())))
            for q in data["questions"]), tuple(data.get("preload", ())))


def read_manifest(master: Path) -> Manifest:
    """Parse a master notebook (Otter Assign's format): ``# BEGIN QUESTION`` raw cells with a
    YAML header, test cells with a ``BEGIN TEST CONFIG`` header and one test function each."""
    notebook = nbformat.read(master, as_version=4)
    assignment = master.stem
    questions: list[Question] = []
    current: dict[str, Any] | None = None
    cases: list[TestCase] = []
    for number, cell in enumerate(notebook.cells, 1):
        source = cell.source.strip()
        if cell.cell_type == "raw" and source.upper().startswith("# BEGIN QUESTION"):
            current, cases = _question_header(source, master, number), []
        elif cell.cell_type == "raw" and source.upper().startswith("# END QUESTION") and current:
            questions.append(_question(current, cases))
            current = None
        elif current is not None and cell.cell_type == "code" and "BEGIN TEST CONFIG" in source:
            cases.append(_test_case(source, assignment, master, number))
    return Manifest(assignment, tuple(questions))


def _question_header(source: str, master: Path, number: int) -> dict[str, Any]:
    header = yaml.safe_load(source.split("\n", 1)[1]) if "\n" in source else None
    if not isinstance(header, dict) or "name" not in header:
        raise ManifestError(f"{master.name}, cell {number}: a BEGIN QUESTION cell needs a YAML "
                            "header with at least `name:`")
    return header


def _question(header: dict[str, Any], cases: list[TestCase]) -> Question:
    manual = bool(header.get("manual", False))
    points = float(header["points"]) if manual or "points" in header else sum(c.points for c in cases)
    return Question(name=str(header["name"]), points=points, manual=manual, cases=tuple(cases))


def _test_case(source: str, assignment: str, master: Path, number: int) -> TestCase:
    """A test cell: its config (points, hidden), its test function, and the hidden check it
    runs if it is a ``run_check(env, "<assignment>", "<check>")`` cell."""
    where = f"{master.name}, cell {number}"
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ManifestError(f"{where}: the test cell does not parse ({error.msg}, line {error.lineno})") from error
    header = tree.body[0].value if tree.body and isinstance(tree.body[0], ast.Expr) else None
    config_text = header.value if isinstance(header, ast.Constant) and isinstance(header.value, str) else ""
    config = yaml.safe_load(config_text.replace("# BEGIN TEST CONFIG", "").replace("# END TEST CONFIG", "")) or {}
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    if len(functions) != 1 or not functions[0].name.startswith("test_"):
        raise ManifestError(f"{where}: a test cell holds exactly one function named test_…, "
                            f"found {[f.name for f in functions]}")
    return TestCase(function=functions[0].name, points=float(config.get("points", 0) or 0),
                    hidden=bool(config.get("hidden", False)), check=_checked(functions[0], assignment, where))


def _checked(function: ast.FunctionDef, assignment: str, where: str) -> str | None:
    calls = [node for node in ast.walk(function) if isinstance(node, ast.Call)
             and ast.unparse(node.func).endswith("run_check")]
    if not calls:
        return None
    arguments = [arg.value if isinstance(arg, ast.Constant) else None for arg in calls[0].args[1:3]]
    if len(calls) > 1 or len(arguments) != 2 or not all(isinstance(a, str) for a in arguments):
        raise ManifestError(f"{where}: a hidden test is one call run_check(env, \"{assignment}\", "
                            "\"<check name>\") with literal names")
    if arguments[0] != assignment:
        raise ManifestError(f"{where}: run_check names assignment {arguments[0]!r}, but this is {assignment!r}")
    return str(arguments[1])


def master_path(assignment: str) -> Path:
    return assignments_dir() / assignment / f"{assignment}.ipynb"


@functools.cache
def manifest(assignment: str) -> Manifest:
    """The assignment's manifest: the one the build shipped where grading runs from a zip
    (beside its grading.toml), else the master notebook's."""
    shipped = assignments_dir() / assignment / MANIFEST_FILE
    if shipped.is_file():
        return Manifest.from_json(shipped.read_text())
    return read_manifest(master_path(assignment))


def questions(assignment: str) -> tuple[Question, ...]:
    """The questions of ``assignment`` in notebook order."""
    return manifest(assignment).questions


def autograded_points(assignment: str) -> float:
    return manifest(assignment).autograded_points()


def check_points(assignment: str) -> dict[str, tuple[str, float]]:
    """Each hidden check's question and points, as the master notebook's test cells set them."""
    return manifest(assignment).check_points()


def notebook_assignment_name(notebook: nbformat.NotebookNode) -> str | None:
    """The name Otter Assign stamped on a student notebook, if any."""
    otter = notebook.metadata.get("otter", {}) if isinstance(notebook.metadata, dict) else {}
    name = otter.get("assignment_name") if isinstance(otter, dict) else None
    return str(name) if name else None
