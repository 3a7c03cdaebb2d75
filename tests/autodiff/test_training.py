"""Manual training loops in the style of the TF2 tutorials: variables, a tape, assign_sub."""

from __future__ import annotations

import numpy as np

import flowstone as tf


def test_linear_regression_converges():
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1, 1, size=(64, 1)).astype(np.float32)
    ys = (3.0 * xs + 2.0).astype(np.float32)
    x, y = tf.constant(xs), tf.constant(ys)
    w = tf.Variable(tf.zeros([1, 1]), name="w")
    b = tf.Variable(tf.zeros([1]), name="b")
    lr = 0.5
    for _ in range(150):
        with tf.GradientTape() as t:
            pred = tf.matmul(x, w) + b
            loss = tf.reduce_mean(tf.square(pred - y))
        dw, db = t.gradient(loss, [w, b])
        w.assign_sub(lr * dw)
        b.assign_sub(lr * db)
    assert float(loss) < 1e-6
    np.testing.assert_allclose(w.numpy(), [[3.0]], atol=1e-3)
    np.testing.assert_allclose(b.numpy(), [2.0], atol=1e-3)


def _forward(x, w1, b1, w2, b2):
    h = tf.sigmoid(tf.tensordot(x, w1, axes=1) + b1)
    return tf.sigmoid(tf.tensordot(h, w2, axes=1) + b2)


def test_two_layer_sigmoid_network_fits_xor():
    x = tf.constant([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = tf.constant([[0.0], [1.0], [1.0], [0.0]])
    rng = np.random.default_rng(1)
    w1 = tf.Variable(rng.normal(size=(2, 4)).astype(np.float32))
    b1 = tf.Variable(tf.zeros([4]))
    w2 = tf.Variable(rng.normal(size=(4, 1)).astype(np.float32))
    b2 = tf.Variable(tf.zeros([1]))
    params = [w1, b1, w2, b2]
    losses = []
    for _ in range(500):
        with tf.GradientTape() as t:
            loss = tf.reduce_mean(tf.square(_forward(x, *params) - y))
        for p, g in zip(params, t.gradient(loss, params)):
            p.assign_sub(5.0 * g)
        losses.append(float(loss))
    assert losses[0] > 0.2
    assert losses[-1] < 0.01, losses[-1]
    pred = _forward(x, *params).numpy()
    np.testing.assert_array_equal(pred.round(), y.numpy())
