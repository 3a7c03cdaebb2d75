"""The benchmark runner finds every workload, and each one runs on flowstone."""

import flowstone as tf
from benchmarks import __main__ as runner
from benchmarks import worker


def test_every_workload_has_a_target():
    found = runner.discover()
    names = {setup for _, setup, _ in found}
    assert {"setup_eager_add_16x16", "setup_eager_matmul_64x64", "setup_import_and_first_op",
            "setup_tape_gradient", "setup_function_call_overhead"} <= names
    assert all(getattr(fn, "target", None) for _, _, fn in found)


def test_measure_times_a_flowstone_workload():
    from benchmarks.bench_core import setup_eager_add_16x16

    us = worker.measure(setup_eager_add_16x16(tf), budget=0.05, repeats=2)
    assert 0 < us < 1e5
