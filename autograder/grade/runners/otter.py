"""The runner for plain Otter tests: ``otter run`` in the grading child
(``processes.grading_child.grade_in_child``).

Otter's results.json gives one row per question; the child reads the per-case results
instead, so every hidden check keeps its own points and message.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, cast

from autograder.bundle import Bundle
from autograder.grade.isolation.namespaces import network_isolated
from autograder.grade.processes.kernel_template import KernelTemplate
from autograder.results import CaseResult, GradingOutcome

FAILURE_PREFIXES = ("CheckFailed: ", "AssertionError: ")
# seconds per notebook cell, given to this runner's grading child in its environment (the
# split runner reads its limits from the zip's grading.toml)
CELL_TIMEOUT_ENV_VAR = "AUTOGRADER_CELL_TIMEOUT"


class OtterRunner:
    """Otter's own runner, for an autograder zip of plain Otter tests."""

    name = "otter"
    exits_at_once = False
    libraries: tuple[str, ...] = ("otter.run", "nbconvert.preprocessors", "nbclient.util", "traitlets")

    def grade_into(self, submission: Path, autograder_zip: Path, report: Path, *, from_zygote: bool = False) -> None:
        child_main(str(submission), str(autograder_zip), str(report), kernel_template=from_zygote)


# Child side ------------------------------------------------------------------------------

def _install_execute_preprocessor(template: KernelTemplate | None) -> None:
    """Otter executes the notebook with nbconvert's ExecutePreprocessor, which it imports
    inside ``grade_notebook`` at call time and configures itself: what the grader changes goes
    in as a subclass put in its place, whose trait defaults carry it (traitlets caches
    defaults per class, so mutating the parent's would not work).

    * The per-cell limit in CPU time (``CELL_TIMEOUT_ENV_VAR``) that interrupts the cell, as
      the split runner's (``kernel.student_kernel.CpuWatch``): the same notebook gets the same
      grade on an idle machine and a busy one. Wall time stops only a cell that waits without
      computing, at ``WALL_BACKSTOP`` times the limit, stretched by the time the cell waited
      for a CPU. On timeout the kernel is interrupted and the next cells still run: a runaway
      cell costs only what depends on it.
    * The kernel from ``template`` (forked by this child before it read the zip, see
      ``kernel_template``), for the first kernel started: a fresh kernel paid Python's start,
      ipykernel's imports and the notebook's ``import otter`` (a one-cell toy notebook took
      3.5-4.1 s, 1.7-1.9 s from the template); a kernel started again is a fresh one.
    """
    seconds = os.environ.get(CELL_TIMEOUT_ENV_VAR)
    if not seconds and template is None:
        return
    import nbconvert.preprocessors as preprocessors
    from nbclient.util import run_sync
    from traitlets import Bool, Integer

    from autograder.grade.isolation.cgroups import process_tree_cpu_seconds, process_tree_run_queue_waits
    from autograder.grade.isolation.jail import JailSettings
    from autograder.grade.kernel.student_kernel import FAR_GUARD, WALL_BACKSTOP, CpuWatch, ForkingKernelManager
    limit = float(seconds) if seconds else None
    templates = [template] if template is not None else []  # one kernel per template, never again

    class GradingPreprocessor(preprocessors.ExecutePreprocessor):
        # without a limit, nbconvert's own defaults (no timeout, no interrupt)
        timeout = Integer(int(limit * WALL_BACKSTOP * FAR_GUARD) if limit else None, allow_none=True).tag(config=True)
        interrupt_on_timeout = Bool(limit is not None).tag(config=True)

        def create_kernel_manager(self) -> Any:
            if self.km is None and templates:
                self.kernel_manager_class = ForkingKernelManager
                manager = cast(ForkingKernelManager, super().create_kernel_manager())
                manager.template, manager.jail_settings = templates.pop(), JailSettings(parent=os.getpid())
                return manager
            return super().create_kernel_manager()

        async def async_execute_cell(self, cell: Any, cell_index: int, execution_count: int | None = None,
                                     store_history: bool = True) -> Any:
            process = getattr(getattr(self.km, "provisioner", None), "process", None)
            if limit is None or process is None:  # no limit, or not a local kernel: nbclient's own timeout only
                return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
            pid = process.pid

            def interrupt(number: int) -> None:
                try:
                    os.kill(pid, number)
                except ProcessLookupError:
                    pass
            with CpuWatch(limit, lambda: process_tree_cpu_seconds(pid), interrupt, kill_after=None,
                          backstop=limit * WALL_BACKSTOP, run_queue_waits=lambda: process_tree_run_queue_waits(pid)):
                return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

        # nbclient binds its synchronous `execute_cell` (what nbconvert's preprocess_cell calls)
        # to its own coroutine when the class is made: without this line the override above is
        # never called, and only the far guard (nbclient's timeout) stops a runaway cell
        execute_cell = run_sync(async_execute_cell)

    preprocessors.ExecutePreprocessor = GradingPreprocessor  # type: ignore[misc]  # deliberate monkeypatch


