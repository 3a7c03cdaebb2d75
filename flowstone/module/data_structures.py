"""Containers that track what they hold: lists, dicts and tuples assigned as attributes.

An `AutoTrackable` (so a `tf.Module`) wraps a list assigned to an attribute in a
`ListWrapper`, a dict in a `_DictWrapper` and a tuple that holds trackables in a
`_TupleWrapper`. They behave as the built-in types (and are instances of them) and
name their trackable elements for checkpoints: list and tuple elements by index
("0", "1", ...), dict values by key, named-tuple fields by field name. As in
TensorFlow, tracking is for append-only use: a list whose trackable elements were
replaced, removed or reordered cannot be saved, since restore-on-create could not
match its elements by position. The wrappers copy the container they are given.
"""

from __future__ import annotations

from flowstone.module.trackable import Trackable, is_trackable


class NoDependency:
    """Assigning `NoDependency(value)` to an attribute stores `value` without tracking it."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def wrap_or_unwrap(value):
    """The value to store for an attribute assignment: containers wrapped, NoDependency unwrapped."""
    if isinstance(value, NoDependency):
        return value.value
    if isinstance(value, Trackable):
        return value
    if type(value) is list:
        return ListWrapper(value)
    if type(value) is dict:
        return _DictWrapper(value)
    if isinstance(value, tuple) and _should_wrap_tuple(value):
        return _TupleWrapper(value)
    return value


def _should_wrap_tuple(t) -> bool:
    for element in t:
        if isinstance(element, NoDependency) or is_trackable(element):
            return True
        if wrap_or_unwrap(element) is not element:
            return True
    return False


def _unsaveable(obj, kind: str, reason: str):
    return ValueError(
        f"Unable to save the object {obj!r} (a {kind}). {reason} In order to support restoration on "
        "object creation, tracking is exclusively for append-only data structures.\n\nIf you don't "
        "need this object to be saved, wrap it in a non-trackable object (NoDependency)."
    )


class ListWrapper(Trackable, list):
    """A list that tracks its trackable elements as children named "0", "1", ..."""

    __hash__ = None

    def __init__(self, wrapped_list=()):
        list.__init__(self, (wrap_or_unwrap(v) for v in wrapped_list))
        object.__setattr__(self, "_self_non_append_mutation", False)
        original = wrapped_list if type(wrapped_list) is list else None
        object.__setattr__(self, "_self_external", original)
        object.__setattr__(self, "_self_snapshot", None if original is None else list(original))

    def _has_trackables(self, *extra) -> bool:
        return any(is_trackable(v) for v in (*self, *extra))

    def _mutated(self, *removed) -> None:
        if self._has_trackables(*removed):
            object.__setattr__(self, "_self_non_append_mutation", True)

    def _trackable_children(self) -> dict:
        if self._self_non_append_mutation:
            raise _unsaveable(
                self,
                "list wrapper constructed to track trackable TensorFlow objects",
                "A list element was replaced (__setitem__, __setslice__), deleted (__delitem__, "
                "__delslice__), or moved (sort).",
            )
        external = self._self_external
        if external is not None and [id(v) for v in external] != [id(v) for v in self._self_snapshot]:
            raise _unsaveable(
                self,
                "list wrapper constructed to track trackable TensorFlow objects",
                f"The wrapped list was modified outside the wrapper (its final value was {external!r}, "
                f"its value when a checkpoint dependency was added was {self._self_snapshot!r}), which "
                "breaks restoration on object creation.",
            )
        return {str(i): v for i, v in enumerate(self) if is_trackable(v)}

    def append(self, value):
        value = wrap_or_unwrap(value)
        list.append(self, value)
        if is_trackable(value):
            self._handle_deferred(str(len(self) - 1), value)

    def extend(self, values):
        for value in values:
            self.append(value)

    def __iadd__(self, values):
        self.extend(values)
        return self

    def __imul__(self, n):
        self._mutated()
        list.__imul__(self, n)
        return self

    def __setitem__(self, key, value):
        old = self[key] if isinstance(key, slice) else [self[key]]
        if isinstance(key, slice):
            value = [wrap_or_unwrap(v) for v in value]
        else:
            value = wrap_or_unwrap(value)
        self._mutated(*old)
        list.__setitem__(self, key, value)

    def __delitem__(self, key):
        old = self[key] if isinstance(key, slice) else [self[key]]
        self._mutated(*old)
        list.__delitem__(self, key)

    def insert(self, index, value):
        self._mutated(value)
        list.insert(self, index, wrap_or_unwrap(value))

    def pop(self, index=-1):
        value = list.pop(self, index)
        self._mutated(value)
        return value

    def remove(self, value):
        list.remove(self, value)
        self._mutated(value)

    def clear(self):
        old = list(self)
        list.clear(self)
        self._mutated(*old)

    def sort(self, *args, **kwargs):
        self._mutated()
        list.sort(self, *args, **kwargs)

    def reverse(self):
        self._mutated()
        list.reverse(self)

    def __repr__(self):
        return f"ListWrapper({list.__repr__(self)})"


class _DictWrapper(Trackable, dict):
    """A dict that tracks its trackable values as children named by their keys."""

    __hash__ = None

    def __init__(self, wrapped_dict=None):
        dict.__init__(self)
        for key, value in (wrapped_dict or {}).items():
            dict.__setitem__(self, key, wrap_or_unwrap(value))

    def _trackable_children(self) -> dict:
        out = {}
        for key, value in self.items():
            if not is_trackable(value):
                continue
            if not isinstance(key, str):
                raise ValueError(
                    f"Unable to save the object {self!r} (a dictionary wrapper constructed "
                    "automatically on attribute assignment). The wrapped dictionary contains a "
                    "non-string key which maps to a trackable object or mutable data structure.\n\n"
                    "If you don't need this dictionary checkpointed, wrap it in a non-trackable "
                    "object; it will be subsequently ignored."
                )
            out[key] = value
        return out

    def __setitem__(self, key, value):
        value = wrap_or_unwrap(value)
        dict.__setitem__(self, key, value)
        if is_trackable(value) and isinstance(key, str):
            self._handle_deferred(key, value)

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def __repr__(self):
        return f"DictWrapper({dict.__repr__(self)})"


class _TupleWrapper(Trackable, tuple):
    """A tuple (or named tuple) of trackables; children are indices or field names."""

    def __new__(cls, original):
        wrapped = tuple.__new__(cls, (wrap_or_unwrap(v) for v in original))
        object.__setattr__(wrapped, "_self_fields", getattr(type(original), "_fields", None))
        object.__setattr__(wrapped, "_self_original_type", type(original))
        return wrapped

    def __init__(self, original):
        pass

    def __getattr__(self, name):
        fields = self.__dict__.get("_self_fields")
        if fields and name in fields:
            return self[fields.index(name)]
        raise AttributeError(f"'_TupleWrapper' object has no attribute '{name}'")

    def _trackable_children(self) -> dict:
        names = self._self_fields or [str(i) for i in range(len(self))]
        return {n: v for n, v in zip(names, self, strict=True) if is_trackable(v)}

    def __repr__(self):
        return f"_TupleWrapper({tuple.__repr__(self)})"
