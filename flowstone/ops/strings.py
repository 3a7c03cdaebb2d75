"""`tf.strings`: host ops over NumPy object arrays of bytes.

Every kernel here is NumPy (`host=True`): XLA has no strings. Results that are numbers
come back as jax arrays like every other numeric tensor. `StringFormat` (TF's tensor
formatting, also behind `tf.print`) lives in `flowstone/ops/formatting.py`.
"""

from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.errors import InvalidArgumentError, OutOfRangeError
from flowstone.core.execute import execute
from flowstone.core.registry import INDEX, op
from flowstone.core.tensor import Tensor, convert_to_tensor
from flowstone.ops.formatting import string_format  # noqa: F401 - tf.strings.format lives there
from flowstone.ops.ragged import RaggedTensor

_HOST = dict(host=True, differentiable=False)


def _strings(x, name="input") -> Tensor:
    try:
        t = convert_to_tensor(x, dtype=dtypes.string) if not isinstance(x, Tensor) else x
    except (TypeError, ValueError):
        raise TypeError(f"Cannot convert {x!r} to EagerTensor of dtype string") from None
    if t.dtype is not dtypes.string:
        raise TypeError(f"`{name}` must be a string tensor, got a {t.dtype.name} tensor")
    return t


def _map(fn, a, out=object):
    """Applies `fn` to every element of the object array `a`, keeping its shape."""
    a = np.asarray(a, dtype=object)
    flat = [fn(v) for v in a.reshape(-1)]
    res = np.empty(len(flat), dtype=out) if out is object else np.array(flat, dtype=out)
    if out is object:
        res[:] = flat
    return res.reshape(a.shape)


def _check_choice(op_name, attr, value, allowed):
    if value not in allowed:
        names = ", ".join(f'"{a}"' for a in allowed)
        raise InvalidArgumentError(
            None, None, f'Value for attr \'{attr}\' of "{value}" is not in the list of allowed values: {names} '
            f"[Op:{op_name}]"
        )


def _utf8_starts(b: bytes):
    """Byte offsets where UTF-8 characters start (bytes that are not continuation bytes)."""
    return [i for i, c in enumerate(b) if c & 0xC0 != 0x80]


# --- StringLength ------------------------------------------------------------------------------


@op("StringLength", "input: string -> output: int32", {"unit": "BYTE"}, **_HOST)
def _string_length(x, unit):
    count = len if unit == "BYTE" else (lambda b: len(_utf8_starts(b)))
    return jnp.asarray(_map(count, x, np.int32))


@export("strings.length")
def length(input, unit="BYTE", name=None):  # noqa: A002 - TF's argument name
    """The length of each string, in bytes or in UTF-8 characters.

    >>> import flowstone as tf
    >>> tf.strings.length(["héllo", "a"], unit="UTF8_CHAR").numpy()
    array([5, 1], dtype=int32)
    """
    _check_choice("StringLength", "unit", unit, ("BYTE", "UTF8_CHAR"))
    return execute("StringLength", (_strings(input),), {"unit": unit}, name=name)


# --- StringJoin / ReduceJoin -------------------------------------------------------------------


@op("StringJoin", "inputs: N * string -> output: string", {"separator": ""}, **_HOST)
def _string_join(inputs, separator):
    arrays = [np.asarray(a, dtype=object) for a in inputs]
    shapes = {a.shape for a in arrays if a.ndim}
    if len(shapes) > 1:
        first, *rest = [list(a.shape) for a in arrays if a.ndim]
        other = next(s for s in rest if s != first)
        raise ValueError(f"Input shapes do not match: {first} vs. {other}")
    shape = shapes.pop() if shapes else ()
    sep = separator.encode() if isinstance(separator, str) else separator
    cols = [np.broadcast_to(a, shape).reshape(-1) for a in arrays]
    out = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=object)
    out[:] = [sep.join(parts) for parts in zip(*cols, strict=False)] if cols else []
    return out.reshape(shape)


