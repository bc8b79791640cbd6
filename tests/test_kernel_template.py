"""Kernels forked from a template (``kernel_template``): the template becomes a kernel that
behaves as a fresh one (its own environment, none of the grader's modules or descriptors,
interrupted at the cell limit), serves one kernel only, and a template that cannot start the
kernel costs time, never a grade. The batch's adversarial corpus (test_split_grading.py)
runs every attack in such kernels; test_zygote.py grades a whole submission through one.

As in the grader, the templates are forked from a process that has started no kernel and no
thread yet (the grading child at its start): a helper interpreter forks them all first, then
runs the scenarios and reports what it saw. Forking the test process itself, which holds the
threads of earlier tests' kernels and libraries, is not what production does (and crashes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.grade.processes.kernel_template import starts_in_process

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent

SCENARIOS = r"""
import json, os, signal, sys, tempfile
from pathlib import Path
sys.path.insert(0, {root!r})
from autograder.grade.isolation.jail import JailSettings
from autograder.grade.processes.kernel_template import KernelTemplate, LaunchRequest, TemplateUnavailable
from autograder.grade.isolation.limits import Limits
from autograder.grade.kernel.student_kernel import RunStatus, StudentKernel
from autograder.grade.processes.zygote import import_for_the_kernels
import matplotlib.pyplot  # as the zygote has it (Keras imports it), before the kernel sets its backend
import_for_the_kernels()  # and what it imports for the kernel

held = os.pipe()  # open when the templates fork: no kernel may have it
templates = {{name: KernelTemplate.fork() for name in ("inside", "interrupt", "dies", "twice", "spare", "killed",
                                                    "refuses")}}
report = {{"held_pipe": f"pipe:[{{os.fstat(held[0]).st_ino}}]"}}


def kernel_for(name, **settings):
    kernel = StudentKernel(workdir=Path(tempfile.mkdtemp()), limits=Limits(cell_timeout=3),
                           env={{**os.environ, "TEMPLATE_TEST_MARKER": "the kernel's"}},
                           template=templates[name], interrupt_grace=2.0, **settings)
    kernel.start()
    return kernel


def printed(kernel, source):
    run = kernel.run(source)
    text = "".join(o.get("text", "") for o in kernel.client.nb.cells[run.index].outputs)
    return run.status.value, text


kernel = kernel_for("inside")
report["inside"] = {{"forked": kernel.forked, "failure": kernel.template_failure,
                    "is_template": kernel.client.km.provisioner.process.pid == templates["inside"].pid,
                    "cell": printed(kernel, {inside!r})}}
figure = kernel.run("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n")
report["figure"] = [output.output_type for output in kernel.client.nb.cells[figure.index].outputs]
kernel.shutdown()

kernel = kernel_for("interrupt")
report["interrupt"] = {{"loop": kernel.run("total = 0\nwhile True:\n    total += 1\n").status.value,
                       "after": printed(kernel, "print(total > 0)")}}
kernel.shutdown()

kernel = kernel_for("dies")
kernel.run("answer = 41")
report["process_forked"] = printed(kernel, {process!r})
report["dies"] = {{"exit": kernel.run("import os\nos._exit(3)").status.value, "forked_after": kernel.forked,
                  "replayed": printed(kernel, "print(answer + 1)")}}
report["process_fresh"] = printed(kernel, {process!r})
kernel.shutdown()

kernel = kernel_for("twice", spares=[templates["spare"]])
kernel.run("answer = 41")
report["spare"] = {{"first": kernel.run("import os\nos._exit(3)").status.value, "forked_after_first": kernel.forked,
                   "replayed_first": printed(kernel, "print(answer + 1)"),
                   "second": kernel.run("import os\nos._exit(3)").status.value, "forked_after_second": kernel.forked,
                   "replayed_second": printed(kernel, "print(answer + 1)")}}
kernel.shutdown()

os.kill(templates["killed"].pid, signal.SIGKILL)
kernel = kernel_for("killed")
report["killed"] = {{"failure": kernel.template_failure, "forked": kernel.forked, "cell": printed(kernel, "print(6 * 7)")}}
kernel.shutdown()

def open_pipes():
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add(os.readlink(f"/proc/self/fd/{{fd}}"))
        except OSError:
            pass  # closed meanwhile
    return found


# the grading child's ends of its two pipes to this template, by inode: other descriptors (a
# kernel client's sockets) may close at any time and must not count
its_pipes = {{f"pipe:[{{os.fstat(fd).st_ino}}]" for fd in (templates["refuses"].go, templates["refuses"].answer)}}
assert its_pipes <= open_pipes()
refusals = []
for command in (["/usr/bin/R", "-e", "1"], [sys.executable, "-m", "ipykernel_launcher"]):
    try:
        templates["refuses"].launch(LaunchRequest(command, dict(os.environ), tempfile.mkdtemp(), JailSettings()))
    except TemplateUnavailable as error:
        refusals.append(str(error))
