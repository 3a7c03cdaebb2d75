"""AutoGraph conversion keeps Python semantics when conditions are Python values."""

import linecache

import pytest

import flowstone as tf
from flowstone.graph.autograph import convert
from flowstone.graph.autograph.transformer import ConversionError


def loops(x, n):
    s = 0
    for i in range(n):
        if i % 2 == 0:
            continue
        s += i
        if s > 10:
            break
    while x > 0:
        x -= 1
        if x == 3:
            return s
    return s + x


def nested_returns(a):
    if a > 0:
        if a > 5:
            return "big"
        return "small"
    else:
        b = -a
    return b


def comprehension_and_closure(xs):
    offset = 10

    def add(v):
        return v + offset

    total = 0
    for v in [add(x) for x in xs]:
        total += v
    return total and total or -1


@pytest.mark.parametrize("fn,args", [
    (loops, (5, 10)), (loops, (2, 10)), (loops, (0, 3)),
    (nested_returns, (7,)), (nested_returns, (2,)), (nested_returns, (-3,)),
    (comprehension_and_closure, ([1, 2],)), (comprehension_and_closure, ([],)),
])
def test_converted_python_semantics(fn, args):
    assert convert(fn)(*args) == fn(*args)


def test_to_code_shows_converted_constructs():
    code = tf.autograph.to_code(loops)
    assert "ag__.for_stmt" in code and "ag__.while_stmt" in code and "ag__.if_stmt" in code
    assert "break" not in code.replace("ag__break", "")


def test_closure_cells_stay_shared():
    counter = 0

    def bump():
        nonlocal counter
        counter += 1
        return counter

    g = convert(bump)
    g()
    g()
    assert counter == 2


def test_do_not_convert():
    @tf.autograph.experimental.do_not_convert
    def f(x):
        if x:
            return 1
        return 2

    assert convert(f) is f


def test_unconvertible_construct_names_file_line_and_construct():
    async def f(x):
        return x

    with pytest.raises(ConversionError) as info:
        tf.autograph.to_code(f)
    message = str(info.value)
    line = f.__code__.co_firstlineno
    assert f"test_autograph_python.py:{line}" in message and "async function 'f'" in message
    assert "report" not in message.lower()


def test_loop_else_clauses_keep_python_semantics():
    def f(xs, stop):
        out = []
        for x in xs:
            if x == stop:
                break
            out.append(x)
        else:
            out.append("no break")
        n = 0
        while n < 3:
            n += 1
        else:
            out.append(n)
        return out

    for args in (([1, 2, 3], 2), ([1, 2, 3], 9), ([], 0)):
        assert convert(f)(*args) == f(*args)


def test_source_from_notebook_cell():
    # IPython registers each cell's source in linecache under a synthetic file name.
    src = "def cell_fn(x):\n    y = 0\n    while x > 0:\n        x -= 1\n        y += 2\n    return y\n"
    filename = "<ipython-input-7-abc>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    namespace = {}
    exec(compile(src, filename, "exec"), namespace)
    fn = namespace["cell_fn"]
    assert "ag__.while_stmt" in tf.autograph.to_code(fn)
    assert convert(fn)(3) == 6


def test_source_from_repl_history(monkeypatch):
    import readline

    src_lines = ["def repl_fn(x):", "    if x > 1:", "        return x * 2", "    return x"]
    monkeypatch.setattr(readline, "get_current_history_length", lambda: len(src_lines))
    monkeypatch.setattr(readline, "get_history_item", lambda i: src_lines[i - 1])
    namespace = {}
    exec(compile("\n".join(src_lines) + "\n", "<stdin>", "exec"), namespace)
    fn = namespace["repl_fn"]
    assert "ag__.if_stmt" in tf.autograph.to_code(fn)
    assert convert(fn)(3) == 6 and convert(fn)(1) == 1
