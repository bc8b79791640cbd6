"""Hidden checks: probes gather values beside student code, judges decide elsewhere.

See :mod:`autograder.checks.suite` for how a check is put together.
"""

from autograder.checks.judging import CheckFailed
from autograder.checks.suite import run_check

__all__ = ["CheckFailed", "run_check"]
