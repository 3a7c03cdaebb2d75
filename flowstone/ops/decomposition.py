"""Matrix factorizations and solvers: inverse, determinants, Cholesky, LU, QR, SVD, eigh, solves.

Kernels read only what TensorFlow's kernels read (Cholesky and eigh: the lower triangle;
triangular solves: the named triangle), so gradients match TensorFlow's.
"""

from __future__ import annotations

import collections
import functools

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import scoped
from flowstone.core.execute import execute
from flowstone.core.registry import COMPLEX, gradient, op
from flowstone.core.tensor import convert_to_tensor
from flowstone.ops import array, diagonal, linalg, math, reduction
from flowstone.ops.linalg import batch_mm, dims

_T = (dtypes.float64, dtypes.float32, dtypes.float16) + COMPLEX

Qr = collections.namedtuple("Qr", ["q", "r"])
LogMatrixDeterminant = collections.namedtuple("LogMatrixDeterminant", ["sign", "log_abs_determinant"])
Lu = collections.namedtuple("Lu", ["lu", "p"])


def _lapack(kernel):
    """Runs half-precision inputs in float32 (LAPACK has no float16) and casts results back."""

    @functools.wraps(kernel)
    def run(x, *args, **kwargs):
        if x.dtype in (jnp.float16, jnp.bfloat16):
            out = kernel(x.astype(jnp.float32), *(a.astype(jnp.float32) for a in args), **kwargs)
            return jax.tree_util.tree_map(lambda o: o.astype(x.dtype) if o.dtype == jnp.float32 else o, out)
        return kernel(x, *args, **kwargs)

    return run


def _check_matrix(x, square=True, what="Input matrix must be square."):
    if x.ndim < 2:
        raise ValueError(f"Input tensor 0 must have rank >= 2, got {x.ndim}: shape {dims(x.shape)}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{what} Got shape {dims(x.shape)}")


def _concrete_true(flag) -> bool:
    """True when `flag` is a concrete True (eager); traced flags cannot raise."""
    return not isinstance(flag, jax.core.Tracer) and bool(flag)


def _adj(x):
    return jnp.conj(jnp.swapaxes(x, -1, -2))


# --- MatrixInverse ----------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("adjoint",))
@_lapack
def _inverse(x, adjoint):
    lu, pivots, _ = jax.lax.linalg.lu(_adj(x) if adjoint else x)
    singular = jnp.any(jnp.diagonal(lu, axis1=-2, axis2=-1) == 0)
    eye = jnp.broadcast_to(jnp.eye(x.shape[-1], dtype=x.dtype), x.shape)
    return jsl.lu_solve((lu, pivots), eye), singular


def _inverse_kernel(x, adjoint):
    _check_matrix(x)
    out, singular = _inverse(x, adjoint=adjoint)
    if _concrete_true(singular):
        raise ValueError("Input is not invertible.")
    return out


# Stateful only so that the eager kernel runs unjitted and can check singularity on the host.
op("MatrixInverse", "input: T -> output: T", {"T": _T, "adjoint": False}, stateful=True)(_inverse_kernel)


@gradient("MatrixInverse")
def _inverse_grad(op, grad):
    y = op.outputs[0]
    if op.get_attr("adjoint"):
        return [math.negative(batch_mm(y, batch_mm(grad, y, True, False)))]
    return [math.negative(batch_mm(y, batch_mm(grad, y, False, True), True, False))]


@export("linalg.inv")
def inv(input, adjoint=False, name=None):  # noqa: A002
    """The inverse of each square matrix (of its adjoint when `adjoint`).

    Raises:
        InvalidArgumentError: a matrix is not square or not invertible.

    >>> import flowstone as tf
    >>> tf.linalg.inv(tf.constant([[2.0, 0.0], [0.0, 4.0]])).numpy()
    array([[0.5 , 0.  ],
           [0.  , 0.25]], dtype=float32)
    """
    return execute("MatrixInverse", (convert_to_tensor(input),), {"adjoint": bool(adjoint)}, name)


