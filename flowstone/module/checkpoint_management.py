"""The `checkpoint` state file, `tf.train.latest_checkpoint` and `tf.train.CheckpointManager`."""

from __future__ import annotations

import collections
import glob
import logging
import os
import time
import uuid

from google.protobuf import text_format

from flowstone._export import export
from flowstone.module import bundle
from flowstone.protos import checkpoint_state_pb2

_log = logging.getLogger("flowstone")
_STATE_FILE = "checkpoint"


def _state_path(save_dir: str, latest_filename=None) -> str:
    return os.path.join(save_dir, latest_filename or _STATE_FILE)


def _relative(path: str, save_dir: str, relative: bool) -> str:
    if relative and os.path.isabs(path) and os.path.dirname(path) == os.path.abspath(save_dir):
        return os.path.basename(path)
    if relative and not os.path.isabs(path):
        return os.path.relpath(path, save_dir) if os.path.dirname(path) else path
    return path


def update_checkpoint_state_internal(save_dir, model_checkpoint_path, all_model_checkpoint_paths=None,
                                     latest_filename=None, save_relative_paths=False,
                                     all_model_checkpoint_timestamps=None,
                                     last_preserved_timestamp=None) -> None:
    """Rewrites the state file atomically (a temporary file renamed over the old one)."""
    paths = list(all_model_checkpoint_paths or [])
    if model_checkpoint_path and (not paths or paths[-1] != model_checkpoint_path):
        paths.append(model_checkpoint_path)
    state = checkpoint_state_pb2.CheckpointState(
        model_checkpoint_path=_relative(model_checkpoint_path, save_dir, save_relative_paths),
        all_model_checkpoint_paths=[_relative(p, save_dir, save_relative_paths) for p in paths],
        all_model_checkpoint_timestamps=list(all_model_checkpoint_timestamps or []),
    )
    if last_preserved_timestamp is not None:
        state.last_preserved_timestamp = last_preserved_timestamp
    os.makedirs(save_dir, exist_ok=True)
    target = _state_path(save_dir, latest_filename)
    tmp = f"{target}.tmp{uuid.uuid4().hex}"
    with open(tmp, "w") as f:
        f.write(text_format.MessageToString(state))
    os.replace(tmp, target)


@export("train.get_checkpoint_state")
def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """The `CheckpointState` proto of `checkpoint_dir`'s state file (paths made absolute), or None.

    >>> import flowstone as tf, tempfile
    >>> tf.train.get_checkpoint_state(tempfile.mkdtemp()) is None
    True
    """
    checkpoint_dir = os.fspath(checkpoint_dir)
    path = _state_path(checkpoint_dir, latest_filename)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            state = text_format.Parse(f.read(), checkpoint_state_pb2.CheckpointState())
    except text_format.ParseError as e:
        _log.warning("%s: the checkpoint state file cannot be parsed: %s", path, e)
        return None
    if not state.model_checkpoint_path:
        raise ValueError(f"Invalid checkpoint state loaded from {checkpoint_dir}")

    def absolute(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)

    state.model_checkpoint_path = absolute(state.model_checkpoint_path)
    for i, p in enumerate(state.all_model_checkpoint_paths):
        state.all_model_checkpoint_paths[i] = absolute(p)
    return state


