"""`tf.train.Checkpoint`: saves and restores an object graph in TensorFlow's checkpoint format."""

from __future__ import annotations

import os

import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import init_scope
from flowstone.core.variables import Variable
from flowstone.module import bundle, trackable
from flowstone.module.data_structures import wrap_or_unwrap
from flowstone.module.graph_view import OBJECT_GRAPH_KEY, ObjectGraph
from flowstone.module.restore import CheckpointLoadStatus, InitializationOnlyStatus, Restoration


@export("train.CheckpointOptions")
class CheckpointOptions:
    """Options for `Checkpoint.save`, `write`, `read` and `restore`.

    Saving is synchronous whatever `enable_async` says: a save returns once both files
    are in place, which is what an async save guarantees by its next `sync()`.

    >>> import flowstone as tf
    >>> tf.train.CheckpointOptions(experimental_io_device="/job:localhost").experimental_io_device
    '/job:localhost'
    """

    __slots__ = (
        "experimental_io_device",
        "experimental_enable_async_checkpoint",
        "experimental_write_callbacks",
        "enable_async",
        "experimental_sharding_callback",
        "experimental_skip_slot_variables",
    )

    def __init__(self, experimental_io_device=None, experimental_enable_async_checkpoint=False,
                 experimental_write_callbacks=None, enable_async=False,
                 experimental_sharding_callback=None, experimental_skip_slot_variables=False):
        self.experimental_io_device = experimental_io_device
        self.experimental_enable_async_checkpoint = experimental_enable_async_checkpoint
        self.experimental_write_callbacks = experimental_write_callbacks
        self.enable_async = enable_async or experimental_enable_async_checkpoint
        self.experimental_sharding_callback = experimental_sharding_callback
        self.experimental_skip_slot_variables = experimental_skip_slot_variables


def _host_value(value):
    """A saved value as (NumPy array, DType) without copying device buffers more than once."""
    if isinstance(value, Variable):
        return np.asarray(value), value.dtype
    dtype = getattr(value, "dtype", None)
    array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
    if dtype is None:
        dtype = dtypes.from_numpy(np.asarray(array).dtype)
    return np.asarray(array), dtypes.as_dtype(dtype)


def write_object_graph(prefix: str, root, extra_root_children=None, options=None) -> str:
    """Writes everything reachable from `root` as a checkpoint at `prefix`; returns `prefix`."""
    proto, values = ObjectGraph(root, extra_root_children).serialize()
    tensors = [(key, *_host_value(value)) for key, value in values]
    tensors.append((OBJECT_GRAPH_KEY, np.array(proto.SerializeToString(), dtype=object), dtypes.string))
    bundle.write_bundle(prefix, tensors)
    if options is not None and options.experimental_write_callbacks:
        for callback in options.experimental_write_callbacks:
            callback(prefix) if callback.__code__.co_argcount else callback()
    return prefix


def _saved_model_prefix(path: str) -> str:
    """Lets `restore` take a SavedModel directory as TensorFlow does."""
    candidate = os.path.join(path, "variables", "variables")
    if os.path.isdir(path) and bundle.exists(candidate):
        return candidate
    return path


def _check_trackable(name: str, value) -> None:
    if not trackable.is_trackable(value):
        raise ValueError(
            f"`Checkpoint` was expecting {name} to be a trackable object (an object derived from "
            f"`Trackable`), got {value}. If you believe this object should be trackable (i.e. it is "
            "part of the TensorFlow Python API and manages state), please open an issue."
        )


