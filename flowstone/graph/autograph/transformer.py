"""AutoGraph's source transformation: Python control flow -> calls into `runtime` (`ag__.*`).

A converted function keeps its own locals. Each `if` / `while` / `for` becomes nested
functions that share those locals through `nonlocal`, `get_state` / `set_state` closures over
the variables the statement must carry (assigned in it and live after it, see `liveness`),
and a call such as `ag__.if_stmt(test, if_true, if_false, get_state, set_state, names, line)`.
The runtime decides when the statement runs: a graph-tensor condition builds an If / While
node, anything else runs as plain Python. `return`, `break` and `continue` become flags first
(`rewrites`). Expressions: `and` / `or` / `not` / `x if t else y` become lazy runtime calls and
every call goes through `ag__.converted(f)`, which converts user functions and overloads a
few builtins (`len`, `range`, `enumerate`, `zip`, `int`, `float`, `abs`).
"""

from __future__ import annotations

import ast
import itertools

from flowstone.graph.autograph import liveness, rewrites

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class ConversionError(Exception):
    """AutoGraph cannot convert a construct; the message names the file, line and construct."""


_stmt = rewrites.stmts


def _name(id_: str) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Load())


def _ag(attr: str) -> ast.Attribute:
    return ast.Attribute(value=_name("ag__"), attr=attr, ctx=ast.Load())


def _tuple_src(names) -> str:
    return "(" + "".join(f"{n!r}, " for n in names) + ")"


