"""`autograder grade` as a TA runs it: crash-safe and resumable, limits enforced per submission.

These use the one-question toy assignment (tests/fixtures/toy): a notebook grades in a few
seconds there, so a batch can be killed with -9 and resumed inside the test suite.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.config import ASSIGNMENTS_DIR_ENV_VAR

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy assignment built once: (assignments dir, dist dir, solutions notebook)."""
    from autograder.build import build_assignment
    root = tmp_path_factory.mktemp("toy")
    shutil.copytree(FIXTURES / "toy", root / "assignments" / "toy")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(root / "assignments"))
        built = build_assignment("toy", root / "dist", verify=False)
    return root / "assignments", root / "dist", built.solutions_notebook


def submission(toy, folder: Path, name: str, answer: str = "6 * 7", before: str = "") -> Path:
    """The toy solutions notebook with another answer, and optionally a cell before it."""
    notebook = nbformat.read(toy[2], as_version=4)
    cell = next(c for c in notebook.cells if "answer = 6 * 7" in c.source)
    cell.source = cell.source.replace("answer = 6 * 7", f"answer = {answer}")
    if before:
        notebook.cells.insert(notebook.cells.index(cell), nbformat.v4.new_code_cell(before))
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


def grade_command(toy, folder: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "autograder.cli", "grade", "toy", str(folder), "--out", str(out),
            "--dist", str(toy[1]), *extra]


