"""Variables inside tf.function: reads and writes, creation rules, variables as arguments."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor


def test_reads_and_assigns_match_eager():
    def step(v, x):
        v.assign_add(x)
        y = v.read_value() * 2.0
        v.assign_sub(tf.ones_like(x))
        return y + v

    ve, vf = tf.Variable([1.0, 2.0]), tf.Variable([1.0, 2.0])
    fn = tf.function(step)
    for _ in range(3):
        want = step(ve, tf.constant([0.5, 1.0]))
        got = fn(vf, tf.constant([0.5, 1.0]))
        assert_tensor(got, want.numpy())
    np.testing.assert_allclose(vf.numpy(), ve.numpy())


def test_captured_variable_updated_in_place_and_earlier_reads_survive():
    v = tf.Variable(np.ones([4], np.float32))

    @tf.function
    def bump():
        v.assign_add(tf.ones([4]))
        return v.read_value()

    before = v.read_value()  # shares the buffer: it must not be donated away
    out = bump()
    assert_tensor(before, np.ones(4))
    assert_tensor(out, np.full(4, 2.0))
    bump()
    assert_tensor(v.read_value(), np.full(4, 3.0))


def test_lazy_variable_creation_on_first_call():
    class Dense(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = None

        @tf.function
        def __call__(self, x):
            if self.w is None:
                self.w = tf.Variable(tf.ones([2]))
            return x * self.w

    m = Dense()
    assert_tensor(m(tf.constant([3.0, 4.0])), [3.0, 4.0])
    assert_tensor(m(tf.constant([1.0, 1.0])), [1.0, 1.0])
    # TF traces twice on the call that creates variables.
    assert m.__call__.experimental_get_tracing_count() == 2


def test_creating_variables_on_every_call_raises_with_name_and_line():
    @tf.function
    def f(x):
        w = tf.Variable(1.0, name="fresh")  # the line the error must name
        return x * w

    with pytest.raises(ValueError, match="tf.function only supports singleton tf.Variables") as info:
        f(tf.constant(1.0))
    message = str(info.value)
    assert "'fresh'" in message
    assert "test_variables.py" in message and "w = tf.Variable" not in message
    line = next(i for i, text in enumerate(open(__file__), 1) if "the line the error must name" in text)
    assert f"line {line}" in message


def test_variables_as_arguments_trace_by_dtype_and_shape():
    @tf.function
    def add_to(v, x):
        v.assign_add(x)
        return v.read_value()

    a, b = tf.Variable([1.0, 1.0]), tf.Variable([5.0, 5.0])
    assert_tensor(add_to(a, tf.constant([1.0, 2.0])), [2.0, 3.0])
    assert_tensor(add_to(b, tf.constant([1.0, 2.0])), [6.0, 7.0])
    assert add_to.experimental_get_tracing_count() == 1
    assert_tensor(a.read_value(), [2.0, 3.0])
    add_to(tf.Variable([1.0, 2.0, 3.0]), tf.constant([1.0, 1.0, 1.0]))
    assert add_to.experimental_get_tracing_count() == 2


def test_variable_gather_and_scatter_in_function():
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])

    @tf.function
    def f(i):
        row = v.sparse_read(i)
        v.scatter_nd_update([[0, 0]], [10.0])
        return row

    assert_tensor(f(tf.constant([2, 0])), [[5.0, 6.0], [1.0, 2.0]])
    assert_tensor(v.read_value(), [[10.0, 2.0], [3.0, 4.0], [5.0, 6.0]])


def test_variables_passed_as_arguments_get_gradients():
    w, v = tf.Variable(2.0), tf.Variable(3.0)

    @tf.function
    def product(a, b):
        return a * b

    with tf.GradientTape() as tape:
        y = product(w, v)
    gw, gv = tape.gradient(y, [w, v])
    assert float(gw) == 3.0 and float(gv) == 2.0
    with tf.GradientTape() as tape:
        y = product(w, w)  # one variable as both arguments: the two paths add up
    assert float(y) == 4.0 and float(tape.gradient(y, w)) == 4.0


def test_one_variable_passed_twice_is_one_state():
    v = tf.Variable(4.0)

    @tf.function
    def bump_then_add(a, b):
        a.assign_add(1.0)
        return a + b  # b is the same variable: it sees the write

    assert float(bump_then_add(v, v)) == 10.0 and float(v) == 5.0
    assert float(bump_then_add(v, v)) == 12.0 and float(v) == 6.0
    other = tf.Variable(1.0)
    assert float(bump_then_add(v, other)) == 8.0 and float(v) == 7.0 and float(other) == 1.0
