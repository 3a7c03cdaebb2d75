"""`tf.print`, `tf.debugging.check_numerics` and `tf.debugging.Assert`: ops with side effects.

`PrintV2`, `CheckNumerics` and `Assert` are stateful ops that also run inside compiled
code: when their kernel is traced by jax (a compiled `tf.function`), the print or check
is staged with an ordered `jax.debug.callback`, so it happens at every call of the
compiled function, in program order. Eagerly they act at once. `tf.print` builds its text
with `StringFormat` (flowstone/ops/formatting.py), as TensorFlow does.

The `tf.debugging.assert_*` family lives in flowstone/ops/checks.py.
"""

from __future__ import annotations

import logging
import pprint
import sys

import jax
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.execute import execute
from flowstone.core.registry import op
from flowstone.core.tensor import EagerTensor, Tensor, convert_to_tensor
from flowstone.ops.formatting import DeferredFormat, string_format
from flowstone.ops.random import tracing

_FLOATS = (dtypes.bfloat16, dtypes.float16, dtypes.float32, dtypes.float64)


def _traced(*values) -> bool:
    return any(isinstance(v, jax.core.Tracer) for v in values)


# --- PrintV2 --------------------------------------------------------------------------------------


def _write(text: str, output_stream: str, end: str) -> None:
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if output_stream in ("stderr", "stdout"):
        stream = sys.stderr if output_stream == "stderr" else sys.stdout
        stream.write(text + end)
        stream.flush()
    elif output_stream.startswith("log("):
        level = {"log(info)": logging.INFO, "log(warning)": logging.WARNING, "log(error)": logging.ERROR}
        logging.getLogger("tensorflow").log(level.get(output_stream, logging.INFO), text)
    elif output_stream.startswith("file://"):
        with open(output_stream[len("file://"):], "a", encoding="utf-8") as f:
            f.write(text + end)
    else:
        raise ValueError(f"Unsupported output stream: {output_stream}")


def _as_text(value) -> str:
    v = np.asarray(value, dtype=object).reshape(()).item()
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


@op("PrintV2", "input: string -> ", {"output_stream": "stderr", "end": "\n"}, stateful=True, differentiable=False)
def _print_v2(text, output_stream, end):
    if isinstance(text, DeferredFormat):
        traced = [i for i, v in enumerate(text.values) if isinstance(v, jax.core.Tracer)]

        def emit(*values):
            full = list(text.values)
            for i, v in zip(traced, values, strict=False):
                full[i] = np.asarray(v)
            _write(text.render(full), output_stream, end)

        jax.debug.callback(emit, *[text.values[i] for i in traced], ordered=True)
    elif tracing():
        message = _as_text(text)
        jax.debug.callback(lambda: _write(message, output_stream, end), ordered=True)
    else:
        _write(_as_text(text), output_stream, end)
    return ()


def _stream_name(stream) -> str:
    if stream is None or stream is sys.stderr or stream is sys.__stderr__:
        return "stderr"
    if stream is sys.stdout or stream is sys.__stdout__:
        return "stdout"
    if isinstance(stream, str) and stream.startswith("file://"):
        return stream
    fn_name = getattr(stream, "__name__", None)
    if callable(stream) and fn_name in ("info", "warning", "error", "warn"):
        return "log(warning)" if fn_name == "warn" else f"log({fn_name})"
    raise ValueError(
        f"Unsupported output stream, logging level, or file.{stream}. Supported streams are sys.stdout, "
        "sys.stderr, tf.logging.info, tf.logging.warning, tf.logging.error. File needs to be in the form of "
        "'file://<filepath>'."
    )


def _is_tensor(x) -> bool:
    return isinstance(x, Tensor) or hasattr(type(x), "__tf_tensor__")


def _flatten(x):
    """The leaves of a nested list/tuple/dict (dicts in sorted key order), as `tf.nest` orders them."""
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in _flatten(x[k])]
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in _flatten(v)]
    return [x]


def _pack(x, leaves):
    """`x` with its leaves replaced, in `_flatten` order, by the items of the iterator `leaves`."""
    if isinstance(x, dict):
        packed = {k: _pack(x[k], leaves) for k in sorted(x)}
        return dict(packed) if type(x) is dict else type(x)(packed)
    if isinstance(x, (list, tuple)):
        items = [_pack(v, leaves) for v in x]
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return type(x)(*items)
        return type(x)(items)
    return next(leaves)


def _placeholder(text: str) -> str:
    candidate, i = "{}", 0
    while candidate in text:
        candidate, i = "{" + str(i) + "}", i + 1
    return candidate


@export("print")
def print_v2(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):
    """Prints tensors and Python values, as `print` does but formatting tensors like TensorFlow.

    Args:
      *inputs: tensors, Python values and nested lists/tuples/dicts of them.
      output_stream: `sys.stderr` (default), `sys.stdout`, `"file://<path>"` or a logging function
        (`logging.info`, `logging.warning`, `logging.error`).
      summarize: elements kept at each end of every dimension (-1: all).
      sep: the separator between inputs.
      end: appended after the last input.
      name: a name for the op.

    >>> import flowstone as tf, sys
    >>> tf.print("x:", tf.constant([1, 2, 3, 4, 5, 6, 7]), output_stream=sys.stdout)
    x: [1 2 3 ... 5 6 7]
    """
    stream = _stream_name(output_stream)
    free = [_pack(x, iter(["" if _is_tensor(v) else v for v in _flatten(x)])) for x in inputs]
    placeholder = _placeholder(" ".join(pprint.pformat(x) for x in free))
    templates, tensors = [], []
    for x in inputs:
        if isinstance(x, str):
            templates.append(x)
            continue
        leaves = []
        for v in _flatten(x):
            if _is_tensor(v):
                tensors.append(convert_to_tensor(v))
                leaves.append(placeholder)
            else:
                leaves.append(v)
        templates.append(pprint.pformat(_pack(x, iter(leaves))))
    template = sep.join(templates).replace(repr(placeholder), placeholder)
    text = string_format(template, tensors, placeholder=placeholder, summarize=summarize)
    execute("PrintV2", (text,), {"output_stream": stream, "end": end}, name=name)
    return None


