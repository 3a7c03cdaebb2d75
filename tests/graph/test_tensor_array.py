"""tf.TensorArray: eager lists, TensorList raw ops inside tf.function, loops, conds, gradients."""

import numpy as np
import pytest

import flowstone as tf
from flowstone.core.execute import execute
from tests.helpers import assert_tensor, check_gradients, numerical_gradient

X = np.array([[0.5, -1.0], [2.0, 3.0], [1.5, 0.25]], np.float32)


def _ops(fn, *args):
    """The op types of the graph of tf.function `fn` (and of the functions it calls)."""
    found, stack = set(), [fn.get_concrete_function(*args).graph]
    while stack:
        g = stack.pop()
        for n in g.nodes:
            found.add(n.type)
            for v in n.attrs.values():
                for x in v if isinstance(v, list) else [v]:
                    if hasattr(getattr(x, "graph", x), "nodes"):
                        stack.append(getattr(x, "graph", x))
    return found


def _everything(x):
    """Every TensorArray method; returns the values a NumPy reference gives below."""
    ta = tf.TensorArray(tf.float32, size=3)
    for i in range(3):
        ta = ta.write(i, x[i] * 2.0)
    u = tf.TensorArray(tf.float32, size=3).unstack(x)
    s = tf.TensorArray(tf.float32, size=3, element_shape=[2]).scatter([2, 0], x[:2])
    parts = tf.TensorArray(tf.float32, size=2, element_shape=[None]).split(tf.reshape(x, [-1]), [2, 4])
    return (ta.stack(), ta.read(1), u.gather([2, 0]), s.stack(), parts.concat(), parts.read(1), ta.size(),
            u.identity().stack())


def _reference(x):
    flat = x.reshape(-1)
    return (x * 2, x[1] * 2, x[[2, 0]], np.stack([x[1], np.zeros(2), x[0]]), flat, flat[2:], 3, x)


@pytest.mark.parametrize("mode", ["eager", "function", "jit"])
def test_every_method_matches_numpy(mode):
    fn = {"eager": _everything, "function": tf.function(_everything, autograph=False),
          "jit": tf.function(_everything, autograph=False, jit_compile=True)}[mode]
    for got, want in zip(fn(tf.constant(X)), _reference(X)):
        assert_tensor(got, np.asarray(want, np.float32) if np.ndim(want) else want)
    if mode != "eager":
        types = _ops(fn, tf.constant(X))
        assert {"TensorListReserve", "TensorListSetItem", "TensorListStack", "TensorListGetItem",
                "TensorListFromTensor", "TensorListGather", "TensorListScatterIntoExistingList",
                "TensorListSplit", "TensorListConcatV2"} <= types


