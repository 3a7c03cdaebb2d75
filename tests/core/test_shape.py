import pytest

import flowstone as tf


def test_known_and_unknown():
    s = tf.TensorShape([2, None, 3])
    assert s.rank == 3 and s.as_list() == [2, None, 3] and not s.is_fully_defined()
    assert s.num_elements() is None and tf.TensorShape([2, 3]).num_elements() == 6
    assert str(s) == "(2, None, 3)" and repr(s) == "TensorShape([2, None, 3])"
    assert str(tf.TensorShape([4])) == "(4,)" and str(tf.TensorShape([])) == "()"
    u = tf.TensorShape(None)
    assert u.rank is None and str(u) == "<unknown>"
    with pytest.raises(ValueError):
        u.as_list()


def test_compatibility_and_merge():
    a, b = tf.TensorShape([None, 3]), tf.TensorShape([2, None])
    assert a.is_compatible_with(b) and a.merge_with(b).as_list() == [2, 3]
    assert not a.is_compatible_with([2, 4]) and a.is_compatible_with(tf.TensorShape(None))
    with pytest.raises(ValueError):
        a.merge_with([2, 4])
    assert not a.is_compatible_with([3])
    assert tf.TensorShape([1, 2]).most_specific_compatible_shape([1, 3]).as_list() == [1, None]


def test_indexing_equality_and_concat():
    s = tf.TensorShape([1, 2, 3])
    assert s[0] == 1 and s[-1] == 3 and s[1:] == tf.TensorShape([2, 3])
    assert s == [1, 2, 3] and s != [1, 2] and len(s) == 3 and list(s) == [1, 2, 3]
    assert (s + [4]).as_list() == [1, 2, 3, 4] and s.concatenate(tf.TensorShape(None)).rank is None
    assert s.with_rank(3) is s
    with pytest.raises(ValueError):
        s.with_rank(2)
    with pytest.raises(ValueError):
        s.with_rank_at_least(4)


def test_bad_dimensions():
    with pytest.raises(TypeError):
        tf.TensorShape([1.5])
    with pytest.raises(ValueError):
        tf.TensorShape([-2])
