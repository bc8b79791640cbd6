"""The per-cell limit counts CPU time (student_kernel.CpuWatch): the same cell gets the same
verdict on an idle machine and on one whose cores are all busy; waiting counts only against a
wall-clock backstop; a library that swallows the interrupt is named."""

from __future__ import annotations

import time

import pytest

from autograder.grade.isolation.cgroups import ProcessCgroup
from autograder.grade.isolation.limits import Limits
from autograder.grade.kernel.student_kernel import (
    WALL_BACKSTOP,
    CellRun,
    CpuWatch,
    NotebookCell,
    RunStatus,
    StudentKernel,
    cell_notes,
)
from autograder.grade.runners.split import kernel_environment

LIMIT = 3.0  # seconds of CPU time per cell, here (importing scikit-learn takes about 1.5)
# about a third of the limit of computing, whatever the machine's speed: measured, not counted
BURN = "import time\n_t = time.process_time()\nwhile time.process_time() - _t < {seconds}:\n    pass\n"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    cgroup = ProcessCgroup.create(64, memory_mb=4096, cpus=1)
    # a wide wall-clock backstop: the busy machine below must not reach it
    student = StudentKernel(workdir=tmp_path_factory.mktemp("limits"), limits=Limits(cell_timeout=LIMIT),
                            env=kernel_environment(), cgroup=cgroup, wall_backstop=60)
    student.start()
    yield student
    student.shutdown()
    if cgroup:
        cgroup.remove()


def test_a_cell_within_the_limit_passes_on_a_busy_machine_though_it_takes_longer_than_the_limit(kernel, busy_machine):
    started = time.monotonic()
    run = kernel.run(BURN.format(seconds=LIMIT / 3))
    waited = time.monotonic() - started
    assert run.status == RunStatus.OK, run
    # not a speed assertion: it shows the load did what the test needs (a wall-clock limit would
    # have stopped this cell); on a machine too fast for that, the test proves less but still holds
    if waited <= LIMIT:
        pytest.skip(f"the busy machine slowed the cell only to {waited:.1f} s; the limit was not crossed")


def test_a_cell_past_the_limit_of_computing_is_interrupted_and_named_so(kernel):
    run = kernel.run("while True:\n    pass\n")
    assert (run.status, run.waited, run.swallowed_by) == (RunStatus.TIMEOUT, False, "")
    note = cell_notes([NotebookCell(3, "while True:\n    pass\n")], [run], LIMIT)[0]
    assert f"used {LIMIT:g} s of computing time" in note
    assert "CPU time" in note
    assert kernel.run("x = 1").status == RunStatus.OK  # the kernel goes on


def test_a_cell_that_only_waits_is_stopped_by_the_wall_clock_backstop(tmp_path):
    waiting = StudentKernel(workdir=tmp_path, limits=Limits(cell_timeout=1), env=kernel_environment(),
                            wall_backstop=3)
    waiting.start()
    try:
        run = waiting.run("import time\ntime.sleep(600)")
    finally:
        waiting.shutdown()
    assert (run.status, run.waited) == (RunStatus.TIMEOUT, True)
    note = cell_notes([NotebookCell(5, "import time")], [run], 60)[0]
    assert f"waiting is stopped at {60 * WALL_BACKSTOP:g} s" in note


def test_a_library_that_swallows_the_interrupt_is_named_not_the_student(kernel):
    imported = kernel.run("import numpy as np\nfrom sklearn.neural_network import MLPClassifier\n")
    assert imported.status == RunStatus.OK, imported  # the import alone is not what is interrupted
    run = kernel.run("_rng = np.random.default_rng(0)\n"
                     "MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=100_000, tol=0, n_iter_no_change=10**9)"
                     ".fit(_rng.normal(size=(2000, 64)), _rng.integers(0, 10, 2000))\nprint('went on')\n")
    assert run.status == RunStatus.TIMEOUT, run
    assert run.swallowed_by.startswith("scikit-learn's MLPClassifier"), run
    note = cell_notes([NotebookCell(7, "import numpy as np")], [run], LIMIT)[0]
    assert "scikit-learn's MLPClassifier" in note
    assert "catches KeyboardInterrupt" not in note


