"""Probes of ``keras_networks``: what the student's code does, gathered as plain values.

A model crosses to the judge as its JSON config (``model.to_json()``), never as an
object or a pickle: the judge rebuilds it in Keras' safe mode and trains it itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.checks.probing import (
    Env,
    Outcome,
    ProbeFailure,
    as_array,
    as_number,
    attempt,
    attempt_on_copy,
    student_function,
    value_outcome,
)
from autograder.checks.probing import notebook_cells as notebook_cells  # the shared probe, found here by name


def model_config(env: Env, inputs: dict) -> Outcome:
    """The architecture a ``build_…`` function returns, as Keras' JSON config."""
    return attempt(student_function(env, inputs["function"]), convert=as_model_json)


def param_counts(env: Env, inputs: dict) -> list[Outcome]:
    function = student_function(env, inputs["function"])
    return [attempt(function, *_arguments(case), convert=as_number) for case in inputs["cases"]]


def course_totals(env: Env, inputs: None) -> dict[str, Outcome]:
    names = ("lesson_cnn_params", "portfolio_cnn_params", "wide_mlp_params", "deep_mlp_params")
    return {name: value_outcome(env, name, as_number) for name in names}


def invert_results(env: Env, inputs: dict) -> list[Outcome]:
    invert = student_function(env, "invert")
    return [attempt_on_copy(invert, batch, convert=as_array) for batch in inputs["batches"]]


def augment_results(env: Env, inputs: dict) -> list[Outcome]:
    augment = student_function(env, "augment_with_inverted")
    results = []
    for case in inputs["cases"]:
        X, y = np.array(case["X"], copy=True), np.array(case["y"], copy=True)
        outcome = attempt(augment, X, y, convert=as_array_pair)
        outcome["input_after"], outcome["labels_after"] = X, y
        results.append(outcome)
    return results


def activation_results(env: Env, inputs: dict) -> dict[str, Outcome]:
    """The student's ``layer_activations`` on a model the grader chose (config + weights): for
    the problem's ``n_layers``, and for one layer, where Keras' ``predict`` returns a bare array."""
    import keras
    layer_activations = student_function(env, "layer_activations")
    model = keras.models.model_from_json(inputs["config"])
    model.set_weights([np.asarray(w) for w in inputs["weights"]])
    images = np.array(inputs["images"])
    return {"layers": attempt(layer_activations, model, images, inputs["n_layers"], convert=as_array_list),
            "one_layer": attempt(layer_activations, model, images, 1, convert=as_array_list)}


def as_model_json(model: Any) -> dict:
    import keras
    if not isinstance(model, keras.Model):
        raise ProbeFailure(f"gave a {type(model).__name__}, not a keras.Model")
    return {"config": model.to_json()}


def as_array_pair(result: Any) -> dict:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ProbeFailure(f"gave a {type(result).__name__}, not a pair (X_aug, y_aug)")
    return {"X": as_array(result[0]), "y": as_array(result[1])}


def as_array_list(result: Any) -> list:
    if not isinstance(result, (list, tuple)):
        raise ProbeFailure(f"gave a {type(result).__name__}, not a list of arrays")
    return [as_array(item) for item in result]


def _arguments(case: dict) -> list:
    """Kernel sizes travel as lists; the student receives an int or a tuple, as documented."""
    return [tuple(value) if isinstance(value, list) else value for value in case["arguments"]]
