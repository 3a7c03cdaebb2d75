"""`tf.nn`: activations, softmax, bias_add and the cross-entropy losses.

Each raw op (kernel + gradient) stands next to its public wrapper. The activation
gradients are raw ops of their own (`ReluGrad`, `EluGrad`, ...) with gradients, so that
second-order derivatives work as in TensorFlow. Convolutions live in `convolution.py`,
pooling in `pooling.py`, normalization, dropout and embeddings in `normalization.py`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import scoped
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.execute import execute
from flowstone.core.registry import DERIVE, FLOATS, INDEX, NUMERIC, REAL, gradient, op
from flowstone.core.tensor import Tensor, constant_value, convert_to_tensor
from flowstone.ops import array as _array
from flowstone.ops import indexing as _indexing
from flowstone.ops import manip as _manip
from flowstone.ops import math as _math

_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717


def dims_str(shape) -> str:
    """A shape as TensorFlow's kernels print it: `[1,5,5,3]`."""
    return "[" + ",".join(str(d) for d in shape) + "]"


def _zeros(t):
    return _array.zeros_like(t)


# --- activations: (raw op, kernel, grad op, grad kernel) -------------------------------------------

# Relu and ReluGrad are in every network: written with lax, they trace as single equations
# inside compiled graphs (jnp functions are nested jits traced per shape).
op("Relu", "features: T -> activations: T", {"T": REAL}, shape="same")(
    lambda x: lax.max(x, lax.full_like(x, 0))
)
op("ReluGrad", "gradients: T, features: T -> backprops: T", {"T": REAL}, shape="same")(
    lambda g, x: lax.select(lax.gt(x, lax.full_like(x, 0)), g, lax.full_like(g, 0))
)
gradient("Relu")(lambda op, g: [execute("ReluGrad", (g, op.outputs[0]))])
gradient("ReluGrad")(lambda op, g: [execute("ReluGrad", (g, op.inputs[1])), _zeros(op.inputs[1])])

op("Relu6", "features: T -> activations: T", {"T": REAL}, shape="same")(lambda x: jnp.clip(x, 0, 6))
op("Relu6Grad", "gradients: T, features: T -> backprops: T", {"T": REAL}, shape="same")(
    lambda g, x: jnp.where((x > 0) & (x < 6), g, jnp.zeros_like(g))
)
gradient("Relu6")(lambda op, g: [execute("Relu6Grad", (g, op.inputs[0]))])
gradient("Relu6Grad")(lambda op, g: [execute("Relu6Grad", (g, op.inputs[1])), _zeros(op.inputs[1])])

op("Elu", "features: T -> activations: T", {"T": FLOATS}, shape="same")(
    lambda x: jnp.where(x > 0, x, jnp.expm1(jnp.minimum(x, 0)))
)
op("EluGrad", "gradients: T, outputs: T -> backprops: T", {"T": FLOATS}, shape="same")(
    lambda g, y: jnp.where(y > 0, g, g * (y + 1))
)
gradient("Elu")(lambda op, g: [execute("EluGrad", (g, op.outputs[0]))])


@gradient("EluGrad")
def _elu_grad_grad(op, grad):
    g, y = op.inputs
    d_y = _indexing.where(_math.less(y, 0), _math.multiply(grad, g), _zeros(g))
    return [execute("EluGrad", (grad, y)), d_y]


op("Selu", "features: T -> activations: T", {"T": FLOATS}, shape="same")(
    lambda x: _SELU_SCALE * jnp.where(x > 0, x, _SELU_ALPHA * jnp.expm1(jnp.minimum(x, 0)))
)
op("SeluGrad", "gradients: T, outputs: T -> backprops: T", {"T": FLOATS}, shape="same")(
    lambda g, y: jnp.where(y > 0, g * _SELU_SCALE, g * (y + _SELU_SCALE * _SELU_ALPHA))
)
gradient("Selu")(lambda op, g: [execute("SeluGrad", (g, op.outputs[0]))])


@gradient("SeluGrad")
def _selu_grad_grad(op, grad):
    g, y = op.inputs
    d_y = _indexing.where(_math.less(y, 0), _math.multiply(grad, g), _zeros(g))
    return [execute("SeluGrad", (grad, y)), d_y]


