"""Raw ops that only exist in graphs: `Const`, `Placeholder`, `NoOp`.

Their values come from the graph itself (a `Const` node's `value` attr, a placeholder's
feed), so lowering handles them directly; the kernels below serve eager calls.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from flowstone.core.errors import InvalidArgumentError
from flowstone.core.registry import OPS, REQUIRED, op
from flowstone.core.shape import TensorShape


def _const_kernel(value, dtype):
    value = np.asarray(value, dtype=dtype.as_numpy_dtype if dtype.as_numpy_dtype is not np.object_ else object)
    return value if value.dtype == object else jnp.asarray(value)


def _placeholder_kernel(dtype, shape):
    raise InvalidArgumentError(
        None, None, f"You must feed a value for placeholder tensor 'Placeholder' with dtype {dtype.name}"
    )


if "Const" not in OPS:
    op("Const", " -> output: dtype", {"value": REQUIRED, "dtype": REQUIRED}, stateful=True,
       differentiable=False)(_const_kernel)
if "Placeholder" not in OPS:
    op("Placeholder", " -> output: dtype", {"dtype": REQUIRED, "shape": TensorShape(None)}, stateful=True,
       differentiable=False)(_placeholder_kernel)
if "NoOp" not in OPS:
    op("NoOp", " -> ", stateful=True, differentiable=False)(lambda: ())
