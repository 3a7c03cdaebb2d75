"""Graphs as data: `GraphDef` export (TF op names, attrs, a function library for control
flow bodies) and `tf.graph_util.import_graph_def` / a loader that rebuilds a callable.

Type attrs (`T`, `Tidx`, `N`, `Tin`, ...) are written from the inputs' dtypes through the
OpDef's argument rules; function-valued attrs (If branches, While bodies) name
`FunctionDef`s in the library, whose node inputs use TF's `node:output_arg:index` form.
"""

from __future__ import annotations

import re

import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import ctx, graph_mode
from flowstone.core.registry import OPS
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import EagerTensor

PRODUCER = 2474  # TensorFlow 2.21's GRAPH_DEF_VERSION


def _pb():
    from flowstone.protos import attr_value_pb2, function_pb2, graph_pb2, node_def_pb2, op_def_pb2

    return attr_value_pb2, function_pb2, graph_pb2, node_def_pb2, op_def_pb2


# --- attrs ------------------------------------------------------------------------------------


def _is_function(v) -> bool:
    g = getattr(v, "graph", v)
    return hasattr(g, "nodes") and hasattr(g, "inputs") and hasattr(g, "outputs")


def _attr_value(v, library):
    attr_value_pb2 = _pb()[0]
    a = attr_value_pb2.AttrValue()
    if isinstance(v, dtypes.DType):
        a.type = v.as_datatype_enum
    elif isinstance(v, TensorShape):
        a.shape.CopyFrom(v.as_proto())
    elif isinstance(v, bool):
        a.b = v
    elif isinstance(v, (int, np.integer)):
        a.i = int(v)
    elif isinstance(v, (float, np.floating)):
        a.f = float(v)
    elif isinstance(v, str):
        a.s = v.encode()
    elif isinstance(v, bytes):
        a.s = v
    elif isinstance(v, (np.ndarray, np.generic)):
        from flowstone.module.tensor_util import make_tensor_proto

        a.tensor.CopyFrom(make_tensor_proto(np.asarray(v)))
    elif _is_function(v):
        a.func.name = library.add(getattr(v, "graph", v))
    elif isinstance(v, (list, tuple)):
        a.list.SetInParent()
        for x in v:
            if isinstance(x, dtypes.DType):
                a.list.type.append(x.as_datatype_enum)
            elif isinstance(x, TensorShape) or x is None:
                a.list.shape.add().CopyFrom(TensorShape(x).as_proto())
            elif isinstance(x, bool):
                a.list.b.append(x)
            elif isinstance(x, (int, np.integer)):
                a.list.i.append(int(x))
            elif isinstance(x, (float, np.floating)):
                a.list.f.append(float(x))
            elif isinstance(x, (str, bytes)):
                a.list.s.append(x.encode() if isinstance(x, str) else x)
            elif _is_function(x):
                a.list.func.add(name=library.add(getattr(x, "graph", x)))
            else:
                raise TypeError(f"attr list item {x!r} has no AttrValue form")
    else:
        raise TypeError(f"attr value {v!r} has no AttrValue form")
    return a


def _node_attrs(node, library):
    """TF's attrs of a node: the value attrs plus the type attrs implied by its inputs."""
    opdef = node._opdef
    out = {}
    i = 0
    for arg in opdef.inputs:
        if arg.number_attr and arg.number_attr == arg.type_attr:
            n = len(node.attrs.get(arg.number_attr) or [])
            out[arg.type_attr] = [t.dtype for t in node.inputs[i:i + n]]
        elif arg.number_attr:
            n = node.attrs.get(arg.number_attr, 0)
            out[arg.number_attr] = n
            if arg.type_attr and n:
                out[arg.type_attr] = node.inputs[i].dtype
        else:
            n = 1
            if arg.type_attr:
                out.setdefault(arg.type_attr, node.inputs[i].dtype)
        i += n
    for k, v in node.attrs.items():
        if k.startswith("_") or k in out:
            continue
        if k in opdef.attrs or k in opdef.inferred:
            out[k] = v
    if node.type == "Const":
        out["value"] = np.asarray(node.attrs["value"])
    return {k: _attr_value(v, library) for k, v in out.items()}


# --- export -----------------------------------------------------------------------------------


