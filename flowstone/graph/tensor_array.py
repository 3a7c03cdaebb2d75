"""`tf.TensorArray`: a list of same-dtype tensors that loops fill and stack.

Eagerly a TensorArray is a Python list of tensors and its methods act at once, with TF2's
eager semantics and errors (reading an index never written gives zeros when the element
shape is known; `clear_after_read`; writes past the end need `dynamic_size=True`); `write`
returns the same object. Inside a `tf.function` it is TF2's `TensorArrayV2`: a `variant`
TensorList tensor (its `flow`) threaded through TensorList raw ops (`TensorListReserve`,
`TensorListSetItem`, `TensorListStack`, ... in `tensor_list.py`); `write` returns a new
TensorArray over the new flow, so TensorArrays are values, as in TF.

`tf.while_loop` and `tf.cond` accept TensorArrays among their loop variables / branch
results: `loop_flows` / `branch_flows` replace them by their flows, and rebuild them
around the results. How TensorLists are compiled (a fixed-shape buffer) and when a
function falls back to the interpreter (a list that grows inside a loop) is described in
`tensor_list.py`.

A `tf.function` takes and returns TensorArrays: its trace key is the array's
`TensorArraySpec` (dtype, element shape, `dynamic_size`, `infer_shape`; not its length), an
eager array enters as a TensorList built from its elements (`list_tensor`, with ops, so
gradients reach the elements) and a returned one comes back as an eager TensorArray
(`from_list_tensor`). TF 2.21 does less: it retraces per TensorArray object, hands back the
bare variant tensor and rejects `TensorArraySpec` in an `input_signature` at call time.
"""

from __future__ import annotations

import operator

import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import ctx
from flowstone.core.errors import InvalidArgumentError, OutOfRangeError
from flowstone.core.execute import execute
from flowstone.core.shape import TensorShape, as_shape
from flowstone.core.tensor import EagerTensor, Tensor, constant_value, convert_to_tensor
from flowstone.graph import nest
from flowstone.graph import tensor_list as _tl


def _merge_shape(shape: TensorShape, value_shape: TensorShape) -> TensorShape:
    if not shape.is_compatible_with(value_shape):
        raise ValueError(f"Incompatible shape for value ({_tf_tuple(value_shape)}), expected ({_tf_tuple(shape)})")
    return shape.merge_with(value_shape)


def _tf_tuple(shape: TensorShape) -> str:
    if shape.rank is None:
        return "<unknown>"
    return str(tuple(shape.as_list()))


def _value(ta, value):
    """`value` as a tensor of the array's dtype (Python numbers adapt, other dtypes are an error)."""
    t = convert_to_tensor(value, dtype_hint=ta._dtype)
    if t.dtype is not ta._dtype:
        raise InvalidArgumentError(
            None, None, f"TensorArray dtype is {ta._dtype.name} but Op is trying to write dtype {t.dtype.name} ")
    return t


def _index(i) -> int:
    if isinstance(i, Tensor):
        return int(i)
    return operator.index(i)


