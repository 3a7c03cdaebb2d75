"""Conformance cases for flowstone/ops/reduction.py and segment.py."""

import numpy as np

import flowstone as tf
from tests.conformance.case import Case

rng = np.random.default_rng(3)
A = rng.uniform(0.5, 2.0, (3, 4))
T = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 4.0, 5.0, 5.0], [0.5, 0.7, 0.6, 0.1]])  # ties for Max/Min
Z = np.array([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0], [1.2, 0.8, 1.1]])  # zeros for Prod
AX = np.array([1], np.int32)
BOTH = np.array([0, -1], np.int32)
IDS = np.array([0, 0, 2], np.int32)
UIDS = np.array([2, -1, 0, 2, 1], np.int32)
R = np.ascontiguousarray(np.vstack([A.T, A.T[:1] * 0.9]))  # 5 rows for UIDS
NUM = np.array(3, np.int32)


def _reduce(fn):
    return lambda x, axes, keep_dims=False: fn(x, axis=tuple(int(a) for a in np.ravel(axes)), keepdims=keep_dims)


def _segments(fn, ids, num, empty):
    def ref(data, *args):
        out = []
        for s in range(num):
            rows = data[ids == s]
            out.append(fn(rows, axis=0) if len(rows) else np.full(data.shape[1:], empty))
        return np.stack(out)

    return ref


def _scan(fn):
    def ref(x, axis, exclusive=False, reverse=False):
        a = int(axis)
        y = np.flip(x, a) if reverse else x
        out = fn(y, axis=a)
        if exclusive:
            ident = {np.cumsum: 0.0, np.cumprod: 1.0}.get(fn, -np.inf)
            pad = np.full_like(np.take(y, [0], axis=a), ident)
            out = np.concatenate([pad, np.take(out, range(y.shape[a] - 1), axis=a)], axis=a)
        return np.flip(out, a) if reverse else out

    return ref


def _logcumsumexp(x, axis):
    return np.logaddexp.accumulate(x, axis=axis)


CASES = [
    Case("Sum", [A, AX], {"keep_dims": True}, reference=_reduce(np.sum)),
    Case("Sum", [A, BOTH], reference=_reduce(np.sum), id="Sum-all"),
    Case("Prod", [A, AX], reference=_reduce(np.prod)),
    Case("Prod", [Z, BOTH], reference=_reduce(np.prod), id="Prod-zeros-all"),
    Case("Prod", [Z, np.array([0], np.int32)], {"keep_dims": True}, reference=_reduce(np.prod), id="Prod-zeros"),
    Case("Max", [A, AX], reference=_reduce(np.max)),
    Case("Min", [A, np.array([0], np.int32)], {"keep_dims": True}, reference=_reduce(np.min)),
    Case("Max", [T, AX], grad=[], reference=_reduce(np.max), id="Max-ties"),
    Case("Mean", [A, AX], reference=_reduce(np.mean)),
    Case("Mean", [np.array([[1, -2], [4, 5]], np.int32), np.array([1], np.int32)],
         reference=lambda x, a, **k: np.array([0, 4], np.int32), id="Mean-int"),
    Case("All", [np.array([[True, False], [True, True]]), AX], reference=_reduce(np.all)),
    Case("Any", [np.array([[True, False], [False, False]]), AX], reference=_reduce(np.any)),
    Case("EuclideanNorm", [A, AX], reference=lambda x, a, **k: np.sqrt(np.sum(x * x, axis=1))),
    Case("ArgMax", [T, np.array(1, np.int32)], {"output_type": tf.int64},
         reference=lambda x, a, output_type: np.argmax(x, axis=int(a))),
    Case("ArgMin", [T, np.array(0, np.int32)], {"output_type": tf.int32},
         reference=lambda x, a, output_type: np.argmin(x, axis=int(a)).astype(np.int32)),
    Case("Cumsum", [A, np.array(1, np.int32)], {"exclusive": True, "reverse": True}, reference=_scan(np.cumsum)),
    Case("Cumsum", [A, np.array(0, np.int32)], reference=_scan(np.cumsum), id="Cumsum-plain"),
    Case("Cumprod", [A, np.array(1, np.int32)], {"exclusive": True}, reference=_scan(np.cumprod)),
    Case("Cumprod", [A, np.array(0, np.int32)], {"reverse": True}, reference=_scan(np.cumprod), id="Cumprod-rev"),
    Case("CumulativeLogsumexp", [A, np.array(1, np.int32)], {"reverse": True}, reference=_scan(_logcumsumexp)),
    Case("CumulativeLogsumexp", [A - 1, np.array(0, np.int32)], {"exclusive": True}, grad=[],
         reference=_scan(_logcumsumexp), id="CumulativeLogsumexp-excl"),
    Case("TopKV2", [A, np.array(2, np.int32)], {"sorted": True, "index_type": tf.int32},
         reference=lambda x, k, **a: (-np.sort(-x, axis=-1)[:, :2], np.argsort(-x, axis=-1)[:, :2].astype(np.int32))),
    Case("InTopKV2", [A.astype(np.float32), np.array([0, 1, 2], np.int32), np.array(2, np.int32)],
         reference=lambda p, t, k: np.array([np.sum(p[i] > p[i, t[i]]) < k for i in range(3)])),
    Case("DenseBincount", [np.array([1, 1, 3], np.int32), np.array(5, np.int32), np.array([0.5, 1.0, 2.0])],
         reference=lambda x, s, w, **k: np.bincount(x, w, minlength=5)),
    Case("Bincount", [np.array([1, 1, 3], np.int32), np.array(4, np.int32), np.zeros((0,), np.int32)],
         reference=lambda x, s, w: np.bincount(x, minlength=4).astype(np.int32)),
    # segments
    Case("SegmentSum", [A, IDS], reference=_segments(np.sum, IDS, 3, 0.0)),
    Case("SegmentMean", [A, IDS], reference=_segments(np.mean, IDS, 3, 0.0)),
    Case("SegmentProd", [Z, IDS], reference=_segments(np.prod, IDS, 3, 1.0)),
    Case("SegmentMax", [T[:, :3], IDS], reference=_segments(np.max, IDS, 3, 0.0)),
    Case("SegmentMin", [T[:, :3], IDS], reference=_segments(np.min, IDS, 3, 0.0)),
    Case("UnsortedSegmentSum", [R, UIDS, NUM], reference=_segments(np.sum, UIDS, 3, 0.0)),
    Case("UnsortedSegmentProd", [Z.T.copy()[:3].repeat(1, 0), np.array([1, 1, -1], np.int32), NUM],
         reference=_segments(np.prod, np.array([1, 1, -1]), 3, 1.0)),
    Case("UnsortedSegmentMax", [R, UIDS, NUM],
         reference=_segments(np.max, UIDS, 3, np.finfo(np.float64).min)),
    Case("UnsortedSegmentMin", [R, UIDS, NUM],
         reference=_segments(np.min, UIDS, 3, np.finfo(np.float64).max)),
    Case("InvertPermutation", [np.array([2, 0, 3, 1], np.int32)], reference=np.argsort),
]
