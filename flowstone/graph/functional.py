"""`tf.map_fn`, `tf.scan`, `tf.foldl`, `tf.foldr` and `tf.vectorized_map`.

Eagerly they are Python loops over the rows of `elems` (each step runs eagerly and is
recorded on active tapes). Inside a `tf.function` they are what TF builds: a `tf.while_loop`
bounded by `maximum_iterations` (the number of rows) that reads rows from TensorArrays made
by `unstack` and writes results into TensorArrays that are stacked after the loop. With a
static number of rows the loop and its gradient compile with XLA (see `tensor_list.py`).

`tf.vectorized_map` traces `fn` once on one row. When that graph is pure (no stateful op
other than variable reads, no host kernel) it is vectorized with `jax.vmap`:
the map is still emitted as the same While loop (so GraphDef export, the interpreter and
gradients see ordinary TF ops), and the loop's compiled lowering runs `jax.vmap` of the row
graph instead of iterating. Otherwise it falls back to the loop (as TF's pfor does) or, with
`fallback_to_while_loop=False`, raises. Eagerly it runs through a `tf.function`, as TF does.
"""

from __future__ import annotations

import logging
import weakref

import jax
import jax.numpy as jnp

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import ctx
from flowstone.core.errors import InvalidArgumentError, OutOfRangeError
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import Tensor, convert_to_tensor
from flowstone.graph import lowering, lowering_cf, nest
from flowstone.graph.control_flow import while_loop
from flowstone.graph.spec import TensorSpec
from flowstone.graph.tensor_array import TensorArray

_log = logging.getLogger("flowstone")


# --- shared helpers ------------------------------------------------------------------------------


def _check_fn(fn):
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}.")


def _elements(elems):
    """The flat tensors of `elems` and their common number of rows (None when unknown)."""
    flat = [convert_to_tensor(e) for e in nest.flatten(elems)]
    if not flat:
        raise ValueError(f"elems must be a Tensor or (possibly nested) sequence of Tensors. Got {elems}, which "
                         "does not contain any Tensors.")
    n = TensorShape([None])
    for e in flat:
        if e.shape.rank == 0:
            raise ValueError("Elements in elems must be 1+ dimensional Tensors, not scalars")
        lead = TensorShape([e.shape[0] if e.shape.rank is not None else None])
        if not n.is_compatible_with(lead):
            raise ValueError(f"Dimensions {n[0]} and {lead[0]} are not compatible")
        n = n.merge_with(lead)
    return flat, n[0]


def _rows(flat, n_static):
    from flowstone.ops import array

    return n_static if n_static is not None else array.shape(flat[0])[0]


def _user_fn(fn):
    """`fn` converted by AutoGraph when it is user code (TF converts the functions it loops over)."""
    if ctx.graph is None:
        return fn
    from flowstone.graph.autograph.runtime import converted

    return converted(fn)


def _same_structure(template, value):
    if not nest.assert_same_structure(template, value):
        raise ValueError("The two structures don't have the same nested structure.\n\n"
                         f"First structure: {template}\n\nSecond structure: {value}")


def _as_outputs(value, template, expected):
    """The leaves of `value` as tensors, checked against `template`'s structure and dtypes."""
    _same_structure(template, value)
    out = []
    for v, dt in zip(nest.flatten(value), expected):
        t = convert_to_tensor(v, dtype_hint=dt)
        if dt is not None and t.dtype is not dt:
            raise InvalidArgumentError(
                None, None, f"TensorArray dtype is {dt.name} but Op is trying to write dtype {t.dtype.name} ")
        out.append(t)
    return out


def _signature_leaves(signature):
    """(dtype, TensorShape) per leaf of an output signature of DTypes and TensorSpecs."""
    leaves = []
    for s in nest.flatten(signature):
        if isinstance(s, TensorSpec):
            leaves.append((s.dtype, s.shape))
        else:
            leaves.append((dtypes.as_dtype(s), TensorShape(None)))
    return leaves


