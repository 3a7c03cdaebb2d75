"""Indexing: Slice, StridedSlice (and `Tensor.__getitem__`), gather/scatter, where, boolean_mask.

`Where` has a data-dependent output shape, so it cannot be compiled by XLA: it is registered
with `stateful=True`, which runs its kernel on concrete arrays eagerly (no jit); inside
`tf.function` the graph interpreter runs it node by node. `boolean_mask` composes it with
`GatherV2`, as TensorFlow does.

Index values are checked eagerly in the wrappers (TensorFlow's CPU kernels raise
InvalidArgumentError for out-of-range indices); compiled kernels fill out-of-range gathers
with zeros and drop out-of-range scatter updates, as TensorFlow's GPU kernels do.
"""

from __future__ import annotations

import builtins
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from flowstone._export import export, export_constant
from flowstone.core import dtypes
from flowstone.core.context import ctx, scoped
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.execute import execute
from flowstone.core.registry import INDEX, NON_STRING, TRACED_KERNELS, gradient, op
from flowstone.core.tensor import EagerTensor, Tensor, constant, constant_value, convert_to_tensor
from flowstone.ops.array import _as_tuple, _dims, cast, fmt_shape, reshape, shape, zeros_like

newaxis = None
export_constant(__name__, "newaxis", "newaxis")

# --- Slice -----------------------------------------------------------------------------------


def _slice_bounds(x, begin, size):
    begin, size = _as_tuple(begin), _as_tuple(size)
    rank = x.ndim
    if len(begin) != rank or len(size) != rank:
        raise ValueError(f"Expected begin and size arguments to be 1-D tensors of size {rank}, but got shapes "
                         f"[{len(begin)}] and [{len(size)}] instead.")
    out = []
    for i, (b, s, n) in enumerate(zip(begin, size, x.shape, strict=False)):
        if s == -1:
            s = n - b
        if not 0 <= b <= n:
            raise ValueError(f"Expected begin[{i}] in [0, {n}], but got {b}")
        if not 0 <= s <= n - b:
            raise ValueError(f"Expected size[{i}] in [0, {n - b}], but got {s}")
        out.append(builtins.slice(b, b + s))
    return tuple(out)


op("Slice", "input: T, begin: Index, size: Index -> output: T", {"Index": INDEX}, static=("begin", "size"))(
    lambda x, begin, size: x[_slice_bounds(x, begin, size)] if x.ndim else x
)


@gradient("Slice")
def _slice_grad(op, grad):
    from flowstone.ops.manip import pad

    x = op.inputs[0]
    begin = [int(b) for b in np.ravel(constant_value(op.inputs[1]))]
    dims, out = _dims(x), grad.shape.as_list()
    if isinstance(dims, list):
        paddings = [[b, n - b - s] for b, n, s in zip(begin, dims, out, strict=False)]
    else:
        from flowstone.ops.array import stack

        paddings = stack([begin, dims - shape(grad) - begin], axis=1)
    return [pad(grad, paddings), None, None]


@export("slice")
def slice(input_, begin, size, name=None):  # noqa: A001 - TF's name
    """Extracts `size[i]` elements from `begin[i]` in each dimension (`size[i] = -1`: to the end).

    >>> import flowstone as tf
    >>> tf.slice(tf.constant([[1, 2, 3], [4, 5, 6]]), [0, 1], [2, -1]).numpy()
    array([[2, 3],
           [5, 6]], dtype=int32)
    """
    x = convert_to_tensor(input_)
    begin, size = _index_pair(begin, size)
    return execute("Slice", (x, begin, size), name=name)


def _index_pair(a, b):
    """Two index vectors as tensors of one dtype (int64 when either is int64 or needs it)."""
    given = [v.dtype for v in (a, b) if isinstance(v, Tensor)]
    big = any(abs(int(v)) > 2**31 - 1 for v in (a, b) if not isinstance(v, Tensor) for v in np.ravel(v))
    dtype = given[0] if given else dtypes.int64 if big else dtypes.int32
    return tuple(v if isinstance(v, Tensor) else convert_to_tensor(v, dtype=dtype) for v in (a, b))


# --- StridedSlice ----------------------------------------------------------------------------


def _bits(mask, i):
    return bool(mask >> i & 1)


