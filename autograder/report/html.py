"""report.html: how the class did, and which submissions need a person; and each submission's
feedback as a page (``feedback/<submission>.html``, beside its Markdown).

Links are relative (the output folder can be moved or zipped whole) and URL-encoded (a
submission's name is a path below the folder graded: it may hold spaces, ``#`` or ``%``).
Whatever a student wrote (a file's name, their code's output in a message) reaches a page
escaped: Jinja escapes the report's values, and the feedback's Markdown is rendered without
raw HTML, links or images (markdown-it-py, CommonMark).

The report reads ``similarity.json`` when ``autograder similarity … --out DIR`` wrote one into
the same folder, and lists its pairs among the submissions that need a person (its shape is
``autograder.course.similarity.SimilarityRun.to_dict``'s; this layer reads the file, it does
not import the course workflow).
"""

from __future__ import annotations

import base64
import functools
import io
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import jinja2
import markupsafe

from autograder.assignment import questions
from autograder.checks.judging import WITHHELD
from autograder.config import config
from autograder.report.corrections import MANUAL_CASE
from autograder.results import Status, SubmissionResult

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

TEMPLATES = Path(__file__).parent / "templates"
MAX_FAILURE_ROWS = 15
SIMILARITY_FILE = "similarity.json"  # autograder.course.similarity's OUTPUT_FILES
SIMILARITY_PAGE = "similarity.html"
MAX_SIMILAR_ROWS = 50  # pairs listed among those needing a person; similarity.html has them all
FEEDBACK_FOLDER = "feedback"


def render_report(assignment: str, results: list[SubmissionResult], out_dir: Path | None = None) -> str:
    """report.html for ``out_dir`` (links to its ``feedback/`` pages; its similarity.json's pairs)."""
    graded = [r for r in results if r.status == Status.GRADED]
    names = {r.submission for r in results}
    attention = needs_a_human(assignment, results)
    if out_dir is not None:  # before the manual-grading row, which is about every submission
        similar = similar_pairs(Path(out_dir), assignment, names)
        attention = ([row for row in attention if row["links"]] + similar
                     + [row for row in attention if not row["links"]])
    return _environment().get_template("report.html.j2").render(
        assignment=assignment,
        results=sorted(results, key=lambda r: r.submission),
        counts=Counter(r.status for r in results),
        possible=_most_possible(results),
        score_plot=_png(_score_distribution, graded, _most_possible(results)),
        pass_plot=_png(_pass_rates, assignment, graded),
        failures=common_failures(results),
        attention=attention,
        dataset=next((r.dataset for r in graded if r.dataset), {}),
        feedback_href=feedback_href,
        visibility=_visibility_settings(assignment),
    )


def _most_possible(results: list[SubmissionResult]) -> float:
    """The points a submission can have: the autograded ones, plus the manual questions a TA
    scored for it (``report.corrections``), so rows differ once some are scored."""
    return max((r.possible for r in results), default=0)


def feedback_href(submission: str) -> str:
    """The feedback page of a submission, relative to the output folder (report.html's)."""
    return f"{FEEDBACK_FOLDER}/{quote(submission + '.html', safe='/')}"


def feedback_page_path(feedback_markdown: Path) -> Path:
    """``feedback/<submission>.html``, beside ``feedback/<submission>.md``."""
    return feedback_markdown.with_suffix(".html")


def feedback_page(result: SubmissionResult, markdown: str) -> str:
    """The feedback file as a page a student can be given too (it links nowhere): its Markdown
    rendered (code spans, lists), nothing in it taken as HTML."""
    return _environment().get_template("feedback.html.j2").render(
        title=f"{result.assignment}: feedback for {result.submission}",
        body=markdown_html(markdown))  # markdown-it escapes the text; the template keeps its tags


def common_failures(results: list[SubmissionResult]) -> list[dict]:
    """The most frequent (check, first line of message) pairs across the class."""
    counter = Counter((case.question, case.name, case.message.splitlines()[0] if case.message else "")
                      for r in results for case in r.failed_cases())
    return [{"question": q, "check": c, "message": m, "count": n, "message_html": markdown_html(m, inline=True)}
            for (q, c, m), n in counter.most_common(MAX_FAILURE_ROWS)]


def needs_a_human(assignment: str, results: list[SubmissionResult]) -> list[dict]:
    """Errors, timeouts, invalid files, interpreter hooks (their gated points withheld), test-set
    leaks, code the leak analysis cannot follow (reflection), and answers only a TA can grade.
    Each row's ``links``: the feedback pages of the submissions it names."""
    gates = _gate_names(assignment)
    rows = []
    for r in sorted(results, key=lambda r: r.submission):
        links = [(r.submission, feedback_href(r.submission))]
        if r.status != Status.GRADED:
            rows.append({"submission": r.submission, "links": links, "why": r.status, "detail": r.message})
        if r.hooks:
            rows.append({"submission": r.submission, "links": links, "why": "interpreter hooks",
                         "detail": "; ".join(r.hooks[:5])})
        leaks = [c for c in r.failed_cases() if c.name in gates]
        if leaks:
            unreadable = leaks[0].message.startswith(WITHHELD)
            rows.append({"submission": r.submission, "links": links, "why": "code to read (reflection)"
                         if unreadable else "test-set leak", "detail": leaks[0].message})
    rows += _manual_grading_rows(assignment, results)
    return rows


