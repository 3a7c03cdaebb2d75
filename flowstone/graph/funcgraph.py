"""`FuncGraph`: the graph of one traced function, with its inputs, outputs and captures.

Tracing runs the Python function once with placeholders for its tensor arguments while
`ctx.graph` points at the new graph, so every op appends a node. Values from outside
become inputs too ("captures"): a variable's handle becomes a `resource` placeholder, a
tensor of an enclosing graph a placeholder fed by the caller, and a small eager tensor a
`Const` node.
"""

from __future__ import annotations

import inspect

from flowstone.core import dtypes
from flowstone.core import tensor as tensor_module
from flowstone.core.context import ctx, graph_mode
from flowstone.core.registry import OPS
from flowstone.core.shape import TensorShape, as_shape
from flowstone.core.tensor import EagerTensor, Tensor, convert_to_tensor
from flowstone.graph import nest
from flowstone.graph.graphlib import Graph, Operation, SymbolicTensor, user_frames
from flowstone.graph.spec import TensorSpec

# Eager tensors up to this many elements are embedded as constants; larger ones are fed.
_EMBED_LIMIT = 64


class InaccessibleTensorError(ValueError):
    """A tensor of a graph that is out of scope was used (TF's InaccessibleTensorError)."""


class FuncGraph(Graph):
    """The graph of a traced function: `inputs` (arguments, then captures) and `outputs`."""

    def __init__(self, name: str, outer_graph=None):
        super().__init__(name)
        self.inputs: list = []
        self.outputs: list = []
        self.captures: list = []  # (external value, internal placeholder)
        self.capture_sources: list = []  # the value each capture was made from (a handle, a tensor)
        self._capture_map: dict = {}
        self.outer_graph = outer_graph
        self.structured_input_signature = None
        self.structured_outputs = None
        self.variables: list = []
        self.proxies: dict = {}  # id(resource placeholder) -> the variable argument it stands for
        self.init_scope_sites: list = []

    def placeholder(self, dtype, shape, name="Placeholder", handle_data=None):
        node = Operation(self, OPS["Placeholder"], self.unique_name(name), [],
                         {"dtype": dtype, "shape": as_shape(shape)})
        t = SymbolicTensor(node, 0, dtype, as_shape(shape))
        t._handle_data = handle_data
        node.outputs = [t]
        self._add(node)
        return t

    def capture(self, t, name=None):
        found = self._capture_map.get(id(t))
        if found is not None:
            return found
        if isinstance(t, EagerTensor):
            if t.dtype is dtypes.resource:
                return self._capture_handle(t, name)
            if t.dtype is dtypes.string or t._value.size <= _EMBED_LIMIT or self.is_operand(t):
                return self.embed(t, name)
            external = self.outer_graph.capture(t) if self.outer_graph is not None else t
            return self._add_capture(t, external, t.dtype, t.shape, None, name)
        if isinstance(t, SymbolicTensor):
            if t.graph is self:
                return t
            if not self._is_ancestor(t.graph):
                raise InaccessibleTensorError(
                    f"The tensor {t!r} cannot be accessed from {self!r}, because it was defined in "
                    f"{t.graph!r}, which is out of scope."
                )
            external = t if t.graph is self.outer_graph else self.outer_graph.capture(t)
            return self._add_capture(t, external, t.dtype, t.shape, t._handle_data)
        with graph_mode(self):
            return self._own(convert_to_tensor(t), name)

    def is_operand(self, t) -> bool:
        """Whether eager `t` holds a Python value converted while building this graph."""
        return id(t) in self.operands or id(t) in tensor_module.OPERANDS

    def _capture_handle(self, h, name=None):
        var = h.variable() if hasattr(h, "variable") else None
        if var is not None and all(v is not var for v in self.variables):
            self.variables.append(var)
        external = self.outer_graph.capture(h) if self.outer_graph is not None else h
        data = (h._var_dtype, TensorShape(h._buffer.shape))
        return self._add_capture(h, external, dtypes.resource, TensorShape([]), data, name)

    def _add_capture(self, t, external, dtype, shape, handle_data, name=None):
        if name is None:
            name = _placeholder_name(getattr(t, "_name", None) if dtype is dtypes.resource else None)
        ph = self.placeholder(dtype, shape, name, handle_data)
        self.captures.append((external, ph))
        self.capture_sources.append(t)
        self._capture_map[id(t)] = ph
        self._keep.append(t)
        return ph

    def _is_ancestor(self, graph) -> bool:
        g = self.outer_graph
        while g is not None:
            if g is graph:
                return True
            g = getattr(g, "outer_graph", None)
        return False

    def _on_init_scope(self):
        self.init_scope_sites.append(user_frames())

    @property
    def external_captures(self):
        return [e for e, _ in self.captures]

    @property
    def internal_captures(self):
        return [i for _, i in self.captures]

    def __repr__(self):
        return f"FuncGraph(name={self.name}, id={id(self)})"


def _placeholder_name(name):
    if not name:
        return "Placeholder"
    return name.replace("/", "_").replace(":", "_")


# --- tracing ----------------------------------------------------------------------------------


