"""execute() and the registry: string tensors on codes, type attrs for kernels, the fast path."""

import numpy as np
import pytest

import flowstone as tf
from flowstone.core import registry
from flowstone.core.execute import execute
from flowstone.core.registry import OPS, call_on_codes, op

WORDS = np.array([[b"a", b"bb"], [b"", b"ccc"]], dtype=object)


def _strings(t, want):
    assert t.dtype is tf.string
    want = np.asarray(want, dtype=object)
    got = t.numpy()
    assert np.shape(got) == want.shape
    assert np.asarray(got, dtype=object).tolist() == want.tolist()


# --- strings through the generic array ops -----------------------------------------------------

_GENERIC = {
    "reshape": (lambda s: tf.reshape(s, [4]), lambda a: a.reshape(4)),
    "concat": (lambda s: tf.concat([s, s[::-1]], 1), lambda a: np.concatenate([a, a[::-1]], 1)),
    "stack": (lambda s: tf.stack([s, s], axis=1), lambda a: np.stack([a, a], 1)),
    "gather": (lambda s: tf.gather(s, [1, 0, 1], axis=1), lambda a: a[:, [1, 0, 1]]),
    "gather_nd": (lambda s: tf.gather_nd(s, [[1, 1], [0, 1]]), lambda a: a[[1, 0], [1, 1]]),
    "slicing": (lambda s: s[1:, ::-1], lambda a: a[1:, ::-1]),
    "index": (lambda s: s[1, 1], lambda a: a[1, 1]),
    "identity": (tf.identity, lambda a: a),
    "where": (
        lambda s: tf.where([[True, False], [False, True]], s, "x"),
        lambda a: np.where([[True, False], [False, True]], a, b"x"),
    ),
    "expand_dims": (lambda s: tf.expand_dims(s, -1), lambda a: a[..., None]),
    "squeeze": (lambda s: tf.squeeze(tf.reshape(s, [1, 4, 1])), lambda a: a.reshape(4)),
    "transpose": (tf.transpose, lambda a: a.T),
    "tile": (lambda s: tf.tile(s, [1, 2]), lambda a: np.tile(a, (1, 2))),
    "reverse": (lambda s: tf.reverse(s, [0]), lambda a: a[::-1]),
    "fill": (lambda s: tf.fill([2, 3], s[0, 1]), lambda a: np.full((2, 3), a[0, 1], object)),
    "broadcast_to": (
        lambda s: tf.broadcast_to(s[0], [3, 2]),
        lambda a: np.broadcast_to(a[0], (3, 2)),
    ),
    "boolean_mask": (
        lambda s: tf.boolean_mask(s, [[True, False], [True, True]]),
        lambda a: a[np.array([[True, False], [True, True]])],
    ),
    "pad": (
        lambda s: tf.pad(s, [[0, 1], [1, 0]]),
        lambda a: np.pad(a, [[0, 1], [1, 0]], constant_values=b""),
    ),
    "pad_value": (
        lambda s: tf.pad(s, [[1, 0], [0, 0]], constant_values="z"),
        lambda a: np.concatenate([np.full((1, 2), b"z", object), a]),
    ),
    "zeros_like": (tf.zeros_like, lambda a: np.full(a.shape, b"", object)),
    "roll": (lambda s: tf.roll(s, 1, 1), lambda a: np.roll(a, 1, 1)),
    "scatter_update": (
        lambda s: tf.tensor_scatter_nd_update(s, [[0, 0]], ["new"]),
        lambda a: np.array([[b"new", b"bb"], [b"", b"ccc"]], object),
    ),
    "one_hot": (
        lambda s: tf.one_hot([1, 0], 2, on_value="on", off_value="off"),
        lambda a: np.array([[b"off", b"on"], [b"on", b"off"]], object),
    ),
}


@pytest.mark.parametrize("case", sorted(_GENERIC))
def test_string_array_ops(case):
    fn, ref = _GENERIC[case]
    _strings(fn(tf.constant(WORDS)), ref(WORDS))


def test_string_multi_output_and_shape_ops():
    s = tf.constant(WORDS)
    rows = tf.unstack(s)
    assert len(rows) == 2
    _strings(rows[1], WORDS[1])
    parts = tf.split(tf.reshape(s, [4]), [1, 3])
    _strings(parts[1], [b"bb", b"", b"ccc"])
    y, idx = tf.unique(tf.constant(["b", "a", "b", ""]))
    _strings(y, [b"b", b"a", b""])
    np.testing.assert_array_equal(idx.numpy(), [0, 1, 0, 2])
    assert tf.shape(s).numpy().tolist() == [2, 2] and tf.shape(s).dtype is tf.int32
    assert int(tf.size(s)) == 4 and int(tf.rank(s)) == 2


