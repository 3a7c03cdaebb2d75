"""Conformance cases for flowstone/ops/random.py: forward runs (random ops are not differentiable).

Values are random, so the references check what is deterministic: shapes, dtypes, ranges.
"""

import numpy as np

import flowstone as tf
from tests.conformance.case import Case

SHAPE = np.array([2, 3], np.int32)
SEED = np.array([1, 2], np.int64)
KEY = np.array([7], np.uint64)
COUNTER = np.array([0, 0], np.uint64)
ALG = np.array(1, np.int32)



CASES = [
    Case("RandomStandardNormal", [SHAPE], {"dtype": tf.float32, "seed": 1, "seed2": 2}),
    Case("RandomUniform", [SHAPE], {"dtype": tf.float64, "seed": 1, "seed2": 2}),
    Case("TruncatedNormal", [SHAPE], {"dtype": tf.float32, "seed": 1, "seed2": 2}),
    Case("RandomUniformInt", [SHAPE, np.array(0, np.int32), np.array(1, np.int32)], {"seed": 3},
         reference=lambda *a, **k: np.zeros((2, 3))),
    Case("Multinomial", [np.array([[0.0, -1e9]], np.float32), np.array(4, np.int32)], {"seed": 1},
         reference=lambda *a, **k: np.zeros((1, 4))),
    Case("RandomShuffle", [np.array([5, 5, 5])], {"seed": 1}, reference=lambda x, **k: x),
    Case("RandomPoissonV2", [SHAPE, np.array([1.0, 2.0], np.float32)], {"dtype": tf.float32, "seed": 1}),
    Case("RandomGamma", [SHAPE, np.array([1.0, 2.0], np.float32)], {"seed": 1}),
    Case("StatelessRandomNormal", [SHAPE, SEED]),
    Case("StatelessRandomUniform", [SHAPE, SEED], {"dtype": tf.float64}),
    Case("StatelessTruncatedNormal", [SHAPE, SEED]),
    Case("StatelessRandomUniformInt", [SHAPE, SEED, np.array(4, np.int64), np.array(5, np.int64)],
         reference=lambda *a, **k: np.full((2, 3), 4)),
    Case("StatelessRandomUniformFullInt", [SHAPE, SEED], {"dtype": tf.int64}),
    Case("StatelessMultinomial", [np.array([[-1e9, 0.0]], np.float32), np.array(3, np.int32), SEED],
         reference=lambda *a, **k: np.ones((1, 3))),
    Case("StatelessRandomPoisson", [SHAPE, SEED, np.array(0.0, np.float32)], {"dtype": tf.int32},
         reference=lambda *a, **k: np.zeros((2, 3))),
    Case("StatelessRandomGammaV2", [SHAPE, SEED, np.array([1.0, 2.0, 3.0], np.float32)]),
    Case("StatelessRandomBinomial", [SHAPE, SEED, np.array(4.0, np.float32), np.array(1.0, np.float32)],
         reference=lambda *a, **k: np.full((2, 3), 4)),
    Case("StatelessRandomNormalV2", [SHAPE, KEY, COUNTER, ALG]),
    Case("StatelessRandomUniformV2", [SHAPE, KEY, COUNTER, ALG]),
    Case("StatelessTruncatedNormalV2", [SHAPE, KEY, COUNTER, ALG]),
    Case("StatelessRandomUniformIntV2", [SHAPE, KEY, COUNTER, ALG, np.array(2, np.int32), np.array(3, np.int32)],
         reference=lambda *a, **k: np.full((2, 3), 2)),
    Case("StatelessRandomUniformFullIntV2", [SHAPE, KEY, COUNTER, ALG], {"dtype": tf.uint32}),
]
