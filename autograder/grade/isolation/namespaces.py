"""Linux namespaces, as the grader uses them around the student's code.

* no network: a network namespace of its own that holds only a loopback interface (the
  kernel talks to its client over TCP on 127.0.0.1, so loopback is brought up). As root
  the namespace is created directly; otherwise inside a user namespace that maps only the
  caller's own uid, which most Linux distributions allow unprivileged users to create
  (``isolate_network``; ``network_isolated`` tells, from inside, whether it was obtained);
* root without CAP_SYS_ADMIN (a container, ``setpriv``) first becomes root of a user
  namespace of its own that maps every uid to itself (``gain_namespace_rights``), where
  the kernel's seccomp policy allows it; the jail's view is built with the same rights;
* read from outside: which namespaces a process does not share with this one
  (``own_namespaces``), and, for the kernel template, entering another process's
  (``join_namespaces_of``);
* System V IPC objects a kernel without an IPC namespace of its own left behind
  (``remove_ipc_of``).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
from pathlib import Path

PARENT_NETNS_ENV_VAR = "AUTOGRADER_PARENT_NETNS"
_CLONE_NEWUSER = 0x10000000
_CAP_SYS_ADMIN = 21
_WHOLE_ID_RANGE = "0 0 4294967295\n"  # every uid (gid) is itself inside as outside
_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS = 0x8913, 0x8914
_IFF_UP, _IFF_RUNNING = 0x1, 0x40
_JOINED_NAMESPACES = (("user", 0x10000000), ("mnt", 0x00020000), ("net", 0x40000000))  # user first


def network_namespace() -> str | None:
    """An identifier of this process's network namespace (None where there is none)."""
    try:
        return os.readlink("/proc/self/ns/net")
    except OSError:
        return None


def network_isolated() -> bool:
    """In the child: is it in another network namespace than the grader that started it?"""
    parent = os.environ.get(PARENT_NETNS_ENV_VAR)
    return bool(parent) and network_namespace() not in (None, parent)


def lacks_sys_admin() -> bool:
    """Root (or not) without CAP_SYS_ADMIN in its effective set: as in a default Docker
    container, on Gradescope, or under ``setpriv --inh-caps=-sys_admin``."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return True
    effective = next((line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")), "0")
    return not int(effective, 16) >> _CAP_SYS_ADMIN & 1


def gain_namespace_rights() -> bool:
    """Root without CAP_SYS_ADMIN cannot make mount, PID or network namespaces, but may (where
    no seccomp policy forbids it) make a user namespace and be root there, with every
    capability over the namespaces it then creates. The uid and gid maps, every id to itself,
    must be written from outside the new namespace by a process holding CAP_SETUID there:
    a helper forked first. Files keep their owners and root stays root for the file system.
    True if this process now has that right (or had it already)."""
    if os.geteuid() != 0 or not lacks_sys_admin():
        return os.geteuid() == 0
    libc = ctypes.CDLL(None, use_errno=True)
    if not _may_unshare_user(libc):
        return False
    ready, go = os.pipe()
    helper = os.fork()
    if helper == 0:  # outside: map the parent's new namespace once it exists
        os.close(go)
        os.read(ready, 1)
        try:
            for name in ("uid_map", "gid_map"):
                with open(f"/proc/{os.getppid()}/{name}", "w") as stream:
                    stream.write(_WHOLE_ID_RANGE)
            os._exit(0)
        except OSError:
            os._exit(1)
    os.close(ready)
    entered = libc.unshare(_CLONE_NEWUSER) == 0
    os.write(go, b"x")
    os.close(go)
    _, status = os.waitpid(helper, 0)
    return entered and os.waitstatus_to_exitcode(status) == 0


def _may_unshare_user(libc: ctypes.CDLL) -> bool:
    """Try it in a throwaway child first: a namespace entered whose maps then could not be
    written would leave this process as nobody."""
    probe = os.fork()
    if probe == 0:
        os._exit(0 if libc.unshare(_CLONE_NEWUSER) == 0 else 1)
    _, status = os.waitpid(probe, 0)
    return os.waitstatus_to_exitcode(status) == 0


def isolate_network() -> bool:
    """Move this process into a fresh network namespace with only loopback, up."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if os.geteuid() == 0:
            if libc.unshare(_CLONE_NEWNET) != 0 and not (gain_namespace_rights()
                                                           and libc.unshare(_CLONE_NEWNET) == 0):
                return False
        elif not _unshare_as_user(libc):
            return False
        _bring_loopback_up()
        return True
    except (OSError, AttributeError):
        return False


