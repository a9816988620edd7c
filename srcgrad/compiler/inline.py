"""Calls between user functions: the callee's normalized body is inlined.

When normalize meets ``t = helper(a, b)`` (or ``u, v = helper(a)``) and
``helper`` is a user function, it captures, fences and normalizes the helper
on its own (with its own file and line numbers), then splices the helper's
core-language body into the caller:

* every local of the helper gets a fresh name in the caller
  (``helper_x`` for the user's names, fresh ``_t``/``_c``... for temporaries);
* a parameter the helper never rebinds is replaced by the argument itself, so
  in-place writes into an array argument reach the caller's array (and its
  adjoint); a parameter it rebinds is bound once by an assignment;
* defaults fill parameters the call leaves out, as in Python;
* the helper's globals become the caller's constants (renamed if the caller
  has a different global of the same name);
* the helper's final ``return r`` becomes ``t = r`` (``u = r0; v = r1`` for a
  tuple).

Every later stage then sees one function: types, activity, tapes and rules
work across the call as if the user had written the body inline, and Numba
compiles one function (what it would do with a small helper anyway). The
inlined statements keep the helper's own lines (``core.Loc``), so the
generated source says ``# helper, lib.py line 12: ...``.
"""

from __future__ import annotations

import ast
import copy
import inspect

import numpy as np

from ..errors import UnsupportedSyntaxError
from .core import Loc, const, is_atom, load, walk_stmts
from .rules import EXTERNAL_NAMES


def inline_call(anf, targets: list[str], call: ast.Call, out: list[ast.stmt],
                unpack: bool = False) -> None:
    """Emit into `out` the body of the user function `call` calls, leaving its
    result in `targets` (one name, or one per element of a returned tuple, when
    `unpack`: ``a, b = helper(x)``, ``a, = helper(x)``). `anf` (normalize.ANF) captures
    and lowers the helper, and resolves derivative objects (its `nested` frame)."""
    cap = anf.cap
    if call.func.id in cap.nested:  # a derivative object: its forward-mode gradient
        if anf.nested is None:
            raise anf.error(call, f"'{call.func.id}' is a derivative object, which srcgrad "
                            "inlines only inside a function it differentiates")
        fn = anf.nested.implementation(anf, targets, call, out, unpack)
        if fn is None:  # the first pass: a plain call to a stand-in, for typing
            return
    else:
        fn = cap.callees[call.func.id]
    name = fn.__name__
    callee_cap, returns = anf.capture_callee(fn, call)
    # arguments to parameters, as Python binds them; a tuple literal argument is a
    # tuple of atoms, which the helper's source receives as placeholders
    def argument(a: ast.expr):
        if isinstance(a, ast.Tuple):
            return ast.Tuple([argument(e) for e in a.elts], ast.Load())
        if isinstance(a, ast.List):
            return ast.List([argument(e) for e in a.elts], ast.Load())
        if isinstance(a, ast.Dict):
            return ast.Dict(list(a.keys), [argument(e) for e in a.values])
        return anf.atom(a, out)
    args = [argument(a) for a in call.args]
    keywords = {k.arg: argument(k.value) for k in call.keywords}
    signature = inspect.signature(fn)
    try:
        bound = signature.bind(*args, **keywords)
    except TypeError as exc:
        raise anf.error(call, f"{name}(): {exc}") from None
    values: dict[str, ast.expr] = {}
    for param in signature.parameters.values():
        if param.name in bound.arguments:
            values[param.name] = bound.arguments[param.name]
        else:
            values[param.name] = _default(anf, call, name, param)

    # the callee's own statements, lowered to the core language
    if not returns:
        if targets:
            raise anf.error(call, f"{name} does not return a value on every path, so "
                            "its result cannot be used",
                            hint=f"call it as a statement, {name}(...), or return a "
                                 "value everywhere")
        _return_zero(callee_cap.tree)
    containers, placeholders = _container_parameters(anf, values)
    norm = anf.normalize_callee(callee_cap, containers)
    tree = copy.deepcopy(norm.tree)
    for p in containers:
        del values[p]
    values.update(placeholders)

    assigned = {t for stmt in walk_stmts(tree.body) for t in _bound_names(stmt)}
    # A parameter is replaced by its argument when that is a local variable of the
    # caller the helper never rebinds (so writes into an array argument are writes
    # into the caller's array); otherwise it is bound by an assignment.
    bind = {p for p, v in values.items() if p in assigned or not isinstance(v, ast.Name)
            or anf.is_global(v.id)}
    local = assigned | bind
    mapping: dict[str, str] = {}
    for local_name in sorted(local):
        if local_name.startswith("_"):
            prefix = local_name.rstrip("0123456789") or local_name
            mapping[local_name] = anf.namer.fresh(prefix)
            if local_name in norm.temps:
                anf.temps.add(mapping[local_name])
        else:
            mapping[local_name] = anf.namer.exact(f"{name}_{local_name}")
    for const_name, value in norm.constants.items():
        if anf.constants.get(const_name, _MISSING) is value:
            continue
        if const_name in EXTERNAL_NAMES:  # a custom_vjp function: its name is unique
            anf.constants[const_name] = value
            continue
        new = anf.namer.exact(f"{name}_{const_name}")
        anf.constants[new] = value
        mapping[const_name] = new
    anf.customs.update(norm.customs)

    substitute = {p: v for p, v in values.items() if p not in bind}
    _Rename(mapping, substitute).visit(tree)

    loc = anf.line
    for stmt in walk_stmts(tree.body):
        line = getattr(stmt, "srcline", None)
        if line is not None and not isinstance(line, Loc):
            stmt.srcline = Loc(line, name, callee_cap.filename, callee_cap.line_text(line))
    for p, v in values.items():
        if p in bind:
            out.append(_with_line(ast.Assign([ast.Name(mapping[p], ast.Store())], v), loc))
    ret = tree.body[-1]
    assert isinstance(ret, ast.Return)
    out.extend(tree.body[:-1])
    if not targets:  # a call statement: the value is dropped
        return
    result = ret.value
    elements = result.elts if isinstance(result, ast.Tuple) else [result]
    if len(targets) == 1 and isinstance(result, ast.Tuple) and not unpack:
        raise anf.error(call, f"{name} returns {len(elements)} values; unpack them "
                        f"(a, b = {name}(...))")
    if len(targets) != len(elements):
        raise anf.error(call, f"{name} returns {len(elements)} value(s), but the call "
                        f"is unpacked into {len(targets)}")
    for target, value in zip(targets, elements):
        out.append(_with_line(ast.Assign([ast.Name(target, ast.Store())], value),
                              ret.srcline))


