"""Linear algebra products: MatMul, BatchMatMul, Einsum, Cross; tensordot, matvec, transposes, norms.

Diagonals and bands live in `diagonal.py`, factorizations and solvers in `decomposition.py`;
both are imported at the bottom so that importing this family registers all of them.
"""

from __future__ import annotations

import string

import jax.numpy as jnp
import numpy as np
from jax import lax

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import scoped
from flowstone.core.errors import FailedPreconditionError, InvalidArgumentError
from flowstone.core.execute import execute
from flowstone.core.registry import COMPLEX, DERIVE, FLOATS, INTS, OPS, REQUIRED, gradient, op
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import Tensor, constant_value, convert_to_tensor
from flowstone.ops import array, math, reduction

_I = (dtypes.int16, dtypes.int32, dtypes.int64, dtypes.uint8, dtypes.uint16, dtypes.uint32, dtypes.uint64)
_MATMUL_TYPES = FLOATS + _I[1:] + COMPLEX
_BMM_TYPES = FLOATS + _I + COMPLEX
_BMM3_IN = FLOATS + (dtypes.uint8, dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64) + COMPLEX
_BMM3_OUT = FLOATS + (dtypes.int16, dtypes.int32, dtypes.int64) + COMPLEX


def dims(shape) -> str:
    """A shape as TF prints it in kernel errors: `[2,3]`."""
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _adjoint_value(x):
    return jnp.conj(jnp.swapaxes(x, -1, -2))


# --- MatMul -----------------------------------------------------------------------------------


def _matmul_shape(inputs, attrs):
    """[rows of a, columns of b] for valid rank-2 operands (the kernel reports the rest)."""
    a, b = inputs[0].shape, inputs[1].shape
    if a.rank != 2 or b.rank != 2:
        return DERIVE
    rows, inner_a = (a[1], a[0]) if attrs.get("transpose_a") else (a[0], a[1])
    inner_b, cols = (b[1], b[0]) if attrs.get("transpose_b") else (b[0], b[1])
    if inner_a is not None and inner_b is not None and inner_a != inner_b:
        return DERIVE
    return TensorShape([rows, cols])


@op("MatMul", "a: T, b: T -> product: T",
    {"T": _MATMUL_TYPES, "transpose_a": False, "transpose_b": False, "grad_a": False, "grad_b": False},
    shape=_matmul_shape)
def _matmul_kernel(a, b, transpose_a, transpose_b, grad_a, grad_b):
    for i, x in enumerate((a, b)):
        if x.ndim != 2:
            raise ValueError(f"In[{i}] ndims must be == 2: {dims(x.shape)}")
    inner_a = a.shape[0] if transpose_a else a.shape[1]
    inner_b = b.shape[1] if transpose_b else b.shape[0]
    if inner_a != inner_b:
        raise ValueError(f"Matrix size-incompatible: In[0]: {dims(a.shape)}, In[1]: {dims(b.shape)}")
    if jnp.issubdtype(a.dtype, jnp.inexact) and a.dtype == b.dtype:
        # One dot_general equation (jnp.matmul is a nested jit traced per shape in graphs).
        contract = ((0 if transpose_a else 1,), (1 if transpose_b else 0,))
        return lax.dot_general(a, b, (contract, ((), ())))
    return jnp.matmul(a.T if transpose_a else a, b.T if transpose_b else b)


_MATMUL = OPS["MatMul"]


def _mm2(x, y, tx, ty):
    return execute(_MATMUL, (x, y), {"transpose_a": tx, "transpose_b": ty})


@gradient("MatMul")
def _matmul_grad(op, grad):
    a, b = math.conj(op.inputs[0]), math.conj(op.inputs[1])
    ta, tb = op.get_attr("transpose_a"), op.get_attr("transpose_b")
    if not ta and not tb:
        return [_mm2(grad, b, False, True), _mm2(a, grad, True, False)]
    if not ta:
        return [_mm2(grad, b, False, False), _mm2(grad, a, True, False)]
    if not tb:
        return [_mm2(b, grad, False, True), _mm2(a, grad, False, False)]
    return [_mm2(b, grad, True, True), _mm2(grad, a, True, True)]


# --- BatchMatMulV2 / V3 -----------------------------------------------------------------------


