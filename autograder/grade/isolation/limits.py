"""What one submission may use, and the confinement of a process that holds it: applied
between fork and exec (``confine``), so the limits hold from the first instruction of the
grading child, its Jupyter kernel and anything student code spawns:

* it dies with its parent (``PR_SET_PDEATHSIG``), so a ``kill -9`` of the grader leaves no
  kernels behind (``die_with_parent``);
* address space, file size and process count (``setrlimit``); the process count is also a
  ``pids`` cgroup of its own (``cgroups``), because Linux never applies RLIMIT_NPROC to root,
  and the cgroup is how the whole tree is killed, even processes that left the process group;
* no network: a network namespace of its own with loopback only (``namespaces``);
* its share of the cores: the numeric libraries' thread pools sized to it (``THREAD_VARIABLES``).

Every step is best effort: an operating system that refuses one (macOS, a container
without the capability) still gets the others, and ``namespaces.network_isolated`` tells
afterwards, from inside the child, whether the namespace was obtained.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from typing import NoReturn

from autograder.config import Limits as Limits  # grading.toml's [limits], enforced here
from autograder.grade.isolation.cgroups import ProcessCgroup
from autograder.grade.isolation.namespaces import isolate_network

_PR_SET_PDEATHSIG = 1
EXIT_PARENT_GONE = 128 + signal.SIGKILL  # the status the parent's death would have given
NPROC_BACKSTOP = 16  # RLIMIT_NPROC above pids.max where a pids cgroup holds the submission
# Each numeric library sizes its thread pool to the whole machine. With several submissions
# graded at once, every kernel would start that many spinning threads and they would all
# slow each other down, so each grading child gets its share of the cores instead.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")

# One thread per pool in every grading child, whatever its share of the cores: the pools of
# OpenBLAS and TensorFlow spin while they wait, so on a loaded machine their CPU time grows with
# the load, and the cell limit counts CPU time. Measured on this 2-core machine under a load of
# 5, the lesson's MLPClassifier fit: 3.4 CPU-s (7 s) with one thread, 12.4 CPU-s (27 s) with two.
# A limit that load can breach is a false fail. The share of the cores (the CPU quota of the
# child's cgroup and of its kernel's, CPU_SHARE_ENV_VAR) still lets the judge's imports and
# the kernel's cells run side by side.
NUMERIC_THREADS = 1
CPU_SHARE_ENV_VAR = "AUTOGRADER_CPU_SHARE"


def numeric_thread_environment() -> dict[str, str]:
    """The environment that sizes every numeric library's pool to ``NUMERIC_THREADS``."""
    return {name: str(NUMERIC_THREADS) for name in THREAD_VARIABLES}


def confine(limits: Limits, cgroup: ProcessCgroup | None = None, parent: int | None = None) -> None:
    """Runs in the child between fork and exec. A refused step is skipped, except joining a
    cgroup that was made for it: that failure fails the start (Popen raises) rather than run
    student code without its process ceiling. ``parent``: see ``die_with_parent``."""
    die_with_parent(parent)
    if cgroup:
        cgroup.join()
    # with a pids cgroup, RLIMIT_NPROC is only its backstop: the cgroup refuses first, and its
    # counter (pids.events) then tells that the limit was reached (ProcessCgroup.limits_reached)
    processes = limits.max_processes and limits.max_processes + (NPROC_BACKSTOP if cgroup else 0)
    for name, value in ((resource.RLIMIT_AS, limits.memory_mb and limits.memory_mb << 20),
                        (resource.RLIMIT_FSIZE, limits.file_size_mb and limits.file_size_mb << 20),
                        (resource.RLIMIT_NPROC, processes)):
        if value:
            resource.setrlimit(name, (value, value))
    if not limits.network:
        isolate_network()


def die_with_parent(parent: int | None = None) -> None:
    """SIGKILL this process when its parent ends. Linux clears the setting when the process
    changes user, so it is set again after any such change.

    The signal comes only for a parent that ends *after* it is set; a parent killed in the
    window before (between the fork and this call, or around a change of user) leaves this
    process an orphan that nothing would ever kill (a kernel left running after ``kill -9``
    of the grader). So a caller that knows its parent's PID (the parent takes ``os.getpid()``
    before the fork) passes it, and if this process has another parent by now, it ends here."""
    try:  # a grader killed with -9 must not leave kernels running on
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the process group kill on timeout still applies
    if parent is not None and os.getppid() != parent:
        os._exit(EXIT_PARENT_GONE)  # not SIGKILL: PID 1 of a namespace ignores its own


def end_forked_process(status: int) -> NoReturn:
    """End a process forked from a Python one (a zygote's child, a kernel template): what it
    printed is flushed, then it exits without the interpreter's shutdown, whose atexit hooks
    and thread joins belong to the process it was forked from."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # exiting regardless
            pass
    os._exit(status)