def test_eager_semantics():
    ta = tf.TensorArray(tf.float32, size=3, element_shape=[2])
    assert ta.write(0, [1.0, 2.0]) is ta  # eagerly `write` updates the array and returns it
    assert_tensor(ta.read(1), [0.0, 0.0])  # never written, known shape: zeros
    assert_tensor(ta.stack(), [[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
    ta = tf.TensorArray(tf.int32, size=0, dynamic_size=True).write(3, 7)
    assert int(ta.size()) == 4 and ta.dynamic_size and ta.dtype == tf.int32
    assert ta.stack().numpy().tolist() == [0, 0, 0, 7]
    keep = tf.TensorArray(tf.float32, size=1, clear_after_read=False).write(0, 1.5)
    assert float(keep.read(0)) == float(keep.read(0)) == 1.5
    assert tf.TensorArray(tf.float32, size=2).write(0, [1.0, 2.0]).element_shape == tf.TensorShape([2])
    assert tf.TensorArray(tf.float32, size=0, element_shape=[2]).stack().shape == (0, 2)
    assert_tensor(tf.TensorArray(tf.float32, size=2, infer_shape=False).write(0, [1.0, 2.0]).write(1, [3.0])
                  .concat(), [1.0, 2.0, 3.0])
    assert tf.TensorArray(tf.string, size=2).write(1, "b").write(0, "a").stack().numpy().tolist() == [b"a", b"b"]


@pytest.mark.parametrize("action, error, match", [
    (lambda: tf.TensorArray(tf.float32), ValueError, "Size must be declared"),
    (lambda: tf.TensorArray(tf.float32, size=2).write(2, 1.0), tf.errors.OutOfRangeError,
     "Tried to write to index 2 but array is not resizeable and size is: 2"),
    (lambda: tf.TensorArray(tf.float32, size=2).write(-1, 1.0), tf.errors.OutOfRangeError, "negative indices"),
    (lambda: tf.TensorArray(tf.float32, size=2).read(5), tf.errors.OutOfRangeError,
     "Tried to read from index 5 but array size is: 2"),
    (lambda: tf.TensorArray(tf.float32, size=2).read(0), ValueError, "partially known TensorShape"),
    (lambda: tf.TensorArray(tf.float32, size=2).write(0, tf.constant(1)), tf.errors.InvalidArgumentError,
     "TensorArray dtype is float32 but Op is trying to write dtype int32"),
    (lambda: tf.TensorArray(tf.float32, size=2).write(0, [1.0]).write(1, [1.0, 2.0]), ValueError,
     r"Incompatible shape for value \(\(2,\)\), expected \(\(1,\)\)"),
    (lambda: tf.TensorArray(tf.float32, size=2).unstack([1.0, 2.0, 3.0]), ValueError,
     "Cannot unstack 3 tensors into a TensorArray of static size 2"),
    (lambda: tf.TensorArray(tf.float32, size=2).split([1.0, 2.0, 3.0], [2, 2]), tf.errors.InvalidArgumentError,
     "sum of lengths is 4"),
    (lambda: tf.TensorArray(tf.float32, size=1).write(0, 1.0).concat(), tf.errors.InvalidArgumentError,
     "requires at least vectors"),
])
def test_eager_errors(action, error, match):
    with pytest.raises(error, match=match):
        action()


def test_clear_after_read():
    ta = tf.TensorArray(tf.float32, size=1).write(0, 2.0)
    assert float(ta.read(0)) == 2.0
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not read index 0 twice"):
        ta.read(0)


def test_run_time_errors_inside_functions():
    # Compiled code checks indices it knows while compiling (XLA clamps the others, as in TF).
    @tf.function(autograph=False)
    def bad_write(i):
        return tf.TensorArray(tf.float32, size=2).write(3, i).stack()

    @tf.function(autograph=False)
    def unwritten():
        return tf.TensorArray(tf.float32, size=2).read(0)

    with pytest.raises(tf.errors.InvalidArgumentError, match="Trying to modify element 3 in a list with 2"):
        bad_write(tf.constant(1.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="uninitialized tensor"):
        unwritten()
    with pytest.raises(tf.errors.InvalidArgumentError, match="TensorArray dtype is float32"):
        tf.function(lambda: tf.TensorArray(tf.float32, size=1).write(0, tf.constant(1)).stack())()


def _fill(x, n_static=True):
    """The common pattern: a loop writes f(x, i) at i, then the array is stacked."""
    n = 4 if n_static else tf.shape(x)[0] + 1
    ta = tf.TensorArray(x.dtype, size=n)
    for i in tf.range(n):
        ta = ta.write(i, tf.sin(x) * tf.cast(i + 1, x.dtype))
    return ta.stack()


@pytest.mark.parametrize("kwargs", [{}, {"jit_compile": True}])
def test_loop_filling_an_array_and_its_gradient(kwargs):
    x = np.array([0.3, -1.2, 2.0])
    f = tf.function(_fill, **kwargs)
    want = np.sin(x)[None, :] * np.arange(1, 5)[:, None]
    assert_tensor(f(tf.constant(x)), want)
    assert_tensor(_fill(tf.constant(x)), want)  # eagerly: Python loop, Python list
    check_gradients(f, x)
    check_gradients(_fill, x)
    cf = f.get_concrete_function(tf.constant(x))
    assert not cf._program.interpret  # the list is a fixed-size buffer: compiled by XLA


def _loop_over_array(x, clear_after_read=False):
    def body(i, acc, ta):
        ta = ta.write(i, x * tf.cast(i, tf.float64))
        return i + 1, acc + ta.read(i) ** 2, ta

    ta0 = tf.TensorArray(tf.float64, size=3, element_shape=[2], clear_after_read=clear_after_read)
    _, acc, ta = tf.while_loop(lambda i, acc, ta: i < 3, body, (tf.constant(0), tf.zeros([2], tf.float64), ta0))
    return acc + tf.reduce_sum(ta.stack(), 0)


def test_while_loop_with_arrays_as_loop_variables():
    x = np.array([1.5, -0.5])
    want = x ** 2 * 5 + x * 3
    g = tf.function(_loop_over_array, autograph=False)
    assert_tensor(_loop_over_array(tf.constant(x)), want)
    assert_tensor(g(tf.constant(x)), want)
    check_gradients(g, x)
    assert g.get_concrete_function(tf.constant(x)).graph.outputs[0].shape == tf.TensorShape([2])
    # TF's own quirk, kept: eagerly a read clears the element (clear_after_read), in a graph it does not.
    assert_tensor(_loop_over_array(tf.constant(x), True), x ** 2 * 5)
    assert_tensor(tf.function(_loop_over_array, autograph=False)(tf.constant(x), True), want)


def test_reads_of_elements_written_in_earlier_iterations():
    """An RNN-style recurrence through the array: write(i + 1, g(read(i)))."""
    def f(x):
        ta = tf.TensorArray(tf.float64, size=5, clear_after_read=False).write(0, x)
        for i in tf.range(4):
            ta = ta.write(i + 1, tf.tanh(ta.read(i) * 1.5) + x)
        return ta.stack()

    x = np.array([0.2, -0.7])
    g = tf.function(f)
    assert_tensor(g(tf.constant(x)), f(tf.constant(x)).numpy())
    check_gradients(g, x, rtol=1e-5)
    check_gradients(f, x, rtol=1e-5)


def test_element_overwritten_in_every_iteration():
    """The gradient replays each iteration with the values it read, not the final ones."""
    def f(x):
        ta = tf.TensorArray(tf.float64, size=2, clear_after_read=False).write(0, x).write(1, x * 0.0)
        for i in tf.range(3):
            ta = ta.write(0, tf.sin(ta.read(0)) * x + tf.cast(i, tf.float64))
            ta = ta.write(1, ta.read(1) + ta.read(0) ** 2)
        return ta.stack()

    x = np.array([0.6, -1.3])
    g = tf.function(f)
    assert_tensor(g(tf.constant(x)), f(tf.constant(x)).numpy())
    check_gradients(g, x)


def test_dynamic_size_runs_through_the_interpreter_and_not_under_jit_compile():
    def f(x):
        ta = tf.TensorArray(tf.float64, size=0, dynamic_size=True)
        i = tf.constant(0)
        while i < tf.shape(x)[0]:
            ta = ta.write(i, x[i] * x[i])
            i += 1
        return ta.stack()

    x = np.array([1.0, 2.0, -3.0])
    g = tf.function(f)
    assert_tensor(g(tf.constant(x)), x * x)
    assert g.get_concrete_function(tf.constant(x))._program.interpret
    check_gradients(g, x)
    with pytest.raises(tf.errors.InvalidArgumentError, match="requires a fixed tensor list size"):
        tf.function(f, jit_compile=True)(tf.constant(x))


def test_strings_and_lists_growing_in_straight_line_code():
    @tf.function
    def strings(x):
        ta = tf.TensorArray(tf.string, size=2).unstack(tf.stack([x, x]))
        ta = ta.write(1, tf.strings.join([x, x]))
        return ta.stack(), ta.gather([1, 0]), ta.concat()

    got = strings(tf.constant(["ab"]))
    assert got[0].numpy().tolist() == [[b"ab"], [b"abab"]]
    assert got[1].numpy().tolist() == [[b"abab"], [b"ab"]]
    assert got[2].numpy().tolist() == [b"ab", b"abab"]

    @tf.function
    def grow(x):
        ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True).unstack(tf.constant([1.0, 2.0]))
        ta = ta.write(4, x).scatter([0], tf.reshape(x, [1]))
        return ta.stack(), ta.size()

    values, size = grow(tf.constant(3.0))
    assert values.numpy().tolist() == [3.0, 2.0, 0.0, 0.0, 3.0] and int(size) == 5


def test_unknown_element_shape_is_found_from_the_loop_body():
    @tf.function
    def f(x):
        ta = tf.TensorArray(tf.float32, size=3)  # no element_shape: the writes decide it
        for i in tf.range(3):
            ta = ta.write(i, x * tf.cast(i, tf.float32))
        return ta.stack()

    x = tf.constant(X)
    assert_tensor(f(x), np.stack([X * i for i in range(3)]))
    assert f.get_concrete_function(x).graph.outputs[0].shape == tf.TensorShape([3, 3, 2])
    assert not f.get_concrete_function(x)._program.interpret


def test_array_through_cond_and_autograph_if():
    @tf.function
    def f(x, flag):
        ta = tf.TensorArray(tf.float32, size=2, element_shape=[2])
        ta = ta.write(0, x)
        if flag:
            ta = ta.write(1, x * 3.0)
        else:
            ta = ta.write(1, -x)
        return ta.stack()

    x = np.array([1.0, 2.0], np.float32)
    assert_tensor(f(tf.constant(x), tf.constant(True)), [x, 3 * x])
    assert_tensor(f(tf.constant(x), tf.constant(False)), [x, -x])
    assert "StatelessIf" in _ops(f, tf.constant(x), tf.constant(True))


@pytest.mark.parametrize("method", ["read", "stack", "gather", "concat", "unstack", "scatter", "split"])
def test_method_gradients_eager_and_traced(method):
    def f(x):
        if method == "read":
            return tf.TensorArray(x.dtype, size=2).write(1, x * x).write(0, x).read(1)
        if method == "stack":
            return tf.TensorArray(x.dtype, size=2).write(0, tf.sin(x)).write(1, x * 2.0).stack() ** 2
        if method == "gather":
            return tf.TensorArray(x.dtype, size=3).unstack(x).gather([2, 0, 2]) ** 2
        if method == "concat":
            return tf.TensorArray(x.dtype, size=2).write(0, x[:2] * x[:2]).write(1, x[1:]).concat()
        if method == "unstack":
            return tf.TensorArray(x.dtype, size=3).unstack(x * x).stack() * tf.constant([1.0, 2.0, 3.0], x.dtype)
        if method == "scatter":
            return tf.TensorArray(x.dtype, size=4).scatter([3, 1, 0], x * x).stack() * tf.constant(
                [1.0, 2.0, 3.0, 4.0], x.dtype)
        return tf.TensorArray(x.dtype, size=2).split(x * x, [1, 2]).concat() * tf.constant([1.0, 2.0, 3.0], x.dtype)

    x = np.array([0.4, -1.1, 2.3])
    check_gradients(f, x)
    check_gradients(tf.function(f, autograph=False), x)


def test_gradients_of_raw_tensor_list_ops_recorded_eagerly():
    x = tf.constant(np.array([[1.0, 2.0], [3.0, 4.0]]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        lst = execute("TensorListFromTensor", (x, tf.constant([2])), {})
        lst = execute("TensorListSetItem", (lst, tf.constant(0), x[1] * 3.0), {})
        y = execute("TensorListStack", (lst, tf.constant([2])), {"element_dtype": tf.float64})
        total = tf.reduce_sum(y * y)
    want = numerical_gradient(lambda v: tf.stack([v[1] * 3.0, v[1]]) ** 2, [x.numpy()], 0)
    assert_tensor(tape.gradient(total, x), want)


def test_tensor_array_spec():
    spec = tf.TensorArraySpec([2], tf.float32)
    assert repr(spec) == "TensorArraySpec(TensorShape([2]), tf.float32, False, True)"
    assert spec == tf.TensorArraySpec.from_value(tf.TensorArray(tf.float32, size=1).write(0, [1.0, 2.0]))
    assert spec.value_type is tf.TensorArray
    assert spec.is_compatible_with(tf.TensorArraySpec([None], tf.float32))
    assert not spec.is_compatible_with(tf.TensorArraySpec([2], tf.int32))


# --- TensorArrays as arguments and results of tf.function -------------------------------------


def _filled(rows, dtype=tf.float32, **kwargs):
    ta = tf.TensorArray(dtype, size=len(rows), **kwargs)
    for i, row in enumerate(rows):
        ta = ta.write(i, row)
    return ta


def test_function_takes_a_tensor_array():
    traces = []

    @tf.function
    def f(ta):
        traces.append(tf.TensorArraySpec.from_value(ta))
        return ta.stack() * 2.0, ta.size(), ta.read(1)

    stacked, size, row = f(_filled(X))
    assert_tensor(stacked, X * 2)
    assert_tensor(size, 3, dtype=tf.int32)
    assert_tensor(row, X[1])
    # Another array of the same spec (another length) runs on the same trace.
    stacked, size, _ = f(_filled(X[:2]))
    assert_tensor(stacked, X[:2] * 2)
    assert_tensor(size, 2, dtype=tf.int32)
    assert traces == [tf.TensorArraySpec([2], tf.float32)]
    assert f.get_concrete_function(_filled(X)).structured_input_signature == (
        (tf.TensorArraySpec([2], tf.float32),), {})


def test_function_retraces_on_a_new_tensor_array_spec():
    traces = []

    @tf.function
    def f(ta):
        traces.append((ta.dtype, ta.element_shape.as_list(), ta.dynamic_size))
        return ta.stack()

    assert_tensor(f(_filled(X)), X)
    assert_tensor(f(_filled(X.astype(np.int32), tf.int32)), X.astype(np.int32), dtype=tf.int32)
    assert_tensor(f(_filled(X[:, :1])), X[:, :1])
    assert_tensor(f(_filled(X, dynamic_size=True)), X)
    assert_tensor(f(_filled(X)), X)
    assert traces == [(tf.float32, [2], False), (tf.int32, [2], False), (tf.float32, [1], False),
                      (tf.float32, [2], True)]


def test_function_reads_unwritten_elements_as_zeros():
    ta = tf.TensorArray(tf.float32, size=3, element_shape=[2]).write(1, X[1])
    got = tf.function(lambda t: t.stack())(ta)
    assert_tensor(got, np.stack([np.zeros(2, np.float32), X[1], np.zeros(2, np.float32)]))


def test_function_returns_a_tensor_array():
    @tf.function
    def f(x):
        ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        for i in tf.range(3):
            ta = ta.write(i, x * tf.cast(i + 1, tf.float32))
        return ta, x

    ta, _ = f(tf.constant(X[0]))
    assert isinstance(ta, tf.TensorArray)
    assert ta.dtype == tf.float32 and ta.dynamic_size and ta.element_shape.as_list() == [2]
    assert_tensor(ta.size(), 3, dtype=tf.int32)
    want = np.stack([X[0], X[0] * 2, X[0] * 3])
    assert_tensor(ta.read(2), want[2])
    # The result is an ordinary eager TensorArray (reads clear elements, writes grow it).
    ta = ta.write(3, [7.0, 7.0])
    assert_tensor(ta.stack(), np.stack([want[0], want[1], [0.0, 0.0], [7.0, 7.0]]))


def test_function_writes_a_tensor_array_it_was_given():
    @tf.function
    def put(ta, i, value):
        return ta.write(i, value)

    ta = _filled(X)
    out = put(ta, 1, tf.constant([9.0, 9.0]))
    assert_tensor(out.stack(), np.stack([X[0], [9.0, 9.0], X[2]]))
    assert_tensor(ta.stack(), X)  # the caller's array is a value passed in, not changed
    # Inside another function the call is inlined and the array stays a graph TensorArray.
    outer = tf.function(lambda t: put(t, 0, tf.constant([5.0, 5.0])).stack())
    assert_tensor(outer(_filled(X)), np.stack([[5.0, 5.0], X[1], X[2]]))


def test_function_tensor_array_input_signature():
    @tf.function(input_signature=[tf.TensorArraySpec([2], tf.float32)])
    def f(ta):
        return tf.reduce_sum(ta.stack(), axis=0)

    assert_tensor(f(_filled(X)), X.sum(0))
    assert_tensor(f(_filled(X[:1])), X[:1].sum(0))
    with pytest.raises(TypeError, match="TensorArraySpec"):
        f(_filled(X.astype(np.int32), tf.int32))
    with pytest.raises(TypeError, match="TensorArraySpec"):
        f(tf.constant(X))
    cf = f.get_concrete_function()
    assert_tensor(cf(_filled(X)), X.sum(0))


def test_function_tensor_array_gradients():
    f = tf.function(lambda ta: tf.reduce_sum(ta.stack() ** 2))
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        ta = tf.TensorArray(tf.float32, size=3)
        for i in range(3):
            ta = ta.write(i, x[i] * 3.0)
        y = f(ta)
    assert_tensor(tape.gradient(y, x), 18.0 * X, rtol=1e-5)

    @tf.function
    def build(v):
        ta = tf.TensorArray(tf.float32, size=2)
        return ta.write(0, v * 2.0).write(1, tf.sin(v))

    v = tf.constant(X[1])
    with tf.GradientTape() as tape:
        tape.watch(v)
        y = tf.reduce_sum(build(v).stack())
    assert_tensor(tape.gradient(y, v), 2.0 + np.cos(X[1]), rtol=1e-5)
