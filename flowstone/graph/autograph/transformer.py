"""AutoGraph's source transformation: Python control flow -> calls into `runtime`.

A converted function keeps its own locals; each `if`/`while`/`for` becomes nested functions
that share those locals through `nonlocal`, plus `get_state`/`set_state` closures, and a call
such as `ag__.if_stmt(test, body, orelse, get_state, set_state, names)`. The runtime decides
at call time: a tensor condition builds `tf.cond`/`tf.while_loop`, a Python one runs Python.
`break`, `continue` and `return` inside converted constructs become flags.
"""

from __future__ import annotations

import ast
import itertools

UNDEFINED = "ag__.UNDEFINED"


class ConversionError(Exception):
    """AutoGraph cannot convert a construct; the message names the file, line and construct."""


def _names_stored(nodes) -> set[str]:
    """Names bound by these statements in the current scope (not inside nested scopes)."""
    found: set[str] = set()

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            return
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            found.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                found.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.add(node.name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for n in nodes:
        visit(n)
    return found


def _contains(nodes, kinds, stop=(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)) -> bool:
    def visit(node):
        if isinstance(node, kinds):
            return True
        if isinstance(node, stop):
            return False
        return any(visit(c) for c in ast.iter_child_nodes(node))

    return any(visit(n) for n in nodes)


def _loop_free(nodes, kinds) -> bool:
    """True if `kinds` statements occur in `nodes` outside nested loops and functions."""
    return _contains(nodes, kinds, stop=(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                                         ast.While, ast.For))


_GENERATED = ("ag__if_", "ag__loop_", "ag__for_body", "ag__get_state", "ag__set_state", "ag__item")


def _state(stored: set[str], locals_: set[str]) -> list[str]:
    """The variables a construct carries: locals it binds, minus AutoGraph's own functions."""
    return sorted(n for n in stored & locals_ if not n.startswith(_GENERATED))


def _stmt(src: str) -> list[ast.stmt]:
    return ast.parse(src).body


def _name(id_: str, store=False) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Store() if store else ast.Load())


