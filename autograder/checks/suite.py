"""Hidden checks, each one declaration, and the one function tests call.

Each hidden test cell of a master notebook is a single call::

    run_check(env, "nn_foundations", "unroll_single_image")

The check behind that name is declared once, in ``<assignment>/judges.py``, by decorating
its judge::

    @SUITE.check("q1_vectorize", probe=probes.unroll_results, cases=grayscale_batches,
                 expected=unrolled_batches)
    def unroll_grayscale_batches(inputs, answers, expected) -> None: ...

* ``cases(rng)`` (grader side): the hidden inputs, generated from a seed derived from
  the check's name and, where the grader has the course secret, the submission's content
  (:func:`submission_salt`): the same file always meets the same cases, a resubmission meets
  new ones, and nobody without the secret can compute them; never stored in a file;
* ``probe(env, inputs)`` (student side, a function of ``<assignment>/probes.py``, referenced
  as an object): calls the student's code on those inputs and returns plain values,
  deciding nothing;
* ``expected(inputs)`` (grader side, optional): the oracle, what a correct answer gives on
  those inputs; the tests read it to make sure no feedback ever quotes it;
* the judge ``(inputs, answers, expected)`` (grader side): compares, and raises
  :class:`CheckFailed` with the feedback.

Inputs go to the probe and answers come back through :mod:`channel`, exactly as they
would between two processes; so moving judges out of the student's process changes where
a :class:`GradingRun` gets its answers, not the checks themselves.

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

from autograder.checks.channel import encode, roundtrip
from autograder.checks.judging import CheckFailed
from autograder.checks.probing import ProbeFailure, failure_answer, failure_of
from autograder.seeding import seed_everything

if TYPE_CHECKING:
    from autograder.assignment import Manifest

Cases = Callable[[np.random.Generator], Any]
Probe = Callable[[Mapping[str, Any], Any], Any]
Oracle = Callable[[Any], Any]
JudgeFunction = Callable[[Any, Any, Any], None]


def no_inputs(rng: np.random.Generator) -> None:
    """For checks that only read what the student defined."""
    return None


@dataclass(frozen=True)
class Check:
    """One hidden check: everything about it, declared together."""

    name: str
    question: str
    probe: Probe          # a function of the assignment's probes module
    judge: JudgeFunction
    cases: Cases = no_inputs
    expected: Oracle | None = None  # what a correct answer gives on the hidden inputs
    gated: bool = True    # False for the gates themselves
    case: str = ""        # the hidden case its inputs are drawn for; its own name when empty

    @property
    def case_name(self) -> str:
        return self.case or self.name

    @property
    def probe_name(self) -> str:
        """How the probe is called across the channel (the kernel has the probes module too)."""
        return self.probe.__name__

    def expected_for(self, inputs: Any) -> Any:
        return None if self.expected is None else self.expected(inputs)


@dataclass
class Suite:
    """The hidden checks of one assignment, and what grading them needs besides."""

    assignment: str
    checks: dict[str, Check] = field(default_factory=dict)
    gates: dict[str, list[str]] = field(default_factory=dict)  # question -> gate check names
    # modules the judges import (the oracles): the grader imports them while the student's
    # cells run, so a multi-second import of Keras is not paid after them
    preload: tuple[str, ...] = ()
    # probes that read the submitted file rather than ask the student's running code: the
    # split grader runs them on its own copy of the file, which student code cannot rewrite
    submission_probes: tuple[Probe, ...] = ()
    # the grader's own training runs whose results the build records (name -> accuracy), so
    # that a batch reuses them instead of training the reference once per submission
    reference_trainings: Callable[[], dict[str, float]] | None = None

    def check(self, question: str, *, probe: Probe, cases: Cases = no_inputs, expected: Oracle | None = None,
              gate: bool = False, case: str = "") -> Callable[[JudgeFunction], JudgeFunction]:
        """Declare the decorated judge as a check named after it: the one way to declare,
        so that every check is a function a reader can find by its name, with its probe,
        its hidden cases and its oracle beside it. Judges that share their logic call one
        helper with their own inputs.

        ``case``: checks that judge different properties of one run of the student's code
        (the three judgements of a tuning run) name the same case. Their hidden inputs are
        then drawn from one seed, so the probe, and the slow student code it calls, runs once
        per grading; each check still judges its property on a hidden case drawn per
        submission."""
        def register(judge: JudgeFunction) -> JudgeFunction:
            name = judge.__name__
            if name in self.checks:
                raise ValueError(f"{self.assignment}: check {name!r} declared twice")
            self.checks[name] = Check(name, question, probe, judge, cases, expected, gated=not gate, case=case)
            if gate:
                self.gates.setdefault(question, []).append(name)
            return judge
        return register

    def reads_the_submission(self, check: Check) -> bool:
        return check.probe_name in {probe.__name__ for probe in self.submission_probes}

    def questions(self) -> list[str]:
        return list(dict.fromkeys(check.question for check in self.checks.values()))

    def disagreements_with(self, manifest: Manifest) -> list[str]:
        """Where the master notebook's hidden tests and the declared checks differ: a test
        cell naming no declared check (it would fail every student), a declared check no
        test cell runs (it would never count), or a check filed under another question."""
        tested = manifest.check_points()
        problems = [f"the master notebook's test cell runs check {name!r}, which judges.py does not declare"
                    for name in tested if name not in self.checks]
        problems += [f"judges.py declares check {name!r} ({check.question}), but no test cell of the "
                     "master notebook runs it" for name, check in self.checks.items() if name not in tested]
        problems += [f"check {name!r} is declared under {self.checks[name].question} but tested in "
                     f"{question}" for name, (question, _) in tested.items()
                     if name in self.checks and self.checks[name].question != question]
        return problems


def load_suite(assignment: str) -> Suite:
    return importlib.import_module(f"autograder.checks.{assignment}.judges").SUITE


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
    return check.cases(np.random.default_rng(check_seed(assignment, check.case_name, salt)))


# (check, hidden inputs) -> the probe's answers, wherever the probe ran
AnswerSource = Callable[[Check, Any], Any]


def judge_answers(check: Check, inputs: Any, answers: Any) -> None:
    if (message := failure_of(answers)) is not None:
        raise CheckFailed(message)
    check.judge(inputs, answers, check.expected_for(inputs))


class GradingRun:
    """One grading of one submission: where its answers come from, and what it has already
    asked and judged. The only cache of answers: checks that share a probe and its inputs
    (three judgements of one tuning run) share its answers, so slow student code runs once;
    each gate is judged once."""

    def __init__(self, suite: Suite, ask: AnswerSource, salt: bytes = b"") -> None:
        self.suite, self.ask, self.salt = suite, ask, salt
        self.answers: dict[tuple[str, str], Any] = {}
        self.gates: dict[str, CheckFailed | None] = {}

    def answers_for(self, check: Check, inputs: Any) -> Any:
        key = (check.probe_name, hashlib.sha256(encode(inputs)).hexdigest())
        if key not in self.answers:
            self.answers[key] = self.ask(check, inputs)
        return self.answers[key]

    def verdict(self, check: Check) -> CheckFailed | None:
        """Run one check end to end, its gates aside; None means it passed."""
        inputs = hidden_inputs(self.suite.assignment, check, self.salt)
        try:
            judge_answers(check, inputs, self.answers_for(check, inputs))
        except CheckFailed as failure:
            return failure
        return None

    def failed_gate(self, check: Check) -> str | None:
        """The name of the first failing gate of the check's question."""
        if not check.gated:
            return None
        for gate_name in self.suite.gates.get(check.question, []):
            if gate_name not in self.gates:
                self.gates[gate_name] = self.verdict(self.suite.checks[gate_name])
            if self.gates[gate_name] is not None:
                return gate_name
        return None

    def outcome(self, check: Check) -> CheckFailed | None:
        """A check's result with its question's gates applied: None means it passed."""
        blocked = self.failed_gate(check)
        if blocked is not None:
            return CheckFailed(blocked_message(check.question, blocked))
        return self.verdict(check)


