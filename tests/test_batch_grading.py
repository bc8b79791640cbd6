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
from helpers import killed_graders_temp

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


def run_grade(toy, folder: Path, out: Path, *extra: str, core: int | None = None) -> str:
    """``autograder grade`` on the toy; ``core``: the grader and all it starts run on that core only."""
    env = dict(os.environ, **{ASSIGNMENTS_DIR_ENV_VAR: str(toy[0])})
    pin = (lambda: os.sched_setaffinity(0, {core})) if core is not None else None
    done = subprocess.run(grade_command(toy, folder, out, *extra), env=env, capture_output=True,
                          text=True, timeout=600, preexec_fn=pin)
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
    env = dict(os.environ, **{ASSIGNMENTS_DIR_ENV_VAR: str(toy[0])}, **killed_graders_temp(tmp_path))
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
    # every record the kill left is whole (written to a temporary name, then renamed)
    assert all(json.loads((journal / name).read_text())["result"] for name in recorded)

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
    # the loop is stopped after 10 s of CPU time (the toy's limit), which a loaded machine takes longer to give:
    # the submission's own wall-clock limit is a safety net sized for that (--timeout)
    run_grade(toy, folder, out, "-j", "2", "--timeout", "600")
    rows = dict(line.split(",", 1) for line in gradebook(out).splitlines()[1:])
    assert rows == {"fills_disk": "graded,2.0,2.0,2.0", "hogs_memory": "graded,2.0,2.0,2.0",
                    "loops": "graded,2.0,2.0,2.0"}


def test_a_submission_over_its_time_limit_is_a_timeout_and_the_batch_goes_on(toy, tmp_path):
    folder = tmp_path / "subs"
    submission(toy, folder, "sleeps", before="import time\ntime.sleep(3600)")
    submission(toy, folder, "quick")
    out = tmp_path / "out"
    # 45 s: room for "quick" when the machine is busy (the suite runs two workers, and a toy
    # notebook through the Otter runner took over 20 s on 2 saturated cores); "sleeps" waits
    # without using a core
    run_grade(toy, folder, out, "--timeout", "45", "-j", "2")
    rows = dict(line.split(",", 1) for line in gradebook(out).splitlines()[1:])
    assert rows["sleeps"].startswith("timeout,0.0,2.0")
    assert rows["quick"] == "graded,2.0,2.0,2.0"
    result = json.loads((out / "results" / "sleeps.json").read_text())
    assert "time limit" in result["output"]


