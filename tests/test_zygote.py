"""The zygote that forks grading children (the split runner's, and the Otter runner's for plain
Otter tests): each child is a process of its own, in its own session, confined before it reads
the submission, with the job's environment; and neither the zygote nor its children outlive the
grader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import nbformat
import pytest

from autograder.config import config
from autograder.grade.isolation.cgroups import ProcessCgroup
from autograder.grade.isolation.limits import Limits
from autograder.grade.processes.grading_child import child_environment, start_child
from autograder.grade.processes.requests import ChildJob

pytestmark = pytest.mark.slow
ASSIGNMENT = "nn_foundations"
# a variable the kernel receives (runners.split.KERNEL_VARIABLES), set by the job and not the zygote
MARKER = "TZ"


def sleeping_notebook(build, folder: Path) -> Path:
    """The student notebook with a first cell that sleeps: its grading child stays in the
    student-cells phase long enough to be looked at."""
    notebook = nbformat.read(build.student_dir / f"{ASSIGNMENT}.ipynb", as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(
        f"import os, time\nopen('job-marker', 'w').write(os.environ.get({MARKER!r}, 'absent'))\ntime.sleep(120)"))
    path = folder / f"{ASSIGNMENT}.ipynb"
    nbformat.write(notebook, path)
    return path


def job_for(build, folder: Path, limits: Limits) -> ChildJob:
    submission = sleeping_notebook(build, folder)
    env = {**child_environment("digits", 1, limits), MARKER: "the job's own"}
    return ChildJob("split",
                    [str(submission), str(build.autograder_zip), str(folder / "grade.json")], env, str(folder), limits,
                    from_zygote=True)


def proc_field(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text()


def wait_until(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_forked_child_is_its_own_session_confined_in_its_cgroup_with_the_jobs_environment(builds, tmp_path):
    build = builds(ASSIGNMENT)
    limits = config(ASSIGNMENT).limits
    cgroup = ProcessCgroup.create(limits.max_processes, memory_mb=limits.memory_mb, cpus=1)
    child = start_child(job_for(build, tmp_path, limits), cgroup)
    try:
        assert child.pid != os.getpid()
        assert wait_until(lambda: kernel_processes(child.pid) != []), "the child started no kernel"
        session = int(proc_field(child.pid, "stat").rsplit(")", 1)[1].split()[3])
        assert session == child.pid, "the child leads a session of its own (killed as a group)"
        limits_text = proc_field(child.pid, "limits")
        file_size = next(line for line in limits_text.splitlines() if line.startswith("Max file size"))
        assert str(limits.file_size_mb << 20) in file_size, file_size
        # the kernel (forked from the child's template) has the job's environment, not the zygote's:
        # its first cell wrote what it read into its folder, seen here through /proc/PID/cwd
        assert wait_until(lambda: any(_cmdline(Path(f"/proc/{pid}/cwd/job-marker")) == "the job's own"
                                      for pid in kernel_processes(child.pid))), kernel_processes(child.pid)
        if cgroup:
            assert child.pid in cgroup.members()
        assert child.wait(1.0) is None, "still grading: the notebook sleeps"
    finally:
        child.kill()
        if cgroup:
            cgroup.kill_all()
    assert child.wait(30.0) == -signal.SIGKILL
    if cgroup:
        assert cgroup.members() == []
        cgroup.remove()


GRADER = """
import sys, time, json
from dataclasses import asdict
from pathlib import Path
sys.path.insert(0, {root!r})
from autograder.grade.processes.grading_child import child_environment, start_child
from autograder.grade.processes.requests import ChildJob
from autograder.grade.isolation.cgroups import ProcessCgroup
from autograder.grade.isolation.limits import Limits
from autograder.grade.processes import zygote
limits = Limits(**json.loads({limits!r}))
job = ChildJob("split", {arguments!r}, child_environment("digits", 1, limits), {cwd!r}, limits,
               from_zygote=True)
