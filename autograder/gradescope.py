"""The autograder zip's own ``run_autograder`` on Gradescope: the split runner, not Otter's.

Otter's ``run_autograder`` runs the hidden tests inside the student's kernel, beside the
test files, and writes what that kernel reports. This one judges as ``autograder grade
--runner split`` does (see ``grade.runners.split``): the student's code runs in a kernel that
sees neither ``/autograder/source`` nor the results folder, the judges run here, and
``/autograder/results/results.json`` (Gradescope's schema, one test per check) is written
by this process alone, from the values it received.

    python -m autograder.gradescope [ROOT]     # ROOT: /autograder on Gradescope
"""

from __future__ import annotations

import json
import os
import sys
import time
import tomllib
from pathlib import Path

from autograder.assignment import Question
from autograder.data import DATASET_ENV_VAR
from autograder.grade.isolation.limits import numeric_thread_environment
from autograder.grade.records import submission_result
from autograder.results import GradingOutcome, SubmissionResult

RESULTS_FILE = Path("results") / "results.json"


def find_submission(folder: Path) -> Path | None:
    """Gradescope puts the student's upload in ``submission/``: a notebook, or Otter's zip."""
    candidates = sorted(p for p in folder.rglob("*") if p.suffix in (".ipynb", ".zip")
                        and ".ipynb_checkpoints" not in p.parts)
    notebooks = [p for p in candidates if p.suffix == ".ipynb"]
    found = notebooks or candidates
    return found[0] if found else None


def result_for_gradescope(assignment: str, submission: Path, graded: GradingOutcome,
                          asked: tuple[Question, ...]) -> SubmissionResult:
    """The same record `autograder grade` writes; the questions from the zip's manifest."""
    return submission_result(assignment, submission.stem, submission.name, graded, asked=asked)


def prepare_the_container() -> None:
    """Gradescope runs this as root without CAP_SYS_ADMIN. Where its policy allows a user
    namespace, the kernel gets its full view through one; where not, it runs as a user of
    its own, which must reach Python: Otter's image keeps it under /root (0700), so the
    folders on the way get the execute bit for others, as the zip's setup.sh also does.
    The container is thrown away after this one submission."""
    from autograder.grade.isolation.jail import make_interpreter_reachable, namespaces_available
    from autograder.grade.isolation.namespaces import gain_namespace_rights
    if os.geteuid() != 0:
        return
    gain_namespace_rights()
    if not namespaces_available():
        for folder in make_interpreter_reachable():
            print(f"no namespaces here: {folder} made passable for the student's user", file=sys.stderr)


def run(root: Path) -> dict:
    from autograder.bundle import Bundle
    from autograder.grade.runners.split import grade_submission
    from autograder.report.feedback import gradescope_results
    source = root / "source"
    bundle = Bundle.read(source)
    assignment, grading_toml = bundle.assignment, bundle.grading_toml
    manifest = bundle.manifest
    if manifest is None:  # the build always ships one beside this code
        raise ValueError(f"{source}: the autograder zip has no manifest; rebuild it with `autograder build`")
    dataset = tomllib.loads(grading_toml).get("grading", {}).get("dataset")
    if dataset:  # the dataset the checks were written for, as `autograder grade` forces it
        os.environ[DATASET_ENV_VAR] = dataset
    os.environ.update(numeric_thread_environment())  # the kernel inherits them (see NUMERIC_THREADS)
    submission = find_submission(root / "submission")
    started = time.monotonic()
    if submission is None:
        graded = GradingOutcome(error="no notebook (.ipynb) or Otter export (.zip) was submitted")
        submission = Path(f"{assignment}.ipynb")
    else:
        os.chmod(source, 0o700)  # where no private view can be built, the student's user can't read it
        prepare_the_container()
        try:
            graded = grade_submission(submission, source)
        except Exception as error:  # a result, always: Gradescope shows it to the student
            graded = GradingOutcome(error=f"{type(error).__name__}: {error}")
    graded.seconds = time.monotonic() - started
    results = gradescope_results(result_for_gradescope(assignment, submission, graded, manifest.questions))
    target = root / RESULTS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    outcome = run(Path(sys.argv[1] if len(sys.argv) > 1 else "/autograder"))
    print(f"score {outcome['score']:g}: {outcome['output']}")
