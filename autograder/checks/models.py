"""Compare a student's Keras model with the expected one, and explain the first difference.

A judge never receives the student's model object: only ``model.to_json()``, a string. A
pickle would run the student's code in the grader; a JSON config rebuilt in Keras' safe
mode runs nothing but built-in Keras layers. :func:`rebuild_model` adds its own check in
front of Keras' (which can be switched off process-wide), so a ``Lambda`` or custom layer
is refused by name before Keras reads any of it.

Both models are reduced to a :class:`ModelSummary`: one :class:`LayerRow` per layer, holding
only what a student chooses (type, units, kernels, activation...) and what follows from it
(output shape, parameters). Spellings that build the same network give the same rows:
``Sequential`` with ``keras.Input`` or with ``input_shape=``, the functional API, and a
separate ``Activation``/``ReLU``/``Softmax`` layer after a layer without activation.

:func:`compare` then explains the first difference in one message, the most specific
explanation first: the input shape, a missing ``Flatten``, then layer by layer (missing,
extra or changed layer), then trailing layers. The message reads as a clause after a colon
(``"build_cnn(): " + message``): it starts in lower case and ends with a full stop. Every
message ends with both parameter counts, because ``model.summary()`` shows the student
their count and a different total is the quickest way to locate the difference.

:func:`model_cost` reads what training a model would cost (parameters, multiply-adds per
image) from a model rebuilt without weights (``rebuild_model(..., weights=False)``), so a
judge can refuse an enormous architecture before allocating or training anything.

TensorFlow and Keras are imported inside functions: modules that only need the names
below must not pay seconds of import time.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import itertools
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autograder.checks.judging import count

if TYPE_CHECKING:
    import keras

Shape = tuple[int | None, ...]


class UnsafeModelError(ValueError):
    """The configuration cannot be rebuilt without running code other than Keras' own
    layers, or it is not a model configuration at all. ``str(self)`` is for the student."""


class UnbuiltModelError(UnsafeModelError):
    """The model does not know its input shape, so it has no output shapes or parameters
    yet; ``str(self)`` is for the student. A kind of :class:`UnsafeModelError` so that a
    judge catching that one error around :func:`summarize_config` catches this too."""


@dataclass(frozen=True)
class LayerRow:
    """One layer as a student would describe it: only what matters for its type."""

    kind: str
    output_shape: Shape
    params: int
    activation: str | None
    settings: dict

    def same_choices(self, other: LayerRow) -> bool:
        """Whether the student wrote the same layer, whatever came before it.

        Shapes and parameter counts are left out: they change with the layers upstream,
        and a missing pooling layer must not make every later layer look different.
        """
        return (self.kind, self.activation, self.settings) == (other.kind, other.activation, other.settings)


@dataclass(frozen=True)
class ModelSummary:
    """A model as rows, comparable between two models built in different ways."""

    input_shape: Shape
    rows: tuple[LayerRow, ...]
    total_params: int

    def table(self) -> str:
        """A plain-text table like ``model.summary()``, for feedback and logs (no colours,
        no box-drawing characters: it ends up in Otter's plain-text results)."""
        header = ("#", "type", "output shape", "parameters", "activation", "settings")
        lines = [header] + [(str(n), row.kind, str(row.output_shape), count(row.params), row.activation or "",
                             settings_text(row.settings)) for n, row in enumerate(self.rows, start=1)]
        lines.append(("", "total", "", count(self.total_params), "", ""))
        widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
        right_aligned = {0, 3}
        formatted = ["  ".join(cell.rjust(width) if column in right_aligned else cell.ljust(width)
                               for column, (cell, width) in enumerate(zip(line, widths))).rstrip()
                     for line in lines]
        return "\n".join([f"input shape: {self.input_shape}", *formatted])


# --- rebuilding a configuration ---------------------------------------------------------

#: Built-in layers that still run code or read files named in the configuration.
REFUSED_LAYERS = frozenset({"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer"})
MODEL_CLASSES = frozenset({"Sequential", "Functional", "Model"})
USE_BUILT_IN_LAYERS = ("Use only built-in Keras layers (Dense, Conv2D, MaxPooling2D, Flatten, Dropout, "
                       "Activation, ...) in the function that builds your model.")


def architecture_fingerprint(config_json: str) -> str:
    """The same for the same network, whatever its spelling; different for anything that can
    change how it trains.

    A model that is a plain chain of layers (``Sequential``, or a functional model written as
    one: each layer's only input the previous layer's output) is its input layer and its layers
    in order, each as its kind (Keras serialises an alias, ``MaxPool2D``, as the class it names,
    ``MaxPooling2D``) and its whole configuration but its name: units, filters, kernel sizes,
    strides, padding, activations (a function, ``tf.nn.relu``, is serialised by its name),
    rates, initializers, regularizers, constraints, dtypes, input shape. Left out: how it was
    built, the names, ``tf.keras`` or ``keras``, an ``Input`` layer or ``input_shape=``.
    Rebuilt from either configuration and trained under one seed, two such spellings train to
    identical weights (``tests/test_models.py`` shows it), which is what makes a cache keyed
    on this sound. Any other model (branches, several inputs, a subclass) is its whole
    configuration, with the names Keras numbers per session replaced by their order."""
    config = _parse_config(config_json)
    chain = _layer_chain(config)
    payload = {"chain": chain} if chain is not None else {"graph": _names_numbered(config)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _layer_chain(config: Any) -> list[dict] | None:
    """The model's layers as a chain, the input layer first; None if it is not one."""
    if not isinstance(config, dict) or config.get("class_name") not in MODEL_CLASSES:
        return None
    body = config.get("config")
    if not isinstance(body, dict):
        return None
    layers = body.get("layers")
    if not isinstance(layers, list) or not layers or not all(isinstance(layer, dict) for layer in layers):
        return None
    if config["class_name"] != "Sequential" and not _is_functional_chain(body, layers):
        return None
    trainable = body.get("trainable", True)
    chain = [{"class_name": layer.get("class_name"),
              "config": {key: value for key, value in (layer.get("config") or {}).items() if key != "name"}}
             for layer in layers]
    return [{"model_trainable": trainable}, *_activation_layers_folded(chain)]


def _activation_layers_folded(chain: list[dict]) -> list[dict]:
    """``Dense(16)`` then ``Activation("relu")`` (or ``ReLU()``, ``Softmax()``) as the one layer
    ``Dense(16, activation="relu")`` they compute: an activation layer has no weights and draws
    no random numbers, so the two train identically (``tests/test_architecture_fingerprint.py``)."""
    folded: list[dict] = []
    for layer in chain:
        activation = _activation_layer_computes(layer)
        previous = folded[-1] if folded else None
        if activation and previous and previous["config"].get("activation") == "linear":
            folded[-1] = {**previous, "config": {**previous["config"], "activation": activation}}
        else:
            folded.append(layer)
    return folded


def _activation_layer_computes(layer: dict) -> str | None:
    """The activation a weightless activation layer applies with its settings, by its Keras
    name; None for any other layer, or settings no named activation has."""
    kind, config = layer.get("class_name"), layer.get("config") or {}
    if kind == "Activation" and isinstance(config.get("activation"), str):
        return str(config["activation"])
    if (kind == "ReLU" and config.get("max_value") is None and config.get("negative_slope") in (0, 0.0)
            and config.get("threshold") in (0, 0.0)):
        return "relu"
    if kind == "Softmax" and config.get("axis") in (-1, [-1]):
        return "softmax"
    return None


def _is_functional_chain(body: dict, layers: list[dict]) -> bool:
    """A functional model whose first layer is its one input, each next layer called once on
    the previous layer's output alone (no other argument), and whose last layer is its one
    output: the graph a ``Sequential`` of the same layers has."""
    names = [layer.get("name") for layer in layers]
    if layers[0].get("class_name") != "InputLayer" or len(set(names)) != len(names):
        return False
    if _endpoint(body.get("input_layers")) != names[0] or _endpoint(body.get("output_layers")) != names[-1]:
        return False
    for previous, layer in itertools.pairwise(layers):
        nodes = layer.get("inbound_nodes")
        if not isinstance(nodes, list) or len(nodes) != 1 or not isinstance(nodes[0], dict):
            return False
        args, kwargs = nodes[0].get("args"), nodes[0].get("kwargs")
        # a functional call records `training=False` on layers that take it (Dropout): the model's
        # own training flag still rules them, as in Sequential (the weights test shows it)
        if kwargs not in ({}, None, {"training": False}) or not isinstance(args, list) or len(args) != 1:
            return False
        tensor = args[0]
        if not isinstance(tensor, dict) or tensor.get("class_name") != "__keras_tensor__":
            return False
        history = (tensor.get("config") or {}).get("keras_history")
        if history != [previous.get("name"), 0, 0]:
            return False
    return True


def _endpoint(value: Any) -> str | None:
    """The one layer named by ``input_layers``/``output_layers`` (``[name, 0, 0]`` or a list
    of one of those); None for several, or anything else."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if isinstance(value, list) and len(value) == 3 and value[1:] == [0, 0] and isinstance(value[0], str):
        return value[0]
    return None


def _names_numbered(config: Any) -> Any:
    """The whole configuration, with the names Keras numbers per session (``dense_7``,
    ``input_layer_187``) replaced by their order of appearance."""
    names: dict[str, str] = {}

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "name" and isinstance(value, str):
                    names.setdefault(value, f"#{len(names)}")
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    def canonical(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: canonical(value) for key, value in node.items()}
        if isinstance(node, list):
            return [canonical(item) for item in node]
        return names.get(node, node) if isinstance(node, str) else node

    collect(config)
    return canonical(config)


def rebuild_model(config_json: str, *, weights: bool = True) -> keras.Model:
    """Rebuild a model from ``model.to_json()`` without running any code of the student's.

    With ``weights=False`` the model has its layers, output shapes and parameter counts but
    no weight values: nothing is allocated or initialised, so a model of ten billion
    parameters is rebuilt in milliseconds (to be summarised, or measured against the
    grader's budget, before anything trains it). Such a model cannot be called or trained.
    """
    config = _parse_config(config_json)
    _refuse_custom_code(config)
    import keras
    if not weights:
        shapes_only = _rebuild_without_weights(config)
        if shapes_only is not None:
            return shapes_only
    try:
        model = _deserialize(config)
    except Exception as error:  # Keras raises ValueError, TypeError, KeyError... for a bad config
        raise UnsafeModelError(f"Keras could not rebuild your model from its configuration ({_last_cause(error)}). "
                               "Build it from built-in Keras layers only, and check that it runs in your "
                               "notebook.") from error
    if not isinstance(model, keras.Model):
        raise UnsafeModelError(f"the configuration describes a {type(model).__name__}, not a model: "
                               "return the keras.Sequential or keras.Model itself.")
    return model


def _deserialize(config: dict) -> Any:
    import keras
    from keras.src.saving.serialization_lib import SafeModeScope
    # The scope overrides `keras.config.enable_unsafe_deserialization()`, which would
    # otherwise win over safe_mode=True.
    with SafeModeScope(True):  # on a copy: Keras pops keys out of the dicts it reads, and a failed
        # attempt (the stateless one of _rebuild_without_weights) must not spoil the next
        return keras.saving.deserialize_keras_object(copy.deepcopy(config), safe_mode=True)


def _rebuild_without_weights(config: dict) -> keras.Model | None:
    """The model rebuilt inside a stateless scope, where Keras creates each variable with its
    shape and defers its initial value; the deferred initialisations are then dropped, so
    they never run. None if that fails: the caller rebuilds normally, which either works
    (a layer that needs its weights' values to build) or gives the student Keras' reason."""
    import keras
    from keras.src.backend.common import global_state
    pending = list(global_state.get_global_attribute("uninitialized_variables") or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = _deserialize(config)
    except Exception:
        return None
    finally:  # forget this model's variables: nothing may initialise them later
        global_state.set_global_attribute("uninitialized_variables", pending)
    return model if isinstance(model, keras.Model) else None


def _last_cause(error: Exception) -> str:
    """The innermost reason in a Keras deserialisation error, which nests each enclosing
    object's whole configuration around it."""
    reason = str(error).split("Exception encountered:")[-1].strip()
    return (reason.splitlines() or [type(error).__name__])[0][:300]


def _parse_config(config_json: str) -> dict:
    """The configuration as a dict, or an error saying what was received instead."""
    if not isinstance(config_json, str):
        raise UnsafeModelError(f"expected the model's configuration as a JSON string (model.to_json()), "
                               f"got a {type(config_json).__name__}.")
    try:
        config = json.loads(config_json)
    except json.JSONDecodeError as error:
        raise UnsafeModelError(f"the model's configuration is not valid JSON ({error.msg} at line {error.lineno}, "
                               f"column {error.colno}): pass model.to_json() unchanged.") from error
    if not isinstance(config, dict) or config.get("class_name") not in MODEL_CLASSES:
        described = str(config.get("class_name")) if isinstance(config, dict) else type(config).__name__
        raise UnsafeModelError(f"the configuration describes {_article(described)} {described}, not a Keras model: "
                               "return a keras.Sequential or keras.Model and pass model.to_json().")
    return _tensorflow_functions_named(config)


#: TensorFlow's functions that Keras does not resolve to its own activations, and serialises by
#: their Python names (``tf.nn.softmax`` is ``softmax_v2``): the same computation as the Keras
#: activation named here, which is what the grader rebuilds them as.
TENSORFLOW_FUNCTIONS = {"softmax_v2": "softmax", "log_softmax_v2": "log_softmax", "swish": "silu", "silu": "silu"}


def _tensorflow_functions_named(node: Any) -> Any:
    """The configuration with TensorFlow's activation functions (``activation=tf.nn.softmax``)
    replaced by the names of the Keras activations they compute, as Keras writes
    ``activation="softmax"``: a correct model spelled with ``tf.nn`` is the same network."""
    if isinstance(node, dict):
        if (node.get("module") == "builtins" and node.get("class_name") == "function"
                and node.get("config") in TENSORFLOW_FUNCTIONS):
            return TENSORFLOW_FUNCTIONS[node["config"]]
        return {key: _tensorflow_functions_named(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_tensorflow_functions_named(item) for item in node]
    return node


def _refuse_custom_code(model_config: dict) -> None:
    """Refuse, naming the layer, anything whose rebuilding would run code beyond Keras'.

    Keras' safe mode refuses Python lambdas but still rebuilds a ``Lambda`` around a
    registered function, and any class registered in the grader's process; so this
    accepts only layer classes that Keras itself exports, and only Keras objects inside.
    """
    if not _is_keras_object(model_config):
        raise UnsafeModelError(f"your model is of a class defined outside Keras ({model_config.get('class_name')}), "
                               "so rebuilding it would run your own code: build it with keras.Sequential([...]) or "
                               "keras.Model(inputs, outputs).")
    built_in = _built_in_layer_names()
    for layer in _layer_configs(model_config):
        kind, name = str(layer.get("class_name")), str(layer.get("name") or _config_name(layer))
        if kind in REFUSED_LAYERS:
            raise UnsafeModelError(f"your model contains a {kind} layer (`{name}`): it runs Python code that "
                                   f"the grader does not execute. {USE_BUILT_IN_LAYERS}")
        if kind not in built_in or not _is_keras_object(layer):
            raise UnsafeModelError(f"your model contains a layer of type {kind} (`{name}`) that is not built "
                                   f"into Keras, so rebuilding it would run your own code. {USE_BUILT_IN_LAYERS}")
        custom = next((part for part in _object_references(layer.get("config")) if not _is_keras_object(part)), None)
        if custom is not None:
            raise UnsafeModelError(f"layer `{name}` ({kind}) uses {_reference_text(custom)}, which is not built into "
                                   f"Keras, so the grader does not run it. {USE_BUILT_IN_LAYERS}")


def _config_name(layer: dict) -> str:
    settings = layer.get("config")
    return str(settings.get("name", "?")) if isinstance(settings, dict) else "?"


def _reference_text(reference: dict) -> str:
    if reference.get("class_name") == "__lambda__":
        return "a Python lambda"
    if reference.get("class_name") == "function":
        return f"your own function `{reference.get('config')}`"
    return f"a custom object of type {reference.get('class_name')}"


def _layer_configs(model_config: dict) -> Iterator[dict]:
    """Every layer configuration, including those of models nested as layers."""
    settings = model_config.get("config")
    layers = settings.get("layers") if isinstance(settings, dict) else None
    for layer in layers if isinstance(layers, list) else ():
        if not isinstance(layer, dict):
            raise UnsafeModelError("the model's configuration is damaged (a layer is not described by a "
                                   "dictionary): pass model.to_json() unchanged.")
        yield layer
        if layer.get("class_name") in MODEL_CLASSES:
            yield from _layer_configs(layer)


def _object_references(value: Any) -> Iterator[dict]:
    """Every serialised object or function inside a layer's settings (initialisers,
    activations, regularisers, lambdas...), whose rebuilding could import code."""
    if isinstance(value, dict):
        if "class_name" in value and ("module" in value or value["class_name"] == "__lambda__"):
            yield value
        for item in value.values():
            yield from _object_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _object_references(item)


def _is_keras_object(reference: dict) -> bool:
    """A reference Keras resolves within its own modules: not through a registry of custom
    objects (``registered_name`` like ``"package>Name"``), nor by unmarshalling code.

    Keras saves every plain function, the student's own included, as module
    ``"builtins"`` and looks it up by name, last of all among registered custom objects;
    so such a name is accepted only if Keras has a built-in function of that name.
    """
    module, class_name = reference.get("module"), reference.get("class_name")
    if class_name == "__lambda__" or not isinstance(module, str):
        return False
    if class_name == "function" and module == "builtins":
        return _is_keras_function(reference.get("config"))
    from_keras = module == "keras" or module.startswith("keras.")
    return from_keras and reference.get("registered_name") in (None, class_name)


def _is_keras_function(name: Any) -> bool:
    import keras
    from keras.src.saving.serialization_lib import BUILTIN_MODULES
    return isinstance(name, str) and any(callable(getattr(getattr(keras, module), name, None))
                                         for module in BUILTIN_MODULES)


def _built_in_layer_names() -> frozenset[str]:
    import keras
    exported = {name for name, value in vars(keras.layers).items()
                if isinstance(value, type) and issubclass(value, keras.layers.Layer)}
    return frozenset((exported | MODEL_CLASSES) - REFUSED_LAYERS)


# --- summarising a model ----------------------------------------------------------------

#: The settings a student chooses for each layer type, in the order they are compared.
CONVOLUTION_SETTINGS = ("filters", "kernel_size", "strides", "padding")
POOLING_SETTINGS = ("pool_size", "strides", "padding")
SETTINGS_BY_KIND: dict[str, tuple[str, ...]] = {
    "Dense": ("units",),
    **{f"Conv{d}D": CONVOLUTION_SETTINGS for d in (1, 2, 3)},
    **{f"{kind}Pooling{d}D": POOLING_SETTINGS for kind in ("Max", "Average") for d in (1, 2, 3)},
    **{kind: ("rate",) for kind in ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D")},
}
WINDOW_SETTINGS = frozenset({"kernel_size", "pool_size", "strides"})
STANDALONE_ACTIVATION = "Activation"


def summarize_config(config_json: str) -> ModelSummary:
    return summarize(rebuild_model(config_json, weights=False))


def summarize(model: keras.Model) -> ModelSummary:
    """Rows for every layer but the input, with stand-alone activation layers folded into
    the layer before them, so that ``Dense(16)`` + ``ReLU()`` equals ``Dense(16, "relu")``."""
    if not model.built or not model.inputs:
        raise UnbuiltModelError("your model does not know the shape of its input, so Keras has not created its "
                                "weights yet: start it with keras.Input(shape=...), as in the lesson.")
    rows: list[LayerRow] = []
    for layer in _leaf_layers(model):
        activation = _standalone_activation(layer)
        if activation is not None and rows and rows[-1].activation == "linear":
            rows[-1] = dataclasses.replace(rows[-1], activation=activation)
        else:
            rows.append(_row(layer, activation))
    return ModelSummary(input_shape=_shape(model.inputs[0].shape[1:]), rows=tuple(rows),
                        total_params=int(model.count_params()))


def _leaf_layers(model: keras.Model) -> Iterator[Any]:
    """Layers in order, without input layers, looking inside models used as layers."""
    import keras
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            yield layer


def _row(layer: Any, standalone_activation: str | None) -> LayerRow:
    config = layer.get_config()
    kind = type(layer).__name__
    activation: str | None
    if standalone_activation is not None:
        kind, activation = STANDALONE_ACTIVATION, standalone_activation
    else:
        activation = activation_name(layer.activation) if getattr(layer, "activation", None) is not None else None
    settings = {key: _setting(key, config[key]) for key in SETTINGS_BY_KIND.get(kind, ()) if key in config}
    return LayerRow(kind=kind, output_shape=_shape(layer.output.shape[1:]), params=int(layer.count_params()),
                    activation=activation, settings=settings)


def _setting(key: str, value: Any) -> Any:
    """Windows as tuples, padding in lower case. Keras 3.15's ``get_config`` already gives
    tuples for ``3`` and ``(3, 3)`` alike (lists only in the JSON); this keeps rows
    comparable with a Keras that hands back the value as written."""
    if key in WINDOW_SETTINGS:
        return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else (int(value),)
    if key == "padding":
        return str(value).lower()
    return value


def _standalone_activation(layer: Any) -> str | None:
    """The activation a layer applies if applying one is all it does (``Activation``,
    ``ReLU`` and ``Softmax`` with their default settings), else None."""
    import keras
    if isinstance(layer, keras.layers.Activation):
        return activation_name(layer.activation)
    if isinstance(layer, keras.layers.ReLU):
        plain = layer.max_value is None and not layer.negative_slope and not layer.threshold
        return activation_name(layer) if plain else None
    if isinstance(layer, keras.layers.Softmax):
        return activation_name(layer) if layer.axis in (-1, [-1], (-1,)) else None
    return None


#: Layer classes used as activations, and the name of the function they apply.
ACTIVATION_LAYER_NAMES = {"ReLU": "relu", "Softmax": "softmax", "LeakyReLU": "leaky_relu", "ELU": "elu",
                          "PReLU": "prelu"}


def activation_name(activation: Any) -> str:
    """``"relu"`` for ``"relu"``, ``"ReLU"``, ``keras.activations.relu``, its serialised
    form ``{"class_name": "function", "config": "relu", ...}`` or a ``ReLU()`` layer."""
    if isinstance(activation, dict):
        is_function = activation.get("class_name") == "function"
        activation = activation.get("config") if is_function else activation.get("class_name")
    if isinstance(activation, str):
        return ACTIVATION_LAYER_NAMES.get(activation, activation.lower())
    kind = type(activation).__name__
    if kind in ACTIVATION_LAYER_NAMES:
        return ACTIVATION_LAYER_NAMES[kind]
    return str(getattr(activation, "__name__", kind)).lower()


def _shape(dims: Sequence[Any]) -> Shape:
    return tuple(None if d is None else int(d) for d in dims)


# --- what training a model costs --------------------------------------------------------

@dataclass(frozen=True)
class LayerCost:
    """One layer's share of a model's cost (``name`` as in the student's ``model.summary()``)."""

    name: str
    kind: str
    params: int
    flops_per_image: int


@dataclass(frozen=True)
class ModelCost:
    """What it costs to train a model, read from its layers' shapes alone (a model rebuilt
    with ``weights=False`` will do): its parameters, and the multiply-adds of one image's
    forward pass, which training repeats (with the backward pass, about three times over)
    for every image of every epoch."""

    params: int
    flops_per_image: int
    layers: tuple[LayerCost, ...]

    def largest(self, measure: str) -> LayerCost:
        """The layer with the most ``"params"`` or ``"flops_per_image"``: what to make smaller first."""
        return max(self.layers, key=lambda layer: getattr(layer, measure))


def model_cost(model: keras.Model) -> ModelCost:
    """Parameters and forward multiply-adds per image, layer by layer.

    A layer with weight matrices (kernels, 2-D or more) applies each of them once per
    position of its output: a Dense layer ``inputs × units`` (times every position it is
    applied to, when there is no Flatten before it), a Conv2D layer ``out_h × out_w ×
    kernel_h × kernel_w × in_channels × filters``, a recurrent layer its matrices once per
    time step. A layer without (pooling, activation, Flatten, Dropout, normalisation) costs
    its output's size. A layer called several times counts each call. Exact for Dense and
    Conv2D, an estimate elsewhere; the grader's CPU-time limit catches what it misses.
    """
    layers = tuple(_layer_costs(model, calls=1))
    return ModelCost(params=int(model.count_params()), flops_per_image=sum(layer.flops_per_image for layer in layers),
                     layers=layers)


def _layer_costs(model: keras.Model, calls: int) -> Iterator[LayerCost]:
    import keras
    times_called = _calls_per_layer(model)
    for layer in model.layers:
        n = calls * times_called.get(layer.name, 1)
        if isinstance(layer, keras.Model):
            yield from _layer_costs(layer, n)
        elif not isinstance(layer, keras.layers.InputLayer):
            yield LayerCost(layer.name, type(layer).__name__, int(layer.count_params()), n * _forward_flops(layer))


def _calls_per_layer(model: keras.Model) -> dict[str, int]:
    """How many times a functional model calls each of its layers: the configuration's
    ``inbound_nodes``, one per call (a Sequential model calls each layer once; Keras' own
    node lists are no guide, as rebuilding a Sequential model adds nodes to its layers)."""
    layers = model.get_config().get("layers") if not _is_sequential(model) else None
    return {str(entry.get("name")): max(1, len(entry.get("inbound_nodes") or ()))
            for entry in layers or () if isinstance(entry, dict)}


def _is_sequential(model: keras.Model) -> bool:
    import keras
    return isinstance(model, keras.Sequential)


def _forward_flops(layer: Any) -> int:
    import keras
    matrices = [weight for weight in layer.weights if len(weight.shape) >= 2]
    if not matrices:
        return sum(_size(shape[1:]) for shape in _shapes(layer.output))
    if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
        positions = _size(_shapes(layer.input)[0][1:2])  # one step per entry of the time axis
    else:
        positions = _size(_shapes(layer.output)[0][1:-1])
    return positions * sum(_size(weight.shape) for weight in matrices)


def _shapes(tensors: Any) -> list[Shape]:
    """The shapes of a layer's input or output, one tensor or several."""
    import keras
    return [_shape(tensor.shape) for tensor in keras.tree.flatten(tensors)]


def _size(shape: Sequence[int | None]) -> int:
    """The number of values of a shape; an unknown dimension counts as one."""
    return math.prod(int(d) if d is not None else 1 for d in shape)


def dense_stack(units: Sequence[int], activation: str = "relu") -> keras.Model:
    """An MLP on the 784 flattened inputs: hidden layers of ``units`` with ``activation``, a
    softmax output of 10 (the course's wide, deep and sigmoid MLPs)."""
    import keras
    from keras import layers
    hidden = [layers.Dense(u, activation=activation) for u in units]
    return keras.Sequential([keras.Input((784,)), *hidden, layers.Dense(10, activation="softmax")])


# --- what the grader agrees to train, and its record of trainings ------------------------
# Shared by the assignments whose judges train a student's architecture themselves
# (keras_networks, training_diagnostics): each states its budget in grading.toml [training].

#: grading.toml [training] keys that bound the grader's training run without changing its result.
JUDGE_LIMITS = frozenset({"max_parameters", "max_flops_per_image", "judge_cpu_seconds"})
#: ModelCost's measures: the budget's key in grading.toml, and how a message names the unit.
BUDGETS = {"params": ("max_parameters", "parameters", "has"),
           "flops_per_image": ("max_flops_per_image", "multiply-adds per image", "takes")}


class TrainingLimit(Exception):
    """The grader refused to train an architecture, or stopped training it."""


class OverBudget(TrainingLimit):
    """An architecture over a budget of grading.toml [training]: refused before any training."""

    def __init__(self, cost: ModelCost, measure: str, limit: int) -> None:
        self.cost, self.measure, self.limit = cost, measure, limit
        key, self.unit, verb = BUDGETS[measure]
        largest = cost.largest(measure)
        # "has 41,000,000 parameters, 40,960,000 of them in layer `dense` (Dense)": completes "Your model ".
        self.clause = (f"{verb} {count(getattr(cost, measure))} {self.unit}, "
                       f"{count(getattr(largest, measure))} of them in layer `{largest.name}` ({largest.kind})")
        super().__init__(f"{self.clause}; over the grader's {key} = {count(limit)}")


class OutOfCpuTime(TrainingLimit):
    """A training run stopped when it had used the CPU time grading.toml allows one run."""

    def __init__(self, seconds: float, dataset: str, *, epoch: int, epochs: int) -> None:
        self.seconds, self.dataset, self.epoch, self.epochs = seconds, dataset, epoch, epochs
        super().__init__(f"stopped in epoch {epoch} of {epochs}, after the {seconds:g} CPU-seconds one training "
                         f"run on {dataset} may use")


def require_within_budget(config_json: str, training: Any) -> ModelCost:
    """The architecture's cost, read from a rebuild without weights (milliseconds, whatever
    its size); :class:`OverBudget` if ``training`` (an assignment's ``[training]``) does not
    let the grader train it."""
    cost = model_cost(rebuild_model(config_json, weights=False))
    for measure, (key, _, _) in BUDGETS.items():
        limit = int(getattr(training, key))
        if getattr(cost, measure) > limit:
            raise OverBudget(cost, measure, limit)
    return cost


def cpu_time_limit(seconds: float, clock: Callable[[], float] | None = None) -> Any:
    """A Keras callback that stops training at the end of the first batch by which the
    process has used ``seconds`` of CPU time since the callback was made (all threads: a
    busy machine slows the wall clock, not this). ``exceeded`` then says so. It changes
    nothing else, so an honest model, far under the limit, trains exactly as without it."""
    import time
    return _cpu_time_limit_class()(seconds, clock or time.process_time)


@functools.cache
def _cpu_time_limit_class() -> type:
    import keras

    class CpuTimeLimit(keras.callbacks.Callback):
        def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
            super().__init__()
            self.seconds, self.clock, self.start = seconds, clock, clock()
            self.epoch, self.exceeded = 0, False

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch = epoch

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if self.clock() - self.start > self.seconds:
                self.exceeded = True
                self.model.stop_training = True

    return CpuTimeLimit


def training_key(config_json: str, *settings: Any) -> str:
    """Everything a grader's training of an architecture depends on: the architecture (up to
    the names Keras numbers), the run's ``settings`` (budget, optimizer, loss, seed, dataset:
    JSON values) and the versions of Keras and TensorFlow."""
    from importlib.metadata import version
    tensorflow = "tensorflow-cpu" if _installed("tensorflow-cpu") else "tensorflow"
    parts = [architecture_fingerprint(config_json), *settings, version("keras"), version(tensorflow)]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _installed(distribution: str) -> bool:
    from importlib.metadata import PackageNotFoundError, version
    try:
        version(distribution)
        return True
    except PackageNotFoundError:
        return False


def train_rebuilt(config_json: str, *, compile_settings: dict[str, Any], X: Any, y: Any, epochs: int,
                  batch_size: int, seed: int, cpu_seconds: float, dataset: str) -> keras.Model:
    """Rebuild the architecture (safe mode) and train it with the grader's settings and seed,
    stopped once the run has used ``cpu_seconds`` of CPU time (:class:`OutOfCpuTime`). Whether
    the grader agrees to train it at all (:func:`require_within_budget`) is the caller's to ask
    first."""
    from autograder.seeding import seed_everything
    seed_everything(seed)
    limit = cpu_time_limit(cpu_seconds)  # from here: building, compiling, training
    model = rebuild_model(config_json)
    model.compile(**compile_settings)
    model.fit(X, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, callbacks=[limit])
    if limit.exceeded:
        raise OutOfCpuTime(limit.seconds, dataset, epoch=limit.epoch + 1, epochs=epochs)
    return model


#: The file beside grading.toml in the zip where the build records its reference trainings.
REFERENCE_TRAINING_FILE = "reference_training.json"


def read_recorded_trainings(assignment: str) -> dict[str, float]:
    """The accuracies of the assignment's reference trainings, recorded by the build (its
    suite's ``reference_trainings``) instead of trained once per submission; {} without."""
    from autograder.config import assignment_file
    path = assignment_file(assignment, REFERENCE_TRAINING_FILE)
    return json.loads(path.read_text()) if path else {}


def accuracy_once(key: str, train: Callable[[], float], recorded: dict[str, float], memo: dict[str, float]) -> float:
    """The grader's accuracy for a training key: recorded by the build, else trained once per
    batch (the batch's ``TrainingStore``, shared by its grading children) or, without one, once
    per grading process (``memo``). The training is seeded, so all give the same figure."""
    from autograder.checks.training_store import TrainingStore
    if key in recorded:
        return recorded[key]
    if key not in memo:
        store = TrainingStore.from_environment()
        memo[key] = store.accuracy(key, train) if store else train()
    return memo[key]


# --- explaining the first difference -----------------------------------------------------

def compare(actual: ModelSummary, expected: ModelSummary, *, name: str) -> str | None:
    """None if the architectures match, else the first difference, explained.

    ``name`` is how messages call the expected model ("the lesson CNN"). The explanations
    are tried from the most specific: a wrong input shape or a missing ``Flatten`` changes
    every row after it, so either is reported as itself, not as its first consequence.
    """
    totals = f"your model has {count(actual.total_params)} parameters, {name} has {count(expected.total_params)}"
    for explain in EXPLANATIONS:
        difference = explain(actual, expected, name)
        if difference is not None:
            return difference.message(totals)
    if actual.total_params != expected.total_params:
        return f"your model's layers match {name}, but the parameter counts differ: {totals}."
    return None


@dataclass(frozen=True)
class Difference:
    """What differs, why it matters, and what to do: the parts of one message."""

    what: str
    advice: str = ""

    def message(self, totals: str) -> str:
        return " ".join(part for part in (f"{self.what}; {totals}.", self.advice) if part)



def _input_shape_difference(actual: ModelSummary, expected: ModelSummary, name: str) -> Difference | None:
    if actual.input_shape == expected.input_shape:
        return None
    start = f"start with keras.Input(shape={expected.input_shape})"
    if len(actual.input_shape) == 1 < len(expected.input_shape) and any(row.kind == "Flatten" for row in expected.rows):
        start += " and let a Flatten layer do the unrolling"
    return Difference(f"your model's input shape is {actual.input_shape}, expected {expected.input_shape}: {start}")


def _missing_flatten(actual: ModelSummary, expected: ModelSummary, name: str) -> Difference | None:
    """The commonest CNN/MLP mistake: Keras' Dense accepts an image and works on its last
    axis, so the model builds, with far fewer parameters, and trains badly."""
    expected_dense, actual_dense = _first_dense(expected), _first_dense(actual)
    if expected_dense is None or actual_dense is None:
        return None
    expects_flat = len(expected.rows[expected_dense].output_shape) == 1 and any(
        row.kind == "Flatten" for row in expected.rows[:expected_dense])
    if not expects_flat or len(actual.rows[actual_dense].output_shape) == 1:
        return None
    dense = actual.rows[actual_dense]
    return Difference(
        "expected Flatten before the first Dense layer",
        f"Without it, layer {actual_dense + 1} (Dense {dense.settings.get('units')}) is applied to every position "
        f"of the image separately and outputs shape {dense.output_shape}, not ({dense.settings.get('units')},): "
        "add keras.layers.Flatten() right before the first Dense layer.")


def _first_dense(summary: ModelSummary) -> int | None:
    return next((i for i, row in enumerate(summary.rows) if row.kind == "Dense"), None)


def _layer_difference(actual: ModelSummary, expected: ModelSummary, name: str) -> Difference | None:
    """At the first row that differs: a layer left out, one added, or one changed.

    A left-out layer shows as the student's row i matching the expected row i + 1, an
    added one as the student's row i + 1 matching the expected row i. Either can also
    happen by chance (a Dense 16 with the wrong activation followed by a Dense 16 looks
    like an added layer), so the reading under which the layers after i line up best
    wins, and a changed layer wins ties: it is the smallest fix to suggest.
    """
    for i, (mine, theirs) in enumerate(zip(actual.rows, expected.rows)):
        if mine == theirs:
            continue
        readings = [(_alignment(actual.rows[i + 1:], expected.rows[i + 1:]), _changed_layer)]
        if _same_choices_at(actual.rows, i, expected.rows, i + 1):
            readings.append((_alignment(actual.rows[i:], expected.rows[i + 1:]), _missing_layer))
        if _same_choices_at(actual.rows, i + 1, expected.rows, i):
            readings.append((_alignment(actual.rows[i + 1:], expected.rows[i:]), _extra_layer))
        best_score = max(score for score, _ in readings)
        explain = next(explain for score, explain in readings if score == best_score)
        return explain(actual, expected, i, name)
    return None


def _same_choices_at(actual_rows: Sequence[LayerRow], i: int, expected_rows: Sequence[LayerRow], j: int) -> bool:
    return i < len(actual_rows) and j < len(expected_rows) and actual_rows[i].same_choices(expected_rows[j])


def _alignment(actual_rows: Sequence[LayerRow], expected_rows: Sequence[LayerRow]) -> int:
    """How well two remainders line up: rows that agree, minus rows left over."""
    agreeing = sum(mine.same_choices(theirs) for mine, theirs in zip(actual_rows, expected_rows))
    return agreeing - abs(len(actual_rows) - len(expected_rows))


def _missing_layer(actual: ModelSummary, expected: ModelSummary, i: int, name: str) -> Difference:
    absent = expected.rows[i]
    where = f"after layer {i} ({describe(expected.rows[i - 1])})" if i else "right after the input"
    return Difference(
        f"layer {i + 1} ({describe(absent)}{_activation_suffix(absent)}) is missing: {name} has it {where}, "
        f"and your layer {i + 1} is the {describe(actual.rows[i])} that {name} has as layer {i + 2}",
        _why_no_parameters(absent.kind))


def _extra_layer(actual: ModelSummary, expected: ModelSummary, i: int, name: str) -> Difference:
    before = f"layer {i} ({describe(expected.rows[i - 1])})" if i else "the input"
    return Difference(
        f"layer {i + 1} ({describe(actual.rows[i])}{_activation_suffix(actual.rows[i])}) is extra: {name} goes "
        f"from {before} straight to {describe(expected.rows[i])}",
        " ".join(part for part in (f"Remove layer {i + 1}.", _why_no_parameters(actual.rows[i].kind)) if part))


def _changed_layer(actual: ModelSummary, expected: ModelSummary, i: int, name: str) -> Difference:
    """The first property that differs, most visible first: type, settings, activation,
    and shape or count for layer types whose settings are not compared one by one."""
    mine, theirs, position = actual.rows[i], expected.rows[i], f"layer {i + 1}"
    if mine.kind != theirs.kind:
        # Parameter-free layers explain a difference in totals; between two of them, nothing to explain.
        why = _why_no_parameters(theirs.kind) or _why_no_parameters(mine.kind) if mine.params != theirs.params else ""
        return Difference(f"{position} is {_article(mine.kind)} {mine.kind} layer, expected {describe(theirs)} here",
                          why)
    for key, expected_value in theirs.settings.items():
        if mine.settings.get(key) != expected_value:
            return _setting_difference(actual, i, key, expected_value)
    if mine.activation != theirs.activation:
        return _activation_difference(mine, theirs, position, is_output=i == len(expected.rows) - 1)
    if mine.output_shape != theirs.output_shape:
        return Difference(f"{position} ({describe(mine)}) outputs shape {mine.output_shape}, "
                          f"expected {theirs.output_shape}")
    return Difference(f"{position} ({describe(mine)}) has {count(mine.params)} parameters, "
                      f"expected {count(theirs.params)}")


def _setting_difference(actual: ModelSummary, i: int, key: str, expected_value: Any) -> Difference:
    row = actual.rows[i]
    mine, theirs = setting_text(key, row.settings.get(key)), setting_text(key, expected_value)
    subject = f"layer {i + 1} ({row.kind})"
    what = {
        "units": f"{subject} has {mine} units, expected {theirs}",
        "filters": f"{subject} has {mine} filters, expected {theirs}",
        "kernel_size": f"{subject} uses {mine} kernels, expected {theirs}",
        "pool_size": f"{subject} pools {mine} windows, expected {theirs}",
        "strides": f"{subject} moves with strides {mine}, expected {theirs}",
        "padding": f"{subject} uses padding '{mine}', expected '{theirs}'",
        "rate": f"{subject} uses dropout rate {mine}, expected {theirs}",
    }.get(key, f"{subject} has {key} {mine}, expected {theirs}")
    why = {
        "padding": "'valid' padding shrinks the image by the kernel size minus one; with 'same' the output "
                   "has ceil(input / stride) rows and columns: the size is kept at stride 1 and halved, "
                   "rounding up, at stride 2.",
        "rate": "The rate is the fraction of values Dropout sets to zero during training; Dropout has no "
                "parameters, so the totals agree.",
    }.get(key, _parameter_arithmetic(actual, i))
    return Difference(what, why)


def _parameter_arithmetic(summary: ModelSummary, i: int) -> str:
    """How a Dense or convolution layer's parameter count follows from its settings,
    shown only when the arithmetic reproduces Keras' count (no groups, bias used)."""
    row = summary.rows[i]
    inputs = (summary.rows[i - 1].output_shape if i else summary.input_shape)[-1]
    if inputs is None:
        return ""
    if row.kind == "Dense":
        units = row.settings["units"]
        formula, value = "inputs × units + units", f"{count(inputs)} × {units} + {units}"
        computed = inputs * units + units
    elif row.kind in ("Conv1D", "Conv2D", "Conv3D"):
        window, filters = row.settings["kernel_size"], row.settings["filters"]
        axes = {1: "kernel length", 2: "kernel height × width", 3: "kernel depth × height × width"}[len(window)]
        formula = f"{axes} × input channels × filters + filters"
        value = f"{' × '.join(map(str, window))} × {inputs} × {filters} + {filters}"
        computed = math.prod(window) * inputs * filters + filters
    else:
        return ""
    if computed != row.params:
        return ""
    article = _article(row.kind).capitalize()
    return f"{article} {row.kind} layer has {formula} parameters: {value} = {count(computed)} here."


def _activation_difference(mine: LayerRow, theirs: LayerRow, position: str, *, is_output: bool) -> Difference:
    subject = f"{position} ({describe(mine)})"
    wanted = "no activation (linear)" if theirs.activation == "linear" else f"'{theirs.activation}'"
    if mine.activation == "linear":
        what = f"{subject} has no activation (linear), expected {wanted}"
    else:
        what = f"{subject} uses activation '{mine.activation}', expected {wanted}"
    if is_output and theirs.activation == "softmax":
        what += ": the output layer gives one probability per class, and softmax makes them add up to 1"
    elif mine.activation == "linear":
        what += ": without it, this layer and the next compute a single linear function, whatever their sizes"
    advice = f"Write activation=\"{theirs.activation}\" in this layer." if theirs.activation != "linear" else ""
    return Difference(what, advice)


def _layer_count_difference(actual: ModelSummary, expected: ModelSummary, name: str) -> Difference | None:
    """All shared rows agree: the student stopped early or kept going."""
    shared = min(len(actual.rows), len(expected.rows))
    if len(actual.rows) > shared:
        surplus = ", ".join(f"layer {n} ({describe(row)})" for n, row in enumerate(actual.rows[shared:], shared + 1))
        return Difference(f"your model has {len(actual.rows)} layers, {name} has {shared}: remove {surplus}",
                          "Every layer up to there matches.")
    if len(expected.rows) > shared:
        following = ", then ".join(f"{describe(row)}{_activation_suffix(row)}" for row in expected.rows[shared:])
        return Difference(f"your model stops after layer {shared}, {name} continues with {following}",
                          "Every layer up to there matches.")
    return None


Explanation = Callable[[ModelSummary, ModelSummary, str], "Difference | None"]
#: Most specific first: a wrong input or a missing Flatten changes every row after it.
EXPLANATIONS: tuple[Explanation, ...] = (_input_shape_difference, _missing_flatten, _layer_difference,
                                         _layer_count_difference)


def _why_no_parameters(kind: str) -> str:
    """Layers without weights: a student comparing parameter counts cannot see them, so
    say what they do instead."""
    if "Pooling" in kind:
        return ("Pooling adds no parameters, but it shrinks the height and width, so the layers after it "
                "see a smaller input (and a Dense layer after it has fewer weights).")
    return {
        "Flatten": "Flatten adds no parameters: it unrolls the image into one long vector for the Dense layers.",
        "Dropout": "Dropout adds no parameters: during training it sets a random fraction of the values to zero.",
    }.get(kind, "")


# --- wording ----------------------------------------------------------------------------

#: The settings that name a layer in the lesson's words, in the order they are said.
NAMING_SETTINGS = ("units", "filters", "kernel_size", "pool_size", "rate")


def describe(row: LayerRow) -> str:
    """A layer as the lesson names it: ``Dense 16``, ``Conv2D 32 3×3``, ``MaxPooling2D 2×2``."""
    return " ".join([row.kind, *(setting_text(key, row.settings[key]) for key in NAMING_SETTINGS
                                 if key in row.settings)])


def _activation_suffix(row: LayerRow) -> str:
    return f", activation '{row.activation}'" if row.activation not in (None, "linear") else ""


def setting_text(key: str, value: Any) -> str:
    if key in WINDOW_SETTINGS and isinstance(value, tuple):
        return "×".join(map(str, value))
    return count(value) if key in ("units", "filters") and isinstance(value, int) else str(value)


def settings_text(settings: dict) -> str:
    return ", ".join(f"{key}={setting_text(key, value)}" for key, value in settings.items())


def _article(word: str) -> str:
    return "an" if word[:1].upper() in "AEIOU" else "a"
