"""Tests for flowstone/ops/reduction.py: axes, dtypes, errors and gradients as TF has them."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients

IAE = tf.errors.InvalidArgumentError
X = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7.0


@pytest.mark.parametrize("axis", [None, 0, -1, [0, 2], [-1, 1], tf.constant([1]), tf.constant(2, tf.int64)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduce_sum_axes(axis, keepdims):
    np_axis = None if axis is None else tuple(np.ravel(np.asarray(axis)).tolist())
    assert_tensor(tf.reduce_sum(X, axis=axis, keepdims=keepdims), np.sum(X, axis=np_axis, keepdims=keepdims),
                  dtype=tf.float32, rtol=1e-5)


@pytest.mark.parametrize("fn, ref", [(tf.reduce_mean, np.mean), (tf.reduce_max, np.max), (tf.reduce_min, np.min),
                                     (tf.reduce_prod, np.prod), (tf.math.reduce_std, np.std),
                                     (tf.math.reduce_variance, np.var)])
def test_reductions_match_numpy(fn, ref):
    assert_tensor(fn(X, axis=[0, 2]), ref(X, axis=(0, 2)), dtype=tf.float32, rtol=1e-5)


def test_integer_and_bool_reductions():
    i = tf.constant([[1, -2, 4], [5, 5, 6]])
    assert_tensor(tf.reduce_mean(i, axis=1), [1, 5], dtype=tf.int32)  # 3 // 3, 16 // 3
    assert_tensor(tf.reduce_mean(tf.constant([-3, 0])), -1, dtype=tf.int32)  # truncates toward zero
    assert_tensor(tf.math.reduce_euclidean_norm(tf.constant([3, 4])), 5, dtype=tf.int32)
    assert_tensor(tf.reduce_all([[True, False], [True, True]], axis=1), [False, True])
    assert_tensor(tf.reduce_any([[True, False], [False, False]], axis=1), [True, False])
    with pytest.raises(IAE):
        tf.reduce_all(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="Input must be either real or complex"):
        tf.math.reduce_std(tf.constant([1, 2]))


def test_empty_reductions():
    assert_tensor(tf.reduce_max(tf.constant([], tf.float32)), -np.inf)
    assert_tensor(tf.reduce_min(tf.constant([], tf.int32)), np.iinfo(np.int32).max, dtype=tf.int32)
    assert np.isnan(tf.reduce_mean(tf.constant([], tf.float32)).numpy())
    assert_tensor(tf.reduce_mean(tf.constant([], tf.int32)), 0)
    assert_tensor(tf.reduce_prod(tf.constant([], tf.float32)), 1.0)


def test_bad_axes():
    with pytest.raises(IAE, match=r"Invalid reduction dimension \(2 for input with 2 dimension\(s\)"):
        tf.reduce_sum(tf.constant([[1, 2]]), axis=2)
    with pytest.raises(IAE, match=r"Invalid reduction dimension \(-3 for input"):
        tf.reduce_max(tf.constant([[1, 2]]), axis=-3)
    with pytest.raises(IAE, match="duplicate dimension: 0"):
        tf.reduce_sum(tf.constant([[1, 2]]), axis=[0, -2])


def test_argmax_argmin():
    x = tf.constant([[1, 5, 5], [7, 2, 7]])
    out = tf.math.argmax(x)
    assert_tensor(out, [1, 0, 1], dtype=tf.int64)
    assert_tensor(tf.argmax(x, axis=1), [1, 0])  # first index on ties
    assert_tensor(tf.argmin(x, axis=-1, output_type=tf.int32), [0, 1], dtype=tf.int32)
    assert_tensor(tf.argmax(tf.constant([False, True])), 1)
    with pytest.raises(IAE, match=r"Expected dimension in the range \[-2, 2\), but got 3"):
        tf.argmax(x, axis=3)
    with pytest.raises(IAE, match=r"Reduction axis 0 is empty in shape \[0\]"):
        tf.argmax(tf.constant([], tf.float32))


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_scans(exclusive, reverse):
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

    def ref(fn, ident, v):
        v = v[:, ::-1] if reverse else v
        out = fn(v, axis=1)
        if exclusive:
            out = np.concatenate([np.full((2, 1), ident), out[:, :-1]], axis=1)
        return out[:, ::-1] if reverse else out

    kw = dict(axis=1, exclusive=exclusive, reverse=reverse)
    assert_tensor(tf.cumsum(x, **kw), ref(np.cumsum, 0.0, x), dtype=tf.float64)
    assert_tensor(tf.math.cumprod(x, **kw), ref(np.cumprod, 1.0, x))
    assert_tensor(tf.math.cumulative_logsumexp(x, **kw), ref(np.logaddexp.accumulate, -np.inf, x), rtol=1e-6)
    assert_tensor(tf.cumsum(tf.constant([1, 2, 3]), exclusive=exclusive), np.cumsum([0, 1, 2] if exclusive else [1, 2, 3]),
                  dtype=tf.int32)
    with pytest.raises(IAE, match=r"ScanOp: Expected scan axis in the range \[-2, 2\), but got 2"):
        tf.cumsum(x, axis=2)


def test_scan_gradients():
    x = np.array([[1.0, 2.0, 3.0], [0.5, 1.5, 2.5]])
    for exclusive in (False, True):
        for reverse in (False, True):
            kw = dict(axis=1, exclusive=exclusive, reverse=reverse)
            check_gradients(lambda v, kw=kw: tf.cumsum(v, **kw) * np.arange(1.0, 4.0), x)
            check_gradients(lambda v, kw=kw: tf.math.cumprod(v, **kw) * np.arange(1.0, 4.0), x)


def test_exclusive_cumulative_logsumexp_gradient():
    x = np.array([0.3, -1.0, 2.0, 0.5])
    w = np.array([0.0, 1.0, 2.0, 3.0])  # the first output is -inf; give it no weight
    t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        out = tf.math.cumulative_logsumexp(t, exclusive=True)
    got = tape.gradient(out, t, output_gradients=tf.constant(w))
    eps, want = 1e-6, np.zeros(4)
    for i in range(4):
        d = np.zeros(4)
        d[i] = eps
        hi = np.logaddexp.accumulate(x + d)[:-1]
        lo = np.logaddexp.accumulate(x - d)[:-1]
        want[i] = np.sum((hi - lo) * w[1:]) / (2 * eps)
    assert_tensor(got, want, rtol=1e-5)


def test_max_min_gradients_split_ties_equally():
    x = tf.constant([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        mx, mn = tf.reduce_max(x, axis=1), tf.reduce_min(x)
    assert_tensor(tape.gradient(mx, x), [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    assert_tensor(tape.gradient(mn, x), [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("axis", [None, 1, [0, 1]])
def test_prod_gradient_with_zeros(axis):
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 4.0], [1.5, 2.0, 0.5]])
    check_gradients(lambda v: tf.reduce_prod(v, axis=axis), x)


def test_mean_and_logsumexp_gradients():
    x = np.array([[0.5, 1.0, -2.0], [3.0, 0.1, 0.2]])
    check_gradients(lambda v: tf.reduce_mean(v, axis=0), x)
    check_gradients(lambda v: tf.reduce_logsumexp(v, axis=1), x)
    check_gradients(lambda v: tf.math.reduce_std(v, axis=1, keepdims=True), x)
    check_gradients(lambda v: tf.math.reduce_euclidean_norm(v, axis=0), x)


def test_reduce_logsumexp_is_stable():
    x = tf.constant([1000.0, 1000.0])
    assert_tensor(tf.reduce_logsumexp(x), 1000.0 + np.log(2.0), rtol=1e-6)
    assert_tensor(tf.reduce_logsumexp(tf.constant([-np.inf, -np.inf])), -np.inf)
    assert_tensor(tf.reduce_logsumexp(tf.constant([[0.0, 0.0]]), axis=1, keepdims=True), [[np.log(2.0)]])


def test_count_nonzero_and_zero_fraction():
    x = tf.constant([[1, 0, 2], [0, 0, 3]])
    assert_tensor(tf.math.count_nonzero(x), 3, dtype=tf.int64)
    assert_tensor(tf.math.count_nonzero(x, axis=1, keepdims=True, dtype=tf.int32), [[2], [1]], dtype=tf.int32)
    assert_tensor(tf.math.count_nonzero(tf.constant([True, False])), 1)
    assert_tensor(tf.math.zero_fraction(x), 0.5, dtype=tf.float32)


def test_bincount():
    assert_tensor(tf.math.bincount(tf.constant([1, 1, 3])), [0, 2, 0, 1], dtype=tf.int32)
    assert_tensor(tf.math.bincount([1, 1, 3], minlength=6, maxlength=2), [0, 2])
    assert_tensor(tf.math.bincount([1, 1, 3], minlength=6), [0, 2, 0, 1, 0, 0])
    assert_tensor(tf.math.bincount([1, 1, 3], weights=tf.constant([0.5, 1.0, 2.0])), [0, 1.5, 0, 2.0],
                  dtype=tf.float32)
    assert_tensor(tf.math.bincount([1, 1, 3], dtype=tf.float64), [0, 2, 0, 1], dtype=tf.float64)
    assert_tensor(tf.math.bincount([[1, 1], [3, 0]], axis=-1), [[0, 2, 0, 0], [1, 0, 0, 1]])
    assert_tensor(tf.math.bincount([[1, 1], [3, 0]]), [1, 2, 0, 1])
    assert_tensor(tf.math.bincount([1, 1, 3], binary_output=True), [0, 1, 0, 1])
    assert_tensor(tf.math.bincount(tf.constant([], tf.int32)), np.zeros(0, np.int32))
    with pytest.raises(IAE, match="Input arr must be non-negative!"):
        tf.math.bincount([1, -1])
    with pytest.raises(ValueError, match="Unsupported axis value 1"):
        tf.math.bincount([[1]], axis=1)


def test_top_k_and_in_top_k():
    x = tf.constant([[1.0, 3.0, 2.0, 3.0], [4.0, -1.0, 0.0, 2.0]])
    values, indices = tf.math.top_k(x, k=2)
    assert_tensor(values, [[3.0, 3.0], [4.0, 2.0]], dtype=tf.float32)
    assert_tensor(indices, [[1, 3], [0, 3]], dtype=tf.int32)
    assert tf.nn.top_k(x).indices.shape == (2, 1)
    assert tf.math.top_k(x, k=1, index_type=tf.int64).indices.dtype == tf.int64
    with pytest.raises(IAE, match="input must have at least k columns. Had 4, needed 5"):
        tf.math.top_k(x, k=5)
    check_gradients(lambda v: tf.math.top_k(v, k=2).values * np.array([1.0, 2.0]),
                    np.array([[1.0, 3.0, 2.0, 5.0], [4.0, -1.0, 0.0, 2.0]]))
    preds = tf.constant([[0.1, 0.9, 0.9], [0.8, 0.2, 0.0]])
    assert_tensor(tf.math.in_top_k([2, 1], preds, 1), [True, False])  # ties at the boundary count
    assert_tensor(tf.math.in_top_k([2, 1], preds, 2), [True, True])
    assert_tensor(tf.math.in_top_k([5, 0], preds, 1), [False, True])  # out-of-range target


def test_against_tensorflow(tf_oracle):
    code = """
