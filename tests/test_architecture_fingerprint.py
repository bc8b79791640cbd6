"""One network, one fingerprint, whatever its spelling: what lets the grader train it once.

Found by the class-spellings benchmark: ``activation=tf.nn.softmax`` was refused as the
student's own function (``softmax_v2``) and cost a correct answer 10 points.

The grader keys the accuracy of a student's architecture on ``models.architecture_fingerprint``
(``keras_networks/judges.training_key``): the build's recorded reference runs, and the runs a
batch shares. That cache is sound only if two configurations with one fingerprint train to the
same model. So each spelling below is rebuilt from its own configuration and trained by the
grader's own function under the grader's seed, and the weights are compared exactly; and
configurations that can train differently must get different fingerprints.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.checks.keras_networks import judges
from autograder.checks.models import architecture_fingerprint

IMAGE = (28, 28, 1)


def _mlp_functional_tf_keras():
    import tensorflow as tf
    inputs = tf.keras.Input(shape=IMAGE, name="pixels")
    x = tf.keras.layers.Flatten(name="unroll")(inputs)
    x = tf.keras.layers.Dense(16, activation=tf.nn.relu)(x)
    x = tf.keras.layers.Dense(16, activation=tf.nn.relu)(x)
    # tf.nn.softmax is serialised by its Python name, softmax_v2, which Keras cannot load back
    return tf.keras.Model(inputs, tf.keras.layers.Dense(10, activation=tf.nn.softmax)(x), name="my_mlp")


def _mlp_input_shape_and_function_activations():
    import keras
    return keras.Sequential([keras.layers.Flatten(input_shape=IMAGE),
                             keras.layers.Dense(16, activation=keras.activations.relu),
                             keras.layers.Dense(units=16, activation="relu"),
                             keras.layers.Dense(10, activation=keras.activations.softmax)])


def _mlp_added_one_by_one():
    import keras
    model = keras.models.Sequential(name="digits")
    model.add(keras.layers.InputLayer(shape=IMAGE))
    model.add(keras.layers.Flatten())
    for _ in range(2):
        model.add(keras.layers.Dense(16, activation="relu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model


def _mlp_with_activation_layers():
    import keras
    from keras import layers
    return keras.Sequential([keras.Input(IMAGE), layers.Flatten(), layers.Dense(16), layers.ReLU(),
                             layers.Dense(16), layers.Activation("relu"), layers.Dense(10), layers.Softmax()])


def _cnn_functional_aliases():
    import tensorflow as tf
    inputs = tf.keras.Input(IMAGE)
    x = tf.keras.layers.Conv2D(32, 3, activation=tf.nn.relu)(inputs)
    x = tf.keras.layers.MaxPool2D(2)(x)
    x = tf.keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu")(x)
    x = tf.keras.layers.MaxPool2D(pool_size=2)(x)
    x = tf.keras.layers.Dropout(0.2)(tf.keras.layers.Flatten()(x))
    return tf.keras.Model(inputs=inputs, outputs=tf.keras.layers.Dense(10, activation="softmax")(x))


def _cnn_input_shape():
    import keras
    from keras import layers
    return keras.Sequential([layers.Conv2D(32, (3, 3), activation="relu", input_shape=IMAGE),
                             layers.MaxPooling2D(), layers.Conv2D(64, 3, activation="relu"),
                             layers.MaxPooling2D(pool_size=(2, 2), strides=(2, 2)), layers.Flatten(),
                             layers.Dropout(rate=0.2), layers.Dense(10, activation="softmax")])


SPELLINGS = {
    "mlp_16x16": (judges.mlp_16x16, [_mlp_functional_tf_keras, _mlp_input_shape_and_function_activations,
                                     _mlp_added_one_by_one, _mlp_with_activation_layers]),
    "lesson_cnn": (judges.lesson_cnn, [_cnn_functional_aliases, _cnn_input_shape]),
}


@pytest.mark.parametrize("reference", sorted(SPELLINGS))
def test_every_spelling_of_a_network_has_its_fingerprint(reference):
    builder, spellings = SPELLINGS[reference]
    expected = architecture_fingerprint(builder().to_json())
    assert [architecture_fingerprint(spelling().to_json()) for spelling in spellings] == [expected] * len(spellings)


@pytest.mark.parametrize("reference", sorted(SPELLINGS))
def test_spellings_with_one_fingerprint_train_to_identical_weights_under_the_graders_seed(reference):
    """The soundness of the cache: one epoch of the grader's own training (``trained_model``:
    rebuilt in safe mode, seeded, the grader's optimizer and batch size) per spelling."""
    builder, spellings = SPELLINGS[reference]
    trained = [judges.trained_model(make().to_json(), epochs=1).get_weights() for make in (builder, *spellings)]
    first = trained[0]
    assert not all(np.array_equal(a, b) for a, b in zip(first, judges.trained_model(
        builder().to_json(), epochs=0).get_weights())), "one epoch must have changed the weights"
    for weights in trained[1:]:
        assert len(weights) == len(first)
        assert all(np.array_equal(a, b) for a, b in zip(weights, first))


