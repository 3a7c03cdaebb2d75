"""Array ops: creation, shape manipulation, casting and the gradient-shape helpers."""

from __future__ import annotations

import builtins

import jax.numpy as jnp
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.execute import execute
from flowstone.core.registry import INDEX, REQUIRED, gradient, op
from flowstone.core.tensor import Tensor, constant_value, convert_to_tensor

# --- Identity ---------------------------------------------------------------------------------

op("Identity", "input: T -> output: T", shape="same")(lambda x: x)
gradient("Identity")(lambda op, grad: [grad])


@export("identity")
def identity(input, name=None):  # noqa: A002 - TensorFlow's argument name
    """Returns a tensor with the same value (a new node in graphs).

    >>> import flowstone as tf
    >>> tf.identity([1, 2]).numpy()
    array([1, 2], dtype=int32)
    """
    return execute("Identity", (convert_to_tensor(input),), name=name)


# --- Cast -------------------------------------------------------------------------------------


def _cast_kernel(x, DstT, Truncate):  # noqa: N803 - TF attr names
    dst = DstT.as_numpy_dtype
    if jnp.iscomplexobj(x) and not np.issubdtype(dst, np.complexfloating):
        x = jnp.real(x)
    return x.astype(dst)


op("Cast", "x: SrcT -> y: DstT", {"DstT": REQUIRED, "Truncate": False},
   shape="same")(_cast_kernel)


@gradient("Cast")
def _cast_grad(op, grad):
    src = op.inputs[0].dtype
    if src.is_floating or src.is_complex:
        return [cast(grad, src)]
    return [None]


@export("cast", "dtypes.cast")
def cast(x, dtype, name=None):
    """Casts `x` to `dtype` (complex to real keeps the real part, as TF).

    >>> import flowstone as tf
    >>> tf.cast(tf.constant([1.7, -1.7]), tf.int32).numpy()
    array([ 1, -1], dtype=int32)
    """
    dtype = dtypes.as_dtype(dtype)
    x = convert_to_tensor(x)
    if x.dtype is dtype:
        return x
    return execute("Cast", (x,), {"DstT": dtype}, name=name)


# --- Shape, Rank, Size --------------------------------------------------------------------------

op("Shape", "input: T -> output: out_type", {"out_type": dtypes.int32}, differentiable=False)(
    lambda x, out_type: jnp.array(x.shape, dtype=out_type.as_numpy_dtype)
)


@export("shape")
def shape(input, out_type=dtypes.int32, name=None):  # noqa: A002
    """The shape of a tensor as a 1-D int32 tensor.

    >>> import flowstone as tf
    >>> tf.shape(tf.zeros([2, 3])).numpy()
    array([2, 3], dtype=int32)
    """
    x = convert_to_tensor(input)
    return execute("Shape", (x,), {"out_type": dtypes.as_dtype(out_type)}, name=name)


@export("rank")
def rank(input, name=None):  # noqa: A002
    """The rank of a tensor as an int32 scalar tensor."""
    x = convert_to_tensor(input)
    if x.shape.rank is not None:
        return convert_to_tensor(x.shape.rank, dtype=dtypes.int32)
    return size(shape(x))


op("Size", "input: T -> output: out_type", {"out_type": dtypes.int32}, differentiable=False)(
    lambda x, out_type: jnp.array(x.size, dtype=out_type.as_numpy_dtype)
)


@export("size")
def size(input, out_type=dtypes.int32, name=None):  # noqa: A002
    """The number of elements of a tensor as an int32 scalar tensor.

    >>> import flowstone as tf
    >>> tf.size(tf.zeros([2, 3])).numpy()
    6
    """
    x = convert_to_tensor(input)
    return execute("Size", (x,), {"out_type": dtypes.as_dtype(out_type)}, name=name)


# --- Reshape, ExpandDims, BroadcastTo ---------------------------------------------------------


def _reshape_kernel(tensor, shape):
    return jnp.reshape(tensor, shape)


op("Reshape", "tensor: T, shape: Tshape -> output: T", {"Tshape": INDEX}, static=("shape",))(_reshape_kernel)
gradient("Reshape")(lambda op, grad: [reshape(grad, shape(op.inputs[0])), None])


@export("reshape")
def reshape(tensor, shape, name=None):  # noqa: F811 - TF's argument name
    """Reshapes a tensor; one dimension may be -1.

    >>> import flowstone as tf
    >>> tf.reshape(tf.range(6), [2, 3]).shape
    TensorShape([2, 3])
    """
    tensor = convert_to_tensor(tensor)
    return execute("Reshape", (tensor, _shape_tensor(shape)), name=name)


def _shape_tensor(value):
    if isinstance(value, Tensor):
        return value
    if hasattr(value, "as_list"):
        value = value.as_list()
    return convert_to_tensor(value, dtype=dtypes.int32 if not _has_large(value) else dtypes.int64)


def _has_large(value):
    try:
        return any(abs(int(v)) > 2**31 - 1 for v in np.ravel(value))
    except TypeError:
        return False