@export("TensorArray")
class TensorArray:
    """A list of tensors of one dtype, for loops that build their results step by step.

    Args:
      dtype: the dtype of the elements.
      size: the number of elements (required eagerly; may be a tensor in a `tf.function`).
      dynamic_size: whether writes past the end grow the array (default False).
      clear_after_read: eagerly, whether a read forgets the element (default True).
      tensor_array_name, handle, colocate_with_first_write_call: accepted, as in TF2.
      flow: inside a `tf.function`, an existing TensorList tensor to wrap.
      infer_shape: whether writes fix the element shape (the first write's shape).
      element_shape: the shape every element has (possibly partial).
      name: optional name.

    >>> import flowstone as tf
    >>> ta = tf.TensorArray(tf.float32, size=3)
    >>> for i in range(3):
    ...     ta = ta.write(i, float(i) * 2.0)
    >>> ta.stack().numpy()
    array([0., 2., 4.], dtype=float32)
    """

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None, tensor_array_name=None,
                 handle=None, flow=None, infer_shape=True, element_shape=None,
                 colocate_with_first_write_call=True, name=None):
        self._dtype = dtypes.as_dtype(dtype)
        self._dynamic_size = bool(dynamic_size)
        self._infer_shape = bool(infer_shape)
        self._element_shape = as_shape(element_shape) if element_shape is not None else TensorShape(None)
        self._clear_after_read = True if clear_after_read is None else bool(clear_after_read)
        self._name = name or tensor_array_name or "TensorArrayV2"
        self._eager = ctx.graph is None and (flow is None or isinstance(flow, EagerTensor))
        if self._eager:
            if size is None:
                raise ValueError("Size must be declared for TensorArrays when eager execution is enabled.")
            self._items = [None] * _index(size)
            self._read = set()
            self._flow = None
            self._size = None
            return
        if flow is not None:
            self._flow = flow
            self._size = None
            return
        if size is None:
            raise ValueError("Size must be provided if handle or flow is not provided.")
        size = convert_to_tensor(size, dtype=dtypes.int32)
        known = constant_value(size)
        self._size = None if known is None else int(known)
        self._flow = execute("TensorListReserve", (_tl._shape_input(self._element_shape), size),
                             {"element_dtype": self._dtype}, name=self._name)

    def _with_flow(self, flow, element_shape=None):
        """The same array over a new TensorList tensor (a loop's or a write's result)."""
        new = object.__new__(TensorArray)
        new.__dict__.update(self.__dict__)
        new._flow = flow
        if element_shape is not None and element_shape.is_compatible_with(self._element_shape):
            new._element_shape = self._element_shape.merge_with(element_shape)
        return new

    # --- properties -------------------------------------------------------------------------
    @property
    def flow(self):
        """The TensorList tensor (eagerly a placeholder scalar, as in TF2)."""
        if self._eager:
            return convert_to_tensor(0, dtype=dtypes.int32)
        return self._flow

    @property
    def handle(self):
        return None if self._eager else self._flow

    @property
    def dtype(self):
        return self._dtype

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic_size

    @property
    def element_shape(self) -> TensorShape:
        return self._element_shape

    def __repr__(self):
        return f"<TensorArray dtype={self._dtype.name} element_shape={self._element_shape}>"

    # --- reading ----------------------------------------------------------------------------
    def read(self, index, name=None):
        """The element at `index` (a scalar int tensor)."""
        if not self._eager:
            return execute("TensorListGetItem", (self._flow, _tl._index_input(index),
                                                 _tl._shape_input(self._element_shape)),
                           {"element_dtype": self._dtype}, name=name or "TensorArrayV2Read")
        i = _index(index)
        n = len(self._items)
        if i < 0 or i >= n:
            raise OutOfRangeError(None, None, f"Tried to read from index {i} but array size is: {n}")
        value = self._items[i]
        if value is None:
            if i in self._read:
                raise InvalidArgumentError(
                    None, None, f"Could not read index {i} twice because it was cleared after a previous read "
                    "(perhaps try setting clear_after_read = false?)")
            value = self._zeros(f"read index {i}")
        if self._clear_after_read:
            self._items[i] = None
            self._read.add(i)
        return value

    def _zeros(self, what):
        from flowstone.ops import array

        if not self._element_shape.is_fully_defined():
            raise ValueError(
                f"Cannot {what} of a TensorArray before it is written: its element shape "
                f"{self._element_shape} is not fully defined (cannot convert a partially known TensorShape to "
                "a Tensor).")
        return array.zeros(self._element_shape.as_list(), self._dtype)

    def stack(self, name=None):
        """All elements stacked along a new first axis."""
        if not self._eager:
            n = self._size if self._size is not None and not self._dynamic_size else -1
            return execute("TensorListStack", (self._flow, _tl._shape_input(self._element_shape)),
                           {"element_dtype": self._dtype, "num_elements": n}, name=name or "TensorArrayV2Stack")
        from flowstone.ops import array

        if not self._items:
            return self._empty(0)
        return array.stack([x if x is not None else self._zeros(f"stack index {i}") for i, x in
                            enumerate(self._items)])

    def _empty(self, axis0_from):
        from flowstone.ops import array

        shape = self._element_shape
        dims = [] if shape.rank is None else [d or 0 for d in shape.as_list()[axis0_from:]]
        return array.zeros([0] + dims, self._dtype)

    def gather(self, indices, name=None):
        """The elements at `indices`, stacked."""
        if not self._eager:
            return execute("TensorListGather", (self._flow, convert_to_tensor(indices, dtype=dtypes.int32),
                                                _tl._shape_input(self._element_shape)),
                           {"element_dtype": self._dtype}, name=name or "TensorListGather")
        from flowstone.ops import array

        idx = [int(i) for i in np.asarray(convert_to_tensor(indices)).reshape(-1)]
        n = len(self._items)
        values = []
        for i in idx:
            if i < 0 or i >= n:
                raise OutOfRangeError(None, None, f"Tried to read from index {i} but array size is: {n}")
            values.append(self._items[i] if self._items[i] is not None else self._zeros(f"gather index {i}"))
        return array.stack(values) if values else self._empty(0)

    def concat(self, name=None):
        """All elements concatenated along their first axis."""
        if not self._eager:
            shape = TensorShape([None]).concatenate(self._element_shape[1:]) if self._element_shape.rank \
                else TensorShape(None)
            return execute("TensorListConcatV2", (self._flow, _tl._shape_input(shape),
                                                  convert_to_tensor(np.zeros([0], np.int64))),
                           {"element_dtype": self._dtype}, name=name or "TensorListConcatV2")[0]
        from flowstone.ops import manip

        values = [x if x is not None else self._zeros(f"concat index {i}") for i, x in enumerate(self._items)]
        for i, v in enumerate(values):
            if v.shape.rank == 0:
                raise InvalidArgumentError(
                    None, None, f"Concat saw a scalar shape at index {i} but requires at least vectors.")
        return manip.concat(values, 0) if values else self._empty(1)

    def size(self, name=None):
        """The number of elements (an int32 scalar)."""
        if self._eager:
            return convert_to_tensor(len(self._items), dtype=dtypes.int32)
        if self._size is not None and not self._dynamic_size:
            return convert_to_tensor(self._size, dtype=dtypes.int32)
        return execute("TensorListLength", (self._flow,), {}, name=name or "TensorListLength")

    # --- writing ----------------------------------------------------------------------------
    def write(self, index, value, name=None):
        """Writes `value` at `index`; returns the array to use from now on."""
        value = _value(self, value)
        if self._infer_shape:
            self._element_shape = _merge_shape(self._element_shape, value.shape)
        if not self._eager:
            flow = execute("TensorListSetItem", (self._flow, _tl._index_input(index), value),
                           {"resize_if_index_out_of_bounds": self._dynamic_size}, name=name or "TensorArrayV2Write")
            return self._with_flow(flow)
        self._put(_index(index), value)
        return self

    def _put(self, i, value):
        n = len(self._items)
        if i < 0:
            raise OutOfRangeError(None, None, f"Writing to negative indices (index {i}) is not allowed.")
        if i >= n:
            if not self._dynamic_size:
                raise OutOfRangeError(
                    None, None, f"Tried to write to index {i} but array is not resizeable and size is: {n}")
            self._items.extend([None] * (i + 1 - n))
        self._items[i] = value
        self._read.discard(i)

    def unstack(self, value, name=None):
        """Replaces the elements with the rows of `value`."""
        value = _value(self, value)
        if value.shape.rank == 0:
            raise ValueError("Cannot unstack a scalar into a TensorArray: value must be at least 1-D, got shape ().")
        n = value.shape[0]
        limit = len(self._items) if self._eager else self._size
        if n is not None and limit is not None and n > limit and not self._dynamic_size:
            raise ValueError(f"Cannot unstack {n} tensors into a TensorArray of static size {limit} ")
        if self._infer_shape:
            self._element_shape = _merge_shape(self._element_shape, value.shape[1:])
        if not self._eager:
            flow = execute("TensorListFromTensor", (value, _tl._shape_input(value.shape[1:])), {},
                           name=name or "TensorArrayUnstack")
            return self._with_flow(flow)
        from flowstone.ops import array

        self._items = list(array.unstack(value))
        self._read = set()
        return self

    def scatter(self, indices, value, name=None):
        """Writes the rows of `value` at `indices`."""
        value = _value(self, value)
        if self._infer_shape and value.shape.rank:
            self._element_shape = _merge_shape(self._element_shape, value.shape[1:])
        if not self._eager:
            flow = execute("TensorListScatterIntoExistingList",
                           (self._flow, value, convert_to_tensor(indices, dtype=dtypes.int32)), {},
                           name=name or "TensorArrayScatter")
            return self._with_flow(flow)
        from flowstone.ops import array

        idx = [int(i) for i in np.asarray(convert_to_tensor(indices)).reshape(-1)]
        for i, row in zip(idx, array.unstack(value)):
            self._put(i, row)
        return self

    def split(self, value, lengths, name=None):
        """Splits `value` along its first axis into pieces of `lengths`, one per element."""
        value = _value(self, value)
        lengths = convert_to_tensor(lengths, dtype_hint=dtypes.int64)
        if not self._eager:
            shape = TensorShape([None]).concatenate(value.shape[1:]) if value.shape.rank else TensorShape(None)
            flow = execute("TensorListSplit", (value, _tl._shape_input(shape),
                                               convert_to_tensor(lengths, dtype=dtypes.int64)
                                               if lengths.dtype is dtypes.int64 else _cast64(lengths)), {},
                           name=name or "TensorArraySplit")
            return self._with_flow(flow)
        from flowstone.ops import manip

        sizes = [int(k) for k in np.asarray(lengths).reshape(-1)]
        total = value.shape[0]
        if sum(sizes) != total:
            raise InvalidArgumentError(
                None, None, f"Expected sum of lengths to be equal to values.shape[0], but sum of lengths is "
                f"{sum(sizes)} and value's shape is: {list(value.shape)} ")
        if len(sizes) > len(self._items) and not self._dynamic_size:
            raise ValueError(f"TensorArray's size is not equal to the size of lengths ({len(self._items)} vs. "
                             f"{len(sizes)}), and the TensorArray is not marked as dynamically resizeable.")
        if self._infer_shape and value.shape.rank and value.shape.rank > 1:
            self._element_shape = _merge_shape(self._element_shape, TensorShape([None]).concatenate(value.shape[1:]))
        self._items = list(manip.split(value, sizes, 0)) if sizes else []
        self._read = set()
        return self

    # --- misc -------------------------------------------------------------------------------
    def identity(self):
        """The same array (inside a function, over an Identity of the flow)."""
        if self._eager:
            return self
        from flowstone.ops import array

        return self._with_flow(array.identity(self._flow))

    def close(self, name=None):
        """Forgets every element (eagerly); a no-op inside a function."""
        if self._eager:
            del self._items[:]


