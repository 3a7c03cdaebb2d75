"""TensorFlow's dtypes: `tf.DType`, the named dtypes and `tf.as_dtype`."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from flowstone._export import export, export_constant


@export("dtypes.DType", "DType")
class DType:
    """A TensorFlow element type, identified by its `DataType` enum value.

    >>> import flowstone as tf
    >>> tf.float32.name, tf.float32.size, tf.float32.is_floating
    ('float32', 4, True)
    """

    __slots__ = ("_enum", "_name", "_np")

    def __init__(self, enum: int, name: str, np_dtype):
        self._enum = enum
        self._name = name
        self._np = np_dtype

    @property
    def name(self) -> str:
        return self._name

    @property
    def as_datatype_enum(self) -> int:
        return self._enum

    @property
    def as_numpy_dtype(self):
        return self._np.type if self._np is not None else None

    @property
    def base_dtype(self) -> DType:
        return self

    @property
    def real_dtype(self) -> DType:
        return {complex64: float32, complex128: float64}.get(self, self)

    @property
    def is_bool(self) -> bool:
        return self is bool_

    @property
    def is_floating(self) -> bool:
        return self in _FLOATING

    @property
    def is_integer(self) -> bool:
        return self in _INTEGER

    @property
    def is_unsigned(self) -> bool:
        return self in (uint8, uint16, uint32, uint64)

    @property
    def is_complex(self) -> bool:
        return self in (complex64, complex128)

    @property
    def is_numeric(self) -> bool:
        return self.is_floating or self.is_integer or self.is_complex

    @property
    def is_quantized(self) -> bool:
        return False

    @property
    def size(self) -> int:
        return 1 if self is string else self._np.itemsize

    @property
    def min(self):
        if self.is_floating:
            return self._np.type(ml_dtypes.finfo(self._np).min)
        if self.is_integer:
            return self._np.type(np.iinfo(self._np).min)
        if self is bool_:
            return False
        raise TypeError(f"Cannot find minimum value of {self}.")

    @property
    def max(self):
        if self.is_floating:
            return self._np.type(ml_dtypes.finfo(self._np).max)
        if self.is_integer:
            return self._np.type(np.iinfo(self._np).max)
        if self is bool_:
            return True
        raise TypeError(f"Cannot find maximum value of {self}.")

    @property
    def limits(self):
        return (self.min, self.max)

    def is_compatible_with(self, other) -> bool:
        return self is as_dtype(other)

    def __eq__(self, other):
        if other is None:
            return False
        if isinstance(other, DType):
            return self is other
        try:
            return self is as_dtype(other)
        except TypeError:
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return self._enum

    def __reduce__(self):
        return as_dtype, (self._name,)

    def __repr__(self):
        return f"tf.{self._name}"

    def __str__(self):
        return f"<dtype: '{self._name}'>"


def _d(enum, name, np_dtype):
    return DType(enum, name, np.dtype(np_dtype) if np_dtype is not None else None)


float16 = half = _d(19, "float16", np.float16)
float32 = _d(1, "float32", np.float32)
float64 = double = _d(2, "float64", np.float64)
bfloat16 = _d(14, "bfloat16", ml_dtypes.bfloat16)
int8 = _d(6, "int8", np.int8)
int16 = _d(5, "int16", np.int16)
int32 = _d(3, "int32", np.int32)
int64 = _d(9, "int64", np.int64)
uint8 = _d(4, "uint8", np.uint8)
uint16 = _d(17, "uint16", np.uint16)
uint32 = _d(22, "uint32", np.uint32)
uint64 = _d(23, "uint64", np.uint64)
bool_ = _d(10, "bool", np.bool_)
string = _d(7, "string", np.object_)
complex64 = _d(8, "complex64", np.complex64)
complex128 = _d(18, "complex128", np.complex128)
resource = _d(20, "resource", None)
variant = _d(21, "variant", None)

_FLOATING = (float16, float32, float64, bfloat16)
_INTEGER = (int8, int16, int32, int64, uint8, uint16, uint32, uint64)
ALL = (*_FLOATING, *_INTEGER, bool_, string, complex64, complex128, resource, variant)

_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(half=float16, double=float64, bool=bool_)
_BY_ENUM = {d.as_datatype_enum: d for d in ALL}
_BY_NP = {d._np: d for d in ALL if d._np is not None}
_BY_PY = {float: float32, int: int32, bool: bool_, complex: complex128, str: string, bytes: string}

for _dt in ALL:
    _attr = "bool_" if _dt is bool_ else _dt.name
    export_constant(__name__, _attr, f"dtypes.{_dt.name}", _dt.name)
export_constant(__name__, "float16", "dtypes.half", "half")
export_constant(__name__, "float64", "dtypes.double", "double")


@export("dtypes.as_dtype", "as_dtype")
def as_dtype(type_value) -> DType:
    """Converts a name, NumPy dtype, Python type or DataType enum to a `tf.DType`.

    >>> import flowstone as tf
    >>> tf.as_dtype("float32") is tf.float32
    True
    """
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, str):
        found = _BY_NAME.get(type_value)
    elif isinstance(type_value, int) and not isinstance(type_value, bool):
        found = _BY_ENUM.get(type_value)
    elif isinstance(type_value, type) and type_value in _BY_PY:
        found = _BY_PY[type_value]
    else:
        try:
            value = type_value if isinstance(type_value, type) else getattr(type_value, "dtype", type_value)
            found = from_numpy(value)
        except TypeError:
            found = None
    if found is None:
        raise TypeError(f"Cannot convert the argument `type_value`: {type_value!r} to a TensorFlow DType.")
    return found


def from_numpy(np_dtype) -> DType:
    """The flowstone dtype of a NumPy (or jax) array's dtype; str/bytes/object map to string."""
    found = _BY_NP.get(np_dtype)
    if found is not None:
        return found
    np_dtype = np.dtype(np_dtype)
    found = _BY_NP.get(np_dtype)
    if found is None:
        if np_dtype.kind in "SUO":
            return string
        raise TypeError(f"Unsupported NumPy dtype {np_dtype} for a tensor.")
    return found
