"""Conformance cases for the resource-variable ops (flowstone/core/variables.py) and StopGradient.

A `resource` input is given as the variable's initial value; the harness makes the variable.
The write ops (Assign*, ResourceScatter*) are checked in tests/core/test_variables.py.
"""

import numpy as np

import flowstone as tf
from tests.conformance.case import Case

rng = np.random.default_rng(5)
A = rng.normal(size=(3, 2))
IDX = np.array([2, 0, 2], np.int32)
ND = np.array([[0, 1], [2, 0]], np.int32)

CASES = [
    Case("ReadVariableOp", [A], {"dtype": tf.float64}, reference=lambda v, dtype: v),
    Case("ResourceGather", [A, IDX], {"dtype": tf.float64}, reference=lambda v, i, dtype: v[i]),
    Case("ResourceGather", [A, IDX.reshape(3, 1)], {"dtype": tf.float64}, reference=lambda v, i, dtype: v[i],
         id="ResourceGather[2-D indices]"),
    Case("ResourceGatherNd", [A, ND], {"dtype": tf.float64}, reference=lambda v, i, dtype: v[tuple(i.T)]),
    Case("StopGradient", [A], reference=lambda x: x),
]
