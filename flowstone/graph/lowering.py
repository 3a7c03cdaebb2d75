"""Lowering: an interpreter over the IR that jax traces (the compiler is `jax.jit` of it).

`run(graph, feeds, outputs, state, interpret)` walks the nodes that the outputs and the
side effects need, in graph order, calling each op's kernel on jax values. Inside
`jax.jit` the walk is traced once per concrete input shape; with `interpret=True` the
same walk runs node by node on concrete values (host kernels such as strings and
`py_function`, data-dependent shapes, loops whose carried shapes change).

Static inputs (shapes, axes) must be concrete: constants and `Shape` of traced values are
NumPy values here, and ops whose inputs are all NumPy run eagerly while tracing, so shape
arithmetic folds. A static input that is only known at run time raises `NotCompilable`,
and the caller falls back to the interpreter.

Variables are state: a resource tensor evaluates to a `Slot`, `state[slot]` holds the
variable's current value, and the resource ops apply `variables.STATE_RULES` to it, in
program order. `If`/`While` bodies thread the slots they touch through `lax.cond` /
`lax.while_loop`.
"""

from __future__ import annotations

import functools
import inspect

import jax
import numpy as np

from flowstone.core import dtypes
from flowstone.core.errors import InvalidArgumentError, OpError
from flowstone.core.execute import _hashable, _regroup, _static_positions
from flowstone.core.registry import TRACED_KERNELS, _with_statics, call_on_codes
from flowstone.core.variables import WRITE_OPS

_FOLD_LIMIT = 4096
_SIDE_EFFECTS = frozenset("PrintV2 Print EagerPyFunc PyFunc Assert".split())


_NOT_CONCRETE = (
    jax.errors.ConcretizationTypeError,
    jax.errors.NonConcreteBooleanIndexError,
    jax.errors.TracerArrayConversionError,
    jax.errors.TracerIntegerConversionError,
)


class NotCompilable(Exception):
    """The graph needs a run-time value where XLA needs a compile-time one (or a host kernel)."""


class Slot:
    """Where a variable's value lives in the state dict while a graph runs."""

    __slots__ = ("key", "dtype")

    def __init__(self, key, dtype=None):
        self.key = key
        self.dtype = dtype

    def __repr__(self):
        return f"Slot({self.key})"


def _state_rules():
    from flowstone.core import variables

    return variables.STATE_RULES


# --- planning: which nodes run, and how ------------------------------------------------------


_CALLS = frozenset(("If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase", "PartitionedCall",
                    "StatefulPartitionedCall"))
_PURE_STATEFUL = frozenset(("ReadVariableOp", "ResourceGather", "ResourceGatherNd", "Const", "Placeholder",
                            "VarIsInitializedOp", "VariableShape"))


def has_side_effects(node) -> bool:
    """Writes state or talks to the outside (so it runs even when its outputs are unused)."""
    kind = node.type
    if kind in _CALLS:
        return any(graph_has_side_effects(g) for g in function_attrs(node))
    if kind in _SIDE_EFFECTS or kind in WRITE_OPS:
        return True
    return node._opdef.stateful and kind not in _PURE_STATEFUL


def graph_has_side_effects(graph) -> bool:
    memo = graph.__dict__.get("_fs_side_effects")
    if memo is None:
        graph.__dict__["_fs_side_effects"] = False  # recursion guard
        memo = any(has_side_effects(n) for n in graph.nodes)
        graph.__dict__["_fs_side_effects"] = memo
    return memo


def plan(graph, outputs):
    """The nodes to run for `outputs` (plus every side effect), in graph order (cached)."""
    cache = graph.__dict__.setdefault("_plans", {})
    key = tuple(id(t) for t in outputs)
    found = cache.get(key)
    if found is not None and found[0] == len(graph.nodes):
        return found[1]
    needed = set()
    stack = [t._op for t in outputs] + [n for n in graph.nodes if has_side_effects(n)]
    while stack:
        node = stack.pop()
        if id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(t._op for t in node.inputs)
        stack.extend(node.control_inputs)
    nodes = [n for n in graph.nodes if id(n) in needed]
    cache[key] = (len(graph.nodes), nodes)
    return nodes


def needs_interpreter(graph, seen=None) -> bool:
    """True when a node (or a function it calls) has a host kernel XLA cannot compile."""
    seen = set() if seen is None else seen
    if id(graph) in seen:
        return False
    seen.add(id(graph))
    for node in graph.nodes:
        if node._opdef.needs_host(node.inputs):
            return True
        for g in function_attrs(node):
            if needs_interpreter(g, seen):
                return True
    return False


