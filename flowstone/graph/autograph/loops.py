"""`while` and `for` loops in converted code.

A `while` whose condition is a graph tensor, and a `for` over a graph tensor (`tf.range(n)`,
rows of a tensor, `enumerate` / `zip` of tensors), build one While node; the variables the loop
carries (assigned in the body, read in a later iteration or after the loop) are its loop
variables. Anything else runs as a Python loop (`range(3)` and lists unroll while tracing).

The loop variables follow TensorFlow's rules and messages: a variable keeps its nested
structure, dtype and shape (or the shape given with `set_loop_options(shape_invariants=...)`)
from one iteration to the next. A variable first assigned inside the body starts from a zero
value of the type that one trial trace of the body gives it; when the code after the loop reads
it, an assertion checks at run time that the loop ran at least once (as TensorFlow does).
"""

from __future__ import annotations

import math

from flowstone.core import dtypes
from flowstone.core.context import ctx, graph_mode
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import Tensor, constant_value, convert_to_tensor
from flowstone.graph import nest
from flowstone.graph.autograph.conditionals import (
    RETVAL,
    _condition,
    as_tensor,
    if_stmt,
    placeholder_value,
    structure_mismatch,
)
from flowstone.graph.autograph.undefined import display_name, is_graph_tensor, is_undefined, tf

_UNSET = object()


def loop_options(parallel_iterations=_UNSET, swap_memory=_UNSET, maximum_iterations=_UNSET,
                 shape_invariants=_UNSET):
    """The options of `set_loop_options(...)`, evaluated just before the loop starts."""
    given = {"parallel_iterations": parallel_iterations, "swap_memory": swap_memory,
             "maximum_iterations": maximum_iterations, "shape_invariants": shape_invariants}
    return {k: v for k, v in given.items() if v is not _UNSET}


# --- while ----------------------------------------------------------------------------------------


def while_stmt(test, body, get_state, set_state, names, live_out=(), opts=None):
    """`while test(): body()`; a While node once `test()` is a graph tensor."""
    cond = test()
    while not is_graph_tensor(cond):
        if not cond:
            return
        body()
        cond = test()
    # A graph condition, from the start or once the loop state became tensors: a While node.
    _graph_loop(lambda: _condition(test(), "while loop"), lambda: body() or (), (), get_state, set_state,
                names, live_out, opts)


# --- for ----------------------------------------------------------------------------------------


def for_stmt(iterable, extra_test, body, get_state, set_state, names, live_out=(), opts=None):
    """`for item in iterable: body(item)`, stopping early when `extra_test()` (not break) is false."""
    if isinstance(iterable, Tensor) and ctx.graph is not None or is_graph_tensor(iterable):
        iterable = _Rows(as_tensor(iterable))
    if hasattr(iterable, "_ag_item"):
        _tensor_for(iterable, extra_test, body, get_state, set_state, names, live_out, opts)
        return
    custom = getattr(iterable, "_autograph_for", None)
    if custom is not None:  # e.g. a dataset: it builds its own loop
        custom(extra_test, body, get_state, set_state, names, opts)
        return
    for item in iterable:
        if extra_test is not None:
            go = extra_test()
            if is_graph_tensor(go):
                # A tensor-dependent break: the remaining iterations run under a tf.cond each.
                if_stmt(go, lambda item=item: body(item), lambda: None, get_state, set_state, names)
                continue
            if not go:
                break
        body(item)


class _Rows:
    """Iteration over the first dimension of a tensor, as a graph loop sees it."""

    def __init__(self, tensor):
        if tensor.shape.rank == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        self.tensor = tensor

    def _ag_length(self):
        return length(self.tensor)

    def _ag_item(self, i):
        return tf().gather(self.tensor, i)


def length(t):
    """The first dimension of `t`: a Python int when static, else a scalar int32 tensor."""
    if t.shape.rank is not None and t.shape[0] is not None:
        return t.shape[0]
    return tf().shape(t, out_type=dtypes.int32)[0]


