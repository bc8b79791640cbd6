"""How well, and how fast, ``autograder similarity`` finds copied code (SPEC §8).

A labelled corpus per assignment, built from the built student version (``dist/<a>/student``):

* **authors**: the solutions notebook (``dist/<a>/solutions``), and four other correct solutions
  written by hand below (``AUTHORS``), each function and answer done another way (loops or
  NumPy, recursion, a dict of activations, Keras' functional API or ``model.add``, scipy's
  ``expit``, other splits for the tuning) as different students would. Where the question
  dictates the code (a set of four names, the lesson CNN), some of them write it the obvious
  way, as real students do. These are the *independent* solutions: no two share an author.
  The bundled sample (``submissions/<a>/full_marks.ipynb``) and the correct-style variants
  (``dist/<a>/correct_styles``) are the solutions notebook with a few edits, so they are
  *copies* of it, not independent of it (and the known-wrong variants likewise).
* **disguised copies**: for every author, ``COPIES`` notebooks made from it by a student hiding
  a copy (``disguise``): local variables renamed, the functions of a cell put in another order,
  comments removed, rewritten and added, docstrings rewritten, blank lines added.
* **starter only**: two notebooks with nothing but the starter code, run (outputs and counts).

Rates: the detection rate is the share of copy pairs (an author and its copy, two copies of
one author, the solutions and its sample and correct styles) that are listed; the false-positive
rate is the share of pairs from two different authors (their copies included) that are listed,
and pairs with a starter-only notebook. Both printed per assignment, with the similarity of
the closest independent pair and of the least similar copy pair (the threshold's margin).

Scale: ``--submissions N`` writes N notebooks of one assignment, each a mosaic (every answer cell
from a random author, with lines of the student's own here and there, the whole disguised), 2 %
exact and 4 % disguised copies of earlier ones among them, and times ``find_similar_pairs`` and
``write_similarity`` on them (time.perf_counter, one process), and says whether every planted
copy is listed. Mosaics that drew the same authors for the largest answers are alike too, and
listed: the count of pairs listed is no false-positive rate.

    .venv/bin/python benchmarks/similarity.py [--dist dist] [--submissions 500] [--assignment nn_foundations]

Without ``dist/<a>/student`` it builds the assignment first (``autograder build``, no self-grading)
into a temporary folder. tests/test_similarity.py builds the same corpus and asserts the rates.
"""

from __future__ import annotations

import argparse
import ast
import io
import itertools
import json
import random
import re
import sys
import tempfile
import textwrap
import time
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ("nn_foundations", "keras_networks")
COPIES = 2  # disguised copies per author
SAMPLES = ROOT / "submissions"