def strided_index(shape_, begin, end, strides, begin_mask, end_mask, ellipsis_mask, new_axis_mask,
                  shrink_axis_mask):
    """TensorFlow's strided-slice spec as a NumPy index tuple, validated against `shape_`."""
    begin, end, strides = _as_tuple(begin), _as_tuple(end), _as_tuple(strides)
    n = len(begin)
    if not len(end) == len(strides) == n:
        raise ValueError(f"Expected begin, end, and strides to be 1D equal size tensors, but got shapes "
                         f"[{n}], [{len(end)}], and [{len(strides)}] instead.")
    if bin(ellipsis_mask).count("1") > 1:
        raise ValueError("Multiple ellipses in slice spec not allowed")
    rank = len(shape_)
    consuming = sum(1 for i in builtins.range(n) if not _bits(ellipsis_mask, i) and not _bits(new_axis_mask, i))
    index, dim = [], 0
    for i in builtins.range(n):
        if _bits(ellipsis_mask, i):
            index.append(Ellipsis)
            dim += max(rank - consuming, 0)
            continue
        if _bits(new_axis_mask, i):
            index.append(None)
            continue
        if dim >= rank:
            raise ValueError(f"Index out of range using input dim {dim}; input has only {rank} dims")
        size = shape_[dim]
        if strides[i] == 0:
            raise ValueError(f"strides[{i}] must be non-zero")
        if _bits(shrink_axis_mask, i):
            b = begin[i]
            if not -size <= b < size:
                raise ValueError(f"slice index {b} of dimension {dim} out of bounds.")
            index.append(b % size)
        else:
            b = None if _bits(begin_mask, i) else begin[i]
            e = None if _bits(end_mask, i) else end[i]
            index.append(builtins.slice(b, e, strides[i]))
        dim += 1
    return tuple(index)


_MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")
_MASK_ATTRS = {"Index": (dtypes.int16, dtypes.int32, dtypes.int64), **{m: 0 for m in _MASKS}}


def _strided_slice_kernel(x, begin, end, strides, **masks):
    return x[strided_index(x.shape, begin, end, strides, **masks)]


def _strided_slice_grad_kernel(shape_, begin, end, strides, dy, **masks):
    shape_ = _as_tuple(shape_)
    return jnp.zeros(shape_, dy.dtype).at[strided_index(shape_, begin, end, strides, **masks)].set(dy)


op("StridedSlice", "input: T, begin: Index, end: Index, strides: Index -> output: T", dict(_MASK_ATTRS),
   static=("begin", "end", "strides"))(_strided_slice_kernel)
op("StridedSliceGrad", "shape: Index, begin: Index, end: Index, strides: Index, dy: T -> output: T",
   dict(_MASK_ATTRS), static=("shape", "begin", "end", "strides"))(_strided_slice_grad_kernel)


# --- run-time indices in compiled graphs: `x[i]` at a loop index ------------------------------


def _dynamic_window(shape, begin, end, strides, begin_mask=0, end_mask=0, ellipsis_mask=0,
                    new_axis_mask=0, shrink_axis_mask=0):
    """(starts, sizes, kept dims) of a slice whose begin/end are traced, or None.

    Handles the slices loops make: every spec entry either takes one element (shrink, at a
    run-time index; negative indices count from the end) or a whole dimension (both masks set),
    with unit strides. XLA clamps a start that is out of range instead of raising.
    """
    if new_axis_mask or isinstance(strides, jax.core.Tracer) or np.any(np.asarray(strides) != 1):
        return None
    n = int(np.shape(begin)[0])
    dims = []  # spec entry -> dimension, expanding the ellipsis
    for j in range(n):
        if ellipsis_mask >> j & 1:
            dims.extend([None] * (len(shape) - (n - 1)))
        else:
            dims.append(j)
    if len(dims) > len(shape):
        return None
    starts, sizes, kept = [], [], []
    for d, (size, j) in enumerate(zip(shape, dims + [None] * (len(shape) - len(dims)))):
        if j is not None and shrink_axis_mask >> j & 1:
            start = jnp.asarray(begin[j], jnp.int64)
            starts.append(jnp.where(start < 0, start + size, start))
            sizes.append(1)
        elif j is None or (begin_mask >> j & 1 and end_mask >> j & 1):
            starts.append(jnp.zeros((), jnp.int64))
            sizes.append(size)
            kept.append(d)
        else:
            return None
    return starts, sizes, kept


