"""The same correct notebooks graded on an idle machine and on one whose cores are all busy:
the scores and every note about a cell limit, side by side (issue 22: a grade must not
depend on the machine's load).

The notebooks are the build's solutions of each assignment and, for nn_foundations, a
correct variant whose tuning grid has nine candidates (its tuning cell computes for about a
third of the cell limit's share of a busy machine). Idle: graded one at a time. Busy: every
notebook copied COPIES times, graded at ``-j 3×cores`` beside three spinning processes per
core, as when a TA runs two batches at once on a small server.

    .venv/bin/python benchmarks/busy_machine.py [--copies 3] [--assignments nn_foundations keras_networks]

Needs a build (`autograder build`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_GRID = 'learning_rates=[1e-3, 1e-2], sizes=[(16,), (32, 16)]'
NINE_CANDIDATES = 'learning_rates=[1e-3, 3e-3, 1e-2], sizes=[(16,), (32,), (64, 32)]'
LIMIT_WORDS = ("computing time", "still waiting", "did not stop when interrupted", "interrupted")


def correct_notebooks(assignment: str, dist: Path, folder: Path) -> list[Path]:
    """The solutions notebook, and for nn_foundations the nine-candidate variant."""
    solutions = dist / assignment / "solutions" / f"{assignment}.ipynb"
    notebook = nbformat.read(solutions, as_version=4)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / f"{assignment}_solutions.ipynb"]
    nbformat.write(notebook, written[0])
    tuned = [cell for cell in notebook.cells if SOLUTION_GRID in cell.source]
    if tuned:
        tuned[0].source = tuned[0].source.replace(SOLUTION_GRID, NINE_CANDIDATES)
        written.append(folder / f"{assignment}_nine_candidates.ipynb")
        nbformat.write(notebook, written[-1])
    return written


def grade(assignment: str, folder: Path, out: Path, jobs: int) -> dict[str, dict]:
    subprocess.run([sys.executable, "-m", "autograder.cli", "grade", assignment, str(folder), "--out", str(out),
                    "--dist", str(ROOT / "dist"), "-j", str(jobs), "--force"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {path.stem: json.loads(path.read_text())["result"] for path in (out / ".journal").glob("*.json")}


def limit_notes(result: dict) -> list[str]:
    return [note[:120] for note in result.get("notes", []) if any(word in note for word in LIMIT_WORDS)]


def _spin(stop) -> None:
    while not stop.is_set():
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--assignments", nargs="+", default=["nn_foundations", "keras_networks"])
    options = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as scratch:
        for assignment in options.assignments:
            originals = correct_notebooks(assignment, ROOT / "dist", Path(scratch) / assignment / "idle")
            started = time.monotonic()
            idle = grade(assignment, originals[0].parent, Path(scratch) / assignment / "idle_out", 1)
            idle_seconds = time.monotonic() - started
            busy_folder = Path(scratch) / assignment / "busy"
            busy_folder.mkdir()
            for original in originals:
                for copy in range(options.copies):
                    (busy_folder / f"{original.stem}_{copy}.ipynb").write_bytes(original.read_bytes())
            stop = multiprocessing.Event()
            spinners = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(3 * cores)]
            for spinner in spinners:
                spinner.start()
            started = time.monotonic()
            try:
                busy = grade(assignment, busy_folder, Path(scratch) / assignment / "busy_out", 3 * cores)
            finally:
                stop.set()
                for spinner in spinners:
                    spinner.join(5)
            busy_seconds = time.monotonic() - started
            print(f"\n{assignment}: idle -j 1 in {idle_seconds:.0f} s; busy -j {3 * cores} beside "
                  f"{3 * cores} spinning processes in {busy_seconds:.0f} s")
            for original in originals:
                mine = idle[original.stem]
                copies = [busy[f"{original.stem}_{copy}"] for copy in range(options.copies)]
                scores = ", ".join(f"{r['score']:g}" for r in copies)
                print(f"  {original.stem:36} idle {mine['score']:g}/{mine['possible']:g} "
                      f"({mine['seconds']:.0f} s)  busy [{scores}] "
                      f"({max(r['seconds'] for r in copies):.0f} s at most)")
                for note in limit_notes(mine) + [n for r in copies for n in limit_notes(r)]:
                    print(f"    limit note: {note}")


if __name__ == "__main__":
    main()
