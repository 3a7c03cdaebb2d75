"""Function calls as ops, their gradients, and `tf.gradients`.

Calling a `ConcreteFunction` eagerly under a `GradientTape` records one
`StatefulPartitionedCall` op. Its gradient is a backward `ConcreteFunction` built from the
forward graph with the registry's gradient functions (so it is compiled, and it is itself
differentiable: higher order works). The backward graph replays the forward computation,
except that variable reads and random draws take the values the forward call saw
("residuals") and side effects are not repeated.
"""

from __future__ import annotations

from flowstone._export import export
from flowstone.autodiff import backprop
from flowstone.autodiff.tape import Op
from flowstone.core import dtypes
from flowstone.core.context import ctx, graph_mode
from flowstone.core.registry import REQUIRED, gradient, op
from flowstone.core.tensor import Tensor, convert_to_tensor
from flowstone.graph import lowering, nest
from flowstone.graph.funcgraph import FuncGraph
from flowstone.graph.graphlib import SymbolicTensor


def _lower_call(node, vals, state, interpret):
    g = node.attrs["f"]
    return tuple(lowering.call_graph(getattr(g, "graph", g), vals, state, interpret))


def _call_kernel(args, **attrs):
    from flowstone.graph.lowering_cf import run_eagerly

    return run_eagerly(_lower_call, "PartitionedCall", list(args), attrs)


for _name in ("PartitionedCall", "StatefulPartitionedCall"):
    op(_name, "args: Tin * Tin -> output: Tout * Tout",
       {"Tout": REQUIRED, "f": REQUIRED, "config": "", "config_proto": "", "executor_type": ""},
       stateful=_name.startswith("Stateful"))(_call_kernel)


def _densify(g):
    if g is None or isinstance(g, Tensor):
        return g
    return convert_to_tensor(g)


def build_backward(cf, residual_tensors, out_mask):
    """The backward ConcreteFunction of `cf`: (inputs, residuals, output grads) -> input grads."""
    from flowstone.graph.concrete import ConcreteFunction

    fwd = cf.graph
    bg = FuncGraph(f"{fwd.name}_grad")
    with graph_mode(bg):
        ins = [bg.placeholder(p.dtype, p.shape, f"input_{i}", p._handle_data) for i, p in enumerate(fwd.inputs)]
        res = [bg.placeholder(t.dtype, t.shape, "residual") for t in residual_tensors]
        seeds = [bg.placeholder(o.dtype, o.shape, "output_grad") for o, m in zip(fwd.outputs, out_mask) if m]
        env = {id(p): v for p, v in zip(fwd.inputs, ins)}
        replaced = {id(t): r for t, r in zip(residual_tensors, res)}
        records = replay(fwd, env, replaced)
        targets = [env[id(o)] for o, m in zip(fwd.outputs, out_mask) if m]
        grads = backprop.backward(records, targets, ins, seeds)
        grads = [_densify(g) for g in grads]
        outputs = [bg._own(g) for g in grads if g is not None]
    bg.inputs = ins + res + seeds + bg.internal_captures
    bg.outputs = outputs
    bg.structured_outputs = list(outputs)
    bwd = ConcreteFunction(bg, None, bg.name)
    return bwd, [g is not None for g in grads]


def replay(fwd, env, replaced):
    """Re-creates the forward nodes in the current graph; returns the records for backprop."""
    records = []
    graph = ctx.graph
    for node in lowering.plan(fwd, fwd.outputs):
        if node.type == "Placeholder":
            continue
        if node.outputs and all(id(t) in replaced for t in node.outputs):
            outs = [replaced[id(t)] for t in node.outputs]
            # A replaced read still passes its gradient on: to the variable, to the TensorList.
            if node.type == "ReadVariableOp" or node.type.startswith("TensorList"):
                records.append(Op(node._opdef, dict(node.attrs), [env[id(t)] for t in node.inputs], outs))
            for t, o in zip(node.outputs, outs):
                env[id(t)] = o
            continue
        if lowering.has_side_effects(node) and not node.outputs:
            continue
        if node.type in lowering._CALLS and not _pure_control_flow(node):
            continue
        if node.type == "Const":
            from flowstone.core.tensor import EagerTensor

            out = [graph.capture_constant(EagerTensor(node.attrs["value"], node.outputs[0].dtype))]
        else:
            out = graph.create_op(node._opdef, [env[id(t)] for t in node.inputs], dict(node.attrs), name=node.name)
            records.append(graph.nodes[-1])
        for t, o in zip(node.outputs, out):
            if t._handle_data is not None:
                o._handle_data = t._handle_data
            env[id(t)] = o
    return records


