"""Execution context: eager vs graph building, name scopes, devices, active tapes, seeds.

One thread-local `Context` holds the state that `execute()` consults on every op; the
fields are plain attributes so that the eager hot path reads them in one lookup.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import threading

from flowstone._export import export


class Context(threading.local):
    """Per-thread execution state."""

    def __init__(self):
        self.graph = None  # the FuncGraph being traced, or None when executing eagerly
        self.tapes = []  # active GradientTapes (recording), innermost last
        self.scope = ""  # current name scope, "" or "a/b/"
        self.device = ""  # current device spec string
        self.global_seed = None
        self.op_seed_counter = 0
        self.init_scope_depth = 0


ctx = Context()


@export("executing_eagerly")
def executing_eagerly() -> bool:
    """True when ops run immediately (not while a `tf.function` is being traced).

    >>> import flowstone as tf
    >>> tf.executing_eagerly()
    True
    """
    return ctx.graph is None


@contextlib.contextmanager
def graph_mode(graph):
    """Makes `graph` the target of new ops; tapes of the outer context are set aside."""
    saved = (ctx.graph, ctx.tapes, ctx.scope)
    ctx.graph, ctx.tapes, ctx.scope = graph, [], ""
    try:
        yield graph
    finally:
        ctx.graph, ctx.tapes, ctx.scope = saved


@export("init_scope")
@contextlib.contextmanager
def init_scope():
    """Lifts the code inside out of any function being traced, into the eager context.

    >>> import flowstone as tf
    >>> with tf.init_scope():
    ...     tf.executing_eagerly()
    True
    """
    saved = (ctx.graph, ctx.tapes, ctx.scope)
    # A function being traced notes where state (variables) is created from inside it.
    hook = getattr(ctx.graph, "_on_init_scope", None)
    if hook is not None:
        hook()
    # TF2's outermost context is always eager; tapes are paused inside, as in TF.
    ctx.graph, ctx.tapes = None, []
    try:
        yield
    finally:
        ctx.graph, ctx.tapes, ctx.scope = saved


_VALID_SCOPE = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")


@export("name_scope")
class name_scope:  # noqa: N801 - TensorFlow's public name
    """A context manager that prefixes the names of ops and variables created inside it.

    >>> import flowstone as tf
    >>> with tf.name_scope("block") as scope:
    ...     scope
    'block/'
    """

    def __init__(self, name: str):
        if not isinstance(name, str) or not _VALID_SCOPE.match(name):
            raise ValueError(f"'{name}' is not a valid scope name")
        self._name = name
        self._saved = None

    @property
    def name(self) -> str:
        return self._name

    def __enter__(self) -> str:
        self._saved = ctx.scope
        name = self._name
        if not name:
            ctx.scope = ""
        elif name.endswith("/"):
            ctx.scope = name
        else:
            if ctx.graph is not None:
                name = ctx.graph.unique_name(ctx.scope + name, mark_used=True)
                ctx.scope = name + "/"
            else:
                ctx.scope = ctx.scope + name + "/"
        return ctx.scope

    def __exit__(self, *exc):
        ctx.scope = self._saved
        return False


def scoped(default: str):
    """Gives a composite op TensorFlow's node names while a graph is built.

    TF's Python wrappers open `name_scope(name or default)` and name the op that produces
    their result after the scope itself: `tf.clip_by_value` builds `clip_by_value/Minimum`
    and `clip_by_value` (the Maximum). The decorated function runs inside that scope and
    receives it as `name` ("clip_by_value/"), which it passes to its last op. Eagerly the
    function is called as it is, so names cost nothing there.
    """

    def decorate(fn):
        pos = list(inspect.signature(fn).parameters).index("name")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if ctx.graph is None:
                return fn(*args, **kwargs)
            if len(args) > pos:
                with name_scope(args[pos] or default) as scope:
                    return fn(*args[:pos], scope, *args[pos + 1 :], **kwargs)
            with name_scope(kwargs.pop("name", None) or default) as scope:
                return fn(*args, name=scope, **kwargs)

        return wrapper

    return decorate


def current_scope() -> str:
    return ctx.scope


@export("device")
class device:  # noqa: N801 - TensorFlow's public name
    """Places ops created inside on a device (`"/CPU:0"`, `"/GPU:0"`).

    >>> import flowstone as tf
    >>> with tf.device("/CPU:0"):
    ...     tf.constant(1.0).device
    '/job:localhost/replica:0/task:0/device:CPU:0'
    """

    def __init__(self, device_name):
        self._name = "" if device_name is None else str(device_name)
        self._saved = None

    def __enter__(self):
        self._saved = ctx.device
        ctx.device = self._name
        return self

    def __exit__(self, *exc):
        ctx.device = self._saved
        return False
