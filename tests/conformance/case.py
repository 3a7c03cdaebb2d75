"""One conformance case: a raw op, sample inputs, attrs, and optionally a NumPy reference.

Each op family lists its cases in `tests/conformance/cases_<family>.py` as `CASES = [...]`.
`test_conformance.py` runs every case forward (against `reference` when given) and, for
differentiable ops, compares tape gradients with central differences in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Case:
    op: str  # raw op name, as registered
    inputs: list  # NumPy arrays / Python values (a list input as a Python list of arrays)
    attrs: dict = field(default_factory=dict)
    reference: Callable | None = None  # NumPy function of the inputs (and attrs as kwargs), or None
    grad: list[int] | None = None  # input indices to check gradients for (default: all float64 inputs)
    rtol: float = 1e-5
    atol: float = 1e-6
    second_order: bool = False  # also check the gradient of the gradient
    id: str = ""

    def __str__(self):
        return self.id or self.op
