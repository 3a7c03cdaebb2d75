"""tf.strings and tf.RaggedTensor: values, formats and errors (expected values from TF 2.21)."""

from __future__ import annotations

import numpy as np
import pytest

import flowstone as tf
from flowstone.ops.strings import string_equal
from tests.helpers import assert_tensor


def _b(*items):
    return np.array([s.encode() if isinstance(s, str) else s for s in items], dtype=object)


def test_length_join_case_strip():
    assert_tensor(tf.strings.length(["héllo", "a"]), [6, 1], tf.int32)
    assert_tensor(tf.strings.length(["héllo", "a"], unit="UTF8_CHAR"), [5, 1], tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Value for attr 'unit' of \"FOO\""):
        tf.strings.length("abc", unit="FOO")
    assert_tensor(tf.strings.join(["a", ["b", "c"]], separator="-"), _b("a-b", "a-c"), tf.string)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Input shapes do not match: \[2\] vs. \[3\]"):
        tf.strings.join([["a", "b"], ["b", "c", "d"]])
    assert tf.strings.lower("ABÇ").numpy() == "abÇ".encode()
    assert tf.strings.lower("ABÇ", encoding="utf-8").numpy() == "abç".encode()
    assert tf.strings.upper("ab").numpy() == b"AB"
    assert_tensor(tf.strings.strip(["  a b \n", "\tx"]), _b("a b", "x"))


def test_split_and_ragged():
    assert_tensor(tf.strings.split("a b  c"), _b("a", "b", "c"))
    rt = tf.strings.split(["a b  c", " d "])
    assert isinstance(rt, tf.RaggedTensor)
    assert rt.to_list() == [[b"a", b"b", b"c"], [b"d"]]
    assert rt.row_splits.numpy().tolist() == [0, 3, 4] and rt.dtype == tf.string
    assert tf.strings.split(["a,b,,c", "d"], sep=",").to_list() == [[b"a", b"b", b"", b"c"], [b"d"]]
    assert tf.strings.split(["a,b,,c", "d"], sep=",", maxsplit=1).to_list() == [[b"a", b"b,,c"], [b"d"]]
    assert tf.strings.split([["a b"]]).to_list() == [[[b"a", b"b"]]]
    assert_tensor(tf.strings.split(["a b", "c"]).to_tensor("x"), np.array([[b"a", b"b"], [b"c", b"x"]], object))


def test_ragged_tensor_api():
    rt = tf.RaggedTensor.from_row_splits([1, 2, 3, 4], row_splits=[0, 3, 3, 4])
    assert rt.to_list() == [[1, 2, 3], [], [4]]
    assert rt.row_lengths().numpy().tolist() == [3, 0, 1]
    assert rt.value_rowids().numpy().tolist() == [0, 0, 0, 2]
    assert rt.shape.as_list() == [3, None] and rt.dtype == tf.int32
    assert_tensor(rt.to_tensor(), [[1, 2, 3], [0, 0, 0], [4, 0, 0]])
    assert rt[0].numpy().tolist() == [1, 2, 3]
    assert tf.RaggedTensor.from_value_rowids([1, 2, 3], [0, 0, 2], nrows=4).to_list() == [[1, 2], [], [3], []]
    assert tf.RaggedTensor.from_row_lengths([1, 2, 3], [1, 2]).flat_values.numpy().tolist() == [1, 2, 3]
    with pytest.raises(ValueError):
        tf.RaggedTensor([1], [0, 1])