def _stack_rows(rows, leaves):
    from flowstone.ops import array

    if rows:
        return [array.stack(list(col)) for col in zip(*rows)]
    out = []
    for dt, shape in leaves:
        dims = shape.as_list() if shape.is_fully_defined() else []
        out.append(array.zeros([0] + dims, dt))
    return out


def _array_of(t, n):
    return TensorArray(t.dtype, size=n, element_shape=t.shape[1:], infer_shape=True).unstack(t)


# --- map_fn ---------------------------------------------------------------------------------------


@export("map_fn")
def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False, infer_shape=True,
           name=None, fn_output_signature=None):
    """Applies `fn` to each row of `elems` (unpacked along axis 0) and stacks the results.

    Args:
      fn: callable of one row (with the structure of `elems`).
      elems: a tensor or (nested) structure of tensors with the same number of rows.
      dtype: deprecated alias of `fn_output_signature`.
      parallel_iterations, swap_memory: accepted, as in TF2.
      back_prop: when False, no gradient flows through the map.
      infer_shape: whether the results must all have the same shape.
      name: name prefix.
      fn_output_signature: the structure of `fn`'s result (DTypes or TensorSpecs) when it
        differs from the structure and dtypes of `elems`.

    Returns:
      The stacked results, with the structure of `fn_output_signature` (or `elems`).

    >>> import flowstone as tf
    >>> tf.map_fn(lambda x: x * x, tf.constant([1, 2, 3])).numpy()
    array([1, 4, 9], dtype=int32)
    """
    _check_fn(fn)
    signature = fn_output_signature if fn_output_signature is not None else dtype
    flat, n_static = _elements(elems)
    if not back_prop:
        flat = _stop(flat)
    template = signature if signature is not None else elems
    # Without a signature the results have the dtypes of `elems` (TF's rule), any shape.
    leaves = _signature_leaves(signature) if signature is not None else [(e.dtype, TensorShape(None)) for e in flat]
    expected = [dt for dt, _ in leaves]
    if ctx.graph is None:
        rows = list(zip(*[_unstack(e) for e in flat]))
        results = [_as_outputs(fn(nest.pack_sequence_as(elems, list(r))), template, expected) for r in rows]
        # With no rows nothing tells the element shape: TF's eager result is then of shape [0].
        return nest.pack_sequence_as(template, _stack_rows(results, [(dt, TensorShape(None)) for dt in expected]))
    return nest.pack_sequence_as(template, _map_loop(_user_fn(fn), elems, flat, n_static, template, leaves,
                                                     infer_shape, parallel_iterations or 10, name))


def _stop(flat):
    from flowstone.autodiff.custom_gradient import stop_gradient

    return [stop_gradient(e) for e in flat]


def _unstack(t):
    from flowstone.ops import array

    return array.unstack(t)


def _map_loop(fn, elems, flat, n_static, template, leaves, infer_shape, parallel_iterations, name):
    """The graph form of map_fn: a While loop reading TensorArrays of rows, writing results."""
    n = _rows(flat, n_static)
    inputs = [_array_of(e, n) for e in flat]
    expected = [dt for dt, _ in leaves]
    outputs = [TensorArray(dt, size=n, infer_shape=infer_shape, element_shape=shape if shape.rank is not None
                           else None) for dt, shape in leaves]

    def body(i, tas):
        x = nest.pack_sequence_as(elems, [ta.read(i) for ta in inputs])
        ys = _as_outputs(fn(x), template, expected)
        return i + 1, [ta.write(i, y) for ta, y in zip(tas, ys)]

    _, tas = while_loop(lambda i, _: i < n, body, (0, outputs), parallel_iterations=parallel_iterations,
                        maximum_iterations=n, name=name or "map")
    return [ta.stack() for ta in tas]


