"""Reverse-mode differentiation over a tape's records (or a graph's ops).

Topological order is the recording order. Keep the ops that lie on a path from a source to
a target, walk them backwards, call each op's registered gradient (written with flowstone
ops, so an outer tape records it: higher order works), and sum fan-in (`AddN`; IndexedSlices
are concatenated).
"""

from __future__ import annotations

from flowstone.autodiff.indexed_slices import IndexedSlices, aggregate, densify
from flowstone.autodiff.tape import is_trainable
from flowstone.core.context import ctx
from flowstone.core.errors import InvalidArgumentError

# Ops whose gradient hands an IndexedSlices on unchanged (TF's dense ops would densify it).
_PASS_SPARSE = frozenset(("Identity", "ReadVariableOp"))
_ONES: dict = {}
_SEED_IDS: set = set()  # ids of the cached seeds in _ONES (which keeps them alive)


def plan(records, targets, sources, known=None):
    """The recorded ops on a path from a source to a target, in execution order.

    known: ids of the tensors the tape tracks (watched or recorded); a source outside it (an
    unwatched constant) gets no gradient, as in TF.
    """
    reach = {id(s) for s in sources if known is None or id(s) in known}
    forward = []
    for op in records:
        for t in op.inputs:
            if id(t) in reach:
                forward.append(op)
                reach.update(id(o) for o in op.outputs)
                break
    needed = {id(t) for t in targets}
    path = []
    for op in reversed(forward):
        for o in op.outputs:
            if id(o) in needed:
                path.append(op)
                needed.update(id(t) for t in op.inputs if id(t) in reach)
                break
    path.reverse()
    return path, reach


def backward(records, targets, sources, output_gradients=None, zeros_for_missing=True, planned=None,
             known=None):
    """Gradients of sum(targets) w.r.t. each source; None where a source is unreached.

    records: the recorded `Op`s in execution order. targets/sources: flat lists of tensors
    (or variable handles). output_gradients: seeds per target (None: ones).
    """
    path, reach = planned if planned is not None else plan(records, targets, sources, known)
    grads: dict[int, list] = {}
    for i, t in enumerate(targets):
        if id(t) not in reach:
            continue
        if output_gradients is not None and output_gradients[i] is not None:
            seed = output_gradients[i]
        else:
            seed = ones_for(t)
        grads.setdefault(id(t), []).append(seed)

    for op in reversed(path):
        out_grads = [_sum(grads.pop(id(o), None)) for o in op.outputs]
        if all(g is None for g in out_grads):
            continue
        opdef = op._opdef
        if opdef.grad is None:
            if not opdef.differentiable:
                continue
            raise LookupError(f"No gradient defined for operation '{opdef.name}' (op type: {opdef.name}).")
        if opdef.name not in _PASS_SPARSE:
            out_grads = [densify(g) if type(g) is IndexedSlices else g for g in out_grads]
        if zeros_for_missing and len(out_grads) > 1:
            out_grads = [
                g if g is not None or not is_trainable(o.dtype) else _zeros_like(o)
                for g, o in zip(out_grads, op.outputs)
            ]
        op.skip_input_indices = tuple(
            i for i, t in enumerate(op.inputs) if id(t) not in reach or not is_trainable(t.dtype)
        )
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


def ones_for(t):
    """The default seed: ones shaped like the target (cached eagerly for small known shapes)."""
    if ctx.graph is None and getattr(t, "_var_dtype", None) is None:
        shape = t.shape
        if shape.rank is not None and shape.rank <= 2 and shape.is_fully_defined():
            key = (t.dtype, tuple(shape.as_list()))
            found = _ONES.get(key)
            if found is None:
                from flowstone.ops import array

                found = array.ones_like(t)
                if len(_ONES) < 256:
                    _ONES[key] = found
                    _SEED_IDS.add(id(found))
            return found
    from flowstone.ops import array

    if getattr(t, "_var_dtype", None) is not None:
        return array.ones_like(t.variable().read_value())
    return array.ones_like(t)


def broadcast_ones(grad, x):
    """Cached ones shaped like `x` when `grad` is a cached scalar seed of ones, else None.

    The gradient of a full reduction (`reduce_sum(loss)`) seeded with ones is ones of the
    input's shape: reusing a cached tensor saves the broadcast on this most common path.
    """
    if id(grad) not in _SEED_IDS or ctx.graph is not None or x.dtype is not grad.dtype:
        return None
    shape = x.shape
    if shape.rank is None or shape.rank > 2 or not shape.is_fully_defined():
        return None
    return ones_for(x)


def _zeros_like(t):
    from flowstone.ops import array

    return array.zeros_like(t)


def _sum(gs):
    if not gs:
        return None
    if len(gs) == 1:
        return gs[0]
    if any(isinstance(g, IndexedSlices) for g in gs):
        return aggregate(gs)
    from flowstone.ops import math

    return math.add_n(gs)