def run_grade(toy, folder: Path, out: Path, *extra: str) -> str:
    env = dict(os.environ, **{ASSIGNMENTS_DIR_ENV_VAR: str(toy[0])})
    done = subprocess.run(grade_command(toy, folder, out, *extra), env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def gradebook(out: Path) -> str:
    return (out / "gradebook.csv").read_text()


@pytest.fixture(scope="module")
def batch(toy, tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    for name, answer in (("alice", "6 * 7"), ("bob", "41"), ("carol", "42"), ("dan", "0")):
        submission(toy, folder, name, answer)
    return folder


@pytest.fixture(scope="module")
def uninterrupted(toy, batch, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    run_grade(toy, batch, out, "-j", "2")
    return out


def test_a_batch_grades_every_submission(uninterrupted):
    rows = gradebook(uninterrupted).splitlines()
    assert rows[0] == "submission,status,total,possible,q1_answer"
    assert sorted(rows[1:]) == ["alice,graded,2.0,2.0,2.0", "bob,graded,0.0,2.0,0.0",
                                "carol,graded,2.0,2.0,2.0", "dan,graded,0.0,2.0,0.0"]


def test_kill_9_then_the_same_command_finishes_with_the_same_gradebook(toy, batch, uninterrupted, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, **{ASSIGNMENTS_DIR_ENV_VAR: str(toy[0])})
    grader = subprocess.Popen(grade_command(toy, batch, out, "-j", "1"), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / ".journal"
    deadline = time.monotonic() + 300
    while not (journal.exists() and any(journal.glob("*.json"))) and time.monotonic() < deadline:
        time.sleep(0.2)
    grader.send_signal(signal.SIGKILL)
    grader.wait()
    recorded = sorted(p.name for p in journal.glob("*.json"))
    assert 1 <= len(recorded) < 4, recorded
    assert not list(journal.glob(".*")) or all(p.name.startswith(".") for p in journal.glob(".*"))

    output = run_grade(toy, batch, out, "-j", "2")
    assert f"{len(recorded)} kept from an earlier run" in output
    assert gradebook(out) == gradebook(uninterrupted)


def test_a_changed_file_is_graded_again_and_force_regrades_all(toy, batch, uninterrupted, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(uninterrupted, out)
    changed = tmp_path / "changed"
    shutil.copytree(batch, changed)
    submission(toy, changed, "bob", "42")  # bob fixes his answer and resubmits
    # the journal records the path it graded, so grade the copy once, then change bob
    run_grade(toy, changed, out)
    submission(toy, changed, "bob", "40 + 2")
    assert "3 kept from an earlier run" in run_grade(toy, changed, out)
    assert "bob,graded,2.0,2.0,2.0" in gradebook(out)
    assert "kept from an earlier run" not in run_grade(toy, changed, out, "--force")


def test_runaway_cell_is_interrupted_and_the_rest_is_graded(toy, tmp_path):
    folder = tmp_path / "subs"
    submission(toy, folder, "loops", before="while True:\n    pass")
    submission(toy, folder, "hogs_memory", before="hog = bytearray(20 * 2**30)")
    submission(toy, folder, "fills_disk",
               before="with open('big.bin', 'wb') as f:\n    f.write(b'0' * (128 * 2**20))")
    out = tmp_path / "out"
    run_grade(toy, folder, out, "-j", "2")
    rows = dict(line.split(",", 1) for line in gradebook(out).splitlines()[1:])
    assert rows == {"fills_disk": "graded,2.0,2.0,2.0", "hogs_memory": "graded,2.0,2.0,2.0",
                    "loops": "graded,2.0,2.0,2.0"}


def test_a_submission_over_its_time_limit_is_a_timeout_and_the_batch_goes_on(toy, tmp_path):
    folder = tmp_path / "subs"
    submission(toy, folder, "sleeps", before="import time\ntime.sleep(15)")
    submission(toy, folder, "quick")
    out = tmp_path / "out"
    run_grade(toy, folder, out, "--timeout", "12", "-j", "2")
    rows = dict(line.split(",", 1) for line in gradebook(out).splitlines()[1:])
    assert rows["sleeps"].startswith("timeout,0.0,2.0") and rows["quick"] == "graded,2.0,2.0,2.0"
    result = json.loads((out / "results" / "sleeps.json").read_text())
    assert "time limit" in result["output"]


def test_student_code_has_no_network(toy, tmp_path):
    """A server listening on the grader's loopback is out of the submission's reach: the
    submission answers right only if its connection attempt fails."""
    import socket
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        folder = tmp_path / "subs"
        submission(toy, folder, "phones_home", answer="0 if reached else 42", before=(
            "import socket\ntry:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=5).close()\n"
            "    reached = True\nexcept OSError:\n    reached = False"))
        out = tmp_path / "out"
        run_grade(toy, folder, out)
        server.settimeout(0.1)
        with pytest.raises(TimeoutError):
            server.accept()
    assert "phones_home,graded,2.0,2.0,2.0" in gradebook(out)
    assert json.loads((out / ".journal" / "phones_home.json").read_text())["result"]["network_isolated"]


@pytest.fixture(scope="module")
def dask_scheduler():
    """A local Dask cluster: one worker process with two threads, as on a course server."""
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_the_dask_executor_grades_on_the_cluster_to_the_same_gradebook(toy, batch, uninterrupted,
                                                                      dask_scheduler, tmp_path):
    out = tmp_path / "out"
    run_grade(toy, batch, out, "--executor", "dask", "--scheduler", dask_scheduler)
    assert gradebook(out) == gradebook(uninterrupted)
    workers = {json.loads(p.read_text())["result"]["worker"] for p in (out / ".journal").glob("*.json")}
    assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers), workers
    local = {json.loads(p.read_text())["result"]["worker"] for p in (uninterrupted / ".journal").glob("*.json")}
    assert local == {"local"}


def test_the_dask_executor_without_a_scheduler_says_what_is_missing(toy, batch, tmp_path):
    env = dict(os.environ, **{ASSIGNMENTS_DIR_ENV_VAR: str(toy[0])})
    done = subprocess.run(grade_command(toy, batch, tmp_path / "out", "--executor", "dask"), env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "needs --scheduler ADDRESS" in done.stderr


def test_a_failed_task_is_an_error_row_and_the_batch_goes_on(toy, batch, tmp_path, monkeypatch):
    """A worker lost or a bug in the grader: that submission gets an `error` row saying to
    grade it again, never a hole in the gradebook."""
    import autograder.grade as grade
    monkeypatch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(toy[0]))

    def broken_worker(task):
        raise ConnectionError("worker lost")
    monkeypatch.setattr(grade, "run_grading_task", broken_worker)
    run = grade.grade_submissions("toy", [batch], tmp_path / "out", dist=toy[1], jobs=2)
    assert [(r.submission, r.status) for r in run.results] == [
        ("alice", "error"), ("bob", "error"), ("carol", "error"), ("dan", "error")]
    assert "worker lost" in run.results[0].message and "grade this submission again" in run.results[0].message


def test_a_fork_bomb_is_capped_and_every_process_it_made_is_killed(toy, tmp_path):
    """The toy allows 512 tasks per submission: forking 600 sleepers fails part-way, and once
    the submission is over none of them is left, not even those that left the process group
    with setsid. The sleepers hold every task the submission may have, so what grading
    still needs cannot start either: the submission ends (here at its time limit) and the
    one beside it is graded as usual."""
    if not Path("/sys/fs/cgroup/pids").is_dir() and os.geteuid() == 0:
        pytest.skip("no pids cgroup and root ignores RLIMIT_NPROC")
    pids_file = tmp_path / "pids.txt"
    folder = tmp_path / "subs"
    submission(toy, folder, "forks", before=(
        "import os, time\npids = []\ntry:\n    for _ in range(600):\n        pid = os.fork()\n"
        "        if pid == 0:\n            os.setsid()\n            time.sleep(300)\n            os._exit(0)\n"
        f"        pids.append(pid)\nexcept OSError:\n    pass\n"
        f"open({str(pids_file)!r}, 'w').write(' '.join(map(str, pids)))"))
    submission(toy, folder, "quick")
    out = tmp_path / "out"
    run_grade(toy, folder, out, "-j", "2", "--timeout", "45")
    rows = dict(line.split(",", 1) for line in gradebook(out).splitlines()[1:])
    assert rows["quick"] == "graded,2.0,2.0,2.0"
    assert rows["forks"].split(",")[0] in ("graded", "timeout"), rows
    forked = [int(pid) for pid in pids_file.read_text().split()]
    assert 0 < len(forked) < 600
    assert not [pid for pid in forked if alive(pid)]


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie waiting for init to reap it is dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"
