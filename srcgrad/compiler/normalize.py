"""Stage 3, normalize: lower a user function to the core language (see core.py).

Two passes. ``lower_jumps`` turns ``break``, ``continue`` and early ``return``
into flags, so that every loop body runs straight to its end (a real ``break``
survives only as ``if flag: break`` at the end of a body) and the function
has one exit. ``ANF`` then splits every expression into one operation per
statement with explicit temporaries, turns conditional expressions and
short-circuit ``and``/``or`` into ``if`` statements, and replaces aliases
(``from math import sin``, ``import math as m``) by canonical names.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
from dataclasses import dataclass, field

from ..errors import MissingRuleError, UnsupportedSyntaxError
from ..runtime.linalg import einsum_chain
from ..runtime.special import SCIPY_AXIS_NAMES, SCIPY_NAMES, call_problem
from .capture import Captured, capture
from .containers import Container, Scalarize, is_float_type, leaf_name, literal_of
from .core import (MODULE_NAMES, assign, clone, const, dotted, is_atom, load, name_node,
                   substitute, walk_stmts)
from .fence import IN_PLACE_METHODS, fence, returns_value
from .inline import inline_call
from .rules import RULES, numpy_name
from .stats_calls import LOWERED as STATS_LOWERED, TUPLE_PARTS as STATS_TUPLE_PARTS, lower_call


class Namer:
    """Deterministic fresh names that never collide with the user's."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = set(taken)
        self.counters: dict[str, int] = {}

    def fresh(self, prefix: str) -> str:
        while True:
            n = self.counters.get(prefix, 0) + 1
            self.counters[prefix] = n
            name = f"{prefix}{n}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def exact(self, name: str) -> str:
        """`name` itself if free, else a numbered variant."""
        if name not in self.taken:
            self.taken.add(name)
            return name
        return self.fresh(name)


def user_names(tree: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in ast.walk(tree.args) if isinstance(a, ast.arg)}
    names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return names


@dataclass
class Normalized:
    """The core-language function, the names it introduced, and the globals it reads:
    the captured function's constants and those its inlined helpers brought
    (`constants`), and the custom_vjp functions it calls (`customs`)."""

    tree: ast.FunctionDef
    namer: Namer
    params: list[str]
    temps: set[str]
    constants: dict[str, object] = field(default_factory=dict)
    customs: dict[str, object] = field(default_factory=dict)
    # container parameters -> the parameters of their leaves (containers.py)
    leaves: dict[str, list[str]] = field(default_factory=dict)
    # a function that returns a list, a dict or nested tuples returns the flat tuple of
    # their leaves; this is their structure (containers.output_structure)
    output: Container | None = None

    def flat_types(self, arg_types: tuple, names: list[str]) -> tuple:
        """The types of `params` from those of the original parameters `names`: a
        Container's leaves in its place."""
        out: list = []
        for name, typ in zip(names, arg_types):
            if isinstance(typ, Container):
                out += [t for _, t in typ.leaves()]
            else:
                out.append(typ)
        return tuple(out)

    def flat_wrt(self, wrt: list[str], flat_types: tuple) -> list[str]:
        """wrt with each container parameter replaced by its leaves of float type."""
        types = dict(zip(self.params, flat_types))
        out: list[str] = []
        for name in wrt:
            if name not in self.leaves:
                out.append(name)
                continue
            out += [leaf for leaf in self.leaves[name] if is_float_type(types[leaf])]
        return out


def normalize(cap: Captured, nested=None, chain: tuple = (),
              containers: dict | None = None) -> Normalized:
    """The core-language form of `cap`'s function. Its final return may give a
    tuple of atoms (a helper inlined by inline.py, or a function under `vjp`).
    `nested` (a nested.Frame) resolves calls to derivative objects; `chain` is the
    functions being inlined around this one (recursion is refused). `containers` gives
    the parameters that hold tuples, lists or dicts: a containers.Container (an argument
    of the function differentiated: one parameter per leaf) or a literal of the names
    of its leaves (a helper's parameter, given a container by its caller)."""
    namer = Namer(user_names(cap.tree) | set(cap.modules) | set(cap.constants)
                  | set(cap.callees) | set(cap.nested) | MODULE_NAMES)
    env: dict[str, ast.expr] = {}
    leaves: dict[str, list[str]] = {}
    params: list[str] = []
    for p in cap.params:
        given = (containers or {}).get(p)
        if isinstance(given, Container):
            names = [namer.exact(leaf_name(p, path)) for path, _ in given.leaves()]
            env[p] = literal_of(given, iter(names))
            leaves[p] = names
            params += names
        else:
            if given is not None:
                env[p] = given
            params.append(p)
    body = _split_tuple_results(copy.deepcopy(cap.tree.body), cap)
    scalarize = Scalarize(cap, namer, env, top=not chain)
    body = scalarize.function(body)
    body = JumpLowering(namer).function(body)
    anf = ANF(cap, namer, nested, chain)
    new_body = anf.block(body)
    # every parameter positional, in order (keyword-only ones too): callers bind
    # arguments, defaults included, before calling the core function
    args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params], vararg=None,
                         kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
    tree = ast.FunctionDef(
        name=cap.tree.name, args=args, body=new_body, decorator_list=[],
        returns=None, type_comment=None, type_params=[], lineno=cap.tree.lineno,
        col_offset=0)
    tree.srcline = cap.tree.lineno
    _renumber_temps(tree, anf.temps)
    return Normalized(tree=tree, namer=namer, params=params, temps=anf.temps,
                      constants=anf.constants, customs=anf.customs, leaves=leaves,
                      output=scalarize.output)


def canonical_callee(cap: Captured, func: ast.expr) -> str | None:
    """The canonical name of a called function (`np.linalg.slogdet`), None for a method,
    a helper or anything else."""
    if isinstance(func, ast.Name):
        return cap.functions.get(func.id)
    if isinstance(func, ast.Attribute):
        inner = func.value
        if isinstance(inner, ast.Name) and inner.id in cap.modules:
            return f"{cap.modules[inner.id]}.{func.attr}"
        if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) \
                and inner.value.id in cap.modules:
            return f"{cap.modules[inner.value.id]}.{inner.attr}.{func.attr}"
    return None


def _split_tuple_results(body: list[ast.stmt], cap: Captured) -> list[ast.stmt]:
    """A call to a function returning a tuple (`np.linalg.slogdet(A)`) becomes the tuple
    of its parts, one call each (`(np_ops.slogdet_sign(A), np_ops.slogdet_logabsdet(A))`,
    from TUPLE_PARTS), so `s, l = np.linalg.slogdet(A)`, `r = ...; r[1]` and `...[1]`
    lower like tuple literals, and each part is an array or a float with a rule."""
    module = ast.Module(body, [])

    class Split(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.expr:
            self.generic_visit(node)
            name = canonical_callee(cap, node.func)
            if name is None:
                return node
            name = numpy_name(name) if name.startswith("np.") else name
            parts = TUPLE_PARTS.get(name)
            if parts is None:
                return node
            if name == "np.linalg.svd" and _svd_values_only(node):
                # compute_uv=False: the singular values alone
                args = node.args[:2]
                keywords = [k for k in node.keywords if k.arg == "full_matrices"]
                return ast.copy_location(ast.Call(name_node("linalg.svd_s"), args, keywords),
                                         node)
            calls = [ast.copy_location(ast.Call(name_node(part), copy.deepcopy(node.args),
                                                copy.deepcopy(node.keywords)), node)
                     for part in parts]
            return ast.copy_location(ast.Tuple(calls, ast.Load()), node)
    Split().visit(module)
    return module.body


# ----------------------------------------------------------------- jumps


@dataclass
class _Loop:
    brk: str | None   # set when the loop must stop (break, or a return inside)
    skip: str | None  # set when the rest of the iteration must be skipped


def _contains_return(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Return) for n in ast.walk(node))


def _own_jumps(stmts: list[ast.stmt], kind: type) -> bool:
    """True when a break/continue in `stmts` belongs to the enclosing loop."""
    for stmt in stmts:
        if isinstance(stmt, kind):
            return True
        if isinstance(stmt, ast.If) and (_own_jumps(stmt.body, kind)
                                         or _own_jumps(stmt.orelse, kind)):
            return True
    return False


def _at(node: ast.stmt, like: ast.AST) -> ast.stmt:
    node.lineno = getattr(like, "lineno", 0)
    node.col_offset = getattr(like, "col_offset", 0)
    return node


