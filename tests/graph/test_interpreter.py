"""The node-by-node interpreter: host kernels (py_function, strings) and error source lines."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor


def test_py_function_and_numpy_function_in_function():
    @tf.function
    def f(x):
        y = tf.py_function(lambda a: a * 3.0, [x], tf.float32)
        z = tf.numpy_function(lambda a: np.sin(a), [y], tf.float32)
        return z + 1.0

    x = tf.constant([1.0, 2.0])
    assert_tensor(f(x), np.sin([3.0, 6.0]) + 1.0, rtol=1e-6)
    assert f.get_concrete_function(x)._program.interpret


def test_py_function_gradient():
    @tf.function
    def f(x):
        return tf.py_function(lambda a: a * a, [x], tf.float32)

    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    assert_tensor(tape.gradient(y, x), 6.0)


def test_string_ops_fall_back_to_the_interpreter():
    @tf.function
    def f(s):
        return tf.strings.length(s) + 1

    s = tf.constant(["ab", "cde"])
    assert_tensor(f(s), tf.strings.length(s).numpy() + 1)


def test_error_points_at_user_line():
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def h(x):
        return tf.matmul(x, x)  # the failing op

    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        h(tf.ones([2, 3]))
    message = str(info.value)
    line = next(i for i, text in enumerate(open(__file__), 1) if "the failing op" in text)
    assert message.startswith("Graph execution error:")
    assert "Detected at node MatMul defined at (most recent call last):" in message
    assert f'test_interpreter.py", line {line}, in h' in message
    assert "[[{{node MatMul}}]]" in message


def test_run_time_indices_compile_and_differentiate():
    # x[i] at a loop index has run-time begin/end: the slice lowers to a dynamic slice (and its
    # gradient to a dynamic update), so the graph still compiles as one XLA program.
    @tf.function
    def f(x):
        s = tf.zeros([3])
        for i in tf.range(tf.shape(x)[0]):
            s += x[i] * tf.cast(i, tf.float32) + x[-1 - i] + x[..., 0][i]
        return s

    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    want = sum(x[i] * i + x[-1 - i] + x[:, 0][i] for i in range(4))
    xv = tf.constant(x)
    assert_tensor(f(xv), want)
    assert not f.get_concrete_function(xv)._program.interpret
    with tf.GradientTape() as tape:
        tape.watch(xv)
        y = tf.reduce_sum(f(xv) ** 2)
    grad = 2 * want[None, :] * (np.arange(4)[:, None] + 1.0)
    grad[:, 0] += 2 * want.sum()
    assert_tensor(tape.gradient(y, xv), grad)


def test_run_time_slices_that_do_not_lower_are_interpreted():
    @tf.function
    def windows(x):
        s = tf.zeros([2])
        for i in tf.range(3):
            s += x[i:i + 2]  # a window of run-time bounds: interpreted node by node
        return s

    x = np.arange(5, dtype=np.float32)
    assert_tensor(windows(tf.constant(x)), x[0:2] + x[1:3] + x[2:4])
