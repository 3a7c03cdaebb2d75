"""`execute()`: the single dispatch point of every op.

Eagerly, it runs the op's cached compiled kernel and records the op on active tapes;
while a `tf.function` is traced, it appends a node to the graph being built instead.
Ops never branch on the mode themselves.
"""

from __future__ import annotations

import numpy as np

from flowstone.core import dtypes
from flowstone.core.context import ctx
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.registry import OPS, OpDef
from flowstone.core.tensor import EagerTensor, Tensor, dtype_error

_from_numpy = dtypes._BY_NP.get


def execute(op: str | OpDef, inputs, attrs=None, name=None):
    """Runs raw op `op` on `inputs` (tensors; a list input as a list) with `attrs`.

    Returns the single output tensor, or a tuple of outputs for multi-output ops.
    """
    opdef = op if isinstance(op, OpDef) else OPS[op]
    if opdef.has_lists:
        inputs, attrs = _flatten_lists(opdef, inputs, attrs)
    if opdef.same_dtype or opdef.type_attrs:
        _check_dtypes(opdef, inputs)
    graph = ctx.graph
    if graph is not None:
        outs = graph.create_op(opdef, list(inputs), attrs or {}, name=name)
        return outs[0] if opdef.single else tuple(outs)
    static = _static_positions(opdef, attrs) if opdef.has_lists and opdef.static_index else opdef.static_index
    key = _cache_key(opdef, inputs, attrs, static)
    fn = opdef._cache.get(key) or opdef.compiled(key)
    if opdef.static_index:
        values = [t._value for i, t in enumerate(inputs) if i not in static]
    else:
        values = [t._value for t in inputs]
    try:
        result = fn(*_regroup(opdef, values, attrs) if opdef.has_lists else values)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(None, None, f"{e} [Op:{opdef.name}]") from None
    if opdef.single:
        out = _wrap(result)
        if ctx.tapes:
            _record(opdef, attrs, inputs, (out,))
        return out
    outs = tuple(_wrap(r) for r in result)
    if ctx.tapes:
        _record(opdef, attrs, inputs, outs)
    return outs


def _wrap(value) -> EagerTensor:
    dtype = _from_numpy(value.dtype)
    if dtype is None:
        dtype = dtypes.from_numpy(value.dtype)
    if dtype is dtypes.string and not isinstance(value, np.ndarray):
        value = np.asarray(value, dtype=object)
    return EagerTensor(value, dtype)


def _static_positions(opdef: OpDef, attrs):
    """Where the static inputs sit in the flattened input list (list inputs expanded)."""
    pos, i = [], 0
    for k, arg in enumerate(opdef.inputs):
        if k in opdef.static_index:
            pos.append(i)
        i += attrs[arg.number_attr] if arg.number_attr else 1
    return tuple(pos)


def _cache_key(opdef: OpDef, inputs, attrs, static_pos=None):
    static = ()
    if opdef.static_index:
        positions = opdef.static_index if static_pos is None else static_pos
        static = tuple(static_value(inputs[i]) for i in positions)
    if attrs:
        attrs = tuple(sorted((k, _hashable(v)) for k, v in attrs.items() if k not in opdef.inferred))
        for k, _ in attrs:
            if k not in opdef.attrs:
                raise TypeError(f"{opdef.name} got an unexpected attr '{k}'")
    else:
        attrs = ()
    if len(attrs) != len(opdef.attrs):
        full = opdef.full_attrs(dict(attrs))
        attrs = tuple(sorted((k, _hashable(v)) for k, v in full.items()))
    return attrs, static


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, np.ndarray):
        return _hashable(v.tolist())
    return v


def static_value(t: Tensor):
    """A tensor's value as hashable Python data (a tuple for rank >= 1)."""
    if isinstance(t, EagerTensor):
        v = t._value
        a = v if isinstance(v, np.ndarray) else np.asarray(v)
        return a.item() if a.ndim == 0 else _hashable(a)
    raise TypeError(f"{t!r} must be known while tracing")


def _flatten_lists(opdef: OpDef, inputs, attrs):
    flat = []
    attrs = dict(attrs or {})
    for arg, value in zip(opdef.inputs, inputs):
        if arg.number_attr:
            value = list(value)
            attrs[arg.number_attr] = len(value)
            flat.extend(value)
        else:
            flat.append(value)
    return flat, attrs


def list_lengths(opdef: OpDef, attrs):
    return [attrs[a.number_attr] if a.number_attr else None for a in opdef.inputs]


def _regroup(opdef: OpDef, values, attrs):
    grouped, i = [], 0
    for k, arg in enumerate(opdef.inputs):
        if k in opdef.static_index:
            continue
        if arg.number_attr:
            n = attrs[arg.number_attr]
            grouped.append(values[i : i + n])
            i += n
        else:
            grouped.append(values[i])
            i += 1
    return grouped


def _check_dtypes(opdef: OpDef, inputs) -> None:
    """TF's type constraints: inputs sharing a type attr agree, and the dtype is allowed."""
    for group in opdef.same_dtype:
        first = inputs[group[0]].dtype
        for i in group[1:]:
            if inputs[i].dtype is not first:
                raise dtype_error(opdef.name, i, first, inputs[i].dtype)
    if not opdef.has_lists:
        for arg, t in zip(opdef.inputs, inputs):
            allowed = opdef.type_attrs.get(arg.type_attr) if arg.type_attr else None
            if allowed is not None and t.dtype not in allowed:
                raise _not_allowed(opdef, arg.type_attr, t.dtype, allowed)
            if arg.fixed is not None and t.dtype is not arg.fixed:
                raise dtype_error(opdef.name, opdef.inputs.index(arg), arg.fixed, t.dtype)


def _not_allowed(opdef, attr, dtype, allowed):
    names = ", ".join(sorted(d.name for d in allowed))
    return InvalidArgumentError(
        None,
        None,
        f"Value for attr '{attr}' of {dtype.name} is not in the list of allowed values: "
        f"{names} ; NodeDef: {{{{node {opdef.name}}}}} [Op:{opdef.name}]",
    )


def _record(opdef, attrs, inputs, outputs) -> None:
    for tape in ctx.tapes:
        tape.record(opdef, attrs, inputs, outputs)
