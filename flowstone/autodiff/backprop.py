"""Reverse-mode differentiation over a tape's records (or a graph's ops).

Topological order is the recording order; walk it backwards, call each op's registered
gradient (written with flowstone ops, so an outer tape records it), and sum fan-in with
`AddN`.
"""

from __future__ import annotations

from flowstone.autodiff.tape import is_trainable
from flowstone.core.errors import InvalidArgumentError


def backward(records, targets, sources, output_gradients=None, zeros_for_missing=True):
    """Gradients of sum(targets) w.r.t. each source; None where a source is unreached.

    records: the recorded `Op`s in execution order. targets/sources: flat lists of tensors
    (or watched objects such as variable handles).
    """
    from flowstone.ops import array

    reach = {id(s) for s in sources}
    relevant = []
    for op in records:
        if any(id(t) in reach for t in op.inputs):
            relevant.append(op)
            reach.update(id(o) for o in op.outputs)

    grads: dict[int, list] = {}
    for i, t in enumerate(targets):
        if id(t) not in reach:
            continue
        if output_gradients is not None and output_gradients[i] is not None:
            seed = output_gradients[i]
        else:
            seed = array.ones_like(t)
        grads.setdefault(id(t), []).append(seed)

    for op in reversed(relevant):
        out_grads = [_sum(grads.pop(id(o), None)) for o in op.outputs]
        if all(g is None for g in out_grads):
            continue
        opdef = op._opdef
        if opdef.grad is None:
            if not opdef.differentiable:
                continue
            raise LookupError(f"No gradient defined for operation '{opdef.name}' (op type: {opdef.name}).")
        if zeros_for_missing:
            out_grads = [
                g if g is not None or not is_trainable(o.dtype) else array.zeros_like(o)
                for g, o in zip(out_grads, op.outputs)
            ]
        in_grads = opdef.grad(op, *out_grads)
        if not isinstance(in_grads, (list, tuple)):
            in_grads = [in_grads]
        if len(in_grads) != len(op.inputs):
            raise InvalidArgumentError(
                None, None,
                f"The gradient of {opdef.name} returned {len(in_grads)} values for {len(op.inputs)} inputs",
            )
        for t, g in zip(op.inputs, in_grads):
            if g is not None and id(t) in reach and is_trainable(t.dtype):
                grads.setdefault(id(t), []).append(g)
    return [_sum(grads.get(id(s))) for s in sources]


def _sum(gs):
    if not gs:
        return None
    if len(gs) == 1:
        return gs[0]
    from flowstone.ops import math

    return math.add_n_grads(gs)
