"""Judges of ``keras_networks``: reference models, Keras as the oracle, the grader's training.

Architectures are compared with :mod:`autograder.checks.models` (one row per layer, the
first mismatch explained). Accuracy is never taken from the student's own training: the
judge rebuilds the returned architecture from its config in Keras' safe mode and trains it
with a fixed seed, a fixed budget and the grading dataset (``grading.toml [training]``).

What the judge agrees to train is bounded, because an architecture of built-in layers can
still be enormous: it refuses, before building any weight, a model over ``max_parameters``
or ``max_flops_per_image`` (counted from the layers' shapes), and stops a training run that
has used ``judge_cpu_seconds`` of CPU time (checked after every batch). Either fails the
accuracy check with the count or the limit; the prompt states all three.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

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
)
from autograder.checks.keras_networks import probes
from autograder.checks.models import JUDGE_LIMITS, OutOfCpuTime, OverBudget, dense_stack
from autograder.checks.models import REFERENCE_TRAINING_FILE as REFERENCE_TRAINING_FILE  # the build reads it here
from autograder.checks.probing import Outcome
from autograder.checks.suite import Suite
from autograder.config import Training, config, grading_dataset
from autograder.data import IMAGE_SHAPE

if TYPE_CHECKING:
    from autograder.checks.models import ModelCost

ASSIGNMENT = "keras_networks"


# Reference models (SPEC §4) ---------------------------------------------------------------

def mlp_16x16():
    import keras
    from keras import layers
    return keras.Sequential([keras.Input(IMAGE_SHAPE), layers.Flatten(),
                             layers.Dense(16, activation="relu"), layers.Dense(16, activation="relu"),
                             layers.Dense(10, activation="softmax")])


def lesson_cnn():
    import keras
    from keras import layers
    return keras.Sequential([keras.Input(IMAGE_SHAPE),
                             layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                             layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                             layers.Flatten(), layers.Dropout(0.2), layers.Dense(10, activation="softmax")])


def portfolio_cnn():
    import keras
    from keras import layers
    pool = dict(pool_size=(2, 2), strides=2, padding="same")
    return keras.Sequential([keras.Input(IMAGE_SHAPE),
                             layers.Conv2D(16, (5, 5), padding="same", activation="relu"), layers.MaxPooling2D(**pool),
                             layers.Conv2D(32, (5, 5), padding="same", activation="relu"), layers.MaxPooling2D(**pool),
                             layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dropout(0.4),
                             layers.Dense(10, activation="softmax")])


COURSE_MODELS: dict[str, tuple[str, Callable[[], Any]]] = {
    "lesson_cnn_params": ("the lesson CNN", lesson_cnn),
    "portfolio_cnn_params": ("the portfolio CNN", portfolio_cnn),
    "wide_mlp_params": ("the wide MLP (784-784-128-10)", lambda: dense_stack([784, 128])),
    "deep_mlp_params": ("the deep MLP (784-256-64-64-32-10)", lambda: dense_stack([256, 64, 64, 32])),
}


@functools.cache
def reference_summary(builder: Callable[[], Any]):
    from autograder.checks.models import summarize
    return summarize(builder())


# Grader-side training ------------------------------------------------------------------------

_accuracy_by_training: dict[str, float] = {}


def training_key(config_json: str, epochs: int) -> str:
    """Everything the grader's training of an architecture depends on: the architecture (up to
    the names Keras numbers), the budget and settings, the seed, the dataset and Keras' version."""
    settings = {key: value for key, value in asdict(config(ASSIGNMENT).training).items() if key not in JUDGE_LIMITS}
    return models.training_key(config_json, epochs, settings, config(ASSIGNMENT).grading.seed,
                               grading_dataset(ASSIGNMENT))


@functools.cache
def recorded_trainings() -> dict[str, float]:
    """The reference architectures' accuracies, trained once by the build (see
    ``reference_trainings``) instead of once per submission."""
    return models.read_recorded_trainings(ASSIGNMENT)


