"""Calls in converted code: user functions convert, a few builtins accept graph tensors.

`len`, `range`, `enumerate`, `zip`, `int`, `float` and `abs` behave as in Python unless an
argument is a graph tensor; then they build ops (`len(t)` is the first dimension, `range(n)`
is `tf.range(n)`, `int(t)` a cast...), as TensorFlow's AutoGraph overloads them. `print`
becomes `tf.print` only with the optional feature `BUILTIN_FUNCTIONS` (as in TensorFlow, a
plain `print` runs while tracing).
"""

from __future__ import annotations

import builtins
import functools
import inspect

from flowstone.core import dtypes
from flowstone.core.context import ctx
from flowstone.core.tensor import Tensor
from flowstone.graph.autograph.conditionals import as_tensor
from flowstone.graph.autograph.loops import length
from flowstone.graph.autograph.undefined import is_graph_tensor, tf

_UNSET = object()


def _graph(x) -> bool:
    return is_graph_tensor(x) or (ctx.graph is not None and isinstance(x, Tensor))


def len_(obj):
    """`len(obj)`; for a graph tensor its first dimension (static when known)."""
    if not is_graph_tensor(obj):
        return builtins.len(obj)
    t = as_tensor(obj)
    if t.shape.rank == 0:
        raise ValueError(f"len requires a non-scalar tensor, got one of shape {t.shape}")
    return length(t)


def range_(*args):
    """`range(...)`, or `tf.range(...)` when an argument is a graph tensor."""
    if any(is_graph_tensor(a) for a in args):
        return tf().range(*args)
    return builtins.range(*args)


def enumerate_(iterable, start=0):
    """`enumerate`; over a graph tensor, a graph loop yields (index tensor, row)."""
    if _graph(iterable):
        return _Enumerate(as_tensor(iterable), start)
    return builtins.enumerate(iterable, start)


def zip_(*iterables, **kwargs):
    """`zip`; over graph tensors only, a graph loop yields tuples of rows."""
    if iterables and not kwargs and all(_graph(x) for x in iterables):
        return _Zip([as_tensor(x) for x in iterables])
    return builtins.zip(*iterables, **kwargs)


def int_(x=0, base=_UNSET):
    """`int(x)`; a graph tensor is cast to int32."""
    if is_graph_tensor(x) and base is _UNSET:
        return tf().cast(as_tensor(x), dtypes.int32)
    return builtins.int(x) if base is _UNSET else builtins.int(x, base)


def float_(x=0.0):
    """`float(x)`; a graph tensor is cast to float32."""
    if is_graph_tensor(x):
        return tf().cast(as_tensor(x), dtypes.float32)
    return builtins.float(x)


def abs_(x):
    """`abs(x)`; `tf.abs` for a graph tensor."""
    if is_graph_tensor(x):
        return tf().abs(as_tensor(x))
    return builtins.abs(x)


def print_(*objects, sep=" ", end="\n", file=None, flush=False):
    """`print`, as `tf.print` when an argument is a graph tensor (feature BUILTIN_FUNCTIONS)."""
    if any(is_graph_tensor(o) for o in objects):
        return tf().print(*objects, sep=sep, end=end)
    return builtins.print(*objects, sep=sep, end=end, file=file, flush=flush)


class _Enumerate:
    def __init__(self, tensor, start):
        if tensor.shape.rank == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        self.tensor, self.start = tensor, start

    def __iter__(self):
        return builtins.enumerate(self.tensor, self.start)

    def _ag_length(self):
        return length(self.tensor)

    def _ag_item(self, i):
        return i + self.start, tf().gather(self.tensor, i)


class _Zip:
    def __init__(self, tensors):
        for t in tensors:
            if t.shape.rank == 0:
                raise TypeError("Cannot iterate over a scalar tensor.")
        self.tensors = tensors

    def __iter__(self):
        return builtins.zip(*self.tensors)

    def _ag_length(self):
        sizes = [length(t) for t in self.tensors]
        if all(isinstance(s, int) for s in sizes):
            return min(sizes)
        out = tf().cast(sizes[0], dtypes.int32)
        for s in sizes[1:]:
            out = tf().minimum(out, tf().cast(s, dtypes.int32))
        return out

    def _ag_item(self, i):
        return tuple(tf().gather(t, i) for t in self.tensors)


_OVERLOADS = {builtins.len: len_, builtins.range: range_, builtins.enumerate: enumerate_, builtins.zip: zip_,
              builtins.int: int_, builtins.float: float_, builtins.abs: abs_}


def converted(fn, features=()):
    """`fn` as converted code calls it: user functions converted, builtins overloaded."""
    from flowstone.graph.autograph import api

    try:
        overload = _OVERLOADS.get(fn)
    except TypeError:  # unhashable callable
        overload = None
    if overload is not None:
        return overload
    if fn is builtins.print and "BUILTIN_FUNCTIONS" in features:
        return print_
    if getattr(fn, "__ag_converted__", False) or not callable(fn):
        return fn
    if inspect.ismethod(fn):
        target = fn.__func__
        if not api.should_convert(target):
            return fn
        new = api.convert(target, recursive=True, features=features)
        return functools.partial(new, fn.__self__) if new is not target else fn
    if inspect.isfunction(fn) and api.should_convert(fn):
        return api.convert(fn, recursive=True, features=features)
    return fn
