"""flowstone: the TensorFlow 2 API, in Python, compiled by XLA through JAX.

`import flowstone as tf` gives TF2's public namespace. Names are imported on first
access (see `flowstone/api/`), so that importing the package stays fast.
"""

import os as _os

# XLA's C++ runtime logs INFO lines (device counts) on first use; TF users expect silence.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import jax as _jax  # noqa: E402

# TensorFlow keeps float64 and int64 as they are; jax needs x64 mode for that.
_jax.config.update("jax_enable_x64", True)

from flowstone.api import _SUBMODULES, _SYMBOLS  # noqa: E402
from flowstone.api._lazy import attach as _attach  # noqa: E402

__version__ = "0.1.0"
__getattr__, __dir__, __all__ = _attach(__name__, _SYMBOLS, _SUBMODULES)
