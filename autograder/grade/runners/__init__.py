"""The runners: what the grading child does with a submission and an autograder zip.

* ``split`` (``runners.split``): the student's kernel runs the notebook and only answers
  probes; the judges run in the grading child, which the student's code never touches;
* ``otter`` (``runners.otter``): ``otter run``, the hidden tests inside the student's kernel
  (plain Otter tests only, which can run nowhere else).

A runner is a ``Runner``; ``runner_for(name)`` gives the one of that name (``RUNNERS``),
importing its module only then (the grader that starts grading children needs their names,
not their libraries). ``choose_runner`` turns the CLI's choice into a name: ``auto``, the
default everywhere (``DEFAULT_RUNNER``: the CLI, the batch's tasks, ``grade_in_child``),
is ``split`` for an assignment whose hidden tests are probes and judges, as every bundled
one, and ``otter`` for plain Otter tests.

A grading child started afresh runs ``python -m autograder.grade.runners RUNNER SUBMISSION
AUTOGRADER_ZIP REPORT`` (``__main__``); one forked from the zygote calls the same
``grade_into`` with ``from_zygote=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class Runner(Protocol):
    """One way of grading a submission, in the grading child."""

    name: str
    # end the grading child without the interpreter's shutdown once the report is written
    # (the split runner's judges load TensorFlow, whose shutdown takes about a second for nothing)
    exits_at_once: bool
    # what its child imports to grade, beyond this module: imported in advance by the zygote
    # (``processes.zygote``), once for every child it forks
    libraries: tuple[str, ...]

    def grade_into(self, submission: Path, autograder_zip: Path, report: Path, *, from_zygote: bool = False) -> None:
        """Grade ``submission`` (a notebook or an Otter export zip) with ``autograder_zip`` (the
        zip, or the folder it was unzipped into) and write the ``GradingOutcome``, as JSON, to
        ``report``; never raise for what the submission or the zip did. ``from_zygote``: this
        process was forked from the zygote (its libraries imported, nothing of a submission read)."""
        ...


def _split() -> Runner:
    from autograder.grade.runners.split import SplitRunner
    return SplitRunner()


def _otter() -> Runner:
    from autograder.grade.runners.otter import OtterRunner
    return OtterRunner()


RUNNERS: dict[str, Callable[[], Runner]] = {"split": _split, "otter": _otter}
AUTO = "auto"
DEFAULT_RUNNER = AUTO
RUNNER_CHOICES = (AUTO, *RUNNERS)  # what the CLI's --runner accepts


def runner_for(name: str) -> Runner:
    """The runner called ``name`` (a key of ``RUNNERS``; ``choose_runner`` resolves ``auto``)."""
    if name not in RUNNERS:
        raise ValueError(f"unknown runner {name!r}; choose one of {', '.join(RUNNER_CHOICES)}")
    return RUNNERS[name]()


def choose_runner(zip_path: Path, runner: str = DEFAULT_RUNNER) -> str:
    """``auto``: ``split`` (the judges outside the student's process) for an assignment whose
    hidden tests are probes and judges, as every bundled one; ``otter`` for plain Otter tests,
    which can only run inside the student's kernel. Any other choice is kept."""
    if runner != AUTO:
        return runner
    from autograder.bundle import Bundle  # here: the CLI imports this module for its choices alone
    return "split" if Bundle.read(zip_path).hidden_checks() else "otter"
