"""Pooling: `MaxPool`, `AvgPool`, their 3-D versions, their gradients and `MaxPoolWithArgmax`.

The gradient ops (`MaxPoolGrad`, `AvgPoolGrad`, `MaxPoolGradGrad`, ...) are raw ops with
gradients of their own, as in TensorFlow, so pooling is differentiable to any order.
One `lax.reduce_window` kernel (`_pool`) serves all of them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import scoped
from flowstone.core.errors import UnimplementedError
from flowstone.core.execute import execute
from flowstone.core.registry import FLOATS, REAL, REQUIRED, gradient, op
from flowstone.core.tensor import convert_to_tensor
from flowstone.ops import array as _array
from flowstone.ops import manip as _manip
from flowstone.ops.convolution import (
    check_attr,
    check_explicit,
    convert_padding,
    same_pads,
    sequence,
    shape_arg,
)
from flowstone.ops.nn import dims_str

_FORMATS = {2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}


def _window(x, n, ksize, strides, padding, data_format, explicit_paddings):
    """Validates a pooling window; returns (window, strides, per-dim padding pairs)."""
    check_attr(
        "padding",
        padding,
        ("SAME", "VALID", "EXPLICIT") if explicit_paddings is not None else ("SAME", "VALID"),
    )
    check_attr("data_format", data_format, _FORMATS[n])
    if x.ndim != n + 2:
        raise ValueError(f"tensor_in must be {n + 2}-dimensional: {dims_str(x.shape)}")
    for attr, values in (("ksize", ksize), ("strides", strides)):
        if len(values) != n + 2:
            raise ValueError(f"Sliding window {attr} field must specify {n + 2} dimensions")
    if any(k <= 0 for k in ksize):
        raise ValueError(f"ksize must be a positive int32 value, got:{min(ksize)}")
    if any(s <= 0 for s in strides):
        raise ValueError(f"strides must be a positive int32 value, got:{min(strides)}")
    if ksize[0] != 1 or strides[0] != 1:
        raise UnimplementedError(None, None, "Pooling is not yet supported on the batch dimension.")
    channel = 1 if data_format.startswith("NC") else n + 1
    check_explicit(padding, explicit_paddings or (), n + 2, (0, channel))
    if padding == "VALID":
        pads = [(0, 0)] * (n + 2)
    elif padding == "EXPLICIT":
        pads = [(explicit_paddings[2 * i], explicit_paddings[2 * i + 1]) for i in range(n + 2)]
    else:
        pads = [same_pads(s, k, st) for s, k, st in zip(x.shape, ksize, strides, strict=False)]
    return tuple(ksize), tuple(strides), pads


def _lowest(dtype):
    # A concrete NumPy init value lets jax recognise max pooling (and differentiate it).
    if jnp.issubdtype(dtype, jnp.floating):
        return np.array(-np.inf, dtype)
    return np.array(np.iinfo(dtype).min, dtype)


def _pool(x, *, kind, n, ksize, strides, padding, data_format, explicit_paddings=None):
    window, steps, pads = _window(x, n, ksize, strides, padding, data_format, explicit_paddings)
    if kind == "max":
        return lax.reduce_window(x, _lowest(x.dtype), lax.max, window, steps, pads)
    total = lax.reduce_window(x, np.array(0, x.dtype), lax.add, window, steps, pads)
    # SAME padding averages over the real (unpadded) elements of each window only.
    ones = jnp.ones(x.shape, x.dtype)
    count = lax.reduce_window(ones, np.array(0, x.dtype), lax.add, window, steps, pads)
    return total / count


def _as_float(*xs):
    return [x.astype(jnp.float64) if not jnp.issubdtype(x.dtype, jnp.floating) else x for x in xs]


def _max_pool_grad(x, y, dy, **cfg):
    out_dtype = dy.dtype
    x, dy = _as_float(x, dy)
    _, vjp = jax.vjp(lambda v: _pool(v, kind="max", **cfg), x)
    return vjp(dy.astype(x.dtype))[0].astype(out_dtype)


def _max_pool_grad_grad(x, y, g, **cfg):
    out_dtype = g.dtype
    x, g = _as_float(x, g)
    return jax.jvp(lambda v: _pool(v, kind="max", **cfg), (x,), (g.astype(x.dtype),))[1].astype(
        out_dtype
    )


def _avg_pool_grad(sizes, dy, **cfg):
    sizes = tuple(int(s) for s in sizes)
    _, vjp = jax.vjp(lambda v: _pool(v, kind="avg", **cfg), jnp.zeros(sizes, dy.dtype))
    return vjp(dy)[0]


def _pool_family(n, names, max_types, attrs2d):
    """Registers MaxPool/AvgPool (2-D or 3-D) with their gradient ops and gradients."""
    max_op, max_grad, max_gg, avg_op, avg_grad = names
    base = {
        "ksize": REQUIRED,
        "strides": REQUIRED,
        "padding": REQUIRED,
        "data_format": _FORMATS[n][0],
    }
    max_attrs = {**base, **attrs2d}

    def cfg(kw):
        c = {"n": n, **{k: kw[k] for k in ("ksize", "strides", "padding", "data_format")}}
        if "explicit_paddings" in kw:
            c["explicit_paddings"] = kw["explicit_paddings"]
        return c

    op(max_op, "input: T -> output: T", {"T": max_types, **max_attrs})(
        lambda x, **kw: _pool(x, kind="max", **cfg(kw))
    )
    grad_sig = (
        "orig_input: TInput, orig_output: TInput, grad: T -> output: T"
        if n == 3
        else "orig_input: T, orig_output: T, grad: T -> output: T"
    )
    grad_types = {"T": max_types, **({"TInput": max_types} if n == 3 else {})}
    op(max_grad, grad_sig, {**grad_types, **max_attrs})(
        lambda x, y, g, **kw: _max_pool_grad(x, y, g, **cfg(kw))
    )
    op(max_gg, "orig_input: T, orig_output: T, grad: T -> output: T", {"T": max_types, **base})(
        lambda x, y, g, **kw: _max_pool_grad_grad(x, y, g, **cfg(kw))
    )
    op(
        avg_op,
        "value: T -> output: T" if n == 2 else "input: T -> output: T",
        {"T": FLOATS, **base},
    )(lambda x, **kw: _pool(x, kind="avg", **cfg(kw)))
    op(
        avg_grad,
        "orig_input_shape: int32, grad: T -> output: T",
        {"T": FLOATS, **base},
        static=("orig_input_shape",),
    )(lambda s, g, **kw: _avg_pool_grad(s, g, **cfg(kw)))

    def attrs_of(o, keys):
        return {k: o.get_attr(k) for k in keys}

    max_keys, base_keys = tuple(max_attrs), tuple(base)

    @gradient(max_op)
    def _max_grad(o, g):
        return [execute(max_grad, (o.inputs[0], o.outputs[0], g), attrs_of(o, max_keys))]

    @gradient(max_grad)
    def _max_grad_grad(o, g):
        x, y, _ = o.inputs
        if "explicit_paddings" in max_keys and o.get_attr("padding") == "EXPLICIT":
            raise ValueError(f"{max_gg} gradient doesn't support explicit padding")
        gg = execute(max_gg, (x, y, g), attrs_of(o, base_keys))
        return [_array.zeros_like(x), _array.zeros_like(y), gg]

    @gradient(max_gg)
    def _max_gg_grad(o, g):
        x, y, _ = o.inputs
        return [
            _array.zeros_like(x),
            _array.zeros_like(y),
            execute(max_grad, (x, y, g), attrs_of(o, base_keys)),
        ]

    @gradient(avg_op)
    def _avg_grad(o, g):
        return [execute(avg_grad, (shape_arg(o.inputs[0]), g), attrs_of(o, base_keys))]

    @gradient(avg_grad)
    def _avg_grad_grad(o, g):
        return [None, execute(avg_op, (g,), attrs_of(o, base_keys))]


_pool_family(
    2,
    ("MaxPool", "MaxPoolGrad", "MaxPoolGradGrad", "AvgPool", "AvgPoolGrad"),
    REAL,
    {"explicit_paddings": []},
)
_pool_family(
    3, ("MaxPool3D", "MaxPool3DGrad", "MaxPool3DGradGrad", "AvgPool3D", "AvgPool3DGrad"), FLOATS, {}
)


# --- MaxPoolWithArgmax -------------------------------------------------------------------------------


def _argmax_kernel(x, ksize, strides, padding, include_batch_in_index, Targmax):  # noqa: N803 - TF attr
    window, steps, pads = _window(x, 2, ksize, strides, padding, "NHWC", None)
    b, h, w, c = x.shape
    flat = jnp.arange(b * h * w * c, dtype=jnp.int64).reshape(x.shape)
    if not include_batch_in_index:
        flat = flat % (h * w * c)

    def pick(a, b_):
        (va, ia), (vb, ib) = a, b_
        # The first maximum in row-major order wins, as in TensorFlow's CPU kernel.
        take_b = (vb > va) | ((vb == va) & (ib < ia) & (ib >= 0)) | (ia < 0)
        return jnp.where(take_b, vb, va), jnp.where(take_b, ib, ia)

    out, idx = lax.reduce_window(
        (x, flat), (_lowest(x.dtype), np.array(-1, np.int64)), pick, window, steps, pads
    )
    return out, idx.astype(Targmax.as_numpy_dtype)


op(
    "MaxPoolWithArgmax",
    "input: T -> output: T, argmax: Targmax",
    {
        "T": REAL,
        "ksize": REQUIRED,
        "strides": REQUIRED,
        "Targmax": dtypes.int64,
        "padding": REQUIRED,
        "include_batch_in_index": False,
    },
)(_argmax_kernel)


@gradient("MaxPoolWithArgmax")
def _argmax_grad(o, grad, _argmax_grad):
    attrs = {k: o.get_attr(k) for k in ("ksize", "strides", "padding")}
    return [execute("MaxPoolGrad", (o.inputs[0], o.outputs[0], grad), attrs)]


@export("nn.max_pool_with_argmax")
def max_pool_with_argmax(
    input,
    ksize,
    strides,
    padding,
    data_format="NHWC",
    output_dtype=dtypes.int64,  # noqa: A002
    include_batch_in_index=False,
    name=None,
):
    """2-D max pooling that also returns the flat index of each maximum.

    >>> import flowstone as tf
    >>> out, idx = tf.nn.max_pool_with_argmax(tf.reshape(tf.range(4.0), [1, 2, 2, 1]), 2, 2, "VALID")
    >>> int(idx.numpy().ravel()[0])
    3
    """
    if data_format != "NHWC":
        raise ValueError(
            f"`data_format` values other  than 'NHWC' are not supported. Received: data_format={data_format}"
        )
    attrs = {
        "ksize": sequence(ksize, 2, 3, "ksize"),
        "strides": sequence(strides, 2, 3, "strides"),
        "padding": padding,
        "Targmax": dtypes.as_dtype(output_dtype),
        "include_batch_in_index": bool(include_batch_in_index),
    }
    return execute("MaxPoolWithArgmax", (convert_to_tensor(input),), attrs, name=name)


# --- public wrappers ---------------------------------------------------------------------------------


def _channel(data_format):
    return 1 if data_format is not None and data_format.startswith("NC") else -1


def _pool_attrs(n, ksize, strides, data_format):
    ch = 1 if _channel(data_format) == 1 else n + 1
    return {
        "ksize": sequence(ksize, n, ch, "ksize"),
        "strides": sequence(strides, n, ch, "strides"),
        "data_format": data_format,
    }


def _max_pool_nd(raw, n, input, ksize, strides, padding, data_format, name):  # noqa: A002
    attrs = _pool_attrs(n, ksize, strides, data_format)
    if n == 2:
        if isinstance(padding, (list, tuple)) and data_format == "NCHW_VECT_C":
            raise ValueError(
                "`data_format='NCHW_VECT_C'` is not supported with explicit padding. "
                f"Received: padding={padding}"
            )
        padding, attrs["explicit_paddings"] = convert_padding(padding, 4)
    else:
        _string_padding(padding)
    attrs["padding"] = padding
    return execute(raw, (convert_to_tensor(input),), attrs, name=name)


def _string_padding(padding):
    if not isinstance(padding, str):
        raise TypeError(f"Expected string for argument 'padding' not {padding!r}.")


def _avg_pool_nd(raw, n, input, ksize, strides, padding, data_format, name):  # noqa: A002
    _string_padding(padding)
    attrs = _pool_attrs(n, ksize, strides, data_format)
    attrs["padding"] = padding
    return execute(raw, (convert_to_tensor(input),), attrs, name=name)


@export("nn.max_pool2d")
def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """2-D max pooling of a 4-D input; `padding` may be a list of 4 `[before, after]` pairs.

    >>> import flowstone as tf
    >>> tf.nn.max_pool2d(tf.reshape(tf.range(4.0), [1, 2, 2, 1]), 2, 2, "VALID").numpy().ravel()
    array([3.], dtype=float32)
    """
    return _max_pool_nd("MaxPool", 2, input, ksize, strides, padding, data_format, name or "MaxPool2d")


@export("nn.avg_pool2d")
def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """2-D average pooling of a 4-D input (SAME padding averages real elements only).

    >>> import flowstone as tf
    >>> tf.nn.avg_pool2d(tf.reshape(tf.range(4.0), [1, 2, 2, 1]), 2, 2, "VALID").numpy().ravel()
    array([1.5], dtype=float32)
    """
    return _avg_pool_nd("AvgPool", 2, input, ksize, strides, padding, data_format, name or "AvgPool2D")


@export("nn.max_pool3d")
def max_pool3d(input, ksize, strides, padding, data_format="NDHWC", name=None):  # noqa: A002
    """3-D max pooling of a 5-D input.

    >>> import flowstone as tf
    >>> tf.nn.max_pool3d(tf.reshape(tf.range(8.0), [1, 2, 2, 2, 1]), 2, 2, "VALID").numpy().ravel()
    array([7.], dtype=float32)
    """
    return _max_pool_nd("MaxPool3D", 3, input, ksize, strides, padding, data_format, name)


@export("nn.avg_pool3d")
def avg_pool3d(input, ksize, strides, padding, data_format="NDHWC", name=None):  # noqa: A002
    """3-D average pooling of a 5-D input.

    >>> import flowstone as tf
    >>> tf.nn.avg_pool3d(tf.reshape(tf.range(8.0), [1, 2, 2, 2, 1]), 2, 2, "VALID").numpy().ravel()
    array([3.5], dtype=float32)
    """
    return _avg_pool_nd("AvgPool3D", 3, input, ksize, strides, padding, data_format, name)


def _pool1d(fn, input, ksize, strides, padding, data_format, name):  # noqa: A002
    if data_format in (None, "NWC", "NHWC"):
        fmt, axis, ch = "NHWC", 1, 2
    elif data_format in ("NCW", "NCHW"):
        fmt, axis, ch = "NCHW", 2, 1
    else:
        raise ValueError(
            f"`data_format` must be 'NWC' or 'NCW'. Received: data_format={data_format}"
        )
    ksize = [1] + sequence(ksize, 1, ch, "ksize")
    strides = [1] + sequence(strides, 1, ch, "strides")
    if isinstance(padding, (list, tuple)):
        padding = list(padding[:axis]) + [[0, 0]] + list(padding[axis:])
    x = _array.expand_dims(convert_to_tensor(input), axis)
    return _manip.squeeze(fn(x, ksize, strides, padding, fmt, name), [axis])


@export("nn.max_pool1d")
@scoped("MaxPool1d")
def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002
    """1-D max pooling of a 3-D input (`NWC` or `NCW`).

    >>> import flowstone as tf
    >>> tf.nn.max_pool1d(tf.constant([[[1.0], [3.0], [2.0], [0.0]]]), 2, 2, "VALID").numpy().ravel()
    array([3., 2.], dtype=float32)
    """
    return _pool1d(max_pool2d, input, ksize, strides, padding, data_format, name)


@export("nn.avg_pool1d")
@scoped("AvgPool1D")
def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002
    """1-D average pooling of a 3-D input (`NWC` or `NCW`).

    >>> import flowstone as tf
    >>> tf.nn.avg_pool1d(tf.constant([[[1.0], [3.0], [2.0], [0.0]]]), 2, 2, "VALID").numpy().ravel()
    array([2., 1.], dtype=float32)
    """
    return _pool1d(avg_pool2d, input, ksize, strides, padding, data_format, name)


def _generic(fns, input, ksize, strides, padding, data_format, name):  # noqa: A002
    x = convert_to_tensor(input)
    rank = x.shape.rank
    if rank is None:
        if data_format is None:
            raise ValueError("`input` must have a static rank or `data_format` must be given.")
        rank = len(data_format)
    if rank not in (3, 4, 5):
        raise ValueError(
            f"`input.shape.rank` must be 3, 4 or 5. Received: input.shape={x.shape} of rank {rank}."
        )
    n = rank - 2
    if data_format is None:
        data_format = ("NWC", "NHWC", "NDHWC")[n - 1]
    elif data_format.startswith("NC"):
        data_format = ("NCW", "NCHW", "NCDHW")[n - 1]
    return fns[n - 1](x, ksize, strides, padding, data_format, name)


@export("nn.max_pool")
def max_pool(input, ksize, strides, padding, data_format=None, name=None):  # noqa: A002
    """N-D max pooling (N = 1, 2 or 3 from the rank of `input`).

    >>> import flowstone as tf
    >>> tf.nn.max_pool(tf.constant([[[1.0], [3.0]]]), 2, 2, "VALID").numpy().ravel()
    array([3.], dtype=float32)
    """
    return _generic(
        (max_pool1d, max_pool2d, max_pool3d), input, ksize, strides, padding, data_format, name
    )


@export("nn.avg_pool")
def avg_pool(input, ksize, strides, padding, data_format=None, name=None):  # noqa: A002
    """N-D average pooling (N = 1, 2 or 3 from the rank of `input`).

    >>> import flowstone as tf
    >>> tf.nn.avg_pool(tf.constant([[[1.0], [3.0]]]), 2, 2, "VALID").numpy().ravel()
    array([2.], dtype=float32)
    """
    return _generic(
        (avg_pool1d, avg_pool2d, avg_pool3d), input, ksize, strides, padding, data_format, name
    )
