"""Row fingerprints: which rows of an array are rows of the test set, whatever the variable,
copy, file round trip or slice they came through.

The kernel's ledger (``grade/kernel/bootstrap.py``) fingerprints the rows each model is
fitted, scored or asked to predict on while the notebook runs; the judge fingerprints the
grader's test set the same way and counts the overlap. One function for both sides, so the
two always agree. It ships to students with the rest of the runtime: it holds no answer.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

ROWS_KEPT = 512  # fingerprints recorded per call: enough to tell test rows from others


def row_fingerprints(data: Any, limit: int = ROWS_KEPT) -> list[str]:
    """Short digests of the first ``limit`` rows of ``data`` (images or flat rows alike: each
    row is flattened), rounded to 5 decimals in float64 so that float32, float64 and integer
    copies of one image agree; [] for anything that is not an array of numbers."""
    try:
        array = np.asarray(data)
    except Exception:  # a Dataset, a generator: no rows to read here
        return []
    if array.dtype.kind not in "biuf" or array.ndim < 1 or len(array) == 0:
        return []
    rows = np.round(array[:limit].reshape(min(len(array), limit), -1).astype(np.float64), 5)
    return [hashlib.blake2b(row.tobytes(), digest_size=8).hexdigest() for row in rows]
