"""Element-wise math: binary, unary, comparison, logical and bitwise families as tables.

Each row registers one raw op (kernel + gradient) and produces its public wrapper and
exports. Special functions live in `special.py`, reductions and scans in `reduction.py`,
segment ops in `segment.py`.
"""

# ruff: noqa: F821 - the table loops below define the wrappers (sin, reduce_max, ...) by name

from __future__ import annotations

import functools
import operator

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import scoped
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.execute import execute
from flowstone.core.registry import (
    COMPLEX,
    FLOAT_COMPLEX,
    FLOATS,
    INTS,
    NUMERIC,
    REAL,
    gradient,
    op,
)
from flowstone.core.tensor import (
    EagerTensor,
    Tensor,
    convert_to_tensor,
    convert_to_tensor_v2,
    dtype_error,
)

BOOL = (dtypes.bool_,)
SIGNED_INTS = (dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64)
SIGNED = FLOATS + SIGNED_INTS
SIGNED_COMPLEX = SIGNED + COMPLEX


def binary_pair(x, y, name=None, hint=False):
    """Converts the operands of a binary op: Python values adapt to the other tensor's dtype.

    A value that cannot take that dtype (1.5 for int32) raises TypeError, as TF's generated
    op wrappers do. With `hint=True` (TF 2.21's `tf.add` and `+`) the second operand only
    takes the first one's dtype as a hint: when it cannot, it keeps its own inferred dtype and
    the op reports the mismatch (InvalidArgumentError naming both dtypes).
    """
    if isinstance(x, Tensor):
        if isinstance(y, Tensor):
            return x, y
        if hint:
            return x, convert_to_tensor(y, dtype_hint=x.dtype)
        return x, convert_to_tensor(y, dtype=x.dtype)
    if isinstance(y, Tensor):
        # tf.add(python_value, tensor) converts the Python value on its own (TF 2.21).
        return convert_to_tensor(x) if hint else convert_to_tensor(x, dtype=y.dtype), y
    x = convert_to_tensor(x)
    return x, convert_to_tensor(y, dtype_hint=x.dtype) if hint else convert_to_tensor(y, dtype=x.dtype)