def function_attrs(node):
    """The graphs named by a node's function-valued attrs (If branches, While bodies, calls,
    and lists of functions: Case branches)."""
    out = []
    for v in node.attrs.values():
        for x in v if isinstance(v, list) else (v,):
            g = getattr(x, "graph", x)
            if hasattr(g, "nodes") and hasattr(g, "inputs"):
                out.append(g)
    return out


# --- running ---------------------------------------------------------------------------------


def run(graph, feeds, outputs, state, interpret=False, fn_name=None):
    """Evaluates `outputs`; `feeds` maps id(placeholder) -> value (a `Slot` for resources)."""
    env = dict(feeds)
    for node in plan(graph, outputs):
        if node.type == "Placeholder":
            if id(node.outputs[0]) not in env:
                raise InvalidArgumentError(
                    None, None, f"You must feed a value for placeholder tensor '{node.name}' with dtype "
                    f"{node.outputs[0].dtype.name}"
                )
            continue
        vals = [env[id(t)] for t in node.inputs]
        try:
            outs = run_node(node, vals, state, interpret)
        except (NotCompilable, GraphExecutionError):
            raise
        except _NOT_CONCRETE as e:
            if interpret:
                raise _execution_error(node, e, fn_name or graph.name) from e
            raise NotCompilable(f"{node.name} ({node.type}) needs values known only at run time") from None
        except Exception as e:  # noqa: BLE001 - reported as TF does, at the node's source line
            raise _execution_error(node, e, fn_name or graph.name) from e
        for t, v in zip(node.outputs, outs):
            env[id(t)] = v
    return [env[id(t)] for t in outputs]


class GraphExecutionError(Exception):
    """Marks an error already reported at its node (so that outer graphs do not re-wrap it)."""


def _execution_error(node, e, fn_name):
    lines = ["Graph execution error:", "", f"Detected at node {node.name} defined at (most recent call last):"]
    for path, line, func in reversed(node.traceback):
        lines.append(f'  File "{path}", line {line}, in {func}')
        lines.append("")
    message = getattr(e, "message", None) or str(e)
    lines.append(f"{message}\n\t [[{{{{node {node.name}}}}}]] [Op:__inference_{fn_name}]")
    cls = type(e) if isinstance(e, OpError) else InvalidArgumentError
    err_cls = _WRAPPED.get(cls)
    if err_cls is None:
        err_cls = _WRAPPED[cls] = type(cls.__name__, (cls, GraphExecutionError), {"__module__": cls.__module__})
    return err_cls(None, node, "\n".join(lines))


_WRAPPED: dict = {}


def run_node(node, vals, state, interpret):
    special = _SPECIAL.get(node.type)
    if special is not None:
        return special(node, vals, state, interpret)
    rule = _state_rules().get(node.type)
    if rule is not None:
        return _run_resource(node, rule, vals, state)
    return _run_kernel(node, vals, interpret)


def _is_concrete(v) -> bool:
    return isinstance(v, (np.ndarray, np.generic)) or (isinstance(v, jax.Array) and not isinstance(v, jax.core.Tracer))


def _static(v, node, index):
    if isinstance(v, jax.core.Tracer):
        raise NotCompilable(f"input {index} of {node.name} ({node.type}) is only known at run time")
    a = np.asarray(v)
    return a.item() if a.ndim == 0 else _hashable(a)


def _kernel_key(node, statics):
    opdef = node._opdef
    attrs = tuple(sorted((k, _hashable(v)) for k, v in node.attrs.items() if k in opdef.attrs))
    return attrs + opdef.type_key(node.inputs, node.attrs), statics


def _run_kernel(node, vals, interpret):
    opdef = node._opdef
    static_index = opdef.static_index
    if static_index and opdef.has_lists:
        static_index = _static_positions(opdef, node.attrs)
    try:
        statics = tuple(_static(vals[i], node, i) for i in static_index) if static_index else ()
    except NotCompilable:
        out = _run_traced(node, vals)
        if out is None:
            raise
        return out
    strings = opdef.on_codes(node.inputs)
    if not interpret and opdef.needs_host(node.inputs):
        raise NotCompilable(f"{node.type} has a host kernel or string inputs")
    key = _kernel_key(node, statics)
    dyn = [v for i, v in enumerate(vals) if i not in static_index] if static_index else vals
    if opdef.has_lists:
        dyn = _regroup(opdef, dyn, node.attrs)
    fold = (
        not interpret
        and not opdef.stateful
        and not opdef.host
        and all(_is_concrete(v) for v in vals)
        and sum(np.size(v) for v in vals) <= _FOLD_LIMIT
    )
    if fold:
        with jax.ensure_compile_time_eval():
            out = opdef.compiled(key)(*dyn)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return [np.asarray(o) if not _opaque(o) else o for o in outs]
    if strings:
        out = call_on_codes(opdef.compiled(key), dyn, [t.dtype is dtypes.string for t in node.outputs])
    else:
        out = (opdef.compiled(key) if interpret else _traceable(opdef, key))(*dyn)
    if opdef.single:
        return (out,)
    return tuple(out)


