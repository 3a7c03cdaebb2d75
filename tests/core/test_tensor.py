"""EagerTensor: conversion and dtype inference, printing, Python protocols, dtype rules."""

import copy
import pickle

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor


@pytest.mark.parametrize(
    "value,dtype",
    [
        (1, tf.int32), (2**40, tf.int64), (-(2**31), tf.int32), (1.5, tf.float32), (True, tf.bool),
        (1 + 2j, tf.complex128), ("a", tf.string), (b"a", tf.string), ([1, 2], tf.int32),
        ([1, 2.5], tf.float32), ([[True], [False]], tf.bool), ([1, 2**40], tf.int64),
        (np.array([1.0, 2.0]), tf.float64), (np.float32(1), tf.float32), (np.array([1], np.uint8), tf.uint8),
        ([np.float64(1.0)], tf.float64), (np.array(["x", "yz"]), tf.string), ([], tf.float32),
    ],
)
def test_dtype_inference(value, dtype):
    t = tf.constant(value)
    assert t.dtype is dtype
    assert tf.convert_to_tensor(value).dtype is dtype


def test_values_and_numpy():
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert_tensor(t, np.array([[1, 2], [3, 4]], np.float32), tf.float32)
    a = t.numpy()
    a[0, 0] = 9  # the caller owns the copy
    assert t.numpy()[0, 0] == 1.0
    assert np.asarray(t).dtype == np.float32 and np.array(t, dtype=np.float64).dtype == np.float64
    assert tf.constant(3).numpy() == 3 and isinstance(tf.constant(3).numpy(), np.int32)
    assert tf.constant("hi").numpy() == b"hi"
    assert list(tf.constant(["a", "bc"]).numpy()) == [b"a", b"bc"]


def test_constant_with_dtype_and_shape():
    assert_tensor(tf.constant(1, dtype=tf.float64), 1.0, tf.float64)
    assert_tensor(tf.constant(7, shape=[2, 2]), np.full((2, 2), 7, np.int32))
    assert_tensor(tf.constant([1, 2, 3, 4], shape=(2, 2)), [[1, 2], [3, 4]])
    assert_tensor(tf.constant(np.array([1.7, 2.2]), dtype=tf.float32), np.array([1.7, 2.2], np.float32))
    with pytest.raises(TypeError, match="elements"):
        tf.constant([1, 2, 3], shape=[2, 2])
    with pytest.raises(TypeError):
        tf.constant(1.5, dtype=tf.int32)
    with pytest.raises(TypeError):
        tf.constant("a", dtype=tf.float32)
    with pytest.raises(ValueError, match="non-rectangular"):
        tf.constant([[1, 2], [3]])
    with pytest.raises(ValueError, match="unsupported type"):
        tf.constant(object())


def test_convert_to_tensor_dtype_mismatch():
    t = tf.constant(1.0)
    assert tf.convert_to_tensor(t) is t
    with pytest.raises(ValueError, match="requested dtype int32 for Tensor with dtype float32"):
        tf.convert_to_tensor(t, dtype=tf.int32)
    assert tf.convert_to_tensor(3, dtype_hint=tf.float32).dtype is tf.float32
    assert tf.convert_to_tensor("x", dtype_hint=tf.float32).dtype is tf.string


def test_repr_and_str_match_tensorflow():
    assert repr(tf.constant([1.0, 2.0, 3.0])) == (
        "<tf.Tensor: shape=(3,), dtype=float32, numpy=array([1., 2., 3.], dtype=float32)>"
    )
    assert str(tf.constant([1.0, 2.0, 3.0])) == "tf.Tensor([1. 2. 3.], shape=(3,), dtype=float32)"
    assert repr(tf.constant(1.0)) == "<tf.Tensor: shape=(), dtype=float32, numpy=1.0>"
    assert repr(tf.constant(1)) == "<tf.Tensor: shape=(), dtype=int32, numpy=1>"
    assert repr(tf.constant("abc")) == "<tf.Tensor: shape=(), dtype=string, numpy=b'abc'>"
    assert str(tf.constant("abc")) == "tf.Tensor(b'abc', shape=(), dtype=string)"
    assert repr(tf.constant([[1, 2], [3, 4]])) == (
        "<tf.Tensor: shape=(2, 2), dtype=int32, numpy=\narray([[1, 2],\n       [3, 4]], dtype=int32)>"
    )
    assert str(tf.constant([[1, 2], [3, 4]])) == "tf.Tensor(\n[[1 2]\n [3 4]], shape=(2, 2), dtype=int32)"
    assert repr(tf.constant(1.5, tf.bfloat16)) == "<tf.Tensor: shape=(), dtype=bfloat16, numpy=1.5>"


