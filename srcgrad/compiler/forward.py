"""Stage 6 in forward mode: write the tangent (JVP) function of a core-language function.

Forward mode needs no tape: the generated function runs the function's own
statements, in its own control flow, and beside each statement that computes
an active value it computes that value's tangent ``d_v`` (the directional
derivative along the input tangents). For ``t = op(a, b)``:

    d_t = <contribution of a> + <contribution of b>

Each contribution comes from the rules table: an elementwise rule's adjoint
template with ``g`` replaced by the operand's tangent (rules.py explains why
that is exact), or an explicit tangent template (``rules.JVPS``) for products,
reductions and shape changes. Array stores ``x[i] = v`` store ``d_v`` into
``d_x[i]``. A statement that assigns an active name from inactive values sets
its tangent to zero.

The generated function ``f_jvp(args..., d_w...)`` takes one tangent per
differentiated argument and returns ``(value, tangent of the value)``. Its
body is again in srcgrad's core language (arithmetic, NumPy calls, loops and
branches), so srcgrad can transform it again: ``grad`` of a tangent function
is a Hessian-vector product, and a tangent of a tangent a second derivative.
"""

from __future__ import annotations

import ast
import copy

import numpy as np
from numba.core import types as nbtypes

from ..errors import MissingRuleError
from .analyze import (
    MISSING_RULE,
    ZERO,
    Analysis,
    bound_arguments,
    call_operands,
    missing_rule_message,
    operand_role,
    rule_key,
)
from .capture import Captured
from .core import (
    assign,
    const,
    load,
    located,
    name_node,
    names_read,
    operands,
    store_of,
    substitute,
    target_of,
    with_line,
)
from .infer import Typed
from .normalize import Normalized
from .rules import EXTERNAL_NAMES, JVPS, NOT_ELEMENTWISE, RUNTIME_NAMES, SEQUENCE_RULES, note_template, rule_for


class _DropUnbroadcast(ast.NodeTransformer):
    """unbroadcast(e, x) -> e: a tangent already has the result's shape."""

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "unbroadcast":
            return node.args[0]
        return node


def _sum(terms: list[ast.expr]) -> ast.expr:
    out = terms[0]
    for t in terms[1:]:
        out = ast.BinOp(out, ast.Add(), t)
    return out


