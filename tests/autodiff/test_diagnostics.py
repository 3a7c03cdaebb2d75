"""The opt-in None-gradient diagnostic: one reason per source whose gradient is None."""

from __future__ import annotations

import warnings

import pytest

import flowstone as tf


@pytest.fixture
def diagnostics():
    with tf.autodiff.gradient_diagnostics():
        yield


def _warned(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [str(w.message) for w in caught if issubclass(w.category, tf.autodiff.NoneGradientWarning)]


def test_off_by_default_no_warning():
    x = tf.constant(1.0)
    with tf.GradientTape() as t:
        y = x * 2.0
    g, msgs = _warned(lambda: t.gradient(y, x))
    assert g is None and msgs == []


def test_not_watched(diagnostics):
    x = tf.constant(1.0)
    frozen = tf.Variable(1.0, trainable=False)
    with tf.GradientTape() as t:
        y = x * frozen
    g, msgs = _warned(lambda: t.gradient(y, [x, frozen]))
    assert g == [None, None]
    assert "source #0" in msgs[0] and "is not watched: call tape.watch()" in msgs[0]
    assert "variable 'Variable:0'" in msgs[1] and "not trainable" in msgs[1]


def test_watch_accessed_variables_false_and_unread(diagnostics):
    v, unread = tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape(watch_accessed_variables=False, persistent=True) as t:
        y = v * 2.0
    _, msgs = _warned(lambda: t.gradient(y, v))
    assert "watch_accessed_variables=False" in msgs[0]
    with tf.GradientTape() as t2:
        y = v * 2.0
    _, msgs = _warned(lambda: t2.gradient(y, [v, unread]))
    assert len(msgs) == 1 and "was not read while the tape was recording" in msgs[0]


def test_integer_dtype(diagnostics):
    i = tf.constant([1, 2])
    with tf.GradientTape() as t:
        t.watch(i)
        y = i * 2
    _, msgs = _warned(lambda: t.gradient(y, i))
    assert "has dtype int32: integer and boolean tensors are not differentiable" in msgs[0]


def test_non_differentiable_op_on_path(diagnostics):
    x = tf.constant([1.5, 2.5])
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = tf.stop_gradient(x) * 2.0
        z = tf.reduce_sum(tf.cast(tf.cast(x, tf.int32), tf.float32))
    _, msgs = _warned(lambda: t.gradient(y, x))
    assert "non-differentiable op" in msgs[0] and "'StopGradient'" in msgs[0]
    _, msgs = _warned(lambda: t.gradient(z, x))
    assert "'Cast' outputs int32" in msgs[0]


def test_computed_outside_the_tape(diagnostics):
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        with t.stop_recording():
            hidden = x * x
        y = hidden * 3.0
        seen = x * 2.0
    after = seen + 1.0
    for target in (y, after):
        g, msgs = _warned(lambda target=target: t.gradient(target, x))
        assert g is None
        assert "computed outside the tape" in msgs[0], msgs


def test_not_connected(diagnostics):
    x, other = tf.constant(1.0), tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch([x, other])
        y = other * 2.0
    _, msgs = _warned(lambda: t.gradient(y, x))
    assert "is not connected to the target: the target does not depend on it" in msgs[0]


def test_explain_without_enabling():
    x = tf.constant(1.0)
    w = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(w)
        y = x * w
    reasons = tf.autodiff.explain_none_gradients(t, y, [x, w])
    assert reasons[1] is None and "not watched" in reasons[0]
