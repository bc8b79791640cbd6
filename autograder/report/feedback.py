"""What a student reads about one submission: per question, what passed and what to change.

grading.toml's ``[visibility]`` decides, per check, what Gradescope shows (each test's
``visibility`` in the results). The feedback file is what a student reads once grades are
handed out, after the due date: it leaves out the ``hidden`` checks, and then shows the points
of the checks it shows, not the total (as Gradescope hides the total where a test is hidden);
``after_due_date`` and ``after_published`` checks are in it (docs/grading.md, "Visibility").
"""

from __future__ import annotations

from typing import Any

from autograder.assignment import questions
from autograder.config import Visibility, config
from autograder.report.corrections import is_correction, manual_case, manual_section, score_scope
from autograder.results import CaseResult, Status, SubmissionResult

STATUS_SENTENCES = {
    Status.GRADED: "Your notebook ran from top to bottom and was graded.",
    Status.ERROR: "Your notebook could not be graded completely.",
    Status.TIMEOUT: "Your notebook ran out of time while it was being graded.",
    Status.INVALID: "Your file could not be graded.",
}

# A failure message longer than this, repeated word for word by later checks of the same
# question, is shown once; a shorter one reads better repeated than referred to.
REPEATED_MESSAGE_CHARS = 200


def feedback_markdown(result: SubmissionResult) -> str:
    lines = [f"# {result.assignment}: feedback for {result.submission}", "",
             score_sentence(result) + STATUS_SENTENCES[result.status]]
    if result.message:
        lines += ["", f"> {result.message}"]
    if result.dataset:
        lines += ["", f"Graded on the `{result.dataset.get('name')}` dataset "
                      f"({result.dataset.get('n_train')} training and {result.dataset.get('n_test')} "
                      "test images)."]
    if result.notes:
        lines += ["", "## While your notebook ran", "", *[f"- {note}" for note in result.notes]]
    for question in questions(result.assignment):
        lines += ["", *question_section(result, question)]
    return "\n".join(lines) + "\n"


def question_section(result: SubmissionResult, question) -> list[str]:
    if question.manual:  # once a TA scored it (manual_scores.csv), its points and comment
        scored = manual_case(question.name, result)
        if scored is not None and not shown_in_feedback(result, scored):  # as a hidden check's
            return [f"## {question.name}: {_points_shown(scored.score, scored.points, [scored])} (graded by a TA)"]
        return manual_section(question.name, question.points, result) or [
            f"## {question.name}: graded by a TA ({question.points:g} points)"]
    cases = [c for c in result.cases if c.question == question.name and (c.points > 0 or not c.passed)]
    withheld = [c for c in cases if not shown_in_feedback(result, c)]
    cases = [c for c in cases if shown_in_feedback(result, c)]
    earned = result.question_scores.get(question.name) or 0
    lines = [f"## {question.name}: " + (_points_shown(earned, question.points, withheld) if withheld
                                         else f"{earned:g} / {question.points:g}")]
    if not cases:
        return lines if withheld else [*lines, "", "Not graded (see above)."]
    first_with: dict[str, str] = {}  # a long message -> the first case of the question that says it
    for case in cases:
        mark = "✅" if case.passed else "❌"
        lines.append(f"- {mark} `{case.name}` ({case.score:g}/{case.points:g})")
        if not case.message or (case.passed and not is_correction(case)):  # a TA's reason is shown
            continue
        if case.message in first_with:  # a paragraph once per question, not once per check
            lines.append(f"  The same as `{first_with[case.message]}` above.")
            continue
        if len(case.message) > REPEATED_MESSAGE_CHARS:
            first_with[case.message] = case.name
        lines += [f"  {line}" for line in case.message.splitlines()]
    return lines


def gradescope_results(result: SubmissionResult) -> dict[str, Any]:
    """Gradescope's results.json: a score, an overall message, one test per check."""
    tests = [{
        "name": f"{case.question} · {case.name}",
        "score": case.score,
        "max_score": case.points,
        "status": "passed" if case.passed else "failed",
        "output": case.message or "Passed.",
        "visibility": visibility(result, case),
    } for case in result.cases if case.points > 0 or not case.passed]
    return {
        "score": result.score,
        "output": "\n\n".join([STATUS_SENTENCES[result.status] + (f" {result.message}" if result.message else ""),
                               *result.notes]),
        "tests": tests,
        "extra_data": {
            "assignment": result.assignment, "submission": result.submission,
            "source": result.source, "status": result.status, "possible": result.possible,
            "questions": result.question_scores, "dataset": result.dataset,
            "seconds": result.seconds, "sandbox": result.sandbox, "protections": result.protections,
        },
    }


def visibility(result: SubmissionResult, case: CaseResult) -> Visibility:
    """When the student sees this check's result on Gradescope (grading.toml's ``[visibility]``:
    the check's own entry, else its question's, else visible)."""
    return config(result.assignment).visibility_of(case.question, case.name)


def shown_in_feedback(result: SubmissionResult, case: CaseResult) -> bool:
    """Whether the feedback file shows the check: all but the ``hidden`` ones (it is read once
    grades are handed out, past the due date and published)."""
    return visibility(result, case) != "hidden"


def score_sentence(result: SubmissionResult) -> str:
    """The score, or where checks are not shown, the points of those that are (the total would
    tell their results)."""
    withheld = [c for c in result.cases if (c.points > 0 or not c.passed) and not shown_in_feedback(result, c)]
    if not withheld:
        return f"**Score: {result.score:g} / {result.possible:g}** {score_scope(result)}. "
    shown = _points_shown(result.score, result.possible, withheld)
    return f"**Score on the checks shown: {shown}** {score_scope(result)}. "


def _points_shown(earned: float, possible: float, withheld: list[CaseResult]) -> str:
    points = sum(c.points for c in withheld)
    not_shown = f"{points:g} point{'' if points == 1 else 's'} from checks not shown"
    if possible - points <= 0:
        return not_shown
    return f"{earned - sum(c.score for c in withheld):g} / {possible - points:g}; {not_shown} besides"
