"""Probes of ``training_diagnostics``: what the student's code does, gathered as plain values.

A model crosses to the judge as its JSON config and its compile settings (Keras' own
``get_compile_config()``, as JSON), never as an object: the judge rebuilds the architecture in
Keras' safe mode and trains it itself. A figure crosses as what it draws (its axes, and each
line's label and data), read from the figure's objects, never from pixels; the figure is closed.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np

from autograder.checks.probing import (
    Env,
    Outcome,
    ProbeFailure,
    _a_type,  # how probing names a value and its type
    _type_name,
    as_array,
    as_number,
    as_strings,
    attempt,
    attempt_on_copy,
    student_function,
    value_outcome,
)
from autograder.checks.probing import notebook_cells as notebook_cells  # the shared probe, found here by name

# q1_outputs ------------------------------------------------------------------------------------


def one_hot_results(env: Env, inputs: dict) -> list[Outcome]:
    """``one_hot(y)`` or ``one_hot(y, n_classes)``: a case without ``n_classes`` uses the default."""
    one_hot = student_function(env, "one_hot")
    results = []
    for case in inputs["cases"]:
        extra = () if case["n_classes"] is None else (case["n_classes"],)
        results.append(attempt(one_hot, np.array(case["y"], copy=True), *extra, convert=as_array))
    return results


def predicted_class_results(env: Env, inputs: dict) -> list[Outcome]:
    predicted_classes = student_function(env, "predicted_classes")
    return [attempt_on_copy(predicted_classes, p, convert=as_array) for p in inputs["matrices"]]


def top_k_results(env: Env, inputs: dict) -> list[Outcome]:
    top_k = student_function(env, "top_k")
    return [attempt(top_k, np.array(case["p"], copy=True), case["k"], convert=as_array) for case in inputs["cases"]]


# q2_sigmoid_mlp, q5_bug_hunt ---------------------------------------------------------------------


def compiled_model(env: Env, inputs: dict) -> Outcome:
    """The architecture a function returns (Keras' JSON config) and how it was compiled."""
    return attempt(student_function(env, inputs["function"]), convert=as_compiled_model)


def as_compiled_model(model: Any) -> dict:
    """The model's JSON config and its compile settings (this module reaches the student's
    kernel alone, with channel and probing: it imports no other assignment's probes)."""
    import keras
    if not isinstance(model, keras.Model):
        raise ProbeFailure(f"gave a {type(model).__name__}, not a keras.Model")
    described = {"config": model.to_json()}
    try:
        settings = model.get_compile_config()
        described["compile"] = json.dumps(settings) if settings else ""
    except Exception as error:  # a loss or metric Keras cannot serialise: the judge says which
        described["compile"] = ""
        described["compile_error"] = f"{type(error).__name__}: {str(error)[:200]}"
    return described


def fixed_setup_answers(env: Env, inputs: dict) -> dict:
    """The fixed model (config and compile settings) and the labels FIXED_LABELS says it takes."""
    return {"model": compiled_model(env, inputs),
            "labels": {"FIXED_LABELS": value_outcome(env, "FIXED_LABELS", as_text)}}


def bug_hunt_answers(env: Env, inputs: None) -> dict[str, Outcome]:
    return {"FIXED_LABELS": value_outcome(env, "FIXED_LABELS", as_text),
            "bugs": value_outcome(env, "bugs", as_strings)}


def scale_results(env: Env, inputs: dict) -> list[Outcome]:
    scale_pixels = student_function(env, "scale_pixels")
    return [attempt_on_copy(scale_pixels, batch, convert=as_array) for batch in inputs["batches"]]


# q3_history ------------------------------------------------------------------------------------


def history_results(env: Env, inputs: dict) -> dict[str, list[Outcome]]:
    """``best_epoch``, ``generalization_gap`` and ``is_overfitting`` on each history (a dict of
    lists, as Keras' ``History.history``; each call gets a copy of its own)."""
    names = {"best_epoch": as_number, "generalization_gap": as_number, "is_overfitting": as_truth_value}
    functions = {name: student_function(env, name) for name in names if name in inputs["asked"]}
    results: dict[str, list[Outcome]] = {name: [] for name in functions}
    for case in inputs["cases"]:
        for name, function in functions.items():
            extra = {} if name != "is_overfitting" or case["patience"] is None else {"patience": case["patience"]}
            results[name].append(attempt(function, _history(case["history"]), convert=names[name], **extra))
    return results


def history_figure(env: Env, inputs: dict) -> Outcome:
    """What ``plot_history`` drew, read from the figure's objects; every figure the call opened
    is closed, so nothing is rendered."""
    import matplotlib.pyplot as plt
    plot_history = student_function(env, "plot_history")
    before = set(plt.get_fignums())
    try:
        return attempt(plot_history, _history(inputs["history"]), convert=as_figure)
    finally:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)