def blocked_message(question: str, gate_name: str) -> str:
    """What a check withdrawn by a failed gate says. The evidence is the gate's own case
    (listed before the checks it gates), so that a feedback file shows it once."""
    return (f"No credit for this part: {question}'s test-set check failed (see `{gate_name}` "
            "above).")


def ask_in_process(assignment: str, env: Mapping[str, Any]) -> AnswerSource:
    """Answers from the probe run beside the student's code, as bytes through the channel
    (as between two processes); a probe that cannot answer says why."""
    def ask(check: Check, inputs: Any) -> Any:
        seed_everything(check_seed(assignment, check.probe_name))
        try:
            return roundtrip(check.probe(env, roundtrip(inputs)))
        except ProbeFailure as failure:
            return failure_answer(str(failure))
    return ask


class _InProcessRuns:
    """The grading run of the namespace being graded in this process: one at a time (a new
    namespace starts a new run, and the old one is dropped with everything it cached)."""

    current: GradingRun | None = None
    env: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, assignment: str, env: Mapping[str, Any]) -> GradingRun:
        if cls.current is None or cls.env is not env or cls.current.suite.assignment != assignment:
            cls.current, cls.env = GradingRun(load_suite(assignment), ask_in_process(assignment, env)), env
        return cls.current


def run_check(env: Mapping[str, Any], assignment: str, name: str) -> None:
    """Entry point of a hidden test run beside the student's code (Otter's way, and the
    in-process tests'): raise CheckFailed with feedback, or return."""
    run = _InProcessRuns.of(assignment, env)
    if name not in run.suite.checks:
        raise KeyError(f"{assignment} has no hidden check named {name!r}")
    failure = run.outcome(run.suite.checks[name])
    if failure is not None:
        raise failure
