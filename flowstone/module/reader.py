"""`tf.train.load_checkpoint` and `tf.train.list_variables`: reading checkpoint values by key."""

from __future__ import annotations

import os

from flowstone._export import export
from flowstone.core import errors
from flowstone.module import bundle
from flowstone.module.checkpoint_management import latest_checkpoint


def _resolve(ckpt_dir_or_file) -> str:
    path = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(path):
        found = latest_checkpoint(path)
        if found is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given directory {path}")
        return found
    return path


class CheckpointReader:
    """Reads the tensors of a checkpoint by key (returned by `tf.train.load_checkpoint`)."""

    def __init__(self, prefix: str):
        self._bundle = bundle.BundleReader(prefix)

    def has_tensor(self, key: str) -> bool:
        return key in self._bundle.entries

    def get_tensor(self, key: str):
        """The value under `key` as a NumPy array (a NumPy scalar for 0-d values)."""
        if key not in self._bundle.entries:
            raise errors.NotFoundError(None, None, f"Key {key} not found in checkpoint")
        try:
            value = self._bundle.read(key)
        finally:
            self._bundle.close()
        value = value.copy() if value.dtype != object else value
        return value[()] if value.ndim == 0 else value

    def get_variable_to_shape_map(self) -> dict:
        return {k: self._bundle.shape(k) for k in self._bundle.entries}

    def get_variable_to_dtype_map(self) -> dict:
        return {k: self._bundle.dtype(k) for k in self._bundle.entries}

    def debug_string(self) -> bytes:
        lines = [f"{k} ({self._bundle.dtype(k).name}) {self._bundle.shape(k)}" for k in sorted(self._bundle.entries)]
        return ("\n".join(lines) + "\n").encode("utf-8")


@export("train.load_checkpoint")
def load_checkpoint(ckpt_dir_or_file) -> CheckpointReader:
    """A reader for the checkpoint at a prefix, or the latest one in a directory.

    >>> import flowstone as tf, tempfile, os
    >>> path = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0])).write(os.path.join(tempfile.mkdtemp(), "c"))
    >>> tf.train.load_checkpoint(path).get_tensor("v/.ATTRIBUTES/VARIABLE_VALUE")
    array([1., 2.], dtype=float32)
    """
    return CheckpointReader(_resolve(ckpt_dir_or_file))


@export("train.list_variables")
def list_variables(ckpt_dir_or_file) -> list:
    """Sorted (key, shape) pairs of everything in a checkpoint.

    >>> import flowstone as tf, tempfile, os
    >>> path = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0])).write(os.path.join(tempfile.mkdtemp(), "c"))
    >>> tf.train.list_variables(path)
    [('_CHECKPOINTABLE_OBJECT_GRAPH', []), ('v/.ATTRIBUTES/VARIABLE_VALUE', [2])]
    """
    reader = load_checkpoint(ckpt_dir_or_file)
    shapes = reader.get_variable_to_shape_map()
    return [(key, shapes[key]) for key in sorted(shapes)]


