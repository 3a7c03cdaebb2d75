"""Tests for flowstone/ops/pooling.py against NumPy references (tests/ops/nn_reference.py)."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients
from tests.ops import nn_reference as ref

rng = np.random.default_rng(5)
# Distinct values so that every window has one maximum (gradients are then unambiguous).
X = rng.permutation(2 * 5 * 6 * 3).reshape(2, 5, 6, 3) / 10.0


@pytest.mark.parametrize(
    "ksize, strides, padding", [(2, 2, "SAME"), ([3, 2], 1, "VALID"), (3, [2, 1], "SAME")]
)
def test_pool2d_values(ksize, strides, padding):
    k = [ksize] * 2 if isinstance(ksize, int) else ksize
    s = [strides] * 2 if isinstance(strides, int) else strides
    assert_tensor(
        tf.nn.max_pool2d(X, ksize, strides, padding),
        ref.pool(X, k, s, padding, "max"),
        dtype=tf.float64,
    )
    assert_tensor(
        tf.nn.avg_pool2d(X, ksize, strides, padding), ref.pool(X, k, s, padding, "avg"), rtol=1e-12
    )


def test_pool_formats_ranks_and_dtypes():
    want = ref.pool(X, [2, 2], [2, 2], "SAME", "max")
    nchw = tf.nn.max_pool2d(X.transpose(0, 3, 1, 2), 2, 2, "SAME", data_format="NCHW")
    assert_tensor(nchw, want.transpose(0, 3, 1, 2))
    assert_tensor(tf.nn.max_pool(X, 2, 2, "SAME"), want)
    x1 = X[:, 0]
    assert_tensor(tf.nn.max_pool1d(x1, 3, 2, "SAME"), ref.pool(x1, [3], [2], "SAME", "max"))
    assert_tensor(
        tf.nn.avg_pool(x1, 3, 2, "SAME"), ref.pool(x1, [3], [2], "SAME", "avg"), rtol=1e-12
    )
    assert_tensor(
        tf.nn.avg_pool1d(x1.transpose(0, 2, 1), 3, 2, "VALID", data_format="NCW"),
        ref.pool(x1, [3], [2], "VALID", "avg").transpose(0, 2, 1),
        rtol=1e-12,
    )
    x3 = X.reshape(2, 5, 3, 2, 3)
    assert_tensor(tf.nn.max_pool3d(x3, 2, 1, "SAME"), ref.pool(x3, [2] * 3, [1] * 3, "SAME", "max"))
    assert_tensor(
        tf.nn.avg_pool3d(x3, [2, 2, 1], 2, "VALID"),
        ref.pool(x3, [2, 2, 1], [2] * 3, "VALID", "avg"),
        rtol=1e-12,
    )
    assert_tensor(
        tf.nn.avg_pool(x3, 2, 2, "SAME"), ref.pool(x3, [2] * 3, [2] * 3, "SAME", "avg"), rtol=1e-12
    )
    xi = (X * 10).astype(np.int32)
    assert_tensor(
        tf.nn.max_pool2d(xi, 2, 2, "SAME"),
        ref.pool(xi, [2, 2], [2, 2], "SAME", "max"),
        dtype=tf.int32,
    )
    explicit = tf.nn.max_pool2d(X, 2, 2, [[0, 0], [1, 0], [0, 1], [0, 0]])
    assert_tensor(explicit, ref.pool(X, [2, 2], [2, 2], [(1, 0), (0, 1)], "max"))


def test_pool_gradients():
    x = X[:1, :4, :4, :2]
    check_gradients(lambda v: tf.nn.max_pool2d(v, 2, 2, "SAME"), x)
    check_gradients(lambda v: tf.nn.max_pool2d(v, 3, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]), x)
    check_gradients(lambda v: tf.nn.avg_pool2d(v, 3, 2, "SAME"), x)
    check_gradients(lambda v: tf.nn.max_pool1d(v, 2, 1, "VALID"), x[:, 0])
    check_gradients(lambda v: tf.nn.avg_pool3d(v, 2, 1, "SAME"), x.reshape(1, 2, 2, 4, 2))


def test_max_pool_gradient_ties_go_to_the_first():
    x = tf.constant([[[[1.0], [1.0]], [[0.0], [1.0]]]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.max_pool2d(x, 2, 2, "VALID")
    assert_tensor(tape.gradient(y, x), np.array([1.0, 0, 0, 0], np.float32).reshape(1, 2, 2, 1))


def test_pool_second_order():
    x = tf.constant(X[:1, :4, :4, :1])
    w = tf.constant(rng.normal(size=(1, 2, 2, 1)))
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(tf.nn.max_pool2d(x, 2, 2, "VALID") ** 2 * w)
        g = inner.gradient(y, x)
    # y = sum(w * m^2) -> dy/dx = 2 w m at each argmax -> d2 = 2 w at each argmax.
    mask = X[:1, :4, :4, :1] == np.repeat(
        np.repeat(ref.pool(X[:1, :4, :4, :1], [2, 2], [2, 2], "VALID", "max"), 2, 1), 2, 2
    )
    want = mask * np.repeat(np.repeat(2 * w.numpy(), 2, 1), 2, 2)
    assert_tensor(outer.gradient(g, x), want, rtol=1e-12)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(tf.nn.avg_pool2d(x, 2, 2, "VALID") ** 2)
        g = inner.gradient(y, x)
    # sum(g) = sum over windows of 4 * (2 * mean / 4): each element contributes 2 * 1/4.
    assert_tensor(outer.gradient(g, x), np.full((1, 4, 4, 1), 0.5), rtol=1e-12)


def test_max_pool_with_argmax():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    out, idx = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID")
    assert_tensor(out, [[[[5.0], [7.0]], [[13.0], [15.0]]]])
    assert_tensor(idx, np.array([5, 7, 13, 15]).reshape(1, 2, 2, 1), dtype=tf.int64)
    _, idx = tf.nn.max_pool_with_argmax(
        tf.ones([2, 2, 2, 2]), 2, 2, "VALID", include_batch_in_index=True
    )
    assert_tensor(idx, np.array([0, 1, 8, 9]).reshape(2, 1, 1, 2))
    _, idx = tf.nn.max_pool_with_argmax(tf.ones([2, 2, 2, 2]), 2, 2, "VALID", output_dtype=tf.int32)
    assert_tensor(idx, np.array([0, 1, 0, 1]).reshape(2, 1, 1, 2), dtype=tf.int32)
    check_gradients(lambda v: tf.nn.max_pool_with_argmax(v, 2, 2, "SAME")[0], X[:1, :3, :3])


def test_pool_errors():
    x = tf.ones([1, 5, 5, 3])
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="""attr 'padding' of "FOO" is not in the list"""
    ):
        tf.nn.max_pool2d(x, 2, 2, "FOO")
    with pytest.raises(
        ValueError, match=r"`input.shape.rank` must be 3, 4 or 5. Received: input.shape=\(2, 3\)"
    ):
        tf.nn.max_pool(tf.ones([2, 3]), 2, 2, "SAME")
    with pytest.raises(ValueError, match="ksize should be of length 1, 2 or 4"):
        tf.nn.max_pool2d(x, [2, 2, 2], 2, "SAME")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Value for attr 'T' of int32"):
        tf.nn.avg_pool2d(tf.ones([1, 5, 5, 3], tf.int32), 2, 2, "SAME")
    with pytest.raises(TypeError, match="Expected string for argument 'padding'"):
        tf.nn.avg_pool2d(x, 2, 2, [[0, 0], [1, 1], [1, 1], [0, 0]])
    with pytest.raises(
        tf.errors.UnimplementedError, match="Pooling is not yet supported on the batch dimension"
    ):
        tf.nn.max_pool2d(x, 2, [2, 1, 1, 1], "SAME")
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="ksize must be a positive int32 value, got:0"
    ):
        tf.nn.avg_pool2d(x, 0, 1, "SAME")
    with pytest.raises(ValueError, match="other  than 'NHWC' are not supported"):
        tf.nn.max_pool_with_argmax(x, 2, 2, "SAME", data_format="NCHW")


def test_against_tensorflow(tf_oracle):
    x = X[:1, :5, :5, :2]
    got = tf_oracle(
        """
x = np.array(args["x"])
with tf.GradientTape() as t:
    t.watch(x := tf.constant(x))
    y = tf.nn.avg_pool2d(x, 3, 2, "SAME") * tf.nn.max_pool2d(x, 3, 2, "SAME")
result = {"y": y.numpy().tolist(), "g": t.gradient(y, x).numpy().tolist()}
""",
        {"x": x.tolist()},
    )
    xt = tf.constant(x)
    with tf.GradientTape() as t:
        t.watch(xt)
        y = tf.nn.avg_pool2d(xt, 3, 2, "SAME") * tf.nn.max_pool2d(xt, 3, 2, "SAME")
    np.testing.assert_allclose(y.numpy(), got["y"], rtol=1e-12)
    np.testing.assert_allclose(t.gradient(y, xt).numpy(), got["g"], rtol=1e-12)