op("LeakyRelu", "features: T -> activations: T", {"T": FLOATS, "alpha": 0.2}, shape="same")(
    lambda x, alpha: jnp.where(x > 0, x, x * jnp.asarray(alpha, x.dtype))
)
op(
    "LeakyReluGrad",
    "gradients: T, features: T -> backprops: T",
    {"T": FLOATS, "alpha": 0.2},
    shape="same",
)(lambda g, x, alpha: jnp.where(x > 0, g, g * jnp.asarray(alpha, g.dtype)))
gradient("LeakyRelu")(
    lambda op, g: [execute("LeakyReluGrad", (g, op.inputs[0]), {"alpha": op.get_attr("alpha")})]
)
gradient("LeakyReluGrad")(
    lambda op, g: [
        execute("LeakyReluGrad", (g, op.inputs[1]), {"alpha": op.get_attr("alpha")}),
        _zeros(op.inputs[1]),
    ]
)


@export("nn.relu")
def relu(features, name=None):
    """Rectified linear unit: `max(features, 0)`.

    >>> import flowstone as tf
    >>> tf.nn.relu([-1.0, 2.0]).numpy()
    array([0., 2.], dtype=float32)
    """
    return execute("Relu", (convert_to_tensor(features),), name=name)


@export("nn.relu6")
def relu6(features, name=None):
    """Rectified linear 6: `min(max(features, 0), 6)`.

    >>> import flowstone as tf
    >>> tf.nn.relu6([-1.0, 3.0, 9.0]).numpy()
    array([0., 3., 6.], dtype=float32)
    """
    return execute("Relu6", (convert_to_tensor(features),), name=name)


@export("nn.elu")
def elu(features, name=None):
    """Exponential linear unit: `x` if `x > 0` else `exp(x) - 1`.

    >>> import flowstone as tf
    >>> tf.nn.elu([0.0, 1.0]).numpy()
    array([0., 1.], dtype=float32)
    """
    return execute("Elu", (convert_to_tensor(features),), name=name)


@export("nn.selu")
def selu(features, name=None):
    """Scaled exponential linear unit (Klambauer et al., 2017).

    >>> import flowstone as tf
    >>> tf.nn.selu([0.0]).numpy()
    array([0.], dtype=float32)
    """
    return execute("Selu", (convert_to_tensor(features),), name=name)


@export("nn.leaky_relu")
def leaky_relu(features, alpha=0.2, name=None):
    """Leaky ReLU: `x` if `x > 0` else `alpha * x`; integer inputs are cast to float32.

    >>> import flowstone as tf
    >>> tf.nn.leaky_relu([-1.0, 2.0]).numpy()
    array([-0.2,  2. ], dtype=float32)
    """
    x = convert_to_tensor(features)
    if x.dtype.is_integer:
        x = _array.cast(x, dtypes.float32)
    if isinstance(alpha, Tensor) or isinstance(alpha, np.ndarray):
        alpha = _array.cast(alpha, x.dtype)
        return _math.maximum(_math.multiply(alpha, x), x)
    return execute("LeakyRelu", (x,), {"alpha": float(alpha)}, name=name)


def _require_float(x, what="features"):
    if not x.dtype.is_floating:
        raise ValueError(
            f"`{what}.dtype` must be a floating point tensor.Received:{what}.dtype={x.dtype!r}"
        )


@export("nn.gelu")
@scoped("Gelu")
def gelu(features, approximate=False, name=None):
    """Gaussian error linear unit: `x * P(X <= x)` with `X ~ N(0, 1)`.

    With `approximate=True` the tanh approximation is used.

    >>> import flowstone as tf
    >>> round(float(tf.nn.gelu(1.0)), 4)
    0.8413
    """
    x = convert_to_tensor(features)
    _require_float(x)
    half_x = _math.multiply(x, 0.5)
    if approximate:
        inner = _math.multiply(
            _math.add(x, _math.multiply(_math.pow(x, 3.0), 0.044715)), 0.7978845608028654
        )
        return _math.multiply(half_x, _math.add(_math.tanh(inner), 1.0))
    return _math.multiply(half_x, _math.add(_math.erf(_math.multiply(x, 0.7071067811865476)), 1.0))