def _run_traced(node, vals):
    """The op's kernel for run-time values of its static inputs (TRACED_KERNELS), if it has one."""
    fn = TRACED_KERNELS.get(node.type)
    if fn is None or node._opdef.needs_host(node.inputs):
        return None
    attrs = {k: v for k, v in node.attrs.items() if k in node._opdef.attrs and k not in node._opdef.type_attrs}
    out = fn(*vals, **attrs)
    if out is None:
        return None
    return (out,) if node._opdef.single else tuple(out)


_TRACEABLE: dict = {}


def _traceable(opdef, key):
    """The kernel with its attrs and static inputs bound, not jitted (the caller is being traced)."""
    fn = _TRACEABLE.get((opdef.name, key))
    if fn is None:
        attrs, statics = key
        fn = opdef.kernel
        if statics:
            fn = _with_statics(fn, opdef.static_index, statics, len(opdef.inputs))
        if attrs:
            fn = functools.partial(fn, **dict(attrs))
        _TRACEABLE[(opdef.name, key)] = fn
    return fn


def _opaque(v):
    return isinstance(v, np.ndarray) and v.dtype == object


def eval_node_eagerly(node, values):
    """Runs one node on NumPy inputs now (constant folding while a graph is built)."""
    with jax.ensure_compile_time_eval():
        return [np.asarray(o) for o in _run_kernel(node, list(values), True)]


# --- special nodes -------------------------------------------------------------------------------


def _const(node, vals, state, interpret):
    return (node.attrs["value"],)


def _shape_like(node, vals, state, interpret):
    x = vals[0]
    out = node.attrs.get("out_type", dtypes.int32).as_numpy_dtype
    if node.type == "Shape":
        return (np.array(np.shape(x), dtype=out),)
    if node.type == "Size":
        return (np.array(np.size(x), dtype=out),)
    return (np.array(np.ndim(x), dtype=np.int32),)


def _shape_n(node, vals, state, interpret):
    out = node.attrs.get("out_type", dtypes.int32).as_numpy_dtype
    return tuple(np.array(np.shape(x), dtype=out) for x in vals)


_RULE_PARAMS: dict = {}


def _run_resource(node, rule, vals, state):
    slot = vals[0]
    if not isinstance(slot, Slot):
        raise InvalidArgumentError(None, None, f"{node.type} expects a variable handle as input 0")
    params = _RULE_PARAMS.get(rule)
    if params is None:
        params = _RULE_PARAMS[rule] = set(inspect.signature(rule).parameters)
    kwargs = {k: v for k, v in node.attrs.items() if k in params}
    if slot.key not in state:
        raise _uninitialized(node)
    new, outs = rule(state[slot.key], *vals[1:], **kwargs)
    if new is not None:
        old = state[slot.key]
        if getattr(new, "dtype", None) != getattr(old, "dtype", None):
            new = new.astype(old.dtype)
        state[slot.key] = new
    return outs


def _uninitialized(node):
    from flowstone.core.errors import FailedPreconditionError

    return FailedPreconditionError(None, None, f"Could not find variable for {node.name}: it was never initialized")


def _var_is_initialized(node, vals, state, interpret):
    return (np.array(isinstance(vals[0], Slot) and vals[0].key in state),)


def _variable_shape(node, vals, state, interpret):
    out = node.attrs.get("out_type", dtypes.int32).as_numpy_dtype
    return (np.array(np.shape(state[vals[0].key]), dtype=out),)


def _noop(node, vals, state, interpret):
    return ()


def _call(node, vals, state, interpret):
    g = node.attrs["f"]
    g = getattr(g, "graph", g)
    return tuple(call_graph(g, vals, state, interpret))


def call_graph(g, vals, state, interpret):
    """Runs function graph `g` on `vals` (one per `g.inputs`) within the caller's state."""
    feeds = {id(p): v for p, v in zip(g.inputs, vals)}
    return run(g, feeds, g.outputs, state, interpret)


_SPECIAL = {
    "Const": _const,
    "Shape": _shape_like,
    "Size": _shape_like,
    "Rank": _shape_like,
    "ShapeN": _shape_n,
    "VarIsInitializedOp": _var_is_initialized,
    "VariableShape": _variable_shape,
    "NoOp": _noop,
    "PartitionedCall": _call,
    "StatefulPartitionedCall": _call,
}


def register_special(op_type: str, fn) -> None:
    """Lowers nodes of `op_type` with `fn(node, input_values, state, interpret) -> outputs`."""
    _SPECIAL[op_type] = fn
