"""What each side receives of this package.

Students (the student folder, and the kernel that runs a submission) get the loader, the
seeding and the leak analysis (their public test-set check runs what the grader runs), which
carry no answer; the autograder zip gets the grading code and nothing
of the CLI or the build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from autograder.config import PACKAGE_DIR

# fingerprints: the kernel's ledger; checks/leakage: the students' public test-set check
STUDENT_MODULES = ("__init__.py", "data.py", "seeding.py", "fingerprints.py", "checks/leakage")
# what the hidden tests import, and what the zip's own run_autograder needs to judge outside
# the student's process (the split runner, its jail, and the results.json writer)
GRADING_MODULES = STUDENT_MODULES + ("config.py", "results.py", "checks", "assignment.py", "shipping.py", "grade",
                                     "report", "gradescope.py")
# the course secret (see checks.suite.submission_salt), at the zip's top level: not in files/,
# which Otter copies beside the notebook, nor in tests/
COURSE_SECRET_MEMBER = "grader/course_secret"


def ship_student_runtime(folder: Path) -> None:
    """Put the bare ``autograder`` package students import into ``folder``."""
    copy_modules(STUDENT_MODULES, folder / "autograder")


def copy_modules(names: tuple[str, ...], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in names:
        source = PACKAGE_DIR / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy(source, target / name)
