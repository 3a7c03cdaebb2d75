"""Tests for flowstone/ops/diagonal.py: diag, diag_part, set_diag, band_part, trace."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients

X = np.arange(1.0, 13.0).reshape(3, 4)
BAND = np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]])

# Expected values recorded from TensorFlow 2.21.
DIAG_PART = {
    "RIGHT_LEFT": [[-1, 3, 8], [2, 7, 12], [1, 6, 11], [5, 10, -1]],
    "LEFT_RIGHT": [[3, 8, -1], [2, 7, 12], [1, 6, 11], [-1, 5, 10]],
    "LEFT_LEFT": [[3, 8, -1], [2, 7, 12], [1, 6, 11], [5, 10, -1]],
    "RIGHT_RIGHT": [[-1, 3, 8], [2, 7, 12], [1, 6, 11], [-1, 5, 10]],
}


@pytest.mark.parametrize("align", sorted(DIAG_PART))
def test_diag_part_alignments(align):
    got = tf.linalg.diag_part(X, k=(-1, 2), padding_value=-1, align=align)
    assert_tensor(got, DIAG_PART[align], dtype=tf.float64)
    # diag inverts diag_part on the band (padding becomes the off-band filler).
    back = tf.linalg.diag(got, k=(-1, 2), num_rows=3, num_cols=4, align=align)
    assert_tensor(back, np.triu(np.tril(X, 2), -1))


def test_diag():
    assert_tensor(tf.linalg.diag([1, 2]), [[1, 0], [0, 2]], dtype=tf.int32)
    assert_tensor(tf.linalg.diag([1.0, 2.0], k=1), [[0, 1, 0], [0, 0, 2], [0, 0, 0]])
    assert_tensor(tf.linalg.diag([1.0, 2.0], k=-1, num_cols=4), [[0, 0, 0, 0], [1, 0, 0, 0], [0, 2, 0, 0]])
    assert_tensor(tf.linalg.diag(BAND, k=(-1, 1)), [[4, 2, 0], [7, 5, 3], [0, 8, 6]])
    assert_tensor(tf.linalg.diag(BAND, k=(-1, 1), align="LEFT_RIGHT"), [[4, 1, 0], [8, 5, 2], [0, 9, 6]])
    assert_tensor(tf.linalg.diag([[1.0, 2.0]], padding_value=9), [[[1, 9], [9, 2]]])
    check_gradients(lambda d: tf.linalg.diag(d, k=(-1, 1)), BAND)


def test_diag_part_set_diag():
    batch = np.stack([X, -X])
    assert_tensor(tf.linalg.diag_part(batch), np.stack([np.diagonal(X), -np.diagonal(X)]))
    assert_tensor(tf.linalg.diag_part(X, k=1), np.diagonal(X, 1))
    assert_tensor(tf.linalg.set_diag(np.zeros((3, 3)), [[1.0, 2, 3], [4, 5, 0]], k=(0, 1)),
                  [[4, 2, 0], [0, 5, 3], [0, 0, 0]])
    assert_tensor(tf.linalg.set_diag(np.zeros((2, 3)), [5.0, 6.0], k=1), [[0, 5, 0], [0, 0, 6]])
    check_gradients(lambda x: tf.linalg.diag_part(x, k=(-1, 1)), X)
    check_gradients(lambda x, d: tf.linalg.set_diag(x, d), X, np.array([1.0, 2.0, 3.0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="input must be at least 2-dim"):
        tf.linalg.diag_part(tf.zeros([3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Diagonal shape"):
        tf.linalg.set_diag(tf.zeros([3, 3]), tf.zeros([2]))


def test_band_part_and_trace():
    ones = np.ones((3, 3))
    assert_tensor(tf.linalg.band_part(ones, 1, -1), np.triu(ones, -1))
    assert_tensor(tf.linalg.band_part(ones, 0, 0), np.eye(3))
    assert_tensor(tf.linalg.band_part(ones, tf.constant(0, tf.int64), -1), np.triu(ones))
    check_gradients(lambda x: tf.linalg.band_part(x, 1, 0), X)
    with pytest.raises(tf.errors.InvalidArgumentError, match="input must be at least 2-dim"):
        tf.linalg.band_part(tf.zeros([3]), 1, -1)
    assert_tensor(tf.linalg.trace(np.stack([X, 2 * X])), [np.trace(X), 2 * np.trace(X)])
    assert_tensor(tf.linalg.trace([[1, 2], [3, 4]]), 5, dtype=tf.int32)
