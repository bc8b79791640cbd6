"""What every rule shares: the verdicts found so far, the notebook's names, and where a
verdict goes."""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import NamedTuple

from autograder.checks.leakage.events import Call, Listener, Place
from autograder.checks.leakage.messages import describe_data
from autograder.checks.leakage.values import TEST, Anchor, anchor_order
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

    def report_test_inputs(self, call: Call, place: Place, explain: Callable[[str, Anchor | None], str], *,
                           at_call: bool = True) -> None:
        """One verdict per input of ``call`` that carries test data and per call site it came
        through; ``explain(data described, anchor)`` words it; shown on the call's line, or on
        the argument's (``at_call=False``) when the call spans lines."""
        for node, value in call.inputs_carrying(TEST):
            for anchor in sorted({atom.anchor for atom in value.atoms_of(TEST)}, key=anchor_order):
                where = location(call.node if at_call else node, anchor, place)
                self.report(where, explain(describe_data(node, value), anchor))

    def finish(self) -> None:
        """Verdicts that need the whole notebook."""
