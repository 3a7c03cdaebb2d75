"""`execute()`: the single dispatch point of every op.

Eagerly, it runs the op's cached compiled kernel and records the op on active tapes;
while a `tf.function` is traced, it appends a node to the graph being built instead.
Ops never branch on the mode themselves.

The eager path is the hot path of every op: it reads only what `OpDef` precomputed at
registration (dtype checks, the default attr key, which inputs may carry strings) and
builds the cache key without sorting or merging when the caller passes no attrs or all
of them. A string input sends the call through `registry.call_on_codes`.
"""

from __future__ import annotations

import numpy as np

from flowstone.core import dtypes
from flowstone.core.context import ctx
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.registry import OPS, OpDef, call_on_codes, flat_position, hashable
from flowstone.core.tensor import EagerTensor, Tensor, _IndexTensor, dtype_error

_from_numpy = dtypes._BY_NP.get
_STRING = dtypes.string
_PLAIN = frozenset((bool, int, float, str, type(None), dtypes.DType))
_hashable = hashable  # the graph modules import it from here


def execute(op: str | OpDef, inputs, attrs=None, name=None):
    """Runs raw op `op` on `inputs` (tensors; a list input as a list) with `attrs`.

    Returns the single output tensor, or a tuple of outputs for multi-output ops.
    """
    opdef = op if op.__class__ is OpDef else OPS[op]
    if opdef.has_lists:
        inputs, attrs = _flatten_lists(opdef, inputs, attrs)
        _check_list_dtypes(opdef, inputs, attrs)
    else:
        for i, j in opdef.same_checks:
            if inputs[i]._dtype is not inputs[j]._dtype:
                raise dtype_error(opdef.name, i, inputs[j]._dtype, inputs[i]._dtype)
        for i, attr, allowed, fixed in opdef.type_checks:
            dt = inputs[i]._dtype
            if allowed is not None and dt not in allowed:
                raise _not_allowed(opdef, attr, dt, allowed)
            if fixed is not None and dt is not fixed:
                raise dtype_error(opdef.name, i, fixed, dt)
    graph = ctx.graph
    if graph is not None:
        outs = graph.create_op(opdef, list(inputs), attrs or {}, name=name)
        return outs[0] if opdef.single else tuple(outs)
    if not attrs and opdef.default_fn is not None:
        fn = opdef.default_fn
        values = [t._value for t in inputs]
    else:
        fn, values = _kernel(opdef, inputs, attrs)
    strings = False
    if opdef.string_inputs:
        for t in inputs if opdef.has_lists else [inputs[i] for i in opdef.string_inputs]:
            if t._dtype is _STRING:
                strings = True
                break
    try:
        if opdef.has_lists:
            values = _regroup(opdef, values, attrs)
        if strings:
            result = call_on_codes(
                fn, values, opdef.output_is_string([t._dtype for t in inputs], attrs)
            )
        else:
            result = fn(*values)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(None, None, f"{e} [Op:{opdef.name}]") from None
    if opdef.single:
        dtype = _from_numpy(result.dtype)
        out = (
            EagerTensor(result, dtype)
            if dtype is not None and dtype is not _STRING
            else _wrap(result)
        )
        if ctx.tapes:
            _record(opdef, attrs, inputs, (out,))
        return out
    outs = tuple(_wrap(r) for r in result)
    if ctx.tapes:
        _record(opdef, attrs, inputs, outs)
    return outs


def _kernel(opdef: OpDef, inputs, attrs):
    """The compiled kernel for this call and the values of its dynamic inputs."""
    if attrs:
        akey = _attr_key(opdef, attrs)
    else:
        akey = opdef.default_key
        if akey is None:
            opdef.full_attrs(attrs)  # raises TypeError naming the missing attr
    if opdef.kernel_types:
        akey = akey + opdef.type_key(inputs, attrs)
    if opdef.static_index:
        static = _static_positions(opdef, attrs) if opdef.has_lists else opdef.static_index
        key = (akey, tuple([static_value(inputs[i]) for i in static]))
        values = [t._value for i, t in enumerate(inputs) if i not in static]
    else:
        key = (akey, ())
        values = [t._value for t in inputs]
    fn = opdef._cache.get(key)
    if fn is None:
        fn = opdef.compiled(key)
    return fn, values


def _wrap(value) -> EagerTensor:
    dtype = _from_numpy(value.dtype)
    if dtype is None:
        # Opaque values (a TensorList's) carry their flowstone dtype (variant) themselves.
        dtype = value.dtype if value.dtype.__class__ is dtypes.DType else dtypes.from_numpy(value.dtype)
    if dtype is _STRING and not isinstance(value, np.ndarray):
        value = np.asarray(value, dtype=object)
    return EagerTensor(value, dtype)


def _attr_key(opdef: OpDef, attrs) -> tuple:
    """The attr part of the cache key: `(name, value)` pairs for every value attr, by name."""
    names = opdef.attr_names
    try:
        key = tuple(
            [(k, v if v.__class__ in _PLAIN else hashable(v)) for k in names for v in (attrs[k],)]
        )
    except KeyError:
        key = None
    if key is not None:
        if len(attrs) == len(names) or all(k in opdef.attrs or k in opdef.inferred for k in attrs):
            return key
    # Some attrs are defaulted, or the caller passed inferred ones (N, T): check and merge.
    full = opdef.full_attrs(attrs)
    return tuple((k, hashable(full[k])) for k in names)


def _static_positions(opdef: OpDef, attrs):
    """Where the static inputs sit in the flattened input list (list inputs expanded)."""
    return tuple(flat_position(opdef, k, attrs) for k in opdef.static_index)


def static_value(t: Tensor):
    """A tensor's value as hashable Python data (a tuple for rank >= 1)."""
    if t.__class__ is _IndexTensor:
        return t._static
    if isinstance(t, EagerTensor):
        v = t._value
        a = v if isinstance(v, np.ndarray) else np.asarray(v)
        return a.item() if a.ndim == 0 else hashable(a)
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


def _check_list_dtypes(opdef: OpDef, inputs, attrs) -> None:
    """`execute()`'s dtype checks for ops with list inputs (positions depend on list lengths)."""
    for i, j in opdef.same_checks:
        a, b = flat_position(opdef, i, attrs), flat_position(opdef, j, attrs)
        if inputs[a]._dtype is not inputs[b]._dtype:
            raise dtype_error(opdef.name, a, inputs[b]._dtype, inputs[a]._dtype)
    for k, attr, allowed, fixed in opdef.type_checks:
        arg = opdef.inputs[k]
        start = flat_position(opdef, k, attrs) if k else 0
        for i in range(start, start + attrs[arg.number_attr]) if arg.number_attr else (start,):
            dt = inputs[i]._dtype
            if allowed is not None and dt not in allowed:
                raise _not_allowed(opdef, attr, dt, allowed)
            if fixed is not None and dt is not fixed:
                raise dtype_error(opdef.name, i, fixed, dt)


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
