"""Tests for flowstone/ops/linalg.py: matmul, matvec, einsum, tensordot, transposes, cross, norms."""

import numpy as np
import pytest

import flowstone as tf
from flowstone.ops import linalg
from tests.helpers import assert_tensor, check_gradients, numerical_gradient

rng = np.random.default_rng(0)
A = rng.normal(size=(2, 3))
B = rng.normal(size=(3, 4))
BATCH = rng.normal(size=(2, 3, 4))
C = (rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))).astype(np.complex128)


def _adj(x):
    return np.conj(np.swapaxes(x, -1, -2))


# --- matmul -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.complex128])
def test_matmul_rank2_dtypes(dtype):
    a, b = (A * 3).astype(dtype), (B * 3).astype(dtype)
    out = tf.matmul(a, b)
    assert_tensor(out, a @ b, dtype=tf.as_dtype(dtype), rtol=1e-5)


def test_matmul_operator_and_lists():
    a = tf.constant(A)
    assert_tensor(a @ tf.constant(B), A @ B)
    assert_tensor(tf.matmul([[1, 2]], [[3], [4]]), [[11]], dtype=tf.int32)
    # The second operand adapts to the first one's dtype, as in TF.
    assert_tensor(tf.matmul(tf.ones([2, 2], tf.float64), [[1, 2], [3, 4]]), [[4, 6], [4, 6]], dtype=tf.float64)


@pytest.mark.parametrize("ta,tb,aa,ab", [(True, False, False, False), (False, True, False, False),
                                         (False, False, True, False), (False, False, False, True),
                                         (True, False, False, True)])
def test_matmul_flags_complex(ta, tb, aa, ab):
    def prep(x, t, adj):
        return x.T if t else (_adj(x) if adj else x)

    out = tf.linalg.matmul(C, C * 2, transpose_a=ta, transpose_b=tb, adjoint_a=aa, adjoint_b=ab)
    assert_tensor(out, prep(C, ta, aa) @ prep(C * 2, tb, ab), dtype=tf.complex128)
    batched = tf.linalg.matmul(C[None], C * 2, transpose_a=ta, transpose_b=tb, adjoint_a=aa, adjoint_b=ab)
    assert_tensor(batched, (prep(C, ta, aa) @ prep(C * 2, tb, ab))[None])


def test_matmul_batch_broadcast_and_sparse_flags():
    x = rng.normal(size=(4, 1, 2, 3))
    y = rng.normal(size=(5, 3, 2))
    assert_tensor(tf.matmul(x, y, a_is_sparse=True, b_is_sparse=True), x @ y)
    assert_tensor(tf.matmul(A, BATCH), A @ BATCH)


def test_matmul_output_type():
    a = np.arange(4, dtype=np.int8).reshape(2, 2)
    out = tf.matmul(a, a, output_type=tf.int32)
    assert_tensor(out, a.astype(np.int32) @ a.astype(np.int32), dtype=tf.int32)
    assert tf.matmul(A, B, output_type=tf.float64).dtype == tf.float64


