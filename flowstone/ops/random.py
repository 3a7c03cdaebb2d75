"""`tf.random`: TensorFlow's seeding semantics over jax's counter-based PRNG.

Seeding follows `tf.random.set_seed` exactly: an op gets a pair `(seed, seed2)` from
`get_seed(op_seed)` (global seed unset and no op seed: nondeterministic; global seed set:
op seeds come from a counter of ops created since `set_seed`; op seed only: the default
global seed 87654321 is used). Calling `set_seed` again resets that counter and every
op's call counter, so a program replays the same numbers. The bit streams are not
TensorFlow's (Philox): every op draws from jax's threefry generator, so values differ
from TF's while the determinism rules are the same.

Key derivation. A key is built from 64-bit words `w0, w1, ...`: the two halves of `w0`
are the raw threefry key, and the halves of each later word are folded in with
`jax.random.fold_in`.
- Stateful ops (`RandomStandardNormal`, `RandomUniform`, ...) keep `seed`/`seed2` as attrs
  and use the words `(seed, seed2, n)`, where `n` counts earlier calls of that op with
  those seeds; so repeated calls differ, and a graph node carries its seeds. While the
  kernel is traced for compilation (inside `jax.jit`), `n` is fetched with
  `jax.experimental.io_callback` at run time, so each call of a compiled function draws
  fresh numbers. With `seed == seed2 == 0` a per-process random word replaces the seeds.
- Stateless ops (`StatelessRandomNormal`, ...) use `(seed[0], seed[1])`: pure and jittable.
- The `...V2` ops used by `tf.random.Generator` use `(key[0], counter[0], counter[1])`.
"""

from __future__ import annotations

import functools
import itertools
import secrets

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import ctx, scoped
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.execute import execute
from flowstone.core.registry import FLOATS, INDEX, REQUIRED, op
from flowstone.core.tensor import Tensor, constant_value, convert_to_tensor, convert_to_tensor_v2
from flowstone.ops import math

DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2**31 - 1
_MASK64 = 2**64 - 1

try:  # a cheap check; the fallback makes one small array to see whether jax is tracing
    from jax._src.core import trace_state_clean as _clean
except ImportError:  # pragma: no cover - depends on the jax version

    def _clean():
        return not isinstance(jnp.zeros(()), jax.core.Tracer)


# --- seeds --------------------------------------------------------------------------------------

_CALLS: dict = {}  # (op, seed, seed2) -> calls so far; cleared by set_seed
_UNSEEDED = itertools.count()
_ENTROPY = secrets.randbits(64)


@export("random.set_seed")
def set_seed(seed) -> None:
    """Sets the global random seed and restarts every op's sequence.

    Args:
      seed: an integer, or None for nondeterministic ops.

    >>> import flowstone as tf
    >>> tf.random.set_seed(7); a = tf.random.uniform([2])
    >>> tf.random.set_seed(7); b = tf.random.uniform([2])
    >>> bool(tf.reduce_all(a == b))
    True
    """
    ctx.global_seed = None if seed is None else int(seed)
    ctx.op_seed_counter = 0
    _CALLS.clear()


def get_seed(op_seed):
    """The `(seed, seed2)` attrs for a random op, by TF's rules (None, None: nondeterministic)."""
    global_seed = ctx.global_seed
    if global_seed is not None:
        if op_seed is None:
            op_seed = ctx.op_seed_counter
            ctx.op_seed_counter += 1
        seeds = (global_seed % _MAXINT32, int(op_seed) % _MAXINT32)
    elif op_seed is not None:
        seeds = (DEFAULT_GRAPH_SEED, int(op_seed) % _MAXINT32)
    else:
        return None, None
    # (0, 0) would mean "nondeterministic" to the kernels.
    return (0, _MAXINT32) if seeds == (0, 0) else seeds


def _seed_attrs(seed):
    seed1, seed2 = get_seed(seed)
    return {"seed": seed1 or 0, "seed2": seed2 or 0}


def _draw(name, seed, seed2) -> np.ndarray:
    if seed == 0 and seed2 == 0:
        words = (_ENTROPY, next(_UNSEEDED), 0)
    else:
        key = (name, seed, seed2)
        n = _CALLS.get(key, 0)
        _CALLS[key] = n + 1
        words = (seed, seed2, n)
    return np.array([w & _MASK64 for w in words], dtype=np.uint64)


