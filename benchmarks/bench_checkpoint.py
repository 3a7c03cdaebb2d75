"""Checkpoint workloads: save and restore of 100 MB of variables (tf.train.Checkpoint)."""

from __future__ import annotations

import os
import tempfile

import numpy as np

# 100 MB of float32 in variables of a few typical sizes (a 4096x4096 matrix is 64 MB).
_SHAPES = [(4096, 4096), (2048, 2048), (1024, 1024), (1024, 1024)] + [(256, 1024)] * 8 + [(1024,)] * 16


def _variables(tf):
    rng = np.random.default_rng(0)
    return [tf.Variable(rng.standard_normal(s, dtype=np.float32)) for s in _SHAPES]


def setup_checkpoint_save_restore_100mb(tf):
    """One `write` + one `read` of a checkpoint holding ~100 MB of float32 variables."""
    variables = _variables(tf)
    ckpt = tf.train.Checkpoint(vars=variables)
    directory = tempfile.mkdtemp(prefix="bench_ckpt_")
    prefix = os.path.join(directory, "ckpt")

    def run():
        path = ckpt.write(prefix)
        ckpt.read(path).assert_consumed()

    return run


setup_checkpoint_save_restore_100mb.target = 1.0


def setup_checkpoint_save_100mb(tf):
    """`Checkpoint.write` of ~100 MB of float32 variables."""
    ckpt = tf.train.Checkpoint(vars=_variables(tf))
    prefix = os.path.join(tempfile.mkdtemp(prefix="bench_ckpt_"), "ckpt")
    return lambda: ckpt.write(prefix)


setup_checkpoint_save_100mb.target = 1.0


def setup_checkpoint_restore_100mb(tf):
    """`Checkpoint.read` of ~100 MB of float32 variables into existing variables."""
    ckpt = tf.train.Checkpoint(vars=_variables(tf))
    path = ckpt.write(os.path.join(tempfile.mkdtemp(prefix="bench_ckpt_"), "ckpt"))
    return lambda: ckpt.read(path).assert_consumed()


setup_checkpoint_restore_100mb.target = 1.0
