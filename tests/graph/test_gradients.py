"""Gradients through tf.function calls, tf.gradients, and compiled training steps."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor


def test_tape_around_function_call():
    w = tf.Variable(3.0)

    @tf.function
    def f(x):
        return x * x * w

    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    gx, gw = tape.gradient(y, [x, w])
    assert_tensor(gx, 12.0)
    assert_tensor(gw, 4.0)


def test_second_order_through_function():
    @tf.function
    def f(x):
        return x * x * x

    x = tf.constant(2.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        g = inner.gradient(y, x)
    assert_tensor(g, 12.0)
    assert_tensor(outer.gradient(g, x), 12.0)


def test_function_gradient_replays_variable_reads_not_writes():
    v = tf.Variable(2.0)

    @tf.function
    def f(x):
        y = x * v
        v.assign_add(1.0)
        return y + x * v

    x = tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    assert_tensor(y, 5.0)
    assert_tensor(tape.gradient(y, x), 5.0)  # 2 + 3: the values the call saw
    assert_tensor(v.read_value(), 3.0)  # the write happened once


def test_tf_gradients_inside_function():
    @tf.function
    def f(x):
        y = x * x + 3.0 * x
        gx = tf.gradients(y, x)[0]
        gz = tf.gradients(y, x, grad_ys=tf.constant(2.0))[0]
        return gx, gz

    gx, gz = f(tf.constant(2.0))
    assert_tensor(gx, 7.0)
    assert_tensor(gz, 14.0)
    with pytest.raises(RuntimeError, match="tf.gradients is not supported when eager execution is enabled"):
        tf.gradients(tf.constant(1.0), tf.constant(1.0))


def test_tf_gradients_stop_gradients_and_unconnected():
    @tf.function
    def f(x, z):
        a = x * 2.0
        b = a * x
        return tf.gradients(b, [x, z], stop_gradients=[a], unconnected_gradients="zero")

    gx, gz = f(tf.constant(3.0), tf.constant(1.0))
    assert_tensor(gx, 6.0)  # a is treated as a constant
    assert_tensor(gz, 0.0)


def _mlp_step():
    rng = np.random.default_rng(0)
    w = tf.Variable(rng.normal(size=(4, 3)).astype(np.float32))
    b = tf.Variable(np.zeros(3, np.float32))

    def step(x, y):
        with tf.GradientTape() as tape:
            logits = tf.matmul(x, w) + b
            loss = tf.reduce_mean(tf.square(logits - y))
        gw, gb = tape.gradient(loss, [w, b])
        w.assign_sub(0.1 * gw)
        b.assign_sub(0.1 * gb)
        return loss

    return w, b, step


def test_training_step_matches_eager_and_compiles_as_one_program():
    x = tf.constant(np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32))
    y = tf.constant(np.random.default_rng(2).normal(size=(8, 3)).astype(np.float32))
    we, be, eager_step = _mlp_step()
    wf, bf, step = _mlp_step()
    fn = tf.function(step)
    for _ in range(3):
        np.testing.assert_allclose(fn(x, y).numpy(), eager_step(x, y).numpy(), rtol=1e-5)
    np.testing.assert_allclose(wf.numpy(), we.numpy(), rtol=1e-5)
    program = fn.get_concrete_function(x, y)._program
    assert not program.interpret and len(program.written) == 2
    hlo = fn.experimental_get_compiler_ir(x, y)()
    assert hlo.count("func.func public @main") == 1
