"""Saves the generated adjoint can drop: a value taped again while it is unchanged.

The reverse stage tapes, for each segment, store and loop, the values its reverse
needs, one decision at a time. So an array that four statements of a loop body read
is pushed four times per iteration (``_ta2.append(d)`` after each), though the
variable names the same array all along; each push and pop of a reference costs a
call into the typed list and a reference count. Only one is needed: the *last*
push of a run in which the variable is not rebound. In the reverse sweep its pop
comes first, and the pops of the earlier pushes would set the variable to what it
already holds.

Each push the reverse stage emits for a save carries a key, and its pop the same
key (``mark``). ``drop_repeated`` removes a push and its pop when

* a later push of the same variable follows it in the same block of the forward
  sweep, and no statement in between binds the variable;
* the two pops sit in one block of the reverse sweep in the mirrored order, and no
  statement in between binds the variable.

The two conditions together make the variable hold the same object at the dropped
pop as after the kept one: a stack keeps its order when a matched pair leaves it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .core import FRESH_ARRAYS, dotted

_KEY = "srcgrad_save"


def mark(stmt: ast.stmt, key: tuple) -> ast.stmt:
    """Tag a push or pop of a save with the key it shares with its partner."""
    setattr(stmt, _KEY, key)
    return stmt


def _blocks(body: list[ast.stmt]) -> Iterator[list[ast.stmt]]:
    yield body
    for stmt in body:
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                yield from _blocks(inner)


def _binds(stmt: ast.stmt, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
               for n in ast.walk(stmt))


def _keyed(body: list[ast.stmt]) -> dict[tuple, list[tuple[list[ast.stmt], ast.stmt]]]:
    out: dict[tuple, list] = {}
    for block in _blocks(body):
        for stmt in block:
            key = getattr(stmt, _KEY, None)
            if key is not None:
                out.setdefault(key, []).append((block, stmt))
    return out


def drop_repeated(fwd: list[ast.stmt], rev: list[ast.stmt]) -> int:
    """Remove, in place, the saves an unchanged later save of the same variable makes
    redundant (see the module's text); return how many went."""
    pushes, pops = _keyed(fwd), _keyed(rev)
    # a key taped or popped more than once (a copied block) is left alone
    once = {k for k in pushes if len(pushes[k]) == 1 and len(pops.get(k, ())) == 1}
    gone: set[int] = set()
    for block in _blocks(fwd):
        last: dict[str, tuple] = {}     # variable -> key of its latest push in this block
        for stmt in block:
            key = getattr(stmt, _KEY, None)
            if key in once:
                name = key[-1]
                prev = last.get(name)
                if prev is not None and _pops_adjacent(pops[key][0], pops[prev][0], name):
                    gone.add(id(pushes[prev][0][1]))
                    gone.add(id(pops[prev][0][1]))
                last[name] = key
                continue
            for name in [n for n in last if _binds(stmt, n)]:
                del last[name]
    if gone:
        for body in (fwd, rev):
            for block in _blocks(body):
                block[:] = [s for s in block if id(s) not in gone]
    return len(gone) // 2


def _pops_adjacent(kept: tuple[list[ast.stmt], ast.stmt],
                   dropped: tuple[list[ast.stmt], ast.stmt], name: str) -> bool:
    """The pop of the later push (`kept`) comes before the other (`dropped`) in one
    block of the reverse sweep, and nothing between them binds `name`."""
    block, first = kept
    other_block, second = dropped
    if block is not other_block:
        return False
    i = next(j for j, s in enumerate(block) if s is first)
    k = next(j for j, s in enumerate(block) if s is second)
    return i < k and not any(_binds(s, name) for s in block[i + 1:k])


# --------------------------------------------------------------------------
# old values nothing reads
# --------------------------------------------------------------------------
# A store into an array tapes what it overwrites, and the reverse sweep puts it back,
# so that the statements reversed after it read the array as it was. When no
# statement of the reverse sweep reads that array's elements (the adjoints of
# `force[i] += f` and `vel + dt * force` need only its shape), the copies are dead
# weight: ``drop_unread_restores`` removes the push, the pop and the write-back.

_OLD = "srcgrad_old"

# runtime helpers of the reverse sweep that read only an argument's shape: name ->
# the positions of such arguments
_SHAPE_ONLY = {"ensure": (1,), "empty_adjoint": (0,), "take_adjoint": (2,),
               "accum": (2,), "unbroadcast": (1,)}
_SHAPE_ATTRS = frozenset({"shape", "size", "ndim", "dtype"})
_FRESH = FRESH_ARRAYS | {"np.array"}   # np.array copies what it is given


def mark_old(stmt: ast.stmt, store: ast.stmt, base: str, taped: bool) -> ast.stmt:
    """Tag a statement that tapes (`taped`), or pops or writes back (not `taped`), what
    `store` overwrote in `base`."""
    setattr(stmt, _OLD, (id(store), base, taped))
    return stmt


def _array_reads(bodies: list[list[ast.stmt]], arrays: set[str]) -> set[str]:
    """Names in `arrays` whose elements some statement of `bodies` may read."""
    out: set[str] = set()
    skip: set[int] = set()
    for body in bodies:
        for node in (n for stmt in body for n in ast.walk(stmt)):
            if isinstance(node, ast.Attribute) and node.attr in _SHAPE_ATTRS:
                skip.add(id(node.value))
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                skip.add(id(node.value))   # a write (the write-backs)
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) \
                    and all(isinstance(t, ast.Name) for t in node.targets):
                skip.add(id(node.value))   # another name for it: an alias, below
            elif isinstance(node, ast.Call):
                name = dotted(node.func) or ""
                for k in _SHAPE_ONLY.get(name, ()):
                    if k < len(node.args):
                        skip.add(id(node.args[k]))
        for node in (n for stmt in body for n in ast.walk(stmt)):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                    and node.id in arrays and id(node) not in skip:
                out.add(node.id)
    return out


