"""Resource variables: `tf.Variable`, its handle, and the raw ops that read and write it.

The contract that tracing and lowering rely on:

- Every `Variable` owns one `ResourceHandle`: a scalar `EagerTensor` of dtype `resource`,
  stable for the variable's life. It holds the current value in `handle._buffer` (a
  `jax.Array`; jax arrays are immutable, so a write *replaces* the buffer) and
  `handle._value is handle`, so `execute()` hands the handle object itself to the kernels of
  the resource ops below. `handle.variable()` gives the `Variable` back (weak reference).
- The raw ops (TensorFlow's names and signatures, all `stateful=True`): `ReadVariableOp`,
  `AssignVariableOp`, `AssignAddVariableOp`, `AssignSubVariableOp`, `ResourceGather`,
  `ResourceGatherNd`, `ResourceScatter{Update,Add,Sub,Mul,Div,Min,Max}` and
  `ResourceScatterNd{Update,Add,Sub,Min,Max}`. Their first input is the handle.
- `STATE_RULES[op_name](old_value, *other_input_values, **attrs) -> (new_value_or_None,
  outputs_tuple)` is each op's pure function of jax values: lowering threads the buffers in
  and out with it. The eager kernels apply the same rules to `handle._buffer`.
- Eagerly, a read makes an `EagerTensor` of the buffer directly (the hot path) and reports
  it to the active tapes (`Tape.variable_read`): they watch trainable variables
  (`watch_accessed_variables`) and record a `ReadVariableOp` whose input is the handle, so
  gradients flow back to the handle. Writes go through `execute()`.
- While a graph is being built (`ctx.graph is not None`) every read and write goes through
  `execute(op, (handle, ...), attrs)`, so the graph holds ReadVariableOp / Assign* nodes
  whose input is the handle: a graph input of dtype `resource` is a captured variable.
- A variable is always created eagerly (its construction runs under `tf.init_scope()`).
"""

from __future__ import annotations

import enum
import functools
import itertools
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import ctx, init_scope, name_scope
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.execute import execute
from flowstone.core.registry import INDEX, OPS, REQUIRED, gradient, op
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import (
    EagerTensor,
    Tensor,
    _numpy_repr,
    constant_value,
    convert_to_tensor,
    convert_to_tensor_v2,
)

_IDS = itertools.count(1)


@export("VariableSynchronization")
class VariableSynchronization(enum.Enum):
    """When a distributed variable is aggregated (TF's enum).

    >>> import flowstone as tf
    >>> tf.VariableSynchronization.AUTO
    <VariableSynchronization.AUTO: 0>
    """

    AUTO = 0
    NONE = 1
    ON_WRITE = 2
    ON_READ = 3


@export("VariableAggregation")
class VariableAggregation(enum.Enum):
    """How updates to a distributed variable are combined (TF's enum).

    >>> import flowstone as tf
    >>> tf.VariableAggregation.SUM.value
    1
    """

    NONE = 0
    SUM = 1
    MEAN = 2
    ONLY_FIRST_REPLICA = 3


class ResourceHandle(EagerTensor):
    """A variable's handle: a scalar `resource` tensor that owns the current buffer."""

    __slots__ = ("_buffer", "_var_dtype", "_name", "_variable", "_unique_id")

    def __init__(self, buffer, var_dtype, name, variable):
        super().__init__(None, dtypes.resource)
        self._value = self
        self._shape = TensorShape([])
        self._buffer = buffer
        self._var_dtype = var_dtype
        self._name = name
        self._variable = weakref.ref(variable)
        self._unique_id = next(_IDS)

    def variable(self):
        """The `Variable` this handle belongs to (None once it is gone)."""
        return self._variable()

    @property
    def ndim(self) -> int:
        return 0

    @property
    def device(self) -> str:
        dev = next(iter(self._buffer.devices()))
        return f"/job:localhost/replica:0/task:0/device:{dev.platform.upper()}:{dev.id}"

    def _describe(self) -> str:
        shape = list(self._buffer.shape)
        return (
            f'<ResourceHandle(name="{self._name}/{self._unique_id}", device="{self.device}", '
            f'container="Anonymous", type="tensorflow::Var", dtype and shapes : '
            f'"[ DType enum: {self._var_dtype.as_datatype_enum}, Shape: {shape} ]")>'
        )

    def _numpy_view(self):
        return np.array(self._describe(), dtype=object)

    def numpy(self):
        return self._describe()

    def __bool__(self):
        return True

    def __len__(self):
        raise TypeError("len() of unsized object")

    def __reduce__(self):
        raise TypeError("A variable handle cannot be pickled")

    def __repr__(self):
        return f"<tf.Tensor: shape=(), dtype=resource, value={self._describe()}>"

    def __str__(self):
        return f"tf.Tensor({self._describe()}, shape=(), dtype=resource)"


