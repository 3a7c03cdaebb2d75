"""Reductions, arg-reductions, scans, top-k and bincount.

The axis-reduction family (`Sum`, `Prod`, `Max`, `Min`, `Mean`, `All`, `Any`,
`EuclideanNorm`) is a table; composites (`reduce_logsumexp`, `reduce_variance`,
`count_nonzero`, ...) are written with the public ops, as TF writes them.
"""

# ruff: noqa: F821 - the table loops below define the wrappers (sin, reduce_max, ...) by name

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import ctx, scoped
from flowstone.core.execute import execute
from flowstone.core.registry import COMPLEX, FLOATS, INDEX, INTS, NUMERIC, OPS, REAL, gradient, op
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import Tensor, constant, constant_value, convert_to_tensor, index_tensor
from flowstone.ops import math as m

BOOL = (dtypes.bool_,)


def _norm_axes(axes, rank):
    """Reduction axes as non-negative ints, with TF's errors for bad or repeated axes."""
    axes = axes if isinstance(axes, tuple) else (axes,)
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(f"Invalid reduction dimension ({a} for input with {rank} dimension(s)")
        a %= rank
        if a in out:
            raise ValueError(f"Invalid reduction arguments: Axes contains duplicate dimension: {a}")
        out.append(a)
    return tuple(out)


def _lowest(dtype):
    return -jnp.inf if jnp.issubdtype(dtype, jnp.floating) else jnp.iinfo(dtype).min


def _highest(dtype):
    return jnp.inf if jnp.issubdtype(dtype, jnp.floating) else jnp.iinfo(dtype).max


def _mean(x, axis, keepdims):
    if jnp.issubdtype(x.dtype, jnp.integer):
        # TF's integer mean divides the integer sum (truncating); an empty mean is 0.
        n = int(np.prod([x.shape[a] for a in axis], dtype=np.int64))
        return lax.div(jnp.sum(x, axis, dtype=x.dtype, keepdims=keepdims), jnp.asarray(max(n, 1), x.dtype))
    return jnp.mean(x, axis, keepdims=keepdims)


def _euclidean_norm(x, axis, keepdims):
    if jnp.iscomplexobj(x):
        return jnp.sqrt(jnp.sum(x * jnp.conj(x), axis, keepdims=keepdims))
    if jnp.issubdtype(x.dtype, jnp.integer):
        s = jnp.sum(x.astype(jnp.float64) ** 2, axis, keepdims=keepdims)
        return jnp.floor(jnp.sqrt(s)).astype(x.dtype)
    return jnp.sqrt(jnp.sum(x * x, axis, keepdims=keepdims))


_SUMMABLE = NUMERIC
_ORDERED = REAL

# (raw op, public names, allowed dtypes, kernel(x, axis, keepdims))
_REDUCTIONS = [
    ("Sum", ("math.reduce_sum", "reduce_sum"), _SUMMABLE,
     lambda x, axis, keepdims: jnp.sum(x, axis, dtype=x.dtype, keepdims=keepdims)),
    ("Prod", ("math.reduce_prod", "reduce_prod"), _SUMMABLE,
     lambda x, axis, keepdims: jnp.prod(x, axis, dtype=x.dtype, keepdims=keepdims)),
    ("Max", ("math.reduce_max", "reduce_max"), _ORDERED,
     lambda x, axis, keepdims: jnp.max(x, axis, keepdims=keepdims, initial=_lowest(x.dtype))),
    ("Min", ("math.reduce_min", "reduce_min"), _ORDERED,
     lambda x, axis, keepdims: jnp.min(x, axis, keepdims=keepdims, initial=_highest(x.dtype))),
    ("Mean", ("math.reduce_mean", "reduce_mean"), _SUMMABLE, _mean),
    ("All", ("math.reduce_all", "reduce_all"), None, lambda x, axis, keepdims: jnp.all(x, axis, keepdims=keepdims)),
    ("Any", ("math.reduce_any", "reduce_any"), None, lambda x, axis, keepdims: jnp.any(x, axis, keepdims=keepdims)),
    ("EuclideanNorm", ("math.reduce_euclidean_norm",), _SUMMABLE, _euclidean_norm),
]


