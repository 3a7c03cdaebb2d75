"""`tf.cond` and `tf.while_loop`: the If / While raw ops with function-valued attrs.

Eagerly both run as Python (as TF2 does). While tracing, branches and loop bodies are
traced into FuncGraphs; values they capture become extra inputs of the node. Lowering
maps If to `lax.cond` and While to `lax.while_loop` (see `lowering_cf.py`).

Like TF's `while_v2`, a While node's first two loop variables are the iteration counter and
`maximum_iterations` (-1 when unbounded), so the trip count is an output of the loop.
Gradients (`gradients_cf.py`) are built with flowstone ops.
"""

from __future__ import annotations

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import ctx, graph_mode, name_scope
from flowstone.core.execute import execute
from flowstone.core.registry import REQUIRED, op
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import Tensor, constant, convert_to_tensor, convert_to_tensor_v2
from flowstone.graph import nest
from flowstone.graph.funcgraph import FuncGraph, trace
from flowstone.graph.graphlib import Operation
from flowstone.graph.lowering_cf import if_kernel, while_kernel
from flowstone.graph.spec import TensorSpec


def _output_shapes(inputs, attrs):
    return [TensorShape(s) for s in attrs["output_shapes"]]


for _name in ("If", "StatelessIf"):
    op(_name, "cond: Tcond, input: Tin * Tin -> output: Tout * Tout",
       {"Tout": REQUIRED, "then_branch": REQUIRED, "else_branch": REQUIRED, "output_shapes": []},
       stateful=_name == "If", shape=_output_shapes)(if_kernel)
for _name in ("While", "StatelessWhile"):
    op(_name, "input: T * T -> output: T * T",
       {"cond": REQUIRED, "body": REQUIRED, "output_shapes": [], "parallel_iterations": 10},
       stateful=_name == "While", shape=_output_shapes)(while_kernel)


def _is_stateful(*graphs) -> bool:
    from flowstone.graph import lowering

    return any(n._opdef.stateful and n.type not in ("Const", "Placeholder", "NoOp")
               or any(_is_stateful(g) for g in lowering.function_attrs(n))
               for g in graphs for n in g.nodes)


# --- cond ---------------------------------------------------------------------------------------


def _branch_fn(fn):
    def run():
        out = fn()
        return nest.map_structure(
            lambda x: x if x is None or isinstance(x, (Tensor, Operation)) or _is_variable(x)
            else convert_to_tensor(x), out)

    return run


def _is_variable(x) -> bool:
    from flowstone.core.variables import Variable

    return isinstance(x, Variable)


def _same_branch_structure(a, b) -> bool:
    return nest.assert_same_structure(a, b) and [x is None for x in nest.flatten(a)] == [
        x is None for x in nest.flatten(b)]


@export("cond")
def cond(pred, true_fn=None, false_fn=None, name=None):
    """Runs `true_fn()` if `pred` is true, else `false_fn()` (an If node inside a function).

    Args:
      pred: a scalar boolean tensor (or Python bool).
      true_fn: callable run when `pred` is true.
      false_fn: callable run when `pred` is false.
      name: optional name prefix.

    Returns:
      What the chosen branch returns (both branches must return the same structure).

    >>> import flowstone as tf
    >>> print(tf.cond(tf.constant(True), lambda: tf.constant(1), lambda: tf.constant(2)).numpy())
    1
    """
    if not callable(true_fn):
        raise TypeError("true_fn must be callable.")
    if not callable(false_fn):
        raise TypeError("false_fn must be callable.")
    if ctx.graph is None:
        p = convert_to_tensor(pred)
        if p.dtype is not dtypes.bool_ or p.shape.rank not in (0, None):
            raise TypeError(f"pred must be a scalar bool tensor, got {p!r}")
        return true_fn() if bool(p) else false_fn()
    pred = convert_to_tensor(pred)
    if pred.dtype is not dtypes.bool_:
        raise TypeError(f"pred must not be a Python bool or a tensor of dtype {pred.dtype.name}")
    if pred.shape.rank not in (0, None):
        raise ValueError(f"Shape must be rank 0 but is rank {pred.shape.rank} for pred of tf.cond")
    # TF names the node after its scope ("cond", "cond_1") and passes each output through an
    # Identity inside it ("cond/Identity").
    with name_scope(name or "cond") as scope:
        return _cond(pred, true_fn, false_fn, scope)


def _cond(pred, true_fn, false_fn, scope):
    from flowstone.graph.tensor_array import branch_flows
    from flowstone.ops import array

    base = scope[:-1]
    (true_fn, false_fn), with_arrays = branch_flows(true_fn, false_fn)
    tg = trace(f"{base}_true_branch", _branch_fn(true_fn), (), {}, None, add_identity=True)
    fg = trace(f"{base}_false_branch", _branch_fn(false_fn), (), {}, None, add_identity=True)
    if not _same_branch_structure(tg.structured_outputs, fg.structured_outputs):
        raise ValueError(
            "true_fn and false_fn arguments to tf.cond must have the same number, type, and overall structure "
            f"of return values.\n\ntrue_fn output: {tg.structured_outputs}\nfalse_fn output: {fg.structured_outputs}"
        )
    for a, b in zip(tg.outputs, fg.outputs):
        if a.dtype is not b.dtype:
            raise TypeError(
                f"true_fn and false_fn arguments to tf.cond must have the same number, type, and overall "
                f"structure of return values. true_fn returned a {a.dtype.name} tensor where false_fn "
                f"returned a {b.dtype.name} tensor."
            )
    outs = [array.identity(t) for t in make_if(pred, tg, fg, [], name=scope)]
    it = iter(outs)
    return with_arrays(nest.map_structure(lambda x: next(it) if isinstance(x, Tensor) else x, tg.structured_outputs))


