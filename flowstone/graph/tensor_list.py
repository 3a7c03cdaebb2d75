"""TensorList raw ops: the variant-typed lists behind `tf.TensorArray` inside `tf.function`.

A TensorList is a `variant` scalar tensor. Its run-time value is a `ListValue`, in one of
two forms:

- *items*: a tuple with one array per element, None where nothing was written yet. Elements
  may differ in shape (TF allows it when the element shape is not fully defined), and the
  list grows when a write past its end asks for it (`resize_if_index_out_of_bounds`). Eager
  execution and the node-by-node interpreter use this form; indices are Python ints there.
- *buffer*: one array of shape `[length, *element_shape]`. Compiled code (`jax.jit`) uses
  it: writes and reads at indices only known at run time (a loop counter) become
  `dynamic_update_slice` / `dynamic_slice`, and the value is a fixed-shape carry of
  `lax.while_loop` and `lax.cond`.

An op converts its list to the buffer form when it needs to (an index known only at run
time). That needs a known, uniform element shape and a fixed length, so three things cannot
be compiled and raise `NotCompilable`, which sends the whole function to the interpreter
(same results, node by node, as TF does for graphs it cannot hand to XLA): a list that grows
at an index known only at run time (`dynamic_size=True` inside a loop), elements of
different shapes, and a length that is only known at run time. With `jit_compile=True` a
growing list is an error instead (see `xla_blocker`). A list whose element shape is unknown
until its first write (`tf.TensorArray(tf.float32, size=n)`) gets it from the first write;
when that write happens inside a loop, the loop lowering finds the shape by tracing the body
once (`fill_pending`), as TF's XLA bridge does. In compiled code an index out of range is
not checked (reads clamp, writes are dropped); the interpreter and eager execution raise
TF's errors.

Gradients are TF's: the gradient of a list is a list (of element gradients), summed with
`AddN` and zeroed with `ZerosLike`, which both accept list values.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np

from flowstone.core import dtypes
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.execute import execute
from flowstone.core.registry import REQUIRED, gradient, op
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import constant_value
from flowstone.graph import lowering
from flowstone.graph.lowering import NotCompilable

_SHAPE_TYPES = (dtypes.int32, dtypes.int64)


class ListValue:
    """The value of a TensorList: `items` (arrays, None where unwritten) or one `buffer`."""

    __slots__ = ("element_dtype", "element_shape", "items", "buffer")
    dtype = dtypes.variant  # what `execute` reads to wrap the value as a variant tensor
    shape = ()
    ndim = 0
    size = 1

    def __init__(self, element_dtype, element_shape, items=None, buffer=None):
        self.element_dtype = element_dtype
        self.element_shape = element_shape  # the declared shape: a tuple (None: unknown dim) or None
        self.items = items
        self.buffer = buffer

    def __len__(self):
        return len(self.items) if self.buffer is None else int(self.buffer.shape[0])

    def __bool__(self):  # one value (a variant scalar), whatever its length
        return True

    def __add__(self, other):
        return _add(self, other)

    def __tensor_list_zeros__(self):
        if self.buffer is not None:
            return self._like(buffer=jnp.zeros_like(self.buffer))
        return self._like(items=tuple(None if x is None else _zeros(x.shape, x.dtype) for x in self.items))

    def _like(self, items=None, buffer=None):
        return ListValue(self.element_dtype, self.element_shape, items, buffer)

    def __repr__(self):
        return "<TensorList>"


def _flatten(v):
    if v.buffer is not None:
        return (v.buffer,), ("buffer", v.element_dtype, v.element_shape, None)
    mask = tuple(x is not None for x in v.items)
    return tuple(x for x in v.items if x is not None), ("items", v.element_dtype, v.element_shape, mask)


def _unflatten(aux, children):
    kind, dt, shape, mask = aux
    if kind == "buffer":
        return ListValue(dt, shape, buffer=children[0])
    it = iter(children)
    return ListValue(dt, shape, items=tuple(next(it) if m else None for m in mask))


jax.tree_util.register_pytree_node(ListValue, _flatten, _unflatten)


# --- helpers -----------------------------------------------------------------------------------


def _traced(v) -> bool:
    return isinstance(v, jax.core.Tracer)


def _zeros(shape, dtype):
    if np.dtype(dtype) == object:
        return np.full(shape, b"", dtype=object)
    return jnp.zeros(shape, dtype)


def _stack(arrays, axis=0):
    if any(np.asarray(a).dtype == object for a in arrays if not _traced(a)):
        return np.stack([np.asarray(a, dtype=object) for a in arrays], axis)
    return jnp.stack(arrays, axis)


def _np_dtype(lst):
    return lst.element_dtype.as_numpy_dtype or object


def _static_int(v, what):
    if _traced(v):
        raise NotCompilable(f"the {what} of a TensorList is only known at run time")
    return int(np.asarray(v).reshape(()))


def _shape_arg(v):
    """An `element_shape` input as a tuple (None for unknown dims), or None for unknown rank."""
    if v is None:
        return None
    if _traced(v):
        raise NotCompilable("the element shape of a TensorList is only known at run time")
    a = np.asarray(v)
    if a.ndim == 0:
        return None if int(a) < 0 else ()
    return tuple(None if int(d) < 0 else int(d) for d in a.reshape(-1))


def _merge(a, b):
    """The more specific of two element shapes; raises ValueError when they conflict."""
    if a is None:
        return b
    if b is None:
        return a
    if len(a) != len(b) or any(x is not None and y is not None and x != y for x, y in zip(a, b)):
        raise ValueError(f"PartialTensorShape: Incompatible shapes during merge: {_show(a)} vs. {_show(b)}")
    return tuple(x if x is not None else y for x, y in zip(a, b))


def _show(shape) -> str:
    if shape is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _full(shape) -> bool:
    return shape is not None and all(d is not None for d in shape)


def known_shape(lst, hint=None):
    """The element shape the list's values have (written elements, else declared/hint), or None."""
    if lst.buffer is not None:
        return tuple(lst.buffer.shape[1:])
    shape = _merge(lst.element_shape, hint)
    for x in lst.items:
        if x is not None:
            return tuple(np.shape(x))
    return shape if _full(shape) else None