def trained_accuracy(config_json: str, epochs: int) -> float:
    """The grader's accuracy for an architecture: recorded by the build when it is a reference
    architecture, in any spelling (same fingerprint, budget, seed, dataset, versions), else
    trained once per batch or per grading process (``models.accuracy_once``).

    Raises :class:`OverBudget` (nothing trained) or :class:`OutOfCpuTime` (training stopped)."""
    require_within_budget(config_json)
    return models.accuracy_once(training_key(config_json, epochs),
                                functools.partial(train_and_score, config_json, epochs),
                                recorded_trainings(), _accuracy_by_training)


def reference_trainings() -> dict[str, float]:
    """For the build: each reference architecture the accuracy checks train, trained now."""
    trained = {}
    for architecture in REFERENCE_ARCHITECTURES:
        model_json = architecture.builder().to_json()
        epochs = architecture.epochs(config(ASSIGNMENT).training)
        trained[training_key(model_json, epochs)] = train_and_score(model_json, epochs)
    return trained


SUITE = Suite(ASSIGNMENT, preload=("keras",), submission_probes=(probes.notebook_cells,),
              reference_trainings=reference_trainings)


def train_and_score(config_json: str, epochs: int) -> float:
    """The grader's accuracy for the architecture: trained (:func:`trained_model`), then
    scored on the test images."""
    data = grading_data(ASSIGNMENT)
    return float(trained_model(config_json, epochs).evaluate(data.X_test, data.y_test, verbose=0)[1])


def trained_model(config_json: str, epochs: int) -> Any:
    """Rebuild the architecture (safe mode) and train it with the grader's budget and seed:
    within the parameter and multiply-add budget only, and stopped when the run has used
    the dataset's ``judge_cpu_seconds`` (:class:`OutOfCpuTime`)."""
    require_within_budget(config_json)
    training, data = config(ASSIGNMENT).training, grading_data(ASSIGNMENT)
    return models.train_rebuilt(config_json, compile_settings=dict(optimizer=training.optimizer, loss=training.loss,
                                                                   metrics=["accuracy"]),
                                X=data.X_train, y=data.y_train, epochs=epochs, batch_size=training.batch_size,
                                seed=config(ASSIGNMENT).grading.seed, cpu_seconds=judge_cpu_seconds(data.name),
                                dataset=data.name)


# What the grader agrees to train ---------------------------------------------------------------

def judge_cpu_seconds(dataset: str) -> float:
    return float(config(ASSIGNMENT).training.judge_cpu_seconds[dataset])


def require_within_budget(config_json: str) -> ModelCost:
    """The architecture's cost; :class:`OverBudget` if the grader must not train it."""
    return models.require_within_budget(config_json, config(ASSIGNMENT).training)


def cpu_time_limit(seconds: float, clock: Callable[[], float] = time.process_time) -> Any:
    """The CPU-time limit of one training run (``models.cpu_time_limit``)."""
    return models.cpu_time_limit(seconds, clock)


# Architecture and accuracy (q1, q3) ------------------------------------------------------------

@dataclass(frozen=True)
class TrainedArchitecture:
    """A model the prompt specifies layer by layer and the grader trains with a fixed budget."""

    function: str                 # the student's builder, e.g. "build_cnn"
    builder: Callable[[], Any]    # the reference model
    name: str                     # as the prompt calls it
    epochs: Callable[[Training], int]  # its budget in grading.toml [training]
    threshold_key: str            # grading.toml [thresholds.<dataset>]

    def inputs(self, rng: np.random.Generator) -> dict:
        return {"function": self.function}

    def reference(self, inputs: dict) -> Any:
        """The reference model's summary, which the student's is compared with layer by layer."""
        return reference_summary(self.builder)


MLP_16X16 = TrainedArchitecture("build_mlp_16x16", mlp_16x16, "the 16×16 MLP", lambda training: training.mlp_epochs,
                               "mlp_16x16_accuracy")
LESSON_CNN = TrainedArchitecture("build_cnn", lesson_cnn, "the lesson CNN", lambda training: training.cnn_epochs,
                                "cnn_accuracy")
REFERENCE_ARCHITECTURES = (MLP_16X16, LESSON_CNN)


