"""`tf.GradientTape`: records ops on watched tensors and computes gradients and jacobians."""

from __future__ import annotations

import contextlib
import enum

import numpy as np

from flowstone._export import export
from flowstone.autodiff import backprop, diagnostics, tape
from flowstone.autodiff.indexed_slices import IndexedSlices, densify
from flowstone.core.tensor import Tensor, convert_to_tensor, convert_to_tensor_v2

_USED = "A non-persistent GradientTape can only be used to compute one set of gradients (or jacobians)"


@export("UnconnectedGradients")
class UnconnectedGradients(enum.Enum):
    """What `gradient` returns for a source the targets do not depend on.

    >>> import flowstone as tf
    >>> tf.UnconnectedGradients.ZERO.value
    'zero'
    """

    NONE = "none"
    ZERO = "zero"


def _unconnected(value) -> UnconnectedGradients:
    if value is UnconnectedGradients.NONE:
        return value
    try:
        return UnconnectedGradients(value)
    except ValueError:
        raise ValueError(f"Unknown value for unconnected_gradients: {value!r}") from None


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
            return type(s)((k, build(s[k])) for k in sorted(s))
        if isinstance(s, (list, tuple)):
            items = [build(x) for x in s]
            return type(s)(*items) if hasattr(s, "_fields") else type(s)(items)
        return next(it)

    return build(structure)


def _handle_or_tensor(x, what):
    handle = getattr(x, "_tape_handle", None)
    if handle is not None:
        return handle
    if isinstance(x, (Tensor, IndexedSlices)):
        return x
    raise ValueError(
        f"Passed in object {x!r} of type '{type(x).__name__}', not tf.Tensor or tf.Variable or "
        f"ExtensionType." if what == "watch" else
        f"Argument `{what}` should be a Tensor or Variable, got {type(x).__name__}: {x!r}"
    )


def _target(t):
    handle = getattr(t, "_tape_handle", None)
    return handle if handle is not None else convert_to_tensor(t)


def _zeros(shape, dtype):
    return convert_to_tensor_v2(np.zeros(shape, dtype=dtype.as_numpy_dtype))


