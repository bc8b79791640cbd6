"""What the operating system enforces on one grading child and everything it starts.

Applied between fork and exec (``confine``), so the limits hold from the first
instruction of the child, its Jupyter kernel and anything student code spawns:

* it dies with the grader (``PR_SET_PDEATHSIG``), so a ``kill -9`` leaves no kernels behind;
* address space, file size and process count (``setrlimit``);
* no network: a network namespace of its own that holds only a loopback interface (the
  kernel talks to its client over TCP on 127.0.0.1, so loopback is brought up). As root
  the namespace is created directly; otherwise inside a user namespace that maps only the
  caller's own uid, which most Linux distributions allow unprivileged users to create.

Every step is best effort: an operating system that refuses one (macOS, a container
without the capability) still gets the others, and ``network_isolated`` tells afterwards,
from inside the child, whether the namespace was obtained.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import resource
import signal
import socket
import struct
from dataclasses import dataclass

PARENT_NETNS_ENV_VAR = "AUTOGRADER_PARENT_NETNS"
_PR_SET_PDEATHSIG = 1
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS = 0x8913, 0x8914
_IFF_UP, _IFF_RUNNING = 0x1, 0x40


@dataclass(frozen=True)
class Limits:
    """What one submission may use; each is enforced by the operating system on the child
    process and everything it starts (the kernel included). None means no limit."""

    cell_timeout: float | None = None  # seconds per notebook cell: the cell is interrupted
    memory_mb: int | None = None       # address space per process (RLIMIT_AS)
    file_size_mb: int | None = None    # largest file a process may write (RLIMIT_FSIZE)
    max_processes: int | None = None   # RLIMIT_NPROC (not enforced for root, see README)
    network: bool = True               # False: a network namespace with loopback only

    @classmethod
    def from_config(cls, values: dict) -> "Limits":
        return cls(**{key: values[key] for key in cls.__dataclass_fields__ if key in values})


def confine(limits: Limits) -> None:
    """Runs in the child between fork and exec. Must not raise: a refused step is skipped."""
    _die_with_parent()
    for name, value in ((resource.RLIMIT_AS, limits.memory_mb and limits.memory_mb << 20),
                        (resource.RLIMIT_FSIZE, limits.file_size_mb and limits.file_size_mb << 20),
                        (resource.RLIMIT_NPROC, limits.max_processes)):
        if value:
            resource.setrlimit(name, (value, value))
    if not limits.network:
        isolate_network()


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


def isolate_network() -> bool:
    """Move this process into a fresh network namespace with only loopback, up."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if os.geteuid() == 0:
            if libc.unshare(_CLONE_NEWNET) != 0:
                return False
        elif not _unshare_as_user(libc):
            return False
        _bring_loopback_up()
        return True
    except (OSError, AttributeError):
        return False


def _unshare_as_user(libc: ctypes.CDLL) -> bool:
    """An unprivileged user gets CAP_NET_ADMIN over a network namespace it owns through a
    user namespace; the uid and gid are mapped to themselves, so files keep their owner."""
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
        return False
    for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"{uid} {uid} 1"),
                       ("/proc/self/gid_map", f"{gid} {gid} 1")):
        with open(path, "w") as stream:
            stream.write(text)
    return True


def _bring_loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP | _IFF_RUNNING))


def _die_with_parent() -> None:
    try:  # a grader killed with -9 must not leave kernels running on
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the process group kill on timeout still applies