def _traced_strided_slice(x, begin, end, strides, **masks):
    window = _dynamic_window(x.shape, begin, end, strides, **masks)
    if window is None:
        return None
    starts, sizes, kept = window
    return jax.lax.dynamic_slice(x, starts, sizes).reshape([x.shape[d] for d in kept])


def _traced_strided_slice_grad(shape_, begin, end, strides, dy, **masks):
    if isinstance(shape_, jax.core.Tracer):
        return None
    shape_ = tuple(int(d) for d in np.asarray(shape_).reshape(-1))
    window = _dynamic_window(shape_, begin, end, strides, **masks)
    if window is None:
        return None
    starts, sizes, _ = window
    return jax.lax.dynamic_update_slice(jnp.zeros(shape_, dy.dtype), dy.reshape(sizes), starts)


TRACED_KERNELS["StridedSlice"] = _traced_strided_slice
TRACED_KERNELS["StridedSliceGrad"] = _traced_strided_slice_grad


def _masks_of(op):
    return {m: op.get_attr(m) for m in _MASKS}


@gradient("StridedSlice")
def _strided_slice_grad(op, grad):
    x, begin, end, strides = op.inputs
    dims = _dims(x)
    shape_t = convert_to_tensor(dims, dtype=begin.dtype) if isinstance(dims, list) else cast(dims, begin.dtype)
    dx = execute("StridedSliceGrad", (shape_t, begin, end, strides, grad), _masks_of(op))
    return [dx, None, None, None]


@gradient("StridedSliceGrad")
def _strided_slice_grad_grad(op, grad):
    _, begin, end, strides, _ = op.inputs
    return [None, None, None, None, execute("StridedSlice", (grad, begin, end, strides), _masks_of(op))]


@export("strided_slice")
def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, var=None, name=None):
    """Extracts a strided slice `input_[begin:end:strides]`, with TensorFlow's bit masks.

    >>> import flowstone as tf
    >>> tf.strided_slice(tf.range(6), [1], [5], [2]).numpy()
    array([1, 3], dtype=int32)
    """
    x = convert_to_tensor(input_)
    begin, end = _index_pair(begin, end)
    if strides is None:
        strides = [1] * int(begin.shape[0])
    strides = strides if isinstance(strides, Tensor) else convert_to_tensor(strides, dtype=begin.dtype)
    masks = dict(zip(_MASKS, (begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask), strict=False))
    return execute("StridedSlice", (x, begin, end, strides), {k: int(v) for k, v in masks.items()}, name=name)


# --- Tensor.__getitem__ ----------------------------------------------------------------------

_SLICE_TYPE_ERROR = ("Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar "
                     "tf.int32/tf.int64 tensors are valid indices")


def _check_index(idx):
    if isinstance(idx, numbers.Integral):
        return
    dtype = getattr(idx, "dtype", None)
    rank = len(getattr(idx, "shape", ()) or ())
    ok = dtype is not None and dtypes.as_dtype(dtype) in (dtypes.int16, dtypes.int32, dtypes.int64) and rank == 0
    if not ok:
        raise TypeError(f"{_SLICE_TYPE_ERROR}, got {idx!r}")


def _is_bool_mask(spec):
    if isinstance(spec, Tensor):
        return spec.dtype is dtypes.bool_
    return isinstance(spec, (bool, np.bool_)) or (isinstance(spec, np.ndarray) and spec.dtype == np.bool_)


def _scalar_index(v):
    """An index component as a Python int (eager) or an int tensor (graph)."""
    if isinstance(v, EagerTensor):
        return int(v._numpy_view())
    if isinstance(v, Tensor):
        return v
    return int(v)