class _Converter:
    def __init__(self, filename: str, locals_: set[str]):
        self.filename = filename
        self.locals = locals_
        self.counter = itertools.count()

    def fresh(self, stem: str) -> str:
        name = f"ag__{stem}_{next(self.counter)}"
        self.locals.add(name)
        return name

    # --- statements -----------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for s in stmts:
            out.extend(self.stmt(s))
        return out

    def stmt(self, s: ast.stmt) -> list[ast.stmt]:
        if isinstance(s, ast.If):
            return self.if_(s)
        if isinstance(s, ast.While):
            return self.while_(s)
        if isinstance(s, ast.For):
            return self.for_(s)
        if isinstance(s, (ast.AsyncFor, ast.AsyncWith)):
            raise self.error(s, "async loops and with-statements")
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return [s]
        if isinstance(s, ast.With):
            s.items = [ExprConverter().visit(item) for item in s.items]
            s.body = self.block(s.body)
            return [s]
        if isinstance(s, ast.Try):
            s.body, s.orelse, s.finalbody = self.block(s.body), self.block(s.orelse), self.block(s.finalbody)
            for h in s.handlers:
                h.body = self.block(h.body)
            return [s]
        return [ExprConverter().visit(s)]

    def error(self, node, what: str) -> ConversionError:
        return ConversionError(
            f"{self.filename}:{getattr(node, 'lineno', '?')}: AutoGraph cannot convert {what}; "
            "move it out of the tf.function or use tf.autograph.experimental.do_not_convert."
        )

    def state_functions(self, names: list[str]):
        """get_state/set_state closures over `names`, and the names of both."""
        get_n, set_n = self.fresh("get_state"), self.fresh("set_state")
        tup = "(" + "".join(f"{n}, " for n in names) + ")"
        nonlocal_line = f"    nonlocal {', '.join(names)}\n" if names else ""
        src = f"def {get_n}():\n    return {tup}\ndef {set_n}(vals):\n{nonlocal_line}    {tup} = vals\n"
        if not names:
            src = f"def {get_n}():\n    return ()\ndef {set_n}(vals):\n    pass\n"
        return _stmt(src), get_n, set_n

    def nested(self, name: str, body: list[ast.stmt], names: list[str], args=()) -> ast.FunctionDef:
        decl = [ast.Nonlocal(names=list(names))] if names else []
        fn = _stmt(f"def {name}({', '.join(args)}):\n    pass\n")[0]
        fn.body = decl + (body or [ast.Pass()])
        return fn

    def if_(self, s: ast.If) -> list[ast.stmt]:
        stored_t, stored_f = _names_stored(s.body), _names_stored(s.orelse)
        body, orelse = self.block(s.body), self.block(s.orelse)
        names = _state(stored_t | stored_f, self.locals)
        state, get_n, set_n = self.state_functions(names)
        t, f = self.fresh("if_true"), self.fresh("if_false")
        assigned = (tuple(_state(stored_t, self.locals)), tuple(_state(stored_f, self.locals)))
        call = _stmt(
            f"ag__.if_stmt(None, {t}, {f}, {get_n}, {set_n}, {tuple(names)!r}, {assigned!r}, {s.lineno!r})"
        )[0]
        call.value.args[0] = ExprConverter().visit(s.test)
        out = [self.nested(t, body, names), self.nested(f, orelse, names), *state, call]
        return [ast.copy_location(n, s) for n in out]

    def _loop_control(self, body: list[ast.stmt]):
        """Rewrites `break`/`continue` of this loop into flags; returns (body, break, continue)."""
        brk = self.fresh("break") if _loop_free(body, ast.Break) else None
        cont = self.fresh("continue") if _loop_free(body, ast.Continue) else None
        if brk or cont:
            body = _FlagRewriter(brk, cont).block(body)
        if cont:
            body = _stmt(f"{cont} = False") + body
        return body, brk, cont

    def while_(self, s: ast.While) -> list[ast.stmt]:
        if s.orelse:
            raise self.error(s, "a while loop with an else clause")
        body, brk, cont = self._loop_control(s.body)
        names = _state(_names_stored(body), self.locals)
        body = self.block(body)
        state, get_n, set_n = self.state_functions(names)
        test_n, body_n = self.fresh("loop_test"), self.fresh("loop_body")
        test_fn = _stmt(f"def {test_n}():\n    return None\n")[0]
        test = ExprConverter().visit(s.test)
        if brk:
            test = _stmt(f"ag__.and_(lambda: ag__.not_({brk}), lambda: None)")[0].value
            test.args[1].body = ExprConverter().visit(s.test)
        test_fn.body[0].value = test
        init = _stmt(f"{brk} = False") if brk else []
        call = _stmt(f"ag__.while_stmt({test_n}, {body_n}, {get_n}, {set_n}, {tuple(names)!r}, {s.lineno!r})")
        out = init + [test_fn, self.nested(body_n, body, names), *state, *call]
        return [ast.copy_location(n, s) for n in out]

    def for_(self, s: ast.For) -> list[ast.stmt]:
        if s.orelse:
            raise self.error(s, "a for loop with an else clause")
        body, brk, cont = self._loop_control(s.body)
        item = self.fresh("item")
        target_assign = ast.Assign(targets=[s.target], value=_name(item), lineno=s.lineno)
        body = [target_assign] + body
        names = _state(_names_stored(body) - {item}, self.locals)
        body = self.block(body)
        state, get_n, set_n = self.state_functions(names)
        body_n = self.fresh("for_body")
        extra = f"lambda: ag__.not_({brk})" if brk else "None"
        init = _stmt(f"{brk} = False") if brk else []
        call = _stmt(
            f"ag__.for_stmt(None, {extra}, {body_n}, {get_n}, {set_n}, {tuple(names)!r}, {s.lineno!r})"
        )[0]
        call.value.args[0] = ExprConverter().visit(s.iter)
        out = init + [self.nested(body_n, body, names, args=(item,)), *state, call]
        return [ast.copy_location(n, s) for n in out]


class _FlagRewriter:
    """Replaces this loop's break/continue by flag assignments and guards what follows them."""

    def __init__(self, brk, cont):
        self.brk, self.cont = brk, cont

    def guard(self) -> str:
        flags = [f for f in (self.brk, self.cont) if f]
        return " or ".join(flags)

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for i, s in enumerate(stmts):
            new, may_jump = self.stmt(s)
            out.extend(new)
            rest = stmts[i + 1 :]
            if may_jump and rest:
                guarded = _stmt(f"if not ag__.or_flags({', '.join(f for f in (self.brk, self.cont) if f)}):\n    pass\n")[0]
                guarded.body = self.block(rest)
                out.append(ast.copy_location(guarded, rest[0]))
                break
        return out

    def stmt(self, s):
        if isinstance(s, ast.Break) and self.brk:
            return [ast.copy_location(_stmt(f"{self.brk} = True")[0], s)], True
        if isinstance(s, ast.Continue) and self.cont:
            return [ast.copy_location(_stmt(f"{self.cont} = True")[0], s)], True
        jumps = _contains([s], (ast.Break, ast.Continue), stop=(ast.FunctionDef, ast.While, ast.For, ast.Lambda))
        if isinstance(s, ast.If):
            s.body = self.block(s.body)
            s.orelse = self.block(s.orelse)
            return [s], jumps
        if isinstance(s, (ast.With, ast.Try)):
            s.body = self.block(s.body)
            return [s], jumps
        return [s], False


