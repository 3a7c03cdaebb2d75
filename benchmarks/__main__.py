"""Runs every workload on flowstone and on TensorFlow (same machine, same run) and prints ratios.

A workload is a function `setup_<name>(tf)` in a `benchmarks/bench_*.py` module: it receives
the framework module (`flowstone` or `tensorflow`), prepares inputs and returns a callable
to time. Attributes on the setup function: `target` (the ratio flowstone/TF to meet) and
`once = True` (time the first call only, e.g. trace + first run). Each framework runs in its
own subprocess: flowstone in this interpreter, TensorFlow in `$FLOWSTONE_TF_PYTHON`.

    python -m benchmarks                 # everything
    python -m benchmarks eager_add tape  # workloads whose name contains one of the words
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def discover():
    """(module, setup name) for every workload, in module order."""
    found = []
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
        if not info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        for name in dir(module):
            if name.startswith("setup_"):
                found.append((info.name, name, getattr(module, name)))
    return found


def _run_worker(python, module, setup, framework):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [python, "-m", "benchmarks.worker", module, setup, framework],
        capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=900,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")]
    if proc.returncode != 0 or not lines:
        return None, proc.stderr.strip().splitlines()[-1:] or ["failed"]
    return json.loads(lines[-1][2:]), None


def _fmt(us):
    if us is None:
        return "-"
    return f"{us / 1e6:.3f} s" if us >= 1e6 else f"{us / 1e3:.2f} ms" if us >= 1e3 else f"{us:.1f} us"


def _byte_compile_flowstone() -> None:
    """Writes flowstone's bytecode, as `pip install` does: TensorFlow's installed modules have
    theirs, so first-call workloads would otherwise time our source compilation against none
    (an editable install under PYTHONDONTWRITEBYTECODE never writes it)."""
    import compileall

    import flowstone

    compileall.compile_dir(str(Path(flowstone.__file__).parent), quiet=1)


def main(argv=None) -> int:
    words = (sys.argv[1:] if argv is None else argv)
    _byte_compile_flowstone()
    tf_python = os.environ.get("FLOWSTONE_TF_PYTHON")
    if tf_python and not Path(tf_python).exists():
        tf_python = None
    rows, failed = [], False
    for module, setup, fn in discover():
        name = setup[len("setup_"):]
        if words and not any(w in name for w in words):
            continue
        ours, err = _run_worker(sys.executable, module, setup, "flowstone")
        theirs = _run_worker(tf_python, module, setup, "tensorflow")[0] if tf_python else None
        ratio = ours["us"] / theirs["us"] if ours and theirs else None
        target = getattr(fn, "target", None)
        ok = "" if ratio is None or target is None else ("yes" if ratio <= target else "NO")
        failed |= ok == "NO" or ours is None
        rows.append((name, _fmt(ours and ours["us"]) if ours else f"error: {err[0][:60]}",
                     _fmt(theirs and theirs["us"]), "-" if ratio is None else f"{ratio:.3f}",
                     "-" if target is None else f"<= {target}", ok))
        print(" | ".join(rows[-1]), flush=True)
    header = ("workload", "flowstone", "tensorflow", "ratio", "target", "met")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print()
    for r in [header, tuple("-" * w for w in widths)] + rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    if not tf_python:
        print("\nTensorFlow not found (set FLOWSTONE_TF_PYTHON, or run `make bench`): no ratios.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