@export("nn.silu", "nn.swish")
def silu(features, beta=1.0):
    """Sigmoid linear unit (swish): `features * sigmoid(beta * features)`.

    >>> import flowstone as tf
    >>> round(float(tf.nn.silu(1.0)), 4)
    0.7311
    """
    x = convert_to_tensor(features)
    if isinstance(beta, (int, float)) and beta == 1.0:
        return _math.multiply(x, _math.sigmoid(x))
    b = _array.cast(convert_to_tensor(beta), x.dtype)
    return _math.multiply(x, _math.sigmoid(_math.multiply(b, x)))


@export("nn.crelu")
@scoped("CRelu")
def crelu(features, axis=-1, name=None):
    """Concatenated ReLU: `concat([relu(x), relu(-x)], axis)`, doubling that axis.

    >>> import flowstone as tf
    >>> tf.nn.crelu([[-1.0, 2.0]]).numpy()
    array([[0., 2., 1., 0.]], dtype=float32)
    """
    x = convert_to_tensor(features)
    return relu(_manip.concat([x, _math.negative(x)], axis, name=name))


# --- Softmax, LogSoftmax ----------------------------------------------------------------------------


def _softmax_rank(x):
    if x.ndim < 1:
        raise ValueError(f"logits must have >= 1 dimension, got {list(x.shape)}")


def _softmax_kernel(logits):
    _softmax_rank(logits)
    return jax.nn.softmax(logits, axis=-1)


def _log_softmax_kernel(logits):
    _softmax_rank(logits)
    return jax.nn.log_softmax(logits, axis=-1)


op("Softmax", "logits: T -> softmax: T", {"T": FLOATS}, shape="same")(_softmax_kernel)
op("LogSoftmax", "logits: T -> logsoftmax: T", {"T": FLOATS}, shape="same")(_log_softmax_kernel)


@gradient("Softmax")
def _softmax_grad(op, grad):
    y = op.outputs[0]
    dot = _math.reduce_sum(_math.multiply(grad, y), axis=-1, keepdims=True)
    return [_math.multiply(_math.subtract(grad, dot), y)]


@gradient("LogSoftmax")
def _log_softmax_grad(op, grad):
    y = op.outputs[0]
    total = _math.reduce_sum(grad, axis=-1, keepdims=True)
    return [_math.subtract(grad, _math.multiply(total, _math.exp(y)))]


def _on_last_axis(raw, logits, axis, name):
    """Runs a last-axis raw op over `axis`, swapping it with the last axis as TF does."""
    x = convert_to_tensor(logits)
    if axis is None:
        axis = -1
    rank = x.shape.rank
    if isinstance(axis, Tensor):
        axis = constant_value(axis)
        axis = int(axis) if axis is not None else -1
    if rank is None or axis == -1 or axis == rank - 1:
        return execute(raw, (x,), name=name)
    if not -rank <= axis < rank:
        raise InvalidArgumentError(
            None,
            None,
            f"`dim` must be in the range [{-rank}, {rank}) where {rank} is the number of dimensions "
            f"in the input. Received: dim={axis}",
        )
    perm = list(range(rank))
    perm[axis % rank], perm[-1] = perm[-1], perm[axis % rank]
    out = execute(raw, (_manip.transpose(x, perm),))
    return _manip.transpose(out, perm, name=name)


@export("nn.softmax", "math.softmax")
def softmax(logits, axis=None, name=None):
    """`exp(logits) / reduce_sum(exp(logits), axis)` (the last axis by default).

    >>> import flowstone as tf
    >>> tf.nn.softmax([0.0, 0.0]).numpy()
    array([0.5, 0.5], dtype=float32)
    """
    return _on_last_axis("Softmax", logits, axis, name)


@export("nn.log_softmax", "math.log_softmax")
def log_softmax(logits, axis=None, name=None):
    """`logits - log(reduce_sum(exp(logits), axis))` (the last axis by default).

    >>> import flowstone as tf
    >>> tf.nn.log_softmax([0.0, 0.0]).numpy()
    array([-0.6931472, -0.6931472], dtype=float32)
    """
    return _on_last_axis("LogSoftmax", logits, axis, name)


# --- BiasAdd ---------------------------------------------------------------------------------------


