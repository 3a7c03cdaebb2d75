"""Layout ops: transpose, concat, split, squeeze, tile, pad, reverse, roll, and the clipping,
repeat and sequence-mask compositions built on them.

Axes, permutations, paddings, multiples and split sizes are `static` inputs: their values are
part of each compiled kernel's cache key, and kernels validate them with TensorFlow's messages.
"""

from __future__ import annotations

import builtins

import jax.numpy as jnp
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import scoped
from flowstone.core.execute import execute
from flowstone.core.registry import INDEX, NON_STRING, REQUIRED, gradient, op
from flowstone.core.tensor import Tensor, constant_value, convert_to_tensor
from flowstone.ops.array import _as_tuple, _dims, cast, fmt_shape, reshape, shape, zeros_like


def _int_tensor(value, dtype=dtypes.int32):
    """An axis/perm/paddings argument as a tensor (int64 kept when given)."""
    if isinstance(value, Tensor):
        return value
    return convert_to_tensor(value, dtype=dtype if np.asarray(value).dtype.kind != "u" else None)


# --- Transpose -------------------------------------------------------------------------------


def _check_perm(x, perm):
    rank = x.ndim
    if len(perm) != rank:
        raise ValueError(f"transpose expects a vector of size {rank}. But input(1) is a vector of size "
                         f"{len(perm)}")
    for p in perm:
        if not 0 <= p < rank:
            raise ValueError(f"{p} is out of range [0 .. {rank})")
    for i in builtins.range(rank):
        if i not in perm:
            raise ValueError(f"{i} is missing from {{{','.join(str(p) for p in perm)}}}.")


def _transpose_kernel(x, perm, conj=False):
    perm = _as_tuple(perm) if x.ndim else tuple(perm)
    _check_perm(x, perm)
    y = jnp.transpose(x, perm)
    return jnp.conj(y) if conj else y


op("Transpose", "x: T, perm: Tperm -> y: T", {"Tperm": INDEX}, static=("perm",))(_transpose_kernel)
op("ConjugateTranspose", "x: T, perm: Tperm -> y: T", {"Tperm": INDEX}, static=("perm",))(
    lambda x, perm: _transpose_kernel(x, perm, conj=True)
)


def _invert_perm(perm_tensor):
    perm = [int(p) for p in np.ravel(constant_value(perm_tensor))]
    return list(np.argsort(perm))


gradient("Transpose")(lambda op, grad: [transpose(grad, _invert_perm(op.inputs[1])), None])
gradient("ConjugateTranspose")(
    lambda op, grad: [transpose(grad, _invert_perm(op.inputs[1]), conjugate=True), None]
)


@export("transpose", "linalg.transpose")
def transpose(a, perm=None, conjugate=False, name="transpose"):
    """Permutes the dimensions of `a` (reversed when `perm` is None); `conjugate` for complex.

    >>> import flowstone as tf
    >>> tf.transpose(tf.constant([[1, 2, 3]])).shape
    TensorShape([3, 1])
    """
    a = convert_to_tensor(a)
    if perm is None:
        rank = a.shape.rank
        if rank is None:
            from flowstone.ops.array import range as range_
            from flowstone.ops.array import rank as rank_

            perm = range_(rank_(a) - 1, -1, -1)
        else:
            perm = list(builtins.range(rank - 1, -1, -1))
    raw = "ConjugateTranspose" if conjugate and a.dtype.is_complex else "Transpose"
    return execute(raw, (a, _int_tensor(perm)), name=name or "transpose")


# --- ConcatV2 --------------------------------------------------------------------------------


