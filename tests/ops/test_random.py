"""tf.random: seeding semantics, distributions, dtypes, shapes, errors, Generator state."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import flowstone as tf
from flowstone.core.registry import OPS


def test_set_seed_replays_sequence():
    tf.random.set_seed(1234)
    a1, a2 = tf.random.uniform([3]), tf.random.uniform([3])
    tf.random.set_seed(1234)
    b1, b2 = tf.random.uniform([3]), tf.random.uniform([3])
    np.testing.assert_array_equal(a1.numpy(), b1.numpy())
    np.testing.assert_array_equal(a2.numpy(), b2.numpy())
    assert not np.array_equal(a1.numpy(), a2.numpy())


def test_op_seed_repeated_calls_differ_and_reset():
    tf.random.set_seed(7)
    a1, a2 = tf.random.normal([4], seed=1), tf.random.normal([4], seed=1)
    assert not np.array_equal(a1.numpy(), a2.numpy())
    tf.random.set_seed(7)
    np.testing.assert_array_equal(tf.random.normal([4], seed=1).numpy(), a1.numpy())


def test_op_seed_without_global_seed_uses_default_graph_seed():
    from flowstone.ops import random as r

    tf.random.set_seed(None)
    assert r.get_seed(5) == (r.DEFAULT_GRAPH_SEED, 5)
    assert r.get_seed(None) == (None, None)
    tf.random.set_seed(0)
    assert r.get_seed(0) == (0, 2**31 - 1)
    tf.random.set_seed(None)


def test_unseeded_is_nondeterministic():
    tf.random.set_seed(None)
    assert not np.array_equal(tf.random.uniform([8]).numpy(), tf.random.uniform([8]).numpy())


def test_compiled_stateful_kernel_draws_fresh_numbers():
    kernel = OPS["RandomStandardNormal"].kernel
    fn = jax.jit(lambda: kernel((3,), dtype=tf.float32, seed=11, seed2=12))
    assert not np.array_equal(np.asarray(fn()), np.asarray(fn()))


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_normal_moments(dtype):
    x = tf.random.normal([20000], mean=2.0, stddev=3.0, dtype=dtype, seed=3).numpy()
    assert x.dtype == dtype.as_numpy_dtype
    assert abs(x.mean() - 2.0) < 0.1 and abs(x.std() - 3.0) < 0.1


def test_uniform_float_and_int_ranges():
    x = tf.random.uniform([20000], minval=-1.0, maxval=3.0, seed=1).numpy()
    assert x.min() >= -1.0 and x.max() < 3.0 and abs(x.mean() - 1.0) < 0.05
    i = tf.random.uniform([2, 500], minval=5, maxval=8, dtype=tf.int64, seed=2)
    assert i.dtype == tf.int64 and i.shape == (2, 500)
    assert set(np.unique(i.numpy())) == {5, 6, 7}


def test_truncated_normal_and_half():
    x = tf.random.truncated_normal([20000], seed=4).numpy()
    assert np.abs(x).max() <= 2.0 and abs(x.std() - 0.88) < 0.03
    assert tf.random.truncated_normal([3], dtype=tf.float16).dtype == tf.float16


def test_categorical_shuffle_poisson_gamma():
    c = tf.random.categorical(tf.math.log([[0.2, 0.8]]), 20000, seed=1)
    assert c.dtype == tf.int64 and c.shape == (1, 20000)
    assert abs(c.numpy().mean() - 0.8) < 0.02
    s = tf.random.shuffle(tf.constant([[1, 2], [3, 4], [5, 6]]), seed=2).numpy()
    assert sorted(map(tuple, s)) == [(1, 2), (3, 4), (5, 6)]
    p = tf.random.poisson([20000], [1.0, 5.0], seed=3)
    assert p.shape == (20000, 2) and p.dtype == tf.float32
    np.testing.assert_allclose(p.numpy().mean(0), [1.0, 5.0], rtol=0.05)
    g = tf.random.gamma([20000], alpha=[2.0], beta=[[1.0], [4.0]], seed=4)
    assert g.shape == (20000, 2, 1)
    np.testing.assert_allclose(g.numpy().mean(0).ravel(), [2.0, 0.5], rtol=0.05)


def test_errors():
    with pytest.raises(ValueError, match="Must specify maxval for integer dtype tf.int32"):
        tf.random.uniform([2], dtype=tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Need minval < maxval, got 5 >= 2"):
        tf.random.uniform([2], minval=5, maxval=2, dtype=tf.int32)
    with pytest.raises(ValueError, match="Accepted dtypes are"):
        tf.random.uniform([2], dtype=tf.string)
    with pytest.raises(TypeError):
        tf.random.normal([2], dtype=tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Dimension -1 must be >= 0"):
        tf.random.normal([-1])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"logits should be a matrix, got shape \[2\]"):
        tf.random.categorical([1.0, 2.0], 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"seed must have shape \[2\], not \[1\]"):
        tf.random.stateless_normal([2], seed=[1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Tseed"):
        tf.random.stateless_normal([2], seed=[1.0, 2.0])
    with pytest.raises(ValueError, match="must be both None or not None"):
        tf.random.stateless_uniform([2], seed=[1, 2], dtype=tf.int32)


def test_stateless_are_deterministic():
    for fn in (tf.random.stateless_normal, tf.random.stateless_uniform, tf.random.stateless_truncated_normal):
        a, b = fn([5], seed=[1, 2]), fn([5], seed=[1, 2])
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert not np.array_equal(a.numpy(), fn([5], seed=[1, 3]).numpy())
    i = tf.random.stateless_uniform([1000], seed=[1, 2], minval=0, maxval=5, dtype=tf.int64)
    assert i.dtype == tf.int64 and i.numpy().min() == 0 and i.numpy().max() == 4
    full = tf.random.stateless_uniform([4], seed=[1, 2], minval=None, maxval=None, dtype=tf.uint32)
    assert full.dtype == tf.uint32


def test_stateless_distributions_shapes():
    assert tf.random.stateless_categorical([[0.0, 1.0]], 3, seed=[1, 2]).shape == (1, 3)
    assert tf.random.stateless_poisson([3, 2], seed=[1, 2], lam=[1.0, 2.0]).dtype == tf.int32
    g = tf.random.stateless_gamma([20000, 2], seed=[1, 2], alpha=[1.0, 3.0])
    np.testing.assert_allclose(g.numpy().mean(0), [1.0, 3.0], rtol=0.05)
    b = tf.random.stateless_binomial([20000], seed=[1, 2], counts=10.0, probs=0.3)
    assert b.dtype == tf.int32 and abs(b.numpy().mean() - 3.0) < 0.1
    with pytest.raises(tf.errors.InvalidArgumentError, match="must end with broadcasted shape"):
        tf.random.stateless_gamma([3], seed=[1, 2], alpha=[1.0, 2.0])
    assert tf.random.split([1, 2], num=3).shape == (3, 2)
    assert tf.random.fold_in([1, 2], 7).dtype == tf.int32


def test_generator_state_matches_tensorflow():
    g = tf.random.Generator.from_seed(1234)
    np.testing.assert_array_equal(g.state.numpy(), [1234, 0, 0])
    g.normal([3])
    np.testing.assert_array_equal(g.state.numpy(), [2002, 0, 0])
    g.uniform([5])
    g.uniform([3], maxval=10, dtype=tf.int32)
    np.testing.assert_array_equal(g.state.numpy(), [4050, 0, 0])
    children = g.split(2)
    assert len(children) == 2 and children[0].state.numpy()[:2].tolist() == [0, 0]
    np.testing.assert_array_equal(g.state.numpy(), [4562, 0, 0])
    seeds = g.make_seeds(3)
    assert seeds.shape == (2, 3) and seeds.dtype == tf.int64
    np.testing.assert_array_equal(tf.random.create_rng_state(2**70 + 5, "philox").numpy(), [5, 64, 0])
    np.testing.assert_array_equal(tf.random.Generator.from_seed(1234, alg="threefry").state.numpy(), [1234, 0])


def test_generator_determinism_and_errors():
    a, b = tf.random.Generator.from_seed(5), tf.random.Generator.from_seed(5)
    np.testing.assert_array_equal(a.normal([4]).numpy(), b.normal([4]).numpy())
    assert not np.array_equal(a.normal([4]).numpy(), tf.random.Generator.from_seed(5).normal([4]).numpy())
    x = a.uniform([1000], minval=3, maxval=5, dtype=tf.int64).numpy()
    assert set(np.unique(x)) == {3, 4}
    assert a.uniform_full_int([2]).dtype == tf.uint64
    with pytest.raises(ValueError, match="must be both `None` or both non-`None`"):
        a.uniform([2], dtype=tf.int32)
    with pytest.raises(ValueError, match=r"Shapes \(2,\) and \[3\] are incompatible"):
        tf.random.Generator.from_state([1, 2], "philox")
    with pytest.raises(ValueError, match="unsupported value foo"):
        tf.random.Generator.from_seed(1, alg="foo")
    tf.random.set_global_generator(tf.random.Generator.from_seed(9))
    np.testing.assert_array_equal(tf.random.get_global_generator().state.numpy(), [9, 0, 0])
    assert tf.random.Algorithm.PHILOX.value == 1


def test_generator_state_is_a_variable_threaded_through_functions():
    g = tf.random.Generator.from_seed(7)
    assert isinstance(g.state, tf.Variable) and g.state.dtype == tf.int64 and not g.state.trainable

    @tf.function
    def draw():
        return g.normal([4])

    first, second = draw().numpy(), draw().numpy()
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(g.state.numpy(), [7 + 2 * 4 * 256, 0, 0])
    # The same numbers as eager draws from a generator with the same seed.
    eager = tf.random.Generator.from_seed(7)
    np.testing.assert_allclose(eager.normal([4]).numpy(), first)
    np.testing.assert_allclose(eager.normal([4]).numpy(), second)

    @tf.function
    def draw_shape(n):
        return g.uniform(tf.stack([n]))

    assert draw_shape(tf.constant(3)).shape == (3,)
    np.testing.assert_array_equal(g.state.numpy(), [7 + 11 * 256, 0, 0])


def test_generator_skip_carries_into_the_high_counter_word():
    g = tf.random.Generator.from_state([-256, 0, 42], "philox")  # low word 2**64 - 256
    old = g.skip(1)
    np.testing.assert_array_equal(old.numpy(), [-256, 0, 42])
    np.testing.assert_array_equal(g.state.numpy(), [0, 1, 42])
    t = tf.random.Generator.from_state([5, 9], "threefry")
    np.testing.assert_array_equal(t.skip(2).numpy(), [5, 9, 0])
    np.testing.assert_array_equal(t.state.numpy(), [517, 9])


def test_generator_state_is_checkpointed(tmp_path):
    g = tf.random.Generator.from_seed(3)
    path = tf.train.Checkpoint(gen=g).write(str(tmp_path / "ckpt"))
    keys = [name for name, _ in tf.train.list_variables(path)]
    assert "gen/_state_var/.ATTRIBUTES/VARIABLE_VALUE" in keys
    expected = g.normal([5]).numpy()
    g.reset_from_seed(99)
    tf.train.Checkpoint(gen=g).read(path).assert_consumed()
    np.testing.assert_array_equal(g.normal([5]).numpy(), expected)
