"""The student's process: a Jupyter kernel that runs the submission and answers probes.

The kernel is the only process that ever runs student code. It starts through
the jail (``isolation.jail``: the limits of ``isolation.limits``, a cgroup of its own, a view
of its own), or from the kernel template (``processes.kernel_template``) in the same jail, in a
folder that holds the submitted notebook and nothing of the grader. The grader drives it
from outside: first the notebook's cells, one by one with a time limit each, then, only
once they have all run, the probe code and the hidden inputs, one probe at a time.

Whatever the kernel does (exit, kill itself, loop, flood its output) costs only the cell
or probe that did it: a dead kernel is started again and the cells that ran before are
replayed, so later probes still find the student's definitions.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from queue import Empty
from types import MappingProxyType
from typing import Any, cast

import nbformat
from jupyter_client import AsyncKernelClient, AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from autograder.config import PACKAGE_DIR
from autograder.grade.isolation.cgroups import ProcessCgroup, process_tree_cpu_seconds, process_tree_run_queue_waits
from autograder.grade.isolation.jail import JailSettings, View, isolation_of
from autograder.grade.isolation.limits import Limits
from autograder.grade.isolation.namespaces import own_namespaces
from autograder.grade.isolation.seccomp import seccomp_filtered
from autograder.grade.kernel.bootstrap import OUTPUT_BUDGET
from autograder.grade.processes.kernel_template import ForkedKernel, KernelTemplate, LaunchRequest, TemplateUnavailable

PROCESS_OUTPUT_BUDGET = 1 << 20  # bytes of what the kernel process writes to its stdout and stderr
RESTARTS = 3              # kernels started again after a death, per submission
# A cell past its time limit is interrupted; a kernel that does not even answer the interrupt
# (its event loop broken by the notebook) gets this reply instead of being waited for forever.
UNANSWERED = "CellTimeoutError"
# The per-cell limit counts CPU time (CpuWatch); a cell that waits without computing is given up
# after this many times the limit of wall time.
WALL_BACKSTOP = 5
# nbclient's own wall-clock timeout, this many times the backstop: only for a kernel whose
# processes cannot be read (the backstop itself is CpuWatch's, stretched by the load)
FAR_GUARD = 4
# After an interrupt, how long the kernel has to become responsive again (Python raises
# KeyboardInterrupt at its next instruction; a C call may take a moment) before it is taken
# for hung and replaced.
INTERRUPT_GRACE = 10.0
# The code of ``evaluate``'s requests (nbclient skips a request whose code is empty): a comment
# that only the pre- and post-execute events see, which the first request resets.
GRADER_REQUEST = "# the grader's request"
# A kernel that dies before answering kernel_info never ran student code (two kernels started
# at once can race for the same TCP ports): the grading child marks its outcome ``retryable``
# (set where the start failed, never read from this text, which a notebook could print) and
# the grader grades again. Otter's runner knows it by this message, jupyter_client's own.
KERNEL_START_FAILURE = "Kernel died before replying to kernel_info"


# The jail starts as root in the kernel's folder, which the student's code can write: with
# `python -m`, Python would import `autograder` from that folder, so a notebook could plant
# a module that the next kernel start runs as root. Isolated mode (-I: no current folder, no
# PYTHON* variables, no user site) and the grader's own package folder, named explicitly.
JAIL_LAUNCHER = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
                 "from autograder.grade.isolation.jail import main; main(sys.argv[1:])")


def jail_command(settings: JailSettings, command: list[str]) -> list[str]:
    """The command that runs ``command`` inside the jail described by ``settings``."""
    return [sys.executable, "-I", "-c", JAIL_LAUNCHER, str(PACKAGE_DIR.parent), settings.to_json(),
            "--", *command]


class ForkingKernelManager(AsyncKernelManager):
    """Starts the kernel as its kernelspec says or, given a ``template`` (``kernel_template``),
    has that pre-imported process become the kernel, confined by ``jail_settings`` (none by
    default: the Otter runner's kernel runs as that runner's child, under the child's limits).
    Asynchronous, as nbclient expects: with a blocking manager, nbclient's wait for output
    would block the event loop and never notice a kernel that died."""

    jail_settings: JailSettings = JailSettings()
    template: KernelTemplate | None = None
    template_failure: str = ""  # why the template could not start the kernel, if it could not
    _kernel_command: Sequence[str] = ()

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        self._kernel_command = super().format_kernel_cmd(extra_arguments)
        return list(self._kernel_command)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        template, self.template = self.template, None
        if template is None:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        assert self.provisioner is not None
        provisioner = cast(LocalProvisioner, self.provisioner)
        env = {**(kw.get("env") or os.environ), "JPY_PARENT_PID": str(os.getpid())}  # as launch_kernel sets it
        try:
            process = template.launch(LaunchRequest(list(self._kernel_command), env, str(kw.get("cwd") or os.getcwd()),
                                                    self.jail_settings))
        except TemplateUnavailable as error:
            self.template_failure = str(error)
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        provisioner.process = process  # type: ignore[assignment]  # Popen's interface, as the provisioner uses it
        provisioner.pid = process.pid
        provisioner.pgid = os.getpgid(process.pid)
        provisioner.cwd = kw.get("cwd")
        self._reconcile_connection_info(provisioner.connection_info)

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        """Wait for the kernel process to end, polled as often as the client polls: after the
        kill that ends every grading, jupyter_client's 0.1 s would be ~0.1 s of every
        submission spent asleep (the kernel is gone within milliseconds)."""
        await super()._async_wait(pollinterval=min(pollinterval, PromptKernelClient.poll_seconds))


class JailedKernelManager(ForkingKernelManager):
    """Starts the kernel through the jail, which confines it and then execs it, or, given a
    ``template``, has that process become the kernel in the same jail (the split runner's)."""

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return jail_command(self.jail_settings, super().format_kernel_cmd(extra_arguments))


class KernelStartFailed(RuntimeError):
    """The kernel died before it answered: no student code ran (two kernels started at once
    can race for the same ports), so the grading may be tried again."""


class PromptKernelClient(AsyncKernelClient):
    """jupyter_client's client, made ready sooner. Its ``wait_for_ready`` waits 0.2 s for an
    IOPub message after the kernel's first reply, then again for 0.2 s of IOPub silence: about
    0.2-0.4 s of every kernel start (a grading is a few seconds) spent waiting on a quiet
    socket. Same protocol, polled every 20 ms: ready once a kernel_info reply has come and
    IOPub has delivered a message (so outputs cannot be lost), then IOPub drained."""

    poll_seconds = 0.02
    # what the next execute request carries besides its code (``StudentKernel.evaluate``):
    # nbclient sends every request itself and knows no other options
    next_request: Mapping[str, Any] = MappingProxyType({})

    def execute(self, code: str, *args: Any, **kwargs: Any) -> str:
        options, self.next_request = self.next_request, {}
        return super().execute(code, *args, **{**kwargs, **options})

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while not await self._kernel_info_and_iopub():
            if not await self._async_is_alive():
                raise KernelStartFailed(KERNEL_START_FAILURE)
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=self.poll_seconds)
            except Empty:
                return

    async def _kernel_info_and_iopub(self) -> bool:
        self.kernel_info()
        try:
            reply = await self.shell_channel.get_msg(timeout=1)
        except Empty:
            return False
        if reply["msg_type"] != "kernel_info_reply":
            return False
        try:
            await self.iopub_channel.get_msg(timeout=self.poll_seconds)
        except Empty:
            return False
        self._handle_kernel_info_reply(reply)
        return True


class BoundedOutputClient(NotebookClient):
    """An nbclient whose cells keep at most OUTPUT_BUDGET characters of output: a cell that
    prints a gigabyte must not make the grader hold a gigabyte."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._output_used: dict[int, int] = {}  # characters received per cell
        self.replies: dict[int, dict] = {}      # execute_reply content per cell (ours when unanswered)
        self.on_cell_executed = self._keep_reply

    def _keep_reply(self, cell, cell_index: int, execute_reply: dict) -> None:
        self.replies[cell_index] = (execute_reply or {}).get("content", {})

    def output(self, outs, msg, display_id, cell_index):  # nbclient's signature
        size = len(json.dumps(msg.get("content", {}), default=str))
        used = self._output_used.get(cell_index, 0) + size
        self._output_used[cell_index] = used
        if used > OUTPUT_BUDGET:
            return None
        try:
            return super().output(outs, msg, display_id, cell_index)
        except nbformat.ValidationError as error:  # a display message crafted by the notebook
            note = (f"[an output this cell displayed was not valid notebook output and was dropped: "
                    f"{str(error).splitlines()[0][:200]}]\n")
            outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
            return None


class CappedOutput:
    """Where the kernel process's own stdout and stderr go (not its cells' output, which
    Jupyter carries): a pipe that a thread of the grading process drains, passing on the first
    ``budget`` bytes to the grader's log and counting the rest. A kernel that writes a
    gigabyte there fills no file and blocks on no full pipe."""

    def __init__(self, destination: int = 2, budget: int = PROCESS_OUTPUT_BUDGET) -> None:
        self.read_end, self.write_end = os.pipe()
        os.set_inheritable(self.write_end, True)
        self.destination, self.budget, self.dropped = destination, budget, 0
        self._thread = threading.Thread(target=self._drain, name="kernel-output", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        passed = 0
        while chunk := os.read(self.read_end, 1 << 16):
            room = max(0, self.budget - passed)
            kept, lost = chunk[:room], max(0, len(chunk) - room)
            passed += len(kept)
            if lost and not self.dropped:
                kept += (b"\n[the kernel wrote more than the grader keeps of its process output; "
                         b"the rest was dropped]\n")
            self.dropped += lost
            if kept:
                try:
                    os.write(self.destination, kept)
                except OSError:
                    pass


class RunStatus(StrEnum):
    """What running one cell did."""

    OK = "ok"
    ERROR = "error"      # it raised
    TIMEOUT = "timeout"  # interrupted at the cell limit; the kernel went on
    STOPPED = "stopped"  # it ignored the interrupt: its kernel was replaced, the cells before it replayed
    DIED = "died"        # it ended the kernel, which was started again
    LOST = "lost"        # no kernel was left to run it


@dataclass
class CellRun:
    index: int
    status: RunStatus
    error: str = ""
    value: str = ""  # ``evaluate``: the expression's value as IPython's plain-text repr
    swallowed_by: str = ""  # a library known to catch the interrupt and go on, if it was one
    waited: bool = False    # stopped by the wall-clock backstop, not the CPU-time limit


class CpuWatch:
    """The per-cell limit, in CPU time: a thread that reads what the kernel and everything it
    started used since the cell began (``cpu_seconds``: the cgroup's accounting, else the
    process tree's) and interrupts the cell once that passes ``limit``; a cell that does not
    stop within ``kill_after`` seconds of the interrupt is killed (the kernel is then
    replaced). The same work costs the same CPU time on an idle machine and a busy one, so the
    grade does not depend on the load.

    Wall time counts only as a backstop (``backstop`` seconds, ``WALL_BACKSTOP`` times the
    limit), for a cell that waits without computing (``time.sleep``, ``input()``), and it is
    stretched by the load: the time the cell's processes spent runnable but waiting for a CPU
    (``run_queue_waits``) does not count. Both runners use it: the split runner's StudentKernel
    and the Otter runner's executor."""

    poll_seconds = 0.1
    backstop_poll_seconds = 1.0  # the run-queue waits are read from /proc, less often

    def __init__(self, limit: float | None, cpu_seconds: Callable[[], float | None],
                 send_signal: Callable[[int], None], kill_after: float | None, *,
                 backstop: float | None = None, run_queue_waits: Callable[[], dict[int, int]] | None = None) -> None:
        self.limit, self.cpu_seconds, self.send_signal, self.kill_after = limit, cpu_seconds, send_signal, kill_after
        self.backstop, self.run_queue_waits = backstop, run_queue_waits
        self.interrupted = self.killed = self.waited = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cell-cpu-limit", daemon=True)

    def __enter__(self) -> CpuWatch:
        if self.limit and self.cpu_seconds() is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        limit, started = self.limit or 0.0, self.cpu_seconds() or 0.0
        began, waits_before, next_backstop_check = time.monotonic(), self._waits(), 0.0
        while not self._done.wait(self.poll_seconds):
            used = self.cpu_seconds()
            if used is not None and used - started > limit:
                break
            now = time.monotonic()
            if self.backstop and now - began > self.backstop and now >= next_backstop_check:
                next_backstop_check = now + self.backstop_poll_seconds
                if now - began - self._stretch(waits_before) > self.backstop:
                    self.waited = True
                    break
        else:
            return
        self.interrupted = True
        self.send_signal(signal.SIGINT)
        if self.kill_after is not None and not self._done.wait(self.kill_after):
            self.killed = True
            self.send_signal(signal.SIGKILL)

    def _waits(self) -> dict[int, int]:
        return self.run_queue_waits() if self.run_queue_waits else {}

    def _stretch(self, before: dict[int, int]) -> float:
        """Seconds the busiest of the cell's processes spent waiting for a CPU since it began."""
        now = self._waits()
        return max((wait - before.get(pid, 0) for pid, wait in now.items()), default=0) / 1e9


@dataclass
class StudentKernel:
    workdir: Path
    limits: Limits
    env: dict[str, str]
    cgroup: ProcessCgroup | None = None
    view: View | None = None  # the kernel's own root, PID namespace and user (jail.view_config)
    cells: list[str] = field(default_factory=list)  # sources run so far (for a replay)
    restarts: int = 0
    client: BoundedOutputClient | None = None
    interrupt_grace: float = INTERRUPT_GRACE  # seconds (a test of the kernel's replacement waits less)
    wall_backstop: float = WALL_BACKSTOP  # times the cell limit of wall time (tests set their own)
    template: KernelTemplate | None = None  # the next start's pre-imported process, if any
    # the templates of the kernels started again after a death, one each, in order (forked with
    # the first, before anything of the submission was read); once used up, fresh kernels
    spares: list[KernelTemplate] = field(default_factory=list)
    template_failure: str = ""  # why the template could not start it (a fresh kernel was started)
    output: CappedOutput | None = None  # the kernel process's stdout and stderr (None: the grader's)

    def start(self) -> None:
        manager = JailedKernelManager(kernel_name="python3", client_class=f"{__name__}.PromptKernelClient",
                                      connection_file=str(self.workdir / ".kernel.json"))
        # one kernel per template, never again: the next start takes a spare, if one is left
        manager.template, self.template = self.template, (self.spares.pop(0) if self.spares else None)
        # the network namespace is the judge's, which the kernel shares: they talk over its
        # loopback (the judge isolates itself first, see runners.split)
        manager.jail_settings = JailSettings(limits=replace(self.limits, network=True),
                                             cgroup=tuple(self.cgroup.paths()) if self.cgroup else None,
                                             view=self.view,
                                             parent=os.getpid())  # Jupyter starts the jail from this process
        notebook = nbformat.v4.new_notebook()
        # the backstop is CpuWatch's, stretched by the load; nbclient's own timeout is only a far
        # guard, for a kernel whose processes cannot be read
        wall = self.limits.cell_timeout and self.limits.cell_timeout * self.wall_backstop * FAR_GUARD
        client = BoundedOutputClient(notebook, km=manager, timeout=wall,
                                     interrupt_on_timeout=True, allow_errors=True,
                                     error_on_timeout={"ename": UNANSWERED, "traceback": [],
                                                       "evalue": "the cell did not finish in time"},
                                     kernel_name="python3", record_timing=False,
                                     resources={"metadata": {"path": str(self.workdir)}})
        streams = {"stdout": self.output.write_end, "stderr": self.output.write_end} if self.output else {}
        try:
            client.start_new_kernel(env=self.env, **streams)
        finally:
            self.template_failure = self.template_failure or manager.template_failure
        client.start_new_kernel_client()
        self.client = client

    def run(self, source: str, *, replayable: bool = True) -> CellRun:
        """Execute one cell. A cell that kills the kernel, or hangs it past the interrupt, is
        not replayed: the kernel is replaced and the cells before it run again."""
        if self.client is None:
            return CellRun(-1, RunStatus.LOST, "not run: the notebook's Python process had ended "
                                       f"{RESTARTS + 1} times, and the grader stopped starting it again")
        cell = nbformat.v4.new_code_cell(source)
        self.client.nb.cells.append(cell)
        index = len(self.client.nb.cells) - 1
        limit = self.limits.cell_timeout
        watch = CpuWatch(limit, self.cpu_seconds, self.signal_kernel, self.interrupt_grace,
                         backstop=limit and limit * self.wall_backstop, run_queue_waits=self.run_queue_waits)
        try:
            with watch:
                self.client.execute_cell(cell, index)
        except DeadKernelError:
            self._revive()
            if watch.killed:
                return CellRun(index, RunStatus.STOPPED, "it did not stop when interrupted")
            return CellRun(index, RunStatus.DIED, "the Python process ended while running this cell")
        run = _outcome(index, cell, self.client)
        if watch.interrupted and run.status in (RunStatus.OK, RunStatus.ERROR):
            # past the limit, interrupted, and it went on to the end: something caught the interrupt
            run = CellRun(index, RunStatus.TIMEOUT, "it went on after the interrupt",
                          swallowed_by=_who_caught_the_interrupt(cell))
        run.waited = run.status == RunStatus.TIMEOUT and (watch.waited or not watch.interrupted)
        if run.status == RunStatus.TIMEOUT and not self._responsive(self.interrupt_grace):
            self._revive()
            return CellRun(index, RunStatus.STOPPED, "it did not stop when interrupted")
        if replayable and run.status != RunStatus.TIMEOUT:  # a cell that ran out of time would again
            self.cells.append(source)
        return run

    def cpu_seconds(self) -> float | None:
        """The CPU time the kernel and everything it started used so far: its cgroup's
        accounting, or its process tree's where it has no cgroup."""
        if self.cgroup is not None and (used := self.cgroup.cpu_seconds()) is not None:
            return used
        process = self._process()
        return process_tree_cpu_seconds(process.pid) if process is not None else None

    def run_queue_waits(self) -> dict[int, int]:
        process = self._process()
        return process_tree_run_queue_waits(process.pid) if process is not None else {}

    def signal_kernel(self, number: int) -> None:
        """``number`` to the kernel's process group, as Jupyter interrupts it."""
        process = self._process()
        if process is not None:
            try:
                os.killpg(os.getpgid(process.pid), number)
            except (ProcessLookupError, PermissionError):
                pass

    def _process(self) -> Any:
        return getattr(getattr(self.client.km, "provisioner", None), "process", None) if self.client else None

    def evaluate(self, expression: str) -> CellRun:
        """Evaluate one expression of the grader's in the kernel, as IPython evaluates a user
        expression of a silent request whose code is a comment: no input or AST transformer
        sees the expression, no run-cell event fires around it, nothing enters the history. The per-cell limit, the
        interrupt and the replacement of a dead or hung kernel apply as to a cell. Never
        replayed."""
        if self.client is not None and self.client.kc is not None:
            client = cast(PromptKernelClient, self.client.kc)
            client.next_request = {"silent": True, "store_history": False,
                                   "user_expressions": {"value": expression}}
        run = self.run(GRADER_REQUEST, replayable=False)
        if run.status != RunStatus.OK or self.client is None:
            return run
        result = self.client.replies.get(run.index, {}).get("user_expressions", {}).get("value", {})
        if result.get("status") == "ok":
            run.value = str(result.get("data", {}).get("text/plain", ""))
            return run
        name = str(result.get("ename", "")) or "no value"
        status = RunStatus.TIMEOUT if name == "KeyboardInterrupt" else RunStatus.ERROR
        return CellRun(run.index, status, f"{name}: {result.get('evalue', '')}"[:500])

    def _responsive(self, seconds: float) -> bool:
        """Does the kernel answer a request within ``seconds``? Requests are handled in order,
        so a kernel still busy with an interrupted cell cannot."""
        assert self.client is not None
        assert self.client.kc is not None
        client = cast(AsyncKernelClient, self.client.kc)  # nbclient types kc as the sync KernelClient

        async def ask() -> None:
            await client.kernel_info(reply=True, timeout=seconds)
        try:
            run_sync(ask)()
            return True
        except Exception:  # TimeoutError, or a kernel that died meanwhile
            return False

    def _revive(self) -> None:
        """Start a fresh kernel and replay what had run, so later probes find the student's
        definitions; after RESTARTS deaths the kernel stays dead and probes fail."""
        self.shutdown()
        if self.restarts >= RESTARTS:
            return
        self.restarts += 1
        try:
            self.start()
        except (KernelStartFailed, RuntimeError):  # no kernel: the checks after this say so
            self.client = None
            return
        for source in list(self.cells):
            self.run(source, replayable=False)

    def stop_strays(self) -> int:
        """Kill what the cells left running beside the kernel (background processes, a fork
        bomb), so probes get the machine share of the kernel alone. Inside a view the kernel
        chain is recognisable: the jail outside, and PIDs 1 (init) and 2 (the kernel) inside."""
        if not (self.cgroup and self.view):
            return 0
        keep = frozenset(pid for pid in self.cgroup.members() if _inner_pid(pid) in (None, 1, 2))
        strays = len(self.cgroup.members()) - len(keep)
        self.cgroup.kill_all(keep=keep)
        return strays

    @property
    def forked(self) -> bool:
        """Is the running kernel a template become the kernel (``kernel_template``)?"""
        process = self._process()
        return isinstance(process, ForkedKernel)

    @property
    def isolation(self) -> str:
        """``view``, ``user`` or ``none`` (see jail.isolation_of), read from outside the kernel."""
        process = self._process()
        return isolation_of(process.pid) if process else "none"

    @property
    def namespaces(self) -> frozenset[str]:
        """The namespaces the kernel does not share with the grader (jail.own_namespaces)."""
        process = self._process()
        return own_namespaces(process.pid) if process else frozenset()

    @property
    def seccomp_filtered(self) -> bool:
        """Does the kernel run under the jail's seccomp filter (read from outside)?"""
        process = self._process()
        return process is not None and seccomp_filtered(process.pid)

    @property
    def alive(self) -> bool:
        return (self.client is not None and self.client.km is not None
                and run_sync(cast(AsyncKernelManager, self.client.km).is_alive)())

    def shutdown(self) -> None:
        if self.client is None:
            return
        try:
            run_sync(cast(AsyncKernelManager, self.client.km).shutdown_kernel)(now=True)
        except Exception:  # a kernel that is already gone
            pass
        if self.cgroup:
            self.cgroup.kill_all()
        self.client = None


def _outcome(index: int, cell: nbformat.NotebookNode, client: BoundedOutputClient) -> CellRun:
    reply = client.replies.get(index, {})
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    if reply.get("ename") == UNANSWERED:
        errors = [reply]
    if not errors:
        return CellRun(index, RunStatus.OK)
    name = errors[0].get("ename", "")
    status = RunStatus.TIMEOUT if name in ("KeyboardInterrupt", UNANSWERED) else RunStatus.ERROR
    return CellRun(index, status, f"{name}: {errors[0].get('evalue', '')}")


# What a library prints when it catches the interrupt, keeps what it has and returns: the cell
# then goes on past its limit, and the student should hear which call did it.
INTERRUPT_CATCHERS = {
    "Training interrupted by user": "scikit-learn's MLPClassifier/MLPRegressor `fit` (it stops "
                                    "training when interrupted, keeps the model it has and returns)",
}


def _who_caught_the_interrupt(cell: nbformat.NotebookNode) -> str:
    text = "".join(str(output.get("text", "")) for output in cell.outputs)
    return next((library for marker, library in INTERRUPT_CATCHERS.items() if marker in text), "")


def _inner_pid(pid: int) -> int | None:
    """The PID of ``pid`` in the innermost PID namespace it belongs to; None if that is ours."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return -1
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            pids = line.split()[1:]
            return int(pids[-1]) if len(pids) > 1 else None
    return None


@dataclass(frozen=True)
class NotebookCell:
    """A code cell grading runs, with where the student finds it: ``number`` counts every
    cell of the notebook from 1, as Jupyter's cell list shows them."""

    number: int
    source: str

    @property
    def label(self) -> str:
        first = next((line.strip() for line in self.source.splitlines() if line.strip()), "")
        return f"cell {self.number} (`{first[:60]}{'…' if len(first) > 60 else ''}`)"


def notebook_code_cells(notebook: nbformat.NotebookNode) -> list[NotebookCell]:
    """The cells grading runs: code cells, except those tagged ``otter_ignore`` (training the
    grader does itself) and those that only call the Otter grader (checks, export)."""
    cells = []
    for number, cell in enumerate(notebook.cells, 1):
        if cell.cell_type != "code" or "otter_ignore" in cell.metadata.get("tags", []):
            continue
        lines = [line.strip() for line in cell.source.splitlines() if line.strip()
                 and not line.strip().startswith("#")]
        if lines and all(line.startswith("grader.") for line in lines):
            continue
        cells.append(NotebookCell(number, cell.source))
    return cells


def cell_notes(cells: list[NotebookCell], runs: list[CellRun], cell_timeout: float | None) -> list[str]:
    """What the student reads about the cells that did not simply run: which cell, what
    happened, what the grader did about it and what to change."""
    limit = f"{cell_timeout:g} s" if cell_timeout else "the time limit"
    computing = (f"{limit} of computing time (the per-cell limit, counted in CPU time, so a busy "
                 "grading machine does not change it)")
    waited = (f"{cell_timeout * WALL_BACKSTOP:g} s" if cell_timeout else "the time limit")
    notes = []
    for cell, run in zip(cells, runs):
        where = cell.label[0].upper() + cell.label[1:]
        if run.status == RunStatus.ERROR:
            notes.append(f"{where} raised {run.error}. The cells after it still ran; checks that "
                         "need what it defines fail. Run the notebook top to bottom (Restart & Run "
                         "All) to see the error.")
        elif run.status == RunStatus.TIMEOUT and run.swallowed_by:
            notes.append(f"{where} used {computing} and was interrupted, but {run.swallowed_by}, so "
                         "the cell went on past the limit; what it computed after that is not counted. "
                         f"Make it finish well within {limit}: fewer candidates, epochs or iterations.")
        elif run.status == RunStatus.TIMEOUT and run.waited:
            notes.append(f"{where} was still waiting after {waited} (it computed less than the "
                         f"{limit} per-cell limit, but waiting is stopped at {waited}: `time.sleep`, "
                         "`input()`, a lock) and was interrupted; the cells after it still ran. Remove "
                         "what waits.")
        elif run.status == RunStatus.TIMEOUT:
            notes.append(f"{where} used {computing} and was interrupted; the cells after it still "
                         f"ran. Make it finish well within {limit}: look for a loop that never ends, "
                         "or train for fewer epochs.")
        elif run.status == RunStatus.STOPPED:
            notes.append(f"{where} used {computing} and did not stop when interrupted (it catches "
                         "KeyboardInterrupt, or ignores SIGINT), so the grader ended its Python process, "
                         "started a fresh one, ran the cells before it again and the cells after it "
                         "without it. Checks that need what it defines fail. Make it finish within "
                         f"{limit} and let it be interrupted.")
        elif run.status == RunStatus.DIED:
            notes.append(f"{where} ended the notebook's Python process (an exit, a kill or a "
                         "crash); the grader started a fresh one, ran the cells before it again and "
                         "went on. Remove sys.exit, os._exit and os.kill calls.")
        elif run.status == RunStatus.LOST:
            notes.append(f"{where} was not run: {run.error}.")
    return notes
