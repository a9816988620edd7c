"""Segments: the adjoint of a straight-line run of assignments.

The forward sweep tapes the values that enter a segment, are needed by its
adjoint, and may be overwritten before the reverse sweep returns; values
that an enclosing loop only reads are taped once per entry to that loop. The
reverse sweep restores them, *replays* the segment's arithmetic into fresh
names (versions ``x_1``, ``x_2``, ...) to recover its intermediates, then
applies the rules backwards. ``SegmentAdjoints`` is mixed into ``Reverse``.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field

from .analyze import rule_key
from .core import assign, const, load, operands, target_of
from .errors import MissingRuleError
from .rules import rule_for


@dataclass
class _Plan:
    saves: list[str] = field(default_factory=list)
    replay: list[ast.stmt] = field(default_factory=list)
    adjoint: list[ast.stmt] = field(default_factory=list)


def _stmt(node: ast.stmt, line: int | None) -> ast.stmt:
    node.srcline = line
    return node


class _Subst(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, ast.expr]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.mapping:
            return copy.deepcopy(self.mapping[node.id])
        return node


def _substitute(template: ast.expr, mapping: dict[str, ast.expr]) -> ast.expr:
    return _Subst(mapping).visit(copy.deepcopy(template))


class SegmentAdjoints:
    """The segment half of the reverse transform (needs Reverse's state)."""

    def _single_use(self, name: str, segment: list[ast.stmt]) -> bool:
        """A temporary written once and read once, both inside `segment`."""
        if name not in self.norm.temps or self.assign_count.get(name) != 1 \
                or self.ana.reads.get(name) != 1:
            return False
        in_seg = [s for s in segment if target_of(s) == name]
        return bool(in_seg)

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


def _located(stmt: ast.stmt) -> ast.stmt:
    stmt.lineno = stmt.srcline or 0
    stmt.col_offset = 0
    return stmt