def to_buffer(lst, hint=None, like=None):
    """The list in buffer form, or None when its elements are ragged or of unknown shape."""
    if lst.buffer is not None:
        return lst
    shape = known_shape(lst, hint)
    if shape is None and like is not None:
        shape = tuple(np.shape(like))
    if shape is None:
        return None
    if any(x is not None and tuple(np.shape(x)) != shape for x in lst.items):
        return None
    dt = _np_dtype(lst)
    if all(x is None for x in lst.items):
        return lst._like(buffer=_zeros((len(lst.items),) + shape, dt))
    return lst._like(buffer=_stack([_zeros(shape, dt) if x is None else x for x in lst.items]))


def to_items(lst):
    if lst.buffer is None:
        return lst
    b = lst.buffer
    return lst._like(items=tuple(b[k] for k in range(b.shape[0])))


def _need_buffer(lst, hint=None, like=None, why="an index known only at run time"):
    found = to_buffer(lst, hint, like)
    if found is None:
        raise NotCompilable(f"a TensorList with ragged or unknown element shapes is used with {why}")
    return found


def _check_dtype(lst, value):
    want = np.dtype(_np_dtype(lst))
    got = np.dtype(getattr(value, "dtype", want))
    if got != want:
        got_name = dtypes.from_numpy(got).name
        raise InvalidArgumentError(
            None, None,
            f"Invalid data types; op elements {got_name} but list elements {lst.element_dtype.name}")


def _check_element_dtype(lst, element_dtype):
    if element_dtype is not None and element_dtype is not lst.element_dtype:
        raise InvalidArgumentError(
            None, None,
            f"Invalid data types; op elements {element_dtype.name} but list elements {lst.element_dtype.name}")


def _check_shape(lst, value):
    declared = lst.element_shape
    shape = tuple(np.shape(value))
    if declared is not None and (len(declared) != len(shape) or any(
            d is not None and d != s for d, s in zip(declared, shape))):
        raise InvalidArgumentError(
            None, None, f"Tried to set a tensor with incompatible shape at a list index. Item element "
            f"shape: {_show(shape)} list shape: {_show(declared)}")


