"""`tf.switch_case` and `tf.case`: multi-way branching.

`tf.switch_case` runs one of several functions by an integer index: eagerly it calls the
Python function; inside a `tf.function` it emits TF's `Case` / `StatelessCase` raw op, whose
`branches` attr lists one function per branch (GraphDef export writes all of them to the
function library). An index out of range runs the last branch (the `default`, when given),
as TF does. Lowering maps the node to `lax.switch` (`lowering_cf.py`); its gradient is a
`Case` over the branches' gradient graphs on the same index, as If's is.

`tf.case` picks the first of several (predicate, function) pairs whose predicate is true;
as in TF it is built from nested `tf.cond`s, with run-time checks for `exclusive=True` and
for a missing `default`.
"""

from __future__ import annotations

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import ctx
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.execute import execute
from flowstone.core.registry import REQUIRED, gradient, op
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import Tensor, convert_to_tensor
from flowstone.graph import nest
from flowstone.graph.control_flow import (
    _branch_fn,
    _is_stateful,
    _same_branch_structure,
    unify_captures,
)
from flowstone.graph.funcgraph import trace
from flowstone.graph.lowering_cf import case_kernel


def _output_shapes(inputs, attrs):
    return [TensorShape(s) for s in attrs["output_shapes"]]


for _name in ("Case", "StatelessCase"):
    op(_name, "branch_index: int32, input: Tin * Tin -> output: Tout * Tout",
       {"Tout": REQUIRED, "branches": REQUIRED, "output_shapes": []},
       stateful=_name == "Case", shape=_output_shapes)(case_kernel)


def make_case(branch_index, graphs, explicit_inputs, name=None):
    """Adds a Case (or StatelessCase) node running `graphs[branch_index]` on the inputs."""
    captured = unify_captures(graphs, len(explicit_inputs))
    inputs = list(explicit_inputs) + captured
    shapes = []
    for outs in zip(*[g.outputs for g in graphs]):
        shape = outs[0].shape
        for t in outs[1:]:
            shape = shape.most_specific_compatible_shape(t.shape)
        shapes.append(shape)
    attrs = {"Tout": [t.dtype for t in graphs[0].outputs], "branches": list(graphs), "output_shapes": shapes}
    kind = "Case" if _is_stateful(*graphs) else "StatelessCase"
    return list(execute(kind, (branch_index, inputs), attrs, name=name))


def _graph(v):
    return getattr(v, "graph", v)


def _case_grad(op, *grads):
    from flowstone.graph.gradients_cf import _finish, _trainable, body_gradient

    branches = [_graph(b) for b in op.get_attr("branches")]
    out_mask = [g is not None for g in grads]
    if not any(out_mask):
        return [None] * len(op.inputs)
    parts = [body_gradient(b, out_mask, f"{b.name}_grad") for b in branches]
    ins = parts[0][1]
    mask = [any(p[2][k] is not None for p in parts) and _trainable(ins[k]) for k in range(len(ins))]
    if not any(mask):
        return [None] * len(op.inputs)
    for gg, bins, bgrads in parts:
        _finish(gg, bins, bgrads, mask)
    seeds = [g for g in grads if g is not None]
    outs = iter(make_case(op.inputs[0], [p[0] for p in parts], list(op.inputs[1:]) + seeds))
    return [None] + [next(outs) if m else None for m in mask]


gradient("Case")(_case_grad)
gradient("StatelessCase")(_case_grad)


# --- switch_case -----------------------------------------------------------------------------------


