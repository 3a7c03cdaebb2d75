"""`ConcreteFunction`: one traced graph, lowered to jax and compiled with `jax.jit`.

The compiled program is a pure function
`(written variable buffers, read-only variable buffers, input values) -> (outputs, new buffers)`:
variables are threaded in and out as state and the buffers of the variables it writes are
donated, so a training step updates its weights in place. A graph with host kernels (or
one whose static inputs are only known at run time) runs through the same lowering
node by node instead (`interpret`).
"""

from __future__ import annotations

import itertools
import sys

import jax
import numpy as np

from flowstone.core import dtypes
from flowstone.core.context import ctx
from flowstone.core.tensor import EagerTensor
from flowstone.core.variables import WRITE_OPS
from flowstone.graph import lowering, nest, tiered
from flowstone.graph.funcgraph import inline
from flowstone.graph.graphlib import SymbolicTensor

_ARRAY = type(jax.numpy.zeros(()))

_UIDS = itertools.count(1)


def written_inputs(graph, _cache={}) -> frozenset:  # noqa: B006 - a per-graph memo
    """Positions of `graph.inputs` (resources) that the graph, or a function it calls, writes."""
    found = _cache.get(id(graph))
    if found is not None and found[0] is graph:
        return found[1]
    index = {id(p): i for i, p in enumerate(graph.inputs)}
    written = set()
    for node in graph.nodes:
        targets = []
        if node.type in WRITE_OPS:
            targets.append(node.inputs[0])
        for g in lowering.function_attrs(node):
            offset = 1 if node.type in ("If", "StatelessIf", "Case", "StatelessCase") else 0
            for pos in written_inputs(g):
                if pos + offset < len(node.inputs):
                    targets.append(node.inputs[pos + offset])
        for t in targets:
            if id(t) in index:
                written.add(index[id(t)])
    result = frozenset(written)
    _cache[id(graph)] = (graph, result)
    return result


class Program:
    """A graph's compiled form: the jitted pure function and how to feed it."""

    def __init__(self, graph, name, residuals=False):
        self.graph = graph
        self.name = name
        inputs = graph.inputs
        resource = [i for i, p in enumerate(inputs) if p.dtype is dtypes.resource]
        written = written_inputs(graph)
        self.written = [i for i in resource if i in written]
        self.read = [i for i in resource if i not in written]
        self.values = [i for i, p in enumerate(inputs) if p.dtype is not dtypes.resource]
        self.residual_tensors = residual_tensors(graph) if residuals else []
        self.outputs = list(graph.outputs) + self.residual_tensors
        self.interpret = lowering.needs_interpreter(graph) or any(
            inputs[i].dtype is dtypes.string for i in self.values
        ) or any(t.dtype in (dtypes.string, dtypes.resource, dtypes.variant) for t in self.outputs)
        nw, nr = len(self.written), len(self.read)
        self._split = (nw, nw + nr)
        self._n_resources = nw + nr
        self._checks = _has_checks(graph)
        self._aliased: dict = {}
        self._plain = jax.jit(self._flat)
        # First calls go through tiered compilation; then the jitted functions are called directly.
        size = 0 if self.interpret else program_size(graph, self.outputs)
        self._run_plain = tiered.Tiered(self._plain, size, self._use("_run_plain"))
        self._run_donating = self._run_plain
        if nw:
            donating = jax.jit(self._flat, donate_argnums=tuple(range(nw)))
            self._run_donating = tiered.Tiered(donating, size, self._use("_run_donating"))
        self.tiers = (self._run_donating, self._run_plain)  # (for tests and tools: their `tier`)

    def _use(self, attribute):
        return lambda jitted: setattr(self, attribute, jitted)

    def _flat(self, *args):
        a, b = self._split
        return self.pure(args[:a], args[a:b], args[b:])

    def pure(self, written, read, values, alias=None):
        """The graph as a function of values; `alias` maps inputs of one variable to one slot."""
        inputs = self.graph.inputs
        alias = alias or {}
        state, feeds = {}, {}
        for positions, vals in ((self.written, written), (self.read, read)):
            for pos, v in zip(positions, vals):
                key = alias.get(pos, pos)
                state.setdefault(key, v)
                feeds[id(inputs[pos])] = lowering.Slot(key)
        for pos, v in zip(self.values, values):
            feeds[id(inputs[pos])] = v
        outs = lowering.run(self.graph, feeds, self.outputs, state, self.interpret, self.name)
        return tuple(outs), tuple(state[alias.get(pos, pos)] for pos in self.written)

    def _aliases(self, sources):
        """For a variable passed as several arguments: input position -> its first position."""
        first, alias = {}, {}
        for pos in self.written + self.read:
            alias[pos] = first.setdefault(id(sources[pos]), pos)
        return {pos: key for pos, key in alias.items() if pos != key}

    def _call_aliased(self, sources, alias):
        """Runs with one state slot per variable (not donating: one buffer is several inputs)."""
        key = tuple(sorted(alias.items()))
        fn = self._aliased.get(key)
        if fn is None:
            def flat(*args):
                a, b = self._split
                return self.pure(args[:a], args[a:b], args[b:], alias)

            fn = self._aliased[key] = flat if self.interpret else jax.jit(flat)
        handles = [sources[i] for i in self.written]
        outs, new = fn(*[h._buffer for h in handles], *[sources[i]._buffer for i in self.read],
                       *[sources[i]._value for i in self.values])
        for h, v in zip(handles, new):
            h._buffer = v if isinstance(v, jax.Array) else jax.numpy.asarray(v)
        return outs

    def __call__(self, sources):
        """Runs on `sources` (one per graph input: eager tensors and variable handles)."""
        if self._n_resources > 1:
            alias = self._aliases(sources)
            if alias:
                return self._call_aliased(sources, alias)
        if self.interpret:
            return self._interpret(sources)
        written = self.written
        if written:
            handles = [sources[i] for i in written]
            fn = self._run_donating if all(sys.getrefcount(h._buffer) <= 2 for h in handles) else self._run_plain
            args = [h._buffer for h in handles]
            args.extend(sources[i]._buffer for i in self.read)
        else:
            handles = ()
            fn = self._run_plain
            args = [sources[i]._buffer for i in self.read] if self.read else []
        args.extend(sources[i]._value for i in self.values)
        try:
            outs, new = fn(*args)
            if self._checks:
                jax.effects_barrier()  # a failed check raises now, not at a later sync (GPUs)
        except lowering.NotCompilable:
            self.interpret = True
            return self._interpret(sources)
        except jax.errors.JaxRuntimeError:
            from flowstone.ops.debugging import take_host_error

            err = take_host_error()  # a failed tf.debugging.Assert: raise its own error
            if err is None:
                raise
            raise err from None
        for h, v in zip(handles, new):
            h._buffer = v
        return outs

    def _interpret(self, sources):
        handles = [sources[i] for i in self.written]
        outs, new = self.pure(
            tuple(h._buffer for h in handles),
            tuple(sources[i]._buffer for i in self.read),
            tuple(sources[i]._value for i in self.values),
        )
        for h, v in zip(handles, new):
            h._buffer = v if isinstance(v, jax.Array) else jax.numpy.asarray(v)
        return outs


