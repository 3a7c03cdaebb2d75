"""Lowering of If, Case and While nodes: `lax.cond`, `lax.switch` and `lax.while_loop` over
their body graphs.

Variables touched by a body travel with it: the values of the slots among the node's
inputs are passed as operands (a loop carry) and come back updated. When the predicate is
known (constant, or the node-by-node interpreter runs), the chosen branch runs directly,
and the interpreter runs loops as Python loops (so bodies may hold host kernels and
loop variables may change shape).
"""

from __future__ import annotations

import weakref

import jax
import jax.numpy as jnp
import numpy as np

from flowstone.core import dtypes
from flowstone.graph import lowering, tensor_list
from flowstone.graph.lowering import NotCompilable, Slot, call_graph

_TRACER_ERRORS = (TypeError, ValueError, jax.errors.ConcretizationTypeError)


def _graph(v):
    return getattr(v, "graph", v)


def _split(values):
    """(plain values, slot keys): the slots among `values`, each once."""
    keys = []
    for v in values:
        if isinstance(v, Slot) and v.key not in keys:
            keys.append(v.key)
    return tuple(v for v in values if not isinstance(v, Slot)), keys


def _merge(template, plain):
    it = iter(plain)
    return [v if isinstance(v, Slot) else next(it) for v in template]


def _carry(v, like=None):
    """A value as `lax.cond` / `lax.while_loop` carry it (TensorLists in their buffer form)."""
    if tensor_list.is_list(v):
        return tensor_list.as_carry(v)
    return jnp.asarray(v) if like is None else jnp.asarray(v, dtype=jnp.asarray(like).dtype)


def _truth(v) -> bool:
    a = np.asarray(v)
    return bool(a.reshape(())) if a.size == 1 else a.size > 0


def _lower_if(node, vals, state, interpret):
    pred, ins = vals[0], list(vals[1:])
    then_g, else_g = _graph(node.attrs["then_branch"]), _graph(node.attrs["else_branch"])
    if interpret or lowering._is_concrete(pred):
        return tuple(call_graph(then_g if _truth(pred) else else_g, ins, state, interpret))
    index = 1 - jnp.reshape(pred, ()).astype(bool).astype(jnp.int32)  # then: 0, else: 1
    return _lower_branches(node, index, [then_g, else_g], ins, state, interpret)


def _lower_case(node, vals, state, interpret):
    index, ins = vals[0], list(vals[1:])
    graphs = [_graph(b) for b in node.attrs["branches"]]
    last = len(graphs) - 1
    if interpret or lowering._is_concrete(index):
        i = int(np.asarray(index).reshape(()))
        return tuple(call_graph(graphs[i if 0 <= i <= last else last], ins, state, interpret))
    # TF runs the last branch for an index out of range; lax.switch would clamp it.
    i = jnp.reshape(index, ()).astype(jnp.int32)
    return _lower_branches(node, jnp.where((i < 0) | (i > last), last, i), graphs, ins, state, interpret)


def _lower_branches(node, index, graphs, ins, state, interpret):
    """`lax.switch` over branch graphs (If and Case), threading the variables they touch."""
    plain, keys = _split(ins)

    def branch(g):
        def run(operands):
            values, svals = operands
            local = dict(zip(keys, svals))
            outs = tuple(_carry(o) for o in call_graph(g, _merge(ins, values), local, interpret))
            if fill is not None:  # a TensorList one branch writes and another leaves unwritten
                outs = tensor_list.fill_pending(outs, fill)
            return outs, tuple(local[k] for k in keys)

        return run

    svals = tuple(state[k] for k in keys)
    fill = None
    try:
        if any(t.dtype is dtypes.variant for t in graphs[0].outputs):
            fill = _pending_fill([branch(g) for g in graphs], (plain, svals))
        outs, new = jax.lax.switch(index, [branch(g) for g in graphs], (plain, svals))
    except _TRACER_ERRORS as e:
        if isinstance(e, lowering.GraphExecutionError):
            raise
        raise NotCompilable(f"branches of {node.name} differ in output shapes: {e}") from None
    state.update(zip(keys, new))
    return outs


