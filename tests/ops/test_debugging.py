"""tf.print, tf.debugging: output formats, compiled callbacks, assert messages (as TF 2.21 writes them)."""

from __future__ import annotations

import sys

import jax
import numpy as np
import pytest

import flowstone as tf
from flowstone.core.registry import OPS


def _printed(capsys, *args, **kwargs):
    tf.print(*args, output_stream=sys.stdout, **kwargs)
    return capsys.readouterr().out


def test_print_formats(capsys):
    out = _printed(capsys, "hello", tf.constant("a"), [1, 2], {"a": tf.constant(1)}, (tf.constant([1.5]), "z"))
    assert out == "hello \"a\" [1, 2] {'a': 1} ([1.5], 'z')\n"
    assert _printed(capsys, tf.range(10), summarize=2) == "[0 1 ... 8 9]\n"
    assert _printed(capsys, tf.range(10), summarize=-1, sep="|", end="<END>\n") == "[0 1 2 3 4 5 6 7 8 9]<END>\n"
    assert _printed(capsys, 1, 2.5, True, None) == "1 2.5 True None\n"
    assert _printed(capsys, [tf.constant(1), tf.constant([1, 2, 3, 4, 5, 6, 7])]) == "[1, [1 2 3 ... 5 6 7]]\n"
    assert _printed(capsys, tf.constant([[1.0, 2.0], [3.0, 4.0]])) == "[[1 2]\n [3 4]]\n"
    assert _printed(capsys, "a", "b", sep="") == "ab\n"
    assert _printed(capsys) == "\n"
    assert _printed(capsys, {"b": 1, "a": [tf.constant(2)]}) == "{'a': [2], 'b': 1}\n"
    assert _printed(capsys, "x{}", 5) == "x{} 5\n"


def test_print_streams(capsys, tmp_path):
    tf.print("to stderr", tf.constant(2))
    assert capsys.readouterr().err == "to stderr 2\n"
    path = tmp_path / "out.txt"
    tf.print(tf.constant(3.0), output_stream=f"file://{path}")
    assert path.read_text() == "3\n"
    with pytest.raises(ValueError, match="Unsupported output stream, logging level, or file.bogus"):
        tf.print(1, output_stream="bogus")


def test_print_kernels_run_inside_compiled_code(capsys):
    fmt, prt = OPS["StringFormat"].kernel, OPS["PrintV2"].kernel

    @jax.jit
    def step(x):
        prt(fmt([x], template="x={}", placeholder="{}", summarize=3), output_stream="stdout", end="\n")
        return x * 2

    step(np.arange(8, dtype=np.int32))
    step(np.ones(2, dtype=np.int32))
    jax.effects_barrier()
    assert capsys.readouterr().out == "x=[0 1 2 ... 5 6 7]\nx=[1 1]\n"


def test_check_numerics():
    x = tf.constant([1.0, 2.0])
    assert tf.debugging.check_numerics(x, "m").numpy().tolist() == [1.0, 2.0]
    with pytest.raises(tf.errors.InvalidArgumentError, match="mymsg : Tensor had NaN values"):
        tf.debugging.check_numerics(tf.constant([1.0, np.nan]), "mymsg")
    with pytest.raises(tf.errors.InvalidArgumentError, match="mymsg : Tensor had Inf and NaN values"):
        tf.debugging.check_numerics(tf.constant([np.inf, np.nan]), "mymsg")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Value for attr 'T' of int32"):
        tf.debugging.check_numerics(tf.constant([1, 2]), "m")
    with pytest.raises(tf.errors.InvalidArgumentError, match="bad : Tensor had Inf values"):
        tf.debugging.assert_all_finite(tf.constant([np.inf]), "bad")


def test_check_numerics_gradient_is_identity():
    x = tf.constant([1.0, 2.0], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.debugging.check_numerics(x, "m") * 3.0)
    assert tape.gradient(y, x).numpy().tolist() == [3.0, 3.0]


def test_assert_op_inside_compiled_code():
    kernel = OPS["Assert"].kernel
    ok = jax.jit(lambda c: kernel(c, [c], summarize=3) or c)
    ok(np.bool_(True))
    jax.effects_barrier()
    with pytest.raises(Exception, match="Expected 'False' to be true"):
        ok(np.bool_(False))
        jax.effects_barrier()


def _message(fn, *args, **kwargs):
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_binary_assert_messages():
    assert _message(tf.debugging.assert_equal, tf.constant([1, 2]), tf.constant([1, 3])) == (
        "Condition x == y did not hold.\nIndices of first 1 different values:\n[[1]]\nCorresponding x values:\n[2]\n"
        "Corresponding y values:\n[3]\nFirst 2 elements of x:\n[1 2]\nFirst 2 elements of y:\n[1 3]")
    assert _message(tf.debugging.assert_less_equal, tf.constant([1, 4]), 3) == (
        "Condition x <= y did not hold.\nFirst 2 elements of x:\n[1 4]\nFirst 1 elements of y:\n[3]")
    assert _message(tf.debugging.assert_equal, tf.constant([1, 2]), tf.constant([1, 3]), message="msg",
                    summarize=1).startswith("msg\nCondition x == y did not hold.")
    assert "[b'a' b'c']" in _message(tf.debugging.assert_equal, tf.constant(["a", "b"]), tf.constant(["a", "c"]))
    assert tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1, 2])) is None
    assert tf.assert_greater(tf.constant([2, 3]), 1) is None
    with pytest.raises(tf.errors.InvalidArgumentError, match="cannot compute Equal"):
        tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1.0, 2.0]))


