"""Stage scalarize: elementwise array expressions become loops over their elements.

Normalization splits ``u_new[1:-1] = u[1:-1] + k * (u[2:] - 2.0 * u[1:-1] + u[:-2])``
into one operation per statement, each making an array. Differentiated that way, every
temporary is a new array in both sweeps, with an adjoint array of its own, and the
slices' adjoints are added back through views. A person writing the adjoint by hand
writes one loop over the elements instead. This stage does the same to the normalized
function, after typing (it needs ranks and dtypes), so that the scalar engine (taping
decisions, recomputation, fused sums) differentiates array code as it does loops:

    _n1 = shapes.slice_len(_m1, 1, -1)  ...            lengths, offsets, broadcast strides
    for _i1 in range(_n1):
        _e1 = u[_o1 + _i1 * _s1]                      one load per operand
        ...                                           the scalar operations, in order
        u_new[_o4 + _i1] = _v5                        one store per element

A *group* is a maximal tree of elementwise statements in one block: arithmetic
(``+ - * / **``, unary minus) and NumPy's elementwise functions of float64 arrays of
one or more dimensions and of scalars, whose inner results are temporaries read once,
by the tree. Its leaves are arrays (whole, or basic slices and integer indexes of
them, read in place) and scalars. Its root is the array it makes (a new array filled
by the loop), a store into part of an array (``x[a:b] = tree``, written element by
element when no operand may share memory with ``x``), or ``np.sum(tree)`` (a scalar
sum, no array at all). Broadcasting follows NumPy's rules: operands align at their
last dimension, and a length-1 dimension is read with stride 0 (``shapes.bstride_to``);
lengths that do not broadcast raise NumPy's ValueError.

The stores filling a new array overwrite nothing anyone reads again, so the reverse
sweep neither tapes nor restores what they overwrite (``Reverse._unread_stores``).

The values a group reads are read when its root runs, so a group never spans a
statement that writes into an array or rebinds a name the group reads.
``SRCGRAD_SCALARIZE=0`` turns the stage off (to compare, or to work around it).
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import os

from numba.core import types as nbtypes

from .analyze import fancy_index, view_source
from .core import assign, const, dotted, load, name_node, names_read, store_of, substitute, \
    target_of, walk_stmts, with_line
from .normalize import Normalized
from .smallarrays import small_arrays

# NumPy's elementwise functions whose rule is one template for scalars and arrays alike
# (rules.py): in the loop, each is called on one element.
UNARY = frozenset({
    "np.sin", "np.cos", "np.tan", "np.arcsin", "np.arccos", "np.arctan", "np.sinh",
    "np.cosh", "np.tanh", "np.arcsinh", "np.arccosh", "np.arctanh", "np.exp", "np.expm1",
    "np.exp2", "np.log", "np.log1p", "np.log10", "np.log2", "np.sqrt", "np.square",
    "np.abs", "np.absolute", "np.fabs", "np.reciprocal"})
BINARY = frozenset({"np.arctan2", "np.hypot", "np.power", "np.maximum", "np.minimum"})
UNSURE_RANK = frozenset({"np.cross"})
OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)


def enabled() -> bool:
    return os.environ.get("SRCGRAD_SCALARIZE", "1").strip().lower() not in ("0", "no", "off",
                                                                             "false")


@dataclasses.dataclass
class _Leaf:
    """An array operand read element by element: `base[parts]`, where each part is a
    slice (offset, length) or an integer index."""

    base: str
    parts: list          # per dimension of base: ("slice", start, stop) or ("int", atom)
    rank: int            # dimensions of the operand (slices)


class Scalarizer:
    def __init__(self, norm: Normalized, typed) -> None:
        self.norm = norm
        self.typed = typed
        self.namer = norm.namer
        self.temps = set(norm.temps)
        self.reads: dict[str, int] = {}
        self.assigns: dict[str, int] = {}
        for stmt in walk_stmts(norm.tree.body):
            own = [stmt.test] if isinstance(stmt, (ast.If, ast.While)) else \
                [stmt.iter] if isinstance(stmt, ast.For) else [stmt]
            for part in own:
                for n in ast.walk(part):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                        self.reads[n.id] = self.reads.get(n.id, 0) + 1
            t = target_of(stmt)
            if t:
                self.assigns[t] = self.assigns.get(t, 0) + 1
        self.alias = self._alias_classes()
        self.new_types: dict = {}   # name -> Numba type of every temporary made here
        # arrays whose rank NumPy may not give as Numba types it (np.cross of 2-vectors
        # returns a scalar per pair): never read element by element
        self.unsure = {target_of(s) for s in walk_stmts(norm.tree.body)
                       if target_of(s) and isinstance(s.value, ast.Call)
                       and dotted(s.value.func) in UNSURE_RANK}
        self.changed = False

    # types -----------------------------------------------------------------

    def _f64_array(self, name: str) -> bool:
        typ = self.typed.types.get(name)
        return isinstance(typ, nbtypes.Array) and typ.dtype == nbtypes.float64

    def _ndim(self, name: str) -> int:
        return self.typed.types[name].ndim

    def _scalar_atom(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        if isinstance(node, ast.Name):
            typ = self.typed.types.get(node.id)
            return isinstance(typ, (nbtypes.Float, nbtypes.Integer)) \
                and not isinstance(typ, nbtypes.Boolean)
        return isinstance(node, ast.Attribute)   # math.pi

    def _temp_once(self, name: str) -> bool:
        return name in self.temps and self.assigns.get(name) == 1 and self.reads.get(name) == 1

    # aliasing ----------------------------------------------------------------

    def _alias_classes(self) -> dict[str, int]:
        """Array names that may share memory, as classes (union-find over views and
        copies of a name; every array parameter in one class: a caller may pass one array
        twice)."""
        parent: dict[str, str] = {}

        def find(a: str) -> str:
            parent.setdefault(a, a)
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        def union(a: str, b: str) -> None:
            parent[find(a)] = find(b)

        params = [a.arg for a in self.norm.tree.args.args if self.typed.is_array(a.arg)]
        for p in params[1:]:
            union(p, params[0])
        for stmt in walk_stmts(self.norm.tree.body):
            t = target_of(stmt)
            if t and self.typed.is_array(t):
                src = view_source(stmt.value, self.typed)
                if src is not None:
                    union(t, src)
                elif isinstance(stmt.value, ast.Call) and not _fresh_call(stmt.value):
                    for n in names_read(stmt.value):   # a call we do not know: any argument
                        if self.typed.is_array(n):
                            union(t, n)
        return {n: hash(find(n)) for n in list(parent)}

    def _may_share(self, a: str, b: str) -> bool:
        if a == b:
            return True
        return a in self.alias and b in self.alias and self.alias[a] == self.alias[b]

    def _fresh_at(self, body: list[ast.stmt], j: int, name: str) -> bool:
        """At statement j, `name` holds an array that no other name may share: this
        block made it earlier by a call that returns a new array (np.copy, np.zeros ...),
        and nothing since made a view or another name of it."""
        for k in range(j - 1, -1, -1):
            s = body[k]
            if target_of(s) == name:
                return isinstance(s.value, ast.Call) and _fresh_call(s.value)
            for n in walk_stmts([s]):
                if target_of(n) == name:
                    return False
                if isinstance(n, ast.Assign) and (view_source(n.value, self.typed) == name
                                                  or name in names_read(n.value)
                                                  and isinstance(n.value, ast.Call)
                                                  and not _fresh_call(n.value)):
                    return False
        return False

    # groups ------------------------------------------------------------------

    def _member(self, stmt: ast.stmt) -> bool:
        """An elementwise statement making a float64 array from arrays and scalars."""
        t = target_of(stmt)
        if t is None or not self._f64_array(t):
            return False
        v = stmt.value
        if isinstance(v, ast.BinOp) and isinstance(v.op, OPS):
            args = [v.left, v.right]
        elif isinstance(v, ast.UnaryOp) and isinstance(v.op, ast.USub):
            args = [v.operand]
        elif isinstance(v, ast.Call) and not v.keywords and (
                dotted(v.func) in UNARY and len(v.args) == 1
                or dotted(v.func) in BINARY and len(v.args) == 2):
            args = list(v.args)
        else:
            return False
        arrays = 0
        for a in args:
            if isinstance(a, ast.Name) and a.id in self.unsure:
                return False
            if isinstance(a, ast.Name) and self._f64_array(a.id):
                arrays += 1
            elif not self._scalar_atom(a):
                return False
        return arrays > 0

    def _view(self, stmt: ast.stmt) -> _Leaf | None:
        """`t = x[a:b, i]`: basic slices (step 1) and integer indexes of a float64 array."""
        t = target_of(stmt)
        v = stmt.value
        if t is None or not isinstance(v, ast.Subscript) or not isinstance(v.value, ast.Name) \
                or not self._f64_array(v.value.id) or not self._f64_array(t):
            return None
        parts = _parts(v.slice, self._ndim(v.value.id), self.typed)
        if parts is None:
            return None
        return _Leaf(v.value.id, parts, sum(1 for p in parts if p[0] == "slice"))

    def run(self) -> None:
        self.norm.tree.body = self.block(self.norm.tree.body, False)

    def block(self, body: list[ast.stmt], in_loop: bool) -> list[ast.stmt]:
        for stmt in body:
            if isinstance(stmt, (ast.If, ast.For, ast.While)):
                inner = in_loop or not isinstance(stmt, ast.If)
                stmt.body = self.block(stmt.body, inner)
                stmt.orelse = self.block(stmt.orelse, inner)
        self._in_loop = in_loop
        body = self._copies_folded(body)
        defs: dict[str, int] = {}
        for j, stmt in enumerate(body):
            t = target_of(stmt)
            if t is not None:
                defs[t] = j
        out: list[ast.stmt] = []
        absorbed: set[int] = set()
        plans: dict[int, list[ast.stmt]] = {}
        for j in range(len(body) - 1, -1, -1):
            if j in absorbed:
                continue
            found = self._group(body, j, defs)
            if found is None:
                continue
            members, views, root = found
            code = self._emit(body, members, views, root, body[j])
            if code is None:
                continue
            absorbed |= set(members) | set(views)
            plans[j] = code
        for j, stmt in enumerate(body):
            if j in plans:
                out += plans[j]
                self.changed = True
            elif j not in absorbed:
                out.append(stmt)
        return out

    def _copies_folded(self, body: list[ast.stmt]) -> list[ast.stmt]:
        """``a = b``, where the array temporary b is made earlier in the block and read
        only here and a is bound nowhere else, folded into b's statement (which then
        binds a): an inlined helper's result bound to a name (dense's ``x @ W + b`` read by relu's
        ``np.maximum(z, 0.0)``) no longer splits an elementwise group in two."""
        defs = {target_of(s): j for j, s in enumerate(body) if target_of(s)}
        drop: set[int] = set()
        for j, stmt in enumerate(body):
            a = target_of(stmt)
            if a is None or not isinstance(stmt.value, ast.Name):
                continue
            b = stmt.value.id
            if not self._temp_once(b) or b not in defs or defs[b] >= j \
                    or self.assigns.get(a) != 1 or not self._f64_array(b) \
                    or not self._f64_array(a) or self._ndim(a) != self._ndim(b) \
                    or not isinstance(body[defs[b]].value, (ast.BinOp, ast.UnaryOp, ast.Call)):
                continue
            body[defs[b]].targets[0].id = a
            self.reads[b] = 0
            drop.add(j)
            self.changed = True
        return [s for j, s in enumerate(body) if j not in drop]

    def _group(self, body, j, defs):
        """The group rooted at statement j: (members, views, root kind), or None."""
        stmt = body[j]
        root: tuple
        if not isinstance(stmt, ast.Assign):
            return None
        if store_of(stmt) is not None:
            v = stmt.value
            tgt = stmt.targets[0]
            if not isinstance(v, ast.Name) or not self._temp_once(v.id) \
                    or v.id not in defs or not self._member(body[defs[v.id]]) \
                    or not self._f64_array(tgt.value.id):
                return None
            parts = _parts(tgt.slice, self._ndim(tgt.value.id), self.typed)
            if parts is None:
                return None
            top = defs[v.id]
            root = ("store", _Leaf(tgt.value.id, parts, sum(1 for p in parts
                                                             if p[0] == "slice")))
        elif isinstance(stmt.value, ast.Call) and dotted(stmt.value.func) == "np.sum" \
                and len(stmt.value.args) == 1 and not stmt.value.keywords \
                and isinstance(stmt.value.args[0], ast.Name) and target_of(stmt) \
                and isinstance(self.typed.types.get(target_of(stmt)), nbtypes.Float):
            a = stmt.value.args[0].id
            if not self._temp_once(a) or a not in defs or not self._member(body[defs[a]]):
                return None
            top = defs[a]
            root = ("sum",)
        elif self._member(stmt):
            top = j
            root = ("new",)
        else:
            return None
        members: list[int] = []
        views: dict[str, _Leaf] = {}
        view_idx: list[int] = []
        work = [top]
        while work:
            k = work.pop()
            members.append(k)
            for a in names_read(body[k].value):
                if a not in defs or defs[a] >= k or not self._temp_once(a):
                    continue
                d = defs[a]
                if self._member(body[d]):
                    work.append(d)
                else:
                    leaf = self._view(body[d])
                    if leaf is not None:
                        views[a] = leaf
                        view_idx.append(d)
        members.sort()
        first = min(members + view_idx)
        # nothing between the group's first statement and its root may change what it reads
        inside = set(members) | set(view_idx)
        read = set()
        for k in members:
            read.update(names_read(body[k].value))
        for leaf in views.values():
            read.add(leaf.base)
            read.update(a for p in leaf.parts for a in p[1:] if isinstance(a, str))
        for k in range(first, j + 1):
            if k in inside or k == j:
                continue
            s = body[k]
            if not isinstance(s, ast.Assign) or store_of(s) is not None:
                return None
            t = target_of(s)
            if t in read:
                return None
            if isinstance(s.value, ast.Call) and not self.typed.is_array(t) \
                    and not isinstance(self.typed.types.get(t), (nbtypes.Number,
                                                                 nbtypes.Boolean)):
                return None   # a call for its effect (it may write into an argument)
        if root[0] == "store":
            # an operand that is the written part itself (x[i] += f) is read at the very
            # positions the loop writes, each before its write: like NumPy's
            leaf = root[1]
            bases = {views[n].base for n in views if views[n].parts != leaf.parts} | {
                n for k in members for n in names_read(body[k].value)
                if self.typed.is_array(n) and n not in views}
            if leaf.base in bases or not self._fresh_at(body, j, leaf.base) \
                    and any(self._may_share(leaf.base, b) for b in bases):
                return None
        if root[0] == "new" and len(members) == 1 and not views:
            # one operation on whole arrays: worth a loop only inside a loop, where its
            # adjoint would otherwise allocate at each iteration
            if not self._in_loop:
                return None
        return sorted(members), view_idx, root

    # code ----------------------------------------------------------------------

    def _fresh(self, prefix: str, typ=None) -> str:
        """A new temporary, of Numba type `typ` (by its prefix when not given: sizes,
        offsets, strides, indexes and counters are integers, loads and results floats)."""
        name = self.namer.fresh(prefix)
        self.temps.add(name)
        self.new_types[name] = typ if typ is not None else \
            nbtypes.float64 if prefix in ("_e", "_v", "_acc") else nbtypes.intp
        return name

    def _emit(self, body, members, views_idx, root, rootstmt):
        views = {target_of(body[k]): self._view(body[k]) for k in views_idx}
        mem_targets = [target_of(body[k]) for k in members]
        top = mem_targets[-1]
        line = getattr(rootstmt, "srcline", None)
        pre: list[ast.stmt] = []

        def emit_pre(value: ast.expr, prefix: str = "_m", typ=None) -> str:
            name = self._fresh(prefix, typ)
            pre.append(with_line(assign(name, value), line))
            return name

        # the operands: leaves with their rank, dims (length names) and offsets
        leaves: dict[str, _Leaf] = {}
        order: list[str] = []
        for k in members:
            for a in names_read(body[k].value):
                if a in mem_targets[:-1] or not self.typed.is_array(a):
                    continue
                if a not in leaves:
                    leaves[a] = views[a] if a in views else _Leaf(
                        a, [("slice", None, None)] * self._ndim(a), self._ndim(a))
                    order.append(a)
        ranks = [leaves[a].rank for a in order]
        if root[0] == "store":
            ranks.append(root[1].rank)
        rank = max(ranks)
        if rank == 0 or any(r == 0 for r in ranks):
            return None
        if root[0] == "store" and root[1].rank != rank:
            return None

        shapes_of: dict[str, str] = {}
        known: dict[tuple, object] = {}   # (base, dim[, start, stop]) -> its name

        def once(key: tuple, value: ast.expr, prefix: str) -> str:
            if key not in known:
                known[key] = emit_pre(value, prefix)
            return known[key]

        def dims_of(leaf: _Leaf) -> list[tuple]:
            """Per slice dimension of the operand: (offset, length) names or constants;
            and the fixed integer indexes, as (None, atom)."""
            out = []
            for d, p in enumerate(leaf.parts):
                if leaf.base not in shapes_of:
                    shapes_of[leaf.base] = emit_pre(ast.Attribute(load(leaf.base), "shape",
                                                                  ast.Load()), "_sh",
                        nbtypes.UniTuple(nbtypes.intp, self._ndim(leaf.base)))
                base = leaf.base
                size = once((base, d), ast.Subscript(load(shapes_of[base]), const(d),
                                                     ast.Load()), "_m")
                if p[0] == "int":
                    idx = p[1]
                    if not (isinstance(idx, int) and idx >= 0):
                        idx = once((base, d, "int", idx), _call(
                            "shapes.wrap_index", load(size), _atom(idx)), "_o")
                    out.append(("int", idx))
                    continue
                start, stop = p[1], p[2]
                if start is None and stop is None:
                    out.append(("slice", 0, size))
                    continue
                a = const(0) if start is None else _atom(start)
                b = load(size) if stop is None else _atom(stop)
                off = once((base, d, start, stop), _call("shapes.slice_lo", load(size), a, b),
                           "_o")
                length = once((base, d, start, stop, "len"),
                              _call("shapes.slice_len", load(size), a, b), "_m")
                out.append(("slice", off, length))
            return out

        info = {a: dims_of(leaves[a]) for a in order}
        tinfo = dims_of(root[1]) if root[0] == "store" else None

        # the loop's lengths: the part a store writes (NumPy broadcasts the value to it), or
        # the operands broadcast, dimension by dimension
        lengths: list = []
        for d in range(rank):
            if tinfo is not None:
                lengths.append([x for x in tinfo if x[0] == "slice"][d][2])
                continue
            cands: list = []
            for a in order:
                sl = [x for x in info[a] if x[0] == "slice"]
                e = d - (rank - len(sl))
                if e >= 0 and sl[e][2] not in cands:
                    cands.append(sl[e][2])
            n = cands[0]
            for c in cands[1:]:
                n = emit_pre(_call("shapes.bcast_len", _atom(n), _atom(c)), "_n")
            lengths.append(n)
        # per operand and dimension: stride 1, or 0 for a broadcast length-1 dimension
        # (a length neither 1 nor the loop's raises NumPy's ValueError)
        strides: dict[str, list] = {}
        for a in order:
            sl = [x for x in info[a] if x[0] == "slice"]
            st = []
            for e, x in enumerate(sl):
                d = e + rank - len(sl)
                st.append(1 if x[2] == lengths[d] else emit_pre(
                    _call("shapes.bstride_to", _atom(x[2]), _atom(lengths[d])), "_s"))
            strides[a] = st
        lengths = [emit_pre(const(n), "_n") if isinstance(n, int) else n for n in lengths]

        # the result
        result = None
        if root[0] == "new":
            dest = top
            if dest in leaves or any(leaf.base == dest for leaf in leaves.values()):
                dest = self._fresh("_r", nbtypes.Array(nbtypes.float64, rank, "C"))
            shape = ast.Tuple([load(n) for n in lengths], ast.Load()) if rank > 1 \
                else load(lengths[0])
            pre.append(with_line(assign(dest, ast.Call(name_node("np.empty"), [shape], [])),
                                 line))
            result = dest
        elif root[0] == "sum":
            acc = self._fresh("_acc")
            pre.append(with_line(assign(acc, const(0.0)), line))
            result = acc

        # the loop body
        ivars = [self._fresh("_i") for _ in range(rank)]
        inner: list[ast.stmt] = []

        def emit_in(value: ast.expr, prefix: str) -> str:
            name = self._fresh(prefix)
            inner.append(with_line(assign(name, value), line))
            return name

        def index_of(dims, st) -> ast.expr:
            sl = [x for x in dims if x[0] == "slice"]
            parts = []
            e = 0
            for x in dims:
                if x[0] == "int":
                    parts.append(_atom(x[1]))
                    continue
                d = e + rank - len(sl)
                i: ast.expr = load(ivars[d])
                s = st[e] if st is not None else 1
                if s != 1:
                    i = load(emit_in(ast.BinOp(i, ast.Mult(), _atom(s)), "_j"))
                if x[1] != 0:
                    i = load(emit_in(ast.BinOp(_atom(x[1]), ast.Add(), i), "_j"))
                parts.append(i)
                e += 1
            return parts[0] if len(parts) == 1 else ast.Tuple(parts, ast.Load())

        scalars: dict[str, ast.expr] = {}
        for a in order:
            scalars[a] = load(emit_in(ast.Subscript(load(a if a not in views else
                                                         leaves[a].base),
                                                    index_of(info[a], strides[a]),
                                                    ast.Load()), "_e"))
        # views read through their base: rename the loads above
        for k in members:
            stmt = body[k]
            value = substitute(stmt.value, scalars)
            if k == members[-1] and root[0] == "store":
                store = ast.Assign([ast.Subscript(load(root[1].base),
                                                  index_of(tinfo, None), ast.Store())],
                                   value if _is_atom(value) else load(emit_in(value, "_v")))
                inner.append(with_line(store, stmt.srcline))
            elif k == members[-1] and root[0] == "new":
                v = value if _is_atom(value) else load(emit_in(value, "_v"))
                idx = [load(i) for i in ivars]
                store = ast.Assign([ast.Subscript(load(result), idx[0] if rank == 1
                                                  else ast.Tuple(idx, ast.Load()), ast.Store())],
                                   v)
                inner.append(with_line(store, stmt.srcline))
            elif k == members[-1]:   # sum
                v = value if _is_atom(value) else load(emit_in(value, "_v"))
                inner.append(with_line(assign(result, ast.BinOp(load(result), ast.Add(), v)),
                                       stmt.srcline))
            else:
                scalars[target_of(stmt)] = load(emit_in(value, "_v"))
        loop: list[ast.stmt] = inner
        for d in range(rank - 1, -1, -1):
            node = ast.For(ast.Name(ivars[d], ast.Store()),
                           ast.Call(load("range"), [load(lengths[d])], []), loop, [])
            loop = [with_line(node, line)]
        code = pre + loop
        if root[0] == "new" and result != top:
            code.append(with_line(assign(top, load(result)), line))
        if root[0] == "sum":
            code.append(with_line(assign(target_of(rootstmt), load(result)), line))
        return code


def _is_atom(node: ast.expr) -> bool:
    return isinstance(node, (ast.Name, ast.Constant))


def _atom(x) -> ast.expr:
    if isinstance(x, ast.AST):
        return copy.deepcopy(x)
    if isinstance(x, str):
        return load(x)
    return const(x)


def _call(fname: str, *args: ast.expr) -> ast.Call:
    return ast.Call(name_node(fname), list(args), [])


def _fresh_call(value: ast.Call) -> bool:
    name = dotted(value.func) or ""
    return name in UNARY or name in BINARY or name in (
        "np.copy", "np.zeros", "np.ones", "np.empty", "np.full", "np.zeros_like",
        "np.ones_like", "np.empty_like", "np.full_like", "np.dot", "np.matmul", "np.sum",
        "np.array", "np.arange", "np.linspace", "np.outer")


def _parts(index: ast.expr, ndim: int, typed) -> list | None:
    """Per dimension: ("slice", start, stop) for a basic slice with step 1 (bounds atoms
    or None), ("int", atom) for an integer index; None for anything else (steps, new
    axes, advanced indexing)."""
    if fancy_index(index, typed):
        return None
    items = index.elts if isinstance(index, ast.Tuple) else [index]
    if len(items) > ndim:
        return None
    out: list = []
    for p in items:
        if isinstance(p, ast.Slice):
            if p.step is not None and not (isinstance(p.step, ast.Constant)
                                           and p.step.value == 1):
                return None
            bounds = []
            for b in (p.lower, p.upper):
                if b is None:
                    bounds.append(None)
                elif isinstance(b, ast.Constant) and isinstance(b.value, int):
                    bounds.append(b.value)
                elif isinstance(b, ast.Name) and isinstance(typed.types.get(b.id),
                                                            nbtypes.Integer):
                    bounds.append(b.id)
                else:
                    return None
            out.append(("slice", *bounds))
        elif isinstance(p, ast.Constant) and isinstance(p.value, int) \
                and not isinstance(p.value, bool):
            out.append(("int", p.value))
        elif isinstance(p, ast.Name) and isinstance(typed.types.get(p.id), nbtypes.Integer):
            out.append(("int", p.id))
        else:
            return None
    out += [("slice", None, None)] * (ndim - len(items))
    return out


def scalarize(norm: Normalized, typed):
    """`(norm, typed)` with the elementwise array groups written as loops (copies), or
    the arguments themselves when there is nothing to scalarize."""
    if not enabled():
        return norm, typed
    work = dataclasses.replace(norm, tree=copy.deepcopy(norm.tree),
                               namer=copy.deepcopy(norm.namer))
    sc = Scalarizer(work, typed)
    sc.run()
    # the new names' types are known by construction: no second type inference
    types = dict(typed.types)
    types.update(sc.new_types)
    typed_now = dataclasses.replace(typed, types=types)
    small, small_types = small_arrays(work.tree, typed_now, work.namer, UNARY, work.constants)
    if not (sc.changed or small):
        return norm, typed
    types.update(small_types)
    return dataclasses.replace(work, temps=sc.temps), typed_now