x = tf.constant([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
with tf.GradientTape(persistent=True) as g:
    g.watch(x)
    mx = tf.reduce_max(x, axis=1)
    pr = tf.reduce_prod(x)
    ls = tf.reduce_logsumexp(x, axis=0)
    cp = tf.math.cumprod(x, axis=1, exclusive=True, reverse=True)
result = {
    "max_grad": g.gradient(mx, x).numpy().tolist(), "prod_grad": g.gradient(pr, x).numpy().tolist(),
    "lse_grad": g.gradient(ls, x).numpy().tolist(), "cumprod": cp.numpy().tolist(),
    "mean_int": tf.reduce_mean(tf.constant([[-3, 1], [5, 7]]), axis=1).numpy().tolist(),
    "var": tf.math.reduce_variance(x, axis=0).numpy().tolist(),
}
"""
    x = tf.constant([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    with tf.GradientTape(persistent=True) as g:
        g.watch(x)
        mx = tf.reduce_max(x, axis=1)
        pr = tf.reduce_prod(x)
        ls = tf.reduce_logsumexp(x, axis=0)
        cp = tf.math.cumprod(x, axis=1, exclusive=True, reverse=True)
    got = {
        "max_grad": g.gradient(mx, x).numpy().tolist(), "prod_grad": g.gradient(pr, x).numpy().tolist(),
        "lse_grad": g.gradient(ls, x).numpy().tolist(), "cumprod": cp.numpy().tolist(),
        "mean_int": tf.reduce_mean(tf.constant([[-3, 1], [5, 7]]), axis=1).numpy().tolist(),
        "var": tf.math.reduce_variance(x, axis=0).numpy().tolist(),
    }
    want = tf_oracle(code)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-6, err_msg=key)