# --- determinants -------------------------------------------------------------------------------


def _det_kernel(x):
    _check_matrix(x)
    return _lapack(jnp.linalg.det)(x)


op("MatrixDeterminant", "input: T -> output: T", {"T": _T})(_det_kernel)


def _matrix_grad_scale(g):
    return array.expand_dims(array.expand_dims(g, -1), -1)


@gradient("MatrixDeterminant")
def _det_grad(op, grad):
    a, det = op.inputs[0], op.outputs[0]
    scale = _matrix_grad_scale(math.multiply(grad, math.conj(det)))
    return [math.multiply(scale, inv(a, adjoint=True))]


@export("linalg.det")
def det(input, name=None):  # noqa: A002
    """The determinant of each square matrix.

    >>> import flowstone as tf
    >>> round(float(tf.linalg.det(tf.constant([[1.0, 2.0], [3.0, 4.0]]))), 4)
    -2.0
    """
    return execute("MatrixDeterminant", (convert_to_tensor(input),), name=name)


def _slogdet_kernel(x):
    _check_matrix(x)
    sign, logabs = _lapack(jnp.linalg.slogdet)(x)
    return sign.astype(x.dtype), logabs.astype(x.dtype)


op("LogMatrixDeterminant", "input: T -> sign: T, log_abs_determinant: T", {"T": _T})(_slogdet_kernel)


@gradient("LogMatrixDeterminant")
def _slogdet_grad(op, grad_sign, grad_logabs):
    return [math.multiply(_matrix_grad_scale(grad_logabs), inv(op.inputs[0], adjoint=True))]


@export("linalg.slogdet")
def slogdet(input, name=None):  # noqa: A002
    """Sign and log of the absolute value of each determinant: (sign, log_abs_determinant).

    >>> import flowstone as tf
    >>> float(tf.linalg.slogdet(tf.constant([[-2.0, 0.0], [0.0, 1.0]]))[0])
    -1.0
    """
    return LogMatrixDeterminant(*execute("LogMatrixDeterminant", (convert_to_tensor(input),), name=name))


@export("linalg.logdet")
@scoped("logdet")
def logdet(matrix, name=None):
    """log(det(matrix)) of Hermitian positive-definite matrices, through Cholesky.

    >>> import flowstone as tf
    >>> round(float(tf.linalg.logdet(tf.constant([[2.0, 0.0], [0.0, 2.0]]))), 4)
    1.3863
    """
    chol = cholesky(matrix)
    d = diagonal.diag_part(chol)
    if d.dtype.is_complex:
        d = math.real(d)
    return math.multiply(reduction.reduce_sum(math.log(d), axis=-1), 2.0)


# --- Cholesky -----------------------------------------------------------------------------------


def _cholesky_kernel(x):
    _check_matrix(x)
    return _lapack(functools.partial(jax.lax.linalg.cholesky, symmetrize_input=False))(x)


op("Cholesky", "input: T -> output: T", {"T": _T})(_cholesky_kernel)


@gradient("Cholesky")
def _cholesky_grad(op, grad):
    # TensorFlow's gradient is the symmetric one: 0.5 (S + S^H), S = L^-H phi(L^H G) L^-1.
    chol = op.outputs[0]
    middle = batch_mm(chol, grad, True, False)
    middle = diagonal.band_part(middle, -1, 0)
    middle = diagonal.set_diag(middle, math.multiply(diagonal.diag_part(middle), 0.5))
    left = triangular_solve(chol, middle, lower=True, adjoint=True)
    s = linalg.adjoint(triangular_solve(chol, linalg.adjoint(left), lower=True, adjoint=True))
    return [math.multiply(math.add(s, linalg.adjoint(s)), 0.5)]


@export("linalg.cholesky")
def cholesky(input, name=None):  # noqa: A002
    """The lower-triangular Cholesky factor of each Hermitian positive-definite matrix.

    Only the lower triangle of the input is read; a failed factorization yields NaNs.

    >>> import flowstone as tf
    >>> tf.linalg.cholesky(tf.constant([[4.0, 2.0], [2.0, 5.0]])).numpy()
    array([[2., 0.],
           [1., 2.]], dtype=float32)
    """
    return execute("Cholesky", (convert_to_tensor(input),), name=name)


