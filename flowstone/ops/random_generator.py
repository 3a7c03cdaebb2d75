"""`tf.random.Generator`: a counter-based generator whose state is an int64 tensor.

The state layout is TensorFlow's: Philox `[counter_lo, counter_hi, key]`, ThreeFry
`[counter, key]`. Each draw reads the state, advances the counter by 256 per element (so
the state after a draw equals TensorFlow's), and runs a stateless `...V2` op with that key
and counter. The numbers themselves come from jax's threefry generator (see
`flowstone/ops/random.py`), so they differ from TensorFlow's while the state does not.

The state is a non-trainable int64 `tf.Variable` (`generator.state`, tracked as
`_state_var` so checkpoints save it, as TensorFlow's are). Each draw runs TensorFlow's
`RngReadAndSkip` resource op, which returns the old state and advances the counter in one
step, so a generator used inside a `tf.function` advances on every call (the compiled
program threads the variable like any other).
"""

from __future__ import annotations

import enum
import secrets

import jax
import jax.numpy as jnp
import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import ctx
from flowstone.core.execute import execute
from flowstone.core.registry import OPS, op
from flowstone.core.tensor import EagerTensor, convert_to_tensor
from flowstone.core.variables import STATE_RULES, WRITE_OPS, Variable
from flowstone.module.trackable import AutoTrackable
from flowstone.ops import array, manip, math, reduction
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


# --- RngReadAndSkip: read the state and advance its counter -----------------------------------


def _rule_read_and_skip(old, alg, delta):
    """TensorFlow's RngReadAndSkip: the old state (padded to 3 words), counter += 256 * delta.

    The counter is the state's first word (ThreeFry) or first two words as one 128-bit
    little-endian integer (Philox); the key, last, is unchanged.
    """
    words = jax.lax.bitcast_convert_type(old, jnp.uint64)
    delta = jnp.asarray(delta, jnp.uint64)
    inc_lo, inc_hi = delta << 8, delta >> 56
    lo = words[0] + inc_lo
    new = [lo]
    if old.shape[0] == 3:
        carry = (lo < words[0]).astype(jnp.uint64)
        new.append(words[1] + inc_hi + carry)
    new.append(words[-1])
    state = jax.lax.bitcast_convert_type(jnp.stack(new), jnp.int64)
    padded = jnp.concatenate([old, jnp.zeros((3 - old.shape[0],), jnp.int64)])
    return state, (padded,)


_read_and_skip_jit = jax.jit(_rule_read_and_skip)


def _read_and_skip_kernel(h, alg, delta):
    h._buffer, (old,) = _read_and_skip_jit(h._buffer, alg, delta)
    return old


if "RngReadAndSkip" not in OPS:
    op("RngReadAndSkip", "resource: resource, alg: int32, delta: uint64 -> value: int64",
       stateful=True, differentiable=False)(_read_and_skip_kernel)
    STATE_RULES["RngReadAndSkip"] = _rule_read_and_skip
    WRITE_OPS.add("RngReadAndSkip")


@export("random.Generator", "random.experimental.Generator")
class Generator(AutoTrackable):
    """A random number generator with explicit state (a `tf.Variable`).

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
            state = copy_from.state.read_value()
        else:
            if state is None or alg is None:
                raise ValueError("When `copy_from` is None, `state` and `alg` can't be None.")
            self._alg = _alg(alg)
            if not hasattr(state, "dtype"):
                state = np.asarray(state, dtype=np.int64)
            size = _STATE_SIZE[self._alg]
            if tuple(state.shape) != (size,):
                raise ValueError(f"Shapes {tuple(state.shape)} and [{size}] are incompatible")
        self._state_var = Variable(state, trainable=False, name="StateVar", dtype=dtypes.int64)

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
        """The state variable (int64, of the algorithm's state size)."""
        return self._state_var

    @property
    def algorithm(self) -> int:
        return self._alg

    @property
    def key(self):
        """The key (the state's last word), as an int64 scalar."""
        return self._state_var.read_value()[-1]

    def reset(self, state):
        """Sets the state (an int64 vector of the algorithm's state size)."""
        self._state_var.assign(convert_to_tensor(state, dtype=dtypes.int64))

    def reset_from_seed(self, seed):
        """Sets the state as `from_seed(seed)` would."""
        self._state_var.assign(_words(seed, _STATE_SIZE[self._alg]))

    def reset_from_key_counter(self, key, counter):
        """Sets the state from a key and a counter."""
        counter = list(np.ravel(np.asarray(counter)))[: _STATE_SIZE[self._alg] - 1]
        self._state_var.assign(_words(counter + [int(key)], _STATE_SIZE[self._alg]))

    def skip(self, delta):
        """Advances the counter as `delta` draws would; returns the old state (padded to 3 words)."""
        return self._read_and_skip(delta)

    def _read_and_skip(self, delta):
        if not isinstance(delta, (int, np.integer)) or ctx.graph is not None:
            delta = array.cast(delta, dtypes.uint64)
        else:
            delta = convert_to_tensor(np.uint64(delta & _MASK64))
        alg = convert_to_tensor(np.int32(self._alg))
        return execute("RngReadAndSkip", (self._state_var.handle, alg, delta))

    def _key_counter(self, delta):
        old = array.bitcast(self._read_and_skip(delta), dtypes.uint64)
        if self._alg == 1:
            return old[2:3], old[0:2]
        zero = array.zeros([1], dtypes.uint64)
        return old[1:2], manip.concat([old[0:1], zero], 0)

    def _run(self, op_name, shape, attrs=None, extra=(), name=None):
        shape = shape_tensor(shape)
        if isinstance(shape, EagerTensor):
            delta = int(np.prod(np.asarray(shape.numpy(), dtype=np.int64)))
        else:
            delta = reduction.reduce_prod(shape)
        key, counter = self._key_counter(delta)
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
        keys = self.uniform_full_int([count], dtype=dtypes.int64)
        size = _STATE_SIZE[self._alg]
        zeros = array.zeros([size - 1], dtypes.int64)
        return [Generator(state=manip.concat([zeros, keys[i:i + 1]], 0), alg=self._alg) for i in range(count)]


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