def _concat_kernel(values, axis):
    first = values[0].shape
    rank = len(first)
    if not -rank <= axis < rank or rank == 0:
        raise ValueError(f"ConcatOp : Expected concatenating dimensions in the range [{-rank}, {rank}), "
                         f"but got {axis}")
    ax = axis % rank
    for i, v in enumerate(values[1:], 1):
        if v.ndim != rank:
            raise ValueError(f"ConcatOp : Ranks of all input tensors should match: shape[0] = "
                             f"{fmt_shape(first)} vs. shape[{i}] = {fmt_shape(v.shape)}")
        for d in builtins.range(rank):
            if d != ax and v.shape[d] != first[d]:
                raise ValueError(f"ConcatOp : Dimension {d} in both shapes must be equal: shape[0] = "
                                 f"{fmt_shape(first)} vs. shape[{i}] = {fmt_shape(v.shape)}")
    return jnp.concatenate(values, axis=ax)


op("ConcatV2", "values: N * T, axis: Tidx -> output: T", {"Tidx": INDEX}, static=("axis",))(_concat_kernel)


@gradient("ConcatV2")
def _concat_grad(op, grad):
    values = op.inputs[:-1]
    axis = int(constant_value(op.inputs[-1]))
    axis %= max(values[0].shape.rank, 1)
    sizes = [v.shape[axis] for v in values]
    if None in sizes:
        from flowstone.ops.array import stack

        sizes = stack([shape(v)[axis] for v in values])
    return split(grad, sizes, axis=axis) + [None]


@export("concat")
def concat(values, axis, name="concat"):
    """Concatenates tensors along `axis` (negative counts from the end).

    >>> import flowstone as tf
    >>> tf.concat([[1, 2], [3]], axis=0).numpy()
    array([1, 2, 3], dtype=int32)
    """
    if not isinstance(values, (list, tuple)):
        values = [values]
    values = [convert_to_tensor(v) for v in values]
    for i, v in enumerate(values[1:], 1):
        if v.dtype is not values[0].dtype:
            from flowstone.core.tensor import dtype_error

            raise dtype_error("ConcatV2", i, values[0].dtype, v.dtype)
    if len(values) == 1:
        from flowstone.ops.array import identity

        return identity(values[0], name=name or "concat")
    return execute("ConcatV2", (values, _int_tensor(axis)), name=name or "concat")


# --- Split / SplitV --------------------------------------------------------------------------


def _split_kernel(axis, value, num_split):
    rank = value.ndim
    if not -rank <= axis < rank:
        raise ValueError(f"-{rank} <= split_dim < {rank} but got {axis}")
    ax = axis % rank
    n = value.shape[ax]
    if num_split <= 0 or n % num_split:
        raise ValueError(f"Number of ways to split should evenly divide the split dimension, but got "
                         f"split_dim {axis} (size = {n}) and num_split {num_split}")
    return tuple(jnp.split(value, num_split, axis=ax))


op("Split", "axis: int32, value: T -> output: num_split * T", {"num_split": REQUIRED}, static=("axis",))(
    _split_kernel
)


def _split_sizes(sizes, n):
    sizes = list(_as_tuple(sizes))
    unknown = [i for i, s in enumerate(sizes) if s == -1]
    if len(unknown) > 1:
        raise ValueError("There can only be one -1 in the input.")
    known = sum(s for s in sizes if s != -1)
    if unknown and known <= n:
        sizes[unknown[0]] = n - known
    elif unknown or known != n:
        raise ValueError("Determined shape must either match input shape along split_dim exactly if fully "
                         "specified, or be less than the size of the input along split_dim if not fully "
                         f"specified.  Got: {known}")
    if any(s < 0 for s in sizes):
        raise ValueError(f"Split sizes must be >= 0, got {sizes}")
    return sizes


def _splitv_kernel(value, size_splits, axis, num_split):
    rank = value.ndim
    if not -rank <= axis < rank:
        raise ValueError(f"-{rank} <= split_dim < {rank} but got {axis}")
    ax = axis % rank
    sizes = _split_sizes(size_splits, value.shape[ax])
    return tuple(jnp.split(value, np.cumsum(sizes)[:-1].tolist(), axis=ax))


