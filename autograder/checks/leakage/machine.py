"""The interpreter as its collaborators see it.

``interpreter.Interpreter`` (the driver, statements, assignment) shares its work with
``expressions.Expressions``, ``calls.Calls`` and ``library.Library``: each is built with the
interpreter and calls back into it (an expression holds a call, a call runs a body of
statements, a library call reads a member). They depend on this description of it, not on
the interpreter's module, so the imports run one way only: ``interpreter`` imports the three
collaborators and this module; they import this module, never ``interpreter`` (no import
cycle, ``tests/test_import_graph.py``). ``Interpreter`` satisfies :class:`Machine`
structurally, which the type checker verifies where it hands itself to each collaborator.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Protocol

from autograder.checks.leakage.events import Call, Listener, Place
from autograder.checks.leakage.scopes import Frame, Scopes
from autograder.checks.leakage.values import Anchor, Value


class ExpressionEvaluator(Protocol):
    """What the others ask of ``expressions.Expressions``."""

    def eval(self, node: ast.AST | None) -> Value: ...

    def eval_inline_lambda(self, node: ast.Lambda, element: Value) -> Value: ...

    def read_member(self, base: Value, key: str) -> Value: ...


class UserCode(Protocol):
    """What the others ask of ``calls.Calls``: calls, and the functions a lambda defines."""

    def call(self, node: ast.Call) -> Value: ...

    def define_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, name: str) -> Value: ...


class LibraryCalls(Protocol):
    """What the others ask of ``library.Library``: the meaning of a call that is not user code."""

    def call(self, call: Call) -> Value: ...


class Machine(Protocol):
    """The state the interpreter shares and the operations it lends its collaborators."""

    scopes: Scopes
    listener: Listener
    test_names: tuple[str, ...]
    train_names: tuple[str, ...]
    module: Frame
    cell: int                           # the cell whose code runs (a function body runs in its own)
    condition_depth: int                # > 0 while a condition is evaluated
    active_calls: list[str]             # the user functions being run, outermost first
    call_chain: list[Anchor | None]     # and the call sites that entered them
    assign_targets: frozenset[str]      # the names the statement being run assigns

    @property
    def frame(self) -> Frame: ...

    @frame.setter
    def frame(self, frame: Frame) -> None: ...

    @property
    def expressions(self) -> ExpressionEvaluator: ...

    @property
    def calls(self) -> UserCode: ...

    @property
    def library(self) -> LibraryCalls: ...

    def place(self) -> Place: ...

    def eval(self, node: ast.AST | None) -> Value: ...

    def exec_block(self, statements: Sequence[ast.stmt]) -> None: ...

    def source_value(self, name: str) -> Value: ...

    def allocation_id(self, node: ast.expr) -> str: ...

    def assign(self, target: ast.expr, value: Value, value_node: ast.expr | None,
               dataset_unpacking: bool = False) -> None: ...

    def store_into(self, node: ast.expr | None, value: Value) -> None: ...
