"""`autograder manual` and the corrections it leads to (SPEC §8).

The first part builds grading folders by hand (a gradebook, journal records, notebooks, and a
student version with one manual question): where an answer is found, what the page shows and
escapes, the anonymous ids, and manual_scores.csv appended to without changing a byte a TA typed.
The last part grades two notebooks of a toy assignment with a manual question once, through the
command line, and follows a TA: grade, `autograder manual`, fill the two files, grade again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from helpers import ASSIGNMENT

from autograder.config import ASSIGNMENTS_DIR_ENV_VAR
from autograder.course.manual import (
    ANONYMOUS_KEY_FILE,
    ManualSetupError,
    anonymous_id,
    render_markdown,
    write_manual_pages,
)
from autograder.report import gradebook, write_atomically
from autograder.results import Status, SubmissionResult

MANUAL = "q6_reflection"  # nn_foundations' one manual question
FIXTURES = Path(__file__).parent / "fixtures"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
PLACEHOLDER = "_Type your answer here, replacing this text._"
PROMPT = "## Question 6 (written)\n\nWhat does `show_history(history)` tell you?"


def student_version(dist: Path) -> Path:
    """nn_foundations' student version as Otter Assign writes a manual question: the prompt's
    cell opens with the BEGIN marker, the answer cell follows, the END marker has a cell of its own."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    notebook = nbformat.v4.new_notebook(cells=[
        code('import otter\ngrader = otter.Notebook("nn_foundations.ipynb")'),
        code("history = ...\nshow_history(history)"),
        code('grader.check("q5_tuning")'),
        md(f"<!-- BEGIN QUESTION -->\n\n{PROMPT}"),
        md(PLACEHOLDER, metadata={"tags": ["otter_answer_cell"]}),
        md("<!-- END QUESTION -->\n\n"),
        md("## Submission"),
    ])
    path = dist / ASSIGNMENT / "student" / f"{ASSIGNMENT}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def figure(data: str = PNG, kind: str = "image/png") -> dict:
    return nbformat.v4.new_output("display_data", data={kind: data, "text/plain": "<Figure size 640x480>"})


def submission(folder: Path, name: str, answer: str | None, *, extra_cells: list | None = None,
               history_figure: bool = False) -> Path:
    """The student version with ``answer`` in the answer cell (None: left as given)."""
    notebook = nbformat.read(student_version(folder.parent / "dist"), as_version=4)
    if answer is not None:
        notebook.cells[4].source = answer
    if history_figure:
        notebook.cells[1].outputs = [figure()]
    for offset, cell in enumerate(extra_cells or []):
        notebook.cells.insert(5 + offset, cell)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


def grading_folder(out: Path, sources: dict[str, Path | str], statuses: dict[str, Status] | None = None) -> Path:
    """What `autograder grade` leaves for ``autograder manual``: gradebook.csv and a journal
    record per submission naming its file."""
    results = []
    for name, source in sources.items():
        status = (statuses or {}).get(name, Status.GRADED)
        result = SubmissionResult(ASSIGNMENT, name, str(source), status,
                                  message="not a notebook" if status == Status.INVALID else "")
        results.append(result)
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest() if Path(source).is_file() else ""
        write_atomically(out / ".journal" / f"{name}.json",
                         json.dumps({"source": str(source), "source_sha256": digest, "result": result.to_dict()}))
    write_atomically(out / "gradebook.csv", gradebook(ASSIGNMENT, results).to_csv(index=False))
    return out


@pytest.fixture
def folder(tmp_path) -> Path:
    """A grading folder of three notebooks: an answer with a figure of its own and one near
    it, one left as given, and one whose file is gone since."""
    subs = tmp_path / "subs"
    sources = {
        "alice": submission(subs, "alice", "Validation loss rises after **epoch 8**.", history_figure=True,
                            extra_cells=[nbformat.v4.new_code_cell("plot()", outputs=[figure()])]),
        "bob": submission(subs, "bob", None),
        "carol": subs / "carol.ipynb",
    }
    return grading_folder(tmp_path / "out", sources)


def run_manual(out: Path, names: bool = False):
    return write_manual_pages(ASSIGNMENT, out, dist=out.parent / "dist", names=names)


def page(out: Path) -> str:
    return (out / "manual" / f"{MANUAL}.html").read_text()


def blocks(html: str) -> dict[str, str]:
    """Each submission's block of a page, by its label."""
    return dict(re.findall(r'<section class="answer" id="([^"]+)">(.*?)</section>', html, re.S))


# ---------------------------------------------------------------------------------------------
# The page

