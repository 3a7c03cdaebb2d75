"""Convolutions: `Conv2D`, `Conv3D`, `DepthwiseConv2dNative` and their backprop ops.

Every backprop op (`Conv2DBackpropInput`, `Conv2DBackpropFilter`, ...) is a raw op with a
gradient of its own, so second-order derivatives and `conv2d_transpose` work as in
TensorFlow. One XLA convolution kernel (`_conv`) serves all of them; the backprop kernels
are its vector-Jacobian products.
"""

from __future__ import annotations

import collections.abc

import jax
import jax.numpy as jnp
from jax import lax

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import scoped
from flowstone.core.errors import UnimplementedError
from flowstone.core.execute import execute
from flowstone.core.registry import FLOATS, INDEX, REQUIRED, gradient, op
from flowstone.core.tensor import Tensor, constant_value, convert_to_tensor
from flowstone.ops import array as _array
from flowstone.ops import manip as _manip
from flowstone.ops.nn import dims_str

# --- shared by convolution and pooling kernels --------------------------------------------------------


def check_attr(name, value, allowed):
    """TF's attr validation: a string attr outside its allowed values."""
    if value not in allowed:
        names = ", ".join(f'"{a}"' for a in allowed)
        raise ValueError(
            f"Value for attr '{name}' of \"{value}\" is not in the list of allowed values: {names}"
        )


def layout(data_format: str, n: int):
    """(spatial axes, channel axis) of an `N...C` or `NC...` tensor with `n` spatial dims."""
    if data_format.startswith("NC"):
        return tuple(range(2, 2 + n)), 1
    return tuple(range(1, 1 + n)), n + 1