class _Converter:
    def __init__(self, locals_: set[str], globals_: set[str], nonlocals: set[str], features):
        self.locals = locals_
        self.globals = globals_
        self.nonlocals = nonlocals
        self.features = features
        self.needed: set[str] = set()  # locals that generated closures refer to
        self.counter = itertools.count()

    def fresh(self, stem: str, local: bool = False) -> str:
        """A new generated name; `local` ones (flags) are variables of the converted function."""
        name = f"ag__{stem}_{next(self.counter)}"
        if local:
            self.locals.add(name)
        return name

    # --- statements -------------------------------------------------------------------------
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
        if isinstance(s, _SCOPES):
            return [s]
        if isinstance(s, ast.Assert) and "ASSERT_STATEMENTS" in self.features:
            call = ast.Call(func=_ag("assert_stmt"), args=[ExprConverter(self.features).visit(s.test)], keywords=[])
            if s.msg is not None:
                call.args.append(ast.Lambda(args=_no_args(), body=ExprConverter(self.features).visit(s.msg)))
            return [ast.copy_location(ast.Expr(value=call), s)]
        if isinstance(s, ast.With):
            s.items = [ExprConverter(self.features).visit(item) for item in s.items]
            s.body = self.block(s.body)
            return [s]
        if isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
            s.body, s.orelse, s.finalbody = self.block(s.body), self.block(s.orelse), self.block(s.finalbody)
            for h in s.handlers:
                h.body = self.block(h.body)
            return [s]
        if type(s).__name__ == "Match":
            s.subject = ExprConverter(self.features).visit(s.subject)
            for case in s.cases:
                case.body = self.block(case.body)
            return [s]
        return [ExprConverter(self.features).visit(s)]

    def carried(self, stored: set[str], live: set[str]) -> list[str]:
        """The variables a construct hands on: locals it assigns that are read afterwards."""
        return sorted(n for n in stored & live & self.locals if not n.startswith(_GENERATED))

    def state_functions(self, names: list[str]):
        """get_state / set_state closures over `names`, and the names of both."""
        get_n, set_n = self.fresh("get_state"), self.fresh("set_state")
        self.needed.update(names)
        tup = "(" + "".join(f"{n}, " for n in names) + ")"
        if names:
            src = (f"def {get_n}():\n    return {tup}\n"
                   f"def {set_n}(vals):\n    nonlocal {', '.join(names)}\n    {tup} = vals\n")
        else:
            src = f"def {get_n}():\n    return ()\ndef {set_n}(vals):\n    pass\n"
        return _stmt(src), get_n, set_n

    def nested(self, name: str, body: list[ast.stmt], args=()) -> ast.FunctionDef:
        """A generated closure running `body`: it writes the enclosing function's variables."""
        stored = liveness.stores(ast.Module(body=body, type_ignores=[])) - set(args)
        decl: list[ast.stmt] = []
        outer = sorted(n for n in stored if n in self.locals or n in self.nonlocals)
        self.needed.update(n for n in outer if n in self.locals)
        if outer:
            decl.append(ast.Nonlocal(names=outer))
        glob = sorted(stored & self.globals)
        if glob:
            decl.append(ast.Global(names=glob))
        fn = _stmt(f"def {name}({', '.join(args)}):\n    pass\n")[0]
        fn.body = decl + (body or [ast.Pass()])
        return fn

    def if_(self, s: ast.If) -> list[ast.stmt]:
        stored = liveness.stores(ast.Module(body=s.body + s.orelse, type_ignores=[]))
        names = self.carried(stored, getattr(s, "ag_live_out", stored))
        body, orelse = self.block(s.body), self.block(s.orelse)
        state, get_n, set_n = self.state_functions(names)
        t, f = self.fresh("if_true"), self.fresh("if_false")
        call = _stmt(f"ag__.if_stmt(None, {t}, {f}, {get_n}, {set_n}, {_tuple_src(names)})")[0]
        call.value.args[0] = ExprConverter(self.features).visit(s.test)
        out = [self.nested(t, body), self.nested(f, orelse), *state, call]
        return [ast.copy_location(n, s) for n in out]

    def loop_names(self, s, stored):
        live_out = getattr(s, "ag_live_out", stored)
        names = self.carried(stored, live_out | getattr(s, "ag_live_head", stored))
        return names, [n for n in names if n in live_out]

    def options(self, s) -> ast.expr:
        opts = getattr(s, "ag_options", None)
        return ExprConverter(self.features).visit(opts) if opts is not None else ast.Constant(None)

    def while_(self, s: ast.While) -> list[ast.stmt]:
        names, live_out = self.loop_names(s, liveness.stores(ast.Module(body=s.body, type_ignores=[])))
        body = self.block(s.body)
        state, get_n, set_n = self.state_functions(names)
        test_n, body_n = self.fresh("loop_test"), self.fresh("loop_body")
        test_fn = _stmt(f"def {test_n}():\n    return None\n")[0]
        test_fn.body[0].value = ExprConverter(self.features).visit(s.test)
        call = _stmt(f"ag__.while_stmt({test_n}, {body_n}, {get_n}, {set_n}, {_tuple_src(names)}, "
                     f"{_tuple_src(live_out)}, None)")[0]
        call.value.args[6] = self.options(s)
        out = [test_fn, self.nested(body_n, body), *state, call]
        return [ast.copy_location(n, s) for n in out]

    def for_(self, s: ast.For) -> list[ast.stmt]:
        item = self.fresh("item")
        body = [ast.copy_location(ast.Assign(targets=[s.target], value=_name(item)), s), *s.body]
        stored = liveness.stores(ast.Module(body=body, type_ignores=[])) - {item}
        names, live_out = self.loop_names(s, stored)
        body = self.block(body)
        state, get_n, set_n = self.state_functions(names)
        body_n = self.fresh("for_body")
        brk = getattr(s, "ag_break", None)
        extra = f"lambda: ag__.not_({brk})" if brk else "None"
        call = _stmt(f"ag__.for_stmt(None, {extra}, {body_n}, {get_n}, {set_n}, {_tuple_src(names)}, "
                     f"{_tuple_src(live_out)}, None)")[0]
        call.value.args[0] = ExprConverter(self.features).visit(s.iter)
        call.value.args[7] = self.options(s)
        out = [self.nested(body_n, body, args=(item,)), *state, call]
        return [ast.copy_location(n, s) for n in out]