# --- CheckNumerics --------------------------------------------------------------------------------


def _numerics_error(message, has_nan, has_inf):
    kinds = " and ".join(k for k, flag in (("Inf", has_inf), ("NaN", has_nan)) if flag)
    return InvalidArgumentError(None, None, f"{message} : Tensor had {kinds} values [Op:CheckNumerics]")


def _check_host(message, x):
    x = np.asarray(x, dtype=np.float64)
    has_nan, has_inf = bool(np.isnan(x).any()), bool(np.isinf(x).any())
    if has_nan or has_inf:
        raise _numerics_error(message, has_nan, has_inf)


@op("CheckNumerics", "tensor: T -> output: T", {"T": _FLOATS, "message": ""}, stateful=True, shape="same")
def _check_numerics(x, message):
    if _traced(x):
        jax.debug.callback(lambda v: _check_host(message, v), x, ordered=True)
    else:
        _check_host(message, x)
    return x


def _check_numerics_grad(op, grad):
    note = "Not a number (NaN) or infinity (Inf) values detected in gradient. " + op.get_attr("message")
    return [check_numerics(grad, note)]


from flowstone.core.registry import gradient  # noqa: E402 - beside its only use

gradient("CheckNumerics")(_check_numerics_grad)


@export("debugging.check_numerics")
def check_numerics(tensor, message, name=None):
    """Returns `tensor` unchanged, raising InvalidArgumentError if it holds NaN or Inf.

    >>> import flowstone as tf
    >>> tf.debugging.check_numerics(tf.constant([1.0, 2.0]), "x").numpy()
    array([1., 2.], dtype=float32)
    """
    return execute("CheckNumerics", (convert_to_tensor(tensor),), {"message": message}, name=name)


@export("debugging.assert_all_finite")
def assert_all_finite(x, message, name=None):
    """Checks that `x` holds no NaN or Inf and returns it.

    >>> import flowstone as tf
    >>> tf.debugging.assert_all_finite(tf.constant([1.0]), "bad").numpy()
    array([1.], dtype=float32)
    """
    return check_numerics(x, message, name=name)


# --- Assert ---------------------------------------------------------------------------------------


def _summarize_value(value, summarize) -> str:
    a = np.asarray(value)
    if a.ndim == 0:
        if summarize == 0:
            return ""
        return str(a.item() if a.dtype != object else a[()])
    flat = a.reshape(-1)
    n = flat.size if summarize < 0 else summarize
    items = [str(v) for v in flat[:n]]
    if len(items) < flat.size:
        items.append("...")
    return ", ".join(items)


def _assert_message(condition_text, data, summarize) -> str:
    data_text = "\n".join(_summarize_value(v, summarize) for v in data)
    return f"Expected '{condition_text}' to be true. Summarized data: {data_text}"


# Errors raised in host callbacks of compiled code: jax reports them as its own runtime error, and
# the compiled function's caller re-raises the original (see `take_host_error`).
_HOST_ERRORS: list = []


def take_host_error():
    """The latest error a host callback of compiled code raised (and forgets them all), or None."""
    err = _HOST_ERRORS[-1] if _HOST_ERRORS else None
    _HOST_ERRORS.clear()
    return err


def _assert_host(summarize, condition, *data):
    if not bool(np.asarray(condition)):
        raise InvalidArgumentError(None, None, _assert_message(str(bool(np.asarray(condition))), data, summarize))


def _assert_callback(summarize, condition, *data):
    try:
        _assert_host(summarize, condition, *data)
    except InvalidArgumentError as e:
        _HOST_ERRORS[:] = [e]
        raise


@op("Assert", "condition: bool, data: N * T -> ", {"summarize": 3}, stateful=True, host_strings=True,
    differentiable=False)
def _assert_kernel(condition, data, summarize):
    if _traced(condition, *data):
        jax.debug.callback(lambda c, *d: _assert_callback(summarize, c, *d), condition, *data, ordered=True)
    else:
        _assert_host(summarize, condition, *data)
    return ()


@export("debugging.Assert", "Assert")
def Assert(condition, data, summarize=None, name=None):  # noqa: N802 - TF's name
    """Raises InvalidArgumentError with a summary of `data` when `condition` is false.

    >>> import flowstone as tf
    >>> tf.debugging.Assert(tf.constant(True), ["ok"])
    """
    summarize = 3 if summarize is None else int(summarize)
    cond_text = str(condition)
    condition = convert_to_tensor(condition, dtype=dtypes.bool_)
    data = [convert_to_tensor(d) for d in data]
    if isinstance(condition, EagerTensor):
        if not bool(condition.numpy()):
            raise InvalidArgumentError(
                None, None, _assert_message(cond_text, [d.numpy() for d in data], summarize)
            )
        return None
    return execute("Assert", (condition, data), {"summarize": summarize}, name=name)
