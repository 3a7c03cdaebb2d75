"""Tests for flowstone/ops/decomposition.py: inverse, determinants, solves and factorizations."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients

rng = np.random.default_rng(1)
SQ = rng.normal(size=(2, 3, 3)) + 3 * np.eye(3)
SPD = SQ @ np.swapaxes(SQ, -1, -2) + np.eye(3)
RHS = rng.normal(size=(2, 3, 2))
CSQ = SQ + 1j * rng.normal(size=(2, 3, 3))
CHPD = CSQ @ np.conj(np.swapaxes(CSQ, -1, -2)) + np.eye(3)
TALL = rng.normal(size=(4, 3))
WIDE = rng.normal(size=(2, 4))
SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


def _adj(x):
    return np.conj(np.swapaxes(x, -1, -2))


@pytest.mark.parametrize("x", [SQ, SQ.astype(np.float32), CSQ], ids=["f64", "f32", "c128"])
def test_inverse_det_slogdet(x):
    tol = 1e-4 if x.dtype == np.float32 else 1e-8
    assert_tensor(tf.linalg.inv(x), np.linalg.inv(x), dtype=tf.as_dtype(x.dtype), rtol=tol, atol=tol)
    assert_tensor(tf.linalg.inv(x, adjoint=True), np.linalg.inv(_adj(x)), rtol=tol, atol=tol)
    assert_tensor(tf.linalg.det(x), np.linalg.det(x), dtype=tf.as_dtype(x.dtype), rtol=tol)
    sign, logabs = tf.linalg.slogdet(x)
    want_sign, want_log = np.linalg.slogdet(x)
    assert_tensor(sign, want_sign, rtol=tol)
    assert_tensor(logabs, want_log, dtype=tf.as_dtype(x.dtype), rtol=tol)


def test_inverse_half_precision():
    x = np.array([[2.0, 0.0], [0.0, 4.0]], np.float16)
    assert_tensor(tf.linalg.inv(x), np.linalg.inv(x.astype(np.float32)), dtype=tf.float16)


def test_square_and_rank_errors():
    for fn in (tf.linalg.inv, tf.linalg.det, tf.linalg.slogdet, tf.linalg.cholesky, tf.linalg.eigh):
        with pytest.raises(tf.errors.InvalidArgumentError, match="must be square"):
            fn(tf.zeros([2, 3]))
        with pytest.raises(tf.errors.InvalidArgumentError, match="rank >= 2"):
            fn(tf.zeros([3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not in the list of allowed values"):
        tf.linalg.inv([[1, 2], [3, 4]])


def test_singular_matrices():
    with pytest.raises(tf.errors.InvalidArgumentError, match="Input is not invertible."):
        tf.linalg.inv(SINGULAR)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Input matrix is not invertible."):
        tf.linalg.solve(SINGULAR, [[1.0], [2.0]])
    assert float(tf.linalg.det(SINGULAR)) == 0.0
    # Cholesky of a non positive-definite matrix gives NaNs, as TF's kernel does.
    assert np.isnan(tf.linalg.cholesky([[1.0, 2.0], [2.0, 1.0]]).numpy()).any()


def test_cholesky_and_solvers():
    chol = tf.linalg.cholesky(SPD)
    assert_tensor(chol, np.linalg.cholesky(SPD))
    assert_tensor(tf.linalg.cholesky(CHPD), np.linalg.cholesky(CHPD))
    # Only the lower triangle is read.
    assert_tensor(tf.linalg.cholesky(np.tril(SPD)), np.linalg.cholesky(SPD))
    assert_tensor(tf.linalg.cholesky_solve(chol, RHS), np.linalg.solve(SPD, RHS))
    assert_tensor(tf.linalg.solve(SQ, RHS), np.linalg.solve(SQ, RHS))
    assert_tensor(tf.linalg.solve(SQ, RHS, adjoint=True), np.linalg.solve(_adj(SQ), RHS))
    low, up = np.tril(SQ), np.triu(SQ)
    assert_tensor(tf.linalg.triangular_solve(SQ, RHS), np.linalg.solve(low, RHS))
    assert_tensor(tf.linalg.triangular_solve(SQ, RHS, lower=False, adjoint=True), np.linalg.solve(_adj(up), RHS))
    # Batch dims broadcast in MatrixTriangularSolve.
    assert_tensor(tf.linalg.triangular_solve(SQ[0], RHS), np.linalg.solve(low[0], RHS))
    with pytest.raises(tf.errors.InvalidArgumentError, match="incompatible"):
        tf.linalg.solve(tf.eye(2), tf.zeros([3, 1]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"In\[0\] mismatch In\[1\] shape: 2 vs. 3"):
        tf.linalg.triangular_solve(tf.eye(2), tf.zeros([3, 1]))


def test_solver_gradients():
    check_gradients(lambda a, b: tf.linalg.solve(a, b, adjoint=True), SQ[0], RHS[0])
    # Broadcast batch: the matrix gradient is summed over the rhs batch.
    check_gradients(lambda a, b: tf.linalg.triangular_solve(a, b, lower=False), SQ[0], RHS)
    check_gradients(lambda a: tf.linalg.inv(a, adjoint=True), SQ[0])
    check_gradients(lambda a: tf.linalg.logdet(0.5 * (a + tf.linalg.matrix_transpose(a))), SPD[0])


def test_cholesky_gradient_is_symmetric_like_tf():
    # TF's Cholesky gradient is the symmetric one: check it on symmetrized inputs.
    check_gradients(lambda a: tf.linalg.cholesky(0.5 * (a + tf.linalg.matrix_transpose(a))), SPD[0])
    x = tf.constant(SPD[0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.linalg.cholesky(x))
    g = tape.gradient(y, x).numpy()
    np.testing.assert_allclose(g, g.T)


def test_complex_inverse_gradient():
    x = tf.constant(CSQ[0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.linalg.inv(x))
    g = tape.gradient(y, x).numpy()
    inv = np.linalg.inv(CSQ[0])
    np.testing.assert_allclose(g, -_adj(inv) @ np.ones((3, 3)) @ _adj(inv), rtol=1e-10)


def test_qr():
    for x, full in ((TALL, False), (TALL, True), (WIDE, False), (SQ, False)):
        q, r = tf.linalg.qr(x, full_matrices=full)
        wq, wr = np.linalg.qr(x, mode="complete" if full else "reduced")
        assert_tensor(q, wq, rtol=1e-6, atol=1e-8)
        assert_tensor(r, wr, rtol=1e-6, atol=1e-8)
        assert_tensor(tf.matmul(q, r), x, atol=1e-10)
    with pytest.raises(NotImplementedError, match="full_matrices"):
        x = tf.constant(TALL)
        with tf.GradientTape() as tape:
            tape.watch(x)
            q, r = tf.linalg.qr(x, full_matrices=True)
        tape.gradient(r, x)


def test_svd():
    x = rng.normal(size=(2, 4, 3))
    s, u, v = tf.linalg.svd(x)
    assert (s.shape, u.shape, v.shape) == ((2, 3), (2, 4, 3), (2, 3, 3))
    assert_tensor(s, np.linalg.svd(x, compute_uv=False))
    assert_tensor(tf.matmul(u * s[..., None, :], v, adjoint_b=True), x, atol=1e-10)
    s, u, v = tf.linalg.svd(x, full_matrices=True)
    assert (u.shape, v.shape) == ((2, 4, 4), (2, 3, 3))
    assert_tensor(tf.linalg.svd(CSQ, compute_uv=False), np.linalg.svd(CSQ, compute_uv=False).astype(np.complex128))
    check_gradients(lambda a: tf.linalg.svd(a, compute_uv=False), x)


def test_eigh():
    e, v = tf.linalg.eigh(SPD)
    want_e, _ = np.linalg.eigh(SPD)
    assert_tensor(e, want_e)
    assert_tensor(tf.matmul(v * e[..., None, :], v, adjoint_b=True), SPD, atol=1e-10)
    assert_tensor(tf.linalg.eigvalsh(CHPD), np.linalg.eigvalsh(CHPD).astype(np.complex128))
    # Only the lower triangle is read, and the gradient is lower-triangular, as in TF.
    assert_tensor(tf.linalg.eigvalsh(np.tril(SPD)), want_e)
    check_gradients(tf.linalg.eigvalsh, SPD[0])


def test_lstsq_pinv():
    b = rng.normal(size=(4, 2))
    assert_tensor(tf.linalg.lstsq(TALL, b), np.linalg.lstsq(TALL, b, rcond=None)[0])
    ridge = np.linalg.solve(TALL.T @ TALL + 0.5 * np.eye(3), TALL.T @ b)
    assert_tensor(tf.linalg.lstsq(TALL, b, l2_regularizer=0.5), ridge)
    assert_tensor(tf.linalg.lstsq(TALL, b, l2_regularizer=0.5, fast=False), np.linalg.lstsq(TALL, b, rcond=None)[0])
    assert_tensor(tf.linalg.lstsq(WIDE, b[:2], fast=False), np.linalg.pinv(WIDE) @ b[:2])
    assert_tensor(tf.linalg.lstsq(np.stack([TALL, TALL]), np.stack([b, b]), fast=False),
                  np.stack([np.linalg.pinv(TALL) @ b] * 2))
    assert_tensor(tf.linalg.pinv(TALL), np.linalg.pinv(TALL))
    assert_tensor(tf.linalg.pinv(np.diag([2.0, 0.0])), np.diag([0.5, 0.0]))


def test_logdet_lu():
    assert_tensor(tf.linalg.logdet(SPD), np.linalg.slogdet(SPD)[1])
    assert_tensor(tf.linalg.logdet(CHPD), np.linalg.slogdet(CHPD)[1], dtype=tf.float64)
    lu, p = tf.linalg.lu(SQ[0])
    lu = lu.numpy()
    low = np.tril(lu, -1) + np.eye(3)
    np.testing.assert_allclose(low @ np.triu(lu), SQ[0][p.numpy()])
    assert tf.linalg.lu(SQ[0], output_idx_type=tf.int64).p.dtype == tf.int64
