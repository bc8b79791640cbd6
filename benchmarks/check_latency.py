"""How long a student waits for ``grader.check("q…")`` once the notebook has run (issue 13).

Copies a built student folder, puts the solutions notebook in it (as a student who answered
everything), runs its cells in a Jupyter kernel as *Restart & Run All* would (the training
cells tagged ``otter_ignore`` too: a student runs them), then times ``grader.check`` of every
question in that kernel, each three times, and prints the median.

``--fresh`` times what a student meets first instead (issue 22): for each question, a fresh
kernel runs the cells before its check (not the other checks, so that this one is the kernel's
first; nor the training cells tagged ``otter_ignore``, which no check needs), then the check
once, with the student version's public tests (the solutions notebook's metadata also holds the
hidden ones); the check's first output lines are printed, so a library's log line shows.

    .venv/bin/python benchmarks/check_latency.py [--dist dist] [--assignment nn_foundations ...] [--fresh]
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


def time_fresh(student_dir: Path, solutions: Path) -> dict[str, tuple[float, str]]:
    """Question -> (seconds of its first ``grader.check`` in a fresh kernel, its output)."""
    import nbformat
    from nbclient import NotebookClient
    public = nbformat.read(student_dir / solutions.name, as_version=4).metadata["otter"]["tests"]
    checks = [(index, cell.source.split('"')[1]) for index, cell in
              enumerate(nbformat.read(solutions, as_version=4).cells)
              if cell.cell_type == "code" and cell.source.startswith("grader.check(")]
    timings: dict[str, tuple[float, str]] = {}
    for index, question in checks:
        with tempfile.TemporaryDirectory(prefix="check-latency-") as tmp:
            folder = Path(tmp) / "student"
            shutil.copytree(student_dir, folder)
            notebook = nbformat.read(solutions, as_version=4)
            notebook.metadata["otter"]["tests"] = public
            nbformat.write(notebook, folder / solutions.name)
            client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                                    resources={"metadata": {"path": str(folder)}})
            with client.setup_kernel():
                for number, cell in enumerate(notebook.cells[:index]):
                    if (cell.cell_type == "code" and "otter_ignore" not in cell.metadata.get("tags", [])
                            and not cell.source.startswith("grader.check(")):
                        client.execute_cell(cell, number)
                started = time.monotonic()
                client.execute_cell(notebook.cells[index], index)
                seconds = time.monotonic() - started
            output = "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                             for o in notebook.cells[index].outputs)
            timings[question] = (seconds, output)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--assignment", nargs="+", default=["nn_foundations", "keras_networks"])
    parser.add_argument("--fresh", action="store_true",
                        help="each check once, in a fresh kernel, with the student's public tests")
    args = parser.parse_args()
    os.environ.setdefault("AUTOGRADER_DATASET", "digits")
    from autograder.assignment import questions
    for assignment in args.assignment:
        if args.fresh:
            fresh = time_fresh(args.dist / assignment / "student",
                               args.dist / assignment / "solutions" / f"{assignment}.ipynb")
            for name, (seconds, output) in fresh.items():
                print(f"{assignment} grader.check({name!r}) in a fresh kernel: {seconds:.2f} s")
                for line in output.strip().splitlines()[:3]:
                    print(f"    | {line[:150]}")
            continue
        names = [q.name for q in questions(assignment) if not q.manual]
        timings = run_and_time(args.dist / assignment / "student",
                               args.dist / assignment / "solutions" / f"{assignment}.ipynb", names)
        for name, seconds in timings.items():
            print(f"{assignment} grader.check({name!r}): {seconds:.2f} s (median of 3)")


if __name__ == "__main__":
    main()