class _Library:
    """The FunctionDefs of the graphs named by function attrs, each once, with unique names."""

    def __init__(self):
        self.names: dict = {}
        self.functions: list = []
        self.used: set = set()

    def add(self, graph) -> str:
        found = self.names.get(id(graph))
        if found is not None:
            return found
        base = re.sub(r"[^A-Za-z0-9_.\-]", "_", graph.name) or "function"
        name, n = base, 1
        while name in self.used:
            name, n = f"{base}_{n}", n + 1
        self.used.add(name)
        self.names[id(graph)] = name
        self.functions.append(function_def(graph, name, self))
        return name


def _input_name(t) -> str:
    return t.op.name if t.value_index == 0 else f"{t.op.name}:{t.value_index}"


def node_def(node, library=None):
    node_def_pb2 = _pb()[3]
    nd = node_def_pb2.NodeDef(name=node.name, op=node.type, device=node.device or "")
    nd.input.extend(_input_name(t) for t in node.inputs)
    nd.input.extend("^" + c.name for c in node.control_inputs)
    for k, a in _node_attrs(node, library or _Library()).items():
        nd.attr[k].CopyFrom(a)
    return nd


def to_graph_def(graph, add_shapes: bool = False):
    """A `GraphDef` of every node of `graph` (with the library of the functions it calls)."""
    _, _, graph_pb2, _, _ = _pb()
    library = _Library()
    gd = graph_pb2.GraphDef()
    gd.versions.producer = PRODUCER
    for node in graph.nodes:
        nd = node_def(node, library)
        if add_shapes:
            nd.attr["_output_shapes"].list.shape.extend(t.shape.as_proto() for t in node.outputs)
        gd.node.append(nd)
    gd.library.function.extend(library.functions)
    return gd


def _arg_name(name, used) -> str:
    base = re.sub(r"[^a-z0-9_]", "_", name.lower())
    if not base or not base[0].isalpha():
        base = "arg_" + base
    out, n = base, 1
    while out in used:
        out, n = f"{base}_{n}", n + 1
    used.add(out)
    return out


def _output_arg(node, index):
    """(output arg name, index within it) of output `index` of `node`."""
    i = 0
    for arg in node._opdef.outputs:
        if arg.number_attr:
            n = node.attrs.get(arg.number_attr, 0)
            n = len(n) if isinstance(n, list) else int(n)
        else:
            n = 1
        if index < i + n:
            return arg.name, index - i
        i += n
    raise ValueError(f"{node.name} has no output {index}")


def function_def(graph, name, library=None):
    """A `FunctionDef` for a function graph (its inputs are args, its outputs rets)."""
    _, function_pb2, _, _, op_def_pb2 = _pb()
    library = library or _Library()
    fd = function_pb2.FunctionDef()
    fd.signature.name = name
    used, args = set(), {}
    for p in graph.inputs:
        arg = _arg_name(p.op.name, used)
        args[id(p)] = arg
        fd.signature.input_arg.add(name=arg, type=p.dtype.as_datatype_enum)

    def ref(t):
        if id(t) in args:
            return args[id(t)]
        arg, k = _output_arg(t.op, t.value_index)
        return f"{t.op.name}:{arg}:{k}"

    for node in graph.nodes:
        if node.type == "Placeholder":
            continue
        nd = node_def(node, library)
        del nd.input[:]
        nd.input.extend(ref(t) for t in node.inputs)
        fd.node_def.append(nd)
    for i, t in enumerate(graph.outputs):
        out = f"output_{i}"
        fd.signature.output_arg.add(name=out, type=t.dtype.as_datatype_enum)
        fd.ret[out] = ref(t)
    if any(n._opdef.stateful and n.type not in ("Const",) for n in graph.nodes):
        fd.signature.is_stateful = True
    del op_def_pb2
    return fd


# --- import -----------------------------------------------------------------------------------


def _from_attr(a, functions):
    kind = a.WhichOneof("value")
    if kind == "type":
        return dtypes.as_dtype(a.type)
    if kind == "shape":
        return _shape(a.shape)
    if kind in ("i", "f", "b"):
        return getattr(a, kind)
    if kind == "s":
        try:
            return a.s.decode()
        except UnicodeDecodeError:
            return a.s
    if kind == "tensor":
        from flowstone.module.tensor_util import make_ndarray

        return make_ndarray(a.tensor)
    if kind == "func":
        return functions(a.func.name)
    if kind == "list":
        lst = a.list
        if lst.type:
            return [dtypes.as_dtype(t) for t in lst.type]
        if lst.shape:
            return [_shape(s) for s in lst.shape]
        if lst.func:
            return [functions(f.name) for f in lst.func]
        for field in ("i", "f", "b"):
            if getattr(lst, field):
                return list(getattr(lst, field))
        if lst.s:
            return [s.decode() for s in lst.s]
        return []
    return None


