"""`autograder build`: stable outputs, and loud failures when something must not ship.

The failure paths use a one-question toy assignment (tests/fixtures/toy), so proving that
the build refuses imperfect solutions costs one short otter run, not a full assignment.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.build import BuildError, build_assignment, refuse_answer_leaks
from autograder.config import ASSIGNMENTS_DIR_ENV_VAR

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def toy_dir(tmp_path, monkeypatch):
    assignments = tmp_path / "assignments"
    shutil.copytree(FIXTURES / "toy", assignments / "toy")
    monkeypatch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(assignments))
    return assignments / "toy"


def edit_master(toy_dir: Path, old: str, new: str) -> None:
    path = toy_dir / "toy.ipynb"
    notebook = nbformat.read(path, as_version=4)
    hits = [cell for cell in notebook.cells if old in cell.source]
    assert len(hits) == 1, f"{old!r} should be in one cell"
    hits[0].source = hits[0].source.replace(old, new)
    nbformat.write(notebook, path)


@pytest.mark.slow
def test_toy_builds_with_stable_names_and_its_solutions_score_full_marks(toy_dir, tmp_path):
    result = build_assignment("toy", tmp_path / "dist")
    assert result.autograder_zip == tmp_path / "dist" / "toy" / "autograder" / "toy-autograder.zip"
    assert (tmp_path / "dist" / "toy" / "student" / "toy.ipynb").is_file()
    assert result.solutions_notebook == tmp_path / "dist" / "toy" / "solutions" / "toy.ipynb"
    assert result.solution_score == (2.0, 2.0)


@pytest.mark.slow
def test_build_fails_loudly_when_the_solutions_do_not_score_full_marks(toy_dir, tmp_path):
    edit_master(toy_dir, "answer = 6 * 7 # SOLUTION", "answer = 6 * 6 # SOLUTION")
    with pytest.raises(BuildError, match=r"do not score full marks.*0/2"):
        build_assignment("toy", tmp_path / "dist")


def test_build_fails_when_a_solution_block_sits_outside_a_solution_cell(toy_dir, tmp_path):
    """An in-cell solution block in a prompt cell is not stripped by Otter: it would ship."""
    notebook = nbformat.read(toy_dir / "toy.ipynb", as_version=4)
    notebook.cells.insert(2, nbformat.v4.new_code_cell(
        "def helper():\n    # BEGIN SOLUTION\n    return 'the secret helper answer'\n    # END SOLUTION\n"))
    nbformat.write(notebook, toy_dir / "toy.ipynb")
    with pytest.raises(BuildError, match="BEGIN SOLUTION"):
        build_assignment("toy", tmp_path / "dist", verify=False)


@pytest.fixture
def student_copy(built, tmp_path):
    copy = tmp_path / "student"
    shutil.copytree(built.student_dir, copy)
    return copy


def master() -> Path:
    from autograder.build import master_notebook
    return master_notebook("nn_foundations")


def plant_cell(student_dir: Path, source: str) -> None:
    path = student_dir / "nn_foundations.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(notebook, path)


@pytest.mark.parametrize(("planted", "reason"), [
    ("def unroll(images):\n    images = np.asarray(images)\n    return images.reshape(len(images), -1)",
     "staff-only line"),
    ("def test_unroll_grayscale_batches(env):\n    pass", "staff-only line"),
    ('run_check(env, "nn_foundations", "unroll_single_image")', "run_check("),
])
def test_leak_guard_catches_a_planted_solution_or_hidden_test(student_copy, planted, reason):
    plant_cell(student_copy, planted)
    with pytest.raises(BuildError, match=reason.replace("(", r"\(")):
        refuse_answer_leaks(master(), student_copy)


def test_build_fails_when_a_multiline_solution_leaves_a_broken_stub(toy_dir, tmp_path):
    edit_master(toy_dir, "answer = 6 * 7 # SOLUTION", "answer = (6 * # SOLUTION\n          7) # SOLUTION")
    with pytest.raises(BuildError, match="does not parse"):
        build_assignment("toy", tmp_path / "dist", verify=False)


def test_leak_guard_catches_hidden_checks_copied_to_students(student_copy):
    import autograder.checks
    shipped = student_copy / "autograder" / "checks"
    assert sorted(p.name for p in shipped.iterdir() if p.name != "__pycache__") == ["leakage"]  # the public check's
    refuse_answer_leaks(master(), student_copy)  # the leak analysis alone is no leak
    shutil.copytree(Path(autograder.checks.__file__).parent, shipped, dirs_exist_ok=True)
    with pytest.raises(BuildError, match="checks/nn_foundations: the hidden checks were copied"):
        refuse_answer_leaks(master(), student_copy)


def test_student_version_has_stubs_where_solutions_were(built):
    notebook = nbformat.read(built.student_dir / "nn_foundations.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells)
    for stub in ("def unroll(images):", "def tune_mlp(X, y, learning_rates, sizes, seed=0):",
                 "tiny_output = ...", "mlp_16x16 = ..."):
        assert stub in text
    tests = notebook.metadata["otter"]["tests"]
    assert all("hidden=True" not in source for source in tests.values())


def test_student_runtime_is_the_loader_the_seeding_the_fingerprints_and_the_leak_analysis_only(built):
    shipped = sorted(p.name for p in (built.student_dir / "autograder").iterdir())
    assert shipped == ["__init__.py", "checks", "data.py", "fingerprints.py", "seeding.py"]
    assert sorted(p.name for p in (built.student_dir / "autograder" / "checks").iterdir()) == ["leakage"]


def test_autograder_zip_carries_everything_its_hidden_tests_import(built):
    """Every `autograder.*` module imported by the zipped package is in the zip, so the zip
    grades with nothing but its requirements installed."""
    import ast
    with zipfile.ZipFile(built.autograder_zip) as archive:
        names = set(archive.namelist())
        modules = {n[len("files/"):-3].replace("/", ".").removesuffix(".__init__")
                   for n in names if n.startswith("files/autograder") and n.endswith(".py")}
        imported = set()
        for name in names:
            if name.endswith(".py") and (name.startswith("files/autograder") or name.startswith("tests/")):
                for node in ast.walk(ast.parse(archive.read(name))):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autograder"):
                        imported.add(node.module)
                    elif isinstance(node, ast.Import):
                        imported |= {a.name for a in node.names if a.name.startswith("autograder")}
        assert "files/autograder/_assignments/nn_foundations/grading.toml" in names
        assert any(n == "requirements.txt" or n.endswith("environment.yml") for n in names)
    assert imported, f"missing from the zip: {sorted(imported - modules)}"
    assert imported <= modules, f"missing from the zip: {sorted(imported - modules)}"


# Graded conventions in the prompts, from grading.toml -----------------------------------------

def student_markdown(result) -> str:
    notebook = nbformat.read(result.student_dir / f"{result.assignment}.ipynb", as_version=4)
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def test_a_prompt_states_the_limit_grading_toml_sets_and_follows_it_when_it_changes(toy_dir, tmp_path):
    edit_master(toy_dir, "Set `answer` to six times seven.",
                "Set `answer` to six times seven. This cell may run for {{ limits.cell_timeout }} s.")
    first = build_assignment("toy", tmp_path / "first", verify=False)
    config = toy_dir / "grading.toml"
    config.write_text(config.read_text().replace("cell_timeout = 10", "cell_timeout = 45"))
    from autograder.config import clear_cache
    clear_cache()
    try:
        second = build_assignment("toy", tmp_path / "second", verify=False)
    finally:
        clear_cache()
    assert "may run for 10 s." in student_markdown(first)
    assert "may run for 45 s." in student_markdown(second)
    assert "{{" not in student_markdown(second)


def test_a_prompt_naming_a_setting_grading_toml_lacks_fails_the_build(toy_dir, tmp_path):
    edit_master(toy_dir, "Set `answer` to six times seven.", "Within {{ limits.cell_timeut }} s.")
    with pytest.raises(BuildError, match=r"toy.ipynb, cell \d+: {{ limits.cell_timeut }} cannot be filled in"):
        build_assignment("toy", tmp_path / "dist", verify=False)


@pytest.mark.parametrize(("assignment", "stated"), [
    ("nn_foundations", lambda c: [c.limits.cell_timeout, c.tolerance("hand_trace"), c.tolerance("forward"),
                                  c.threshold("digits", "mlp_16x16_accuracy")]),
    ("keras_networks", lambda c: [c.limits.cell_timeout, c.training.cnn_epochs, c.training.batch_size,
                                  c.threshold("digits", "cnn_accuracy"), c.tolerance("activations"),
                                  c.training.max_parameters, c.training.max_flops_per_image,
                                  c.training.judge_cpu_seconds["digits"]]),
])
def test_every_bundled_prompt_states_its_graded_conventions(builds, assignment, stated):
    """The values the judges read (the zip's grading.toml) are the ones the student reads, and
    no placeholder is left."""
    import tomllib

    from autograder.bundle import Bundle
    from autograder.config import AssignmentConfig
    build = builds(assignment)
    text = student_markdown(build)
    assert "{{" not in text
    judged = AssignmentConfig.from_toml(tomllib.loads(Bundle.read(build.autograder_zip).grading_toml),
                                        Path("grading.toml"))
    for value in stated(judged):
        assert str(value) in text, value


def test_builds_starting_at_once_share_one_whole_course_secret(tmp_path):
    """Two builds (two TAs, two test workers) making the course secret at the same moment: one
    secret for both, whole, readable by its owner only; never an error or a half-written file."""
    import threading

    from autograder.build import course_secret
    path = tmp_path / "course" / ".course_secret"
    start, seen, errors = threading.Barrier(8), [], []

    def make() -> None:
        start.wait()
        try:
            seen.append(course_secret(path))
        except Exception as error:
            errors.append(error)
    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(set(seen)) == 1
    assert len(seen[0]) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == [".course_secret"]  # no temporary left behind