_CHECKS = frozenset(("Assert", "CheckNumerics"))


def _has_checks(graph) -> bool:
    """Whether the graph (or a function it calls) holds run-time checks that raise from the host."""
    return any(n.type in _CHECKS or any(_has_checks(g) for g in lowering.function_attrs(n)) for n in graph.nodes)


def program_size(graph, outputs) -> int:
    """The nodes a compiled run of `graph` executes, counting those of the functions it calls."""
    size = 0
    for node in lowering.plan(graph, outputs):
        size += 1
        for g in lowering.function_attrs(node):
            size += program_size(g, g.outputs)
    return size


def residual_tensors(graph):
    """Outputs of stateful nodes (variable reads, random draws) that a backward pass replays."""
    out = []
    for node in lowering.plan(graph, graph.outputs):
        if node.type == "ReadVariableOp" or (
            node._opdef.stateful and node.type not in ("Const", "Placeholder", "NoOp")
            and not lowering.has_side_effects(node) and node.outputs
            and node.type not in ("ResourceGather", "ResourceGatherNd") and node.type not in lowering._CALLS
        ):
            out.extend(node.outputs)
    return out


def wrap(value, dtype):
    """An output value as an EagerTensor of `dtype`."""
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        if dtype is dtypes.string:
            return EagerTensor(np.asarray(value, dtype=object), dtype)
        value = jax.device_put(np.asarray(value, dtype=dtype.as_numpy_dtype))
    return EagerTensor(value, dtype)


