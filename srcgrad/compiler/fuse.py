"""Which top-level loops are sums of independent iterations (used by stage 6, reverse).

A loss is often a sum over data points: ``for i in range(n): total = total + loss_i``,
where each iteration computes its own ``loss_i`` from values that do not change in
the loop. The adjoint of such a loop does not need the tape of the whole loop:
every iteration's adjoint is seeded with the same value (the adjoint of ``total``,
which the sum passes through unchanged), so it can run right after the iteration
itself, inside the forward sweep, seeded with 1. Its contributions to the
adjoints of the values it read are collected in separate arrays ("unit adjoints")
and the reverse sweep, when it reaches the loop, adds them times the real adjoint
of ``total``. The tape then only ever holds one iteration (it stays in the cache),
which is how a hand-written adjoint of such a loop is written.

This module decides when that is exact. A ``for`` loop of the function's top
level qualifies when:

* its body has no ``break``, ``continue`` or ``return``, and stores only into *work
  arrays* private to the iteration (below);
* exactly one name is carried from one iteration to the next: the accumulator,
  updated once, at the body's top level, by ``acc = acc + e``, ``acc = e + acc``
  or ``acc = acc - e``, and read nowhere else in the body;
* every other name the body assigns is assigned before it is read in every
  iteration (so no value, and no adjoint, flows between iterations), and is not
  read after the loop before being assigned again (the reverse sweep of an
  iteration restores old values into these names);
* it assigns no parameter of the function, and every array it reads that has an
  adjoint has one allocated up front (``Reverse.dense``).

A work array is one the function allocates once, before the loop, as
``w = np.zeros(m)`` (or ``np.empty``, ``np.ones``), that nothing after the loop mentions,
and that every iteration writes whole before it reads any of it: its first use on
every path is a loop ``for j in range(m)`` whose body stores ``w[j] = e`` and mentions
`w` nowhere else (ADBench's GMM: ``xcentered``, ``qxcentered``, ``main_term``, filled
anew for each data point). No value, and so no adjoint, flows through it from one
iteration to the next: each iteration's adjoint leaves its elements' adjoints zero
again (a store's adjoint takes and clears them), and the tape holds one iteration.
A fill at the top of the body tapes nothing: what it overwrites is the previous
iteration's, which nothing reads again.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .core import dotted, is_constant, names_read, range_args, store_of, target_of, walk_stmts


@dataclass
class Fusable:
    acc: str             # the accumulator
    outside: list[str]   # active names the body reads and does not assign
    fills: list[ast.stmt] = field(default_factory=list)  # stores filling work arrays


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _state(block: list[ast.stmt], name: str) -> str:
    """How `block` uses `name`: "none" (not at all), "def" (assigned before any read
    on every path, and assigned when the block ends), "local" (assigned before any
    read wherever it is read, but maybe not assigned at the end), or "bad"."""
    result = "none"
    for stmt in block:
        if not _mentions(stmt, name):
            continue
        if isinstance(stmt, ast.Assign):
            if target_of(stmt) == name and store_of(stmt) is None \
                    and name not in names_read(stmt.value):
                return "def"
            return "bad"
        if isinstance(stmt, ast.For):
            if _mentions(stmt.iter, name) or stmt.orelse:
                return "bad"
            target = isinstance(stmt.target, ast.Name) and stmt.target.id == name
            if not target and _state(stmt.body, name) == "bad":
                return "bad"
            result = "local"
            continue
        if isinstance(stmt, ast.While):
            if _mentions(stmt.test, name) or stmt.orelse or _state(stmt.body, name) == "bad":
                return "bad"
            result = "local"
            continue
        if isinstance(stmt, ast.If):
            if _mentions(stmt.test, name):
                return "bad"
            a, b = _state(stmt.body, name), _state(stmt.orelse, name)
            if "bad" in (a, b):
                return "bad"
            if a == b == "def":
                return "def"
            result = "local"
            continue
        return "bad"
    return result


def _accumulator(stmt: ast.stmt) -> str | None:
    """`acc` when `stmt` is acc = acc + e, acc = e + acc or acc = acc - e."""
    if not isinstance(stmt, ast.Assign) or store_of(stmt) is not None:
        return None
    acc, value = target_of(stmt), stmt.value
    if acc is None or not isinstance(value, ast.BinOp):
        return None
    left = isinstance(value.left, ast.Name) and value.left.id == acc
    right = isinstance(value.right, ast.Name) and value.right.id == acc
    if left == right:
        return None
    if isinstance(value.op, ast.Add) or (isinstance(value.op, ast.Sub) and left):
        return acc
    return None


_ALLOCATIONS = frozenset({"np.zeros", "np.empty", "np.ones"})


def work_lengths(before: list[ast.stmt], bound_once: set[str]) -> dict[str, str]:
    """Arrays `before` (a function's top-level statements ahead of a loop) allocates as
    ``w = np.zeros(m)``, with `w` and `m` (a name) bound once in the function: w -> m."""
    out = {}
    for stmt in before:
        w = target_of(stmt)
        value = getattr(stmt, "value", None)
        if w is None or store_of(stmt) is not None or not isinstance(value, ast.Call) \
                or dotted(value.func) not in _ALLOCATIONS or len(value.args) != 1 \
                or not isinstance(value.args[0], ast.Name):
            continue
        m = value.args[0].id
        if w in bound_once and m in bound_once:
            out[w] = m
    return out


def _fills(stmt: ast.stmt, w: str, m: str) -> bool:
    """`stmt` is ``for j in range(m)`` whose body stores ``w[j] = e`` at its top level
    and mentions `w` nowhere else."""
    if not isinstance(stmt, ast.For) or stmt.orelse or not isinstance(stmt.target, ast.Name):
        return False
    start, stop, step = range_args(stmt)
    if not (is_constant(start, 0) and is_constant(step, 1)
            and isinstance(stop, ast.Name) and stop.id == m):
        return False
    j = stmt.target.id
    stores = [s for s in stmt.body if store_of(s) == w and isinstance(s, ast.Assign)
              and isinstance(s.targets[0].slice, ast.Name) and s.targets[0].slice.id == j
              and not _mentions(s.value, w)]
    others = [s for s in stmt.body if _mentions(s, w) and s not in stores]
    return len(stores) == 1 and not others


def _written_first(block: list[ast.stmt], w: str, m: str, fills: list[ast.stmt] | None
                   ) -> bool:
    """On every path through `block`, each use of `w` comes after a loop that fills it
    (`_fills`) in the same block or one enclosing it. The filling stores of `block`'s
    own fills go to `fills` (not those in inner loops: an inner loop's reverse sweep
    needs what its fill overwrote, the previous inner iteration's values)."""
    for stmt in block:
        if not _mentions(stmt, w):
            continue
        if _fills(stmt, w, m):
            if fills is not None:
                fills += [s for s in stmt.body if store_of(s) == w]
            return True   # whole from here on
        if isinstance(stmt, ast.For) and not stmt.orelse and not _mentions(stmt.iter, w):
            if not _written_first(stmt.body, w, m, None):
                return False
            continue      # maybe no iteration: still not written after it
        if isinstance(stmt, ast.If) and not _mentions(stmt.test, w):
            if not (_written_first(stmt.body, w, m, fills)
                    and _written_first(stmt.orelse, w, m, fills)):
                return False
            continue
        return False
    return True


def fusable(loop: ast.For, rest: list[ast.stmt], params: set[str], active: set[str],
            kind, is_array, dense: set[str], work: dict[str, str] | None = None
            ) -> Fusable | None:
    """Whether top-level `loop`, followed by the statements `rest`, qualifies. `work`:
    the arrays allocated before it that may be its work arrays, with their lengths
    (``work_lengths``)."""
    body = loop.body
    if loop.orelse or not isinstance(loop.target, ast.Name):
        return None
    stmts = list(walk_stmts(body))
    if any(isinstance(s, (ast.Return, ast.Break, ast.Continue)) for s in stmts):
        return None
    work = work or {}
    fills: list[ast.stmt] = []
    for w in {store_of(s) for s in stmts} - {None}:
        if w not in work or w in params or any(_mentions(s, w) for s in rest) \
                or not _written_first(body, w, work[w], fills):
            return None
    assigned: set[str] = {loop.target.id}
    for s in stmts:
        if target_of(s) is not None:
            assigned.add(target_of(s))
        if isinstance(s, ast.For) and isinstance(s.target, ast.Name):
            assigned.add(s.target.id)
    if assigned & params:
        return None
    accs = [a for a in map(_accumulator, body) if a is not None
            and a in active and kind(a) == "f" and _state(body, a) == "bad"]
    if len(accs) != 1 or sum(_accumulator(s) == accs[0] for s in body) != 1:
        return None
    acc = accs[0]
    # read and written by its update only
    if sum(isinstance(n, ast.Name) and n.id == acc for s in body for n in ast.walk(s)) != 2:
        return None
    for name in assigned - {acc}:
        if name in active and kind(name) != "f":
            return None
        if name != loop.target.id and _state(body, name) == "bad":
            return None
        if _state(rest, name) == "bad":
            return None
    outside = [n for n in names_read(loop) if n in active and n not in assigned]
    if any(is_array(n) and n not in dense for n in outside):
        return None
    return Fusable(acc, outside, fills)