@export("strings.join")
def join(inputs, separator="", name=None):
    """Joins strings element-wise across the input tensors (scalars broadcast).

    >>> import flowstone as tf
    >>> tf.strings.join(["a", ["b", "c"]], separator="-").numpy()
    array([b'a-b', b'a-c'], dtype=object)
    """
    inputs = [_strings(x, "inputs") for x in inputs]
    if not inputs:
        return convert_to_tensor(b"")
    return execute("StringJoin", (inputs,), {"separator": separator}, name=name)


@op("ReduceJoin", "inputs: string, reduction_indices: int32 -> output: string", {"keep_dims": False, "separator": ""},
    static=("reduction_indices",), **_HOST)
def _reduce_join(x, axes, keep_dims, separator):
    x = np.asarray(x, dtype=object)
    axes = tuple(sorted({a % x.ndim for a in (axes if isinstance(axes, tuple) else (axes,))})) if x.ndim else ()
    kept = [d for d in range(x.ndim) if d not in axes]
    moved = np.transpose(x, kept + list(axes))
    rows = moved.reshape(int(np.prod([x.shape[d] for d in kept], dtype=np.int64)), -1)
    sep = separator.encode() if isinstance(separator, str) else separator
    out = np.empty(rows.shape[0], dtype=object)
    out[:] = [sep.join(r) for r in rows]
    shape = [1 if d in axes else x.shape[d] for d in range(x.ndim)] if keep_dims else [x.shape[d] for d in kept]
    return out.reshape(shape)


@export("strings.reduce_join")
def reduce_join(inputs, axis=None, keepdims=False, separator="", name=None):
    """Joins the strings of `inputs` across `axis` (all axes when None).

    >>> import flowstone as tf
    >>> tf.strings.reduce_join([["a", "b"], ["c", "d"]], axis=1, separator="-").numpy()
    array([b'a-b', b'c-d'], dtype=object)
    """
    x = _strings(inputs, "inputs")
    rank = x.shape.rank
    axes = list(range(rank)) if axis is None else np.ravel(np.asarray(axis)).tolist()
    for a in axes:
        if not -rank <= a < max(rank, 1):
            raise OutOfRangeError(
                None, None, f"Invalid reduction dimension {a} for input with {rank} dimension(s) [Op:ReduceJoin]"
            )
    axes_t = convert_to_tensor(np.asarray(axes, dtype=np.int32))
    return execute("ReduceJoin", (x, axes_t), {"keep_dims": bool(keepdims), "separator": separator}, name=name)


# --- StringSplitV2, bytes_split, unicode_split ---------------------------------------------------


@op("StringSplitV2", "input: string, sep: string -> indices: int64, values: string, shape: int64",
    {"maxsplit": -1}, **_HOST)
def _string_split(x, sep, maxsplit):
    sep = np.asarray(sep, dtype=object).reshape(()).item() or None
    parts = [b.split(sep, maxsplit) if b or sep is None else [] for b in np.asarray(x, dtype=object).reshape(-1)]
    indices = [(i, j) for i, p in enumerate(parts) for j in range(len(p))]
    values = np.empty(len(indices), dtype=object)
    values[:] = [t for p in parts for t in p]
    width = max((len(p) for p in parts), default=0)
    idx = np.asarray(indices, dtype=np.int64).reshape(-1, 2)
    return jnp.asarray(idx), values, jnp.asarray([len(parts), width], dtype=jnp.int64)


def _ragged_from_rows(rows, x: Tensor, values_dtype=dtypes.string):
    """A RaggedTensor from one list of tokens per element of `x` (rank >= 1), TF-style nested."""
    splits = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    flat = [t for r in rows for t in r]
    if values_dtype is dtypes.string:
        arr = np.empty(len(flat), dtype=object)
        arr[:] = flat
    else:
        arr = np.asarray(flat, dtype=values_dtype.as_numpy_dtype)
    result = RaggedTensor.from_row_splits(convert_to_tensor(arr), convert_to_tensor(splits))
    dims = x.shape.as_list()
    for i in range(len(dims) - 1, 0, -1):
        n = int(np.prod(dims[:i], dtype=np.int64))
        result = RaggedTensor.from_row_splits(result, convert_to_tensor(np.arange(n + 1, dtype=np.int64) * dims[i]))
    return result


