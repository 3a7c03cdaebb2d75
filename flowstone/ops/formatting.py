"""`StringFormat`: TensorFlow's text rendering of tensors, used by `tf.strings.format` and `tf.print`.

Rendering follows TF's `Tensor::SummarizeValue(summarize, print_v2=True)`: NumPy-like
brackets, `summarize` elements kept at each end of every dimension with `...` between,
floats in the shortest of 6/9 (float32) or 15/17 (float64) significant digits that
round-trips, bools as 1/0, strings quoted and C-escaped, complex as `?`.

Inside compiled code the kernel cannot build a string from values it does not have yet:
given jax tracers it returns a `DeferredFormat`, which `PrintV2` (flowstone/ops/debugging.py)
renders at run time from a `jax.debug.callback`.
"""

from __future__ import annotations

import jax
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.execute import execute
from flowstone.core.registry import op
from flowstone.core.tensor import Tensor, convert_to_tensor

_ESCAPES = {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x22: '\\"', 0x27: "\\'", 0x5C: "\\\\"}


def _c_escape(b: bytes) -> str:
    """C escapes for quotes, backslashes and control bytes; bytes >= 0x80 pass through (UTF-8 safe)."""
    out = []
    for c in b:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif c < 0x20 or c == 0x7F:
            out.append(f"\\{c:03o}")
        else:
            out.append(chr(c) if c < 0x80 else chr(0xDC00 + c))
    return "".join(out)


def _shortest(value: float, digits: tuple, same) -> str:
    # C's "%.*g": the shortest of two precisions that reads back as the same value.
    short = f"{value:.{digits[0]}g}"
    return short if same(float(short)) else f"{value:.{digits[1]}g}"


def element_formatter(np_dtype):
    """A function rendering one element of an array of `np_dtype` as TF prints it."""
    dtype = dtypes.from_numpy(np_dtype)
    if dtype is dtypes.string:
        return lambda v: '"' + _c_escape(v if isinstance(v, bytes) else str(v).encode()) + '"'
    if dtype.is_bool:
        return lambda v: "1" if v else "0"
    if dtype.is_complex:
        return lambda v: "?"
    if dtype is dtypes.float64:
        return lambda v: _shortest(float(v), (15, 17), lambda r: r == float(v) or np.isnan(v))
    if dtype.is_floating:
        return lambda v: _shortest(float(v), (6, 9), lambda r: np.float32(r) == np.float32(v) or np.isnan(v))
    return lambda v: str(int(v))


def _gap(depth: int, ndim: int) -> str:
    if depth == ndim - 1:
        return " "
    return "\n" * (ndim - depth - 1) + " " * (depth + 1)


def _render(a, ends, depth, ndim, fmt, out):
    if depth == ndim:
        out.append(fmt(a[()] if isinstance(a, np.ndarray) else a))
        return
    out.append("[")
    n = a.shape[0]
    for i in range(min(ends, n)):
        if i:
            out.append(_gap(depth, ndim))
        _render(a[i], ends, depth + 1, ndim, fmt, out)
    if n > 2 * ends:
        out.append(_gap(depth, ndim) + "...")
    for i in range(max(ends, n - ends), n):
        out.append(_gap(depth, ndim))
        _render(a[i], ends, depth + 1, ndim, fmt, out)
    out.append("]")


def format_tensor(value, summarize: int = 3) -> str:
    """TF's rendering of an array (`tf.print`, `tf.strings.format`)."""
    a = np.asarray(value)
    fmt = element_formatter(a.dtype)
    limit = a.size if summarize is None or summarize < 0 else min(int(summarize), a.size)
    if a.ndim == 0:
        return (fmt(a[()]) if limit > 0 else "") + ("..." if a.size > limit else "")
    out: list = []
    _render(a, limit, 0, a.ndim, fmt, out)
    return "".join(out)


class DeferredFormat:
    """A `StringFormat` result inside compiled code: the template and the (traced) values."""

    __slots__ = ("pieces", "values", "summarize")

    def __init__(self, pieces, values, summarize):
        self.pieces, self.values, self.summarize = pieces, list(values), summarize

    def render(self, values=None) -> str:
        values = self.values if values is None else values
        parts = [self.pieces[0]]
        for v, piece in zip(values, self.pieces[1:], strict=False):
            parts.append(format_tensor(v, self.summarize))
            parts.append(piece)
        return "".join(parts)


def _pieces(template: str, placeholder: str, count: int):
    pieces = template.split(placeholder) if placeholder else [template]
    if len(pieces) - 1 != count:
        raise ValueError(
            f"The template expects {len(pieces) - 1} tensors, but the inputs only has {count}. Please ensure the "
            "number of placeholders in template matches inputs length."
        )
    return pieces


@op("StringFormat", "inputs: N * T -> output: string", {"template": "%s", "placeholder": "%s", "summarize": 3},
    stateful=True, host_strings=True, differentiable=False)
def _string_format(inputs, template, placeholder, summarize):
    pieces = _pieces(template, placeholder, len(inputs))
    if any(isinstance(v, jax.core.Tracer) for v in inputs):
        return DeferredFormat(pieces, inputs, summarize)
    text = DeferredFormat(pieces, inputs, summarize).render()
    return np.array(text.encode("utf-8", "surrogateescape"), dtype=object)


@export("strings.format")
def string_format(template, inputs, placeholder="{}", summarize=3, name=None):
    """Formats `inputs` (a tensor or a list of them) into `template` at each `placeholder`.

    >>> import flowstone as tf
    >>> tf.strings.format("x={}", tf.constant([1, 2, 3, 4, 5, 6, 7])).numpy()
    b'x=[1 2 3 ... 5 6 7]'
    """
    if isinstance(inputs, Tensor) or not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    tensors = [convert_to_tensor(x) for x in inputs]
    _pieces(template, placeholder, len(tensors))
    attrs = {"template": template, "placeholder": placeholder, "summarize": int(summarize)}
    return execute("StringFormat", (tensors,), attrs, name=name)
