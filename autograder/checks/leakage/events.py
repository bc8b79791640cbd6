"""What the interpreter tells the rules as it goes.

The interpreter knows Python (what a value holds, which model a name denotes, whether code
runs once per candidate); the rules know the course (what counts as a leak, and how to say
so). They meet here: the interpreter reports each construct a rule may care about (a fit, an
evaluation, a branch, a concatenation, a binding...) with the values that reached it, to a
:class:`Listener`, and the rules decide. A new rule (``rules.base.Rule``, a listener) handles
the events it needs; the interpreter does not change.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import NamedTuple

from autograder.checks.leakage.scopes import Frame, Function
from autograder.checks.leakage.values import Anchor, Value


@dataclass
class Call:
    """A call, its callee and arguments already evaluated."""
    node: ast.Call
    name: str                    # dotted, resolved through imports: "numpy.vstack", "model.fit"
    short: str                   # last part of the name
    method: str | None           # the attribute when called on a value rather than a module
    receiver_node: ast.expr | None
    receiver: Value
    callee: Value                # the called value itself (user functions, classes, models)
    args: list[tuple[ast.expr, Value]]
    keywords: list[tuple[str | None, ast.expr, Value]]

    def inputs(self) -> list[tuple[ast.expr, Value]]:
        return [*self.args, *((node, value) for _, node, value in self.keywords)]

    def input_values(self) -> list[Value]:
        return [value for _, value in self.inputs()]

    def inputs_carrying(self, kind: str) -> list[tuple[ast.expr, Value]]:
        return [(node, value) for node, value in self.inputs() if value.has(kind)]

    def keyword(self, name: str) -> tuple[ast.expr, Value] | None:
        return next(((node, value) for key, node, value in self.keywords if key == name), None)


class Place(NamedTuple):
    """Where the interpreter is when it reports an event: the cell whose code runs, and the
    frame. Read it during the event: the frame's loops change as the interpretation goes on."""
    cell: int
    frame: Frame

    @property
    def in_loop(self) -> bool:
        """Inside a loop, comprehension or inline lambda of the code being run."""
        return bool(self.frame.loops)

    @property
    def function(self) -> str | None:
        """The user function being run, if any."""
        function = self.frame.owner.function
        return None if function is None else function.name

    @property
    def standalone(self) -> bool:
        """Code analysed on its own, not because the notebook calls it: it does not run as such."""
        return self.frame.standalone

    @property
    def activation(self) -> Frame:
        """The module or the one call of a function this code runs in (comprehensions belong
        to it), as an identity: a rule may remember what happened during an activation."""
        return self.frame.owner


class Evaluation(NamedTuple):
    """A model evaluated (``score``, ``predict``, a metric on raw data...) on test data."""
    call: Call
    receiver_node: ast.expr | None      # the model as written
    identity: frozenset[str]            # which model(s) it is: tells candidates apart
    tested: list[tuple[ast.expr, Value]]  # the inputs that carry test data
    anchors: list[Anchor | None]        # the call sites the test data came through, in order
    candidates: bool                    # a different model may be evaluated on each pass / call


class Listener:
    """The events, each a no-op here: a rule overrides the ones it needs."""

    # calls to libraries
    def on_fit(self, call: Call, search: bool, place: Place) -> None:
        """A ``fit``-like call (``search``: a hyper-parameter search's) with its inputs."""

    def on_cross_validation(self, call: Call, place: Place) -> None:
        """``cross_val_score`` and kin: train and score several models on their inputs."""

    def on_evaluation(self, evaluation: Evaluation, place: Place) -> None:
        """A model evaluated on test data."""

    def on_split(self, call: Call, makes_test: bool, place: Place) -> None:
        """``train_test_split`` and kin: rows dealt out to two sides; ``makes_test``: one of them
        is the test set (a split of the whole data, or assigned to test names)."""

    def on_library_call(self, call: Call, place: Place) -> None:
        """Any other library call (``max``, ``np.vstack``, ``EarlyStopping(...)``...)."""

    # choices
    def on_if(self, node: ast.If, condition: Value, place: Place) -> None:
        """An ``if`` statement, its condition evaluated."""

    def on_while(self, node: ast.While, condition: Value, place: Place) -> None:
        """A ``while`` loop's condition, evaluated at the start of each pass."""

    def on_conditional_expression(self, node: ast.IfExp, condition: Value, place: Place) -> None:
        """``a if condition else b``."""

    def on_comprehension_filter(self, node: ast.expr, condition: Value, place: Place) -> None:
        """The ``if`` of a comprehension."""

    def on_comparison(self, node: ast.Compare, operands: list[Value], result: Value, in_condition: bool,
                      place: Place) -> None:
        """A comparison; ``in_condition``: part of an ``if``/``while``/... condition, which is
        reported with its statement."""

    # combining data
    def on_binary_operation(self, node: ast.BinOp, left: Value, right: Value, place: Place) -> None:
        """``left <op> right``."""

    def on_augmented_assignment(self, node: ast.AugAssign, current: Value, added: Value, place: Place) -> None:
        """``target <op>= value``."""

    def on_index_mixer(self, node: ast.Subscript, mixer: str, parts: list[tuple[ast.expr | None, Value]],
                       place: Place) -> None:
        """``np.r_[a, b]`` / ``np.c_[a, b]`` (``mixer``: "r_" or "c_"): its pieces stacked into one array."""

    def on_subscript_assignment(self, target: ast.Subscript, value_node: ast.expr | None, value: Value,
                                base: Value, place: Place) -> None:
        """``base[index] = value`` (not a string key: that is a dict entry)."""

    def on_binding(self, target: ast.Name | ast.Attribute, name: str, value: Value, place: Place) -> None:
        """A value stored under a name or attribute (``X_train = ...``, ``self.X_train = ...``)."""

    # functions
    def on_return(self, function: Function, returns: list[tuple[int, Value]], place: Place) -> None:
        """A user function's call ended; ``returns``: (line, value) of each ``return``/``yield``."""
