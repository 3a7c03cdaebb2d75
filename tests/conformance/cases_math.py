"""Conformance cases for flowstone/ops/math.py and special.py."""

import numpy as np
import scipy.special as sp

from tests.conformance.case import Case

rng = np.random.default_rng(1)
A = rng.uniform(0.5, 2.0, (3, 4))
B = rng.uniform(0.5, 2.0, (4,))
U = rng.uniform(-0.8, 0.8, (2, 3))  # inside (-1, 1)
S = rng.uniform(-2.0, 2.0, (2, 3))  # both signs, away from 0 for most entries
S[np.abs(S) < 0.2] = 0.7
C = (rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))).astype(np.complex128)
I32 = np.array([7, -7, 5, -5], np.int32)
D32 = np.array([2, 2, -3, -3], np.int32)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _polygamma(a, x):
    return sp.polygamma(a.astype(int), x)


CASES = [
    # binary arithmetic
    Case("AddV2", [A, B], reference=np.add),
    Case("Add", [A, B], reference=np.add),
    Case("Sub", [A, B], reference=np.subtract),
    Case("Mul", [A, B], reference=np.multiply),
    Case("RealDiv", [A, B], reference=np.divide),
    Case("Div", [A, B], reference=np.divide),
    Case("Div", [I32, D32], reference=lambda x, y: (np.trunc(x / y)).astype(np.int32), id="Div-int"),
    Case("Maximum", [A, B], reference=np.maximum),
    Case("Minimum", [A, B], reference=np.minimum),
    Case("Pow", [A, B], reference=np.power),
    Case("SquaredDifference", [A, B], reference=lambda x, y: (x - y) ** 2),
    Case("FloorDiv", [S, B[:3]], reference=lambda x, y: np.floor(x / y)),
    Case("FloorDiv", [I32, D32], reference=np.floor_divide, id="FloorDiv-int"),
    Case("FloorMod", [S * 3, B[:3]], reference=np.mod),
    Case("FloorMod", [I32, D32], reference=np.mod, id="FloorMod-int"),
    Case("TruncateDiv", [I32, D32], reference=lambda x, y: np.trunc(x / y).astype(np.int32)),
    Case("TruncateMod", [S * 3, B[:3]], reference=np.fmod),
    Case("Mod", [S * 3, B[:3]], reference=np.fmod),
    Case("Atan2", [S, A[:2, :3]], reference=np.arctan2),
    Case("DivNoNan", [A, np.array([0.0, 1.5, 2.0, 0.0])], grad=[0],
         reference=lambda x, y: np.where(y == 0, 0, x / np.where(y == 0, 1, y))),
    Case("DivNoNan", [A, B], reference=np.divide, id="DivNoNan-grad"),
    Case("MulNoNan", [A, B], reference=np.multiply),
    Case("Xlogy", [np.array([0.0, 1.5, 2.0]), np.array([0.5, 2.0, 3.0])], grad=[1],
         reference=lambda x, y: sp.xlogy(x, y)),
    Case("Xlogy", [A, B], reference=sp.xlogy, id="Xlogy-grad"),
    Case("Xdivy", [A, B], reference=np.divide),
    Case("Xlog1py", [A, B], reference=sp.xlog1py),
    Case("NextAfter", [B, A], reference=np.nextafter),
    Case("BitwiseAnd", [I32, D32], reference=np.bitwise_and),
    Case("BitwiseOr", [I32, D32], reference=np.bitwise_or),
    Case("BitwiseXor", [I32, D32], reference=np.bitwise_xor),
    Case("LeftShift", [I32, np.array([1, 2, 3, 31], np.int32)], reference=np.left_shift),
    Case("RightShift", [I32, np.array([1, 2, 3, 31], np.int32)], reference=np.right_shift),
    # unary
    Case("Neg", [A], reference=np.negative),
    Case("Exp", [A], reference=np.exp),
    Case("Expm1", [U], reference=np.expm1),
    Case("Log", [A], reference=np.log),
    Case("Log1p", [U], reference=np.log1p),
    Case("Sqrt", [A], reference=np.sqrt),
    Case("Rsqrt", [A], reference=lambda x: 1 / np.sqrt(x)),
    Case("Square", [S], reference=np.square),
    Case("Reciprocal", [A], reference=np.reciprocal),
    Case("Inv", [A], reference=np.reciprocal),
    Case("Sin", [S], reference=np.sin),
    Case("Cos", [S], reference=np.cos),
    Case("Tan", [U], reference=np.tan),
    Case("Asin", [U], reference=np.arcsin),
    Case("Acos", [U], reference=np.arccos),
    Case("Atan", [S], reference=np.arctan),
    Case("Sinh", [S], reference=np.sinh),
    Case("Cosh", [S], reference=np.cosh),
    Case("Tanh", [S], reference=np.tanh),
    Case("Asinh", [S], reference=np.arcsinh),
    Case("Acosh", [A + 1], reference=np.arccosh),
    Case("Atanh", [U], reference=np.arctanh),
    Case("Sigmoid", [S], reference=_sigmoid),
    Case("Softplus", [S], reference=lambda x: np.log1p(np.exp(x))),
    Case("Softsign", [S], reference=lambda x: x / (1 + np.abs(x))),
    Case("Abs", [S], reference=np.abs),
    Case("Sign", [S], reference=np.sign),
    Case("Floor", [S * 3], reference=np.floor),
    Case("Ceil", [S * 3], reference=np.ceil),
    Case("Round", [np.array([0.5, 1.5, 2.5, -0.5, -1.7])], reference=np.round),
    Case("Rint", [np.array([0.5, 1.5, 2.5, -0.5, -1.7])], reference=np.rint),
    Case("IsNan", [np.array([1.0, np.nan, np.inf])], reference=np.isnan),
    Case("IsInf", [np.array([1.0, np.nan, -np.inf])], reference=np.isinf),
    Case("IsFinite", [np.array([1.0, np.nan, np.inf])], reference=np.isfinite),
    Case("Invert", [I32], reference=np.invert),
    Case("LogicalNot", [np.array([True, False])], reference=np.logical_not),
    Case("LogicalAnd", [np.array([True, False, True]), np.array([True, True, False])], reference=np.logical_and),
    Case("LogicalOr", [np.array([True, False, False]), np.array([False, False, True])], reference=np.logical_or),
    # comparisons
    Case("Less", [A, B], reference=np.less),
    Case("LessEqual", [A, B], reference=np.less_equal),
    Case("Greater", [A, B], reference=np.greater),
    Case("GreaterEqual", [A, B], reference=np.greater_equal),
    Case("Equal", [I32, D32], reference=lambda x, y, **k: np.equal(x, y)),
    Case("NotEqual", [I32, D32], reference=lambda x, y, **k: np.not_equal(x, y)),
    Case("Equal", [I32, D32[:3]], {"incompatible_shape_error": False},
         reference=lambda x, y, **k: np.array(False), id="Equal-incompatible"),
    # complex (gradients of complex-valued outputs are checked in tests/ops/test_math.py)
    Case("Conj", [C], reference=np.conj),
    Case("ComplexAbs", [C], {"Tout": __import__("flowstone").float64}, reference=lambda x, Tout: np.abs(x)),
    Case("Real", [C], {"Tout": __import__("flowstone").float64}, reference=lambda x, Tout: x.real),
    Case("Imag", [C], {"Tout": __import__("flowstone").float64}, reference=lambda x, Tout: x.imag),
    Case("Angle", [C], {"Tout": __import__("flowstone").float64}, reference=lambda x, Tout: np.angle(x)),
    Case("Complex", [S, U], {"Tout": __import__("flowstone").complex128}, grad=[],
         reference=lambda x, y, Tout: x + 1j * y),
    Case("AddN", [[A, A * 2, A * 3]], reference=lambda xs: sum(xs)),
    # special functions
    Case("Erf", [S], reference=sp.erf),
    Case("Erfc", [S], reference=sp.erfc),
    Case("Erfinv", [U], reference=sp.erfinv),
    Case("Ndtri", [(U + 1) / 2], reference=sp.ndtri),
    Case("Lgamma", [A], reference=sp.gammaln),
    Case("Digamma", [A], reference=sp.digamma, rtol=1e-4),
    Case("BesselI0e", [S], reference=sp.i0e),
    Case("BesselI1e", [S], reference=sp.i1e),
    Case("BesselI0", [S], reference=sp.i0),
    Case("BesselI1", [S], reference=sp.i1),
    Case("Spence", [A], reference=sp.spence),
    Case("Expint", [A], reference=sp.expi),
    Case("Igamma", [A, B], reference=sp.gammainc, rtol=1e-4),
    Case("Igammac", [A, B], reference=sp.gammaincc, rtol=1e-4),
    Case("IgammaGradA", [A, B], rtol=1e-4),
    Case("Zeta", [A + 1.5, B], reference=sp.zeta, grad=[1], rtol=1e-4),
    Case("Polygamma", [np.array([0.0, 1.0, 2.0]), np.array([1.5, 2.0, 3.5])], reference=_polygamma,
         grad=[1], rtol=1e-4),
    Case("Betainc", [A, A * 0.5 + 0.5, A / 2.5], reference=sp.betainc, grad=[2], rtol=1e-4),
]
