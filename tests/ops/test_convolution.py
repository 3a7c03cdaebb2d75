"""Tests for flowstone/ops/convolution.py against NumPy references (tests/ops/nn_reference.py)."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients
from tests.ops import nn_reference as ref

rng = np.random.default_rng(11)
X = rng.normal(size=(2, 6, 5, 3))
W = rng.normal(size=(3, 2, 3, 4))


@pytest.mark.parametrize(
    "strides, padding, dilations",
    [
        (1, "SAME", 1),
        ([2, 1], "VALID", None),
        (2, "SAME", [2, 1]),
        (1, [[0, 0], [1, 2], [0, 1], [0, 0]], 1),
    ],
)
def test_conv2d_values(strides, padding, dilations):
    st = [strides] * 2 if isinstance(strides, int) else strides
    dl = [dilations] * 2 if isinstance(dilations, int) else (dilations or [1, 1])
    pad = padding if isinstance(padding, str) else padding[1:3]
    want = ref.conv(X, W, st, pad, dl)
    got = tf.nn.conv2d(X, W, strides, padding, dilations=dilations)
    assert_tensor(got, want, dtype=tf.float64, rtol=1e-10, atol=1e-10)


def test_conv2d_nchw_grouped_and_int():
    got = tf.nn.conv2d(X.transpose(0, 3, 1, 2), W, 1, "SAME", data_format="NCHW")
    assert_tensor(got, ref.conv(X, W, padding="SAME").transpose(0, 3, 1, 2), rtol=1e-10, atol=1e-10)
    x6 = rng.normal(size=(1, 4, 4, 6))
    assert_tensor(
        tf.nn.conv2d(x6, W, 1, "VALID"), ref.conv(x6, W, groups=2), rtol=1e-10, atol=1e-10
    )
    xi = rng.integers(-3, 4, (1, 4, 4, 3)).astype(np.int32)
    wi = rng.integers(-3, 4, (2, 2, 3, 2)).astype(np.int32)
    assert_tensor(tf.nn.conv2d(xi, wi, 1, "VALID"), ref.conv(xi, wi), dtype=tf.int32)
    assert_tensor(
        tf.nn.conv2d(X.astype(np.float32), W.astype(np.float32), 1, "SAME"),
        ref.conv(X, W, padding="SAME"),
        dtype=tf.float32,
        rtol=1e-4,
        atol=1e-4,
    )


def test_conv1d_conv3d_convolution():
    x1, w1 = rng.normal(size=(2, 7, 3)), rng.normal(size=(3, 3, 2))
    want1 = ref.conv(x1, w1, [2], "SAME")
    assert_tensor(tf.nn.conv1d(x1, w1, 2, "SAME"), want1, rtol=1e-10, atol=1e-10)
    assert_tensor(
        tf.nn.conv1d(x1.transpose(0, 2, 1), w1, 2, "SAME", data_format="NCW"),
        want1.transpose(0, 2, 1),
        rtol=1e-10,
        atol=1e-10,
    )
    assert_tensor(
        tf.nn.convolution(x1, w1, padding="SAME", dilations=2),
        ref.conv(x1, w1, padding="SAME", dilations=[2]),
        rtol=1e-10,
        atol=1e-10,
    )
    x3, w3 = rng.normal(size=(1, 4, 3, 4, 2)), rng.normal(size=(2, 2, 3, 2, 3))
    want3 = ref.conv(x3, w3, [1, 1, 2], "SAME")
    assert_tensor(tf.nn.conv3d(x3, w3, [1, 1, 1, 2, 1], "SAME"), want3, rtol=1e-10, atol=1e-10)
    assert_tensor(tf.nn.convolution(x3, w3, [1, 1, 2], "SAME"), want3, rtol=1e-10, atol=1e-10)
    assert_tensor(tf.nn.convolution(X, W, padding="VALID"), ref.conv(X, W), rtol=1e-10, atol=1e-10)
    assert_tensor(
        tf.nn.atrous_conv2d(X, W, 2, "SAME"),
        ref.conv(X, W, padding="SAME", dilations=[2, 2]),
        rtol=1e-10,
        atol=1e-10,
    )


def test_depthwise_and_separable():
    wd = rng.normal(size=(2, 3, 3, 2))
    want = ref.depthwise(X, wd, [2, 2], "SAME")
    assert_tensor(tf.nn.depthwise_conv2d(X, wd, [1, 2, 2, 1], "SAME"), want, rtol=1e-10, atol=1e-10)
    want_d = ref.depthwise(X, wd, padding="VALID", dilations=[2, 2])
    assert_tensor(
        tf.nn.depthwise_conv2d(X, wd, [1, 1, 1, 1], "VALID", dilations=[2, 2]),
        want_d,
        rtol=1e-10,
        atol=1e-10,
    )
    pw = rng.normal(size=(1, 1, 6, 4))
    sep = tf.nn.separable_conv2d(X, wd, pw, [1, 1, 1, 1], "SAME")
    assert_tensor(sep, ref.conv(ref.depthwise(X, wd, padding="SAME"), pw), rtol=1e-10, atol=1e-10)
    check_gradients(
        lambda x, w: tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "SAME"), X[:1, :4, :4], wd
    )


def test_transposed_convolutions():
    dy = rng.normal(size=(2, 3, 3, 4))
    want = ref.transpose_of(lambda v: ref.conv(v, W, [2, 2], "SAME"), X.shape, dy)
    assert_tensor(tf.nn.conv2d_transpose(dy, W, X.shape, 2), want, rtol=1e-10, atol=1e-10)
    assert_tensor(tf.nn.conv_transpose(dy, W, list(X.shape), 2), want, rtol=1e-10, atol=1e-10)
    dy1, w1 = rng.normal(size=(1, 4, 2)), rng.normal(size=(3, 3, 2))
    want1 = ref.transpose_of(lambda v: ref.conv(v, w1, [2], "SAME"), (1, 7, 3), dy1)
    assert_tensor(tf.nn.conv1d_transpose(dy1, w1, [1, 7, 3], 2), want1, rtol=1e-10, atol=1e-10)
    dy3, w3 = rng.normal(size=(1, 2, 2, 2, 3)), rng.normal(size=(2, 2, 2, 2, 3))
    want3 = ref.transpose_of(lambda v: ref.conv(v, w3, [2, 2, 2], "VALID"), (1, 4, 4, 4, 2), dy3)
    assert_tensor(
        tf.nn.conv3d_transpose(dy3, w3, [1, 4, 4, 4, 2], 2, "VALID"), want3, rtol=1e-10, atol=1e-10
    )
    wd, dyd = rng.normal(size=(2, 2, 3, 1)), rng.normal(size=(2, 5, 4, 3))
    want_d = ref.transpose_of(lambda v: ref.depthwise(v, wd), X.shape, dyd)
    got_d = tf.nn.depthwise_conv2d_backprop_input(X.shape, wd, dyd, [1, 1, 1, 1], "VALID")
    assert_tensor(got_d, want_d, rtol=1e-10, atol=1e-10)
    want_f = ref.transpose_of(lambda v: ref.depthwise(X, v), wd.shape, dyd)
    got_f = tf.nn.depthwise_conv2d_backprop_filter(X, wd.shape, dyd, [1, 1, 1, 1], "VALID")
    assert_tensor(got_f, want_f, rtol=1e-10, atol=1e-10)


def test_conv2d_gradients_and_second_order():
    x, w = X[:1, :4, :4], W[:2, :2]
    check_gradients(lambda a, b: tf.nn.conv2d(a, b, 2, "SAME"), x, w)
    check_gradients(
        lambda a, b: tf.nn.conv2d_transpose(a, b, [1, 4, 4, 3], 2), rng.normal(size=(1, 2, 2, 4)), w
    )
    xt, wt = tf.constant(x), tf.constant(w)
    with tf.GradientTape(persistent=True) as outer:
        outer.watch([xt, wt])
        with tf.GradientTape() as inner:
            inner.watch([xt, wt])
            y = tf.reduce_sum(tf.nn.conv2d(xt, wt, 1, "SAME") ** 2)
        gx, gw = inner.gradient(y, [xt, wt])
        total = tf.reduce_sum(gx * gx) + tf.reduce_sum(gw)
    # The second-order gradient w.r.t. x checked against central differences of the first.
    h = 1e-6

    def first(xv):
        a = tf.constant(xv)
        with tf.GradientTape(persistent=True) as t:
            t.watch([a, wt])
            yy = tf.reduce_sum(tf.nn.conv2d(a, wt, 1, "SAME") ** 2)
        ga, gb = t.gradient(yy, [a, wt])
        return float(tf.reduce_sum(ga * ga) + tf.reduce_sum(gb))

    got = outer.gradient(total, xt).numpy()
    flat = x.reshape(-1)
    for i in (0, 7, 20, flat.size - 1):
        e = np.zeros_like(flat)
        e[i] = h
        num = (first((flat + e).reshape(x.shape)) - first((flat - e).reshape(x.shape))) / (2 * h)
        assert abs(got.reshape(-1)[i] - num) < 1e-4 * max(1, abs(num))


def test_conv_errors():
    x = tf.ones([1, 5, 5, 3])
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match="input depth must be evenly divisible by filter depth: 3 vs 4",
    ):
        tf.nn.conv2d(x, tf.ones([3, 3, 4, 2]), 1, "SAME")
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"convolution input must be 4-dimensional: \[5,5,3\]"
    ):
        tf.nn.conv2d(tf.ones([5, 5, 3]), tf.ones([3, 3, 3, 2]), 1, "SAME")
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="output depth must be evenly divisible"
    ):
        tf.nn.conv2d(tf.ones([1, 5, 5, 4]), tf.ones([3, 3, 2, 3]), 1, "SAME")
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="""attr 'padding' of "FOO" is not in the list"""
    ):
        tf.nn.conv2d(x, tf.ones([3, 3, 3, 2]), 1, "FOO")
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="""attr 'data_format' of "NWHC" is not in the list"""
    ):
        tf.nn.conv2d(x, tf.ones([3, 3, 3, 2]), 1, "SAME", data_format="NWHC")
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="Nonzero explicit padding in the batch or depth"
    ):
        tf.nn.conv2d(x, tf.ones([3, 3, 3, 2]), 1, [[1, 1], [1, 1], [2, 2], [0, 0]])
    with pytest.raises(ValueError, match="When padding is a list, it must be of size 4"):
        tf.nn.conv2d(x, tf.ones([3, 3, 3, 2]), 1, [[1, 1], [2, 2]])
    with pytest.raises(ValueError, match="'EXPLICIT' is not a valid value"):
        tf.nn.conv2d(x, tf.ones([3, 3, 3, 2]), 1, "EXPLICIT")
    with pytest.raises(ValueError, match="strides should be of length 1, 2 or 4"):
        tf.nn.conv2d(x, tf.ones([3, 3, 3, 2]), [2, 1, 1], "SAME")
    with pytest.raises(tf.errors.UnimplementedError, match="strides in the batch and depth"):
        tf.nn.conv2d(x, tf.ones([3, 3, 3, 2]), [2, 1, 1, 1], "SAME")
    with pytest.raises(tf.errors.InvalidArgumentError, match="cannot compute Conv2D as input #1"):
        tf.nn.conv2d(x, tf.ones([3, 3, 3, 2], tf.float64), 1, "SAME")
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="input and filter must have the same depth: 3 vs 4"
    ):
        tf.nn.depthwise_conv2d(x, tf.ones([3, 3, 4, 2]), [1, 1, 1, 1], "SAME")
    with pytest.raises(TypeError, match="Expected list for 'strides'"):
        tf.nn.depthwise_conv2d(x, tf.ones([3, 3, 3, 2]), 1, "SAME")
    with pytest.raises(
        ValueError, match="`strides > 1` not supported in conjunction with `dilation_rate > 1`"
    ):
        tf.nn.convolution(x, tf.ones([3, 3, 3, 2]), strides=2, padding="SAME", dilations=2)
    with pytest.raises(ValueError, match="`data_format` must be 'NWC' or 'NCW'"):
        tf.nn.conv1d(tf.ones([1, 5, 3]), tf.ones([3, 3, 2]), 1, "SAME", data_format="XYZ")
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="Size of out_backprop doesn't match computed"
    ):
        tf.nn.conv2d_transpose(tf.ones([1, 5, 5, 2]), tf.ones([3, 3, 4, 2]), [1, 20, 20, 4], 2)
    with pytest.raises(ValueError, match="all values of `dilation_rate` must be positive"):
        tf.nn.atrous_conv2d(x, tf.ones([3, 3, 3, 2]), 0, "SAME")


def test_against_tensorflow(tf_oracle):
    x = rng.normal(size=(1, 5, 5, 2)).round(3)
    w = rng.normal(size=(3, 3, 2, 3)).round(3)
    got = tf_oracle(
        """
x, w = np.array(args["x"]), tf.constant(args["w"], tf.float64)
with tf.GradientTape() as t:
    t.watch(w)
    y = tf.nn.conv2d(x, w, 2, "SAME", dilations=1)
    loss = tf.reduce_sum(y * y)
result = {"y": y.numpy().tolist(), "gw": t.gradient(loss, w).numpy().tolist(),
          "t": tf.nn.conv2d_transpose(y, w, [1, 5, 5, 2], 2).numpy().tolist()}
""",
        {"x": x.tolist(), "w": w.tolist()},
    )
    wt = tf.constant(w)
    with tf.GradientTape() as t:
        t.watch(wt)
        y = tf.nn.conv2d(x, wt, 2, "SAME")
        loss = tf.reduce_sum(y * y)
    np.testing.assert_allclose(y.numpy(), got["y"], rtol=1e-10)
    np.testing.assert_allclose(t.gradient(loss, wt).numpy(), got["gw"], rtol=1e-10)
    np.testing.assert_allclose(
        tf.nn.conv2d_transpose(y, wt, [1, 5, 5, 2], 2).numpy(), got["t"], rtol=1e-10
    )