def same_pads(size, window, stride, dilation=1):
    """TF's SAME padding of one dimension: the output is ceil(size / stride)."""
    effective = (window - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def spatial_pads(in_sizes, windows, strides, dilations, padding, explicit, spatial):
    """One (before, after) pair per spatial dim for padding `SAME`, `VALID` or `EXPLICIT`."""
    if padding == "VALID":
        return [(0, 0)] * len(in_sizes)
    if padding == "EXPLICIT":
        return [(explicit[2 * a], explicit[2 * a + 1]) for a in spatial]
    return [
        same_pads(s, w, st, d)
        for s, w, st, d in zip(in_sizes, windows, strides, dilations, strict=False)
    ]


def check_explicit(padding, explicit, rank, batch_channel):
    if padding != "EXPLICIT":
        if explicit:
            raise ValueError("explicit_paddings must be empty when padding is not EXPLICIT")
        return
    if len(explicit) != 2 * rank:
        raise ValueError(
            f"explicit_paddings attribute must contain {2 * rank} values, but got: {len(explicit)}"
        )
    if any(v < 0 for v in explicit):
        raise ValueError(
            f"All elements of explicit_paddings must be nonnegative, got {list(explicit)}"
        )
    if any(explicit[2 * a] or explicit[2 * a + 1] for a in batch_channel):
        raise ValueError(
            "Nonzero explicit padding in the batch or depth dimensions is not supported"
        )


def shape_arg(t):
    """`t`'s shape as an int32 tensor: a constant when fully known (static kernel inputs)."""
    if t.shape.is_fully_defined():
        return convert_to_tensor(t.shape.as_list(), dtype=dtypes.int32)
    return _array.shape(t)


def sequence(value, n, channel_index, name):
    """TF's `_get_sequence`: an int or a list of 1, n or n + 2 values as n + 2 values."""
    if value is None:
        value = [1]
    elif not isinstance(value, collections.abc.Sized):
        value = [value]
    value = [int(v) for v in value]
    count = len(value)
    if count == n + 2:
        return value
    if count == 1:
        value = value * n
    elif count != n:
        raise ValueError(
            f"{name} should be of length 1, {n} or {n + 2}. Received: {name}={value} of length {count}"
        )
    return [1, 1] + value if channel_index == 1 else [1] + value + [1]


# --- the convolution kernel -----------------------------------------------------------------------

_FORMATS = {2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}
_RHS = {2: "HWIO", 3: "DHWIO"}
_PADDINGS = ("SAME", "VALID", "EXPLICIT")


def _conv(
    x, w, *, n, strides, padding, data_format, dilations, explicit_paddings=(), depthwise=False
):
    check_attr("padding", padding, _PADDINGS if n == 2 else _PADDINGS[:2])
    check_attr("data_format", data_format, _FORMATS[n])
    prefix = "convolution " if n == 2 else ""
    if x.ndim != n + 2:
        raise ValueError(f"{prefix}input must be {n + 2}-dimensional: {dims_str(x.shape)}")
    if w.ndim != n + 2:
        raise ValueError(f"{prefix}filter must be {n + 2}-dimensional: {dims_str(w.shape)}")
    spatial, channel = layout(data_format, n)
    for attr, values in (("strides", strides), ("dilations", dilations)):
        if len(values) != n + 2:
            raise ValueError(f"Sliding window {attr} field must specify {n + 2} dimensions")
        if values[0] != 1 or values[channel] != 1:
            raise UnimplementedError(
                None,
                None,
                f"Current implementation does not yet support {attr} in the batch and depth dimensions.",
            )
    check_explicit(padding, explicit_paddings, n + 2, (0, channel))
    in_depth, f_depth, out_depth = x.shape[channel], w.shape[n], w.shape[n + 1]
    if depthwise:
        if in_depth != f_depth:
            raise ValueError(f"input and filter must have the same depth: {in_depth} vs {f_depth}")
        w = jnp.reshape(w, w.shape[:n] + (1, f_depth * out_depth))
        groups = in_depth
    else:
        if f_depth == 0 or in_depth % f_depth:
            raise ValueError(
                f"input depth must be evenly divisible by filter depth: {in_depth} vs {f_depth}"
            )
        groups = in_depth // f_depth
        if out_depth % groups:
            raise ValueError(
                f"output depth must be evenly divisible by number of groups: {out_depth} vs {groups}"
            )
    st = [strides[a] for a in spatial]
    dil = [dilations[a] for a in spatial]
    pads = spatial_pads(
        [x.shape[a] for a in spatial], w.shape[:n], st, dil, padding, explicit_paddings, spatial
    )
    out_dtype = x.dtype
    if jnp.issubdtype(out_dtype, jnp.integer) and jax.default_backend() != "cpu":
        # cuDNN has no integer convolutions: compute in float64 (exact below 2**53) and cast back.
        x, w = x.astype(jnp.float64), w.astype(jnp.float64)
    out = lax.conv_general_dilated(
        x,
        w,
        st,
        pads,
        rhs_dilation=dil,
        dimension_numbers=(data_format, _RHS[n], data_format),
        feature_group_count=groups,
    )
    return out.astype(out_dtype) if out.dtype != out_dtype else out


def _as_float(*xs):
    """Integer convolutions differentiate in float64 (exact for the sizes that fit)."""
    return [x.astype(jnp.float64) if jnp.issubdtype(x.dtype, jnp.integer) else x for x in xs]


def _backprop(which, fixed, sizes, dy, name, cfg):
    """The VJP of `_conv` w.r.t. the input (which=0) or the filter (which=1) of shape `sizes`."""
    out_dtype = dy.dtype
    fixed, dy = _as_float(fixed, dy)
    sizes = tuple(int(s) for s in sizes)

    def forward(v):
        return _conv(*((v, fixed) if which == 0 else (fixed, v)), **cfg)

    want = jax.eval_shape(forward, jax.ShapeDtypeStruct(sizes, fixed.dtype)).shape
    if tuple(want) != tuple(dy.shape):
        raise ValueError(
            f"{name}: Size of out_backprop doesn't match computed: actual = {dims_str(dy.shape)}, "
            f"computed = {dims_str(want)}"
        )
    _, vjp = jax.vjp(forward, jnp.zeros(sizes, fixed.dtype))
    return vjp(dy)[0].astype(out_dtype)


_CONV_T = (dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64, dtypes.int32)


def _conv_family(fwd, bin_, bfil, n, allowed, sizes_type, extra_attrs, depthwise=False):
    """Registers a forward convolution and its two backprop ops, with gradients for all three."""
    attrs = {"T": allowed, "strides": REQUIRED, "padding": REQUIRED, **extra_attrs}
    names = [k for k in attrs if k not in ("T", "use_cudnn_on_gpu")]

    def cfg(kw):
        return {"n": n, "depthwise": depthwise, **{k: kw[k] for k in names}}

    def forward(x, w, **kw):
        return _conv(x, w, **cfg(kw))

    def backprop_input(input_sizes, w, dy, **kw):
        return _backprop(0, w, input_sizes, dy, f"{bin_}", cfg(kw))

    def backprop_filter(x, filter_sizes, dy, **kw):
        return _backprop(1, x, filter_sizes, dy, f"{bfil}", cfg(kw))

    op(fwd, "input: T, filter: T -> output: T", attrs)(forward)
    op(
        bin_,
        f"input_sizes: {sizes_type}, filter: T, out_backprop: T -> output: T",
        {**attrs, **({"Tshape": INDEX} if sizes_type == "Tshape" else {})},
        static=("input_sizes",),
    )(backprop_input)
    op(
        bfil,
        "input: T, filter_sizes: int32, out_backprop: T -> output: T",
        attrs,
        static=("filter_sizes",),
    )(backprop_filter)

    def same(o):
        return {k: o.get_attr(k) for k in names}

    @gradient(fwd)
    def _fwd_grad(o, g):
        x, w = o.inputs
        return [
            execute(bin_, (shape_arg(x), w, g), same(o)),
            execute(bfil, (x, shape_arg(w), g), same(o)),
        ]

    @gradient(bin_)
    def _bin_grad(o, g):
        _, w, dy = o.inputs
        return [None, execute(bfil, (g, shape_arg(w), dy), same(o)), execute(fwd, (g, w), same(o))]

    @gradient(bfil)
    def _bfil_grad(o, g):
        x, _, dy = o.inputs
        return [execute(bin_, (shape_arg(x), g, dy), same(o)), None, execute(fwd, (x, g), same(o))]


_ATTRS_2D = {
    "use_cudnn_on_gpu": True,
    "explicit_paddings": [],
    "data_format": "NHWC",
    "dilations": [1, 1, 1, 1],
}
_conv_family(
    "Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", 2, _CONV_T, "int32", _ATTRS_2D
)
_conv_family(
    "Conv3D",
    "Conv3DBackpropInputV2",
    "Conv3DBackpropFilterV2",
    3,
    FLOATS,
    "Tshape",
    {"data_format": "NDHWC", "dilations": [1, 1, 1, 1, 1]},
)
_conv_family(
    "DepthwiseConv2dNative",
    "DepthwiseConv2dNativeBackpropInput",
    "DepthwiseConv2dNativeBackpropFilter",
    2,
    FLOATS,
    "int32",
    {"explicit_paddings": [], "data_format": "NHWC", "dilations": [1, 1, 1, 1]},
    depthwise=True,
)


# --- public wrappers ---------------------------------------------------------------------------------


def convert_padding(padding, expected_length):
    """TF's padding argument: a string, or a list of (before, after) pairs -> EXPLICIT."""
    if isinstance(padding, str) and padding == "EXPLICIT":
        raise ValueError(
            "'EXPLICIT' is not a valid value for `padding`. To use explicit padding, `padding` must be a list."
        )
    if not isinstance(padding, (list, tuple)):
        return padding, []
    explicit = []
    for i, pair in enumerate(padding):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(
                "When `padding` is a list, each element of `padding` must be a list/tuple of size 2. "
                f"Received: padding={padding} with element at index {i} of {pair!r}"
            )
        explicit.extend(int(v) for v in pair)
    if len(padding) != expected_length:
        raise ValueError(
            f"When padding is a list, it must be of size {expected_length}. Received: padding={padding} "
            f"of size {len(padding)}"
        )
    return "EXPLICIT", explicit


def _pair(input, filters):  # noqa: A002 - TF's argument name
    x = convert_to_tensor(input)
    w = filters if isinstance(filters, Tensor) else convert_to_tensor(filters, dtype=x.dtype)
    return x, w


def _channel_index(data_format, n):
    return 1 if data_format is not None and data_format.startswith("NC") else n + 1


def _conv_attrs(strides, padding, data_format, dilations, n, explicit_ok=True):
    channel = _channel_index(data_format, n)
    attrs = {
        "strides": sequence(strides, n, channel, "strides"),
        "dilations": sequence(dilations, n, channel, "dilations"),
    }
    padding, explicit = convert_padding(padding, n + 2) if explicit_ok else (padding, [])
    attrs["padding"] = padding
    if explicit_ok:
        attrs["explicit_paddings"] = explicit
    attrs["data_format"] = data_format
    return attrs


@export("nn.conv2d")
def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):  # noqa: A002
    """2-D convolution of a 4-D `input` with `filters` of shape `[h, w, in, out]`.

    `padding` is `"SAME"`, `"VALID"` or a list of 4 `[before, after]` pairs. When the
    input depth is a multiple of the filter's, the convolution is grouped.

    >>> import flowstone as tf
    >>> tf.nn.conv2d(tf.ones([1, 3, 3, 1]), tf.ones([2, 2, 1, 1]), 1, "VALID").numpy().ravel()
    array([4., 4., 4., 4.], dtype=float32)
    """
    data_format = data_format or "NHWC"
    x, w = _pair(input, filters)
    return execute(
        "Conv2D", (x, w), _conv_attrs(strides, padding, data_format, dilations, 2), name=name
    )


