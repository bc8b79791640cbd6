"""Each assignment's grading settings, read from one file: ``assignments/<name>/grading.toml``.

Thresholds, tolerances, time limits and the hidden tuning grid are course decisions that
an instructor changes between terms; they live beside the master notebook, not as
constants in the modules that use them. The autograder zip carries a copy of the file
inside its copy of this package (``autograder/_assignments/<name>/grading.toml``), which
is looked up first, so a zip always grades with the settings it was built with.

The file is typed: one frozen dataclass per section (:class:`Grading`, :class:`Limits`,
:class:`Training`, :class:`Leakage`, :class:`Tuning`; ``[tolerances]`` and
``[thresholds.<dataset>]`` are tables of numbers, ``[visibility]`` one of questions and
checks), each key with its description, gathered
in an :class:`AssignmentConfig`. The validation schema (:data:`SCHEMA`) is derived from those
dataclasses, so a key declared is a key checked, and the judges read ``config(assignment)``
through attributes mypy checks::

    config("nn_foundations").tuning.rows
    config("keras_networks").training.judge_cpu_seconds["digits"]

A section an assignment may leave out (``[limits]``, ``[training]``, ``[leakage]``,
``[tuning]``) is read through a property that raises :class:`ConfigError`, naming the file
and the section, where that assignment lacks it: the assignments whose checks need it have it.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import os
import tomllib
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_ASSIGNMENTS_DIR = PACKAGE_DIR / "_assignments"
REPO_ASSIGNMENTS_DIR = PACKAGE_DIR.parent / "assignments"
ASSIGNMENTS_DIR_ENV_VAR = "AUTOGRADER_ASSIGNMENTS_DIR"
CONFIG_FILENAME = "grading.toml"


class ConfigError(RuntimeError):
    """A missing or malformed grading.toml, or a setting an assignment's checks need that it lacks."""


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


# The sections ------------------------------------------------------------------------------------
# A field without a default is a key its section must set; a ``float`` field also takes an integer
# and keeps it as written (``cell_timeout = 60`` stays 60, as the prompts rendered from the file say).
# Lists stay lists and tables stay dicts (typed Sequence and Mapping: mypy refuses a write to them).

#: The datasets the grader can load (autograder.data.DATASETS).
DatasetName = Literal["digits", "mnist", "fashion_mnist"]

#: When a student sees a check's result: Gradescope's test ``visibility`` in results.json
#: (``hidden``: never; ``after_due_date``; ``after_published``: once grades are published).
Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]
DEFAULT_VISIBILITY: Visibility = "visible"


@dataclass(frozen=True)
class Grading:
    """``[grading]``: what every submission of the assignment is graded with."""

    dataset: DatasetName = field(metadata={
        "description": "what the grader loads when MNIST is not requested (digits, mnist, fashion_mnist)"})
    seed: int = field(metadata={
        "description": "seed_everything() before every probe and the grader's own training"})
    submission_timeout: float = field(metadata={
        "description": "seconds one whole submission may take to grade"})


@dataclass(frozen=True)
class Limits:
    """``[limits]``: what one submission may use, enforced by the operating system on the
    grading process tree (``autograder.grade.isolation``). A key left out is no limit (and
    network allowed)."""

    cell_timeout: float | None = field(default=None, metadata={
        "description": "seconds of CPU time per notebook cell (5 times that of wall time for a cell that "
                       "only waits); the cell is interrupted, grading goes on"})
    memory_mb: int | None = field(default=None, metadata={
        "description": "address space per process, and all the submission's processes together"})
    file_size_mb: int | None = field(default=None, metadata={
        "description": "largest file student code may write"})
    max_processes: int | None = field(default=None, metadata={
        "description": "processes and threads of one submission"})
    disk_mb: int | None = field(default=None, metadata={
        "description": "the kernel's writable folder and /tmp (tmpfs), split runner"})
    network: bool = field(default=True, metadata={
        "description": "false: student code gets a network namespace with loopback only"})

    @classmethod
    def from_config(cls, values: dict[str, Any]) -> Limits:
        """From a ``[limits]`` table (or its JSON on the wire between grading processes)."""
        return cls(**{key: values[key] for key in cls.__dataclass_fields__ if key in values})


