"""seed_everything makes Python, NumPy, TensorFlow and Keras repeat themselves."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np

from autograder.seeding import seed_everything


def draws() -> tuple:
    return random.random(), float(np.random.rand())


def test_python_and_numpy_repeat_after_seeding():
    seed_everything(7)
    first = draws()
    seed_everything(7)
    assert draws() == first
    seed_everything(8)
    assert draws() != first


def test_keras_initial_weights_and_dropout_repeat_after_seeding():
    import keras

    def fresh_model_output():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dropout(0.5)])
        out = model(np.ones((2, 4), dtype="float32"), training=True)
        return np.asarray(model.layers[0].get_weights()[0]), np.asarray(out)

    seed_everything(3)
    weights, output = fresh_model_output()
    seed_everything(3)
    again_weights, again_output = fresh_model_output()
    assert np.array_equal(weights, again_weights)
    assert np.array_equal(output, again_output)
    seed_everything(4)
    assert not np.array_equal(fresh_model_output()[0], weights)


def test_seeding_does_not_import_tensorflow_for_notebooks_that_do_not_use_it():
    code = ("import sys; from autograder.seeding import seed_everything; seed_everything(0); "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
