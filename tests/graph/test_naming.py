"""Graph node names as TensorFlow gives them (`add`, `add_1`, `add/y`, `strided_slice/stack`).

The oracle test traces the same functions under TensorFlow and flowstone and compares every
node's name and op type, in creation order.
"""

from __future__ import annotations

import re

import pytest

import flowstone as tf

F = ("float32", [2, 3])
I = ("int32", [2, 3])  # noqa: E741 - a spec name like F and B
B = ("bool", [2, 3])
M = ("float32", [3, 3])
S = ("float32", [])
IMG = ("float32", [1, 4, 4, 2])

# name -> (source defining `f`, input specs). Sources run under both frameworks as `tf`.
CASES = {
    "add_scalar": ("def f(x):\n    return x + 1.0 + x", [F]),
    "reflected": ("def f(x):\n    return 1.0 + x, 2.0 - x, 2.0 * x, 1.0 / x, 2.0 ** x", [F]),
    "binary_operators": ("def f(x, y):\n    return x - y, x * y * 2.0, x / y, x // y, x % y, x ** 2.0", [F, F]),
    "int_truediv": ("def f(x, y):\n    return x / y", [I, I]),
    "matmul_operator": ("def f(x, y):\n    return x @ y", [M, M]),
    "unary_operators": ("def f(x):\n    return -x, abs(x)", [F]),
    "logical_operators": ("def f(x, y):\n    return (x & y) | (~x) ^ y", [B, B]),
    "bitwise_operators": ("def f(x, y):\n    return (x & y) | (~x) ^ y", [I, I]),
    "comparisons": ("def f(x, y):\n    return x < y, x <= y, x > y, x >= 1.0, x == y, x != 1.0", [F, F]),
    "getitem": ("def f(x):\n    return x[0], x[:, 1:], x[..., None], x[tf.constant(1)]", [F]),
    "math_binary": (
        "def f(x, y):\n"
        "    return (tf.add(x, y), tf.add(x, 1.0), tf.math.add(x, y, name='plus'), tf.subtract(x, y),\n"
        "            tf.multiply(x, y), tf.divide(x, y), tf.maximum(x, y), tf.math.floordiv(x, y),\n"
        "            tf.math.divide_no_nan(x, y), tf.pow(x, y), tf.math.squared_difference(x, y))",
        [F, F],
    ),
    "math_unary": (
        "def f(x):\n"
        "    return (tf.exp(x), tf.math.log(x), tf.sqrt(x), tf.square(x), tf.sigmoid(x), tf.tanh(x),\n"
        "            tf.math.sign(x), tf.round(x), tf.math.is_nan(x), tf.math.softplus(x))",
        [F],
    ),
    "cast_add_n_xor": (
        "def f(x, b):\n"
        "    return tf.cast(x, tf.int32), tf.add_n([x, x, x]), tf.math.logical_xor(b, b)",
        [F, B],
    ),
    "reductions": (
        "def f(x):\n"
        "    return (tf.reduce_sum(x), tf.reduce_sum(x, axis=1), tf.reduce_mean(x, 0, keepdims=True),\n"
        "            tf.reduce_max(x, 1, name='mx'), tf.reduce_min(x), tf.reduce_prod(x, [0, 1]))",
        [F],
    ),
    "arg_and_scan": (
        "def f(x):\n"
        "    return tf.argmax(x, 1), tf.argmin(x, axis=0), tf.cumsum(x, 1), tf.math.top_k(x, 2)",
        [F],
    ),
    "composite_reductions": (
        "def f(x):\n    return tf.math.reduce_variance(x), tf.math.reduce_std(x, 1)",
        [F],
    ),
    "reshape_and_shape": (
        "def f(x):\n"
        "    return (tf.reshape(x, [3, 2]), tf.reshape(x, [-1]), tf.shape(x), tf.size(x), tf.rank(x),\n"
        "            tf.reshape(x, tf.shape(x)))",
        [F],
    ),
    "join_and_split": (
        "def f(x, y):\n"
        "    return (tf.concat([x, y], 0), tf.stack([x, y], 1), tf.unstack(x), tf.split(x, 3, axis=1),\n"
        "            tf.transpose(x), tf.expand_dims(x, -1), tf.squeeze(tf.reshape(x, [1, 6])))",
        [F, F],
    ),
    "creation": (
        "def f(x, i):\n"
        "    return (tf.zeros([2, 3]), tf.ones_like(x), tf.zeros_like(x), tf.fill([2], 3.0),\n"
        "            tf.constant([1.0, 2.0]), tf.constant(3, name='three'), tf.convert_to_tensor([4.0]),\n"
        "            tf.range(5), tf.range(1, 5, 2), tf.one_hot(i, 4))",
        [F, I],
    ),
    "gather_where_pad": (
        "def f(x, c):\n"
        "    return (tf.gather(x, [0, 1], axis=1), tf.gather_nd(x, [[0, 1]]), tf.where(c, x, 0.0),\n"
        "            tf.tile(x, [2, 1]), tf.pad(x, [[1, 1], [0, 0]]), tf.reverse(x, [0]),\n"
        "            tf.tensor_scatter_nd_update(x, [[0, 0]], [5.0]))",
        [F, B],
    ),
    "linalg": (
        "def f(m):\n"
        "    return (tf.matmul(m, m, transpose_b=True), tf.linalg.matmul(m, [[1.0], [2.0], [3.0]]),\n"
        "            tf.linalg.band_part(m, 0, -1), tf.linalg.diag_part(m), tf.linalg.trace(m),\n"
        "            tf.linalg.cholesky(m), tf.linalg.inv(m), tf.linalg.det(m))",
        [M],
    ),
    "activations": (
        "def f(x):\n"
        "    return (tf.nn.relu(x), tf.nn.relu6(x), tf.nn.elu(x), tf.nn.leaky_relu(x), tf.nn.softmax(x),\n"
        "            tf.nn.log_softmax(x), tf.nn.bias_add(x, [1.0, 2.0, 3.0]))",
        [F],
    ),
    "conv_and_pool": (
        "def f(x):\n"
        "    w = tf.ones([2, 2, 2, 3])\n"
        "    return (tf.nn.conv2d(x, w, 1, 'SAME'), tf.nn.max_pool2d(x, 2, 2, 'VALID'),\n"
        "            tf.nn.avg_pool2d(x, 2, 2, 'VALID'))",
        [IMG],
    ),
    "composites": (
        "def f(x):\n"
        "    return (tf.clip_by_value(x, 0.0, 1.0), tf.clip_by_value(x, -1.0, 1.0, name='c'),\n"
        "            tf.math.l2_normalize(x, axis=1), tf.math.scalar_mul(2.0, x))",
        [F],
    ),
    "random": (
        "def f(x):\n"
        "    return (tf.random.uniform([2], seed=1), tf.random.normal([2], seed=2),\n"
        "            tf.random.truncated_normal([2], seed=3), tf.random.uniform([2], maxval=5, dtype=tf.int32, seed=4),\n"
        "            tf.random.shuffle([1, 2, 3], seed=5), tf.random.categorical([[0.5, 0.5]], 2, seed=6), x)",
        [S],
    ),
    "name_scopes": (
        "def f(x):\n"
        "    with tf.name_scope('block'):\n"
        "        a = x + 1.0\n"
        "        b = tf.reduce_sum(a)\n"
        "    with tf.name_scope('block'):\n"
        "        c = tf.matmul(a, a, transpose_b=True)\n"
        "        with tf.name_scope('inner'):\n"
        "            d = tf.nn.relu(c)\n"
        "    with tf.name_scope('abs/'):\n"
        "        e = x * 2.0\n"
        "    return b, d, e",
        [F],
    ),
    "nested_scopes": (
        "def f(x):\n"
        "    with tf.name_scope('outer'):\n"
        "        with tf.name_scope('inner'):\n"
        "            a = x * 2.0\n"
        "        b = tf.reduce_mean(a, axis=0)\n"
        "    with tf.name_scope('outer'):\n"
        "        c = b - 1.0\n"
        "    return c",
        [F],
    ),
    "raw_ops": (
        "def f(x, y):\n"
        "    return tf.raw_ops.AddV2(x=x, y=y), tf.raw_ops.Mul(x=x, y=y, name='m'), tf.raw_ops.Relu(features=x)",
        [F, F],
    ),
    "cond": ("def f(x):\n    return tf.cond(x > 0, lambda: (x + 1.0, x * 2.0), lambda: (x - 1.0, x))", [S]),
    "while_loop": (
        "def f(x):\n"
        "    a = tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * 2.0), [0, x])\n"
        "    b = tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a), [tf.constant(0), x], name='loop')\n"
        "    return a, b",
        [S],
    ),
    "variables": (
        "v = tf.Variable(1.0, name='v')\n"
        "def f(x):\n"
        "    v.assign(x)\n"
        "    v.assign_add(x)\n"
        "    v.assign_sub(1.0)\n"
        "    return v.read_value(), v + 1.0, v * x",
        [S],
    ),
}

