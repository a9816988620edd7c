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

from ..errors import MissingRuleError
from .analyze import (
    MISSING_RULE,
    MISSING_RULE_HINT,
    VIEW_FUNCS,
    ZERO,
    Analysis,
    bound_arguments,
    call_operands,
    fancy_index,
    missing_rule_message,
    operand_role,
    rule_key,
    sequence_layout,
)
from .capture import Captured
from .core import (
    assign,
    const,
    dotted,
    load,
    located,
    names_read,
    operands,
    store_of,
    substitute,
    target_of,
    walk_stmts,
    with_line,
)
from .infer import Typed
from .normalize import Normalized
from .rules import RUNTIME_NAMES, SEQUENCE_RULES, may_blow_up, note_template, rule_for
from .tapegen import TapeWriter


@dataclass
class _Contribution:
    """One term of an adjoint: b_name (+)= template, with names mapped to values."""

    name: str
    template: ast.expr | None
    mapping: dict
    index: ast.expr | None = None  # for t = x[index]: b_x[index] += g


# runtime_np helpers that always return a newly allocated array
_NEW_ARRAY_CALLS = {"matmul_grad_a", "matmul_grad_b", "dot_grad_a", "dot_grad_b"}


def _is_empty_adjoint(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
        and node.func.id == "empty_adjoint"


def _owned(expr: ast.expr, dead: ast.expr | None) -> bool:
    """Is `expr` an array nothing else will write to: a new one (arithmetic makes
    new arrays), or `dead`, the adjoint of a single-use temporary consumed here
    (possibly through unbroadcast, which returns its argument or a new array)?"""
    if isinstance(expr, (ast.BinOp, ast.UnaryOp)):
        return True
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) \
            and expr.func.id in _NEW_ARRAY_CALLS:
        return True
    if isinstance(expr, ast.Name):
        return isinstance(dead, ast.Name) and expr.id == dead.id
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) \
            and expr.func.id == "unbroadcast" and expr.args:
        return _owned(expr.args[0], dead)
    return False


_TRANSCENDENTAL = frozenset(
    "exp expm1 exp2 log log1p log2 log10 pow sin cos tan asin acos atan atan2 arcsin arccos "
    "arctan arctan2 sinh cosh tanh asinh acosh atanh arcsinh arccosh arctanh erf erfc "
    "gamma lgamma power".split())


def _runtime_calls(expr: ast.expr) -> set[str]:
    return {n.func.id for n in ast.walk(expr) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name) and n.func.id in RUNTIME_NAMES}


@dataclass
class Plan:
    saves: list[str] = field(default_factory=list)
    # statements (index in the segment) whose result is taped right after them
    # instead of being replayed, and the name the reverse sweep pops it into
    kept: dict[int, str] = field(default_factory=dict)
    replay: list[ast.stmt] = field(default_factory=list)
    adjoint: list[ast.stmt] = field(default_factory=list)


@dataclass
class Sweep:
    """What the reverse transform knows about one function, shared by its two halves
    (reverse.py, the structure: loops, branches, stores; this module, the segments):
    the earlier stages' results, and the adjoint names, plans and tapes decided so far."""

    norm: Normalized
    cap: Captured
    typed: Typed
    ana: Analysis
    wrt: list[str]
    tape: TapeWriter
    adj: dict[str, str] = field(default_factory=dict)        # name -> its adjoint's name
    plans: dict[int, Plan] = field(default_factory=dict)     # id(first stmt) -> its plan
    no_init: set[str] = field(default_factory=set)   # adjoints first written, not added to
    hoisted: dict[int, list[str]] = field(default_factory=dict)  # id(loop) -> taped at entry
    assign_count: dict[str, int] = field(default_factory=dict)
    dense: set[str] = field(default_factory=set)     # array adjoints allocated up front
    fusable: dict[int, object] = field(default_factory=dict)  # id(loop) -> fuse.Fusable

    @property
    def namer(self):
        return self.norm.namer

    def b(self, name: str) -> str:
        """The adjoint of `name` (`b_name`, or a fresh variant)."""
        if name not in self.adj:
            self.adj[name] = self.namer.exact(f"b_{name}")
        return self.adj[name]