@export("train.latest_checkpoint")
def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The prefix of the newest checkpoint recorded in `checkpoint_dir`, or None.

    A prefix whose files are missing is not reported (None), so a reader never gets a
    checkpoint it cannot open.

    >>> import flowstone as tf, tempfile
    >>> tf.train.latest_checkpoint(tempfile.mkdtemp()) is None
    True
    """
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None:
        return None
    if bundle.exists(state.model_checkpoint_path):
        return state.model_checkpoint_path
    _log.error("Couldn't match files for checkpoint %s", state.model_checkpoint_path)
    return None


def _delete_checkpoint(prefix: str) -> None:
    for path in glob.glob(glob.escape(prefix) + ".index") + glob.glob(glob.escape(prefix) + ".data-?????-of-?????"):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


@export("train.CheckpointManager")
class CheckpointManager:
    """Numbers, records and prunes checkpoints in one directory.

    >>> import flowstone as tf, tempfile
    >>> ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    >>> manager = tf.train.CheckpointManager(ckpt, tempfile.mkdtemp(), max_to_keep=2)
    >>> paths = [manager.save() for _ in range(3)]
    >>> [p.rsplit("/", 1)[-1] for p in manager.checkpoints]
    ['ckpt-2', 'ckpt-3']
    """

    def __init__(self, checkpoint, directory, max_to_keep, keep_checkpoint_every_n_hours=None,
                 checkpoint_name="ckpt", step_counter=None, checkpoint_interval=None, init_fn=None):
        if max_to_keep is not None and max_to_keep <= 0:
            raise ValueError(f"Expected a positive integer or `None` for `max_to_keep`, got {max_to_keep}.")
        if checkpoint_interval is not None and step_counter is None:
            raise ValueError("`step_counter` should be passed if `checkpoint_interval` is not None.")
        self._checkpoint = checkpoint
        self._max_to_keep = max_to_keep
        self._keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self._directory = os.fspath(directory)
        self._checkpoint_prefix = os.path.join(self._directory, checkpoint_name)
        self._step_counter = step_counter
        self._checkpoint_interval = checkpoint_interval
        self._init_fn = init_fn
        self._last_checkpoint_step = None
        self._maybe_delete: collections.OrderedDict[str, float] = collections.OrderedDict()
        now = time.time()
        state = get_checkpoint_state(self._directory)
        if state is None:
            self._latest_checkpoint = None
            # A little in the past, so that a manager recreated at once still keeps its first save.
            self._last_preserved_timestamp = now - 1.0
            return
        self._latest_checkpoint = state.model_checkpoint_path
        self._last_preserved_timestamp = min(state.last_preserved_timestamp, now)
        paths = list(state.all_model_checkpoint_paths)
        stamps = list(state.all_model_checkpoint_timestamps) or [self._last_preserved_timestamp] * len(paths)
        for path, stamp in zip(paths, stamps, strict=False):
            stamp = min(stamp, now)
            if stamp > self._last_preserved_timestamp:
                self._maybe_delete[path] = stamp

    @property
    def directory(self) -> str:
        return self._directory

    @property
    def checkpoint(self):
        return self._checkpoint

    @property
    def checkpoint_interval(self):
        return self._checkpoint_interval

    @property
    def latest_checkpoint(self):
        """The prefix of the newest checkpoint, or None."""
        return self._latest_checkpoint

    @property
    def checkpoints(self) -> list[str]:
        """The prefixes this manager still keeps (and may delete), oldest first."""
        return list(self._maybe_delete)

    def _record_state(self) -> None:
        update_checkpoint_state_internal(
            save_dir=self._directory,
            model_checkpoint_path=self._latest_checkpoint,
            all_model_checkpoint_paths=list(self._maybe_delete),
            all_model_checkpoint_timestamps=list(self._maybe_delete.values()),
            last_preserved_timestamp=self._last_preserved_timestamp,
            save_relative_paths=True,
        )

    def _sweep(self) -> None:
        if self._max_to_keep is None:
            return
        while len(self._maybe_delete) > self._max_to_keep:
            path, stamp = self._maybe_delete.popitem(last=False)
            hours = self._keep_checkpoint_every_n_hours
            if hours and stamp - hours * 3600.0 >= self._last_preserved_timestamp:
                self._last_preserved_timestamp = stamp
                continue
            _delete_checkpoint(path)

    def _step(self):
        value = self._step_counter
        value = value.numpy() if hasattr(value, "numpy") else value
        return int(value)

    def save(self, checkpoint_number=None, check_interval=True, options=None):
        """Writes a checkpoint numbered `checkpoint_number` (default: the save counter); returns its prefix.

        Returns None without saving when `checkpoint_interval` steps have not passed.
        """
        if self._checkpoint_interval is not None:
            step = self._step()
            if check_interval and self._last_checkpoint_step is not None:
                if step < self._last_checkpoint_step + self._checkpoint_interval:
                    return None
            self._last_checkpoint_step = step
        counter = self._checkpoint.save_counter
        counter.assign_add(1, read_value=False)
        if checkpoint_number is None:
            checkpoint_number = int(counter.numpy())
        elif hasattr(checkpoint_number, "numpy"):
            checkpoint_number = int(checkpoint_number.numpy())
        prefix = f"{self._checkpoint_prefix}-{int(checkpoint_number)}"
        path = self._checkpoint.write(prefix, options=options)
        self._maybe_delete.pop(path, None)
        self._maybe_delete[path] = time.time()
        self._latest_checkpoint = path
        # Record the new checkpoint before deleting old ones, so that an interruption while
        # deleting leaves a state file that still names a complete checkpoint.
        self._record_state()
        self._sweep()
        self._record_state()
        return path

    def restore_or_initialize(self):
        """Restores the latest checkpoint and returns its path, or runs `init_fn` and returns None."""
        if self._latest_checkpoint is not None:
            self._checkpoint.restore(self._latest_checkpoint)
            if self._checkpoint_interval is not None:
                self._last_checkpoint_step = self._step()
            return self._latest_checkpoint
        if self._init_fn is not None:
            self._init_fn()
        return None

    def sync(self):
        """Saves are synchronous; nothing to wait for."""
