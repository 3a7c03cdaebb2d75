"""tf.train.Checkpoint: save/write/read/restore, object-graph matching, statuses, deferred restores."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

import flowstone as tf
from flowstone.core import errors
from flowstone.module import bundle
from flowstone.module.graph_view import OBJECT_GRAPH_KEY
from flowstone.protos import trackable_object_graph_pb2


class M(tf.Module):
    pass


def _tree(fill=None):
    m = M()
    m.a = tf.Variable(1.0 if fill is None else fill)
    m.sub = M()
    m.sub.c = tf.Variable(np.arange(3, dtype=np.int64) if fill is None else np.full(3, int(fill), np.int64))
    m.items = [tf.Variable([b"x", b"yz"] if fill is None else [b"", b""])]
    m.d = {"k/1": tf.Variable(2.0 if fill is None else fill), "k.2": M()}
    return m


def test_write_read_round_trip(tmp_path):
    m = _tree()
    path = tf.train.Checkpoint(model=m).write(str(tmp_path / "ck"))
    assert path == str(tmp_path / "ck")
    assert sorted(os.listdir(tmp_path)) == ["ck.data-00000-of-00001", "ck.index"]
    assert [k for k, _ in tf.train.list_variables(path)] == [
        OBJECT_GRAPH_KEY,
        "model/a/.ATTRIBUTES/VARIABLE_VALUE",
        "model/d/k.S1/.ATTRIBUTES/VARIABLE_VALUE",
        "model/items/0/.ATTRIBUTES/VARIABLE_VALUE",
        "model/sub/c/.ATTRIBUTES/VARIABLE_VALUE",
    ]
    m2 = _tree(fill=0.0)
    status = tf.train.Checkpoint(model=m2).read(path)
    status.assert_consumed().assert_existing_objects_matched().assert_nontrivial_match()
    assert m2.a.numpy() == 1.0 and m2.d["k/1"].numpy() == 2.0
    np.testing.assert_array_equal(m2.sub.c.numpy(), [0, 1, 2])
    assert list(m2.items[0].numpy()) == [b"x", b"yz"]
    assert len(status.matched) == 4 and status.deferred == status.unexpected == status.missing == []


def test_save_numbers_and_state_file(tmp_path):
    v = tf.Variable(1.0)
    ck = tf.train.Checkpoint(v=v)
    prefix = str(tmp_path / "ckpt")
    assert ck.save(prefix) == prefix + "-1"
    v.assign(5.0)
    assert ck.save(prefix) == prefix + "-2"
    assert open(tmp_path / "checkpoint").read() == (
        'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n')
    assert tf.train.latest_checkpoint(str(tmp_path)) == prefix + "-2"
    assert int(ck.save_counter.numpy()) == 2
    fresh = tf.train.Checkpoint(v=tf.Variable(0.0))
    status = fresh.restore(tf.train.latest_checkpoint(str(tmp_path)))
    status.assert_consumed()
    assert fresh.v.numpy() == 5.0 and int(fresh.save_counter.numpy()) == 2


def test_read_does_not_create_save_counter(tmp_path):
    ck = tf.train.Checkpoint(v=tf.Variable(1.0))
    path = ck.save(str(tmp_path / "c"))
    other = tf.train.Checkpoint(v=tf.Variable(0.0))
    status = other.read(path)
    with pytest.raises(AssertionError, match=r"Unresolved object in checkpoint \(root\).save_counter"):
        status.assert_consumed()
    status.assert_existing_objects_matched()
    assert status.deferred == ["save_counter/.ATTRIBUTES/VARIABLE_VALUE"]


def test_object_graph_layout(tmp_path):
    shared = tf.Variable(3.0)
    m = M()
    m.x = shared
    m.y = shared
    path = tf.train.Checkpoint(m=m).write(str(tmp_path / "g"))
    raw = tf.train.load_checkpoint(path).get_tensor(OBJECT_GRAPH_KEY)
    graph = trackable_object_graph_pb2.TrackableObjectGraph.FromString(raw)
    assert [(c.node_id, c.local_name) for c in graph.nodes[0].children] == [(1, "m")]
    assert [(c.node_id, c.local_name) for c in graph.nodes[1].children] == [(2, "x"), (2, "y")]
    attr = graph.nodes[2].attributes[0]
    assert (attr.name, attr.full_name, attr.checkpoint_key) == (
        "VARIABLE_VALUE", "Variable", "m/x/.ATTRIBUTES/VARIABLE_VALUE")
    assert all(n.has_checkpoint_values.value for n in graph.nodes)


def test_root_argument_and_attached_kwargs(tmp_path):
    m = M()
    m.v = tf.Variable(1.0)
    extra = tf.Variable(2.0)
    path = tf.train.Checkpoint(m, extra=extra).save(str(tmp_path / "r"))
    keys = [k for k, _ in tf.train.list_variables(path)]
    assert keys == [OBJECT_GRAPH_KEY, "extra/.ATTRIBUTES/VARIABLE_VALUE",
                    "save_counter/.ATTRIBUTES/VARIABLE_VALUE", "v/.ATTRIBUTES/VARIABLE_VALUE"]
    assert not hasattr(m, "extra")
    m2, extra2 = M(), tf.Variable(0.0)
    m2.v = tf.Variable(0.0)
    tf.train.Checkpoint(m2, extra=extra2).restore(path).assert_consumed()
    assert m2.v.numpy() == 1.0 and extra2.numpy() == 2.0


def test_non_trackable_arguments_rejected():
    with pytest.raises(ValueError, match="`Checkpoint` was expecting x to be a trackable object"):
        tf.train.Checkpoint(x=1)
    with pytest.raises(ValueError, match="expecting root to be a trackable"):
        tf.train.Checkpoint("root")


def test_partial_restore_and_status_report(tmp_path):
    m = _tree()
    path = tf.train.Checkpoint(model=m).write(str(tmp_path / "p"))
    small = M()
    small.a = tf.Variable(0.0)
    small.extra = tf.Variable(9.0)
    status = tf.train.Checkpoint(model=small).read(path)
    assert small.a.numpy() == 1.0
    assert status.matched == ["model/a/.ATTRIBUTES/VARIABLE_VALUE"]
    assert sorted(status.deferred) == [
        "model/d/k.S1/.ATTRIBUTES/VARIABLE_VALUE", "model/items/0/.ATTRIBUTES/VARIABLE_VALUE",
        "model/sub/c/.ATTRIBUTES/VARIABLE_VALUE"]
    assert status.missing == ["model/extra"]
    text = str(status)
    assert "1 matched" in text and "3 deferred" in text and "1 missing: model/extra" in text
    with pytest.raises(AssertionError, match="Found 1 Python objects that were not bound"):
        status.assert_consumed()
    with pytest.raises(AssertionError, match="Found 1 Python objects that were not bound"):
        status.assert_existing_objects_matched()
    status.assert_nontrivial_match()
    assert status.expect_partial() is status


def test_nothing_matched(tmp_path):
    path = tf.train.Checkpoint(model=_tree()).write(str(tmp_path / "n"))
    status = tf.train.Checkpoint(other=M()).read(path)
    with pytest.raises(AssertionError, match="Nothing except the root object matched"):
        status.assert_nontrivial_match()
    status.expect_partial()


def test_unexpected_value(tmp_path):
    a = M()
    a.x = tf.Variable(1.0)
    path = tf.train.Checkpoint(m=a).write(str(tmp_path / "u"))
    b = M()
    b.x = M()  # a module where the checkpoint has a variable
    status = tf.train.Checkpoint(m=b).read(path)
    assert len(status.unexpected) == 1 and "(root).m.x" in status.unexpected[0]
    with pytest.raises(AssertionError, match="Unused attributes"):
        status.assert_consumed()


def test_deferred_restoration_on_creation(tmp_path):
    m = _tree()
    path = tf.train.Checkpoint(model=m).write(str(tmp_path / "d"))
    empty = M()
    status = tf.train.Checkpoint(model=empty).read(path)
    with pytest.raises(AssertionError, match="Unresolved object"):
        status.assert_consumed()
    status.assert_existing_objects_matched()
    assert len(status.deferred) == 4
    empty.a = tf.Variable(0.0)  # restored on assignment
    assert empty.a.numpy() == 1.0
    empty.sub = M()
    empty.sub.c = tf.Variable(np.zeros(3, np.int64))
    np.testing.assert_array_equal(empty.sub.c.numpy(), [0, 1, 2])
    empty.items = []
    empty.items.append(tf.Variable([b"", b""]))
    assert list(empty.items[0].numpy()) == [b"x", b"yz"]
    empty.d = {}
    empty.d["k/1"] = tf.Variable(0.0)
    assert empty.d["k/1"].numpy() == 2.0
    assert status.deferred == []
    status.assert_consumed()


def test_restore_none_is_initialization_only():
    status = tf.train.Checkpoint(m=M()).restore(None)
    for check in (status.assert_consumed, status.assert_existing_objects_matched, status.assert_nontrivial_match):
        with pytest.raises(AssertionError, match=r"No checkpoint specified \(save_path=None\)"):
            check()
    assert status.expect_partial() is status
    status.initialize_or_restore()
    status.run_restore_ops()


def test_missing_checkpoint_errors(tmp_path):
    with pytest.raises(errors.NotFoundError, match="Error when restoring from checkpoint or SavedModel at"):
        tf.train.Checkpoint(m=M()).restore(str(tmp_path / "nope"))
    with pytest.raises(errors.NotFoundError, match="Failed to find any matching files"):
        tf.train.load_checkpoint(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="Couldn't find 'checkpoint' file or checkpoints"):
        tf.train.load_checkpoint(str(tmp_path))


def test_mismatched_shape_and_dtype(tmp_path):
    a = M()
    a.v = tf.Variable(1.0)
    path = tf.train.Checkpoint(m=a).write(str(tmp_path / "s"))
    b = M()
    b.v = tf.Variable(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"Received incompatible tensor with shape \(\) when attempting to "
                                         r"restore variable with shape \(3,\)"):
        tf.train.Checkpoint(m=b).read(path)
    c = M()
    c.v = tf.Variable(0)
    with pytest.raises(errors.InvalidArgumentError, match="expected dtype int32 does not equal original dtype float"):
        tf.train.Checkpoint(m=c).read(path)


def test_corruption_detected_on_restore(tmp_path):
    path = tf.train.Checkpoint(v=tf.Variable(np.arange(100, dtype=np.float32))).write(str(tmp_path / "c"))
    data = path + ".data-00000-of-00001"
    raw = bytearray(open(data, "rb").read())
    raw[10] ^= 1
    open(data, "wb").write(bytes(raw))
    with pytest.raises(errors.DataLossError, match=r"c\.data-00000-of-00001.*Checksum does not match"):
        tf.train.Checkpoint(v=tf.Variable(np.zeros(100, np.float32))).read(path)


def test_crash_during_save_leaves_latest_checkpoint_readable(tmp_path, monkeypatch):
    ck = tf.train.Checkpoint(v=tf.Variable(1.0))
    prefix = str(tmp_path / "ckpt")
    first = ck.save(prefix)
    real_replace = os.replace

    def crash(src, dst):
        if dst.endswith(".index"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(bundle.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        ck.save(prefix)
    monkeypatch.undo()
    assert tf.train.latest_checkpoint(str(tmp_path)) == first
    tf.train.Checkpoint(v=tf.Variable(0.0)).read(first).expect_partial().assert_existing_objects_matched()
    assert not os.path.exists(prefix + "-2.index")


def test_load_checkpoint_reader(tmp_path):
    path = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0]), n=tf.Variable(np.int64(4))).write(str(tmp_path / "l"))
    reader = tf.train.load_checkpoint(path)
    assert reader.has_tensor("v/.ATTRIBUTES/VARIABLE_VALUE") and not reader.has_tensor("x")
    n = reader.get_tensor("n/.ATTRIBUTES/VARIABLE_VALUE")
    assert n == 4 and isinstance(n, np.int64)
    assert reader.get_variable_to_shape_map()["v/.ATTRIBUTES/VARIABLE_VALUE"] == [2]
    assert reader.get_variable_to_dtype_map()["n/.ATTRIBUTES/VARIABLE_VALUE"] == tf.int64
    with pytest.raises(errors.NotFoundError, match="Key x not found in checkpoint"):
        reader.get_tensor("x")


def test_checkpoint_options_and_saved_model_dir(tmp_path):
    options = tf.train.CheckpointOptions(experimental_io_device="/job:localhost/device:CPU:0", enable_async=True)
    v = tf.Variable(3.0)
    os.makedirs(tmp_path / "sm" / "variables")
    path = tf.train.Checkpoint(v=v).write(str(tmp_path / "sm" / "variables" / "variables"), options=options)
    assert bundle.exists(path)
    w = tf.Variable(0.0)
    status = tf.train.Checkpoint(v=w).restore(str(tmp_path / "sm"), options=options)
    assert w.numpy() == 3.0
    # As in TensorFlow: restore() creates the save counter, which a write() never saved.
    with pytest.raises(AssertionError, match="save_counter"):
        status.assert_existing_objects_matched()


def test_unrestored_values_reported_once(tmp_path, caplog):
    path = tf.train.Checkpoint(model=_tree()).write(str(tmp_path / "w"))
    with caplog.at_level(logging.WARNING, logger="flowstone"):
        status = tf.train.Checkpoint(model=M()).read(path)
        del status
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "4 deferred" in messages[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="flowstone"):
        tf.train.Checkpoint(model=M()).read(path).expect_partial()
    assert caplog.records == []
