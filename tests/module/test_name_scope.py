"""tf.name_scope naming of variables (eager) and ops (graphs), and tf.init_scope."""

from __future__ import annotations

import importlib.util

import pytest

import flowstone as tf


def test_eager_variable_names_follow_scopes_and_are_not_uniquified():
    with tf.name_scope("dense"):
        a = tf.Variable(1.0, name="kernel")
        b = tf.Variable(1.0, name="kernel")
        with tf.name_scope("inner"):
            c = tf.Variable(1.0)
    assert a.name == b.name == "dense/kernel:0"
    assert c.name == "dense/inner/Variable:0"


def test_absolute_and_reset_scopes():
    with tf.name_scope("a"):
        with tf.name_scope("b/") as scope:
            assert scope == "b/"
            assert tf.Variable(1.0, name="v").name == "b/v:0"
        with tf.name_scope(""):
            assert tf.Variable(1.0, name="v").name == "v:0"


def test_invalid_scope_name():
    with pytest.raises(ValueError, match="is not a valid scope name"):
        tf.name_scope("a b").__enter__()


def test_init_scope_is_eager():
    with tf.init_scope():
        assert tf.executing_eagerly()


def _has_function():
    return importlib.util.find_spec("flowstone.graph.function") is not None


@pytest.mark.skipif(not _has_function(), reason="flowstone.graph (tf.function) is not built yet")
def test_graph_op_names_are_uniquified():
    names = []

    @tf.function
    def f(x):
        y = x + 1.0
        z = y + 1.0
        with tf.name_scope("block"):
            w = z + 1.0
        with tf.name_scope("block"):
            v = w + 1.0
        m = tf.matmul([[x]], [[x]])
        names.extend(t.name for t in (y, z, w, v, m))
        return v

    f(tf.constant(1.0))
    # Checked against TensorFlow 2.21.
    assert names == ["add:0", "add_1:0", "block/add:0", "block_1/add:0", "MatMul:0"]