def tracing() -> bool:
    """Whether jax is tracing (a kernel being compiled) rather than running eagerly."""
    return not _clean()


def _words(name, seed, seed2):
    """The key words of a stateful op's next call (fetched at run time inside compiled code)."""
    if _clean():
        return _draw(name, seed, seed2)
    return io_callback(
        functools.partial(_draw, name, seed, seed2), jax.ShapeDtypeStruct((3,), jnp.uint64), ordered=True
    )


def _key(words):
    w = jnp.asarray(words).astype(jnp.uint64).reshape(-1)
    halves = jnp.stack([(w >> 32).astype(jnp.uint32), (w & 0xFFFFFFFF).astype(jnp.uint32)], -1).reshape(-1)
    key = jax.random.wrap_key_data(halves[:2], impl="threefry2x32")
    for i in range(2, halves.shape[0]):
        key = jax.random.fold_in(key, halves[i])
    return key


# --- samplers: (key words, static shape/dtype) -> values --------------------------------------


def _np(dtype):
    return dtypes.as_dtype(dtype).as_numpy_dtype


def _compute(dtype):
    """float16/bfloat16 samples are drawn in float32 and rounded, as TF's kernels do."""
    return np.float32 if np.dtype(dtype).itemsize < 4 else dtype


@functools.partial(jax.jit, static_argnames=("shape", "dtype"))
def _normal(words, shape, dtype):
    return jax.random.normal(_key(words), shape, _compute(dtype)).astype(dtype)


@functools.partial(jax.jit, static_argnames=("shape", "dtype"))
def _uniform(words, shape, dtype):
    return jax.random.uniform(_key(words), shape, _compute(dtype)).astype(dtype)


@functools.partial(jax.jit, static_argnames=("shape", "dtype"))
def _truncated(words, shape, dtype):
    return jax.random.truncated_normal(_key(words), -2.0, 2.0, shape, _compute(dtype)).astype(dtype)


@functools.partial(jax.jit, static_argnames=("shape",))
def _randint(words, minval, maxval, shape):
    return jax.random.randint(_key(words), shape, minval, maxval, minval.dtype)


@functools.partial(jax.jit, static_argnames=("shape", "dtype"))
def _full_int(words, shape, dtype):
    dtype = np.dtype(dtype)
    bits = jax.random.bits(_key(words), shape, np.dtype(f"uint{dtype.itemsize * 8}"))
    return jax.lax.bitcast_convert_type(bits, dtype)


@functools.partial(jax.jit, static_argnames=("num_samples", "dtype"))
def _categorical(words, logits, num_samples, dtype):
    logits = logits.astype(np.float64 if logits.dtype == np.float64 else np.float32)
    draws = jax.random.categorical(_key(words), logits, axis=-1, shape=(num_samples, logits.shape[0]))
    return draws.T.astype(dtype)


@jax.jit
def _permute(words, value):
    return jax.random.permutation(_key(words), value, axis=0, independent=False)


@functools.partial(jax.jit, static_argnames=("shape", "dtype"))
def _poisson(words, lam, shape, dtype):
    lam = lam.astype(np.float64 if lam.dtype == np.float64 else np.float32)
    return jax.random.poisson(_key(words), lam, shape).astype(dtype)


@functools.partial(jax.jit, static_argnames=("shape",))
def _gamma(words, alpha, shape):
    a = alpha.astype(_compute(alpha.dtype))
    return jax.random.gamma(_key(words), a, shape, a.dtype).astype(alpha.dtype)


@functools.partial(jax.jit, static_argnames=("shape", "dtype"))
def _binomial(words, counts, probs, shape, dtype):
    wide = np.float64 if probs.dtype == np.float64 else np.float32
    draws = jax.random.binomial(_key(words), counts.astype(wide), probs.astype(wide), shape, wide)
    return draws.astype(dtype)


def _dims(shape, name):
    dims = shape if isinstance(shape, tuple) else (shape,)
    for d in dims:
        if d < 0:
            raise ValueError(f"Dimension {d} must be >= 0")
    return tuple(int(d) for d in dims)


