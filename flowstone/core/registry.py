"""The op registry: each TensorFlow raw op is declared once, with its kernel and gradient.

An op is declared with TensorFlow's own signature notation:

    @op("MatMul", "a: T, b: T -> product: T", attrs={"T": NUMERIC, "transpose_a": False})
    def _matmul(a, b, transpose_a, transpose_b): ...

- inputs and outputs are `name: TypeAttr` (or a fixed dtype name such as `int32`); a list
  input is `name: N * T`. Inputs sharing a type attr must share a dtype.
- `attrs` maps each type attr to the dtypes it allows (None: any) and each value attr to its
  default (`REQUIRED` when it has none). The kernel receives the inputs positionally (a list
  input as a list) and the value attrs by keyword.
- Type attrs are inferred from the inputs. A kernel that needs one (an op whose typed inputs
  are all static, such as `Range`) declares a keyword parameter named like it (`Tidx=None`)
  and receives the `DType`; the compiled-kernel cache is keyed on it. Give it a default:
  graph shape inference may evaluate the kernel without it.
- `static` names inputs whose values the kernel needs as Python data (shapes, axes,
  permutations): they become part of the compiled kernel's cache key, like attrs.
- `host=True` marks a NumPy kernel (strings) that XLA cannot compile.
- String tensors reach every other kernel as int32 codes: XLA has no string type, so when a
  string tensor is an input, the op runs its ordinary (jitted) kernel on the indices of its
  strings in one sorted table of the distinct strings of that call, where b"" is code 0 (the
  zero of a string tensor, as in TensorFlow), and string outputs are mapped back through the
  table (`call_on_codes`). This is exact for the ops TensorFlow supports on strings outside
  the string family: those that move, select, repeat, pad or zero-fill elements and compare
  them for equality. An op takes string inputs when a type attr allows `string` (None allows
  any dtype); an op that computes with element values must list its dtypes without string
  (`NON_STRING`). `host_strings=True` hands the NumPy object arrays to the kernel instead
  (kernels that print or format values); ops with a `resource` input manage their own values.
- `gradient("Name")` attaches TensorFlow's `grad(op, *output_grads)`; an op that has no
  gradient says so with `differentiable=False`.
"""

from __future__ import annotations

import functools
import inspect
import re

import jax
import numpy as np

from flowstone.core import dtypes as _d

REQUIRED = object()
# What a graph shape rule returns to leave a case (unknown ranks, invalid shapes) to the
# kernel: the shape is then derived with `jax.eval_shape`, which raises the kernel's error.
DERIVE = object()

FLOATS = (_d.float16, _d.bfloat16, _d.float32, _d.float64)
COMPLEX = (_d.complex64, _d.complex128)
INTS = (_d.int8, _d.int16, _d.int32, _d.int64, _d.uint8, _d.uint16, _d.uint32, _d.uint64)
INDEX = (_d.int32, _d.int64)
REAL = FLOATS + INTS
NUMERIC = REAL + COMPLEX
FLOAT_COMPLEX = FLOATS + COMPLEX
NON_STRING = NUMERIC + (_d.bool_,)

OPS: dict[str, OpDef] = {}

# Kernels for compiled graphs in which an op's static inputs are only known at run time (a slice
# at a loop index): `fn(*input_values, **attrs)` -> outputs, or None when it cannot (the graph is
# then interpreted node by node).
TRACED_KERNELS: dict = {}


class ArgDef:
    """One input or output argument: its name, dtype rule and whether it is a list."""

    __slots__ = ("name", "type_attr", "fixed", "number_attr")

    def __init__(self, spec: str):
        name, _, rule = (p.strip() for p in spec.partition(":"))
        self.name = name
        self.number_attr = None
        if "*" in rule:
            self.number_attr, _, rule = (p.strip() for p in rule.partition("*"))
        if rule in _d._BY_NAME:
            self.fixed, self.type_attr = _d.as_dtype(rule), None
        else:
            self.fixed, self.type_attr = None, rule

    def __repr__(self):
        rule = self.fixed.name if self.fixed else self.type_attr
        return f"{self.name}: {self.number_attr + ' * ' if self.number_attr else ''}{rule}"


