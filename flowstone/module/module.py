"""`tf.Module`: a named container of variables and other modules, found by walking attributes."""

from __future__ import annotations

import functools
import re

from flowstone._export import export
from flowstone.core.context import name_scope
from flowstone.core.variables import Variable
from flowstone.module.trackable import AutoTrackable

_VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CAMEL_1 = re.compile(r"(.)([A-Z][a-z]+)")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")
# Bookkeeping attributes that `_flatten` never reports.
_IGNORED = frozenset(("_self_tracked", "_self_pending_restores", "_self_setattr_tracking"))


def _camel_to_snake(name: str) -> str:
    return _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", name)).lower()


def _leaves_with_paths(value, path):
    """Depth-first leaves of nested lists, tuples and dicts (dict keys sorted), as TF's nest does."""
    if isinstance(value, dict):
        try:
            keys = sorted(value)
        except TypeError:
            keys = list(value)
        for key in keys:
            yield from _leaves_with_paths(value[key], (*path, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _leaves_with_paths(item, (*path, i))
    else:
        yield path, value


def _is_variable(obj) -> bool:
    return isinstance(obj, Variable)


def _is_trainable_variable(obj) -> bool:
    return isinstance(obj, Variable) and obj.trainable


def _is_non_trainable_variable(obj) -> bool:
    return isinstance(obj, Variable) and not obj.trainable


def _is_module(obj) -> bool:
    return isinstance(obj, Module)


@export("Module")
class Module(AutoTrackable):
    """Base class for objects that own variables and submodules.

    Variables and modules assigned to attributes (directly or inside lists, tuples and
    dicts) are found by `variables`, `trainable_variables` and `submodules`, and are
    saved by `tf.train.Checkpoint`.

    >>> import flowstone as tf
    >>> class Dense(tf.Module):
    ...     def __init__(self, n, name=None):
    ...         super().__init__(name=name)
    ...         with self.name_scope:
    ...             self.w = tf.Variable(tf.ones([2, n]), name="w")
    >>> d = Dense(3)
    >>> d.name, d.w.name
    ('dense', 'dense/w:0')
    >>> len(d.trainable_variables)
    1
    """

    _TF_MODULE_IGNORED_PROPERTIES = frozenset()

    def __init__(self, name: str | None = None):
        if name is None:
            name = _camel_to_snake(type(self).__name__)
        elif not isinstance(name, str) or not _VALID_NAME.match(name):
            raise ValueError(
                f"'{name}' is not a valid module name. Module names must be valid Python identifiers "
                "(e.g. a valid class name)."
            )
        self._name = name
        # The scope is fixed at construction: the module's variables share one prefix
        # however deep the module is later used.
        with name_scope(name) as scope_name:
            self._scope_name = scope_name
        self._name_scope = name_scope(self._scope_name)

    @property
    def name(self) -> str:
        """The module's name (its class name in snake case unless given)."""
        return self._name

    @property
    def name_scope(self) -> name_scope:
        """The `tf.name_scope` of this module (absolute, e.g. `outer/dense/`)."""
        return self._name_scope

    @property
    def variables(self) -> tuple:
        """All variables of this module and its submodules, each once, in attribute-name order."""
        return tuple(self._flatten(predicate=_is_variable, expand_composites=True))

    @property
    def trainable_variables(self) -> tuple:
        """The variables with `trainable=True`."""
        return tuple(self._flatten(predicate=_is_trainable_variable, expand_composites=True))

    @property
    def non_trainable_variables(self) -> tuple:
        """The variables with `trainable=False`."""
        return tuple(self._flatten(predicate=_is_non_trainable_variable, expand_composites=True))

    @property
    def submodules(self) -> tuple:
        """All modules found below this one (breadth first), each once."""
        return tuple(self._flatten(predicate=_is_module))

    def _flatten(self, recursive=True, predicate=None, attribute_traversal_key=None,
                 with_path=False, expand_composites=False):
        """Yields the attribute leaves satisfying `predicate` (all if None), or (path, leaf) pairs.

        Each module first yields the matching leaves of all its own attributes (in
        `attribute_traversal_key` order, by name by default), then descends into the
        submodules it found, in that order. Every leaf is reported once.
        """
        if predicate is None:
            predicate = lambda _: True
        yield from _flatten_module(
            self, recursive, predicate, attribute_traversal_key, with_path, (), {id(self)}, frozenset()
        )

    @classmethod
    def with_name_scope(cls, method):
        """Decorates a method so that it runs inside the module's name scope.

        >>> import flowstone as tf
        >>> class M(tf.Module):
        ...     @tf.Module.with_name_scope
        ...     def scope(self):
        ...         return tf.Variable(1.0, name="v").name
        >>> M().scope()
        'm/v:0'
        """

        @functools.wraps(method)
        def wrapped(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)

        return wrapped


def _flatten_module(module, recursive, predicate, key, with_path, module_path, seen, stack):
    if id(module) in stack:
        recursive = False  # a cycle: report this module's own leaves, go no deeper
    stack = stack | {id(module)}
    attributes = vars(module)
    ignored = _IGNORED | module._TF_MODULE_IGNORED_PROPERTIES
    submodules = []
    for name in sorted(attributes, key=key):
        if name in ignored:
            continue
        for path, leaf in _leaves_with_paths(attributes[name], (name,)):
            if not with_path:
                if id(leaf) in seen:
                    continue
                seen.add(id(leaf))
            if predicate(leaf):
                yield (module_path + path, leaf) if with_path else leaf
            if recursive and _is_module(leaf):
                submodules.append((module_path + path, leaf))
    for path, sub in submodules:
        yield from _flatten_module(sub, recursive, predicate, key, with_path, path, seen, stack)
