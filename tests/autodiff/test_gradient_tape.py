"""tf.GradientTape: every behaviour of the tape, checked against NumPy and TensorFlow's semantics."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients

X = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]])


def test_watch_constant_and_non_persistent_reuse():
    x = tf.constant(3.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * x
    assert_tensor(t.gradient(y, x), 6.0)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape can only be used to compute one set"):
        t.gradient(y, x)
    with pytest.raises(RuntimeError, match="one set of gradients"):
        t.jacobian(y, x)


def test_persistent_tape():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
        z = y * y
    assert_tensor(t.gradient(z, x), 32.0)
    assert_tensor(t.gradient(y, x), 4.0)
    assert_tensor(t.gradient(z, y), 8.0)


def test_unwatched_and_unconnected():
    x, c = tf.constant(2.0), tf.constant(5.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * c
    assert t.gradient(y, c) is None
    assert_tensor(t.gradient(y, c, unconnected_gradients=tf.UnconnectedGradients.ZERO), 0.0)
    assert_tensor(t.gradient(y, c, unconnected_gradients="zero"), 0.0)
    with pytest.raises(ValueError, match="Unknown value for unconnected_gradients: 'foo'"):
        t.gradient(y, x, unconnected_gradients="foo")
    with pytest.raises(TypeError, match="received None"):
        t.gradient(None, x)


def test_integer_and_bool_sources_are_not_differentiable():
    i = tf.constant([1, 2])
    with tf.GradientTape(persistent=True) as t:
        t.watch(i)
        y = i * 2
    assert t.gradient(y, i) is None
    z = t.gradient(y, i, unconnected_gradients="zero")
    assert_tensor(z, [0, 0], tf.int32)
    x = tf.constant([1.5, 2.5], tf.float64)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        through_int = tf.reduce_sum(tf.cast(x, tf.int32) * 2)
        through_float = tf.reduce_sum(tf.cast(x, tf.float32) * 2)
    assert t.gradient(through_int, x) is None
    assert_tensor(t.gradient(through_float, x), [2.0, 2.0], tf.float64)


def test_variables_watched_automatically():
    v = tf.Variable([1.0, 2.0])
    frozen = tf.Variable([1.0, 1.0], trainable=False)
    iv = tf.Variable(3)
    with tf.GradientTape() as t:
        y = tf.reduce_sum(v * frozen * 3.0) + tf.cast(iv, tf.float32)
    assert t.watched_variables() == (v, iv) or list(map(id, t.watched_variables())) == [id(v), id(iv)]
    gv, gf, gi = t.gradient(y, [v, frozen, iv])
    assert_tensor(gv, [3.0, 3.0])
    assert gf is None and gi is None


def test_watch_accessed_variables_false():
    a, b = tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape(watch_accessed_variables=False) as t:
        t.watch(a)
        y = a * b
    assert [id(v) for v in t.watched_variables()] == [id(a)]
    ga, gb = t.gradient(y, [a, b])
    assert_tensor(ga, 3.0)
    assert gb is None


def test_gradient_of_variable_itself_and_watch_errors():
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as t:
        _ = v * 2
    assert_tensor(t.gradient(v, v), [1.0, 1.0])
    with pytest.raises(ValueError, match="not tf.Tensor or tf.Variable"):
        tf.GradientTape().watch(3.0)


def test_stop_recording_and_reset():
    x = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        with t.stop_recording():
            hidden = x * x
        seen = x * 2.0
        total = hidden + seen
    assert_tensor(t.gradient(total, x), 2.0)
    with pytest.raises(RuntimeError, match="Trying to stop recording a tape which is not recording."):
        with tf.GradientTape().stop_recording():
            pass
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * x
        t.reset()
        t.watch(x)
        z = x * 5.0
        w = y + z
    assert_tensor(t.gradient(w, x), 5.0)


def test_nested_structures_and_output_gradients():
    x = tf.constant(X)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        z = x * x
    got = t.gradient({"a": z, "b": x}, {"x": x, "y": [x, (x,)]})
    assert set(got) == {"x", "y"} and isinstance(got["y"], list) and isinstance(got["y"][1], tuple)
    for g in (got["x"], got["y"][0], got["y"][1][0]):
        assert_tensor(g, 2 * X + 1)
    pair = collections.namedtuple("Pair", "p q")
    got = t.gradient(z, pair(x, x))
    assert isinstance(got, pair)
    seeded = t.gradient(z, x, output_gradients=tf.constant(np.full((2, 3), 3.0)))
    assert_tensor(seeded, 6 * X)
    two = t.gradient([z, z], [x], output_gradients=[tf.ones_like(z), None])
    assert_tensor(two[0], 4 * X)


def test_higher_order_by_nesting():
    x = tf.constant(1.5)
    with tf.GradientTape() as t2:
        t2.watch(x)
        with tf.GradientTape() as t1:
            t1.watch(x)
            y = x * x * x
        dy = t1.gradient(y, x)
    assert_tensor(dy, 3 * 1.5**2)
    assert_tensor(t2.gradient(dy, x), 6 * 1.5)
    v = tf.Variable(2.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.exp(v * v)
        g = inner.gradient(y, v)
    assert_tensor(outer.gradient(g, v), (2 + 4 * 4.0) * np.exp(4.0), rtol=1e-5)


def test_jacobian_of_vector_function():
    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = tf.stack([x[0] * x[1], tf.reduce_sum(x * x)])
        c = tf.constant([1.0, 2.0])
    j = t.jacobian(y, x, experimental_use_pfor=False)
    assert_tensor(j, [[2.0, 1.0, 0.0], [2.0, 4.0, 6.0]], tf.float32)
    m = tf.constant(X)
    with tf.GradientTape() as tm:
        tm.watch(m)
        ym = m * m
    jm = tm.jacobian(ym, m, parallel_iterations=4)
    assert jm.shape == (2, 3, 2, 3)
    assert_tensor(tf.reshape(jm, [6, 6]), np.diag(2 * X.reshape(-1)))
    assert t.jacobian(c, x) is None
    assert_tensor(t.jacobian(c, x, unconnected_gradients="zero"), np.zeros((2, 3)))
    jl = t.jacobian(y, [x, x])
    assert isinstance(jl, list) and jl[1].shape == (2, 3)


def test_batch_jacobian():
    xb = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with tf.GradientTape(persistent=True) as t:
        t.watch(xb)
        zb = tf.stack([xb[:, 0] * xb[:, 1], xb[:, 0], xb[:, 1] ** 2], axis=1)
        flat = xb[:, 0]
    bj = t.batch_jacobian(zb, xb, experimental_use_pfor=True)
    want = np.array([[[b, a], [1, 0], [0, 2 * b]] for a, b in [(1, 2), (3, 4), (5, 6)]])
    assert_tensor(bj, want, tf.float32)
    with pytest.raises(ValueError, match=r"Shape \(3,\) must have rank at least 2"):
        t.batch_jacobian(flat, xb)
    with pytest.raises(ValueError, match="Need first dimension of target shape"):
        t.batch_jacobian(zb, xb[:2])


# --- gradients through specific constructs --------------------------------------------------------


def test_gradient_through_slicing():
    check_gradients(lambda x: x[1:, ::2] * 3.0, X)
    check_gradients(lambda x: x[:, 1:2] + x[0], X)


def test_gradient_through_where():
    check_gradients(lambda x: tf.where(x > 0, x * x, -x), X)
    x = tf.constant(X)
    with tf.GradientTape() as t:
        t.watch(x)
        y = tf.reduce_sum(tf.where(x > 0, x, tf.zeros_like(x)))
    assert_tensor(t.gradient(y, x), (X > 0).astype(float))


def test_gradient_through_gather_is_indexed_slices():
    x = tf.constant(X)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = tf.reduce_sum(tf.gather(x, [1, 1, 0]))
        y1 = tf.reduce_sum(tf.gather(x, [2, 0], axis=1))
    g = t.gradient(y, x)
    assert isinstance(g, tf.IndexedSlices)
    assert_tensor(tf.convert_to_tensor(g), [[1.0] * 3, [2.0] * 3])
    assert_tensor(t.gradient(y1, x), [[1.0, 0.0, 1.0]] * 2)
    assert isinstance(t.gradient([y, y], x), tf.IndexedSlices)
    check_gradients(lambda p: tf.gather(p, [2, 0, 2], axis=1) ** 2, X)


def test_gather_and_embedding_lookup_on_variables():
    v = tf.Variable(np.arange(6.0).reshape(3, 2))
    with tf.GradientTape(persistent=True) as t:
        y = tf.reduce_sum(tf.gather(v, [0, 2, 0])) + tf.reduce_sum(v.sparse_read([1]))
        e = tf.reduce_sum(tf.nn.embedding_lookup(v, [[0, 1]]) * 2.0)
        mixed = tf.reduce_sum(tf.gather(v, [0])) + tf.reduce_sum(v * 2.0)
    g = t.gradient(y, v)
    assert isinstance(g, tf.IndexedSlices)
    assert_tensor(tf.convert_to_tensor(g), [[2.0, 2.0], [1.0, 1.0], [1.0, 1.0]])
    ge = t.gradient(e, v)
    assert isinstance(ge, tf.IndexedSlices)
    assert_tensor(tf.convert_to_tensor(ge), [[2.0, 2.0], [2.0, 2.0], [0.0, 0.0]])
    gm = t.gradient(mixed, v)
    assert not isinstance(gm, tf.IndexedSlices)
    assert_tensor(gm, [[3.0, 3.0], [2.0, 2.0], [2.0, 2.0]])


@pytest.mark.parametrize("keepdims", [False, True])
def test_gradient_through_reductions(keepdims):
    check_gradients(lambda x: tf.reduce_sum(x * x, axis=1, keepdims=keepdims), X)
    check_gradients(lambda x: tf.reduce_mean(x, axis=0, keepdims=keepdims) * 2.0, X)
    check_gradients(lambda x: tf.reduce_max(x, axis=-1, keepdims=keepdims), X)


def test_broadcasting_reduces_gradients_to_input_shapes():
    a = tf.constant(np.ones((2, 1, 3)))
    b = tf.constant(np.arange(4.0).reshape(4, 1))
    with tf.GradientTape() as t:
        t.watch([a, b])
        y = a * b + b
    ga, gb = t.gradient(y, [a, b])
    assert ga.shape == (2, 1, 3) and gb.shape == (4, 1)
    assert_tensor(ga, np.full((2, 1, 3), 6.0))
    assert_tensor(gb, np.full((4, 1), 2 * 3 + 6.0))
    check_gradients(lambda p, q: p / q - p * q, np.ones((3, 1)) * 2.0, np.arange(1.0, 5.0))


def test_stop_gradient():
    x = tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * tf.stop_gradient(x * 3.0)
    assert_tensor(t.gradient(y, x), 6.0)


@pytest.mark.parametrize("shape, dtype", [((4,), "float32"), ((2, 3), "float64"), ((2, 2, 2), "float32"), ((), "float32")])
def test_full_reduction_gradient_is_ones_of_the_input_shape(shape, dtype):
    # The seed of a full reduction broadcasts to ones (cached for small shapes): values,
    # shape and dtype must be those of the input, and a later op must see real ones.
    v = tf.Variable(np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape))
    with tf.GradientTape(persistent=True) as tape:
        y = tf.reduce_sum(v * 3.0)
        z = tf.reduce_sum(v)
    assert_tensor(tape.gradient(y, v), np.full(shape, 3.0), tf.as_dtype(dtype))
    g = tape.gradient(z, v)
    assert_tensor(g, np.ones(shape), tf.as_dtype(dtype))
    assert_tensor(g * 2.0, np.full(shape, 2.0), tf.as_dtype(dtype))
