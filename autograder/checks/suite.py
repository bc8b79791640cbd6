"""Hidden checks as (inputs, probe, judge) triples, and the one function tests call.

Each hidden test cell of a master notebook is a single call::

    run_check(env, "nn_foundations", "unroll_single_image")

The check behind that name has three parts kept apart:

* ``inputs(rng)`` (grader side): the hidden inputs, generated from a seed derived from
  the check's name and, where the grader has the course secret, the submission's content
  (:func:`submission_salt`): the same file always meets the same cases, a resubmission meets
  new ones, and nobody without the secret can compute them; never stored in a file;
* ``probe(env, inputs)`` (student side, in ``<assignment>/probes.py``): calls the
  student's code on those inputs and returns plain values, deciding nothing;
* ``judge(inputs, answers)`` (grader side, in ``<assignment>/judges.py``): compares the
  answers with what is expected and raises :class:`CheckFailed` with the feedback.

Inputs go to the probe and answers come back through :mod:`channel`, exactly as they
would between two processes; so moving judges out of the student's process changes where
``run_check`` runs each part, not the checks themselves.

A gate is a check whose failure withdraws the points of the other checks of its question
(the course's rule: a test-set leak costs the whole tuning question).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.checks.channel import decode, encode, roundtrip
from autograder.checks.judging import CheckFailed
from autograder.checks.probing import ProbeFailure, failure_answer, failure_of
from autograder.seeding import seed_everything

if TYPE_CHECKING:
    from autograder.assignment import Manifest

Inputs = Callable[[np.random.Generator], Any]
Judge = Callable[[Any, Any], None]


def no_inputs(rng: np.random.Generator) -> None:
    """For checks that only read what the student defined."""
    return None


@dataclass(frozen=True)
class Check:
    name: str
    question: str
    probe: str  # a function name in the assignment's probes module
    judge: Judge
    inputs: Inputs = no_inputs
    gated: bool = True  # False for the gates themselves
    case: str = ""      # the hidden case its inputs are drawn for; its own name when empty

    @property
    def case_name(self) -> str:
        return self.case or self.name


@dataclass
class Suite:
    """The hidden checks of one assignment, registered by name."""

    assignment: str
    checks: dict[str, Check] = field(default_factory=dict)
    gates: dict[str, list[str]] = field(default_factory=dict)  # question -> gate check names
    # modules the judges import (the oracles): the grader imports them while the student's
    # cells run, so a multi-second import of Keras is not paid after them
    preload: tuple[str, ...] = ()

    def check(self, question: str, *, probe: str, inputs: Inputs = no_inputs,
               gate: bool = False, case: str = "") -> Callable[[Judge], Judge]:
        """Register the decorated judge as a check named after it: the one way to register,
        so that every check is a function a reader can find by its name. Judges that share
        their logic call one helper with their own inputs.

        ``case``: checks that judge different properties of one run of the student's code
        (the three judgements of a tuning run) name the same case. Their hidden inputs are
        then drawn from one seed, so the probe, and the slow student code it calls, runs once
        per grading; each check still judges its property on a hidden case drawn per
        submission."""
        def register(judge: Judge) -> Judge:
            name = judge.__name__
            if name in self.checks:
                raise ValueError(f"{self.assignment}: check {name!r} registered twice")
            self.checks[name] = Check(name, question, probe, judge, inputs, gated=not gate, case=case)
            if gate:
                self.gates.setdefault(question, []).append(name)
            return judge
        return register

    def questions(self) -> list[str]:
        return list(dict.fromkeys(check.question for check in self.checks.values()))

    def disagreements_with(self, manifest: Manifest) -> list[str]:
        """Where the master notebook's hidden tests and the registered checks differ: a test
        cell naming no registered check (it would fail every student), a registered check no
        test cell runs (it would never count), or a check filed under another question."""
        tested = manifest.check_points()
        problems = [f"the master notebook's test cell runs check {name!r}, which judges.py does not register"
                    for name in tested if name not in self.checks]
        problems += [f"judges.py registers check {name!r} ({check.question}), but no test cell of the "
                     "master notebook runs it" for name, check in self.checks.items() if name not in tested]
        problems += [f"check {name!r} is registered under {self.checks[name].question} but tested in "
                     f"{question}" for name, (question, _) in tested.items()
                     if name in self.checks and self.checks[name].question != question]
        return problems


def load_suite(assignment: str) -> Suite:
    return importlib.import_module(f"autograder.checks.{assignment}.judges").SUITE


def load_probes(assignment: str):
    return importlib.import_module(f"autograder.checks.{assignment}.probes")


def submission_probes(assignment: str) -> frozenset[str]:
    """Probes that read the submitted file rather than ask the student's running code: the
    split grader runs them on its own copy (``SUBMISSION_PROBES`` of the probes module)."""
    return frozenset(getattr(load_probes(assignment), "SUBMISSION_PROBES", ()))


def check_seed(assignment: str, name: str, salt: bytes = b"") -> int:
    """A stable seed per check and submission: the same hidden inputs every time one file is
    graded, different across checks; ``salt`` (from :func:`submission_salt`) makes them differ
    across submissions. Without a salt they depend on the check alone (the otter runner, the
    in-process tests, zips built before course secrets)."""
    digest = hashlib.sha256(salt + f"{assignment}/{name}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def submission_salt(secret: bytes, notebook: bytes) -> bytes:
    """What makes one submission's hidden inputs its own: an HMAC of its notebook's bytes
    under the course secret. Only the grader holds the secret, so a student cannot compute
    the cases a file will meet, and a resubmitted (changed) file meets other cases."""
    if not secret:
        return b""
    return hmac.new(secret, hashlib.sha256(notebook).digest(), hashlib.sha256).digest()


def hidden_inputs(assignment: str, check: Check, salt: bytes = b"") -> Any:
    return check.inputs(np.random.default_rng(check_seed(assignment, check.case_name, salt)))


@dataclass
class _RunMemory:
    """What one grading run (one student namespace) has already computed."""

    env: Mapping[str, Any]  # held so that its id is not reused while remembered
    answers: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    gates: dict[str, CheckFailed | None] = field(default_factory=dict)


_memories: dict[int, _RunMemory] = {}


def run_memory(env: Mapping[str, Any]) -> _RunMemory:
    return _memories.setdefault(id(env), _RunMemory(env))


def collect_answers(assignment: str, check: Check, env: Mapping[str, Any], inputs: Any) -> Any:
    """Run the probe beside student code; a probe that cannot answer says why.

    Checks that share a probe and its inputs (three judgements of one tuning run) share
    its answers within a grading run, so slow student code runs once.
    """
    memory = run_memory(env).answers
    key = (assignment, check.probe, hashlib.sha256(encode(inputs)).hexdigest())
    if key not in memory:
        probe = getattr(load_probes(assignment), check.probe)
        seed_everything(check_seed(assignment, check.probe))
        try:
            memory[key] = encode(probe(env, roundtrip(inputs)))
        except ProbeFailure as failure:
            memory[key] = encode(failure_answer(str(failure)))
    return decode(memory[key])


def judge_answers(check: Check, inputs: Any, answers: Any) -> None:
    if (message := failure_of(answers)) is not None:
        raise CheckFailed(message)
    check.judge(inputs, answers)


# (check, hidden inputs) -> the probe's answers, wherever the probe ran
AnswerSource = Callable[[Check, Any], Any]


def verdict(assignment: str, check: Check, answers_for: AnswerSource,
            salt: bytes = b"") -> CheckFailed | None:
    """Run one check end to end; None means it passed."""
    inputs = hidden_inputs(assignment, check, salt)
    try:
        judge_answers(check, inputs, answers_for(check, inputs))
    except CheckFailed as failure:
        return failure
    return None


def gate_failure(suite: Suite, check: Check, answers_for: AnswerSource,
                 verdicts: dict[str, CheckFailed | None], salt: bytes = b"") -> str | None:
    """The name of the first failing gate of the check's question, each gate judged once per
    grading run (``verdicts`` remembers the gates already judged, and their failures)."""
    if not check.gated:
        return None
    for gate_name in suite.gates.get(check.question, []):
        if gate_name not in verdicts:
            verdicts[gate_name] = verdict(suite.assignment, suite.checks[gate_name], answers_for, salt)
        if verdicts[gate_name] is not None:
            return gate_name
    return None


def blocked_message(question: str, gate_name: str) -> str:
    """What a check withdrawn by a failed gate says. The evidence is the gate's own case
    (listed before the checks it gates), so that a feedback file shows it once."""
    return (f"No credit for this part: {question}'s test-set check failed (see `{gate_name}` "
            "above).")


def outcome(suite: Suite, check: Check, answers_for: AnswerSource,
            verdicts: dict[str, CheckFailed | None], salt: bytes = b"") -> CheckFailed | None:
    """A check's result with its question's gates applied: None means it passed."""
    blocked = gate_failure(suite, check, answers_for, verdicts, salt)
    if blocked is not None:
        return CheckFailed(blocked_message(check.question, blocked))
    return verdict(suite.assignment, check, answers_for, salt)


def run_check(env: Mapping[str, Any], assignment: str, name: str) -> None:
    """Entry point of a hidden test run beside the student's code (Otter's way, and the
    in-process tests'): raise CheckFailed with feedback, or return."""
    suite = load_suite(assignment)
    if name not in suite.checks:
        raise KeyError(f"{assignment} has no hidden check named {name!r}")
    failure = outcome(suite, suite.checks[name],
                      lambda check, inputs: collect_answers(assignment, check, env, inputs),
                      run_memory(env).gates)
    if failure is not None:
        raise failure
