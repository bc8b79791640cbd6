"""Start a command confined: ``python -m autograder.grade.jail CONFIG -- COMMAND…``.

Jupyter starts kernels itself, so the confinement of ``sandbox`` is applied by this small
program in between: it applies the limits to itself (cgroup, rlimits, network namespace,
death with its parent) and then replaces itself with the kernel, which inherits them all.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from autograder.grade.sandbox import Limits, ProcessCgroup, confine


def main(argv: list[str]) -> None:
    config, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: python -m autograder.grade.jail CONFIG -- COMMAND…")
    settings = json.loads(config)
    cgroup = ProcessCgroup(Path(settings["cgroup"])) if settings.get("cgroup") else None
    confine(Limits(**settings["limits"]), cgroup)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
