"""sort, argsort, unique and searchsorted against NumPy."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients

rng = np.random.default_rng(3)
A = rng.normal(size=(3, 5))


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32, tf.int64, tf.uint8])
def test_sort_dtypes(dtype):
    values = np.array([3, 1, 2, 255 if dtype == tf.uint8 else -7, 0, 1])
    x = tf.constant(values, dtype=dtype)
    want = np.sort(values.astype(dtype.as_numpy_dtype))
    assert_tensor(tf.sort(x), want, dtype=dtype)
    assert_tensor(tf.sort(x, direction="DESCENDING"), want[::-1], dtype=dtype)


def test_sort_extreme_ints():
    v = np.array([2**31 - 1, -(2**31), 0, -1], np.int32)
    assert_tensor(tf.sort(tf.constant(v)), np.sort(v))


def test_sort_axis_and_argsort():
    x = tf.constant(A)
    assert_tensor(tf.sort(x, axis=0), np.sort(A, axis=0))
    assert_tensor(tf.argsort(x, axis=0), np.argsort(A, axis=0), dtype=tf.int32)
    assert_tensor(tf.argsort(x, direction="DESCENDING"), np.argsort(-A, axis=-1))
    ties = tf.constant([3.0, 1.0, 2.0, 1.0, 3.0])
    assert_tensor(tf.argsort(ties), [1, 3, 2, 0, 4])
    assert_tensor(tf.argsort(ties, direction="DESCENDING", stable=True), [0, 4, 2, 1, 3])
    with pytest.raises(ValueError, match="Received: direction=UP"):
        tf.sort([3, 1, 2], direction="UP")
    check_gradients(lambda t: tf.sort(t, axis=0) * np.arange(15.0).reshape(3, 5), A)


def test_unique():
    y, idx = tf.unique([3, 1, 3, 2, 1])
    assert_tensor(y, [3, 1, 2], dtype=tf.int32)
    assert_tensor(idx, [0, 1, 0, 2, 1], dtype=tf.int32)
    out = tf.unique(tf.constant([1.5, 1.5]), out_idx=tf.int64)
    assert out.idx.dtype == tf.int64 and out.y.numpy().tolist() == [1.5]
    y, idx, count = tf.unique_with_counts([3, 1, 3, 2])
    assert_tensor(count, [2, 1, 1], dtype=tf.int32)
    assert_tensor(tf.unique(tf.zeros([0], tf.int32)).y, np.zeros(0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="unique expects a 1D vector."):
        tf.unique(tf.zeros([2, 2]))


def test_searchsorted():
    seq = np.array([[1, 3, 5, 5, 7], [0, 2, 4, 6, 8]])
    vals = np.array([[5, 0, 8], [5, 9, -1]])
    for side in ("left", "right"):
        want = np.stack([np.searchsorted(s, v, side=side) for s, v in zip(seq, vals, strict=False)])
        assert_tensor(tf.searchsorted(seq, vals, side=side), want, dtype=tf.int32)
    assert_tensor(tf.searchsorted([1, 3, 5], [2, 5]), [1, 2])
    assert tf.searchsorted([1.0, 2.0], [1.5], out_type=tf.int64).dtype == tf.int64
    with pytest.raises(ValueError):
        tf.searchsorted([1, 2], [1], side="middle")