def _shape(proto) -> TensorShape:
    if proto.unknown_rank:
        return TensorShape(None)
    return TensorShape([None if d.size < 0 else d.size for d in proto.dim])


def _create(graph, nd, inputs, functions):
    """Adds the node described by NodeDef `nd` to `graph`; returns its outputs."""
    opdef = OPS.get(nd.op)
    if opdef is None:
        from flowstone.core.errors import NotFoundError

        raise NotFoundError(None, None, f"Op type not registered '{nd.op}' in flowstone (node {nd.name})")
    if nd.op == "Const":
        value = _from_attr(nd.attr["value"], functions)
        dt = dtypes.as_dtype(nd.attr["dtype"].type)
        return [graph.capture_constant(EagerTensor(value.astype(dt.as_numpy_dtype) if dt is not dtypes.string
                                                   else value, dt), nd.name)]
    attrs = {}
    for k, a in nd.attr.items():
        if k.startswith("_"):
            continue
        if k in opdef.attrs or k in {arg.number_attr for arg in opdef.inputs if arg.number_attr}:
            attrs[k] = _from_attr(a, functions)
    for arg in opdef.inputs:
        if arg.number_attr and arg.number_attr == arg.type_attr and arg.number_attr in attrs:
            attrs[arg.number_attr] = len(attrs[arg.number_attr])
    if nd.op == "Placeholder":
        return [graph.placeholder(attrs["dtype"], attrs.get("shape", TensorShape(None)), nd.name)]
    return graph.create_op(opdef, inputs, attrs, name=nd.name)


class _Functions:
    """Rebuilds FuncGraphs from a FunctionDef library on demand (each once)."""

    def __init__(self, library):
        self.defs = {f.signature.name: f for f in library.function}
        self.built: dict = {}

    def __call__(self, name):
        g = self.built.get(name)
        if g is None:
            g = self.built[name] = self._build(self.defs[name])
        return g

    def _build(self, fd):
        from flowstone.graph.funcgraph import FuncGraph

        g = FuncGraph(fd.signature.name, outer_graph=None)
        env = {}
        with graph_mode(g):
            for arg in fd.signature.input_arg:
                env[arg.name] = g.placeholder(dtypes.as_dtype(arg.type), TensorShape(None), arg.name)
            g.inputs = [env[a.name] for a in fd.signature.input_arg]
            outputs = {}
            pending = list(fd.node_def)
            while pending:
                progressed = False
                for nd in list(pending):
                    refs = [r for r in nd.input if not r.startswith("^")]
                    if not all(self._ready(r, env, outputs) for r in refs):
                        continue
                    ins = [self._resolve(r, env, outputs) for r in refs]
                    outs = _create(g, nd, ins, self)
                    outputs[nd.name] = (nd, outs)
                    pending.remove(nd)
                    progressed = True
                if not progressed:
                    raise ValueError(f"function {fd.signature.name} has a cycle or a missing input")
            g.outputs = [self._resolve(fd.ret[a.name], env, outputs) for a in fd.signature.output_arg]
        g.inputs = g.inputs + g.internal_captures
        return g

    @staticmethod
    def _ready(ref, env, outputs):
        return ref in env or ref.split(":")[0] in outputs

    @staticmethod
    def _resolve(ref, env, outputs):
        if ref in env:
            return env[ref]
        parts = ref.split(":")
        nd, outs = outputs[parts[0]]
        if len(parts) == 1:
            return outs[0]
        if len(parts) == 2:
            return outs[int(parts[1])]
        node = outs[0].op if outs else None
        i = 0
        for arg in node._opdef.outputs:
            n = node.attrs.get(arg.number_attr, 1) if arg.number_attr else 1
            n = len(n) if isinstance(n, list) else int(n)
            if arg.name == parts[1]:
                return outs[i + int(parts[2])]
            i += n
        raise ValueError(f"cannot resolve function input {ref}")


