"""Judges of ``training_diagnostics``: NumPy, Keras and scikit-learn as the oracles, the
grader's own training runs, and the figure read from its data.

Architectures are compared with :mod:`autograder.checks.models`, as in ``keras_networks``.
Accuracy is never taken from the student's own training: the judge rebuilds the returned
architecture from its config (Keras' safe mode) and trains it itself, with a fixed seed and the
budget of ``grading.toml [training]``, within the same limits (parameters, multiply-adds, CPU
time; ``models.require_within_budget``, ``models.train_rebuilt``). Each run is scored on the
test images by the most probable class, whatever metric the model was compiled with (a model
compiled with ``binary_crossentropy`` reports *binary* accuracy, which is the lesson of q5).
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from autograder.checks import models
from autograder.checks.judging import (
    close,
    count,
    fail,
    grading_data,
    judge_leaks_of_question,
    mismatch_text,
    require_input_unchanged,
    returned,
    shape_text,
)
from autograder.checks.models import REFERENCE_TRAINING_FILE as REFERENCE_TRAINING_FILE  # the build reads it here
from autograder.checks.models import OutOfCpuTime, OverBudget, dense_stack
from autograder.checks.probing import Outcome
from autograder.checks.suite import Suite
from autograder.checks.training_diagnostics import probes
from autograder.config import config, grading_dataset

ASSIGNMENT = "training_diagnostics"
FLAT_SHAPE = (784,)


# Reference models and runs (SPEC §7) -------------------------------------------------------------

def sigmoid_mlp():
    """q2: 784-128-64-10, sigmoid hidden layers (109,386 parameters)."""
    return dense_stack([128, 64], activation="sigmoid")


def deep_mlp():
    """q5: the course's deep MLP, 784-256-64-64-32-10 (what broken_deep_mlp() builds)."""
    return dense_stack([256, 64, 64, 32])


#: The optimizer broken_deep_mlp() compiles with (the notebook's given cell): the grader trains
#: q5's fixed and broken setups with it. Plain SGD at 0.01 learns even from 0-255 pixels with
#: binary cross-entropy (benchmarks/training_diagnostics_budgets.py); with momentum it does not.
BROKEN_OPTIMIZER = {"class_name": "SGD", "config": {"learning_rate": 0.01, "momentum": 0.9}}
LOSSES_FOR_LABELS = {"one_hot": "categorical_crossentropy", "integer": "sparse_categorical_crossentropy"}
ACCURACY_METRICS = frozenset({"accuracy", "acc", "categorical_accuracy"})


@functools.cache
def reference_summary(builder: Callable[[], Any]):
    return models.summarize(builder())


@dataclass(frozen=True)
class TrainingRun:
    """What one grader's training run trains with, besides the architecture and the budget."""

    loss: str
    labels: str             # "one_hot" or "integer"
    optimizer: str          # "course": grading.toml's [training] optimizer; "broken": BROKEN_OPTIMIZER
    pixel_bytes: bool       # True: pixels 0-255, as the broken setup feeds them; False: scaled to [0, 1]

    def compile_settings(self) -> dict[str, Any]:
        import keras
        # a copy: Keras rewrites the dict it is given (class_name in lower case), which would change the
        # training key of every later run in this process
        optimizer = (keras.optimizers.get(copy.deepcopy(BROKEN_OPTIMIZER)) if self.optimizer == "broken"
                     else config(ASSIGNMENT).training.optimizer)
        return {"optimizer": optimizer, "loss": self.loss, "metrics": ["accuracy"]}


def sigmoid_run() -> TrainingRun:
    """q2's run: grading.toml's [training] optimizer and loss, on one-hot labels."""
    return TrainingRun(loss=config(ASSIGNMENT).training.loss, labels="one_hot", optimizer="course", pixel_bytes=False)


BROKEN_RUN = TrainingRun(loss="binary_crossentropy", labels="one_hot", optimizer="broken", pixel_bytes=True)


def fixed_run(loss: str, labels: str) -> TrainingRun:
    return TrainingRun(loss=loss, labels=labels, optimizer="broken", pixel_bytes=False)


# Grader-side training ---------------------------------------------------------------------------------

_accuracy_by_training: dict[str, float] = {}


def training_key(config_json: str, run: TrainingRun) -> str:
    """The architecture (up to the names Keras numbers), the run, the budget, the seed and the dataset."""
    training = config(ASSIGNMENT).training
    return models.training_key(config_json, asdict(run), training.optimizer, BROKEN_OPTIMIZER, training.mlp_epochs,
                               training.batch_size,
                               config(ASSIGNMENT).grading.seed, grading_dataset(ASSIGNMENT))


@functools.cache
def recorded_trainings() -> dict[str, float]:
    return models.read_recorded_trainings(ASSIGNMENT)


def trained_accuracy(config_json: str, run: TrainingRun) -> float:
    """The grader's accuracy for an architecture and a run: recorded by the build for the
    reference ones, else trained once per batch or grading process (``models.accuracy_once``).
    Raises :class:`OverBudget` (nothing trained) or :class:`OutOfCpuTime` (training stopped)."""
    models.require_within_budget(config_json, config(ASSIGNMENT).training)
    return models.accuracy_once(training_key(config_json, run), functools.partial(train_and_score, config_json, run),
                                recorded_trainings(), _accuracy_by_training)


def grader_pixels(images: np.ndarray, run: TrainingRun) -> np.ndarray:
    """The images flattened as the notebook's pixels (bytes 0-255), scaled to [0, 1] unless the
    run feeds the bytes themselves."""
    pixels = np.round(images.reshape(len(images), -1) * 255).astype(np.uint8)
    return pixels.astype(np.float32) if run.pixel_bytes else pixels.astype(np.float32) / np.float32(255)


def train_and_score(config_json: str, run: TrainingRun) -> float:
    """Train the architecture with the run's settings (:func:`trained_model`) and score it on the
    test images: the share whose most probable class is the label (a nan output counts as class 0)."""
    data = grading_data(ASSIGNMENT)
    model = trained_model(config_json, run)
    probabilities = np.asarray(model(grader_pixels(data.X_test, run), training=False))  # no predict(): no retracing
    return float(np.mean(np.argmax(probabilities, axis=1) == data.y_test))


def trained_model(config_json: str, run: TrainingRun) -> Any:
    import keras
    models.require_within_budget(config_json, config(ASSIGNMENT).training)
    training, data = config(ASSIGNMENT).training, grading_data(ASSIGNMENT)
    labels = keras.utils.to_categorical(data.y_train, 10).astype("float32") if run.labels == "one_hot" else data.y_train
    return models.train_rebuilt(config_json, compile_settings=run.compile_settings(),
                                X=grader_pixels(data.X_train, run), y=labels, epochs=training.mlp_epochs,
                                batch_size=training.batch_size,
                                seed=config(ASSIGNMENT).grading.seed,
                                cpu_seconds=float(training.judge_cpu_seconds[data.name]), dataset=data.name)


def reference_runs() -> tuple[tuple[Callable[[], Any], TrainingRun], ...]:
    return ((sigmoid_mlp, sigmoid_run()), (deep_mlp, fixed_run("categorical_crossentropy", "one_hot")),
            (deep_mlp, BROKEN_RUN))


def reference_trainings() -> dict[str, float]:
    """For the build: the reference architectures' runs (and the broken setup's), trained now."""
    trained = {}
    for builder, run in reference_runs():
        model_json = builder().to_json()
        trained[training_key(model_json, run)] = train_and_score(model_json, run)
    return trained


