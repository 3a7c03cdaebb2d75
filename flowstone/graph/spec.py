"""`tf.TensorSpec`: the type of a tensor argument (dtype and a possibly partial shape)."""

from __future__ import annotations

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.shape import TensorShape, as_shape


@export("TensorSpec")
class TensorSpec:
    """Describes a tensor by shape, dtype and an optional name (used by `input_signature`).

    >>> import flowstone as tf
    >>> tf.TensorSpec([None, 2], tf.float32, name="x")
    TensorSpec(shape=(None, 2), dtype=tf.float32, name='x')
    """

    __slots__ = ("_shape", "_dtype", "_name")

    def __init__(self, shape, dtype=dtypes.float32, name=None):
        self._shape = as_shape(shape)
        self._dtype = dtypes.as_dtype(dtype)
        self._name = name

    @classmethod
    def from_tensor(cls, tensor, name=None) -> TensorSpec:
        return cls(tensor.shape, tensor.dtype, name if name is not None else _tensor_name(tensor))

    @classmethod
    def from_spec(cls, spec, name=None) -> TensorSpec:
        return cls(spec.shape, spec.dtype, name if name is not None else spec.name)

    @property
    def shape(self) -> TensorShape:
        return self._shape

    @property
    def dtype(self) -> dtypes.DType:
        return self._dtype

    @property
    def name(self):
        return self._name

    @property
    def value_type(self):
        from flowstone.core.tensor import Tensor

        return Tensor

    def is_compatible_with(self, other) -> bool:
        """True when a tensor or spec `other` could be passed where this spec is expected."""
        dtype = getattr(other, "dtype", None)
        shape = getattr(other, "shape", None)
        if dtype is None or shape is None:
            return False
        return dtypes.as_dtype(dtype) is self._dtype and self._shape.is_compatible_with(shape)

    def is_subtype_of(self, other) -> bool:
        return (
            isinstance(other, TensorSpec)
            and other._dtype is self._dtype
            and self._shape.is_subtype_of(other._shape)
        )

    def most_specific_common_supertype(self, others):
        shape = self._shape
        for o in others:
            if not isinstance(o, TensorSpec) or o._dtype is not self._dtype:
                return None
            shape = shape.most_specific_compatible_shape(o._shape)
        return TensorSpec(shape, self._dtype, self._name)

    def __eq__(self, other):
        return (
            type(other) is type(self)
            and other._dtype is self._dtype
            and other._shape == self._shape
            and other._name == self._name
        )

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self._shape, self._dtype, self._name))

    def __reduce__(self):
        return TensorSpec, (self._shape, self._dtype, self._name)

    def __repr__(self):
        return f"TensorSpec(shape={self._shape}, dtype={self._dtype!r}, name={self._name!r})"


def _tensor_name(tensor):
    try:
        return tensor.name
    except AttributeError:
        return None