def _alias_classes(bodies: list[list[ast.stmt]], arrays: set[str],
                   pairs: set[tuple[str, str]]) -> dict[str, str]:
    """Union-find over array names that may name the same memory: `a = b`, views
    (`a = b[1:]`, `a = b.T`, `a = f(b)`), and the `pairs` given (a value taped under
    one name and popped into another)."""
    parent = {a: a for a in arrays}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: str, b: str) -> None:
        if a in parent and b in parent:
            parent[find(a)] = find(b)

    for a, b in pairs:
        union(a, b)
    for body in bodies:
        for node in (n for stmt in body for n in ast.walk(stmt)):
            if not isinstance(node, ast.Assign):
                continue
            value = node.value
            if isinstance(value, (ast.BinOp, ast.UnaryOp)) or (
                    isinstance(value, ast.Call) and dotted(value.func) in _FRESH):
                continue   # a new array
            names = [n.id for n in ast.walk(value) if isinstance(n, ast.Name) and n.id in parent]
            for t in node.targets:
                for tn in ast.walk(t):
                    if isinstance(tn, ast.Name) and tn.id in parent:
                        for n in names:
                            union(tn.id, n)
    return {a: find(a) for a in arrays}


def drop_unread_restores(fwd: list[ast.stmt], rev: list[ast.stmt],
                         others: list[list[ast.stmt]], arrays: set[str],
                         pairs: set[tuple[str, str]]) -> set[str]:
    """Remove, in place, the taping and writing back of old elements of arrays whose
    elements no statement of the reverse sweep (`rev`, and the functions in `others`
    it calls) reads, directly or through another name. `arrays`: the function's array
    variables. Returns the arrays concerned."""
    tagged = [(where, s) for where, body in (("fwd", fwd), ("rev", rev), *(("other", o) for o in others))
              for block in _blocks(body) for s in block if getattr(s, _OLD, None) is not None]
    if not tagged:
        return set()
    everything = [fwd, rev, *others]
    cls = _alias_classes(everything, arrays, pairs)
    read = {cls[a] for a in _array_reads([rev, *others], arrays)}
    bases = {getattr(s, _OLD)[1] for _, s in tagged}
    # A store in a fused loop (fuse.py) has its pop in the forward sweep or in an
    # outlined iteration adjoint, where the reads above do not see it: left alone.
    fused = {getattr(s, _OLD)[1] for where, s in tagged
             if where != ("fwd" if getattr(s, _OLD)[2] else "rev")}
    free = {b for b in bases - fused if b in cls and cls[b] not in read}
    if free:
        gone = {id(s) for _, s in tagged if getattr(s, _OLD)[1] in free}
        for body in (fwd, rev):
            for block in _blocks(body):
                block[:] = [s for s in block if id(s) not in gone]
    return free
