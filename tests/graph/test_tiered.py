"""Tiered compilation: a quickly compiled first call, the optimized executable swapped in after."""

import subprocess
import sys
import threading
from pathlib import Path

import jax
import numpy as np
import pytest

import flowstone as tf
from flowstone.graph import tiered

ROOT = Path(__file__).resolve().parents[2]

# Tiering applies to XLA's CPU backend only (its LLVM compile is what the quick tier skips).
pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu", reason="tiered compilation is CPU-only")


@pytest.fixture(autouse=True)
def _settings():
    tiered.reset()
    assert tiered.wait_for_background_compiles(timeout=300)  # none left over from other tests
    yield
    tiered.reset()


class _Compiles:
    """Counts XLA backend compiles of compiled graphs (jax's `_flat` programs)."""

    def __init__(self):
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration" and "_flat" in str(
            kwargs.get("fun_name")
        ):
            with self._lock:
                self.count += 1

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self)


def _train_step():
    """A small dense network step (gradient + Adam-like updates): enough nodes to be tiered."""
    rng = np.random.default_rng(1)
    params = [
        tf.Variable(rng.normal(size=(6, 8)).astype(np.float32)),
        tf.Variable(np.zeros(8, np.float32)),
        tf.Variable(rng.normal(size=(8, 3)).astype(np.float32)),
        tf.Variable(np.zeros(3, np.float32)),
    ]
    moments = [tf.Variable(np.zeros(p.shape, np.float32)) for p in params]

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.matmul(x, params[0]) + params[1])
            logits = tf.matmul(h, params[2]) + params[3]
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
        grads = tape.gradient(loss, params)
        for p, g, m in zip(params, grads, moments, strict=True):
            m.assign(0.9 * m + 0.1 * tf.square(g))
            p.assign_sub(0.05 * g / (tf.sqrt(m) + 1e-3))
        return loss

    x = tf.constant(rng.normal(size=(5, 6)).astype(np.float32))
    y = tf.constant(np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=5)])
    return step, params, x, y


def _wrappers(step, *args):
    """The `Tiered` wrappers of the program behind `step(*args)` (written and plain variants)."""
    return step.get_concrete_function(*args)._program.tiers


def _run(steps, enabled, quick_calls=1):
    tiered.configure(enabled=enabled, quick_calls=quick_calls, min_nodes=1)
    step, params, x, y = _train_step()
    losses = [float(step(x, y)) for _ in range(steps)]
    return step, (x, y), losses, [p.numpy() for p in params]