def _changed(builder, change):
    config = json.loads(builder().to_json())
    change(config["config"]["layers"])
    return json.dumps(config)


def _layer(layers, kind, index=0):
    return [layer for layer in layers if layer["class_name"] == kind][index]["config"]


CHANGES = {
    "dropout rate": lambda layers: _layer(layers, "Dropout").update(rate=0.5),
    "kernel initializer": lambda layers: _layer(layers, "Conv2D").update(
        kernel_initializer={"module": "keras.initializers", "class_name": "HeNormal", "config": {"seed": None},
                            "registered_name": None}),
    "padding": lambda layers: _layer(layers, "Conv2D", 1).update(padding="same"),
    "activation": lambda layers: _layer(layers, "Conv2D").update(activation="tanh"),
    "filters": lambda layers: _layer(layers, "Conv2D").update(filters=33),
    "strides": lambda layers: _layer(layers, "MaxPooling2D").update(strides=[1, 1]),
    "regularizer": lambda layers: _layer(layers, "Dense").update(
        kernel_regularizer={"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01},
                            "registered_name": None}),
    "a frozen layer": lambda layers: _layer(layers, "Dense").update(trainable=False),
    "input shape": lambda layers: _layer(layers, "InputLayer").update(batch_shape=[None, 28, 28, 3]),
    "input dtype": lambda layers: _layer(layers, "InputLayer").update(dtype="float64"),
    "layer order": lambda layers: layers.insert(len(layers) - 2, layers.pop(len(layers) - 3)),
    "an activation layer after one that has its own": lambda layers: layers.insert(
        2, {"module": "keras.layers", "class_name": "ReLU", "registered_name": None, "name": "re_lu",
            "config": {"name": "re_lu", "max_value": None, "negative_slope": 0.0, "threshold": 0.0},
            "build_config": {"input_shape": [None, 26, 26, 32]}}),
    "a leaky ReLU layer": lambda layers: (_layer(layers, "Conv2D").update(activation="linear"), layers.insert(
        2, {"module": "keras.layers", "class_name": "ReLU", "registered_name": None, "name": "re_lu",
            "config": {"name": "re_lu", "max_value": None, "negative_slope": 0.1, "threshold": 0.0},
            "build_config": {"input_shape": [None, 26, 26, 32]}})),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_anything_that_can_change_training_changes_the_fingerprint(change):
    reference = architecture_fingerprint(judges.lesson_cnn().to_json())
    assert architecture_fingerprint(_changed(judges.lesson_cnn, CHANGES[change])) != reference


def test_a_branching_network_is_not_taken_for_the_chain_of_its_layers():
    import keras
    inputs = keras.Input(IMAGE)
    flat = keras.layers.Flatten()(inputs)
    first = keras.layers.Dense(16, activation="relu")(flat)
    second = keras.layers.Dense(16, activation="relu")(first)
    skip = keras.layers.Add()([first, second])
    branching = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(skip))
    assert architecture_fingerprint(branching.to_json()) != architecture_fingerprint(judges.mlp_16x16().to_json())
    # the same branching network spelled twice (other names) is still one network
    assert architecture_fingerprint(branching.to_json()) == architecture_fingerprint(
        json.dumps(json.loads(branching.to_json().replace('"dense', '"renamed_dense'))))
