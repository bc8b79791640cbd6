"""The suite's own limit: a test that hangs fails with a traceback instead of hanging CI."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_test_has_a_time_limit():
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert 0 < int(options["timeout"]) <= 900


def test_a_hanging_test_fails_with_a_traceback(tmp_path):
    (tmp_path / "test_hangs.py").write_text(
        "import time\n\ndef test_hangs():\n    time.sleep(3600)\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--timeout=2", str(tmp_path / "test_hangs.py")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "Timeout" in done.stdout and "time.sleep(3600)" in done.stdout, done.stdout[-2000:]


def test_the_tests_reading_the_graded_batches_run_on_one_worker(tmp_path):
    """The suite's two workers must not both grade the session's batches: every test that reads
    them is in one xdist group (conftest). pytest 9.2 renamed the node id that xdist's
    ``loadgroup`` rewrites, and the groups were then silently ignored: this catches that."""
    (tmp_path / "conftest.py").write_text(
        "import importlib.util\n"
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