def _unshare_as_user(libc: ctypes.CDLL, namespaces: int = _CLONE_NEWNET) -> bool:
    """An unprivileged user gets CAP_NET_ADMIN over a network namespace it owns through a
    user namespace (and CAP_SYS_ADMIN over mount namespaces the same way); the uid and gid
    are mapped to themselves, so files keep their owner."""
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(_CLONE_NEWUSER | namespaces) != 0:
        return False
    for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"{uid} {uid} 1"),
                       ("/proc/self/gid_map", f"{gid} {gid} 1")):
        with open(path, "w") as stream:
            stream.write(text)
    return True


def unshare_as_user(namespaces: int) -> bool:
    """``namespaces`` (CLONE_* flags) inside a new user namespace; see ``_unshare_as_user``."""
    try:
        return _unshare_as_user(ctypes.CDLL(None, use_errno=True), namespaces)
    except OSError:
        return False


def _bring_loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP | _IFF_RUNNING))


def own_namespaces(pid: int) -> frozenset[str]:
    """The namespaces (``ipc``, ``mnt``, ``net``, ``uts``, ...) in which the process ``pid`` is
    not where this process is, read from outside."""
    differ = set()
    for name in ("ipc", "mnt", "net", "uts", "user"):
        try:
            if os.readlink(f"/proc/{pid}/ns/{name}") != os.readlink(f"/proc/self/ns/{name}"):
                differ.add(name)
        except OSError:
            continue
    return frozenset(differ)


def join_namespaces_of(pid: int) -> None:
    """Enter ``pid``'s user, mount and network namespaces where they are not already ours
    (the user namespace first: it gives the rights over the two others); the kernel template
    joins the grading child's so (``processes.kernel_template``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for name, flag in _JOINED_NAMESPACES:
        if os.readlink(f"/proc/{pid}/ns/{name}") == os.readlink(f"/proc/self/ns/{name}"):
            continue
        fd = os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY)
        try:
            if libc.setns(fd, flag) != 0:
                raise OSError(ctypes.get_errno(), f"cannot join the grading child's {name} namespace: "
                              + os.strerror(ctypes.get_errno()))
        finally:
            os.close(fd)


_IPC_RMID = 0


def remove_ipc_of(uid: int) -> int:
    """Remove the System V message queues, shared memory segments and semaphores that user
    ``uid`` owns or created, in this process's IPC namespace. Where the kernel got no IPC
    namespace of its own (a system that refuses namespaces), they would outlive it, pin
    memory outside any cgroup and reach the next submission; as a user of its own per
    submission (as root), everything that user made is the notebook's. Removing takes
    CAP_SYS_ADMIN or being their owner, so (as root in a container without the former) a
    child becomes that user to remove them. Returns how many."""
    if os.geteuid() != 0:
        return _remove_ipc_owned_by(uid)
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reader)
        count = 0
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            count = _remove_ipc_owned_by(uid)
        finally:
            os.write(writer, str(count).encode())
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as answer:
        said = answer.read()
    os.waitpid(child, 0)
    return int(said or 0)


def _remove_ipc_owned_by(uid: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    removers = {"msg": ("msqid", lambda ident: libc.msgctl(ident, _IPC_RMID, None)),
                "shm": ("shmid", lambda ident: libc.shmctl(ident, _IPC_RMID, None)),
                "sem": ("semid", lambda ident: libc.semctl(ident, 0, _IPC_RMID))}
    removed = 0
    for kind, (id_column, remove) in removers.items():
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            continue
        header = lines[0].split() if lines else []
        for line in lines[1:]:
            fields = dict(zip(header, line.split()))
            if str(uid) in (fields.get("uid"), fields.get("cuid")):
                removed += remove(int(fields[id_column])) == 0
    return removed
