"""What an assignment asks: its questions, in order, with their points.

The master notebook is the one source: Otter Assign reads the same ``# BEGIN QUESTION``
cells and test configs, so the gradebook's columns and the points it shows cannot drift
from what students were given.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

from autograder.config import assignments_dir

_POINTS = re.compile(r"^\s*points:\s*([0-9.]+)\s*$", re.MULTILINE)
_HIDDEN = re.compile(r"^\s*hidden:\s*true\s*$", re.MULTILINE | re.IGNORECASE)
_RUN_CHECK = re.compile(r"run_check\(\s*env\s*,\s*[\"'](\w+)[\"']\s*,\s*[\"'](\w+)[\"']\s*\)")


@dataclass(frozen=True)
class Question:
    name: str
    points: float
    manual: bool
    hidden_points: float = 0.0


@functools.cache
def questions(assignment: str) -> tuple[Question, ...]:
    """The questions of ``assignment`` in notebook order."""
    return tuple(read_questions(assignments_dir() / assignment / f"{assignment}.ipynb"))


def read_questions(master: Path) -> list[Question]:
    notebook = nbformat.read(master, as_version=4)
    found: list[Question] = []
    current: dict | None = None
    case_points: list[tuple[float, bool]] = []
    for cell in notebook.cells:
        source = cell.source.strip()
        if cell.cell_type == "raw" and source.upper().startswith("# BEGIN QUESTION"):
            current, case_points = yaml.safe_load(source.split("\n", 1)[1]) or {}, []
        elif cell.cell_type == "raw" and source.upper().startswith("# END QUESTION") and current:
            found.append(_question(current, case_points))
            current = None
        elif current is not None and cell.cell_type == "code" and "BEGIN TEST CONFIG" in source:
            match = _POINTS.search(source)
            case_points.append((float(match.group(1)) if match else 0.0, bool(_HIDDEN.search(source))))
    return found


def _question(config: dict, case_points: list[tuple[float, bool]]) -> Question:
    manual = bool(config.get("manual", False))
    points = float(config["points"]) if manual or "points" in config else sum(p for p, _ in case_points)
    return Question(name=str(config["name"]), points=points, manual=manual,
                    hidden_points=sum(p for p, hidden in case_points if hidden))


def autograded_points(assignment: str) -> float:
    return sum(q.points for q in questions(assignment) if not q.manual)


def notebook_assignment_name(notebook: nbformat.NotebookNode) -> str | None:
    """The name Otter Assign stamped on a student notebook, if any."""
    otter = notebook.metadata.get("otter", {}) if isinstance(notebook.metadata, dict) else {}
    name = otter.get("assignment_name") if isinstance(otter, dict) else None
    return str(name) if name else None


@functools.cache
def check_points(assignment: str) -> dict[str, tuple[str, float]]:
    """Each hidden check's question and points, as the master notebook's test cells set them."""
    notebook = nbformat.read(assignments_dir() / assignment / f"{assignment}.ipynb", as_version=4)
    found: dict[str, tuple[str, float]] = {}
    question = ""
    for cell in notebook.cells:
        source = cell.source.strip()
        if cell.cell_type == "raw" and source.upper().startswith("# BEGIN QUESTION"):
            question = str((yaml.safe_load(source.split("\n", 1)[1]) or {}).get("name", ""))
        call = _RUN_CHECK.search(source) if cell.cell_type == "code" else None
        if call and call.group(1) == assignment:
            points = _POINTS.search(source)
            found[call.group(2)] = (question, float(points.group(1)) if points else 0.0)
    return found
