"""Element-wise math: unary and binary families as tables, their gradients beside them.

Each row registers one raw op (kernel + gradient) and produces its public wrapper and
exports. Reductions and the rest of `tf.math` follow the tables.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.execute import execute
from flowstone.core.registry import COMPLEX, FLOAT_COMPLEX, FLOATS, INTS, NUMERIC, REAL, gradient, op
from flowstone.core.tensor import Tensor, convert_to_tensor

BOOL = (dtypes.bool_,)


def binary_pair(x, y, name=None):
    """Converts the operands of a binary op: Python values adapt to the other tensor's dtype."""
    if isinstance(x, Tensor):
        if isinstance(y, Tensor):
            return x, y
        return x, convert_to_tensor(y, dtype=x.dtype)
    if isinstance(y, Tensor):
        return convert_to_tensor(x, dtype=y.dtype), y
    x = convert_to_tensor(x)
    return x, convert_to_tensor(y, dtype=x.dtype)


# --- binary ops: (raw op, public names, allowed dtypes, kernel) ------------------------------


def _add_kernel(x, y):
    return jnp.add(x, y)


_BINARY = [
    ("AddV2", ("math.add", "add"), NUMERIC, jnp.add),
    ("Sub", ("math.subtract", "subtract"), NUMERIC, jnp.subtract),
    ("Mul", ("math.multiply", "multiply"), NUMERIC, jnp.multiply),
    ("RealDiv", ("realdiv",), NUMERIC, jnp.true_divide),
    ("Maximum", ("math.maximum", "maximum"), REAL, jnp.maximum),
    ("Minimum", ("math.minimum", "minimum"), REAL, jnp.minimum),
    ("Pow", ("math.pow", "pow"), NUMERIC, jnp.power),
    ("SquaredDifference", ("math.squared_difference",), NUMERIC, lambda x, y: jnp.square(x - y)),
]


def _binary_op(raw: str, allowed, kernel):
    op(raw, "x: T, y: T -> z: T", {"T": allowed}, shape="broadcast")(kernel)

    def wrapper(x, y, name=None):
        x, y = binary_pair(x, y)
        return execute(raw, (x, y), name=name)

    return wrapper


_g = globals()
for _raw, _names, _allowed, _kernel in _BINARY:
    _fn = _binary_op(_raw, _allowed, _kernel)
    _fn.__name__ = _fn.__qualname__ = _names[0].split(".")[-1]
    _fn.__module__ = __name__
    _fn.__doc__ = f"Element-wise `{_raw}` with broadcasting (TF's `tf.{_names[0]}`)."
    _g[_fn.__name__] = _fn
    export(*_names)(_fn)


def reduce_to(grad, shape_of):
    """Sums `grad` over the axes that broadcasting added to reach it from `shape_of`'s shape."""
    from flowstone.ops import array

    return array.reduce_to_shape(grad, shape_of)


@gradient("AddV2")
def _add_grad(op, grad):
    x, y = op.inputs
    return [reduce_to(grad, x), reduce_to(grad, y)]


@gradient("Sub")
def _sub_grad(op, grad):
    x, y = op.inputs
    return [reduce_to(grad, x), reduce_to(negative(grad), y)]


@gradient("Mul")
def _mul_grad(op, grad):
    x, y = op.inputs
    return [reduce_to(multiply(grad, conj(y)), x), reduce_to(multiply(conj(x), grad), y)]


@gradient("RealDiv")
def _realdiv_grad(op, grad):
    x, y = op.inputs
    gx = realdiv(grad, conj(y))
    gy = multiply(grad, conj(realdiv(realdiv(negative(x), y), y)))
    return [reduce_to(gx, x), reduce_to(gy, y)]


def _minmax_grad(op, grad, pick_x):
    x, y = op.inputs
    from flowstone.ops import array

    zeros = array.zeros_like(grad)
    mask = pick_x(x, y)
    return [reduce_to(array.where(mask, grad, zeros), x), reduce_to(array.where(mask, zeros, grad), y)]


gradient("Maximum")(lambda op, grad: _minmax_grad(op, grad, greater_equal))
gradient("Minimum")(lambda op, grad: _minmax_grad(op, grad, less_equal))