op("SplitV", "value: T, size_splits: Tlen, axis: int32 -> output: num_split * T",
   {"Tlen": (dtypes.int8, dtypes.int32, dtypes.int64), "num_split": REQUIRED},
   static=("size_splits", "axis"))(_splitv_kernel)


def _split_grad(op, *grads, value_index, axis_index):
    axis = int(constant_value(op.inputs[axis_index]))
    grads = [g if g is not None else zeros_like(o) for g, o in zip(grads, op.outputs, strict=False)]
    out = [None] * len(op.inputs)
    out[value_index] = concat(grads, axis)
    return out


gradient("Split")(lambda op, *g: _split_grad(op, *g, value_index=1, axis_index=0))
gradient("SplitV")(lambda op, *g: _split_grad(op, *g, value_index=0, axis_index=2))


@export("split")
def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """Splits `value` along `axis` into equal parts or parts of the given sizes (one may be -1).

    >>> import flowstone as tf
    >>> [t.numpy().tolist() for t in tf.split(tf.range(5), [2, -1])]
    [[0, 1], [2, 3, 4]]
    """
    value = convert_to_tensor(value)
    axis_t = convert_to_tensor(axis, dtype=dtypes.int32)
    if isinstance(num_or_size_splits, (int, np.integer)) or (
            isinstance(num_or_size_splits, Tensor) and num_or_size_splits.shape.rank == 0):
        n = int(num_or_size_splits)
        return list(execute("Split", (axis_t, value), {"num_split": n}, name=name or "split"))
    sizes = _int_tensor(num_or_size_splits)
    if sizes.shape.rank != 1:
        raise ValueError(f"Rank-1 tensor (vector) expected for `num_or_size_splits`, got shape {sizes.shape}")
    n = num if num is not None else sizes.shape[0]
    if n is None:
        raise ValueError(f"Cannot infer argument `num` from shape {sizes.shape}")
    return list(execute("SplitV", (value, sizes, axis_t), {"num_split": n}, name=name or "split"))


# --- Squeeze ---------------------------------------------------------------------------------


def _squeeze_kernel(x, squeeze_dims):
    rank = x.ndim
    dims = []
    for d in squeeze_dims:
        if not -rank <= d < rank:
            raise ValueError(f"Tried to squeeze dim index {d} for tensor with {rank} dimensions.")
        d %= rank
        if x.shape[d] != 1:
            raise ValueError(f"Can not squeeze dim[{d}], expected a dimension of 1, got {x.shape[d]}")
        dims.append(d)
    if not squeeze_dims:
        dims = [i for i, n in enumerate(x.shape) if n == 1]
    return jnp.squeeze(x, tuple(dims))


op("Squeeze", "input: T -> output: T", {"squeeze_dims": ()})(_squeeze_kernel)
gradient("Squeeze")(lambda op, grad: [reshape(grad, _dims(op.inputs[0]))])


@export("squeeze")
def squeeze(input, axis=None, name=None):  # noqa: A002 - TF's argument name
    """Removes size-1 dimensions (all of them, or those in `axis`).

    >>> import flowstone as tf
    >>> tf.squeeze(tf.zeros([1, 2, 1])).shape
    TensorShape([2])
    """
    if isinstance(axis, (int, np.integer)):
        axis = [axis]
    dims = tuple(int(a) for a in axis) if axis is not None else ()
    return execute("Squeeze", (convert_to_tensor(input),), {"squeeze_dims": dims}, name=name)


# --- Tile ------------------------------------------------------------------------------------


def _tile_kernel(x, multiples):
    multiples = _as_tuple(multiples) if x.ndim else tuple(multiples)
    if len(multiples) != x.ndim:
        raise ValueError(f"Expected multiples argument to be a vector of length {x.ndim} but got length "
                         f"{len(multiples)}")
    if any(m < 0 for m in multiples):
        raise ValueError(f"Expected multiples[i] >= 0, but got {fmt_shape(multiples)}")
    return jnp.tile(x, multiples)


