"""`tf.random.Generator`: a counter-based generator whose state is an int64 tensor.

The state layout is TensorFlow's: Philox `[counter_lo, counter_hi, key]`, ThreeFry
`[counter, key]`. Each draw reads the state, advances the counter by 256 per element (so
the state after a draw equals TensorFlow's), and runs a stateless `...V2` op with that key
and counter. The numbers themselves come from jax's threefry generator (see
`flowstone/ops/random.py`), so they differ from TensorFlow's while the state does not.

The state lives in `_StateHolder`, a small stand-in for `tf.Variable`; it will become a
resource variable (and draws `RngReadAndSkip` ops) so that compiled functions thread it.
"""

from __future__ import annotations

import enum
import secrets

import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.execute import execute
from flowstone.core.tensor import convert_to_tensor
from flowstone.ops import array, math
from flowstone.ops.random import _check_dtype, _check_int_range, _scale_shift, shape_tensor
from flowstone.ops.random_stateless import stateless_binomial

_MASK64 = 2**64 - 1


@export("random.Algorithm", "random.experimental.Algorithm")
class Algorithm(enum.Enum):
    """The counter-based RNG algorithms a `tf.random.Generator` can use.

    >>> import flowstone as tf
    >>> tf.random.Algorithm.PHILOX.value
    1
    """

    PHILOX = 1
    THREEFRY = 2
    AUTO_SELECT = 3


_STATE_SIZE = {1: 3, 2: 2}


def _alg(alg) -> int:
    if alg is None:
        return Algorithm.PHILOX.value
    if isinstance(alg, Algorithm):
        alg = alg.value
    if isinstance(alg, str):
        alg = {"philox": 1, "threefry": 2, "auto_select": 3}.get(alg.lower(), alg)
    if alg in (1, 2, 3) and not isinstance(alg, bool):
        return 1 if alg == 3 else int(alg)
    raise ValueError(
        f"Argument `alg` got unsupported value {alg}. Supported values are philox for the Philox "
        "algorithm, threefry for the ThreeFry algorithm, and auto_select for auto-selection."
    )


def _words(seed, size) -> np.ndarray:
    """A seed (int or list of ints) as `size` little-endian 64-bit words, as int64."""
    if isinstance(seed, (int, np.integer)):
        seed = int(seed) & (2 ** (64 * size) - 1)
        words = [(seed >> (64 * i)) & _MASK64 for i in range(size)]
    else:
        words = [int(w) & _MASK64 for w in np.ravel(np.asarray(seed))][:size]
        words += [0] * (size - len(words))
    return np.array(words, dtype=np.uint64).view(np.int64)


@export("random.create_rng_state", "random.experimental.create_rng_state")
def create_rng_state(seed, alg):
    """The initial generator state for `seed` (an int64 tensor of the algorithm's state size).

    >>> import flowstone as tf
    >>> tf.random.create_rng_state(1234, "philox").numpy()
    array([1234,    0,    0])
    """
    alg = _alg(alg)
    return convert_to_tensor(_words(seed, _STATE_SIZE[alg]))


