"""tf.cond and tf.while_loop: eager, traced (If/While nodes), gradients, shape invariants."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor


def test_cond_eager_and_traced():
    def f(x):
        return tf.cond(x > 0, lambda: x * 2.0, lambda: -x)

    g = tf.function(f, autograph=False)
    for v in (3.0, -3.0):
        assert_tensor(g(tf.constant(v)), f(tf.constant(v)).numpy())
    types = [n.type for n in g.get_concrete_function(tf.constant(1.0)).graph.nodes]
    assert "StatelessIf" in types


def test_cond_structure_mismatch():
    @tf.function(autograph=False)
    def f(x):
        return tf.cond(x > 0, lambda: (x, x), lambda: x)

    with pytest.raises(ValueError, match="must have the same number, type, and overall structure"):
        f(tf.constant(1.0))
    with pytest.raises(TypeError, match="true_fn must be callable"):
        tf.cond(True, 1, lambda: 2)


def test_cond_gradients_with_variables():
    v = tf.Variable(2.0)

    @tf.function(autograph=False)
    def f(x):
        return tf.cond(x > 0, lambda: x * v, lambda: -x)

    for value, want in ((3.0, (2.0, 3.0)), (-3.0, (-1.0, None))):
        x = tf.constant(value)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        gx, gv = tape.gradient(y, [x, v])
        assert_tensor(gx, want[0])
        if want[1] is None:
            assert gv is None or float(gv) == 0.0
        else:
            assert_tensor(gv, want[1])


def test_while_loop_values_eager_and_traced():
    def f(x):
        return tf.while_loop(lambda i, a: i < 5, lambda i, a: (i + 1, a * x), [tf.constant(0), tf.constant(1.0)])

    got = tf.function(f, autograph=False)(tf.constant(2.0))
    want = f(tf.constant(2.0))
    assert_tensor(got[1], 32.0)
    assert_tensor(want[1], 32.0)
    bounded = tf.function(lambda: tf.while_loop(lambda i: i < 100, lambda i: i + 1, [tf.constant(0)],
                                                 maximum_iterations=7), autograph=False)
    assert_tensor(bounded()[0], 7, tf.int32)


def test_while_loop_shape_invariants():
    def grow(x):
        return tf.while_loop(lambda x: tf.shape(x)[0] < 8, lambda x: tf.concat([x, x], 0), [x],
                             shape_invariants=[tf.TensorShape([None])])

    out = tf.function(grow, autograph=False)(tf.constant([1.0]))
    assert_tensor(out[0], np.ones(8))
    bad = tf.function(lambda x: tf.while_loop(lambda x: tf.shape(x)[0] < 8, lambda x: tf.concat([x, x], 0), [x]),
                      autograph=False)
    with pytest.raises(ValueError, match="enters the loop with shape \\(1,\\), but has shape \\(2,\\)"):
        bad(tf.constant([1.0]))


@pytest.mark.parametrize("maximum_iterations", [None, 10])
def test_while_loop_gradients(maximum_iterations):
    v = tf.Variable(1.5)

    @tf.function(autograph=False)
    def f(x):
        _, acc = tf.while_loop(lambda i, a: i < 4, lambda i, a: (i + 1, a * x * v),
                               [tf.constant(0), tf.constant(1.0)], maximum_iterations=maximum_iterations)
        return acc

    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    gx, gv = tape.gradient(y, [x, v])
    np.testing.assert_allclose(y.numpy(), (2.0 * 1.5) ** 4, rtol=1e-6)
    np.testing.assert_allclose(gx.numpy(), 4 * 2.0**3 * 1.5**4, rtol=1e-5)
    np.testing.assert_allclose(gv.numpy(), 4 * 1.5**3 * 2.0**4, rtol=1e-5)


def test_while_gradient_compiles_when_bounded_and_interprets_otherwise():
    def make(bound):
        @tf.function(autograph=False)
        def f(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                _, acc = tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * x),
                                       [tf.constant(0), tf.constant(1.0)], maximum_iterations=bound)
            return tape.gradient(acc, x)

        return f

    for bound, interpreted in ((3, False), (None, True)):
        f = make(bound)
        assert_tensor(f(tf.constant(2.0)), 12.0)
        assert f.get_concrete_function(tf.constant(2.0))._program.interpret is interpreted


def test_while_second_order():
    @tf.function(autograph=False)
    def f(x):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                _, acc = tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * x),
                                       [tf.constant(0), tf.constant(1.0)], maximum_iterations=3)
            g = inner.gradient(acc, x)
        return g, outer.gradient(g, x)

    g, gg = f(tf.constant(2.0))
    assert_tensor(g, 12.0)
    assert_tensor(gg, 12.0)