# The answer cells of each assignment, named by a line of the starter cell, and for each author
# other than the solutions the code replacing each placeholder of that cell in order: a line
# `name = ...` is replaced by the lines given (at the top level), a line `...` (a function's
# body) by the block given, indented as the `...` was.
AUTHORS: dict[str, dict[str, dict[str, list[str]]]] = {
    "nn_foundations": {
        "ada": {
            "def unrolled_length(": [
                """\
                total = 1
                for dim in shape:
                    total *= dim
                return total""",
                """\
                arr = np.array(images, copy=True)
                n = arr.shape[0]
                flat = np.empty((n, arr[0].size), dtype=arr.dtype)
                for i in range(n):
                    flat[i] = arr[i].ravel()
                return flat"""],
            "hyperparameters = ": [
                'hyperparameters = set(["max_iter", "activation", "hidden_layer_sizes", "learning_rate_init"])',
                'parameters = set(["intercepts_", "coefs_"])'],
            "tiny_hidden_pre = ": [
                "tiny_hidden_pre = [2.0, -2.0]", "tiny_hidden = [2.0, 0.0]", "tiny_output = 0.7311"],
            "def forward(": [
                """\
                def relu(z):
                    return np.maximum(0, z)

                def sigmoid(z):
                    return 1 / (1 + np.exp(-z))

                def softmax(z):
                    z = z - np.max(z, axis=-1, keepdims=True)
                    return np.exp(z) / np.sum(np.exp(z), axis=-1, keepdims=True)

                acts = {"relu": relu, "sigmoid": sigmoid, "softmax": softmax, "linear": lambda z: z}
                out = np.array(x, dtype=float)
                for weights, bias, name in layers:
                    if name not in acts:
                        raise ValueError(name)
                    out = acts[name](out.dot(weights) + bias)
                return out"""],
            "def mlp_param_count(": [
                """\
                total = 0
                previous = n_inputs
                for width in list(hidden_layer_sizes) + [n_outputs]:
                    total += previous * width + width
                    previous = width
                return total"""],
            "mlp_16x16 = ": [
                "mlp_16x16 = MLPClassifier(hidden_layer_sizes=(16, 16))", "mlp_16x16.fit(X_train_flat, y_train)"],
            "def tune_mlp(": [
                """\
                rng = np.random.default_rng(seed)
                order = rng.permutation(len(X))
                cut = int(0.8 * len(X))
                train_idx, val_idx = order[:cut], order[cut:]
                results = []
                for lr in learning_rates:
                    for hidden in sizes:
                        clf = MLPClassifier(hidden_layer_sizes=hidden, learning_rate_init=lr,
                                            max_iter=100, random_state=seed)
                        clf.fit(X[train_idx], y[train_idx])
                        results.append((clf.score(X[val_idx], y[val_idx]), lr, hidden))
                score, lr, hidden = max(results, key=lambda r: r[0])
                return {"learning_rate_init": lr, "hidden_layer_sizes": hidden, "val_accuracy": score}"""],
            "best = ": [
                "best = tune_mlp(X_train_flat, y_train, [0.001, 0.01], [(16,), (32, 16)])",
                'final_mlp = MLPClassifier(hidden_layer_sizes=best["hidden_layer_sizes"],\n'
                '                          learning_rate_init=best["learning_rate_init"], random_state=0)',
                "final_mlp.fit(X_train_flat, y_train)",
                "test_accuracy = final_mlp.score(X_test_flat, y_test)"],
        },
        "bo": {
            "def unrolled_length(": [
                "return int(np.asarray(shape).prod())",
                """\
                batch = np.asarray(images)
                return np.reshape(batch, (batch.shape[0], unrolled_length(batch.shape[1:])))"""],
            "hyperparameters = ": [
                'hyperparameters = {t for t in MLP_TERMS if not t.endswith("_")}',
                "parameters = set(MLP_TERMS) - hyperparameters"],
            "tiny_hidden_pre = ": [
                "x0 = np.array([2.0, -1.0])\n"
                "W1 = np.array([[1.0, -0.5], [0.5, 2.0]])\n"
                "b1 = np.array([0.5, 1.0])\n"
                "tiny_hidden_pre = list(x0 @ W1 + b1)",
                "tiny_hidden = list(np.maximum(np.array(tiny_hidden_pre), 0))",
                "tiny_output = float(1 / (1 + np.exp(-(np.array(tiny_hidden) @ np.array([1.5, -1.0]) - 2.0))))"],
            "def forward(": [
                """\
                if not layers:
                    return np.asarray(x, dtype=float)
                W, b, act = layers[0]
                z = np.dot(np.asarray(x, dtype=float), W) + b
                if act == "relu":
                    z = np.where(z > 0, z, 0.0)
                elif act == "sigmoid":
                    z = np.exp(-np.logaddexp(0, -z))
                elif act == "softmax":
                    z = np.exp(z - np.max(z, axis=-1, keepdims=True))
                    z = z / np.sum(z, axis=-1, keepdims=True)
                elif act != "linear":
                    raise ValueError("unknown activation: " + str(act))
                return forward(z, layers[1:])"""],
            "def mlp_param_count(": [
                """\
                sizes = (n_inputs,) + tuple(hidden_layer_sizes) + (n_outputs,)
                return sum((sizes[i] + 1) * sizes[i + 1] for i in range(len(sizes) - 1))"""],
            "mlp_16x16 = ": [
                "mlp_16x16 = MLPClassifier(hidden_layer_sizes=[16, 16], random_state=42, max_iter=200)",
                "_ = mlp_16x16.fit(X=X_train_flat, y=y_train)"],
            "def tune_mlp(": [
                """\
                from itertools import product
                Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.25, random_state=seed)
                best_score, best_params = -1.0, None
                for rate, shape in product(learning_rates, sizes):
                    net = MLPClassifier(hidden_layer_sizes=shape, learning_rate_init=rate, max_iter=150,
                                        random_state=seed).fit(Xa, ya)
                    acc = float(np.mean(net.predict(Xb) == yb))
                    if acc > best_score:
                        best_score, best_params = acc, (rate, shape)
                return dict(learning_rate_init=best_params[0], hidden_layer_sizes=best_params[1],
                            val_accuracy=best_score)"""],
            "best = ": [
                "best = tune_mlp(X_train_flat, y_train, learning_rates=[0.0005, 0.005],\n"
                "                sizes=[(32,), (64, 32)], seed=1)",
                'chosen = {k: v for k, v in best.items() if k != "val_accuracy"}\n'
                "final_mlp = MLPClassifier(max_iter=200, random_state=1, **chosen)",
                "final_mlp = final_mlp.fit(X_train_flat, y_train)",
                "predictions = final_mlp.predict(X_test_flat)\n"
                "test_accuracy = float((predictions == y_test).mean())"],
        },
        "cy": {
            "def unrolled_length(": [
                """\
                from functools import reduce
                import operator
                return reduce(operator.mul, shape, 1)""",
                """\
                n_images = len(images)
                return np.array([np.asarray(image).flatten() for image in images]).reshape(n_images, -1)"""],
            "hyperparameters = ": [
                'hyperparameters = {"activation", "max_iter", "learning_rate_init", "hidden_layer_sizes"}',
                'parameters = {"coefs_", "intercepts_"}'],
            "tiny_hidden_pre = ": [
                "tiny_hidden_pre = [2 - 0.5 + 0.5, -1 - 2 + 1]",
                "tiny_hidden = [h if h > 0 else 0.0 for h in tiny_hidden_pre]",
                "tiny_output = 1.0 / (1.0 + np.exp(-(1.5 * tiny_hidden[0] - 1.0 * tiny_hidden[1] - 2)))"],
            "def forward(": [
                """\
                h = np.atleast_2d(np.asarray(x, dtype=float))
                single = np.ndim(x) == 1
                for (W, b, kind) in layers:
                    h = np.matmul(h, W) + np.reshape(b, (1, -1))
                    if kind == "relu":
                        h = h * (h > 0)
                    elif kind == "sigmoid":
                        h = 1 / (1 + np.exp(-h))
                    elif kind == "softmax":
                        shifted = h - h.max(axis=1)[:, None]
                        h = np.exp(shifted) / np.exp(shifted).sum(axis=1)[:, None]
                    elif kind == "linear":
                        pass
                    else:
                        raise ValueError(kind)
                return h[0] if single else h"""],
            "def mlp_param_count(": [
                """\
                dims = np.array([n_inputs, *hidden_layer_sizes, n_outputs])
                return int(np.sum(dims[:-1] * dims[1:]) + np.sum(dims[1:]))"""],
            "mlp_16x16 = ": [
                "mlp_16x16 = MLPClassifier((16, 16), random_state=7)",
                "mlp_16x16 = mlp_16x16.fit(X_train_flat, y_train)"],
            "def tune_mlp(": [
                """\
                from sklearn.metrics import accuracy_score
                n_val = len(X) // 5
                X_val, y_val = X[:n_val], y[:n_val]
                X_tr, y_tr = X[n_val:], y[n_val:]
                scores = {}
                for lr in learning_rates:
                    for hls in sizes:
                        m = MLPClassifier(hidden_layer_sizes=hls, learning_rate_init=lr, random_state=seed,
                                          max_iter=100)
                        m.fit(X_tr, y_tr)
                        scores[(lr, tuple(hls))] = accuracy_score(y_val, m.predict(X_val))
                (lr, hls), acc = max(scores.items(), key=lambda kv: kv[1])
                return {"learning_rate_init": lr, "hidden_layer_sizes": hls, "val_accuracy": acc}"""],
            "best = ": [
                "best = tune_mlp(X_train_flat, y_train, [1e-3, 3e-3, 1e-2], [(16,), (64,)], seed=3)",
                "final_mlp = MLPClassifier(random_state=3,\n"
                '                          hidden_layer_sizes=best["hidden_layer_sizes"],\n'
                '                          learning_rate_init=best["learning_rate_init"])',
                "final_mlp.fit(X_train_flat, y_train)",
                "from sklearn.metrics import accuracy_score\n"
                "test_accuracy = accuracy_score(y_test, final_mlp.predict(X_test_flat))"],
        },
        "dee": {
            "def unrolled_length(": [
                """\
                count = 1
                i = 0
                while i < len(shape):
                    count = count * int(shape[i])
                    i += 1
                return count""",
                """\
                stacked = np.stack([np.ravel(img) for img in images])
                return stacked.copy()"""],
            "hyperparameters = ": [
                'hyperparameters = set(MLP_TERMS) - {"coefs_", "intercepts_"}',
                "parameters = set(MLP_TERMS).difference(hyperparameters)"],
            "tiny_hidden_pre = ": [
                "import math\n"
                "tiny_hidden_pre = [2.0 * 1.0 - 1.0 * 0.5 + 0.5, 2.0 * -0.5 - 1.0 * 2.0 + 1.0]",
                "tiny_hidden = [max(value, 0.0) for value in tiny_hidden_pre]",
                "tiny_output = 1 / (1 + math.exp(-(1.5 * tiny_hidden[0] + -1.0 * tiny_hidden[1] + -2.0)))"],
            "def forward(": [
                """\
                from scipy.special import expit, softmax as soft
                result = np.asarray(x, dtype=float)
                for layer in layers:
                    weight_matrix, bias_vector, activation_name = layer
                    pre = result @ weight_matrix + bias_vector
                    match activation_name:
                        case "relu":
                            result = np.clip(pre, 0, None)
                        case "sigmoid":
                            result = expit(pre)
                        case "softmax":
                            result = soft(pre, axis=-1)
                        case "linear":
                            result = pre
                        case _:
                            raise ValueError(f"no activation called {activation_name}")
                return result"""],
            "def mlp_param_count(": [
                """\
                if len(hidden_layer_sizes) == 0:
                    return n_inputs * n_outputs + n_outputs
                first = hidden_layer_sizes[0]
                return n_inputs * first + first + mlp_param_count(first, hidden_layer_sizes[1:], n_outputs)"""],
            "mlp_16x16 = ": [
                "mlp_16x16 = MLPClassifier(activation='relu', hidden_layer_sizes=(16, 16), solver='adam',\n"
                "                          random_state=1)",
                "history = mlp_16x16.fit(X_train_flat, y_train).loss_curve_"],
            "def tune_mlp(": [
                """\
                from sklearn.model_selection import StratifiedShuffleSplit
                splitter = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
                fit_rows, val_rows = next(splitter.split(X, y))
                candidates = [{"learning_rate_init": lr, "hidden_layer_sizes": hs}
                              for lr in learning_rates for hs in sizes]
                for candidate in candidates:
                    model = MLPClassifier(max_iter=100, random_state=seed, **candidate)
                    model.fit(X[fit_rows], y[fit_rows])
                    candidate["val_accuracy"] = model.score(X[val_rows], y[val_rows])
                return sorted(candidates, key=lambda c: -c["val_accuracy"])[0]"""],
            "best = ": [
                "grid_rates, grid_sizes = [0.01, 0.001], [(32, 16), (16,)]\n"
                "best = tune_mlp(X_train_flat, y_train, grid_rates, grid_sizes)",
                "settings = dict(best)\n"
                'settings.pop("val_accuracy")\n'
                "final_mlp = MLPClassifier(**settings, random_state=0)",
                "final_mlp.fit(X_train_flat, y_train)",
                "test_accuracy = final_mlp.score(X_test_flat, y_test)  # the only use of the test set"],
        },
    },
    "keras_networks": {
        "ada": {
            "def build_mlp_16x16(": [
                """\
                model = keras.Sequential()
                model.add(keras.Input(shape=(28, 28, 1)))
                model.add(layers.Flatten())
                for _ in range(2):
                    model.add(layers.Dense(16, activation="relu"))
                model.add(layers.Dense(10, activation="softmax"))
                return model"""],
            "def dense_params(": [
                "return (n_inputs + 1) * units",
                """\
                if isinstance(kernel_size, int):
                    kernel_size = (kernel_size, kernel_size)
                per_filter = kernel_size[0] * kernel_size[1] * in_channels + 1
                return per_filter * filters""",
                "lesson_cnn_params = 320 + 18496 + 16010",
                "portfolio_cnn_params = 416 + 12832 + 200832 + 1290",
                "wide_mlp_params = 615440 + 100480 + 1290",
                "deep_mlp_params = 200960 + 16448 + 4160 + 2080 + 330"],
            "def build_cnn(": [
                """\
                model = keras.Sequential([keras.Input(shape=(28, 28, 1))])
                for n_filters in (32, 64):
                    model.add(layers.Conv2D(n_filters, kernel_size=3, activation="relu"))
                    model.add(layers.MaxPooling2D(pool_size=2))
                model.add(layers.Flatten())
                model.add(layers.Dropout(0.2))
                model.add(layers.Dense(10, activation="softmax"))
                return model"""],
            "def invert(": [
                """\
                arr = np.array(images)
                return (1.0 - arr).astype(arr.dtype)""",
                "return np.vstack([X, invert(X)]), np.hstack([y, y])"],
            "def layer_activations(": [
                """\
                outs = [layer.output for layer in model.layers[:n_layers]]
                extractor = keras.Model(model.inputs, outs)
                result = extractor.predict(images, verbose=0)
                if not isinstance(result, list):
                    result = [result]
                return [np.array(r) for r in result]"""],
        },
        "bo": {
            "def build_mlp_16x16(": [
                """\
                inputs = keras.Input((28, 28, 1))
                x = layers.Flatten()(inputs)
                x = layers.Dense(16, "relu")(x)
                x = layers.Dense(16, "relu")(x)
                outputs = layers.Dense(10, "softmax")(x)
                return keras.Model(inputs, outputs)"""],
            "def dense_params(": [
                """\
                weights = n_inputs * units
                biases = units
                return weights + biases""",
                """\
                kh, kw = np.broadcast_to(kernel_size, (2,))
                return int(kh * kw * in_channels * filters + filters)""",
                "lesson_cnn_params = sum([conv2d_params(3, 1, 32), conv2d_params(3, 32, 64), dense_params(1600, 10)])",
                "portfolio_cnn_params = sum([conv2d_params(5, 1, 16), conv2d_params(5, 16, 32),\n"
                "                            dense_params(1568, 128), dense_params(128, 10)])",
                "wide_mlp_params = sum(dense_params(a, b) for a, b in [(784, 784), (784, 128), (128, 10)])",
                "widths = [784, 256, 64, 64, 32, 10]\n"
                "deep_mlp_params = sum(dense_params(a, b) for a, b in zip(widths, widths[1:]))"],
            "def build_cnn(": [
                """\
                inp = keras.Input((28, 28, 1))
                h = layers.Conv2D(32, 3, activation="relu")(inp)
                h = layers.MaxPool2D()(h)
                h = layers.Conv2D(64, 3, activation="relu")(h)
                h = layers.MaxPool2D()(h)
                h = layers.Dropout(0.2)(layers.Flatten()(h))
                return keras.Model(inp, layers.Dense(10, activation="softmax")(h))"""],
            "def invert(": [
                """\
                out = np.empty_like(images)
                out[...] = 1 - np.asarray(images)
                return out""",
                """\
                X_all = np.concatenate((X, invert(X)), axis=0)
                y_all = np.tile(y, 2)
                return X_all, y_all"""],
            "def layer_activations(": [
                """\
                x = keras.ops.convert_to_tensor(images)
                collected = []
                for layer in model.layers[:n_layers]:
                    x = layer(x)
                    collected.append(keras.ops.convert_to_numpy(x))
                return collected"""],
        },
        "cy": {
            "def build_mlp_16x16(": [
                """\
                hidden = [layers.Dense(units, activation="relu") for units in (16, 16)]
                return keras.Sequential([layers.Input((28, 28, 1)), layers.Flatten()] + hidden
                                        + [layers.Dense(10, activation="softmax")], name="mlp")"""],
            "def dense_params(": [
                "return units * (n_inputs + 1)",
                """\
                size = np.prod(kernel_size) if np.ndim(kernel_size) else kernel_size ** 2
                return int(size * in_channels * filters) + filters""",
                "lesson_cnn_params = (conv2d_params((3, 3), 1, 32) + conv2d_params((3, 3), 32, 64)\n"
                "                     + dense_params(5 * 5 * 64, 10))",
                "portfolio_cnn_params = (conv2d_params((5, 5), 1, 16) + conv2d_params((5, 5), 16, 32)\n"
                "                        + dense_params(7 * 7 * 32, 128) + dense_params(128, 10))",
                "wide_mlp_params = dense_params(28 * 28, 28 * 28) + dense_params(28 * 28, 128) + dense_params(128, 10)",
                "deep_mlp_params = 0\n"
                "for n_in, n_out in [(784, 256), (256, 64), (64, 64), (64, 32), (32, 10)]:\n"
                "    deep_mlp_params += dense_params(n_in, n_out)"],
            "def build_cnn(": [
                """\
                model = keras.Sequential([
                    layers.Input(shape=(28, 28, 1)),
                    layers.Conv2D(filters=32, kernel_size=(3, 3), activation="relu"),
                    layers.MaxPooling2D(pool_size=(2, 2)),
                    layers.Conv2D(filters=64, kernel_size=(3, 3), activation="relu"),
                    layers.MaxPooling2D(pool_size=(2, 2)),
                    layers.Flatten(),
                    layers.Dropout(rate=0.2),
                    layers.Dense(units=10, activation="softmax"),
                ])
                return model"""],
            "def invert(": [
                "return np.ones_like(images) - images",
                """\
                inverted = invert(X)
                return np.append(X, inverted, axis=0), np.append(y, y)"""],
            "def layer_activations(": [
                """\
                return [keras.Model(model.inputs, model.layers[i].output).predict(images, verbose=0)
                        for i in range(n_layers)]"""],
        },
        "dee": {
            "def build_mlp_16x16(": [
                """\
                net = keras.models.Sequential(name="mlp_16x16")
                net.add(keras.layers.InputLayer(shape=(28, 28, 1)))
                net.add(keras.layers.Flatten(name="flatten"))
                net.add(keras.layers.Dense(units=16, activation=keras.activations.relu, name="hidden1"))
                net.add(keras.layers.Dense(units=16, activation=keras.activations.relu, name="hidden2"))
                net.add(keras.layers.Dense(units=10, activation=keras.activations.softmax, name="output"))
                return net"""],
            "def dense_params(": [
                """\
                total = 0
                for _ in range(units):
                    total += n_inputs + 1
                return total""",
                """\
                try:
                    kh, kw = kernel_size
                except TypeError:
                    kh = kw = kernel_size
                return dense_params(kh * kw * in_channels, filters)""",
                "conv_part = conv2d_params(3, 1, 32) + conv2d_params(3, 32, 64)\n"
                "lesson_cnn_params = conv_part + dense_params(1600, 10)",
                "portfolio_cnn_params = 0\n"
                "for k, c_in, c_out in [(5, 1, 16), (5, 16, 32)]:\n"
                "    portfolio_cnn_params += conv2d_params(k, c_in, c_out)\n"
                "portfolio_cnn_params += dense_params(1568, 128) + dense_params(128, 10)",
                "wide_mlp_params = int(np.sum([dense_params(784, 784), dense_params(784, 128),\n"
                "                              dense_params(128, 10)]))",
                "deep_sizes = (784, 256, 64, 64, 32, 10)\n"
                "deep_mlp_params = sum(map(dense_params, deep_sizes[:-1], deep_sizes[1:]))"],
            "def build_cnn(": [
                """\
                def stage(filters):
                    return [layers.Conv2D(filters, 3, padding="valid", activation="relu"), layers.MaxPool2D(2)]

                return keras.Sequential([keras.Input(shape=(28, 28, 1)), *stage(32), *stage(64),
                                         layers.Flatten(), layers.Dropout(0.2), layers.Dense(10, "softmax")])"""],
            "def invert(": [
                """\
                images = np.asarray(images)
                return np.asarray(1 - images, dtype=images.dtype)""",
                """\
                both = [X, invert(X)]
                return np.concatenate(both), np.concatenate([y] * 2)"""],
            "def layer_activations(": [
                """\
                activations = []
                current = np.asarray(images)
                for index in range(n_layers):
                    current = np.asarray(model.layers[index](current))
                    activations.append(current)
                return activations"""],
        },
    },
}