def test_matmul_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Matrix size-incompatible: In\[0\]: \[2,3\], In\[1\]: \[4,5\]"):
        tf.matmul(tf.zeros([2, 3]), tf.zeros([4, 5]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"In\[0\]: \[2,2,3\], In\[1\]: \[2,4,5\]"):
        tf.matmul(tf.zeros([2, 2, 3]), tf.zeros([2, 4, 5]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="compatible batch dimensions: \\[2,2,3\\] vs. \\[3,3,5\\]"):
        tf.matmul(tf.zeros([2, 2, 3]), tf.zeros([3, 3, 5]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="ndims"):
        tf.matmul(tf.zeros([3]), tf.zeros([3, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a float tensor but is a double tensor"):
        tf.matmul(tf.ones([2, 2]), tf.ones([2, 2], tf.float64))
    with pytest.raises(tf.errors.InvalidArgumentError, match="bool"):
        tf.matmul(tf.ones([2, 2], tf.bool), tf.ones([2, 2], tf.bool))
    with pytest.raises(ValueError, match="transpose_a and adjoint_a"):
        tf.matmul(A, B, transpose_a=True, adjoint_a=True)


def test_matmul_rank2_is_one_execute(monkeypatch):
    calls = []
    real = linalg.execute

    def counting(op, inputs, attrs=None, name=None):
        calls.append(op.name if hasattr(op, "name") else op)
        return real(op, inputs, attrs, name)

    monkeypatch.setattr(linalg, "execute", counting)
    a = tf.ones([64, 64])
    out = tf.matmul(a, a)
    assert calls == ["MatMul"]
    assert_tensor(out, np.full((64, 64), 64.0), dtype=tf.float32)


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_gradients(ta, tb):
    # Contiguous copies: the numerical-gradient helper perturbs a flat view of its argument.
    a = np.ascontiguousarray(A.T if ta else A)
    b = np.ascontiguousarray(B.T if tb else B)
    check_gradients(lambda x, y: tf.matmul(x, y, transpose_a=ta, transpose_b=tb), a, b)


@pytest.mark.parametrize("adj_a,adj_b", [(False, False), (True, True)])
def test_batch_matmul_gradients_broadcast(adj_a, adj_b):
    x = rng.normal(size=(2, 1, 3, 2)) if adj_a else rng.normal(size=(2, 1, 2, 3))
    y = rng.normal(size=(3, 4, 3)) if adj_b else rng.normal(size=(3, 3, 4))
    check_gradients(lambda p, q: tf.matmul(p, q, adjoint_a=adj_a, adjoint_b=adj_b), x, y)


def test_matmul_complex_gradient():
    a, b = tf.constant(C), tf.constant(C * 2)
    with tf.GradientTape() as tape:
        tape.watch(a)
        y = tf.matmul(a, b)
    g = tape.gradient(y, a)
    # TF's convention for complex: grad = upstream @ conj(b)^T.
    np.testing.assert_allclose(g.numpy(), np.ones((2, 2)) @ np.conj(C * 2).T)


def test_matmul_second_order():
    w = rng.uniform(0.5, 1.5, size=(2, 3))

    def first_grad(a, b):
        a, b = tf.convert_to_tensor(a), tf.convert_to_tensor(b)
        with tf.GradientTape() as tape:
            tape.watch(a)
            loss = tf.reduce_sum(tf.square(tf.matmul(a, b)))
        return tape.gradient(loss, a) * tf.constant(w)

    a, b = tf.constant(A), tf.constant(B)
    with tf.GradientTape(persistent=True) as outer:
        outer.watch([a, b])
        total = tf.reduce_sum(first_grad(a, b))
    for index, x in enumerate((a, b)):
        want = numerical_gradient(first_grad, [A, B], index)
        np.testing.assert_allclose(outer.gradient(total, x).numpy(), want, rtol=1e-5, atol=1e-6)


def test_matmul_in_function():
    f = tf.function(lambda x, y: tf.matmul(x, y, transpose_b=True))
    assert_tensor(f(tf.constant(A), tf.constant(A)), A @ A.T)


def test_matvec():
    assert_tensor(tf.linalg.matvec(BATCH, B[0]), BATCH @ B[0])
    assert_tensor(tf.linalg.matvec(C, C[0], adjoint_a=True), _adj(C) @ C[0])
    assert_tensor(tf.linalg.matvec(A, A[:, 0], transpose_a=True), A.T @ A[:, 0])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"In\[0\]: \[2,3\], In\[1\]: \[4,1\]"):
        tf.linalg.matvec(tf.zeros([2, 3]), tf.zeros([4]))
    check_gradients(lambda m, v: tf.linalg.matvec(m, v), A, B[:, 0])


# --- einsum -------------------------------------------------------------------------------------


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("...ij,...jk->...ik", [(1, 2, 3), (4, 3, 2)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ij,ij->", [(2, 3), (2, 3)]),
    ("i,j->ij", [(2,), (3,)]),
    ("bij->b", [(2, 2, 3)]),
    ("iij,jk->ik", [(2, 2, 3), (3, 2)]),
])
def test_einsum_values_and_gradients(equation, shapes):
    args = [rng.normal(size=s) for s in shapes]
    assert_tensor(tf.einsum(equation, *args), np.einsum(equation, *args), rtol=1e-6)
    check_gradients(lambda *xs: tf.einsum(equation, *xs), *args)


def test_einsum_dtypes_and_spaces():
    assert_tensor(tf.einsum("ij, jk -> ik", np.ones((2, 2), np.int32), np.ones((2, 2), np.int32)),
                  np.full((2, 2), 2), dtype=tf.int32)
    assert tf.linalg.einsum("ij->j", tf.ones([2, 2], tf.float32)).dtype == tf.float32
    assert_tensor(tf.einsum("ij,jk->ik", C, C), C @ C)


def test_einsum_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected dimension 3 at axis 0 of the input shaped \[4,5\]"):
        tf.einsum("ij,jk->ik", tf.zeros([2, 3]), tf.zeros([4, 5]))
    with pytest.raises(ValueError, match="label l not present"):
        tf.einsum("ij,jk->ikl", tf.zeros([2, 3]), tf.zeros([3, 5]))
    with pytest.raises(ValueError, match='Got 1 inputs for equation "ij,jk->ik", expecting 2'):
        tf.einsum("ij,jk->ik", tf.zeros([2, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="rank 2 but got: 3"):
        tf.einsum("ij->i", tf.zeros([3, 3, 3]))


# --- tensordot ----------------------------------------------------------------------------------


def test_tensordot_axes_forms():
    x, y = rng.normal(size=(2, 3, 4)), rng.normal(size=(3, 4, 5))
    for axes in (2, [[1, 2], [0, 1]], ([1, 2], [0, 1]), np.array([[1, 2], [0, 1]]), tf.constant([[1, 2], [0, 1]])):
        assert_tensor(tf.tensordot(x, y, axes), np.tensordot(x, y, 2), rtol=1e-6)
    assert_tensor(tf.linalg.tensordot(x, y, [1, 0]), np.tensordot(x, y, [1, 0]), rtol=1e-6)
    assert_tensor(tf.tensordot(x, y, [[-1], [1]]), np.tensordot(x, y, [[2], [1]]), rtol=1e-6)
    assert_tensor(tf.tensordot(A[0], B[:, 0], 0), np.multiply.outer(A[0], B[:, 0]))
    check_gradients(lambda p, q: tf.tensordot(p, q, [[1, 2], [0, 1]]), x, y)


def test_tensordot_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\(3,\).*\(2,\)"):
        tf.tensordot(tf.zeros([3]), tf.zeros([2]), 1)
    with pytest.raises(ValueError, match="must not be larger than the number of dimensions"):
        tf.tensordot(tf.zeros([3]), tf.zeros([3]), 2)
    with pytest.raises(ValueError, match="Different number of contraction axes `a` and `b`, 2 != 1"):
        tf.tensordot(tf.zeros([3, 4]), tf.zeros([4, 3]), [[1, 0], [0]])


# --- transposes, cross ----------------------------------------------------------------------------


def test_matrix_transpose_and_adjoint():
    assert_tensor(tf.linalg.matrix_transpose(BATCH), np.swapaxes(BATCH, -1, -2))
    assert_tensor(tf.linalg.matrix_transpose(C, conjugate=True), _adj(C))
    assert_tensor(tf.linalg.adjoint(C), _adj(C))
    with pytest.raises(ValueError, match="rank >= 2"):
        tf.linalg.matrix_transpose(tf.zeros([3]))


def test_cross():
    x, y = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    assert_tensor(tf.linalg.cross(x, y), np.cross(x, y))
    assert_tensor(tf.linalg.cross([1, 0, 0], [0, 1, 0]), [0, 0, 1], dtype=tf.int32)
    check_gradients(tf.linalg.cross, x, y)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"same shape: \[2,3\] vs. \[3\]"):
        tf.linalg.cross(tf.zeros([2, 3]), tf.zeros([3]))
    with pytest.raises(tf.errors.FailedPreconditionError, match="3-element vectors"):
        tf.linalg.cross(tf.zeros([2]), tf.zeros([2]))


# --- norms ----------------------------------------------------------------------------------------

M = rng.normal(size=(2, 3, 4))


@pytest.mark.parametrize("ord,axis,ref", [
    ("euclidean", None, lambda x: np.sqrt(np.sum(x * x))),
    ("euclidean", -1, lambda x: np.linalg.norm(x, axis=-1)),
    (1, 1, lambda x: np.linalg.norm(x, 1, axis=1)),
    (2, [2], lambda x: np.linalg.norm(x, 2, axis=2)),
    (np.inf, 0, lambda x: np.linalg.norm(x, np.inf, axis=0)),
    (3.5, -1, lambda x: np.sum(np.abs(x) ** 3.5, axis=-1) ** (1 / 3.5)),
    ("fro", (1, 2), lambda x: np.linalg.norm(x, "fro", axis=(1, 2))),
    ("euclidean", [-2, -1], lambda x: np.linalg.norm(x, "fro", axis=(-2, -1))),
    (1, (1, 2), lambda x: np.linalg.norm(x, 1, axis=(1, 2))),
    (np.inf, (2, 0), lambda x: np.linalg.norm(x, np.inf, axis=(2, 0))),
    (2, (1, 2), lambda x: np.linalg.norm(x, 2, axis=(1, 2))),
])
def test_norm_values(ord, axis, ref):
    assert_tensor(tf.norm(M, ord=ord, axis=axis), ref(M), dtype=tf.float64)


def test_norm_keepdims_dtype_and_gradient():
    assert tf.norm(tf.ones([2, 3]), axis=1, keepdims=True).shape == [2, 1]
    assert tf.norm(tf.ones([2, 3, 4]), axis=[0, 2], keepdims=True).shape == [1, 3, 1]
    assert tf.linalg.norm(tf.ones([2, 3, 4]), ord=2, axis=[0, 2], keepdims=True).shape == [1, 3, 1]
    assert tf.norm(tf.ones([3])).dtype == tf.float32
    assert_tensor(tf.norm(C), np.linalg.norm(C))
    check_gradients(lambda x: tf.norm(x, axis=-1), M[0])
    check_gradients(lambda x: tf.norm(x, ord=2, axis=[1, 2]), M[:, :2, :3])


def test_norm_errors():
    with pytest.raises(ValueError, match="'ord' must be a supported vector norm, got fro"):
        tf.norm(tf.zeros([3]), ord="fro")
    with pytest.raises(ValueError, match="supported matrix norm in \\['euclidean', 'fro', 1, 2, inf\\], got 3"):
        tf.norm(tf.zeros([3, 3]), ord=3, axis=[0, 1])
    with pytest.raises(ValueError, match="'ord' must be a supported vector norm, got -1"):
        tf.norm(tf.zeros([3]), ord=-1)
    with pytest.raises(ValueError, match="tuple of 2 unique integers, got \\[0, 1, 2\\]"):
        tf.norm(tf.zeros([3, 3]), axis=[0, 1, 2])
    with pytest.raises(ValueError, match="tuple of 2 unique integers"):
        tf.norm(tf.zeros([3, 3]), axis=[0, 0])


def test_normalize():
    x = np.array([[3.0, 4.0], [6.0, 8.0]])
    normalized, n = tf.linalg.normalize(x, axis=1)
    assert_tensor(normalized, x / np.linalg.norm(x, axis=1, keepdims=True))
    assert_tensor(n, [[5.0], [10.0]])


@pytest.mark.oracle
def test_against_tensorflow(tf_oracle):
    args = {"m": M.tolist(), "a": A.tolist(), "b": B.tolist()}
    want = tf_oracle(
        """
m, a, b = (np.array(args[k]) for k in ("m", "a", "b"))
result = {
    "norm_inf": tf.norm(m, ord=np.inf, axis=[2, 0], keepdims=True).numpy().tolist(),
    "norm_p": tf.norm(m, ord=3.5, axis=1).numpy().tolist(),
    "einsum": tf.einsum("bij,jk->bki", m, b.T).numpy().tolist(),
    "tensordot": tf.tensordot(m, b, [[1], [0]]).numpy().tolist(),
    "matmul": tf.matmul(m, a, transpose_a=True, adjoint_b=True).numpy().tolist(),
    "grad": None,
}
x = tf.constant(m)
with tf.GradientTape() as tape:
    tape.watch(x)
    y = tf.reduce_sum(tf.matmul(x, x, transpose_b=True) ** 2)
result["grad"] = tape.gradient(y, x).numpy().tolist()
"""
    , args)
    x = tf.constant(M)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.matmul(x, x, transpose_b=True) ** 2)
    got = {
        "norm_inf": tf.norm(M, ord=np.inf, axis=[2, 0], keepdims=True),
        "norm_p": tf.norm(M, ord=3.5, axis=1),
        "einsum": tf.einsum("bij,jk->bki", M, B.T),
        "tensordot": tf.tensordot(M, B, [[1], [0]]),
        "matmul": tf.matmul(M, A, transpose_a=True, adjoint_b=True),
        "grad": tape.gradient(y, x),
    }
    for key, value in got.items():
        np.testing.assert_allclose(value.numpy(), np.array(want[key]), rtol=1e-9, atol=1e-9, err_msg=key)
