"""`tf.random.stateless_*`: pure samplers keyed by a shape-[2] integer seed tensor.

The raw ops live in `flowstone/ops/random.py` (which documents the key derivation); the
same seed always gives the same values, eagerly and inside compiled functions.
"""

from __future__ import annotations

import numpy as np

from flowstone._export import export
from flowstone.core import dtypes
from flowstone.core.context import scoped
from flowstone.core.errors import InvalidArgumentError
from flowstone.core.execute import execute
from flowstone.core.registry import FLOATS, INDEX
from flowstone.core.tensor import convert_to_tensor, convert_to_tensor_v2
from flowstone.ops import array, math
from flowstone.ops.random import (
    _check_dtype,
    _check_int_range,
    _index_dtype,
    _logits_matrix,
    _scale_shift,
    shape_tensor,
)

_FLOAT_DTYPES = (dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64)
_UNIFORM_DTYPES = _FLOAT_DTYPES + (dtypes.int32, dtypes.int64, dtypes.uint32, dtypes.uint64)


def seed_tensor(seed, op_name="StatelessRandomGetKeyCounter"):
    """A stateless op's `seed` argument: an int32/int64 tensor of shape [2]."""
    seed = convert_to_tensor(seed)
    if seed.shape.rank is not None and seed.shape.as_list() != [2]:
        dims = ",".join(str(d) for d in seed.shape.as_list())
        raise InvalidArgumentError(None, None, f"seed must have shape [2], not [{dims}] [Op:{op_name}]")
    return seed


@export("random.stateless_normal")
@scoped("stateless_random_normal")
def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None, alg="auto_select"):
    """Deterministic normal samples: the same `seed` gives the same values.

    >>> import flowstone as tf
    >>> a = tf.random.stateless_normal([3], seed=[1, 2])
    >>> b = tf.random.stateless_normal([3], seed=[1, 2])
    >>> bool(tf.reduce_all(a == b))
    True
    """
    dtype = _check_dtype(dtype, _FLOAT_DTYPES)
    shape = shape_tensor(shape)
    mean, stddev = convert_to_tensor_v2(mean, dtype, name="mean"), convert_to_tensor_v2(stddev, dtype, name="stddev")
    rnd = execute("StatelessRandomNormal", (shape, seed_tensor(seed)), {"dtype": dtype})
    return _scale_shift(rnd, stddev, mean, name)


@export("random.stateless_truncated_normal")
@scoped("stateless_truncated_normal")
def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None,
                               alg="auto_select"):
    """Deterministic truncated normal samples (within two standard deviations).

    >>> import flowstone as tf
    >>> x = tf.random.stateless_truncated_normal([50], seed=[3, 4])
    >>> bool(tf.reduce_all(tf.abs(x) <= 2.0))
    True
    """
    dtype = _check_dtype(dtype, _FLOAT_DTYPES)
    shape = shape_tensor(shape)
    mean, stddev = convert_to_tensor_v2(mean, dtype, name="mean"), convert_to_tensor_v2(stddev, dtype, name="stddev")
    rnd = execute("StatelessTruncatedNormal", (shape, seed_tensor(seed)), {"dtype": dtype})
    return _scale_shift(rnd, stddev, mean, name)


@export("random.stateless_uniform")
@scoped("stateless_random_uniform")
def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=dtypes.float32, name=None, alg="auto_select"):
    """Deterministic uniform samples in `[minval, maxval)`; integers over the full range when
    both bounds are None.

    >>> import flowstone as tf
    >>> x = tf.random.stateless_uniform([4], seed=[1, 2], minval=0, maxval=3, dtype=tf.int64)
    >>> bool(tf.reduce_all((x >= 0) & (x < 3)))
    True
    """
    dtype = _check_dtype(dtype, _UNIFORM_DTYPES)
    shape, seed = shape_tensor(shape), seed_tensor(seed)
    if dtype.is_integer:
        if (minval is None) != (maxval is None):
            raise ValueError(
                f"For integer `dtype` argument {dtype}, argument `minval` and `maxval` must be both None "
                f"or not None. Got `minval`={minval} and `maxval`={maxval}."
            )
        if minval is None:
            return execute("StatelessRandomUniformFullInt", (shape, seed), {"dtype": dtype}, name=name)
        minval, maxval = convert_to_tensor_v2(minval, dtype, name="min"), convert_to_tensor_v2(maxval, dtype, name="max")
        _check_int_range(minval, maxval, "StatelessRandomUniformInt")
        return execute("StatelessRandomUniformInt", (shape, seed, minval, maxval), name=name)
    minval = convert_to_tensor_v2(minval, dtype, name="min")
    maxval = convert_to_tensor_v2(1 if maxval is None else maxval, dtype, name="max")
    rnd = execute("StatelessRandomUniform", (shape, seed), {"dtype": dtype})
    return _scale_shift(rnd, maxval - minval, minval, name)