def as_figure(figure: Any) -> dict:
    from matplotlib.figure import Figure
    if not isinstance(figure, Figure):
        raise ProbeFailure(f"gave a {type(figure).__name__}, not a matplotlib Figure")
    axes = []
    for ax in figure.get_axes():
        lines = [{"label": str(line.get_label()), "x": _floats(line.get_xdata()), "y": _floats(line.get_ydata())}
                 for line in ax.get_lines()]
        axes.append({"lines": lines, "title": ax.get_title(), "xlabel": ax.get_xlabel(),
                     "ylabel": ax.get_ylabel(), "legend": ax.get_legend() is not None})
    return {"axes": axes}


def _floats(values: Any) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return np.full(len(values), np.nan)


def _history(history: dict) -> dict[str, list[float]]:
    return {key: [float(v) for v in values] for key, values in history.items()}


# q4_confusion ------------------------------------------------------------------------------------


def confusion_results(env: Env, inputs: dict) -> list[Outcome]:
    confusion = student_function(env, "confusion")
    return [attempt(confusion, np.array(case["y_true"], copy=True), np.array(case["y_pred"], copy=True),
                    case["n_classes"], convert=as_array) for case in inputs["cases"]]


def recall_results(env: Env, inputs: dict) -> list[Outcome]:
    per_class_recall = student_function(env, "per_class_recall")
    return [attempt_on_copy(per_class_recall, cm, convert=as_array) for cm in inputs["matrices"]]


def most_confused_results(env: Env, inputs: dict) -> list[Outcome]:
    most_confused = student_function(env, "most_confused")
    return [attempt_on_copy(most_confused, cm, convert=as_array) for cm in inputs["matrices"]]


# q6_weights --------------------------------------------------------------------------------------


def first_layer_results(env: Env, inputs: dict) -> list[Outcome]:
    """``first_layer_images`` on fitted MLPClassifiers whose learned weights are the case's."""
    first_layer_images = student_function(env, "first_layer_images")
    return [attempt(first_layer_images, _fitted_mlp(case), convert=as_array) for case in inputs["cases"]]


def _fitted_mlp(case: dict) -> Any:
    """A real fitted MLPClassifier of the case's shape (one iteration on the case's rows), then
    given the case's weights: what the student's function reads is the grader's draw."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    coefs = [np.array(w) for w in case["coefs"]]
    hidden = tuple(w.shape[1] for w in coefs[:-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=hidden, max_iter=1, random_state=0).fit(np.array(case["X"]),
                                                                                       np.array(case["y"]))
    mlp.coefs_ = coefs
    mlp.intercepts_ = [np.array(b) for b in case["intercepts"]]
    return mlp


def conv_kernel_results(env: Env, inputs: dict) -> list[Outcome]:
    """``conv_kernels`` on models the grader chose (config + weights)."""
    import keras
    conv_kernels = student_function(env, "conv_kernels")
    results = []
    for case in inputs["cases"]:
        model = keras.models.model_from_json(case["config"])
        model.set_weights([np.asarray(w) for w in case["weights"]])
        results.append(attempt(conv_kernels, model, convert=as_array))
    return results


# q7_fashion ------------------------------------------------------------------------------------------


def fashion_classes(env: Env, inputs: None) -> Outcome:
    return value_outcome(env, "FASHION_CLASSES", as_text_list)


def label_name_results(env: Env, inputs: dict) -> list[Outcome]:
    label_names = student_function(env, "label_names")
    return [attempt(label_names, np.array(case["y"], copy=True), list(case["classes"]), convert=as_text_list)
            for case in inputs["cases"]]


# converters ------------------------------------------------------------------------------------------


def as_text(value: Any) -> dict:
    if not isinstance(value, str):
        raise ProbeFailure(f"is {_a_type(value)}, not a string")
    return {"text": value}


def as_text_list(value: Any) -> dict:
    """The items in order, as strings (``repr`` for anything else), and the container's type."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ProbeFailure(f"gave {_a_type(value)}, not a list of strings")
    items = list(value)
    return {"type": _type_name(value), "items": [item if isinstance(item, str) else repr(item) for item in items],
            "strings": [isinstance(item, str) for item in items]}


def as_truth_value(value: Any) -> dict:
    """A bool (NumPy's too) and the type the student returned."""
    if not isinstance(value, (bool, np.bool_)):
        raise ProbeFailure(f"gave {_a_type(value)}, not True or False")
    return {"type": _type_name(value), "truth": bool(value)}
