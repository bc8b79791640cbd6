"""report.html: how the class did, and which submissions need a person."""

from __future__ import annotations

import base64
import io
from collections import Counter
from pathlib import Path

import jinja2

from autograder.assignment import questions
from autograder.checks.judging import WITHHELD
from autograder.results import Status, SubmissionResult

TEMPLATES = Path(__file__).parent / "templates"
MAX_FAILURE_ROWS = 15


def render_report(assignment: str, results: list[SubmissionResult]) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                     autoescape=jinja2.select_autoescape(["html", "j2"]))
    graded = [r for r in results if r.status == Status.GRADED]
    return environment.get_template("report.html.j2").render(
        assignment=assignment,
        results=sorted(results, key=lambda r: r.submission),
        counts=Counter(r.status for r in results),
        possible=results[0].possible if results else 0,
        score_plot=_png(_score_distribution, graded, results[0].possible if results else 0),
        pass_plot=_png(_pass_rates, assignment, graded),
        failures=common_failures(results),
        attention=needs_a_human(assignment, results),
        dataset=next((r.dataset for r in graded if r.dataset), {}),
    )


def common_failures(results: list[SubmissionResult]) -> list[dict]:
    """The most frequent (check, first line of message) pairs across the class."""
    counter = Counter((case.question, case.name, case.message.splitlines()[0] if case.message else "")
                      for r in results for case in r.failed_cases())
    return [{"question": q, "check": c, "message": m, "count": n}
            for (q, c, m), n in counter.most_common(MAX_FAILURE_ROWS)]


def needs_a_human(assignment: str, results: list[SubmissionResult]) -> list[dict]:
    """Errors, timeouts, invalid files, interpreter hooks (their gated points withheld), test-set
    leaks, code the leak analysis cannot follow (reflection), and answers only a TA can grade."""
    gates = _gate_names(assignment)
    rows = []
    for r in sorted(results, key=lambda r: r.submission):
        if r.status != Status.GRADED:
            rows.append({"submission": r.submission, "why": r.status, "detail": r.message})
        if r.hooks:
            rows.append({"submission": r.submission, "why": "interpreter hooks",
                         "detail": "; ".join(r.hooks[:5])})
        leaks = [c for c in r.failed_cases() if c.name in gates]
        if leaks:
            unreadable = leaks[0].message.startswith(WITHHELD)
            rows.append({"submission": r.submission, "why": "code to read (reflection)" if unreadable
                         else "test-set leak", "detail": leaks[0].message})
    manual = [q.name for q in questions(assignment) if q.manual]
    graded = [r.submission for r in results if r.status == Status.GRADED]
    if manual and graded:
        rows.append({"submission": f"{len(graded)} submissions", "why": "manual grading",
                     "detail": f"{', '.join(manual)} must be read and scored by a TA"})
    return rows


def _gate_names(assignment: str) -> set[str]:
    """Leak gates of the assignment's check suite; none for an assignment whose hidden tests
    are plain Otter tests without a suite."""
    import importlib.util
    if importlib.util.find_spec(f"autograder.checks.{assignment}") is None:
        return set()
    from autograder.checks.suite import load_suite
    return {name for names in load_suite(assignment).gates.values() for name in names}


def _png(draw, *args) -> str:
    """A chart as base64 PNG, drawn with matplotlib's object API (as matplotlib advises for
    servers): no pyplot, so no global figure state and no backend to choose. Its imports are
    paid while the batch grades (``batch._import_the_report_meanwhile``)."""
    from matplotlib.figure import Figure
    figure = Figure(figsize=(6, 3.2), dpi=100)
    draw(figure.subplots(), *args)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def _score_distribution(axes, graded: list[SubmissionResult], possible: float) -> None:
    scores = [r.score for r in graded]
    axes.hist(scores, bins=min(20, max(5, int(possible) or 5)), range=(0, possible or 1),
              color="#4477aa", edgecolor="white")
    axes.set_xlabel(f"autograded score (out of {possible:g})")
    axes.set_ylabel("submissions")
    axes.set_title(f"Score distribution ({len(scores)} graded)")


def _pass_rates(axes, assignment: str, graded: list[SubmissionResult]) -> None:
    names = [q.name for q in questions(assignment) if not q.manual]
    points = {q.name: q.points for q in questions(assignment)}
    rates = [sum((r.question_scores.get(n) or 0) / points[n] for r in graded) / len(graded)
             if graded and points[n] else 0 for n in names]
    axes.barh(names[::-1], [100 * rate for rate in rates[::-1]], color="#228833")
    axes.set_xlim(0, 100)
    axes.set_xlabel("share of the question's points earned (%)")
    axes.set_title("Per-question pass rate")
