"""Static test-set leak finder: one notebook per spelling, clean notebooks, robustness.

Every notebook here is a list of cell sources. An offending line carries a marker comment,
``# leak: L1 L3``, naming the rules expected on that line; the expected verdicts (rule, cell,
line) are read from those markers, so a case states its exact answer next to the code and a
verdict on any other line, or with any other rule, fails the test. Nothing is executed: the
suite is pure static analysis and runs in about a second.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from functools import partial
from pathlib import Path

import nbformat
import pytest

import autograder.checks.leakage as leakage
from autograder.checks.leakage import RULE_TITLES, TEST_NAMES, TRAIN_NAMES, Leak
from autograder.checks.leakage.interpreter import Interpreter

# In production an internal error skips one statement; here it must fail the test.
find_leaks = partial(leakage.find_leaks, raise_internal_errors=True)
find_leaks_in_notebook = partial(leakage.find_leaks_in_notebook, raise_internal_errors=True)


DATA = """
data = load_dataset()
X_train, X_test, y_train, y_test = data.X_train, data.X_test, data.y_train, data.y_test
X_train_flat = X_train.reshape(len(X_train), -1)
X_test_flat = X_test.reshape(len(X_test), -1)
"""

IMPORTS = """
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split, cross_val_score, GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, classification_report
from tensorflow import keras
"""

HONEST_TUNING = """
def tune_mlp(X, y, learning_rates, sizes, seed=0):
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)
    best = None
    for lr in learning_rates:
        for size in sizes:
            model = MLPClassifier(hidden_layer_sizes=size, learning_rate_init=lr, max_iter=50, random_state=seed)
            model.fit(X_fit, y_fit)
            acc = model.score(X_val, y_val)
            if best is None or acc > best["val_accuracy"]:
                best = {"learning_rate_init": lr, "hidden_layer_sizes": size, "val_accuracy": acc}
    return best
