"""Gradients of If and While nodes, written with flowstone ops (so they nest and compile).

If: each branch gets a gradient graph (the branch replayed, then `backprop.backward`); the
gradient is an If over those graphs on the same predicate.

While: TF keeps per-iteration values in accumulators; so do we, in stacks of static length.
An augmented copy of the loop records each iteration's loop variables into stacks
(`TensorScatterUpdate` at the iteration index), then a backward loop walks the iterations
in reverse, reading the recorded values (`GatherV2`) and applying the body's gradient graph.
The stack length is `maximum_iterations` when it is a constant, so the whole gradient
compiles with XLA; without it, the length is the trip count, a run-time value, and the
function runs through the node-by-node interpreter instead (same results). The forward
loop runs twice (once as written, once augmented).

TensorList loop variables (TensorArrays) are not recorded whole, which would cost a list
per iteration: a list's gradient needs only its length and element shape, so the backward
loop feeds the loop's final list, and what the body reads from a list it changes (element
values, lengths) is recorded per iteration in TensorLists of its own (`_list_reads`), which
the replayed body uses instead of reading again. A read whose node also outputs a list (a
nested loop over the changing list) is not recorded: it replays on the final list.
"""

from __future__ import annotations

from flowstone.autodiff import backprop
from flowstone.autodiff.tape import is_trainable, watch_dtype
from flowstone.core import dtypes
from flowstone.core.context import ctx, graph_mode
from flowstone.core.execute import execute
from flowstone.core.registry import gradient
from flowstone.core.tensor import Tensor, constant_value, convert_to_tensor
from flowstone.graph.calls import replay
from flowstone.graph.control_flow import build_while, make_if
from flowstone.graph.funcgraph import FuncGraph, inline


def _densify(g):
    return g if g is None or isinstance(g, Tensor) else convert_to_tensor(g)


def _zeros_for(t):
    from flowstone.ops import array

    if t.dtype is dtypes.resource:
        dt, shape = t._handle_data
        return array.zeros(shape.as_list(), dt)
    return array.zeros_like(t)


def _trainable(t) -> bool:
    if t.dtype is dtypes.resource:
        data = getattr(t, "_handle_data", None)
        return data is not None and is_trainable(data[0]) or is_trainable(watch_dtype(t))
    return is_trainable(t.dtype)


def body_gradient(g, out_mask, name, recorded=()):
    """A graph (inputs of `g`, grads of the masked outputs, values of `recorded` tensors of `g`)
    -> grads of the inputs (or None)."""
    gg = FuncGraph(name, outer_graph=ctx.graph)
    with graph_mode(gg):
        ins = [gg.placeholder(p.dtype, p.shape, "input", p._handle_data) for p in g.inputs]
        seeds = [_seed_placeholder(gg, o) for o, m in zip(g.outputs, out_mask) if m]
        given = [gg.placeholder(t.dtype, t.shape, "recorded") for t in recorded]
        env = {id(p): v for p, v in zip(g.inputs, ins)}
        records = replay(g, env, {id(t): v for t, v in zip(recorded, given)})
        targets = [env[id(o)] for o, m in zip(g.outputs, out_mask) if m]
        grads = [_densify(x) for x in backprop.backward(records, targets, ins, seeds)]
    gg.inputs = ins + seeds + given
    return gg, ins, grads


def _seed_placeholder(gg, o):
    if o.dtype is dtypes.resource and o._handle_data is not None:
        dt, shape = o._handle_data
        return gg.placeholder(dt, shape, "output_grad")
    return gg.placeholder(o.dtype, o.shape, "output_grad")


def _finish(gg, ins, grads, mask):
    from flowstone.ops import array

    with graph_mode(gg):
        outs = [array.identity(gg._own(g if g is not None else _zeros_for(p)))
                for p, g, m in zip(ins, grads, mask) if m]
    gg.outputs = outs
    gg.inputs = gg.inputs + gg.internal_captures
    return gg