def _cast64(t):
    from flowstone.ops import array

    return array.cast(t, dtypes.int64)


@export("TensorArraySpec")
class TensorArraySpec:
    """The type of a `tf.TensorArray`: element shape, dtype, `dynamic_size` and `infer_shape`.

    >>> import flowstone as tf
    >>> tf.TensorArraySpec([2], tf.float32)
    TensorArraySpec(TensorShape([2]), tf.float32, False, True)
    """

    __slots__ = ("_element_shape", "_dtype", "_dynamic_size", "_infer_shape")

    def __init__(self, element_shape=None, dtype=dtypes.float32, dynamic_size=False, infer_shape=True):
        self._element_shape = as_shape(element_shape) if element_shape is not None else TensorShape(None)
        self._dtype = dtypes.as_dtype(dtype)
        self._dynamic_size = dynamic_size
        self._infer_shape = infer_shape

    @staticmethod
    def from_value(value) -> TensorArraySpec:
        if not isinstance(value, TensorArray):
            raise ValueError(f"Expected value to be a TensorArray, but saw: {type(value)}")
        return TensorArraySpec(value.element_shape, value.dtype, value.dynamic_size, value._infer_shape)

    @property
    def value_type(self):
        return TensorArray

    @property
    def dtype(self):
        return self._dtype

    @property
    def element_shape(self) -> TensorShape:
        return self._element_shape

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic_size

    @property
    def infer_shape(self) -> bool:
        return self._infer_shape

    @property
    def _shape(self):
        return self._element_shape

    def is_compatible_with(self, other) -> bool:
        if isinstance(other, TensorArray):
            other = TensorArraySpec.from_value(other)
        if not isinstance(other, TensorArraySpec):
            return False
        return (self._dtype is other._dtype and self._dynamic_size == other._dynamic_size
                and self._element_shape.is_compatible_with(other._element_shape))

    def _key(self):
        shape = None if self._element_shape.rank is None else tuple(self._element_shape.as_list())
        return shape, self._dtype, self._dynamic_size, self._infer_shape

    def __eq__(self, other):
        return isinstance(other, TensorArraySpec) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return (f"TensorArraySpec({self._element_shape!r}, tf.{self._dtype.name}, {self._dynamic_size}, "
                f"{self._infer_shape})")


