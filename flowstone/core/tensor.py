"""Tensors: the shared `Tensor` class with TF's Python operators, and `EagerTensor`.

A graph tensor (a symbolic output of a traced op, `flowstone.graph`) and an eager tensor
share this class hierarchy and its operators. The operators call the public ops, which
`flowstone.ops` binds here once it is imported (`bind_operators`).
"""

from __future__ import annotations

import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import ctx as _ctx
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.shape import TensorShape


class _Unbound:
    """Stands in until `flowstone.ops` is imported; the first operator use imports it."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        import flowstone.ops  # noqa: F401 - binds the operators

        return getattr(_op, name)


# Filled by flowstone.ops: the public functions behind the operators.
_op = _Unbound()


def bind_operators(namespace) -> None:
    """Gives the operator methods their implementations (an object with add, subtract, ...)."""
    global _op
    _op = namespace


@export("Tensor")
class Tensor:
    """A multi-dimensional array of one dtype: eager (with a value) or symbolic (in a graph)."""

    __slots__ = ("__weakref__",)
    # NumPy defers to our reflected operators instead of broadcasting over the tensor.
    __array_priority__ = 100
    OVERLOADABLE_OPERATORS = frozenset()

    # --- Python operators -------------------------------------------------------------
    # Each passes the name TF's operator gives its graph node (`x + y` is "add", `tf.add` "Add").
    def __add__(self, y):
        return _op.add(self, y, name="add")

    def __radd__(self, x):
        return _op.radd(x, self, name="add")

    def __sub__(self, y):
        return _op.subtract(self, y, name="sub")

    def __rsub__(self, x):
        return _op.subtract(x, self, name="sub")

    def __mul__(self, y):
        return _op.multiply(self, y, name="mul")

    def __rmul__(self, x):
        return _op.multiply(x, self, name="mul")

    def __truediv__(self, y):
        return _op.truediv(self, y, name="truediv")

    def __rtruediv__(self, x):
        return _op.truediv(x, self, name="truediv")

    def __floordiv__(self, y):
        return _op.floordiv(self, y, name="floordiv")

    def __rfloordiv__(self, x):
        return _op.floordiv(x, self, name="floordiv")

    def __mod__(self, y):
        return _op.floormod(self, y, name="mod")

    def __rmod__(self, x):
        return _op.floormod(x, self, name="mod")

    def __pow__(self, y):
        return _op.pow(self, y, name="pow")

    def __rpow__(self, x):
        return _op.pow(x, self, name="pow")

    def __matmul__(self, y):
        return _op.matmul(self, y, name="matmul")

    def __rmatmul__(self, x):
        return _op.matmul(x, self, name="matmul")

    def __neg__(self):
        return _op.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _op.abs(self)

    def __invert__(self):
        return _op.invert(self)

    def __and__(self, y):
        return _op.bitwise_and_op(self, y, name="and")

    def __rand__(self, x):
        return _op.bitwise_and_op(x, self, name="and")

    def __or__(self, y):
        return _op.bitwise_or_op(self, y, name="or")

    def __ror__(self, x):
        return _op.bitwise_or_op(x, self, name="or")

    def __xor__(self, y):
        return _op.bitwise_xor_op(self, y, name="xor")

    def __rxor__(self, x):
        return _op.bitwise_xor_op(x, self, name="xor")

    def __lt__(self, y):
        return _op.less(self, y)

    def __le__(self, y):
        return _op.less_equal(self, y)

    def __gt__(self, y):
        return _op.greater(self, y)

    def __ge__(self, y):
        return _op.greater_equal(self, y)

    def __eq__(self, y):
        return _op.tensor_equals(self, y)

    def __ne__(self, y):
        return _op.tensor_not_equals(self, y)

    def __hash__(self):
        # TF2 tensors are unhashable when equality is element-wise; use .ref() as a key.
        raise TypeError("Tensor is unhashable. Instead, use tensor.ref() as the key.")

    def __getitem__(self, key):
        return _op.getitem(self, key)

    # --- shape and dtype ---------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return self.shape.rank

    def get_shape(self) -> TensorShape:
        return self.shape

    def set_shape(self, shape) -> None:
        if not self.shape.is_compatible_with(shape):
            raise ValueError(f"Tensor's shape {self.shape} is not compatible with supplied shape {TensorShape(shape)}.")

    def ref(self):
        return _Reference(self)

    def experimental_ref(self):
        return self.ref()

    def __iter__(self):
        shape = self.shape
        if shape.rank is None:
            raise TypeError("Cannot iterate over a tensor with unknown shape.")
        if shape.rank == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        if shape[0] is None:
            raise TypeError("Cannot iterate over a tensor with unknown first dimension.")
        return iter(_op.unstack(self, num=shape[0]))

    def __len__(self):
        shape = self.shape
        if shape.rank == 0:
            raise TypeError("len is not well defined for a rank-0 tensor")
        if shape.rank is None or shape[0] is None:
            raise TypeError("len is not well defined for a tensor with unknown first dimension")
        return shape[0]


class _Reference:
    """A hashable handle on a tensor or variable, as returned by `ref()`."""

    __slots__ = ("_obj",)

    def __init__(self, obj):
        self._obj = obj

    def deref(self):
        return self._obj

    def __hash__(self):
        return id(self._obj)

    def __eq__(self, other):
        return isinstance(other, _Reference) and other._obj is self._obj

    def __repr__(self):
        return f"<Reference wrapping {self._obj!r}>"


class EagerTensor(Tensor):
    """A tensor with a value: a `jax.Array`, or a NumPy object array of bytes for strings."""

    __slots__ = ("_value", "_dtype", "_shape")

    def __init__(self, value, dtype):
        self._value = value
        self._dtype = dtype
        self._shape = None

    @property
    def dtype(self) -> dtypes.DType:
        return self._dtype

    @property
    def shape(self) -> TensorShape:
        s = self._shape
        if s is None:
            s = self._shape = TensorShape(self._value.shape)
        return s

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def device(self) -> str:
        if self._dtype is dtypes.string:
            return "/job:localhost/replica:0/task:0/device:CPU:0"
        dev = next(iter(self._value.devices()))
        return f"/job:localhost/replica:0/task:0/device:{dev.platform.upper()}:{dev.id}"

    @property
    def backing_device(self) -> str:
        return self.device

    @property
    def name(self):
        raise AttributeError("Tensor.name is undefined when eager execution is enabled.")

    @property
    def op(self):
        raise AttributeError("Tensor.op is undefined when eager execution is enabled.")

    @property
    def graph(self):
        raise AttributeError("Tensor.graph is undefined when eager execution is enabled.")

    def numpy(self):
        """The value as a NumPy array (a NumPy scalar for rank 0), as TF returns it."""
        v = self._value
        if self._dtype is dtypes.string:
            return v[()] if v.ndim == 0 else v.copy()
        a = np.asarray(v)
        if a.ndim == 0:
            return a[()]
        # jax arrays are immutable; give the caller an array they own and can write.
        return a.copy()

    def _numpy_view(self):
        v = self._value
        return v if self._dtype is dtypes.string else np.asarray(v)

    def __array__(self, dtype=None, copy=None):
        a = self._numpy_view()
        return a if dtype is None else a.astype(dtype)

    def __bool__(self):
        if self._value.size != 1:
            raise ValueError(
                "The truth value of an array with more than one element is ambiguous. "
                "Use a.any() or a.all()"
            )
        return bool(self._numpy_view().reshape(()))

    def __index__(self):
        if self._dtype.is_integer and self._value.ndim == 0:
            return int(self._value)
        raise TypeError("Only integer scalar tensors can be converted to an index")

    def __int__(self):
        return int(self._numpy_view())

    def __float__(self):
        return float(self._numpy_view())

    def __complex__(self):
        return complex(self._numpy_view())

    def __format__(self, spec):
        if self._value.ndim == 0:
            return format(self.numpy(), spec)
        return format(str(self), spec)

    def __len__(self):
        if self._value.ndim == 0:
            raise TypeError("Scalar tensor has no `len()`")
        return self._value.shape[0]

    def __reduce__(self):
        return _rebuild, (self._numpy_view(), self._dtype.name)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        text = _numpy_repr(self)
        sep = "\n" if "\n" in text else ""
        return f"<tf.Tensor: shape={self.shape}, dtype={self._dtype.name}, numpy={sep}{text}>"

    def __str__(self):
        text = _numpy_str(self)
        sep = "\n" if "\n" in text else ""
        return f"tf.Tensor({sep}{text}, shape={self.shape}, dtype={self._dtype.name})"


def _rebuild(value, dtype_name):
    return constant(value, dtype=dtype_name)


def _numpy_repr(t: EagerTensor) -> str:
    a = t._numpy_view()
    if a.ndim == 0:
        return repr(a[()]) if t._dtype is dtypes.string else str(a[()])
    return repr(a)


def _numpy_str(t: EagerTensor) -> str:
    a = t._numpy_view()
    if t._dtype is dtypes.string and a.ndim == 0:
        return repr(a[()])
    return str(a) if a.ndim else str(a[()])


class _IndexTensor(EagerTensor):
    """A small int vector made from Python ints (axes, shapes), its static key precomputed."""

    __slots__ = ("_static",)


_INDEX_TENSORS: dict = {}


def index_tensor(values: tuple, dtype) -> EagerTensor:
    """An eager int32/int64 vector of `values` (a tuple of ints), shared between calls.

    Ops take axes and shapes as static inputs whose values key their compiled kernels; the
    shared tensor carries that key, so an eager call neither converts nor hashes them again.
    """
    key = (values, dtype)
    t = _INDEX_TENSORS.get(key)
    if t is None:
        base = convert_to_tensor(list(values), dtype=dtype)
        t = _IndexTensor(base._value, base._dtype)
        t._static = values
        if len(_INDEX_TENSORS) < 4096:
            _INDEX_TENSORS[key] = t
    return t


# --- conversion ----------------------------------------------------------------------------

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_SCALARS: dict = {}
# ids of the cached tensors above: a graph gives each use of one a `Const` node of its own.
OPERANDS: set = set()


def _infer_python_dtype(value) -> dtypes.DType:
    """TF's dtype inference for Python scalars and nested lists."""
    if isinstance(value, (np.generic, np.ndarray)):  # before float: np.float64 subclasses it
        return dtypes.from_numpy(value.dtype)
    if isinstance(value, bool):
        return dtypes.bool_
    if isinstance(value, int):
        return dtypes.int32 if _INT32_MIN <= value <= _INT32_MAX else dtypes.int64
    if isinstance(value, float):
        return dtypes.float32
    if isinstance(value, complex):
        return dtypes.complex128
    if isinstance(value, (str, bytes)):
        return dtypes.string
    if isinstance(value, (np.generic, np.ndarray)):
        return dtypes.from_numpy(value.dtype)
    if isinstance(value, Tensor):
        return value.dtype
    if isinstance(value, (list, tuple)):
        found = [_infer_python_dtype(v) for v in value]
        if not found:
            return dtypes.float32
        if dtypes.string in found:
            if any(d is not dtypes.string for d in found):
                raise ValueError("Can't convert Python sequence with mixed types to Tensor.")
            return dtypes.string
        for candidate in (dtypes.complex128, dtypes.float64, dtypes.float32, dtypes.int64, dtypes.int32):
            if candidate in found:
                return candidate
        return found[0]
    if value is None:
        raise ValueError("Attempt to convert a value (None) with an unsupported type (<class 'NoneType'>) to a Tensor.")
    raise ValueError(
        f"Attempt to convert a value ({value!r}) with an unsupported type ({type(value)}) to a Tensor."
    )



