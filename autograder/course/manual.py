"""``autograder manual``: the answers to an assignment's manual questions, gathered for a TA to
read and score (SPEC §8).

For each manual question (``Question.manual`` in the manifest), ``DIR/manual/<question>.html``
shows every submission of the grading folder ``DIR`` in one block: the cells of its answer
(Markdown rendered, code shown with its text output, figures inline), the figures its notebook
shows near the answer, and the line of ``manual_scores.csv`` where its score goes. Blocks are
labelled by an anonymous id (``anon-`` and ten hex digits of an HMAC of the submission's name
under a key kept in ``DIR/.anonymous_key``: the same submission keeps its id from one run to the
next, and the id cannot be turned back into a name without the key) unless ``--names``.

Where the answer is: Otter Assign writes a manual question into the student version between
two Markdown markers, ``<!-- BEGIN QUESTION -->`` at the start of the prompt's cell and
``<!-- END QUESTION -->`` in a cell of its own; the student's answer cells are in between. The
student version (``dist/<assignment>/student/``) tells which block is which question (by its
prompt, or by its position when a prompt was edited) and what the untouched answer cell holds,
so that an answer left as given is said to be "not answered".

``DIR/manual_scores.csv`` (``submission``, ``question``, ``points``, ``comment``) gets a row with
empty points for each (submission, manual question) it does not have yet; what is in the file is
never changed or reordered (new rows are appended). ``autograder grade`` merges it
(``report.corrections``).

Everything that comes from a notebook is escaped: Markdown is rendered without raw HTML,
links and images only with safe schemes (a cell's attachments become inline images, other
images are named, not loaded), code and text outputs are text, and the page forbids scripts
and remote content (its Content-Security-Policy), so a notebook cannot run anything in the TA's
browser.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import io
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jinja2
import nbformat
from markdown_it import MarkdownIt
from markupsafe import Markup

from autograder.assignment import Question, master_path, questions
from autograder.batch.journal import JOURNAL_DIR
from autograder.grade.intake import MAX_NOTEBOOK_MB, read_submitted_notebook
from autograder.report import GRADEBOOK_COLUMNS, write_atomically
from autograder.report.corrections import (
    MANUAL_COLUMNS,
    MANUAL_SCORES_FILE,
    CorrectionsError,
    read_manual_scores,
)
from autograder.report.csvfile import CsvFileError, csv_delimiter, csv_rows

TEMPLATES = Path(__file__).parent / "templates"
MANUAL_DIR = "manual"
ANONYMOUS_KEY_FILE = ".anonymous_key"
BEGIN_MARK = "<!-- BEGIN QUESTION -->"
END_MARK = "<!-- END QUESTION -->"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")
MAX_TEXT_OUTPUT = 3000        # characters of one text output shown; the rest is cut
MAX_IMAGE_BYTES = 8 << 20     # a larger figure is named, not shown
MAX_NEARBY_FIGURES = 6        # figures from cells outside the answer, per submission
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class ManualSetupError(ValueError):
    """The pages cannot be made (no grading folder, no student version, a malformed
    manual_scores.csv); nothing was written."""


@dataclass(frozen=True)
class Figure:
    """An image a notebook shows, as a data: URI (base64, a type from IMAGE_TYPES)."""

    uri: str
    caption: str = ""


@dataclass(frozen=True)
class AnswerCell:
    number: int            # counted from 1 at the top of the notebook, text cells included
    kind: str              # markdown, code or raw
    html: Markup | None    # markdown: rendered (and safe); None otherwise
    source: str            # code and raw: shown as text
    outputs: tuple[str, ...] = ()         # code: text outputs, cut at MAX_TEXT_OUTPUT
    figures: tuple[Figure, ...] = ()      # code: image outputs
    given: bool = False    # as the student version has it (the starter text of an answer cell)


@dataclass(frozen=True)
class Answer:
    """One submission's block on a question's page."""

    submission: str
    label: str             # the anonymous id, or the name with --names
    status: str            # the gradebook's
    cells: tuple[AnswerCell, ...] = ()
    nearby: tuple[Figure, ...] = ()
    problem: str = ""      # why there is no answer to show (unreadable notebook, no block)
    unanswered: bool = False  # the answer cells are as the student version gave them
    notes: tuple[str, ...] = ()
    scores_line: int | None = None  # the row of manual_scores.csv for it


@dataclass(frozen=True)
class GradedSubmission:
    """A row of DIR/gradebook.csv with what the journal (or its results JSON) says of its file."""

    name: str
    status: str
    source: str
    digest: str = ""   # SHA-256 of the file graded, from the journal
    message: str = ""  # why it was not graded, for an invalid file


@dataclass(frozen=True)
class Block:
    """A manual question's cells in a notebook: the prompt (its BEGIN cell, marker removed) and
    the cells up to the END marker, with their indexes."""

    prompt: str
    begin: int
    cells: tuple[tuple[int, Any], ...]


@dataclass(frozen=True)
class Prompt:
    """What the student version holds for one manual question."""

    question: Question
    prompt: str
    given: frozenset[str]      # the block's cells as given (normalised), i.e. "not answered"
    code_spans: tuple[str, ...]  # calls the prompt names (`plot_history(history)`), whose figures are shown


@dataclass
class ManualRun:
    assignment: str
    out_dir: Path
    pages: dict[str, Path] = field(default_factory=dict)
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    appended: int = 0
    scores_file: Path = Path(MANUAL_SCORES_FILE)

    def summary(self, question: str) -> str:
        answers = self.answers[question]
        missing = sum(1 for a in answers if a.problem)
        unanswered = sum(1 for a in answers if a.unanswered)
        return (f"{question}: {len(answers)} submissions, {missing} without a readable answer, "
                f"{unanswered} not answered: {self.pages[question]}")


# ---------------------------------------------------------------------------------------------
# The command

def write_manual_pages(assignment: str, out_dir: Path, *, dist: Path = Path("dist"), names: bool = False) -> ManualRun:
    """Write ``out_dir/manual/<question>.html`` for each manual question and append the rows
    ``out_dir/manual_scores.csv`` lacks. Everything is read and checked first: a
    ManualSetupError (a malformed manual_scores.csv with its file and line) leaves every file
    as it was."""
    out_dir = Path(out_dir)
    manual = _manual_questions(assignment)
    graded = graded_submissions(assignment, out_dir)
    prompts = student_prompts(assignment, dist, manual)
    scores_path = out_dir / MANUAL_SCORES_FILE
    known = {g.name for g in graded} | {p.stem for p in (out_dir / JOURNAL_DIR).glob("*.json")}
    try:
        existing = read_manual_scores(scores_path, assignment, known)
    except CorrectionsError as error:
        raise ManualSetupError(f"{error}. Nothing was written.") from error
    key_path = out_dir / ANONYMOUS_KEY_FILE
    key = None if names else _anonymous_key(key_path)
    labels = {g.name: g.name if key is None else anonymous_id(key, g.name) for g in graded}
    order = sorted(graded, key=lambda g: labels[g.name])
    appended_text, lines, appended = scores_rows(scores_path, existing, [q.name for q in manual],
                                                 [g.name for g in order])

    run = ManualRun(assignment, out_dir, scores_file=scores_path)
    run.answers = {prompt.question.name: [] for prompt in prompts}
    for g in order:  # one notebook in memory at a time: only its answers are kept
        read = read_graded_notebook(g)
        if key is not None:  # the file's path names the student: not on an anonymous page
            read = _anonymised(read, g)
        for prompt in prompts:
            name = prompt.question.name
            run.answers[name].append(answer_of(g, labels[g.name], read, prompt, prompts, lines.get((g.name, name))))
    environment = _templates()
    pages = {prompt.question.name: environment.get_template("manual.html.j2").render(
        assignment=assignment, question=prompt.question, prompt=render_markdown(prompt.prompt),
        answers=run.answers[prompt.question.name], anonymous=key is not None, scores_file=MANUAL_SCORES_FILE)
        for prompt in prompts}
    # everything is known: write
    if key is not None and not key_path.exists():
        write_atomically(key_path, key.hex() + "\n")
    for name, page in pages.items():
        run.pages[name] = out_dir / MANUAL_DIR / f"{name}.html"
        write_atomically(run.pages[name], page)
    if appended_text is not None:
        write_atomically(scores_path, appended_text)
        run.appended = appended
    return run


def _manual_questions(assignment: str) -> list[Question]:
    try:
        asked = questions(assignment)
    except FileNotFoundError as error:
        raise ManualSetupError(f"unknown assignment {assignment!r}: no master notebook at "
                               f"{master_path(assignment)}") from error
    manual = [q for q in asked if q.manual]
    if not manual:
        raise ManualSetupError(f"{assignment} has no manual question: every question is autograded, "
                               "so there is nothing for a TA to score")
    return manual


# ---------------------------------------------------------------------------------------------
# The grading folder

def graded_submissions(assignment: str, out_dir: Path) -> list[GradedSubmission]:
    """The submissions of ``out_dir/gradebook.csv``, each with the file it graded."""
    path = out_dir / "gradebook.csv"
    if not path.is_file():
        raise ManualSetupError(f"{path} does not exist: give the folder `autograder grade {assignment} … --out` "
                               "wrote, after grading")
    try:
        rows = csv_rows(path)
    except CsvFileError as error:
        raise ManualSetupError(f"{error}; grade the folder again to write it anew") from error
    header = [cell.strip() for cell in rows[0][1]] if rows else []
    if any(name not in header for name in GRADEBOOK_COLUMNS):
        raise ManualSetupError(f"{path}:1: is not a gradebook (its header lacks {', '.join(GRADEBOOK_COLUMNS)}); "
                               "grade the folder again")
    at_name, at_status = header.index("submission"), header.index("status")
    graded = []
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise ManualSetupError(f"{path}:{line}: has {len(row)} fields where the header has {len(header)}; "
                                   "grade the folder again")
        name = row[at_name]
        record = _read_json(out_dir / JOURNAL_DIR / f"{name}.json")
        result = _dict(record.get("result"))
        extra = _dict(_read_json(out_dir / "results" / f"{name}.json").get("extra_data"))
        graded_for = result.get("assignment") or extra.get("assignment")
        if graded_for and graded_for != assignment:
            raise ManualSetupError(f"{out_dir} holds grades of {graded_for!r} ({name}), not of {assignment!r}")
        graded.append(GradedSubmission(
            name=name, status=row[at_status], source=str(record.get("source") or extra.get("source") or ""),
            digest=str(record.get("source_sha256") or ""), message=str(result.get("message") or "")))
    return graded


def _anonymised(read: tuple[Any | None, str, tuple[str, ...]],
                graded: GradedSubmission) -> tuple[Any | None, str, tuple[str, ...]]:
    """What ``read_graded_notebook`` says, without the file's path or name or the submission's."""
    path = Path(graded.source)
    names = sorted({graded.source, str(path.resolve()) if graded.source else "", path.name, path.stem,
                    graded.name, *graded.name.split("__")} - {""}, key=len, reverse=True)

    def hidden(text: str) -> str:
        for name in names:
            text = text.replace(name, "[name withheld]")
        return text
    notebook, problem, notes = read
    return notebook, hidden(problem), tuple(hidden(note) for note in notes)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_graded_notebook(graded: GradedSubmission) -> tuple[Any | None, str, tuple[str, ...]]:
    """(notebook, problem, notes): the notebook of the file that was graded, read as intake
    reads it (a notebook, or an Otter export's), or why it cannot be read."""
    if graded.status == "invalid":
        return None, f"the file could not be graded: {graded.message or 'see its feedback'}", ()
    if not graded.source:
        return None, "the grading folder does not say which file was graded (no journal record or results file)", ()
    path = Path(graded.source)
    try:
        if path.is_symlink():
            return None, f"{path} is now a symbolic link, which is not followed", ()
        if path.stat().st_size > MAX_NOTEBOOK_MB << 20:
            return None, f"{path} is larger than {MAX_NOTEBOOK_MB} MB", ()
        raw = path.read_bytes()
        data = read_submitted_notebook(path) if path.suffix.lower() == ".zip" else raw
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    except FileNotFoundError:
        return None, (f"{path} is not there any more: run `autograder manual` from the folder "
                      "`autograder grade` was run in, with the submissions where they were graded"), ()
    except Exception as error:  # a zip or notebook that cannot be read, whatever the library raises
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        return None, f"{path.name} is not a readable notebook ({reason})", ()
    notes: tuple[str, ...] = ()
    if graded.digest and hashlib.sha256(raw).hexdigest() != graded.digest:
        notes = (f"{path.name} changed after it was graded: this is the file as it is now",)
    return notebook, "", notes


# ---------------------------------------------------------------------------------------------
# Where a manual question's answer is

def question_blocks(notebook: Any) -> list[Block]:
    """The notebook's manual-question blocks, in order: from a Markdown cell holding the BEGIN
    marker to the next holding the END marker (a block left open ends where the next begins, or
    at the notebook's end)."""
    blocks: list[Block] = []
    begin: int | None = None
    prompt = ""
    inside: list[tuple[int, Any]] = []
    for index, cell in enumerate(notebook.cells):
        source = _text(cell.get("source", ""))
        markdown = cell.get("cell_type") == "markdown"
        if markdown and BEGIN_MARK in source:
            if begin is not None:
                blocks.append(Block(prompt, begin, tuple(inside)))
            begin, inside = index, []
            prompt = source.split(BEGIN_MARK, 1)[1]
            if END_MARK in prompt:  # a question in one cell
                blocks.append(Block(prompt.split(END_MARK, 1)[0].strip(), index, ()))
                begin = None
            else:
                prompt = prompt.strip()
        elif begin is not None and markdown and END_MARK in source:
            blocks.append(Block(prompt, begin, tuple(inside)))
            begin = None
        elif begin is not None:
            inside.append((index, cell))
    if begin is not None:
        blocks.append(Block(prompt, begin, tuple(inside)))
    return blocks


def student_prompts(assignment: str, dist: Path, manual: Sequence[Question]) -> list[Prompt]:
    """Each manual question's block in the student version, in the manifest's order."""
    path = Path(dist) / assignment / "student" / f"{assignment}.ipynb"
    try:
        notebook = nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise ManualSetupError(f"no student version at {path}: run `autograder build {assignment}` first "
                               "(or give --dist where it wrote)") from None
    except Exception as error:
        raise ManualSetupError(f"{path} cannot be read ({error}); run `autograder build {assignment}` again") from error
    blocks = question_blocks(notebook)
    if len(blocks) != len(manual):
        raise ManualSetupError(f"{path} has {len(blocks)} manual-question blocks ({BEGIN_MARK} … {END_MARK}) "
                               f"where {assignment} has {len(manual)} manual questions; run "
                               f"`autograder build {assignment}` again")
    return [Prompt(question, block.prompt, frozenset(_normal(_text(c.source)) for _, c in block.cells),
                   tuple(span for span in _CODE_SPAN.findall(block.prompt) if "(" in span))
            for question, block in zip(manual, blocks)]


def find_block(notebook: Any, prompt: Prompt, prompts: Sequence[Prompt]) -> Block | None:
    """The submission's block of ``prompt``'s question: the one with the same prompt, or the
    one in the same position when the submission has as many blocks as the student version."""
    blocks = question_blocks(notebook)
    for block in blocks:
        if _normal(block.prompt) == _normal(prompt.prompt):
            return block
    position = list(prompts).index(prompt)
    return blocks[position] if len(blocks) == len(prompts) else None


def answer_of(graded: GradedSubmission, label: str, read: tuple[Any | None, str, tuple[str, ...]],
              prompt: Prompt, prompts: Sequence[Prompt], scores_line: int | None) -> Answer:
    notebook, problem, notes = read
    base = Answer(submission=graded.name, label=label, status=graded.status, notes=notes,
                  scores_line=scores_line)
    if notebook is None:
        return _with(base, problem=problem)
    block = find_block(notebook, prompt, prompts)
    if block is None:
        return _with(base, problem=(f"the notebook has no block for {prompt.question.name} (its "
                                    f"{BEGIN_MARK} and {END_MARK} cells were removed or edited): look for "
                                    "the answer in the notebook itself"))
    cells = tuple(replace(answer_cell(index, cell), given=_normal(_text(cell.source)) in prompt.given)
                  for index, cell in block.cells)
    if _normal(block.prompt) != _normal(prompt.prompt):  # the question's own cell, edited: shown too
        cells = (answer_cell(block.begin, notebook.cells[block.begin]), *cells)
    unanswered = all(cell.given for cell in cells)
    inside = {index for index, _ in block.cells}
    return _with(base, cells=cells, unanswered=unanswered,
                 nearby=nearby_figures(notebook, block, prompt, inside))


def _with(answer: Answer, **changes: Any) -> Answer:
    return replace(answer, **changes)


def nearby_figures(notebook: Any, block: Block, prompt: Prompt, inside: set[int]) -> tuple[Figure, ...]:
    """Figures the notebook shows near the answer, outside its block: those of the code cells
    just before the question (back to the previous text cell or `grader.check`), and those of
    any code cell that makes a call the prompt names (`plot_history(history)`)."""
    chosen: list[tuple[int, str]] = []
    index = block.begin - 1
    while index >= 0:
        cell = notebook.cells[index]
        if cell.get("cell_type") != "code" or "grader.check" in _text(cell.get("source", "")):
            break
        chosen.append((index, "just before the question"))
        index -= 1
    chosen.reverse()
    spans = [(span, _normal(span)) for span in prompt.code_spans]
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") != "code" or index in inside or any(i == index for i, _ in chosen):
            continue
        named = [span for span, normal in spans if normal in _normal(_text(cell.get("source", "")))]
        if named:
            chosen.append((index, f"it calls {named[0]}, which the question names"))
    figures = []
    for index, why in chosen:
        for figure in _figures(notebook.cells[index]):
            figures.append(Figure(figure.uri, f"cell {index + 1} ({why})"))
    return tuple(figures[:MAX_NEARBY_FIGURES])


# ---------------------------------------------------------------------------------------------
# Rendering cells, safely

def answer_cell(index: int, cell: Any) -> AnswerCell:
    kind = str(cell.get("cell_type", "raw"))
    source = _text(cell.get("source", ""))
    if kind == "markdown":
        attachments = cell.get("attachments") if isinstance(cell.get("attachments"), dict) else {}
        return AnswerCell(index + 1, kind, render_markdown(source, attachments), source)
    if kind != "code":
        return AnswerCell(index + 1, "raw", None, source)
    return AnswerCell(index + 1, kind, None, source, tuple(_text_outputs(cell)), tuple(_figures(cell)))


def render_markdown(source: str, attachments: dict | None = None) -> Markup:
    """CommonMark (with tables) as HTML, raw HTML escaped (markdown-it's ``html: False``), links
    with unsafe schemes left as text (its ``validateLink``); an image is shown only when it is
    one of the cell's attachments (``attachment:name``), otherwise named with its address."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    found = attachments or {}

    def image(self: Any, tokens: Any, index: int, options: Any, env: Any) -> str:
        token = tokens[index]
        src = str(token.attrGet("src") or "")
        alt = self.renderInlineAsText(token.children or [], options, env)
        if src.startswith("attachment:"):
            bundle = found.get(unquote(src.removeprefix("attachment:")))
            uri = _data_uri(bundle) if isinstance(bundle, dict) else None
            if uri:
                return f'<img src="{_escape(uri)}" alt="{_escape(alt)}">'
        return f'<span class="image-ref">[image: {_escape(alt)} ({_escape(src)}), not loaded]</span>'

    parser.add_render_rule("image", image)
    return Markup(parser.render(source))


def _escape(text: str) -> str:
    return str(Markup.escape(text))


def _text_outputs(cell: Any) -> list[str]:
    texts = []
    for output in cell.get("outputs", []) or []:
        kind = output.get("output_type")
        if kind == "stream":
            text = _text(output.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            text = _text((output.get("data") or {}).get("text/plain", ""))
            if any(t in (output.get("data") or {}) for t in IMAGE_TYPES):
                continue  # a figure's repr ("<Figure size …>"): the figure itself is shown
        elif kind == "error":
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        else:
            continue
        if text.strip():
            texts.append(text if len(text) <= MAX_TEXT_OUTPUT else text[:MAX_TEXT_OUTPUT] + "\n… (cut)")
    return texts


def _figures(cell: Any) -> list[Figure]:
    figures = []
    for output in cell.get("outputs", []) or []:
        if output.get("output_type") in ("execute_result", "display_data"):
            uri = _data_uri(output.get("data") or {})
            if uri:
                figures.append(Figure(uri))
    return figures


def _data_uri(bundle: dict) -> str | None:
    """A data: URI for the first image of a MIME bundle, or None. Base64 is checked (only its
    alphabet, decodable); SVG is text in a notebook and is encoded here (an <img> never runs an
    SVG's scripts)."""
    for kind in IMAGE_TYPES:
        if kind not in bundle:
            continue
        value = _text(bundle[kind])
        if kind == "image/svg+xml":
            data = base64.b64encode(value.encode("utf-8")).decode("ascii")
        else:
            data = "".join(value.split())
            if not _BASE64.fullmatch(data):
                continue
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                continue
        if len(data) * 3 // 4 <= MAX_IMAGE_BYTES:
            return f"data:{kind};base64,{data}"
    return None


def _text(value: Any) -> str:
    """A notebook's multiline string (a str, or a list of lines)."""
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return str(value) if value is not None else ""


def _normal(text: str) -> str:
    return " ".join(text.split())


def _templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                              autoescape=jinja2.select_autoescape(["html", "j2"]))


# ---------------------------------------------------------------------------------------------
# Anonymous ids

def _anonymous_key(path: Path) -> bytes:
    """The folder's key for anonymous ids: read from ``path``, or a new random one (written
    with the pages, so that the ids stay the same from one run to the next)."""
    try:
        text = path.read_text(encoding="ascii").strip()
        if len(text) < 32:
            raise ValueError(f"{len(text)} hex digits, fewer than 32")
        return bytes.fromhex(text)
    except FileNotFoundError:
        return secrets.token_bytes(32)
    except (OSError, ValueError) as error:
        raise ManualSetupError(f"{path} cannot be read as the key of the anonymous ids ({error}); restore it, "
                               "or remove it to make a new one (every id changes)") from error


def anonymous_id(key: bytes, submission: str) -> str:
    """``anon-`` and ten hex digits of HMAC-SHA256(key, name): stable for a name under one key,
    and not computable from the name without the key."""
    return "anon-" + hmac.new(key, submission.encode("utf-8"), hashlib.sha256).hexdigest()[:10]


# ---------------------------------------------------------------------------------------------
# manual_scores.csv

def scores_rows(path: Path, existing: Iterable[Any], question_names: Sequence[str],
                submissions: Sequence[str]) -> tuple[str | None, dict[tuple[str, str], int], int]:
    """(the file's new text, or None when it needs no row; the line of each (submission,
    question) row; how many rows are new). A new file is the header and a row per pair; an existing one keeps every
    byte it has, new pairs appended as rows in its own delimiter, line ending and columns."""
    have = {(score.submission, score.question): score.line for score in existing}
    wanted = [(submission, question) for question in question_names for submission in submissions]
    new = [pair for pair in wanted if pair not in have]
    lines = dict(have)
    if path.exists():
        original = path.read_bytes().decode("utf-8")  # checked by read_manual_scores
    else:
        original = ""
    if not original.strip():
        text = ",".join(MANUAL_COLUMNS) + "\n"
        header = list(MANUAL_COLUMNS)
        delimiter, ending = ",", "\n"
    else:
        text = original
        first = original.lstrip("\ufeff").splitlines()[0]
        delimiter = csv_delimiter(first)
        ending = "\r\n" if "\r\n" in original.split("\n", 1)[0] + "\n" else "\n"
        header = [cell.strip() for cell in next(csv.reader([first], delimiter=delimiter))]
        if not text.endswith(("\n", "\r")):
            text += ending
    if not new:
        return None, lines, 0
    line = text.count("\n") + 1
    for submission, question in new:
        row = [""] * len(header)
        row[header.index("submission")] = submission
        row[header.index("question")] = question
        text += _csv_line(row, delimiter) + ending
        lines[(submission, question)] = line
        line += 1
    return text, lines, len(new)


def _csv_line(row: list[str], delimiter: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="").writerow(row)
    return buffer.getvalue()
