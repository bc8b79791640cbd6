"""L5 preprocessing: a transform learned from data (a scaler, PCA, an imputer, an encoder,
feature selection, a vocabulary) is fitted on data that holds test rows: test data itself, or
the whole data set that a split deals out only afterwards. Oversampling (SMOTE) done the same
way copies rows to both sides of the split, which SPEC §5 counts as L4 overlap: it is
:class:`OversamplingBeforeSplit`, here because it shares the machinery.

Fitted before the split is seen two ways: the transform's output carries a ``PREFIT`` mark
into the split (``X = scaler.fit_transform(X)``, then ``train_test_split(X, ...)``), or the very
variable it was fitted on is split (``scaler.fit(X)``, then ``train_test_split(X, ...)``).
"""

from __future__ import annotations

import ast

from autograder.checks.leakage import messages
from autograder.checks.leakage.cells import short_source
from autograder.checks.leakage.events import Call, Place
from autograder.checks.leakage.rules.base import Location, Names, Rule, Verdicts
from autograder.checks.leakage.values import PREFIT, RESAMPLER, STATISTIC, TEST, TRANSFORM


class _FittedBeforeSplit(Rule):
    """What both rules share: fits of their kind of learner on test data, and before a split."""
    learner = TRANSFORM        # the mark on the fitted object
    hows: tuple[str, ...] = ("transform",)  # the PREFIT origins' prefixes this rule reports

    def __init__(self, verdicts: Verdicts, names: Names):
        super().__init__(verdicts, names)
        self.fitted_whole: dict[str, tuple[Location, str]] = {}  # variable -> where it was fitted on

    def on_fit(self, call: Call, search: bool, place: Place) -> None:
        if not call.receiver.has(self.learner):
            self.check_statistics(call)
            return
        self.report_test_inputs(call, place, lambda data, anchor: self.on_test(call, data, anchor), at_call=False)
        if not any(value.has(TEST) for value in call.input_values()):
            for node, _ in call.args[:1]:
                if isinstance(node, ast.Name):
                    self.fitted_whole[node.id] = ((place.cell, call.node.lineno), short_source(call.node, 80))

    def on_split(self, call: Call, makes_test: bool, place: Place) -> None:
        if not makes_test:
            return  # a validation split of training data: the test set is elsewhere
        split = short_source(call.node, 60)
        for node, value in call.args:
            for atom in value.atoms_of(PREFIT):
                how, cell_text, line_text, fitted = atom.origin.split(":", 3)
                if how in self.hows:
                    self.report_prefit(how, fitted, int(cell_text), int(line_text), split)
            if isinstance(node, ast.Name) and node.id in self.fitted_whole:
                (cell, line), fitted = self.fitted_whole[node.id]
                self.report((cell, line), self.before_split(fitted, cell, line, split))

    def report_prefit(self, how: str, fitted: str, cell: int, line: int, split: str) -> None:
        self.report((cell, line), self.before_split(fitted, cell, line, split))

    def check_statistics(self, call: Call) -> None:
        """Hand-made preprocessing: training data shaped by a statistic of test rows."""

    def on_test(self, call: Call, data: str, anchor) -> str:
        raise NotImplementedError

    def before_split(self, fitted: str, cell: int, line: int, split: str) -> str:
        raise NotImplementedError


class Preprocessing(_FittedBeforeSplit):
    code = "L5"

    def check_statistics(self, call: Call) -> None:
        """``mean = np.concatenate([x_train, x_test]).mean()`` then ``(x_train - mean) / std``
        trained on: the mean was learned on test rows, by hand. (A test set scaled by its own
        maximum and only evaluated is left alone.)"""
        for _, value in call.inputs_carrying(STATISTIC):
            for atom in value.atoms_of(STATISTIC):
                cell, line, code = atom.origin.split(":", 2)
                self.report((int(cell), int(line)), messages.statistic_of_test_rows(code, int(cell), int(line), call))

    def on_test(self, call: Call, data: str, anchor) -> str:
        return messages.transform_fitted_on_test(call, data, anchor)

    def before_split(self, fitted: str, cell: int, line: int, split: str) -> str:
        return messages.transform_fitted_before_split(fitted, cell, line, split)


class OversamplingBeforeSplit(_FittedBeforeSplit):
    code = "L4"
    learner = RESAMPLER
    hows = ("resample", "augment")  # augmented copies stacked with their originals, too

    def on_test(self, call: Call, data: str, anchor) -> str:
        return messages.resampled_on_test(call, data, anchor)

    def before_split(self, fitted: str, cell: int, line: int, split: str) -> str:
        return messages.resampled_before_split(fitted, cell, line, split)

    def report_prefit(self, how: str, fitted: str, cell: int, line: int, split: str) -> None:
        text = (messages.augmented_before_split(fitted, cell, line, split) if how == "augment"
                else self.before_split(fitted, cell, line, split))
        self.report((cell, line), text)
