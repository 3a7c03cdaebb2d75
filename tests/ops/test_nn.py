"""Tests for flowstone/ops/nn.py: activations, softmax, bias_add, losses, dropout, embeddings."""

import math

import numpy as np
import pytest

import flowstone as tf
from tests.helpers import assert_tensor, check_gradients

X = np.array([[-2.0, -0.5, 0.3, 1.7], [4.0, -3.0, 0.8, 7.0]])


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


# --- activations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, want",
    [
        (tf.nn.relu, np.maximum(X, 0)),
        (tf.nn.relu6, np.clip(X, 0, 6)),
        (tf.nn.elu, np.where(X > 0, X, np.expm1(X))),
        (tf.nn.selu, 1.0507009873554805 * np.where(X > 0, X, 1.6732632423543772 * np.expm1(X))),
        (tf.nn.leaky_relu, np.where(X > 0, X, 0.2 * X)),
        (
            lambda x: tf.nn.gelu(x, approximate=True),
            0.5 * X * (1 + np.tanh(np.sqrt(2 / np.pi) * (X + 0.044715 * X**3))),
        ),
        (tf.nn.silu, X / (1 + np.exp(-X))),
        (lambda x: tf.nn.swish(x, beta=2.0), X / (1 + np.exp(-2 * X))),
    ],
)
def test_activation_values(fn, want):
    assert_tensor(fn(tf.constant(X)), want, dtype=tf.float64, rtol=1e-12)
    assert_tensor(fn(tf.constant(X, tf.float32)), want, dtype=tf.float32, rtol=1e-5)


def test_gelu_exact():
    want = [0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in X.ravel()]
    assert_tensor(tf.nn.gelu(tf.constant(X)), np.reshape(want, X.shape), rtol=1e-12)
    with pytest.raises(ValueError, match="floating point"):
        tf.nn.gelu(tf.constant([1, 2]))


