"""Judges of ``nn_foundations``: hidden inputs, expected values and the feedback.

Each judge is registered with the question it belongs to, the probe that gathers its
answers, and the function that makes its hidden inputs. Expected values come from
oracles (NumPy's reshape, fitted scikit-learn models, a Keras model given the same
weights) computed here, never from constants a student could copy.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.checks.judging import (
    WITHHELD,
    close,
    count,
    fail,
    grading_data,
    judge_test_set_use,
    mismatch_text,
    number_text,
    require_input_unchanged,
    returned,
    shape_text,
)
from autograder.checks.nn_foundations import probes
from autograder.checks.probing import Outcome
from autograder.checks.suite import Suite
from autograder.config import config
from autograder.fingerprints import row_fingerprints

ASSIGNMENT = "nn_foundations"
SUITE = Suite(ASSIGNMENT, preload=("keras", "sklearn.neural_network"), submission_probes=(probes.notebook_cells,))

# The hand-traced network of SPEC §3, in Keras' layout (W has shape (inputs, units)).
TINY_X = np.array([2.0, -1.0])
TINY_W1, TINY_B1 = np.array([[1.0, -0.5], [0.5, 2.0]]), np.array([0.5, 1.0])
TINY_W2, TINY_B2 = np.array([[1.5], [-1.0]]), np.array([-2.0])
ACTIVATIONS = ("relu", "sigmoid", "softmax", "linear")


# Library errors, in one sentence --------------------------------------------------------

# scikit-learn's errors about NaN or infinite inputs run to 400 characters of advice on
# imputers; its shape errors quote the whole array. The student gets the first sentence, and
# for the errors a course notebook meets, what it means here.
_LIBRARY_ERRORS: tuple[tuple[str, str], ...] = (
    (r"Input (X|y)? ?contains NaN",
     "an input held NaN values, which scikit-learn refuses"),
    (r"Input (X|y)? ?contains infinity",
     "an input held infinite values, which scikit-learn refuses"),
    (r"Expected 2D array, got 1D array",
     "scikit-learn expected a 2-D array, one row per example, and got a 1-D one"),
    (r"Found array with dim (\d+)",
     "scikit-learn expected a 2-D array, one row per example, and got one with more axes: "
     "flatten the images first (X_train_flat has one row of 784 values per image)"),
)


def plain_error(outcome: Outcome) -> str:
    """The error of a failed call as one short sentence: known library errors explained,
    anything else cut to its first line (a traceback's detail is in the student's notebook)."""
    error = str(outcome.get("error", ""))
    kind, _, text = error.partition(": ")
    for pattern, meaning in _LIBRARY_ERRORS:
        if re.search(pattern, text):
            return f"{kind}: {meaning}"
    first = (text or error).strip().splitlines()[0] if (text or error).strip() else error
    first = first if len(first) <= 200 else first[:197] + "..."
    return f"{kind}: {first}" if text else first


def result_of(outcome: Outcome, call: str) -> Any:
    """:func:`returned`, with a library's error reduced to :func:`plain_error`."""
    if outcome.get("raised"):
        outcome = {**outcome, "error": plain_error(outcome)}
    return returned(outcome, call)


# q1_vectorize ---------------------------------------------------------------------------

def _shapes(rng: np.random.Generator) -> dict:
    fixed = [(28, 28), (28, 28, 1), (32, 32, 3)]
    random = [tuple(int(d) for d in rng.integers(1, 40, size=rng.integers(2, 4))) for _ in range(4)]
    return {"shapes": fixed + random}


def unrolled_lengths(inputs: dict) -> list[int]:
    return [int(np.prod(shape)) for shape in inputs["shapes"]]


@SUITE.check("q1_vectorize", probe=probes.unrolled_lengths, cases=_shapes, expected=unrolled_lengths)
def unrolled_length_counts_every_value(inputs: dict, answers: list, expected: list[int]) -> None:
    for shape, outcome, length in zip(inputs["shapes"], answers, expected):
        call = f"unrolled_length({shape_text(shape)})"
        got = result_of(outcome, call)
        if got["number"] != length:
            fail(f"{call} returned {number_text(got['number'])}, which is not the number of values "
                 f"in an image of that shape: an image unrolls into one value per pixel and per "
                 f"channel, so multiply all its dimensions ({' × '.join(str(d) for d in shape)}).")
        if got["type"] != "int" and not got["type"].startswith("numpy.int"):
            fail(f"{call} returned {got['type']} {number_text(got['number'])}; return an int "
                 "(for example with int(...) or math.prod(shape)), since a length counts values.")


def _random_batches(rng: np.random.Generator, shapes: list[tuple[int, ...]]) -> dict:
    return {"batches": [rng.random(shape).astype(np.float32) for shape in shapes]}


def grayscale_batches(rng: np.random.Generator) -> dict:
    return _random_batches(rng, [(5, 28, 28), (3, 28, 28, 1), (4, 7, 9), (2, 11, 6, 1)])


def colour_batches(rng: np.random.Generator) -> dict:
    return _random_batches(rng, [(2, 32, 32, 3), (3, 5, 6, 3), (2, 4, 4, 4)])


def single_images(rng: np.random.Generator) -> dict:
    return _random_batches(rng, [(1, 28, 28), (1, 28, 28, 1), (1, 8, 8, 3)])


def unrolled_batches(inputs: dict) -> list[np.ndarray]:
    return [batch.reshape(len(batch), -1) for batch in inputs["batches"]]


