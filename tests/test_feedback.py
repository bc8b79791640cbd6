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