cgroup = ProcessCgroup.create(limits.max_processes, memory_mb=limits.memory_mb, cpus=1)
child = start_child(job, cgroup)
print(json.dumps({{"zygote": zygote._zygote.process.pid, "child": child.pid, "log": zygote._zygote.log,
                   "cgroup": cgroup.paths() if cgroup else None}}), flush=True)
time.sleep(600)
"""


def test_the_zygote_and_the_children_it_forked_die_with_the_grader(builds, tmp_path):

    build = builds(ASSIGNMENT)
    limits = config(ASSIGNMENT).limits
    job = job_for(build, tmp_path, limits)
    script = GRADER.format(root=str(Path(__file__).resolve().parent.parent), limits=json.dumps(asdict(limits)),
                           arguments=job.arguments, cwd=job.cwd)
    grader = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL)
    try:
        started = json.loads(grader.stdout.readline())
        zygote_pid, child_pid = started["zygote"], started["child"]
        assert wait_until(lambda: kernel_processes(child_pid) != []), "the child started no kernel"
    finally:
        grader.kill()
        grader.wait()
    Path(started["log"]).unlink(missing_ok=True)  # a grader killed with -9 leaves its zygote's log
    assert wait_until(lambda: not Path(f"/proc/{zygote_pid}").exists()), "the zygote outlived the grader"
    assert wait_until(lambda: not Path(f"/proc/{child_pid}").exists()), "the grading child outlived the grader"
    assert wait_until(lambda: kernel_processes(child_pid) == []), "the student's kernel outlived the grader"
    if started["cgroup"]:
        cgroup = ProcessCgroup.from_paths(started["cgroup"])
        assert wait_until(lambda: cgroup.members() == []), f"left running: {cgroup.members()}"
        cgroup.remove()


def kernel_processes(child_pid: int) -> list[int]:
    """The processes in the cgroups the grading child made for its kernel (named after it)."""
    from autograder.grade.isolation.cgroups import CGROUP_PARENT, CGROUP_ROOTS
    found = []
    for root in CGROUP_ROOTS:
        for folder in (root / CGROUP_PARENT).glob(f"{child_pid}-*"):
            found += [int(p) for p in _cmdline(folder / "cgroup.procs").split()]
    return found


def _cmdline(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def test_without_a_zygote_the_child_is_a_fresh_interpreter(builds, tmp_path, monkeypatch):
    """AUTOGRADER_NO_ZYGOTE=1 (and Dask's daemonic workers): a fresh interpreter, same contract."""
    from autograder.grade.processes.zygote import DISABLE_ENV_VAR
    monkeypatch.setenv(DISABLE_ENV_VAR, "1")
    build = builds(ASSIGNMENT)
    limits = config(ASSIGNMENT).limits
    child = start_child(job_for(build, tmp_path, limits), None)
    try:
        assert wait_until(lambda: "autograder.grade.runners\0split" in _cmdline(Path(f"/proc/{child.pid}/cmdline")), 10)
        session = int(proc_field(child.pid, "stat").rsplit(")", 1)[1].split()[3])
        assert session == child.pid
    finally:
        child.kill()
    assert child.wait(30.0) == -signal.SIGKILL


def test_a_zygote_that_cannot_fork_costs_speed_never_a_grade(builds, tmp_path, monkeypatch):
    """If the zygote cannot start a child, the submission gets a fresh interpreter, and its log
    says why."""
    from autograder.grade.processes import zygote

    def refuse(job, cgroup):
        raise zygote.ZygoteError("the zygote ended")
    monkeypatch.setattr(zygote, "fork", refuse)
    build = builds(ASSIGNMENT)
    limits = config(ASSIGNMENT).limits
    job = job_for(build, tmp_path, limits)
    child = start_child(job, None)
    try:
        assert wait_until(lambda: "autograder.grade.runners\0split" in _cmdline(Path(f"/proc/{child.pid}/cmdline")), 10)
        assert "the zygote ended; this submission was graded by a fresh interpreter" in job.log.read_text()
    finally:
        child.kill()
    assert child.wait(30.0) == -signal.SIGKILL


def test_the_zygotes_log_is_removed_when_the_grader_ends_normally(builds, tmp_path):
    """A TA grades many times a term: a grader that ends normally leaves no zygote log behind
    (it is kept only when a fork failed, since the error names it)."""

    build = builds(ASSIGNMENT)
    limits = config(ASSIGNMENT).limits
    job = job_for(build, tmp_path, limits)
    script = GRADER.format(root=str(Path(__file__).resolve().parent.parent), limits=json.dumps(asdict(limits)),
                           arguments=job.arguments, cwd=job.cwd).replace(
        "time.sleep(600)", "print(zygote._zygote.log, flush=True)\nchild.kill()\nchild.wait(30)\n"
                           "cgroup and cgroup.kill_all()")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    log = Path(done.stdout.splitlines()[1])
    assert log.name.startswith("autograder-zygote-")
    assert not log.exists()


def test_the_zygote_imports_the_zips_judges_libraries_and_is_replaced_only_once_idle(builds, tmp_path, monkeypatch):
    """The zygote imports what the zip's manifest names (Keras for both assignments, not
    scikit-learn for keras_networks); a job naming other libraries gets a zygote of its own,
    and the old one ends once its running child has, never under it."""
    from dataclasses import replace

    from autograder.checks.suite import load_suite
    from autograder.grade.processes import zygote
    from autograder.grade.processes.grading_child import judges_libraries
    for assignment in ("nn_foundations", "keras_networks"):
        assert judges_libraries(builds(assignment).autograder_zip) == load_suite(assignment).preload
    monkeypatch.setattr(zygote, "_zygote", None)  # this test's own zygotes
    limits = config(ASSIGNMENT).limits
    job = job_for(builds(ASSIGNMENT), tmp_path, limits)
    waiting_zip = tmp_path / "nobody-writes.zip"  # a child that waits: opening its zip blocks
    os.mkfifo(waiting_zip)
    running = replace(job, arguments=[job.arguments[0], str(waiting_zip), job.arguments[2]], preload=("json",))
    child = start_child(running, None)
    first = zygote._zygote
    assert first is not None
    assert _cmdline(Path(f"/proc/{first.process.pid}/cmdline")).split("\0")[-3:-1] == [
        "autograder.grade.processes.zygote", "json"]
    try:
        other = replace(running, preload=("csv",), runner="not-the-runner")  # refused at once: a cheap child
        pid, second = zygote.fork(other, None)
        assert second is not first
        assert second.wait(pid, 60) == 1
        assert first.alive, "the replaced zygote ended while its child was still grading"
        assert child.wait(1.0) is None
    finally:
        child.kill()
    assert child.wait(30.0) == -signal.SIGKILL
    assert wait_until(lambda: not first.alive), "the replaced zygote outlived its last child"
    second.retire()
    assert wait_until(lambda: not second.alive)


@pytest.mark.parametrize(("submissions", "jobs", "forked"), [(3, 2, True), (2, 2, True), (1, 1, False), (1, 2, False)])
def test_a_batch_forks_from_a_zygote_only_when_it_grades_several(submissions, jobs, forked):
    """The zygote pays the judges' imports once for the submissions it forks; a single
    submission is faster in a fresh interpreter (its imports overlap the student's cells)."""
    from autograder.batch import _task_factory
    from autograder.grade.intake import Submission
    task = _task_factory(ASSIGNMENT, b"", None, jobs, "split", submissions)(Submission("x", Path("x.ipynb")), b"")
    assert task.from_zygote is forked


def test_a_submission_graded_through_the_zygote_gets_its_kernel_from_its_childs_template(builds):
    """The whole path: zygote → grading child → its template → the kernel, in the jail's view
    (as root), full marks for the solution."""
    from autograder.grade.processes.grading_child import grade_in_child
    build = builds(ASSIGNMENT)
    grade = grade_in_child(build.solutions_notebook, build.autograder_zip, runner="split", from_zygote=True, cpus=1,
                           dataset="digits", limits=config(ASSIGNMENT).limits)
    assert (grade.error, grade.score) == (None, grade.possible), grade.log[-3000:]
    assert "kernel start (forked from the template)" in grade.phases, grade.phases
    if os.geteuid() == 0:
        assert grade.sandbox == "view"


def test_the_zygotes_requests_name_no_student(tmp_path, monkeypatch):
    """The zygote keeps its requests' bytes in its memory, which the grading children and their
    kernels' templates copy: the submission goes under a name every submission has."""
    from autograder.grade.processes import grading_child as child
    jobs: list[ChildJob] = []

    def capture(job, timeout, cpus):
        jobs.append(job)
        return 1, "", False
    monkeypatch.setattr(child, "_run_in_own_session", capture)
    named = tmp_path / "alice_smith_nn.ipynb"
    named.write_text("{}")
    child.grade_in_child(named, tmp_path / "autograder.zip", runner="split", from_zygote=True)
    assert Path(jobs[0].arguments[0]).name == "submission.ipynb"
    assert "alice_smith" not in repr(jobs[0])


# the kernel of an Otter-runner child (unjailed: Otter's tests run in it) writes the pid of its
# grading child's parent, read while that child waits for it: the zygote's if the child was forked
PARENT_OF_THE_CHILD = """
import os
child = os.getppid()
with open(f"/proc/{{child}}/stat") as stat:
    parent = stat.read().rsplit(")", 1)[1].split()[1]
open({path!r}, "w").write(parent)
open({path!r} + ".kernel", "w").write(open("/proc/self/cmdline").read().replace("\\0", " "))
import gc
gc.collect()
open({path!r} + ".tracked", "w").write(str(len(gc.get_objects())))
"""


def test_an_otter_runner_child_is_forked_from_the_zygote_and_grades_as_a_fresh_one(tmp_path, monkeypatch):
    """Plain Otter tests (the toy): the zygote forks their grading child too, with Otter's
    runner imported in advance, and the child's kernel is its template become the kernel (its
    command line is still the zygote's: a fresh kernel's is ipykernel's launcher); the score is
    the fresh interpreter's and fresh kernel's."""
    import shutil

    from autograder.build import build_assignment
    from autograder.config import ASSIGNMENTS_DIR_ENV_VAR
    from autograder.grade.processes import zygote
    from autograder.grade.processes.grading_child import grade_in_child
    shutil.copytree(Path(__file__).parent / "fixtures" / "toy", tmp_path / "assignments" / "toy")
    monkeypatch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(tmp_path / "assignments"))
    built = build_assignment("toy", tmp_path / "dist", verify=False)
    notebook = nbformat.read(built.solutions_notebook, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PARENT_OF_THE_CHILD.format(path=str(tmp_path / "parent"))))
    submission = tmp_path / "toy.ipynb"
    nbformat.write(notebook, submission)
    grades, tracked = {}, {}
    for forked in (True, False):
        grades[forked] = grade_in_child(submission, built.autograder_zip, runner="otter", from_zygote=forked,
                                        limits=config("toy").limits)
        parent = int((tmp_path / "parent").read_text())
        assert (parent == zygote._zygote.process.pid) is forked, (forked, parent, grades[forked].log[-2000:])
        kernel = (tmp_path / "parent.kernel").read_text()
        assert ("autograder.grade.processes.zygote" in kernel) is forked, (forked, kernel)
        assert ("ipykernel_launcher" in kernel) is not forked, (forked, kernel)
        tracked[forked] = int((tmp_path / "parent.tracked").read_text())
    # the zygote's heap is frozen (zygote.freeze_the_heap): a forked kernel's collector tracks
    # only what the kernel made, fewer objects than a fresh kernel's (which tracks its imports'),
    # so its collections neither take long nor copy the zygote's pages
    assert tracked[True] < tracked[False], tracked
    assert (grades[True].error, grades[True].score, grades[True].possible) == (None, 2.0, 2.0), grades[True].log[-3000:]
    assert grades[True].cases == grades[False].cases