def _student_summary(answers: Outcome, function: str):
    from autograder.checks.models import UnsafeModelError, summarize_config
    config = returned(answers, f"{function}()")["config"]
    try:
        return config, summarize_config(config)
    except UnsafeModelError as error:
        fail(f"{function}() returned a model the grader refuses to rebuild: {error}")


def judge_architecture(architecture: TrainedArchitecture, answers: Outcome, reference: Any) -> None:
    """The student's model against the prompt's, layer by layer; the first mismatch explained."""
    from autograder.checks.models import compare
    function = architecture.function
    _, summary = _student_summary(answers, function)
    problem = compare(summary, reference, name=architecture.name)
    if problem:
        fail(f"{function}(): {problem}\n\nYour model, layer by layer:\n{summary.table()}")


def judge_accuracy(architecture: TrainedArchitecture, answers: Outcome) -> None:
    """The student's architecture trained by the grader, with the grader's budget and seed."""
    from autograder.checks.models import compare
    function = architecture.function
    model_config, summary = _student_summary(answers, function)
    if (problem := output_shape_problem(summary)) is not None:
        fail(f"{function}(): {problem}")
    if summary.input_shape != IMAGE_SHAPE:
        fail(f"The grader trains on images of shape {IMAGE_SHAPE}, but {function}() expects "
             f"inputs of shape {summary.input_shape}: declare keras.Input(shape={IMAGE_SHAPE}).")
    data, epochs = grading_data(ASSIGNMENT), architecture.epochs(config(ASSIGNMENT).training)
    reference = reference_summary(architecture.builder).total_params  # stated in the prompt
    name = architecture.name[:1].upper() + architecture.name[1:]
    try:
        accuracy = trained_accuracy(model_config, epochs)
    except OverBudget as refused:
        fail(f"Your {function}() model {refused.clause}; the grader does not train models over "
             f"{count(refused.limit)} {refused.unit} (see the prompt), so this check fails. "
             + (f"{name} has {count(reference)}." if refused.measure == "params" else
                "A Dense layer takes inputs × units of them, a Conv2D layer output height × width × "
                f"kernel height × width × input channels × filters; {architecture.name} has {count(reference)} "
                "parameters."))
    except OutOfCpuTime as stopped:
        fail(f"The grader stopped training your {function}() architecture in epoch {stopped.epoch} of "
             f"{stopped.epochs}: it had used the {stopped.seconds:g} CPU-seconds that one training run on the "
             f"{stopped.dataset} training images may use (see the prompt), so this check fails. Your model has "
             f"{count(summary.total_params)} parameters; {architecture.name} has {count(reference)} and trains "
             "in a small fraction of that time.")
    except Exception as error:  # a rebuilt architecture can still fail to train
        reason = (str(error).strip().splitlines() or [""])[0][:200]
        fail(f"The grader could not train your {function}() architecture ({type(error).__name__}: "
             f"{reason}). Check in your notebook that it trains on X_train, y_train, compiled with "
             f"loss=\"{config(ASSIGNMENT).training.loss}\".")
    needed = config(ASSIGNMENT).threshold(data.name, architecture.threshold_key)
    if accuracy < needed:
        mismatch = compare(summary, reference_summary(architecture.builder), name=architecture.name)
        fail(f"The grader trained your {function}() architecture for {epochs} epochs on the "
             f"{data.name} training images (seed {config(ASSIGNMENT).grading.seed}); it "
             f"classifies {accuracy:.1%} of the test images correctly, below the {needed:.0%} "
             f"expected. " + (f"A likely reason: {mismatch}" if mismatch else
                              "Check the activations, especially softmax on the output layer."))


