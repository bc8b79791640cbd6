"""A labelled corpus of whole small notebooks for the static test-set leak finder, and how to score it.

Each notebook is written as a different student or notebook author would write it (Kaggle-style
pandas, the Keras and TFDS tutorials, scikit-learn scripts, the course's ``load_dataset``), not in
the course's own house style, and is labelled with the exact set of leak rules it truly breaks,
by the course's definitions, whatever the analyser currently says:

- L1 multi-test: more than one candidate model is evaluated on test data.
- L2 training on test: test data reaches a model's ``fit``, ``validation_data``, a validation
  split or early stopping.
- L3 selection on test: the chosen hyperparameters depend on test results.
- L4 overlap: test rows (or rows made from them: oversampling or augmentation before the split,
  duplicates landing on both sides) are mixed into the data that training or tuning sees.
- L5 preprocessing: a transform learned from data (scaler, PCA, imputer, encoder, feature
  selection, vocabulary) is fitted on data that includes test rows and then feeds a model.

Labelling conventions, where the definitions leave room (each is also said in the entry's note):

- A transform fitted on data holding test rows is L5 only, not L2 (L2 is a *model's* training)
  and not L4 when the pooled rows reach only the transform, not the model or the tuning.
- Test data used as Keras ``validation_data`` or as the data of early stopping is L2; it is also
  L1 only when several candidates are measured on test data (here always with an explicit
  ``evaluate``/``score`` as well), and L3 when a choice is read from those numbers.
- One final evaluation of one final model (``evaluate``, ``predict``, a confusion matrix, a
  classification report of that same model, however many times) is never a leak.

Also here: :func:`corpus_scores`, the per-rule precision and recall at notebook level, shared by
``tests/test_leak_corpus.py`` and ``benchmarks/leak_analysis.py``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autograder.checks.leakage import Leak

LEAK_RULES: tuple[str, ...] = ("L1", "L2", "L3", "L4", "L5")


@dataclass(frozen=True)
class LabelledNotebook:
    name: str
    cells: tuple[str, ...]
    rules: frozenset[str]   # the leak rules the notebook truly breaks; empty = clean
    note: str


def _nb(name: str, rules: str, note: str, *cells: str) -> LabelledNotebook:
    return LabelledNotebook(name, tuple(textwrap.dedent(c).strip("\n") for c in cells),
                            frozenset(rules.split()), note)


# Leaking notebooks ----------------------------------------------------------------------------

LEAKING: tuple[LabelledNotebook, ...] = (
    # L1 / L3: candidates measured on test data, choices made from it
    _nb("seed_lesson_grid_keeps_best_on_test", "L1 L3",
        "The seed lesson's loop: every (lr, hidden) combination scored on the test set, best kept.",
        """
        from autograder.data import load_dataset
        from sklearn.neural_network import MLPClassifier

        data = load_dataset()
        X_tr = data.X_train.reshape(len(data.X_train), -1)
        X_te = data.X_test.reshape(len(data.X_test), -1)
        y_tr, y_te = data.y_train, data.y_test
        """,
        """
        best_acc, best_params = 0.0, None
        for lr in [1e-3, 3e-3, 1e-2]:
            for hidden in [(32,), (64,), (64, 32)]:
                clf = MLPClassifier(hidden_layer_sizes=hidden, learning_rate_init=lr, max_iter=60, random_state=0)
                clf.fit(X_tr, y_tr)
                acc = clf.score(X_te, y_te)
                print(f"lr={lr} hidden={hidden}: {acc:.4f}")
                if acc > best_acc:
                    best_acc, best_params = acc, (lr, hidden)
        print("best:", best_params, best_acc)
        """),
    _nb("kaggle_model_zoo_printed_on_test_df", "L1",
        "Three classifiers from a dict each scored on test_df; no choice written down, still L1.",
        """
        import pandas as pd
        from sklearn.linear_model import LogisticRegression
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.neural_network import MLPClassifier

        train_df = pd.read_csv("../input/mnist-in-csv/mnist_train.csv")
        test_df = pd.read_csv("../input/mnist-in-csv/mnist_test.csv")
        X, y = train_df.drop(columns="label") / 255.0, train_df["label"]
        X_test, y_test = test_df.drop(columns="label") / 255.0, test_df["label"]
        """,
        """
        models = {
            "logreg": LogisticRegression(max_iter=200),
            "knn": KNeighborsClassifier(n_neighbors=3),
            "mlp": MLPClassifier(hidden_layer_sizes=(128,), max_iter=30),
        }
        for name, model in models.items():
            model.fit(X, y)
            print(f"{name:>8}: {model.score(X_test, y_test):.4f}")
        """),
    _nb("keras_optimizer_sweep_best_by_test_evaluate", "L1 L3",
        "Tuned with validation_split on training data, but each optimizer is evaluated on the test set "
        "and the best is picked from those numbers.",
        """
        import tensorflow as tf
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train, x_test = x_train / 255.0, x_test / 255.0
        """,
        """
        def build():
            return keras.Sequential([
                keras.layers.Flatten(input_shape=(28, 28)),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ])

        results = {}
        for opt in ["sgd", "adam", "rmsprop"]:
            model = build()
            model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            model.fit(x_train, y_train, epochs=3, validation_split=0.1, verbose=0)
            results[opt] = model.evaluate(x_test, y_test, verbose=0)[1]
        """,
        """
        best_opt = max(results, key=results.get)
        print("best optimizer:", best_opt, results[best_opt])
        """),
    _nb("fashion_helper_reads_global_test_images", "L1",
        "A helper evaluates on the global test_images; called for a dense net and for a CNN.",
        """
        import numpy as np
        from tensorflow.keras import layers, models
        from tensorflow.keras.datasets import fashion_mnist

        (train_images, train_labels), (test_images, test_labels) = fashion_mnist.load_data()
        train_images = train_images[..., np.newaxis] / 255.0
        test_images = test_images[..., np.newaxis] / 255.0
        """,
        """
        def report(model):
            loss, acc = model.evaluate(test_images, test_labels, verbose=0)
            print(f"{model.name}: test accuracy {acc:.3f}")
            return acc
        """,
        """
        dense = models.Sequential([layers.Flatten(), layers.Dense(256, activation="relu"), layers.Dense(10)], name="dense")
        cnn = models.Sequential([layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
                                 layers.Flatten(), layers.Dense(10)], name="cnn")
        for net in (dense, cnn):
            net.compile("adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            net.fit(train_images, train_labels, epochs=5, validation_split=0.1)
        report(dense)
        report(cnn)
        """),
    _nb("baseline_and_network_both_scored_on_test", "L1",
        "A logistic-regression baseline and an MLP both scored on the test split; comparison only.",
        """
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, random_state=1)
        """,
        """
        baseline = LogisticRegression(max_iter=1000).fit(X_train, y_train)
        print("baseline test accuracy:", baseline.score(X_test, y_test))

        net = MLPClassifier(hidden_layer_sizes=(64,), max_iter=500, random_state=1).fit(X_train, y_train)
        print("MLP test accuracy:", net.score(X_test, y_test))
        """),
    _nb("holdout_alias_svc_c_sweep", "L1 L3",
        "X_test renamed holdout; C swept on it and the argmax kept.",
        """
        import numpy as np
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.svm import SVC

        digits = load_digits()
        X_train, X_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=0.3, random_state=0)
        holdout, holdout_labels = X_test, y_test
        """,
        """
        Cs = [0.1, 1, 10, 100]
        scores = []
        for C in Cs:
            svc = SVC(C=C, gamma="scale").fit(X_train, y_train)
            scores.append(svc.score(holdout, holdout_labels))
        best_C = Cs[int(np.argmax(scores))]
        print("chosen C:", best_C)
        """),
    _nb("knn_dict_comprehension_best_k", "L1 L3",
        "A dict comprehension of test accuracies over k, then max by value.",
        """
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neighbors import KNeighborsClassifier

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=7)
        """,
        """
        test_acc = {k: KNeighborsClassifier(n_neighbors=k).fit(X_train, y_train).score(X_test, y_test)
                    for k in range(1, 16, 2)}
        best_k = max(test_acc, key=test_acc.get)
        final_knn = KNeighborsClassifier(n_neighbors=best_k).fit(X_train, y_train)
        print(best_k, test_acc[best_k])
        """),
    _nb("leaderboard_dataframe_sorted_by_test_accuracy", "L1 L3",
        "Rows of test accuracies in a DataFrame, sorted; the top row's settings build the final model.",
        """
        import pandas as pd
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train = x_train.reshape(-1, 784).astype("float32") / 255
        x_test = x_test.reshape(-1, 784).astype("float32") / 255
        """,
        """
        rows = []
        for units in [64, 128, 256]:
            for dropout in [0.0, 0.2]:
                model = keras.Sequential([keras.layers.Dense(units, activation="relu"),
                                          keras.layers.Dropout(dropout), keras.layers.Dense(10, activation="softmax")])
                model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
                model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=0)
                _, acc = model.evaluate(x_test, y_test, verbose=0)
                rows.append({"units": units, "dropout": dropout, "test_accuracy": acc})
        """,
        """
        leaderboard = pd.DataFrame(rows).sort_values("test_accuracy", ascending=False)
        best = leaderboard.iloc[0]
        print(leaderboard.head())
        print("going with", int(best["units"]), "units and dropout", best["dropout"])
        """),
    _nb("classifier_list_macro_f1_on_test_predictions", "L1",
        "Predictions of each classifier on the test set, then a metric on them; nothing chosen.",
        """
        from sklearn.datasets import fetch_openml
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.metrics import f1_score
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = fetch_openml("mnist_784", version=1, return_X_y=True, as_frame=False)
        X_train, X_test, y_train, y_test = train_test_split(X / 255.0, y, test_size=10000, random_state=0)
        """,
        """
        classifiers = [("forest", RandomForestClassifier(n_estimators=100)),
                       ("mlp", MLPClassifier(hidden_layer_sizes=(100,), max_iter=20))]
        for name, clf in classifiers:
            clf.fit(X_train, y_train)
            y_pred = clf.predict(X_test)
            print(name, "macro F1:", round(f1_score(y_test, y_pred, average="macro"), 4))
        """),
    _nb("pca_components_chosen_on_test", "L1 L3",
        "PCA is fitted on training data only (no L5), but the number of components is chosen by test accuracy.",
        """
        from sklearn.datasets import load_digits
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=3)
        """,
        """
        best_n, best_acc = None, 0
        for n in [10, 20, 40]:
            pca = PCA(n_components=n).fit(X_train)
            clf = LogisticRegression(max_iter=2000).fit(pca.transform(X_train), y_train)
            acc = clf.score(pca.transform(X_test), y_test)
            if acc > best_acc:
                best_n, best_acc = n, acc
        print("components:", best_n)
        """),
    _nb("retrain_longer_if_test_accuracy_low", "L3",
        "One model is evaluated on the test set; the final model's epochs are then set from that "
        "score. The final model is not evaluated again, so not L1.",
        """
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train, x_test = x_train / 255.0, x_test / 255.0

        def build():
            model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                                      keras.layers.Dense(10, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
        """,
        """
        model = build()
        model.fit(x_train, y_train, epochs=5)
        test_loss, test_acc = model.evaluate(x_test, y_test)
        """,
        """
        epochs = 20 if test_acc < 0.98 else 5
        final = build()
        final.fit(x_train, y_train, epochs=epochs)
        final.save("mnist_final.keras")
        """),
    _nb("keras_units_sweep_with_test_as_validation", "L1 L2 L3",
        "Each candidate gets the test set as validation_data (L2) and is evaluated on it (L1); the "
        "width is chosen from the validation history, i.e. from test results (L3).",
        """
        import numpy as np
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train, x_test = x_train.astype("float32") / 255, x_test.astype("float32") / 255
        """,
        """
        histories = {}
        for units in (32, 128, 512):
            model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                                      keras.layers.Dense(units, activation="relu"), keras.layers.Dense(10)])
            model.compile(optimizer="adam", metrics=["accuracy"],
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            histories[units] = model.fit(x_train, y_train, epochs=4, validation_data=(x_test, y_test))
            print(units, model.evaluate(x_test, y_test, verbose=0))
        best_units = max(histories, key=lambda u: np.max(histories[u].history["val_accuracy"]))
        """),
    _nb("epochs_read_from_test_validation_history", "L2 L3",
        "test_images as validation_data (L2); the number of epochs for the saved model is the argmax of "
        "that history (L3).",
        """
        import numpy as np
        import tensorflow as tf

        fashion = tf.keras.datasets.fashion_mnist
        (train_images, train_labels), (test_images, test_labels) = fashion.load_data()
        train_images, test_images = train_images / 255.0, test_images / 255.0
        """,
        """
        def make_model():
            model = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)),
                                         tf.keras.layers.Dense(128, activation="relu"), tf.keras.layers.Dense(10)])
            model.compile(optimizer="adam", metrics=["accuracy"],
                          loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            return model

        history = make_model().fit(train_images, train_labels, epochs=30,
                                   validation_data=(test_images, test_labels))
        best_epoch = int(np.argmax(history.history["val_accuracy"])) + 1
        """,
        """
        final_model = make_model()
        final_model.fit(train_images, train_labels, epochs=best_epoch)
        final_model.save("fashion_final.keras")
        """),
    _nb("gridsearch_on_concatenated_train_and_test", "L1 L2 L3 L4",
        "GridSearchCV fitted on train+test stacked: candidates scored on folds holding test rows (L1), "
        "chosen from them (L3), the refit trains on test rows (L2), test rows in the tuning data (L4).",
        """
        import numpy as np
        from sklearn.model_selection import GridSearchCV
        from sklearn.neural_network import MLPClassifier
        from tensorflow.keras.datasets import mnist

        (x_train, y_train), (x_test, y_test) = mnist.load_data()
        x_train_flat = x_train.reshape(len(x_train), -1) / 255.0
        x_test_flat = x_test.reshape(len(x_test), -1) / 255.0
        """,
        """
        X_all = np.concatenate([x_train_flat, x_test_flat])
        y_all = np.concatenate([y_train, y_test])
        grid = {"hidden_layer_sizes": [(64,), (128,)], "alpha": [1e-4, 1e-3]}
        search = GridSearchCV(MLPClassifier(max_iter=30), grid, cv=3, n_jobs=-1)
        search.fit(X_all, y_all)
        print(search.best_params_)
        """,
        """
        final = search.best_estimator_
        print("test accuracy:", final.score(x_test_flat, y_test))
        """),
    _nb("keras_while_loop_until_test_target", "L1 L3",
        "Width doubled until the test accuracy reaches a target: every width is evaluated on test.",
        """
        from tensorflow import keras
        from tensorflow.keras import layers

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train = x_train.reshape(60000, 784).astype("float32") / 255
        x_test = x_test.reshape(10000, 784).astype("float32") / 255
        """,
        """
        units, test_acc = 16, 0.0
        while test_acc < 0.975 and units <= 1024:
            units *= 2
            model = keras.Sequential([layers.Dense(units, activation="relu"), layers.Dense(10, activation="softmax")])
            model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
            model.fit(x_train, y_train, batch_size=128, epochs=3, verbose=0)
            test_acc = model.evaluate(x_test, y_test, verbose=0)[1]
            print(units, test_acc)
        """),
    _nb("alpha_curve_plotted_on_test_df", "L1",
        "Test accuracy plotted against alpha for several fitted models; nothing chosen in code.",
        """
        import matplotlib.pyplot as plt
        import pandas as pd
        from sklearn.neural_network import MLPClassifier

        df_train = pd.read_csv("mnist_train.csv")
        df_test = pd.read_csv("mnist_test.csv")
        features = [c for c in df_train.columns if c != "label"]
        """,
        """
        alphas = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
        accs = []
        for a in alphas:
            mlp = MLPClassifier(hidden_layer_sizes=(100,), alpha=a, max_iter=25)
            mlp.fit(df_train[features] / 255, df_train["label"])
            accs.append(mlp.score(df_test[features] / 255, df_test["label"]))
        plt.semilogx(alphas, accs, marker="o")
        plt.ylabel("test accuracy")
        plt.show()
        """),
    _nb("tuning_helper_called_with_test_arrays", "L1 L3",
        "A reasonable tuning helper, but it is handed the test arrays as its validation data.",
        """
        import numpy as np
        from sklearn.metrics import accuracy_score
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
        x_train, x_test = x_train / 255.0, x_test / 255.0
        """,
        """
        def pick_best(configs, X_fit, y_fit, X_eval, y_eval):
            best_cfg, best_acc = None, -1.0
            for cfg in configs:
                net = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(cfg["units"], activation="relu"),
                                        keras.layers.Dense(10, activation="softmax")])
                net.compile(keras.optimizers.Adam(cfg["lr"]), "sparse_categorical_crossentropy")
                net.fit(X_fit, y_fit, epochs=3, verbose=0)
                acc = accuracy_score(y_eval, np.argmax(net.predict(X_eval), axis=1))
                if acc > best_acc:
                    best_cfg, best_acc = cfg, acc
            return best_cfg
        """,
        """
        configs = [{"units": 64, "lr": 1e-3}, {"units": 256, "lr": 1e-3}, {"units": 256, "lr": 1e-2}]
        best_cfg = pick_best(configs, x_train, y_train, x_test, y_test)
        print(best_cfg)
        """),
    _nb("series_idxmax_over_models_dict", "L1 L3",
        "Test scores collected in a pandas Series; idxmax names the model that is kept.",
        """
        import pandas as pd
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=42)
        """,
        """
        candidates = {
            "relu-64": MLPClassifier((64,), activation="relu", max_iter=400),
            "tanh-64": MLPClassifier((64,), activation="tanh", max_iter=400),
            "relu-64x32": MLPClassifier((64, 32), activation="relu", max_iter=400),
        }
        scores = pd.Series({name: m.fit(X_train, y_train).score(X_test, y_test) for name, m in candidates.items()})
        best_name = scores.idxmax()
        best_model = candidates[best_name]
        print(scores.sort_values(ascending=False))
        """),
    _nb("scaled_everything_then_c_sweep_on_test", "L1 L3 L5",
        "StandardScaler fitted on all rows before the split (L5), then C chosen by test score (L1, L3).",
        """
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        X, y = load_digits(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
        """,
        """
        results = {}
        for C in [0.01, 0.1, 1.0, 10.0]:
            clf = LogisticRegression(C=C, max_iter=3000).fit(X_train, y_train)
            results[C] = clf.score(X_test, y_test)
        best_C = max(results, key=results.get)
        print(results, "->", best_C)
        """),

    # L2: test data reaches training, validation or early stopping
    _nb("tfds_tutorial_validation_data_is_ds_test", "L2",
        "The TFDS Keras example as published: ds_test passed as validation_data.",
        """
        import tensorflow as tf
        import tensorflow_datasets as tfds

        (ds_train, ds_test), ds_info = tfds.load("mnist", split=["train", "test"], shuffle_files=True,
                                                 as_supervised=True, with_info=True)

        def normalize_img(image, label):
            return tf.cast(image, tf.float32) / 255.0, label

        ds_train = ds_train.map(normalize_img).cache().shuffle(ds_info.splits["train"].num_examples).batch(128)
        ds_test = ds_test.map(normalize_img).batch(128).cache()
        """,
        """
        model = tf.keras.models.Sequential([
            tf.keras.layers.Flatten(input_shape=(28, 28)),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dense(10),
        ])
        model.compile(optimizer=tf.keras.optimizers.Adam(0.001),
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=[tf.keras.metrics.SparseCategoricalAccuracy()])
        model.fit(ds_train, epochs=6, validation_data=ds_test)
        """),
    _nb("early_stopping_val_loss_on_test_set", "L2",
        "EarlyStopping on val_loss where the validation data is the test set; one final evaluate.",
        """
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train = x_train.reshape(-1, 28, 28, 1) / 255.0
        x_test = x_test.reshape(-1, 28, 28, 1) / 255.0
        """,
        """
        model = keras.Sequential([
            keras.layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        model.fit(x_train, y_train, epochs=50, batch_size=64, validation_data=(x_test, y_test), callbacks=[stop])
        """,
        """
        loss, acc = model.evaluate(x_test, y_test)
        print(f"Test accuracy: {acc:.4f}")
        """),
    _nb("fine_tune_on_test_images_after_training", "L2",
        "A couple of extra epochs on the test set 'to adapt', then the same model evaluated on it.",
        """
        import tensorflow as tf

        (train_images, train_labels), (test_images, test_labels) = tf.keras.datasets.fashion_mnist.load_data()
        train_images, test_images = train_images / 255.0, test_images / 255.0
        model = tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(128, activation="relu"),
                                     tf.keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        """,
        """
        model.fit(train_images, train_labels, epochs=10, validation_split=0.1)
        # a little extra adaptation to the evaluation distribution
        model.fit(test_images, test_labels, epochs=2)
        test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)
        """),
    _nb("hf_load_dataset_test_split_renamed_val", "L2",
        "Hugging Face load_dataset('mnist'): the 'test' split renamed x_val and used as validation data "
        "for ReduceLROnPlateau and EarlyStopping.",
        """
        import numpy as np
        from datasets import load_dataset
        from tensorflow import keras

        mnist = load_dataset("mnist")
        x_train = np.stack([np.array(img) for img in mnist["train"]["image"]]) / 255.0
        y_train = np.array(mnist["train"]["label"])
        x_val = np.stack([np.array(img) for img in mnist["test"]["image"]]) / 255.0
        y_val = np.array(mnist["test"]["label"])
        """,
        """
        model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(256, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        callbacks = [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1),
                     keras.callbacks.EarlyStopping(monitor="val_loss", patience=3)]
        model.fit(x_train, y_train, epochs=40, validation_data=(x_val, y_val), callbacks=callbacks)
        """),
    _nb("xgboost_eval_set_is_test_with_early_stopping", "L2",
        "XGBoost early stopping watches eval_set = the test split.",
        """
        import xgboost as xgb
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
        """,
        """
        clf = xgb.XGBClassifier(n_estimators=500, learning_rate=0.1, early_stopping_rounds=20)
        clf.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)
        print("best iteration:", clf.best_iteration)
        print("accuracy:", clf.score(X_test, y_test))
        """),
    _nb("train_helper_called_with_df_test", "L2",
        "Copy-paste slip: the training helper is called with df_test.",
        """
        import pandas as pd
        from sklearn.neural_network import MLPClassifier

        df_train = pd.read_csv("data/train.csv")
        df_test = pd.read_csv("data/test.csv")
        pixels = [c for c in df_train.columns if c.startswith("pixel")]
        """,
        """
        def train_on(frame):
            model = MLPClassifier(hidden_layer_sizes=(200,), max_iter=40, random_state=0)
            model.fit(frame[pixels] / 255.0, frame["label"])
            return model

        model = train_on(df_test)
        print("accuracy:", model.score(df_test[pixels] / 255.0, df_test["label"]))
        """),
    _nb("fit_called_on_test_images_with_validation_split", "L2",
        "Arguments swapped: the network is fitted (with a validation split) on the test images.",
        """
        from tensorflow import keras
        from tensorflow.keras.datasets import fashion_mnist

        (train_images, train_labels), (test_images, test_labels) = fashion_mnist.load_data()
        class_names = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]
        """,
        """
        model = keras.Sequential([keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                                  keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)])
        model.compile(optimizer="adam", metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(test_images, test_labels, epochs=10, validation_split=0.2)
        """,
        """
        test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)
        print("Test accuracy:", test_acc)
        """),
    _nb("validation_split_over_train_plus_test", "L2 L4",
        "train and test concatenated, then fit with validation_split and EarlyStopping: test rows are "
        "trained on and validated on.",
        """
        import numpy as np
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x = np.concatenate([x_train, x_test]).astype("float32") / 255.0
        y = np.concatenate([y_train, y_test])
        """,
        """
        model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(256, activation="relu"),
                                  keras.layers.Dropout(0.3), keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=30, validation_split=0.1,
                  callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=2)])
        print(model.evaluate(x_test / 255.0, y_test))
        """),
    _nb("kaggle_full_frame_concat_then_fit", "L2 L4",
        "pd.concat of train and test frames, model fitted on the whole, then scored on test_df.",
        """
        import pandas as pd
        from sklearn.neural_network import MLPClassifier

        train = pd.read_csv("/kaggle/input/digits/train.csv")
        test_df = pd.read_csv("/kaggle/input/digits/test.csv")
        full = pd.concat([train, test_df], ignore_index=True)
        """,
        """
        X_full = full.drop(columns=["label"]) / 255.0
        clf = MLPClassifier(hidden_layer_sizes=(128, 64), early_stopping=True, max_iter=50)
        clf.fit(X_full, full["label"])
        print(clf.score(test_df.drop(columns=["label"]) / 255.0, test_df["label"]))
        """),
    _nb("borrow_half_the_test_set_for_training", "L2 L4",
        "The first 5000 test images are appended to the training set; scored on the rest.",
        """
        import numpy as np
        from sklearn.neural_network import MLPClassifier
        from tensorflow.keras.datasets import mnist

        (x_train, y_train), (x_test, y_test) = mnist.load_data()
        x_train = x_train.reshape(len(x_train), -1) / 255.0
        x_test = x_test.reshape(len(x_test), -1) / 255.0
        """,
        """
        # more data always helps
        x_train = np.vstack([x_train, x_test[:5000]])
        y_train = np.hstack([y_train, y_test[:5000]])
        clf = MLPClassifier(hidden_layer_sizes=(256,), max_iter=20).fit(x_train, y_train)
        print("held-out accuracy:", clf.score(x_test[5000:], y_test[5000:]))
        """),
    _nb("tfds_train_concatenated_with_test_then_fit", "L2 L4",
        "tf.data: ds_train.concatenate(ds_test) is what the model is fitted on.",
        """
        import tensorflow as tf
        import tensorflow_datasets as tfds

        ds_train, ds_test = tfds.load("mnist", split=["train", "test"], as_supervised=True)
        prep = lambda img, lbl: (tf.cast(img, tf.float32) / 255.0, lbl)
        ds_all = ds_train.concatenate(ds_test).map(prep).shuffle(10_000).batch(256)
        """,
        """
        model = tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(128, activation="relu"),
                                     tf.keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(ds_all, epochs=5)
        model.evaluate(ds_test.map(prep).batch(256))
        """),
    _nb("pool_official_splits_and_resplit", "L2 L4",
        "The official MNIST train and test are pooled and split again at random: official test rows "
        "are trained on.",
        """
        import numpy as np
        from sklearn.model_selection import train_test_split
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        images = np.concatenate((x_train, x_test)) / 255.0
        labels = np.concatenate((y_train, y_test))
        X_tr, X_te, y_tr, y_te = train_test_split(images, labels, test_size=0.15, random_state=0)
        """,
        """
        model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(X_tr, y_tr, epochs=5, validation_split=0.1)
        model.evaluate(X_te, y_te)
        """),
    _nb("tf_data_test_split_as_validation_with_lr_schedule", "L2",
        "The test split of train_test_split wrapped in a tf.data Dataset and given as validation_data "
        "to a ReduceLROnPlateau run.",
        """
        import tensorflow as tf
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.2, stratify=y)
        train_ds = tf.data.Dataset.from_tensor_slices((X_train, y_train)).shuffle(2000).batch(32)
        test_ds = tf.data.Dataset.from_tensor_slices((X_test, y_test)).batch(64)
        """,
        """
        model = tf.keras.Sequential([tf.keras.layers.Dense(64, activation="relu"), tf.keras.layers.Dense(10)])
        model.compile(optimizer="adam", metrics=["accuracy"],
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        plateau = tf.keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=2)
        model.fit(train_ds, epochs=40, validation_data=test_ds, callbacks=[plateau])
        """),
    _nb("nines_from_test_df_added_to_train_df", "L2 L4",
        "The test frame's nines are appended to the training frame 'to balance classes'.",
        """
        import pandas as pd
        from sklearn.neural_network import MLPClassifier

        train_df = pd.read_csv("mnist_train.csv")
        test_df = pd.read_csv("mnist_test.csv")
        print(train_df["label"].value_counts())
        """,
        """
        train_df = pd.concat([train_df, test_df[test_df["label"] == 9]], ignore_index=True)
        X, y = train_df.drop(columns="label") / 255, train_df["label"]
        mlp = MLPClassifier(hidden_layer_sizes=(128,), max_iter=30).fit(X, y)
        print(mlp.score(test_df.drop(columns="label") / 255, test_df["label"]))
        """),

    # L4: rows made from test rows, oversampling or augmentation before the split
    _nb("smote_before_train_test_split", "L4",
        "SMOTE synthesises rows from neighbours across the whole set before splitting, so the training "
        "split holds rows interpolated from test rows.",
        """
        import numpy as np
        from imblearn.over_sampling import SMOTE
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        keep = (y != 3) | (np.arange(len(y)) < 300)  # make 3 rare
        X, y = X[keep], y[keep]
        """,
        """
        X_res, y_res = SMOTE(random_state=0).fit_resample(X, y)
        X_train, X_test, y_train, y_test = train_test_split(X_res, y_res, test_size=0.2, random_state=0)
        clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=500).fit(X_train, y_train)
        print("test accuracy:", clf.score(X_test, y_test))
        """),
    _nb("rotation_augmentation_helper_before_split", "L4",
        "Rotated copies of every digit are stacked before the split: a test digit's rotations train.",
        """
        import numpy as np
        from scipy.ndimage import rotate
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.svm import SVC

        digits = load_digits()
        """,
        """
        def augment(images, labels, angles=(-10, 10)):
            out_x, out_y = [images], [labels]
            for angle in angles:
                out_x.append(np.array([rotate(img, angle, reshape=False) for img in images]))
                out_y.append(labels)
            return np.concatenate(out_x), np.concatenate(out_y)

        X_aug, y_aug = augment(digits.images, digits.target)
        X_train, X_test, y_train, y_test = train_test_split(X_aug.reshape(len(X_aug), -1), y_aug, test_size=0.25)
        model = SVC(gamma=0.001).fit(X_train, y_train)
        print(model.score(X_test, y_test))
        """),
    _nb("upsampled_duplicates_before_split", "L4",
        "Minority rows duplicated with sklearn.utils.resample before the split: copies land on both sides.",
        """
        import pandas as pd
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier
        from sklearn.utils import resample

        digits = load_digits(as_frame=True)
        df = digits.frame
        """,
        """
        sevens = df[df["target"] == 7]
        df = pd.concat([df, resample(sevens, replace=True, n_samples=400, random_state=0)])
        train_df, test_df = train_test_split(df, test_size=0.2, random_state=0)
        clf = MLPClassifier(max_iter=300).fit(train_df.drop(columns="target"), train_df["target"])
        print(clf.score(test_df.drop(columns="target"), test_df["target"]))
        """),
    _nb("imagedatagenerator_batch_added_before_split", "L4",
        "One augmented copy of the whole set generated with ImageDataGenerator, then split.",
        """
        import numpy as np
        from sklearn.model_selection import train_test_split
        from tensorflow import keras
        from tensorflow.keras.preprocessing.image import ImageDataGenerator

        (images, labels), _ = keras.datasets.mnist.load_data()
        images = images[:20000, ..., None] / 255.0
        labels = labels[:20000]
        """,
        """
        gen = ImageDataGenerator(rotation_range=10, zoom_range=0.1, width_shift_range=0.1)
        extra_x, extra_y = next(gen.flow(images, labels, batch_size=len(images), shuffle=False))
        X = np.concatenate([images, extra_x])
        y = np.concatenate([labels, extra_y])
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
        """,
        """
        model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(X_train, y_train, epochs=5, validation_split=0.1)
        model.evaluate(X_test, y_test)
        """),
    _nb("noisy_copies_stacked_before_split", "L4",
        "Gaussian-noise copies of every image stacked onto the data before train_test_split.",
        """
        import numpy as np
        from sklearn.datasets import fetch_openml
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = fetch_openml("mnist_784", version=1, return_X_y=True, as_frame=False)
        X = X[:15000] / 255.0
        y = y[:15000]
        """,
        """
        rng = np.random.default_rng(0)
        X_noisy = np.clip(X + rng.normal(0, 0.1, X.shape), 0, 1)
        X_big, y_big = np.vstack([X, X_noisy]), np.concatenate([y, y])
        X_train, X_test, y_train, y_test = train_test_split(X_big, y_big, test_size=0.2)
        mlp = MLPClassifier(hidden_layer_sizes=(100,), max_iter=20).fit(X_train, y_train)
        print("accuracy on test:", mlp.score(X_test, y_test))
        """),

    # L5: a learned transform fitted on data holding test rows
    _nb("standard_scaler_fitted_before_split", "L5",
        "StandardScaler.fit_transform on the whole data set, then train_test_split.",
        """
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier
        from sklearn.preprocessing import StandardScaler

        X, y = load_digits(return_X_y=True)
        scaler = StandardScaler()
        X_scaled = scaler.fit_transform(X)
        """,
        """
        X_train, X_test, y_train, y_test = train_test_split(X_scaled, y, test_size=0.2, random_state=42)
        mlp = MLPClassifier(hidden_layer_sizes=(50,), max_iter=500, random_state=42)
        mlp.fit(X_train, y_train)
        print(f"Test accuracy: {mlp.score(X_test, y_test):.3f}")
        """),
    _nb("pca_fitted_on_all_rows_before_split", "L5",
        "PCA fitted on all 70000 MNIST rows, then split; the network trains and is tested on the projection.",
        """
        from sklearn.datasets import fetch_openml
        from sklearn.decomposition import PCA
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        mnist = fetch_openml("mnist_784", version=1, as_frame=False)
        X, y = mnist.data / 255.0, mnist.target
        """,
        """
        pca = PCA(n_components=0.95)
        X_reduced = pca.fit_transform(X)
        print(pca.n_components_, "components")
        X_train, X_test, y_train, y_test = train_test_split(X_reduced, y, test_size=10000, random_state=0)
        clf = MLPClassifier(hidden_layer_sizes=(100,), max_iter=30).fit(X_train, y_train)
        print(clf.score(X_test, y_test))
        """),
    _nb("minmax_scaler_fitted_on_train_plus_test", "L5",
        "MinMaxScaler fitted on np.concatenate of the train and test arrays. The pooled array only "
        "reaches the scaler, so L5 and not L4.",
        """
        import numpy as np
        from sklearn.preprocessing import MinMaxScaler
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train_flat = x_train.reshape(-1, 784).astype("float32")
        x_test_flat = x_test.reshape(-1, 784).astype("float32")
        """,
        """
        scaler = MinMaxScaler().fit(np.concatenate([x_train_flat, x_test_flat]))
        x_train_s, x_test_s = scaler.transform(x_train_flat), scaler.transform(x_test_flat)
        model = keras.Sequential([keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train_s, y_train, epochs=5, validation_split=0.1)
        model.evaluate(x_test_s, y_test)
        """),
    _nb("simple_imputer_fitted_on_concat_frames", "L5",
        "The Kaggle habit: impute with medians of pd.concat([train_df, test_df]). The pooled frame only "
        "reaches the imputer, so L5 and not L4.",
        """
        import pandas as pd
        from sklearn.impute import SimpleImputer
        from sklearn.neural_network import MLPClassifier

        train_df = pd.read_csv("digits_with_gaps_train.csv")
        test_df = pd.read_csv("digits_with_gaps_test.csv")
        features = train_df.columns.drop("label")
        """,
        """
        imputer = SimpleImputer(strategy="median")
        imputer.fit(pd.concat([train_df[features], test_df[features]]))
        X_train = imputer.transform(train_df[features])
        X_test = imputer.transform(test_df[features])
        clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=300).fit(X_train, train_df["label"])
        print("test accuracy", clf.score(X_test, test_df["label"]))
        """),
    _nb("tfidf_vocabulary_fitted_on_all_text", "L5",
        "TfidfVectorizer's vocabulary and idf learned from train and test texts together.",
        """
        import pandas as pd
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.neural_network import MLPClassifier

        train_df = pd.read_csv("train.csv")
        test_df = pd.read_csv("test.csv")
        """,
        """
        vectorizer = TfidfVectorizer(max_features=5000, ngram_range=(1, 2))
        vectorizer.fit(pd.concat([train_df["text"], test_df["text"]]))
        X_train = vectorizer.transform(train_df["text"])
        X_test = vectorizer.transform(test_df["text"])
        clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=20).fit(X_train, train_df["label"])
        print("test accuracy:", clf.score(X_test, test_df["label"]))
        """),
    _nb("keras_normalization_adapted_before_split", "L5",
        "tf.keras.layers.Normalization().adapt() on every image before train_test_split; the layer is "
        "the model's first.",
        """
        import tensorflow as tf
        from sklearn.model_selection import train_test_split

        (x_all, y_all), _ = tf.keras.datasets.mnist.load_data()
        x_all = x_all.reshape(-1, 784).astype("float32")
        """,
        """
        norm = tf.keras.layers.Normalization()
        norm.adapt(x_all)
        X_train, X_test, y_train, y_test = train_test_split(x_all, y_all, test_size=0.2, random_state=1)
        """,
        """
        model = tf.keras.Sequential([norm, tf.keras.layers.Dense(128, activation="relu"), tf.keras.layers.Dense(10)])
        model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        model.fit(X_train, y_train, epochs=5, validation_split=0.1)
        model.evaluate(X_test, y_test)
        """),
    _nb("select_kbest_fitted_before_split", "L5",
        "SelectKBest ranks pixels with every row's labels, test rows included, before the split.",
        """
        from sklearn.datasets import load_digits
        from sklearn.feature_selection import SelectKBest, f_classif
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        """,
        """
        X_sel = SelectKBest(f_classif, k=30).fit_transform(X, y)
        X_train, X_test, y_train, y_test = train_test_split(X_sel, y, test_size=0.3, random_state=5)
        clf = MLPClassifier(hidden_layer_sizes=(40,), max_iter=800, random_state=5).fit(X_train, y_train)
        print("accuracy with 30 pixels:", clf.score(X_test, y_test))
        """),
    _nb("scaler_fitted_on_df_test_only", "L5",
        "The scaler is fitted on the test frame and applied to both. A transform, not the model, sees "
        "the test rows: L5 (tests/test_leakage.py currently calls a scaler fitted on test L2).",
        """
        import pandas as pd
        from sklearn.neural_network import MLPClassifier
        from sklearn.preprocessing import StandardScaler

        df_train = pd.read_csv("mnist_train.csv")
        df_test = pd.read_csv("mnist_test.csv")
        cols = [c for c in df_test.columns if c != "label"]
        """,
        """
        scaler = StandardScaler().fit(df_test[cols])
        X_train = scaler.transform(df_train[cols])
        X_test = scaler.transform(df_test[cols])
        model = MLPClassifier(hidden_layer_sizes=(128,), max_iter=25).fit(X_train, df_train["label"])
        print(model.score(X_test, df_test["label"]))
        """),
    _nb("global_mean_std_from_train_and_test_images", "L5",
        "Standardised with the mean and std of train and test images together: statistics learned on test rows.",
        """
        import numpy as np
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        everything = np.concatenate([x_train, x_test]).astype("float32")
        mean, std = everything.mean(), everything.std()
        x_train = (x_train - mean) / std
        x_test = (x_test - mean) / std
        """,
        """
        model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=5, validation_split=0.1)
        model.evaluate(x_test, y_test)
        """),
    _nb("pca_fitted_on_vstack_of_fashion_images", "L5",
        "PCA fitted on np.vstack of the training and test images; classifier on the projections.",
        """
        import numpy as np
        from sklearn.decomposition import PCA
        from sklearn.neural_network import MLPClassifier
        from tensorflow.keras.datasets import fashion_mnist

        (train_images, train_labels), (test_images, test_labels) = fashion_mnist.load_data()
        train_flat = train_images.reshape(len(train_images), -1) / 255.0
        test_flat = test_images.reshape(len(test_images), -1) / 255.0
        """,
        """
        pca = PCA(n_components=80).fit(np.vstack((train_flat, test_flat)))
        clf = MLPClassifier(hidden_layer_sizes=(128,), max_iter=40)
        clf.fit(pca.transform(train_flat), train_labels)
        print("test accuracy:", clf.score(pca.transform(test_flat), test_labels))
        """),
    _nb("featurewise_datagen_fitted_on_train_and_test", "L5",
        "ImageDataGenerator(featurewise_center, featurewise_std_normalization).fit on train+test images.",
        """
        import numpy as np
        from tensorflow import keras
        from tensorflow.keras.preprocessing.image import ImageDataGenerator

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train, x_test = x_train[..., None].astype("float32"), x_test[..., None].astype("float32")
        """,
        """
        datagen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True, rotation_range=8)
        datagen.fit(np.concatenate([x_train, x_test]))
        model = keras.Sequential([keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.Flatten(),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(datagen.flow(x_train, y_train, batch_size=64), epochs=3)
        model.evaluate(datagen.standardize(x_test.copy()), y_test)
        """),
)


# Clean notebooks --------------------------------------------------------------------------------

CLEAN: tuple[LabelledNotebook, ...] = (
    _nb("keras_beginner_tutorial", "",
        "The TensorFlow beginner quickstart: train, then one evaluate on the test set.",
        """
        import tensorflow as tf

        mnist = tf.keras.datasets.mnist
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
        x_train, x_test = x_train / 255.0, x_test / 255.0
        """,
        """
        model = tf.keras.models.Sequential([
            tf.keras.layers.Flatten(input_shape=(28, 28)),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dropout(0.2),
            tf.keras.layers.Dense(10),
        ])
        loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer="adam", loss=loss_fn, metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=5)
        model.evaluate(x_test, y_test, verbose=2)
        """),
    _nb("fashion_shapes_plot_then_one_evaluate", "",
        "Shapes, len and a plotted test image; validation_split on training data; one evaluate.",
        """
        import matplotlib.pyplot as plt
        from tensorflow import keras

        (train_images, train_labels), (test_images, test_labels) = keras.datasets.fashion_mnist.load_data()
        print(train_images.shape, test_images.shape, len(test_labels))
        plt.imshow(test_images[0], cmap="gray")
        plt.title(f"label {test_labels[0]}")
        plt.show()
        """,
        """
        model = keras.Sequential([keras.layers.Rescaling(1 / 255.0, input_shape=(28, 28)), keras.layers.Flatten(),
                                  keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(train_images, train_labels, epochs=10, validation_split=0.1)
        test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)
        print("\\nTest accuracy:", test_acc)
        """),
    _nb("tfds_three_way_split_validation_from_train", "",
        "tfds with split=['train[:90%]', 'train[90%:]', 'test']: early stopping on the validation slice "
        "of train, ds_test evaluated once.",
        """
        import tensorflow as tf
        import tensorflow_datasets as tfds

        ds_train, ds_val, ds_test = tfds.load("mnist", split=["train[:90%]", "train[90%:]", "test"], as_supervised=True)
        scale = lambda x, y: (tf.cast(x, tf.float32) / 255.0, y)
        ds_train = ds_train.map(scale).shuffle(10000).batch(128)
        ds_val = ds_val.map(scale).batch(128)
        ds_test = ds_test.map(scale).batch(128)
        """,
        """
        model = tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(256, activation="relu"),
                                     tf.keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        stop = tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
        model.fit(ds_train, validation_data=ds_val, epochs=30, callbacks=[stop])
        print(model.evaluate(ds_test))
        """),
    _nb("tfds_train_test_list_no_validation", "",
        "tfds split=['train', 'test'], a fixed /255 map on both, fit on ds_train only, ds_test evaluated once.",
        """
        import tensorflow as tf
        import tensorflow_datasets as tfds

        ds_train, ds_test = tfds.load("mnist", split=["train", "test"], as_supervised=True)

        def normalize_img(image, label):
            return tf.cast(image, tf.float32) / 255.0, label

        ds_train = ds_train.map(normalize_img).shuffle(60000).batch(128).prefetch(tf.data.AUTOTUNE)
        ds_test = ds_test.map(normalize_img).batch(128)
        """,
        """
        model = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28, 1)),
                                     tf.keras.layers.Dense(128, activation="relu"), tf.keras.layers.Dense(10)])
        model.compile(optimizer="adam", metrics=["accuracy"],
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(ds_train, epochs=6)
        test_loss, test_accuracy = model.evaluate(ds_test)
        """),
    _nb("pipeline_fitted_on_train_scored_once", "",
        "make_pipeline(StandardScaler, MLP) fitted on the training split; one score on the test split.",
        """
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
        """,
        """
        pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), max_iter=500, random_state=0))
        pipe.fit(X_train, y_train)
        print("test accuracy:", pipe.score(X_test, y_test))
        """),
    _nb("scaler_fitted_on_train_applied_to_test", "",
        "StandardScaler fitted on X_train, then transform of X_test; one final score.",
        """
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier
        from sklearn.preprocessing import StandardScaler

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
        """,
        """
        scaler = StandardScaler().fit(X_train)
        X_train_s = scaler.transform(X_train)
        X_test_s = scaler.transform(X_test)
        mlp = MLPClassifier(hidden_layer_sizes=(50,), max_iter=500, random_state=42).fit(X_train_s, y_train)
        print(f"Test accuracy: {mlp.score(X_test_s, y_test):.3f}")
        """),
    _nb("cross_val_score_picks_alpha_then_one_test_score", "",
        "alpha chosen by 5-fold cross_val_score on the training split; the final model scored once.",
        """
        import numpy as np
        from sklearn.datasets import load_digits
        from sklearn.model_selection import cross_val_score, train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.2, random_state=0)
        """,
        """
        cv_means = {}
        for alpha in [1e-5, 1e-3, 1e-1]:
            cv_means[alpha] = np.mean(cross_val_score(MLPClassifier(alpha=alpha, max_iter=400), X_train, y_train, cv=5))
        best_alpha = max(cv_means, key=cv_means.get)
        final = MLPClassifier(alpha=best_alpha, max_iter=400).fit(X_train, y_train)
        print(best_alpha, final.score(X_test, y_test))
        """),
    _nb("gridsearch_on_train_then_single_test_score", "",
        "GridSearchCV fitted on the training split; best_params_ printed; the refit best estimator "
        "scored once on test.",
        """
        from sklearn.datasets import load_digits
        from sklearn.model_selection import GridSearchCV, train_test_split
        from sklearn.neural_network import MLPClassifier

        digits = load_digits()
        X_train, X_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=0.3, random_state=0)
        """,
        """
        param_grid = {"hidden_layer_sizes": [(32,), (64,), (64, 32)], "alpha": [1e-4, 1e-2]}
        search = GridSearchCV(MLPClassifier(max_iter=600, random_state=0), param_grid, cv=5)
        search.fit(X_train, y_train)
        print("best params:", search.best_params_, "cv:", round(search.best_score_, 4))
        print("test accuracy:", search.score(X_test, y_test))
        """),
    _nb("kaggle_csv_tuned_on_validation_then_test_df_once", "",
        "train_df split into fit/validation parts for the loop; the final model scored once on test_df.",
        """
        import pandas as pd
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        train_df = pd.read_csv("../input/mnist-in-csv/mnist_train.csv")
        test_df = pd.read_csv("../input/mnist-in-csv/mnist_test.csv")
        X, y = train_df.drop("label", axis=1) / 255.0, train_df["label"]
        X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.1, random_state=0)
        """,
        """
        val_scores = {}
        for hidden in [(64,), (128,), (256, 128)]:
            m = MLPClassifier(hidden_layer_sizes=hidden, max_iter=20, random_state=0).fit(X_fit, y_fit)
            val_scores[hidden] = m.score(X_val, y_val)
        best_hidden = max(val_scores, key=val_scores.get)
        """,
        """
        final = MLPClassifier(hidden_layer_sizes=best_hidden, max_iter=20, random_state=0).fit(X, y)
        print("test accuracy:", final.score(test_df.drop("label", axis=1) / 255.0, test_df["label"]))
        """),
    _nb("keras_units_sweep_validation_split_then_final", "",
        "The sweep reads val_accuracy from validation_split=0.1 of x_train; the final model is evaluated once.",
        """
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train, x_test = x_train / 255.0, x_test / 255.0

        def build(units):
            model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(units, activation="relu"),
                                      keras.layers.Dense(10, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
        """,
        """
        val_acc = {}
        for units in [32, 128, 512]:
            history = build(units).fit(x_train, y_train, epochs=3, validation_split=0.1, verbose=0)
            val_acc[units] = history.history["val_accuracy"][-1]
        best_units = max(val_acc, key=val_acc.get)
        """,
        """
        final_model = build(best_units)
        final_model.fit(x_train, y_train, epochs=3)
        test_loss, test_acc = final_model.evaluate(x_test, y_test)
        """),
    _nb("early_stopping_on_validation_carved_from_train", "",
        "EarlyStopping(monitor='val_loss') on a validation split of x_train; x_test evaluated once.",
        """
        from sklearn.model_selection import train_test_split
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train, x_test = x_train[..., None] / 255.0, x_test[..., None] / 255.0
        x_tr, x_val, y_tr, y_val = train_test_split(x_train, y_train, test_size=0.1, random_state=0)
        """,
        """
        model = keras.Sequential([keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
                                  keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=50, callbacks=[early])
        print("test:", model.evaluate(x_test, y_test, verbose=0))
        """),
    _nb("normalization_adapted_on_training_images_only", "",
        "Normalization().adapt(x_train) inside the model; one evaluate on x_test.",
        """
        import tensorflow as tf

        (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
        x_train = x_train.reshape(-1, 784).astype("float32")
        x_test = x_test.reshape(-1, 784).astype("float32")
        """,
        """
        norm = tf.keras.layers.Normalization()
        norm.adapt(x_train)
        model = tf.keras.Sequential([norm, tf.keras.layers.Dense(128, activation="relu"), tf.keras.layers.Dense(10)])
        model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=5, validation_split=0.1)
        model.evaluate(x_test, y_test)
        """),
    _nb("pca_fitted_on_training_rows_only", "",
        "PCA fitted on the training split and applied to the test split; one score.",
        """
        from sklearn.datasets import fetch_openml
        from sklearn.decomposition import PCA
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = fetch_openml("mnist_784", version=1, return_X_y=True, as_frame=False)
        X_train, X_test, y_train, y_test = train_test_split(X / 255.0, y, test_size=10000, random_state=0)
        """,
        """
        pca = PCA(n_components=0.95).fit(X_train)
        clf = MLPClassifier(hidden_layer_sizes=(100,), max_iter=30)
        clf.fit(pca.transform(X_train), y_train)
        print("test accuracy:", clf.score(pca.transform(X_test), y_test))
        """),
    _nb("smote_after_split_on_training_rows", "",
        "SMOTE.fit_resample on the training split only; the test split untouched until one score.",
        """
        from imblearn.over_sampling import SMOTE
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
        """,
        """
        X_bal, y_bal = SMOTE(random_state=0).fit_resample(X_train, y_train)
        print(len(X_train), "->", len(X_bal), "training rows;", len(X_test), "test rows")
        clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=500).fit(X_bal, y_bal)
        print("test accuracy:", clf.score(X_test, y_test))
        """),
    _nb("augmentation_of_training_images_only", "",
        "ImageDataGenerator.flow over x_train only; validation_split-free, x_test evaluated once.",
        """
        from tensorflow import keras
        from tensorflow.keras.preprocessing.image import ImageDataGenerator

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train = x_train[..., None] / 255.0
        x_test = x_test[..., None] / 255.0
        """,
        """
        augment = ImageDataGenerator(rotation_range=10, zoom_range=0.1, width_shift_range=0.1, height_shift_range=0.1)
        model = keras.Sequential([keras.layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
                                  keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(augment.flow(x_train, y_train, batch_size=128), epochs=5)
        score = model.evaluate(x_test, y_test, verbose=0)
        print("Test loss:", score[0], "Test accuracy:", score[1])
        """),
    _nb("confusion_matrix_and_report_of_final_model", "",
        "The final model's test predictions reused for a confusion matrix and a classification_report.",
        """
        import matplotlib.pyplot as plt
        from sklearn.datasets import load_digits
        from sklearn.metrics import ConfusionMatrixDisplay, classification_report, confusion_matrix
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
        final_model = MLPClassifier(hidden_layer_sizes=(64,), max_iter=500, random_state=0).fit(X_train, y_train)
        """,
        """
        y_pred = final_model.predict(X_test)
        print(classification_report(y_test, y_pred, digits=3))
        cm = confusion_matrix(y_test, y_pred)
        ConfusionMatrixDisplay(cm).plot(cmap="Blues")
        plt.show()
        """),
    _nb("names_with_test_in_them_that_are_not_test_data", "",
        "test_size, n_test, test_fraction and test_accuracy are numbers, not test data.",
        """
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        test_size = 0.25
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=0)
        n_test = len(X_test)
        test_fraction = n_test / len(X)
        print(f"{n_test} test rows ({test_fraction:.0%}); features: {X_test.shape[1]}")
        """,
        """
        clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=800, random_state=0).fit(X_train, y_train)
        test_accuracy = clf.score(X_test, y_test)
        n_test_errors = round((1 - test_accuracy) * n_test)
        print(f"test accuracy {test_accuracy:.3f}, {n_test_errors} of {n_test} wrong")
        """),
    _nb("describe_df_test_then_one_final_score", "",
        "df_test described (shape, value_counts, head, one plotted row); tuning on a validation part of "
        "df_train; df_test scored once.",
        """
        import matplotlib.pyplot as plt
        import pandas as pd
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        df_train = pd.read_csv("mnist_train.csv")
        df_test = pd.read_csv("mnist_test.csv")
        print(df_test.shape)
        print(df_test["label"].value_counts().sort_index())
        df_test.head()
        """,
        """
        plt.imshow(df_test.drop(columns="label").iloc[0].to_numpy().reshape(28, 28), cmap="gray")
        plt.show()
        """,
        """
        X_fit, X_val, y_fit, y_val = train_test_split(df_train.drop(columns="label") / 255, df_train["label"], test_size=0.1)
        for alpha in [1e-4, 1e-2]:
            print(alpha, MLPClassifier(alpha=alpha, max_iter=15).fit(X_fit, y_fit).score(X_val, y_val))
        final = MLPClassifier(alpha=1e-4, max_iter=15).fit(df_train.drop(columns="label") / 255, df_train["label"])
        print("test:", final.score(df_test.drop(columns="label") / 255, df_test["label"]))
        """),
    _nb("plot_grid_of_test_images_before_training", "",
        "A 5x5 grid of test images with their labels; nothing trained on them.",
        """
        import matplotlib.pyplot as plt
        from tensorflow.keras.datasets import mnist

        (x_train, y_train), (x_test, y_test) = mnist.load_data()
        """,
        """
        fig, axes = plt.subplots(5, 5, figsize=(6, 6))
        for i, ax in enumerate(axes.flat):
            ax.imshow(x_test[i], cmap="gray_r")
            ax.set_title(int(y_test[i]), fontsize=8)
            ax.axis("off")
        plt.tight_layout()
        plt.show()
        print("pixel range:", x_test.min(), x_test.max(), "mean:", x_test.mean())
        """),
    _nb("misclassified_test_images_of_final_model", "",
        "Predictions of the one trained model on x_test, then the wrong ones plotted.",
        """
        import matplotlib.pyplot as plt
        import numpy as np
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        model = keras.Sequential([keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                                  keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=5, validation_split=0.1)
        """,
        """
        pred = np.argmax(model.predict(x_test), axis=1)
        wrong = np.where(pred != y_test)[0]
        print(len(wrong), "mistakes; accuracy", 1 - len(wrong) / len(y_test))
        fig, axes = plt.subplots(1, 8, figsize=(12, 2))
        for ax, i in zip(axes, wrong[:8]):
            ax.imshow(x_test[i], cmap="gray")
            ax.set_title(f"{pred[i]} (true {y_test[i]})")
        """),
    _nb("evaluate_helper_on_validation_then_once_on_test", "",
        "One helper used for every candidate on the validation split, and once for the final model on test.",
        """
        from sklearn.datasets import load_digits
        from sklearn.metrics import accuracy_score
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
        X_tr, X_val, y_tr, y_val = train_test_split(X_train, y_train, test_size=0.2, random_state=0)

        def evaluate(model, X_eval, y_eval):
            return accuracy_score(y_eval, model.predict(X_eval))
        """,
        """
        best_size, best_val = None, 0.0
        for size in [(16,), (64,), (64, 64)]:
            val = evaluate(MLPClassifier(size, max_iter=500).fit(X_tr, y_tr), X_val, y_val)
            if val > best_val:
                best_size, best_val = size, val
        final = MLPClassifier(best_size, max_iter=500).fit(X_train, y_train)
        print("final test accuracy:", evaluate(final, X_test, y_test))
        """),
    _nb("results_dict_of_validation_scores_keeps_best", "",
        "Same shape as the seed lesson, but every score is on a validation split of the training data.",
        """
        from autograder.data import load_dataset
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        data = load_dataset("digits")
        Xtr, Xte = data.X_train.reshape(len(data.X_train), -1), data.X_test.reshape(len(data.X_test), -1)
        ytr, yte = data.y_train, data.y_test
        """,
        """
        X_fit, X_val, y_fit, y_val = train_test_split(Xtr, ytr, test_size=0.2, stratify=ytr, random_state=0)
        results = {}
        for lr in [1e-3, 1e-2]:
            for hidden in [(16,), (32, 16)]:
                clf = MLPClassifier(hidden, learning_rate_init=lr, max_iter=100, random_state=0).fit(X_fit, y_fit)
                results[(lr, hidden)] = clf.score(X_val, y_val)
        best_lr, best_hidden = max(results, key=results.get)
        """,
        """
        final_mlp = MLPClassifier(best_hidden, learning_rate_init=best_lr, max_iter=100, random_state=0).fit(Xtr, ytr)
        test_accuracy = final_mlp.score(Xte, yte)
        print(results, test_accuracy)
        """),
    _nb("manual_kfold_on_training_split", "",
        "Hand-written StratifiedKFold over the training split for two depths; test scored once at the end.",
        """
        import numpy as np
        from sklearn.datasets import load_digits
        from sklearn.model_selection import StratifiedKFold, train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
        """,
        """
        folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)
        mean_acc = {}
        for layers in [(64,), (64, 64)]:
            accs = [MLPClassifier(layers, max_iter=400).fit(X_train[a], y_train[a]).score(X_train[b], y_train[b])
                    for a, b in folds.split(X_train, y_train)]
            mean_acc[layers] = np.mean(accs)
        chosen = max(mean_acc, key=mean_acc.get)
        print(chosen, MLPClassifier(chosen, max_iter=400).fit(X_train, y_train).score(X_test, y_test))
        """),
    _nb("minmax_and_imputer_fitted_on_train_frame", "",
        "SimpleImputer and MinMaxScaler fitted on train_df only, applied to test_df.",
        """
        import pandas as pd
        from sklearn.impute import SimpleImputer
        from sklearn.neural_network import MLPClassifier
        from sklearn.preprocessing import MinMaxScaler

        train_df = pd.read_csv("digits_with_gaps_train.csv")
        test_df = pd.read_csv("digits_with_gaps_test.csv")
        features = train_df.columns.drop("label")
        """,
        """
        imputer = SimpleImputer(strategy="median").fit(train_df[features])
        scaler = MinMaxScaler().fit(imputer.transform(train_df[features]))
        X_train = scaler.transform(imputer.transform(train_df[features]))
        X_test = scaler.transform(imputer.transform(test_df[features]))
        clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=300).fit(X_train, train_df["label"])
        print("test accuracy", clf.score(X_test, test_df["label"]))
        """),
    _nb("tfidf_fitted_on_training_text_only", "",
        "TfidfVectorizer.fit_transform on train_df.text; transform of test_df.text; one score.",
        """
        import pandas as pd
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.neural_network import MLPClassifier

        train_df = pd.read_csv("train.csv")
        test_df = pd.read_csv("test.csv")
        """,
        """
        vectorizer = TfidfVectorizer(max_features=5000, ngram_range=(1, 2))
        X_train = vectorizer.fit_transform(train_df["text"])
        X_test = vectorizer.transform(test_df["text"])
        print(X_train.shape, X_test.shape, len(vectorizer.vocabulary_))
        clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=20).fit(X_train, train_df["label"])
        print("test accuracy:", clf.score(X_test, test_df["label"]))
        """),
    _nb("three_way_train_test_split", "",
        "X_temp/X_test, then X_train/X_val from X_temp; tuned on X_val; X_test scored once.",
        """
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neighbors import KNeighborsClassifier

        X, y = load_digits(return_X_y=True)
        X_temp, X_test, y_temp, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
        X_train, X_val, y_train, y_val = train_test_split(X_temp, y_temp, test_size=0.25, random_state=0)
        """,
        """
        val_acc = {k: KNeighborsClassifier(k).fit(X_train, y_train).score(X_val, y_val) for k in range(1, 12, 2)}
        best_k = max(val_acc, key=val_acc.get)
        final = KNeighborsClassifier(best_k).fit(X_temp, y_temp)
        print(f"k={best_k}: test accuracy {final.score(X_test, y_test):.3f}")
        """),
    _nb("epochs_from_validation_history_then_retrain", "",
        "Epochs chosen by argmax of val_accuracy from validation_split=0.1; retrained; one evaluate.",
        """
        import numpy as np
        import tensorflow as tf

        (train_images, train_labels), (test_images, test_labels) = tf.keras.datasets.fashion_mnist.load_data()
        train_images, test_images = train_images / 255.0, test_images / 255.0

        def make_model():
            model = tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(128, activation="relu"),
                                         tf.keras.layers.Dense(10, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
        """,
        """
        history = make_model().fit(train_images, train_labels, epochs=20, validation_split=0.1, verbose=0)
        best_epoch = int(np.argmax(history.history["val_accuracy"])) + 1
        final_model = make_model()
        final_model.fit(train_images, train_labels, epochs=best_epoch)
        print(final_model.evaluate(test_images, test_labels))
        """),
    _nb("kaggle_submission_predictions_on_unlabelled_test", "",
        "Kaggle digit recognizer: test.csv has no labels; the one final model predicts it once for the submission.",
        """
        import numpy as np
        import pandas as pd
        from tensorflow import keras

        train = pd.read_csv("/kaggle/input/digit-recognizer/train.csv")
        test = pd.read_csv("/kaggle/input/digit-recognizer/test.csv")
        X = train.drop(columns="label").to_numpy().reshape(-1, 28, 28, 1) / 255.0
        y = train["label"].to_numpy()
        X_sub = test.to_numpy().reshape(-1, 28, 28, 1) / 255.0
        """,
        """
        model = keras.Sequential([keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
                                  keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(X, y, epochs=10, validation_split=0.1)
        """,
        """
        labels = np.argmax(model.predict(X_sub), axis=1)
        pd.DataFrame({"ImageId": np.arange(1, len(labels) + 1), "Label": labels}).to_csv("submission.csv", index=False)
        """),
    _nb("checkpoint_on_validation_split_then_load_and_evaluate", "",
        "ModelCheckpoint(save_best_only) on val_accuracy of a validation split; the loaded best model "
        "evaluated once.",
        """
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train, x_test = x_train / 255.0, x_test / 255.0
        """,
        """
        model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(256, activation="relu"),
                                  keras.layers.Dropout(0.2), keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        ckpt = keras.callbacks.ModelCheckpoint("best.keras", monitor="val_accuracy", save_best_only=True)
        model.fit(x_train, y_train, epochs=15, validation_split=0.1, callbacks=[ckpt])
        """,
        """
        best = keras.models.load_model("best.keras")
        test_loss, test_acc = best.evaluate(x_test, y_test)
        print(f"test accuracy of the checkpoint: {test_acc:.4f}")
        """),
    _nb("fixed_rescale_before_split", "",
        "X / 255.0 on every row before train_test_split: a fixed transform, nothing learned.",
        """
        from sklearn.datasets import fetch_openml
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = fetch_openml("mnist_784", version=1, return_X_y=True, as_frame=False)
        X = X / 255.0
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=10000, random_state=0)
        """,
        """
        mlp = MLPClassifier(hidden_layer_sizes=(100,), max_iter=15, random_state=1)
        mlp.fit(X_train, y_train)
        print(f"Training set score: {mlp.score(X_train, y_train):.3f}")
        print(f"Test set score: {mlp.score(X_test, y_test):.3f}")
        """),
    _nb("kaggle_pooled_frame_rowwise_features_then_split_back", "",
        "Hard case: train and test frames pooled with keys for row-wise features (ink per row, nothing "
        "learned across rows), then taken apart again by key; the model trains on the train part only.",
        """
        import pandas as pd
        from sklearn.neural_network import MLPClassifier

        train_df = pd.read_csv("mnist_train.csv")
        test_df = pd.read_csv("mnist_test.csv")
        pixels = [c for c in train_df.columns if c != "label"]
        """,
        """
        full = pd.concat([train_df, test_df], keys=["train", "test"])
        full["ink"] = (full[pixels] > 0).sum(axis=1) / len(pixels)
        full[pixels] = full[pixels] / 255.0
        train_part, test_part = full.loc["train"], full.loc["test"]
        """,
        """
        features = pixels + ["ink"]
        clf = MLPClassifier(hidden_layer_sizes=(128,), max_iter=20).fit(train_part[features], train_part["label"])
        print("test accuracy:", clf.score(test_part[features], test_part["label"]))
        """),
    _nb("openml_split_scaled_on_train_sgd", "",
        "fetch_openml, train_test_split(test_size=10000), scaler fitted on train; one score.",
        """
        from sklearn.datasets import fetch_openml
        from sklearn.linear_model import SGDClassifier
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        X, y = fetch_openml("mnist_784", version=1, return_X_y=True, as_frame=False)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=10000, random_state=42)
        """,
        """
        scaler = StandardScaler()
        X_train_scaled = scaler.fit_transform(X_train.astype("float64"))
        X_test_scaled = scaler.transform(X_test.astype("float64"))
        sgd = SGDClassifier(random_state=42).fit(X_train_scaled, y_train)
        print("test accuracy:", sgd.score(X_test_scaled, y_test))
        """),
    _nb("voting_ensemble_scored_once", "",
        "Three members combined in a VotingClassifier; only the ensemble is scored on test, once.",
        """
        from sklearn.datasets import load_digits
        from sklearn.ensemble import RandomForestClassifier, VotingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
        """,
        """
        members = [("lr", LogisticRegression(max_iter=2000)), ("rf", RandomForestClassifier(200)),
                   ("mlp", MLPClassifier((64,), max_iter=500))]
        ensemble = VotingClassifier(members, voting="soft").fit(X_train, y_train)
        print("ensemble test accuracy:", ensemble.score(X_test, y_test))
        """),
    _nb("learning_curve_on_training_split", "",
        "sklearn learning_curve on X_train, plotted; the final model scored once.",
        """
        import matplotlib.pyplot as plt
        import numpy as np
        from sklearn.datasets import load_digits
        from sklearn.model_selection import learning_curve, train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
        """,
        """
        sizes, train_scores, val_scores = learning_curve(MLPClassifier((64,), max_iter=300), X_train, y_train,
                                                         cv=5, train_sizes=np.linspace(0.1, 1.0, 5))
        plt.plot(sizes, train_scores.mean(axis=1), label="train")
        plt.plot(sizes, val_scores.mean(axis=1), label="cross-validation")
        plt.legend()
        plt.show()
        final = MLPClassifier((64,), max_iter=300).fit(X_train, y_train)
        print("test:", final.score(X_test, y_test))
        """),
    _nb("models_compared_by_cv_best_one_on_test", "",
        "A dict of models compared with cross_val_score on the training split; only the winner sees test.",
        """
        from sklearn.datasets import load_digits
        from sklearn.model_selection import cross_val_score, train_test_split
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.neural_network import MLPClassifier
        from sklearn.svm import SVC

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
        """,
        """
        models = {"knn": KNeighborsClassifier(3), "svc": SVC(gamma=0.001), "mlp": MLPClassifier((64,), max_iter=500)}
        cv_scores = {name: cross_val_score(m, X_train, y_train, cv=5).mean() for name, m in models.items()}
        best_name = max(cv_scores, key=cv_scores.get)
        best_model = models[best_name].fit(X_train, y_train)
        print(cv_scores, best_name, "test:", best_model.score(X_test, y_test))
        """),
    _nb("keras_tuner_random_search_on_validation_split", "",
        "KerasTuner RandomSearch with validation_split on x_train; the best model evaluated once.",
        """
        import keras_tuner as kt
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train, x_test = x_train / 255.0, x_test / 255.0
        """,
        """
        def build_model(hp):
            model = keras.Sequential([keras.layers.Flatten(),
                                      keras.layers.Dense(hp.Int("units", 32, 512, step=32), activation="relu"),
                                      keras.layers.Dense(10, activation="softmax")])
            model.compile(keras.optimizers.Adam(hp.Choice("lr", [1e-2, 1e-3])), "sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            return model

        tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=5, directory="tuning")
        tuner.search(x_train, y_train, epochs=3, validation_split=0.2)
        best_model = tuner.get_best_models(num_models=1)[0]
        best_model.evaluate(x_test, y_test)
        """),
    _nb("train_and_test_accuracy_of_the_final_model", "",
        "The final model's training and test accuracy printed side by side to discuss overfitting.",
        """
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        digits = load_digits()
        X_train, X_test, y_train, y_test = train_test_split(digits.data, digits.target, random_state=0)
        """,
        """
        final_mlp = MLPClassifier(hidden_layer_sizes=(100, 100), alpha=1e-3, max_iter=1000, random_state=0)
        final_mlp.fit(X_train, y_train)
        train_acc = final_mlp.score(X_train, y_train)
        test_acc = final_mlp.score(X_test, y_test)
        print(f"train {train_acc:.3f} / test {test_acc:.3f} / gap {train_acc - test_acc:.3f}")
        """),
    _nb("final_model_evaluated_over_test_batches", "",
        "A loop over batches of the test set, all through the one final model and one metric object.",
        """
        import tensorflow as tf

        (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
        x_train, x_test = x_train / 255.0, x_test / 255.0
        model = tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(128, activation="relu"),
                                     tf.keras.layers.Dense(10)])
        model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x_train, y_train, epochs=3, validation_split=0.1)
        """,
        """
        acc = tf.keras.metrics.SparseCategoricalAccuracy()
        test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(512)
        for xb, yb in test_ds:
            acc.update_state(yb, model(xb, training=False))
        print("test accuracy:", float(acc.result()))
        """),
    _nb("confusion_matrix_display_from_estimator", "",
        "ConfusionMatrixDisplay.from_estimator and a plotted row of test predictions, one model.",
        """
        import matplotlib.pyplot as plt
        from sklearn import datasets, svm
        from sklearn.metrics import ConfusionMatrixDisplay
        from sklearn.model_selection import train_test_split

        digits = datasets.load_digits()
        X_train, X_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=0.5, shuffle=False)
        clf = svm.SVC(gamma=0.001).fit(X_train, y_train)
        """,
        """
        disp = ConfusionMatrixDisplay.from_estimator(clf, X_test, y_test)
        disp.figure_.suptitle("Confusion Matrix")
        predicted = clf.predict(X_test)
        _, axes = plt.subplots(nrows=1, ncols=4, figsize=(10, 3))
        for ax, image, prediction in zip(axes, X_test, predicted):
            ax.imshow(image.reshape(8, 8), cmap=plt.cm.gray_r)
            ax.set_title(f"Prediction: {prediction}")
        """),
    _nb("course_style_tune_helper_on_validation", "",
        "Course-style loader with other names; a tuning helper splits its own validation set.",
        """
        from autograder.data import load_dataset
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        ds = load_dataset()
        x_tr = ds.X_train.reshape(len(ds.X_train), -1)
        x_te = ds.X_test.reshape(len(ds.X_test), -1)
        """,
        """
        def tune(X, y, sizes):
            X_a, X_b, y_a, y_b = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
            scored = [(MLPClassifier(s, max_iter=80, random_state=0).fit(X_a, y_a).score(X_b, y_b), s) for s in sizes]
            return max(scored)[1]

        size = tune(x_tr, ds.y_train, [(16,), (32,), (32, 16)])
        final = MLPClassifier(size, max_iter=80, random_state=0).fit(x_tr, ds.y_train)
        print(size, final.score(x_te, ds.y_test))
        """),
    _nb("hf_datasets_validation_split_named_test", "",
        "Hugging Face: mnist['train'].train_test_split() names its validation part 'test'; the real "
        "mnist['test'] is evaluated once.",
        """
        import numpy as np
        from datasets import load_dataset
        from sklearn.neural_network import MLPClassifier

        mnist = load_dataset("mnist")
        parts = mnist["train"].train_test_split(test_size=0.1, seed=0)
        to_xy = lambda d: (np.stack([np.array(i) for i in d["image"]]).reshape(len(d), -1) / 255.0, np.array(d["label"]))
        X_fit, y_fit = to_xy(parts["train"])
        X_val, y_val = to_xy(parts["test"])
        """,
        """
        scores = {a: MLPClassifier(alpha=a, max_iter=15).fit(X_fit, y_fit).score(X_val, y_val) for a in (1e-4, 1e-2)}
        best_alpha = max(scores, key=scores.get)
        X_train, y_train = to_xy(mnist["train"])
        X_test, y_test = to_xy(mnist["test"])
        final = MLPClassifier(alpha=best_alpha, max_iter=15).fit(X_train, y_train)
        print("test accuracy:", final.score(X_test, y_test))
        """),
    _nb("retrain_on_train_plus_validation_before_test", "",
        "After tuning, training and validation arrays are concatenated (no test rows) for the final fit.",
        """
        import numpy as np
        from sklearn.model_selection import train_test_split
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train, x_test = x_train / 255.0, x_test / 255.0
        x_tr, x_val, y_tr, y_val = train_test_split(x_train, y_train, test_size=0.1, random_state=0)
        build = lambda u: keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(u, activation="relu"),
                                            keras.layers.Dense(10, activation="softmax")])
        """,
        """
        scores = {}
        for units in (64, 256):
            m = build(units)
            m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            m.fit(x_tr, y_tr, epochs=3, verbose=0)
            scores[units] = m.evaluate(x_val, y_val, verbose=0)[1]
        final = build(max(scores, key=scores.get))
        final.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        final.fit(np.concatenate([x_tr, x_val]), np.concatenate([y_tr, y_val]), epochs=3)
        final.evaluate(x_test, y_test)
        """),
    _nb("holdout_named_validation_from_dev_split", "",
        "X_holdout is a validation set cut from the development split, not the test split.",
        """
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.svm import SVC

        X, y = load_digits(return_X_y=True)
        X_dev, X_test, y_dev, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
        X_fit, X_holdout, y_fit, y_holdout = train_test_split(X_dev, y_dev, test_size=0.25, random_state=0)
        """,
        """
        holdout_scores = []
        gammas = [1e-4, 1e-3, 1e-2]
        for gamma in gammas:
            holdout_scores.append(SVC(gamma=gamma).fit(X_fit, y_fit).score(X_holdout, y_holdout))
        best_gamma = gammas[holdout_scores.index(max(holdout_scores))]
        print("test accuracy:", SVC(gamma=best_gamma).fit(X_dev, y_dev).score(X_test, y_test))
        """),
    _nb("final_test_score_stored_beside_validation_scores", "",
        "A results dict holds the candidates' validation scores and the final model's one test score.",
        """
        import json
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
        X_a, X_v, y_a, y_v = train_test_split(X_train, y_train, test_size=0.2, random_state=0)
        """,
        """
        results = {"val": {}}
        for lr in (1e-3, 1e-2):
            results["val"][lr] = MLPClassifier(learning_rate_init=lr, max_iter=300).fit(X_a, y_a).score(X_v, y_v)
        lr = max(results["val"], key=results["val"].get)
        final = MLPClassifier(learning_rate_init=lr, max_iter=300).fit(X_train, y_train)
        results["test_accuracy"] = final.score(X_test, y_test)
        results["chosen_lr"] = lr
        print(json.dumps(results, indent=2, default=str))
        """),
    _nb("plot_validation_curves_of_final_history", "",
        "The final model's loss and val_loss (validation_split=0.2) plotted; then one evaluate.",
        """
        import matplotlib.pyplot as plt
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
        x_train, x_test = x_train / 255.0, x_test / 255.0
        """,
        """
        model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(300, activation="relu"),
                                  keras.layers.Dense(100, activation="relu"), keras.layers.Dense(10, activation="softmax")])
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x_train, y_train, epochs=20, validation_split=0.2)
        plt.plot(history.history["loss"], label="loss")
        plt.plot(history.history["val_loss"], label="val_loss")
        plt.legend()
        plt.show()
        """,
        """
        model.evaluate(x_test, y_test)
        """),
    _nb("final_model_on_validation_and_test", "",
        "The final model evaluated on its validation set and on the test set for a report.",
        """
        from sklearn.model_selection import train_test_split
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train, x_test = x_train / 255.0, x_test / 255.0
        x_tr, x_val, y_tr, y_val = train_test_split(x_train, y_train, test_size=5000, random_state=0)
        """,
        """
        final_model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                                        keras.layers.Dense(10, activation="softmax")])
        final_model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        final_model.fit(x_tr, y_tr, epochs=5, validation_data=(x_val, y_val))
        for name, (xs, ys) in {"validation": (x_val, y_val), "test": (x_test, y_test)}.items():
            print(name, final_model.evaluate(xs, ys, verbose=0))
        """),
    _nb("sklearn_gallery_digits_classification", "",
        "The scikit-learn gallery example: SVC, shuffle=False split in half, classification_report.",
        """
        import matplotlib.pyplot as plt
        from sklearn import datasets, metrics, svm
        from sklearn.model_selection import train_test_split

        digits = datasets.load_digits()
        n_samples = len(digits.images)
        data = digits.images.reshape((n_samples, -1))
        """,
        """
        clf = svm.SVC(gamma=0.001)
        X_train, X_test, y_train, y_test = train_test_split(data, digits.target, test_size=0.5, shuffle=False)
        clf.fit(X_train, y_train)
        predicted = clf.predict(X_test)
        print(f"Classification report for classifier {clf}:\\n{metrics.classification_report(y_test, predicted)}\\n")
        """),
    _nb("digits_divided_by_16_before_split", "",
        "Pixel values divided by 16 before the split: fixed, not learned.",
        """
        import numpy as np
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        digits = load_digits()
        X = digits.images.reshape(len(digits.images), -1).astype(np.float32) / 16.0
        X_train, X_test, y_train, y_test = train_test_split(X, digits.target, test_size=0.2, random_state=2)
        """,
        """
        clf = MLPClassifier(hidden_layer_sizes=(32,), solver="adam", max_iter=1000, random_state=2)
        clf.fit(X_train, y_train)
        print("test accuracy: %.3f" % clf.score(X_test, y_test))
        """),
    _nb("featurewise_datagen_fitted_on_training_images", "",
        "ImageDataGenerator featurewise statistics fitted on x_train only, applied to x_test.",
        """
        from tensorflow import keras
        from tensorflow.keras.preprocessing.image import ImageDataGenerator

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train, x_test = x_train[..., None].astype("float32"), x_test[..., None].astype("float32")
        """,
        """
        datagen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True, rotation_range=8)
        datagen.fit(x_train)
        model = keras.Sequential([keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.Flatten(),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(datagen.flow(x_train, y_train, batch_size=64), epochs=3)
        model.evaluate(datagen.standardize(x_test.copy()), y_test)
        """),
    _nb("final_score_checked_against_a_threshold", "",
        "After one evaluate, the test accuracy is compared with a target only to print a message.",
        """
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        model = keras.Sequential([keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                                  keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=3, validation_split=0.1)
        """,
        """
        _, test_acc = model.evaluate(x_test, y_test, verbose=0)
        if test_acc >= 0.97:
            print(f"Target reached: {test_acc:.2%}")
        else:
            print(f"Below the 97% target: {test_acc:.2%}")
        """),
    _nb("oversampling_by_duplication_after_split", "",
        "Minority class duplicated with resample inside train_df only, after the split.",
        """
        import pandas as pd
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier
        from sklearn.utils import resample

        df = load_digits(as_frame=True).frame
        train_df, test_df = train_test_split(df, test_size=0.2, stratify=df["target"], random_state=0)
        """,
        """
        sevens = train_df[train_df["target"] == 7]
        train_df = pd.concat([train_df, resample(sevens, replace=True, n_samples=200, random_state=0)])
        clf = MLPClassifier(max_iter=300).fit(train_df.drop(columns="target"), train_df["target"])
        print("test accuracy:", clf.score(test_df.drop(columns="target"), test_df["target"]))
        """),
    _nb("pipeline_with_scaler_inside_gridsearch_on_train", "",
        "Scaler inside a Pipeline so each CV fold refits it; searched on the training split; one test score.",
        """
        from sklearn.datasets import load_digits
        from sklearn.model_selection import GridSearchCV, train_test_split
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
        """,
        """
        pipe = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier(max_iter=500, random_state=0))])
        search = GridSearchCV(pipe, {"mlp__alpha": [1e-4, 1e-2], "mlp__hidden_layer_sizes": [(32,), (64,)]}, cv=4)
        search.fit(X_train, y_train)
        best_pipe = search.best_estimator_
        print(search.best_params_, best_pipe.score(X_test, y_test))
        """),
    _nb("global_mean_std_from_training_images_only", "",
        "Standardised with the mean and std of x_train alone.",
        """
        from tensorflow import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        mean, std = x_train.mean(), x_train.std()
        x_train = (x_train - mean) / std
        x_test = (x_test - mean) / std
        print("test set after scaling:", x_test.shape, round(float(x_test.mean()), 3))
        """,
        """
        model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=5, validation_split=0.1)
        model.evaluate(x_test, y_test)
        """),
    _nb("mlp_early_stopping_internal_validation", "",
        "MLPClassifier(early_stopping=True) holds out its own validation_fraction of the training data.",
        """
        from sklearn.neural_network import MLPClassifier
        from tensorflow.keras.datasets import mnist

        (x_train, y_train), (x_test, y_test) = mnist.load_data()
        x_train = x_train.reshape(len(x_train), -1) / 255.0
        x_test = x_test.reshape(len(x_test), -1) / 255.0
        """,
        """
        mlp = MLPClassifier(hidden_layer_sizes=(256,), early_stopping=True, validation_fraction=0.1,
                            n_iter_no_change=3, max_iter=100, random_state=0)
        mlp.fit(x_train, y_train)
        print("stopped after", mlp.n_iter_, "epochs; best validation score", mlp.best_validation_score_)
        print("test accuracy", mlp.score(x_test, y_test))
        """),
    _nb("single_cnn_with_test_shape_prints_and_sample_prediction", "",
        "One CNN; test shapes printed, a few test images predicted and shown; one evaluate.",
        """
        import numpy as np
        from tensorflow import keras
        from tensorflow.keras import layers

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
        x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
        print("x_train shape:", x_train.shape, x_train.shape[0], "train samples", x_test.shape[0], "test samples")
        y_train, y_test = keras.utils.to_categorical(y_train, 10), keras.utils.to_categorical(y_test, 10)
        """,
        """
        model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
                                  layers.MaxPooling2D(2), layers.Flatten(), layers.Dropout(0.5),
                                  layers.Dense(10, activation="softmax")])
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        model.fit(x_train, y_train, batch_size=128, epochs=15, validation_split=0.1)
        score = model.evaluate(x_test, y_test, verbose=0)
        print("Test loss:", score[0])
        print("Test accuracy:", score[1])
        print(np.argmax(model.predict(x_test[:5]), axis=1), np.argmax(y_test[:5], axis=1))
        """),
)

CORPUS: tuple[LabelledNotebook, ...] = LEAKING + CLEAN


# Scoring ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scores:
    """One rule's verdicts over the corpus, at notebook level."""
    rule: str
    true_positives: tuple[str, ...]    # names of notebooks labelled and flagged with the rule
    false_positives: tuple[str, ...]   # flagged, not labelled
    false_negatives: tuple[str, ...]   # labelled, not flagged

    @property
    def tp(self) -> int:
        return len(self.true_positives)

    @property
    def fp(self) -> int:
        return len(self.false_positives)

    @property
    def fn(self) -> int:
        return len(self.false_negatives)

    @property
    def precision(self) -> float:
        """1.0 when nothing is flagged: no false alarm was raised."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


Results = Iterable[tuple[LabelledNotebook, Sequence["Leak"]]]


def flagged_rules(leaks: Sequence[Leak]) -> frozenset[str]:
    """The leak rules with at least one verdict; the reflection rule "R" is not a leak."""
    return frozenset(leak.rule for leak in leaks if leak.rule in LEAK_RULES)


def corpus_scores(results: Results) -> dict[str, Scores]:
    """Per rule L1..L5: precision and recall at notebook level, a notebook being flagged for a rule
    when at least one verdict carries it. ``results`` pairs each notebook with its verdicts."""
    found: dict[str, tuple[list[str], list[str], list[str]]] = {rule: ([], [], []) for rule in LEAK_RULES}
    for notebook, leaks in results:
        got = flagged_rules(leaks)
        for rule, (tps, fps, fns) in found.items():
            if rule in notebook.rules and rule in got:
                tps.append(notebook.name)
            elif rule in got:
                fps.append(notebook.name)
            elif rule in notebook.rules:
                fns.append(notebook.name)
    return {rule: Scores(rule, tuple(tps), tuple(fps), tuple(fns)) for rule, (tps, fps, fns) in found.items()}


def misclassified(results: Results) -> list[tuple[LabelledNotebook, frozenset[str], Sequence[Leak]]]:
    """Notebooks whose flagged leak rules differ from their labels: (notebook, got, verdicts)."""
    return [(notebook, flagged_rules(leaks), leaks) for notebook, leaks in results
            if flagged_rules(leaks) != notebook.rules]


def describe_misclassified(results: Results) -> str:
    """One block per misclassified notebook: its name, expected and flagged rules, every verdict."""
    blocks = []
    for notebook, got, leaks in misclassified(results):
        show = lambda rules, empty="clean": " ".join(sorted(rules)) or empty
        lines = [f"{notebook.name}: expected {show(notebook.rules)}, got {show(got)}"
                 f" (missing {show(notebook.rules - got, 'none')}, extra {show(got - notebook.rules, 'none')})"]
        lines += [f"    {leak.describe()}" for leak in leaks] or ["    (no verdicts)"]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)
