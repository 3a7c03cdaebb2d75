"""tf.case, tf.switch_case (the Case op), map_fn, scan, foldl, foldr and vectorized_map."""

import base64
import logging

import numpy as np
import pytest

import flowstone as tf
from flowstone.graph import functional
from tests.helpers import assert_tensor, check_gradients

X = np.array([[0.5, -1.0], [2.0, 3.0], [1.5, 0.25]])


def _modes(fn, jit=True):
    """fn eagerly, in a tf.function, and compiled with jit_compile=True."""
    out = [fn, tf.function(fn)]
    return out + [tf.function(fn, jit_compile=True)] if jit else out


def _graph_types(f, *args):
    types, stack = set(), [f.get_concrete_function(*args).graph]
    while stack:
        g = stack.pop()
        for n in g.nodes:
            types.add(n.type)
            for v in n.attrs.values():
                stack.extend(getattr(x, "graph", x) for x in (v if isinstance(v, list) else [v])
                             if hasattr(getattr(x, "graph", x), "nodes"))
    return types


# --- switch_case -----------------------------------------------------------------------------------


def _switch(i, x):
    return tf.switch_case(i, [lambda: x * x, lambda: tf.sin(x), lambda: x * 3.0], default=lambda: -x)


@pytest.mark.parametrize("index, want", [(0, X ** 2), (1, np.sin(X)), (2, X * 3.0), (3, -X), (9, -X), (-1, -X)])
def test_switch_case_values(index, want):
    for fn in _modes(_switch):
        assert_tensor(fn(tf.constant(index), tf.constant(X)), want)
    # Without a default an index out of range runs the last branch, as TF does.
    last = tf.function(lambda i: tf.switch_case(i, {0: lambda: tf.constant(1), 1: lambda: tf.constant(2)}))
    assert int(last(tf.constant(index))) == (1 if index == 0 else 2)


def test_switch_case_graph_and_gradients():
    f = tf.function(_switch)
    assert "StatelessCase" in _graph_types(f, tf.constant(0), tf.constant(X))
    for index in range(4):
        check_gradients(lambda x, i=index: f(tf.constant(i), x), X)
        check_gradients(lambda x, i=index: _switch(tf.constant(i), x), X)
    v = tf.Variable(1.0)

    @tf.function
    def stateful(i):
        return tf.switch_case(i, [lambda: v.assign_add(1.0), lambda: v.read_value()])

    assert float(stateful(tf.constant(0))) == 2.0 and float(stateful(tf.constant(1))) == 2.0
    assert "Case" in _graph_types(stateful, tf.constant(0))


def test_switch_case_graph_def_lists_every_branch():
    f = tf.function(_switch)
    gd = f.get_concrete_function(tf.constant(0), tf.constant(X)).graph.as_graph_def()
    node = next(n for n in gd.node if n.op == "StatelessCase")
    names = [fn.name for fn in node.attr["branches"].list.func]
    assert len(names) == 4 and set(names) <= {fn.signature.name for fn in gd.library.function}
    g = tf.graph_util.function_from_graph_def(gd, ["i:0", "x:0"], [f.get_concrete_function(
        tf.constant(0), tf.constant(X)).outputs[0].name])
    assert_tensor(g(tf.constant(1), tf.constant(X))[0], np.sin(X))


@pytest.mark.parametrize("args, error, match", [
    ((1, [lambda: 1]), TypeError, "'branch_index' must be a Tensor"),
    ((tf.constant(1.0), [lambda: 1]), TypeError, "must be an integer Tensor"),
    ((tf.constant(1), 3), TypeError, "must be a list, tuple, or dict"),
    ((tf.constant(1), []), ValueError, "at least one item"),
    ((tf.constant(1), [lambda: 1, 3]), TypeError, "must be a 2-tuple"),
    ((tf.constant(1), {0: lambda: 1, 2: lambda: 2}), ValueError, r"contiguous range of \[0 to 2\)"),
    ((tf.constant(1), [("a", lambda: 1)]), TypeError, "key must be a Python `int`"),
])
def test_switch_case_argument_errors(args, error, match):
    with pytest.raises(error, match=match):
        tf.switch_case(*args)


def test_switch_case_branch_mismatch():
    f = tf.function(lambda i: tf.switch_case(i, [lambda: tf.constant(1), lambda: tf.constant(2.0)]))
    with pytest.raises(TypeError, match=r"branches\[0\] and branches\[1\] arguments to tf.switch_case"):
        f(tf.constant(0))
    assert int(tf.switch_case(tf.constant(1, tf.int64), [lambda: tf.constant(5), lambda: tf.constant(6)])) == 6


# --- case -----------------------------------------------------------------------------------------


