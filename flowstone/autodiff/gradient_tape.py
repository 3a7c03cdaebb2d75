"""`tf.GradientTape`: records ops on watched tensors and computes gradients."""

from __future__ import annotations

from flowstone._export import export
from flowstone.autodiff import backprop, tape
from flowstone.core.tensor import convert_to_tensor


def _flatten(structure):
    if isinstance(structure, dict):
        return [x for k in sorted(structure) for x in _flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [x for s in structure for x in _flatten(s)]
    return [structure]


def _pack_like(structure, flat):
    it = iter(flat)

    def build(s):
        if isinstance(s, dict):
            return {k: build(s[k]) for k in sorted(s)}
        if isinstance(s, (list, tuple)):
            items = [build(x) for x in s]
            return type(s)(*items) if hasattr(s, "_fields") else type(s)(items)
        return next(it)

    return build(structure)


@export("GradientTape", "autodiff.GradientTape")
class GradientTape:
    """Records operations for automatic differentiation.

    >>> import flowstone as tf
    >>> x = tf.constant(3.0)
    >>> with tf.GradientTape() as g:
    ...     g.watch(x)
    ...     y = x * x
    >>> g.gradient(y, x).numpy()
    6.0
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = persistent
        self._tape = tape.Tape(persistent, watch_accessed_variables)
        self._used = False
        self._recording = False

    def __enter__(self):
        tape.push(self._tape)
        self._recording = True
        return self

    def __exit__(self, *exc):
        if self._recording:
            tape.pop(self._tape)
            self._recording = False
        return False

    def watch(self, tensor) -> None:
        for t in _flatten(tensor):
            handle = getattr(t, "_tape_handle", None)
            self._tape.watch(handle if handle is not None else convert_to_tensor(t))

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        if self._used and not self._persistent:
            raise RuntimeError(
                "A non-persistent GradientTape can only be used to compute one set of gradients "
                "(or jacobians)"
            )
        if self._recording and not self._persistent:
            tape.pop(self._tape)
            self._recording = False
        self._used = True
        flat_targets = [convert_to_tensor(t) for t in _flatten(target)]
        flat_sources = _flatten(sources)
        handles = [getattr(s, "_tape_handle", s) for s in flat_sources]
        seeds = None
        if output_gradients is not None:
            seeds = [None if g is None else convert_to_tensor(g) for g in _flatten(output_gradients)]
        grads = backprop.backward(self._tape.records, flat_targets, handles, seeds)
        if str(getattr(unconnected_gradients, "value", unconnected_gradients)).lower() == "zero":
            from flowstone.ops import array

            grads = [array.zeros_like(s) if g is None else g for g, s in zip(grads, flat_sources)]
        return _pack_like(sources, grads)