def _conv1d_layout(data_format):
    if data_format is None or data_format in ("NHWC", "NWC"):
        return "NHWC", 1, 2
    if data_format in ("NCHW", "NCW"):
        return "NCHW", 2, 1
    raise ValueError(f"`data_format` must be 'NWC' or 'NCW'. Received: data_format={data_format}")


def _string_padding(padding):
    if not isinstance(padding, str):
        raise TypeError(f"Expected string for argument 'padding' not {padding!r}.")


@export("nn.conv1d")
@scoped("conv1d")
def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):  # noqa: A002
    """1-D convolution of a 3-D `input` (`NWC` or `NCW`) with `filters` of shape `[w, in, out]`.

    >>> import flowstone as tf
    >>> tf.nn.conv1d(tf.ones([1, 4, 1]), tf.ones([2, 1, 1]), 1, "VALID").numpy().ravel()
    array([2., 2., 2.], dtype=float32)
    """
    fmt, axis, channel = _conv1d_layout(data_format)
    _string_padding(padding)
    x, w = _pair(input, filters)
    strides = [1] + sequence(stride, 1, channel, "stride")
    dils = [1] + sequence(dilations, 1, channel, "dilations")
    attrs = {"strides": strides, "dilations": dils, "padding": padding, "data_format": fmt}
    out = execute("Conv2D", (_array.expand_dims(x, axis), _array.expand_dims(w, 0)), attrs, name=name)
    return _manip.squeeze(out, [axis])


