"""tf.Variable: construction, reads, writes, errors, operators and repr (vs TensorFlow's behaviour)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor


def test_constructor_and_attributes():
    v = tf.Variable([1.0, 2.0], name="v")
    assert v.name == "v:0" and v.dtype == tf.float32 and v.shape == tf.TensorShape([2])
    assert v.trainable and v.constraint is None
    assert v.synchronization is tf.VariableSynchronization.AUTO
    assert v.aggregation is tf.VariableAggregation.NONE
    assert v.device.endswith(":0") and v.handle.dtype == tf.resource
    assert v.get_shape() == [2]
    assert tf.Variable(1.0).name == "Variable:0"
    assert not tf.Variable(1.0, trainable=False).trainable
    assert not tf.Variable(1.0, synchronization=tf.VariableSynchronization.ON_READ).trainable
    with tf.name_scope("block"):
        assert tf.Variable(1.0, name="w").name == "block/w:0"


def test_initial_value_forms():
    assert_tensor(tf.Variable(lambda: tf.ones([2]), name="abc").value(), [1.0, 1.0], tf.float32)
    assert tf.Variable([1, 2], dtype=tf.float32).dtype == tf.float32
    assert tf.Variable(np.zeros(3)).dtype == tf.float64
    with pytest.raises(ValueError, match="initial_value"):
        tf.Variable()
    with pytest.raises(ValueError, match="not compatible with the explicitly supplied `shape`"):
        tf.Variable(lambda: tf.ones([2]), shape=[3])
    with pytest.raises(TypeError):
        tf.Variable([1.5, 2.0], dtype=tf.int32)
    with pytest.raises(ValueError, match="callable"):
        tf.Variable(1.0, constraint=3)


def test_unknown_shapes():
    w = tf.Variable(tf.zeros([2, 3]), shape=tf.TensorShape(None), validate_shape=False)
    assert w.shape.rank is None
    assert "shape=<unknown>" in repr(w)
    w.assign(tf.zeros([5]))
    assert w.numpy().shape == (5,)
    p = tf.Variable(tf.zeros([2, 3]), shape=[None, 3])
    assert p.shape.as_list() == [None, 3]
    p.assign(tf.ones([4, 3]))
    assert p.numpy().shape == (4, 3)
    with pytest.raises(ValueError, match=r"variable shape \(None, 3\)"):
        p.assign(tf.ones([4, 2]))


def test_assign_family_and_read_value():
    v = tf.Variable([1.0, 2.0])
    r = v.assign([3.0, 4.0])
    assert repr(r).startswith("<tf.Variable 'UnreadVariable' shape=(2,) dtype=float32")
    assert_tensor(r.read_value(), [3.0, 4.0])
    assert v.assign_add([1.0, 1.0], read_value=False) is None
    assert_tensor(v.value(), [4.0, 5.0])
    v.assign_sub([1, 1])  # Python ints adapt to the variable's dtype
    np.testing.assert_array_equal(v.numpy(), [3.0, 4.0])
    v.assign(7.0 * np.ones(2, np.float32)).assign_add([1.0, 1.0])
    np.testing.assert_array_equal(v.numpy(), [8.0, 8.0])


def test_wrong_shape_or_dtype_raises_and_leaves_value():
    v = tf.Variable([1.0, 2.0], name="v")
    with pytest.raises(ValueError, match=r"Cannot assign value to variable ' v:0': Shape mismatch"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Cannot update variable with shape \[2\] using a "
                       r"Tensor with shape \[3\], shapes must be equal. \[Op:AssignAddVariableOp\]"):
        v.assign_add([1.0, 2.0, 3.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="AssignSubVariableOp"):
        v.assign_sub([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Tensor conversion requested dtype float32 for Tensor with dtype int32"):
        v.assign(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="float64"):
        v.assign_add(tf.constant([1.0, 2.0], tf.float64))
    with pytest.raises(TypeError):
        v.assign("ab")
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


def test_scatter_ops():
    v = tf.Variable([1.0, 2.0, 3.0])
    v.scatter_nd_update([[0], [2]], [10.0, 30.0])
    np.testing.assert_array_equal(v.numpy(), [10.0, 2.0, 30.0])
    v.scatter_nd_add([[1]], [5.0])
    v.scatter_nd_sub([[0]], [1.0])
    np.testing.assert_array_equal(v.numpy(), [9.0, 7.0, 30.0])
    v.scatter_update(tf.IndexedSlices(tf.constant([0.5]), tf.constant([2])))
    np.testing.assert_array_equal(v.numpy(), [9.0, 7.0, 0.5])
    v.scatter_add(tf.IndexedSlices(tf.constant([1.0, 1.0]), tf.constant([0, 0])))
    v.scatter_max(tf.IndexedSlices(tf.constant([8.0]), tf.constant([1])))
    np.testing.assert_array_equal(v.numpy(), [11.0, 8.0, 0.5])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[0\] = \[5\] does not index into shape \[3\]"):
        v.scatter_nd_update([[5]], [1.0])
    with pytest.raises(TypeError, match="IndexedSlices"):
        v.scatter_update(tf.constant([1.0]))
    np.testing.assert_array_equal(v.numpy(), [11.0, 8.0, 0.5])
    m = tf.Variable(np.arange(6.0).reshape(3, 2))
    assert_tensor(m.sparse_read([2, 0]), [[4.0, 5.0], [0.0, 1.0]], tf.float64)
    assert_tensor(m.gather_nd([[1, 1]]), [3.0])


def test_operators_and_tensor_use():
    v = tf.Variable([2.0, 3.0])
    assert_tensor(v + 1, [3.0, 4.0])
    assert_tensor(1 - v, [-1.0, -2.0])
    assert_tensor(v * v, [4.0, 9.0])
    assert_tensor(v / 2, [1.0, 1.5])
    assert_tensor(v // 2, [1.0, 1.0])
    assert_tensor(v % 2, [0.0, 1.0])
    assert_tensor(v ** 2, [4.0, 9.0])
    assert_tensor(-v, [-2.0, -3.0])
    assert_tensor(abs(-v), [2.0, 3.0])
    assert_tensor(v[1], 3.0)
    assert_tensor(v > 2.5, [False, True])
    assert_tensor(v == v, [True, True])
    assert_tensor(np.ones(2, np.float32) + v, [3.0, 4.0])
    m = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    assert_tensor(m @ m, np.array([[7.0, 10.0], [15.0, 22.0]]))
    b = tf.Variable([True, False])
    assert_tensor(b & True, [True, False])
    assert_tensor(~b, [False, True])
    assert_tensor(tf.reduce_sum(v), 5.0)
    assert_tensor(tf.convert_to_tensor(v), [2.0, 3.0])
    assert float(tf.Variable(2.5)) == 2.5 and int(tf.Variable(3)) == 3
    assert len(v) == 2 and [float(x) for x in v] == [2.0, 3.0]
    np.testing.assert_array_equal(np.asarray(v), [2.0, 3.0])
    with pytest.raises(ValueError, match="Incompatible type conversion requested to type int32"):
        tf.convert_to_tensor(v, dtype=tf.int32)


def test_repr_hash_ref():
    v = tf.Variable([1.0, 2.0], name="v")
    assert repr(v) == "<tf.Variable 'v:0' shape=(2,) dtype=float32, numpy=array([1., 2.], dtype=float32)>"
    assert str(v) == repr(v)
    assert repr(tf.Variable(3.0)) == "<tf.Variable 'Variable:0' shape=() dtype=float32, numpy=3.0>"
    assert repr(tf.Variable(3)) == "<tf.Variable 'Variable:0' shape=() dtype=int32, numpy=3>"
    with pytest.raises(TypeError, match=r"Variable is unhashable. Instead, use variable.ref\(\) as the key."):
        hash(v)
    refs = {v.ref(): 1}
    assert refs[v.ref()] == 1 and v.ref().deref() is v and v.experimental_ref() == v.ref()
    assert "ResourceHandle" in repr(v.handle)
    with pytest.raises(RuntimeError, match="not supported when eager execution is enabled"):
        _ = v.initial_value
    c = copy.deepcopy(v)
    assert c is not v and c.name == "v:0"
    c.assign([0.0, 0.0])
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


def test_constraint_is_kept_not_applied():
    c = tf.Variable([1.0, -2.0], constraint=lambda x: tf.maximum(x, 0.0))
    c.assign([-1.0, 3.0])
    np.testing.assert_array_equal(c.numpy(), [-1.0, 3.0])
    np.testing.assert_array_equal(c.constraint(c).numpy(), [0.0, 3.0])


def test_created_eagerly_under_init_scope():
    with tf.init_scope():
        v = tf.Variable(1.0)
    assert v.numpy() == 1.0


def test_raw_ops_on_the_handle():
    v = tf.Variable([1.0, 2.0])
    assert_tensor(tf.raw_ops.ReadVariableOp(resource=v.handle, dtype=tf.float32), [1.0, 2.0])
    tf.raw_ops.AssignAddVariableOp(resource=v.handle, value=tf.constant([1.0, 1.0]))
    np.testing.assert_array_equal(v.numpy(), [2.0, 3.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="wrong dtype"):
        tf.raw_ops.AssignVariableOp(resource=v.handle, value=tf.constant([1, 2]))


def test_tf_oracle_repr_and_errors(tf_oracle):
    want = tf_oracle(
        """
v = tf.Variable([1., 2.], name="v")
out = [repr(v)]
try:
    v.assign([1., 2., 3.])
except ValueError as e:
    out.append(str(e))
result = out
"""
    )
    v = tf.Variable([1.0, 2.0], name="v")
    with pytest.raises(ValueError) as err:
        v.assign([1.0, 2.0, 3.0])
    assert [repr(v), str(err.value)] == want
