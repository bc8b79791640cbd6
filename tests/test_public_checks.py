"""The public checks students run (``grader.check("q…")``), read from the built student
notebook's Otter tests exactly as Otter runs them in the student's kernel.

* Each one passes on a correct answer, on every other spelling the hidden checks accept (a
  ``frozenset``, a ``tiny_output`` of shape ``(1,)``, ``Dense`` + ``ReLU()``, the functional
  API...), and on an unanswered stub says the question is not answered yet.
* Each one fails on the slips it names, with a message that says what to change.
* The checks that NumPy can answer never import TensorFlow (a fresh interpreter runs them).
* The prompts and the public checks never show a hidden value: the hand-trace values of
  ``q3_trace``'s tiny network, the course totals of ``q2_param_counts``.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import numpy as np
import pytest
from helpers import ASSIGNMENT, KERAS

from autograder.checks.nn_foundations.judges import _activate as judges_activate

TESTS_DIR = Path(__file__).resolve().parent


# Running a public check ------------------------------------------------------------------

def public_tests(student_notebook: Path) -> dict[str, str]:
    """Question -> the source of its public Otter test, as the student notebook stores it."""
    return dict(nbformat.read(student_notebook, as_version=4).metadata["otter"]["tests"])


def run_public_check(source: str, env: dict) -> list[str]:
    """The messages of the failed test cases (empty if the check passes), as Otter shows them."""
    from otter.test_files import ExceptionTestFile
    test_file = ExceptionTestFile.from_string(source, path="student.ipynb")
    test_file.run(env)
    return [result.message for result in test_file.test_case_results if not result.passed]


@pytest.fixture(scope="module")
def saved_student_notebooks(builds, tmp_path_factory) -> Path:
    """A folder holding both student notebooks as shipped: the public test-set checks read the
    notebook as last saved in the current folder."""
    folder = tmp_path_factory.mktemp("saved")
    for assignment in (ASSIGNMENT, KERAS):
        notebook = builds(assignment).student_dir / f"{assignment}.ipynb"
        (folder / notebook.name).write_bytes(notebook.read_bytes())
    return folder


@pytest.fixture(autouse=True)
def beside_the_saved_notebooks(saved_student_notebooks, monkeypatch):
    monkeypatch.chdir(saved_student_notebooks)


@pytest.fixture(scope="module")
def checks(builds) -> Callable[[str, str], str]:
    cache: dict[str, dict[str, str]] = {}

    def source(assignment: str, question: str) -> str:
        if assignment not in cache:
            build = builds(assignment)
            cache[assignment] = public_tests(build.student_dir / f"{assignment}.ipynb")
        return cache[assignment][question]
    return source


# nn_foundations: correct answers, other accepted spellings, slips -------------------------

def unrolled_length(shape):
    return int(np.prod(shape))


def unroll(images):
    images = np.asarray(images)
    return images.reshape(len(images), -1)


def unroll_by_columns(images):
    return np.stack([image.reshape(-1, order="F") for image in np.asarray(images)])


def unroll_in_place(images):
    images *= 2.0
    return np.asarray(images).reshape(len(images), -1) / 2.0


def float_length(shape):
    return float(np.prod(shape))


def stub(*args, **kwargs):
    """A stub as the student notebook ships it: its body is ``...``."""


def _activate(s, activation, axis=-1):
    """The judges' own activation (one definition of what each name means)."""
    return judges_activate(s, activation, axis)


def forward(x, layers):
    a = np.asarray(x, dtype=float)
    for W, b, activation in layers:
        a = _activate(a @ W + b, activation)
    return a


def forward_without_bias(x, layers):
    a = np.asarray(x, dtype=float)
    for W, _, activation in layers:
        a = _activate(a @ W, activation)
    return a


def forward_softmax_over_batch(x, layers):
    a = np.asarray(x, dtype=float)
    for W, b, activation in layers:
        a = _activate(a @ W + b, activation, axis=0)
    return a


def forward_as_list(x, layers):
    return forward(x, layers).tolist()


