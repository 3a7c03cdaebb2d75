"""Tests for flowstone/ops/segment.py: sorted and unsorted segment reductions and their gradients."""

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients

IAE = tf.errors.InvalidArgumentError
DATA = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]], np.float32)
IDS = np.array([0, 0, 2, 2], np.int32)


def test_sorted_segments():
    assert_tensor(tf.math.segment_sum(DATA, IDS), [[4, 6], [0, 0], [12, 14]], dtype=tf.float32)
    assert_tensor(tf.math.segment_mean(DATA, IDS), [[2, 3], [0, 0], [6, 7]])
    assert_tensor(tf.math.segment_max(DATA, IDS), [[3, 4], [0, 0], [7, 8]])
    assert_tensor(tf.math.segment_min(DATA, IDS), [[1, 2], [0, 0], [5, 6]])
    assert_tensor(tf.math.segment_prod(DATA, IDS), [[3, 8], [1, 1], [35, 48]])
    assert_tensor(tf.math.segment_mean(tf.constant([1, 2, 4]), tf.constant([0, 0, 1])), [1, 4], dtype=tf.int32)
    assert_tensor(tf.math.segment_sum(tf.constant([1.0]), tf.constant([0], tf.int64)), [1.0])


def test_sorted_segment_errors():
    with pytest.raises(IAE, match="segment ids are not increasing"):
        tf.math.segment_sum(DATA, [0, 2, 1, 2])
    with pytest.raises(IAE, match=r"Segment id -1 out of range \[0, 3\)"):
        tf.math.segment_sum(DATA, [-1, 0, 1, 2])
    with pytest.raises(IAE, match="Value for attr 'Tindices' of float32 is not in the list of allowed values"):
        tf.math.segment_sum(DATA, [0.0, 0.0, 1.0, 1.0])
    with pytest.raises(IAE, match="segment_ids should be the same size as dimension 0"):
        tf.math.segment_sum(DATA, [0, 0, 1])


def test_unsorted_segments():
    ids = tf.constant([2, -1, 0, 2])
    assert_tensor(tf.math.unsorted_segment_sum(DATA, ids, 4), [[5, 6], [0, 0], [8, 10], [0, 0]])
    low, high = np.finfo(np.float32).min, np.finfo(np.float32).max
    assert_tensor(tf.math.unsorted_segment_max(DATA, ids, 3), [[5, 6], [low, low], [7, 8]])
    assert_tensor(tf.math.unsorted_segment_min(DATA, ids, 3), [[5, 6], [high, high], [1, 2]])
    assert_tensor(tf.math.unsorted_segment_prod(DATA, ids, 3), [[5, 6], [1, 1], [7, 16]])
    assert_tensor(tf.math.unsorted_segment_mean(DATA, ids, 3), [[5, 6], [0, 0], [4, 5]])
    assert_tensor(tf.math.unsorted_segment_sqrt_n(DATA, ids, 3), [[5, 6], [0, 0], [8 / np.sqrt(2), 10 / np.sqrt(2)]],
                  rtol=1e-6)
    imin = np.iinfo(np.int32).max
    assert_tensor(tf.math.unsorted_segment_min(tf.constant([1, 2, 3]), [0, 0, 2], 4), [1, imin, 3, imin])


def test_unsorted_segments_with_matrix_ids():
    data = np.arange(12.0).reshape(2, 3, 2)
    ids = np.array([[0, 1, 0], [1, 1, -1]], np.int32)
    want = np.zeros((2, 2))
    for idx in np.ndindex(2, 3):
        if ids[idx] >= 0:
            want[ids[idx]] += data[idx]
    assert_tensor(tf.math.unsorted_segment_sum(data, ids, 2), want)
    with pytest.raises(IAE, match="does not start with segment_ids.shape"):
        tf.math.unsorted_segment_sum(data, ids[:, :2], 2)
    check_gradients(lambda d: tf.math.unsorted_segment_sum(d, ids, 2) * np.array([1.0, 2.0]), data)


def test_segment_gradients():
    x = np.array([[1.0, 2.5], [3.0, 0.5], [2.0, 4.0], [1.5, 3.0]])
    ids = np.array([0, 0, 1, 3], np.int32)
    uids = np.array([1, -1, 0, 1], np.int32)
    for fn in (tf.math.segment_sum, tf.math.segment_mean, tf.math.segment_max, tf.math.segment_min,
               tf.math.segment_prod):
        check_gradients(lambda d, fn=fn: fn(d, ids) * np.arange(1.0, 5.0)[:, None], x)
    for fn in (tf.math.unsorted_segment_sum, tf.math.unsorted_segment_max, tf.math.unsorted_segment_min,
               tf.math.unsorted_segment_prod, tf.math.unsorted_segment_mean, tf.math.unsorted_segment_sqrt_n):
        check_gradients(lambda d, fn=fn: fn(d, uids, 2) * np.array([[1.0], [2.0]]), x)


def test_segment_prod_gradient_with_zeros():
    x = np.array([2.0, 0.0, 3.0, 0.0, 0.0, 4.0])
    ids = np.array([0, 0, 0, 1, 1, 2], np.int32)
    check_gradients(lambda d: tf.math.segment_prod(d, ids), x)
    check_gradients(lambda d: tf.math.unsorted_segment_prod(d, ids, 3), x)


