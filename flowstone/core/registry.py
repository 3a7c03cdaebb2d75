"""The op registry: each TensorFlow raw op is declared once, with its kernel and gradient.

An op is declared with TensorFlow's own signature notation:

    @op("MatMul", "a: T, b: T -> product: T", attrs={"T": NUMERIC, "transpose_a": False})
    def _matmul(a, b, transpose_a, transpose_b): ...

- inputs and outputs are `name: TypeAttr` (or a fixed dtype name such as `int32`); a list
  input is `name: N * T`. Inputs sharing a type attr must share a dtype.
- `attrs` maps each type attr to the dtypes it allows (None: any) and each value attr to its
  default (`REQUIRED` when it has none). The kernel receives the inputs positionally (a list
  input as a list) and the value attrs by keyword; type attrs are inferred from the inputs.
- `static` names inputs whose values the kernel needs as Python data (shapes, axes,
  permutations): they become part of the compiled kernel's cache key, like attrs.
- `host=True` marks a NumPy kernel (strings) that XLA cannot compile.
- `gradient("Name")` attaches TensorFlow's `grad(op, *output_grads)`; an op that has no
  gradient says so with `differentiable=False`.
"""

from __future__ import annotations

import functools
import re

import jax

from flowstone.core import dtypes as _d

REQUIRED = object()

FLOATS = (_d.float16, _d.bfloat16, _d.float32, _d.float64)
COMPLEX = (_d.complex64, _d.complex128)
INTS = (_d.int8, _d.int16, _d.int32, _d.int64, _d.uint8, _d.uint16, _d.uint32, _d.uint64)
INDEX = (_d.int32, _d.int64)
REAL = FLOATS + INTS
NUMERIC = REAL + COMPLEX
FLOAT_COMPLEX = FLOATS + COMPLEX

OPS: dict[str, OpDef] = {}


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
    """A registered raw op: signature, attrs, kernel, shape rule and gradient."""

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
        "stateful",
        "differentiable",
        "grad",
        "shape_fn",
        "has_lists",
        "single",
        "inferred",
        "same_dtype",
        "_cache",
    )

    def __init__(self, name, signature, attrs, kernel, static, host, stateful, differentiable, shape):
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
        self.inferred = frozenset(self.type_attrs) | {a.number_attr for a in self.inputs if a.number_attr}
        self.kernel = kernel
        self.static = tuple(static)
        names = [a.name for a in self.inputs]
        self.static_index = tuple(names.index(s) for s in self.static)
        self.host = host
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

    def compiled(self, key):
        """The cached callable for value attrs + static inputs `key` (a hashable tuple)."""
        fn = self._cache.get(key)
        if fn is None:
            fn = self._build(key)
            self._cache[key] = fn
        return fn

    def _build(self, key):
        attrs, statics = key
        kwargs = dict(attrs)
        kernel = self.kernel
        if statics:
            kernel = _with_statics(kernel, self.static_index, statics, len(self.inputs))
        fn = functools.partial(kernel, **kwargs) if kwargs else kernel
        if self.host or self.stateful:
            return fn
        return jax.jit(fn)

    def __repr__(self):
        ins = ", ".join(map(repr, self.inputs))
        outs = ", ".join(map(repr, self.outputs))
        return f"OpDef({self.name}: {ins} -> {outs})"


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


def op(
    name: str,
    signature: str,
    attrs: dict | None = None,
    *,
    static=(),
    host: bool = False,
    stateful: bool = False,
    differentiable: bool = True,
    shape=None,
):
    """Registers the decorated function as the kernel of raw op `name`."""

    def register(kernel):
        if name in OPS:
            raise ValueError(f"op {name} is registered twice")
        OPS[name] = OpDef(name, signature, attrs, kernel, static, host, stateful, differentiable, shape)
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
