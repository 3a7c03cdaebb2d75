"""The tape: what `execute()` records while a `GradientTape` is active.

A record is an `Op` view (op definition, attrs, inputs, outputs). Tensors are identified by
`id()`; the tape keeps every recorded tensor alive, so ids stay unique while it exists.
Only ops that consume a watched tensor (or the output of a recorded op) are recorded.
Variables are watched through their handle (`ResourceHandle`): reading a trainable variable
under a tape that watches accessed variables watches it, and the read is recorded as a
`ReadVariableOp` whose input is the handle.
"""

from __future__ import annotations

import contextlib
import logging

from flowstone.core import dtypes
from flowstone.core import variables as _variables  # noqa: F401 - registers ReadVariableOp
from flowstone.core.context import ctx
from flowstone.core.registry import OPS

_TRAINABLE = frozenset(
    (dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64, dtypes.complex64, dtypes.complex128,
     dtypes.resource, dtypes.variant)
)
_log = logging.getLogger("flowstone")


def is_trainable(dtype) -> bool:
    return dtype in _TRAINABLE


def watch_dtype(t):
    """The dtype that decides whether `t` can be differentiated (a handle: its variable's)."""
    return getattr(t, "_var_dtype", None) or t.dtype


class Op:
    """The view of a recorded op that gradient functions read, as TF's `Operation` offers it."""

    __slots__ = ("_opdef", "_attrs", "inputs", "outputs", "skip_input_indices")

    def __init__(self, opdef, attrs, inputs, outputs):
        self._opdef = opdef
        self._attrs = attrs
        self.inputs = inputs
        self.outputs = outputs
        # TF's eager contract: inputs whose gradient nobody needs (set by backprop before the
        # gradient function runs; None when unknown).
        self.skip_input_indices = None

    @property
    def type(self) -> str:
        return self._opdef.name

    @property
    def name(self) -> str:
        return self._opdef.name

    @property
    def node_def(self):
        return None

    def get_attr(self, name: str):
        if name in self._opdef.type_attrs:
            for arg, t in zip(self._opdef.inputs, self.inputs):
                if arg.type_attr == name:
                    return t.dtype
            for arg, t in zip(self._opdef.outputs, self.outputs):
                if arg.type_attr == name:
                    return t.dtype
        if self._attrs and name in self._attrs:
            return self._attrs[name]
        if name in self._opdef.attrs:
            return self._opdef.attrs[name]
        raise ValueError(f"Operation '{self.name}' has no attr named '{name}'.")

    def __repr__(self):
        return f"<Op {self._opdef.name}: {len(self.inputs)} inputs, {len(self.outputs)} outputs>"


class FunctionOpDef:
    """Stands in for an OpDef when a Python function with its own gradient is recorded."""

    __slots__ = ("name", "grad", "differentiable", "type_attrs", "attrs", "inputs", "outputs")

    def __init__(self, name, grad):
        self.name = name
        self.grad = grad
        self.differentiable = True
        self.type_attrs = {}
        self.attrs = {}
        self.inputs = ()
        self.outputs = ()


class Tape:
    """Records ops reachable from watched tensors."""

    __slots__ = ("persistent", "watch_accessed_variables", "records", "_ids", "_keep", "variables")

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self.records = []
        self._ids = set()
        self._keep = []
        self.variables = {}  # id(handle) -> variable, in the order they were first watched

    def watch(self, t) -> None:
        var = getattr(t, "variable", None)
        if var is not None:
            v = var()
            if v is not None and id(t) not in self.variables:
                self.variables[id(t)] = v
        if is_trainable(watch_dtype(t)):
            if id(t) not in self._ids:
                self._ids.add(id(t))
                self._keep.append(t)
        else:
            _log.warning(
                "The dtype of the watched tensor must be floating (e.g. tf.float32), got tf.%s",
                watch_dtype(t).name,
            )

    def is_watched(self, t) -> bool:
        return id(t) in self._ids

    def variable_accessed(self, variable) -> None:
        """TF's `variable_accessed`: a trainable variable read under this tape gets watched."""
        if self.watch_accessed_variables and variable.trainable:
            h = variable._handle
            if id(h) not in self.variables:
                self.variables[id(h)] = variable
                if is_trainable(variable.dtype):
                    self._ids.add(id(h))
                    self._keep.append(h)

    def variable_read(self, variable, handle, value) -> None:
        """An eager read of `variable` produced `value`: watch it (if accessed) and record it."""
        if self.watch_accessed_variables and id(handle) not in self.variables:
            self.variable_accessed(variable)
        if id(handle) in self._ids:
            self.records.append(Op(_READ, {"dtype": variable.dtype}, (handle,), (value,)))
            self._ids.add(id(value))

    def record(self, opdef, attrs, inputs, outputs) -> None:
        ids = self._ids
        for t in inputs:
            if id(t) in ids:
                break
        else:
            return
        self.records.append(Op(opdef, attrs, inputs, outputs))
        for o in outputs:
            ids.add(id(o))

    def watched_variables(self):
        return tuple(sorted(self.variables.values(), key=lambda v: v._unique_id))

    def reset(self) -> None:
        self.records = []
        self._ids = set()
        self._keep = []
        self.variables = {}


class VariableWatcher:
    """Collects the trainable variables read while it is active (used by `custom_gradient`).

    It sits among the active tapes but records nothing, and pausing the tapes keeps it.
    """

    __slots__ = ("variables",)

    def __init__(self):
        self.variables = {}

    def record(self, opdef, attrs, inputs, outputs) -> None:
        pass

    def variable_accessed(self, variable) -> None:
        if variable.trainable:
            self.variables.setdefault(id(variable._handle), variable)

    def variable_read(self, variable, handle, value) -> None:
        self.variable_accessed(variable)

    def watched_variables(self):
        return tuple(self.variables.values())

    def __enter__(self):
        ctx.tapes.append(self)
        return self

    def __exit__(self, *exc):
        if self in ctx.tapes:
            ctx.tapes.remove(self)
        return False


_READ = OPS["ReadVariableOp"]


def push(tape) -> None:
    ctx.tapes.append(tape)


def pop(tape) -> None:
    if tape in ctx.tapes:
        ctx.tapes.remove(tape)


def record_operation(opdef, attrs, inputs, outputs) -> None:
    """Records an op computed outside `execute()` (a function call, a custom gradient)."""
    for tape in ctx.tapes:
        tape.record(opdef, attrs, inputs, outputs)


@contextlib.contextmanager
def stop_recording():
    """Pauses every active tape (variable watchers keep watching)."""
    saved = ctx.tapes
    ctx.tapes = [t for t in saved if isinstance(t, VariableWatcher)]
    try:
        yield
    finally:
        kept = [t for t in ctx.tapes if t not in saved]
        ctx.tapes = saved + kept