def _list_arg(value, argname, opname):
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"Expected list for '{argname}' argument to '{opname}' Op, not {value!r}.")
    return [int(v) for v in value]


@export("nn.conv3d")
def conv3d(input, filters, strides, padding, data_format="NDHWC", dilations=None, name=None):  # noqa: A002
    """3-D convolution of a 5-D `input` with `filters` of shape `[d, h, w, in, out]`.

    `strides` and `dilations` are lists of 5 values, as in TensorFlow.

    >>> import flowstone as tf
    >>> tf.nn.conv3d(tf.ones([1, 2, 2, 2, 1]), tf.ones([2, 2, 2, 1, 1]), [1] * 5, "VALID").numpy().ravel()
    array([8.], dtype=float32)
    """
    x, w = _pair(input, filters)
    attrs = {
        "strides": _list_arg(strides, "strides", "conv3d"),
        "padding": padding,
        "data_format": data_format,
        "dilations": _list_arg(dilations, "dilations", "conv3d")
        if dilations is not None
        else [1] * 5,
    }
    return execute("Conv3D", (x, w), attrs, name=name)


def _spatial_count(input, filters, data_format):  # noqa: A002
    rank = filters.shape.rank
    if rank is None:
        rank = input.shape.rank
    if rank is None:
        raise ValueError("The rank of `filters` or `input` must be known.")
    n = rank - 2
    if n < 1 or n > 3:
        raise ValueError(
            f"`filters.shape.rank` must be 3, 4 or 5 (1-D, 2-D or 3-D convolution). Received: {filters.shape}"
        )
    if data_format is not None and not (
        data_format.startswith("NC") or (data_format.startswith("N") and data_format.endswith("C"))
    ):
        raise ValueError(
            f"`data_format` must be of the form `N...C` or `NC...`. Received: data_format={data_format}"
        )
    return n


