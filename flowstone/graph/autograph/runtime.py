"""What converted code calls (`ag__.*`): each construct decides at run time.

A condition or iterable that is a graph tensor builds `tf.cond` / `tf.while_loop`; anything
else runs as plain Python, so Python conditions stay Python (as in TensorFlow).
"""

from __future__ import annotations

import functools
import inspect

from flowstone.core.context import ctx
from flowstone.core.tensor import EagerTensor, Tensor


class Undefined:
    """The value of a variable that a tensor-dependent branch or loop left undefined."""

    __slots__ = ("name", "where")

    def __init__(self, name="", where=""):
        self.name = name
        self.where = where

    def _fail(self, *args, **kwargs):
        name = f"'{self.name}'" if self.name else "a variable"
        where = f" ({self.where})" if self.where else ""
        raise ValueError(
            f"{name} is used after a tensor-dependent if or loop{where} that does not define it "
            "on every path; define it before the statement or in both branches."
        )

    __getattr__ = __call__ = __bool__ = __iter__ = __len__ = __getitem__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = __neg__ = __index__ = __float__ = __int__ = _fail

    def __repr__(self):
        return f"<undefined {self.name}>" if self.name else "<undefined>"


UNDEFINED = Undefined()
UNDEFINED_RETURN = Undefined("return value")


def _is_graph_tensor(x) -> bool:
    return isinstance(x, Tensor) and not isinstance(x, EagerTensor)


def _tf():
    import flowstone as tf

    return tf


# --- boolean operators ------------------------------------------------------------------------


def not_(x):
    if _is_graph_tensor(x):
        return _tf().logical_not(x)
    return not x


def and_(a, b):
    x = a()
    if _is_graph_tensor(x):
        return _tf().cond(x, lambda: _as_bool(b()), lambda: _tf().constant(False))
    return x and b()


def or_(a, b):
    x = a()
    if _is_graph_tensor(x):
        return _tf().cond(x, lambda: _tf().constant(True), lambda: _as_bool(b()))
    return x or b()


def _as_bool(x):
    return x if isinstance(x, Tensor) else _tf().constant(bool(x))


def or_flags(*flags):
    """Any of the break/continue/return flags set (a tensor once one of them is a tensor)."""
    result = False
    for f in flags:
        if _is_graph_tensor(f) or _is_graph_tensor(result):
            result = _tf().logical_or(_as_bool(result), _as_bool(f))
        else:
            result = result or bool(f)
    return result


# --- if ------------------------------------------------------------------------------------


def if_stmt(test, body, orelse, get_state, set_state, names, assigned, lineno=None):
    """`if test: body() else: orelse()`; `assigned` = the names each branch binds (static)."""
    if not _is_graph_tensor(test):
        (body if test else orelse)()
        return
    tf = _tf()
    init = get_state()
    in_true, in_false = set(assigned[0]), set(assigned[1])
    carried, one_sided = [], []
    for i, name in enumerate(names):
        both = name in in_true and name in in_false
        if not isinstance(init[i], Undefined) or both or init[i] is UNDEFINED_RETURN:
            carried.append(i)
        else:
            one_sided.append(i)
    seen = {}

    def branch(fn):
        def run():
            set_state(init)
            fn()
            out = get_state()
            vals = []
            for i in carried:
                v = out[i]
                if v is UNDEFINED_RETURN:
                    if i not in seen:
                        raise ValueError(f"a tensor-dependent if (line {lineno}) returns a value on only one path")
                    v = tf.zeros_like(seen[i])
                elif isinstance(v, Undefined):
                    raise ValueError(
                        f"'{names[i]}' must also be initialized in the "
                        f"{'else' if fn is orelse else 'if'} branch (line {lineno})."
                    )
                v = _loop_value(v)
                seen.setdefault(i, v)
                vals.append(v)
            return tuple(vals)

        return run

    results = tf.cond(test, branch(body), branch(orelse)) if carried else ()
    results = results if isinstance(results, (list, tuple)) else (results,)
    final = list(init)
    for i, v in zip(carried, results):
        final[i] = v
    for i in one_sided:
        final[i] = Undefined(names[i], f"line {lineno}" if lineno else "")
    set_state(tuple(final))


# --- loops -----------------------------------------------------------------------------------


