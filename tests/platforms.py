"""The machines course staff grade on, reproduced on this one (as root) for the tests.

* ``setpriv_container``: root without CAP_SYS_ADMIN, as the developers' guide reproduces a
  default container: the kernel's own policy still allows user namespaces.
* ``docker_default``: the same, plus a seccomp filter that refuses what Docker's default
  profile refuses to a process without CAP_SYS_ADMIN: ``unshare``, ``setns``, ``mount``,
  ``umount2``, ``pivot_root``, ``clone`` with a namespace flag, and ``clone3`` (ENOSYS, so
  glibc falls back to ``clone``). Gradescope runs the autograder this way.
* ``standalone_python``: an interpreter and virtual environment outside /root, as a TA's
  machine or a container image built for it has (Debian's Python, this checkout's packages
  hard-linked into the environment's own site-packages).
* ``ordinary_user``: a user without privileges, to run the grader as a TA does.

    python tests/platforms.py docker-default -- COMMAND…
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import pwd
import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

from autograder.grade.isolation.namespaces import lacks_sys_admin

SETPRIV = ["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin", "--"]
DEBIAN_PYTHON = Path("/usr/bin/python3.11")
TA_USER = "autograder-ta"
REPO = Path(__file__).resolve().parent.parent

_AUDIT_ARCH_X86_64 = 0xC000003E
_SYSCALLS = {"unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
             "clone": 56, "clone3": 435}  # x86_64
_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
_LD_ABS, _JEQ, _JSET, _RET = 0x20, 0x15, 0x45, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2


def setpriv_container(command: list[str]) -> list[str]:
    return [*SETPRIV, *command]


def docker_default(command: list[str]) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "docker-default", "--", *command]


def docker_default_supported() -> bool:
    """x86_64, as root with CAP_SYS_ADMIN: without it (a suite run under ``setpriv``) the
    filter could only be installed with ``no_new_privs``, which Docker does not set."""
    return (platform.machine() == "x86_64" and os.geteuid() == 0 and shutil.which("setpriv") is not None
            and not lacks_sys_admin())


def _filter() -> list[tuple[int, int, int, int]]:
    """The BPF program: (code, jump if true, jump if false, value)."""
    program = [(_LD_ABS, 0, 0, 4), (_JEQ, 1, 0, _AUDIT_ARCH_X86_64), (_RET, 0, 0, _ALLOW),
               (_LD_ABS, 0, 0, 0)]
    for name in ("unshare", "setns", "mount", "umount2", "pivot_root"):
        program += [(_JEQ, 0, 1, _SYSCALLS[name]), (_RET, 0, 0, _ERRNO | errno.EPERM)]
    program += [(_JEQ, 0, 1, _SYSCALLS["clone3"]), (_RET, 0, 0, _ERRNO | errno.ENOSYS)]
    program += [(_JEQ, 0, 3, _SYSCALLS["clone"]), (_LD_ABS, 0, 0, 16),  # clone's flags
                (_JSET, 0, 1, _NAMESPACE_FLAGS), (_RET, 0, 0, _ERRNO | errno.EPERM)]
    return [*program, (_RET, 0, 0, _ALLOW)]


def _install_docker_default_filter() -> None:
    instructions = b"".join(struct.pack("HBBI", *line) for line in _filter())
    buffer = ctypes.create_string_buffer(instructions)

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    program = Program(len(_filter()), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot install the seccomp filter")


def standalone_python(folder: Path) -> Path:
    """A virtual environment of Debian's Python at ``folder/venv`` holding this checkout's
    packages (hard links: no copy, no download), and a copy of the course package and its
    assignments at ``folder/course`` that it imports instead of the checkout (which another
    user may not be able to read). Returns its python."""
    venv = folder / "venv"
    subprocess.run([str(DEBIAN_PYTHON), "-m", "venv", "--without-pip", str(venv)], check=True)
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = venv / "lib" / "python3.11" / "site-packages"
    subprocess.run(["cp", "-al", f"{ours}/.", str(theirs)], check=True)
    for editable in theirs.glob("__editable__*.pth"):
        editable.unlink()
    course = folder / "course"
    for name in ("autograder", "assignments"):
        shutil.copytree(REPO / name, course / name, ignore=shutil.ignore_patterns("__pycache__"))
    (theirs / "course.pth").write_text(f"{course}\n")
    return venv / "bin" / "python"


def standalone_python_available() -> str | None:
    """Why the standalone environment cannot be made here, or None."""
    if not DEBIAN_PYTHON.exists():
        return f"{DEBIAN_PYTHON} is not installed (apt-get install python3.11-minimal python3.11-venv)"
    if sys.version_info[:2] != (3, 11):
        return "this checkout's packages are for another Python than 3.11"
    return None


def ordinary_user() -> tuple[int, int]:
    """A system user without privileges (made once), as a TA's own account."""
    try:
        entry = pwd.getpwnam(TA_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", TA_USER], check=True)
        entry = pwd.getpwnam(TA_USER)
    return entry.pw_uid, entry.pw_gid


def open_folder(name: str) -> Path:
    """A new folder every user may enter (pytest's own temporary folders are private)."""
    import tempfile
    folder = Path(tempfile.mkdtemp(prefix=f"autograder-{name}-"))
    folder.chmod(0o755)
    return folder


if __name__ == "__main__":
    kind, separator, *command = sys.argv[1:]
    if kind != "docker-default" or separator != "--" or not command:
        raise SystemExit("usage: python tests/platforms.py docker-default -- COMMAND…")
    _install_docker_default_filter()
    os.execvp(SETPRIV[0], [*SETPRIV, *command])