op("Tile", "input: T, multiples: Tmultiples -> output: T", {"Tmultiples": INDEX}, static=("multiples",))(
    _tile_kernel
)


@gradient("Tile")
def _tile_grad(op, grad):
    from flowstone.ops import math

    x = op.inputs[0]
    dims = x.shape.as_list()
    multiples = [int(m) for m in np.ravel(constant_value(op.inputs[1]))]
    split_shape = [v for pair in zip(multiples, dims, strict=False) for v in pair]
    g = reshape(grad, split_shape)
    axes = list(builtins.range(0, 2 * len(dims), 2))
    return [reshape(math.reduce_sum(g, axis=axes), dims) if axes else g, None]


@export("tile")
def tile(input, multiples, name=None):  # noqa: A002
    """Repeats `input` `multiples[i]` times along each dimension i.

    >>> import flowstone as tf
    >>> tf.tile(tf.constant([1, 2]), [2]).numpy()
    array([1, 2, 1, 2], dtype=int32)
    """
    return execute("Tile", (convert_to_tensor(input), _int_tensor(multiples)), name=name)


# --- Pad, PadV2, MirrorPad -------------------------------------------------------------------


def _check_paddings(x, paddings):
    p = np.asarray(paddings, dtype=np.int64).reshape(-1, 2) if np.size(paddings) else np.zeros((0, 2), np.int64)
    if p.shape[0] != x.ndim:
        raise ValueError(f"The first dimension of paddings must be the rank of inputs{fmt_shape(p.shape)} "
                         f"{fmt_shape(x.shape)}")
    if (p < 0).any():
        bad = p[(p < 0).any(axis=1)][0]
        raise ValueError(f"Paddings must be non-negative: {bad[0]} {bad[1]}")
    return [tuple(int(v) for v in row) for row in p]


def _pad_kernel(x, paddings, constant_values=0):
    return jnp.pad(x, _check_paddings(x, paddings), constant_values=constant_values)


def _mirror_widths(x, paddings, mode):
    widths = _check_paddings(x, paddings)
    offset = 0 if mode == "SYMMETRIC" else 1
    for (lo, hi), n in zip(widths, x.shape, strict=False):
        if lo > n - offset or hi > n - offset:
            if offset:
                raise ValueError(f"paddings must be less than the dimension size: {lo}, {hi} not less than {n}")
            raise ValueError(f"paddings must be no greater than the dimension size: {lo}, {hi} greater than {n}")
    return widths


def _mirror_pad_kernel(x, paddings, mode):
    widths = _mirror_widths(x, paddings, mode)
    return jnp.pad(x, widths, mode="reflect" if mode == "REFLECT" else "symmetric")


def _mirror_pad_grad_kernel(dy, paddings, mode):
    import jax

    widths = [tuple(int(v) for v in row) for row in np.asarray(paddings).reshape(-1, 2)]
    x_shape = tuple(n - lo - hi for n, (lo, hi) in zip(dy.shape, widths, strict=False))
    jmode = "reflect" if mode == "REFLECT" else "symmetric"
    _, pullback = jax.vjp(lambda x: jnp.pad(x, widths, mode=jmode), jnp.zeros(x_shape, dy.dtype))
    return pullback(dy)[0]


_MODES = ("REFLECT", "SYMMETRIC")
op("Pad", "input: T, paddings: Tpaddings -> output: T", {"Tpaddings": INDEX}, static=("paddings",))(_pad_kernel)
op("PadV2", "input: T, paddings: Tpaddings, constant_values: T -> output: T", {"Tpaddings": INDEX},
   static=("paddings",))(_pad_kernel)
op("MirrorPad", "input: T, paddings: Tpaddings -> output: T", {"Tpaddings": INDEX, "mode": REQUIRED},
   static=("paddings",))(_mirror_pad_kernel)
op("MirrorPadGrad", "input: T, paddings: Tpaddings -> output: T",
   {"T": NON_STRING, "Tpaddings": INDEX, "mode": REQUIRED},
   static=("paddings",))(_mirror_pad_grad_kernel)


