"""Stage scalarize, second part: small arrays of a length known when the code is
generated become one float per element.

A particle's position ``x = np.zeros(2)``, a velocity ``np.array([vx, vy])``, a force
built by a loop over ``range(x.shape[0])``: as arrays, each step allocates them, the
reverse sweep tapes them as array references and adds their adjoints through
``ensure``/``accum``, and all of that costs far more than the two or three flops per
element. Written as floats (``x_0``, ``x_1``), the same code is a scalar loop, which
the scalar engine differentiates as well as a person does by hand.

An array becomes scalars when:

* it is a one-dimensional float64 array whose length is the same small constant
  (at most ``MAX_LEN``) at every binding: ``np.zeros(2)``, ``np.empty(n)`` with ``n``
  a constant, ``np.zeros_like(y)``/``np.copy(y)``/``y`` of such an array, a tuple
  ``np_ops.array((a, b))``, or an elementwise expression of such arrays and scalars;
* every use of it is one of: an element read or store at a constant index, its
  ``.shape`` or ``len``, ``np.sum``, or an operand of a binding above. A loop
  ``for i in range(K)`` with a constant K that indexes such an array by ``i`` is
  unrolled first, and the constants folded, so its indexes become constants;
* every element store writes an array made fresh earlier in the same block (or in an
  enclosing ``if``), with no ``y = x`` between: no other name sees the store, so
  copying floats (``y_0 = x_0``) means what sharing the array meant.

Anything else (a parameter, a call taking the whole array, a dynamic index, a return)
leaves the array, and every array bound from it or to it, as it was.
"""

from __future__ import annotations

import ast
import copy

from numba.core import types as nbtypes

from ..runtime import shapes
from ..runtime.tape import range_len
from .core import assign, const, dotted, load, name_node, walk_stmts

MAX_LEN = 8            # the longest array that becomes scalars
MAX_UNROLLED = 4000    # statements an unrolled loop may grow to

_ZERO = {"np.zeros": 0.0, "np.empty": 0.0, "np.ones": 1.0}
_ZERO_LIKE = {"np.zeros_like": 0.0, "np.empty_like": 0.0, "np.ones_like": 1.0}
_FOLD = {"shapes.bcast_len": shapes.bcast_len, "shapes.bstride_to": shapes.bstride_to,
         "shapes.slice_len": shapes.slice_len, "shapes.slice_lo": shapes.slice_lo,
         "shapes.wrap_index": shapes.wrap_index, "range_len": range_len}
_INT_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
            ast.Mult: lambda a, b: a * b, ast.FloorDiv: lambda a, b: a // b,
            ast.Mod: lambda a, b: a % b}
_ELEM_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)


TOP = object()          # "not decided yet" in the optimistic analysis


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _combine(parts: list, fn):
    """fn(parts) when every part is an int; TOP when some part is undecided; None when
    some part is no constant (or fn raises: left to raise at run time, as NumPy would)."""
    if any(p is None for p in parts):
        return None
    if any(p is TOP for p in parts):
        return TOP
    if not all(_int(p) for p in parts):
        return None
    try:
        return fn(parts)
    except (ValueError, IndexError, TypeError, ZeroDivisionError):
        return None