@export("train.Checkpoint")
class Checkpoint(trackable.AutoTrackable):
    """Groups trackable objects to save and restore them together.

    `save` numbers checkpoints (`prefix-1`, `prefix-2`, ...) and records the newest
    in the directory's `checkpoint` file; `write` writes exactly the prefix given.
    `restore`/`read` match the saved object graph to the Python objects by name.

    >>> import flowstone as tf, tempfile, os
    >>> v = tf.Variable(3.0)
    >>> ckpt = tf.train.Checkpoint(v=v)
    >>> path = ckpt.save(os.path.join(tempfile.mkdtemp(), "ckpt"))
    >>> os.path.basename(path)
    'ckpt-1'
    >>> _ = v.assign(0.0)
    >>> ckpt.restore(path).assert_consumed().__class__.__name__
    'CheckpointLoadStatus'
    >>> float(v.numpy())
    3.0
    """

    def __init__(self, root=None, **kwargs):
        object.__setattr__(self, "_self_root", root)
        object.__setattr__(self, "_self_attached", {} if root is not None else None)
        object.__setattr__(self, "_self_save_counter", None)
        if root is not None:
            _check_trackable("root", root)
        for name, value in sorted(kwargs.items()):
            value = wrap_or_unwrap(value)
            _check_trackable(name, value)
            if root is not None:
                # Attached to the root in the saved graph; the root object is left as it is.
                self._self_attached[name] = value
                object.__setattr__(self, name, value)
            else:
                setattr(self, name, value)

    def _graph_root(self):
        root = self._self_root
        return (self, None) if root is None else (root, self._self_attached)

    def _maybe_create_save_counter(self) -> Variable:
        if self._self_save_counter is None:
            with init_scope():
                counter = Variable(0, dtype=dtypes.int64, trainable=False, name="save_counter")
            object.__setattr__(self, "_self_save_counter", counter)
            if self._self_root is None:
                self._track_trackable(counter, "save_counter")
            else:
                self._self_attached["save_counter"] = counter
                pending = getattr(self._self_root, "_self_pending_restores", None)
                if pending and "save_counter" in pending:
                    for position in pending.pop("save_counter"):
                        position.bind(counter)
        return self._self_save_counter

    @property
    def save_counter(self) -> Variable:
        """The number of times `save` was called (an int64 variable saved with the checkpoint)."""
        return self._maybe_create_save_counter()

    def write(self, file_prefix, options=None) -> str:
        """Writes a checkpoint at exactly `file_prefix` (no numbering, no `checkpoint` file)."""
        root, attached = self._graph_root()
        return write_object_graph(os.fspath(file_prefix), root, attached, options)

    def save(self, file_prefix, options=None) -> str:
        """Writes `file_prefix-N` (N = the incremented save counter) and makes it the latest."""
        from flowstone.module import checkpoint_management

        counter = self._maybe_create_save_counter()
        counter.assign_add(1, read_value=False)
        path = f"{os.fspath(file_prefix)}-{int(counter.numpy())}"
        self.write(path, options)
        checkpoint_management.update_checkpoint_state_internal(
            save_dir=os.path.dirname(path) or ".",
            model_checkpoint_path=path,
            all_model_checkpoint_paths=[path],
            save_relative_paths=True,
        )
        return path

    def read(self, save_path, options=None) -> CheckpointLoadStatus:
        """Restores from `save_path` (without creating the save counter); returns a status."""
        save_path = _saved_model_prefix(os.fspath(save_path))
        try:
            reader = bundle.BundleReader(save_path)
        except Exception as e:
            if type(e).__name__ == "NotFoundError":
                raise type(e)(
                    None,
                    None,
                    f"Error when restoring from checkpoint or SavedModel at {save_path}: {e.message}\n"
                    "Please double-check that the path is correct. You may be missing the checkpoint "
                    "suffix (e.g. the '-1' in 'path/to/ckpt-1').",
                ) from None
            raise
        root, attached = self._graph_root()
        return CheckpointLoadStatus(Restoration(save_path, reader, root, attached))

    def restore(self, save_path, options=None):
        """Restores from `save_path`; values for objects created later are restored on creation.

        `save_path=None` restores nothing and returns a status whose assertions fail.
        """
        if save_path is None:
            return InitializationOnlyStatus()
        status = self.read(save_path, options)
        self._maybe_create_save_counter()
        return status

    def sync(self):
        """Waits for pending async saves (saves here are synchronous)."""
