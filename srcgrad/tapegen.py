"""Code generation for the tape (see runtime.py for the tape itself).

Writes the push, pop and reserve statements of a generated adjoint and decides
where reservations go, so that no push reallocates inside a hot loop.
"""

from __future__ import annotations

import ast

from .core import assign, const, load

TAPE_CAPACITY = 64
KINDS = (("f", 8), ("i", 8), ("b", 1))  # tape kind, bytes per value


def _stmt(node: ast.stmt, line: int | None) -> ast.stmt:
    node.srcline = line
    return node


def array_like(typ) -> ast.expr:
    """An expression for an empty array of Numba array type `typ` (dtype, ndim, layout)."""
    shape = ast.Tuple([const(0)] * typ.ndim, ast.Load())
    dtype = ast.Attribute(load("np"), str(typ.dtype), ast.Load())
    node: ast.expr = ast.Call(ast.Attribute(load("np"), "empty", ast.Load()), [shape, dtype],
                              [])
    if typ.layout == "A":
        node = ast.Subscript(node, ast.Slice(None, None, const(-1)), ast.Load())
    elif typ.layout == "F" and typ.ndim > 1:
        node = ast.Attribute(node, "T", ast.Load())
    return node


def _is_const(node, value) -> bool:
    return isinstance(node, ast.Constant) and node.value == value \
        and not isinstance(node.value, bool)


