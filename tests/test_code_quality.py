"""The package passes its linter, its type checker and its import-layer contract (pyproject.toml:
[tool.ruff], [tool.mypy], [tool.importlinter]; docs/architecture.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("command", [
    ["ruff", "check", "autograder", "tests", "benchmarks"],
    ["mypy"],
    ["lint-imports"],
], ids=["ruff", "mypy", "import-layers"])
def test_the_package_passes(command):
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # lint-imports analyses this checkout's package
    done = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