def test_python_protocols():
    t = tf.constant([1, 2, 3])
    assert len(t) == 3 and t.ndim == 1 and t.shape == [3] and t.get_shape().as_list() == [3]
    assert [int(x) for x in t] == [1, 2, 3]
    assert bool(tf.constant([5])) and not bool(tf.constant(0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)
    with pytest.raises(TypeError, match="len"):
        len(tf.constant(1))
    with pytest.raises(TypeError, match="scalar"):
        iter(tf.constant(1))
    with pytest.raises(TypeError, match="unhashable"):
        hash(t)
    assert {t.ref(): 1}[t.ref()] == 1 and t.ref().deref() is t
    assert float(tf.constant(2.5)) == 2.5 and int(tf.constant(7)) == 7
    assert [10, 20, 30][tf.constant(1)] == 20
    assert f"{tf.constant(2.5):.2f}" == "2.50"
    assert copy.deepcopy(t) is t
    assert_tensor(pickle.loads(pickle.dumps(t)), [1, 2, 3], tf.int32)
    assert t.device.endswith(("device:CPU:0", "device:GPU:0"))  # the default device, as in TF
    with tf.device("/CPU:0"):
        assert tf.constant(1.0).device == "/job:localhost/replica:0/task:0/device:CPU:0"
    with pytest.raises(AttributeError):
        t.op  # noqa: B018


def test_operators_against_numpy():
    x = np.array([[1.5, -2.0], [3.0, 4.0]], np.float32)
    y = np.array([2.0, 0.5], np.float32)
    a, b = tf.constant(x), tf.constant(y)
    assert_tensor(a + b, x + y)
    assert_tensor(a - b, x - y)
    assert_tensor(a * b, x * y)
    assert_tensor(a / b, x / y)
    assert_tensor(-a, -x)
    assert_tensor(abs(a), np.abs(x))
    assert_tensor(a ** 2, x**2)
    assert_tensor(2 * a, 2 * x, tf.float32)
    assert_tensor(1 - a, 1 - x, tf.float32)
    assert_tensor(a < b, x < y, tf.bool)
    assert_tensor(a >= 1.5, x >= 1.5, tf.bool)
    assert_tensor(x + b, x + y, tf.float32)  # NumPy operand on the left defers to the tensor


def test_dtype_rules():
    with pytest.raises(tf.errors.InvalidArgumentError, match="int32 tensor but is a float tensor"):
        tf.constant(1) + tf.constant(1.0)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.constant(1.0, tf.float64) * tf.constant(1.0)
    assert_tensor(tf.constant(7) / tf.constant(2), 3.5, tf.float64)
    assert_tensor(tf.constant(7, tf.int16) / 2, 3.5, tf.float32)
    assert (tf.constant(1.0) + 1).dtype is tf.float32
    assert (tf.constant(1, tf.int64) + 2).dtype is tf.int64
    assert (tf.constant([1.0], tf.float64) + 2.5).dtype is tf.float64


def test_python_operand_conversion():
    # TF 2.21: `+` and tf.add take the tensor's dtype only as a hint for the Python operand, so
    # a value that cannot take it keeps its own dtype and AddV2 reports the mismatch ...
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"AddV2 as input #1\(zero-based\) was expected to be a int32 tensor but is a float tensor"):
        tf.constant(1) + 1.5
    with pytest.raises(tf.errors.InvalidArgumentError, match="float tensor but is a string tensor"):
        tf.constant(1.0) + "a"
    with pytest.raises(tf.errors.InvalidArgumentError, match="int32 tensor but is a float tensor"):
        tf.add(tf.constant([1]), [1.5])
    with pytest.raises(tf.errors.InvalidArgumentError, match="int64 tensor but is a float tensor"):
        tf.constant(1, tf.int64) + 1.5
    # ... while the other ops (and reflected operators) refuse to convert it.
    with pytest.raises(TypeError, match="Cannot convert 1.5 to EagerTensor of dtype int32"):
        tf.constant(1) * 1.5
    with pytest.raises(TypeError, match="Cannot convert 1.5 to EagerTensor of dtype int32"):
        1.5 + tf.constant(1)
    with pytest.raises(TypeError):
        tf.equal(tf.constant(1), 1.5)
    assert_tensor(1 + tf.constant(1.5), 2.5, tf.float32)
    assert_tensor(tf.constant(1.0) + True, 2.0, tf.float32)
    # Python ints wrap into a narrower integer dtype (a C cast); only ints beyond int64 fail.
    assert_tensor(tf.constant(1, tf.uint8) + 300, 45, tf.uint8)
    assert_tensor(tf.constant(1, tf.uint8) - 300, 213, tf.uint8)
    assert_tensor(tf.constant(1, tf.int8) * 200, -56, tf.int8)
    assert_tensor(tf.constant(1) + 2**40, 1, tf.int32)
    assert_tensor(tf.constant(1, tf.int64) + 2**40, 2**40 + 1, tf.int64)
    assert_tensor(tf.constant(300, tf.uint8), 44, tf.uint8)
    assert_tensor(tf.constant(1, tf.uint64) + 2**63, 2**63 + 1, tf.uint64)
    with pytest.raises(ValueError, match="out-of-range integer"):
        tf.constant(1, tf.int64) + 2**63
    with pytest.raises(ValueError, match="out-of-range integer"):
        tf.constant(1) + 2**70