def _dilation_rate(dilations, n, channel):
    rate = sequence(dilations, n, channel, "dilations")
    return [rate[i] for i in (range(2, 2 + n) if channel == 1 else range(1, 1 + n))]


@export("nn.convolution")
def convolution(
    input, filters, strides=None, padding="VALID", data_format=None, dilations=None, name=None
):  # noqa: A002
    """N-D convolution (N = 1, 2 or 3, from the rank of `filters`).

    >>> import flowstone as tf
    >>> tf.nn.convolution(tf.ones([1, 3, 1]), tf.ones([2, 1, 1])).numpy().ravel()
    array([2., 2.], dtype=float32)
    """
    x, w = _pair(input, filters)
    name = name or "convolution"
    n = _spatial_count(x, w, data_format)
    channels_first = data_format is not None and data_format.startswith("NC")
    channel = 1 if channels_first else n + 1
    rate = _dilation_rate(dilations, n, channel)
    steps = _dilation_rate(strides, n, channel)
    if any(r < 1 for r in rate):
        raise ValueError(
            f"all values of `dilation_rate` must be positive. Received: dilation_rate={rate}"
        )
    if any(r > 1 for r in rate) and any(s > 1 for s in steps):
        raise ValueError(
            "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
            f"Received: strides={steps} and dilation_rate={rate}"
        )
    if n == 1:
        return conv1d(x, w, steps, padding, "NCW" if channels_first else "NWC", rate, name=name)
    if n == 2:
        return conv2d(x, w, steps, padding, "NCHW" if channels_first else "NHWC", rate, name=name)
    fmt = "NCDHW" if channels_first else "NDHWC"
    return conv3d(
        x,
        w,
        sequence(steps, 3, channel, "strides"),
        padding,
        fmt,
        sequence(rate, 3, channel, "dilations"),
        name=name,
    )


@export("nn.atrous_conv2d")
def atrous_conv2d(value, filters, rate, padding, name=None):
    """2-D convolution with the filter dilated by `rate` (a.k.a. dilated convolution).

    >>> import flowstone as tf
    >>> tf.nn.atrous_conv2d(tf.ones([1, 3, 3, 1]), tf.ones([2, 2, 1, 1]), 2, "VALID").shape
    TensorShape([1, 1, 1, 1])
    """
    return convolution(value, filters, padding=padding, dilations=[rate, rate], name=name)


def _output_shape(output_shape):
    value = constant_value(output_shape) if isinstance(output_shape, Tensor) else output_shape
    if value is None:
        return output_shape
    return convert_to_tensor([int(v) for v in value], dtype=dtypes.int32)


@export("nn.conv2d_transpose")
def conv2d_transpose(
    input,
    filters,
    output_shape,
    strides,
    padding="SAME",
    data_format="NHWC",
    dilations=None,  # noqa: A002
    name=None,
):
    """The transpose (gradient) of `conv2d`; `filters` has shape `[h, w, out, in]`.

    >>> import flowstone as tf
    >>> tf.nn.conv2d_transpose(tf.ones([1, 2, 2, 1]), tf.ones([2, 2, 1, 1]), [1, 4, 4, 1], 2).shape
    TensorShape([1, 4, 4, 1])
    """
    data_format = data_format or "NHWC"
    x, w = _pair(input, filters)
    attrs = _conv_attrs(strides, padding, data_format, dilations, 2)
    return execute("Conv2DBackpropInput", (_output_shape(output_shape), w, x), attrs,
                   name=name or "conv2d_transpose")


