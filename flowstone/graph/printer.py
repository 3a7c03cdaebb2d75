"""Text forms of graphs and signatures: `pretty_printed_signature`, `print_graph`."""

from __future__ import annotations

import inspect

from flowstone.core import dtypes
from flowstone.graph import nest
from flowstone.graph.spec import TensorSpec


def _type_text(x) -> str:
    from flowstone.core.tensor import Tensor

    if isinstance(x, TensorSpec):
        return repr(TensorSpec(x.shape, x.dtype))
    if isinstance(x, Tensor):
        if x.dtype is dtypes.resource and getattr(x, "_handle_data", None):
            dt, shape = x._handle_data
            return f"VariableSpec(shape={shape}, dtype={dt!r})"
        return repr(TensorSpec(x.shape, x.dtype))
    if isinstance(x, list):
        return "List[" + ", ".join(_type_text(v) for v in x) + "]"
    if isinstance(x, tuple):
        return "Tuple[" + ", ".join(_type_text(v) for v in x) + "]"
    if isinstance(x, dict):
        return "Dict[" + ", ".join(f"[{k!r}, {_type_text(v)}]" for k, v in x.items()) + "]"
    return f"Literal[{x!r}]"


def _parameters(cf):
    structured = cf.graph.structured_input_signature
    if structured is None:
        return []
    args, kwargs = structured
    sig = cf._signature
    out = []
    params = list(sig.parameters.values()) if sig is not None else []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for i, a in enumerate(args):
        if i < len(positional):
            out.append((positional[i].name, positional[i].kind.name, a))
        else:
            out.append((f"args_{i - len(positional)}", "VAR_POSITIONAL", a))
    kinds = {p.name: p.kind.name for p in params}
    for k, v in kwargs.items():
        out.append((k, kinds.get(k, inspect.Parameter.KEYWORD_ONLY.name), v))
    return out


def signature(cf, verbose=True) -> str:
    """TF's `pretty_printed_signature()` text."""
    lines = ["Input Parameters:"]
    for name, kind, value in _parameters(cf):
        lines.append(f"  {name} ({kind}): {_type_text(value)}")
    lines.append("Output Type:")
    lines.append(f"  {_type_text(cf.graph.structured_outputs)}")
    lines.append("Captures:")
    if not cf.graph.captures:
        lines.append("  None")
    for external, internal in cf.graph.captures:
        lines.append(f"  {id(external)}: {_type_text(internal)}")
    return "\n".join(lines)


def short_signature(cf) -> str:
    params = _parameters(cf)
    parts, star = [], False
    for name, kind, value in params:
        if kind == "KEYWORD_ONLY" and not star:
            parts.append("*")
            star = True
        parts.append(f"{name}: {_type_text(value)}")
    return f"({', '.join(parts)}) -> {_type_text(cf.graph.structured_outputs)}"


def print_graph(graph) -> str:
    """One line per node: `name = Type[attrs](inputs) -> dtype shape`."""
    lines = [f"graph {graph.name}({', '.join(t.name for t in getattr(graph, 'inputs', []))}):"]
    for node in graph.nodes:
        attrs = ", ".join(f"{k}={_attr_text(v)}" for k, v in sorted(node.attrs.items()))
        ins = ", ".join(t.name for t in node.inputs)
        outs = ", ".join(f"{t.dtype.name}{t.shape}" for t in node.outputs)
        lines.append(f"  {node.name} = {node.type}[{attrs}]({ins}) -> {outs}")
    outputs = getattr(graph, "outputs", [])
    if outputs:
        lines.append(f"  return {', '.join(t.name for t in outputs)}")
    return "\n".join(lines)


def _attr_text(v) -> str:
    import numpy as np

    if isinstance(v, np.ndarray):
        return f"<{v.dtype} {list(v.shape)}>" if v.size > 4 else repr(v.tolist())
    g = getattr(v, "graph", v)
    if hasattr(g, "nodes") and hasattr(g, "inputs"):
        return f"@{g.name}"
    return repr(v)


def compiler_ir(cf, args, stage="hlo") -> str:
    """The StableHLO text XLA compiles for `cf` at the shapes of `args` (one program)."""
    import jax

    from flowstone.graph.concrete import Program

    program = Program(cf.graph, cf._base_name)
    sources = cf._sources([a for a in nest.flatten(args) if hasattr(a, "dtype")])

    def spec(x, buffer):
        v = x._buffer if buffer else x._value
        return jax.ShapeDtypeStruct(v.shape, v.dtype)

    values = [spec(sources[i], True) for i in program.written + program.read]
    values += [spec(sources[i], False) for i in program.values]
    return program._plain.lower(*values).as_text()