# --- the pure state rules (jax), one per raw op ------------------------------------------------


def _rule_read(old):
    return None, (old,)


def _rule_assign(old, value):
    return value, ()


def _rule_assign_add(old, value):
    return old + value, ()


def _rule_assign_sub(old, value):
    return old - value, ()


def _rule_gather(old, indices, batch_dims=0):
    take = functools.partial(jnp.take, axis=0, mode="clip")
    for _ in range(batch_dims):
        take = jax.vmap(take)
    return None, (take(old, indices),)


def _nd_index(indices):
    return tuple(jnp.moveaxis(indices, -1, 0))


def _rule_gather_nd(old, indices, batch_dims=0):
    return None, (old[_nd_index(indices)],)


_SCATTER = {
    "Update": lambda ref, upd: ref.set(upd),
    "Add": lambda ref, upd: ref.add(upd),
    "Sub": lambda ref, upd: ref.add(-upd),
    "Mul": lambda ref, upd: ref.multiply(upd),
    "Div": lambda ref, upd: ref.divide(upd),
    "Min": lambda ref, upd: ref.min(upd),
    "Max": lambda ref, upd: ref.max(upd),
}


def _rule_scatter(kind):
    apply = _SCATTER[kind]

    def rule(old, indices, updates):
        upd = jnp.broadcast_to(updates, indices.shape + old.shape[1:])
        return apply(old.at[indices], upd.astype(old.dtype)), ()

    return rule


def _rule_scatter_nd(kind):
    apply = _SCATTER[kind]

    def rule(old, indices, updates):
        return apply(old.at[_nd_index(indices)], updates.astype(old.dtype)), ()

    return rule


STATE_RULES = {
    "ReadVariableOp": _rule_read,
    "AssignVariableOp": _rule_assign,
    "AssignAddVariableOp": _rule_assign_add,
    "AssignSubVariableOp": _rule_assign_sub,
    "ResourceGather": _rule_gather,
    "ResourceGatherNd": _rule_gather_nd,
}
for _kind in ("Update", "Add", "Sub", "Mul", "Div", "Min", "Max"):
    STATE_RULES[f"ResourceScatter{_kind}"] = _rule_scatter(_kind)
for _kind in ("Update", "Add", "Sub", "Min", "Max"):
    STATE_RULES[f"ResourceScatterNd{_kind}"] = _rule_scatter_nd(_kind)

# Resource ops that replace the variable's value (the others only read it); other modules
# declaring such ops (`RngReadAndSkip`) add their names.
WRITE_OPS = {"AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp"}
WRITE_OPS.update(name for name in STATE_RULES if name.startswith("ResourceScatter"))


# Eager kernels run the rules compiled; attrs that change the computation are static.
_JIT = {name: jax.jit(rule, static_argnames=("batch_dims",)) if "Gather" in name else jax.jit(rule)
        for name, rule in STATE_RULES.items() if name != "ReadVariableOp"}


# --- eager kernels: validate, then apply the rule to the handle's buffer -----------------------