@export("nn.conv1d_transpose")
def conv1d_transpose(
    input,
    filters,
    output_shape,
    strides,
    padding="SAME",
    data_format="NWC",
    dilations=None,  # noqa: A002
    name=None,
):
    """The transpose (gradient) of `conv1d`; `filters` has shape `[w, out, in]`.

    >>> import flowstone as tf
    >>> tf.nn.conv1d_transpose(tf.ones([1, 2, 1]), tf.ones([2, 1, 1]), [1, 4, 1], 2).shape
    TensorShape([1, 4, 1])
    """
    fmt, axis, channel = _conv1d_layout(data_format)
    x, w = _pair(input, filters)
    shape = constant_value(output_shape) if isinstance(output_shape, Tensor) else output_shape
    shape = [int(v) for v in shape]
    shape = shape[:axis] + [1] + shape[axis:]
    attrs = {
        "strides": [1] + sequence(strides, 1, channel, "strides"),
        "dilations": [1] + sequence(dilations, 1, channel, "dilations"),
        "padding": padding,
        "data_format": fmt,
    }
    out = execute(
        "Conv2DBackpropInput",
        (_output_shape(shape), _array.expand_dims(w, 0), _array.expand_dims(x, axis)),
        attrs,
    )
    return _manip.squeeze(out, [axis], name=name)


@export("nn.conv3d_transpose")
def conv3d_transpose(
    input,
    filters,
    output_shape,
    strides,
    padding="SAME",
    data_format="NDHWC",
    dilations=None,  # noqa: A002
    name=None,
):
    """The transpose (gradient) of `conv3d`; `filters` has shape `[d, h, w, out, in]`.

    >>> import flowstone as tf
    >>> tf.nn.conv3d_transpose(tf.ones([1, 1, 1, 1, 1]), tf.ones([2, 2, 2, 1, 1]), [1, 2, 2, 2, 1], 2).shape
    TensorShape([1, 2, 2, 2, 1])
    """
    x, w = _pair(input, filters)
    channel = _channel_index(data_format, 3)
    attrs = {
        "strides": sequence(strides, 3, channel, "strides"),
        "padding": padding,
        "data_format": data_format,
        "dilations": sequence(dilations, 3, channel, "dilations"),
    }
    return execute("Conv3DBackpropInputV2", (_output_shape(output_shape), w, x), attrs, name=name)


@export("nn.conv_transpose")
def conv_transpose(
    input,
    filters,
    output_shape,
    strides,
    padding="SAME",
    data_format=None,
    dilations=None,  # noqa: A002
    name=None,
):
    """N-D transposed convolution (N = 1, 2 or 3, from the length of `output_shape`).

    >>> import flowstone as tf
    >>> tf.nn.conv_transpose(tf.ones([1, 2, 1]), tf.ones([2, 1, 1]), [1, 4, 1], 2).shape
    TensorShape([1, 4, 1])
    """
    shape = constant_value(output_shape) if isinstance(output_shape, Tensor) else output_shape
    n = len(shape) - 2 if shape is not None else convert_to_tensor(input).shape.rank - 2
    channels_first = data_format is not None and data_format.startswith("NC")
    if n == 1:
        fn, fmt = conv1d_transpose, ("NCW" if channels_first else "NWC")
    elif n == 2:
        fn, fmt = conv2d_transpose, ("NCHW" if channels_first else "NHWC")
    elif n == 3:
        fn, fmt = conv3d_transpose, ("NCDHW" if channels_first else "NDHWC")
    else:
        raise ValueError(
            f"`output_shape` must be of length 3, 4 or 5. Received: output_shape={shape}"
        )
    return fn(input, filters, output_shape, strides, padding, fmt, dilations, name=name)


@export("nn.atrous_conv2d_transpose")
def atrous_conv2d_transpose(value, filters, output_shape, rate, padding, name=None):
    """The transpose of `atrous_conv2d`; `filters` has shape `[h, w, out, in]`.

    >>> import flowstone as tf
    >>> tf.nn.atrous_conv2d_transpose(tf.ones([1, 3, 3, 1]), tf.ones([2, 2, 1, 1]), [1, 3, 3, 1], 2, "SAME").shape
    TensorShape([1, 3, 3, 1])
    """
    if rate < 1:
        raise ValueError(f"`rate` cannot be less than one. Received: rate={rate}")
    return conv2d_transpose(
        value, filters, output_shape, 1, padding, "NHWC", [rate, rate], name=name
    )


def _depthwise_attrs(strides, padding, data_format, dilations):
    data_format = data_format or "NHWC"
    channel = _channel_index(data_format, 2)
    attrs = _conv_attrs(1, padding, data_format, dilations, 2)
    attrs["strides"] = _list_arg(strides, "strides", "depthwise_conv2d_native")
    return attrs, channel