PLACEHOLDER = re.compile(r"^(?P<indent>\s*)(?:(?P<name>\w+) = )?\.\.\.\s*$")
NEW_COMMENTS = ("# my version", "# compute it step by step", "# TODO: tidy up", "# works on the examples",
                "# checked by hand", "# see lecture 3", "# helper values", "# the main loop")
NEW_DOCSTRINGS = ("Does what the question asks.", "My answer.", "Computes the result (see the question).",
                  "Answer to this part.")
SUFFIXES = ("_val", "_tmp", "2", "_local", "_")


# Notebooks --------------------------------------------------------------------------------------

def answer_cells(student: nbformat.NotebookNode, assignment: str) -> dict[str, int]:
    """Each answer cell's key (a line of the starter cell) and its index in the notebook."""
    keys = list(next(iter(AUTHORS[assignment].values())))
    found = {}
    for key in keys:
        where = [i for i, cell in enumerate(student.cells) if cell.cell_type == "code"
                 and any(line.startswith(key) for line in cell.source.splitlines())]
        if len(where) != 1:
            raise ValueError(f"{assignment}: the starter has {len(where)} cells starting a line with {key!r}; "
                             "update AUTHORS in benchmarks/similarity.py to the assignment")
        found[key] = where[0]
    return found


def fill(starter_cell: str, fills: list[str], where: str) -> str:
    """The starter cell with each placeholder replaced by the author's code."""
    lines, out, remaining = starter_cell.splitlines(), [], list(fills)
    for line in lines:
        match = PLACEHOLDER.match(line)
        if match is None:
            out.append(line)
            continue
        if not remaining:
            raise ValueError(f"{where}: more placeholders than answers")
        code = textwrap.dedent(remaining.pop(0))
        indent = match["indent"] if match["name"] is None else ""
        out.extend(indent + part if part.strip() else "" for part in code.splitlines())
    if remaining:
        raise ValueError(f"{where}: {len(remaining)} answers left over (the starter changed?)")
    return "\n".join(out)