class ExprConverter(ast.NodeTransformer):
    """Expressions: `and`/`or`/`not` become lazy runtime calls; calls convert their callee."""

    def visit_BoolOp(self, node):  # noqa: N802
        self.generic_visit(node)
        fn = "and_" if isinstance(node.op, ast.And) else "or_"
        result = node.values[-1]
        for value in reversed(node.values[:-1]):
            result = ast.Call(
                func=ast.Attribute(value=_name("ag__"), attr=fn, ctx=ast.Load()),
                args=[ast.Lambda(args=_no_args(), body=value), ast.Lambda(args=_no_args(), body=result)],
                keywords=[],
            )
        return ast.copy_location(result, node)

    def visit_UnaryOp(self, node):  # noqa: N802
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            call = ast.Call(func=ast.Attribute(value=_name("ag__"), attr="not_", ctx=ast.Load()),
                            args=[node.operand], keywords=[])
            return ast.copy_location(call, node)
        return node

    def visit_Call(self, node):  # noqa: N802
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("super", "locals", "globals", "vars", "eval", "exec"):
            return node
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "ag__":
            return node
        node.func = ast.copy_location(
            ast.Call(func=ast.Attribute(value=_name("ag__"), attr="converted", ctx=ast.Load()),
                     args=[func], keywords=[]),
            func,
        )
        return node

    def visit_Lambda(self, node):  # noqa: N802
        return node

    def visit_FunctionDef(self, node):  # noqa: N802 - nested user functions convert when called
        return node

    def visit_ClassDef(self, node):  # noqa: N802
        return node


def _no_args():
    return ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                         defaults=[])


def _rewrite_returns(fn: ast.FunctionDef) -> None:
    """`return` inside converted constructs -> flags, guarded continuation, one final return."""
    body = fn.body
    if not any(_contains([s], ast.Return) for s in body if isinstance(s, (ast.If, ast.While, ast.For))):
        return
    for s in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(s, (ast.Yield, ast.YieldFrom)):
            return

    class Rewriter:
        def block(self, stmts):
            out = []
            for i, s in enumerate(stmts):
                new, may_return = self.stmt(s)
                out.extend(new)
                rest = stmts[i + 1 :]
                if may_return and rest:
                    guarded = _stmt("if not ag__do_return:\n    pass\n")[0]
                    guarded.body = self.block(rest)
                    out.append(ast.copy_location(guarded, rest[0]))
                    break
            return out

        def stmt(self, s):
            if isinstance(s, ast.Return):
                value = s.value if s.value is not None else ast.Constant(None)
                new = _stmt("ag__do_return = True\nag__retval = None")
                new[1].value = value
                return [ast.copy_location(n, s) for n in new], True
            if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                return [s], False
            if isinstance(s, (ast.While, ast.For)):
                s.body = self.block(s.body)
                if _assigns_flag(s.body):
                    # Leave the loop once a return happened inside it.
                    s.body = s.body + _stmt("if ag__do_return:\n    break\n")
                    return [s], True
                return [s], False
            if isinstance(s, (ast.If, ast.With, ast.Try)):
                s.body = self.block(s.body)
                if hasattr(s, "orelse"):
                    s.orelse = self.block(s.orelse)
                return [s], _assigns_flag([s])
            return [s], False

    fn.body = _stmt("ag__do_return = False\nag__retval = ag__.UNDEFINED_RETURN") + Rewriter().block(body) + _stmt(
        "return ag__retval"
    )


def _assigns_flag(stmts) -> bool:
    for node in ast.walk(ast.Module(body=list(stmts), type_ignores=[])):
        if isinstance(node, ast.Name) and node.id == "ag__do_return" and isinstance(node.ctx, ast.Store):
            return True
    return False


def convert_function_def(fn: ast.FunctionDef, filename: str) -> ast.FunctionDef:
    """Converts the body of one function definition in place and returns it."""
    fn.decorator_list = []
    _rewrite_returns(fn)
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    params |= {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
    declared = set()
    for node in ast.walk(fn):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
    locals_ = (_names_stored(fn.body) | params) - declared
    conv = _Converter(filename, locals_)
    body = conv.block(fn.body)
    # Names first bound inside a converted construct must exist in this scope for `nonlocal`.
    fresh = sorted(locals_ - params)
    init = _stmt(" = ".join(fresh) + f" = {UNDEFINED}") if fresh else []
    fn.body = init + body
    return fn