def _check_batch_matmul(x, y, adj_x, adj_y):
    for i, t in enumerate((x, y)):
        if t.ndim < 2:
            raise ValueError(f"In[{i}] ndims must be >= 2: {t.ndim}")
    bx, by = x.shape[:-2], y.shape[:-2]
    n = max(len(bx), len(by))
    px, py = (1,) * (n - len(bx)) + bx, (1,) * (n - len(by)) + by
    if any(p != q and p != 1 and q != 1 for p, q in zip(px, py)):
        raise ValueError(
            f"In[0] and In[1] must have compatible batch dimensions: {dims(x.shape)} vs. {dims(y.shape)}"
        )
    inner_x = x.shape[-2] if adj_x else x.shape[-1]
    inner_y = y.shape[-1] if adj_y else y.shape[-2]
    if inner_x != inner_y:
        raise ValueError(f"Matrix size-incompatible: In[0]: {dims(x.shape)}, In[1]: {dims(y.shape)}")


def _batch_matmul(x, y, adj_x, adj_y, out=None):
    _check_batch_matmul(x, y, adj_x, adj_y)
    x = _adjoint_value(x) if adj_x else x
    y = _adjoint_value(y) if adj_y else y
    if out is not None and jnp.issubdtype(out, jnp.integer) and jnp.issubdtype(x.dtype, jnp.integer):
        # Widen first (exact): XLA's GPU int8 GEMM with an int32 result scales it wrongly.
        return jnp.matmul(x.astype(out), y.astype(out))
    return jnp.matmul(x, y, preferred_element_type=out)


op("BatchMatMulV2", "x: T, y: T -> output: T",
   {"T": _BMM_TYPES, "adj_x": False, "adj_y": False, "grad_x": False, "grad_y": False})(
    lambda x, y, adj_x, adj_y, grad_x, grad_y: _batch_matmul(x, y, adj_x, adj_y)
)
op("BatchMatMulV3", "x: Ta, y: Tb -> output: Tout",
   {"Ta": _BMM3_IN, "Tb": _BMM3_IN, "Tout": REQUIRED, "adj_x": False, "adj_y": False, "grad_x": False,
    "grad_y": False})(
    lambda x, y, Tout, adj_x, adj_y, grad_x, grad_y: _batch_matmul(x, y, adj_x, adj_y, Tout.as_numpy_dtype)
)
_BMM = OPS["BatchMatMulV2"]


def batch_mm(x, y, adj_x=False, adj_y=False):
    """`x @ y` with broadcast batch dims through BatchMatMulV2 (gradient helper)."""
    return execute(_BMM, (x, y), {"adj_x": adj_x, "adj_y": adj_y})


def _batch_matmul_grad(op, grad):
    x, y = op.inputs
    ax, ay = op.get_attr("adj_x"), op.get_attr("adj_y")
    if grad.dtype is not x.dtype or grad.dtype is not y.dtype:
        grad = array.cast(grad, x.dtype)
        y = array.cast(y, x.dtype)
    if not ax and not ay:
        gx, gy = batch_mm(grad, y, False, True), batch_mm(x, grad, True, False)
    elif not ax:
        gx, gy = batch_mm(grad, y, False, False), batch_mm(grad, x, True, False)
    elif not ay:
        gx, gy = batch_mm(y, grad, False, True), batch_mm(x, grad, False, False)
    else:
        gx, gy = batch_mm(y, grad, True, True), batch_mm(grad, x, True, True)
    gx = array.reduce_to_shape(gx, op.inputs[0])
    gy = array.reduce_to_shape(gy, op.inputs[1])
    if gy.dtype is not op.inputs[1].dtype:
        gy = array.cast(gy, op.inputs[1].dtype)
    return [gx, gy]


gradient("BatchMatMulV2")(_batch_matmul_grad)
gradient("BatchMatMulV3")(_batch_matmul_grad)