class Segments:
    """The adjoints of straight-line segments, for the reverse transform."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        self._written: set[str] | None = None

    def _single_use(self, name: str, segment: list[ast.stmt]) -> bool:
        """A temporary written once and read once, both inside `segment`."""
        if name not in self.sweep.norm.temps or self.sweep.assign_count.get(name) != 1 \
                or self.sweep.ana.reads.get(name) != 1:
            return False
        defined = any(target_of(s) == name for s in segment)
        read = any(name in names_read(s.value) for s in segment)
        return defined and read

    def plan(self, seg: list[ast.stmt], loops: list[ast.stmt]) -> Plan:
        key = id(seg[0])
        if key in self.sweep.plans:
            return self.sweep.plans[key]
        plan = Plan()
        self.sweep.plans[key] = plan
        active = self.sweep.ana.active
        # Versions: (name, k) is the k-th value `name` takes in the segment; 0 = on entry.
        version: dict[str, int] = {}
        reads: list[dict[str, tuple[str, int]]] = []   # per statement: name -> version
        target_version: list[tuple[str, int]] = []
        for stmt in seg:
            reads.append({n: (n, version.get(n, 0)) for n in names_read(stmt.value)})
            t = target_of(stmt)
            version[t] = version.get(t, 0) + 1
            target_version.append((t, version[t]))
        last = dict(version)
        defined_by = {tv: j for j, tv in enumerate(target_version)}

        # Adjoint contributions (in reverse order) and the values they need.
        needed: set[tuple[str, int]] = set()
        contribs: list[tuple[int, list[_Contribution]]] = []
        for j in range(len(seg) - 1, -1, -1):
            stmt = seg[j]
            if target_of(stmt) not in active or id(stmt) in self.sweep.ana.dead:
                continue
            found = self._contributions(stmt, reads[j], target_version[j], needed)
            for c in found:   # an array operand's adjoint takes its shape
                if c.index is None and c.name in reads[j] and self._is_array(c.name):
                    needed.add(reads[j][c.name])
            t = target_of(stmt)
            if self._is_array(t) and not self._single_use(t, seg) and t not in self.sweep.dense:
                needed.add(target_version[j])  # its shape, for ensure(b_t, t)
            contribs.append((j, found))

        # Values defined inside the segment are recomputed: close over their inputs.
        # The result of an expensive scalar call inside a loop, and of an array
        # operation anywhere, is taped instead (_worth_taping).
        # A value still in its variable when the reverse sweep reaches the segment (its
        # last version here, never assigned or written into again) is read from there,
        # unless another version of the name is needed too: in a fused iteration
        # (fuse.py), whose reverse runs right after its forward, and in a segment outside
        # every loop, which runs once (straight-line array code then tapes nothing).
        fused_body = len(loops) == 1 and id(loops[0]) in self.sweep.fusable
        in_place = {n for n in last if (fused_body or not loops) and self._unchanged_after(
            n, self.sweep.ana.pos(seg[defined_by[(n, last[n])]]))}
        start = set(needed)
        while True:
            needed = set(start)
            replay_idx: set[int] = set()
            kept_idx: set[int] = set()
            work = [nv for nv in needed if nv[1] > 0]
            while work:
                nv = work.pop()
                j = defined_by[nv]
                if j in replay_idx or j in kept_idx:
                    continue
                if nv[0] in in_place and nv[1] == last[nv[0]]:
                    continue
                if self._worth_taping(seg[j], loops):
                    kept_idx.add(j)
                    continue
                replay_idx.add(j)
                for av in reads[j].values():
                    if av not in needed:
                        needed.add(av)
                        if av[1] > 0:
                            work.append(av)
            clash = {n for n, k in needed if n in in_place and k != last[n]}
            if not clash:
                break
            in_place -= clash

        # Values entering the segment: tape those that may be overwritten (in a fused
        # iteration: overwritten later in the same iteration).
        self.plan_saves(plan, sorted({n for n, k in needed if k == 0},
                                      key=lambda n: (self._first_read(seg, n), n)),
                         self.sweep.ana.pos(seg[0]), [] if fused_body else loops)

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
                    names[nv] = self.sweep.namer.fresh(f"{nv[0]}_")
            return names[nv]

        for j in sorted(kept_idx):
            plan.kept[j] = vname(target_version[j])
        for j in sorted(replay_idx):
            stmt = seg[j]
            value = substitute(stmt.value, {n: load(vname(v)) for n, v in reads[j].items()})
            plan.replay.append(with_line(assign(vname(target_version[j]), value),
                                     stmt.srcline))

        # Adjoint statements.
        for j, found in contribs:
            plan.adjoint += self._adjoint_statements(seg, j, found, target_version[j], vname,
                                                     loops)
        plan.adjoint = _guards_as_ifs(_merge_element_updates(
            _fold_array_zeroing(_fold_zeroing(plan.adjoint))))
        self.sweep.tape.helpers_np |= {"fresh_adjoint"} & {
            n.func.id for st in plan.adjoint for n in ast.walk(st)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        return plan

    def plan_saves(self, plan: Plan, names: list[str], at: int,
                    loops: list[ast.stmt]) -> None:
        """Decide, for values read at position `at`, which to tape and where."""
        loop_vars = {lp.target.id for lp in loops if isinstance(lp, ast.For)}
        for name in names:
            if name in self.sweep.norm.constants or name in loop_vars:
                continue
            if self.sweep.ana.stable(name, at, loops):
                continue
            # Not written inside some enclosing loop: tape it once per entry to the
            # outermost such loop instead of once per execution of the segment.
            outer = next((j for j, lp in enumerate(loops)
                          if not self.sweep.ana.assigned_within(name, lp)), None)
            if outer is None:
                plan.saves.append(name)
                continue
            loop = loops[outer]
            if not self.sweep.ana.stable(name, self.sweep.ana.pos(loop), loops[:outer]):
                hoisted = self.sweep.hoisted.setdefault(id(loop), [])
                if name not in hoisted:
                    hoisted.append(name)

    def _worth_taping(self, stmt: ast.Assign, loops: list[ast.stmt]) -> bool:
        """Inside a loop, a float computed by a transcendental call or a power: one
        push and one pop cost less than computing it again in the reverse sweep.
        Anywhere, an array computed by an operation (not a view): the tape holds a
        reference, so keeping `h = np.tanh(W @ h + x[t])` costs nothing, where
        recomputing it would repeat the matrix product."""
        value = stmt.value
        if self.sweep.typed.kind(target_of(stmt)) == "a":
            if target_of(stmt) in self._written_arrays():
                return False   # a reference would see later in-place writes
            return isinstance(value, (ast.BinOp, ast.UnaryOp)) or (
                isinstance(value, ast.Call) and dotted(value.func) not in VIEW_FUNCS)
        if self.sweep.typed.kind(target_of(stmt)) != "f" or not loops:
            return False
        if isinstance(value, ast.BinOp):
            return isinstance(value.op, ast.Pow) and not isinstance(value.right, ast.Constant)
        return isinstance(value, ast.Call) and \
            (dotted(value.func) or "").rpartition(".")[2] in _TRANSCENDENTAL

    def _is_array(self, name: str) -> bool:
        return self.sweep.typed.is_array(name)

    def _unchanged_after(self, name: str, at: int) -> bool:
        """No statement after position `at` assigns `name` (nor, for an array, writes
        into it in place)."""
        if self._is_array(name) and name in self._written_arrays():
            return False
        return all(p <= at for p in self.sweep.ana.assigned_at.get(name, []))

    def _written_arrays(self) -> set[str]:
        """Array names whose contents some statement may change in place: the bases
        of element and slice writes, and every name bound to the same array or a
        view of it (`b = a`, `b = a[i]`, `b = a.T`, `b = a.reshape(...)`), either way."""
        if self._written is None:
            links: dict[str, set[str]] = {}
            bases = set()
            for stmt in walk_stmts(self.sweep.norm.tree.body):
                if store_of(stmt) is not None:
                    bases.add(store_of(stmt))
                    continue
                t = target_of(stmt)
                if t is None or not self.sweep.typed.is_array(t):
                    continue
                value = stmt.value
                if isinstance(value, ast.Subscript) and fancy_index(value.slice, self.sweep.typed):
                    continue  # advanced indexing copies
                src = value.value if isinstance(value, (ast.Subscript, ast.Attribute)) \
                    else value.args[0] if isinstance(value, ast.Call) and value.args \
                    and dotted(value.func) in VIEW_FUNCS else value
                if isinstance(src, ast.Name) and self.sweep.typed.is_array(src.id):
                    links.setdefault(t, set()).add(src.id)
                    links.setdefault(src.id, set()).add(t)
            written, work = set(bases), list(bases)
            while work:
                for other in links.get(work.pop(), ()):
                    if other not in written:
                        written.add(other)
                        work.append(other)
            self._written = written
        return self._written

    def _contributions(self, stmt: ast.Assign, reads: dict, target_version: tuple,
                       needed: set) -> list[_Contribution]:
        """What `stmt` adds to each active operand's adjoint, as templates plus the
        (name, version) values they read; records those values in `needed`."""
        active = self.sweep.ana.active
        value = stmt.value
        key = rule_key(value)
        ops = operands(value)
        t = target_of(stmt)
        array = self._is_array(t) or any(
            isinstance(a, ast.Name) and self._is_array(a.id) for a in ops)
        if key == "subscript":
            base = value.value.id
            if base not in active:
                return []
            # the index, and the base for its shape unless its adjoint is dense
            needed.update(v for n, v in reads.items() if n != base or base not in self.sweep.dense)
            return [_Contribution(base, None, {}, index=value.slice)]
        found = [op for op in call_operands(value) if op.name in active]
        missing = [op for op in found if operand_role(key, op, array) == MISSING_RULE]
        if missing:
            raise self.sweep.cap.error(MissingRuleError, located(stmt),
                                 missing_rule_message(key, missing[0], array),
                                 hint=MISSING_RULE_HINT)
        if key in SEQUENCE_RULES:
            note_template(key, 0, array, "rev")
            return self._sequence_contributions(value, key, reads, needed, t)
        rule = rule_for(key)
        bound = bound_arguments(rule, value)
        out = []
        for op in found:
            if operand_role(key, op, array) == ZERO:
                continue
            i = op.param
            mapping: dict[str, tuple] = {}
            for n in rule.needs(i, array):
                if n == "ans":
                    needed.add(target_version)
                    mapping["ans"] = ("ver", target_version)
                    continue
                arg = bound.get(n)
                if arg is None:
                    mapping[n] = ("expr", ast.parse(rule.defaults.get(n, "None"),
                                                    mode="eval").body)
                elif isinstance(arg, ast.Name):
                    needed.add(reads[arg.id])
                    mapping[n] = ("ver", reads[arg.id])
                else:
                    names_in = names_read(arg)
                    for m in names_in:
                        needed.add(reads[m])
                    mapping[n] = ("expr", arg, {m: reads[m] for m in names_in})
            out.append(_Contribution(op.name, rule.template(i, array), mapping))
            note_template(key, i, array, "rev")
        return out

    def _sequence_contributions(self, value: ast.Call, key: str, reads: dict,
                                needed: set, t: str) -> list[_Contribution]:
        """A function that lays out a tuple of values in its result (np.concatenate,
        np.stack, np.hstack, np.vstack, np.column_stack, np.array of a literal): the
        adjoint of each element is the block of g it became, taken by
        `concatenate_grad` (a block along an axis) or `stack_grad` (one index along
        an axis: a row, a column, or a scalar of a 1-D result)."""
        layout = sequence_layout(key, value, self.sweep.typed, t)
        out = []
        for elt, (take, axis, start) in zip(value.args[0].elts, layout):
            for m in names_read(axis) + names_read(start):
                needed.add(reads[m])
            if not (isinstance(elt, ast.Name) and elt.id in self.sweep.ana.active):
                continue
            needed.add(reads[elt.id])
            if take == "block":
                tmpl = ast.parse("concatenate_grad(g, x, axis, start)", mode="eval").body
                mapping = {"x": ("ver", reads[elt.id])}
            else:
                tmpl = ast.parse("stack_grad(g, axis, start)", mode="eval").body
                mapping = {}
            mapping["axis"] = ("expr", axis, {m: reads[m] for m in names_read(axis)})
            mapping["start"] = ("expr", start, {m: reads[m] for m in names_read(start)})
            out.append(_Contribution(elt.id, tmpl, mapping))
        return out

    def _adjoint_statements(self, seg, j, found, target_version, vname, loops):
        stmt = seg[j]
        t = target_of(stmt)
        line = stmt.srcline
        bt = self.sweep.b(t)
        t_array = self._is_array(t)
        exprs = list(found)
        selfs = [c for c in exprs if c.name == t]
        keep_bt = not t_array and len(selfs) == 1 and isinstance(selfs[0].template, ast.Name) \
            and selfs[0].template.id == "g"
        if keep_bt:  # t = t + ...: the adjoint of t passes through unchanged
            exprs = [c for c in exprs if c.name != t]
        self_ref = any(c.name == t for c in exprs)
        out: list[ast.stmt] = []
        g: ast.expr = load(bt)
        single = self._single_use(t, seg)
        from_ensure = False
        if t in self.sweep.dense:
            # allocated before the reverse sweep; t is bound once, so nothing reads b_t
            # after this statement and it needs no zeroing
            assert self._adjoint_dead_after(t, stmt, loops)
        elif t_array and not single:
            # The adjoint of an array may still be the zero-size "zero" marker.
            gname = self.sweep.namer.fresh("_g")
            call = ast.Call(load("ensure"), [load(bt), load(vname(target_version))], [])
            self.sweep.tape.helpers_np.add("ensure")
            out.append(with_line(assign(gname, call), line))
            g = load(gname)
            from_ensure = True
        elif self_ref and len(exprs) > 1:
            gname = self.sweep.namer.fresh("_g")
            out.append(with_line(assign(gname, load(bt)), line))
            g = load(gname)
        zeroed = False
        if t_array and not single and t not in self.sweep.dense \
                and not self._adjoint_dead_after(t, stmt, loops):
            out.append(with_line(assign(bt, self._zero_adjoint(bt)), line))
            zeroed = True
        # the adjoint taken by ensure, then reset: this statement's one contribution owns it
        taken = g if zeroed and from_ensure and len(exprs) == 1 else None
        assigned_here: set[str] = set()
        for c in exprs:
            ba = self.sweep.b(c.name)
            if c.index is not None:  # t = x[index]: b_x[index] += g
                index = substitute(c.index, {n: load(vname(v)) for n, v in
                                              self._index_reads(c.index, seg, j)})
                if c.name not in self.sweep.dense:
                    self.sweep.tape.helpers_np.add("ensure")
                    base = load(vname(self._read_version(seg, j, c.name)))
                    start = load(ba)
                    if self._single_use(c.name, seg) and c.name not in assigned_here:
                        start = self._zero_adjoint(ba)  # may hold a previous iteration's
                    out.append(with_line(assign(ba, ast.Call(load("ensure"), [start, base], [])),
                                     line))
                assigned_here.add(c.name)
                if fancy_index(c.index, self.sweep.typed):
                    # repeated positions accumulate (np.add.at), unlike b_x[idx] += g
                    self.sweep.tape.helpers_np.add("add_at")
                    call = ast.Call(load("add_at"), [load(ba), index_value(index), g], [])
                    out.append(with_line(assign(ba, call), line))
                    continue
                out.append(with_line(ast.AugAssign(ast.Subscript(load(ba), index, ast.Store()),
                                               ast.Add(), g), line))
                continue
            subst = {"g": g}
            for k, v in c.mapping.items():
                if v[0] == "ver":
                    subst[k] = load(vname(v[1]))
                else:
                    extra = v[2] if len(v) > 2 else {}
                    subst[k] = substitute(v[1], {n: load(vname(m)) for n, m in extra.items()})
            expr = substitute(c.template, subst)
            if self._is_array(c.name):
                like = load(vname(self._read_version(seg, j, c.name)))
                start = load(ba)
                if c.name != t and self._single_use(c.name, seg) \
                        and c.name not in assigned_here:
                    # its only use: start from zero (it may hold a previous iteration's)
                    start = self._zero_adjoint(ba)
                if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) \
                        and expr.func.id in ("matmul_grad_a", "dot_grad_a") \
                        and isinstance(start, ast.Name):
                    # accumulate W @ h's adjoint for W in place (no outer-product temporary)
                    call = ast.Call(load("matmul_acc_a"), [start] + expr.args, [])
                    self.sweep.tape.helpers_np.add("matmul_acc_a")
                    self.sweep.tape.helpers_np |= _runtime_calls(ast.Tuple(expr.args, ast.Load()))
                elif _is_empty_adjoint(start) and _owned(expr, g if single else None):
                    # the temporary's only contribution, from an array no one else
                    # writes: taken as it is (no zero array to add it into)
                    call = ast.Call(load("fresh_adjoint"), [expr, like], [])
                    self.sweep.tape.helpers_np.add("fresh_adjoint")
                    self.sweep.tape.helpers_np |= _runtime_calls(expr)
                elif taken is not None and _owned(expr, taken):
                    # an adjoint passed on (u = u_new): taken as it is while b is empty
                    call = ast.Call(load("take_adjoint"), [start, expr, like], [])
                    self.sweep.tape.helpers_np.add("take_adjoint")
                    self.sweep.tape.helpers_np |= _runtime_calls(expr)
                else:
                    call = ast.Call(load("accum"), [start, expr, like], [])
                    self.sweep.tape.helpers_np.add("accum")
                    self.sweep.tape.helpers_np |= _runtime_calls(expr)
                out.append(with_line(assign(ba, call), line))
                assigned_here.add(c.name)
                continue
            self.sweep.tape.helpers_np |= _runtime_calls(expr)
            if not t_array and may_blow_up(expr):
                # a zero adjoint adds exactly 0, even where the partial is infinite (the
                # value is overwritten on the path taken: sqrt(0), hypot(0, 0))
                expr = ast.IfExp(ast.Compare(g, [ast.NotEq()], [const(0.0)]), expr, const(0.0))
                expr.guard = True  # written as an `if` statement by _guards_as_ifs
            first_write = (c.name == t and not zeroed and c.name not in assigned_here) or (
                c.name != t and self._single_use(c.name, seg) and c.name not in assigned_here)
            if first_write and c.name != t:
                self.sweep.no_init.add(c.name)
            if first_write:
                out.append(with_line(assign(ba, expr), line))
            else:
                out.append(with_line(ast.AugAssign(ast.Name(ba, ast.Store()), ast.Add(), expr),
                                 line))
            assigned_here.add(c.name)
        if not t_array and not self_ref and not keep_bt and not single \
                and not self._adjoint_dead_after(t, stmt, loops):
            out.append(with_line(assign(bt, const(0.0)), line))
        return out

    def _zero_adjoint(self, bt: str) -> ast.expr:
        self.sweep.tape.helpers_np.add("empty_adjoint")
        return ast.Call(load("empty_adjoint"), [load(bt)], [])

    @staticmethod
    def _read_version(seg, j, name) -> tuple[str, int]:
        k = sum(1 for s in seg[:j] if target_of(s) == name)
        return (name, k)

    def _index_reads(self, index, seg, j):
        return [(n, self._read_version(seg, j, n)) for n in names_read(index)]

    def _adjoint_dead_after(self, name: str, stmt: ast.stmt, loops: list[ast.stmt]) -> bool:
        """Once `stmt` (which writes `name`) is reversed, is b_name never read again?
        True outside loops when no earlier statement reads or writes `name` (whose
        adjoints would read b_name) and it is not a gradient the function returns."""
        at = self.sweep.ana.pos(stmt)
        return not loops and name not in self.sweep.wrt \
            and self.sweep.ana.first_read.get(name, 1 << 60) >= at \
            and all(p >= at for p in self.sweep.ana.assigned_at.get(name, []))

    @staticmethod
    def _first_read(seg: list[ast.stmt], name: str) -> int:
        for j, stmt in enumerate(seg):
            if name in names_read(stmt.value):
                return j
        return len(seg)


def _element_update(st: ast.stmt) -> tuple[str, str] | None:
    """(array, index) of an adjoint update `b_x[index] += b_t`, else None."""
    if isinstance(st, ast.AugAssign) and isinstance(st.op, ast.Add) \
            and isinstance(st.target, ast.Subscript) and isinstance(st.target.value, ast.Name) \
            and isinstance(st.value, ast.Name):
        return st.target.value.id, ast.dump(st.target.slice)
    return None


def _merge_element_updates(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """One read-modify-write per element: `b_x[i] += b_t6` ... `b_x[i] += b_t7` (x[i]
    read twice in a segment) become `b_x[i] += b_t6 + b_t7` at the segment's end.

    An update moves there when nothing after it rebinds its value, its index's
    names or the array, and nothing after it touches the array except other such
    updates (additions commute). In a loop the updates of consecutive iterations
    form a chain through memory; Rosenbrock's loop had three per iteration, where
    the hand-written adjoint has two."""
    moved: dict[tuple[str, str], list[ast.stmt]] = {}
    kept: list[ast.stmt] = []
    for k, st in enumerate(stmts):
        key = _element_update(st)
        if key is not None:
            deps = {st.value.id} | {n.id for n in ast.walk(st.target.slice)
                                    if isinstance(n, ast.Name)}
            ok = True
            for later in stmts[k + 1:]:
                stored = {n.id for n in ast.walk(later)
                          if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                targets = [t for node in ast.walk(later) for t in (
                    node.targets if isinstance(node, ast.Assign) else
                    [node.target] if isinstance(node, ast.AugAssign) else [])]
                stored |= {t.value.id for t in targets if isinstance(t, ast.Subscript)
                           and isinstance(t.value, ast.Name) and t.value.id != key[0]}
                # any mention of the array but as the target of another update
                other = _element_update(later)
                mentions = [n for n in ast.walk(later)
                            if isinstance(n, ast.Name) and n.id == key[0]]
                touches = len(mentions) > (1 if other is not None and other[0] == key[0]
                                           else 0)
                if stored & (deps | {key[0]}) or touches:
                    ok = False
                    break
            if ok:
                moved.setdefault(key, []).append(st)
                continue
        kept.append(st)
    for group in moved.values():
        value: ast.expr = group[0].value
        for st in group[1:]:
            value = ast.BinOp(value, ast.Add(), st.value)
        first = group[0]
        merged = ast.AugAssign(first.target, ast.Add(), value)
        merged.srcline = getattr(group[-1], "srcline", None)
        kept.append(merged)
    return kept


def _guards_as_ifs(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """`b_x += (e if g != 0.0 else 0.0)` (a term that can be infinite, guarded) as
    `if g != 0.0: b_x += e`, one `if` for the consecutive terms of one adjoint g."""
    out: list[ast.stmt] = []
    for st in stmts:
        value = getattr(st, "value", None)
        if not (isinstance(value, ast.IfExp) and getattr(value, "guard", False)
                and isinstance(st, (ast.Assign, ast.AugAssign))):
            out.append(st)
            continue
        line = getattr(st, "srcline", None)
        st.value = value.body
        orelse = [] if isinstance(st, ast.AugAssign) else [
            with_line(ast.Assign([copy.deepcopy(st.targets[0])], const(0.0)), line)]
        prev = out[-1] if out else None
        if isinstance(prev, ast.If) and getattr(prev, "guard", False) \
                and ast.dump(prev.test) == ast.dump(value.test) \
                and not {n.id for n in ast.walk(value.test) if isinstance(n, ast.Name)} & {
                    n.id for b in prev.body for n in ast.walk(b)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}:
            prev.body.append(st)
            prev.orelse += orelse
            continue
        node = with_line(ast.If(value.test, [st], orelse), line)
        node.guard = True
        out.append(node)
    return out


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
                if isinstance(later, ast.AugAssign) and isinstance(later.target, ast.Name) \
                        and later.target.id == name \
                        and isinstance(later.op, ast.Add) and name not in {
                            n.id for n in ast.walk(later.value) if isinstance(n, ast.Name)}:
                    new = assign(name, later.value, getattr(later, "srcline", None))
                    out[m] = new
                    del out[k]
                    k -= 1
                break
        k += 1
    return out


def _fold_array_zeroing(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """`b = empty_adjoint(b)` followed (before any other use of b) by
    `b = accum(b, E, like)` with E a new array becomes `b = fresh_adjoint(E, like)`."""
    out = list(stmts)
    k = 0
    while k < len(out):
        stmt = out[k]
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name) \
                and _is_empty_adjoint(stmt.value):
            name = stmt.targets[0].id
            for m in range(k + 1, len(out)):
                later = out[m]
                if name not in {n.id for n in ast.walk(later) if isinstance(n, ast.Name)}:
                    continue
                value = getattr(later, "value", None)
                if isinstance(later, ast.Assign) and isinstance(later.targets[0], ast.Name) \
                        and later.targets[0].id == name and isinstance(value, ast.Call) \
                        and isinstance(value.func, ast.Name) and value.func.id == "accum" \
                        and isinstance(value.args[0], ast.Name) and value.args[0].id == name \
                        and name not in {n.id for a in value.args[1:] for n in ast.walk(a)
                                         if isinstance(n, ast.Name)} \
                        and _owned(value.args[1], None):
                    value.func.id = "fresh_adjoint"
                    value.args = value.args[1:]
                    del out[k]
                    k -= 1
                break
        k += 1
    return out


def index_value(index: ast.expr) -> ast.expr:
    """A subscript's index as a value to pass to a function: slices become slice()."""
    def part(p: ast.expr) -> ast.expr:
        if isinstance(p, ast.Slice):
            bounds = [p.lower, p.upper, p.step]
            return ast.Call(load("slice"), [b if b is not None else const(None)
                                            for b in bounds], [])
        return p
    if isinstance(index, ast.Tuple):
        return ast.Tuple([part(e) for e in index.elts], ast.Load())
    return part(index)