def _graph(v):
    return getattr(v, "graph", v)


def _if_grad(op, *grads):
    then_g, else_g = _graph(op.get_attr("then_branch")), _graph(op.get_attr("else_branch"))
    out_mask = [g is not None for g in grads]
    if not any(out_mask):
        return [None] * len(op.inputs)
    tg, tins, tgr = body_gradient(then_g, out_mask, f"{then_g.name}_grad")
    fg, fins, fgr = body_gradient(else_g, out_mask, f"{else_g.name}_grad")
    mask = [(a is not None or b is not None) and _trainable(p) for a, b, p in zip(tgr, fgr, tins)]
    if not any(mask):
        return [None] * len(op.inputs)
    _finish(tg, tins, tgr, mask)
    _finish(fg, fins, fgr, mask)
    seeds = [g for g in grads if g is not None]
    outs = iter(make_if(op.inputs[0], tg, fg, list(op.inputs[1:]) + seeds))
    return [None] + [next(outs) if m else None for m in mask]


gradient("If")(_if_grad)
gradient("StatelessIf")(_if_grad)


def _passthrough(body_g, i) -> bool:
    out = body_g.outputs[i]
    node = out.op
    return node.type == "Identity" and node.inputs[0] is body_g.inputs[i] or out is body_g.inputs[i]


def _while_grad(op, *grads):
    from flowstone.ops import array, indexing, math

    cond_g, body_g = _graph(op.get_attr("cond")), _graph(op.get_attr("body"))
    xs = list(op.inputs)
    n = len(xs)
    trainable = [_trainable(_sym(op, i)) for i in range(n)]
    if not any(g is not None and t for g, t in zip(grads, trainable)) and not any(
        t and xs[i].dtype is dtypes.resource for i, t in enumerate(trainable)
    ):
        return [None] * n
    passthrough = [_passthrough(body_g, i) for i in range(n)]
    stacked = [i for i in range(n) if not passthrough[i] and xs[i].dtype not in (dtypes.resource, dtypes.variant)]
    lists = [i for i in range(n) if not passthrough[i] and xs[i].dtype is dtypes.variant]
    reads = _list_reads(body_g, lists)
    limit = constant_value(xs[1]) if n > 1 else None
    static = limit is not None and int(limit) >= 0
    trips = op.outputs[0] - _sym(op, 0)
    size = convert_to_tensor(int(limit), dtype=dtypes.int32) if static else trips

    # 1. The loop again, recording each iteration's values.
    def aug_cond(k, *rest):
        return inline(cond_g, list(rest[:n]))[0]

    def aug_body(k, *rest):
        vals, stacks, accs = list(rest[:n]), list(rest[n:n + len(stacked)]), list(rest[n + len(stacked):])
        index = array.reshape(k, [1, 1])
        stacks = [indexing.tensor_scatter_nd_update(s, index, array.expand_dims(vals[i], 0))
                  for s, i in zip(stacks, stacked)]
        outs = inline(_WithOutputs(body_g, body_g.outputs + reads), vals)
        accs = [tensor_list_set(a, k, r) for a, r in zip(accs, outs[n:])]
        return [k + 1] + outs[:n] + stacks + accs

    inits = [array.zeros(_stack_shape(size, xs[i]), xs[i].dtype) for i in stacked]
    inits += [tensor_list_reserve(r, size) for r in reads]
    start = [convert_to_tensor(0, dtype=dtypes.int32)] + xs + inits
    shapes = [start[0].shape] + [o.shape for o in op.outputs] + [
        _stack_static(limit if static else None, op.outputs[i]) for i in stacked] + [r.shape for r in inits[
            len(stacked):]]
    recorded = build_while(aug_cond, aug_body, start, start, shapes, xs[1] if n > 1 else -1)
    stacks = recorded[n + 1:]

    # 2. The iterations in reverse, applying the body's gradient.
    g_mask = [t for t in trainable]
    bg, bins, bgrads = body_gradient(body_g, g_mask, f"{body_g.name}_grad", reads)
    _finish(bg, bins, bgrads, g_mask)
    masked = [i for i in range(n) if g_mask[i]]
    seeds0 = [_seed(grads[i] if i < len(grads) else None, op, i) for i in masked]

    def bwd_cond(j, *rest):
        return math.greater_equal(j, 0)

    def bwd_body(j, *rest):
        gs, stk = list(rest[: len(masked)]), list(rest[len(masked):])
        vals = list(xs)
        for s, i in zip(stk, stacked):
            vals[i] = indexing.gather(s, j)
        for i in lists:  # a list's gradient needs its length and shape, which the final list has
            vals[i] = op.outputs[i]
        values = [tensor_list_get(a, j, r) for a, r in zip(stk[len(stacked):], reads)]
        new = inline(bg, vals + gs + values + bg.capture_sources)
        return [j - 1] + new + stk

    bstart = [trips - 1] + seeds0 + list(stacks)
    bshapes = [TensorShapeOf(t) for t in bstart]
    done = build_while(bwd_cond, bwd_body, bstart, bstart, bshapes, size if static else -1)
    results = iter(done[1: 1 + len(masked)])
    return [next(results) if m else None for m in g_mask]