def _unpad(op, grad):
    from flowstone.ops.indexing import slice as slice_

    x = op.inputs[0]
    begin = np.asarray(constant_value(op.inputs[1])).reshape(-1, 2)[:, 0]
    return slice_(grad, begin.astype(np.int64).tolist(), _dims(x))


gradient("Pad")(lambda op, grad: [_unpad(op, grad), None])
# TensorFlow gives constant_values no gradient.
gradient("PadV2")(lambda op, grad: [_unpad(op, grad), None, None])
gradient("MirrorPad")(lambda op, grad: [
    execute("MirrorPadGrad", (grad, op.inputs[1]), {"mode": op.get_attr("mode")}), None])
gradient("MirrorPadGrad")(lambda op, grad: [
    execute("MirrorPad", (grad, op.inputs[1]), {"mode": op.get_attr("mode")}), None])


@export("pad")
def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """Pads `tensor` by `paddings[i] = [before, after]` per dimension.

    `mode` is "CONSTANT" (with `constant_values`), "REFLECT" or "SYMMETRIC" (any case).

    >>> import flowstone as tf
    >>> tf.pad(tf.constant([1, 2]), [[1, 2]]).numpy()
    array([0, 1, 2, 0, 0], dtype=int32)
    """
    tensor = convert_to_tensor(tensor)
    paddings = _int_tensor(paddings)
    mode_up = str(mode).upper()
    if mode_up == "CONSTANT":
        if not isinstance(constant_values, Tensor) and np.all(np.asarray(constant_values) == 0):
            return execute("Pad", (tensor, paddings), name=name)
        value = convert_to_tensor(constant_values, dtype=tensor.dtype)
        return execute("PadV2", (tensor, paddings, value), name=name)
    if mode_up in _MODES:
        return execute("MirrorPad", (tensor, paddings), {"mode": mode_up}, name=name)
    raise ValueError('Value of argument `mode` expected to be one of "CONSTANT", "REFLECT", or "SYMMETRIC". '
                     f"Received `mode` = {mode}")


# --- ReverseV2, Roll, ReverseSequence ----------------------------------------------------------


def _reverse_kernel(x, axis):
    axes = _as_tuple(axis)
    rank = x.ndim
    for i, a in enumerate(axes):
        if not -rank <= a < rank:
            raise ValueError(f"'axis'[{i}] = {a} is out of valid range [0, {rank - 1}")
    norm = [a % rank for a in axes]
    if len(set(norm)) != len(norm):
        raise ValueError(f"axis {norm[0]} specified more than once.")
    return jnp.flip(x, tuple(norm)) if norm else x


op("ReverseV2", "tensor: T, axis: Tidx -> output: T", {"Tidx": INDEX}, static=("axis",))(_reverse_kernel)
gradient("ReverseV2")(lambda op, grad: [execute("ReverseV2", (grad, op.inputs[1])), None])


@export("reverse", "reverse_v2")
def reverse(tensor, axis, name=None):
    """Reverses the given dimensions of `tensor`.

    >>> import flowstone as tf
    >>> tf.reverse(tf.constant([[1, 2], [3, 4]]), [1]).numpy()
    array([[2, 1],
           [4, 3]], dtype=int32)
    """
    return execute("ReverseV2", (convert_to_tensor(tensor), _int_tensor(axis)), name=name)


def _roll_kernel(x, shift, axis):
    shift, axis = _as_tuple(shift), _as_tuple(axis)
    if len(shift) != len(axis):
        raise ValueError("shift and axis must have the same size")
    rank = x.ndim
    for a in axis:
        if not -rank <= a < rank:
            raise ValueError(f"axis {a} is out of range")
    return jnp.roll(x, shift, tuple(a % rank for a in axis))


op("Roll", "input: T, shift: Tshift, axis: Taxis -> output: T", {"Tshift": INDEX, "Taxis": INDEX},
   static=("shift", "axis"))(_roll_kernel)