def test_string_equality():
    s = tf.constant(WORDS)
    np.testing.assert_array_equal(tf.equal(s, "bb").numpy(), WORDS == b"bb")
    np.testing.assert_array_equal(
        tf.not_equal(s, ["a", ""]).numpy(), WORDS != np.array([b"a", b""], object)
    )
    np.testing.assert_array_equal((s == s[::-1]).numpy(), WORDS == WORDS[::-1])
    np.testing.assert_array_equal((s != "").numpy(), WORDS != b"")
    # TF2 `==` gives a scalar for incompatible shapes; tf.equal raises.
    assert (s == tf.constant(["a", "b", "c"])).numpy().item() is False
    with pytest.raises(tf.errors.InvalidArgumentError, match="Incompatible shapes"):
        tf.equal(s, tf.constant(["a", "b", "c"]))
    with pytest.raises(TypeError):
        s == 1  # noqa: B015 - TF refuses to convert 1 to a string


def test_string_ops_in_function():
    @tf.function
    def f(x):
        joined = tf.strings.join([x[0], x[1]], separator="-")
        flat = tf.concat([tf.reshape(x, [-1]), ["z"]], 0)
        return (
            joined,
            tf.gather(flat, [4, 0]),
            tf.equal(flat, "bb"),
            tf.where(flat == "", "empty", flat),
        )

    joined, picked, eq, filled = f(tf.constant(WORDS))
    _strings(joined, [b"a-", b"bb-ccc"])
    _strings(picked, [b"z", b"a"])
    np.testing.assert_array_equal(eq.numpy(), [False, True, False, False, False])
    _strings(filled, [b"a", b"bb", b"empty", b"ccc", b"z"])


def test_string_constants_fold_in_function():
    @tf.function
    def f(x):
        table = tf.constant(["zero", "one", "two"])
        return tf.gather(table, x), tf.reshape(table, [3, 1])[1:]

    picked, tail = f(tf.constant([2, 0]))
    _strings(picked, [b"two", b"zero"])
    _strings(tail, [[b"one"], [b"two"]])


def test_ops_that_compute_with_values_refuse_strings():
    s = tf.constant(["a", "b"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="attr 'T' of string"):
        tf.ones_like(s)
    with pytest.raises(tf.errors.InvalidArgumentError, match="attr 'T' of string"):
        tf.tensor_scatter_nd_add(s, [[0]], ["x"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="attr 'T' of string"):
        tf.scatter_nd([[0]], s[:1], [2])
    with pytest.raises(
        tf.errors.UnimplementedError, match="Cast string to float32 is not supported"
    ):
        tf.cast(s, tf.float32)
    with pytest.raises(tf.errors.UnimplementedError, match="Cast int32 to string"):
        tf.cast(tf.constant([1]), tf.string)


def test_codes_table():
    a = np.array([b"b", b"a"], dtype=object)
    b = np.array([[b"c"], [b""]], dtype=object)
    seen = []

    def kernel(x, ys, n):
        seen.append((x, ys[0], n))
        return x, ys[0] + 0, n

    out = call_on_codes(kernel, [a, [b], np.int32(7)], [True, True, False])
    x_codes, y_codes, n = seen[0]
    # One sorted table for all arguments, b"" first: codes order as the strings do.
    assert x_codes.dtype == np.int32 and x_codes.tolist() == [2, 1]
    assert y_codes.tolist() == [[3], [0]]
    assert out[0].tolist() == [b"b", b"a"] and out[1].tolist() == [[b"c"], [b""]] and out[2] == 7


# --- type attrs reach kernels that ask for them -------------------------------------------------


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64, tf.float32, tf.float64, tf.int8])
def test_range_dtype_eager_and_graph_agree(dtype):
    eager = tf.range(1, 7, 2, dtype=dtype)
    raw = tf.raw_ops.Range(
        start=tf.constant(1, dtype), limit=tf.constant(7, dtype), delta=tf.constant(2, dtype)
    )
    graph = tf.function(lambda: tf.range(1, 7, 2, dtype=dtype))()
    for t in (eager, raw, graph):
        assert t.dtype is dtype
        assert t.numpy().dtype == dtype.as_numpy_dtype
        np.testing.assert_array_equal(t.numpy(), [1, 3, 5])


