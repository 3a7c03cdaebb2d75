"""Times one workload on one framework; prints `@@{"us": ...}` (microseconds per call)."""

from __future__ import annotations

import importlib
import json
import sys
import time

import numpy as np


def _sync(result):
    """Waits for asynchronous work (jax dispatches asynchronously) behind a result."""
    for leaf in result if isinstance(result, (list, tuple)) else [result]:
        if hasattr(leaf, "numpy"):
            leaf.numpy()
        elif hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()


def measure(fn, once=False, budget=0.4, repeats=5):
    if once:
        start = time.perf_counter()
        _sync(fn())
        return (time.perf_counter() - start) * 1e6
    for _ in range(3):
        _sync(fn())
    n, elapsed = 1, 0.0
    while elapsed < budget / repeats:
        n *= 2
        start = time.perf_counter()
        for _ in range(n):
            r = fn()
        _sync(r)
        elapsed = time.perf_counter() - start
    best = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            r = fn()
        _sync(r)
        best.append((time.perf_counter() - start) / n)
    return float(np.min(best)) * 1e6


def main() -> None:
    module, setup, framework = sys.argv[1:4]
    bench = importlib.import_module(f"benchmarks.{module}")
    fn = getattr(bench, setup)
    if getattr(fn, "whole_process", False):
        # The workload measures itself (import time): it returns microseconds directly.
        us = fn(framework)
    else:
        tf = importlib.import_module(framework)
        us = measure(fn(tf), once=getattr(fn, "once", False))
    print("@@" + json.dumps({"us": us}))


if __name__ == "__main__":
    main()