@dataclass(frozen=True)
class Training:
    """``[training]``: the grader's own training run of a student's architecture, and what it
    agrees to train (the last three keys bound a run without changing its result)."""

    optimizer: str = field(metadata={"description": "Keras optimizer of the grader's training run"})
    loss: str = field(metadata={"description": "Keras loss of the grader's training run"})
    batch_size: int = field(metadata={"description": "batch size of the grader's training run"})
    mlp_epochs: int = field(metadata={"description": "epochs the grader trains a student's MLP architecture"})
    cnn_epochs: int = field(metadata={"description": "epochs the grader trains a student's CNN architecture"})
    max_parameters: int = field(metadata={
        "description": "the grader refuses to train an architecture with more parameters"})
    max_flops_per_image: int = field(metadata={
        "description": "the grader refuses to train an architecture whose forward pass takes more "
                       "multiply-adds per image"})
    judge_cpu_seconds: Mapping[str, float] = field(metadata={
        "description": "CPU-seconds one training run by the grader may use, per dataset: "
                       "[training.judge_cpu_seconds]",
        "entries": ("CPU-seconds of one training run by the grader on that dataset; the run is stopped "
                    "there and its check fails",)})


@dataclass(frozen=True)
class Leakage:
    """``[leakage]``: what the test-set-leak checks allow."""

    reported_models: Sequence[str] = field(metadata={
        "description": "models other questions ask to score once on the test set"})


@dataclass(frozen=True)
class Tuning:
    """``[tuning]``: the hidden tuning problem, drawn per submission."""

    rows: int = field(metadata={"description": "training rows given to tune_mlp on the hidden problem"})
    weak_learning_rates: Sequence[float] = field(metadata={
        "description": "learning rates too small to learn in a tuning budget"})
    strong_learning_rates: Sequence[float] = field(metadata={"description": "learning rates that learn"})
    weak_sizes: Sequence[Sequence[int]] = field(metadata={
        "description": "hidden_layer_sizes too small to tell 10 classes apart"})
    strong_sizes: Sequence[Sequence[int]] = field(metadata={"description": "hidden_layer_sizes that can"})


S = TypeVar("S")