def _trailing(shape, *params):
    """Stateless gamma/poisson/binomial: `shape` must end with the parameters' broadcast shape."""
    bshape = np.broadcast_shapes(*(p.shape for p in params))
    if len(bshape) > len(shape) or tuple(shape[len(shape) - len(bshape):]) != tuple(bshape):
        raise ValueError("Shape passed in must end with broadcasted shape.")
    return [jnp.broadcast_to(p, shape) for p in params]


# --- stateful raw ops ---------------------------------------------------------------------------

_SEEDS = {"seed": 0, "seed2": 0}
_STATEFUL = dict(static=("shape",), stateful=True, differentiable=False)
_FLOAT_SPEC = {"T": INDEX, "dtype": REQUIRED, **_SEEDS}


@op("RandomStandardNormal", "shape: T -> output: dtype", _FLOAT_SPEC, **_STATEFUL)
def _random_standard_normal(shape, dtype, seed, seed2):
    return _normal(_words("RandomStandardNormal", seed, seed2), _dims(shape, "shape"), _np(dtype))


@op("RandomUniform", "shape: T -> output: dtype", _FLOAT_SPEC, **_STATEFUL)
def _random_uniform(shape, dtype, seed, seed2):
    return _uniform(_words("RandomUniform", seed, seed2), _dims(shape, "shape"), _np(dtype))


@op("TruncatedNormal", "shape: T -> output: dtype", _FLOAT_SPEC, **_STATEFUL)
def _truncated_normal(shape, dtype, seed, seed2):
    return _truncated(_words("TruncatedNormal", seed, seed2), _dims(shape, "shape"), _np(dtype))


@op("RandomUniformInt", "shape: T, minval: Tout, maxval: Tout -> output: Tout", {"T": INDEX, "Tout": INDEX, **_SEEDS},
    **_STATEFUL)
def _random_uniform_int(shape, minval, maxval, seed, seed2):
    return _randint(_words("RandomUniformInt", seed, seed2), minval, maxval, _dims(shape, "shape"))


@op("Multinomial", "logits: T, num_samples: int32 -> output: output_dtype",
    {"T": FLOATS, "output_dtype": dtypes.int64, **_SEEDS}, static=("num_samples",), stateful=True,
    differentiable=False)
def _multinomial(logits, num_samples, output_dtype, seed, seed2):
    return _categorical(_words("Multinomial", seed, seed2), logits, int(num_samples), _np(output_dtype))


@op("RandomShuffle", "value: T -> output: T", dict(_SEEDS), stateful=True, differentiable=False)
def _random_shuffle(value, seed, seed2):
    if jnp.ndim(value) == 0:
        return value
    return _permute(_words("RandomShuffle", seed, seed2), value)


_RATES = FLOATS[:1] + FLOATS[2:] + INDEX


@op("RandomPoissonV2", "shape: S, rate: R -> output: dtype",
    {"S": INDEX, "R": _RATES, "dtype": dtypes.int64, **_SEEDS}, **_STATEFUL)
def _random_poisson(shape, rate, dtype, seed, seed2):
    out = _dims(shape, "shape") + tuple(rate.shape)
    return _poisson(_words("RandomPoissonV2", seed, seed2), rate, out, _np(dtype))


@op("RandomGamma", "shape: S, alpha: T -> output: T", {"S": INDEX, "T": _RATES[:3], **_SEEDS}, **_STATEFUL)
def _random_gamma(shape, alpha, seed, seed2):
    out = _dims(shape, "shape") + tuple(alpha.shape)
    return _gamma(_words("RandomGamma", seed, seed2), alpha, out)


# --- stateless raw ops (seed: shape [2]) ------------------------------------------------------

_STATELESS = dict(static=("shape",), differentiable=False)
_SEEDED = {"T": INDEX, "Tseed": INDEX}
_FULL = (dtypes.int32, dtypes.int64, dtypes.uint32, dtypes.uint64)


@op("StatelessRandomNormal", "shape: T, seed: Tseed -> output: dtype", {**_SEEDED, "dtype": dtypes.float32},
    **_STATELESS)
def _stateless_normal(shape, seed, dtype):
    return _normal(seed, _dims(shape, "shape"), _np(dtype))


@op("StatelessRandomUniform", "shape: T, seed: Tseed -> output: dtype", {**_SEEDED, "dtype": dtypes.float32},
    **_STATELESS)
def _stateless_uniform(shape, seed, dtype):
    return _uniform(seed, _dims(shape, "shape"), _np(dtype))