def test_activation_dtypes():
    assert_tensor(tf.nn.relu(tf.constant([1, -2])), [1, 0], dtype=tf.int32)
    assert_tensor(tf.nn.relu6(tf.constant([3, 9], tf.uint8)), [3, 6], dtype=tf.uint8)
    assert_tensor(tf.nn.leaky_relu(tf.constant([1, -2])), [1.0, -0.4], dtype=tf.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Value for attr 'T' of int32"):
        tf.nn.elu(tf.constant([1, 2]))


def test_crelu():
    assert_tensor(tf.nn.crelu(tf.constant([[-1.0, 2.0]])), [[0, 2, 1, 0]], dtype=tf.float32)
    assert tf.nn.crelu(tf.ones([2, 3]), axis=0).shape == (4, 3)


@pytest.mark.parametrize(
    "fn", [tf.nn.relu, tf.nn.relu6, tf.nn.elu, tf.nn.selu, tf.nn.leaky_relu, tf.nn.gelu, tf.nn.silu]
)
def test_activation_gradients(fn):
    check_gradients(fn, X)


@pytest.mark.parametrize(
    "fn, second",
    [
        (tf.nn.elu, lambda x: np.where(x > 0, 0.0, np.exp(x))),
        (
            tf.nn.selu,
            lambda x: np.where(x > 0, 0.0, 1.0507009873554805 * 1.6732632423543772 * np.exp(x)),
        ),
        (tf.nn.relu, lambda x: np.zeros_like(x)),
    ],
)
def test_activation_second_order(fn, second):
    x = tf.constant(X)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = fn(x)
        g = inner.gradient(y, x)
    assert_tensor(outer.gradient(g, x), second(X), rtol=1e-10)


# --- softmax ---------------------------------------------------------------------------------------


def test_softmax_axes():
    assert_tensor(tf.nn.softmax(tf.constant(X)), _softmax(X), rtol=1e-12)
    assert_tensor(tf.nn.softmax(tf.constant(X), axis=0), _softmax(X, 0), rtol=1e-12)
    assert_tensor(tf.nn.log_softmax(tf.constant(X), axis=0), np.log(_softmax(X, 0)), rtol=1e-12)
    assert_tensor(tf.math.softmax(tf.constant([0.0, 0.0])), [0.5, 0.5], dtype=tf.float32)
    check_gradients(lambda x: tf.nn.softmax(x, axis=0) * tf.constant(X), X)
    check_gradients(lambda x: tf.nn.log_softmax(x) * tf.constant(X), X)


def test_softmax_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match="not in the list of allowed values"):
        tf.nn.softmax(tf.constant([1, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="logits must have >= 1 dimension"):
        tf.nn.softmax(tf.constant(1.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be in the range \[-2, 2\)"):
        tf.nn.softmax(tf.ones([2, 3]), axis=5)


# --- bias_add ----------------------------------------------------------------------------------------


def test_bias_add():
    x = np.arange(24.0).reshape(1, 2, 3, 4)
    assert_tensor(tf.nn.bias_add(x, np.arange(4.0)), x + np.arange(4.0))
    assert_tensor(
        tf.nn.bias_add(x, np.arange(2.0), data_format="NCHW"),
        x + np.arange(2.0)[None, :, None, None],
    )
    assert_tensor(
        tf.nn.bias_add(x, np.arange(2.0), data_format="NCDHW"),
        x + np.arange(2.0)[None, :, None, None],
    )
    check_gradients(
        lambda v, b: tf.nn.bias_add(v, b, data_format="NCHW") ** 2, x / 10, np.arange(2.0)
    )


def test_bias_add_errors():
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"as many biases as the last dimension.*\[4\] vs. \[1,5,5,3\]",
    ):
        tf.nn.bias_add(tf.ones([1, 5, 5, 3]), tf.ones([4]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"at least 2D: \[3\]"):
        tf.nn.bias_add(tf.ones([3]), tf.ones([3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Biases must be 1D: \[1,3\]"):
        tf.nn.bias_add(tf.ones([2, 3]), tf.ones([1, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="cannot compute BiasAdd"):
        tf.nn.bias_add(tf.ones([2, 3]), tf.ones([3], tf.float64))
    with pytest.raises(ValueError, match="`data_format` must be of the form"):
        tf.nn.bias_add(tf.ones([2, 3]), tf.ones([3]), data_format="XYZ")


def test_bias_add_second_order():
    x, b = tf.constant(X), tf.constant([1.0, 2.0, 3.0, 4.0], tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(b)
        with tf.GradientTape() as inner:
            inner.watch(b)
            y = tf.reduce_sum(tf.nn.bias_add(x, b) ** 2)
        g = inner.gradient(y, b)
    # d/db sum((x + b)^2) = 2 * sum_rows(x + b); its Jacobian is 2 * rows * I.
    assert_tensor(outer.gradient(g, b), np.full(4, 4.0))


# --- cross entropies -----------------------------------------------------------------------------------

LABELS = np.array([[0.1, 0.2, 0.3, 0.4], [0.0, 1.0, 0.0, 0.0]])


def test_softmax_cross_entropy():
    want = -np.sum(LABELS * np.log(_softmax(X)), -1)
    assert_tensor(
        tf.nn.softmax_cross_entropy_with_logits(LABELS, X), want, dtype=tf.float64, rtol=1e-12
    )
    assert_tensor(tf.nn.softmax_cross_entropy_with_logits(LABELS.T, X.T, axis=0), want, rtol=1e-12)
    x3 = np.stack([X, X * 2])
    l3 = np.stack([LABELS, LABELS[::-1]])
    want3 = -np.sum(l3 * np.log(_softmax(x3)), -1)
    assert_tensor(tf.nn.softmax_cross_entropy_with_logits(l3, x3), want3, rtol=1e-12)
    half = tf.nn.softmax_cross_entropy_with_logits(
        tf.constant(LABELS, tf.float16), tf.constant(X, tf.float16)
    )
    assert_tensor(half, want, dtype=tf.float16, rtol=1e-2, atol=1e-2)
    check_gradients(tf.nn.softmax_cross_entropy_with_logits, LABELS, X)


def test_softmax_cross_entropy_errors():
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"logits_size=\[2,4\] labels_size=\[2,3\]"
    ):
        tf.nn.softmax_cross_entropy_with_logits(labels=tf.ones([2, 3]), logits=tf.ones([2, 4]))


def test_sparse_softmax_cross_entropy():
    labels = np.array([3, 0])
    want = -np.log(_softmax(X))[np.arange(2), labels]
    out = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant(labels), tf.constant(X))
    assert_tensor(out, want, dtype=tf.float64, rtol=1e-12)
    out3 = tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.constant([[3, 0]], tf.int64), tf.constant(X[None])
    )
    assert_tensor(out3, want[None], rtol=1e-12)
    check_gradients(
        lambda x: tf.nn.sparse_softmax_cross_entropy_with_logits(tf.constant(labels), x), X
    )


def test_sparse_softmax_cross_entropy_errors():
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"Received a label value of 5 which is outside the valid range of \[0, 3\)",
    ):
        tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.constant([5]), logits=tf.ones([1, 3])
        )
    with pytest.raises(tf.errors.InvalidArgumentError, match="label value of -1"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.constant([-1]), logits=tf.ones([1, 3])
        )
    with pytest.raises(ValueError, match="must equal `logits.shape.rank - 1`"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.constant([[1]]), logits=tf.ones([1, 3])
        )
    with pytest.raises(ValueError, match="except for the last dimension"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.constant([1, 2]), logits=tf.ones([3, 3])
        )
    with pytest.raises(tf.errors.InvalidArgumentError, match="Tlabels"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.constant([1.0]), logits=tf.ones([1, 3])
        )


def test_cross_entropy_second_order():
    labels = tf.constant(LABELS)
    x = tf.constant(X)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels, x))
        g = inner.gradient(loss, x)
        total = tf.reduce_sum(g * g)
    # d/dx sum((p - y)^2) with p = softmax(x): 2 * J_softmax^T (p - y), row by row.
    p = _softmax(X)
    want = np.stack(
        [
            2 * (np.diag(pi) - np.outer(pi, pi)) @ (pi - yi)
            for pi, yi in zip(p, LABELS, strict=False)
        ]
    )
    assert_tensor(outer.gradient(total, x), want, rtol=1e-10)


def test_sigmoid_cross_entropy():
    labels = np.array([[0.0, 1.0, 0.5, 1.0], [1.0, 0.0, 0.2, 0.0]])
    sig = 1 / (1 + np.exp(-X))
    want = -labels * np.log(sig) - (1 - labels) * np.log(1 - sig)
    assert_tensor(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=X), want, rtol=1e-10
    )
    big = tf.nn.sigmoid_cross_entropy_with_logits(labels=[1.0, 0.0], logits=[-1000.0, 1000.0])
    assert_tensor(big, [1000.0, 1000.0], dtype=tf.float32)
    check_gradients(
        lambda lab, x: tf.nn.sigmoid_cross_entropy_with_logits(labels=lab, logits=x), labels, X
    )
    with pytest.raises(
        ValueError, match=r"must have the same shape, received \(\(2, 4\) vs \(2, 3\)\)"
    ):
        tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones([2, 3]), logits=tf.ones([2, 4]))


def test_weighted_cross_entropy_and_poisson():
    labels = np.array([[0.0, 1.0, 0.5, 1.0], [1.0, 0.0, 0.2, 0.0]])
    sig = 1 / (1 + np.exp(-X))
    want = -3.0 * labels * np.log(sig) - (1 - labels) * np.log(1 - sig)
    assert_tensor(tf.nn.weighted_cross_entropy_with_logits(labels, X, 3.0), want, rtol=1e-10)
    targets = np.array([0.0, 1.0, 3.0])
    logs = np.array([0.5, -0.2, 1.0])
    base = np.exp(logs) - logs * targets
    assert_tensor(tf.nn.log_poisson_loss(targets, logs), base, rtol=1e-12)
    stirling = np.where(
        targets > 1,
        targets * np.log(np.maximum(targets, 1))
        - targets
        + 0.5 * np.log(2 * np.pi * np.maximum(targets, 1)),
        0,
    )
    assert_tensor(
        tf.nn.log_poisson_loss(targets, logs, compute_full_loss=True), base + stirling, rtol=1e-12
    )


def test_l2_loss():
    assert_tensor(tf.nn.l2_loss(tf.constant(X)), np.sum(X**2) / 2, dtype=tf.float64)


# --- dropout ---------------------------------------------------------------------------------------------


def test_dropout_scales_kept_values():
    x = tf.ones([200, 50])
    y = tf.nn.dropout(x, rate=0.25, seed=3).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.2 < np.mean(y == 0) < 0.3
    assert tf.nn.dropout(x, 0.0) is x


def test_dropout_noise_shape_and_tensor_rate():
    y = tf.nn.dropout(
        tf.ones([100, 6]), rate=tf.constant(0.5), noise_shape=[100, 1], seed=1
    ).numpy()
    assert np.all(y == y[:, :1]), "noise_shape [100, 1] shares one decision per row"
    assert set(np.unique(y)) <= {0.0, 2.0}


def test_dropout_gradient():
    x = tf.constant(np.ones((10, 10)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.dropout(x, 0.5, seed=7)
    g = tape.gradient(y, x).numpy()
    np.testing.assert_array_equal(g, y.numpy())


def test_dropout_errors():
    with pytest.raises(ValueError, match=r"in the range \[0, 1\). Received: rate=1.0"):
        tf.nn.dropout(tf.ones([2]), 1.0)
    with pytest.raises(ValueError, match="must be a floating point tensor"):
        tf.nn.dropout(tf.constant([1, 2]), 0.5)


# --- embedding_lookup ------------------------------------------------------------------------------------


def test_embedding_lookup():
    table = np.arange(12.0).reshape(6, 2)
    ids = np.array([[5, 0], [2, 2]])
    assert_tensor(tf.nn.embedding_lookup(table, ids), table[ids])
    shards = [table[:3], table[3:]]
    assert_tensor(tf.nn.embedding_lookup(shards, ids), table[ids])
    big = tf.nn.embedding_lookup(tf.constant([[3.0, 4.0], [0.3, 0.4]]), [0, 1], max_norm=1.0)
    assert_tensor(big, [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)
    t = tf.constant(table)
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = tf.reduce_sum(tf.nn.embedding_lookup(t, ids) * 2.0)
    counts = np.bincount(ids.ravel(), minlength=6)[:, None] * np.full((6, 2), 2.0)
    assert_tensor(tf.convert_to_tensor(tape.gradient(y, t)), counts)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not in"):
        tf.nn.embedding_lookup(tf.ones([4, 2]), [5])


def test_against_tensorflow(tf_oracle):
    got = tf_oracle(
        """
x = np.array(args["x"])
result = {
    "gelu": tf.nn.gelu(x).numpy().tolist(),
    "selu": tf.nn.selu(x).numpy().tolist(),
    "sce": tf.nn.softmax_cross_entropy_with_logits(np.array(args["labels"]), x, axis=0).numpy().tolist(),
    "sig": tf.nn.sigmoid_cross_entropy_with_logits(labels=np.abs(x) / 10, logits=x).numpy().tolist(),
}
""",
        {"x": X.tolist(), "labels": (np.abs(X) / np.abs(X).sum(0)).tolist()},
    )
    x = tf.constant(X)
    # TensorFlow's float64 erf is only accurate to ~1e-7.
    np.testing.assert_allclose(tf.nn.gelu(x).numpy(), got["gelu"], rtol=1e-6)
    np.testing.assert_allclose(tf.nn.selu(x).numpy(), got["selu"], rtol=1e-12)
    labels = np.abs(X) / np.abs(X).sum(0)
    np.testing.assert_allclose(
        tf.nn.softmax_cross_entropy_with_logits(labels, x, axis=0).numpy(), got["sce"], rtol=1e-12
    )
    np.testing.assert_allclose(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=np.abs(X) / 10, logits=x).numpy(),
        got["sig"],
        rtol=1e-12,
    )
