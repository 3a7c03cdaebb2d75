"""Conformance cases for flowstone/ops/math.py."""

import numpy as np

from tests.conformance.case import Case

rng = np.random.default_rng(1)
A = rng.uniform(0.5, 2.0, (3, 4))
B = rng.uniform(0.5, 2.0, (4,))

CASES = [
    Case("AddV2", [A, B], reference=np.add),
    Case("Sub", [A, B], reference=np.subtract),
    Case("Mul", [A, B], reference=np.multiply),
    Case("RealDiv", [A, B], reference=np.divide),
    Case("Maximum", [A, B], reference=np.maximum),
    Case("Minimum", [A, B], reference=np.minimum),
    Case("Pow", [A, B], reference=np.power),
    Case("SquaredDifference", [A, B], reference=lambda x, y: (x - y) ** 2),
    Case("Neg", [A], reference=np.negative),
    Case("Exp", [A], reference=np.exp),
    Case("Log", [A], reference=np.log),
    Case("Sqrt", [A], reference=np.sqrt),
    Case("Square", [A], reference=np.square),
    Case("Tanh", [A], reference=np.tanh),
    Case("Abs", [A - 1.25], reference=np.abs),
    Case("Conj", [A], reference=np.conj),
    Case("Sum", [A, np.array([1], np.int32)], {"keep_dims": True},
         reference=lambda x, a, keep_dims: np.sum(x, axis=tuple(a), keepdims=keep_dims)),
    Case("AddN", [[A, A * 2]]),
]
