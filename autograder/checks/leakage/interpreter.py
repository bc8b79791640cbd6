"""The abstract interpreter: Python's semantics over the values of ``values``.

Every code cell is interpreted statement by statement in notebook order, as "Restart & Run
All" would run it. A variable holds not numbers but where its value came from; constructs a
rule may care about are reported to a :class:`~autograder.checks.leakage.events.Listener`,
which decides whether they leak. The work is shared by four collaborators:
:class:`Interpreter` (here: the driver, statements, assignment), ``expressions.Expressions``,
``calls.Calls`` (user functions and classes) and ``library.Library`` (what library calls do).
They see the interpreter as ``machine.Machine``, so that they need not import this module.

Analysis is bounded: each top-level statement (or uncalled function) gets a budget of
interpreted statements, loops run two passes, calls nest a few levels deep. A unit that fails
or runs out of budget loses its own verdicts only.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from functools import partial

from autograder.checks.leakage.calls import Calls
from autograder.checks.leakage.cells import (
    constant,
    dotted,
    parse_cell,
    rebound_in_loop,
    short_source,
    single_item_literal,
)
from autograder.checks.leakage.events import Listener, Place
from autograder.checks.leakage.expressions import Expressions
from autograder.checks.leakage.library import Library
from autograder.checks.leakage.scopes import Class, Frame, Scopes
from autograder.checks.leakage.values import (
    CLASS,
    DATA_KINDS,
    EMPTY,
    MODEL,
    PROCESSING_KINDS,
    SPLIT_TEST_SIDE,
    TEST,
    TRAIN,
    Anchor,
    Atom,
    Value,
    mix,
)
from autograder.checks.leakage.vocabulary import LOADER_NAME, dataset_role, is_validation_name

_LOOP_PASSES = 2          # a second pass lets values computed late in a loop body reach its top
_MAX_STANDALONE_ROUNDS = 5
_STEP_BUDGET = 5_000      # statements interpreted per top-level statement (or uncalled function);
                          # a real tuning cell needs a few hundred, pathological code stops early
_TOTAL_STEP_BUDGET = 150_000  # past this, functions the notebook never calls are not analysed


class BudgetExhausted(Exception):
    """A unit of analysis used up its step budget: the rest of it is skipped."""


class Interpreter:
    """Runs the notebook's cells and holds the state its collaborators share: the scopes, the
    cell whose code runs, the calls in progress."""

    def __init__(self, sources: list[str | None], test_names: tuple[str, ...], train_names: tuple[str, ...],
                 listener: Listener, *, raise_internal_errors: bool = False):
        self.sources = sources
        self.test_names, self.train_names = test_names, train_names
        self.listener = listener
        self.raise_internal_errors = raise_internal_errors  # tests: an analyser bug fails loudly
        self.scopes = Scopes({name: self.source_value(name) for name in test_names + train_names})
        self.module = self.scopes.module
        self.cell = 0
        self.condition_depth = 0                   # > 0 while a condition is evaluated
        self.active_calls: list[str] = []          # the user functions being run, outermost first
        self.assign_targets: frozenset[str] = frozenset()  # the names the statement being run assigns
        self.call_chain: list[Anchor | None] = []  # and the call sites that entered them
        self.steps = self.total_steps = 0
        self.trees: list[ast.Module] = []  # kept alive: caches below are keyed by node id
        self.rebound_cache: dict[int, frozenset[str]] = {}
        self.expressions = Expressions(self)
        self.calls = Calls(self)
        self.library = Library(self)

    @property
    def frame(self) -> Frame:
        return self.scopes.frame

    @frame.setter
    def frame(self, frame: Frame) -> None:
        self.scopes.frame = frame

    def place(self) -> Place:
        return Place(self.cell, self.frame)

    # driver ---------------------------------------------------------------------------------

    def run(self) -> None:
        for index, source in enumerate(self.sources):
            tree = parse_cell(source)
            if tree is not None:
                self.trees.append(tree)
                for statement in tree.body:
                    self.run_guarded(partial(self.exec_statement, statement), cell=index)
        self.analyse_uncalled_functions()

    def run_guarded(self, action: Callable[[], None], cell: int) -> None:
        """Run one top-level unit of analysis on a fresh budget; a unit that fails or runs
        out of budget loses its own verdicts only."""
        self.frame, self.cell, self.steps = self.module, cell, 0
        try:
            action()
        except BudgetExhausted:
            pass
        except Exception:  # any error: one unexpected construct must not sink the verdict
            if self.raise_internal_errors:
                raise
        finally:
            self.frame, self.condition_depth = self.module, 0
            del self.active_calls[:], self.call_chain[:]

    def analyse_uncalled_functions(self) -> None:
        """Code the notebook never calls (or only hands to a library, like a Keras callback's
        methods) is still the student's code: analyse it once, on its own."""
        for _ in range(_MAX_STANDALONE_ROUNDS):
            pending = [info for info in self.calls.functions.values() if not info.analysed]
            if not pending:
                return
            for info in pending:
                info.analysed = True
                if self.total_steps > _TOTAL_STEP_BUDGET:
                    return
                self.run_guarded(partial(self.calls.analyse_standalone, info), cell=info.cell)

    # shared helpers ---------------------------------------------------------------------------

    def source_value(self, name: str) -> Value:
        kind = TEST if name in self.test_names else TRAIN if name in self.train_names else dataset_role(name)
        return Value(frozenset({Atom(kind or TRAIN, name)}))

    def role_of(self, name: str) -> str | None:
        """The data set a name holds: the notebook's own names first, then what the name
        says (``x_test``, ``test_df``, ``train_images``), at the notebook's top level only."""
        if name in self.test_names:
            return TEST
        if name in self.train_names:
            return TRAIN
        return dataset_role(name) if self.frame is self.module else None

    def eval(self, node: ast.AST | None) -> Value:
        return self.expressions.eval(node)

    def eval_condition(self, node: ast.expr) -> Value:
        return self.expressions.eval_condition(node)

    def call_chain_text(self) -> str:
        return "/".join(f"{a.cell}:{a.line}" for a in self.call_chain if a is not None)

    def allocation_id(self, node: ast.expr) -> str:
        """Where a model was created: the line, and the call sites that led there (each call of
        a helper builds its own model)."""
        return f"new:{self.cell}:{node.lineno}:{node.col_offset}@{self.call_chain_text()}"

    # statements --------------------------------------------------------------------------------

    def exec_block(self, statements: Sequence[ast.stmt]) -> None:
        for statement in statements:
            self.exec_statement(statement)

    def exec_statement(self, node: ast.stmt) -> None:
        self.steps += 1
        self.total_steps += 1
        if self.steps > _STEP_BUDGET:
            raise BudgetExhausted
        handler = getattr(self, f"stmt_{type(node).__name__}", None)
        if handler is not None:
            handler(node)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.eval(child)

    def stmt_Expr(self, node: ast.Expr) -> None:
        self.eval(node.value)

    def stmt_Assign(self, node: ast.Assign) -> None:
        self.assign_targets = frozenset(n.id for target in node.targets for n in ast.walk(target)
                                        if isinstance(n, ast.Name))
        try:
            self.assign_value(node)
        finally:
            self.assign_targets = frozenset()

    def assign_value(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Lambda) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            value = self.calls.define_function(node.value, node.targets[0].id)
        else:
            value = self.eval(node.value)
        for target in node.targets:
            self.assign(target, value, node.value)

    def stmt_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.assign(node.target, self.eval(node.value), node.value)

    def stmt_AugAssign(self, node: ast.AugAssign) -> None:
        current, added = self.eval(node.target), self.eval(node.value)
        self.listener.on_augmented_assignment(node, current, added, self.place())
        self.assign(node.target, mix(current, added), node.value)

    def stmt_For(self, node: ast.For) -> None:
        iterable = self.eval(node.iter)
        if single_item_literal(node.iter):  # for m in [final_mlp]: runs once, tries nothing
            self.assign(node.target, iterable.element(), node.iter)
            self.exec_block(node.body)
            self.exec_block(node.orelse)
            return
        self.run_loop(node, lambda: self.assign(node.target, iterable.element(), node.iter))

    stmt_AsyncFor = stmt_For

    def stmt_While(self, node: ast.While) -> None:
        def check_condition() -> None:
            self.listener.on_while(node, self.eval_condition(node.test), self.place())
        self.run_loop(node, check_condition)

    def run_loop(self, node: ast.For | ast.AsyncFor | ast.While, start_pass: Callable[[], None]) -> None:
        before = self.scopes.snapshot()
        if id(node) not in self.rebound_cache:
            self.rebound_cache[id(node)] = rebound_in_loop(node)
        self.frame.loops.append(self.rebound_cache[id(node)])
        try:
            for _ in range(_LOOP_PASSES):
                start_pass()
                self.exec_block(node.body)
        finally:
            self.frame.loops.pop()
        after = self.scopes.snapshot()
        self.scopes.merge([before, after])  # the loop may run zero times
        self.exec_block(node.orelse)

    def run_paths(self, blocks: Sequence[Sequence[ast.stmt]]) -> None:
        before, outcomes = self.scopes.snapshot(), []
        for block in blocks:
            self.scopes.restore(before)
            self.exec_block(block)
            outcomes.append(self.scopes.snapshot())
        self.scopes.merge(outcomes)

    def stmt_If(self, node: ast.If) -> None:
        self.listener.on_if(node, self.eval_condition(node.test), self.place())
        self.run_paths([node.body, node.orelse])

    def stmt_Try(self, node: ast.Try) -> None:
        self.exec_block(node.body)
        self.run_paths([[], *(handler.body for handler in node.handlers)])
        self.exec_block(node.orelse)
        self.exec_block(node.finalbody)

    stmt_TryStar = stmt_Try

    def stmt_With(self, node: ast.With) -> None:
        for item in node.items:
            value = self.eval(item.context_expr)
            if item.optional_vars is not None:
                self.assign(item.optional_vars, value, item.context_expr)
        self.exec_block(node.body)

    stmt_AsyncWith = stmt_With

    def stmt_Match(self, node: ast.Match) -> None:
        self.eval(node.subject)
        self.run_paths([case.body for case in node.cases])

    def stmt_Assert(self, node: ast.Assert) -> None:
        self.eval_condition(node.test)  # checking a result is not choosing by it
        self.eval(node.msg)

    def stmt_Return(self, node: ast.Return) -> None:
        self.frame.owner.returns.append((node.lineno, self.eval(node.value)))

    def stmt_FunctionDef(self, node: ast.FunctionDef) -> None:
        for decorator in node.decorator_list:
            self.eval(decorator)
        self.scopes.store_name(node.name, self.calls.define_function(node, node.name))

    stmt_AsyncFunctionDef = stmt_FunctionDef

    def stmt_ClassDef(self, node: ast.ClassDef) -> None:
        classes = self.calls.classes
        bases = [classes[a.origin] for base in node.bases for a in self.eval(base).atoms_of(CLASS)]
        info = Class(f"{self.cell}:{node.lineno}:{node.name}", node.name, bases)
        classes[info.key] = info
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                method = self.calls.register_function(statement, f"{node.name}.{statement.name}", owner=info)
                info.methods[statement.name] = method
        self.scopes.store_name(node.name, Value(frozenset({Atom(CLASS, info.key)})))

    def stmt_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.scopes.import_module(alias)
            self.scopes.store_name((alias.asname or alias.name).split(".")[0], EMPTY)

    def stmt_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self.scopes.import_from(node.module, alias)
            self.scopes.store_name(alias.asname or alias.name, EMPTY)

    def stmt_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.scopes.store_name(target.id, EMPTY)

    def stmt_Global(self, node: ast.Global) -> None:
        pass  # scopes are computed when the function is registered

    stmt_Nonlocal = stmt_Global

    # assignment -------------------------------------------------------------------------------

    def assign(self, target: ast.expr, value: Value, value_node: ast.expr | None,
               dataset_unpacking: bool = False) -> None:
        if isinstance(target, ast.Name):
            self.assign_name(target, value, value_node, dataset_unpacking)
        elif isinstance(target, (ast.Tuple, ast.List)):
            self.assign_unpacking(target, value, value_node)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, value.flat(), value_node, dataset_unpacking)
        elif isinstance(target, ast.Attribute):
            self.assign_attribute(target, value)
        elif isinstance(target, ast.Subscript):
            self.assign_subscript(target, value, value_node)

    def assign_name(self, target: ast.Name, value: Value, value_node: ast.expr | None,
                    dataset_unpacking: bool) -> None:
        name = target.id
        value = self.keep_dataset_role(name, value, value_node, dataset_unpacking)
        if isinstance(value_node, ast.Call):
            value = self.name_new_models(value, name, value_node)
        self.listener.on_binding(target, name, value, self.place())
        if self.frame is self.module:
            self.scopes.forget_module(name)
        self.scopes.store_name(name, value)

    def keep_dataset_role(self, name: str, value: Value, value_node: ast.expr | None,
                          dataset_unpacking: bool) -> Value:
        """Loading the data again (``X_train, X_test, ... = load()``) keeps each name's role;
        any other untainted value assigned to it clears it. A name that only says what it
        holds (``x_test``) takes that role from data that has none yet; under a validation
        name, the held-out part of a split of the whole data is validation data."""
        if self.frame is not self.module:
            return value
        if is_validation_name(name) and value.has(TEST):
            return value.map_atoms(lambda a: a._replace(kind=TRAIN) if a.kind == TEST
                                   and a.origin.endswith(SPLIT_TEST_SIDE) else a)
        own_role = self.role_of(name)
        if own_role is None:
            return value
        if value.has(TEST) != value.has(TRAIN):  # X_test_flat = X_test.reshape(...): a data set of its own
            # what was done to the rows stays with them (a statistic scaled in, a transform fitted before a split)
            return self.source_value(name).with_own(value.keep(PROCESSING_KINDS).atoms) \
                if value.has(own_role) else value
        if value.has(TEST):
            return value
        if name not in self.test_names and name not in self.train_names:
            return self.role_from_name(name, value, value_node)
        loaded = isinstance(value_node, ast.Call) and LOADER_NAME.search(dotted(value_node.func) or "")
        return self.source_value(name) if dataset_unpacking or loaded else value

    def role_from_name(self, name: str, value: Value, value_node: ast.expr | None) -> Value:
        """``x_test = np.load(...)``, ``test_df = df[df.split == "test"]``: data with no role yet
        takes the one its name says; a number, a string, a model or a score does not."""
        if isinstance(value_node, (ast.Constant, ast.JoinedStr, ast.Lambda)) or value_node is None:
            return value
        if value.kinds & (DATA_KINDS - {TRAIN, TEST}):  # predictions, scores
            return value
        created = dotted(value_node.func) if isinstance(value_node, ast.Call) else None
        if created and created.rsplit(".", 1)[-1][:1].isupper():  # a model, a generator, a layer
            return value
        return value.with_own({Atom(self.role_of(name) or TRAIN, name)})

    def name_new_models(self, value: Value, name: str, creation: ast.Call) -> Value:
        """A model created on this line is known by its name and how it was built: re-running
        ``final_mlp = MLPClassifier(...)`` unchanged in a second cell is the same final model,
        building ``model`` again with other settings is another candidate. Inside helpers the
        call site is part of it too, since each call builds its own model."""
        named = f"name:{name}={short_source(creation, 500)}@{self.call_chain_text()}"
        return value.map_atoms(lambda a: a._replace(origin=named)
                               if a.kind == MODEL and a.origin.startswith("new:") else a)

    def assign_unpacking(self, target: ast.Tuple | ast.List, value: Value, value_node: ast.expr | None) -> None:
        names = {node.id for node in ast.walk(target) if isinstance(node, ast.Name)}
        roles = {self.role_of(name) for name in names}
        dataset = TEST in roles and TRAIN in roles
        elements = target.elts
        nodes = value_node.elts if isinstance(value_node, (ast.Tuple, ast.List)) \
            and len(value_node.elts) == len(elements) else [value_node] * len(elements)
        stars = [i for i, node in enumerate(elements) if isinstance(node, ast.Starred)]
        if value.parts is not None and not stars and len(value.parts) == len(elements):
            pieces = list(value.parts)
        elif value.parts is not None and len(stars) == 1 and len(value.parts) >= len(elements) - 1:
            star, tail = stars[0], len(elements) - stars[0] - 1
            middle = value.parts[star: len(value.parts) - tail]
            pieces = [*value.parts[:star], Value(parts=tuple(middle)), *value.parts[len(value.parts) - tail:]]
        else:
            pieces = [value.flat()] * len(elements)
        for element, piece, node in zip(elements, pieces, nodes):
            self.assign(element, piece, node, dataset)

    def assign_attribute(self, target: ast.Attribute, value: Value) -> None:
        self.listener.on_binding(target, target.attr, value, self.place())
        base = self.eval(target.value)
        self.store_into(target.value, base.with_field(target.attr, value))

    def assign_subscript(self, target: ast.Subscript, value: Value, value_node: ast.expr | None) -> None:
        base, key = self.eval(target.value), constant(target.slice)
        if isinstance(key, str):
            self.store_into(target.value, base.with_field(key, value))
            return
        self.eval(target.slice)
        self.listener.on_subscript_assignment(target, value_node, value, base, self.place())
        if not value.atoms <= base.atoms:  # df[cols] = df[cols] / 255 adds nothing to df's provenance
            self.store_into(target.value, base.with_own(value.atoms))

    def store_into(self, node: ast.expr | None, value: Value) -> None:
        """Write a changed object back to the variable it hangs from."""
        if isinstance(node, ast.Name):
            if not self.scopes.is_module_reference(node):
                self.scopes.store_name(node.id, value, mutation=True)
        elif isinstance(node, ast.Attribute):
            self.store_into(node.value, self.eval(node.value).with_field(node.attr, value))
        elif isinstance(node, ast.Subscript):
            base, key = self.eval(node.value), constant(node.slice)
            changed = base.with_field(key, value) if isinstance(key, str) else base.with_own(value.atoms)
            self.store_into(node.value, changed)
