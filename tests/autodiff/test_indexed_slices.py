"""tf.IndexedSlices: attributes, densification, and how tapes aggregate them."""

from __future__ import annotations

import numpy as np
import pytest

import flowstone as tf
from flowstone.autodiff.indexed_slices import aggregate
from tests.helpers import assert_tensor


def test_attributes_and_convert_to_tensor():
    s = tf.IndexedSlices(tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([1, 1]), tf.constant([3, 2]))
    assert s.dtype == tf.float32 and s.shape == tf.TensorShape([3, 2])
    assert_tensor(s.indices, [1, 1])
    assert_tensor(tf.convert_to_tensor(s), [[0.0, 0.0], [4.0, 6.0], [0.0, 0.0]], tf.float32)
    assert str(s).startswith("IndexedSlices(indices=tf.Tensor([1 1]")
    assert_tensor(tf.convert_to_tensor(-s)[1], [-4.0, -6.0])
    assert_tensor(s.values * 1.0 + tf.convert_to_tensor(s)[1:2], [[5.0, 8.0], [7.0, 10.0]])


def test_conversion_errors():
    no_shape = tf.IndexedSlices(tf.constant([[1.0, 2.0]]), tf.constant([1]))
    assert no_shape.shape.rank is None
    with pytest.raises(ValueError, match="without dense_shape"):
        tf.convert_to_tensor(no_shape)
    s = tf.IndexedSlices(tf.constant([[1.0, 2.0]]), tf.constant([1]), tf.constant([3, 2]))
    with pytest.raises(ValueError, match="Incompatible tensor conversion requested to `dtype` float64"):
        tf.convert_to_tensor(s, dtype=tf.float64)


def test_aggregate_concatenates_or_densifies():
    a = tf.IndexedSlices(tf.constant([[1.0, 1.0]]), tf.constant([0]), tf.constant([2, 2]))
    b = tf.IndexedSlices(tf.constant([[2.0, 2.0]]), tf.constant([0]), tf.constant([2, 2]))
    both = aggregate([a, b])
    assert isinstance(both, tf.IndexedSlices)
    assert_tensor(both.indices, [0, 0])
    assert_tensor(tf.convert_to_tensor(both), [[3.0, 3.0], [0.0, 0.0]])
    mixed = aggregate([a, tf.ones([2, 2])])
    assert_tensor(mixed, np.array([[2.0, 2.0], [1.0, 1.0]]))