SUITE = Suite(ASSIGNMENT, preload=("keras", "sklearn.metrics"), submission_probes=(probes.notebook_cells,),
              reference_trainings=reference_trainings)


def array_of(outcome: Outcome, call: str) -> np.ndarray:
    return returned(outcome, call)["array"]


def require_shape(array: np.ndarray, shape: tuple, call: str, meaning: str) -> None:
    """The shape the prompt asks for, described in words (``meaning``), never quoted: it can be
    the very thing a case hides."""
    if array.shape != shape:
        fail(f"{call} returned an array of shape {shape_text(array.shape)}, which is not the shape asked for: "
             f"{meaning}.")


def require_integers(array: np.ndarray, call: str) -> None:
    if array.dtype.kind not in "iu":
        fail(f"{call} returned {array.dtype} values; classes are integers: return an array of ints "
             "(np.argmax and np.argsort give them; .astype(int) converts).")


# q1_outputs ------------------------------------------------------------------------------------------

def _label_cases(rng: np.random.Generator) -> dict:
    cases: list[dict[str, Any]] = [{"y": rng.integers(0, 10, size=int(rng.integers(5, 15))), "n_classes": None},
             {"y": rng.integers(0, 10, size=1), "n_classes": None}]
    for n_classes in (int(rng.integers(2, 6)), int(rng.integers(11, 13))):
        cases.append({"y": rng.integers(0, n_classes, size=int(rng.integers(4, 12))), "n_classes": n_classes})
    return {"cases": cases}


def to_categorical_cases(inputs: dict) -> list[np.ndarray]:
    import keras
    return [keras.utils.to_categorical(case["y"], case["n_classes"] or 10).astype(np.float32)
            for case in inputs["cases"]]


