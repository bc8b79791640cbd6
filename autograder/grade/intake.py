"""From the paths a TA gives to a list of submissions, each either gradable or invalid.

Nothing given is ever dropped: a file that is not a notebook, a corrupt or empty
notebook, a notebook of another assignment, a zip without a notebook, or two files that
would get the same name each become a submission with a reason, so that they show up in
the gradebook as ``invalid`` with a sentence a person can act on.
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.assignment import notebook_assignment_name

SUBMISSION_SUFFIXES = (".ipynb", ".zip")
IGNORED_PARTS = ("__MACOSX", ".ipynb_checkpoints")


@dataclass(frozen=True)
class Submission:
    name: str              # the gradebook's key: the file's path below the folder given, no suffix
    path: Path
    problem: str | None = None  # why it cannot be graded; None if it can

    @property
    def valid(self) -> bool:
        return self.problem is None


def collect_submissions(paths: list[Path], assignment: str) -> list[Submission]:
    """Every file named (or found below a folder named), validated, in a stable order."""
    found = [(name, path) for root in paths for name, path in _files_below(Path(root))]
    counts = Counter(name for name, _ in found)
    submissions = []
    for name, path in sorted(found, key=lambda item: (item[0], str(item[1]))):
        if counts[name] > 1:
            others = sorted(str(p) for n, p in found if n == name and p != path)
            problem = (f"two submissions would both be named {name!r} (also {', '.join(others)}); "
                       "rename one of them and grade again")
        else:
            problem = validate(path, assignment)
        submissions.append(Submission(name=name, path=path, problem=problem))
    return submissions


def _files_below(root: Path) -> list[tuple[str, Path]]:
    if not root.exists():
        return [(root.stem or root.name, root)]
    if root.is_file():
        return [(root.stem, root)]
    files = [p for p in root.rglob("*") if p.is_file() and not _ignored(p.relative_to(root))]
    return [(_name_below(root, p), p) for p in files]


def _ignored(path: Path) -> bool:
    return any(part in IGNORED_PARTS or part.startswith(".") for part in path.parts)


def _name_below(root: Path, path: Path) -> str:
    relative = path.relative_to(root).with_suffix("")
    return "__".join(relative.parts)


def validate(path: Path, assignment: str) -> str | None:
    """Why ``path`` cannot be graded as a submission of ``assignment``, or None."""
    if not path.exists():
        return f"{path} does not exist"
    suffix = path.suffix.lower()
    if suffix == ".ipynb":
        return _notebook_problem(path.read_bytes(), path.name, assignment)
    if suffix == ".zip":
        return _zip_problem(path, assignment)
    return (f"{path.name} is not a notebook (.ipynb) or an Otter export (.zip); submit the "
            "notebook itself, or the zip file made by the notebook's last cell")


def _zip_problem(path: Path, assignment: str) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            notebooks = [n for n in archive.namelist()
                         if n.endswith(".ipynb") and not any(p in n for p in IGNORED_PARTS)]
            if len(notebooks) != 1:
                return (f"{path.name} holds {len(notebooks)} notebooks; an Otter export holds "
                        "exactly one: re-run the notebook's export cell and submit its zip")
            return _notebook_problem(archive.read(notebooks[0]), f"{path.name}:{notebooks[0]}",
                                     assignment)
    except zipfile.BadZipFile:
        return f"{path.name} is not a valid zip file; re-download it from the export cell"


def _notebook_problem(data: bytes, label: str, assignment: str) -> str | None:
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except (UnicodeDecodeError, json.JSONDecodeError, nbformat.ValidationError, Exception) as error:
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        return (f"{label} is not a readable Jupyter notebook ({reason}); open it in Jupyter, "
                "save it (File → Save), and submit the saved file")
    code = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]
    if not code:
        return f"{label} has no code in it; submit the notebook you worked in"
    stamped = notebook_assignment_name(notebook)
    if stamped is not None and stamped != assignment:
        return (f"{label} is a notebook of the assignment {stamped!r}, not {assignment!r}; "
                "submit it to the right assignment")
    return None
