"""Autodiff workloads: a GradientTape over a small computation plus `gradient`."""

from __future__ import annotations


def setup_tape_gradient(tf):
    """`with GradientTape(): y = reduce_sum(v * x)` then `tape.gradient(y, v)` on 4-element tensors."""
    x = tf.constant([1.0, 2.0, 3.0, 4.0])
    v = tf.Variable([0.5, -1.0, 2.0, 0.25])

    def step():
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(v * x)
        return tape.gradient(y, v)

    return step


setup_tape_gradient.target = 0.25