@export("linalg.cholesky_solve")
@scoped("cholesky_solve")
def cholesky_solve(chol, rhs, name=None):
    """Solves `A X = rhs` given the Cholesky factor `chol` of `A`.

    >>> import flowstone as tf
    >>> tf.linalg.cholesky_solve(tf.constant([[2.0, 0.0], [0.0, 2.0]]), tf.constant([[4.0], [8.0]])).numpy()
    array([[1.],
           [2.]], dtype=float32)
    """
    y = triangular_solve(chol, rhs, lower=True, adjoint=False)
    return triangular_solve(chol, y, lower=True, adjoint=True)


# --- MatrixSolve ----------------------------------------------------------------------------------


def _check_solve(matrix, rhs):
    if matrix.ndim < 2:
        raise ValueError(f"Input tensor 0 must have rank >= 2, got {matrix.ndim}: shape {dims(matrix.shape)}")
    if matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(f"First input (lhs) must be a square matrix. Got shape {dims(matrix.shape)}")
    if rhs.ndim != matrix.ndim or rhs.shape[:-2] != matrix.shape[:-2] or rhs.shape[-2] != matrix.shape[-1]:
        raise ValueError(
            f"Input matrix and rhs are incompatible: matrix shape {dims(matrix.shape)}, rhs shape {dims(rhs.shape)}"
        )


@functools.partial(jax.jit, static_argnames=("adjoint",))
@_lapack
def _solve(matrix, rhs, adjoint):
    lu, pivots, _ = jax.lax.linalg.lu(_adj(matrix) if adjoint else matrix)
    singular = jnp.any(jnp.diagonal(lu, axis1=-2, axis2=-1) == 0)
    return jsl.lu_solve((lu, pivots), rhs), singular


def _solve_kernel(matrix, rhs, adjoint):
    _check_solve(matrix, rhs)
    out, singular = _solve(matrix, rhs, adjoint=adjoint)
    if _concrete_true(singular):
        raise ValueError("Input matrix is not invertible.")
    return out


# Stateful only so that the eager kernel runs unjitted and can check singularity on the host.
op("MatrixSolve", "matrix: T, rhs: T -> output: T", {"T": _T, "adjoint": False}, stateful=True)(_solve_kernel)


@gradient("MatrixSolve")
def _solve_grad(op, grad):
    a, x = op.inputs[0], op.outputs[0]
    adjoint = op.get_attr("adjoint")
    grad_b = solve(a, grad, adjoint=not adjoint)
    if adjoint:
        return [math.negative(batch_mm(x, grad_b, False, True)), grad_b]
    return [math.negative(batch_mm(grad_b, x, False, True)), grad_b]


@export("linalg.solve")
def solve(matrix, rhs, adjoint=False, name=None):
    """Solves `matrix @ X = rhs` (or `adjoint(matrix) @ X = rhs`) for square matrices.

    Raises:
        InvalidArgumentError: shapes are incompatible or a matrix is singular.

    >>> import flowstone as tf
    >>> tf.linalg.solve(tf.constant([[2.0, 0.0], [0.0, 4.0]]), tf.constant([[2.0], [2.0]])).numpy()
    array([[1. ],
           [0.5]], dtype=float32)
    """
    matrix = convert_to_tensor(matrix)
    rhs = convert_to_tensor(rhs, dtype_hint=matrix.dtype)
    return execute("MatrixSolve", (matrix, rhs), {"adjoint": bool(adjoint)}, name)


# --- MatrixTriangularSolve --------------------------------------------------------------------