def _bias_shape(value_ndim, channels, data_format):
    if data_format == "NCHW":
        return (channels,) + (1,) * (value_ndim - 2)
    return (channels,)


def _bias_add_kernel(value, bias, data_format):
    _check_data_format(data_format, ("NHWC", "NCHW"))
    if value.ndim < 2:
        raise ValueError(f"Input tensor must be at least 2D: {dims_str(value.shape)}")
    if bias.ndim != 1:
        raise ValueError(f"Biases must be 1D: {dims_str(bias.shape)}")
    axis = 1 if data_format == "NCHW" else -1
    if bias.shape[0] != value.shape[axis]:
        which = "channel" if data_format == "NCHW" else "last"
        raise ValueError(
            f"Must provide as many biases as the {which} dimension of the input tensor: "
            f"{dims_str(bias.shape)} vs. {dims_str(value.shape)}"
        )
    return value + jnp.reshape(bias, _bias_shape(value.ndim, bias.shape[0], data_format))


def _check_data_format(data_format, allowed):
    if data_format not in allowed:
        names = ", ".join(f'"{a}"' for a in allowed)
        raise ValueError(
            f"Value for attr 'data_format' of \"{data_format}\" is not in the list of allowed values: {names}"
        )


def _bias_add_grad_kernel(out_backprop, data_format):
    _check_data_format(data_format, ("NHWC", "NCHW"))
    axis = 1 if data_format == "NCHW" else out_backprop.ndim - 1
    axes = tuple(i for i in range(out_backprop.ndim) if i != axis)
    return jnp.sum(out_backprop, axis=axes)


op("BiasAdd", "value: T, bias: T -> output: T", {"T": NUMERIC, "data_format": "NHWC"})(
    _bias_add_kernel
)
op("BiasAddGrad", "out_backprop: T -> output: T", {"T": NUMERIC, "data_format": "NHWC"})(
    _bias_add_grad_kernel
)


@gradient("BiasAdd")
def _bias_add_grad(op, grad):
    return [grad, execute("BiasAddGrad", (grad,), {"data_format": op.get_attr("data_format")})]


@gradient("BiasAddGrad")
def _bias_add_grad_grad(op, grad):
    backprop = op.inputs[0]
    rank = backprop.shape.rank
    if op.get_attr("data_format") == "NCHW":
        grad = _array.reshape(grad, [-1] + [1] * (rank - 2))
    return [_array.broadcast_to(grad, _array.shape(backprop))]


@export("nn.bias_add")
def bias_add(value, bias, data_format=None, name=None):
    """Adds the 1-D `bias` along the channel axis of `value` (last, or 1 for `NC...` formats).

    >>> import flowstone as tf
    >>> tf.nn.bias_add([[1.0, 2.0]], [10.0, 20.0]).numpy()
    array([[11., 22.]], dtype=float32)
    """
    if data_format is not None:
        if data_format.startswith("NC"):
            data_format = "NCHW"
        elif data_format.startswith("N") and data_format.endswith("C"):
            data_format = "NHWC"
        else:
            raise ValueError(
                f"`data_format` must be of the form `N...C` or `NC...`. Received: data_format={data_format}"
            )
    else:
        data_format = "NHWC"
    v = convert_to_tensor(value)
    b = convert_to_tensor(bias, dtype=v.dtype) if not isinstance(bias, Tensor) else bias
    return execute("BiasAdd", (v, b), {"data_format": data_format}, name=name)


# --- softmax cross entropy -------------------------------------------------------------------------


def _xent_kernel(features, labels):
    if features.ndim != 2 or labels.ndim != 2 or not _broadcastable(features.shape, labels.shape):
        raise ValueError(
            f"logits and labels must be broadcastable: logits_size={dims_str(features.shape)} "
            f"labels_size={dims_str(labels.shape)}"
        )
    features, labels = jnp.broadcast_arrays(features, labels)
    shifted = features - jnp.max(features, axis=-1, keepdims=True)
    log_probs = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True))
    loss = -jnp.sum(labels * log_probs, axis=-1)
    return loss, jnp.exp(log_probs) - labels


def _broadcastable(a, b):
    return all(x == y or x == 1 or y == 1 for x, y in zip(a, b, strict=False))


