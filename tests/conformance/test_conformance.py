"""Sweeps every registered op: forward vs NumPy, backward vs numerical gradients.

An op registered without a gradient must say `differentiable=False`; every differentiable
op needs at least one case with a gradient check.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import flowstone as tf
import flowstone.ops  # noqa: F401 - registers every op
from flowstone.core.execute import execute
from flowstone.core.registry import OPS
from tests.conformance.case import Case


def _load_cases() -> list[Case]:
    cases = []
    import tests.conformance as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("cases_"):
            cases.extend(importlib.import_module(f"tests.conformance.{info.name}").CASES)
    return cases


CASES = _load_cases()


def _to_inputs(case):
    out = []
    for arg, value in zip(OPS[case.op].inputs, case.inputs):
        if arg.number_attr:
            out.append([tf.constant(v) for v in value])
        else:
            out.append(tf.constant(value))
    return out


def _grad_indices(case):
    if case.grad is not None:
        return case.grad
    return [
        i for i, v in enumerate(case.inputs)
        if not OPS[case.op].inputs[i].number_attr and np.asarray(v).dtype == np.float64
    ]


def _run(case, inputs):
    out = execute(case.op, inputs, dict(case.attrs))
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_forward(case):
    outs = _run(case, _to_inputs(case))
    if case.reference is not None:
        want = case.reference(*case.inputs, **case.attrs)
        want = want if isinstance(want, tuple) else (want,)
        for got, w in zip(outs, want):
            np.testing.assert_allclose(got.numpy(), w, rtol=case.rtol, atol=case.atol)


def _objective(case, inputs, weights):
    """sum_k <w_k, out_k> over the float outputs: a scalar that touches every output."""
    total = None
    for out, w in zip(_run(case, inputs), weights):
        if w is None:
            continue
        term = tf.reduce_sum(out * tf.constant(w, dtype=out.dtype))
        total = term if total is None else total + term
    return total


@pytest.mark.parametrize("case", [c for c in CASES if OPS[c.op].differentiable], ids=str)
def test_gradient(case):
    inputs = _to_inputs(case)
    rng = np.random.default_rng(0)
    weights = [
        rng.uniform(0.5, 1.5, size=o.shape).astype(o.numpy().dtype) if o.dtype.is_floating or o.dtype.is_complex else None
        for o in _run(case, inputs)
    ]
    for index in _grad_indices(case):
        x = inputs[index]
        with tf.GradientTape() as tape:
            tape.watch(x)
            call = list(inputs)
            call[index] = x
            y = _objective(case, call, weights)
        got = tape.gradient(y, x)
        assert got is not None, f"{case.op}: no gradient for input {index}"
        base = np.array(case.inputs[index], dtype=np.float64)
        want = np.zeros_like(base)
        eps = 1e-6
        for i in range(base.size):
            vals = []
            for step in (eps, -eps):
                pert = base.copy().reshape(-1)
                pert[i] += step
                call = list(inputs)
                call[index] = tf.constant(pert.reshape(base.shape))
                vals.append(float(_objective(case, call, weights).numpy()))
            want.reshape(-1)[i] = (vals[0] - vals[1]) / (2 * eps)
        np.testing.assert_allclose(np.asarray(got.numpy() if hasattr(got, "numpy") else tf.convert_to_tensor(got).numpy()), want,
                                   rtol=max(case.rtol, 1e-4), atol=max(case.atol, 1e-5), err_msg=f"{case.op} input {index}")


def test_every_op_declares_its_gradient():
    """An op either has a gradient or is explicitly registered with differentiable=False."""
    missing = sorted(name for name, op in OPS.items() if op.differentiable and op.grad is None)
    assert not missing, f"ops with neither a gradient nor differentiable=False: {missing}"


def test_every_differentiable_op_has_a_case():
    covered = {c.op for c in CASES}
    missing = sorted(name for name, op in OPS.items() if op.differentiable and op.grad is not None and name not in covered)
    assert not missing, f"differentiable ops without a conformance case: {missing}"
