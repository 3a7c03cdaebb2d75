"""`tf.make_tensor_proto` and `tf.make_ndarray`: tensors to and from `TensorProto`."""

from __future__ import annotations

import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import to_numpy_value
from flowstone.protos import tensor_pb2

_D = dtypes
# Dtypes whose values go to tensor_content (raw bytes) when there is more than one element.
_CONTENT = {_D.float16, _D.bfloat16, _D.float32, _D.float64, _D.int8, _D.int16, _D.int32, _D.int64,
            _D.uint8, _D.uint16, _D.uint32, _D.uint64}
_INT_VAL = {_D.int8, _D.int16, _D.int32, _D.uint8, _D.uint16}


def _append_typed(proto, arr: np.ndarray, dtype) -> None:
    flat = arr.reshape(-1)
    if dtype is _D.float32:
        proto.float_val.extend(flat.tolist())
    elif dtype is _D.float64:
        proto.double_val.extend(flat.tolist())
    elif dtype in _INT_VAL:
        proto.int_val.extend(flat.astype(np.int64).tolist())
    elif dtype is _D.int64:
        proto.int64_val.extend(flat.tolist())
    elif dtype is _D.uint32:
        proto.uint32_val.extend(flat.tolist())
    elif dtype is _D.uint64:
        proto.uint64_val.extend(flat.tolist())
    elif dtype in (_D.float16, _D.bfloat16):
        proto.half_val.extend(flat.view(np.uint16).astype(np.int64).tolist())
    elif dtype is _D.bool_:
        proto.bool_val.extend(flat.tolist())
    elif dtype is _D.complex64:
        proto.scomplex_val.extend(np.stack([flat.real, flat.imag], -1).reshape(-1).tolist())
    elif dtype is _D.complex128:
        proto.dcomplex_val.extend(np.stack([flat.real, flat.imag], -1).reshape(-1).tolist())
    elif dtype is _D.string:
        proto.string_val.extend(flat.tolist())
    else:
        raise TypeError(f"Cannot make a TensorProto of dtype {dtype.name}")


@export("make_tensor_proto")
def make_tensor_proto(values, dtype=None, shape=None, verify_shape=False, allow_broadcast=False):
    """A `TensorProto` holding `values` (a Python value, NumPy array or eager tensor).

    >>> import flowstone as tf
    >>> p = tf.make_tensor_proto([1.0, 2.0])
    >>> p.dtype, [d.size for d in p.tensor_shape.dim]
    (1, [2])
    """
    if isinstance(values, tensor_pb2.TensorProto):
        return values
    want = None if dtype is None else dtypes.as_dtype(dtype)
    try:
        arr, dt = to_numpy_value(values, want)
    except TypeError:
        first = np.asarray(values, dtype=object).reshape(-1)
        bad = first[0] if first.size else values
        raise TypeError(
            f"Expected {want.name if want else 'a tensor type'}, but got {bad!r} of type "
            f"'{type(bad).__name__}'."
        ) from None
    except ValueError:
        raise TypeError(
            f"Failed to convert elements of {values} to Tensor. Consider casting elements to a supported "
            "type. See https://www.tensorflow.org/api_docs/python/tf/dtypes for supported TF dtypes."
        ) from None
    arr = np.asarray(arr)
    same_size = True
    if shape is None:
        shape = arr.shape
    else:
        shape = tuple(TensorShape(shape).as_list())
        count = int(np.prod(shape, dtype=np.int64))
        if verify_shape and arr.shape != shape:
            raise TypeError(f"Expected Tensor's shape: {shape}, but got {arr.shape}.")
        if allow_broadcast and arr.shape != shape:
            try:
                arr = np.broadcast_to(arr, shape)
            except ValueError:
                raise TypeError(f"Expected Tensor's shape: {shape}, but got {arr.shape}.") from None
        elif arr.size > count:
            raise ValueError(f"Too many elements provided. Takes at most {count}, but got {arr.size}.")
        same_size = arr.size == count
    proto = tensor_pb2.TensorProto(dtype=dt.as_datatype_enum)
    proto.tensor_shape.SetInParent()
    for d in shape:
        proto.tensor_shape.dim.add(size=int(d))
    if dt in _CONTENT and same_size and arr.size > 1:
        proto.tensor_content = np.ascontiguousarray(arr, dtype=np.dtype(dt.as_numpy_dtype).newbyteorder("<")).tobytes()
    elif arr.size:
        _append_typed(proto, np.ascontiguousarray(arr), dt)
    return proto


def _typed_values(proto, dtype) -> np.ndarray:
    np_dtype = np.dtype(dtype.as_numpy_dtype) if dtype is not _D.string else object
    if dtype in (_D.float16, _D.bfloat16):
        return np.array(proto.half_val, dtype=np.uint16).view(np_dtype)
    if dtype is _D.complex64:
        v = np.array(proto.scomplex_val, dtype=np.float32).reshape(-1, 2)
        return (v[:, 0] + 1j * v[:, 1]).astype(np.complex64)
    if dtype is _D.complex128:
        v = np.array(proto.dcomplex_val, dtype=np.float64).reshape(-1, 2)
        return v[:, 0] + 1j * v[:, 1]
    source = {
        _D.float32: proto.float_val, _D.float64: proto.double_val, _D.int64: proto.int64_val,
        _D.uint32: proto.uint32_val, _D.uint64: proto.uint64_val, _D.bool_: proto.bool_val,
        _D.string: proto.string_val,
    }.get(dtype, proto.int_val)
    out = np.empty(len(source), dtype=np_dtype)
    out[:] = list(source)
    return out


@export("make_ndarray")
def make_ndarray(tensor) -> np.ndarray:
    """The NumPy array held by a `TensorProto` (or an eager tensor's value).

    >>> import flowstone as tf
    >>> tf.make_ndarray(tf.make_tensor_proto(1.0, shape=[3]))
    array([1., 1., 1.], dtype=float32)
    """
    if not isinstance(tensor, tensor_pb2.TensorProto):
        if hasattr(tensor, "numpy"):
            return np.asarray(tensor.numpy())
        raise TypeError(f"make_ndarray expects a TensorProto, got {type(tensor).__name__}")
    dtype = dtypes.as_dtype(tensor.dtype)
    shape = tuple(d.size for d in tensor.tensor_shape.dim)
    count = int(np.prod(shape, dtype=np.int64))
    if tensor.tensor_content:
        np_dtype = np.dtype(dtype.as_numpy_dtype).newbyteorder("<")
        return np.frombuffer(tensor.tensor_content, dtype=np_dtype).astype(dtype.as_numpy_dtype).reshape(shape)
    values = _typed_values(tensor, dtype)
    if dtype is _D.string:
        out = np.empty(count, dtype=object)
        if values.size:
            out[: values.size] = values[:count]
            out[values.size :] = values[-1]
        return out.reshape(shape)
    if values.size == 0:
        return np.zeros(shape, dtype=dtype.as_numpy_dtype)
    if values.size < count:
        values = np.concatenate([values, np.full(count - values.size, values[-1], dtype=values.dtype)])
    return values[:count].reshape(shape)