"""

HONEST_FINAL = """
best = tune_mlp(X_train_flat, y_train, [1e-3, 1e-2], [(16,), (32, 16)])
final_mlp = MLPClassifier(hidden_layer_sizes=best["hidden_layer_sizes"], learning_rate_init=best["learning_rate_init"], max_iter=50, random_state=0)
final_mlp.fit(X_train_flat, y_train)
test_accuracy = final_mlp.score(X_test_flat, y_test)
print(X_test.shape, len(y_test)); print(y_test[:10])
"""

MARKER = re.compile(r"#\s*leak:\s*(?P<rules>(?:L\d\s*)+)")


def cell(source: str) -> str:
    return textwrap.dedent(source).strip("\n")


def notebook(*cells: str | None) -> list[str | None]:
    """The given data cell first (cell 0), as in the course notebook, then the cells."""
    return [cell(IMPORTS + DATA), *(None if c is None else cell(c) for c in cells)]


def expected(cells: list[str | None]) -> set[tuple[str, int, int]]:
    found = set()
    for index, source in enumerate(cells):
        for number, line in enumerate((source or "").splitlines(), start=1):
            match = MARKER.search(line)
            if match:
                found |= {(rule, index, number) for rule in match.group("rules").split()}
    return found


def verdicts(cells: list[str | None]) -> set[tuple[str, int, int]]:
    return {(leak.rule, leak.cell, leak.line) for leak in find_leaks(cells)}


# Leaks, rule by rule, in many spellings ------------------------------------------------------

MULTI_TEST = [
    pytest.param(notebook("""
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr)
            m.fit(X_train_flat, y_train)
            print(lr, m.score(X_test_flat, y_test))  # leak: L1
        """), id="L1-loop-rebuilds-model"),
    pytest.param(notebook("""
        for size in [(16,), (32,)]:
            m = MLPClassifier(hidden_layer_sizes=size).fit(X_train_flat, y_train)
            preds = m.predict(X_test_flat)  # leak: L1
            print(size, accuracy_score(y_test, preds), confusion_matrix(y_test, preds))
        """), id="L1-loop-predict-then-metric"),
    pytest.param(notebook("""
        scores = [MLPClassifier(hidden_layer_sizes=s).fit(X_train_flat, y_train).score(X_test_flat, y_test)  # leak: L1
                  for s in [(8,), (16,)]]
        """), id="L1-list-comprehension-chain"),
    pytest.param(notebook("""
        models = [MLPClassifier(hidden_layer_sizes=(s,)) for s in (8, 16)]
        for m in models:
            m.fit(X_train_flat, y_train)
        """, """
        for m in models:
            print(m.score(X_test_flat, y_test))  # leak: L1
        """), id="L1-loop-variable-is-the-model"),
    pytest.param(notebook("""
        models = {"small": MLPClassifier((8,)), "big": MLPClassifier((64,))}
        for name, m in models.items():
            m.fit(X_train_flat, y_train)
            print(name, accuracy_score(y_test, m.predict(X_test_flat)))  # leak: L1
        """), id="L1-dict-items-metric-on-predictions"),
    pytest.param(notebook("""
        m_small = MLPClassifier((8,)).fit(X_train_flat, y_train)
        m_big = MLPClassifier((64,)).fit(X_train_flat, y_train)
        print(m_small.score(X_test_flat, y_test))  # leak: L1
        print(m_big.score(X_test_flat, y_test))
        """), id="L1-two-models-one-after-the-other"),
    pytest.param(notebook("""
        model = MLPClassifier((8,)).fit(X_train_flat, y_train)
        print(model.score(X_test_flat, y_test))  # leak: L1
        """, """
        model = MLPClassifier((64,)).fit(X_train_flat, y_train)
        print(model.score(X_test_flat, y_test))
        """), id="L1-same-name-rebuilt-in-another-cell"),
    pytest.param(notebook("""
        Xt, yt = X_test_flat[:500], y_test[:500]
        for lr in [1e-3, 1e-2]:
            clf = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            acc = clf.score(Xt, yt)  # leak: L1
        """), id="L1-alias-slices"),
    pytest.param(notebook("""
        frame = pd.DataFrame(X_test_flat.copy())
        labels = pd.Series(np.array(y_test)).to_numpy()
        for lr in [1e-3, 1e-2]:
            clf = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            acc = clf.score(frame.values, labels)  # leak: L1
        """), id="L1-dataframe-copies"),
    pytest.param(notebook("""
        def evaluate(model, X, y):
            return model.score(X, y)

        models = [MLPClassifier(hidden_layer_sizes=(s,)).fit(X_train_flat, y_train) for s in (8, 16)]
        accs = [evaluate(m, X_test_flat, y_test) for m in models]  # leak: L1
        """), id="L1-helper-called-in-comprehension"),
    pytest.param(notebook("""
        def run(lr):
            m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            return m.score(X_test_flat, y_test)  # leak: L1

        results = {lr: run(lr) for lr in [1e-3, 1e-2]}
        """), id="L1-helper-reads-test-global"),
    pytest.param(notebook("""
        def run(lr):
            m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            return m.score(X_test_flat, y_test)  # leak: L1

        a = run(1e-3)
        b = run(1e-2)
        """), id="L1-helper-called-twice"),
    pytest.param(notebook("""
        models = [MLPClassifier((s,)).fit(X_train_flat, y_train) for s in (8, 16)]
        accs = list(map(lambda m: m.score(X_test_flat, y_test), models))  # leak: L1
        """), id="L1-lambda-in-map"),
    pytest.param(notebook("""
        score_on_test = lambda m: m.score(X_test_flat, y_test)  # leak: L1
        models = [MLPClassifier((s,)).fit(X_train_flat, y_train) for s in (8, 16)]
        accs = [score_on_test(m) for m in models]
        """), id="L1-named-lambda"),
    pytest.param(notebook("""
        models = [MLPClassifier((s,)).fit(X_train_flat, y_train) for s in (8, 16)]
        best = max(models, key=lambda m: m.score(X_test_flat, y_test))  # leak: L1 L3
        """), id="L1-L3-max-with-key-lambda"),
    pytest.param(notebook("""
        for units in [32, 64]:
            model = keras.Sequential([keras.layers.Dense(units, activation="relu"), keras.layers.Dense(10)])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            model.fit(X_train, y_train, epochs=2, validation_split=0.1)
            loss, acc = model.evaluate(X_test, y_test)  # leak: L1
        """), id="L1-keras-evaluate-in-loop"),
    pytest.param(notebook("""
        def build(units):
            model = keras.Sequential([keras.layers.Dense(units), keras.layers.Dense(10)])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            return model

        for units in [32, 64]:
            net = build(units)
            net.fit(X_train, y_train, epochs=1)
            probs = net(X_test)  # leak: L1
        """), id="L1-keras-model-called-directly"),
    pytest.param(notebook("""
        model = MLPClassifier(max_iter=20)
        for lr in [1e-3, 1e-2]:
            model.set_params(learning_rate_init=lr)
            model.fit(X_train_flat, y_train)
            print(model.score(X_test_flat, y_test))  # leak: L1
        """), id="L1-same-object-refitted-per-candidate"),
    pytest.param(notebook("""
        model = keras.Sequential([keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        for epoch in range(5):
            model.fit(X_train, y_train, epochs=1)
            print(model.evaluate(X_test, y_test))  # leak: L1
        """), id="L1-keras-each-epoch"),
    pytest.param(notebook("""
        lr = 1e-4
        while lr < 1:
            clf = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            print(lr, clf.score(X_test_flat, y_test))  # leak: L1
            lr *= 10
        """), id="L1-while-loop"),
    pytest.param(notebook("""
        models = [MLPClassifier((s,)).fit(X_train_flat, y_train) for s in (8, 16)]
        total = sum(m.score(X_test_flat, y_test) for m in models)  # leak: L1
        """), id="L1-generator-expression"),
    pytest.param(notebook("""
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        for alpha in [1e-4, 1e-2]:
            pipe = make_pipeline(StandardScaler(), MLPClassifier(alpha=alpha))
            pipe.fit(X_train_flat, y_train)
            print(alpha, pipe.score(X_test_flat, y_test))  # leak: L1
        """), id="L1-pipeline"),
    pytest.param(notebook("""
        %%time
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            print(m.score(X_test_flat, y_test))  # leak: L1
        """), id="L1-cell-magic-time"),
    pytest.param(notebook("""
        %matplotlib inline
        !pip install scikit-learn
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr)
            %time m.fit(X_train_flat, y_train)
            %time acc = m.score(X_test_flat, y_test)  # leak: L1
        """), id="L1-line-magics"),
    pytest.param(notebook("""
        class Evaluator:
            def __init__(self, X, y):
                self.X, self.y = X, y

            def accuracy(self, model):
                return model.score(self.X, self.y)

        judge = Evaluator(X_test_flat, y_test)
        for s in [(8,), (16,)]:
            print(judge.accuracy(MLPClassifier(s).fit(X_train_flat, y_train)))  # leak: L1
        """), id="L1-method-of-user-class"),
    pytest.param(notebook("""
        def compare(sizes):
            def score(m):
                return m.score(X_test_flat, y_test)  # leak: L1
            return [score(MLPClassifier(s).fit(X_train_flat, y_train)) for s in sizes]  # leak: L3

        compare([(8,), (16,)])
        """), id="L1-nested-function"),
    pytest.param(notebook("""
        def tune():
            global best_model
            best_model = None
            for lr in [1e-3, 1e-2]:
                m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
                if best_model is None or m.score(X_test_flat, y_test) > 0.9:  # leak: L1 L3
                    best_model = m

        tune()
        """), id="L1-L3-global-in-function"),
    pytest.param(notebook("""
        X_eval = X_test_flat
        y_eval = y_test
        """, None, """
        for s in [(8,), (16,)]:
            m = MLPClassifier(s).fit(X_train_flat, y_train)
            for X, y in [(X_eval, y_eval)]:
                print(m.score(X, y))  # leak: L1
        """), id="L1-across-cells-with-markdown-between"),
    pytest.param(notebook("""
        import tensorflow as tf
        X_tensor = tf.convert_to_tensor(X_test)
        y_tensor = np.copy(y_test)
        nets = [keras.Sequential([keras.layers.Dense(u)]) for u in (16, 32)]
        for net in nets:
            net.fit(X_train, y_train)
            print(net.evaluate(X_tensor, y_tensor))  # leak: L1
        """), id="L1-tensor-conversions"),
    pytest.param(notebook("""
        preds = {}
        for s in [(8,), (16,)]:
            m = MLPClassifier(s).fit(X_train_flat, y_train)
            preds[s] = m.predict(X_test_flat)  # leak: L1
        for s, p in preds.items():
            print(s, np.mean(p == y_test))
        """), id="L1-predictions-compared-by-hand"),
    pytest.param(notebook("""
        cv = cross_val_score(MLPClassifier(), X_test_flat, y_test, cv=3)  # leak: L1 L2
        """), id="L1-L2-cross-val-score-on-test"),
    pytest.param(notebook("""
        search = GridSearchCV(MLPClassifier(), {"alpha": [1e-4, 1e-2]}, cv=3)
        search.fit(X_test_flat, y_test)  # leak: L1 L2 L3
        """), id="L1-L2-L3-grid-search-on-test"),
]

TRAINING_ON_TEST = [
    pytest.param(notebook("""
        final_mlp = MLPClassifier((16,))
        final_mlp.fit(X_test_flat, y_test)  # leak: L2
        """), id="L2-fit-on-test"),
    pytest.param(notebook("""
        final_mlp = MLPClassifier((16,))
        final_mlp.fit(X=X_test_flat[:100], y=y_test[:100])  # leak: L2
        """), id="L2-fit-keywords-and-slices"),
    pytest.param(notebook("""
        model = keras.Sequential([keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(X_train, y_train, epochs=5,
                  validation_data=(X_test, y_test),  # leak: L2
                  callbacks=[keras.callbacks.EarlyStopping(patience=2)])
        """), id="L2-keras-validation-data-early-stopping"),
    pytest.param(notebook("""
        val = (X_test[:1000].astype("float32"), y_test[:1000])
        model = keras.Sequential([keras.layers.Dense(10)])
        model.fit(X_train, y_train, validation_data=val)  # leak: L2
        """), id="L2-validation-data-alias"),
    pytest.param(notebook("""
        model = keras.Sequential([keras.layers.Dense(10)])
        model.fit(X_test, y_test, validation_split=0.1)  # leak: L2
        """), id="L2-validation-split-of-test"),
    pytest.param(notebook("""
        class TestAccuracy(keras.callbacks.Callback):
            def __init__(self, data):
                super().__init__()
                self.data = data

            def on_epoch_end(self, epoch, logs=None):
                print(self.model.evaluate(*self.data))

        model = keras.Sequential([keras.layers.Dense(10)])
        model.fit(X_train, y_train, callbacks=[TestAccuracy((X_test, y_test))])  # leak: L2
        """), id="L2-custom-callback-fed-test"),
    pytest.param(notebook("""
        clf = MLPClassifier()
        for start in range(0, 1000, 100):
            clf.partial_fit(X_test_flat[start:start + 100], y_test[start:start + 100], classes=np.unique(y_train))  # leak: L2
        """), id="L2-partial-fit-batches"),
    pytest.param(notebook("""
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        X_test_scaled = scaler.fit_transform(X_test_flat)  # leak: L5
        """), id="L2-fit-transform-on-test"),
    pytest.param(notebook("""
        def train(model, X, y):
            model.fit(X, y)
            return model

        final_mlp = train(MLPClassifier(), X_test_flat, y_test)  # leak: L2
        """), id="L2-helper-parameters"),
    pytest.param(notebook("""
        clf = MLPClassifier()

        def train():
            clf.fit(X_test_flat, y_test)  # leak: L2

        train()
        """), id="L2-helper-reads-test-global"),
    pytest.param(notebook("""
        X_a, X_b, y_a, y_b = train_test_split(X_test_flat, y_test, test_size=0.5)
        clf = MLPClassifier().fit(X_a, y_a)  # leak: L2
        """), id="L2-split-of-test"),
    pytest.param(notebook("""
        import tensorflow as tf
        test_ds = tf.data.Dataset.from_tensor_slices((X_test, y_test)).batch(32)
        model = keras.Sequential([keras.layers.Dense(10)])
        model.fit(test_ds, epochs=2)  # leak: L2
        """), id="L2-tf-data-dataset"),
    pytest.param(notebook("""
        booster = SomeBoostedModel()
        booster.fit(X_train_flat, y_train, eval_set=[(X_test_flat, y_test)])  # leak: L2
        """), id="L2-eval-set"),
    pytest.param(notebook("""
        model = keras.Sequential([keras.layers.Dense(10)])
        model.train_on_batch(X_test[:32], y_test[:32])  # leak: L2
        """), id="L2-train-on-batch"),
    pytest.param(notebook("""
        hidden = getattr(data, "X_test").reshape(len(X_test), -1)
        labels = globals()["y_test"]
        MLPClassifier().fit(hidden, labels)  # leak: L2
        """), id="L2-getattr-and-globals"),
    pytest.param(notebook("""
        trainer = make_trainer(MLPClassifier())
        history = trainer.run(X_train_flat, y_train, validation_data=(X_test_flat, y_test))  # leak: L2
        """), id="L2-validation-data-of-any-call"),
    pytest.param(notebook("""
        frame = pd.DataFrame(X_test_flat)
        frame["label"] = y_test
        clf = MLPClassifier().fit(frame.drop(columns="label"), frame["label"])  # leak: L2
        """), id="L2-dataframe-columns"),
    pytest.param(notebook("""
        fit_on = lambda model: model.fit(X_test_flat, y_test)  # leak: L2
        fit_on(MLPClassifier())
        """), id="L2-lambda"),
    pytest.param(notebook("""
        fitted = [MLPClassifier().fit(X, y) for X, y in [(X_test_flat, y_test)]]  # leak: L2
        """), id="L2-comprehension-targets"),
    pytest.param(notebook("""
        X = X_test_flat
        rows = [X for X in X]
        MLPClassifier().fit(rows, y_test)  # leak: L2
        """), id="L2-comprehension-shadowing-its-iterable"),
    pytest.param(notebook("""
        def tune(X_tr, y_tr, X_v, y_v):
            model = keras.Sequential([keras.layers.Dense(10)])
            model.fit(X_tr, y_tr, validation_data=(X_v, y_v))
            return model

        tune(X_train, y_train, X_test, y_test)  # leak: L2
        """), id="L2-keras-helper-validation-parameters"),
    pytest.param(notebook("""
        def collect(a, b):
            a.append(X_test_flat)
            b.append(X_train_flat)

        rows = []
        collect(rows, rows)
        MLPClassifier().fit(rows, y_train)  # leak: L2
        """), id="L2-one-list-mutated-through-two-parameters"),
]

SELECTION_ON_TEST = [
    pytest.param(notebook("""
        scores = {}
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            scores[lr] = m.score(X_test_flat, y_test)  # leak: L1
        best_lr = max(scores, key=scores.get)  # leak: L3
        """), id="L3-max-over-dict"),
    pytest.param(notebook("""
        results = []
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            results.append((lr, m.score(X_test_flat, y_test)))  # leak: L1
        best_lr = sorted(results, key=lambda item: item[1], reverse=True)[0][0]  # leak: L3
        """), id="L3-sorted-with-key"),
    pytest.param(notebook("""
        test_accs = []
        sizes = [(8,), (16,)]
        for s in sizes:
            test_accs.append(MLPClassifier(s).fit(X_train_flat, y_train).score(X_test_flat, y_test))  # leak: L1
        best_size = sizes[np.argmax(test_accs)]  # leak: L3
        """), id="L3-argmax"),
    pytest.param(notebook("""
        rows = []
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            rows.append({"lr": lr, "test_acc": m.score(X_test_flat, y_test)})  # leak: L1
        table = pd.DataFrame(rows)
        best_row = table.loc[table["test_acc"].idxmax()]  # leak: L3
        ranked = table.sort_values("test_acc", ascending=False)  # leak: L3
        """), id="L3-dataframe-idxmax-sort-values"),
    pytest.param(notebook("""
        a = MLPClassifier((8,)).fit(X_train_flat, y_train)
        b = MLPClassifier((64,)).fit(X_train_flat, y_train)
        acc_a = a.score(X_test_flat, y_test)  # leak: L1
        acc_b = b.score(X_test_flat, y_test)
        final_mlp = a if acc_a > acc_b else b  # leak: L3
        """), id="L3-conditional-expression-between-two-models"),
    pytest.param(notebook("""
        size, test_acc = 8, 0.0
        while test_acc < 0.9:  # leak: L3
            size *= 2
            m = MLPClassifier((size,)).fit(X_train_flat, y_train)
            test_acc = m.score(X_test_flat, y_test)  # leak: L1
        """), id="L3-while-until-test-accuracy"),
    pytest.param(notebook("""
        def tune(lrs):
            results = {}
            for lr in lrs:
                m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
                results[lr] = m.score(X_test_flat, y_test)  # leak: L1
            return results  # leak: L3

        outcome = tune([1e-3, 1e-2])
        """), id="L3-tuning-function-returns-test-scores"),
    pytest.param(notebook("""
        def tune(lrs):
            results = {}
            for lr in lrs:
                m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
                results[lr] = m.score(X_test_flat, y_test)  # leak: L1
            return results

        outcome = tune([1e-3, 1e-2])
        best_lr = max(outcome, key=outcome.get)  # leak: L3
        """), id="L3-choice-made-by-the-caller"),
    pytest.param(notebook("""
        def pick(scores):
            return max(scores, key=scores.get)

        test_scores = {}
        for lr in [1e-3, 1e-2]:
            test_scores[lr] = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train).score(X_test_flat, y_test)  # leak: L1
        best_lr = pick(test_scores)  # leak: L3
        """), id="L3-selection-helper"),
    pytest.param(notebook("""
        results = [(lr, MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train).score(X_test_flat, y_test))  # leak: L1
                   for lr in [1e-3, 1e-2]]
        good = [lr for lr, acc in results if acc > 0.9]  # leak: L3
        """), id="L3-comprehension-filter"),
    pytest.param(notebook("""
        best_acc = 0
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            acc = m.score(X_test_flat, y_test)  # leak: L1
            improved = acc > best_acc  # leak: L3
            best_acc = max(best_acc, acc)  # leak: L3
        """), id="L3-comparison-outside-if"),
    pytest.param(notebook("""
        model = keras.Sequential([keras.layers.Dense(10)])
        history = model.fit(X_train, y_train, epochs=20, validation_data=(X_test, y_test))  # leak: L2
        best_epochs = int(np.argmax(history.history["val_accuracy"])) + 1  # leak: L3
        """), id="L3-epochs-from-test-validation-history"),
    pytest.param(notebook("""
        model = keras.Sequential([keras.layers.Dense(10)])
        for epoch in range(50):
            model.fit(X_train, y_train, epochs=1)
            if model.evaluate(X_test, y_test)[1] > 0.95:  # leak: L1 L3
                break
        """), id="L3-early-stop-on-test-by-hand"),
    pytest.param(notebook("""
        from sklearn.metrics import f1_score
        best, best_f1 = None, -1
        for s in [(8,), (16,)]:
            m = MLPClassifier(s).fit(X_train_flat, y_train)
            y_hat = m.predict(X_test_flat)  # leak: L1
            f1 = f1_score(y_test, y_hat, average="macro")
            if f1 > best_f1:  # leak: L3
                best, best_f1 = m, f1
        """), id="L3-metric-function-running-best"),
    pytest.param(notebook("""
        def tune(X_tr, y_tr, X_v, y_v, lrs):
            best = None
            for lr in lrs:
                m = MLPClassifier(learning_rate_init=lr).fit(X_tr, y_tr)
                acc = m.score(X_v, y_v)
                if best is None or acc > best[1]:
                    best = (lr, acc)
            return best

        best = tune(X_train_flat, y_train, X_test_flat, y_test, [1e-3, 1e-2])  # leak: L1 L3
        """), id="L1-L3-test-passed-as-validation-to-tuner"),
]

OVERLAP = [
    pytest.param(notebook("""
        X_all = np.vstack([X_train_flat, X_test_flat])  # leak: L4
        y_all = np.concatenate((y_train, y_test))  # leak: L4
        MLPClassifier().fit(X_all, y_all)  # leak: L2
        """), id="L4-vstack-concatenate"),
    pytest.param(notebook("""
        X_more = np.append(X_train_flat, X_test_flat[:100], axis=0)  # leak: L4
        y_more = np.r_[y_train, y_test[:100]]  # leak: L4
        X_wide = np.hstack((X_train_flat, X_test_flat))  # leak: L4
        MLPClassifier().fit(X_more, y_more)  # leak: L2
        """), id="L4-append-r-hstack"),
    pytest.param(notebook("""
        train_df = pd.DataFrame(X_train_flat)
        test_df = pd.DataFrame(X_test_flat)
        both = pd.concat([train_df, test_df], ignore_index=True)  # leak: L4
        MLPClassifier().fit(both, y_train)  # leak: L2
        """), id="L4-pandas-concat"),
    pytest.param(notebook("""
        import tensorflow as tf
        X_big = tf.concat([X_train, X_test], axis=0)  # leak: L4
        X_ops = keras.ops.concatenate([X_train, X_test])  # leak: L4
        model.fit(X_big, y_train)  # leak: L2
        """), id="L4-tf-and-keras-ops"),
    pytest.param(notebook("""
        images = list(X_train_flat) + list(X_test_flat)  # leak: L4
        labels = list(y_train)
        labels.extend(y_test)  # leak: L4
        MLPClassifier().fit(images, labels)  # leak: L2
        """), id="L4-list-plus-and-extend"),
    pytest.param(notebook("""
        pool = [x for x in X_train_flat]
        for i in range(100):
            pool.append(X_test_flat[i])  # leak: L4
        MLPClassifier().fit(pool, y_train)  # leak: L2
        """), id="L4-append-in-loop"),
    pytest.param(notebook("""
        X_train = X_test  # leak: L4
        """), id="L4-assign-test-into-train-name"),
    pytest.param(notebook("""
        X_train_flat = np.vstack([X_train_flat, X_test_flat])  # leak: L4
        y_train = np.concatenate([y_train, y_test])  # leak: L4
        final_mlp = MLPClassifier().fit(X_train_flat, y_train)  # leak: L2
        """), id="L4-then-L2-grow-training-set"),
    pytest.param(notebook("""
        X_train_flat[:100] = X_test_flat[:100]  # leak: L4
        MLPClassifier().fit(X_train_flat, y_train)  # leak: L2
        """), id="L4-slice-assignment"),
    pytest.param(notebook("""
        data.X_train = data.X_test  # leak: L4
        """), id="L4-attribute-assignment"),
    pytest.param(notebook("""
        import tensorflow as tf
        train_ds = tf.data.Dataset.from_tensor_slices((X_train, y_train))
        test_ds = tf.data.Dataset.from_tensor_slices((X_test, y_test))
        full_ds = train_ds.concatenate(test_ds)  # leak: L4
        model.fit(full_ds)  # leak: L2
        """), id="L4-dataset-concatenate-method"),
    pytest.param(notebook("""
        def combine(a, b):
            return np.vstack([a, b])

        X_all = combine(X_train_flat, X_test_flat)  # leak: L4
        MLPClassifier().fit(X_all, y_train)  # leak: L2
        """), id="L4-helper"),
    pytest.param(notebook(HONEST_TUNING, """
        X_all = np.vstack([X_train_flat, X_test_flat])  # leak: L4
        y_all = np.concatenate([y_train, y_test])  # leak: L4
        best = tune_mlp(X_all, y_all, [1e-3, 1e-2], [(16,), (32,)])  # leak: L1 L2 L3
        """), id="L4-then-tuning-on-mixed-data"),
]


@pytest.mark.parametrize("cells", [*MULTI_TEST, *TRAINING_ON_TEST, *SELECTION_ON_TEST, *OVERLAP])
def test_leak_is_reported_with_rule_cell_and_line(cells):
    assert expected(cells), "a leak case must mark at least one line"
    assert verdicts(cells) == expected(cells)


# Clean notebooks -------------------------------------------------------------------------------

CLEAN = [
    pytest.param(notebook(HONEST_TUNING, HONEST_FINAL), id="honest-solution"),
    pytest.param(notebook(), id="data-cell-only"),
    pytest.param(notebook(HONEST_TUNING, HONEST_FINAL, """
        print(X_test.shape, X_test_flat.shape, len(y_test), X_test.ndim, X_test.dtype, X_test.size)
        print(np.shape(X_test), type(X_test), isinstance(X_test, np.ndarray))
        print(X_test[:3]); print(f"{len(X_test)} test images, classes {np.unique(y_test)}")
        print(X_test.min(), X_test.max(), X_test_flat.mean(), np.bincount(y_test))
        plt.imshow(X_test[0][:, :, 0], cmap="gray")
        plt.title(str(y_test[0]))
        """), id="describing-and-plotting-test-data"),
    pytest.param(notebook(HONEST_TUNING, HONEST_FINAL, """
        sample = final_mlp.predict(X_test_flat[:10])
        fig, axes = plt.subplots(1, 10)
        for ax, image, label, guess in zip(axes, X_test[:10], y_test[:10], sample):
            ax.imshow(image[:, :, 0])
            ax.set_title(f"{guess} ({label})")
        print(confusion_matrix(y_test, final_mlp.predict(X_test_flat)))
        print(classification_report(y_test, final_mlp.predict(X_test_flat)))
        print(np.mean(final_mlp.predict(X_test_flat) == y_test))
        """), id="final-model-predict-after-score"),
    pytest.param(notebook("""
        X_tr, X_val, y_tr, y_val = train_test_split(X_train, y_train, test_size=0.1, random_state=0)
        best_units, best_acc = None, -1
        for units in [32, 64]:
            model = keras.Sequential([keras.layers.Dense(units, activation="relu"), keras.layers.Dense(10)])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            model.fit(X_tr, y_tr, validation_data=(X_val, y_val), epochs=3,
                      callbacks=[keras.callbacks.EarlyStopping(patience=1)])
            acc = model.evaluate(X_val, y_val, verbose=0)[1]
            if acc > best_acc:
                best_units, best_acc = units, acc
        """, """
        final_model = keras.Sequential([keras.layers.Dense(best_units, activation="relu"), keras.layers.Dense(10)])
        final_model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = final_model.fit(X_train, y_train, epochs=3, validation_split=0.1)
        test_loss, test_acc = final_model.evaluate(X_test, y_test)
        probs = final_model.predict(X_test)
        labels = np.argmax(probs, axis=1)
        print(accuracy_score(y_test, labels), final_model(X_test[:5]))
        best_epoch = int(np.argmax(history.history["val_accuracy"]))
        """), id="keras-tuned-on-validation-final-evaluate-once"),
    pytest.param(notebook(HONEST_TUNING, HONEST_FINAL, """
        grader.check("q5_tuning")
        """, """
        import otter
        grader = otter.Notebook("nn_foundations.ipynb")
        grader.check_all()
        """), id="otter-calls"),
    pytest.param(notebook(HONEST_TUNING, HONEST_FINAL, """
        if test_accuracy > 0.9:
            print("nice!")
        assert 0 <= test_accuracy <= 1
        verdict = "good" if test_accuracy > 0.9 else "keep trying"
        print(verdict)
        """), id="checking-the-final-score"),
    pytest.param(notebook(HONEST_TUNING, HONEST_FINAL, """
        batch_scores = []
        for start in range(0, len(X_test_flat), 100):
            batch_scores.append(final_mlp.score(X_test_flat[start:start + 100], y_test[start:start + 100]))
        X_val_part, y_val_part = X_train_flat[:100], y_train[:100]
        for name, (X, y) in {"val": (X_val_part, y_val_part), "test": (X_test_flat, y_test)}.items():
            print(name, final_mlp.score(X, y))
        """), id="final-model-in-batches-and-on-both-splits"),
    pytest.param(notebook(HONEST_TUNING, """
        def evaluate(model, X, y):
            return model.score(X, y)

        X_fit, X_val, y_fit, y_val = train_test_split(X_train_flat, y_train, test_size=0.2)
        for lr in [1e-3, 1e-2]:
            candidate = MLPClassifier(learning_rate_init=lr).fit(X_fit, y_fit)
            print(lr, evaluate(candidate, X_val, y_val))
        final_mlp = MLPClassifier().fit(X_train_flat, y_train)
        test_accuracy = evaluate(final_mlp, X_test_flat, y_test)
        """), id="helper-used-for-validation-and-once-for-test"),
    pytest.param(notebook("""
        X_eval = X_test_flat[:100]
        X_eval = X_train_flat[:100]
        y_eval = y_train[:100]
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr).fit(X_eval, y_eval)
            print(m.score(X_eval, y_eval))
        """), id="reassignment-untaints"),
    pytest.param(notebook("""
        def show(images, labels):
            fig, axes = plt.subplots(1, len(images))
            for ax, image, label in zip(axes, images, labels):
                ax.imshow(image[:, :, 0])
                ax.set_title(int(label))

        def summary(X, y):
            print(X.shape, np.bincount(y), X.min(), X.max())

        show(X_test[:8], y_test[:8])
        summary(X_test, y_test)
        """), id="helpers-that-only-look-at-test-data"),
    pytest.param(notebook("""
        %matplotlib inline
        !pip install -q scikit-learn
        """, """
        %%time
        best = tune_mlp(X_train_flat, y_train, [1e-3, 1e-2], [(16,), (32, 16)])
        """, HONEST_TUNING, HONEST_FINAL), id="magics-around-the-honest-solution"),
    pytest.param(notebook("""
        from tensorflow import keras
        model = keras.Sequential([keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(X_train, y_train, epochs=5, validation_split=0.2,
                  callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)])
        print(model.evaluate(X_test, y_test, verbose=0))
        """), id="keras-early-stopping-on-validation-split"),
    pytest.param(notebook("""
        scaler_mean = X_train_flat.mean(axis=0)
        X_train_centered = X_train_flat - scaler_mean
        X_test_centered = X_test_flat - scaler_mean
        final_mlp = MLPClassifier().fit(X_train_centered, y_train)
        print(final_mlp.score(X_test_centered, y_test))
        n_total = len(X_train) + len(X_test)
        print(X_train.shape[0] + X_test.shape[0], n_total)
        """), id="preprocessing-with-training-statistics"),
    pytest.param(notebook(HONEST_TUNING, """
        final_mlp = MLPClassifier().fit(X_train_flat, y_train)
        test_accuracy = (final_mlp.predict(X_test_flat) == y_test).mean()
        if test_accuracy is ...:
            print("q5_tuning is not answered yet")
        else:
            steps = 3 + 1
            reported = round(float(test_accuracy), 3)
            print(f"test accuracy of the tuned network: {reported}")
        note = "not yet" if test_accuracy is None else test_accuracy
        """), id="the-starters-not-answered-check-with-the-students-own-lines-in-it"),
    pytest.param(notebook("""
        from sklearn.model_selection import GridSearchCV
        search = GridSearchCV(MLPClassifier(), {"alpha": [1e-4, 1e-2]}, cv=3)
        search.fit(X_train_flat, y_train)
        print(search.best_params_, max(search.cv_results_["mean_test_score"]))
        print(search.best_estimator_.score(X_test_flat, y_test))
        """), id="grid-search-on-training-data"),
]


@pytest.mark.parametrize("cells", CLEAN)
def test_clean_notebook_is_not_flagged(cells):
    assert find_leaks(cells) == []


def test_the_marker_reader_sees_markers():
    """The corpus relies on it: without markers every leak case would expect nothing."""
    cells = ["x = 1", None, "y = 2\nz = 3  # leak: L2 L4"]
    assert expected(cells) == {("L2", 2, 2), ("L4", 2, 2)}


# Robustness ------------------------------------------------------------------------------------

ROBUST = [
    pytest.param([], id="empty-notebook"),
    pytest.param([None, None], id="only-markdown"),
    pytest.param(["", "   \n\n", "# just a comment"], id="empty-cells"),
    pytest.param(notebook("def broken(:\n    pass", "for x in\n"), id="syntax-errors"),
    pytest.param(notebook("%%bash\nmodel.fit(X_test_flat, y_test)\necho done"), id="bash-cell-is-not-python"),
    pytest.param(notebook("%%writefile helper.py\nmodel.fit(X_test_flat, y_test)"), id="writefile-cell-is-not-run"),
    pytest.param(notebook("""
        def countdown(n):
            return countdown(n - 1) if n else X_test_flat

        def ping(n):
            return pong(n)

        def pong(n):
            return ping(n)

        countdown(3)
        ping(1)
        """), id="recursion"),
    pytest.param(notebook("""
        async def fetch():
            async with session() as s:
                async for row in s:
                    yield row

        match X_test.shape:
            case (n, 28, 28, 1):
                print(n)
            case _:
                pass

        def deco(f):
            return f

        @deco
        def described(*args, key=None, **kwargs):
            nonlocal_value = [a for a in args if (b := a) is not None]
            del nonlocal_value
            return kwargs

        try:
            described(*[X_test.shape], **{"key": len(y_test)})
        except Exception as err:
            raise RuntimeError("no") from err
        finally:
            pass

        class Shape:
            size = X_test.shape

            @property
            def n(self):
                return len(y_test)

        print(Shape().n, lambda: 1, {**{"a": 1}}, {1, 2}, ..., 1 if True else 2)
        """), id="unusual-syntax"),
    pytest.param([42, b"bytes", None], id="non-text-cells"),
]


@pytest.mark.parametrize("cells", ROBUST)
def test_odd_notebooks_give_no_verdict_and_no_exception(cells):
    assert find_leaks(cells) == []


def test_a_broken_cell_does_not_hide_a_later_leak():
    cells = notebook("def broken(:", """
        final_mlp = MLPClassifier().fit(X_test_flat, y_test)  # leak: L2
        """)
    assert verdicts(cells) == expected(cells) == {("L2", 2, 1)}


def test_recursive_helper_still_reports_its_leak():
    cells = notebook("""
        def train(model, depth):
            if depth:
                return train(model, depth - 1)
            return model.fit(X_test_flat, y_test)  # leak: L2

        train(MLPClassifier(), 3)
        """)
    assert verdicts(cells) == expected(cells)


def test_a_long_notebook_is_analysed_quickly():
    cells = notebook(*([HONEST_TUNING, HONEST_FINAL] * 60))
    started = time.perf_counter()
    assert find_leaks(cells) == []
    assert time.perf_counter() - started < 10


def test_other_data_set_names_can_be_given():
    cells = ["val_X, val_y = load()", "for lr in [1, 2]:\n    m = Model(lr).fit(tr_X, tr_y)\n    m.score(val_X, val_y)"]
    assert verdicts(cells) == set()
    leaks = find_leaks(cells, test_names=("val_X", "val_y"), train_names=("tr_X", "tr_y"))
    assert [(leak.rule, leak.cell, leak.line) for leak in leaks] == [("L1", 1, 3)]
    assert "train_test_split(tr_X, tr_y" in leaks[0].explanation


def test_internal_errors_are_contained_in_production(monkeypatch):
    """A crash on one statement loses that statement only, never the verdict."""
    monkeypatch.setattr(Interpreter, "stmt_While", lambda self, node: 1 / 0)
    cells = notebook("while True:\n    pass", "MLPClassifier().fit(X_test_flat, y_test)  # leak: L2")
    assert {(leak.rule, leak.cell, leak.line) for leak in leakage.find_leaks(cells)} == {("L2", 2, 1)}


# The notebook entry point and the verdict format ---------------------------------------------

def test_notebook_cell_indices_count_markdown_and_raw_cells():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Tuning\nUse `X_test` once."),
        nbformat.v4.new_code_cell(cell(IMPORTS + DATA)),
        nbformat.v4.new_raw_cell("model.fit(X_test_flat, y_test)"),
        nbformat.v4.new_markdown_cell("Now tune:"),
        nbformat.v4.new_code_cell("for lr in [1e-3, 1e-2]:\n"
                                  "    m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)\n"
                                  "    print(m.score(X_test_flat, y_test))"),
    ]
    leaks = find_leaks_in_notebook(nb)
    assert [(leak.rule, leak.cell, leak.line) for leak in leaks] == [("L1", 4, 3)]
    assert leaks[0].code == "print(m.score(X_test_flat, y_test))"


def test_notebook_entry_point_passes_options_on():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("clf.fit(holdout, labels)")]
    assert find_leaks_in_notebook(nb) == []
    assert [leak.rule for leak in find_leaks_in_notebook(nb, test_names=("holdout",))] == ["L2"]


def test_verdicts_are_sorted_and_deduplicated():
    cells = notebook("""
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr).fit(X_test_flat, y_test)  # leak: L2
            if m.score(X_test_flat, y_test) > m.score(X_test_flat[:10], y_test[:10]):  # leak: L1 L3
                chosen = m
        """, """
        X_train = X_test  # leak: L4
        """)
    leaks = find_leaks(cells)
    keys = [(leak.cell, leak.line, leak.rule) for leak in leaks]
    assert keys == sorted(keys) == [(1, 2, "L2"), (1, 3, "L1"), (1, 3, "L3"), (2, 1, "L4")]


# Two verdicts of one rule on one line: only the first is kept, so which one is "first" must not
# depend on the order of a set of strings (Python randomises string hashes per process).
SAME_LINE_CASES = {
    # L1: test data reaching cross_val_score through two helpers called on one line
    "L1 cross-validation, two helpers": notebook("""
        score = lambda X, Z: cross_val_score(MLPClassifier(), X * Z, y_train); tune = lambda X: score(X, X_test_flat); tune(X_test_flat)
        """),
    # L1: the lambda's own read of X_test_flat and the one handed to it, on one line (a set of
    # None and one anchor: its order also hangs on hash(None), so it flips on fewer seeds)
    "L1 cross-validation, helper and own read": notebook("""
        cv = lambda X: cross_val_score(MLPClassifier(), X * X_test_flat, y_train); cv(X_test_flat)
        """),
    # L2: both validation keywords carry test data
    "L2 validation_data/eval_set": notebook("""
        fit_options = dict(validation_data=(X_test, y_test), eval_set=[(X_test, y_test)])
        """),
    # a name that may hold either of two helpers: both run, in some order
    "two possible helpers": notebook("""
        def tune_a(X):
            return cross_val_score(MLPClassifier(), X, y_train)
        def tune_b(X):
            return cross_val_score(MLPClassifier(), X, y_train)
        tune = tune_a if quick else tune_b
        tune(X_test_flat)
        """),
    # one list handed to two parameters, each mutating it: the caller keeps the join of both
    "one object mutated through two parameters": notebook("""
        def collect(a, b):
            a.append(X_test_flat)
            b.append(1)
        rows = []
        collect(rows, rows)
        MLPClassifier().fit(rows, y_train)
        """),
}

_FIND_LEAKS_IN_A_FRESH_PROCESS = """
import json, sys
from autograder.checks.leakage import find_leaks
cases = json.load(sys.stdin)
print(json.dumps({name: [leak.describe() for leak in find_leaks(cells, raise_internal_errors=True)]
                  for name, cells in cases.items()}))