_SIG = re.compile(r"^(.*?)->(.*)$")


class OpDef:
    """A registered raw op: signature, attrs, kernel, shape rule and gradient.

    Besides the declaration it holds what `execute()` precomputes once per op so that the
    eager fast path does no introspection: `attr_names` (sorted value attr names),
    `default_key` (the cache key's attr part when a caller passes no attrs; None when an attr
    is required), `same_checks` / `type_checks` (the dtype constraints per input argument),
    `kernel_types` (type attrs the kernel asked for, with the input that carries each),
    `string_inputs` (positions that may carry strings into a kernel run on codes) and
    `default_fn` (the compiled kernel for the default attrs, once built).
    """

    __slots__ = (
        "name",
        "inputs",
        "outputs",
        "attrs",
        "type_attrs",
        "kernel",
        "static",
        "static_index",
        "host",
        "host_strings",
        "stateful",
        "differentiable",
        "grad",
        "shape_fn",
        "has_lists",
        "single",
        "inferred",
        "same_dtype",
        "attr_names",
        "default_key",
        "same_checks",
        "type_checks",
        "kernel_types",
        "string_inputs",
        "default_fn",
        "_cache",
    )

    def __init__(
        self,
        name,
        signature,
        attrs,
        kernel,
        static,
        host,
        stateful,
        differentiable,
        shape,
        host_strings=False,
    ):
        self.name = name
        m = _SIG.match(signature)
        if not m:
            raise ValueError(f"op {name}: signature {signature!r} needs '->'")
        self.inputs = tuple(ArgDef(s) for s in m.group(1).split(",") if s.strip())
        self.outputs = tuple(ArgDef(s) for s in m.group(2).split(",") if s.strip())
        attrs = dict(attrs or {})
        # Type attrs named by inputs are inferred from them; output-only ones (DstT, out_type,
        # dtype) are ordinary attrs that the caller passes.
        typed = {a.type_attr for a in self.inputs if a.type_attr}
        self.type_attrs = {k: attrs.pop(k, None) for k in typed}
        self.type_attrs = {k: (frozenset(v) if v else None) for k, v in self.type_attrs.items()}
        for a in self.inputs:
            if a.number_attr:
                attrs.pop(a.number_attr, None)
        self.attrs = attrs
        # Attrs that come from the inputs (dtypes, list lengths), never passed by callers.
        self.inferred = frozenset(self.type_attrs) | {
            a.number_attr for a in self.inputs if a.number_attr
        }
        self.kernel = kernel
        self.static = tuple(static)
        names = [a.name for a in self.inputs]
        self.static_index = tuple(names.index(s) for s in self.static)
        self.host = host
        self.host_strings = host or host_strings
        self.stateful = stateful
        self.differentiable = differentiable
        self.grad = None
        self.shape_fn = shape
        self.has_lists = any(a.number_attr for a in self.inputs)
        # One output tensor (returned bare) unless there are several or a list of them.
        self.single = len(self.outputs) == 1 and not self.outputs[0].number_attr
        groups = {}
        for i, a in enumerate(self.inputs):
            if a.type_attr and not a.number_attr:
                groups.setdefault(a.type_attr, []).append(i)
        self.same_dtype = tuple(tuple(g) for g in groups.values() if len(g) > 1)
        self._cache = {}
        self.default_fn = None
        self._plan()

    def _plan(self):
        """Precomputes the per-call work of `execute()` (see the class docstring)."""
        self.attr_names = tuple(sorted(self.attrs))
        if any(v is REQUIRED for v in self.attrs.values()):
            self.default_key = None
        else:
            self.default_key = tuple((k, hashable(self.attrs[k])) for k in self.attr_names)
        self.same_checks = tuple((i, g[0]) for g in self.same_dtype for i in g[1:])
        # Allowed dtypes are checked on the first input of each type attr: the others equal it
        # once `same_checks` pass. With list inputs the positions are found per call.
        checks, seen = [], set()
        for i, a in enumerate(self.inputs):
            allowed = self.type_attrs.get(a.type_attr) if a.type_attr else None
            if (allowed is not None and a.type_attr not in seen) or a.fixed is not None:
                checks.append((i, a.type_attr, allowed, a.fixed))
            seen.add(a.type_attr)
        self.type_checks = tuple(checks)
        params = _parameter_names(self.kernel) if self.type_attrs else ()
        wanted = [k for k in sorted(self.type_attrs) if k in params]
        self.kernel_types = tuple(
            (k, next(i for i, a in enumerate(self.inputs) if a.type_attr == k)) for k in wanted
        )
        self.string_inputs = ()
        takes_strings = not self.host_strings and not any(
            a.fixed is _d.resource for a in self.inputs
        )
        if takes_strings:
            # Inputs declared `string` belong to string ops, whose kernels take NumPy themselves.
            allows = {k: v is None or _d.string in v for k, v in self.type_attrs.items()}
            self.string_inputs = tuple(
                i for i, a in enumerate(self.inputs) if allows.get(a.type_attr)
            )

    @property
    def num_outputs(self) -> int:
        return len(self.outputs)

    def full_attrs(self, attrs) -> dict:
        """The value attrs with defaults filled in; raises TypeError on unknown or missing ones."""
        merged = dict(self.attrs)
        if attrs:
            for k, v in attrs.items():
                if k not in merged:
                    if k in self.inferred:
                        continue
                    raise TypeError(f"{self.name} got an unexpected attr '{k}'")
                merged[k] = v
        for k, v in merged.items():
            if v is REQUIRED:
                raise TypeError(f"{self.name} is missing the required attr '{k}'")
        return merged

    def type_key(self, inputs, attrs=None) -> tuple:
        """The `(attr, DType)` pairs of the type attrs the kernel asked for.

        `inputs` are the flattened input tensors (list inputs expanded; their lengths come
        from `attrs`). Eager dispatch and graph lowering both add these pairs to the attr
        part of the compiled kernel's cache key.
        """
        if not self.kernel_types:
            return ()
        if not self.has_lists:
            return tuple((k, inputs[i].dtype) for k, i in self.kernel_types)
        return tuple((k, inputs[flat_position(self, i, attrs)].dtype) for k, i in self.kernel_types)

    def on_codes(self, inputs) -> bool:
        """Whether a call on these (flattened) input tensors runs its kernel on string codes."""
        return bool(self.string_inputs) and any(t.dtype is _d.string for t in inputs)

    def needs_host(self, inputs) -> bool:
        """Whether a call on these input tensors must run outside XLA (a NumPy kernel or strings)."""
        if self.host:
            return True
        if not (self.string_inputs or self.host_strings and not self.stateful):
            return False
        return any(t.dtype is _d.string for t in inputs)

    def output_is_string(self, input_dtypes, attrs) -> list:
        """For each output argument, whether it is a string tensor (input_dtypes: flattened)."""
        out = []
        for arg in self.outputs:
            if arg.fixed is not None:
                dt = arg.fixed
            elif arg.type_attr in self.type_attrs:
                k = next(i for i, a in enumerate(self.inputs) if a.type_attr == arg.type_attr)
                dt = input_dtypes[flat_position(self, k, attrs) if self.has_lists else k]
            else:
                dt = (attrs or {}).get(arg.type_attr, self.attrs.get(arg.type_attr))
            out.append(dt is _d.string)
        return out

    def compiled(self, key):
        """The cached callable for value attrs + static inputs `key` (a hashable tuple)."""
        fn = self._cache.get(key)
        if fn is None:
            fn = self._build(key)
            self._cache[key] = fn
            if key == (self.default_key, ()) and not self.static_index and not self.kernel_types:
                self.default_fn = fn  # execute() calls it without building or hashing a key
        return fn

    def _build(self, key):
        attrs, statics = key
        kwargs = dict(attrs)
        kernel = self.kernel
        if statics:
            kernel = _with_statics(kernel, self.static_index, statics, len(self.inputs))
        fn = functools.partial(kernel, **kwargs) if kwargs else kernel
        if self.host or self.stateful or any(v is _d.string for v in kwargs.values()):
            return fn  # NumPy kernels, and kernels specialized to strings, run uncompiled
        return jax.jit(fn)

    def __repr__(self):
        ins = ", ".join(map(repr, self.inputs))
        outs = ", ".join(map(repr, self.outputs))
        return f"OpDef({self.name}: {ins} -> {outs})"


