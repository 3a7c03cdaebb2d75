"""Tiered compilation: answer a function's first call with a quickly compiled executable.

XLA's CPU backend spends most of a first `tf.function` call in LLVM (optimizing and emitting
machine code for every fused kernel). `Tiered` wraps the `jax.jit` of a lowered graph: the
first call lowers it once, compiles it with cheap settings (`QUICK_OPTIONS`: no LLVM
optimization, the classic loop emitters), runs that executable, and hands the same lowered
module to a background thread that compiles it with XLA's default, fully optimized settings.
When that finishes the wrapper switches to the `jax.jit` function itself, whose compile cache
now holds the optimized executable, so later calls take jax's C++ fast path.

While the optimized executable is still compiling, at most `quick_calls` calls are answered
by the quick one; a further call waits for the optimized executable. The background compile
starts once the first run's results are computed, so that it does not slow that run down.
If it fails, the quick executable keeps serving its signature (a warning says so). Both
executables come from one lowered module, so they compute the same operations; only code
generation differs (results agree to the precision of the ops, not necessarily bit for bit).

Configuration (environment variables, read on each first call; `configure` overrides them):

- `FLOWSTONE_TIERED_COMPILATION=0` turns tiering off (every call compiles fully).
- `FLOWSTONE_TIERED_QUICK_CALLS=N` (default 1): calls answered by the quick executable.
- `FLOWSTONE_TIERED_MIN_NODES=N` (default 48): smaller graphs compile fully at once (their
  compile is already quick).

Tiering applies on the CPU backend only. At interpreter exit, compiles still queued are
dropped and the one in progress is waited for (XLA cannot be interrupted mid-compile). See
docs/compilation.md.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import functools
import os
import queue
import threading
import time
import warnings
import weakref

import jax

QUICK_OPTIONS = {
    "xla_backend_optimization_level": 0,  # no LLVM optimization passes
    "xla_cpu_use_fusion_emitters": False,  # the classic loop emitters: less IR to build
    "xla_cpu_parallel_codegen_split_count": 1,  # one LLVM module: half the CPU time of splitting it
}

_DEFAULTS = {"enabled": True, "quick_calls": 1, "min_nodes": 48}
_ENV = {
    "enabled": "FLOWSTONE_TIERED_COMPILATION",
    "quick_calls": "FLOWSTONE_TIERED_QUICK_CALLS",
    "min_nodes": "FLOWSTONE_TIERED_MIN_NODES",
}
_overrides: dict = {}


def configure(enabled=None, quick_calls=None, min_nodes=None) -> None:
    """Overrides the environment settings for this process (None: leave as is).

    >>> from flowstone.graph import tiered
    >>> tiered.configure(quick_calls=2)
    >>> tiered.setting("quick_calls")
    2
    >>> tiered.reset()
    """
    for name, value in (
        ("enabled", enabled),
        ("quick_calls", quick_calls),
        ("min_nodes", min_nodes),
    ):
        if value is not None:
            _overrides[name] = bool(value) if name == "enabled" else int(value)


def reset() -> None:
    """Drops the overrides of `configure` (the environment variables apply again)."""
    _overrides.clear()


def setting(name: str):
    """The current value of `enabled`, `quick_calls` or `min_nodes`."""
    if name in _overrides:
        return _overrides[name]
    raw = os.environ.get(_ENV[name])
    if raw is None or raw.strip() == "":
        return _DEFAULTS[name]
    if name == "enabled":
        return raw.strip().lower() not in ("0", "false", "no", "off")
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{_ENV[name]} must be an integer, got {raw!r}") from None


# --- the background compiler ---------------------------------------------------------------------


class _ShuttingDown(RuntimeError):
    """A background compile that was dropped because the interpreter exits."""


class _Compiler:
    """One daemon thread that compiles jobs in order (a second would only compete for cores)."""

    def __init__(self):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread = None
        self._closed = False

    def submit(self, fn) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                future.set_exception(_ShuttingDown("the interpreter is shutting down"))
                return future
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="flowstone-compiler", daemon=True
                )
                self._thread.start()
            self._jobs.put((fn, future))
        return future

    def _work(self):
        while True:
            fn, future = self._jobs.get()
            if fn is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            if self._closed:
                future.set_exception(_ShuttingDown("the interpreter is shutting down"))
                continue
            try:
                future.set_result(fn())
            except BaseException as e:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(e)

    def close(self):
        """Drops queued jobs and waits for the one in progress."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is None:
                return
            self._jobs.put((None, None))
        thread.join()


_COMPILER = _Compiler()
atexit.register(_COMPILER.close)


def wait_for_background_compiles(timeout=None) -> bool:
    """Waits until every optimized compile queued so far has finished; False on timeout.

    Useful before timing steady-state calls, or in tests.

    >>> from flowstone.graph import tiered
    >>> tiered.wait_for_background_compiles(timeout=60)
    True
    """
    marker = _COMPILER.submit(lambda: None)
    done, _ = concurrent.futures.wait([marker], timeout)
    return bool(done)


# --- the wrapper -------------------------------------------------------------------------------

