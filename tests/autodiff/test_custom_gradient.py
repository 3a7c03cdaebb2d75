"""tf.custom_gradient (with and without variables), tf.recompute_grad, tf.RegisterGradient."""

from __future__ import annotations

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor


@tf.custom_gradient
def log1pexp(x):
    e = tf.exp(x)

    def grad(upstream):
        return upstream * (1 - 1 / (1 + e))

    return tf.math.log(1 + e), grad


def test_custom_gradient_replaces_the_gradient():
    x = tf.constant(100.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = log1pexp(x)
    assert_tensor(t.gradient(y, x), 1.0)


def test_custom_gradient_multiple_inputs_and_outputs():
    @tf.custom_gradient
    def f(a, b):
        def grad(da, db):
            return [da * 10.0 + db, db * 100.0]

        return (a * b, a + b), grad

    a, b = tf.constant(2.0), tf.constant(3.0)
    with tf.GradientTape() as t:
        t.watch([a, b])
        p, s = f(a, b)
        y = p + s
    ga, gb = t.gradient(y, [a, b])
    assert_tensor(ga, 11.0)
    assert_tensor(gb, 100.0)


def test_custom_gradient_wrong_number_of_gradients():
    @tf.custom_gradient
    def f(a, b):
        return a * b, lambda dy: dy

    a = tf.constant(1.0)
    with tf.GradientTape() as t:
        t.watch(a)
        y = f(a, tf.constant(2.0))
    with pytest.raises(ValueError, match="expected to return 2 gradients, but returned 1"):
        t.gradient(y, a)


def test_custom_gradient_with_variables():
    v = tf.Variable(3.0)

    @tf.custom_gradient
    def scaled(x):
        def grad(dy, variables=None):
            assert len(variables) == 1 and variables[0] is v
            return dy * 7.0, [dy * 11.0]

        return x * v, grad

    x = tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = scaled(x)
    gx, gv = t.gradient(y, [x, v])
    assert_tensor(gx, 7.0)
    assert_tensor(gv, 11.0)

    @tf.custom_gradient
    def bad(x):
        return x * v, lambda dy: dy

    with pytest.raises(TypeError, match="must accept keyword argument 'variables'"):
        with tf.GradientTape():
            bad(x)


def test_custom_gradient_higher_order():
    @tf.custom_gradient
    def cube(x):
        def grad(dy):
            return dy * 3.0 * x * x

        return x * x * x, grad

    x = tf.constant(2.0)
    with tf.GradientTape() as t2:
        t2.watch(x)
        with tf.GradientTape() as t1:
            t1.watch(x)
            y = cube(x)
        g = t1.gradient(y, x)
    assert_tensor(g, 12.0)
    assert_tensor(t2.gradient(g, x), 12.0)


def test_custom_gradient_returning_its_input():
    @tf.custom_gradient
    def ident(x):
        return x, lambda dy: dy * 2.0

    x = tf.constant(1.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = ident(x) * 3.0
    assert_tensor(t.gradient(y, x), 6.0)


def test_recompute_grad():
    v = tf.Variable(np.array([1.0, 2.0]))

    def block(x):
        return tf.reduce_sum(tf.tanh(x * v))

    fast = tf.recompute_grad(block)
    x = tf.constant(np.array([0.5, -1.0]))
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y_ref = block(x)
        y = fast(x)
    assert_tensor(y, y_ref.numpy())
    for want, got in zip(t.gradient(y_ref, [x, v]), t.gradient(y, [x, v])):
        assert_tensor(got, want.numpy())


def test_register_gradient_and_no_gradient():
    with pytest.raises(KeyError, match="Registering two gradient with name 'Mul'"):
        tf.RegisterGradient("Mul")(lambda op, g: [g, g])
    with pytest.raises(KeyError):
        tf.no_gradient("Mul")

    @tf.RegisterGradient("FlowstoneTestOnlyGrad")
    def _g(op, grad):
        return [grad]

    from flowstone.autodiff.custom_gradient import gradient_function

    assert gradient_function("FlowstoneTestOnlyGrad") is _g