def _parameter_names(fn):
    """The names `fn` accepts as parameters (read from its code object when it is a function)."""
    code = getattr(fn, "__code__", None)
    if code is not None and not hasattr(fn, "__wrapped__"):
        return code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    try:
        return tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return ()


def hashable(v):
    """An attr value as hashable data (lists and arrays become tuples)."""
    if isinstance(v, list):
        return tuple(hashable(x) for x in v)
    if isinstance(v, np.ndarray):
        return hashable(v.tolist())
    return v


def flat_position(opdef: OpDef, arg_index: int, attrs) -> int:
    """Where input argument `arg_index` starts in the flattened inputs (list inputs expanded)."""
    pos = 0
    for arg in opdef.inputs[:arg_index]:
        pos += attrs[arg.number_attr] if arg.number_attr else 1
    return pos


def _with_statics(kernel, static_index, statics, n_inputs):
    """Wraps `kernel` so that the static inputs come from `statics` instead of the call."""
    dynamic = [i for i in range(n_inputs) if i not in static_index]
    given = dict(zip(static_index, statics))

    def call(*args, **kwargs):
        full = [None] * n_inputs
        for i, a in zip(dynamic, args):
            full[i] = a
        for i, v in given.items():
            full[i] = v
        return kernel(*full, **kwargs)

    return call


