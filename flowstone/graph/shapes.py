"""Static dtypes and shapes of a new node's outputs, while a graph is built.

An op's `shape` rule decides: "same" (the first input's shape), "broadcast", "reduce", a
callable `rule(inputs, attrs) -> shape or list of shapes` (inputs are graph tensors;
`constant_value` gives values known while tracing; the rule answers `registry.DERIVE` for
the cases it leaves to the kernel), or None: the shape is derived from the kernel with
`jax.eval_shape` (a few milliseconds each). Unknown dimensions are substituted by two
different sizes and the dimensions that follow the substitution come back unknown.
"""

from __future__ import annotations

import jax
import numpy as np

from flowstone.core import dtypes
from flowstone.core.execute import _hashable, _regroup, _static_positions
from flowstone.core.registry import DERIVE, _with_statics
from flowstone.core.shape import TensorShape, as_shape
from flowstone.core.tensor import constant_value

_UNKNOWN = TensorShape(None)
_CACHE: dict = {}
_SUBSTITUTES = (5, 7)


def output_dtypes(opdef, inputs, attrs) -> list:
    """The dtypes of the outputs, from the OpDef's argument rules."""
    found = {}
    i = 0
    for arg in opdef.inputs:
        n = attrs.get(arg.number_attr, 1) if arg.number_attr else 1
        n = len(n) if isinstance(n, list) else n
        if arg.type_attr and arg.type_attr not in found and n and i < len(inputs):
            found[arg.type_attr] = inputs[i].dtype
        i += n
    out = []
    for arg in opdef.outputs:
        if arg.fixed is not None:
            dts = [arg.fixed]
        else:
            dt = attrs.get(arg.type_attr)
            if not isinstance(dt, (list, tuple)):
                dt = found.get(arg.type_attr, dt)
            dts = [dtypes.as_dtype(d) for d in dt] if isinstance(dt, (list, tuple)) else [dtypes.as_dtype(dt)]
        if arg.number_attr and arg.number_attr != arg.type_attr:
            dts = dts * int(attrs[arg.number_attr])
        out.extend(dts)
    return out


def infer(opdef, inputs, attrs) -> list:
    """[(dtype, TensorShape)] for each output of a new node."""
    dts = output_dtypes(opdef, inputs, attrs)
    rule = opdef.shape_fn
    if rule is None and opdef.name in _RESOURCE_READS:
        data = getattr(inputs[0], "_handle_data", None)
        if data is None:
            return [(dt, _UNKNOWN) for dt in dts]
        return [(dt, _RESOURCE_READS[opdef.name](data[1], inputs)) for dt in dts]
    if rule == "same":
        shapes = [inputs[0].shape] * len(dts)
    elif rule == "broadcast":
        shapes = [broadcast_shapes([t.shape for t in inputs])] * len(dts)
    elif rule == "reduce":
        shapes = [_reduce_shape(inputs, attrs)] * len(dts)
    else:
        got = rule(inputs, attrs) if callable(rule) else DERIVE
        if got is not DERIVE:
            shapes = [as_shape(s) for s in got] if isinstance(got, list) else [as_shape(got)] * len(dts)
        elif any(dt in _OPAQUE for dt in dts):
            shapes = [_UNKNOWN] * len(dts)
        else:
            shapes = _eval_shapes(opdef, inputs, attrs, len(dts))
    return list(zip(dts, shapes))


def _gather_shape(var_shape, inputs):
    if var_shape.rank is None or inputs[1].shape.rank is None:
        return _UNKNOWN
    return inputs[1].shape.concatenate(var_shape[1:])


# Reads of a variable: the shape comes from the handle (the variable's shape).
_RESOURCE_READS = {
    "ReadVariableOp": lambda var_shape, inputs: var_shape,
    "ResourceGather": _gather_shape,
}


def _strided_slice_partial(inputs, attrs) -> TensorShape:
    """StridedSlice with indices known only at run time (`x[i]` in a loop): the rank and the
    dimensions that the masks decide (dropped, new, whole) are still known."""
    shape, begin = inputs[0].shape, inputs[1].shape
    if shape.rank is None or begin.rank != 1 or begin[0] is None:
        return _UNKNOWN
    strides = constant_value(inputs[3])

    def bit(name, i):
        return bool(attrs.get(name, 0) >> i & 1)

    n = begin[0]
    consuming = sum(1 for i in range(n) if not bit("ellipsis_mask", i) and not bit("new_axis_mask", i))
    dims, d = [], 0
    for i in range(n):
        if bit("ellipsis_mask", i):
            k = max(shape.rank - consuming, 0)
            dims.extend(shape.as_list()[d:d + k])
            d += k
        elif bit("new_axis_mask", i):
            dims.append(1)
        elif bit("shrink_axis_mask", i):
            d += 1
        else:
            whole = bit("begin_mask", i) and bit("end_mask", i) and strides is not None and np.ravel(strides)[i] == 1
            dims.append(shape[d] if whole and d < shape.rank else None)
            d += 1
    return TensorShape(dims + shape.as_list()[d:])