@gradient("Roll")
def _roll_grad(op, grad):
    shift = [-int(s) for s in np.ravel(constant_value(op.inputs[1]))]
    return [roll(grad, shift, op.inputs[2]), None, None]


@export("roll", "manip.roll")
def roll(input, shift, axis, name=None):  # noqa: A002
    """Shifts elements along `axis` by `shift`, wrapping around.

    >>> import flowstone as tf
    >>> tf.roll(tf.constant([1, 2, 3]), 1, 0).numpy()
    array([3, 1, 2], dtype=int32)
    """
    return execute("Roll", (convert_to_tensor(input), _int_tensor(shift), _int_tensor(axis)), name=name)


def _reverse_sequence_kernel(x, seq_lengths, seq_dim, batch_dim):
    rank = x.ndim
    seq_dim, batch_dim = seq_dim % rank, batch_dim % rank
    if seq_dim == batch_dim:
        raise ValueError(f"seq_dim ({seq_dim}) == batch_dim ({batch_dim})")
    n = x.shape[seq_dim]
    pos = jnp.arange(n)
    lengths = seq_lengths.astype(pos.dtype)[:, None]
    src = jnp.where(pos[None, :] < lengths, lengths - 1 - pos[None, :], pos[None, :])  # [batch, seq]
    shape_ = [1] * rank
    shape_[batch_dim], shape_[seq_dim] = x.shape[batch_dim], n
    if batch_dim > seq_dim:
        src = src.T
    return jnp.take_along_axis(x, jnp.broadcast_to(src.reshape(shape_), x.shape), axis=seq_dim)


op("ReverseSequence", "input: T, seq_lengths: Tlen -> output: T", {"Tlen": INDEX, "seq_dim": REQUIRED,
   "batch_dim": 0})(_reverse_sequence_kernel)
gradient("ReverseSequence")(lambda op, grad: [
    execute("ReverseSequence", (grad, op.inputs[1]),
            {"seq_dim": op.get_attr("seq_dim"), "batch_dim": op.get_attr("batch_dim")}), None])


@export("reverse_sequence")
def reverse_sequence(input, seq_lengths, seq_axis=None, batch_axis=None, name=None):  # noqa: A002
    """Reverses the first `seq_lengths[b]` elements along `seq_axis` of each batch entry `b`.

    >>> import flowstone as tf
    >>> tf.reverse_sequence([[1, 2, 3]], [2], seq_axis=1, batch_axis=0).numpy()
    array([[2, 1, 3]], dtype=int32)
    """
    x = convert_to_tensor(input)
    lengths = convert_to_tensor(seq_lengths, dtype=dtypes.int64 if not isinstance(seq_lengths, Tensor) else None)
    attrs = {"seq_dim": int(seq_axis), "batch_dim": int(batch_axis or 0)}
    return execute("ReverseSequence", (x, lengths), attrs, name=name)


# --- compositions: clip_by_value, clip_by_norm, repeat, sequence_mask -------------------------


@export("clip_by_value")
@scoped("clip_by_value")
def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """Clips values to `[clip_value_min, clip_value_max]`.

    >>> import flowstone as tf
    >>> tf.clip_by_value(tf.constant([1, 5, 9]), 2, 6).numpy()
    array([2, 5, 6], dtype=int32)
    """
    from flowstone.ops import math

    t = convert_to_tensor(t)
    lo = convert_to_tensor(clip_value_min, dtype=t.dtype) if not isinstance(clip_value_min, Tensor) else clip_value_min
    hi = convert_to_tensor(clip_value_max, dtype=t.dtype) if not isinstance(clip_value_max, Tensor) else clip_value_max
    out = math.maximum(math.minimum(t, hi), lo, name=name)
    if out.shape.is_fully_defined() and t.shape.is_fully_defined() and out.shape != t.shape:
        raise ValueError(f"Incompatible shapes: clipping bounds broadcast {t.shape} to {out.shape}")
    return out


