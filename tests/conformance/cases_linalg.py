"""Conformance cases for flowstone/ops/linalg.py, diagonal.py and decomposition.py."""

import numpy as np

import flowstone
from tests.conformance.case import Case

rng = np.random.default_rng(3)
A = rng.normal(size=(3, 4))
B = rng.normal(size=(4, 2))
BATCH = rng.normal(size=(2, 3, 4))
SQ = rng.normal(size=(3, 3)) + 3 * np.eye(3)
SPD = SQ @ SQ.T + np.eye(3)
LOWER = np.tril(SQ)
TALL = rng.normal(size=(4, 3))
WIDE = rng.normal(size=(2, 4))
# Well separated eigenvalues and singular values keep eigen/singular vectors smooth.
SYM = np.diag([1.0, 3.0, 6.0]) + 0.1 * (SQ + SQ.T)
V3 = rng.normal(size=(2, 3))
I32 = np.int32


def _adj(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _diag_ref(d, k, rows, cols, pad, align="RIGHT_LEFT"):
    out = np.full((int(rows), int(cols)), pad, dtype=d.dtype)
    for i, v in enumerate(d):
        out[i + max(0, -int(k)), i + max(0, int(k))] = v
    return out


def _set_diag_ref(x, d):
    out = x.copy()
    out[np.arange(len(d)), np.arange(len(d))] = d
    return out


def _svd_ref(x, compute_uv, full_matrices):
    u, s, vh = np.linalg.svd(x, full_matrices=full_matrices)
    return s, u, _adj(vh)


def _lstsq_ref(a, b, l2, fast):
    n = a.shape[-1]
    return np.linalg.solve(_adj(a) @ a + l2 * np.eye(n), _adj(a) @ b)


CASES = [
    Case("MatMul", [A, B], reference=lambda a, b: a @ b),
    Case("MatMul", [A, A], {"transpose_a": True}, reference=lambda a, b, transpose_a: a.T @ b, id="MatMul-ta"),
    Case("MatMul", [A, A], {"transpose_b": True}, reference=lambda a, b, transpose_b: a @ b.T, id="MatMul-tb"),
    Case("MatMul", [B, A], {"transpose_a": True, "transpose_b": True},
         reference=lambda a, b, **k: a.T @ b.T, id="MatMul-ta-tb"),
    Case("BatchMatMulV2", [BATCH, B], reference=lambda x, y: x @ y),
    Case("BatchMatMulV2", [BATCH, A[None]], {"adj_x": True},
         reference=lambda x, y, adj_x: _adj(x) @ y, id="BatchMatMulV2-adj_x"),
    Case("BatchMatMulV2", [A, BATCH], {"adj_y": True},
         reference=lambda x, y, adj_y: x @ _adj(y), id="BatchMatMulV2-adj_y-broadcast"),
    Case("BatchMatMulV2", [B[None], BATCH], {"adj_x": True, "adj_y": True},
         reference=lambda x, y, **k: _adj(x) @ _adj(y), id="BatchMatMulV2-adj_xy"),
    Case("BatchMatMulV3", [BATCH, B], {"Tout": flowstone.float64},
         reference=lambda x, y, Tout: x @ y),
    Case("Einsum", [[BATCH, B]], {"equation": "bij,jk->bik"},
         reference=lambda xs, equation: np.einsum(equation, *xs), second_order=True),
    Case("Einsum", [[SQ]], {"equation": "ii->i"}, reference=lambda xs, equation: np.einsum(equation, *xs),
         id="Einsum-diagonal"),
    Case("Einsum", [[BATCH[:1], A]], {"equation": "...ij,...ij->..."},
         reference=lambda xs, equation: np.einsum(equation, *xs), id="Einsum-ellipsis-broadcast"),
    Case("Einsum", [[A]], {"equation": "ij->"}, reference=lambda xs, equation: np.einsum(equation, *xs),
         id="Einsum-sum"),
    Case("Cross", [V3, V3[::-1]], reference=np.cross, second_order=True),
    Case("MatrixInverse", [SQ], reference=lambda x, **k: np.linalg.inv(x), second_order=True),
    Case("MatrixInverse", [SQ], {"adjoint": True}, reference=lambda x, adjoint: np.linalg.inv(_adj(x)),
         id="MatrixInverse-adjoint"),
    Case("MatrixDeterminant", [SQ], reference=np.linalg.det, second_order=True),
    Case("LogMatrixDeterminant", [SQ - 2 * np.eye(3)], reference=lambda x: tuple(np.linalg.slogdet(x))),
    # The forward reads the lower triangle while TF's gradient is the symmetric one, so the
    # numerical check of Cholesky runs on symmetrized inputs in tests/ops/test_decomposition.py.
    Case("Cholesky", [SPD], reference=np.linalg.cholesky, grad=[]),
    Case("MatrixSolve", [SQ, B[:3]], reference=lambda a, b, **k: np.linalg.solve(a, b)),
    Case("MatrixSolve", [SQ, B[:3]], {"adjoint": True}, reference=lambda a, b, adjoint: np.linalg.solve(a.T, b),
         id="MatrixSolve-adjoint"),
    Case("MatrixTriangularSolve", [LOWER, B[:3]], reference=lambda a, b, **k: np.linalg.solve(a, b)),
    Case("MatrixTriangularSolve", [SQ, B[:3]], {"lower": False, "adjoint": True},
         reference=lambda a, b, **k: np.linalg.solve(np.triu(a).T, b), id="MatrixTriangularSolve-upper-adjoint"),
    Case("Qr", [TALL], grad=[0]),
    Case("Qr", [WIDE], grad=[0], id="Qr-wide"),
    Case("Qr", [SQ], {"full_matrices": True}, id="Qr-full-square"),
    Case("Svd", [TALL], {"compute_uv": False}, reference=lambda x, **k: np.linalg.svd(x, compute_uv=False)),
    Case("Svd", [TALL], reference=lambda x, **k: _svd_ref(x, True, False)[0], id="Svd-uv"),
    Case("Svd", [WIDE], reference=lambda x, **k: _svd_ref(x, True, False)[0], id="Svd-uv-wide"),
    Case("SelfAdjointEigV2", [SYM], reference=lambda x, **k: np.linalg.eigh(x)[0]),
    Case("SelfAdjointEigV2", [SYM], {"compute_v": False}, reference=lambda x, **k: np.linalg.eigh(x)[0],
         id="SelfAdjointEigV2-values"),
    Case("MatrixSolveLs", [TALL, B, np.float64(0.5)], {"fast": True}, reference=_lstsq_ref, grad=[0, 1]),
    Case("MatrixSolveLs", [WIDE, B[:2], np.float64(0.0)], {"fast": True}, grad=[0, 1],
         reference=lambda a, b, l2, fast: np.linalg.pinv(a) @ b, id="MatrixSolveLs-wide"),
    Case("MatrixSolveLs", [TALL, B, np.float64(0.0)], {"fast": False}, grad=[0, 1],
         reference=lambda a, b, l2, fast: np.linalg.lstsq(a, b, rcond=None)[0], id="MatrixSolveLs-slow"),
    Case("Lu", [SQ]),
    Case("MatrixDiagV3", [B[:, 0], I32(1), I32(-1), I32(-1), np.float64(0.0)], grad=[0],
         reference=lambda d, k, r, c, pad, **kw: np.diag(d, 1)),
    Case("MatrixDiagV3", [A[:2, :3], np.array([-1, 0], I32), I32(-1), I32(-1), np.float64(0.0)], grad=[0],
         reference=lambda d, k, r, c, pad, **kw: np.diag(d[0]) + np.diag(d[1, :2], -1), id="MatrixDiagV3-band"),
    Case("MatrixDiagPartV3", [A, I32(0), np.float64(0.0)], grad=[0],
         reference=lambda x, k, pad, **kw: np.diagonal(x)),
    Case("MatrixDiagPartV3", [BATCH, np.array([-1, 1], I32), np.float64(0.0)], grad=[0], id="MatrixDiagPartV3-band"),
    Case("MatrixSetDiagV3", [A, B[:3, 0], I32(0)], grad=[0, 1],
         reference=lambda x, d, k, **kw: _set_diag_ref(x, d)),
    Case("MatrixBandPart", [A, np.int64(1), np.int64(0)], grad=[0],
         reference=lambda x, lo, up: np.tril(np.triu(x, -1), 0)),
]
