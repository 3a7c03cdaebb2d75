"""`tf.raw_ops`: every registered op, called with keyword arguments as in TensorFlow.

>>> import flowstone as tf
>>> int(tf.raw_ops.AddV2(x=tf.constant(1), y=tf.constant(2)))
3
"""

from __future__ import annotations

import flowstone.ops  # noqa: F401 - registers every op
from flowstone.core.execute import execute
from flowstone.core.registry import OPS
from flowstone.core.tensor import convert_to_tensor


def _make(opdef):
    names = [a.name for a in opdef.inputs]

    def raw(**kwargs):
        name = kwargs.pop("name", None)
        missing = [n for n in names if n not in kwargs]
        if missing:
            raise TypeError(f"{opdef.name} missing required arguments: {', '.join(missing)}")
        inputs = []
        for arg in opdef.inputs:
            value = kwargs.pop(arg.name)
            if arg.number_attr:
                inputs.append([convert_to_tensor(v) for v in value])
            else:
                inputs.append(convert_to_tensor(value, dtype=arg.fixed))
        return execute(opdef, inputs, kwargs, name=name)

    raw.__name__ = raw.__qualname__ = opdef.name
    raw.__doc__ = f"Raw op `{opdef.name}`: {opdef!r}"
    return raw


def __getattr__(name):
    opdef = OPS.get(name)
    if opdef is None:
        raise AttributeError(f"module 'tf.raw_ops' has no attribute '{name}'")
    fn = _make(opdef)
    globals()[name] = fn
    return fn


def __dir__():
    return sorted(OPS)
