"""Expressions: what each evaluates to, and the constructs in them reported to the rules
(branches, comparisons, ``+``, ``np.r_``). Calls are ``calls.Calls``'s."""

from __future__ import annotations

import ast

from autograder.checks.leakage.cells import constant
from autograder.checks.leakage.machine import Machine
from autograder.checks.leakage.values import CODE_KINDS, EMPTY, OBJ, SCORE, TEST, TRAIN, Atom, Value, join, mix
from autograder.checks.leakage.vocabulary import DESCRIBE_ATTRIBUTES, INDEX_MIXERS, ROW_INDEXERS, SPLIT_KEYS


class Expressions:
    def __init__(self, interpreter: Machine):
        self.interpreter = interpreter
        self.scopes = interpreter.scopes
        self.listener = interpreter.listener

    def eval(self, node: ast.AST | None) -> Value:
        if node is None:
            return EMPTY
        handler = getattr(self, f"expr_{type(node).__name__}", None)
        if handler is not None:
            return handler(node)
        return mix(*(self.eval(child) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr)))

    def eval_condition(self, node: ast.expr) -> Value:
        """Comparisons in a condition are judged with the statement that owns the condition."""
        self.interpreter.condition_depth += 1
        try:
            return self.eval(node)
        finally:
            self.interpreter.condition_depth -= 1

    def expr_Constant(self, node: ast.Constant) -> Value:
        return EMPTY

    def expr_Name(self, node: ast.Name) -> Value:
        if self.scopes.is_module_reference(node):
            return EMPTY
        return self.scopes.lookup(node.id)

    # members and items ---------------------------------------------------------------------------

    def expr_Attribute(self, node: ast.Attribute) -> Value:
        base = EMPTY if self.scopes.is_module_reference(node.value) else self.eval(node.value)
        return self.read_member(base, node.attr)

    def read_member(self, base: Value, key: str) -> Value:
        if key in self.interpreter.test_names or key in self.interpreter.train_names:
            return self.interpreter.source_value(key)
        if key in DESCRIBE_ATTRIBUTES:
            return EMPTY
        if key in ROW_INDEXERS:  # frame.loc["train"]: the frame itself is indexed
            return base
        entry = base.field(key)
        if entry is None and key.lower() in SPLIT_KEYS and not (base.has(TEST) or base.has(TRAIN)):
            # a loaded data set's split, dataset["test"]: the data set it names
            return base.flat().drop(CODE_KINDS).with_own({Atom(TEST if "test" in key.lower() else TRAIN, key)})
        return entry if entry is not None else base.flat().drop(CODE_KINDS)

    def expr_Subscript(self, node: ast.Subscript) -> Value:
        if isinstance(node.value, ast.Attribute) and node.value.attr in INDEX_MIXERS \
                and self.scopes.is_module_reference(node.value.value):
            return self.index_mixer(node, node.value.attr)
        base, index, key = self.eval(node.value), self.eval(node.slice), constant(node.slice)
        chosen = index.keep({SCORE})  # picked by a test score: the choice carries it along
        if isinstance(key, str):
            return join(self.read_member(base, key), chosen)
        if isinstance(key, int) and not isinstance(key, bool) and (part := base.part(key)) is not None:
            return join(part, chosen)
        return join(base.flat().drop(CODE_KINDS - {OBJ}), chosen)

    def index_mixer(self, node: ast.Subscript, mixer: str) -> Value:
        """``np.r_[a, b]``: the pieces stacked into one array."""
        elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        parts: list[tuple[ast.expr | None, Value]] = [(element, self.eval(element)) for element in elements]
        self.listener.on_index_mixer(node, mixer, parts, self.interpreter.place())
        return mix(*(value for _, value in parts))

    # literals ----------------------------------------------------------------------------------------

    def expr_Tuple(self, node: ast.Tuple | ast.List) -> Value:
        values = [self.eval(element) for element in node.elts]
        if any(isinstance(element, ast.Starred) for element in node.elts):
            return mix(*values)
        return Value(parts=tuple(values))

    expr_List = expr_Tuple

    def expr_Set(self, node: ast.Set) -> Value:
        return mix(*(self.eval(element) for element in node.elts))

    def expr_Dict(self, node: ast.Dict) -> Value:
        result = Value(fields=())
        for key_node, value_node in zip(node.keys, node.values):
            value, key = self.eval(value_node), constant(key_node)
            if key_node is None:  # {**other}
                result = self.merge_entries(result, value)
            elif isinstance(key, str):
                result = result.with_field(key, value)
            else:
                result = result.with_own(mix(self.eval(key_node), value).atoms)
        return result

    @staticmethod
    def merge_entries(result: Value, other: Value) -> Value:
        if other.fields is None:
            return result.with_own(other.atoms)
        for key, entry in other.fields:
            result = result.with_field(key, entry)
        return result.with_own(other.own)

    def expr_JoinedStr(self, node: ast.JoinedStr) -> Value:
        for part in node.values:
            self.eval(part)  # an f-string may call a sink; its text is not data
        return EMPTY

    def expr_FormattedValue(self, node: ast.FormattedValue) -> Value:
        self.eval(node.value)
        self.eval(node.format_spec)
        return EMPTY

    # binding, functions, generators ------------------------------------------------------------------

    def expr_NamedExpr(self, node: ast.NamedExpr) -> Value:
        value = self.eval(node.value)
        self.interpreter.assign(node.target, value, node.value)
        return value

    def expr_Starred(self, node: ast.Starred) -> Value:
        return self.eval(node.value)

    def expr_Yield(self, node: ast.Yield) -> Value:
        self.scopes.frame.owner.returns.append((node.lineno, self.eval(node.value)))
        return EMPTY

    expr_YieldFrom = expr_Yield

    def expr_Lambda(self, node: ast.Lambda) -> Value:
        return self.interpreter.calls.define_function(node, "<lambda>")

    def expr_Call(self, node: ast.Call) -> Value:
        return self.interpreter.calls.call(node)

    # operators and choices ---------------------------------------------------------------------------

    def expr_BinOp(self, node: ast.BinOp) -> Value:
        left, right = self.eval(node.left), self.eval(node.right)
        self.listener.on_binary_operation(node, left, right, self.interpreter.place())
        return mix(left, right)

    def expr_Compare(self, node: ast.Compare) -> Value:
        operands = [node.left, *node.comparators]
        values = [self.eval(operand) for operand in operands]
        result = mix(*values)
        self.listener.on_comparison(node, values, result, self.interpreter.condition_depth > 0,
                                    self.interpreter.place())
        return result

    def expr_IfExp(self, node: ast.IfExp) -> Value:
        condition = self.eval_condition(node.test)
        body, orelse = self.eval(node.body), self.eval(node.orelse)
        self.listener.on_conditional_expression(node, condition, self.interpreter.place())
        return join(body, orelse, condition.keep({SCORE}))  # the result was chosen by the condition

    # comprehensions and inline lambdas -----------------------------------------------------------------

    def expr_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> Value:
        return self.comprehension(node, [node.elt])

    expr_SetComp = expr_GeneratorExp = expr_ListComp

    def expr_DictComp(self, node: ast.DictComp) -> Value:
        return self.comprehension(node, [node.key, node.value])

    def comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                      results: list[ast.expr]) -> Value:
        names = {n.id for gen in node.generators for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        outermost = self.eval(node.generators[0].iter)  # evaluated in the enclosing scope, as Python does
        with self.scopes.overlay(names):
            for index, generator in enumerate(node.generators):
                iterable = outermost if index == 0 else self.eval(generator.iter)
                self.interpreter.assign(generator.target, iterable.element(), generator.iter)
                for condition_node in generator.ifs:
                    condition = self.eval_condition(condition_node)
                    self.listener.on_comprehension_filter(condition_node, condition, self.interpreter.place())
            return mix(*(self.eval(result) for result in results))

    def eval_inline_lambda(self, node: ast.Lambda, element: Value) -> Value:
        """``key=lambda m: ...`` or ``map(lambda m: ..., models)``: the body runs once per item,
        so it is analysed like a loop body whose loop variables are the parameters."""
        args = node.args
        names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}
        with self.scopes.overlay(names) as frame:
            for name in names:
                frame.variables[name] = element
            return self.eval(node.body).flat()
