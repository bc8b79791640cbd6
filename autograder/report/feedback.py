"""What a student reads about one submission: per question, what passed and what to change."""

from __future__ import annotations

from typing import Any

from autograder.assignment import questions
from autograder.results import Status, SubmissionResult

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
             f"**Score: {result.score:g} / {result.possible:g}** (autograded part). "
             + STATUS_SENTENCES[result.status]]
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
    if question.manual:
        return [f"## {question.name}: graded by a TA ({question.points:g} points)"]
    cases = [c for c in result.cases if c.question == question.name and (c.points > 0 or not c.passed)]
    earned = result.question_scores.get(question.name) or 0
    lines = [f"## {question.name}: {earned:g} / {question.points:g}"]
    if not cases:
        return [*lines, "", "Not graded (see above)."]
    first_with: dict[str, str] = {}  # a long message -> the first case of the question that says it
    for case in cases:
        mark = "✅" if case.passed else "❌"
        lines.append(f"- {mark} `{case.name}` ({case.score:g}/{case.points:g})")
        if case.passed or not case.message:
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
        "visibility": "visible",
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