def authored(student: nbformat.NotebookNode, solutions: nbformat.NotebookNode, assignment: str,
             author: str) -> dict[int, str]:
    """The answer cells an author writes: index -> source."""
    cells = answer_cells(student, assignment)
    if author == "solutions":  # the same cell of the solutions notebook, found by the same line
        in_solutions = answer_cells(solutions, assignment)
        return {index: solutions.cells[in_solutions[key]].source for key, index in cells.items()}
    return {index: fill(student.cells[index].source, AUTHORS[assignment][author][key], f"{assignment}/{author}/{key}")
            for key, index in cells.items()}


def notebook_with(student: nbformat.NotebookNode, answers: dict[int, str]) -> nbformat.NotebookNode:
    notebook = nbformat.from_dict(json.loads(nbformat.writes(student)))
    for index, source in answers.items():
        notebook.cells[index].source = source
    return notebook


def ran(notebook: nbformat.NotebookNode, seed: int) -> nbformat.NotebookNode:
    """As if run: execution counts and a printed output in each code cell (bytes differ per seed)."""
    notebook = nbformat.from_dict(json.loads(nbformat.writes(notebook)))
    count = 0
    for cell in notebook.cells:
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"run {seed}.{count}\n")]
    return notebook


# Disguises --------------------------------------------------------------------------------------