class Forward:
    def __init__(self, norm: Normalized, cap: Captured, typed: Typed, ana: Analysis,
                 wrt: list[str]) -> None:
        self.norm = norm
        self.cap = cap
        self.typed = typed
        self.ana = ana
        self.wrt = wrt
        self.namer = norm.namer
        self.tangents: dict[str, str] = {}
        self.helpers_np: set[str] = set()

    def d(self, name: str) -> str:
        if name not in self.tangents:
            self.tangents[name] = self.namer.exact(f"d_{name}")
        return self.tangents[name]

    def _float32(self, name: str) -> bool:
        typ = self.typed.types.get(name)
        return getattr(typ, "dtype", typ) == nbtypes.float32

    def _zero_of(self, atom: ast.expr) -> ast.expr:
        """The zero tangent of an inactive atom: 0.0, or zeros shaped like an array."""
        if isinstance(atom, ast.Name) and self.typed.is_array(atom.id):
            return ast.Call(name_node("np.zeros_like"), [copy.deepcopy(atom)], [])
        return const(0.0)

    def _zero(self, name: str) -> ast.expr:
        if self.typed.is_array(name):
            return ast.Call(name_node("np.zeros_like"), [load(name)], [])
        return const(0.0)

    # statements ----------------------------------------------------------

    def block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            if isinstance(stmt, ast.Assign) and store_of(stmt) is not None:
                out += self._store(stmt)
            elif isinstance(stmt, ast.Assign):
                out += self._assign(stmt)
            elif isinstance(stmt, ast.If):
                out.append(with_line(ast.If(stmt.test, self.block(stmt.body),
                                        self.block(stmt.orelse)), stmt.srcline))
            elif isinstance(stmt, ast.For):
                out.append(with_line(ast.For(stmt.target, stmt.iter, self.block(stmt.body), []),
                                 stmt.srcline))
            elif isinstance(stmt, ast.While):
                out.append(with_line(ast.While(stmt.test, self.block(stmt.body), []),
                                 stmt.srcline))
            elif isinstance(stmt, ast.Return):
                out.append(self._return(stmt))
            else:
                out.append(stmt)
        return out

    def _store(self, stmt: ast.Assign) -> list[ast.stmt]:
        base = store_of(stmt)
        if base not in self.ana.active:
            return [stmt]
        target = copy.deepcopy(stmt.targets[0])
        target.value = load(self.d(base))
        value = stmt.value
        tangent = load(self.d(value.id)) if isinstance(value, ast.Name) \
            and value.id in self.ana.active else const(0.0)
        return [stmt, with_line(ast.Assign([target], tangent), stmt.srcline)]

    def _assign(self, stmt: ast.Assign) -> list[ast.stmt]:
        t = target_of(stmt)
        if t not in self.ana.active:
            return [stmt]
        line = stmt.srcline
        value = stmt.value
        self_ref = t in names_read(value)
        ans = self.namer.fresh(f"{t}_") if self_ref else t
        tangent = self._tangent(stmt, ans)
        if tangent is not None and self._float32(t):
            # NumPy 2 keeps float32 when an array meets a Python float, Numba does not:
            # the rules' float constants (1.0 - ans * ans) are made float32, as
            # infer.weak_python_floats does for the function's own constants
            for node in ast.walk(tangent):
                if isinstance(node, ast.Constant) and type(node.value) is float:
                    node.value = np.float32(node.value)
        if tangent is None:
            return [stmt, with_line(assign(self.d(t), self._zero(t)), line)]
        if not self_ref:
            return [stmt, with_line(assign(self.d(t), tangent), line)]
        if not {t, ans} & set(names_read(tangent)):
            # t = t + e: the tangent needs neither t nor the result, so it goes first
            return [with_line(assign(self.d(t), tangent), line), stmt]
        # t = op(t, ...) whose tangent reads the old t and the result
        return [with_line(assign(ans, value), line), with_line(assign(self.d(t), tangent), line),
                with_line(assign(t, load(ans)), line)]

    def _tangent(self, stmt: ast.Assign, ans: str) -> ast.expr | None:
        """The tangent of stmt's value, or None when it does not depend on the inputs."""
        active = self.ana.active
        value = stmt.value
        key = rule_key(value)
        ops = operands(value)
        t = target_of(stmt)
        array = self.typed.is_array(t) or any(
            isinstance(a, ast.Name) and self.typed.is_array(a.id) for a in ops)
        if key == "copy":
            return load(self.d(value.id)) if isinstance(value, ast.Name) \
                and value.id in active else None
        if key == "subscript":
            base = value.value.id
            if base not in active:
                return None
            return ast.Subscript(load(self.d(base)), copy.deepcopy(value.slice), ast.Load())
        found = [op for op in call_operands(value) if op.name in active]
        if not found:
            return None
        if key in SEQUENCE_RULES:
            note_template(key, 0, array, "fwd")
            # linear in its elements: the same function of their tangents
            seq = value.args[0]
            elts = [load(self.d(e.id)) if isinstance(e, ast.Name) and e.id in active
                    else self._zero_of(e) for e in seq.elts]
            return ast.Call(copy.deepcopy(value.func),
                            [ast.Tuple(elts, ast.Load())] + copy.deepcopy(value.args[1:]),
                            copy.deepcopy(value.keywords))
        rule = rule_for(key)
        explicit = JVPS.get(key) if array else None
        if key == "np.linalg.norm" and array:
            explicit = self._norm_templates(value, stmt)
        custom = rule is not None and any(
            isinstance(n, ast.Name) and n.id in EXTERNAL_NAMES
            for tmpl in rule.parsed + rule.array_parsed if tmpl is not None
            for n in ast.walk(tmpl))
        missing = [op for op in found if operand_role(key, op, array) == MISSING_RULE
                   and (explicit is None or op.param is None or op.param >= len(explicit))]
        if custom or missing or (array and explicit is None and key in NOT_ELEMENTWISE):
            message = missing_rule_message(key, missing[0], array, "forward-mode ") \
                if missing else f"no forward-mode (tangent) rule for '{key}'" + (
                    " on arrays" if array and rule is not None else "")
            raise self.cap.error(
                MissingRuleError, located(stmt), message,
                hint="use reverse mode (grad, vjp, jacobian(..., mode='rev')) for this "
                     "function, or wrap the call in srcgrad.stop_gradient")
        bound = bound_arguments(rule, value)
        terms: list[ast.expr] = []
        for op in found:
            i, name = op.param, op.name
            if operand_role(key, op, array) == ZERO and explicit is None:
                continue
            if explicit is not None:
                template = explicit[i] if i < len(explicit) else None
                if template is None:
                    continue
            else:
                template = rule.template(i, array)
                if array:
                    template = _DropUnbroadcast().visit(copy.deepcopy(template))
            mapping: dict[str, ast.expr] = {"ans": load(ans)}
            for param in rule.params:
                arg = bound.get(param)
                if arg is None:
                    arg = ast.parse(rule.defaults.get(param, "None"), mode="eval").body
                mapping[param] = copy.deepcopy(arg)
                if isinstance(arg, ast.Name) and arg.id in active:
                    mapping["d" + param] = load(self.d(arg.id))
            if explicit is None:
                g: ast.expr = load(self.d(name))
                if array:
                    # the operand's tangent at the result's shape
                    self.helpers_np.add("broadcast_like")
                    g = ast.Call(load("broadcast_like"), [g, load(ans)], [])
                mapping["g"] = g
            term = substitute(template, mapping)
            note_template(key, i, array, "fwd")
            self.helpers_np |= {n.func.id for n in ast.walk(term) if isinstance(n, ast.Call)
                                and isinstance(n.func, ast.Name)
                                and n.func.id in RUNTIME_NAMES}
            terms.append(term)
        if not terms:
            return None
        out = _sum(terms)
        if isinstance(out, ast.Call) and isinstance(out.func, ast.Name) \
                and out.func.id == "broadcast_like":
            # the operand's own tangent (t = x + c, t = np.copy(x)): t is a new array,
            # so its tangent must be one too (writes into t must not reach d_x)
            out = ast.Call(name_node("np.copy"), [out], [])
        return out

    def _norm_templates(self, value: ast.Call, stmt: ast.Assign) -> tuple:
        keywords = {k.arg: k.value for k in value.keywords}
        ord_ = value.args[1] if len(value.args) > 1 else keywords.get("ord")
        ord_value = ord_.value if isinstance(ord_, ast.Constant) else "?"
        if ord_ is None or ord_value in (None, 2, "fro"):
            return (ast.parse("np.sum(x * dx) / ans", mode="eval").body, None)
        if ord_value == 1:
            return (ast.parse("np.sum(np.sign(x) * dx)", mode="eval").body, None)
        raise self.cap.error(MissingRuleError, located(stmt),
                             "no forward-mode rule for np.linalg.norm with this ord",
                             hint="use ord=None, 2 or 1, or reverse mode")

    def _return(self, stmt: ast.Return) -> ast.stmt:
        parts = stmt.value.elts if isinstance(stmt.value, ast.Tuple) else [stmt.value]
        tangents = []
        for p in parts:
            if isinstance(p, ast.Name) and p.id in self.ana.active:
                tangents.append(load(self.d(p.id)))
            elif isinstance(p, ast.Name) and self.typed.is_array(p.id):
                tangents.append(ast.Call(name_node("np.zeros_like"), [load(p.id)], []))
            else:
                tangents.append(const(0.0))
        tangent = ast.Tuple(tangents, ast.Load()) if isinstance(stmt.value, ast.Tuple) \
            else tangents[0]
        return with_line(ast.Return(ast.Tuple([copy.deepcopy(stmt.value), tangent], ast.Load())),
                     stmt.srcline)

    # the whole function --------------------------------------------------

    def run(self) -> ast.FunctionDef:
        tree = self.norm.tree
        params = [a.arg for a in tree.args.args]
        body = self.block(tree.body)
        # arrays the function writes into are copied, with their tangents, so a call
        # never changes its arguments
        stored = {store_of(s) for s in ast.walk(tree) if isinstance(s, ast.Assign)} - {None}
        prologue = []
        for p in params:
            if p in stored and self.typed.is_array(p):
                prologue.append(with_line(assign(p, ast.Call(name_node("np.copy"), [load(p)], [])),
                                      None))
                if p in self.wrt and p in self.ana.active:
                    prologue.append(with_line(assign(self.d(p), ast.Call(
                        name_node("np.copy"), [load(self.d(p))], [])), None))
        tangent_params = [self.d(w) for w in self.wrt]
        # a differentiated argument that does not reach the output: its tangent is
        # accepted and ignored
        args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params]
                             + [ast.arg(d) for d in tangent_params], vararg=None,
                             kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
        return ast.FunctionDef(name=f"{tree.name}_jvp", args=args, body=prologue + body,
                               decorator_list=[], returns=None, type_comment=None,
                               type_params=[], lineno=1, col_offset=0)


def forward(norm: Normalized, cap: Captured, typed: Typed, ana: Analysis, wrt: list[str]):
    """The tangent function (an ast.FunctionDef) and the runtime names it calls."""
    fwd = Forward(norm, cap, typed, ana, wrt)
    fn = fwd.run()
    return fn, fwd.helpers_np