def _reduction_kernel(fn):
    def kernel(x, axes, keep_dims):
        return fn(x, _norm_axes(axes, x.ndim), keep_dims)

    return kernel


def reduction_axes(x, axis):
    """The axes tensor of a reduction: all axes when `axis` is None."""
    if axis is None:
        rank = x.shape.rank
        if rank is None:
            from flowstone.ops import array

            return array.range(array.rank(x))
        if ctx.graph is not None:
            # TF's graphs hold "all axes" as a Const of its own ("Const", not "Sum/reduction_indices").
            return constant(np.arange(rank, dtype=np.int32))
        return index_tensor(tuple(range(rank)), dtypes.int32)
    if isinstance(axis, Tensor):
        return axis
    return convert_to_tensor(axis, dtype=dtypes.int64 if _big(axis) else dtypes.int32)


def _big(axis):
    return any(not -(2**31) <= int(a) < 2**31 for a in np.ravel(axis))


def _reduction_wrapper(raw):
    if raw in ("All", "Any"):

        def wrapper(input_tensor, axis=None, keepdims=False, name=None):
            x = convert_to_tensor(input_tensor, dtype=dtypes.bool_) if not isinstance(input_tensor, Tensor) else input_tensor
            return execute(raw, (x, reduction_axes(x, axis)), {"keep_dims": bool(keepdims)}, name=name)
    else:

        def wrapper(input_tensor, axis=None, keepdims=False, name=None):
            x = convert_to_tensor(input_tensor)
            return execute(raw, (x, reduction_axes(x, axis)), {"keep_dims": bool(keepdims)}, name=name)

    return wrapper


_g = globals()
for _raw, _names, _allowed, _kernel in _REDUCTIONS:
    sig = "input: bool, reduction_indices: Tidx -> output: bool" if _allowed is None else (
        "input: T, reduction_indices: Tidx -> output: T")
    attrs = {"Tidx": INDEX, "keep_dims": False}
    if _allowed is not None:
        attrs["T"] = _allowed
    op(_raw, sig, attrs, static=("reduction_indices",), shape="reduce",
       differentiable=_allowed is not None)(_reduction_kernel(_kernel))
    _fn = _reduction_wrapper(_raw)
    _fn.__name__ = _fn.__qualname__ = _names[0].split(".")[-1]
    _fn.__module__ = __name__
    _fn.__doc__ = (f"`{_raw}` of elements across `axis` (all axes when None); `keepdims` keeps them as size 1.\n\n"
                   f"    Raises InvalidArgumentError for an axis outside [-rank, rank) or a repeated axis.")
    _g[_fn.__name__] = _fn
    export(*_names)(_fn)


# --- reduction gradients ------------------------------------------------------------------------


def _expanded(op, t):
    """`t` (an output-shaped tensor) with the reduced axes restored as size 1."""
    from flowstone.ops import array

    if op.get_attr("keep_dims"):
        return t
    return array.expand_reduced(t, op.inputs[0], op.inputs[1])


def _broadcast_grad(op, grad):
    from flowstone.ops import array

    x = op.inputs[0]
    if x.shape.is_fully_defined():
        if grad.shape.rank == 0:
            from flowstone.autodiff.backprop import broadcast_ones

            ones = broadcast_ones(grad, x)  # d reduce_sum(x) / dx seeded with 1: cached ones
            if ones is not None:
                return ones
        # Known shapes: one BroadcastTo (a scalar from a full reduction needs no reshape first).
        g = grad if grad.shape.rank == 0 else _expanded(op, grad)
        return array.broadcast_to(g, x.shape.as_list())
    return array.broadcast_to(_expanded(op, grad), array.shape(x))


gradient("Sum")(lambda op, grad: [_broadcast_grad(op, grad), None])


