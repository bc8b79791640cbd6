"""A student kernel forked from a process that already imported the student's libraries.

A fresh kernel pays its imports every time (Keras alone is about 4.4 CPU-seconds of a
``keras_networks`` kernel's 4.5), though the grading child, forked from the grader's zygote,
already holds those libraries. So at its very start, before it has read anything of the
autograder zip (the course secret, the judges, the hidden cases) or imported a judge, the
grading child forks a *template* of itself that waits. When the judge starts the kernel, the
template becomes exactly what ``student_kernel.jail_command`` would have started, minus the
``exec``:

1. a session of its own (Jupyter signals the kernel's process group), the kernel's
   environment, and the grading child's namespaces joined (``setns``: the tmpfs folders
   live in its mount namespace, the loopback-only network in its network namespace);
2. the jail's limits on itself (cgroup, rlimits, death with its parent), then the jail's
   view and privilege drop (``jail.run_confined``), the same code the exec'd jail runs;
3. in the view, as the jail's command, the kernel starts in-process: every descriptor it
   inherited closed (the zygote's pipes among them), the grader's modules and ``sys.path``
   entry dropped, the random state and signals reset as a new interpreter would have them,
   then ``ipykernel`` as ``python -m ipykernel_launcher`` would run it.

Each template serves one kernel, of one submission, and is never reused; the split runner forks
a spare with the first for the first kernel started again after a death, and later ones are
fresh (the exec'd jail). The grader's plumbing it was forked with
(the zygote's loop, the split runner, the jail, this module) stays in the kernel's memory,
dropped from ``sys.modules`` only; none of it is secret. No judge, expected value, hidden input,
course secret or other student's file name was ever in the process it was forked from
(``tests/test_split_grading.py`` searches a kernel's memory for them).
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import json
import os
import random
import select
import signal
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, NoReturn

from autograder.config import PACKAGE_DIR
from autograder.grade.isolation import jail
from autograder.grade.isolation.jail import JailSettings
from autograder.grade.isolation.limits import die_with_parent, end_forked_process
from autograder.grade.isolation.namespaces import join_namespaces_of

LAUNCHER = ("-m", "ipykernel_launcher")  # the kernelspec's command this template can start in-process
ANSWER_SECONDS = 30.0                    # for the template to join the namespaces and confine itself
EXIT_TEMPLATE_FAILED = 71
_PR_SET_DUMPABLE = 4


class TemplateUnavailable(RuntimeError):
    """This template cannot start the kernel; the caller starts a fresh one (the exec'd jail)."""


def starts_in_process(command: list[str]) -> bool:
    """Is ``command`` the Python kernel this template can become (this interpreter, ipykernel)?"""
    return command[:1] == [sys.executable] and tuple(command[1:3]) == LAUNCHER


@dataclass
class ForkedKernel:
    """The template once it is the kernel: what Jupyter's provisioner expects of a Popen
    (it is this process's child, so ``waitpid`` works as for a Popen's)."""

    pid: int
    returncode: int | None = None
    stdin: None = None
    stdout: None = None
    stderr: None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -signal.SIGKILL  # reaped elsewhere: gone
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        if self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                self.returncode = -signal.SIGKILL
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


@dataclass(frozen=True)
class LaunchRequest:
    """What the grading child sends its template, over a pipe, to have it become the kernel:
    the kernel's command (``starts_in_process``), environment and folder, and the jail it
    runs in (what ``student_kernel.jail_command`` gives the exec'd jail)."""

    command: list[str]
    env: dict[str, str]
    cwd: str
    jail: JailSettings

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> LaunchRequest:
        values: dict[str, Any] = json.loads(data)
        return cls(command=list(values["command"]), env=dict(values["env"]), cwd=str(values["cwd"]),
                   jail=JailSettings.from_dict(values["jail"]))


@dataclass
class KernelTemplate:
    """The grading child's handle on its template: one ``launch``, or ``discard``."""

    pid: int
    go: int       # write end: the launch request (-1 once closed)
    answer: int   # read end: "ok", or why not (-1 once closed)
    used: bool = field(default=False)

    @classmethod
    def fork(cls, output: int | None = None) -> KernelTemplate:
        """Call only where this process holds nothing of a submission or of the grading: the
        template starts with a copy of its memory. ``output``: the descriptor its stdout and
        stderr become (``student_kernel.CappedOutput``), as a fresh kernel's would."""
        go_read, go_write = os.pipe()
        answer_read, answer_write = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(go_write)
            os.close(answer_read)
            if output is not None:
                os.dup2(output, 1)
                os.dup2(output, 2)
            _wait_for_launch(go_read, answer_write, parent)
        os.close(go_read)
        os.close(answer_write)
        return cls(pid, go_write, answer_read)

    def launch(self, request: LaunchRequest) -> ForkedKernel:
        """Have the template become the kernel ``request.command`` in the jail of
        ``request.jail``; returns once it is confined. Raises TemplateUnavailable (the
        template is then gone) if it cannot."""
        if self.used:
            raise TemplateUnavailable("this template already started a kernel")
        self.used = True
        if not starts_in_process(request.command):
            self._end()
            raise TemplateUnavailable(f"not a kernel this template can start: {request.command[:3]}")
        try:
            _write_all(self.go, request.to_json())
            os.close(self.go)
            self.go = -1  # end of the request: the template reads to it
            answer = _read_line(self.answer, ANSWER_SECONDS)
        except OSError as error:
            answer = f"the template did not answer ({error})"
        if answer != "ok":
            self._end()
            raise TemplateUnavailable(answer or "the template ended without answering")
        self._close_pipes()
        return ForkedKernel(self.pid)

    def discard(self) -> None:
        """End an unused template (a grading that never started its kernel, or started it
        without the template)."""
        if not self.used:
            self.used = True
            self._end()

    def _end(self) -> None:
        self._close_pipes()
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

    def _close_pipes(self) -> None:
        for fd in (self.go, self.answer):
            if fd >= 0:
                os.close(fd)
        self.go = self.answer = -1


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def _read_line(fd: int, seconds: float) -> str:
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], seconds)
        if not ready:
            return f"the template did not answer within {seconds:g} s"
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


