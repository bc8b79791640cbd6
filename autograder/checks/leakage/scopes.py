"""Where names live while a notebook is interpreted.

A :class:`Frame` is the module, one call of a user function, or the short-lived scope of a
comprehension or inline lambda (an *overlay*). :class:`Scopes` holds the current frame and the
module's import tables, and resolves names as Python does: locals, enclosing functions,
``global`` declarations, the module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from autograder.checks.leakage.cells import bound_names, contains_call, contains_loop, declared, dotted, reference_keys
from autograder.checks.leakage.values import EMPTY, Value, join
from autograder.checks.leakage.vocabulary import DEFAULT_MODULES

Snapshot = list[tuple[dict, dict]]


@dataclass(eq=False)
class Function:
    key: str
    name: str
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    cell: int
    closure: Frame
    defaults: dict[str, Value]
    owner: Class | None = None
    analysed: bool = False

    @cached_property
    def positional(self) -> list[str]:
        args = self.node.args
        return [a.arg for a in [*args.posonlyargs, *args.args]]

    @cached_property
    def keyword_only(self) -> list[str]:
        return [a.arg for a in self.node.args.kwonlyargs]

    @cached_property
    def parameters(self) -> frozenset[str]:
        args = self.node.args
        extra = [a.arg for a in (args.vararg, args.kwarg) if a is not None]
        return frozenset([*self.positional, *self.keyword_only, *extra])

    @cached_property
    def body(self) -> Sequence[ast.AST]:
        return self.node.body if isinstance(self.node.body, list) else [self.node.body]

    @cached_property
    def global_names(self) -> frozenset[str]:
        return frozenset(declared(self.body, ast.Global))

    @cached_property
    def local_names(self) -> frozenset[str]:
        names = self.global_names | declared(self.body, ast.Nonlocal)
        return frozenset((bound_names(self.body) | self.parameters) - names)

    @cached_property
    def assigned_locals(self) -> frozenset[str]:
        """Locals other than parameters: a fresh object on every call."""
        return frozenset(bound_names(self.body) - self.parameters)

    @cached_property
    def tunes(self) -> bool:
        """A function with a loop is a tuning function when it hands back test results."""
        return contains_loop(self.node)


@dataclass(eq=False)
class Class:
    key: str
    name: str
    bases: list[Class]
    methods: dict[str, Function] = field(default_factory=dict)
    instances: Value = EMPTY


@dataclass(eq=False)
class Frame:
    """Where names live while code runs: the module, one call of a user function, or the
    short-lived scope of a comprehension or inline lambda (an *overlay*)."""
    variables: dict[str, Value]
    parent: Frame | None = None
    local_names: frozenset[str] | None = None   # None: the module, where every name is local
    global_names: frozenset[str] = frozenset()
    function: Function | None = None
    loops: list[frozenset[str]] = field(default_factory=list)
    varying: frozenset[str] = frozenset()       # differ per call: the caller loops over this call
    repeated: bool = False                      # this call runs once per candidate
    standalone: bool = False                    # analysed without a call: does not run as such
    activation: Frame | None = None           # for overlays: the frame they belong to
    returns: list[tuple[int, Value]] = field(default_factory=list)
    mutated: set[str] = field(default_factory=set)

    @property
    def owner(self) -> Frame:
        return self.activation or self

    def in_multi(self) -> bool:
        return bool(self.loops) or self.repeated

    def varying_keys(self) -> frozenset[str]:
        return frozenset().union(*self.loops, self.varying)

    def owns(self, name: str) -> bool:
        return self.local_names is None or name in self.local_names


class Scopes:
    """The current frame and the module's import tables (``np`` -> ``numpy``), so a call can
    be named by what it resolves to and a module is never mistaken for data."""

    def __init__(self, module_variables: dict[str, Value]):
        self.module = Frame(variables=module_variables)
        self.frame = self.module
        self.modules = dict(DEFAULT_MODULES)
        self.imported: dict[str, str] = {}

    # names -------------------------------------------------------------------------------------

    def lookup(self, name: str) -> Value:
        frame: Frame | None = self.frame
        while frame is not None:
            if name in frame.global_names:
                return self.module.variables.get(name, EMPTY)
            if frame.owns(name):
                return frame.variables.get(name, EMPTY)
            frame = frame.parent
        return EMPTY

    def store_name(self, name: str, value: Value, *, mutation: bool = False) -> None:
        frame: Frame | None = self.frame
        while frame is not None:
            if name in frame.global_names:
                frame = self.module
            if frame.owns(name):
                frame.variables[name] = value
                if mutation and frame.function is not None and name in frame.function.parameters:
                    frame.mutated.add(name)
                return
            frame = frame.parent

    def varies(self, node: ast.expr | None) -> bool:
        """Can this expression denote a different model on each pass / call?"""
        if node is None or not self.frame.in_multi():
            return False
        return contains_call(node) or not reference_keys(node).isdisjoint(self.frame.varying_keys())

    # modules -----------------------------------------------------------------------------------

    def import_module(self, alias: ast.alias) -> None:
        if alias.asname:
            self.modules[alias.asname] = alias.name
        else:
            root = alias.name.split(".")[0]
            self.modules[root] = root

    def import_from(self, module: str | None, alias: ast.alias) -> None:
        name = alias.asname or alias.name
        self.imported[name] = f"{module}.{alias.name}" if module else alias.name
        self.modules.pop(name, None)

    def forget_module(self, name: str) -> None:
        """A module-level assignment replaces whatever module the name stood for."""
        self.modules.pop(name, None)
        self.imported.pop(name, None)

    def is_module_reference(self, node: ast.AST | None) -> bool:
        root = dotted(node)
        if root is None:
            return False
        root = root.split(".")[0]
        if root not in self.modules and root not in self.imported:
            return False
        frame: Frame | None = self.frame
        while frame is not None and frame.local_names is not None:
            if root in frame.local_names:
                return False
            frame = frame.parent
        return True

    def resolve_name(self, func: ast.expr) -> str:
        name = dotted(func)
        if name is None:
            return func.attr if isinstance(func, ast.Attribute) else ""
        root, _, rest = name.partition(".")
        if self.is_module_reference(func):
            full = self.modules.get(root) or self.imported.get(root, root)
            return f"{full}.{rest}" if rest else full
        return name

    # paths -------------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The variables of the current scopes. Inside a function the module's table is left
        out: copying it at every branch is what makes large notebooks slow, and a global
        written in one branch then merely stays visible in the other (an over-approximation)."""
        saved = []
        frame: Frame | None = self.frame
        while frame is not None and (frame is not self.module or self.frame is self.module):
            saved.append((frame.variables, dict(frame.variables)))
            frame = frame.parent
        return saved

    @staticmethod
    def restore(snapshot: Snapshot) -> None:
        for live, saved in snapshot:
            live.clear()
            live.update(saved)

    @staticmethod
    def merge(snapshots: list[Snapshot]) -> None:
        """Each variable may hold what any of the paths left in it."""
        for index, (live, _) in enumerate(snapshots[0]):
            states = [snapshot[index][1] for snapshot in snapshots]
            live.clear()
            for name in set().union(*states):
                values = [state.get(name, EMPTY) for state in states]
                same = all(value is values[0] for value in values)  # the common case: untouched
                live[name] = values[0] if same else join(*values)

    @contextmanager
    def overlay(self, names: set[str]) -> Iterator[Frame]:
        """A comprehension's or inline lambda's own names, on top of the current frame; it
        runs once per item, so its names count as a loop's."""
        parent = self.frame
        self.frame = Frame(variables={}, parent=parent, local_names=frozenset(names),
                           loops=[*parent.loops, frozenset(names)], varying=parent.varying,
                           repeated=parent.repeated, standalone=parent.standalone, activation=parent.owner)
        try:
            yield self.frame
        finally:
            self.frame = parent
