"""`tf.py_function` and `tf.numpy_function`: Python code as a graph op.

The ops (`EagerPyFunc`, `PyFunc`, `PyFuncStateless`) hold a token naming the Python
callable; their kernels run on the host, so a function that contains one runs through the
node-by-node interpreter rather than XLA (with the same results). `py_function` is
differentiable: its gradient is another `EagerPyFunc` that reruns the callable under a tape.
"""

from __future__ import annotations

import itertools

import jax
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import ctx
from flowstone.core.execute import execute
from flowstone.core.registry import REQUIRED, gradient, op
from flowstone.core.tensor import EagerTensor, Tensor, convert_to_tensor

_FUNCS: dict = {}
_TOKENS = itertools.count()


def register(fn, eager: bool) -> str:
    """Keeps `fn` for the ops that name it; returns its token."""
    token = f"pyfunc_{next(_TOKENS)}"
    _FUNCS[token] = (fn, eager)
    return token


def _as_list(tout):
    return list(tout) if isinstance(tout, (list, tuple)) else [tout]


def _tensor_of(value):
    if isinstance(value, EagerTensor):
        return value
    dt = dtypes.from_numpy(np.asarray(value).dtype) if not isinstance(value, jax.Array) else dtypes.from_numpy(value.dtype)
    if dt is dtypes.string:
        return EagerTensor(np.asarray(value, dtype=object), dt)
    return EagerTensor(jax.numpy.asarray(value), dt)


def _results(out, tout):
    from flowstone.core.errors import InvalidArgumentError

    if not tout:
        return ()
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if len(outs) != len(tout):
        raise InvalidArgumentError(None, None, f"The Python function returned {len(outs)} values, expected {len(tout)}")
    values = []
    for value, dt in zip(outs, tout):
        dt = dtypes.as_dtype(dt)
        t = value if isinstance(value, Tensor) else convert_to_tensor(value, dtype=dt)
        if t.dtype is not dt:
            raise InvalidArgumentError(
                None, None, f"0-th value returned by pyfunc_0 is {t.dtype.name}, but expects {dt.name}")
        values.append(t._value)
    return tuple(values)


def _run(inputs, token, Tout, **_):  # noqa: N803 - TF's attr name
    fn, eager = _FUNCS[token]
    args = [_tensor_of(v) for v in inputs]
    if not eager:
        args = [a.numpy() for a in args]
    return _results(fn(*args), _as_list(Tout))


for _name, _stateful in (("EagerPyFunc", True), ("PyFunc", True), ("PyFuncStateless", False)):
    attrs = {"token": REQUIRED, "Tout": REQUIRED}
    if _name == "EagerPyFunc":
        attrs["is_async"] = False
    op(_name, "input: Tin * Tin -> output: Tout * Tout", attrs, host=True, stateful=True,
       differentiable=_name == "EagerPyFunc")(_run)


@gradient("EagerPyFunc")
def _eager_py_func_grad(op, *grads):
    fn, _ = _FUNCS[op.get_attr("token")]
    n = len(op.inputs)
    trainable = [t.dtype.is_floating or t.dtype.is_complex for t in op.inputs]
    if not any(trainable):
        return [None] * n
    seeds = [g if g is not None else None for g in grads]

    def vjp(*args):
        from flowstone.autodiff.gradient_tape import GradientTape

        xs, dys = list(args[:n]), list(args[n:])
        with GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            outs = fn(*xs)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        pairs = [(o, d) for o, d in zip(outs, dys)]
        got = tape.gradient([o for o, _ in pairs], xs, output_gradients=[d for _, d in pairs])
        return [g if g is not None else np.zeros(x.shape, x.dtype.as_numpy_dtype) for g, x in zip(got, xs)]

    dys = [g for g in seeds if g is not None]
    if len(dys) != len(grads):
        from flowstone.ops import array

        dys = [g if g is not None else array.zeros_like(o) for g, o in zip(grads, op.outputs)]
    out = py_function(vjp, list(op.inputs) + dys, [t.dtype for t in op.inputs])
    return [g if m else None for g, m in zip(out, trainable)]


def _call(fn, inp, Tout, eager, stateful, name):  # noqa: N803
    if fn is None or not callable(fn):
        raise TypeError(f"func must be callable, got {fn!r}")
    inp = [] if inp is None else list(inp) if isinstance(inp, (list, tuple)) else [inp]
    inputs = [convert_to_tensor(x) for x in inp]
    single = Tout is not None and not isinstance(Tout, (list, tuple))
    tout = [] if Tout is None else [dtypes.as_dtype(t) for t in _as_list(Tout)]
    if ctx.graph is None and not ctx.tapes:
        values = _run([x._value for x in inputs], register(fn, eager), tout)
        outs = [_tensor_of(v) for v in values]
    else:
        kind = "EagerPyFunc" if eager else ("PyFunc" if stateful else "PyFuncStateless")
        outs = list(execute(kind, (inputs,), {"token": register(fn, eager), "Tout": tout}, name=name))
    if Tout is None:
        return None
    return outs[0] if single else outs


@export("py_function")
def py_function(func=None, inp=None, Tout=None, name=None):  # noqa: N803 - TF's argument name
    """Wraps a Python function (called with eager tensors) as an op, also inside `tf.function`.

    Args:
      func: callable taking tensors and returning tensors (or values convertible to them).
      inp: list of input tensors.
      Tout: the output dtype, or a list of dtypes (None: the function returns nothing).
      name: optional op name.

    Returns:
      A tensor (one dtype given), a list of tensors, or None.

    >>> import flowstone as tf
    >>> print(tf.py_function(lambda x: x * 2, [tf.constant(3.0)], tf.float32).numpy())
    6.0
    """
    return _call(func, inp, Tout, True, True, name)


@export("numpy_function")
def numpy_function(func=None, inp=None, Tout=None, stateful=True, name=None):  # noqa: N803
    """Wraps a Python function called with NumPy arrays (not differentiable).

    >>> import flowstone as tf
    >>> tf.numpy_function(lambda x: x + 1, [tf.constant([1, 2])], tf.int32).numpy()
    array([2, 3], dtype=int32)
    """
    return _call(func, inp, Tout, False, stateful, name)


def _lower_py_func(node, vals, state, interpret):
    from flowstone.graph.lowering import NotCompilable

    if not interpret:
        raise NotCompilable(f"{node.type} runs Python")
    return _run(vals, node.attrs["token"], node.attrs["Tout"])


def _register_lowering():
    from flowstone.graph import lowering

    for kind in ("EagerPyFunc", "PyFunc", "PyFuncStateless"):
        lowering.register_special(kind, _lower_py_func)


_register_lowering()
