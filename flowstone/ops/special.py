"""Special functions: error functions, gamma family, incomplete gamma/beta, zeta, Bessel.

Unary rows share one table, like the element-wise family in `math.py`; the binary and
ternary ops (`Igamma`, `Betainc`, `Zeta`, `Polygamma`) follow with their gradients.
"""

# ruff: noqa: F821 - the table loops below define the wrappers (sin, reduce_max, ...) by name

from __future__ import annotations

import jax.numpy as jnp
import jax.scipy.special as jss
import numpy as np
from jax import lax

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.execute import execute
from flowstone.core.registry import FLOATS, gradient, op
from flowstone.core.tensor import convert_to_tensor
from flowstone.ops import math as m

F32_64 = (dtypes.float32, dtypes.float64)
_TWO_OVER_SQRT_PI = 2 / np.sqrt(np.pi)


def _where(c, a, b):
    from flowstone.ops import array

    return array.where(c, a, b)


def _safe_nonzero(x):
    """`x` with zeros replaced by ones, so that a division at 0 stays finite (the result is masked)."""
    from flowstone.ops import array

    return _where(m.equal(x, 0), array.ones_like(x), x)


def _half_like(x):
    from flowstone.ops import array

    return m.multiply(array.ones_like(x), 0.5)


def _i1e_grad(x, y, g):
    # The slope formula divides by x; at 0 the limit is 1/2.
    safe = _safe_nonzero(x)
    slope = m.subtract(bessel_i0e(safe), m.multiply(y, m.add(m.sign(safe), m.reciprocal(safe))))
    return m.multiply(g, _where(m.equal(x, 0), _half_like(x), slope))


def _i1_grad(x, y, g):
    safe = _safe_nonzero(x)
    slope = m.subtract(bessel_i0(safe), m.realdiv(y, safe))
    return m.multiply(g, _where(m.equal(x, 0), _half_like(x), slope))


# (raw op, public names, allowed dtypes, kernel, gradient(x, y, dy))
_UNARY = [
    ("Erf", ("math.erf",), FLOATS, lax.erf,
     lambda x, y, g: m.multiply(g, m.multiply(m.exp(m.negative(m.square(x))), _TWO_OVER_SQRT_PI))),
    ("Erfc", ("math.erfc",), FLOATS, lax.erfc,
     lambda x, y, g: m.multiply(g, m.multiply(m.exp(m.negative(m.square(x))), -_TWO_OVER_SQRT_PI))),
    ("Erfinv", ("math.erfinv",), FLOATS, lax.erf_inv,
     lambda x, y, g: m.multiply(g, m.multiply(m.exp(m.square(y)), np.sqrt(np.pi) / 2))),
    ("Ndtri", ("math.ndtri",), FLOATS, jss.ndtri,
     lambda x, y, g: m.multiply(g, m.multiply(m.exp(m.multiply(m.square(y), 0.5)), np.sqrt(2 * np.pi)))),
    ("Lgamma", ("math.lgamma",), FLOATS, lax.lgamma, lambda x, y, g: m.multiply(g, digamma(x))),
    ("Digamma", ("math.digamma",), FLOATS, lax.digamma,
     lambda x, y, g: m.multiply(g, polygamma(m.add(m.multiply(x, 0), 1), x))),
    ("BesselI0e", ("math.bessel_i0e", "math.special.bessel_i0e"), FLOATS, jss.i0e,
     lambda x, y, g: m.multiply(g, m.subtract(bessel_i1e(x), m.multiply(m.sign(x), y)))),
    ("BesselI1e", ("math.bessel_i1e", "math.special.bessel_i1e"), FLOATS, jss.i1e, _i1e_grad),
    ("BesselI0", ("math.bessel_i0", "math.special.bessel_i0"), FLOATS, jss.i0,
     lambda x, y, g: m.multiply(g, bessel_i1(x))),
    ("BesselI1", ("math.bessel_i1", "math.special.bessel_i1"), FLOATS, jss.i1, _i1_grad),
    ("Spence", ("math.special.spence",), F32_64, jss.spence,
     lambda x, y, g: m.multiply(g, _where(m.equal(x, 1), m.negative(m.add(m.multiply(x, 0), 1)),
                                          m.realdiv(m.log(x), m.subtract(1, _safe_one(x)))))),
    ("Expint", ("math.special.expint",), F32_64, jss.expi,
     lambda x, y, g: m.multiply(g, m.realdiv(m.exp(x), x))),
]


def _safe_one(x):
    from flowstone.ops import array

    return _where(m.equal(x, 1), array.zeros_like(x), x)


_g = globals()


def _publish(fn, names, doc):
    fn.__name__ = fn.__qualname__ = names[0].split(".")[-1]
    fn.__module__ = __name__
    fn.__doc__ = doc
    _g[fn.__name__] = fn
    export(*names)(fn)


for _raw, _names, _allowed, _kernel, _grad in _UNARY:
    op(_raw, "x: T -> y: T", {"T": _allowed}, shape="same")(_kernel)
    gradient(_raw)(lambda op, dy, _grad=_grad: [_grad(op.inputs[0], op.outputs[0], dy)])

    def _fn(x, name=None, _raw=_raw):
        return execute(_raw, (convert_to_tensor(x),), name=name)

    _publish(_fn, _names, f"Element-wise `{_raw}` (TF's `tf.{_names[0]}`).")


