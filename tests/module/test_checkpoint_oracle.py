"""Checkpoints against real TensorFlow, both ways: same keys, same object graph, same values."""

from __future__ import annotations

import textwrap

import ml_dtypes
import numpy as np
import pytest

import flowstone as tf
from flowstone.module import sstable

pytestmark = pytest.mark.oracle

# Runs unchanged under `flowstone as tf` and under TensorFlow.
MODEL = textwrap.dedent(
    """
    class Block(tf.Module):
        def __init__(self, name=None):
            super().__init__(name=name)
            with self.name_scope:
                self.kernel = tf.Variable(np.zeros([3, 4], np.float32), name="kernel")
                self.bias = tf.Variable(np.zeros([4], np.float64), name="bias")

    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            self.blocks = [Block(), Block(name="second")]
            self.table = {
                "words": tf.Variable(np.array([b"", b"", b""], dtype=object)),
                "count": tf.Variable(np.int64(0)),
                "nested": [{"h": tf.Variable(np.zeros([2], tf.bfloat16.as_numpy_dtype))}],
            }
            self.flags = tf.Variable([False, False])
            self.half = tf.Variable(np.zeros([2], np.float16))
            self.step = tf.Variable(0, dtype=tf.int32)
            self.pair = (tf.Variable(np.zeros([2, 2], np.float32)), 3)

    def fill(m, k):
        m.blocks[0].kernel.assign(np.arange(12, dtype=np.float32).reshape(3, 4) * k)
        m.blocks[0].bias.assign(np.array([0.5, -1.25, 1e-3, 7.0]) * k)
        m.blocks[1].kernel.assign(-np.ones([3, 4], np.float32) * k)
        m.blocks[1].bias.assign(np.full([4], 2.0 ** -30) * k)
        m.table["words"].assign(np.array([b"alpha", b"", ("\\u00e9t\\u00e9 %d" % k).encode()], dtype=object))
        m.table["count"].assign(np.int64(2 ** 40 + k))
        m.table["nested"][0]["h"].assign(np.array([1.5, -3.0 * k], tf.bfloat16.as_numpy_dtype))
        m.flags.assign([True, k % 2 == 0])
        m.half.assign(np.array([0.25, 65000.0 / k], np.float16))
        m.step.assign(7 * k)
        m.pair[0].assign(np.eye(2, dtype=np.float32) * k)

    def dump(m):
        def plain(v):
            a = np.asarray(v.numpy())
            if a.dtype == object:
                return [x.decode("utf-8") for x in a.reshape(-1)]
            return a.astype(np.float64).reshape(-1).tolist() if a.dtype.kind in "fc" or a.dtype.itemsize == 2 and a.dtype.kind == "V" else a.reshape(-1).tolist()
        return {v.name + "#" + str(i): [str(v.dtype.name), plain(v)] for i, v in enumerate(m.variables)}
    """
)


def _ours():
    namespace = {"tf": tf, "np": np}
    exec(MODEL, namespace)
    return namespace


def _bf16_safe(values):
    return {k: [d, [float(x) if isinstance(x, float) else x for x in v]] for k, (d, v) in values.items()}


def test_written_here_restored_by_tensorflow(tf_oracle, tmp_path, monkeypatch):
    ns = _ours()
    model = ns["Model"]()
    ns["fill"](model, 3)
    # A small block size spreads the index over several SSTable blocks.
    monkeypatch.setattr(sstable, "BLOCK_SIZE", 64)
    path = tf.train.Checkpoint(model=model, extra=[tf.Variable(5.0)]).save(str(tmp_path / "ours"))
    ours_keys = [k for k, _ in tf.train.list_variables(path)]
    theirs = tf_oracle(
        MODEL
        + """
m = Model()
ckpt = tf.train.Checkpoint(model=m, extra=[tf.Variable(0.0)])
status = ckpt.restore(args["path"])
status.assert_consumed()
result = {"values": dump(m), "keys": [k for k, _ in tf.train.list_variables(args["path"])],
          "latest": tf.train.latest_checkpoint(args["dir"]), "counter": int(ckpt.save_counter.numpy()),
          "extra": float(ckpt.extra[0].numpy())}
""",
        {"path": path, "dir": str(tmp_path)},
    )
    assert theirs["keys"] == ours_keys
    assert theirs["latest"] == path and theirs["counter"] == 1 and theirs["extra"] == 5.0
    assert theirs["values"] == _bf16_safe(ns["dump"](model))


def test_written_by_tensorflow_restored_here(tf_oracle, tmp_path):
    theirs = tf_oracle(
        MODEL
        + """
m = Model()
fill(m, 2)
manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=m), args["dir"], max_to_keep=2)
for _ in range(3):
    path = manager.save()
result = {"values": dump(m), "path": path, "keys": [k for k, _ in tf.train.list_variables(path)]}
""",
        {"dir": str(tmp_path)},
    )
    assert [k for k, _ in tf.train.list_variables(theirs["path"])] == theirs["keys"]
    ns = _ours()
    model = ns["Model"]()
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(tmp_path), max_to_keep=2)
    assert manager.checkpoints == [str(tmp_path / "ckpt-2"), str(tmp_path / "ckpt-3")]
    assert manager.restore_or_initialize() == theirs["path"]
    tf.train.Checkpoint(model=model).read(theirs["path"]).expect_partial().assert_existing_objects_matched()
    assert _bf16_safe(ns["dump"](model)) == theirs["values"]
    assert model.table["nested"][0]["h"].dtype == tf.bfloat16
    np.testing.assert_array_equal(np.asarray(model.table["nested"][0]["h"].numpy()),
                                  np.array([1.5, -6.0], ml_dtypes.bfloat16))
    status = tf.train.Checkpoint(model=model).restore(theirs["path"])
    status.assert_consumed()
    assert manager.save().endswith("ckpt-4")


def test_deferred_restore_of_tensorflow_checkpoint(tf_oracle, tmp_path):
    out = tf_oracle(
        """
class M(tf.Module):
    pass
m = M()
m.layers = [M()]
m.layers[0].w = tf.Variable([[1.0, 2.0]])
m.table = {"x/y": tf.Variable(3, dtype=tf.int64)}
result = tf.train.Checkpoint(net=m).write(args["prefix"])
""",
        {"prefix": str(tmp_path / "tf")},
    )

    class M(tf.Module):
        pass

    m = M()
    status = tf.train.Checkpoint(net=m).read(out)
    assert sorted(status.deferred) == ["net/layers/0/w/.ATTRIBUTES/VARIABLE_VALUE",
                                       "net/table/x.Sy/.ATTRIBUTES/VARIABLE_VALUE"]
    m.layers = [M()]
    m.layers[0].w = tf.Variable([[0.0, 0.0]])
    m.table = {"x/y": tf.Variable(np.int64(0))}
    status.assert_consumed()
    np.testing.assert_array_equal(m.layers[0].w.numpy(), [[1.0, 2.0]])
    assert m.table["x/y"].numpy() == 3