def test_each_submission_has_a_block_with_its_answer_and_the_figures_near_it(folder):
    run = run_manual(folder, names=True)
    found = blocks(page(folder))
    assert sorted(found) == ["alice", "bob", "carol"]
    assert "Validation loss rises after <strong>epoch 8</strong>." in found["alice"]
    # the figure of the code cell in the answer, and the one of the cell the prompt names
    assert found["alice"].count(f"data:image/png;base64,{PNG}") == 2
    assert "it calls show_history(history), which the question names" in found["alice"]
    assert "Not answered" in found["bob"]
    assert "Not answered" not in found["alice"]
    assert "No answer to show" in found["carol"]
    assert "carol.ipynb is not there any more" in found["carol"]
    assert run.summary(MANUAL).startswith(f"{MANUAL}: 3 submissions, 1 without a readable answer, 1 not answered")
    assert "What does <code>show_history(history)</code> tell you?" in page(folder)  # the prompt, once


def test_an_answer_is_found_by_its_prompt_even_when_cells_moved(folder, tmp_path):
    notebook = nbformat.read(tmp_path / "subs" / "alice.ipynb", as_version=4)
    block = notebook.cells[3:7]
    del notebook.cells[3:7]
    notebook.cells[0:0] = block  # the whole question moved to the top
    nbformat.write(notebook, tmp_path / "subs" / "alice.ipynb")
    run_manual(folder, names=True)
    assert "Validation loss rises after" in blocks(page(folder))["alice"]


def test_a_notebook_without_the_question_or_unreadable_says_so(folder, tmp_path):
    notebook = nbformat.read(tmp_path / "subs" / "alice.ipynb", as_version=4)
    notebook.cells = [c for c in notebook.cells if "QUESTION -->" not in c.source]
    nbformat.write(notebook, tmp_path / "subs" / "alice.ipynb")
    (tmp_path / "subs" / "carol.ipynb").write_text("{ not json")
    run_manual(folder, names=True)
    found = blocks(page(folder))
    assert "the notebook has no block for q6_reflection" in found["alice"]
    assert "carol.ipynb is not a readable notebook" in found["carol"]


def test_an_invalid_submission_gets_a_block_that_says_why(tmp_path):
    broken = tmp_path / "subs" / "broken.pdf"
    broken.parent.mkdir()
    broken.write_text("%PDF")
    out = grading_folder(tmp_path / "out", {"broken": broken}, {"broken": Status.INVALID})
    student_version(tmp_path / "dist")
    run_manual(out, names=True)
    assert "the file could not be graded: not a notebook" in blocks(page(out))["broken"]


def test_without_a_gradebook_or_a_student_version_the_command_stops(tmp_path):
    with pytest.raises(ManualSetupError, match=r"gradebook\.csv does not exist"):
        run_manual(tmp_path / "out")
    grading_folder(tmp_path / "out", {"alice": submission(tmp_path / "subs", "alice", "x")})
    shutil.rmtree(tmp_path / "dist")
    with pytest.raises(ManualSetupError, match="run `autograder build nn_foundations` first"):
        run_manual(tmp_path / "out")
    assert not (tmp_path / "out" / "manual").exists()
    assert not (tmp_path / "out" / "manual_scores.csv").exists()


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


ATTACKS = [
    "<script>alert('md')</script>",
    '<img src="x" onerror="alert(1)">',
    "[click](javascript:alert(2))",
    "![remote](https://evil.example/track.png)",
    '<a href="javascript:alert(3)">x</a>',
    "</div></section><script>alert(4)</script>",
]


def test_nothing_from_a_notebook_runs_in_the_tas_browser(tmp_path):
    evil = [
        nbformat.v4.new_code_cell("</pre><script>alert(5)</script>", outputs=[
            nbformat.v4.new_output("display_data", data={"text/html": "<script>alert(6)</script>",
                                                         "text/plain": "<b onclick=alert(7)>plain</b>"}),
            figure('"><script>alert(8)</script>'),  # not base64: not shown
            figure("<svg xmlns='http://www.w3.org/2000/svg' onload='alert(9)'/>", "image/svg+xml"),
        ]),
        nbformat.v4.new_raw_cell("<iframe src='https://evil.example'></iframe>"),
    ]
    subs = tmp_path / "subs"
    out = grading_folder(tmp_path / "out", {"mallory": submission(subs, "mallory", "\n\n".join(ATTACKS),
                                                                  extra_cells=evil)})
    run_manual(out)
    html = page(out)
    parser = Tags()
    parser.feed(html)
    allowed = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "div", "ul", "li", "a", "section",
               "pre", "code", "em", "strong", "span", "figure", "img", "figcaption"}
    assert {tag for tag, _ in parser.tags} <= allowed
    assert not [(t, a) for t, a in parser.tags if any(name.startswith("on") for name in a)]
    assert all(str(a.get("src", "")).startswith("data:image/") for t, a in parser.tags if t == "img")
    assert all(str(a.get("href", "")).startswith("#") for t, a in parser.tags if t == "a")
    assert "<script" not in html.lower()
    # shown as text, escaped
    assert "&lt;script&gt;alert('md')&lt;/script&gt;" in html
    assert "&lt;/pre&gt;&lt;script&gt;alert(5)&lt;/script&gt;" in html
    assert "[image: remote (https://evil.example/track.png), not loaded]" in html
    assert "&lt;b onclick=alert(7)&gt;plain&lt;/b&gt;" in html
    assert "data:image/svg+xml;base64," in html  # an SVG is an <img>: its scripts never run
    assert "Content-Security-Policy" in html
    assert "default-src &#39;none&#39;" not in html


