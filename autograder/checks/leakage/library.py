"""What library calls do to the values: ``fit`` trains a model (and a search's fit scores
candidates), ``score``/``predict``/metrics measure one, a class-like call creates one, other
calls compute from their inputs. Each call a rule may care about is reported to the rules
with the values that reached it."""

from __future__ import annotations

import ast

from autograder.checks.leakage import messages
from autograder.checks.leakage.cells import constant, short_source
from autograder.checks.leakage.events import Call, Evaluation
from autograder.checks.leakage.machine import Machine
from autograder.checks.leakage.values import (
    CLASS,
    CODE_KINDS,
    EMPTY,
    FUNC,
    MODEL,
    PRED,
    PREFIT,
    RESAMPLER,
    SCORE,
    SEARCH,
    SOURCE,
    SPLIT_TEST_SIDE,
    STATISTIC,
    TEST,
    TRAIN,
    TRANSFORM,
    Atom,
    Value,
    anchor_order,
    mix,
    scores_from_predictions,
)
from autograder.checks.leakage.vocabulary import (
    CROSS_VALIDATION,
    DATA_CLASSES,
    DESCRIBE_FUNCTIONS,
    DESCRIBE_METHODS,
    EVAL_PREDICT_METHODS,
    EVAL_SCORE_METHODS,
    FIT_METHODS,
    FIT_RETURNS_DATA,
    LEARNED_STATISTICS,
    LOADER_NAME,
    METRIC_SUFFIXES,
    METRICS,
    MODEL_FACTORIES,
    MUTATING_METHODS,
    REDUCTIONS,
    RESAMPLERS,
    ROW_CONCATENATIONS,
    SEARCH_CLASSES,
    SPLIT_FUNCTIONS,
    TRANSFORMERS,
    dataset_role,
)


def split_kind(name: str) -> str | None:
    """``"test"``, ``"mnist_test.csv"``: test data; ``"train[:80%]"``: training data."""
    lowered = name.lower()
    if "test" in lowered:
        return TEST
    return TRAIN if "train" in lowered else None


