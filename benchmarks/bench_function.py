"""tf.function workloads: call overhead, a compiled MLP training step, trace + first call."""

from __future__ import annotations

import numpy as np

SIZES = (784, 512, 512, 10)
BATCH = 128


def setup_function_call_overhead(tf):
    """Calling a trivial traced function (`x + 1`) on a scalar tensor."""

    @tf.function
    def f(x):
        return x + 1.0

    x = tf.constant(1.0)
    f(x)
    return lambda: f(x)


setup_function_call_overhead.target = 1.0


def _mlp(tf):
    """A 784-512-512-10 MLP step: forward, softmax cross-entropy, tape gradient, Adam by hand."""
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        w = rng.normal(scale=np.sqrt(2.0 / fan_in), size=(fan_in, fan_out)).astype(np.float32)
        params += [tf.Variable(w), tf.Variable(np.zeros(fan_out, np.float32))]
    m = [tf.Variable(np.zeros(p.shape, np.float32)) for p in params]
    v = [tf.Variable(np.zeros(p.shape, np.float32)) for p in params]
    t = tf.Variable(0.0)
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            h = x
            for i in range(0, len(params) - 2, 2):
                h = tf.nn.relu(tf.matmul(h, params[i]) + params[i + 1])
            logits = tf.matmul(h, params[-2]) + params[-1]
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
        grads = tape.gradient(loss, params)
        t.assign_add(1.0)
        scale = lr * tf.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        for p, g, mi, vi in zip(params, grads, m, v):
            mi.assign(b1 * mi + (1.0 - b1) * g)
            vi.assign(b2 * vi + (1.0 - b2) * tf.square(g))
            p.assign_sub(scale * mi / (tf.sqrt(vi) + eps))
        return loss

    x = tf.constant(rng.normal(size=(BATCH, SIZES[0])).astype(np.float32))
    labels = rng.integers(0, SIZES[-1], size=BATCH)
    y = tf.constant(np.eye(SIZES[-1], dtype=np.float32)[labels])
    return step, x, y


def setup_mlp_train_step(tf):
    """One compiled training step of the MLP (batch 128) after warm-up."""
    step, x, y = _mlp(tf)
    step(x, y)
    return lambda: step(x, y)


setup_mlp_train_step.target = 0.8


def setup_mlp_trace_and_first_call(tf):
    """Tracing, compiling and running the MLP training step once."""
    step, x, y = _mlp(tf)
    return lambda: step(x, y)


setup_mlp_trace_and_first_call.target = 1.0
setup_mlp_trace_and_first_call.once = True