"""


def test_feedback_does_not_depend_on_string_hash_randomisation():
    root = Path(leakage.__file__).resolve().parents[3]
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    outputs = []
    for seed in range(8):
        env = {**os.environ, "PYTHONPATH": path, "PYTHONHASHSEED": str(seed)}
        done = subprocess.run([sys.executable, "-c", _FIND_LEAKS_IN_A_FRESH_PROCESS], input=json.dumps(SAME_LINE_CASES),
                              env=env, capture_output=True, text=True, timeout=120, check=True)
        outputs.append(json.loads(done.stdout))
    differing = {}
    for name in SAME_LINE_CASES:
        seeds_by_feedback: dict[str, list[int]] = {}
        for seed, output in enumerate(outputs):
            seeds_by_feedback.setdefault("\n".join(output[name]), []).append(seed)
        if len(seeds_by_feedback) > 1:
            differing[name] = {f"PYTHONHASHSEED in {seeds}": text for text, seeds in seeds_by_feedback.items()}
    assert not differing, json.dumps(differing, indent=1, ensure_ascii=False)
    feedback = outputs[0]
    assert any(text.startswith("L1 ") and "`cross_val_score` trains" in text and "helper" not in text
               for text in feedback["L1 cross-validation, helper and own read"])  # the line's own read first, as elsewhere
    validation = feedback["L2 validation_data/eval_set"]
    assert len(validation) == 1
    assert "— `validation_data=` receives" in validation[0]
    assert all("helper `tune_a`" in text for text in feedback["two possible helpers"])
    aliased = feedback["one object mutated through two parameters"]  # the test data from `a` is not lost
    assert len(aliased) == 1
    assert aliased[0].startswith("L2 training on test, cell 2 line 6: `MLPClassifier().fit(rows, y_train)`")


def test_describe_names_rule_cell_line_code_and_explanation():
    leak = Leak("L1", 13, 6, "acc = m.score(X_test_flat, y_test)", "Score candidates on validation data.")
    assert leak.describe() == ("L1 multi-test, cell 14 line 6: `acc = m.score(X_test_flat, y_test)` — "
                               "Score candidates on validation data.")
    assert "1-based" in Leak.describe.__doc__


def test_rule_titles_and_default_names():
    assert RULE_TITLES == {"L1": "multi-test", "L2": "training on test", "L3": "selection on test",
                           "L4": "overlap", "L5": "preprocessing", "R": "reflection"}
    assert TEST_NAMES == ("X_test", "y_test", "X_test_flat")
    assert TRAIN_NAMES == ("X_train", "y_train", "X_train_flat")


def test_leaks_are_immutable_values():
    leak = Leak("L2", 0, 1, "x", "y")
    from dataclasses import FrozenInstanceError
    with pytest.raises(FrozenInstanceError):
        leak.rule = "L1"
    assert leak == Leak("L2", 0, 1, "x", "y")


def only(cells: list[str | None], rule: str) -> Leak:
    leaks = [leak for leak in find_leaks(cells) if leak.rule == rule]
    assert len(leaks) == 1, leaks
    return leaks[0]


def test_multi_test_explanation_names_the_data_and_the_fix():
    leak = only(notebook("""
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            acc = m.score(X_test_flat, y_test)
        """), "L1")
    assert leak.code == "acc = m.score(X_test_flat, y_test)"
    assert "`m`" in leak.explanation
    assert "`X_test_flat`" in leak.explanation
    assert "loop" in leak.explanation
    assert "train_test_split(X_train_flat, y_train" in leak.explanation
    assert "once, for the final model only" in leak.explanation
    assert leak.describe().startswith("L1 multi-test, cell 2 line 3: `acc = m.score(X_test_flat, y_test)` — ")


def test_helper_verdict_names_the_helper_at_the_call_site():
    leak = only(notebook("""
        def evaluate(model, X, y):
            return model.score(X, y)

        for s in [(8,), (16,)]:
            print(evaluate(MLPClassifier(s).fit(X_train_flat, y_train), X_test_flat, y_test))
        """), "L1")
    assert (leak.cell, leak.line) == (1, 5)
    assert "helper `evaluate`" in leak.explanation
    assert "`X_test_flat`" in leak.explanation


def test_alias_explanation_traces_the_data_back_to_the_test_set():
    leak = only(notebook("""
        small = X_test_flat[:100]
        MLPClassifier().fit(small, y_train[:100])
        """), "L2")
    assert "`small`, which comes from `X_test_flat`" in leak.explanation
    assert ".fit(...)" in leak.explanation
    assert "`X_train_flat`, `y_train`" in leak.explanation


def test_validation_data_explanation_suggests_a_validation_split():
    leak = only(notebook("""
        model = keras.Sequential([keras.layers.Dense(10)])
        model.fit(X_train, y_train, validation_data=(X_test, y_test))
        """), "L2")
    assert "`validation_data=`" in leak.explanation
    assert "validation_split=0.1" in leak.explanation


def test_selection_explanation_points_at_the_test_evaluation():
    leak = only(notebook("""
        scores = {lr: MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train).score(X_test_flat, y_test)
                  for lr in [1e-3, 1e-2]}
        best_lr = max(scores, key=scores.get)
        """), "L3")
    assert (leak.cell, leak.line) == (1, 3)
    assert "`max(scores, key=scores.get)`" in leak.explanation
    assert "(cell 2, line 1)" in leak.explanation
    assert "validation accuracy" in leak.explanation


def test_overlap_explanation_names_both_sides():
    leak = only(notebook("X_all = np.vstack([X_train_flat, X_test_flat])\nMLPClassifier().fit(X_all, y_train)"), "L4")
    assert "`np.vstack(...)`" in leak.explanation
    assert "`X_test_flat`" in leak.explanation
    assert "`X_train_flat`" in leak.explanation


def test_distinct_models_explanation_names_the_other_model():
    leak = only(notebook("""
        a = MLPClassifier((8,)).fit(X_train_flat, y_train)
        b = MLPClassifier((64,)).fit(X_train_flat, y_train)
        print(a.score(X_test_flat, y_test), b.score(X_test_flat, y_test))
        """, """
        print(b.predict(X_test_flat[:5]))
        """), "L1")
    assert (leak.cell, leak.line) == (1, 3)
    assert "`a`" in leak.explanation
    assert "`b`, cell 3 line 1" in leak.explanation


# Every sink spelling, one case each ----------------------------------------------------------

@pytest.mark.parametrize("method", ["score", "evaluate", "predict", "predict_proba", "predict_log_proba",
                                    "decision_function", "predict_classes", "predict_on_batch", "__call__"])
def test_each_evaluation_method_in_a_loop_is_multi_test(method):
    cells = notebook(f"""
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            out = m.{method}(X_test_flat)  # leak: L1
        """)
    assert verdicts(cells) == expected(cells)


@pytest.mark.parametrize("metric", ["accuracy_score", "f1_score", "precision_score", "recall_score", "log_loss",
                                    "balanced_accuracy_score", "confusion_matrix", "classification_report",
                                    "metrics.top_k_accuracy_score", "mean_squared_error", "hinge_loss",
                                    "my_error"])
def test_each_metric_on_test_labels_in_a_loop_is_multi_test(metric):
    cells = notebook(f"""
        X_fit, X_val, y_fit, y_val = train_test_split(X_train_flat, y_train)
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr).fit(X_fit, y_fit)
            out = {metric}(y_test, m.predict(X_val))  # leak: L1
        """)
    assert verdicts(cells) == expected(cells)


@pytest.mark.parametrize("call", ["clf.fit(X_test_flat, y_test)", "clf.partial_fit(X_test_flat, y_test)",
                                  "clf.fit_transform(X_test_flat)", "net.train_on_batch(X_test, y_test)",
                                  "net.fit(X_train, y_train, validation_data=[X_test, y_test])",
                                  "booster.fit(X_train_flat, y_train, eval_set=[(X_test_flat, y_test)])",
                                  "net.fit(x=X_train, y=y_train, callbacks=[Watch(X_test, y_test)])"])
def test_each_training_call_on_test_data_is_training_on_test(call):
    cells = notebook(f"{call}  # leak: L2")
    assert verdicts(cells) == expected(cells)


@pytest.mark.parametrize("function", ["cross_val_score", "cross_validate", "cross_val_predict",
                                      "learning_curve", "validation_curve"])
def test_each_cross_validation_on_test_data_is_multi_test_and_training(function):
    cells = notebook(f"result = {function}(MLPClassifier(), X_test_flat, y_test)  # leak: L1 L2")
    assert verdicts(cells) == expected(cells)


@pytest.mark.parametrize("choice", ["max(test_scores)", "min(test_scores)", "sorted(test_scores)",
                                    "np.argmax(test_scores)", "np.argmin(test_scores)", "np.argsort(test_scores)",
                                    "pd.Series(test_scores).idxmax()", "pd.Series(test_scores).idxmin()",
                                    "pd.Series(test_scores).sort_values()", "pd.Series(test_scores).nlargest(1)",
                                    "np.array(test_scores).argmax()", "test_scores.sort()"])
def test_each_selection_over_test_scores_is_selection_on_test(choice):
    cells = notebook(f"""
        test_scores = []
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            test_scores.append(m.score(X_test_flat, y_test))  # leak: L1
        chosen = {choice}  # leak: L3
        """)
    assert verdicts(cells) == expected(cells)


@pytest.mark.parametrize("mixing", ["np.concatenate([X_train_flat, X_test_flat])",
                                    "np.vstack([X_train_flat, X_test_flat])",
                                    "np.hstack([X_train_flat, X_test_flat])",
                                    "np.row_stack([X_train_flat, X_test_flat])",
                                    "np.column_stack([X_train_flat, X_test_flat])",
                                    "np.stack([X_train_flat, X_test_flat])",
                                    "np.append(X_train_flat, X_test_flat, axis=0)",
                                    "np.r_[X_train_flat, X_test_flat]",
                                    "np.c_[X_train_flat, X_test_flat]",
                                    "pd.concat([pd.DataFrame(X_train_flat), pd.DataFrame(X_test_flat)])",
                                    "tf.concat([X_train, X_test], axis=0)",
                                    "keras.ops.concatenate([X_train, X_test])",
                                    "list(X_train_flat) + list(X_test_flat)",
                                    "[*X_train_flat] + [*X_test_flat]"])
def test_each_concatenation_of_test_and_train_is_overlap(mixing):
    cells = notebook(f"X_all = {mixing}  # leak: L4", "MLPClassifier().fit(X_all, y_train)  # leak: L2")
    assert verdicts(cells) == expected(cells)


@pytest.mark.parametrize("use", ["print(X_all.shape, len(X_all))", "scale = X_all.max()",
                                 "plt.imshow(X_all[0].reshape(28, 28))"])
def test_test_rows_pooled_but_never_trained_on_are_not_overlap(use):
    """SPEC §5 L4: test rows mixed into the data that training or tuning *sees*."""
    assert find_leaks(notebook("X_all = np.vstack([X_train_flat, X_test_flat])", use)) == []


@pytest.mark.parametrize("target", ["X_train", "y_train", "X_train_flat"])
def test_each_training_name_receiving_test_data_is_overlap(target):
    cells = notebook(f"""
        {target} = {target.replace("train", "test")}.copy()  # leak: L4
        MLPClassifier().fit({target}, y_train)  # leak: L2
        """)
    assert verdicts(cells) == expected(cells)


# More clean spellings ----------------------------------------------------------------------

MORE_CLEAN = [
    pytest.param(notebook("""
        n = X_test.shape[0]
        k = len(y_test)
        label = str(X_test[:2])
        printed = print(X_test)
        clf = MLPClassifier().fit(X_train_flat[:n], y_train[:k])
        clf.fit(X_train_flat, y_train, sample_weight=None if label and printed is None else None)
        n_classes = int(y_test.max()) + 1
        clf.partial_fit(X_train_flat, y_train, classes=np.arange(n_classes))
        """), id="describing-values-flow-into-fit"),
    pytest.param(["""