class Library:
    def __init__(self, interpreter: Machine):
        self.interpreter = interpreter
        self.listener = interpreter.listener

    def call(self, call: Call) -> Value:
        for handler in (self.call_getattr, self.call_describing, self.call_loader, self.call_split,
                        self.call_fitting, self.call_evaluating, self.call_cross_validation, self.call_metric,
                        self.call_model_directly):
            result = handler(call)
            if result is not None:
                return result
        self.listener.on_library_call(call, self.interpreter.place())
        self.apply_mutation(call)
        constructed = self.call_constructor(call)
        return constructed if constructed is not None else self.call_generic(call)

    # calls that only read or describe -----------------------------------------------------------

    def call_getattr(self, call: Call) -> Value | None:
        """``getattr(data, "X_test")`` is ``data.X_test``."""
        if call.method is not None or call.short != "getattr" or len(call.args) < 2:
            return None
        base, name = call.args[0][1], constant(call.args[1][0])
        return self.interpreter.expressions.read_member(base, name) if isinstance(name, str) else None

    def call_describing(self, call: Call) -> Value | None:
        describing = call.method in DESCRIBE_METHODS if call.method else call.short in DESCRIBE_FUNCTIONS
        return EMPTY if describing else None

    def call_generic(self, call: Call) -> Value:
        keyed = self.keyed_concatenation(call)
        if keyed is not None:
            return keyed
        result = mix(call.receiver, *call.input_values()).drop(CODE_KINDS)
        if self.is_scalar_reduction(call):
            # X_test.max() describes the data, it is not rows; computed over test rows, it is a
            # statistic that must not shape training data (rules.preprocessing)
            learned = result.has(TEST) and call.short in LEARNED_STATISTICS
            statistic = {Atom(STATISTIC, f"{self.interpreter.cell}:{getattr(call.node, 'lineno', 0)}:"
                                         f"{short_source(call.node, 60)}")} if learned else set()
            result = result.drop({TEST, TRAIN}).with_own(statistic)
        if (call.method is None or call.receiver_node is not None) and call.short in ROW_CONCATENATIONS \
                and self.stacks_rows_of_one_source(call):
            result = result.with_own({self.prefit_mark("augment", call)})
        return result

    @staticmethod
    def keyed_concatenation(call: Call) -> Value | None:
        """``pd.concat([train_df, test_df], keys=["train", "test"])`` pools frames that
        ``.loc["train"]`` takes apart again: each stays under its key."""
        keys = call.keyword("keys")
        if call.short != "concat" or keys is None or not call.args:
            return None
        names = constant(keys[0]) if not isinstance(keys[0], (ast.List, ast.Tuple)) else \
            [constant(element) for element in keys[0].elts]
        frames = call.args[0][1].parts
        if not isinstance(names, (list, tuple)) or frames is None or len(frames) != len(names) \
                or not all(isinstance(name, str) for name in names):
            return None
        return Value(fields=tuple(sorted(zip(names, frames))))

    def stacks_rows_of_one_source(self, call: Call) -> bool:
        """``np.concatenate([X, rotate(X)])``, ``pd.concat([df, resample(df[...])])``: pieces made
        from the same loaded rows, stacked as rows (not ``axis=1``)."""
        axis = call.keyword("axis")
        if axis is not None and constant(axis[0]) not in (0, None):
            return False
        values = [call.receiver] if call.method is not None else []
        values += [value for _, value in call.args]
        pieces = [piece for value in values
                  for piece in ([*value.parts, Value(value.own)] if value.parts is not None else [value])]
        seen: set = set()
        for piece in pieces:
            sources = set(piece.atoms_of(SOURCE))
            if sources & seen:
                return True
            seen |= sources
        return False

    def prefit_mark(self, how: str, call: Call) -> Atom:
        line = getattr(call.node, "lineno", 0)
        return Atom(PREFIT, f"{how}:{self.interpreter.cell}:{line}:{short_source(call.node, 80)}")

    @staticmethod
    def is_scalar_reduction(call: Call) -> bool:
        if call.short not in REDUCTIONS or call.keyword("axis") is not None:
            return False
        if call.method is not None:
            return not call.args
        return isinstance(call.node.func, ast.Attribute) and len(call.args) == 1

    def call_constructor(self, call: Call) -> Value | None:
        """A class-like call makes a new model (or layer, or callback): remember where, so the
        same model can be recognised under another name and told apart from other models."""
        if call.method is not None or call.short in DATA_CLASSES:
            return None
        if not (call.short[:1].isupper() or call.short in MODEL_FACTORIES):
            return None
        atoms = {Atom(MODEL, self.interpreter.allocation_id(call.node))}
        if call.short.endswith("SearchCV") or call.short in SEARCH_CLASSES:
            atoms.add(Atom(SEARCH))
        if call.short in TRANSFORMERS:
            atoms.add(Atom(TRANSFORM, call.short))
        if call.short in RESAMPLERS:
            atoms.add(Atom(RESAMPLER, call.short))
        data = mix(*call.input_values()).drop(CODE_KINDS | {MODEL})
        return data.with_own(atoms)

    def apply_mutation(self, call: Call) -> None:
        if call.method in MUTATING_METHODS and call.receiver_node is not None:
            added = mix(*call.input_values()).drop(CODE_KINDS)
            self.interpreter.store_into(call.receiver_node, call.receiver.with_own(added.atoms))

    # training ---------------------------------------------------------------------------------

    def call_fitting(self, call: Call) -> Value | None:
        if call.method not in FIT_METHODS:
            return None
        if call.receiver.has(TRANSFORM) or call.receiver.has(RESAMPLER):
            return self.fit_transform_or_resampler(call)
        search = call.receiver.has(SEARCH) or call.method == "search"
        self.listener.on_fit(call, search, self.interpreter.place())
        produced = self.test_scores(call)
        if search and produced and call.receiver_node is not None:
            self.interpreter.store_into(call.receiver_node, call.receiver.with_own(produced))
        if call.method in FIT_RETURNS_DATA:
            return mix(call.receiver, *call.input_values()).drop(CODE_KINDS)
        return call.receiver.with_own(produced)  # sklearn returns the model; Keras a History

    def fit_transform_or_resampler(self, call: Call) -> Value:
        """A transform (or an oversampler) learns from its inputs; fitted on rows that hold no
        test data yet, it marks itself and what it outputs, so that a later split of that
        output into a test part is seen (L5, L4)."""
        self.listener.on_fit(call, False, self.interpreter.place())
        receiver = call.receiver
        if not any(value.has(TEST) for value in call.input_values()):
            receiver = receiver.with_own({self.prefit_mark("resample" if receiver.has(RESAMPLER) else "transform",
                                                           call)})
            if call.receiver_node is not None:
                self.interpreter.store_into(call.receiver_node, receiver)
        if call.method in FIT_RETURNS_DATA:
            return mix(receiver, *call.input_values()).drop(CODE_KINDS | {MODEL})
        return receiver

    # data sets: loaders and splits ---------------------------------------------------------------

    def call_loader(self, call: Call) -> Value | None:
        """Test data from where it is loaded: Keras' ``load_data()`` (its second pair), a
        ``split="test"`` (tfds, Hugging Face), a file whose name says test (``pd.read_csv``)."""
        where = short_source(call.node, 60)
        source = Atom(SOURCE, f"{self.interpreter.cell}:{getattr(call.node, 'lineno', 0)}:{where}")
        if call.short == "load_data" and not call.args:
            def pair(kind: str) -> Value:
                return Value(parts=tuple(Value(frozenset({Atom(kind, where), source._replace(origin=f"{kind}{i}:"
                                                                                             + source.origin)}))
                                         for i in range(2)))
            return Value(parts=(pair(TRAIN), pair(TEST)))
        split = call.keyword("split")
        if split is not None:
            value = self.split_names(split[0], where)
            if value is not None:
                with_info = call.keyword("with_info")
                return Value(parts=(value, EMPTY)) if with_info and constant(with_info[0]) is True else value
        if (call.short.startswith("read_") or call.short in {"loadtxt", "genfromtxt", "load", "fromfile"}) \
                and call.args and isinstance(constant(call.args[0][0]), str):
            kind = split_kind(str(constant(call.args[0][0])).rsplit("/", 1)[-1])
            if kind is not None:
                return Value(frozenset({Atom(kind, where), source}))
        if call.method is None and LOADER_NAME.search(call.short) and call.short not in SPLIT_FUNCTIONS \
                and call.short not in MODEL_FACTORIES and not call.short[:1].isupper():
            return mix(*call.input_values()).drop(CODE_KINDS).with_own({source})  # load_digits(), fetch_openml()
        return None

    @staticmethod
    def split_names(node: ast.expr, where: str) -> Value | None:
        named = constant(node)
        if isinstance(named, str):
            kind = split_kind(named)
            return Value(frozenset({Atom(kind, where)})) if kind else None
        if isinstance(node, (ast.List, ast.Tuple)):
            kinds = [split_kind(str(constant(item))) for item in node.elts]
            if any(kinds):
                return Value(parts=tuple(Value(frozenset({Atom(kind, where)})) if kind else EMPTY for kind in kinds))
        return None

    def call_split(self, call: Call) -> Value | None:
        """``train_test_split(X, y)``: a training and a test part of each input, in that order.
        Splitting rows that are not training or test data yet (the whole data set, at the
        notebook's top level) makes the second part of each pair test data; a split of
        training data (a validation split) makes none."""
        if call.method is not None or call.short not in SPLIT_FUNCTIONS:
            return None
        inputs = [value.drop({PREFIT}) for _, value in call.args]
        whole = (self.interpreter.frame is self.interpreter.module
                 and not any(value.has(TEST) or value.has(TRAIN) for value in inputs))
        named_test = any(dataset_role(name) == TEST for name in self.interpreter.assign_targets)
        self.listener.on_split(call, whole or named_test, self.interpreter.place())
        where = short_source(call.node, 60)
        parts: list[Value] = []
        for value in inputs:
            train, test = value.flat(), value.flat()
            if whole:
                train = train.with_own({Atom(TRAIN, where)})
                test = test.with_own({Atom(TEST, where + SPLIT_TEST_SIDE)})
            parts += [train, test]
        return Value(parts=tuple(parts))

    def call_cross_validation(self, call: Call) -> Value | None:
        if call.method is not None or call.short not in CROSS_VALIDATION:
            return None
        self.listener.on_cross_validation(call, self.interpreter.place())
        return Value(frozenset(self.test_scores(call)))

    def test_scores(self, call: Call) -> set[Atom]:
        """Training on test data measures on it too (a search's best score, a fit's History,
        cross-validation's scores): one score per call site the test data came through."""
        cell = self.interpreter.cell
        return {Atom(SCORE, messages.evidence(call.node, cell, anchor), anchor)
                for _, value in call.inputs_carrying(TEST)
                for anchor in {atom.anchor for atom in value.atoms_of(TEST)}}

    # evaluation -------------------------------------------------------------------------------

    def call_evaluating(self, call: Call) -> Value | None:
        if call.method == "update_state":
            result = self.call_metric(call, force=True)
            assert result is not None  # forced, call_metric always gives a value
            self.interpreter.store_into(call.receiver_node, call.receiver.with_own(result.atoms))
            return result
        if call.method in EVAL_SCORE_METHODS:
            return self.evaluate(call, SCORE, call.receiver_node, call.receiver)
        if call.method in EVAL_PREDICT_METHODS:
            return self.evaluate(call, PRED, call.receiver_node, call.receiver)
        return None

    def call_model_directly(self, call: Call) -> Value | None:
        """``model(X_test)`` is Keras' predict."""
        if call.method is None and call.callee.has(MODEL) and not call.callee.has(FUNC) \
                and not call.callee.has(CLASS):
            return self.evaluate(call, PRED, call.node.func, call.callee)
        return None

    def call_metric(self, call: Call, force: bool = False) -> Value | None:
        if not force and not self.is_metric(call):
            return None
        merged = mix(*call.input_values())
        if merged.has(PRED) or merged.has(SCORE):  # the evaluation was where predictions were made
            return merged.keep({SCORE}).with_own(scores_from_predictions(merged))
        if not merged.has(TEST):
            return EMPTY
        others = [(node, value) for node, value in call.inputs() if not value.has(TEST)]
        receiver_node, receiver = others[0] if others else (call.node.func, EMPTY)
        return self.evaluate(call, SCORE, receiver_node, receiver)

    @staticmethod
    def is_metric(call: Call) -> bool:
        if call.method is not None or call.short in CROSS_VALIDATION:
            return False
        dotted = f".{call.name}."
        return (call.short in METRICS or ".metrics." in dotted or ".losses." in dotted
                or call.short.endswith(METRIC_SUFFIXES))

    def evaluate(self, call: Call, kind: str, receiver_node: ast.expr | None, receiver: Value) -> Value:
        """Predictions or scores on test data, one per call site the test data came through;
        the evaluation itself goes to the rules."""
        tested = call.inputs_carrying(TEST)
        if not tested:
            return EMPTY
        scopes, cell = self.interpreter.scopes, self.interpreter.cell
        anchors = sorted({atom.anchor for _, v in tested for atom in v.atoms_of(TEST)}, key=anchor_order)
        candidates = scopes.frame.in_multi() and scopes.varies(receiver_node)
        evaluation = Evaluation(call, receiver_node, self.model_identity(receiver_node, receiver), tested,
                                anchors, candidates)
        self.listener.on_evaluation(evaluation, self.interpreter.place())
        return Value(frozenset(Atom(kind, messages.evidence(call.node, cell, anchor), anchor) for anchor in anchors))

    @staticmethod
    def model_identity(receiver_node: ast.expr | None, receiver: Value) -> frozenset[str]:
        models = frozenset(atom.origin for atom in receiver.atoms_of(MODEL))
        return models or frozenset({f"expr:{short_source(receiver_node)}"})
