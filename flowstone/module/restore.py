"""Restoring an object graph from a checkpoint, and the status object that reports on it.

The checkpoint's object graph is matched to the Python objects breadth first from
the root, by the children's local names. A checkpoint node whose Python object does
not exist yet is queued on its nearest existing parent and restored the moment the
object is tracked there (deferred restoration). Everything that happened is kept in
one place, the `Restoration`, which the status object reads: values matched, values
deferred (waiting for their object), values unexpected (their object exists but
cannot take them), and Python variables missing from the checkpoint.
"""

from __future__ import annotations

import logging

from flowstone.core import dtypes, errors
from flowstone.module import trackable
from flowstone.module.bundle import BundleReader
from flowstone.module.graph_view import OBJECT_GRAPH_KEY, ObjectGraph, display_path
from flowstone.protos import trackable_object_graph_pb2

_log = logging.getLogger("flowstone")


def read_object_graph(reader: BundleReader):
    if OBJECT_GRAPH_KEY not in reader.entries:
        raise errors.NotFoundError(
            None,
            None,
            f"The checkpoint at {reader.prefix} has no object graph ({OBJECT_GRAPH_KEY}): it is a "
            "name-based (TF1) checkpoint; read its values with tf.train.load_checkpoint.",
        )
    raw = reader.read(OBJECT_GRAPH_KEY).reshape(())[()]
    return trackable_object_graph_pb2.TrackableObjectGraph.FromString(raw)


class _Position:
    """A checkpoint node waiting on a Python parent for its object to be created."""

    __slots__ = ("restoration", "node_id")

    def __init__(self, restoration, node_id):
        self.restoration = restoration
        self.node_id = node_id

    def bind(self, obj) -> None:
        self.restoration.bind(self.node_id, obj)


class Restoration:
    """One restore: the checkpoint's object graph, and which nodes got which Python objects."""

    def __init__(self, save_path: str, reader: BundleReader, root, extra_root_children=None):
        self.save_path = save_path
        self.reader = reader
        self.proto = read_object_graph(reader)
        self.root = root
        self.extra_root_children = extra_root_children
        self.matched: dict[int, object] = {}
        self.restored_keys: set[str] = set()
        self.unexpected: list[str] = []
        self.paths = self._node_paths()
        self.bind(0, root, extra_root_children)

    def _node_paths(self) -> dict[int, tuple]:
        paths, queue = {0: ()}, [0]
        for node_id in queue:
            for ref in self.proto.nodes[node_id].children:
                if ref.node_id not in paths:
                    paths[ref.node_id] = (*paths[node_id], ref.local_name)
                    queue.append(ref.node_id)
        return paths

    def _has_values(self, node) -> bool:
        return bool(node.attributes) or not node.HasField("has_checkpoint_values") or (
            node.has_checkpoint_values.value
        )

    def bind(self, node_id: int, obj, extra_children=None) -> None:
        """Matches `obj` to checkpoint node `node_id` and everything below it, then restores values."""
        queue = [(node_id, obj, extra_children)]
        work = []  # (node_id, obj, {attribute name: checkpoint key})
        while queue:
            node_id, obj, extra = queue.pop(0)
            if node_id in self.matched:
                continue
            self.matched[node_id] = obj
            node = self.proto.nodes[node_id]
            if node.attributes:
                work.append((node_id, obj, self._wanted_values(node_id, node, obj)))
            kids = dict(trackable.children(obj))
            if extra:
                kids.update(extra)
            for ref in node.children:
                child = kids.get(ref.local_name)
                if child is not None and trackable.is_trackable(child):
                    queue.append((ref.node_id, child, None))
                elif ref.node_id not in self.matched and self._has_values(self.proto.nodes[ref.node_id]):
                    trackable.add_pending(obj, ref.local_name, _Position(self, ref.node_id))
        keys = [key for _, _, wanted in work for key in wanted.values()]
        try:
            values = dict(zip(keys, self.reader.read_many(keys), strict=True))
        finally:
            self.reader.close()
        for _, obj, wanted in work:
            if wanted:
                trackable.restore(obj, {name: values[key] for name, key in wanted.items()})
                self.restored_keys.update(wanted.values())

    def _wanted_values(self, node_id, node, obj) -> dict:
        """The attributes of `node` that `obj` takes, checked against its dtypes."""
        expected = trackable.serialize(obj)
        wanted = {}
        for attribute in node.attributes:
            current = expected.get(attribute.name)
            if current is None:
                self.unexpected.append(
                    f"{display_path(self.paths.get(node_id, ()))} (attribute {attribute.name}: the object "
                    f"is a {type(obj).__name__} and saves no such value)"
                )
                continue
            key = attribute.checkpoint_key
            if key not in self.reader.entries:
                raise errors.NotFoundError(
                    None, None, f"Key {key} not found in checkpoint {self.save_path} (named by its object graph)"
                )
            saved = self.reader.dtype(key)
            want = getattr(current, "dtype", None)
            if want is not None and dtypes.as_dtype(want) != saved:
                raise errors.InvalidArgumentError(
                    None,
                    None,
                    f"tensor_name = {key}; expected dtype {dtypes.as_dtype(want).name} does not equal "
                    f"original dtype {saved.name} (restoring {display_path(self.paths.get(node_id, ()))} "
                    f"from {self.save_path})",
                )
            wanted[attribute.name] = key
        return wanted

    # --- what happened ------------------------------------------------------------------------
    def keys(self, restored: bool) -> list[str]:
        return [
            a.checkpoint_key
            for node in self.proto.nodes
            for a in node.attributes
            if (a.checkpoint_key in self.restored_keys) == restored
        ]

    def deferred(self) -> list[str]:
        """Keys of checkpoint nodes that no Python object has been matched to (yet)."""
        return [
            a.checkpoint_key
            for node_id, node in enumerate(self.proto.nodes)
            if node_id not in self.matched
            for a in node.attributes
        ]

    def python_objects(self) -> list:
        """Trackables reachable now from the root that hold values."""
        graph = ObjectGraph(self.root, self.extra_root_children)
        return [(obj, path) for obj, path in zip(graph.objects, graph.paths, strict=True) if trackable.serialize(obj)]

    def missing(self) -> list:
        bound = {id(o) for o in self.matched.values()}
        return [(obj, path) for obj, path in self.python_objects() if id(obj) not in bound]


