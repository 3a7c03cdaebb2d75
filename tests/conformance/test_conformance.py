"""Sweeps every registered op: forward vs NumPy, backward vs numerical gradients.

An op registered without a gradient must say `differentiable=False`; every differentiable
op needs at least one case with a gradient check. Element-wise ops are also checked at other
shapes and with broadcasting (variants derived from their cases), and second-order gradients
(nested tapes vs central differences of the tape gradient) are checked for the element-wise
and matmul families and for every case marked `second_order=True`. A `resource` input is
given as a `tf.Variable` holding the case's value.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import numpy as np
import pytest

import flowstone as tf
import flowstone.ops  # noqa: F401 - registers every op
from flowstone.core import dtypes
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


def _make(arg, value):
    """One input tensor: a constant, or a variable's handle for a `resource` input."""
    if arg.fixed is dtypes.resource:
        return tf.Variable(value).handle
    if isinstance(value, tf.Tensor):  # a value only ops can make (a TensorList)
        return value
    return tf.constant(value)


def _to_inputs(case):
    out = []
    for arg, value in zip(OPS[case.op].inputs, case.inputs):
        if arg.number_attr:
            out.append([tf.constant(v) for v in value])
        else:
            out.append(_make(arg, value))
    return out


def _grad_indices(case):
    if case.grad is not None:
        return case.grad
    return [
        i for i, v in enumerate(case.inputs)
        if not OPS[case.op].inputs[i].number_attr and np.asarray(v).dtype == np.float64
        and OPS[case.op].inputs[i].fixed is not dtypes.bool_
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


def _weights(case, inputs, seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(0.5, 1.5, size=o.shape).astype(o.numpy().dtype) if o.dtype.is_floating or o.dtype.is_complex else None
        for o in _run(case, inputs)
    ]


def _dense(g):
    return np.asarray(g.numpy() if hasattr(g, "numpy") else tf.convert_to_tensor(g).numpy())


def _with(case, inputs, index, value):
    call = list(inputs)
    call[index] = _make(OPS[case.op].inputs[index], value)
    return call


def _central(fn, base, eps=1e-6):
    """Central differences of the scalar `fn(x)` at the float64 array `base`."""
    # C order: want.reshape(-1) must be a view, or the assignments below are lost.
    want = np.zeros_like(base, order="C")
    for i in range(base.size):
        vals = []
        for step in (eps, -eps):
            pert = base.copy().reshape(-1)
            pert[i] += step
            vals.append(fn(pert.reshape(base.shape)))
        want.reshape(-1)[i] = (vals[0] - vals[1]) / (2 * eps)
    return want


def _check_gradient(case, inputs, index, weights):
    x = inputs[index]
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = _objective(case, inputs, weights)
    got = tape.gradient(y, x)
    assert got is not None, f"{case.op}: no gradient for input {index}"
    base = np.array(case.inputs[index], dtype=np.float64)
    want = _central(lambda v: float(_objective(case, _with(case, inputs, index, v), weights).numpy()), base)
    np.testing.assert_allclose(_dense(got), want, rtol=max(case.rtol, 1e-4), atol=max(case.atol, 1e-5),
                               err_msg=f"{case.op} input {index}")


@pytest.mark.parametrize("case", [c for c in CASES if OPS[c.op].differentiable], ids=str)
def test_gradient(case):
    inputs = _to_inputs(case)
    weights = _weights(case, inputs)
    for index in _grad_indices(case):
        _check_gradient(case, inputs, index, weights)


# --- other shapes and broadcasting, derived from the element-wise cases -------------------------

_SHAPES = {
    1: [[()], [(2, 1, 2)]],
    2: [[(2, 1), (1, 3)], [(), (2, 2)]],
    3: [[(2, 1), (1, 3), (2, 3)], [(), (2, 2), (2,)]],
}
# Ops whose kernels need a minimum rank or whose inputs are not plain element-wise arrays.
_NO_VARIANTS = frozenset(("Softmax", "LogSoftmax", "LRN", "AddN", "Cast", "Identity", "CheckNumerics"))


def _elementwise(name):
    opdef = OPS[name]
    return (opdef.shape_fn in ("same", "broadcast") and not opdef.static and not opdef.has_lists
            and name not in _NO_VARIANTS)


def _resample(value, shape, seed):
    """An array of `shape` drawn from `value`'s own elements (keeps each input in its domain)."""
    flat = np.asarray(value).reshape(-1)
    order = np.random.default_rng(seed).permutation(flat.size)
    return np.resize(flat[order], shape).astype(flat.dtype)


def _variants():
    out = []
    for case in CASES:
        if not _elementwise(case.op) or not OPS[case.op].differentiable or len(case.inputs) not in _SHAPES:
            continue
        if any(np.ndim(v) == 0 and np.asarray(v).dtype.kind not in "fcb" for v in case.inputs):
            continue
        for k, shapes in enumerate(_SHAPES[len(case.inputs)]):
            if OPS[case.op].shape_fn == "same" and len(set(shapes)) > 1:
                shapes = [shapes[-1]] * len(shapes)
            inputs = [_resample(v, s, seed=31 * k + i) for i, (v, s) in enumerate(zip(case.inputs, shapes))]
            label = "x".join(str(tuple(s)) for s in shapes)
            out.append(dataclasses.replace(case, inputs=inputs, id=f"{case}[{label}]"))
    return out


VARIANTS = _variants()


@pytest.mark.parametrize("case", VARIANTS, ids=str)
def test_forward_variant(case):
    outs = _run(case, _to_inputs(case))
    want = np.broadcast_shapes(*[np.shape(v) for v in case.inputs])
    assert tuple(outs[0].shape) == want, f"{case}: shape {tuple(outs[0].shape)} != {want}"
    if case.reference is not None:
        ref = case.reference(*case.inputs, **case.attrs)
        ref = ref if isinstance(ref, tuple) else (ref,)
        for got, w in zip(outs, ref):
            np.testing.assert_allclose(got.numpy(), w, rtol=case.rtol, atol=case.atol)


@pytest.mark.parametrize("case", [c for c in VARIANTS if OPS[c.op].differentiable], ids=str)
def test_gradient_variant(case):
    """Gradients at other shapes; with broadcasting they must be reduced back to each input's shape."""
    inputs = _to_inputs(case)
    weights = _weights(case, inputs)
    for index in _grad_indices(case):
        _check_gradient(case, inputs, index, weights)


# --- second order: the gradient of the gradient ---------------------------------------------------

_MATMUL = frozenset(("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"))
# TensorFlow registers no gradient for IgammaGradA (the derivative w.r.t. `a`), so it has no
# second derivative there either.
_NO_SECOND_ORDER = frozenset(("Igamma", "Igammac"))


def _second_order_cases():
    return [c for c in CASES + VARIANTS if OPS[c.op].differentiable and _grad_indices(c)
            and c.op not in _NO_SECOND_ORDER
            and (c.second_order or c.op in _MATMUL or (_elementwise(c.op) and "[" not in str(c)))]


def _first(case, inputs, index, weights, w2):
    """sum(w2 * d objective / d x_index), computed with a tape (recorded by any enclosing tape)."""
    x = inputs[index]
    with tf.GradientTape() as inner:
        inner.watch(x)
        y = _objective(case, inputs, weights)
    g = inner.gradient(y, x)
    if g is None:
        return None
    g = tf.convert_to_tensor(g)
    return tf.reduce_sum(g * tf.constant(w2, dtype=g.dtype))


@pytest.mark.parametrize("case", _second_order_cases(), ids=str)
def test_second_order(case):
    inputs = _to_inputs(case)
    weights = _weights(case, inputs)
    for index in _grad_indices(case):
        x = inputs[index]
        w2 = np.random.default_rng(7).uniform(0.5, 1.5, size=np.shape(case.inputs[index]))
        with tf.GradientTape() as outer:
            outer.watch(x)
            y2 = _first(case, inputs, index, weights, w2)
        assert y2 is not None, f"{case.op}: no first-order gradient for input {index}"
        got = outer.gradient(y2, x)
        base = np.array(case.inputs[index], dtype=np.float64)
        want = _central(lambda v, i=index, w=w2: float(_first(case, _with(case, inputs, i, v), i, weights, w).numpy()), base)
        if got is None:
            # No recorded path: the first derivative is piecewise constant, so this must be zero.
            np.testing.assert_allclose(want, 0, atol=max(case.atol, 1e-5), err_msg=f"{case.op} input {index}")
            continue
        np.testing.assert_allclose(_dense(got), want, rtol=max(case.rtol, 1e-4), atol=max(case.atol, 1e-5),
                                   err_msg=f"second order of {case.op} input {index}")


def test_every_op_declares_its_gradient():
    """An op either has a gradient or is explicitly registered with differentiable=False."""
    missing = sorted(name for name, op in OPS.items() if op.differentiable and op.grad is None)
    assert not missing, f"ops with neither a gradient nor differentiable=False: {missing}"


def test_every_differentiable_op_has_a_case():
    covered = {c.op for c in CASES}
    missing = sorted(name for name, op in OPS.items() if op.differentiable and op.grad is not None and name not in covered)
    assert not missing, f"differentiable ops without a conformance case: {missing}"