@SUITE.check("q1_outputs", probe=probes.one_hot_results, cases=_label_cases, expected=to_categorical_cases)
def one_hot_matches_to_categorical(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    for case, outcome, right in zip(inputs["cases"], answers, expected):
        y, n = case["y"], case["n_classes"]
        call = f"one_hot(y{'' if n is None else f', {n}'}) with y = {y.tolist()}"
        got = array_of(outcome, call)
        require_shape(got, right.shape, call, f"one row per label, one column per class ({n or 10})")
        if got.dtype != np.float32:
            fail(f"{call} returned dtype {got.dtype}; return float32, the dtype Keras trains with "
                 "(np.zeros(..., dtype=np.float32), or .astype(np.float32)).")
        if close(got, right, 0):
            continue
        columns = [np.flatnonzero(row).tolist() for row in got]
        shifted = [[(c + 1) % right.shape[1] for c in cols] for cols in columns]
        if all(len(cols) == 1 for cols in columns) and np.array_equal(one_hot_rows(shifted, right.shape), right):
            fail(f"{call}: each row has its 1 one column before the label's (label 0 lands in the last column): "
                 "label y[i] goes to column y[i], columns counted from 0, not y[i] - 1.")
        fail(f"{call} is not the one-hot encoding of y ({mismatch_text(got, right, 0)}): row i should be all zeros "
             "but a 1 in column y[i]. Compare with keras.utils.to_categorical(y, n_classes) in your notebook.")


def one_hot_rows(columns: list[list[int]], shape: tuple) -> np.ndarray:
    rows = np.zeros(shape, dtype=np.float32)
    for i, cols in enumerate(columns):
        rows[i, cols] = 1
    return rows


def _probability_matrices(rng: np.random.Generator, *, ties: bool) -> list[np.ndarray]:
    """Softmax-like rows; with ``ties``, probabilities on a coarse grid, so that equal values are common."""
    matrices = []
    for n, classes in ((6, 10), (1, 10), (5, int(rng.integers(3, 8)))):
        if ties:
            weights = rng.integers(0, 4, size=(n, classes)).astype(float)
            weights[:, int(rng.integers(classes))] += 1  # no row of zeros
            weights[0, :2] = weights[0].max()            # a tie at the top of the first row
        else:
            weights = rng.random((n, classes)) + 1e-3
        matrices.append(weights / weights.sum(axis=1, keepdims=True))
    return matrices


def _class_problems(rng: np.random.Generator) -> dict:
    return {"matrices": _probability_matrices(rng, ties=True) + _probability_matrices(rng, ties=False)}


def argmax_classes(inputs: dict) -> list[np.ndarray]:
    return [np.argmax(p, axis=1) for p in inputs["matrices"]]


@SUITE.check("q1_outputs", probe=probes.predicted_class_results, cases=_class_problems, expected=argmax_classes)
def predicted_classes_match_argmax(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    for p, outcome, right in zip(inputs["matrices"], answers, expected):
        call = f"predicted_classes(p) with p = {np.round(p, 4).tolist()}"
        got = array_of(outcome, call)
        require_shape(got, right.shape, call, "one class per row")
        require_integers(got, call)
        if not np.array_equal(got, right):
            fail(f"{call} returned {got.tolist()}: for each row, return the column of its largest probability "
                 "(the lowest column if several tie), as np.argmax(p, axis=1) does.")


def _top_k_cases(rng: np.random.Generator, *, ties: bool) -> dict:
    cases = []
    for p in _probability_matrices(rng, ties=ties):
        for k in sorted({1, int(rng.integers(2, p.shape[1] + 1))}):
            cases.append({"p": p, "k": k})
    return {"cases": cases}


def ranked_classes(inputs: dict) -> list[np.ndarray]:
    return [np.argsort(-case["p"], axis=1, kind="stable")[:, :case["k"]] for case in inputs["cases"]]


def _judge_top_k(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    for case, outcome, right in zip(inputs["cases"], answers, expected):
        p, k = case["p"], case["k"]
        call = f"top_k(p, {k}) with p = {np.round(p, 4).tolist()}"
        got = array_of(outcome, call)
        require_shape(got, right.shape, call, f"{k} classes for each of the {len(p)} rows")
        require_integers(got, call)
        if np.array_equal(got, right):
            continue
        ascending = np.argsort(p, axis=1, kind="stable")
        if np.array_equal(got, ascending[:, :k]) or (k > 1 and np.array_equal(got, ascending[:, -k:])):
            fail(f"{call} returned {got.tolist()}: classes ranked from the least probable, or the most "
                 "probable last. Rank them from the most probable: np.argsort sorts in ascending order, so "
                 "sort -p (np.argsort(-p, axis=1, kind=\"stable\")) and keep the first k columns.")
        values = np.take_along_axis(p, got.astype(int) % p.shape[1], axis=1)
        if np.allclose(values, np.take_along_axis(p, right, axis=1)):
            fail(f"{call} returned {got.tolist()}: the right probabilities, but classes with equal probabilities "
                 "in another order. Rank equal probabilities by class index, the lower first (a stable sort of -p "
                 "keeps them in column order).")
        fail(f"{call} returned {got.tolist()}, which are not the {k} most probable classes of each row, the most "
             "probable first.")


@SUITE.check("q1_outputs", probe=probes.top_k_results, cases=functools.partial(_top_k_cases, ties=False),
             expected=ranked_classes)
def top_k_ranks_by_probability(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    _judge_top_k(inputs, answers, expected)


@SUITE.check("q1_outputs", probe=probes.top_k_results, cases=functools.partial(_top_k_cases, ties=True),
             expected=ranked_classes)
def top_k_breaks_ties_to_the_lower_class(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    _judge_top_k(inputs, answers, expected)


# q2_sigmoid_mlp, and the models of q5 -------------------------------------------------------------------

@dataclass(frozen=True)
class AskedModel:
    """A model the prompt specifies layer by layer, returned compiled by a student function."""

    function: str
    builder: Callable[[], Any]
    name: str

    def inputs(self, rng: np.random.Generator) -> dict:
        return {"function": self.function}

    def reference(self, inputs: dict) -> Any:
        return reference_summary(self.builder)


SIGMOID_MLP = AskedModel("build_sigmoid_mlp", sigmoid_mlp, "the sigmoid MLP")
DEEP_MLP = AskedModel("fixed_deep_mlp", deep_mlp, "the deep MLP")


def student_summary(answers: Outcome, function: str) -> tuple[str, Any]:
    got = returned(answers, f"{function}()")
    try:
        return got["config"], models.summarize_config(got["config"])
    except models.UnsafeModelError as error:
        fail(f"{function}() returned a model the grader refuses to rebuild: {error}")


def judge_layers(asked: AskedModel, answers: Outcome, reference: Any) -> None:
    _, summary = student_summary(answers, asked.function)
    problem = models.compare(summary, reference, name=asked.name)
    if problem:
        fail(f"{asked.function}(): {problem}\n\nYour model, layer by layer:\n{summary.table()}")


def compile_settings(answers: Outcome, function: str) -> dict:
    """How the student compiled the model, as Keras serialised it; a failure if it was not."""
    got = returned(answers, f"{function}()")
    if got.get("compile_error"):
        fail(f"{function}() returned a model whose compile settings Keras cannot save ({got['compile_error']}): "
             "compile it with built-in Keras objects, e.g. loss=\"categorical_crossentropy\".")
    if not got.get("compile"):
        fail(f"{function}() returned a model that is not compiled: call model.compile(optimizer=..., loss=..., "
             "metrics=[\"accuracy\"]) on it before returning it.")
    return json.loads(got["compile"])


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def keras_name(setting: Any) -> tuple[str, dict]:
    """A loss or metric as compiled, by its Keras function name (``"categorical_crossentropy"``
    for the string, the function and the ``CategoricalCrossentropy()`` object alike), and its options."""
    if isinstance(setting, str):
        return (setting if setting.islower() else _snake(setting)), {}
    if isinstance(setting, dict):
        options = setting.get("config")
        if setting.get("class_name") == "function" and isinstance(options, str):
            return options, {}
        return _snake(str(setting.get("class_name", ""))), options if isinstance(options, dict) else {}
    return repr(setting)[:60], {}


def optimizer_settings(settings: dict) -> tuple[str, dict]:
    """The optimizer's class and its configuration (``"sgd"`` is Keras' SGD with its defaults)."""
    import keras
    optimizer = settings.get("optimizer")
    if isinstance(optimizer, str):
        try:
            built = keras.optimizers.get(optimizer)
        except ValueError:
            return optimizer, {}
        return type(built).__name__, built.get_config()
    if isinstance(optimizer, dict):
        return str(optimizer.get("class_name")), dict(optimizer.get("config") or {})
    return repr(optimizer)[:60], {}


@SUITE.check("q2_sigmoid_mlp", probe=probes.compiled_model, cases=SIGMOID_MLP.inputs, expected=SIGMOID_MLP.reference)
def sigmoid_mlp_architecture(inputs: dict, answers: Outcome, expected: Any) -> None:
    judge_layers(SIGMOID_MLP, answers, expected)


@SUITE.check("q2_sigmoid_mlp", probe=probes.compiled_model, cases=SIGMOID_MLP.inputs)
def sigmoid_mlp_optimizer(inputs: dict, answers: Outcome, expected: None) -> None:
    name, options = optimizer_settings(compile_settings(answers, "build_sigmoid_mlp"))
    if name != "SGD":
        fail(f"build_sigmoid_mlp() compiles the model with the {name} optimizer; the lesson's network is trained "
             "with plain stochastic gradient descent: optimizer=keras.optimizers.SGD(learning_rate=0.01).")
    rate = options.get("learning_rate")
    if not isinstance(rate, (int, float)) or abs(rate - 0.01) > 1e-6:
        fail(f"build_sigmoid_mlp() compiles SGD with learning_rate={rate}; the question asks for 0.01 (a "
             "fixed number, not a schedule): keras.optimizers.SGD(learning_rate=0.01).")
    if options.get("momentum") or options.get("nesterov"):
        fail(f"build_sigmoid_mlp() compiles SGD with momentum={options.get('momentum')}"
             f"{' and nesterov=True' if options.get('nesterov') else ''}; the lesson's network uses plain SGD, "
             "without momentum: keras.optimizers.SGD(learning_rate=0.01).")


@SUITE.check("q2_sigmoid_mlp", probe=probes.compiled_model, cases=SIGMOID_MLP.inputs)
def sigmoid_mlp_loss_and_metric(inputs: dict, answers: Outcome, expected: None) -> None:
    settings = compile_settings(answers, "build_sigmoid_mlp")
    loss, options = keras_name(settings.get("loss"))
    if loss != "categorical_crossentropy":
        hint = (" It expects integer labels; the question trains on the one-hot y_train_onehot."
                if loss == "sparse_categorical_crossentropy" else
                " It treats the 10 outputs as independent yes/no questions (see Question 5)."
                if loss == "binary_crossentropy" else "")
        fail(f"build_sigmoid_mlp() compiles the model with loss {loss!r}; the output is a row of 10 probabilities "
             f"compared with a one-hot label: loss=\"categorical_crossentropy\".{hint}")
    if options.get("from_logits"):
        fail("build_sigmoid_mlp() compiles categorical_crossentropy with from_logits=True, which reads the outputs "
             "as raw scores, but the output layer is a softmax: leave from_logits out.")
    metrics = [keras_name(metric)[0] for metric in settings.get("metrics") or []]
    if not ACCURACY_METRICS & set(metrics):
        fail(f"build_sigmoid_mlp() compiles the model with metrics {metrics}; ask for metrics=[\"accuracy\"], the "
             "share of images whose most probable class is the label.")


def judge_trained_accuracy(asked: AskedModel, answers: Outcome, run: TrainingRun, threshold_key: str,
                           context: str = "", comparison: str = "") -> float:
    """The student's architecture trained by the grader with ``run``; a failure below the
    dataset's threshold. Returns the accuracy."""
    function = asked.function
    model_config, summary = student_summary(answers, function)
    if summary.input_shape != FLAT_SHAPE:
        fail(f"The grader trains on the flattened images, rows of 784 values, but {function}() expects inputs of "
             f"shape {summary.input_shape}: declare keras.Input(shape=(784,)).")
    if not summary.rows or tuple(summary.rows[-1].output_shape) != (10,):
        fail(f"{function}()'s model does not end with one output per class: end it with "
             "Dense(10, activation=\"softmax\"), output shape (None, 10).")
    training, data = config(ASSIGNMENT).training, grading_data(ASSIGNMENT)
    reference = reference_summary(asked.builder).total_params
    try:
        accuracy = trained_accuracy(model_config, run)
    except OverBudget as refused:
        fail(f"Your {function}() model {refused.clause}; the grader does not train models over {count(refused.limit)} "
             f"{refused.unit} (see the prompt), so this check fails. {asked.name[:1].upper()}{asked.name[1:]} has "
             f"{count(reference)} parameters.")
    except OutOfCpuTime as stopped:
        fail(f"The grader stopped training your {function}() architecture in epoch {stopped.epoch} of "
             f"{stopped.epochs}: it had used the {stopped.seconds:g} CPU-seconds one training run on "
             f"{stopped.dataset} may use (see the prompt), so this check fails. Your model has "
             f"{count(summary.total_params)} parameters; {asked.name} has {count(reference)}.")
    except Exception as error:  # a rebuilt architecture can still fail to train
        reason = (str(error).strip().splitlines() or [""])[0][:200]
        fail(f"The grader could not train your {function}() architecture ({type(error).__name__}: {reason}). "
             f"Check in your notebook that it trains on X_train_flat with loss {run.loss!r}.")
    needed = config(ASSIGNMENT).threshold(data.name, threshold_key)
    if accuracy < needed:
        mismatch = models.compare(summary, reference_summary(asked.builder), name=asked.name)
        fail(f"The grader trained your {function}() architecture {context}for {training.mlp_epochs} epochs on the "
             f"{data.name} training images (batch size {training.batch_size}, seed {config(ASSIGNMENT).grading.seed}); "
             f"it classifies {accuracy:.1%} of the test images correctly, below the {needed:.0%} expected. "
             + comparison + (f"A likely reason: {mismatch}" if mismatch else
                "Check the activations, especially softmax on the output layer."))
    return accuracy


@SUITE.check("q2_sigmoid_mlp", probe=probes.compiled_model, cases=SIGMOID_MLP.inputs)
def sigmoid_mlp_trains_to_accuracy(inputs: dict, answers: Outcome, expected: None) -> None:
    judge_trained_accuracy(SIGMOID_MLP, answers, sigmoid_run(), "sigmoid_mlp_accuracy",
                           context=f"with {config(ASSIGNMENT).training.optimizer} (learning rate 0.01) and "
                                   "categorical_crossentropy ")


# q3_history ----------------------------------------------------------------------------------------------

def random_history(rng: np.random.Generator, n: int, turn: int | None) -> dict[str, list[float]]:
    """A plausible history of ``n`` epochs: the training loss falls; the validation loss falls
    until epoch ``turn`` (1-based; None: to the end) and rises after it. Four decimals, so that
    equal values are exactly equal."""
    epochs = np.arange(1, n + 1)
    loss = 1.5 * np.exp(-epochs / rng.uniform(2, 5)) + 0.05 + rng.uniform(0, 0.01, n)
    loss = np.minimum.accumulate(loss)
    turn = n if turn is None else turn
    val = 1.6 * np.exp(-np.minimum(epochs, turn) / rng.uniform(2, 5)) + 0.2 + 0.04 * np.maximum(epochs - turn, 0)
    val = val + rng.uniform(0, 0.004, n)
    accuracy = np.clip(1.02 - loss / 1.6, 0, 1)
    val_accuracy = np.clip(1.0 - val / 1.6 + rng.uniform(-0.01, 0.01, n), 0, 1)
    rounded = [np.round(values, 4).tolist() for values in (loss, val, accuracy, val_accuracy)]
    return dict(zip(("loss", "val_loss", "accuracy", "val_accuracy"), rounded))


def _history_cases(rng: np.random.Generator) -> dict:
    cases: list[dict[str, Any]] = []
    for _ in range(2):  # overfitting, with the default patience
        n = int(rng.integers(9, 16))
        cases.append({"history": random_history(rng, n, int(rng.integers(3, n - 3))), "patience": None})
    n = int(rng.integers(6, 12))  # still improving
    cases.append({"history": random_history(rng, n, None), "patience": None})
    n = int(rng.integers(10, 16))  # a later val_loss equal to the earlier minimum: no new minimum (True), first tie
    tied = random_history(rng, n, int(rng.integers(3, n - 5)))
    tied["val_loss"][-2] = min(tied["val_loss"])
    cases.append({"history": tied, "patience": 3})
    n = int(rng.integers(10, 16))  # both flat at the end: no new minimum of loss either (False)
    flat = random_history(rng, n, int(rng.integers(3, n - 5)))
    flat["loss"][-4:] = [min(flat["loss"][:-4])] * 4
    cases.append({"history": flat, "patience": 4})
    n = int(rng.integers(10, 16))  # other patiences
    cases.append({"history": random_history(rng, n, n - 2), "patience": 2})
    cases.append({"history": random_history(rng, n, n - 2), "patience": 5})
    cases.append({"history": random_history(rng, 4, 2), "patience": 4})  # too short to tell: False
    return {"cases": cases, "asked": ["best_epoch", "generalization_gap", "is_overfitting"]}


def history_verdicts(inputs: dict) -> dict[str, list]:
    """What a correct answer gives on each history (NumPy)."""
    expected: dict[str, list] = {"best_epoch": [], "generalization_gap": [], "is_overfitting": []}
    for case in inputs["cases"]:
        history, patience = case["history"], case["patience"] or 3
        expected["best_epoch"].append(int(np.argmin(history["val_loss"])) + 1)
        expected["generalization_gap"].append(history["accuracy"][-1] - history["val_accuracy"][-1])
        loss, val = np.asarray(history["loss"]), np.asarray(history["val_loss"])
        expected["is_overfitting"].append(len(loss) > patience and loss[-patience:].min() < loss[:-patience].min()
                                          and not val[-patience:].min() < val[:-patience].min())
    return expected


def _history_text(history: dict) -> str:
    return "; ".join(f"{key} = {values}" for key, values in history.items())


@SUITE.check("q3_history", probe=probes.history_results, cases=_history_cases, expected=history_verdicts,
             case="random_histories")
def best_epoch_random_histories(inputs: dict, answers: dict, expected: dict) -> None:
    for case, outcome, right in zip(inputs["cases"], answers["best_epoch"], expected["best_epoch"]):
        call = f"best_epoch(history) with {_history_text(case['history'])}"
        got = returned(outcome, call)
        if got["type"] != "int" and not got["type"].startswith("numpy.int"):
            fail(f"{call} returned a {got['type']}; return the epoch as an int (int(...)).")
        if got["number"] == right:
            continue
        if got["number"] == right - 1:
            fail(f"{call} returned {count(got['number'])}, the position of the lowest val_loss counted from 0 (what "
                 "np.argmin gives); epochs are counted from 1, as Keras prints them: add one.")
        fail(f"{call} returned {count(got['number'])}, which is not the epoch of the lowest val_loss, counted from "
             "1 (the first of them if several values tie).")


@SUITE.check("q3_history", probe=probes.history_results, cases=_history_cases, expected=history_verdicts,
             case="random_histories")
def generalization_gap_random_histories(inputs: dict, answers: dict, expected: dict) -> None:
    tolerance = config(ASSIGNMENT).tolerance("history")
    for case, outcome, right in zip(inputs["cases"], answers["generalization_gap"], expected["generalization_gap"]):
        call = f"generalization_gap(history) with {_history_text(case['history'])}"
        got = returned(outcome, call)["number"]
        if abs(got - right) <= tolerance:
            continue
        if abs(got + right) <= tolerance:
            fail(f"{call} returned the validation accuracy minus the training accuracy: the gap with its sign "
                 "reversed. The gap is the training accuracy minus the validation accuracy at the last epoch, "
                 "positive when the network does better on its training images.")
        fail(f"{call} returned {got:.4g}, which is not accuracy minus val_accuracy at the last epoch "
             "(history[...][-1]).")


@SUITE.check("q3_history", probe=probes.history_results, cases=_history_cases, expected=history_verdicts,
             case="random_histories")
def is_overfitting_random_histories(inputs: dict, answers: dict, expected: dict) -> None:
    for case, outcome, right in zip(inputs["cases"], answers["is_overfitting"], expected["is_overfitting"]):
        patience = case["patience"]
        call = (f"is_overfitting(history{'' if patience is None else f', patience={patience}'}) with "
                f"{_history_text(case['history'])}")
        got = returned(outcome, call)["truth"]
        if got != right:
            window = patience or 3
            fail(f"{call} returned {got}. Compare the last {window} values of loss and of val_loss with all the "
                 f"values before them: a new minimum is a value strictly lower than every earlier one; it is "
                 f"overfitting when loss has one there and val_loss has none; and a history of {window} epochs or "
                 "fewer is never overfitting.")


def _figure_case(rng: np.random.Generator) -> dict:
    n = int(rng.integers(5, 12))
    return {"history": random_history(rng, n, int(rng.integers(2, n)))}


#: Each axes' lines: (label, the history's key).
AXES_LINES = ((("train_loss", "loss"), ("val_loss", "val_loss")),
              (("train_acc", "accuracy"), ("val_acc", "val_accuracy")))


def figure_lines(inputs: dict) -> list[dict[str, np.ndarray]]:
    """What each axes should draw: for each label, the history's values over epochs 1..n."""
    history = inputs["history"]
    epochs = np.arange(1, len(history["loss"]) + 1, dtype=float)
    return [{label: np.stack([epochs, np.asarray(history[key], dtype=float)]) for label, key in lines}
            for lines in AXES_LINES]


def labelled_lines(axes: dict) -> dict[str, dict]:
    """The axes' lines that have a label (matplotlib names the unlabelled ones ``_child…``)."""
    return {line["label"]: line for line in axes["lines"] if not line["label"].startswith("_")}


def drawn_figure(answers: Outcome, history: dict) -> list[dict]:
    call = f"plot_history(history) with {_history_text(history)}"
    figure = returned(answers, call)
    axes = figure["axes"]
    if len(axes) != 2:
        fail(f"{call} returned a figure with {len(axes)} axes; it should have two, side by side: the loss first, "
             "then the accuracy (fig, (loss_ax, acc_ax) = plt.subplots(1, 2)).")
    return axes


@SUITE.check("q3_history", probe=probes.history_figure, cases=_figure_case, expected=figure_lines, case="figure")
def plot_history_axes_and_labels(inputs: dict, answers: Outcome, expected: list) -> None:
    axes = drawn_figure(answers, inputs["history"])
    for position, (ax, wanted) in enumerate(zip(axes, expected)):
        labels = sorted(labelled_lines(ax))
        if labels != sorted(wanted):
            which = "first (loss)" if position == 0 else "second (accuracy)"
            fail(f"The {which} axes of plot_history's figure has the lines labelled {labels}; it should have "
                 f"exactly {sorted(wanted)} (label=... in each plot call). Lines without a label are ignored.")


@SUITE.check("q3_history", probe=probes.history_figure, cases=_figure_case, expected=figure_lines, case="figure")
def plot_history_data(inputs: dict, answers: Outcome, expected: list) -> None:
    tolerance = config(ASSIGNMENT).tolerance("history")
    axes = drawn_figure(answers, inputs["history"])
    for ax, wanted in zip(axes, expected):
        drawn = labelled_lines(ax)
        for label, (x, y) in wanted.items():
            if label not in drawn:
                fail(f"plot_history's figure has no line labelled {label!r} on the axes where it belongs (the loss "
                     "lines on the first axes, the accuracy lines on the second).")
            line = drawn[label]
            if close(line["x"], x - 1, 0):
                fail(f"The line {label!r} is drawn at x = 0, 1, 2, …: the epochs start at 1, as Keras "
                     "numbers them (np.arange(1, n + 1) for a history of n epochs).")
            if not close(line["x"], x, tolerance):
                fail(f"The line {label!r} is drawn at x = {np.round(line['x'], 3).tolist()[:12]}; its x should be the "
                     "epochs 1, 2, …, n of a history of n epochs, one point per epoch.")
            if not close(line["y"], y, tolerance):
                other = next((name for name, (_, values) in {**expected[0], **expected[1]}.items()
                              if close(line["y"], values, tolerance)), None)
                fail(f"The line {label!r} does not show the history's values for it"
                     + (f"; it shows those of {other!r}." if other else
                        f" ({mismatch_text(line['y'], y, tolerance)}).")
                     + " train_loss is history['loss'], val_loss history['val_loss'], train_acc history['accuracy'], "
                       "val_acc history['val_accuracy'].")


# q4_confusion --------------------------------------------------------------------------------------------

def _labels_with_gaps(rng: np.random.Generator, n_classes: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted labels, mostly right, with one or two classes that never occur as true labels."""
    absent = rng.choice(n_classes, size=int(rng.integers(1, 3)), replace=False)
    present = np.setdiff1d(np.arange(n_classes), absent)
    y_true = rng.choice(present, size=n)
    wrong = rng.random(n) < 0.35
    y_pred = np.where(wrong, rng.integers(0, n_classes, size=n), y_true)
    return y_true.astype(np.int64), y_pred.astype(np.int64)


def _confusion_cases(rng: np.random.Generator) -> dict:
    cases = []
    for n_classes in (10, int(rng.integers(3, 6)), int(rng.integers(6, 9))):
        y_true, y_pred = _labels_with_gaps(rng, n_classes, int(rng.integers(20, 60)))
        cases.append({"y_true": y_true, "y_pred": y_pred, "n_classes": n_classes})
    return {"cases": cases}


def sklearn_confusions(inputs: dict) -> list[np.ndarray]:
    from sklearn.metrics import confusion_matrix
    return [confusion_matrix(case["y_true"], case["y_pred"], labels=list(range(case["n_classes"])))
            for case in inputs["cases"]]


@SUITE.check("q4_confusion", probe=probes.confusion_results, cases=_confusion_cases, expected=sklearn_confusions)
def confusion_matches_sklearn(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    for case, outcome, right in zip(inputs["cases"], answers, expected):
        n = case["n_classes"]
        call = (f"confusion(y_true, y_pred, {n}) with y_true = {case['y_true'].tolist()} and "
                f"y_pred = {case['y_pred'].tolist()}")
        got = array_of(outcome, call)
        require_shape(got, right.shape, call, f"one row and one column per class, {n} of them, "
                                              "including classes that never occur")
        require_integers(got, call)
        if np.array_equal(got, right):
            continue
        if np.array_equal(got, right.T):
            fail(f"{call}: rows and columns are swapped. Row i is the true class, column j the predicted one: "
                 "count the pair (y_true[k], y_pred[k]) at cm[y_true[k], y_pred[k]].")
        fail(f"{call} does not count the (true, predicted) pairs ({mismatch_text(got, right, 0)}); compare with "
             f"sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range({n})).")


def _recall_cases(rng: np.random.Generator) -> dict:
    from sklearn.metrics import confusion_matrix
    cases = _confusion_cases(rng)["cases"]
    return {"matrices": [confusion_matrix(c["y_true"], c["y_pred"], labels=list(range(c["n_classes"])))
                         for c in cases], "labels": cases}


def sklearn_recalls(inputs: dict) -> list[np.ndarray]:
    from sklearn.metrics import recall_score
    return [recall_score(c["y_true"], c["y_pred"], labels=list(range(c["n_classes"])), average=None, zero_division=0)
            for c in inputs["labels"]]


@SUITE.check("q4_confusion", probe=probes.recall_results, cases=_recall_cases, expected=sklearn_recalls)
def per_class_recall_matches_sklearn(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    tolerance = config(ASSIGNMENT).tolerance("recall")
    for cm, outcome, right in zip(inputs["matrices"], answers, expected):
        call = f"per_class_recall(cm) with cm = {cm.tolist()}"
        got = array_of(outcome, call)
        require_input_unchanged(outcome, cm, call, "Compute on a float copy (np.asarray(cm, dtype=float)).")
        require_shape(got, right.shape, call, "one recall per class")
        empty = cm.sum(axis=1) == 0
        if np.isnan(got).any():
            fail(f"{call} returned nan for {int(np.isnan(got).sum())} classes: a class with no images (an empty row) "
                 "has recall 0 (np.divide(..., out=np.zeros(...), where=totals > 0) avoids dividing by 0).")
        if close(got, right, tolerance):
            continue
        columns = cm.sum(axis=0)
        precision = np.divide(np.diag(cm), columns, out=np.zeros(len(cm)), where=columns > 0)
        if close(got, precision, tolerance) or close(got[~empty], precision[~empty], tolerance):
            fail(f"{call}: you divided the diagonal by the column sums, which gives the precision. The recall of a "
                 "class divides by its row sum, all the images of that true class.")
        fail(f"{call} is not the diagonal over the row sums ({mismatch_text(got, right, tolerance)}).")


def _off_diagonal_problems(rng: np.random.Generator) -> dict:
    matrices = []
    for n in (10, int(rng.integers(3, 7)), int(rng.integers(4, 8))):
        cm = rng.integers(0, 4, size=(n, n))
        np.fill_diagonal(cm, rng.integers(5, 30, size=n))       # the diagonal dominates, as for a trained network
        top = int(cm[~np.eye(n, dtype=bool)].max())
        i, j = sorted(rng.choice(n, size=2, replace=False).tolist())
        cm[j, i] = top                                          # a tie with a later pair ...
        cm[i, j] = top                                          # ... and with its transpose
        matrices.append(cm.astype(np.int64))
    return {"matrices": matrices}


def largest_off_diagonal(inputs: dict) -> list[np.ndarray]:
    pairs = []
    for cm in inputs["matrices"]:
        off = np.array(cm, dtype=float)
        np.fill_diagonal(off, -1)
        pairs.append(np.array(np.unravel_index(np.argmax(off), off.shape)))
    return pairs


@SUITE.check("q4_confusion", probe=probes.most_confused_results, cases=_off_diagonal_problems,
             expected=largest_off_diagonal)
def most_confused_with_ties(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    for cm, outcome, right in zip(inputs["matrices"], answers, expected):
        call = f"most_confused(cm) with cm = {cm.tolist()}"
        got = array_of(outcome, call).reshape(-1)
        if got.shape != (2,) or got.dtype.kind not in "iu":
            fail(f"{call} returned {got.tolist()}; return a pair of ints (true class, predicted class), "
                 "e.g. (int(i), int(j)).")
        i, j = (int(v) for v in got)
        if (i, j) == tuple(right):
            continue
        if not (0 <= i < len(cm) and 0 <= j < len(cm)):
            fail(f"{call} returned ({i}, {j}), which is not a cell of the {len(cm)} × {len(cm)} matrix.")
        if i == j:
            fail(f"{call} returned ({i}, {j}), a cell of the diagonal, which counts correct predictions: leave the "
                 "diagonal out (np.fill_diagonal on a copy) before looking for the largest count.")
        if (j, i) == tuple(right):
            fail(f"{call} returned ({i}, {j}): rows are the true class and columns the predicted one, so a cell "
                 "cm[i, j] is the pair (i, j); check the order of your pair.")
        if cm[i, j] == cm[tuple(right)]:
            fail(f"{call} returned ({i}, {j}): several cells tie for the largest count off the diagonal; take the "
                 "lowest true class, then the lowest predicted class (np.argmax on the flattened copy does).")
        fail(f"{call} returned ({i}, {j}), whose count {cm[i, j]} is not the largest off the diagonal.")


# q5_bug_hunt ---------------------------------------------------------------------------------------------

def _pixel_batches(rng: np.random.Generator) -> dict:
    shapes = [(int(rng.integers(2, 5)), 784), (1, 28, 28, 1), (3, 5, 5), (int(rng.integers(4, 9)),)]
    batches = [rng.integers(0, 256, size=shape, dtype=np.uint8) for shape in shapes]
    for batch in batches:
        batch.flat[0], batch.flat[-1] = 255, 0  # the ends of the range in every batch
    return {"batches": batches}


def scaled_batches(inputs: dict) -> list[np.ndarray]:
    return [batch.astype(np.float32) / np.float32(255) for batch in inputs["batches"]]


@SUITE.check("q5_bug_hunt", probe=probes.scale_results, cases=_pixel_batches, expected=scaled_batches,
             case="pixel_batches")
def scale_pixels_random_batches(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    tolerance = config(ASSIGNMENT).tolerance("pixels")
    for batch, outcome, right in zip(inputs["batches"], answers, expected):
        call = f"scale_pixels(images) with uint8 images of shape {batch.shape}"
        got = array_of(outcome, call)
        require_shape(got, batch.shape, call, "the shape of images")
        if got.dtype != np.float32:
            fail(f"{call} returned dtype {got.dtype}; return float32 (.astype(np.float32) before dividing).")
        if close(got, right, tolerance):
            continue
        if close(got, batch.astype(np.float64) / 256, tolerance):
            fail(f"{call}: you divided by 256, so the brightest pixel, 255, becomes 0.996 instead of 1. Pixels run "
                 "from 0 to 255: divide by 255.")
        if close(got, batch.astype(np.float64), tolerance):
            fail(f"{call} returned the pixels unscaled, from 0 to 255: divide them by 255.")
        fail(f"{call} is not images / 255 ({mismatch_text(got, right, tolerance)}).")


@SUITE.check("q5_bug_hunt", probe=probes.scale_results, cases=_pixel_batches, case="pixel_batches")
def scale_pixels_leaves_input_unchanged(inputs: dict, answers: list, expected: None) -> None:
    for batch, outcome in zip(inputs["batches"], answers):
        call = f"scale_pixels(images) with uint8 images of shape {batch.shape}"
        returned(outcome, call)
        require_input_unchanged(outcome, batch, call, "It changed pixels of the array it was given, which the "
                                "caller still uses: compute on a copy (images.astype(np.float32) makes one) and "
                                "never assign into images (no images[...] = ..., no in-place operators).")


@SUITE.check("q5_bug_hunt", probe=probes.compiled_model, cases=DEEP_MLP.inputs, expected=DEEP_MLP.reference)
def fixed_deep_mlp_architecture(inputs: dict, answers: Outcome, expected: Any) -> None:
    judge_layers(DEEP_MLP, answers, expected)


def _fixed_inputs(rng: np.random.Generator) -> dict:
    return {"function": "fixed_deep_mlp"}


def fixed_setup(answers: dict) -> tuple[str, str]:
    """The fixed model's loss and the labels FIXED_LABELS names, if they go together; else a
    failure that names the mismatch."""
    settings = compile_settings(answers["model"], "fixed_deep_mlp")
    loss, options = keras_name(settings.get("loss"))
    labels = returned(answers["labels"]["FIXED_LABELS"], "`FIXED_LABELS`")["text"]
    if loss == "binary_crossentropy":
        fail("fixed_deep_mlp() still compiles the model with binary_crossentropy, which treats the 10 outputs as "
             "independent yes/no questions (hence the flattering 'accuracy'): each image is exactly one of ten "
             "classes, so use a loss for exclusive classes.")
    if loss not in LOSSES_FOR_LABELS.values():
        fail(f"fixed_deep_mlp() compiles the model with loss {loss!r}; for ten exclusive classes use "
             "categorical_crossentropy (one-hot labels) or sparse_categorical_crossentropy (integer labels).")
    if options.get("from_logits"):
        fail(f"fixed_deep_mlp() compiles {loss} with from_logits=True, which reads the outputs as raw scores, but the "
             "output layer is a softmax: leave from_logits out.")
    if labels not in LOSSES_FOR_LABELS:
        fail(f"FIXED_LABELS is {labels!r}; it should be \"one_hot\" or \"integer\", the labels your loss expects.")
    if LOSSES_FOR_LABELS[labels] != loss:
        expects = "integer labels (y_train)" if loss.startswith("sparse") else "one-hot labels (y_train_onehot)"
        fail(f"fixed_deep_mlp() compiles the model with {loss}, which expects {expects}, but FIXED_LABELS = "
             f"{labels!r}. Make them agree: sparse_categorical_crossentropy with \"integer\", "
             "categorical_crossentropy with \"one_hot\".")
    return loss, labels


@SUITE.check("q5_bug_hunt", probe=probes.fixed_setup_answers, cases=_fixed_inputs)
def fixed_loss_matches_labels(inputs: dict, answers: dict, expected: None) -> None:
    fixed_setup(answers)


@SUITE.check("q5_bug_hunt", probe=probes.fixed_setup_answers, cases=_fixed_inputs)
def fixed_deep_mlp_trains_where_broken_does_not(inputs: dict, answers: dict, expected: None) -> None:
    loss, labels = fixed_setup(answers)
    broken = trained_accuracy(deep_mlp().to_json(), BROKEN_RUN)  # recorded by the build
    judge_trained_accuracy(DEEP_MLP, answers["model"], fixed_run(loss, labels), "deep_mlp_accuracy",
                           context=f"with {loss}, the broken setup's optimizer and the pixels scaled to [0, 1] ",
                           comparison=f"(The broken setup, trained the same way on 0-255 pixels with "
                                      f"binary_crossentropy, classifies {broken:.1%} correctly.) ")


BUG_CHOICES = ("loss", "scaling", "optimizer", "output_activation", "epochs")
BUGS = frozenset({"loss", "scaling"})


def the_bugs(inputs: None) -> list[str]:
    return sorted(BUGS)


@SUITE.check("q5_bug_hunt", probe=probes.bug_hunt_answers, expected=the_bugs)
def bugs_exact_set(inputs: None, answers: dict, expected: list[str]) -> None:
    got = returned(answers["bugs"], "`bugs`")
    if got["type"] not in ("set", "frozenset"):
        fail(f"`bugs` is a {got['type']}; make it a set of strings from BUG_CHOICES, e.g. {{'epochs'}}.")
    chosen = set(got["items"])
    unknown = sorted(chosen - set(BUG_CHOICES))
    if unknown:
        fail(f"`bugs` contains {', '.join(f'`{u}`' for u in unknown)}, which is not in BUG_CHOICES; copy the strings "
             "exactly from BUG_CHOICES.")
    if chosen != set(expected):
        fine, missed = len(chosen - set(expected)), len(set(expected) - chosen)
        problems = ([f"{fine} of your choices name{'s' if fine == 1 else ''} something that was fine in the broken "
                     "setup"] if fine else []) + ([f"{missed} thing{'s' if missed > 1 else ''} that went wrong "
                                                   f"{'are' if missed > 1 else 'is'} missing"] if missed else [])
        fail(f"`bugs` is not the set of what went wrong: {' and '.join(problems)}. Test one change at a time on a "
             "copy of the broken setup, and judge it by the share of validation images whose most probable class "
             "is right, not by the accuracy Keras reports.")


# q6_weights ----------------------------------------------------------------------------------------------

def _mlp_cases(rng: np.random.Generator) -> dict:
    cases = []
    for hidden in ([int(rng.integers(3, 20))], [int(rng.integers(20, 48))], [int(rng.integers(4, 12)), 5]):
        widths = [784, *hidden, 3]
        cases.append({"coefs": [rng.normal(0, 0.1, size=(a, b)) for a, b in itertools.pairwise(widths)],
                      "intercepts": [rng.normal(0, 0.1, size=b) for b in widths[1:]],
                      "X": rng.random((12, 784)), "y": np.arange(12) % 3})
    return {"cases": cases}


def first_layer_pictures(inputs: dict) -> list[np.ndarray]:
    return [case["coefs"][0].T.reshape(-1, 28, 28) for case in inputs["cases"]]


@SUITE.check("q6_weights", probe=probes.first_layer_results, cases=_mlp_cases, expected=first_layer_pictures)
def first_layer_images_random_mlps(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    tolerance = config(ASSIGNMENT).tolerance("weights")
    for case, outcome, right in zip(inputs["cases"], answers, expected):
        sizes = tuple(w.shape[1] for w in case["coefs"][:-1])
        call = (f"first_layer_images(mlp) with a fitted MLPClassifier(hidden_layer_sizes={sizes}) "
                f"(its weights drawn at random by the grader)")
        got = array_of(outcome, call)
        require_shape(got, right.shape, call, f"one 28 × 28 image per unit of the first hidden layer ({sizes[0]})")
        if close(got, right, tolerance):
            continue
        if close(got, case["coefs"][0].reshape(-1, 28, 28), tolerance):
            fail(f"{call}: you reshaped coefs_[0] as it is, (784, n_hidden), so each image mixes the weights of "
                 "many units. A unit's weights are a column of coefs_[0]: transpose it (coefs_[0].T) first.")
        fail(f"{call}: the images are not the first layer's weights ({mismatch_text(got, right, tolerance)}); image j "
             "is column j of mlp.coefs_[0], reshaped to 28 × 28.")


def _cnn_case(rng: np.random.Generator, *, padded: bool) -> dict:
    """A small CNN with the grader's own random weights and kernel size; with ``padded``, a layer
    without weights before the first Conv2D and a second Conv2D after it."""
    import keras
    from keras import layers
    kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
    filters, channels = int(rng.integers(2, 9)), int(rng.integers(1, 4))
    stack = [keras.Input((12, 12, channels))]
    if padded:
        stack.append(layers.ZeroPadding2D(1, name="pad"))
    stack.append(layers.Conv2D(filters, (kh, kw), activation="relu", name="first_conv"))
    if padded:
        stack.append(layers.Conv2D(3, 2, name="second_conv"))
    stack += [layers.Flatten(name="flat"), layers.Dense(3, activation="softmax", name="out")]
    model = keras.Sequential(stack)
    weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
    return {"config": model.to_json(), "weights": weights}


def _cnn_cases(rng: np.random.Generator, *, padded: bool) -> dict:
    return {"cases": [_cnn_case(rng, padded=padded) for _ in range(3)]}


def first_conv_kernels(inputs: dict) -> list[np.ndarray]:
    """The first Conv2D's kernel is the first weight of shape (kh, kw, in, filters) in the list."""
    return [np.transpose(next(w for w in case["weights"] if w.ndim == 4)[:, :, 0, :], (2, 0, 1))
            for case in inputs["cases"]]


def describe_cnn(case: dict) -> str:
    summary = models.summarize_config(case["config"])
    parts = [models.describe(row) for row in summary.rows]
    return f"a model on {'×'.join(str(d) for d in summary.input_shape)} images: {', '.join(parts)}"


def _judge_kernels(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    tolerance = config(ASSIGNMENT).tolerance("weights")
    for case, outcome, right in zip(inputs["cases"], answers, expected):
        call = f"conv_kernels(model) with {describe_cnn(case)} (weights drawn at random by the grader)"
        got = array_of(outcome, call)
        kernel = next(w for w in case["weights"] if w.ndim == 4)
        if got.shape != right.shape and sorted(got.shape) == sorted(right.shape):
            fail(f"{call} returned shape {got.shape}, the right sizes in another order: return (filters, "
                 "kernel_height, kernel_width). The kernel's axes are (height, width, input channel, filter): move "
                 "the filter axis first and keep height before width (np.transpose(kernel[:, :, 0, :], (2, 0, 1))).")
        require_shape(got, right.shape, call, "one (kernel_height, kernel_width) picture per filter")
        if close(got, right, tolerance):
            continue
        if close(got, np.transpose(kernel[:, :, 0, :], (2, 1, 0)), tolerance):
            fail(f"{call}: each picture has its height and width swapped: the kernel's axes are (height, width, input "
                 "channel, filter), so transpose with (2, 0, 1).")
        fail(f"{call} is not the first Conv2D layer's kernels for input channel 0 "
             f"({mismatch_text(got, right, tolerance)}): picture f is kernel[:, :, 0, f].")


@SUITE.check("q6_weights", probe=probes.conv_kernel_results, cases=functools.partial(_cnn_cases, padded=False),
             expected=first_conv_kernels)
def conv_kernels_random_cnns(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    _judge_kernels(inputs, answers, expected)


@SUITE.check("q6_weights", probe=probes.conv_kernel_results, cases=functools.partial(_cnn_cases, padded=True),
             expected=first_conv_kernels)
def conv_kernels_find_the_first_conv2d(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    _judge_kernels(inputs, answers, expected)


# q7_fashion ----------------------------------------------------------------------------------------------

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")


def fashion_class_names(inputs: None) -> list[str]:
    return list(FASHION_CLASSES)


@SUITE.check("q7_fashion", probe=probes.fashion_classes, expected=fashion_class_names)
def fashion_classes_in_label_order(inputs: None, answers: Outcome, expected: list[str]) -> None:
    got = returned(answers, "`FASHION_CLASSES`")
    if got["type"] != "list":
        fail(f"FASHION_CLASSES is a {got['type']}; make it a list of the ten names, in label order.")
    names = got["items"]
    unknown = [name for name in names if name not in expected]
    if unknown or len(names) != len(expected) or len(set(names)) != len(names):
        fail(f"FASHION_CLASSES should hold each of the ten names once, spelled exactly as in the prompt; it has "
             f"{len(names)} items" + (f", and these are not among the names: {unknown}" if unknown else "") + ".")
    wrong = [position for position, (name, right) in enumerate(zip(names, expected)) if name != right]
    if wrong:
        fail(f"FASHION_CLASSES has the right names, but {len(wrong)} of them are not at their label's position "
             f"(positions {wrong}). FASHION_CLASSES[i] is the name of label i: take the order from the dataset's "
             "documentation, not the alphabet.")


WORDS = ("cat", "dog", "Bag", "Coat", "zero", "one", "two", "T-shirt/top", "owl", "fox", "Sandal", "ant")


def _naming_cases(rng: np.random.Generator) -> dict:
    cases = []
    for n_classes, n in ((10, int(rng.integers(5, 12))), (int(rng.integers(2, 6)), int(rng.integers(3, 9))), (10, 1)):
        classes = [str(word) for word in rng.choice(WORDS, size=n_classes, replace=False)]
        cases.append({"y": rng.integers(0, n_classes, size=n).astype(np.int64), "classes": classes})
    return {"cases": cases}


def named_labels(inputs: dict) -> list[list[str]]:
    return [[case["classes"][int(label)] for label in case["y"]] for case in inputs["cases"]]


@SUITE.check("q7_fashion", probe=probes.label_name_results, cases=_naming_cases, expected=named_labels)
def label_names_random_labels(inputs: dict, answers: list, expected: list[list[str]]) -> None:
    for case, outcome, right in zip(inputs["cases"], answers, expected):
        call = f"label_names(y, classes) with y = {case['y'].tolist()} and classes = {case['classes']}"
        got = returned(outcome, call)
        if got["type"] != "list" or not all(got["strings"]):
            fail(f"{call} returned a {got['type']}" + ("" if all(got["strings"]) else " holding more than strings")
                 + "; return a Python list of str, one name per label ([classes[int(label)] for label in y]).")
        if got["items"] != right:
            fail(f"{call} returned {got['items']}, which are not classes[y[0]], classes[y[1]], … in order.")


# test-set leaks ------------------------------------------------------------------------------------------
# SPEC §5: a leak costs the points of the question whose code leaked. The grader never runs the
# training cells (tagged otter_ignore), but they are the student's code all the same: the
# analysis reads the submitted file, every cell of it.

def _judge_leaks_of(question: str, answers: dict) -> None:
    judge_leaks_of_question(question, answers, questions=SUITE.questions(),
                            reported_models=config(ASSIGNMENT).leakage.reported_models,
                            advice="Watch training with validation_split=... (a validation set carved from the "
                                   "training data), and evaluate each question's final model on the test set once.")


@SUITE.check("q1_outputs", probe=probes.notebook_cells, gate=True)
def q1_keeps_the_test_set_apart(inputs: None, answers: dict, expected: None) -> None:
    _judge_leaks_of("q1_outputs", answers)


@SUITE.check("q2_sigmoid_mlp", probe=probes.notebook_cells, gate=True)
def q2_keeps_the_test_set_apart(inputs: None, answers: dict, expected: None) -> None:
    _judge_leaks_of("q2_sigmoid_mlp", answers)


@SUITE.check("q3_history", probe=probes.notebook_cells, gate=True)
def q3_keeps_the_test_set_apart(inputs: None, answers: dict, expected: None) -> None:
    _judge_leaks_of("q3_history", answers)


@SUITE.check("q4_confusion", probe=probes.notebook_cells, gate=True)
def q4_keeps_the_test_set_apart(inputs: None, answers: dict, expected: None) -> None:
    _judge_leaks_of("q4_confusion", answers)


@SUITE.check("q5_bug_hunt", probe=probes.notebook_cells, gate=True)
def q5_keeps_the_test_set_apart(inputs: None, answers: dict, expected: None) -> None:
    _judge_leaks_of("q5_bug_hunt", answers)


@SUITE.check("q6_weights", probe=probes.notebook_cells, gate=True)
def q6_keeps_the_test_set_apart(inputs: None, answers: dict, expected: None) -> None:
    _judge_leaks_of("q6_weights", answers)


@SUITE.check("q7_fashion", probe=probes.notebook_cells, gate=True)
def q7_keeps_the_test_set_apart(inputs: None, answers: dict, expected: None) -> None:
    _judge_leaks_of("q7_fashion", answers)