def test_broadcast_args_keeps_int64():
    s0, s1 = tf.constant([2, 1], tf.int64), tf.constant([3], tf.int64)
    for t in (
        tf.raw_ops.BroadcastArgs(s0=s0, s1=s1),
        tf.function(lambda: tf.raw_ops.BroadcastArgs(s0=s0, s1=s1))(),
    ):
        assert t.dtype is tf.int64 and t.numpy().dtype == np.int64
        assert t.numpy().tolist() == [2, 3]


def test_kernel_receives_requested_type_attr():
    name = "FlowstoneTestTypedKernel"
    calls = []

    def kernel(x, T=None):  # noqa: N803 - named like the attr
        calls.append(T)
        return x

    op(name, "x: T -> y: T", {"T": (tf.float32, tf.int32)}, differentiable=False)(kernel)
    try:
        assert OPS[name].kernel_types == (("T", 0),)
        execute(name, (tf.constant([1.0]),))
        execute(name, (tf.constant([1]),))
        execute(name, (tf.constant([2]),))
        assert calls == [tf.float32, tf.int32]  # one trace per dtype, then the cached kernel
        assert len(OPS[name]._cache) == 2
    finally:
        del OPS[name]


# --- the fast path keeps execute()'s contract ---------------------------------------------------


def test_attr_keys_share_one_kernel():
    a = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    matmul = OPS["MatMul"]
    execute(matmul, (a, a))
    n = len(matmul._cache)
    full = {k: v for k, v in matmul.attrs.items()}
    np.testing.assert_allclose(execute("MatMul", (a, a), full).numpy(), a.numpy() @ a.numpy())
    np.testing.assert_allclose(
        execute("MatMul", (a, a), {"T": tf.float32}).numpy(), a.numpy() @ a.numpy()
    )
    assert len(matmul._cache) == n
    np.testing.assert_allclose(
        execute("MatMul", (a, a), {"transpose_a": True}).numpy(), a.numpy().T @ a.numpy()
    )


def test_attr_errors():
    a = tf.constant([1.0])
    with pytest.raises(TypeError, match="unexpected attr 'bogus'"):
        execute("Identity", (a,), {"bogus": 1})
    with pytest.raises(TypeError, match="unexpected attr 'bogus'"):
        execute("MatMul", (tf.ones([1, 1]), tf.ones([1, 1])), {"transpose_a": False, "bogus": 1})
    with pytest.raises(TypeError, match="missing the required attr 'DstT'"):
        execute("Cast", (a,))


def test_dtype_checks():
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"input #1\(zero-based\) was expected to be a "
        "float tensor but is a int32 tensor",
    ):
        execute("AddV2", (tf.constant(1.0), tf.constant(1)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="attr 'T' of bool is not in the list"):
        execute("AddV2", (tf.constant(True), tf.constant(True)))
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="expected to be a bool tensor but is a float tensor"
    ):
        execute("LogicalNot", (tf.constant(1.0),))
    # List inputs: ConcatV2's axis is checked against its own position after the list.
    with pytest.raises(tf.errors.InvalidArgumentError, match="attr"):
        execute("ConcatV2", ([tf.constant([1.0])], tf.constant(0.0)))


def test_graph_mode_goes_through_the_same_checks():
    @tf.function
    def f(x):
        return execute("AddV2", (x, tf.constant(1)))

    with pytest.raises(tf.errors.InvalidArgumentError, match="float tensor but is a int32"):
        f(tf.constant(1.0))


def test_precomputed_plan():
    add = OPS["AddV2"]
    assert add.default_key == () and add.same_checks == ((1, 0),) and add.string_inputs == ()
    assert OPS["Reshape"].string_inputs == (0,)
    assert OPS["StringFormat"].string_inputs == () and OPS["AssignVariableOp"].string_inputs == ()
    assert registry.OPS["MatMul"].default_key == tuple(sorted(OPS["MatMul"].attrs.items()))


def test_numerical_gradient_of_non_contiguous_input():
    from tests.helpers import numerical_gradient

    x = np.arange(6.0).reshape(2, 3).T  # Fortran-ordered view
    got = numerical_gradient(lambda t: t * t, [x], 0)
    np.testing.assert_allclose(got, 2 * x, rtol=1e-6)