def _to_bytes_array(value) -> np.ndarray:
    arr = np.array(value, dtype=object)
    flat = arr.reshape(-1)
    for i, v in enumerate(flat):
        if isinstance(v, str):
            flat[i] = v.encode("utf-8")
        elif isinstance(v, np.bytes_):
            flat[i] = bytes(v)
        elif isinstance(v, np.str_):
            flat[i] = str(v).encode("utf-8")
        elif not isinstance(v, bytes):
            raise ValueError("Can't convert Python sequence with mixed types to Tensor.")
    return arr


def _nested_tensors_to_numpy(value):
    if isinstance(value, EagerTensor):
        return value._numpy_view()
    if isinstance(value, (list, tuple)):
        return [_nested_tensors_to_numpy(v) for v in value]
    return value


def _has_elements(value) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_has_elements(v) for v in value)
    return True


def to_numpy_value(value, dtype: dtypes.DType | None = None):
    """A Python/NumPy value as a NumPy array of the TF-inferred (or requested) dtype."""
    value = _nested_tensors_to_numpy(value)
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind not in "SUO":
        arr = np.asarray(value)
        inferred = dtypes.from_numpy(arr.dtype)
        if dtype is None or dtype is inferred:
            return arr, inferred
        if dtype is dtypes.string:
            raise TypeError(f"Cannot convert a {inferred.name} array to EagerTensor of dtype string")
        # TF casts NumPy values to a requested numeric dtype.
        return arr.astype(dtype.as_numpy_dtype), dtype
    inferred = _infer_python_dtype(value)
    dtype = dtype or inferred
    if (dtype is dtypes.string) != (inferred is dtypes.string):
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtype.name}")
    if dtype is dtypes.string:
        return _to_bytes_array(value), dtype
    # A Python number must fit the requested dtype exactly: TF refuses 1.5 as int32.
    lossy = _has_elements(value) and (
        (dtype.is_integer and inferred not in (dtypes.int32, dtypes.int64, dtypes.bool_))
        or (dtype.is_bool and inferred is not dtypes.bool_)
        or (dtype.is_floating and inferred is dtypes.complex128)
    )
    if lossy:
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtype.name}")
    try:
        arr = np.array(value, dtype=dtype.as_numpy_dtype)
    except OverflowError:
        if not dtype.is_integer:
            raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtype.name}") from None
        # TF wraps Python ints into a narrower integer dtype as a C cast does (300 -> uint8 44)
        # and refuses only ints outside int64.
        try:
            arr = np.array(value, dtype=np.int64).astype(dtype.as_numpy_dtype)
        except OverflowError:
            raise ValueError("Can't convert Python sequence with out-of-range integer to Tensor.") from None
    except ValueError:
        raise ValueError("Can't convert non-rectangular Python sequence to Tensor.") from None
    return arr, dtype


