"""TF's tracing rules: cache keys, input signatures, shape relaxation and retrace reports.

A key describes the arguments: tensors and specs by dtype and shape, variables by dtype
and shape, Python values by value, nests by structure. A trace serves every call whose
key is a subtype of its own (same structure and values, each shape at least as specific).
"""

from __future__ import annotations

import inspect

from flowstone.core import dtypes
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import Tensor, convert_to_tensor
from flowstone.graph import nest
from flowstone.graph.spec import TensorSpec


class LeafKey(tuple):
    """The key of one argument leaf: ("T"|"V", dtype, dims), ("P", type, value) or ("O", id).

    A TensorArray (or TensorArraySpec) is ("A", dtype, element dims, dynamic_size, infer_shape).
    """

    __slots__ = ()


def _dims(shape):
    shape = TensorShape(shape)
    return None if shape.rank is None else tuple(shape.as_list())


def _is_variable(x) -> bool:
    from flowstone.core.variables import Variable

    return isinstance(x, Variable)


def _array_types():
    from flowstone.graph.tensor_array import TensorArray, TensorArraySpec

    return TensorArray, TensorArraySpec


def is_tensor_leaf(x) -> bool:
    return isinstance(x, Tensor) or _is_variable(x) or isinstance(x, _array_types()[0])


def leaf_key(x) -> LeafKey:
    if isinstance(x, (Tensor, TensorSpec)):
        return LeafKey(("T", x.dtype, _dims(x.shape)))
    if _is_variable(x):
        return LeafKey(("V", x.dtype, _dims(x.shape)))
    if isinstance(x, _array_types()):
        return LeafKey(("A", x.dtype, _dims(x.element_shape), bool(x.dynamic_size), bool(x._infer_shape)))
    try:
        hash(x)
    except TypeError:
        return LeafKey(("O", id(x)))
    return LeafKey(("P", type(x), x))


def trace_key(pos, kw):
    return nest.structure_key((tuple(pos), dict(kw)), leaf_key)


def is_subtype(a, b) -> bool:
    """True when arguments with key `a` can run on the trace made for key `b`."""
    if a == b:
        return True
    if isinstance(a, LeafKey) or isinstance(b, LeafKey):
        if not (isinstance(a, LeafKey) and isinstance(b, LeafKey)):
            return False
        if a[0] != b[0] or a[0] not in ("T", "V", "A") or a[1] is not b[1] or a[3:] != b[3:]:
            return False
        return TensorShape(a[2]).is_subtype_of(TensorShape(b[2]))
    if not (isinstance(a, tuple) and isinstance(b, tuple)) or len(a) != len(b):
        return False
    return all(is_subtype(x, y) for x, y in zip(a, b))


def relax(traces, key, pos, kw):
    """Arguments generalized against the closest earlier trace (`reduce_retracing=True`)."""
    for old, _ in reversed(traces):
        general = _generalize(key, old)
        if general is not None:
            leaves = nest.flatten((tuple(pos), dict(kw)))
            specs = iter(_leaf_keys(general))
            out = []
            for leaf in leaves:
                k = next(specs)
                if isinstance(leaf, Tensor):
                    out.append(TensorSpec(TensorShape(None if k[2] is None else list(k[2])), leaf.dtype))
                else:
                    out.append(leaf)
            return nest.pack_sequence_as((tuple(pos), dict(kw)), out)
    return pos, kw


def _leaf_keys(key):
    if isinstance(key, LeafKey):
        return [key]
    out = []
    for x in key:
        if isinstance(x, tuple):
            out.extend(_leaf_keys(x))
    return out


def _generalize(a, b):
    if isinstance(a, LeafKey) or isinstance(b, LeafKey):
        if not (isinstance(a, LeafKey) and isinstance(b, LeafKey)):
            return None
        if a == b:
            return a
        if a[0] == b[0] == "T" and a[1] is b[1]:
            return LeafKey(("T", a[1], _dims(TensorShape(a[2]).most_specific_compatible_shape(TensorShape(b[2])))))
        return None
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) != len(b):
            return None
        parts = []
        for x, y in zip(a, b):
            g = _generalize(x, y) if isinstance(x, tuple) else (x if x == y else None)
            if g is None:
                return None
            parts.append(g)
        return tuple(parts)
    return a if a == b else None


# --- input_signature ---------------------------------------------------------------------------


def normalize_input_signature(input_signature, fn_signature):
    if input_signature is None:
        return None
    if not isinstance(input_signature, (list, tuple)):
        raise TypeError(f"input_signature must be either a tuple or a list, received {type(input_signature)}.")
    for leaf in nest.flatten(list(input_signature)):
        if not isinstance(leaf, (TensorSpec, _array_types()[1])):
            raise TypeError(f"input_signature must be a possibly nested sequence of TensorSpec objects, got "
                            f"invalid args {leaf!r} with type {type(leaf)}.")
    return tuple(input_signature)


