"""One call that makes a notebook run repeatable.

Grading the same submission twice must give the same score, and a student re-running a
notebook should see the same numbers the grader sees. Python's ``random``, NumPy,
TensorFlow and Keras each keep their own generator, so seeding only one of them (as
Otter's per-cell seeding does for NumPy and ``random``) still leaves Keras weight
initialisation and dropout masks free to change between runs.

This module ships to students, so it imports TensorFlow and Keras only if the notebook
already imported them: seeding must not add four seconds to a notebook that never uses
them.
"""

from __future__ import annotations

import os
import random
import sys

import numpy as np

DEFAULT_SEED = 0


def seed_everything(seed: int = DEFAULT_SEED) -> int:
    """Seed Python, NumPy, and (when loaded) TensorFlow and Keras; return the seed used.

    ``PYTHONHASHSEED`` only affects interpreters started afterwards, but setting it keeps
    any worker processes that Keras or scikit-learn spawn consistent with this one.
    """
    seed = int(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)  # seeds Python, NumPy and the backend
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        tf.random.set_seed(seed)
        _make_tensorflow_deterministic(tf)
    return seed


def _make_tensorflow_deterministic(tf) -> None:
    """Ask TensorFlow for deterministic kernels: on CPU, reductions can otherwise reorder."""
    try:
        tf.config.experimental.enable_op_determinism()
    except (AttributeError, RuntimeError):  # older TF, or already configured
        pass