def output_shape_problem(summary: Any) -> str | None:
    """Why the grader cannot train a model on (image, digit label) pairs, read from its
    output shape before anything trains (Keras would refuse with its own error midway); None
    if its output is one row of 10 per image."""
    if not summary.rows:
        return None
    shape = tuple(summary.rows[-1].output_shape)
    if shape == (10,):
        return None
    shown = "(None, " + ", ".join(str(d) for d in shape) + ")"
    kinds = [row.kind for row in summary.rows]
    if len(shape) > 1:
        dense = kinds.index("Dense") if "Dense" in kinds else None
        flatten = kinds.index("Flatten") if "Flatten" in kinds else None
        if dense is not None and flatten is None:
            fix = "add a Flatten layer before the first Dense"
        elif dense is not None and flatten is not None and flatten > dense:
            fix = "move the Flatten layer before the first Dense"
        else:
            fix = "flatten the feature maps (Flatten) and end with Dense(10, activation=\"softmax\")"
        return (f"your model's output has shape {shown}: {fix}, so that the model gives one row "
                "of 10 class probabilities per image, shape (None, 10). The grader cannot train it "
                "on digit labels as it is.")
    return (f"your model's output has shape {shown}; the grader can only train a model with one "
            "output per digit class: end with Dense(10, activation=\"softmax\"), shape (None, 10).")


@SUITE.check("q1_keras_mlp", probe=probes.model_config, cases=MLP_16X16.inputs, expected=MLP_16X16.reference)
def mlp_16x16_architecture(inputs: dict, answers: Outcome, expected: Any) -> None:
    judge_architecture(MLP_16X16, answers, expected)


@SUITE.check("q1_keras_mlp", probe=probes.model_config, cases=MLP_16X16.inputs)
def mlp_16x16_trains_to_accuracy(inputs: dict, answers: Outcome, expected: None) -> None:
    judge_accuracy(MLP_16X16, answers)


@SUITE.check("q3_cnn", probe=probes.model_config, cases=LESSON_CNN.inputs, expected=LESSON_CNN.reference)
def cnn_architecture(inputs: dict, answers: Outcome, expected: Any) -> None:
    judge_architecture(LESSON_CNN, answers, expected)


@SUITE.check("q3_cnn", probe=probes.model_config, cases=LESSON_CNN.inputs)
def cnn_trains_to_accuracy(inputs: dict, answers: Outcome, expected: None) -> None:
    judge_accuracy(LESSON_CNN, answers)


# q2_param_counts -------------------------------------------------------------------------------

def _dense_cases(rng: np.random.Generator) -> dict:
    cases = [[784, 16], [1, 1]] + [[int(rng.integers(1, 2000)), int(rng.integers(1, 300))] for _ in range(5)]
    return {"function": "dense_params", "cases": [{"arguments": c} for c in cases]}


def _conv_cases(rng: np.random.Generator) -> dict:
    cases: list[list] = [[3, 1, 32], [3, 32, 64], [[5, 3], 3, 8]]
    for _ in range(5):
        h, w = (int(k) for k in rng.integers(1, 8, size=2))
        kernel = h if rng.random() < 0.4 else [h, w]
        cases.append([kernel, int(rng.integers(1, 65)), int(rng.integers(1, 129))])
    return {"function": "conv2d_params", "cases": [{"arguments": c} for c in cases]}


def keras_dense_count(n_inputs: int, units: int) -> int:
    import keras
    layer = keras.layers.Dense(units)
    layer.build((None, n_inputs))
    return int(layer.count_params())


def keras_conv2d_count(kernel_size: int | list[int], in_channels: int, filters: int) -> int:
    import keras
    layer = keras.layers.Conv2D(filters, tuple(kernel_size) if isinstance(kernel_size, list) else kernel_size)
    layer.build((None, 32, 32, in_channels))
    return int(layer.count_params())


def _call_text(function: str, arguments: list) -> str:
    shown = [str(tuple(a)) if isinstance(a, list) else str(a) for a in arguments]
    return f"{function}({', '.join(shown)})"


def dense_counts(inputs: dict) -> list[int]:
    return [keras_dense_count(*case["arguments"]) for case in inputs["cases"]]


def conv2d_counts(inputs: dict) -> list[int]:
    return [keras_conv2d_count(*case["arguments"]) for case in inputs["cases"]]