def getitem(tensor, slice_spec):
    """`tensor[slice_spec]` with TensorFlow's rules: ints, slices, `...`, `tf.newaxis`, scalar int
    tensors (also as slice bounds) and boolean masks; integer-list ("fancy") indexing is a TypeError.

    >>> import flowstone as tf
    >>> tf.constant([[1, 2, 3], [4, 5, 6]])[:, ::-1][0].numpy()
    array([3, 2, 1], dtype=int32)
    """
    tensor = convert_to_tensor(tensor)
    if _is_bool_mask(slice_spec):
        return boolean_mask(tensor, slice_spec)
    if not isinstance(slice_spec, (list, tuple)):
        slice_spec = [slice_spec]
    begin, end, strides = [], [], []
    masks = dict.fromkeys(_MASKS, 0)
    for i, s in enumerate(slice_spec):
        bit = 1 << i
        if isinstance(s, (bool, np.bool_)):
            raise InvalidArgumentError(
                None, None, "Value for attr 'Index' of bool is not in the list of allowed values: int16, int32, "
                "int64 [Op:StridedSlice]")
        if isinstance(s, builtins.slice):
            for part in (s.start, s.stop, s.step):
                if part is not None:
                    _check_index(part)
            begin.append(0 if s.start is None else _scalar_index(s.start))
            end.append(0 if s.stop is None else _scalar_index(s.stop))
            strides.append(1 if s.step is None else _scalar_index(s.step))
            masks["begin_mask"] |= bit if s.start is None else 0
            masks["end_mask"] |= bit if s.stop is None else 0
        elif s is Ellipsis:
            begin.append(0), end.append(0), strides.append(1)
            if masks["ellipsis_mask"]:
                raise InvalidArgumentError(None, None, "Multiple ellipses in slice spec not allowed [Op:StridedSlice]")
            masks["ellipsis_mask"] |= bit
        elif s is None:
            begin.append(0), end.append(0), strides.append(1)
            masks["new_axis_mask"] |= bit
        else:
            _check_index(s)
            b = _scalar_index(s)
            begin.append(b)
            end.append(b + 1)
            strides.append(1)
            masks["shrink_axis_mask"] |= bit
    if not begin:
        begin, end, strides = [0], [0], [1]
        masks["ellipsis_mask"] = 1
    if ctx.graph is None:  # the hot eager path: the scope below only names graph nodes
        return execute("StridedSlice", (tensor, *_pack_indices(begin, end, strides)), masks)
    return _strided_slice_of(tensor, begin, end, strides, masks)


@scoped("strided_slice")
def _strided_slice_of(tensor, begin, end, strides, masks, name=None):
    return execute("StridedSlice", (tensor, *_stack_indices(begin, end, strides)), masks, name=name)


_PACKED: dict = {}


def _index_dtype(parts, tensors):
    dtype = dtypes.int64 if any(t.dtype is dtypes.int64 for t in tensors) else dtypes.int32
    if dtype is dtypes.int32 and any(abs(v) > 2**31 - 1 for p in parts for v in p if not isinstance(v, Tensor)):
        dtype = dtypes.int64
    return dtype


def _stack_indices(*parts):
    """begin, end and strides in a graph, each packed as TF does: `strided_slice/stack_1`."""
    from flowstone.ops.array import stack

    dtype = _index_dtype(parts, [v for p in parts for v in p if isinstance(v, Tensor)])
    return [stack([cast(v, dtype) if isinstance(v, Tensor) else v for v in p], name="stack")
            if any(isinstance(v, Tensor) for v in p) else constant(p, dtype, name="stack") for p in parts]


def _pack_indices(*parts):
    tensors = [v for p in parts for v in p if isinstance(v, Tensor)]
    dtype = dtypes.int64 if any(t.dtype is dtypes.int64 for t in tensors) else dtypes.int32
    if dtype is dtypes.int32 and any(abs(v) > 2**31 - 1 for p in parts for v in p if not isinstance(v, Tensor)):
        dtype = dtypes.int64
    if not tensors:
        # Eager slicing repeats the same few keys (loops, layers): reuse their index tensors.
        key = (tuple(tuple(p) for p in parts), dtype)
        found = _PACKED.get(key)
        if found is None:
            found = [convert_to_tensor(p, dtype=dtype) for p in parts]
            if len(_PACKED) < 4096:
                _PACKED[key] = found
        return found
    from flowstone.ops.array import stack

    return [stack([cast(v, dtype) if isinstance(v, Tensor) else convert_to_tensor(v, dtype=dtype) for v in p])
            for p in parts]


# --- GatherV2 --------------------------------------------------------------------------------