# --- the ops ---------------------------------------------------------------------------------


def reserve(element_shape, num_elements, element_dtype=None, shape_type=None):
    shape = _shape_arg(element_shape)
    n = _static_int(num_elements, "length")
    if n < 0:
        raise InvalidArgumentError(None, None, f"The num_elements to reserve must be a non negative number, but got {n}")
    lst = ListValue(element_dtype, shape, items=(None,) * n)
    return to_buffer(lst) if _full(shape) else lst


def set_item(handle, index, item, resize_if_index_out_of_bounds=False, element_dtype=None):
    _check_dtype(handle, item)
    _check_shape(handle, item)
    if _traced(index):
        if resize_if_index_out_of_bounds:
            raise NotCompilable("a TensorList that may grow (dynamic_size=True) is written at an index known "
                                "only at run time")
        lst = _need_buffer(handle, like=item)
        if tuple(lst.buffer.shape[1:]) != tuple(np.shape(item)):
            raise NotCompilable("a TensorList gets elements of different shapes")
        if not len(lst):  # a loop over no rows still traces its body
            return lst
        return lst._like(buffer=jax.lax.dynamic_update_index_in_dim(lst.buffer, item, index, 0))
    i = int(np.asarray(index).reshape(()))
    n = len(handle)
    if i < 0 or (i >= n and not resize_if_index_out_of_bounds):
        raise InvalidArgumentError(None, None, f"Trying to modify element {i} in a list with {n} elements.")
    if _jax_buffer(handle) and tuple(handle.buffer.shape[1:]) == tuple(np.shape(item)):
        lst = _grow(handle, i + 1)
        return lst._like(buffer=lst.buffer.at[i].set(item))
    items = list(to_items(handle).items)
    items.extend([None] * (i + 1 - len(items)))
    items[i] = item
    return handle._like(items=tuple(items))


def _jax_buffer(lst) -> bool:
    """A buffer jax can update in place (NumPy buffers, e.g. of strings, go to the items form)."""
    return lst.buffer is not None and hasattr(lst.buffer, "at")


def _grow(lst, n):
    b = lst.buffer
    if b.shape[0] >= n:
        return lst
    return lst._like(buffer=jnp.concatenate([b, jnp.zeros((n - b.shape[0],) + b.shape[1:], b.dtype)]))


def get_item(handle, index, element_shape, element_dtype=None, Tshape=None):  # noqa: N803 - TF's attr
    _check_element_dtype(handle, element_dtype)
    hint = _shape_arg(element_shape)
    if _traced(index):
        lst = _need_buffer(handle, hint)
        if not len(lst):  # a loop over no rows still traces its body
            return _zeros(lst.buffer.shape[1:], lst.buffer.dtype)
        return jax.lax.dynamic_index_in_dim(lst.buffer, index, 0, keepdims=False)
    i = int(np.asarray(index).reshape(()))
    n = len(handle)
    if i < 0 or i >= n:
        raise InvalidArgumentError(None, None, f"Trying to access element {i} in a list with {n} elements.")
    if handle.buffer is not None:
        return handle.buffer[i]
    return _element(handle, i, hint, "read")


def _element(lst, i, hint, what):
    x = lst.items[i]
    if x is not None:
        return x
    shape = known_shape(lst, hint)
    if shape is None:
        raise InvalidArgumentError(
            None, None, f"Trying to {what} an uninitialized tensor but element_shape is not fully defined: "
            f"{_show(_merge(lst.element_shape, hint))} and no list element is set.")
    return _zeros(shape, _np_dtype(lst))