class JumpLowering:
    """break / continue / early return  ->  flags, guards and one exit."""

    def __init__(self, namer: Namer) -> None:
        self.namer = namer
        self.flagged = False
        self.ret = ""
        self.ret_parts: list[str] = []  # for a tuple return: one variable per value
        self.returned = ""

    def function(self, body: list[ast.stmt]) -> list[ast.stmt]:
        returns = [n for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Return)]
        self.flagged = not (len(returns) == 1 and body and body[-1] is returns[0])
        if not self.flagged:
            return self.block(body, [])
        sizes = {len(r.value.elts) if isinstance(r.value, ast.Tuple) else 0 for r in returns}
        if len(sizes) > 1:
            raise UnsupportedSyntaxError(
                "the returns of this function give tuples of different lengths, or a "
                "tuple and a single value", "", getattr(returns[0], "lineno", 0), 0,
                construct="return", hint="return the same number of values everywhere")
        size = sizes.pop()
        self.ret = self.namer.exact("_ret")
        if size:
            self.ret_parts = [self.ret] + [self.namer.exact(f"_ret{k}")
                                           for k in range(2, size + 1)]
        self.returned = self.namer.exact("_returned")
        first = body[0]
        out: list[ast.stmt] = [_at(self._set(self.returned, False), first)]
        out += self.block(body, [])
        value = ast.Tuple([load(n) for n in self.ret_parts], ast.Load()) if size \
            else load(self.ret)
        out.append(_at(ast.Return(value), body[-1]))
        return out

    @staticmethod
    def _set(name: str, value) -> ast.Assign:
        return ast.Assign([ast.Name(name, ast.Store())], const(value))

    def _may_jump(self, stmt: ast.stmt, loops: list[_Loop]) -> bool:
        if self.flagged and _contains_return(stmt):
            return True
        if not loops or isinstance(stmt, (ast.For, ast.While)):
            return False
        return _own_jumps([stmt], ast.Break) or _own_jumps([stmt], ast.Continue)

    def block(self, stmts: list[ast.stmt], loops: list[_Loop]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for i, stmt in enumerate(stmts):
            out += self.stmt(stmt, loops)
            if isinstance(stmt, (ast.Return, ast.Break, ast.Continue)):
                break  # what follows is dead code
            rest = stmts[i + 1:]
            if rest and self._may_jump(stmt, loops):
                guard = loops[-1].skip if loops else self.returned
                test = ast.UnaryOp(ast.Not(), load(guard))
                out.append(_at(ast.If(test, self.block(rest, loops), []), rest[0]))
                break
        return out

    def stmt(self, stmt: ast.stmt, loops: list[_Loop]) -> list[ast.stmt]:
        if isinstance(stmt, ast.Return):
            if not self.flagged:
                return [stmt]
            target = ast.Tuple([ast.Name(n, ast.Store()) for n in self.ret_parts], ast.Store()) \
                if self.ret_parts else ast.Name(self.ret, ast.Store())
            out = [ast.Assign([target], stmt.value), self._set(self.returned, True)]
            for loop in loops:
                out.append(self._set(loop.brk, True))
                if loop.skip != loop.brk:
                    out.append(self._set(loop.skip, True))
            return [_at(s, stmt) for s in out]
        if isinstance(stmt, ast.Break):
            loop = loops[-1]
            out = [self._set(loop.brk, True)]
            if loop.skip != loop.brk:
                out.append(self._set(loop.skip, True))
            return [_at(s, stmt) for s in out]
        if isinstance(stmt, ast.Continue):
            return [_at(self._set(loops[-1].skip, True), stmt)]
        if isinstance(stmt, ast.If):
            return [_at(ast.If(stmt.test, self.block(stmt.body, loops),
                               self.block(stmt.orelse, loops)), stmt)]
        if isinstance(stmt, (ast.For, ast.While)):
            return self._loop(stmt, loops)
        return [stmt]

    def _loop(self, stmt: ast.For | ast.While, loops: list[_Loop]) -> list[ast.stmt]:
        has_break = _own_jumps(stmt.body, ast.Break) or (self.flagged
                                                         and _contains_return(stmt))
        has_continue = _own_jumps(stmt.body, ast.Continue)
        brk = self.namer.fresh("_break") if has_break else None
        if has_continue:
            skip = self.namer.fresh("_skip")
        else:
            skip = brk
        loop = _Loop(brk, skip)
        body = self.block(stmt.body, loops + [loop])
        pre: list[ast.stmt] = []
        if has_continue:
            body.insert(0, _at(self._set(skip, False), stmt.body[0]))
        if has_break:
            pre.append(_at(self._set(brk, False), stmt))
            body.append(_at(ast.If(load(brk), [_at(ast.Break(), stmt)], []), stmt))
        if isinstance(stmt, ast.For):
            new = ast.For(stmt.target, stmt.iter, body, [])
        else:
            new = ast.While(stmt.test, body, [])
        return pre + [_at(new, stmt)]


# ------------------------------------------------------------------- ANF

_COMPOUND_FUNCS = {"max", "min", "math.hypot"}


class ANF:
    """One operation per statement, explicit temporaries, canonical names."""

    def __init__(self, cap: Captured, namer: Namer, nested=None, chain: tuple = ()) -> None:
        self.cap = cap
        self.namer = namer
        self.nested = nested
        self.chain = chain
        self.line: int | None = None
        self.temps: set[str] = set()
        # the globals the lowered code reads: the function's, and those inlined helpers bring
        self.constants: dict[str, object] = dict(cap.constants)
        self.customs: dict[str, object] = dict(cap.customs)

    def capture_callee(self, fn, call: ast.Call) -> tuple[Captured, bool]:
        """A helper the function calls, captured and fenced on its own, and whether it
        returns a value on every path (inline.py then adapts it to the call and lowers
        it with `normalize_callee`)."""
        if fn in self.chain or fn is self.cap.fn:
            raise self.error(call, f"recursive call to '{fn.__name__}'",
                             hint="srcgrad inlines calls between your functions, so it "
                                  "cannot follow recursion; rewrite it as a loop")
        callee = fence(capture(fn), callee=True)
        return callee, returns_value(callee)

    def normalize_callee(self, callee: Captured, containers: dict | None = None) -> Normalized:
        return normalize(callee, self.nested, self.chain + (self.cap.fn,), containers)

    def error(self, node: ast.AST, message: str, hint: str = "") -> UnsupportedSyntaxError:
        return self.cap.error(UnsupportedSyntaxError, node, message, hint=hint)

    def temp(self, prefix: str = "_t") -> str:
        name = self.namer.fresh(prefix)
        self.temps.add(name)
        return name

    def put(self, out: list[ast.stmt], stmt: ast.stmt) -> None:
        if getattr(stmt, "srcline", None) is None:
            stmt.srcline = self.line
        out.append(stmt)

    # statements ----------------------------------------------------------

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            saved = self.line
            self.line = getattr(stmt, "lineno", None) or saved
            self.stmt(stmt, out)
            self.line = saved
        return out

    def stmt(self, stmt: ast.stmt, out: list[ast.stmt]) -> None:
        if isinstance(stmt, ast.Assign):
            self._assign(stmt, out)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Subscript):
            # y[i] += v  ->  t = y[i]; t2 = t + v; y[i] = t2   (index evaluated once)
            base, index = self._store_target(stmt.target, out)
            old = self.temp()
            self.put(out, assign(old, ast.Subscript(load(base), copy.deepcopy(index),
                                                    ast.Load())))
            new = self.atom(ast.BinOp(load(old), stmt.op, stmt.value), out)
            self._store(base, index, new, out)
        elif isinstance(stmt, ast.AugAssign):
            value = ast.BinOp(ast.Name(stmt.target.id, ast.Load()), stmt.op, stmt.value)
            self.expr_into(stmt.target.id, value, out)
        elif isinstance(stmt, ast.AnnAssign):
            self.expr_into(stmt.target.id, stmt.value, out)
        elif isinstance(stmt, ast.Return):
            if isinstance(stmt.value, ast.Tuple):  # a helper's `return a, b`
                value = ast.Tuple([self.atom(e, out) for e in stmt.value.elts], ast.Load())
            else:
                value = self.atom(stmt.value, out)
            self.put(out, ast.Return(value))
        elif isinstance(stmt, ast.If):
            test = self.condition(stmt.test, out)
            node = ast.If(test, self.block(stmt.body), self.block(stmt.orelse))
            self.put(out, node)
        elif isinstance(stmt, ast.For):
            self._for(stmt, out)
        elif isinstance(stmt, ast.While):
            self._while(stmt, out)
        elif isinstance(stmt, ast.Break):
            self.put(out, ast.Break())
        elif isinstance(stmt, ast.Expr) and self._is_callee_call(stmt.value):
            inline_call(self, [], stmt.value, out)  # a helper called for its writes
        elif isinstance(stmt, ast.Expr) and self._is_builtin_call(stmt.value, "print"):
            # run in the forward sweep only: its arguments atoms, strings kept
            call = stmt.value
            args = [const(a.value) if isinstance(a, ast.Constant) else self.atom(a, out)
                    for a in call.args]
            self.put(out, ast.Expr(ast.Call(load("print"), args, [])))  # default sep, end
        elif isinstance(stmt, ast.Expr) and in_place_call(stmt.value):
            lower_in_place(self, stmt.value, out)  # x.sort(), x.fill(v)
        elif isinstance(stmt, (ast.Pass, ast.Expr)):
            pass  # docstrings and pass
        else:
            raise self.error(stmt, f"'{type(stmt).__name__}' is not supported")

    def _store_target(self, target: ast.Subscript, out: list[ast.stmt]):
        return target.value.id, self.index(target.slice, out)

    def _store(self, base: str, index: ast.expr, value: ast.expr, out) -> None:
        node = ast.Assign([ast.Subscript(ast.Name(base, ast.Load()), index, ast.Store())],
                          value)
        self.put(out, node)

    def _assign(self, stmt: ast.Assign, out: list[ast.stmt]) -> None:
        targets = stmt.targets
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            self.expr_into(targets[0].id, stmt.value, out)
            return
        if len(targets) == 1 and isinstance(targets[0], ast.Subscript):
            base, index = self._store_target(targets[0], out)
            self._store(base, index, self.atom(stmt.value, out), out)
            return
        if len(targets) > 1:  # a = b = value
            value = self.atom(stmt.value, out)
            if isinstance(value, ast.Name) and any(
                    isinstance(t, ast.Name) and t.id == value.id for t in targets):
                value = self._copy_to_temp(value, out)
            for target in targets:
                self._assign(ast.Assign([target], value), out)
            return
        target = targets[0]
        value = stmt.value
        if self._is_callee_call(value):
            # u, v = helper(x): the helper's values into temporaries, then the targets
            parts = [self.temp() for _ in target.elts]
            inline_call(self, parts, value, out, unpack=True)
            value = ast.Tuple([load(p) for p in parts], ast.Load())
        value = split_parts(self, value, len(target.elts), out) or value
        if not isinstance(value, ast.Tuple) or len(value.elts) != len(target.elts):
            raise self.error(stmt, "tuple assignment needs a tuple of the same length on the "
                             "right", hint="write `a, b = x, y` or assign one by one")
        # Evaluate the whole right side first: a, b = b, a + b * x.
        written = {t.id if isinstance(t, ast.Name) else t.value.id for t in target.elts}
        temps = []
        for elt in value.elts:
            atom = self.atom(elt, out)
            if isinstance(atom, ast.Name) and atom.id in written:
                atom = self._copy_to_temp(atom, out)
            temps.append(atom)
        for name, atom in zip(target.elts, temps):
            self._assign(ast.Assign([name], atom), out)

    def _copy_to_temp(self, atom: ast.Name, out: list[ast.stmt]) -> ast.Name:
        name = self.temp()
        self.put(out, assign(name, atom))
        return load(name)

    def _for(self, stmt: ast.For, out: list[ast.stmt]) -> None:
        call = stmt.iter
        if isinstance(call, ast.Subscript):   # for v in X[1:]: over that array
            call = stmt.iter = self.atom(call, out)
        elif self._is_builtin_call(call, "enumerate") and isinstance(call.args[0],
                                                                     ast.Subscript):
            call.args[0] = self.atom(call.args[0], out)
        element: tuple[str, str] | None = None  # (element variable, sequence)
        if isinstance(call, ast.Name) or self._is_builtin_call(call, "enumerate"):
            # for v in x  /  for i, v in enumerate(x)  ->  for i in range(len(x)): v = x[i]
            seq = call.id if isinstance(call, ast.Name) else call.args[0].id
            if any(isinstance(n, ast.Name) and n.id == seq and isinstance(n.ctx, ast.Store)
                   for s in stmt.body for n in ast.walk(s)):
                # Python keeps iterating the array the loop started with; srcgrad reads
                # x[i] from whatever x names at each iteration
                raise self.error(stmt, f"the loop body rebinds '{seq}', the array it "
                                       "iterates over",
                                 hint=f"iterate over another name for it ({seq}_start = "
                                      f"{seq}.copy(), then for v in {seq}_start:) or index "
                                      f"it (for i in range(len({seq}))), so that which "
                                      "array each iteration reads is explicit")
            start = counted = None   # enumerate(x, start=s): the index counts from s
            if isinstance(call, ast.Call):
                given = call.args[1:] + [k.value for k in call.keywords if k.arg == "start"]
                if given:
                    start = self.atom(given[0], out)
            if isinstance(stmt.target, ast.Tuple):
                index_var, elem_var = stmt.target.elts[0].id, stmt.target.elts[1].id
                if start is not None:
                    counted = index_var
                    index_var = self.temp("_i")
            else:
                index_var, elem_var = self.temp("_i"), stmt.target.id
            length = self.temp()
            self.put(out, assign(length, ast.Call(load("len"), [load(seq)], [])))
            stmt = ast.For(ast.Name(index_var, ast.Store()),
                           ast.Call(load("range"), [load(length)], []), stmt.body, [])
            element = (elem_var, seq)
            if start is not None and counted is not None:
                element = (elem_var, seq, counted, start)
            call = stmt.iter
        bounds = [self.atom(a, out) for a in call.args]
        if len(bounds) == 3 and isinstance(bounds[2], ast.Constant) and bounds[2].value == 0:
            raise self.error(stmt, "range() step must not be zero")
        var = stmt.target.id
        body_src = stmt.body
        assigned = {n.id for s in body_src for n in ast.walk(s)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        prefix: list[ast.stmt] = []
        if var in assigned:  # the body rebinds the loop variable: iterate a fresh one
            loop_var = self.temp("_i")
            prefix = [assign(var, load(loop_var), self.line)]
        else:
            loop_var = var
        if element is not None:
            prefix.append(assign(element[0], ast.Subscript(load(element[1]), load(var),
                                                            ast.Load()), self.line))
            if len(element) == 4:   # the index the user named, counted from start
                prefix.append(assign(element[2], ast.BinOp(load(var), ast.Add(), element[3]),
                                     self.line))
        body = prefix + self.block(body_src)
        node = ast.For(ast.Name(loop_var, ast.Store()),
                       ast.Call(load("range"), bounds, []), body, [])
        self.put(out, node)

    def _while(self, stmt: ast.While, out: list[ast.stmt]) -> None:
        if isinstance(stmt.test, ast.Name):
            self.put(out, ast.While(load(stmt.test.id), self.block(stmt.body), []))
            return
        test_stmts: list[ast.stmt] = []
        flag = self.temp("_w")
        self.expr_into(flag, stmt.test, test_stmts)
        out.extend(test_stmts)
        body = self.block(stmt.body)
        body += [clone(s) for s in test_stmts]
        self.put(out, ast.While(load(flag), body, []))

    # expressions ---------------------------------------------------------

    def condition(self, test: ast.expr, out: list[ast.stmt]) -> ast.Name:
        if isinstance(test, ast.Name) and not self.is_global(test.id):
            return load(test.id)
        name = self.temp("_c")
        self.expr_into(name, test, out)
        return load(name)

    def is_global(self, name: str) -> bool:
        """A name the function reads from outside: a constant, a function, a module."""
        cap = self.cap
        return name in self.constants or name in cap.functions or name in cap.modules

    def atom(self, expr: ast.expr, out: list[ast.stmt]) -> ast.expr:
        simple = self._simple_atom(expr)
        if simple is not None:
            return simple
        name = self.temp()
        self.expr_into(name, expr, out)
        return load(name)

    def _simple_atom(self, expr: ast.expr) -> ast.expr | None:
        if isinstance(expr, ast.Constant):
            return const(expr.value)
        if isinstance(expr, ast.Name):
            if expr.id in self.cap.functions or expr.id in self.cap.modules:
                raise self.error(expr, f"'{expr.id}' is used as a value",
                                 hint="call it, or use a number")
            return load(expr.id)
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            module = self.cap.modules.get(expr.value.id)
            if module:
                return name_node(f"{module}.{expr.attr}")
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub) \
                and isinstance(expr.operand, ast.Constant) \
                and not isinstance(expr.operand.value, bool):
            return const(-expr.operand.value)
        return None

    def _is_builtin_call(self, node: ast.expr, name: str) -> bool:
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and self.cap.functions.get(node.func.id) == name

    def index(self, index: ast.expr, out: list[ast.stmt]) -> ast.expr:
        """An index with every component an atom: i, a:b:c, (i, :), ..."""
        if isinstance(index, ast.Tuple):
            return ast.Tuple([self.index(e, out) for e in index.elts], ast.Load())
        if isinstance(index, ast.Slice):
            parts = [None if p is None else self.atom(p, out)
                     for p in (index.lower, index.upper, index.step)]
            return ast.Slice(*parts)
        return self.atom(index, out)

    def call_arg(self, arg: ast.expr, out: list[ast.stmt]) -> ast.expr:
        """An atom, or a tuple of atoms (shapes, sequences of arrays)."""
        if isinstance(arg, (ast.Tuple, ast.List)):
            return ast.Tuple([self.atom(e, out) for e in arg.elts], ast.Load())
        return self.atom(arg, out)

    def expr_into(self, target: str, expr: ast.expr, out: list[ast.stmt]) -> None:
        """Emit statements that leave the value of `expr` in variable `target`."""
        simple = self._simple_atom(expr)
        if simple is not None:
            self.put(out, assign(target, simple))
        elif isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Tuple) \
                and isinstance(expr.slice, ast.Constant) and type(expr.slice.value) is int \
                and -len(expr.value.elts) <= expr.slice.value < len(expr.value.elts):
            self.expr_into(target, expr.value.elts[expr.slice.value], out)  # (a, b)[0]
        elif isinstance(expr, ast.Subscript):
            base = self.atom(expr.value, out)
            index = self.index(expr.slice, out)
            self.put(out, assign(target, ast.Subscript(base, index, ast.Load())))
        elif isinstance(expr, ast.Attribute):  # x.T, x.shape, x.size, x.ndim
            base = self.atom(expr.value, out)
            self.put(out, assign(target, ast.Attribute(base, expr.attr, ast.Load())))
        elif isinstance(expr, ast.List):
            # a list literal where NumPy takes an array (np.sum([a, b]), a row of a
            # nested np.array literal): the array of its elements
            self.put(out, assign(target, self._literal_array(expr, out)))
        elif isinstance(expr, ast.Tuple):
            raise self.error(expr, "a tuple value is not supported here",
                             hint="use separate variables, or pass the tuple to an np "
                                  "function directly (np.zeros((n, m)))")
        elif isinstance(expr, ast.BinOp):
            left = self.atom(expr.left, out)
            right = self.atom(expr.right, out)
            self.put(out, assign(target, ast.BinOp(left, expr.op, right)))
        elif isinstance(expr, ast.UnaryOp):
            if isinstance(expr.op, ast.UAdd):
                self.expr_into(target, expr.operand, out)
                return
            operand = self.atom(expr.operand, out)
            self.put(out, assign(target, ast.UnaryOp(expr.op, operand)))
        elif isinstance(expr, ast.Compare):
            self._compare(target, expr, out)
        elif isinstance(expr, ast.BoolOp):
            self._boolop(target, expr, out)
        elif isinstance(expr, ast.IfExp):
            test = self.condition(expr.test, out)
            body: list[ast.stmt] = []
            orelse: list[ast.stmt] = []
            self.expr_into(target, expr.body, body)
            self.expr_into(target, expr.orelse, orelse)
            self.put(out, ast.If(test, body, orelse))
        elif isinstance(expr, ast.Call):
            self._call(target, expr, out)
        else:
            raise self.error(expr, f"'{type(expr).__name__}' expressions are not supported")

    def _compare(self, target: str, expr: ast.Compare, out: list[ast.stmt]) -> None:
        left = self.atom(expr.left, out)
        right = self.atom(expr.comparators[0], out)
        self.put(out, assign(target, ast.Compare(left, [expr.ops[0]], [right])))
        if len(expr.ops) == 1:
            return
        # a < b < c  ->  t = a < b; if t: t = b < c   (c evaluated only when needed)
        rest = ast.Compare(right, expr.ops[1:], expr.comparators[1:])
        body: list[ast.stmt] = []
        self._compare(target, rest, body)
        self.put(out, ast.If(load(target), body, []))

    def _boolop(self, target: str, expr: ast.BoolOp, out: list[ast.stmt]) -> None:
        # t = A and B  ->  t = A; if t: t = B        (or: if not t: t = B)
        self.expr_into(target, expr.values[0], out)
        for value in expr.values[1:]:
            body: list[ast.stmt] = []
            self.expr_into(target, value, body)
            if isinstance(expr.op, ast.And):
                test = load(target)
            else:
                test = load(self.temp("_c"))
                self.put(out, assign(test.id, ast.UnaryOp(ast.Not(), load(target))))
            self.put(out, ast.If(test, body, []))

    def callee(self, func: ast.expr) -> str:
        if isinstance(func, ast.Name):
            return self.cap.functions[func.id]
        if isinstance(func.value, ast.Attribute):  # np.linalg.norm
            return f"{self._module(func.value.value.id)}.{func.value.attr}.{func.attr}"
        return f"{self._module(func.value.id)}.{func.attr}"

    def _module(self, name: str) -> str:
        """The canonical name of a module the code names: the user's alias resolved, or
        one srcgrad itself writes (np_ops, special) when it lowers a call."""
        return self.cap.modules[name] if name in self.cap.modules else name

    def _axis_call(self, fname: str, expr: ast.Call) -> tuple[ast.Call, str]:
        """np.sum(x, axis=0, keepdims=True) -> np_ops.sum_axis(x, 0, True)."""
        allowed = ("a", "axis") if fname == "np.cumsum" else ("a", "axis", "keepdims")
        values: dict[str, ast.expr] = dict(zip(allowed, expr.args))
        if len(expr.args) > len(allowed):
            raise self.error(expr, f"too many arguments to {fname}")
        for k in expr.keywords:
            if k.arg not in allowed:
                raise self.error(expr, f"{fname}(..., {k.arg}=...) is not supported",
                                 hint=f"use only {', '.join(allowed[1:])}")
            values[k.arg] = k.value
        args = [values["a"], values.get("axis", ast.Constant(None))]
        if fname != "np.cumsum":
            args.append(values.get("keepdims", ast.Constant(False)))
        new = f"np_ops.{_AXIS_FUNCS[fname]}"
        call = ast.Call(name_node(new), args, [])
        ast.copy_location(call, expr)
        return call, new

    def _is_method(self, func: ast.expr) -> bool:
        if not isinstance(func, ast.Attribute):
            return False
        value = func.value
        modules = set(self.cap.modules) | MODULE_NAMES
        if isinstance(value, ast.Name) and value.id in modules:
            return False
        return not (isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name)
                    and value.value.id in modules)

    def _is_callee_call(self, expr: ast.expr) -> bool:
        return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) \
            and self.cap.inlines(expr.func.id)

    def _call(self, target: str, expr: ast.Call, out: list[ast.stmt]) -> None:
        if self._is_callee_call(expr):
            inline_call(self, [target], expr, out)
            return
        if self._is_method(expr.func):
            # x.sum(axis=0) -> np.sum(x, axis=0); x.reshape(a, b) -> np.reshape(x, (a, b))
            method = expr.func.attr
            if method in SHAPE_METHODS:
                lower_shape_method(self, target, expr, out)
                return
            args = list(expr.args)
            if method == "reshape" and len(args) > 1:
                args = [ast.Tuple(args, ast.Load())]
            call = ast.Call(name_node(f"np.{method}"), [expr.func.value] + args,
                            expr.keywords)
            ast.copy_location(call, expr)
            self._emit_call(target, f"np.{method}", call, out)
            return
        self._emit_call(target, self.callee(expr.func), expr, out)

    def _emit_call(self, target: str, fname: str, expr: ast.Call,
                   out: list[ast.stmt]) -> None:
        if fname.startswith("scipy."):
            fname = self._scipy_function(fname, expr)
        if lower_shape_call(self, target, fname, expr, out):
            return
        if fname.startswith("np.") and fname not in RULES and (
                numpy_name(fname) in RULES or numpy_name(fname) in _OPERATOR_UFUNCS):
            fname = numpy_name(fname)  # np.mod -> np.remainder: the rules' own name
        if fname in _LINALG_LOWERED:
            getattr(self, _LINALG_LOWERED[fname])(target, expr, out)
            return
        lowered = lower_call(fname, expr, self.error)  # np.var(x, axis=1) -> stats.var_axis(...)
        if lowered is not None:
            self.expr_into(target, lowered, out)
            return
        if fname in _AXIS_FUNCS and (len(expr.args) > 1 or expr.keywords):
            expr, fname = self._axis_call(fname, expr)
        if fname == "np.matmul" and len(expr.args) == 2 and not expr.keywords:
            # Numba has no np.matmul: a @ b
            self.expr_into(target, ast.BinOp(expr.args[0], ast.MatMult(), expr.args[1]), out)
            return
        if fname in _OPERATOR_UFUNCS and not expr.keywords \
                and len(expr.args) == (1 if fname == "np.negative" else 2):
            # np.add(a, b) is a + b (the same for every dtype): the operator's rules
            op = _OPERATOR_UFUNCS[fname]()
            value = ast.UnaryOp(op, expr.args[0]) if isinstance(op, ast.USub) \
                else ast.BinOp(expr.args[0], op, expr.args[1])
            self.expr_into(target, value, out)
            return
        args = expr.args
        if fname == "np.linalg.matrix_power" and len(args) == 2 and not expr.keywords:
            self._matrix_power(target, expr, out)
            return
        if fname in _COMPOUND_FUNCS and len(args) > 2:
            # max(a, b, c) -> max(max(a, b), c)
            nested = ast.Call(expr.func, args[:-1], [])
            ast.copy_location(nested, expr)
            self._emit_call(target, fname, ast.Call(expr.func, [nested, args[-1]], []), out)
            return
        if fname in ("max", "min") and len(args) < 2:
            raise self.error(expr, f"{fname}() of a sequence is not supported",
                             hint=f"pass the values: {fname}(a, b)")
        if fname == "math.log" and len(args) == 2:
            # log(x, base) -> log(x) / log(base)
            num = self.atom(ast.Call(expr.func, [args[0]], []), out)
            den = self.atom(ast.Call(expr.func, [args[1]], []), out)
            self.put(out, assign(target, ast.BinOp(num, ast.Div(), den)))
            return
        if fname in ("np.array", "np.asarray") and args \
                and isinstance(args[0], (ast.List, ast.Tuple)):
            # an array from a literal: np_ops.array((a, b, c)), rows first when nested
            self.put(out, assign(target, self._literal_array(args[0], out, expr)))
            return
        if fname in ("np.array", "np.asarray"):
            # of a value: Numba's np.array takes neither arrays nor a dtype keyword
            fname = "np_ops.array_copy" if fname == "np.array" else "np_ops.asarray"
        atoms = [self._call_arg(fname, k, a, out) for k, a in enumerate(args)]
        keywords = [ast.keyword(k.arg, self._call_arg(fname, k.arg, k.value, out))
                    for k in expr.keywords]
        self.put(out, assign(target, ast.Call(name_node(fname), atoms, keywords)))

    def _scipy_function(self, fname: str, expr: ast.Call) -> str:
        """The compiled stand-in srcgrad has for a scipy.special function (Numba cannot
        call SciPy's), or MissingRuleError at the call."""
        name = fname.rpartition(".")[2]
        if name in SCIPY_NAMES:
            canonical = SCIPY_NAMES[name]
            problem = call_problem(canonical, len(expr.args), [k.arg for k in expr.keywords])
            if problem:
                raise self.error(expr, problem, hint="pass the arguments srcgrad supports, by "
                                 "position for ufuncs (the derivative rules cover no others)")
            if canonical in SCIPY_AXIS_NAMES and (len(expr.args) > 1 or expr.keywords):
                # logsumexp(a, axis=1): a function of its own, whose rules read the axis
                # (the rules of logsumexp(a) have no None to pass on)
                return SCIPY_AXIS_NAMES[canonical]
            return canonical
        raise self.cap.error(MissingRuleError, expr,
                             f"no derivative rule for '{fname}' (srcgrad has no compiled "
                             "version of it)",
                             hint="write it with math or np functions, or give a function "
                                  "of yours a rule with srcgrad.custom_vjp; the scipy.special "
                                  "functions srcgrad knows are listed in docs/language.md")

    def _matrix_power(self, target: str, expr: ast.Call, out: list[ast.stmt]) -> None:
        """``np.linalg.matrix_power(A, k)`` as the loop ``P = I; P = P @ B`` k times (B = A,
        or its inverse for k < 0): products and the inverse have rules in every mode, so
        the power is differentiable to any order."""
        a = self.atom(expr.args[0], out)
        k = self.atom(expr.args[1], out)
        base = a
        if not (isinstance(k, ast.Constant) and k.value >= 0):
            base = load(self.temp())
            negative = self.condition(ast.Compare(k, [ast.Lt()], [const(0)]), out)
            inverse = self.temp()
            # both branches C-contiguous, so that the products below are typed alike
            invert = [self._put_line(assign(inverse, ast.Call(name_node("np.linalg.inv"),
                                                               [a], []))),
                      self._put_line(assign(base.id, ast.Call(
                          name_node("np.ascontiguousarray"), [load(inverse)], [])))]
            keep = [self._put_line(assign(base.id, ast.Call(
                name_node("np.ascontiguousarray"), [copy.deepcopy(a)], [])))]
            self.put(out, ast.If(negative, invert, keep))
            if isinstance(k, ast.Constant):
                k = const(-k.value)
            else:
                count = self.temp()
                self.put(out, assign(count, ast.Call(name_node("abs"), [k], [])))
                k = load(count)
        self.put(out, assign(target, ast.Call(name_node("np_ops.eye_like"), [a], [])))
        step = self.temp("_i")
        body = [self._put_line(assign(target, ast.BinOp(load(target), ast.MatMult(),
                                                         copy.deepcopy(base))))]
        self.put(out, ast.For(ast.Name(step, ast.Store()),
                              ast.Call(load("range"), [k], []), body, []))

    # linear algebra: calls written as operations that have rules ----------------

    def _arguments(self, expr: ast.Call, params: tuple[str, ...], fname: str) -> dict:
        """The arguments of a call by parameter name (positional ones first)."""
        if len(expr.args) > len(params):
            raise self.error(expr, f"too many arguments to {fname}")
        values = dict(zip(params, expr.args))
        for k in expr.keywords:
            if k.arg not in params or k.arg in values:
                raise self.error(expr, f"{fname}(..., {k.arg}=...) is not supported",
                                 hint=f"srcgrad takes {', '.join(params)}")
            values[k.arg] = k.value
        return values

    def _formula(self, target: str, formula: str, names: dict, out: list[ast.stmt]) -> None:
        """target = `formula` (Python source over the names in `names`), lowered."""
        tree = substitute(ast.parse(formula, mode="eval").body, names)
        self.expr_into(target, tree, out)

    def _norm(self, target: str, expr: ast.Call, out: list[ast.stmt]) -> None:
        """``np.linalg.norm(x, ord, axis, keepdims)`` as the operations NumPy (and JAX)
        compute it with, chosen by the constant ord (_NORMS): abs, sums, max/min, powers,
        singular values. Where ord means one norm for vectors and another for matrices
        (1, 2, inf and their negatives), a test of x.ndim picks one at run time (both are
        typed: linalg.as_matrix makes a vector a column there)."""
        values = self._arguments(expr, ("x", "ord", "axis", "keepdims"), "np.linalg.norm")
        x = self.atom(values["x"], out)
        known, ord_ = _constant_value(self.cap, values.get("ord", const(None)))
        keep = values.get("keepdims", const(False))
        if not known:
            if "axis" in values or "keepdims" in values:
                raise self.error(expr, "np.linalg.norm with an axis or keepdims needs a "
                                 "constant ord", hint="write the ord as a number or string")
            self.put(out, assign(target, ast.Call(name_node("np.linalg.norm"),
                                                  [x, self.atom(values["ord"], out)], [])))
            return
        kind = _norm_kind(ord_)
        if kind is None:
            raise self.error(expr, f"np.linalg.norm: ord={ord_!r} is not a norm order",
                             hint="use None, 'fro', 'nuc', inf, -inf or a number")
        if "axis" in values:
            axis = values["axis"]
            if isinstance(axis, (ast.Tuple, ast.List)):
                raise self.error(expr, "np.linalg.norm with a tuple axis (matrix norms of "
                                 "stacked matrices) is not supported",
                                 hint="take the norm of each matrix")
            if kind not in _NORMS_ALONG:
                raise self.error(expr, f"np.linalg.norm: ord={ord_!r} is a matrix norm: it "
                                 "needs no axis", hint="drop the axis")
            names = {"x": x, "AXIS": self.atom(axis, out), "KEEP": self.atom(keep, out),
                     **_norm_powers(ord_)}
            self._formula(target, _NORMS_ALONG[kind], names, out)
            return
        keepdims = not (isinstance(keep, ast.Constant) and keep.value is False)
        result = self.temp() if keepdims else target
        if ord_ is None:
            self.put(out, assign(result, ast.Call(name_node("np.linalg.norm"), [x], [])))
        elif kind not in _MATRIX_NORMS or kind not in _VECTOR_NORMS:
            check = "linalg.vector" if kind in _VECTOR_NORMS else "linalg.matrix"
            formula = (_VECTOR_NORMS.get(kind) or _MATRIX_NORMS[kind])
            names = {"x": self.atom(ast.Call(name_node(check), [x], []), out),
                     **_norm_powers(ord_)}
            self._formula(result, formula, names, out)
        else:
            is_vector = self.condition(ast.Compare(ast.Attribute(x, "ndim", ast.Load()),
                                                   [ast.Eq()], [const(1)]), out)
            vector: list[ast.stmt] = []
            self._formula(result, _VECTOR_NORMS[kind], {"x": x, **_norm_powers(ord_)}, vector)
            matrix: list[ast.stmt] = []
            names = {"x": self.atom(ast.Call(name_node("linalg.as_matrix"), [x], []), matrix)}
            self._formula(result, _MATRIX_NORMS[kind], names, matrix)
            self.put(out, ast.If(is_vector, vector, matrix))
        if keepdims:
            self.put(out, assign(target, ast.Call(name_node("linalg.keepdims_like"),
                                                  [load(result), x], [])))

    def _cond(self, target: str, expr: ast.Call, out: list[ast.stmt]) -> None:
        """``np.linalg.cond(x, p)``: s[0] / s[-1] of the singular values for p None or 2
        (s[-1] / s[0] for -2), else norm(x, p) * norm(inv(x), p), as NumPy."""
        values = self._arguments(expr, ("x", "p"), "np.linalg.cond")
        x = self.atom(values["x"], out)
        known, p = _constant_value(self.cap, values.get("p", const(None)))
        if not known:
            raise self.error(expr, "np.linalg.cond needs a constant p",
                             hint="write p as a number or string")
        if p in (None, 2, -2):
            s = self.temp()
            self.put(out, assign(s, ast.Call(name_node("linalg.svd_s"),
                                             [x, const(False)], [])))
            formula = "s[-1] / s[0]" if p == -2 else "s[0] / s[-1]"
            self._formula(target, formula, {"s": load(s)}, out)
            return
        self._formula(target, "np.linalg.norm(x, P) * np.linalg.norm(np.linalg.inv(x), P)",
                      {"x": x, "P": const(p)}, out)

    def _einsum(self, target: str, expr: ast.Call, out: list[ast.stmt]) -> None:
        """``np.einsum(subscripts, a, b, ...)`` with a constant subscript string:
        linalg.einsum1 or einsum2, or a chain of einsum2 for more operands (the letters
        a partial product keeps: those of later operands and of the output)."""
        if expr.keywords or not expr.args or not (isinstance(expr.args[0], ast.Constant)
                                                   and isinstance(expr.args[0].value, str)):
            raise self.error(expr, "np.einsum takes a constant subscript string and the "
                             "operands", hint="write np.einsum('ij,jk->ik', a, b)")
        try:
            specs, result = einsum_chain(expr.args[0].value)
        except ValueError as exc:
            raise self.error(expr, str(exc)) from None
        operands = [self.atom(a, out) for a in expr.args[1:]]
        if len(specs) != len(operands):
            raise self.error(expr, f"np.einsum: the subscripts name {len(specs)} operands, "
                             f"the call passes {len(operands)}")
        if len(operands) == 1:
            self.put(out, assign(target, ast.Call(name_node("linalg.einsum1"), [
                const(f"{specs[0]}->{result}"), operands[0]], [])))
            return
        left, spec = operands[0], specs[0]
        for k in range(1, len(operands)):
            later = set("".join(specs[k + 1:]) + result)
            keep = result if k == len(operands) - 1 else "".join(
                ch for ch in dict.fromkeys(spec + specs[k]) if ch in later)
            name = target if k == len(operands) - 1 else self.temp()
            self.put(out, assign(name, ast.Call(name_node("linalg.einsum2"), [
                const(f"{spec},{specs[k]}->{keep}"), left, operands[k]], [])))
            left, spec = load(name), keep

    def _tensordot(self, target: str, expr: ast.Call, out: list[ast.stmt]) -> None:
        """``np.tensordot(a, b, axes)`` with constant axes: linalg.einsum2 with the
        subscripts "tensordot:<axes>" (the letters depend on the ranks, known later)."""
        values = self._arguments(expr, ("a", "b", "axes"), "np.tensordot")
        spec = _tensordot_axes(self.cap, values.get("axes", const(2)))
        if spec is None:
            raise self.error(expr, "np.tensordot needs constant axes",
                             hint="write axes as an int or a pair of lists of ints")
        self.put(out, assign(target, ast.Call(name_node("linalg.einsum2"), [
            const(f"tensordot:{spec}"), self.atom(values["a"], out),
            self.atom(values["b"], out)], [])))

    def _inner(self, target: str, expr: ast.Call, out: list[ast.stmt]) -> None:
        """``np.inner(a, b)`` (Numba has none): linalg.einsum2("inner", a, b)."""
        values = self._arguments(expr, ("a", "b"), "np.inner")
        self.put(out, assign(target, ast.Call(name_node("linalg.einsum2"), [
            const("inner"), self.atom(values["a"], out), self.atom(values["b"], out)], [])))

    def _vdot(self, target: str, expr: ast.Call, out: list[ast.stmt]) -> None:
        """``np.vdot(a, b)`` of arrays of any shape (Numba's takes vectors): linalg.vdot."""
        values = self._arguments(expr, ("a", "b"), "np.vdot")
        self.put(out, assign(target, ast.Call(name_node("linalg.vdot"), [
            self.atom(values["a"], out), self.atom(values["b"], out)], [])))

    def _put_line(self, stmt: ast.stmt) -> ast.stmt:
        stmt.srcline = self.line
        return stmt

    def _call_arg(self, fname: str, where: int | str, arg: ast.expr,
                  out: list[ast.stmt]) -> ast.expr:
        """A call's argument as an atom, or as a tuple of atoms where the function takes
        a sequence (the arrays of np.concatenate, a shape, axes); elsewhere a list
        literal is the array of its elements, as NumPy reads it."""
        if isinstance(arg, ast.List) and not _takes_sequence(fname, where):
            return self.atom(arg, out)
        return self.call_arg(arg, out)

    def _literal_array(self, literal: ast.List | ast.Tuple, out: list[ast.stmt],
                       call: ast.Call | None = None) -> ast.Call:
        """``np_ops.array((a, b, c))`` for the literal ``[a, b, c]``: nested literals
        become arrays first (each row of ``[[a, b], [c, d]]``), which np_ops.array stacks.
        Its derivative rule hands each element its entry of the adjoint."""
        elts = [self.atom(e, out) if not isinstance(e, ast.Tuple)
                else self.atom(ast.List(e.elts, ast.Load()), out) for e in literal.elts]
        if not elts:
            raise self.error(literal, "an array from an empty literal is not supported",
                             hint="use np.zeros(0) or np.empty(0)")
        args: list[ast.expr] = [ast.Tuple(elts, ast.Load())]
        if call is not None:
            rest = list(call.args[1:]) + [k.value for k in call.keywords if k.arg == "dtype"]
            others = [k.arg for k in call.keywords if k.arg != "dtype"]
            if others or len(rest) > 1:
                raise self.error(call, "np.array of a literal takes only a dtype",
                                 hint="write np.array([...], dtype=...)")
            args += [self.atom(a, out) for a in rest]
        return ast.Call(name_node("np_ops.array"), args, [])