def _triangular_solve_kernel(matrix, rhs, lower, adjoint):
    for i, t in enumerate((matrix, rhs)):
        if t.ndim < 2:
            raise ValueError(f"Input tensor {i} must have rank >= 2, got {t.ndim}: shape {dims(t.shape)}")
    if matrix.shape[-1] != matrix.shape[-2] or matrix.shape[-1] != rhs.shape[-2]:
        raise ValueError(
            f"In[0] mismatch In[1] shape: {matrix.shape[-1]} vs. {rhs.shape[-2]}: {dims(matrix.shape)} "
            f"{dims(rhs.shape)}"
        )
    try:
        batch = np.broadcast_shapes(matrix.shape[:-2], rhs.shape[:-2])
    except ValueError:
        raise ValueError(
            f"Incompatible batch shapes for MatrixTriangularSolve: {dims(matrix.shape)} vs. {dims(rhs.shape)}"
        ) from None
    matrix = jnp.broadcast_to(matrix, batch + matrix.shape[-2:])
    rhs = jnp.broadcast_to(rhs, batch + rhs.shape[-2:])
    solve_fn = functools.partial(jax.lax.linalg.triangular_solve, left_side=True, lower=lower,
                                 transpose_a=adjoint, conjugate_a=adjoint)
    return _lapack(solve_fn)(matrix, rhs)


op("MatrixTriangularSolve", "matrix: T, rhs: T -> output: T",
   {"T": (dtypes.bfloat16,) + _T, "lower": True, "adjoint": False})(_triangular_solve_kernel)


@gradient("MatrixTriangularSolve")
def _triangular_solve_grad(op, grad):
    a, x = op.inputs[0], op.outputs[0]
    lower, adjoint = op.get_attr("lower"), op.get_attr("adjoint")
    grad_b = triangular_solve(a, grad, lower=lower, adjoint=not adjoint)
    if adjoint:
        grad_a = math.negative(batch_mm(x, grad_b, False, True))
    else:
        grad_a = math.negative(batch_mm(grad_b, x, False, True))
    grad_a = diagonal.band_part(grad_a, -1, 0) if lower else diagonal.band_part(grad_a, 0, -1)
    return [array.reduce_to_shape(grad_a, a), array.reduce_to_shape(grad_b, op.inputs[1])]


@export("linalg.triangular_solve")
@scoped("triangular_solve")
def triangular_solve(matrix, rhs, lower=True, adjoint=False, name=None):
    """Solves `matrix @ X = rhs` for triangular `matrix` (only its `lower`/upper triangle is read).

    >>> import flowstone as tf
    >>> tf.linalg.triangular_solve(tf.constant([[2.0, 0.0], [1.0, 1.0]]), tf.constant([[2.0], [2.0]])).numpy()
    array([[1.],
           [1.]], dtype=float32)
    """
    matrix = convert_to_tensor(matrix)
    rhs = convert_to_tensor(rhs, dtype_hint=matrix.dtype)
    return execute("MatrixTriangularSolve", (matrix, rhs), {"lower": bool(lower), "adjoint": bool(adjoint)})


# --- Qr -----------------------------------------------------------------------------------------


def _qr_kernel(x, full_matrices):
    _check_matrix(x, square=False)
    return _lapack(jnp.linalg.qr)(x, mode="complete" if full_matrices else "reduced")


op("Qr", "input: T -> q: T, r: T", {"T": _T, "full_matrices": False})(_qr_kernel)


def _right_solve_upper(x, r):
    """x @ inv(r)^H for upper-triangular r."""
    return linalg.adjoint(triangular_solve(r, linalg.adjoint(x), lower=False, adjoint=False))


def _qr_square_grad(q, r, gq, gr):
    # Ā = (Q̄ + Q N) R^-H with N = triu(M) + triu(M, 1)^H, M = R̄ R^H - Q^H Q̄ (m >= n, reduced Q);
    # N's diagonal is real because R's is.
    m = math.subtract(batch_mm(gr, r, False, True), batch_mm(q, gq, True, False))
    upper = diagonal.band_part(m, 0, -1)
    d = diagonal.diag_part(m)
    strict = diagonal.set_diag(upper, array.zeros_like(d))
    n = math.add(upper, linalg.adjoint(strict))
    if n.dtype.is_complex:
        n = diagonal.set_diag(n, array.cast(math.real(d), n.dtype))
    return _right_solve_upper(math.add(gq, batch_mm(q, n)), r)


