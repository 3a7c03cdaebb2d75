"""Slice, gather/scatter, where and boolean_mask against NumPy, with gradients and errors."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients

rng = np.random.default_rng(1)
A = rng.normal(size=(3, 4))
B = rng.normal(size=(2, 3, 4))
X = np.arange(6, dtype=np.int32).reshape(2, 3)


def test_slice():
    assert_tensor(tf.slice(tf.constant(X), [0, 1], [2, -1]), X[:, 1:])
    assert_tensor(tf.slice(tf.constant(B), [1, 0, 2], [1, 2, 2]), B[1:2, 0:2, 2:4])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected size\[0\] in \[0, 2\], but got 3"):
        tf.slice(tf.constant(X), [0, 0], [3, 1])
    check_gradients(lambda t: tf.slice(t, [1, 1], [2, -1]) ** 2, A)


def test_gather_axis_and_batch_dims():
    x = tf.constant(A)
    assert_tensor(tf.gather(x, [2, 0, 2]), A[[2, 0, 2]])
    assert_tensor(tf.gather(x, [[1, 3], [0, 0]], axis=1), A[:, [[1, 3], [0, 0]]])
    assert_tensor(tf.gather(x, [3, 1], axis=-1), A[:, [3, 1]])
    idx = np.array([[2, 0], [1, 1], [3, 2]])
    assert_tensor(tf.gather(x, idx, batch_dims=1), np.take_along_axis(A, idx, 1))
    idx3 = np.array([[1, 0, 2], [2, 2, 0]])
    want = np.stack([B[b][:, idx3[b]] for b in range(2)])
    assert_tensor(tf.gather(tf.constant(B), idx3, axis=2, batch_dims=1), want)
    assert tf.gather(x, tf.constant([1], tf.int64)).shape == (1, 4)


def test_gather_errors():
    x = tf.constant(X)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 5 is not in \[0, 2\)"):
        tf.gather(x, [0, 5])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 5 is not in \[0, 3\)"):
        tf.gather(x, [0, 5], axis=1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Shape must be at least rank 4 but is rank 2"):
        tf.gather(x, [0], axis=3)


def test_gather_gradients():
    # Gathering whole rows gives TF's IndexedSlices; `t * 1.0` makes the tape densify it.
    small = B[:, :2, :3]
    check_gradients(lambda t: tf.gather(t * 1.0, [1, 0, 1]) ** 2, small)
    check_gradients(lambda t: tf.gather(t, [[1, 0], [2, 2]], axis=2, batch_dims=1) ** 2, small)
    check_gradients(lambda t: tf.gather(t, [1, 1], axis=1) ** 2, small)
    x = tf.constant(A)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.gather(x, [2, 0, 2]) ** 2)
    got = tf.convert_to_tensor(tape.gradient(y, x))
    want = np.zeros_like(A)
    np.add.at(want, [2, 0, 2], 2 * A[[2, 0, 2]])
    np.testing.assert_allclose(got.numpy(), want)


def test_gather_nd():
    x = tf.constant(B)
    assert_tensor(tf.gather_nd(x, [[1, 2], [0, 0]]), B[[1, 0], [2, 0]])
    assert_tensor(tf.gather_nd(x, [[1, 2, 3]]), B[[1], [2], [3]])
    assert_tensor(tf.gather_nd(x, [[[1], [0]]]), B[[[1, 0]]])
    idx = np.array([[[0], [2]], [[1], [1]]])
    assert_tensor(tf.gather_nd(x, idx, batch_dims=1), np.stack([B[b][idx[b, :, 0]] for b in range(2)]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[0\] = \[5\] does not index into param shape \[3\]"):
        tf.gather_nd([1, 2, 3], [[5]])
    check_gradients(lambda t: tf.gather_nd(t, [[1, 2], [1, 2], [0, 1]]) ** 2, B[:, :, :2])
    check_gradients(lambda t: tf.gather_nd(t, idx, batch_dims=1) ** 2, B[:, :, :2])


def test_scatter_nd():
    assert_tensor(tf.scatter_nd([[1], [1]], [1.0, 2.0], [3]), [0.0, 3.0, 0.0], dtype=tf.float32)
    got = tf.scatter_nd([[0, 1], [2, 0]], [5, 6], tf.constant([3, 2]))
    assert_tensor(got, [[0, 5], [0, 0], [6, 0]], dtype=tf.int32)
    got = tf.scatter_nd([[1]], [[1.0, 2.0]], [2, 2])
    assert_tensor(got, [[0, 0], [1, 2]])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[0\] = \[5\] does not index into shape \[3\]"):
        tf.scatter_nd([[5]], [1.0], [3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="updates"):
        tf.scatter_nd([[1]], [1.0, 2.0], [3])
    check_gradients(lambda u: tf.scatter_nd([[1], [1], [0]], u, [3, 4]) ** 2, A)


@pytest.mark.parametrize("name,fn", [
    ("update", lambda t, i, u: t.__setitem__(i, u)),
    ("add", lambda t, i, u: np.add.at(t, i, u)),
    ("sub", lambda t, i, u: np.subtract.at(t, i, u)),
    ("min", lambda t, i, u: np.minimum.at(t, i, u)),
    ("max", lambda t, i, u: np.maximum.at(t, i, u)),
])
def test_tensor_scatter(name, fn):
    op = getattr(tf, f"tensor_scatter_nd_{name}")
    idx = np.array([[0, 1], [2, 3]])
    updates = np.array([5.0, -5.0])
    want = A.copy()
    fn(want, (idx[:, 0], idx[:, 1]), updates)
    assert_tensor(op(tf.constant(A), idx, updates), want)
    check_gradients(lambda t, u: op(t, idx, u) ** 2, A, np.array([0.25, -0.75]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not index into shape"):
        op(tf.constant(A), [[7, 0]], [1.0])


def test_where():
    c = np.array([[True, False], [False, True]])
    got = tf.where(c)
    assert_tensor(got, np.argwhere(c), dtype=tf.int64)
    assert_tensor(tf.where(tf.constant([0.0, 2.0, 0.0, 1.0])), [[1], [3]], dtype=tf.int64)
    assert tf.where(tf.zeros([0, 2], tf.bool)).shape == (0, 2)
    assert_tensor(tf.where([True, False], 1, 2), [1, 2], dtype=tf.int32)
    assert_tensor(tf.where(A > 0, tf.constant(A), 0.0), np.where(A > 0, A, 0.0))
    assert_tensor(tf.where([[True], [False]], [1.0, 2.0], [[5.0]]), np.where([[True], [False]], [1, 2], [[5]]))
    with pytest.raises(ValueError, match="x and y must both be non-None or both be None."):
        tf.where([True], [1])
    check_gradients(lambda x, y: tf.where(A > 0, x, y) ** 2, A, A[0])


def test_boolean_mask():
    x = tf.constant(B)
    m = B[:, :, 0] > 0
    assert_tensor(tf.boolean_mask(x, m), B[m])
    assert_tensor(tf.boolean_mask(x, [True, False, True], axis=1), B[:, [True, False, True]])
    assert_tensor(tf.boolean_mask(tf.constant(X), [False, False]), np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"Shapes \(2,\) and \(3,\) are incompatible"):
        tf.boolean_mask(tf.constant(X), [True, False, True])
    with pytest.raises(ValueError, match="mask cannot be scalar"):
        tf.boolean_mask(tf.constant(X), True)
    check_gradients(lambda t: tf.boolean_mask(t * 1.0, m[:, :2]) ** 2, B[:, :2, :2])


def test_newaxis():
    assert tf.newaxis is None
    assert tf.constant(X)[tf.newaxis].shape == (1, 2, 3)