@export("strings.split")
def split(input, sep=None, maxsplit=-1, name=None):  # noqa: A002
    """Splits each string at `sep` (runs of whitespace when None): a 1-D tensor for a scalar
    input, a `tf.RaggedTensor` otherwise.

    >>> import flowstone as tf
    >>> tf.strings.split(["a b", "c"]).to_list()
    [[b'a', b'b'], [b'c']]
    """
    x = _strings(input)
    sep_t = convert_to_tensor(b"" if sep is None else sep, dtype=dtypes.string)
    if x.shape.rank == 0:
        _, values, _ = execute("StringSplitV2", (x, sep_t), {"maxsplit": maxsplit}, name=name)
        return values
    indices, values, shape = execute("StringSplitV2", (x, sep_t), {"maxsplit": maxsplit},
                                     name=name)
    rowids = np.asarray(indices.numpy())[:, 0]
    counts = np.bincount(rowids, minlength=int(shape.numpy()[0]))
    vals = values.numpy()
    starts = np.concatenate([[0], np.cumsum(counts)])
    return _ragged_from_rows([list(vals[starts[i]:starts[i + 1]]) for i in range(len(counts))], x)


@export("strings.bytes_split")
def bytes_split(input, name=None):  # noqa: A002
    """Splits each string into its bytes.

    >>> import flowstone as tf
    >>> tf.strings.bytes_split("ab").numpy()
    array([b'a', b'b'], dtype=object)
    """
    x = _strings(input)
    rows = [[bytes([c]) for c in b] for b in np.asarray(x.numpy(), dtype=object).reshape(-1)]
    if x.shape.rank == 0:
        return convert_to_tensor(_object_array(rows[0]))
    return _ragged_from_rows(rows, x)


def _object_array(items):
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr


def _decode_chars(b: bytes, errors, replacement_char):
    """The characters of UTF-8 `b` as (code point, bytes) pairs; invalid bytes per `errors`."""
    out, i = [], 0
    while i < len(b):
        for n in (1, 2, 3, 4):
            try:
                ch = b[i:i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            out.append((ord(ch), b[i:i + n]))
            i += n
            break
        else:
            if errors == "strict":
                raise InvalidArgumentError(None, None, "Invalid formatting on input string [Op:UnicodeDecode]")
            if errors == "replace":
                out.append((replacement_char, chr(replacement_char).encode("utf-8")))
            i += 1
    return out


@export("strings.unicode_split")
def unicode_split(input, input_encoding, errors="replace", replacement_char=65533, name=None):  # noqa: A002
    """Splits each string into its Unicode characters (as UTF-8 strings).

    >>> import flowstone as tf
    >>> tf.strings.unicode_split("hé", "UTF-8").numpy()
    array([b'h', b'\\xc3\\xa9'], dtype=object)
    """
    x = _strings(input)
    _check_encoding(input_encoding)
    rows = [[c for _, c in _decode_chars(b, errors, replacement_char)] for b in np.ravel(x.numpy())]
    if x.shape.rank == 0:
        return convert_to_tensor(_object_array(rows[0]))
    return _ragged_from_rows(rows, x)


@export("strings.unicode_decode")
def unicode_decode(input, input_encoding, errors="replace", replacement_char=65533,  # noqa: A002
                   replace_control_characters=False, name=None):
    """Decodes each string into its Unicode code points (int32).

    >>> import flowstone as tf
    >>> tf.strings.unicode_decode("hé", "UTF-8").numpy()
    array([104, 233], dtype=int32)
    """
    x = _strings(input)
    _check_encoding(input_encoding)
    rows = []
    for b in np.ravel(x.numpy()):
        points = [cp for cp, _ in _decode_chars(b, errors, replacement_char)]
        if replace_control_characters:
            points = [replacement_char if cp < 32 or 127 <= cp < 160 else cp for cp in points]
        rows.append(points)
    if x.shape.rank == 0:
        return convert_to_tensor(np.asarray(rows[0], dtype=np.int32))
    return _ragged_from_rows(rows, x, dtypes.int32)


def _check_encoding(encoding):
    if encoding.upper().replace("_", "-") not in ("UTF-8", "UTF8"):
        raise InvalidArgumentError(None, None, f"Could not create converter for input encoding: {encoding}")


# --- Substr -------------------------------------------------------------------------------------


@op("Substr", "input: string, pos: T, len: T -> output: string", {"T": INDEX, "unit": "BYTE"}, **_HOST)
def _substr(x, pos, length, unit):
    x = np.asarray(x, dtype=object)
    try:
        xs, ps, ls = np.broadcast_arrays(x, np.asarray(pos), np.asarray(length))
    except ValueError:
        raise ValueError(
            f"pos and len should have the same shape as input: {list(x.shape)} vs. {list(np.shape(pos))}"
        ) from None
    out = np.empty(xs.size, dtype=object)
    for i, (b, p, n) in enumerate(zip(xs.reshape(-1), ps.reshape(-1), ls.reshape(-1), strict=False)):
        starts = list(range(len(b) + 1)) if unit == "BYTE" else _utf8_starts(b) + [len(b)]
        count = len(starts) - 1
        q = int(p) + count if p < 0 else int(p)
        if q < 0 or q > count:
            raise ValueError(f"pos {int(p)} out of range for string {b!r} at index {i}")
        end = min(q + max(int(n), 0), count)
        out[i] = b[starts[q]:starts[end]]
    return out.reshape(xs.shape)


@export("strings.substr")
def substr(input, pos, len, unit="BYTE", name=None):  # noqa: A002 - TF's argument names
    """Substrings of `len` bytes (or UTF-8 characters) from `pos` (negative: from the end).

    >>> import flowstone as tf
    >>> tf.strings.substr("hello", 1, 3).numpy()
    b'ell'
    """
    _check_choice("Substr", "unit", unit, ("BYTE", "UTF8_CHAR"))
    pos = convert_to_tensor(pos, dtype_hint=dtypes.int32)
    length = convert_to_tensor(len, dtype=pos.dtype)
    return execute("Substr", (_strings(input), pos, length), {"unit": unit}, name=name)


# --- case, strip --------------------------------------------------------------------------------


def _recase(method):
    def kernel(x, encoding):
        if encoding:
            return _map(lambda b: getattr(b.decode("utf-8", "replace"), method)().encode("utf-8"), x)
        return _map(lambda b: getattr(b, method)(), x)

    return kernel


op("StringLower", "input: string -> output: string", {"encoding": ""}, **_HOST)(_recase("lower"))
op("StringUpper", "input: string -> output: string", {"encoding": ""}, **_HOST)(_recase("upper"))


@export("strings.lower")
def lower(input, encoding="", name=None):  # noqa: A002
    """Lower-cases ASCII letters (all letters with `encoding="utf-8"`).

    >>> import flowstone as tf
    >>> tf.strings.lower("HeLLo").numpy()
    b'hello'
    """
    return execute("StringLower", (_strings(input),), {"encoding": encoding.lower()}, name=name)


@export("strings.upper")
def upper(input, encoding="", name=None):  # noqa: A002
    """Upper-cases ASCII letters (all letters with `encoding="utf-8"`).

    >>> import flowstone as tf
    >>> tf.strings.upper("HeLLo").numpy()
    b'HELLO'
    """
    return execute("StringUpper", (_strings(input),), {"encoding": encoding.lower()}, name=name)


op("StringStrip", "input: string -> output: string", **_HOST)(lambda x: _map(bytes.strip, x))


@export("strings.strip")
def strip(input, name=None):  # noqa: A002
    """Removes leading and trailing whitespace.

    >>> import flowstone as tf
    >>> tf.strings.strip("  a b \\n").numpy()
    b'a b'
    """
    return execute("StringStrip", (_strings(input),), name=name)


# --- regular expressions ------------------------------------------------------------------------


def _compile(pattern, op_name):
    p = np.asarray(pattern, dtype=object).reshape(()).item()
    try:
        return re.compile(p)
    except re.error as e:
        text = p.decode("utf-8", "replace")
        raise ValueError(f"Invalid pattern: {text}, error: {e}") from None


def _rewriter(rewrite: bytes):
    """RE2's rewrite syntax (\\0-\\9 groups, \\\\ a backslash) as a replacement function."""
    pieces, i = [], 0
    while i < len(rewrite):
        c = rewrite[i:i + 1]
        if c == b"\\" and i + 1 < len(rewrite):
            nxt = rewrite[i + 1:i + 2]
            pieces.append(int(nxt) if nxt.isdigit() else nxt)
            i += 2
        else:
            pieces.append(c)
            i += 1
    return lambda m: b"".join(m.group(p) or b"" if isinstance(p, int) else p for p in pieces)


@op("RegexReplace", "input: string, pattern: string, rewrite: string -> output: string", {"replace_global": True},
    **_HOST)
def _regex_replace(x, pattern, rewrite, replace_global):
    rx = _compile(pattern, "RegexReplace")
    fn = _rewriter(np.asarray(rewrite, dtype=object).reshape(()).item())
    return _map(lambda b: rx.sub(fn, b, count=0 if replace_global else 1), x)


@export("strings.regex_replace")
def regex_replace(input, pattern, rewrite, replace_global=True, name=None):  # noqa: A002
    """Replaces matches of the RE2 `pattern` with `rewrite` (`\\1` names a group).

    >>> import flowstone as tf
    >>> tf.strings.regex_replace("aabbaa", "a+", "X").numpy()
    b'XbbX'
    """
    inputs = (_strings(input), _strings(pattern, "pattern"), _strings(rewrite, "rewrite"))
    return execute("RegexReplace", inputs, {"replace_global": bool(replace_global)}, name=name)


@op("RegexFullMatch", "input: string, pattern: string -> output: bool", **_HOST)
def _regex_full_match(x, pattern):
    rx = _compile(pattern, "RegexFullMatch")
    return jnp.asarray(_map(lambda b: rx.fullmatch(b) is not None, x, np.bool_))


@export("strings.regex_full_match")
def regex_full_match(input, pattern, name=None):  # noqa: A002
    """Whether each whole string matches the RE2 `pattern`.

    >>> import flowstone as tf
    >>> tf.strings.regex_full_match(["abc", "ab"], "a.c").numpy()
    array([ True, False])
    """
    return execute("RegexFullMatch", (_strings(input), _strings(pattern, "pattern")), name=name)


# --- numbers <-> strings ------------------------------------------------------------------------

_INT_TEXT = re.compile(rb"^\s*[+-]?\d+\s*$")
_FLOAT_TEXT = re.compile(rb"^\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf(inity)?|nan)\s*$", re.I)
_HEX_TEXT = re.compile(rb"^\s*[+-]?0[xX][0-9a-fA-F]+(\.[0-9a-fA-F]*)?([pP][+-]?\d+)?\s*$")
_NUMBER_DTYPES = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64, dtypes.uint32, dtypes.uint64)