def test_sign_assert_messages():
    assert _message(tf.debugging.assert_non_negative, tf.constant([-1, 2])) == (
        "\nCondition x >= 0 did not hold element-wise:\nx (shape=(2,) dtype=int32) = \n['-1', '2']")
    assert _message(tf.debugging.assert_non_positive, tf.constant([1, 2])) == (
        "\nCondition x <= 0 did not hold element-wise:x (shape=(2,) dtype=int32) = \n['1', '2']")
    assert "Condition x > 0" in _message(tf.debugging.assert_positive, tf.constant([0, 2]))
    assert "Condition x < 0" in _message(tf.debugging.assert_negative, tf.constant([0, 2]))


def test_assert_near_and_Assert():
    msg = _message(tf.debugging.assert_near, tf.constant([1.0, 2.0]), tf.constant([1.0, 2.1]))
    assert msg.startswith("Expected 'tf.Tensor(False, shape=(), dtype=bool)' to be true. Summarized data: b''\n"
                          "b'x and y not equal to tolerance rtol = tf.Tensor(1.1920929e-06, shape=(), dtype=float32)")
    assert msg.endswith("b'y (shape=(2,) dtype=float32) = '\n1.0, 2.1")
    assert tf.debugging.assert_near(tf.constant([1.0, 2.0]), tf.constant([1.0, 2.1]), rtol=0.1) is None
    assert _message(tf.debugging.Assert, tf.constant(False), ["x is", tf.constant([1, 2, 3, 4, 5])], summarize=2) == (
        "Expected 'tf.Tensor(False, shape=(), dtype=bool)' to be true. Summarized data: b'x is'\n1, 2, ...")
    assert _message(tf.Assert, False, ["x is", tf.constant([1, 2, 3, 4, 5])]).endswith("b'x is'\n1, 2, 3, ...")
    assert tf.debugging.Assert(True, ["x"]) is None


def test_static_checks():
    with pytest.raises(ValueError, match=r"^Tensor  must have rank 2.  Received rank 1, shape \(2,\)$"):
        tf.debugging.assert_rank(tf.constant([1, 2]), 2)
    with pytest.raises(ValueError, match=r"^hi.  Tensor  must have rank 2"):
        tf.assert_rank(tf.constant([1, 2]), 2, message="hi")
    with pytest.raises(ValueError, match="must have rank at least 2"):
        tf.debugging.assert_rank_at_least(tf.constant([1, 2]), 2)
    with pytest.raises(ValueError, match=r"must have rank in \(0, 2\)"):
        tf.debugging.assert_rank_in(tf.constant([1, 2]), [0, 2])
    with pytest.raises(ValueError, match=r"Expected scalar shape, saw shape: \(1,\)."):
        tf.debugging.assert_scalar(tf.constant([1]))
    with pytest.raises(TypeError, match="tensor must be of type tf.float32; got tf.int32"):
        tf.debugging.assert_type(tf.constant([1, 2]), tf.float32)
    with pytest.raises(TypeError, match='Expected "x" to be integer type'):
        tf.debugging.assert_integer(tf.constant([1.0]))
    with pytest.raises(TypeError, match='"proper" iterable.  Found: <class \'str\'>'):
        tf.debugging.assert_proper_iterable("abc")
    tf.debugging.assert_proper_iterable([1])
    assert tf.debugging.is_numeric_tensor(tf.constant([1])) and not tf.debugging.is_numeric_tensor(tf.constant(["1"]))
    assert not tf.debugging.is_numeric_tensor(3)


def test_assert_shapes():
    tf.debugging.assert_shapes([(tf.zeros([2, 3]), (2, "Q")), (tf.zeros([]), ())])
    tf.debugging.assert_shapes([(tf.zeros([2, 3, 4]), ("*", 4)), (tf.zeros([7, 4]), ("...", "Z"))])
    with pytest.raises(ValueError, match=r"^Specified by tensor shape=\(2, 3\) dtype=float32 dimension 0.  Tensor "
                                         r"shape=\(3, 3\) dtype=float32 dimension 0 must have size 2.  Received size 3"):
        tf.debugging.assert_shapes([(tf.zeros([2, 3]), ("N", "Q")), (tf.zeros([3, 3]), ("N", "Q"))])
    with pytest.raises(ValueError, match=r"Tensor  must have rank in \(0, 1\).  Received rank 2"):
        tf.debugging.assert_shapes([(tf.zeros([2, 3]), ("N",))])
    with pytest.raises(ValueError, match="Specified explicitly.  Tensor shape=\\(2, 3\\) dtype=float32 dimension 1 "
                                         "must have size 4"):
        tf.debugging.assert_shapes([(tf.zeros([2, 3]), (2, 4))])
    with pytest.raises(ValueError, match="only allowed as the first entry"):
        tf.debugging.assert_shapes([(tf.zeros([2, 3, 4]), (".", 3, "*"))])


@pytest.mark.oracle
def test_print_oracle(tf_oracle):
    code = """
import io, contextlib, tempfile
path = tempfile.mktemp()
tf.print("v:", tf.constant([[0.1, 2.5, 3.0, 4.0]]), {"k": tf.constant([True, False])}, output_stream="file://" + path)
result = open(path).read()
"""
    want = tf_oracle(code)
    import tempfile

    path = tempfile.mktemp()
    tf.print("v:", tf.constant([[0.1, 2.5, 3.0, 4.0]]), {"k": tf.constant([True, False])},
             output_stream="file://" + path)
    with open(path) as f:
        assert f.read() == want
