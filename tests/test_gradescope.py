"""The autograder zip on Gradescope: its own run_autograder judges outside the student's
kernel. Gradescope is simulated by its folders (source = the unzipped zip, submission,
results) under a temporary root; the zip's own package does the grading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import nbformat
import pytest
from helpers import ASSIGNMENT, SAMPLES_DIR
from test_split_grading import ATTACKS, honest_score

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gradescope(built, tmp_path_factory):
    """An attacking submission (Otter's checker patched, fake results printed and written to
    Gradescope's results file) graded by the zip's run_autograder entry point."""
    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(built.autograder_zip) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    notebook = nbformat.read(SAMPLES_DIR / ASSIGNMENT / "partial.ipynb", as_version=4)
    fake = str(root / "results" / "results.json")
    for attack in (ATTACKS["patches_otter_checker"],
                   ATTACKS["prints_and_writes_fake_results"].replace("'/autograder/results/results.json'", repr(fake))):
        notebook.cells.append(nbformat.v4.new_code_cell(attack))
    nbformat.write(notebook, root / "submission" / f"{ASSIGNMENT}.ipynb")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "AUTOGRADER_DATASET")}
    done = subprocess.run([sys.executable, "-m", "autograder.gradescope", str(root)],
                          cwd=root / "source" / "files", env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return root, json.loads((root / "results" / "results.json").read_text()), done


def test_run_autograder_starts_the_split_runner(built):
    with zipfile.ZipFile(built.autograder_zip) as archive:
        script = archive.read("run_autograder").decode()
    assert "python -m autograder.gradescope /autograder" in script
    assert "run_otter.py" not in script


def test_the_zip_judges_with_its_own_package(gradescope):
    root, _, done = gradescope
    assert done.stdout.startswith("score ")
    assert (root / "source" / "files" / "autograder" / "grade" / "runners" / "split.py").is_file()


def test_an_attack_on_gradescope_scores_its_honest_part(gradescope):
    _, results, _ = gradescope
    assert results["score"] == honest_score()
    assert results["extra_data"]["status"] == "graded"
    if os.geteuid() == 0:
        assert results["extra_data"]["sandbox"] == "view"


def test_results_follow_gradescopes_schema_one_test_per_check(gradescope):
    _, results, _ = gradescope
    assert {"score", "output", "tests"} <= set(results)
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    # every failed test says why; the 0-point ones are gates (here the test-set gate: the attack's
    # `vars(abstract_test)` is reflection, which waits for a person)
    assert failed
    assert all(t["output"] for t in failed)
    assert any(t["max_score"] > 0 for t in failed)
    assert sum(t["score"] for t in results["tests"]) == results["score"]
    assert results["extra_data"]["questions"]["q1_vectorize"] == 5.0
    dataset = results["extra_data"]["dataset"]  # SPEC §2, as the judges loaded it
    assert dataset["name"] == "digits"
    assert dataset["n_train"] + dataset["n_test"] == 1797
