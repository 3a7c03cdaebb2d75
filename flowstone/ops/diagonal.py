"""Diagonals and bands of (batches of) matrices: MatrixDiagV3, MatrixDiagPartV3, MatrixSetDiagV3,
MatrixBandPart, and `tf.linalg.trace`.

Diagonal `d` of a matrix holds the elements (i, i + d). A band of diagonals `k = (lo, hi)` is
stored as rows `hi, hi - 1, ..., lo` of length `max_diag_len`; shorter diagonals are padded on
the left or right as `align` says ("RIGHT_LEFT": superdiagonals right-aligned, subdiagonals
left-aligned).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import scoped
from flowstone.core.execute import execute
from flowstone.core.registry import INDEX, gradient, op
from flowstone.core.tensor import Tensor, convert_to_tensor
from flowstone.ops import array, reduction
from flowstone.ops.linalg import dims

_ALIGNS = ("RIGHT_LEFT", "LEFT_RIGHT", "LEFT_LEFT", "RIGHT_RIGHT")


def _band(k):
    k = (k,) if np.ndim(k) == 0 else tuple(k)
    lo, hi = (int(k[0]), int(k[-1]))
    if lo > hi:
        raise ValueError(f"lower_diag_index must not be larger than upper_diag_index: {lo} > {hi}")
    return lo, hi


def _layout(rows, cols, lo, hi, align):
    """For each (i, j) of a rows x cols matrix: inside the band?, its row and column in the band."""
    i = np.arange(rows)[:, None]
    j = np.arange(cols)[None, :]
    d = j - i
    max_len = min(rows + min(hi, 0), cols - max(lo, 0))
    length = np.minimum(rows - np.maximum(0, -d), cols - np.maximum(0, d))
    sup, sub = align.split("_")
    right = np.where(d >= 0, sup == "RIGHT", sub == "RIGHT")
    pos = np.minimum(i, j) + np.where(right, max_len - length, 0)
    inside = (d >= lo) & (d <= hi)
    row = np.clip(hi - d, 0, hi - lo)
    return inside, row, np.clip(pos, 0, max(max_len - 1, 0)), max_len


def _check_align(align):
    align = align.decode() if isinstance(align, bytes) else align
    if align not in _ALIGNS:
        raise ValueError(f"align must be one of {', '.join(_ALIGNS)}, got {align!r}")
    return align


# --- MatrixDiagV3 ---------------------------------------------------------------------------------


def _diag_kernel(diagonal, k, num_rows, num_cols, padding_value, align):
    lo, hi = _band(k)
    align = _check_align(align)
    if lo != hi:
        if diagonal.ndim < 2 or diagonal.shape[-2] != hi - lo + 1:
            raise ValueError(
                f"The number of diagonals provided in the input does not match the lower_diag_index and "
                f"upper_diag_index range: diagonal shape {dims(diagonal.shape)}, k = ({lo}, {hi})"
            )
        band = diagonal
    else:
        if diagonal.ndim < 1:
            raise ValueError(f"diagonal must be at least 1-dim, received shape: {dims(diagonal.shape)}")
        band = diagonal[..., None, :]
    max_len = band.shape[-1]
    min_rows, min_cols = max_len - min(hi, 0), max_len + max(lo, 0)
    if num_rows == -1 and num_cols == -1:
        num_rows = num_cols = max(min_rows, min_cols)
    elif num_rows == -1:
        num_rows = min_rows
    elif num_cols == -1:
        num_cols = min_cols
    if num_rows < min_rows or num_cols < min_cols or min(num_rows + min(hi, 0), num_cols - max(lo, 0)) != max_len:
        raise ValueError(
            f"The number of rows or columns is not consistent with the specified diagonals: num_rows "
            f"{num_rows}, num_cols {num_cols}, k = ({lo}, {hi}), diagonal shape {dims(diagonal.shape)}"
        )
    inside, row, pos, _ = _layout(num_rows, num_cols, lo, hi, align)
    values = band[..., row, pos]
    return jnp.where(inside, values, jnp.asarray(padding_value, band.dtype))


op("MatrixDiagV3",
   "diagonal: T, k: int32, num_rows: int32, num_cols: int32, padding_value: T -> output: T",
   {"align": "RIGHT_LEFT"}, static=("k", "num_rows", "num_cols"))(_diag_kernel)


@gradient("MatrixDiagV3")
def _diag_grad(op, grad):
    k = op.inputs[1]
    return [diag_part(grad, k=k, align=op.get_attr("align")), None, None, None, None]


def _k_tensor(k):
    return k if isinstance(k, Tensor) else convert_to_tensor(k, dtype=dtypes.int32)


@export("linalg.diag")
def diag(diagonal, name="diag", k=0, num_rows=-1, num_cols=-1, padding_value=0, align="RIGHT_LEFT"):
    """A (batch of) matrices with the given diagonal(s) `k` and `padding_value` elsewhere.

    >>> import flowstone as tf
    >>> tf.linalg.diag(tf.constant([1, 2])).numpy()
    array([[1, 0],
           [0, 2]], dtype=int32)
    """
    diagonal = convert_to_tensor(diagonal)
    pad = convert_to_tensor(padding_value, dtype=diagonal.dtype)
    rows = convert_to_tensor(num_rows, dtype=dtypes.int32)
    cols = convert_to_tensor(num_cols, dtype=dtypes.int32)
    return execute("MatrixDiagV3", (diagonal, _k_tensor(k), rows, cols, pad), {"align": align}, name=name or "diag")


# --- MatrixDiagPartV3 -----------------------------------------------------------------------------


def _gather_band(x, lo, hi, align):
    """The band of `x` as [..., num_diags, max_len] and the mask of real (unpadded) entries."""
    rows, cols = x.shape[-2], x.shape[-1]
    max_len = min(rows + min(hi, 0), cols - max(lo, 0))
    d = hi - np.arange(hi - lo + 1)[:, None]
    p = np.arange(max(max_len, 0))[None, :]
    length = np.minimum(rows - np.maximum(0, -d), cols - np.maximum(0, d))
    sup, sub = align.split("_")
    right = np.where(d >= 0, sup == "RIGHT", sub == "RIGHT")
    q = p - np.where(right, max_len - length, 0)
    valid = (q >= 0) & (q < length)
    i = np.clip(q + np.maximum(0, -d), 0, rows - 1)
    j = np.clip(q + np.maximum(0, d), 0, cols - 1)
    return x[..., i, j], valid


def _diag_part_kernel(x, k, padding_value, align):
    lo, hi = _band(k)
    align = _check_align(align)
    if x.ndim < 2:
        raise ValueError(f"input must be at least 2-dim, received shape: {dims(x.shape)}")
    rows, cols = x.shape[-2], x.shape[-1]
    if not (-rows < lo <= hi < cols) and rows * cols:
        raise ValueError(f"The diagonals k = ({lo}, {hi}) are out of bounds for a matrix of shape {dims(x.shape)}")
    values, valid = _gather_band(x, lo, hi, align)
    out = jnp.where(valid, values, jnp.asarray(padding_value, x.dtype))
    return out[..., 0, :] if lo == hi else out


op("MatrixDiagPartV3", "input: T, k: int32, padding_value: T -> diagonal: T", {"align": "RIGHT_LEFT"},
   static=("k",))(_diag_part_kernel)


@gradient("MatrixDiagPartV3")
def _diag_part_grad(op, grad):
    x, k = op.inputs[0], op.inputs[1]
    return [set_diag(array.zeros_like(x), grad, k=k, align=op.get_attr("align")), None, None]


@export("linalg.diag_part")
def diag_part(input, name="diag_part", k=0, padding_value=0, align="RIGHT_LEFT"):  # noqa: A002
    """The diagonal(s) `k` of a (batch of) matrices.

    >>> import flowstone as tf
    >>> tf.linalg.diag_part(tf.constant([[1, 2], [3, 4]])).numpy()
    array([1, 4], dtype=int32)
    """
    x = convert_to_tensor(input)
    _check_rank2(x, "MatrixDiagPartV3")
    pad = convert_to_tensor(padding_value, dtype=x.dtype)
    return execute("MatrixDiagPartV3", (x, _k_tensor(k), pad), {"align": align}, name=name or "diag_part")


def _check_rank2(x, op_name):
    if x.shape.rank is not None and x.shape.rank < 2:
        from flowstone.core.errors import InvalidArgumentError

        raise InvalidArgumentError(
            None, None, f"input must be at least 2-dim, received shape: {dims(x.shape)} [Op:{op_name}]"
        )


# --- MatrixSetDiagV3 ------------------------------------------------------------------------------


def _set_diag_kernel(x, diagonal, k, align):
    lo, hi = _band(k)
    align = _check_align(align)
    if x.ndim < 2:
        raise ValueError(f"input must be at least 2-dim, received shape: {dims(x.shape)}")
    rows, cols = x.shape[-2], x.shape[-1]
    inside, row, pos, max_len = _layout(rows, cols, lo, hi, align)
    want = x.shape[:-2] + ((hi - lo + 1,) if lo != hi else ()) + (max_len,)
    if diagonal.shape != want:
        raise ValueError(
            f"Either first dimensions of diagonal don't match input.shape[:-2], or diagonal.shape[:-1] is not "
            f"equal to the longests diagonal in range [lower_diag_index:upper_diag_index]. Input shape: "
            f"{dims(x.shape)} Diagonal shape: {dims(diagonal.shape)}, expected {dims(want)}"
        )
    band = diagonal[..., None, :] if lo == hi else diagonal
    return jnp.where(inside, band[..., row, pos], x)


op("MatrixSetDiagV3", "input: T, diagonal: T, k: int32 -> output: T", {"align": "RIGHT_LEFT"},
   static=("k",))(_set_diag_kernel)


@gradient("MatrixSetDiagV3")
def _set_diag_grad(op, grad):
    x, d, k = op.inputs
    align = op.get_attr("align")
    return [set_diag(grad, array.zeros_like(d), k=k, align=align), diag_part(grad, k=k, align=align), None]


@export("linalg.set_diag")
def set_diag(input, diagonal, name="set_diag", k=0, align="RIGHT_LEFT"):  # noqa: A002
    """Replaces the diagonal(s) `k` of a (batch of) matrices.

    >>> import flowstone as tf
    >>> tf.linalg.set_diag(tf.zeros([2, 2]), tf.constant([1.0, 2.0])).numpy()
    array([[1., 0.],
           [0., 2.]], dtype=float32)
    """
    x = convert_to_tensor(input)
    _check_rank2(x, "MatrixSetDiagV3")
    diagonal = convert_to_tensor(diagonal, dtype=x.dtype)
    return execute("MatrixSetDiagV3", (x, diagonal, _k_tensor(k)), {"align": align}, name=name or "set_diag")


# --- MatrixBandPart -------------------------------------------------------------------------------


def _band_part_kernel(x, num_lower, num_upper):
    if x.ndim < 2:
        raise ValueError(f"input must be at least 2-dim, received shape: {dims(x.shape)}")
    i = jnp.arange(x.shape[-2])[:, None]
    j = jnp.arange(x.shape[-1])[None, :]
    keep = ((num_lower < 0) | (i - j <= num_lower)) & ((num_upper < 0) | (j - i <= num_upper))
    return jnp.where(keep, x, jnp.zeros((), x.dtype))


op("MatrixBandPart", "input: T, num_lower: Tindex, num_upper: Tindex -> band: T", {"Tindex": INDEX})(
    _band_part_kernel
)


@gradient("MatrixBandPart")
def _band_part_grad(op, grad):
    return [execute("MatrixBandPart", (grad, op.inputs[1], op.inputs[2])), None, None]


@export("linalg.band_part")
def band_part(input, num_lower, num_upper, name=None):  # noqa: A002
    """Keeps `num_lower` subdiagonals and `num_upper` superdiagonals (negative: all); zeros the rest.

    >>> import flowstone as tf
    >>> tf.linalg.band_part(tf.ones([3, 3]), 0, -1).numpy()
    array([[1., 1., 1.],
           [0., 1., 1.],
           [0., 0., 1.]], dtype=float32)
    """
    x = convert_to_tensor(input)
    _check_rank2(x, "MatrixBandPart")
    lower = convert_to_tensor(num_lower, dtype_hint=dtypes.int64)
    upper = convert_to_tensor(num_upper, dtype_hint=lower.dtype)
    if lower.dtype is not upper.dtype:
        lower, upper = array.cast(lower, dtypes.int64), array.cast(upper, dtypes.int64)
    return execute("MatrixBandPart", (x, lower, upper), name=name)


@export("linalg.trace")
@scoped("Trace")
def trace(x, name=None):
    """Sum of the main diagonal of each matrix in `x`.

    >>> import flowstone as tf
    >>> int(tf.linalg.trace(tf.constant([[1, 2], [3, 4]])))
    5
    """
    return reduction.reduce_sum(diag_part(x), axis=-1, name=name)


def eye_like(n, dtype, batch=()):
    """An identity matrix of size n (a constant; gradient helper)."""
    return convert_to_tensor(np.broadcast_to(np.eye(n), tuple(batch) + (n, n)), dtype=dtype)