@export("clip_by_norm")
@scoped("clip_by_norm")
def clip_by_norm(t, clip_norm, axes=None, name=None):
    """Rescales `t` so that its L2 norm (over `axes`) is at most `clip_norm`.

    >>> import flowstone as tf
    >>> tf.clip_by_norm(tf.constant([3.0, 4.0]), 1.0).numpy()
    array([0.6, 0.8], dtype=float32)
    """
    from flowstone.ops import math
    from flowstone.ops.indexing import where

    t = convert_to_tensor(t)
    clip_norm = cast(convert_to_tensor(clip_norm, dtype_hint=t.dtype), t.dtype)
    l2sum = math.reduce_sum(t * t, axis=axes, keepdims=True)
    positive = math.greater(l2sum, 0)
    safe = where(positive, l2sum, 1)
    l2norm = where(positive, math.sqrt(safe), l2sum)
    return math.truediv(t * clip_norm, math.maximum(l2norm, clip_norm), name=name)


@export("repeat")
@scoped("Repeat")
def repeat(input, repeats, axis=None, name=None):  # noqa: A002
    """Repeats each element of `input` along `axis` (flattened when None) `repeats` times.

    >>> import flowstone as tf
    >>> tf.repeat([1, 2, 3], [1, 0, 2]).numpy()
    array([1, 3, 3], dtype=int32)
    """
    from flowstone.ops.indexing import gather, where

    x = convert_to_tensor(input)
    if axis is None:
        x, axis = reshape(x, [-1]), 0
    reps = convert_to_tensor(repeats, dtype=dtypes.int32 if not isinstance(repeats, Tensor) else None)
    rank = x.shape.rank
    if not -rank <= axis < rank:
        raise ValueError(f"Argument `axis` = {axis} not in range [{-rank}, {rank})")
    axis %= rank
    n = x.shape[axis]
    if reps.shape.rank == 0:
        reps = reshape(reps, [1])
    if reps.shape[0] == 1 and n != 1:
        from flowstone.ops.array import broadcast_to

        reps = broadcast_to(reps, [n])
    if reps.shape[0] != n:
        raise ValueError(f"Dimensions must be equal, but are {reps.shape[0]} and {n} for 'repeats' and "
                         f"axis {axis} of 'input'")
    mask = sequence_mask(reps)
    rows = cast(where(mask)[:, 0], dtypes.int32)
    return gather(x, rows, axis=axis)


@export("sequence_mask")
@scoped("SequenceMask")
def sequence_mask(lengths, maxlen=None, dtype=dtypes.bool_, name=None):
    """`mask[..., j] = j < lengths[...]`, with `maxlen` columns (default: max(lengths)).

    >>> import flowstone as tf
    >>> tf.sequence_mask([1, 3], 3).numpy()
    array([[ True, False, False],
           [ True,  True,  True]])
    """
    from flowstone.ops import math
    from flowstone.ops.array import expand_dims
    from flowstone.ops.array import range as range_

    lengths = convert_to_tensor(lengths)
    if maxlen is None:
        known = constant_value(lengths)
        if known is not None:
            maxlen = int(np.max(known)) if np.size(known) else 0
            maxlen = max(maxlen, 0)
        else:
            maxlen = math.reduce_max(lengths)
    maxlen = convert_to_tensor(maxlen, dtype=lengths.dtype) if not isinstance(maxlen, Tensor) else cast(maxlen, lengths.dtype)
    if maxlen.shape.rank not in (None, 0):
        raise ValueError(f"Argument `maxlen` must be scalar for sequence_mask, received `maxlen` = {maxlen}.")
    row = range_(maxlen, dtype=lengths.dtype)
    mask = math.less(row, expand_dims(lengths, -1))
    dtype = dtypes.as_dtype(dtype)
    return mask if dtype is dtypes.bool_ else cast(mask, dtype)