def stack(handle, element_shape, element_dtype=None, num_elements=-1):
    _check_element_dtype(handle, element_dtype)
    hint = _shape_arg(element_shape)
    n = len(handle)
    if num_elements is not None and num_elements >= 0 and num_elements != n:
        raise InvalidArgumentError(
            None, None, f"Operation expected a list with {num_elements} elements but got a list with {n} elements.")
    lst = to_buffer(handle, hint)
    if lst is not None:
        return lst.buffer
    if all(x is None for x in handle.items) and n:
        raise InvalidArgumentError(
            None, None, "Tried to stack list which only contains uninitialized tensors and has a "
            f"non-fully-defined element_shape: {_show(_merge(handle.element_shape, hint))}")
    if not n:
        return _zeros((0,), _np_dtype(handle))
    shapes = {tuple(np.shape(x)) for x in handle.items if x is not None}
    a, b = sorted(shapes)[:2]
    raise InvalidArgumentError(None, None, f"PartialTensorShape: Incompatible shapes during merge: {_show(a)} vs. "
                                           f"{_show(b)}")


def from_tensor(tensor, element_shape, element_dtype=None, shape_type=None):
    if np.ndim(tensor) < 1:
        raise InvalidArgumentError(None, None, "Tensor must be at least a vector, but saw shape: []")
    declared = _merge(_shape_arg(element_shape), tuple(np.shape(tensor)[1:]))
    lst = ListValue(_dtype_of(tensor), declared, buffer=tensor)
    return lst if _traced(tensor) or np.asarray(tensor).dtype != object else to_items(lst)


def _dtype_of(value):
    return dtypes.from_numpy(np.dtype(getattr(value, "dtype", np.float32)))


def gather(handle, indices, element_shape, element_dtype=None):
    _check_element_dtype(handle, element_dtype)
    hint = _shape_arg(element_shape)
    if _traced(indices):
        lst = _need_buffer(handle, hint)
        if not len(lst):
            return _zeros(tuple(np.shape(indices)) + tuple(lst.buffer.shape[1:]), lst.buffer.dtype)
        return jnp.take(lst.buffer, indices, axis=0, mode="clip")
    idx = [int(k) for k in np.asarray(indices).reshape(-1)]
    n = len(handle)
    for k in idx:
        if k < 0 or k >= n:
            raise InvalidArgumentError(None, None, f"Trying to gather element {k} in a list with {n} elements.")
    lst = to_buffer(handle, hint)
    if lst is not None:
        return lst.buffer[np.asarray(idx, dtype=np.int32)] if idx else lst.buffer[:0]
    values = [_element(handle, k, hint, "gather") for k in idx]
    if not values:
        return _zeros((0,), _np_dtype(handle))
    return _stack(values)


def scatter(handle, tensor, indices, element_dtype=None):
    _check_dtype(handle, tensor)
    if _traced(indices):
        lst = _need_buffer(handle, like=tensor[0] if np.shape(tensor)[0] else None)
        return lst._like(buffer=jnp.asarray(lst.buffer).at[indices].set(tensor, mode="drop"))
    idx = [int(k) for k in np.asarray(indices).reshape(-1)]
    if len(idx) != np.shape(tensor)[0]:
        raise InvalidArgumentError(None, None, f"Invalid number of rows in input tensor. Expected: {len(idx)} "
                                               f"Actual: {np.shape(tensor)[0]}")
    lst = handle
    for row, k in enumerate(idx):
        if k < 0:
            raise InvalidArgumentError(None, None, f"Indices in TensorListScatter must all be non-negative, got {k}")
        lst = set_item(lst, k, tensor[row], True)
    return lst


def length(handle):
    return np.array(len(handle), np.int32)


def element_shape_of(handle, shape_type=None):
    dt = (shape_type or dtypes.int32).as_numpy_dtype
    shape = handle.element_shape
    if shape is None:
        return np.array(-1, dt)
    return np.array([-1 if d is None else d for d in shape], dt)


