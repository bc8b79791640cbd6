"""Helpers for probes: the half of a hidden check that runs beside student code.

A probe only gathers values (what the student's functions return for given inputs,
the attributes of a fitted model). It never decides anything: no expected answer, no
threshold, no comparison lives here, so that this module can run inside the student's
process without revealing what the judge expects.

Student code fails in every way code can fail, and a probe must still answer. So calls
go through :func:`attempt`, which turns an exception into an ``error`` value that the
judge can explain, and missing names become a :class:`ProbeFailure` whose message tells
the student what to define.
"""

from __future__ import annotations

import glob
import json
import traceback
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

import numpy as np

Env = Mapping[str, Any]


class Outcome(TypedDict, total=False):
    """What one call of student code produced, as a probe sends it to the judge
    (``judging.returned`` reads it)."""

    ok: bool          # it returned, and its value converted
    value: Any        # the converted value, when ok
    raised: bool      # it raised (otherwise its value could not be converted)
    error: str        # the exception, or why the value could not be converted
    where: str        # the notebook line that raised
    missing: bool     # the variable is not defined (value_outcome)
    input_after: Any  # attempt_on_copy: the argument as the call left it
    labels_after: Any  # a call on (images, labels): the labels as the call left them


def gave(value: Any) -> Outcome:
    return {"ok": True, "value": value}


def raised(error: BaseException) -> Outcome:
    return {"ok": False, "raised": True, "error": _exception_text(error), "where": _student_frame(error)}


def unusable(message: str, *, missing: bool = False) -> Outcome:
    """A value the probe cannot hand over (wrong type, not defined), with why."""
    outcome: Outcome = {"ok": False, "raised": False, "error": message, "where": ""}
    if missing:
        outcome["missing"] = True
    return outcome


class ProbeFailure(Exception):
    """The probe cannot gather its values; the message is shown to the student as is."""


PROBE_FAILURE = "probe_failure"  # the one key of a failed probe's answers


def failure_answer(message: str) -> dict[str, str]:
    """The answers of a probe that could not gather its values (or could not be called): the
    judge shows ``message`` to the student as the check's feedback."""
    return {PROBE_FAILURE: message}


def failure_of(answers: Any) -> str | None:
    """The message of a failed probe's answers; None for real answers."""
    if isinstance(answers, dict) and PROBE_FAILURE in answers:
        return str(answers[PROBE_FAILURE])
    return None


def student_function(env: Env, name: str) -> Callable[..., Any]:
    """The student's function ``name``, or a failure that says how to provide it."""
    value = student_value(env, name)
    if not callable(value):
        raise ProbeFailure(
            f"`{name}` should be a function, but it is {_a_type(value)}. "
            f"Define it with `def {name}(...):` and run that cell."
        )
    return value


def student_value(env: Env, name: str) -> Any:
    """The value the student bound to ``name``, or a failure that says how to provide it."""
    if name not in env:
        raise ProbeFailure(
            f"`{name}` is not defined. Define it in this question's answer cell, spelled "
            f"exactly `{name}`, and run the cell (Kernel → Restart & Run All checks the order)."
        )
    return env[name]


def attempt(function: Callable[..., Any], *args: Any, convert: Callable[[Any], Any] = lambda v: v,
            **kwargs: Any) -> Outcome:
    """Call student code; report its converted result or the exception it raised."""
    try:
        result = function(*args, **kwargs)
    except Exception as error:  # student code may raise anything
        return raised(error)
    try:
        return gave(convert(result))
    except ProbeFailure as failure:
        return unusable(str(failure))


def attempt_on_copy(function: Callable[..., Any], array: Any,
                    convert: Callable[[Any], Any] = lambda v: v) -> Outcome:
    """Call student code on a copy of ``array``; also report the copy as the call left it,
    so the judge can tell whether the function modified its input."""
    argument = np.array(array, copy=True)
    outcome = attempt(function, argument, convert=convert)
    outcome["input_after"] = argument
    return outcome


def as_array(value: Any) -> dict[str, Any]:
    """A numeric array and the type the student returned (a list is not an ndarray)."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ProbeFailure(f"gave {_a_type(value)}, not an array of numbers")
    return {"type": _type_name(value), "array": array}


def as_number(value: Any) -> dict[str, Any]:
    """A float and the type the student used, so the judge can ask for an int or a float."""
    try:
        number = float(np.asarray(value).item()) if np.ndim(value) == 0 else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise ProbeFailure(f"gave {_a_type(value)}, not a single number")
    return {"type": _type_name(value), "number": number}


def as_strings(value: Any) -> dict[str, Any]:
    """The items of a collection of strings, sorted, with the collection's type."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ProbeFailure(f"gave {_a_type(value)}, not a set of strings")
    items = list(value)
    return {"type": _type_name(value), "items": sorted(repr(i) if not isinstance(i, str) else i
                                                      for i in items), "length": len(items)}


def as_numbers(value: Any) -> dict[str, Any]:
    """A flat list of floats from a list, tuple or array, with the container's type."""
    try:
        array = np.asarray(value, dtype=float) if not isinstance(value, (str, bytes)) else None
    except (TypeError, ValueError):
        array = None
    if array is None:
        raise ProbeFailure(f"gave {_a_type(value)}, not a list of numbers")
    return {"type": _type_name(value), "array": array.reshape(-1), "shape": list(array.shape)}


def value_outcome(env: Env, name: str, convert: Callable[[Any], Any]) -> Outcome:
    """Like :func:`attempt` for a variable: a missing name or a wrong type becomes an error."""
    try:
        value = student_value(env, name)
    except ProbeFailure as failure:
        return unusable(str(failure), missing=True)
    try:
        return gave(convert(value))
    except ProbeFailure as failure:
        return unusable(str(failure))


def _exception_text(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 500 else text[:497] + "..."


def _student_frame(error: BaseException) -> str:
    """The last line of the traceback that ran notebook code, to point at the slip."""
    frames = traceback.extract_tb(error.__traceback__)
    notebook_frames = [f for f in frames if "ipykernel" in f.filename or f.filename.startswith("<")]
    candidates = notebook_frames or frames
    frame = candidates[-1] if candidates else None
    return f"in {frame.name}: {frame.line}" if frame is not None and frame.line else ""


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _a_type(value: Any) -> str:
    if value is Ellipsis:
        return "the `...` placeholder"
    name = _type_name(value)
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def notebook_cells(env: Env, inputs: None) -> dict:
    """The source of every cell of the submitted notebook, for the leak analysis: code cells
    in ``cells`` and markdown cells in ``markdown``, each list as long as the notebook, with
    ``None`` for the other kinds, so cell numbers match what the student sees. A submission
    probe (a suite's ``submission_probes``): the split grader runs it on its own copy of the file.

    Grading runs the notebook in a folder that holds it alone, so it is the one ``.ipynb``
    there.
    """
    notebooks = sorted(glob.glob("*.ipynb"))
    if len(notebooks) != 1:
        raise ProbeFailure("the test-set check needs the submitted notebook, but the grading "
                           f"folder holds {len(notebooks)} notebooks; submit exactly one.")
    with open(notebooks[0], encoding="utf-8") as handle:
        cells = json.load(handle).get("cells", [])
    return {"cells": [_source(cell) if cell.get("cell_type") == "code" else None for cell in cells],
            "markdown": [_source(cell) if cell.get("cell_type") == "markdown" else None for cell in cells]}


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)