_OPERAND_CASES = [
    "tf.constant(1) + 1.5", "tf.add(tf.constant(1), 1.5)", "tf.constant(1.0) + 'a'", "tf.constant([1]) + [1.5]",
    "tf.constant(1, tf.int64) + 2**40", "tf.constant(1) + 2**40", "tf.constant(1) + 2**70",
    "tf.constant(1, tf.uint8) + 300", "300 + tf.constant(1, tf.uint8)", "tf.constant(1, tf.uint8) * 300",
    "tf.constant(1, tf.uint8) + (-1)", "tf.constant(1.0) + 1j", "tf.constant(1.0) * 1j", "1.5 + tf.constant(1)",
    "1 + tf.constant(1.5)", "tf.constant(1) * 1.5", "tf.constant(1) < 1.5", "tf.constant(1) == 1.5",
    "tf.constant('a') == 'a'", "tf.constant('a') == 1", "tf.constant(True) & 1", "tf.constant(1) + True",
    "tf.constant(1.0, tf.float16) + 1e10", "tf.add(1, 2.5)", "tf.constant(1) + np.float64(1.5)",
    "tf.constant(1.0) + np.array([1.5])", "tf.constant(1, tf.int64) + 2**63", "tf.constant(1, tf.uint64) + 2**63",
    "tf.constant('a') + 'b'", "'b' + tf.constant(['a'])", "tf.add(1.5, tf.constant(1))", "tf.add(1, tf.constant(1.5))",
]


# Run as text both here and in the TensorFlow subprocess (so it has no source file to find).
_OUTCOMES = """
def outcomes(tf, np, cases):
    out = {}
    for code in cases:
        try:
            r = eval(code)
            out[code] = [r.dtype.name, np.asarray(r).tolist() if r.dtype.name != "string" else None]
        except Exception as e:
            out[code] = [type(e).__name__]
    return out
"""


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_python_operand_conversion_matches_tensorflow(tf_oracle):
    want = tf_oracle(_OUTCOMES + "\nresult = outcomes(tf, np, args['cases'])", {"cases": _OPERAND_CASES})
    scope = {}
    exec(_OUTCOMES, scope)  # noqa: S102 - the snippet above, shared with the oracle
    got = scope["outcomes"](tf, np, _OPERAND_CASES)
    for code in _OPERAND_CASES:
        assert got[code] == want[code], f"{code}: flowstone {got[code]} vs TensorFlow {want[code]}"