def tiny_trace() -> dict:
    from autograder.checks.nn_foundations.judges import _tiny_trace
    trace = _tiny_trace()
    return {"tiny_hidden_pre": trace["tiny_hidden_pre"].tolist(), "tiny_hidden": trace["tiny_hidden"].tolist(),
            "tiny_output": float(trace["tiny_output"][0])}


def mlp_param_count(n_inputs, hidden_layer_sizes, n_outputs):
    widths = [n_inputs, *hidden_layer_sizes, n_outputs]
    return sum(a * b + b for a, b in itertools.pairwise(widths))


def count_without_biases(n_inputs, hidden_layer_sizes, n_outputs):
    widths = [n_inputs, *hidden_layer_sizes, n_outputs]
    return sum(a * b for a, b in itertools.pairwise(widths))


def count_first_hidden_layer_only(n_inputs, hidden_layer_sizes, n_outputs):
    return mlp_param_count(n_inputs, hidden_layer_sizes[:1], n_outputs)


def digits_rows() -> tuple[np.ndarray, np.ndarray]:
    """300 training rows of the grader's dataset: enough for the checks, quick to fit."""
    from autograder.data import load_dataset
    data = load_dataset("digits", verbose=False)
    return data.X_train.reshape(len(data.X_train), -1)[:300], data.y_train[:300]


def fitted_mlp(digits, **settings):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    settings = {"hidden_layer_sizes": (16, 16), "random_state": 0, **settings}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(**settings).fit(*digits)