@gradient("Qr")
def _qr_grad(op, gq, gr):
    a = op.inputs[0]
    q, r = op.outputs
    rows, cols = a.shape[-2], a.shape[-1]
    if rows is None or cols is None:
        raise ValueError(f"The gradient of Qr needs known matrix dimensions, got shape {a.shape}")
    if rows >= cols:
        if op.get_attr("full_matrices") and rows > cols:
            raise NotImplementedError(
                "QrGrad not implemented when nrows > ncols and full_matrices is true (as in TensorFlow): the "
                "extra columns of Q are not determined by the input."
            )
        return [_qr_square_grad(q, r, gq, gr)]
    # Wide: A = Q [X | Y] with X square; Y = Q^H V contributes to Q̄.
    x = _columns(r, 0, rows)
    v = _columns(a, rows, cols)
    gx, gy = _columns(gr, 0, rows), _columns(gr, rows, cols)
    gq = math.add(gq, batch_mm(v, gy, False, True))
    gu = _qr_square_grad(q, x, gq, gx)
    return [_concat_last(gu, batch_mm(q, gy))]


def _concat_last(a, b):
    return array.concat([a, b], axis=-1)


@export("linalg.qr")
def qr(input, full_matrices=False, name=None):  # noqa: A002
    """QR decomposition of each matrix: (q, r) with orthonormal q and upper-triangular r.

    >>> import flowstone as tf
    >>> q, r = tf.linalg.qr(tf.constant([[3.0, 0.0], [4.0, 1.0]]))
    >>> r.shape
    TensorShape([2, 2])
    """
    return Qr(*execute("Qr", (convert_to_tensor(input),), {"full_matrices": bool(full_matrices)}, name))


# --- Svd ----------------------------------------------------------------------------------------


def _svd_kernel(x, compute_uv, full_matrices):
    _check_matrix(x, square=False)
    if not compute_uv:
        s = _lapack(functools.partial(jnp.linalg.svd, compute_uv=False))(x)
        empty = jnp.zeros((0,), x.dtype)
        return s.astype(x.dtype), empty, empty
    u, s, vh = _lapack(functools.partial(jnp.linalg.svd, full_matrices=full_matrices))(x)
    return s.astype(x.dtype), u, _adj(vh)


op("Svd", "input: T -> s: T, u: T, v: T", {"T": _T, "compute_uv": True, "full_matrices": False})(_svd_kernel)


def _pairwise_inverse(e):
    """F[i, j] = 1 / (e[j] - e[i]) off the diagonal, 0 on it."""
    diff = math.subtract(array.expand_dims(e, -2), array.expand_dims(e, -1))
    eye = diagonal.diag(array.ones_like(e))
    return math.multiply(math.realdiv(array.ones_like(diff), math.add(diff, eye)), math.subtract(1.0, eye))


@gradient("Svd")
def _svd_grad(op, gs, gu, gv):
    a = op.inputs[0]
    rows, cols = a.shape[-2], a.shape[-1]
    if not op.get_attr("compute_uv"):
        s, u, v = svd(a, full_matrices=False, compute_uv=True)
        scaled = math.multiply(u, array.expand_dims(_cast_to(gs, u), -2))
        return [batch_mm(scaled, v, False, True)]
    s, u, v = op.outputs
    if rows is None or cols is None:
        raise ValueError(f"The gradient of Svd needs known matrix dimensions, got shape {a.shape}")
    k = min(rows, cols)
    if op.get_attr("full_matrices") and rows != cols:
        if abs(rows - cols) > 1:
            raise NotImplementedError(
                "svd gradient has not been implemented for abs(m - n) > 1 with full_matrices is True "
                "(as in TensorFlow): the extra singular vectors are not determined by the input."
            )
        u, gu, v, gv = (_columns(t, 0, k) for t in (u, gu, v, gv))
    return [_svd_reduced_grad(u, s, v, gs, gu, gv, rows, cols)]


