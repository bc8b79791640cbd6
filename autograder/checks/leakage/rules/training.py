"""L2 training on test: test data reaches training, as fitted data, as validation data that
steers training (``validation_data=``, early stopping), or inside a callback."""

from __future__ import annotations

import ast

from autograder.checks.leakage import messages
from autograder.checks.leakage.events import Call, Place
from autograder.checks.leakage.messages import describe_data
from autograder.checks.leakage.rules.base import Rule, location
from autograder.checks.leakage.values import RESAMPLER, TEST, TRANSFORM, Value, anchor_order
from autograder.checks.leakage.vocabulary import VALIDATION_KEYWORDS


class TrainingOnTest(Rule):
    code = "L2"

    def on_fit(self, call: Call, search: bool, place: Place) -> None:
        if call.receiver.has(TRANSFORM) or call.receiver.has(RESAMPLER):
            return  # a transform or an oversampler learning from test rows: L5 / L4
        for node, value in call.inputs_carrying(TEST):
            self.report_training(call, node, value, place)

    def on_cross_validation(self, call: Call, place: Place) -> None:
        for node, value in call.inputs_carrying(TEST):
            self.report_training(call, node, value, place)

    def on_library_call(self, call: Call, place: Place) -> None:
        """Validation data given to anything else (a tuner, a callback's constructor...), the
        keywords taken in the order written, as ``on_fit`` takes its inputs."""
        for key, node, value in call.keywords:
            if key in VALIDATION_KEYWORDS and value.has(TEST):
                self.report_training(call, node, value, place)

    def report_training(self, call: Call, node: ast.expr, value: Value, place: Place) -> None:
        keyword = next((key for key, kw_node, _ in call.keywords if kw_node is node), None)
        for anchor in sorted({atom.anchor for atom in value.atoms_of(TEST)}, key=anchor_order):
            data = describe_data(node, value)
            if keyword in VALIDATION_KEYWORDS:
                text = messages.validation_keyword_on_test(keyword, data, anchor)
            elif keyword == "callbacks":
                text = messages.callback_on_test(call, data, anchor)
            else:
                text = messages.trained_on_test(call, data, anchor, self.names.train)
            self.report(location(node, anchor, place), text)  # the argument's line, if split
