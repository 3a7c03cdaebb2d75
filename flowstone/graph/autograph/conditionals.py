"""`if` statements, conditional expressions, `and` / `or` / `not` and `assert` in converted code.

A condition that is a graph tensor builds an If node (both branches traced, as TensorFlow
does); any other condition runs the chosen branch as plain Python. The variables an `if`
carries (assigned in it, read after it) become the If node's outputs, with TensorFlow's rules
and messages: defined in both branches, same nested structure, same dtype, not None on only
one side. A return value that only one branch defines is filled with zeros on the other side:
the return flag keeps that value from ever being returned.
"""

from __future__ import annotations

from flowstone.core.context import ctx, graph_mode
from flowstone.core.tensor import Tensor, convert_to_tensor
from flowstone.graph import nest
from flowstone.graph.autograph.undefined import display_name, is_graph_tensor, is_undefined, tf

RETVAL = "ag__retval"


# --- boolean operators and conditional expressions --------------------------------------------


def as_tensor(x):
    """A graph condition as a tensor (a variable is read)."""
    return x if isinstance(x, Tensor) else convert_to_tensor(x)


def not_(x):
    """`not x`: `tf.logical_not` for a graph tensor, Python's `not` otherwise."""
    if is_graph_tensor(x):
        return tf().logical_not(as_tensor(x))
    return not x


def and_(a, b):
    """`a() and b()`, evaluating `b` lazily (inside a `tf.cond` when `a()` is a graph tensor)."""
    x = a()
    if is_graph_tensor(x):
        x = as_tensor(x)
        return tf().cond(x, b, lambda: x)
    return x and b()


def or_(a, b):
    """`a() or b()`, evaluating `b` lazily (inside a `tf.cond` when `a()` is a graph tensor)."""
    x = a()
    if is_graph_tensor(x):
        x = as_tensor(x)
        return tf().cond(x, lambda: x, b)
    return x or b()


def if_exp(test, body, orelse):
    """`body() if test else orelse()` (a `tf.cond` when `test` is a graph tensor)."""
    if is_graph_tensor(test):
        return tf().cond(_condition(test, "conditional expression"), body, orelse)
    return body() if test else orelse()


def assert_stmt(test, message=None):
    """`assert test, message()`: `tf.debugging.Assert` when `test` is a graph tensor."""
    if is_graph_tensor(test):
        data = [message()] if message is not None else ["Assertion failed"]
        return tf().debugging.Assert(_condition(test, "assert statement"), data)
    if not test:
        raise AssertionError(message()) if message is not None else AssertionError()
    return None


def _condition(test, what: str):
    test = as_tensor(test)
    if test.dtype.name != "bool" or test.shape.rank not in (0, None):
        raise ValueError(
            f"condition of {what} expected to be `tf.bool` scalar, got {test}; to use as boolean Tensor, "
            "use `tf.cast`; to check for None, use `is not None`"
        )
    return test


# --- if statements ------------------------------------------------------------------------------


def if_stmt(test, body, orelse, get_state, set_state, names):
    """`if test: body() else: orelse()`; `names` are the variables the statement carries."""
    if not is_graph_tensor(test):
        if test:
            body()
        else:
            orelse()
        return
    from flowstone.graph.control_flow import make_if
    from flowstone.graph.tensor_array import state_flows

    test = _condition(test, "if statement")
    get_state, set_state = state_flows(get_state, set_state)  # TensorArrays travel as flows
    init = tuple(get_state())
    tg, t_vals = _trace_branch("cond_true_branch", body, init, get_state, set_state)
    fg, f_vals = _trace_branch("cond_false_branch", orelse, init, get_state, set_state)
    final, slots, t_out, f_out = [], [], [], []
    for name, a, b in zip(names, t_vals, f_vals):
        value, pairs = _merge(name, a, b, tg, fg)
        final.append(value)
        slots.append(len(pairs))
        t_out += [p[0] for p in pairs]
        f_out += [p[1] for p in pairs]
    for g, outs in ((tg, t_out), (fg, f_out)):
        with graph_mode(g):
            g.outputs = [tf().identity(g._own(t)) for t in outs]
    results = iter(make_if(test, tg, fg, []) if (t_out or tg.nodes or fg.nodes) else ())
    for i, (value, n) in enumerate(zip(final, slots)):
        if n:
            final[i] = value(results)
    set_state(tuple(final))


def _trace_branch(name, fn, init, get_state, set_state):
    from flowstone.graph.funcgraph import FuncGraph

    g = FuncGraph(name, ctx.graph)
    with graph_mode(g):
        set_state(init)
        fn()
        values = tuple(get_state())
    set_state(init)
    return g, values