@export("linalg.matmul", "matmul")
def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False, a_is_sparse=False,
           b_is_sparse=False, output_type=None, grad_a=False, grad_b=False, name=None):
    """Matrix product `a @ b` of (batches of) matrices; batch dims broadcast.

    Args:
        a, b: tensors of rank >= 2 with the same dtype (inner dimensions must agree).
        transpose_a, transpose_b: transpose the last two dims of `a` / `b` first.
        adjoint_a, adjoint_b: conjugate-transpose `a` / `b` first.
        a_is_sparse, b_is_sparse: accepted for compatibility; ignored.
        output_type: the result dtype (e.g. int32 for int8 inputs); default: the input dtype.
        grad_a, grad_b: accepted for compatibility; ignored.
        name: optional op name.

    Returns:
        A tensor of shape `batch + [M, N]`.

    Raises:
        InvalidArgumentError: the inner dimensions or batch dimensions disagree.

    >>> import flowstone as tf
    >>> tf.matmul(tf.constant([[1.0, 2.0]]), tf.constant([[3.0], [4.0]])).numpy()
    array([[11.]], dtype=float32)
    """
    if not isinstance(a, Tensor):
        a = convert_to_tensor(a)
    if not isinstance(b, Tensor):
        b = convert_to_tensor(b, dtype_hint=a.dtype)
    if output_type is None and not (transpose_a or transpose_b or adjoint_a or adjoint_b):
        if a.ndim == 2 and b.ndim == 2:
            return execute(_MATMUL, (a, b), None, name)
    # TF names every kind of product after tf.matmul's scope, "MatMul".
    name = name or "MatMul"
    if transpose_a and adjoint_a:
        raise ValueError("Only one of transpose_a and adjoint_a can be True.")
    if transpose_b and adjoint_b:
        raise ValueError("Only one of transpose_b and adjoint_b can be True.")
    if output_type is not None:
        output_type = dtypes.as_dtype(output_type)
        if output_type is not a.dtype or a.dtype is not b.dtype:
            return execute("BatchMatMulV3", (_conj_if(a, transpose_a), _conj_if(b, transpose_b)),
                           {"Tout": output_type, "adj_x": transpose_a or adjoint_a,
                            "adj_y": transpose_b or adjoint_b}, name)
    if a.ndim == 2 and b.ndim == 2:
        if adjoint_a:
            a = math.conj(a)
        if adjoint_b:
            b = math.conj(b)
        attrs = {"transpose_a": transpose_a or adjoint_a, "transpose_b": transpose_b or adjoint_b}
        return execute(_MATMUL, (a, b), attrs, name)
    # Batched (or unknown rank): BatchMatMulV2's adjoint conjugates, so a plain transpose of a
    # complex operand conjugates it first.
    attrs = {"adj_x": transpose_a or adjoint_a, "adj_y": transpose_b or adjoint_b}
    return execute(_BMM, (_conj_if(a, transpose_a), _conj_if(b, transpose_b)), attrs, name)


def _conj_if(x, flag):
    return math.conj(x) if flag and x.dtype.is_complex else x


@export("linalg.matvec")
@scoped("MatVec")
def matvec(a, b, transpose_a=False, adjoint_a=False, a_is_sparse=False, b_is_sparse=False, name=None):
    """Matrix-vector product `a @ b` over the last dims of `a` (rank >= 2) and `b` (rank >= 1).

    >>> import flowstone as tf
    >>> tf.linalg.matvec(tf.constant([[1, 2], [3, 4]]), tf.constant([1, 1])).numpy()
    array([3, 7], dtype=int32)
    """
    a = convert_to_tensor(a)
    b = convert_to_tensor(b, dtype_hint=a.dtype)
    if transpose_a and adjoint_a:
        raise ValueError("Only one of transpose_a and adjoint_a can be True.")
    sa, sb = a.shape, b.shape
    if sa.rank is not None and sa.rank < 2:
        raise ValueError(f"Argument `a` must have rank >= 2 in matvec, got shape {tuple(sa.as_list())}")
    if sb.rank is not None and sb.rank < 1:
        raise ValueError(f"Argument `b` must have rank >= 1 in matvec, got shape {tuple(sb.as_list())}")
    if sa.rank and sb.rank:
        inner = sa[-2] if (transpose_a or adjoint_a) else sa[-1]
        if inner is not None and sb[-1] is not None and inner != sb[-1]:
            raise InvalidArgumentError(
                None, None, f"Matrix size-incompatible: In[0]: {dims(sa)}, In[1]: {dims(list(sb) + [1])} [Op:MatMul]"
            )
    if adjoint_a:
        a = math.conj(a)
    eq = "...ji,...j->...i" if (transpose_a or adjoint_a) else "...ij,...j->...i"
    return einsum(eq, a, b)


# --- transposes -----------------------------------------------------------------------------------


def _swap_last(x, conjugate=False):
    rank = x.shape.rank
    if rank is None:
        return einsum("...ij->...ji", math.conj(x) if conjugate else x)
    return array.transpose(x, list(range(rank - 2)) + [rank - 1, rank - 2], conjugate=conjugate)