class _StateHolder:
    """The generator state (an int64 tensor); stands in for a `tf.Variable` until variables exist."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = convert_to_tensor(np.asarray(value, dtype=np.int64))

    dtype = property(lambda self: dtypes.int64)
    shape = property(lambda self: self.value.shape)

    def numpy(self):
        return self.value.numpy()

    def read_value(self):
        return self.value

    def assign(self, value):
        self.value = convert_to_tensor(np.asarray(value, dtype=np.int64))
        return self.value

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value.numpy(), dtype=dtype)

    def __repr__(self):
        return f"<tf.Variable 'StateVar:0' shape={self.shape} dtype=int64, numpy={self.numpy()!r}>"


@export("random.Generator", "random.experimental.Generator")
class Generator:
    """A random number generator with explicit state.

    >>> import flowstone as tf
    >>> g = tf.random.Generator.from_seed(1234)
    >>> g.normal([2]).shape
    TensorShape([2])
    >>> g.state.numpy()
    array([1746,    0,    0])
    """

    def __init__(self, copy_from=None, state=None, alg=None):
        if copy_from is not None:
            if state is not None or alg is not None:
                raise ValueError("When `copy_from` is not None, `state` and `alg` must be None.")
            self._alg = copy_from.algorithm
            state = copy_from.state.numpy()
        else:
            if state is None or alg is None:
                raise ValueError("When `copy_from` is None, `state` and `alg` can't be None.")
            self._alg = _alg(alg)
            state = np.asarray(state.numpy() if hasattr(state, "numpy") else state)
            size = _STATE_SIZE[self._alg]
            if state.shape != (size,):
                raise ValueError(f"Shapes {state.shape} and [{size}] are incompatible")
        self._state = _StateHolder(state)

    # --- constructors ---------------------------------------------------------------------
    @classmethod
    def from_seed(cls, seed, alg=None):
        """A generator whose state is derived from the integer `seed`."""
        alg = _alg(alg)
        return cls(state=_words(seed, _STATE_SIZE[alg]), alg=alg)

    @classmethod
    def from_non_deterministic_state(cls, alg=None):
        """A generator with a random initial state."""
        alg = _alg(alg)
        return cls(state=_words([secrets.randbits(64) for _ in range(3)], _STATE_SIZE[alg]), alg=alg)

    @classmethod
    def from_state(cls, state, alg):
        """A generator with the given state (int64 vector of the algorithm's state size)."""
        return cls(state=state, alg=alg)

    @classmethod
    def from_key_counter(cls, key, counter, alg):
        """A generator from a key (int) and a counter (list of ints)."""
        alg = _alg(alg)
        counter = list(np.ravel(np.asarray(counter)))[: _STATE_SIZE[alg] - 1]
        return cls(state=_words(counter + [int(key)], _STATE_SIZE[alg]), alg=alg)

    # --- state ----------------------------------------------------------------------------
    @property
    def state(self):
        return self._state

    @property
    def algorithm(self) -> int:
        return self._alg

    @property
    def key(self):
        return convert_to_tensor(self._state.numpy()[-1])

    def reset(self, state):
        self._state.assign(state)

    def reset_from_seed(self, seed):
        self._state.assign(_words(seed, _STATE_SIZE[self._alg]))

    def reset_from_key_counter(self, key, counter):
        counter = list(np.ravel(np.asarray(counter)))
        self._state.assign(_words(counter + [int(key)], _STATE_SIZE[self._alg]))

    def skip(self, delta):
        """Advances the counter as `delta` draws would; returns the state before."""
        old = self._state.value
        self._read_and_skip(int(delta))
        return old

    def _read_and_skip(self, n):
        words = self._state.numpy().view(np.uint64)
        if self._alg == 1:
            counter = int(words[0]) | (int(words[1]) << 64)
            key = int(words[2])
            nxt = (counter + n * 256) % 2**128
            self._state.assign(_words([nxt & _MASK64, nxt >> 64, key], 3))
        else:
            counter, key = int(words[0]), int(words[1])
            self._state.assign(_words([(counter + n * 256) & _MASK64, key], 2))
        key_t = convert_to_tensor(np.array([key], dtype=np.uint64))
        counter_t = convert_to_tensor(np.array([counter & _MASK64, counter >> 64], dtype=np.uint64))
        return key_t, counter_t

    def _run(self, op_name, shape, attrs=None, extra=(), name=None):
        shape = shape_tensor(shape)
        n = int(np.prod(np.asarray(shape.numpy(), dtype=np.int64)))
        key, counter = self._read_and_skip(n)
        alg = convert_to_tensor(np.int32(self._alg))
        return execute(op_name, (shape, key, counter, alg, *extra), attrs, name=name)

    # --- draws ----------------------------------------------------------------------------
    def normal(self, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None):
        """Normal samples of `shape`."""
        dtype = _check_dtype(dtype, _FLOATS)
        mean, stddev = convert_to_tensor(mean, dtype=dtype), convert_to_tensor(stddev, dtype=dtype)
        return _scale_shift(self._run("StatelessRandomNormalV2", shape, {"dtype": dtype}, name=name), stddev, mean)

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None):
        """Normal samples of `shape`, redrawn beyond two standard deviations."""
        dtype = _check_dtype(dtype, _FLOATS)
        mean, stddev = convert_to_tensor(mean, dtype=dtype), convert_to_tensor(stddev, dtype=dtype)
        rnd = self._run("StatelessTruncatedNormalV2", shape, {"dtype": dtype}, name=name)
        return _scale_shift(rnd, stddev, mean)

    def uniform(self, shape, minval=0, maxval=None, dtype=dtypes.float32, name=None):
        """Uniform samples in `[minval, maxval)`; integers over the full range when both are None."""
        dtype = _check_dtype(dtype, _FLOATS + _INTS)
        if dtype.is_integer:
            if (minval is None) != (maxval is None):
                raise ValueError(
                    f"For integer dtype {dtype}, minval and maxval must be both `None` or both non-`None`; "
                    f"got minval={minval} and maxval={maxval}"
                )
            if minval is None:
                return self.uniform_full_int(shape, dtype=dtype, name=name)
            minval, maxval = convert_to_tensor(minval, dtype=dtype), convert_to_tensor(maxval, dtype=dtype)
            _check_int_range(minval, maxval, "StatelessRandomUniformIntV2")
            return self._run("StatelessRandomUniformIntV2", shape, extra=(minval, maxval), name=name)
        minval = convert_to_tensor(minval, dtype=dtype)
        maxval = convert_to_tensor(1 if maxval is None else maxval, dtype=dtype)
        rnd = self._run("StatelessRandomUniformV2", shape, {"dtype": dtype}, name=name)
        return _scale_shift(rnd, math.subtract(maxval, minval), minval)

    def uniform_full_int(self, shape, dtype=dtypes.uint64, name=None):
        """Integers uniform over the whole range of `dtype`."""
        dtype = _check_dtype(dtype, _INTS)
        return self._run("StatelessRandomUniformFullIntV2", shape, {"dtype": dtype}, name=name)

    def binomial(self, shape, counts, probs, dtype=dtypes.int32, name=None):
        """Binomial samples; `counts` and `probs` broadcast to `shape`."""
        seed = array.reshape(self.make_seeds(1), [2])
        return stateless_binomial(shape, seed, counts, probs, output_dtype=dtype, name=name)

    def make_seeds(self, count=1):
        """`count` seeds for stateless ops, as a `[2, count]` int64 tensor."""
        keys = self.uniform_full_int([count], dtype=dtypes.int64)
        return array.stack([keys, array.zeros_like(keys)])

    def split(self, count=1):
        """`count` new generators, statistically independent of this one (which advances)."""
        keys = self.uniform_full_int([count], dtype=dtypes.int64).numpy()
        size = _STATE_SIZE[self._alg]
        return [Generator(state=_words([0] * (size - 1) + [int(k)], size), alg=self._alg) for k in keys]


_FLOATS = (dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64)
_INTS = (dtypes.int32, dtypes.int64, dtypes.uint32, dtypes.uint64)

_GLOBAL: list = [None]


@export("random.get_global_generator", "random.experimental.get_global_generator")
def get_global_generator() -> Generator:
    """The process-wide generator (created from a non-deterministic state on first use).

    >>> import flowstone as tf
    >>> isinstance(tf.random.get_global_generator(), tf.random.Generator)
    True
    """
    if _GLOBAL[0] is None:
        _GLOBAL[0] = Generator.from_non_deterministic_state()
    return _GLOBAL[0]


@export("random.set_global_generator", "random.experimental.set_global_generator")
def set_global_generator(generator) -> None:
    """Replaces the process-wide generator.

    >>> import flowstone as tf
    >>> tf.random.set_global_generator(tf.random.Generator.from_seed(5))
    >>> tf.random.get_global_generator().state.numpy()
    array([5, 0, 0])
    """
    _GLOBAL[0] = generator
