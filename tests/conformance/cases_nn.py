"""Conformance cases for flowstone/ops/nn.py, convolution.py, pooling.py and normalization.py."""

import jax
import numpy as np

from tests.conformance.case import Case
from tests.ops import nn_reference as ref

rng = np.random.default_rng(3)
# Kept away from the kinks at 0 (and 6) so that central differences are smooth.
A = rng.choice([-1, 1], (3, 4)) * rng.uniform(0.2, 2.0, (3, 4))
G = rng.uniform(0.5, 1.5, (3, 4))
R6 = np.array([[-1.0, 0.5, 3.0, 5.5, 7.0, 8.5]])
SELU = (1.0507009873554805, 1.6732632423543772)
X = rng.normal(size=(1, 5, 5, 2))
W = rng.normal(size=(3, 3, 2, 3))
X3 = rng.normal(size=(1, 3, 3, 3, 2))
W3 = rng.normal(size=(2, 2, 2, 2, 2))
WD = rng.normal(size=(2, 2, 2, 2))
# Distinct values, far apart relative to eps, so the maximum of each window is unambiguous.
P = rng.permutation(50).reshape(1, 5, 5, 2) / 7.0
P3 = rng.permutation(54).reshape(1, 3, 3, 3, 2) / 7.0
LABELS = rng.dirichlet(np.ones(4), 3)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def _selu(x):
    return SELU[0] * np.where(x > 0, x, SELU[1] * np.expm1(np.minimum(x, 0)))


def _xent(logits, labels):
    p = _softmax(logits)
    return -np.sum(labels * np.log(p), -1), p - labels


def _sparse_xent(logits, labels):
    onehot = np.eye(logits.shape[1])[labels]
    return _xent(logits, onehot)


def _conv_ref(
    x, w, strides, padding, dilations=(1, 1, 1, 1), data_format="NHWC", explicit_paddings=(), **_
):
    if padding == "EXPLICIT":
        padding = [explicit_paddings[2 * i : 2 * i + 2] for i in (1, 2)]
    if data_format == "NCHW":
        out = _conv_ref(
            x.transpose(0, 2, 3, 1),
            w,
            [strides[0], strides[2], strides[3], strides[1]],
            padding,
            [dilations[0], dilations[2], dilations[3], dilations[1]],
        )
        return out.transpose(0, 3, 1, 2)
    groups = x.shape[-1] // w.shape[-2]
    return ref.conv(x, w, list(strides[1:-1]), padding, list(dilations[1:-1]), groups)


def _pool_ref(kind):
    def run(x, ksize, strides, padding, data_format="NHWC", **_):
        return ref.pool(x, ksize[1:-1], strides[1:-1], padding, kind)

    return run


CONV = {"strides": [1, 1, 1, 1], "padding": "SAME"}
CONV_S2 = {"strides": [1, 2, 2, 1], "padding": "VALID", "dilations": [1, 1, 1, 1]}
CONV3 = {"strides": [1, 1, 1, 1, 1], "padding": "SAME"}
POOL = {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "SAME"}
POOL3 = {"ksize": [1, 2, 2, 2, 1], "strides": [1, 1, 1, 1, 1], "padding": "VALID"}
DY = rng.normal(size=(1, 5, 5, 3))
DY_S2 = rng.normal(size=(1, 2, 2, 3))
DY3 = rng.normal(size=(1, 3, 3, 3, 2))
DYD = rng.normal(size=(1, 5, 5, 4))
I32 = np.int32

# On GPUs jax differentiates max pooling's gradient-of-gradient with reduced precision (XLA has
# no pair reductions there; jax warns so), so those third-order checks get a loose tolerance.
_GPU_PAIR_REDUCTION = {} if jax.default_backend() == "cpu" else {"rtol": 0.1, "atol": 0.1}


