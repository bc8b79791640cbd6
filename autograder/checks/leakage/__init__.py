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
(``fit``, ``score``, ``np.vstack``, ``max``, ``if`` ...) are reported to the rules with the atoms
reaching them, and a rule that sees a leak reports a :class:`Leak`.

User functions are analysed at each call with the caller's atoms. Atoms that entered a
function through a parameter carry an *anchor*, the call site, so a leak inside a helper is
reported on the line that handed the test data to it; test data the body reads from a global
is reported on the body line. Whether an evaluation can see several candidate models is
decided from loops: the evaluated model is rebuilt, rebound or refitted in an enclosing loop,
comprehension or inline lambda, or the function is itself called once per candidate.

Test data is what the notebook's own names say (``X_test``), what a name says in any notebook
(``x_test``, ``test_df``), what a loader returns (Keras' ``load_data()``, ``split="test"``, a file
named test), and the held-out part of a ``train_test_split`` of the whole data. A transform or
an oversampler fitted on the whole data before such a split is L5 or L4 (``rules.preprocessing``).

Known blind spots (static analysis, by design): test data read back from disk under another
name (``np.load("x_test.npy")``); code run through strings (``exec``, ``df.query("...")``) and
names built at run time, which ``reflection.find_reflection`` reports for a person instead;
class-level attributes; and functions called before the cell defining them is reached (cells
are taken in order, as "Restart & Run All" would).

The package, stage by stage: ``cells`` (parsing, magics), ``values`` (the atoms and how they
combine), ``interpreter`` with ``expressions``, ``calls``, ``library`` and ``scopes`` (Python's
semantics; the three first see the interpreter as ``machine.Machine``), ``events`` (what the
interpreter reports), ``rules`` (L1-L4, one module each), ``messages`` (every sentence the
student reads) and ``vocabulary`` (the names recognised).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from autograder.checks.leakage.cells import cell_text
from autograder.checks.leakage.interpreter import Interpreter
from autograder.checks.leakage.reflection import find_reflection
from autograder.checks.leakage.rules import Names, Rules
from autograder.checks.leakage.verdict import RULE_TITLES, Leak
from autograder.checks.leakage.vocabulary import TEST_NAMES, TRAIN_NAMES

if TYPE_CHECKING:  # nbformat is only needed by callers that hold a notebook
    import nbformat

__all__ = ["RULE_TITLES", "TEST_NAMES", "TRAIN_NAMES", "Leak", "find_leaks", "find_leaks_in_notebook",
           "find_reflection", "notebook_cells"]


def find_leaks(cells: Sequence[str | None], *, test_names: Sequence[str] = TEST_NAMES,
               train_names: Sequence[str] = TRAIN_NAMES, reported_models: Sequence[str] = (),
               raise_internal_errors: bool = False) -> list[Leak]:
    """cells: the source of every notebook cell in order; None (or a non-code cell) is skipped
    but keeps its index, so verdicts point at the cell the student sees.

    ``reported_models`` names models that other questions ask the student to report a test
    score for (``mlp_16x16``): one evaluation of such a model is part of the assignment,
    not a candidate tried during tuning, so it does not count towards L1's "more than one
    model". Evaluating it in a loop, training it on test data or choosing by its score are
    still leaks.

    ``raise_internal_errors`` is for the analyser's own tests, so that a bug in it fails
    loudly; graders keep it off, so that one odd statement costs the analysis of that
    statement, never the whole verdict.

    Returns the leaks sorted by (cell, line, rule), one per rule and line.
    """
    sources = [cell_text(cell) for cell in cells]
    rules = Rules(sources, Names(tuple(test_names), tuple(train_names), frozenset(reported_models)))
    Interpreter(sources, tuple(test_names), tuple(train_names), rules,
                raise_internal_errors=raise_internal_errors).run()
    return rules.finish()


def notebook_cells(nb: nbformat.NotebookNode) -> list[str | None]:
    """Markdown/raw cells become None so cell indices match the notebook."""
    return [cell.get("source", "") if cell.get("cell_type") == "code" else None for cell in nb.cells]


def find_leaks_in_notebook(nb: nbformat.NotebookNode, **kwargs) -> list[Leak]:
    return find_leaks(notebook_cells(nb), **kwargs)