def _branch_list(branch_fns):
    """TF's accepted forms (callables; (int, callable) pairs; {int: callable}) as a list by key."""
    if not isinstance(branch_fns, (list, tuple, dict)):
        raise TypeError("'branch_fns' must be a list, tuple, or dict")
    if isinstance(branch_fns, dict):
        pairs = list(branch_fns.items())
    elif all(callable(fn) for fn in branch_fns):
        pairs = list(enumerate(branch_fns))
    else:
        pairs = list(branch_fns)
    if not pairs:
        raise ValueError("Must provide at least one item in 'branch_fns'")
    for entry in pairs:
        if not isinstance(entry, tuple) or len(entry) != 2:
            raise TypeError(f"Each entry in 'branch_fns' must be a 2-tuple. Received {entry}.")
        key, fn = entry
        if not isinstance(key, int) or isinstance(key, bool):
            raise TypeError(f"key must be a Python `int`, got {type(key)}")
        if not callable(fn):
            raise TypeError(f"fn for key {key} must be callable.")
    keys = sorted(k for k, _ in pairs)
    if keys != list(range(len(pairs))):
        raise ValueError(f"branch indices (keys) must form contiguous range of [0 to {len(pairs)}) but found "
                         "{" + ",".join(str(k) for k in keys) + "}")
    return [fn for _, fn in sorted(pairs, key=lambda p: p[0])]


@export("switch_case")
def switch_case(branch_index, branch_fns, default=None, name="switch_case"):
    """Runs `branch_fns[branch_index]()` (an out-of-range index runs `default`, else the last).

    Inside a `tf.function` this is a `Case` node; every branch must return the same structure
    and dtypes.

    Args:
      branch_index: a scalar int32 or int64 tensor.
      branch_fns: a list of callables, a list of (int, callable) pairs, or a dict int -> callable
        (keys 0..n-1).
      default: callable run for an index outside [0, n); without it, the last branch runs.
      name: name prefix.

    Returns:
      What the selected branch returns.

    Raises:
      TypeError: `branch_index` is not an integer tensor, or `branch_fns` is malformed.
      ValueError: `branch_fns` is empty or its keys are not 0..n-1.

    >>> import flowstone as tf
    >>> fns = [lambda: tf.constant(10), lambda: tf.constant(20)]
    >>> print(tf.switch_case(tf.constant(1), fns).numpy())
    20
    >>> print(tf.switch_case(tf.constant(7), fns, default=lambda: tf.constant(-1)).numpy())
    -1
    """
    if not isinstance(branch_index, Tensor):
        raise TypeError(f"'branch_index' must be a Tensor, got {type(branch_index)}")
    if not branch_index.dtype.is_integer:
        raise TypeError(f"'branch_index' must be an integer Tensor, got {branch_index.dtype!r}")
    fns = _branch_list(branch_fns)
    if default is not None:
        if not callable(default):
            raise TypeError("'default' must be callable.")
        fns.append(default)
    if branch_index.shape.rank not in (0, None):
        message = f"'branch_index' must be a scalar, got shape {branch_index.shape}"
        if ctx.graph is None:
            raise InvalidArgumentError(None, None, message)
        raise ValueError(message)
    if ctx.graph is None:
        i = int(branch_index)
        return fns[i if 0 <= i < len(fns) else -1]()
    return _indexed_case(branch_index, fns, name)


def _indexed_case(branch_index, fns, name):
    from flowstone.graph.tensor_array import branch_flows
    from flowstone.ops import array

    index = branch_index if branch_index.dtype is dtypes.int32 else array.cast(branch_index, dtypes.int32)
    fns, with_arrays = branch_flows(*fns)
    base = name or "switch_case"
    graphs = [trace(f"{base}_branch{k}", _branch_fn(fn), (), {}, None, add_identity=True)
              for k, fn in enumerate(fns)]
    first = graphs[0]
    for k, g in enumerate(graphs[1:], 1):
        same = _same_branch_structure(first.structured_outputs, g.structured_outputs) and all(
            a.dtype is b.dtype for a, b in zip(first.outputs, g.outputs))
        if not same:
            raise TypeError(
                f"branches[0] and branches[{k}] arguments to tf.switch_case must have the same number, type, and "
                f"overall structure of return values.\n\nbranches[0] output: {first.structured_outputs}\n"
                f"branches[{k}] output: {g.structured_outputs}")
    outs = iter(make_case(index, graphs, [], name=base))
    result = nest.map_structure(lambda x: next(outs) if isinstance(x, Tensor) else x, first.structured_outputs)
    return with_arrays(result)


# --- case --------------------------------------------------------------------------------------