def make_placeholders(graph: FuncGraph, structure, names):
    """Replaces each tensor, spec or variable leaf of `structure` by a graph input."""
    from flowstone.core.variables import Variable
    from flowstone.graph import tensor_array

    leaves, placeholders = [], []
    for leaf, name in zip(nest.flatten(structure), names):
        if isinstance(leaf, (tensor_array.TensorArray, tensor_array.TensorArraySpec)):
            ph = graph.placeholder(dtypes.variant, [], name)
            leaves.append(tensor_array.from_spec(tensor_array.spec_of(leaf), ph))
            placeholders.append(ph)
        elif isinstance(leaf, Variable):
            h = leaf._handle
            ph = graph.placeholder(dtypes.resource, [], name,
                                   (leaf.dtype, TensorShape(getattr(h, "_buffer", None).shape)
                                    if hasattr(h, "_buffer") else leaf.shape))
            proxy = _variable_proxy(leaf, ph)
            graph.proxies[id(ph)] = proxy
            leaves.append(proxy)
            placeholders.append(ph)
        elif isinstance(leaf, TensorSpec):
            ph = graph.placeholder(leaf.dtype, leaf.shape, leaf.name or name)
            leaves.append(ph)
            placeholders.append(ph)
        elif isinstance(leaf, Tensor):
            ph = graph.placeholder(leaf.dtype, leaf.shape, name)
            ph._handle_data = getattr(leaf, "_handle_data", None)
            leaves.append(ph)
            placeholders.append(ph)
        else:
            leaves.append(leaf)
    return nest.pack_sequence_as(structure, leaves), placeholders


def _variable_proxy(var, handle):
    """The same variable seen through a graph input: reads and writes go to `handle`."""
    proxy = object.__new__(type(var))
    proxy.__dict__.update(var.__dict__)
    proxy._handle = handle
    return proxy


def leaf_names(fn_signature, args, kwargs):
    """A placeholder name per leaf of (args, kwargs): the parameter it was passed as."""
    names = []
    params = list(fn_signature.parameters.values()) if fn_signature is not None else []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var_pos = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), "args")
    for i, a in enumerate(args):
        base = positional[i].name if i < len(positional) else var_pos
        names.extend([base] * len(nest.flatten(a)))
    for k in sorted(kwargs):
        names.extend([k] * len(nest.flatten(kwargs[k])))
    return names


def trace(name, fn, args, kwargs, signature=None, outer_graph=None, add_identity=True):
    """Traces `fn(*args, **kwargs)` into a new FuncGraph (tensor/spec leaves become inputs)."""
    graph = FuncGraph(name, outer_graph if outer_graph is not None else ctx.graph)
    names = leaf_names(signature, args, kwargs)
    with graph_mode(graph):
        (pargs, pkwargs), placeholders = make_placeholders(graph, (tuple(args), dict(kwargs)), names)
        graph.structured_input_signature = _signature_of(pargs, pkwargs)
        result = fn(*pargs, **pkwargs)
        outputs = finish_outputs(graph, result, add_identity)
    graph.inputs = placeholders + graph.internal_captures
    graph.outputs = outputs
    return graph


def finish_outputs(graph, result, add_identity=True):
    """Converts the tensor leaves of `result` to outputs (through Identity nodes, as TF)."""
    from flowstone.core.variables import Variable
    from flowstone.graph.tensor_array import TensorArray
    from flowstone.ops import array

    flat = nest.flatten(result)
    outputs, packed = [], []
    for leaf in flat:
        if isinstance(leaf, Variable):
            leaf = leaf.read_value()
        if isinstance(leaf, TensorArray) and not leaf._eager:
            # A TensorArray leaves a function as its list tensor; the caller rebuilds it around that.
            t = graph._own(leaf.flow)
            if add_identity:
                t = array.identity(t)
            outputs.append(t)
            packed.append(leaf._with_flow(t))
        elif isinstance(leaf, Tensor):
            t = graph._own(leaf)
            if add_identity:
                t = array.identity(t)
            outputs.append(t)
            packed.append(t)
        elif isinstance(leaf, Operation) or leaf is None:
            packed.append(None)
        else:
            packed.append(leaf)
    graph.structured_outputs = nest.pack_sequence_as(result, packed) if nest.is_nested(result) else packed[0] \
        if packed else None
    return outputs


def _signature_of(args, kwargs):
    from flowstone.graph.tensor_array import TensorArray, spec_of

    def spec(x):
        if isinstance(x, TensorArray):
            return spec_of(x)
        if isinstance(x, SymbolicTensor):
            if x.dtype is dtypes.resource and x._handle_data is not None:
                return x
            return TensorSpec(x.shape, x.dtype, x.op.name)
        return x

    return (tuple(nest.map_structure(spec, a) for a in args),
            {k: nest.map_structure(spec, v) for k, v in kwargs.items()})


def inline(graph, values, name_scope=None):
    """Copies `graph`'s nodes into the current graph with `values` fed to its inputs."""
    target = ctx.graph
    env = {id(p): v for p, v in zip(graph.inputs, values)}
    for node in graph.nodes:
        if node.type == "Placeholder":
            if id(node.outputs[0]) not in env:
                raise ValueError(f"input {node.name} of {graph.name} was not fed")
            continue
        inputs = [env[id(t)] for t in node.inputs]
        if node.type == "Const":
            out = [target.capture_constant(EagerTensor(node.attrs["value"], node.outputs[0].dtype), None)]
        else:
            out = target.create_op(node._opdef, inputs, dict(node.attrs), name=node.name)
        for t, o in zip(node.outputs, out):
            if t._handle_data is not None:
                o._handle_data = t._handle_data
            if t.shape.rank is not None and isinstance(o, SymbolicTensor):
                o._shape = o._shape.merge_with(t.shape) if o._shape.is_compatible_with(t.shape) else o._shape
            env[id(t)] = o
    return [env[id(t)] for t in graph.outputs]


def bind_arguments(signature: inspect.Signature | None, args, kwargs):
    """The arguments as (positional tuple, keyword dict) after applying defaults."""
    if signature is None:
        return tuple(args), dict(kwargs)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.args), dict(bound.kwargs)


__all__ = ["FuncGraph", "trace", "inline", "user_frames"]