class CheckpointLoadStatus:
    """What a `tf.train.Checkpoint.read`/`restore` did, and assertions about it.

    Besides TensorFlow's assertions, `matched`, `deferred`, `unexpected` and `missing`
    list the values by checkpoint key (`missing`: Python variables by path), and
    `str(status)` summarises them, instead of one warning per variable.
    """

    def __init__(self, restoration: Restoration):
        self._restoration = restoration
        self._expect_partial = False

    @property
    def matched(self) -> list[str]:
        """Checkpoint keys whose values were restored."""
        return self._restoration.keys(True)

    @property
    def deferred(self) -> list[str]:
        """Checkpoint keys waiting for their object to be created (restored when it is tracked)."""
        return self._restoration.deferred()

    @property
    def unexpected(self) -> list[str]:
        """Checkpoint values whose object exists but does not save such a value."""
        return list(self._restoration.unexpected)

    @property
    def missing(self) -> list[str]:
        """Python objects with values that the checkpoint does not have, by path."""
        return ["/".join(path) for _, path in self._restoration.missing()]

    def assert_consumed(self):
        """Asserts that every checkpoint value was restored and every Python variable matched."""
        self.assert_existing_objects_matched()
        r = self._restoration
        for node_id, node in enumerate(r.proto.nodes):
            if node.attributes and node_id not in r.matched:
                raise AssertionError(
                    f"Unresolved object in checkpoint {display_path(r.paths.get(node_id, ()))}: "
                    f"attributes {[a.checkpoint_key for a in node.attributes]}\n{self}"
                )
        if r.unexpected:
            raise AssertionError(f"Unused attributes in the checkpoint: {r.unexpected}\n{self}")
        return self

    def assert_existing_objects_matched(self):
        """Asserts that every existing Python object with values was matched and restored."""
        r = self._restoration
        missing = r.missing()
        if missing:
            shown = [obj for obj, _ in missing[:10]]
            raise AssertionError(
                f"Found {len(missing)} Python objects that were not bound to checkpointed values, likely "
                f"due to changes in the Python program. Showing {len(shown)} of {len(missing)} unmatched "
                f"objects: {shown}\n{self}"
            )
        return self

    def assert_nontrivial_match(self):
        """Asserts that something besides the root object was matched."""
        r = self._restoration
        if len(r.matched) <= 1:
            unmatched = [obj for obj, _ in r.missing()]
            raise AssertionError(
                "Nothing except the root object matched a checkpointed value. Typically this means that "
                "the checkpoint does not match the Python program. The following objects have no "
                f"matching checkpointed value: {unmatched}"
            )
        return self

    def expect_partial(self):
        """Silences the report of unrestored values when this status is discarded."""
        self._expect_partial = True
        return self

    def run_restore_ops(self, session=None):
        """Values are restored eagerly; nothing is left to run."""

    def initialize_or_restore(self, session=None):
        """Values are restored eagerly; nothing is left to run."""

    def __str__(self):
        parts = [f"restore of {self._restoration.save_path}: {len(self.matched)} matched"]
        for label, items in (("deferred", self.deferred), ("unexpected", self.unexpected), ("missing", self.missing)):
            if items:
                parts.append(f"{len(items)} {label}: {', '.join(items[:20])}{' ...' if len(items) > 20 else ''}")
        return "; ".join(parts)

    def __repr__(self):
        return f"<CheckpointLoadStatus {self}>"

    def __del__(self):
        try:
            if self._expect_partial:
                return
            r = self._restoration
            if r.keys(False):
                _log.warning(
                    "A checkpoint restore left values unrestored (call status.expect_partial() to silence "
                    "this): %s",
                    self,
                )
        except Exception:  # noqa: BLE001 - never raise from a finalizer (interpreter shutdown)
            pass


class InitializationOnlyStatus:
    """The status of `restore(None)`: nothing is restored; variables keep their initial values."""

    _MESSAGE = "No checkpoint specified (save_path=None); nothing is being restored."

    def assert_consumed(self):
        raise AssertionError(self._MESSAGE)

    def assert_existing_objects_matched(self):
        raise AssertionError(self._MESSAGE)

    def assert_nontrivial_match(self):
        raise AssertionError(self._MESSAGE)

    def expect_partial(self):
        return self

    def run_restore_ops(self, session=None):
        """Nothing to restore."""

    def initialize_or_restore(self, session=None):
        """Variables are initialized when created."""

