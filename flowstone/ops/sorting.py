"""Sorting: sort/argsort (on `TopKV2`, registered with tf.math.top_k), unique and searchsorted.

`Unique` and `UniqueWithCounts` have data-dependent output shapes: they are registered with
`stateful=True`, so their kernels run on concrete arrays eagerly (never jitted); inside
`tf.function` the graph interpreter runs them node by node.
"""

from __future__ import annotations

import builtins
import collections

import jax
import jax.numpy as jnp
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import scoped
from flowstone.core.execute import execute
from flowstone.core.registry import op
from flowstone.core.tensor import Tensor, convert_to_tensor
from flowstone.ops import reduction  # noqa: F401 - registers TopKV2 (tf.math.top_k)
from flowstone.ops.array import reshape

# --- sort / argsort ----------------------------------------------------------------------------


def _sort(values, axis, direction, want_indices):
    from flowstone.ops import math
    from flowstone.ops.manip import transpose

    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"Argument `direction` should be one of ASCENDING, DESCENDING. Received: "
                         f"direction={direction}")
    x = convert_to_tensor(values)
    rank = x.shape.rank
    if rank == 0:
        raise ValueError("Rank of input must be at least 1, got 0")
    axis = int(axis)
    if not -rank <= axis < rank:
        raise ValueError(f"Argument `axis` = {axis} not in range [{-rank}, {rank})")
    axis %= rank
    perm = None
    if axis != rank - 1:
        perm = list(builtins.range(rank))
        perm[axis], perm[-1] = rank - 1, axis
        x = transpose(x, perm)
    ascending = direction == "ASCENDING"
    # Order-reversing maps keep TopKV2's tie rule (lower index first): negation for floats and
    # bitwise NOT (-x - 1, exact under wrap-around) for integers.
    if not ascending:
        key = x
    elif x.dtype.is_floating:
        key = math.negative(x)
    elif x.dtype.is_unsigned:
        key = math.subtract(convert_to_tensor(x.dtype.max, dtype=x.dtype), x)
    else:
        key = math.negative(x) - 1
    k = convert_to_tensor(x.shape[-1], dtype=dtypes.int32)
    top, idx = execute("TopKV2", (key, k), {"sorted": True})
    out = idx if want_indices else top
    if not want_indices and ascending:
        if x.dtype.is_floating:
            out = math.negative(out)
        elif x.dtype.is_unsigned:
            out = math.subtract(convert_to_tensor(x.dtype.max, dtype=x.dtype), out)
        else:
            out = math.negative(out + 1)
    return out if perm is None else transpose(out, perm)


@export("sort")
@scoped("sort")
def sort(values, axis=-1, direction="ASCENDING", name=None):
    """Sorts along `axis` ("ASCENDING" or "DESCENDING").

    >>> import flowstone as tf
    >>> tf.sort([3, 1, 2], direction="DESCENDING").numpy()
    array([3, 2, 1], dtype=int32)
    """
    return _sort(values, axis, direction, want_indices=False)


@export("argsort")
@scoped("argsort")
def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """The int32 indices that sort `values` along `axis`; ties keep their order (always stable).

    >>> import flowstone as tf
    >>> tf.argsort([3.0, 1.0, 2.0]).numpy()
    array([1, 2, 0], dtype=int32)
    """
    return _sort(values, axis, direction, want_indices=True)


# --- Unique / UniqueWithCounts -------------------------------------------------------------------


def _unique(x, out_idx):
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError("unique expects a 1D vector.")
    _, first, inverse, counts = np.unique(a, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first, kind="stable")  # first-appearance order, as TensorFlow returns it
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    dt = out_idx.as_numpy_dtype
    return (jnp.asarray(a[first[order]]), jnp.asarray(rank[inverse.reshape(-1)].astype(dt)),
            jnp.asarray(counts[order].astype(dt)))


def _unique_shapes(inputs, attrs, counts=False):
    shapes = [[None], inputs[0].shape]
    return shapes + [[None]] if counts else shapes


