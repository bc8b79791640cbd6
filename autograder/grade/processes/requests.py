"""What crosses between the grader, its zygote and the grading children, typed.

* ``ChildJob``: what one grading child runs (a runner, by name, on a submission), however it
  is started: a fresh interpreter (``python -m autograder.grade.runners RUNNER …``) or a
  fork of the zygote;
* ``ForkRequest``: the grader's request to its zygote, one JSON line: fork a child for a job,
  confined by these limits, in this cgroup;
* the zygote's replies, one JSON line each: ``Forked`` (the child's pid), ``ForkRefused``
  (why not), and, later, ``ChildExited`` (its exit code).

The questions a grading child judges (``autograder grade --only``) travel in its environment
(``ONLY_QUESTIONS_ENV_VAR``, read by ``only_questions``). The kernel template's request
(``kernel_template.LaunchRequest``) and the jail's settings
(``isolation.jail.JailSettings``) are typed beside the code that reads them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autograder.grade.isolation.limits import Limits


@dataclass(frozen=True)
class ChildJob:
    """What one grading child runs: the runner ``runner`` (``runners.RUNNERS``) on
    ``arguments`` (submission, autograder zip, report), in ``cwd`` with ``env``."""

    runner: str
    arguments: list[str]
    env: dict[str, str]
    cwd: str
    limits: Limits
    from_zygote: bool = False      # forked from the grader's zygote (the split runner only)
    preload: tuple[str, ...] = ()  # the judges' libraries, imported once by that zygote

    @property
    def log(self) -> Path:
        return Path(self.cwd) / "child.log"


@dataclass(frozen=True)
class ForkRequest:
    """The grader's request to its zygote: a child for ``job``, joined to ``cgroup``
    (``ProcessCgroup.paths()``; None: no cgroup)."""

    runner: str
    arguments: list[str]
    env: dict[str, str]
    cwd: str
    limits: Limits = field(default_factory=Limits)
    cgroup: list[str] | None = None

    @classmethod
    def for_job(cls, job: ChildJob, cgroup: list[str] | None) -> ForkRequest:
        return cls(job.runner, job.arguments, job.env, job.cwd, job.limits, cgroup)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode() + b"\n"

    @classmethod
    def from_json(cls, line: bytes) -> ForkRequest:
        values: dict[str, Any] = json.loads(line)
        return cls(runner=values["runner"], arguments=list(values["arguments"]), env=dict(values["env"]),
                   cwd=values["cwd"], limits=Limits(**values["limits"]), cgroup=values["cgroup"])


@dataclass(frozen=True)
class Forked:
    """The zygote forked the child: its pid."""

    pid: int


@dataclass(frozen=True)
class ForkRefused:
    """The zygote could not fork the child (or has ended): why."""

    error: str


@dataclass(frozen=True)
class ChildExited:
    """A child of the zygote ended: its exit code (negative: the signal that ended it)."""

    pid: int
    code: int


ZygoteReply = Forked | ForkRefused | ChildExited


def reply_to_json(reply: ZygoteReply) -> bytes:
    kind = {Forked: "forked", ForkRefused: "refused", ChildExited: "exited"}[type(reply)]
    return json.dumps({"kind": kind, **asdict(reply)}).encode() + b"\n"


def reply_from_json(line: bytes) -> ZygoteReply:
    values: dict[str, Any] = json.loads(line)
    kind = values.pop("kind")
    if kind == "forked":
        return Forked(int(values["pid"]))
    if kind == "exited":
        return ChildExited(int(values["pid"]), int(values["code"]))
    return ForkRefused(str(values.get("error", "")))


# The questions one grading child judges (``autograder grade --only``), comma-separated, in the
# grading child's environment (never the student kernel's); unset: every question. The split
# runner probes and judges only their checks; the Otter runner runs every test, and the batch
# keeps those questions' cases.
ONLY_QUESTIONS_ENV_VAR = "AUTOGRADER_ONLY_QUESTIONS"


def only_questions(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The questions this grading child is asked to judge (``ONLY_QUESTIONS_ENV_VAR``); empty: all."""
    value = (os.environ if environ is None else environ).get(ONLY_QUESTIONS_ENV_VAR, "")
    return frozenset(name for name in value.split(",") if name)