def concat(handle, element_shape, leading_dims, element_dtype=None, shape_type=None):
    _check_element_dtype(handle, element_dtype)
    hint = _shape_arg(element_shape)
    if handle.buffer is not None:
        b = handle.buffer
        if b.ndim < 2:
            raise InvalidArgumentError(None, None, "Concat saw a scalar shape at index 0 but requires at least vectors.")
        lengths = np.full((b.shape[0],), b.shape[1], np.int64)
        xp = jnp if _jax_buffer(handle) else np
        return xp.reshape(b, (b.shape[0] * b.shape[1],) + tuple(b.shape[2:])), lengths
    if leading_dims is not None and _traced(leading_dims):
        raise NotCompilable("the leading dims of a TensorList concat are only known at run time")
    dims = [int(d) for d in np.asarray(leading_dims).reshape(-1)] if leading_dims is not None else []
    parts = []
    for k, x in enumerate(handle.items):
        if x is None:
            shape = known_shape(handle)
            if shape is None and k < len(dims) and hint is not None:
                shape = _merge(hint, (dims[k],) + (None,) * (len(hint) - 1))
            if not _full(shape):
                _element(handle, k, hint, "concat")
            x = _zeros(shape, _np_dtype(handle))
        if np.ndim(x) < 1:
            raise InvalidArgumentError(None, None, f"Concat saw a scalar shape at index {k} but requires at least "
                                                   "vectors.")
        parts.append(x)
    lengths = np.array([np.shape(x)[0] for x in parts], np.int64)
    if not parts:
        tail = tuple(d or 0 for d in (hint or (None,))[1:])
        return _zeros((0,) + tail, _np_dtype(handle)), lengths
    if any(not _traced(p) and np.asarray(p).dtype == object for p in parts):
        return np.concatenate(parts), lengths
    return jnp.concatenate(parts), lengths


def split(tensor, element_shape, lengths, element_dtype=None, shape_type=None):
    if np.ndim(tensor) < 1:
        raise InvalidArgumentError(None, None, "Tensor must be at least a vector, but saw shape: []")
    if _traced(lengths):
        raise NotCompilable("the lengths of a TensorList split are only known at run time")
    sizes = [int(k) for k in np.asarray(lengths).reshape(-1)]
    total = int(np.shape(tensor)[0])
    if sum(sizes) != total:
        raise InvalidArgumentError(None, None, f"Unused values in tensor. Length of tensor: {total} Values used: "
                                               f"{sum(sizes)}")
    items, start = [], 0
    for s in sizes:
        items.append(tensor[start:start + s])
        start += s
    declared = _shape_arg(element_shape)
    return ListValue(_dtype_of(tensor), declared, items=tuple(items))


def _add(a, b):
    """Element-wise sum of two lists (gradients of lists add this way); unwritten counts as zero."""
    if a.buffer is not None and b.buffer is not None:
        n = max(len(a), len(b))
        if a.buffer.shape[1:] == b.buffer.shape[1:]:
            return a._like(buffer=_grow(a, n).buffer + _grow(b, n).buffer)
    xs, ys = to_items(a).items, to_items(b).items
    n = max(len(xs), len(ys))
    xs, ys = xs + (None,) * (n - len(xs)), ys + (None,) * (n - len(ys))
    return a._like(items=tuple(y if x is None else x if y is None else x + y for x, y in zip(xs, ys)))


# --- registration ------------------------------------------------------------------------------


def _list_shape(inputs, attrs):
    return [TensorShape([])]


def _input_shape(t) -> TensorShape:
    v = constant_value(t)
    if v is None:
        return TensorShape(None)
    shape = _shape_arg(np.asarray(v))
    return TensorShape(None if shape is None else list(shape))


def _item_shape(inputs, attrs):
    return _input_shape(inputs[2])


def _stack_shape(inputs, attrs):
    n = attrs.get("num_elements", -1)
    return TensorShape([n if n is not None and n >= 0 else None]).concatenate(_input_shape(inputs[1]))


def _gather_shape(inputs, attrs):
    idx = inputs[1].shape
    lead = idx[0] if idx.rank == 1 else None
    return TensorShape([lead]).concatenate(_input_shape(inputs[2]))


def _concat_shape(inputs, attrs):
    es = _input_shape(inputs[1])
    tail = TensorShape(None) if es.rank is None else es[1:]
    return [TensorShape([None]).concatenate(tail), TensorShape([None])]


def _element_shape_shape(inputs, attrs):
    return TensorShape(None)


def _length_shape(inputs, attrs):
    return TensorShape([])


_STATIC_VALUE_ATTRS = ("element_dtype", "shape_type", "num_elements", "resize_if_index_out_of_bounds", "Tshape")