def _xent_shape(inputs, attrs):
    """loss [batch], backprop [batch, classes] for broadcastable rank-2 operands of known shape."""
    a, b = inputs[0].shape, inputs[1].shape
    if a.rank != 2 or b.rank != 2:
        return DERIVE
    dims = []
    for x, y in zip(a.as_list(), b.as_list(), strict=True):
        if x is None or y is None:
            known = y if x is None else x
            dims.append(known if known not in (None, 1) else None)
        elif x == y or x == 1 or y == 1:
            dims.append(x if y == 1 else y)
        else:
            return DERIVE
    return [dims[:1], dims]


op(
    "SoftmaxCrossEntropyWithLogits", "features: T, labels: T -> loss: T, backprop: T", {"T": FLOATS},
    shape=_xent_shape,
)(_xent_kernel)


def _xent_second_order(grad_grad, logits):
    """The gradient that flows into the logits through the `backprop` output."""
    p = softmax(logits)
    dot = _math.reduce_sum(_math.multiply(grad_grad, p), axis=-1, keepdims=True)
    return _math.multiply(_math.subtract(grad_grad, dot), p)


@gradient("SoftmaxCrossEntropyWithLogits")
def _xent_grad(op, grad_loss, grad_grad):
    logits, labels = op.inputs
    g = _array.expand_dims(grad_loss, -1)
    d_logits = _math.multiply(g, op.outputs[1])
    if grad_grad is not None:
        d_logits = _math.add(d_logits, _xent_second_order(grad_grad, logits))
    d_labels = _math.multiply(g, _math.negative(log_softmax(logits)))
    if grad_grad is not None:
        # backprop = softmax - labels; TensorFlow drops this term, which is exact only when unused.
        d_labels = _math.subtract(d_labels, grad_grad)
    return [_math.reduce_to(d_logits, logits), _math.reduce_to(d_labels, labels)]


def _sparse_xent_kernel(features, labels):
    if features.ndim != 2:
        raise ValueError(f"logits must be 2-D, but got shape {dims_str(features.shape)}")
    if labels.ndim != 1 or labels.shape[0] != features.shape[0]:
        raise ValueError(
            f"logits and labels must have the same first dimension, got logits shape "
            f"{dims_str(features.shape)} and labels shape {dims_str(labels.shape)}"
        )
    classes = features.shape[1]
    shifted = features - jnp.max(features, axis=-1, keepdims=True)
    log_probs = shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True))
    onehot = jax.nn.one_hot(labels, classes, dtype=features.dtype)
    # An out-of-range label gives NaN (TensorFlow's GPU behaviour); the wrapper raises eagerly.
    bad = (labels < 0) | (labels >= classes)
    loss = jnp.where(bad, jnp.nan, -jnp.sum(onehot * log_probs, axis=-1)).astype(features.dtype)
    backprop = jnp.where(bad[:, None], jnp.nan, jnp.exp(log_probs) - onehot).astype(features.dtype)
    return loss, backprop


op(
    "SparseSoftmaxCrossEntropyWithLogits",
    "features: T, labels: Tlabels -> loss: T, backprop: T",
    {"T": FLOATS, "Tlabels": INDEX},
)(_sparse_xent_kernel)


@gradient("SparseSoftmaxCrossEntropyWithLogits")
def _sparse_xent_grad(op, grad_loss, grad_grad):
    logits = op.inputs[0]
    d_logits = _math.multiply(_array.expand_dims(grad_loss, -1), op.outputs[1])
    if grad_grad is not None:
        d_logits = _math.add(d_logits, _xent_second_order(grad_grad, logits))
    return [d_logits, None]


def _low_precision(x):
    return x.dtype in (dtypes.float16, dtypes.bfloat16)


def _move_to_last(x, axis):
    rank = x.shape.rank
    axis = axis % rank
    if axis == rank - 1:
        return x
    perm = [i for i in range(rank) if i != axis] + [axis]
    return _manip.transpose(x, perm)


def _leading_shape(x):
    dims = x.shape.as_list()[:-1]
    if all(d is not None for d in dims):
        return dims
    return _array.shape(x)[:-1]