def unify_captures(graphs, n_explicit):
    """Gives each graph the same inputs: its explicit ones, then the union of all captures."""
    order, sources = [], {}
    for g in graphs:
        for (_, internal), src in zip(g.captures, g.capture_sources):
            if id(src) not in sources:
                sources[id(src)] = src
                order.append((src, internal))
    for g in graphs:
        mine = {id(src): internal for (_, internal), src in zip(g.captures, g.capture_sources)}
        extra = []
        for src, like in order:
            ph = mine.get(id(src))
            if ph is None:
                ph = g.placeholder(like.dtype, like.shape, "unused_capture", like._handle_data)
            extra.append(ph)
        g.inputs = g.inputs[:n_explicit] + extra
    return [src for src, _ in order]


def make_if(pred, then_graph, else_graph, explicit_inputs, name=None):
    """Adds an If (or StatelessIf) node running `then_graph` or `else_graph` on the inputs."""
    captured = unify_captures([then_graph, else_graph], len(explicit_inputs))
    inputs = list(explicit_inputs) + captured
    shapes = [a.shape.most_specific_compatible_shape(b.shape) for a, b in zip(then_graph.outputs, else_graph.outputs)]
    kind = "If" if _is_stateful(then_graph, else_graph) else "StatelessIf"
    attrs = {
        "Tout": [t.dtype for t in then_graph.outputs],
        "then_branch": then_graph,
        "else_branch": else_graph,
        "output_shapes": shapes,
    }
    outs = execute(kind, (pred, inputs), attrs, name=name)
    return list(outs)


# --- while_loop --------------------------------------------------------------------------------


@export("while_loop")
def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, maximum_iterations=None, name=None):
    """Repeats `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` is true.

    Args:
      cond: callable returning a scalar boolean tensor.
      body: callable returning loop variables of the same structure (and compatible shapes).
      loop_vars: a (nested) tuple or list of tensors.
      shape_invariants: shapes the loop variables keep across iterations (for shapes that change).
      maximum_iterations: optional bound on the number of iterations.

    Returns:
      The loop variables after the last iteration, with the structure of `loop_vars`.

    >>> import flowstone as tf
    >>> print(tf.while_loop(lambda i: i < 10, lambda i: i + 3, [tf.constant(0)])[0].numpy())
    12
    """
    if not callable(cond):
        raise TypeError("'cond' must be callable.")
    if not callable(body):
        raise TypeError("'body' must be callable.")
    if parallel_iterations < 1:
        raise TypeError("'parallel_iterations' must be a positive integer.")
    if not nest.flatten(loop_vars) and not isinstance(loop_vars, (list, tuple)):
        raise ValueError("'loop_vars' must be provided.")
    single = not isinstance(loop_vars, (list, tuple, dict))
    structure = [loop_vars] if single else loop_vars
    if ctx.graph is None:
        return _eager_loop(cond, body, structure, single, maximum_iterations)
    from flowstone.graph.tensor_array import loop_flows

    arrays = loop_flows(structure, cond, body)  # TensorArrays travel as their flows
    if arrays is not None:
        structure, cond, body, with_arrays = arrays
        if shape_invariants is not None:
            shape_invariants = _array_invariants(shape_invariants, single, structure)
    flat = [convert_to_tensor_v2(x) for x in nest.flatten(structure)]
    if shape_invariants is not None:
        invariants = [TensorShape(s) for s in nest.flatten([shape_invariants] if single else shape_invariants)]
        for x, s in zip(flat, invariants):
            if not s.is_compatible_with(x.shape):
                raise ValueError(f"The shape invariant specified for {x.name} is not compatible with the initial "
                                 f"shape of the loop variable. It enters the loop with shape {x.shape}, but the "
                                 f"specified shape invariant is {s}.")
    else:
        invariants = [x.shape for x in flat]
    with name_scope(name or "while") as scope:
        limit = -1 if maximum_iterations is None else maximum_iterations
        if not isinstance(limit, Tensor):
            limit = convert_to_tensor_v2(limit, dtypes.int32, name="maximum_iterations")
        outs = build_while(cond, body, structure, flat, invariants, limit, parallel_iterations, scope)
    result = nest.pack_sequence_as(structure, outs)
    if arrays is not None:
        result = with_arrays(result)
    return result[0] if single else result


