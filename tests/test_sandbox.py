"""The operating-system confinement of a grading child (autograder/grade/isolation/: limits, cgroups, namespaces)."""

from __future__ import annotations

import ctypes
import encodings.idna  # noqa: F401  (loaded before the child drops to a uid that cannot read it)
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.grade.isolation.cgroups import ProcessCgroup
from autograder.grade.isolation.limits import Limits, confine
from autograder.grade.isolation.namespaces import isolate_network, network_namespace

UNPRIVILEGED = 65534  # nobody
PR_SET_DUMPABLE = 4  # a root process that drops its uid is made undumpable: /proc/self turns root-owned


def in_child(action) -> int:
    """Run ``action`` in a forked child and return its exit code (the test's own process must
    keep its namespaces)."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(action())
        except BaseException:
            os._exit(99)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def reaches(port: int) -> int:
    """0: connected to the grader's loopback server; 1: refused or unreachable."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        return 0
    except OSError:
        return 1


@pytest.fixture
def server():
    with socket.create_server(("127.0.0.1", 0)) as listening:
        yield listening.getsockname()[1]


def test_without_isolation_the_loopback_server_is_reachable(server):
    assert in_child(lambda: reaches(server)) == 0


def test_an_isolated_process_has_its_own_loopback_and_nothing_else(server):
    def isolated() -> int:
        before = network_namespace()
        if not isolate_network() or network_namespace() == before:
            return 2
        with socket.create_server(("127.0.0.1", 0)):  # its own loopback works (kernel ↔ client)
            pass
        return reaches(server)
    assert in_child(isolated) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become an unprivileged user")
def test_an_unprivileged_grader_gets_the_namespace_through_a_user_namespace(server):
    def unprivileged() -> int:
        os.setgid(UNPRIVILEGED)
        os.setuid(UNPRIVILEGED)
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1)  # as a user who logged in as nobody would be
        if not isolate_network():
            return 2
        return reaches(server) if os.geteuid() == UNPRIVILEGED else 3
    assert in_child(unprivileged) == 1


def test_limits_read_from_grading_toml_keep_defaults_for_missing_keys():
    limits = Limits.from_config({"memory_mb": 100, "network": False})
    assert (limits.memory_mb, limits.network, limits.cell_timeout) == (100, False, None)
    assert Limits.from_config({}).network is True


cgroups = pytest.mark.skipif(ProcessCgroup.create(None) is None, reason="no writable pids cgroup here")


@cgroups
def test_a_new_cgroup_does_not_remove_another_live_graders_empty_one():
    first = ProcessCgroup.create(10)
    second = ProcessCgroup.create(10)
    try:
        assert first.path.is_dir()
        assert second.path.is_dir()
        assert (first.path / "pids.max").read_text().strip() == "10"
    finally:
        first.remove()
        second.remove()
    assert not first.path.exists()
    assert not second.path.exists()


@cgroups
def test_a_cgroup_caps_forks_and_kills_what_left_the_process_group(tmp_path):
    import subprocess
    cgroup = ProcessCgroup.create(20)
    output = tmp_path / "made.txt"  # a file, not a pipe: the sleepers would hold a pipe open
    script = ("import os, time\nmade = 0\ntry:\n    for _ in range(50):\n        if os.fork() == 0:\n"
              "            os.setsid(); time.sleep(60); os._exit(0)\n        made += 1\nexcept OSError:\n    pass\n"
              "print(made, flush=True)\n")
    try:
        with output.open("w") as stream:
            subprocess.run([sys.executable, "-c", script], stdout=stream, timeout=60,
                           preexec_fn=lambda: confine(Limits(), cgroup))
        assert 0 < int(output.read_text()) < 50
        assert cgroup.members()  # the sleepers outlived the process that made them
    finally:
        cgroup.remove()
    assert not cgroup.path.exists()


# Death with the parent ----------------------------------------------------------------------
# PR_SET_PDEATHSIG fires only for a parent that ends after it is set. A grader killed in the
# window before (a fork, a change of user) would leave the process running on, unsignalled:
# the kill -9 race a CI run hit, where a kernel outlived its grader.

ORPHAN = """
import os, sys, time
sys.path.insert(0, {root!r})
from autograder.grade.isolation.limits import die_with_parent
parent = os.getpid()
if os.fork() == 0:
    while os.getppid() == parent:   # the parent ends before the signal is set
        time.sleep(0.01)
    die_with_parent(parent)
    print("outlived its parent", flush=True)
os._exit(0)
"""


