"""A grading child started afresh (``processes.grading_child.start_child``, where no zygote
forks it):

    python -m autograder.grade.runners RUNNER SUBMISSION AUTOGRADER_ZIP REPORT
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from autograder.grade.runners import runner_for


def main(argv: list[str]) -> None:
    name, submission, autograder_zip, report = argv[:4]
    runner = runner_for(name)
    runner.grade_into(Path(submission), Path(autograder_zip), Path(report))
    if runner.exits_at_once:
        # The report is written and closed; skip the interpreter's shutdown, which with
        # TensorFlow loaded takes about a second (its threads and atexit hooks) for nothing.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
