"""AST passes that run before conversion: `return`, `break`, `continue` and loop `else` become flags.

After these passes a function body has one `return` (its last statement) and no `break` or
`continue` of its own loops, so every `if` / `while` / `for` is a plain block of statements
whose effect is the variables it assigns: exactly what `tf.cond` / `tf.while_loop` can express.

- `return v` inside a compound statement -> `ag__do_return = True; ag__retval = v`; the
  statements after it run under `if not ag__do_return:` (or, when an `if` branch always
  returns, they move into the other branch, as TensorFlow's converter does).
- `break` -> `ag__break_N = True; ag__continue_N = True`, `continue` -> `ag__continue_N = True`;
  the rest of the iteration runs under `if not ag__continue_N:` and a `while` test becomes
  `not ag__break_N and test` (a `for` loop checks the flag before each iteration).
- A loop's `else:` runs after the loop under `if not ag__break_N:`.
- `tf.autograph.experimental.set_loop_options(...)` calls at the top level of a loop body are
  taken out and evaluated before the loop (their values apply to the whole loop).
"""

from __future__ import annotations

import ast

RETVAL = "ag__retval"
DO_RETURN = "ag__do_return"
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


_LOCATION = ("lineno", "col_offset", "end_lineno", "end_col_offset")


def stmts(src: str) -> list[ast.stmt]:
    """Statements parsed from a template, without positions: they take the user statement's."""
    body = ast.parse(src).body
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        for attr in _LOCATION:
            if hasattr(node, attr):
                delattr(node, attr)
    return body


def _at(node, src):
    """`node` (generated) placed at the line where `src` starts."""
    node.lineno, node.col_offset = src.lineno, src.col_offset
    node.end_lineno, node.end_col_offset = src.lineno, src.col_offset
    return node


def contains(nodes, kinds, stop=_SCOPES) -> bool:
    """True if a node of `kinds` occurs in `nodes` without entering a node of `stop`."""

    def visit(node):
        if isinstance(node, kinds):
            return True
        if isinstance(node, stop):
            return False
        return any(visit(c) for c in ast.iter_child_nodes(node))

    return any(visit(n) for n in nodes)


def _blocks(s: ast.stmt) -> list[str]:
    """The statement-list fields of a compound statement (in execution order)."""
    if isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
        return ["body", "orelse", "finalbody"]
    if isinstance(s, (ast.If, ast.While, ast.For)):
        return ["body", "orelse"]
    if isinstance(s, ast.With):
        return ["body"]
    return []


def always_returns(block) -> bool:
    """True when every path through `block` ends in `return` or `raise`."""
    for s in block:
        if isinstance(s, (ast.Return, ast.Raise)):
            return True
        if isinstance(s, ast.If) and always_returns(s.body) and always_returns(s.orelse):
            return True
        if isinstance(s, ast.With) and always_returns(s.body):
            return True
        if isinstance(s, ast.Try):
            if always_returns(s.finalbody):
                return True
            if always_returns(s.body + s.orelse) and all(always_returns(h.body) for h in s.handlers):
                return True
    return False


# --- return ----------------------------------------------------------------------------------


def rewrite_returns(fn: ast.FunctionDef) -> None:
    """Turns returns inside compound statements into `ag__do_return` / `ag__retval` flags."""
    nested = [s for s in fn.body if not isinstance(s, (ast.Return, *_SCOPES))]
    if not contains(nested, ast.Return):
        return
    body = list(fn.body)
    if not always_returns(body):
        body.append(ast.copy_location(ast.Return(value=None), body[-1]))
    fn.body = (stmts(f"{DO_RETURN} = False\n{RETVAL} = ag__.UndefinedReturn()") + _ReturnRewriter().block(body)
               + stmts(f"return {RETVAL}"))