# --- scan / foldl / foldr ------------------------------------------------------------------------


def _fold(fn, elems, initializer, reverse, keep_all, back_prop, infer_shape, parallel_iterations, name):
    """scan (keep_all: every accumulator, stacked) and foldl/foldr (the last accumulator)."""
    _check_fn(fn)
    flat, n_static = _elements(elems)
    if not back_prop:
        flat = _stop(flat)
    if ctx.graph is None:
        return _fold_eager(fn, elems, flat, n_static, initializer, reverse, keep_all)
    return _fold_loop(_user_fn(fn), elems, flat, n_static, initializer, reverse, keep_all, infer_shape,
                      parallel_iterations, name)


def _fold_eager(fn, elems, flat, n, initializer, reverse, keep_all):
    rows = list(zip(*[_unstack(e) for e in flat]))
    order = list(range(n))[::-1] if reverse else list(range(n))
    if initializer is None:
        if not rows:
            raise OutOfRangeError(None, None, "Tried to read from index 0 but array size is: 0")
        template = elems
        acc = nest.pack_sequence_as(elems, list(rows[order[0]]))
        order = order[1:]
        history = [list(rows[n - 1 if reverse else 0])]
    else:
        template = initializer
        acc = nest.map_structure(convert_to_tensor, initializer)
        history = []
    expected = [convert_to_tensor(a).dtype for a in nest.flatten(acc)]
    for i in order:
        flat_acc = _as_outputs(fn(acc, nest.pack_sequence_as(elems, list(rows[i]))), template, expected)
        acc = nest.pack_sequence_as(template, flat_acc)
        history.append(flat_acc)
    if not keep_all:
        return acc
    if reverse:
        history.reverse()
    leaves = [(t.dtype, convert_to_tensor(t).shape) for t in nest.flatten(acc)]
    return nest.pack_sequence_as(template, _stack_rows(history, leaves))


def _fold_loop(fn, elems, flat, n_static, initializer, reverse, keep_all, infer_shape, parallel_iterations, name):
    n = _rows(flat, n_static)
    inputs = [_array_of(e, n) for e in flat]

    def row(i):
        return (n - 1 - i) if reverse else i

    def read(i):
        return nest.pack_sequence_as(elems, [ta.read(row(i)) for ta in inputs])

    if initializer is None:
        template, start = elems, 1
        first = read(0)
    else:
        template, start = initializer, 0
        first = initializer
    acc = [convert_to_tensor(a) for a in nest.flatten(first)]
    expected = [a.dtype for a in acc]
    outs = [TensorArray(a.dtype, size=n, infer_shape=infer_shape, element_shape=a.shape) for a in acc] \
        if keep_all else []
    if keep_all and initializer is None:
        outs = [ta.write(row(0), a) for ta, a in zip(outs, acc)]

    def body(i, acc, tas):
        new = _as_outputs(fn(nest.pack_sequence_as(template, acc), read(i)), template, expected)
        return i + 1, new, [ta.write(row(i), v) for ta, v in zip(tas, new)]

    _, acc, tas = while_loop(lambda i, *_: i < n, body, (start, acc, outs), parallel_iterations=parallel_iterations,
                             maximum_iterations=n, name=name or ("scan" if keep_all else "fold"))
    return nest.pack_sequence_as(template, [ta.stack() for ta in tas] if keep_all else acc)


@export("scan")
def scan(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, infer_shape=True,
         reverse=False, name=None):
    """The running accumulation `a = fn(a, x)` over the rows `x` of `elems`, every step stacked.

    Args:
      fn: callable (accumulator, row) -> accumulator (the structure of `initializer`).
      elems: a tensor or (nested) structure of tensors with the same number of rows.
      initializer: the first accumulator; without it the first row is (and is the first output).
      reverse: scan from the last row to the first (outputs keep the rows' positions).
      parallel_iterations, back_prop, swap_memory, infer_shape, name: as in TF2.

    Returns:
      The accumulators after each row, stacked (the structure of `initializer` or `elems`).

    >>> import flowstone as tf
    >>> tf.scan(lambda a, x: a + x, tf.constant([1, 2, 3, 4])).numpy()
    array([ 1,  3,  6, 10], dtype=int32)
    """
    return _fold(fn, elems, initializer, reverse, True, back_prop, infer_shape, parallel_iterations, name)