def judge_unroll(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    for batch, outcome, unrolled in zip(inputs["batches"], answers, expected):
        call = f"unroll(images) with images of shape {shape_text(batch.shape)}"
        got = result_of(outcome, call)
        require_input_unchanged(outcome, batch, call, "Return a new array (reshape returns one) "
                                "instead of writing into images.")
        _judge_unrolled_array(call, batch, got, unrolled)


def _judge_unrolled_array(call: str, batch: np.ndarray, got: dict, expected: np.ndarray) -> None:
    array = got["array"]
    if got["type"] != "numpy.ndarray":
        fail(f"{call} returned {got['type']}; return a NumPy array (images.reshape(...) gives one).")
    if array.shape != expected.shape:
        rows = f"{len(batch)} row{'s' if len(batch) != 1 else ''}"
        fail(f"{call} returned shape {shape_text(array.shape)}; unroll gives one row per image "
             f"({rows} here) and one column per value of an image (the product of its "
             f"other dimensions). {_shape_hint(array, batch)}")
    if np.array_equal(array, expected):
        return
    column_major = np.stack([image.reshape(-1, order="F") for image in batch])
    if np.array_equal(array, column_major):
        fail(f"{call} unrolled each image column by column. Unroll row by row, the way "
             "np.reshape does by default (C order): images.reshape(len(images), -1).")
    fail(f"{call} has the right shape but different values from images.reshape(len(images), -1) "
         f"({mismatch_text(array, expected, 0)}). Keep the pixel "
         "values as they are and keep them in row-major order.")


def _shape_hint(array: np.ndarray, batch: np.ndarray) -> str:
    if array.ndim == 1 and array.size == batch.size:
        return "You flattened the whole batch into one vector; keep the first axis."
    if array.ndim == 2 and array.shape[0] == len(batch) and batch.ndim == 4:
        return "Unroll every channel too: the column count is height × width × channels."
    return ""


@SUITE.check("q1_vectorize", probe=probes.unroll_results, cases=grayscale_batches, expected=unrolled_batches)
def unroll_grayscale_batches(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    judge_unroll(inputs, answers, expected)


@SUITE.check("q1_vectorize", probe=probes.unroll_results, cases=colour_batches, expected=unrolled_batches)
def unroll_colour_batches(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    judge_unroll(inputs, answers, expected)


@SUITE.check("q1_vectorize", probe=probes.unroll_results, cases=single_images, expected=unrolled_batches)
def unroll_single_image(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    judge_unroll(inputs, answers, expected)


# q2_hyperparameters ---------------------------------------------------------------------

CHOSEN_TERMS = frozenset({"hidden_layer_sizes", "learning_rate_init", "max_iter", "activation"})
LEARNED_TERMS = frozenset({"coefs_", "intercepts_"})  # the weights and the biases
EXPECTED_TERMS = {"hyperparameters": CHOSEN_TERMS, "parameters": LEARNED_TERMS}
# A misplaced term is explained by the rule it breaks, never named: feedback that says which
# term goes where is pasted into the next submission, and the rule is what the question teaches.
LEARNED_RULE = ("learned by `fit` from the data (scikit-learn stores what fitting learns in "
                "attributes whose names end with `_` and that exist only after fitting)")
CHOSEN_RULE = "chosen by you before training (an argument of `MLPClassifier(...)`, which `fit` never changes)"


def _some_terms(n: int, where: str) -> str:
    return f"1 of the terms in {where} is" if n == 1 else f"{n} of the terms in {where} are"


def _term_set_problems(name: str, misplaced: int, absent: int) -> list[str]:
    """What is wrong with the set ``name``, as counts and rules, never as the terms."""
    where, problems = f"`{name}`", []
    if name == "hyperparameters":
        if misplaced:
            problems.append(f"{_some_terms(misplaced, where)} {LEARNED_RULE}: a value `fit` learns is a "
                            "parameter, not a hyperparameter.")
        if absent:
            problems.append(f"{where} lacks {absent} of the terms you choose before training: every "
                            "argument of `MLPClassifier(...)`, which `fit` uses and never changes, is a "
                            "hyperparameter.")
    else:
        if misplaced:
            problems.append(f"{_some_terms(misplaced, where)} {CHOSEN_RULE}: a setting you choose is a "
                            "hyperparameter, not a parameter.")
        if absent:
            problems.append(f"{where} lacks {absent} of the terms learned by `fit`: every weight and bias "
                            "it learns from the data is a parameter.")
    return problems


def _judge_term_set(name: str, answers: dict) -> None:
    got = result_of(answers[name], f"`{name}`")
    if got["type"] not in ("set", "frozenset"):
        fail(f"`{name}` is a {got['type']}; make it a set of strings, e.g. {{'max_iter', ...}}.")
    chosen, expected = set(got["items"]), EXPECTED_TERMS[name]
    if len(chosen) != got["length"]:
        fail(f"`{name}` repeats a term; list each term once.")
    unknown = sorted(chosen - CHOSEN_TERMS - LEARNED_TERMS)
    if unknown:
        fail(f"`{name}` contains {', '.join(f'`{t}`' for t in unknown)}, which is not in MLP_TERMS; "
             "copy the names exactly from MLP_TERMS.")
    problems = _term_set_problems(name, len(chosen - expected), len(expected - chosen))
    if problems:
        fail(" ".join(problems))


@SUITE.check("q2_hyperparameters", probe=probes.term_sets)
def hyperparameters_are_chosen_settings(inputs: None, answers: dict, expected: None) -> None:
    _judge_term_set("hyperparameters", answers)


@SUITE.check("q2_hyperparameters", probe=probes.term_sets)
def parameters_are_learned_values(inputs: None, answers: dict, expected: None) -> None:
    _judge_term_set("parameters", answers)


# q3_trace -------------------------------------------------------------------------------

def _tiny_trace(relu: bool = True) -> dict[str, np.ndarray]:
    pre = TINY_X @ TINY_W1 + TINY_B1
    hidden = np.maximum(pre, 0) if relu else pre
    out_pre = hidden @ TINY_W2 + TINY_B2
    return {"tiny_hidden_pre": pre, "tiny_hidden": hidden, "out_pre": out_pre,
            "tiny_output": 1 / (1 + np.exp(-out_pre))}


def tiny_trace(inputs: None) -> dict[str, np.ndarray]:
    """The hand trace's values (the network of SPEC §3 is fixed: the student computes them)."""
    return _tiny_trace()


def _traced(answers: dict, name: str, size: int) -> np.ndarray:
    got = result_of(answers[name], f"`{name}`")
    if got["array"].size != size:
        fail(f"`{name}` holds {got['array'].size} numbers, expected {size}.")
    return got["array"]


@SUITE.check("q3_trace", probe=probes.traced_values, expected=tiny_trace)
def hand_trace_hidden_weighted_sums(inputs: None, answers: dict, expected: dict[str, np.ndarray]) -> None:
    got = _traced(answers, "tiny_hidden_pre", 2)
    if close(got, expected["tiny_hidden_pre"], config(ASSIGNMENT).tolerance("hand_trace")):
        return
    hint = ("You did not add the bias b1." if close(got, TINY_X @ TINY_W1, 0.005) else
            "You multiplied by W1 transposed: entry j is x[0]·W1[0][j] + x[1]·W1[1][j] + b1[j]."
            if close(got, TINY_W1 @ TINY_X + TINY_B1, 0.005) else
            "Entry j is x[0]·W1[0][j] + x[1]·W1[1][j] + b1[j].")
    fail(f"tiny_hidden_pre = {list(np.round(got, 4))} is off. {hint}")


@SUITE.check("q3_trace", probe=probes.traced_values, expected=tiny_trace)
def hand_trace_hidden_activations(inputs: None, answers: dict, expected: dict[str, np.ndarray]) -> None:
    trace = expected
    got = _traced(answers, "tiny_hidden", 2)
    if close(got, trace["tiny_hidden"], config(ASSIGNMENT).tolerance("hand_trace")):
        return
    if close(got, trace["tiny_hidden_pre"], 0.005):
        fail("tiny_hidden equals the weighted sums: the ReLU is missing. ReLU turns every "
             "negative weighted sum into 0 and keeps positive ones.")
    fail(f"tiny_hidden = {list(np.round(got, 4))} is off: apply ReLU, max(0, s), to each "
         "weighted sum of the hidden layer.")


@SUITE.check("q3_trace", probe=probes.traced_values, expected=tiny_trace)
def hand_trace_output(inputs: None, answers: dict, expected: dict[str, np.ndarray]) -> None:
    trace, no_relu = expected, _tiny_trace(relu=False)
    got = _traced(answers, "tiny_output", 1)
    if close(got, trace["tiny_output"], config(ASSIGNMENT).tolerance("hand_trace")):
        return
    if close(got, no_relu["tiny_output"], 0.005):
        fail("tiny_output was computed from the hidden values before ReLU. Feed the output "
             "layer the activations (after ReLU), not the weighted sums.")
    if close(got, trace["out_pre"], 0.005):
        fail("tiny_output is the output's weighted sum: apply the sigmoid, 1 / (1 + e^(-s)).")
    fail(f"tiny_output = {number_text(float(got[0]))} is off: compute the output's weighted "
         "sum from tiny_hidden, W2 and b2, then apply the sigmoid.")


def _random_layers(rng: np.random.Generator, sizes: list[int], activations: list[str]) -> list:
    return [{"W": rng.normal(0, 0.7, (n_in, n_out)).astype(np.float32),
             "b": rng.normal(0, 0.5, n_out).astype(np.float32), "activation": activation}
            for n_in, n_out, activation in zip(sizes, sizes[1:], activations)]


def one_layer_networks(rng: np.random.Generator) -> dict:
    """One Dense layer per activation, on a batch of 4."""
    cases = []
    for activation in ACTIVATIONS:
        sizes = [int(rng.integers(2, 6)), int(rng.integers(2, 5))]
        cases.append({"layers": _random_layers(rng, sizes, [activation]),
                      "x": rng.normal(size=(4, sizes[0])).astype(np.float32)})
    return {"cases": cases}


def deep_networks(rng: np.random.Generator) -> dict:
    """2 to 4 layers ending in softmax, on a batch of 5."""
    cases = []
    for depth in (2, 3, 4):
        sizes = [int(s) for s in rng.integers(2, 7, size=depth + 1)]
        activations = [str(a) for a in rng.choice(["relu", "sigmoid", "linear"], depth - 1)]
        cases.append({"layers": _random_layers(rng, sizes, [*activations, "softmax"]),
                      "x": rng.normal(size=(5, sizes[0])).astype(np.float32)})
    return {"cases": cases}


def single_example(rng: np.random.Generator) -> dict:
    """One example, a vector, through two layers."""
    sizes = [3, 4, 2]
    return {"cases": [{"layers": _random_layers(rng, sizes, ["relu", "sigmoid"]),
                       "x": rng.normal(size=sizes[0]).astype(np.float32)}]}


def _keras_forward(layers: list[dict], x: np.ndarray) -> np.ndarray:
    """The oracle: a Keras Sequential model holding the same weights."""
    import keras
    model = keras.Sequential([keras.Input(shape=(layers[0]["W"].shape[0],))] + [
        keras.layers.Dense(layer["W"].shape[1], activation=layer["activation"]) for layer in layers])
    for dense, layer in zip(model.layers, layers):
        dense.set_weights([layer["W"], layer["b"]])
    batch = x if x.ndim == 2 else x[None, :]
    out = np.asarray(model(batch, training=False))
    return out if x.ndim == 2 else out[0]


def _numpy_forward(layers: list[dict], x: np.ndarray, *, bias: bool = True,
                   activate: bool = True, softmax_axis: int = -1) -> np.ndarray:
    """Plain forward pass with switchable slips, to name the student's mistake."""
    for layer in layers:
        x = x @ layer["W"] + (layer["b"] if bias else 0)
        if activate:
            x = _activate(x, layer["activation"], softmax_axis)
    return x


def _activate(s: np.ndarray, activation: str, softmax_axis: int) -> np.ndarray:
    if activation == "relu":
        return np.maximum(s, 0)
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-s))
    if activation == "softmax":
        e = np.exp(s - s.max(axis=softmax_axis, keepdims=True))
        return e / e.sum(axis=softmax_axis, keepdims=True)
    return s


def _forward_hint(layers: list[dict], x: np.ndarray, got: np.ndarray) -> str:
    slips: list[tuple[str, dict[str, Any]]] = [
        ("the bias b is never added", dict(bias=False)),
        ("no activation is applied after the weighted sums", dict(activate=False)),
        ("softmax normalises over the batch (axis 0) instead of over each row's outputs "
         "(the last axis)", dict(softmax_axis=0)),
    ]
    for description, slip in slips:
        variant = _numpy_forward(layers, x, **slip)
        if variant.shape == got.shape and close(got, variant, 1e-3):
            return f"Your output matches a forward pass where {description}."
    return ("Each layer computes x @ W + b, then applies its own activation to the result, "
            "and passes that to the next layer.")


def _describe_network(layers: list[dict]) -> str:
    sizes = [layers[0]["W"].shape[0]] + [layer["W"].shape[1] for layer in layers]
    return " → ".join(str(s) for s in sizes) + " (" + ", ".join(layer["activation"] for layer in layers) + ")"


def keras_outputs(inputs: dict) -> list[np.ndarray]:
    """What Keras computes with the same weights (the oracle)."""
    return [_keras_forward(case["layers"], case["x"]) for case in inputs["cases"]]


def judge_forward(inputs: dict, answers: list, outputs: list[np.ndarray]) -> None:
    tolerance = config(ASSIGNMENT).tolerance("forward")
    for case, outcome, expected in zip(inputs["cases"], answers, outputs):
        layers, x = case["layers"], case["x"]
        call = f"forward(x, layers) on the network {_describe_network(layers)} with x of shape {shape_text(x.shape)}"
        got = result_of(outcome, call)["array"]
        if got.shape != expected.shape:
            fail(f"{call} returned shape {shape_text(got.shape)}, not the shape of Keras' output. "
                 + ("A single example (a vector) should give a vector with one value per unit of "
                    "the last layer." if x.ndim == 1 else "A batch gives one row per example, with "
                    "one value per unit of the last layer."))
        if not close(got, expected, tolerance):
            fail(f"{call} differs from Keras with the same weights ({mismatch_text(got, expected, tolerance)}). "
                 f"{_forward_hint(layers, x, got)}")


@SUITE.check("q3_trace", probe=probes.forward_outputs, cases=one_layer_networks, expected=keras_outputs)
def forward_single_layer_each_activation(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    judge_forward(inputs, answers, expected)


@SUITE.check("q3_trace", probe=probes.forward_outputs, cases=deep_networks, expected=keras_outputs)
def forward_matches_keras_on_random_networks(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    judge_forward(inputs, answers, expected)


@SUITE.check("q3_trace", probe=probes.forward_outputs, cases=single_example, expected=keras_outputs)
def forward_accepts_a_single_example(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    judge_forward(inputs, answers, expected)


# q4_mlp ---------------------------------------------------------------------------------

PUBLIC_PARAM_COUNT_CASES = [{"n_inputs": 784, "hidden_layer_sizes": [16, 16], "n_outputs": 10}]


def _param_count_cases(rng: np.random.Generator) -> dict:
    cases = list(PUBLIC_PARAM_COUNT_CASES)
    for depth in (1, 2, 3, 1, 2):
        cases.append({"n_inputs": int(rng.integers(2, 60)),
                      "hidden_layer_sizes": [int(s) for s in rng.integers(1, 40, size=depth)],
                      "n_outputs": int(rng.integers(3, 12))})
    return {"cases": cases}


def fitted_sklearn_param_count(n_inputs: int, sizes: list[int], n_outputs: int) -> int:
    """Fit a real MLPClassifier of that shape and count its learned values (the oracle)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2 * n_outputs, n_inputs))
    y = np.arange(2 * n_outputs) % n_outputs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPClassifier(hidden_layer_sizes=tuple(sizes), max_iter=1, random_state=0).fit(X, y)
    return int(sum(w.size for w in model.coefs_) + sum(b.size for b in model.intercepts_))


def fitted_param_counts(inputs: dict) -> list[int]:
    return [fitted_sklearn_param_count(case["n_inputs"], case["hidden_layer_sizes"], case["n_outputs"])
            for case in inputs["cases"]]


@SUITE.check("q4_mlp", probe=probes.mlp_param_counts, cases=_param_count_cases, expected=fitted_param_counts)
def mlp_param_count_matches_fitted_models(inputs: dict, answers: list, expected: list[int]) -> None:
    for case, outcome, right in zip(inputs["cases"], answers, expected):
        n_in, sizes, n_out = case["n_inputs"], case["hidden_layer_sizes"], case["n_outputs"]
        call = f"mlp_param_count({n_in}, {tuple(sizes)}, {n_out})"
        got = result_of(outcome, call)["number"]
        if got == right:
            continue
        widths = [n_in, *sizes, n_out]
        weights_only = sum(a * b for a, b in itertools.pairwise(widths))
        hint = ("You counted the weights but not the biases: every unit of every hidden and "
                "output layer has one bias." if got == weights_only else
                "Each layer has (units in the previous layer × its units) weights plus one bias "
                "per unit; add this up over every layer, including the output layer.")
        learned = (f"a fitted MLPClassifier of that shape has {count(right)} learned values"
                   if case in PUBLIC_PARAM_COUNT_CASES else  # the prompt's example: no secret
                   "that is not the number of learned values of a fitted MLPClassifier of that "
                   "shape (fit one on a few rows and add up the sizes of coefs_ and intercepts_)")
        fail(f"{call} returned {count(got)}, but {learned}. {hint}")


MLP_16X16_SHAPES = [[784, 16], [16, 16], [16, 10]]


def _judge_is_fitted_mlp(name: str, summary: dict, shapes: list[list[int]] | None = None) -> None:
    if not summary["is_mlp_classifier"]:
        kind = summary["type"] if summary["type"].startswith("the ") else f"a {summary['type']}"
        fail(f"`{name}` is {kind}; make it an MLPClassifier from sklearn.neural_network and fit it.")
    if not summary["fitted"]:
        fail(f"`{name}` has not been fitted: call {name}.fit(X_train_flat, y_train).")
    got_shapes = [list(w.shape) for w in summary["coefs"]]
    if shapes is not None and got_shapes != shapes:
        fail(f"`{name}`'s weight matrices have shapes {got_shapes}, expected {shapes} "
             "(784 inputs → 16 → 16 → 10 classes). Check hidden_layer_sizes=(16, 16) and fit "
             "it on X_train_flat, y_train.")


@SUITE.check("q4_mlp", probe=probes.mlp_16x16_summary)
def mlp_16x16_architecture(inputs: None, answers: dict, expected: None) -> None:
    if answers["is_mlp_classifier"] and answers["hidden_layer_sizes"] != [16, 16]:
        fail(f"mlp_16x16 has hidden_layer_sizes={tuple(answers['hidden_layer_sizes'])}; "
             "the 16×16 network has two hidden layers of 16 units: hidden_layer_sizes=(16, 16).")
    _judge_is_fitted_mlp("mlp_16x16", answers, MLP_16X16_SHAPES)


def mlp_accuracy(summary: dict, X: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of a fitted MLPClassifier computed from its weights alone.

    The judge never calls the student's ``predict`` or ``score``: it runs the forward
    pass itself, so a model object that lies about its predictions gains nothing.
    """
    activation: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "relu": lambda s: np.maximum(s, 0), "tanh": np.tanh,
        "logistic": lambda s: 1 / (1 + np.exp(-s)), "identity": lambda s: s}
    hidden = activation.get(summary["activation"], lambda s: s)
    a = X.reshape(len(X), -1).astype(np.float64)
    for i, (W, b) in enumerate(zip(summary["coefs"], summary["intercepts"])):
        a = a @ W + b
        if i < len(summary["coefs"]) - 1:
            a = hidden(a)
    indices = (a[:, 0] > 0).astype(int) if a.shape[1] == 1 else a.argmax(axis=1)
    return float(np.mean(summary["classes"][indices] == y))


@SUITE.check("q4_mlp", probe=probes.mlp_16x16_summary)
def mlp_16x16_reaches_accuracy(inputs: None, answers: dict, expected: None) -> None:
    _judge_is_fitted_mlp("mlp_16x16", answers, MLP_16X16_SHAPES)
    data = grading_data(ASSIGNMENT)
    accuracy = mlp_accuracy(answers, data.X_test, data.y_test)
    needed = config(ASSIGNMENT).threshold(data.name, "mlp_16x16_accuracy")
    if accuracy < needed:
        fail(f"mlp_16x16 classifies {accuracy:.1%} of the {count(len(data.y_test))} {data.name} "
             f"test images correctly; at least {needed:.0%} is expected. Fit it on the whole "
             "training set (X_train_flat, y_train) with enough iterations (the default "
             "max_iter=200 is enough), and keep the default learning rate.")


# q5_tuning ------------------------------------------------------------------------------

TUNING_CASE = "q5_tuning_problem"  # the three checks below judge one tuning run (two calls of tune_mlp)


def _tuning_problem(rng: np.random.Generator) -> dict:
    """Rows of the grading training set and a grid of one weak and one strong value of each
    hyperparameter, all drawn per submission, so that the winner is clear but not the same
    for everyone. The rows are given by a seed the student can reuse to rebuild the case."""
    data, tuning = grading_data(ASSIGNMENT), config(ASSIGNMENT).tuning
    rows_seed = int(rng.integers(0, 10_000))
    rows = tuning_rows(rows_seed, len(data.y_train), tuning.rows)
    pick = lambda pool: pool[int(rng.integers(len(pool)))]
    learning_rates = [pick(tuning.weak_learning_rates), pick(tuning.strong_learning_rates)]
    sizes = [pick(tuning.weak_sizes), pick(tuning.strong_sizes)]
    order = lambda pair: [pair[i] for i in rng.permutation(2)]
    return {"X": data.X_train.reshape(len(data.X_train), -1)[rows], "y": data.y_train[rows],
            "rows_seed": rows_seed, "seed": int(rng.integers(0, 100)),
            "learning_rates": order(learning_rates), "sizes": order(sizes)}


def tuning_rows(rows_seed: int, n_rows: int, n_chosen: int) -> np.ndarray:
    """The training rows of a hidden tuning case, as its failure message tells the student
    to rebuild them."""
    return np.random.default_rng(rows_seed).permutation(n_rows)[:n_chosen]


def clear_winner(inputs: dict) -> tuple[float, list[int]]:
    """The strong learning rate and the strong size of a drawn grid (never sent to the kernel:
    the probe receives the inputs only)."""
    tuning = config(ASSIGNMENT).tuning
    learning_rate = next(r for r in inputs["learning_rates"] if r in tuning.strong_learning_rates)
    size = next(list(s) for s in inputs["sizes"] if list(s) in tuning.strong_sizes)
    return learning_rate, size


def tuning_winner(inputs: dict) -> dict[str, Any]:
    """The choice a correct tune_mlp returns on the drawn grid, as its answer spells it."""
    learning_rate, size = clear_winner(inputs)
    return {"learning_rate_init": learning_rate, "hidden_layer_sizes": tuple(size)}


@SUITE.check("q5_tuning", probe=probes.notebook_cells, gate=True)
def test_set_not_used_for_tuning(inputs: None, answers: dict, expected: None) -> None:
    judge_test_set_use(answers["cells"], "q5_tuning", leaked_into="tuning",
                       reported_models=config(ASSIGNMENT).leakage.reported_models,
                       advice="Tune on a validation split carved from the training data, and use the test "
                              "set once, for final_mlp only.")


FINAL_MODEL = "final_mlp"  # the one model Q5 scores on the test set
LEDGER_FITS = frozenset({"fit", "partial_fit", "train_on_batch"})
LEDGER_EVALUATIONS = frozenset({"score", "predict", "predict_proba", "evaluate", "test_on_batch"})


@SUITE.check("q5_tuning", probe=probes.kernel_ledger, gate=True)
def the_notebook_ran_no_test_leak(inputs: None, answers: dict, expected: None) -> None:
    """What the kernel saw the notebook do, matched against the test set by row fingerprints:
    a model trained on test rows (L2), or models besides the reported ones scored on them (L1),
    whatever the spelling (copies, globals(), a file written and read back). The ledger lives
    in the student's process: it only adds findings, and a notebook that put the watched
    methods back is withheld for a person."""
    if not answers.get("installed"):
        return  # not graded in the split runner's kernel: the static and counterfactual gates decide
    if answers["tampered"]:
        fail(f"{WITHHELD}: your notebook replaced methods the grader watches while it runs "
             f"({', '.join(answers['tampered'])}), so what it did with the test set cannot be told. "
             "Its points wait for a TA; remove that code and submit again, or ask your TA.")
    findings = ledger_findings(answers, test_fingerprints(),
                               excluded=[*config(ASSIGNMENT).leakage.reported_models, FINAL_MODEL])
    if findings:
        fail("while your notebook ran, the grader saw the test set used where it may not be, which costs "
             "all of q5_tuning's points:\n" + "\n".join(f"  • {finding}" for finding in findings)
             + "\nTune on a validation split carved from the training data, and use the test set once, "
               "for final_mlp only.")


@functools.cache
def test_fingerprints() -> frozenset[str]:
    data = grading_data(ASSIGNMENT)
    return frozenset(row_fingerprints(data.X_test, limit=len(data.X_test)))


def ledger_findings(ledger: dict, test: frozenset[str], excluded: list[str]) -> list[str]:
    """The leaks a kernel ledger shows: each model trained on test rows, and the models scored
    on them when more than the allowed ones were (``excluded``: names of models a question asks
    to score once)."""
    def on_test(rows: list[str]) -> int:
        hits = sum(row in test for row in rows)
        return hits if rows and hits * 2 >= len(rows) else 0

    names = {model: name for name, model in ledger["models"].items()}
    allowed = {ledger["models"][name] for name in excluded if name in ledger["models"]}
    findings, seen = [], set()
    for entry in ledger["entries"]:
        rows = max(on_test(entry["rows"]), on_test(entry.get("validation_rows", [])))
        if entry["method"] in LEDGER_FITS and rows and entry["model"] not in seen:
            seen.add(entry["model"])
            findings.append(f"L2 training on test: {_ledger_model(entry, names)} was trained on {rows} rows of the "
                            f"test set (`.{entry['method']}` in the cell that starts `{entry['cell']}`)")
    scored = [e for e in ledger["entries"] if e["method"] in LEDGER_EVALUATIONS and on_test(e["rows"])]
    models = list(dict.fromkeys(e["model"] for e in scored))
    if len(models) >= 2 and set(models) - allowed:
        cells = ", ".join(f"`{c}`" for c in dict.fromkeys(e["cell"] for e in scored if e["model"] not in allowed))
        described = ", ".join(_ledger_model(next(e for e in scored if e["model"] == m), names) for m in models)
        findings.append(f"L1 multi-test: {len(models)} different models were scored or asked to predict on rows of "
                        f"the test set ({described}; in the cells that start {cells})")
    return findings


def _ledger_model(entry: dict, names: dict[int, str]) -> str:
    name = names.get(entry["model"])
    return f"`{name}` ({entry['class']})" if name else f"a model ({entry['class']}) without a variable of its own"


@SUITE.check("q5_tuning", probe=probes.tuning_runs, cases=_tuning_problem, case=TUNING_CASE, gate=True,
             expected=tuning_winner)
def tune_mlp_does_not_read_the_test_set(inputs: dict, answers: dict, expected: dict[str, Any]) -> None:
    """A leak only when tune_mlp is reproducible (its two unchanged runs agree) and the run
    with the test set blanked answers otherwise or fails. A tune_mlp whose unchanged runs
    disagree is not accused of anything here: ``tune_mlp_returns_a_choice`` tells it to
    seed its randomness, and the static gate still reads its code."""
    if not answers["normal"].get("ok"):
        return  # a crash is reported by the other checks; it is not evidence of a leak
    if tuning_unreproducible(answers) is not None:
        return  # a changing answer says nothing about the test set
    normal = answers["normal"]["value"]
    if not answers["blind"].get("ok"):
        fail("tune_mlp ran twice unchanged without error, then failed when the test set (X_test, "
             f"y_test, X_test_flat) was swapped for other images while it ran ({plain_error(answers['blind'])}), "
             "so it reads the test set. Tune only on the X and y it receives: carve the validation "
             "split from them.")
    if not same_tuning_result(normal, answers["blind"]["value"]):
        fail("tune_mlp gave the same answer twice when run unchanged, but chose differently when "
             "the test set (X_test, y_test, X_test_flat) was swapped for other images while it ran, so its choice "
             "depends on test results. Score candidates on a validation split carved from the X "
             "and y it receives, never on X_test.")


def same_tuning_result(a: dict, b: dict) -> bool:
    """Two of tune_mlp's answers agree: the same keys, the same choice, the same validation
    accuracy. Exactly: an accuracy is a ratio of counts, and a tune_mlp seeded with ``seed``
    computes the same one at every call, so any difference is the answer changing (by one
    validation row or more), never rounding."""
    same_choice = all(a[key] == b[key] for key in ("keys", "learning_rate_init", "hidden_layer_sizes"))
    if (a["val_accuracy"] is None) != (b["val_accuracy"] is None):
        return False
    return same_choice and (a["val_accuracy"] is None or abs(a["val_accuracy"] - b["val_accuracy"]) < 1e-9)


def tuning_unreproducible(answers: dict) -> str | None:
    """How the two unchanged runs of tune_mlp (same arguments, same seed) differ, for the
    student; None when they agree, or when the first failed (other checks report that)."""
    normal, again = answers["normal"], answers["again"]
    if not normal.get("ok"):
        return None
    if not again.get("ok"):
        return f"the first call returned a choice, the second failed ({plain_error(again)})"
    first, second = normal["value"], again["value"]
    if same_tuning_result(first, second):
        return None
    changed = [key for key in ("keys", "learning_rate_init", "hidden_layer_sizes") if first[key] != second[key]]
    if changed:  # the values are not quoted: one of them may be the hidden case's winner
        names = " and ".join("its dict's keys" if key == "keys" else f"its {key}" for key in changed)
        return f"{names} changed from the first call to the second"
    return (f"it returned val_accuracy={_accuracy_text(first['val_accuracy'])} the first time and "
            f"{_accuracy_text(second['val_accuracy'])} the second")


def _accuracy_text(value: float | None) -> str:
    return "None" if value is None else number_text(value)


REPRODUCIBILITY_ADVICE = ("Seed your split and your models with `seed` (for example "
                          "train_test_split(..., random_state=seed) and MLPClassifier(..., "
                          "random_state=seed), or np.random.default_rng(seed), never "
                          "np.random.default_rng() without it), so that the same call always gives "
                          "the same choice.")


@SUITE.check("q5_tuning", probe=probes.tuning_runs, cases=_tuning_problem, case=TUNING_CASE, expected=tuning_winner)
def tune_mlp_returns_a_choice(inputs: dict, answers: dict, expected: dict[str, Any]) -> None:
    choice = result_of(answers["normal"], tuning_call(inputs))
    expected_keys = ["hidden_layer_sizes", "learning_rate_init", "val_accuracy"]
    if choice["keys"] != expected_keys:
        fail(f"tune_mlp returned a dict with keys {choice['keys']}; it should have exactly "
             f"{expected_keys}.")
    if choice["learning_rate_init"] not in inputs["learning_rates"]:
        fail(f"tune_mlp returned learning_rate_init={choice['learning_rate_init']}, which is not "
             f"one of the candidates {inputs['learning_rates']}.")
    if choice["hidden_layer_sizes"] not in inputs["sizes"]:
        fail(f"tune_mlp returned hidden_layer_sizes={choice['hidden_layer_sizes']}, which is not "
             f"one of the candidates {[tuple(s) for s in inputs['sizes']]}.")
    accuracy = choice["val_accuracy"]
    if accuracy is None or not 0 <= accuracy <= 1:
        fail(f"tune_mlp returned val_accuracy={accuracy}; it should be the chosen candidate's "
             "accuracy on the validation split, a number between 0 and 1.")
    difference = tuning_unreproducible(answers)
    if difference is not None:
        fail(f"tune_mlp is not reproducible: called twice with the same arguments ({tuning_call(inputs)}), "
             f"{difference}. {REPRODUCIBILITY_ADVICE} This is not a test-set leak, but an answer that "
             "changes from call to call cannot be checked for one.")


@SUITE.check("q5_tuning", probe=probes.tuning_runs, cases=_tuning_problem, case=TUNING_CASE, expected=tuning_winner)
def tune_mlp_picks_the_clear_winner(inputs: dict, answers: dict, expected: dict[str, Any]) -> None:
    call = tuning_call(inputs)
    choice = result_of(answers["normal"], call)
    picked = (choice["learning_rate_init"], choice["hidden_layer_sizes"])
    if (picked[0], tuple(picked[1] or ())) != (expected["learning_rate_init"], expected["hidden_layer_sizes"]):
        name = grading_data(ASSIGNMENT).name
        unreproducible = (" Your tune_mlp also answers differently each time it is called with the "
                          "same seed, so it may choose otherwise when you rerun it: seed your split "
                          "and your models with `seed`." if tuning_unreproducible(answers) else "")
        # the hidden case's inputs, to reproduce it, and never the combination that wins
        fail(f"On a case you can rebuild on the grader's `{name}` data (`data = load_dataset(\"{name}\")`, "
             "with X_train_flat and y_train made from it as in the data cell): `rows = "
             f"np.random.default_rng({inputs['rows_seed']}).permutation(len(y_train))[:{len(inputs['y'])}]` "
             f"and {call}, tune_mlp chose learning_rate_init={picked[0]}, hidden_layer_sizes="
             f"{tuple(picked[1] or ())}, which is not the combination with the highest validation "
             "accuracy; one of them is clearly better there. Train every combination, score each on "
             f"the validation split, and keep the one with the highest validation accuracy.{unreproducible}")


def tuning_call(inputs: dict) -> str:
    return (f"tune_mlp(X_train_flat[rows], y_train[rows], learning_rates={list(inputs['learning_rates'])}, "
            f"sizes={[tuple(s) for s in inputs['sizes']]}, seed={inputs['seed']})")


@SUITE.check("q5_tuning", probe=probes.final_model_summary)
def final_mlp_refit_on_all_training_data(inputs: None, answers: dict, expected: None) -> None:
    final = answers["final_mlp"]
    _judge_is_fitted_mlp("final_mlp", final)
    data = grading_data(ASSIGNMENT)
    n_features = final["coefs"][0].shape[0]
    if n_features != 784:
        fail(f"final_mlp was fitted on {n_features} features per image; fit it on X_train_flat (784).")
    if final["solver"] in ("adam", "sgd") and final["n_iter"]:
        rows = final["samples_seen"] / final["n_iter"]
        whole = rows_trained_on(len(data.y_train), final)
        if rows != whole:
            aside = (f" (early stopping keeps {count(len(data.y_train) - whole)} of them aside for its "
                     f"own validation, so {count(whole)} is what a refit on all of them trains on)"
                     if final.get("early_stopping") else "")
            fail(f"final_mlp was trained on {count(rows)} rows, but the training set has "
                 f"{count(len(data.y_train))}{aside}. After tuning, refit on all of X_train_flat, "
                 "y_train: the validation split was only for choosing.")


def rows_trained_on(n_rows: int, model: dict) -> int:
    """The rows each epoch of a fit on ``n_rows`` uses: all of them, or with early stopping all
    but the validation fraction scikit-learn sets aside (``train_test_split`` rounds that up)."""
    if not model.get("early_stopping"):
        return n_rows
    return n_rows - math.ceil(model["validation_fraction"] * n_rows)


@SUITE.check("q5_tuning", probe=probes.final_model_summary)
def final_mlp_uses_the_chosen_settings(inputs: None, answers: dict, expected: None) -> None:
    final = answers["final_mlp"]
    _judge_is_fitted_mlp("final_mlp", final)
    best = result_of(answers["best"], "`best`")
    chosen = (best["learning_rate_init"], best["hidden_layer_sizes"])
    used = (final["learning_rate_init"], final["hidden_layer_sizes"])
    if chosen != used:
        fail(f"best chose learning_rate_init={chosen[0]}, hidden_layer_sizes={tuple(chosen[1] or ())}, "
             f"but final_mlp was made with learning_rate_init={used[0]}, hidden_layer_sizes="
             f"{tuple(used[1])}. Build final_mlp from best: MLPClassifier(hidden_layer_sizes="
             "best[\"hidden_layer_sizes\"], learning_rate_init=best[\"learning_rate_init\"], ...).")
    if final["solver"] not in ("adam", "sgd"):
        # lbfgs takes no learning rate (and keeps no count of the rows it trained on)
        fail(f"final_mlp uses solver={final['solver']!r}, which has no learning rate: the "
             f"learning_rate_init={chosen[0]} that best chose plays no part in it. Keep the solver "
             "tune_mlp trained its candidates with (the default, 'adam').")


@SUITE.check("q5_tuning", probe=probes.final_model_summary)
def test_accuracy_is_final_models_score(inputs: None, answers: dict, expected: None) -> None:
    final = answers["final_mlp"]
    _judge_is_fitted_mlp("final_mlp", final)
    reported = result_of(answers["test_accuracy"], "`test_accuracy`")["number"]
    data = grading_data(ASSIGNMENT)
    actual = mlp_accuracy(final, data.X_test, data.y_test)
    if abs(reported - actual) > 1e-6:
        fail(f"test_accuracy is {number_text(reported)}, but final_mlp scores {actual:.4f} on the "
             "test set. Set test_accuracy = final_mlp.score(X_test_flat, y_test), once, after tuning.")