op("ExpandDims", "input: T, dim: Tdim -> output: T", {"Tdim": INDEX}, static=("dim",))(
    lambda x, dim: jnp.expand_dims(x, dim)
)
gradient("ExpandDims")(lambda op, grad: [reshape(grad, shape(op.inputs[0])), None])


@export("expand_dims")
def expand_dims(input, axis, name=None):  # noqa: A002
    """Inserts a dimension of size 1 at `axis`.

    >>> import flowstone as tf
    >>> tf.expand_dims(tf.constant([1, 2]), 0).shape
    TensorShape([1, 2])
    """
    return execute("ExpandDims", (convert_to_tensor(input), convert_to_tensor(axis, dtype=dtypes.int32)), name=name)


op("BroadcastTo", "input: T, shape: Tidx -> output: T", {"Tidx": INDEX}, static=("shape",))(
    lambda x, shape: jnp.broadcast_to(x, shape)
)


@gradient("BroadcastTo")
def _broadcast_to_grad(op, grad):
    return [reduce_to_shape(grad, op.inputs[0]), None]


@export("broadcast_to")
def broadcast_to(input, shape, name=None):  # noqa: A002
    """Broadcasts a tensor to `shape`.

    >>> import flowstone as tf
    >>> tf.broadcast_to(tf.constant([1, 2]), [2, 2]).numpy()
    array([[1, 2],
           [1, 2]], dtype=int32)
    """
    x = convert_to_tensor(input)
    return execute("BroadcastTo", (x, _shape_tensor(shape)), name=name)


def _bcast_args(s0, s1):
    s0, s1 = [int(v) for v in np.asarray(s0)], [int(v) for v in np.asarray(s1)]
    n = max(len(s0), len(s1))
    p0, p1 = [1] * (n - len(s0)) + s0, [1] * (n - len(s1)) + s1
    r0 = [i for i in range(n) if p0[i] == 1 and p1[i] != 1 or i < n - len(s0)]
    r1 = [i for i in range(n) if p1[i] == 1 and p0[i] != 1 or i < n - len(s1)]
    return np.array(r0, np.int32), np.array(r1, np.int32)


op("BroadcastGradientArgs", "s0: T, s1: T -> r0: T, r1: T", {"T": INDEX}, host=True, differentiable=False)(
    _bcast_args
)


def reduce_to_shape(grad, like):
    """Sums `grad` over broadcast axes so that it takes `like`'s shape (gradient helper)."""
    gs, ls = grad.shape, like.shape
    if gs.is_fully_defined() and ls.is_fully_defined():
        if gs == ls:
            return grad
        g, l = gs.as_list(), ls.as_list()
        lead = len(g) - len(l)
        axes = list(range(lead)) + [lead + i for i, d in enumerate(l) if d == 1 and g[lead + i] != 1]
        from flowstone.ops import math

        if axes:
            grad = math.reduce_sum(grad, axis=axes)
        return reshape(grad, l)
    from flowstone.ops import math

    sl = shape(like)
    r, _ = execute("BroadcastGradientArgs", (sl, shape(grad)))
    return reshape(math.reduce_sum(grad, axis=r), sl)


def expand_reduced(grad, x, axes):
    """Reinserts the reduced `axes` of `x` as size-1 dims of `grad` (reduction gradients)."""
    ax = constant_value(axes)
    rank = x.shape.rank
    if ax is not None and rank is not None:
        ax = {int(a) % rank for a in np.ravel(ax)} if rank else set()
        target = [1 if i in ax else (d if d is not None else -1) for i, d in enumerate(x.shape)]
        if target.count(-1) <= 1:
            return reshape(grad, target)
    from flowstone.ops import indexing, math

    sx = shape(x)
    axes = reshape(math.floormod(cast(axes, dtypes.int32), size(sx)), [-1, 1])
    target = indexing.tensor_scatter_nd_update(sx, axes, ones_like(reshape(axes, [-1])))
    return reshape(grad, target)


# --- creation -----------------------------------------------------------------------------------

op("Fill", "dims: index_type, value: T -> output: T", {"index_type": INDEX}, static=("dims",))(
    lambda dims, value: jnp.full(dims, value)
)
gradient("Fill")(lambda op, grad: [None, _sum_all(grad)])


def _sum_all(grad):
    from flowstone.ops import math

    return math.reduce_sum(grad)


@export("fill")
def fill(dims, value, name=None):
    """A tensor of shape `dims` filled with `value`.

    >>> import flowstone as tf
    >>> tf.fill([2], 7).numpy()
    array([7, 7], dtype=int32)
    """
    return execute("Fill", (_shape_tensor(dims), convert_to_tensor(value)), name=name)


op("ZerosLike", "x: T -> y: T", shape="same", differentiable=False)(jnp.zeros_like)
op("OnesLike", "x: T -> y: T", shape="same", differentiable=False)(jnp.ones_like)


@export("zeros_like")
def zeros_like(input, dtype=None, name=None):  # noqa: A002
    """Zeros with the shape (and dtype unless given) of `input`.

    >>> import flowstone as tf
    >>> tf.zeros_like(tf.constant([1.5, 2.0])).numpy()
    array([0., 0.], dtype=float32)
    """
    x = convert_to_tensor(input)
    y = execute("ZerosLike", (x,), name=name)
    return y if dtype is None else cast(y, dtype)