def _renumber_temps(tree: ast.FunctionDef, temps: set[str]) -> None:
    """Number temporaries in the order they are first written, for readability."""
    by_prefix: dict[str, list[str]] = {}
    order: list[str] = []
    for stmt in walk_stmts(tree.body):
        targets = [stmt.targets[0].id] if isinstance(stmt, ast.Assign) \
            and isinstance(stmt.targets[0], ast.Name) else \
            [stmt.target.id] if isinstance(stmt, ast.For) else []
        for name in targets:
            if name in temps and name not in order:
                order.append(name)
    for name in order:
        prefix = name.rstrip("0123456789")
        by_prefix.setdefault(prefix, []).append(name)
    mapping: dict[str, str] = {}
    for names in by_prefix.values():
        ranked = sorted(names, key=lambda n: int(n[len(n.rstrip("0123456789")):]))
        mapping.update(zip(names, ranked))
    seen: set[int] = set()  # a Name node shared by two statements is renamed once
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in mapping and id(node) not in seen:
            seen.add(id(node))
            node.id = mapping[node.id]


# Functions that return a tuple: the function giving each part (each with its rule).
TUPLE_PARTS: dict[str, tuple[str, ...]] = {
    "np.linalg.slogdet": ("linalg.slogdet_sign", "linalg.slogdet_logabsdet"),
    "np.linalg.eigh": ("linalg.eigh_values", "linalg.eigh_vectors"),
    "np.linalg.eig": ("linalg.eig_values", "linalg.eig_vectors"),
    "np.linalg.qr": ("linalg.qr_q", "linalg.qr_r"),
    "np.linalg.svd": ("linalg.svd_u", "linalg.svd_s", "linalg.svd_vt"),
    "np.linalg.lstsq": ("linalg.lstsq_solution", "linalg.lstsq_residuals", "linalg.lstsq_rank",
                        "linalg.lstsq_singular_values"),
    **STATS_TUPLE_PARTS,
}

