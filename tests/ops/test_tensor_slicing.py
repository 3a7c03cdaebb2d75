"""`Tensor.__getitem__` against NumPy: the whole slicing language, gradients and errors."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients

X = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)

KEYS = [
    1, -1, (0, 2), (1, -1, -4), slice(None), slice(1, None), slice(None, 2), slice(None, None, -1),
    (slice(None), slice(None, None, 2)), (slice(None), slice(None, None, -2), slice(3, 0, -1)),
    (Ellipsis, 1), (Ellipsis, slice(1, 3)), (0, Ellipsis, 2), (None,), (None, 1), (Ellipsis, None),
    (slice(None), None, 1, None), (1, slice(-2, None), slice(-100, 100)), (slice(5, 10),),
    (slice(-1, -3, -1), Ellipsis, slice(None, None, 3)), (), Ellipsis, (0, 1, 2), (slice(2, 0), 0),
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_getitem_matches_numpy(key):
    t = tf.constant(X)
    assert_tensor(t[key], X[key], dtype=tf.float32)


def test_tensor_indices_and_bounds():
    t = tf.constant(X)
    i, j = tf.constant(1), tf.constant(2, tf.int64)
    assert_tensor(t[i], X[1])
    assert_tensor(t[:, j], X[:, 2])
    assert_tensor(t[:, i:], X[:, 1:])
    assert_tensor(t[..., i:j], X[..., 1:2])
    assert_tensor(t[np.int64(1), np.int32(-1)], X[1, -1])


def test_list_key_is_a_tuple_as_in_tensorflow():
    t = tf.constant(X)
    assert_tensor(t[[0, 1]], X[0, 1])


def test_boolean_masks():
    t = tf.constant(X)
    mask = np.array([True, False])
    assert_tensor(t[tf.constant(mask)], X[mask])
    assert_tensor(t[mask], X[mask])
    m2 = X[0] > 5
    assert_tensor(t[0][m2], X[0][m2])


def test_iteration_and_len():
    t = tf.constant(X)
    assert len(t) == 2
    rows = list(t)
    assert len(rows) == 2
    assert_tensor(rows[1], X[1])


@pytest.mark.parametrize("key,message", [
    (5, "slice index 5 of dimension 0 out of bounds."),
    (-3, "slice index -3 of dimension 0 out of bounds."),
    ((0, 3), "slice index 3 of dimension 1 out of bounds."),
    ((0, 0, 0, 0), "Index out of range using input dim 3; input has only 3 dims"),
    ((Ellipsis, Ellipsis), "Multiple ellipses in slice spec not allowed"),
    (slice(None, None, 0), "strides[0] must be non-zero"),
])
def test_getitem_errors(key, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message.replace("[", r"\[").replace("]", r"\]")):
        tf.constant(X)[key]


@pytest.mark.parametrize("key", [1.0, "a", tf.constant([0, 1]), slice(0.5, 2), tf.constant(1.0)], ids=repr)
def test_getitem_type_errors(key):
    with pytest.raises(TypeError, match="Only integers, slices"):
        tf.constant(X)[key]


def test_bool_list_is_rejected():
    with pytest.raises(tf.errors.InvalidArgumentError, match="attr 'Index' of bool"):
        tf.constant(X)[[True, False]]


def test_getitem_gradients():
    check_gradients(lambda x: x[1:, ::-1] * x[1:, ::-1], X[:, :, 0].astype(np.float64))
    check_gradients(lambda x: x[..., None, 1], X[0].astype(np.float64))
    check_gradients(lambda x: x[0, 2] * 3.0, X[0].astype(np.float64))


def test_strided_slice_raw_masks():
    t = tf.constant(X)
    out = tf.strided_slice(t, [0, 0, 0], [1, 2, 3], [1, 1, 1], begin_mask=0b010, end_mask=0b100,
                           shrink_axis_mask=0b001)
    assert_tensor(out, X[0, :2, 0:])
    out = tf.strided_slice(t, [0, 1], [0, 2], [1, 1], ellipsis_mask=1)
    assert_tensor(out, X[..., 1:2])
    out = tf.strided_slice(t, [0, 0], [0, 1], [1, 1], new_axis_mask=1)
    assert_tensor(out, X[None, 0:1])


def test_strided_slice_grad_second_order():
    x = tf.constant(X[0].astype(np.float64))
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(x[1:, ::2] ** 2)
        g = inner.gradient(y, x)
        z = tf.reduce_sum(g * g)
    gg = outer.gradient(z, x)
    want = np.zeros_like(X[0], dtype=np.float64)
    want[1:, ::2] = 8 * X[0][1:, ::2]
    np.testing.assert_allclose(gg.numpy(), want)