def disguise(source: str, rng: random.Random) -> str:
    """What a student hiding a copy does to a cell: renames the local variables of its functions,
    puts its functions in another order, removes, rewrites and adds comments, rewrites
    docstrings, adds blank lines. The result still parses."""
    source = rename_locals(source, rng)
    source = reorder_functions(source, rng)
    source = recomment(source, rng)
    ast.parse(source)
    return source


def _functions(tree: ast.Module) -> list[ast.FunctionDef]:
    return [node for node in tree.body if isinstance(node, ast.FunctionDef)]


def rename_locals(source: str, rng: random.Random) -> str:
    """Variables assigned inside each top-level function (not its parameters: the starter fixes
    them, and callers pass them by name) get new names, inside that function only."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    renames: list[tuple[int, int, dict[str, str]]] = []
    for function in _functions(tree):
        parameters = {a.arg for a in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)}
        local = sorted({node.id for node in ast.walk(function) if isinstance(node, ast.Name)
                        and isinstance(node.ctx, ast.Store)} - parameters - {"_"})
        if local:
            mapping = {name: name + rng.choice(SUFFIXES) for name in local}
            renames.append((function.lineno, function.end_lineno or function.lineno, mapping))
    if not renames:
        return source
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []  # row, start col, end col, text
    for n, token in enumerate(tokens):
        for first, last, mapping in renames:
            if not first <= token.start[0] <= last:
                continue
            if token.type == tokenize.NAME and token.string in mapping:
                before = tokens[n - 1].string if n else ""
                after = tokens[n + 1].string if n + 1 < len(tokens) else ""
                keyword_argument = after == "=" and _inside_call(tokens, n)
                if before != "." and not keyword_argument:
                    edits.append((token.start[0], token.start[1], token.end[1], mapping[token.string]))
            elif token.type == tokenize.STRING and token.string[:2].lower() in ("f'", 'f"'):
                text = token.string
                for old, new in mapping.items():
                    text = re.sub(r"(?<=\{)" + re.escape(old) + r"\b", new, text)
                if text != token.string and token.start[0] == token.end[0]:
                    edits.append((token.start[0], token.start[1], token.end[1], text))
    for row, start, end, text in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:start] + text + line[end:]
    return "".join(lines)


def _inside_call(tokens: list[tokenize.TokenInfo], n: int) -> bool:
    depth = 0
    for token in reversed(tokens[:n]):
        if token.type == tokenize.OP and token.string in ")]}":
            depth += 1
        elif token.type == tokenize.OP and token.string in "([{":
            if depth == 0:
                return token.string == "("
            depth -= 1
        elif token.type == tokenize.NEWLINE:
            return False
    return False


def reorder_functions(source: str, rng: random.Random) -> str:
    """The cell's top-level functions, where there are two or more in a row, in another order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    functions = _functions(tree)
    if len(functions) < 2:
        return source
    lines = source.splitlines()
    first = min(f.decorator_list[0].lineno if f.decorator_list else f.lineno for f in functions) - 1
    last = max(f.end_lineno or f.lineno for f in functions)
    between = {n for n in range(first, last)} - {n for f in functions for n in range(f.lineno - 1, f.end_lineno or 0)}
    if any(lines[n].strip() for n in between):
        return source  # code between the functions: keep the order
    blocks = ["\n".join(lines[f.lineno - 1:f.end_lineno]) for f in functions]
    order = list(range(len(blocks)))
    while order == sorted(order):
        rng.shuffle(order)
    return "\n".join([*lines[:first], "\n\n\n".join(blocks[i] for i in order), *lines[last:]])


