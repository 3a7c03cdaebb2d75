"""TensorList ops (flowstone/graph/tensor_list.py) and Case, run eagerly through execute().

A list is a variant tensor, which the sweep's numerical check cannot perturb; the gradients
of these ops are checked through tf.TensorArray in tests/graph/test_tensor_array.py and
tests/graph/test_functional.py (eagerly recorded raw ops, and inside while loops).
"""

import numpy as np

import flowstone as tf
from flowstone.core.execute import execute
from tests.conformance.case import Case

_X = np.array([[0.5, -1.0], [2.0, 3.0], [1.5, 0.25]])
_LIST = execute("TensorListFromTensor", (tf.constant(_X), tf.constant([2])), {})
_F64 = tf.TensorSpec([], tf.float64)


def _graph(fn, *specs):
    return tf.function(fn, autograph=False).get_concrete_function(*specs).graph


_branches = [_graph(lambda x: x * x, _F64), _graph(lambda x: -x, _F64), _graph(lambda x: x + 1.0, _F64)]
_case_attrs = {"Tout": [tf.float64], "branches": _branches, "output_shapes": [[]]}

CASES = [
    Case("TensorListStack", [_LIST, np.array([2], np.int32)], {"element_dtype": tf.float64},
         reference=lambda lst, shape, **a: _X, grad=[]),
    Case("TensorListGetItem", [_LIST, np.array(1, np.int32), np.array([2], np.int32)], {"element_dtype": tf.float64},
         reference=lambda lst, i, shape, **a: _X[1], grad=[]),
    Case("TensorListGather", [_LIST, np.array([2, 0], np.int32), np.array([2], np.int32)],
         {"element_dtype": tf.float64}, reference=lambda lst, i, shape, **a: _X[[2, 0]], grad=[]),
    Case("TensorListSetItem", [_LIST, np.array(0, np.int32), np.array([7.0, 8.0])], grad=[]),
    Case("TensorListFromTensor", [_X, np.array([2], np.int32)], grad=[]),
    Case("TensorListScatterIntoExistingList", [_LIST, np.array([[1.0, 2.0]]), np.array([1], np.int32)], grad=[]),
    Case("TensorListConcatV2", [_LIST, np.array([-1], np.int32), np.zeros([0], np.int64)],
         {"element_dtype": tf.float64}, reference=lambda lst, s, d, **a: (_X.reshape(-1), np.array([2, 2, 2])),
         grad=[]),
    Case("TensorListSplit", [np.array([1.0, 2.0, 3.0]), np.array([-1], np.int32), np.array([1, 2], np.int64)],
         grad=[]),
    Case("Case", [np.array(0, np.int32), [np.array(1.5)]], _case_attrs, reference=lambda i, xs, **a: xs[0] ** 2),
    Case("StatelessCase", [np.array(9, np.int32), [np.array(1.5)]], _case_attrs,
         reference=lambda i, xs, **a: xs[0] + 1.0),
]