@gradient("Pow")
def _pow_grad(op, grad):
    x, y = op.inputs
    z = op.outputs[0]
    from flowstone.ops import array

    gx = multiply(grad, multiply(y, pow(x, subtract(y, array.ones_like(y)))))
    safe = array.where(greater(x, array.zeros_like(x)), log(x), array.zeros_like(x)) if not x.dtype.is_complex else log(x)
    gy = multiply(grad, multiply(z, safe))
    return [reduce_to(gx, x), reduce_to(gy, y)]


@gradient("SquaredDifference")
def _sqdiff_grad(op, grad):
    x, y = op.inputs
    d = multiply(multiply(grad, 2.0 if grad.dtype.is_floating else 2), subtract(x, y))
    return [reduce_to(d, x), reduce_to(negative(d), y)]


# --- unary ops: (raw op, public names, allowed dtypes, kernel, gradient(x, y, dy)) ---------------

_UNARY = [
    ("Neg", ("math.negative", "negative"), NUMERIC, jnp.negative, lambda x, y, g: negative(g)),
    ("Exp", ("math.exp", "exp"), FLOAT_COMPLEX, jnp.exp, lambda x, y, g: multiply(g, conj(y))),
    ("Log", ("math.log",), FLOAT_COMPLEX, jnp.log, lambda x, y, g: realdiv(g, conj(x))),
    ("Sqrt", ("math.sqrt", "sqrt"), FLOAT_COMPLEX, jnp.sqrt, lambda x, y, g: realdiv(multiply(g, 0.5), conj(y))),
    ("Square", ("math.square", "square"), NUMERIC, jnp.square, lambda x, y, g: multiply(g, multiply(conj(x), 2))),
    ("Tanh", ("math.tanh", "tanh", "nn.tanh"), FLOAT_COMPLEX, jnp.tanh,
     lambda x, y, g: multiply(g, subtract(1, square(conj(y))))),
    ("Abs", ("math.abs", "abs"), REAL, jnp.abs, lambda x, y, g: multiply(g, sign(x))),
    ("Sign", ("math.sign", "sign"), NUMERIC, jnp.sign, None),
    ("Conj", ("math.conj", "conj"), NUMERIC + (dtypes.variant,), jnp.conj, lambda x, y, g: conj(g)),
]


def _unary_op(raw, allowed, kernel, grad):
    op(raw, "x: T -> y: T", {"T": allowed}, shape="same", differentiable=grad is not None)(kernel)
    if grad is not None:
        gradient(raw)(lambda op, dy: [grad(op.inputs[0], op.outputs[0], dy)])

    def wrapper(x, name=None):
        return execute(raw, (convert_to_tensor(x),), name=name)

    return wrapper


for _raw, _names, _allowed, _kernel, _grad in _UNARY:
    _fn = _unary_op(_raw, _allowed, _kernel, _grad)
    _fn.__name__ = _fn.__qualname__ = _names[0].split(".")[-1]
    _fn.__module__ = __name__
    _fn.__doc__ = f"Element-wise `{_raw}` (TF's `tf.{_names[0]}`)."
    _g[_fn.__name__] = _fn
    export(*_names)(_fn)


def conj(x, name=None):  # noqa: F811 - real tensors pass through, as in TF
    x = convert_to_tensor(x)
    if not x.dtype.is_complex:
        return x
    return execute("Conj", (x,), name=name)


export("math.conj", "conj")(conj)


def truediv(x, y, name=None):
    """`x / y`: integers are cast to floating point first (int32 -> float64), as in TF."""
    x, y = binary_pair(x, y)
    if x.dtype is not y.dtype:
        from flowstone.core.tensor import dtype_error

        raise dtype_error("RealDiv", 1, x.dtype, y.dtype)
    if x.dtype.is_integer:
        target = dtypes.float32 if x.dtype.size <= 2 else dtypes.float64
        from flowstone.ops import array

        x, y = array.cast(x, target), array.cast(y, target)
    return realdiv(x, y, name=name)


export("math.truediv", "truediv", "math.divide", "divide")(truediv)


# --- comparisons: bool results, not differentiable -----------------------------------------

_COMPARE = [
    ("Less", ("math.less", "less"), REAL, jnp.less),
    ("LessEqual", ("math.less_equal", "less_equal"), REAL, jnp.less_equal),
    ("Greater", ("math.greater", "greater"), REAL, jnp.greater),
    ("GreaterEqual", ("math.greater_equal", "greater_equal"), REAL, jnp.greater_equal),
]

