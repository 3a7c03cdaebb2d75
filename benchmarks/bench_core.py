"""Eager core workloads: import + first op, eager add, eager matmul."""

from __future__ import annotations

import subprocess
import sys
import time


def setup_import_and_first_op(framework):
    """`import <framework>` plus one op, in a fresh interpreter (best of 3)."""
    code = (
        f"import time; t = time.perf_counter(); import {framework} as tf; "
        "x = tf.constant([1.0, 2.0]); y = (x + x).numpy(); print(time.perf_counter() - t)"
    )
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return min(runs) * 1e6


setup_import_and_first_op.whole_process = True
setup_import_and_first_op.target = 0.5


def setup_eager_add_16x16(tf):
    a = tf.constant([[float(i + j) for j in range(16)] for i in range(16)])
    b = tf.ones([16, 16])
    return lambda: tf.add(a, b)


setup_eager_add_16x16.target = 1.0


def setup_eager_matmul_64x64(tf):
    a = tf.ones([64, 64])
    b = tf.ones([64, 64])
    return lambda: tf.matmul(a, b)


setup_eager_matmul_64x64.target = 1.0
del time