@SUITE.check("q2_param_counts", probe=probes.param_counts, cases=_dense_cases, expected=dense_counts)
def dense_params_match_keras(inputs: dict, answers: list, expected: list[int]) -> None:
    for case, outcome, right in zip(inputs["cases"], answers, expected):
        n_inputs, units = case["arguments"]
        call = _call_text("dense_params", case["arguments"])
        got = returned(outcome, call)["number"]
        if got != right:
            hint = ("You left out the biases: each unit also has one." if got == n_inputs * units else
                    "A Dense layer has one weight per input per unit, plus one bias per unit.")
            fail(f"{call} returned {count(got)}, which is not what Keras counts for a Dense layer "
                 f"of {units} units on {n_inputs} inputs. {hint} To compare, build "
                 f"keras.layers.Dense({units}) on {n_inputs} inputs and print its count_params().")


@SUITE.check("q2_param_counts", probe=probes.param_counts, cases=_conv_cases, expected=conv2d_counts)
def conv2d_params_match_keras(inputs: dict, answers: list, expected: list[int]) -> None:
    for case, outcome, right in zip(inputs["cases"], answers, expected):
        kernel, channels, filters = case["arguments"]
        call = _call_text("conv2d_params", case["arguments"])
        got = returned(outcome, call)["number"]
        if got != right:
            h, w = (kernel, kernel) if isinstance(kernel, int) else kernel
            fail(f"{call} returned {count(got)}, which is not what Keras counts for that Conv2D layer. "
                 f"{_conv_hint(got, h, w, channels, filters)} To compare, build keras.layers.Conv2D("
                 f"{filters}, {(h, w)}) on {channels}-channel images and print its count_params().")


def _conv_hint(got: float, h: int, w: int, channels: int, filters: int) -> str:
    if got == h * w * channels * filters:
        return "You left out the biases: each filter has one."
    if got == h * w * filters + filters:
        return ("You left out the input channels: each filter has a kernel_h × kernel_w window of "
                "weights for every input channel.")
    if got == h * h * channels * filters + filters and h != w:
        return "The kernel is not square here: use its height times its width."
    return ("A Conv2D layer has kernel height × kernel width × input channels × filters weights, "
            "plus one bias per filter.")


def course_total(variable: str) -> Callable[[None], int]:
    """The oracle of one course model's total: Keras' own count of the model built."""
    def total(inputs: None) -> int:
        return int(reference_summary(COURSE_MODELS[variable][1]).total_params)
    total.__name__ = f"{variable}_from_keras"
    return total


def judge_total(variable: str, answers: dict, expected: int) -> None:
    """A course model's parameter count as the student computed it (never quoting the total)."""
    description, builder = COURSE_MODELS[variable]
    got = returned(answers[variable], f"`{variable}`")["number"]
    if got != expected:  # the expected total is not quoted: it would be an answer to paste
        fail(f"{variable} is {count(got)}, which is not the number of parameters of {description}. "
             f"{total_hint(builder, got)} To check yourself, build the model in Keras and print "
             "model.count_params().")


def total_hint(builder: Callable[[], Any], got: float) -> str:
    """What to add up, in the words of the model's own layers (an all-Dense model hears
    nothing of kernels or pooling), and the usual slip named where it explains ``got``."""
    summary = reference_summary(builder)
    counted = [row for row in summary.rows if row.params]
    biases = sum(row.settings.get("units", row.settings.get("filters", 0)) for row in counted)
    if got == summary.total_params - biases:
        return ("You counted the weights but left out the biases: every Dense unit"
                + (" and every Conv2D filter" if any(row.kind == "Conv2D" for row in counted) else "")
                + " has one.")
    if got == summary.total_params - counted[-1].params:
        return ("You left out the output layer (Dense 10): its weights and biases count too.")
    if not any(row.kind == "Conv2D" for row in summary.rows):
        return ("Add up every Dense layer: each has inputs × units weights plus one bias per unit. "
                "The first takes the 784 flattened pixels as its inputs, each next one the previous "
                "layer's units, and the output layer (Dense 10) counts too.")
    return ("Add up every Conv2D and Dense layer (pooling, Flatten and Dropout add none), and "
            "work out the shape that reaches each layer: a Dense layer after Flatten has one "
            "input per value of the flattened feature maps.")