def _gather_kernel(params, indices, axis, batch_dims):
    rp, ri = params.ndim, indices.ndim
    if batch_dims < 0:
        batch_dims += ri
    if not -rp <= axis < rp:
        raise ValueError(f"Shape must be at least rank {axis + 1 if axis >= 0 else -axis} but is rank {rp}")
    axis %= rp
    if batch_dims > ri or batch_dims < 0:
        raise ValueError(f"batch_dims must be in [{-ri}, {ri}], but got {batch_dims}")
    if batch_dims > axis:
        raise ValueError(f"batch_dims ({batch_dims}) must be less than or equal to axis ({axis}).")
    for d in builtins.range(batch_dims):
        if params.shape[d] != indices.shape[d]:
            raise ValueError(f"params.shape[{d}]: {params.shape[d]} should be equal to indices.shape[{d}]: "
                             f"{indices.shape[d]}")

    def take(p, i, ax):
        if p.shape[ax] == 0:  # every index is out of range: the fill value (jnp.take refuses empty axes)
            return jnp.zeros(p.shape[:ax] + i.shape + p.shape[ax + 1:], p.dtype)
        return jnp.take(p, i, axis=ax, mode="fill", fill_value=0)

    fn = take
    for _ in builtins.range(batch_dims):
        fn = jax.vmap(fn, in_axes=(0, 0, None))
    return fn(params, indices, axis - batch_dims)


op("GatherV2", "params: Tparams, indices: Tindices, axis: Taxis -> output: Tparams",
   {"Tindices": (dtypes.int16, dtypes.int32, dtypes.int64), "Taxis": INDEX, "batch_dims": 0},
   static=("axis",))(_gather_kernel)


def _scatter_coordinates(indices, batch_dims):
    """`indices` (shape B + I) with the batch coordinates prepended: shape B + I + [batch_dims + 1]."""
    from flowstone.ops.array import broadcast_to, stack
    from flowstone.ops.array import range as range_

    dims = _dims(indices)
    coords = []
    for d in builtins.range(batch_dims):
        target = [1] * indices.shape.rank
        target[d] = -1
        coords.append(broadcast_to(reshape(range_(dims[d], dtype=indices.dtype), target), dims))
    return stack(coords + [indices], axis=-1)


def gather_gradient_dense(params, indices, grad, axis, batch_dims):
    """The dense gradient of `gather(params, indices, axis, batch_dims)` w.r.t. `params`."""
    from flowstone.ops.manip import transpose

    rp, ri = params.shape.rank, indices.shape.rank
    b = batch_dims + ri if batch_dims < 0 else batch_dims
    a = axis % rp
    outer, inner, idx_rank = a - b, rp - a - 1, ri - b
    # grad: B + P1 + I + P2  ->  B + I + P1 + P2
    perm = (list(builtins.range(b)) + [b + outer + k for k in builtins.range(idx_rank)]
            + [b + k for k in builtins.range(outer)] + [b + outer + idx_rank + k for k in builtins.range(inner)])
    g = transpose(grad, perm)
    # scatter into B + [N] + P1 + P2, then move N back to its place.
    order = list(builtins.range(b)) + [a] + list(builtins.range(b, a)) + list(builtins.range(a + 1, rp))
    dims = _dims(params)
    target = [dims[i] for i in order] if isinstance(dims, list) else gather(dims, order)
    coords = _scatter_coordinates(indices, b) if b else expand_dims(indices, -1)
    scattered = scatter_nd(coords, g, target)
    back = list(np.argsort(order))
    return transpose(scattered, back) if back != list(builtins.range(rp)) else scattered


def expand_dims(x, axis):
    from flowstone.ops.array import expand_dims as expand

    return expand(x, axis)


def concat_shape(head, tail):
    from flowstone.ops.manip import concat

    return concat([convert_to_tensor(head, dtype=dtypes.int32), cast(tail, dtypes.int32)], 0)


@gradient("GatherV2")
def _gather_grad(op, grad):
    params, indices, axis = op.inputs
    axis = int(constant_value(axis))
    batch_dims = op.get_attr("batch_dims")
    # The one place that decides the gradient's form: TF returns IndexedSlices for a gather of
    # whole rows (axis 0, no batch dims), a dense tensor otherwise.
    if batch_dims == 0 and params.shape.rank and axis % params.shape.rank == 0:
        from flowstone.autodiff.indexed_slices import IndexedSlices

        if params.shape.is_fully_defined():
            dense_shape = convert_to_tensor(params.shape.as_list(), dtype=dtypes.int32)
            values = reshape(grad, [-1] + params.shape.as_list()[1:])
        else:
            from flowstone.ops.manip import concat

            dense_shape = shape(params)
            values = reshape(grad, concat([convert_to_tensor([-1], dtype=dtypes.int32), dense_shape[1:]], 0))
        return [IndexedSlices(values, reshape(indices, [-1]), dense_shape), None, None]
    return [gather_gradient_dense(params, indices, grad, axis, batch_dims), None, None]


