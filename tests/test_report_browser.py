"""report.html and the feedback pages, opened in a real browser (headless Chromium): the pages
render, the plots are images, the links of the needs-a-human list and of the gradebook's rows
open each submission's feedback page, that page shows its Markdown rendered, and nothing a
student wrote (a file's name, their code's output) becomes markup.

The output folder is written from synthetic results (``write_submission_files``, then
``write_outputs``, as a batch does), with a similarity.json beside them: nothing is graded.
Chromium is Debian's ``chromium`` (scripts/bootstrap.sh installs it as root); without it the
tests skip, unless this machine could have installed it (root with apt-get): then they fail.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
from browser import WINDOW, Page, drawn_share, dump_dom, screenshot
from helpers import ASSIGNMENT
from PIL import Image

from autograder.assignment import manifest
from autograder.grade.records import submission_result
from autograder.report import write_outputs, write_submission_files
from autograder.results import CaseResult, GradeRun, GradingOutcome, Status, SubmissionResult

STUDENT_OUTPUT = "<script>alert('owned')</script>"
PYTHON_NAME = "ellipsis.__format__"  # Markdown's strong emphasis, were underscores emphasis to the grader
# a name per kind of trouble: markup, a space and a folder, '#' and '%' (which a URL must encode)
NAMES = {"alice": set(), "bob <img src=x onerror=alert(1)>": {"unroll_single_image", "mlp_16x16_architecture"},
         "late/carol #2": {"tune_mlp_returns_a_choice"},
         "dan 100%": {"test_set_not_used_for_tuning"}}  # a leak gate: its message is a needs-a-human row
BROKEN = "broken"


def result(name: str, failing: set[str]) -> SubmissionResult:
    cases = [CaseResult(question, check, points, 0.0 if check in failing else points, True,
                        f"`{check}(x)` printed {STUDENT_OUTPUT} and returned `None`.\n"
                        f"Return an array of shape `(n, 784)`, not {PYTHON_NAME}." if check in failing else "",
                        passed=check not in failing)
             for question, check, points in manifest(ASSIGNMENT).hidden_checks()]
    return submission_result(ASSIGNMENT, name, f"{name}.ipynb", GradingOutcome(cases=cases),
                             asked=manifest(ASSIGNMENT).questions,
                             dataset={"name": "digits", "n_train": 1437, "n_test": 360, "split": "sklearn's, seed 0"})


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("graded")
    results = [result(name, failing) for name, failing in NAMES.items()]
    results.append(SubmissionResult(ASSIGNMENT, BROKEN, f"{BROKEN}.ipynb", Status.INVALID,
                                    message=f"{BROKEN}.ipynb is not a readable Jupyter notebook"))
    for each in results:
        write_submission_files(folder, each)
    names = list(NAMES)
    (folder / "similarity.json").write_text(json.dumps({"assignment": ASSIGNMENT, "pairs": [
        {"submissions": [names[0], names[1]], "similarity": 0.93, "identical": None, "fragments": [{}]},
        {"submissions": [names[0], names[3]], "similarity": 1.0, "identical": "same bytes", "fragments": []},
    ]}))
    write_outputs(GradeRun(ASSIGNMENT, folder, results))
    return folder


def resolved(out: Path, href: str) -> Path:
    """Where a link of report.html leads (relative to it, URL-encoded), as a file."""
    target = urlparse(urljoin((out / "report.html").as_uri(), href))
    assert target.scheme == "file", href
    return Path(unquote(target.path))


# --- report.html ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report(out, tmp_path_factory) -> Page:
    return dump_dom((out / "report.html").as_uri(), tmp_path_factory.mktemp("chromium"))


def test_the_report_renders_with_its_plots_as_images(out, report, tmp_path):
    assert report.title == f"{ASSIGNMENT}: grading report"
    images = report.tags("img")
    assert [image["alt"] for image in images] == ["score distribution", "per-question pass rates"]
    for image in images:
        header, data = image["src"].split(",", 1)
        assert header == "data:image/png;base64"
        plot = Image.open(io.BytesIO(base64.b64decode(data)))
        plot.load()
        assert plot.format == "PNG"
        assert plot.width > 100
        assert plot.height > 100
        assert drawn_share(plot.convert("RGB")) > 0.01  # axes, bars and labels: not a blank image
    shot = screenshot((out / "report.html").as_uri(), tmp_path)
    assert shot.size == WINDOW
    assert drawn_share(shot) > 0.03, "the report renders as a blank page"
    # the plots are drawn in the page: the top of the page (where they are) holds the blue and
    # green of the bars, not only text
    colours = shot.crop((0, 0, WINDOW[0], 600)).getcolors(maxcolors=1 << 20)
    assert any(abs(r - 0x44) < 20 and abs(g - 0x77) < 20 and abs(b - 0xAA) < 20 for _, (r, g, b) in colours)
    assert any(abs(r - 0x22) < 20 and abs(g - 0x88) < 20 and abs(b - 0x33) < 20 for _, (r, g, b) in colours)


def test_every_row_of_the_gradebook_links_to_its_submissions_feedback_page(out, report):
    rows = [link for link in report.links if link["table"] == "gradebook"]
    assert [link["text"] for link in rows] == sorted([*NAMES, BROKEN])
    for link in rows:
        page = resolved(out, link["href"])
        assert page.is_file(), link["href"]
        assert page == out / "feedback" / f"{link['text']}.html"
        assert f"feedback for {html.escape(link['text'], quote=False)}</title>" in page.read_text()


def test_the_needs_a_human_list_links_to_feedback_and_lists_the_similar_pairs(out, report):
    links = [link for link in report.links if link["table"] == "attention"]
    feedback = {link["text"]: resolved(out, link["href"]) for link in links if "feedback" in link.get("class", "")}
    names = list(NAMES)
    assert set(feedback) == {BROKEN, names[0], names[1], names[3]}  # invalid; both sides of both pairs
    assert all(page.is_file() and page == out / "feedback" / f"{name}.html" for name, page in feedback.items())
    assert {link["href"] for link in links if "feedback" not in link.get("class", "")} == {
        "similarity.html#pair-1", "similarity.html"}
    text = report.text()
    assert "similar code" in text
    assert "identical files (same bytes)" in text
    assert "93 %" in text


def test_nothing_a_student_wrote_became_markup(report):
    assert not report.tags("script")
    assert all(set(attributes) <= {"alt", "src"} for attributes in report.tags("img"))
    assert not any(name.startswith("on") for _, attributes in report.elements for name in attributes)
    assert "bob <img src=x onerror=alert(1)>" in report.text()
    assert STUDENT_OUTPUT in report.text()  # a common failure's message, as text


def test_the_common_failures_show_their_code_spans(report):
    codes = [t for t in report.texts if t.startswith("unroll_single_image(x)")]
    assert codes, "the failure message's `code` is not rendered as code"
    assert not any("`" in text for text in report.texts)


# --- a feedback page, reached by the report's link -------------------------------------------------

def test_a_feedback_page_opened_from_the_report_shows_its_markdown_rendered(out, report, tmp_path):
    name = list(NAMES)[1]
    href = next(link["href"] for link in report.links if link["table"] == "gradebook" and link["text"] == name)
    url = urljoin((out / "report.html").as_uri(), href)
    page = dump_dom(url, tmp_path)
    assert page.title == f"{ASSIGNMENT}: feedback for {name}"
    assert len(page.tags("li")) >= 20  # a bullet per check
    assert len(page.tags("code")) >= 20  # each check's name, the messages' code spans
    assert [t for t, _ in page.elements].count("h2") == len(manifest(ASSIGNMENT).questions)
    text = page.text()
    assert "`" not in text
    assert "**" not in text
    assert not any(line.lstrip().startswith(("- ", "## ")) for line in text.splitlines())
    assert "Score: 26 / 29" in text
    assert "❌ unroll_single_image (0/1)" in text
    assert STUDENT_OUTPUT in text  # the student's output, as text
    assert not page.tags("script")
    assert not any(name.startswith("on") for _, attributes in page.elements for name in attributes)
    assert PYTHON_NAME in text
    assert len(page.tags("strong")) == 1  # the score line's; a name's underscores stay underscores
    shot = screenshot(url, tmp_path)
    assert drawn_share(shot) > 0.02, "the feedback page renders as a blank page"


def test_every_feedback_file_has_its_page(out):
    markdown = sorted(path.relative_to(out / "feedback").with_suffix("") for path in (out / "feedback").rglob("*.md"))
    pages = sorted(path.relative_to(out / "feedback").with_suffix("") for path in (out / "feedback").rglob("*.html"))
    assert markdown == pages
    assert len(pages) == len(NAMES) + 1


@pytest.mark.parametrize(("content", "says"), [
    ("{", "similarity.json could not be read (JSONDecodeError"),
    ('{"pairs": [{"similarity": 0.9}]}', "similarity.json could not be read (KeyError: 'submissions')"),
    ('{"assignment": "keras_networks", "pairs": []}', "compares submissions of keras_networks, not nn_foundations"),
])
def test_a_broken_or_foreign_similarity_file_is_a_row_of_the_list_not_a_failed_report(tmp_path, content, says):
    from autograder.report.html import render_report, similar_pairs
    (tmp_path / "similarity.json").write_text(content)
    rows = similar_pairs(tmp_path, ASSIGNMENT, set())
    assert len(rows) == 1
    assert says in rows[0]["detail"]
    report = render_report(ASSIGNMENT, [result("alice", set())], tmp_path)
    assert html.escape(says, quote=False) in report  # as Markdown renders the row's text, escaped
