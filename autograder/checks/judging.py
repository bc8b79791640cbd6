"""Helpers for judges: the half of a hidden check that decides, away from student code.

Judges receive plain values (see :mod:`autograder.checks.channel`) and raise
:class:`CheckFailed` with the sentence the student will read. Every message should say
what was observed, what was expected, and what to change, so these helpers format
numbers, shapes and calls the same way everywhere.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from autograder.checks.probing import Outcome
from autograder.config import grading_dataset
from autograder.data import Dataset, load_dataset


@functools.cache
def grading_data(assignment: str) -> Dataset:
    """The dataset judges train and score on: the one ``autograder grade`` forces (the
    environment variable, set for every grading process), else the assignment's grading.toml."""
    return load_dataset(grading_dataset(assignment), verbose=False)


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


_QUESTION_HEADING = re.compile(r"^#+\s*Question\s+(\d+)\b", re.IGNORECASE | re.MULTILINE)


def question_of_each_cell(markdown: Sequence[str | None], questions: Sequence[str]) -> list[str]:
    """The question each cell belongs to, read from the notebook's "## Question N" headings
    (the student version keeps them): a cell is the question's whose heading came last before
    it; the cells before the first heading (set-up) count with the first question. A heading
    number with no ``qN_`` question keeps the previous one."""
    by_number = {int(match.group(1)): q for q in questions if (match := re.match(r"q(\d+)_", q))}
    current, owners = questions[0] if questions else "", []
    for text in markdown:
        for number in _QUESTION_HEADING.findall(text or ""):
            current = by_number.get(int(number), current)
        owners.append(current)
    return owners


def leak_evidence(leaks: Sequence[Any]) -> str:
    """Each verdict on its own line, as the student reads it in the feedback."""
    return "\n".join(f"  • {leak.describe()}" for leak in leaks)


# The start of every message whose points wait for a TA (the report lists them for a person).
WITHHELD = "Withheld for a person to review"


def judge_test_set_use(cells: Sequence[str | None], question: str, *, leaked_into: str, advice: str,
                       reported_models: Sequence[str] = (), owners: Sequence[str] | None = None) -> None:
    """SPEC §5 for one question: a leak (L1-L5) in its code costs all of its points; code
    that reaches data through reflection, which no static reading can follow, has them
    wait for a person. ``owners``: the question of each cell (``question_of_each_cell``);
    without it the whole notebook is the question's code."""
    from autograder.checks.leakage import find_leaks, find_reflection
    leaks, reflection = find_leaks(cells, reported_models=reported_models), find_reflection(cells)
    if owners is not None:
        leaks = [leak for leak in leaks if owners[leak.cell] == question]
        reflection = [found for found in reflection if owners[found.cell] == question]
    if leaks:
        fail(f"the test set leaked into {leaked_into}, which costs all of {question}'s points:\n"
             f"{leak_evidence(leaks)}\n{advice}")
    if reflection:
        fail(f"{WITHHELD}: {question}'s code reaches data in ways the leak analysis cannot follow:\n"
             f"{leak_evidence(reflection)}\nIts points wait for a TA, who reads this code. Name your "
             "variables directly and submit again, or ask your TA.")


def judge_leaks_of_question(question: str, answers: dict, *, questions: Sequence[str],
                            reported_models: Sequence[str], advice: str) -> None:
    """:func:`judge_test_set_use` for one question of a notebook whose cells belong to questions
    by their headings (``answers``: the ``notebook_cells`` probe's): a leak in one of that
    question's cells costs its points, wherever the training it leaked into was run."""
    judge_test_set_use(answers["cells"], question, leaked_into=f"{question}'s code", reported_models=reported_models,
                       owners=question_of_each_cell(answers["markdown"], questions), advice=advice)
