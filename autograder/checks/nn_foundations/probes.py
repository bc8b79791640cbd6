"""Probes of ``nn_foundations``: what the student's code does, gathered as plain values.

These run beside the student's code and decide nothing: every expected value, threshold
and comparison is in ``judges.py``. Hidden inputs arrive as arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from autograder.checks.probing import (
    Env,
    Outcome,
    ProbeFailure,
    as_array,
    as_number,
    as_numbers,
    as_strings,
    attempt,
    attempt_on_copy,
    student_function,
    student_value,
    value_outcome,
)
from autograder.checks.probing import notebook_cells as notebook_cells  # the shared probe, found here by name
from autograder.seeding import seed_everything

TEST_SET_NAMES = ("X_test", "y_test", "X_test_flat")


# q1_vectorize ---------------------------------------------------------------------------

def unrolled_lengths(env: Env, inputs: dict) -> list[Outcome]:
    unrolled_length = student_function(env, "unrolled_length")
    return [attempt(unrolled_length, tuple(shape), convert=as_number) for shape in inputs["shapes"]]


def unroll_results(env: Env, inputs: dict) -> list[Outcome]:
    """The student's ``unroll`` on each batch, and each batch as it was left afterwards."""
    unroll = student_function(env, "unroll")
    return [attempt_on_copy(unroll, batch, convert=as_array) for batch in inputs["batches"]]


# q2_hyperparameters ---------------------------------------------------------------------

def term_sets(env: Env, inputs: None) -> dict[str, Outcome]:
    return {name: value_outcome(env, name, as_strings) for name in ("hyperparameters", "parameters")}


# q3_trace -------------------------------------------------------------------------------

def traced_values(env: Env, inputs: None) -> dict[str, Outcome]:
    names = ("tiny_hidden_pre", "tiny_hidden", "tiny_output")
    return {name: value_outcome(env, name, as_numbers) for name in names}


def forward_outputs(env: Env, inputs: dict) -> list[Outcome]:
    forward = student_function(env, "forward")
    results = []
    for case in inputs["cases"]:
        layers = [(np.array(layer["W"]), np.array(layer["b"]), layer["activation"])
                  for layer in case["layers"]]
        results.append(attempt(forward, np.array(case["x"]), layers, convert=as_array))
    return results


# q4_mlp ---------------------------------------------------------------------------------

def mlp_param_counts(env: Env, inputs: dict) -> list[Outcome]:
    mlp_param_count = student_function(env, "mlp_param_count")
    return [attempt(mlp_param_count, case["n_inputs"], tuple(case["hidden_layer_sizes"]),
                    case["n_outputs"], convert=as_number) for case in inputs["cases"]]


def mlp_16x16_summary(env: Env, inputs: None) -> dict:
    return describe_mlp(student_value(env, "mlp_16x16"))


# q5_tuning ------------------------------------------------------------------------------

# The three runs of tuning_runs: the unchanged call, the same call again (same seed: a
# reproducible tune_mlp answers the same), then the same call with the test set swapped for another.
TUNING_RUNS = (("normal", False), ("again", False), ("blind", True))


def tuning_runs(env: Env, inputs: dict) -> dict[str, Outcome]:
    """``tune_mlp`` on hidden data three times: as is, as is again, then with the test set
    blanked out (see :func:`blanked_test_set`), each from the same seed.

    A tuning function that never reads the test set answers the same all three times; one
    that scores or trains on it changes its answer or fails when it is blanked. The second
    unchanged run tells the judge whether the function is reproducible at all: if it is
    not, a changed answer in the blanked run is no evidence of a leak.
    """
    tune_mlp = student_function(env, "tune_mlp")
    runs = {}
    for label, blind in TUNING_RUNS:
        with blanked_test_set(env, enabled=blind):
            seed_everything(inputs["seed"])
            runs[label] = attempt(tune_mlp, np.array(inputs["X"]), np.array(inputs["y"]),
                                  list(inputs["learning_rates"]),
                                  [tuple(size) for size in inputs["sizes"]],
                                  seed=inputs["seed"], convert=as_tuning_choice)
    return runs


def kernel_ledger(env: Env, inputs: None) -> dict:
    """Outside the split runner's kernel (the Otter runner, in-process tests) there is no
    ledger: the split runner's kernel answers this probe itself (``grade.kernel.bootstrap``)."""
    return {"installed": False, "tampered": [], "entries": [], "models": {}}


def final_model_summary(env: Env, inputs: None) -> dict:
    return {
        "final_mlp": describe_mlp(student_value(env, "final_mlp")),
        "best": value_outcome(env, "best", as_tuning_choice),
        "test_accuracy": value_outcome(env, "test_accuracy", as_number),
    }