@op("StatelessTruncatedNormal", "shape: T, seed: Tseed -> output: dtype", {**_SEEDED, "dtype": dtypes.float32},
    **_STATELESS)
def _stateless_truncated_normal(shape, seed, dtype):
    return _truncated(seed, _dims(shape, "shape"), _np(dtype))


@op("StatelessRandomUniformInt", "shape: T, seed: Tseed, minval: dtype, maxval: dtype -> output: dtype",
    {**_SEEDED, "dtype": INDEX + _FULL[2:]}, **_STATELESS)
def _stateless_uniform_int(shape, seed, minval, maxval):
    return _randint(seed, minval, maxval, _dims(shape, "shape"))



@op("StatelessRandomUniformFullInt", "shape: T, seed: Tseed -> output: dtype", {**_SEEDED, "dtype": dtypes.uint64},
    **_STATELESS)
def _stateless_full_int(shape, seed, dtype):
    return _full_int(seed, _dims(shape, "shape"), _np(dtype))


@op("StatelessMultinomial", "logits: T, num_samples: int32, seed: Tseed -> output: output_dtype",
    {"T": FLOATS, "Tseed": INDEX, "output_dtype": dtypes.int64}, static=("num_samples",), differentiable=False)
def _stateless_multinomial(logits, num_samples, seed, output_dtype):
    return _categorical(seed, logits, int(num_samples), _np(output_dtype))


@op("StatelessRandomPoisson", "shape: T, seed: Tseed, lam: Rtype -> output: dtype",
    {**_SEEDED, "Rtype": _RATES, "dtype": REQUIRED}, **_STATELESS)
def _stateless_poisson(shape, seed, lam, dtype):
    shape = _dims(shape, "shape")
    (lam,) = _trailing(shape, lam)
    return _poisson(seed, lam, shape, _np(dtype))


@op("StatelessRandomGammaV2", "shape: T, seed: Tseed, alpha: dtype -> output: dtype",
    {**_SEEDED, "dtype": _RATES[:3]}, **_STATELESS)
def _stateless_gamma(shape, seed, alpha):
    shape = _dims(shape, "shape")
    (alpha,) = _trailing(shape, alpha)
    return _gamma(seed, alpha, shape)


@op("StatelessRandomBinomial", "shape: S, seed: Tseed, counts: T, probs: T -> output: dtype",
    {"S": INDEX, "Tseed": INDEX, "T": _RATES, "dtype": dtypes.int64}, **_STATELESS)
def _stateless_binomial(shape, seed, counts, probs, dtype):
    shape = _dims(shape, "shape")
    counts, probs = _trailing(shape, counts, probs)
    return _binomial(seed, counts, probs, shape, _np(dtype))


# --- stateless V2 raw ops (key + counter, used by tf.random.Generator) ------------------------

_KC = "shape: Tshape, key: uint64, counter: uint64, alg: int32"
_V2 = {"Tshape": INDEX}


def _kc(key, counter):
    return jnp.concatenate([key.reshape(-1)[:1], counter.reshape(-1)[:2]])


@op("StatelessRandomNormalV2", f"{_KC} -> output: dtype", {**_V2, "dtype": dtypes.float32}, **_STATELESS)
def _normal_v2(shape, key, counter, alg, dtype):
    return _normal(_kc(key, counter), _dims(shape, "shape"), _np(dtype))


@op("StatelessRandomUniformV2", f"{_KC} -> output: dtype", {**_V2, "dtype": dtypes.float32}, **_STATELESS)
def _uniform_v2(shape, key, counter, alg, dtype):
    return _uniform(_kc(key, counter), _dims(shape, "shape"), _np(dtype))


@op("StatelessTruncatedNormalV2", f"{_KC} -> output: dtype", {**_V2, "dtype": dtypes.float32}, **_STATELESS)
def _truncated_v2(shape, key, counter, alg, dtype):
    return _truncated(_kc(key, counter), _dims(shape, "shape"), _np(dtype))


@op("StatelessRandomUniformIntV2", f"{_KC}, minval: dtype, maxval: dtype -> output: dtype",
    {**_V2, "dtype": INDEX + _FULL[2:]}, **_STATELESS)
def _uniform_int_v2(shape, key, counter, alg, minval, maxval):
    return _randint(_kc(key, counter), minval, maxval, _dims(shape, "shape"))


