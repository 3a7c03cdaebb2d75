"""`tf.config`: the devices jax sees, as TensorFlow names them."""

from __future__ import annotations

import collections

from flowstone._export import export

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])
LogicalDevice = collections.namedtuple("LogicalDevice", ["name", "device_type"])
export("config.PhysicalDevice")(PhysicalDevice)
export("config.LogicalDevice")(LogicalDevice)
PhysicalDevice.__module__ = LogicalDevice.__module__ = __name__

_visible: dict[str, list] = {}
_memory_growth: dict = {}


def _jax_devices():
    import jax

    found = []
    for backend in ("cpu", "gpu"):
        try:
            devices = jax.devices(backend)
        except RuntimeError:
            continue
        kind = backend.upper()
        found.extend((kind, i, d) for i, d in enumerate(devices))
    return found


def _matches(kind: str, device_type) -> bool:
    return device_type is None or kind == str(device_type).upper()


@export("config.list_physical_devices", "config.experimental.list_physical_devices")
def list_physical_devices(device_type=None):
    """The devices of this machine, optionally of one type ("CPU", "GPU").

    >>> import flowstone as tf
    >>> tf.config.list_physical_devices("CPU")[0].name
    '/physical_device:CPU:0'
    """
    return [
        PhysicalDevice(f"/physical_device:{kind}:{i}", kind)
        for kind, i, _ in _jax_devices()
        if _matches(kind, device_type)
    ]


@export("config.list_logical_devices", "config.experimental.list_logical_devices")
def list_logical_devices(device_type=None):
    """The devices ops can be placed on, optionally of one type.

    >>> import flowstone as tf
    >>> tf.config.list_logical_devices("CPU")[0].name
    '/device:CPU:0'
    """
    visible = get_visible_devices()
    return [
        LogicalDevice(f"/device:{d.device_type}:{d.name.rsplit(':', 1)[1]}", d.device_type)
        for d in visible
        if _matches(d.device_type, device_type)
    ]


@export("config.get_visible_devices", "config.experimental.get_visible_devices")
def get_visible_devices(device_type=None):
    """The physical devices the runtime may use (all of them unless restricted)."""
    devices = list_physical_devices()
    restricted = [d for kind, ds in _visible.items() for d in ds]
    if _visible:
        devices = [d for d in devices if d.device_type not in _visible or d in restricted]
    return [d for d in devices if _matches(d.device_type, device_type)]


@export("config.set_visible_devices", "config.experimental.set_visible_devices")
def set_visible_devices(devices, device_type=None) -> None:
    """Restricts the devices of a type that the runtime may use."""
    if isinstance(devices, PhysicalDevice):
        devices = [devices]
    known = list_physical_devices()
    for d in devices:
        if d not in known:
            raise ValueError(f"Unrecognized device: {d!r}")
    kinds = {str(device_type).upper()} if device_type else {d.device_type for d in devices} or {"GPU"}
    for kind in kinds:
        _visible[kind] = [d for d in devices if d.device_type == kind]


@export("config.experimental.set_memory_growth")
def set_memory_growth(device, enable: bool) -> None:
    """Recorded for compatibility: XLA's allocator manages device memory itself."""
    if device not in list_physical_devices():
        raise ValueError(f"Unrecognized device: {device!r}")
    _memory_growth[device] = bool(enable)


@export("config.experimental.get_memory_growth")
def get_memory_growth(device) -> bool:
    if device not in list_physical_devices():
        raise ValueError(f"Unrecognized device: {device!r}")
    return _memory_growth.get(device, False)
