"""`tf.function`: a Python function traced into graphs, one per input signature.

Calls look up a cache key built from the arguments (tensors and variables by dtype and
shape, Python values by value, nests by structure); a miss traces a new
`ConcreteFunction`. Retracing is reported with the argument that caused it.
"""

from __future__ import annotations

import functools
import inspect
import logging
import types
import weakref

from flowstone._export import export
from flowstone.core.context import ctx
from flowstone.core.tensor import EagerTensor, Tensor
from flowstone.graph import (  # noqa: F401 - registers the call ops, If/While, Case, TensorList ops, py_func
    calls,
    case,
    control_flow,
    gradients_cf,
    lowering_cf,
    nest,
    script,
    signature,
    tensor_list,
)
from flowstone.graph.concrete import ConcreteFunction
from flowstone.graph.funcgraph import bind_arguments, trace

_log = logging.getLogger("flowstone")
_RUN_EAGERLY = [False]
_SIMPLE = (int, float, bool, str, type(None))
# TF warns once a function has traced this many times.
RETRACE_WARNING_THRESHOLD = 5

_VARIABLE_ERROR = (
    "tf.function only supports singleton tf.Variables created on the first call. Make sure the "
    "tf.Variable is only created once or created outside tf.function. See "
    "https://www.tensorflow.org/guide/function#creating_tfvariables for more information."
)


@export("config.run_functions_eagerly", "config.experimental_run_functions_eagerly")
def run_functions_eagerly(run_eagerly: bool) -> None:
    """Makes every `tf.function` run its Python code eagerly (for debugging).

    >>> import flowstone as tf
    >>> tf.config.run_functions_eagerly(False)
    """
    _RUN_EAGERLY[0] = bool(run_eagerly)


@export("config.functions_run_eagerly", "config.experimental_functions_run_eagerly")
def functions_run_eagerly() -> bool:
    """True when `tf.config.run_functions_eagerly(True)` is in effect.

    >>> import flowstone as tf
    >>> tf.config.functions_run_eagerly()
    False
    """
    return _RUN_EAGERLY[0]


