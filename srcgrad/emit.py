"""Stage 8, emit: core-language AST to readable, deterministic Python source.

Statements carry the user's line number (``srcline``); the emitter writes a
comment quoting that line whenever it changes (``# line 14: y = sin(x) * w``)
and records, for every generated line, the user line it came from, so an
error inside generated code can be reported at the user's line.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

from .core import Loc


@dataclass
class Emitted:
    """Generated lines and, for each, the user's line it came from (or None)."""

    lines: list[str] = field(default_factory=list)
    linemap: list[int | None] = field(default_factory=list)

    def add(self, text: str, srcline: int | None = None) -> None:
        self.lines.append(text)
        self.linemap.append(srcline)

    def extend(self, other: Emitted) -> None:
        self.lines += other.lines
        self.linemap += other.linemap

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class _NegativeConstants(ast.NodeTransformer):
    """Write -2.0 as a unary minus so that unparse parenthesizes (-2.0) ** 2."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            return ast.UnaryOp(ast.USub(), ast.Constant(-value))
        return node


def unparse(node: ast.AST) -> str:
    import copy
    node = _NegativeConstants().visit(copy.deepcopy(node))
    return ast.unparse(ast.fix_missing_locations(node))


class Emitter:
    def __init__(self, line_text: Callable[[int], str] | None = None,
                 indent: str = "    ") -> None:
        self.line_text = line_text
        self.indent = indent
        self.out = Emitted()
        self._last: int | None = None

    def comment(self, srcline: int | None, depth: int) -> None:
        if srcline is None or srcline == self._last or self.line_text is None:
            return
        self._last = srcline
        if isinstance(srcline, Loc):  # inlined from another function
            import os
            where = f"{srcline.func}, {os.path.basename(srcline.file)} line {int(srcline)}"
            self.out.add(f"{self.indent * depth}# {where}: {srcline.text}".rstrip(), srcline)
            return
        text = self.line_text(srcline)
        self.out.add(f"{self.indent * depth}# line {srcline}: {text}".rstrip(), srcline)

    def function(self, fn: ast.FunctionDef, depth: int = 0, docstring: str = "") -> None:
        args = ", ".join(a.arg for a in fn.args.args)
        self.out.add(f"{self.indent * depth}def {fn.name}({args}):", None)
        if docstring:
            self.out.add(f'{self.indent * (depth + 1)}"""{docstring}"""', None)
        self._last = None
        self.block(fn.body, depth + 1)

    def block(self, body: list[ast.stmt], depth: int) -> None:
        if not body:
            self.out.add(f"{self.indent * depth}pass", None)
            return
        for stmt in body:
            self.stmt(stmt, depth)

    def stmt(self, stmt: ast.stmt, depth: int) -> None:
        pad = self.indent * depth
        line = getattr(stmt, "srcline", None)
        self.comment(line, depth)
        if isinstance(stmt, ast.If):
            self.out.add(f"{pad}if {unparse(stmt.test)}:", line)
            self.block(stmt.body, depth + 1)
            if stmt.orelse:
                self.out.add(f"{pad}else:", line)
                self.block(stmt.orelse, depth + 1)
        elif isinstance(stmt, ast.For):
            self.out.add(f"{pad}for {unparse(stmt.target)} in {unparse(stmt.iter)}:", line)
            self.block(stmt.body, depth + 1)
        elif isinstance(stmt, ast.While):
            self.out.add(f"{pad}while {unparse(stmt.test)}:", line)
            self.block(stmt.body, depth + 1)
        else:
            self.out.add(pad + unparse(stmt), line)


def emit_function(fn: ast.FunctionDef, line_text: Callable[[int], str] | None = None,
                  docstring: str = "") -> Emitted:
    emitter = Emitter(line_text)
    emitter.function(fn, docstring=docstring)
    return emitter.out