def _svd_reduced_grad(u, s, v, gs, gu, gv, rows, cols):
    f = _pairwise_inverse(math.square(s))
    utgu = batch_mm(u, gu, True, False)
    vtgv = batch_mm(v, gv, True, False)
    s_row = array.expand_dims(s, -2)
    s_col = array.expand_dims(s, -1)
    j = math.multiply(f, math.subtract(utgu, linalg.adjoint(utgu)))
    k_ = math.multiply(f, math.subtract(vtgv, linalg.adjoint(vtgv)))
    inner = math.add(math.multiply(j, s_row), math.multiply(s_col, k_))
    inner = math.add(inner, diagonal.diag(gs))
    if u.dtype.is_complex:
                # i Im(diag(U^H dU)) / (2 s): the phase gauge term of the complex SVD.
        im = diagonal.diag_part(math.multiply(math.subtract(utgu, linalg.adjoint(utgu)), 0.25))
        inner = math.add(inner, diagonal.diag(math.realdiv(im, s)))
    grad = batch_mm(batch_mm(u, inner), v, False, True)
    inv_s = array.expand_dims(math.realdiv(array.ones_like(s), s), -2)
    if rows > cols:
        proj = math.subtract(gu, batch_mm(u, utgu))
        grad = math.add(grad, batch_mm(math.multiply(proj, inv_s), v, False, True))
    if cols > rows:
        proj = math.subtract(gv, batch_mm(v, vtgv))
        grad = math.add(grad, batch_mm(math.multiply(u, inv_s), proj, False, True))
    return grad


@export("linalg.svd")
def svd(tensor, full_matrices=False, compute_uv=True, name=None):
    """Singular values (descending) and, with `compute_uv`, vectors: `(s, u, v)` with a = u diag(s) v^H.

    >>> import flowstone as tf
    >>> tf.linalg.svd(tf.constant([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False).numpy()
    array([4., 3.], dtype=float32)
    """
    x = convert_to_tensor(tensor)
    s, u, v = execute("Svd", (x,), {"compute_uv": bool(compute_uv), "full_matrices": bool(full_matrices)}, name)
    if compute_uv:
        return s, u, v
    return s


@export("linalg.pinv")
@scoped("pinv")
def pinv(a, rcond=None, validate_args=False, name=None):
    """Moore-Penrose pseudo-inverse through the SVD; singular values below `rcond * max(s)` are dropped.

    >>> import flowstone as tf
    >>> tf.linalg.pinv(tf.constant([[2.0, 0.0], [0.0, 0.0]])).numpy()
    array([[0.5, 0. ],
           [0. , 0. ]], dtype=float32)
    """
    a = convert_to_tensor(a)
    if not (a.dtype.is_floating or a.dtype.is_complex):
        raise TypeError(f"pinv needs a floating-point or complex tensor, got {a.dtype.name}")
    if rcond is None:
        rows, cols = a.shape[-2], a.shape[-1]
        size = max(rows or 1, cols or 1)
        rcond = 10.0 * size * float(np.finfo(a.dtype.real_dtype.as_numpy_dtype).eps)
    s, u, v = svd(a, full_matrices=False, compute_uv=True)
    cutoff = math.multiply(reduction.reduce_max(s, axis=-1, keepdims=True), rcond)
    keep = math.greater(s, cutoff)
    safe = array.where(keep, s, array.ones_like(s))
    s_inv = array.where(keep, math.realdiv(array.ones_like(s), safe), array.zeros_like(s))
    s_inv = _cast_to(s_inv, v)
    return batch_mm(math.multiply(v, array.expand_dims(s_inv, -2)), u, False, True)


# --- SelfAdjointEigV2 ---------------------------------------------------------------------------