_NEW, _PENDING, _OPTIMIZED, _QUICK_ONLY = range(4)
_POLL_S = 0.002
_MAX_WAIT_S = 2.0


def _signature(args):
    """What an executable is specialized to: each argument's type and placement."""
    return tuple((jax.typeof(a), getattr(a, "sharding", None)) for a in args)


def _on_cpu(args) -> bool:
    """True when the program will run on the CPU backend (where the quick options apply)."""
    placed = False
    for a in args:
        devices = getattr(a, "devices", None)
        if devices is not None:
            placed = True
            if any(d.platform != "cpu" for d in devices()):
                return False
    return placed or jax.default_backend() == "cpu"


class _FirstRun(threading.Event):
    """Set once the first (quick) run is dispatched; `refs`: weak references to its outputs."""

    refs: list = []


def _compile_after(lowered, ran):
    """Compiles `lowered` fully once the first run's outputs are computed (without holding them)."""
    deadline = time.monotonic() + _MAX_WAIT_S
    ran.wait(_MAX_WAIT_S)
    for ref in ran.refs:
        while time.monotonic() < deadline:
            a = ref()
            if a is None or a.is_deleted() or a.is_ready():
                break
            del a
            time.sleep(_POLL_S)
    return lowered.compile()


class Tiered:
    """Calls `jitted` (a `jax.jit` function); its first signature is compiled in two tiers.

    `size` is a measure of the program (graph nodes) compared with `min_nodes`. Once calls go
    to `jitted` for good, `on_optimized(jitted)` is called (the owner may then call `jitted`
    directly and skip this wrapper).
    """

    __slots__ = (
        "jitted",
        "size",
        "_state",
        "_quick",
        "_signature",
        "_calls",
        "_future",
        "_lock",
        "_on_optimized",
        "__weakref__",
    )

    def __init__(self, jitted, size=0, on_optimized=None):
        self.jitted = jitted
        self.size = size
        self._on_optimized = on_optimized
        self._state = _NEW
        self._quick = None
        self._signature = None
        self._calls = 0
        self._future = None
        self._lock = threading.Lock()

    @property
    def tier(self) -> str:
        """`"new"`, `"quick"` (optimized compile in progress), `"optimized"` or `"quick-only"`."""
        with self._lock:
            if self._state == _PENDING and self._future.done():
                self._settle()
        return ("new", "quick", "optimized", "quick-only")[self._state]

    def wait(self, timeout=None) -> str:
        """Waits for the background compile (if one runs); returns the tier afterwards."""
        future = self._future
        if future is not None:
            concurrent.futures.wait([future], timeout)
        return self.tier

    def __call__(self, *args):
        if self._state == _OPTIMIZED:
            return self.jitted(*args)
        fn, ran = self._pick(args)
        if ran is None:
            return fn(*args)
        out = ()
        try:
            out = fn(*args)
        finally:
            # The optimized compile starts once this first run is done (not competing with it).
            ran.refs = [weakref.ref(a) for a in jax.tree.leaves(out) if isinstance(a, jax.Array)]
            ran.set()
        return out

    def _pick(self, args):
        """The executable for this call, and for the first call the event its run must set."""
        with self._lock:
            if self._state == _NEW:
                return self._first_call(args)
            if self._state == _PENDING:
                if self._future.done():
                    self._settle()
                elif self._calls < setting("quick_calls") and _signature(args) == self._signature:
                    self._calls += 1
                    return self._quick, None
                else:
                    concurrent.futures.wait([self._future])
                    self._settle()
            if self._state == _QUICK_ONLY and _signature(args) == self._signature:
                return self._quick, None
        return self.jitted, None

    def _first_call(self, args):
        if not (
            setting("enabled")
            and self.size >= setting("min_nodes")
            and setting("quick_calls") > 0
            and _on_cpu(args)
        ):
            self._optimized()
            return self.jitted, None
        lowered = self.jitted.lower(*args)
        try:
            quick = lowered.compile(compiler_options=QUICK_OPTIONS)
        except Exception as e:  # noqa: BLE001 - compiled as usual (which reports a real error)
            if "compile option" in str(e):
                warnings.warn(
                    f"tiered compilation is off: this XLA rejects the quick options ({e})",
                    RuntimeWarning,
                    stacklevel=5,
                )
                configure(enabled=False)
            self._optimized()
            return self.jitted, None
        ran = _FirstRun()
        self._quick = quick
        self._signature = _signature(args)
        self._calls = 1
        self._state = _PENDING
        self._future = _COMPILER.submit(functools.partial(_compile_after, lowered, ran))
        return quick, ran

    def _optimized(self):
        self._state = _OPTIMIZED
        if self._on_optimized is not None:
            self._on_optimized(self.jitted)

    def _settle(self):
        """The background compile has finished: switch to the optimized executable, or stay."""
        error = self._future.exception()
        if error is None:
            self._quick = None
            self._optimized()
            return
        self._state = _QUICK_ONLY
        if isinstance(error, _ShuttingDown):
            return
        warnings.warn(
            f"the optimized compile of a tf.function failed; its quickly compiled version keeps "
            f"running ({type(error).__name__}: {error})",
            RuntimeWarning,
            stacklevel=5,
        )