def _rule(impl, params):
    """The lowering rule of a list op: its implementation on the node's input values."""

    def run(node, vals, state, interpret):
        kwargs = {k: node.attrs[k] for k in params if k in node.attrs}
        for k in params:
            if k not in kwargs and k in ("element_dtype", "Tshape", "shape_type"):
                kwargs[k] = node.get_attr(k)
        out = impl(*vals, **kwargs)
        return out if isinstance(out, tuple) else (out,)

    return run


def _register(name, signature, attrs, impl, static, shape, differentiable=True):
    op(name, signature, attrs, static=static, shape=shape, differentiable=differentiable)(impl)
    params = [k for k in _STATIC_VALUE_ATTRS if k in inspect.signature(impl).parameters]
    lowering.register_special(name, _rule(impl, params))


_register("TensorListReserve", "element_shape: shape_type, num_elements: int32 -> handle: variant",
          {"element_dtype": REQUIRED, "shape_type": _SHAPE_TYPES}, reserve, ("element_shape", "num_elements"),
          _list_shape, differentiable=False)
_register("TensorListSetItem", "input_handle: variant, index: int32, item: element_dtype -> output_handle: variant",
          {"resize_if_index_out_of_bounds": False}, set_item, ("index",), _list_shape)
_register("TensorListGetItem",
          "input_handle: variant, index: int32, element_shape: Tshape -> item: element_dtype",
          {"element_dtype": REQUIRED, "Tshape": _SHAPE_TYPES}, get_item, ("index", "element_shape"), _item_shape)
_register("TensorListStack", "input_handle: variant, element_shape: int32 -> tensor: element_dtype",
          {"element_dtype": REQUIRED, "num_elements": -1}, stack, ("element_shape",), _stack_shape)
_register("TensorListFromTensor", "tensor: element_dtype, element_shape: shape_type -> output_handle: variant",
          {"shape_type": _SHAPE_TYPES}, from_tensor, ("element_shape",), _list_shape)
_register("TensorListGather", "input_handle: variant, indices: int32, element_shape: int32 -> values: element_dtype",
          {"element_dtype": REQUIRED}, gather, ("indices", "element_shape"), _gather_shape)
_register("TensorListScatterIntoExistingList",
          "input_handle: variant, tensor: element_dtype, indices: int32 -> output_handle: variant",
          {}, scatter, ("indices",), _list_shape)
_register("TensorListLength", "input_handle: variant -> length: int32", {}, length, (), _length_shape,
          differentiable=False)
_register("TensorListElementShape", "input_handle: variant -> element_shape: shape_type",
          {"shape_type": REQUIRED}, element_shape_of, (), _element_shape_shape, differentiable=False)
_register("TensorListConcatV2",
          "input_handle: variant, element_shape: shape_type, leading_dims: int64 -> tensor: element_dtype, "
          "lengths: int64",
          {"element_dtype": REQUIRED, "shape_type": _SHAPE_TYPES}, concat, ("element_shape", "leading_dims"),
          _concat_shape)
_register("TensorListSplit", "tensor: element_dtype, element_shape: shape_type, lengths: int64 -> "
          "output_handle: variant", {"shape_type": _SHAPE_TYPES}, split, ("element_shape", "lengths"), _list_shape)


# --- gradients (TF's: the gradient of a list is a list) ------------------------------------------


def _shape_input(shape: TensorShape):
    """A TensorShape as an `element_shape` input (-1 for unknown dims, scalar -1 for unknown rank)."""
    from flowstone.core.tensor import convert_to_tensor

    if shape.rank is None:
        return convert_to_tensor(-1, dtype=dtypes.int32)
    return convert_to_tensor(np.array([-1 if d is None else d for d in shape.as_list()], np.int32))


def _index_input(t):
    from flowstone.core.tensor import convert_to_tensor

    return convert_to_tensor(t, dtype=dtypes.int32)


@gradient("TensorListSetItem")
def _set_item_grad(op, dlist):
    from flowstone.ops import array

    index, item = op.inputs[1], op.inputs[2]
    ditem = execute("TensorListGetItem", (dlist, index, _shape_input(item.shape)), {"element_dtype": item.dtype},
                    name="TensorListGetItemGrad")
    rest = execute("TensorListSetItem", (dlist, index, array.zeros_like(item)), {}, name="TensorListSetItemGrad")
    return [rest, None, ditem]


