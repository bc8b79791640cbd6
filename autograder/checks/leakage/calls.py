"""Calls: arguments evaluated, then user code (functions, classes, methods, callbacks handed
to libraries) run with the caller's values, or the library's meaning applied (``library``).

User functions are analysed at each call with the caller's atoms. Atoms that entered a
function through a parameter carry an *anchor*, the call site, so a leak inside a helper is
reported on the line that handed the test data to it; test data the body reads from a global
is reported on the body line. A function called once per candidate (from a loop,
comprehension or key function) runs *repeated*: what differs per call is known.
"""

from __future__ import annotations

import ast

from autograder.checks.leakage.events import Call
from autograder.checks.leakage.machine import Machine
from autograder.checks.leakage.scopes import Class, Frame, Function
from autograder.checks.leakage.values import (
    CLASS,
    CODE_KINDS,
    DATA_KINDS,
    EMPTY,
    FUNC,
    MODEL,
    OBJ,
    Anchor,
    Atom,
    Value,
    atom_order,
    join,
    mix,
    rebase,
    unbase,
)

_MAX_CALL_DEPTH = 8

Argument = tuple[ast.expr, Value]                     # as written, and its value
KeywordArgument = tuple[str | None, ast.expr, Value]  # None: ``**options``
Bindings = dict[str, tuple[ast.expr | None, Value]]  # parameter -> (the caller's argument as written, its value)


