"""Helpers for judges: the half of a hidden check that decides, away from student code.

Judges receive plain values (see :mod:`autograder.checks.channel`) and raise
:class:`CheckFailed` with the sentence the student will read. Every message should say
what was observed, what was expected, and what to change, so these helpers format
numbers, shapes and calls the same way everywhere.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from autograder.checks.probing import Outcome
from autograder.config import setting
from autograder.data import DATASET_ENV_VAR, Dataset, load_dataset


@functools.cache
def grading_data(assignment: str) -> Dataset:
    """The dataset judges train and score on: the one ``autograder grade`` forces (the
    environment variable, set for every grading process), else the assignment's grading.toml."""
    name = os.environ.get(DATASET_ENV_VAR) or setting(assignment, "grading", "dataset")
    return load_dataset(name, verbose=False)


class CheckFailed(AssertionError):
    """A judgement that did not pass; ``str(self)`` is the feedback for the student.

    Otter strips single quotes from both ends of a failure message, so a message must
    not start or end with one (quote names with backticks instead).
    """

    def __init__(self, message: str) -> None:
        if message[:1] == "'" or message[-1:] == "'":
            raise ValueError(f"feedback must not start or end with a quote: {message!r}")
        super().__init__(message)


def fail(message: str) -> NoReturn:
    raise CheckFailed(message)


def returned(outcome: Outcome, call: str) -> Any:
    """The value a student call produced, or a failure saying what went wrong with it."""
    if outcome.get("ok"):
        return outcome["value"]
    if outcome.get("missing"):
        fail(outcome["error"])
    if not outcome.get("raised"):
        fail(f"{call} {outcome['error']}. Replace the `...` placeholder with your answer, and "
             "check what your code returns for this input.")
    where = f" ({outcome['where']})" if outcome.get("where") else ""
    fail(f"{call} raised {outcome['error']}{where}. Run this call in your notebook to see "
         "the full traceback, and fix the line it points to.")


def require_input_unchanged(outcome: Outcome, original: np.ndarray, call: str,
                            advice: str) -> None:
    """Fail if the student's function modified the array it was given (see
    ``probing.attempt_on_copy``): callers keep using their data after the call."""
    if not np.array_equal(outcome["input_after"], original):
        fail(f"{call} changed its input. {advice}")


def count(n: float) -> str:
    """13002 -> '13,002': parameter counts are read by people."""
    return f"{int(n):,}" if float(n).is_integer() else f"{n:,}"


def shape_text(shape: Sequence[int]) -> str:
    dims = tuple(int(d) for d in shape)
    return str(dims) if len(dims) != 1 else f"({dims[0]},)"


def number_text(x: float) -> str:
    return f"{x:.4g}"


def mismatch_text(got: np.ndarray, expected: np.ndarray, tolerance: float) -> str:
    """How many values of a hidden case are off, never by how much: with the student's own
    output in hand, the size of a difference gives the expected value away (where the student
    returned 0, the largest difference *is* an expected value)."""
    off = np.abs(np.asarray(got, float) - np.asarray(expected, float)) > tolerance
    return f"{int(off.sum())} of {off.size} values differ by more than {tolerance:g}"


def close(a: Any, b: Any, tolerance: float) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tolerance))
