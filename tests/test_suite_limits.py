"""The suite's own limits: a test that hangs fails with a traceback instead of hanging CI, and
the session's graded batches are graded by one worker only."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUITE_TIME_LIMIT = 900  # seconds: pyproject's [tool.pytest.ini_options] timeout, at most


def test_this_test_runs_with_the_suites_time_limit_armed():
    """What the suite's configuration does to a running test, read from inside one: a timer of
    at most SUITE_TIME_LIMIT seconds is counting down, and its alarm is pytest-timeout's
    ``signal`` handler, which fails the test with its traceback and lets the session go on
    (the ``thread`` method would dump stacks and end the whole session). Fails if the timeout
    setting or the plugin goes, or the method changes."""
    remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    assert 0 < remaining <= SUITE_TIME_LIMIT, f"no time limit armed on this test (timer: {remaining} s)"
    handler = signal.getsignal(signal.SIGALRM)
    assert getattr(handler, "__module__", None) == "pytest_timeout", f"SIGALRM is handled by {handler!r}"


def test_the_tests_reading_the_graded_batches_run_on_one_worker(tmp_path):
    """The suite's two workers must not both grade the session's batches: every test that reads
    them is in one xdist group (conftest). pytest 9.2 renamed the node id that xdist's
    ``loadgroup`` rewrites, and the groups were then silently ignored: this catches that."""
    (tmp_path / "conftest.py").write_text(
        "import importlib.util, sys\n"
        f"sys.path.insert(0, {str(REPO / 'tests')!r})  # the suite's conftest imports its helpers module\n"
        f"spec = importlib.util.spec_from_file_location('suite_conftest', {str(REPO / 'tests' / 'conftest.py')!r})\n"
        "suite = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(suite)\n"
        "pytest_itemcollected = suite.pytest_itemcollected\n"
        "pytest_collection_modifyitems = suite.pytest_collection_modifyitems\n")
    (tmp_path / "test_groups.py").write_text(
        "import os, pytest\n\n@pytest.fixture\ndef batch_results():\n    return os.getpid()\n\n"
        "@pytest.mark.parametrize('n', range(8))\ndef test_reads(batch_results, n):\n"
        "    print('READER', batch_results)\n\n"
        "@pytest.mark.parametrize('n', range(4))\ndef test_other(n):\n    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist",
                           "loadgroup", "-v", str(tmp_path / "test_groups.py")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:]
    readers = {line.split()[0] for line in done.stdout.splitlines() if "::test_reads[" in line and "PASSED" in line}
    assert len(readers) == 1, f"the batch readers ran on {sorted(readers)}:\n{done.stdout[-2000:]}"
