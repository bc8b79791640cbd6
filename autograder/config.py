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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Setting:
    """One key of grading.toml: its type, whether an assignment must set it, and what it does."""

    kind: type | tuple[type, ...]
    description: str
    required: bool = False


NUMBER = (int, float)
# Every key grading.toml may have, by section; a key or section not listed here is a typo and
# an error. ``*`` stands for any name (a dataset's thresholds, a tolerance's check).
SCHEMA: dict[str, dict[str, Setting]] = {
    "grading": {
        "dataset": Setting(str, "what the grader loads when MNIST is not requested (digits, mnist)", True),
        "seed": Setting(int, "seed_everything() before every probe and the grader's own training", True),
        "submission_timeout": Setting(NUMBER, "seconds one whole submission may take to grade", True),
    },
    "limits": {
        "cell_timeout": Setting(NUMBER, "seconds of CPU time per notebook cell (5 times that of wall time for a "
                                        "cell that only waits); the cell is interrupted, grading goes on"),
        "memory_mb": Setting(int, "address space per process, and all the submission's processes together"),
        "file_size_mb": Setting(int, "largest file student code may write"),
        "max_processes": Setting(int, "processes and threads of one submission"),
        "disk_mb": Setting(int, "the kernel's writable folder and /tmp (tmpfs), split runner"),
        "network": Setting(bool, "false: student code gets a network namespace with loopback only"),
    },
    "tolerances": {"*": Setting(NUMBER, "absolute tolerance of one kind of numeric check")},
    "thresholds": {"*": Setting(dict, "accuracy thresholds on one dataset: [thresholds.<dataset>]")},
    "thresholds.*": {"*": Setting(NUMBER, "an accuracy a check requires on that dataset")},
    "training": {
        "optimizer": Setting(str, "Keras optimizer of the grader's training run"),
        "loss": Setting(str, "Keras loss of the grader's training run"),
        "batch_size": Setting(int, "batch size of the grader's training run"),
        "mlp_epochs": Setting(int, "epochs the grader trains a student's MLP architecture"),
        "cnn_epochs": Setting(int, "epochs the grader trains a student's CNN architecture"),
        "max_parameters": Setting(int, "the grader refuses to train an architecture with more parameters"),
        "max_flops_per_image": Setting(int, "the grader refuses to train an architecture whose forward pass "
                                            "takes more multiply-adds per image"),
        "judge_cpu_seconds": Setting(dict, "CPU-seconds one training run by the grader may use, per dataset: "
                                           "[training.judge_cpu_seconds]"),
    },
    "training.judge_cpu_seconds": {"*": Setting(NUMBER, "CPU-seconds of one training run by the grader on that "
                                                        "dataset; the run is stopped there and its check fails")},
    "leakage": {"reported_models": Setting(list, "models other questions ask to score once on the test set")},
    "tuning": {
        "rows": Setting(int, "training rows given to tune_mlp on the hidden problem"),
        "weak_learning_rates": Setting(list, "learning rates too small to learn in a tuning budget"),
        "strong_learning_rates": Setting(list, "learning rates that learn"),
        "weak_sizes": Setting(list, "hidden_layer_sizes too small to tell 10 classes apart"),
        "strong_sizes": Setting(list, "hidden_layer_sizes that can"),
    },
}


def validate_config(config: dict[str, Any], path: Path) -> None:
    """Refuse, naming the key and the file, a section or key the schema does not know (a
    typo would otherwise be silently ignored), a value of the wrong type, or a missing
    required key."""
    for section, values in config.items():
        _validate_section(section, values, path)
    for section, keys in SCHEMA.items():
        for key, spec in keys.items():
            if spec.required and key not in config.get(section, {}):
                raise ConfigError(f"{path}: [{section}] must set `{key}` ({spec.description})")


def _validate_section(section: str, values: Any, path: Path) -> None:
    schema = SCHEMA.get(section) or SCHEMA.get(section.rsplit(".", 1)[0] + ".*")
    if schema is None:
        known = ", ".join(k for k in SCHEMA if "*" not in k)
        raise ConfigError(f"{path}: unknown section [{section}]; known sections: {known}")
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: `{section}` must be a section ([{section}]), not a single value")
    for key, value in values.items():
        spec = schema.get(key) or schema.get("*")
        if spec is None:
            raise ConfigError(f"{path}: [{section}] has no setting `{key}`; known: {', '.join(schema)}")
        kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            expected = " or ".join(kind.__name__ for kind in kinds)
            raise ConfigError(f"{path}: [{section}] {key} = {value!r} must be of type {expected} ({spec.description})")
        if isinstance(value, dict):
            _validate_section(f"{section}.{key}", value, path)


@functools.cache
def assignment_config(assignment: str) -> dict[str, Any]:
    """The assignment's grading.toml, validated once against SCHEMA."""
    path = config_path(assignment)
    try:
        config = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from error
    validate_config(config, path)
    return config


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