def test_substr():
    assert tf.strings.substr("hello", 1, 3).numpy() == b"ell"
    assert tf.strings.substr("hello", -3, 2).numpy() == b"ll"
    assert_tensor(tf.strings.substr(["hello", "héllo"], 1, 2, unit="UTF8_CHAR"), _b("el", "él"))
    assert_tensor(tf.strings.substr(["hello", "hi"], [1, 0], [2, 5]), _b("el", "hi"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="pos 7 out of range for string b'hello' at index 0"):
        tf.strings.substr("hello", 7, 2)


def test_regex():
    assert tf.strings.regex_replace("aabbaa", "a+", "X").numpy() == b"XbbX"
    assert tf.strings.regex_replace("aabbaa", "a+", "X", replace_global=False).numpy() == b"Xbbaa"
    assert tf.strings.regex_replace("abc", "(b)", r"[\1]").numpy() == b"a[b]c"
    assert_tensor(tf.strings.regex_full_match(["abc", "ab"], "a.c"), [True, False], tf.bool)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid pattern: \\("):
        tf.strings.regex_replace("abc", "(", "x")


def test_to_number():
    assert_tensor(tf.strings.to_number(["1.5", "2", " 3"]), [1.5, 2.0, 3.0], tf.float32)
    assert_tensor(tf.strings.to_number(["15", "-2"], out_type=tf.int32), [15, -2], tf.int32)
    x = tf.strings.to_number(["inf", "nan", "1e3", "0x10"], out_type=tf.float64).numpy()
    assert np.isinf(x[0]) and np.isnan(x[1]) and x[2:].tolist() == [1000.0, 16.0]
    with pytest.raises(tf.errors.InvalidArgumentError, match="StringToNumberOp could not correctly convert string: abc"):
        tf.strings.to_number(["1.5", "abc"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="convert string: 1.5"):
        tf.strings.to_number(["1.5"], out_type=tf.int64)
    with pytest.raises(tf.errors.InvalidArgumentError, match="'out_type' of int8"):
        tf.strings.to_number(["1"], out_type=tf.int8)


def test_as_string():
    assert_tensor(tf.strings.as_string([1.5, 2.0, 1e10, 1e-7]),
                  _b("1.500000", "2.000000", "10000000000.000000", "0.000000"))
    assert_tensor(tf.strings.as_string([1.5, 2.0], precision=3), _b("1.500", "2.000"))
    assert_tensor(tf.strings.as_string([1.5, 2.0], scientific=True), _b("1.500000e+00", "2.000000e+00"))
    assert_tensor(tf.strings.as_string([1.5, 2.0], shortest=True), _b("1.5", "2"))
    assert_tensor(tf.strings.as_string([3, 42], width=4, fill="0"), _b("0003", "0042"))
    assert_tensor(tf.strings.as_string([3, 42], width=4), _b("   3", "  42"))
    assert_tensor(tf.strings.as_string([True, False]), _b("true", "false"))
    assert_tensor(tf.strings.as_string([1 + 2j]), _b("(1.000000,2.000000)"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Fill string must be one or fewer characters"):
        tf.strings.as_string([1.5], fill="ab")
    with pytest.raises(tf.errors.InvalidArgumentError, match="precision not supported for datatype int32"):
        tf.strings.as_string([1], precision=2)


def test_reduce_join():
    x = [["a", "b"], ["c", "d"]]
    assert tf.strings.reduce_join(x).numpy() == b"abcd"
    assert_tensor(tf.strings.reduce_join(x, axis=1, separator="-"), _b("a-b", "c-d"))
    assert_tensor(tf.strings.reduce_join(x, axis=0, keepdims=True), np.array([[b"ac", b"bd"]], object))
    assert_tensor(tf.strings.reduce_join(x, axis=-1), _b("ab", "cd"))
    with pytest.raises(tf.errors.OutOfRangeError, match="Invalid reduction dimension 2 for input with 2"):
        tf.strings.reduce_join(x, axis=2)


def test_unicode_and_bytes_split():
    assert tf.strings.unicode_split(["héllo", "ab"], "UTF-8").to_list() == [
        [b"h", "é".encode(), b"l", b"l", b"o"], [b"a", b"b"]]
    assert_tensor(tf.strings.unicode_split("hé", "UTF-8"), _b("h", "é"))
    assert tf.strings.bytes_split(["hé", "ab"]).to_list() == [[b"h", b"\xc3", b"\xa9"], [b"a", b"b"]]
    assert tf.strings.unicode_decode(["hé", "ab"], "UTF-8").to_list() == [[104, 233], [97, 98]]
    assert_tensor(tf.strings.unicode_decode("hé", "UTF-8"), [104, 233], tf.int32)


@pytest.mark.parametrize("value, summarize, want", [
    (np.array([1 / 3, 1e10, 1e-7, 2.0, -0.5, np.inf, np.nan], np.float32), 3, "[0.333333343 1e+10 1e-07 ... -0.5 inf nan]"),
    (np.array([1 / 3, 1e10, 1e-7, 2.0, 123456789.0]), 3, "[0.33333333333333331 10000000000 1e-07 2 123456789]"),
    (np.array([True, False]), 3, "[1 0]"),
    (np.arange(20).reshape(10, 2), 2, "[[0 1]\n [2 3]\n ...\n [16 17]\n [18 19]]"),
    (np.zeros((2, 0)), 3, "[\n ...]"),
    (np.zeros((0,)), 3, "[]"),
    (np.array([1 + 2j]), 3, "[?]"),
    (np.array(-7, np.int64), 3, "-7"),
    (np.arange(20), -1, "[" + " ".join(map(str, range(20))) + "]"),
])
def test_format_matches_tensorflow(value, summarize, want):
    assert tf.strings.format("{}", tf.constant(value), summarize=summarize).numpy().decode() == want


def test_format_strings_and_errors():
    assert tf.strings.format("{}", tf.constant("a\nb")).numpy() == b'"a\\nb"'
    assert tf.strings.format("{}", tf.constant(["a", 'q"x'])).numpy() == b'["a" "q\\"x"]'
    assert tf.strings.format("{} and {}", ["x", 3]).numpy() == b'"x" and 3'
    assert tf.strings.format("x=[] ", tf.constant(3.0), placeholder="[]").numpy() == b"x=3 "
    big = tf.strings.format("{}", tf.constant(np.arange(128).reshape(2, 8, 8))).numpy().decode()
    assert big.startswith("[[[0 1 2 ... 5 6 7]\n  [8 9 10 ... 13 14 15]") and "\n\n [[64 65 66" in big
    with pytest.raises(ValueError, match="The template expects 2 tensors, but the inputs only has 1"):
        tf.strings.format("x={} {}", tf.constant(3.0))


def test_string_equal_host_fallback():
    got = string_equal(tf.constant(["a", "b"]), tf.constant("a"))
    assert_tensor(got, [True, False], tf.bool)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Incompatible shapes"):
        string_equal(tf.constant(["a", "b"]), tf.constant(["a", "b", "c"]))


@pytest.mark.oracle
def test_format_oracle(tf_oracle):
    cases = [([[1.5, 2.0], [3.0, 4.0]], 3), (list(range(11)), 2), ([0.1, 0.7, 1e-5], 3)]
    want = tf_oracle(
        "result = [tf.strings.format('{}', tf.constant(v), summarize=s).numpy().decode() for v, s in args['c']]",
        {"c": cases},
    )
    got = [tf.strings.format("{}", tf.constant(v), summarize=s).numpy().decode() for v, s in cases]
    assert got == want
