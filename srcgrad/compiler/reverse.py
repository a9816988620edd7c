"""Stage 6, reverse: write the adjoint of a core-language function.

The adjoint function runs a forward sweep (the primal, plus pushes of what
the reverse sweep will need) and then a reverse sweep (statements in reverse
order, rules applied, loops run backwards, branches replayed from the tape).

Straight-line runs of assignments are *segments*. For each segment the
forward sweep tapes only the values that enter the segment, are needed by its
adjoint, and may be overwritten before the reverse sweep comes back (see
``Analysis.stable``). The reverse sweep restores those values, *replays* the
segment's cheap arithmetic into fresh names to recover its intermediates, and
then applies the rules backwards. For a loop body this tapes the loop-carried
state once per iteration, as a hand-written adjoint would, instead of every
temporary.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

from numba import types as nbtypes

from .analyze import Analysis, fancy_index
from .capture import Captured
from .checkpoint import RUNTIME as CHECKPOINT_RUNTIME
from .checkpoint import Checkpointer
from .core import (
    FRESH_ARRAYS,
    assign,
    clone,
    const,
    dotted,
    is_constant,
    load,
    name_node,
    names_read,
    range_args,
    reads_before_assigned,
    store_of,
    target_of,
    walk_stmts,
    with_line,
)
from .fuse import fusable, work_lengths
from .infer import Typed
from .normalize import Normalized
from .saves import drop_repeated, drop_unread_restores, mark, mark_old
from .segment import Plan, Segments, Sweep, index_value
from .tapegen import KINDS, TapeWriter, array_like


def _items(body: list[ast.stmt]) -> list[list[ast.stmt] | ast.stmt]:
    """Split a block into segments (lists of assignments) and control statements."""
    items: list[list[ast.stmt] | ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, ast.Assign) and store_of(stmt) is None:
            if items and isinstance(items[-1], list):
                items[-1].append(stmt)
            else:
                items.append([stmt])
        else:
            items.append(stmt)
    return items


class Reverse:
    """The adjoint of one function: the structure (loops, branches, stores) here, the
    straight-line segments in segment.py; both share a Sweep."""

    def __init__(self, norm: Normalized, cap: Captured, typed: Typed, ana: Analysis,
                 wrt: list[str], checkpoint: bool = False) -> None:
        self.sweep = Sweep(norm, cap, typed, ana, wrt, TapeWriter(norm.namer))
        self.segments = Segments(self.sweep)
        # tape_limit: top-level loops run checkpointed (checkpoint.py)
        self.ck = Checkpointer(self) if checkpoint else None
        self.decision: dict[int, str | None] = {}   # id(if) -> name popped into
        self.loop_info: dict[int, dict] = {}
        self.store_kind: dict[int, object] = {}  # id(store) -> tape kind of the old value
        self.index_recompute: dict[int, list[ast.stmt]] = {}  # id(store) -> its index again
        self.renamed: set[tuple[str, str]] = set()   # (taped name, name popped into)
        # Names read by active statements: arrays among them must be restored in reverse.
        # Closed over the statements that compute those names (the reverse sweep may
        # replay them): `_t = w[0]; a = x * _t` reads w in reverse even though w and _t
        # are inactive, so writes into w after it must be undone too.
        self.read_in_reverse: set[str] = set()
        for stmt in walk_stmts(norm.tree.body):
            if target_of(stmt) in ana.active:
                self.read_in_reverse.update(names_read(stmt.value))
        grew = True
        while grew:
            grew = False
            for stmt in walk_stmts(norm.tree.body):
                t = target_of(stmt)
                if t in self.read_in_reverse and store_of(stmt) is None:
                    new = set(names_read(stmt.value)) - self.read_in_reverse
                    if new:
                        self.read_in_reverse |= new
                        grew = True
        for stmt in walk_stmts(norm.tree.body):
            t = target_of(stmt)
            if t:
                self.sweep.assign_count[t] = self.sweep.assign_count.get(t, 0) + 1
        self.sweep.dense = self._dense_arrays()
        self.unread_stores = self._unread_stores()
        # top-level loops summing independent iterations (see fuse.py)
        self.fused: dict[int, dict[str, str]] = {}   # id(loop) -> name -> its unit adjoint
        self.outlined: list[ast.FunctionDef] = []    # fused iterations' adjoints (_outline)
        self.unit_is_adjoint: set[str] = set()  # dense adjoints a unit adjoint replaces
        body = norm.tree.body
        params = {a.arg for a in norm.tree.args.args}
        once = {name for name, places in ana.assigned_at.items() if len(places) == 1}
        for j, stmt in enumerate(body):
            if isinstance(stmt, ast.For) and self.needs_rev(stmt):
                info = fusable(stmt, body[j + 1:], params, ana.active, typed.kind,
                               typed.is_array, self.sweep.dense,
                               work_lengths(body[:j], once))
                if info is not None:
                    self.sweep.fusable[id(stmt)] = info
                    self.unread_stores |= {id(s) for s in info.fills}
        # temporaries bound once: name -> (position, value), to recompute loop bounds
        self.temp_def: dict[str, tuple[int, ast.expr]] = {
            stmt.targets[0].id: (ana.pos(stmt), stmt.value)
            for stmt in walk_stmts(norm.tree.body)
            if target_of(stmt) in norm.temps and self.sweep.assign_count[target_of(stmt)] == 1}

    def _dense_arrays(self) -> set[str]:
        """Arrays whose adjoint is allocated once, at the start of the reverse sweep,
        instead of lazily with `ensure` at each use: parameters never rebound and
        user variables bound once by a top-level statement. The variable then names
        one array object for the whole reverse sweep, so every version of it has
        the same shape, and the adjoint never needs reallocating (in a loop, an
        `ensure` per element access costs more than the arithmetic)."""
        tree = self.sweep.norm.tree
        top = {self.sweep.ana.pos(s) for s in tree.body}
        ret = tree.body[-1]
        out = ret.value.id if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Name) \
            else None
        dense = set()
        for name, places in self.sweep.ana.assigned_at.items():
            if name == out or name in self.sweep.norm.temps or not self.sweep.typed.is_array(name) \
                    or name not in self.sweep.ana.active and name not in self.sweep.wrt:
                continue
            if places == [-1] or (len(places) == 1 and places[0] in top):
                dense.add(name)
        return dense


    # tape ----------------------------------------------------------------

    # structure -----------------------------------------------------------

    def needs_rev(self, item) -> bool:
        if isinstance(item, list):
            return any(target_of(s) in self.sweep.ana.active and id(s) not in self.sweep.ana.dead
                       for s in item)
        if store_of(item) is not None:
            # An array the reverse sweep reads must get its old elements back.
            base = store_of(item)
            return base in self.sweep.ana.active or base in self.read_in_reverse
        if isinstance(item, ast.If):
            return self.block_needs_rev(item.body) or self.block_needs_rev(item.orelse)
        if isinstance(item, (ast.For, ast.While)):
            return self.block_needs_rev(item.body)
        return False

    def push_var(self, name: str, line: int | None, value: ast.expr | None = None
                 ) -> ast.stmt:
        """Push variable `name` (or `value`, of the same type) on the tape for its type."""
        value = load(name) if value is None else value
        kind = self.sweep.typed.kind(name)
        if kind == "a":
            return self.sweep.tape.push_ref(value, self.sweep.typed.types[name], line)
        return self.sweep.tape.push(kind, value, line)

    def pop_var(self, name: str, line: int | None, into: str | None = None) -> ast.stmt:
        kind = self.sweep.typed.kind(name)
        if kind == "a":
            return self.sweep.tape.pop_ref(into or name, self.sweep.typed.types[name], line)
        return self.sweep.tape.pop(kind, into or name, line)

    @staticmethod
    def has_break(loop: ast.stmt) -> bool:
        return _has_real_break(loop)

    def block_needs_rev(self, body: list[ast.stmt]) -> bool:
        return any(self.needs_rev(item) for item in _items(body))

    # segments ------------------------------------------------------------

    # forward sweep -------------------------------------------------------

    def fwd_block(self, body: list[ast.stmt], loops: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for item in _items(body):
            if isinstance(item, list):
                if not self.needs_rev(item):
                    out += item
                    continue
                plan = self.segments.plan(item, loops)
                for name in plan.saves:
                    out.append(mark(self.push_var(name, item[0].srcline), ("s", id(plan), name)))
                for j, stmt in enumerate(item):
                    out.append(stmt)
                    if j in plan.kept:
                        out.append(self.push_var(target_of(stmt), stmt.srcline))
            elif store_of(item) is not None:
                out += self._fwd_store(item, loops)
            elif isinstance(item, ast.If):
                out += self._fwd_if(item, loops)
            elif isinstance(item, ast.For) and not loops and id(item) in self.sweep.fusable:
                out += self._fwd_fused(item)
            elif self.ck is not None and self.ck.applies(item, loops):
                taped = self.fwd_block(item.body, [item])
                out += self.ck.forward(item, taped) + self._push_hoisted(item)
            elif isinstance(item, ast.For):
                out += self._fwd_for(item, loops)
            elif isinstance(item, ast.While):
                out += self._fwd_while(item, loops)
            elif isinstance(item, ast.Return):
                out.append(with_line(assign(self.out_name, item.value), item.srcline))
            else:
                out.append(item)
        return out

    # stores: x[index] = v ---------------------------------------------------

    def _store_parts(self, node: ast.Assign):
        target = node.targets[0]
        base = target.value.id
        index = target.slice
        value = node.value
        element = self._element_store(base, index)
        return base, index, value, element

    def _element_store(self, base: str, index: ast.expr) -> bool:
        """True when x[index] is one element (every index an integer)."""
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        typ = self.sweep.typed.types[base]
        return len(parts) == typ.ndim and not any(isinstance(p, ast.Slice) for p in parts) \
            and not fancy_index(index, self.sweep.typed)

    def _part_ndim(self, base: str, index: ast.expr) -> int:
        """The number of dimensions of x[index] (basic or advanced indexing)."""
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        ndim = self.sweep.typed.types[base].ndim - len(parts)
        ndim += sum(1 for p in parts if isinstance(p, ast.Slice))
        if fancy_index(index, self.sweep.typed):
            ndim += 1   # the one 1-D array component (Numba's limit)
        return ndim

    def _fwd_store(self, node: ast.Assign, loops: list[ast.stmt]) -> list[ast.stmt]:
        if not self.needs_rev(node):
            return [node]
        base, index, value, element = self._store_parts(node)
        line = node.srcline
        plan = Plan()
        self.sweep.plans[id(node)] = plan
        at = self.sweep.ana.pos(node)
        recompute: list[ast.stmt] = []
        index_reads: list[str] = []
        for n in names_read(index):
            index_reads += self._index_inputs(n, at, loops, recompute, line)
        self.index_recompute[id(node)] = recompute
        reads = [base] + list(dict.fromkeys(index_reads))
        if isinstance(value, ast.Name) and self.sweep.typed.is_array(value.id) \
                and value.id in self.sweep.ana.active:
            reads.append(value.id)  # its shape, for unbroadcast
        self.segments.plan_saves(plan, reads, at, loops)
        out = [mark(self.push_var(n, line), ("s", id(plan), n)) for n in plan.saves]
        old = ast.Subscript(load(base), index, ast.Load())
        dtype = self.sweep.typed.types[base].dtype
        if id(node) in self.unread_stores:
            # what it overwrites is never read again (a new array being filled)
            self.store_kind[id(node)] = None
        elif element:
            kind = "b" if str(dtype) == "bool" else "i" if "int" in str(dtype) else "f"
            out.append(mark_old(self.sweep.tape.push(kind, old, line), node, base, True))
            self.store_kind[id(node)] = kind
        else:
            copy_type = nbtypes.Array(dtype, self._part_ndim(base, index), "C")
            copy_call = ast.Call(ast.Attribute(load("np"), "copy", ast.Load()), [old], [])
            out.append(mark_old(self.sweep.tape.push_ref(copy_call, copy_type, line), node, base,
                                True))
            self.store_kind[id(node)] = copy_type
        out.append(node)
        return out

    def _rev_store(self, node: ast.Assign, loops: list[ast.stmt]) -> list[ast.stmt]:
        base, index, value, element = self._store_parts(node)
        line = node.srcline
        plan = self.sweep.plans[id(node)]
        kind = self.store_kind[id(node)]
        old = self.sweep.namer.fresh("_old")
        # pushed last in the forward sweep: the overwritten value, then the saves
        if kind is None:
            out = []
        elif isinstance(kind, str):
            out = [mark_old(self.sweep.tape.pop(kind, old, line), node, base, False)]
        else:
            out = [mark_old(self.sweep.tape.pop_ref(old, kind, line), node, base, False)]
        out += [mark(self.pop_var(n, line), ("s", id(plan), n)) for n in reversed(plan.saves)]
        out += [clone(st) for st in self.index_recompute.get(id(node), [])]
        if base in self.sweep.ana.active:
            bb = self.sweep.b(base)
            if base not in self.sweep.dense:
                self.sweep.tape.helpers_np.add("ensure")
                out.append(with_line(assign(bb, ast.Call(load("ensure"), [load(bb), load(base)],
                                                     [])), line))
            grad = ast.Subscript(load(bb), index, ast.Load())
            if isinstance(value, ast.Name) and value.id in self.sweep.ana.active:
                # take the adjoint of the written part, then clear it (the value may be
                # the same array: y[::-1] = y)
                part = self.sweep.namer.fresh("_gw")
                taken = grad if element else ast.Call(name_node("np.copy"), [grad], [])
                if fancy_index(index, self.sweep.typed):
                    # a position written twice got the later value: only it gets b
                    self.sweep.tape.helpers_np.add("take_written")
                    taken = ast.Call(load("take_written"), [load(bb), index_value(index)], [])
                out.append(with_line(assign(part, taken), line))
                out.append(with_line(ast.Assign([ast.Subscript(load(bb), index, ast.Store())],
                                            const(0.0)), line))
                bv = self.sweep.b(value.id)
                if self.sweep.typed.is_array(value.id):
                    self.sweep.tape.helpers_np |= {"accum", "unbroadcast"}
                    term = ast.Call(load("unbroadcast"), [load(part), load(value.id)], [])
                    out.append(with_line(assign(bv, ast.Call(load("accum"),
                                                         [load(bv), term, load(value.id)],
                                                         [])), line))
                elif element:
                    out.append(with_line(ast.AugAssign(ast.Name(bv, ast.Store()), ast.Add(),
                                                   load(part)), line))
                else:
                    self.sweep.tape.helpers_np.add("unbroadcast")
                    term = ast.Call(load("unbroadcast"), [load(part), load(value.id)], [])
                    out.append(with_line(ast.AugAssign(ast.Name(bv, ast.Store()), ast.Add(), term),
                                     line))
            else:
                out.append(with_line(ast.Assign([ast.Subscript(load(bb), index, ast.Store())],
                                            const(0.0)), line))
        # restore what the store overwrote
        if kind is not None:
            out.append(mark_old(with_line(ast.Assign(
                [ast.Subscript(load(base), index, ast.Store())], load(old)), line), node, base,
                False))
        return out

    def _index_inputs(self, name: str, at: int, loops: list[ast.stmt],
                      recompute: list[ast.stmt], line, depth: int = 2) -> list[str]:
        """The names to tape so that the reverse sweep has a store's index `name`:
        `name` itself, or, for an integer temporary computed from other names by
        arithmetic in the same iteration (``_j = _o + _i``), those names, with the
        statement that recomputes it added to `recompute` (so an index that follows a
        loop's counter tapes nothing per element)."""
        found = self.temp_def.get(name)
        if depth == 0 or found is None or self.sweep.typed.kind(name) != "i" \
                or not isinstance(found[1], ast.BinOp) \
                or any(found[0] < p < at for p in self.sweep.ana.assigned_at.get(name, [])):
            return [name]
        pos, value = found
        inputs: list[str] = []
        for op in (value.left, value.right):
            if isinstance(op, ast.Constant):
                continue
            if not isinstance(op, ast.Name) or self.sweep.typed.kind(op.id) != "i" \
                    or any(pos < p <= at for p in self.sweep.ana.assigned_at.get(op.id, [])):
                return [name]
        for op in (value.left, value.right):
            if isinstance(op, ast.Name):
                inputs += self._index_inputs(op.id, pos, loops, recompute, line, depth - 1)
        recompute.append(with_line(assign(name, clone(value)), line))
        return inputs

    def _unread_stores(self) -> set[int]:
        """Stores whose overwritten elements nothing reads again, so neither sweep tapes or
        restores them: in a block, after ``a = <a new array>`` (np.copy, np.zeros, np.empty
        ...), the stores into `a` that come before any statement reading `a`'s elements or
        binding another name to it (its shape may be read). The reverse sweep reaches
        those statements after the stores' adjoints, and then `a` is made again."""
        out: set[int] = set()

        def reads_elements(stmt: ast.stmt, name: str) -> bool:
            parts = [stmt.test] if isinstance(stmt, (ast.If, ast.While)) else \
                [stmt.iter] if isinstance(stmt, ast.For) else \
                [stmt.value, stmt.targets[0].slice] if store_of(stmt) is not None else \
                [stmt.value] if isinstance(stmt, (ast.Assign, ast.Return)) and stmt.value \
                else [stmt]
            for part in parts:
                shape_only = {id(n.value) for n in ast.walk(part)
                              if isinstance(n, ast.Attribute)
                              and n.attr in ("shape", "size", "ndim")}
                if any(isinstance(n, ast.Name) and n.id == name and id(n) not in shape_only
                       for n in ast.walk(part)):
                    return True
            return False

        def block(body: list[ast.stmt]) -> None:
            for d, stmt in enumerate(body):
                if isinstance(stmt, (ast.If, ast.For, ast.While)):
                    block(stmt.body)
                    block(stmt.orelse)
                name = target_of(stmt)
                if name is None or not self.sweep.typed.is_array(name) \
                        or not isinstance(stmt.value, ast.Call) \
                        or dotted(stmt.value.func) not in FRESH_ARRAYS:
                    continue
                found: list[int] = []
                for later in body[d + 1:]:
                    inner = list(walk_stmts([later]))
                    if any(target_of(s) == name for s in inner) \
                            or any(reads_elements(s, name) for s in inner):
                        break
                    found += [id(s) for s in inner if store_of(s) == name]
                out.update(found)

        block(self.sweep.norm.tree.body)
        return out

    def _fwd_if(self, node: ast.If, loops: list[ast.stmt]) -> list[ast.stmt]:
        body = self.fwd_block(node.body, loops)
        orelse = self.fwd_block(node.orelse, loops)
        if self.needs_rev(node):
            test = node.test.id
            if self.sweep.ana.stable(test, self.sweep.ana.pos(node), loops):
                self.decision[id(node)] = None
            else:
                # The branch taken is pushed at the end of the branch, so that the
                # reverse sweep pops it before replaying the branch's own pops.
                reuse = test in self.sweep.norm.temps and test.startswith("_c")
                self.decision[id(node)] = test if reuse else self.sweep.namer.fresh("_d")
                body.append(self.sweep.tape.push("b", const(True), node.srcline))
                orelse.append(self.sweep.tape.push("b", const(False), node.srcline))
        return [with_line(ast.If(node.test, body, orelse), node.srcline)]

    def _bound(self, atom: ast.expr, at: int, loops, pre: list, post: list, line):
        """A loop bound as the reverse sweep can read it: the atom itself when
        stable, else a copy made at loop entry (taped after the loop if nested)."""
        known = self._bound_expr(atom, at, loops)
        if known is not None:
            return known
        copy_name = self.sweep.namer.fresh("_lo")
        pre.append(with_line(assign(copy_name, atom), line))
        if loops:
            post.append(self.sweep.tape.push(self.sweep.typed.kind(atom.id), load(copy_name), line))
            return ("pop", copy_name, self.sweep.typed.kind(atom.id))
        return load(copy_name)

    def _bound_known(self, name: str, at: int, loops: list[ast.stmt]) -> bool:
        """Can the reverse sweep read `name` as it was at position `at`? True for
        stable values, and for the index of an enclosing `for` that its body never
        assigns: the reverse sweep sets that index again on each backward iteration
        (so `for c in range(r)` inside `for r` tapes no trip count)."""
        if name in self.sweep.norm.constants or self.sweep.ana.stable(name, at, loops):
            return True
        for loop in reversed(loops):
            if isinstance(loop, ast.For) and loop.target.id == name:
                first, last = self.sweep.ana.pos(loop), self.sweep.ana.end[id(loop)]
                return all(not first < p <= last for p in self.sweep.ana.assigned_at.get(name, []))
        return False

    def _bound_expr(self, atom: ast.expr, at: int, loops: list[ast.stmt]) -> ast.expr | None:
        """An expression for a loop bound that the reverse sweep can evaluate, or None.
        Besides known names (`_bound_known`), an integer temporary is recomputed
        rather than taped when it comes from known names by arithmetic, `.shape` of
        an array that stays bound to one object, or indexing that shape
        (`range(i + 1, n)` binds `_t = i + 1`; `range(d, x.shape[1])` binds
        `_t1 = x.shape; _t2 = _t1[1]`), with its operands unchanged since."""
        if not isinstance(atom, ast.Name):
            return atom
        return self._recompute(atom.id, at, loops, 4)

    def _recompute(self, name: str, at: int, loops: list[ast.stmt], depth: int
                   ) -> ast.expr | None:
        if self._bound_known(name, at, loops):
            return load(name)
        found = self.temp_def.get(name)
        if found is None or depth == 0:
            return None
        pos, value = found

        def operand(op: ast.expr) -> ast.expr | None:
            if isinstance(op, ast.Constant):
                return op
            if not isinstance(op, ast.Name) \
                    or any(pos < p < at for p in self.sweep.ana.assigned_at.get(op.id, [])):
                return None
            return self._recompute(op.id, pos, loops, depth - 1)

        if isinstance(value, ast.BinOp) and self.sweep.typed.kind(name) == "i":
            left, right = operand(value.left), operand(value.right)
            if left is None or right is None:
                return None
            return ast.BinOp(left, value.op, right)
        if isinstance(value, ast.Attribute) and value.attr == "shape" \
                and isinstance(value.value, ast.Name):
            base = value.value.id
            if base in self.sweep.dense or (self.sweep.typed.is_array(base)
                                      and self._bound_known(base, at, loops)):
                return ast.Attribute(load(base), "shape", ast.Load())
            return None
        if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Constant) \
                and isinstance(value.value, ast.Name) and self.sweep.typed.kind(name) == "i":
            base = operand(value.value)
            if base is None:
                return None
            return ast.Subscript(base, value.slice, ast.Load())
        return None

    def _fwd_for(self, node: ast.For, loops: list[ast.stmt]) -> list[ast.stmt]:
        body = self.fwd_block(node.body, loops + [node])
        line = node.srcline
        if not self.needs_rev(node):
            return [with_line(ast.For(node.target, node.iter, body, []), line)]
        start, stop, step = range_args(node)
        at = self.sweep.ana.pos(node)
        pre: list[ast.stmt] = []
        post: list[ast.stmt] = []
        info: dict = {"line": line}
        has_break = _has_real_break(node)
        known = [self._bound_expr(a, at, loops) for a in (start, stop, step)]
        if all(e is not None for e in known) and not has_break:
            info.update(kind="bounds", start=known[0], stop=known[1], step=known[2])
        else:
            info["start"] = self._bound(start, at, loops, pre, post, line)
            info["step"] = self._bound(step, at, loops, pre, post, line)
            count = self.sweep.namer.fresh("_n")
            info.update(kind="count", count=count, taped=bool(loops))
            if has_break:
                pre.append(with_line(assign(count, const(0)), line))
                body.insert(0, with_line(ast.AugAssign(ast.Name(count, ast.Store()), ast.Add(),
                                                   const(1)), line))
            else:
                pre.append(with_line(assign(count, ast.Call(load("range_len"),
                                                        [start, stop, step], [])), line))
                self.sweep.tape.helpers.add("range_len")
        self.loop_info[id(node)] = info
        # Values the body reads but never writes are taped once, after the loop
        # (they are unchanged by it), so the reverse sweep pops them before the body.
        post[:0] = self._push_hoisted(node)
        out = pre + [with_line(ast.For(node.target, node.iter, body, []), line)]
        out += post
        if info["kind"] == "count" and info["taped"]:
            out.append(self.sweep.tape.push("i", load(info["count"]), line))
        return out

    def _fwd_fused(self, node: ast.For) -> list[ast.stmt]:
        """A loop summing independent iterations (fuse.py): each iteration's adjoint,
        seeded with 1 for the accumulator, runs right after it; what it adds to the
        adjoints of values from outside the loop goes to unit adjoints `u_*`, which
        the reverse sweep scales by the accumulator's adjoint."""
        info = self.sweep.fusable[id(node)]
        line = node.srcline
        fwd = self.fwd_block(node.body, [node])
        rev = self.rev_block(node.body, [node])
        units = {name: self.sweep.namer.fresh(f"u_{name}") for name in info.outside}
        one = self.sweep.namer.fresh(f"u_{info.acc}")
        renames = {self.sweep.b(name): unit for name, unit in units.items()}
        renames[self.sweep.b(info.acc)] = one
        rev = [_Renamer(renames).visit(copy.deepcopy(st)) for st in rev]
        written = {n.id for st in rev for n in ast.walk(st)
                   if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        if {one, info.acc} & written:
            # not the expected adjoint of a sum: keep the ordinary reverse sweep
            del self.sweep.fusable[id(node)]
            return self._fwd_for(node, [])
        pre: list[ast.stmt] = []
        for name, unit in units.items():
            if self.sweep.typed.is_array(name):
                typ = self.sweep.typed.types[name]
                value = ast.Call(name_node("np.zeros"),
                                 [ast.Attribute(load(name), "shape", ast.Load()),
                                  name_node(f"np.{typ.dtype}")], [])
            else:
                value = const(0.0)
            pre.append(with_line(assign(unit, value), line))
        pre.append(with_line(assign(one, const(1.0)), line))
        for st in walk_stmts(node.body):
            t = target_of(st)
            if t in self.sweep.ana.active and t != info.acc:
                init = with_line(assign(self.sweep.b(t), const(0.0)), line)
                if not any(target_of(p) == self.sweep.b(t) for p in pre):
                    pre.append(init)
        rev = self._outline(rev, pre, fwd, units, line)
        body = fwd
        # the tapes this loop pushes on (the others keep their tops through it)
        pushed = {n.id for st in fwd for n in ast.walk(st)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        kinds = [k for k, _ in KINDS
                 if k in self.sweep.tape.kinds and self.sweep.tape.names[k][1] in pushed]
        if kinds:
            entry = {k: self.sweep.namer.fresh(f"_s{k}") for k in kinds}
            pre += [with_line(assign(entry[k], load(self.sweep.tape.names[k][1])), line) for k in kinds]
            notes, overflowed = self.sweep.tape.iteration_done(entry, line)
            # a tape too small: skip this iteration's adjoint (the caller runs the
            # function again with bigger tapes) and start the next one where it began
            rewind = [with_line(assign(self.sweep.tape.names[k][1], load(entry[k])), line)
                      for k in kinds]
            body = fwd + notes + [with_line(ast.If(overflowed, rewind, rev), line)]
        else:
            body = fwd + rev
        self.fused[id(node)] = units
        return pre + [with_line(ast.For(node.target, node.iter, body, []), line)]

    def _outline(self, rev: list[ast.stmt], pre: list[ast.stmt], fwd: list[ast.stmt],
                 units: dict[str, str], line) -> list[ast.stmt]:
        """Move a fused iteration's adjoint into a function of its own, when it has
        loops: LLVM then allocates registers for it alone instead of for the whole
        adjoint (the scalar GMM's gradient: 3.07x -> 2.95x its forward).

        Its parameters are the names it reads before any assignment of its own on some
        path; it returns the tape tops and scalar unit adjoints it changes. Nothing
        else it assigns is read afterwards: a fused loop carries no local from one
        iteration to the next or out of the loop (fuse.py), and the adjoints of the
        iteration's locals are zero again at its end, as at its start."""
        if not any(isinstance(n, (ast.For, ast.While)) for st in rev for n in ast.walk(st)):
            return rev
        tree = self.sweep.norm.tree
        bound = {a.arg for a in tree.args.args} | set(self.sweep.tape.params()) \
            | set(self.sweep.tape.refs.values()) | {self.sweep.tape.names[k][1] for k, _ in KINDS} \
            | set(self.sweep.adj.values()) | set(units.values()) | set(self.sweep.typed.types)
        for st in walk_stmts(tree.body):
            t = target_of(st)
            if t:
                bound.add(t)
        for st in pre + fwd:
            bound |= {n.id for n in ast.walk(st)
                      if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        needs: list[str] = []
        reads_before_assigned(rev, set(), needs, stores_read=True)
        params = [n for n in needs if n in bound]
        written = {n.id for st in rev for n in ast.walk(st)
                   if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        outs = [self.sweep.tape.names[k][1] for k, _ in KINDS if self.sweep.tape.names[k][1] in written]
        outs += [u for name, u in units.items()
                 if u in written and not self.sweep.typed.is_array(name)]
        for name in outs:
            if name not in params:
                params.append(name)
        name = self.sweep.namer.fresh(f"{tree.name}_adjoint_iteration")
        ret = ast.Return(None if not outs else load(outs[0]) if len(outs) == 1
                         else ast.Tuple([load(n) for n in outs], ast.Load()))
        fn = ast.FunctionDef(
            name=name, args=ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params],
                                          vararg=None, kwonlyargs=[], kw_defaults=[],
                                          kwarg=None, defaults=[]),
            body=rev + [with_line(ret, None)], decorator_list=[], returns=None,
            type_comment=None, type_params=[], lineno=1, col_offset=0)
        self.outlined.append(fn)
        call = ast.Call(load(name), [load(p) for p in params], [])
        if not outs:
            return [with_line(ast.Expr(call), line)]
        target = ast.Tuple([ast.Name(n, ast.Store()) for n in outs], ast.Store()) \
            if len(outs) > 1 else ast.Name(outs[0], ast.Store())
        return [with_line(ast.Assign([target], call), line)]

    def _fwd_while(self, node: ast.While, loops: list[ast.stmt]) -> list[ast.stmt]:
        body = self.fwd_block(node.body, loops + [node])
        line = node.srcline
        if not self.needs_rev(node):
            return [with_line(ast.While(node.test, body, []), line)]
        count = self.sweep.namer.fresh("_n")
        body.insert(0, with_line(ast.AugAssign(ast.Name(count, ast.Store()), ast.Add(),
                                           const(1)), line))
        self.loop_info[id(node)] = {"count": count, "taped": bool(loops), "line": line}
        out = [with_line(assign(count, const(0)), line),
               with_line(ast.While(node.test, body, []), line)] + self._push_hoisted(node)
        if loops:
            out.append(self.sweep.tape.push("i", load(count), line))
        return out

    def _zero(self, name: str) -> ast.expr:

        typ = self.sweep.typed.types.get(name)
        if isinstance(typ, nbtypes.Array):
            return array_like(typ)
        if isinstance(typ, nbtypes.Boolean):
            return const(False)
        if isinstance(typ, nbtypes.Integer):
            return const(0)
        if isinstance(typ, nbtypes.Float) and typ.bitwidth == 32:
            return ast.Call(name_node("np.float32"), [const(0.0)], [])
        return const(0.0)

    def _push_hoisted(self, loop: ast.stmt) -> list[ast.stmt]:
        return [mark(self.push_var(n, loop.srcline), ("h", id(loop), n))
                for n in self.sweep.hoisted.get(id(loop), [])]

    def _pop_hoisted(self, loop: ast.stmt) -> list[ast.stmt]:
        return [mark(self.pop_var(n, loop.srcline), ("h", id(loop), n))
                for n in reversed(self.sweep.hoisted.get(id(loop), []))]

    # reverse sweep -------------------------------------------------------

    def rev_block(self, body: list[ast.stmt], loops: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for item in reversed(_items(body)):
            if not self.needs_rev(item):
                continue
            if isinstance(item, list):
                plan = self.segments.plan(item, loops)
                line = item[0].srcline
                for j in sorted(plan.kept, reverse=True):
                    out.append(self.pop_var(target_of(item[j]), item[j].srcline,
                                            into=plan.kept[j]))
                    self.renamed.add((target_of(item[j]), plan.kept[j]))
                for name in reversed(plan.saves):
                    out.append(mark(self.pop_var(name, line), ("s", id(plan), name)))
                out += plan.replay
                out += plan.adjoint
            elif store_of(item) is not None:
                out += self._rev_store(item, loops)
            elif isinstance(item, ast.If):
                into = self.decision[id(item)]
                test = item.test.id
                if into is not None:
                    out.append(self.sweep.tape.pop("b", into, item.srcline))
                    test = into
                out.append(with_line(ast.If(load(test), self.rev_block(item.body, loops),
                                        self.rev_block(item.orelse, loops)), item.srcline))
            elif isinstance(item, ast.For) and id(item) in self.fused:
                out += self._rev_fused(item)
            elif self.ck is not None and id(item) in self.ck.loops:
                out += self.ck.reverse(item, self.rev_block(item.body, [item]),
                                       self._pop_hoisted(item))
            elif isinstance(item, ast.For):
                out += self._rev_for(item, loops)
            elif isinstance(item, ast.While):
                out += self._rev_while(item, loops)
        return out

    def _rev_fused(self, node: ast.For) -> list[ast.stmt]:
        """The reverse of a fused loop: its unit adjoints, scaled by the accumulator's.
        A dense array adjoint that nothing after the loop contributes to is still all
        zeros here, so it becomes the unit adjoint itself, scaled in place (not at
        all for a unit seed): no second array-sized pass and no second array."""
        line = node.srcline
        acc = load(self.sweep.b(self.sweep.fusable[id(node)].acc))
        body = self.sweep.norm.tree.body
        later = {n for st in body[body.index(node) + 1:] for n in names_read(st)}
        out: list[ast.stmt] = []
        for name, unit in self.fused[id(node)].items():
            if name in self.sweep.dense and name not in later:
                scale = ast.AugAssign(ast.Name(unit, ast.Store()), ast.Mult(), acc)
                out.append(with_line(ast.If(ast.Compare(acc, [ast.NotEq()], [const(1.0)]),
                                        [with_line(scale, line)], []), line))
                out.append(with_line(assign(self.sweep.b(name), load(unit)), line))
                self.unit_is_adjoint.add(name)
                continue
            out.append(with_line(ast.AugAssign(ast.Name(self.sweep.b(name), ast.Store()), ast.Add(),
                                           ast.BinOp(acc, ast.Mult(), load(unit))), line))
        return out

    def _restore(self, value, line, out: list[ast.stmt]) -> ast.expr:
        if isinstance(value, tuple):
            _, into, kind = value
            out.append(self.sweep.tape.pop(kind, into, line))
            return load(into)
        return value

    def _rev_for(self, node: ast.For, loops: list[ast.stmt]) -> list[ast.stmt]:
        info = self.loop_info[id(node)]
        line = info["line"]
        body = self.rev_block(node.body, loops + [node])
        var = node.target.id
        out: list[ast.stmt] = []
        if info["kind"] == "bounds":
            start, stop, step = info["start"], info["stop"], info["step"]
            out += self._pop_hoisted(node)
            if is_constant(step, 1):
                first = ast.BinOp(stop, ast.Sub(), const(1))
                return out + self._skip_when_zero(
                    node, self._countdown(var, first, start, body, line), loops)
            count = self.sweep.namer.fresh("_n")
            out.append(with_line(assign(count, ast.Call(load("range_len"), [start, stop, step],
                                                    [])), line))
            self.sweep.tape.helpers.add("range_len")
        else:
            count = info["count"]
            if info["taped"]:
                out.append(self.sweep.tape.pop("i", count, line))
            # Bounds were pushed start-then-step: pop step first.
            step = self._restore(info["step"], line, out)
            start = self._restore(info["start"], line, out)
            out += self._pop_hoisted(node)
        last = ast.BinOp(load(count), ast.Sub(), const(1))
        if is_constant(start, 0) and is_constant(step, 1):
            return out + self._skip_when_zero(
                node, self._countdown(var, last, const(0), body, line), loops)
        k = self.sweep.namer.fresh("_k")
        index = ast.BinOp(start, ast.Add(), ast.BinOp(load(k), ast.Mult(), step))
        body = [with_line(assign(var, index), line)] + body
        return out + self._skip_when_zero(
            node, self._countdown(None, last, const(0), body, line, counter=k), loops)

    def _countdown(self, var: str | None, first: ast.expr, lowest: ast.expr,
                   body: list[ast.stmt], line, counter: str | None = None
                   ) -> list[ast.stmt]:
        """A loop running `body` for the counter from `first` down to `lowest`, as
        `while _k >= lowest: var = _k; ...; _k -= 1` (no `var = _k` if the body does
        not read it) rather than `for var in range(first, lowest - 1, -1)`: LLVM
        cannot tell that the variable of Numba's descending range loop is nonnegative,
        so every array index taken with it pays a negative-index wraparound (and a
        register for the array's shape). The while test tells it (the scalar GMM's
        gradient: 3.04x -> 2.86x its forward). The
        counter is a fresh name: on zero trips the loop variable keeps its value, as
        after the `for`. `lowest` is evaluated once, before the loop, unless it is a
        constant or a name the body does not assign."""
        k = counter or self.sweep.namer.fresh("_k")
        pre = [with_line(assign(k, first), line)]
        stored = {n.id for st in body for n in ast.walk(st)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        if not (isinstance(lowest, ast.Constant)
                or isinstance(lowest, ast.Name) and lowest.id not in stored):
            low = self.sweep.namer.fresh("_lo")
            pre.append(with_line(assign(low, lowest), line))
            lowest = load(low)
        read = {n.id for st in body for n in ast.walk(st)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        inner = ([with_line(assign(var, load(k)), line)] if var in read else []) + body
        # no line of its own: a comment repeating the loop's line would split the body
        inner.append(with_line(ast.AugAssign(ast.Name(k, ast.Store()), ast.Sub(), const(1)), None))
        test = ast.Compare(load(k), [ast.GtE()], [lowest])
        loop = with_line(ast.While(test, inner, []), line)
        loop.counter = k
        return pre + [loop]

    def _skip_when_zero(self, node: ast.stmt, stmts: list[ast.stmt], loops: list[ast.stmt]
                        ) -> list[ast.stmt]:
        """`stmts` (the reverse of `node`: the loop, after what sets its counter), run
        only if an adjoint flowing into it is nonzero. The reverse of a loop is linear
        in the adjoints of the scalars the loop assigns: when they are all 0 at its start,
        every term it adds is 0 and every adjoint it sets stays 0, so skipping it changes
        nothing. The test reads the
        adjoints the body may read before setting them, and those of variables also used
        outside the loop (the sweep reads them after it); the adjoint of a temporary of
        the body, set before it is read, need not be 0. kmeans' distance loop of a
        centroid that is not the nearest, or the terms of a max that lost, are skipped
        so. Only for a loop inside another loop (there the test may skip most runs;
        around a loop that runs once it would only cost a line), that pops nothing
        (skipping must not desynchronize the tapes) and whose forward writes no active
        array (an array adjoint is not cheap to test)."""
        if not loops or any(isinstance(n, ast.Call) and (
                isinstance(n.func, ast.Name) and n.func.id == "pop"
                or isinstance(n.func, ast.Attribute) and n.func.attr == "pop")
               for st in stmts for n in ast.walk(st)):
            return stmts
        active = self.sweep.ana.active
        assigned: set[str] = set()
        for st in walk_stmts(node.body):
            base = store_of(st) if isinstance(st, ast.Assign) else None
            if base is not None:
                if base in active:
                    return stmts
                continue
            t = target_of(st)
            if t is None or t not in active:
                continue
            if self.sweep.typed.is_array(t):
                return stmts
            assigned.add(t)
        inside = {id(n) for n in ast.walk(node)}
        outside = {n.id for n in ast.walk(self.sweep.norm.tree)
                   if isinstance(n, ast.Name) and id(n) not in inside}
        mine = {self.sweep.adj[t]: t for t in assigned if t in self.sweep.adj}
        units = {u for per_loop in self.fused.values() for u in per_loop.values()}
        needs: list[str] = []
        loop = stmts[-1]
        reads_before_assigned(loop.body, {loop.counter}, needs)
        mentioned = {n.id for st in stmts for n in ast.walk(st) if isinstance(n, ast.Name)}
        tested = [n for n in needs if n in mine or n in units]
        tested += sorted(n for n in mentioned if n in mine and mine[n] in outside
                         and n not in tested)
        if not tested:
            return stmts
        test = ast.BoolOp(ast.Or(), [ast.Compare(load(n), [ast.NotEq()], [const(0.0)])
                                     for n in tested]) if len(tested) > 1 else \
            ast.Compare(load(tested[0]), [ast.NotEq()], [const(0.0)])
        return [with_line(ast.If(test, stmts, []), getattr(loop, "srcline", None))]

    def _rev_while(self, node: ast.While, loops: list[ast.stmt]) -> list[ast.stmt]:
        info = self.loop_info[id(node)]
        line = info["line"]
        out: list[ast.stmt] = []
        if info["taped"]:
            out.append(self.sweep.tape.pop("i", info["count"], line))
        out += self._pop_hoisted(node)
        k = self.sweep.namer.fresh("_k")
        body = self.rev_block(node.body, loops + [node])
        it = ast.Call(load("range"), [load(info["count"])], [])
        loop = with_line(ast.For(ast.Name(k, ast.Store()), it, body, []), line)
        loop.counter = k
        return out + self._skip_when_zero(node, [loop], loops)

    # the whole function --------------------------------------------------

    def run(self) -> ast.FunctionDef:
        tree = self.sweep.norm.tree
        self.out_name = self.sweep.namer.exact("_out")
        ret = tree.body[-1]
        assert isinstance(ret, ast.Return)
        seed = self.sweep.namer.exact("_seed")
        fwd = self.fwd_block(tree.body, [])
        rev = self.rev_block(tree.body[:-1], [])
        if self.ck is None:   # checkpointed loops run their forward sweep again in reverse
            drop_repeated(fwd, rev)
            arrays = {n for n in self.sweep.typed.types if self.sweep.typed.is_array(n)}
            drop_unread_restores(fwd, rev, [f.body for f in self.outlined], arrays,
                                 self.renamed)
        init = self.sweep.tape.init()
        adjoints: list[str] = []
        for stmt in walk_stmts(tree.body):
            t = target_of(stmt)
            if t in self.sweep.ana.active and t not in adjoints:
                adjoints.append(t)
        for w in self.sweep.wrt:
            if w not in adjoints:
                adjoints.append(w)
        mid: list[ast.stmt] = []
        tape_bytes = self.sweep.namer.exact("_tape_bytes")
        size = self.sweep.tape.size_in_bytes()
        mid.append(with_line(assign(tape_bytes, size), None))
        # the output's adjoint starts as the seed (a tuple output: one seed per value)
        parts = ret.value.elts if isinstance(ret.value, ast.Tuple) else [ret.value]
        seeds: dict[str, list[ast.expr]] = {}
        for k, part in enumerate(parts):
            if isinstance(part, ast.Name) and part.id in self.sweep.ana.active:
                seeds.setdefault(part.id, []).append(
                    ast.Subscript(load(seed), const(k), ast.Load())
                    if isinstance(ret.value, ast.Tuple) else load(seed))
        for name in adjoints:
            if name in self.sweep.no_init and name not in seeds:
                continue
            if name in seeds:
                value = seeds[name][0]
                for more in seeds[name][1:]:
                    value = ast.BinOp(value, ast.Add(), more)
                if self.sweep.typed.is_array(name):  # the reverse sweep adds into it
                    value = ast.Call(name_node("np.copy"), [value], [])
            elif name in self.unit_is_adjoint:
                # replaced by a unit adjoint before any use (_rev_fused): no array
                value = _zero_array(self.sweep.typed.types[name])
            elif name in self.sweep.dense:
                typ = self.sweep.typed.types[name]
                value = ast.Call(name_node("np.zeros"),
                                 [ast.Attribute(load(name), "shape", ast.Load()),
                                  name_node(f"np.{typ.dtype}")], [])
            elif self.sweep.typed.is_array(name):
                value = _zero_array(self.sweep.typed.types[name])
            else:
                value = const(0.0)
            mid.append(with_line(assign(self.sweep.b(name), value), None))
        # Arrays the function writes into are copied first, so that a gradient call
        # never changes its arguments; gradients of arrays have their argument's shape.
        params = [a.arg for a in tree.args.args]
        prologue: list[ast.stmt] = []
        stored = {store_of(s) for s in walk_stmts(tree.body)} - {None}
        for p in params:
            if p in stored and self.sweep.typed.is_array(p):
                prologue.append(with_line(assign(p, ast.Call(name_node("np.copy"), [load(p)], [])),
                                      None))
        grad_values = []
        for w in self.sweep.wrt:
            if w in self.sweep.dense:
                grad_values.append(load(self.sweep.b(w)))
            elif self.sweep.typed.is_array(w):
                like = w
                if any(pos >= 0 for pos in self.sweep.ana.assigned_at.get(w, [])):
                    like = self.sweep.namer.fresh(f"_{w}_in")
                    prologue.append(with_line(assign(like, load(w)), None))
                self.sweep.tape.helpers_np.add("ensure")
                grad_values.append(ast.Call(load("ensure"), [load(self.sweep.b(w)), load(like)], []))
            else:
                grad_values.append(load(self.sweep.b(w)))
        grads = ast.Tuple(grad_values, ast.Load())

        def returns(nbytes: ast.expr) -> ast.stmt:
            return with_line(ast.Return(ast.Tuple([load(self.out_name), copy.deepcopy(grads),
                                               nbytes, self.sweep.tape.tops()],
                                              ast.Load())), None)
        overflowed = self.sweep.tape.overflowed()
        if self.ck is not None and self.ck.used:
            # not one checkpoint fits in the limit (the forward sweep ran with one slot)
            small = ast.Compare(ast.Subscript(load(self.ck.param), const(2), ast.Load()),
                                [ast.Lt()], [const(0)])
            overflowed = small if overflowed is None else ast.BoolOp(ast.Or(),
                                                                     [overflowed, small])
        if overflowed is not None:
            # A tape was too small: say so (-1 bytes) with the sizes it needed; the
            # caller retries with more room.
            mid.append(with_line(ast.If(overflowed, [returns(const(-1))], []), None))
        extra: list[str] = []
        if self.ck is not None:
            extra.append(self.ck.param)
            for early in self.ck.early:   # checkpointed loops: a tape or the limit too small
                early.body.append(returns(const(-1)))
        args = ast.arguments(posonlyargs=[], args=[ast.arg(a.arg) for a in tree.args.args]
                             + [ast.arg(seed)] + [ast.arg(t) for t in self.sweep.tape.params()]
                             + [ast.arg(t) for t in extra],
                             vararg=None, kwonlyargs=[], kw_defaults=[],
                             kwarg=None, defaults=[])
        fn = ast.FunctionDef(name=f"{tree.name}_adjoint", args=args,
                             body=init + prologue + fwd + mid + rev + [returns(load(tape_bytes))],
                             decorator_list=[],
                             returns=None, type_comment=None, type_params=[], lineno=1,
                             col_offset=0)
        if self.ck is not None:   # the checkpoint helpers the function calls
            self.sweep.tape.helpers |= CHECKPOINT_RUNTIME & {
                n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
        # Variables read where some path has not assigned them yet (the reverse sweep
        # reads a branch's decision only when the branch ran): define them for Numba.
        params = {a.arg for a in tree.args.args} | {seed} | set(self.sweep.tape.params()) \
            | set(extra)
        local = set(_assigned_in_order(fn.body))
        needs: list[str] = []
        reads_before_assigned(fn.body, set(params), needs)
        # Trip counts too: Numba prunes a branch on a constant (k = 3; if k > 2:), and a
        # count assigned only in the pruned branch would be undefined in the reverse sweep.
        counts = {info["count"] for info in self.loop_info.values() if "count" in info}
        inits = [with_line(assign(n, const(0) if n in counts else self._zero(n)), None)
                 for n in needs if n in local
                 and (n in self.sweep.typed.types or n in self.sweep.adj.values() or n in counts)]
        fn.body[len(init):len(init)] = inits
        return fn


class _Renamer(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.names:
            node.id = self.names[node.id]
        return node


def _zero_array(typ) -> ast.expr:
    """A zero-size C array with `typ`'s ndim and dtype: an adjoint that is still zero."""
    shape = ast.Tuple([const(0)] * typ.ndim, ast.Load())
    return ast.Call(name_node("np.zeros"), [shape, name_node(f"np.{typ.dtype}")], [])


def _assigned_in_order(body: list[ast.stmt]) -> list[str]:
    names: list[str] = []
    for stmt in walk_stmts(body):
        t = target_of(stmt) or (stmt.target.id if isinstance(stmt, ast.For) else None)
        if t and t not in names:
            names.append(t)
    return names


def _has_real_break(loop: ast.stmt) -> bool:
    last = loop.body[-1] if loop.body else None
    return isinstance(last, ast.If) and any(isinstance(s, ast.Break) for s in last.body)


@dataclass
class Adjoint:
    """Stage 6's result: the adjoint function, the functions it calls (fused iterations'
    adjoints, emitted before it and compiled with it: jit.compiled), and the runtime
    names it uses."""

    fn: ast.FunctionDef
    outlined: list[ast.FunctionDef]
    runtime: set[str]

    @property
    def tapes(self) -> str:
        """The tape buffers fn takes after `_seed`: a subset of "fib", in order."""
        params = [a.arg for a in self.fn.args.args]
        return "".join(name[2] for name in params[params.index("_seed") + 1:]
                       if name in ("_tf", "_ti", "_tb"))

    @property
    def checkpointed(self) -> bool:
        """Whether fn takes the checkpoint array `_ckp` last (tape_limit)."""
        return self.fn.args.args[-1].arg == "_ckp"


def reverse(norm: Normalized, cap: Captured, typed: Typed, ana: Analysis,
            wrt: list[str], checkpoint: bool = False) -> Adjoint:
    rev = Reverse(norm, cap, typed, ana, wrt, checkpoint)
    fn = rev.run()
    for f in [fn, *rev.outlined]:
        hoist_ensures(f.body)
        drop_dead(f)
    return Adjoint(fn, rev.outlined, rev.sweep.tape.imports() | rev.sweep.tape.helpers_np)


def _ensure_of(stmt: ast.stmt) -> tuple[str, str] | None:
    """(b, x) for a statement ``b = ensure(b, x)``."""
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name) \
            and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Name) \
            and stmt.value.func.id == "ensure" and len(stmt.value.args) == 2 \
            and all(isinstance(a, ast.Name) for a in stmt.value.args) \
            and stmt.value.args[0].id == stmt.targets[0].id:
        return stmt.targets[0].id, stmt.value.args[1].id
    return None


def _bound_names(body: list[ast.stmt]) -> dict[str, list[ast.stmt]]:
    """Names (re)bound in a block, nested blocks included: name -> the statements."""
    out: dict[str, list[ast.stmt]] = {}
    for stmt in walk_stmts(body):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else \
            [stmt.target] if isinstance(stmt, (ast.AugAssign, ast.For)) else []
        for t in targets:
            for n in ast.walk(t) if isinstance(t, ast.Tuple) else [t]:
                if isinstance(n, ast.Name):
                    out.setdefault(n.id, []).append(stmt)
    return out


def hoist_ensures(body: list[ast.stmt]) -> None:
    """Move ``b = ensure(b, x)`` out of a loop that binds neither `x` nor `b` otherwise
    (element updates ``b[i] += ...`` keep it): the first one in the loop allocates, the
    others return `b` itself, and a zero-filled `b` means what the empty sentinel means.
    In place, innermost loops first, so an ensure leaves a loop nest entirely when it
    can (each one is a call with reference counting, at every element otherwise)."""
    j = 0
    while j < len(body):
        stmt = body[j]
        if isinstance(stmt, ast.If):
            hoist_ensures(stmt.body)
            hoist_ensures(stmt.orelse)
        if not isinstance(stmt, (ast.For, ast.While)):
            j += 1
            continue
        hoist_ensures(stmt.body)
        hoisted: list[ast.stmt] = []
        stmt.body = _without_ensures(stmt.body, _bound_names(stmt.body), hoisted, set())
        body[j:j] = hoisted
        j += len(hoisted) + 1


def _without_ensures(block: list[ast.stmt], bound: dict, hoisted: list[ast.stmt],
                     seen: set) -> list[ast.stmt]:
    """`block` without the ensures a loop binding `bound` can run before it (appended to
    `hoisted`, once each)."""
    kept = []
    for s in block:
        e = _ensure_of(s)
        if e is not None and e[1] not in bound and all(
                _ensure_of(o) == e for o in bound.get(e[0], [])):
            if e not in seen:
                seen.add(e)
                hoisted.append(s)
            continue
        if isinstance(s, ast.If):
            s.body = _without_ensures(s.body, bound, hoisted, seen)
            s.orelse = _without_ensures(s.orelse, bound, hoisted, seen)
            if not s.body and not s.orelse:
                continue   # its test is a name: nothing else to run
            if not s.body:
                s.body = [with_line(ast.Pass(), getattr(s, "srcline", None))]
        kept.append(s)
    return kept


# Calls without effects whose result alone matters (a dead one can go): the runtime's
# shape helpers and allocations the reverse sweep replays for a shape.
_PURE_CALLS = frozenset({"ensure", "empty_adjoint", "np.empty", "np.zeros", "np.ones",
                         "np.copy", "range_len", "len"})


def _pure(value: ast.expr) -> bool:
    for n in ast.walk(value):
        if isinstance(n, ast.Call):
            name = dotted(n.func) or ""
            if name not in _PURE_CALLS and not name.startswith("shapes."):
                return False
    return True


def drop_dead(fn: ast.FunctionDef) -> None:
    """Remove assignments whose value no later statement reads, when computing it has no
    effect (arithmetic, shapes, allocations, `ensure`): what the reverse sweep replays
    only for a shape that no adjoint ends up using (`f = np.empty(n)` before
    `b_f = empty_adjoint(b_f)`). A backward liveness pass over the structured code."""
    fn.body = _sweep_dead(fn.body, set(), set())


def _uses(node: ast.AST | None) -> set[str]:
    if node is None:
        return set()
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)}


def _defs(stmt: ast.stmt) -> set[str]:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else []
    return {n.id for t in targets if not isinstance(t, ast.Subscript)
            for n in ast.walk(t) if isinstance(n, ast.Name)}


def _removable(stmt: ast.stmt, live: set[str]) -> bool:
    return isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
        and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id not in live \
        and _pure(stmt.value)


def _loop_out(stmt: ast.stmt, live: set[str]) -> set[str]:
    """What is live at the end of a loop's body, given `live` after the loop."""
    head = _uses(stmt.test) if isinstance(stmt, ast.While) else set()
    out = live | head
    while True:
        body_in = _live_in(stmt.body, out, out)
        if isinstance(stmt, ast.For):
            body_in = body_in - {stmt.target.id}
        new = live | head | body_in
        if new == out:
            return out
        out = new


def _live_in(body: list[ast.stmt], live: set[str], jump: set[str]) -> set[str]:
    """The names live before `body` when `live` are after it (`jump`: at a break or
    continue)."""
    live = set(live)
    for stmt in reversed(body):
        live = _stmt_in(stmt, live, jump)
    return live


def _stmt_in(stmt: ast.stmt, live: set[str], jump: set[str]) -> set[str]:
    if isinstance(stmt, ast.If):
        return _live_in(stmt.body, live, jump) | _live_in(stmt.orelse, live, jump) \
            | _uses(stmt.test)
    if isinstance(stmt, (ast.For, ast.While)):
        out = _loop_out(stmt, live)
        extra = _uses(stmt.iter) if isinstance(stmt, ast.For) else set()
        return (out - ({stmt.target.id} if isinstance(stmt, ast.For) else set())) | extra \
            | live
    if isinstance(stmt, (ast.Break, ast.Continue)):
        return set(jump)
    if isinstance(stmt, ast.Return):
        return _uses(stmt.value)
    if _removable(stmt, live):
        return live
    if isinstance(stmt, ast.AugAssign):   # b += g reads b
        return live | _uses(stmt) | {n.id for n in ast.walk(stmt.target)
                                     if isinstance(n, ast.Name)}
    return (live - _defs(stmt)) | _uses(stmt)


def _sweep_dead(body: list[ast.stmt], live: set[str], jump: set[str]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    live = set(live)
    for stmt in reversed(body):
        if isinstance(stmt, ast.If):
            stmt.body = _sweep_dead(stmt.body, live, jump) or [with_line(
                ast.Pass(), getattr(stmt, "srcline", None))]
            stmt.orelse = _sweep_dead(stmt.orelse, live, jump)
        elif isinstance(stmt, (ast.For, ast.While)):
            body_out = _loop_out(stmt, live)
            stmt.body = _sweep_dead(stmt.body, body_out, body_out) or [with_line(
                ast.Pass(), getattr(stmt, "srcline", None))]
        elif _removable(stmt, live):
            continue
        live = _stmt_in(stmt, live, jump)
        out.append(stmt)
    out.reverse()
    return out