_GENERATED = ("ag__if_", "ag__loop_", "ag__for_body", "ag__get_state", "ag__set_state", "ag__item")


class ExprConverter(ast.NodeTransformer):
    """`and` / `or` / `not` / conditional expressions become lazy runtime calls; calls convert."""

    def __init__(self, features=()):
        self.features = features

    def visit_BoolOp(self, node):  # noqa: N802
        self.generic_visit(node)
        fn = "and_" if isinstance(node.op, ast.And) else "or_"
        result = node.values[-1]
        for value in reversed(node.values[:-1]):
            result = ast.Call(func=_ag(fn), args=[_thunk(value), _thunk(result)], keywords=[])
        return ast.copy_location(result, node)

    def visit_UnaryOp(self, node):  # noqa: N802
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return ast.copy_location(ast.Call(func=_ag("not_"), args=[node.operand], keywords=[]), node)
        return node

    def visit_IfExp(self, node):  # noqa: N802
        self.generic_visit(node)
        call = ast.Call(func=_ag("if_exp"), args=[node.test, _thunk(node.body), _thunk(node.orelse)], keywords=[])
        return ast.copy_location(call, node)

    def visit_Call(self, node):  # noqa: N802
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("super", "locals", "globals", "vars", "eval", "exec"):
            return node
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "ag__":
            return node
        args = [func]
        if self.features:
            args.append(ast.Constant(tuple(sorted(self.features))))
        node.func = ast.copy_location(ast.Call(func=_ag("converted"), args=args, keywords=[]), func)
        return node

    def visit_FunctionDef(self, node):  # noqa: N802 - nested user functions convert when called
        return node

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef  # noqa: N815


def _thunk(body) -> ast.Lambda:
    return ast.Lambda(args=_no_args(), body=body)


def _no_args():
    return ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                         defaults=[])


def convert_function_def(fn: ast.FunctionDef, features=()) -> ast.FunctionDef:
    """Converts one function definition in place and returns it."""
    fn.decorator_list = []
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    params |= {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
    globals_, nonlocals = set(), set()
    for node in ast.walk(ast.Module(body=fn.body, type_ignores=[])):
        if isinstance(node, ast.Global):
            globals_.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            nonlocals.update(node.names)
    rewrites.rewrite_returns(fn)
    locals_ = (liveness.stores(ast.Module(body=fn.body, type_ignores=[])) | params) - globals_ - nonlocals
    conv = _Converter(locals_, globals_, nonlocals, frozenset(features))
    fn.body = rewrites.LoopLowering(lambda stem: conv.fresh(stem, local=True)).block(fn.body)
    liveness.annotate(fn.body)
    body = conv.block(fn.body)
    # Names that closures declare `nonlocal` must be bound here; unbound ones start Undefined,
    # and reading one before it is assigned fails as in Python.
    maybe_unbound = sorted(conv.needed - params)
    body = _LoadGuard({n for n in maybe_unbound if not n.startswith("ag__")}).block(body)
    init = [_stmt(f"{n} = ag__.Undefined({n!r})")[0] for n in maybe_unbound]
    fn.body = init + body
    return fn


class _LoadGuard(ast.NodeTransformer):
    """Reads of user variables that may still be Undefined become `ag__.ld(name)`."""

    def __init__(self, names):
        self.names = names

    def block(self, stmts):
        return [self.visit(s) for s in stmts] if self.names else stmts

    def visit_FunctionDef(self, node):  # noqa: N802
        # Generated closures read the user's variables; state getters pass Undefined values on.
        if node.name.startswith("ag__") and not node.name.startswith("ag__get_state"):
            self.generic_visit(node)
        return node

    def visit_ClassDef(self, node):  # noqa: N802
        return node

    def visit_Name(self, node):  # noqa: N802
        if isinstance(node.ctx, ast.Load) and node.id in self.names:
            return ast.copy_location(ast.Call(func=_ag("ld"), args=[node], keywords=[]), node)
        return node