def red_plot() -> str:
    """A real figure as a notebook holds it: a PNG of a thick red line, base64."""
    import base64
    import io

    from matplotlib.figure import Figure
    figure = Figure(figsize=(4, 3), dpi=100)
    figure.subplots().plot([0, 1, 2, 3], [3, 1, 2, 0], color="#dd0000", linewidth=12)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def test_the_page_opens_in_a_browser_and_its_figures_show(tmp_path):
    """Headless Chromium: the page renders, each answer block is there, and the student's figure
    (a red line near the answer) is drawn on the page, not a broken image."""
    from browser import WINDOW, dump_dom, screenshot
    subs = tmp_path / "subs"
    plot = red_plot()
    out = grading_folder(tmp_path / "out", {
        "alice": submission(subs, "alice", "The validation loss turns upward after epoch 8.",
                            extra_cells=[nbformat.v4.new_code_cell("plot()", outputs=[figure(plot)])]),
        "bob": submission(subs, "bob", None)})
    run_manual(out)
    url = (out / "manual" / f"{MANUAL}.html").as_uri()
    dom = dump_dom(url, tmp_path)
    assert MANUAL in dom.title
    assert len([s for s in dom.tags("section") if "answer" in s.get("class", "")]) == 2
    assert [image["src"] for image in dom.tags("img")] == [f"data:image/png;base64,{plot}"]
    assert "The validation loss turns upward after epoch 8." in dom.text()
    shot = screenshot(url, tmp_path)
    assert shot.size == WINDOW
    red = sum(count for count, (r, g, b) in shot.getcolors(maxcolors=1 << 22) if r > 200 and g < 60 and b < 60)
    assert red > 500, "the student's figure is not drawn on the page"


def test_markdown_attachments_are_shown_and_other_images_are_not_loaded():
    html = str(render_markdown("![plot](attachment:plot.png) ![x](attachment:missing.png)",
                               {"plot.png": {"image/png": PNG}}))
    assert f'<img src="data:image/png;base64,{PNG}" alt="plot">' in html
    assert "[image: x (attachment:missing.png), not loaded]" in html


# ---------------------------------------------------------------------------------------------
# Anonymous ids

def test_anonymous_ids_are_stable_and_say_nothing_of_the_name(folder):
    run_manual(folder)
    first = blocks(page(folder))
    key = bytes.fromhex((folder / ANONYMOUS_KEY_FILE).read_text().strip())
    assert sorted(first) == sorted(anonymous_id(key, name) for name in ("alice", "bob", "carol"))
    assert all(re.fullmatch(r"anon-[0-9a-f]{10}", label) for label in first)
    for name in ("alice", "bob", "carol"):
        assert name not in page(folder).split("<body>", 1)[1]  # carol's missing file is not named either
    # not a digest of the name alone: another key gives other ids
    assert anonymous_id(b"another key", "alice") != anonymous_id(key, "alice")
    assert hashlib.sha256(b"alice").hexdigest()[:10] not in first
    run_manual(folder)  # again: the same ids
    assert sorted(blocks(page(folder))) == sorted(first)


def test_a_damaged_key_stops_the_command_rather_than_change_every_id(folder):
    (folder / ANONYMOUS_KEY_FILE).write_text("not a key\n")
    with pytest.raises(ManualSetupError, match="cannot be read as the key of the anonymous ids"):
        run_manual(folder)
    assert not (folder / "manual").exists()


def test_with_names_the_blocks_are_labelled_by_name_and_no_key_is_made(folder):
    run_manual(folder, names=True)
    assert sorted(blocks(page(folder))) == ["alice", "bob", "carol"]
    assert not (folder / ANONYMOUS_KEY_FILE).exists()


