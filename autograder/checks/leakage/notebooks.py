"""The leak analysis of notebook files, one verdict each, for ``autograder leaks``: any
notebook, not only the course's (Kaggle-style pandas, magics, cells that do not parse,
thousands of lines). A file that cannot be read gets a verdict that says why, never a
traceback."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.checks.leakage.verdict import RULE_TITLES, Leak


@dataclass
class NotebookVerdict:
    path: Path
    leaks: list[Leak] = field(default_factory=list)       # L1-L5, in cell order
    reflection: list[Leak] = field(default_factory=list)  # "R": for a person to read
    error: str = ""                                        # why the file could not be analysed
    seconds: float = 0.0

    @property
    def rules(self) -> list[str]:
        """The rules broken, in the order of RULE_TITLES."""
        broken = {leak.rule for leak in self.leaks}
        return [rule for rule in RULE_TITLES if rule in broken]

    def headline(self) -> str:
        if self.error:
            return f"{self.path}: unreadable ({self.error})"
        if not self.rules:
            return f"{self.path}: clean"
        return f"{self.path}: leak {','.join(self.rules)}"

    def evidence(self) -> list[str]:
        return [leak.describe() for leak in self.leaks] + [
            f"{leak.describe()} (for a person to read, not a leak by itself)" for leak in self.reflection]

    def to_dict(self) -> dict:
        def row(leak: Leak) -> dict:
            return {"rule": leak.rule, "title": RULE_TITLES.get(leak.rule, leak.rule), "cell": leak.cell + 1,
                    "line": leak.line, "code": leak.code, "explanation": leak.explanation}
        return {"path": str(self.path), "verdict": "unreadable" if self.error else "leak" if self.rules else "clean",
                "rules": self.rules, "leaks": [row(leak) for leak in self.leaks],
                "reflection": [row(leak) for leak in self.reflection], "error": self.error,
                "seconds": round(self.seconds, 4)}


def analyse_notebook_file(path: Path, reported_models: tuple[str, ...] = ()) -> NotebookVerdict:
    """Read and analyse one .ipynb (any nbformat version); unreadable files say why.
    ``reported_models``: models the notebook may score once each on the test set (the final
    models of separate questions), as in ``find_leaks``."""
    import nbformat

    from autograder.checks.leakage import find_leaks, find_reflection, notebook_cells
    started = time.perf_counter()
    try:
        notebook = nbformat.read(str(path), as_version=4)
    except OSError as error:
        return NotebookVerdict(path, error=f"cannot read the file: {error.strerror or error}")
    except UnicodeDecodeError:
        return NotebookVerdict(path, error="not text in UTF-8, so not a notebook")
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as error:
        return NotebookVerdict(path, error=f"not valid JSON, so not a notebook: {str(error).split(':')[0][:120]}")
    except Exception as error:  # nbformat raises several kinds for malformed notebooks
        return NotebookVerdict(path, error=f"not a notebook nbformat can read: {type(error).__name__}: "
                                           f"{str(error)[:120]}")
    cells = notebook_cells(notebook)
    return NotebookVerdict(path, find_leaks(cells, reported_models=reported_models), find_reflection(cells),
                           seconds=time.perf_counter() - started)


def notebook_paths(paths: list[Path]) -> list[Path]:
    """Files as given; folders searched for .ipynb files (checkpoints skipped), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            found.append(path)
    return found


def check_my_notebook(assignment: str, reported_models: tuple[str, ...] = ()) -> str | None:
    """The students' public check: the analysis the grader runs, on the notebook as last saved
    in the current folder (``<assignment>.ipynb``, or the folder's only notebook). None when
    it is clean; else the verdicts, each with its rule, cell and line, as the feedback will
    show them."""
    folder = Path.cwd()
    candidates = [folder / f"{assignment}.ipynb"] if (folder / f"{assignment}.ipynb").exists() else \
        sorted(folder.glob("*.ipynb"))
    if len(candidates) != 1:
        return (f"the test-set check reads your notebook from this folder, but it holds {len(candidates)} "
                f"notebooks and none is named {assignment}.ipynb; keep one notebook here.")
    verdict = analyse_notebook_file(candidates[0], reported_models)
    if verdict.error:
        return f"the test-set check could not read {candidates[0].name}: {verdict.error}"
    lines = []
    if verdict.leaks:
        lines.append("the test set leaks (as last saved: save the notebook, then check again):")
        lines += [f"  • {leak.describe()}" for leak in verdict.leaks]
    if verdict.reflection:
        lines.append("a TA will read this code before its question is graded (the analysis cannot follow it):")
        lines += [f"  • {leak.describe()}" for leak in verdict.reflection]
    return "\n".join(lines) or None