@export("random.stateless_categorical")
@scoped("stateless_categorical")
def stateless_categorical(logits, num_samples, seed, dtype=dtypes.int64, name=None):
    """Deterministic draws of class indices from the rows of `logits`.

    >>> import flowstone as tf
    >>> tf.random.stateless_categorical([[-1e9, 0.0]], 2, seed=[1, 2]).numpy()
    array([[1, 1]])
    """
    dtype = _index_dtype(dtype)
    logits = _logits_matrix(logits, "StatelessMultinomial")
    n = convert_to_tensor(num_samples, dtype=dtypes.int32)
    return execute("StatelessMultinomial", (logits, n, seed_tensor(seed)), {"output_dtype": dtype})


@export("random.stateless_binomial")
@scoped("stateless_random_binomial")
def stateless_binomial(shape, seed, counts, probs, output_dtype=dtypes.int32, name=None):
    """Deterministic binomial samples; `counts` and `probs` broadcast to `shape`.

    >>> import flowstone as tf
    >>> tf.random.stateless_binomial([2], seed=[1, 2], counts=5.0, probs=1.0).numpy()
    array([5, 5], dtype=int32)
    """
    output_dtype = _check_dtype(output_dtype, (dtypes.float16, dtypes.float32, dtypes.float64) + INDEX)
    counts = convert_to_tensor(counts, dtype_hint=dtypes.float32)
    probs = convert_to_tensor(probs, dtype=counts.dtype)
    inputs = (shape_tensor(shape), seed_tensor(seed), counts, probs)
    return execute("StatelessRandomBinomial", inputs, {"dtype": output_dtype})


@export("random.stateless_poisson")
@scoped("stateless_random_poisson")
def stateless_poisson(shape, seed, lam, dtype=dtypes.int32, name=None):
    """Deterministic Poisson samples; `lam` broadcasts to `shape`.

    >>> import flowstone as tf
    >>> tf.random.stateless_poisson([3, 2], seed=[1, 2], lam=[1.0, 2.0]).shape
    TensorShape([3, 2])
    """
    dtype = _check_dtype(dtype, (dtypes.float16, dtypes.float32, dtypes.float64) + INDEX)
    lam = convert_to_tensor(lam, dtype_hint=dtypes.float32)
    return execute("StatelessRandomPoisson", (shape_tensor(shape), seed_tensor(seed), lam), {"dtype": dtype})


@export("random.stateless_gamma")
@scoped("stateless_random_gamma")
def stateless_gamma(shape, seed, alpha, beta=None, dtype=dtypes.float32, name=None):
    """Deterministic Gamma(alpha, beta) samples; the parameters broadcast to `shape`.

    >>> import flowstone as tf
    >>> tf.random.stateless_gamma([3, 2], seed=[1, 2], alpha=[1.0, 2.0]).shape
    TensorShape([3, 2])
    """
    dtype = _check_dtype(dtype, FLOATS[:1] + FLOATS[2:])
    alpha = convert_to_tensor(alpha, dtype=dtype)
    beta = convert_to_tensor(1 if beta is None else beta, dtype=dtype)
    alpha_b = math.add(alpha, array.zeros_like(beta))
    draws = execute("StatelessRandomGammaV2", (shape_tensor(shape), seed_tensor(seed), alpha_b))
    tiny = np.finfo(dtype.as_numpy_dtype).tiny
    return math.maximum(math.realdiv(draws, beta), convert_to_tensor(tiny, dtype=dtype))


@export("random.split", "random.experimental.stateless_split")
def split(seed, num=2, alg="auto_select"):
    """Splits a stateless seed into `num` new seeds (a `[num, 2]` tensor of the seed's dtype).

    >>> import flowstone as tf
    >>> tf.random.split([1, 2], num=3).shape
    TensorShape([3, 2])
    """
    seed = seed_tensor(seed)
    return stateless_uniform([num, 2], seed, minval=None, maxval=None, dtype=seed.dtype)


@export("random.fold_in", "random.experimental.stateless_fold_in")
def fold_in(seed, data, alg="auto_select"):
    """A new stateless seed from `seed` and the integer `data`.

    >>> import flowstone as tf
    >>> tf.random.fold_in([1, 2], 7).shape
    TensorShape([2])
    """
    seed = seed_tensor(seed)
    word = stateless_uniform([1], seed, minval=None, maxval=None, dtype=seed.dtype)
    mixed = array.stack([array.reshape(word, []), convert_to_tensor(data, dtype=seed.dtype)])
    return stateless_uniform([2], mixed, minval=None, maxval=None, dtype=seed.dtype)
