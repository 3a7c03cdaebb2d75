"""The tape: what `execute()` records while a `GradientTape` is active.

A record is (op definition, attrs, inputs, outputs). Tensors are identified by `id()`;
the tape keeps every recorded tensor alive, so ids stay unique while it exists.
Only ops that consume a watched tensor (or the output of a recorded op) are recorded.
"""

from __future__ import annotations

from flowstone.core import dtypes
from flowstone.core.context import ctx

_TRAINABLE = frozenset(
    (dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64, dtypes.complex64, dtypes.complex128,
     dtypes.resource, dtypes.variant)
)


def is_trainable(dtype) -> bool:
    return dtype in _TRAINABLE


class Op:
    """The view of a recorded op that gradient functions read, as TF's `Operation` offers it."""

    __slots__ = ("_opdef", "_attrs", "inputs", "outputs")

    def __init__(self, opdef, attrs, inputs, outputs):
        self._opdef = opdef
        self._attrs = attrs
        self.inputs = inputs
        self.outputs = outputs

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


class Tape:
    """Records ops reachable from watched tensors."""

    __slots__ = ("persistent", "watch_accessed_variables", "records", "_ids", "_keep", "recording", "variables")

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self.records = []
        self._ids = set()
        self._keep = []
        self.recording = True
        self.variables = {}

    def watch(self, t) -> None:
        if is_trainable(t.dtype):
            self._ids.add(id(t))
            self._keep.append(t)

    def is_watched(self, t) -> bool:
        return id(t) in self._ids

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


def push(tape: Tape) -> None:
    ctx.tapes.append(tape)


def pop(tape: Tape) -> None:
    if tape in ctx.tapes:
        ctx.tapes.remove(tape)


def record_operation(opdef, attrs, inputs, outputs) -> None:
    """Records an op computed outside `execute()` (a function call, a variable read)."""
    for tape in ctx.tapes:
        tape.record(opdef, attrs, inputs, outputs)
