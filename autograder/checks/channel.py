"""The only road from a probe to a judge: plain values, encoded without pickle.

A probe runs next to student code, so whatever it returns is untrusted. Unpickling
would let a crafted object run code in the judge, and an object's methods (``__eq__``,
``__float__``) could lie about its value. So a probe answers with a tree of plain values
(``None``, bools, ints, floats, strings, lists, string-keyed dicts and numeric NumPy
arrays) and every answer crosses this channel before a judge sees it, even when both run
in one process. What reaches the judge is then a fresh copy built by this module, never
an object the student's code could have touched.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np

_ARRAY_TAG = "__ndarray__"
_FLOAT_TAG = "__float__"
_ALLOWED_DTYPE_KINDS = "biuf"  # bool, int, unsigned, float: no objects, no strings


class ChannelError(TypeError):
    """A probe tried to send something that is not a plain value."""


def encode(values: Any) -> bytes:
    """Turn a tree of plain values into bytes (an ``.npz`` archive holding JSON + arrays)."""
    arrays: list[np.ndarray] = []
    tree = _to_jsonable(values, arrays, path="values")
    buffer = io.BytesIO()
    payload: dict[str, Any] = {"tree": np.frombuffer(json.dumps(tree).encode(), dtype=np.uint8)}
    payload.update({f"a{i}": array for i, array in enumerate(arrays)})
    np.savez(buffer, **payload)
    return buffer.getvalue()


def decode(data: bytes) -> Any:
    """Rebuild the values sent by :func:`encode`; never unpickles. Bytes that are not what
    :func:`encode` makes (a reply forged by the student's code) raise :class:`ChannelError`."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            tree = json.loads(archive["tree"].tobytes().decode())
            arrays = {name: archive[name] for name in archive.files if name != "tree"}
        return _from_jsonable(tree, arrays)
    except ChannelError:
        raise
    except Exception as error:  # any error: zip, npy, JSON and tree errors alike
        raise ChannelError(f"not an answer the channel encoded ({type(error).__name__}: {str(error)[:200]})") from None


def roundtrip(values: Any) -> Any:
    """What a judge in another process would receive: used when probe and judge share one."""
    return decode(encode(values))


def _to_jsonable(value: Any, arrays: list[np.ndarray], path: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else {_FLOAT_TAG: repr(number)}
    if isinstance(value, np.ndarray):
        return _array_reference(value, arrays, path)
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(item, arrays, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return _dict_to_jsonable(value, arrays, path)
    raise ChannelError(f"{path}: a probe may only send plain values, not {type(value).__name__}")


def _dict_to_jsonable(value: dict, arrays: list[np.ndarray], path: str) -> dict:
    for key in value:
        if not isinstance(key, str) or key in (_ARRAY_TAG, _FLOAT_TAG):
            raise ChannelError(f"{path}: dictionary keys must be plain strings, got {key!r}")
    return {key: _to_jsonable(item, arrays, f"{path}.{key}") for key, item in value.items()}


def _array_reference(value: np.ndarray, arrays: list[np.ndarray], path: str) -> dict:
    if value.dtype.kind not in _ALLOWED_DTYPE_KINDS:
        raise ChannelError(f"{path}: arrays must be numeric, got dtype {value.dtype}")
    arrays.append(np.array(value, copy=True, order="C"))
    return {_ARRAY_TAG: f"a{len(arrays) - 1}"}


def _from_jsonable(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(node, list):
        return [_from_jsonable(item, arrays) for item in node]
    if isinstance(node, dict):
        if set(node) == {_ARRAY_TAG}:
            if node[_ARRAY_TAG] not in arrays:
                raise ChannelError(f"the answer names an array it does not hold ({str(node[_ARRAY_TAG])[:40]})")
            return arrays[node[_ARRAY_TAG]]
        if set(node) == {_FLOAT_TAG}:
            return float(node[_FLOAT_TAG])
        return {key: _from_jsonable(item, arrays) for key, item in node.items()}
    return node
