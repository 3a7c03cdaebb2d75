"""`tf.debugging.assert_*`: checks on values, shapes and dtypes, with TensorFlow's messages.

Value checks compare with the ordinary comparison ops; eagerly a failure raises
InvalidArgumentError at once (with TF's summary of the differing elements), and while
tracing they become an `Assert` op (flowstone/ops/debugging.py). Shape, rank and dtype
checks are static and raise ValueError / TypeError, as TensorFlow does.
"""

from __future__ import annotations

import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import EagerTensor, Tensor, convert_to_tensor
from flowstone.ops import math
from flowstone.ops.debugging import Assert

_EVERYTHING = 10**9


def _desc(x: Tensor) -> str:
    return f"shape={x.shape} dtype={x.dtype.name}"


def _pretty(item, summarize) -> str:
    """One line of an assert message: text as is, tensors as a list of their first elements."""
    if isinstance(item, Tensor):
        a = np.asarray(item.numpy())
        if a.ndim == 0:
            return str(a)
        flat = a.reshape(-1)
        shown = [str(v) for v in flat[:summarize]]
        if len(shown) < flat.size:
            shown.append("...")
        return str(shown)
    return str(item)


def _compare(raw, x, y):
    if x.dtype is dtypes.string and raw in ("Equal", "NotEqual"):
        from flowstone.ops.strings import string_equal

        return string_equal(x, y, equal=raw == "Equal")
    fn = {"Equal": math.equal, "NotEqual": math.not_equal, "Less": math.less, "LessEqual": math.less_equal,
          "Greater": math.greater, "GreaterEqual": math.greater_equal}[raw]
    return fn(x, y)


def _default_data(sym, x, y, summarize, ok):
    data = [f"Condition x {sym} y did not hold."]
    if summarize <= 0:
        return data
    xs, ys = np.asarray(x.numpy()), np.asarray(y.numpy())
    if x.shape == y.shape and x.shape.rank:
        bad = ~ok
        where = np.argwhere(bad)
        n = min(summarize, where.shape[0])
        data += [f"Indices of first {n} different values:", where[:n],
                 "Corresponding x values:", xs[bad].reshape(-1)[:n],
                 "Corresponding y values:", ys[bad].reshape(-1)[:n]]
    xf, yf = xs.reshape(-1), ys.reshape(-1)
    nx, ny = min(xf.size, summarize), min(yf.size, summarize)
    return data + [f"First {nx} elements of x:", xf[:nx], f"First {ny} elements of y:", yf[:ny]]


def _binary_assert(raw, sym, x, y, data, summarize, message, name):
    x, y = convert_to_tensor(x), convert_to_tensor(y)
    cond = _compare(raw, x, y)
    if not isinstance(cond, EagerTensor):
        from flowstone.ops import reduction

        if data is None:
            data = [f"Condition x {sym} y did not hold element-wise:", f"x ({_desc(x)}) = ", x,
                    f"y ({_desc(y)}) = ", y]
        if message is not None:
            data = [message] + list(data)
        return Assert(reduction.reduce_all(cond), data, summarize=summarize, name=name)
    ok = np.asarray(cond.numpy())
    if ok.all():
        return None
    summarize = 3 if summarize is None else (_EVERYTHING if summarize < 0 else summarize)
    if data is None:
        data = _default_data(sym, x, y, summarize, ok)
    if message is not None:
        data = [message] + list(data)
    raise InvalidArgumentError(None, None, "\n".join(_pretty(d, summarize) for d in data))


def _binary(raw, sym, public, doc_example):
    def check(x, y, message=None, summarize=None, name=None):
        return _binary_assert(raw, sym, x, y, None, summarize, message, name)

    check.__name__ = check.__qualname__ = public
    check.__module__ = __name__
    check.__doc__ = (
        f"Raises InvalidArgumentError unless `x {sym} y` holds element-wise (with broadcasting).\n\n"
        f"    >>> import flowstone as tf\n    >>> tf.debugging.{public}({doc_example})\n"
    )
    return check


