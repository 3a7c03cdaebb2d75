"""tf.make_tensor_proto / tf.make_ndarray, including byte-for-byte agreement with TensorFlow."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import flowstone as tf
from flowstone.protos import tensor_pb2, types_pb2

CASES = [
    ("1.0", {}), ("[1.0, 2.0]", {}), ("1.0", {"shape": [2, 3]}), ("[1, 2, 3]", {}),
    ("np.array([1, 2], np.int64)", {}), ("np.array(1.5, np.float16)", {}), ("[True, False]", {}),
    ("'ab'", {}), ("[b'a', b'bc']", {}), ("[1 + 2j]", {}), ("np.array([5], np.int8)", {}),
    ("[1.0, 2.0]", {"shape": [2, 2]}), ("np.zeros((0, 2), np.float32)", {}), ("np.array([1, 2], np.uint32)", {}),
]


def test_values_and_layout():
    p = tf.make_tensor_proto([1.0, 2.0])
    assert p.dtype == types_pb2.DT_FLOAT and p.tensor_content == np.array([1, 2], "<f4").tobytes()
    p = tf.make_tensor_proto(1.0, shape=[3])
    assert list(p.float_val) == [1.0]
    np.testing.assert_array_equal(tf.make_ndarray(p), np.ones(3, np.float32))
    b = np.array([1.5, 2], ml_dtypes.bfloat16)
    np.testing.assert_array_equal(tf.make_ndarray(tf.make_tensor_proto(b)), b)
    s = tf.make_ndarray(tf.make_tensor_proto([b"x", b"yz"]))
    assert s.dtype == object and list(s) == [b"x", b"yz"]


def test_fewer_values_repeat_the_last():
    p = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1, 2])
    p.tensor_shape.dim.add(size=3)
    np.testing.assert_array_equal(tf.make_ndarray(p), [1, 2, 2])
    p = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    p.tensor_shape.dim.add(size=2)
    np.testing.assert_array_equal(tf.make_ndarray(p), [0, 0])


def test_errors():
    with pytest.raises(ValueError, match="Too many elements provided. Takes at most 2, but got 3."):
        tf.make_tensor_proto([1, 2, 3], shape=[2])
    with pytest.raises(TypeError, match=r"Expected Tensor's shape: \(4,\), but got \(3,\)."):
        tf.make_tensor_proto([1, 2, 3], shape=[4], verify_shape=True)
    with pytest.raises(TypeError, match="Expected int32, but got 1.5 of type 'float'."):
        tf.make_tensor_proto(1.5, dtype=tf.int32)


@pytest.mark.oracle
def test_same_bytes_as_tensorflow(tf_oracle):
    theirs = tf_oracle(
        """
        result = [tf.make_tensor_proto(eval(v), **kw).SerializeToString().hex() for v, kw in args["cases"]]
        """,
        {"cases": CASES},
    )
    for (value, kw), expected in zip(CASES, theirs, strict=True):
        ours = tf.make_tensor_proto(eval(value), **kw)
        assert ours == tensor_pb2.TensorProto.FromString(bytes.fromhex(expected)), value
