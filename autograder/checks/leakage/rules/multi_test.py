"""L1 multi-test: the test set scores more than one model.

Whether an evaluation can see several candidate models is the interpreter's finding (the
evaluated model is rebuilt, rebound or refitted in an enclosing loop, comprehension or inline
lambda, or the function is itself called once per candidate). Evaluations one after the other
are compared at the end: every model evaluated besides the final one was a candidate tried on
the test set.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from autograder.checks.leakage import messages
from autograder.checks.leakage.cells import short_source
from autograder.checks.leakage.events import Call, Evaluation, Place
from autograder.checks.leakage.rules.base import Location, Names, Rule, Verdicts, location


@dataclass(frozen=True)
class _Site:
    """An evaluation on test data, for the "different models" part of L1."""
    seq: int
    location: Location
    identity: frozenset[str]
    receiver: str
    counts: bool


class MultiTest(Rule):
    code = "L1"

    def __init__(self, verdicts: Verdicts, names: Names):
        super().__init__(verdicts, names)
        self.sites: dict[tuple, _Site] = {}
        self.sequence = count()

    def on_fit(self, call: Call, search: bool, place: Place) -> None:
        """A search fitted on test data scores every candidate on it."""
        if search:
            self.report_test_inputs(call, place, lambda data, anchor: messages.search_on_test(call, data, anchor))

    def on_cross_validation(self, call: Call, place: Place) -> None:
        self.report_test_inputs(call, place,
                                lambda data, anchor: messages.cross_validation_on_test(call, data, anchor))

    def on_evaluation(self, evaluation: Evaluation, place: Place) -> None:
        data_node, data_value = evaluation.tested[0]
        for anchor in evaluation.anchors:
            where = location(evaluation.call.node, anchor, place)
            if evaluation.candidates:
                self.report(where, messages.repeated_evaluation(
                    evaluation.receiver_node, data_node, data_value, anchor, place.in_loop, place.function,
                    self.names.train))
            self.record_site(where, evaluation.identity, short_source(evaluation.receiver_node),
                             counts=not place.standalone)

    def record_site(self, where: Location, identity: frozenset[str], receiver: str, counts: bool) -> None:
        key = (where, identity)
        if key not in self.sites:
            self.sites[key] = _Site(next(self.sequence), where, identity, receiver, counts)

    def finish(self) -> None:
        """Sites evaluating another model than the final one: every such model was a candidate
        tried on the test set. The final model is the last one evaluated whose name says so
        (the course asks for ``final_mlp``), else simply the last one evaluated. Models other
        questions ask to report a test score for are part of the assignment, not candidates."""
        sites = sorted((site for site in self.sites.values()
                        if site.counts and site.receiver not in self.names.reported_models),
                       key=lambda site: site.seq)
        if len(sites) < 2:
            return
        named_final = [site for site in sites if "final" in site.receiver.lower()]
        final = (named_final or sites)[-1]
        for site in sites:
            if site.identity.isdisjoint(final.identity):
                self.report(site.location, messages.distinct_models(site.receiver, final.receiver, final.location,
                                                                    self.names.train))

    def final_model(self) -> str | None:
        """The student's own name for the final model, if an evaluated model's name says so."""
        final = [site.receiver for site in self.sites.values() if site.counts and "final" in site.receiver.lower()]
        return final[-1] if final else None