@export("nn.depthwise_conv2d")
def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None, name=None):  # noqa: A002
    """Depthwise 2-D convolution: `filter` `[h, w, in, multiplier]` gives `in * multiplier` channels.

    >>> import flowstone as tf
    >>> tf.nn.depthwise_conv2d(tf.ones([1, 3, 3, 2]), tf.ones([2, 2, 2, 3]), [1, 1, 1, 1], "VALID").shape
    TensorShape([1, 2, 2, 6])
    """
    x, w = _pair(input, filter)
    attrs, _ = _depthwise_attrs(strides, padding, data_format, dilations)
    return execute("DepthwiseConv2dNative", (x, w), attrs, name=name)


def _depthwise_backprop_attrs(strides, padding, data_format, dilations):
    """The attrs of the raw depthwise backprop ops (4-element strides and dilations, as given)."""
    padding, explicit = convert_padding(padding, 4)
    return {"strides": list(strides), "padding": padding, "explicit_paddings": explicit,
            "data_format": data_format, "dilations": list(dilations)}


@export("nn.depthwise_conv2d_backprop_input")
def depthwise_conv2d_backprop_input(
    input_sizes,
    filter,
    out_backprop,
    strides,
    padding,
    data_format="NHWC",  # noqa: A002
    dilations=(1, 1, 1, 1),
    name=None,
):
    """The gradient of `depthwise_conv2d` w.r.t. its input (of shape `input_sizes`).

    >>> import flowstone as tf
    >>> tf.nn.depthwise_conv2d_backprop_input([1, 3, 3, 1], tf.ones([2, 2, 1, 1]), tf.ones([1, 2, 2, 1]),
    ...                                       [1, 1, 1, 1], "VALID").shape
    TensorShape([1, 3, 3, 1])
    """
    w, dy = _pair(filter, out_backprop)
    attrs = _depthwise_backprop_attrs(strides, padding, data_format, dilations)
    return execute(
        "DepthwiseConv2dNativeBackpropInput", (_output_shape(input_sizes), w, dy), attrs, name=name
    )


@export("nn.depthwise_conv2d_backprop_filter")
def depthwise_conv2d_backprop_filter(
    input,
    filter_sizes,
    out_backprop,
    strides,
    padding,
    data_format="NHWC",  # noqa: A002
    dilations=(1, 1, 1, 1),
    name=None,
):
    """The gradient of `depthwise_conv2d` w.r.t. its filter (of shape `filter_sizes`).

    >>> import flowstone as tf
    >>> tf.nn.depthwise_conv2d_backprop_filter(tf.ones([1, 3, 3, 1]), [2, 2, 1, 1], tf.ones([1, 2, 2, 1]),
    ...                                        [1, 1, 1, 1], "VALID").numpy().ravel()
    array([4., 4., 4., 4.], dtype=float32)
    """
    x, dy = _pair(input, out_backprop)
    attrs = _depthwise_backprop_attrs(strides, padding, data_format, dilations)
    return execute(
        "DepthwiseConv2dNativeBackpropFilter", (x, _output_shape(filter_sizes), dy), attrs, name=name
    )


@export("nn.separable_conv2d")
def separable_conv2d(
    input,
    depthwise_filter,
    pointwise_filter,
    strides,
    padding,
    data_format=None,  # noqa: A002
    dilations=None,
    name=None,
):
    """A depthwise convolution followed by a 1x1 (pointwise) convolution.

    >>> import flowstone as tf
    >>> tf.nn.separable_conv2d(tf.ones([1, 3, 3, 2]), tf.ones([2, 2, 2, 1]), tf.ones([1, 1, 2, 4]),
    ...                        [1, 1, 1, 1], "VALID").shape
    TensorShape([1, 2, 2, 4])
    """
    x, pw = _pair(input, pointwise_filter)
    if pw.shape.rank == 4 and (pw.shape[0] not in (1, None) or pw.shape[1] not in (1, None)):
        raise ValueError(
            f"`pointwise_filter` must have its first two dimensions equal to 1. Received: {pw.shape}"
        )
    depthwise = depthwise_conv2d(x, depthwise_filter, strides, padding, data_format, dilations)
    return conv2d(depthwise, pw, [1, 1, 1, 1], "VALID", data_format or "NHWC", name=name)