# --- TensorArrays across the boundary of a tf.function --------------------------------------------


def spec_of(value) -> TensorArraySpec:
    """The TensorArraySpec of a TensorArray or spec (a function's trace key and signature)."""
    return value if isinstance(value, TensorArraySpec) else TensorArraySpec.from_value(value)


def from_spec(spec, flow) -> TensorArray:
    """A graph TensorArray of `spec` over `flow` (a function's variant input)."""
    return TensorArray(spec.dtype, dynamic_size=spec.dynamic_size, flow=flow, infer_shape=spec.infer_shape,
                       element_shape=spec.element_shape)


def list_tensor(ta):
    """The TensorList tensor that carries `ta` into a function (eagerly: built from its elements).

    The list is built with ops, so a tape that watches the elements differentiates through it.
    """
    if not ta._eager:
        return ta._flow
    items = ta._items
    shapes = {tuple(x.shape.as_list()) for x in items if x is not None}
    if items and all(x is not None for x in items) and len(shapes) == 1:
        from flowstone.ops import array

        return execute("TensorListFromTensor", (array.stack(items), _tl._shape_input(ta._element_shape)), {})
    shape = ta._element_shape if ta._element_shape.rank is not None or len(shapes) != 1 else TensorShape(None)
    flow = execute("TensorListReserve", (_tl._shape_input(shape), convert_to_tensor(len(items), dtype=dtypes.int32)),
                   {"element_dtype": ta._dtype})
    for i, x in enumerate(items):
        if x is not None:
            flow = execute("TensorListSetItem", (flow, convert_to_tensor(i, dtype=dtypes.int32), x), {})
    return flow


