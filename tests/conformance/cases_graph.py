"""Function-valued ops (If, While, calls, py_function) run eagerly through execute().

Their gradients take list inputs, which the sweep's numerical check does not cover;
tests/graph/test_control_flow.py, test_gradients.py and test_interpreter.py check them.
"""

import numpy as np

import flowstone as tf
from flowstone.graph import script
from tests.conformance.case import Case

_F64 = tf.TensorSpec([3], tf.float64)
_I32 = tf.TensorSpec([], tf.int32)
_X = np.array([0.5, -1.0, 2.0])


def _graph(fn, *specs):
    return tf.function(fn, autograph=False).get_concrete_function(*specs).graph


_square = _graph(lambda x: x * x, _F64)
_negate = _graph(lambda x: -x, _F64)
_cond = _graph(lambda i, n, x: i < 3, _I32, _I32, _F64)
_body = _graph(lambda i, n, x: (i + 1, n, x * 2.0), _I32, _I32, _F64)
_if_attrs = {"Tout": [tf.float64], "then_branch": _square, "else_branch": _negate, "output_shapes": [[3]]}
_while_attrs = {"cond": _cond, "body": _body, "output_shapes": [[], [], [3]]}
_token = script.register(lambda x: x * 3.0, True)

CASES = [
    Case("If", [np.array(True), [_X]], _if_attrs, reference=lambda c, xs, **a: xs[0] ** 2, id="If-true"),
    Case("StatelessIf", [np.array(False), [_X]], _if_attrs, reference=lambda c, xs, **a: -xs[0]),
    Case("While", [[np.array(0, np.int32), np.array(-1, np.int32), _X]], _while_attrs,
         reference=lambda xs, **a: (np.int32(3), np.int32(-1), xs[2] * 8.0)),
    Case("StatelessWhile", [[np.array(0, np.int32), np.array(-1, np.int32), _X]], _while_attrs,
         reference=lambda xs, **a: (np.int32(3), np.int32(-1), xs[2] * 8.0)),
    Case("PartitionedCall", [[_X]], {"f": _square, "Tout": [tf.float64]}, reference=lambda xs, **a: xs[0] ** 2),
    Case("StatefulPartitionedCall", [[_X]], {"f": _negate, "Tout": [tf.float64]}, reference=lambda xs, **a: -xs[0]),
    Case("EagerPyFunc", [[_X]], {"token": _token, "Tout": [tf.float64]}, reference=lambda xs, **a: xs[0] * 3.0),
]