def while_stmt(test, body, get_state, set_state, names, lineno=None):
    first = test()
    if not _is_graph_tensor(first):
        while first:
            body()
            first = test()
            if _is_graph_tensor(first):
                # The condition became a tensor: continue as a graph loop from here.
                _graph_while(test, body, get_state, set_state, names, lineno)
                return
        return
    _graph_while(test, body, get_state, set_state, names, lineno)


def _graph_while(test, body, get_state, set_state, names, lineno, extra=None):
    tf = _tf()
    init = get_state()
    carried = [i for i, v in enumerate(init) if not isinstance(v, Undefined)]
    loop_vars = tuple(_loop_value(init[i]) for i in carried)

    def assign(vals):
        state = list(get_state())
        for i, v in zip(carried, vals):
            state[i] = v
        set_state(tuple(state))

    def cond(*vals):
        assign(vals)
        return test()

    def step(*vals):
        assign(vals)
        body()
        out = get_state()
        new = tuple(out[i] for i in carried)
        for i, before, after in zip(carried, vals, new):
            _check_loop_var(names[i], before, after, lineno)
        return tuple(_loop_value(v) for v in new)

    results = tf.while_loop(cond, step, loop_vars) if loop_vars else ()
    results = results if isinstance(results, (list, tuple)) else (results,)
    final = list(get_state())
    for i, v in zip(carried, results):
        final[i] = v
    for i in range(len(final)):
        if i not in carried:
            final[i] = Undefined(names[i], f"loop at line {lineno}" if lineno else "")
    set_state(tuple(final))


def _loop_value(v):
    if isinstance(v, (bool, int, float)) and not isinstance(v, Tensor):
        return _tf().constant(v)
    return v


def _check_loop_var(name, before, after, lineno):
    """TF's rule: a loop variable keeps its dtype and structure across iterations."""
    if isinstance(after, Undefined):
        raise ValueError(f"'{name}' must be defined before the loop (line {lineno}).")
    b_t, a_t = isinstance(before, Tensor), isinstance(after, Tensor)
    if b_t and a_t and before.dtype != after.dtype:
        raise TypeError(
            f"'{name}' has dtype {before.dtype.name} before the loop, but dtype {after.dtype.name} "
            f"after one iteration (line {lineno}). TensorFlow requires loop variables to keep their dtype."
        )
    if b_t != a_t and not isinstance(after, (bool, int, float)):
        raise TypeError(
            f"'{name}' has a different structure after one iteration: {type(before).__name__} before "
            f"the loop, {type(after).__name__} after (line {lineno})."
        )


def for_stmt(iterable, extra_test, body, get_state, set_state, names, lineno=None):
    if _is_graph_tensor(iterable):
        _tensor_for(iterable, extra_test, body, get_state, set_state, names, lineno)
        return
    iterate = getattr(iterable, "_autograph_for", None)
    if iterate is not None:
        iterate(extra_test, body, get_state, set_state, names)
        return
    for item in iterable:
        if extra_test is not None:
            ok = extra_test()
            if _is_graph_tensor(ok):
                raise ValueError(
                    f"a break that depends on a tensor inside a Python for loop (line {lineno}) "
                    "cannot be converted: iterate over a tensor (tf.range) instead of a Python iterable."
                )
            if not ok:
                break
        body(item)


def _tensor_for(tensor, extra_test, body, get_state, set_state, names, lineno):
    tf = _tf()
    n = tf.shape(tensor)[0]
    index = {"i": tf.constant(0)}
    counter = "ag__index"

    def state():
        return (index["i"],) + tuple(get_state())

    def assign(vals):
        index["i"] = vals[0]
        set_state(tuple(vals[1:]))

    def test():
        more = tf.less(index["i"], n)
        if extra_test is None:
            return more
        return and_(lambda: more, extra_test)

    def step():
        i = index["i"]
        body(tf.gather(tensor, i))
        index["i"] = i + 1

    _graph_while(test, step, state, assign, (counter,) + tuple(names), lineno)


# --- calls -------------------------------------------------------------------------------------


def converted(fn):
    """`fn`, converted by AutoGraph when it is user code; library functions are left alone."""
    from flowstone.graph.autograph import api

    if getattr(fn, "__ag_converted__", False) or not callable(fn):
        return fn
    if inspect.ismethod(fn):
        target = fn.__func__
        if not api.should_convert(target):
            return fn
        new = api.convert(target, recursive=True)
        return functools.partial(new, fn.__self__) if new is not target else fn
    if inspect.isfunction(fn) and api.should_convert(fn):
        return api.convert(fn, recursive=True)
    return fn
