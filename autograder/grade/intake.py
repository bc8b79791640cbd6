"""From the paths a TA gives to a list of submissions, each either gradable or invalid.

Nothing given is ever dropped: a file that is not a notebook, a corrupt or empty
notebook, a notebook of another assignment, a zip without a notebook, or two files that
would get the same name each become a submission with a reason, so that they show up in
the gradebook as ``invalid`` with a sentence a person can act on.

Files are hostile until read: a symbolic link is not followed (it could point at the
solutions), a file or a zip member larger than MAX_NOTEBOOK_MB is refused before it is
read (a 1 MiB zip can inflate to gigabytes), and a zip member is only ever read, never
extracted, so a name like ``../../x`` reaches no folder. A notebook's kernelspec is
ignored: grading always uses the course's kernel.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.assignment import notebook_assignment_name

SUBMISSION_SUFFIXES = (".ipynb", ".zip")
IGNORED_PARTS = ("__MACOSX", ".ipynb_checkpoints")
MAX_NOTEBOOK_MB = 100  # a notebook (or a zip's notebook, inflated) larger than this is refused
_TOO_LARGE = ("is {size:.0f} MB, more than the {limit} MB a submission may have; clear the "
              "outputs (Kernel → Restart Kernel and Clear Outputs), save, and submit again")


class SubmissionTooLarge(ValueError):
    """A notebook over MAX_NOTEBOOK_MB, found before it was read whole."""


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
        problem: str | None
        if counts[name] > 1:
            others = sorted(str(p) for n, p in found if n == name and p != path)
            problem = (f"two submissions would both be named {name!r} (also {', '.join(others)}); "
                       "rename one of them and grade again")
        else:
            problem = validate(path, assignment)
        submissions.append(Submission(name=name, path=path, problem=problem))
    return submissions


def _files_below(root: Path) -> list[tuple[str, Path]]:
    """Every file below ``root`` (a path the TA named, followed even if it is a link), and
    every symbolic link below it, which ``validate`` refuses rather than follow."""
    if not root.exists() and not root.is_symlink():
        return [(root.stem or root.name, root)]
    if not root.is_dir():
        return [(root.stem, root)]
    found = []
    for folder, subfolders, files in os.walk(root, followlinks=False):
        here = Path(folder)
        subfolders[:] = [d for d in subfolders if not _ignored((here / d).relative_to(root))]
        links = [d for d in subfolders if (here / d).is_symlink()]
        for name in [*files, *links]:
            if not _ignored((here / name).relative_to(root)):
                found.append((_name_below(root, here / name), here / name))
    return found


def _ignored(path: Path) -> bool:
    return any(part in IGNORED_PARTS or part.startswith(".") for part in path.parts)


def _name_below(root: Path, path: Path) -> str:
    relative = path.relative_to(root).with_suffix("")
    return "__".join(relative.parts)


def validate(path: Path, assignment: str) -> str | None:
    """Why ``path`` cannot be graded as a submission of ``assignment``, or None."""
    if path.is_symlink():
        return (f"{path.name} is a symbolic link (to {os.readlink(path)}), which the grader does not "
                "follow; put the file itself in the folder")
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_file():
        return f"{path.name} is not a regular file (a device, a pipe or a socket); submit the notebook itself"
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_MB << 20:
        return f"{path.name} " + _TOO_LARGE.format(size=size / 2**20, limit=MAX_NOTEBOOK_MB)
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
            notebooks = notebooks_in_zip(archive)
            if len(notebooks) != 1:
                return (f"{path.name} holds {len(notebooks)} notebooks; an Otter export holds "
                        "exactly one: re-run the notebook's export cell and submit its zip")
            return _notebook_problem(read_zip_member(archive, notebooks[0]), f"{path.name}:{notebooks[0]}",
                                     assignment)
    except SubmissionTooLarge as error:
        return f"{path.name}: {error}"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as error:
        return (f"{path.name} is not a valid zip file ({type(error).__name__}: {error}); re-download "
                "it from the export cell")


def notebooks_in_zip(archive: zipfile.ZipFile) -> list[str]:
    """The notebooks of an Otter export, checkpoints and macOS metadata aside."""
    return [name for name in archive.namelist()
            if name.endswith(".ipynb") and not any(part in name for part in IGNORED_PARTS)]


def read_zip_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """A member's bytes, read in a bounded way: the sizes a zip declares can lie, so reading
    stops one byte past MAX_NOTEBOOK_MB whatever the header says."""
    limit = MAX_NOTEBOOK_MB << 20
    data = b""
    if archive.getinfo(name).file_size <= limit:  # else refused unread
        with archive.open(name) as stream:
            data = stream.read(limit + 1)  # a size that lies is caught by zipfile's CRC check
    if archive.getinfo(name).file_size > limit or len(data) > limit:
        raise SubmissionTooLarge(
            f"{name} inflates to more than the {MAX_NOTEBOOK_MB} MB a submission may have (the "
            "grader stopped reading there); clear the notebook's outputs (Kernel → Restart Kernel "
            "and Clear Outputs), save, run the export cell again and submit the new zip")
    return data


def read_submitted_notebook(path: Path) -> bytes:
    """The notebook's bytes, from a notebook or an Otter export zip (bounded, see above)."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            return read_zip_member(archive, notebooks_in_zip(archive)[0])
    return path.read_bytes()


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
