"""Normalization in `tf.nn`: moments, batch normalization, L2 and local response normalization.

`moments`, `batch_normalization` and `l2_normalize` are compositions, as in TensorFlow.
`LRN` and `FusedBatchNormV3` are raw ops (graphs written by TensorFlow use them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import scoped
from flowstone.core.execute import execute
from flowstone.core.registry import FLOATS, OPS, gradient, op
from flowstone.core.tensor import Tensor, convert_to_tensor
from flowstone.ops import array as _array
from flowstone.ops import indexing as _indexing
from flowstone.ops import manip as _manip
from flowstone.ops import math as _math
from flowstone.ops import reduction as _reduction


def _stop_gradient(x):
    if "StopGradient" in OPS:
        return execute("StopGradient", (x,))
    return x


def _like(value, x):
    return value if isinstance(value, Tensor) else convert_to_tensor(value, dtype=x.dtype)


def _axes_list(axes):
    if isinstance(axes, Tensor):
        return axes
    return [int(a) for a in (axes if isinstance(axes, (list, tuple)) else [axes])]


@export("nn.moments")
@scoped("moments")
def moments(x, axes, shift=None, keepdims=False, name=None):
    """Mean and variance of `x` over `axes` (`shift` is accepted and unused, as in TF).

    >>> import flowstone as tf
    >>> mean, var = tf.nn.moments(tf.constant([1.0, 3.0]), axes=[0])
    >>> float(mean), float(var)
    (2.0, 1.0)
    """
    x = convert_to_tensor(x)
    axes = _axes_list(axes)
    # Half precision accumulates in float32, as TensorFlow does.
    y = _array.cast(x, dtypes.float32) if x.dtype is dtypes.float16 else x
    mean = _reduction.reduce_mean(y, axes, keepdims=True, name="mean")
    variance = _reduction.reduce_mean(
        _math.squared_difference(y, _stop_gradient(mean)), axes, keepdims=True, name="variance"
    )
    if not keepdims:
        mean, variance = _manip.squeeze(mean, axes), _manip.squeeze(variance, axes)
    if x.dtype is dtypes.float16:
        return _array.cast(mean, x.dtype), _array.cast(variance, x.dtype)
    return mean, variance


@export("nn.weighted_moments")
@scoped("weighted_moments")
def weighted_moments(x, axes, frequency_weights, keepdims=False, name=None):
    """Mean and variance of `x` over `axes`, each element counted `frequency_weights` times.

    >>> import flowstone as tf
    >>> mean, var = tf.nn.weighted_moments(tf.constant([1.0, 3.0]), [0], tf.constant([1.0, 3.0]))
    >>> float(mean), float(var)
    (2.5, 0.75)
    """
    x = convert_to_tensor(x)
    axes = _axes_list(axes)
    w = _like(frequency_weights, x)
    if w.dtype is not x.dtype:
        w = _array.cast(w, x.dtype)
    total = _math.reduce_sum(_math.multiply(w, x), axes, keepdims=True)
    weights = _math.reduce_sum(_math.add(w, _array.zeros_like(x)), axes, keepdims=True)
    mean = _math.divide_no_nan(total, weights)
    dist = _math.reduce_sum(
        _math.multiply(w, _math.squared_difference(x, mean)), axes, keepdims=True
    )
    variance = _math.divide_no_nan(dist, weights)
    if not keepdims:
        mean, variance = _manip.squeeze(mean, axes), _manip.squeeze(variance, axes)
    return mean, variance


@export("nn.sufficient_statistics")
@scoped("sufficient_statistics")
def sufficient_statistics(x, axes, shift=None, keepdims=False, name=None):
    """(count, sum of `x - shift`, sum of squares of `x - shift`, shift) over `axes`.

    >>> import flowstone as tf
    >>> count, s, ss, _ = tf.nn.sufficient_statistics(tf.constant([1.0, 3.0]), [0])
    >>> float(count), float(s), float(ss)
    (2.0, 4.0, 10.0)
    """
    x = convert_to_tensor(x)
    axes = _axes_list(axes)
    dims = x.shape.as_list() if x.shape.rank is not None else None
    if dims is not None and all(dims[a] is not None for a in axes):
        count = 1
        for a in axes:
            count *= dims[a]
        counts = convert_to_tensor(count, dtype=x.dtype)
    else:
        counts = _array.cast(
            _reduction.reduce_prod(_indexing.gather(_array.shape(x), axes)), x.dtype
        )
    if shift is not None:
        shift = _like(shift, x)
        centered = _math.subtract(x, shift)
    else:
        centered = x
    m_ss = _math.reduce_sum(centered, axes, keepdims=keepdims)
    v_ss = _math.reduce_sum(_math.square(centered), axes, keepdims=keepdims)
    return counts, m_ss, v_ss, shift


@export("nn.normalize_moments")
@scoped("normalize")
def normalize_moments(counts, mean_ss, variance_ss, shift, name=None):
    """Mean and variance from sufficient statistics (see `sufficient_statistics`).

    >>> import flowstone as tf
    >>> mean, var = tf.nn.normalize_moments(2.0, 4.0, 10.0, None)
    >>> float(mean), float(var)
    (2.0, 1.0)
    """
    mean_ss = convert_to_tensor(mean_ss)
    divisor = _math.reciprocal(_like(counts, mean_ss))
    shifted_mean = _math.multiply(mean_ss, divisor)
    mean = _math.add(shifted_mean, _like(shift, mean_ss)) if shift is not None else shifted_mean
    variance = _math.subtract(
        _math.multiply(_like(variance_ss, mean_ss), divisor), _math.square(shifted_mean)
    )
    return mean, variance


@export("nn.batch_normalization")
@scoped("batchnorm")
def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """`scale * (x - mean) / sqrt(variance + variance_epsilon) + offset`.

    `offset` and `scale` may be None.

    >>> import flowstone as tf
    >>> tf.nn.batch_normalization(tf.constant([3.0]), 1.0, 4.0, 0.5, 2.0, 0.0).numpy()
    array([2.5], dtype=float32)
    """
    x = convert_to_tensor(x)
    mean, variance = _like(mean, x), _like(variance, x)
    inv = _math.rsqrt(_math.add(variance, variance_epsilon))
    if scale is not None:
        inv = _math.multiply(inv, _like(scale, x))
    shift = _math.negative(_math.multiply(mean, inv))
    if offset is not None:
        shift = _math.add(_like(offset, x), shift)
    if inv.dtype is not x.dtype:
        inv, shift = _array.cast(inv, x.dtype), _array.cast(shift, x.dtype)
    return _math.add(_math.multiply(x, inv), shift)


@export("nn.l2_normalize", "math.l2_normalize", "linalg.l2_normalize")
@scoped("l2_normalize")
def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """`x / sqrt(max(sum(x ** 2, axis), epsilon))`.

    >>> import flowstone as tf
    >>> tf.nn.l2_normalize(tf.constant([3.0, 4.0])).numpy()
    array([0.6, 0.8], dtype=float32)
    """
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'")
        axis = dim
    x = convert_to_tensor(x)
    if x.dtype.is_complex:
        re, im = _math.real(x), _math.imag(x)
        total = _math.reduce_sum(_math.add(_math.square(re), _math.square(im)), axis, keepdims=True)
        inv = _math.rsqrt(_math.maximum(total, epsilon))
        return _math.complex(_math.multiply(re, inv), _math.multiply(im, inv), name=name)
    total = _math.reduce_sum(_math.square(x), axis, keepdims=True)
    return _math.multiply(x, _math.rsqrt(_math.maximum(total, epsilon)), name=name)


# --- LRN -----------------------------------------------------------------------------------------


def _lrn(x, depth_radius, bias, alpha, beta):
    if x.ndim != 4:
        raise ValueError(f"input must be 4-dimensional, got rank {x.ndim}")
    window = (1, 1, 1, 2 * depth_radius + 1)
    pads = ((0, 0), (0, 0), (0, 0), (depth_radius, depth_radius))
    sqr_sum = lax.reduce_window(
        jnp.square(x), np.array(0, x.dtype), lax.add, window, (1, 1, 1, 1), pads
    )
    return x / jnp.power(bias + alpha * sqr_sum, beta)


_LRN_ATTRS = {"T": FLOATS, "depth_radius": 5, "bias": 1.0, "alpha": 1.0, "beta": 0.5}
op("LRN", "input: T -> output: T", _LRN_ATTRS, shape="same")(_lrn)


def _lrn_grad(dy, x, y, depth_radius, bias, alpha, beta):
    _, vjp = jax.vjp(lambda v: _lrn(v, depth_radius, bias, alpha, beta), x)
    return vjp(dy)[0]


# TensorFlow registers no gradient for LRNGrad; neither do we.
op(
    "LRNGrad",
    "input_grads: T, input_image: T, output_image: T -> output: T",
    _LRN_ATTRS,
    shape="same",
    differentiable=False,
)(_lrn_grad)


@gradient("LRN")
def _lrn_gradient(op, grad):
    attrs = {k: op.get_attr(k) for k in ("depth_radius", "bias", "alpha", "beta")}
    return [execute("LRNGrad", (grad, op.inputs[0], op.outputs[0]), attrs)]


@export("nn.local_response_normalization", "nn.lrn")
def local_response_normalization(input, depth_radius=5, bias=1, alpha=1, beta=0.5, name=None):  # noqa: A002
    """Local response normalization over the last axis of a 4-D input.

    `sqr_sum[..., d] = sum(input[..., d - r : d + r + 1] ** 2)` and the output is
    `input / (bias + alpha * sqr_sum) ** beta`.

    >>> import flowstone as tf
    >>> tf.nn.local_response_normalization(tf.ones([1, 1, 1, 1]), bias=0.0, beta=1.0).numpy().ravel()
    array([1.], dtype=float32)
    """
    attrs = {
        "depth_radius": int(depth_radius),
        "bias": float(bias),
        "alpha": float(alpha),
        "beta": float(beta),
    }
    return execute("LRN", (convert_to_tensor(input),), attrs, name=name)
