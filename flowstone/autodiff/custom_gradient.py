"""`tf.custom_gradient`, `tf.recompute_grad`, `tf.stop_gradient` and `tf.RegisterGradient`.

A custom-gradient call runs the function, passes its outputs through `Identity` (so they are
new tensors), and records one op on the active tapes whose inputs are the call's tensor
arguments plus the trainable variables it read, and whose gradient is the user's function.
"""

from __future__ import annotations

import functools
import inspect

from flowstone._export import export
from flowstone.autodiff import tape as tape_lib
from flowstone.autodiff.indexed_slices import IndexedSlices
from flowstone.core.context import ctx
from flowstone.core.execute import execute
from flowstone.core.registry import OPS, op
from flowstone.core.tensor import Tensor, convert_to_tensor

# TF registers StopGradient without a gradient: nothing flows through it.
if "StopGradient" not in OPS:
    op("StopGradient", "input: T -> output: T", shape="same", differentiable=False)(lambda x: x)


@export("stop_gradient")
def stop_gradient(input, name=None):  # noqa: A002 - TensorFlow's argument name
    """The same value, but gradients do not flow through it.

    >>> import flowstone as tf
    >>> x = tf.constant(2.0)
    >>> with tf.GradientTape() as t:
    ...     t.watch(x)
    ...     y = x * tf.stop_gradient(x)
    >>> float(t.gradient(y, x))
    2.0
    """
    if isinstance(input, IndexedSlices):
        return IndexedSlices(stop_gradient(input.values), input.indices, input.dense_shape)
    return execute("StopGradient", (convert_to_tensor(input),), name=name)


def _flatten(x):
    from flowstone.autodiff.gradient_tape import _flatten as flat

    return flat(x)


def _pack(structure, flat):
    from flowstone.autodiff.gradient_tape import _pack_like

    return _pack_like(structure, flat)


def _accepts_variables(fn) -> bool:
    try:
        spec = inspect.getfullargspec(fn)
    except TypeError:
        return True
    return "variables" in spec.args or "variables" in spec.kwonlyargs or spec.varkw is not None


def _as_input(x):
    handle = getattr(x, "_tape_handle", None)
    if handle is not None:
        return handle
    return x if isinstance(x, Tensor) else convert_to_tensor(x)


def _call(f, args, kwargs):
    from flowstone.ops import array

    with tape_lib.VariableWatcher() as watcher:
        result, grad_fn = f(*args, **kwargs)
    flat_args = _flatten(list(args))
    inputs = [_as_input(a) for a in flat_args]
    input_ids = {id(h) for h in inputs}
    variables = [v for v in watcher.watched_variables() if id(v._handle) not in input_ids]
    if variables and not _accepts_variables(grad_fn):
        raise TypeError(
            "@tf.custom_gradient grad_fn must accept keyword argument 'variables', since function "
            f"uses variables: {variables}"
        )
    with tape_lib.stop_recording():
        flat_result = [array.identity(x) for x in _flatten(result)]
    arg_count = len(inputs)

    def actual_grad(op, *out_grads):
        result_grads = list(out_grads)
        if variables:
            input_grads, variable_grads = grad_fn(*result_grads, variables=variables)
            if len(variable_grads) != len(variables):
                raise ValueError("Must return gradient for each variable from @custom_gradient grad_fn.")
        else:
            input_grads = grad_fn(*result_grads)
            variable_grads = []
        flat_grads = _flatten(input_grads) if isinstance(input_grads, (list, tuple)) else [input_grads]
        if len(flat_grads) != arg_count:
            raise ValueError(
                f"custom_gradient function expected to return {arg_count} gradients, but returned "
                f"{len(flat_grads)} instead."
            )
        return list(flat_grads) + list(variable_grads)

    opdef = tape_lib.FunctionOpDef(getattr(f, "__name__", "custom_gradient"), actual_grad)
    all_inputs = tuple(inputs + [v._handle for v in variables])
    for t in ctx.tapes:
        for v in variables:
            t.variable_accessed(v)
        t.record(opdef, None, all_inputs, tuple(flat_result))
    hook = getattr(ctx.graph, "record_custom_gradient", None) if ctx.graph is not None else None
    if hook is not None:
        hook(opdef, all_inputs, tuple(flat_result))
    return _pack(result, flat_result)