@dataclass(frozen=True)
class AssignmentConfig:
    """One assignment's grading.toml, validated and typed. ``path`` is the file it was read
    from (every error names it). ``[grading]`` is required; ``limits``, ``training``,
    ``leakage`` and ``tuning`` are properties that raise :class:`ConfigError` where the
    file has no such section (``has(section)`` asks first)."""

    path: Path
    grading: Grading = field(metadata={"section": "grading", "description": "what every submission is graded with"})
    _limits: Limits | None = field(default=None, metadata={
        "section": "limits", "description": "what one submission may use"})
    tolerances: Mapping[str, float] = field(default_factory=dict, metadata={
        "section": "tolerances", "description": "absolute tolerances of numeric checks, by kind of check",
        "entries": ("absolute tolerance of one kind of numeric check",)})
    thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict, metadata={
        "section": "thresholds", "description": "accuracy thresholds, per dataset",
        "entries": ("accuracy thresholds on one dataset: [thresholds.<dataset>]",
                    "an accuracy a check requires on that dataset")})
    _training: Training | None = field(default=None, metadata={
        "section": "training", "description": "the grader's own training run of a student's architecture"})
    _leakage: Leakage | None = field(default=None, metadata={
        "section": "leakage", "description": "what the test-set-leak checks allow"})
    _tuning: Tuning | None = field(default=None, metadata={
        "section": "tuning", "description": "the hidden tuning problem"})
    visibility: Mapping[str, Visibility] = field(default_factory=dict, metadata={
        "section": "visibility", "description": "when students see a result, per question or check",
        "entries": ("when students see the results of the question or check of that name "
                    "(Gradescope's test visibility)",)})

    @property
    def limits(self) -> Limits:
        return self._needed(self._limits, "limits")

    @property
    def training(self) -> Training:
        return self._needed(self._training, "training")

    @property
    def leakage(self) -> Leakage:
        return self._needed(self._leakage, "leakage")

    @property
    def tuning(self) -> Tuning:
        return self._needed(self._tuning, "tuning")

    def has(self, section: str) -> bool:
        """Whether the file has that section (``[grading]`` always)."""
        return section in self.as_toml()

    def dataset(self, requested: str | None = None) -> str:
        """The dataset the checks judge on: ``requested`` (the one the grader forces), else
        ``[grading] dataset``. :func:`grading_dataset` passes the forced one."""
        return requested or self.grading.dataset

    def tolerance(self, name: str) -> float:
        if name not in self.tolerances:
            raise ConfigError(f"{self.path}: [tolerances] has no `{name}`; it has: "
                              f"{', '.join(self.tolerances) or 'none'}")
        return self.tolerances[name]

    def threshold(self, dataset: str, name: str) -> float:
        """Accuracy thresholds are per dataset: MNIST and digits do not reach the same scores."""
        if name not in self.thresholds.get(dataset, {}):
            raise ConfigError(f"{self.path}: [thresholds.{dataset}] has no `{name}`")
        return float(self.thresholds[dataset][name])

    def visibility_of(self, question: str, check: str) -> Visibility:
        """When a student sees one check's result: the check's own ``[visibility]`` entry, else its
        question's, else ``visible``."""
        return self.visibility.get(check) or self.visibility.get(question) or DEFAULT_VISIBILITY

    def refuse_unknown_visibility(self, assignment: str, questions: Collection[str], checks: Collection[str]) -> None:
        """A ``[visibility]`` entry must name a question or a check of the assignment (its manifest's:
        this module cannot read one); a typo would otherwise leave a check visible."""
        for name in self.visibility:
            if name in questions or name in checks:
                continue
            close = difflib.get_close_matches(name, [*questions, *checks], n=1)
            raise ConfigError(f"{self.path}: [visibility] {name} names no question or check of {assignment}"
                              + (f" (did you mean `{close[0]}`?)" if close else "")
                              + f"; its questions: {', '.join(questions)}")

    def _needed(self, section: S | None, name: str) -> S:
        if section is None:
            raise ConfigError(f"{self.path} has no [{name}] section, which this assignment's checks need "
                              f"({_SECTION_FIELDS[name].metadata['description']})")
        return section

    @classmethod
    def from_toml(cls, values: Mapping[str, Any], path: Path) -> AssignmentConfig:
        """Validate a parsed grading.toml against :data:`SCHEMA` and type it."""
        validate_config(values, path)
        values = copy.deepcopy(dict(values))
        sections: dict[str, Any] = {}
        for section, spec in _SECTION_FIELDS.items():
            if section not in values:
                continue
            kind = _without_none(_hints(cls)[spec.name])
            sections[spec.name] = kind(**values[section]) if _is_section(kind) else values[section]
        return cls(path=path, **sections)

    def as_toml(self) -> dict[str, Any]:
        """The file's settings as nested dicts, as tomllib gives them: each section the file
        has, with its defaults filled in (a key whose default is None, no limit, is left out)."""
        view: dict[str, Any] = {}
        for section, spec in _SECTION_FIELDS.items():
            value = getattr(self, spec.name)
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                view[section] = {key: item for key, item in dataclasses.asdict(value).items() if item is not None}
            elif isinstance(value, Mapping) and value:
                view[section] = copy.deepcopy(dict(value))
        return view

    def with_values(self, section: str, **values: Any) -> AssignmentConfig:
        """A copy with some keys of one section set (validated as the file would be): for tests,
        through :data:`config_overrides`."""
        changed = self.as_toml()
        changed.setdefault(section, {}).update(values)
        return AssignmentConfig.from_toml(changed, self.path)


