"""How well, and how fast, the static test-set leak finder judges whole notebooks.

Analyses every notebook of the labelled corpus (tests/leak_corpus.py) and prints, per rule L1..L5,
precision, recall and the TP/FP/FN counts at notebook level, the clean notebooks flagged, every
misclassified notebook (expected and flagged rules; with --verbose, the verdict lines too), and
the analysis time per notebook (median, max; time.perf_counter). Then it times one large
synthetic notebook, the corpus's cells concatenated --copies times (thousands of lines), and
any real notebooks given with --notebook (read with nbformat, analysed by find_leaks_in_notebook).
Pure static analysis: nothing is executed, a run takes seconds.

    .venv/bin/python benchmarks/leak_analysis.py [--notebook PATH ...] [--copies 20] [--verbose]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from leak_corpus import CORPUS, LEAK_RULES, corpus_scores, describe_misclassified, misclassified  # noqa: E402

from autograder.checks.leakage import Leak, find_leaks, find_leaks_in_notebook  # noqa: E402


def analyse_corpus() -> tuple[list, list[float], dict[str, str]]:
    """(notebook, verdicts) pairs, the seconds each analysis took, and the internal errors raised
    (as the tests run it: with raise_internal_errors, a crashed notebook counting as unflagged)."""
    results, seconds, errors = [], [], {}
    for notebook in CORPUS:
        started = time.perf_counter()
        try:
            leaks = find_leaks(list(notebook.cells), raise_internal_errors=True)
        except Exception:
            errors[notebook.name] = traceback.format_exc(limit=-2)
            leaks = []
        seconds.append(time.perf_counter() - started)
        results.append((notebook, leaks))
    return results, seconds, errors


def rule_counts(leaks: list[Leak]) -> str:
    counts = Counter(leak.rule for leak in leaks)
    return ", ".join(f"{rule}×{n}" for rule, n in sorted(counts.items())) or "none"


def print_scores(results: list, verbose: bool) -> None:
    scores = corpus_scores(results)
    print(f"{'rule':<5} {'precision':>9} {'recall':>7} {'TP':>4} {'FP':>4} {'FN':>4}")
    for rule in LEAK_RULES:
        s = scores[rule]
        print(f"{rule:<5} {s.precision:>9.3f} {s.recall:>7.3f} {s.tp:>4} {s.fp:>4} {s.fn:>4}")
    clean = [(nb, leaks) for nb, leaks in results if not nb.rules]
    flagged = misclassified(clean)
    print(f"\nclean notebooks flagged: {len(flagged)} of {len(clean)}")
    for notebook, got, _ in flagged:
        print(f"  {notebook.name}: {' '.join(sorted(got))}")
    wrong = misclassified(results)
    print(f"\nmisclassified notebooks: {len(wrong)} of {len(results)}")
    if verbose:
        print(describe_misclassified(results))
    else:
        for notebook, got, _ in wrong:
            print(f"  {notebook.name}: expected {' '.join(sorted(notebook.rules)) or 'clean'},"
                  f" got {' '.join(sorted(got)) or 'clean'}")


def time_synthetic(copies: int) -> None:
    cells = [cell for _ in range(copies) for notebook in CORPUS for cell in notebook.cells]
    lines = sum(len(cell.splitlines()) for cell in cells)
    started = time.perf_counter()
    leaks = find_leaks(cells)
    seconds = time.perf_counter() - started
    print(f"\nsynthetic notebook (corpus x{copies}): {len(cells)} cells, {lines} lines: {seconds:.2f} s,"
          f" {len(leaks)} verdicts ({rule_counts(leaks)})")


def time_notebooks(paths: list[Path]) -> None:
    import nbformat
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
        started = time.perf_counter()
        leaks = find_leaks_in_notebook(notebook)
        seconds = time.perf_counter() - started
        print(f"\n{path}: {len(code)} code cells, {sum(len(c.splitlines()) for c in code)} lines:"
              f" {seconds * 1000:.1f} ms, {len(leaks)} verdicts ({rule_counts(leaks)})")
        for leak in leaks:
            print(f"  {leak.describe()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, action="append", default=[], metavar="PATH",
                        help="also time this .ipynb (repeatable)")
    parser.add_argument("--copies", type=int, default=20, help="corpus copies in the synthetic notebook")
    parser.add_argument("--verbose", action="store_true", help="print the verdicts of misclassified notebooks")
    args = parser.parse_args()

    results, seconds, errors = analyse_corpus()
    leaking = sum(1 for notebook in CORPUS if notebook.rules)
    print(f"corpus: {len(CORPUS)} notebooks, {leaking} leaking, {len(CORPUS) - leaking} clean;"
          f" per rule: {dict(sorted(Counter(r for nb in CORPUS for r in nb.rules).items()))}\n")
    print_scores(results, args.verbose)
    if errors:
        print(f"\ninternal errors: {len(errors)}")
        for name, trace in errors.items():
            print(f"  {name}:\n    " + trace.strip().replace("\n", "\n    "))
    print(f"\nanalysis time per notebook: median {statistics.median(seconds) * 1000:.1f} ms,"
          f" max {max(seconds) * 1000:.1f} ms, total {sum(seconds):.2f} s")
    time_synthetic(args.copies)
    time_notebooks(args.notebook)


if __name__ == "__main__":
    main()