assert_equal = export("debugging.assert_equal", "assert_equal")(
    _binary("Equal", "==", "assert_equal", "tf.constant([1, 2]), [1, 2]"))
assert_less = export("debugging.assert_less", "assert_less")(
    _binary("Less", "<", "assert_less", "tf.constant([1, 2]), 3"))
assert_less_equal = export("debugging.assert_less_equal")(
    _binary("LessEqual", "<=", "assert_less_equal", "tf.constant([1, 2]), 2"))
assert_greater = export("debugging.assert_greater", "assert_greater")(
    _binary("Greater", ">", "assert_greater", "tf.constant([1, 2]), 0"))
assert_greater_equal = export("debugging.assert_greater_equal")(
    _binary("GreaterEqual", ">=", "assert_greater_equal", "tf.constant([1, 2]), 1"))


@export("debugging.assert_none_equal")
def assert_none_equal(x, y, summarize=None, message=None, name=None):
    """Raises InvalidArgumentError if any element of `x` equals the matching element of `y`.

    >>> import flowstone as tf
    >>> tf.debugging.assert_none_equal(tf.constant([1, 2]), [3, 4])
    """
    return _binary_assert("NotEqual", "!=", x, y, None, summarize, message, name)


def _sign_check(x, message, summarize, name, raw, text, zero_first):
    x = convert_to_tensor(x)
    zero = convert_to_tensor(0, dtype=x.dtype)
    data = [message or "", text, f"x ({_desc(x)}) = ", x]
    if text.endswith("<= 0 did not hold element-wise:"):
        # TensorFlow's assert_non_positive glues these two lines together.
        data = [message or "", text + f"x ({_desc(x)}) = ", x]
    a, b = (zero, x) if zero_first else (x, zero)
    return _binary_assert(raw, "", a, b, data, summarize, None, name)