def test_the_notes_separate_what_each_limit_did():
    cells = [NotebookCell(n, "x") for n in (1, 2, 3)]
    runs = [CellRun(0, RunStatus.TIMEOUT), CellRun(1, RunStatus.TIMEOUT, waited=True),
            CellRun(2, RunStatus.STOPPED)]
    notes = cell_notes(cells, runs, 60)
    assert "used 60 s of computing time" in notes[0]
    assert "still waiting after 300 s" in notes[1]
    assert "did not stop when interrupted" in notes[2]
    assert "60 s" in notes[2]


def _watch_for(seconds: float, waits_grow: bool) -> CpuWatch:
    """A CpuWatch over a fake kernel that computes nothing for ``seconds``: its processes either
    wait for a CPU the whole time (a busy machine) or sleep (a cell that only waits)."""
    began, signals = time.monotonic(), []

    def waits() -> dict[int, int]:
        return {7: int((time.monotonic() - began) * 1e9) if waits_grow else 0}
    watch = CpuWatch(0.5, lambda: 0.0, signals.append, kill_after=None, backstop=1.0, run_queue_waits=waits)
    watch.backstop_poll_seconds = 0.1
    with watch:
        time.sleep(seconds)
    return watch


def test_the_wall_clock_backstop_does_not_count_time_spent_waiting_for_a_cpu():
    """A cell starved by the load is not a cell that waits: the backstop is stretched by the time
    its processes were runnable but had no CPU (/proc/PID/schedstat), so only sleeping counts."""
    assert not _watch_for(2.5, waits_grow=True).interrupted
    sleeping = _watch_for(2.5, waits_grow=False)
    assert sleeping.interrupted
    assert sleeping.waited


def test_run_queue_waits_are_read_for_the_whole_process_tree():
    import os

    from autograder.grade.isolation.cgroups import process_tree_run_queue_waits
    waits = process_tree_run_queue_waits(os.getpid())
    assert os.getpid() in waits
    assert all(isinstance(value, int) and value >= 0 for value in waits.values())


def test_the_otter_runner_stops_a_runaway_cell_at_its_cpu_limit(monkeypatch):
    """Found by timing the suite: the Otter runner's CPU watch was never called (nbclient binds
    its synchronous ``execute_cell`` to its own coroutine), so a runaway cell ran until the far
    guard, 20 times its limit in wall time. Here the watch must stop the loop itself."""
    import nbconvert.preprocessors
    import nbformat

    from autograder.grade.kernel import student_kernel
    from autograder.grade.runners import otter
    watches: list[CpuWatch] = []

    class RecordedWatch(CpuWatch):
        def __enter__(self):
            watches.append(self)
            return super().__enter__()
    monkeypatch.setattr(student_kernel, "CpuWatch", RecordedWatch)
    monkeypatch.setattr(nbconvert.preprocessors, "ExecutePreprocessor", nbconvert.preprocessors.ExecutePreprocessor)
    monkeypatch.setenv(otter.CELL_TIMEOUT_ENV_VAR, "1")
    otter._install_execute_preprocessor(None)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                               nbformat.v4.new_code_cell("while True:\n    pass"),
                                               nbformat.v4.new_code_cell("y = x + 1")])
    executed, _ = nbconvert.preprocessors.ExecutePreprocessor(allow_errors=True).preprocess(notebook)
    assert len(watches) == 3, "every cell runs under the CPU watch"
    assert [watch.interrupted for watch in watches] == [False, True, False]
    assert "KeyboardInterrupt" in str(executed.cells[1].outputs)


def test_every_grading_child_runs_one_thread_per_numeric_pool_whatever_its_share_of_cores():
    """Spinning thread pools make CPU time grow with the machine's load (NUMERIC_THREADS): a
    child given two cores still runs one thread per pool, and its kernel inherits that; the
    share itself goes to the cgroup's quota."""
    from autograder.grade.isolation.limits import CPU_SHARE_ENV_VAR, NUMERIC_THREADS, THREAD_VARIABLES
    from autograder.grade.processes.grading_child import child_environment
    child = child_environment("digits", 2, Limits())
    assert NUMERIC_THREADS == 1
    assert {name: child.get(name) for name in THREAD_VARIABLES} == dict.fromkeys(THREAD_VARIABLES, "1")
    assert child[CPU_SHARE_ENV_VAR] == "2"
    kernel = kernel_environment(child)
    assert {name: kernel.get(name) for name in THREAD_VARIABLES} == dict.fromkeys(THREAD_VARIABLES, "1")
    assert CPU_SHARE_ENV_VAR not in kernel