def _svd_values_only(call: ast.Call) -> bool:
    """np.linalg.svd(a, ..., compute_uv=False): a call returning the singular values."""
    values = dict(zip(("a", "full_matrices", "compute_uv"), call.args))
    values.update((k.arg, k.value) for k in call.keywords)
    flag = values.get("compute_uv")
    return isinstance(flag, ast.Constant) and flag.value is False


# np.linalg and NumPy products the normalizer writes as operations with rules (ANF methods)
_LINALG_LOWERED = {"np.linalg.norm": "_norm", "np.linalg.cond": "_cond", "np.einsum": "_einsum",
                   "np.tensordot": "_tensordot", "np.inner": "_inner", "np.vdot": "_vdot"}

# np.linalg.norm by the kind of its constant ord (_norm_kind): "p" is any other number,
# P and R its power and 1 / P; x the array, AXIS and KEEP the axis and keepdims. The
# operations NumPy computes with, but abs(x) as x * linalg.abs_slope(x) and max/min as
# linalg.amax/amin: the same values and first derivatives, and tangents with rules (np.abs
# and np.max have no second derivatives of arrays)
_INF = float("inf")
_NORMS_ALONG = {
    2: "np.sqrt(np_ops.sum_axis(x * x, AXIS, KEEP))",
    1: "np_ops.sum_axis(x * linalg.abs_slope(x), AXIS, KEEP)",
    _INF: "linalg.amax_axis(x * linalg.abs_slope(x), AXIS, KEEP)",
    -_INF: "linalg.amin_axis(x * linalg.abs_slope(x), AXIS, KEEP)",
    0: "np_ops.sum_axis(linalg.nonzero(x), AXIS, KEEP)",
    "p": "np_ops.sum_axis((x * linalg.abs_slope(x)) ** P, AXIS, KEEP) ** R",
    -1: "np_ops.sum_axis((x * linalg.abs_slope(x)) ** P, AXIS, KEEP) ** R",
    -2: "np_ops.sum_axis((x * linalg.abs_slope(x)) ** P, AXIS, KEEP) ** R",
}
_VECTOR_NORMS = {
    2: "np.linalg.norm(x)", 1: "np.sum(x * linalg.abs_slope(x))",
    _INF: "linalg.amax(x * linalg.abs_slope(x))", -_INF: "linalg.amin(x * linalg.abs_slope(x))",
    0: "np.sum(linalg.nonzero(x))", "p": "np.sum((x * linalg.abs_slope(x)) ** P) ** R",
    -1: "np.sum((x * linalg.abs_slope(x)) ** P) ** R",
    -2: "np.sum((x * linalg.abs_slope(x)) ** P) ** R",
}
_MATRIX_NORMS = {
    "fro": "np.linalg.norm(x)", "nuc": "np.sum(linalg.svd_s(x, False))",
    1: "linalg.amax(np_ops.sum_axis(x * linalg.abs_slope(x), 0, False))",
    -1: "linalg.amin(np_ops.sum_axis(x * linalg.abs_slope(x), 0, False))",
    _INF: "linalg.amax(np_ops.sum_axis(x * linalg.abs_slope(x), 1, False))",
    -_INF: "linalg.amin(np_ops.sum_axis(x * linalg.abs_slope(x), 1, False))",
    2: "linalg.amax(linalg.svd_s(x, False))", -2: "linalg.amin(linalg.svd_s(x, False))",
}