def _array_invariants(shape_invariants, single, structure):
    """Shape invariants with each TensorArray's entry replaced by its flow's (a scalar)."""
    given = nest.flatten([shape_invariants] if single else shape_invariants)
    flat = nest.flatten(structure)
    return [TensorShape([]) if getattr(x, "dtype", None) is dtypes.variant else s for x, s in zip(flat, given)]


def _eager_loop(cond, body, structure, single, maximum_iterations):
    vars_ = structure
    limit = None if maximum_iterations is None else int(convert_to_tensor(maximum_iterations))
    i = 0
    while (limit is None or i < limit) and bool(cond(*vars_) if not isinstance(vars_, dict) else cond(**vars_)):
        new = body(*vars_) if not isinstance(vars_, dict) else body(**vars_)
        if single or (not isinstance(new, (list, tuple, dict)) and len(nest.flatten(structure)) == 1):
            new = [new] if not isinstance(new, (list, tuple)) else new
        if not nest.assert_same_structure(new, structure):
            raise ValueError(f"The two structures don't have the same nested structure. First: {structure}, "
                             f"second: {new}")
        vars_ = nest.pack_sequence_as(structure, nest.flatten(new))
        i += 1
    return vars_[0] if single else vars_


def build_while(cond, body, structure, flat, invariants, limit, parallel_iterations=10, name=None):
    """Traces cond/body and adds the While node; returns the user loop variables' outputs."""
    specs = [TensorSpec(TensorShape([]), dtypes.int32, "loop_counter"),
             TensorSpec(TensorShape([]), dtypes.int32, "maximum_iterations")]
    specs += [TensorSpec(s, x.dtype, "loop_var") for x, s in zip(flat, invariants)]
    call = _caller(structure)

    def cond_fn(counter, limit_, *xs):
        from flowstone.ops import math

        user = convert_to_tensor(call(cond, xs))
        if user.dtype is not dtypes.bool_:
            raise TypeError(f"The while_loop condition must return a bool tensor, got {user.dtype.name}")
        bounded = math.logical_or(math.less(limit_, 0), math.less(counter, limit_))
        return math.logical_and(bounded, user)

    def body_fn(counter, limit_, *xs):
        new = call(body, xs)
        if not isinstance(new, (list, tuple, dict)) and len(xs) == 1:
            new = [new]
        if not nest.assert_same_structure(list(new) if isinstance(new, tuple) and not hasattr(new, "_fields")
                                          and isinstance(structure, list) else new, structure):
            raise ValueError(f"The two structures don't have the same nested structure.\n\nFirst structure: "
                             f"{structure}\n\nSecond structure: {new}")
        out = [convert_to_tensor(v) for v in nest.flatten(new)]
        return [counter + 1, limit_] + out

    base = (name or "while").rstrip("/")
    cg = trace(f"{base}_cond", cond_fn, specs, {}, None, add_identity=False)
    bg = trace(f"{base}_body", body_fn, specs, {}, None)
    _check_body(bg, flat, invariants)
    limit = limit if isinstance(limit, Tensor) else convert_to_tensor(limit, dtype=dtypes.int32)
    counter = constant(0, dtypes.int32, name="loop_counter")
    return make_while(cg, bg, [counter, limit] + flat, parallel_iterations, name)[2:len(flat) + 2]


def _caller(structure):
    def call(fn, xs):
        packed = nest.pack_sequence_as(structure, list(xs))
        return fn(**packed) if isinstance(packed, dict) else fn(*packed)

    return call


def _check_body(bg, flat, invariants):
    for x, s, out in zip(flat, invariants, bg.outputs[2:]):
        if out.dtype is not x.dtype:
            raise TypeError(f"Loop variable {getattr(x, 'name', x)} enters the loop with type {x.dtype.name}, but "
                            f"has type {out.dtype.name} after one iteration.")
        if not out.shape.is_subtype_of(s):
            raise ValueError(
                f"Input tensor '{getattr(x, 'name', 'loop_var')}' enters the loop with shape {s}, but has shape "
                f"{out.shape} after one iteration. To allow the shape to vary across iterations, use the "
                "`shape_invariants` argument of tf.while_loop to specify a less-specific shape."
            )


def make_while(cond_graph, body_graph, explicit_inputs, parallel_iterations=10, name=None):
    """Adds a While node; captures of either graph become extra, unchanged loop variables."""
    n = len(explicit_inputs)
    captured = unify_captures([cond_graph, body_graph], n)
    with graph_mode(body_graph):
        from flowstone.ops import array

        body_graph.outputs = body_graph.outputs[:n] + [array.identity(p) for p in body_graph.inputs[n:]]
    inputs = list(explicit_inputs) + captured
    shapes = [p.shape for p in body_graph.inputs]
    kind = "While" if _is_stateful(cond_graph, body_graph) else "StatelessWhile"
    attrs = {"cond": cond_graph, "body": body_graph, "output_shapes": shapes,
             "parallel_iterations": parallel_iterations}
    outs = list(execute(kind, (inputs,), attrs, name=name))
    for o, p in zip(outs, body_graph.inputs):
        if hasattr(o, "_handle_data"):
            o._handle_data = p._handle_data
    return outs


__all__ = ["cond", "while_loop", "make_if", "make_while", "FuncGraph"]
