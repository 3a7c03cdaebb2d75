"""`tf.autograph`: converting Python functions so tensor-dependent control flow builds graphs."""

from __future__ import annotations

import ast
import functools
import inspect
import linecache
import sys
import textwrap
import types
import warnings

from flowstone._export import export
from flowstone.graph.autograph import runtime
from flowstone.graph.autograph.transformer import ConversionError, convert_function_def

_CACHE: dict = {}
# Code from these packages is library code: called as is, never converted.
_SKIP_PREFIXES = ("flowstone", "numpy", "jax", "jaxlib", "ml_dtypes", "google", "tensorflow", "absl",
                  "builtins", "functools", "collections", "typing", "abc", "enum", "inspect")


def should_convert(fn) -> bool:
    if getattr(fn, "__ag_do_not_convert__", False) or getattr(fn, "__ag_converted__", False):
        return False
    if not inspect.isfunction(fn) or fn.__name__ == "<lambda>":
        return False
    module = getattr(fn, "__module__", None) or ""
    if module.split(".")[0] in _SKIP_PREFIXES:
        return False
    code = fn.__code__
    return not (code.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR))


def _source(fn) -> tuple[str, str, int]:
    """(source text, file name, first line) — from the file, a notebook cell or REPL history."""
    code = fn.__code__
    try:
        lines, first = inspect.getsourcelines(fn)
        return "".join(lines), code.co_filename, first
    except (OSError, TypeError):
        pass
    cached = linecache.getlines(code.co_filename)
    if cached:
        block = inspect.getblock(cached[code.co_firstlineno - 1 :])
        return "".join(block), code.co_filename, code.co_firstlineno
    history = _readline_source(fn)
    if history:
        return history, "<stdin>", 1
    raise ConversionError(
        f"{code.co_filename}:{code.co_firstlineno}: AutoGraph cannot find the source of "
        f"'{fn.__name__}' (defined interactively without history?); it runs unconverted."
    )


def _readline_source(fn) -> str | None:
    """The interactive interpreter keeps no source; its readline history does."""
    try:
        import readline
    except ImportError:
        return None
    items = [readline.get_history_item(i) for i in range(1, readline.get_current_history_length() + 1)]
    start = None
    for i in range(len(items) - 1, -1, -1):
        line = items[i] or ""
        if line.lstrip().startswith(f"def {fn.__name__}("):
            start = i
            break
    if start is None:
        return None
    block = [items[start]]
    for line in items[start + 1 :]:
        if line and not line[0].isspace():
            break
        block.append(line)
    return "\n".join(block) + "\n"


def _function_node(source: str, fn) -> ast.FunctionDef:
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == fn.__name__:
            return node
    raise ConversionError(f"AutoGraph could not find the definition of '{fn.__name__}' in its source")


def _transformed_module(fn):
    """The converted function's source as a factory module, and the line offset."""
    source, filename, first = _source(fn)
    node = _function_node(source, fn)
    node = convert_function_def(node, filename)
    freevars = list(fn.__code__.co_freevars)
    factory = ast.parse(f"def ag__factory(ag__, {', '.join(freevars)}):\n    pass\n").body[0]
    if not freevars:
        factory = ast.parse("def ag__factory(ag__):\n    pass\n").body[0]
    factory.body = [node, ast.parse(f"return {fn.__name__}").body[0]]
    module = ast.Module(body=[factory], type_ignores=[])
    ast.fix_missing_locations(module)
    return module, filename, first, node


def convert(fn, recursive: bool = True):
    """The AutoGraph-converted version of `fn` (cached per code object)."""
    if getattr(fn, "__ag_do_not_convert__", False) or getattr(fn, "__ag_converted__", False):
        return fn
    key = fn.__code__
    cached = _CACHE.get(key)
    if cached is not None:
        code, filename = cached
    else:
        try:
            module, filename, first, _ = _transformed_module(fn)
        except ConversionError as e:
            warnings.warn(str(e), stacklevel=3)
            return fn
        # Keep the user's line numbers so that errors point at their source.
        ast.increment_lineno(module, first - 1)
        compiled = compile(module, filename, "exec")
        factory_code = next(c for c in compiled.co_consts if isinstance(c, types.CodeType))
        code = next(c for c in factory_code.co_consts if isinstance(c, types.CodeType) and c.co_name == fn.__name__)
        _CACHE[key] = (code, filename)
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    closure = tuple(cells[name] if name in cells else types.CellType(runtime) for name in code.co_freevars)
    new = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, closure)
    new.__kwdefaults__ = fn.__kwdefaults__
    functools.update_wrapper(new, fn)
    new.__ag_converted__ = True
    del new.__wrapped__
    return new


@export("autograph.to_code")
def to_code(entity, recursive: bool = True, experimental_optional_features=None) -> str:
    """The Python source AutoGraph generates for a function.

    >>> import flowstone as tf
    >>> def f(x):
    ...     return x
    >>> "def f(x)" in tf.autograph.to_code(f)
    True
    """
    fn = getattr(entity, "python_function", entity)
    _, _, _, node = _transformed_module(fn)
    return ast.unparse(node) + "\n"


@export("autograph.to_graph")
def to_graph(entity, recursive: bool = True, experimental_optional_features=None):
    """The converted function (it builds graph control flow when traced by tf.function)."""
    return convert(getattr(entity, "python_function", entity), recursive)


@export("autograph.experimental.do_not_convert")
def do_not_convert(func=None):
    """Marks a function so that AutoGraph calls it as it is.

    >>> import flowstone as tf
    >>> @tf.autograph.experimental.do_not_convert
    ... def f(x):
    ...     return x
    >>> f(1)
    1
    """
    if func is None:
        return do_not_convert
    func.__ag_do_not_convert__ = True
    return func


@export("autograph.set_verbosity")
def set_verbosity(level: int, alsologtostdout: bool = False) -> None:
    """Accepted for compatibility; conversion problems are reported as warnings."""


def converted_call_target(fn):
    return runtime.converted(fn)


del sys