def child_main(submission: str, autograder_zip: str, report: str, *, kernel_template: bool = False) -> None:
    """``kernel_template``: this process was forked from a zygote that imported the libraries;
    its kernel is forked from it rather than started afresh."""
    # now, before anything of the zip or the submission is read: the template copies this memory
    template = KernelTemplate.fork() if kernel_template else None
    try:
        _install_execute_preprocessor(template)
        grade_with_otter(submission, autograder_zip, report)
    finally:
        if template is not None:
            template.discard()


def grade_with_otter(submission: str, autograder_zip: str, report: str) -> None:
    import otter.run

    from autograder.grade.kernel.student_kernel import KERNEL_START_FAILURE
    try:
        results = otter.run.main(submission, autograder=autograder_zip, output_dir=None,
                                 no_logo=True)
        grade = results_to_grade(results, test_function_names(Path(autograder_zip)))
    except Exception as error:  # Otter raises for invalid submissions; report, don't crash
        grade = GradingOutcome(error=f"{type(error).__name__}: {error}")
        # raised by jupyter_client in this process when the kernel dies before any cell ran
        grade.retryable = type(error) is RuntimeError and str(error) == KERNEL_START_FAILURE
    grade.network_isolated = network_isolated()
    Path(report).write_text(json.dumps(grade.to_dict()))


def test_function_names(autograder_zip: Path) -> dict[str, list[str]]:
    """Per question, the names of its test functions in file order, from the zip's manifest.

    Otter names exception-based cases "q1 - 1", "q1 - 2"; the function names (one per
    hidden check) are what a person reading the gradebook recognises. Zips built before
    manifests keep Otter's names.
    """
    manifest = Bundle.read(autograder_zip).manifest
    return manifest.test_functions() if manifest else {}


def results_to_grade(results: Any, function_names: dict[str, list[str]]) -> GradingOutcome:
    grade = GradingOutcome()
    for question, test_file in results.results.items():
        names = function_names.get(question, [])
        for index, case in enumerate(test_file.test_case_results):
            points = float(case.test_case.points or 0)
            grade.cases.append(CaseResult(
                question=question,
                name=names[index] if index < len(names) else case.test_case.name,
                points=points,
                score=points if case.passed else 0.0,
                hidden=bool(case.test_case.hidden),
                message="" if case.passed else student_message(case.message or ""),
                passed=bool(case.passed),
            ))
    grade.score = sum(c.score for c in grade.cases)
    grade.possible = sum(c.points for c in grade.cases)
    if results.catastrophic_error is not None:
        grade.error = f"{type(results.catastrophic_error).__name__}: {results.catastrophic_error}"
    return grade


def student_message(otter_message: str) -> str:
    """Keep the sentence meant for the student; drop Otter's frame of test-source lines."""
    for prefix in FAILURE_PREFIXES:
        if prefix in otter_message:
            return otter_message.split(prefix, 1)[1].strip()
    lines = [line for line in otter_message.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "failed"