def _tensor_for(it, extra_test, body, get_state, set_state, names, live_out, opts):
    rng = _range_args(it)
    if rng is not None:
        start, limit, delta, count = rng

        def cond(v):
            return _with_extra(_range_test(v, limit, delta), extra_test)

        def step(v):
            body(v)
            return (v + delta,)

        _graph_loop(cond, step, (start,), get_state, set_state, names, live_out, opts, count)
        return
    n = it._ag_length()

    def cond(i):
        return _with_extra(tf().less(i, n), extra_test)

    def step(i):
        body(it._ag_item(i))
        return (i + 1,)

    zero = convert_to_tensor(0, dtype=dtypes.int32)
    _graph_loop(cond, step, (zero,), get_state, set_state, names, live_out, opts,
                n if isinstance(n, int) else None)


def _range_args(it):
    """(start, limit, delta, static count or None) when iterating over a `tf.range` result."""
    t = getattr(it, "tensor", None)
    if type(it) is not _Rows or not is_graph_tensor(t) or t.op.type != "Range":
        return None
    start, limit, delta = t.op.inputs
    values = [constant_value(x) for x in (start, limit, delta)]
    count = None
    if all(v is not None for v in values) and values[2] != 0:
        count = max(0, math.ceil((float(values[1]) - float(values[0])) / float(values[2])))
    return start, limit, delta, count


def _range_test(v, limit, delta):
    step = constant_value(delta)
    if step is not None:
        return tf().less(v, limit) if step > 0 else tf().greater(v, limit)
    zero = tf().zeros_like(delta)
    up = tf().logical_and(tf().greater(delta, zero), tf().less(v, limit))
    down = tf().logical_and(tf().less(delta, zero), tf().greater(v, limit))
    return tf().logical_or(up, down)


def _with_extra(more, extra_test):
    if extra_test is None:
        return more
    go = extra_test()
    if is_graph_tensor(go):
        return tf().logical_and(more, as_tensor(go))
    return more if go else tf().constant(False)


# --- the While node ------------------------------------------------------------------------------


def _graph_loop(cond_fn, step_fn, hidden, get_state, set_state, names, live_out, opts, count=None):
    """Builds the While node: `hidden` are loop-internal values (an index) before the variables."""
    from flowstone.graph.tensor_array import state_flows

    opts = opts or {}
    get_state, set_state = state_flows(get_state, set_state)  # TensorArrays travel as flows
    init = tuple(get_state())
    values, shapes, fresh = _loop_variables(names, init, opts.get("shape_invariants", ()))
    if fresh:
        _auto_initialize(fresh, values, shapes, names, init, hidden, step_fn, get_state, set_state)
    carried = sorted(values)
    needs_check = [i for i in fresh if i in values and names[i] in live_out and names[i] != RETVAL]
    n_h = len(hidden)
    loop_vars = list(hidden) + [values[i] for i in carried]
    invariants = [t.shape for t in hidden] + [nest.pack_sequence_as(values[i], shapes[i]) for i in carried]
    if needs_check:  # counts iterations, for the check that the loop defined the variable
        loop_vars.append(convert_to_tensor(0, dtype=dtypes.int32))
        invariants.append(TensorShape([]))

    def unpack(vals):
        state = list(init)
        for k, i in enumerate(carried):
            state[i] = vals[n_h + k]
        return list(vals[:n_h]), state, (vals[-1] if needs_check else None)

    def cond(*vals):
        h, state, _ = unpack(vals)
        set_state(tuple(state))
        return cond_fn(*h)

    def body(*vals):
        h, state, counter = unpack(vals)
        set_state(tuple(state))
        out = list(step_fn(*h))
        after = get_state()
        for i in carried:
            out.append(nest.pack_sequence_as(state[i], _next_value(names[i], state[i], after[i], shapes[i])))
        return out + ([counter + 1] if needs_check else [])

    outs = tf().while_loop(cond, body, loop_vars, shape_invariants=invariants,
                           parallel_iterations=opts.get("parallel_iterations", 10),
                           maximum_iterations=_limit(opts.get("maximum_iterations"), count))
    _, state, counter = unpack(outs)
    for i in needs_check:
        tf().debugging.Assert(tf().greater(counter, 0),
                              [f"loop must iterate at least once to initialize {display_name(names[i])}"])
    set_state(tuple(state))


