"""Tests for flowstone/ops/math.py and special.py: TF semantics beyond the conformance sweep."""

import numpy as np
import pytest
import scipy.special as sp

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients

IAE = tf.errors.InvalidArgumentError


# --- dtypes and division semantics ----------------------------------------------------------------


def test_truediv_casts_integers_as_tf():
    assert_tensor(tf.constant([3, 4]) / 2, [1.5, 2.0], dtype=tf.float64)
    assert_tensor(tf.math.divide(tf.constant([3], tf.int8), tf.constant([2], tf.int8)), [1.5], dtype=tf.float32)
    assert_tensor(tf.constant([1.0]) / 4, [0.25], dtype=tf.float32)
    with pytest.raises(TypeError, match="Invalid dtype tf.bool in __truediv__"):
        tf.constant([True]) / tf.constant([True])


def test_floor_and_truncate_division():
    x = tf.constant([7, -7, 7, -7])
    y = tf.constant([2, 2, -2, -2])
    assert_tensor(x // y, [3, -4, -4, 3], dtype=tf.int32)
    assert_tensor(x % y, [1, 1, -1, -1], dtype=tf.int32)
    assert_tensor(tf.truncatediv(x, y), [3, -3, -3, 3])
    assert_tensor(tf.truncatemod(x, y), [1, -1, 1, -1])
    xf = tf.cast(x, tf.float32)
    assert_tensor(xf // 2.0, [3.0, -4.0, 3.0, -4.0])
    assert_tensor(xf % -3.0, [-2.0, -1.0, -2.0, -1.0])
    assert_tensor(tf.math.mod(xf, 3.0), [1.0, 2.0, 1.0, 2.0])


@pytest.mark.parametrize("fn", [tf.math.floordiv, tf.math.floormod, tf.truncatediv, tf.truncatemod])
def test_integer_division_by_zero(fn):
    with pytest.raises(IAE, match="Integer division by zero"):
        fn(tf.constant([1]), tf.constant([0]))


def test_pow_rejects_negative_integer_exponent():
    with pytest.raises(IAE, match="Integers to negative integer powers are not allowed"):
        tf.pow(tf.constant([2]), tf.constant([-1]))
    assert_tensor(tf.pow(tf.constant([2, 3]), 2), [4, 9], dtype=tf.int32)


def test_no_nan_variants():
    assert_tensor(tf.math.divide_no_nan(tf.constant([1, 2]), tf.constant([0, 4])), [0.0, 0.5], dtype=tf.float64)
    assert_tensor(tf.math.divide_no_nan(tf.constant([1.0, 2.0]), 0.0), [0.0, 0.0], dtype=tf.float32)
    assert_tensor(tf.math.multiply_no_nan(tf.constant([np.inf, np.nan, 2.0]), tf.constant([0.0, 0.0, 3.0])),
                  [0.0, 0.0, 6.0])
    assert_tensor(tf.math.reciprocal_no_nan(tf.constant([0.0, 4.0])), [0.0, 0.25])
    with pytest.raises(TypeError):
        tf.math.reciprocal_no_nan(tf.constant([1]))


def test_mismatched_dtypes_and_shapes():
    with pytest.raises(IAE, match=r"expected to be a int32 tensor but is a float tensor \[Op:AddV2\]"):
        tf.constant([1]) + tf.constant([1.0])
    with pytest.raises(IAE, match=r"Incompatible shapes: \[2\] vs. \[3\] \[Op:AddV2\]"):
        tf.constant([1.0, 2.0]) + tf.constant([1.0, 2.0, 3.0])


@pytest.mark.parametrize("fn", [tf.sin, tf.exp, tf.math.sigmoid, tf.math.is_nan, tf.math.erf])
def test_float_only_ops_reject_integers(fn):
    with pytest.raises(IAE, match="Value for attr 'T' of int32 is not in the list of allowed values"):
        fn(tf.constant([1]))


def test_round_is_bankers_and_keeps_integers():
    assert_tensor(tf.round(tf.constant([0.5, 1.5, 2.5, -0.5, -1.5])), [0.0, 2.0, 2.0, -0.0, -2.0])
    assert_tensor(tf.round(tf.constant([1, 2])), [1, 2], dtype=tf.int32)
    assert_tensor(tf.math.rint(tf.constant([2.5, 3.5])), [2.0, 4.0])


def test_unary_values_float32():
    x = np.array([-1.5, -0.3, 0.4, 2.0], np.float32)
    t = tf.constant(x)
    for fn, ref in [(tf.math.softplus, lambda v: np.log1p(np.exp(v))), (tf.nn.softsign, lambda v: v / (1 + abs(v))),
                    (tf.math.log_sigmoid, lambda v: -np.log1p(np.exp(-v))), (tf.nn.sigmoid, sp.expit),
                    (tf.math.reciprocal, np.reciprocal), (tf.math.expm1, np.expm1), (tf.math.sign, np.sign)]:
        out = fn(t)
        assert out.dtype == tf.float32
        np.testing.assert_allclose(out.numpy(), ref(x), rtol=1e-5, atol=1e-6)
    assert_tensor(tf.math.reciprocal(tf.constant([2, -1, 1])), [0, -1, 1], dtype=tf.int32)


def test_special_functions():
    a = tf.constant([0.5, 1.0, 3.0], tf.float64)
    x = tf.constant([0.2, 1.5, 2.0], tf.float64)
    assert_tensor(tf.math.igamma(a, x), sp.gammainc([0.5, 1.0, 3.0], [0.2, 1.5, 2.0]), rtol=1e-10)
    assert_tensor(tf.math.igammac(a, x), sp.gammaincc([0.5, 1.0, 3.0], [0.2, 1.5, 2.0]), rtol=1e-10)
    assert_tensor(tf.math.polygamma(tf.constant([0.0, 1.0, 1.5]), tf.constant([2.0, 2.0, 2.0])),
                  [sp.digamma(2.0), sp.polygamma(1, 2.0), np.nan], rtol=1e-5)
    assert_tensor(tf.math.erfcinv(tf.constant([0.5, 1.0, 1.5])), sp.erfcinv([0.5, 1.0, 1.5]), rtol=1e-5)
    assert_tensor(tf.math.lbeta(tf.constant([[1.0, 2.0], [3.0, 4.0]])), sp.betaln([1.0, 3.0], [2.0, 4.0]), rtol=1e-5)
    assert_tensor(tf.math.special.bessel_i1e(tf.constant([0.0, 1.0])), sp.i1e([0.0, 1.0]), rtol=1e-6)
    assert_tensor(tf.math.betainc(1.0, 2.0, 0.5), 0.75, rtol=1e-6)


# --- operators ------------------------------------------------------------------------------------


def test_equality_operators():
    a = tf.constant([1, 2])
    assert_tensor(a == 2, [False, True])
    assert_tensor(a != tf.constant([1, 3]), [False, True])
    assert (a == None) is False  # noqa: E711 - TF2's special case
    assert (a != None) is True  # noqa: E711
    assert_tensor(a == tf.constant([1, 2, 3]), False, dtype=tf.bool)
    assert_tensor(a != tf.constant([1, 2, 3]), True, dtype=tf.bool)
    with pytest.raises(IAE):
        a == tf.constant([1.0, 2.0])  # noqa: B015
    with pytest.raises(IAE, match="Incompatible shapes"):
        tf.equal(a, tf.constant([1, 2, 3]))


def test_bitwise_operators():
    b1, b2 = tf.constant([True, False, True]), tf.constant([True, True, False])
    assert_tensor(b1 & b2, [True, False, False])
    assert_tensor(b1 | b2, [True, True, True])
    assert_tensor(b1 ^ b2, [False, True, True])
    assert_tensor(~b1, [False, True, False])
    i = tf.constant([12, 10])
    assert_tensor(i & 6, [4, 2], dtype=tf.int32)
    assert_tensor(i | 1, [13, 11])
    assert_tensor(i ^ 15, [3, 5])
    assert_tensor(~i, [-13, -11])
    assert_tensor(tf.bitwise.invert(tf.constant([1], tf.uint8)), [254], dtype=tf.uint8)
    assert_tensor(tf.bitwise.left_shift(tf.constant([1, 1]), tf.constant([3, 40])), [8, 0])
    assert_tensor(tf.bitwise.right_shift(tf.constant([-8, 2]), tf.constant([1, 40])), [-4, 0])
    with pytest.raises(IAE):
        tf.constant([1.0]) & tf.constant([1.0])  # noqa: B015
    with pytest.raises(IAE):
        ~tf.constant([1.0])  # noqa: B015


def test_logical_ops():
    x, y = [True, True, False, False], [True, False, True, False]
    assert_tensor(tf.math.logical_xor(x, y), [False, True, True, False])
    assert_tensor(tf.logical_and(x, y), [True, False, False, False])
    assert_tensor(tf.logical_or(x, y), [True, True, True, False])
    assert_tensor(tf.logical_not(x), [False, False, True, True])


def test_complex_helpers():
    z = tf.constant([3 + 4j, -1 + 0j])
    assert_tensor(tf.abs(z), [5.0, 1.0], dtype=tf.float64)
    assert_tensor(tf.math.real(z), [3.0, -1.0], dtype=tf.float64)
    assert_tensor(tf.math.imag(z), [4.0, 0.0], dtype=tf.float64)
    assert_tensor(tf.math.angle(z), np.angle([3 + 4j, -1]), dtype=tf.float64)
    assert_tensor(tf.math.angle(tf.constant([-2.0, 2.0])), [np.pi, 0.0], dtype=tf.float32)
    assert_tensor(tf.math.imag(tf.constant([1.0])), [0.0], dtype=tf.float32)
    c = tf.complex(tf.constant([1.0]), tf.constant([2.0]))
    assert c.dtype == tf.complex64 and c.numpy()[0] == 1 + 2j
    with pytest.raises(IAE):
        tf.complex(tf.constant([1.0]), tf.constant([2.0], tf.float64))
    assert_tensor(tf.math.conj(tf.constant([1 + 2j])), [1 - 2j])
    assert_tensor(tf.sign(tf.constant([3 + 4j])), [0.6 + 0.8j])


def test_complex_gradients():
    re, im = tf.constant([3.0, 1.0], tf.float64), tf.constant([4.0, -2.0], tf.float64)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([re, im])
        z = tf.complex(re, im)
        mag = tf.reduce_sum(tf.abs(z))
        parts = tf.reduce_sum(tf.math.real(z) * 2.0 + tf.math.imag(z) * 3.0)
        ang = tf.reduce_sum(tf.math.angle(z))
    r = np.hypot([3.0, 1.0], [4.0, -2.0])
    assert_tensor(tape.gradient(mag, re), np.array([3.0, 1.0]) / r)
    assert_tensor(tape.gradient(mag, im), np.array([4.0, -2.0]) / r)
    assert_tensor(tape.gradient(parts, re), [2.0, 2.0])
    assert_tensor(tape.gradient(parts, im), [3.0, 3.0])
    assert_tensor(tape.gradient(ang, re), -np.array([4.0, -2.0]) / r**2)


def test_sign_gradient_is_zero_and_floor_has_none():
    x = tf.constant([1.5, -2.5])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        s, f = tf.sign(x), tf.floor(x)
    assert_tensor(tape.gradient(s, x), [0.0, 0.0])
    assert tape.gradient(f, x) is None


def test_floormod_gradient():
    check_gradients(lambda x, y: tf.math.floormod(x, y), np.array([5.3, -5.3, 2.2]), np.array([2.0, 2.0, -1.5]))


# --- composites -----------------------------------------------------------------------------------


def test_scalar_mul_polyval_accumulate_n():
    assert_tensor(tf.math.scalar_mul(2, tf.constant([1.0, 2.0])), [2.0, 4.0], dtype=tf.float32)
    with pytest.raises(ValueError, match="Only scalar multiply works"):
        tf.math.scalar_mul(tf.constant([1.0, 2.0]), tf.constant([1.0, 2.0]))
    assert_tensor(tf.math.polyval([1.0, 2.0, 3.0], tf.constant([2.0, 0.0])), [11.0, 3.0])
    assert_tensor(tf.math.polyval([], tf.constant(2.0)), 0.0)
    assert_tensor(tf.math.accumulate_n([tf.constant([1, 2]), tf.constant([3, 4])]), [4, 6])
    with pytest.raises(ValueError):
        tf.add_n([])


def test_xlogy_family_zero_cases():
    assert_tensor(tf.math.xlogy(tf.constant([0.0, 1.0]), tf.constant([0.0, 2.0])), [0.0, np.log(2.0)])
    assert_tensor(tf.math.xdivy(tf.constant([0.0, 1.0]), tf.constant([0.0, 2.0])), [0.0, 0.5])
    assert_tensor(tf.math.xlog1py(tf.constant([0.0, 1.0]), tf.constant([-1.0, 2.0])), [0.0, np.log(3.0)])


# --- second order ---------------------------------------------------------------------------------

_SECOND = [
    (tf.tanh, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    (tf.sigmoid, lambda x: sp.expit(x) * (1 - sp.expit(x)) * (1 - 2 * sp.expit(x))),
    (tf.math.softplus, lambda x: sp.expit(x) * (1 - sp.expit(x))),
    (tf.sin, lambda x: -np.sin(x)),
    (tf.math.log, lambda x: -1 / x**2),
    (tf.sqrt, lambda x: -0.25 * x**-1.5),
    (tf.math.rsqrt, lambda x: 0.75 * x**-2.5),
    (tf.math.erf, lambda x: -4 * x / np.sqrt(np.pi) * np.exp(-(x**2))),
    (tf.math.lgamma, lambda x: sp.polygamma(1, x)),
    (tf.math.atan, lambda x: -2 * x / (1 + x**2) ** 2),
]


@pytest.mark.parametrize("fn, want", _SECOND, ids=lambda v: getattr(v, "__name__", ""))
def test_second_derivative(fn, want):
    x = tf.constant([0.3, 0.9, 1.7], tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(fn(x))
        dy = inner.gradient(y, x)
    assert_tensor(outer.gradient(dy, x), want(x.numpy()), rtol=1e-6)


# --- oracle ---------------------------------------------------------------------------------------


def test_against_tensorflow(tf_oracle):
    code = """
x = tf.constant([-2.5, -0.5, 0.5, 1.5, 3.0])
i = tf.constant([7, -7, 5, -3])
j = tf.constant([2, -2, 3, 2])
result = {
    "round": tf.round(x).numpy().tolist(),
    "floordiv": (i // j).numpy().tolist(), "floormod": (i % j).numpy().tolist(),
    "truncatemod": tf.truncatemod(i, j).numpy().tolist(),
    "softplus": tf.math.softplus(x).numpy().tolist(), "log_sigmoid": tf.math.log_sigmoid(x).numpy().tolist(),
    "div_dtype": (i / j).dtype.name, "eq_mismatch": bool((i == tf.constant([1, 2])).numpy()),
    "bessel_i1e": tf.math.bessel_i1e(x).numpy().tolist(), "digamma": tf.math.digamma(x).numpy().tolist(),
    "shift": tf.bitwise.right_shift(i, tf.constant([1, 2, 40, 3])).numpy().tolist(),
}
"""
    got = {
        "round": tf.round(tf.constant([-2.5, -0.5, 0.5, 1.5, 3.0])).numpy().tolist(),
    }
    x = tf.constant([-2.5, -0.5, 0.5, 1.5, 3.0])
    i, j = tf.constant([7, -7, 5, -3]), tf.constant([2, -2, 3, 2])
    got.update({
        "floordiv": (i // j).numpy().tolist(), "floormod": (i % j).numpy().tolist(),
        "truncatemod": tf.truncatemod(i, j).numpy().tolist(),
        "softplus": tf.math.softplus(x).numpy().tolist(), "log_sigmoid": tf.math.log_sigmoid(x).numpy().tolist(),
        "div_dtype": (i / j).dtype.name, "eq_mismatch": bool((i == tf.constant([1, 2])).numpy()),
        "bessel_i1e": tf.math.bessel_i1e(x).numpy().tolist(), "digamma": tf.math.digamma(x).numpy().tolist(),
        "shift": tf.bitwise.right_shift(i, tf.constant([1, 2, 40, 3])).numpy().tolist(),
    })
    want = tf_oracle(code)
    for key, value in want.items():
        if isinstance(value, list):
            np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-6, err_msg=key)
        else:
            assert got[key] == value, key


def test_string_addition_concatenates_like_tensorflow():
    assert_tensor(tf.constant("a") + tf.constant("b"), b"ab")
    assert_tensor(tf.constant(["a", "c"]) + "b", [b"ab", b"cb"])
    assert_tensor("b" + tf.constant(["a", "c"]), [b"ba", b"bc"])
    assert_tensor(tf.constant([["a"], ["b"]]) + tf.constant(["x", "y"]), [[b"ax", b"ay"], [b"bx", b"by"]])
    assert_tensor(tf.add(tf.constant("a"), "z"), b"az")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Incompatible shapes: \[3\] vs. \[2\]"):
        tf.constant(["a", "b", "c"]) + tf.constant(["x", "y"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a string tensor"):
        tf.constant("a") + 1
    joined = tf.function(lambda a, b: a + b)(tf.constant(["a", "b"]), tf.constant("q"))
    assert_tensor(joined, [b"aq", b"bq"])
    graph = tf.function(lambda a, b: a + b).get_concrete_function(tf.constant("a"), tf.constant("b")).graph
    assert "Add" in [n.type for n in graph.get_operations()]


def test_add_converts_a_leading_python_value_on_its_own():
    # TF 2.21: tf.add(x, y) converts a Python x without y's dtype; the op then rejects the pair.
    with pytest.raises(tf.errors.InvalidArgumentError, match="input #1"):
        tf.add(1.5, tf.constant(1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="input #1"):
        tf.add(1, tf.constant(1.5))
    assert_tensor(tf.add(tf.constant(1.5), 1), 2.5)


_LAX_BINARY = [(tf.add, np.add), (tf.subtract, np.subtract), (tf.multiply, np.multiply),
               (tf.maximum, np.maximum), (tf.minimum, np.minimum)]
_SHAPE_PAIRS = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3)), ((4, 1, 3), (2, 1))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("shapes", _SHAPE_PAIRS)
def test_binary_kernels_broadcast_eagerly_and_in_graphs(shapes, dtype):
    # These kernels call lax directly (one equation when compiled); they must equal NumPy's.
    rng = np.random.default_rng(3)
    x = (rng.normal(size=shapes[0]) * 4).astype(dtype)
    y = (rng.normal(size=shapes[1]) * 4).astype(dtype)
    for fn, ref in _LAX_BINARY:
        graph = tf.function(lambda a, b, fn=fn: fn(a, b))
        for got in (fn(tf.constant(x), tf.constant(y)), graph(tf.constant(x), tf.constant(y))):
            assert_tensor(got, ref(x, y), tf.as_dtype(dtype))
    if dtype != np.int32:
        assert_tensor(tf.function(tf.math.truediv)(tf.constant(x), tf.constant(y + 20)), x / (y + 20),
                      tf.as_dtype(dtype), rtol=1e-6)


@pytest.mark.parametrize("fn, ref, dtype", [
    (tf.exp, np.exp, np.float32), (tf.math.log, np.log, np.float64), (tf.sqrt, np.sqrt, np.float32),
    (tf.square, np.square, np.float32), (tf.square, np.square, np.int32), (tf.negative, np.negative, np.int32),
    (tf.negative, np.negative, np.float32),
])
def test_unary_kernels_eagerly_and_in_graphs(fn, ref, dtype):
    x = np.array([[0.5, 2.0, 3.0], [4.0, 1.5, 9.0]]).astype(dtype)
    for got in (fn(tf.constant(x)), tf.function(fn)(tf.constant(x))):
        assert_tensor(got, ref(x), tf.as_dtype(dtype), rtol=1e-6)