# Shape rules for when a static input is known only at run time.
_PARTIAL = {"StridedSlice": _strided_slice_partial}


def broadcast_shapes(shapes) -> TensorShape:
    if any(s.rank is None for s in shapes):
        return _UNKNOWN
    rank = max((s.rank for s in shapes), default=0)
    dims = []
    for i in range(rank):
        ds = [s[s.rank - rank + i] if s.rank - rank + i >= 0 else 1 for s in shapes]
        known = {d for d in ds if d is not None and d != 1}
        if len(known) > 1:
            raise ValueError(
                "Dimensions must be equal, but are " + " and ".join(str(d) for d in sorted(known))
            )
        if known:
            dims.append(known.pop())
        elif any(d is None for d in ds):
            dims.append(None)
        else:
            dims.append(1)
    return TensorShape(dims)


def _reduce_shape(inputs, attrs) -> TensorShape:
    shape = inputs[0].shape
    keep = attrs.get("keep_dims", attrs.get("keepdims", False))
    axes = constant_value(inputs[1]) if len(inputs) > 1 else None
    if shape.rank is None:
        return _UNKNOWN
    if axes is None:
        return TensorShape([None] * shape.rank) if keep else _UNKNOWN
    rank = shape.rank
    axes = {int(a) % rank for a in np.ravel(axes)} if rank else set()
    if keep:
        return TensorShape([1 if i in axes else d for i, d in enumerate(shape)])
    return TensorShape([d for i, d in enumerate(shape) if i not in axes])


def _eval_shapes(opdef, inputs, attrs, n) -> list:
    statics = []
    positions = _static_positions(opdef, attrs) if opdef.has_lists and opdef.static_index else opdef.static_index
    for i in positions:
        v = constant_value(inputs[i])
        if v is None:
            partial = _PARTIAL.get(opdef.name)
            return [partial(inputs, attrs) if partial else _UNKNOWN] * n
        statics.append(_hashable(np.asarray(v)) if np.ndim(v) else np.asarray(v).item())
    dynamic = [t for i, t in enumerate(inputs) if i not in positions]
    if opdef.host or any(t.shape.rank is None or t.dtype in _OPAQUE for t in dynamic):
        return [_UNKNOWN] * n
    value_attrs = {k: v for k, v in attrs.items() if k in opdef.attrs}
    key = (opdef.name, _freeze(value_attrs), _freeze(attrs), tuple(statics),
           tuple((tuple(t.shape.as_list()), t.dtype) for t in dynamic))
    found = _CACHE.get(key)
    if found is None:
        found = _derive(opdef, dynamic, value_attrs, attrs, tuple(statics), n)
        if len(_CACHE) < 20000:
            _CACHE[key] = found
    return found


def _freeze(attrs):
    try:
        out = tuple(sorted((k, _hashable(v)) for k, v in attrs.items()))
        hash(out)
        return out
    except TypeError:
        return id(attrs)


def _derive(opdef, dynamic, value_attrs, attrs, statics, n):
    kernel = opdef.kernel
    if statics:
        kernel = _with_statics(kernel, opdef.static_index, statics, len(opdef.inputs))

    def fn(*values):
        if opdef.has_lists:
            values = _regroup(opdef, list(values), attrs)
        return kernel(*values, **value_attrs)

    partial = any(None in t.shape.as_list() for t in dynamic)
    runs = []
    for sub in _SUBSTITUTES if partial else _SUBSTITUTES[:1]:
        args = [jax.ShapeDtypeStruct(tuple(sub if d is None else d for d in t.shape.as_list()),
                                     _np_dtype(t.dtype)) for t in dynamic]
        try:
            out = jax.eval_shape(fn, *args)
        except Exception as e:  # noqa: BLE001 - a failure with real shapes is a user error
            if not partial:
                raise ValueError(str(e).split("\n")[0]) from None
            return [_UNKNOWN] * n
        runs.append([o.shape for o in (out if isinstance(out, (tuple, list)) else (out,))])
    first = runs[0]
    if len(runs) == 1:
        return [TensorShape(s) for s in first][:n] + [_UNKNOWN] * (n - len(first))
    return [TensorShape([a if a == b else None for a, b in zip(s1, s2)]) if len(s1) == len(s2) else _UNKNOWN
            for s1, s2 in zip(first, runs[1])]


_OPAQUE = (dtypes.string, dtypes.resource, dtypes.variant)


def _np_dtype(dt):
    return dt.as_numpy_dtype