def _loop_variables(names, init, shape_invariants):
    """The loop variables defined before the loop (as tensors) with their shapes, and the others."""
    given = {id(v): s for v, s in shape_invariants}
    values, shapes, fresh = {}, {}, []
    for i, (name, v) in enumerate(zip(names, init)):
        if is_undefined(v) or v is None:
            fresh.append(i)
            continue
        values[i] = _initial_value(name, v)
        leaves = nest.flatten(values[i])
        inv = given.get(id(v))
        shapes[i] = [TensorShape(inv) for _ in leaves] if inv is not None else [t.shape for t in leaves]
        _check_invariants(name, leaves, shapes[i])
    return values, shapes, fresh


def _initial_value(name, v):
    """A loop variable's value before the loop, its Python numbers and strings made tensors."""
    def leaf(x):
        if isinstance(x, Tensor):
            return x
        if x is None:
            raise ValueError(f"'{display_name(name)}' is None before the loop; it must be a tensor or a nested "
                             "structure of tensors.")
        try:
            return convert_to_tensor(x)
        except (TypeError, ValueError) as e:
            raise TypeError(f"'{display_name(name)}' is a loop variable of a tensor-dependent loop, so it must hold "
                            f"tensors, numbers or nested structures of them; it holds {type(x).__name__} ({e})") from None

    return nest.map_structure(leaf, v)


def _check_invariants(name, leaves, shapes):
    for t, s in zip(leaves, shapes):
        if not t.shape.is_subtype_of(s):
            raise ValueError(f"'{display_name(name)}' has shape {t.shape} before the loop, which is not compatible "
                             f"with the shape invariant {s} given in set_loop_options.")


def _auto_initialize(fresh, values, shapes, names, init, hidden, step_fn, get_state, set_state):
    """Variables first assigned in the body: one trial trace of the body gives their types."""
    from flowstone.graph.funcgraph import FuncGraph

    probe = FuncGraph("loop_body_probe", ctx.graph)
    state = [values.get(i, v) for i, v in enumerate(init)]
    with graph_mode(probe):
        set_state(tuple(state))
        step_fn(*hidden)
        after = get_state()
        found = {}
        for i in fresh:
            v = after[i]
            if is_undefined(v) or v is None:
                continue  # not assigned on every path: it stays undefined after the loop
            found[i] = (v, _initial_value(names[i], v))
    set_state(init)
    for i, (v, converted) in found.items():
        leaves = nest.flatten(converted)
        values[i] = nest.pack_sequence_as(v, [placeholder_value(t.dtype, t.shape) for t in leaves])
        shapes[i] = [t.shape for t in leaves]


def _next_value(name, before, after, shapes):
    """The flat tensors of a loop variable after one iteration, checked against its entry."""
    shown = display_name(name)
    if is_undefined(after):
        raise ValueError(f"'{shown}' must be defined before the loop.")
    if after is None:
        raise ValueError(f"'{shown}' is None at the end of the iteration.")
    problem = structure_mismatch(before, after)
    if problem:
        raise TypeError(f"'{shown}' does not have the same nested structure after one iteration.\n\n{problem}")
    out = []
    for b, a, s in zip(nest.flatten(before), nest.flatten(after), shapes):
        if a is None:
            raise ValueError(f"'{shown}' is None at the end of the iteration.")
        if not isinstance(a, Tensor):
            a = _initial_value(name, a)
        if a.dtype != b.dtype:
            raise TypeError(f"'{shown}' has dtype {b.dtype.name} before the loop, but dtype {a.dtype.name} after "
                            "one iteration")
        if not a.shape.is_subtype_of(s):
            raise ValueError(f"'{shown}' has shape {s} before the loop, but shape {a.shape} after one iteration. "
                             "Use tf.autograph.experimental.set_loop_options to set shape invariants.")
        out.append(a)
    return out


def _limit(maximum_iterations, count):
    """The While node's iteration bound: the smaller of the option and the static count."""
    bounds = [b for b in (maximum_iterations, count) if b is not None]
    if not bounds:
        return None
    if all(not isinstance(b, Tensor) for b in bounds):
        return int(min(bounds))
    bounds = [tf().cast(b, dtypes.int32) for b in bounds]
    return bounds[0] if len(bounds) == 1 else tf().minimum(*bounds)
