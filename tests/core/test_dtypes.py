import ml_dtypes
import numpy as np
import pytest

import flowstone as tf

ALL = [tf.float16, tf.float32, tf.float64, tf.bfloat16, tf.int8, tf.int16, tf.int32, tf.int64,
       tf.uint8, tf.uint16, tf.uint32, tf.uint64, tf.bool, tf.string, tf.complex64, tf.complex128]
ENUMS = {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int16": 5, "int8": 6, "string": 7,
         "complex64": 8, "int64": 9, "bool": 10, "bfloat16": 14, "uint16": 17, "complex128": 18,
         "float16": 19, "uint32": 22, "uint64": 23}


@pytest.mark.parametrize("dt", ALL, ids=lambda d: d.name)
def test_round_trips(dt):
    assert tf.as_dtype(dt.name) is dt
    assert tf.as_dtype(dt.as_datatype_enum) is dt
    assert dt.as_datatype_enum == ENUMS[dt.name]
    assert getattr(tf.dtypes, dt.name) is dt
    if dt is not tf.string:
        assert tf.as_dtype(dt.as_numpy_dtype) is dt
        assert tf.as_dtype(np.dtype(dt.as_numpy_dtype)) is dt


def test_properties():
    assert tf.float32.is_floating and not tf.float32.is_integer and tf.float32.size == 4
    assert tf.bfloat16.is_floating and tf.bfloat16.as_numpy_dtype is ml_dtypes.bfloat16
    assert tf.uint8.is_unsigned and tf.uint8.is_integer and tf.uint8.max == 255 and tf.int8.min == -128
    assert tf.complex64.is_complex and tf.complex64.real_dtype is tf.float32
    assert tf.bool.is_bool and not tf.bool.is_numeric
    assert tf.float16.max == np.finfo(np.float16).max
    assert tf.half is tf.float16 and tf.double is tf.float64
    assert repr(tf.float32) == "tf.float32" and str(tf.int64) == "<dtype: 'int64'>"


def test_python_types_and_equality():
    assert tf.as_dtype(float) is tf.float32 and tf.as_dtype(int) is tf.int32 and tf.as_dtype(bool) is tf.bool
    assert tf.float32 == "float32" and tf.float32 == np.float32 and tf.float32 != tf.float64
    assert tf.float32 != None  # noqa: E711
    assert len({tf.float32, tf.as_dtype("float32")}) == 1


def test_unknown_dtype_raises_type_error():
    with pytest.raises(TypeError, match="Cannot convert"):
        tf.as_dtype("float17")
    with pytest.raises(TypeError):
        tf.as_dtype(object())
    with pytest.raises(TypeError):
        tf.string.max  # noqa: B018
