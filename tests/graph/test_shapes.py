"""Static shape rules of hot ops (MatMul, Reshape, ExpandDims, BroadcastTo, Shape, softmax
cross-entropy) agree with the kernels, with TensorFlow on partial shapes, and keep the errors."""

import numpy as np
import pytest

import flowstone as tf
import flowstone.ops  # noqa: F401 - registers the ops
from flowstone.core.registry import OPS
from flowstone.graph import shapes

# name -> (input specs, the op applied to them, as source shared with the TensorFlow oracle)
CASES = {
    "matmul": ([[None, 3], [3, 5]], "lambda a, b: tf.matmul(a, b)"),
    "matmul_unknown_inner": ([[2, None], [None, 4]], "lambda a, b: tf.matmul(a, b)"),
    "matmul_transposed": (
        [[3, None], [5, 3]],
        "lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True)",
    ),
    "reshape_minus_one": ([[None, 4]], "lambda x: tf.reshape(x, [-1, 2])"),
    "reshape_known": ([[2, 6]], "lambda x: tf.reshape(x, [3, -1])"),
    "reshape_full_target": ([[None, 4]], "lambda x: tf.reshape(x, [8, 4])"),
    "expand_dims_last": ([[None, 3]], "lambda x: tf.expand_dims(x, -1)"),
    "expand_dims_first": ([[None, 3]], "lambda x: tf.expand_dims(x, 0)"),
    "broadcast_to": ([[None, 1]], "lambda x: tf.broadcast_to(x, [4, 3])"),
    "shape": ([[None, 3, 2]], "lambda x: tf.shape(x)"),
    "xent": (
        [[4, 10], [4, 10]],
        "lambda a, b: tf.nn.softmax_cross_entropy_with_logits(labels=b, logits=a)",
    ),
    "xent_partial": (
        [[None, 10], [None, 10]],
        "lambda a, b: tf.nn.softmax_cross_entropy_with_logits(labels=b, logits=a)",
    ),
}

TRACE = """
def traced_shapes(cases):
    out = {}
    for name, (specs, source) in cases.items():
        f = tf.function(eval(source), input_signature=[tf.TensorSpec(s, tf.float32) for s in specs])
        shape = f.get_concrete_function().structured_outputs.shape
        out[name] = None if shape.rank is None else shape.as_list()
    return out
"""


def test_static_shapes_match_tensorflow(tf_oracle):
    want = tf_oracle(TRACE + "result = traced_shapes(args['cases'])", {"cases": CASES})
    scope = {"tf": tf}
    exec(TRACE, scope)
    assert scope["traced_shapes"](CASES) == want


@pytest.mark.parametrize(
    "op, arrays, attrs",
    [
        ("MatMul", [(3, 4), (4, 5)], {}),
        ("MatMul", [(4, 3), (5, 4)], {"transpose_a": True, "transpose_b": True}),
        ("MatMul", [(1, 7), (7, 1)], {"transpose_b": False}),
        ("SoftmaxCrossEntropyWithLogits", [(4, 10), (4, 10)], {}),
        ("SoftmaxCrossEntropyWithLogits", [(1, 10), (6, 10)], {}),
        ("SoftmaxCrossEntropyWithLogits", [(6, 10), (6, 1)], {}),
    ],
)
def test_rules_agree_with_the_kernels(op, arrays, attrs):
    opdef = OPS[op]
    full = dict(opdef.full_attrs(attrs), T=tf.float32)
    found = {}

    @tf.function(input_signature=[tf.TensorSpec(s, tf.float32) for s in arrays])
    def f(*inputs):
        by_rule = shapes.infer(opdef, list(inputs), full)
        found["rule"] = [s for _, s in by_rule]
        found["kernel"] = shapes._eval_shapes(opdef, list(inputs), full, len(by_rule))
        return tf.constant(0.0)

    f.get_concrete_function()
    assert found["rule"] == found["kernel"]


@pytest.mark.parametrize(
    "build, shape",
    [
        (lambda: tf.reshape(tf.zeros([2, 6]), [4, -1]), [4, 3]),
        (lambda: tf.reshape(tf.zeros([2, 6]), [12]), [12]),
        (lambda: tf.reshape(tf.zeros([0, 3]), [0, -1]), None),
        (lambda: tf.expand_dims(tf.zeros([2, 3]), 2), [2, 3, 1]),
        (lambda: tf.expand_dims(tf.zeros([2, 3]), -3), [1, 2, 3]),
        (lambda: tf.broadcast_to(tf.zeros([3]), [2, 3]), [2, 3]),
        (lambda: tf.broadcast_to(tf.zeros([2, 1]), [2, 2, 5]), [2, 2, 5]),
        (lambda: tf.shape(tf.zeros([2, 3, 4])), [3]),
    ],
)
def test_graph_shapes_equal_eager_shapes(build, shape):
    eager = build()
    graph = tf.function(build).get_concrete_function().structured_outputs
    assert graph.shape.as_list() == eager.shape.as_list()
    if shape is not None:
        assert eager.shape.as_list() == shape


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: tf.matmul(tf.zeros([2, 3]), tf.zeros([4, 5])), "Matrix size-incompatible"),
        (
            lambda: tf.raw_ops.MatMul(a=tf.zeros([2, 3, 1]), b=tf.zeros([4, 5])),
            r"In\[0\] ndims must be == 2",
        ),
        (
            lambda: tf.reshape(tf.zeros([2, 6]), [5, -1]),
            "Input to reshape is a tensor with 12 values",
        ),
        (
            lambda: tf.reshape(tf.zeros([2, 6]), [5, 2]),
            "Input to reshape is a tensor with 12 values",
        ),
        (lambda: tf.reshape(tf.zeros([2, 6]), [-1, -1]), "Only one input size may be -1"),
        (lambda: tf.expand_dims(tf.zeros([2, 3]), 4), "Tried to expand dim index 4"),
        (lambda: tf.broadcast_to(tf.zeros([2, 3]), [2, 4]), "Incompatible shapes"),
        (
            lambda: tf.nn.softmax_cross_entropy_with_logits(
                labels=tf.zeros([4, 3]), logits=tf.zeros([4, 5])
            ),
            "logits and labels must be broadcastable",
        ),
    ],
)
def test_invalid_shapes_still_raise_the_kernel_errors_while_tracing(build, message):
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=message):
        tf.function(build).get_concrete_function()


def test_graph_matmul_runs_with_the_rule_shapes():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def f(x):
        y = tf.matmul(x, tf.ones([3, 2]))
        assert y.shape.as_list() == [None, 2]
        return tf.reshape(y, [-1])

    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_allclose(f(tf.constant(x)).numpy(), (x @ np.ones((3, 2), np.float32)).ravel())
