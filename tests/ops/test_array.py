"""Array creation and layout ops against NumPy: values, dtypes, shapes, gradients and errors."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients

rng = np.random.default_rng(0)
A = rng.normal(size=(2, 3))
B = rng.normal(size=(2, 3, 4))
X = np.arange(6, dtype=np.int32).reshape(2, 3)


# --- creation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [[2, 3], (2, 3), tf.TensorShape([2, 3]), np.array([2, 3])], ids=repr)
def test_zeros_ones_shapes(shape):
    assert_tensor(tf.zeros(shape), np.zeros((2, 3)), dtype=tf.float32)
    assert_tensor(tf.ones(shape, tf.int64), np.ones((2, 3)), dtype=tf.int64)


def test_zeros_ones_dtypes():
    assert_tensor(tf.zeros(tf.constant([2])), np.zeros(2), dtype=tf.float32)
    assert_tensor(tf.ones([2], "float64"), np.ones(2), dtype=tf.float64)
    assert_tensor(tf.ones([2], tf.bool), np.ones(2, bool), dtype=tf.bool)
    assert_tensor(tf.zeros([], tf.int32), np.zeros(()), dtype=tf.int32)
    s = tf.zeros([2], tf.string)
    assert s.dtype == tf.string and s.numpy().tolist() == [b"", b""]
    with pytest.raises(TypeError):
        tf.ones([2], tf.string)


def test_zeros_like_ones_like():
    x = tf.constant(X)
    assert_tensor(tf.zeros_like(x), np.zeros_like(X), dtype=tf.int32)
    assert_tensor(tf.ones_like(x, dtype=tf.float32), np.ones((2, 3)), dtype=tf.float32)
    assert_tensor(tf.zeros_like(x, dtype="float64"), np.zeros((2, 3)), dtype=tf.float64)
    assert tf.zeros_like(tf.constant(["a"])).numpy().tolist() == [b""]
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.ones_like(tf.constant(["a"]))


def test_fill_and_errors():
    assert_tensor(tf.fill([2, 2], 7), np.full((2, 2), 7), dtype=tf.int32)
    assert_tensor(tf.fill((3,), 1.5), np.full(3, 1.5), dtype=tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Dimension -1 must be >= 0"):
        tf.fill([2, -1], 1)
    check_gradients(lambda v: tf.fill([2, 3], v), np.array(2.0))


def test_range():
    assert_tensor(tf.range(5), np.arange(5), dtype=tf.int32)
    assert_tensor(tf.range(1, 10, 3), np.arange(1, 10, 3), dtype=tf.int32)
    assert_tensor(tf.range(3, dtype=tf.float32), np.arange(3), dtype=tf.float32)
    assert_tensor(tf.range(0.0, 1.0, 0.25), np.arange(0, 1, 0.25), dtype=tf.float32)
    assert_tensor(tf.range(5, 0, -2), np.arange(5, 0, -2), dtype=tf.int32)
    assert_tensor(tf.range(tf.constant(4, tf.int64)), np.arange(4), dtype=tf.int64)


def test_linspace():
    assert_tensor(tf.linspace(0.0, 1.0, 5), np.linspace(0, 1, 5), dtype=tf.float32)
    assert_tensor(tf.lin_space(2.0, 5.0, 1), [2.0], dtype=tf.float32)
    assert_tensor(tf.linspace(0, 10, 5), np.linspace(0, 10, 5), dtype=tf.float64)
    got = tf.linspace([0.0, 1.0], [1.0, 3.0], 3, axis=1)
    assert_tensor(got, np.linspace([0.0, 1.0], [1.0, 3.0], 3, axis=1), dtype=tf.float32)
    assert_tensor(tf.linspace([0.0, 1.0], [1.0, 3.0], 3), np.linspace([0.0, 1.0], [1.0, 3.0], 3))
    check_gradients(lambda a, b: tf.linspace(a, b, 4) ** 2, np.array(0.5), np.array(2.0))


def test_eye():
    assert_tensor(tf.eye(3), np.eye(3), dtype=tf.float32)
    assert_tensor(tf.eye(2, 3, dtype=tf.int32), np.eye(2, 3), dtype=tf.int32)
    assert_tensor(tf.eye(2, batch_shape=[3]), np.broadcast_to(np.eye(2), (3, 2, 2)))
    assert tf.linalg.eye(2, 3, batch_shape=[2]).shape == (2, 2, 3)


def test_one_hot():
    assert_tensor(tf.one_hot([0, 2, -1], 3), np.eye(3)[[0, 2]].tolist() + [[0, 0, 0]], dtype=tf.float32)
    assert_tensor(tf.one_hot([0, 2], 3, on_value=5, off_value=1), [[5, 1, 1], [1, 1, 5]], dtype=tf.int32)
    assert_tensor(tf.one_hot([0, 1], 2, axis=0), [[1, 0], [0, 1]])
    assert tf.one_hot([0], 2, dtype=tf.int64).dtype == tf.int64
    assert_tensor(tf.one_hot([[0, 1]], 3, axis=1), np.moveaxis(np.eye(3)[[[0, 1]]], -1, 1))
    assert tf.one_hot([1], 2, dtype=tf.bool).numpy().tolist() == [[False, True]]


def test_meshgrid():
    for indexing in ("xy", "ij"):
        got = tf.meshgrid([1, 2, 3], [4, 5], [6, 7, 8, 9], indexing=indexing)
        want = np.meshgrid([1, 2, 3], [4, 5], [6, 7, 8, 9], indexing=indexing)
        for g, w in zip(got, want, strict=False):
            assert_tensor(g, w, dtype=tf.int32)
    with pytest.raises(ValueError):
        tf.meshgrid([1], indexing="bad")


def test_identity():
    assert_tensor(tf.identity([1, 2]), [1, 2], dtype=tf.int32)


# --- shape ops -----------------------------------------------------------------------------------


def test_reshape_and_errors():
    assert_tensor(tf.reshape(tf.constant(X), [3, -1]), X.reshape(3, -1))
    assert_tensor(tf.reshape(tf.constant(X), tf.TensorShape([6])), X.reshape(6))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="Input to reshape is a tensor with 6 values, but the requested shape has 4"):
        tf.reshape(tf.range(6), [2, 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="requires a multiple of 4"):
        tf.reshape(tf.range(6), [4, -1])


def test_shape_size_rank_shape_n():
    x = tf.constant(B)
    assert_tensor(tf.shape(x), [2, 3, 4], dtype=tf.int32)
    assert tf.shape(x, out_type=tf.int64).dtype == tf.int64
    assert int(tf.size(x)) == 24 and int(tf.rank(x)) == 3
    got = tf.shape_n([x, tf.zeros([5], tf.float64)])
    assert [g.numpy().tolist() for g in got] == [[2, 3, 4], [5]]
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.shape_n([x, tf.zeros([1], tf.float32)])


def test_expand_dims_and_squeeze():
    x = tf.constant(A)
    assert tf.expand_dims(x, -1).shape == (2, 3, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Tried to expand dim index 4"):
        tf.expand_dims(x, 4)
    z = tf.zeros([1, 2, 1, 3])
    assert tf.squeeze(z).shape == (2, 3)
    assert tf.squeeze(z, axis=[0]).shape == (2, 1, 3)
    assert tf.squeeze(z, -2).shape == (1, 2, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Can not squeeze dim\[1\], expected a dimension of 1, got 2"):
        tf.squeeze(z, [1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Tried to squeeze dim index 4"):
        tf.squeeze(z, [4])
    check_gradients(lambda t: tf.squeeze(t, [1]) * 2.0, A.reshape(2, 1, 3))


def test_broadcast_to_and_shapes():
    assert_tensor(tf.broadcast_to([1, 2], [3, 2]), np.broadcast_to([1, 2], (3, 2)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Incompatible shapes: \[3\] vs. \[2,2\]"):
        tf.broadcast_to([1, 2, 3], [2, 2])
    assert tf.broadcast_static_shape(tf.TensorShape([2, 1]), tf.TensorShape([3])) == tf.TensorShape([2, 3])
    assert tf.broadcast_static_shape(tf.TensorShape([None, 1]), tf.TensorShape([3])).as_list() == [None, 3]
    with pytest.raises(ValueError, match=r"Received: \(2, 3\) and \(4,\)"):
        tf.broadcast_static_shape(tf.TensorShape([2, 3]), tf.TensorShape([4]))
    assert_tensor(tf.broadcast_dynamic_shape([2, 1], [3]), [2, 3], dtype=tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Incompatible shapes: \[2,3\] vs. \[4\]"):
        tf.broadcast_dynamic_shape([2, 3], [4])


def test_transpose():
    x = tf.constant(B)
    assert_tensor(tf.transpose(x), B.T)
    assert_tensor(tf.transpose(x, [1, 0, 2]), B.transpose(1, 0, 2))
    c = tf.constant([[1 + 2j, 3j]])
    assert_tensor(tf.transpose(c, conjugate=True), np.conj(np.array([[1 + 2j, 3j]]).T))
    with pytest.raises(tf.errors.InvalidArgumentError, match="transpose expects a vector of size 3"):
        tf.transpose(x, [0, 1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="1 is missing from"):
        tf.transpose(x, [0, 0, 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"3 is out of range \[0 .. 3\)"):
        tf.transpose(x, [0, 1, 3])
    check_gradients(lambda t: tf.transpose(t, [2, 0, 1]) * np.arange(6.0).reshape(2, 1, 3), B[:, :, :2])


def test_concat_and_errors():
    x = tf.constant(X)
    assert_tensor(tf.concat([x, x], 0), np.concatenate([X, X], 0))
    assert_tensor(tf.concat([x, x * 2], -1), np.concatenate([X, X * 2], -1))
    assert_tensor(tf.concat([x], 1), X)
    assert_tensor(tf.concat([[1, 2], [3]], 0), [1, 2, 3])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Ranks of all input tensors should match: shape\[0\] = \[2,3\] vs. shape\[1\] = \[3\]"):
        tf.concat([x, tf.range(3)], 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Dimension 1 in both shapes must be equal"):
        tf.concat([x, tf.zeros([2, 4], tf.int32)], 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"in the range \[-2, 2\), but got 5"):
        tf.concat([x, x], 5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="was expected to be a int32 tensor"):
        tf.concat([x, tf.zeros([2, 3])], 0)
    check_gradients(lambda a, b: tf.concat([a, b, a], 1) ** 2, A, A[:, :1])


def test_split():
    x = tf.constant(np.arange(12).reshape(2, 6))
    got = tf.split(x, 3, axis=1)
    for g, w in zip(got, np.split(np.arange(12).reshape(2, 6), 3, axis=1), strict=False):
        assert_tensor(g, w)
    got = tf.split(x, [1, -1, 2], axis=-1)
    assert [g.shape[1] for g in got] == [1, 3, 2]
    assert_tensor(got[1], np.arange(12).reshape(2, 6)[:, 1:4])
    with pytest.raises(tf.errors.InvalidArgumentError, match="evenly divide the split dimension"):
        tf.split(tf.range(7), 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Got: 5"):
        tf.split(tf.range(7), [2, 3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="There can only be one -1"):
        tf.split(tf.range(7), [-1, -1])
    check_gradients(lambda t: tf.split(t, [1, 2], axis=1)[1] * 3.0, A)
    check_gradients(lambda t: tf.split(t, 2)[0] ** 2, A)


def test_stack_unstack():
    assert_tensor(tf.stack([A, A * 2], axis=1), np.stack([A, A * 2], 1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Shapes of all inputs must match"):
        tf.stack([tf.zeros([2]), tf.zeros([3])])
    parts = tf.unstack(tf.constant(A), axis=1)
    assert len(parts) == 3
    assert_tensor(parts[2], A[:, 2])


def test_tile():
    assert_tensor(tf.tile(tf.constant(X), [2, 3]), np.tile(X, (2, 3)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="vector of length 2 but got length 1"):
        tf.tile(tf.constant(X), [2])
    check_gradients(lambda t: tf.tile(t, [2, 1, 3]) ** 2, B[:, :2, :2])


@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC", "reflect"])
def test_pad_modes(mode):
    paddings = [[1, 1], [2, 1]]
    want = np.pad(A, paddings, mode=mode.lower() if mode != "CONSTANT" else "constant")
    assert_tensor(tf.pad(tf.constant(A), paddings, mode=mode), want)
    check_gradients(lambda t: tf.pad(t, paddings, mode=mode) ** 2, A)


def test_pad_constant_values_and_errors():
    assert_tensor(tf.pad(tf.constant(X), [[0, 1], [1, 0]], constant_values=9),
                  np.pad(X, [[0, 1], [1, 0]], constant_values=9), dtype=tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="The first dimension of paddings must be the rank"):
        tf.pad(tf.constant(X), [[1, 1]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="2, 2 not less than 2"):
        tf.pad(tf.constant(X), [[2, 2], [0, 0]], "REFLECT")
    with pytest.raises(ValueError, match="Received `mode` = FOO"):
        tf.pad(tf.constant(X), [[1, 1], [0, 0]], "FOO")


def test_reverse_roll():
    assert_tensor(tf.reverse(tf.constant(B), [0, -1]), B[::-1, :, ::-1])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"'axis'\[0\] = 3 is out of valid range"):
        tf.reverse(tf.constant(X), [3])
    assert_tensor(tf.roll(tf.constant(X), [1, -1], [0, 1]), np.roll(X, (1, -1), (0, 1)))
    assert_tensor(tf.roll(tf.constant(X), 2, 1), np.roll(X, 2, 1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="shift and axis must have the same size"):
        tf.roll([1, 2, 3], [1, 1], [0])
    check_gradients(lambda t: tf.reverse(t, [1]) * np.arange(3.0), A)
    check_gradients(lambda t: tf.roll(t, [1], [1]) * np.arange(3.0), A)


def test_reverse_sequence():
    got = tf.reverse_sequence([[1, 2, 3], [4, 5, 6]], [2, 3], seq_axis=1, batch_axis=0)
    assert_tensor(got, [[2, 1, 3], [6, 5, 4]])
    got = tf.reverse_sequence(tf.constant(X.T), [1, 2], seq_axis=0, batch_axis=1)
    assert_tensor(got, [[0, 4], [1, 3], [2, 5]])
    check_gradients(lambda t: tf.reverse_sequence(t, [2, 3], seq_axis=1, batch_axis=0) * np.arange(3.0), A)


def test_bitcast():
    assert_tensor(tf.bitcast(tf.constant([1.0]), tf.int32), [1065353216], dtype=tf.int32)
    assert_tensor(tf.bitcast(tf.constant([1], tf.int64), tf.int32), [[1, 0]], dtype=tf.int32)
    assert_tensor(tf.bitcast(tf.constant([[1, 2]], tf.int32), tf.int64), [8589934593], dtype=tf.int64)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Cannot bitcast from 3 to 9"):
        tf.bitcast(tf.constant([1, 2, 3], tf.int32), tf.int64)


def test_clip():
    assert_tensor(tf.clip_by_value([1, 5, 9], 2, 6), [2, 5, 6], dtype=tf.int32)
    assert_tensor(tf.clip_by_value(tf.constant(A), -0.5, 0.5), np.clip(A, -0.5, 0.5))
    assert_tensor(tf.clip_by_norm([3.0, 4.0], 1.0), [0.6, 0.8], dtype=tf.float32)
    assert_tensor(tf.clip_by_norm([0.3, 0.4], 1.0), [0.3, 0.4])
    want = A * np.minimum(1.0, 1.0 / np.linalg.norm(A, axis=1, keepdims=True))
    assert_tensor(tf.clip_by_norm(tf.constant(A), 1.0, axes=[1]), want)
    check_gradients(lambda t: tf.clip_by_norm(t, 1.0), A[:, :2])


def test_repeat_and_sequence_mask():
    assert_tensor(tf.repeat([1, 2, 3], [1, 0, 2]), [1, 3, 3])
    assert_tensor(tf.repeat([[1, 2], [3, 4]], 2), np.repeat([[1, 2], [3, 4]], 2))
    assert_tensor(tf.repeat([[1, 2], [3, 4]], [1, 2], axis=0), np.repeat([[1, 2], [3, 4]], [1, 2], axis=0))
    assert_tensor(tf.repeat(tf.constant(A), 2, axis=1), np.repeat(A, 2, axis=1))
    assert_tensor(tf.sequence_mask([1, 3]), [[True, False, False], [True, True, True]], dtype=tf.bool)
    assert_tensor(tf.sequence_mask([1, 3], 4, dtype=tf.float32), [[1, 0, 0, 0], [1, 1, 1, 0]], dtype=tf.float32)
    assert tf.sequence_mask([[1], [2]], 3).shape == (2, 1, 3)
    check_gradients(lambda t: tf.repeat(t, [2, 1, 0], axis=1) ** 2, A[:1])


def test_tensorflow_oracle_agrees(tf_oracle):
    result = tf_oracle("""
x = tf.reshape(tf.range(24.0), [2, 3, 4])
result = {
  "slice": x[1, ::-2, None, 1:3].numpy().tolist(),
  "pad": tf.pad(x[0], [[1, 2], [2, 1]], "SYMMETRIC").numpy().tolist(),
  "onehot": tf.one_hot([[0, 3], [1, -1]], 3, axis=1).numpy().tolist(),
  "split": [t.numpy().tolist() for t in tf.split(x, [1, -1, 2], axis=2)],
}
""")
    x = tf.reshape(tf.range(24.0), [2, 3, 4])
    assert x[1, ::-2, None, 1:3].numpy().tolist() == result["slice"]
    assert tf.pad(x[0], [[1, 2], [2, 1]], "SYMMETRIC").numpy().tolist() == result["pad"]
    assert tf.one_hot([[0, 3], [1, -1]], 3, axis=1).numpy().tolist() == result["onehot"]
    assert [t.numpy().tolist() for t in tf.split(x, [1, -1, 2], axis=2)] == result["split"]