from tensorflow import keras
(X_train, y_train), (X_test, y_test) = keras.datasets.mnist.load_data()
X_train, X_test = X_train / 255.0, X_test / 255.0
X_train_flat = X_train.reshape(len(X_train), -1)
X_test_flat = X_test.reshape(len(X_test), -1)
""", cell(HONEST_TUNING), cell(HONEST_FINAL)], id="keras-load-data-cell"),
    pytest.param(["""
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
digits = load_digits()
X_train, X_test, y_train, y_test = train_test_split(digits.images, digits.target, test_size=0.25)
X_train_flat = X_train.reshape(len(X_train), -1)
X_test_flat = X_test.reshape(len(X_test), -1)
""", cell(HONEST_TUNING), cell(HONEST_FINAL)], id="split-data-cell"),
    pytest.param(notebook(HONEST_TUNING, HONEST_FINAL, """
        for model, name in [(final_mlp, "final")]:
            print(name, model.score(X_test_flat, y_test))
        if test_accuracy < 0.5:
            raise ValueError("something is wrong")
        if test_accuracy < best["val_accuracy"] - 0.05:
            note = f"test accuracy {test_accuracy:.3f} is well below validation"
        generalises = test_accuracy > best["val_accuracy"] - 0.05
        """), id="single-item-loop-raise-and-notes"),
    pytest.param(notebook(HONEST_TUNING, HONEST_FINAL, """
        y_pred = final_mlp.predict(X_test_flat)
        wrong = np.where(y_pred != y_test)[0]
        plt.imshow(X_test[wrong[0]][:, :, 0])
        confidence = sorted(zip(final_mlp.predict_proba(X_test_flat).max(axis=1), range(len(X_test))))
        top = np.argsort(final_mlp.predict_proba(X_test_flat), axis=1)[:, -3:]
        """), id="inspecting-final-predictions"),
    pytest.param(notebook(HONEST_TUNING, HONEST_FINAL, HONEST_FINAL), id="final-cell-run-twice"),
]


@pytest.mark.parametrize("cells", MORE_CLEAN)
def test_more_clean_notebooks_are_not_flagged(cells):
    assert find_leaks(cells) == []


def test_the_final_model_is_recognised_by_its_name():
    """After the final evaluation, a glance at another model on test data is the leak."""
    cells = notebook(HONEST_TUNING, HONEST_FINAL, """
        baseline = MLPClassifier((4,)).fit(X_train_flat, y_train)
        print(baseline.predict(X_test_flat[:5]))  # leak: L1
        """)
    assert verdicts(cells) == expected(cells)
    assert "`final_mlp`" in only(cells, "L1").explanation


def test_advice_names_the_students_final_model_once_known():
    cells = notebook(HONEST_TUNING, """
        for lr in [1e-3, 1e-2]:
            m = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)
            print(m.score(X_test_flat, y_test))  # leak: L1
        """, HONEST_FINAL)
    assert verdicts(cells) == expected(cells)
    assert "use the test set once, for `final_mlp` only." in only(cells, "L1").explanation


def test_same_name_rebuilt_explanation_says_so():
    leak = only(notebook("""
        model = MLPClassifier((8,)).fit(X_train_flat, y_train)
        print(model.score(X_test_flat, y_test))
        """, """
        model = MLPClassifier((64,)).fit(X_train_flat, y_train)
        print(model.score(X_test_flat, y_test))
        """), "L1")
    assert (leak.cell, leak.line) == (1, 2)
    assert "a model built differently under the same name (`model`, cell 3 line 2)" in leak.explanation


# Models other questions ask to score once ---------------------------------------------------

Q4_REPORT = "mlp_16x16 = MLPClassifier(hidden_layer_sizes=(16, 16)).fit(X_train_flat, y_train)\nprint(mlp_16x16.score(X_test_flat, y_test))"
FINAL = "final_mlp = MLPClassifier().fit(X_train_flat, y_train)\ntest_accuracy = final_mlp.score(X_test_flat, y_test)"


def test_a_reported_deliverable_is_not_a_tuning_candidate():
    assert find_leaks([Q4_REPORT, FINAL], reported_models=["mlp_16x16"]) == []


def test_without_the_exemption_two_models_on_test_are_l1():
    assert [leak.rule for leak in find_leaks([Q4_REPORT, FINAL])] == ["L1"]


def test_a_reported_deliverable_scored_in_a_loop_is_still_l1():
    loop = ("for lr in [0.1, 0.01]:\n    mlp_16x16 = MLPClassifier(learning_rate_init=lr).fit(X_train_flat, y_train)\n"
            "    print(mlp_16x16.score(X_test_flat, y_test))")
    assert "L1" in {leak.rule for leak in find_leaks([loop, FINAL], reported_models=["mlp_16x16"])}
