"""Code generation for the tape (see runtime.py for the tape itself).

Writes the push and pop statements of a generated adjoint, the tape
parameters of its signature, and the check between the sweeps that the tapes
were big enough.
"""

from __future__ import annotations

import ast

from .core import assign, const, is_constant, load, with_line

KINDS = (("f", 8), ("i", 8), ("b", 1))  # tape kind, bytes per value


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


class TapeWriter:
    """Writes tape statements; remembers which tapes and runtime helpers are used."""

    def __init__(self, namer) -> None:
        self.namer = namer
        self.names = {k: (namer.exact(f"_t{k}"), namer.exact(f"_n{k}")) for k, _ in KINDS}
        self.kinds: set[str] = set()
        self.helpers: set[str] = set()     # from srcgrad.runtime
        self.helpers_np: set[str] = set()  # from srcgrad.runtime_np
        self.refs: dict[object, str] = {}  # array type -> name of its reference tape
        # kind -> name of its peak top, for tapes that fused loops pop during the
        # forward sweep (their top at the end of it is not their high-water mark)
        self.peaks: dict[str, str] = {}

    def ref_tape(self, typ) -> str:
        """The tape (a list) holding references to arrays of Numba type `typ`."""
        if typ not in self.refs:
            self.refs[typ] = self.namer.fresh("_ta")
        return self.refs[typ]

    def push_ref(self, value: ast.expr, typ, line: int | None) -> ast.stmt:
        call = ast.Call(ast.Attribute(load(self.ref_tape(typ)), "append", ast.Load()),
                        [value], [])
        return with_line(ast.Expr(call), line)

    def pop_ref(self, into: str, typ, line: int | None) -> ast.stmt:
        call = ast.Call(ast.Attribute(load(self.ref_tape(typ)), "pop", ast.Load()), [], [])
        return with_line(assign(into, call), line)

    def push(self, kind: str, value: ast.expr, line: int | None) -> ast.stmt:
        self.kinds.add(kind)
        buf, top = self.names[kind]
        call = ast.Call(load("push"), [load(buf), load(top), value], [])
        return with_line(assign(top, call), line)

    def pop(self, kind: str, into: str, line: int | None) -> ast.stmt:
        self.kinds.add(kind)
        buf, top = self.names[kind]
        call = ast.Call(load("pop"), [load(buf), load(top)], [])
        node = ast.Assign([ast.Tuple([ast.Name(into, ast.Store()), ast.Name(top, ast.Store())],
                                     ast.Store())], call)
        return with_line(node, line)

    def _high(self, kind: str) -> ast.expr:
        """The most values tape `kind` held during the forward sweep."""
        top = load(self.names[kind][1])
        if kind not in self.peaks:
            return top
        return ast.Call(load("max"), [top, load(self.peaks[kind])], [])

    def iteration_done(self, entry: dict[str, str], line: int | None) -> tuple[list, ast.expr]:
        """After the forward part of a fused loop's iteration: statements that note
        each tape's high-water mark, and a test that some tape overflowed.
        `entry` names the variables holding each tape's top before the loop."""
        notes, tests = [], []
        for kind in entry:
            if kind not in self.peaks:
                self.peaks[kind] = self.namer.exact(f"_p{kind}")
            buf, top = self.names[kind]
            peak = self.peaks[kind]
            notes.append(with_line(assign(peak, ast.Call(load("max"), [load(peak), load(top)], [])),
                               line))
            tests.append(ast.Compare(load(top), [ast.Gt()], [
                ast.Subscript(ast.Attribute(load(buf), "shape", ast.Load()), const(0),
                              ast.Load())]))
        test = tests[0] if len(tests) == 1 else ast.BoolOp(ast.Or(), tests)
        return notes, test

    def init(self) -> list[ast.stmt]:
        """Create each reference tape and set each tape's top to zero."""
        out = []
        for typ, name in self.refs.items():
            self.helpers.add("tape_ref")
            out.append(with_line(assign(name, ast.Call(load("tape_ref"), [array_like(typ)], [])),
                             None))
        for kind, _ in KINDS:
            if kind in self.kinds:
                out.append(with_line(assign(self.names[kind][1], const(0)), None))
            if kind in self.peaks:
                out.append(with_line(assign(self.peaks[kind], const(0)), None))
        return out

    def params(self) -> list[str]:
        """The tape buffers the generated function takes, after `_seed`."""
        return [self.names[kind][0] for kind, _ in KINDS if kind in self.kinds]

    def tops(self) -> ast.expr:
        """(_nf, _ni, _nb): how many values the forward sweep pushed (0 for unused)."""
        return ast.Tuple([self._high(kind) if kind in self.kinds else const(0)
                          for kind, _ in KINDS], ast.Load())

    def overflowed(self) -> ast.expr | None:
        """True when some tape was too small (its pushes past the end were dropped)."""
        tests = [ast.Compare(self._high(kind), [ast.Gt()],
                             [ast.Subscript(ast.Attribute(load(self.names[kind][0]), "shape",
                                                          ast.Load()), const(0), ast.Load())])
                 for kind, _ in KINDS if kind in self.kinds]
        if not tests:
            return None
        return tests[0] if len(tests) == 1 else ast.BoolOp(ast.Or(), tests)

    def size_in_bytes(self) -> ast.expr:
        """An expression for the bytes on all tapes (read at the end of the forward sweep)."""
        size: ast.expr = const(0)
        for name in self.refs.values():
            self.helpers.add("ref_bytes")
            term = ast.Call(load("ref_bytes"), [load(name)], [])
            size = term if is_constant(size, 0) else ast.BinOp(size, ast.Add(), term)
        for kind, width in KINDS:
            if kind in self.kinds:
                top = self._high(kind)
                term = ast.BinOp(top, ast.Mult(), const(width)) if width > 1 else top
                size = term if is_constant(size, 0) else ast.BinOp(size, ast.Add(), term)
        return size

    def imports(self) -> set[str]:
        names = set(self.helpers)
        if self.kinds:
            names |= {"push", "pop"}
        return names
