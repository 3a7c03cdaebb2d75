"""The IR verifier: structural invariants every graph (and function it calls) must keep."""

from __future__ import annotations

from flowstone.core.registry import OPS


class GraphError(ValueError):
    """A graph breaks an invariant of the IR (a bug in whatever built it)."""


def verify(graph, _seen=None) -> None:
    """Raises GraphError unless: names are unique, every input is an earlier output of the same
    graph, dtypes follow the OpDef's argument rules, and function attrs verify too."""
    seen = set() if _seen is None else _seen
    if id(graph) in seen:
        return
    seen.add(id(graph))
    from flowstone.graph import lowering

    defined, names = set(), set()
    for node in graph.nodes:
        if node.name in names:
            raise GraphError(f"duplicate node name {node.name!r} in {graph.name}")
        names.add(node.name)
        if OPS.get(node.type) is not node._opdef:
            raise GraphError(f"{node.name}: op {node.type} is not the registered OpDef")
        for i, t in enumerate(node.inputs):
            if t.graph is not graph:
                raise GraphError(f"{node.name}: input {i} ({t.name}) belongs to another graph")
            if id(t) not in defined:
                raise GraphError(f"{node.name}: input {i} ({t.name}) is used before it is defined")
        _check_types(node)
        for t in node.outputs:
            if t.op is not node:
                raise GraphError(f"{node.name}: output {t.name} does not point back at its node")
            defined.add(id(t))
        for g in lowering.function_attrs(node):
            verify(g, seen)
    for t in list(getattr(graph, "inputs", [])) + list(getattr(graph, "outputs", [])):
        if id(t) not in defined:
            raise GraphError(f"{graph.name}: input/output {t.name} is not a tensor of the graph")


def _check_types(node) -> None:
    opdef, i, bound = node._opdef, 0, {}
    for arg in opdef.inputs:
        n = node.attrs.get(arg.number_attr, 1) if arg.number_attr else 1
        n = len(n) if isinstance(n, list) else int(n)
        for t in node.inputs[i:i + n]:
            if arg.fixed is not None and t.dtype is not arg.fixed:
                raise GraphError(f"{node.name}: input {arg.name} must be {arg.fixed.name}, got {t.dtype.name}")
            if arg.type_attr and arg.number_attr != arg.type_attr:
                first = bound.setdefault(arg.type_attr, t.dtype)
                if t.dtype is not first:
                    raise GraphError(f"{node.name}: inputs of type {arg.type_attr} disagree "
                                     f"({first.name} vs {t.dtype.name})")
        i += n
    if i != len(node.inputs):
        raise GraphError(f"{node.name}: {len(node.inputs)} inputs where the OpDef implies {i}")
