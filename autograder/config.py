"""Each assignment's grading settings, read from one file: ``assignments/<name>/grading.toml``.

Thresholds, tolerances, time limits and the hidden tuning grid are course decisions that
an instructor changes between terms; they live beside the master notebook, not as
constants in the modules that use them. The autograder zip carries a copy of the file
inside its copy of this package (``autograder/_assignments/<name>/grading.toml``), which
is looked up first, so a zip always grades with the settings it was built with.
"""

from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_ASSIGNMENTS_DIR = PACKAGE_DIR / "_assignments"
REPO_ASSIGNMENTS_DIR = PACKAGE_DIR.parent / "assignments"
ASSIGNMENTS_DIR_ENV_VAR = "AUTOGRADER_ASSIGNMENTS_DIR"
CONFIG_FILENAME = "grading.toml"


class ConfigError(RuntimeError):
    """A missing or malformed grading.toml."""


def assignments_dir() -> Path:
    """Where master notebooks live: the environment variable, else the repository's folder."""
    return Path(os.environ.get(ASSIGNMENTS_DIR_ENV_VAR, REPO_ASSIGNMENTS_DIR))


def config_path(assignment: str) -> Path:
    path = assignment_file(assignment, CONFIG_FILENAME)
    if path is None:
        raise ConfigError(f"no {CONFIG_FILENAME} for assignment {assignment!r} in "
                          f"{BUNDLED_ASSIGNMENTS_DIR} or {assignments_dir()}")
    return path


def assignment_file(assignment: str, name: str) -> Path | None:
    """A file the build put beside the assignment's grading.toml (the zip's copy first)."""
    for folder in (BUNDLED_ASSIGNMENTS_DIR, assignments_dir()):
        candidate = folder / assignment / name
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=None)
def assignment_config(assignment: str) -> dict[str, Any]:
    path = config_path(assignment)
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from error


def setting(assignment: str, *keys: str) -> Any:
    """One value by its path, e.g. ``setting("nn_foundations", "grading", "dataset")``."""
    node: Any = assignment_config(assignment)
    for depth, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"{config_path(assignment)} has no [{'.'.join(keys[:depth + 1])}]")
        node = node[key]
    return node


def threshold(assignment: str, dataset: str, name: str) -> float:
    """Accuracy thresholds are per dataset: MNIST and digits do not reach the same scores."""
    return float(setting(assignment, "thresholds", dataset, name))