# The schema, derived from the dataclasses ------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """One key of grading.toml: its type (a dataclass field's annotation: str, int, float, bool,
    a Literal, Sequence[...] or Mapping[str, ...]), what it does, and whether its section must
    set it (no default)."""

    kind: Any
    description: str
    required: bool = False

    def accepts(self, value: Any) -> bool:
        return _conforms(value, self.kind)

    def expected(self) -> str:
        """How an error names what the value must be: 'of type int or float', 'one of ...'."""
        if typing.get_origin(self.kind) is Literal:
            return "one of " + ", ".join(repr(choice) for choice in typing.get_args(self.kind))
        return f"of type {_type_name(self.kind)}"


def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _without_none(kind: Any) -> Any:
    """``int | None`` -> ``int``: TOML has no null, None is only a default."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        remaining = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return remaining[0] if len(remaining) == 1 else typing.Union[tuple(remaining)]  # noqa: UP007
    return kind


def _is_section(kind: Any) -> bool:
    """A dataclass of keys (``[grading]``), not a table of any names (``[tolerances]``)."""
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)


def _is_mapping(kind: Any) -> bool:
    return typing.get_origin(kind) in (Mapping, dict)


def _is_sequence(kind: Any) -> bool:
    return typing.get_origin(kind) in (Sequence, list)


def _conforms(value: Any, kind: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):  # True is an int to Python, never a number to grading.toml
        return False
    if kind is float:
        return isinstance(value, int | float)
    if kind in (int, str):
        return isinstance(value, kind)
    if typing.get_origin(kind) is Literal:
        return value in typing.get_args(kind)
    if _is_sequence(kind):
        (item,) = typing.get_args(kind)
        return isinstance(value, list) and all(_conforms(element, item) for element in value)
    if _is_mapping(kind):
        return isinstance(value, dict)  # its entries are checked as a section: [section.key]
    raise TypeError(f"grading.toml cannot hold a {kind!r}")


def _type_name(kind: Any) -> str:
    if kind is float:
        return "int or float"
    if _is_sequence(kind):
        item = typing.get_args(kind)[0]
        return f"list of {'(int or float)' if item is float else _type_name(item)}"
    if _is_mapping(kind):
        return "dict"
    if typing.get_origin(kind) is Literal:
        return " or ".join(repr(choice) for choice in typing.get_args(kind))
    return str(kind.__name__)


def _required(spec: dataclasses.Field) -> bool:
    return spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING


def _add_entries(schema: dict[str, dict[str, Setting]], path: str, kind: Any, descriptions: Sequence[str]) -> None:
    """A table of any names (a tolerance's check, a dataset): ``*`` in the schema, its values of
    the Mapping's value type, nested tables one level down (``thresholds.*``)."""
    value_kind = typing.get_args(kind)[1]
    schema[path] = {"*": Setting(value_kind, descriptions[0])}
    if _is_mapping(value_kind):
        _add_entries(schema, f"{path}.*", value_kind, descriptions[1:])


def derive_schema() -> dict[str, dict[str, Setting]]:
    """Every key grading.toml may have, by section, from the dataclasses' fields: name, type,
    description, required (no default). A key or section not listed is a typo and an error;
    ``*`` stands for any name (a dataset's thresholds, a tolerance's check)."""
    schema: dict[str, dict[str, Setting]] = {}
    sections = _hints(AssignmentConfig)
    for section, spec in _SECTION_FIELDS.items():
        kind = _without_none(sections[spec.name])
        if not _is_section(kind):
            _add_entries(schema, section, kind, spec.metadata["entries"])
            continue
        keys = schema[section] = {}
        hints = _hints(kind)
        for key in dataclasses.fields(kind):
            key_kind = _without_none(hints[key.name])
            keys[key.name] = Setting(key_kind, key.metadata["description"], _required(key))
            if _is_mapping(key_kind):
                _add_entries(schema, f"{section}.{key.name}", key_kind, key.metadata["entries"])
    return schema


