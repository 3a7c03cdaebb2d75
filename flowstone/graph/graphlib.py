"""The IR: `Graph`, `Operation` (a node: a raw op with inputs, attrs and outputs) and the
symbolic `Tensor` that an operation outputs.

A graph is plain data. Nodes are appended in creation order, which is a topological order
(an op's inputs exist before it does), so interpreters walk `graph.nodes` front to back.
Operations expose TensorFlow's `Operation` view (`inputs`, `outputs`, `type`, `get_attr`),
which is also what gradient functions and `backprop.backward` read.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core import tensor as tensor_module
from flowstone.core.context import ctx, graph_mode
from flowstone.core.registry import OPS, OpDef
from flowstone.core.shape import TensorShape, as_shape
from flowstone.core.tensor import EagerTensor, Tensor
from flowstone.core.variables import WRITE_OPS
from flowstone.graph import builtin  # noqa: F401 - registers Const, Placeholder, NoOp

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SKIP_DIRS = (_PACKAGE_DIR + os.sep, os.path.dirname(os.__file__) + os.sep + "contextlib")


def user_frames(limit: int = 8):
    """The calling user frames (outside flowstone), innermost first: (file, line, function)."""
    frames = []
    f = sys._getframe(2)
    while f is not None and len(frames) < limit:
        path = f.f_code.co_filename
        if not path.startswith(_SKIP_DIRS) and "/jax/" not in path and not path.startswith("<frozen"):
            frames.append((path, f.f_lineno, f.f_code.co_name))
        f = f.f_back
    return tuple(frames)


@export("Operation")
class Operation:
    """A node of a graph: one raw op applied to input tensors, with attrs and outputs."""

    __slots__ = ("graph", "name", "_opdef", "inputs", "outputs", "attrs", "traceback", "control_inputs",
                 "device", "skip_input_indices", "__weakref__")

    def __init__(self, graph, opdef: OpDef, name: str, inputs, attrs):
        self.graph = graph
        self.name = name
        self._opdef = opdef
        self.inputs = inputs
        self.outputs = []
        self.attrs = attrs
        self.traceback = ()
        self.control_inputs = []
        self.device = ctx.device
        self.skip_input_indices = None  # set by backprop: inputs whose gradient is not needed

    @property
    def type(self) -> str:
        return self._opdef.name

    @property
    def op_def(self) -> OpDef:
        return self._opdef

    @property
    def _attrs(self):
        return self.attrs

    def values(self):
        return tuple(self.outputs)

    def get_attr(self, name: str):
        if name in self.attrs:
            return self.attrs[name]
        for arg, t in zip(self._opdef.inputs, self.inputs):
            if arg.type_attr == name:
                return t.dtype
        for arg in self._opdef.inputs:
            if arg.type_attr == name and arg.number_attr and self.inputs:
                return self.inputs[0].dtype
        raise ValueError(f"Operation '{self.name}' has no attr named '{name}'.")

    @property
    def node_def(self):
        from flowstone.graph import graphdef

        return graphdef.node_def(self)

    def __repr__(self):
        return f"<tf.Operation '{self.name}' type={self.type}>"


class SymbolicConversionError(NotImplementedError, TypeError):
    """A symbolic tensor has no value: TF raises NotImplementedError; helpers that probe
    values (`np.ravel(x)`) and catch TypeError keep working too."""


class SymbolicTensor(Tensor):
    """An output of a graph operation: a dtype and a (possibly partial) static shape."""

    __slots__ = ("_op", "_index", "_dtype", "_shape", "_handle_data", "_const")

    def __init__(self, op: Operation, index: int, dtype, shape: TensorShape):
        self._op = op
        self._index = index
        self._dtype = dtype
        self._shape = shape
        self._handle_data = None  # (dtype, shape) of the variable behind a resource tensor
        self._const = _UNSET

    @property
    def op(self) -> Operation:
        return self._op

    @property
    def value_index(self) -> int:
        return self._index

    @property
    def dtype(self):
        return self._dtype

    @property
    def shape(self) -> TensorShape:
        return self._shape

    @property
    def name(self) -> str:
        return f"{self._op.name}:{self._index}"

    @property
    def graph(self):
        return self._op.graph

    @property
    def device(self) -> str:
        return self._op.device

    def set_shape(self, shape) -> None:
        shape = as_shape(shape)
        if not self._shape.is_compatible_with(shape):
            raise ValueError(f"Tensor's shape {self._shape} is not compatible with supplied shape {shape}.")
        self._shape = self._shape.merge_with(shape)

    def consumers(self):
        return [n for n in self._op.graph.nodes if any(t is self for t in n.inputs)]

    def eval(self, feed_dict=None, session=None):
        raise NotImplementedError("Tensor.eval needs a tf.compat.v1.Session")

    def numpy(self):
        raise SymbolicConversionError(f"Cannot convert a symbolic tf.Tensor ({self.name}) to a numpy array.")

    def __array__(self, dtype=None, copy=None):
        raise SymbolicConversionError(
            f"Cannot convert a symbolic tf.Tensor ({self.name}) to a numpy array. This error may indicate "
            "that you're trying to pass a Tensor to a NumPy call, which is not supported."
        )

    def __bool__(self):
        from flowstone.graph.errors import OperatorNotAllowedInGraphError

        raise OperatorNotAllowedInGraphError(
            "Using a symbolic `tf.Tensor` as a Python `bool` is not allowed. You can attempt the "
            "following resolutions to the problem: If you are running in Graph mode, use Eager "
            "execution mode or decorate this function with @tf.function. If you are using AutoGraph, "
            "you can try decorating this function with @tf.function. If that does not work, then you "
            "may be using an unsupported feature or your source code may not be visible to AutoGraph."
        )

    def __index__(self):
        raise TypeError(f"Cannot use a symbolic tf.Tensor ({self.name}) as a Python index.")

    def __repr__(self):
        return f"<tf.Tensor '{self.name}' shape={self._shape} dtype={self._dtype.name}>"

    def __str__(self):
        return f'Tensor("{self.name}", shape={self._shape}, dtype={self._dtype.name})'

    def _constant_value(self):
        """The value when it is known while tracing (constants, static shapes), else None."""
        if self._const is _UNSET:
            self._const = _fold(self)
        return self._const


_UNSET = object()
_FOLD_LIMIT = 1 << 20
# Integer ops cheap enough to evaluate while tracing, so that shape arithmetic stays static.
_FOLDABLE = frozenset(
    "Identity StopGradient Pack ConcatV2 Cast StridedSlice Fill Range AddV2 Sub Mul Neg Maximum "
    "Minimum FloorDiv FloorMod Reshape ExpandDims Squeeze GatherV2 Prod Sum Slice".split()
)


def _fold(t: SymbolicTensor):
    node = t._op
    kind = node.type
    if kind == "Const":
        return node.attrs["value"]
    if kind in ("Shape", "Size", "Rank"):
        shape = node.inputs[0].shape
        if kind == "Rank":
            return None if shape.rank is None else np.array(shape.rank, np.int32)
        if not shape.is_fully_defined():
            return None
        out = node.attrs.get("out_type", dtypes.int32).as_numpy_dtype
        value = shape.as_list() if kind == "Shape" else shape.num_elements()
        return np.array(value, dtype=out)
    opdef = node._opdef
    if opdef.stateful or opdef.host or not node.inputs:
        return None
    if kind not in _FOLDABLE and not all(x.op.type == "Const" or x._const is not _UNSET for x in node.inputs):
        return None
    from flowstone.core.tensor import constant_value

    values = [constant_value(x) for x in node.inputs]
    if any(v is None for v in values) or sum(np.size(v) for v in values) > _FOLD_LIMIT:
        return None
    from flowstone.graph import lowering

    try:
        outs = lowering.eval_node_eagerly(node, values)
    except Exception:  # noqa: BLE001 - folding is an optimization; the op runs later anyway
        return None
    return np.asarray(outs[t._index])


@export("Graph")
class Graph:
    """A dataflow graph of raw-op nodes (what a traced `tf.function` builds)."""

    def __init__(self, name: str = "graph"):
        self.name = name
        self.nodes: list[Operation] = []
        self._names: dict[str, int] = {}
        self._by_name: dict[str, Operation] = {}
        self._consts: dict[int, SymbolicTensor] = {}
        self._keep: list = []
        # Eager tensors that wrappers converted from Python values while this graph was built
        # (id -> tensor): embedded as constants whatever their size, never fed as captures.
        self.operands: dict = {}
        self.collections: dict = {}

    # --- building -------------------------------------------------------------------------
    def unique_name(self, name: str, mark_used: bool = True) -> str:
        key = name.lower()
        n = self._names.get(key, 0)
        unique = name
        if n:
            while True:
                unique = f"{name}_{n}"
                if unique.lower() not in self._names:
                    break
                n += 1
        if mark_used:
            self._names[key] = n + 1
            if unique.lower() != key:
                self._names[unique.lower()] = 1
        return unique

    def node_name(self, name: str) -> str:
        """The name a new node gets from the `name` its op was called with, as in TensorFlow.

        A name ending in "/" is the scope a composite op opened for itself (`clip_by_value/`):
        the node takes the scope's own name. Any other name is made unique under the current
        name scope (`add`, `add_1`, `block/add`).
        """
        if name[-1:] == "/":
            name = name[:-1]
            if name not in self._by_name:
                self._names.setdefault(name.lower(), 1)
                return name
            return self.unique_name(name)
        return self.unique_name(ctx.scope + name)

    def create_op(self, opdef, inputs, attrs, name=None):
        """Appends a node applying `opdef` to `inputs`; returns its output tensors.

        `name` defaults to the raw op's name. Values from outside the graph (Python numbers
        and lists the op's wrapper converted, eager tensors, variable handles) are brought in
        as `<node>/<input>` (`add/y`, `Reshape/shape`), as TensorFlow's op wrappers name them.
        """
        from flowstone.graph import shapes

        if isinstance(opdef, str):
            opdef = OPS[opdef]
        raw = inputs
        node_name = self.node_name(name or opdef.name)
        inputs = list(raw)
        foreign = [i for i, t in enumerate(raw) if not (t.__class__ is SymbolicTensor and t._op.graph is self)]
        if foreign:
            labels = _input_labels(opdef, attrs, len(raw))
            for i in foreign:
                inputs[i] = self._own(raw[i], f"{node_name}/{labels[i]}")
        attrs = dict(attrs or {})
        full = opdef.full_attrs(attrs)
        start = 0
        for arg in opdef.inputs:
            n = attrs.get(arg.number_attr, 1) if arg.number_attr else 1
            n = len(n) if isinstance(n, list) else n
            if arg.number_attr and arg.number_attr in attrs:
                full[arg.number_attr] = attrs[arg.number_attr]
                if arg.number_attr == arg.type_attr:  # a list(type) input such as If's `Tin`
                    full[arg.number_attr] = [t.dtype for t in inputs[start:start + n]]
            start += n
        for k, v in attrs.items():
            if k not in full and k in opdef.inferred and (k not in opdef.type_attrs or isinstance(v, list)):
                full[k] = v
        node = Operation(self, opdef, node_name, inputs, full)
        node.traceback = user_frames()
        try:
            specs = shapes.infer(opdef, inputs, full)
        except (TypeError, ValueError) as e:
            from flowstone.core.errors import InvalidArgumentError

            raise _shape_error(node, e, InvalidArgumentError if not isinstance(e, ValueError) else ValueError) from None
        node.outputs = [SymbolicTensor(node, i, dt, sh) for i, (dt, sh) in enumerate(specs)]
        if node.outputs and opdef.name in ("Identity", "IdentityN") and inputs:
            for o, t in zip(node.outputs, inputs):
                o._handle_data = t._handle_data
        self._add(node)
        if ctx.tapes:
            _record(opdef, attrs, raw, inputs, node.outputs)
        return node.outputs

    def _add(self, node: Operation) -> None:
        self.nodes.append(node)
        self._by_name[node.name] = node

    def _own(self, t, name=None):
        if isinstance(t, SymbolicTensor) and t._op.graph is self:
            return t
        return self.capture(t, name)

    def capture(self, t, name=None):
        """Brings a value from outside this graph in (a plain graph embeds eager values).

        `name`: the full name of a node this creates (the consuming op's `<op>/<input>`).
        """
        if isinstance(t, EagerTensor):
            return self.embed(t, name)
        if isinstance(t, SymbolicTensor):
            raise ValueError(
                f"Tensor {t!r} must be from the same graph as the other inputs (it belongs to {t.graph!r})."
            )
        from flowstone.core.tensor import convert_to_tensor

        with graph_mode(self):
            return self._own(convert_to_tensor(t), name)

    def capture_constant(self, t: EagerTensor, name=None):
        """A `Const` node holding the value of eager tensor `t`, named `name` (default "Const")
        under the current name scope."""
        return self.embed(t, ctx.scope + (name or "Const"))

    def embed(self, t: EagerTensor, name=None):
        """A `Const` node with the value of `t`, named `name` (a full name, made unique).

        An eager tensor is embedded once per graph; a Python value that a wrapper converted
        (a cached scalar) gets a node of its own at each use, as TensorFlow gives each op its
        own `add/y`.
        """
        fresh = id(t) in tensor_module.OPERANDS
        if not fresh:
            found = self._consts.get(id(t))
            if found is not None:
                return found
        value = t._numpy_view()
        node = Operation(self, OPS["Const"], self.unique_name(name or ctx.scope + "Const"), [],
                         {"value": value, "dtype": t.dtype})
        node.traceback = user_frames()
        node.outputs = [SymbolicTensor(node, 0, t.dtype, TensorShape(value.shape))]
        self._add(node)
        if not fresh:
            self._consts[id(t)] = node.outputs[0]
            self._keep.append(t)
        return node.outputs[0]

    # --- lookup ---------------------------------------------------------------------------
    def get_operations(self):
        return list(self.nodes)

    def get_operation_by_name(self, name: str) -> Operation:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"The name '{name}' refers to an Operation not in the graph.") from None

    def get_tensor_by_name(self, name: str):
        op_name, _, index = name.rpartition(":")
        if not op_name or not index.isdigit():
            raise ValueError(f"The name '{name}' looks like an Operation name, not a Tensor name.")
        op = self.get_operation_by_name(op_name)
        if int(index) >= len(op.outputs):
            raise KeyError(f"The name '{name}' refers to a Tensor which does not exist.")
        return op.outputs[int(index)]

    def as_default(self):
        return graph_mode(self)

    def as_graph_def(self, add_shapes: bool = False):
        from flowstone.graph import graphdef

        return graphdef.to_graph_def(self, add_shapes=add_shapes)

    def __repr__(self):
        return f"<flowstone.Graph '{self.name}' with {len(self.nodes)} nodes>"


def _record(opdef, attrs, raw, inputs, outputs):
    """Records a new node on the active tapes, with variable handles as the inputs they read.

    Tapes identify a variable by its (eager) handle, so a captured handle is recorded as
    itself rather than as the placeholder that stands for it in this graph.
    """
    recorded = []
    for r, t in zip(raw, inputs):
        if t.dtype is dtypes.resource:
            var = _variable_of(r, t)
            if var is not None and opdef.name not in WRITE_OPS:
                for tape in ctx.tapes:
                    accessed = getattr(tape, "variable_accessed", None)
                    if accessed is not None:
                        accessed(var)
            recorded.append(r if isinstance(r, EagerTensor) else t)
        else:
            recorded.append(t)
    for tape in ctx.tapes:
        tape.record(opdef, attrs, recorded, outputs)


def _variable_of(raw, t):
    fn = getattr(raw, "variable", None)
    if callable(fn):
        return fn()
    return getattr(t.graph, "proxies", {}).get(id(t))


# Inputs whose name in TF's OpDef differs from its `tf.raw_ops` keyword (`axis` of Split).
_OPDEF_INPUT_NAMES = {"Split": ["split_dim", "value"], "SplitV": ["value", "size_splits", "split_dim"]}


def _input_labels(opdef, attrs, n):
    """The name of each flat input of `opdef` (`values_0`, `values_1` for a list input)."""
    if not opdef.has_lists:
        return _OPDEF_INPUT_NAMES.get(opdef.name) or [a.name for a in opdef.inputs]
    labels = []
    for arg in opdef.inputs:
        count = (attrs or {}).get(arg.number_attr) if arg.number_attr else None
        if count is None:
            labels.append(arg.name)
        else:
            labels.extend(f"{arg.name}_{k}" for k in range(len(count) if isinstance(count, list) else count))
    return labels + ["input"] * (n - len(labels))


def _shape_error(node, e, cls):
    msg = f"{e}\n\tfor node '{node.name}' ({node.type}) with input shapes: " + ", ".join(
        str(t.shape) for t in node.inputs
    )
    if node.traceback:
        path, line, fn = node.traceback[0]
        msg += f"\n\tdefined at {path}:{line} in {fn}"
    return cls(msg) if cls is ValueError else cls(None, None, msg)


def const_value(t):
    """The NumPy value of a constant graph tensor, else None (no folding)."""
    if isinstance(t, SymbolicTensor) and t._op.type == "Const":
        return t._op.attrs["value"]
    return None