# --- incomplete gamma, incomplete beta, zeta, polygamma -------------------------------------------


def _polygamma_kernel(a, x):
    # jax's polygamma wants an integer order; TF's takes a float order and is NaN off the integers.
    n = jnp.floor(a)
    sign = jnp.where(jnp.mod(n, 2) == 0, -1.0, 1.0).astype(x.dtype)
    value = sign * jnp.exp(lax.lgamma(n + 1)) * jss.zeta(n + 1, x)
    value = jnp.where(n == 0, lax.digamma(x), value)
    return jnp.where((n == a) & (a >= 0), value, jnp.nan)


_BINARY = [
    ("Igamma", ("math.igamma",), "a: T, x: T -> z: T", FLOATS, lax.igamma),
    ("Igammac", ("math.igammac",), "a: T, x: T -> z: T", FLOATS, lax.igammac),
    ("IgammaGradA", (), "a: T, x: T -> z: T", F32_64, lax.igamma_grad_a),
    ("Zeta", ("math.zeta",), "x: T, q: T -> z: T", F32_64, jss.zeta),
    ("Polygamma", ("math.polygamma",), "a: T, x: T -> z: T", F32_64, _polygamma_kernel),
]

for _raw, _names, _sig, _allowed, _kernel in _BINARY:
    op(_raw, _sig, {"T": _allowed}, shape="broadcast", differentiable=_raw != "IgammaGradA")(
        m._broadcasting(m._same_shape(_kernel)))
    if _names:
        _publish(m._binary_wrapper(_raw), _names, f"Element-wise `{_raw}` with broadcasting (TF's `tf.{_names[0]}`).")


def _igamma_x_slope(a, x):
    """d/dx of the regularized lower incomplete gamma function."""
    return m.exp(m.subtract(m.subtract(m.multiply(m.subtract(a, 1), m.log(x)), x), lgamma(a)))


@m._binary_grad("Igamma")
def _igamma_grad(a, x, z, grad):
    return m.multiply(grad, execute("IgammaGradA", (a, x))), m.multiply(grad, _igamma_x_slope(a, x))


@m._binary_grad("Igammac")
def _igammac_grad(a, x, z, grad):
    return (m.multiply(grad, m.negative(execute("IgammaGradA", (a, x)))),
            m.multiply(grad, m.negative(_igamma_x_slope(a, x))))


@m._binary_grad("Zeta")
def _zeta_grad(x, q, z, grad):
    return None, m.multiply(grad, m.multiply(m.negative(x), zeta(m.add(x, 1), q)))


@m._binary_grad("Polygamma")
def _polygamma_grad(a, x, z, grad):
    return None, m.multiply(grad, polygamma(m.add(a, 1), x))


def _betainc_kernel(a, b, x):
    shapes = [a.shape, b.shape, x.shape]
    if len({s for s in shapes if s != ()}) > 1:
        raise ValueError(f"Shapes of a, b and x are inconsistent: {list(a.shape)} vs. {list(b.shape)} vs. "
                         f"{list(x.shape)}")
    return jss.betainc(*jnp.broadcast_arrays(a, b, x))


op("Betainc", "a: T, b: T, x: T -> z: T", {"T": F32_64})(_betainc_kernel)


@gradient("Betainc")
def _betainc_grad(op, grad):
    a, b, x = op.inputs
    log_beta = m.subtract(m.add(lgamma(a), lgamma(b)), lgamma(m.add(a, b)))
    slope = m.exp(m.subtract(m.add(m.multiply(m.subtract(b, 1), m.log1p(m.negative(x))),
                                   m.multiply(m.subtract(a, 1), m.log(x))), log_beta))
    return [None, None, m.reduce_to(m.multiply(grad, slope), x)]


@export("math.betainc")
def betainc(a, b, x, name=None):
    """The regularized incomplete beta function `I_x(a, b)`.

    >>> import flowstone as tf
    >>> print(round(float(tf.math.betainc(1.0, 2.0, 0.5)), 4))
    0.75
    """
    x = convert_to_tensor(x)
    a = convert_to_tensor(a, dtype=x.dtype)
    b = convert_to_tensor(b, dtype=x.dtype)
    return execute("Betainc", (a, b, x), name=name)


# --- composites --------------------------------------------------------------------------------


@export("math.erfcinv")
def erfcinv(x, name=None):
    """The inverse of `erfc`, as `-ndtri(x / 2) / sqrt(2)`.

    >>> import flowstone as tf
    >>> print(abs(float(tf.math.erfcinv(1.0))))
    0.0
    """
    x = convert_to_tensor(x)
    return m.multiply(ndtri(m.multiply(x, 0.5)), -np.sqrt(0.5))


@export("math.lbeta")
def lbeta(x, name=None):
    """`log(|Beta(x)|)` reduced over the last axis: `sum(lgamma(x)) - lgamma(sum(x))`.

    >>> import flowstone as tf
    >>> print(round(float(tf.math.lbeta([1.0, 2.0])), 4))
    -0.6931
    """
    from flowstone.ops import reduction

    x = convert_to_tensor(x)
    return m.subtract(reduction.reduce_sum(lgamma(x), -1), lgamma(reduction.reduce_sum(x, -1)))


del _g, _raw, _names, _allowed, _kernel, _grad, _sig