def recomment(source: str, rng: random.Random) -> str:
    """Comments removed, some new ones added, docstrings rewritten, a few blank lines added."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    lines = source.splitlines()
    comments = {t.start[0]: t.start[1] for t in tokens if t.type == tokenize.COMMENT}
    docstrings = set()
    try:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and node.body and isinstance(node.body[0], ast.Expr) \
                    and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str) \
                    and node.body[0].lineno == node.body[0].end_lineno:
                docstrings.add(node.body[0].lineno)
    except SyntaxError:
        pass
    out = []
    for row, line in enumerate(lines, start=1):
        if row in comments:
            line = line[:comments[row]].rstrip()
            if not line:
                continue
        if row in docstrings:
            indent = line[:len(line) - len(line.lstrip())]
            line = f'{indent}"""{rng.choice(NEW_DOCSTRINGS)}"""'
        if line.strip() and rng.random() < 0.2 and not line.rstrip().endswith(("\\", ",", "(", "[")):
            indent = line[:len(line) - len(line.lstrip())]
            if not _continues(out):
                out.append(indent + rng.choice(NEW_COMMENTS))
        out.append(line)
        if rng.random() < 0.1 and not line.rstrip().endswith(("\\", ",", "(", "[", ":")):
            out.append("")
    return "\n".join(out)


def _continues(previous: list[str]) -> bool:
    """Is the line after ``previous`` inside brackets still open (no comment line may go there)?"""
    text = "\n".join(previous)
    return sum(text.count(c) for c in "([{") > sum(text.count(c) for c in ")]}")


# The labelled corpus ----------------------------------------------------------------------------

@dataclass
class Corpus:
    """Notebooks written to a folder, and which pairs are copies and which independent."""
    assignment: str
    folder: Path
    family: dict[str, str] = field(default_factory=dict)   # submission -> its author
    copy_pairs: set[frozenset[str]] = field(default_factory=set)
    independent_pairs: set[frozenset[str]] = field(default_factory=set)


def build_corpus(assignment: str, dist: Path, folder: Path, copies: int = COPIES, seed: int = 0) -> Corpus:
    """The labelled corpus of one assignment (module docstring), written to ``folder``."""
    rng = random.Random(seed)
    student = nbformat.read(dist / assignment / "student" / f"{assignment}.ipynb", as_version=4)
    solutions = nbformat.read(dist / assignment / "solutions" / f"{assignment}.ipynb", as_version=4)
    folder.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(assignment, folder)
    for author in ("solutions", *AUTHORS[assignment]):
        answers = authored(student, solutions, assignment, author)
        write(corpus, author, author, ran(notebook_with(student, answers), rng.randrange(10**6)))
        for n in range(1, copies + 1):
            disguised = {index: disguise(source, rng) for index, source in answers.items()}
            write(corpus, f"{author}_copy{n}", author, ran(notebook_with(student, disguised), rng.randrange(10**6)))
    # the solutions' own variants: the sample and the correct styles (the solutions, a few edits)
    for path in [SAMPLES / assignment / "full_marks.ipynb",
                 *sorted((dist / assignment / "correct_styles").glob("*.ipynb"))]:
        if path.is_file():
            write(corpus, f"solutions_{path.stem}", "solutions", nbformat.read(path, as_version=4))
    for n in (1, 2):
        write(corpus, f"starter_only{n}", f"starter{n}", ran(student, rng.randrange(10**6)))
    for a, b in itertools.combinations(sorted(corpus.family), 2):
        same = corpus.family[a] == corpus.family[b]
        (corpus.copy_pairs if same else corpus.independent_pairs).add(frozenset((a, b)))
    return corpus


def write(corpus: Corpus, name: str, author: str, notebook: nbformat.NotebookNode) -> None:
    nbformat.write(notebook, corpus.folder / f"{name}.ipynb")
    corpus.family[name] = author


@dataclass
class Rates:
    assignment: str
    found: int
    copies: int
    flagged: int
    independent: int
    closest_independent: float
    weakest_copy: float
    seconds: float
    missed: list[str]
    false_positives: list[str]

    @property
    def detection_rate(self) -> float:
        return self.found / self.copies if self.copies else 1.0

    @property
    def false_positive_rate(self) -> float:
        return self.flagged / self.independent if self.independent else 0.0


def measure(corpus: Corpus, dist: Path, threshold: float | None = None) -> Rates:
    """Runs ``find_similar_pairs`` on the corpus (every pair compared exactly, for the margins)."""
    from autograder.course.similarity import DEFAULT_THRESHOLD, find_similar_pairs
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    started = time.perf_counter()
    run = find_similar_pairs(corpus.assignment, [corpus.folder], dist=dist, threshold=threshold)
    seconds = time.perf_counter() - started
    listed = {frozenset((p.first, p.second)) for p in run.pairs}
    scores = all_scores(corpus, dist)
    missed = sorted(" ~ ".join(sorted(p)) for p in corpus.copy_pairs - listed)
    false = sorted(" ~ ".join(sorted(p)) for p in corpus.independent_pairs & listed)
    return Rates(corpus.assignment, len(corpus.copy_pairs & listed), len(corpus.copy_pairs),
                 len(corpus.independent_pairs & listed), len(corpus.independent_pairs),
                 max(scores.get(p, 0.0) for p in corpus.independent_pairs),
                 min(scores.get(p, 0.0) for p in corpus.copy_pairs), seconds, missed, false)


def all_scores(corpus: Corpus, dist: Path) -> dict[frozenset[str], float]:
    """Every pair's similarity (every pair compared, none left out for sharing few tokens)."""
    from autograder.course.similarity import find_similar_pairs
    run = find_similar_pairs(corpus.assignment, [corpus.folder], dist=dist, threshold=1e-9, min_shared=0,
                             exhaustive=True, shown=0)
    return {frozenset((p.first, p.second)): p.similarity for p in run.pairs}