@gradient("TensorListGetItem")
def _get_item_grad(op, ditem):
    from flowstone.ops import array

    zeros = array.zeros_like(op.inputs[0])
    return [execute("TensorListSetItem", (zeros, op.inputs[1], ditem), {}), None, None]


@gradient("TensorListStack")
def _stack_grad(op, dtensor):
    return [execute("TensorListFromTensor", (dtensor, _shape_input(dtensor.shape[1:])), {}), None]


@gradient("TensorListFromTensor")
def _from_tensor_grad(op, dlist):
    from flowstone.ops import array

    t = op.inputs[0]
    stacked = execute("TensorListStack", (dlist, _shape_input(t.shape[1:])), {"element_dtype": t.dtype})
    # A list can grow after it was made (dynamic_size): only the first rows came from `t`.
    return [stacked[: array.shape(t)[0]], None]


@gradient("TensorListGather")
def _gather_grad(op, dvalues):
    from flowstone.ops import segment

    n = execute("TensorListLength", (op.inputs[0],), {})
    dense = segment.unsorted_segment_sum(dvalues, op.inputs[1], n)
    return [execute("TensorListFromTensor", (dense, _shape_input(dvalues.shape[1:])), {}), None, None]


@gradient("TensorListScatterIntoExistingList")
def _scatter_grad(op, dlist):
    from flowstone.ops import array

    tensor, indices = op.inputs[1], op.inputs[2]
    dtensor = execute("TensorListGather", (dlist, indices, _shape_input(tensor.shape[1:])),
                      {"element_dtype": tensor.dtype})
    rest = execute("TensorListScatterIntoExistingList", (dlist, array.zeros_like(tensor), indices), {})
    return [rest, dtensor, None]


@gradient("TensorListConcatV2")
def _concat_grad(op, dtensor, dlengths):
    if dtensor is None:
        return [None, None, None]
    shape = TensorShape([None]).concatenate(dtensor.shape[1:])
    return [execute("TensorListSplit", (dtensor, _shape_input(shape), op.outputs[1]), {}), None, None]


@gradient("TensorListSplit")
def _split_grad(op, dlist):
    t, lengths = op.inputs[0], op.inputs[2]
    shape = TensorShape([None]).concatenate(t.shape[1:])
    dt = execute("TensorListConcatV2", (dlist, _shape_input(shape), lengths), {"element_dtype": t.dtype})[0]
    return [dt, None, None]


# --- compiled loops and conditionals -------------------------------------------------------------


def is_list(v) -> bool:
    return isinstance(v, ListValue)


def as_carry(v):
    """A list in the form compiled loops carry (a buffer when its element shape is known)."""
    found = to_buffer(v)
    return found if found is not None else v


def is_pending(v) -> bool:
    return isinstance(v, ListValue) and v.buffer is None


def fill_pending(values, shapes):
    """Gives each pending list in `values` a zero buffer shaped like its counterpart in `shapes`."""
    out = []
    for v, s in zip(values, shapes):
        if is_pending(v) and isinstance(s, ListValue) and s.buffer is not None and len(v) == s.buffer.shape[0]:
            v = v._like(buffer=jnp.zeros(s.buffer.shape, s.buffer.dtype))
        out.append(v)
    return tuple(out)


def xla_blocker(graph, seen=None):
    """Why `graph` (or a function it calls) cannot be compiled by XLA as a whole, or None."""
    seen = set() if seen is None else seen
    if id(graph) in seen:
        return None
    seen.add(id(graph))
    for node in graph.nodes:
        if node.type == "TensorListSetItem" and node.attrs.get("resize_if_index_out_of_bounds"):
            return ("XLA compilation requires a fixed tensor list size: a TensorArray with dynamic_size=True is "
                    f"written at {node.name}. Give the TensorArray a fixed size (dynamic_size=False) or run "
                    "without jit_compile=True.")
        for g in lowering.function_attrs(node):
            found = xla_blocker(g, seen)
            if found:
                return found
    return None


__all__ = ["ListValue", "as_carry", "fill_pending", "is_list", "xla_blocker"]