def _device_put(arr: np.ndarray):
    import jax

    from flowstone.core import context

    dev = context.ctx.device
    if dev:
        target = placement(dev)
        if target is not None:
            return jax.device_put(arr, target)
    return jax.device_put(arr)


def placement(spec: str):
    """The jax device for a TF device string such as "/GPU:0" (None when it cannot be found)."""
    import jax

    s = spec.upper()
    kind = "GPU" if "GPU" in s else "CPU" if "CPU" in s else None
    if kind is None:
        return None
    index = 0
    tail = s.rsplit(kind + ":", 1)
    if len(tail) == 2 and tail[1].split("/")[0].isdigit():
        index = int(tail[1].split("/")[0])
    try:
        devices = jax.devices(kind.lower() if kind == "CPU" else "gpu")
    except RuntimeError:
        return None
    return devices[index] if index < len(devices) else None


def eager_from_numpy(arr: np.ndarray, dtype: dtypes.DType) -> EagerTensor:
    if dtype is dtypes.string:
        return EagerTensor(arr, dtype)
    return EagerTensor(_device_put(arr), dtype)


def _scalar(value, dtype: dtypes.DType) -> EagerTensor:
    """Python scalars used with tensors are converted once and cached, per dtype."""
    key = (dtype, type(value), value)
    t = _SCALARS.get(key)
    if t is None:
        arr, dt = to_numpy_value(value, dtype)
        t = eager_from_numpy(arr, dt)
        if len(_SCALARS) < 4096:
            _SCALARS[key] = t
            OPERANDS.add(id(t))
    return t


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None) -> Tensor:
    """Converts an op wrapper's argument to a tensor (the public function is `convert_to_tensor_v2`).

    While a graph is built, a Python value stays an eager tensor until the op that uses it
    embeds it, as `<op>/<input>` (`add/y`, `Reshape/shape`), the names TensorFlow's wrappers
    give the constants they convert.
    """
    if isinstance(value, Tensor):
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
            if value.dtype is not dtype:
                raise ValueError(
                    f"Tensor conversion requested dtype {dtype.name} for Tensor with dtype "
                    f"{value.dtype.name}: {value!r}"
                )
        return value
    hook = getattr(type(value), "__tf_tensor__", None)
    if hook is not None:
        return hook(value, None if dtype is None else dtypes.as_dtype(dtype), name)
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
    elif dtype_hint is not None:
        try:
            return convert_to_tensor(value, dtype_hint)
        except (TypeError, ValueError):
            pass
    if isinstance(value, (int, float, bool)) and dtype is not None:
        return _scalar(value, dtype)
    if type(value) in (list, tuple) and dtype is not None and len(value) <= 8 and _is_index_list(value, dtype):
        return _index_list(tuple(value), dtype)
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) and not isinstance(v, EagerTensor) for v in _flat(value)):
        return _op.stack_nested(value, dtype)
    arr, dtype = to_numpy_value(value, dtype)
    t = eager_from_numpy(arr, dtype)
    graph = _ctx.graph
    if graph is not None:
        graph.operands[id(t)] = t  # a value, not a captured tensor: embedded as a Const
    return t