def _check_range(indices, limit, what):
    """TensorFlow's eager (CPU) check that gather indices lie in [0, limit)."""
    if not isinstance(indices, EagerTensor) or not isinstance(limit, (int, np.integer)):
        return
    arr = np.asarray(indices._numpy_view())
    bad = np.argwhere((arr < 0) | (arr >= limit))
    if bad.size:
        pos = tuple(int(v) for v in bad[0])
        raise InvalidArgumentError(
            None, None, f"indices[{','.join(map(str, pos))}] = {arr[pos]} is not in [0, {limit}) [Op:{what}]")


@export("gather")
def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """Gathers slices of `params` along `axis` at `indices` (`batch_dims` leading dims shared).

    >>> import flowstone as tf
    >>> tf.gather(tf.constant([10, 20, 30]), [2, 0]).numpy()
    array([30, 10], dtype=int32)
    """
    params = convert_to_tensor(params)
    indices = convert_to_tensor(indices)
    if axis is None:
        axis = batch_dims
    axis_t = convert_to_tensor(axis, dtype=dtypes.int32) if not isinstance(axis, Tensor) else axis
    ax = constant_value(axis_t)
    rank = params.shape.rank
    if ax is not None and rank is not None and -rank <= int(ax) < rank:
        _check_range(indices, params.shape[int(ax) % rank], "GatherV2")
    return execute("GatherV2", (params, indices, axis_t), {"batch_dims": int(batch_dims)}, name=name)


# --- GatherNd --------------------------------------------------------------------------------


def _gather_nd_kernel(params, indices, batch_dims):
    def one(p, i):
        m = i.shape[-1]
        if m > p.ndim:
            raise ValueError(f"index innermost dimension length must be <= params rank; saw: {m} vs. {p.ndim}")
        idx = tuple(jnp.moveaxis(i, -1, 0)) if m else ()
        return p.at[idx].get(mode="fill", fill_value=0) if m else jnp.broadcast_to(p, i.shape[:-1] + p.shape)

    fn = one
    for _ in builtins.range(batch_dims):
        fn = jax.vmap(fn)
    return fn(params, indices)


op("GatherNd", "params: Tparams, indices: Tindices -> output: Tparams",
   {"Tindices": (dtypes.int16, dtypes.int32, dtypes.int64), "batch_dims": 0})(_gather_nd_kernel)


@gradient("GatherNd")
def _gather_nd_grad(op, grad):
    params, indices = op.inputs
    b = op.get_attr("batch_dims")
    if b:
        batch = _scatter_coordinates(indices[..., 0], b)[..., :b]
        from flowstone.ops.manip import concat

        indices = concat([batch, indices], axis=-1)
    return [scatter_nd(indices, grad, _dims(params)), None]


def _check_nd(indices, target_shape, message, op_name, lead=0):
    """TensorFlow's eager check that every index row addresses `target_shape`."""
    if not isinstance(indices, EagerTensor) or indices.shape.rank is None or indices.shape.rank == 0:
        return
    arr = np.asarray(indices._numpy_view())
    m = arr.shape[-1]
    dims = np.asarray(list(target_shape)[lead:lead + m], dtype=np.int64)
    if m > len(dims):
        return
    rows = arr.reshape(-1, m) if m else arr.reshape(-1, 0)
    bad = np.nonzero(((rows < 0) | (rows >= dims)).any(axis=1))[0]
    if bad.size:
        i = int(bad[0])
        row = "[" + ", ".join(str(int(v)) for v in rows[i]) + "]"
        raise InvalidArgumentError(None, None, f"indices[{i}] = {row} {message} "
                                   f"{fmt_shape(target_shape)}{', node name: ' + op_name if op_name == 'GatherNd' else ''}"
                                   f" [Op:{op_name}]")


@export("gather_nd")
def gather_nd(params, indices, batch_dims=0, name=None):
    """Gathers slices of `params` addressed by the index vectors in the last axis of `indices`.

    >>> import flowstone as tf
    >>> tf.gather_nd(tf.constant([[1, 2], [3, 4]]), [[1, 0]]).numpy()
    array([3], dtype=int32)
    """
    params = convert_to_tensor(params)
    indices = convert_to_tensor(indices)
    if batch_dims == 0 and params.shape.is_fully_defined():
        _check_nd(indices, params.shape.as_list(), "does not index into param shape", "GatherNd")
    return execute("GatherNd", (params, indices), {"batch_dims": int(batch_dims)}, name=name)