def signature_text(fn) -> str:
    params = _params(fn)
    parts = [f"{name}: {spec!r}" for name, spec in zip(params, fn._input_signature)]
    return "(" + ", ".join(parts) + ")"


def _params(fn):
    sig = fn._fn_signature
    if sig is None:
        return [f"arg{i}" for i in range(len(fn._input_signature))]
    return [p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def apply_input_signature(fn, args, kwargs, from_specs=False):
    """(call args, trace args): the arguments checked against `input_signature`, and the specs."""
    specs = fn._input_signature
    if kwargs:
        names = _params(fn)
        args = list(args)
        for name in names[len(args):len(specs)]:
            if name in kwargs:
                args.append(kwargs.pop(name))
    if len(args) != len(specs) or kwargs:
        raise TypeError(
            f"Binding inputs to tf.function failed due to `too many positional arguments` or missing arguments. "
            f"Received args: {tuple(args)} and kwargs: {kwargs} for signature: {signature_text(fn)}."
        )
    converted = []
    for value, spec in zip(args, specs):
        if not nest.assert_same_structure(value, spec):
            raise _binding_error(fn, args, kwargs, f"Can not cast {value!r} to {spec!r}")
        leaves = []
        for v, s in zip(nest.flatten(value), nest.flatten(spec)):
            if from_specs and isinstance(v, (TensorSpec, _array_types()[1])):
                leaves.append(v)
                continue
            if isinstance(s, _array_types()[1]):
                if not isinstance(v, _array_types()[0]) or not s.is_compatible_with(v):
                    raise _binding_error(fn, args, kwargs, f"Can not cast {v!r} to {s!r}")
                leaves.append(v)
                continue
            if not isinstance(v, Tensor) and not _is_variable(v):
                try:
                    v = convert_to_tensor(v, dtype_hint=s.dtype)
                except (TypeError, ValueError):
                    raise _binding_error(fn, args, kwargs, f"Can not cast {v!r} to {s!r}") from None
            if v.dtype is not s.dtype or not s.shape.is_compatible_with(v.shape):
                got = TensorSpec(v.shape, v.dtype)
                raise _binding_error(fn, args, kwargs, f"Can not cast {got!r} to {s!r}")
            leaves.append(v)
        converted.append(nest.pack_sequence_as(value, leaves))
    trace_args = tuple(nest.map_structure(lambda s: s, spec) for spec in specs)
    return (tuple(converted), {}), (trace_args, {})


def _binding_error(fn, args, kwargs, why):
    return TypeError(
        f"Binding inputs to tf.function failed due to `{why}`. Received args: {tuple(args)} and kwargs: "
        f"{kwargs} for signature: {signature_text(fn)}."
    )


def follow_type_hints(fn_signature, pos, kw):
    """Arguments annotated `tf.Tensor` are converted to tensors (so Python values do not retrace)."""
    params = list(fn_signature.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]

    def convert(param, value):
        hinted = param is not None and (param.annotation is Tensor or param.annotation in ("tf.Tensor", "Tensor"))
        return convert_to_tensor(value) if hinted and not is_tensor_leaf(value) else value

    pos = tuple(convert(positional[i] if i < len(positional) else None, v) for i, v in enumerate(pos))
    kw = {k: convert(fn_signature.parameters.get(k), v) for k, v in kw.items()}
    return pos, kw


def fast_path_ok(fn_signature) -> bool:
    """Calls with positional arguments only may skip binding unless a default is a tensor."""
    if fn_signature is None:
        return False
    for p in fn_signature.parameters.values():
        if p.default is not inspect.Parameter.empty and nest.flatten(p.default) and any(
            is_tensor_leaf(x) for x in nest.flatten(p.default)
        ):
            return False
    return True


def match_concrete(cf, args, kwargs):
    """The tensor leaves of a call of a ConcreteFunction, checked against its trace."""
    structured = cf.graph.structured_input_signature
    placeholders = cf.graph.inputs[: cf._arg_count]
    if structured is not None and cf._signature is not None:
        try:
            from flowstone.graph.funcgraph import bind_arguments

            pos, kw = bind_arguments(cf._signature, args, kwargs)
        except TypeError:
            pos, kw = None, None
        if pos is not None:
            got = nest.flatten((tuple(pos), dict(kw)))
            want = nest.flatten((tuple(structured[0]), dict(structured[1])))
            if len(got) == len(want):
                leaves = []
                for g, w in zip(got, want):
                    if isinstance(w, (TensorSpec, Tensor, _array_types()[1])):
                        leaves.append(g)
                    elif g is not w and g != w:
                        raise TypeError(f"ConcreteFunction {cf.name.decode()} was traced with {w!r} but called with {g!r}")
                return _check_leaves(cf, leaves, placeholders)
    if kwargs:
        raise TypeError(f"ConcreteFunction {cf.name.decode()} got unexpected keyword arguments {sorted(kwargs)}")
    return _check_leaves(cf, list(args), placeholders)


def _check_leaves(cf, leaves, placeholders):
    if len(leaves) != len(placeholders):
        raise TypeError(f"{cf.name.decode()} expected {len(placeholders)} tensor arguments, got {len(leaves)}")
    out = []
    for v, p in zip(leaves, placeholders):
        if p.dtype is dtypes.resource:
            out.append(v)
            continue
        if isinstance(v, _array_types()[0]):  # its list tensor is made when the call runs
            out.append(v)
            continue
        t = convert_to_tensor(v, dtype_hint=p.dtype) if not isinstance(v, Tensor) else v
        if t.dtype is not p.dtype or not p.shape.is_compatible_with(t.shape):
            raise TypeError(
                f"Binding inputs to tf.function failed due to `Can not cast {TensorSpec(t.shape, t.dtype)!r} to "
                f"{TensorSpec(p.shape, p.dtype)!r}`."
            )
        out.append(t)
    return out


# --- retrace diagnostics ----------------------------------------------------------------------


def describe_change(traces, key) -> str:
    """Which argument differs between `key` and the closest earlier trace, in words."""
    best, best_diff = None, None
    for old, cf in traces:
        diff = _diff(old, key, "")
        if best_diff is None or len(diff) < len(best_diff):
            best, best_diff = cf, diff
    fn = getattr(best, "_function", None)
    names = _params(fn) if fn is not None and fn._fn_signature is not None else []
    parts = []
    for path, what in best_diff or []:
        parts.append(f"{_name_path(path, names)}: {what}")
    return "; ".join(parts) or "the arguments changed"


def _name_path(path, names):
    # path: ".0.<i>..." for positional args, ".1.<k>..." for keyword args.
    bits = path.strip(".").split(".")
    if len(bits) >= 2 and bits[0] == "0" and bits[1].isdigit():
        i = int(bits[1])
        base = names[i] if i < len(names) else f"args[{i}]"
    elif len(bits) >= 2 and bits[0] == "1":
        base = bits[1]
    else:
        base = "arguments"
    rest = "".join(f"[{b}]" for b in bits[2:])
    return f"argument '{base}'{rest}"


def _diff(a, b, path):
    if isinstance(a, LeafKey) and isinstance(b, LeafKey):
        if a == b:
            return []
        return [(path, _leaf_change(a, b))]
    if isinstance(a, LeafKey) or isinstance(b, LeafKey) or len(a) != len(b) or (
        not isinstance(a[0], tuple) and a[0] != b[0]
    ):
        return [(path, "its structure changed")]
    if len(a) == 2 and isinstance(a[1], tuple) and not isinstance(a[0], tuple) and isinstance(a[0], type):
        ca, cb = a[1], b[1]
        if len(ca) != len(cb):
            return [(path, f"its length changed from {len(ca)} to {len(cb)}")]
        out = []
        for i, (x, y) in enumerate(zip(ca, cb)):
            if isinstance(x, tuple) and len(x) == 2 and not isinstance(x, LeafKey) and not isinstance(x[0], type):
                if x[0] != y[0]:
                    return [(path, "its keys changed")]
                out.extend(_diff(x[1], y[1], f"{path}.{x[0]}"))
            else:
                out.extend(_diff(x, y, f"{path}.{i}"))
        return out
    return [] if a == b else [(path, "it changed")]


def _leaf_change(a, b) -> str:
    if a[0] != b[0]:
        return f"changed kind from {_kind(a)} to {_kind(b)}"
    if a[0] in ("T", "V", "A"):
        if a[1] is not b[1]:
            return f"dtype changed from {a[1].name} to {b[1].name}"
        if a[3:] != b[3:]:
            return f"(dynamic_size, infer_shape) changed from {a[3:]} to {b[3:]}"
        what = "element shape" if a[0] == "A" else "shape"
        return f"{what} changed from {TensorShape(a[2])} to {TensorShape(b[2])}"
    if a[0] == "P":
        return f"Python value changed from {a[2]!r} to {b[2]!r}"
    return "a different Python object was passed"


def _kind(k):
    return {"T": "tensor", "V": "variable", "A": "TensorArray", "P": "Python value", "O": "Python object"}[k[0]]


def retrace_warning(fn, count) -> str:
    lines = [
        f"{count} out of the last {fn._calls} calls to {fn._python_function!r} triggered tf.function "
        "retracing. Tracing is expensive and the excessive number of tracings could be due to (1) creating "
        "@tf.function repeatedly in a loop, (2) passing tensors with different shapes, (3) passing Python "
        "objects instead of tensors.",
        f"Retraces of '{fn._name}' and their causes:",
    ]
    for i, why in enumerate(fn._retraces, start=2):
        lines.append(f"  trace {i}: {why}")
    lines.append(
        "To avoid them: give the function an `input_signature` with unknown dimensions (for example "
        "tf.TensorSpec(shape=[None], dtype=...)), or use `reduce_retracing=True`; pass changing Python "
        "values as tensors."
    )
    return "\n".join(lines)