@export("convert_to_tensor")
def convert_to_tensor_v2(value, dtype=None, dtype_hint=None, name=None) -> Tensor:
    """Converts Python values, NumPy arrays, tensors and variables to a `tf.Tensor`.

    Inside a `tf.function` the result is a graph tensor: a Python value becomes a `Const`
    node named `name` (default "Const").

    >>> import flowstone as tf
    >>> tf.convert_to_tensor([1.0, 2.0]).dtype
    tf.float32
    """
    t = convert_to_tensor(value, dtype, dtype_hint, name)
    graph = _ctx.graph
    if graph is not None and t.__class__ is EagerTensor:
        return graph.capture(t, _ctx.scope + (name or "Const"))
    return t


def _is_index_list(value, dtype) -> bool:
    return dtype.is_integer and all(type(v) is int for v in value)


def _index_list(value: tuple, dtype: dtypes.DType) -> EagerTensor:
    """Short lists of Python ints (shapes, axes, perms) are converted once and cached, per dtype."""
    key = (dtype, value)
    t = _SCALARS.get(key)
    if t is None:
        arr, dt = to_numpy_value(list(value), dtype)
        t = eager_from_numpy(arr, dt)
        if len(_SCALARS) < 4096:
            _SCALARS[key] = t
            OPERANDS.add(id(t))
    return t


