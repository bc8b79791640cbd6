"""The judge's client to the student's kernel for probes (``ProbeClient``), and the two
folders they talk through (``ProbeFolders``).

Once every student cell has run, the probe modules go into the kernel as source
(``PROBE_MODULES``, then the assignment's ``probes.py``), with ``bootstrap``'s reset and
install; then, per check, the hidden inputs are written to a request file, the probe is
evaluated as a user expression of a silent request (``StudentKernel.evaluate``: no
transformer or run-cell event of the notebook runs around it), and its reply is taken only if
its bytes are those the probe said it wrote. A probe that reads the submitted file
(``Suite.reads_the_submission``) reads the judge's own copy instead, outside the kernel.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import secrets
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.checks.probing import ProbeFailure, failure_answer
from autograder.config import PACKAGE_DIR
from autograder.grade.kernel.bootstrap import answer_expression, install_expression
from autograder.grade.kernel.student_kernel import RunStatus, StudentKernel

if TYPE_CHECKING:
    from autograder.checks.suite import Check, Suite

PROBE_MODULES = ("checks/channel.py", "checks/probing.py")  # below the package, in order
MAX_ANSWER_BYTES = 512 << 20
REQUESTS, ANSWERS = ".requests", ".answers"  # in the kernel's folder: judge → kernel, kernel → judge


class ProbeFolders:
    """The two folders probes talk through, as the judge holds them: descriptors opened before
    any student code ran, so a folder the notebook later renames or replaces by a symlink is
    not followed. Requests are created (never opened if they exist) and replies read only if
    they are regular files, without following a symlink, and at most MAX_ANSWER_BYTES: a FIFO,
    a device, a directory or a link in their place is a failed check, never a judge that
    blocks or reads a host file. Names are random per call, so nothing can be put in their
    place beforehand."""

    def __init__(self, workdir: Path) -> None:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        self.paths = {REQUESTS: workdir / REQUESTS, ANSWERS: workdir / ANSWERS}
        self.fds = {name: os.open(path, flags) for name, path in self.paths.items()}

    def new_names(self) -> tuple[str, str]:
        token = secrets.token_hex(8)
        return f"{token}.in", f"{token}.out"

    def write_request(self, name: str, data: bytes) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                     dir_fd=self.fds[REQUESTS])
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)

    def read_reply(self, name: str) -> bytes:
        """Raises ReplyUnreadable with what the student reads."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=self.fds[ANSWERS])
        except FileNotFoundError:
            raise ReplyUnreadable("no answer came back") from None
        except OSError as error:
            why = os.strerror(error.errno or 0)
            raise ReplyUnreadable(f"its answer could not be opened as a file ({why})") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ReplyUnreadable("something other than a file stood where its answer goes")
            if info.st_size > MAX_ANSWER_BYTES:
                raise ReplyUnreadable("your code returned far more data than the check needs; return "
                                      "only what the question asks for")
            with os.fdopen(os.dup(fd), "rb") as stream:
                data = stream.read(MAX_ANSWER_BYTES + 1)
        finally:
            os.close(fd)
        if len(data) > MAX_ANSWER_BYTES:  # it grew after fstat: written to while the judge read
            raise ReplyUnreadable("your code returned far more data than the check needs")
        return data

    def remove(self, *names: str) -> None:
        for folder, name in zip((REQUESTS, ANSWERS), names):
            try:
                os.unlink(name, dir_fd=self.fds[folder])
            except OSError:
                pass  # never there, or a folder the notebook put there: it goes with the kernel's folder

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)


class ReplyUnreadable(Exception):
    """A probe's reply could not be taken as one; the message says why, for the student."""