# ---------------------------------------------------------------------------------------------
# manual_scores.csv

def rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";" if ";" in
                           path.read_text().splitlines()[0] else ","))


def test_the_scores_file_is_made_once_and_each_block_names_its_line(folder):
    run = run_manual(folder, names=True)
    scores = folder / "manual_scores.csv"
    assert rows(scores) == [["submission", "question", "points", "comment"], ["alice", MANUAL, "", ""],
                            ["bob", MANUAL, "", ""], ["carol", MANUAL, "", ""]]
    assert run.appended == 3
    assert "manual_scores.csv, line 3" in blocks(page(folder))["bob"]
    before = scores.read_bytes()
    assert run_manual(folder, names=True).appended == 0
    assert scores.read_bytes() == before


@pytest.mark.parametrize(("delimiter", "ending"), [(",", "\n"), (";", "\r\n")])
def test_new_submissions_are_appended_and_nothing_a_ta_typed_changes(folder, tmp_path, delimiter, ending):
    scores = folder / "manual_scores.csv"
    d = delimiter
    typed = (f"\ufeffsubmission{d}question{d}points{d}comment{d}grader{ending}"
             f'carol{d}{MANUAL}{d}1{d}"Short; but right,{ending}see the notes."{d}kim{ending}'
             f"alice{d}{MANUAL}{d}3{d}Excellent.{d}kim")  # reordered, an extra column, no final line end
    scores.write_bytes(typed.encode("utf-8"))
    grading_folder(folder, {name: tmp_path / "subs" / f"{name}.ipynb" for name in ("alice", "bob", "carol")}
                   | {"dave": submission(tmp_path / "subs", "dave", "Dave's answer.")})
    run = run_manual(folder, names=True)
    text = scores.read_bytes().decode("utf-8")
    assert text.startswith(typed)
    assert text[len(typed):] == f"{ending}bob{d}{MANUAL}{d}{d}{d}{ending}dave{d}{MANUAL}{d}{d}{d}{ending}"
    assert run.appended == 2
    lines = typed.count("\n")  # the rows typed end on this line, then bob's and dave's rows
    assert f"manual_scores.csv, line {lines + 2}</p>" in blocks(page(folder))["bob"]
    assert f"manual_scores.csv, line {lines + 3}</p>" in blocks(page(folder))["dave"]
    assert "manual_scores.csv, line 2</p>" in blocks(page(folder))["carol"]  # where its row starts


def test_a_malformed_scores_file_stops_the_command_and_nothing_is_written(folder):
    scores = folder / "manual_scores.csv"
    scores.write_text("submission,question,points,comment\nalice,q6_reflection,5,too many\n")
    with pytest.raises(ManualSetupError, match=r"manual_scores\.csv:2: points 5 is more than q6_reflection's 3"):
        run_manual(folder)
    assert scores.read_text() == "submission,question,points,comment\nalice,q6_reflection,5,too many\n"
    assert not (folder / "manual").exists()
    assert not (folder / ANONYMOUS_KEY_FILE).exists()


# ---------------------------------------------------------------------------------------------
# End to end: a toy assignment with a manual question, graded once

TOY_MANUAL = "q2_reflection"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy assignment (tests/fixtures/toy) with a manual question added as the master
    notebooks write one, built, and two notebooks graded through the command line:
    (environment, dist, submissions folder, output folder)."""
    from autograder.build import build_assignment
    root = tmp_path_factory.mktemp("toy-manual")
    assignments = root / "assignments"
    shutil.copytree(FIXTURES / "toy", assignments / "toy")
    master = nbformat.read(assignments / "toy" / "toy.ipynb", as_version=4)
    raw, md = nbformat.v4.new_raw_cell, nbformat.v4.new_markdown_cell
    master.cells += [raw(f"# BEGIN QUESTION\nname: {TOY_MANUAL}\nmanual: true\npoints: 2"),
                     md("## Question 2 (written)\n\nWhy six times seven?"),
                     raw("# BEGIN SOLUTION"), md("_Type your answer here._\n\n**Solution:** because."),
                     raw("# END SOLUTION"), raw("# END QUESTION")]
    nbformat.write(master, assignments / "toy" / "toy.ipynb")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(assignments))
        built = build_assignment("toy", root / "dist", verify=False)
    folder = root / "subs"
    folder.mkdir()
    for name, answer, text in (("alice", "6 * 7", "Because 6 × 7 = 42."), ("bob", "41", "No idea.")):
        notebook = nbformat.read(built.student_dir / "toy.ipynb", as_version=4)
        code = next(c for c in notebook.cells if c.source.startswith("answer = "))
        code.source = f"answer = {answer}"
        answer_cell = next(c for c in notebook.cells if "otter_answer_cell" in c.metadata.get("tags", [])
                           and c.cell_type == "markdown")
        answer_cell.source = text
        nbformat.write(notebook, folder / f"{name}.ipynb")
    env = dict(os.environ, **{ASSIGNMENTS_DIR_ENV_VAR: str(assignments)})
    out = root / "out"
    done = cli(env, "grade", "toy", str(folder), "--out", str(out), "--dist", str(root / "dist"), "-j", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    return env, root / "dist", folder, out


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], env=env, capture_output=True,
                          text=True, timeout=600)


def outputs(out: Path) -> dict[str, bytes]:
    """Every file of the folder but the batch's lock (it records who holds it)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != ".autograder.lock"}