def _shape_str(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _check_value(opname, h, value, same_shape):
    if value.dtype != h._buffer.dtype:
        raise InvalidArgumentError(
            None, None,
            f"Trying to assign variable with wrong dtype. Expected {h._var_dtype.name} got "
            f"{dtypes.from_numpy(value.dtype).name} [Op:{opname}]",
        )
    if same_shape and value.shape != h._buffer.shape:
        raise InvalidArgumentError(
            None, None,
            f"Cannot update variable with shape {_shape_str(h._buffer.shape)} using a Tensor with "
            f"shape {_shape_str(value.shape)}, shapes must be equal. [Op:{opname}]",
        )


def _check_indices(opname, h, indices, nd):
    idx = np.asarray(indices)
    shape = h._buffer.shape
    if nd:
        depth = idx.shape[-1] if idx.ndim else 0
        if depth > len(shape):
            raise InvalidArgumentError(None, None, f"Dimensions [0,{depth}) of indices[shape="
                                       f"{_shape_str(idx.shape)}] must match dimensions [0,{depth}) "
                                       f"of updates [Op:{opname}]")
        flat = idx.reshape(-1, depth) if depth else idx.reshape(0, 0)
        for i, row in enumerate(flat):
            if any(not 0 <= r < shape[k] for k, r in enumerate(row)):
                raise InvalidArgumentError(
                    None, None,
                    f"indices[{i}] = [{', '.join(map(str, row))}] does not index into shape "
                    f"{_shape_str(shape)} [Op:{opname}]",
                )
    else:
        bad = np.argwhere((idx < 0) | (idx >= (shape[0] if shape else 0)))
        if bad.size:
            where = ",".join(map(str, bad[0]))
            raise InvalidArgumentError(
                None, None,
                f"indices[{where}] = {idx[tuple(bad[0])]} is not in [0, {shape[0] if shape else 0}) "
                f"[Op:{opname}]",
            )


def _read_kernel(h, dtype):
    return h._buffer


def _assign_kernel(name, same_shape):
    rule = _JIT[name]

    def kernel(h, value, validate_shape=False):
        _check_value(name, h, value, same_shape)
        if name == "AssignVariableOp":
            # A plain assign adopts the (immutable) new buffer: no XLA copy of large values
            # (checkpoint restore), and host string buffers, which jit cannot take, work too.
            # Compiled steps donate a buffer only when nothing else holds it (refcount check).
            h._buffer = value
            return ()
        h._buffer = rule(h._buffer, value)[0]
        return ()

    return kernel


def _gather_kernel(name, nd):
    rule = _JIT[name]

    def kernel(h, indices, batch_dims=0, validate_indices=True, dtype=None):
        _check_indices(name, h, indices, nd)
        return rule(h._buffer, indices, batch_dims=batch_dims)[1][0]

    return kernel


def _scatter_kernel(name, nd):
    rule = _JIT[name]

    def kernel(h, indices, updates, use_locking=True):
        _check_indices(name, h, indices, nd)
        if updates.dtype != h._buffer.dtype:
            _check_value(name, h, updates, False)
        h._buffer = rule(h._buffer, indices, updates)[0]
        return ()

    return kernel


def _variable_shape(op):
    """The variable's shape behind a resource op (a list when known, else a tensor)."""
    h = op.inputs[0]
    if hasattr(h, "_buffer"):
        return list(h._buffer.shape)
    from flowstone.ops import array

    return array.shape(execute("ReadVariableOp", (h,), {"dtype": op.get_attr("dtype")}))


def _resource_gather_grad(op, grad):
    from flowstone.autodiff.indexed_slices import IndexedSlices
    from flowstone.ops import array

    if op.get_attr("batch_dims"):
        raise InvalidArgumentError(None, None, "ResourceGather gradient with batch_dims > 0 is "
                                   "computed through GatherV2: use tf.gather on the value")
    params_shape = _variable_shape(op)
    indices = op.inputs[1]
    if isinstance(params_shape, list):
        values = array.reshape(grad, [-1] + params_shape[1:])
        params_shape = convert_to_tensor(params_shape, dtype=dtypes.int32)
    else:
        from flowstone.ops import manip

        minus_one = convert_to_tensor([-1], dtype=params_shape.dtype)
        values = array.reshape(grad, manip.concat([minus_one, params_shape[1:]], 0))
    return [IndexedSlices(values, array.reshape(indices, [-1]), params_shape), None]


def _resource_gather_nd_grad(op, grad):
    from flowstone.ops import indexing

    shape = _variable_shape(op)
    if isinstance(shape, list):
        shape = convert_to_tensor(shape, dtype=op.inputs[1].dtype)
    return [indexing.scatter_nd(op.inputs[1], grad, shape), None]


def _register_ops():
    """Declares the resource-variable raw ops (once, even if this file is imported twice)."""
    op("ReadVariableOp", "resource: resource -> value: dtype", {"dtype": REQUIRED}, stateful=True)(_read_kernel)
    gradient("ReadVariableOp")(lambda op, grad: [grad])

    op("AssignVariableOp", "resource: resource, value: dtype -> ", {"validate_shape": False},
       stateful=True, differentiable=False)(_assign_kernel("AssignVariableOp", False))
    for _name in ("AssignAddVariableOp", "AssignSubVariableOp"):
        op(_name, "resource: resource, value: dtype -> ", stateful=True, differentiable=False)(
            _assign_kernel(_name, True)
        )

    op("ResourceGather", "resource: resource, indices: Tindices -> output: dtype",
       {"Tindices": INDEX, "batch_dims": 0, "validate_indices": True, "dtype": REQUIRED},
       stateful=True)(_gather_kernel("ResourceGather", False))
    op("ResourceGatherNd", "resource: resource, indices: Tindices -> output: dtype",
       {"Tindices": INDEX, "dtype": REQUIRED}, stateful=True)(_gather_kernel("ResourceGatherNd", True))

    for _kind in ("Update", "Add", "Sub", "Mul", "Div", "Min", "Max"):
        op(f"ResourceScatter{_kind}", "resource: resource, indices: Tindices, updates: dtype -> ",
           {"Tindices": INDEX}, stateful=True, differentiable=False)(_scatter_kernel(f"ResourceScatter{_kind}", False))
    for _kind in ("Update", "Add", "Sub", "Min", "Max"):
        op(f"ResourceScatterNd{_kind}", "ref: resource, indices: Tindices, updates: T -> ",
           {"Tindices": INDEX, "use_locking": True}, stateful=True, differentiable=False)(
            _scatter_kernel(f"ResourceScatterNd{_kind}", True)
        )
    gradient("ResourceGather")(_resource_gather_grad)
    gradient("ResourceGatherNd")(_resource_gather_nd_grad)


# pytest's doctest collection may import this file a second time under another name.
if "ReadVariableOp" not in OPS:
    _register_ops()


# --- tf.Variable ------------------------------------------------------------------------------

_LIFT_ERROR = (
    "Tensor-typed variable initializers must either be wrapped in an init_scope or callable "
    "(e.g., `tf.Variable(lambda : tf.truncated_normal([10, 40]))`) when building functions. "
    "Please file a feature request if this restriction inconveniences you."
)


def _initial_tensor(initial_value, dtype):
    if callable(initial_value):
        initial_value = initial_value()
    if isinstance(initial_value, Tensor) and not isinstance(initial_value, EagerTensor):
        known = constant_value(initial_value)
        if known is None:
            raise ValueError(_LIFT_ERROR)
        initial_value = known if dtype is not None else convert_to_tensor(known, dtype=initial_value.dtype)
    return convert_to_tensor(initial_value, dtype=dtype)


@export("Variable")
class Variable:
    """A tensor whose value persists and changes through `assign` and friends.

    >>> import flowstone as tf
    >>> v = tf.Variable([1.0, 2.0], name="v")
    >>> v
    <tf.Variable 'v:0' shape=(2,) dtype=float32, numpy=array([1., 2.], dtype=float32)>
    >>> _ = v.assign_add([1.0, 1.0])
    >>> v.numpy()
    array([2., 3.], dtype=float32)
    """

    __array_priority__ = 100

    def __init__(self, initial_value=None, trainable=None, validate_shape=True, caching_device=None,
                 name=None, variable_def=None, dtype=None, import_scope=None, constraint=None,
                 synchronization=VariableSynchronization.AUTO, aggregation=VariableAggregation.NONE,
                 shape=None, experimental_enable_variable_lifting=True):
        if initial_value is None:
            raise ValueError(
                "The `initial_value` arg to `tf.Variable` must be specified except when you are not "
                "providing a `variable_def`. You provided neither."
            )
        if constraint is not None and not callable(constraint):
            raise ValueError(f"The `constraint` argument must be a callable. Received: {constraint!r}")
        synchronization = _as_enum(VariableSynchronization, synchronization, "synchronization")
        aggregation = _as_enum(VariableAggregation, aggregation, "aggregation")
        if trainable is None:
            trainable = synchronization is not VariableSynchronization.ON_READ
        dtype = None if dtype is None else dtypes.as_dtype(dtype)
        scope = ctx.scope
        with init_scope():
            value = _initial_tensor(initial_value, dtype)
        if shape is not None or not validate_shape:
            declared = TensorShape(shape) if shape is not None else TensorShape(None)
            if not declared.is_compatible_with(value.shape):
                raise ValueError(
                    f"In this `tf.Variable` creation, the initial value's shape ({value.shape}) is not "
                    f"compatible with the explicitly supplied `shape` argument ({shape!r})."
                )
        else:
            declared = value.shape
        base = "Variable" if name is None else str(name)
        if base.endswith(":0"):
            base = base[:-2]
        self._name = scope + base
        self._dtype = value.dtype
        self._shape = declared
        self._trainable = bool(trainable)
        self._constraint = constraint
        self._synchronization = synchronization
        self._aggregation = aggregation
        self._handle = ResourceHandle(value._value, value.dtype, self._name, self)

    # --- reading ---------------------------------------------------------------------------
    def _read(self):
        h = self._handle
        if ctx.graph is not None:
            return execute("ReadVariableOp", (h,), {"dtype": self._dtype})
        out = EagerTensor(h._buffer, self._dtype)
        if ctx.tapes:
            for tape in ctx.tapes:
                tape.variable_read(self, h, out)
        return out

    def value(self):
        """The current value as a tensor (recorded on active tapes)."""
        return self._read()

    def read_value(self):
        """The current value as a tensor (recorded on active tapes).

        >>> import flowstone as tf
        >>> float(tf.Variable(2.0).read_value())
        2.0
        """
        if ctx.graph is not None:
            with name_scope("Read"):  # TF's graphs name this read "Read/ReadVariableOp"
                return self._read()
        return self._read()

    def numpy(self):
        return np.asarray(self._handle._buffer).copy() if self._shape.rank != 0 else np.asarray(self._handle._buffer)[()]

    def __tf_tensor__(self, dtype=None, name=None):
        if dtype is not None and dtype is not self._dtype:
            raise ValueError(
                f"Incompatible type conversion requested to type {dtype.name} for `tf.Variable of type "
                f"{self._dtype.name}. (Variable: {self!r})"
            )
        return self._read()

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(self._handle._buffer)
        return a if dtype is None else a.astype(dtype)

    def sparse_read(self, indices, name=None):
        """Gathers rows `indices` of the value (the gradient is an `IndexedSlices`)."""
        indices = convert_to_tensor(indices)
        self._touch()
        return execute("ResourceGather", (self._handle, indices), {"dtype": self._dtype}, name=name or "Gather")

    def gather_nd(self, indices, name=None):
        """`tf.gather_nd` on the value, reading only the addressed elements."""
        indices = convert_to_tensor(indices)
        self._touch()
        return execute("ResourceGatherNd", (self._handle, indices), {"dtype": self._dtype}, name=name or "GatherNd")

    def _touch(self):
        """Lets tapes watch this variable when it is read by an op other than ReadVariableOp."""
        for tape in ctx.tapes:
            tape.variable_accessed(self)

    # --- writing ---------------------------------------------------------------------------
    def _convert_value(self, value):
        return convert_to_tensor_v2(value, dtype=self._dtype)

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """Sets the value; returns the variable (or None with `read_value=False`).

        >>> import flowstone as tf
        >>> v = tf.Variable(1.0)
        >>> float(v.assign(5.0))
        5.0
        """
        value = self._convert_value(value)
        if not self._shape.is_compatible_with(value.shape):
            raise ValueError(
                f"Cannot assign value to variable ' {self.name}': Shape mismatch.The variable shape "
                f"{self._shape}, and the assigned value shape {value.shape} are incompatible."
            )
        execute("AssignVariableOp", (self._handle, value), name=name)
        return self._unread() if read_value else None

    def _update(self, opname, delta, name, read_value):
        delta = self._convert_value(delta)
        execute(opname, (self._handle, delta), name=name)
        return self._unread() if read_value else None

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        """Adds `delta` to the value (same shape); returns the variable unless `read_value=False`."""
        return self._update("AssignAddVariableOp", delta, name, read_value)

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        """Subtracts `delta` from the value (same shape); returns the variable unless `read_value=False`."""
        return self._update("AssignSubVariableOp", delta, name, read_value)

    def _scatter(self, kind, sparse_delta, name):
        from flowstone.autodiff.indexed_slices import IndexedSlices

        if not isinstance(sparse_delta, IndexedSlices):
            raise TypeError(f"sparse_delta is not IndexedSlices: {sparse_delta}")
        updates = self._convert_value(sparse_delta.values)
        indices = convert_to_tensor(sparse_delta.indices)
        execute(f"ResourceScatter{kind}", (self._handle, indices, updates), name=name)
        return self._unread()

    def scatter_update(self, sparse_delta, use_locking=False, name=None):
        """Writes `sparse_delta.values` into the rows `sparse_delta.indices` (an `IndexedSlices`)."""
        return self._scatter("Update", sparse_delta, name)

    def scatter_add(self, sparse_delta, use_locking=False, name=None):
        return self._scatter("Add", sparse_delta, name)

    def scatter_sub(self, sparse_delta, use_locking=False, name=None):
        return self._scatter("Sub", sparse_delta, name)

    def scatter_mul(self, sparse_delta, use_locking=False, name=None):
        return self._scatter("Mul", sparse_delta, name)

    def scatter_div(self, sparse_delta, use_locking=False, name=None):
        return self._scatter("Div", sparse_delta, name)

    def scatter_min(self, sparse_delta, use_locking=False, name=None):
        return self._scatter("Min", sparse_delta, name)

    def scatter_max(self, sparse_delta, use_locking=False, name=None):
        return self._scatter("Max", sparse_delta, name)

    def batch_scatter_update(self, sparse_delta, use_locking=False, name=None):
        return self._scatter("Update", sparse_delta, name)

    def _scatter_nd(self, kind, indices, updates, name):
        indices = convert_to_tensor(indices)
        updates = self._convert_value(updates)
        execute(f"ResourceScatterNd{kind}", (self._handle, indices, updates), name=name)
        return self._unread()

    def scatter_nd_update(self, indices, updates, name=None):
        """Writes `updates` at the `indices` (last axis indexes into the variable).

        >>> import flowstone as tf
        >>> v = tf.Variable([1, 2, 3])
        >>> v.scatter_nd_update([[0], [2]], [10, 30]).numpy()
        array([10,  2, 30], dtype=int32)
        """
        return self._scatter_nd("Update", indices, updates, name)

    def scatter_nd_add(self, indices, updates, name=None):
        return self._scatter_nd("Add", indices, updates, name)

    def scatter_nd_sub(self, indices, updates, name=None):
        return self._scatter_nd("Sub", indices, updates, name)

    def scatter_nd_min(self, indices, updates, name=None):
        return self._scatter_nd("Min", indices, updates, name)

    def scatter_nd_max(self, indices, updates, name=None):
        return self._scatter_nd("Max", indices, updates, name)

    def _unread(self):
        return _UnreadVariable(self)

    # --- attributes ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name + ":0"

    @property
    def dtype(self):
        return self._dtype

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    def set_shape(self, shape) -> None:
        self._shape = self._shape.merge_with(shape)

    @property
    def ndim(self):
        return self._shape.rank

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def device(self) -> str:
        return self._handle.device

    @property
    def handle(self) -> ResourceHandle:
        return self._handle

    @property
    def _tape_handle(self) -> ResourceHandle:
        return self._handle

    @property
    def _unique_id(self) -> int:
        return self._handle._unique_id

    @property
    def initial_value(self):
        raise RuntimeError("This property is not supported when eager execution is enabled.")

    @property
    def constraint(self):
        return self._constraint

    @property
    def synchronization(self):
        return self._synchronization

    @property
    def aggregation(self):
        return self._aggregation

    @property
    def op(self):
        raise AttributeError("Tensor.op is undefined when eager execution is enabled.")

    @property
    def graph(self):
        raise AttributeError("Tensor.graph is undefined when eager execution is enabled.")

    def is_initialized(self, name=None):
        return convert_to_tensor(True)

    def initialized_value(self):
        return self._read()

    def ref(self):
        """A hashable reference to this variable, usable as a dict key or set element."""
        from flowstone.core.tensor import _Reference

        return _Reference(self)

    def experimental_ref(self):
        return self.ref()

    def __hash__(self):
        raise TypeError(f"Variable is unhashable. Instead, use variable.ref() as the key. (Variable: {self!r})")

    def __repr__(self):
        text = _numpy_repr(EagerTensor(self._handle._buffer, self._dtype))
        if "\n" in text:
            text = "\n" + text
        return f"<tf.Variable '{self.name}' shape={self._shape} dtype={self._dtype.name}, numpy={text}>"

    __str__ = __repr__

    def __iter__(self):
        return iter(self._read())

    def __len__(self):
        return len(self._read())

    def __bool__(self):
        return bool(self._read())

    def __index__(self):
        return self._read().__index__()

    def __int__(self):
        return int(self._read())

    def __float__(self):
        return float(self._read())

    def __complex__(self):
        return complex(self._read())

    def __format__(self, spec):
        return format(self._read(), spec)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        new = Variable(self.numpy(), trainable=self._trainable, name=self._name, dtype=self._dtype,
                       constraint=self._constraint, synchronization=self._synchronization,
                       aggregation=self._aggregation, shape=self._shape)
        memo[id(self)] = new
        return new


def _as_enum(cls, value, what):
    if isinstance(value, cls):
        return value
    try:
        return cls(value)
    except ValueError:
        raise ValueError(f"Invalid variable {what} mode: {value!r}") from None


def _delegate(name):
    def method(self, *args):
        return getattr(self._read(), name)(*args)

    method.__name__ = method.__qualname__ = name
    return method


# Every Python operator works on the value, as TF's variables do.
for _op_name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
                 "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__",
                 "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__pos__", "__abs__", "__invert__",
                 "__and__", "__rand__", "__or__", "__ror__", "__xor__", "__rxor__", "__lt__", "__le__",
                 "__gt__", "__ge__", "__eq__", "__ne__", "__getitem__"):
    setattr(Variable, _op_name, _delegate(_op_name))


class _UnreadVariable(Variable):
    """What `assign` returns: the same variable (shared handle) under TF's 'UnreadVariable' name."""

    def __init__(self, parent):
        self._handle = parent._handle
        self._dtype = parent._dtype
        self._shape = parent._shape
        self._name = "UnreadVariable"
        self._trainable = parent._trainable
        self._constraint = parent._constraint
        self._synchronization = parent._synchronization
        self._aggregation = parent._aggregation

    @property
    def name(self) -> str:
        return "UnreadVariable"


def is_variable(x) -> bool:
    return isinstance(x, Variable)


