"""`tf.autograph`: converting Python functions so tensor-dependent control flow builds graphs."""

from __future__ import annotations

import ast
import enum
import functools
import inspect
import linecache
import textwrap
import types
import warnings

from flowstone._export import export
from flowstone.graph.autograph import runtime
from flowstone.graph.autograph.transformer import ConversionError, convert_function_def

_CACHE: dict = {}
_FAILED = object()
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
        f"{code.co_filename}:{code.co_firstlineno}: could not get the source code of '{fn.__name__}' (AutoGraph "
        "reads it from its file, a notebook cell's linecache entry or the interpreter's history)"
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


def _function_node(source: str, fn, filename: str, first: int) -> ast.FunctionDef:
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError as e:
        raise ConversionError(f"{filename}:{first}: AutoGraph could not parse the source of '{fn.__name__}' "
                              f"({e.msg})") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == fn.__name__:
            return node
        if isinstance(node, ast.AsyncFunctionDef) and node.name == fn.__name__:
            raise ConversionError(f"{filename}:{first + node.lineno - 1}: AutoGraph cannot convert the async "
                                  f"function '{fn.__name__}' (coroutines have no graph equivalent)")
    raise ConversionError(f"{filename}:{first}: AutoGraph could not find the definition of '{fn.__name__}' in "
                          "its source")


def _transformed_module(fn, features=()):
    """The converted function's source inside a factory module, and where it came from."""
    source, filename, first = _source(fn)
    node = _function_node(source, fn, filename, first)
    node = convert_function_def(node, features)
    freevars = list(fn.__code__.co_freevars)
    params = ", ".join(["ag__", *freevars])
    factory = ast.parse(f"def ag__factory({params}):\n    pass\n").body[0]
    factory.body = [node, ast.parse(f"return {fn.__name__}").body[0]]
    module = ast.Module(body=[factory], type_ignores=[])
    ast.fix_missing_locations(module)
    for n in ast.walk(module):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "ag__":
            # A runtime call reports the line where its statement starts (not where the `if`,
            # loop or expression it replaces ends).
            for part in (n, n.value):
                part.end_lineno, part.end_col_offset = part.lineno, part.col_offset
    return module, filename, first, node


def features_of(options) -> frozenset:
    """Normalizes `experimental_optional_features` / `experimental_autograph_options` to names."""
    if options is None:
        return frozenset()
    if isinstance(options, (Feature, str)):
        options = (options,)
    names = {o.value if isinstance(o, Feature) else str(o) for o in options}
    if "ALL" in names:
        names = {f.value for f in Feature if f is not Feature.ALL}
    return frozenset(names)


def convert(fn, recursive: bool = True, features=()):
    """The AutoGraph-converted version of `fn` (cached per code object and feature set).

    When the function cannot be converted (its source is not available, or it uses a construct
    AutoGraph cannot express) this warns, naming the file, line and reason, and returns `fn`.
    """
    if getattr(fn, "__ag_do_not_convert__", False) or getattr(fn, "__ag_converted__", False):
        return fn
    features = frozenset(features)
    key = (fn.__code__, features)
    cached = _CACHE.get(key)
    if cached is _FAILED:
        return fn
    if cached is None:
        try:
            module, filename, first, _ = _transformed_module(fn, features)
        except ConversionError as e:
            _CACHE[key] = _FAILED  # warn once per function
            warnings.warn(
                f"AutoGraph could not transform {fn.__qualname__} and will run it as-is.\nCause: {e}\n"
                "To silence this warning, decorate the function with "
                "@tf.autograph.experimental.do_not_convert", stacklevel=3)
            return fn
        # Keep the user's line numbers so that errors point at their source.
        ast.increment_lineno(module, first - 1)
        compiled = compile(module, filename, "exec")
        factory_code = next(c for c in compiled.co_consts if isinstance(c, types.CodeType))
        code = next(c for c in factory_code.co_consts if isinstance(c, types.CodeType) and c.co_name == fn.__name__)
        cached = _CACHE[key] = code
    code = cached
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
    _, _, _, node = _transformed_module(fn, features_of(experimental_optional_features))
    return ast.unparse(node) + "\n"


@export("autograph.to_graph")
def to_graph(entity, recursive: bool = True, experimental_optional_features=None):
    """The converted function: it builds graph control flow when traced by tf.function.

    Called eagerly, the converted function runs as plain Python and gives the same results.

    >>> import flowstone as tf
    >>> def f(x):
    ...     while x > 10:
    ...         x = x // 2
    ...     return x
    >>> tf.autograph.to_graph(f)(100)
    6
    """
    return convert(getattr(entity, "python_function", entity), recursive,
                   features_of(experimental_optional_features))


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


@export("autograph.experimental.Feature")
class Feature(enum.Enum):
    """Optional AutoGraph conversions (`experimental_autograph_options` of `tf.function`).

    `ASSERT_STATEMENTS` turns `assert` on tensors into `tf.debugging.Assert`;
    `BUILTIN_FUNCTIONS` makes `print` of tensors a `tf.print`; the others are accepted.

    >>> import flowstone as tf
    >>> tf.autograph.experimental.Feature.ASSERT_STATEMENTS.value
    'ASSERT_STATEMENTS'
    """

    ALL = "ALL"
    AUTO_CONTROL_DEPS = "AUTO_CONTROL_DEPS"
    ASSERT_STATEMENTS = "ASSERT_STATEMENTS"
    BUILTIN_FUNCTIONS = "BUILTIN_FUNCTIONS"
    EQUALITY_OPERATORS = "EQUALITY_OPERATORS"
    LISTS = "LISTS"
    NAME_SCOPES = "NAME_SCOPES"


@export("autograph.experimental.set_loop_options")
def set_loop_options(parallel_iterations=None, swap_memory=None, maximum_iterations=None, shape_invariants=None):
    """Options for the tensor loop this call sits in (read by AutoGraph; a no-op when run).

    Args:
      parallel_iterations: iterations the While node may run in parallel.
      swap_memory: accepted for compatibility.
      maximum_iterations: an upper bound on the number of iterations.
      shape_invariants: a list of `(variable, shape)` pairs: shapes loop variables keep across
        iterations, where they change (`tf.TensorShape([None])` for a growing vector).

    >>> import flowstone as tf
    >>> def grow(n):
    ...     v = tf.constant([0])
    ...     for i in tf.range(n):
    ...         tf.autograph.experimental.set_loop_options(shape_invariants=[(v, tf.TensorShape([None]))])
    ...         v = tf.concat([v, [i]], 0)
    ...     return v
    >>> "ag__.loop_options(shape_invariants=" in tf.autograph.to_code(grow)
    True
    """
    del parallel_iterations, swap_memory, maximum_iterations, shape_invariants
