"""Grading one submission: a runner in a child process, the student's kernel jailed.

* ``split_runner``: the student's kernel (``student_kernel``, jailed by ``jail``, confined by
  ``sandbox``) only answers probes; the judges run in the grading child;
* ``otter_runner``: plain Otter tests through ``otter run``;
* ``child``: ``grade_in_child``, which starts either runner in a confined child process of its
  own, the split runner's forked from the ``zygote`` (Keras and scikit-learn imported once);
* ``shipped``: what an autograder zip carries for the runners (manifest, grading.toml, secret);
* ``intake``: what a submitted file is, and whether it can be graded;
* ``results``: a ``SubmissionResult`` from what grading produced.

A batch of submissions is ``autograder.batch``; the Gradescope entry point is
``autograder.gradescope``.
"""

from __future__ import annotations

from pathlib import Path


def choose_runner(zip_path: Path, runner: str = "auto") -> str:
    """``auto``: ``split`` (the judges outside the student's process) for an assignment whose
    hidden tests are probes and judges, as every bundled one; ``otter`` for plain Otter tests,
    which can only run inside the student's kernel."""
    if runner != "auto":
        return runner
    from autograder.grade.shipped import autograder_files, hidden_cases
    return "split" if hidden_cases(autograder_files(zip_path)) else "otter"