# Scale ------------------------------------------------------------------------------------------

def build_class(assignment: str, dist: Path, folder: Path, n: int, seed: int = 1) -> list[frozenset[str]]:
    """``n`` notebooks as a class hands them in: each answer cell from a random author, with a
    student's own noise (``student_noise``: debugging lines here and there, so that two
    students who chose the same author for a cell are not one another's copy), the whole
    disguised; one in 50 an exact copy of an earlier notebook (the same file) and one in 25 a
    disguised copy of one. Returns the planted pairs (a copy and the notebook it copies)."""
    rng = random.Random(seed)
    student = nbformat.read(dist / assignment / "student" / f"{assignment}.ipynb", as_version=4)
    solutions = nbformat.read(dist / assignment / "solutions" / f"{assignment}.ipynb", as_version=4)
    by_author = {author: authored(student, solutions, assignment, author)
                 for author in ("solutions", *AUTHORS[assignment])}
    folder.mkdir(parents=True, exist_ok=True)
    written: list[tuple[dict[int, str], int]] = []
    planted = []
    for k in range(n):
        roll = rng.random()
        if written and roll < 0.06:
            original = rng.randrange(len(written))
            planted.append(frozenset((f"student{k:04d}", f"student{original:04d}")))
            answers, run_seed = written[original]
            if roll >= 0.02:
                answers, run_seed = {i: disguise(s, rng) for i, s in answers.items()}, k
        else:
            answers = {i: disguise(student_noise(by_author[rng.choice(list(by_author))][i], rng), rng)
                       for i in by_author["solutions"]}
            run_seed = k
        written.append((answers, run_seed))
        nbformat.write(ran(notebook_with(student, answers), run_seed), folder / f"student{k:04d}.ipynb")
    return planted