@pytest.fixture(scope="module")
def toy_with_a_short_cell_limit(tmp_path_factory):
    """The toy with a per-cell limit of CPU_LIMIT seconds: (assignments dir, dist dir, solutions)."""
    from autograder.build import build_assignment
    root = tmp_path_factory.mktemp("toy_cpu_limit")
    shutil.copytree(FIXTURES / "toy", root / "assignments" / "toy")
    settings = root / "assignments" / "toy" / "grading.toml"
    settings.write_text(settings.read_text().replace("cell_timeout = 10", f"cell_timeout = {CPU_LIMIT}"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(root / "assignments"))
        built = build_assignment("toy", root / "dist", verify=False)
    return root / "assignments", root / "dist", built.solutions_notebook


CPU_LIMIT = 6
COPIES = 3  # graded at once on the one busy core
# a third of the limit of computing, measured as the limit measures it, whatever the machine's speed
BURN_A_THIRD = ("import time\n_t = time.process_time()\nwhile time.process_time() - _t < "
                f"{CPU_LIMIT / 3}:\n    pass\nburned = True")


def test_correct_notebooks_graded_beyond_the_cores_on_a_busy_machine_keep_every_point(
        toy_with_a_short_cell_limit, busy_core, tmp_path):
    """Three copies of a correct notebook whose cell computes for a third of the cell limit,
    graded three at a time on one core beside three spinning processes (the grader pinned
    there, ``busy_core``): each cell gets at most a quarter of the core, so it waits far longer
    than the limit, but the limit counts CPU time, so every copy keeps its points and no cell is
    interrupted (its answer exists only if the cell ran to its end). Checked once with the
    answer given only by a cell that took more than CPU_LIMIT seconds of wall time: all three
    kept their points (2026-12-08)."""
    folder = tmp_path / "subs"
    for copy in range(COPIES):
        submission(toy_with_a_short_cell_limit, folder, f"copy{copy}", answer="42 if burned else 0",
                   before=BURN_A_THIRD)
    out = tmp_path / "out"
    started = time.monotonic()
    # the submission's own limit is wall time, a safety net sized for the machine (--timeout)
    run_grade(toy_with_a_short_cell_limit, folder, out, "-j", str(COPIES), "--timeout", "900", core=busy_core)
    waited = time.monotonic() - started
    rows = dict(line.split(",", 1) for line in gradebook(out).splitlines()[1:])
    assert rows == {f"copy{copy}": "graded,2.0,2.0,2.0" for copy in range(COPIES)}, rows
    for copy in range(COPIES):
        output = json.loads((out / "results" / f"copy{copy}.json").read_text())["output"]
        assert "KeyboardInterrupt" not in output, output[-2000:]
        assert "interrupted" not in output, output[-2000:]
    # not a speed assertion: the load did what the test needs only if the batch outlasted a
    # wall-clock limit; on a machine too fast for that the test proves less but still holds
    if waited <= CPU_LIMIT:
        pytest.skip(f"the batch took {waited:.0f} s; no cell could have crossed a wall-clock limit")


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
    assert workers, workers
    assert all(w.startswith("tcp://127.0.0.1:") for w in workers), workers
    local = {json.loads(p.read_text())["result"]["worker"] for p in (uninterrupted / ".journal").glob("*.json")}
    assert local == {"local"}


def test_the_dask_executor_without_a_scheduler_says_what_is_missing(toy, batch, tmp_path):
    env = dict(os.environ, **{ASSIGNMENTS_DIR_ENV_VAR: str(toy[0])})
    done = subprocess.run(grade_command(toy, batch, tmp_path / "out", "--executor", "dask"), env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "needs --scheduler ADDRESS" in done.stderr


def test_a_failed_task_is_an_error_row_and_the_batch_goes_on(toy, batch, tmp_path, monkeypatch):
    """A worker lost or a bug in the grader: that submission gets an `error` row saying to
    grade it again, never a hole in the gradebook."""
    import autograder.batch as batch_module
    monkeypatch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(toy[0]))

    def broken_worker(task):
        raise ConnectionError("worker lost")
    monkeypatch.setattr(batch_module, "run_grading_task", broken_worker)
    run = batch_module.grade_submissions("toy", [batch], tmp_path / "out", dist=toy[1], jobs=2)
    assert [(r.submission, r.status) for r in run.results] == [
        ("alice", "error"), ("bob", "error"), ("carol", "error"), ("dan", "error")]
    assert "worker lost" in run.results[0].message
    assert "grade this submission again" in run.results[0].message


def test_a_fork_bomb_is_capped_and_every_process_it_made_is_killed(toy, tmp_path):
    """The toy allows 512 tasks per submission: starting 600 sleepers fails part-way, and once
    the submission is over none of them is left, not even those that left the process group
    with setsid. The sleepers hold every task the submission may have, so what grading
    still needs cannot start either: the submission ends (here at its time limit) and the
    one beside it is graded as usual.

    The sleepers are spawned (``posix_spawn``, a vfork) rather than forked: forking copies the
    kernel's page tables 512 times, which on a loaded machine used the toy's whole 10 CPU-s cell
    limit before the cap was reached, so the test could not see the cap it is about. Each PID is
    written as it starts, and "capped" once a start is refused."""
    if not Path("/sys/fs/cgroup/pids").is_dir() and os.geteuid() == 0:
        pytest.skip("no pids cgroup and root ignores RLIMIT_NPROC")
    pids_file = tmp_path / "pids.txt"
    folder = tmp_path / "subs"
    submission(toy, folder, "forks", before=(
        f"import os\nrecord = open({str(pids_file)!r}, 'w', buffering=1)\ntry:\n"
        "    for _ in range(600):\n"
        "        pid = os.posix_spawn('/bin/sleep', ['sleep', '300'], os.environ, setsid=True)\n"
        "        record.write(f'{pid}\\n')\n"
        "except OSError:\n    record.write('capped\\n')\nrecord.close()"))
    submission(toy, folder, "quick")
    out = tmp_path / "out"
    run_grade(toy, folder, out, "-j", "2", "--timeout", "25")
    rows = dict(line.split(",", 1) for line in gradebook(out).splitlines()[1:])
    assert rows["quick"] == "graded,2.0,2.0,2.0"
    assert rows["forks"].split(",")[0] in ("graded", "timeout"), rows
    lines = pids_file.read_text().split()
    assert lines[-1] == "capped", f"the sleepers were not refused a task: {len(lines)} started"
    forked = [int(pid) for pid in lines[:-1]]
    assert 0 < len(forked) < 600
    assert not [pid for pid in forked if alive(pid)]


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie waiting for init to reap it is dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


# Faults around the grader ----------------------------------------------------------------------

def grading_children_of(pid: int) -> list[int]:
    """Processes still in the cgroups a grader with this PID made (named after it)."""
    from autograder.grade.isolation.cgroups import CGROUP_PARENT, CGROUP_ROOTS
    members = []
    for root in CGROUP_ROOTS:
        for cgroup in (root / CGROUP_PARENT).glob(f"{pid}-*"):
            try:
                members += [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
            except OSError:
                continue
    return members


def start_grader(toy, folder: Path, out: Path, *extra: str) -> subprocess.Popen:
    """The grader as a terminal starts it: with Ctrl-C's SIGINT not ignored, even when the suite
    itself runs where it is (a shell's background job, which would make the grader ignore it)."""
    env = dict(os.environ, **{ASSIGNMENTS_DIR_ENV_VAR: str(toy[0])})
    return subprocess.Popen(grade_command(toy, folder, out, *extra), env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_journal(out: Path, count: int = 1, seconds: float = 300) -> list[str]:
    journal = out / ".journal"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        recorded = sorted(p.name for p in journal.glob("*.json")) if journal.exists() else []
        if len(recorded) >= count:
            return recorded
        time.sleep(0.1)
    raise AssertionError(f"no {count} journal record(s) in {seconds} s")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_every_process_keeps_the_journal_and_the_command_resumes(
        toy, batch, uninterrupted, tmp_path, stop):
    out = tmp_path / "out"
    grader = start_grader(toy, batch, out, "-j", "2")
    wait_for_journal(out)
    grader.send_signal(stop)
    _, stderr = grader.communicate(timeout=30)
    assert grader.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr
    assert "Run the same command again" in stderr
    assert "Traceback" not in stderr
    assert grading_children_of(grader.pid) == []
    recorded = list((out / ".journal").glob("*.json"))
    assert 1 <= len(recorded) < 4
    assert all(json.loads(p.read_text())["result"] for p in recorded)
    output = run_grade(toy, batch, out, "-j", "2")
    assert f"{len(recorded)} kept from an earlier run" in output
    assert gradebook(out) == gradebook(uninterrupted)


def test_a_second_grader_on_the_same_out_folder_is_refused_with_a_clear_message(toy, batch, uninterrupted,
                                                                                tmp_path):
    out = tmp_path / "out"
    first = start_grader(toy, batch, out, "-j", "1")
    try:
        deadline = time.monotonic() + 60
        while not (out / ".autograder.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        env = dict(os.environ, **{ASSIGNMENTS_DIR_ENV_VAR: str(toy[0])})
        second = subprocess.run(grade_command(toy, batch, out), env=env, capture_output=True, text=True,
                                timeout=120)
        assert first.poll() is None, "the first batch ended before the second started: nothing was tested"
        assert second.returncode == 1
        assert "another `autograder grade` is writing to" in second.stderr
        assert f"pid {first.pid}" in second.stderr
    finally:
        first.communicate(timeout=300)
    assert first.returncode == 0
    assert gradebook(out) == gradebook(uninterrupted)


def test_a_journal_record_truncated_by_another_tool_is_graded_again(toy, batch, uninterrupted, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(uninterrupted, out)
    record = out / ".journal" / "bob.json"
    record.write_text(record.read_text()[: len(record.read_text()) // 2])
    output = run_grade(toy, batch, out)
    assert "3 kept from an earlier run" in output
    assert gradebook(out) == gradebook(uninterrupted)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="mounts a small disk as root")
def test_a_full_output_disk_stops_the_batch_with_a_clear_message_and_loses_nothing(toy, batch, uninterrupted,
                                                                                  tmp_path):
    """The output folder is a 1 MiB disk left with room for about one result: the grader stops
    at the first write that fails, says so, and the same command finishes once there is room."""
    out, saved = tmp_path / "out", tmp_path / "saved"
    out.mkdir()
    command = " ".join(f"'{part}'" for part in grade_command(toy, batch, out, "-j", "1"))
    script = (f"mount -t tmpfs -o size=1m tmpfs {out} && "
              f"head -c $(( (1024 - 12) * 1024 )) /dev/zero > {out}/filler; "
              f"{command} 2> {tmp_path}/first.err; echo $? > {tmp_path}/first.status; "
              f"cp -a {out}/.journal {saved} 2>/dev/null; rm {out}/filler; "
              f"{command} > {tmp_path}/second.out 2> {tmp_path}/second.err; echo $? > {tmp_path}/second.status; "
              f"cp -a {out}/. {saved}-after")
    env = dict(os.environ, **{ASSIGNMENTS_DIR_ENV_VAR: str(toy[0])})
    subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], env=env,
                   timeout=600, check=True)
    first_error = (tmp_path / "first.err").read_text()
    assert (tmp_path / "first.status").read_text().strip() == "1", first_error[-2000:]
    assert "No space left on device" in first_error
    assert "run the same command again" in first_error
    assert "Traceback" not in first_error
    kept = sorted(p.name for p in saved.glob("*.json")) if saved.exists() else []
    assert all(json.loads((saved / name).read_text())["result"] for name in kept)
    assert (tmp_path / "second.status").read_text().strip() == "0", (tmp_path / "second.err").read_text()[-2000:]
    assert f"{len(kept)} result(s) are saved" in first_error
    second = (tmp_path / "second.out").read_text()
    assert (f"{len(kept)} kept from an earlier run" in second) if kept else ("kept from" not in second), second
    assert (Path(f"{saved}-after") / "gradebook.csv").read_text() == gradebook(uninterrupted)


def test_a_submission_that_vanishes_after_intake_is_an_invalid_row_saying_so(toy, batch, tmp_path, monkeypatch):
    import autograder.batch as batch_module
    monkeypatch.setenv(ASSIGNMENTS_DIR_ENV_VAR, str(toy[0]))
    folder = tmp_path / "subs"
    shutil.copytree(batch, folder)
    collect = batch_module.collect_submissions

    def collect_then_remove_bob(paths, assignment):
        found = collect(paths, assignment)
        (folder / "bob.ipynb").unlink()  # as a TA's sync tool might, while the batch starts
        return found
    monkeypatch.setattr(batch_module, "collect_submissions", collect_then_remove_bob)
    run = batch_module.grade_submissions("toy", [folder], tmp_path / "out", dist=toy[1], jobs=2)
    statuses = {r.submission: (r.status, r.message) for r in run.results}
    assert statuses["bob"][0] == "invalid"
    assert "while the batch ran" in statuses["bob"][1]
    assert {name: status for name, (status, _) in statuses.items() if name != "bob"} == {
        "alice": "graded", "carol": "graded", "dan": "graded"}


def test_a_dask_worker_killed_mid_task_costs_nothing(toy, batch, uninterrupted, tmp_path):
    """The worker process dies while it grades: Dask's nanny starts it again and the task is
    run again there (or, past Dask's retries, becomes an error row that says to grade again)."""
    from distributed import Client, LocalCluster
    out = tmp_path / "out"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster.scheduler_address) as client:
            [worker_pid] = client.run(os.getpid).values()
        grader = start_grader(toy, batch, out, "--executor", "dask", "--scheduler", cluster.scheduler_address)
        deadline = time.monotonic() + 120
        while not any(child for child in _children(worker_pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _children(worker_pid), "the worker never started grading"
        os.kill(worker_pid, signal.SIGKILL)
        _, stderr = grader.communicate(timeout=600)
    assert grader.returncode == 0, stderr[-2000:]
    rows = gradebook(out).splitlines()
    print("after the kill:", rows)  # which of the two outcomes this run took
    assert len(rows) == 5
    if gradebook(out) != gradebook(uninterrupted):  # a task past Dask's retries: an error row, then resumed
        assert all(",error," in row or row in gradebook(uninterrupted) for row in rows[1:])
        run_grade(toy, batch, out, "--force")
        assert gradebook(out) == gradebook(uninterrupted)


def _children(pid: int) -> list[int]:
    """Children of any of the process's threads (a worker thread starts the grading child)."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return children