for _raw, _names, _allowed, _kernel in _COMPARE:
    op(_raw, "x: T, y: T -> z: bool", {"T": _allowed}, shape="broadcast", differentiable=False)(_kernel)

    def _cmp(x, y, name=None, _raw=_raw):
        x, y = binary_pair(x, y)
        return execute(_raw, (x, y), name=name)

    _cmp.__name__ = _cmp.__qualname__ = _names[0].split(".")[-1]
    _cmp.__module__ = __name__
    _g[_cmp.__name__] = _cmp
    export(*_names)(_cmp)

op("Equal", "x: T, y: T -> z: bool", {"incompatible_shape_error": True}, shape="broadcast", differentiable=False)(
    lambda x, y, incompatible_shape_error: jnp.equal(x, y)
)
op("NotEqual", "x: T, y: T -> z: bool", {"incompatible_shape_error": True}, shape="broadcast", differentiable=False)(
    lambda x, y, incompatible_shape_error: jnp.not_equal(x, y)
)


@export("math.equal", "equal")
def equal(x, y, name=None):
    """Element-wise `x == y` with broadcasting.

    >>> import flowstone as tf
    >>> tf.equal(tf.constant([1, 2]), 2).numpy()
    array([False,  True])
    """
    x, y = binary_pair(x, y)
    return execute("Equal", (x, y), name=name)


@export("math.not_equal", "not_equal")
def not_equal(x, y, name=None):
    """Element-wise `x != y` with broadcasting."""
    x, y = binary_pair(x, y)
    return execute("NotEqual", (x, y), name=name)


# --- reductions -------------------------------------------------------------------------------

op("Sum", "input: T, reduction_indices: Tidx -> output: T", {"T": NUMERIC, "Tidx": (dtypes.int32, dtypes.int64), "keep_dims": False},
   static=("reduction_indices",), shape="reduce")(
    lambda x, axes, keep_dims: jnp.sum(x, axis=_axes(axes), keepdims=keep_dims)
)


def _axes(axes):
    return axes if isinstance(axes, tuple) else (axes,)


@gradient("Sum")
def _sum_grad(op, grad):
    from flowstone.ops import array

    x = op.inputs[0]
    if not op.get_attr("keep_dims"):
        grad = array.expand_reduced(grad, x, op.inputs[1])
    return [array.broadcast_to(grad, array.shape(x)), None]


def reduction_axes(x, axis):
    """The axes tensor of a reduction: all axes when `axis` is None."""
    if axis is None:
        rank = x.shape.rank
        if rank is None:
            from flowstone.ops import array

            return array.range(array.rank(x))
        return convert_to_tensor(list(range(rank)), dtype=dtypes.int32)
    return convert_to_tensor(axis, dtype=dtypes.int32 if not isinstance(axis, Tensor) else None)


@export("math.reduce_sum", "reduce_sum")
def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    """Sum of elements across `axis` (all axes when None).

    >>> import flowstone as tf
    >>> tf.reduce_sum(tf.constant([[1, 2], [3, 4]]), axis=0).numpy()
    array([4, 6], dtype=int32)
    """
    x = convert_to_tensor(input_tensor)
    return execute("Sum", (x, reduction_axes(x, axis)), {"keep_dims": bool(keepdims)}, name=name)


# --- AddN -------------------------------------------------------------------------------------

op("AddN", "inputs: N * T -> sum: T", {"T": NUMERIC + (dtypes.variant,)}, shape="same")(
    lambda xs: jax.tree_util.tree_reduce(jnp.add, list(xs))
)


@gradient("AddN")
def _addn_grad(op, grad):
    return [grad] * len(op.inputs)


@export("math.add_n", "add_n")
def add_n(inputs, name=None):
    """Adds all input tensors element-wise (same shape and dtype).

    >>> import flowstone as tf
    >>> tf.add_n([tf.constant(1.0), tf.constant(2.0)]).numpy()
    3.0
    """
    inputs = [convert_to_tensor(x) for x in inputs]
    if not inputs:
        raise ValueError("inputs must be a non-empty list of tensors")
    if len(inputs) == 1:
        return inputs[0]
    return execute("AddN", (inputs,), name=name)


def add_n_grads(grads):
    """Sums gradient contributions (dense tensors, or IndexedSlices densified)."""
    dense = [g if isinstance(g, Tensor) else convert_to_tensor(g) for g in grads]
    return add_n(dense)


del _g, _raw, _names, _allowed, _kernel, _fn, _grad, _cmp, COMPLEX, FLOATS, INTS
