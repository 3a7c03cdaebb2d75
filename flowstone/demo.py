"""`flowstone demo`: the eager core, a training loop, tf.function and a checkpoint, end to end.

The job fits a small 2-layer network to an embedded data set (the XOR-like "two moons"
points below, generated from a fixed formula so that the demo needs no download), first
eagerly, then as a compiled `tf.function` step, and saves and restores the weights in
TensorFlow's checkpoint format.
"""

from __future__ import annotations

import math
import tempfile
import time


def _moons(n: int = 64):
    """Two interleaved half circles, deterministic: (points [n, 2], labels [n, 1])."""
    points, labels = [], []
    for i in range(n):
        t = math.pi * (i % (n // 2)) / (n // 2 - 1)
        if i < n // 2:
            points.append([math.cos(t), math.sin(t)])
            labels.append([0.0])
        else:
            points.append([1.0 - math.cos(t), 0.5 - math.sin(t)])
            labels.append([1.0])
    return points, labels


def run(out=print) -> float:
    import flowstone as tf

    out(f"flowstone {tf.__version__}: TensorFlow 2's API on XLA")
    out("")
    out("1. Eager tensors, the TF way")
    a = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    out(f"   a = {a!r}")
    out(f"   a @ a = {tf.matmul(a, a)}")
    out(f"   reduce_sum(a, axis=0) = {tf.reduce_sum(a, axis=0)}")
    out(f"   a[:, ::-1] = {a[:, ::-1]}")
    try:
        tf.constant(1) + tf.constant(1.0)
    except tf.errors.InvalidArgumentError as e:
        out(f"   int32 + float32 -> InvalidArgumentError: {e}")

    out("")
    out("2. A 2-16-1 network fitted with GradientTape on the embedded two-moons data")
    x_list, y_list = _moons()
    x, y = tf.constant(x_list), tf.constant(y_list)

    class Net(tf.Module):
        def __init__(self):
            super().__init__()
            self.w1 = tf.Variable(tf.random.stateless_normal([2, 16], seed=[1, 2]) * 0.8, name="w1")
            self.b1 = tf.Variable(tf.zeros([16]), name="b1")
            self.w2 = tf.Variable(tf.random.stateless_normal([16, 1], seed=[3, 4]) * 0.8, name="w2")
            self.b2 = tf.Variable(tf.zeros([1]), name="b2")

        def __call__(self, inputs):
            hidden = tf.tanh(inputs @ self.w1 + self.b1)
            return hidden @ self.w2 + self.b2

    net = Net()

    def loss_fn():
        logits = net(x)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))

    def step(lr=0.5):
        with tf.GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, net.trainable_variables)
        for v, g in zip(net.trainable_variables, grads):
            v.assign_sub(lr * g)
        return loss

    start = time.perf_counter()
    for _ in range(100):
        loss = step()
    out(f"   eager: 100 steps, loss {float(loss):.4f} ({time.perf_counter() - start:.2f} s)")

    compiled = tf.function(step)
    start = time.perf_counter()
    for _ in range(400):
        loss = compiled()
    out(f"   tf.function: 400 more steps, loss {float(loss):.4f} ({time.perf_counter() - start:.2f} s)")
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.cast(net(x) > 0, tf.float32), y), tf.float32))
    out(f"   accuracy on the data: {float(accuracy):.2%}")

    out("")
    out("3. Checkpoint in TensorFlow's format, restored into a fresh network")
    with tempfile.TemporaryDirectory() as d:
        path = tf.train.Checkpoint(net=net).save(f"{d}/ckpt")
        keys = [name for name, _ in tf.train.list_variables(path)]
        out(f"   saved {path.rsplit('/', 1)[1]}: {', '.join(keys)}")
        fresh = Net()
        tf.train.Checkpoint(net=fresh).restore(path).assert_consumed()
        same = all(bool(tf.reduce_all(p == q)) for p, q in zip(net.variables, fresh.variables))
        out(f"   restored, weights equal: {same}")
    return float(loss)
