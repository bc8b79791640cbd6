"""The static leak finder against a labelled corpus of whole notebooks (tests/leak_corpus.py).

Where tests/test_leakage.py states the exact rule, cell and line of each verdict in notebooks
written in the course's style, this suite asks a coarser question of notebooks written as other
people write them: is each notebook flagged with exactly the rules it breaks? Per rule, precision
and recall over the corpus must reach 0.95, and no clean notebook may be flagged at all. Pure
static analysis, run with the default test and training names: seconds.
"""

from __future__ import annotations

import ast
import traceback
from collections import Counter
from functools import partial

import pytest
from leak_corpus import (
    CLEAN,
    CORPUS,
    LEAK_RULES,
    LEAKING,
    LabelledNotebook,
    corpus_scores,
    describe_misclassified,
    flagged_rules,
)

import autograder.checks.leakage as leakage
from autograder.checks.leakage import Leak

# In production an internal error skips one statement; here it must show.
find_leaks = partial(leakage.find_leaks, raise_internal_errors=True)

MIN_LEAKING = 45
MIN_CLEAN = 45
MIN_PER_RULE = 8
MIN_PRECISION = 0.95
MIN_RECALL = 0.95

Analysed = tuple[list[tuple[LabelledNotebook, list[Leak]]], dict[str, str]]


@pytest.fixture(scope="module")
def analysed() -> Analysed:
    """Every notebook's verdicts; a notebook whose analysis raised counts as having none, and its
    traceback fails test_analysis_raises_no_internal_error."""
    results, errors = [], {}
    for notebook in CORPUS:
        try:
            leaks = find_leaks(list(notebook.cells))
        except Exception:  # reported by its own test, so that one crash does not hide the scores
            errors[notebook.name] = traceback.format_exc(limit=-3)
            leaks = []
        results.append((notebook, leaks))
    return results, errors


def test_corpus_is_large_balanced_and_well_formed():
    names = [notebook.name for notebook in CORPUS]
    assert len(names) == len(set(names)), [name for name, n in Counter(names).items() if n > 1]
    assert len(LEAKING) >= MIN_LEAKING, (len(LEAKING), len(CLEAN))
    assert len(CLEAN) >= MIN_CLEAN, (len(LEAKING), len(CLEAN))
    assert all(notebook.rules for notebook in LEAKING)
    assert not any(notebook.rules for notebook in CLEAN)
    per_rule = Counter(rule for notebook in LEAKING for rule in notebook.rules)
    assert set(per_rule) <= set(LEAK_RULES), per_rule
    assert all(per_rule[rule] >= MIN_PER_RULE for rule in LEAK_RULES), per_rule
    for notebook in CORPUS:
        lines = sum(len(cell.splitlines()) for cell in notebook.cells)
        assert 2 <= len(notebook.cells) <= 6, (notebook.name, len(notebook.cells), lines)
        assert 5 <= lines <= 40, (notebook.name, len(notebook.cells), lines)
        assert notebook.note, notebook.name
        for cell in notebook.cells:  # a cell that does not parse would be analysed as nothing
            ast.parse(cell)


def test_analysis_raises_no_internal_error(analysed: Analysed):
    _, errors = analysed
    assert not errors, "\n\n".join(f"{name}:\n{trace}" for name, trace in errors.items())


@pytest.mark.parametrize("rule", LEAK_RULES)
def test_precision_and_recall_per_rule(analysed: Analysed, rule: str):
    results, errors = analysed
    scores = corpus_scores(results)[rule]
    wrong = set(scores.false_positives) | set(scores.false_negatives)
    message = (f"{rule}: precision {scores.precision:.3f} (TP {scores.tp}, FP {scores.fp}), "
               f"recall {scores.recall:.3f} (FN {scores.fn})\n"
               f"false positives: {', '.join(scores.false_positives) or 'none'}\n"
               f"false negatives: {', '.join(scores.false_negatives) or 'none'}\n"
               + describe_misclassified([(nb, leaks) for nb, leaks in results if nb.name in wrong])
               + (f"\n(analysis raised on: {', '.join(errors)})" if errors else ""))
    good_enough = scores.precision >= MIN_PRECISION and scores.recall >= MIN_RECALL
    assert good_enough, message


def test_no_clean_notebook_is_flagged(analysed: Analysed):
    results, _ = analysed
    flagged = [(notebook, leaks) for notebook, leaks in results if not notebook.rules and flagged_rules(leaks)]
    assert not flagged, f"{len(flagged)} clean notebooks flagged:\n" + describe_misclassified(flagged)
