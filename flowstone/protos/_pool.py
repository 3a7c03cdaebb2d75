"""The private descriptor pool that holds flowstone's copies of TensorFlow's protos.

TensorFlow registers the same full names (`tensorflow.GraphDef`, ...) in protobuf's
default pool; keeping ours in a pool of their own lets both live in one process.
The generated `*_pb2` modules call `load_file` with their serialized
FileDescriptorProto and read their message classes and enums back from it.
"""

from __future__ import annotations

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.internal import enum_type_wrapper

POOL = descriptor_pool.DescriptorPool()

# Well-known types our files import, added from protobuf's own modules.
_WELL_KNOWN = {
    "google/protobuf/any.proto": "any_pb2",
    "google/protobuf/wrappers.proto": "wrappers_pb2",
}


def _ensure_well_known(name: str) -> None:
    try:
        POOL.FindFileByName(name)
    except KeyError:
        module = __import__(f"google.protobuf.{_WELL_KNOWN[name]}", fromlist=["DESCRIPTOR"])
        POOL.AddSerializedFile(module.DESCRIPTOR.serialized_pb)


class LoadedFile:
    """One `.proto` file added to the pool: its descriptor, messages and enums."""

    def __init__(self, serialized: bytes, dependencies: tuple[str, ...] = ()):
        for dep in dependencies:
            if dep in _WELL_KNOWN:
                _ensure_well_known(dep)
        self.descriptor = POOL.AddSerializedFile(serialized)

    def message(self, name: str):
        return message_factory.GetMessageClass(self.descriptor.message_types_by_name[name])

    def enum(self, name: str):
        return enum_type_wrapper.EnumTypeWrapper(self.descriptor.enum_types_by_name[name])


def message_class(full_name: str):
    """The class of the message `full_name` (e.g. "tensorflow.GraphDef") in our pool."""
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(full_name))
