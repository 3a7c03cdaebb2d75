"""Why is my gradient None? An opt-in diagnostic (a flowstone extension, not in TensorFlow).

TensorFlow answers `None` silently. With diagnostics on, `GradientTape.gradient` warns once
per source whose gradient is None (a `tf.autodiff.NoneGradientWarning`) and says why:

- **integer dtype**: integer and boolean tensors are not differentiable;
- **not watched**: a constant that was never `tape.watch`ed, a variable that is not trainable,
  not read under the tape, or read under a tape with `watch_accessed_variables=False`;
- **non-differentiable op**: the only paths to the target go through a named op without a
  gradient (`StopGradient`, `ArgMax`, a comparison, a cast to an integer, ...);
- **computed outside the tape**: the target depends on the source, but part of the path was
  computed before the tape started, after it stopped, or under `stop_recording()`;
- **not connected**: the target does not depend on the source at all.

Turn it on with `tf.autodiff.enable_gradient_diagnostics()` (off with
`disable_gradient_diagnostics()`) or for a block with `with tf.autodiff.gradient_diagnostics():`.
While on, every op's provenance is remembered (weakly) so that "computed outside the tape" can be
told apart from "not connected"; this costs a little time per op, so it is off by default.
`tf.autodiff.explain_none_gradients(tape, target, sources)` returns the reasons as strings.

>>> import flowstone as tf
>>> x = tf.constant(1.0)
>>> with tf.GradientTape() as t:
...     y = x * 2.0
>>> tf.autodiff.explain_none_gradients(t, y, [x])
['source #0 (tf.float32 tensor of shape ()) is not watched: call tape.watch() on it (only trainable variables are watched automatically)']
"""

from __future__ import annotations

import contextlib
import warnings
import weakref

from flowstone._export import export
from flowstone.autodiff.tape import VariableWatcher, is_trainable, watch_dtype
from flowstone.core.context import ctx


@export("autodiff.NoneGradientWarning")
class NoneGradientWarning(UserWarning):
    """Warned by `GradientTape.gradient`, with diagnostics on, for each None gradient."""


class _Provenance(VariableWatcher):
    """Remembers, weakly, which op produced each tensor (while diagnostics are on)."""

    __slots__ = ("producers",)

    def __init__(self):
        super().__init__()
        self.producers = {}  # id(output) -> (weakref(output), op name, differentiable, input ids)

    def record(self, opdef, attrs, inputs, outputs) -> None:
        entry_inputs = tuple(id(t) for t in inputs)
        for o in outputs:
            key = id(o)
            try:
                ref = weakref.ref(o, lambda _r, key=key, table=self.producers: table.pop(key, None))
            except TypeError:
                continue
            self.producers[key] = (ref, opdef.name, opdef.differentiable, entry_inputs, o.dtype)

    def variable_read(self, variable, handle, value) -> None:
        self.record(_ReadName, None, (handle,), (value,))

    def variable_accessed(self, variable) -> None:
        pass


class _ReadName:
    name = "ReadVariableOp"
    differentiable = True


_state = {"recorder": None}


def enabled() -> bool:
    return _state["recorder"] is not None


@export("autodiff.enable_gradient_diagnostics")
def enable_gradient_diagnostics() -> None:
    """Turns on the None-gradient diagnostic (warnings from `GradientTape.gradient`)."""
    if _state["recorder"] is None:
        _state["recorder"] = _Provenance()
    if _state["recorder"] not in ctx.tapes:
        ctx.tapes.insert(0, _state["recorder"])


@export("autodiff.disable_gradient_diagnostics")
def disable_gradient_diagnostics() -> None:
    """Turns the None-gradient diagnostic off again."""
    rec = _state["recorder"]
    _state["recorder"] = None
    if rec is not None and rec in ctx.tapes:
        ctx.tapes.remove(rec)


@export("autodiff.gradient_diagnostics")
@contextlib.contextmanager
def gradient_diagnostics():
    """Turns the None-gradient diagnostic on inside a `with` block.

    >>> import flowstone as tf
    >>> with tf.autodiff.gradient_diagnostics():
    ...     pass
    """
    was = enabled()
    enable_gradient_diagnostics()
    try:
        yield
    finally:
        if not was:
            disable_gradient_diagnostics()


def _describe(source, index) -> str:
    name = getattr(source, "name", None) if hasattr(source, "_tape_handle") else None
    if name:
        return f"source #{index} (variable '{name}')"
    dtype = getattr(source, "dtype", None)
    shape = getattr(source, "shape", None)
    return f"source #{index} (tf.{dtype.name if dtype else '?'} tensor of shape {shape})"