CASES = [
    # activations and their gradient ops
    Case("Relu", [A], reference=lambda x: np.maximum(x, 0), second_order=True),
    Case("ReluGrad", [G, A], reference=lambda g, x: np.where(x > 0, g, 0)),
    Case("Relu6", [R6], reference=lambda x: np.clip(x, 0, 6)),
    Case("Relu6Grad", [R6 * 0 + 1.5, R6], reference=lambda g, x: np.where((x > 0) & (x < 6), g, 0)),
    Case("Elu", [A], reference=_elu, second_order=True),
    Case("EluGrad", [G, _elu(A)], reference=lambda g, y: np.where(y > 0, g, g * (y + 1))),
    Case("Selu", [A], reference=_selu, second_order=True),
    Case(
        "SeluGrad",
        [G, _selu(A)],
        reference=lambda g, y: np.where(y > 0, g * SELU[0], g * (y + SELU[0] * SELU[1])),
    ),
    Case(
        "LeakyRelu", [A], {"alpha": 0.3}, reference=lambda x, alpha: np.where(x > 0, x, alpha * x)
    ),
    Case(
        "LeakyReluGrad",
        [G, A],
        {"alpha": 0.3},
        reference=lambda g, x, alpha: np.where(x > 0, g, alpha * g),
    ),
    Case("Softmax", [A], reference=_softmax, second_order=True),
    Case("LogSoftmax", [A], reference=lambda x: np.log(_softmax(x)), second_order=True),
    Case("BiasAdd", [A, A[0]], reference=lambda x, b: x + b),
    Case(
        "BiasAdd",
        [X, X[0, 0, :, 0]],
        {"data_format": "NCHW"},
        id="BiasAdd-NCHW",
        reference=lambda x, b, data_format: x + b[None, :, None, None],
    ),
    Case("BiasAddGrad", [X], reference=lambda g: g.sum((0, 1, 2))),
    Case(
        "BiasAddGrad",
        [X],
        {"data_format": "NCHW"},
        id="BiasAddGrad-NCHW",
        reference=lambda g, data_format: g.sum((0, 2, 3)),
    ),
    Case("SoftmaxCrossEntropyWithLogits", [A, LABELS], reference=_xent, second_order=True),
    Case(
        "SparseSoftmaxCrossEntropyWithLogits", [A, np.array([0, 3, 1], I32)], reference=_sparse_xent
    ),
    # convolutions
    Case("Conv2D", [X, W], CONV, reference=_conv_ref, second_order=True),
    Case("Conv2D", [X, W], CONV_S2, id="Conv2D-stride2-valid", reference=_conv_ref),
    Case(
        "Conv2D",
        [X, W],
        {**CONV, "dilations": [1, 2, 2, 1]},
        id="Conv2D-dilated",
        reference=_conv_ref,
    ),
    Case(
        "Conv2D",
        [X, W],
        {
            "strides": [1, 1, 1, 1],
            "padding": "EXPLICIT",
            "explicit_paddings": [0, 0, 1, 0, 2, 1, 0, 0],
        },
        id="Conv2D-explicit",
        reference=_conv_ref,
    ),
    Case(
        "Conv2D",
        [np.ascontiguousarray(X.transpose(0, 3, 1, 2)), W],
        {**CONV, "data_format": "NCHW"},
        id="Conv2D-NCHW",
        reference=_conv_ref,
    ),
    Case(
        "Conv2D",
        [rng.normal(size=(1, 4, 4, 4)), W[:, :, :, :2]],
        CONV,
        id="Conv2D-grouped",
        reference=_conv_ref,
    ),
    Case(
        "Conv2DBackpropInput",
        [np.array(X.shape, I32), W, DY_S2],
        CONV_S2,
        reference=lambda s, w, dy, **a: ref.transpose_of(
            lambda v: _conv_ref(v, w, **a), tuple(s), dy
        ),
    ),
    Case(
        "Conv2DBackpropFilter",
        [X, np.array(W.shape, I32), DY],
        CONV,
        reference=lambda x, s, dy, **a: ref.transpose_of(
            lambda v: _conv_ref(x, v, **a), tuple(s), dy
        ),
    ),
    Case("Conv3D", [X3, W3], CONV3, reference=lambda x, w, **a: ref.conv(x, w, padding="SAME")),
    Case(
        "Conv3DBackpropInputV2",
        [np.array(X3.shape, I32), W3, DY3],
        CONV3,
        reference=lambda s, w, dy, **a: ref.transpose_of(
            lambda v: ref.conv(v, w, padding="SAME"), tuple(s), dy
        ),
    ),
    Case(
        "Conv3DBackpropFilterV2",
        [X3, np.array(W3.shape, I32), DY3],
        CONV3,
        reference=lambda x, s, dy, **a: ref.transpose_of(
            lambda v: ref.conv(x, v, padding="SAME"), tuple(s), dy
        ),
    ),
    Case(
        "DepthwiseConv2dNative",
        [X, WD],
        CONV,
        reference=lambda x, w, **a: ref.depthwise(x, w, padding="SAME"),
    ),
    Case("DepthwiseConv2dNativeBackpropInput", [np.array(X.shape, I32), WD, DYD], CONV),
    Case("DepthwiseConv2dNativeBackpropFilter", [X, np.array(WD.shape, I32), DYD], CONV),
    # pooling
    Case("MaxPool", [P], POOL, reference=_pool_ref("max")),
    Case(
        "MaxPool",
        [P],
        {**POOL, "padding": "VALID", "ksize": [1, 3, 3, 1], "strides": [1, 1, 1, 1]},
        id="MaxPool-valid-overlap",
        reference=_pool_ref("max"),
    ),
    Case(
        "MaxPoolGrad",
        [P, ref.pool(P, [2, 2], [2, 2], "SAME", "max"), rng.normal(size=(1, 3, 3, 2))],
        POOL,
    ),
    Case(
        "MaxPoolGradGrad",
        [P, ref.pool(P, [2, 2], [2, 2], "SAME", "max"), rng.normal(size=P.shape)],
        POOL,
        **_GPU_PAIR_REDUCTION,
    ),
    Case("AvgPool", [X], POOL, reference=_pool_ref("avg"), second_order=True),
    Case(
        "AvgPoolGrad",
        [np.array(X.shape, I32), rng.normal(size=(1, 3, 3, 2))],
        POOL,
        reference=lambda s, dy, **a: ref.transpose_of(
            lambda v: _pool_ref("avg")(v, **a), tuple(s), dy
        ),
    ),
    Case("MaxPool3D", [P3], POOL3, reference=_pool_ref("max")),
    Case(
        "MaxPool3DGrad",
        [P3, ref.pool(P3, [2, 2, 2], [1, 1, 1], "VALID", "max"), rng.normal(size=(1, 2, 2, 2, 2))],
        POOL3,
    ),
    Case(
        "MaxPool3DGradGrad",
        [P3, ref.pool(P3, [2, 2, 2], [1, 1, 1], "VALID", "max"), rng.normal(size=P3.shape)],
        POOL3,
        **_GPU_PAIR_REDUCTION,
    ),
    Case("AvgPool3D", [X3], POOL3, reference=_pool_ref("avg")),
    Case("AvgPool3DGrad", [np.array(X3.shape, I32), rng.normal(size=(1, 2, 2, 2, 2))], POOL3),
    Case(
        "MaxPoolWithArgmax",
        [P],
        {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "VALID"},
    ),
    # normalization
    Case(
        "LRN",
        [rng.uniform(0.5, 1.5, (1, 2, 2, 5))],
        {"depth_radius": 1, "bias": 1.0, "alpha": 0.5, "beta": 0.75},
    ),
]
