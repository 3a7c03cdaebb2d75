"""GraphDef export/import, checked against real TensorFlow (the oracle) both ways."""

import base64

import numpy as np

import flowstone as tf
from tests.helpers import assert_tensor


def _model():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 1, 4)).astype(np.float32)
    dense = rng.normal(size=(16, 3)).astype(np.float32)

    @tf.function(autograph=False)
    def model(x):
        h = tf.nn.conv2d(x, tf.constant(kernel), strides=1, padding="SAME")
        h = tf.nn.max_pool2d(h, ksize=2, strides=2, padding="VALID")
        h = tf.reshape(h, [-1, 16])
        y = tf.matmul(h, tf.constant(dense))
        y = tf.cond(tf.reduce_sum(y) > 0, lambda: y * 2.0, lambda: y - 1.0)
        _, y = tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * 0.5 + 1.0), [tf.constant(0), y])
        return y

    return model


def test_graph_def_has_tf_op_names_attrs_and_library():
    model = _model()
    cf = model.get_concrete_function(tf.TensorSpec([None, 4, 4, 1], tf.float32))
    gd = cf.graph.as_graph_def()
    ops = {n.op for n in gd.node}
    assert {"Placeholder", "Const", "Conv2D", "MaxPool", "MatMul", "StatelessIf", "StatelessWhile"} <= ops
    matmul = next(n for n in gd.node if n.op == "MatMul")
    assert matmul.attr["T"].type == tf.float32.as_datatype_enum and not matmul.attr["transpose_a"].b
    cond = next(n for n in gd.node if n.op == "StatelessIf")
    names = {f.signature.name for f in gd.library.function}
    assert cond.attr["then_branch"].func.name in names and cond.attr["else_branch"].func.name in names


def test_round_trip_through_graph_def():
    model = _model()
    cf = model.get_concrete_function(tf.TensorSpec([None, 4, 4, 1], tf.float32))
    data = cf.graph.as_graph_def().SerializeToString()
    loaded = tf.graph_util.function_from_graph_def(data, ["x:0"], [cf.outputs[0].name])
    x = tf.constant(np.random.default_rng(1).normal(size=(2, 4, 4, 1)).astype(np.float32))
    assert_tensor(loaded(x)[0], model(x).numpy(), rtol=1e-5)

    @tf.function
    def reimported(x):
        return tf.graph_util.import_graph_def(data, input_map={"x:0": x}, return_elements=[cf.outputs[0].name])[0]

    assert_tensor(reimported(x), model(x).numpy(), rtol=1e-5)


def test_real_tensorflow_runs_our_graph_def(tf_oracle):
    model = _model()
    cf = model.get_concrete_function(tf.TensorSpec([None, 4, 4, 1], tf.float32))
    x = np.random.default_rng(2).normal(size=(2, 4, 4, 1)).astype(np.float32)
    got = tf_oracle(
        """
        gd = tf.compat.v1.GraphDef.FromString(base64.b64decode(args["gd"]))
        def run(x):
            return tf.graph_util.import_graph_def(gd, input_map={"x:0": x}, return_elements=[args["out"]], name="")[0]
        fn = tf.compat.v1.wrap_function(run, [tf.TensorSpec([None, 4, 4, 1], tf.float32)])
        result = fn(tf.constant(np.array(args["x"], np.float32))).numpy().tolist()
        """.replace("base64", "__import__('base64')"),
        {"gd": base64.b64encode(cf.graph.as_graph_def().SerializeToString()).decode(), "x": x.tolist(),
         "out": cf.outputs[0].name},
    )
    np.testing.assert_allclose(np.array(got), model(tf.constant(x)).numpy(), rtol=1e-5, atol=1e-5)


def test_graph_def_written_by_tensorflow_runs_here(tf_oracle):
    got = tf_oracle(
        """
        @tf.function
        def f(x):
            y = tf.matmul(x, tf.constant([[1.0, 2.0], [3.0, 4.0]]))
            return tf.cond(tf.reduce_sum(y) > 0, lambda: y + 1.0, lambda: y - 1.0)
        cf = f.get_concrete_function(tf.TensorSpec([None, 2], tf.float32))
        gd = cf.graph.as_graph_def()
        x = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)
        result = {"gd": __import__("base64").b64encode(gd.SerializeToString()).decode(),
                  "out": cf.outputs[0].name, "y": f(tf.constant(x)).numpy().tolist(), "x": x.tolist()}
        """
    )
    fn = tf.graph_util.function_from_graph_def(base64.b64decode(got["gd"]), ["x:0"], [got["out"]])
    out = fn(tf.constant(np.array(got["x"], np.float32)))[0]
    np.testing.assert_allclose(out.numpy(), np.array(got["y"]), rtol=1e-6)