@export("custom_gradient")
def custom_gradient(f=None):
    """Decorates `f(*x) -> (y, grad_fn)` so that tapes use `grad_fn(dy)` as its gradient.

    When `f` reads trainable variables, `grad_fn(dy, variables=...)` returns
    `(grads_for_inputs, grads_for_variables)`.

    >>> import flowstone as tf
    >>> @tf.custom_gradient
    ... def half_grad(x):
    ...     return tf.identity(x), lambda dy: dy * 0.5
    >>> x = tf.constant(3.0)
    >>> with tf.GradientTape() as t:
    ...     t.watch(x)
    ...     y = half_grad(x) * 4.0
    >>> float(t.gradient(y, x))
    2.0
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def decorated(*args, **kwargs):
        return _call(f, args, kwargs)

    return decorated


@export("recompute_grad")
def recompute_grad(f):
    """Runs `f` without keeping its intermediate tensors; the backward pass recomputes them.

    >>> import flowstone as tf
    >>> g = tf.recompute_grad(lambda x: x * x)
    >>> x = tf.constant(3.0)
    >>> with tf.GradientTape() as t:
    ...     t.watch(x)
    ...     y = g(x)
    >>> float(t.gradient(y, x))
    6.0
    """

    @custom_gradient
    def inner(*args, **kwargs):
        with tape_lib.stop_recording():
            result = f(*args, **kwargs)

        def grad(*dresult, variables=None):
            from flowstone.autodiff.gradient_tape import GradientTape
            from flowstone.ops import array

            with GradientTape() as t:
                id_args = [array.identity(a) for a in args]
                t.watch(id_args)
                if variables:
                    t.watch(variables)
                out = f(*id_args, **kwargs)
            sources = id_args + list(variables or [])
            grads = t.gradient(out, sources, output_gradients=list(dresult),
                               unconnected_gradients="zero")
            return grads[: len(id_args)], grads[len(id_args):]

        return result, grad

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return inner(*args, **kwargs)

    return wrapper


_USER_GRADIENTS: dict = {}


@export("RegisterGradient")
class RegisterGradient:
    """Registers a gradient function `grad(op, *grads)` for the raw op `op_type`.

    >>> import flowstone as tf
    >>> @tf.RegisterGradient("MyNewOpGrad")
    ... def _my_grad(op, grad):
    ...     return [grad]
    """

    def __init__(self, op_type):
        if not isinstance(op_type, str):
            raise TypeError("op_type must be a string")
        self._op_type = op_type

    def __call__(self, fn):
        name = self._op_type
        if name in _USER_GRADIENTS or (name in OPS and OPS[name].grad is not None):
            raise KeyError(f"Registering two gradient with name '{name}'! (Previous registration was in "
                           f"{getattr(fn, '__module__', '?')})")
        _USER_GRADIENTS[name] = fn
        if name in OPS:
            OPS[name].grad = fn
            OPS[name].differentiable = True
        return fn


@export("no_gradient")
def no_gradient(op_type) -> None:
    """Declares that raw op `op_type` has no gradient (gradients stop there)."""
    if not isinstance(op_type, str):
        raise TypeError("op_type must be a string")
    if op_type in _USER_GRADIENTS or (op_type in OPS and OPS[op_type].grad is not None):
        raise KeyError(f"Registering two gradient with name '{op_type}'!")
    if op_type in OPS:
        OPS[op_type].differentiable = False
        OPS[op_type].grad = None
    _USER_GRADIENTS[op_type] = None


def gradient_function(op_type):
    """The gradient registered by `tf.RegisterGradient` for `op_type` (None if none)."""
    return _USER_GRADIENTS.get(op_type)