class ConcreteFunction:
    """A traced graph with a fixed input signature, callable with tensors.

    >>> import flowstone as tf
    >>> f = tf.function(lambda x: x * 2).get_concrete_function(tf.TensorSpec([2], tf.float32))
    >>> f(tf.constant([1.0, 2.0])).numpy()
    array([2., 4.], dtype=float32)
    """

    def __init__(self, graph, function_signature=None, name=None):
        self.graph = graph
        self._signature = function_signature
        self._uid = next(_UIDS)
        self._base_name = name or graph.name
        self._arg_count = len(graph.inputs) - len(graph.captures)
        self._program = None
        self._residual_program = None
        self._backward = {}
        self._captured = [e for e, _ in graph.captures]
        self._out_dtypes = [t.dtype for t in graph.outputs]
        self._structure_is_flat_list = False

    # --- TF's public attributes --------------------------------------------------------------
    @property
    def name(self) -> bytes:
        return f"__inference_{self._base_name}_{self._uid}".encode()

    @property
    def inputs(self):
        return list(self.graph.inputs)

    @property
    def outputs(self):
        return list(self.graph.outputs)

    @property
    def structured_input_signature(self):
        return self.graph.structured_input_signature

    @property
    def structured_outputs(self):
        return self.graph.structured_outputs

    @property
    def captured_inputs(self):
        return list(self._captured)

    @property
    def variables(self):
        return tuple(self.graph.variables)

    @property
    def trainable_variables(self):
        return tuple(v for v in self.graph.variables if v.trainable)

    @property
    def function_def(self):
        from flowstone.graph import graphdef

        return graphdef.function_def(self.graph, self.name.decode())

    def pretty_printed_signature(self, verbose=True) -> str:
        from flowstone.graph import printer

        return printer.signature(self, verbose)

    def __repr__(self):
        from flowstone.graph import printer

        return f"<ConcreteFunction {printer.short_signature(self)} at 0x{id(self):X}>"

    # --- calling ------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        leaves = self._match_call(args, kwargs)
        return self._call_structured(leaves)

    def _match_call(self, args, kwargs):
        from flowstone.graph import signature

        return signature.match_concrete(self, args, kwargs)

    def _call_structured(self, leaves):
        outs = self._call_flat(leaves)
        structure = self.graph.structured_outputs
        if structure is None:
            return None
        if structure.__class__ is SymbolicTensor:
            return outs[0]
        from flowstone.graph.tensor_array import TensorArray, from_list_tensor

        it = iter(outs)

        def fill(x):
            if isinstance(x, SymbolicTensor):
                return next(it)
            return from_list_tensor(x, next(it)) if isinstance(x, TensorArray) else x

        return nest.map_structure(fill, structure)

    def _sources(self, leaves):
        from flowstone.core.variables import Variable

        sources = []
        for leaf in leaves:
            if leaf.__class__ is EagerTensor:
                sources.append(leaf)
            elif isinstance(leaf, Variable):
                sources.append(leaf._handle)
            elif isinstance(leaf, EagerTensor):
                sources.append(leaf)
            else:
                from flowstone.core.tensor import convert_to_tensor
                from flowstone.graph.tensor_array import TensorArray, list_tensor

                sources.append(list_tensor(leaf) if isinstance(leaf, TensorArray) else convert_to_tensor(leaf))
        sources.extend(self._captured)
        return sources

    def _call_flat(self, leaves):
        """Runs on the tensor/variable leaves of the arguments; returns the flat outputs."""
        if ctx.graph is not None:
            return self._call_in_graph(leaves)
        sources = self._sources(leaves)
        if ctx.tapes and self._recordable(sources):
            return self._call_recorded(sources)
        program = self._program
        if program is None:
            program = self._program = Program(self.graph, self._base_name)
        values = program(sources)
        return [EagerTensor(v, dt) if v.__class__ is _ARRAY else wrap(v, dt) for v, dt in zip(values, self._out_dtypes)]

    def _call_in_graph(self, leaves):
        """Inside another trace the graph is inlined (its ops are recorded on active tapes)."""
        from flowstone.core.variables import Variable
        from flowstone.graph.tensor_array import TensorArray, list_tensor

        values = [leaf._handle if isinstance(leaf, Variable) else list_tensor(leaf) if isinstance(leaf, TensorArray)
                  else leaf for leaf in leaves]
        return inline(self.graph, values + self._captured)

    def _needs_interpreter(self) -> bool:
        return lowering.needs_interpreter(self.graph)

    def _recordable(self, sources) -> bool:
        return any(lowering_trainable(s) for s in sources)

    def _call_recorded(self, sources):
        from flowstone.autodiff import tape as tape_lib
        from flowstone.core.registry import OPS

        program = self._residual_program
        if program is None:
            program = self._residual_program = Program(self.graph, self._base_name, residuals=True)
        values = program(sources)
        n = len(self.graph.outputs)
        outs = [wrap(v, dt) for v, dt in zip(values[:n], self._out_dtypes)]
        residuals = [wrap(v, t.dtype) for v, t in zip(values[n:], program.residual_tensors)]
        # Variables passed as arguments are read by the call too (the tape watches them).
        passed = [s.variable() for s in sources if s.dtype is dtypes.resource and hasattr(s, "variable")]
        for var in {id(v): v for v in [*self.graph.variables, *passed] if v is not None}.values():
            for t in ctx.tapes:
                accessed = getattr(t, "variable_accessed", None)
                if accessed is not None:
                    accessed(var)
        tape_lib.record_operation(OPS["StatefulPartitionedCall"], {"f": self, "_residuals": residuals},
                                  tuple(sources), tuple(outs))
        return outs


def lowering_trainable(t) -> bool:
    from flowstone.autodiff.tape import is_trainable, watch_dtype

    return is_trainable(watch_dtype(t))