@op("StatelessRandomUniformFullIntV2", f"{_KC} -> output: dtype", {**_V2, "dtype": dtypes.uint64}, **_STATELESS)
def _full_int_v2(shape, key, counter, alg, dtype):
    return _full_int(_kc(key, counter), _dims(shape, "shape"), _np(dtype))


# --- public wrappers ---------------------------------------------------------------------------


def shape_tensor(shape) -> Tensor:
    """A shape argument (list, tuple, TensorShape or tensor) as an int32/int64 tensor."""
    if isinstance(shape, Tensor):
        return shape
    if hasattr(shape, "as_list"):
        shape = shape.as_list()
    dims = np.asarray(shape, dtype=np.int64) if np.ndim(shape) else np.asarray([], np.int64)
    if np.ndim(shape) == 0 and not isinstance(shape, (list, tuple)):
        dims = np.asarray(shape, dtype=np.int64).reshape(-1)
    large = dims.size and (dims.max() > _MAXINT32 or dims.min() < -_MAXINT32)
    return convert_to_tensor_v2(dims.astype(np.int64 if large else np.int32), name="shape")


def _check_dtype(dtype, allowed):
    dtype = dtypes.as_dtype(dtype)
    if dtype not in allowed:
        names = ", ".join(repr(d) for d in allowed)
        raise ValueError(f"Argument `dtype` got invalid value {dtype}. Accepted dtypes are ({names}).")
    return dtype


_UNIFORM_DTYPES = (dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)


def _scale_shift(x, scale, shift, name=None):
    return math.add(x * scale, shift, name=name)


@export("random.normal")
@scoped("random_normal")
def normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Samples from a normal distribution.

    Args:
      shape: the output shape (1-D integer tensor or Python list).
      mean, stddev: broadcastable tensors of `dtype`.
      dtype: a floating point dtype.
      seed: the op seed (see `tf.random.set_seed`).
      name: a name for the op.

    >>> import flowstone as tf
    >>> tf.random.normal([2, 3], seed=1).shape
    TensorShape([2, 3])
    """
    dtype = dtypes.as_dtype(dtype)
    shape = shape_tensor(shape)
    mean = convert_to_tensor_v2(mean, dtype, name="mean")
    stddev = convert_to_tensor_v2(stddev, dtype, name="stddev")
    rnd = execute("RandomStandardNormal", (shape,), {"dtype": dtype, **_seed_attrs(seed)})
    return _scale_shift(rnd, stddev, mean, name)


@export("random.truncated_normal")
@scoped("truncated_normal")
def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Samples from a normal distribution, redrawing values beyond two standard deviations.

    >>> import flowstone as tf
    >>> x = tf.random.truncated_normal([100], seed=1)
    >>> bool(tf.reduce_all(tf.abs(x) <= 2.0))
    True
    """
    dtype = dtypes.as_dtype(dtype)
    shape = shape_tensor(shape)
    mean = convert_to_tensor_v2(mean, dtype, name="mean")
    stddev = convert_to_tensor_v2(stddev, dtype, name="stddev")
    rnd = execute("TruncatedNormal", (shape,), {"dtype": dtype, **_seed_attrs(seed)})
    return _scale_shift(rnd, stddev, mean, name)


def _check_int_range(minval, maxval, op_name):
    lo, hi = constant_value(minval), constant_value(maxval)
    if lo is not None and hi is not None and np.ndim(lo) == 0 and np.ndim(hi) == 0 and lo >= hi:
        raise InvalidArgumentError(None, None, f"Need minval < maxval, got {lo} >= {hi} [Op:{op_name}]")
    for arg, v in (("minval", minval), ("maxval", maxval)):
        if v.shape.rank not in (None, 0):
            raise InvalidArgumentError(None, None, f"{arg} must be 0-D, got shape {v.shape} [Op:{op_name}]")