# The lesson CNN's total (34,826) is given in the prompt and checked publicly: a hidden point
# for it would be free, so it is not one.
@SUITE.check("q2_param_counts", probe=probes.course_totals, expected=course_total("portfolio_cnn_params"))
def portfolio_cnn_total(inputs: None, answers: dict, expected: int) -> None:
    judge_total("portfolio_cnn_params", answers, expected)


@SUITE.check("q2_param_counts", probe=probes.course_totals, expected=course_total("wide_mlp_params"))
def wide_mlp_total(inputs: None, answers: dict, expected: int) -> None:
    judge_total("wide_mlp_params", answers, expected)


@SUITE.check("q2_param_counts", probe=probes.course_totals, expected=course_total("deep_mlp_params"))
def deep_mlp_total(inputs: None, answers: dict, expected: int) -> None:
    judge_total("deep_mlp_params", answers, expected)


# q4_augment --------------------------------------------------------------------------------------

def _image_batches(rng: np.random.Generator) -> dict:
    shapes = [(3, 28, 28, 1), (1, 28, 28, 1), (4, 8, 8, 3)]
    batches = [rng.random(shape).astype(np.float32) for shape in shapes]
    batches.append(rng.random((2, 5, 5)).astype(np.float64))
    return {"batches": batches}


def inverted_batches(inputs: dict) -> list[np.ndarray]:
    return [1 - batch for batch in inputs["batches"]]


@SUITE.check("q4_augment", probe=probes.invert_results, cases=_image_batches, expected=inverted_batches)
def invert_random_batches(inputs: dict, answers: list, expected: list[np.ndarray]) -> None:
    for batch, outcome, inverted in zip(inputs["batches"], answers, expected):
        call = f"invert(images) with images of shape {batch.shape} and dtype {batch.dtype}"
        got = returned(outcome, call)
        require_input_unchanged(outcome, batch, call, "Compute 1 - images into a new array "
                                "instead of modifying images in place (no -=, no images[...] = ...).")
        array = got["array"]
        if array.shape != batch.shape or array.dtype != batch.dtype:
            fail(f"{call} returned shape {array.shape} and dtype {array.dtype}; keep both: "
                 f"{batch.shape}, {batch.dtype} (1 - images keeps them; .astype(images.dtype) restores the dtype).")
        if not close(array, inverted, 1e-6):
            fail(f"{call} is not 1 - images ({mismatch_text(array, inverted, 1e-6)}).")


def _augment_cases(rng: np.random.Generator) -> dict:
    cases = []
    for n in (3, 1, 5):
        cases.append({"X": rng.random((n, 28, 28, 1)).astype(np.float32),
                      "y": rng.integers(0, 10, size=n).astype(np.int64)})
    return {"cases": cases}


def augmented_cases(inputs: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.concatenate([case["X"], 1 - case["X"]]), np.concatenate([case["y"], case["y"]]))
            for case in inputs["cases"]]