# --- strings as codes ------------------------------------------------------------------------


def _is_strings(v) -> bool:
    return isinstance(v, np.ndarray) and v.dtype == object


def _gather_strings(args, found):
    for a in args:
        if isinstance(a, (list, tuple)):
            _gather_strings(a, found)
        elif _is_strings(a):
            found.append(a)


def _encode(args, codes):
    out = []
    for a in args:
        if isinstance(a, (list, tuple)):
            out.append(_encode(a, codes))
        elif _is_strings(a):
            out.append(codes[id(a)])
        else:
            out.append(a)
    return out


_EMPTY = np.array([b""], dtype=object)


def call_on_codes(fn, args, string_out):
    """Runs kernel `fn` on `args` with each string array replaced by int32 codes.

    The codes index one sorted table of every distinct string among the arguments plus b""
    (so b"" is code 0 and codes compare as the strings do). `string_out` says, per output
    argument, whether it is a string tensor; those outputs are mapped back through the table
    into NumPy object arrays, the others are returned as the kernel made them.
    """
    found = []
    _gather_strings(args, found)
    table, inverse = np.unique(
        np.concatenate([a.reshape(-1) for a in found] + [_EMPTY]), return_inverse=True
    )
    codes, start = {}, 0
    for a in found:
        codes[id(a)] = inverse[start : start + a.size].astype(np.int32).reshape(a.shape)
        start += a.size
    out = fn(*_encode(args, codes))
    if len(string_out) == 1 and not isinstance(out, (tuple, list)):
        return _decode(out, table) if string_out[0] else out
    flags = string_out * len(out) if len(string_out) == 1 else string_out
    return type(out)(_decode(o, table) if s else o for o, s in zip(out, flags, strict=True))


def _decode(codes, table):
    c = np.asarray(codes)
    return table[c.reshape(-1)].reshape(c.shape)


def op(
    name: str,
    signature: str,
    attrs: dict | None = None,
    *,
    static=(),
    host: bool = False,
    host_strings: bool = False,
    stateful: bool = False,
    differentiable: bool = True,
    shape=None,
):
    """Registers the decorated function as the kernel of raw op `name`."""

    def register(kernel):
        if name in OPS:
            raise ValueError(f"op {name} is registered twice")
        OPS[name] = OpDef(
            name,
            signature,
            attrs,
            kernel,
            static,
            host,
            stateful,
            differentiable,
            shape,
            host_strings,
        )
        return kernel

    return register


def gradient(name: str):
    """Attaches the decorated `grad(op, *output_grads) -> list` to raw op `name`."""

    def register(fn):
        OPS[name].grad = fn
        return fn

    return register


def get(name: str) -> OpDef:
    try:
        return OPS[name]
    except KeyError:
        raise LookupError(f"No op named {name} is registered in flowstone") from None
