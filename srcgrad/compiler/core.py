"""The core language that normalization produces and later stages consume.

After normalization a function body holds only these statements, each with a
``srcline`` attribute (the user's line it came from):

* ``name = op``, where ``op`` is an atom, ``a <binop> b``, ``<unop> a``,
  ``a <cmp> b``, ``f(a, ..., k=a)`` with ``f`` a canonical dotted name (an
  argument may also be a tuple of atoms: ``np.zeros((n, m))``), ``x[i, a:b]``
  (indices and slice bounds are atoms), or ``x.T`` / ``x.shape``;
* ``x[index] = atom``, a store into an array;
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



class Loc(int):
    """The `srcline` of a statement inlined from another function: the line number
    in that function's file, plus the function's name and the line's text."""

    func: str
    file: str
    text: str

    def __new__(cls, line: int, func: str, file: str, text: str) -> Loc:
        loc = super().__new__(cls, line)
        loc.func, loc.file, loc.text = func, file, text
        return loc

    def __eq__(self, other) -> bool:
        return isinstance(other, int) and int(self) == int(other) \
            and getattr(other, "file", None) == self.file \
            and getattr(other, "func", None) == self.func

    def __ne__(self, other) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((int(self), self.file, self.func))

    def __deepcopy__(self, memo) -> Loc:
        return self

    def __reduce__(self):
        return (Loc, (int(self), self.func, self.file, self.text))


# Modules of the runtime that generated code names (``np_ops.sum_axis(...)``): each is
# srcgrad/runtime/<name>.py, imported by generated modules as ``from srcgrad.runtime
# import <name>``.
RUNTIME_MODULES = ("linalg", "np_ops", "shapes", "special", "stats")

MODULE_NAMES = {"math", "np", "srcgrad", *RUNTIME_MODULES}

# Calls that return a new array, written by no one else yet
FRESH_ARRAYS = frozenset({"np.copy", "np.zeros", "np.empty", "np.ones", "np.full",
                          "np.zeros_like", "np.ones_like", "np.empty_like", "np.full_like"})


def dotted(node: ast.expr) -> str | None:
    """'math.sin' for math.sin, 'np.linalg.norm', 'abs' for abs; None otherwise."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def name_node(dotted_name: str) -> ast.expr:
    """The expression node for a dotted name such as 'math.sin'."""
    parts = dotted_name.split(".")
    node: ast.expr = ast.Name(parts[0], ast.Load())
    for part in parts[1:]:
        node = ast.Attribute(node, part, ast.Load())
    return node


def is_atom(node: ast.expr) -> bool:
    """Names, numbers, module constants (math.pi)."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return True
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
        and node.value.id in MODULE_NAMES


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


def store_of(stmt: ast.stmt) -> str | None:
    """The array a store statement (x[i] = v) writes into, or None."""
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript):
        return stmt.targets[0].value.id
    return None


def operands(value: ast.expr) -> list[ast.expr]:
    """The positional operands of a core right-hand side, in order (the ones
    derivative rules are written for)."""
    if isinstance(value, ast.BinOp):
        return [value.left, value.right]
    if isinstance(value, ast.UnaryOp):
        return [value.operand]
    if isinstance(value, ast.Compare):
        return [value.left, *value.comparators]
    if isinstance(value, ast.Call):
        return list(value.args)
    if isinstance(value, (ast.Subscript, ast.Attribute)):
        return [value.value]
    return [value]




def names_read(node: ast.AST) -> list[str]:
    """Variable names a core right-hand side (or store target) reads, in order,
    without repeats: operands, indices, keyword values; not modules or callees."""
    out: list[str] = []

    def visit(n: ast.AST) -> None:
        if isinstance(n, ast.Name):
            if n.id not in MODULE_NAMES and n.id not in out:
                out.append(n.id)
        elif isinstance(n, ast.Call):
            for a in n.args:
                visit(a)
            for k in n.keywords:
                visit(k.value)
        elif isinstance(n, ast.Attribute):
            visit(n.value)
        else:
            for child in ast.iter_child_nodes(n):
                visit(child)

    visit(node)
    return out


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


def reads_before_assigned(body: list[ast.stmt], defined: set[str], out: list[str],
                          stores_read: bool = False) -> set[str]:
    """Collect in `out` the names read at a point where some path through `body` has not
    assigned them (given the names `defined` before it); return the names assigned on
    every path. With `stores_read`, a store `x[i] = v` reads `x` (its elements are kept)
    instead of assigning the names in its target."""
    def read(node: ast.AST | None) -> None:
        for n in ast.walk(node) if node is not None else ():
            if isinstance(n, ast.Name) and n.id not in defined and n.id not in out:
                out.append(n.id)

    for stmt in body:
        if isinstance(stmt, ast.Assign):
            read(stmt.value)
            for t in stmt.targets:
                if stores_read and isinstance(t, ast.Subscript):
                    read(t)
                else:
                    defined = defined | {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(stmt, ast.AugAssign):
            read(stmt.value)
            read(stmt.target)
        elif isinstance(stmt, ast.If):
            read(stmt.test)
            defined = reads_before_assigned(stmt.body, set(defined), out, stores_read) \
                & reads_before_assigned(stmt.orelse, set(defined), out, stores_read)
        elif isinstance(stmt, ast.For):
            read(stmt.iter)
            reads_before_assigned(stmt.body, defined | {stmt.target.id}, out, stores_read)
        elif isinstance(stmt, ast.While):
            read(stmt.test)
            reads_before_assigned(stmt.body, set(defined), out, stores_read)
        elif isinstance(stmt, (ast.Return, ast.Expr)):
            read(stmt.value)
    return defined


def clone(node):
    """A deep copy that keeps the srcline attributes."""
    return copy.deepcopy(node)


def with_line(node: ast.stmt, line: int | None) -> ast.stmt:
    """`node`, marked as coming from the user's `line` (its `srcline`)."""
    node.srcline = line
    return node


def located(stmt: ast.stmt) -> ast.stmt:
    """A node at `stmt`'s user line, for an error about it (cap.error reads lineno)."""
    return ast.Pass(lineno=getattr(stmt, "srcline", None) or 0, col_offset=0)


def is_constant(node: ast.expr, value) -> bool:
    """Is `node` the number `value` (not a bool)?"""
    return isinstance(node, ast.Constant) and node.value == value \
        and not isinstance(node.value, bool)


class _Subst(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, ast.expr]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.mapping:
            return copy.deepcopy(self.mapping[node.id])
        return node


def substitute(template: ast.expr, mapping: dict[str, ast.expr]) -> ast.expr:
    """A copy of `template` with each name in `mapping` replaced by (a copy of) its
    expression: how a rule's template becomes a statement of generated code."""
    return _Subst(mapping).visit(copy.deepcopy(template))
