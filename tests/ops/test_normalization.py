"""Tests for flowstone/ops/normalization.py: moments, batch norm, L2 and local response norm."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients

rng = np.random.default_rng(9)
X = rng.normal(size=(3, 4, 2))


def test_moments():
    mean, var = tf.nn.moments(tf.constant(X), axes=[0, 1])
    assert_tensor(mean, X.mean((0, 1)), dtype=tf.float64, rtol=1e-12)
    assert_tensor(var, X.var((0, 1)), dtype=tf.float64, rtol=1e-12)
    mean, var = tf.nn.moments(tf.constant(X), axes=[1], keepdims=True)
    assert_tensor(mean, X.mean(1, keepdims=True), rtol=1e-12)
    assert_tensor(var, X.var(1, keepdims=True), rtol=1e-12)
    mean, var = tf.nn.moments(tf.constant([[1, 2], [3, 5]]), [0])
    assert_tensor(mean, [2, 3], dtype=tf.int32)
    assert_tensor(var, [1, 2], dtype=tf.int32)
    mean, var = tf.nn.moments(tf.constant(X, tf.float16), [0])
    assert mean.dtype == tf.float16 and var.dtype == tf.float16
    check_gradients(lambda x: tf.nn.moments(x, [0, 2])[1], X)


def test_weighted_moments_and_sufficient_statistics():
    w = rng.uniform(0.5, 2.0, size=(3, 4, 1))
    mean, var = tf.nn.weighted_moments(tf.constant(X), [0, 1], tf.constant(w))
    wb = np.broadcast_to(w, X.shape)
    want_mean = (wb * X).sum((0, 1)) / wb.sum((0, 1))
    assert_tensor(mean, want_mean, rtol=1e-12)
    assert_tensor(var, (wb * (X - want_mean) ** 2).sum((0, 1)) / wb.sum((0, 1)), rtol=1e-12)
    count, m_ss, v_ss, shift = tf.nn.sufficient_statistics(tf.constant(X), [0, 1], shift=0.5)
    assert_tensor(count, 12.0)
    assert_tensor(m_ss, (X - 0.5).sum((0, 1)), rtol=1e-12)
    assert_tensor(v_ss, ((X - 0.5) ** 2).sum((0, 1)), rtol=1e-12)
    mean, var = tf.nn.normalize_moments(count, m_ss, v_ss, shift)
    assert_tensor(mean, X.mean((0, 1)), rtol=1e-12)
    assert_tensor(var, X.var((0, 1)), rtol=1e-10)


def test_batch_normalization():
    mean, var = X.mean((0, 1)), X.var((0, 1))
    offset, scale = np.array([0.5, -1.0]), np.array([2.0, 0.3])
    want = (X - mean) / np.sqrt(var + 1e-3) * scale + offset
    got = tf.nn.batch_normalization(tf.constant(X), mean, var, offset, scale, 1e-3)
    assert_tensor(got, want, dtype=tf.float64, rtol=1e-12)
    assert_tensor(
        tf.nn.batch_normalization(X, mean, var, None, None, 1e-3),
        (X - mean) / np.sqrt(var + 1e-3),
        rtol=1e-12,
    )
    check_gradients(
        lambda x, m, v, o, s: tf.nn.batch_normalization(x, m, v, o, s, 1e-3),
        X,
        mean,
        var,
        offset,
        scale,
    )


def test_l2_normalize():
    assert_tensor(tf.nn.l2_normalize(tf.constant([3.0, 4.0])), [0.6, 0.8], dtype=tf.float32)
    want = X / np.sqrt((X**2).sum(1, keepdims=True))
    assert_tensor(tf.nn.l2_normalize(tf.constant(X), axis=1), want, rtol=1e-12)
    assert_tensor(tf.math.l2_normalize(tf.constant(X), dim=1), want, rtol=1e-12)
    assert_tensor(tf.nn.l2_normalize(tf.zeros([2])), [0.0, 0.0])
    c = np.array([3 + 4j, 0 + 0j])
    assert_tensor(tf.nn.l2_normalize(tf.constant(c)), c / 5, dtype=tf.complex128)
    check_gradients(lambda x: tf.nn.l2_normalize(x, axis=[0, 2]), X)
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'dim'"):
        tf.nn.l2_normalize(X, axis=0, dim=0)


def _lrn_ref(x, r, bias, alpha, beta):
    sq = np.pad(x**2, [(0, 0)] * 3 + [(r, r)])
    sums = np.stack([sq[..., d : d + 2 * r + 1].sum(-1) for d in range(x.shape[-1])], -1)
    return x / (bias + alpha * sums) ** beta


def test_local_response_normalization():
    x = rng.normal(size=(1, 2, 3, 6))
    got = tf.nn.local_response_normalization(
        tf.constant(x), depth_radius=2, bias=1.5, alpha=0.3, beta=0.7
    )
    assert_tensor(got, _lrn_ref(x, 2, 1.5, 0.3, 0.7), dtype=tf.float64, rtol=1e-12)
    assert_tensor(
        tf.nn.lrn(x.astype(np.float32)), _lrn_ref(x, 5, 1.0, 1.0, 0.5), dtype=tf.float32, rtol=1e-5
    )
    check_gradients(lambda v: tf.nn.lrn(v, 1, 1.0, 0.5, 0.75), x)


def test_against_tensorflow(tf_oracle):
    x = rng.normal(size=(1, 2, 2, 4))
    got = tf_oracle(
        """
x = np.array(args["x"])
m, v = tf.nn.moments(x, [0, 1, 2])
result = {"lrn": tf.nn.lrn(x, 1, 1.5, 0.3, 0.7).numpy().tolist(), "m": m.numpy().tolist(), "v": v.numpy().tolist()}
""",
        {"x": x.tolist()},
    )
    # TensorFlow's LRN kernel computes in float32.
    np.testing.assert_allclose(
        tf.nn.lrn(tf.constant(x), 1, 1.5, 0.3, 0.7).numpy(), got["lrn"], rtol=1e-6
    )
    m, v = tf.nn.moments(tf.constant(x), [0, 1, 2])
    np.testing.assert_allclose(m.numpy(), got["m"], rtol=1e-12)
    np.testing.assert_allclose(v.numpy(), got["v"], rtol=1e-12)
