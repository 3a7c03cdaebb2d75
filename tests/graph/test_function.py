"""tf.function: tracing rules, signatures, concrete functions, side effects, methods."""

import logging

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor


def test_decorator_and_call_forms():
    @tf.function
    def f(x):
        return x * 2.0 + 1.0

    g = tf.function(lambda x: x - 1.0)
    h = tf.function(jit_compile=True, reduce_retracing=False, experimental_follow_type_hints=True)(
        lambda x: x * x)
    assert_tensor(f(tf.constant([1.0, 2.0])), [3.0, 5.0], tf.float32)
    assert_tensor(g(tf.constant(3.0)), 2.0)
    assert_tensor(h(tf.constant(3.0)), 9.0)
    assert not tf.executing_eagerly() or True


def test_a_trace_per_distinct_signature():
    traces = []

    @tf.function
    def f(x, n=1):
        traces.append(1)
        return x * n

    f(tf.constant([1.0]))
    f(tf.constant([2.0]))  # same dtype and shape: no retrace
    assert f.experimental_get_tracing_count() == 1
    f(tf.constant([1.0, 2.0]))  # new shape
    f(tf.constant([1], tf.int32))  # new dtype
    assert f.experimental_get_tracing_count() == 3
    f(tf.constant([1.0]), 2)
    f(tf.constant([1.0]), 2)
    f(tf.constant([1.0]), 3)  # Python values by value
    assert f.experimental_get_tracing_count() == 5
    f(tf.constant([1.0]), n=2)  # keyword or positional: same trace
    assert f.experimental_get_tracing_count() == 5
    assert len(traces) == 5


def test_nests_by_structure():
    @tf.function
    def f(d):
        return d["a"] + d["b"][0]

    out = f({"a": tf.constant(1.0), "b": [tf.constant(2.0)]})
    assert_tensor(out, 3.0)
    f({"a": tf.constant(5.0), "b": [tf.constant(2.0)]})
    assert f.experimental_get_tracing_count() == 1
    f({"a": tf.constant(5.0), "b": (tf.constant(2.0),)})  # list -> tuple: new structure
    assert f.experimental_get_tracing_count() == 2


def test_input_signature():
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def f(x):
        return tf.reduce_sum(x)

    assert_tensor(f(tf.constant([1.0, 2.0])), 3.0)
    assert_tensor(f(tf.constant([1.0, 2.0, 3.0])), 6.0)
    assert f.experimental_get_tracing_count() == 1
    with pytest.raises(TypeError, match=r"Can not cast TensorSpec\(shape=\(2,\), dtype=tf.int32"):
        f(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="Binding inputs to tf.function failed"):
        f(tf.constant([[1.0]]))
    cf = f.get_concrete_function()
    assert cf.inputs[0].shape.as_list() == [None]
    with pytest.raises(TypeError):
        tf.function(lambda x: x, input_signature=tf.TensorSpec([1]))


def test_concrete_function_attributes():
    @tf.function
    def f(x, y=2, *, z=None):
        return {"sum": x + 1.0, "y": y}

    cf = f.get_concrete_function(tf.TensorSpec([None], tf.float32))
    assert cf.structured_input_signature == ((tf.TensorSpec([None], tf.float32, "x"), 2), {"z": None})
    assert set(cf.structured_outputs) == {"sum", "y"} and cf.structured_outputs["y"] == 2
    assert [t.dtype for t in cf.inputs] == [tf.float32]
    assert len(cf.outputs) == 1 and cf.outputs[0].shape.as_list() == [None]
    text = cf.pretty_printed_signature()
    assert "x (POSITIONAL_OR_KEYWORD): TensorSpec(shape=(None,), dtype=tf.float32, name=None)" in text
    assert "y (POSITIONAL_OR_KEYWORD): Literal[2]" in text
    assert "z (KEYWORD_ONLY): Literal[None]" in text
    out = cf(tf.constant([1.0, 2.0]))
    assert_tensor(out["sum"], [2.0, 3.0])
    assert cf.graph.get_operation_by_name("x").type == "Placeholder"
    # get_concrete_function from values reuses the trace made from a call
    assert f.get_concrete_function(tf.constant([5.0])) is not None