def import_into(graph, graph_def, input_map=None, prefix=""):
    """Adds the nodes of `graph_def` to `graph`; returns a dict name -> list of outputs."""
    import flowstone.ops  # noqa: F401 - registers every raw op a GraphDef may name

    functions = _Functions(graph_def.library)
    input_map = dict(input_map or {})
    outputs: dict = {}
    pending = list(graph_def.node)
    with graph_mode(graph):
        ctx.scope = prefix
        while pending:
            progressed = False
            for nd in list(pending):
                refs = [r for r in nd.input if not r.startswith("^")]
                if not all(r in input_map or _base(r) in input_map or r.split(":")[0] in outputs for r in refs):
                    continue
                mapped = input_map.get(nd.name + ":0")
                if mapped is not None and nd.op == "Placeholder":
                    outs = [graph._own(mapped)]
                else:
                    outs = _create(graph, nd, [_lookup(r, input_map, outputs) for r in refs], functions)
                outputs[nd.name] = outs
                pending.remove(nd)
                progressed = True
            if not progressed:
                raise ValueError("graph_def has a cycle or an input that is not in the graph")
    return outputs


def _base(ref):
    return ref + ":0" if ":" not in ref else ref


def _lookup(ref, input_map, outputs):
    for key in (ref, _base(ref)):
        if key in input_map:
            return input_map[key]
    name, _, index = ref.partition(":")
    return outputs[name][int(index or 0)]


@export("graph_util.import_graph_def", "import_graph_def")
def import_graph_def(graph_def, input_map=None, return_elements=None, name=None, op_dict=None,
                     producer_op_list=None):
    """Imports a `GraphDef` into the graph being built (inside `tf.function` / a `tf.Graph`).

    Args:
      graph_def: a `GraphDef` proto (or its serialized bytes).
      input_map: dict mapping tensor names in `graph_def` ("x:0") to tensors to use instead.
      return_elements: names of tensors ("y:0") or operations ("y") to return.
      name: prefix for the imported names (default "import").

    Returns:
      The requested tensors/operations, or None when `return_elements` is None.

    >>> import flowstone as tf
    >>> g = tf.function(lambda x: x * 2.0).get_concrete_function(tf.TensorSpec([], tf.float32)).graph
    >>> f = tf.graph_util.function_from_graph_def(g.as_graph_def(), ["x:0"], ["Identity:0"])
    >>> print(f(tf.constant(3.0))[0].numpy())
    6.0
    """
    graph_def = _as_graph_def(graph_def)
    graph = ctx.graph
    if graph is None:
        raise RuntimeError("import_graph_def needs a graph: call it inside tf.function or a tf.Graph().as_default()")
    prefix = "import/" if name is None else (name + "/" if name else "")
    outputs = import_into(graph, graph_def, input_map, prefix)
    if return_elements is None:
        return None
    result = []
    for ref in return_elements:
        op_name, _, index = ref.partition(":")
        outs = outputs[op_name]
        result.append(outs[int(index)] if index else (outs[0].op if outs else None))
    return result


def _as_graph_def(graph_def):
    graph_pb2 = _pb()[2]
    if isinstance(graph_def, (bytes, bytearray)):
        return graph_pb2.GraphDef.FromString(bytes(graph_def))
    if not hasattr(graph_def, "node"):
        raise TypeError(f"graph_def must be a GraphDef proto, got {type(graph_def).__name__}")
    return graph_def


@export("graph_util.function_from_graph_def")
def function_from_graph_def(graph_def, inputs, outputs):
    """A callable ConcreteFunction running `graph_def` from tensors `inputs` to `outputs` (names).

    >>> import flowstone as tf
    >>> g = tf.function(lambda x: x + 1).get_concrete_function(tf.TensorSpec([], tf.int32)).graph
    >>> f = tf.graph_util.function_from_graph_def(g.as_graph_def(), ["x:0"], ["Identity:0"])
    >>> print(f(tf.constant(1))[0].numpy())
    2
    """
    from flowstone.graph.concrete import ConcreteFunction
    from flowstone.graph.funcgraph import FuncGraph

    graph_def = _as_graph_def(graph_def)
    g = FuncGraph("imported")
    found = import_into(g, graph_def, None, "")
    g.inputs = [found[_ref(n)[0]][_ref(n)[1]] for n in inputs] + g.internal_captures
    g.outputs = [found[_ref(n)[0]][_ref(n)[1]] for n in outputs]
    g.structured_outputs = list(g.outputs)
    return ConcreteFunction(g, None, "imported")


def _ref(name):
    op_name, _, index = name.partition(":")
    return op_name, int(index or 0)