@export("linalg.matrix_transpose")
@scoped("matrix_transpose")
def matrix_transpose(a, name="matrix_transpose", conjugate=False):
    """Transposes the last two dims of `a` (and conjugates when `conjugate`).

    >>> import flowstone as tf
    >>> tf.linalg.matrix_transpose(tf.zeros([2, 3, 4])).shape
    TensorShape([2, 4, 3])
    """
    a = convert_to_tensor(a)
    rank = a.shape.rank
    if rank is not None and rank < 2:
        raise ValueError(
            f"Argument `a` should be a (batch) matrix with rank >= 2.  Received `a` = {a} with shape: "
            f"{tuple(a.shape.as_list())}"
        )
    return _swap_last(a, conjugate)


@export("linalg.adjoint")
@scoped("adjoint")
def adjoint(matrix, name=None):
    """The conjugate transpose of the last two dims.

    >>> import flowstone as tf
    >>> tf.linalg.adjoint(tf.constant([[1.0, 2.0]])).numpy()
    array([[1.],
           [2.]], dtype=float32)
    """
    return matrix_transpose(matrix, conjugate=True)


# --- Einsum -----------------------------------------------------------------------------------

_LETTERS = string.ascii_lowercase + string.ascii_uppercase


def _split_equation(equation):
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    return lhs.split(","), (rhs if arrow else None)


def parse_einsum(equation, ranks):
    """Einsum subscripts with the ellipsis spelled out: (list of label strings per input, output)."""
    ins, out = _split_equation(equation)
    used = set(equation) & set(_LETTERS)
    spare = [c for c in _LETTERS if c not in used]
    ell_len = max((r - len(s.replace("...", "")) for s, r in zip(ins, ranks) if "..." in s), default=0)
    if len(spare) < ell_len:
        raise ValueError(f"Too many dimensions in einsum equation {equation!r}")
    ell = "".join(spare[:ell_len])
    spare = spare[ell_len:]
    expanded = []
    for s, r in zip(ins, ranks):
        if "..." in s:
            n = max(r - len(s.replace("...", "")), 0)
            s = s.replace("...", ell[ell_len - n:] if n else "")
        expanded.append(s)
    if out is None:
        counts = {}
        for s in ins:
            for c in s.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1))
    else:
        out = out.replace("...", ell)
    return expanded, out, spare


def _check_einsum(equation, shapes):
    ins, out = _split_equation(equation)
    if len(ins) != len(shapes):
        raise ValueError(f'Got {len(shapes)} inputs for equation "{equation}", expecting {len(ins)}')
    subs, out, _ = parse_einsum(equation, [len(s) for s in shapes])
    ellipsis = set("".join(subs)) - set(equation)  # labels standing for `...` dims may broadcast
    sizes = {}
    for i, (sub, shape) in enumerate(zip(subs, shapes)):
        if len(sub) != len(shape):
            raise ValueError(f"Expected input {i} to have rank {len(sub)} but got: {len(shape)}")
        for axis, (label, d) in enumerate(zip(sub, shape)):
            known = sizes.get(label)
            if d is None:
                continue
            if known is None or (label in ellipsis and known == 1):
                sizes[label] = d
            elif known != d and not (label in ellipsis and d == 1):
                raise ValueError(
                    f"Expected dimension {known} at axis {axis} of the input shaped {dims(shape)} but got dimension {d}"
                )
    for c in out:
        if c not in sizes and c not in "".join(subs):
            raise ValueError(f"Output subscripts contain the label {c} not present in the input subscripts.")


def _einsum_kernel(inputs, equation):
    _check_einsum(equation, [x.shape for x in inputs])
    return jnp.einsum(equation, *inputs)


op("Einsum", "inputs: N * T -> output: T",
   {"T": FLOATS + (dtypes.int32, dtypes.int64) + COMPLEX, "equation": REQUIRED})(_einsum_kernel)


@gradient("Einsum")
def _einsum_grad(op, grad):
    inputs = list(op.inputs)
    shapes = [x.shape.as_list() for x in inputs]
    if any(d is None for s in shapes for d in s):
        raise ValueError(f"The gradient of Einsum needs known input shapes, got {shapes}")
    subs, out, spare = parse_einsum(op.get_attr("equation"), [len(s) for s in shapes])
    spare = iter(spare)
    size = {}
    for sub, shape in zip(subs, shapes):
        for label, d in zip(sub, shape):
            size[label] = max(size.get(label, 1), d)
    # A size-1 dim broadcast against a larger one gets a label of its own: the gradient sums it.
    subs = ["".join(c if d == size[c] else next(spare) for c, d in zip(s, shape)) for s, shape in zip(subs, shapes)]
    return [_einsum_input_grad(k, inputs, subs, shapes, out, size, grad, spare) for k in range(len(inputs))]


