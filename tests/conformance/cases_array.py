"""Conformance cases for flowstone/ops/array.py, manip.py, indexing.py and sorting.py."""

import numpy as np

import flowstone as tf
from tests.conformance.case import Case

rng = np.random.default_rng(2)
A = rng.normal(size=(2, 3))
B = rng.normal(size=(2, 3, 4))
i32 = lambda *v: np.array(v if len(v) != 1 else v[0], np.int32)  # noqa: E731


def _strided_ref(x, begin, end, strides, **masks):
    from flowstone.ops.indexing import strided_index

    full = dict.fromkeys(("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"), 0)
    full.update(masks)
    return x[strided_index(x.shape, tuple(begin), tuple(end), tuple(strides), **full)]


def _mirror_grad_ref(dy, paddings, mode):
    x_shape = [n - lo - hi for n, (lo, hi) in zip(dy.shape, paddings, strict=False)]
    out = np.zeros(x_shape)
    for idx in np.ndindex(*x_shape):
        probe = np.zeros(x_shape)
        probe[idx] = 1
        out[idx] = np.sum(np.pad(probe, paddings, mode=mode.lower()) * dy)
    return out


def _gather_ref(p, i, axis, batch_dims=0):
    if not batch_dims:
        return np.take(p, i, axis=int(axis))
    return np.stack([_gather_ref(p[b], i[b], int(axis) - 1, batch_dims - 1) for b in range(p.shape[0])])


def _tensor_scatter_ref(fn):
    def ref(t, i, u):
        out = t.copy()
        fn(out, tuple(np.moveaxis(i, -1, 0)), u)
        return out

    return ref


def _set(out, idx, u):
    out[idx] = u


SCATTER_IDX = np.array([[0, 1], [1, 2]], np.int32)
SCATTER_UPD = np.array([[0.5, -1.0, 2.0, 0.25], [1.5, 0.75, -2.0, 3.0]])