@gradient("Mean")
def _mean_grad(op, grad):
    from flowstone.ops import array

    x, y = op.inputs[0], op.outputs[0]
    if x.shape.is_fully_defined() and y.shape.is_fully_defined():
        count = max(x.shape.num_elements() // max(y.shape.num_elements(), 1), 1)
        scale = convert_to_tensor(count, dtype=grad.dtype)
    else:
        scale = array.cast(m.maximum(m.floordiv(array.size(x), array.size(y)), 1), grad.dtype)
    return [m.realdiv(_broadcast_grad(op, grad), scale), None]


def _minmax_grad(op, grad):
    from flowstone.ops import array

    x = op.inputs[0]
    y = _expanded(op, op.outputs[0])
    indicators = array.cast(m.equal(y, x), grad.dtype)
    count = reduce_sum(indicators, op.inputs[1], keepdims=True)
    return [m.multiply(m.realdiv(indicators, count), _expanded(op, grad)), None]


gradient("Max")(_minmax_grad)
gradient("Min")(_minmax_grad)


def _static_axes(op):
    axes = constant_value(op.inputs[1])
    rank = op.inputs[0].shape.rank
    if axes is None or rank is None:
        raise ValueError(f"The gradient of {op.type} needs constant reduction axes and a known rank")
    return list(_norm_axes(tuple(int(a) for a in np.ravel(axes)), rank))


def _prod_except_self(x, axes):
    """For each element, the product of all others over `axes` (zeros handled, no division)."""
    first, rest = axes[0], axes[1:]
    own = m.multiply(cumprod(x, first, exclusive=True), cumprod(x, first, exclusive=True, reverse=True))
    if not rest:
        return own
    inner = reduce_prod(x, rest, keepdims=True)
    across = m.multiply(cumprod(inner, first, exclusive=True), cumprod(inner, first, exclusive=True, reverse=True))
    return m.multiply(across, _prod_except_self(x, rest))


@gradient("Prod")
def _prod_grad(op, grad):
    x = op.inputs[0]
    axes = _static_axes(op)
    if not axes:
        return [grad, None]
    return [m.multiply(_broadcast_grad(op, grad), m.conj(_prod_except_self(x, axes))), None]


@gradient("EuclideanNorm")
def _euclidean_norm_grad(op, grad):
    x = op.inputs[0]
    return [m.multiply(m.conj(m.realdiv(x, _expanded(op, op.outputs[0]))), _expanded(op, grad)), None]


# --- composite reductions -----------------------------------------------------------------------


def _stop_gradient(x):
    if "StopGradient" in OPS:
        return execute("StopGradient", (x,))
    return x


@export("math.reduce_logsumexp", "reduce_logsumexp")
@scoped("ReduceLogSumExp")
def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    """`log(sum(exp(x)))` across `axis`, computed stably by subtracting the maximum.

    >>> import flowstone as tf
    >>> print(tf.reduce_logsumexp(tf.constant([0.0, 0.0])).numpy())
    0.6931472
    """
    from flowstone.ops import array

    x = convert_to_tensor(input_tensor)
    axes = reduction_axes(x, axis)
    raw_max = reduce_max(x, axes, keepdims=True)
    finite = m.is_finite(raw_max)
    top = _stop_gradient(array.where(finite, raw_max, 0))
    result = m.log(reduce_sum(m.exp(m.subtract(x, top)), axes, keepdims=keepdims))
    if not keepdims:
        top = array.reshape(top, array.shape(result))
    return m.add(result, top, name=name)


def _check_real_or_complex(x):
    if not (x.dtype.is_floating or x.dtype.is_complex):
        raise TypeError(f"Input must be either real or complex. Received integer type {x.dtype}.")


@export("math.reduce_variance")
@scoped("reduce_variance")
def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """Variance across `axis` (real for complex input).

    >>> import flowstone as tf
    >>> print(tf.math.reduce_variance(tf.constant([1.0, 2.0])).numpy())
    0.25
    """
    x = convert_to_tensor(input_tensor)
    _check_real_or_complex(x)
    mean = reduce_mean(x, axis, keepdims=True)
    deviation = m.subtract(x, mean, name="sub")
    squared = m.square(m.abs(deviation)) if x.dtype.is_complex else m.square(deviation)
    return reduce_mean(squared, axis, keepdims=keepdims)


@export("math.reduce_std")
@scoped("reduce_std")
def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """Standard deviation across `axis`.

    >>> import flowstone as tf
    >>> print(tf.math.reduce_std(tf.constant([1.0, 3.0])).numpy())
    1.0
    """
    x = convert_to_tensor(input_tensor)
    _check_real_or_complex(x)
    return m.sqrt(reduce_variance(x, axis, keepdims))


@export("math.count_nonzero")
@scoped("count_nonzero")
def count_nonzero(input, axis=None, keepdims=None, dtype=dtypes.int64, name=None):  # noqa: A002
    """Number of non-zero elements across `axis` (as int64 by default).

    >>> import flowstone as tf
    >>> print(tf.math.count_nonzero(tf.constant([1, 0, 2])).numpy())
    2
    """
    from flowstone.ops import array

    x = convert_to_tensor(input)
    zero = array.zeros_like(x) if x.dtype is dtypes.string else convert_to_tensor(0 if not x.dtype.is_bool else False,
                                                                                   dtype=x.dtype)
    nonzero = array.cast(m.not_equal(x, zero), dtypes.int64)
    return array.cast(reduce_sum(nonzero, axis, keepdims=bool(keepdims)), dtype)


@export("math.zero_fraction")
@scoped("zero_fraction")
def zero_fraction(value, name=None):
    """The fraction of zeros in `value`, as float32.

    >>> import flowstone as tf
    >>> print(tf.math.zero_fraction(tf.constant([0, 1, 0, 3])).numpy())
    0.5
    """
    from flowstone.ops import array

    x = convert_to_tensor(value)
    return reduce_mean(array.cast(m.equal(x, convert_to_tensor(0, dtype=x.dtype)), dtypes.float32))


# --- ArgMax / ArgMin ---------------------------------------------------------------------------


def _arg_kernel(fn):
    def kernel(x, axis, output_type):
        rank = x.ndim
        if not -max(rank, 1) <= axis < max(rank, 1):
            raise ValueError(f"Expected dimension in the range [{-rank}, {rank}), but got {axis}")
        axis %= max(rank, 1)
        if x.shape[axis] == 0:
            raise ValueError(f"Reduction axis {axis} is empty in shape [{','.join(map(str, x.shape))}]")
        return fn(x, axis=axis).astype(output_type.as_numpy_dtype)

    return kernel


_ARG_ATTRS = {"T": REAL + BOOL, "Tidx": (dtypes.int16, dtypes.int32, dtypes.int64), "output_type": dtypes.int64}
op("ArgMax", "input: T, dimension: Tidx -> output: output_type", _ARG_ATTRS, static=("dimension",),
   differentiable=False)(_arg_kernel(jnp.argmax))
op("ArgMin", "input: T, dimension: Tidx -> output: output_type", _ARG_ATTRS, static=("dimension",),
   differentiable=False)(_arg_kernel(jnp.argmin))


def _arg(raw, input, axis, output_type, name):  # noqa: A002
    x = convert_to_tensor(input)
    output_type = dtypes.as_dtype(output_type)
    if output_type not in (dtypes.int16, dtypes.uint16, dtypes.int32, dtypes.int64):
        raise TypeError(f"output_type must be int16, uint16, int32 or int64, got {output_type!r}")
    dim = convert_to_tensor(0 if axis is None else axis, dtype=None if isinstance(axis, Tensor) else dtypes.int32)
    return execute(raw, (x, dim), {"output_type": output_type}, name=name)


@export("math.argmax", "argmax")
def argmax(input, axis=None, output_type=dtypes.int64, name=None):  # noqa: A002
    """Index of the largest value along `axis` (0 when None); the first one on ties.

    >>> import flowstone as tf
    >>> tf.math.argmax(tf.constant([[1, 5], [3, 2]]), axis=1).numpy()
    array([1, 0])
    """
    return _arg("ArgMax", input, axis, output_type, name)


@export("math.argmin", "argmin")
def argmin(input, axis=None, output_type=dtypes.int64, name=None):  # noqa: A002
    """Index of the smallest value along `axis` (0 when None); the first one on ties.

    >>> import flowstone as tf
    >>> tf.math.argmin(tf.constant([[1, 5], [3, 2]]), axis=1).numpy()
    array([0, 1])
    """
    return _arg("ArgMin", input, axis, output_type, name)


# --- scans -------------------------------------------------------------------------------------


def _scan_kernel(fn, identity):
    def kernel(x, axis, exclusive, reverse):
        rank = x.ndim
        if not isinstance(axis, int):
            raise ValueError(f"ScanOp: axis must be a scalar, not {list(axis)}")
        if not -rank <= axis < rank:
            raise ValueError(f"ScanOp: Expected scan axis in the range [{-rank}, {rank}), but got {axis}")
        axis %= rank
        out = fn(x, axis=axis, reverse=reverse)
        n = x.shape[axis]
        if exclusive and n:
            pad = jnp.full_like(lax.slice_in_dim(x, 0, 1, axis=axis), identity)
            if reverse:
                out = jnp.concatenate([lax.slice_in_dim(out, 1, n, axis=axis), pad], axis=axis)
            else:
                out = jnp.concatenate([pad, lax.slice_in_dim(out, 0, n - 1, axis=axis)], axis=axis)
        return out

    return kernel


_SCAN_ATTRS = {"Tidx": INDEX, "exclusive": False, "reverse": False}
op("Cumsum", "x: T, axis: Tidx -> out: T", {"T": NUMERIC, **_SCAN_ATTRS}, static=("axis",), shape="same")(
    _scan_kernel(lax.cumsum, 0))
op("Cumprod", "x: T, axis: Tidx -> out: T", {"T": NUMERIC, **_SCAN_ATTRS}, static=("axis",), shape="same")(
    _scan_kernel(lax.cumprod, 1))
op("CumulativeLogsumexp", "x: T, axis: Tidx -> out: T", {"T": FLOATS, **_SCAN_ATTRS}, static=("axis",),
   shape="same")(_scan_kernel(lax.cumlogsumexp, -jnp.inf))


def _scan(raw, x, axis, exclusive, reverse, name):
    x = convert_to_tensor(x)
    axis = axis if isinstance(axis, Tensor) else convert_to_tensor(axis, dtype=dtypes.int32)
    return execute(raw, (x, axis), {"exclusive": bool(exclusive), "reverse": bool(reverse)}, name=name)


@export("math.cumsum", "cumsum")
def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative sum along `axis`; `exclusive` leaves out each element, `reverse` runs backwards.

    >>> import flowstone as tf
    >>> tf.math.cumsum(tf.constant([1, 2, 3]), exclusive=True).numpy()
    array([0, 1, 3], dtype=int32)
    """
    return _scan("Cumsum", x, axis, exclusive, reverse, name)


@export("math.cumprod")
def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative product along `axis`.

    >>> import flowstone as tf
    >>> tf.math.cumprod(tf.constant([1, 2, 3]), reverse=True).numpy()
    array([6, 6, 3], dtype=int32)
    """
    return _scan("Cumprod", x, axis, exclusive, reverse, name)


@export("math.cumulative_logsumexp")
def cumulative_logsumexp(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative `log(sum(exp(x)))` along `axis`.

    >>> import flowstone as tf
    >>> tf.math.cumulative_logsumexp(tf.constant([0.0, 0.0])).numpy()
    array([0.       , 0.6931472], dtype=float32)
    """
    return _scan("CumulativeLogsumexp", x, axis, exclusive, reverse, name)


def _scan_attrs(op):
    return op.inputs[1], op.get_attr("exclusive"), op.get_attr("reverse")


@gradient("Cumsum")
def _cumsum_grad(op, grad):
    axis, exclusive, reverse = _scan_attrs(op)
    return [cumsum(grad, axis, exclusive=exclusive, reverse=not reverse), None]


@gradient("Cumprod")
def _cumprod_grad(op, grad):
    x = op.inputs[0]
    axis, exclusive, reverse = _scan_attrs(op)
    prod = cumprod(x, axis, exclusive=exclusive, reverse=reverse)
    out = cumsum(m.multiply(prod, grad), axis, exclusive=exclusive, reverse=not reverse)
    return [m.realdiv(out, x), None]


@gradient("CumulativeLogsumexp")
def _cumulative_logsumexp_grad(op, grad):
    from flowstone.ops import array

    x, out = op.inputs[0], op.outputs[0]
    axis, exclusive, reverse = _scan_attrs(op)
    lowest = convert_to_tensor(grad.dtype.min, dtype=grad.dtype)
    ones = array.ones_like(grad)

    def log_part(mask, magnitude):
        # Logs of the positive and negative parts of `grad`, taken where they are defined.
        safe = array.where(mask, magnitude, ones)
        return array.where(mask, m.log(safe), array.broadcast_to(lowest, array.shape(grad)))

    pos = log_part(m.greater(grad, 0), grad)
    neg = log_part(m.less(grad, 0), m.negative(grad))
    flow = dict(exclusive=exclusive, reverse=not reverse)
    g_pos = m.exp(m.add(cumulative_logsumexp(m.subtract(pos, out), axis, **flow), x))
    g_neg = m.exp(m.add(cumulative_logsumexp(m.subtract(neg, out), axis, **flow), x))
    return [m.subtract(g_pos, g_neg), None]


# --- top_k / in_top_k ---------------------------------------------------------------------------


def _top_k_kernel(x, k, sorted, index_type):  # noqa: A002 - TF's attr name
    if x.ndim < 1:
        raise ValueError(f"input must be at least 1-dimensional, got shape {list(x.shape)}")
    if k < 0:
        raise ValueError(f"Need k >= 0, got {k}")
    if x.shape[-1] < k:
        raise ValueError(f"input must have at least k columns. Had {x.shape[-1]}, needed {k}")
    values, indices = lax.top_k(x, k)
    return values, indices.astype(index_type.as_numpy_dtype)


op("TopKV2", "input: T, k: Tk -> values: T, indices: index_type",
   {"T": REAL, "Tk": (dtypes.int16, dtypes.int32, dtypes.int64), "sorted": True, "index_type": dtypes.int32},
   static=("k",))(_top_k_kernel)


@gradient("TopKV2")
def _top_k_grad(op, grad_values, grad_indices=None):
    from flowstone.ops import array

    x, indices = op.inputs[0], op.outputs[1]
    n = x.shape[-1]
    if n is None:
        n = reduce_max(reduce_sum(array.ones_like(x, dtype=dtypes.int32), -1))
    positions = array.range(n, dtype=indices.dtype)
    one_hot = array.cast(m.equal(array.expand_dims(indices, -1), positions), grad_values.dtype)
    return [reduce_sum(m.multiply(array.expand_dims(grad_values, -1), one_hot), -2), None]


class TopKV2(tuple):
    """The `(values, indices)` pair returned by `top_k`."""

    __slots__ = ()
    _fields = ("values", "indices")

    def __new__(cls, values, indices):
        return tuple.__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])

    def __repr__(self):
        return f"TopKV2(values={self[0]!r}, indices={self[1]!r})"


@export("math.top_k", "nn.top_k")
def top_k(input, k=1, sorted=True, index_type=dtypes.int32, name=None):  # noqa: A002
    """The `k` largest entries along the last axis and their indices (lower index first on ties).

    >>> import flowstone as tf
    >>> tf.math.top_k(tf.constant([1.0, 3.0, 2.0]), k=2).indices.numpy()
    array([1, 2], dtype=int32)
    """
    x = convert_to_tensor(input)
    k = k if isinstance(k, Tensor) else convert_to_tensor(k, dtype=dtypes.int32)
    values, indices = execute("TopKV2", (x, k), {"sorted": bool(sorted), "index_type": dtypes.as_dtype(index_type)},
                              name=name)
    return TopKV2(values, indices)


def _in_top_k_kernel(predictions, targets, k):
    if predictions.ndim != 2:
        raise ValueError(f"predictions must be 2-dimensional, got shape {list(predictions.shape)}")
    if targets.ndim != 1 or targets.shape[0] != predictions.shape[0]:
        raise ValueError(f"First dimension of predictions {predictions.shape[0]} must match length of targets "
                         f"{targets.shape[0] if targets.ndim else targets.shape}")
    n = predictions.shape[1]
    valid = (targets >= 0) & (targets < n)
    safe = jnp.where(valid, targets, 0)
    target_value = jnp.take_along_axis(predictions, safe[:, None].astype(jnp.int32), axis=1)
    better = jnp.sum(predictions > target_value, axis=1)
    return valid & jnp.isfinite(target_value[:, 0]) & (better < k)


op("InTopKV2", "predictions: float32, targets: T, k: T -> precision: bool", {"T": INDEX},
   differentiable=False)(_in_top_k_kernel)


@export("math.in_top_k", "nn.in_top_k")
@scoped("in_top_k")
def in_top_k(targets, predictions, k, name=None):
    """Whether each target's prediction is among the `k` highest (ties at the boundary count).

    >>> import flowstone as tf
    >>> tf.math.in_top_k([1, 0], tf.constant([[0.1, 0.9], [0.2, 0.8]]), 1).numpy()
    array([ True, False])
    """
    targets = convert_to_tensor(targets)
    predictions = convert_to_tensor(predictions, dtype=dtypes.float32)
    k = convert_to_tensor(k, dtype=targets.dtype)
    return execute("InTopKV2", (predictions, targets, k))


# --- bincount ----------------------------------------------------------------------------------


def _bincount_host(arr, size, weights, binary_output=False):
    arr, w = np.asarray(arr), np.asarray(weights)
    size = int(np.asarray(size))
    if size < 0:
        raise ValueError(f"size ({size}) must be non-negative")
    if arr.ndim not in (1, 2):
        raise ValueError(f"input must be 1 or 2-dimensional, got shape {list(arr.shape)}")
    if w.size and w.shape != arr.shape:
        raise ValueError(f"got input shape {list(arr.shape)} and weights shape {list(w.shape)}: they must match")
    if arr.size and arr.min() < 0:
        raise ValueError("Input arr must be non-negative!")
    rows = arr.reshape(-1, arr.shape[-1]) if arr.ndim == 2 else arr.reshape(1, -1)
    out = np.zeros((rows.shape[0], size), dtype=w.dtype)
    keep = rows < size
    r, c = np.nonzero(keep)
    if binary_output:
        out[r, rows[r, c]] = 1
    else:
        values = w.reshape(rows.shape)[r, c] if w.size else 1
        np.add.at(out, (r, rows[r, c]), values)
    return jnp.asarray(out if arr.ndim == 2 else out[0])


def _bincount_shape(inputs, attrs):
    arr, size = inputs[0].shape, constant_value(inputs[1])
    bins = None if size is None else int(size)
    if arr.rank == 2:
        return TensorShape([arr[0], bins])
    return TensorShape([bins])


_BINCOUNT_T = (dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float64)
op("DenseBincount", "input: Tidx, size: Tidx, weights: T -> output: T",
   {"Tidx": INDEX, "T": _BINCOUNT_T, "binary_output": False}, host=True, differentiable=False,
   shape=_bincount_shape)(_bincount_host)
op("Bincount", "arr: int32, size: int32, weights: T -> bins: T", {"T": _BINCOUNT_T}, host=True,
   differentiable=False, shape=_bincount_shape)(_bincount_host)


@export("math.bincount")
@scoped("bincount")
def bincount(arr, weights=None, minlength=None, maxlength=None, dtype=dtypes.int32, name=None, axis=None,
             binary_output=False):
    """Counts occurrences of each non-negative integer in `arr` (weighted when `weights` is given).

    >>> import flowstone as tf
    >>> tf.math.bincount(tf.constant([1, 1, 3])).numpy()
    array([0, 2, 0, 1], dtype=int32)
    """
    from flowstone.ops import array

    arr = convert_to_tensor(arr)
    if not arr.dtype.is_integer or arr.dtype not in INDEX:
        arr = array.cast(arr, dtypes.int32)
    if weights is not None:
        weights = convert_to_tensor(weights)
    if axis is None:
        arr = array.reshape(arr, [-1])
        if weights is not None:
            weights = array.reshape(weights, [-1])
    elif axis not in (0, -1):
        raise ValueError(f"Unsupported axis value {axis}. Only 0 and -1 are currently supported.")
    nonempty = array.cast(m.greater(array.size(arr), 0), arr.dtype)
    size = m.multiply(nonempty, m.add(reduce_max(arr), 1))
    if minlength is not None:
        size = m.maximum(convert_to_tensor(minlength, dtype=arr.dtype), size)
    if maxlength is not None:
        size = m.minimum(convert_to_tensor(maxlength, dtype=arr.dtype), size)
    if weights is None:
        weights = convert_to_tensor(np.zeros((0,), dtypes.as_dtype(dtype).as_numpy_dtype))
    return execute("DenseBincount", (arr, size, weights), {"binary_output": bool(binary_output)})


del _g, _raw, _names, _allowed, _kernel, _fn, INTS, COMPLEX