def _parse_number(b: bytes, dtype):
    bad = ValueError(f"StringToNumberOp could not correctly convert string: {b.decode('utf-8', 'replace')}")
    if dtype.is_integer:
        if not _INT_TEXT.match(b):
            raise bad
        v = int(b)
        if not dtype.min <= v <= dtype.max:
            raise bad
        return v
    if _FLOAT_TEXT.match(b):
        return float(b)
    if _HEX_TEXT.match(b):
        return float.fromhex(b.strip().decode())
    raise bad


@op("StringToNumber", "string_tensor: string -> output: out_type", {"out_type": dtypes.float32}, **_HOST)
def _string_to_number(x, out_type):
    np_dtype = out_type.as_numpy_dtype
    return jnp.asarray(_map(lambda b: _parse_number(b, out_type), x, object).astype(np_dtype))


@export("strings.to_number")
def to_number(input, out_type=dtypes.float32, name=None):  # noqa: A002
    """Parses each string as a number of `out_type`.

    >>> import flowstone as tf
    >>> tf.strings.to_number(["1.5", "2"]).numpy()
    array([1.5, 2. ], dtype=float32)
    """
    out_type = dtypes.as_dtype(out_type)
    if out_type not in _NUMBER_DTYPES:
        names = "float, double, int32, int64, uint32, uint64"
        raise InvalidArgumentError(
            None, None,
            f"Value for attr 'out_type' of {out_type.name} is not in the list of allowed values: {names} "
            "[Op:StringToNumber]",
        )
    return execute("StringToNumber", (_strings(input),), {"out_type": out_type}, name=name)