def test_a_process_whose_parent_ended_before_it_asked_to_die_with_it_ends_at_once():
    # the orphan holds the pipe: run() returns once it has printed and ended, or just ended
    done = subprocess.run([sys.executable, "-c", ORPHAN.format(root=str(Path(__file__).resolve().parent.parent))],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout == "", "an orphan that asked to die with its (already ended) parent went on running"


def test_a_process_whose_parent_lives_goes_on_after_asking_to_die_with_it():
    from autograder.grade.isolation.limits import die_with_parent
    parent = os.getpid()
    assert in_child(lambda: die_with_parent(parent) or 7) == 7


def test_a_namespace_init_whose_jail_ended_before_it_asked_to_die_with_it_ends_at_once():
    """PID 1 of the kernel's namespace cannot name its parent (``getppid()`` is 0 inside): it
    reads the jail's death from a pipe only the jail held open."""
    from autograder.grade.isolation.jail import die_with_the_jail
    from autograder.grade.isolation.limits import EXIT_PARENT_GONE

    def init(jail_alive: bool) -> int:
        lifeline, held = os.pipe()
        if not jail_alive:
            os.close(held)
        die_with_the_jail(lifeline)
        return 7
    assert in_child(lambda: init(jail_alive=False)) == EXIT_PARENT_GONE
    assert in_child(lambda: init(jail_alive=True)) == 7


# cgroup v2 (the unified hierarchy) ---------------------------------------------------------

def unified_hierarchy(tmp_path):
    """A cgroup v2 root with the pids, memory and cpu controllers, or the reason there is none:
    /sys/fs/cgroup where the machine uses v2, else a fresh cgroup2 mount (which gets only the
    controllers no v1 hierarchy holds)."""
    from autograder.grade.isolation.cgroups import V2_CONTROLLERS
    root = Path("/sys/fs/cgroup")
    if not (root / "cgroup.controllers").exists():
        root = tmp_path / "unified"
        root.mkdir()
        if os.geteuid() != 0 or os.system(f"mount -t cgroup2 none {root} 2>/dev/null") != 0:
            return None, "cannot mount a cgroup2 hierarchy here"
    missing = [name for name in V2_CONTROLLERS if name not in (root / "cgroup.controllers").read_text().split()]
    if missing:
        if root != Path("/sys/fs/cgroup"):
            os.system(f"umount {root}")
        return None, (f"the {', '.join(missing)} controller(s) are bound to cgroup v1 hierarchies on this "
                      "machine, so a cgroup v2 hierarchy cannot have them")
    return root, ""


@pytest.fixture
def v2_root(tmp_path):
    root, reason = unified_hierarchy(tmp_path)
    if root is None:
        pytest.skip(reason)
    yield root
    if root != Path("/sys/fs/cgroup"):
        os.system(f"umount -l {root}")


def run_in_cgroup(cgroup, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], preexec_fn=cgroup.join if cgroup else None,
                          capture_output=True, text=True, timeout=120)


FORK_COUNT = ("import os, time\nn = 0\ntry:\n    for _ in range(200):\n        if os.fork() == 0:\n"
              "            time.sleep(5)\n            os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(n)\n")
HOG = "hog = bytearray(400 << 20)\nfor i in range(0, len(hog), 4096):\n    hog[i] = 1\nprint('survived')\n"
SPIN = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        t = time.time()\n"
        "        while time.time() - t < 3:\n            pass\n        os._exit(0)\nfor _ in range(3):\n    os.wait()\n")


@pytest.mark.parametrize("limited", [True, False], ids=["with limits", "without (the test can fail)"])
def test_cgroup_v2_limits_hold(v2_root, limited):
    """pids.max caps forks, memory.max kills a hog, cpu.max keeps three spinning processes to a
    fifth of a core; without the limits the same children go past each."""
    cgroup = ProcessCgroup.create(50 if limited else None, memory_mb=200 if limited else None,
                                  cpus=0.2 if limited else None, roots=(v2_root,))
    assert cgroup is not None
    assert cgroup.path.is_relative_to(v2_root)
    try:
        forks = int(run_in_cgroup(cgroup, FORK_COUNT).stdout.strip() or 0)
        hog = run_in_cgroup(cgroup, HOG)
        before = int(dict(line.split() for line in (cgroup.path / "cpu.stat").read_text().splitlines())["usage_usec"])
        started = time.monotonic()
        run_in_cgroup(cgroup, SPIN)
        used = (int(dict(line.split() for line in (cgroup.path / "cpu.stat").read_text().splitlines())["usage_usec"])
                - before) / 1e6 / (time.monotonic() - started)
    finally:
        cgroup.remove()
    if limited:
        assert forks < 50, (forks, hog.returncode, used)
        assert "survived" not in hog.stdout, (forks, hog.returncode, used)
        assert used < 0.4, (forks, hog.returncode, used)
    else:
        assert forks == 200, (forks, hog.returncode, used)
        assert "survived" in hog.stdout, (forks, hog.returncode, used)
        assert used > 1.0, (forks, hog.returncode, used)


@pytest.mark.skipif(os.geteuid() != 0, reason="makes IPC objects as another user")
@pytest.mark.parametrize("grader", ["root", "root without CAP_SYS_ADMIN"])
def test_ipc_objects_a_kernel_user_made_are_removed_after_it(grader):
    """Where the kernel gets no IPC namespace (a system that refuses namespaces), what its user
    made would outlive it in the grader's namespace: removed by owner after grading, also by a
    grader without CAP_SYS_ADMIN (a container), which removing another user's objects needs."""
    import ctypes
    libc, user, keys = ctypes.CDLL(None, use_errno=True), 4_000_321, (0x5EED0101, 0x5EED0102, 0x5EED0103)
    child = os.fork()
    if child == 0:
        os.setresgid(user, user, user)
        os.setresuid(user, user, user)
        made = [libc.msgget(keys[0], 0o1600), libc.shmget(keys[1], 4096, 0o1600), libc.semget(keys[2], 1, 0o1600)]
        os._exit(0 if min(made) >= 0 else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0

    def left() -> set[int]:
        return {int(line.split()[0]) for kind in ("msg", "shm", "sem")
                for line in open(f"/proc/sysvipc/{kind}").read().splitlines()[1:]} & set(keys)
    assert left() == set(keys)
    prefix = ["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin", "--"] if grader != "root" else []
    removed = subprocess.run([*prefix, sys.executable, "-c", "from autograder.grade.isolation.namespaces import remove_ipc_of; "
                              f"print(remove_ipc_of({user}))"], capture_output=True, text=True, check=True)
    assert removed.stdout.strip() == "3", removed
    assert left() == set(), removed
