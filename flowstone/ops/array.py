"""Array ops: creation, shape manipulation, casting and the gradient-shape helpers."""

from __future__ import annotations

import builtins

import jax
import jax.numpy as jnp
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import ctx, scoped
from flowstone.core.execute import execute
from flowstone.core.registry import COMPLEX, DERIVE, INDEX, NON_STRING, REAL, REQUIRED, gradient, op
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import (
    Tensor,
    constant,
    constant_value,
    convert_to_tensor,
    convert_to_tensor_v2,
    index_tensor,
)

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


op("Cast", "x: SrcT -> y: DstT", {"SrcT": NON_STRING, "DstT": REQUIRED, "Truncate": False},
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
    if dtypes.string in (x.dtype, dtype):
        from flowstone.core.errors import UnimplementedError

        raise UnimplementedError(None, None, f"Cast {x.dtype.name} to {dtype.name} is not supported [Op:Cast]")
    return execute("Cast", (x,), {"DstT": dtype}, name=name)


# --- Shape, Rank, Size --------------------------------------------------------------------------

op("Shape", "input: T -> output: out_type", {"out_type": dtypes.int32}, differentiable=False,
   shape=lambda inputs, attrs: TensorShape([inputs[0].shape.rank]))(
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
    out_type = dtypes.as_dtype(out_type)
    if ctx.graph is not None and x.shape.is_fully_defined():
        return _known(x.shape.as_list(), out_type, name or "Shape")
    return execute("Shape", (x,), {"out_type": out_type}, name=name)


def _known(value, dtype, name):
    # A graph holds what the static shape already tells as a constant, as TF's graphs do
    # (`tf.shape(x)` of a fully known shape is the Const "Shape").
    return constant(value, dtype, name=name)


@export("rank")
def rank(input, name=None):  # noqa: A002
    """The rank of a tensor as an int32 scalar tensor.

    >>> import flowstone as tf
    >>> int(tf.rank(tf.zeros([2, 3])))
    2
    """
    x = convert_to_tensor(input)
    if x.shape.rank is not None:
        if ctx.graph is not None:
            return _known(x.shape.rank, dtypes.int32, name or "Rank")
        return convert_to_tensor(x.shape.rank, dtype=dtypes.int32)
    return size(shape(x), name=name or "Rank")


op("Size", "input: T -> output: out_type", {"out_type": dtypes.int32}, differentiable=False)(
    lambda x, out_type: jnp.array(x.size, dtype=out_type.as_numpy_dtype)
)


@export("size")
def size(input, out_type=dtypes.int32, name=None):  # noqa: A002
    """The number of elements of a tensor as an int32 scalar tensor.

    >>> import flowstone as tf
    >>> int(tf.size(tf.zeros([2, 3])))
    6
    """
    x = convert_to_tensor(input)
    out_type = dtypes.as_dtype(out_type)
    if ctx.graph is not None and x.shape.is_fully_defined():
        return _known(x.shape.num_elements(), out_type, name or "Size")
    return execute("Size", (x,), {"out_type": out_type}, name=name)


# --- Reshape, ExpandDims, BroadcastTo ---------------------------------------------------------


def _reshape_kernel(tensor, shape):
    shape = _as_tuple(shape)
    n = tensor.size
    known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1:
        raise ValueError(f"Only one input size may be -1, not both {unknown[0]} and {unknown[1]}")
    if any(d < -1 for d in shape):
        raise ValueError(f"Size {next(i for i, d in enumerate(shape) if d < -1)} must be non-negative, "
                         f"not {min(shape)}")
    if unknown and (known == 0 and n != 0 or known and n % known):
        raise ValueError(f"Input to reshape is a tensor with {n} values, but the requested shape requires "
                         f"a multiple of {known}")
    if not unknown and known != n:
        raise ValueError(f"Input to reshape is a tensor with {n} values, but the requested shape has {known}")
    if unknown and known == 0:
        shape = tuple(0 if d == -1 else d for d in shape)
    return jnp.reshape(tensor, shape)


def _as_tuple(v):
    """A static input as a tuple of ints (scalars become 1-tuples)."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def fmt_shape(shape) -> str:
    """A shape as TensorFlow prints it in kernel errors: `[2,3]`."""
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def _static_dims(t):
    """The values of a static shape/axis input as a tuple of ints, or None when unknown."""
    value = constant_value(t)
    return None if value is None else tuple(int(d) for d in np.ravel(value))


def _reshape_shape(inputs, attrs):
    """The requested shape, its -1 resolved when the input size is known (the kernel reports errors)."""
    shape = _static_dims(inputs[1])
    if shape is None:
        # Values known only at run time: the rank still comes from the shape input's length.
        n = inputs[1].shape.as_list() if inputs[1].shape.rank == 1 else [None]
        return DERIVE if n[0] is None else TensorShape([None] * n[0])
    if any(d < -1 for d in shape) or shape.count(-1) > 1:
        return DERIVE
    known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
    dims = inputs[0].shape.as_list() if inputs[0].shape.rank is not None else None
    size = None if dims is None or None in dims else int(np.prod(dims, dtype=np.int64))
    if -1 not in shape:
        return DERIVE if size is not None and size != known else TensorShape(shape)
    if known == 0 or (size is not None and size % known):
        return DERIVE
    return TensorShape([(None if size is None else size // known) if d == -1 else d for d in shape])


op("Reshape", "tensor: T, shape: Tshape -> output: T", {"Tshape": INDEX}, static=("shape",),
   shape=_reshape_shape)(_reshape_kernel)
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
    if ctx.graph is None and value.__class__ in (list, tuple) and all(v.__class__ is int for v in value):
        big = any(not -(2**31) <= v < 2**31 for v in value)
        return index_tensor(tuple(value), dtypes.int64 if big else dtypes.int32)
    return convert_to_tensor(value, dtype=dtypes.int32 if not _has_large(value) else dtypes.int64)


def _has_large(value):
    try:
        return any(abs(int(v)) > 2**31 - 1 for v in np.ravel(value))
    except TypeError:
        return False


def _expand_dims_kernel(x, dim):
    dim = _as_tuple(dim)
    if len(dim) != 1:
        raise ValueError(f"'dim' must be a tensor with a single value, but got {len(dim)} values")
    d = dim[0]
    if not -x.ndim - 1 <= d <= x.ndim:
        raise ValueError(f"Tried to expand dim index {d} for tensor with {x.ndim} dimensions.")
    return jnp.expand_dims(x, d)


def _expand_dims_shape(inputs, attrs):
    dim, rank = _static_dims(inputs[1]), inputs[0].shape.rank
    if dim is None or rank is None or len(dim) != 1 or not -rank - 1 <= dim[0] <= rank:
        return DERIVE
    dims = inputs[0].shape.as_list()
    at = dim[0] if dim[0] >= 0 else dim[0] + rank + 1
    return TensorShape(dims[:at] + [1] + dims[at:])


op("ExpandDims", "input: T, dim: Tdim -> output: T", {"Tdim": INDEX}, static=("dim",),
   shape=_expand_dims_shape)(_expand_dims_kernel)
gradient("ExpandDims")(lambda op, grad: [reshape(grad, shape(op.inputs[0])), None])


@export("expand_dims")
def expand_dims(input, axis, name=None):  # noqa: A002
    """Inserts a dimension of size 1 at `axis`.

    >>> import flowstone as tf
    >>> tf.expand_dims(tf.constant([1, 2]), 0).shape
    TensorShape([1, 2])
    """
    return execute("ExpandDims", (convert_to_tensor(input), convert_to_tensor(axis, dtype=dtypes.int32)), name=name)


def _broadcast_to_kernel(x, shape):
    shape = _as_tuple(shape)
    if _broadcast_shapes(x.shape, shape) != tuple(shape):
        raise ValueError(f"Incompatible shapes: {fmt_shape(x.shape)} vs. {fmt_shape(shape)}")
    return jnp.broadcast_to(x, shape)


def _broadcast_shapes(a, b):
    """NumPy broadcasting of two static shapes; None when they are incompatible."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b, strict=False):
        if x != y and 1 not in (x, y):
            return None
        out.append(y if x == 1 else x)
    return tuple(out)


def _broadcast_to_shape(inputs, attrs):
    shape, x = _static_dims(inputs[1]), inputs[0].shape
    if shape is None or x.rank is None or x.rank > len(shape) or any(d < 0 for d in shape):
        return DERIVE
    for d, want in zip(reversed(x.as_list()), reversed(shape), strict=False):
        if d is not None and d != want and d != 1:
            return DERIVE
    return TensorShape(shape)


op("BroadcastTo", "input: T, shape: Tidx -> output: T", {"Tidx": INDEX}, static=("shape",),
   shape=_broadcast_to_shape)(_broadcast_to_kernel)


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
    g_value, l_value = getattr(grad, "_value", None), getattr(like, "_value", None)
    if g_value is not None and l_value is not None and g_value.shape == l_value.shape:
        return grad  # eager, same shape: the common case, without building TensorShapes
    gs, ls = grad.shape, like.shape
    if gs.is_fully_defined() and ls.is_fully_defined():
        if gs == ls:
            return grad
        g, target = gs.as_list(), ls.as_list()
        lead = len(g) - len(target)
        axes = list(builtins.range(lead)) + [lead + i for i, d in enumerate(target) if d == 1 and g[lead + i] != 1]
        from flowstone.ops import math

        if axes:
            grad = math.reduce_sum(grad, axis=axes)
        return reshape(grad, target)
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

def _fill_kernel(dims, value):
    dims = _as_tuple(dims)
    for d in dims:
        if d < 0:
            raise ValueError(f"Dimension {d} must be >= 0")
    if value.ndim:
        raise ValueError(f"value must be a scalar, got shape {fmt_shape(value.shape)}")
    return jnp.full(dims, value)


op("Fill", "dims: index_type, value: T -> output: T", {"index_type": INDEX}, static=("dims",))(_fill_kernel)
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


@op("ZerosLike", "x: T -> y: T", shape="same", differentiable=False)
def _zeros_like_kernel(x):
    # A variant input is a TensorList value: its zero is a list of zero elements (TF's rule).
    zero = getattr(x, "__tensor_list_zeros__", None)
    return zero() if zero is not None else jnp.zeros_like(x)

op("OnesLike", "x: T -> y: T", {"T": NON_STRING}, shape="same", differentiable=False)(jnp.ones_like)


@export("zeros_like")
def zeros_like(input, dtype=None, name=None):  # noqa: A002
    """Zeros with the shape (and dtype unless given) of `input`.

    >>> import flowstone as tf
    >>> tf.zeros_like(tf.constant([1.5, 2.0])).numpy()
    array([0., 0.], dtype=float32)
    """
    x = convert_to_tensor(input)
    dtype = x.dtype if dtype is None else dtypes.as_dtype(dtype)
    name = name or "zeros_like"
    if dtype is not x.dtype or dtype is dtypes.string or _foldable(x, dtype):
        return zeros(_dims(x), dtype, name=name)
    return execute("ZerosLike", (x,), name=name)


def _foldable(x, dtype):
    # TF's graphs hold zeros_like/ones_like of a fully known shape as one Const.
    return ctx.graph is not None and x.shape.is_fully_defined() and dtype is not dtypes.variant


@export("ones_like")
def ones_like(input, dtype=None, name=None):  # noqa: A002
    """Ones with the shape (and dtype unless given) of `input`.

    >>> import flowstone as tf
    >>> tf.ones_like(tf.constant([1, 2])).numpy()
    array([1, 1], dtype=int32)
    """
    x = convert_to_tensor(input)
    dtype = x.dtype if dtype is None else dtypes.as_dtype(dtype)
    name = name or "ones_like"
    if dtype is dtypes.string:
        raise _not_allowed("OnesLike", "T", dtype)
    if dtype is not x.dtype or _foldable(x, dtype):
        return ones(_dims(x), dtype, name=name)
    return execute("OnesLike", (x,), name=name)


def _not_allowed(op_name, attr, dtype):
    from flowstone.core.errors import InvalidArgumentError

    return InvalidArgumentError(
        None, None, f"Value for attr '{attr}' of {dtype.name} is not in the list of allowed values "
        f"[Op:{op_name}]")


def _dims(x):
    """`x`'s shape as a Python list when fully known (static), else as a shape tensor."""
    s = x.shape
    return s.as_list() if s.is_fully_defined() else shape(x)


def _filled(shape_, dtype, value, name):
    dtype = dtypes.as_dtype(dtype)
    if dtype is dtypes.string:
        if value != 0:
            raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype string")
        dims = [int(d) for d in np.ravel(constant_value(_shape_tensor(shape_)))]
        if ctx.graph is not None:
            return constant(np.full(dims, b"", dtype=object), dtypes.string, name=name)
        return convert_to_tensor(np.full(dims, b"", dtype=object), dtype=dtypes.string)
    dims = _shape_tensor(shape_)
    if ctx.graph is not None and not isinstance(shape_, Tensor):
        known = constant_value(dims)
        if known is not None and np.all(known >= 0) and np.prod(known, dtype=np.int64) < 1000:
            # As TF's graphs do for small fills of a known shape: one Const named `zeros`.
            return constant(np.full(np.ravel(known).tolist(), value, dtype.as_numpy_dtype), dtype, name=name)
    return execute("Fill", (dims, convert_to_tensor(value, dtype=dtype)), name=name)


@export("zeros")
def zeros(shape, dtype=dtypes.float32, name=None, layout=None):  # noqa: F811 - TF's argument name
    """A tensor of `shape` filled with zeros (`b''` for strings).

    >>> import flowstone as tf
    >>> tf.zeros([2, 2], tf.int32).numpy()
    array([[0, 0],
           [0, 0]], dtype=int32)
    """
    dtype = dtypes.as_dtype(dtype)
    return _filled(shape, dtype, False if dtype is dtypes.bool_ else 0, name or "zeros")


@export("ones")
def ones(shape, dtype=dtypes.float32, name=None, layout=None):  # noqa: F811
    """A tensor of `shape` filled with ones.

    >>> import flowstone as tf
    >>> tf.ones([3]).numpy()
    array([1., 1., 1.], dtype=float32)
    """
    dtype = dtypes.as_dtype(dtype)
    return _filled(shape, dtype, True if dtype is dtypes.bool_ else 1, name or "ones")


def _range_kernel(start, limit, delta, Tidx=None):  # noqa: N803 - TF's attr name
    if delta == 0:
        raise ValueError(f"Requires delta != 0: {delta}")
    if (delta > 0 and start > limit) or (delta < 0 and start < limit):
        raise ValueError(f"Requires start <= limit when delta > 0: {start}/{limit}" if delta > 0
                         else f"Requires start >= limit when delta < 0: {start}/{limit}")
    # Static inputs arrive as Python numbers: the dtype comes from the Tidx attr (absent only
    # while graph shape inference evaluates the kernel, which reads the shape alone).
    return jnp.arange(start, limit, delta, dtype=None if Tidx is None else Tidx.as_numpy_dtype)


op("Range", "start: Tidx, limit: Tidx, delta: Tidx -> output: Tidx",
   {"Tidx": (dtypes.bfloat16, dtypes.float16, dtypes.float32, dtypes.float64, dtypes.int8, dtypes.int16,
             dtypes.int32, dtypes.int64, dtypes.uint16, dtypes.uint32)},
   static=("start", "limit", "delta"), differentiable=False)(_range_kernel)


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
    out = execute("Range", tuple(args), name=name or "range")
    return out if out.dtype is dtype else cast(out, dtype)


# --- Pack / Unpack --------------------------------------------------------------------------------

def _pack_kernel(values, axis):
    first = values[0].shape
    for i, v in enumerate(values[1:], 1):
        if v.shape != first:
            raise ValueError(f"Shapes of all inputs must match: values[0].shape = {fmt_shape(first)} != "
                             f"values[{i}].shape = {fmt_shape(v.shape)}")
    if not -len(first) - 1 <= axis <= len(first):
        raise ValueError(f"axis = {axis} not in [{-len(first) - 1}, {len(first) + 1})")
    return jnp.stack(values, axis=axis)


op("Pack", "values: N * T -> output: T", {"axis": 0})(_pack_kernel)
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
    return execute("Pack", (values,), {"axis": axis}, name=name or "stack")


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
    >>> [int(t) for t in tf.unstack(tf.constant([1, 2]))]
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
    out = execute("Unpack", (value,), {"num": num, "axis": axis % rank if rank else axis}, name=name or "unstack")
    return list(out) if isinstance(out, tuple) else [out]


# --- where (SelectV2) -----------------------------------------------------------------------------

op("SelectV2", "condition: bool, t: T, e: T -> output: T", shape="broadcast")(jnp.where)


@gradient("SelectV2")
def _select_grad(op, grad):
    c, x, y = op.inputs
    zeros = zeros_like(grad)
    return [None, reduce_to_shape(execute("SelectV2", (c, grad, zeros)), x),
            reduce_to_shape(execute("SelectV2", (c, zeros, grad)), y)]



# --- more creation: linspace, eye, one_hot, meshgrid ------------------------------------------


def _linspace_kernel(start, stop, num):
    if num < 0:
        raise ValueError(f"Requires num > 0: {num}")
    if start.ndim or stop.ndim:
        raise ValueError("start and stop must be scalars")
    return jnp.linspace(start, stop, num, dtype=start.dtype)


op("LinSpace", "start: T, stop: T, num: Tidx -> output: T", {"T": (dtypes.bfloat16, dtypes.float16,
   dtypes.float32, dtypes.float64), "Tidx": INDEX}, static=("num",))(_linspace_kernel)


@gradient("LinSpace")
def _linspace_grad(op, grad):
    from flowstone.ops import math

    n = int(constant_value(op.inputs[2]))
    t = _linspace_fraction(n, grad.dtype)
    return [math.reduce_sum(grad * (1.0 - t)), math.reduce_sum(grad * t), None]


def _linspace_fraction(n, dtype):
    """[0, 1/(n-1), ..., 1] as a `dtype` tensor ([0] when n == 1)."""
    return convert_to_tensor(np.linspace(0.0, 1.0, n) if n > 1 else np.zeros([n]), dtype=dtype)


@export("linspace", "lin_space")
@scoped("linspace")
def linspace(start, stop, num, name=None, axis=0):
    """`num` evenly spaced values from `start` to `stop` (both included), along `axis`.

    Integer endpoints give float64, as in TensorFlow; N-D endpoints broadcast.

    >>> import flowstone as tf
    >>> tf.linspace(0.0, 1.0, 3).numpy()
    array([0. , 0.5, 1. ], dtype=float32)
    """
    start, stop = convert_to_tensor(start), convert_to_tensor(stop)
    if not start.dtype.is_floating:
        start = cast(start, dtypes.float64)
    if not stop.dtype.is_floating:
        stop = cast(stop, dtypes.float64)
    if start.dtype is not stop.dtype:
        from flowstone.core.tensor import dtype_error

        raise dtype_error("LinSpace", 1, start.dtype, stop.dtype)
    num_t = convert_to_tensor(num, dtype=dtypes.int32 if not isinstance(num, Tensor) else None)
    if start.shape.rank == 0 and stop.shape.rank == 0 and axis in (0, -1):
        return execute("LinSpace", (start, stop, num_t), name=name)
    n = int(constant_value(num_t))
    out_shape = _broadcast_shapes(start.shape.as_list(), stop.shape.as_list())
    if out_shape is None:
        raise ValueError(f"Incompatible shapes for broadcasting: {start.shape} and {stop.shape}")
    rank = len(out_shape) + 1
    if not -rank <= axis < rank:
        raise ValueError(f"axis {axis} is out of range for a result of rank {rank}")
    axis %= rank
    t_shape = [1] * rank
    t_shape[axis] = n
    t = reshape(_linspace_fraction(n, start.dtype), t_shape)
    start, stop = expand_dims(start, axis), expand_dims(stop, axis)
    from flowstone.ops import math

    return math.add(start, t * (stop - start), name=name)


@export("eye", "linalg.eye")
@scoped("eye")
def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    """An identity matrix (or a batch of them) of shape `batch_shape + [num_rows, num_columns]`.

    >>> import flowstone as tf
    >>> tf.eye(2, 3, dtype=tf.int32).numpy()
    array([[1, 0, 0],
           [0, 1, 0]], dtype=int32)
    """
    from flowstone.ops import diagonal

    rows = int(num_rows)
    cols = rows if num_columns is None else int(num_columns)
    dtype = dtypes.as_dtype(dtype)
    batch = [] if batch_shape is None else [int(d) for d in np.ravel(constant_value(_shape_tensor(batch_shape)))]
    # As TF builds it: ones on the diagonal of a square matrix, or set into zeros.
    ones_ = ones(batch + [min(rows, cols)], dtype)
    if rows == cols:
        return diagonal.diag(ones_, padding_value=False if dtype is dtypes.bool_ else 0)
    return diagonal.set_diag(zeros(batch + [rows, cols], dtype), ones_)


def _one_hot_kernel(indices, depth, on_value, off_value, axis):
    if depth < 0:
        raise ValueError(f"depth must be non-negative, got: {depth}")
    if on_value.ndim or off_value.ndim:
        raise ValueError("on_value and off_value must be scalars")
    rank = indices.ndim + 1
    if not -1 <= axis < rank:
        raise ValueError(f"Expected axis to be -1 or between [0, {rank}).  But received: {axis}")
    hot = indices[..., None] == jnp.arange(depth, dtype=indices.dtype)
    out = jnp.where(hot, on_value, off_value)
    return out if axis == -1 else jnp.moveaxis(out, -1, axis)


op("OneHot", "indices: TI, depth: int32, on_value: T, off_value: T -> output: T",
   {"TI": (dtypes.uint8, dtypes.int8, dtypes.int32, dtypes.int64), "axis": -1}, static=("depth",),
   differentiable=False)(_one_hot_kernel)


@export("one_hot")
@scoped("one_hot")
def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """One-hot vectors: `on_value` where the index matches, `off_value` elsewhere.

    Indices out of `[0, depth)` give a row of `off_value`.

    >>> import flowstone as tf
    >>> tf.one_hot([0, 2], 3).numpy()
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    indices = convert_to_tensor(indices)
    if dtype is None:
        given = [v for v in (on_value, off_value) if isinstance(v, Tensor) or isinstance(v, np.ndarray)]
        dtype = convert_to_tensor(given[0]).dtype if given else None
        if dtype is None and (on_value is not None or off_value is not None):
            dtype = convert_to_tensor(on_value if on_value is not None else off_value).dtype
        dtype = dtype or dtypes.float32
    dtype = dtypes.as_dtype(dtype)
    if on_value is None:
        on_value = True if dtype is dtypes.bool_ else 1
    if off_value is None:
        off_value = False if dtype is dtypes.bool_ else 0
    on = convert_to_tensor_v2(on_value, dtype, name="on_value")
    off = convert_to_tensor_v2(off_value, dtype, name="off_value")
    depth = convert_to_tensor(depth, dtype=dtypes.int32)
    attrs = {"axis": -1 if axis is None else int(axis)}
    return execute("OneHot", (indices, depth, on, off), attrs, name=name)


@export("meshgrid")
def meshgrid(*args, **kwargs):
    """Coordinate grids from 1-D tensors; `indexing="xy"` (default) swaps the first two axes.

    >>> import flowstone as tf
    >>> x, y = tf.meshgrid([1, 2, 3], [4, 5])
    >>> x.shape
    TensorShape([2, 3])
    """
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"Invalid keyword arguments: {list(kwargs)}")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Argument `indexing` parameter must be either 'xy' or 'ij', got '{indexing}'")
    tensors = [reshape(convert_to_tensor(a), [-1]) for a in args]
    n = len(tensors)
    if n == 0:
        return []
    sizes = [t.shape[0] for t in tensors]
    if indexing == "xy" and n > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, t in enumerate(tensors):
        target = [1] * n
        pos = {0: 1, 1: 0}.get(i, i) if indexing == "xy" and n > 1 else i
        target[pos] = -1
        out.append(broadcast_to(reshape(t, target), sizes))
    return out


# --- shape utilities: ShapeN, BroadcastArgs, Bitcast ----------------------------------------

op("ShapeN", "input: N * T -> output: N * out_type", {"out_type": dtypes.int32}, differentiable=False)(
    lambda values, out_type: tuple(jnp.array(v.shape, dtype=out_type.as_numpy_dtype) for v in values)
)


@export("shape_n")
def shape_n(input, out_type=dtypes.int32, name=None):  # noqa: A002
    """The shapes of several tensors, as a list of 1-D tensors.

    >>> import flowstone as tf
    >>> [s.numpy().tolist() for s in tf.shape_n([tf.zeros([2]), tf.zeros([1, 3])])]
    [[2], [1, 3]]
    """
    values = [convert_to_tensor(v) for v in input]
    for i, v in enumerate(values[1:], 1):
        if v.dtype is not values[0].dtype:
            from flowstone.core.tensor import dtype_error

            raise dtype_error("ShapeN", i, values[0].dtype, v.dtype)
    out = execute("ShapeN", (values,), {"out_type": dtypes.as_dtype(out_type)}, name=name)
    return list(out)


def _broadcast_args_kernel(s0, s1, T=None):  # noqa: N803 - TF's attr name
    s0, s1 = _as_tuple(s0), _as_tuple(s1)
    out = _broadcast_shapes(s0, s1)
    if out is None:
        raise ValueError(f"Incompatible shapes: {fmt_shape(s0)} vs. {fmt_shape(s1)}")
    return jnp.array(out, dtype=jnp.int32 if T is None else T.as_numpy_dtype)


op("BroadcastArgs", "s0: T, s1: T -> r0: T", {"T": INDEX}, static=("s0", "s1"), differentiable=False)(
    _broadcast_args_kernel
)


@export("broadcast_dynamic_shape")
def broadcast_dynamic_shape(shape_x, shape_y):
    """The broadcast of two shapes given as 1-D integer tensors.

    >>> import flowstone as tf
    >>> tf.broadcast_dynamic_shape([2, 1], [3]).numpy()
    array([2, 3], dtype=int32)
    """
    x = _shape_tensor(shape_x)
    y = convert_to_tensor(shape_y, dtype=x.dtype) if not isinstance(shape_y, Tensor) else shape_y
    out = execute("BroadcastArgs", (x, y))
    return out if out.dtype is x.dtype else cast(out, x.dtype)


@export("broadcast_static_shape")
def broadcast_static_shape(shape_x, shape_y):
    """The broadcast of two `TensorShape`s (unknown dimensions stay unknown where needed).

    >>> import flowstone as tf
    >>> tf.broadcast_static_shape(tf.TensorShape([2, 1]), tf.TensorShape([3]))
    TensorShape([2, 3])
    """
    from flowstone.core.shape import TensorShape, as_shape

    sx, sy = as_shape(shape_x), as_shape(shape_y)
    if sx.rank is None or sy.rank is None:
        return TensorShape(None)
    n = max(sx.rank, sy.rank)
    a = [1] * (n - sx.rank) + sx.as_list()
    b = [1] * (n - sy.rank) + sy.as_list()
    out = []
    for x, y in zip(a, b, strict=False):
        if x is None or y is None:
            known = y if x is None else x
            out.append(None if known in (None, 1) else known)
        elif x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ValueError(
                "Incompatible shapes for broadcasting. Two shapes are compatible if for each dimension "
                f"pair they are either equal or one of them is 1. Received: {sx} and {sy}.")
    return TensorShape(out)


def _bitcast_kernel(x, type):  # noqa: A002 - TF's attr name
    src, dst = np.dtype(x.dtype), np.dtype(type.as_numpy_dtype)
    if src.itemsize < dst.itemsize and (x.ndim == 0 or x.shape[-1] * src.itemsize != dst.itemsize):
        raise ValueError(f"Cannot bitcast from {dtypes.from_numpy(src).as_datatype_enum} to "
                         f"{type.as_datatype_enum}")
    return jax.lax.bitcast_convert_type(x, dst)


op("Bitcast", "input: T -> output: type", {"T": REAL + COMPLEX, "type": REQUIRED},
   differentiable=False)(_bitcast_kernel)


@export("bitcast")
def bitcast(input, type, name=None):  # noqa: A002
    """Reinterprets the bytes of `input` as `type` (the last dimension absorbs size changes).

    >>> import flowstone as tf
    >>> tf.bitcast(tf.constant([1.0]), tf.int32).numpy()
    array([1065353216], dtype=int32)
    """
    return execute("Bitcast", (convert_to_tensor(input),), {"type": dtypes.as_dtype(type)}, name=name)


# Layout ops and indexing live in sibling modules; re-exported so `array.<op>` keeps working.
from flowstone.ops.indexing import gather, slice, strided_slice, where  # noqa: E402, F401, A004
from flowstone.ops.manip import (  # noqa: E402, F401
    clip_by_norm,
    clip_by_value,
    concat,
    pad,
    repeat,
    reverse,
    roll,
    sequence_mask,
    split,
    squeeze,
    tile,
    transpose,
)
