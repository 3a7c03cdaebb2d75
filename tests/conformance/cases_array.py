"""Conformance cases for flowstone/ops/array.py and indexing.py."""

import numpy as np

from tests.conformance.case import Case

rng = np.random.default_rng(2)
A = rng.normal(size=(2, 3))

CASES = [
    Case("Identity", [A], reference=lambda x: x),
    Case("Cast", [A], {"DstT": __import__("flowstone").float32}, grad=[], reference=lambda x, DstT, **k: x.astype(np.float32), rtol=1e-6),
    Case("Reshape", [A, np.array([3, 2], np.int32)], reference=lambda x, s: x.reshape(s)),
    Case("ExpandDims", [A, np.array(1, np.int32)], reference=lambda x, d: np.expand_dims(x, int(d))),
    Case("BroadcastTo", [A[0], np.array([2, 3], np.int32)], reference=lambda x, s: np.broadcast_to(x, s)),
    Case("Fill", [np.array([2, 2], np.int32), np.array(1.5)], reference=lambda d, v: np.full(d, v)),
    Case("Pack", [[A, A * 2]], {"axis": 1}, reference=lambda xs, axis: np.stack(xs, axis)),
    Case("Unpack", [A], {"num": 3, "axis": 1}, reference=lambda x, num, axis: tuple(np.moveaxis(x, axis, 0))),
    Case("SelectV2", [A > 0, A, A * 3], reference=np.where),
]
