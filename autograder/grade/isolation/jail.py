"""The jail: start a command confined, ``python -m autograder.grade.isolation.jail SETTINGS -- COMMAND…``.

Jupyter starts kernels itself, so the confinement is applied by this small program in
between. It applies the limits of ``limits`` to itself (its cgroup, rlimits, network
namespace, death with its parent) and, when SETTINGS (``JailSettings``, as JSON) asks for a
``view`` (``View``), puts the command
in a world of its own before it runs, as PrairieLearn's and bubblewrap's sandboxes do:

* a mount namespace whose root is a fresh tmpfs holding only what Python needs, read
  only (the system's ``/usr`` and ``/etc``, the interpreter, the virtual environment), the
  student's working folder, and empty ``/tmp``, ``/dev/shm`` and home folders of bounded
  size. The grader's package, the assignments, the solutions, the autograder zip, the
  other submissions and every other folder of the machine are simply not there;
* a PID namespace: the grader's processes (and their ``/proc/PID/root``, ``environ`` and
  memory) are not visible, and when the command ends everything it left behind dies;
* a user of its own (when started as root), no capabilities, ``no_new_privs``: it cannot
  unmount what hides the machine, write what it does not own, or become root again;
* a seccomp filter (``seccomp``), the last step before the command starts: the system
  calls a notebook never makes and that expose the most of the Linux kernel's code to it (a
  user namespace, where it would be root again, mounts, ``ptrace``, keyrings, ``bpf``…)
  answer EPERM, so the kernel's own bugs behind them are out of its reach too.

Process tree: this program (outside, relays the exit status) → an init (PID 1 inside:
builds the view, reaps orphans) → the command. Signals Jupyter sends go to the process
group, which reaches the command directly; the two others ignore them.

Where the system refuses the namespaces (a container that forbids them), the command runs
without a view but still as its own user without capabilities, under the seccomp filter
(``_run_as_user_only``); the caller reads which it got from outside with ``isolation_of``
and ``seccomp.seccomp_filtered``. Where the filter cannot be installed (no libseccomp), the
command runs without it and the jail says so on its standard error.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from autograder.grade.isolation import seccomp
from autograder.grade.isolation.cgroups import ProcessCgroup
from autograder.grade.isolation.limits import EXIT_PARENT_GONE, Limits, confine, die_with_parent
from autograder.grade.isolation.namespaces import gain_namespace_rights, unshare_as_user

_CLONE_NEWNS, _CLONE_NEWPID = 0x00020000, 0x20000000
_CLONE_NEWIPC, _CLONE_NEWUTS = 0x08000000, 0x04000000
# mount and PID, and System V IPC and host name: message queues and shared memory a notebook
# leaves behind would otherwise outlive its kernel, be readable by the next submission, and
# stay pinned outside any cgroup
VIEW_NAMESPACES = _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWIPC | _CLONE_NEWUTS
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MNT_DETACH = 2
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_PR_CAPBSET_DROP, _PR_SET_SECUREBITS, _PR_SET_NO_NEW_PRIVS = 24, 28, 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_SECURE_NOROOT_ALL = 0b101111  # NOROOT, NO_SETUID_FIXUP and their locks, KEEP_CAPS locked off
_SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
_DEVICES = ("null", "zero", "full", "random", "urandom")
_PROC_HIDDEN = ("kcore", "keys", "sysrq-trigger", "timer_list", "sched_debug", "latency_stats")
_PROC_READ_ONLY = ("sys", "irq", "bus", "fs")
EXIT_VIEW_FAILED = 70
SMALL_TMPFS_MB = 64  # the root's skeleton, /dev/shm and the home folder each


class JailError(OSError):
    """A step of building the view failed: the command does not run (fail closed)."""


# How the confined command finally starts, in the process that becomes it: ``exec`` here; the
# kernel template (``kernel_template``) starts the kernel in-process instead.
Start = Callable[[list[str], dict[str, str]], NoReturn]


def exec_command(command: list[str], env: dict[str, str]) -> NoReturn:
    os.execve(command[0], command, env)


@dataclass(frozen=True)
class View:
    """The world of its own the command runs in: an empty folder of the caller's to build the
    new root on, the folder the command works in (same path inside), the size of /tmp, the
    user it runs as (None: keep the caller's), and extra paths it may read besides the system
    and the interpreter. ``namespaces=False`` skips the view (as where the system refuses
    namespaces), keeping the user and the dropped privileges."""

    root: str
    workdir: str
    disk_mb: int | None = None
    uid: int | None = None
    readable: tuple[str, ...] = ()
    namespaces: bool = True


@dataclass(frozen=True)
class JailSettings:
    """What the jail is given: on its command line as JSON (``python -m …jail SETTINGS``), or
    by the kernel template's launch request. ``cgroup``: ``ProcessCgroup.paths()``;
    ``parent``: the PID of the process that starts the jail, which ends the jail at once if it
    is already gone."""

    limits: Limits = field(default_factory=Limits)
    cgroup: tuple[str, ...] | None = None
    view: View | None = None
    parent: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> JailSettings:
        view = values.get("view")
        return cls(limits=Limits(**values.get("limits", {})),
                   cgroup=tuple(values["cgroup"]) if values.get("cgroup") else None,
                   view=View(**{**view, "readable": tuple(view.get("readable", ()))}) if view else None,
                   parent=values.get("parent"))

    @classmethod
    def from_json(cls, text: str | bytes) -> JailSettings:
        return cls.from_dict(json.loads(text))


def main(argv: list[str]) -> None:
    text, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: python -m autograder.grade.isolation.jail SETTINGS -- COMMAND…")
    settings = JailSettings.from_json(text)
    confine_to(settings)
    run_confined(settings, command)


def confine_to(settings: JailSettings) -> None:
    """The limits of ``settings`` on this process (and what it starts): cgroup, rlimits, death
    with its parent."""
    cgroup = ProcessCgroup.from_paths(list(settings.cgroup)) if settings.cgroup else None
    confine(settings.limits, cgroup, parent=settings.parent)


def run_confined(settings: JailSettings, command: list[str], start: Start = exec_command) -> NoReturn:
    """Start ``command`` in the settings' view (where one is asked for and can be made): this
    process stays outside and relays the command's exit status."""
    if settings.view is not None:
        _run_in_view(settings.view, command, start, settings.parent)
    start(command, dict(os.environ))


def view_config(root: Path, workdir: Path, disk_mb: int | None, uid: int | None,
                readable: list[str], *, namespaces: bool = True) -> View:
    """The ``View`` of a kernel in ``workdir``, built on the empty folder ``root``."""
    return View(root=str(root), workdir=str(workdir), disk_mb=disk_mb, uid=uid, readable=tuple(readable),
                namespaces=namespaces)


def isolation_of(pid: int) -> str:
    """How the jailed process ``pid`` (the jail's own PID, as its starter knows it) is
    isolated, read from outside, never from what it says: ``view`` (namespaces of its own),
    ``user`` (another user than root, no view) or ``none``."""
    try:
        if os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt"):
            return "view"
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "none"
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    return "user" if "0" not in uids else "none"


def interpreter_paths() -> list[str]:
    """The folders this Python runs from: the kernel runs the same interpreter."""
    return sorted({sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix})


def give_folders_their_own_disks(folders: dict[Path, str]) -> bool:
    """In the grader, before it starts the kernel: a mount namespace of its own (so nothing
    else sees these mounts) and a tmpfs on each folder, with the given mount options (size,
    owner, mode). A submission that fills its disk then fills only its own folder, and the
    machine's disk never. False where this process may not mount (not root): the folders
    stay plain folders."""
    if os.geteuid() != 0 or _libc().unshare(_CLONE_NEWNS) != 0:
        return False
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    for folder, options in folders.items():
        _mount("tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV, options, make=True)
    return True


def tmpfs_size(megabytes: int | None) -> str:
    """tmpfs's size option (with its comma), or nothing: tmpfs's own default, half the memory."""
    return f"size={int(megabytes)}m," if megabytes else ""


def unmount(folder: Path) -> None:
    """Undo ``give_folders_their_own_disks`` for one folder (its files go with its tmpfs)."""
    _libc().umount2(str(folder).encode(), _MNT_DETACH)


# Outside: the namespaces, then relay --------------------------------------------------------

def _run_in_view(view: View, command: list[str], start: Start, parent: int | None) -> NoReturn:
    if not _enter_namespaces(view.namespaces):
        _run_as_user_only(view, command, start, parent)
    lifeline, held = os.pipe()  # held open by this process only, for as long as it lives
    init = os.fork()
    if init == 0:
        os.close(held)
        _init(view, command, start, lifeline)
    os.close(lifeline)
    _ignore_group_signals()
    _, status = os.waitpid(init, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _enter_namespaces(wanted: bool = True) -> bool:
    """Mount, PID, IPC and UTS namespaces: directly as root, or as a caller that already holds
    CAP_SYS_ADMIN in a user namespace of its own; otherwise through a new user namespace."""
    if not wanted:
        return False
    namespaces = VIEW_NAMESPACES
    if os.geteuid() != 0:
        return _libc().unshare(namespaces) == 0 or unshare_as_user(namespaces)
    return _libc().unshare(namespaces) == 0 or (gain_namespace_rights() and _libc().unshare(namespaces) == 0)


def namespaces_available() -> bool:
    """Can a view be built here? Asked of a throwaway child, exactly as ``_enter_namespaces``
    would ask, so the caller learns it before starting anything."""
    child = os.fork()
    if child == 0:
        try:
            os._exit(0 if _enter_namespaces() else 1)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status) == 0


class IsolationUnavailable(RuntimeError):
    """Student code cannot be run here with the least isolation the grader accepts."""


def unreachable_folder(paths: list[str], uid: int) -> tuple[Path, Path] | None:
    """The first folder on the way to one of ``paths`` that a user ``uid`` of its own, in no
    group, may not enter (no execute bit for others), with that path; or None. Without a
    view, that user must reach the interpreter and its packages through the machine's own
    folders."""
    for path in paths:
        target = Path(path)
        for folder in [*reversed(target.parents), target]:
            try:
                info = folder.stat()
            except OSError:
                continue
            if info.st_uid != uid and not info.st_mode & 0o001:
                return folder, target
    return None


def require_reachable_interpreter(uid: int) -> None:
    """Fail with what to change where the kernel would have to run, without a view, as a
    user that cannot even start Python (Otter's Gradescope image keeps it in /root)."""
    blocked = unreachable_folder(interpreter_paths(), uid)
    if blocked is None:
        return
    folder, target = blocked
    mode = folder.stat().st_mode & 0o777
    raise IsolationUnavailable(
        "this system refuses namespaces (a container without CAP_SYS_ADMIN, or whose seccomp "
        "policy forbids user namespaces), so student code must run as a user of its own, and "
        f"that user cannot reach Python: {folder} is mode {mode:04o}, with no execute bit for "
        f"other users, on the way to {target}. Course staff: run `chmod o+x {folder}` "
        "(it lets every user pass through, not list it), or install the environment outside "
        "it (the autograder zip's setup.sh does this on Gradescope); see the README's "
        "'Isolation by platform'. No student code was run.")


def make_interpreter_reachable() -> list[Path]:
    """In a throwaway container only (the Gradescope entry point): give every folder on the
    way to the interpreter the execute bit for others, as the zip's setup.sh does. Returns
    the folders changed."""
    changed = []
    while (blocked := unreachable_folder(interpreter_paths(), uid=-1)) is not None:
        folder = blocked[0]
        os.chmod(folder, folder.stat().st_mode | 0o001)
        changed.append(folder)
    return changed


def _run_as_user_only(view: View, command: list[str], start: Start, parent: int | None) -> NoReturn:
    """Where no namespace can be made (a container that forbids them): no view, but still a
    user of its own without capabilities when we are root, so only what everyone may read is
    readable (the grader keeps its own files in 0700 folders; see gradescope.py)."""
    print("jail: no mount/PID namespaces here: the command runs without a private view"
          + (f", as user {view.uid}" if view.uid is not None and os.geteuid() == 0 else ""),
          file=sys.stderr, flush=True)
    try:
        _drop_privileges(view.uid, Path(view.workdir))
        die_with_parent(parent)  # after the user change, which clears it
        os.chdir(view.workdir)
    except OSError as error:
        _fail(str(error))
    seccomp.install_filter(_note)  # last, as in ``_init``: the command starts under it
    start(command, dict(os.environ))


def _init(view: View, command: list[str], start: Start, lifeline: int) -> NoReturn:
    """PID 1 of the new namespace: build the view, give up privileges, start the command,
    reap every orphan, and end (taking the whole namespace with it) when the command ends."""
    try:
        die_with_parent()  # a fork does not inherit it
        _build_root(view)
        _drop_privileges(view.uid, Path(view.workdir))
        die_with_the_jail(lifeline)  # after the user change, which clears it
    except OSError as error:
        print(f"jail: {error}", file=sys.stderr, flush=True)
        os._exit(EXIT_VIEW_FAILED)
    child = os.fork()
    if child == 0:
        os.chdir(view.workdir)
        # last, in the command's process only: building the view took calls it refuses
        seccomp.install_filter(_note)
        # Jupyter names its own PID, which ipykernel would watch and, finding that the
        # kernel's parent is this init, take for gone. Its parent is PID 1 now, which
        # ipykernel knows never goes away; the kernel dies with its namespace anyway.
        start(command, {**os.environ, "JPY_PARENT_PID": "1"})
    _ignore_group_signals()
    while True:
        pid, status = os.wait()
        if pid == child:
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def die_with_the_jail(lifeline: int) -> None:
    """``die_with_parent`` for PID 1, whose parent (the jail, outside its namespace) it cannot
    name: ``getppid()`` is 0 inside. Whether the jail ended before the signal was set again is
    read from a pipe only the jail holds open: it becomes readable (at its end) once the jail
    is gone, since the jail never writes to it."""
    die_with_parent()
    readable, _, _ = select.select([lifeline], [], [], 0)
    if readable:
        os._exit(EXIT_PARENT_GONE)
    os.close(lifeline)


def _ignore_group_signals() -> None:
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(number, signal.SIG_IGN)


# The view ----------------------------------------------------------------------------------

def _build_root(view: View) -> None:
    workdir = Path(view.workdir)
    disk = tmpfs_size(view.disk_mb)
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    root = Path(view.root)  # an empty folder of the caller's; only this namespace mounts on it
    _mount("tmpfs", root, "tmpfs", _MS_NOSUID, f"size={SMALL_TMPFS_MB}m,mode=0755", make=True)
    # the writable places first: the read-only paths and the folder may lie below them (a
    # virtual environment in a checkout under /tmp or the home folder)
    _mount("tmpfs", root / "tmp", "tmpfs", _MS_NOSUID | _MS_NODEV, f"{disk}mode=1777", make=True)
    home = Path(os.environ.get("HOME") or "/home/student")
    if not (root / home.relative_to("/")).is_mount():
        _mount("tmpfs", root / home.relative_to("/"), "tmpfs", _MS_NOSUID | _MS_NODEV,
               f"size={SMALL_TMPFS_MB}m,mode=0777", make=True)
    for path in (*_SYSTEM_PATHS, *interpreter_paths(), *view.readable):
        _expose_read_only(root, Path(path))
    _mount(str(workdir), root / workdir.relative_to("/"), None, _MS_BIND | _MS_REC, make=True)
    _build_dev(root)
    _build_proc(root)
    _pivot(root)


def _expose_read_only(root: Path, path: Path) -> None:
    """Show ``path`` at the same place inside: symlinks as symlinks (``/bin`` → ``usr/bin``),
    folders and files bound read only, including the mounts below them."""
    if not os.path.lexists(path):
        return
    inside = root / path.relative_to("/")
    if path.is_symlink():
        inside.parent.mkdir(parents=True, exist_ok=True)
        if not os.path.lexists(inside):
            os.symlink(os.readlink(path), inside)
        _expose_read_only(root, Path(os.path.realpath(path)))
        return
    if inside.exists() and os.path.ismount(inside):
        return
    _mount(str(path), inside, None, _MS_BIND | _MS_REC, make=True, is_file=path.is_file())
    for mount_point in [inside, *_mounts_below(inside)]:
        _mount(None, mount_point, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID)


def _build_dev(root: Path) -> None:
    dev = root / "dev"
    dev.mkdir(exist_ok=True)
    for name in _DEVICES:
        if os.path.exists(f"/dev/{name}"):
            _mount(f"/dev/{name}", dev / name, None, _MS_BIND, make=True, is_file=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, dev / name)
    _mount("tmpfs", dev / "shm", "tmpfs", _MS_NOSUID | _MS_NODEV,
           f"size={SMALL_TMPFS_MB}m,mode=1777", make=True)


def _build_proc(root: Path) -> None:
    """A /proc of the new PID namespace, with the files that reach the machine masked."""
    proc = root / "proc"
    _mount("proc", proc, "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, make=True)
    for name in _PROC_HIDDEN:
        if (proc / name).exists():
            _mount("/dev/null", proc / name, None, _MS_BIND)
    for name in _PROC_READ_ONLY:
        if (proc / name).is_dir():
            _mount(str(proc / name), proc / name, None, _MS_BIND | _MS_REC)
            _mount(None, proc / name, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID)


def _pivot(root: Path) -> None:
    old = root / ".old-root"
    old.mkdir()
    number = _SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None or _libc().syscall(number, str(root).encode(), str(old).encode()) != 0:
        raise JailError(f"pivot_root failed (errno {ctypes.get_errno()})")
    os.chdir("/")
    if _libc().umount2(b"/.old-root", _MNT_DETACH) != 0:
        raise JailError(f"cannot detach the machine's file system (errno {ctypes.get_errno()})")
    os.rmdir("/.old-root")


def _mounts_below(path: Path) -> list[Path]:
    below = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = Path(line.split()[4].encode().decode("unicode_escape"))
        if point != path and point.is_relative_to(path):
            below.append(point)
    return below


def _mount(source: str | None, target: Path | str, fstype: str | None, flags: int,
           data: str | None = None, *, make: bool = False, is_file: bool = False) -> None:
    target = Path(target)
    if make:
        if is_file:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch(exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
    encode = lambda value: value.encode() if value is not None else None
    if _libc().mount(encode(source), str(target).encode(), encode(fstype), flags, encode(data)) != 0:
        raise JailError(f"mount {source or ''} on {target} failed (errno {ctypes.get_errno()})")


# Privileges --------------------------------------------------------------------------------

class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_privileges(uid: int | None, workdir: Path) -> None:
    """No capability now or after exec, no setuid program can give one back, and (when we
    are root) a user of its own that owns the working folder and nothing else."""
    libc = _libc()
    for capability in range(64):  # needs CAP_SETPCAP, so before anything else is given up
        libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0)  # fails harmlessly past the last one
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if uid is not None and os.geteuid() == 0:
        for path in [workdir, *workdir.iterdir()]:  # what it starts with; not the grader's mounts
            if path == workdir or (path.is_file() and not path.is_symlink()):
                os.lchown(path, uid, uid)
        libc.prctl(_PR_SET_SECUREBITS, _SECURE_NOROOT_ALL, 0, 0, 0)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise JailError(f"cannot drop capabilities (errno {ctypes.get_errno()})")
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise JailError(f"cannot set no_new_privs (errno {ctypes.get_errno()})")


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _note(message: str) -> None:
    print(f"jail: {message}", file=sys.stderr, flush=True)


def _fail(message: str) -> NoReturn:
    _note(message)
    os._exit(EXIT_VIEW_FAILED)


if __name__ == "__main__":
    main(sys.argv[1:])