class Function:
    """A callable that traces its Python function into graphs and runs them compiled."""

    def __init__(self, python_function, name=None, input_signature=None, autograph=True,
                 jit_compile=None, reduce_retracing=False, experimental_follow_type_hints=False,
                 experimental_attributes=None, experimental_implements=None, experimental_autograph_options=None):
        self._python_function = python_function
        self._autograph_options = experimental_autograph_options
        self._name = name or getattr(python_function, "__name__", "function")
        self._autograph = autograph
        self._jit_compile = jit_compile
        self._reduce_retracing = bool(reduce_retracing)
        self._follow_type_hints = bool(experimental_follow_type_hints)
        self._attributes = experimental_attributes
        self._implements = experimental_implements
        try:
            self._fn_signature = inspect.signature(python_function)
        except (TypeError, ValueError):
            self._fn_signature = None
        self._input_signature = signature.normalize_input_signature(input_signature, self._fn_signature)
        self._fast: dict = {}
        self._keyed: dict = {}
        self._traces: list = []  # (key, concrete function)
        self._retraces: list = []  # a description per retrace
        self._warned = 0
        self._calls = 0
        self._created_variables = False
        self._bound: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._bound_by_id: dict = {}
        self._fast_ok = signature.fast_path_ok(self._fn_signature) and not self._follow_type_hints
        functools.update_wrapper(self, python_function, updated=())

    # --- public API ----------------------------------------------------------------------------
    @property
    def python_function(self):
        return self._python_function

    @property
    def input_signature(self):
        return self._input_signature

    @property
    def function_spec(self):
        return self._fn_signature

    def experimental_get_tracing_count(self) -> int:
        return len(self._traces) + self._extra_traces

    _extra_traces = 0

    def get_concrete_function(self, *args, **kwargs) -> ConcreteFunction:
        """The ConcreteFunction for arguments (tensors, `tf.TensorSpec`s or Python values)."""
        if self._input_signature is not None and not args and not kwargs:
            args = self._input_signature
        return self._concrete_for(args, kwargs, from_specs=True)[0]

    def experimental_get_compiler_ir(self, *args, **kwargs):
        cf = self.get_concrete_function(*args, **kwargs)
        from flowstone.graph import printer

        return lambda stage="hlo", **_: printer.compiler_ir(cf, args, stage)

    def __get__(self, instance, owner):
        if instance is None:
            return self
        try:
            bound = self._bound.get(instance)
        except TypeError:
            bound = self._bound_by_id.get(id(instance))
        if bound is None:
            method = types.MethodType(self._python_function, instance)
            bound = Function(method, self._name, self._input_signature_for_method(), self._autograph,
                             self._jit_compile, self._reduce_retracing, self._follow_type_hints,
                             self._attributes, self._implements, self._autograph_options)
            try:
                self._bound[instance] = bound
            except TypeError:
                self._bound_by_id[id(instance)] = bound
        return bound

    def _input_signature_for_method(self):
        return self._input_signature

    def __repr__(self):
        return f"<flowstone.Function {self._name} at 0x{id(self):x}>"

    # --- calling -------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if _RUN_EAGERLY[0]:
            return self._python_function(*args, **kwargs)
        self._calls += 1
        if not kwargs and self._fast_ok:
            key = _fast_key(args)
            if key is not None:
                cf = self._fast.get(key)
                if cf is not None:
                    return cf._call_structured([a for a in args if isinstance(a, Tensor)])
        cf, leaves = self._concrete_for(args, kwargs)
        if not kwargs and self._fast_ok:
            key = _fast_key(args)
            if key is not None and len(self._fast) < 1024:
                self._fast[key] = cf
        return cf._call_structured(leaves)

    def _concrete_for(self, args, kwargs, from_specs=False):
        if self._input_signature is not None:
            (pos, kw), traced_args = signature.apply_input_signature(self, args, kwargs, from_specs)
            key = signature.trace_key(*traced_args)
        else:
            pos, kw = bind_arguments(self._fn_signature, args, kwargs)
            if self._follow_type_hints:
                pos, kw = signature.follow_type_hints(self._fn_signature, pos, kw)
            key = signature.trace_key(pos, kw)
            traced_args = (pos, kw)
        cf = self._keyed.get(key)
        if cf is None:
            cf = self._find_supertype(key)
        if cf is None:
            trace_key = key
            if self._reduce_retracing and self._input_signature is None:
                traced_args = signature.relax(self._traces, key, pos, kw)
                trace_key = signature.trace_key(*traced_args)
            cf = self._trace(trace_key, *traced_args)
            self._keyed[key] = cf
        else:
            self._keyed[key] = cf
        leaves = [x for x in nest.flatten((pos, kw)) if signature.is_tensor_leaf(x)]
        return cf, leaves

    def _find_supertype(self, key):
        for k, cf in reversed(self._traces):
            if signature.is_subtype(key, k):
                return cf
        return None

    # --- tracing -------------------------------------------------------------------------------
    def _trace(self, key, args, kwargs):
        from flowstone.core import variables

        fn = self._traceable()
        first = not self._traces and not self._created_variables
        before = next(variables._IDS)
        graph = trace(self._name, fn, args, kwargs, self._fn_signature)
        after = next(variables._IDS)
        created = after - before - 1
        if created:
            if not first:
                raise ValueError(_variable_error(graph, before, after))
            # TF traces again once variables exist, and uses the graph that creates none.
            self._created_variables = True
            self._extra_traces += 1
            before = next(variables._IDS)
            graph = trace(self._name, fn, args, kwargs, self._fn_signature)
            after = next(variables._IDS)
            if after - before - 1:
                raise ValueError(_variable_error(graph, before, after))
        cf = ConcreteFunction(graph, self._fn_signature, self._name)
        cf._function = self
        self._note_retrace(key)
        self._traces.append((key, cf))
        self._keyed[key] = cf
        if self._jit_compile and cf._needs_interpreter():
            from flowstone.core.errors import InvalidArgumentError

            raise InvalidArgumentError(
                None, None,
                f"Detected unsupported operations when trying to compile graph {cf.name.decode()} on XLA_CPU_JIT: "
                + ", ".join(sorted({n.type for n in graph.nodes if n._opdef.host})),
            )
        if self._jit_compile and (reason := tensor_list.xla_blocker(graph)):
            from flowstone.core.errors import InvalidArgumentError

            raise InvalidArgumentError(None, None, reason)
        return cf

    def _traceable(self):
        fn = self._python_function
        if not self._autograph:
            return fn
        from flowstone.graph.autograph import api

        target = fn.__func__ if isinstance(fn, types.MethodType) else fn
        if not api.should_convert(target):
            return fn
        converted = api.convert(target, features=api.features_of(self._autograph_options))
        if isinstance(fn, types.MethodType):
            return types.MethodType(converted, fn.__self__)
        return converted

    def _note_retrace(self, key) -> None:
        if not self._traces:
            return
        self._retraces.append(signature.describe_change(self._traces, key))
        count = len(self._traces) + 1
        if count >= RETRACE_WARNING_THRESHOLD and self._warned < 3 and count * 2 > self._calls:
            self._warned += 1
            _log.warning(signature.retrace_warning(self, count))


