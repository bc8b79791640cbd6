"""What every rule shares: the verdicts found so far, the notebook's names, and where a
verdict goes."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import NamedTuple

from autograder.checks.leakage.events import Listener, Place
from autograder.checks.leakage.values import Anchor
from autograder.checks.leakage.verdict import Leak

Location = tuple[int, int]  # (0-based cell, 1-based line)


class Names(NamedTuple):
    """What the notebook calls its data sets, and the models other questions ask the student
    to score once on the test set."""
    test: tuple[str, ...]
    train: tuple[str, ...]
    reported_models: frozenset[str]


class Verdicts:
    """The leaks found so far: one per rule and line, the first explanation found kept."""

    def __init__(self, sources: Sequence[str | None]):
        self.lines = [source.splitlines() if source else [] for source in sources]
        self.leaks: dict[tuple[str, int, int], Leak] = {}

    def report(self, rule: str, location: Location, explanation: str) -> None:
        key = (rule, *location)
        if key not in self.leaks:
            self.leaks[key] = Leak(rule, location[0], location[1], self.code_at(location), explanation)

    def code_at(self, location: Location) -> str:
        cell, line = location
        lines = self.lines[cell] if 0 <= cell < len(self.lines) else []
        return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def location(node: ast.expr | ast.stmt, anchor: Anchor | None, place: Place) -> Location:
    """A leak inside a helper is shown on the line that handed the test data to it; test data
    the helper read itself is shown where it is used."""
    return (anchor.cell, anchor.line) if anchor is not None else (place.cell, node.lineno)


class Rule(Listener):
    """One rule: handles the interpreter's events it needs and reports to the verdicts;
    ``finish`` runs once the whole notebook has been interpreted."""
    code = ""  # "L1" ... "L4"

    def __init__(self, verdicts: Verdicts, names: Names):
        self.verdicts = verdicts
        self.names = names

    def report(self, location: Location, explanation: str) -> None:
        self.verdicts.report(self.code, location, explanation)

    def finish(self) -> None:
        """Verdicts that need the whole notebook."""
