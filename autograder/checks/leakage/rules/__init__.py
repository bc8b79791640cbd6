"""The five rules, one module each (L4's oversampling before a split beside L5, whose
machinery it shares), and :class:`Rules`, which hands every event of the
interpreter to each of them and collects their verdicts.

A rule is a :class:`~autograder.checks.leakage.rules.base.Rule`: it handles the events it
needs and reports leaks; what it says is in ``messages``. Adding a rule is adding a module
here and an instance of it to ``Rules.rules``.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Sequence

from autograder.checks.leakage import messages
from autograder.checks.leakage.events import Call, Evaluation, Listener, Place
from autograder.checks.leakage.rules.base import Names, Rule, Verdicts
from autograder.checks.leakage.rules.multi_test import MultiTest
from autograder.checks.leakage.rules.overlap import Overlap
from autograder.checks.leakage.rules.preprocessing import OversamplingBeforeSplit, Preprocessing
from autograder.checks.leakage.rules.selection import SelectionOnTest
from autograder.checks.leakage.rules.training import TrainingOnTest
from autograder.checks.leakage.scopes import Function
from autograder.checks.leakage.values import Value
from autograder.checks.leakage.verdict import Leak

__all__ = ["Names", "Rules"]


class Rules(Listener):
    """Every rule, as one listener."""

    def __init__(self, sources: Sequence[str | None], names: Names):
        self.verdicts = Verdicts(sources)
        self.multi_test = MultiTest(self.verdicts, names)  # it also knows which model is the final one
        self.rules: list[Rule] = [self.multi_test, TrainingOnTest(self.verdicts, names),
                                  SelectionOnTest(self.verdicts, names), Overlap(self.verdicts, names),
                                  Preprocessing(self.verdicts, names), OversamplingBeforeSplit(self.verdicts, names)]

    def finish(self) -> list[Leak]:
        """The leaks sorted by (cell, line, rule), one per rule and line."""
        for rule in self.rules:
            rule.finish()
        final = self.multi_test.final_model()
        preprocessing = {(leak.cell, leak.line) for leak in self.verdicts.leaks.values() if leak.rule == "L5"}
        # test rows pooled only for a transform to learn from (`scaler.fit(np.vstack([X_train, X_test]))`):
        # the transform's L5, not an overlap of training data
        leaks = [self.name_the_final_model(leak, final) for leak in self.verdicts.leaks.values()
                 if not (leak.rule == "L4" and (leak.cell, leak.line) in preprocessing)]
        return sorted(leaks, key=lambda leak: (leak.cell, leak.line, leak.rule))

    @staticmethod
    def name_the_final_model(leak: Leak, final: str | None) -> Leak:
        if final is None or messages.FINAL_MODEL_ADVICE not in leak.explanation:
            return leak
        return dataclasses.replace(leak, explanation=messages.name_final_model(leak.explanation, final))

    # the events, to every rule ----------------------------------------------------------------------

    def on_fit(self, call: Call, search: bool, place: Place) -> None:
        for rule in self.rules:
            rule.on_fit(call, search, place)

    def on_cross_validation(self, call: Call, place: Place) -> None:
        for rule in self.rules:
            rule.on_cross_validation(call, place)

    def on_evaluation(self, evaluation: Evaluation, place: Place) -> None:
        for rule in self.rules:
            rule.on_evaluation(evaluation, place)

    def on_split(self, call: Call, makes_test: bool, place: Place) -> None:
        for rule in self.rules:
            rule.on_split(call, makes_test, place)

    def on_library_call(self, call: Call, place: Place) -> None:
        for rule in self.rules:
            rule.on_library_call(call, place)

    def on_if(self, node: ast.If, condition: Value, place: Place) -> None:
        for rule in self.rules:
            rule.on_if(node, condition, place)

    def on_while(self, node: ast.While, condition: Value, place: Place) -> None:
        for rule in self.rules:
            rule.on_while(node, condition, place)

    def on_conditional_expression(self, node: ast.IfExp, condition: Value, place: Place) -> None:
        for rule in self.rules:
            rule.on_conditional_expression(node, condition, place)

    def on_comprehension_filter(self, node: ast.expr, condition: Value, place: Place) -> None:
        for rule in self.rules:
            rule.on_comprehension_filter(node, condition, place)

    def on_comparison(self, node: ast.Compare, operands: list[Value], result: Value, in_condition: bool,
                      place: Place) -> None:
        for rule in self.rules:
            rule.on_comparison(node, operands, result, in_condition, place)

    def on_binary_operation(self, node: ast.BinOp, left: Value, right: Value, place: Place) -> None:
        for rule in self.rules:
            rule.on_binary_operation(node, left, right, place)

    def on_augmented_assignment(self, node: ast.AugAssign, current: Value, added: Value, place: Place) -> None:
        for rule in self.rules:
            rule.on_augmented_assignment(node, current, added, place)

    def on_index_mixer(self, node: ast.Subscript, mixer: str, parts: list[tuple[ast.expr | None, Value]],
                       place: Place) -> None:
        for rule in self.rules:
            rule.on_index_mixer(node, mixer, parts, place)

    def on_subscript_assignment(self, target: ast.Subscript, value_node: ast.expr | None, value: Value,
                                base: Value, place: Place) -> None:
        for rule in self.rules:
            rule.on_subscript_assignment(target, value_node, value, base, place)

    def on_binding(self, target: ast.Name | ast.Attribute, name: str, value: Value, place: Place) -> None:
        for rule in self.rules:
            rule.on_binding(target, name, value, place)

    def on_return(self, function: Function, returns: list[tuple[int, Value]], place: Place) -> None:
        for rule in self.rules:
            rule.on_return(function, returns, place)