def _eigh_kernel(x, compute_v):
    _check_matrix(x)
    e, v = _lapack(functools.partial(jnp.linalg.eigh, UPLO="L", symmetrize_input=False))(x)
    e = e.astype(x.dtype)
    return (e, v) if compute_v else (e, jnp.zeros((0,), x.dtype))


op("SelfAdjointEigV2", "input: T -> e: T, v: T", {"T": _T, "compute_v": True})(_eigh_kernel)


@gradient("SelfAdjointEigV2")
def _eigh_grad(op, ge, gv):
    e, v = op.outputs
    if not op.get_attr("compute_v"):
        e, v = eigh(op.inputs[0])
        gv = None
    ge_diag = diagonal.diag(ge)
    if gv is None:
        inner = ge_diag
    else:
        f = _pairwise_inverse(e)
        inner = math.add(ge_diag, math.multiply(f, batch_mm(v, gv, True, False)))
    grad = batch_mm(v, batch_mm(inner, v, False, True))
    # The kernel reads the lower triangle only: fold the upper part onto it.
    grad = diagonal.band_part(math.add(grad, linalg.adjoint(grad)), -1, 0)
    return [diagonal.set_diag(grad, math.multiply(diagonal.diag_part(grad), 0.5))]


@export("linalg.eigh")
def eigh(tensor, name=None):
    """Eigenvalues (ascending) and eigenvectors of Hermitian matrices (the lower triangle is read).

    >>> import flowstone as tf
    >>> e, v = tf.linalg.eigh(tf.constant([[2.0, 0.0], [0.0, 1.0]]))
    >>> e.numpy()
    array([1., 2.], dtype=float32)
    """
    e, v = execute("SelfAdjointEigV2", (convert_to_tensor(tensor),), {"compute_v": True}, name)
    return e, v


@export("linalg.eigvalsh")
def eigvalsh(tensor, name=None):
    """Eigenvalues (ascending) of Hermitian matrices.

    >>> import flowstone as tf
    >>> tf.linalg.eigvalsh(tf.constant([[2.0, 1.0], [1.0, 2.0]])).numpy().round(4)
    array([1., 3.], dtype=float32)
    """
    e, _ = execute("SelfAdjointEigV2", (convert_to_tensor(tensor),), {"compute_v": False}, name)
    return e


# --- MatrixSolveLs ------------------------------------------------------------------------------


def _chol_solve_value(c, b):
    chol = jax.lax.linalg.cholesky(c, symmetrize_input=False)
    y = jax.lax.linalg.triangular_solve(chol, b, left_side=True, lower=True)
    return jax.lax.linalg.triangular_solve(chol, y, left_side=True, lower=True, transpose_a=True, conjugate_a=True)


@_lapack
def _lstsq_value(a, b, l2, fast):
    if not fast:
        return jnp.linalg.lstsq(a, b)[0] if a.ndim == 2 else jax.vmap(lambda x, y: jnp.linalg.lstsq(x, y)[0])(
            a.reshape((-1,) + a.shape[-2:]), b.reshape((-1,) + b.shape[-2:])
        ).reshape(a.shape[:-2] + (a.shape[-1], b.shape[-1]))
    rows, cols = a.shape[-2], a.shape[-1]
    if rows >= cols:
        gram = _adj(a) @ a + l2.astype(a.dtype) * jnp.eye(cols, dtype=a.dtype)
        return _chol_solve_value(gram, _adj(a) @ b)
    gram = a @ _adj(a) + l2.astype(a.dtype) * jnp.eye(rows, dtype=a.dtype)
    return _adj(a) @ _chol_solve_value(gram, b)


def _lstsq_kernel(matrix, rhs, l2_regularizer, fast):
    _check_matrix(matrix, square=False)
    if rhs.ndim != matrix.ndim or rhs.shape[:-2] != matrix.shape[:-2] or rhs.shape[-2] != matrix.shape[-2]:
        raise ValueError(
            f"Matrix size-incompatible: In[0]: {dims(matrix.shape)}, In[1]: {dims(rhs.shape)}"
        )
    return _lstsq_value(matrix, rhs, l2_regularizer, fast=fast)