def from_list_tensor(template, flow):
    """A function's TensorArray result as the caller sees it: eager over an eager list, else a graph one."""
    if not isinstance(flow, EagerTensor):
        return template._with_flow(flow)
    value = flow._value
    n = len(value)
    shape = template._element_shape
    ta = TensorArray(template._dtype, size=n, dynamic_size=template._dynamic_size,
                     clear_after_read=template._clear_after_read, infer_shape=template._infer_shape,
                     element_shape=shape if shape.rank is not None else None)
    written = [True] * n if value.items is None else [x is not None for x in value.items]
    for i in range(n):
        if written[i]:
            ta._items[i] = execute("TensorListGetItem", (flow, convert_to_tensor(i, dtype=dtypes.int32),
                                                         _tl._shape_input(shape)), {"element_dtype": template._dtype})
    return ta


# --- TensorArrays through tf.while_loop and tf.cond -----------------------------------------------


class _Flows:
    """Replaces the TensorArrays of a structure by their flows, and puts them back."""

    def __init__(self):
        self.templates: dict = {}  # flat position -> the TensorArray it came from
        self.shapes: dict = {}  # flat position -> element shape found inside a body or branch

    def strip(self, structure, record=False):
        flat = nest.flatten(structure)
        out = []
        for k, x in enumerate(flat):
            if isinstance(x, TensorArray):
                if record:
                    self.templates.setdefault(k, x)
                    old = self.shapes.get(k)
                    self.shapes[k] = x.element_shape if old is None or not old.is_compatible_with(
                        x.element_shape) else old.merge_with(x.element_shape)
                x = x.flow
            out.append(x)
        return nest.pack_sequence_as(structure, out) if nest.is_nested(structure) else out[0]

    def dress(self, structure):
        flat = nest.flatten(structure)
        out = [self.templates[k]._with_flow(x, self.shapes.get(k)) if k in self.templates else x
               for k, x in enumerate(flat)]
        return nest.pack_sequence_as(structure, out) if nest.is_nested(structure) else out[0]


def loop_flows(structure, cond, body):
    """For `tf.while_loop`: (structure of flows, cond, body, rebuild), or None without arrays."""
    flows = _Flows()
    flows.templates = {k: x for k, x in enumerate(nest.flatten(structure)) if isinstance(x, TensorArray)}
    if not flows.templates:
        return None

    def inputs(args, kwargs):
        if kwargs:
            return (), flows.dress(kwargs)
        return tuple(flows.dress(list(args))), {}

    def new_cond(*args, **kwargs):
        a, k = inputs(args, kwargs)
        return cond(*a, **k)

    def new_body(*args, **kwargs):
        a, k = inputs(args, kwargs)
        return flows.strip(body(*a, **k), record=True)

    return flows.strip(structure), new_cond, new_body, flows.dress


def branch_flows(*fns):
    """For `tf.cond` / `tf.switch_case`: branch functions returning flows, and the rebuild."""
    flows = _Flows()

    def wrap(fn):
        def run():
            return flows.strip(fn(), record=True)

        return run

    return [wrap(fn) for fn in fns], flows.dress


def state_flows(get_state, set_state):
    """For AutoGraph: state accessors that carry each variable's TensorArrays as their flows.

    Converted loops and ifs see only tensors (a TensorArray's flow is a scalar variant);
    setting the state puts the TensorArrays back, with element shapes found along the way.
    """
    per_var: dict = {}

    def get():
        out = []
        for i, v in enumerate(get_state()):
            if i in per_var or any(isinstance(x, TensorArray) for x in nest.flatten(v)):
                v = per_var.setdefault(i, _Flows()).strip(v, record=True)
            out.append(v)
        return tuple(out)

    def put(state):
        set_state(tuple(per_var[i].dress(v) if i in per_var else v for i, v in enumerate(state)))

    return get, put


__all__ = ["TensorArray", "TensorArraySpec", "spec_of", "from_spec", "list_tensor", "from_list_tensor",
           "loop_flows", "branch_flows", "state_flows"]