@export("nn.softmax_cross_entropy_with_logits")
@scoped("softmax_cross_entropy_with_logits")
def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """Cross entropy between `labels` (a distribution per row) and `softmax(logits)`.

    Gradients flow into both `labels` and `logits`.

    >>> import flowstone as tf
    >>> loss = tf.nn.softmax_cross_entropy_with_logits([[0.0, 1.0]], [[0.0, 0.0]])
    >>> round(float(loss[0]), 4)
    0.6931
    """
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels)
    if labels.dtype is not logits.dtype:
        labels = _array.cast(labels, logits.dtype)
    out_dtype = logits.dtype
    if _low_precision(logits):
        logits, labels = _array.cast(logits, dtypes.float32), _array.cast(labels, dtypes.float32)
    rank = logits.shape.rank
    if rank == 0:
        raise InvalidArgumentError(
            None, None, "logits and labels must be at least 1-D [Op:SoftmaxCrossEntropyWithLogits]"
        )
    logits, labels = _move_to_last(logits, axis), _move_to_last(labels, axis)
    lead = _leading_shape(logits)
    flat_logits = _array.reshape(
        logits, [-1, logits.shape[-1] if logits.shape[-1] is not None else _array.shape(logits)[-1]]
    )
    flat_labels = _array.reshape(
        labels, [-1, labels.shape[-1] if labels.shape[-1] is not None else _array.shape(labels)[-1]]
    )
    loss, _ = execute("SoftmaxCrossEntropyWithLogits", (flat_logits, flat_labels), name=name)
    loss = _array.reshape(loss, lead)
    return _array.cast(loss, out_dtype) if loss.dtype is not out_dtype else loss


def _check_labels_range(labels, classes):
    values = constant_value(labels)
    if values is None or classes is None:
        return
    values = np.asarray(values)
    bad = values[(values < 0) | (values >= classes)]
    if bad.size:
        raise InvalidArgumentError(
            None,
            None,
            f"Received a label value of {bad.flat[0]} which is outside the valid range of [0, {classes}).  "
            f"Label values: {' '.join(str(v) for v in values.ravel())} [Op:SparseSoftmaxCrossEntropyWithLogits]",
        )


@export("nn.sparse_softmax_cross_entropy_with_logits")
@scoped("SparseSoftmaxCrossEntropyWithLogits")
def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None):
    """Cross entropy between integer class `labels` and `softmax(logits)` over the last axis.

    >>> import flowstone as tf
    >>> loss = tf.nn.sparse_softmax_cross_entropy_with_logits([1], [[0.0, 0.0]])
    >>> round(float(loss[0]), 4)
    0.6931
    """
    logits = convert_to_tensor(logits)
    labels = convert_to_tensor(labels)
    ls, gs = labels.shape, logits.shape
    if ls.rank is not None and gs.rank is not None:
        if ls.rank != gs.rank - 1:
            raise ValueError(
                f"`labels.shape.rank` must equal `logits.shape.rank - 1`. Received: labels.shape={ls} "
                f"of rank {ls.rank} and logits.shape={gs} of rank {gs.rank}"
            )
        if not all(
            a is None or b is None or a == b
            for a, b in zip(ls.as_list(), gs.as_list()[:-1], strict=False)
        ):
            raise ValueError(
                "`labels.shape` must equal `logits.shape` except for the last dimension. "
                f"Received: labels.shape={ls} and logits.shape={gs}"
            )
    out_dtype = logits.dtype
    if _low_precision(logits):
        logits = _array.cast(logits, dtypes.float32)
    if gs.rank is not None and gs.rank > 0:
        _check_labels_range(labels, gs[-1])
    if gs.rank == 2:
        loss, _ = execute("SparseSoftmaxCrossEntropyWithLogits", (logits, labels))
    else:
        classes = gs[-1] if gs.rank and gs[-1] is not None else _array.shape(logits)[-1]
        flat = _array.reshape(logits, [-1, classes])
        loss, _ = execute(
            "SparseSoftmaxCrossEntropyWithLogits", (flat, _array.reshape(labels, [-1]))
        )
        loss = _array.reshape(
            loss, _array.shape(labels) if not ls.is_fully_defined() else ls.as_list()
        )
    return _array.cast(loss, out_dtype) if loss.dtype is not out_dtype else loss


# --- sigmoid / weighted cross entropy, Poisson loss, L2 loss --------------------------------------