def test_captured_tensors_and_closures():
    big = tf.constant(np.arange(100, dtype=np.float32))
    scale = 3.0

    @tf.function
    def f(x):
        return x * scale + big

    assert_tensor(f(tf.constant(1.0)), np.arange(100) + 3.0)
    cf = f.get_concrete_function(tf.constant(1.0))
    assert any(c is big for c in cf.captured_inputs)


def test_side_effects_print_at_trace_tf_print_every_call(capsys):
    @tf.function
    def f(x):
        print("tracing")
        tf.print("running", x)
        return x

    f(tf.constant(1))
    f(tf.constant(2))
    captured = capsys.readouterr()
    assert captured.out.count("tracing") == 1
    assert captured.err.count("running") == 2


def test_python_list_mutation_is_trace_time_only():
    seen = []

    @tf.function
    def f(x):
        seen.append(x)
        return x + 1

    f(tf.constant(1))
    f(tf.constant(2))
    assert len(seen) == 1 and not isinstance(seen[0], type(tf.constant(1)))


def test_run_functions_eagerly():
    calls = []

    @tf.function
    def f(x):
        calls.append(tf.executing_eagerly())
        return x

    tf.config.run_functions_eagerly(True)
    try:
        assert tf.config.functions_run_eagerly()
        f(tf.constant(1))
        f(tf.constant(1))
    finally:
        tf.config.run_functions_eagerly(False)
    assert calls == [True, True]
    f(tf.constant(1))
    assert calls[-1] is False


def test_methods_bound_per_instance():
    class Scaler(tf.Module):
        def __init__(self, k):
            super().__init__()
            self.k = k

        @tf.function
        def __call__(self, x):
            return x * self.k

    a, b = Scaler(2.0), Scaler(3.0)
    assert_tensor(a(tf.constant(1.0)), 2.0)
    assert_tensor(b(tf.constant(1.0)), 3.0)
    assert a.__call__ is a.__call__ and a.__call__ is not b.__call__
    assert a.__call__.experimental_get_tracing_count() == 1


def test_reduce_retracing_generalizes_shapes():
    @tf.function(reduce_retracing=True)
    def f(x):
        return x + 1

    f(tf.ones([1]))
    f(tf.ones([2]))
    f(tf.ones([3]))
    f(tf.ones([4]))
    assert f.experimental_get_tracing_count() == 2


def test_symbolic_tensor_bool_raises():
    @tf.function(autograph=False)
    def f(x):
        if x > 0:
            return x
        return -x

    with pytest.raises(tf.errors.OperatorNotAllowedInGraphError, match="as a Python `bool` is not allowed"):
        f(tf.constant(1.0))


def test_nested_functions_inline():
    @tf.function
    def inner(x):
        return x * 2

    @tf.function
    def outer(x):
        return inner(x) + 1

    assert_tensor(outer(tf.constant(3)), 7, tf.int32)
    ops = [n.type for n in outer.get_concrete_function(tf.constant(3)).graph.nodes]
    assert "Mul" in ops


def test_retrace_warning_names_argument(caplog):
    @tf.function
    def retraced(x, n):
        return x * n

    with caplog.at_level(logging.WARNING, logger="flowstone"):
        for i in range(6):
            retraced(tf.ones([i + 1]), 2)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "triggered tf.function retracing" in text
    assert "'retraced'" in text
    assert "argument 'x': shape changed from (1,) to (2,)" in text
    assert "reduce_retracing=True" in text and "input_signature" in text

    caplog.clear()

    @tf.function
    def by_value(x, n):
        return x * n

    with caplog.at_level(logging.WARNING, logger="flowstone"):
        for i in range(6):
            by_value(tf.ones([2]), i)
    assert "argument 'n': Python value changed from 0 to 1" in "\n".join(r.getMessage() for r in caplog.records)


def test_trivial_call_overhead_fast_path():
    import time

    f = tf.function(lambda x: x + 1.0)
    x = tf.constant(1.0)
    f(x)
    start = time.perf_counter()
    for _ in range(2000):
        f(x)
    per_call = (time.perf_counter() - start) / 2000
    assert per_call < 250e-6  # TensorFlow's own overhead is ~275 µs here


def test_follow_type_hints_converts_annotated_arguments():
    @tf.function(experimental_follow_type_hints=True)
    def f(x: tf.Tensor, n):
        return x * 2

    f(1, 1)
    f(2, 1)
    assert f.experimental_get_tracing_count() == 1
    assert_tensor(f(3, 1), 6, tf.int32)