def _pending_fill(fns, operands):
    """What to give TensorLists that a branch leaves unwritten: another branch's (or None)."""
    shapes = [jax.eval_shape(fn, operands)[0] for fn in fns]
    if not any(tensor_list.is_pending(o) for outs in shapes for o in outs):
        return None
    written = [[s[k] for s in shapes if not tensor_list.is_pending(s[k])] for k in range(len(shapes[0]))]
    return tuple(w[0] if w else shapes[0][k] for k, w in enumerate(written))


# While nodes whose iterations are independent (tf.vectorized_map) -> a plan that runs them
# at once with `jax.vmap` when compiled (flowstone/graph/functional.py).
VECTORIZED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _lower_while(node, vals, state, interpret):
    cond_g, body_g = _graph(node.attrs["cond"]), _graph(node.attrs["body"])
    ins = list(vals)
    if interpret:
        return _python_loop(cond_g, body_g, ins, state)
    plan = VECTORIZED.get(node)
    if plan is not None:
        try:
            found = plan.run(node, ins, state)
        except Exception:  # noqa: BLE001 - not vectorizable after all: iterate as written
            found = None
        if found is not None:
            return found
    plain, keys = _split(ins)

    def cond_fn(carry):
        values, svals = carry
        local = dict(zip(keys, svals))
        out = call_graph(cond_g, _merge(ins, values), local, interpret)[0]
        return jnp.reshape(out, ()).astype(bool)

    def body_fn(carry):
        values, svals = carry
        local = dict(zip(keys, svals))
        outs = call_graph(body_g, _merge(ins, values), local, interpret)
        new_plain = tuple(_carry(o, None if tensor_list.is_list(v) else v)
                          for o, v in zip(outs, ins) if not isinstance(v, Slot))
        return new_plain, tuple(local[k] for k in keys)

    init = (tuple(_carry(v) for v in plain), tuple(state[k] for k in keys))
    try:
        for _ in range(4):  # TensorLists whose element shape only the body's writes tell
            if not any(tensor_list.is_pending(v) for v in init[0]):
                break
            found = tensor_list.fill_pending(init[0], jax.eval_shape(body_fn, init)[0])
            if all(a is b for a, b in zip(found, init[0])):
                break
            init = (found, init[1])
        values, new = jax.lax.while_loop(cond_fn, body_fn, init)
    except _TRACER_ERRORS as e:
        if isinstance(e, lowering.GraphExecutionError):
            raise
        raise NotCompilable(f"loop variables of {node.name} change shape or type: {e}") from None
    state.update(zip(keys, new))
    return tuple(_merge(ins, values))


def _python_loop(cond_g, body_g, ins, state):
    current = ins
    while _truth(call_graph(cond_g, current, state, True)[0]):
        outs = call_graph(body_g, current, state, True)
        current = [v if isinstance(v, Slot) else o for v, o in zip(current, outs)]
    return tuple(current)


class _Node:
    """What the lowering rules read from a node, for ops run eagerly through `execute()`."""

    def __init__(self, name, attrs):
        self.name = name
        self.attrs = attrs


def run_eagerly(rule, name, values, attrs):
    """Runs lowering `rule` on eager values: variable handles become slots, written back after."""
    from flowstone.core import dtypes

    state, vals, handles = {}, [], {}
    for v in values:
        if getattr(v, "dtype", None) is dtypes.resource or hasattr(v, "_buffer"):
            key = id(v)
            handles[key] = v
            state[key] = v._buffer
            vals.append(Slot(key))
        else:
            vals.append(v)
    tracing = any(isinstance(v, jax.core.Tracer) for v in vals)
    outs = rule(_Node(name, attrs), vals, state, not tracing)
    for key, h in handles.items():
        h._buffer = state[key]
    return tuple(outs)


def if_kernel(cond, inputs, **attrs):
    return run_eagerly(_lower_if, "If", [cond] + list(inputs), attrs)


def while_kernel(inputs, **attrs):
    return run_eagerly(_lower_while, "While", list(inputs), attrs)


def case_kernel(branch_index, inputs, **attrs):
    return run_eagerly(_lower_case, "Case", [branch_index] + list(inputs), attrs)


def _identity(node, vals, state, interpret):
    return (vals[0],)


for _kind in ("If", "StatelessIf"):
    lowering.register_special(_kind, _lower_if)
for _kind in ("While", "StatelessWhile"):
    lowering.register_special(_kind, _lower_while)
for _kind in ("Case", "StatelessCase"):
    lowering.register_special(_kind, _lower_case)
lowering.register_special("Identity", _identity)
