"""Object-based tracking: the protocol that checkpoints, SavedModel, Keras and optimizers share.

A trackable object names its children (`_trackable_children()`, in the order they
were tracked) and, if it holds state, the tensors to save (`_serialize_to_tensors()`)
and how to take them back (`_restore_from_tensors()`). `tf.Variable` is a leaf whose
one value is saved as `VARIABLE_VALUE`; it is adapted here rather than subclassed.

`AutoTrackable` tracks whatever trackable values are assigned to its attributes,
wrapping lists, dicts and tuples so that their contents are tracked too
(flowstone/module/data_structures.py). When a checkpoint is restored before an
object's children exist, the restoration waits on the parent
(`_self_pending_restores`) and is applied the moment the child is tracked.
"""

from __future__ import annotations

from flowstone.core.variables import Variable

VARIABLE_VALUE = "VARIABLE_VALUE"


class Trackable:
    """Base of objects whose state is saved by object-based checkpoints."""

    _self_pending_restores = None  # local name -> [pending restorations], set by a restore

    def _trackable_children(self) -> dict:
        """Children to save, name -> object, in tracking order."""
        return dict(getattr(self, "_self_tracked", None) or {})

    def _serialize_to_tensors(self) -> dict:
        """Attribute name -> value (tensor, variable or NumPy array) saved for this object."""
        return {}

    def _restore_from_tensors(self, tensors: dict) -> None:
        """Takes back the values `_serialize_to_tensors` saved (NumPy arrays)."""

    def _track_trackable(self, trackable, name: str, overwrite: bool = True):
        """Records `trackable` as the child `name` and applies any restoration waiting for it."""
        tracked = self.__dict__.get("_self_tracked")
        if tracked is None:
            tracked = {}
            object.__setattr__(self, "_self_tracked", tracked)
        if name in tracked and not overwrite and tracked[name] is not trackable:
            raise ValueError(f"A dependency named '{name}' already exists on {self!r}")
        tracked[name] = trackable
        self._handle_deferred(name, trackable)
        return trackable

    def _untrack(self, name: str) -> None:
        tracked = self.__dict__.get("_self_tracked")
        if tracked:
            tracked.pop(name, None)

    def _handle_deferred(self, name: str, child) -> None:
        pending = self._self_pending_restores
        if pending and name in pending:
            for position in pending.pop(name):
                position.bind(child)


def is_trackable(obj) -> bool:
    return isinstance(obj, (Trackable, Variable))


def children(obj) -> dict:
    """The named children of any trackable (variables have none)."""
    if isinstance(obj, Trackable):
        return obj._trackable_children()
    return {}


def serialize(obj) -> dict:
    if isinstance(obj, Variable):
        return {VARIABLE_VALUE: obj}
    if isinstance(obj, Trackable):
        return obj._serialize_to_tensors()
    return {}


def restore(obj, tensors: dict) -> None:
    if isinstance(obj, Variable):
        _restore_variable(obj, tensors[VARIABLE_VALUE])
    elif isinstance(obj, Trackable):
        obj._restore_from_tensors(tensors)


def _restore_variable(var: Variable, value) -> None:
    if not var.shape.is_compatible_with(value.shape):
        raise ValueError(
            f"Received incompatible tensor with shape {tuple(value.shape)} when attempting to restore "
            f"variable with shape {var.shape} and name {var.name}."
        )
    var.assign(value, read_value=False)


def add_pending(obj, name: str, position) -> None:
    """Queues a restoration for the child `name` of `obj`, applied when that child is tracked."""
    if isinstance(obj, Variable):
        return  # variables never gain children
    if obj.__dict__.get("_self_pending_restores") is None:
        object.__setattr__(obj, "_self_pending_restores", {})
    obj._self_pending_restores.setdefault(name, []).append(position)


class AutoTrackable(Trackable):
    """Tracks trackable values (and containers of them) assigned to its attributes."""

    def __setattr__(self, name, value):
        from flowstone.module.data_structures import wrap_or_unwrap

        if getattr(self, "_self_setattr_tracking", True) and not name.startswith("_self_"):
            value = wrap_or_unwrap(value)
            if is_trackable(value):
                self._track_trackable(value, name)
            else:
                self._untrack(name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._untrack(name)
        object.__delattr__(self, name)