def _norm_kind(ord_):
    """The key of an ord in the _NORMS tables (None, 2 and "f" are 2 and "fro"), or None."""
    if ord_ is None:
        return 2
    if isinstance(ord_, str):
        return {"fro": "fro", "f": "fro", "nuc": "nuc"}.get(ord_)
    if isinstance(ord_, bool) or not isinstance(ord_, (int, float)) or ord_ != ord_:
        return None
    return ord_ if ord_ in (0, 1, -1, 2, -2, _INF, -_INF) else "p"


def _norm_powers(ord_) -> dict:
    if isinstance(ord_, (int, float)) and ord_ not in (0, _INF, -_INF):
        return {"P": const(float(ord_)), "R": const(1.0 / ord_)}
    return {}


def _constant_value(cap: Captured, node: ast.expr) -> tuple[bool, object]:
    """(True, value) for a constant written in the source (a number, a string, None,
    np.inf or math.inf, negated), else (False, None)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        known, value = _constant_value(cap, node.operand)
        ok = known and isinstance(value, (int, float)) and not isinstance(value, bool)
        return (True, -value) if ok else (False, None)
    if isinstance(node, ast.Constant):
        return True, node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and cap.modules.get(node.value.id) in ("np", "math") and node.attr == "inf":
        return True, _INF
    return False, None


def _tensordot_axes(cap: Captured, node: ast.expr) -> str | None:
    """np.tensordot's constant axes as "n" or "a0,a1;b0,b1", or None."""
    known, value = _constant_value(cap, node)
    if known:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if not (isinstance(node, (ast.Tuple, ast.List)) and len(node.elts) == 2):
        return None
    sides = []
    for side in node.elts:
        elts = side.elts if isinstance(side, (ast.Tuple, ast.List)) else [side]
        values = [_constant_value(cap, e) for e in elts]
        if not all(k and isinstance(v, int) and not isinstance(v, bool) for k, v in values):
            return None
        sides.append(",".join(str(v) for _, v in values))
    return ";".join(sides)

