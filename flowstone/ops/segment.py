"""Segment reductions (sorted and unsorted), `invert_permutation` and `confusion_matrix`.

Sorted `Segment*` ops size their output from the largest id, so they read the ids on the
host (as TF's CPU kernels do, with the same checks) and run a compiled kernel per size;
`UnsortedSegment*` ops take `num_segments` as a compile-time input.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import scoped
from flowstone.core.execute import execute
from flowstone.core.registry import COMPLEX, INDEX, NUMERIC, REAL, gradient, op
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import Tensor, constant_value, convert_to_tensor
from flowstone.ops import math as m
from flowstone.ops import reduction as r

_KINDS = {
    "sum": jax.ops.segment_sum,
    "prod": jax.ops.segment_prod,
    "max": jax.ops.segment_max,
    "min": jax.ops.segment_min,
}


@functools.partial(jax.jit, static_argnames=("kind", "num", "empty"))
def _segment_reduce(data, ids, kind, num, empty):
    """Reduces rows of `data` into `num` segments; `empty` fills segments with no rows."""
    rest = data.shape[ids.ndim:]
    ids = ids.reshape(-1)
    data = data.reshape((ids.shape[0],) + rest)
    # Negative ids are dropped, as in TF: send them past the end, where the scatter drops them.
    ids = jnp.where(ids < 0, num, ids)
    if kind == "mean":
        total = jax.ops.segment_sum(data, ids, num)
        count = jax.ops.segment_sum(jnp.ones(ids.shape, data.dtype), ids, num)
        count = jnp.maximum(count, 1).reshape((num,) + (1,) * (data.ndim - 1))
        if jnp.issubdtype(data.dtype, jnp.integer):
            return jax.lax.div(total, count)
        return total / count
    out = _KINDS[kind](data, ids, num)
    if empty is None:
        return out
    count = jax.ops.segment_sum(jnp.ones(ids.shape, jnp.int32), ids, num)
    fill = _fill_value(data.dtype, empty)
    return jnp.where((count > 0).reshape((num,) + (1,) * (data.ndim - 1)), out, fill)


def _fill_value(dtype, empty):
    if empty == 0:
        return jnp.zeros((), dtype)
    info = jnp.finfo(dtype) if jnp.issubdtype(dtype, jnp.inexact) else jnp.iinfo(dtype)
    return jnp.asarray(info.min if empty == "lowest" else info.max, dtype)


def _fmt(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


# --- sorted segments --------------------------------------------------------------------------


def _sorted_shape(inputs, attrs):
    data = inputs[0].shape
    return TensorShape(None) if data.rank is None else TensorShape([None]).concatenate(data[1:])


def _unsorted_shape(inputs, attrs):
    data, ids, num = inputs[0].shape, inputs[1].shape, constant_value(inputs[2])
    if data.rank is None or ids.rank is None:
        return TensorShape(None)
    return TensorShape([None if num is None else int(num)]).concatenate(data[ids.rank:])



def _sorted_kernel(kind):
    empty = None if kind in ("sum", "prod", "mean") else 0

    def kernel(data, segment_ids):
        ids = np.asarray(segment_ids)
        if ids.ndim != 1:
            raise ValueError(f"segment_ids should be a vector, got shape {_fmt(ids.shape)}")
        if data.ndim < 1 or data.shape[0] != ids.shape[0]:
            raise ValueError(f"segment_ids should be the same size as dimension 0 of input: data.shape = "
                             f"{_fmt(data.shape)}, segment_ids.shape = {_fmt(ids.shape)}")
        num = int(ids[-1]) + 1 if ids.size else 0
        if ids.size and ids[0] < 0:
            raise ValueError(f"Segment id {ids[0]} out of range [0, {num}), possibly because 'segment_ids' input "
                             f"is not sorted.")
        if ids.size > 1 and np.any(ids[1:] < ids[:-1]):
            raise ValueError("segment ids are not increasing")
        return _segment_reduce(jnp.asarray(data), jnp.asarray(ids), kind, num, empty)

    return kernel


_SORTED = [
    ("SegmentSum", "math.segment_sum", NUMERIC, "sum"),
    ("SegmentProd", "math.segment_prod", NUMERIC, "prod"),
    ("SegmentMax", "math.segment_max", REAL, "max"),
    ("SegmentMin", "math.segment_min", REAL, "min"),
    ("SegmentMean", "math.segment_mean", NUMERIC, "mean"),
]

_g = globals()
for _raw, _name, _allowed, _kind in _SORTED:
    op(_raw, "data: T, segment_ids: Tindices -> output: T", {"T": _allowed, "Tindices": INDEX},
       host=True, shape=_sorted_shape)(_sorted_kernel(_kind))

    def _wrapper(data, segment_ids, name=None, _raw=_raw):
        return execute(_raw, (convert_to_tensor(data), convert_to_tensor(segment_ids)), name=name)

    _wrapper.__name__ = _wrapper.__qualname__ = _name.split(".")[-1]
    _wrapper.__module__ = __name__
    _wrapper.__doc__ = (f"`{_kind}` of the rows of `data` that share a (sorted, non-negative) segment id; "
                        f"segment `i` is row `i` of the result.")
    _g[_wrapper.__name__] = _wrapper
    export(_name)(_wrapper)


# --- unsorted segments ------------------------------------------------------------------------


def _unsorted_kernel(kind):
    empty = {"max": "lowest", "min": "highest"}.get(kind)

    def kernel(data, segment_ids, num_segments):
        if num_segments < 0:
            raise ValueError(f"Input num_segments == {num_segments} must not be negative.")
        if tuple(data.shape[: segment_ids.ndim]) != tuple(segment_ids.shape):
            raise ValueError(f"data.shape = {_fmt(data.shape)} does not start with segment_ids.shape = "
                             f"{_fmt(segment_ids.shape)}")
        return _segment_reduce(data, segment_ids, kind, int(num_segments), empty)

    return kernel


_UNSORTED = [
    ("UnsortedSegmentSum", "math.unsorted_segment_sum", NUMERIC, "sum", (dtypes.int16,) + INDEX),
    ("UnsortedSegmentProd", "math.unsorted_segment_prod", NUMERIC, "prod", INDEX),
    ("UnsortedSegmentMax", "math.unsorted_segment_max", REAL, "max", INDEX),
    ("UnsortedSegmentMin", "math.unsorted_segment_min", REAL, "min", INDEX),
]

for _raw, _name, _allowed, _kind, _tindices in _UNSORTED:
    op(_raw, "data: T, segment_ids: Tindices, num_segments: Tnumsegments -> output: T",
       {"T": _allowed, "Tindices": _tindices, "Tnumsegments": INDEX}, static=("num_segments",),
       shape=_unsorted_shape)(_unsorted_kernel(_kind))

    def _wrapper(data, segment_ids, num_segments, name=None, _raw=_raw):
        return execute(_raw, _unsorted_args(data, segment_ids, num_segments), name=name)

    _wrapper.__name__ = _wrapper.__qualname__ = _name.split(".")[-1]
    _wrapper.__module__ = __name__
    _wrapper.__doc__ = (f"`{_kind}` of the slices of `data` sharing an id in `segment_ids` (negative ids are "
                        f"dropped), into `num_segments` rows.")
    _g[_wrapper.__name__] = _wrapper
    export(_name)(_wrapper)


def _unsorted_args(data, segment_ids, num_segments):
    num = num_segments if isinstance(num_segments, Tensor) else convert_to_tensor(num_segments, dtype=dtypes.int32)
    return convert_to_tensor(data), convert_to_tensor(segment_ids), num


def _segment_counts(data, segment_ids, num_segments):
    """Rows per segment (at least 1), shaped to broadcast against the segment result."""
    from flowstone.ops import array

    data, ids, num = _unsorted_args(data, segment_ids, num_segments)
    counts = unsorted_segment_sum(array.ones_like(ids, dtype=data.dtype), ids, num)  # noqa: F821
    tail = [1] * (data.shape.rank - ids.shape.rank)
    counts = array.reshape(counts, [-1] + tail)
    return m.maximum(counts, 1)


@export("math.unsorted_segment_mean")
@scoped("UnsortedSegmentMean")
def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    """Mean of the slices of `data` sharing each segment id (0 for empty segments).

    >>> import flowstone as tf
    >>> tf.math.unsorted_segment_mean(tf.constant([1.0, 2.0, 3.0]), [0, 0, 1], 2).numpy()
    array([1.5, 3. ], dtype=float32)
    """
    total = unsorted_segment_sum(data, segment_ids, num_segments)  # noqa: F821
    return m.truediv(total, _segment_counts(data, segment_ids, num_segments))


@export("math.unsorted_segment_sqrt_n")
@scoped("UnsortedSegmentSqrtN")
def unsorted_segment_sqrt_n(data, segment_ids, num_segments, name=None):
    """Sum of the slices sharing each segment id, divided by the square root of their count.

    >>> import flowstone as tf
    >>> tf.math.unsorted_segment_sqrt_n(tf.constant([3.0, 1.0]), [0, 0], 1).numpy()
    array([2.828427], dtype=float32)
    """
    total = unsorted_segment_sum(data, segment_ids, num_segments)  # noqa: F821
    return m.truediv(total, m.sqrt(_segment_counts(data, segment_ids, num_segments)))


# --- gradients ----------------------------------------------------------------------------------


def _gather_rows(params, ids, rank=None):
    """`params[ids]` along axis 0, with zeros where an id is negative (dropped by the forward op)."""
    from flowstone.ops import array

    safe = m.maximum(ids, 0)
    try:
        from flowstone.ops import indexing

        gathered = indexing.gather(params, safe)
    except (ImportError, AttributeError):
        gathered = _gather_by_one_hot(params, safe)
    rank = gathered.shape.rank if rank is None else rank
    keep = _expand_to(m.greater_equal(ids, 0), rank)
    return array.where(keep, gathered, array.zeros_like(gathered))


def _expand_to(t, rank):
    from flowstone.ops import array

    while t.shape.rank < rank:
        t = array.expand_dims(t, -1)
    return t


def _gather_by_one_hot(params, ids):
    """`params[ids]` as a one-hot contraction, for when no gather op is registered."""
    from flowstone.ops import array

    n = params.shape[0]
    rest = params.shape.rank - 1
    one_hot = array.cast(m.equal(array.expand_dims(ids, -1), array.range(n, dtype=ids.dtype)), params.dtype)
    one_hot = _expand_to(one_hot, ids.shape.rank + 1 + rest)
    lead = [1] * ids.shape.rank
    expanded = array.reshape(params, lead + params.shape.as_list())
    return r.reduce_sum(m.multiply(one_hot, expanded), ids.shape.rank)


def _selected_grad(op, grad):
    """Gradient of max/min segment ops: split equally among the rows that attain the extremum."""
    from flowstone.ops import array

    data, ids = op.inputs[0], op.inputs[1]
    num = op.outputs[0].shape[0] if len(op.inputs) == 2 else op.inputs[2]
    chosen = _gather_rows(op.outputs[0], ids, data.shape.rank)
    selected = m.logical_and(m.equal(data, chosen), _expand_to(m.greater_equal(ids, 0), data.shape.rank))
    counts = unsorted_segment_sum(array.cast(selected, grad.dtype), ids, num)  # noqa: F821
    share = _gather_rows(m.divide_no_nan(grad, counts), ids, data.shape.rank)
    return [array.where(selected, share, array.zeros_like(share)), None] + [None] * (len(op.inputs) - 2)


def _prod_grad(op, grad):
    """Gradient of product segment ops, exact where a segment holds zeros."""
    from flowstone.ops import array

    data, ids = op.inputs[0], op.inputs[1]
    num = op.outputs[0].shape[0] if len(op.inputs) == 2 else op.inputs[2]
    is_zero = m.equal(data, array.zeros_like(data))
    zeros = unsorted_segment_sum(array.cast(is_zero, dtypes.int32), ids, num)  # noqa: F821
    grad = array.where(_expand_to(m.greater(zeros, 1), grad.shape.rank), array.zeros_like(grad), grad)
    nonzero_data = array.where(is_zero, array.ones_like(data), data)
    nonzero_prod = unsorted_segment_prod(nonzero_data, ids, num)  # noqa: F821
    whole = _gather_rows(op.outputs[0], ids, data.shape.rank)
    partial = array.where(is_zero, _gather_rows(nonzero_prod, ids, data.shape.rank), m.realdiv(whole, nonzero_data))
    return [m.multiply(_gather_rows(grad, ids, data.shape.rank), partial), None] + [None] * (len(op.inputs) - 2)


def _sum_grad(op, grad):
    return [_gather_rows(grad, op.inputs[1], op.inputs[0].shape.rank), None] + [None] * (len(op.inputs) - 2)


@gradient("SegmentMean")
def _segment_mean_grad(op, grad):
    from flowstone.ops import array

    data, ids = op.inputs
    counts = segment_sum(array.ones_like(ids, dtype=grad.dtype), ids)  # noqa: F821
    counts = _expand_to(counts, grad.shape.rank)
    return [_gather_rows(m.realdiv(grad, counts), ids, data.shape.rank), None]


for _raw in ("SegmentSum", "UnsortedSegmentSum"):
    gradient(_raw)(_sum_grad)
for _raw in ("SegmentMax", "SegmentMin", "UnsortedSegmentMax", "UnsortedSegmentMin"):
    gradient(_raw)(_selected_grad)
for _raw in ("SegmentProd", "UnsortedSegmentProd"):
    gradient(_raw)(_prod_grad)


# --- invert_permutation / confusion_matrix --------------------------------------------------------


def _invert_permutation_kernel(x):
    p = np.asarray(x)
    if p.ndim != 1:
        raise ValueError(f"invert_permutation expects a 1D vector, got shape {_fmt(p.shape)}")
    if p.size and (p.min() < 0 or p.max() >= p.size or np.unique(p).size != p.size):
        raise ValueError(f"{p.tolist()} is not a permutation of 0..{p.size - 1}")
    out = np.empty_like(p)
    out[p] = np.arange(p.size, dtype=p.dtype)
    return jnp.asarray(out)


op("InvertPermutation", "x: T -> y: T", {"T": INDEX}, host=True, differentiable=False, shape="same")(_invert_permutation_kernel)


@export("math.invert_permutation", "invert_permutation")
def invert_permutation(x, name=None):
    """The inverse of a permutation of `0..n-1`: `y[x[i]] = i`.

    >>> import flowstone as tf
    >>> tf.math.invert_permutation(tf.constant([2, 0, 1])).numpy()
    array([1, 2, 0], dtype=int32)
    """
    return execute("InvertPermutation", (convert_to_tensor(x),), name=name)


def _squeeze_one_extra_dim(labels, predictions):
    """As TF: when one operand has one more dimension and it is a trailing 1, squeeze it."""
    from flowstone.ops import manip

    rl, rp = labels.shape.rank, predictions.shape.rank
    if rl is not None and rp is not None:
        if rp == rl + 1 and predictions.shape[-1] == 1:
            predictions = manip.squeeze(predictions, [-1])
        elif rl == rp + 1 and labels.shape[-1] == 1:
            labels = manip.squeeze(labels, [-1])
    return labels, predictions


@export("math.confusion_matrix")
@scoped("confusion_matrix")
def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype=dtypes.int32, name=None):
    """The `num_classes x num_classes` matrix counting (label, prediction) pairs.

    Row `i`, column `j` holds the number (or the summed `weights`) of elements whose label is
    `i` and whose prediction is `j`. Without `num_classes` the matrix is sized by the largest
    label or prediction plus one (a size known only when the function runs, inside
    `tf.function`).

    Args:
        labels: 1-D integer tensor of true classes.
        predictions: 1-D integer tensor of predicted classes, the same length as `labels`.
        num_classes: the number of classes (a Python int or scalar integer tensor), or None.
        weights: optional tensor, the same shape as `predictions`, added instead of ones.
        dtype: the dtype of the result.
        name: an optional name.

    Returns:
        A `[num_classes, num_classes]` tensor of `dtype`.

    Raises:
        InvalidArgumentError: a label or prediction is negative or not below `num_classes`.

    >>> import flowstone as tf
    >>> tf.math.confusion_matrix([0, 1, 1], [0, 1, 0]).numpy()
    array([[1, 0],
           [1, 1]], dtype=int32)
    """
    from flowstone.ops import array, checks

    labels = array.cast(convert_to_tensor(labels), dtypes.int64)
    predictions = array.cast(convert_to_tensor(predictions), dtypes.int64)
    labels, predictions = _squeeze_one_extra_dim(labels, predictions)
    if weights is not None:
        weights = convert_to_tensor(weights)
        if not weights.shape.is_compatible_with(predictions.shape):
            raise ValueError(f"Shapes {weights.shape} and {predictions.shape} are incompatible")
    # Checks as ops: eagerly they raise at once, traced they become Assert nodes that run.
    checks.assert_non_negative(labels, message="`labels` contains negative values.  ")
    checks.assert_non_negative(predictions, message="`predictions` contains negative values.  ")
    if num_classes is None:
        num_classes = m.add(m.maximum(r.reduce_max(predictions), r.reduce_max(labels)), 1)
    n = array.cast(num_classes, dtypes.int64) if isinstance(num_classes, Tensor) else int(num_classes)
    bound = convert_to_tensor(n, dtype=dtypes.int64)
    checks.assert_less(labels, bound, message="`labels` out of bound")
    checks.assert_less(predictions, bound, message="`predictions` out of bound")
    dtype = dtypes.as_dtype(dtype)
    values = array.ones_like(labels, dtype=dtype) if weights is None else array.cast(weights, dtype)
    cells = m.add(m.multiply(labels, n), predictions)
    counts = unsorted_segment_sum(values, cells, m.multiply(n, n))  # noqa: F821
    return array.reshape(counts, array.stack([n, n]) if isinstance(n, Tensor) else [n, n], name=name)


del _g, _raw, _name, _allowed, _kind, _tindices, _wrapper, COMPLEX
