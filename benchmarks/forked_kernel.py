"""What a kernel forked from a pre-imported process would save (docs/architecture.md, "Where
grading time goes"): a design measurement, not the grader's path.

Runs a notebook's graded cells (the cells the grader runs) in a kernel Jupyter starts fresh,
then in kernels forked from this process after it imported ipykernel, NumPy, scikit-learn and
Keras once, and prints the seconds of each. No jail, no limits: run it on the course's own
solutions only.

    .venv/bin/python benchmarks/forked_kernel.py dist/keras_networks/solutions/keras_networks.ipynb
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.connect import write_connection_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from autograder.grade.student_kernel import notebook_code_cells  # noqa: E402
from autograder.shipping import ship_student_runtime  # noqa: E402

ENV = {"AUTOGRADER_DATASET": "digits", "TF_CPP_MIN_LOG_LEVEL": "2", "OMP_NUM_THREADS": "1"}
TEMPLATE_IMPORTS = ("numpy", "sklearn.neural_network", "sklearn.model_selection", "keras", "ipykernel.kernelapp")


def run_cells(client: BlockingKernelClient, cells: list[str]) -> float:
    started = time.monotonic()
    for source in cells:
        client.execute_interactive(source, timeout=120, output_hook=lambda message: None)
    return time.monotonic() - started


def kernel_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="forked-kernel-"))
    ship_student_runtime(folder)  # `from autograder.data import …`, as in the grader's kernel folder
    return folder


def timed(client: BlockingKernelClient, started: float, cells: list[str], stop) -> tuple[float, float]:
    """Seconds until the kernel answered, then seconds of the cells; ``stop`` ends the kernel."""
    client.start_channels()
    client.wait_for_ready(60)
    ready = time.monotonic() - started
    try:
        return ready, run_cells(client, cells)
    finally:
        client.stop_channels()
        stop()


def fresh(cells: list[str]) -> tuple[float, float]:
    manager = KernelManager(kernel_name="python3")
    started = time.monotonic()
    manager.start_kernel(cwd=str(kernel_folder()), env={**os.environ, **ENV})
    return timed(manager.client(), started, cells, lambda: manager.shutdown_kernel(now=True))


def forked(cells: list[str]) -> tuple[float, float]:
    folder = kernel_folder()
    connection = str(folder / "kernel.json")
    write_connection_file(connection, ip="127.0.0.1")
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the kernel: this process's imports, the student's folder, none of our modules
        os.setsid()
        os.chdir(folder)
        for name in [m for m in sys.modules if m == "autograder" or m.startswith("autograder.")]:
            del sys.modules[name]
        sys.path[:] = ["", *(p for p in sys.path if p not in ("", str(ROOT)))]
        sys.argv = ["ipykernel_launcher", "-f", connection]
        from ipykernel import kernelapp
        kernelapp.launch_new_instance()
        os._exit(0)
    client = BlockingKernelClient(connection_file=connection)
    client.load_connection_file()

    def stop() -> None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    return timed(client, started, cells, stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--forks", type=int, default=2)
    args = parser.parse_args()
    cells = [cell.source for cell in notebook_code_cells(nbformat.read(args.notebook, as_version=4))]
    ready, seconds = fresh(cells)
    print(f"fresh kernel: ready in {ready:.2f} s, graded cells {seconds:.2f} s")
    os.environ.update(ENV)
    started = time.monotonic()
    for module in TEMPLATE_IMPORTS:
        __import__(module)
    print(f"the template's imports, once: {time.monotonic() - started:.2f} s")
    for number in range(1, args.forks + 1):
        ready, seconds = forked(cells)
        print(f"forked kernel {number}: ready in {ready:.2f} s, graded cells {seconds:.2f} s")


if __name__ == "__main__":
    main()
