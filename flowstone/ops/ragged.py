"""`tf.RaggedTensor`: rows of different lengths, as flat values plus row partitions.

A minimal eager implementation (the results of `tf.strings.split` and friends): a
`RaggedTensor` is `values` (a tensor, or another RaggedTensor for deeper nesting) and an
int64 `row_splits` vector. Conversions run in NumPy on eager values.
"""

from __future__ import annotations

import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.shape import TensorShape
from flowstone.core.tensor import Tensor, convert_to_tensor


def _np(t):
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t)


@export("RaggedTensor")
class RaggedTensor:
    """A tensor whose rows may differ in length.

    >>> import flowstone as tf
    >>> rt = tf.RaggedTensor.from_row_splits([1, 2, 3, 4], row_splits=[0, 3, 3, 4])
    >>> rt.to_list()
    [[1, 2, 3], [], [4]]
    """

    __slots__ = ("_values", "_row_splits")

    def __init__(self, values, row_splits, internal=False):
        if not internal:
            raise ValueError("RaggedTensor constructor is private; please use one of the factory methods instead "
                             "(e.g., RaggedTensor.from_row_lengths())")
        self._values = values
        self._row_splits = row_splits

    # --- factories ----------------------------------------------------------------------------
    @classmethod
    def from_row_splits(cls, values, row_splits, name=None, validate=True):
        """Row `i` is `values[row_splits[i]:row_splits[i + 1]]`."""
        if not isinstance(values, RaggedTensor):
            values = convert_to_tensor(values)
        splits = _np(row_splits).astype(np.int64)
        if validate:
            n = values.nrows() if isinstance(values, RaggedTensor) else values.shape[0]
            if splits.ndim != 1 or splits.size == 0 or splits[0] != 0 or np.any(np.diff(splits) < 0):
                raise InvalidArgumentError(None, None, "Arguments to from_row_splits do not form a valid RaggedTensor")
            if int(_np(n)) != splits[-1]:
                raise InvalidArgumentError(None, None, "Last row_splits value must equal the number of values")
        return cls(values, convert_to_tensor(splits), internal=True)

    @classmethod
    def from_row_lengths(cls, values, row_lengths, name=None, validate=True):
        """Row `i` holds the next `row_lengths[i]` values."""
        lengths = _np(row_lengths).astype(np.int64)
        return cls.from_row_splits(values, np.concatenate([[0], np.cumsum(lengths)]), validate=validate)

    @classmethod
    def from_value_rowids(cls, values, value_rowids, nrows=None, name=None, validate=True):
        """Value `j` belongs to row `value_rowids[j]` (sorted); `nrows` defaults to the last id + 1."""
        ids = _np(value_rowids).astype(np.int64)
        n = int(_np(nrows)) if nrows is not None else (int(ids[-1]) + 1 if ids.size else 0)
        return cls.from_row_lengths(values, np.bincount(ids, minlength=n)[:n], validate=validate)

    @classmethod
    def from_nested_row_splits(cls, flat_values, nested_row_splits, name=None, validate=True):
        result = flat_values
        for splits in reversed(list(nested_row_splits)):
            result = cls.from_row_splits(result, splits, validate=validate)
        return result

    # --- structure ----------------------------------------------------------------------------
    @property
    def values(self):
        return self._values

    @property
    def row_splits(self) -> Tensor:
        return self._row_splits

    @property
    def flat_values(self) -> Tensor:
        v = self._values
        return v.flat_values if isinstance(v, RaggedTensor) else v

    @property
    def nested_row_splits(self):
        inner = self._values.nested_row_splits if isinstance(self._values, RaggedTensor) else ()
        return (self._row_splits,) + tuple(inner)

    @property
    def ragged_rank(self) -> int:
        return 1 + (self._values.ragged_rank if isinstance(self._values, RaggedTensor) else 0)

    @property
    def dtype(self) -> dtypes.DType:
        return self.flat_values.dtype

    @property
    def shape(self) -> TensorShape:
        inner = self._values.shape.as_list()[1:]
        return TensorShape([self.nrows_int(), None] + inner)

    def nrows_int(self) -> int:
        return int(_np(self._row_splits).shape[0] - 1)

    def nrows(self, out_type=dtypes.int64, name=None) -> Tensor:
        return convert_to_tensor(np.asarray(self.nrows_int(), dtype=dtypes.as_dtype(out_type).as_numpy_dtype))

    def row_lengths(self, axis=1, name=None) -> Tensor:
        return convert_to_tensor(np.diff(_np(self._row_splits)))

    def row_starts(self, name=None) -> Tensor:
        return convert_to_tensor(_np(self._row_splits)[:-1])

    def value_rowids(self, name=None) -> Tensor:
        lengths = np.diff(_np(self._row_splits))
        return convert_to_tensor(np.repeat(np.arange(lengths.size, dtype=np.int64), lengths))

    # --- conversion ---------------------------------------------------------------------------
    def to_list(self) -> list:
        """The rows as nested Python lists."""
        inner = self._values.to_list() if isinstance(self._values, RaggedTensor) else _np(self._values).tolist()
        s = _np(self._row_splits)
        return [inner[s[i]:s[i + 1]] for i in range(s.size - 1)]

    def numpy(self):
        """The rows as a NumPy object array of arrays (as TF returns them)."""
        s = _np(self._row_splits)
        inner = self._values.numpy() if isinstance(self._values, RaggedTensor) else _np(self._values)
        out = np.empty(s.size - 1, dtype=object)
        out[:] = [inner[s[i]:s[i + 1]] for i in range(s.size - 1)]
        return out

    def to_tensor(self, default_value=None, name=None, shape=None) -> Tensor:
        """A dense tensor, padding short rows with `default_value` (zero or b"" by default)."""
        rows = self.to_list()
        dense_shape = _max_lengths(rows, self.ragged_rank + self.flat_values.shape.rank)
        if shape is not None:
            want = TensorShape(shape).as_list()
            dense_shape = [w if w is not None else d for w, d in zip(want, dense_shape, strict=False)]
        dtype = self.dtype
        if default_value is None:
            default_value = b"" if dtype is dtypes.string else 0
        elif isinstance(default_value, str):
            default_value = default_value.encode()
        out = np.full(dense_shape, default_value, dtype=object if dtype is dtypes.string else dtype.as_numpy_dtype)
        _fill(out, rows)
        return convert_to_tensor(out, dtype=dtype)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            s = _np(self._row_splits)
            n = s.size - 1
            i = key + n if key < 0 else key
            if not 0 <= i < n:
                raise IndexError(f"Index {key} out of range for RaggedTensor with {n} rows")
            v = self._values
            if isinstance(v, RaggedTensor):
                return RaggedTensor.from_row_splits(v.values, _np(v.row_splits)[s[i]:s[i + 1] + 1] - _np(v.row_splits)[s[i]])
            return v[int(s[i]):int(s[i + 1])]
        raise TypeError(f"RaggedTensor indices must be integers, got {type(key).__name__}")

    def __len__(self):
        return self.nrows_int()

    def __repr__(self):
        return f"<tf.RaggedTensor {self.to_list()}>"

    def __str__(self):
        return f"<tf.RaggedTensor {self.to_list()}>"


def _max_lengths(rows, rank):
    dims = [0] * rank
    dims[0] = len(rows)

    def walk(node, depth):
        if depth >= rank:
            return
        dims[depth] = max(dims[depth], len(node))
        for child in node:
            if isinstance(child, list):
                walk(child, depth + 1)

    walk(rows, 0)
    return dims


def _fill(out, rows):
    for i, r in enumerate(rows):
        if isinstance(r, list):
            _fill(out[i], r)
        else:
            out[i] = r
