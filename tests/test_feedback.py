"""The student's feedback file: a long message repeated by several checks of a question is shown once."""

from __future__ import annotations

from helpers import ASSIGNMENT

from autograder.report.feedback import REPEATED_MESSAGE_CHARS, feedback_markdown
from autograder.results import CaseResult, Status, SubmissionResult


def feedback_for(messages: dict[str, str]) -> str:
    cases = [CaseResult("q5_tuning", name, 1.0, 0.0, True, message, passed=False)
             for name, message in messages.items()]
    return feedback_markdown(SubmissionResult(ASSIGNMENT, "s", "s.ipynb", Status.GRADED, cases=cases))


def test_a_long_message_repeated_by_later_checks_is_shown_once():
    paragraph = "Withheld for a person to review: " + "evidence " * (REPEATED_MESSAGE_CHARS // 9)
    text = feedback_for({"first": paragraph, "second": paragraph, "third": "something else"})
    assert text.count(paragraph.strip()) == 1
    assert "The same as `first` above." in text
    assert "something else" in text


def test_a_short_message_is_repeated_as_it_is():
    short = "No credit for this part: q5_tuning's test-set check failed (see `gate` above)."
    assert feedback_for({"first": short, "second": short}).count(short) == 2


def test_a_gradebook_of_timeouts_only_writes_totals_as_numbers_of_one_kind():
    """A submission that timed out has no case: its total is 0.0, as a graded one's 2.0 is a
    float, so the column reads the same whichever rows a batch holds (it read "0" when every
    row had timed out, "0.0" when one had not)."""
    from autograder.grade.records import submission_result
    from autograder.report import gradebook
    from autograder.results import GradingOutcome
    timed_out = submission_result(ASSIGNMENT, "sleeps", "sleeps.ipynb",
                                  GradingOutcome(error="over the time limit", timed_out=True), asked=())
    assert isinstance(timed_out.score, float)
    assert gradebook(ASSIGNMENT, [timed_out]).to_csv(index=False).splitlines()[1].startswith("sleeps,timeout,0.0,")
