"""Liveness of local variables, so that `tf.cond` / `tf.while_loop` carry only what is needed.

A variable that a tensor-dependent `if` or loop assigns becomes an output of the If / While
node only when the code after the statement (or the next iteration) may read it, as in
TensorFlow. Temporaries stay inside the branch or body, which is what lets a loop body define
helper values (even non-tensors) without making them loop variables.

`annotate(body)` runs on the rewritten function (no break/continue/inner returns left) and sets
`node.ag_live_out` on each `if`, `while` and `for`, and `node.ag_live_head` on each loop (live
at the top of an iteration). Names read by nested functions or lambdas count as always live.
"""

from __future__ import annotations

import ast

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def loads(node) -> set[str]:
    """Every name read in `node` (nested scopes included: a superset is safe)."""
    if node is None:
        return set()
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def stores(node) -> set[str]:
    """Names bound or deleted by `node` in the current scope."""
    found: set[str] = set()

    def visit(n):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(n.name)
            return
        if isinstance(n, (ast.Lambda, *_COMPREHENSIONS)):
            return
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            found.add(n.id)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            found.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            found.add(n.name)
        for c in ast.iter_child_nodes(n):
            visit(c)

    visit(node)
    return found


def closure_reads(body) -> set[str]:
    """Names read inside nested functions and lambdas: they may be read at any later time."""
    found: set[str] = set()
    for s in body:
        for n in ast.walk(s):
            if isinstance(n, _SCOPES):
                found |= loads(n)
    return found


class Liveness:
    def __init__(self, always: set[str]):
        self.always = always

    def block(self, block, live: set[str]) -> set[str]:
        for s in reversed(block):
            live = self.stmt(s, live) | self.always
        return live

    def stmt(self, s, after: set[str]) -> set[str]:
        if isinstance(s, ast.If):
            s.ag_live_out = set(after)
            return loads(s.test) | self.block(s.body, after) | self.block(s.orelse, after)
        if isinstance(s, ast.While):
            return self.loop(s, after, loads(s.test), set())
        if isinstance(s, ast.For):
            head_reads = {s.ag_break} if getattr(s, "ag_break", None) else set()
            return loads(s.iter) | self.loop(s, after, head_reads, stores(s.target))
        if isinstance(s, ast.With):
            live = self.block(s.body, after)
            for item in reversed(s.items):
                live = (live - stores(item.optional_vars) if item.optional_vars else live) | loads(item.context_expr)
            return live
        if isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
            final = self.block(s.finalbody, after)
            handlers = set().union(*(self.block(h.body, final) for h in s.handlers)) if s.handlers else set()
            body = self.block(s.body, self.block(s.orelse, final) | handlers)
            return body | handlers | final
        if isinstance(s, ast.Return):
            return loads(s.value)
        if isinstance(s, ast.AugAssign):
            return after | loads(s) | stores(s.target)
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return (after - {s.name}) | loads(s)
        if type(s).__name__ == "Match":
            return after | loads(s)
        return (after - stores(s)) | loads(s)

    def loop(self, s, after, head_reads, target) -> set[str]:
        s.ag_live_out = set(after)
        head = after | head_reads
        while True:
            new = after | head_reads | (self.block(s.body, head) - target) | self.always
            if new <= head:
                break
            head |= new
        s.ag_live_head = head
        return head


def annotate(body) -> None:
    """Sets `ag_live_out` (and `ag_live_head` on loops) on the control flow in `body`."""
    Liveness(closure_reads(body)).block(body, set())
