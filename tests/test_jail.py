"""The view the split runner's kernel runs in (autograder/grade/isolation/jail.py): each test runs a
small probe script through the jail and checks one thing it must not reach or must keep."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import platforms
import pytest

from autograder.config import PACKAGE_DIR
from autograder.grade.isolation.jail import EXIT_VIEW_FAILED, JailSettings, isolation_of, view_config
from autograder.grade.isolation.seccomp import seccomp_filtered
from autograder.grade.kernel.student_kernel import JAIL_LAUNCHER, jail_command

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
    config = JailSettings(view=view_config(root, workdir, disk_mb, STUDENT_UID, [str(p) for p in readable]))
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
    assert facts["cwd"] == str(workdir)
    assert "notebook.ipynb" in facts["cwd_files"]
    assert facts["write_cwd"]
    assert facts["import_numpy"]


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
    config = JailSettings(view=view_config(tmp_path / "root", workdir, 16, STUDENT_UID, []))
    done = subprocess.run(jail_command(config, [sys.executable, "-c", fill]),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "No space left on device" in done.stderr


def test_a_view_that_cannot_be_built_stops_the_command(tmp_path):
    config = JailSettings(view=view_config(tmp_path / "root", tmp_path / "missing" / "work", 16, STUDENT_UID, []))
    done = subprocess.run(jail_command(config, [sys.executable, "-c", "print('ran')"]),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_VIEW_FAILED
    assert "ran" not in done.stdout
    assert "jail:" in done.stderr


def test_where_namespaces_are_refused_it_still_runs_as_its_own_user_without_capabilities(tmp_path):
    """As in a container that forbids namespaces (Gradescope's may): no view, but the user
    drop still hides every file kept in a folder only root may enter."""
    workdir, private = Path(tempfile.mkdtemp(prefix="student-")), tmp_path / "judge"  # as the judge makes them
    private.mkdir(mode=0o700)
    (private / "expected.json").write_text("42")
    view = view_config(tmp_path / "root", workdir, 16, STUDENT_UID, [], namespaces=False)
    script = f"id -u; grep CapEff /proc/self/status; cat {private / 'expected.json'}; pwd"
    done = subprocess.run(jail_command(JailSettings(view=view), ["/bin/sh", "-c", script]),
                          capture_output=True, text=True, timeout=60)
    uid, caps, where = done.stdout.split("\n")[:3]
    assert (int(uid), caps.split()[1], where) == (STUDENT_UID, "0000000000000000", str(workdir))
    assert "42" not in done.stdout
    assert "Permission denied" in done.stderr
    assert "without a private view" in done.stderr
    shutil.rmtree(workdir)


@pytest.mark.parametrize(("namespaces", "expected"), [(True, "view"), (False, "user")])
def test_the_isolation_a_command_got_is_read_from_outside(tmp_path, namespaces, expected):
    workdir = Path(tempfile.mkdtemp(prefix="student-"))
    view = view_config(tmp_path / "root", workdir, 16, STUDENT_UID, [], namespaces=namespaces)
    jailed = subprocess.Popen(jail_command(JailSettings(view=view),
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
    config = JailSettings(view=view_config(tmp_path / "root", tmp_path, 16, STUDENT_UID, []))
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
    from autograder.grade.isolation.limits import EXIT_PARENT_GONE
    config = JailSettings(view=view_config(tmp_path / "root", tmp_path, 16, STUDENT_UID, []))
    ended = subprocess.Popen(["/bin/true"])
    ended.wait()  # the starter CONFIG names: ended, so the jail's parent is another process
    ran = subprocess.run(jail_command(replace(config, parent=ended.pid), ["/bin/echo", "ran"]),
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert (ran.returncode, ran.stdout) == (EXIT_PARENT_GONE, ""), ran
    ran = subprocess.run(jail_command(replace(config, parent=os.getpid()), ["/bin/echo", "ran"]),
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert ran.stdout == "ran\n", ran


# The seccomp filter (autograder/grade/isolation/seccomp.py) ----------------------------------------------

SECCOMP_PROBE = r'''
import ctypes, json, os, subprocess, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
NUMBERS = {"x86_64": {"clone": 56, "clone3": 435, "keyctl": 250},
           "aarch64": {"clone": 220, "clone3": 435, "keyctl": 219}}[os.uname().machine]
CLONE_NEWUSER, SIGCHLD = 0x10000000, 17
def error(result):
    return ctypes.get_errno() if result == -1 else 0
def in_child(action):
    child = os.fork()
    if child == 0:
        os._exit(action())
    return os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
def clone_newuser():
    child = libc.syscall(NUMBERS["clone"], CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)
    if child == 0:
        os._exit(0)
    if child > 0:
        os.waitpid(child, 0)
    return error(child)
ran = []
thread = threading.Thread(target=lambda: ran.append("thread"))
thread.start()
thread.join()
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({
    "unshare": in_child(lambda: error(libc.unshare(CLONE_NEWUSER))),
    "clone_newuser": clone_newuser(),
    "clone3": error(libc.syscall(NUMBERS["clone3"], 0, 0)),
    "mount": error(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
    "ptrace": in_child(lambda: error(libc.ptrace(0, 0, None, None))),  # PTRACE_TRACEME
    "keyctl": error(libc.syscall(NUMBERS["keyctl"], 0, -3, 0)),  # the session keyring's id
    "personality": error(libc.personality(ctypes.c_ulong(0x0400000))),  # READ_IMPLIES_EXEC
    "personality_query": error(libc.personality(ctypes.c_ulong(0xFFFFFFFF))),
    "personality_default": error(libc.personality(ctypes.c_ulong(0))),
    "fork": in_child(lambda: 7),
    "thread": ran == ["thread"],
    "subprocess": subprocess.run([sys.executable, "-c", "pass"]).returncode,
    "seccomp": status["Seccomp"].strip(), "filters": status.get("Seccomp_filters", "").strip(),
    "outer_filters": sys.argv[1],
}))
'''
SECCOMP_PLATFORMS = ["root", "root without namespaces", "setpriv", "docker default", "ordinary user",
                     "ordinary user without namespaces"]
WITHOUT_NAMESPACES = ("root without namespaces", "ordinary user without namespaces")  # as where they are refused
NO_VIEW = (*WITHOUT_NAMESPACES, "docker default")


@pytest.fixture(scope="module")
def standalone() -> Iterator[tuple[str, Path]]:
    """Debian's Python with this checkout's packages and a copy of the grader, where other
    users may reach them (this one's is below /root): its python and the copy's folder."""
    reason = platforms.standalone_python_available()
    if reason:
        pytest.skip(reason)
    folder = platforms.open_folder("seccomp-env")
    yield str(platforms.standalone_python(folder)), folder / "course"
    shutil.rmtree(folder, ignore_errors=True)


def _seccomp_probe(platform: str, base: Path, request: pytest.FixtureRequest) -> dict:
    """SECCOMP_PROBE's facts, run through the jail on ``platform`` (tests/platforms.py)."""
    if platform == "docker default" and not platforms.docker_default_supported():
        pytest.skip("tests/platforms.py reproduces Docker's filter on x86_64, as root with CAP_SYS_ADMIN")
    workdir, uid = base / "work", STUDENT_UID
    workdir.mkdir()
    python, package = sys.executable, PACKAGE_DIR.parent
    if platform in NO_VIEW or platform.startswith("ordinary user"):  # this Python, below /root, is out of reach
        python, package = request.getfixturevalue("standalone")
    wrap = {"setpriv": platforms.setpriv_container, "docker default": platforms.docker_default}.get(
        platform, lambda command: command)
    if platform.startswith("ordinary user"):
        ta_uid, ta_gid = platforms.ordinary_user()
        for folder in (base, workdir):
            os.chown(folder, ta_uid, ta_gid)
        wrap = lambda command: ["setpriv", f"--reuid={ta_uid}", f"--regid={ta_gid}", "--clear-groups", "--", *command]
        uid = None  # not root: the command keeps the TA's user
    # the filters the platform itself puts on every process (Docker's profile), to compare with
    outer = subprocess.run(wrap(["grep", "^Seccomp_filters:", "/proc/self/status"]), capture_output=True, text=True)
    config = JailSettings(view=view_config(base / "root", workdir, 16, uid, [], namespaces=platform not in WITHOUT_NAMESPACES))
    command = [python, "-I", "-c", JAIL_LAUNCHER, str(package), config.to_json(), "--",
               python, "-c", SECCOMP_PROBE, (outer.stdout.split() or ["", ""])[-1]]
    done = subprocess.run(wrap(command), capture_output=True, text=True, timeout=120, cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "no seccomp filter" not in done.stderr
    assert ("without a private view" in done.stderr) == (platform in NO_VIEW)
    return json.loads(done.stdout)


@pytest.fixture(scope="module", params=SECCOMP_PLATFORMS)
def filtered(request):
    base = platforms.open_folder("seccomp")
    try:
        yield _seccomp_probe(request.param, base, request)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_kernel_cannot_make_namespaces_or_mount(filtered):
    assert (filtered["unshare"], filtered["clone_newuser"], filtered["mount"]) == (errno.EPERM,) * 3
    assert filtered["clone3"] == errno.ENOSYS  # so that the C library falls back to clone, which is checked


def test_the_kernel_cannot_trace_use_keyrings_or_change_its_persona(filtered):
    assert (filtered["ptrace"], filtered["keyctl"], filtered["personality"]) == (errno.EPERM,) * 3
    assert (filtered["personality_query"], filtered["personality_default"]) == (0, 0)


def test_threads_fork_and_subprocesses_still_work(filtered):
    assert (filtered["fork"], filtered["thread"], filtered["subprocess"]) == (7, True, 0)


def test_proc_shows_the_filter(filtered):
    assert filtered["seccomp"] == "2"
    if filtered["filters"]:  # Linux 5.9+: one more than the platform's own (Docker's profile)
        assert int(filtered["filters"]) == int(filtered["outer_filters"] or 0) + 1


def test_the_filter_is_what_refuses_a_user_namespace():
    """The same call, in the same process, before and after ``install_filter``: granted, then
    refused (where this machine grants user namespaces at all)."""
    script = r'''
import ctypes, os
from autograder.grade.isolation import seccomp
libc = ctypes.CDLL(None, use_errno=True)
def unshare_in_child():
    child = os.fork()
    if child == 0:
        os._exit(0 if libc.unshare(0x10000000) == 0 else ctypes.get_errno())
    return os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
before = unshare_in_child()
installed = seccomp.install_filter(print)
print(before, installed, unshare_in_child())
'''
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    before, installed, after = done.stdout.split()
    if before != "0":
        pytest.skip(f"this machine refuses user namespaces anyway (errno {before})")
    assert (installed, int(after)) == ("True", errno.EPERM)


def test_without_libseccomp_the_filter_is_absent_and_the_command_goes_on():
    script = ("import sys; sys.modules['pyseccomp'] = None\n"
              "from autograder.grade.isolation import seccomp\n"
              "print(seccomp.install_filter(print), open('/proc/self/status').read().count('Seccomp:\\t0'))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    note, result = done.stdout.splitlines()
    assert note.startswith("no seccomp filter (pyseccomp or libseccomp cannot be loaded")
    assert result == "False 1"


@pytest.mark.parametrize("namespaces", [True, False])
def test_a_command_started_in_the_jails_own_process_runs_under_the_filter_too(tmp_path, namespaces):
    """The kernel template becomes the kernel in the process ``run_confined`` hands the command
    to (its ``start``, not an exec): the filter is on before that is called."""
    workdir = Path(tempfile.mkdtemp(prefix="student-"))
    settings = JailSettings(view=view_config(tmp_path / "root", workdir, 16, STUDENT_UID, [], namespaces=namespaces))
    script = ("import json, os\n"
              "from autograder.grade.isolation import jail\n"
              "from autograder.grade.isolation.jail import JailSettings\n"
              "def start(command, env):\n"
              "    print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('Seccomp:')))\n"
              "    os._exit(0)\n"
              f"jail.run_confined(JailSettings.from_json({settings.to_json()!r}), ['the kernel'], start)\n")
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(workdir)
    assert (done.returncode, done.stdout) == (0, "2\n"), done.stderr


def _started(workdir: Path) -> None:
    for _ in range(200):
        if (workdir / "started").exists():
            return
        time.sleep(0.05)
    raise AssertionError("the jailed command never started")


@pytest.mark.parametrize("namespaces", [True, False])
def test_the_filter_is_read_from_outside(tmp_path, namespaces):
    workdir = Path(tempfile.mkdtemp(prefix="student-"))
    view = view_config(tmp_path / "root", workdir, 16, STUDENT_UID, [], namespaces=namespaces)
    jailed = subprocess.Popen(jail_command(JailSettings(view=view),
                                           ["/bin/sh", "-c", "touch started; sleep 30"]), stderr=subprocess.DEVNULL)
    unfiltered = subprocess.Popen(["/bin/sleep", "30"])
    try:
        _started(workdir)
        assert seccomp_filtered(jailed.pid)
        assert not seccomp_filtered(unfiltered.pid)
        assert not seccomp_filtered(os.getpid())
    finally:
        for process in (jailed, unfiltered):
            process.kill()
            process.wait()
        shutil.rmtree(workdir)


@pytest.mark.skipif(not platforms.docker_default_supported(), reason="tests/platforms.py reproduces Docker's filter on x86_64, as root with CAP_SYS_ADMIN")
def test_the_filter_is_told_from_dockers_own(tmp_path):
    """Under Docker's profile every process has a filter: the jail's is one more."""
    workdir = Path(tempfile.mkdtemp(prefix="student-"))
    view = view_config(tmp_path / "root", workdir, 16, STUDENT_UID, [])
    jail = jail_command(JailSettings(view=view), ["/bin/sh", "-c", "touch started; sleep 30"])
    script = (f"import subprocess, sys, time\n"
              f"from pathlib import Path\n"
              f"from autograder.grade.isolation.seccomp import seccomp_filtered\n"
              f"quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # nothing holds our pipe\n"
              f"jailed, plain = subprocess.Popen({jail!r}, **quiet), subprocess.Popen(['sleep', '30'], **quiet)\n"
              f"while not Path({str(workdir / 'started')!r}).exists(): time.sleep(0.05)\n"
              f"print(seccomp_filtered(jailed.pid), seccomp_filtered(plain.pid))\n"
              f"jailed.kill(); plain.kill()\n")
    try:
        done = subprocess.run(platforms.docker_default([sys.executable, "-c", script]), capture_output=True,
                              text=True, timeout=60)
    finally:
        shutil.rmtree(workdir)
    assert done.stdout.split() == ["True", "False"], done.stderr