def _merge(name, a, b, tg, fg):
    """(value or a function of the If outputs, [(true tensor, false tensor) per output])."""
    if a is b:
        return a, []
    shown = display_name(name)
    if is_undefined(a) or is_undefined(b):
        if is_undefined(a) and is_undefined(b):
            return a, []
        if name != RETVAL:
            raise ValueError(f"'{shown}' must also be initialized in the {'main' if is_undefined(a) else 'else'} "
                             "branch")
        # The return value of a branch that does not return is never used: fill it in.
        if is_undefined(a):
            b = nest.pack_sequence_as(b, _branch_tensors(name, b, fg, "else"))
            a = nest.pack_sequence_as(b, _fillers(tg, nest.flatten(b)))
        else:
            a = nest.pack_sequence_as(a, _branch_tensors(name, a, tg, "main"))
            b = nest.pack_sequence_as(a, _fillers(fg, nest.flatten(a)))
    _check_none(shown, name, a, b)
    problem = structure_mismatch(a, b)
    if problem:
        raise TypeError(f"'{shown}' must have the same nested structure in the main and else branches:\n\n{problem}")
    la, lb = _branch_tensors(name, a, tg, "main"), _branch_tensors(name, b, fg, "else")
    pairs, layout = [], []
    for x, y in zip(la, lb):
        if x is y or (x is None and y is None):
            layout.append(("same", x))
            continue
        if x is None or y is None:
            _check_none(shown, name, x, y)
        if x.dtype != y.dtype:
            raise TypeError(f"'{shown}' has dtype {x.dtype.name} in the main branch, but dtype {y.dtype.name} "
                            "in the else branch")
        layout.append(("out", None))
        pairs.append((x, y))

    def rebuild(results):
        return nest.pack_sequence_as(a, [next(results) if kind == "out" else v for kind, v in layout])

    return (rebuild if pairs else nest.pack_sequence_as(a, [v for _, v in layout])), pairs


def _check_none(shown, name, a, b):
    if (a is None) == (b is None):
        return
    side = "main" if a is None else "else"
    if name == RETVAL:
        raise ValueError(f"the {side} branch must also have a return statement.")
    raise ValueError(f"'{shown}' is None at the end of the {side} branch.")


def _branch_tensors(name, value, graph, side):
    """The leaves of a branch's value, Python numbers and strings made tensors in `graph`."""
    out = []
    for leaf in nest.flatten(value):
        if leaf is None or isinstance(leaf, Tensor):
            out.append(leaf)
            continue
        try:
            with graph_mode(graph):
                out.append(convert_to_tensor(leaf))
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"'{display_name(name)}' must hold tensors, numbers or nested structures of them to be assigned "
                f"in a tensor-dependent if; in the {side} branch it holds {type(leaf).__name__} ({e})"
            ) from None
    return out


def _fillers(graph, leaves):
    with graph_mode(graph):
        return [None if t is None else placeholder_value(t.dtype, t.shape) for t in leaves]


def placeholder_value(dtype, shape):
    """A zero value standing for a variable that a path leaves undefined (never read)."""
    dims = [0 if d is None else d for d in shape.as_list()] if shape.rank is not None else []
    if dtype.name == "string":
        return tf().fill(dims, "")
    return tf().zeros(dims, dtype)


def structure_mismatch(a, b):
    """None when `a` and `b` nest the same way (same sequence types, dict keys), else why not."""

    def why(x, y):
        if isinstance(x, dict) or isinstance(y, dict):
            if type(x) is not type(y):
                return f"type {type(x).__name__} differs from type {type(y).__name__}"
            if set(x) != set(y):
                return f"the dict keys {sorted(x, key=repr)} differ from {sorted(y, key=repr)}"
            return next((r for k in x for r in [why(x[k], y[k])] if r), None)
        if isinstance(x, (list, tuple)) or isinstance(y, (list, tuple)):
            if type(x) is not type(y):
                return f"type {type(x).__name__} differs from type {type(y).__name__}"
            if len(x) != len(y):
                return f"{len(x)} elements differ from {len(y)} elements"
            return next((r for p, q in zip(x, y) for r in [why(p, q)] if r), None)
        return None

    reason = why(a, b)
    if reason is None:
        return None
    return (f"The two structures don't have the same nested structure.\n\nFirst structure: {a!r}\n\n"
            f"Second structure: {b!r}\n\nMore specifically: {reason}.")
