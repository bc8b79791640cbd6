"""``autograder build``: master notebook → student version, autograder zip, solutions.

Otter Assign does the splitting; this module wraps it in a chain of small, named steps
(as nbgrader chains preprocessors), so each promise of the build is one function:

1. stage the master notebook with the pinned requirements, its prompts' graded conventions
   filled in from grading.toml;
2. run Otter Assign;
3. give the autograder zip a stable name;
4. put the grading code into the zip, and only the student runtime into the student folder;
   the zip's ``run_autograder`` runs our split runner (judges outside the student's kernel),
   and its ``setup.sh`` lets the kernel's own user reach Python;
   and the course secret that draws each submission's hidden inputs goes in beside them;
5. copy the solutions notebook to a stable place, and make the known-wrong submissions
   from it (``solutions/<assignment>/known_wrong.toml``);
6. refuse a student version that carries a solution or a hidden test, or whose stubs do
   not parse;
7. refuse a build whose own solutions do not score full marks with the final zip.

The manifest (``autograder.assignment``: questions, test cases, checks, points, gates) is
read from the master once, checked against the registered checks (a test cell naming an
unregistered check, or a check no cell runs, fails the build) and shipped in the zip.
grading.toml's ``[visibility]`` may name only its questions and checks (checked first).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.assignment import Manifest, read_manifest
from autograder.build.leaks import find_answer_leaks, find_broken_stubs
from autograder.build.variants import VariantError, correct_styles, write_known_wrong, write_variants
from autograder.bundle import (
    COURSE_SECRET_MEMBER,
    FILES_FOLDER,
    GRADING_MODULES,
    PACKAGE_MEMBER,
    RUN_AUTOGRADER_MEMBER,
    SETUP_MEMBER,
    assignment_member,
    copy_modules,
    manifest_member,
    package_member,
    ship_student_runtime,
)
from autograder.config import CONFIG_FILENAME, PACKAGE_DIR, assignments_dir

if TYPE_CHECKING:  # imported where it is used: only the build's check of the prompts needs it
    import jinja2

PROJECT_DIR = PACKAGE_DIR.parent
REQUIREMENTS = PROJECT_DIR / "grading_env" / "requirements.txt"


class BuildError(RuntimeError):
    """The build produced something that must not ship."""


@dataclass
class BuildResult:
    assignment: str
    student_dir: Path
    autograder_zip: Path
    solutions_notebook: Path
    known_wrong: list[Path] = field(default_factory=list)
    correct_styles: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    solution_score: tuple[float, float] | None = None


def build_assignment(assignment: str, dist: Path, *, verify: bool = True,
                     secret_file: Path | None = None) -> BuildResult:
    """Build one assignment into ``dist/<assignment>/``; raise BuildError if it must not ship.
    ``secret_file``: the course secret (default :func:`default_secret_file`), created if absent."""
    started = time.monotonic()
    master = master_notebook(assignment)
    refuse_unknown_visibility(master)
    out = Path(dist) / assignment
    with tempfile.TemporaryDirectory(prefix=f"build-{assignment}-") as tmp:
        staged = stage_master(master, Path(tmp))
        render_conventions(staged, assignment)
        run_otter_assign(staged, out)
    result = BuildResult(
        assignment=assignment,
        student_dir=out / "student",
        autograder_zip=rename_autograder_zip(out, assignment),
        solutions_notebook=copy_solutions_notebook(out, assignment),
    )
    try:
        result.known_wrong = write_known_wrong(assignment, result.solutions_notebook,
                                               out / "known_wrong")
        result.correct_styles = write_variants(correct_styles(assignment), result.solutions_notebook,
                                               out / "correct_styles")
    except VariantError as error:
        raise BuildError(str(error)) from error
    ship_student_runtime(result.student_dir)
    ship_grading_code(result.autograder_zip, assignment)
    ship_manifest(result.autograder_zip, checked_manifest(master))
    record_reference_training(result.autograder_zip, assignment)
    ship_course_secret(result.autograder_zip, course_secret(secret_file or default_secret_file()))
    judge_outside_the_kernel(result.autograder_zip)
    open_the_way_to_python(result.autograder_zip)
    refuse_answer_leaks(master, result.student_dir)
    if verify:
        result.solution_score = refuse_imperfect_solutions(result)
    result.seconds = time.monotonic() - started
    return result


def master_notebook(assignment: str) -> Path:
    path = assignments_dir() / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        known = sorted(p.name for p in assignments_dir().iterdir() if p.is_dir())
        raise BuildError(f"no master notebook {path}; known assignments: {', '.join(known)}")
    return path


def refuse_unknown_visibility(master: Path) -> None:
    """grading.toml's ``[visibility]`` names only the master's questions and checks: a typo
    would leave a check its instructor meant to hide visible."""
    from autograder.config import ConfigError
    try:
        read_manifest(master).refuse_unknown_visibility()
    except ConfigError as error:
        raise BuildError(str(error)) from error


def list_assignments() -> list[str]:
    return sorted(p.parent.name for p in assignments_dir().glob("*/*.ipynb")
                  if p.stem == p.parent.name)


def stage_master(master: Path, staging: Path) -> Path:
    """Copy the assignment folder and the pinned requirements where Otter Assign expects them."""
    target = staging / master.parent.name
    shutil.copytree(master.parent, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(REQUIREMENTS, target / "requirements.txt")
    return target / master.name


def render_conventions(staged: Path, assignment: str) -> None:
    """Fill the prompts' ``{{ … }}`` with the assignment's grading.toml (``{{ limits.cell_timeout }}``,
    ``{{ tolerances.hand_trace }}``, ``{{ thresholds.digits.cnn_accuracy }}``), so that what a
    prompt says is graded and what the judges grade cannot drift apart. Markdown cells only;
    a name grading.toml does not have fails the build, naming the cell."""
    import jinja2
    import nbformat

    from autograder.config import assignment_config
    settings = assignment_config(assignment)
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    notebook = nbformat.read(staged, as_version=4)
    for number, cell in enumerate(notebook.cells, 1):
        if cell.cell_type != "markdown" or "{{" not in cell.source:
            continue
        try:
            cell.source = environment.from_string(cell.source).render(settings)
        except jinja2.TemplateError as error:
            culprit = next((p for p in re.findall(r"{{.*?}}", cell.source)
                            if not _renders(environment, p, settings)), "")
            raise BuildError(f"{assignment}.ipynb, cell {number}: {culprit} cannot be filled in: {error} "
                             f"(the prompt names a setting that {CONFIG_FILENAME} does not have)") from error
    nbformat.write(notebook, staged)


def _renders(environment: jinja2.Environment, placeholder: str, settings: dict) -> bool:
    try:
        environment.from_string(placeholder).render(settings)
        return True
    except Exception:
        return False


def run_otter_assign(master: Path, out: Path) -> None:
    from otter.assign import main as otter_assign
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    try:
        otter_assign(str(master), str(out.resolve()), no_pdfs=True, no_run_tests=True)
    except Exception as error:  # Otter raises bare exceptions for malformed masters
        raise BuildError(f"Otter Assign failed on {master.name}: {error}") from error


def rename_autograder_zip(out: Path, assignment: str) -> Path:
    """Otter stamps the zip's name with the time; a stable name is what scripts can use."""
    zips = sorted((out / "autograder").glob("*-autograder_*.zip"))
    if len(zips) != 1:
        raise BuildError(f"expected one autograder zip from Otter in {out / 'autograder'}, "
                         f"found {len(zips)}")
    stable = out / "autograder" / f"{assignment}-autograder.zip"
    zips[0].replace(stable)
    return stable