# Shared by both frameworks: traces each case and lists (name, type) of its nodes, leaving out
# what TF adds around a function's outputs (output Identity nodes, NoOp for control outputs).
TRACE = """
def trace_cases(tf, cases):
    import re
    out = {}
    for key, (source, specs) in cases.items():
        env = {"tf": tf}
        exec(source, env)
        sig = [tf.TensorSpec(shape, getattr(tf, dtype)) for dtype, shape in specs]
        graph = tf.function(env["f"], autograph=False).get_concrete_function(*sig).graph
        out[key] = [[op.name, op.type] for op in graph.get_operations()
                    if op.type != "NoOp" and not re.fullmatch(r"Identity(_[0-9]+)?", op.name)]
    return out
"""


def _flowstone_names(cases):
    env = {}
    exec(TRACE, env)
    return env["trace_cases"](tf, cases)


@pytest.fixture(scope="module")
def tf_names(tf_oracle):
    return tf_oracle(TRACE + "\nresult = trace_cases(tf, args['cases'])\n", {"cases": CASES})


@pytest.mark.parametrize("case", sorted(CASES))
def test_node_names_match_tensorflow(case, tf_names):
    ours = _flowstone_names({case: CASES[case]})[case]
    assert ours == tf_names[case]


# --- the mechanism, without the oracle ---------------------------------------------------------