def test_segment_max_gradient_splits_ties():
    x = tf.constant([3.0, 3.0, 1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.math.segment_max(x, [0, 0, 0])
    assert_tensor(tape.gradient(y, x), [0.5, 0.5, 0.0])


def test_invert_permutation_and_confusion_matrix():
    assert_tensor(tf.math.invert_permutation([3, 0, 2, 1]), [1, 3, 2, 0], dtype=tf.int32)
    with pytest.raises(IAE):
        tf.math.invert_permutation([0, 0])
    cm = tf.math.confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1], num_classes=4, weights=[1.0, 2.0, 3.0, 4.0],
                                  dtype=tf.float32)
    want = np.zeros((4, 4), np.float32)
    want[0, 0], want[1, 2], want[2, 2], want[2, 1] = 1, 2, 3, 4
    assert_tensor(cm, want, dtype=tf.float32)
    with pytest.raises(IAE):
        tf.math.confusion_matrix([0, 5], [0, 1], num_classes=3)



def _confusion_reference(labels, predictions, n, weights=None):
    want = np.zeros((n, n), np.float64)
    np.add.at(want, (labels, predictions), 1.0 if weights is None else weights)
    return want


@pytest.mark.parametrize("traced", [False, True])
def test_confusion_matrix_eager_and_traced(traced):
    def run(*args, **kwargs):
        fn = tf.function(tf.math.confusion_matrix) if traced else tf.math.confusion_matrix
        return fn(*args, **kwargs)

    labels, preds = np.array([0, 1, 3, 3, 2]), np.array([0, 2, 3, 1, 2])
    got = run(tf.constant(labels), tf.constant(preds))
    assert_tensor(got, _confusion_reference(labels, preds, 4).astype(np.int32), dtype=tf.int32)
    got = run(tf.constant(labels), tf.constant(preds), num_classes=6)
    assert got.shape == (6, 6)
    assert_tensor(got, _confusion_reference(labels, preds, 6).astype(np.int32), dtype=tf.int32)
    w = np.array([0.5, 1.5, 2.0, 3.0, 4.0], np.float32)
    got = run(tf.constant(labels), tf.constant(preds), weights=tf.constant(w), dtype=tf.float32)
    assert_tensor(got, _confusion_reference(labels, preds, 4, w).astype(np.float32), dtype=tf.float32)
    got = run(tf.constant(labels), tf.constant(preds), num_classes=tf.constant(5), weights=tf.constant(w),
              dtype=tf.float64)
    assert_tensor(got, _confusion_reference(labels, preds, 5, w), dtype=tf.float64)
    with pytest.raises(IAE, match="`labels` contains negative values"):
        run(tf.constant([0, -1]), tf.constant([0, 1]))
    with pytest.raises(IAE, match="`predictions` out of bound"):
        run(tf.constant([0, 1]), tf.constant([0, 4]), num_classes=3)


def test_confusion_matrix_traced_shapes():
    @tf.function
    def dynamic(labels, predictions):
        out = tf.math.confusion_matrix(labels, predictions)
        assert out.shape.as_list() == [None, None]
        return out

    @tf.function
    def static(labels, predictions):
        out = tf.math.confusion_matrix(labels, predictions, num_classes=3)
        assert out.shape.as_list() == [3, 3]
        return out

    assert_tensor(dynamic(tf.constant([0, 1]), tf.constant([1, 1])), [[0, 1], [0, 1]], dtype=tf.int32)
    assert_tensor(dynamic(tf.constant([2, 1]), tf.constant([1, 1])), [[0, 0, 0], [0, 1, 0], [0, 1, 0]],
                  dtype=tf.int32)
    assert_tensor(static(tf.constant([2, 1]), tf.constant([0, 1])), [[0, 0, 0], [0, 1, 0], [1, 0, 0]],
                  dtype=tf.int32)

def test_against_tensorflow(tf_oracle):
    code = """
x = tf.constant([[1.0, 2.5], [3.0, 0.5], [3.0, 4.0], [0.0, 3.0]])
with tf.GradientTape(persistent=True) as g:
    g.watch(x)
    mx = tf.math.unsorted_segment_max(x, [1, 1, 0, 1], 3)
    pr = tf.math.segment_prod(x, [0, 0, 1, 1])
result = {"mx": mx.numpy().tolist(), "mx_grad": g.gradient(mx, x).numpy().tolist(),
          "pr": pr.numpy().tolist(), "pr_grad": g.gradient(pr, x).numpy().tolist()}
"""
    x = tf.constant([[1.0, 2.5], [3.0, 0.5], [3.0, 4.0], [0.0, 3.0]])
    with tf.GradientTape(persistent=True) as g:
        g.watch(x)
        mx = tf.math.unsorted_segment_max(x, [1, 1, 0, 1], 3)
        pr = tf.math.segment_prod(x, [0, 0, 1, 1])
    got = {"mx": mx.numpy().tolist(), "mx_grad": g.gradient(mx, x).numpy().tolist(),
           "pr": pr.numpy().tolist(), "pr_grad": g.gradient(pr, x).numpy().tolist()}
    want = tf_oracle(code)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-6, err_msg=key)


def test_confusion_matrix_squeezes_a_trailing_unit_dimension():
    # TF removes one extra trailing dimension of size 1 from either operand (column labels).
    want = [[1, 0], [1, 1]]
    assert_tensor(tf.math.confusion_matrix([0, 1, 1], [[0], [1], [0]]), want, tf.int32)
    assert_tensor(tf.math.confusion_matrix([[0], [1], [1]], [0, 1, 0]), want, tf.int32)
    traced = tf.function(lambda a, b: tf.math.confusion_matrix(a, b, num_classes=2))
    assert_tensor(traced(tf.constant([[0], [1], [1]]), tf.constant([0, 1, 0])), want, tf.int32)