# Functions the normalizer writes as other operations that have rules (so they have no
# rule of their own): what each becomes.
LOWERED = {
    "np.array": "np_ops.array (of a literal) or np_ops.array_copy",
    "np.asarray": "np_ops.array (of a literal) or np_ops.asarray",
    "np.matmul": "the @ operator",
    "np.add": "a + b", "np.subtract": "a - b", "np.multiply": "a * b", "np.divide": "a / b",
    "np.remainder": "a % b", "np.floor_divide": "a // b", "np.negative": "-a",
    "np.linalg.matrix_power": "a loop of @ (and np.linalg.inv for a negative power)",
    "np.linalg.cond": "the singular values (linalg.svd_s), or norms of x and its inverse",
    "np.einsum": "linalg.einsum1 or linalg.einsum2 (a chain of them for more operands)",
    "np.tensordot": "linalg.einsum2", "np.inner": "linalg.einsum2", "np.vdot": "linalg.vdot",
    **{name: "the tuple of " + ", ".join(parts) for name, parts in TUPLE_PARTS.items()
       if any(part in RULES for part in parts)},
    **STATS_LOWERED,
}

# NumPy's ufuncs of Python's operators, with the same result for every dtype: written as
# the operator (np.true_divide, np.mod are np.divide, np.remainder by their own names).
_OPERATOR_UFUNCS = {"np.add": ast.Add, "np.subtract": ast.Sub, "np.multiply": ast.Mult,
                    "np.divide": ast.Div, "np.remainder": ast.Mod,
                    "np.floor_divide": ast.FloorDiv, "np.negative": ast.USub}

# Arguments that are sequences, not arrays: a list literal there stays a tuple.
_SEQUENCE_ARGS = {("np.concatenate", 0), ("np.stack", 0), ("np.hstack", 0), ("np.vstack", 0),
                  ("np.column_stack", 0), ("np.dstack", 0), ("np.zeros", 0), ("np.ones", 0),
                  ("np.empty", 0), ("np.full", 0), ("np.reshape", 1), ("np.transpose", 1)}