def copy_solutions_notebook(out: Path, assignment: str) -> Path:
    target = out / "solutions" / f"{assignment}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(out / "autograder" / f"{assignment}.ipynb", target)
    return target


def ship_grading_code(zip_path: Path, assignment: str) -> None:
    """Add the grading code (``bundle.GRADING_MODULES``) and this assignment's grading.toml to
    the zip's package copy (``bundle.PACKAGE_MEMBER``, in ``files/``).

    Otter copies ``files/`` next to the notebook before running it, so the hidden tests
    import this exact code on Gradescope and under ``otter run`` alike.
    """
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / PACKAGE_DIR.name
        copy_modules(GRADING_MODULES, package)
        config = package / assignment_member(assignment, CONFIG_FILENAME).removeprefix(PACKAGE_MEMBER)
        config.parent.mkdir(parents=True)
        shutil.copy(assignments_dir() / assignment / CONFIG_FILENAME, config)
        with zipfile.ZipFile(zip_path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(package.rglob("*")):
                if path.is_file():
                    archive.write(path, package_member(path.relative_to(package).as_posix()))


def checked_manifest(master: Path) -> Manifest:
    """The master's manifest with its gates, if it agrees with the checks its judges register."""
    from autograder.checks.suite import load_suite
    manifest = read_manifest(master)
    if not manifest.hidden_checks():
        return manifest  # plain Otter tests: nothing registered to agree with
    try:
        suite = load_suite(manifest.assignment)
    except ModuleNotFoundError as error:
        raise BuildError(f"{master.name}: its test cells run hidden checks, but there is no "
                         f"autograder/checks/{manifest.assignment}/judges.py ({error})") from error
    problems = suite.disagreements_with(manifest)
    if problems:
        raise BuildError(f"{master.name} and autograder/checks/{manifest.assignment}/judges.py disagree:\n  "
                         + "\n  ".join(problems))
    return manifest.with_judges(suite.gates, suite.preload)


def ship_manifest(zip_path: Path, manifest: Manifest) -> None:
    """Beside grading.toml, where runners and the judges' process read it."""
    member = manifest_member(manifest.assignment)
    with zipfile.ZipFile(zip_path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, manifest.to_json())


def record_reference_training(zip_path: Path, assignment: str) -> None:
    """Train the reference architectures once, here, with the grader's own settings, and ship
    their accuracies beside grading.toml: a submission whose architecture is exactly a
    reference one is then not trained again for every student (judges' ``trained_accuracy``).
    Assignments whose judges train nothing have no ``reference_trainings`` in their suite."""
    import importlib
    import importlib.util

    from autograder.checks.suite import load_suite
    if importlib.util.find_spec(f"autograder.checks.{assignment}") is None:
        return  # plain Otter tests: no judges
    suite = load_suite(assignment)
    if suite.reference_trainings is None:
        return
    judges = importlib.import_module(f"autograder.checks.{assignment}.judges")
    recorded = json.dumps(suite.reference_trainings(), indent=1, sort_keys=True)
    member = assignment_member(assignment, judges.REFERENCE_TRAINING_FILE)
    with zipfile.ZipFile(zip_path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, recorded)


SECRET_BYTES = 32


def default_secret_file() -> Path:
    """``.course_secret`` beside the course's ``assignments/`` folder (git ignores it)."""
    return assignments_dir().parent / ".course_secret"


def course_secret(path: Path) -> bytes:
    """The course's secret, made on the first build (readable by its owner only) and kept:
    rebuilding with the same secret keeps every submission's hidden inputs, so regrading an
    unchanged file gives the same score. A new secret draws new cases for everyone."""
    path = Path(path)
    if not path.exists():
        _make_secret(path)
    try:
        text = path.read_text().strip()
        secret = bytes.fromhex(text)
    except (OSError, ValueError) as error:
        raise BuildError(f"{path}: the course secret must be {SECRET_BYTES * 2} hexadecimal digits "
                         f"({error}); remove the file to make a new one (every submission then meets "
                         "new hidden inputs)") from error
    if len(secret) < 16:
        raise BuildError(f"{path}: the course secret is {len(secret)} bytes; it needs at least 16 "
                         f"({SECRET_BYTES * 2} hexadecimal digits). Remove the file to make a new one.")
    return secret


def _make_secret(path: Path) -> None:
    """Write a new secret whole, then link it into place: two builds starting at once (two
    TAs, two test workers) end with one secret, and neither reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as stream:  # mkstemp's file is its owner's alone (0600)
            stream.write(secrets.token_hex(SECRET_BYTES) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another build made it first: that one is the course's
    finally:
        os.unlink(temporary)


def ship_course_secret(zip_path: Path, secret: bytes) -> None:
    """The secret goes to the grader only: at the zip's top level, never in ``files/`` (copied
    beside the student's notebook) nor in the student folder."""
    with zipfile.ZipFile(zip_path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(COURSE_SECRET_MEMBER, secret.hex())


OTTER_ENTRY = "python /autograder/source/run_otter.py"
SPLIT_ENTRY = (f"cd /autograder/source/{FILES_FOLDER} && python -m autograder.gradescope /autograder"
               "  # judges outside the student's kernel (autograder/gradescope.py)")


def judge_outside_the_kernel(zip_path: Path) -> None:
    """Make the zip's ``run_autograder`` start our split runner instead of Otter's, keeping
    the lines before it that activate Otter's environment on Gradescope."""
    def replace_entry(script: str) -> str:
        if OTTER_ENTRY not in script:
            raise BuildError(f"Otter's run_autograder no longer ends with `{OTTER_ENTRY}`; "
                             "update build.judge_outside_the_kernel for this Otter version")
        return script.replace(OTTER_ENTRY, SPLIT_ENTRY)
    _edit_zip_member(zip_path, RUN_AUTOGRADER_MEMBER, replace_entry)


SETUP_MARKER = "# autograder: open the way to Python for the student's own user"
OPEN_THE_WAY = SETUP_MARKER + """
# Gradescope's containers refuse namespaces, so the student's kernel runs as a user of its
# own, which must reach Python; Otter installs it under /root (0700). Every folder on the
# way gets the execute bit for others: passable, not listable (README: 'Isolation by platform').
folder=${AUTOGRADER_ENV_PREFIX:-/root/miniforge3/envs/otter-env}
while [ -n "$folder" ] && [ "$folder" != / ]; do chmod o+x "$folder"; folder=$(dirname "$folder"); done
"""


def open_the_way_to_python(zip_path: Path) -> None:
    """Append OPEN_THE_WAY to the zip's ``setup.sh`` (Gradescope's image build, as root)."""
    _edit_zip_member(zip_path, SETUP_MEMBER, lambda script: script.rstrip("\n") + "\n\n" + OPEN_THE_WAY)


def _edit_zip_member(zip_path: Path, name: str, edit: Callable[[str], str]) -> None:
    with zipfile.ZipFile(zip_path) as archive:
        members = {info: archive.read(info.filename) for info in archive.infolist()}
    entry = next(info for info in members if info.filename == name)
    members[entry] = edit(members[entry].decode()).encode()
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info, data in members.items():
            archive.writestr(info, data)


def refuse_answer_leaks(master: Path, student_dir: Path) -> None:
    problems = find_answer_leaks(master, student_dir) + find_broken_stubs(student_dir)
    if problems:
        raise BuildError("the student version must not ship:\n  "
                         + "\n  ".join(problems))


def refuse_imperfect_solutions(result: BuildResult) -> tuple[float, float]:
    """Grade the solutions notebook with the zip that will ship, as `autograder grade` and the
    zip's run_autograder will (the split runner); anything short fails."""
    from autograder.grade.processes.grading_child import grade_in_child
    graded = grade_in_child(result.solutions_notebook, result.autograder_zip)  # the runner the zip calls for
    if graded.error or graded.score != graded.possible:
        raise BuildError(f"the solutions of {result.assignment} do not score full marks with "
                         f"the autograder zip ({graded.score:g}/{graded.possible:g}):\n"
                         + graded.failure_summary())
    return graded.score, graded.possible