def _names(fn, *specs):
    graph = tf.function(fn, autograph=False).get_concrete_function(*specs).graph
    return [op.name for op in graph.get_operations()]


def test_each_use_of_a_python_number_gets_its_own_constant():
    # Python scalars are cached as eager tensors; a graph still embeds one Const per op.
    names = _names(lambda x: (x + 1.0) * (x + 1.0), tf.TensorSpec([], tf.float32))
    assert names == ["x", "add/y", "add", "add_1/y", "add_1", "mul", "Identity"]


def test_scoped_composite_names_its_result_after_the_scope():
    names = _names(lambda x: tf.clip_by_value(x, 0.0, 1.0, name="clip"), tf.TensorSpec([2], tf.float32))
    assert names == ["x", "clip/Minimum/y", "clip/Minimum", "clip/y", "clip", "Identity"]


def test_an_explicit_name_is_made_unique():
    names = _names(lambda x: (tf.identity(x, name="out"), tf.identity(x, name="out")),
                   tf.TensorSpec([], tf.float32))
    assert names[1:3] == ["out", "out_1"]


def test_public_convert_to_tensor_gives_a_graph_constant():
    seen = []

    @tf.function(autograph=False)
    def f():
        t = tf.convert_to_tensor([1.0, 2.0], name="values")
        seen.append((t.name, t.op.type))
        return t

    assert f().numpy().tolist() == [1.0, 2.0]
    assert seen == [("values:0", "Const")]


def test_names_do_not_change_eager_results():
    x = tf.constant([[1.0, -2.0], [3.0, 4.0]])
    assert (x + 1.0).numpy().tolist() == [[2.0, -1.0], [4.0, 5.0]]
    assert tf.clip_by_value(x, 0.0, 3.0).numpy().tolist() == [[1.0, 0.0], [3.0, 3.0]]
    assert x[1, 0].numpy() == 3.0
    assert tf.shape(x).numpy().tolist() == [2, 2]


def test_a_graph_def_written_by_tensorflow_imports_with_its_names(tf_oracle):
    code = """
@tf.function
def f(x):
    with tf.name_scope("block"):
        y = x + 1 + x
    return tf.reduce_sum(y[0] * 2.0) + tf.cast(tf.shape(x)[0], tf.float32)

g = f.get_concrete_function(tf.TensorSpec([2, 3], tf.float32)).graph
result = {"graph_def": list(g.as_graph_def().SerializeToString()),
          "value": float(f(tf.ones([2, 3])))}
"""
    got = tf_oracle(code)
    graph_def = bytes(got["graph_def"])

    @tf.function(autograph=False)
    def h(x):
        return tf.graph_util.import_graph_def(graph_def, input_map={"x:0": x}, return_elements=["Identity:0"])[0]

    assert float(h(tf.ones([2, 3]))) == got["value"]
    names = [op.name for op in h.get_concrete_function(tf.TensorSpec([2, 3], tf.float32)).graph.get_operations()]
    assert {"import/block/add/y", "import/block/add", "import/block/add_1", "import/strided_slice/stack_1",
            "import/mul/y", "import/Sum"} <= set(names)
    assert not any(re.search(r"_\d+_\d+$", n) for n in names)


def _tensorflow_names(python, cases):
    import json
    import subprocess

    script = ("import json, os, sys\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nimport tensorflow as tf\n"
              + TRACE + "\nprint(json.dumps(trace_cases(tf, json.loads(sys.stdin.read()))))\n")
    proc = subprocess.run([python, "-c", script], input=json.dumps(cases), capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout.splitlines()[-1])


if __name__ == "__main__":
    # `FLOWSTONE_TF_PYTHON=... python -m tests.graph.test_naming`: the table of node names, with
    # the cases where flowstone's differ from TensorFlow's.
    import os

    theirs = _tensorflow_names(os.environ["FLOWSTONE_TF_PYTHON"], CASES)
    ours = _flowstone_names(CASES)
    for key in CASES:
        mark = "ok  " if ours[key] == theirs[key] else "DIFF"
        print(f"{mark} {key}: {' '.join(name for name, _ in theirs[key])}")
        if mark == "DIFF":
            print(f"     flowstone: {' '.join(name for name, _ in ours[key])}")