@export("ones_like")
def ones_like(input, dtype=None, name=None):  # noqa: A002
    """Ones with the shape (and dtype unless given) of `input`.

    >>> import flowstone as tf
    >>> tf.ones_like(tf.constant([1, 2])).numpy()
    array([1, 1], dtype=int32)
    """
    x = convert_to_tensor(input)
    y = execute("OnesLike", (x,), name=name)
    return y if dtype is None else cast(y, dtype)


def _range_kernel(start, limit, delta):
    return jnp.arange(start, limit, delta)


op("Range", "start: Tidx, limit: Tidx, delta: Tidx -> output: Tidx",
   {"Tidx": (dtypes.bfloat16, dtypes.float16, dtypes.float32, dtypes.float64, dtypes.int8, dtypes.int16,
             dtypes.int32, dtypes.int64, dtypes.uint16, dtypes.uint32)},
   static=("start", "limit", "delta"), differentiable=False)(
    lambda start, limit, delta: _range_kernel(start, limit, delta)
)


@export("range")
def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001 - TF's name
    """Like Python's `range`, as a 1-D tensor; the dtype is inferred from the arguments.

    >>> import flowstone as tf
    >>> tf.range(3).numpy()
    array([0, 1, 2], dtype=int32)
    """
    if limit is None:
        start, limit = 0, start
    args = [convert_to_tensor(v) for v in (start, limit, delta)]
    if dtype is None:
        order = [dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float64]
        dtype = max((a.dtype for a in args), key=lambda d: order.index(d) if d in order else 0)
    dtype = dtypes.as_dtype(dtype)
    args = [cast(a, dtype) for a in args]
    return execute("Range", tuple(args))


# --- Pack / Unpack --------------------------------------------------------------------------------

op("Pack", "values: N * T -> output: T", {"axis": 0})(lambda values, axis: jnp.stack(values, axis=axis))
gradient("Pack")(lambda op, grad: unstack(grad, num=len(op.inputs), axis=op.get_attr("axis")))


@export("stack")
def stack(values, axis=0, name="stack"):
    """Stacks a list of rank-R tensors into one rank-(R+1) tensor.

    >>> import flowstone as tf
    >>> tf.stack([tf.constant(1), tf.constant(2)]).numpy()
    array([1, 2], dtype=int32)
    """
    values = [convert_to_tensor(v) for v in values]
    if values and any(v.dtype is not values[0].dtype for v in values):
        values = [convert_to_tensor(v, dtype=values[0].dtype) for v in values]
    return execute("Pack", (values,), {"axis": axis})


def stack_nested(value, dtype=None):
    """Converts a nested list that mixes graph tensors and Python values (used by convert_to_tensor)."""
    if isinstance(value, (list, tuple)):
        return stack([stack_nested(v, dtype) for v in value])
    return convert_to_tensor(value, dtype=dtype)


def _unpack_kernel(value, num, axis):
    return tuple(jnp.moveaxis(value, axis, 0)[i] for i in builtins.range(num))

op("Unpack", "value: T -> output: num * T", {"num": REQUIRED, "axis": 0})(_unpack_kernel)
gradient("Unpack")(lambda op, *grads: [stack(list(grads), axis=op.get_attr("axis"))])


@export("unstack")
def unstack(value, num=None, axis=0, name="unstack"):
    """Splits a tensor along `axis` into a list of tensors.

    >>> import flowstone as tf
    >>> [t.numpy() for t in tf.unstack(tf.constant([1, 2]))]
    [1, 2]
    """
    value = convert_to_tensor(value)
    rank = value.shape.rank
    if num is None:
        if rank is None or value.shape[axis] is None:
            raise ValueError(f"Cannot infer argument `num` from shape {value.shape}")
        num = value.shape[axis]
    if rank is not None and not -rank <= axis < rank:
        raise ValueError(f"Argument `axis` = {axis} not in range [{-rank}, {rank})")
    out = execute("Unpack", (value,), {"num": num, "axis": axis % rank if rank else axis})
    return list(out) if isinstance(out, tuple) else [out]


# --- where (SelectV2) -----------------------------------------------------------------------------

op("SelectV2", "condition: bool, t: T, e: T -> output: T", shape="broadcast")(jnp.where)


@gradient("SelectV2")
def _select_grad(op, grad):
    c, x, y = op.inputs
    zeros = zeros_like(grad)
    return [None, reduce_to_shape(execute("SelectV2", (c, grad, zeros)), x),
            reduce_to_shape(execute("SelectV2", (c, zeros, grad)), y)]


def where(condition, x=None, y=None, name=None):
    """Placeholder replaced by the full `tf.where` in flowstone.ops.indexing."""
    c = convert_to_tensor(condition, dtype=dtypes.bool_)
    from flowstone.ops.math import binary_pair

    x, y = binary_pair(x, y)
    return execute("SelectV2", (c, x, y), name=name)