@functools.lru_cache(maxsize=4096)
def _broadcastable(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _broadcasting(fn):
    """A binary kernel that fails with TF's message on incompatible shapes (checked while tracing)."""

    def kernel(x, y):
        if not _broadcastable(x.shape, y.shape):
            raise ValueError(f"Incompatible shapes: {list(x.shape)} vs. {list(y.shape)}")
        return fn(x, y)

    return kernel


def _to_shape(x, shape):
    if x.shape == shape:
        return x
    return lax.broadcast_in_dim(x, shape, tuple(range(len(shape) - len(x.shape), len(shape))))


def _direct(prim, fallback, inexact=False):
    """A binary kernel calling the lax primitive `prim` on same-dtype operands.

    It computes what the jnp function `fallback` computes there (jnp promotes, then calls
    `prim`), but traces as one equation: inside a compiled graph each jnp call is a nested
    jit traced once per shape. Bool operands (and integers when `inexact`) use `fallback`.
    """

    def kernel(x, y):
        dt = x.dtype
        if dt != y.dtype or dt == np.bool_ or (inexact and not jnp.issubdtype(dt, jnp.inexact)):
            return fallback(x, y)
        if x.shape != y.shape:
            shape = np.broadcast_shapes(x.shape, y.shape)
            x, y = _to_shape(x, shape), _to_shape(y, shape)
        return prim(x, y)

    return kernel


def _direct_unary(prim, fallback):
    """A unary kernel calling the lax primitive `prim` on inexact operands (see `_direct`)."""
    return lambda x: prim(x) if jnp.issubdtype(x.dtype, jnp.inexact) else fallback(x)


def _same_shape(fn):
    """A lax kernel (which does not broadcast) applied to broadcast operands."""
    return lambda *args: fn(*jnp.broadcast_arrays(*args))


def _check_int_divisor(y, raw):
    """TF's CPU kernels refuse integer division by zero; XLA would return garbage."""
    if y.dtype.is_integer and isinstance(y, EagerTensor) and not np.all(np.asarray(y._value)):
        raise InvalidArgumentError(None, None, f"Integer division by zero [Op:{raw}]")


# --- binary ops: (raw op, public names, allowed dtypes, kernel) ------------------------------


def _floordiv_kernel(x, y):
    if jnp.issubdtype(x.dtype, jnp.integer):
        return jnp.floor_divide(x, y)
    return jnp.floor(x / y)


def _truncatediv_kernel(x, y):
    if jnp.issubdtype(x.dtype, jnp.integer):
        return _same_shape(lax.div)(x, y)
    return jnp.trunc(x / y)


def _reciprocal_kernel(x):
    if jnp.issubdtype(x.dtype, jnp.integer):
        return lax.div(jnp.ones_like(x), x)
    return 1 / x


def _div_kernel(x, y):
    return _same_shape(lax.div)(x, y) if jnp.issubdtype(x.dtype, jnp.integer) else x / y


def _where_zero(cond, value):
    return jnp.where(cond, jnp.zeros_like(value), value)


_NOT_UNSIGNED = FLOATS + SIGNED_INTS + COMPLEX

_BINARY = [
    ("AddV2", ("math.add", "add"), NUMERIC, _direct(lax.add, jnp.add)),
    ("Sub", ("math.subtract", "subtract"), NUMERIC, _direct(lax.sub, jnp.subtract)),
    ("Mul", ("math.multiply", "multiply"), NUMERIC, _direct(lax.mul, jnp.multiply)),
    ("RealDiv", ("realdiv",), NUMERIC, _direct(lax.div, jnp.true_divide, inexact=True)),
    ("Div", (), NUMERIC, _div_kernel),
    ("Maximum", ("math.maximum", "maximum"), REAL, _direct(lax.max, jnp.maximum)),
    ("Minimum", ("math.minimum", "minimum"), REAL, _direct(lax.min, jnp.minimum)),
    ("Pow", ("math.pow", "pow"), _NOT_UNSIGNED, jnp.power),
    ("SquaredDifference", ("math.squared_difference",),
     FLOATS + (dtypes.int32, dtypes.int64) + COMPLEX, lambda x, y: (x - y) * jnp.conj(x - y)),
    ("FloorDiv", ("math.floordiv",), REAL, _floordiv_kernel),
    ("FloorMod", ("math.floormod", "math.mod"), REAL, jnp.mod),
    ("TruncateDiv", ("truncatediv",), REAL, _truncatediv_kernel),
    ("TruncateMod", ("truncatemod",), FLOATS + (dtypes.int32, dtypes.int64), jnp.fmod),
    ("Mod", (), FLOATS + (dtypes.int32, dtypes.int64), jnp.fmod),
    ("Atan2", ("math.atan2", "atan2"), FLOATS, jnp.arctan2),
    ("DivNoNan", (), FLOAT_COMPLEX, lambda x, y: _where_zero(y == 0, x / jnp.where(y == 0, 1, y))),
    ("MulNoNan", (), FLOAT_COMPLEX, lambda x, y: _where_zero(y == 0, x * y)),
    ("Xlogy", ("math.xlogy",), FLOAT_COMPLEX, lambda x, y: _where_zero(x == 0, x * jnp.log(y))),
    ("Xdivy", ("math.xdivy",), FLOAT_COMPLEX, lambda x, y: _where_zero(x == 0, x / y)),
    ("Xlog1py", ("math.xlog1py",), FLOAT_COMPLEX, lambda x, y: _where_zero(x == 0, x * jnp.log1p(y))),
    ("NextAfter", ("math.nextafter",), (dtypes.float32, dtypes.float64), jnp.nextafter),
    ("BitwiseAnd", ("bitwise.bitwise_and",), INTS, jnp.bitwise_and),
    ("BitwiseOr", ("bitwise.bitwise_or",), INTS, jnp.bitwise_or),
    ("BitwiseXor", ("bitwise.bitwise_xor",), INTS, jnp.bitwise_xor),
    ("LeftShift", ("bitwise.left_shift",), INTS, lambda x, y: _shift(lax.shift_left, x, y)),
    ("RightShift", ("bitwise.right_shift",), INTS, lambda x, y: _shift(lax.shift_right_arithmetic, x, y)),
]
_NOT_DIFFERENTIABLE = {"FloorDiv", "TruncateDiv", "NextAfter", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
                       "LeftShift", "RightShift"}
_INT_DIVIDES = {"FloorDiv", "FloorMod", "TruncateDiv", "TruncateMod", "Mod", "Div"}


def _shift(fn, x, y):
    # Shifts by the bit width or more give 0 (or the sign, shifting right), as TF's CPU kernel does.
    if fn is lax.shift_right_arithmetic and jnp.issubdtype(x.dtype, jnp.unsignedinteger):
        fn = lax.shift_right_logical
    return _same_shape(fn)(x, y)


# The graph node name of a wrapper whose TF default is not the raw op's name (`tf.add` -> "Add").
_NODE_NAMES = {"AddV2": "Add", "FloorDiv": "floordiv"}


def _binary_wrapper(raw):
    default = _NODE_NAMES.get(raw, raw)
    if raw in _INT_DIVIDES:

        def wrapper(x, y, name=None):
            x, y = binary_pair(x, y)
            _check_int_divisor(y, raw)
            return execute(raw, (x, y), name=name or default)
    elif raw == "Pow":

        def wrapper(x, y, name=None):
            x, y = binary_pair(x, y)
            if y.dtype.is_integer and isinstance(y, EagerTensor) and np.any(np.asarray(y._value) < 0):
                raise InvalidArgumentError(None, None, "Integers to negative integer powers are not allowed [Op:Pow]")
            return execute(raw, (x, y), name=name)
    elif raw == "AddV2":

        def wrapper(x, y, name=None):
            x, y = binary_pair(x, y, hint=True)
            # Strings concatenate through `Add` (AddV2 is numeric only), as in TensorFlow.
            return execute("Add" if x.dtype is dtypes.string else raw, (x, y), name=name or default)
    else:

        def wrapper(x, y, name=None):
            x, y = binary_pair(x, y)
            return execute(raw, (x, y), name=name)

    return wrapper


_g = globals()


def _publish(fn, names, doc):
    """Names a generated wrapper after its first public name and exports it."""
    fn.__name__ = fn.__qualname__ = names[0].split(".")[-1]
    fn.__module__ = __name__
    fn.__doc__ = doc
    _g[fn.__name__] = fn
    export(*names)(fn)
    return fn


# TF's input names, which graphs show in the names of converted constants (`Atan2/x`).
_SIGNATURES = {"Atan2": "y: T, x: T -> z: T", "NextAfter": "x1: T, x2: T -> output: T"}

for _raw, _names, _allowed, _kernel in _BINARY:
    op(_raw, _SIGNATURES.get(_raw, "x: T, y: T -> z: T"), {"T": _allowed}, shape="broadcast",
       differentiable=_raw not in _NOT_DIFFERENTIABLE)(_broadcasting(_kernel))
    if _names:
        _publish(_binary_wrapper(_raw), _names, f"Element-wise `{_raw}` with broadcasting (TF's `tf.{_names[0]}`).")

def radd(x, y, name=None):
    """`x + y` for a non-tensor `x` (Tensor.__radd__): `x` must take `y`'s dtype, as in TF."""
    x, y = binary_pair(x, y)
    return execute("Add" if y.dtype is dtypes.string else "AddV2", (x, y), name=name)


def _add_kernel(x, y, T=dtypes.float32):  # noqa: N803 - the type attr's name
    """`Add`: numbers add; strings (NumPy object arrays) concatenate element-wise."""
    if T is not dtypes.string:
        return _broadcasting(_direct(lax.add, jnp.add))(x, y)
    if not _broadcastable(x.shape, y.shape):
        raise ValueError(f"Incompatible shapes: {list(x.shape)} vs. {list(y.shape)}")
    a, b = np.broadcast_arrays(np.asarray(x, dtype=object), np.asarray(y, dtype=object))
    out = np.empty(a.shape, dtype=object)
    out.reshape(-1)[:] = [p + q for p, q in zip(a.reshape(-1), b.reshape(-1))]
    return out


op("Add", "x: T, y: T -> z: T", {"T": NUMERIC + (dtypes.string,)}, shape="broadcast",
   host_strings=True)(_add_kernel)


def reduce_to(grad, shape_of):
    """Sums `grad` over the axes that broadcasting added to reach it from `shape_of`'s shape."""
    from flowstone.ops import array

    return array.reduce_to_shape(grad, shape_of)


def _binary_grad(raw):
    """Registers `fn(x, y, z, grad) -> (gx, gy)` as the gradient of `raw`, unbroadcasting both."""

    def register(fn):
        takes_skip = "skip" in fn.__code__.co_varnames[: fn.__code__.co_argcount]

        def grad_fn(op, grad):
            x, y = op.inputs
            skip = getattr(op, "skip_input_indices", None) if takes_skip else None
            if skip:
                gx, gy = fn(x, y, op.outputs[0], grad, skip=skip)
            else:
                gx, gy = fn(x, y, op.outputs[0], grad)
            return [None if gx is None else reduce_to(gx, x), None if gy is None else reduce_to(gy, y)]

        gradient(raw)(grad_fn)
        return fn

    return register


@_binary_grad("AddV2")
@_binary_grad("Add")
def _add_grad(x, y, z, grad):
    return grad, grad


@_binary_grad("Sub")
def _sub_grad(x, y, z, grad):
    return grad, negative(grad)


@_binary_grad("Mul")
def _mul_grad(x, y, z, grad, skip=()):
    # `skip`: TF's op.skip_input_indices, the inputs whose gradient is not needed.
    return (None if 0 in skip else multiply(grad, conj(y)), None if 1 in skip else multiply(conj(x), grad))


@_binary_grad("RealDiv")
@_binary_grad("Div")
def _realdiv_grad(x, y, z, grad):
    return realdiv(grad, conj(y)), multiply(grad, conj(realdiv(realdiv(negative(x), y), y)))


@_binary_grad("DivNoNan")
def _divnonan_grad(x, y, z, grad):
    return divide_no_nan(grad, conj(y)), multiply(grad, conj(divide_no_nan(divide_no_nan(negative(x), y), y)))


@_binary_grad("MulNoNan")
def _mulnonan_grad(x, y, z, grad):
    return multiply_no_nan(grad, y), multiply_no_nan(x, grad)


def _select(mask, a, b):
    from flowstone.ops import array

    return array.where(mask, a, b)


def _minmax_grad(pick_x):
    def fn(x, y, z, grad):
        from flowstone.ops import array

        zeros = array.zeros_like(grad)
        mask = pick_x(x, y)
        return _select(mask, grad, zeros), _select(mask, zeros, grad)

    return fn


_binary_grad("Maximum")(_minmax_grad(lambda x, y: greater_equal(x, y)))
_binary_grad("Minimum")(_minmax_grad(lambda x, y: less_equal(x, y)))


@_binary_grad("Pow")
def _pow_grad(x, y, z, grad):
    from flowstone.ops import array

    gx = multiply(grad, conj(multiply(y, pow(x, subtract(y, array.ones_like(y))))))
    if x.dtype.is_complex:
        safe = log(x)
    else:
        positive = greater(x, array.zeros_like(x))
        safe = _select(positive, log(_select(positive, x, array.ones_like(x))), array.zeros_like(x))
    return gx, multiply(grad, conj(multiply(z, safe)))


@_binary_grad("SquaredDifference")
def _sqdiff_grad(x, y, z, grad):
    d = multiply(multiply(grad, 2), conj(subtract(x, y)))
    return d, negative(d)


@_binary_grad("FloorMod")
def _floormod_grad(x, y, z, grad):
    return grad, multiply(grad, negative(floordiv(x, y)))


@_binary_grad("TruncateMod")
@_binary_grad("Mod")
def _truncatemod_grad(x, y, z, grad):
    return grad, multiply(grad, negative(truncatediv(x, y)))


@_binary_grad("Atan2")
def _atan2_grad(y, x, z, grad):
    inv = realdiv(grad, add(square(x), square(y)))
    return multiply(x, inv), multiply(negative(y), inv)


def _nonzero_like(x):
    from flowstone.ops import array

    return array.cast(not_equal(x, 0), x.dtype)


@_binary_grad("Xlogy")
def _xlogy_grad(x, y, z, grad):
    return multiply(grad, xlogy(_nonzero_like(x), y)), multiply(grad, xdivy(x, y))


@_binary_grad("Xdivy")
def _xdivy_grad(x, y, z, grad):
    return multiply(grad, xdivy(_nonzero_like(x), y)), multiply(grad, xdivy(negative(x), square(y)))


@_binary_grad("Xlog1py")
def _xlog1py_grad(x, y, z, grad):
    return multiply(grad, xlog1py(_nonzero_like(x), y)), multiply(grad, xdivy(x, add(y, 1)))


# --- unary ops: (raw op, public names, allowed dtypes, kernel, gradient(x, y, dy) or None) ----


def _c(t):
    return conj(t)


# The unary ops of every training step skip jnp's nested jit for inexact inputs (see `_direct`).
_neg_kernel = _direct_unary(lax.neg, jnp.negative)
_exp_kernel = _direct_unary(lax.exp, jnp.exp)
_log_kernel = _direct_unary(lax.log, jnp.log)
_sqrt_kernel = _direct_unary(lax.sqrt, jnp.sqrt)
_square_kernel = _direct_unary(lax.square, jnp.square)

_UNARY = [
    ("Neg", ("math.negative", "negative"), SIGNED_COMPLEX, _neg_kernel, lambda x, y, g: negative(g)),
    ("Exp", ("math.exp", "exp"), FLOAT_COMPLEX, _exp_kernel, lambda x, y, g: multiply(g, _c(y))),
    ("Expm1", ("math.expm1",), FLOAT_COMPLEX, jnp.expm1, lambda x, y, g: multiply(g, _c(exp(x)))),
    ("Log", ("math.log",), FLOAT_COMPLEX, _log_kernel, lambda x, y, g: realdiv(g, _c(x))),
    ("Log1p", ("math.log1p",), FLOAT_COMPLEX, jnp.log1p, lambda x, y, g: realdiv(g, _c(add(x, 1)))),
    ("Sqrt", ("math.sqrt", "sqrt"), FLOAT_COMPLEX, _sqrt_kernel, lambda x, y, g: realdiv(multiply(g, 0.5), _c(y))),
    ("Rsqrt", ("math.rsqrt",), FLOAT_COMPLEX, lax.rsqrt,
     lambda x, y, g: multiply(g, multiply(_c(multiply(square(y), y)), -0.5))),
    ("Square", ("math.square", "square"), NUMERIC, _square_kernel, lambda x, y, g: multiply(g, multiply(_c(x), 2))),
    ("Reciprocal", ("math.reciprocal",), SIGNED_COMPLEX, _reciprocal_kernel,
     lambda x, y, g: multiply(g, negative(_c(square(y))))),
    ("Inv", (), SIGNED_COMPLEX, _reciprocal_kernel, lambda x, y, g: multiply(g, negative(_c(square(y))))),
    ("Sin", ("math.sin", "sin"), FLOAT_COMPLEX, jnp.sin, lambda x, y, g: multiply(g, _c(cos(x)))),
    ("Cos", ("math.cos", "cos"), FLOAT_COMPLEX, jnp.cos, lambda x, y, g: multiply(g, negative(_c(sin(x))))),
    ("Tan", ("math.tan", "tan"), FLOAT_COMPLEX, jnp.tan,
     lambda x, y, g: multiply(g, _c(square(reciprocal(cos(x)))))),
    ("Asin", ("math.asin", "asin"), FLOAT_COMPLEX, jnp.arcsin,
     lambda x, y, g: multiply(g, _c(rsqrt(subtract(1, square(x)))))),
    ("Acos", ("math.acos", "acos"), FLOAT_COMPLEX, jnp.arccos,
     lambda x, y, g: multiply(g, negative(_c(rsqrt(subtract(1, square(x))))))),
    ("Atan", ("math.atan", "atan"), FLOAT_COMPLEX, jnp.arctan,
     lambda x, y, g: multiply(g, _c(reciprocal(add(square(x), 1))))),
    ("Sinh", ("math.sinh", "sinh"), FLOAT_COMPLEX, jnp.sinh, lambda x, y, g: multiply(g, _c(cosh(x)))),
    ("Cosh", ("math.cosh", "cosh"), FLOAT_COMPLEX, jnp.cosh, lambda x, y, g: multiply(g, _c(sinh(x)))),
    ("Tanh", ("math.tanh", "tanh", "nn.tanh"), FLOAT_COMPLEX, jnp.tanh,
     lambda x, y, g: multiply(g, _c(subtract(1, square(y))))),
    ("Asinh", ("math.asinh", "asinh"), FLOAT_COMPLEX, jnp.arcsinh, lambda x, y, g: realdiv(g, _c(cosh(y)))),
    ("Acosh", ("math.acosh", "acosh"), FLOAT_COMPLEX, jnp.arccosh, lambda x, y, g: realdiv(g, _c(sinh(y)))),
    ("Atanh", ("math.atanh", "atanh"), FLOAT_COMPLEX, jnp.arctanh,
     lambda x, y, g: multiply(g, _c(reciprocal(subtract(1, square(x)))))),
    ("Sigmoid", ("math.sigmoid", "sigmoid", "nn.sigmoid"), FLOAT_COMPLEX, lax.logistic,
     lambda x, y, g: multiply(g, _c(multiply(y, subtract(1, y))))),
    ("Abs", (), SIGNED, jnp.abs, lambda x, y, g: multiply(g, sign(x))),
    ("Sign", ("math.sign", "sign"), SIGNED_COMPLEX, jnp.sign, lambda x, y, g: zeros_like_grad(x)),
    ("Floor", ("math.floor", "floor"), FLOATS, jnp.floor, None),
    ("Ceil", ("math.ceil",), FLOATS, jnp.ceil, None),
    ("Round", ("math.round", "round"), SIGNED_COMPLEX, jnp.round, None),
    ("Rint", ("math.rint",), FLOATS, jnp.rint, None),
    ("IsNan", ("math.is_nan",), FLOATS, jnp.isnan, None),
    ("IsInf", ("math.is_inf",), FLOATS, jnp.isinf, None),
    ("IsFinite", ("math.is_finite",), FLOATS, jnp.isfinite, None),
    ("Invert", ("bitwise.invert",), INTS, jnp.invert, None),
]
_BOOL_RESULT = {"IsNan", "IsInf", "IsFinite"}


def zeros_like_grad(x):
    from flowstone.ops import array

    return array.zeros_like(x)


def _unary_op(raw, allowed, kernel, grad):
    out = "bool" if raw in _BOOL_RESULT else "T"
    op(raw, f"x: T -> y: {out}", {"T": allowed}, shape="same", differentiable=grad is not None)(kernel)
    if grad is not None:
        gradient(raw)(lambda op, dy: [grad(op.inputs[0], op.outputs[0], dy)])

    def wrapper(x, name=None):
        return execute(raw, (convert_to_tensor(x),), name=name)

    return wrapper


for _raw, _names, _allowed, _kernel, _grad in _UNARY:
    _fn = _unary_op(_raw, _allowed, _kernel, _grad)
    if _names:
        _publish(_fn, _names, f"Element-wise `{_raw}` (TF's `tf.{_names[0]}`).")


# --- Softplus / Softsign: TF names their argument `features` -------------------------------------

op("Softplus", "features: T -> activations: T", {"T": FLOATS}, shape="same")(jax.nn.softplus)
op("Softsign", "features: T -> activations: T", {"T": FLOATS}, shape="same")(lambda x: x / (1 + jnp.abs(x)))
gradient("Softplus")(lambda op, g: [multiply(g, sigmoid(op.inputs[0]))])
gradient("Softsign")(lambda op, g: [realdiv(g, square(add(abs(op.inputs[0]), 1)))])


@export("math.softplus", "nn.softplus")
def softplus(features, name=None):
    """Element-wise `log(exp(features) + 1)`, computed stably.

    >>> import flowstone as tf
    >>> print(tf.math.softplus(0.0).numpy())
    0.6931472
    """
    return execute("Softplus", (convert_to_tensor(features),), name=name)


@export("math.softsign", "nn.softsign")
def softsign(features, name=None):
    """Element-wise `features / (abs(features) + 1)`.

    >>> import flowstone as tf
    >>> print(tf.math.softsign(1.0).numpy())
    0.5
    """
    return execute("Softsign", (convert_to_tensor(features),), name=name)


@export("math.log_sigmoid")
@scoped("LogSigmoid")
def log_sigmoid(x, name=None):
    """Element-wise `log(sigmoid(x))`, as `-softplus(-x)` for stability.

    >>> import flowstone as tf
    >>> print(tf.math.log_sigmoid(0.0).numpy())
    -0.6931472
    """
    x = convert_to_tensor(x)
    return negative(softplus(negative(x)), name=name)


# --- complex numbers ---------------------------------------------------------------------------

_TOUT = {"Tout": dtypes.float32}


def _to_tout(fn):
    return lambda x, Tout: fn(x).astype(Tout.as_numpy_dtype)  # noqa: N803 - TF's attr name


def _complex_kernel(re, im, Tout):  # noqa: N803
    return _broadcasting(_same_shape(lax.complex))(re, im).astype(Tout.as_numpy_dtype)


op("ComplexAbs", "x: T -> y: Tout", {"T": COMPLEX, **_TOUT}, shape="same")(_to_tout(jnp.abs))
op("Real", "input: T -> output: Tout", {"T": COMPLEX, **_TOUT}, shape="same")(_to_tout(jnp.real))
op("Imag", "input: T -> output: Tout", {"T": COMPLEX, **_TOUT}, shape="same")(_to_tout(jnp.imag))
op("Angle", "input: T -> output: Tout", {"T": COMPLEX, **_TOUT}, shape="same")(_to_tout(jnp.angle))
op("Complex", "real: T, imag: T -> out: Tout", {"T": (dtypes.float32, dtypes.float64), "Tout": dtypes.complex64},
   shape="broadcast")(_complex_kernel)
op("Conj", "input: T -> output: T", {"T": COMPLEX + (dtypes.variant,)}, shape="same")(jnp.conj)
gradient("Conj")(lambda op, g: [conj(g)])
gradient("ComplexAbs")(lambda op, g: [multiply(complex(g, zeros_like_grad(g)), sign(op.inputs[0]))])
gradient("Real")(lambda op, g: [complex(g, zeros_like_grad(g))])
gradient("Imag")(lambda op, g: [complex(zeros_like_grad(g), g)])


@gradient("Angle")
def _angle_grad(op, g):
    x = op.inputs[0]
    z = reciprocal(complex(imag(x), real(x)))
    return [negative(multiply(complex(g, zeros_like_grad(g)), z))]


@gradient("Complex")
def _complex_grad(op, g):
    re, im = op.inputs
    return [reduce_to(real(g), re), reduce_to(imag(g), im)]


@export("math.abs", "abs")
def abs(x, name=None):  # noqa: A001 - TF's name
    """Absolute value; the magnitude (a real tensor) for complex `x`.

    >>> import flowstone as tf
    >>> tf.abs(tf.constant([-1, 2])).numpy()
    array([1, 2], dtype=int32)
    """
    x = convert_to_tensor(x)
    if x.dtype.is_complex:
        return execute("ComplexAbs", (x,), {"Tout": x.dtype.real_dtype}, name=name or "Abs")
    return execute("Abs", (x,), name=name)


@export("math.conj", "conj")
def conj(x, name=None):
    """Complex conjugate; real tensors pass through unchanged, as in TF.

    >>> import flowstone as tf
    >>> tf.math.conj(tf.constant([1 + 2j])).numpy()
    array([1.-2.j])
    """
    if x.__class__ is EagerTensor and x._dtype.is_floating:
        return x  # the gradients' hot path
    x = convert_to_tensor(x)
    if not x.dtype.is_complex and x.dtype is not dtypes.variant:
        if not (x.dtype.is_numeric or x.dtype.is_bool):
            raise TypeError(f"Expected numeric or variant tensor, got dtype {x.dtype!r}")
        return x
    return execute("Conj", (x,), name=name)


@export("math.real", "real")
def real(input, name=None):  # noqa: A002
    """The real part of a complex tensor (real tensors are returned as they are).

    >>> import flowstone as tf
    >>> tf.math.real(tf.constant([1 + 2j])).numpy()
    array([1.])
    """
    x = convert_to_tensor(input)
    if x.dtype.is_complex:
        return execute("Real", (x,), {"Tout": x.dtype.real_dtype}, name=name)
    return x


@export("math.imag", "imag")
def imag(input, name=None):  # noqa: A002
    """The imaginary part of a complex tensor (zeros for a real tensor).

    >>> import flowstone as tf
    >>> tf.math.imag(tf.constant([1 + 2j])).numpy()
    array([2.])
    """
    x = convert_to_tensor(input)
    if x.dtype.is_complex:
        return execute("Imag", (x,), {"Tout": x.dtype.real_dtype}, name=name)
    return zeros_like_grad(x)


@export("math.angle")
def angle(input, name=None):  # noqa: A002
    """The argument of each complex element (pi for negative reals, 0 otherwise).

    >>> import flowstone as tf
    >>> tf.math.angle(tf.constant([-1.0, 1.0])).numpy()
    array([3.1415927, 0.       ], dtype=float32)
    """
    x = convert_to_tensor(input)
    if x.dtype.is_complex:
        return execute("Angle", (x,), {"Tout": x.dtype.real_dtype}, name=name)
    from flowstone.ops import array

    return array.where(less(x, 0), array.fill(array.shape(x), convert_to_tensor(np.pi, dtype=x.dtype)),
                       array.zeros_like(x))


@export("complex")
def complex(real, imag, name=None):  # noqa: A001 - TF's name
    """Builds a complex tensor from real and imaginary parts (float32 -> complex64).

    >>> import flowstone as tf
    >>> print(tf.complex(1.0, 2.0).numpy())
    (1+2j)
    """
    re, im = convert_to_tensor(real), convert_to_tensor(imag)
    if re.dtype is not im.dtype:
        raise InvalidArgumentError(
            None, None, f"The `real` and `imag` components have different types: {re.dtype.name} vs. {im.dtype.name}"
        )
    if re.dtype not in (dtypes.float32, dtypes.float64):
        raise TypeError(f"The `real` and `imag` components must be float32 or float64, got {re.dtype.name}")
    tout = dtypes.complex128 if re.dtype is dtypes.float64 else dtypes.complex64
    return execute("Complex", (re, im), {"Tout": tout}, name=name)


# --- division helpers ---------------------------------------------------------------------------

_TRUEDIV = {dtypes.int8: dtypes.float32, dtypes.uint8: dtypes.float32, dtypes.int16: dtypes.float32,
            dtypes.uint16: dtypes.float32, dtypes.int32: dtypes.float64, dtypes.uint32: dtypes.float64,
            dtypes.int64: dtypes.float64, dtypes.uint64: dtypes.float64}


def _as_truediv_floats(x, y, where="__truediv__"):
    if x.dtype is not y.dtype:
        raise dtype_error("RealDiv", 1, x.dtype, y.dtype)
    target = _TRUEDIV.get(x.dtype)
    if target is not None:
        from flowstone.ops import array

        return array.cast(x, target), array.cast(y, target)
    if not (x.dtype.is_floating or x.dtype.is_complex):
        allowed = ", ".join(repr(d) for d in (*_TRUEDIV, *FLOATS, *COMPLEX))
        raise TypeError(f"Invalid dtype {x.dtype!r} in {where}. Expected one of {{{allowed}}}.")
    return x, y


@export("math.truediv", "truediv", "math.divide", "divide")
def truediv(x, y, name=None):
    """`x / y`: integers are cast to floating point first (int32 -> float64), as in TF.

    >>> import flowstone as tf
    >>> tf.math.truediv(tf.constant([3, 4]), 2).numpy()
    array([1.5, 2. ])
    """
    x, y = binary_pair(x, y)
    if x.dtype.is_floating and y.dtype is x.dtype:
        return execute("RealDiv", (x, y), name=name or "truediv")
    return _cast_and_divide(x, y, name)


@scoped("truediv")
def _cast_and_divide(x, y, name=None):
    x, y = _as_truediv_floats(x, y)
    return execute("RealDiv", (x, y), name=name)


@export("math.divide_no_nan", "div_no_nan")
@scoped("div_no_nan")
def divide_no_nan(x, y, name=None):
    """`x / y`, but 0 wherever `y` is 0 (integers are divided as in `truediv`).

    >>> import flowstone as tf
    >>> tf.math.divide_no_nan(tf.constant([1.0, 2.0]), tf.constant([0.0, 4.0])).numpy()
    array([0. , 0.5], dtype=float32)
    """
    x, y = binary_pair(x, y)
    x, y = _as_truediv_floats(x, y, "div_no_nan")
    return execute("DivNoNan", (x, y), name=name)


@export("math.multiply_no_nan")
@scoped("multiply_no_nan")
def multiply_no_nan(x, y, name=None):
    """`x * y`, but 0 wherever `y` is 0 even if `x` is NaN or infinite.

    >>> import flowstone as tf
    >>> tf.math.multiply_no_nan(tf.constant([float("inf"), 2.0]), tf.constant([0.0, 3.0])).numpy()
    array([0., 6.], dtype=float32)
    """
    x, y = binary_pair(x, y)
    return execute("MulNoNan", (x, y), name=name)


@export("math.reciprocal_no_nan")
@scoped("reciprocal_no_nan")
def reciprocal_no_nan(x, name=None):
    """`1 / x`, but 0 where `x` is 0.

    >>> import flowstone as tf
    >>> tf.math.reciprocal_no_nan(tf.constant([0.0, 2.0])).numpy()
    array([0. , 0.5], dtype=float32)
    """
    x = convert_to_tensor(x)
    if not (x.dtype.is_floating or x.dtype.is_complex):
        raise TypeError(f"x has incorrect data type: {x.dtype!r} (expected a float or complex dtype)")
    return execute("DivNoNan", (convert_to_tensor_v2(1, dtype=x.dtype, name="one"), x), name=name)


@export("math.scalar_mul", "scalar_mul")
@scoped("scalar_mul")
def scalar_mul(scalar, x, name=None):
    """Multiplies `x` by a scalar (a Python number or a rank-0 tensor).

    >>> import flowstone as tf
    >>> tf.math.scalar_mul(2, tf.constant([1.0, 2.0])).numpy()
    array([2., 4.], dtype=float32)
    """
    x = convert_to_tensor(x)
    s = convert_to_tensor_v2(scalar, dtype=x.dtype if not isinstance(scalar, Tensor) else None, name="scalar")
    if s.shape.rank != 0:
        raise ValueError(f"Only scalar multiply works, got shape {s.shape}")
    return multiply(s, x, name=name)


# --- comparisons: bool results, not differentiable -----------------------------------------

_COMPARE = [
    ("Less", ("math.less", "less"), jnp.less),
    ("LessEqual", ("math.less_equal", "less_equal"), jnp.less_equal),
    ("Greater", ("math.greater", "greater"), jnp.greater),
    ("GreaterEqual", ("math.greater_equal", "greater_equal"), jnp.greater_equal),
]

for _raw, _names, _kernel in _COMPARE:
    op(_raw, "x: T, y: T -> z: bool", {"T": REAL}, shape="broadcast", differentiable=False)(_broadcasting(_kernel))
    _publish(_binary_wrapper(_raw), _names, f"Element-wise `{_raw}` with broadcasting (TF's `tf.{_names[0]}`).")


def _equality_kernel(fn, mismatch):
    def kernel(x, y, incompatible_shape_error):
        if not _broadcastable(x.shape, y.shape):
            if not incompatible_shape_error:
                return jnp.array(mismatch)
            raise ValueError(f"Incompatible shapes: {list(x.shape)} vs. {list(y.shape)}")
        return fn(x, y)

    return kernel


op("Equal", "x: T, y: T -> z: bool", {"incompatible_shape_error": True}, shape="broadcast",
   differentiable=False)(_equality_kernel(jnp.equal, False))
op("NotEqual", "x: T, y: T -> z: bool", {"incompatible_shape_error": True}, shape="broadcast",
   differentiable=False)(_equality_kernel(jnp.not_equal, True))


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
    """Element-wise `x != y` with broadcasting.

    >>> import flowstone as tf
    >>> tf.not_equal(tf.constant([1, 2]), 2).numpy()
    array([ True, False])
    """
    x, y = binary_pair(x, y)
    return execute("NotEqual", (x, y), name=name)


_LENIENT = {"incompatible_shape_error": False}


def tensor_equals(self, other):
    """TF2's `Tensor.__eq__`: element-wise; False for None, a False scalar for incompatible shapes."""
    if other is None:
        return False
    x, y = binary_pair(self, other)
    return execute("Equal", (x, y), _LENIENT)


def tensor_not_equals(self, other):
    """TF2's `Tensor.__ne__`: element-wise; True for None, a True scalar for incompatible shapes."""
    if other is None:
        return True
    x, y = binary_pair(self, other)
    return execute("NotEqual", (x, y), _LENIENT)


# --- logical ops ---------------------------------------------------------------------------------

op("LogicalAnd", "x: bool, y: bool -> z: bool", shape="broadcast", differentiable=False)(
    _broadcasting(jnp.logical_and))
op("LogicalOr", "x: bool, y: bool -> z: bool", shape="broadcast", differentiable=False)(
    _broadcasting(jnp.logical_or))
op("LogicalNot", "x: bool -> y: bool", shape="same", differentiable=False)(jnp.logical_not)


def _bool_pair(x, y):
    return convert_to_tensor(x, dtype=dtypes.bool_), convert_to_tensor(y, dtype=dtypes.bool_)


@export("math.logical_and", "logical_and")
def logical_and(x, y, name=None):
    """Element-wise logical AND of bool tensors.

    >>> import flowstone as tf
    >>> tf.logical_and(tf.constant([True, True]), [True, False]).numpy()
    array([ True, False])
    """
    return execute("LogicalAnd", _bool_pair(x, y), name=name)


@export("math.logical_or", "logical_or")
def logical_or(x, y, name=None):
    """Element-wise logical OR of bool tensors.

    >>> import flowstone as tf
    >>> tf.logical_or(tf.constant([True, False]), [False, False]).numpy()
    array([ True, False])
    """
    return execute("LogicalOr", _bool_pair(x, y), name=name)


@export("math.logical_not", "logical_not")
def logical_not(x, name=None):
    """Element-wise logical NOT of a bool tensor.

    >>> import flowstone as tf
    >>> tf.logical_not(tf.constant([True, False])).numpy()
    array([False,  True])
    """
    return execute("LogicalNot", (convert_to_tensor(x, dtype=dtypes.bool_),), name=name)


@export("math.logical_xor")
def logical_xor(x, y, name="LogicalXor"):
    """Element-wise exclusive OR of bool tensors, composed as TF does.

    >>> import flowstone as tf
    >>> tf.math.logical_xor(tf.constant([True, True]), [True, False]).numpy()
    array([False,  True])
    """
    x, y = _bool_pair(x, y)
    return logical_and(logical_or(x, y), logical_not(logical_and(x, y)), name=name or "LogicalXor")


# --- operator helpers for `Tensor` (`//`, `%`, `~`, `&`, `|`, `^`) -------------------------------


def _logical_or_bitwise(logical, bitwise, default):
    # TF names `x & y` "and" for bools; for integers the bitwise op sits inside it ("and/BitwiseAnd").
    @scoped(default)
    def fn(x, y, name=None):
        x, y = binary_pair(x, y)
        if x.dtype is dtypes.bool_:
            return logical(x, y, name=name)
        return bitwise(x, y)

    return fn


bitwise_and_op = _logical_or_bitwise(logical_and, bitwise_and, "and")  # noqa: F821 - generated above
bitwise_or_op = _logical_or_bitwise(logical_or, bitwise_or, "or")  # noqa: F821
bitwise_xor_op = _logical_or_bitwise(logical_xor, bitwise_xor, "xor")  # noqa: F821


def invert(x):
    """`~x`: logical NOT for bool tensors, bitwise inversion for integers."""
    x = convert_to_tensor(x)
    if x.dtype is dtypes.bool_:
        return logical_not(x)
    return execute("Invert", (x,))


# --- AddN ---------------------------------------------------------------------------------------

# `+` rather than jnp.add: a variant input is a TensorList value, whose sum is element-wise.
op("AddN", "inputs: N * T -> sum: T", {"T": NUMERIC + (dtypes.variant,)}, shape="same")(
    lambda xs: functools.reduce(operator.add, list(xs))
)
gradient("AddN")(lambda op, grad: [grad] * len(op.inputs))


@export("math.add_n", "add_n")
def add_n(inputs, name=None):
    """Adds all input tensors element-wise (same shape and dtype).

    >>> import flowstone as tf
    >>> print(tf.add_n([tf.constant(1.0), tf.constant(2.0)]).numpy())
    3.0
    """
    if isinstance(inputs, Tensor) or not hasattr(inputs, "__iter__") or not (inputs := list(inputs)):
        raise ValueError("Inputs must be an iterable of at least one Tensor/IndexedSlices with the same dtype and shape")
    inputs = [convert_to_tensor(x) for x in inputs]
    if len(inputs) == 1:
        return inputs[0]
    return execute("AddN", (inputs,), name=name)


def add_n_grads(grads):
    """Sums gradient contributions (dense tensors, or IndexedSlices densified)."""
    dense = [g if isinstance(g, Tensor) else convert_to_tensor(g) for g in grads]
    return add_n(dense)


@export("math.accumulate_n")
def accumulate_n(inputs, shape=None, tensor_dtype=None, name=None):
    """Deprecated alias of `add_n`, with optional shape and dtype checks.

    >>> import flowstone as tf
    >>> print(tf.math.accumulate_n([tf.constant(1.0), tf.constant(2.0)]).numpy())
    3.0
    """
    if not inputs or not isinstance(inputs, (list, tuple)):
        raise ValueError("inputs must be a list of at least one Tensor/IndexedSlices with the same dtype and shape")
    inputs = [convert_to_tensor(x) for x in inputs]
    if tensor_dtype is not None and any(t.dtype is not dtypes.as_dtype(tensor_dtype) for t in inputs):
        raise TypeError(f"tensor_dtype is {dtypes.as_dtype(tensor_dtype)!r}, but input is of type {inputs[0].dtype!r}")
    if shape is not None:
        from flowstone.core.shape import TensorShape

        for t in inputs:
            if not t.shape.is_compatible_with(TensorShape(shape)):
                raise ValueError(f"Shape {t.shape} of input is incompatible with shape {TensorShape(shape)}")
    return add_n(inputs, name=name)


@export("math.polyval")
@scoped("polyval")
def polyval(coeffs, x, name=None):
    """Evaluates `sum(coeffs[i] * x**(n-1-i))` by Horner's rule.

    >>> import flowstone as tf
    >>> print(tf.math.polyval([1.0, 2.0, 3.0], tf.constant(2.0)).numpy())
    11.0
    """
    if not isinstance(coeffs, (list, tuple)):
        raise ValueError(f"Argument coeffs must be list type found {type(coeffs)}.")
    x = convert_to_tensor(x)
    if not coeffs:
        return zeros_like_grad(x)
    result = convert_to_tensor(coeffs[0], dtype=x.dtype if not isinstance(coeffs[0], Tensor) else None)
    for c in coeffs[1:]:
        result = add(multiply(result, x), c)
    return result


def __getattr__(name):
    # The rest of tf.math lives in sibling modules; `math.reduce_max` and the like still resolve.
    if not name.startswith("_"):
        import importlib

        for sibling in ("reduction", "special", "segment"):
            found = getattr(importlib.import_module(f"flowstone.ops.{sibling}"), name, None)
            if found is not None:
                _g[name] = found
                return found
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

del _raw, _names, _allowed, _kernel, _fn, _grad
