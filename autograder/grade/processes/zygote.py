"""A zygote for the grading children: one process per grader that imports the runners' and
the judges' libraries once and forks a fresh child for each submission.

A fresh interpreter per submission paid Python's start, our imports and Keras' (about 4 s
of CPU) every time, for judging code that is the same for every student. Forking from a
process that already imported them costs milliseconds. Nothing of a submission ever reaches
the zygote (its requests name every submission ``submission.ipynb``): it imports libraries,
forks on the grader's request and reports exit codes; each child is still a new process, in a
session of its own, confined (rlimits, its cgroup) before it reads the submission, and it
forks, before that, the template that becomes the student's jailed kernel
(``kernel_template``), so the student's libraries are paid once too. The zygote runs no
TensorFlow operation (imports only) and is single-threaded when it forks, so no lock or
thread pool is copied half-held.

The zygote dies with the grader (``PR_SET_PDEATHSIG`` from a thread that lives as long as
the grader's process, and end of file on its requests), and its children with it.

    python -m autograder.grade.processes.zygote [MODULE …]   # started by Zygote()

Its requests (``requests.ForkRequest``) and replies (``Forked``, ``ForkRefused``,
``ChildExited``) are JSON lines on its standard input and output.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import queue
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import IO

from autograder.grade.isolation.cgroups import ProcessCgroup
from autograder.grade.isolation.limits import THREAD_VARIABLES, confine, die_with_parent, end_forked_process
from autograder.grade.processes.requests import (
    ChildExited,
    ChildJob,
    Forked,
    ForkRefused,
    ForkRequest,
    ZygoteReply,
    reply_from_json,
    reply_to_json,
)
from autograder.grade.runners import runner_for

# The runners whose grading children the zygote forks, and imports in advance: their modules
# (nbclient, jupyter_client, the jail) and what their children import to grade (``Runner.libraries``:
# Otter's runner, 1.3 of a toy notebook's 5 CPU-seconds through a fresh interpreter); and, named
# by the zip's manifest, the judges' libraries (Keras, scikit-learn); never the judges
# themselves, whose settings are the zip's
RUNNERS = ("split", "otter")
# what each child's kernel template starts (kernel_template): the app, the kernel class, and
# what ``IPKernelApp.initialize`` imports on its first call (IPython's debugger, completer,
# history and magics): none starts a thread or changes the process when imported. Not
# ``ipykernel.debugger``: its debugpy/pydevd import puts pydevd on ``sys.path`` and replaces
# ``sys.breakpointhook``, which the grading child must not inherit and the kernel does itself.
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "IPython.core.debugger", "IPython.core.completerlib",
                  "IPython.core.oinspect", "IPython.extensions.storemagic", "sqlite3", "tornado.gen",
                  "tornado.platform.asyncio", "tornado.queues")
# what every student notebook's first cell imports ("Initialize Otter"): about 0.4 s of each
# kernel's cells, 400 modules (nbconvert, Jinja, ipywidgets' trait regexes...), imported here
# once for all kernels. Except the packages whose own import binds to the kernel it runs in
# (KERNEL_BOUND): ipywidgets registers its comm targets with the running IPython, Otter's log
# handler keeps the ``sys.stderr`` of the moment and ipylab builds on ipywidgets. The zygote
# imports them for what they import, then forgets them (``forget_packages``), so the student's
# ``import otter`` runs their code in the kernel, as in a fresh one, in about 35 ms.
NOTEBOOK_MODULES = ("otter",)
KERNEL_BOUND = ("otter", "ipywidgets", "ipylab")
DISABLE_ENV_VAR = "AUTOGRADER_NO_ZYGOTE"  # "1": a fresh interpreter per child, as before
REPLY_TIMEOUT = 120.0  # seconds for the zygote to start (its imports) and fork


class ZygoteError(RuntimeError):
    """The zygote could not start a child."""


def usable() -> bool:
    """Daemonic worker processes (Dask's) recycle their threads and processes on their own
    terms, and a grader may opt out: both start a fresh interpreter per child instead."""
    import multiprocessing
    return not multiprocessing.current_process().daemon and os.environ.get(DISABLE_ENV_VAR) != "1"


# Grader side ------------------------------------------------------------------------------

class Zygote:
    """The grader's handle on its zygote process: ``fork`` a job, ``wait`` for a child."""

    def __init__(self, env: dict[str, str], preload: tuple[str, ...] = ()) -> None:
        # its own output (libraries' import noise) goes to a private log, not the TA's terminal
        descriptor, self.log = tempfile.mkstemp(prefix="autograder-zygote-", suffix=".log")
        self.failed = False  # the log is kept only when a fork failed (the error names it)
        atexit.register(self._forget_log)
        with os.fdopen(descriptor, "wb") as log:
            self.process = _start_from_a_lasting_thread(env, preload, log)
        self._requests = threading.Lock()   # one request, one reply at a time
        self._replies: queue.Queue[Forked | ForkRefused] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._changed = threading.Condition()
        self.dead = False
        self.running = 0        # children forked and not yet ended
        self.retiring = False   # replaced by a zygote with other libraries: ends once idle
        threading.Thread(target=self._read_messages, name="zygote-reader", daemon=True).start()

    def fork(self, job: ChildJob, cgroup: ProcessCgroup | None) -> int:
        """The pid of a new child running ``job``."""
        request = ForkRequest.for_job(job, cgroup.paths() if cgroup else None)
        with self._changed:
            self.running += 1  # counted from the request on, so that a retiring zygote waits for it
        with self._requests:
            stdin = self.process.stdin
            assert stdin is not None
            try:
                stdin.write(request.to_json())
                stdin.flush()
                reply = self._replies.get(timeout=REPLY_TIMEOUT)
            except (OSError, ValueError, queue.Empty) as error:  # ValueError: its requests were closed
                self._not_started()
                raise ZygoteError(f"the zygote did not start the child ({error!r}); see {self.log}") from error
        if not isinstance(reply, Forked):
            self._not_started()
            raise ZygoteError(f"{reply.error or 'the zygote gave no pid'}; see {self.log}")
        return reply.pid

    def _not_started(self) -> None:
        with self._changed:
            self.failed = True
            self.running -= 1
            self._end_if_idle()

    def retire(self) -> None:
        """End this zygote as soon as none of its children runs (now, if none does): closing
        its requests ends it, and children still running would die with it."""
        with self._changed:
            self.retiring = True
            self._end_if_idle()

    def _end_if_idle(self) -> None:
        if self.retiring and self.running == 0 and self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass

    def wait(self, pid: int, timeout: float | None) -> int | None:
        """The child's exit code (negative: the signal that ended it), or None if it still runs
        after ``timeout``. Children of a zygote that died were killed with it (-9)."""
        with self._changed:
            self._changed.wait_for(lambda: pid in self._exits or self.dead, timeout)
            if pid in self._exits:
                return self._exits.pop(pid)
            return -signal.SIGKILL if self.dead else None

    def _read_messages(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        for line in stdout:
            message = reply_from_json(line)
            if isinstance(message, ChildExited):
                with self._changed:
                    self._exits[message.pid] = message.code
                    self.running -= 1
                    self._end_if_idle()
                    self._changed.notify_all()
            else:
                self._replies.put(message)
        with self._changed:
            self.dead = True
            self._changed.notify_all()
        self._replies.put(ForkRefused("the zygote ended"))

    def _forget_log(self) -> None:
        if not self.failed:
            try:
                os.unlink(self.log)
            except OSError:
                pass

    @property
    def alive(self) -> bool:
        return not self.dead and self.process.poll() is None


def _start_from_a_lasting_thread(env: dict[str, str], preload: tuple[str, ...], log: IO[bytes]) -> subprocess.Popen:
    """Popen from a thread that never ends: ``PR_SET_PDEATHSIG`` fires when the thread that
    started a process ends, and the batch's worker threads end with their pool."""
    started: queue.Queue[subprocess.Popen | BaseException] = queue.Queue()

    def keeper() -> None:
        try:
            started.put(subprocess.Popen([sys.executable, "-m", __name__, *preload], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log, env=env,
                                         start_new_session=True, preexec_fn=partial(die_with_parent, os.getpid())))
        except BaseException as error:  # handed to the caller
            started.put(error)
            return
        threading.Event().wait()  # keep this thread, and so the zygote, alive with the grader
    threading.Thread(target=keeper, name="zygote-keeper", daemon=True).start()
    result = started.get()
    if isinstance(result, BaseException):
        raise ZygoteError(f"the zygote could not start: {result!r}")
    return result


_zygote: Zygote | None = None
_zygote_kind: tuple[tuple[tuple[str, str], ...], tuple[str, ...]] = ((), ())  # its thread share, libraries
_zygote_lock = threading.Lock()


def fork(job: ChildJob, cgroup: ProcessCgroup | None) -> tuple[int, Zygote]:
    """Start ``job`` in a child forked from this grader's zygote, started on first use with
    the job's libraries (the zip's judges') and the children's thread settings in its environment
    (OpenMP and OpenBLAS size their pools when they load, which happens in the zygote). A job
    that needs other libraries or another share gets a new zygote; the old one ends once its
    children have."""
    global _zygote, _zygote_kind
    threads = {name: job.env[name] for name in THREAD_VARIABLES if name in job.env}
    kind = (tuple(sorted(threads.items())), tuple(job.preload))
    with _zygote_lock:
        if _zygote is None or not _zygote.alive or kind != _zygote_kind:
            if _zygote is not None:
                _zygote.retire()
            _zygote, _zygote_kind = Zygote({**os.environ, **threads}, tuple(job.preload)), kind
        zygote = _zygote
    return zygote.fork(job, cgroup), zygote


# Zygote side ------------------------------------------------------------------------------

def serve(requests: IO[bytes], replies: int) -> None:
    """Fork a child per request line; report each child's pid, and its exit code when it ends.
    Single-threaded: a SIGCHLD wakes the loop through a pipe."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    buffered, incoming = b"", requests.fileno()
    while True:
        ready, _, _ = select.select([incoming, wake_read], [], [])
        if wake_read in ready:
            os.read(wake_read, 4096)
        _report_exits(replies)
        if incoming in ready:
            chunk = os.read(incoming, 1 << 20)
            if not chunk:
                return  # the grader is gone; the children die with this process
            buffered += chunk
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                _send(replies, _fork_child(ForkRequest.from_json(line), (wake_read, wake_write)))


def _fork_child(request: ForkRequest, wake: tuple[int, int]) -> ZygoteReply:
    zygote = os.getpid()
    try:
        pid = os.fork()
    except OSError as error:
        return ForkRefused(f"fork failed: {error}")
    if pid == 0:
        signal.set_wakeup_fd(-1)
        for fd in wake:
            os.close(fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _run_child(request, zygote)  # never returns
    return Forked(pid)


def _report_exits(replies: int) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(replies, ChildExited(pid, os.waitstatus_to_exitcode(status)))


def _send(replies: int, message: ZygoteReply) -> None:
    data = reply_to_json(message)
    while data:
        data = data[os.write(replies, data):]


def _run_child(request: ForkRequest, zygote: int) -> None:
    """In the forked child: become what ``python -m autograder.grade.runners RUNNER …`` started
    by Popen would be (a session of its own, the job's environment, folder and log, confined),
    then grade and exit without the interpreter's shutdown."""
    status = 1
    try:
        os.setsid()
        os.chdir(request.cwd)
        os.environ.clear()
        os.environ.update(request.env)
        log = os.open(os.path.join(request.cwd, "child.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(0)
        os.open(os.devnull, os.O_RDONLY)  # fd 0: not the zygote's requests
        cgroup = ProcessCgroup.from_paths(request.cgroup) if request.cgroup else None
        confine(request.limits, cgroup, parent=zygote)
        if request.runner not in RUNNERS:
            raise ZygoteError(f"the zygote runs the {' and '.join(RUNNERS)} runners only, not {request.runner}")
        submission, autograder_zip, report = map(Path, request.arguments)
        runner_for(request.runner).grade_into(submission, autograder_zip, report, from_zygote=True)
        status = 0
    except BaseException as error:  # reported in the log the grader reads
        print(f"the grading child failed: {type(error).__name__}: {error}", file=sys.stderr)
    finally:
        end_forked_process(status)


def import_all(modules: Iterable[str]) -> None:
    """Import each of ``modules`` that imports; a missing one is the business of whoever needs it."""
    for module in modules:
        try:
            __import__(module)
        except Exception:  # the child, or the kernel, that needs it reports the failure
            pass


def import_for_the_kernels() -> None:
    """What the student's kernels import, less what must run inside them (NOTEBOOK_MODULES), and
    what the runners' children grade with (Otter's runner imports Otter, so it comes here).
    Last, so that the regexes their import compiles are the newest in ``re``'s cache."""
    import_all(KERNEL_MODULES)
    import_all(runners_libraries())
    import_all(NOTEBOOK_MODULES)
    forget_packages(KERNEL_BOUND)


def forget_packages(packages: tuple[str, ...]) -> None:
    """As if ``packages`` had never been imported: their modules, and the loggers their import
    registered (a new import would otherwise find each logger with the old handlers on it)."""
    for name in [name for name in sys.modules if name.split(".")[0] in packages]:
        del sys.modules[name]
    loggers = logging.root.manager.loggerDict
    for name in [name for name in loggers if name.split(".")[0] in packages]:
        del loggers[name]


def import_the_runners() -> None:
    """The runners' own modules, with what they import (a missing library is reported by the
    child that needs it)."""
    for name in RUNNERS:
        try:
            runner_for(name)
        except Exception:  # the child reports the failure
            pass


def runners_libraries() -> list[str]:
    """What the runners' children grade with (``Runner.libraries``): imported with the kernels'
    libraries, before ``KERNEL_BOUND`` is forgotten, so Otter's own modules are forgotten too
    and an Otter child imports them anew in about 0.07 CPU-s (1.3 in a fresh interpreter), the
    libraries below them (nbconvert, Jinja) staying imported."""
    libraries: list[str] = []
    for name in RUNNERS:
        try:
            libraries += runner_for(name).libraries
        except Exception:  # the child reports the failure
            pass
    return libraries


def freeze_the_heap() -> None:
    """Move every object the imports made out of the cycle collector's reach (``gc.freeze``),
    once their garbage is collected. A forked child shares the zygote's pages until it writes
    them, and a full collection writes to every tracked object: a kernel forked from this
    process tracked 455,000 objects, a full collection there took 0.41 s, and its private
    memory was 184 MB at the end of an ``nn_foundations`` grading; frozen, 20,000 objects,
    0.012 s and 112 MB (its grading child: 165 MB → 69 MB; 8 submissions at 2 workers, the
    machine's peak 1.09 → 0.80 GiB, ``benchmarks/grading_speed.py``). Python's documentation advises it
    for processes that fork without exec. Frozen objects that become unreachable in a child
    are freed by their reference counts, only cycles among them stay, in pages still shared."""
    gc.collect()
    gc.freeze()


def main(preload: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the grader decides when children stop
    import_the_runners()
    import_all(preload)
    import_for_the_kernels()
    freeze_the_heap()
    replies = os.dup(1)
    os.dup2(2, 1)  # a library's print must not corrupt the replies
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main(sys.argv[1:])
