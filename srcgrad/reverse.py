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
from dataclasses import dataclass, field

from .analyze import Analysis, rule_key
from .capture import Captured
from .core import assign, const, load, name_node, operands, target_of, walk_stmts
from .errors import MissingRuleError
from .infer import Typed
from .normalize import Normalized
from .rules import rule_for

TAPE_CAPACITY = 64


@dataclass
class _Plan:
    saves: list[str] = field(default_factory=list)
    replay: list[ast.stmt] = field(default_factory=list)
    adjoint: list[ast.stmt] = field(default_factory=list)


def _stmt(node: ast.stmt, line: int | None) -> ast.stmt:
    node.srcline = line
    return node


def _items(body: list[ast.stmt]) -> list[list[ast.stmt] | ast.stmt]:
    """Split a block into segments (lists of assignments) and control statements."""
    items: list[list[ast.stmt] | ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            if items and isinstance(items[-1], list):
                items[-1].append(stmt)
            else:
                items.append([stmt])
        else:
            items.append(stmt)
    return items


class _Subst(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, ast.expr]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.mapping:
            import copy
            return copy.deepcopy(self.mapping[node.id])
        return node


def _substitute(template: ast.expr, mapping: dict[str, ast.expr]) -> ast.expr:
    import copy
    return _Subst(mapping).visit(copy.deepcopy(template))


class Reverse:
    def __init__(self, norm: Normalized, cap: Captured, typed: Typed, ana: Analysis,
                 wrt: list[str]) -> None:
        self.norm = norm
        self.cap = cap
        self.typed = typed
        self.ana = ana
        self.wrt = wrt
        self.namer = norm.namer
        self.adj: dict[str, str] = {}
        self.plans: dict[int, _Plan] = {}
        self.tapes: set[str] = set()
        self.decision: dict[int, str | None] = {}   # id(if) -> name popped into
        self.loop_info: dict[int, dict] = {}
        self.tape_names = {k: (self.namer.exact(f"_t{k}"), self.namer.exact(f"_n{k}"))
                           for k in "fib"}
        self.no_init: set[str] = set()
        self.hoisted: dict[int, list[str]] = {}  # id(loop) -> values taped at its entry
        self.assign_count: dict[str, int] = {}
        for stmt in walk_stmts(norm.tree.body):
            t = target_of(stmt)
            if t:
                self.assign_count[t] = self.assign_count.get(t, 0) + 1

    # names ---------------------------------------------------------------

    def b(self, name: str) -> str:
        if name not in self.adj:
            self.adj[name] = self.namer.exact(f"b_{name}")
        return self.adj[name]

    def _single_use(self, name: str, segment: list[ast.stmt]) -> bool:
        """A temporary written once and read once, both inside `segment`."""
        if name not in self.norm.temps or self.assign_count.get(name) != 1 \
                or self.ana.reads.get(name) != 1:
            return False
        in_seg = [s for s in segment if target_of(s) == name]
        return bool(in_seg)

    # tape ----------------------------------------------------------------

    def push(self, kind: str, value: ast.expr, line: int | None) -> ast.stmt:
        self.tapes.add(kind)
        buf, top = self.tape_names[kind]
        call = ast.Call(load("push"), [load(buf), load(top), value], [])
        return _stmt(assign(top, call), line)

    def pop(self, kind: str, into: str, line: int | None) -> ast.stmt:
        self.tapes.add(kind)
        buf, top = self.tape_names[kind]
        call = ast.Call(load("pop"), [load(buf), load(top)], [])
        node = ast.Assign([ast.Tuple([ast.Name(into, ast.Store()), ast.Name(top, ast.Store())],
                                     ast.Store())], call)
        return _stmt(node, line)

    def reserve(self, counts: dict[str, int], n: ast.expr | None, line) -> list[ast.stmt]:
        """Make room on each tape for `n` times `counts` more values."""
        out = []
        for kind in "fib":
            if counts.get(kind):
                buf, top = self.tape_names[kind]
                c = const(counts[kind])
                size = c if n is None else (n if counts[kind] == 1 else
                                            ast.BinOp(n, ast.Mult(), c))
                call = ast.Call(load("reserve"), [load(buf), load(top), size], [])
                self.runtime_names.add("reserve")
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
                    self.runtime_names.add("range_len")
                out.extend(self.reserve(self.count_pushes(stmt.body), trips, line))
            out.append(stmt)
        flush()
        return out

    def count_pushes(self, body: list[ast.stmt]) -> dict[str, int]:
        """Most values one pass through `body` pushes per tape, leaving out the
        bodies of nested loops (which reserve for themselves)."""
        tops = {top: kind for kind, (_, top) in self.tape_names.items()}
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

    # structure -----------------------------------------------------------

    def needs_rev(self, item) -> bool:
        if isinstance(item, list):
            return any(target_of(s) in self.ana.active for s in item)
        if isinstance(item, ast.If):
            return self.block_needs_rev(item.body) or self.block_needs_rev(item.orelse)
        if isinstance(item, (ast.For, ast.While)):
            return self.block_needs_rev(item.body)
        return False

    def block_needs_rev(self, body: list[ast.stmt]) -> bool:
        return any(self.needs_rev(item) for item in _items(body))

    # segments ------------------------------------------------------------

    def plan(self, seg: list[ast.stmt], loops: list[ast.stmt]) -> _Plan:
        key = id(seg[0])
        if key in self.plans:
            return self.plans[key]
        plan = _Plan()
        self.plans[key] = plan
        active = self.ana.active
        # Versions: (name, k) is the k-th value `name` takes in the segment; 0 = on entry.
        version: dict[str, int] = {}
        arg_versions: list[list[tuple[str, int] | None]] = []
        target_version: list[tuple[str, int]] = []
        for stmt in seg:
            ops = operands(stmt.value)
            arg_versions.append([(a.id, version.get(a.id, 0)) if isinstance(a, ast.Name)
                                 else None for a in ops])
            t = target_of(stmt)
            version[t] = version.get(t, 0) + 1
            target_version.append((t, version[t]))
        last = dict(version)
        defined_by = {tv: j for j, tv in enumerate(target_version)}

        # Adjoint contributions (in reverse order) and the values they need.
        needed: set[tuple[str, int]] = set()
        contribs: list[tuple[int, list[tuple[str, ast.expr]]]] = []
        for j in range(len(seg) - 1, -1, -1):
            stmt = seg[j]
            t = target_of(stmt)
            if t not in active:
                continue
            key_ = rule_key(stmt.value)
            rule = rule_for(key_)
            ops = operands(stmt.value)
            act = [(i, a.id) for i, a in enumerate(ops)
                   if isinstance(a, ast.Name) and a.id in active]
            if rule is None:
                if act:
                    raise self.cap.error(
                        MissingRuleError, _located(stmt),
                        f"no derivative rule for '{key_}'",
                        hint="use a function srcgrad knows (see docs/language.md), or "
                             "wrap the call in srcgrad.stop_gradient if it should not "
                             "carry a gradient")
                contribs.append((j, []))
                continue
            exprs = []
            for i, name in act:
                if i >= len(rule.partials) or rule.partials[i] is None:
                    continue
                mapping: dict[str, ast.expr] = {}
                for n in rule.needs(i):
                    if n == "ans":
                        needed.add(target_version[j])
                        mapping["ans"] = ("ver", target_version[j])
                    else:
                        k = rule.params.index(n)
                        arg = ops[k]
                        if isinstance(arg, ast.Name):
                            needed.add(arg_versions[j][k])
                            mapping[n] = ("ver", arg_versions[j][k])
                        else:
                            mapping[n] = ("expr", arg)
                exprs.append((name, rule.parsed[i], mapping))
            contribs.append((j, exprs))

        # Values defined inside the segment are recomputed: close over their inputs.
        replay_idx: set[int] = set()
        work = [nv for nv in needed if nv[1] > 0]
        while work:
            nv = work.pop()
            j = defined_by[nv]
            if j in replay_idx:
                continue
            replay_idx.add(j)
            for av in arg_versions[j]:
                if av is not None and av not in needed:
                    needed.add(av)
                    if av[1] > 0:
                        work.append(av)

        # Values entering the segment: tape those that may be overwritten.
        at = self.ana.pos(seg[0])
        loop_vars = {lp.target.id for lp in loops if isinstance(lp, ast.For)}
        for name in sorted({n for n, k in needed if k == 0},
                           key=lambda n: (self._first_read(seg, n), n)):
            if name in self.cap.constants or name in loop_vars:
                continue
            if self.ana.stable(name, at, loops):
                continue
            # Not written inside some enclosing loop: tape it once per entry to the
            # outermost such loop instead of once per execution of the segment.
            outer = next((j for j, lp in enumerate(loops)
                          if not self.ana.assigned_within(name, lp)), None)
            if outer is None:
                plan.saves.append(name)
                continue
            loop = loops[outer]
            if not self.ana.stable(name, self.ana.pos(loop), loops[:outer]):
                hoisted = self.hoisted.setdefault(id(loop), [])
                if name not in hoisted:
                    hoisted.append(name)

        # Names of recomputed values.
        names: dict[tuple[str, int], str] = {}

        def vname(nv: tuple[str, int]) -> str:
            if nv[1] == 0:
                return nv[0]
            if nv not in names:
                others = [m for m in needed if m[0] == nv[0] and m != nv]
                if nv[1] == last[nv[0]] and not others:
                    names[nv] = nv[0]
                else:
                    names[nv] = self.namer.fresh(f"{nv[0]}_")
            return names[nv]

        for j in sorted(replay_idx):
            stmt = seg[j]
            value = _substitute(stmt.value, {})
            if isinstance(value, ast.Name):
                value = load(vname(arg_versions[j][0]))
            else:
                for slot, av in zip(_operand_slots(value), arg_versions[j]):
                    if av is not None:
                        slot.set(load(vname(av)))
            plan.replay.append(_stmt(assign(vname(target_version[j]), value),
                                     stmt.srcline))

        # Adjoint statements.
        for j, exprs in contribs:
            stmt = seg[j]
            t = target_of(stmt)
            line = stmt.srcline
            bt = self.b(t)
            selfs = [e for e in exprs if e[0] == t]
            keep_bt = len(selfs) == 1 and isinstance(selfs[0][1], ast.Name) \
                and selfs[0][1].id == "g"
            if keep_bt:  # t = t + ...: the adjoint of t passes through unchanged
                exprs = [e for e in exprs if e[0] != t]
            self_ref = any(name == t for name, _, _ in exprs)
            g: ast.expr = load(bt)
            out: list[ast.stmt] = []
            if self_ref and len(exprs) > 1:
                gname = self.namer.fresh("_g")
                out.append(_stmt(assign(gname, load(bt)), line))
                g = load(gname)
            assigned_here: set[str] = set()
            for name, template, mapping in exprs:
                subst = {"g": g}
                for k, v in mapping.items():
                    subst[k] = load(vname(v[1])) if v[0] == "ver" else v[1]
                expr = _substitute(template, subst)
                ba = self.b(name)
                first_write = (name == t and name not in assigned_here) or (
                    name != t and self._single_use(name, seg) and name not in assigned_here)
                if first_write and name != t:
                    self.no_init.add(name)
                if first_write:
                    out.append(_stmt(assign(ba, expr), line))
                else:
                    out.append(_stmt(ast.AugAssign(ast.Name(ba, ast.Store()), ast.Add(),
                                                   expr), line))
                assigned_here.add(name)
            if not self_ref and not keep_bt and not self._single_use(t, seg) \
                    and not self._adjoint_dead_after(t, stmt, loops):
                out.append(_stmt(assign(bt, const(0.0)), line))
            plan.adjoint += out
        plan.adjoint = _fold_zeroing(plan.adjoint)
        return plan

    def _adjoint_dead_after(self, name: str, stmt: ast.stmt, loops: list[ast.stmt]) -> bool:
        """Once `stmt` (which writes `name`) is reversed, is b_name never read again?
        True outside loops when no earlier statement reads or writes `name` (whose
        adjoints would read b_name) and it is not a gradient the function returns."""
        at = self.ana.pos(stmt)
        return not loops and name not in self.wrt \
            and self.ana.first_read.get(name, 1 << 60) >= at \
            and all(p >= at for p in self.ana.assigned_at.get(name, []))

    @staticmethod
    def _first_read(seg: list[ast.stmt], name: str) -> int:
        for j, stmt in enumerate(seg):
            if any(isinstance(a, ast.Name) and a.id == name for a in operands(stmt.value)):
                return j
        return len(seg)

    # forward sweep -------------------------------------------------------

    def fwd_block(self, body: list[ast.stmt], loops: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for item in _items(body):
            if isinstance(item, list):
                if self.needs_rev(item):
                    plan = self.plan(item, loops)
                    for name in plan.saves:
                        out.append(self.push(self.typed.kind(name), load(name),
                                             item[0].srcline))
                out += item
            elif isinstance(item, ast.If):
                out += self._fwd_if(item, loops)
            elif isinstance(item, ast.For):
                out += self._fwd_for(item, loops)
            elif isinstance(item, ast.While):
                out += self._fwd_while(item, loops)
            elif isinstance(item, ast.Return):
                out.append(_stmt(assign(self.out_name, item.value), item.srcline))
            else:
                out.append(item)
        return out

    def _fwd_if(self, node: ast.If, loops: list[ast.stmt]) -> list[ast.stmt]:
        body = self.fwd_block(node.body, loops)
        orelse = self.fwd_block(node.orelse, loops)
        if self.needs_rev(node):
            test = node.test.id
            if self.ana.stable(test, self.ana.pos(node), loops):
                self.decision[id(node)] = None
            else:
                # The branch taken is pushed at the end of the branch, so that the
                # reverse sweep pops it before replaying the branch's own pops.
                reuse = test in self.norm.temps and test.startswith("_c")
                self.decision[id(node)] = test if reuse else self.namer.fresh("_d")
                body.append(self.push("b", const(True), node.srcline))
                orelse.append(self.push("b", const(False), node.srcline))
        return [_stmt(ast.If(node.test, body, orelse), node.srcline)]

    def _bound(self, atom: ast.expr, at: int, loops, pre: list, post: list, line):
        """A loop bound as the reverse sweep can read it: the atom itself when
        stable, else a copy made at loop entry (taped after the loop if nested)."""
        if not isinstance(atom, ast.Name) or atom.id in self.cap.constants \
                or self.ana.stable(atom.id, at, loops):
            return atom
        copy_name = self.namer.fresh("_lo")
        pre.append(_stmt(assign(copy_name, atom), line))
        if loops:
            post.append(self.push(self.typed.kind(atom.id), load(copy_name), line))
            return ("pop", copy_name, self.typed.kind(atom.id))
        return load(copy_name)

    def _fwd_for(self, node: ast.For, loops: list[ast.stmt]) -> list[ast.stmt]:
        from .core import range_args
        body = self.fwd_block(node.body, loops + [node])
        line = node.srcline
        if not self.needs_rev(node):
            return [_stmt(ast.For(node.target, node.iter, body, []), line)]
        start, stop, step = range_args(node)
        at = self.ana.pos(node)
        pre: list[ast.stmt] = []
        post: list[ast.stmt] = []
        info: dict = {"line": line}
        has_break = _has_real_break(node)
        all_stable = all(not isinstance(a, ast.Name) or a.id in self.cap.constants
                         or self.ana.stable(a.id, at, loops) for a in (start, stop, step))
        if all_stable and not has_break:
            info.update(kind="bounds", start=start, stop=stop, step=step)
        else:
            info["start"] = self._bound(start, at, loops, pre, post, line)
            info["step"] = self._bound(step, at, loops, pre, post, line)
            count = self.namer.fresh("_n")
            info.update(kind="count", count=count, taped=bool(loops))
            if has_break:
                pre.append(_stmt(assign(count, const(0)), line))
                body.insert(0, _stmt(ast.AugAssign(ast.Name(count, ast.Store()), ast.Add(),
                                                   const(1)), line))
            else:
                pre.append(_stmt(assign(count, ast.Call(load("range_len"),
                                                        [start, stop, step], [])), line))
                self.runtime_names.add("range_len")
        self.loop_info[id(node)] = info
        # Values the body reads but never writes are taped once, after the loop
        # (they are unchanged by it), so the reverse sweep pops them before the body.
        post[:0] = self._push_hoisted(node)
        out = pre + [_stmt(ast.For(node.target, node.iter, body, []), line)]
        out += post
        if info["kind"] == "count" and info["taped"]:
            out.append(self.push("i", load(info["count"]), line))
        return out

    def _fwd_while(self, node: ast.While, loops: list[ast.stmt]) -> list[ast.stmt]:
        body = self.fwd_block(node.body, loops + [node])
        line = node.srcline
        if not self.needs_rev(node):
            return [_stmt(ast.While(node.test, body, []), line)]
        count = self.namer.fresh("_n")
        body.insert(0, _stmt(ast.AugAssign(ast.Name(count, ast.Store()), ast.Add(),
                                           const(1)), line))
        self.loop_info[id(node)] = {"count": count, "taped": bool(loops), "line": line}
        out = [_stmt(assign(count, const(0)), line),
               _stmt(ast.While(node.test, body, []), line)] + self._push_hoisted(node)
        if loops:
            out.append(self.push("i", load(count), line))
        return out

    def _zero(self, name: str) -> ast.expr:
        from numba import types as nbtypes
        typ = self.typed.types.get(name)
        if isinstance(typ, nbtypes.Boolean):
            return const(False)
        if isinstance(typ, nbtypes.Integer):
            return const(0)
        if isinstance(typ, nbtypes.Float) and typ.bitwidth == 32:
            return ast.Call(name_node("np.float32"), [const(0.0)], [])
        return const(0.0)

    def _push_hoisted(self, loop: ast.stmt) -> list[ast.stmt]:
        return [self.push(self.typed.kind(n), load(n), loop.srcline)
                for n in self.hoisted.get(id(loop), [])]

    def _pop_hoisted(self, loop: ast.stmt) -> list[ast.stmt]:
        return [self.pop(self.typed.kind(n), n, loop.srcline)
                for n in reversed(self.hoisted.get(id(loop), []))]

    # reverse sweep -------------------------------------------------------

    def rev_block(self, body: list[ast.stmt], loops: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for item in reversed(_items(body)):
            if not self.needs_rev(item):
                continue
            if isinstance(item, list):
                plan = self.plan(item, loops)
                line = item[0].srcline
                for name in reversed(plan.saves):
                    out.append(self.pop(self.typed.kind(name), name, line))
                out += plan.replay
                out += plan.adjoint
            elif isinstance(item, ast.If):
                into = self.decision[id(item)]
                test = item.test.id
                if into is not None:
                    out.append(self.pop("b", into, item.srcline))
                    test = into
                out.append(_stmt(ast.If(load(test), self.rev_block(item.body, loops),
                                        self.rev_block(item.orelse, loops)), item.srcline))
            elif isinstance(item, ast.For):
                out += self._rev_for(item, loops)
            elif isinstance(item, ast.While):
                out += self._rev_while(item, loops)
        return out

    def _restore(self, value, line, out: list[ast.stmt]) -> ast.expr:
        if isinstance(value, tuple):
            _, into, kind = value
            out.append(self.pop(kind, into, line))
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
            if _is_const(step, 1):
                first = ast.BinOp(stop, ast.Sub(), const(1))
                bound = ast.BinOp(start, ast.Sub(), const(1)) \
                    if not _is_const(start, 0) else const(-1)
                it = ast.Call(load("range"), [first, bound, const(-1)], [])
                return out + [_stmt(ast.For(ast.Name(var, ast.Store()), it, body, []), line)]
            count = self.namer.fresh("_n")
            out.append(_stmt(assign(count, ast.Call(load("range_len"), [start, stop, step],
                                                    [])), line))
            self.runtime_names.add("range_len")
        else:
            count = info["count"]
            if info["taped"]:
                out.append(self.pop("i", count, line))
            # Bounds were pushed start-then-step: pop step first.
            step = self._restore(info["step"], line, out)
            start = self._restore(info["start"], line, out)
            out += self._pop_hoisted(node)
        k = self.namer.fresh("_k")
        it = ast.Call(load("range"), [ast.BinOp(load(count), ast.Sub(), const(1)),
                                      const(-1), const(-1)], [])
        if _is_const(start, 0) and _is_const(step, 1):
            return out + [_stmt(ast.For(ast.Name(var, ast.Store()), it, body, []), line)]
        index = ast.BinOp(start, ast.Add(), ast.BinOp(load(k), ast.Mult(), step))
        body = [_stmt(assign(var, index), line)] + body
        return out + [_stmt(ast.For(ast.Name(k, ast.Store()), it, body, []), line)]

    def _rev_while(self, node: ast.While, loops: list[ast.stmt]) -> list[ast.stmt]:
        info = self.loop_info[id(node)]
        line = info["line"]
        out: list[ast.stmt] = []
        if info["taped"]:
            out.append(self.pop("i", info["count"], line))
        out += self._pop_hoisted(node)
        k = self.namer.fresh("_k")
        body = self.rev_block(node.body, loops + [node])
        it = ast.Call(load("range"), [load(info["count"])], [])
        return out + [_stmt(ast.For(ast.Name(k, ast.Store()), it, body, []), line)]

    # the whole function --------------------------------------------------

    def run(self) -> ast.FunctionDef:
        tree = self.norm.tree
        self.runtime_names: set[str] = set()
        self.out_name = self.namer.exact("_out")
        ret = tree.body[-1]
        assert isinstance(ret, ast.Return)
        seed = self.namer.exact("_seed")
        fwd = self.place_reserves(self.fwd_block(tree.body, []))
        rev = self.rev_block(tree.body[:-1], [])
        line0 = tree.srcline
        init: list[ast.stmt] = []
        for kind in "fib":
            if kind in self.tapes:
                buf, top = self.tape_names[kind]
                size = const(TAPE_CAPACITY)
                init.append(_stmt(assign(buf, ast.Call(load(f"tape_{kind}"), [size], [])),
                                  None))
                init.append(_stmt(assign(top, const(0)), None))
        adjoints: list[str] = []
        for stmt in walk_stmts(tree.body):
            t = target_of(stmt)
            if t in self.ana.active and t not in adjoints:
                adjoints.append(t)
        for w in self.wrt:
            if w not in adjoints:
                adjoints.append(w)
        mid: list[ast.stmt] = []
        tape_bytes = self.namer.exact("_tape_bytes")
        size = const(0)
        for kind, width in (("f", 8), ("i", 8), ("b", 1)):
            if kind in self.tapes:
                term = ast.BinOp(load(self.tape_names[kind][1]), ast.Mult(), const(width)) \
                    if width > 1 else load(self.tape_names[kind][1])
                size = term if _is_const(size, 0) else ast.BinOp(size, ast.Add(), term)
        mid.append(_stmt(assign(tape_bytes, size), None))
        seeded = ret.value.id if isinstance(ret.value, ast.Name) \
            and ret.value.id in self.ana.active else None
        for name in adjoints:
            if name in self.no_init and name != seeded:
                continue
            mid.append(_stmt(assign(self.b(name), load(seed) if name == seeded
                                    else const(0.0)), None))
        grads = ast.Tuple([load(self.b(w)) for w in self.wrt], ast.Load())
        final = _stmt(ast.Return(ast.Tuple([load(self.out_name), grads, load(tape_bytes)],
                                           ast.Load())), None)
        args = ast.arguments(posonlyargs=[], args=[ast.arg(a.arg) for a in tree.args.args]
                             + [ast.arg(seed)], vararg=None, kwonlyargs=[], kw_defaults=[],
                             kwarg=None, defaults=[])
        fn = ast.FunctionDef(name=f"{tree.name}_adjoint", args=args,
                             body=init + fwd + mid + rev + [final], decorator_list=[],
                             returns=None, type_comment=None, type_params=[], lineno=1,
                             col_offset=0)
        # Variables read where some path has not assigned them yet (the reverse sweep
        # reads a branch's decision only when the branch ran): define them for Numba.
        params = {a.arg for a in tree.args.args} | {seed}
        local = set(_assigned_in_order(fn.body))
        needs: list[str] = []
        _scan_reads(fn.body, set(params), needs)
        inits = [_stmt(assign(n, self._zero(n)), None) for n in needs if n in local]
        fn.body[len(init):len(init)] = inits
        return fn


def _fold_zeroing(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """`b = 0.0` followed (before any other use of b) by `b += e` becomes `b = e`."""
    out = list(stmts)
    k = 0
    while k < len(out):
        stmt = out[k]
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant) \
                and stmt.value.value == 0.0 and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            for m in range(k + 1, len(out)):
                later = out[m]
                uses = {n.id for n in ast.walk(later) if isinstance(n, ast.Name)}
                if name not in uses:
                    continue
                if isinstance(later, ast.AugAssign) and later.target.id == name \
                        and isinstance(later.op, ast.Add) and name not in {
                            n.id for n in ast.walk(later.value) if isinstance(n, ast.Name)}:
                    new = assign(name, later.value, getattr(later, "srcline", None))
                    out[m] = new
                    del out[k]
                    k -= 1
                break
        k += 1
    return out


class _Slot:
    def __init__(self, parent, field_name, index=None):
        self.parent, self.field, self.index = parent, field_name, index

    def set(self, node):
        if self.index is None:
            setattr(self.parent, self.field, node)
        else:
            getattr(self.parent, self.field)[self.index] = node


def _operand_slots(value: ast.expr) -> list[_Slot]:
    """Places in a core right-hand side holding its operands, in `operands` order."""
    if isinstance(value, ast.BinOp):
        return [_Slot(value, "left"), _Slot(value, "right")]
    if isinstance(value, ast.UnaryOp):
        return [_Slot(value, "operand")]
    if isinstance(value, ast.Compare):
        return [_Slot(value, "left")] + [_Slot(value, "comparators", i)
                                         for i in range(len(value.comparators))]
    if isinstance(value, ast.Call):
        return [_Slot(value, "args", i) for i in range(len(value.args))]
    return []


def _assigned_in_order(body: list[ast.stmt]) -> list[str]:
    names: list[str] = []
    for stmt in walk_stmts(body):
        t = target_of(stmt) or (stmt.target.id if isinstance(stmt, ast.For) else None)
        if t and t not in names:
            names.append(t)
    return names


def _scan_reads(body: list[ast.stmt], defined: set[str], needs: list[str]) -> set[str]:
    """Collect in `needs` the names read at a point where some path has not assigned
    them; return the names assigned on every path through `body`."""
    def read(node: ast.AST | None) -> None:
        for n in ast.walk(node) if node is not None else ():
            if isinstance(n, ast.Name) and n.id not in defined and n.id not in needs:
                needs.append(n.id)

    for stmt in body:
        if isinstance(stmt, ast.Assign):
            read(stmt.value)
            for t in stmt.targets:
                defined = defined | {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(stmt, ast.AugAssign):
            read(stmt.value)
            read(ast.Name(stmt.target.id, ast.Load()))
        elif isinstance(stmt, ast.If):
            read(stmt.test)
            defined = _scan_reads(stmt.body, set(defined), needs) \
                & _scan_reads(stmt.orelse, set(defined), needs)
        elif isinstance(stmt, ast.For):
            read(stmt.iter)
            _scan_reads(stmt.body, defined | {stmt.target.id}, needs)
        elif isinstance(stmt, ast.While):
            read(stmt.test)
            _scan_reads(stmt.body, set(defined), needs)
        elif isinstance(stmt, ast.Return):
            read(stmt.value)
    return defined


def _contains_loop(stmt: ast.stmt) -> bool:
    return any(isinstance(s, (ast.For, ast.While)) for s in _walk_one(stmt))


def _walk_one(stmt: ast.stmt):
    yield stmt
    for child in getattr(stmt, "body", []) + getattr(stmt, "orelse", []):
        yield from _walk_one(child)


def _is_const(node, value) -> bool:
    return isinstance(node, ast.Constant) and node.value == value \
        and not isinstance(node.value, bool)


def _has_real_break(loop: ast.stmt) -> bool:
    last = loop.body[-1] if loop.body else None
    return isinstance(last, ast.If) and any(isinstance(s, ast.Break) for s in last.body)


def _located(stmt: ast.stmt) -> ast.stmt:
    stmt.lineno = stmt.srcline or 0
    stmt.col_offset = 0
    return stmt


def reverse(norm: Normalized, cap: Captured, typed: Typed, ana: Analysis,
            wrt: list[str]) -> tuple[ast.FunctionDef, set[str], set[str]]:
    rev = Reverse(norm, cap, typed, ana, wrt)
    fn = rev.run()
    helpers = {f"tape_{k}" for k in rev.tapes} | rev.runtime_names
    if rev.tapes:
        helpers |= {"push", "pop"}
    return fn, helpers, set(rev.adj.values())