op("Unique", "x: T -> y: T, idx: out_idx", {"out_idx": dtypes.int32}, stateful=True, differentiable=False,
   shape=_unique_shapes)(
    lambda x, out_idx: _unique(x, out_idx)[:2]
)
op("UniqueWithCounts", "x: T -> y: T, idx: out_idx, count: out_idx", {"out_idx": dtypes.int32},
   stateful=True, differentiable=False, shape=lambda inputs, attrs: _unique_shapes(inputs, attrs, True))(_unique)

UniqueOutput = collections.namedtuple("Unique", ["y", "idx"])
UniqueWithCountsOutput = collections.namedtuple("UniqueWithCounts", ["y", "idx", "count"])


@export("unique")
def unique(x, out_idx=dtypes.int32, name=None):
    """The distinct values of 1-D `x` in order of first appearance, and each element's index in them.

    >>> import flowstone as tf
    >>> y, idx = tf.unique([3, 1, 3, 2])
    >>> y.numpy(), idx.numpy()
    (array([3, 1, 2], dtype=int32), array([0, 1, 0, 2], dtype=int32))
    """
    out = execute("Unique", (convert_to_tensor(x),), {"out_idx": dtypes.as_dtype(out_idx)}, name=name)
    return UniqueOutput(*out)


@export("unique_with_counts")
def unique_with_counts(x, out_idx=dtypes.int32, name=None):
    """Like `tf.unique`, plus how many times each distinct value occurs.

    >>> import flowstone as tf
    >>> tf.unique_with_counts([3, 1, 3]).count.numpy()
    array([2, 1], dtype=int32)
    """
    out = execute("UniqueWithCounts", (convert_to_tensor(x),), {"out_idx": dtypes.as_dtype(out_idx)}, name=name)
    return UniqueWithCountsOutput(*out)


# --- LowerBound / UpperBound -------------------------------------------------------------------


def _bound_kernel(side):
    def kernel(sorted_inputs, values, out_type):
        if sorted_inputs.ndim != 2 or values.ndim != 2 or sorted_inputs.shape[0] != values.shape[0]:
            raise ValueError("Leading dim_size of both tensors must match: sorted_inputs "
                             f"{list(sorted_inputs.shape)} vs. values {list(values.shape)}")
        found = jax.vmap(lambda s, v: jnp.searchsorted(s, v, side=side))(sorted_inputs, values)
        return found.astype(out_type.as_numpy_dtype)

    return kernel


op("LowerBound", "sorted_inputs: T, values: T -> output: out_type", {"out_type": dtypes.int32},
   differentiable=False)(_bound_kernel("left"))
op("UpperBound", "sorted_inputs: T, values: T -> output: out_type", {"out_type": dtypes.int32},
   differentiable=False)(_bound_kernel("right"))


@export("searchsorted")
def searchsorted(sorted_sequence, values, side="left", out_type=dtypes.int32, name=None):
    """Insertion points of `values` in the innermost dimension of `sorted_sequence`.

    >>> import flowstone as tf
    >>> tf.searchsorted([1, 3, 5], [2, 5], side="right").numpy()
    array([1, 3], dtype=int32)
    """
    if side not in ("left", "right"):
        raise ValueError(f"Argument `side` must be either 'right' or 'left'. Received: `side` = {side}.")
    seq = convert_to_tensor(sorted_sequence)
    vals = convert_to_tensor(values, dtype=seq.dtype) if not isinstance(values, Tensor) else values
    if seq.shape.rank != vals.shape.rank or seq.shape[:-1] != vals.shape[:-1]:
        raise ValueError(f"Leading dimensions of `sorted_sequence` {seq.shape} and `values` {vals.shape} "
                         "must match")
    n, m = seq.shape[-1], vals.shape[-1]
    flat_seq = reshape(seq, [-1, n])
    flat_vals = reshape(vals, [-1, m])
    raw = "LowerBound" if side == "left" else "UpperBound"
    out = execute(raw, (flat_seq, flat_vals), {"out_type": dtypes.as_dtype(out_type)}, name=name)
    return reshape(out, vals.shape.as_list())