try:
    os.waitpid(templates["refuses"].pid, os.WNOHANG)
    reaped = False
except ChildProcessError:
    reaped = True
report["refuses"] = {{"refusals": refusals, "reaped": reaped,
                     "pipes_left": sorted(its_pipes & open_pipes())}}
print(json.dumps(report))
"""

INSIDE = ("import os, sys\n"
          "print(os.environ.get('TEMPLATE_TEST_MARKER'))\n"
          "print(sorted(m for m in sys.modules if m.startswith('autograder')))\n"
          "print(os.path.basename(sys.argv[0]))\n"
          "def target(fd):\n"
          "    try:\n        return os.readlink('/proc/self/fd/' + fd)\n"
          "    except OSError:\n        return ''  # the listing's own\n"
          "print(sorted(target(fd) for fd in os.listdir('/proc/self/fd')))\n")


# what the process looks like to the student's code, compared between a forked kernel and the
# fresh one that replaces it: what a library the zygote imports could change on import; and
# what Otter's import (every notebook's first cell) does in the kernel: ipywidgets registers
# its comm targets with the running kernel, Otter's loggers write to the kernel's stderr, once
PROCESS = ("import sys\n"
           "print(sys.path)\n"
           "print(getattr(sys.breakpointhook, '__module__', ''), sys.gettrace(), sys.getprofile())\n"
           "import logging, comm, otter\n"
           "print(sorted(comm.get_comm_manager().targets))\n"
           "print([getattr(h, 'stream', None) is sys.stderr for h in logging.getLogger('otter.check').handlers])\n")


@pytest.fixture(scope="module")
def seen() -> dict:
    done = subprocess.run([sys.executable, "-c", SCENARIOS.format(root=str(ROOT), inside=INSIDE, process=PROCESS)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_template_becomes_a_kernel_with_its_own_environment_and_nothing_of_the_grader(seen):
    inside = seen["inside"]
    assert inside["forked"]
    assert inside["is_template"]
    assert inside["failure"] == ""
    status, text = inside["cell"]
    assert status == "ok", text
    environment, modules, argv, descriptors = text.splitlines()[:4]
    assert environment == "the kernel's"
    assert modules == "[]", "the grader's modules are dropped before the kernel starts"
    assert argv == "ipykernel_launcher.py", "sys.argv as `python -m ipykernel_launcher` has it"
    assert seen["held_pipe"] not in descriptors, descriptors


def test_a_forked_kernel_has_a_fresh_kernels_import_path_and_hooks(seen):
    assert seen["process_forked"][0] == "ok", seen["process_forked"]
    assert seen["process_forked"] == seen["process_fresh"]


def test_a_forked_kernel_shows_figures_though_matplotlib_was_imported_before_its_backend_was_set(seen):
    assert seen["figure"] == ["display_data"], "Jupyter's inline backend, as in a fresh kernel"


def test_a_forked_kernel_is_interrupted_at_the_cell_limit_and_goes_on(seen):
    assert seen["interrupt"] == {"loop": "timeout", "after": ["ok", "True\n"]}


def test_a_forked_kernel_that_dies_is_replaced_by_a_fresh_one_with_its_cells_replayed(seen):
    assert seen["dies"] == {"exit": "died", "forked_after": False, "replayed": ["ok", "42\n"]}


def test_a_spare_template_becomes_the_kernel_started_again_after_the_first_death(seen):
    """The split runner forks a spare with the first template (SPARE_TEMPLATES): the first
    restart is forked too, with the cells replayed; once the spares are used, a fresh kernel."""
    assert seen["spare"] == {"first": "died", "forked_after_first": True, "replayed_first": ["ok", "42\n"],
                             "second": "died", "forked_after_second": False, "replayed_second": ["ok", "42\n"]}


def test_a_template_that_cannot_start_the_kernel_costs_time_never_a_grade(seen):
    killed = seen["killed"]
    assert killed["failure"], "the failure is kept for the grader's log"
    assert (killed["forked"], killed["cell"]) == (False, ["ok", "42\n"])


def test_a_template_starts_only_this_interpreters_ipykernel_and_only_once(seen):
    assert starts_in_process([sys.executable, "-m", "ipykernel_launcher", "-f", "kernel.json"])
    assert not starts_in_process(["/usr/bin/R", "--slave", "-e", "IRkernel::main()"])
    first, second = seen["refuses"]["refusals"]
    assert "not a kernel this template can start" in first
    assert "already started" in second
    assert seen["refuses"]["reaped"], "a template that refused is ended and reaped"
    assert seen["refuses"]["pipes_left"] == [], "and the grading child closed its two pipes"