class SmallArrays:
    def __init__(self, tree: ast.FunctionDef, typed, namer, unary: frozenset,
                 constants: dict | None = None) -> None:
        self.tree = tree
        self.constants = constants or {}   # module constants the function reads
        self.typed = typed
        self.namer = namer
        self.unary = unary
        self.params = {a.arg for a in tree.args.args}
        self.consts: dict[str, object] = {}   # names bound once to an int (or int tuple)
        self.lengths: dict[str, int] = {}     # candidate arrays and their lengths
        self.new_types: dict[str, nbtypes.Type] = {}
        self.kept: dict[str, ast.stmt] = {}   # an array left whole: a use that keeps it
        self.changed = False

    # -- types ---------------------------------------------------------------

    def _vector(self, name: str) -> bool:
        typ = self.typed.types.get(name)
        return isinstance(typ, nbtypes.Array) and typ.ndim == 1 \
            and typ.dtype == nbtypes.float64

    def _scalar(self, node: ast.expr) -> bool:
        """A float or int atom (not a bool)."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        if isinstance(node, ast.Name):
            if node.id not in self.typed.types and node.id in self.constants:
                v = self.constants[node.id]
                return isinstance(v, (int, float)) and not isinstance(v, bool)
            typ = self.typed.types.get(node.id)
            return isinstance(typ, (nbtypes.Float, nbtypes.Integer)) \
                and not isinstance(typ, nbtypes.Boolean)
        return isinstance(node, ast.Attribute) and dotted(node) in ("math.pi", "math.e",
                                                                    "np.pi", "np.e")

    def _float_atom(self, node: ast.expr) -> bool:
        """A float atom, or a number: what an element may be set to."""
        if isinstance(node, ast.Name):
            if node.id not in self.typed.types and node.id in self.constants:
                return isinstance(self.constants[node.id], float)
            return isinstance(self.typed.types.get(node.id), nbtypes.Float)
        return self._scalar(node)

    # -- constants -----------------------------------------------------------

    def ev(self, node: ast.expr, env: dict | None = None):
        """The int (or tuple of ints) `node` always evaluates to; TOP while the analysis
        has not decided a name it needs; None when it is not a constant."""
        env = {} if env is None else env
        if isinstance(node, ast.Constant):
            return node.value if _int(node.value) else None
        if isinstance(node, ast.Name):
            return env[node.id] if node.id in env else self.consts.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "shape" \
                and isinstance(node.value, ast.Name):
            k = self.lengths.get(node.value.id)
            return k if k is None or k is TOP else (k,)
        if isinstance(node, ast.Subscript):
            base, k = self.ev(node.value, env), self.ev(node.slice, env)
            if base is None or k is None:
                return None
            if base is TOP or k is TOP:
                return TOP
            if isinstance(base, tuple) and _int(k) and -len(base) <= k < len(base):
                return base[k]
            return None
        if isinstance(node, ast.Tuple):
            return _combine([self.ev(e, env) for e in node.elts], tuple)
        if isinstance(node, ast.BinOp) and type(node.op) in _INT_OPS:
            op = _INT_OPS[type(node.op)]
            return _combine([self.ev(node.left, env), self.ev(node.right, env)],
                            lambda ab: op(*ab))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return _combine([self.ev(node.operand, env)], lambda a: -a[0])
        if isinstance(node, ast.Call) and not node.keywords:
            name = dotted(node.func)
            if name == "len" and len(node.args) == 1 and isinstance(node.args[0], ast.Name):
                return self.lengths.get(node.args[0].id)
            if name in _FOLD:
                fn = _FOLD[name]
                return _combine([self.ev(a, env) for a in node.args], lambda a: int(fn(*a)))
        return None

    def _length_of(self, value: ast.expr):
        """The length of the array `value` makes, when it is a candidate's binding (TOP:
        not decided yet; None: no constant length, or not a binding this stage rewrites)."""
        if isinstance(value, ast.Name):
            return self.lengths.get(value.id)
        if isinstance(value, ast.Call):
            name = dotted(value.func)
            args = value.args
            if value.keywords:
                return None
            if name in _ZERO and len(args) == 1 or name == "np.full" and len(args) == 2 \
                    and self._float_atom(args[1]):
                n = self.ev(args[0])
                n = n[0] if isinstance(n, tuple) and len(n) == 1 else n
                return n if _int(n) or n is TOP else None
            if (name in _ZERO_LIKE or name == "np.copy") and len(args) == 1 \
                    or name == "np.full_like" and len(args) == 2 and self._float_atom(args[1]):
                return self.lengths.get(args[0].id) if isinstance(args[0], ast.Name) else None
            if name == "np_ops.array" and len(args) == 1 and isinstance(args[0], ast.Tuple) \
                    and all(self._float_atom(e) for e in args[0].elts):
                return len(args[0].elts) or None
            if name in self.unary and len(args) == 1 and isinstance(args[0], ast.Name):
                return self.lengths.get(args[0].id)
            return None
        if isinstance(value, ast.BinOp) and isinstance(value.op, _ELEM_OPS):
            found = set()
            for side in (value.left, value.right):
                if isinstance(side, ast.Name) and self._vector(side.id):
                    found.add(self.lengths.get(side.id))
                elif not self._scalar(side):
                    return None
            if None in found:
                return None
            found.discard(TOP)
            return found.pop() if len(found) == 1 else TOP if not found else None
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, (ast.USub, ast.UAdd)):
            return self._length_of(value.operand)
        return None

    def _bindings(self) -> dict[str, list]:
        """name -> its binding statements (an Assign's value, or None for any other kind:
        a loop target, a tuple target, an augmented assignment)."""
        out: dict[str, list] = {}
        for stmt in walk_stmts(self.tree.body):
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                    and isinstance(stmt.targets[0], ast.Name):
                out.setdefault(stmt.targets[0].id, []).append(stmt.value)
                continue
            targets = stmt.targets if isinstance(stmt, ast.Assign) else \
                [stmt.target] if isinstance(stmt, (ast.AugAssign, ast.AnnAssign, ast.For)) \
                else []
            for t in targets:
                if isinstance(t, ast.Subscript):
                    continue
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        out.setdefault(n.id, []).append(None)
        return out

    def _analyse(self) -> None:
        """consts and lengths. Each needs the other, and a loop-carried array's length
        needs itself (x = x + dt * v), so the analysis is optimistic: every name starts
        undecided (TOP) and only ever falls, to a constant, then to none, until nothing
        changes; the names still undecided then have no constant either."""
        binds = self._bindings()
        vectors = {n for n, vs in binds.items() if self._vector(n) and n not in self.params
                   and None not in vs}
        ints = {n for n, vs in binds.items() if not self._vector(n) and n not in self.params
                and len(vs) == 1 and vs[0] is not None}
        self.lengths = dict.fromkeys(vectors, TOP)
        self.consts = dict.fromkeys(ints, TOP)
        changed = True
        while changed:
            changed = False
            for name in list(self.lengths):
                ks = {self._length_of(v) for v in binds[name]}
                ks.discard(TOP)
                k = ks.pop() if len(ks) == 1 else TOP if not ks else None
                if k is not None and k is not TOP and not (_int(k) and 1 <= k <= MAX_LEN):
                    k = None
                if k is None:
                    del self.lengths[name]
                    changed = True
                elif k is not self.lengths[name]:
                    changed = changed or k != self.lengths[name]
                    self.lengths[name] = k
            for name in list(self.consts):
                v = self.ev(binds[name][0])
                if v is None:
                    del self.consts[name]
                    changed = True
                elif v is not TOP and v != self.consts[name]:
                    self.consts[name] = v
                    changed = True
        self.lengths = {n: k for n, k in self.lengths.items() if k is not TOP}
        self.consts = {n: v for n, v in self.consts.items() if v is not TOP}

    # -- unrolling -----------------------------------------------------------

    def _indexes_by_name(self, body: list[ast.stmt]) -> bool:
        for n in ast.walk(ast.Module(body, [])):
            if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) \
                    and n.value.id in self.lengths and not isinstance(n.slice, ast.Constant):
                return True
        return False

    def _trips(self, loop: ast.For) -> list[int] | None:
        if not (isinstance(loop.iter, ast.Call) and dotted(loop.iter.func) == "range"
                and not loop.iter.keywords and 1 <= len(loop.iter.args) <= 3
                and isinstance(loop.target, ast.Name)) or loop.orelse:
            return None
        args = [self.ev(a) for a in loop.iter.args]
        if not all(_int(a) for a in args) or len(args) == 3 and args[2] == 0:
            return None
        trips = list(range(*args))
        return trips if len(trips) <= MAX_LEN else None

    def _unroll_block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            if isinstance(stmt, (ast.If, ast.For, ast.While)):
                stmt.body = self._unroll_block(stmt.body)
                stmt.orelse = self._unroll_block(stmt.orelse)
            if isinstance(stmt, ast.For):
                trips = self._trips(stmt)
                jumps = any(isinstance(n, (ast.Break, ast.Continue, ast.Return))
                            for n in ast.walk(ast.Module(stmt.body, [])))
                size = sum(1 for _ in walk_stmts(stmt.body))
                if trips is not None and not jumps and self._indexes_by_name(stmt.body) \
                        and size * len(trips) <= MAX_UNROLLED:
                    var = stmt.target.id
                    for k in trips:
                        copy_ = [assign(var, const(k), getattr(stmt, "srcline", None))]
                        copy_ += copy.deepcopy(stmt.body)
                        self._fold(copy_, {})
                        out.extend(copy_)
                    self.changed = True
                    continue
            out.append(stmt)
        return out

    def _fold(self, body: list[ast.stmt], env: dict) -> None:
        """Fold int constants through a straight-line block (an unrolled copy), in
        place: ``_j = _i * _s`` becomes ``_j = 1``, and indexes by such names constants."""
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                for node in [stmt.value, *stmt.targets]:
                    self._fold_indexes(node, env)
                t = stmt.targets[0]
                if isinstance(t, ast.Name):
                    v = self.ev(stmt.value, env)
                    if _int(v):
                        env[t.id] = v
                        stmt.value = const(v)
                    else:
                        env.pop(t.id, None)
            elif isinstance(stmt, (ast.If, ast.For, ast.While)):
                bound = {n.id for s in walk_stmts(stmt.body + stmt.orelse)
                         for n in ast.walk(s) if isinstance(n, ast.Name)
                         and isinstance(n.ctx, ast.Store)}
                if isinstance(stmt, ast.For):
                    bound.add(stmt.target.id)
                if not isinstance(stmt, ast.If):
                    for b in bound:
                        env.pop(b, None)
                for part in (stmt.body, stmt.orelse):
                    self._fold(part, dict(env))
                for b in bound:
                    env.pop(b, None)
            else:
                self._fold_indexes(stmt, env)

    def _fold_indexes(self, node: ast.AST, env: dict) -> None:
        for n in ast.walk(node):
            if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) \
                    and n.value.id in self.lengths \
                    and isinstance(n.slice, (ast.Name, ast.UnaryOp, ast.BinOp)):
                v = self.ev(n.slice, env)
                if _int(v):
                    n.slice = const(v)

    # -- which arrays --------------------------------------------------------

    def _uses_ok(self) -> set[str]:
        """The candidates every use of which is one this stage rewrites."""
        bad: set[str] = set()
        links: list[set[str]] = []   # names one binding ties together
        ok_nodes: set[int] = set()   # Name nodes in an allowed position

        def cand(node) -> bool:
            return isinstance(node, ast.Name) and node.id in self.lengths

        def index_ok(sub: ast.Subscript) -> bool:
            k = sub.slice
            return isinstance(k, ast.Constant) and _int(k.value) \
                and -self.lengths[sub.value.id] <= k.value < self.lengths[sub.value.id]

        for stmt in walk_stmts(self.tree.body):
            for n in ast.walk(stmt):
                if isinstance(n, ast.Attribute) and n.attr == "shape" and cand(n.value):
                    ok_nodes.add(id(n.value))
                elif isinstance(n, ast.Call) and dotted(n.func) == "len" and len(n.args) == 1 \
                        and cand(n.args[0]):
                    ok_nodes.add(id(n.args[0]))
            if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
                continue
            t, value = stmt.targets[0], stmt.value
            if isinstance(t, ast.Subscript) and cand(t.value):
                if index_ok(t) and self._float_atom(value):
                    ok_nodes.add(id(t.value))
            elif isinstance(t, ast.Name) and t.id in self.lengths:
                # an operand kept whole is read element by element, and a binding kept
                # whole is built from elements: only an alias (y = x) ties two names
                ok_nodes.add(id(t))
                for n in ast.walk(value):
                    if cand(n):
                        ok_nodes.add(id(n))
                if cand(value):
                    links.append({value.id, t.id})
            elif isinstance(t, ast.Name):
                if isinstance(value, ast.Subscript) and cand(value.value) and index_ok(value):
                    ok_nodes.add(id(value.value))
                elif isinstance(value, ast.Call) and dotted(value.func) == "np.sum" \
                        and len(value.args) == 1 and not value.keywords and cand(value.args[0]):
                    ok_nodes.add(id(value.args[0]))
        for stmt in walk_stmts(self.tree.body):
            own = [stmt.test] if isinstance(stmt, (ast.If, ast.While)) else \
                [stmt.iter] if isinstance(stmt, ast.For) else [stmt]
            for part in own:
                for n in ast.walk(part):
                    if isinstance(n, ast.Name) and n.id in self.lengths \
                            and id(n) not in ok_nodes and n.id not in bad:
                        bad.add(n.id)
                        self.kept[n.id] = stmt
        bad |= self._unfresh_stores()
        changed = True
        while changed:   # a binding ties its names: all of them become scalars, or none
            changed = False
            for group in links:
                if group & bad and not group <= bad:
                    bad |= group
                    changed = True
        return set(self.lengths) - bad

    def _unfresh_stores(self) -> set[str]:
        """Arrays stored into where the array may be shared: not made fresh earlier in
        the store's block (or an enclosing if), or aliased (``y = x``) since."""
        bad: set[str] = set()

        def aliases(stmt: ast.stmt, name: str) -> bool:
            return any(isinstance(s, ast.Assign) and isinstance(s.value, ast.Name)
                       and s.value.id == name for s in walk_stmts([stmt]))

        def visit(body: list[ast.stmt], outer: list) -> None:
            for j, stmt in enumerate(body):
                if isinstance(stmt, ast.If):
                    for part in (stmt.body, stmt.orelse):
                        visit(part, outer + [(body, j)])
                elif isinstance(stmt, (ast.For, ast.While)):
                    visit(stmt.body, [])
                    visit(stmt.orelse, [])
                elif isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript) \
                        and isinstance(stmt.targets[0].value, ast.Name) \
                        and stmt.targets[0].value.id in self.lengths:
                    name = stmt.targets[0].value.id
                    if not fresh(name, body, j, outer):
                        bad.add(name)

        def fresh(name: str, body: list[ast.stmt], j: int, outer: list) -> bool:
            while True:
                for s in reversed(body[:j]):
                    if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name) \
                            and s.targets[0].id == name:
                        return not isinstance(s.value, ast.Name)
                    if aliases(s, name):
                        return False
                    if not isinstance(s, ast.Assign) and any(
                            isinstance(x, ast.Assign) and isinstance(x.targets[0], ast.Name)
                            and x.targets[0].id == name for x in walk_stmts([s])):
                        return False   # rebound inside an if or loop: which binding is unknown
                if not outer:
                    return False
                body, j = outer[-1]
                outer = outer[:-1]

        visit(self.tree.body, [])
        return bad

    # -- rewriting -----------------------------------------------------------

    def run(self) -> bool:
        self._analyse()
        if not self.lengths:
            return False
        self.tree.body = self._unroll_block(self.tree.body)
        self._analyse()
        self._fold_top()
        keep = self._uses_ok()
        self.whole = {a: k for a, k in self.lengths.items() if a not in keep}
        self.lengths = {a: k for a, k in self.lengths.items() if a in keep}
        if not self.lengths:
            return self.changed
        self.names = {a: [self.namer.exact(f"{a}_{k}") for k in range(n)]
                      for a, n in self.lengths.items()}
        for names in self.names.values():
            for n in names:
                self.new_types[n] = nbtypes.float64
        self.tree.body = self._rewrite_block(self.tree.body)
        self.changed = True
        return True

    def _fold_top(self) -> None:
        """Indexes by names bound once to a constant become the constant."""
        for stmt in walk_stmts(self.tree.body):
            if isinstance(stmt, ast.Assign):
                for node in [stmt.value, *stmt.targets]:
                    self._fold_indexes(node, {})

    def _elem(self, node: ast.expr, k: int) -> ast.expr:
        """Element k of an operand (a scalar operand is itself). An array kept whole is
        read into a new float first (one operation per statement)."""
        if isinstance(node, ast.Name) and node.id in self.lengths:
            return load(self.names[node.id][k])
        if isinstance(node, ast.Name) and node.id in self.whole:
            name = self._float(f"_{node.id}_{k}", exact=True)
            self._pre.append((name, ast.Subscript(load(node.id), const(k), ast.Load())))
            return load(name)
        if isinstance(node, ast.Constant) and _int(node.value):
            return const(float(node.value))
        return copy.deepcopy(node)

    def _shape_consts(self, node: ast.AST) -> ast.AST:
        lengths = self.lengths

        class Shapes(ast.NodeTransformer):
            def visit_Attribute(self, n: ast.Attribute) -> ast.AST:
                if n.attr == "shape" and isinstance(n.value, ast.Name) and n.value.id in lengths:
                    return ast.Tuple([const(lengths[n.value.id])], ast.Load())
                return self.generic_visit(n)

            def visit_Call(self, n: ast.Call) -> ast.AST:
                if dotted(n.func) == "len" and len(n.args) == 1 \
                        and isinstance(n.args[0], ast.Name) and n.args[0].id in lengths:
                    return const(lengths[n.args[0].id])
                return self.generic_visit(n)

        return Shapes().visit(node)

    def _rewrite_block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            if isinstance(stmt, (ast.If, ast.For, ast.While)):
                stmt.body = self._rewrite_block(stmt.body)
                stmt.orelse = self._rewrite_block(stmt.orelse)
                out.append(self._shape_consts(stmt))
                continue
            self._pre = []
            new = self._rewrite(stmt) if isinstance(stmt, ast.Assign) else None
            new = None if new is None else self._pre + new
            line = getattr(stmt, "srcline", None)
            if new is None:
                out.append(self._shape_consts(stmt))
            else:
                out.extend(assign(t, v, line) for t, v in new)
        return out

    def _rewrite(self, stmt: ast.Assign) -> list[tuple[str, ast.expr]] | None:
        t, value = stmt.targets[0], stmt.value
        if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) \
                and t.value.id in self.lengths:
            a = t.value.id
            return [(self.names[a][t.slice.value % self.lengths[a]], self._elem(value, 0))]
        if not isinstance(t, ast.Name):
            return None
        if t.id in self.lengths:
            return [(n, self._element_value(value, k)) for k, n in enumerate(self.names[t.id])]
        if t.id in self.whole and any(isinstance(n, ast.Name) and n.id in self.lengths
                                      for n in ast.walk(value)):
            return self._materialize(t.id, value)
        if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name) \
                and value.value.id in self.lengths:
            a = value.value.id
            return [(t.id, load(self.names[a][value.slice.value % self.lengths[a]]))]
        if isinstance(value, ast.Call) and dotted(value.func) == "np.sum" and value.args \
                and isinstance(value.args[0], ast.Name) and value.args[0].id in self.lengths:
            names = self.names[value.args[0].id]
            if len(names) == 1:
                return [(t.id, load(names[0]))]
            out, acc = [], load(names[0])
            for k, n in enumerate(names[1:], 1):
                target = t.id if k == len(names) - 1 else self.namer.fresh("_acc")
                self.new_types[target] = nbtypes.float64
                out.append((target, ast.BinOp(acc, ast.Add(), load(n))))
                acc = load(target)
            return out
        return None

    def _float(self, prefix: str, exact: bool = False) -> str:
        name = self.namer.exact(prefix) if exact else self.namer.fresh(prefix)
        self.new_types[name] = nbtypes.float64
        return name

    def _materialize(self, target: str, value: ast.expr) -> list[tuple[str, ast.expr]]:
        """An array kept whole, bound from arrays that became floats: made from the
        floats (``np.zeros_like(x)`` needs only x's length)."""
        k = self.whole[target]
        name = dotted(value.func) if isinstance(value, ast.Call) else None
        if name in _ZERO_LIKE:
            fn = {"np.zeros_like": "np.zeros", "np.ones_like": "np.ones",
                  "np.empty_like": "np.empty"}[name]
            return [(target, ast.Call(name_node(fn), [const(k)], []))]
        if name == "np.full_like":
            return [(target, ast.Call(name_node("np.full"), [const(k), copy.deepcopy(value.args[1])],
                                      []))]
        parts = []
        for j in range(k):
            elem = self._element_value(value, j)
            if isinstance(elem, ast.Name):
                parts.append(elem)
                continue
            temp = self._float(f"_{target}_{j}", exact=True)
            self._pre.append((temp, elem))
            parts.append(load(temp))
        return [(target, ast.Call(name_node("np_ops.array"), [ast.Tuple(parts, ast.Load())],
                                  []))]

    def _element_value(self, value: ast.expr, k: int) -> ast.expr:
        """Element k of the array a candidate's binding makes."""
        if isinstance(value, ast.Name):
            return self._elem(value, k)
        if isinstance(value, ast.Call):
            name = dotted(value.func)
            args = value.args
            if name in _ZERO:
                return const(_ZERO[name])
            if name in _ZERO_LIKE:
                return const(_ZERO_LIKE[name])
            if name in ("np.full", "np.full_like"):
                return self._elem(args[1], 0)
            if name == "np.copy":
                return self._elem(args[0], k)
            if name == "np_ops.array":
                return self._elem(args[0].elts[k], 0)
            return ast.Call(copy.deepcopy(value.func), [self._elem(args[0], k)], [])
        if isinstance(value, ast.BinOp):
            return ast.BinOp(self._elem(value.left, k), copy.deepcopy(value.op),
                             self._elem(value.right, k))
        if isinstance(value, ast.UnaryOp):
            return ast.UnaryOp(copy.deepcopy(value.op), self._elem(value.operand, k))
        raise AssertionError(f"not a small array's binding: {ast.dump(value)}")


def small_arrays(tree: ast.FunctionDef, typed, namer, unary: frozenset,
                 constants: dict | None = None):
    """Rewrite `tree` in place; (whether it changed, the new names' types)."""
    sa = SmallArrays(tree, typed, namer, unary, constants)
    changed = sa.run()
    return changed, sa.new_types
