"""The abstract values of the analysis: not numbers, but where a value came from.

A value is a set of atoms (test data, training data, predictions on or scores measured on
test data, a model created at some line, a user function...), plus the elements of a literal
tuple or list and the entries of a dict or attributes of an object when they are known. The
operations below are the lattice the interpreter computes in: ``join`` for "either path",
``mix`` for "computed from", ``rebase``/``unbase`` for data crossing a call boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

TEST, TRAIN, PRED, SCORE = "test", "train", "pred", "score"
MODEL, SEARCH, FUNC, CLASS, OBJ = "model", "search", "func", "class", "obj"
# a transform learned from data (a scaler, PCA, an encoder...), an oversampler (SMOTE): marks on
# the object itself, which its outputs do not inherit
TRANSFORM, RESAMPLER = "transform", "resampler"
# data that went through a transform or an oversampler fitted before any split, i.e. on rows
# that a later split may send to the test side; origin: "<how>:<cell>:<line>:<code>"
PREFIT = "prefit"
# where a data set was first loaded (``load_digits()``, ``pd.read_csv(...)``): two pieces of one
# concatenation that share it are rows made from the same rows (augmentation, upsampling)
SOURCE = "source"
# a statistic (mean, std, max...) computed over rows that hold test data; origin: "cell:line:code"
STATISTIC = "statistic"
PROCESSING_KINDS = frozenset({PREFIT, SOURCE, STATISTIC})  # marks of what was done to rows
DATA_KINDS = frozenset({TEST, TRAIN, PRED, SCORE})
# the origin's suffix of the test part of a split of the whole data: under a validation name
# (``X_train, X_val = train_test_split(X)``) that part is validation data, not test data
SPLIT_TEST_SIDE = " (its test part)"
CODE_KINDS = frozenset({FUNC, CLASS, OBJ, SEARCH, TRANSFORM, RESAMPLER})


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
class Value:
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
        return sorted((atom for atom in self.atoms if atom.kind == kind), key=atom_order)

    def flat(self) -> Value:
        return Value(self.atoms)

    def keep(self, kinds: Iterable[str]) -> Value:
        kinds = frozenset(kinds)
        return Value(frozenset(atom for atom in self.atoms if atom.kind in kinds))

    def drop(self, kinds: Iterable[str]) -> Value:
        kinds = frozenset(kinds)
        return Value(frozenset(atom for atom in self.atoms if atom.kind not in kinds))

    def with_own(self, atoms: Iterable[Atom]) -> Value:
        return Value(self.own | frozenset(atoms), self.parts, self.fields)

    def field(self, key: str) -> Value | None:
        for name, entry in self.fields or ():
            if name == key:
                return join(entry, Value(self.own).keep(DATA_KINDS))
        return None

    def with_field(self, key: str, value: Value) -> Value:
        entries = dict(self.fields or ())
        entries[key] = value
        return Value(self.own, self.parts, tuple(sorted(entries.items())))

    def part(self, index: int) -> Value | None:
        if self.parts is None or not -len(self.parts) <= index < len(self.parts):
            return None
        return join(self.parts[index], Value(self.own).keep(DATA_KINDS))

    def element(self) -> Value:
        """What iterating over the value yields."""
        if self.parts is not None:
            return join(*self.parts, Value(self.own))
        return self.flat()

    def map_atoms(self, change: Callable[[Atom], Atom]) -> Value:
        parts = None if self.parts is None else tuple(part.map_atoms(change) for part in self.parts)
        fields = None if self.fields is None else tuple((k, v.map_atoms(change)) for k, v in self.fields)
        return Value(frozenset(change(atom) for atom in self.own), parts, fields)


EMPTY = Value()


def atom_order(atom: Atom) -> tuple:
    """A stable order for atoms: a frozenset's own order varies from run to run, since string
    hashes are randomised per process, and verdicts must not."""
    anchor = atom.anchor or Anchor(-1, -1, "")
    return (atom.kind, atom.origin, anchor)


def join(*values: Value) -> Value:
    """What a variable may hold after either of several paths (branches, loop passes)."""
    result = EMPTY
    for value in values:
        result = _join_two(result, value)
    return result


def _join_two(a: Value, b: Value) -> Value:
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
    return Value(own, parts, fields)


def _atoms_of_all(values: Iterable[Value] | None) -> frozenset:
    collected: set = set()
    for value in values or ():
        collected |= value.atoms
    return frozenset(collected)


def mix(*values: Value) -> Value:
    """The result of arithmetic or a library call on the values: their atoms flattened.
    Predictions on test data meeting test labels (``preds == y_test``) become a test score."""
    merged = join(*(value.flat() for value in values))
    return merged.with_own(scores_from_predictions(merged)) if merged.has(TEST) else merged


def scores_from_predictions(value: Value) -> set:
    return {Atom(SCORE, atom.origin, atom.anchor) for atom in value.atoms if atom.kind == PRED}


def rebase(value: Value, anchor: Anchor | None) -> Value:
    """Mark data handed to a function as arriving through this call site."""
    if anchor is None:
        return value
    return value.map_atoms(lambda a: a._replace(anchor=anchor) if a.kind in DATA_KINDS and a.anchor is None else a)


def unbase(value: Value, anchor: Anchor | None) -> Value:
    """Back in the caller, data that came through this call site is the caller's own again."""
    if anchor is None:
        return value
    return value.map_atoms(lambda a: a._replace(anchor=None) if a.anchor == anchor else a)


def anchor_order(anchor: Anchor | None) -> tuple:
    """Verdicts about several call sites come out in a stable order, the caller's own first."""
    return (-1, -1, "") if anchor is None else tuple(anchor)