def _flat(value):
    for v in value:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


@export("constant")
def constant(value, dtype=None, shape=None, name="Const") -> Tensor:
    """Creates a constant tensor from a Python value or NumPy array.

    >>> import flowstone as tf
    >>> tf.constant([1, 2, 3])
    <tf.Tensor: shape=(3,), dtype=int32, numpy=array([1, 2, 3], dtype=int32)>
    """
    if isinstance(value, EagerTensor):
        if dtype is not None and dtypes.as_dtype(dtype) is not value.dtype:
            return _op.cast(value, dtype)
        arr, dt = value._numpy_view(), value.dtype
    else:
        arr, dt = to_numpy_value(_nested_tensors_to_numpy(value), None if dtype is None else dtypes.as_dtype(dtype))
    if shape is not None:
        shape = tuple(TensorShape(shape).as_list())
        n = int(np.prod(shape, dtype=np.int64))
        if arr.size == 1 and n != 1:
            arr = np.full(shape, arr.reshape(()), dtype=arr.dtype)
        elif arr.size == n:
            arr = arr.reshape(shape)
        else:
            raise TypeError(
                f"Eager execution of tf.constant with unsupported shape. Tensor {value!r} "
                f"(converted from {value!r}) has {arr.size} elements, but got `shape` {shape} "
                f"with {n} elements)."
            )
    t = eager_from_numpy(arr, dt)
    from flowstone.core import context

    if context.ctx.graph is not None:
        return context.ctx.graph.capture_constant(t, name)
    return t


def constant_value(t):
    """A tensor's value as NumPy when it is known now (eager, or a graph constant), else None."""
    if isinstance(t, EagerTensor):
        return t._numpy_view()
    known = getattr(t, "_constant_value", None)
    return known() if known is not None else None


# The names TensorFlow's C++ runtime gives dtypes in its messages (DataTypeString).
_RUNTIME_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


def dtype_error(op_name: str, index: int, expected: dtypes.DType, got: dtypes.DType):
    want = _RUNTIME_NAMES.get(expected.name, expected.name)
    have = _RUNTIME_NAMES.get(got.name, got.name)
    return InvalidArgumentError(
        None,
        None,
        f"cannot compute {op_name} as input #{index}(zero-based) was expected to be a "
        f"{want} tensor but is a {have} tensor [Op:{op_name}]",
    )
