"""Conformance cases for flowstone/ops/debugging.py (CheckNumerics passes values and gradients through)."""

import numpy as np

from tests.conformance.case import Case

A = np.random.default_rng(5).normal(size=(2, 3))

CASES = [
    Case("CheckNumerics", [A], {"message": "m"}, reference=lambda x, message: x),
]
