"""The documentation's links lead somewhere (issue 24, "Documentation by reader"): every relative
link in README.md and docs/*.md names a file that exists, and every `#anchor` (in the page, or
into another Markdown file) names one of that page's headings, by GitHub's rules for heading
anchors. Links with a scheme (https:, mailto:) are not followed."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# explicit anchors written in HTML: <a name="x"></a>, <span id="x">
HTML_ANCHOR = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""")


def parse(text: str) -> list[Token]:
    """CommonMark, plus GitHub's tables (links in table cells are links too)."""
    return MarkdownIt("commonmark").enable("table").parse(text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: lowercased; every character dropped but letters,
    marks, digits, connector punctuation ('_'), '-' and spaces; each space made '-'."""
    kept = "".join(c for c in heading.lower()
                   if c in " -" or unicodedata.category(c)[0] in "LMN" or unicodedata.category(c) == "Pc")
    return kept.replace(" ", "-")


def heading_text(inline: Token) -> str:
    """The text a reader sees in a heading: markup dropped, code spans' text kept."""
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a Markdown file: one per heading (a repeated one gets -1, -2 …),
    plus explicit HTML ids and names."""
    tokens = parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    seen: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            base = slug(heading_text(tokens[index + 1]))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        if token.type in ("html_block", "html_inline"):
            found.update(HTML_ANCHOR.findall(token.content))
        for child in token.children or []:
            if child.type == "html_inline":
                found.update(HTML_ANCHOR.findall(child.content))
    return found


def links(path: Path) -> Iterator[tuple[int, str]]:
    """(line, target) of every link and image in a Markdown file."""
    for token in parse(path.read_text(encoding="utf-8")):
        line = token.map[0] + 1 if token.map else 0
        for child in token.children or []:
            if child.type == "link_open":
                yield line, str(child.attrs.get("href", ""))
            elif child.type == "image":
                yield line, str(child.attrs.get("src", ""))


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """One line per relative link of `page` whose file does not exist, or whose #anchor matches
    no heading of the Markdown file it points into."""
    problems = []
    for line, target in links(page):
        parts = urlsplit(target)
        if parts.scheme or target.startswith("//"):
            continue  # a web address: not followed here
        path = unquote(parts.path)
        if not path:
            file = page
        elif path.startswith("/"):
            file = root / path.lstrip("/")
        else:
            file = page.parent / path
        where = f"{page.name}:{line}: ({target})"
        if not file.exists():
            problems.append(f"{where} no such file: {file}")
        elif parts.fragment and file.suffix == ".md" and unquote(parts.fragment) not in anchors(file):
            problems.append(f"{where} no heading of {file.name} has the anchor #{unquote(parts.fragment)}")
    return problems


def test_the_pages_are_found():
    names = {page.relative_to(ROOT).as_posix() for page in PAGES}
    assert {"README.md", "docs/architecture.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(page):
    assert broken_links(page) == []


@pytest.mark.parametrize(("heading", "anchor"), [
    ("What this is", "what-this-is"),
    ("Instructors: `autograder build`", "instructors-autograder-build"),
    ("Judging the student cannot touch (`--runner split`, the default)",
     "judging-the-student-cannot-touch---runner-split-the-default"),
    ("How the `nn_foundations` checks judge", "how-the-nn_foundations-checks-judge"),
    ("A forked kernel's address space", "a-forked-kernels-address-space"),
    ("Where to add …", "where-to-add-"),
    ("The 16×16 MLP", "the-1616-mlp"),
    ("Tests (`pytest`, *two* workers)", "tests-pytest-two-workers"),
])
def test_anchors_follow_githubs_rules(tmp_path, heading, anchor):
    page = tmp_path / "page.md"
    page.write_text(f"## {heading}\n")
    assert anchors(page) == {anchor}


def test_a_repeated_heading_gets_a_numbered_anchor(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Notes\n\n## Notes\n\n### Notes\n")
    assert anchors(page) == {"notes", "notes-1", "notes-2"}


def test_broken_links_are_found(tmp_path):
    """The check can fail: a missing file, an anchor no heading has (in the page and in another
    file), in prose and in a table cell; the links that resolve, and web addresses, pass."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## Grading, by hand\n")
    (tmp_path / "docs" / "script.py").write_text("print()\n")
    page = tmp_path / "README.md"
    page.write_text(
        "# Front page\n\n"
        "## What it is\n\n"
        "[ok](docs/other.md) [ok](docs/other.md#grading-by-hand) [ok](#what-it-is) [ok](docs/)\n"
        "[ok](docs/script.py#L1) [ok](/docs/other.md#other-page) ![ok](docs/script.py)\n"
        "[web](https://example.org/missing.md#nowhere) [mail](mailto:ta@example.org)\n\n"
        "[gone](docs/missing.md) and [no anchor](#what-this-is)\n\n"
        "| page | link |\n| --- | --- |\n| other | [wrong anchor](docs/other.md#grading) |\n")
    problems = broken_links(page, root=tmp_path)
    assert len(problems) == 3, problems
    assert "no such file" in problems[0]
    assert "(docs/missing.md)" in problems[0]
    assert "no heading of README.md has the anchor #what-this-is" in problems[1]
    assert "no heading of other.md has the anchor #grading" in problems[2]
    assert problems[2].startswith("README.md:13:")  # the line of the table row