# shared ---------------------------------------------------------------------------------

def describe_mlp(model: Any) -> dict:
    """A fitted MLPClassifier as plain values: its settings and its learned arrays."""
    kind = type(model)
    summary: dict[str, Any] = {
        "type": "the `...` placeholder" if model is Ellipsis else f"{kind.__module__}.{kind.__qualname__}",
        "is_mlp_classifier": _is_mlp_classifier(model),
    }
    if not summary["is_mlp_classifier"]:
        return summary
    summary.update({
        "hidden_layer_sizes": [int(s) for s in np.atleast_1d(model.hidden_layer_sizes)],
        "learning_rate_init": float(model.learning_rate_init),
        "activation": str(model.activation),
        "solver": str(model.solver),
        "early_stopping": bool(model.early_stopping),
        "validation_fraction": float(model.validation_fraction),
        "fitted": hasattr(model, "coefs_"),
    })
    if summary["fitted"]:
        summary.update({
            "coefs": [np.asarray(w, dtype=np.float64) for w in model.coefs_],
            "intercepts": [np.asarray(b, dtype=np.float64) for b in model.intercepts_],
            "out_activation": str(model.out_activation_),
            "classes": np.asarray(model.classes_).astype(np.int64),
            "n_iter": int(model.n_iter_),
            "samples_seen": int(getattr(model, "t_", 0)),
        })
    return summary


def as_tuning_choice(result: Any) -> dict:
    """The dict ``tune_mlp`` returns, reduced to plain values the judge can compare."""
    if not isinstance(result, dict):
        raise ProbeFailure(f"gave a {type(result).__name__}, not a dict")
    sizes: Any = result.get("hidden_layer_sizes")
    return {
        "keys": sorted(str(key) for key in result),
        "learning_rate_init": _maybe_float(result.get("learning_rate_init")),
        "hidden_layer_sizes": ([int(s) for s in np.atleast_1d(sizes)] if _is_sizes(sizes) else None),
        "val_accuracy": _maybe_float(result.get("val_accuracy")),
    }


@contextmanager
def blanked_test_set(env: Env, *, enabled: bool) -> Iterator[None]:
    """Swap the test arrays' contents in place for :func:`counterfactual_test_set`, then
    restore them.

    In place, so every alias and view of the test set is swapped too, whatever the student
    named it (a copy made before the call keeps the real test set: the static analysis and
    the kernel's reports read the code for that).
    """
    present = [name for name in TEST_SET_NAMES if enabled and isinstance(env.get(name), np.ndarray)]
    saved = {name: env[name].copy() for name in present}
    try:
        replacement = counterfactual_test_set(env, present)
        for name in present:
            env[name][...] = replacement[name]
        yield
    finally:
        for name in present:
            env[name][...] = saved[name]


def counterfactual_test_set(env: Env, names: list[str]) -> dict[str, Any]:
    """Another test set that looks like one: real training images of the same shape, dtype and
    value range (nothing tells it apart by looking at it, as NaNs or zeros would), with each
    image's label moved to the next digit. A model that learned anything scores near 0 on it and
    one that learned nothing near 0.1, so a tune_mlp that ranks its candidates on the test set
    ranks them upside down, and its choice changes. Where the training arrays do not match the
    test arrays' layout, NaN images and -1 labels instead."""
    sources = {"X_test": "X_train", "X_test_flat": "X_train_flat", "y_test": "y_train"}
    lengths = {len(env[name]) for name in names}
    usable = len(lengths) == 1 and all(
        isinstance(env.get(sources[name]), np.ndarray) and env[sources[name]].shape[1:] == env[name].shape[1:]
        and env[sources[name]].dtype == env[name].dtype and len(env[sources[name]]) > 0 for name in names)
    if not usable:
        return {name: np.nan if env[name].dtype.kind == "f" else -1 for name in names}
    rows = np.random.default_rng(0).integers(0, min(len(env[sources[name]]) for name in names), lengths.pop())
    replacement = {name: env[sources[name]][rows] for name in names}
    if "y_test" in replacement:
        labels = replacement["y_test"]
        replacement["y_test"] = (labels + 1) % (int(labels.max()) + 1 if labels.size else 10)
    return replacement


def _is_mlp_classifier(model: Any) -> bool:
    from sklearn.neural_network import MLPClassifier
    return isinstance(model, MLPClassifier)


def _is_sizes(value: Any) -> bool:
    try:
        return all(float(s).is_integer() for s in np.atleast_1d(value)) and np.size(value) > 0
    except (TypeError, ValueError):
        return False


def _maybe_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