def _case(a, b, x):
    return tf.case([(a, lambda: x * 2.0), (b, lambda: x + 1.0)], default=lambda: -x)


@pytest.mark.parametrize("a, b, want", [(True, True, 6.0), (True, False, 6.0), (False, True, 4.0),
                                        (False, False, -3.0)])
def test_case_first_true_predicate_wins(a, b, want):
    for fn in _modes(_case):
        assert float(fn(tf.constant(a), tf.constant(b), tf.constant(3.0))) == want


def test_case_checks_and_strictness():
    t, f = tf.constant(True), tf.constant(False)
    one, two = (lambda: tf.constant(1)), (lambda: tf.constant(2))
    with pytest.raises(tf.errors.InvalidArgumentError, match="exclusive=True: more than 1 conditions"):
        tf.case([(t, one), (t, two)], default=two, exclusive=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="None of conditions evaluated as True"):
        tf.case([(f, one), (f, two)])
    assert int(tf.case([(f, one), (t, two)])) == 2  # no default: the last pair is the fallback
    g = tf.function(lambda a, b: tf.case([(a, one), (b, two)], exclusive=True))
    assert int(g(f, t)) == 2
    with pytest.raises(Exception, match="exclusive=True: more than 1 conditions"):
        g(t, t)
    assert isinstance(tf.case([(t, lambda: [tf.constant(1)])], strict=True), list)
    assert int(tf.case([(t, lambda: [tf.constant(1)])])) == 1


@pytest.mark.parametrize("pairs, error, match", [
    (5, TypeError, "must be a list, tuple, or dict"),
    ([(tf.constant(True),)], TypeError, "must be a 2-tuple"),
    ([(True, lambda: 1)], TypeError, "pred must be a Tensor"),
    ([(tf.constant(1), lambda: 1)], TypeError, "type bool"),
    ([(tf.constant(True), 3)], TypeError, "must be callable"),
])
def test_case_argument_errors(pairs, error, match):
    with pytest.raises(error, match=match):
        tf.case(pairs)


def test_case_gradient():
    f = tf.function(_case)
    for a, b in ((True, False), (False, True), (False, False)):
        check_gradients(lambda x, a=a, b=b: f(tf.constant(a), tf.constant(b), x), X)


# --- map_fn / scan / foldl / foldr -----------------------------------------------------------------


def _maps(x):
    return (tf.map_fn(lambda r: r * r, x),
            tf.map_fn(lambda t: (t[0] * t[1], tf.reduce_sum(t[0])), (x, x + 1.0),
                      fn_output_signature=(tf.float64, tf.float64)),
            tf.map_fn(lambda r: tf.cast(r > 1.0, tf.int32), x, fn_output_signature=tf.int32),
            tf.map_fn(lambda d: d["a"] - 1.0, {"a": x}, fn_output_signature=tf.TensorSpec([2], tf.float64)))


@pytest.mark.parametrize("mode", range(3))
def test_map_fn_values(mode):
    got = _modes(_maps)[mode](tf.constant(X))
    want = (X * X, (X * (X + 1), X.sum(1)), (X > 1).astype(np.int32), X - 1)
    assert_tensor(got[0], want[0])
    assert_tensor(got[1][0], want[1][0])
    assert_tensor(got[1][1], want[1][1])
    assert_tensor(got[2], want[2], dtype=tf.int32)
    assert_tensor(got[3], want[3])


def _folds(x):
    init = tf.constant([1.0, -1.0], tf.float64)
    return (tf.scan(lambda a, r: a * 0.5 + r * r, x),
            tf.scan(lambda a, r: a * 0.5 + r * r, x, initializer=init, reverse=True),
            tf.scan(lambda a, r: (a[0] + r, a[1] * r), x, initializer=(init, init)),
            tf.foldl(lambda a, r: a * 0.5 + r * r, x),
            tf.foldr(lambda a, r: a * 0.5 + r * r, x, initializer=init),
            tf.foldl(lambda a, t: a + t[0] * t[1], (x, x), initializer=init))


def _folds_numpy(x):
    init = np.array([1.0, -1.0])

    def scan(rows, a, reverse=False):
        order = range(len(rows))[::-1] if reverse else range(len(rows))
        out = [None] * len(rows)
        for i in order:
            a = a * 0.5 + rows[i] ** 2
            out[i] = a
        return np.stack(out)

    first = np.concatenate([x[:1], scan(x[1:], x[0])])
    pair = (init + np.cumsum(x, 0), init * np.cumprod(x, 0))
    return first, scan(x, init, True), pair, first[-1], scan(x, init, True)[0], init + (x * x).sum(0)


@pytest.mark.parametrize("mode", range(3))
def test_scan_and_folds_values(mode):
    got = _modes(_folds)[mode](tf.constant(X))
    want = _folds_numpy(X)
    for g, w in zip(got, want):
        if isinstance(w, tuple):
            for a, b in zip(g, w):
                assert_tensor(a, b)
        else:
            assert_tensor(g, w)


