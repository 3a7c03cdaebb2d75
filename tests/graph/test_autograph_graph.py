"""AutoGraph inside tf.function: tensor-dependent control flow builds If / While nodes.

Each converted function is checked in graph mode against the same Python function run eagerly
(plain Python control flow on eager tensors), for inputs that take every path, including loops
that run zero times; a batch of functions also runs in real TensorFlow (the oracle). Error
messages are TensorFlow's. Every test runs under an alarm so a non-terminating loop fails
instead of hanging the suite.
"""

import functools
import linecache
import re
import signal
import traceback
import warnings

import numpy as np
import pytest

import flowstone as tf
from flowstone.core.errors import InvalidArgumentError
from flowstone.graph.autograph import convert


@pytest.fixture(autouse=True)
def _time_limit():
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise TimeoutError("the test ran for 60 s: a converted loop does not terminate")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _np(x):
    if isinstance(x, dict):
        return {k: _np(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_np(v) for v in x]
    return np.asarray(x).tolist()


# --- functions under test (also sent to the oracle as source) ----------------------------------

SOURCES = {
    "break_continue": """
def break_continue(n):
    s = tf.constant(0)
    for i in tf.range(n):
        if i % 2 == 0:
            continue
        if i > 7:
            break
        s += i
    return s
""",
    "indexing": """
def indexing(x):
    total = 0
    for i in tf.range(len(x)):
        if x[i] > 0 and i % 2 == 0:
            continue
        total += x[i] if x[i] < 5 else 5
    return total
""",
    "if_else": """
def if_else(x):
    if x > 0:
        y = x * 2
    else:
        y = x - 1
    return y
""",
    "if_one_branch": """
def if_one_branch(x):
    y = x
    if x > 0:
        y = y * 3
    return y
""",
    "elif_chain": """
def elif_chain(x):
    if x > 5:
        y = 1
    elif x > 0:
        y = 2
    else:
        y = 3
    return y
""",
    "return_in_if": """
def return_in_if(x):
    if x > 0:
        return x * 2
    return x - 1
""",
    "while_tensor": """
def while_tensor(n):
    i = 0
    s = 0
    while i < n:
        s += i * i
        i += 1
    return s, i
""",
    "while_continue": """
def while_continue(x):
    s = 0
    while x > 0:
        x -= 1
        if x % 2 == 0:
            continue
        s += x
    return s
""",
    "rows": """
def rows(x):
    s = tf.zeros([2], tf.int32)
    for row in x:
        s += row
    return s
""",
    "nested_loops": """
def nested_loops(x):
    s = 0
    for i in tf.range(x):
        for j in tf.range(i):
            if j > 2:
                break
            s += j
    return s
""",
    "python_loops": """
def python_loops(x):
    s = x
    for i in range(3):
        s = s * 2 + i
    for v in [1, 2, 3]:
        s += v
    return s
""",
    "range_of_tensor": """
def range_of_tensor(x):
    s = 0
    for i in range(x, 2 * x + 3, 2):
        s += i
    return s, len(tf.zeros([4, 2]))
""",
    "bool_ops": """
def bool_ops(x):
    a = (x > 0) and (x < 10)
    b = (x > 0) or (x < -10)
    c = not (x > 0)
    return a, b, c, (x * 2 if x > 0 else -x)
""",
    "temporaries": """
def temporaries(x):
    y = 0
    for i in tf.range(x):
        t = i * 2
        helper = [t, t]
        y += helper[0]
    return y
""",
    "defined_in_loop": """
def defined_in_loop(x):
    for i in tf.range(x):
        y = i * 3
    return y
""",
    "structures": """
def structures(x):
    d = {'a': x, 'b': [x, x]}
    if x > 5:
        d = {'a': x + 1, 'b': [x, x * 2]}
    return d
""",
    "float_while": """
def float_while(x):
    n = 0
    while x < 100.0:
        x = x * 2.0
        n += 1
    return x, n
""",
    "if_in_while": """
def if_in_while(x):
    i = 0
    acc = 0
    while i < x:
        if i % 3 == 0:
            acc += 10
        elif i % 3 == 1:
            acc -= 1
        else:
            acc *= 2
        i += 1
    return acc
""",
    "max_iterations": """
def max_iterations(x):
    i = 0
    while i < x:
        tf.autograph.experimental.set_loop_options(maximum_iterations=3)
        i += 1
    return i
""",
    "invariants": """
def invariants(x):
    v = tf.constant([1])
    for i in tf.range(x):
        tf.autograph.experimental.set_loop_options(shape_invariants=[(v, tf.TensorShape([None]))])
        v = tf.concat([v, [i]], 0)
    return v
""",
}

# name -> inputs (each a tuple of arguments, made tensors)
INPUTS = {
    "break_continue": [(20,), (0,), (5,)],
    "indexing": [([3, -1, 7, 2, 9, -4],), ([1],)],
    "if_else": [(3,), (-2,), (0,)],
    "if_one_branch": [(3,), (-2,)],
    "elif_chain": [(7,), (3,), (-1,)],
    "return_in_if": [(3,), (-2,)],
    "while_tensor": [(10,), (0,), (1,)],
    "while_continue": [(7,), (0,)],
    "rows": [([[1, 2], [3, 4], [5, 6]],)],
    "nested_loops": [(6,), (0,), (2,)],
    "python_loops": [(4,), (0,)],
    "range_of_tensor": [(3,), (1,)],
    "bool_ops": [(3,), (-4,), (12,)],
    "temporaries": [(3,), (0,)],
    "defined_in_loop": [(3,), (1,)],
    "structures": [(8,), (1,)],
    "float_while": [(3.0,), (0.5,), (200.0,)],
    "if_in_while": [(3,), (8,), (0,)],
    "max_iterations": [(10,), (2,), (0,)],
    "invariants": [(3,), (0,)],
}


def _define(name, filename=None):
    src = SOURCES[name]
    filename = filename or f"<autograph-test-{name}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    namespace = {"tf": tf}
    exec(compile(src, filename, "exec"), namespace)
    return namespace[name]


@functools.cache
def _graph_fn(name):
    return tf.function(_define(name))


@pytest.mark.parametrize("name", sorted(set(SOURCES) - {"max_iterations"}))  # a graph-only option
def test_graph_matches_eager_python(name):
    fn = _define(name)
    graph_fn = _graph_fn(name)
    for args in INPUTS[name]:
        tensors = [tf.constant(a) for a in args]
        expected = _np(fn(*tensors))  # plain Python control flow on eager tensors
        assert _np(graph_fn(*tensors)) == expected, (name, args)


EXPECTED = {  # a few hand-computed values (the eager comparison covers the rest)
    ("break_continue", (20,)): 16, ("break_continue", (0,)): 0, ("while_tensor", (10,)): [285, 10],
    ("nested_loops", (6,)): 10, ("max_iterations", (10,)): 3, ("invariants", (3,)): [1, 0, 1, 2],
    ("defined_in_loop", (3,)): 6, ("bool_ops", (-4,)): [False, False, True, 4],
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_known_values(key):
    name, args = key
    assert _np(_graph_fn(name)(*[tf.constant(a) for a in args])) == EXPECTED[key]


def test_brief_examples():
    @tf.function
    def f3(n):
        s = tf.constant(0)
        for i in tf.range(n):
            if i % 2 == 0:
                continue
            if i > 7:
                break
            s += i
        return s

    @tf.function
    def f4(x):
        for i in tf.range(10):
            if i == x:
                return i * 10
        return -1

    assert int(f3(tf.constant(20))) == 16
    assert int(f4(tf.constant(3))) == 30
    assert int(f4(tf.constant(30))) == -1


def test_returns_in_loops_and_nested_ifs():
    @tf.function
    def in_while(x):
        i = tf.constant(0)
        while i < 10:
            if i == x:
                return i * 10
            i += 1
        return -1

    @tf.function
    def nested(x):
        if x > 0:
            if x > 5:
                return 1
            x = x * 2
        return -1

    @tf.function
    def unrolled(x):
        for i in range(3):
            if x == i:
                return i * 10
        return -1

    @tf.function
    def elif_returns(x):
        if x > 5:
            return 1
        elif x > 0:
            return 2
        return 3

    assert [int(in_while(tf.constant(v))) for v in (3, 30)] == [30, -1]
    assert [int(nested(tf.constant(v))) for v in (7, 3, -1)] == [1, -1, -1]
    assert [int(unrolled(tf.constant(v))) for v in (1, 5)] == [10, -1]
    assert [int(elif_returns(tf.constant(v))) for v in (7, 3, -1)] == [1, 2, 3]


def test_enumerate_and_zip_over_tensors():
    def f(x, y):
        s = 0
        for i, v in enumerate(x):
            s += i * v
        t = 0
        for a, b in zip(x, y):
            t += a * b
        return s, t

    static = tf.function(f)
    dynamic = tf.function(f, input_signature=[tf.TensorSpec([None], tf.int32)] * 2)
    x, y = tf.constant([1, 2, 3]), tf.constant([4, 5, 6])
    assert _np(static(x, y)) == [8, 32]
    assert _np(dynamic(x, y[:2])) == [8, 14]
    assert _np(dynamic(x[:0], y)) == [0, 0]


def test_python_loops_unroll_and_tensor_loops_build_while():
    def node_types(fn, *args):
        return {n.type for n in tf.function(fn).get_concrete_function(*args).graph.nodes}

    def unrolled(x):
        for i in range(3):
            x = x + i
        return x

    def looped(x):
        for i in tf.range(3):
            x = x + i
        return x

    def branched(x):
        if x > 0:
            x = x + 1
        return x

    x = tf.constant(1)
    assert not node_types(unrolled, x) & {"While", "StatelessWhile"}
    assert node_types(looped, x) & {"While", "StatelessWhile"}
    assert node_types(branched, x) & {"If", "StatelessIf"}


def test_loop_options_reach_the_while_node():
    @tf.function
    def f(n):
        s = 0
        for i in tf.range(n):
            tf.autograph.experimental.set_loop_options(parallel_iterations=3, maximum_iterations=4)
            s += i
        return s

    graph = f.get_concrete_function(tf.constant(10)).graph
    loops = [n for n in graph.nodes if n.type in ("While", "StatelessWhile")]
    assert [n.attrs["parallel_iterations"] for n in loops] == [3]
    assert int(f(tf.constant(10))) == 0 + 1 + 2 + 3
    assert int(f(tf.constant(2))) == 1


def test_variables_and_side_effects_in_converted_code():
    v = tf.Variable(0)

    @tf.function
    def f(x):
        for i in tf.range(x):
            v.assign_add(i)
        if x > 2:
            v.assign_add(100)
        return v.read_value()

    assert int(f(tf.constant(4))) == 106
    assert int(f(tf.constant(1))) == 106

    @tf.function
    def only_effects():  # a loop that carries no Python variable still runs
        while v < 110:
            v.assign_add(1)
        return v.read_value()

    assert int(only_effects()) == 110


def test_methods_and_recursive_conversion():
    def helper(x):
        if x > 10.0:
            x = x / 2.0
        return x

    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(2.0)

        @tf.function
        def __call__(self, x):
            acc = 0.0
            for _ in tf.range(3):
                acc += self.w * x
            return helper(acc)

    m = Model()
    assert float(m(tf.constant(3.0))) == 9.0
    assert float(m(tf.constant(1.0))) == 6.0


# --- errors (TensorFlow's wording) --------------------------------------------------------------


def _one_branch(x):
    if x > 0:
        y = 1
    return y


def _else_only(x):
    if x > 0:
        pass
    else:
        y = 2
    return y


def _dtype_change(x):
    i = tf.constant(0)
    while i < x:
        i = tf.cast(i, tf.float32) + 1.0
    return i


def _shape_change(x):
    v = tf.constant([1])
    for i in tf.range(x):
        v = tf.concat([v, [i]], 0)
    return v


def _rows_shape_change(x):
    s = 0
    for v in x:
        s += v
    return s


def _return_on_one_path(x):
    if x > 0:
        return 1


def _return_dtypes(x):
    if x > 0:
        return 1.0
    return -1


def _branch_dtypes(x):
    if x > 0:
        y = 1
    else:
        y = 2.0
    return y


def _branch_structures(x):
    if x > 0:
        y = (x, x)
    else:
        y = [x, x]
    return y


def _none_in_branch(x):
    y = None
    if x > 5:
        y = 1
    return y


def _none_in_loop(x):
    y = x
    for _ in tf.range(3):
        y = None
    return y


def _loop_structure(x):
    s = (x, x)
    for _ in tf.range(x):
        s = (x, x, x)
    return s


def _int_condition(x):
    while x:
        x = x - 1
    return x


@pytest.mark.parametrize("fn,arg,error,message", [
    (_one_branch, 1, ValueError, "'y' must also be initialized in the else branch"),
    (_else_only, 1, ValueError, "'y' must also be initialized in the main branch"),
    (_dtype_change, 3, TypeError, "'i' has dtype int32 before the loop, but dtype float32 after one iteration"),
    (_shape_change, 3, ValueError, "'v' has shape (1,) before the loop, but shape (2,) after one iteration. Use "
                                   "tf.autograph.experimental.set_loop_options to set shape invariants."),
    (_rows_shape_change, [[1, 2], [3, 4]], ValueError, "'s' has shape () before the loop, but shape (2,) after"),
    (_return_on_one_path, 3, ValueError, "the else branch must also have a return statement."),
    (_return_dtypes, 3, TypeError, "'retval_' has dtype float32 in the main branch, but dtype int32 in the else"),
    (_branch_dtypes, 3, TypeError, "'y' has dtype int32 in the main branch, but dtype float32 in the else branch"),
    (_branch_structures, 3, TypeError, "'y' must have the same nested structure in the main and else branches"),
    (_none_in_branch, 3, ValueError, "'y' is None at the end of the else branch."),
    (_none_in_loop, 3, ValueError, "'y' is None at the end of the iteration."),
    (_loop_structure, 3, TypeError, "'s' does not have the same nested structure after one iteration."),
    (_int_condition, 3, ValueError, "condition of while loop expected to be `tf.bool` scalar"),
])
def test_errors_name_the_variable(fn, arg, error, message):
    with pytest.raises(error) as info:
        tf.function(fn)(tf.constant(arg))
    assert message in str(info.value)
    assert "report" not in str(info.value).lower()


def test_errors_while_tracing_point_at_the_users_lines():
    def f(x):
        s = tf.constant(0)
        for i in tf.range(x):
            if i > 2:
                s = s + tf.constant(1.5)
        return s

    first = f.__code__.co_firstlineno
    with pytest.raises(InvalidArgumentError) as info:
        tf.function(f)(tf.constant(3))
    lines = [fr.lineno - first for fr in traceback.extract_tb(info.value.__traceback__) if fr.filename == __file__]
    assert lines[-3:] == [2, 3, 4]  # the for, the if, the addition


def test_loop_that_must_define_a_variable_checks_at_run_time():
    @tf.function
    def f(x):
        for i in tf.range(x):
            y = i * 3
        return y

    assert int(f(tf.constant(2))) == 3
    with pytest.raises(InvalidArgumentError, match="loop must iterate at least once to initialize y"):
        f(tf.constant(0))


def test_len_of_scalar_and_assert_without_feature():
    with pytest.raises(ValueError, match="len requires a non-scalar tensor"):
        tf.function(_scalar_len)(tf.constant(3))

    @tf.function
    def f(x):
        assert x > 0
        return x

    with pytest.raises(tf.errors.OperatorNotAllowedInGraphError):
        f(tf.constant(1))


def _scalar_len(x):
    return len(x)


# --- optional features --------------------------------------------------------------------------


def test_assert_statements_feature_builds_assert():
    @tf.function(experimental_autograph_options=tf.autograph.experimental.Feature.ASSERT_STATEMENTS)
    def f(x):
        assert x > 0, "x must be positive"
        return x + 1

    assert int(f(tf.constant(2))) == 3
    with pytest.raises(InvalidArgumentError, match="x must be positive"):
        f(tf.constant(-2))


def test_print_runs_at_trace_time_unless_builtin_functions(capfd):
    def f(x):
        print("value:", x)
        return x + 1

    plain = tf.function(f)
    plain(tf.constant(1))
    plain(tf.constant(2))
    out = capfd.readouterr()
    assert (out.out + out.err).count("value:") == 1 and "Tensor(" in out.out  # traced once, symbolic
    converted = tf.function(f, experimental_autograph_options=(tf.autograph.experimental.Feature.BUILTIN_FUNCTIONS,))
    converted(tf.constant(5))
    converted(tf.constant(6))
    out = capfd.readouterr()
    text = out.out + out.err
    assert "value: 5" in text and "value: 6" in text


# --- gradients ----------------------------------------------------------------------------------


def _finite_difference(fn, x, h=1e-6):
    return (float(fn(tf.constant(x + h, tf.float64))) - float(fn(tf.constant(x - h, tf.float64)))) / (2 * h)


@pytest.mark.parametrize("x", [0.7, -0.4])
def test_gradients_through_converted_loops_and_ifs(x):
    @tf.function
    def f(x):
        y = x
        for _ in tf.range(3):
            y = y * x
        if y > 1.0:
            y = tf.sin(y) * 2.0
        else:
            y = y * y
        i = 0
        while i < 2:
            y = y + tf.cos(x * y)
            i += 1
        return y

    xt = tf.constant(x, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = f(xt)
    assert np.isclose(float(tape.gradient(y, xt)), _finite_difference(f, x), rtol=1e-5, atol=1e-7)


def test_gradient_taken_inside_the_function():
    @tf.function
    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x
            for _ in tf.range(3):
                y = tf.sin(y)
        return tape.gradient(y, x)

    x = 0.7
    expected = np.cos(x) * np.cos(np.sin(x)) * np.cos(np.sin(np.sin(x)))
    assert np.isclose(float(f(tf.constant(x, tf.float64))), expected)


# --- to_code, sources, eager ---------------------------------------------------------------------


def test_to_code_output_is_sane():
    fn = _define("break_continue")
    code = tf.autograph.to_code(fn)
    assert "ag__.for_stmt" in code and "ag__.if_stmt" in code
    assert not re.search(r"^\s*(break|continue)\b", code, re.M)
    compile(code, "<to_code>", "exec")
    code = tf.autograph.to_code(_define("invariants"))
    assert "set_loop_options" not in code and "ag__.loop_options(shape_invariants=" in code
    code = tf.autograph.to_code(_define("return_in_if"))
    assert code.rstrip().endswith("return ag__retval") and "return x" not in code


def test_notebook_cell_source_is_converted():
    src = "def cell_fn(x):\n    s = 0\n    for i in tf.range(x):\n        if i > 2:\n            break\n        s += i\n    return s\n"
    filename = "<ipython-input-3-feedbeef>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    namespace = {"tf": tf}
    exec(compile(src, filename, "exec"), namespace)
    f = tf.function(namespace["cell_fn"])
    assert [int(f(tf.constant(n))) for n in (0, 2, 9)] == [0, 1, 3]


def test_missing_source_warns_with_file_and_line_and_runs_unconverted():
    namespace = {"tf": tf}
    exec(compile("def no_source(x):\n    return x * 2\n", "<generated>", "exec"), namespace)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert int(tf.function(namespace["no_source"])(tf.constant(4))) == 8
    messages = [str(w.message) for w in caught if "AutoGraph" in str(w.message)]
    assert len(messages) == 1
    assert "<generated>:1" in messages[0] and "could not get the source code" in messages[0]
    assert "do_not_convert" in messages[0] and "report" not in messages[0].lower()


def test_converted_code_runs_eagerly_as_python():
    def f(x, n):
        s = 0
        for i in range(n):
            if i % 2 == 0:
                continue
            s += i
        steps = 0
        while x > -300.0 and steps < 100:  # bounded: a wrong condition cannot hang the test
            x = x * 2
            steps += 1
        return s, x, steps, (x if s > 2 else -x), len([1, 2]) and not s

    converted = tf.autograph.to_graph(f)
    for args in ((-1.0, 6), (-1.0, 0), (5.0, 3)):
        assert _np(converted(*args)) == _np(f(*args))
        eager = (tf.constant(args[0]), args[1])
        assert _np(converted(*eager)) == _np(f(*eager))


def test_unassigned_local_raises_like_python():
    def f(c):
        if c:
            y = 1
        return y

    with pytest.raises(UnboundLocalError):
        f(False)
    with pytest.raises(UnboundLocalError, match="'y'"):
        convert(f)(False)
    assert convert(f)(True) == 1


# --- the oracle ------------------------------------------------------------------------------------

# One input each keeps the TensorFlow run short (its import dominates); the eager comparison
# above covers the other inputs.
ORACLE_INPUTS = {"break_continue": [(20,)], "return_in_if": [(-2,)], "while_tensor": [(10,)], "rows": INPUTS["rows"],
                 "defined_in_loop": [(3,)], "bool_ops": [(-4,)], "range_of_tensor": [(3,)], "invariants": [(3,)],
                 "indexing": [([3, -1, 7, 2, 9, -4],)]}


def test_matches_tensorflow(tf_oracle):
    cases = {name: (SOURCES[name], inputs) for name, inputs in ORACLE_INPUTS.items()}
    expected = tf_oracle(
        """
def plain(x):
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return np.asarray(x).tolist()

import linecache
result = {}
for name, (src, inputs) in args["cases"].items():
    filename = "<oracle-" + name + ">"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    ns = {"tf": tf}
    exec(compile(src, filename, "exec"), ns)
    fn = tf.function(ns[name])
    result[name] = [plain(fn(*[tf.constant(a) for a in inp])) for inp in inputs]
""",
        {"cases": cases},
    )
    for name, inputs in ORACLE_INPUTS.items():
        got = [_np(_graph_fn(name)(*[tf.constant(a) for a in args])) for args in inputs]
        assert got == expected[name], name


def test_tensor_arrays_as_loop_and_branch_state():
    @tf.function
    def interleave(x, n):
        ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        for i in tf.range(n):
            if i % 2 == 0:
                ta = ta.write(i, x * tf.cast(i, tf.float32))
            else:
                ta = ta.write(i, -x)
        return ta.stack()

    x = np.array([1.0, 2.0], np.float32)
    want = np.stack([x * i if i % 2 == 0 else -x for i in range(4)])
    np.testing.assert_allclose(interleave(tf.constant(x), tf.constant(4)).numpy(), want)

    @tf.function
    def doubled(v):
        ta = tf.TensorArray(tf.float32, size=3)
        for i in tf.range(3):
            ta = ta.write(i, v[i] * 2.0)
        return ta.stack()

    v = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch(v)
        y = tf.reduce_sum(doubled(v) ** 2)
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), 8.0 * v.numpy())