CASES = [
    Case("Identity", [A], reference=lambda x: x),
    Case("Cast", [A], {"DstT": tf.float32}, grad=[], reference=lambda x, DstT, **k: x.astype(np.float32), rtol=1e-6),
    Case("Reshape", [A, i32(3, 2)], reference=lambda x, s: x.reshape(s)),
    Case("ExpandDims", [A, i32(1)], reference=lambda x, d: np.expand_dims(x, int(d))),
    Case("BroadcastTo", [A[0], i32(2, 3)], reference=lambda x, s: np.broadcast_to(x, s)),
    Case("Fill", [i32(2, 2), np.array(1.5)], reference=lambda d, v: np.full(d, v)),
    Case("ZerosLike", [A], reference=np.zeros_like),
    Case("OnesLike", [A], reference=np.ones_like),
    Case("Range", [i32(1), i32(7), i32(2)], reference=lambda a, b, c: np.arange(a, b, c)),
    Case("Pack", [[A, A * 2]], {"axis": 1}, reference=lambda xs, axis: np.stack(xs, axis)),
    Case("Unpack", [A], {"num": 3, "axis": 1}, reference=lambda x, num, axis: tuple(np.moveaxis(x, axis, 0))),
    Case("SelectV2", [A > 0, A, A * 3], reference=np.where),
    Case("LinSpace", [np.array(0.5), np.array(2.0), i32(4)], reference=lambda a, b, n: np.linspace(a, b, n)),
    Case("OneHot", [i32(0, 2, -1), i32(3), np.array(2.0), np.array(-1.0)], {"axis": 0},
         reference=lambda i, d, on, off, axis: np.where(np.arange(3)[:, None] == i[None, :], on, off)),
    Case("ShapeN", [[A, B]], reference=lambda xs: tuple(np.array(x.shape) for x in xs)),
    Case("BroadcastArgs", [i32(2, 1), i32(3)], reference=lambda a, b: np.array([2, 3])),
    Case("Bitcast", [np.array([1.0], np.float32)], {"type": tf.int32},
         reference=lambda x, type: x.view(np.int32)),
    # manip.py
    Case("Transpose", [B, i32(2, 0, 1)], reference=lambda x, p: x.transpose(p)),
    Case("ConjugateTranspose", [B, i32(1, 0, 2)], reference=lambda x, p: np.conj(x.transpose(p))),
    Case("ConcatV2", [[A, A[:, :1] * 2], i32(-1)], reference=lambda xs, a: np.concatenate(xs, int(a))),
    Case("Split", [i32(2), B], {"num_split": 2},
         reference=lambda a, x, num_split: tuple(np.split(x, num_split, int(a)))),
    Case("SplitV", [B, i32(1, -1), i32(2)], {"num_split": 2},
         reference=lambda x, s, a, num_split: tuple(np.split(x, [1], int(a)))),
    Case("Squeeze", [B[:, :1], ], {"squeeze_dims": (1,)}, reference=lambda x, squeeze_dims: np.squeeze(x, 1)),
    Case("Tile", [A, i32(2, 1)], reference=lambda x, m: np.tile(x, m)),
    Case("Pad", [A, i32([1, 0], [2, 1])], reference=lambda x, p: np.pad(x, p)),
    Case("PadV2", [A, i32([1, 0], [2, 1]), np.array(0.5)], grad=[0],
         reference=lambda x, p, c: np.pad(x, p, constant_values=c)),
    Case("MirrorPad", [A, i32([1, 0], [2, 1])], {"mode": "REFLECT"},
         reference=lambda x, p, mode: np.pad(x, p, mode="reflect")),
    Case("MirrorPad", [A, i32([1, 1], [2, 3])], {"mode": "SYMMETRIC"}, id="MirrorPad-symmetric",
         reference=lambda x, p, mode: np.pad(x, p, mode="symmetric")),
    Case("MirrorPadGrad", [rng.normal(size=(4, 6)), i32([1, 1], [2, 1])], {"mode": "REFLECT"},
         reference=_mirror_grad_ref),
    Case("ReverseV2", [B, i32(0, 2)], reference=lambda x, a: np.flip(x, tuple(a))),
    Case("Roll", [B, i32(1, -2), i32(0, 2)], reference=lambda x, s, a: np.roll(x, tuple(s), tuple(a))),
    Case("ReverseSequence", [A, np.array([2, 3], np.int64)], {"seq_dim": 1, "batch_dim": 0},
         reference=lambda x, n, seq_dim, batch_dim: np.stack([np.concatenate([r[:k][::-1], r[k:]])
                                                              for r, k in zip(x, n, strict=False)])),
    # indexing.py
    Case("Slice", [B, i32(1, 0, 1), i32(1, -1, 2)], reference=lambda x, b, s: x[1:2, :, 1:3]),
    Case("StridedSlice", [B, i32(1, 0, 3), i32(0, 3, 0), i32(1, 2, -1)],
         {"begin_mask": 0, "end_mask": 1, "shrink_axis_mask": 1}, reference=_strided_ref),
    Case("StridedSlice", [B, i32(0, 1), i32(0, 3), i32(1, 1)], {"ellipsis_mask": 1, "new_axis_mask": 0},
         id="StridedSlice-ellipsis", reference=_strided_ref),
    Case("StridedSliceGrad", [i32(2, 3, 4), i32(0, 1), i32(0, 3), i32(1, 1), rng.normal(size=(2, 3, 2))],
         {"ellipsis_mask": 1},
         reference=lambda s, b, e, st, dy, **m: np.concatenate([np.zeros((2, 3, 1)), dy, np.zeros((2, 3, 1))], -1)),
    Case("GatherV2", [B, i32(2, 0, 2), i32(1)], reference=_gather_ref),
    Case("GatherV2", [B, i32([1, 0], [3, 3]), i32(2)], {"batch_dims": 1}, id="GatherV2-batch_dims",
         reference=_gather_ref),
    Case("GatherNd", [B, i32([1, 2], [0, 0], [1, 2])], reference=lambda p, i: p[tuple(np.moveaxis(i, -1, 0))]),
    Case("ScatterNd", [i32([1], [0], [1]), rng.normal(size=(3, 2)), i32(2, 2)],
         reference=lambda i, u, s: np.stack([u[1], u[0] + u[2]])),
    Case("TensorScatterUpdate", [B, SCATTER_IDX, SCATTER_UPD], reference=_tensor_scatter_ref(_set)),
    Case("TensorScatterAdd", [B, SCATTER_IDX, SCATTER_UPD], reference=_tensor_scatter_ref(np.add.at)),
    Case("TensorScatterSub", [B, SCATTER_IDX, SCATTER_UPD], reference=_tensor_scatter_ref(np.subtract.at)),
    Case("TensorScatterMin", [B, SCATTER_IDX, SCATTER_UPD], reference=_tensor_scatter_ref(np.minimum.at)),
    Case("TensorScatterMax", [B, SCATTER_IDX, SCATTER_UPD], reference=_tensor_scatter_ref(np.maximum.at)),
    Case("Where", [A > 0], reference=lambda c: np.argwhere(c)),
    # sorting.py
    Case("Unique", [i32(3, 1, 3, 2)], reference=lambda x: (np.array([3, 1, 2]), np.array([0, 1, 0, 2]))),
    Case("UniqueWithCounts", [i32(3, 1, 3, 2)],
         reference=lambda x: (np.array([3, 1, 2]), np.array([0, 1, 0, 2]), np.array([2, 1, 1]))),
    Case("LowerBound", [i32([[1, 3, 5]]), i32([[3, 6]])], reference=lambda s, v: np.array([[1, 3]])),
    Case("UpperBound", [i32([[1, 3, 5]]), i32([[3, 0]])], reference=lambda s, v: np.array([[2, 0]])),
]