class Calls:
    def __init__(self, interpreter: Machine):
        self.interpreter = interpreter
        self.scopes = interpreter.scopes
        self.functions: dict[str, Function] = {}
        self.classes: dict[str, Class] = {}

    # a call expression ----------------------------------------------------------------------------

    def call(self, node: ast.Call) -> Value:
        call = self.prepare_call(node)
        user = self.call_user_code(call)
        if user is not None:
            return user
        self.run_callbacks(call)
        return self.interpreter.library.call(call)

    def prepare_call(self, node: ast.Call) -> Call:
        func = node.func
        method = isinstance(func, ast.Attribute) and not self.scopes.is_module_reference(func.value)
        receiver_node = func.value if method and isinstance(func, ast.Attribute) else None
        receiver = self.interpreter.eval(receiver_node) if method else EMPTY
        module_function = isinstance(func, ast.Attribute) and not method
        callee = EMPTY if method or module_function else self.interpreter.eval(func)
        name = self.scopes.resolve_name(func)
        args, keywords = self.eval_arguments(node, receiver)
        method_name = func.attr if method and isinstance(func, ast.Attribute) else None
        return Call(node, name, name.split(".")[-1], method_name, receiver_node,
                    receiver, callee, args, keywords)

    def eval_arguments(self, node: ast.Call, receiver: Value) -> tuple[list[Argument], list[KeywordArgument]]:
        """Inline lambdas go last: they run once per item of the other arguments."""
        expressions = self.interpreter.expressions
        def now(arg: ast.expr) -> Value:
            return EMPTY if isinstance(arg, ast.Lambda) else expressions.eval(arg)
        args = [(arg, now(arg)) for arg in node.args]
        keywords = [(kw.arg, kw.value, now(kw.value)) for kw in node.keywords]
        if not any(isinstance(n, ast.Lambda) for n in [*node.args, *(kw.value for kw in node.keywords)]):
            return args, keywords
        element = join(receiver.element(), *(value.element() for _, value in args))
        def later(arg: ast.expr, value: Value) -> Value:
            return expressions.eval_inline_lambda(arg, element) if isinstance(arg, ast.Lambda) else value
        return ([(arg, later(arg, value)) for arg, value in args],
                [(key, arg, later(arg, value)) for key, arg, value in keywords])

    def call_user_code(self, call: Call) -> Value | None:
        results = []
        if call.method is not None:
            for atom in call.receiver.atoms_of(OBJ):
                method = self.find_method(self.classes[atom.origin], call.method)
                if method is not None:
                    results.append(self.invoke_method(method, call, call.receiver, call.receiver_node))
        else:
            for atom in sorted(call.callee.atoms, key=atom_order):  # a name may hold several: a stable order
                if atom.kind == FUNC:
                    results.append(self.invoke(self.functions[atom.origin], call)[0])
                elif atom.kind == CLASS:
                    results.append(self.instantiate(self.classes[atom.origin], call))
                elif atom.kind == OBJ:
                    method = self.find_method(self.classes[atom.origin], "__call__")
                    if method is not None:
                        results.append(self.invoke_method(method, call, call.callee, call.node.func))
        return join(*results) if results else None

    def run_callbacks(self, call: Call) -> None:
        """User functions passed to library calls run there, once per item."""
        element = join(call.receiver.element(), *(value.element() for value in call.input_values()
                                                  if not value.has(FUNC)))
        for index, (node, value) in enumerate(call.args):
            results = [self.invoke_callback(self.functions[a.origin], call, element) for a in value.atoms_of(FUNC)]
            if results:
                call.args[index] = (node, join(value, *results))
        for index, (key, node, value) in enumerate(call.keywords):
            results = [self.invoke_callback(self.functions[a.origin], call, element) for a in value.atoms_of(FUNC)]
            if results:
                call.keywords[index] = (key, node, join(value, *results))

    # definitions ----------------------------------------------------------------------------------

    def define_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, name: str) -> Value:
        info = self.register_function(node, name)
        return Value(frozenset({Atom(FUNC, info.key)}))

    def register_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, name: str,
                          owner: Class | None = None) -> Function:
        """Reuse one record per definition, so re-running a cell (or an enclosing function)
        keeps a single function, with the latest closure and defaults."""
        cell, evaluate = self.interpreter.cell, self.interpreter.eval
        key = f"{cell}:{node.lineno}:{node.col_offset}:{name}"
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        defaults = {a.arg: evaluate(d) for a, d in zip(positional[len(positional) - len(args.defaults):],
                                                        args.defaults)}
        defaults.update({a.arg: evaluate(d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d})
        info = self.functions.get(key)
        if info is None:
            info = self.functions[key] = Function(key, name, node, cell, self.scopes.frame, defaults, owner)
        info.closure, info.defaults = self.scopes.frame, defaults
        return info

    def find_method(self, info: Class, name: str, seen: frozenset = frozenset()) -> Function | None:
        if name in info.methods:
            return info.methods[name]
        for base in info.bases:
            if base.key not in seen:
                found = self.find_method(base, name, seen | {info.key})
                if found is not None:
                    return found
        return None

    # invocations ----------------------------------------------------------------------------------

    def invoke(self, info: Function, call: Call, self_value: Value | None = None,
               self_node: ast.expr | None = None) -> tuple[Value, Value | None]:
        """Analyse one call of a user function; returns (result, the object bound to its first
        parameter afterwards, for constructors and methods)."""
        frame = self.scopes.frame
        anchor = Anchor(self.interpreter.cell, call.node.lineno, info.name)
        bindings = self.bind_arguments(info, call, self_value, self_node)
        varying = {name for name, (node, _) in bindings.items()
                   if node is not None and self.scopes.varies(node)}
        return self.run_function(info, bindings, anchor, repeated=frame.in_multi(),
                                 varying_params=varying, standalone=frame.standalone)

    def invoke_method(self, method: Function, call: Call, receiver: Value,
                      receiver_node: ast.expr | None) -> Value:
        result, bound = self.invoke(method, call, self_value=receiver, self_node=receiver_node)
        if bound is not None and bound != receiver:
            self.interpreter.store_into(receiver_node, bound)
        return result

    def invoke_callback(self, info: Function, call: Call, element: Value) -> Value:
        """A function handed to a library (``map(f, models)``, ``key=f``) runs once per item."""
        anchor = Anchor(self.interpreter.cell, call.node.lineno, info.name)
        bindings: Bindings = {name: (None, element) for name in info.positional}
        result, _ = self.run_function(info, bindings, anchor, repeated=True,
                                      varying_params=set(bindings), standalone=self.scopes.frame.standalone)
        return result

    def instantiate(self, info: Class, call: Call) -> Value:
        instance = Value(frozenset({Atom(OBJ, info.key), Atom(MODEL, self.interpreter.allocation_id(call.node))}))
        init = self.find_method(info, "__init__")
        if init is None:  # a subclass of a library class: it keeps what it was given
            instance = join(instance, mix(*call.input_values()).keep(DATA_KINDS))
        else:
            _, bound = self.invoke(init, call, self_value=instance)
            instance = bound or instance
        info.instances = join(info.instances, instance)
        return instance

    def analyse_standalone(self, info: Function) -> None:
        bindings: Bindings = {}
        if info.owner is not None and info.positional:  # a method: self is any instance made
            bindings[info.positional[0]] = (None, info.owner.instances)
        self.run_function(info, bindings, anchor=None, repeated=False, varying_params=set(),
                          standalone=True)

    # arguments ------------------------------------------------------------------------------------

    def bind_arguments(self, info: Function, call: Call, self_value: Value | None,
                       self_node: ast.expr | None) -> Bindings:
        """Parameter -> (the caller's argument expression, its value), as Python would bind them;
        the expression tells whether the argument differs per call and where mutations go."""
        params = list(info.positional)
        bindings: Bindings = {}
        if self_value is not None and params:
            bindings[params.pop(0)] = (self_node, self_value)
        positional, spread = self.expand_positional(call.args)
        bindings.update(zip(params, positional))
        if spread is not None:  # f(*unknown): any remaining parameter may receive it
            bindings.update((name, spread) for name in params[len(positional):])
        self.bind_keywords(info, params, call.keywords, bindings)
        if info.node.args.vararg is not None:
            extra = tuple(value for _, value in positional[len(params):])
            bindings[info.node.args.vararg.arg] = (None, Value(parts=extra))
        for name, default in info.defaults.items():
            bindings.setdefault(name, (None, default))
        return bindings

    @staticmethod
    def bind_keywords(info: Function, params: list[str], keywords: list[KeywordArgument], bindings: Bindings) -> None:
        kwarg = info.node.args.kwarg
        for key, node, value in keywords:
            if key is None:  # f(**options): may fill any parameter
                for name in [*params, *info.keyword_only]:
                    bindings.setdefault(name, (node, value.flat()))
            elif key in params or key in info.keyword_only:
                bindings[key] = (node, value)
            elif kwarg is not None:
                collected = bindings.get(kwarg.arg, (None, Value(fields=())))[1]
                bindings[kwarg.arg] = (None, collected.with_field(key, value))

    @staticmethod
    def expand_positional(args: list[Argument]) -> tuple[list[Argument], Argument | None]:
        """``f(*[a, b])`` is ``f(a, b)``; ``f(*unknown)`` is returned apart, as ``spread``."""
        expanded: list[Argument] = []
        spread = None
        for node, value in args:
            if isinstance(node, ast.Starred) and value.parts is not None:
                expanded.extend((node.value, part) for part in value.parts)
            elif isinstance(node, ast.Starred):
                spread = (node.value, value.flat())
            else:
                expanded.append((node, value))
        return expanded, spread

    # running a body ---------------------------------------------------------------------------------

    def run_function(self, info: Function, bindings: Bindings, anchor: Anchor | None, *, repeated: bool,
                     varying_params: set[str], standalone: bool) -> tuple[Value, Value | None]:
        """Interpret the body with its own frame; data from the caller is re-anchored at the call
        site on the way in and back on the way out."""
        run = self.interpreter
        if info.key in run.active_calls or len(run.active_calls) >= _MAX_CALL_DEPTH:
            return mix(*(value for _, value in bindings.values())).drop(CODE_KINDS), None
        caller = run.frame
        varying = info.assigned_locals | varying_params | caller.varying_keys() if repeated else frozenset()
        frame = Frame(variables={name: rebase(value, anchor) for name, (_, value) in bindings.items()},
                      parent=info.closure, local_names=info.local_names, global_names=info.global_names,
                      function=info, varying=frozenset(varying), repeated=repeated, standalone=standalone)
        saved = (run.frame, run.cell, run.condition_depth)
        run.frame, run.cell, run.condition_depth = frame, info.cell, 0
        run.active_calls.append(info.key)
        run.call_chain.append(anchor)
        info.analysed = True
        try:
            if isinstance(info.node, ast.Lambda):
                frame.returns.append((info.node.lineno, run.eval(info.node.body)))
            else:
                run.exec_block(info.node.body)
            run.listener.on_return(info, frame.returns, run.place())
        finally:
            run.frame, run.cell, run.condition_depth = saved
            run.active_calls.pop()
            run.call_chain.pop()
        self.propagate_mutations(frame, bindings, anchor)
        result = unbase(join(*(value for _, value in frame.returns)), anchor)
        first = info.positional[0] if info.positional else None
        bound_self = unbase(frame.variables[first], anchor) if first in frame.variables else None
        return result, bound_self

    def propagate_mutations(self, frame: Frame, bindings: Bindings, anchor: Anchor | None) -> None:
        """``results.append(...)`` or ``self.x = ...`` inside a call changes the caller's object.
        One caller expression handed to several mutated parameters (``f(rows, rows)``, or
        ``f(*args)`` filling several) receives the join of what they left in it, written once
        where the last of them stood in binding order; other parameters are written back in
        binding order, as before."""
        changed: dict[str, tuple[ast.expr, list[Value]]] = {}  # the caller's expression, as dumped
        for name, (node, _) in bindings.items():
            if name in frame.mutated and node is not None and name in frame.variables:
                key = ast.dump(node)
                states = changed.pop(key, (node, []))[1]  # popped: re-inserted at its last position
                changed[key] = (node, [*states, unbase(frame.variables[name], anchor)])
        for node, states in changed.values():
            self.interpreter.store_into(node, join(*states))