@export("GradientTape", "autodiff.GradientTape")
class GradientTape:
    """Records operations for automatic differentiation.

    >>> import flowstone as tf
    >>> x = tf.constant(3.0)
    >>> with tf.GradientTape() as g:
    ...     g.watch(x)
    ...     y = x * x
    >>> float(g.gradient(y, x))
    6.0
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = persistent
        self._watch_accessed_variables = watch_accessed_variables
        self._tape = tape.Tape(persistent, watch_accessed_variables)
        self._used = False
        self._recording = False

    def __enter__(self):
        if self._recording:
            raise ValueError(
                "Tape is still recording, This can happen if you try to re-enter an already-active tape."
            )
        tape.push(self._tape)
        self._recording = True
        return self

    def __exit__(self, *exc):
        if self._recording:
            tape.pop(self._tape)
            self._recording = False
        return False

    def watch(self, tensor) -> None:
        """Records operations on `tensor` (a tensor, variable, or a nest of them)."""
        for t in _flatten(tensor):
            self._tape.watch(_handle_or_tensor(t, "watch"))

    @contextlib.contextmanager
    def stop_recording(self):
        """Temporarily stops recording operations on this tape.

        >>> import flowstone as tf
        >>> x = tf.constant(2.0)
        >>> with tf.GradientTape() as t:
        ...     t.watch(x)
        ...     with t.stop_recording():
        ...         y = x * x
        >>> print(t.gradient(y, x))
        None
        """
        if not self._recording:
            raise RuntimeError("Trying to stop recording a tape which is not recording.")
        tape.pop(self._tape)
        self._recording = False
        try:
            yield
        finally:
            tape.push(self._tape)
            self._recording = True

    def reset(self) -> None:
        """Clears everything recorded so far; the tape keeps recording if it was."""
        self._tape.reset()
        self._used = False

    def watched_variables(self):
        """The variables watched so far, in creation order."""
        return self._tape.watched_variables()

    def _start_use(self):
        if self._used and not self._persistent:
            raise RuntimeError(_USED)
        if self._recording and not self._persistent:
            tape.pop(self._tape)
            self._recording = False

    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        """Gradients of the sum of `target` with respect to each of `sources` (any nest).

        Returns the gradients in the structure of `sources`: None (or zeros with
        `unconnected_gradients=tf.UnconnectedGradients.ZERO`) where a source is not connected.
        """
        self._start_use()
        if target is None:
            raise TypeError(
                "Argument `target` should be a list or nested structure of Tensors, Variables or "
                "CompositeTensors to be differentiated, but received None."
            )
        mode = _unconnected(unconnected_gradients)
        self._used = True
        flat_targets = [_target(t) for t in _flatten(target)]
        single = not isinstance(sources, (list, tuple, dict))
        flat_sources = [sources] if single else _flatten(sources)
        handles = [_handle_or_tensor(s, "sources") for s in flat_sources]
        seeds = None
        if output_gradients is not None:
            seeds = [None if g is None else convert_to_tensor(g) for g in _flatten(output_gradients)]
        grads = backprop.backward(self._tape.records, flat_targets, handles, seeds, known=self._tape._ids)
        if mode is UnconnectedGradients.NONE and diagnostics.enabled() and None in grads:
            diagnostics.report(self._tape, flat_targets, flat_sources, handles, grads)
        if mode is UnconnectedGradients.ZERO:
            from flowstone.ops import array

            grads = [array.zeros_like(s) if g is None else g for g, s in zip(grads, flat_sources)]
        return grads[0] if single else _pack_like(sources, grads)

    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE,
                 parallel_iterations=None, experimental_use_pfor=True):
        """The jacobian of `target` w.r.t. each source: shape `target.shape + source.shape`.

        >>> import flowstone as tf
        >>> x = tf.constant([1.0, 2.0])
        >>> with tf.GradientTape() as g:
        ...     g.watch(x)
        ...     y = x * x
        >>> g.jacobian(y, x).numpy()
        array([[2., 0.],
               [0., 4.]], dtype=float32)
        """
        self._start_use()
        mode = _unconnected(unconnected_gradients)
        self._used = True
        target = convert_to_tensor(target)
        flat_sources = _flatten(sources)
        handles = [_handle_or_tensor(s, "sources") for s in flat_sources]
        tshape = _static_shape(target, "target")
        rows = self._rows(target, handles, tshape, batch=False)
        out = []
        for source, per_row in zip(flat_sources, rows):
            sshape = _static_shape(source, "sources")
            out.append(_assemble(per_row, tshape + sshape, _dtype(source), mode))
        return _pack_like(sources, out)

    def batch_jacobian(self, target, source, unconnected_gradients=UnconnectedGradients.NONE,
                       parallel_iterations=None, experimental_use_pfor=True):
        """Per-example jacobians: `target[i]` w.r.t. `source[i]` for each index of axis 0.

        Returns shape `[batch] + target.shape[1:] + source.shape[1:]`.
        """
        self._start_use()
        mode = _unconnected(unconnected_gradients)
        self._used = True
        target = convert_to_tensor(target)
        handle = _handle_or_tensor(source, "source")
        tshape = _static_shape(target, "target")
        sshape = _static_shape(source, "source")
        for shape in (tshape, sshape):
            if len(shape) < 2:
                raise ValueError(f"Shape {tuple(shape)} must have rank at least 2")
        if tshape[0] != sshape[0]:
            raise ValueError(
                f"Need first dimension of target shape ({tuple(tshape)}) and source shape "
                f"({tuple(sshape)}) to match."
            )
        (per_row,) = self._rows(target, [handle], tshape, batch=True)
        from flowstone.ops import array

        final = [tshape[0]] + tshape[1:] + sshape[1:]
        if all(r is None for r in per_row):
            return _zeros(final, _dtype(source)) if mode is UnconnectedGradients.ZERO else None
        zero = None
        rows = []
        for r in per_row:
            if r is None:
                zero = zero if zero is not None else _zeros(sshape, _dtype(source))
                r = zero
            rows.append(densify(r))
        return array.reshape(array.stack(rows, axis=1), final)

    def _rows(self, target, handles, tshape, batch):
        """One backward pass per element of `target` (per inner element when `batch`)."""
        inner = tshape[1:] if batch else tshape
        n = int(np.prod(inner, dtype=np.int64))
        planned = backprop.plan(self._tape.records, [target], handles, self._tape._ids)
        np_dtype = target.dtype.as_numpy_dtype
        rows = [[] for _ in handles]
        for i in range(n):
            seed = np.zeros(n, dtype=np_dtype)
            seed[i] = 1
            seed = seed.reshape(inner)
            if batch:
                seed = np.broadcast_to(seed, tshape).copy()
            grads = backprop.backward(self._tape.records, [target], handles, [convert_to_tensor(seed)],
                                      planned=planned)
            for j, g in enumerate(grads):
                rows[j].append(g)
        return rows


def _dtype(x):
    return x.dtype


def _static_shape(x, what):
    shape = x.shape
    if shape.rank is None or not shape.is_fully_defined():
        raise ValueError(f"The shape of `{what}` must be fully defined to compute jacobians, got {shape}")
    return list(shape.as_list())


def _assemble(per_row, final, dtype, mode):
    from flowstone.ops import array

    if all(r is None for r in per_row):
        return _zeros(final, dtype) if mode is UnconnectedGradients.ZERO else None
    like = next(densify(r) for r in per_row if r is not None)
    rows = [densify(r) if r is not None else array.zeros_like(like) for r in per_row]
    if not rows:
        return _zeros(final, dtype)
    return array.reshape(array.stack(rows), final)
