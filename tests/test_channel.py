"""The probe → judge channel carries plain values only, and never unpickles."""

from __future__ import annotations

import io

import numpy as np
import pytest

from autograder.checks.channel import ChannelError, decode, encode, roundtrip


def test_plain_values_roundtrip_exactly():
    values = {"n": 3, "x": 0.25, "ok": True, "none": None, "s": "é", "nested": [1, [2.5, "a"]],
              "array": np.arange(6, dtype=np.float32).reshape(2, 3), "flags": np.array([True, False])}
    back = roundtrip(values)
    assert back["nested"] == [1, [2.5, "a"]]
    assert back["s"] == "é"
    assert back["none"] is None
    assert back["array"].dtype == np.float32
    assert np.array_equal(back["array"], values["array"])
    assert back["flags"].dtype == bool


def test_numpy_scalars_become_python_numbers():
    back = roundtrip({"i": np.int64(7), "f": np.float32(0.5), "b": np.bool_(True)})
    assert type(back["i"]) is int
    assert type(back["f"]) is float
    assert back["b"] is True


def test_non_finite_floats_survive():
    back = roundtrip([float("nan"), float("inf"), -float("inf")])
    assert np.isnan(back[0])
    assert back[1] == float("inf")
    assert back[2] == -float("inf")


@pytest.mark.parametrize("value", [object(), {1: "int key"}, np.array(["a"], dtype=object),
                                   {"__ndarray__": "a0"}, lambda: None])
def test_anything_else_is_refused(value):
    with pytest.raises(ChannelError):
        encode(value)


def test_a_pickle_in_the_archive_is_never_loaded():
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled')",))
    buffer = io.BytesIO()
    np.savez(buffer, tree=np.frombuffer(b'{"__ndarray__": "a0"}', dtype=np.uint8),
             a0=np.array([Boom()], dtype=object))
    with pytest.raises(ChannelError, match="pickle"):
        decode(buffer.getvalue())


def _archive(tree: bytes, **arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, tree=np.frombuffer(tree, dtype=np.uint8), **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("forged", [
    _archive(b'{"__ndarray__": "a7"}'),              # names an array it does not hold
    _archive(b'{"x": '),                              # a tree that is not JSON
    _archive(b'[1, 2]')[:40],                         # a truncated archive
    b"not an archive at all",
    _archive(b'{}', tree2=np.zeros(2)).replace(b"tree.npy", b"tref.npy"),  # no tree
], ids=["missing-array", "bad-json", "truncated", "garbage", "no-tree"])
def test_a_forged_reply_is_a_channel_error_never_another_exception(forged):
    """A reply the student's code wrote itself must fail its check, not the whole grading."""
    with pytest.raises(ChannelError):
        decode(forged)


def test_decoded_arrays_are_copies():
    original = np.zeros(3)
    back = roundtrip(original)
    original[0] = 1
    assert back[0] == 0