def explain(tape, targets, sources, handles, grads=None):
    """A reason string for each source whose gradient is None (None where it is not)."""
    from flowstone.autodiff import backprop

    if grads is None:
        grads = backprop.backward(tape.records, targets, handles, known=tape._ids)
    return [None if g is not None else f"{_describe(s, i)} {_reason(tape, targets, s, h)}"
            for i, (s, h, g) in enumerate(zip(sources, handles, grads))]


def _reason(tape, targets, source, handle) -> str:
    dtype = watch_dtype(handle)
    if not is_trainable(dtype):
        return (f"has dtype {dtype.name}: integer and boolean tensors are not differentiable "
                "(cast to a floating dtype before the computation)")
    if id(handle) not in tape._ids:
        return _not_watched(tape, source)
    blocked = _blocking_op(tape, targets, handle)
    if blocked is not None:
        return blocked
    outside = _outside(tape, targets, handle)
    if outside is not None:
        return outside
    if enabled():
        return "is not connected to the target: the target does not depend on it"
    return ("is not connected to the target on this tape: it is not used to compute the target, or "
            "part of the path was computed outside the tape (turn on "
            "tf.autodiff.enable_gradient_diagnostics() before the computation to tell which)")


def _not_watched(tape, source) -> str:
    if hasattr(source, "_tape_handle"):
        if not source.trainable:
            return "is not watched: the variable is not trainable (watch it explicitly with tape.watch)"
        if not tape.watch_accessed_variables:
            return ("is not watched: the tape was created with watch_accessed_variables=False; "
                    "call tape.watch() on the variable")
        return "is not watched: the variable was not read while the tape was recording"
    return ("is not watched: call tape.watch() on it (only trainable variables are watched "
            "automatically)")


def _blocking_op(tape, targets, handle):
    """A named op on a recorded path from source to target that stops the gradient."""
    reach = {id(handle)}
    forward = []
    for op in tape.records:
        if any(id(t) in reach for t in op.inputs):
            forward.append(op)
            reach.update(id(o) for o in op.outputs)
    needed = {id(t) for t in targets}
    if not needed & reach:
        return None
    culprits = []
    for op in reversed(forward):
        if any(id(o) in needed for o in op.outputs):
            needed.update(id(t) for t in op.inputs if id(t) in reach)
            if not op._opdef.differentiable:
                culprits.append(f"'{op._opdef.name}' is not differentiable")
            elif not any(is_trainable(o.dtype) for o in op.outputs):
                dt = op.outputs[0].dtype.name if op.outputs else "nothing"
                culprits.append(f"'{op._opdef.name}' outputs {dt}, which is not differentiable")
    if not culprits:
        culprits.append("an op's gradient returned None for this input")
    return "reaches the target only through a non-differentiable op: " + "; ".join(dict.fromkeys(culprits))


def _outside(tape, targets, handle):
    """With provenance: the first tensor on a path from the target that the tape did not see."""
    rec = _state["recorder"]
    if rec is None:
        return None
    producers = rec.producers
    on_tape = tape._ids
    parent = {}
    stack = [id(t) for t in targets]
    seen = set(stack)
    while stack:
        tid = stack.pop()
        if tid == id(handle):
            node = tid
            path = [node]
            while node in parent:
                node = parent[node]
                path.append(node)
            for tid2 in path:
                if tid2 not in on_tape:
                    entry = producers.get(tid2)
                    what = f"the output of '{entry[1]}'" if entry else "a tensor"
                    return (f"is connected to the target, but {what} on the path was computed outside "
                            "the tape (before it started recording, after it stopped, or inside "
                            "stop_recording())")
            return None
        entry = producers.get(tid)
        if entry is None:
            continue
        for inp in entry[3]:
            if inp not in seen:
                seen.add(inp)
                parent[inp] = tid
                stack.append(inp)
    return None


def report(tape, targets, sources, handles, grads) -> None:
    for reason in explain(tape, targets, sources, handles, grads):
        if reason is not None:
            warnings.warn(f"Gradient is None: {reason}", NoneGradientWarning, stacklevel=3)


@export("autodiff.explain_none_gradients")
def explain_none_gradients(tape, target, sources):
    """Why the gradient of `target` w.r.t. each of `sources` is None (a list, None where it is not).

    Args:
      tape: the `tf.GradientTape` that recorded the computation (it is not consumed).
      target: a tensor or nest of tensors.
      sources: a tensor, variable or nest of them.

    Returns:
      One entry per flattened source: a sentence saying why its gradient is None, or None.
    """
    from flowstone.autodiff.gradient_tape import _flatten, _handle_or_tensor, _target

    flat_targets = [_target(t) for t in _flatten(target)]
    flat_sources = _flatten(sources)
    handles = [_handle_or_tensor(s, "sources") for s in flat_sources]
    return explain(tape._tape, flat_targets, flat_sources, handles)