def _einsum_input_grad(k, inputs, subs, shapes, out, size, grad, spare):
    labels, eyes = [], []
    for c in subs[k]:
        if c in labels:  # a repeated label reads a diagonal: route the gradient through eye
            fresh = next(spare)
            eyes.append(c + fresh)
            size[fresh] = size[c]
            labels.append(fresh)
        else:
            labels.append(c)
    terms = [out] + [s for m, s in enumerate(subs) if m != k] + eyes
    present = set("".join(terms))
    target = "".join(c for c in labels if c in present)
    operands = [grad] + [math.conj(x) for m, x in enumerate(inputs) if m != k]
    operands += [convert_to_tensor(np.eye(size[e[0]]), dtype=grad.dtype) for e in eyes]
    g = einsum(",".join(terms) + "->" + target, *operands)
    full = [size[c] if c in present else 1 for c in labels]
    if len(target) != len(labels):
        g = array.reshape(g, full)
    if full != shapes[k]:
        g = array.broadcast_to(g, shapes[k])
    return g


@export("linalg.einsum", "einsum")
def einsum(equation, *inputs, **kwargs):
    """Tensor contraction described by an Einstein-summation `equation` (`...` broadcasts).

    >>> import flowstone as tf
    >>> tf.einsum("ij,j->i", tf.constant([[1, 2], [3, 4]]), tf.constant([1, 1])).numpy()
    array([3, 7], dtype=int32)
    """
    name = kwargs.pop("name", None)
    kwargs.pop("optimize", None)
    return _einsum(equation, inputs, kwargs, name)


@scoped("einsum")
def _einsum(equation, inputs, kwargs, name=None):
    if kwargs:
        raise TypeError(f"Invalid keyword arguments for this function: {', '.join(sorted(kwargs))}")
    if not isinstance(equation, str):
        raise TypeError(f"`equation` must be a string, got {equation!r}")
    tensors = [convert_to_tensor(x) for x in inputs]
    ins, _ = _split_equation(equation)
    if len(ins) != len(tensors):
        raise ValueError(f'Got {len(tensors)} inputs for equation "{equation}", expecting {len(ins)}')
    ranks = [t.shape.rank for t in tensors]
    if None not in ranks:
        try:
            _check_einsum(equation, [t.shape.as_list() for t in tensors])
        except ValueError as e:
            if "label" in str(e) or "inputs for equation" in str(e):
                raise
            raise InvalidArgumentError(None, None, f"{e} [Op:Einsum]") from None
    return execute("Einsum", (tensors,), {"equation": equation.replace(" ", "")})


# --- tensordot --------------------------------------------------------------------------------


def _tensordot_axes(a, b, axes):
    ra, rb = a.shape.rank, b.shape.rank
    value = constant_value(axes) if isinstance(axes, Tensor) else axes
    if value is None:
        raise ValueError("`axes` must be known when building the graph of tensordot")
    value = value.tolist() if isinstance(value, np.ndarray) else value
    if isinstance(value, (int, np.integer)):
        n = int(value)
        if n < 0:
            raise ValueError(f"`axes` must be at least 0. Received: {n}.")
        if n > ra:
            raise ValueError(
                f"`axes` must not be larger than the number of dimensions of tensor {a}.  Received {n}, vs "
                f"tensor dimensions {ra}."
            )
        if n > rb:
            raise ValueError(
                f"`axes` must not be larger than the number of dimensions of tensor {b}.  Received {n}, vs "
                f"tensor dimensions {rb}."
            )
        return list(range(ra - n, ra)), list(range(n))
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"`axes` must be an integer or have length 2. Received {axes}.")
    ax_a, ax_b = ([v] if isinstance(v, (int, np.integer)) else list(v) for v in value)
    if len(ax_a) != len(ax_b):
        raise ValueError(f"Different number of contraction axes `a` and `b`, {len(ax_a)} != {len(ax_b)}.")
    for ax, r, which in ((ax_a, ra, "a"), (ax_b, rb, "b")):
        for i in ax:
            if not -r <= int(i) < r:
                raise ValueError(f"Axis {i} is out of range for `{which}` of rank {r} in tensordot.")
    return [int(i) % ra for i in ax_a], [int(i) % rb for i in ax_b]


