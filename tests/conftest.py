"""Shared fixtures: the TensorFlow oracle (a separate interpreter, run in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import flowstone  # noqa: F401 - x64 mode on before any test touches jax


def _oracle_python():
    path = os.environ.get("FLOWSTONE_TF_PYTHON")
    if path and os.path.exists(path):
        return path
    return None


@pytest.fixture(scope="session")
def tf_oracle():
    """Runs a Python snippet under real TensorFlow and returns what it printed as JSON.

    The snippet sees `tf`, `np` and `json` imported and a dict `args`; it sets `result`.
    In CI (CI=true) a missing oracle fails the test instead of skipping it.
    """
    python = _oracle_python()
    if python is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the TensorFlow oracle is missing: set FLOWSTONE_TF_PYTHON (make test does)")
        pytest.skip("TensorFlow oracle not installed (run `make test`)")

    def run(code: str, args=None, timeout=300):
        script = (
            "import os, json, sys\n"
            "os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
            "import numpy as np\nimport tensorflow as tf\n"
            f"args = json.loads({json.dumps(json.dumps(args or {}))})\n"
            + textwrap.dedent(code)
            + "\nprint('@@RESULT@@' + json.dumps(result))\n"
        )
        proc = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"oracle failed:\n{proc.stderr[-4000:]}")
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")][-1]
        return json.loads(line[len("@@RESULT@@") :])

    return run


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pytest_report_header(config):
    return f"flowstone oracle: {_oracle_python() or 'not installed'} (python {sys.version.split()[0]})"
