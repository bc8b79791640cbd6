"""The view the split runner's kernel runs in (autograder/grade/jail.py): each test runs a
small probe script through the jail and checks one thing it must not reach or must keep."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.config import PACKAGE_DIR
from autograder.grade.jail import EXIT_VIEW_FAILED, isolation_of, view_config
from autograder.grade.student_kernel import jail_command

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the view is built as root here")

STUDENT_UID = 1_234_567

PROBE = r'''
import ctypes, json, os, sys
def can(action):
    try:
        action()
        return True
    except OSError:
        return False
def status(field):
    return next(l.split()[1] for l in open("/proc/self/status") if l.startswith(field + ":"))
libc = ctypes.CDLL(None, use_errno=True)
print(json.dumps({
    "uid": os.getuid(),
    "cap_eff": status("CapEff"), "cap_bnd": status("CapBnd"), "no_new_privs": status("NoNewPrivs"),
    "cwd": os.getcwd(), "cwd_files": sorted(os.listdir(".")),
    "secret": [p for p in sys.argv[1:] if os.path.exists(p)],
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "write_cwd": can(lambda: open("mine.txt", "w").write("x")),
    "write_tmp": can(lambda: open("/tmp/mine.txt", "w").write("x")),
    "write_etc": can(lambda: open("/etc/hostname", "a").close()),
    "write_python": can(lambda: open(os.path.join(sys.prefix, "pwned"), "w").close()),
    "umount_tmp": libc.umount2(b"/tmp", 2) == 0,
    "remount_root": libc.mount(None, b"/", None, 32, None) == 0,
    "sysrq": can(lambda: open("/proc/sysrq-trigger", "w").write("")),
    "import_numpy": __import__("numpy").__version__ != "",
}))
'''


def run_jailed(workdir: Path, root: Path, *secrets: Path, readable: tuple[Path, ...] = (),
               disk_mb: int = 16) -> subprocess.CompletedProcess:
    config = {"limits": {}, "cgroup": None,
              "view": view_config(root, workdir, disk_mb, STUDENT_UID, [str(p) for p in readable])}
    return subprocess.run(jail_command(config, [sys.executable, "-c", PROBE, *map(str, secrets)]),
                          capture_output=True, text=True, timeout=60, cwd=workdir)


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    base = tmp_path_factory.mktemp("jail")
    workdir, root = base / "work", base / "root"
    workdir.mkdir()
    (workdir / "notebook.ipynb").write_text("{}")
    secret = base / "judge" / "expected.json"  # beside the workdir, as the judge's files are
    secret.parent.mkdir()
    secret.write_text('{"answer": 42}')
    shared = base / "shared" / "mnist.npz"  # a path it may read, below /tmp as a checkout may be
    shared.parent.mkdir()
    shared.write_text("digits")
    repo = PACKAGE_DIR.parent
    done = run_jailed(workdir, root, secret, PACKAGE_DIR / "checks", repo / "assignments", repo / "solutions",
                      repo / "tests", Path("/tmp"), shared, readable=(shared,))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), workdir, secret


def test_the_command_runs_in_its_folder_with_its_files(seen):
    facts, workdir, _ = seen
    assert facts["cwd"] == str(workdir) and "notebook.ipynb" in facts["cwd_files"]
    assert facts["write_cwd"] and facts["import_numpy"]


def test_nothing_of_the_grader_or_the_machine_is_visible(seen):
    facts, workdir, secret = seen
    shared = str(workdir.parent / "shared" / "mnist.npz")
    assert facts["secret"] == ["/tmp", shared], "only its own /tmp and what it may read may exist"
    assert not secret.with_name("mine.txt").exists()


def test_the_graders_processes_are_not_visible(seen):
    assert seen[0]["pids"] == [1, 2]


def test_it_runs_as_a_user_of_its_own_without_capabilities(seen):
    facts = seen[0]
    assert facts["uid"] == STUDENT_UID
    assert (int(facts["cap_eff"], 16), int(facts["cap_bnd"], 16), facts["no_new_privs"]) == (0, 0, "1")


def test_it_cannot_undo_the_view_or_write_the_system(seen):
    facts = seen[0]
    assert facts["write_tmp"]
    assert not any(facts[key] for key in ("write_etc", "write_python", "umount_tmp", "remount_root", "sysrq"))


def test_writes_stay_in_the_view(seen):
    _, workdir, _ = seen
    assert (workdir / "mine.txt").read_text() == "x"  # the folder is the real one, shared with the grader
    assert not Path("/tmp/mine.txt").exists()


def test_tmp_is_bounded(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    fill = "open('/tmp/big', 'wb').write(b'x' * (64 << 20))"
    config = {"limits": {}, "cgroup": None, "view": view_config(tmp_path / "root", workdir, 16, STUDENT_UID, [])}
    done = subprocess.run(jail_command(config, [sys.executable, "-c", fill]),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "No space left on device" in done.stderr


def test_a_view_that_cannot_be_built_stops_the_command(tmp_path):
    config = {"limits": {}, "cgroup": None,
              "view": view_config(tmp_path / "root", tmp_path / "missing" / "work", 16, STUDENT_UID, [])}
    done = subprocess.run(jail_command(config, [sys.executable, "-c", "print('ran')"]),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_VIEW_FAILED and "ran" not in done.stdout
    assert "jail:" in done.stderr


def test_where_namespaces_are_refused_it_still_runs_as_its_own_user_without_capabilities(tmp_path):
    """As in a container that forbids namespaces (Gradescope's may): no view, but the user
    drop still hides every file kept in a folder only root may enter."""
    workdir, private = Path(tempfile.mkdtemp(prefix="student-")), tmp_path / "judge"  # as the judge makes them
    private.mkdir(mode=0o700)
    (private / "expected.json").write_text("42")
    view = view_config(tmp_path / "root", workdir, 16, STUDENT_UID, [], namespaces=False)
    script = f"id -u; grep CapEff /proc/self/status; cat {private / 'expected.json'}; pwd"
    done = subprocess.run(jail_command({"limits": {}, "cgroup": None, "view": view}, ["/bin/sh", "-c", script]),
                          capture_output=True, text=True, timeout=60)
    uid, caps, where = done.stdout.split("\n")[:3]
    assert (int(uid), caps.split()[1], where) == (STUDENT_UID, "0000000000000000", str(workdir))
    assert "42" not in done.stdout and "Permission denied" in done.stderr
    assert "without a private view" in done.stderr
    shutil.rmtree(workdir)


@pytest.mark.parametrize("namespaces, expected", [(True, "view"), (False, "user")])
def test_the_isolation_a_command_got_is_read_from_outside(tmp_path, namespaces, expected):
    workdir = Path(tempfile.mkdtemp(prefix="student-"))
    view = view_config(tmp_path / "root", workdir, 16, STUDENT_UID, [], namespaces=namespaces)
    jailed = subprocess.Popen(jail_command({"limits": {}, "cgroup": None, "view": view},
                                           ["/bin/sh", "-c", "touch started; sleep 30"]), stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if (workdir / "started").exists():
                break
            time.sleep(0.05)
        assert isolation_of(jailed.pid) == expected
    finally:
        jailed.kill()
        jailed.wait()
        shutil.rmtree(workdir)
    assert isolation_of(os.getpid()) == "none"


def test_nothing_in_the_view_outlives_a_starter_killed_with_9(tmp_path):
    """The starter (the judge) killed with -9: the jail dies with it, its init with the jail
    (set again after the user change, which clears it), and the namespace with its init."""
    marker = "3007.5"
    config = {"limits": {}, "cgroup": None, "view": view_config(tmp_path / "root", tmp_path, 16, STUDENT_UID, [])}
    starter = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        f"subprocess.Popen({jail_command(config, ['/bin/sleep', marker])!r})\n"
        "time.sleep(300)\n")])

    def sleepers() -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and open(f"/proc/{entry}/cmdline").read() == f"/bin/sleep\0{marker}\0":
                    found.append(int(entry))
            except OSError:
                continue
        return found
    for _ in range(200):
        if sleepers():
            break
        time.sleep(0.05)
    assert sleepers(), "the jailed command never started"
    starter.kill()
    starter.wait()
    for _ in range(100):
        if not sleepers():
            break
        time.sleep(0.05)
    assert sleepers() == []


def test_a_jail_whose_starter_already_ended_runs_nothing(tmp_path):
    """CONFIG's ``parent`` is the process that starts the jail; a jail that finds another
    parent (its starter was killed before the jail could ask to die with it) ends at once."""
    from autograder.grade.sandbox import EXIT_PARENT_GONE
    config = {"limits": {}, "cgroup": None, "view": view_config(tmp_path / "root", tmp_path, 16, STUDENT_UID, [])}
    ended = subprocess.Popen(["/bin/true"])
    ended.wait()  # the starter CONFIG names: ended, so the jail's parent is another process
    ran = subprocess.run(jail_command({**config, "parent": ended.pid}, ["/bin/echo", "ran"]),
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert (ran.returncode, ran.stdout) == (EXIT_PARENT_GONE, ""), ran
    ran = subprocess.run(jail_command({**config, "parent": os.getpid()}, ["/bin/echo", "ran"]),
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert ran.stdout == "ran\n", ran