class ProbeClient:
    """Asks the kernel for answers (the grading run keeps them per (probe, inputs), so checks
    that share a probe run the student's code once). Each probe is evaluated as a user expression
    (``StudentKernel.evaluate``: no transformer or run-cell event of the notebook runs around
    it), and its reply is taken only if its bytes are those the probe said it wrote.

    What the kernel reports of hooks it found (``bootstrap``) is kept in
    ``hooks_reported``: evidence that can only add to what the judge reads from the file."""

    def __init__(self, suite: Suite, kernel: StudentKernel, notebook_dir: Path, folders: ProbeFolders) -> None:
        self.suite, self.assignment = suite, suite.assignment
        self.kernel, self.notebook_dir, self.folders = kernel, notebook_dir, folders
        self.seconds = 0.0  # spent getting answers (the student's code, called by the probes)
        self.install_error = ""             # why the probes could not be installed, if they could not
        self.timed_out: dict[str, str] = {}  # probe → its failure: a probe that hung is not called again
        self.hooks_reported: list[str] = []  # what the kernel found of the notebook's hooks

    def install_probes(self) -> None:
        """Sent only now, after every student cell has run."""
        sources = [(f"autograder.{Path(p).with_suffix('').as_posix().replace('/', '.')}",
                    (PACKAGE_DIR / p).read_text()) for p in PROBE_MODULES]
        probes = f"autograder.checks.{self.assignment}.probes"
        sources.append((probes, (PACKAGE_DIR / "checks" / self.assignment / "probes.py").read_text()))
        run = self.kernel.evaluate(install_expression(sources, self.assignment))
        found = _kernel_report(run.value) if run.status == RunStatus.OK else None
        if isinstance(found, list):
            self._keep_reported(found)
            self.install_error = ""
        else:
            self.install_error = (
                "your notebook changed Python itself (its built-in functions, the import system or the "
                f"grader's helpers), so the grader's code could not run beside it ({run.error or 'no report'}); "
                "remove those changes")

    def __call__(self, check: Check, inputs: Any) -> Any:
        """The answers to one check's inputs (a grading run's answer source: the run caches them)."""
        from autograder.checks.channel import encode
        from autograder.checks.suite import check_seed
        started = time.monotonic()
        if self.suite.reads_the_submission(check):
            answers = self._from_submission(check.probe)
        else:
            answers = self._from_kernel(check.probe_name, encode(inputs), check_seed(self.assignment, check.probe_name))
        self.seconds += time.monotonic() - started
        return answers

    def _from_submission(self, probe) -> Any:
        """Probes that read the submitted file read the grader's copy, which the student's
        code could not touch."""
        here = os.getcwd()
        os.chdir(self.notebook_dir)
        try:
            return probe({}, None)
        except ProbeFailure as failure:
            return failure_answer(str(failure))
        finally:
            os.chdir(here)

    def _from_kernel(self, probe: str, inputs: bytes, seed: int) -> Any:
        if not self.kernel.alive:
            return failure_answer("your notebook's Python process had ended (it exited or was killed more "
                                  "than once), so this check could not call your code; remove sys.exit, "
                                  "os._exit and os.kill calls from your notebook")
        if self.install_error or probe in self.timed_out:
            return failure_answer(self.install_error or self.timed_out[probe])
        request, reply = self.folders.new_names()
        try:
            self.folders.write_request(request, inputs)
            return self._ask(probe, seed, request, reply)
        except OSError as error:
            return failure_answer(f"the grader could not hand your code this check's inputs "
                                  f"({os.strerror(error.errno or 0)})")
        finally:
            self.folders.remove(request, reply)

    def _ask(self, probe: str, seed: int, request: str, reply: str) -> Any:
        from autograder.checks.channel import ChannelError, decode
        paths = self.folders.paths
        run = self.kernel.evaluate(answer_expression(probe, seed, str(paths[REQUESTS] / request),
                                                     str(paths[ANSWERS] / reply)))
        if run.status in (RunStatus.DIED, RunStatus.STOPPED):  # a fresh kernel, with the student's cells replayed
            self.install_probes()
        if run.status == RunStatus.DIED:
            return failure_answer("your code ended the Python process (an exit, a kill or a crash) "
                                  "when the grader called it; make your functions return instead")
        if run.status in (RunStatus.TIMEOUT, RunStatus.STOPPED):
            self.timed_out[probe] = (f"your code did not return within {self.kernel.limits.cell_timeout:g} s of "
                                     "computing time "
                                     "(the per-cell limit) when the grader called it: look for a loop "
                                     "that never ends")
            return failure_answer(self.timed_out[probe])
        if run.status == RunStatus.LOST:
            return failure_answer(f"this check could not call your code: {run.error}")
        said = _kernel_report(run.value) if run.status == RunStatus.OK else None
        if not isinstance(said, dict) or not isinstance(said.get("digest"), str):
            return failure_answer("the grader could not get an answer from your code "
                                  f"({run.error or 'the grader’s helper in your notebook’s process gave no answer'})")
        self._keep_reported(said.get("found"))
        try:
            data = self.folders.read_reply(reply)
        except ReplyUnreadable as unreadable:
            return failure_answer(f"the grader could not get an answer from your code: {unreadable}")
        if hashlib.sha256(data).hexdigest() != said["digest"]:
            self.hooks_reported.append("an answer changed after the grader's probe had written it")
            return failure_answer("the answer to this check was changed after the grader's probe had written "
                                  "it, by code of your notebook still running beside it; this check cannot be "
                                  "graded. Remove code that runs in the background or hooks into Python.")
        try:
            return decode(data)
        except (ChannelError, ValueError, KeyError, OSError) as error:
            return failure_answer(f"the grader could not read the answer your code gave ({type(error).__name__})")

    def _keep_reported(self, found: Any) -> None:
        for item in found if isinstance(found, list) else []:
            text = _plain(item)
            if text and text not in self.hooks_reported and len(self.hooks_reported) < MAX_REPORTED_HOOKS:
                self.hooks_reported.append(text)


MAX_REPORTED_HOOKS = 10


def _kernel_report(value: str) -> Any:
    """What a grader expression evaluated to in the kernel: a JSON text, as IPython's plain
    repr of a string. Anything else (a notebook that changed the grader's helpers) is None."""
    try:
        text = ast.literal_eval(value)
        return json.loads(text) if isinstance(text, str) else None
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def _plain(item: Any) -> str:
    """Text from the student's process, made safe to show: plain characters, bounded."""
    return re.sub(r"[^\w .,:;()<>'/-]", "", str(item))[:160] if isinstance(item, str) else ""