def test_tiered_results_match_the_optimized_executable():
    _, _, want_losses, want_params = _run(6, enabled=False)
    step, args, losses, params = _run(6, enabled=True, quick_calls=4)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    for got, want in zip(params, want_params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert _wrappers(step, *args)[0].wait() == "optimized"


def test_the_optimized_executable_is_swapped_in_without_recompiling():
    tiered.configure(min_nodes=1)
    step, params, x, y = _train_step()
    with _Compiles() as compiles:
        first = float(step(x, y))
        donating, _ = _wrappers(step, x, y)
        assert donating.tier in ("quick", "optimized")
        assert donating.wait(timeout=120) == "optimized"
        after_swap = [float(step(x, y)) for _ in range(3)]
    # The quick executable, then the optimized one compiled in the background; calls after the
    # swap reuse it through jax's compile cache.
    assert compiles.count == 2
    assert np.isfinite(first) and all(np.isfinite(after_swap))
    assert after_swap[-1] < first


def test_a_call_beyond_the_quick_budget_waits_for_the_optimized_executable():
    tiered.configure(min_nodes=1, quick_calls=1)
    step, params, x, y = _train_step()
    step(x, y)
    step(x, y)
    assert _wrappers(step, x, y)[0].tier == "optimized"


def test_a_failed_background_compile_keeps_the_quick_executable(monkeypatch):
    def broken(lowered, ran):
        raise RuntimeError("simulated XLA failure")

    monkeypatch.setattr(tiered, "_compile_after", broken)
    _, _, want_losses, want_params = _run(3, enabled=False)
    with pytest.warns(RuntimeWarning, match="simulated XLA failure"):
        step, args, losses, params = _run(3, enabled=True)
    assert _wrappers(step, *args)[0].tier == "quick-only"
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    for got, want in zip(params, want_params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_quick_options_the_compiler_rejects_turn_tiering_off(monkeypatch):
    monkeypatch.setattr(tiered, "QUICK_OPTIONS", {"xla_no_such_option_anywhere": 1})
    _, _, want_losses, _ = _run(2, enabled=False)
    with pytest.warns(RuntimeWarning, match="tiered compilation is off"):
        step, args, losses, _ = _run(2, enabled=True)
    assert tiered.setting("enabled") is False
    assert _wrappers(step, *args)[0].tier == "optimized"
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)


def test_small_graphs_and_disabled_tiering_compile_once(monkeypatch):
    @tf.function
    def add_one(x):
        return x + 1.0

    x = tf.constant([1.0, 2.0])
    np.testing.assert_allclose(add_one(x).numpy(), [2.0, 3.0])
    assert _wrappers(add_one, x)[1].tier == "optimized"  # far below the default min_nodes

    monkeypatch.setenv("FLOWSTONE_TIERED_COMPILATION", "0")
    tiered.configure(min_nodes=1)
    step, params, x, y = _train_step()
    with _Compiles() as compiles:
        step(x, y)
    assert compiles.count == 1
    assert _wrappers(step, x, y)[0].tier == "optimized"


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("FLOWSTONE_TIERED_QUICK_CALLS", "3")
    monkeypatch.setenv("FLOWSTONE_TIERED_MIN_NODES", "10")
    monkeypatch.setenv("FLOWSTONE_TIERED_COMPILATION", "off")
    assert tiered.setting("quick_calls") == 3
    assert tiered.setting("min_nodes") == 10
    assert tiered.setting("enabled") is False
    tiered.configure(enabled=True, quick_calls=2)
    assert tiered.setting("enabled") is True and tiered.setting("quick_calls") == 2
    monkeypatch.setenv("FLOWSTONE_TIERED_MIN_NODES", "many")
    with pytest.raises(ValueError, match="FLOWSTONE_TIERED_MIN_NODES must be an integer"):
        tiered.setting("min_nodes")


def test_first_calls_from_several_threads_agree():
    tiered.configure(min_nodes=1, quick_calls=2)

    @tf.function
    def f(x):
        for _ in range(8):
            x = tf.sin(x) * 1.5 + tf.cos(x)
        return tf.reduce_sum(x * x)

    x = tf.constant(np.linspace(-1, 1, 64).astype(np.float32))
    want = x.numpy()
    for _ in range(8):
        want = np.sin(want) * 1.5 + np.cos(want)
    want = float(np.sum(want * want))
    f.get_concrete_function(x)
    results, errors = [], []

    def call():
        try:
            results.append(float(f(x)))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    np.testing.assert_allclose(results, [want] * 4, rtol=1e-4)
    assert _wrappers(f, x)[1].wait(timeout=120) == "optimized"


def test_a_process_that_exits_after_its_first_call_exits_cleanly():
    script = (
        "import numpy as np, flowstone as tf\n"
        "from flowstone.graph import tiered\n"
        "tiered.configure(min_nodes=1)\n"
        "v = tf.Variable(np.ones((4, 4), np.float32))\n"
        "@tf.function\n"
        "def f(x):\n"
        "    v.assign(tf.matmul(v, x) * 0.5 + tf.nn.relu(x))\n"
        "    return tf.reduce_sum(v)\n"
        "print(float(f(tf.eye(4))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert float(proc.stdout.strip().splitlines()[-1]) == pytest.approx(16 * 0.5 + 4 * 1.0)