_MISSING = object()


def _return_zero(tree: ast.FunctionDef) -> None:
    """A helper that returns nothing (called as a statement): make every path
    return 0, so it lowers like any function."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and node.value is None:
            node.value = ast.copy_location(ast.Constant(0), node)
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Return):
        ret = ast.Return(ast.Constant(0))
        ret.lineno = getattr(last, "end_lineno", None) or tree.lineno
        ret.col_offset = 0
        tree.body.append(ret)


def _container_parameters(anf, values) -> tuple[dict[str, ast.expr], dict[str, ast.expr]]:
    """Parameters given a tuple, list or dict literal: the helper is lowered with each as
    the literal of placeholder names (containers.py), one per leaf. Returns parameter ->
    that literal, and placeholder -> the caller's atom."""
    containers: dict[str, ast.expr] = {}
    placeholders: dict[str, ast.expr] = {}

    def rename(p: str, node: ast.expr) -> ast.expr:
        if isinstance(node, (ast.Tuple, ast.List)):
            return type(node)([rename(p, e) for e in node.elts], ast.Load())
        if isinstance(node, ast.Dict):
            return ast.Dict(list(node.keys), [rename(p, e) for e in node.values])
        placeholder = anf.namer.fresh(f"_{p}_")
        placeholders[placeholder] = node
        return ast.Name(placeholder, ast.Load())

    for p, value in values.items():
        if isinstance(value, (ast.Tuple, ast.List, ast.Dict)):
            containers[p] = rename(p, value)
    return containers, placeholders


def _default(anf, call, name, param) -> ast.expr:
    if param.default is inspect.Parameter.empty:
        raise anf.error(call, f"{name}() is missing the argument '{param.name}'")
    value = param.default
    if isinstance(value, (bool, int, float)):
        return const(value)
    if isinstance(value, np.ndarray):
        new = anf.namer.exact(f"{name}_{param.name}_default")
        anf.constants[new] = value
        return load(new)
    raise UnsupportedSyntaxError(
        f"the default value of {name}'s parameter '{param.name}' is a "
        f"{type(value).__name__}; srcgrad can use numbers and arrays",
        anf.cap.filename, getattr(call, "lineno", 0), getattr(call, "col_offset", 0),
        construct="default value", hint="pass the argument explicitly")


def _with_line(stmt: ast.stmt, line) -> ast.stmt:
    stmt.srcline = line
    return stmt


def _bound_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.Assign):
        return [n.id for t in stmt.targets for n in ast.walk(t)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    if isinstance(stmt, ast.For):
        return [stmt.target.id]
    return []


class _Rename(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str], substitute: dict[str, ast.expr]) -> None:
        self.mapping = mapping
        self.substitute = substitute
        self.done: set[int] = set()  # a node shared by two statements is renamed once

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if id(node) in self.done:
            return node
        if node.id in self.substitute and isinstance(node.ctx, ast.Load):
            value = copy.deepcopy(self.substitute[node.id])
            assert is_atom(value)
            return value
        if node.id in self.mapping:
            node.id = self.mapping[node.id]
        self.done.add(id(node))
        return node