#: grading.toml's sections, by name: the fields of AssignmentConfig that hold them.
_SECTION_FIELDS: dict[str, dataclasses.Field] = {
    spec.metadata["section"]: spec for spec in dataclasses.fields(AssignmentConfig) if "section" in spec.metadata}
#: The sections a file must have (no default in AssignmentConfig).
REQUIRED_SECTIONS = frozenset(name for name, spec in _SECTION_FIELDS.items() if _required(spec))
SCHEMA: dict[str, dict[str, Setting]] = derive_schema()


def validate_config(config: Mapping[str, Any], path: Path) -> None:
    """Refuse, naming the key and the file, a section or key the schema does not know (a
    typo would otherwise be silently ignored), a value of the wrong type, or a missing
    required key (of a section the file has, or must have)."""
    for section, values in config.items():
        _validate_section(section, values, path)
    for section, keys in SCHEMA.items():
        if section not in config and section not in REQUIRED_SECTIONS:
            continue
        for key, spec in keys.items():
            if spec.required and key not in config.get(section, {}):
                raise ConfigError(f"{path}: [{section}] must set `{key}` ({spec.description})")


def _validate_section(section: str, values: Any, path: Path) -> None:
    schema = SCHEMA.get(section) or SCHEMA.get(section.rsplit(".", 1)[0] + ".*")
    if schema is None:
        known = ", ".join(k for k in SCHEMA if "." not in k)
        raise ConfigError(f"{path}: unknown section [{section}]; known sections: {known}")
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: `{section}` must be a section ([{section}]), not a single value")
    for key, value in values.items():
        spec = schema.get(key) or schema.get("*")
        if spec is None:
            raise ConfigError(f"{path}: [{section}] has no setting `{key}`; known: {', '.join(schema)}")
        if not spec.accepts(value):
            raise ConfigError(f"{path}: [{section}] {key} = {value!r} must be {spec.expected()} ({spec.description})")
        if isinstance(value, dict):
            _validate_section(f"{section}.{key}", value, path)


# Reading -----------------------------------------------------------------------------------------

@functools.cache
def assignment_config(assignment: str) -> dict[str, Any]:
    """The assignment's grading.toml as tomllib parses it, validated once against SCHEMA (the
    build fills the prompts' ``{{ limits.cell_timeout }}`` from it). Judges read :func:`config`."""
    path = config_path(assignment)
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from error
    validate_config(values, path)
    return values


#: A changed configuration that config() returns instead of the file's, by assignment: for tests,
#: ``monkeypatch.setitem(config_overrides, name, config(name).with_values("training", batch_size=32))``.
config_overrides: dict[str, AssignmentConfig] = {}


def config(assignment: str) -> AssignmentConfig:
    """The assignment's grading.toml, typed (read and validated once)."""
    return config_overrides.get(assignment) or _typed_config(assignment)


@functools.cache
def _typed_config(assignment: str) -> AssignmentConfig:
    return AssignmentConfig.from_toml(assignment_config(assignment), config_path(assignment))


def clear_cache() -> None:
    """Read every grading.toml again at its next use (a test that edits one)."""
    assignment_config.cache_clear()
    _typed_config.cache_clear()


def grading_dataset(assignment: str) -> str:
    """The one answer to "which dataset are this assignment's submissions judged on": the one
    the grader forces (``AUTOGRADER_DATASET``: ``autograder grade`` sets it in every grading
    child, the Gradescope runner in its process), else grading.toml's ``[grading] dataset``."""
    from autograder.data import forced_dataset  # numpy: not on importing this module
    return config(assignment).dataset(forced_dataset())


def threshold(assignment: str, dataset: str, name: str) -> float:
    """Accuracy thresholds are per dataset: MNIST and digits do not reach the same scores."""
    return config(assignment).threshold(dataset, name)
