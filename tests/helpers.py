"""Constants and helpers the tests share (the fixtures are in conftest.py, which imports these).

Test modules import them as ``from helpers import ...``: tests/ has no ``__init__.py``, so pytest's
default import mode (``prepend``) puts this folder first on sys.path when it imports conftest.py,
before any test module.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

ASSIGNMENT = "nn_foundations"
KERAS = "keras_networks"
DIAGNOSTICS = "training_diagnostics"
ASSIGNMENTS = (ASSIGNMENT, KERAS, DIAGNOSTICS)
DETERMINISM_COPY = "q3_relu_forgotten"
UNTOUCHED = "untouched_student_notebook"
LEDGER_ATTACK = "scores_candidates_on_a_test_set_read_back_from_disk"
LEDGER_ROUND_TRIP = ("import numpy as np\n"
                     "np.save('held.npy', X_test_flat)\nnp.save('held_labels.npy', y_test)\n"
                     "_rows, _labels = np.load('held.npy'), np.load('held_labels.npy')\n"
                     "for _size in [(4,), (8,)]:\n"
                     "    _m = MLPClassifier(hidden_layer_sizes=_size, max_iter=20, random_state=0)"
                     ".fit(X_train_flat, y_train)\n"
                     "    print(_size, _m.score(_rows, _labels))\n")
SLOW_TRAINING_CELL = "keras_training_cell_must_not_run"
IGNORED_CELL_RAN = "this otter_ignore cell ran"  # what the tagged cell raises if grading runs it
PATCHES_COUNT_PARAMS = "patches_count_params"  # the bundled `partial` sample + a patch of Keras
COUNT_PARAMS_PATCH = ("import keras\n"
                      "for _cls in (keras.Model, keras.Sequential, keras.layers.Layer):\n"
                      "    _cls.count_params = lambda self: 13002\n")
# the `partial` sample + correct code kept aside, lent to the probes by an audit hook (issue 21:
# 26 against the honest 12 on the design before): refused, found, and graded as the honest part
AUDIT_HOOK = "lends_correct_code_from_an_audit_hook"
AUDIT_HOOK_ATTACK = (
    "import sys\nimport numpy as _np\n"
    "def _invert(images):\n    images = _np.asarray(images)\n    return (1 - images).astype(images.dtype)\n"
    "def _augment(X, y):\n    return _np.concatenate([X, _invert(X)]), _np.concatenate([y, y])\n"
    "_TRUE = {'invert': _invert, 'augment_with_inverted': _augment}\n"
    "def _audit(event, args):\n"
    "    _probes = sys.modules.get('autograder.checks.keras_networks.probes')\n"
    "    _real = getattr(_probes, 'student_function', None)\n"
    "    if _real is None or getattr(_real, '_forged', False):\n        return\n"
    "    def _forged(env, name):\n        return _TRUE[name] if name in _TRUE else _real(env, name)\n"
    "    _forged._forged = True\n    _probes.student_function = _forged\n"
    "sys.addaudithook(_audit)\n")
COURSE_SECRET_FILE = ".course_secret"  # in the session's dist folder: made by the first build
BATCH_JOBS = (os.cpu_count() or 1) + 1
# The session's builds (conftest ``builds``) let a cell compute for SUITE_CELL_LIMIT CPU-seconds
# instead of the course's 60: the bundled runaway samples and the corpus' attacks run until the
# limit stops them (each burned 60 CPU-s), and what the tests check is that the limit holds and
# what it costs, not its value; the slowest honest cell of the bundled solutions takes under 4
# CPU-s (one thread), so 15 leaves it more than three times its time on a loaded machine. The
# fork bombs (the corpus', the toy's) start small interpreters that do the forking: forking the
# kernel itself 512 times copied page tables of several hundred MB, CPU time that used a whole
# 15 CPU-s limit once on a loaded machine before the process cap was reached.
SUITE_CELL_LIMIT = 15
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "submissions"


CPU_PROFILE_ENV_VAR = "AUTOGRADER_SUITE_CPU_PROFILE"  # conftest's per-test CPU profile (benchmarks/suite_cpu.py)
BUSY_FIELDS = (1, 2, 3, 6, 7, 8)  # user, nice, system, irq, softirq, steal in /proc/stat's cpu line


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy since boot, all cores together."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return sum(int(fields[i]) for i in BUSY_FIELDS) / os.sysconf("SC_CLK_TCK")


def killed_graders_temp(tmp_path: Path) -> dict[str, str]:
    """The environment for a grader a test kills with -9: its temporary folders (a task's
    copy of the submission and the autograder zip, a child's working folder) go into the
    test's own folder, as a SIGKILL leaves no chance to remove them, instead of piling up in
    the machine's /tmp run after run."""
    folder = tmp_path / "killed-graders-tmp"
    folder.mkdir(exist_ok=True)
    return {"TMPDIR": str(folder)}


def private_copy(env: dict) -> dict:
    """A namespace a variant may change without changing the shared one: its arrays are copied
    (a variant that scales X_train in place must not scale it for the next test); modules,
    functions and fitted models are shared, as the variant's cells rebind what they change."""
    import numpy as np
    return {name: value.copy() if isinstance(value, np.ndarray) else value for name, value in env.items()}


def with_changes(env: dict, **changes) -> dict:
    """A private copy of a namespace with some names rebound (functions keep the old globals,
    so a replacement defined in a test behaves like a student's redefinition)."""
    return {**private_copy(env), **changes}


def check_failure(env: dict, assignment: str, check: str) -> str:
    """The feedback of a hidden check that must fail on ``env``."""
    from autograder.checks import CheckFailed, run_check
    with pytest.raises(CheckFailed) as caught:
        run_check(env, assignment, check)
    return str(caught.value)


def replace_probe(monkeypatch: pytest.MonkeyPatch, assignment: str, probe_name: str, fake: Callable) -> None:
    """Answer every check of ``assignment`` that asks ``probe_name`` with ``fake`` instead: a
    check holds its probe as an object, so the check itself is replaced (same name, cases,
    oracle and judge) for the test's duration."""
    import dataclasses

    from autograder.checks.suite import load_suite
    fake.__name__ = probe_name
    suite = load_suite(assignment)
    for name, check in suite.checks.items():
        if check.probe_name == probe_name:
            monkeypatch.setitem(suite.checks, name, dataclasses.replace(check, probe=fake))
