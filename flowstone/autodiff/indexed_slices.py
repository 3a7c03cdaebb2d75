"""`tf.IndexedSlices`: a sparse set of rows of a dense tensor, TF's gradient of `gather`.

`tf.convert_to_tensor` densifies one (summing rows that share an index); tapes pass them
through unchanged to a variable and concatenate several of them when they meet.
"""

from __future__ import annotations

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import constant_value, convert_to_tensor


@export("IndexedSlices")
class IndexedSlices:
    """Rows `values[i]` at positions `indices[i]` of a tensor of shape `dense_shape`.

    >>> import flowstone as tf
    >>> s = tf.IndexedSlices(tf.constant([[1.0, 2.0]]), tf.constant([1]), tf.constant([3, 2]))
    >>> tf.convert_to_tensor(s).numpy()
    array([[0., 0.],
           [1., 2.],
           [0., 0.]], dtype=float32)
    """

    __array_priority__ = 100

    def __init__(self, values, indices, dense_shape=None):
        self._values = values
        self._indices = indices
        self._dense_shape = dense_shape

    @property
    def values(self):
        return self._values

    @property
    def indices(self):
        return self._indices

    @property
    def dense_shape(self):
        return self._dense_shape

    @property
    def dtype(self):
        return self._values.dtype

    @property
    def shape(self) -> TensorShape:
        if self._dense_shape is None:
            return TensorShape(None)
        known = constant_value(self._dense_shape)
        if known is not None:
            return TensorShape([int(d) for d in known])
        rank = self._dense_shape.shape[0] if self._dense_shape.shape.rank == 1 else None
        return TensorShape(None if rank is None else [None] * rank)

    @property
    def device(self):
        return self._values.device

    @property
    def name(self):
        return self._values.name

    @property
    def op(self):
        return self._values.op

    @property
    def graph(self):
        return self._values.graph

    def consumers(self):
        return []

    def __tf_tensor__(self, dtype=None, name=None):
        if dtype is not None and dtype is not self.dtype:
            raise ValueError(
                f"Incompatible tensor conversion requested to `dtype` {dtype.name} for IndexedSlices "
                f"({self}) with dtype {self.dtype.name}"
            )
        if self._dense_shape is None:
            raise ValueError(
                f"Tensor conversion requested for IndexedSlices for argument `value` without "
                f"dense_shape: {self}"
            )
        return to_dense(self)

    def __neg__(self):
        from flowstone.ops import math

        return IndexedSlices(math.negative(self._values), self._indices, self._dense_shape)

    def __str__(self):
        shape = "" if self._dense_shape is None else f", dense_shape={self._dense_shape}"
        return f"IndexedSlices(indices={self._indices}, values={self._values}{shape})"

    def __repr__(self):
        return str(self)


def to_dense(s: IndexedSlices):
    """The dense tensor of an `IndexedSlices` (rows with the same index are summed)."""
    from flowstone.ops import array

    shape = convert_to_tensor(s.dense_shape)
    if shape.dtype is not dtypes.int32 and shape.dtype is not dtypes.int64:
        shape = array.cast(shape, dtypes.int32)
    indices = convert_to_tensor(s.indices)
    values = convert_to_tensor(s.values)
    try:
        from flowstone.ops.indexing import scatter_nd
    except ImportError:
        from flowstone.ops.math import unsorted_segment_sum

        return unsorted_segment_sum(values, indices, shape[0])
    if indices.dtype is not shape.dtype:
        indices = array.cast(indices, shape.dtype)
    return scatter_nd(array.expand_dims(indices, -1), values, shape)


def aggregate(grads):
    """Sums gradient contributions: IndexedSlices are concatenated, a mix is densified."""
    from flowstone.ops import manip, math

    if all(isinstance(g, IndexedSlices) for g in grads):
        values = manip.concat([g.values for g in grads], 0)
        indices = manip.concat([_as_dtype(g.indices, grads[0].indices.dtype) for g in grads], 0)
        return IndexedSlices(values, indices, grads[0].dense_shape)
    dense = [to_dense(g) if isinstance(g, IndexedSlices) else g for g in grads]
    return math.add_n(dense)


def _as_dtype(t, dtype):
    if t.dtype is dtype:
        return t
    from flowstone.ops import array

    return array.cast(t, dtype)


def densify(g):
    """`g` as a dense tensor (an IndexedSlices is converted)."""
    return to_dense(g) if isinstance(g, IndexedSlices) else g
