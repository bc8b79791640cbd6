"""A seccomp filter on the student's kernel: the system calls a notebook never makes, refused.

The jail's view, user and dropped capabilities decide what the kernel may *reach*; the Linux
kernel's own code is still reachable through every system call, and an unprivileged process
can enter much of it: above all a user namespace (``unshare(CLONE_NEWUSER)``), inside which
it is root again, before ``mount`` and the rest of the kernel's code written for root, a
common way into published kernel exploits. So the jail's last step, after the
privilege drop and ``no_new_privs``, installs this filter (``install_filter``), as Docker's
default profile does, and a notebook that makes one of these calls gets EPERM as from a
missing right (every other call is allowed, so threads, ``fork`` and ``subprocess`` work):

* namespaces and mounts, which the view relies on nobody making or undoing: ``unshare``,
  ``setns``, ``clone`` with a ``CLONE_NEW*`` flag, ``mount`` and the new mount API,
  ``umount2``, ``pivot_root``, ``chroot``. ``clone3``, whose flags sit in memory a filter
  cannot read, answers ENOSYS, so the C library falls back to ``clone`` (as under Docker);
* other processes' memory: ``ptrace``, ``process_vm_readv``/``writev``, ``kcmp``,
  ``pidfd_getfd``, ``process_madvise``, ``move_pages``, ``migrate_pages``: where there is no
  view, the grader's processes run on the same machine (as the same user, for a TA). Only
  the system calls: ``/proc/PID/mem`` is a file, which only the view's PID namespace or
  another user (or Yama's ``ptrace_scope``) keeps closed;
* kernel facilities a notebook never uses and that are a frequent way into the kernel:
  keyrings (``keyctl``, ``add_key``, ``request_key``), ``bpf``, ``perf_event_open``,
  ``userfaultfd``, ``io_uring_*``, ``fanotify_init``, ``name_to_handle_at``,
  ``open_by_handle_at``, ``lookup_dcookie``, ``personality`` other than the default persona
  (no disabled address randomisation, no executable data);
* the machine's administration, refused anyway without capabilities, here before the
  kernel looks at them: modules, ``kexec``, ``reboot``, swap, ``acct``, quotas, ``syslog``,
  the clock, I/O ports.

Another architecture's system calls (32-bit calls of a 64-bit process) are refused whole
(ENOSYS): a filter written for one table of numbers says nothing about another.

Best effort, as the rest of the jail: without ``pyseccomp`` (a ctypes binding to the
system's ``libseccomp.so.2``), the library, or a known architecture, ``install_filter``
returns False and the kernel runs without the filter. Whether it got one is read from outside
(``seccomp_filtered``), never from what the kernel says.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:  # loads libseccomp now, as the jail starts, not in the view after the privilege drop
    import pyseccomp as _libseccomp

    _LIBSECCOMP: Any = _libseccomp
    _MISSING = ""
except Exception as error:  # absent package, absent library: no filter
    _LIBSECCOMP, _MISSING = None, f"{type(error).__name__}: {error}"

REFUSED = (
    # namespaces and mounts
    "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
    # other processes' memory
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "process_madvise", "move_pages", "migrate_pages",
    # kernel facilities a notebook never uses
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init",
    "name_to_handle_at", "open_by_handle_at", "lookup_dcookie",
    # the machine's administration
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
    "settimeofday", "stime", "clock_settime", "clock_adjtime", "adjtimex", "iopl", "ioperm",
)
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET (CLONE_NEWTIME, 0x80, is
# clone's exit signal: it is only a flag for unshare and clone3, both refused whole)
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
PERSONA_BITS = 32  # the kernel reads personality's argument as an unsigned int
# the argument of clone that holds its flags, per architecture libseccomp names (s390 puts the
# stack first); a filter is installed only for these
_CLONE_FLAGS_ARGUMENT = {"X86_64": 0, "X86": 0, "AARCH64": 0, "ARM": 0, "PPC64LE": 0, "PPC64": 0,
                         "PPC": 0, "RISCV64": 0, "S390X": 1, "S390": 1}
_SECCOMP_MODE_FILTER = "2"


def install_filter(note: Callable[[str], object] | None = None) -> bool:
    """Install the filter on this process (all its threads) and everything it starts from now
    on; it can never be removed. Call it last before the command: every call the jail itself
    makes before (mount, pivot_root, setns) would be refused after. False, after telling
    ``note`` why, where it cannot be installed; this never raises."""
    try:
        reason = _install()
    except Exception as error:  # best effort: the caller goes on without it
        reason = f"{type(error).__name__}: {error}"
    if reason and note is not None:
        note(f"no seccomp filter ({reason})")
    return not reason


def _install() -> str:
    """Nothing once installed, or why not."""
    if _LIBSECCOMP is None:
        return f"pyseccomp or libseccomp cannot be loaded: {_MISSING}"
    seccomp = _LIBSECCOMP
    native = seccomp.system_arch()
    arch = next((name for name in _CLONE_FLAGS_ARGUMENT if getattr(seccomp.Arch, name, None) == native), None)
    if arch is None:
        return f"architecture {native:#x} is not one this filter is written for"
    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    rules.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.ERRNO(errno.ENOSYS))
    try:  # every thread, should there be more than one (the jail's callers have only one)
        rules.set_attr(seccomp.Attr.CTL_TSYNC, 1)
    except OSError:
        pass  # a libseccomp or Linux too old to synchronise threads: this one thread, then
    for name in REFUSED:
        number = seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
        if number >= 0:  # negative: a call this architecture (or this libseccomp) does not have
            rules.add_rule(refuse, number)
    clone3 = seccomp.resolve_syscall(seccomp.Arch.NATIVE, "clone3")
    if clone3 >= 0:
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), clone3)
    flags = _CLONE_FLAGS_ARGUMENT[arch]
    for flag in NAMESPACE_FLAGS:  # one rule per flag: any one of them set refuses the call
        rules.add_rule(refuse, "clone", seccomp.Arg(flags, seccomp.MASKED_EQ, flag, flag))
    # The default persona (0) and the query (0xffffffff) are the values whose bits are all
    # equal; any other has two neighbouring bits that differ, and one rule per pattern of two
    # neighbours refuses it (libseccomp compares an argument once per rule, so no range).
    for bit in range(PERSONA_BITS - 1):
        for pattern in (0b01, 0b10):
            rules.add_rule(refuse, "personality", seccomp.Arg(0, seccomp.MASKED_EQ, 0b11 << bit, pattern << bit))
    rules.load()  # no_new_privs, which a filter needs, is set already (and libseccomp sets it)
    return ""


# Read from outside --------------------------------------------------------------------------

def seccomp_filtered(pid: int) -> bool:
    """Does the command that the jail ``pid`` started (the jail's own PID, as its starter
    knows it: see ``jail.isolation_of``) run under a seccomp filter that this process, its
    starter, does not: the jail's? Read from outside, in ``/proc``: the command is the jail
    itself where it had no view, else its init's first child (PID 2 of the namespace);
    ``Seccomp_filters`` counts the filters of each (a Docker container's own profile is one
    of them, on both sides). Read it as soon as the command has started, before student code
    runs: that code may add filters of its own. Linux before 5.9 lacks the count: there a
    filter on this process too leaves the answer unknown, and it is False."""
    command = _command_of(pid)
    if command is None:
        return False
    theirs, ours = _seccomp_status(command), _seccomp_status(os.getpid())
    if theirs.get("Seccomp") != _SECCOMP_MODE_FILTER:
        return False
    if "Seccomp_filters" in theirs and "Seccomp_filters" in ours:
        return int(theirs["Seccomp_filters"]) > int(ours["Seccomp_filters"])
    return ours.get("Seccomp") != _SECCOMP_MODE_FILTER


def _command_of(jail: int) -> int | None:
    init = next((child for child in _children(jail) if _inner_pid(child) == 1), None)
    if init is None:
        return jail if _status(jail) else None  # no namespace of its own: the jail became the command
    return next((child for child in _children(init) if _inner_pid(child) == 2), None)


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:  # a kernel without CONFIG_PROC_CHILDREN: every process's parent instead
        return [int(entry) for entry in os.listdir("/proc")
                if entry.isdigit() and _status(int(entry)).get("PPid") == str(pid)]


def _inner_pid(pid: int) -> int | None:
    """``pid``'s PID in a PID namespace one below this process's, or None."""
    theirs, ours = _status(pid).get("NSpid", "").split(), _status(os.getpid()).get("NSpid", "").split()
    return int(theirs[-1]) if ours and len(theirs) == len(ours) + 1 else None


def _seccomp_status(pid: int) -> dict[str, str]:
    return {key: value for key, value in _status(pid).items() if key.startswith("Seccomp")}


def _status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}
