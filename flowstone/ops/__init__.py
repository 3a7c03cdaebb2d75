"""Raw-op families. Importing this package registers every op and binds the Tensor operators."""

from __future__ import annotations

import importlib

from flowstone.core import tensor as _tensor

# Every family module, in an order that respects their imports of one another.
FAMILIES = ("math", "reduction", "special", "segment", "array", "indexing", "linalg", "nn", "convolution", "pooling", "normalization", "random", "strings", "debugging", "sorting")

for _name in FAMILIES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _e:
        if _e.name != f"{__name__}.{_name}":
            raise


class _Operators:
    """Where each Python operator of `Tensor` finds its implementation (resolved once)."""

    _TABLE = {
        "add": "math", "radd": "math", "subtract": "math", "multiply": "math", "truediv": "math", "floordiv": "math",
        "floormod": "math", "pow": "math", "negative": "math", "abs": "math", "invert": "math",
        "bitwise_and_op": "math", "bitwise_or_op": "math", "bitwise_xor_op": "math", "less": "math",
        "less_equal": "math", "greater": "math", "greater_equal": "math", "tensor_equals": "math",
        "tensor_not_equals": "math", "matmul": "linalg", "getitem": "indexing", "unstack": "array",
        "cast": "array", "stack_nested": "array",
    }

    def __getattr__(self, name):
        if name not in self._TABLE:
            raise AttributeError(name)
        module = importlib.import_module(f"{__name__}.{self._TABLE[name]}")
        fn = getattr(module, name)
        setattr(self, name, fn)
        return fn


_tensor.bind_operators(_Operators())

import flowstone.autodiff.custom_gradient  # noqa: E402, F401 - registers StopGradient
import flowstone.core.variables  # noqa: E402, F401 - registers the resource-variable raw ops