@export("random.uniform")
@scoped("random_uniform")
def uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    """Samples uniformly from `[minval, maxval)`; integer dtypes need `maxval`.

    >>> import flowstone as tf
    >>> x = tf.random.uniform([5], minval=2, maxval=4, dtype=tf.int32, seed=3)
    >>> bool(tf.reduce_all((x >= 2) & (x < 4)))
    True
    """
    dtype = _check_dtype(dtype, _UNIFORM_DTYPES)
    shape = shape_tensor(shape)
    if dtype.is_integer:
        if maxval is None:
            raise ValueError(f"Must specify maxval for integer dtype {dtype!r}")
        minval = convert_to_tensor_v2(minval, dtype, name="min")
        maxval = convert_to_tensor_v2(maxval, dtype, name="max")
        _check_int_range(minval, maxval, "RandomUniformInt")
        return execute("RandomUniformInt", (shape, minval, maxval), _seed_attrs(seed), name=name)
    # [0, 1) needs no scaling (TF skips it too, for Python 0 and 1).
    unit = type(minval) is int and minval == 0 and (maxval is None or type(maxval) is int and maxval == 1)
    if not unit:
        minval = convert_to_tensor_v2(minval, dtype, name="min")
        maxval = convert_to_tensor_v2(1 if maxval is None else maxval, dtype, name="max")
    rnd = execute("RandomUniform", (shape,), {"dtype": dtype, **_seed_attrs(seed)})
    if unit:
        return rnd
    return _scale_shift(rnd, maxval - minval, minval, name)


def _logits_matrix(logits, op_name):
    logits = convert_to_tensor_v2(logits, name="logits")
    if logits.shape.rank is not None and logits.shape.rank != 2:
        dims = ",".join(str(d) for d in logits.shape.as_list())
        raise InvalidArgumentError(None, None, f"logits should be a matrix, got shape [{dims}] [Op:{op_name}]")
    return logits


def _index_dtype(dtype, default=dtypes.int64):
    return default if dtype is None else _check_dtype(dtype, INDEX)


@export("random.categorical")
@scoped("categorical")
def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """Draws class indices from the categorical distributions given by the rows of `logits`.

    >>> import flowstone as tf
    >>> tf.random.categorical([[0.0, -1e9]], 3, seed=1).numpy()
    array([[0, 0, 0]])
    """
    dtype = _index_dtype(dtype)
    logits = _logits_matrix(logits, "Multinomial")
    n = convert_to_tensor(num_samples, dtype=dtypes.int32)
    return execute("Multinomial", (logits, n), {"output_dtype": dtype, **_seed_attrs(seed)})


@export("random.shuffle")
def shuffle(value, seed=None, name=None):
    """Shuffles a tensor along its first dimension.

    >>> import flowstone as tf
    >>> sorted(tf.random.shuffle(tf.range(4), seed=2).numpy().tolist())
    [0, 1, 2, 3]
    """
    return execute("RandomShuffle", (convert_to_tensor(value),), _seed_attrs(seed), name=name)


_POISSON_DTYPES = (dtypes.float16, dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)


@export("random.poisson")
@scoped("random_poisson")
def poisson(shape, lam, dtype=dtypes.float32, seed=None, name=None):
    """Samples from Poisson distributions with rates `lam`; the output shape is `shape + lam.shape`.

    >>> import flowstone as tf
    >>> tf.random.poisson([4], [1.0, 5.0], seed=1).shape
    TensorShape([4, 2])
    """
    dtype = _check_dtype(dtype, _POISSON_DTYPES)
    lam = convert_to_tensor(lam, dtype_hint=dtypes.float32)
    return execute("RandomPoissonV2", (shape_tensor(shape), lam), {"dtype": dtype, **_seed_attrs(seed)})


@export("random.gamma")
@scoped("random_gamma")
def gamma(shape, alpha, beta=None, dtype=dtypes.float32, seed=None, name=None):
    """Samples from Gamma(alpha, beta) distributions; the output shape is `shape + broadcast shape`.

    >>> import flowstone as tf
    >>> tf.random.gamma([10], alpha=[0.5, 1.5], seed=1).shape
    TensorShape([10, 2])
    """
    dtype = _check_dtype(dtype, FLOATS[:1] + FLOATS[2:])
    alpha = convert_to_tensor(alpha, dtype=dtype)
    beta = convert_to_tensor(1 if beta is None else beta, dtype=dtype)
    from flowstone.ops import array

    alpha_b = math.add(alpha, array.zeros_like(beta))
    draws = execute("RandomGamma", (shape_tensor(shape), alpha_b), _seed_attrs(seed))
    tiny = np.finfo(dtype.as_numpy_dtype).tiny
    return math.maximum(math.realdiv(draws, beta), convert_to_tensor(tiny, dtype=dtype))