def _as_string_spec(dtype, precision, scientific, shortest, width, fill):
    """The printf conversion AsString applies to each element of a `dtype` tensor."""
    floating = dtype.is_floating or dtype.is_complex
    if scientific and shortest:
        raise ValueError("Cannot select both scientific and shortest notation")
    for flag, label in ((precision > -1, "precision"), (scientific, "scientific"), (shortest, "shortest")):
        if flag and not floating:
            raise ValueError(f"{label} not supported for datatype {dtype.name}")
    if len(fill) > 1:
        raise ValueError("Fill string must be one or fewer characters")
    if fill and fill not in " +-0#":
        raise ValueError(f'Fill argument not supported: "{fill}"')
    spec = "%" + fill + (str(width) if width > -1 else "")
    if floating:
        spec += (f".{precision}" if precision > -1 else "") + ("e" if scientific else "g" if shortest else "f")
    elif dtype is dtypes.string or dtype.is_bool:
        spec += "s"
    else:
        spec += "d"
    return spec


@op("AsString", "input: T -> output: string",
    {"precision": -1, "scientific": False, "shortest": False, "width": -1, "fill": ""}, **_HOST)
def _as_string(x, precision, scientific, shortest, width, fill):
    x = np.asarray(x)
    dtype = dtypes.from_numpy(x.dtype)
    spec = _as_string_spec(dtype, precision, scientific, shortest, width, fill)
    if dtype.is_complex:
        fmt = lambda v: ("(" + spec + "," + spec + ")") % (v.real, v.imag)  # noqa: E731
    elif dtype.is_bool:
        fmt = lambda v: spec % ("true" if v else "false")  # noqa: E731
    elif dtype is dtypes.string:
        fmt = lambda v: spec % v.decode("utf-8", "replace")  # noqa: E731
    elif dtype.is_floating:
        fmt = lambda v: spec % float(v)  # noqa: E731
    else:
        fmt = lambda v: spec % int(v)  # noqa: E731
    return _map(lambda v: fmt(v).encode("utf-8"), x)


@export("strings.as_string", "as_string")
def as_string(input, precision=-1, scientific=False, shortest=False, width=-1, fill="", name=None):  # noqa: A002
    """Formats each element as a string (printf-style options).

    >>> import flowstone as tf
    >>> tf.strings.as_string([3, 42], width=4, fill="0").numpy()
    array([b'0003', b'0042'], dtype=object)
    """
    attrs = {"precision": precision, "scientific": scientific, "shortest": shortest, "width": width, "fill": fill}
    return execute("AsString", (convert_to_tensor(input),), attrs, name=name)


# --- string equality (the `Equal`/`NotEqual` kernels are jax: strings need this host path) ------


def string_equal(x, y, equal=True):
    """Element-wise equality of two string tensors with broadcasting, as a bool tensor."""
    a, b = np.asarray(x.numpy(), dtype=object), np.asarray(y.numpy(), dtype=object)
    try:
        res = np.equal(a, b) if equal else np.not_equal(a, b)
    except ValueError:
        raise InvalidArgumentError(
            None, None, f"Incompatible shapes: {list(a.shape)} vs. {list(b.shape)} [Op:{'Equal' if equal else 'NotEqual'}]"
        ) from None
    return convert_to_tensor(np.asarray(res, dtype=bool))