@SUITE.check("q4_augment", probe=probes.augment_results, cases=_augment_cases, expected=augmented_cases)
def augment_with_inverted_random_batches(inputs: dict, answers: list,
                                         expected: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for case, outcome, (expected_X, expected_y) in zip(inputs["cases"], answers, expected):
        X, y = case["X"], case["y"]
        call = f"augment_with_inverted(X, y) with {len(X)} images"
        got = returned(outcome, call)
        if not (np.array_equal(outcome["input_after"], X) and np.array_equal(outcome["labels_after"], y)):
            fail(f"{call} changed X or y; build new arrays (np.concatenate does).")
        X_aug, y_aug = got["X"]["array"], got["y"]["array"]
        if X_aug.shape != expected_X.shape or y_aug.shape != expected_y.shape:
            fail(f"{call} returned X_aug of shape {X_aug.shape} and y_aug of shape {y_aug.shape}; "
                 f"they should hold every image and its inverse (twice as many images, each of "
                 "the same shape), with one label each.")
        if not close(X_aug, expected_X, 1e-6):
            fail(f"{call}: X_aug should be the {len(X)} originals first, then their inverses in "
                 "the same order.")
        if not np.array_equal(y_aug, expected_y):
            fail(f"{call}: y_aug should be y followed by y again, so each inverse keeps its label.")


# q5_activations ---------------------------------------------------------------------------------

def _activation_problem(rng: np.random.Generator) -> dict:
    """A small CNN with the grader's own random weights, and random images."""
    import keras
    from keras import layers
    model = keras.Sequential([keras.Input((12, 12, 1)), layers.Conv2D(4, 3, activation="relu"),
                              layers.MaxPooling2D(2), layers.Conv2D(6, 3, activation="relu"),
                              layers.Flatten(), layers.Dense(5, activation="softmax")])
    weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
    return {"config": model.to_json(), "weights": weights, "n_layers": 3,
            "images": rng.random((2, 12, 12, 1)).astype(np.float32)}


def reference_activations(problem: dict, n_layers: int | None = None) -> list[np.ndarray]:
    """The outputs of the problem model's first ``n_layers`` layers (the problem's own number
    by default) for its images."""
    import keras

    from autograder.checks.models import rebuild_model
    model = rebuild_model(problem["config"])
    model.set_weights(problem["weights"])
    n = problem["n_layers"] if n_layers is None else n_layers
    reader = keras.Model(model.inputs, [layer.output for layer in model.layers[:n]])
    outputs = reader(problem["images"], training=False)
    # one output comes back as that tensor itself, not a list of one
    return [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def describe_problem_model(problem: dict) -> str:
    """The hidden model in words, its architecture only (the weights are the grader's
    random draw): "a 5-layer model on 12×12×1 images: Conv2D 4 3×3 relu, ..."."""
    from autograder.checks.models import describe, summarize_config
    summary = summarize_config(problem["config"])
    layers = [describe(row) + (f" {row.activation}" if row.activation not in (None, "linear") else "")
              for row in summary.rows]
    image = "×".join(str(d) for d in summary.input_shape)
    return f"a {len(layers)}-layer model on {image} images: {', '.join(layers)}"


def _matches(got: list[np.ndarray], expected: list[np.ndarray], tolerance: float) -> bool:
    return len(got) == len(expected) and all(close(a, b, tolerance) for a, b in zip(got, expected))


def activations_slip(got: list[np.ndarray], problem: dict, tolerance: float) -> str | None:
    """The off-by-one mistakes of layer_activations, named: one output too many or too few,
    or the right number read one layer too late or too early (starting from the images)."""
    n, images = problem["n_layers"], np.asarray(problem["images"])
    every = reference_activations(problem, n_layers=n + 1)  # layers 1 .. n+1
    layers_text = f"layers 1 to {n} (model.layers[:n_layers]; layer 1 is model.layers[0], the first after the input)"
    if len(got) == n + 1:
        if _matches(got, every, tolerance):
            return (f"you returned n_layers + 1 = {n + 1} outputs, one layer too many: return the outputs "
                    f"of {layers_text}.")
        if _matches(got, [images, *every[:n]], tolerance):
            return (f"you returned n_layers + 1 = {n + 1} arrays, the images first: return the outputs "
                    f"of {layers_text}, not the input.")
        return f"you returned n_layers + 1 = {n + 1} arrays: return one per layer, the outputs of {layers_text}."
    if len(got) == n - 1:
        if _matches(got, every[1:n], tolerance):
            return (f"you returned n_layers - 1 = {n - 1} outputs, skipping layer 1: return the outputs "
                    f"of {layers_text}.")
        if _matches(got, every[:n - 1], tolerance):
            return (f"you returned n_layers - 1 = {n - 1} outputs, stopping one layer early: return the "
                    f"outputs of {layers_text}.")
        return f"you returned n_layers - 1 = {n - 1} arrays: return one per layer, the outputs of {layers_text}."
    if len(got) == n and _matches(got, every[1:n + 1], tolerance):
        return (f"you returned the outputs of layers 2 to {n + 1}, one layer later than asked: return "
                f"the outputs of {layers_text}.")
    if len(got) == n and _matches(got, [images, *every[:n - 1]], tolerance):
        return (f"you returned the images and then the outputs of layers 1 to {n - 1}, one layer earlier "
                f"than asked: return the outputs of {layers_text}, not the input.")
    return None


def activations_asked(inputs: dict) -> dict[str, list[np.ndarray]]:
    """The reference outputs for both calls the probe makes: the problem's n_layers, and 1."""
    return {"layers": reference_activations(inputs), "one_layer": reference_activations(inputs, n_layers=1)}


@SUITE.check("q5_activations", probe=probes.activation_results, cases=_activation_problem,
             expected=activations_asked)
def layer_activations_match_reference(inputs: dict, answers: dict[str, Outcome],
                                      expected: dict[str, list[np.ndarray]]) -> None:
    tolerance = config(ASSIGNMENT).tolerance("activations")
    _judge_activations(inputs, answers["layers"], expected["layers"], tolerance)
    _judge_activations({**inputs, "n_layers": 1}, answers["one_layer"], expected["one_layer"], tolerance)


def _judge_activations(problem: dict, answer: Outcome, expected: list[np.ndarray], tolerance: float) -> None:
    """One call of layer_activations against the reference outputs for ``problem["n_layers"]``."""
    n_layers = problem["n_layers"]
    call = (f"layer_activations(model, images, {n_layers}) on the grader's model ({describe_problem_model(problem)}; "
            f"its weights drawn at random) and {len(problem['images'])} images")
    if n_layers == 1 and not answer.get("ok") and "not a list of arrays" in str(answer.get("error", "")):
        fail(f"{call} {answer['error']}: with a single output, Keras' predict returns that array itself, "
             "not a list. Return a list of one array, as for any other n_layers.")
    got = [item["array"] for item in returned(answer, call)]
    if n_layers > 1 and (slip := activations_slip(got, problem, tolerance)) is not None:
        fail(f"{call}: {slip}")
    if len(got) != len(expected):
        fail(f"{call} returned {len(got)} arrays; return one per layer asked for (n_layers = {n_layers}).")
    for index, (array, reference) in enumerate(zip(got, expected), start=1):
        if array.shape != reference.shape:
            fail(f"{call}: output {index} has shape {array.shape}, which is not the shape of layer "
                 f"{index}'s output (one entry per image, then that layer's own output shape: "
                 "model.layers[i].output.shape without its first axis).")
        if not close(array, reference, tolerance):
            fail(f"{call}: output {index} is not layer {index}'s output "
                 f"({mismatch_text(array, reference, tolerance)}). Read model.layers[i].output for the first "
                 "n_layers layers, in order, from the same model and images.")


# test-set leaks -----------------------------------------------------------------------------------
# SPEC §5: a leak costs the points of the question whose code leaked. The grader never runs the
# training cells (tagged otter_ignore), but they are the student's code all the same: the
# analysis reads the submitted file, every cell of it.

def _judge_leaks_of(question: str, answers: dict) -> None:
    judge_leaks_of_question(question, answers, questions=SUITE.questions(),
                            reported_models=config(ASSIGNMENT).leakage.reported_models,
                            advice="Watch training with validation_split=0.1 (or a validation set split off the "
                                   "training data), and evaluate each question's final model on the test set once.")


@SUITE.check("q1_keras_mlp", probe=probes.notebook_cells, gate=True)
def q1_keeps_the_test_set_apart(inputs: None, answers: dict, expected: None) -> None:
    _judge_leaks_of("q1_keras_mlp", answers)


@SUITE.check("q2_param_counts", probe=probes.notebook_cells, gate=True)
def q2_keeps_the_test_set_apart(inputs: None, answers: dict, expected: None) -> None:
    _judge_leaks_of("q2_param_counts", answers)


@SUITE.check("q3_cnn", probe=probes.notebook_cells, gate=True)
def q3_keeps_the_test_set_apart(inputs: None, answers: dict, expected: None) -> None:
    _judge_leaks_of("q3_cnn", answers)


@SUITE.check("q4_augment", probe=probes.notebook_cells, gate=True)
def q4_keeps_the_test_set_apart(inputs: None, answers: dict, expected: None) -> None:
    _judge_leaks_of("q4_augment", answers)


@SUITE.check("q5_activations", probe=probes.notebook_cells, gate=True)
def q5_keeps_the_test_set_apart(inputs: None, answers: dict, expected: None) -> None:
    _judge_leaks_of("q5_activations", answers)