@export("linalg.tensordot", "tensordot")
@scoped("Tensordot")
def tensordot(a, b, axes, name=None):
    """Sums the product of `a` and `b` over the given axes.

    Args:
        a, b: tensors of the same dtype.
        axes: an int N (last N axes of `a` with first N of `b`), or a pair of axis lists
            `[a_axes, b_axes]`.
        name: optional op name.

    Returns:
        The free axes of `a` followed by the free axes of `b`.

    >>> import flowstone as tf
    >>> tf.tensordot(tf.ones([2, 3]), tf.ones([3, 4]), axes=1).shape
    TensorShape([2, 4])
    """
    a = convert_to_tensor(a)
    b = convert_to_tensor(b, dtype_hint=a.dtype)
    if a.shape.rank is None or b.shape.rank is None:
        raise ValueError("tensordot needs inputs of known rank")
    ax_a, ax_b = _tensordot_axes(a, b, axes)
    sa, sb = a.shape.as_list(), b.shape.as_list()
    for i, j in zip(ax_a, ax_b):
        if sa[i] is not None and sb[j] is not None and sa[i] != sb[j]:
            raise InvalidArgumentError(
                None, None,
                f"tensordot: cannot contract a of shape {tuple(sa)} with b of shape {tuple(sb)} along axes "
                f"{ax_a} and {ax_b}: dimension {sa[i]} (a axis {i}) != {sb[j]} (b axis {j})",
            )
    la = _LETTERS[: len(sa)]
    lb = list(_LETTERS[len(sa): len(sa) + len(sb)])
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    lb = "".join(lb)
    out = "".join(c for i, c in enumerate(la) if i not in ax_a) + "".join(
        c for j, c in enumerate(lb) if j not in ax_b
    )
    return einsum(f"{la},{lb}->{out}", a, b)


# --- Cross --------------------------------------------------------------------------------------

op("Cross", "a: T, b: T -> product: T", {"T": (dtypes.float32, dtypes.float64, dtypes.bfloat16, dtypes.float16) + INTS})(
    lambda a, b: jnp.cross(a, b)
)


@gradient("Cross")
def _cross_grad(op, grad):
    a, b = op.inputs
    return [cross(b, grad), cross(grad, a)]


@export("linalg.cross")
def cross(a, b, name=None):
    """Pairwise cross product of 3-element vectors (same shapes `[..., 3]`).

    >>> import flowstone as tf
    >>> tf.linalg.cross(tf.constant([1.0, 0.0, 0.0]), tf.constant([0.0, 1.0, 0.0])).numpy()
    array([0., 0., 1.], dtype=float32)
    """
    a, b = math.binary_pair(a, b)
    sa, sb = a.shape, b.shape
    if sa.rank is not None and sb.rank is not None:
        if sa.is_fully_defined() and sb.is_fully_defined() and sa != sb:
            raise InvalidArgumentError(
                None, None, f"Both inputs must be of same shape: {dims(sa)} vs. {dims(sb)} [Op:Cross]"
            )
        if sa.rank == 0 or (sa[-1] is not None and sa[-1] != 3):
            raise FailedPreconditionError(
                None, None, f"Cross-products are only defined for 3-element vectors, got shape {dims(sa)} [Op:Cross]"
            )
    return execute("Cross", (a, b), name=name)


# --- norms ----------------------------------------------------------------------------------------

_MATRIX_ORDS = ("euclidean", "fro", 1, 2, np.inf)


def _norm_axis(axis, rank):
    bad = ValueError(f"'axis' must be None, an integer, or a tuple of 2 unique integers, got {axis}")
    if axis is None or isinstance(axis, (int, np.integer)):
        return axis
    if isinstance(axis, Tensor):
        axis = constant_value(axis).tolist()
    if not isinstance(axis, (list, tuple)) or not all(isinstance(a, (int, np.integer)) for a in axis):
        raise bad
    if len(axis) == 1:
        return int(axis[0])
    if len(axis) != 2 or (rank is not None and axis[0] % rank == axis[1] % rank) or axis[0] == axis[1]:
        raise bad
    return tuple(int(a) for a in axis)


