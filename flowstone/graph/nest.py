"""Nested structures as tf.function sees them: lists, tuples, namedtuples and dicts of leaves.

Dicts flatten in sorted key order, as `tf.nest` does; everything else is a leaf.
"""

from __future__ import annotations


def is_nested(value) -> bool:
    return isinstance(value, (list, tuple, dict))


def flatten(structure) -> list:
    out = []
    _flatten_into(structure, out)
    return out


def _flatten_into(s, out) -> None:
    if isinstance(s, dict):
        for k in _sorted_keys(s):
            _flatten_into(s[k], out)
    elif isinstance(s, (list, tuple)):
        for x in s:
            _flatten_into(x, out)
    else:
        out.append(s)


def _sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:
        return sorted(d, key=repr)


def pack_sequence_as(structure, flat):
    it = iter(flat)
    result = _pack(structure, it)
    return result


def _pack(s, it):
    if isinstance(s, dict):
        built = {k: _pack(s[k], it) for k in _sorted_keys(s)}
        return type(s)((k, built[k]) for k in s) if type(s) is not dict else {k: built[k] for k in s}
    if isinstance(s, (list, tuple)):
        items = [_pack(x, it) for x in s]
        if hasattr(s, "_fields"):
            return type(s)(*items)
        return type(s)(items)
    return next(it)


def map_structure(fn, structure):
    return pack_sequence_as(structure, [fn(x) for x in flatten(structure)])


def structure_key(structure, leaf_key):
    """A hashable description of `structure` with each leaf replaced by `leaf_key(leaf)`."""
    if isinstance(structure, dict):
        return (type(structure), tuple((k, structure_key(structure[k], leaf_key)) for k in _sorted_keys(structure)))
    if isinstance(structure, (list, tuple)):
        return (type(structure), tuple(structure_key(x, leaf_key) for x in structure))
    return leaf_key(structure)


def assert_same_structure(a, b) -> bool:
    """True when `a` and `b` have the same nesting (leaf values are not compared)."""
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or set(a) != set(b):
            return False
        return all(assert_same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))) or len(a) != len(b):
            return False
        return all(assert_same_structure(x, y) for x, y in zip(a, b))
    return True
