"""The split runner (`autograder grade --runner split`): the student's kernel only answers
probes, the judges run in the grading process. Each adversarial submission here is the
bundled `partial` sample (honest score in submissions/nn_foundations/expected.csv) plus an
attack; none may score more than the honest part, and the honest part must survive."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import nbformat
import pytest

from conftest import ASSIGNMENT, SAMPLES_DIR

pytestmark = pytest.mark.slow

ATTACKS = {
    # the attack in Otter 7 that lifted a one-in-three score to full marks under `otter run`
    "patches_otter_checker": (
        "import otter.test_files.abstract_test as abstract_test\n"
        "for cls in vars(abstract_test).values():\n"
        "    if isinstance(cls, type):\n"
        "        for attr in ('passed', 'score'):\n"
        "            if hasattr(cls, attr):\n"
        "                try:\n"
        "                    setattr(cls, attr, property(lambda self: True if attr == 'passed' else 1.0))\n"
        "                except Exception:\n"
        "                    pass\n"),
    "prints_and_writes_fake_results": (
        "import json\nfake = {'score': 29, 'tests': [{'name': 'all', 'score': 29, 'max_score': 29}]}\n"
        "print(json.dumps(fake))\n"
        "for path in ('results.json', '../results.json', 'grade.json', '../grade.json'):\n"
        "    try:\n        open(path, 'w').write(json.dumps(fake))\n    except OSError:\n        pass\n"),
    "exits_at_the_end": "import os\nos._exit(0)\n",
    "kills_its_kernel_when_probed": (
        "import os, signal\n_honest_unrolled_length = unrolled_length\n"
        "def unrolled_length(shape):\n    os.kill(os.getpid(), signal.SIGKILL)\n"),
}


def honest_score() -> float:
    with open(SAMPLES_DIR / ASSIGNMENT / "expected.csv", newline="") as stream:
        return next(float(r["total"]) for r in csv.DictReader(stream) if r["submission"] == "partial")


@pytest.fixture(scope="module")
def split_graded(built, tmp_path_factory):
    folder = tmp_path_factory.mktemp("attacks")
    partial = nbformat.read(SAMPLES_DIR / ASSIGNMENT / "partial.ipynb", as_version=4)
    nbformat.write(partial, folder / "honest.ipynb")
    for name, attack in ATTACKS.items():
        notebook = nbformat.from_dict(partial)
        notebook.cells.append(nbformat.v4.new_code_cell(attack))
        nbformat.write(notebook, folder / f"{name}.ipynb")
    out = tmp_path_factory.mktemp("split-out")
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", ASSIGNMENT, str(folder),
                           "--out", str(out), "--dist", str(built.student_dir.parent.parent),
                           "--runner", "split", "-j", "2"], capture_output=True, text=True, timeout=900,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    results = {}
    for path in (out / ".journal").glob("*.json"):
        result = json.loads(path.read_text())["result"]
        results[result["submission"]] = result
    return results


def test_the_split_runner_scores_the_honest_sample_as_otter_does(split_graded):
    assert (split_graded["honest"]["status"], split_graded["honest"]["score"]) == ("graded", honest_score())


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_scores_no_more_than_its_honest_part(split_graded, attack):
    result = split_graded[attack]
    assert result["status"] == "graded", result["message"]
    assert result["score"] <= honest_score(), result


@pytest.mark.parametrize("attack", ["patches_otter_checker", "prints_and_writes_fake_results", "exits_at_the_end"])
def test_attacks_after_the_answers_keep_the_honest_points(split_graded, attack):
    assert split_graded[attack]["score"] == honest_score()


def test_a_kernel_killed_by_a_probe_costs_that_check_only_with_a_clear_message(split_graded):
    result = split_graded["kills_its_kernel_when_probed"]
    failed = {case["name"]: case["message"] for case in result["cases"] if not case["passed"]}
    assert "ended the Python process" in failed["unrolled_length_counts_every_value"]
    assert "unroll_grayscale_batches" not in failed  # the kernel came back with the definitions
    assert result["score"] == honest_score() - 1


@pytest.fixture
def kernel(tmp_path):
    from autograder.grade.sandbox import Limits
    from autograder.grade.student_kernel import StudentKernel
    student = StudentKernel(workdir=tmp_path, limits=Limits(cell_timeout=60), env=dict(os.environ))
    student.start()
    yield student
    student.shutdown()


def kept_text(kernel, run) -> str:
    return "".join(o.get("text", "") for o in kernel.client.nb.cells[run.index].outputs)


def test_a_cell_that_floods_its_output_keeps_only_the_budget(kernel):
    """The kernel batches stream output, so whole messages past the budget are dropped; the
    budget is per cell, so the next cell's output is kept."""
    from autograder.grade.student_kernel import OUTPUT_BUDGET
    flood = kernel.run("for _ in range(50):\n    print('x' * 100_000)")  # 5 M characters
    after = kernel.run("print('still here')")
    assert flood.status == "ok" and len(kept_text(kernel, flood)) <= OUTPUT_BUDGET
    assert kept_text(kernel, after) == "still here\n"


def test_a_cell_that_kills_the_kernel_costs_only_itself(kernel):
    kernel.run("x = 41")
    died = kernel.run("import os\nos._exit(0)")
    after = kernel.run("x += 1\nassert x == 42")
    assert (died.status, after.status, kernel.restarts) == ("died", "ok", 1)