# --- ScatterNd and TensorScatter* ------------------------------------------------------------


def _check_updates(indices, updates, target):
    m = indices.shape[-1]
    want = tuple(indices.shape[:-1]) + tuple(target[m:])
    if m > len(target):
        raise ValueError(f"Output must have at least {m} dimensions (the index depth), got shape "
                         f"{fmt_shape(target)}")
    if tuple(updates.shape) != want:
        raise ValueError(f"updates has shape {fmt_shape(updates.shape)}, but indices of shape "
                         f"{fmt_shape(indices.shape)} into shape {fmt_shape(target)} need updates of shape "
                         f"{fmt_shape(want)}")
    return tuple(jnp.moveaxis(indices, -1, 0))


def _scatter_nd_kernel(indices, updates, shape_):
    target = _as_tuple(shape_)
    idx = _check_updates(indices, updates, target)
    return jnp.zeros(target, updates.dtype).at[idx].add(updates, mode="drop")


op("ScatterNd", "indices: Tindices, updates: T, shape: Tindices -> output: T",
   {"T": NON_STRING, "Tindices": (dtypes.int16, dtypes.int32, dtypes.int64)}, static=("shape",))(_scatter_nd_kernel)
gradient("ScatterNd")(lambda op, grad: [None, gather_nd(grad, op.inputs[0]), None])


@export("scatter_nd")
def scatter_nd(indices, updates, shape, name=None):  # noqa: F811 - TF's argument name
    """Scatters `updates` into zeros of `shape` at `indices`; duplicates are summed.

    >>> import flowstone as tf
    >>> tf.scatter_nd([[1], [1]], [1.0, 2.0], [3]).numpy()
    array([0., 3., 0.], dtype=float32)
    """
    indices = convert_to_tensor(indices)
    updates = convert_to_tensor(updates)
    shape_t = shape if isinstance(shape, Tensor) else convert_to_tensor(
        shape.as_list() if hasattr(shape, "as_list") else shape, dtype=indices.dtype)
    known = constant_value(shape_t)
    if known is not None:
        _check_nd(indices, [int(v) for v in np.ravel(known)], "does not index into shape", "ScatterNd")
    return execute("ScatterNd", (indices, updates, cast(shape_t, indices.dtype)), name=name)


_TENSOR_SCATTER = {
    "TensorScatterUpdate": ("tensor_scatter_nd_update", lambda ref, u: ref.set(u, mode="drop")),
    "TensorScatterAdd": ("tensor_scatter_nd_add", lambda ref, u: ref.add(u, mode="drop")),
    "TensorScatterSub": ("tensor_scatter_nd_sub", lambda ref, u: ref.add(-u, mode="drop")),
    "TensorScatterMin": ("tensor_scatter_nd_min", lambda ref, u: ref.min(u, mode="drop")),
    "TensorScatterMax": ("tensor_scatter_nd_max", lambda ref, u: ref.max(u, mode="drop")),
}


def _tensor_scatter_op(raw, update):
    def kernel(tensor, indices, updates):
        idx = _check_updates(indices, updates, tensor.shape)
        return update(tensor.at[idx], updates)

    # Strings run on codes (registry.py): updating, min and max are exact on them, sums are not.
    allowed = NON_STRING if raw in ("TensorScatterAdd", "TensorScatterSub") else None
    op(raw, "tensor: T, indices: Tindices, updates: T -> output: T",
       {"T": allowed, "Tindices": (dtypes.int16, dtypes.int32, dtypes.int64)})(kernel)

    def wrapper(tensor, indices, updates, name=None):
        tensor = convert_to_tensor(tensor)
        indices = convert_to_tensor(indices)
        updates = convert_to_tensor(updates, dtype=tensor.dtype) if not isinstance(updates, Tensor) else updates
        if tensor.shape.is_fully_defined():
            _check_nd(indices, tensor.shape.as_list(), "does not index into shape", raw)
        return execute(raw, (tensor, indices, updates), name=name)

    return wrapper