def _fast_key(args):
    key = []
    for a in args:
        t = type(a)
        if t is EagerTensor:
            key.append((a._dtype, a._value.shape))
        elif t in _SIMPLE:
            key.append((t, a))
        else:
            return None
    return tuple(key)


def _variable_error(graph, before, after) -> str:
    names = []
    for external, _ in graph.captures:
        uid = getattr(external, "_unique_id", None)
        if uid is not None and before < uid < after:
            names.append(repr(external._name))
    sites = graph.init_scope_sites[-(after - before - 1):] if graph.init_scope_sites else []
    where = [f'File "{fr[0][0]}", line {fr[0][1]}, in {fr[0][2]}' for fr in sites if fr]
    detail = "\n\nThe variable"
    detail += f" {', '.join(names)}" if names else ""
    detail += " was created on a later call" + (" at:\n  " + "\n  ".join(where) if where else ".")
    detail += "\nCreate it once (for example `if self.v is None: self.v = tf.Variable(...)`) or outside the function."
    return _VARIABLE_ERROR + detail


@export("function")
def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False,
             experimental_implements=None, experimental_autograph_options=None, experimental_attributes=None,
             experimental_relax_shapes=None, experimental_compile=None, experimental_follow_type_hints=None):
    """Compiles a Python function into a callable TensorFlow graph (one per input signature).

    Args:
      func: the function to compile (or None, to use `tf.function(...)` as a decorator).
      input_signature: a list of `tf.TensorSpec` (nests allowed) fixing the accepted inputs.
      autograph: convert Python control flow on tensors into `tf.cond` / `tf.while_loop`.
      jit_compile: require XLA compilation (every function is compiled by XLA here).
      reduce_retracing: generalize shapes instead of retracing for every new shape.

    Returns:
      A `Function`.

    >>> import flowstone as tf
    >>> @tf.function
    ... def square(x):
    ...     return x * x
    >>> print(square(tf.constant(3.0)).numpy())
    9.0
    """
    if experimental_relax_shapes is not None:
        reduce_retracing = reduce_retracing or experimental_relax_shapes
    if experimental_compile is not None and jit_compile is None:
        jit_compile = experimental_compile

    def decorate(fn):
        if isinstance(fn, Function):
            fn = fn.python_function
        return Function(fn, input_signature=input_signature, autograph=autograph, jit_compile=jit_compile,
                        reduce_retracing=reduce_retracing,
                        experimental_follow_type_hints=bool(experimental_follow_type_hints),
                        experimental_attributes=experimental_attributes,
                        experimental_implements=experimental_implements,
                        experimental_autograph_options=experimental_autograph_options)

    if func is not None:
        return decorate(func)
    return decorate


def is_tracing() -> bool:
    return ctx.graph is not None