def _pairs(pred_fn_pairs):
    if not isinstance(pred_fn_pairs, (list, tuple, dict)):
        raise TypeError(f"'pred_fn_pairs' must be a list, tuple, or dict. Received: {type(pred_fn_pairs)}")
    pairs = list(pred_fn_pairs.items()) if isinstance(pred_fn_pairs, dict) else list(pred_fn_pairs)
    if not pairs:
        raise ValueError("'pred_fn_pairs' must contain at least one (predicate, function) pair.")
    for entry in pairs:
        if not isinstance(entry, tuple) or len(entry) != 2:
            raise TypeError(f"Each entry in 'pred_fn_pairs' must be a 2-tuple. Received {entry}.")
        pred, fn = entry
        if not isinstance(pred, Tensor):
            raise TypeError(f"pred must be a Tensor, got: {pred}")
        if pred.dtype is not dtypes.bool_:
            raise TypeError(f"pred must be Tensor of type bool, got {pred.dtype.name}")
        if not callable(fn):
            raise TypeError(f"fn for pred {_pred_name(pred)} must be callable.")
    return pairs


def _pred_name(pred) -> str:
    return "?" if ctx.graph is None or not hasattr(pred, "op") else pred.name


def _checks(preds, exclusive, has_default):
    """TF's run-time checks: at most one true predicate (exclusive); one at all (no default)."""
    from flowstone.ops import array, math, reduction
    from flowstone.ops.debugging import Assert

    names = ", ".join(_pred_name(p) for p in preds)
    stacked = array.stack([array.reshape(p, []) for p in preds])
    if exclusive:
        count = reduction.reduce_sum(array.cast(stacked, dtypes.int32))
        Assert(math.less_equal(count, 1),
               [f"Input error: exclusive=True: more than 1 conditions ({names}) evaluated as True:", stacked],
               summarize=len(preds))
    if not has_default:
        Assert(reduction.reduce_any(stacked), ["Input error: None of conditions evaluated as True:", stacked],
               summarize=len(preds))


@export("case")
def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """Runs the function of the first (predicate, function) pair whose predicate is true.

    Args:
      pred_fn_pairs: a list of (scalar bool tensor, callable) pairs (or a dict pred -> callable).
      default: callable run when no predicate is true. Without it, the last pair's function is
        the fallback and no true predicate at all is an InvalidArgumentError.
      exclusive: when true, more than one true predicate is an InvalidArgumentError.
      strict: when false, a branch result that is a one-element list or tuple is unpacked.
      name: name prefix.

    Returns:
      What the selected function returns (every function must return the same structure).

    Raises:
      TypeError: malformed pairs, a predicate that is not a bool tensor, or a non-callable.
      InvalidArgumentError: the run-time checks above fail.

    >>> import flowstone as tf
    >>> x = tf.constant(3)
    >>> r = tf.case([(x < 0, lambda: tf.constant(-1)), (x > 2, lambda: tf.constant(1))],
    ...             default=lambda: tf.constant(0))
    >>> print(r.numpy())
    1
    """
    pairs = _pairs(pred_fn_pairs)
    if default is not None and not callable(default):
        raise TypeError("'default' must be callable.")
    preds = [p for p, _ in pairs]
    if exclusive or default is None:
        _checks(preds, exclusive, default is not None)
    if ctx.graph is None:
        chosen = next((fn for p, fn in pairs if bool(convert_to_tensor(p))), default or pairs[-1][1])
        return _unpack(chosen(), strict)
    from flowstone.graph.control_flow import cond

    fn = default or pairs[-1][1]
    body = pairs if default is not None else pairs[:-1]
    for pred, action in reversed(body):
        fn = _nested(cond, pred, action, fn, name)
    return _unpack(fn(), strict)


def _nested(cond, pred, action, otherwise, name):
    return lambda: cond(pred, action, otherwise, name=name)


def _unpack(result, strict):
    if not strict and isinstance(result, (list, tuple)) and not hasattr(result, "_fields") and len(result) == 1:
        return result[0]
    return result


__all__ = ["switch_case", "case", "make_case"]