def _same_shape(labels, logits):
    a, b = logits.shape, labels.shape
    if a.rank is not None and b.rank is not None and not a.is_compatible_with(b):
        raise ValueError(f"`logits` and `labels` must have the same shape, received ({a} vs {b}).")


def _softplus_neg_abs(logits):
    """`log1p(exp(-|logits|))`, never overflowing."""
    return _math.log1p(_math.exp(_math.negative(_math.abs(logits))))


@export("nn.sigmoid_cross_entropy_with_logits")
@scoped("logistic_loss")
def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Element-wise logistic loss `-labels*log(sigmoid(x)) - (1-labels)*log(1-sigmoid(x))`.

    Computed as `max(x, 0) - x * labels + log(1 + exp(-abs(x)))`, which never overflows.

    >>> import flowstone as tf
    >>> round(float(tf.nn.sigmoid_cross_entropy_with_logits(labels=[1.0], logits=[0.0])[0]), 4)
    0.6931
    """
    if labels is None or logits is None:
        raise ValueError(
            f"Both `labels` and `logits` must be provided. Received: labels={labels!r} and logits={logits!r}"
        )
    logits = convert_to_tensor(logits)
    labels = (
        convert_to_tensor(labels, dtype=logits.dtype) if not isinstance(labels, Tensor) else labels
    )
    _same_shape(labels, logits)
    return _math.add(
        _math.subtract(relu(logits), _math.multiply(logits, labels)), _softplus_neg_abs(logits), name=name
    )


@export("nn.weighted_cross_entropy_with_logits")
@scoped("logistic_loss")
def weighted_cross_entropy_with_logits(labels, logits, pos_weight, name=None):
    """Sigmoid cross entropy with the positive term weighted by `pos_weight`.

    >>> import flowstone as tf
    >>> round(float(tf.nn.weighted_cross_entropy_with_logits([1.0], [0.0], 2.0)[0]), 4)
    1.3863
    """
    logits = convert_to_tensor(logits)
    labels = (
        convert_to_tensor(labels, dtype=logits.dtype) if not isinstance(labels, Tensor) else labels
    )
    _same_shape(labels, logits)
    pos_weight = (
        convert_to_tensor(pos_weight, dtype=logits.dtype)
        if not isinstance(pos_weight, Tensor)
        else pos_weight
    )
    log_weight = _math.add(_math.multiply(_math.subtract(pos_weight, 1.0), labels), 1.0)
    tail = _math.add(_softplus_neg_abs(logits), relu(_math.negative(logits)))
    return _math.add(
        _math.multiply(_math.subtract(1.0, labels), logits), _math.multiply(log_weight, tail), name=name
    )


@export("nn.log_poisson_loss")
@scoped("log_poisson_loss")
def log_poisson_loss(targets, log_input, compute_full_loss=False, name=None):
    """Poisson negative log likelihood `exp(log_input) - log_input * targets`.

    With `compute_full_loss`, Stirling's approximation of `log(targets!)` is added
    where `targets > 1`.

    >>> import flowstone as tf
    >>> float(tf.nn.log_poisson_loss([1.0], [0.0])[0])
    1.0
    """
    log_input = convert_to_tensor(log_input)
    targets = (
        convert_to_tensor(targets, dtype=log_input.dtype)
        if not isinstance(targets, Tensor)
        else targets
    )
    _same_shape(targets, log_input)
    result = _math.subtract(_math.exp(log_input), _math.multiply(log_input, targets))
    if not compute_full_loss:
        return result
    safe = _indexing.where(_math.greater(targets, 0.0), targets, _array.ones_like(targets))
    stirling = _math.add(
        _math.subtract(_math.multiply(targets, _math.log(safe)), targets),
        _math.multiply(_math.log(_math.multiply(safe, 2.0 * np.pi)), 0.5),
    )
    keep = _math.greater(targets, 1.0)
    return _math.add(result, _indexing.where(keep, stirling, _array.zeros_like(targets)))


@export("nn.l2_loss")
@scoped("L2Loss")
def l2_loss(t, name=None):
    """Half the squared L2 norm of `t`: `sum(t ** 2) / 2`.

    >>> import flowstone as tf
    >>> float(tf.nn.l2_loss([1.0, 2.0]))
    2.5
    """
    t = convert_to_tensor(t)
    return _math.multiply(_math.reduce_sum(_math.square(t)), 0.5, name=name)


# --- dropout, embedding_lookup -----------------------------------------------------------------------


def _noise_shape(x, noise_shape):
    if noise_shape is None:
        return _array.shape(x)
    if isinstance(noise_shape, Tensor):
        return noise_shape
    dims = list(noise_shape.as_list() if hasattr(noise_shape, "as_list") else noise_shape)
    if x.shape.rank is not None and len(dims) == x.shape.rank:
        dims = [x.shape[i] if d is None else d for i, d in enumerate(dims)]
    return dims


@export("nn.dropout")
@scoped("dropout")
def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zeroes elements with probability `rate` and scales the rest by `1 / (1 - rate)`.

    `noise_shape` (broadcastable to `x`) shares one keep/drop decision along its size-1 dims.

    >>> import flowstone as tf
    >>> tf.nn.dropout(tf.ones([4]), rate=0.0).numpy()
    array([1., 1., 1., 1.], dtype=float32)
    """
    number = isinstance(rate, (int, float, np.integer, np.floating)) and not isinstance(rate, bool)
    if number and not 0 <= rate < 1:
        raise ValueError(
            f"`rate` must be a scalar tensor or a float in the range [0, 1). Received: rate={rate}"
        )
    x = convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise ValueError(
            f"`x.dtype` must be a floating point tensor as `x` will be scaled. Received: x_dtype={x.dtype!r}"
        )
    if number and rate == 0:
        return x
    from flowstone.ops import random as _random

    if number:
        rate_t = convert_to_tensor(rate, dtype=x.dtype)
        scale = convert_to_tensor(1.0 / (1.0 - rate), dtype=x.dtype)
    else:
        rate_t = _array.cast(convert_to_tensor(rate), x.dtype)
        if rate_t.shape.rank not in (None, 0):
            raise ValueError(f"`rate` must be a scalar or scalar tensor. Received: rate={rate}")
        scale = _math.truediv(1.0, _math.subtract(1.0, rate_t))
    noise = _random.uniform(_noise_shape(x, noise_shape), dtype=x.dtype, seed=seed)
    keep = _array.cast(_math.greater_equal(noise, rate_t), x.dtype)
    return _math.multiply(_math.multiply(x, scale), keep)