class _ReturnRewriter:
    def block(self, block: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for i, s in enumerate(block):
            rest = block[i + 1:]
            if isinstance(s, ast.Return):
                value = s.value if s.value is not None else ast.Constant(None)
                new = stmts(f"{DO_RETURN} = True\n{RETVAL} = None")
                new[1].value = value
                out.extend(ast.copy_location(n, s) for n in new)
                return out  # what follows a return never runs
            if isinstance(s, ast.If) and rest and (always_returns(s.body) or always_returns(s.orelse)):
                # The continuation belongs to the branch that does not return (TF's layout).
                if not always_returns(s.body):
                    s.body = s.body + rest
                elif not always_returns(s.orelse):
                    s.orelse = s.orelse + rest
                out.extend(self.stmt(s)[0])
                return out
            new, may_return = self.stmt(s)
            out.extend(new)
            if may_return and rest:
                guard = stmts(f"if not {DO_RETURN}:\n    pass\n")[0]
                guard.body = self.block(rest)
                out.append(ast.copy_location(guard, rest[0]))
                return out
        return out

    def stmt(self, s):
        if isinstance(s, _SCOPES) or not contains([s], ast.Return):
            return [s], False
        for field in _blocks(s):
            setattr(s, field, self.block(getattr(s, field)))
        for h in getattr(s, "handlers", []):
            h.body = self.block(h.body)
        for case in getattr(s, "cases", []):
            case.body = self.block(case.body)
        if isinstance(s, (ast.While, ast.For)):
            # Leave the loop once a return happened inside it (the rest of the body is guarded).
            s.body = s.body + [_at(n, s.body[-1] if s.body else s) for n in stmts(f"if {DO_RETURN}:\n    break\n")]
        return [s], True


# --- break / continue / loop else ------------------------------------------------------------


class LoopLowering:
    """Rewrites each loop's own break/continue into flags (innermost loops first)."""

    def __init__(self, fresh):
        self.fresh = fresh

    def block(self, block: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for s in block:
            out.extend(self.stmt(s))
        return out

    def stmt(self, s: ast.stmt) -> list[ast.stmt]:
        if isinstance(s, _SCOPES):
            return [s]
        for field in _blocks(s):
            setattr(s, field, self.block(getattr(s, field)))
        for h in getattr(s, "handlers", []):
            h.body = self.block(h.body)
        for case in getattr(s, "cases", []):
            case.body = self.block(case.body)
        if isinstance(s, (ast.While, ast.For)):
            return self.loop(s)
        return [s]

    def loop(self, s) -> list[ast.stmt]:
        s.body, s.ag_options = _take_loop_options(s.body)
        brk = self.fresh("break") if contains(s.body, ast.Break) else None
        cont = self.fresh("continue") if brk or contains(s.body, ast.Continue) else None
        if cont:
            s.body = [_at(n, s) for n in stmts(f"{cont} = False")] + _FlagRewriter(brk, cont).block(s.body)
        s.ag_break = brk
        if brk and isinstance(s, ast.While):
            test = ast.BoolOp(op=ast.And(), values=[ast.UnaryOp(op=ast.Not(), operand=_load(brk)), s.test])
            s.test = ast.copy_location(test, s.test)
        orelse, s.orelse = s.orelse, []
        before = [ast.copy_location(n, s) for n in stmts(f"{brk} = False")] if brk else []
        after = orelse
        if orelse and brk:
            guard = stmts(f"if not {brk}:\n    pass\n")[0]
            guard.body = orelse
            after = [ast.copy_location(guard, orelse[0])]
        return before + [s] + after


def _load(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


class _FlagRewriter:
    """`break` -> both flags set, `continue` -> the continue flag; what follows runs if not set."""

    def __init__(self, brk, cont):
        self.brk, self.cont = brk, cont

    def block(self, block: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for i, s in enumerate(block):
            new, may_jump = self.stmt(s)
            out.extend(new)
            rest = block[i + 1:]
            if may_jump and rest:
                guard = stmts(f"if not {self.cont}:\n    pass\n")[0]
                guard.body = self.block(rest)
                out.append(ast.copy_location(guard, rest[0]))
                return out
        return out

    def stmt(self, s):
        if isinstance(s, ast.Break):
            return [ast.copy_location(n, s) for n in stmts(f"{self.brk} = True\n{self.cont} = True")], True
        if isinstance(s, ast.Continue):
            return [ast.copy_location(stmts(f"{self.cont} = True")[0], s)], True
        if isinstance(s, _SCOPES) or not contains([s], (ast.Break, ast.Continue)):
            return [s], False
        for field in _blocks(s):
            setattr(s, field, self.block(getattr(s, field)))
        for h in getattr(s, "handlers", []):
            h.body = self.block(h.body)
        for case in getattr(s, "cases", []):
            case.body = self.block(case.body)
        return [s], True


def _is_loop_options(s) -> bool:
    if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)):
        return False
    f = s.value.func
    return (isinstance(f, ast.Attribute) and f.attr == "set_loop_options") or (
        isinstance(f, ast.Name) and f.id == "set_loop_options")


def _take_loop_options(body):
    """Removes `set_loop_options(...)` calls from a loop body; returns (body, options call)."""
    calls = [s.value for s in body if _is_loop_options(s)]
    if not calls:
        return body, None
    rest = [s for s in body if not _is_loop_options(s)] or [ast.copy_location(ast.Pass(), body[0])]
    call = calls[-1]
    options = ast.Call(func=ast.Attribute(value=_load("ag__"), attr="loop_options", ctx=ast.Load()),
                       args=call.args, keywords=call.keywords)
    return rest, ast.copy_location(options, call)
