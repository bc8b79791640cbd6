"""Find test-set leaks in a student's hyper-parameter tuning notebook, without running it.

The course rule: the test set may be used exactly once, by the final chosen model, after
tuning. A run-time probe can only see what one execution did; reading the code instead lets
the grader name the rule, the cell and the line, even when the notebook crashes half-way, and
catch spellings a probe never triggers (a helper called in a loop, a DataFrame of scores
sorted by test accuracy, ...).

How it works. Every code cell is parsed (IPython magics neutralised first) and interpreted
*abstractly*, statement by statement in notebook order. A variable does not hold numbers but a
set of atoms saying where its value came from: test data, training data, predictions on test
data, scores measured on test data, a model created at some line, a user function... Sinks
(``fit``, ``score``, ``np.vstack``, ``max``, ``if`` ...) inspect the atoms reaching them and
report a :class:`Leak`.

User functions are analysed at each call with the caller's atoms. Atoms that entered a
function through a parameter carry an *anchor*, the call site, so a leak inside a helper is
reported on the line that handed the test data to it; test data the body reads from a global
is reported on the body line. Whether an evaluation can see several candidate models is
decided from loops: the evaluated model is rebuilt, rebound or refitted in an enclosing loop,
comprehension or inline lambda, or the function is itself called once per candidate.

Known blind spots (static analysis, by design): test data read back from disk under another
name (``np.load("x_test.npy")``); code run through strings (``exec``, ``df.query("...")``);
class-level attributes; and functions called before the cell defining them is reached (cells
are taken in order, as "Restart & Run All" would).
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from itertools import count
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # nbformat is only needed by callers that hold a notebook
    import nbformat

__all__ = ["Leak", "RULE_TITLES", "TEST_NAMES", "TRAIN_NAMES", "find_leaks", "find_leaks_in_notebook"]

RULE_TITLES: dict[str, str] = {
    "L1": "multi-test",
    "L2": "training on test",
    "L3": "selection on test",
    "L4": "overlap",
}
TEST_NAMES: tuple[str, ...] = ("X_test", "y_test", "X_test_flat")
TRAIN_NAMES: tuple[str, ...] = ("X_train", "y_train", "X_train_flat")

# Tests switch this on so that a bug in the analyzer fails loudly; graders keep it off so that
# one odd statement costs the analysis of that statement, never the whole verdict.
_RAISE_INTERNAL_ERRORS = False


@dataclass(frozen=True)
class Leak:
    rule: str          # "L1", "L2", "L3" or "L4"
    cell: int          # 0-based index in the notebook's full cell list (markdown cells count)
    line: int          # 1-based line inside that cell
    code: str          # the offending source line, stripped
    explanation: str   # for the student: what happened and what to do instead

    def describe(self) -> str:
        """The verdict as one line of student feedback.

        The cell is shown 1-based ("cell 1" is the notebook's first cell, markdown included),
        as a person counts cells; ``self.cell`` itself stays 0-based like a list index.
        """
        title = RULE_TITLES.get(self.rule, self.rule)
        return (f"{self.rule} {title}, cell {self.cell + 1} line {self.line}: "
                f"`{self.code}` — {self.explanation}")


def find_leaks(cells: Sequence[str | None], *, test_names: Sequence[str] = TEST_NAMES,
               train_names: Sequence[str] = TRAIN_NAMES,
               reported_models: Sequence[str] = ()) -> list[Leak]:
    """cells: the source of every notebook cell in order; None (or a non-code cell) is skipped
    but keeps its index, so verdicts point at the cell the student sees.

    ``reported_models`` names models that other questions ask the student to report a test
    score for (``mlp_16x16``): one evaluation of such a model is part of the assignment,
    not a candidate tried during tuning, so it does not count towards L1's "more than one
    model". Evaluating it in a loop, training it on test data or choosing by its score are
    still leaks.

    Returns the leaks sorted by (cell, line, rule), one per rule and line.
    """
    sources = [_cell_text(cell) for cell in cells]
    return _Interpreter(sources, tuple(test_names), tuple(train_names),
                        frozenset(reported_models)).run()


def find_leaks_in_notebook(nb: nbformat.NotebookNode, **kwargs) -> list[Leak]:
    """Markdown/raw cells are passed as None so cell indices match the notebook."""
    cells = [cell.get("source", "") if cell.get("cell_type") == "code" else None for cell in nb.cells]
    return find_leaks(cells, **kwargs)


# Vocabulary ---------------------------------------------------------------------------------

_EVAL_SCORE_METHODS = frozenset({"score", "evaluate", "test_on_batch"})
_EVAL_PREDICT_METHODS = frozenset({"predict", "predict_proba", "predict_log_proba", "decision_function",
                                   "predict_classes", "predict_on_batch", "__call__"})
_FIT_METHODS = frozenset({"fit", "partial_fit", "fit_transform", "train_on_batch", "fit_generator",
                          "fit_resample", "search"})
_FIT_RETURNS_DATA = frozenset({"fit_transform", "fit_resample"})
_REFIT_METHODS = _FIT_METHODS | {"set_params", "compile", "build", "load_weights", "set_weights"}
_VALIDATION_KEYWORDS = frozenset({"validation_data", "eval_set"})
_CROSS_VALIDATION = frozenset({"cross_val_score", "cross_validate", "cross_val_predict", "learning_curve",
                               "validation_curve", "permutation_test_score"})
_METRICS = frozenset({"accuracy_score", "f1_score", "precision_score", "recall_score", "log_loss",
                      "confusion_matrix", "classification_report", "balanced_accuracy_score",
                      "roc_auc_score", "top_k_accuracy_score", "zero_one_loss", "matthews_corrcoef",
                      "precision_recall_fscore_support", "sparse_categorical_accuracy",
                      "categorical_accuracy", "mean_squared_error", "mean_absolute_error"})
_METRIC_SUFFIXES = ("_score", "_error", "_loss")
_CONCAT_FUNCTIONS = frozenset({"concatenate", "concat", "vstack", "hstack", "dstack", "row_stack",
                               "column_stack", "stack", "append", "chain"})
_CONCAT_METHODS = frozenset({"concatenate", "append", "extend", "insert"})
_INDEX_MIXERS = frozenset({"r_", "c_"})
_MUTATING_METHODS = frozenset({"append", "extend", "insert", "update", "add", "setdefault",
                               "appendleft", "__setitem__"})
_SELECTION_FUNCTIONS = frozenset({"max", "min", "sorted", "argmax", "argmin", "argsort", "nanargmax",
                                  "nanargmin", "nlargest", "nsmallest", "amax", "amin"})
_SELECTION_METHODS = frozenset({"idxmax", "idxmin", "sort_values", "nlargest", "nsmallest", "argmax",
                                "argmin", "argsort", "sort", "max", "min"})
_REDUCTIONS = frozenset({"min", "max", "mean", "sum", "std", "var", "median", "amin", "amax", "nanmean",
                         "nanstd", "nanmin", "nanmax", "nansum", "ptp", "prod", "all", "any",
                         "count_nonzero", "average", "reduce_mean", "reduce_sum", "reduce_max",
                         "reduce_min"})
_DESCRIBE_ATTRIBUTES = frozenset({"shape", "ndim", "dtype", "dtypes", "size", "nbytes", "itemsize",
                                  "columns"})
_DESCRIBE_FUNCTIONS = frozenset({"len", "type", "isinstance", "issubclass", "print", "display", "pprint",
                                 "str", "repr", "format", "id", "hash", "shape", "ndim", "unique",
                                 "bincount", "callable", "hasattr"})
_DESCRIBE_METHODS = frozenset({"unique", "nunique", "value_counts", "info", "describe", "memory_usage",
                               "__len__"})
_REPORTING_CALLS = frozenset({"print", "display", "pprint", "warn", "log", "info", "debug", "warning"})
_REPORTING_MODULES = frozenset({"plt", "logging", "warnings", "logger", "sys", "ax", "axes", "fig"})
_MODEL_FACTORIES = frozenset({"make_pipeline", "clone", "load_model"})
_SEARCH_CLASSES = frozenset({"RandomSearch", "Hyperband", "BayesianOptimization", "GridSearch"})
_DATA_CLASSES = frozenset({"DataFrame", "Series", "Index", "Tensor", "Variable", "Dataset",
                           "TensorDataset", "DataLoader", "Counter", "OrderedDict", "Path", "Figure"})
_LOADER_NAME = re.compile(r"load|read|fetch|split|get_data|dataset|download", re.IGNORECASE)
_DEFAULT_MODULES = {
    "np": "numpy", "numpy": "numpy", "pd": "pandas", "pandas": "pandas", "tf": "tensorflow",
    "tensorflow": "tensorflow", "keras": "keras", "plt": "matplotlib.pyplot", "sns": "seaborn",
    "sklearn": "sklearn", "metrics": "sklearn.metrics", "math": "math", "random": "random",
    "torch": "torch", "ops": "keras.ops", "layers": "keras.layers", "heapq": "heapq",
    "itertools": "itertools", "copy": "copy", "os": "os", "scipy": "scipy",
}
_FINAL_MODEL_ADVICE = "for the final model only"
_LOOP_PASSES = 2          # a second pass lets values computed late in a loop body reach its top
_MAX_CALL_DEPTH = 8
_MAX_STANDALONE_ROUNDS = 5
_STEP_BUDGET = 5_000      # statements interpreted per top-level statement (or uncalled function);
                          # a real tuning cell needs a few hundred, pathological code stops early
_TOTAL_STEP_BUDGET = 150_000  # past this, functions the notebook never calls are not analysed


# Cells ----------------------------------------------------------------------------------------

_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "memit", "debug"})
_TIMING_LINE_MAGIC = re.compile(
    r"^%(?:time|timeit|prun|memit|debug)\b(?:\s+-[A-Za-z]+\s*\d*)*\s*(?P<code>.*)$")
_SHELL_ASSIGNMENT = re.compile(r"^(?P<target>[\w.,\s\[\]()]+?)\s*=\s*[!%]")
_HELP_LINE = re.compile(r"^[\w.]+\?{1,2}$")


def _cell_text(cell: object) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, (list, tuple)):  # nbformat v3 stores sources as lists of lines
        return "".join(str(part) for part in cell)
    return cell if isinstance(cell, str) else None


def _parse_cell(source: str | None) -> ast.Module | None:
    """Plain Python first; magics make that fail, so then the neutralised text. A cell that
    parses neither way is skipped: a syntax error is the student's to fix, not a leak."""
    if not source or not source.strip():
        return None
    for candidate in (source, _without_magics(source)):
        try:
            return ast.parse(candidate)
        except (SyntaxError, ValueError):
            continue
    return None


def _without_magics(source: str) -> str:
    """Same number of lines, so AST line numbers still point into the student's cell."""
    lines = source.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = (lines[first].lstrip()[2:].split() or [""])[0]
        if name not in _PYTHON_CELL_MAGICS:
            return ""  # %%bash, %%writefile, %%html...: the body is not run as Python here
        lines[first] = ""
    return "\n".join(_without_line_magic(line) for line in lines)


def _without_line_magic(line: str) -> str:
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if stripped.startswith("%"):
        timed = _TIMING_LINE_MAGIC.match(stripped)
        return indent + (timed.group("code") if timed and timed.group("code") else "pass")
    if stripped.startswith("!") or _HELP_LINE.match(stripped):
        return indent + "pass"
    shell = _SHELL_ASSIGNMENT.match(stripped)
    if shell:
        return f"{indent}{shell.group('target')} = None"
    return line


# Abstract values ------------------------------------------------------------------------------

TEST, TRAIN, PRED, SCORE = "test", "train", "pred", "score"
MODEL, SEARCH, FUNC, CLASS, OBJ = "model", "search", "func", "class", "obj"
_DATA_KINDS = frozenset({TEST, TRAIN, PRED, SCORE})
_CODE_KINDS = frozenset({FUNC, CLASS, OBJ, SEARCH})


class Anchor(NamedTuple):
    """The call site through which tainted data entered the function being analysed."""
    cell: int
    line: int
    helper: str


class Atom(NamedTuple):
    """One fact about where a value came from.

    origin: the source name for test/train data, the evidence (code and place) for test
    predictions and scores, the allocation id for models, the registry key for code.
    """
    kind: str
    origin: str = ""
    anchor: Anchor | None = None


@dataclass(frozen=True)
class _Value:
    """What a variable may hold: atoms, plus the elements of a literal tuple/list (``parts``)
    and the entries of a dict or the attributes of an object (``fields``) when known, so that
    ``X_train, X_test = a, b`` or ``splits["train"]`` do not smear test atoms onto training data.
    """
    own: frozenset = frozenset()
    parts: tuple | None = None
    fields: tuple | None = None

    @cached_property
    def atoms(self) -> frozenset:
        collected = set(self.own)
        for part in self.parts or ():
            collected |= part.atoms
        for _, entry in self.fields or ():
            collected |= entry.atoms
        return frozenset(collected)

    def is_empty(self) -> bool:
        return not self.own and self.parts is None and self.fields is None

    @cached_property
    def kinds(self) -> frozenset[str]:
        return frozenset(atom.kind for atom in self.atoms)

    def has(self, kind: str) -> bool:
        return kind in self.kinds

    def atoms_of(self, kind: str) -> list[Atom]:
        return sorted((atom for atom in self.atoms if atom.kind == kind), key=_atom_order)

    def flat(self) -> _Value:
        return _Value(self.atoms)

    def keep(self, kinds: Iterable[str]) -> _Value:
        kinds = frozenset(kinds)
        return _Value(frozenset(atom for atom in self.atoms if atom.kind in kinds))

    def drop(self, kinds: Iterable[str]) -> _Value:
        kinds = frozenset(kinds)
        return _Value(frozenset(atom for atom in self.atoms if atom.kind not in kinds))

    def with_own(self, atoms: Iterable[Atom]) -> _Value:
        return _Value(self.own | frozenset(atoms), self.parts, self.fields)

    def field(self, key: str) -> _Value | None:
        for name, entry in self.fields or ():
            if name == key:
                return _join(entry, _Value(self.own).keep(_DATA_KINDS))
        return None

    def with_field(self, key: str, value: _Value) -> _Value:
        entries = dict(self.fields or ())
        entries[key] = value
        return _Value(self.own, self.parts, tuple(sorted(entries.items())))

    def part(self, index: int) -> _Value | None:
        if self.parts is None or not -len(self.parts) <= index < len(self.parts):
            return None
        return _join(self.parts[index], _Value(self.own).keep(_DATA_KINDS))

    def element(self) -> _Value:
        """What iterating over the value yields."""
        if self.parts is not None:
            return _join(*self.parts, _Value(self.own))
        return self.flat()

    def map_atoms(self, change: Callable[[Atom], Atom]) -> _Value:
        parts = None if self.parts is None else tuple(part.map_atoms(change) for part in self.parts)
        fields = None if self.fields is None else tuple((k, v.map_atoms(change)) for k, v in self.fields)
        return _Value(frozenset(change(atom) for atom in self.own), parts, fields)


EMPTY = _Value()


def _atom_order(atom: Atom) -> tuple:
    anchor = atom.anchor or Anchor(-1, -1, "")
    return (atom.kind, atom.origin, anchor)


def _join(*values: _Value) -> _Value:
    """What a variable may hold after either of several paths (branches, loop passes)."""
    result = EMPTY
    for value in values:
        result = _join_two(result, value)
    return result


def _join_two(a: _Value, b: _Value) -> _Value:
    if a is b or b.is_empty():
        return a
    if a.is_empty():
        return b
    own = a.own | b.own
    parts = None
    if a.parts is not None and b.parts is not None and len(a.parts) == len(b.parts):
        parts = tuple(_join_two(x, y) for x, y in zip(a.parts, b.parts))
    else:
        own |= _atoms_of_all(a.parts) | _atoms_of_all(b.parts)
    fields = None
    if a.fields is not None and b.fields is not None:
        entries = dict(a.fields)
        for key, entry in b.fields:
            entries[key] = _join_two(entries.get(key, EMPTY), entry)
        fields = tuple(sorted(entries.items()))
    else:
        own |= _atoms_of_all(v for _, v in a.fields or ()) | _atoms_of_all(v for _, v in b.fields or ())
    return _Value(own, parts, fields)


def _atoms_of_all(values: Iterable[_Value] | None) -> frozenset:
    collected: set = set()
    for value in values or ():
        collected |= value.atoms
    return frozenset(collected)


def _mix(*values: _Value) -> _Value:
    """The result of arithmetic or a library call on the values: their atoms flattened.
    Predictions on test data meeting test labels (``preds == y_test``) become a test score."""
    merged = _join(*(value.flat() for value in values))
    return merged.with_own(_scores_from_predictions(merged)) if merged.has(TEST) else merged


def _scores_from_predictions(value: _Value) -> set:
    return {Atom(SCORE, atom.origin, atom.anchor) for atom in value.atoms if atom.kind == PRED}


def _rebase(value: _Value, anchor: Anchor | None) -> _Value:
    """Mark data handed to a function as arriving through this call site."""
    if anchor is None:
        return value
    return value.map_atoms(lambda a: a._replace(anchor=anchor) if a.kind in _DATA_KINDS and a.anchor is None else a)


def _unbase(value: _Value, anchor: Anchor | None) -> _Value:
    """Back in the caller, data that came through this call site is the caller's own again."""
    if anchor is None:
        return value
    return value.map_atoms(lambda a: a._replace(anchor=None) if a.anchor == anchor else a)


# Syntax helpers ---------------------------------------------------------------------------------

def _short_source(node: ast.AST | None, limit: int = 70) -> str:
    if node is None:
        return "this value"
    try:
        text = " ".join(ast.unparse(node).split())
    except Exception:  # unparse of a synthetic or odd node: still say something
        return "this value"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _constant(node: ast.AST | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _dotted(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _root_name(node: ast.AST | None) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _scope_nodes(body: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """The nodes that run in this scope: nested functions, classes and lambdas only
    contribute their names and defaults, comprehensions do not leak their loop variables."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend([*node.decorator_list, *node.args.defaults,
                          *(d for d in node.args.kw_defaults if d is not None)])
        elif isinstance(node, ast.ClassDef):
            stack.extend([*node.decorator_list, *node.bases])
        elif isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults)
        elif isinstance(node, ast.comprehension):
            stack.extend([node.iter, *node.ifs])
        else:
            stack.extend(ast.iter_child_nodes(node))


def _bound_names(body: Iterable[ast.AST]) -> set[str]:
    names: set[str] = set()
    for node in _scope_nodes(body):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _declared(body: Iterable[ast.AST], kind: type[ast.Global] | type[ast.Nonlocal]) -> set[str]:
    return {name for node in _scope_nodes(body) if isinstance(node, kind) for name in node.names}


def _rebound_in_loop(loop: ast.For | ast.AsyncFor | ast.While) -> frozenset[str]:
    """Names and dotted paths that may hold a different model on each pass: assigned in the
    loop (its target included), or refitted / reconfigured there (``model.fit`` in a loop
    makes a new candidate each time even though ``model`` is not rebound)."""
    keys: set[str] = set()
    targets = [loop.target] if isinstance(loop, (ast.For, ast.AsyncFor)) else []
    nodes = [node for target in targets for node in ast.walk(target)]
    for node in [*nodes, *_scope_nodes(loop.body + loop.orelse)]:
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            keys.add(_dotted(node) or _root_name(node) or "")
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            keys.add(_dotted(node.value) or _root_name(node) or "")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in _REFIT_METHODS:
            keys.add(_dotted(node.func.value) or _root_name(node.func.value) or "")
    keys.discard("")
    return frozenset(keys)


def _reference_keys(node: ast.AST) -> set[str]:
    keys = set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Name, ast.Attribute)):
            keys.add(_dotted(sub) or "")
    keys.discard("")
    return keys


def _contains_call(node: ast.AST) -> bool:
    return any(isinstance(sub, ast.Call) for sub in ast.walk(node))


def _contains_loop(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> bool:
    loops = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    body = node.body if isinstance(node.body, list) else [node.body]
    return any(isinstance(sub, loops) for sub in _scope_nodes(body))


def _single_item_literal(node: ast.expr) -> bool:
    return isinstance(node, (ast.List, ast.Tuple, ast.Set)) and len(node.elts) == 1 \
        and not isinstance(node.elts[0], ast.Starred)


def _is_reporting_only(statements: Sequence[ast.stmt]) -> bool:
    """A branch that only prints, plots, asserts, raises or words a message chooses nothing."""
    for statement in statements:
        if isinstance(statement, (ast.Pass, ast.Assert, ast.Raise)):
            continue
        if isinstance(statement, ast.Assign) and isinstance(statement.value, (ast.Constant, ast.JoinedStr)):
            continue
        if isinstance(statement, ast.Expr) and (isinstance(statement.value, ast.Constant)
                                                or _is_reporting_call(statement.value)):
            continue
        if isinstance(statement, ast.If) and _is_reporting_only(statement.body) \
                and _is_reporting_only(statement.orelse):
            continue
        return False
    return True


def _is_reporting_call(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = _dotted(node.func) or ""
    return name.split(".")[-1] in _REPORTING_CALLS or name.split(".")[0] in _REPORTING_MODULES


# Scopes -------------------------------------------------------------------------------------------

@dataclass(eq=False)
class _Function:
    key: str
    name: str
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    cell: int
    closure: _Frame
    defaults: dict[str, _Value]
    owner: _Class | None = None
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
        return frozenset(_declared(self.body, ast.Global))

    @cached_property
    def local_names(self) -> frozenset[str]:
        declared = self.global_names | _declared(self.body, ast.Nonlocal)
        return frozenset((_bound_names(self.body) | self.parameters) - declared)

    @cached_property
    def assigned_locals(self) -> frozenset[str]:
        """Locals other than parameters: a fresh object on every call."""
        return frozenset(_bound_names(self.body) - self.parameters)

    @cached_property
    def tunes(self) -> bool:
        """A function with a loop is a tuning function when it hands back test results."""
        return _contains_loop(self.node)


@dataclass(eq=False)
class _Class:
    key: str
    name: str
    bases: list[_Class]
    methods: dict[str, _Function] = field(default_factory=dict)
    instances: _Value = EMPTY


@dataclass(eq=False)
class _Frame:
    """Where names live while code runs: the module, one call of a user function, or the
    short-lived scope of a comprehension or inline lambda (an *overlay*)."""
    variables: dict[str, _Value]
    parent: _Frame | None = None
    local_names: frozenset[str] | None = None   # None: the module, where every name is local
    global_names: frozenset[str] = frozenset()
    function: _Function | None = None
    loops: list[frozenset[str]] = field(default_factory=list)
    varying: frozenset[str] = frozenset()       # differ per call: the caller loops over this call
    repeated: bool = False                      # this call runs once per candidate
    standalone: bool = False                    # analysed without a call: does not run as such
    activation: _Frame | None = None          # for overlays: the frame they belong to
    returns: list[tuple[int, _Value]] = field(default_factory=list)
    mutated: set[str] = field(default_factory=set)
    reported_selection: bool = False

    @property
    def owner(self) -> _Frame:
        return self.activation or self

    def in_multi(self) -> bool:
        return bool(self.loops) or self.repeated

    def varying_keys(self) -> frozenset[str]:
        return frozenset().union(*self.loops, self.varying)

    def owns(self, name: str) -> bool:
        return self.local_names is None or name in self.local_names


@dataclass(frozen=True)
class _Site:
    """An evaluation on test data, for the "different models" part of L1."""
    seq: int
    location: tuple[int, int]
    identity: frozenset[str]
    receiver: str
    counts: bool


@dataclass
class _Call:
    node: ast.Call
    name: str                    # dotted, resolved through imports: "numpy.vstack", "model.fit"
    short: str                   # last part of the name
    method: str | None           # the attribute when called on a value rather than a module
    receiver_node: ast.expr | None
    receiver: _Value
    callee: _Value               # the called value itself (user functions, classes, models)
    args: list[tuple[ast.expr, _Value]]
    keywords: list[tuple[str | None, ast.expr, _Value]]

    def inputs(self) -> list[tuple[ast.expr, _Value]]:
        return [*self.args, *((node, value) for _, node, value in self.keywords)]

    def input_values(self) -> list[_Value]:
        return [value for _, value in self.inputs()]

    def keyword(self, name: str) -> tuple[ast.expr, _Value] | None:
        return next(((node, value) for key, node, value in self.keywords if key == name), None)


class _BudgetExhausted(Exception):
    pass


# The interpreter ---------------------------------------------------------------------------------

class _Interpreter:
    def __init__(self, sources: list[str | None], test_names: tuple[str, ...],
                 train_names: tuple[str, ...], reported_models: frozenset[str] = frozenset()):
        self.sources = sources
        self.reported_models = reported_models
        self.lines = [source.splitlines() if source else [] for source in sources]
        self.test_names, self.train_names = test_names, train_names
        self.module = _Frame(variables={name: self.source_value(name) for name in test_names + train_names})
        self.frame, self.cell = self.module, 0
        self.modules = dict(_DEFAULT_MODULES)
        self.imported: dict[str, str] = {}
        self.functions: dict[str, _Function] = {}
        self.classes: dict[str, _Class] = {}
        self.active_calls: list[str] = []
        self.call_chain: list[Anchor | None] = []
        self.condition_depth = 0
        self.steps = self.total_steps = 0
        self.leaks: dict[tuple[str, int, int], Leak] = {}
        self.sites: dict[tuple, _Site] = {}
        self.sequence = count()
        self.pending_returns: list[tuple[Leak, frozenset[str]]] = []
        self.selection_origins: set[str] = set()
        self.trees: list[ast.Module] = []  # kept alive: caches below are keyed by node id
        self.rebound_cache: dict[int, frozenset[str]] = {}

    # driver ---------------------------------------------------------------------------------

    def run(self) -> list[Leak]:
        for index, source in enumerate(self.sources):
            tree = _parse_cell(source)
            if tree is not None:
                self.trees.append(tree)
                for statement in tree.body:
                    self.run_guarded(partial(self.exec_statement, statement), cell=index)
        self.analyse_uncalled_functions()
        self.flag_distinct_models()
        self.emit_pending_returns()
        leaks = [self.name_the_final_model(leak) for leak in self.leaks.values()]
        return sorted(leaks, key=lambda leak: (leak.cell, leak.line, leak.rule))

    def run_guarded(self, action: Callable[[], None], cell: int) -> None:
        """Run one top-level unit of analysis on a fresh budget; a unit that fails or runs
        out of budget loses its own verdicts only."""
        self.frame, self.cell, self.steps = self.module, cell, 0
        try:
            action()
        except _BudgetExhausted:
            pass
        except Exception:  # noqa: BLE001 - one unexpected construct must not sink the verdict
            if _RAISE_INTERNAL_ERRORS:
                raise
        finally:
            self.frame, self.condition_depth = self.module, 0
            del self.active_calls[:], self.call_chain[:]

    def analyse_uncalled_functions(self) -> None:
        """Code the notebook never calls (or only hands to a library, like a Keras callback's
        methods) is still the student's code: analyse it once, on its own."""
        for _ in range(_MAX_STANDALONE_ROUNDS):
            pending = [info for info in self.functions.values() if not info.analysed]
            if not pending:
                return
            for info in pending:
                info.analysed = True
                if self.total_steps > _TOTAL_STEP_BUDGET:
                    return
                self.run_guarded(partial(self.analyse_standalone, info), cell=info.cell)

    def analyse_standalone(self, info: _Function) -> None:
        bindings = {}
        if info.owner is not None and info.positional:  # a method: self is any instance made
            bindings[info.positional[0]] = (None, info.owner.instances)
        self.run_function(info, bindings, anchor=None, repeated=False, varying_params=set(),
                          standalone=True)

    # names and scopes ----------------------------------------------------------------------------

    def source_value(self, name: str) -> _Value:
        kind = TEST if name in self.test_names else TRAIN
        return _Value(frozenset({Atom(kind, name)}))

    def lookup(self, name: str) -> _Value:
        frame: _Frame | None = self.frame
        while frame is not None:
            if name in frame.global_names:
                return self.module.variables.get(name, EMPTY)
            if frame.owns(name):
                return frame.variables.get(name, EMPTY)
            frame = frame.parent
        return EMPTY

    def store_name(self, name: str, value: _Value, *, mutation: bool = False) -> None:
        frame: _Frame | None = self.frame
        while frame is not None:
            if name in frame.global_names:
                frame = self.module
            if frame.owns(name):
                frame.variables[name] = value
                if mutation and frame.function is not None and name in frame.function.parameters:
                    frame.mutated.add(name)
                return
            frame = frame.parent

    def is_module_reference(self, node: ast.AST | None) -> bool:
        root = _dotted(node)
        if root is None:
            return False
        root = root.split(".")[0]
        if root not in self.modules and root not in self.imported:
            return False
        frame: _Frame | None = self.frame
        while frame is not None and frame.local_names is not None:
            if root in frame.local_names:
                return False
            frame = frame.parent
        return True

    def resolve_name(self, func: ast.expr) -> str:
        dotted = _dotted(func)
        if dotted is None:
            return func.attr if isinstance(func, ast.Attribute) else ""
        root, _, rest = dotted.partition(".")
        if self.is_module_reference(func):
            full = self.modules.get(root) or self.imported.get(root, root)
            return f"{full}.{rest}" if rest else full
        return dotted

    def snapshot(self) -> list[tuple[dict, dict]]:
        """The variables of the current scopes. Inside a function the module's table is left
        out: copying it at every branch is what makes large notebooks slow, and a global
        written in one branch then merely stays visible in the other (an over-approximation)."""
        saved = []
        frame: _Frame | None = self.frame
        while frame is not None and (frame is not self.module or self.frame is self.module):
            saved.append((frame.variables, dict(frame.variables)))
            frame = frame.parent
        return saved

    @staticmethod
    def restore(snapshot: list[tuple[dict, dict]]) -> None:
        for live, saved in snapshot:
            live.clear()
            live.update(saved)

    @staticmethod
    def merge(snapshots: list[list[tuple[dict, dict]]]) -> None:
        """Each variable may hold what any of the paths left in it."""
        for index, (live, _) in enumerate(snapshots[0]):
            states = [snapshot[index][1] for snapshot in snapshots]
            live.clear()
            for name in set().union(*states):
                values = [state.get(name, EMPTY) for state in states]
                same = all(value is values[0] for value in values)  # the common case: untouched
                live[name] = values[0] if same else _join(*values)

    def run_paths(self, blocks: Sequence[Sequence[ast.stmt]]) -> None:
        before, outcomes = self.snapshot(), []
        for block in blocks:
            self.restore(before)
            self.exec_block(block)
            outcomes.append(self.snapshot())
        self.merge(outcomes)

    def push_overlay(self, names: set[str]) -> _Frame:
        parent = self.frame
        overlay = _Frame(variables={}, parent=parent, local_names=frozenset(names),
                         loops=[*parent.loops, frozenset(names)], varying=parent.varying,
                         repeated=parent.repeated, standalone=parent.standalone, activation=parent.owner)
        self.frame = overlay
        return parent

    # statements --------------------------------------------------------------------------------

    def exec_block(self, statements: Sequence[ast.stmt]) -> None:
        for statement in statements:
            self.exec_statement(statement)

    def exec_statement(self, node: ast.stmt) -> None:
        self.steps += 1
        self.total_steps += 1
        if self.steps > _STEP_BUDGET:
            raise _BudgetExhausted
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
        if isinstance(node.value, ast.Lambda) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            value = self.define_function(node.value, node.targets[0].id)
        else:
            value = self.eval(node.value)
        for target in node.targets:
            self.assign(target, value, node.value)

    def stmt_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.assign(node.target, self.eval(node.value), node.value)

    def stmt_AugAssign(self, node: ast.AugAssign) -> None:
        current, added = self.eval(node.target), self.eval(node.value)
        if isinstance(node.op, ast.Add):
            self.check_mixing(node, "+=", [(node.target, current), (node.value, added)])
        self.assign(node.target, _mix(current, added), node.value)

    def stmt_For(self, node: ast.For) -> None:
        iterable = self.eval(node.iter)
        if _single_item_literal(node.iter):  # for m in [final_mlp]: runs once, tries nothing
            self.assign(node.target, iterable.element(), node.iter)
            self.exec_block(node.body)
            self.exec_block(node.orelse)
            return
        self.run_loop(node, lambda: self.assign(node.target, iterable.element(), node.iter))

    stmt_AsyncFor = stmt_For

    def stmt_While(self, node: ast.While) -> None:
        def check_condition() -> None:
            condition = self.eval_condition(node.test)
            if condition.has(SCORE):
                self.report_selection(node, condition, "`while` loop", node.test)
        self.run_loop(node, check_condition)

    def run_loop(self, node: ast.For | ast.AsyncFor | ast.While, start_pass: Callable[[], None]) -> None:
        before = self.snapshot()
        if id(node) not in self.rebound_cache:
            self.rebound_cache[id(node)] = _rebound_in_loop(node)
        self.frame.loops.append(self.rebound_cache[id(node)])
        try:
            for _ in range(_LOOP_PASSES):
                start_pass()
                self.exec_block(node.body)
        finally:
            self.frame.loops.pop()
        after = self.snapshot()
        self.merge([before, after])  # the loop may run zero times
        self.exec_block(node.orelse)

    def stmt_If(self, node: ast.If) -> None:
        condition = self.eval_condition(node.test)
        if condition.has(SCORE) and not (_is_reporting_only(node.body) and _is_reporting_only(node.orelse)):
            self.report_selection(node, condition, "`if` statement", node.test)
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
        self.store_name(node.name, self.define_function(node, node.name))

    stmt_AsyncFunctionDef = stmt_FunctionDef

    def stmt_ClassDef(self, node: ast.ClassDef) -> None:
        bases = [self.classes[a.origin] for base in node.bases for a in self.eval(base).atoms_of(CLASS)]
        info = _Class(f"{self.cell}:{node.lineno}:{node.name}", node.name, bases)
        self.classes[info.key] = info
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                method = self.register_function(statement, f"{node.name}.{statement.name}", owner=info)
                info.methods[statement.name] = method
        self.store_name(node.name, _Value(frozenset({Atom(CLASS, info.key)})))

    def stmt_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.modules[alias.asname] = alias.name
            else:
                root = alias.name.split(".")[0]
                self.modules[root] = root
            self.store_name((alias.asname or alias.name).split(".")[0], EMPTY)

    def stmt_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            name = alias.asname or alias.name
            self.imported[name] = f"{node.module}.{alias.name}" if node.module else alias.name
            self.modules.pop(name, None)
            self.store_name(name, EMPTY)

    def stmt_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.store_name(target.id, EMPTY)

    def stmt_Global(self, node: ast.Global) -> None:
        pass  # scopes are computed when the function is registered

    stmt_Nonlocal = stmt_Global

    # functions ------------------------------------------------------------------------------------

    def define_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, name: str) -> _Value:
        info = self.register_function(node, name)
        return _Value(frozenset({Atom(FUNC, info.key)}))

    def register_function(self, node, name: str, owner: _Class | None = None) -> _Function:
        """Reuse one record per definition, so re-running a cell (or an enclosing function)
        keeps a single function, with the latest closure and defaults."""
        key = f"{self.cell}:{node.lineno}:{node.col_offset}:{name}"
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        defaults = {a.arg: self.eval(d) for a, d in zip(positional[len(positional) - len(args.defaults):],
                                                         args.defaults)}
        defaults.update({a.arg: self.eval(d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d})
        info = self.functions.get(key)
        if info is None:
            info = self.functions[key] = _Function(key, name, node, self.cell, self.frame, defaults, owner)
        info.closure, info.defaults = self.frame, defaults
        return info

    def invoke(self, info: _Function, call: _Call, self_value: _Value | None = None,
               self_node: ast.expr | None = None) -> tuple[_Value, _Value | None]:
        """Analyse one call of a user function; returns (result, the object bound to its first
        parameter afterwards, for constructors and methods)."""
        anchor = Anchor(self.cell, call.node.lineno, info.name)
        bindings = self.bind_arguments(info, call, self_value, self_node)
        varying = {name for name, (node, _) in bindings.items()
                   if node is not None and self.expr_varies(node)}
        return self.run_function(info, bindings, anchor, repeated=self.frame.in_multi(),
                                 varying_params=varying, standalone=self.frame.standalone)

    def invoke_callback(self, info: _Function, call: _Call, element: _Value) -> _Value:
        """A function handed to a library (``map(f, models)``, ``key=f``) runs once per item."""
        anchor = Anchor(self.cell, call.node.lineno, info.name)
        bindings = {name: (None, element) for name in info.positional}
        result, _ = self.run_function(info, bindings, anchor, repeated=True,
                                      varying_params=set(bindings), standalone=self.frame.standalone)
        return result

    def bind_arguments(self, info: _Function, call: _Call, self_value: _Value | None,
                       self_node: ast.expr | None) -> dict[str, tuple[ast.expr | None, _Value]]:
        """Parameter -> (the caller's argument expression, its value), as Python would bind them;
        the expression tells whether the argument differs per call and where mutations go."""
        params = list(info.positional)
        bindings: dict[str, tuple[ast.expr | None, _Value]] = {}
        if self_value is not None and params:
            bindings[params.pop(0)] = (self_node, self_value)
        positional, spread = self.expand_positional(call.args)
        bindings.update(zip(params, positional))
        if spread is not None:  # f(*unknown): any remaining parameter may receive it
            bindings.update((name, spread) for name in params[len(positional):])
        self.bind_keywords(info, params, call.keywords, bindings)
        if info.node.args.vararg is not None:
            extra = tuple(value for _, value in positional[len(params):])
            bindings[info.node.args.vararg.arg] = (None, _Value(parts=extra))
        for name, default in info.defaults.items():
            bindings.setdefault(name, (None, default))
        return bindings

    @staticmethod
    def bind_keywords(info: _Function, params: list[str], keywords, bindings: dict) -> None:
        kwarg = info.node.args.kwarg
        for key, node, value in keywords:
            if key is None:  # f(**options): may fill any parameter
                for name in [*params, *info.keyword_only]:
                    bindings.setdefault(name, (node, value.flat()))
            elif key in params or key in info.keyword_only:
                bindings[key] = (node, value)
            elif kwarg is not None:
                collected = bindings.get(kwarg.arg, (None, _Value(fields=())))[1]
                bindings[kwarg.arg] = (None, collected.with_field(key, value))

    @staticmethod
    def expand_positional(args: list[tuple[ast.expr, _Value]]):
        expanded: list[tuple[ast.expr, _Value]] = []
        spread = None
        for node, value in args:
            if isinstance(node, ast.Starred) and value.parts is not None:
                expanded.extend((node.value, part) for part in value.parts)
            elif isinstance(node, ast.Starred):
                spread = (node.value, value.flat())
            else:
                expanded.append((node, value))
        return expanded, spread

    def run_function(self, info: _Function, bindings: dict, anchor: Anchor | None, *, repeated: bool,
                     varying_params: set[str], standalone: bool) -> tuple[_Value, _Value | None]:
        """Interpret the body with its own frame; data from the caller is re-anchored at the call
        site on the way in and back on the way out."""
        if info.key in self.active_calls or len(self.active_calls) >= _MAX_CALL_DEPTH:
            return _mix(*(value for _, value in bindings.values())).drop(_CODE_KINDS), None
        caller = self.frame
        varying = info.assigned_locals | varying_params | caller.varying_keys() if repeated else frozenset()
        frame = _Frame(variables={name: _rebase(value, anchor) for name, (_, value) in bindings.items()},
                       parent=info.closure, local_names=info.local_names, global_names=info.global_names,
                       function=info, varying=frozenset(varying), repeated=repeated, standalone=standalone)
        saved = (self.frame, self.cell, self.condition_depth)
        self.frame, self.cell, self.condition_depth = frame, info.cell, 0
        self.active_calls.append(info.key)
        self.call_chain.append(anchor)
        info.analysed = True
        try:
            if isinstance(info.node, ast.Lambda):
                frame.returns.append((info.node.lineno, self.eval(info.node.body)))
            else:
                self.exec_block(info.node.body)
            self.check_tuning_return(info, frame)
        finally:
            self.frame, self.cell, self.condition_depth = saved
            self.active_calls.pop()
            self.call_chain.pop()
        self.propagate_mutations(frame, bindings, anchor)
        result = _unbase(_join(*(value for _, value in frame.returns)), anchor)
        first = info.positional[0] if info.positional else None
        bound_self = _unbase(frame.variables[first], anchor) if first in frame.variables else None
        return result, bound_self

    def propagate_mutations(self, frame: _Frame, bindings: dict, anchor: Anchor | None) -> None:
        """``results.append(...)`` or ``self.x = ...`` inside a call changes the caller's object."""
        for name in frame.mutated:
            node = bindings.get(name, (None, None))[0]
            if node is not None and name in frame.variables:
                self.store_into(node, _unbase(frame.variables[name], anchor))

    def instantiate(self, info: _Class, call: _Call) -> _Value:
        instance = _Value(frozenset({Atom(OBJ, info.key), Atom(MODEL, self.allocation_id(call.node))}))
        init = self.find_method(info, "__init__")
        if init is None:  # a subclass of a library class: it keeps what it was given
            instance = _join(instance, _mix(*call.input_values()).keep(_DATA_KINDS))
        else:
            _, bound = self.invoke(init, call, self_value=instance)
            instance = bound or instance
        info.instances = _join(info.instances, instance)
        return instance

    def find_method(self, info: _Class, name: str, seen: frozenset = frozenset()) -> _Function | None:
        if name in info.methods:
            return info.methods[name]
        for base in info.bases:
            if base.key not in seen:
                found = self.find_method(base, name, seen | {info.key})
                if found is not None:
                    return found
        return None

    def check_tuning_return(self, info: _Function, frame: _Frame) -> None:
        """A tuning function that hands back test results makes its caller choose on them. The
        choice is usually visible (``max``, ``if``) and reported there; this verdict is kept
        only if no such choice is found anywhere."""
        if not info.tunes or frame.reported_selection:
            return
        for line, value in frame.returns:
            scores = [atom for atom in value.atoms_of(SCORE) if atom.anchor is None]
            if scores:
                location = (self.cell, line)
                explanation = (f"`{info.name}` returns test-set results ({_origins(scores)}) as the "
                               "outcome of its tuning, so whatever is chosen from them is chosen on the "
                               "test set. Return validation scores instead, and evaluate only the final "
                               "model on the test set.")
                leak = Leak("L3", location[0], location[1], self.code_at(location), explanation)
                self.pending_returns.append((leak, frozenset(atom.origin for atom in scores)))
                return

    # assignment -------------------------------------------------------------------------------

    def assign(self, target: ast.expr, value: _Value, value_node: ast.expr | None,
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

    def assign_name(self, target: ast.Name, value: _Value, value_node: ast.expr | None,
                    dataset_unpacking: bool) -> None:
        name = target.id
        value = self.keep_dataset_role(name, value, value_node, dataset_unpacking)
        if isinstance(value_node, ast.Call):
            value = self.name_new_models(value, name, value_node)
        if name in self.train_names:
            self.check_test_into_train(target, name, value)
        if self.frame is self.module:
            self.modules.pop(name, None)
            self.imported.pop(name, None)
        self.store_name(name, value)

    def keep_dataset_role(self, name: str, value: _Value, value_node: ast.expr | None,
                          dataset_unpacking: bool) -> _Value:
        """Loading the data again (``X_train, X_test, ... = load()``) keeps each name's role;
        any other untainted value assigned to it clears it."""
        if name not in self.test_names and name not in self.train_names:
            return value
        if self.frame is not self.module:
            return value
        if value.has(TEST) != value.has(TRAIN):  # X_test_flat = X_test.reshape(...): a data set of its own
            own_role = TEST if name in self.test_names else TRAIN
            return self.source_value(name) if value.has(own_role) else value
        if value.has(TEST):
            return value
        loaded = isinstance(value_node, ast.Call) and _LOADER_NAME.search(_dotted(value_node.func) or "")
        return self.source_value(name) if dataset_unpacking or loaded else value

    def name_new_models(self, value: _Value, name: str, creation: ast.Call) -> _Value:
        """A model created on this line is known by its name and how it was built: re-running
        ``final_mlp = MLPClassifier(...)`` unchanged in a second cell is the same final model,
        building ``model`` again with other settings is another candidate. Inside helpers the
        call site is part of it too, since each call builds its own model."""
        named = f"name:{name}={_short_source(creation, 500)}@{self.call_chain_text()}"
        return value.map_atoms(lambda a: a._replace(origin=named)
                               if a.kind == MODEL and a.origin.startswith("new:") else a)

    def assign_unpacking(self, target: ast.Tuple | ast.List, value: _Value, value_node: ast.expr | None) -> None:
        names = {node.id for node in ast.walk(target) if isinstance(node, ast.Name)}
        dataset = bool(names & set(self.test_names)) and bool(names & set(self.train_names))
        elements = target.elts
        nodes = value_node.elts if isinstance(value_node, (ast.Tuple, ast.List)) \
            and len(value_node.elts) == len(elements) else [value_node] * len(elements)
        stars = [i for i, node in enumerate(elements) if isinstance(node, ast.Starred)]
        if value.parts is not None and not stars and len(value.parts) == len(elements):
            pieces = list(value.parts)
        elif value.parts is not None and len(stars) == 1 and len(value.parts) >= len(elements) - 1:
            star, tail = stars[0], len(elements) - stars[0] - 1
            middle = value.parts[star: len(value.parts) - tail]
            pieces = [*value.parts[:star], _Value(parts=tuple(middle)), *value.parts[len(value.parts) - tail:]]
        else:
            pieces = [value.flat()] * len(elements)
        for element, piece, node in zip(elements, pieces, nodes):
            self.assign(element, piece, node, dataset)

    def assign_attribute(self, target: ast.Attribute, value: _Value) -> None:
        if target.attr in self.train_names:
            self.check_test_into_train(target, target.attr, value)
        base = self.eval(target.value)
        self.store_into(target.value, base.with_field(target.attr, value))

    def assign_subscript(self, target: ast.Subscript, value: _Value, value_node: ast.expr | None) -> None:
        base, key = self.eval(target.value), _constant(target.slice)
        if isinstance(key, str):
            self.store_into(target.value, base.with_field(key, value))
            return
        self.eval(target.slice)
        if base.has(TRAIN) and value.has(TEST) and not value.has(TRAIN):
            self.report_mixing(target, "this slice assignment", (value_node, value), (target.value, base))
        self.store_into(target.value, base.with_own(value.atoms))

    def store_into(self, node: ast.expr | None, value: _Value) -> None:
        """Write a changed object back to the variable it hangs from."""
        if isinstance(node, ast.Name):
            if not self.is_module_reference(node):
                self.store_name(node.id, value, mutation=True)
        elif isinstance(node, ast.Attribute):
            self.store_into(node.value, self.eval(node.value).with_field(node.attr, value))
        elif isinstance(node, ast.Subscript):
            base, key = self.eval(node.value), _constant(node.slice)
            changed = base.with_field(key, value) if isinstance(key, str) else base.with_own(value.atoms)
            self.store_into(node.value, changed)

    # expressions ---------------------------------------------------------------------------------

    def eval(self, node: ast.AST | None) -> _Value:
        if node is None:
            return EMPTY
        handler = getattr(self, f"expr_{type(node).__name__}", None)
        if handler is not None:
            return handler(node)
        return _mix(*(self.eval(child) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr)))

    def eval_condition(self, node: ast.expr) -> _Value:
        """Comparisons in a condition are judged with the statement that owns the condition."""
        self.condition_depth += 1
        try:
            return self.eval(node)
        finally:
            self.condition_depth -= 1

    def expr_Constant(self, node: ast.Constant) -> _Value:
        return EMPTY

    def expr_Name(self, node: ast.Name) -> _Value:
        if self.is_module_reference(node):
            return EMPTY
        return self.lookup(node.id)

    def expr_Attribute(self, node: ast.Attribute) -> _Value:
        base = EMPTY if self.is_module_reference(node.value) else self.eval(node.value)
        return self.read_member(base, node.attr)

    def read_member(self, base: _Value, key: str) -> _Value:
        if key in self.test_names or key in self.train_names:
            return self.source_value(key)
        if key in _DESCRIBE_ATTRIBUTES:
            return EMPTY
        entry = base.field(key)
        return entry if entry is not None else base.flat().drop(_CODE_KINDS)

    def expr_Subscript(self, node: ast.Subscript) -> _Value:
        if isinstance(node.value, ast.Attribute) and node.value.attr in _INDEX_MIXERS \
                and self.is_module_reference(node.value.value):
            return self.index_mixer(node)
        base, index, key = self.eval(node.value), self.eval(node.slice), _constant(node.slice)
        chosen = index.keep({SCORE})  # picked by a test score: the choice carries it along
        if isinstance(key, str):
            return _join(self.read_member(base, key), chosen)
        if isinstance(key, int) and not isinstance(key, bool) and (part := base.part(key)) is not None:
            return _join(part, chosen)
        return _join(base.flat().drop(_CODE_KINDS - {OBJ}), chosen)

    def index_mixer(self, node: ast.Subscript) -> _Value:
        elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        parts = [(element, self.eval(element)) for element in elements]
        assert isinstance(node.value, ast.Attribute)  # expr_Subscript calls here for `np.<mixer>[...]` only
        self.check_mixing(node, f"np.{node.value.attr}[...]", parts)
        return _mix(*(value for _, value in parts))

    def expr_Tuple(self, node: ast.Tuple | ast.List) -> _Value:
        values = [self.eval(element) for element in node.elts]
        if any(isinstance(element, ast.Starred) for element in node.elts):
            return _mix(*values)
        return _Value(parts=tuple(values))

    expr_List = expr_Tuple

    def expr_Set(self, node: ast.Set) -> _Value:
        return _mix(*(self.eval(element) for element in node.elts))

    def expr_Dict(self, node: ast.Dict) -> _Value:
        result = _Value(fields=())
        for key_node, value_node in zip(node.keys, node.values):
            value, key = self.eval(value_node), _constant(key_node)
            if key_node is None:  # {**other}
                result = self.merge_entries(result, value)
            elif isinstance(key, str):
                result = result.with_field(key, value)
            else:
                result = result.with_own(_mix(self.eval(key_node), value).atoms)
        return result

    @staticmethod
    def merge_entries(result: _Value, other: _Value) -> _Value:
        if other.fields is None:
            return result.with_own(other.atoms)
        for key, entry in other.fields:
            result = result.with_field(key, entry)
        return result.with_own(other.own)

    def expr_JoinedStr(self, node: ast.JoinedStr) -> _Value:
        for part in node.values:
            self.eval(part)  # an f-string may call a sink; its text is not data
        return EMPTY

    def expr_FormattedValue(self, node: ast.FormattedValue) -> _Value:
        self.eval(node.value)
        self.eval(node.format_spec)
        return EMPTY

    def expr_NamedExpr(self, node: ast.NamedExpr) -> _Value:
        value = self.eval(node.value)
        self.assign(node.target, value, node.value)
        return value

    def expr_Starred(self, node: ast.Starred) -> _Value:
        return self.eval(node.value)

    def expr_Yield(self, node: ast.Yield) -> _Value:
        self.frame.owner.returns.append((node.lineno, self.eval(node.value)))
        return EMPTY

    expr_YieldFrom = expr_Yield

    def expr_Lambda(self, node: ast.Lambda) -> _Value:
        return self.define_function(node, "<lambda>")

    def expr_BinOp(self, node: ast.BinOp) -> _Value:
        left, right = self.eval(node.left), self.eval(node.right)
        if isinstance(node.op, ast.Add):
            self.check_mixing(node, "+", [(node.left, left), (node.right, right)])
        return _mix(left, right)

    def expr_Compare(self, node: ast.Compare) -> _Value:
        operands = [node.left, *node.comparators]
        values = [self.eval(operand) for operand in operands]
        result = _mix(*values)
        ordering = any(isinstance(op, (ast.Lt, ast.Gt, ast.LtE, ast.GtE)) for op in node.ops)
        scored_sides = sum(value.has(SCORE) for value in values)
        if ordering and self.condition_depth == 0 and scored_sides >= 2:  # acc > best_acc
            self.report_selection(node, result, "comparison", node)
        return result

    def expr_IfExp(self, node: ast.IfExp) -> _Value:
        condition = self.eval_condition(node.test)
        body, orelse = self.eval(node.body), self.eval(node.orelse)
        constant_branches = isinstance(node.body, ast.Constant) and isinstance(node.orelse, ast.Constant)
        if condition.has(SCORE) and not constant_branches:
            self.report_selection(node, condition, "conditional expression", node.test)
        return _join(body, orelse, condition.keep({SCORE}))

    def expr_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> _Value:
        return self.comprehension(node, [node.elt])

    expr_SetComp = expr_GeneratorExp = expr_ListComp

    def expr_DictComp(self, node: ast.DictComp) -> _Value:
        return self.comprehension(node, [node.key, node.value])

    def comprehension(self, node, results: list[ast.expr]) -> _Value:
        names = {n.id for gen in node.generators for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        outermost = self.eval(node.generators[0].iter)  # evaluated in the enclosing scope, as Python does
        parent = self.push_overlay(names)
        try:
            for index, generator in enumerate(node.generators):
                iterable = outermost if index == 0 else self.eval(generator.iter)
                self.assign(generator.target, iterable.element(), generator.iter)
                for condition_node in generator.ifs:
                    condition = self.eval_condition(condition_node)
                    if condition.has(SCORE):
                        self.report_selection(condition_node, condition, "comprehension filter", condition_node)
            return _mix(*(self.eval(result) for result in results))
        finally:
            self.frame = parent

    def eval_inline_lambda(self, node: ast.Lambda, element: _Value) -> _Value:
        """``key=lambda m: ...`` or ``map(lambda m: ..., models)``: the body runs once per item,
        so it is analysed like a loop body whose loop variables are the parameters."""
        args = node.args
        names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}
        parent = self.push_overlay(names)
        try:
            for name in names:
                self.frame.variables[name] = element
            return self.eval(node.body).flat()
        finally:
            self.frame = parent

    # calls -------------------------------------------------------------------------------------

    def expr_Call(self, node: ast.Call) -> _Value:
        call = self.prepare_call(node)
        user = self.call_user_code(call)
        if user is not None:
            return user
        self.run_callbacks(call)
        for handler in (self.call_getattr, self.call_describing, self.call_fitting, self.call_evaluating,
                        self.call_cross_validation, self.call_metric, self.call_model_directly):
            result = handler(call)
            if result is not None:
                return result
        self.check_validation_keywords(call)
        self.check_concatenation(call)
        self.check_selection_call(call)
        self.apply_mutation(call)
        constructed = self.call_constructor(call)
        return constructed if constructed is not None else self.call_generic(call)

    def prepare_call(self, node: ast.Call) -> _Call:
        func = node.func
        method = isinstance(func, ast.Attribute) and not self.is_module_reference(func.value)
        receiver_node = func.value if method and isinstance(func, ast.Attribute) else None
        receiver = self.eval(receiver_node) if method else EMPTY
        module_function = isinstance(func, ast.Attribute) and not method
        callee = EMPTY if method or module_function else self.eval(func)
        name = self.resolve_name(func)
        args, keywords = self.eval_arguments(node, receiver)
        method_name = func.attr if method and isinstance(func, ast.Attribute) else None
        return _Call(node, name, name.split(".")[-1], method_name, receiver_node,
                     receiver, callee, args, keywords)

    def eval_arguments(self, node: ast.Call, receiver: _Value):
        """Inline lambdas go last: they run once per item of the other arguments."""
        def now(arg: ast.expr) -> _Value:
            return EMPTY if isinstance(arg, ast.Lambda) else self.eval(arg)
        args = [(arg, now(arg)) for arg in node.args]
        keywords = [(kw.arg, kw.value, now(kw.value)) for kw in node.keywords]
        if not any(isinstance(n, ast.Lambda) for n in [*node.args, *(kw.value for kw in node.keywords)]):
            return args, keywords
        element = _join(receiver.element(), *(value.element() for _, value in args))
        def later(arg: ast.expr, value: _Value) -> _Value:
            return self.eval_inline_lambda(arg, element) if isinstance(arg, ast.Lambda) else value
        return ([(arg, later(arg, value)) for arg, value in args],
                [(key, arg, later(arg, value)) for key, arg, value in keywords])

    def call_user_code(self, call: _Call) -> _Value | None:
        results = []
        if call.method is not None:
            for atom in call.receiver.atoms_of(OBJ):
                method = self.find_method(self.classes[atom.origin], call.method)
                if method is not None:
                    results.append(self.invoke_method(method, call, call.receiver, call.receiver_node))
        else:
            for atom in call.callee.atoms:
                if atom.kind == FUNC:
                    results.append(self.invoke(self.functions[atom.origin], call)[0])
                elif atom.kind == CLASS:
                    results.append(self.instantiate(self.classes[atom.origin], call))
                elif atom.kind == OBJ:
                    method = self.find_method(self.classes[atom.origin], "__call__")
                    if method is not None:
                        results.append(self.invoke_method(method, call, call.callee, call.node.func))
        return _join(*results) if results else None

    def invoke_method(self, method: _Function, call: _Call, receiver: _Value,
                      receiver_node: ast.expr | None) -> _Value:
        result, bound = self.invoke(method, call, self_value=receiver, self_node=receiver_node)
        if bound is not None and bound != receiver:
            self.store_into(receiver_node, bound)
        return result

    def run_callbacks(self, call: _Call) -> None:
        """User functions passed to library calls run there, once per item."""
        element = _join(call.receiver.element(), *(value.element() for value in call.input_values()
                                                   if not value.has(FUNC)))
        for index, (node, value) in enumerate(call.args):
            results = [self.invoke_callback(self.functions[a.origin], call, element) for a in value.atoms_of(FUNC)]
            if results:
                call.args[index] = (node, _join(value, *results))
        for index, (key, node, value) in enumerate(call.keywords):
            results = [self.invoke_callback(self.functions[a.origin], call, element) for a in value.atoms_of(FUNC)]
            if results:
                call.keywords[index] = (key, node, _join(value, *results))

    def call_getattr(self, call: _Call) -> _Value | None:
        """``getattr(data, "X_test")`` is ``data.X_test``."""
        if call.method is not None or call.short != "getattr" or len(call.args) < 2:
            return None
        base, name = call.args[0][1], _constant(call.args[1][0])
        return self.read_member(base, name) if isinstance(name, str) else None

    def call_describing(self, call: _Call) -> _Value | None:
        describing = call.method in _DESCRIBE_METHODS if call.method else call.short in _DESCRIBE_FUNCTIONS
        return EMPTY if describing else None

    def call_generic(self, call: _Call) -> _Value:
        result = _mix(call.receiver, *call.input_values()).drop(_CODE_KINDS)
        if self.is_scalar_reduction(call):
            result = result.drop({TEST, TRAIN})  # X_test.max() describes the data, it is not rows
        return result

    def is_scalar_reduction(self, call: _Call) -> bool:
        if call.short not in _REDUCTIONS or call.keyword("axis") is not None:
            return False
        if call.method is not None:
            return not call.args
        return isinstance(call.node.func, ast.Attribute) and len(call.args) == 1

    def call_constructor(self, call: _Call) -> _Value | None:
        """A class-like call makes a new model (or layer, or callback): remember where, so the
        same model can be recognised under another name and told apart from other models."""
        if call.method is not None or call.short in _DATA_CLASSES:
            return None
        if not (call.short[:1].isupper() or call.short in _MODEL_FACTORIES):
            return None
        atoms = {Atom(MODEL, self.allocation_id(call.node))}
        if call.short.endswith("SearchCV") or call.short in _SEARCH_CLASSES:
            atoms.add(Atom(SEARCH))
        data = _mix(*call.input_values()).drop(_CODE_KINDS | {MODEL})
        return data.with_own(atoms)

    def allocation_id(self, node: ast.expr) -> str:
        return f"new:{self.cell}:{node.lineno}:{node.col_offset}@{self.call_chain_text()}"

    def call_chain_text(self) -> str:
        return "/".join(f"{a.cell}:{a.line}" for a in self.call_chain if a is not None)

    def apply_mutation(self, call: _Call) -> None:
        if call.method in _MUTATING_METHODS and call.receiver_node is not None:
            added = _mix(*call.input_values()).drop(_CODE_KINDS)
            self.store_into(call.receiver_node, call.receiver.with_own(added.atoms))

    # sinks: training ---------------------------------------------------------------------------

    def call_fitting(self, call: _Call) -> _Value | None:
        if call.method not in _FIT_METHODS:
            return None
        search = call.receiver.has(SEARCH) or call.method == "search"
        tainted = [(node, value) for node, value in call.inputs() if value.has(TEST)]
        for node, value in tainted:
            self.report_training(call, node, value)
            if search:
                self.report_search(call, node, value)
        produced = set()
        for _node, value in tainted:
            for anchor in {atom.anchor for atom in value.atoms_of(TEST)}:
                produced.add(Atom(SCORE, self.evidence(call.node, anchor), anchor))
        if search and produced and call.receiver_node is not None:
            self.store_into(call.receiver_node, call.receiver.with_own(produced))
        if call.method in _FIT_RETURNS_DATA:
            return _mix(call.receiver, *call.input_values()).drop(_CODE_KINDS)
        return call.receiver.with_own(produced)  # sklearn returns the model; Keras a History

    def check_validation_keywords(self, call: _Call) -> None:
        for keyword in _VALIDATION_KEYWORDS:
            found = call.keyword(keyword)
            if found is not None and found[1].has(TEST):
                self.report_training(call, found[0], found[1])

    def call_cross_validation(self, call: _Call) -> _Value | None:
        if call.method is not None or call.short not in _CROSS_VALIDATION:
            return None
        tainted = [(node, value) for node, value in call.inputs() if value.has(TEST)]
        scores = set()
        for node, value in tainted:
            self.report_training(call, node, value)
            for anchor in {atom.anchor for atom in value.atoms_of(TEST)}:
                location = self.location(call.node, anchor)
                data = self.describe_data(node, value)
                self.report("L1", location, f"`{call.short}` trains and scores several models on test data "
                            f"({data}){_via(anchor)}. Cross-validate on the training data only, and "
                            "evaluate the final model on the test set once.")
                scores.add(Atom(SCORE, self.evidence(call.node, anchor), anchor))
        return _Value(frozenset(scores))

    # sinks: evaluation -------------------------------------------------------------------------

    def call_evaluating(self, call: _Call) -> _Value | None:
        if call.method == "update_state":
            result = self.call_metric(call, force=True)
            assert result is not None  # forced, call_metric always gives a value
            self.store_into(call.receiver_node, call.receiver.with_own(result.atoms))
            return result
        if call.method in _EVAL_SCORE_METHODS:
            return self.evaluate(call, SCORE, call.receiver_node, call.receiver)
        if call.method in _EVAL_PREDICT_METHODS:
            return self.evaluate(call, PRED, call.receiver_node, call.receiver)
        return None

    def call_model_directly(self, call: _Call) -> _Value | None:
        """``model(X_test)`` is Keras' predict."""
        if call.method is None and call.callee.has(MODEL) and not call.callee.has(FUNC) \
                and not call.callee.has(CLASS):
            return self.evaluate(call, PRED, call.node.func, call.callee)
        return None

    def call_metric(self, call: _Call, force: bool = False) -> _Value | None:
        if not force and not self.is_metric(call):
            return None
        merged = _mix(*call.input_values())
        if merged.has(PRED) or merged.has(SCORE):  # the evaluation was where predictions were made
            return merged.keep({SCORE}).with_own(_scores_from_predictions(merged))
        if not merged.has(TEST):
            return EMPTY
        others = [(node, value) for node, value in call.inputs() if not value.has(TEST)]
        receiver_node, receiver = others[0] if others else (call.node.func, EMPTY)
        return self.evaluate(call, SCORE, receiver_node, receiver)

    def is_metric(self, call: _Call) -> bool:
        if call.method is not None or call.short in _CROSS_VALIDATION:
            return False
        dotted = f".{call.name}."
        return (call.short in _METRICS or ".metrics." in dotted or ".losses." in dotted
                or call.short.endswith(_METRIC_SUFFIXES))

    def evaluate(self, call: _Call, kind: str, receiver_node: ast.expr | None, receiver: _Value) -> _Value:
        tested = [(node, value) for node, value in call.inputs() if value.has(TEST)]
        if not tested:
            return EMPTY
        data_node, data_value = tested[0]
        identity = self.model_identity(receiver_node, receiver)
        candidates = self.frame.in_multi() and self.expr_varies(receiver_node)
        produced = set()
        for anchor in sorted({atom.anchor for _, v in tested for atom in v.atoms_of(TEST)}, key=_anchor_order):
            location = self.location(call.node, anchor)
            if candidates:
                self.report("L1", location, self.explain_repeated_evaluation(receiver_node, data_node,
                                                                             data_value, anchor))
            self.record_site(location, identity, _short_source(receiver_node))
            produced.add(Atom(kind, self.evidence(call.node, anchor), anchor))
        return _Value(frozenset(produced))

    def model_identity(self, receiver_node: ast.expr | None, receiver: _Value) -> frozenset[str]:
        models = frozenset(atom.origin for atom in receiver.atoms_of(MODEL))
        return models or frozenset({f"expr:{_short_source(receiver_node)}"})

    def expr_varies(self, node: ast.expr | None) -> bool:
        """Can this expression denote a different model on each pass / call?"""
        if node is None or not self.frame.in_multi():
            return False
        return _contains_call(node) or not _reference_keys(node).isdisjoint(self.frame.varying_keys())

    def record_site(self, location: tuple[int, int], identity: frozenset[str], receiver: str) -> None:
        key = (location, identity)
        if key not in self.sites:
            self.sites[key] = _Site(next(self.sequence), location, identity, receiver,
                                    counts=not self.frame.standalone)

    def flag_distinct_models(self) -> None:
        """Sites evaluating another model than the final one: every such model was a candidate
        tried on the test set. The final model is the last one evaluated whose name says so
        (the course asks for ``final_mlp``), else simply the last one evaluated."""
        sites = sorted((site for site in self.sites.values()
                        if site.counts and site.receiver not in self.reported_models),
                       key=lambda site: site.seq)
        if len(sites) < 2:
            return
        named_final = [site for site in sites if "final" in site.receiver.lower()]
        final = (named_final or sites)[-1]
        for site in sites:
            if site.identity.isdisjoint(final.identity):
                other = "a model built differently under the same name" if site.receiver == final.receiver \
                    else "a different model"
                self.report("L1", site.location,
                            f"`{site.receiver}` is evaluated on the test set here, and so is {other} "
                            f"(`{final.receiver}`, cell {final.location[0] + 1} line {final.location[1]}); only "
                            f"the single final model may be. Instead, {self.validation_advice()}")

    def name_the_final_model(self, leak: Leak) -> Leak:
        """Advice reads better with the student's own name for the final model, once known."""
        final = [site.receiver for site in self.sites.values() if site.counts and "final" in site.receiver.lower()]
        if not final or _FINAL_MODEL_ADVICE not in leak.explanation:
            return leak
        named = leak.explanation.replace(_FINAL_MODEL_ADVICE, f"for `{final[-1]}` only")
        return dataclasses.replace(leak, explanation=named)

    # sinks: selection --------------------------------------------------------------------------

    def check_selection_call(self, call: _Call) -> None:
        chooses = call.method in _SELECTION_METHODS if call.method else call.short in _SELECTION_FUNCTIONS
        if not chooses:
            return
        candidates = [call.receiver, *(value for _, value in call.args),
                      *(value for key, _, value in call.keywords if key in ("key", "by"))]
        merged = _mix(*candidates)
        if merged.has(SCORE):
            self.report_selection(call.node, merged, "call", call.node)

    def report_selection(self, node: ast.expr | ast.stmt, value: _Value, construct: str, shown: ast.AST) -> None:
        scores = value.atoms_of(SCORE)
        self.selection_origins.update(atom.origin for atom in scores)
        self.frame.owner.reported_selection = True
        for anchor in sorted({atom.anchor for atom in scores}, key=_anchor_order):
            origins = _origins([atom for atom in scores if atom.anchor == anchor])
            if anchor is None:
                lead = (f"This {construct} chooses using test-set results: `{_short_source(shown)}` "
                        f"depends on {origins}.")
            else:
                origins = origins.replace(f" in your helper `{anchor.helper}` "
                                          f"(called in cell {anchor.cell + 1}, line {anchor.line})", "")
                lead = (f"Your helper `{anchor.helper}`, called here, chooses using test-set results: its "
                        f"{construct} `{_short_source(shown)}` depends on {origins}.")
            self.report("L3", self.location(node, anchor),
                        f"{lead} Choosing hyperparameters or models by their test score makes that score "
                        "over-optimistic; choose by validation accuracy instead, and report the test score of "
                        "the final model only.")

    # sinks: overlap ----------------------------------------------------------------------------

    def check_concatenation(self, call: _Call) -> None:
        if call.method is None and call.short in _CONCAT_FUNCTIONS \
                and (call.short != "append" or isinstance(call.node.func, ast.Attribute)):
            self.check_mixing(call.node, f"{_dotted(call.node.func) or call.short}(...)", call.args)
        elif call.method in _CONCAT_METHODS and call.receiver_node is not None:
            self.check_mixing(call.node, f"{_short_source(call.node.func, 40)}(...)",
                              [(call.receiver_node, call.receiver), *call.args])

    def check_mixing(self, node: ast.expr | ast.stmt, operation: str,
                     parts: Sequence[tuple[ast.expr | None, _Value]]) -> None:
        pieces = list(self.expand_pieces(parts))
        fresh_test = [i for i, (_, value) in enumerate(pieces) if value.has(TEST) and not value.has(TRAIN)]
        training = [i for i, (_, value) in enumerate(pieces) if value.has(TRAIN)]
        for i in fresh_test:
            others = [j for j in training if j != i]
            if others:
                self.report_mixing(node, f"`{operation}`", pieces[i], pieces[others[0]])
                return

    @staticmethod
    def expand_pieces(parts: Sequence[tuple[ast.expr | None, _Value]]) -> Iterator[tuple[ast.expr | None, _Value]]:
        for node, value in parts:
            if value.parts is not None and isinstance(node, (ast.List, ast.Tuple)) \
                    and len(node.elts) == len(value.parts):
                yield from zip(node.elts, value.parts)
            elif value.parts is not None:
                yield from ((node, part) for part in value.parts)
            else:
                yield node, value

    def report_mixing(self, node: ast.expr | ast.stmt, operation: str, test_piece, train_piece) -> None:
        test_node, test_value = test_piece
        train_node, train_value = train_piece
        for anchor in sorted({atom.anchor for atom in test_value.atoms_of(TEST)}, key=_anchor_order):
            self.report("L4", self.location(node, anchor),
                        f"{operation[0].upper()}{operation[1:]} mixes test data "
                        f"({self.describe_data(test_node, test_value)}) with training data "
                        f"({self.describe_data(train_node, train_value, TRAIN)}){_via(anchor)}, so whatever "
                        "trains or tunes on the result sees test rows. Keep the test set apart; if you need "
                        "validation data, split it off the training set with train_test_split.")

    def check_test_into_train(self, target: ast.expr, name: str, value: _Value) -> None:
        for anchor in sorted({atom.anchor for atom in value.atoms_of(TEST)}, key=_anchor_order):
            self.report("L4", self.location(target, anchor),
                        f"Test data ({', '.join(f'`{o}`' for o in self.origins_of(value, TEST))}) is stored in "
                        f"the training variable `{name}`{_via(anchor)}, so everything trained on `{name}` "
                        f"afterwards learns from test rows. Keep `{name}` for training data only and give the "
                        "test data its own name.")

    # reporting ---------------------------------------------------------------------------------

    def report_training(self, call: _Call, node: ast.expr, value: _Value) -> None:
        keyword = next((key for key, kw_node, _ in call.keywords if kw_node is node), None)
        for anchor in sorted({atom.anchor for atom in value.atoms_of(TEST)}, key=_anchor_order):
            data = self.describe_data(node, value)
            if keyword in _VALIDATION_KEYWORDS:
                text = (f"`{keyword}=` receives test data ({data}){_via(anchor)}, so the test set steers "
                        "training (its score is watched every epoch, for example by early stopping). Use "
                        "`validation_split=0.1`, or a validation set split off the training data with "
                        "train_test_split.")
            elif keyword == "callbacks":
                text = (f"A callback built with test data ({data}) is passed to `.{call.method}(...)`"
                        f"{_via(anchor)}, so the test set steers training. Give callbacks validation data "
                        "split off the training set instead.")
            else:
                target = f".{call.method}(...)" if call.method else f"{call.short}(...)"
                text = (f"Test data ({data}) is passed to `{target}`{_via(anchor)}, so the model is trained on "
                        f"the test set. Train on the training data only ({self.train_pair(quoted=True)} or a split of "
                        "them) and keep the test set for one final evaluation.")
                if call.keyword("validation_split") is not None:
                    text += " Its `validation_split` then takes the validation rows from test data as well."
            self.report("L2", self.location(node, anchor), text)  # the argument's line, if split

    def report_search(self, call: _Call, node: ast.expr, value: _Value) -> None:
        for anchor in sorted({atom.anchor for atom in value.atoms_of(TEST)}, key=_anchor_order):
            self.report("L1", self.location(call.node, anchor),
                        f"`{_short_source(call.node.func)}` runs a hyper-parameter search on test data "
                        f"({self.describe_data(node, value)}){_via(anchor)}, scoring every candidate on it. "
                        "Run the search on the training data and evaluate only its best model on the test set.")

    def explain_repeated_evaluation(self, receiver_node, data_node, data_value, anchor) -> str:
        receiver = _short_source(receiver_node)
        if self.frame.loops:
            where = "inside a loop (or comprehension) that builds, picks or retrains a model on every pass"
        elif anchor is not None:
            where = "and this line runs once per candidate (in a loop, comprehension or key function)"
        else:
            function = self.frame.owner.function
            assert function is not None  # neither in a loop nor anchored: a helper called once per candidate
            where = (f"inside `{function.name}`, which is called once per candidate "
                     "(from a loop, comprehension or key function)")
        if anchor is not None:
            lead = (f"This line hands test data ({self.describe_data(data_node, data_value, anchor=anchor)}) "
                    f"to your helper `{anchor.helper}`, which evaluates `{receiver}` on it {where}")
        else:
            lead = f"`{receiver}` is evaluated on test data ({self.describe_data(data_node, data_value)}) {where}"
        return f"{lead}, so several candidate models are scored on the test set. Instead, {self.validation_advice()}"

    def validation_advice(self) -> str:
        return ("score each candidate on a validation split carved from the training data with "
                f"`train_test_split({self.train_pair()}, ...)`, and use the test set once, {_FINAL_MODEL_ADVICE}.")

    def train_pair(self, quoted: bool = False) -> str:
        """The training arrays to name in advice: the flat features and the labels."""
        def role(letter: str) -> list[str]:
            return [n for n in self.train_names if letter in n.lower().split("_")]
        features = sorted(role("x"), key=lambda n: not n.endswith("flat"))
        x = (features or list(self.train_names) or ["X_train"])[0]
        y = (role("y") or [n for n in self.train_names if n != x] or ["y_train"])[0]
        return f"`{x}`, `{y}`" if quoted else f"{x}, {y}"

    def describe_data(self, node: ast.expr | None, value: _Value, kind: str = TEST,
                      anchor: Anchor | None = None) -> str:
        """The expression as written, and the data set it derives from. Inside a helper the
        expression is a parameter name the caller never wrote, so only the data set is named."""
        text, origins = _short_source(node), self.origins_of(value, kind)
        if anchor is not None and origins:
            return ", ".join(f"`{o}`" for o in origins)
        if not origins or origins == [text]:
            return f"`{text}`"
        return f"`{text}`, which comes from " + ", ".join(f"`{o}`" for o in origins)

    @staticmethod
    def origins_of(value: _Value, kind: str) -> list[str]:
        return sorted({atom.origin for atom in value.atoms_of(kind)})

    def location(self, node: ast.expr | ast.stmt, anchor: Anchor | None) -> tuple[int, int]:
        return (anchor.cell, anchor.line) if anchor is not None else (self.cell, node.lineno)

    def code_at(self, location: tuple[int, int]) -> str:
        cell, line = location
        lines = self.lines[cell] if 0 <= cell < len(self.lines) else []
        return lines[line - 1].strip() if 0 < line <= len(lines) else ""

    def evidence(self, node: ast.expr, anchor: Anchor | None) -> str:
        """How a student finds the test evaluation a later verdict depends on."""
        if anchor is None:
            return f"`{_short_source(node)}` (cell {self.cell + 1}, line {node.lineno})"
        return (f"`{_short_source(node)}` in your helper `{anchor.helper}` "
                f"(called in cell {anchor.cell + 1}, line {anchor.line})")

    def report(self, rule: str, location: tuple[int, int], explanation: str) -> None:
        key = (rule, *location)
        if key not in self.leaks:
            self.leaks[key] = Leak(rule, location[0], location[1], self.code_at(location), explanation)

    def emit_pending_returns(self) -> None:
        for leak, origins in self.pending_returns:
            if origins.isdisjoint(self.selection_origins):
                self.leaks.setdefault((leak.rule, leak.cell, leak.line), leak)


def _anchor_order(anchor: Anchor | None) -> tuple:
    return (-1, -1, "") if anchor is None else tuple(anchor)


def _via(anchor: Anchor | None, what: str = "the test data") -> str:
    if anchor is None:
        return ""
    return f" inside your helper `{anchor.helper}`, which receives {what} on this line"


def _origins(atoms: Sequence[Atom]) -> str:
    shown = sorted({atom.origin for atom in atoms})
    text = " and ".join(shown[:2])
    return text + (f" (and {len(shown) - 2} more)" if len(shown) > 2 else "")