def _clip_rows(x, ids_rank, max_norm):
    """Scales each embedding (the dims after the ids' dims) to an L2 norm of at most `max_norm`."""
    rank = x.shape.rank
    axes = list(range(ids_rank, rank))
    if not axes:
        return x
    sq = _math.reduce_sum(_math.square(x), axis=axes, keepdims=True)
    positive = _math.greater(sq, 0)
    norm = _indexing.where(
        positive, _math.sqrt(_indexing.where(positive, sq, _array.ones_like(sq))), sq
    )
    limit = convert_to_tensor(max_norm, dtype=x.dtype)
    return _math.truediv(_math.multiply(x, limit), _math.maximum(norm, limit))


@export("nn.embedding_lookup")
@scoped("embedding_lookup")
def embedding_lookup(params, ids, max_norm=None, name=None):
    """Rows of `params` (a tensor, or a list of shards split by "div") at `ids`.

    >>> import flowstone as tf
    >>> tf.nn.embedding_lookup(tf.constant([[0.0], [10.0], [20.0]]), [2, 0]).numpy()
    array([[20.],
           [ 0.]], dtype=float32)
    """
    if isinstance(params, (list, tuple)):
        if not params:
            raise ValueError("Need at least one param")
        shards = [convert_to_tensor(p) for p in params]
    else:
        shards = [convert_to_tensor(params)]
    ids = convert_to_tensor(ids)
    if not ids.dtype.is_integer:
        raise TypeError(f"`ids` must be an integer tensor. Received: ids.dtype={ids.dtype!r}")
    # Shards split with the "div" strategy hold consecutive ids, so their concatenation is the table.
    table = shards[0] if len(shards) == 1 else _manip.concat(shards, 0)
    if max_norm is None:
        return _indexing.gather(table, ids, name=name)
    return _clip_rows(_indexing.gather(table, ids), ids.shape.rank, max_norm)