_SEQUENCE_KEYWORDS = {"shape", "newshape", "axes", "axis", "arrays", "tup"}


def _takes_sequence(fname: str, where: int | str) -> bool:
    if isinstance(where, str):
        return where in _SEQUENCE_KEYWORDS
    return (fname, where) in _SEQUENCE_ARGS or (fname == "np.reshape" and where >= 1)


# NumPy functions whose axis / keepdims arguments Numba lacks: np_ops provides them.
_AXIS_FUNCS = {"np.sum": "sum_axis", "np.mean": "mean_axis", "np.prod": "prod_axis",
               "np.max": "max_axis", "np.min": "min_axis", "np.amax": "max_axis",
               "np.amin": "min_axis", "np.cumsum": "cumsum_axis"}


def assigned_names(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for stmt in walk_stmts(body):
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            names.add(stmt.targets[0].id)
        elif isinstance(stmt, ast.For):
            names.add(stmt.target.id)
    return names


__all__ = ["normalize", "Normalized", "Namer", "assigned_names", "is_atom"]


# --------------------------------------------------- NumPy shapes and orders

# NumPy functions written as functions of srcgrad/runtime/shapes.py (where Numba lacks them
# or some of their arguments) or as other calls that have rules, every argument
# positional: name -> (NumPy's parameters and defaults, the call it becomes[, the call
# when `axis` is not given]). Without an axis most of them work on x flattened; the
# generated code never passes None (second derivatives read it again as user code).
SHAPE_CALLS: dict[str, tuple[str, ...]] = {
    "np.flip": ("m, axis=None", "shapes.flip(m, axis)", "np.flip(m)"),
    "np.fliplr": ("m", "shapes.flip(m, 1)"),
    "np.flipud": ("m", "shapes.flip(m, 0)"),
    "np.squeeze": ("a, axis=None", "shapes.squeeze(a, axis)"),
    "np.moveaxis": ("a, source, destination", "shapes.moveaxis(a, source, destination)"),
    "np.rot90": ("m, k=1, axes=(0, 1)", "shapes.rot90(m, k, axes)"),
    "np.roll": ("a, shift, axis=None", "shapes.roll(a, shift, axis)",
                "np.reshape(shapes.roll(np.ravel(a), shift, 0), a.shape)"),
    "np.repeat": ("a, repeats, axis=None", "shapes.repeat(a, repeats, axis)",
                  "shapes.repeat(np.ravel(np_ops.asarray(a)), repeats, 0)"),
    "np.tile": ("A, reps", "shapes.tile(A, reps)"),
    "np.delete": ("arr, obj, axis=None", "shapes.delete(arr, obj, axis)",
                  "shapes.delete(np.ravel(arr), obj, 0)"),
    "np.insert": ("arr, obj, values, axis=None", "shapes.insert(arr, obj, values, axis)",
                  "shapes.insert(np.ravel(arr), obj, values, 0)"),
    "np.append": ("arr, values, axis=None", "np.concatenate((arr, values), axis)",
                  "np.concatenate((np.ravel(np_ops.asarray(arr)), "
                  "np.ravel(np_ops.asarray(values))))"),
    "np.take": ("a, indices, axis=None", "shapes.take(a, indices, axis)",
                "shapes.take(np.ravel(np_ops.asarray(a)), indices, 0)"),
    "np.take_along_axis": ("arr, indices, axis=-1",
                           "shapes.take_along_axis(arr, indices, axis)"),
    "np.diagonal": ("a, offset=0, axis1=0, axis2=1",
                    "shapes.diagonal(a, offset, axis1, axis2)"),
    "np.sort": ("a, axis=-1", "shapes.sort(a, axis)"),
    "np.argsort": ("a, axis=-1", "shapes.argsort(a, axis)"),
    "np.partition": ("a, kth, axis=-1", "shapes.partition(a, kth, axis)"),
    "np.trim_zeros": ("filt", "shapes.trim_zeros(filt, filt)"),
    "np.diff": ("a, n=1, axis=-1", "shapes.diff(a, n, axis)"),
    "np.ediff1d": ("ary", "shapes.diff(np.ravel(ary), 1, 0)"),
    "np.cumprod": ("a, axis=None", "shapes.cumprod(a, axis)",
                   "shapes.cumprod(np.ravel(a), 0)"),
    "np.nancumprod": ("a, axis=None", "shapes.cumprod(shapes.nan_fill(a, a, 1.0), axis)",
                      "shapes.cumprod(np.ravel(shapes.nan_fill(a, a, 1.0)), 0)"),
    "np.nancumsum": ("a, axis=None", "np.cumsum(shapes.nan_fill(a, a, 0.0), axis)",
                     "np.cumsum(shapes.nan_fill(a, a, 0.0))"),
    "np.vander": ("x, N=None, increasing=False",
                  "shapes.powers(x, shapes.vander_powers(x, N, increasing), 1.0)",
                  "shapes.powers(x, shapes.vander_powers(x, x.shape[0], increasing), 1.0)"),
    "np.row_stack": ("tup", "np.vstack(tup)"),
    "np.union1d": ("ar1, ar2", "shapes.union1d(ar1, ar2)"),
    "np.intersect1d": ("ar1, ar2", "shapes.intersect1d(ar1, ar2)"),
    "np.setdiff1d": ("ar1, ar2", "shapes.setdiff1d(ar1, ar2)"),
    "np.setxor1d": ("ar1, ar2", "shapes.setxor1d(ar1, ar2)"),
    "np.astype": ("x, dtype", "shapes.astype(x, dtype)"),
}

# Array methods that are no NumPy function of the same name and arguments (the others,
# x.take(i), x.cumprod(axis=0), ..., are np.take(x, i), np.cumprod(x, axis=0), ...).
SHAPE_METHODS: dict[str, tuple[str, str]] = {
    "flatten": ("a", "np.copy(np.ravel(a))"),
    "item": ("a", "shapes.item(a)"),
}

# The functions that return a list of parts, as shapes.split_part's `kind`, and their
# parameters.
_SPLITS = {"np.split": (0, "ary, indices_or_sections, axis=0"),
           "np.array_split": (1, "ary, indices_or_sections, axis=0"),
           "np.hsplit": (2, "ary, indices_or_sections"),
           "np.vsplit": (3, "ary, indices_or_sections"),
           "np.dsplit": (4, "ary, indices_or_sections")}

# Parameters that take ints or sequences of them: a list literal there is a tuple (the
# others read it as an array, which may carry a derivative).
_INDEX_PARAMS = {"axis", "axes", "obj", "indices", "shift", "repeats", "reps", "kth", "source",
                 "destination", "indices_or_sections", "tup", "condlist", "choicelist"}
_BUILTIN_DTYPES = {"float": "np.float64", "int": "np.int64", "bool": "np.bool_"}

LOWERED.update({name: entry[1] for name, entry in SHAPE_CALLS.items()})
LOWERED.update({name: "shapes.split_part, one call per name it is unpacked into"
                for name in _SPLITS})
LOWERED.update({"np.dstack": "np.concatenate of np.atleast_3d",
                "np.select": "nested np.where"})


_REQUIRED = object()


def _parameters(signature: str) -> list[tuple[str, object]]:
    """[(name, default expression or _REQUIRED)] of 'a, axis=-1'."""
    spec = ast.parse(f"lambda {signature}: 0", mode="eval").body.args
    defaults = [_REQUIRED] * (len(spec.args) - len(spec.defaults)) + spec.defaults
    return [(a.arg, d) for a, d in zip(spec.args, defaults)]


def _bind(anf: ANF, fname: str, call: ast.Call, signature: str, out: list[ast.stmt],
          args: list[ast.expr] | None = None) -> tuple[dict[str, ast.expr], set[str]]:
    """The call's arguments by parameter, as atoms (ints and sequences of them as tuples),
    defaults filled in, and the names the call passes."""
    params = _parameters(signature)
    args = list(call.args) if args is None else args
    if len(args) > len(params):
        raise anf.error(call, f"too many arguments to {fname}")
    given = dict(zip((p for p, _ in params), args))
    for kw in call.keywords:
        if kw.arg not in dict(params) or kw.arg in given:
            raise anf.error(call, f"{fname}(..., {kw.arg}=...) is not supported",
                            hint="srcgrad differentiates " + fname + "(" + signature + ")")
        given[kw.arg] = kw.value
    bound = {}
    for name, default in params:
        if name in given:
            bound[name] = _shape_arg(anf, name, given[name], out)
        elif default is _REQUIRED:
            raise anf.error(call, f"{fname} needs its argument '{name}'")
        else:
            bound[name] = copy.deepcopy(default)
    return bound, set(given)


def _shape_arg(anf: ANF, param: str, arg: ast.expr, out: list[ast.stmt]) -> ast.expr:
    if param == "dtype" and isinstance(arg, ast.Name) \
            and anf.cap.functions.get(arg.id) in _BUILTIN_DTYPES:
        return name_node(_BUILTIN_DTYPES[anf.cap.functions[arg.id]])
    if param in _INDEX_PARAMS:
        return anf.call_arg(arg, out)
    return anf.atom(arg, out)


def _instantiate(template: str, bound: dict[str, ast.expr]) -> ast.expr:
    return substitute(ast.parse(template, mode="eval").body, bound)


def lower_shape_call(anf: ANF, target: str, fname: str, call: ast.Call,
                     out: list[ast.stmt]) -> bool:
    """Write a call of SHAPE_CALLS (and np.dstack, np.select) as what it lowers to; False
    for any other function. np.split and its kin are refused here: only unpacking them
    (split_parts) is supported."""
    name = numpy_name(fname) if fname.startswith("np.") else fname
    if name in _SPLITS:
        raise anf.error(call, f"{name} returns a list of arrays, which srcgrad takes only "
                        "unpacked into names",
                        hint=f"write a, b = {name}(x, 2), with as many names as parts")
    if name == "np.dstack":
        _dstack(anf, target, call, out)
        return True
    if name == "np.select":
        _select(anf, target, call, out)
        return True
    entry = SHAPE_CALLS.get(name)
    if entry is None:
        return False
    bound, given = _bind(anf, name, call, entry[0], out)
    if name == "np.squeeze" and "axis" not in given:
        raise anf.error(call, "np.squeeze needs its axis in srcgrad",
                        hint="write np.squeeze(x, axis=0): compiled code must know the number "
                             "of dimensions of the result, and without an axis it depends on "
                             "the shape")
    optional = next((p for p, d in _parameters(entry[0])
                     if isinstance(d, ast.Constant) and d.value is None), None)
    template = entry[2] if len(entry) > 2 and optional not in given else entry[1]
    lowered = _instantiate(template, bound)
    if isinstance(lowered, ast.Call) and dotted(lowered.func) == name:  # np.flip(m): as it is
        anf.put(out, assign(target, lowered))
    else:
        anf.expr_into(target, lowered, out)
    return True


def _sequence(anf: ANF, name: str, call: ast.Call, node: ast.expr) -> list[ast.expr]:
    if not isinstance(node, ast.Tuple):
        raise anf.error(call, f"{name} takes a list or tuple of values written in the call",
                        hint=f"write {name}([a, b])")
    return node.elts


def _dstack(anf: ANF, target: str, call: ast.Call, out: list[ast.stmt]) -> None:
    """np.dstack(tup): np.concatenate of the elements' np.atleast_3d along axis 2."""
    bound, _ = _bind(anf, "np.dstack", call, "tup", out)
    parts = [ast.Call(name_node("np.atleast_3d"), [e], [])
             for e in _sequence(anf, "np.dstack", call, bound["tup"])]
    anf.expr_into(target, ast.Call(name_node("np.concatenate"),
                                   [ast.Tuple(parts, ast.Load()), const(2)], []), out)


def _select(anf: ANF, target: str, call: ast.Call, out: list[ast.stmt]) -> None:
    """np.select(condlist, choicelist, default): nested np.where, the first condition
    innermost-last (the first true condition wins)."""
    bound, _ = _bind(anf, "np.select", call, "condlist, choicelist, default=0", out)
    conds = _sequence(anf, "np.select", call, bound["condlist"])
    choices = _sequence(anf, "np.select", call, bound["choicelist"])
    if len(conds) != len(choices):
        raise anf.error(call, "np.select: list of cases must be same length as list of "
                        "conditions")
    value = bound["default"]
    for cond, choice in reversed(list(zip(conds, choices))):
        value = ast.Call(name_node("np.where"), [cond, choice, value], [])
    anf.expr_into(target, value, out)


def lower_shape_method(anf: ANF, target: str, call: ast.Call, out: list[ast.stmt]) -> None:
    """x.flatten() and x.item(...)."""
    method = call.func.attr
    receiver = call.func.value
    if method == "item" and (call.args or call.keywords):
        if call.keywords:
            raise anf.error(call, "x.item() takes its index by position")
        index = call.args[0] if len(call.args) == 1 else ast.Tuple(call.args, ast.Load())
        base = ast.Call(name_node("np.ravel"), [receiver], []) \
            if len(call.args) == 1 and not isinstance(index, ast.Tuple) else receiver
        anf.expr_into(target, ast.Subscript(base, index, ast.Load()), out)
        return
    signature, template = SHAPE_METHODS[method]
    bound, _ = _bind(anf, f"x.{method}", call, signature, out, [receiver] + list(call.args))
    anf.expr_into(target, _instantiate(template, bound), out)


def in_place_call(node: ast.expr) -> bool:
    """x.sort(...) or x.fill(v): a method that writes into its array."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
        and node.func.attr in IN_PLACE_METHODS and isinstance(node.func.value, ast.Name)


def lower_in_place(anf: ANF, call: ast.Call, out: list[ast.stmt]) -> None:
    """x.sort(axis) as ``x[:] = shapes.sort(x, axis)``, x.fill(v) as ``x[:] = v``: stores,
    so the adjoint of what they overwrite is zeroed."""
    base = call.func.value.id
    method = call.func.attr
    if method == "sort":
        bound, _ = _bind(anf, "x.sort", call, "axis=-1", out)
        value = anf.atom(ast.Call(name_node("shapes.sort"), [load(base), bound["axis"]], []),
                         out)
    else:
        bound, _ = _bind(anf, "x.fill", call, "value", out)
        value = bound["value"]
    anf._store(base, ast.Slice(None, None, None), value, out)


def split_parts(anf: ANF, value: ast.expr, count: int, out: list[ast.stmt]) -> ast.Tuple | None:
    """``a, b = np.split(x, 2)``: the tuple of the parts, one shapes.split_part call each,
    for a call of np.split, np.array_split, np.hsplit, np.vsplit or np.dsplit unpacked into
    `count` names; None for any other value."""
    name = canonical_callee(anf.cap, value.func) if isinstance(value, ast.Call) else None
    name = numpy_name(name) if name and name.startswith("np.") else name
    if name not in _SPLITS:
        return None
    kind, signature = _SPLITS[name]
    bound, _ = _bind(anf, name, value, signature, out)
    sections = bound["indices_or_sections"]
    parts = sections.value if isinstance(sections, ast.Constant) \
        else len(sections.elts) + 1 if isinstance(sections, ast.Tuple) else count
    if parts != count:
        raise anf.error(value, f"{name} gives {parts} parts here, unpacked into {count} names")
    axis = bound.get("axis", const(0))
    return ast.Tuple([ast.Call(name_node("shapes.split_part"),
                               [copy.deepcopy(bound["ary"]), copy.deepcopy(sections),
                                copy.deepcopy(axis), const(kind), const(k), const(count)], [])
                      for k in range(count)], ast.Load())


# ------------------------------------------------------------ rebound names

def split_rebound(norm: Normalized, names: frozenset) -> Normalized:
    """A copy of `norm` where each of `names` (bound to values of incompatible types,
    `x = x.sum()` with x an array) becomes one variable per *web*: the bindings that
    reach a common use, with the uses they reach. Webs are what a variable means
    between rebindings, so the function computes the same thing; the first web keeps
    the name, the others get fresh ones (x_2, ...). Numba types each web on its own,
    and so do activity and tapes."""
    tree = copy.deepcopy(norm.tree)
    namer = copy.deepcopy(norm.namer)
    webs = _webs(tree, names)
    for name, groups in webs.items():
        for group in groups[1:]:
            fresh = namer.fresh(f"{name}_")
            for node in group:
                node.id = fresh
    return dataclasses.replace(norm, tree=tree, namer=namer)


def _webs(tree: ast.FunctionDef, names: frozenset) -> dict[str, list[list[ast.Name]]]:
    """For each name, its webs as lists of Name nodes (bindings and uses), ordered by
    their first binding; the parameter's web first. Reaching bindings are found by a
    forward pass over the structured body (branches join, loops iterate to a fixed
    point); a use joins the webs of every binding that reaches it."""
    parent: list[int] = []
    members: list[dict[int, ast.Name]] = []   # per binding: the Name nodes in its web
    ids: dict[int, int] = {}                   # id(binding Name node) -> binding

    def find(d: int) -> int:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    def binding(node: ast.Name | None) -> int:
        key = id(node) if node is not None else -1 - len(parent)
        if key not in ids:
            ids[key] = len(parent)
            parent.append(len(parent))
            members.append({id(node): node} if node is not None else {})
        return ids[key]

    def use(node: ast.Name, state: dict) -> None:
        defs = sorted(state.get(node.id, ()))
        if not defs:
            return
        members[defs[0]][id(node)] = node
        for d in defs[1:]:
            a, b = find(defs[0]), find(d)
            if a != b:
                parent[max(a, b)] = min(a, b)

    def uses(expr: ast.AST, state: dict) -> None:
        for n in ast.walk(expr):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in names:
                use(n, state)

    def join(a: dict, b: dict) -> dict:
        return {k: a.get(k, frozenset()) | b.get(k, frozenset()) for k in set(a) | set(b)}

    def block(body: list[ast.stmt], state: dict) -> dict:
        for stmt in body:
            state = one(stmt, state)
        return state

    def one(stmt: ast.stmt, state: dict) -> dict:
        if isinstance(stmt, ast.Assign):
            uses(stmt.value, state)
            target = stmt.targets[0]
            if not isinstance(target, ast.Name):
                uses(target, state)
            elif target.id in names:
                state = {**state, target.id: frozenset({binding(target)})}
            return state
        if isinstance(stmt, ast.If):
            uses(stmt.test, state)
            return join(block(stmt.body, dict(state)), block(stmt.orelse, dict(state)))
        if isinstance(stmt, (ast.For, ast.While)):
            uses(stmt.iter if isinstance(stmt, ast.For) else stmt.test, state)
            head = dict(state)
            while True:
                inside = dict(head)
                if isinstance(stmt, ast.For) and stmt.target.id in names:
                    inside[stmt.target.id] = frozenset({binding(stmt.target)})
                after = block(stmt.body, inside)
                if isinstance(stmt, ast.While):
                    uses(stmt.test, after)
                new = join(head, after)
                if new == head:
                    return head
                head = new
        if isinstance(stmt, ast.Return):
            uses(stmt.value, state)
        return state

    params = sorted({a.arg for a in tree.args.args} & names)
    block(tree.body, {p: frozenset({binding(None)}) for p in params})
    groups: dict[int, list[ast.Name]] = {}
    for d in range(len(parent)):
        groups.setdefault(find(d), []).extend(members[d].values())
    out: dict[str, list[list[ast.Name]]] = {}
    for root in sorted(groups):
        if groups[root]:
            out.setdefault(groups[root][0].id, []).append(groups[root])
    return out