def _pure_control_flow(node) -> bool:
    """If/While/calls whose bodies only read state can be replayed."""
    if node.type not in lowering._CALLS:
        return False
    return not any(_writes(g) for g in lowering.function_attrs(node))


def _writes(graph) -> bool:
    for n in graph.nodes:
        if n.type in ("If", "While", "Case", "StatefulPartitionedCall"):
            if any(_writes(g) for g in lowering.function_attrs(n)):
                return True
        elif lowering.has_side_effects(n):
            return True
    return False


@gradient("StatefulPartitionedCall")
def _call_grad(op, *grads):
    f = op.get_attr("f")
    residuals = op.get_attr("_residuals") if "_residuals" in (op._attrs or {}) else []
    program = f._residual_program
    residual_tensors = program.residual_tensors if program is not None and residuals else []
    mask = tuple(g is not None for g in grads)
    key = (mask, len(residual_tensors))
    found = f._backward.get(key)
    if found is None:
        found = f._backward[key] = build_backward(f, residual_tensors, mask)
    bwd, in_mask = found
    args = list(op.inputs) + list(residuals) + [g for g in grads if g is not None]
    results = iter(bwd._call_flat(args))
    return [next(results) if m else None for m in in_mask]


gradient("PartitionedCall")(_call_grad)


# --- tf.gradients --------------------------------------------------------------------------------


@export("gradients")
def gradients(ys, xs, grad_ys=None, name="gradients", gate_gradients=False, aggregation_method=None,
              stop_gradients=None, unconnected_gradients="none"):
    """Symbolic derivatives of `sum(ys)` w.r.t. each of `xs`, inside a `tf.function`.

    Args:
      ys: a tensor or list of tensors to differentiate.
      xs: a tensor, variable or list of them.
      grad_ys: optional initial gradients, one per `ys`.
      stop_gradients: tensors through which no gradient flows.
      unconnected_gradients: "none" (None for unconnected xs) or "zero".

    Returns:
      A list with one gradient (or None) per `xs`.

    Raises:
      RuntimeError: when called eagerly (use `tf.GradientTape`).

    >>> import flowstone as tf
    >>> @tf.function
    ... def f(x):
    ...     return tf.gradients(x * x, x)[0]
    >>> print(f(tf.constant(3.0)).numpy())
    6.0
    """
    graph = ctx.graph
    if graph is None:
        raise RuntimeError("tf.gradients is not supported when eager execution is enabled. Use tf.GradientTape instead.")
    ys_list = [graph._own(convert_to_tensor(y)) for y in nest.flatten(ys)]
    xs_flat = nest.flatten(xs)
    sources = [_source(graph, x) for x in xs_flat]
    seeds = None
    if grad_ys is not None:
        seeds = [None if g is None else graph._own(convert_to_tensor(g, dtype=y.dtype))
                 for g, y in zip(nest.flatten(grad_ys), ys_list)]
    stop = {id(graph._own(convert_to_tensor(s))) for s in nest.flatten(stop_gradients)} if stop_gradients else set()
    records = [n for n in graph.nodes if not any(id(o) in stop for o in n.outputs) and n.type != "Placeholder"]
    records = _with_reads(records, stop)
    grads = backprop.backward(records, ys_list, sources, seeds)
    mode = str(getattr(unconnected_gradients, "value", unconnected_gradients)).lower()
    if mode == "zero":
        from flowstone.ops import array

        grads = [array.zeros_like(_value_of(x)) if g is None else g for g, x in zip(grads, xs_flat)]
    return grads


def _source(graph, x):
    from flowstone.core.variables import Variable

    if isinstance(x, Variable):
        h = x._handle
        return h if isinstance(h, SymbolicTensor) else graph.capture(h)
    return graph._own(convert_to_tensor(x))


def _value_of(x):
    from flowstone.core.variables import Variable

    return x.read_value() if isinstance(x, Variable) else x


def _with_reads(records, stop):
    return [n for n in records if not (n.inputs and all(id(t) in stop for t in n.inputs))]


__all__ = ["gradients", "build_backward", "replay", "dtypes"]
