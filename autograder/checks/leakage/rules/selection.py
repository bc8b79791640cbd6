"""L3 selection on test: a choice (``max``, ``sorted``, ``if``, a comparison...) depends on
test-set results.

A tuning function that hands back test results makes its caller choose on them. The choice
is usually visible (``max``, ``if``) and reported there; the verdict on the ``return`` is
kept only if no such choice is found anywhere.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from weakref import WeakSet

from autograder.checks.leakage import messages
from autograder.checks.leakage.cells import dotted
from autograder.checks.leakage.events import Call, Place
from autograder.checks.leakage.rules.base import Location, Names, Rule, Verdicts, location
from autograder.checks.leakage.scopes import Frame, Function
from autograder.checks.leakage.values import SCORE, Value, anchor_order, mix
from autograder.checks.leakage.vocabulary import (
    REPORTING_CALLS,
    REPORTING_MODULES,
    SELECTION_FUNCTIONS,
    SELECTION_METHODS,
)


class SelectionOnTest(Rule):
    code = "L3"

    def __init__(self, verdicts: Verdicts, names: Names):
        super().__init__(verdicts, names)
        self.selection_origins: set[str] = set()      # the test results some choice was reported on
        self.choosing: WeakSet[Frame] = WeakSet()     # activations in which such a choice was made
        self.pending_returns: list[tuple[Location, str, frozenset[str]]] = []

    # the choices ---------------------------------------------------------------------------------

    def on_fit(self, call: Call, search: bool, place: Place) -> None:
        """A search fitted on test data chooses its best candidate by their test scores."""
        if search:
            self.report_test_inputs(call, place,
                                    lambda data, anchor: messages.search_chooses_on_test(call, data, anchor))

    def on_if(self, node: ast.If, condition: Value, place: Place) -> None:
        if condition.has(SCORE) and not _asks_only_whether_set(node.test) \
                and not (_is_reporting_only(node.body) and _is_reporting_only(node.orelse)):
            self.report_selection(node, condition, "`if` statement", node.test, place)

    def on_while(self, node: ast.While, condition: Value, place: Place) -> None:
        if condition.has(SCORE) and not _asks_only_whether_set(node.test):
            self.report_selection(node, condition, "`while` loop", node.test, place)

    def on_conditional_expression(self, node: ast.IfExp, condition: Value, place: Place) -> None:
        # `"good" if acc > 0.9 else "poor"` labels a result; `20 if acc < 0.98 else 5` sets a setting
        labels = all((isinstance(branch, ast.Constant) and not isinstance(branch.value, (int, float)))
                     or (isinstance(branch, ast.Constant) and isinstance(branch.value, bool))
                     for branch in (node.body, node.orelse))
        if condition.has(SCORE) and not labels and not _asks_only_whether_set(node.test):
            self.report_selection(node, condition, "conditional expression", node.test, place)

    def on_comprehension_filter(self, node: ast.expr, condition: Value, place: Place) -> None:
        if condition.has(SCORE):
            self.report_selection(node, condition, "comprehension filter", node, place)

    def on_comparison(self, node: ast.Compare, operands: list[Value], result: Value, in_condition: bool,
                      place: Place) -> None:
        """``acc > best_acc``: two test results ordered, outside a condition (there the
        statement owning the condition is the choice)."""
        ordering = any(isinstance(op, (ast.Lt, ast.Gt, ast.LtE, ast.GtE)) for op in node.ops)
        scored_sides = sum(value.has(SCORE) for value in operands)
        if ordering and not in_condition and scored_sides >= 2:
            self.report_selection(node, result, "comparison", node, place)

    def on_library_call(self, call: Call, place: Place) -> None:
        chooses = call.method in SELECTION_METHODS if call.method else call.short in SELECTION_FUNCTIONS
        if not chooses:
            return
        candidates = [call.receiver, *(value for _, value in call.args),
                      *(value for key, _, value in call.keywords if key in ("key", "by"))]
        merged = mix(*candidates)
        if merged.has(SCORE):
            self.report_selection(call.node, merged, "call", call.node, place)

    def report_selection(self, node: ast.expr | ast.stmt, value: Value, construct: str, shown: ast.AST,
                         place: Place) -> None:
        scores = value.atoms_of(SCORE)
        self.selection_origins.update(atom.origin for atom in scores)
        self.choosing.add(place.activation)
        for anchor in sorted({atom.anchor for atom in scores}, key=anchor_order):
            through = [atom for atom in scores if atom.anchor == anchor]
            self.report(location(node, anchor, place), messages.selection(construct, shown, through, anchor))

    # tuning functions that return test results --------------------------------------------------

    def on_return(self, function: Function, returns: list[tuple[int, Value]], place: Place) -> None:
        if not function.tunes or place.activation in self.choosing:
            return
        for line, value in returns:
            scores = [atom for atom in value.atoms_of(SCORE) if atom.anchor is None]
            if scores:
                self.pending_returns.append(((place.cell, line), messages.tuning_returns_test_results(
                    function.name, scores), frozenset(atom.origin for atom in scores)))
                return

    def finish(self) -> None:
        for where, explanation, origins in self.pending_returns:
            if origins.isdisjoint(self.selection_origins):
                self.report(where, explanation)


def _asks_only_whether_set(test: ast.expr) -> bool:
    """``x is ...``, ``x is None``, ``x is not None`` (and ``not``, ``and``, ``or`` of them): whether
    a result exists yet, as the starter's "not answered yet" check asks, never what it is. A
    branch on that chooses nothing by the score, whatever the student put in it."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _asks_only_whether_set(test.operand)
    if isinstance(test, ast.BoolOp):
        return all(_asks_only_whether_set(value) for value in test.values)
    return (isinstance(test, ast.Compare) and all(isinstance(op, (ast.Is, ast.IsNot)) for op in test.ops)
            and all(isinstance(side, ast.Constant) and (side.value is None or side.value is Ellipsis)
                    for side in test.comparators))


def _is_reporting_only(statements: Sequence[ast.stmt]) -> bool:
    """A branch that only prints, plots, asserts, raises or words a message chooses nothing."""
    for statement in statements:
        if isinstance(statement, (ast.Pass, ast.Assert, ast.Raise)):
            continue
        if isinstance(statement, ast.Assign) and isinstance(statement.value, (ast.Constant, ast.JoinedStr)):
            continue
        if isinstance(statement, ast.Expr) and (isinstance(statement.value, ast.Constant)
                                                or _is_reporting_call(statement.value)):
            continue
        if isinstance(statement, ast.If) and _is_reporting_only(statement.body) \
                and _is_reporting_only(statement.orelse):
            continue
        return False
    return True


def _is_reporting_call(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = dotted(node.func) or ""
    return name.split(".")[-1] in REPORTING_CALLS or name.split(".")[0] in REPORTING_MODULES