NOISE_LINES = ('print("checking", {n})', "checked = {n}", "assert {n} >= 0", 'print("step {n} done")',
               "steps = {n} + 1", "debug = False", "print()", "count = {n}")


def student_noise(source: str, rng: random.Random, rate: float = 0.3) -> str:
    """A statement of the student's own (a print, a debugging variable) before about ``rate`` of
    the cell's statements: what keeps two students who wrote the same thing from being copies."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    starts, expect = set(), True
    for token in tokens:
        if token.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            expect = True
        elif token.type not in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER) and expect:
            starts.add(token.start[0])
            expect = False
    out = []
    for row, line in enumerate(source.splitlines(), start=1):
        stripped = line.lstrip()
        if row in starts and not stripped.startswith(("elif", "else", "except", "finally", "case", "@")) \
                and rng.random() < rate:
            out.append(line[:len(line) - len(stripped)] + rng.choice(NOISE_LINES).format(n=rng.randrange(100)))
        out.append(line)
    noisy = "\n".join(out)
    try:
        ast.parse(noisy)
    except SyntaxError:
        return source
    return noisy


def ensure_built(assignments: tuple[str, ...], dist: Path | None) -> Path:
    """``dist`` if it has every assignment's student version, else a fresh build (no self-grading)."""
    if dist is not None and all((dist / a / "student" / f"{a}.ipynb").is_file() for a in assignments):
        return dist
    from autograder.build import build_assignment
    built = Path(tempfile.mkdtemp(prefix="similarity-dist-"))
    for assignment in assignments:
        print(f"building {assignment} into {built} …", flush=True)
        build_assignment(assignment, built, verify=False, secret_file=built / ".course_secret")
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--submissions", type=int, default=500, help="notebooks in the timed class (0: skip)")
    parser.add_argument("--assignment", choices=ASSIGNMENTS, default="nn_foundations",
                        help="the assignment of the timed class")
    parser.add_argument("--threshold", type=float, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from autograder.course.similarity import DEFAULT_THRESHOLD, find_similar_pairs, write_similarity
    dist = ensure_built(ASSIGNMENTS, args.dist)
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    with tempfile.TemporaryDirectory(prefix="similarity-") as tmp:
        print(f"threshold {threshold}")
        for assignment in ASSIGNMENTS:
            corpus = build_corpus(assignment, dist, Path(tmp) / assignment)
            rates = measure(corpus, dist, threshold)
            print(f"{assignment}: {len(corpus.family)} notebooks; disguised copies found "
                  f"{rates.found}/{rates.copies} (detection rate {rates.detection_rate:.3f}); independent "
                  f"pairs listed {rates.flagged}/{rates.independent} (false-positive rate "
                  f"{rates.false_positive_rate:.3f}); least similar copy pair {rates.weakest_copy:.3f}, "
                  f"closest independent pair {rates.closest_independent:.3f}; {rates.seconds:.2f} s")
            for line in rates.missed:
                print(f"  missed: {line}")
            for line in rates.false_positives:
                print(f"  false positive: {line}")
        if args.submissions:
            folder = Path(tmp) / "class"
            planted = build_class(args.assignment, dist, folder, args.submissions)
            started = time.perf_counter()
            run = find_similar_pairs(args.assignment, [folder], dist=dist, threshold=threshold)
            found = time.perf_counter() - started
            write_similarity(run, Path(tmp) / "out")
            total = time.perf_counter() - started
            identical = sum(1 for p in run.pairs if p.identical)
            listed = {frozenset((p.first, p.second)) for p in run.pairs}
            print(f"{args.assignment}, {args.submissions} submissions: planted copies listed "
                  f"{len(set(planted) & listed)}/{len(set(planted))}; {len(run.pairs)} pairs listed "
                  f"({identical} identical; the others mostly mosaics that drew the same authors for the "
                  f"largest answers), {run.comparisons} of {args.submissions * (args.submissions - 1) // 2} "
                  f"pairs compared exactly; find_similar_pairs {found:.1f} s, with the three files "
                  f"written {total:.1f} s")


if __name__ == "__main__":
    main()