def _is_real_number(ord):
    return isinstance(ord, (int, float, np.integer, np.floating)) and not isinstance(ord, bool)


@export("linalg.norm", "norm")
@scoped("norm")
def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):  # noqa: A002 - TF's argument name
    """Vector or matrix norm of `tensor` over `axis`.

    Args:
        tensor: a floating-point or complex tensor.
        ord: 'euclidean' (default), 'fro', 1, 2, np.inf, or any positive real p for vector norms;
            matrix norms (2-element `axis`) accept 'euclidean', 'fro', 1, 2 and np.inf.
        axis: None (all elements as one vector), an int (vector norm), or a pair (matrix norm).
        keepdims: keep the reduced axes as size-1 dims.
        name: optional op name.

    Returns:
        The norm, with the dtype of `tensor`.

    >>> import flowstone as tf
    >>> float(tf.norm(tf.constant([3.0, 4.0])))
    5.0
    """
    x = convert_to_tensor(tensor)
    keepdims = bool(keepdims)
    axis = _norm_axis(axis, x.shape.rank)
    if isinstance(axis, tuple):
        if not (ord in _MATRIX_ORDS and not isinstance(ord, bool)):
            raise ValueError(f"'ord' must be a supported matrix norm in ['euclidean', 'fro', 1, 2, inf], got {ord}")
        return _matrix_norm(x, ord, axis, keepdims)
    if not (ord == "euclidean" or (_is_real_number(ord) and ord > 0)):
        raise ValueError(f"'ord' must be a supported vector norm, got {ord}")
    if x.dtype.is_integer or x.dtype is dtypes.bool_:
        raise InvalidArgumentError(
            None, None, f"norm needs a floating-point or complex tensor, got {x.dtype.name} [Op:Sqrt]"
        )
    red = reduction.reduction_axes(x, axis)
    if ord in ("euclidean", 2):
        return math.sqrt(reduction.reduce_sum(_abs_squared(x), axis=red, keepdims=keepdims))
    mag = _magnitude(x)
    if ord == 1:
        return reduction.reduce_sum(mag, axis=red, keepdims=keepdims)
    if ord == np.inf:
        return reduction.reduce_max(mag, axis=red, keepdims=keepdims)
    p = float(ord)
    total = reduction.reduce_sum(math.pow(mag, p), axis=red, keepdims=keepdims)
    return math.pow(total, 1.0 / p)


def _abs_squared(x):
    if x.dtype.is_complex:
        return math.multiply(x, math.conj(x))
    return math.square(x)


def _magnitude(x):
    return math.abs(x)


def _matrix_norm(x, ord, axis, keepdims):
    rank = x.shape.rank
    rows, cols = (a % rank for a in axis) if rank is not None else axis
    if ord in ("euclidean", "fro"):
        return math.sqrt(reduction.reduce_sum(_abs_squared(x), axis=[rows, cols], keepdims=keepdims))
    if ord in (1, np.inf):
        inner, outer = (rows, cols) if ord == 1 else (cols, rows)
        sums = reduction.reduce_sum(_magnitude(x), axis=inner, keepdims=True)
        return reduction.reduce_max(sums, axis=[inner, outer], keepdims=keepdims)
    # ord 2: the largest singular value of each (rows, cols) matrix.
    others = [i for i in range(rank) if i not in (rows, cols)]
    letters = _LETTERS[:rank]
    moved = einsum(f"{letters}->{''.join(letters[i] for i in others + [rows, cols])}", x)
    s = decomposition.svd(moved, compute_uv=False)
    result = reduction.reduce_max(s, axis=-1)
    if keepdims:
        for a in sorted((rows, cols)):
            result = array.expand_dims(result, a)
    return result


@export("linalg.normalize")
@scoped("normalize")
def normalize(tensor, ord="euclidean", axis=None, name=None):  # noqa: A002
    """Divides `tensor` by its norm over `axis`; returns (normalized tensor, norm).

    >>> import flowstone as tf
    >>> tf.linalg.normalize(tf.constant([3.0, 4.0]))[0].numpy()
    array([0.6, 0.8], dtype=float32)
    """
    x = convert_to_tensor(tensor)
    n = norm(x, ord=ord, axis=axis, keepdims=True)
    return x / n, n


# Register the sibling families (diagonals and bands; factorizations and solvers).
from flowstone.ops import decomposition, diagonal  # noqa: E402, F401
