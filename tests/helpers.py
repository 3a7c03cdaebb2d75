"""Test helpers: NumPy comparison and numerical gradient checks."""

from __future__ import annotations

import numpy as np

import flowstone as tf


def assert_tensor(t, expected, dtype=None, rtol=1e-6, atol=1e-6):
    """Checks a tensor's value, shape and (optionally) dtype against a NumPy value."""
    expected = np.asarray(expected)
    value = t.numpy() if hasattr(t, "numpy") else np.asarray(t)
    assert tuple(t.shape) == expected.shape, f"shape {tuple(t.shape)} != {expected.shape}"
    if dtype is not None:
        assert t.dtype == dtype, f"dtype {t.dtype} != {dtype}"
    if expected.dtype == object or expected.dtype.kind in "SU":
        np.testing.assert_array_equal(value, expected)
    else:
        np.testing.assert_allclose(np.asarray(value, dtype=np.result_type(value, np.float32)), expected, rtol=rtol, atol=atol)


def numerical_gradient(fn, args, index, eps=1e-6):
    """Central differences of sum(fn(*args)) w.r.t. args[index] (float64 NumPy arrays)."""
    # C order: reshape(-1) must be a view of x and grad, or the perturbations are lost.
    x = np.array(args[index], dtype=np.float64, order="C")
    grad = np.zeros_like(x, order="C")
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        vals = []
        for step in (eps, -eps):
            flat[i] = old + step
            call = list(args)
            call[index] = tf.constant(x.copy())
            vals.append(float(np.sum(np.asarray(fn(*call)))))
        flat[i] = old
        gflat[i] = (vals[0] - vals[1]) / (2 * eps)
    return grad


def check_gradients(fn, *args, rtol=1e-5, atol=1e-6, indices=None, eps=1e-6):
    """Compares tape gradients of sum(fn(*args)) with central differences, in float64."""
    args = [np.asarray(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else a for a in args]
    indices = [i for i, a in enumerate(args) if np.asarray(a).dtype == np.float64] if indices is None else indices
    tensors = [tf.constant(a) for a in args]
    with tf.GradientTape(persistent=True) as tape:
        for i in indices:
            tape.watch(tensors[i])
        out = fn(*tensors)
        total = tf.reduce_sum(out)
    for i in indices:
        got = tape.gradient(total, tensors[i])
        want = numerical_gradient(fn, args, i, eps)
        assert got is not None, f"no gradient for argument {i}"
        np.testing.assert_allclose(got.numpy(), want, rtol=rtol, atol=atol, err_msg=f"gradient of argument {i}")
