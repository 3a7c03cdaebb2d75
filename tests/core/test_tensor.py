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
    assert t.device.endswith("device:CPU:0")
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
    with pytest.raises(tf.errors.InvalidArgumentError, match="int32 tensor but is a float32 tensor"):
        tf.constant(1) + tf.constant(1.0)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.constant(1.0, tf.float64) * tf.constant(1.0)
    assert_tensor(tf.constant(7) / tf.constant(2), 3.5, tf.float64)
    assert_tensor(tf.constant(7, tf.int16) / 2, 3.5, tf.float32)
    assert (tf.constant(1.0) + 1).dtype is tf.float32
    assert (tf.constant(1, tf.int64) + 2).dtype is tf.int64
    assert (tf.constant([1.0], tf.float64) + 2.5).dtype is tf.float64
