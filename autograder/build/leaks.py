"""Does the student version carry an answer? Compare it with the master notebook.

Otter Assign strips solutions and hidden tests, but a misplaced marker in the master
(a solution line outside a ``# BEGIN SOLUTION`` block, a test cell without ``hidden:
true``) ships an answer silently. So after every build we collect what must stay with
the staff (solution lines, hidden test code) from the master, and look for it in every
text file of the student folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

MIN_SOLUTION_LINE = 16  # shorter lines ("return best") also occur in stubs and prompts
MARKERS = ("# BEGIN SOLUTION", "# END SOLUTION", "# SOLUTION", "BEGIN TEST CONFIG", "hidden: true",
           "run_check(")
_INLINE_SOLUTION = re.compile(r"#\s*SOLUTION\s*$")
_HIDDEN_CONFIG = re.compile(r"^\s*hidden:\s*true\s*$", re.IGNORECASE | re.MULTILINE)


def find_answer_leaks(master: Path, student_dir: Path) -> list[str]:
    """Each problem as a sentence naming what leaked and where; empty if the folder is clean."""
    secrets, public = staff_only_text(nbformat.read(master, as_version=4))
    secrets = {line for line in secrets if line not in public}  # quoted in a prompt: not secret
    problems = []
    for path in sorted(p for p in student_dir.rglob("*") if p.is_file()):
        text = _read_text(path)
        if text is None:
            continue
        where = path.relative_to(student_dir)
        problems += [f"{where}: contains the marker {marker!r}" for marker in MARKERS if marker in text]
        problems += [f"{where}: contains the staff-only line `{line}`"
                     for line in sorted(secrets) if line in text]
    checks = student_dir / "autograder" / "checks"
    if checks.exists():  # the leak analysis alone is the students' (their public test-set check)
        problems += [f"autograder/checks/{p.relative_to(checks)}: the hidden checks were copied to students"
                     for p in sorted(checks.iterdir()) if p.name not in ("leakage", "__pycache__")]
    return problems


def find_broken_stubs(student_dir: Path) -> list[str]:
    """Code cells of the student notebooks that are not valid Python.

    Otter replaces a solution line with ``...``; a statement that spans several lines
    each marked ``# SOLUTION`` then leaves dangling continuation lines, and students
    would start from a cell that cannot run.
    """
    import ast
    problems = []
    for path in sorted(student_dir.glob("*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type != "code":
                continue
            code = "\n".join(line for line in cell.source.splitlines()
                             if not line.lstrip().startswith(("%", "!")))
            try:
                ast.parse(code)
            except SyntaxError as error:
                problems.append(f"{path.name}: cell {index + 1} does not parse ({error.msg}, "
                                f"line {error.lineno}): `{(error.text or '').strip()}`")
    return problems


def staff_only_text(master: nbformat.NotebookNode) -> tuple[set[str], str]:
    """(lines of solutions and hidden tests, all the text students are meant to see)."""
    secrets: set[str] = set()
    public: list[str] = []
    in_solution = in_tests = False
    for cell in master.cells:
        source = cell.source
        marker = source.strip().lower() if cell.cell_type == "raw" else ""
        if marker.startswith("# begin solution"):
            in_solution = True
        elif marker.startswith("# end solution"):
            in_solution = False
        elif marker.startswith("# begin tests"):
            in_tests = True
        elif marker.startswith("# end tests"):
            in_tests = False
        elif in_tests and _HIDDEN_CONFIG.search(source):
            secrets |= _significant_lines(source)
        elif in_solution and cell.cell_type == "markdown":
            secrets |= _significant_lines(source.split("**Solution:**", 1)[-1])
        elif in_solution and cell.cell_type == "code":
            hidden, shown = _split_solution_code(source)
            secrets |= hidden
            public.append(shown)
        elif cell.cell_type != "raw":
            public.append(source)
    return secrets, "\n".join(public)


def _split_solution_code(source: str) -> tuple[set[str], str]:
    hidden, shown, inside = set(), [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("# BEGIN SOLUTION"):
            inside = True
        elif stripped.startswith("# END SOLUTION"):
            inside = False
        elif inside:
            hidden |= _significant_lines(line)
        elif _INLINE_SOLUTION.search(stripped):
            hidden |= _significant_lines(_INLINE_SOLUTION.sub("", stripped))
        else:
            shown.append(line)
    return hidden, "\n".join(shown)


def _significant_lines(text: str) -> set[str]:
    lines = (line.strip() for line in text.splitlines())
    return {line for line in lines if len(line) >= MIN_SOLUTION_LINE and not line.startswith("#")}


def _read_text(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None
    if path.suffix == ".ipynb":  # look at the sources as a person would read them
        try:
            notebook = nbformat.reads(text, as_version=4)
        except Exception:
            return text
        return "\n".join(cell.source for cell in notebook.cells) + "\n" + str(notebook.metadata)
    return text