def TensorShapeOf(t):  # noqa: N802 - reads like a type
    return t.shape


class _WithOutputs:
    """A function graph seen with other outputs (for `inline`)."""

    def __init__(self, graph, outputs):
        self.name, self.nodes, self.inputs, self.outputs = graph.name, graph.nodes, graph.inputs, outputs


def _list_reads(g, positions):
    """Values a loop body reads from the TensorLists it changes (loop variables `positions`).

    Replaying the body for its gradient feeds each such list its final value, which has the
    length and element shape the gradient needs but not the elements of every iteration; so
    what the body read from it is recorded per iteration (TF keeps such intermediates too).
    """
    tracked = {id(g.inputs[i]) for i in positions}
    reads = []
    for node in g.nodes:
        if node.type == "Placeholder" or not any(id(t) in tracked for t in node.inputs):
            continue
        for o in node.outputs:
            if o.dtype is dtypes.variant:
                tracked.add(id(o))
            else:
                reads.append(o)
    return reads


def tensor_list_reserve(like, size):
    from flowstone.graph.tensor_list import _shape_input

    return execute("TensorListReserve", (_shape_input(like.shape), size), {"element_dtype": like.dtype})


def tensor_list_set(lst, index, value):
    return execute("TensorListSetItem", (lst, index, value), {})


def tensor_list_get(lst, index, like):
    from flowstone.graph.tensor_list import _shape_input

    return execute("TensorListGetItem", (lst, index, _shape_input(like.shape)), {"element_dtype": like.dtype})


def _sym(op, i):
    """The symbolic view of input `i` (tapes record a variable's handle itself)."""
    t = op.inputs[i]
    if t.dtype is dtypes.resource and getattr(t, "_handle_data", None) is None and hasattr(t, "_buffer"):
        from flowstone.core.shape import TensorShape

        class _View:
            dtype = dtypes.resource
            _handle_data = (t._var_dtype, TensorShape(t._buffer.shape))

        return _View
    return t


def _seed(g, op, i):
    t = _sym(op, i)
    if t.dtype is dtypes.resource:
        return _zeros_for(t)
    if g is not None:
        return convert_to_tensor(g)
    return _zeros_for(op.outputs[i])


def _stack_shape(size, x):
    from flowstone.ops import array, manip

    return manip.concat([array.reshape(array.cast(size, dtypes.int32), [1]), array.shape(x)], 0)


def _stack_static(limit, x):
    from flowstone.core.shape import TensorShape

    return TensorShape([None if limit is None else int(limit)]).concatenate(x.shape)


gradient("While")(_while_grad)
gradient("StatelessWhile")(_while_grad)
