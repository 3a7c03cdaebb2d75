"""The IR itself: nodes, symbolic tensors, names, constant folding, printer and verifier."""

import numpy as np
import pytest

import flowstone as tf
from flowstone.core.tensor import constant_value
from flowstone.graph.printer import print_graph
from flowstone.graph.verify import GraphError, verify


def _graph():
    @tf.function(autograph=False)
    def f(x):
        with tf.name_scope("block"):
            y = tf.reshape(x, [tf.shape(x)[0] * 2, -1])
        z = tf.cond(tf.reduce_sum(y) > 0, lambda: y + 1.0, lambda: y)
        return z * 2.0

    return f.get_concrete_function(tf.TensorSpec([4, 6], tf.float32)).graph


def test_nodes_tensors_and_names():
    g = _graph()
    verify(g)
    reshape = next(n for n in g.nodes if n.type == "Reshape")
    assert reshape.name.startswith("block/")
    out = reshape.outputs[0]
    assert out.name == reshape.name + ":0" and out.op is reshape and out.graph is g
    assert out.shape.as_list() == [8, 3] and out.dtype == tf.float32
    assert g.get_tensor_by_name(out.name) is out
    assert reshape.get_attr("T") == tf.float32
    assert repr(out).startswith("<tf.Tensor 'block/Reshape:0' shape=(8, 3)")
    with pytest.raises(NotImplementedError):
        np.asarray(out)


def test_constant_value_folds_static_shapes():
    g = _graph()
    # A fully known shape is a Const in the graph, as in TF's graphs.
    shape_of = g.get_operation_by_name("block/Shape").outputs[0]
    assert shape_of.op.type == "Const" and constant_value(shape_of).tolist() == [4, 6]
    mul = next(n for n in g.nodes if n.type == "Mul" and n.outputs[0].dtype == tf.int32).outputs[0]
    assert int(constant_value(mul)) == 8


def test_printer_and_verifier():
    g = _graph()
    text = print_graph(g)
    assert "MatMul" not in text and "StatelessIf" in text and "@cond_true_branch" in text
    node = g.nodes[-1]
    node.inputs = list(reversed(node.inputs)) + [node.inputs[0]]
    with pytest.raises(GraphError):
        verify(g)


def test_unique_names_and_graph_as_default():
    g = tf.Graph()
    with g.as_default():
        a = tf.constant(1.0)
        b = tf.constant(2.0)
        c = tf.add(a, b)
    # TF names the node after tf.add's default name ("Add"), not after the raw op.
    assert [n.name for n in g.get_operations()] == ["Const", "Const_1", "Add"]
    assert c.op.type == "AddV2" and g.unique_name("Const") == "Const_2"


def test_a_shape_op_of_a_known_shape_folds():
    @tf.function
    def f(x):
        return tf.raw_ops.Shape(input=x)

    g = f.get_concrete_function(tf.TensorSpec([4, 6], tf.float32)).graph
    s = g.get_operation_by_name("Shape").outputs[0]
    assert s.op.type == "Shape" and constant_value(s).tolist() == [4, 6]