@export("foldl")
def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """Folds `fn(accumulator, row)` over the rows of `elems` from the first to the last.

    Args:
      fn: callable (accumulator, row) -> accumulator.
      elems: a tensor or (nested) structure of tensors with the same number of rows.
      initializer: the first accumulator (default: the first row).
      parallel_iterations, back_prop, swap_memory, name: as in TF2.

    Returns:
      The last accumulator.

    >>> import flowstone as tf
    >>> print(tf.foldl(lambda a, x: a * 10 + x, tf.constant([1, 2, 3])).numpy())
    123
    """
    return _fold(fn, elems, initializer, False, False, back_prop, True, parallel_iterations, name)


@export("foldr")
def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """Folds `fn(accumulator, row)` over the rows of `elems` from the last to the first.

    Args:
      fn: callable (accumulator, row) -> accumulator.
      elems: a tensor or (nested) structure of tensors with the same number of rows.
      initializer: the first accumulator (default: the last row).
      parallel_iterations, back_prop, swap_memory, name: as in TF2.

    Returns:
      The last accumulator.

    >>> import flowstone as tf
    >>> print(tf.foldr(lambda a, x: a * 10 + x, tf.constant([1, 2, 3])).numpy())
    321
    """
    return _fold(fn, elems, initializer, True, False, back_prop, True, parallel_iterations, name)


# --- vectorized_map --------------------------------------------------------------------------------


@export("vectorized_map")
def vectorized_map(fn, elems, fallback_to_while_loop=True, warn=True):
    """`map_fn(fn, elems)` computed for all rows at once (vectorized with `jax.vmap`).

    Args:
      fn: callable of one row (with the structure of `elems`); its result may have any structure.
      elems: a tensor or (nested) structure of tensors with the same number of rows.
      fallback_to_while_loop: when `fn` cannot be vectorized (stateful ops, host kernels),
        run it in a loop instead of raising.
      warn: log a warning when falling back.

    Returns:
      The stacked results of `fn`, with the structure `fn` returns.

    Raises:
      ValueError: `fn` cannot be vectorized and `fallback_to_while_loop` is False.

    >>> import flowstone as tf
    >>> tf.vectorized_map(lambda r: tf.reduce_sum(r * r), tf.constant([[1.0, 2.0], [3.0, 4.0]])).numpy()
    array([ 5., 25.], dtype=float32)
    """
    _check_fn(fn)
    flat, n_static = _elements(elems)
    if ctx.graph is None:
        return _eager_function(fn, elems, fallback_to_while_loop, warn)(*flat)
    return _vectorized(_user_fn(fn), elems, flat, n_static, fallback_to_while_loop, warn)


_EAGER: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _eager_function(fn, elems, fallback, warn):
    """A cached tf.function running the graph form (compiled, vectorized) on the flat rows."""
    from flowstone.graph.function import function

    key = (nest.structure_key(elems, lambda leaf: None), fallback, warn)
    try:
        cache = _EAGER.setdefault(fn, {})
    except TypeError:
        cache = {}
    found = cache.get(key)
    if found is None:
        def run(*flat):
            return vectorized_map(fn, nest.pack_sequence_as(elems, list(flat)), fallback, warn)

        found = cache[key] = function(run, autograph=False)
    return found


