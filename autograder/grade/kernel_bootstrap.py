"""The grader's code that runs inside the student's kernel, kept as a module so linters and
type checkers read it; the split runner sends each function's source (the grader's package
is not on the kernel's disk), never imports it for itself.

* :func:`__autograder_restore__` goes in before the student's cells: its default arguments
  copy the built-ins as Python made them, so the probes run with those even if the notebook
  replaced some (the copy lives in the kernel, so a notebook can still break it, and only
  its own grading with it);
* :func:`__autograder_install__` goes in after them: it installs the probe modules from
  their source and defines ``__autograder_answer__``, the one function the judge calls.
"""

# No ``from __future__ import annotations`` here: sent to the kernel, it would change how the
# student's later cells compile. Annotations the kernel cannot evaluate are strings.
import inspect
from collections.abc import Callable
from typing import Any


def __autograder_restore__(_saved: "dict[str, Any]" = dict(vars(__import__("builtins"))),  # noqa: B006, B008
                           _builtins: "Any" = __import__("builtins")) -> None:
    _builtins.__dict__.update(_saved)


def __autograder_install__(sources: "list[tuple[str, str]]", assignment: str) -> None:
    __autograder_restore__()  # noqa: F821 (defined in the kernel before the student's cells)
    import sys
    import types

    from IPython import get_ipython
    for package in ("autograder.checks", "autograder.checks." + assignment):
        module = types.ModuleType(package)
        module.__path__ = []
        sys.modules[package] = module
    for name, source in sources:
        module = types.ModuleType(name)
        sys.modules[name] = module
        exec(compile(source, "<grader " + name + ">", "exec"), module.__dict__)
    probes = sys.modules["autograder.checks." + assignment + ".probes"]
    namespace = get_ipython().user_ns

    def answer(probe: str, seed: int, request: str, reply: str) -> None:
        from autograder.seeding import seed_everything
        channel = sys.modules["autograder.checks.channel"]
        probing = sys.modules["autograder.checks.probing"]
        with open(request, "rb") as stream:
            inputs = channel.decode(stream.read())
        seed_everything(seed)
        try:
            answers = getattr(probes, probe)(namespace, inputs)
        except probing.ProbeFailure as failure:
            answers = probing.failure_answer(str(failure))
        with open(reply, "wb") as stream:
            stream.write(channel.encode(answers))
    namespace["__autograder_answer__"] = answer


def source_of(function: Callable[..., Any]) -> str:
    """A function of this module as the text of a cell that defines it in the kernel."""
    return inspect.getsource(function)


SNAPSHOT_CELL = source_of(__autograder_restore__)


def install_cell(sources: list[tuple[str, str]], assignment: str) -> str:
    """The cell that installs the probes: defines, calls and forgets the installer."""
    return (source_of(__autograder_install__)
            + f"\n__autograder_install__({sources!r}, {assignment!r})\ndel __autograder_install__\n")


def answer_cell(probe: str, seed: int, request: str, reply: str) -> str:
    """The cell that has one probe answer: inputs read from ``request``, answers to ``reply``."""
    return f"__autograder_answer__({probe!r}, {seed}, {request!r}, {reply!r})"
