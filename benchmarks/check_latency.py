"""How long a student waits for ``grader.check("q…")`` once the notebook has run (issue 13).

Copies a built student folder, puts the solutions notebook in it (as a student who answered
everything), runs its cells in a Jupyter kernel as *Restart & Run All* would (the training
cells tagged ``otter_ignore`` too: a student runs them), then times ``grader.check`` of every
question in that kernel, each three times, and prints the median.

    .venv/bin/python benchmarks/check_latency.py [--dist dist] [--assignment nn_foundations ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_and_time(student_dir: Path, solutions: Path, questions: list[str]) -> dict[str, float]:
    import nbformat
    from nbclient import NotebookClient
    with tempfile.TemporaryDirectory(prefix="check-latency-") as tmp:
        folder = Path(tmp) / "student"
        shutil.copytree(student_dir, folder)
        notebook = nbformat.read(solutions, as_version=4)
        nbformat.write(notebook, folder / solutions.name)
        client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(folder)}})
        timings: dict[str, float] = {}
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
            for question in questions:
                cell = nbformat.v4.new_code_cell(f'grader.check("{question}")')
                notebook.cells.append(cell)
                seconds = []
                for _ in range(3):
                    started = time.monotonic()
                    client.execute_cell(cell, len(notebook.cells) - 1)
                    seconds.append(time.monotonic() - started)
                timings[question] = statistics.median(seconds)
        return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--assignment", nargs="+", default=["nn_foundations", "keras_networks"])
    args = parser.parse_args()
    os.environ.setdefault("AUTOGRADER_DATASET", "digits")
    from autograder.assignment import questions
    for assignment in args.assignment:
        names = [q.name for q in questions(assignment) if not q.manual]
        timings = run_and_time(args.dist / assignment / "student",
                               args.dist / assignment / "solutions" / f"{assignment}.ipynb", names)
        for name, seconds in timings.items():
            print(f"{assignment} grader.check({name!r}): {seconds:.2f} s (median of 3)")


if __name__ == "__main__":
    main()
