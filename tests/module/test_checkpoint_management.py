"""tf.train.CheckpointManager, tf.train.latest_checkpoint and the `checkpoint` state file."""

from __future__ import annotations

import os

import pytest

import flowstone as tf
from flowstone.module import checkpoint_management


def _files(directory):
    return sorted(f for f in os.listdir(directory) if f != "checkpoint")


def test_max_to_keep_and_numbering(tmp_path):
    v = tf.Variable(1.0)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=v), str(tmp_path), max_to_keep=2)
    assert manager.latest_checkpoint is None and manager.checkpoints == []
    assert manager.directory == str(tmp_path)
    paths = [manager.save() for _ in range(3)]
    assert [os.path.basename(p) for p in paths] == ["ckpt-1", "ckpt-2", "ckpt-3"]
    assert manager.save(checkpoint_number=100) == str(tmp_path / "ckpt-100")
    assert manager.checkpoints == [str(tmp_path / "ckpt-3"), str(tmp_path / "ckpt-100")]
    assert _files(tmp_path) == ["ckpt-100.data-00000-of-00001", "ckpt-100.index",
                                "ckpt-3.data-00000-of-00001", "ckpt-3.index"]
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == str(tmp_path / "ckpt-100")
    assert list(state.all_model_checkpoint_paths) == manager.checkpoints
    assert len(state.all_model_checkpoint_timestamps) == 2
    text = open(tmp_path / "checkpoint").read()
    assert text.startswith('model_checkpoint_path: "ckpt-100"\nall_model_checkpoint_paths: "ckpt-3"\n')
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-100")
    assert int(manager.checkpoint.save_counter.numpy()) == 4


def test_new_manager_recovers_state_and_restores(tmp_path):
    v = tf.Variable(1.0)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=v), str(tmp_path), max_to_keep=3)
    manager.save()
    v.assign(2.0)
    manager.save()
    w = tf.Variable(0.0)
    again = tf.train.CheckpointManager(tf.train.Checkpoint(v=w), str(tmp_path), max_to_keep=3,
                                       checkpoint_name="model")
    assert again.checkpoints == [str(tmp_path / "ckpt-1"), str(tmp_path / "ckpt-2")]
    assert again.restore_or_initialize() == str(tmp_path / "ckpt-2")
    assert w.numpy() == 2.0
    assert os.path.basename(again.save()) == "model-3"


def test_restore_or_initialize_runs_init_fn(tmp_path):
    calls = []
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)), str(tmp_path / "new"),
                                         max_to_keep=1, init_fn=lambda: calls.append(1))
    assert manager.restore_or_initialize() is None and calls == [1]


def test_keep_all_and_keep_every_n_hours(tmp_path, monkeypatch):
    ck = tf.train.Checkpoint(v=tf.Variable(1.0))
    keep_all = tf.train.CheckpointManager(ck, str(tmp_path / "all"), max_to_keep=None)
    for _ in range(3):
        keep_all.save()
    assert len(keep_all.checkpoints) == 3

    clock = [1000.0]
    monkeypatch.setattr(checkpoint_management.time, "time", lambda: clock[0])
    manager = tf.train.CheckpointManager(ck, str(tmp_path / "hours"), max_to_keep=1,
                                         keep_checkpoint_every_n_hours=1.0)
    first = manager.save()
    clock[0] += 2 * 3600
    second = manager.save()
    clock[0] += 60
    third = manager.save()
    # As in TensorFlow: a checkpoint leaving the queue is kept for good when it was written at
    # least n hours after the last one kept that way (the manager started at t=999).
    assert not os.path.exists(first + ".index")
    assert os.path.exists(second + ".index")
    assert manager.checkpoints == [third]
    assert len([f for f in _files(tmp_path / "hours") if f.endswith(".index")]) == 2


def test_checkpoint_interval(tmp_path):
    step = tf.Variable(0, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), str(tmp_path), max_to_keep=5,
                                         step_counter=step, checkpoint_interval=10)
    assert manager.save() is not None
    step.assign(5)
    assert manager.save() is None
    assert manager.save(check_interval=False) is not None
    step.assign(20)
    assert manager.save() is not None
    assert manager.checkpoint_interval == 10


def test_argument_errors(tmp_path):
    ck = tf.train.Checkpoint(v=tf.Variable(1.0))
    with pytest.raises(ValueError, match="Expected a positive integer or `None` for `max_to_keep`, got 0."):
        tf.train.CheckpointManager(ck, str(tmp_path), max_to_keep=0)
    with pytest.raises(ValueError, match="`step_counter` should be passed if `checkpoint_interval` is not None."):
        tf.train.CheckpointManager(ck, str(tmp_path), max_to_keep=1, checkpoint_interval=5)


def test_latest_checkpoint_ignores_missing_files(tmp_path):
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)), str(tmp_path), max_to_keep=2)
    path = manager.save()
    os.remove(path + ".index")
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    assert tf.train.latest_checkpoint(str(tmp_path / "none")) is None