# The template's side ------------------------------------------------------------------------

def _wait_for_launch(go: int, answer: int, parent: int) -> NoReturn:
    """In the template: wait for the request, become the confined kernel, or say why not."""
    try:
        die_with_parent(parent)
        _close_descriptors(keep={0, 1, 2, go, answer})
        request = LaunchRequest.from_json(_read_all(go))
        os.close(go)
        os.setsid()
        join_namespaces_of(os.getppid())
        os.environ.clear()
        os.environ.update(request.env)
        os.chdir(request.cwd)
        jail.confine_to(request.jail)
    except BaseException as error:  # reported to the judge, which starts a fresh kernel
        try:
            _write_all(answer, f"{type(error).__name__}: {error}\n".encode())
        finally:
            os._exit(EXIT_TEMPLATE_FAILED)
    _write_all(answer, b"ok\n")
    os.close(answer)
    jail.run_confined(request.jail, request.command, start_kernel_here)


def _read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 1 << 16):
        data += chunk
    return data


def start_kernel_here(command: list[str], env: dict[str, str]) -> NoReturn:
    """The jail's last step, in the kernel's process: start ``python -m ipykernel_launcher
    ARGS`` in-process, as a new interpreter would run it."""
    status = 1
    try:
        os.environ.clear()
        os.environ.update(env)
        _close_descriptors(keep={0, 1, 2})
        _dumpable_again()
        _forget_the_grader()
        _reset_process_state()
        # traits that read the environment when ipykernel was imported (in the zygote) are
        # given as a fresh interpreter would have read them
        launcher = importlib.util.find_spec("ipykernel_launcher")
        sys.argv = [(launcher and launcher.origin) or "ipykernel_launcher", *command[3:],
                    f"--IPKernelApp.parent_handle={int(env.get('JPY_PARENT_PID') or 0)}"]
        from ipykernel import kernelapp
        app = kernelapp.IPKernelApp.instance()  # what launch_new_instance does, in two steps
        app.initialize()
        _matplotlib_as_imported_now()
        app.start()
        status = 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    except BaseException as error:  # the judge sees the kernel die
        print(f"the kernel failed to start: {type(error).__name__}: {error}", file=sys.stderr)
    finally:
        end_forked_process(status)


def _matplotlib_as_imported_now() -> None:
    """Keras imports matplotlib, so the zygote did, when ``MPLBACKEND`` named no backend; the
    kernel's initialisation has set it since (Jupyter's inline backend). matplotlib reads it
    when imported: read it again, or figures would go to a backend that shows nothing. The
    backend module itself loads on the first figure, inside the kernel's shell, as when the
    student imports matplotlib in a fresh kernel."""
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None and os.environ.get("MPLBACKEND"):
        matplotlib.rcParams["backend"] = os.environ["MPLBACKEND"]


def _close_descriptors(keep: set[int]) -> None:
    """Close what this process inherited (the zygote's request and reply pipes, the grading
    child's files), except ``keep`` and ``/dev/null``, which libraries may hold and which
    reaches nothing."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd in keep:
            continue
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == os.devnull:
                continue
            os.close(fd)
        except OSError:
            pass  # the listing's own descriptor, already closed


def _dumpable_again() -> None:
    """Changing user made this process non-dumpable, which an ``exec`` would have undone: its
    ``/proc/self`` files would stay root's (``/proc/self/fd`` unlistable to the student's own
    code), unlike a fresh kernel's."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)


def _forget_the_grader() -> None:
    """The student's ``import autograder`` must find the runtime in its folder, as in a fresh
    kernel, and nothing of the grader's package; ``sys.path`` is a new interpreter's."""
    for name in [name for name in sys.modules if name == "autograder" or name.startswith("autograder.")]:
        del sys.modules[name]
    grader = str(PACKAGE_DIR.parent)
    # as ``ipykernel_launcher`` leaves it: the interpreter's own paths, without sys.path[0] (the
    # folder the zygote started in, the kernel's folder for a fresh one); IPython's init_path
    # then puts '' before site-packages, so a student's ``random.py`` never shadows the stdlib
    sys.path[:] = [path for path in sys.path[1:] if path not in ("", grader)]
    sys.path_importer_cache.clear()


def _reset_process_state() -> None:
    """What a new interpreter would have of its own rather than the zygote's copy."""
    random.seed()
    asyncio.set_event_loop_policy(None)  # no event loop of the process it was forked from
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