@pytest.mark.parametrize("traced", [False, True])
def test_functional_gradients(traced):
    def total(x):
        outs = _folds(x) + _maps(x)[:2]
        parts = [o for out in outs for o in (out if isinstance(out, tuple) else (out,))]
        return tf.add_n([tf.reduce_sum(tf.sin(p)) for p in parts])

    check_gradients(tf.function(total) if traced else total, X, rtol=1e-5, atol=1e-6)


def test_nested_maps_scalar_results_and_vectorized_control_flow():
    f = tf.function(lambda x: tf.map_fn(lambda r: tf.reduce_sum(tf.map_fn(lambda v: v * r[0], r)), x))
    assert_tensor(f(tf.constant(X)), X[:, 0] * X.sum(1))
    check_gradients(f, X)
    v = tf.function(lambda x: tf.vectorized_map(lambda r: tf.cond(r[0] > 1.0, lambda: r * 2.0, lambda: -r), x))
    assert_tensor(v(tf.constant(X)), np.where(X[:, :1] > 1.0, X * 2, -X))


def test_map_fn_gradient_with_a_captured_variable():
    w = tf.Variable([[1.0, 2.0], [0.5, -1.0]], dtype=tf.float64)

    @tf.function
    def f(x):
        return tf.reduce_sum(tf.map_fn(lambda r: tf.tanh(tf.linalg.matvec(w, r)), x) ** 2)

    with tf.GradientTape() as tape:
        y = f(tf.constant(X))
    got = tape.gradient(y, w)
    wv, eps, want = w.numpy(), 1e-6, np.zeros((2, 2))
    for idx in np.ndindex(2, 2):
        plus, minus = wv.copy(), wv.copy()
        plus[idx] += eps
        minus[idx] -= eps
        want[idx] = (np.sum(np.tanh(X @ plus.T) ** 2) - np.sum(np.tanh(X @ minus.T) ** 2)) / (2 * eps)
    assert_tensor(got, want, rtol=1e-5)


def test_map_fn_and_fold_errors():
    x = tf.constant(X)
    with pytest.raises(ValueError, match="1\\+ dimensional"):
        tf.map_fn(lambda r: r, tf.constant(1.0))
    with pytest.raises(ValueError, match="does not contain any Tensors"):
        tf.map_fn(lambda r: r, [])
    with pytest.raises(ValueError, match="Dimensions 3 and 2 are not compatible"):
        tf.map_fn(lambda t: t[0], (x, tf.zeros([2])))
    with pytest.raises(ValueError, match="same nested structure"):
        tf.map_fn(lambda r: (r, r), x)
    with pytest.raises(tf.errors.InvalidArgumentError, match="TensorArray dtype is float64 but Op is trying"):
        tf.map_fn(lambda r: tf.cast(r, tf.int32), x)
    with pytest.raises(TypeError, match="callable"):
        tf.scan(3, x)
    with pytest.raises(tf.errors.OutOfRangeError, match="Tried to read from index 0"):
        tf.foldl(lambda a, r: a + r, tf.zeros([0, 2]))
    assert tf.map_fn(lambda r: r * 2, tf.zeros([0, 2])).shape == (0,)
    assert tf.scan(lambda a, r: a + r, tf.zeros([0, 2]), initializer=tf.zeros([2])).shape == (0, 2)
    assert_tensor(tf.foldl(lambda a, r: a + r, tf.zeros([0, 2]), initializer=tf.ones([2])), [1.0, 1.0])


# --- vectorized_map ---------------------------------------------------------------------------------


def _row(r):
    return {"norm": tf.reduce_sum(r * r), "outer": r[:, None] * r[None, :]}


@pytest.mark.parametrize("mode", range(3))
def test_vectorized_map_values_and_gradients(mode):
    fn = _modes(lambda x: tf.vectorized_map(_row, x))[mode]
    got = fn(tf.constant(X))
    assert_tensor(got["norm"], (X * X).sum(1))
    assert_tensor(got["outer"], X[:, :, None] * X[:, None, :])
    check_gradients(lambda x: fn(x)["outer"] * 2.0 + fn(x)["norm"][:, None, None], X)


def test_no_rows_in_functions_and_captured_variables():
    empty = tf.zeros([0, 2])
    assert tf.function(lambda x: tf.map_fn(lambda r: r * 2, x))(empty).shape == (0, 2)
    assert tf.function(lambda x: tf.scan(lambda a, r: a + r, x, initializer=tf.zeros([2])))(empty).shape == (0, 2)
    assert tf.vectorized_map(lambda r: r * 2, empty).shape == (0, 2)
    v = tf.Variable([1.0, 2.0])
    f = tf.function(lambda x: tf.vectorized_map(lambda r: r * v, x))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(f(tf.fill([3, 2], 2.0)))
    assert_tensor(tape.gradient(y, v), [6.0, 6.0])