def _vectorized(fn, elems, flat, n_static, fallback, warn):
    from flowstone.graph.funcgraph import trace

    specs = [TensorSpec(e.shape[1:], e.dtype) for e in flat]
    row_graph, reason = None, None
    try:
        row_graph = trace("vectorized_map_fn", lambda *xs: fn(nest.pack_sequence_as(elems, list(xs))), specs, {})
        reason = _not_vectorizable(row_graph)
    except Exception as e:  # noqa: BLE001 - any failure to trace one row means: loop instead
        reason = f"tracing fn on one row failed: {e}"
    if reason is None and not row_graph.outputs:
        reason = "fn returns no tensors"
    if reason is not None:
        if not fallback:
            raise ValueError(f"vectorized_map could not vectorize fn ({reason}) and fallback_to_while_loop is False.")
        if warn:
            _log.warning("Using a while_loop for converting vectorized_map: %s", reason)
        if row_graph is None:
            return map_fn(fn, elems)
    template = row_graph.structured_outputs
    leaves = [(t.dtype, t.shape) for t in row_graph.outputs]
    outs = _map_loop(fn, elems, flat, n_static, template, leaves, True, 10, "vectorized_map")
    if reason is None:
        node = outs[0].op.inputs[0].op  # TensorListStack <- the While's output list
        lowering_cf.VECTORIZED[node] = _Plan(row_graph, node)
    it = iter(outs)
    return nest.map_structure(lambda x: next(it) if isinstance(x, Tensor) else x, template)


_READS = frozenset(("ReadVariableOp", "ResourceGather", "ResourceGatherNd", "VariableShape"))


def _not_vectorizable(graph):
    """Why a row graph cannot run under `jax.vmap` as a whole, or None."""
    for node in graph.nodes:
        opdef = node._opdef
        if opdef.host or opdef.on_codes(node.inputs):
            return f"{node.type} runs on the host"
        if opdef.stateful and node.type not in _READS and node.type not in ("Const", "Placeholder", "NoOp") \
                and node.type not in lowering._CALLS:
            return f"{node.type} is stateful"
        for g in lowering.function_attrs(node):
            found = _not_vectorizable(g)
            if found:
                return found
    return None


class _Plan:
    """Runs a map While loop (built by `_map_loop`) as `jax.vmap` of its row graph."""

    def __init__(self, row_graph, node):
        self.graph = row_graph
        self.n_lists = len(row_graph.outputs)
        positions = {id(t): j for j, t in enumerate(node.inputs)}
        self.captures = [positions.get(id(ext)) for ext, _ in row_graph.captures]
        # Loop variables: counter, limit, i, then the output lists; then the body's captures.
        self.lists = list(range(3, 3 + self.n_lists))
        self.rows = _row_inputs(node)

    def run(self, node, vals, state):
        if any(p is None for p in self.captures) or not self.rows:
            return None
        elems = [vals[j].buffer for j in self.rows]
        caps = [vals[j] for j in self.captures]

        def one(*xs):
            return tuple(jnp.asarray(o) for o in lowering.call_graph(self.graph, list(xs) + caps, dict(state), False))

        ys = jax.vmap(one)(*elems)
        n = elems[0].shape[0]
        out = list(vals)
        out[0] = jnp.asarray(vals[0]) + n
        out[2] = jnp.asarray(vals[2]) + n
        for j, y in zip(self.lists, ys):
            lst = vals[j]
            out[j] = type(lst)(lst.element_dtype, lst.element_shape,
                               buffer=y.astype(lst.element_dtype.as_numpy_dtype))
        return tuple(out)


def _row_inputs(node):
    """Where the lists of rows the loop body reads (captured `unstack` results) enter the node."""
    body = getattr(node.attrs["body"], "graph", node.attrs["body"])
    ins = {id(p): k for k, p in enumerate(body.inputs)}
    return [ins[id(n.inputs[0])] for n in body.nodes if n.type == "TensorListGetItem" and id(n.inputs[0]) in ins]


__all__ = ["map_fn", "scan", "foldl", "foldr", "vectorized_map"]
