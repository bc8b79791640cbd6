"""Write the bundled sample submissions, submissions/<assignment>/*.ipynb, from a build.

The samples are what a TA meets in a real batch: a full-marks notebook, a partial one, one
that crashes part-way, a file that is not a notebook any more, one that leaks the test
set into tuning, and one with a loop that never ends. They are committed so a TA can open
them; run this again (after `autograder build`) when a master notebook changes, then
check `submissions/<assignment>/expected.csv` with the test suite.

    .venv/bin/python scripts/make_samples.py [--dist dist]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

from autograder.build.variants import Edit, apply_edits, known_wrong

ROOT = Path(__file__).resolve().parent.parent
RUNAWAY_CELL = ("# Train until the loss stops improving … but nothing here ever changes.\n"
                "improving = True\nwhile improving:\n    pass\n")

# Per assignment: which solution cells the partial notebook answers (by their first words),
# the edit that makes one cell crash at top level, and the known-wrong variant that leaks.
SAMPLES = {
    "nn_foundations": {
        "answered": ("def unrolled_length", "hyperparameters =", "tiny_hidden_pre"),
        "crash": Edit("tiny_hidden = [max(0.0, s) for s in tiny_hidden_pre]",
                      "tiny_hidden = [max(0.0, s) for s in tiny_hiden_pre]"),
        "leak": "q5_tunes_on_test_set",
    },
    "keras_networks": {
        "answered": ("def build_mlp_16x16", "def dense_params"),
        "crash": Edit("def invert(images):", "invert_all = invert(X_train)\n\n\ndef invert(images):"),
        "leak": None,  # no question of this assignment tunes on held-out data
    },
    "training_diagnostics": {
        "answered": ("def one_hot", "def best_epoch", "def confusion"),
        "crash": Edit("def first_layer_images(mlp):",
                      "pictures_preview = first_layer_images(None)\n\n\ndef first_layer_images(mlp):"),
        "leak": "q3_validates_on_the_test_set",
    },
}


def partial(student: nbformat.NotebookNode, solutions: nbformat.NotebookNode,
            answered: tuple[str, ...]) -> nbformat.NotebookNode:
    """The student notebook with only the ``answered`` solution cells filled in (the two
    notebooks have the same cells up to the manual answers)."""
    copy = nbformat.from_dict(student)
    for index, cell in enumerate(solutions.cells):
        if cell.cell_type == "code" and cell.source.startswith(answered):
            copy.cells[index].source = cell.source
    return copy


def with_runaway_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A loop that never ends in its own cell, right after the first answer."""
    copy = nbformat.from_dict(notebook)
    first_answer = next(i for i, c in enumerate(copy.cells)
                        if "otter_assign_solution_cell" in c.metadata.get("tags", []))
    copy.cells.insert(first_answer + 1, nbformat.v4.new_code_cell(RUNAWAY_CELL))
    return copy


def write_samples(assignment: str, dist: Path, out: Path) -> list[Path]:
    spec = SAMPLES[assignment]
    solutions = nbformat.read(dist / assignment / "solutions" / f"{assignment}.ipynb", as_version=4)
    student = nbformat.read(dist / assignment / "student" / f"{assignment}.ipynb", as_version=4)
    notebooks = {
        "full_marks": solutions,
        "partial": partial(student, solutions, spec["answered"]),
        "crashes": apply_edits(solutions, (spec["crash"],), "crashes"),
        "runaway_loop": with_runaway_cell(solutions),
    }
    if spec["leak"]:
        leak = next(v for v in known_wrong(assignment) if v.name == spec["leak"])
        notebooks["leaks_test_set"] = apply_edits(solutions, leak.edits, leak.name)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, notebook in notebooks.items():
        nbformat.write(notebook, out / f"{name}.ipynb")
        written.append(out / f"{name}.ipynb")
    broken = out / "broken_file.ipynb"  # a notebook cut off half-way by a failed upload
    text = nbformat.writes(solutions)
    broken.write_text(text[: len(text) // 2])
    return [*written, broken]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    for assignment in SAMPLES:
        for path in write_samples(assignment, args.dist, ROOT / "submissions" / assignment):
            print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