op("MatrixSolveLs", "matrix: T, rhs: T, l2_regularizer: float64 -> output: T", {"T": _T, "fast": True})(
    _lstsq_kernel
)


def _gram_solve(a, b, l2, rows_side):
    """(A^H A + l2 I)^-1 b (or (A A^H + l2 I)^-1 b when `rows_side`) through Cholesky."""
    gram = batch_mm(a, a, False, True) if rows_side else batch_mm(a, a, True, False)
    n = gram.shape[-1]
    eye = diagonal.eye_like(n, a.dtype)
    gram = math.add(gram, math.multiply(_cast_to(l2, a), eye))
    return cholesky_solve(cholesky(gram), b)


@gradient("MatrixSolveLs")
def _lstsq_grad(op, grad):
    # The gradient of the regularized normal equations; for fast=False it is the full-rank one.
    a, b, l2 = op.inputs
    x = op.outputs[0]
    rows, cols = a.shape[-2], a.shape[-1]
    if rows is None or cols is None:
        raise ValueError(f"The gradient of MatrixSolveLs needs known matrix dimensions, got shape {a.shape}")
    if not op.get_attr("fast"):
        l2 = array.zeros_like(l2)
    if rows >= cols:
        z = _gram_solve(a, grad, l2, rows_side=False)
        grad_b = batch_mm(a, z)
        xz = math.add(batch_mm(x, z, False, True), batch_mm(z, x, False, True))
        grad_a = math.add(math.negative(batch_mm(a, xz)), batch_mm(b, z, False, True))
        return [grad_a, grad_b, None]
    y = _gram_solve(a, b, l2, rows_side=True)
    z = _gram_solve(a, batch_mm(a, grad), l2, rows_side=True)
    zy = math.add(batch_mm(z, y, False, True), batch_mm(y, z, False, True))
    grad_a = math.subtract(batch_mm(y, grad, False, True), batch_mm(zy, a))
    return [grad_a, z, None]


@export("linalg.lstsq")
def lstsq(matrix, rhs, l2_regularizer=0.0, fast=True, name=None):
    """Least-squares solution of `matrix @ X = rhs` (ridge-regularized by `l2_regularizer` when `fast`).

    >>> import flowstone as tf
    >>> tf.linalg.lstsq(tf.constant([[1.0], [1.0]]), tf.constant([[1.0], [3.0]])).numpy().round(4)
    array([[2.]], dtype=float32)
    """
    matrix = convert_to_tensor(matrix)
    rhs = convert_to_tensor(rhs, dtype_hint=matrix.dtype)
    l2 = convert_to_tensor(l2_regularizer, dtype=dtypes.float64)
    return execute("MatrixSolveLs", (matrix, rhs, l2), {"fast": bool(fast)}, name)


# --- Lu -----------------------------------------------------------------------------------------


def _lu_kernel(x, output_idx_type):
    _check_matrix(x)
    lu, _, perm = _lapack(jax.lax.linalg.lu)(x)
    return lu, perm.astype(output_idx_type.as_numpy_dtype)


op("Lu", "input: T -> lu: T, p: output_idx_type", {"T": _T, "output_idx_type": dtypes.int32},
   differentiable=False)(_lu_kernel)


@export("linalg.lu")
def lu(input, output_idx_type=dtypes.int32, name=None):  # noqa: A002
    """LU decomposition with partial pivoting: (lu, p) with `L @ U == input[p]`.

    >>> import flowstone as tf
    >>> tf.linalg.lu(tf.constant([[1.0, 2.0], [3.0, 4.0]])).p.numpy()
    array([1, 0], dtype=int32)
    """
    out_type = dtypes.as_dtype(output_idx_type)
    return Lu(*execute("Lu", (convert_to_tensor(input),), {"output_idx_type": out_type}, name))


def _cast_to(x, like):
    return x if x.dtype is like.dtype else array.cast(x, like.dtype)


def _columns(x, start, stop):
    return x[..., :, start:stop]