@pytest.mark.slow
def test_a_ta_scores_the_manual_question_and_corrects_a_check(toy, tmp_path):
    env, dist, folder, graded = toy
    out = tmp_path / "out"
    shutil.copytree(graded, out)
    automatic = (out / "gradebook.csv").read_text()
    assert automatic.splitlines()[1:] == ["alice,graded,2.0,2.0,2.0,", "bob,graded,0.0,2.0,0.0,"]

    done = cli(env, "manual", "toy", str(out), "--dist", str(dist), "--names")
    assert done.returncode == 0, done.stderr
    answers = blocks((out / "manual" / f"{TOY_MANUAL}.html").read_text())
    assert "Because 6 × 7 = 42." in answers["alice"]
    assert "No idea." in answers["bob"]
    assert (out / "manual_scores.csv").read_text() == (
        f"submission,question,points,comment\nalice,{TOY_MANUAL},,\nbob,{TOY_MANUAL},,\n")

    (out / "manual_scores.csv").write_text(f"submission,question,points,comment\n"
                                           f'alice,{TOY_MANUAL},2,"Right, and well put."\nbob,{TOY_MANUAL},,\n')
    (out / "overrides.csv").write_text("submission,check,points,reason\n"
                                       "bob,answer_is_forty_two,1,41 is one off: half the points.\n")
    grade = ["grade", "toy", str(folder), "--out", str(out), "--dist", str(dist)]
    done = cli(env, *grade)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 kept from an earlier run" in done.stdout  # nothing graded again
    assert (out / "gradebook.csv").read_text().splitlines()[1:] == [
        "alice,graded,4.0,4.0,2.0,2.0", "bob,graded,1.0,2.0,1.0,"]
    alice = json.loads((out / "results" / "alice.json").read_text())
    assert {"name": f"{TOY_MANUAL} · graded by a TA", "score": 2.0, "max_score": 2.0,
            "output": "Right, and well put."}.items() <= alice["tests"][-1].items()
    bob = json.loads((out / "results" / "bob.json").read_text())
    check = next(t for t in bob["tests"] if t["name"].endswith("answer_is_forty_two"))
    assert check["score"] == 1.0
    assert "41 is one off: half the points." in check["output"]
    assert "Right, and well put." in (out / "feedback" / "alice.md").read_text()
    assert "41 is one off: half the points." in (out / "feedback" / "bob.md").read_text()
    report = (out / "report.html").read_text()  # the totals: alice 4 / 4, bob 1 / 2
    assert re.search(r">alice</a>.*?>4 / 4<", report, re.S)
    assert re.search(r">bob</a>.*?>1 / 2<", report, re.S)
    journal = json.loads((out / ".journal" / "bob.json").read_text())["result"]
    assert journal["score"] == 0.0  # the journal keeps what the autograder found

    # a bad row: exit 1 with its file and line, and not a byte of the outputs changes
    before = outputs(out)
    (out / "overrides.csv").write_text("submission,check,points,reason\n"
                                       "bob,answer_is_forty_two,1,41 is one off: half the points.\n"
                                       "bob,answer_is_forty_three,1,typo\n")
    done = cli(env, *grade)
    assert done.returncode == 1
    assert f"{out / 'overrides.csv'}:3: unknown check 'answer_is_forty_three'" in done.stderr
    assert {k: v for k, v in outputs(out).items() if k != "overrides.csv"} == {
        k: v for k, v in before.items() if k != "overrides.csv"}

    # both files emptied of rows: the automatic scores again
    (out / "overrides.csv").write_text("submission,check,points,reason\n")
    (out / "manual_scores.csv").write_text("submission,question,points,comment\n")
    done = cli(env, *grade)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "gradebook.csv").read_text() == automatic
    assert "41 is one off" not in (out / "feedback" / "bob.md").read_text()
