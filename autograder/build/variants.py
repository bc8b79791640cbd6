"""Known-wrong and correct-style submissions, made from the solutions notebook by small
declared edits.

Each known-wrong one is the reference solution with one mistake a student really makes
(ReLU forgotten, bias not counted, tuning scored on the test set); each correct-style one is
the solution written another correct way a student may choose (early stopping in the final
refit), which must keep full marks: a judge stricter than the question is a false fail.
Declaring them as edits in ``solutions/<assignment>/known_wrong.toml`` and
``correct_styles.toml`` instead of storing whole notebooks keeps them in step with the
master notebook: an edit whose text no longer matches fails the build, instead of silently
testing yesterday's notebook.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.config import PACKAGE_DIR

SOLUTIONS_DIR = PACKAGE_DIR.parent / "solutions"


@dataclass(frozen=True)
class Edit:
    find: str
    replace: str


@dataclass(frozen=True)
class KnownWrong:
    name: str
    question: str                 # the only question that may lose points
    mistake: str                  # what a student did, in a phrase
    edits: tuple[Edit, ...]
    failing: tuple[str, ...] = () # checks that must fail
    message: str = ""             # a phrase the feedback must contain


class VariantError(ValueError):
    """An edit does not apply to the solutions notebook."""


@dataclass(frozen=True)
class CorrectStyle:
    name: str
    style: str                    # how it differs from the reference, in a phrase
    edits: tuple[Edit, ...]


def _entries(assignment: str, file_name: str) -> list[dict]:
    path = SOLUTIONS_DIR / assignment / file_name
    return tomllib.loads(path.read_text()).get("submission", []) if path.is_file() else []


def _edits(entry: dict) -> tuple[Edit, ...]:
    return tuple(Edit(x["find"], x["replace"]) for x in entry["edit"])


def known_wrong(assignment: str) -> list[KnownWrong]:
    return [KnownWrong(name=e["name"], question=e["question"], mistake=e["mistake"], edits=_edits(e),
                       failing=tuple(e.get("failing", ())), message=e.get("message", ""))
            for e in _entries(assignment, "known_wrong.toml")]


def correct_styles(assignment: str) -> list[CorrectStyle]:
    return [CorrectStyle(name=e["name"], style=e["style"], edits=_edits(e))
            for e in _entries(assignment, "correct_styles.toml")]


def apply_edits(notebook: nbformat.NotebookNode, edits: tuple[Edit, ...], label: str) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with each ``find`` (present exactly once) replaced."""
    copy = nbformat.from_dict(notebook)
    for edit in edits:
        hits = [cell for cell in copy.cells if cell.cell_type == "code" and edit.find in cell.source]
        total = sum(cell.source.count(edit.find) for cell in hits)
        if total != 1:
            raise VariantError(f"{label}: the text {edit.find!r} occurs {total} times in the code of the "
                               "solutions notebook; an edit must match exactly once")
        hits[0].source = hits[0].source.replace(edit.find, edit.replace)
    return copy


def write_variants(variants: list[KnownWrong] | list[CorrectStyle], solutions_notebook: Path,
                   out_dir: Path) -> list[Path]:
    """Write one notebook per variant (known-wrong or correct-style) into ``out_dir``."""
    reference = nbformat.read(solutions_notebook, as_version=4)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for variant in variants:
        path = out_dir / f"{variant.name}.ipynb"
        nbformat.write(apply_edits(reference, variant.edits, variant.name), path)
        written.append(path)
    return written


def write_known_wrong(assignment: str, solutions_notebook: Path, out_dir: Path) -> list[Path]:
    return write_variants(known_wrong(assignment), solutions_notebook, out_dir)
