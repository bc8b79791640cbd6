"""L4 overlap: test rows end up in training data, by concatenation (``np.vstack``, ``+``,
``np.r_``...), by a slice assignment into a training array, or by storing test data under a
training name."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence

from autograder.checks.leakage import messages
from autograder.checks.leakage.cells import dotted, short_source
from autograder.checks.leakage.events import Call, Place
from autograder.checks.leakage.messages import describe_data
from autograder.checks.leakage.rules.base import Location, Names, Rule, Verdicts, location
from autograder.checks.leakage.values import RESAMPLER, TEST, TRAIN, TRANSFORM, Value, anchor_order
from autograder.checks.leakage.vocabulary import CONCAT_FUNCTIONS, CONCAT_METHODS

Piece = tuple[ast.expr | None, Value]  # an operand as written, and its value


class Overlap(Rule):
    """Mixing is held back until mixed data reaches training or tuning (a model's fit, a
    search, cross-validation): test rows pooled only for a transform to learn from are L5's,
    and pooled only to compute a statistic are not training data (SPEC §5: "mixed into the
    data that training or tuning sees")."""
    code = "L4"

    def __init__(self, verdicts: Verdicts, names: Names):
        super().__init__(verdicts, names)
        self.pending: list[tuple[Location, str]] = []  # mixings seen, reported once training sees mixed data
        self.trained_on_mixed = False

    def report(self, location: Location, explanation: str) -> None:
        self.pending.append((location, explanation))

    def on_fit(self, call: Call, search: bool, place: Place) -> None:
        if not (call.receiver.has(TRANSFORM) or call.receiver.has(RESAMPLER)):
            self.trained_on_mixed |= any(value.has(TEST) and value.has(TRAIN) for value in call.input_values())

    def on_cross_validation(self, call: Call, place: Place) -> None:
        self.trained_on_mixed |= any(value.has(TEST) and value.has(TRAIN) for value in call.input_values())

    def finish(self) -> None:
        if self.trained_on_mixed:
            for where, explanation in self.pending:
                self.verdicts.report(self.code, where, explanation)

    # combining test and training data -------------------------------------------------------------

    def on_binary_operation(self, node: ast.BinOp, left: Value, right: Value, place: Place) -> None:
        if isinstance(node.op, ast.Add):
            self.check_mixing(node, "+", [(node.left, left), (node.right, right)], place)

    def on_augmented_assignment(self, node: ast.AugAssign, current: Value, added: Value, place: Place) -> None:
        if isinstance(node.op, ast.Add):
            self.check_mixing(node, "+=", [(node.target, current), (node.value, added)], place)

    def on_index_mixer(self, node: ast.Subscript, mixer: str, parts: list[Piece], place: Place) -> None:
        self.check_mixing(node, f"np.{mixer}[...]", parts, place)

    def on_library_call(self, call: Call, place: Place) -> None:
        if call.keyword("keys") is not None and call.short == "concat":
            return  # pooled under keys, taken apart by them (library.keyed_concatenation)
        if call.method is None and call.short in CONCAT_FUNCTIONS \
                and (call.short != "append" or isinstance(call.node.func, ast.Attribute)):
            self.check_mixing(call.node, f"{dotted(call.node.func) or call.short}(...)", call.args, place)
        elif call.method in CONCAT_METHODS and call.receiver_node is not None:
            self.check_mixing(call.node, f"{short_source(call.node.func, 40)}(...)",
                              [(call.receiver_node, call.receiver), *call.args], place)

    def check_mixing(self, node: ast.expr | ast.stmt, operation: str, parts: Sequence[Piece], place: Place) -> None:
        pieces = list(_expand_pieces(parts))
        fresh_test = [i for i, (_, value) in enumerate(pieces) if value.has(TEST) and not value.has(TRAIN)]
        training = [i for i, (_, value) in enumerate(pieces) if value.has(TRAIN)]
        for i in fresh_test:
            others = [j for j in training if j != i]
            if others:
                self.report_mixing(node, messages.code(operation), pieces[i], pieces[others[0]], place)
                return

    def report_mixing(self, node: ast.expr | ast.stmt, operation: str, test_piece: Piece, train_piece: Piece,
                      place: Place) -> None:
        test_node, test_value = test_piece
        train_node, train_value = train_piece
        for anchor in sorted({atom.anchor for atom in test_value.atoms_of(TEST)}, key=anchor_order):
            self.report(location(node, anchor, place), messages.mixing(
                operation, describe_data(test_node, test_value), describe_data(train_node, train_value, TRAIN),
                anchor))

    # writing test data into training data ---------------------------------------------------------

    def on_subscript_assignment(self, target: ast.Subscript, value_node: ast.expr | None, value: Value,
                                base: Value, place: Place) -> None:
        if base.has(TRAIN) and value.has(TEST) and not value.has(TRAIN):
            self.report_mixing(target, messages.SLICE_ASSIGNMENT, (value_node, value), (target.value, base), place)

    def on_binding(self, target: ast.Name | ast.Attribute, name: str, value: Value, place: Place) -> None:
        if name not in self.names.train:
            return
        for anchor in sorted({atom.anchor for atom in value.atoms_of(TEST)}, key=anchor_order):
            where = location(target, anchor, place)
            self.verdicts.report(self.code, where, messages.test_into_train(value, name, anchor))


def _expand_pieces(parts: Sequence[Piece]) -> Iterator[Piece]:
    """The elements of a literal list or tuple are operands of their own: ``np.vstack([X_train,
    X_test])`` mixes two pieces, not one."""
    for node, value in parts:
        if value.parts is not None and isinstance(node, (ast.List, ast.Tuple)) \
                and len(node.elts) == len(value.parts):
            yield from zip(node.elts, value.parts)
        elif value.parts is not None:
            yield from ((node, part) for part in value.parts)
        else:
            yield node, value
