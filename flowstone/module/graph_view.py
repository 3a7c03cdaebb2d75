"""The object graph of a set of trackables, as checkpoints record it (`TrackableObjectGraph`).

Nodes are numbered breadth first from the root (node 0) following each object's
children in tracking order; an object reachable by several paths is one node, named
by its first (shortest) path. Checkpoint keys are built from that path
(FORMATS.md §2.5): `net/layers/0/w/.ATTRIBUTES/VARIABLE_VALUE`.
"""

from __future__ import annotations

from flowstone.module import trackable
from flowstone.protos import trackable_object_graph_pb2

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def escape(name: str) -> str:
    """Escapes a local name for a checkpoint key: "." -> "..", "/" -> ".S"."""
    return name.replace(".", "..").replace("/", ".S")


def checkpoint_key(path: tuple, attribute: str) -> str:
    prefix = "/".join(escape(n) for n in path)
    return f"{prefix}/.ATTRIBUTES/{attribute}" if prefix else f".ATTRIBUTES/{attribute}"


def display_path(path) -> str:
    """TensorFlow's way of naming an object in messages: `(root).net.layers.0`."""
    return ".".join(("(root)", *path))


class ObjectGraph:
    """A breadth-first numbering of everything reachable from `root`.

    `extra_root_children` are edges from the root that the root object does not list
    itself (`tf.train.Checkpoint(root, **kwargs)` attaches its kwargs and save counter
    this way).
    """

    def __init__(self, root, extra_root_children=None):
        self.objects = [root]
        self.paths: list[tuple] = [()]
        self.edges: list[list[tuple[str, int]]] = []
        ids = {id(root): 0}
        i = 0
        while i < len(self.objects):
            obj = self.objects[i]
            kids = dict(trackable.children(obj))
            if i == 0 and extra_root_children:
                kids.update(extra_root_children)
            refs = []
            for name, child in kids.items():
                if not trackable.is_trackable(child):
                    continue
                node = ids.get(id(child))
                if node is None:
                    node = ids[id(child)] = len(self.objects)
                    self.objects.append(child)
                    self.paths.append((*self.paths[i], name))
                refs.append((name, node))
            self.edges.append(refs)
            i += 1

    def serialize(self):
        """Returns (TrackableObjectGraph proto, [(checkpoint key, value) to save])."""
        proto = trackable_object_graph_pb2.TrackableObjectGraph()
        values = []
        has_values = []
        for obj, path, refs in zip(self.objects, self.paths, self.edges, strict=True):
            node = proto.nodes.add()
            for name, child in refs:
                node.children.add(node_id=child, local_name=name)
            for attribute, value in trackable.serialize(obj).items():
                key = checkpoint_key(path, attribute)
                full_name = getattr(obj, "name", "") if attribute == trackable.VARIABLE_VALUE else ""
                if full_name.endswith(":0"):
                    full_name = full_name[:-2]
                node.attributes.add(name=attribute, full_name=full_name, checkpoint_key=key)
                values.append((key, value))
            has_values.append(bool(node.attributes))
        # An object "has values" when it or anything below it does (cycles: iterate to a fixpoint).
        changed = True
        while changed:
            changed = False
            for i in range(len(self.objects) - 1, -1, -1):
                if not has_values[i] and any(has_values[c] for _, c in self.edges[i]):
                    has_values[i] = changed = True
        for node, flag in zip(proto.nodes, has_values, strict=True):
            node.has_checkpoint_values.value = flag
        return proto, values