class TapeWriter:
    """Writes tape statements; remembers which tapes and runtime helpers are used."""

    def __init__(self, namer) -> None:
        self.namer = namer
        self.names = {k: (namer.exact(f"_t{k}"), namer.exact(f"_n{k}")) for k, _ in KINDS}
        self.kinds: set[str] = set()
        self.helpers: set[str] = set()     # from srcgrad.runtime
        self.helpers_np: set[str] = set()  # from srcgrad.runtime_np
        self.refs: dict[object, str] = {}  # array type -> name of its reference tape

    def ref_tape(self, typ) -> str:
        """The tape (a list) holding references to arrays of Numba type `typ`."""
        if typ not in self.refs:
            self.refs[typ] = self.namer.fresh("_ta")
        return self.refs[typ]

    def push_ref(self, value: ast.expr, typ, line: int | None) -> ast.stmt:
        call = ast.Call(ast.Attribute(load(self.ref_tape(typ)), "append", ast.Load()),
                        [value], [])
        return _stmt(ast.Expr(call), line)

    def pop_ref(self, into: str, typ, line: int | None) -> ast.stmt:
        call = ast.Call(ast.Attribute(load(self.ref_tape(typ)), "pop", ast.Load()), [], [])
        return _stmt(assign(into, call), line)

    def push(self, kind: str, value: ast.expr, line: int | None) -> ast.stmt:
        self.kinds.add(kind)
        buf, top = self.names[kind]
        call = ast.Call(load("push"), [load(buf), load(top), value], [])
        return _stmt(assign(top, call), line)

    def pop(self, kind: str, into: str, line: int | None) -> ast.stmt:
        self.kinds.add(kind)
        buf, top = self.names[kind]
        call = ast.Call(load("pop"), [load(buf), load(top)], [])
        node = ast.Assign([ast.Tuple([ast.Name(into, ast.Store()), ast.Name(top, ast.Store())],
                                     ast.Store())], call)
        return _stmt(node, line)

    def reserve(self, counts: dict[str, int], n: ast.expr | None, line) -> list[ast.stmt]:
        """Make room on each tape for `n` times `counts` more values."""
        out = []
        for kind in "fib":
            if counts.get(kind):
                buf, top = self.names[kind]
                c = const(counts[kind])
                size = c if n is None else (n if counts[kind] == 1 else
                                            ast.BinOp(n, ast.Mult(), c))
                call = ast.Call(load("reserve"), [load(buf), load(top), size], [])
                self.helpers.add("reserve")
                out.append(_stmt(assign(buf, call), line))
        return out

    def place_reserves(self, body: list[ast.stmt]) -> list[ast.stmt]:
        """Insert `reserve` calls so that every push has room, without reserving
        inside hot loops. Statements between loops form chunks that reserve
        what they push on entry; a loop with no loop inside reserves for all its
        iterations before it starts (a `while`, at the top of each iteration); a
        loop with loops inside places reserves in its body the same way."""
        out: list[ast.stmt] = []
        chunk: list[ast.stmt] = []

        def flush() -> None:
            if chunk:
                out.extend(self.reserve(self.count_pushes(chunk), None,
                                        getattr(chunk[0], "srcline", None)))
                out.extend(chunk)
                chunk.clear()

        for stmt in body:
            if not _contains_loop(stmt):
                chunk.append(stmt)
                continue
            flush()
            line = getattr(stmt, "srcline", None)
            if isinstance(stmt, ast.If):
                stmt.body = self.place_reserves(stmt.body)
                stmt.orelse = self.place_reserves(stmt.orelse)
            elif any(_contains_loop(s) for s in stmt.body):
                stmt.body = self.place_reserves(stmt.body)
            elif isinstance(stmt, ast.While):
                stmt.body = self.reserve(self.count_pushes(stmt.body), None, line) \
                    + stmt.body
            else:
                args = stmt.iter.args
                start, stop, step = (const(0), args[0], const(1)) if len(args) == 1 else \
                    (args[0], args[1], const(1)) if len(args) == 2 else tuple(args)
                if _is_const(start, 0) and _is_const(step, 1):
                    trips = stop
                else:
                    trips = ast.Call(load("range_len"), [start, stop, step], [])
                    self.helpers.add("range_len")
                out.extend(self.reserve(self.count_pushes(stmt.body), trips, line))
            out.append(stmt)
        flush()
        return out

    def count_pushes(self, body: list[ast.stmt]) -> dict[str, int]:
        """Most values one pass through `body` pushes per tape, leaving out the
        bodies of nested loops (which reserve for themselves)."""
        tops = {top: kind for kind, (_, top) in self.names.items()}
        counts: dict[str, int] = {}
        for stmt in body:
            if isinstance(stmt, ast.If):
                a, b = self.count_pushes(stmt.body), self.count_pushes(stmt.orelse)
                for kind in set(a) | set(b):
                    counts[kind] = counts.get(kind, 0) + max(a.get(kind, 0), b.get(kind, 0))
            elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) \
                    and isinstance(stmt.value.func, ast.Name) \
                    and stmt.value.func.id == "push":
                kind = tops[stmt.targets[0].id]
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    def init(self) -> list[ast.stmt]:
        """Create each tape the function uses."""
        out = []
        for typ, name in self.refs.items():
            self.helpers.add("tape_ref")
            out.append(_stmt(assign(name, ast.Call(load("tape_ref"), [array_like(typ)], [])),
                             None))
        for kind, _ in KINDS:
            if kind in self.kinds:
                buf, top = self.names[kind]
                out.append(_stmt(assign(buf, ast.Call(load(f"tape_{kind}"),
                                                      [const(TAPE_CAPACITY)], [])), None))
                out.append(_stmt(assign(top, const(0)), None))
        return out

    def size_in_bytes(self) -> ast.expr:
        """An expression for the bytes on all tapes (read at the end of the forward sweep)."""
        size: ast.expr = const(0)
        for name in self.refs.values():
            self.helpers.add("ref_bytes")
            term = ast.Call(load("ref_bytes"), [load(name)], [])
            size = term if _is_const(size, 0) else ast.BinOp(size, ast.Add(), term)
        for kind, width in KINDS:
            if kind in self.kinds:
                top = load(self.names[kind][1])
                term = ast.BinOp(top, ast.Mult(), const(width)) if width > 1 else top
                size = term if _is_const(size, 0) else ast.BinOp(size, ast.Add(), term)
        return size

    def imports(self) -> set[str]:
        names = {f"tape_{k}" for k in self.kinds} | self.helpers
        if self.kinds:
            names |= {"push", "pop"}
        return names


def _contains_loop(stmt: ast.stmt) -> bool:
    return any(isinstance(s, (ast.For, ast.While)) for s in _walk_one(stmt))


def _walk_one(stmt: ast.stmt):
    yield stmt
    for child in getattr(stmt, "body", []) + getattr(stmt, "orelse", []):
        yield from _walk_one(child)