for _raw, (_public, _update) in _TENSOR_SCATTER.items():
    _fn = _tensor_scatter_op(_raw, _update)
    _fn.__name__ = _fn.__qualname__ = _public
    _fn.__module__ = __name__
    _fn.__doc__ = (f"Copies `tensor` and applies `updates` at `indices` (raw op `{_raw}`).\n\n"
                   "    >>> import flowstone as tf\n"
                   f"    >>> tf.{_public}([1, 2, 3], [[1]], [5]).numpy().shape\n    (3,)\n")
    globals()[_public] = _fn
    export(_public)(_fn)


@gradient("TensorScatterUpdate")
def _tsu_grad(op, grad):
    _, indices, updates = op.inputs
    cleared = execute("TensorScatterUpdate", (grad, indices, zeros_like(updates)))
    return [cleared, None, gather_nd(grad, indices)]


gradient("TensorScatterAdd")(lambda op, grad: [grad, None, gather_nd(grad, op.inputs[1])])
gradient("TensorScatterSub")(lambda op, grad: [grad, None, -gather_nd(grad, op.inputs[1])])


def _tensor_scatter_minmax_grad(op, grad):
    from flowstone.ops import math

    x, indices, y = op.inputs
    out = op.outputs[0]
    x_hit = cast(math.equal(x, out), grad.dtype)
    y_hit = cast(math.equal(y, gather_nd(out, indices)), grad.dtype)
    count = x_hit + scatter_nd(indices, y_hit, _dims(x))
    share = grad / count
    return [share * x_hit, None, gather_nd(share, indices) * y_hit]


gradient("TensorScatterMin")(_tensor_scatter_minmax_grad)
gradient("TensorScatterMax")(_tensor_scatter_minmax_grad)


# --- Where, where, boolean_mask ----------------------------------------------------------------

# Data-dependent output shape: runs on concrete arrays, never jitted (see the module docstring).
op("Where", "input: T -> index: int64", stateful=True, differentiable=False,
   shape=lambda inputs, attrs: [None, inputs[0].shape.rank] if inputs[0].shape.rank is not None else None)(
    lambda x: jnp.asarray(np.argwhere(np.asarray(x)), dtype=jnp.int64)
)


@export("where", "where_v2")
def where(condition, x=None, y=None, name=None):
    """With `x` and `y`: elements of `x` where `condition` is true, else of `y` (broadcasting).

    With neither: the int64 coordinates of the true (non-zero) elements of `condition`.

    >>> import flowstone as tf
    >>> tf.where([True, False, True]).numpy().tolist()
    [[0], [2]]
    >>> tf.where([True, False], 1, 2).numpy()
    array([1, 2], dtype=int32)
    """
    if x is None and y is None:
        return execute("Where", (convert_to_tensor(condition),), name=name)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    from flowstone.ops.math import binary_pair

    c = convert_to_tensor(condition, dtype=dtypes.bool_)
    x, y = binary_pair(x, y)
    return execute("SelectV2", (c, x, y), name=name)


@export("boolean_mask")
@scoped("boolean_mask")
def boolean_mask(tensor, mask, axis=None, name="boolean_mask"):
    """The slices of `tensor` (from `axis`) where the boolean `mask` is true, flattened over the
    mask's dimensions.

    >>> import flowstone as tf
    >>> tf.boolean_mask(tf.constant([1, 2, 3]), [True, False, True]).numpy()
    array([1, 3], dtype=int32)
    """
    from flowstone.ops.manip import squeeze

    tensor = convert_to_tensor(tensor)
    mask = convert_to_tensor(mask, dtype=dtypes.bool_) if not isinstance(mask, Tensor) else mask
    k = mask.shape.rank
    if k == 0:
        raise ValueError("mask cannot be scalar.")
    if k is None:
        raise ValueError("Number of mask dimensions must be specified, even if some dimensions are None.  "
                         "E.g. shape=[None] is ok, but shape=None is not.")
    axis = 0 if axis is None else int(axis)
    rank = tensor.shape.rank
    if axis < 0:
        axis += rank
    tensor.shape[axis:axis + k].assert_is_compatible_with(mask.shape)
    dims = _dims(tensor)
    if isinstance(dims, list):
        lead = int(np.prod(dims[axis:axis + k], dtype=np.int64))
        flat = reshape(tensor, dims[:axis] + [lead] + dims[axis + k:])
    else:
        flat = reshape(tensor, concat_shape(dims[:axis], concat_shape([-1], dims[axis + k:])))
    picks = squeeze(where(reshape(mask, [-1])), axis=[1])
    return gather(flat, picks, axis=axis)


del _raw, _public, _update, _fn