def _manual_grading_rows(assignment: str, results: list[SubmissionResult]) -> list[dict]:
    """One row per manual question some graded submission has no TA score for yet (a scored
    one carries a ``MANUAL_CASE`` test, ``report.corrections``)."""
    graded = [r for r in results if r.status == Status.GRADED]
    rows = []
    for question in (q for q in questions(assignment) if q.manual):
        waiting = [r for r in graded if not any(c.question == question.name and c.name == MANUAL_CASE
                                                 for c in r.cases)]
        if waiting:
            rows.append({"submission": f"{len(waiting)} of {len(graded)} submissions", "links": [],
                         "why": "manual grading", "detail": f"{question.name} must be read and scored by a "
                         "TA (autograder manual writes the answers and manual_scores.csv)"})
    return rows


def similar_pairs(out_dir: Path, assignment: str, graded: set[str]) -> list[dict]:
    """The pairs of ``out_dir/similarity.json`` (``autograder similarity … --out`` the same folder),
    in its rank order, each linked to its fragments in similarity.html and to both feedback pages
    (of the submissions this run graded)."""
    path = out_dir / SIMILARITY_FILE
    if not path.is_file():
        return []
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
        pairs = found["pairs"]
        if found.get("assignment") not in (None, assignment):
            return [_similarity_note(f"{SIMILARITY_FILE} compares submissions of {found.get('assignment')}, "
                                     f"not {assignment}: not listed")]
        rows = [_pair_row(rank, pair, graded) for rank, pair in enumerate(pairs[:MAX_SIMILAR_ROWS], 1)]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return [_similarity_note(f"{SIMILARITY_FILE} could not be read ({type(error).__name__}: {error}); "
                                 "run `autograder similarity` again")]
    if len(pairs) > MAX_SIMILAR_ROWS:
        rows.append(_similarity_note(f"{len(pairs) - MAX_SIMILAR_ROWS} more pairs in {SIMILARITY_PAGE}",
                                     SIMILARITY_PAGE))
    return rows


def _pair_row(rank: int, pair: dict, graded: set[str]) -> dict:
    """One pair of similarity.json (its ``rank`` from 1, similarity.html's ``#pair-<rank>``)."""
    first, second = (str(name) for name in pair["submissions"])
    return {
        "submission": f"{first} and {second}",
        "links": [(name, feedback_href(name) if name in graded else None) for name in (first, second)],
        "why": f"identical files ({pair['identical']})" if pair.get("identical") else "similar code",
        "detail": f"{100 * float(pair.get('similarity', 0)):.0f} % of one's own code is in the other's",
        "detail_href": f"{SIMILARITY_PAGE}#pair-{rank}" if pair.get("fragments") else SIMILARITY_PAGE,
        "detail_label": "shared fragments" if pair.get("fragments") else SIMILARITY_PAGE,
    }


def _similarity_note(detail: str, href: str | None = None) -> dict:
    return {"submission": "", "links": [], "why": "similar code", "detail": detail,
            "detail_href": href, "detail_label": SIMILARITY_PAGE}


def _visibility_settings(assignment: str) -> dict[str, list[str]]:
    """grading.toml's ``[visibility]`` entries other than ``visible``, by value: what the TA
    should know before handing out the feedback files."""
    settings: dict[str, list[str]] = {}
    for name, value in config(assignment).visibility.items():
        if value != "visible":
            settings.setdefault(value, []).append(name)
    return settings


def _gate_names(assignment: str) -> set[str]:
    """Leak gates of the assignment's check suite; none for an assignment whose hidden tests
    are plain Otter tests without a suite."""
    import importlib.util
    if importlib.util.find_spec(f"autograder.checks.{assignment}") is None:
        return set()
    from autograder.checks.suite import load_suite
    return {name for names in load_suite(assignment).gates.values() for name in names}


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                      autoescape=jinja2.select_autoescape(["html", "j2"]))
    # the grader's messages are Markdown (code spans, lists): shown rendered, never as raw HTML
    environment.filters["markdown"] = lambda text: markupsafe.Markup(markdown_html(str(text or "")))
    return environment


def markdown_html(text: str, *, inline: bool = False) -> str:
    """The grader's Markdown as HTML. Its emphasis is ``**``: an underscore is a name's
    (``ellipsis.__format__`` in a quoted error stays as it is, not bold)."""
    markdown = _markdown()
    tokens = markdown.parseInline(text) if inline else markdown.parse(text)
    for block in tokens:
        for token in block.children or ():
            if token.type in _EMPHASIS and token.markup.startswith("_"):
                token.type, token.tag, token.nesting, token.content = "text", "", 0, token.markup
    return markdown.renderer.render(tokens, markdown.options, {})


_EMPHASIS = frozenset({"em_open", "em_close", "strong_open", "strong_close"})


@functools.cache
def _markdown() -> MarkdownIt:
    """CommonMark without raw HTML, links, images or link definitions: a student's text (their
    file's name, their code's output quoted in a message) stays text. A line break in a
    message stays one. Imported here: the Gradescope entry point imports this package but
    writes no page."""
    from markdown_it import MarkdownIt
    return MarkdownIt("commonmark", {"html": False, "breaks": True}).disable(
        ["html_block", "html_inline", "link", "image", "autolink", "reference"])


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
    axes.set_xlabel(f"score (out of {possible:g}: autograded, plus the manual points scored)")
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