def nn_namespace(digits: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """A correct nn_foundations namespace, as the solutions leave it."""
    digits = digits_rows() if digits is None else digits
    mlp = fitted_mlp(digits)
    best = {"learning_rate_init": 0.01, "hidden_layer_sizes": (32,), "val_accuracy": 0.9}
    final = fitted_mlp(digits, hidden_layer_sizes=(32,), learning_rate_init=0.01)
    return {"np": np, "X_train_flat": digits[0], "y_train": digits[1],
            "unrolled_length": unrolled_length, "unroll": unroll,
            "MLP_TERMS": ["hidden_layer_sizes", "coefs_", "intercepts_", "learning_rate_init", "max_iter", "activation"],
            "hyperparameters": {"hidden_layer_sizes", "learning_rate_init", "max_iter", "activation"},
            "parameters": {"coefs_", "intercepts_"},
            **tiny_trace(), "forward": forward,
            "mlp_param_count": mlp_param_count, "mlp_16x16": mlp,
            "best": best, "final_mlp": final, "test_accuracy": 0.9}


@pytest.fixture(scope="module")
def nn_env() -> dict:
    return nn_namespace()


# (question, what differs from the correct namespace): accepted by the hidden checks too
NN_ACCEPTED = {
    "q1 numpy int": ("q1_vectorize", lambda env: {"unrolled_length": lambda shape: np.prod(shape)}),
    "q2 frozensets": ("q2_hyperparameters", lambda env: {"hyperparameters": frozenset(env["hyperparameters"]),
                                                         "parameters": frozenset(env["parameters"])}),
    "q3 tiny_output of shape (1,)": ("q3_trace", lambda env: {"tiny_output": np.array([env["tiny_output"]])}),
    "q3 tiny_output as a list": ("q3_trace", lambda env: {"tiny_output": [env["tiny_output"]]}),
    "q3 traced values as arrays of shape (1, 2)": ("q3_trace", lambda env: {
        "tiny_hidden_pre": np.array([env["tiny_hidden_pre"]]), "tiny_hidden": np.array([env["tiny_hidden"]])}),
    "q3 forward returns a list": ("q3_trace", lambda env: {"forward": forward_as_list}),
    "q5 sizes as an int": ("q5_tuning", lambda env: {"best": {**env["best"], "hidden_layer_sizes": 32}}),
}

# name -> (question, what the slip changes, a phrase the message must contain)
NN_SLIPS = {
    "unrolled_length not answered": ("q1_vectorize", lambda env: {"unrolled_length": stub}, "not answered yet"),
    "unroll not answered": ("q1_vectorize", lambda env: {"unroll": stub}, "not answered yet"),
    "unrolled_length returns a float": ("q1_vectorize", lambda env: {"unrolled_length": float_length},
                                        "should return an int"),
    "unroll in column order": ("q1_vectorize", lambda env: {"unroll": unroll_by_columns}, "order='F'"),
    "unroll modifies its input": ("q1_vectorize", lambda env: {"unroll": unroll_in_place},
                                  "changed the array it was given"),
    "unroll flattens the whole batch": ("q1_vectorize", lambda env: {"unroll": lambda images: np.ravel(images)},
                                        "one row per image"),
    "terms not answered": ("q2_hyperparameters", lambda env: {"hyperparameters": ..., "parameters": ...},
                           "not answered yet"),
    "terms as lists": ("q2_hyperparameters", lambda env: {"hyperparameters": sorted(env["hyperparameters"])},
                       "should be a set"),
    "a term in both sets": ("q2_hyperparameters", lambda env: {"parameters": {"coefs_", "intercepts_", "max_iter"}},
                            "cannot be both"),
    "hand trace not answered": ("q3_trace", lambda env: {"tiny_output": ...}, "not answered yet"),
    "ReLU forgotten in the hand trace": ("q3_trace", lambda env: {"tiny_hidden": list(env["tiny_hidden_pre"])},
                                         "ReLU"),
    "forward not answered": ("q3_trace", lambda env: {"forward": stub}, "not answered yet"),
    "forward without the bias": ("q3_trace", lambda env: {"forward": forward_without_bias},
                                 "the bias b is never added"),
    "softmax over the batch": ("q3_trace", lambda env: {"forward": forward_softmax_over_batch}, "not over the batch"),
    "mlp_param_count not answered": ("q4_mlp", lambda env: {"mlp_param_count": stub}, "not answered yet"),
    "count without the biases": ("q4_mlp", lambda env: {"mlp_param_count": count_without_biases}, "biases"),
    "count of the first hidden layer only": ("q4_mlp", lambda env: {"mlp_param_count": count_first_hidden_layer_only},
                                             "every layer counts"),
    "mlp_16x16 not answered": ("q4_mlp", lambda env: {"mlp_16x16": ...}, "not answered yet"),
    "one hidden layer": ("q4_mlp", lambda env: {"mlp_16x16": fitted_mlp((env["X_train_flat"], env["y_train"]),
                                                                        hidden_layer_sizes=(16,))},
                         "hidden_layer_sizes=(16, 16)"),
    "five iterations": ("q4_mlp", lambda env: {"mlp_16x16": fitted_mlp((env["X_train_flat"], env["y_train"]),
                                                                       max_iter=5)}, "max_iter=200"),
    "tuning not answered": ("q5_tuning", lambda env: {"best": ..., "final_mlp": ..., "test_accuracy": ...},
                            "not answered yet"),
    "tune_mlp returns None": ("q5_tuning", lambda env: {"best": None}, "does tune_mlp return"),
    "final_mlp ignores best": ("q5_tuning", lambda env: {"best": {**env["best"], "learning_rate_init": 0.001}},
                               "build final_mlp from best"),
    "a dict with other keys": ("q5_tuning", lambda env: {"best": {"lr": 0.01, "size": (32,), "acc": 0.9}},
                               "exactly the keys"),
}


def test_the_public_checks_pass_on_correct_answers(checks, nn_env):
    for question in ("q1_vectorize", "q2_hyperparameters", "q3_trace", "q4_mlp", "q5_tuning"):
        assert run_public_check(checks(ASSIGNMENT, question), dict(nn_env)) == [], question


@pytest.mark.parametrize("variant", sorted(NN_ACCEPTED))
def test_a_public_check_accepts_what_the_hidden_checks_accept(checks, nn_env, variant):
    question, change = NN_ACCEPTED[variant]
    assert run_public_check(checks(ASSIGNMENT, question), {**nn_env, **change(nn_env)}) == []


@pytest.mark.parametrize("slip", sorted(NN_SLIPS))
def test_a_public_check_names_the_slip(checks, nn_env, slip):
    question, change, phrase = NN_SLIPS[slip]
    failures = run_public_check(checks(ASSIGNMENT, question), {**nn_env, **change(nn_env)})
    assert failures, f"{question}'s public check passed with {slip}"
    message = failures[0]
    assert phrase in message, f"{slip}: {message}"
    assert "AssertionError" in message, f"{slip}: not an explained failure but an error:\n{message}"


@pytest.mark.parametrize(("assignment", "question", "leak", "verdict"), [
    (ASSIGNMENT, "q5_tuning", "scores = [MLPClassifier(hidden_layer_sizes=s).fit(X_train_flat, y_train)"
                              ".score(X_test_flat, y_test) for s in [(8,), (16,)]]", "L1 multi-test"),
    (KERAS, "q1_keras_mlp", "from sklearn.preprocessing import StandardScaler\n"
                            "scaler = StandardScaler().fit(X_test.reshape(len(X_test), -1))", "L5 preprocessing"),
])
def test_the_public_test_set_check_shows_the_graders_verdict_on_the_saved_notebook(
        checks, builds, tmp_path, monkeypatch, request, assignment, question, leak, verdict):
    """Students are warned before they submit: the same analysis, the same verdict with its
    rule, cell and line, read from the notebook as last saved; the question's other public
    checks pass (correct answers), so the leak is the one failure."""
    env = dict(request.getfixturevalue("nn_env" if assignment == ASSIGNMENT else "keras_env"))
    shipped = builds(assignment).student_dir / f"{assignment}.ipynb"
    notebook = nbformat.read(shipped, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(leak))
    nbformat.write(notebook, tmp_path / f"{assignment}.ipynb")
    monkeypatch.chdir(tmp_path)
    failures = run_public_check(checks(assignment, question), env)
    assert len(failures) == 1, failures
    assert f"{verdict}, cell {len(notebook.cells)} line " in failures[0], failures
    assert "save the notebook" in failures[0]
    (tmp_path / f"{assignment}.ipynb").write_bytes(shipped.read_bytes())
    assert run_public_check(checks(assignment, question), env) == []


# keras_networks -------------------------------------------------------------------------------

def _sequential(*layers, shape=(28, 28, 1)):
    import keras
    return keras.Sequential([keras.Input(shape=shape), *layers])


def mlp_16x16(hidden="relu", output="softmax", shape=(28, 28, 1), flatten=True):
    from keras import layers
    front = [layers.Flatten()] if flatten else []
    return _sequential(*front, layers.Dense(16, activation="relu"), layers.Dense(16, activation=hidden),
                       layers.Dense(10, activation=output), shape=shape)


def mlp_with_relu_layers():
    from keras import layers
    return _sequential(layers.Flatten(), layers.Dense(16), layers.ReLU(), layers.Dense(16), layers.Activation("relu"),
                       layers.Dense(10), layers.Softmax())


def functional_mlp():
    import keras
    from keras import layers
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Dense(16, activation="relu")(layers.Flatten()(inputs))
    x = layers.Dense(16, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def input_shape_mlp():
    import keras
    from keras import layers
    return keras.Sequential([layers.Flatten(input_shape=(28, 28, 1)), layers.Dense(16, activation="relu"),
                             layers.Dense(16, activation="relu"), layers.Dense(10, activation="softmax")])


def lesson_cnn(output="softmax", second_pooling=True):
    from keras import layers
    pooling = [layers.MaxPooling2D((2, 2))] if second_pooling else []
    return _sequential(layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                       layers.Conv2D(64, (3, 3), activation="relu"), *pooling, layers.Flatten(),
                       layers.Dropout(0.2), layers.Dense(10, activation=output))


def dense_params(n_inputs, units):
    return n_inputs * units + units


def conv2d_params(kernel_size, in_channels, filters):
    h, w = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    return h * w * in_channels * filters + filters


def conv_without_channels(kernel_size, in_channels, filters):
    return conv2d_params(kernel_size, 1, filters)


def conv_square_only(kernel_size, in_channels, filters):
    return kernel_size * kernel_size * in_channels * filters + filters


def invert(images):
    images = np.asarray(images)
    return (1 - images).astype(images.dtype)


def invert_in_place(images):
    images *= -1
    images += 1
    return images


def augment_with_inverted(X, y):
    return np.concatenate([X, invert(X)]), np.concatenate([y, y])


def layer_activations(model, images, n_layers, first=0):
    import keras
    reader = keras.Model(model.inputs, [layer.output for layer in model.layers[first:first + n_layers]])
    outputs = reader.predict(images, verbose=0)
    return [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def activations_unwrapped(model, images, n_layers):
    """The usual slip: iterating over what predict returns, a bare array for one layer."""
    import keras
    reader = keras.Model(model.inputs, [layer.output for layer in model.layers[:n_layers]])
    return [np.asarray(o) for o in reader.predict(images, verbose=0)]


@pytest.fixture(scope="module")
def keras_env() -> dict:
    return {"np": np, "build_mlp_16x16": mlp_16x16, "build_cnn": lesson_cnn,
            "dense_params": dense_params, "conv2d_params": conv2d_params, "lesson_cnn_params": 34826,
            "portfolio_cnn_params": 1, "wide_mlp_params": 1, "deep_mlp_params": 1,  # not a public check's business
            "invert": invert, "augment_with_inverted": augment_with_inverted, "layer_activations": layer_activations}


KERAS_ACCEPTED = {
    "q1 Dense + ReLU/Activation/Softmax layers": ("q1_keras_mlp", {"build_mlp_16x16": mlp_with_relu_layers}),
    "q1 functional API": ("q1_keras_mlp", {"build_mlp_16x16": functional_mlp}),
    "q1 Flatten(input_shape=...)": ("q1_keras_mlp", {"build_mlp_16x16": input_shape_mlp}),
    "q2 numpy ints": ("q2_param_counts", {"dense_params": lambda n, u: np.int64(dense_params(n, u))}),
}

KERAS_SLIPS = {
    "build_mlp_16x16 not answered": ("q1_keras_mlp", {"build_mlp_16x16": stub}, "not answered yet"),
    "no softmax on the output": ("q1_keras_mlp", {"build_mlp_16x16": lambda: mlp_16x16(output=None)}, "softmax"),
    "sigmoid hidden layer": ("q1_keras_mlp", {"build_mlp_16x16": lambda: mlp_16x16(hidden="sigmoid")},
                             "activation='relu'"),
    "Input((784,))": ("q1_keras_mlp", {"build_mlp_16x16": lambda: mlp_16x16(shape=(784,))},
                      "keras.Input(shape=(28, 28, 1))"),
    "no Flatten": ("q1_keras_mlp", {"build_mlp_16x16": lambda: mlp_16x16(flatten=False)}, "Flatten missing"),
    "dense_params not answered": ("q2_param_counts", {"dense_params": stub}, "not answered yet"),
    "conv2d_params without the input channels": ("q2_param_counts", {"conv2d_params": conv_without_channels},
                                                 "input channels"),
    "conv2d_params for square kernels only": ("q2_param_counts", {"conv2d_params": conv_square_only}, "tuple"),
    "a total not answered": ("q2_param_counts", {"portfolio_cnn_params": ...}, "not answered yet"),
    "build_cnn not answered": ("q3_cnn", {"build_cnn": stub}, "not answered yet"),
    "sigmoid on the CNN's output": ("q3_cnn", {"build_cnn": lambda: lesson_cnn(output="sigmoid")}, "softmax"),
    "second pooling left out": ("q3_cnn", {"build_cnn": lambda: lesson_cnn(second_pooling=False)}, "MaxPooling2D"),
    "invert not answered": ("q4_augment", {"invert": stub}, "not answered yet"),
    "invert in place": ("q4_augment", {"invert": invert_in_place}, "changed the array it was given"),
    "layer_activations not answered": ("q5_activations", {"layer_activations": stub}, "not answered yet"),
    "activations off by one layer": ("q5_activations", {"layer_activations": lambda m, i, n: layer_activations(
        m, i, n, first=1)}, "model.layers[0]"),
    "n_layers=1 returns a bare array": ("q5_activations", {"layer_activations": activations_unwrapped},
                                        "put it in a list"),
}


def test_the_keras_public_checks_pass_on_correct_answers(checks, keras_env):
    for question in ("q1_keras_mlp", "q2_param_counts", "q3_cnn", "q4_augment", "q5_activations"):
        assert run_public_check(checks(KERAS, question), dict(keras_env)) == [], question


@pytest.mark.parametrize("variant", sorted(KERAS_ACCEPTED))
def test_a_keras_public_check_accepts_what_the_hidden_checks_accept(checks, keras_env, variant):
    question, change = KERAS_ACCEPTED[variant]
    assert run_public_check(checks(KERAS, question), {**keras_env, **change}) == []


@pytest.mark.parametrize("slip", sorted(KERAS_SLIPS))
def test_a_keras_public_check_names_the_slip(checks, keras_env, slip):
    question, change, phrase = KERAS_SLIPS[slip]
    failures = run_public_check(checks(KERAS, question), {**keras_env, **change})
    assert failures, f"{question}'s public check passed with {slip}"
    assert phrase in failures[0], f"{slip}: {failures[0]}"
    assert "AssertionError" in failures[0], f"{slip}: not an explained failure but an error:\n{failures[0]}"


# No TensorFlow where NumPy answers ---------------------------------------------------------------

NO_TENSORFLOW = {ASSIGNMENT: ["q1_vectorize", "q2_hyperparameters", "q3_trace", "q4_mlp", "q5_tuning"],
                 KERAS: ["q2_param_counts", "q4_augment"]}

FRESH_INTERPRETER = """
import json, sys
sys.path.insert(0, {tests!r})
import numpy as np
import test_public_checks as t
sources = json.loads({sources!r})
env = {{**t.keras_namespace_without_models(), **t.nn_namespace()}}
failures = {{q: t.run_public_check(source, dict(env)) for q, source in sources.items()}}
print(json.dumps({{"failures": failures,
                  "imported": sorted(m for m in ("tensorflow", "keras", "torch", "jax") if m in sys.modules)}}))
"""


def keras_namespace_without_models() -> dict:
    return {"dense_params": dense_params, "conv2d_params": conv2d_params, "lesson_cnn_params": 34826,
            "portfolio_cnn_params": 1, "wide_mlp_params": 1, "deep_mlp_params": 1,
            "invert": invert, "augment_with_inverted": augment_with_inverted}


def test_checks_numpy_can_answer_import_no_tensorflow(checks, saved_student_notebooks):
    """In a fresh interpreter (here nothing would notice: other tests import Keras): every such
    check passes and leaves TensorFlow, Keras, PyTorch and JAX unimported (the test-set check
    included: it reads the saved notebook beside it)."""
    sources = {f"{a}/{q}": checks(a, q) for a, questions in NO_TENSORFLOW.items() for q in questions}
    script = FRESH_INTERPRETER.format(tests=str(TESTS_DIR), sources=json.dumps(sources))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=saved_student_notebooks)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert not any(report["failures"].values()), report["failures"]
    assert report["imported"] == [], f"a public check imported {report['imported']}"


# No hidden value in a prompt or a public check ----------------------------------------------------

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d{2,}")


def _arithmetic_values(text: str) -> list[tuple[str, float]]:
    """Every inline code span that is plain arithmetic on numbers (``np.exp`` allowed), evaluated."""
    values = []
    for span in _CODE_SPAN.findall(text):
        try:
            tree = ast.parse(span, mode="eval")
        except SyntaxError:
            continue
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        if not any(isinstance(node, ast.BinOp) for node in ast.walk(tree)) or names - {"np", "math"}:
            continue
        try:
            value = eval(compile(tree, "<prompt>", "eval"), {"__builtins__": {}, "np": np, "math": math})
        except Exception:
            continue
        if np.ndim(value) == 0:
            values.append((span, float(value)))
    return values


def hand_trace_leaks(text: str) -> list[str]:
    """The tiny network's hand-trace values that ``text`` shows: an arithmetic expression that
    evaluates to one of them, or a decimal within the grading tolerance of the output."""
    from autograder.checks.nn_foundations.judges import _tiny_trace
    from autograder.config import config
    tolerance = config(ASSIGNMENT).tolerance("hand_trace")
    trace = _tiny_trace()
    hidden = sorted({float(v) for value in trace.values() for v in np.ravel(value)})
    leaks = [f"`{span}` = {value:g}" for span, value in _arithmetic_values(text)
             if any(abs(value - h) <= tolerance for h in hidden)]
    output = float(trace["tiny_output"][0])
    leaks += [number for number in _DECIMAL.findall(text) if abs(float(number) - output) <= tolerance]
    return leaks


def test_the_hand_trace_guard_finds_what_the_issue_found():
    """The prompt before issue 22: its example was the first hidden sum, its rounding example the output."""
    old = ("You may write the arithmetic as Python expressions, e.g. `2.0 * 1.0 + (-1.0) * 0.5 + 0.5`.\n"
           "give at least three decimals (0.731, not 0.7), or let Python do the arithmetic.")
    assert hand_trace_leaks(old) == ["`2.0 * 1.0 + (-1.0) * 0.5 + 0.5` = 2", "0.731"]


def _student_texts(build) -> tuple[str, str]:
    notebook = nbformat.read(build.student_dir / f"{build.assignment}.ipynb", as_version=4)
    prompts = "\n".join(cell.source for cell in notebook.cells)
    return prompts, "\n".join(notebook.metadata["otter"]["tests"].values())


def test_no_prompt_or_public_check_shows_a_hand_trace_value(builds):
    prompts, checks = _student_texts(builds(ASSIGNMENT))
    assert hand_trace_leaks(prompts) == []
    assert hand_trace_leaks(checks) == []


def test_no_prompt_or_public_check_shows_a_course_total(builds):
    from autograder.checks.judging import count
    from autograder.checks.keras_networks.judges import COURSE_MODELS, reference_summary
    prompts, checks = _student_texts(builds(KERAS))
    for variable in ("portfolio_cnn_params", "wide_mlp_params", "deep_mlp_params"):
        total = reference_summary(COURSE_MODELS[variable][1]).total_params
        for text in (count(total), str(total)):
            assert not re.search(rf"(?<![\d,]){re.escape(text)}(?![\d,])", prompts + checks), (variable, text)


# The thresholds a public check quotes are grading.toml's ----------------------------------------

def test_q4_public_check_asks_for_grading_tomls_threshold(checks):
    """Otter does not fill ``{{ … }}`` in test cells: the number is written out, and kept in step here."""
    from autograder.config import config
    needed = config(ASSIGNMENT).threshold("digits", "mlp_16x16_accuracy")
    assert f"accuracy >= {needed}" in checks(ASSIGNMENT, "q4_mlp")


# q2's hidden feedback names the rule a term breaks, never the term -------------------------------

MLP_TERMS_FOR_FEEDBACK = ("hidden_layer_sizes", "coefs_", "intercepts_", "learning_rate_init", "max_iter", "activation")


@pytest.mark.parametrize(("hyperparameters", "parameters"), [
    ({"hidden_layer_sizes", "learning_rate_init", "coefs_", "activation"}, {"max_iter", "intercepts_"}),
    ({"hidden_layer_sizes", "learning_rate_init", "activation"}, {"max_iter", "coefs_", "intercepts_"}),
    ({"hidden_layer_sizes", "learning_rate_init", "max_iter", "activation", "intercepts_"}, {"coefs_"}),
])
def test_q2_feedback_says_which_rule_is_broken_not_where_a_term_goes(hyperparameters, parameters):
    from autograder.checks import CheckFailed, run_check
    env = {"hyperparameters": hyperparameters, "parameters": parameters}
    messages = []
    for check in ("hyperparameters_are_chosen_settings", "parameters_are_learned_values"):
        with pytest.raises(CheckFailed) as failed:
            run_check(env, ASSIGNMENT, check)
        messages.append(str(failed.value))
    feedback = "\n".join(messages)
    named = [term for term in MLP_TERMS_FOR_FEEDBACK if re.search(rf"\b{term}\b", feedback)]
    assert named == [], f"the feedback names {named}:\n{feedback}"
    assert "learned by `fit`" in feedback or "chosen by you before training" in feedback, feedback
