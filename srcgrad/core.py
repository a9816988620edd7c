"""The core language that normalization produces and later stages consume.

After normalization a function body holds only these statements, each with a
``srcline`` attribute (the user's line it came from):

* ``name = op``, where ``op`` is an atom, ``a <binop> b``, ``<unop> a``,
  ``a <cmp> b``, or ``f(a, ...)`` with ``f`` a canonical dotted name;
* ``if name: ... else: ...``;
* ``for name in range(...)`` with atom bounds, and ``while name: ...``;
* ``break``, only as ``if flag: break`` at the end of a loop body;
* one final ``return atom``.

Atoms are variable names, numeric constants and module constants (math.pi).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator

MODULE_PREFIXES = ("math.", "np.", "srcgrad.")


def dotted(node: ast.expr) -> str | None:
    """'math.sin' for math.sin, 'abs' for abs, None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None


def name_node(dotted_name: str) -> ast.expr:
    """The expression node for a dotted name such as 'math.sin'."""
    parts = dotted_name.split(".")
    node: ast.expr = ast.Name(parts[0], ast.Load())
    for part in parts[1:]:
        node = ast.Attribute(node, part, ast.Load())
    return node


def is_atom(node: ast.expr) -> bool:
    if isinstance(node, (ast.Name, ast.Constant)):
        return True
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)


def assign(target: str, value: ast.expr, line: int | None = None) -> ast.Assign:
    node = ast.Assign([ast.Name(target, ast.Store())], value, lineno=line or 0)
    node.srcline = line
    return node


def load(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def const(value) -> ast.Constant:
    return ast.Constant(value)


def target_of(stmt: ast.stmt) -> str | None:
    """The variable an assignment statement writes, or None."""
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    return None


def operands(value: ast.expr) -> list[ast.expr]:
    """The atom operands of a core right-hand side, in order."""
    if isinstance(value, ast.BinOp):
        return [value.left, value.right]
    if isinstance(value, ast.UnaryOp):
        return [value.operand]
    if isinstance(value, ast.Compare):
        return [value.left, *value.comparators]
    if isinstance(value, ast.Call):
        return list(value.args)
    return [value]


def names_read(value: ast.expr) -> list[str]:
    """Variable names (not module attributes) a core right-hand side reads."""
    return [a.id for a in operands(value) if isinstance(a, ast.Name)]


def range_args(loop: ast.For) -> tuple[ast.expr, ast.expr, ast.expr]:
    """(start, stop, step) of a core `for ... in range(...)` loop."""
    args = loop.iter.args
    if len(args) == 1:
        return ast.Constant(0), args[0], ast.Constant(1)
    if len(args) == 2:
        return args[0], args[1], ast.Constant(1)
    return args[0], args[1], args[2]


def walk_stmts(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement in a block, nested ones included, in source order."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            yield from walk_stmts(stmt.body)
            yield from walk_stmts(stmt.orelse)


def clone(node):
    """A deep copy that keeps the srcline attributes."""
    return copy.deepcopy(node)