def test_vectorized_map_runs_rows_at_once(monkeypatch):
    runs = []
    original = functional._Plan.run

    def spy(self, *args):
        result = original(self, *args)
        runs.append(result is not None)
        return result

    monkeypatch.setattr(functional._Plan, "run", spy)
    f = tf.function(lambda x: tf.vectorized_map(lambda r: tf.tanh(r) * 2.0, x))
    assert_tensor(f(tf.constant(X)), np.tanh(X) * 2.0)
    assert runs == [True]
    assert "StatelessWhile" in _graph_types(f, tf.constant(X))  # exported as TF's loop


def test_vectorized_map_fallback(caplog):
    def noisy(r):
        return r + tf.random.uniform([2], dtype=tf.float64) * 0.0

    with caplog.at_level(logging.WARNING, logger="flowstone"):
        assert_tensor(tf.vectorized_map(noisy, tf.constant(X)), X)
    assert "Using a while_loop" in caplog.text
    with pytest.raises(ValueError, match="could not vectorize"):
        tf.vectorized_map(noisy, tf.constant(X), fallback_to_while_loop=False)
    assert_tensor(tf.vectorized_map(lambda r: tf.constant(1.0), tf.constant(X)), [1.0, 1.0, 1.0])


# --- real TensorFlow runs our GraphDef --------------------------------------------------------------


def test_tensorflow_runs_our_switch_case_and_tensor_array_loop(tf_oracle):
    @tf.function
    def f(x, k):
        y = tf.switch_case(k, [lambda: x * 2.0, lambda: tf.sin(x), lambda: -x])
        ta = tf.TensorArray(tf.float32, size=3)

        def body(i, ta):
            return i + 1, ta.write(i, y * tf.cast(i + 1, tf.float32))

        _, ta = tf.while_loop(lambda i, ta: i < 3, body, (0, ta))
        return ta.stack()

    cf = f.get_concrete_function(tf.TensorSpec([2], tf.float32), tf.TensorSpec([], tf.int32))
    x = np.array([1.5, -2.0], np.float32)
    got = tf_oracle(
        """
        gd = tf.compat.v1.GraphDef.FromString(__import__("base64").b64decode(args["gd"]))
        def run(x, k):
            return tf.graph_util.import_graph_def(gd, input_map={"x:0": x, "k:0": k},
                                                  return_elements=[args["out"]], name="")[0]
        fn = tf.compat.v1.wrap_function(run, [tf.TensorSpec([2], tf.float32), tf.TensorSpec([], tf.int32)])
        result = [fn(tf.constant(np.array(args["x"], np.float32)), tf.constant(k)).numpy().tolist()
                  for k in (0, 1, 2, 7)]
        """,
        {"gd": base64.b64encode(cf.graph.as_graph_def().SerializeToString()).decode(), "out": cf.outputs[0].name,
         "x": x.tolist()},
    )
    for k, theirs in zip((0, 1, 2, 7), got):
        np.testing.assert_allclose(theirs, f(tf.constant(x), tf.constant(k)).numpy(), rtol=1e-6)


def test_graph_def_written_by_tensorflow_with_maps_cases_and_arrays_runs_here(tf_oracle):
    got = tf_oracle(
        """
        @tf.function
        def f(x, k):
            s = tf.switch_case(k, [lambda: tf.map_fn(lambda r: r * r, x), lambda: tf.scan(lambda a, r: a + r, x)])
            ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
            _, ta = tf.while_loop(lambda i, ta: i < 3, lambda i, ta: (
                i + 1, ta.write(i, tf.reduce_sum(s) * tf.cast(i, tf.float32))), (0, ta))
            return s, ta.stack()
        cf = f.get_concrete_function(tf.TensorSpec([3, 2], tf.float32), tf.TensorSpec([], tf.int32))
        x = np.arange(6, dtype=np.float32).reshape(3, 2)
        result = {"gd": __import__("base64").b64encode(cf.graph.as_graph_def().SerializeToString()).decode(),
                  "outs": [t.name for t in cf.outputs],
                  "want": [[o.numpy().tolist() for o in f(tf.constant(x), tf.constant(k))] for k in (0, 1)]}
        """
    )
    g = tf.graph_util.function_from_graph_def(base64.b64decode(got["gd"]), ["x:0", "k:0"], got["outs"])
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    for k, want in zip((0, 1), got["want"]):
        for ours, theirs in zip(g(tf.constant(x), tf.constant(k)), want):
            np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-6)