@export("debugging.assert_non_negative")
def assert_non_negative(x, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless every element of `x` is >= 0.

    >>> import flowstone as tf
    >>> tf.debugging.assert_non_negative(tf.constant([0, 2]))
    """
    return _sign_check(x, message, summarize, name, "LessEqual", "Condition x >= 0 did not hold element-wise:", True)


@export("debugging.assert_positive")
def assert_positive(x, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless every element of `x` is > 0.

    >>> import flowstone as tf
    >>> tf.debugging.assert_positive(tf.constant([1, 2]))
    """
    return _sign_check(x, message, summarize, name, "Less", "Condition x > 0 did not hold element-wise:", True)


@export("debugging.assert_negative")
def assert_negative(x, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless every element of `x` is < 0.

    >>> import flowstone as tf
    >>> tf.debugging.assert_negative(tf.constant([-1, -2]))
    """
    return _sign_check(x, message, summarize, name, "Less", "Condition x < 0 did not hold element-wise:", False)


@export("debugging.assert_non_positive")
def assert_non_positive(x, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless every element of `x` is <= 0.

    >>> import flowstone as tf
    >>> tf.debugging.assert_non_positive(tf.constant([0, -2]))
    """
    return _sign_check(x, message, summarize, name, "LessEqual", "Condition x <= 0 did not hold element-wise:",
                       False)


@export("debugging.assert_near")
def assert_near(x, y, rtol=None, atol=None, message=None, summarize=None, name=None):
    """Raises InvalidArgumentError unless `|x - y| <= atol + rtol * |y|` element-wise.

    The default tolerances are 10 times the machine epsilon of the dtype.

    >>> import flowstone as tf
    >>> tf.debugging.assert_near(tf.constant([1.0, 2.0]), [1.0, 2.0000001])
    """
    x = convert_to_tensor(x)
    y = convert_to_tensor(y, dtype=x.dtype)
    eps = 10 * np.finfo(x.dtype.real_dtype.as_numpy_dtype).eps
    tol_dtype = x.dtype.real_dtype
    rtol = convert_to_tensor(eps if rtol is None else rtol, dtype=tol_dtype)
    atol = convert_to_tensor(eps if atol is None else atol, dtype=tol_dtype)
    diff = math.abs(math.subtract(x, y))
    cond = math.less_equal(diff, math.add(atol, math.multiply(rtol, math.abs(y))))
    from flowstone.ops import reduction

    data = [message or "", f"x and y not equal to tolerance rtol = {rtol!s}, atol = {atol!s}",
            f"x ({_desc(x)}) = ", x, f"y ({_desc(y)}) = ", y]
    return Assert(reduction.reduce_all(cond), data, summarize=summarize, name=name)


# --- static checks: rank, shape, dtype ------------------------------------------------------------


def _prefix(message) -> str:
    return f"{message}.  " if message else ""


def _rank_error(message, x, requirement):
    return ValueError(f"{_prefix(message)}Tensor  must have {requirement}.  Received rank {x.shape.rank}, "
                      f"shape {x.shape}")


@export("debugging.assert_rank", "assert_rank")
def assert_rank(x, rank, message=None, name=None):
    """Raises ValueError unless `x` has rank `rank`.

    >>> import flowstone as tf
    >>> tf.debugging.assert_rank(tf.zeros([2, 3]), 2)
    """
    x = convert_to_tensor(x)
    rank = int(np.asarray(rank.numpy() if isinstance(rank, Tensor) else rank))
    if x.shape.rank is not None and x.shape.rank != rank:
        raise _rank_error(message, x, f"rank {rank}")


@export("debugging.assert_rank_at_least")
def assert_rank_at_least(x, rank, message=None, name=None):
    """Raises ValueError unless `x` has rank `rank` or more.

    >>> import flowstone as tf
    >>> tf.debugging.assert_rank_at_least(tf.zeros([2, 3]), 1)
    """
    x = convert_to_tensor(x)
    rank = int(np.asarray(rank.numpy() if isinstance(rank, Tensor) else rank))
    if x.shape.rank is not None and x.shape.rank < rank:
        raise _rank_error(message, x, f"rank at least {rank}")


@export("debugging.assert_rank_in")
def assert_rank_in(x, ranks, message=None, name=None):
    """Raises ValueError unless the rank of `x` is one of `ranks`.

    >>> import flowstone as tf
    >>> tf.debugging.assert_rank_in(tf.zeros([2]), [1, 2])
    """
    x = convert_to_tensor(x)
    ranks = tuple(int(np.asarray(r.numpy() if isinstance(r, Tensor) else r)) for r in ranks)
    if x.shape.rank is not None and x.shape.rank not in ranks:
        raise _rank_error(message, x, f"rank in {ranks}")


@export("debugging.assert_scalar")
def assert_scalar(tensor, message=None, name=None):
    """Raises ValueError unless `tensor` is a scalar; returns it.

    >>> import flowstone as tf
    >>> tf.debugging.assert_scalar(tf.constant(1)).shape
    TensorShape([])
    """
    tensor = convert_to_tensor(tensor)
    if tensor.shape.rank != 0:
        raise ValueError(f"{message or ''}Expected scalar shape, saw shape: {tensor.shape}.")
    return tensor


_VARIADIC = ("*", "...")


def _check_spec(x, spec, message):
    for i, s in enumerate(spec):
        if i and isinstance(s, str) and s in _VARIADIC:
            raise ValueError(
                f"Tensor {_desc(x)} specified shape index {i}.  Symbol `...` or `*` for a variable number of "
                "unspecified dimensions is only allowed as the first entry"
            )
    if spec and isinstance(spec[0], str) and spec[0] in _VARIADIC:
        assert_rank_at_least(x, len(spec) - 1, message)
        return spec[1:], x.shape.rank - (len(spec) - 1)
    if len(spec) == 1:
        assert_rank_in(x, (0, 1), message)
    else:
        assert_rank(x, len(spec), message)
    return spec, 0


@export("debugging.assert_shapes")
def assert_shapes(shapes, data=None, summarize=None, message=None, name=None):
    """Checks tensor shapes against specs of sizes and symbols shared between tensors.

    Each spec is a tuple of ints (explicit sizes), strings (symbols that must agree across
    all tensors) and None (any size); a leading `"*"` or `"..."` allows any leading dims.

    >>> import flowstone as tf
    >>> tf.debugging.assert_shapes([(tf.zeros([2, 3]), ("N", 3)), (tf.zeros([2]), ("N",))])
    """
    items = list(shapes.items()) if isinstance(shapes, dict) else list(shapes)
    known: dict = {}
    for t, spec in items:
        x = t if isinstance(t, Tensor) else convert_to_tensor(t)
        spec = tuple(spec.as_list() if isinstance(spec, TensorShape) else spec)
        dims_spec, offset = _check_spec(x, spec, message)
        actual = x.shape.as_list() or [1]
        for k, s in enumerate(dims_spec):
            axis = offset + k
            size = actual[axis]
            if s is None or size is None:
                continue
            if isinstance(s, str):
                if s not in known:
                    known[s] = (size, f"Specified by tensor {_desc(x)} dimension {axis}")
                    continue
                want, source = known[s]
            else:
                want, source = int(s), "Specified explicitly"
            if size != want:
                raise ValueError(
                    f"{_prefix(message)}{source}.  Tensor {_desc(x)} dimension {axis} must have size {want}.  "
                    f"Received size {size}, shape {x.shape}"
                )


@export("debugging.assert_type")
def assert_type(tensor, tf_type, message=None, name=None):
    """Raises TypeError unless `tensor` has dtype `tf_type`.

    >>> import flowstone as tf
    >>> tf.debugging.assert_type(tf.constant(1.0), tf.float32)
    """
    tf_type = dtypes.as_dtype(tf_type)
    dtype = tensor.dtype if hasattr(tensor, "dtype") else convert_to_tensor(tensor).dtype
    if dtype is not tf_type:
        raise TypeError(f"{_prefix(message)}tensor must be of type {tf_type!r}; got {dtype!r}")


@export("debugging.assert_integer")
def assert_integer(x, message=None, name=None):
    """Raises TypeError unless `x` has an integer dtype.

    >>> import flowstone as tf
    >>> tf.debugging.assert_integer(tf.constant([1, 2]))
    """
    x = convert_to_tensor(x)
    if not x.dtype.is_integer:
        raise TypeError(f'{message + "  " if message else ""}Expected "x" to be integer type.  Found: tensor of '
                        f"dtype {x.dtype}")


@export("debugging.assert_same_float_dtype")
def assert_same_float_dtype(tensors=None, dtype=None):
    """The common floating dtype of `tensors` (and `dtype`); ValueError if they disagree.

    >>> import flowstone as tf
    >>> tf.debugging.assert_same_float_dtype([tf.constant(1.0)])
    tf.float32
    """
    found = None if dtype is None else dtypes.as_dtype(dtype)
    for t in tensors or []:
        if found is None:
            found = t.dtype
        elif t.dtype is not found:
            raise ValueError(f"Tensor conversion requested dtype {found.name} for Tensor with dtype "
                             f"{t.dtype.name}: {t!r}")
    if found is None:
        return dtypes.float32
    if not found.is_floating:
        raise ValueError(f"Expected floating point type, got {found}.")
    return found


@export("debugging.assert_proper_iterable")
def assert_proper_iterable(values):
    """Raises TypeError unless `values` is iterable and not a tensor, array or string.

    >>> import flowstone as tf
    >>> tf.debugging.assert_proper_iterable([1, 2])
    """
    improper = (Tensor, np.ndarray, str, bytes)
    if isinstance(values, improper) or not hasattr(values, "__iter__"):
        raise TypeError(f'Expected argument "values" to be a "proper" iterable.  Found: {type(values)}')


_NUMERIC = frozenset(dtypes._FLOATING + dtypes._INTEGER + (dtypes.complex64, dtypes.complex128))


@export("debugging.is_numeric_tensor")
def is_numeric_tensor(tensor) -> bool:
    """Whether `tensor` is a tensor of a numeric (floating, integer or complex) dtype.

    >>> import flowstone as tf
    >>> tf.debugging.is_numeric_tensor(tf.constant([1.0]))
    True
    """
    return isinstance(tensor, Tensor) and tensor.dtype in _NUMERIC
