"""What this package ships, and where: the student runtime, and the autograder zip's layout
with its reader. The one place these names are written down; the build writes by them, the
runners and the Gradescope entry point read by them.

Students (the student folder, and the kernel that runs a submission) get the loader, the
seeding and the leak analysis (their public test-set check runs what the grader runs), which
carry no answer (``STUDENT_MODULES``); the autograder zip gets the grading code and nothing
of the CLI or the build (``GRADING_MODULES``).

The autograder zip, as the build leaves it (Otter Assign makes it, the build adds to it)::

    run_autograder, setup.sh                  Otter's; the build points the first at our entry
                                              point (``autograder.gradescope``)
    run_otter.py, tests/, otter_config.json   Otter's own (``--runner otter``)
    files/autograder/                         PACKAGE_MEMBER: this package's GRADING_MODULES;
                                              Otter copies ``files/`` beside the notebook, so
                                              the hidden tests import this exact code
    files/autograder/_assignments/<name>/     ASSIGNMENTS_MEMBER: grading.toml, the manifest
                                              (``manifest_member``) and what the build computed
                                              (the reference training), read by ``config``
    grader/course_secret                      COURSE_SECRET_MEMBER: at the top level, not in
                                              ``files/`` (beside the student's notebook) nor in
                                              ``tests/``

``Bundle`` reads a zip (or the folder it was unzipped into, Gradescope's
``/autograder/source``) back: its assignment, grading.toml, manifest and course secret.
"""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from autograder.assignment import MANIFEST_FILE, Manifest
from autograder.config import BUNDLED_ASSIGNMENTS_DIR, CONFIG_FILENAME, PACKAGE_DIR

# fingerprints: the kernel's ledger; checks/leakage: the students' public test-set check
STUDENT_MODULES = ("__init__.py", "data.py", "seeding.py", "fingerprints.py", "checks/leakage")
# what the hidden tests import, and what the zip's own run_autograder needs to judge outside
# the student's process (the split runner, its jail, and the results.json writer)
GRADING_MODULES = (*STUDENT_MODULES, "config.py", "results.py", "checks", "assignment.py", "bundle.py", "grade",
                   "report", "gradescope.py")

# The zip's members ---------------------------------------------------------------------------

RUN_AUTOGRADER_MEMBER = "run_autograder"  # what Gradescope runs per submission
SETUP_MEMBER = "setup.sh"                 # what Gradescope runs once, building its image
FILES_FOLDER = "files"                    # Otter copies it beside the notebook it grades
PACKAGE_MEMBER = f"{FILES_FOLDER}/{PACKAGE_DIR.name}/"
# grading.toml and the files the build computed beside it, in the package copy's folder that
# ``config`` looks in first (BUNDLED_ASSIGNMENTS_DIR), so a zip grades with its own settings
ASSIGNMENTS_MEMBER = f"{PACKAGE_MEMBER}{BUNDLED_ASSIGNMENTS_DIR.name}/"
# the course secret (see checks.suite.submission_salt), at the zip's top level: not in files/,
# which Otter copies beside the notebook, nor in tests/
COURSE_SECRET_MEMBER = "grader/course_secret"


def assignment_member(assignment: str, name: str) -> str:
    """The member of a file the build puts beside ``assignment``'s grading.toml."""
    return f"{ASSIGNMENTS_MEMBER}{assignment}/{name}"


def manifest_member(assignment: str) -> str:
    return assignment_member(assignment, MANIFEST_FILE)


def package_member(relative: str) -> str:
    """The member of a file of the package copy (``relative``: its path below the package)."""
    return f"{PACKAGE_MEMBER}{relative}"


# Copies of the package -----------------------------------------------------------------------

def ship_student_runtime(folder: Path) -> None:
    """Put the bare ``autograder`` package students import into ``folder``."""
    copy_modules(STUDENT_MODULES, folder / PACKAGE_DIR.name)


def copy_modules(names: tuple[str, ...], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in names:
        source = PACKAGE_DIR / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy(source, target / name)


# Reading a zip back --------------------------------------------------------------------------

def _for_the_runners(member: str) -> bool:
    return ((member.startswith(ASSIGNMENTS_MEMBER) and member.endswith((".toml", ".json")))
            or member == COURSE_SECRET_MEMBER)


@dataclass(frozen=True)
class Bundle:
    """What an autograder zip carries for the runners: the manifest, grading.toml and the
    files the build computed beside it, and the course secret, by their member names."""

    files: dict[str, bytes]

    @classmethod
    def read(cls, source: Path) -> Bundle:
        """From an autograder zip, or the folder it was unzipped into (Gradescope's
        /autograder/source)."""
        source = Path(source)
        if source.is_dir():
            return cls({path.relative_to(source).as_posix(): path.read_bytes() for path in sorted(source.rglob("*"))
                        if path.is_file() and _for_the_runners(path.relative_to(source).as_posix())})
        with zipfile.ZipFile(source) as archive:
            return cls({name: archive.read(name) for name in sorted(archive.namelist()) if _for_the_runners(name)})

    def _grading_toml(self) -> tuple[str, bytes]:
        for member, text in self.files.items():
            if member.endswith(CONFIG_FILENAME):
                return member, text
        raise ValueError(f"the autograder zip has no {assignment_member('<name>', CONFIG_FILENAME)}")

    @property
    def assignment(self) -> str:
        """The assignment's name, as the zip ships its grading.toml."""
        return Path(self._grading_toml()[0]).parent.name

    @property
    def grading_toml(self) -> str:
        return self._grading_toml()[1].decode()

    @property
    def manifest(self) -> Manifest | None:
        """The manifest the build shipped (None in zips built before manifests)."""
        for member, text in self.files.items():
            if member.startswith(ASSIGNMENTS_MEMBER) and member.endswith(f"/{MANIFEST_FILE}"):
                return Manifest.from_json(text.decode())
        return None

    def hidden_checks(self) -> list[tuple[str, str, float]]:
        """(question, check, points) of every hidden check, in the notebook's order; none for a
        zip without a manifest (graded by Otter's runner, which needs none)."""
        manifest = self.manifest
        return manifest.hidden_checks() if manifest else []

    @property
    def course_secret(self) -> bytes:
        """The secret the build put in the zip; none in zips built before there was one."""
        text = self.files.get(COURSE_SECRET_MEMBER, b"").decode().strip()
        return bytes.fromhex(text) if text else b""

    def write_assignment_files(self, folder: Path) -> None:
        """The zip's grading.toml and the files the build computed beside it (the reference
        training), where this process's judges read them: ``folder/<assignment>/``."""
        assignment = self.assignment
        prefix = assignment_member(assignment, "")
        (folder / assignment).mkdir(parents=True, exist_ok=True)
        for member, data in self.files.items():
            if member.startswith(prefix) and "/" not in member[len(prefix):]:
                (folder / assignment / member[len(prefix):]).write_bytes(data)
