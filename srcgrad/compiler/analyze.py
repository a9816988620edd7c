"""Stage 5, analyze: activity, statement positions, and which values are stable.

*Active* variables are floats that both depend on a ``wrt`` input (varied)
and influence the output (useful); only they get adjoints. *Stable* answers
the to-be-recorded question: a value read at some point is stable when no
later statement (in execution order) can overwrite it before the reverse
sweep reads it back, so the reverse sweep may use the variable as it stands
instead of taping it.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field

from ..errors import MissingRuleError, UnsupportedSyntaxError
from .core import MODULE_NAMES, const, dotted, load, located, names_read, operands, store_of, target_of, walk_stmts
from .infer import Typed
from .rules import REFUSED, SEQUENCE_RULES, rule_for


def rule_key(value: ast.expr) -> str:
    """The rules-table key of a core right-hand side."""
    if isinstance(value, ast.BinOp):
        return type(value.op).__name__
    if isinstance(value, ast.UnaryOp):
        return type(value.op).__name__
    if isinstance(value, ast.Compare):
        return "compare"
    if isinstance(value, ast.Call):
        return dotted(value.func) or "?"
    if isinstance(value, ast.Subscript):
        return "subscript"
    if isinstance(value, ast.Attribute) and not (
            isinstance(value.value, ast.Name) and value.value.id in MODULE_NAMES):
        return f"attr.{value.attr}"
    return "copy"


@dataclass(frozen=True)
class Operand:
    """A variable passed to an operation: as which rule parameter (`param`, None when
    no parameter of the rule takes it), and where in a tuple argument (`element`)."""

    name: str
    param: int | None
    element: int | None = None
    keyword: str | None = None

    def describe(self) -> str:
        where = f"keyword argument '{self.keyword}'" if self.keyword else \
            f"argument {self.param + 1}" if self.param is not None else "an argument"
        if self.element is not None:
            where = f"element {self.element + 1} of {where}"
        return where


def call_operands(value: ast.expr) -> list[Operand]:
    """Every variable a core right-hand side passes to its operation, in order:
    positional operands, elements of tuple arguments, keyword arguments (bound to
    the rule's parameter of that name)."""
    rule = rule_for(rule_key(value))
    out: list[Operand] = []

    def add(arg: ast.expr, param: int | None, keyword: str | None = None) -> None:
        if isinstance(arg, ast.Name):
            out.append(Operand(arg.id, param, None, keyword))
        elif isinstance(arg, ast.Tuple):
            for k, elt in enumerate(arg.elts):
                if isinstance(elt, ast.Name):
                    out.append(Operand(elt.id, param, k, keyword))

    for i, arg in enumerate(operands(value)):
        add(arg, i)
    for kw in getattr(value, "keywords", []) if isinstance(value, ast.Call) else []:
        add(kw.value, rule.param_index(kw.arg) if rule is not None else None, kw.arg)
    return out


ZERO, RULE, MISSING_RULE = "zero", "rule", "missing"


def operand_role(key: str, op: Operand, array: bool | None) -> str:
    """How a derivative flows through operand `op` of operation `key`: ZERO (the
    function is on the non-differentiable list, or its rule has a zero partial for
    that argument), RULE (a template gives it), or MISSING_RULE (no rule covers it:
    an error if the operand is active). `array` None: zero only if zero for scalars
    and arrays alike (activity analysis, before shapes matter)."""
    rule = rule_for(key)
    if rule is None:
        return MISSING_RULE
    if rule.nondiff:
        return ZERO
    if op.param is None or op.param >= len(rule.params):
        return MISSING_RULE
    forms = (False, True) if array is None else (array,)
    if all(rule.zero(op.param, a) for a in forms):
        return ZERO
    if op.element is not None and key not in SEQUENCE_RULES:
        return MISSING_RULE   # a tuple argument the rule reads as a whole
    if any(rule.missing(op.param, a) for a in forms):
        return MISSING_RULE
    return RULE


def differentiable_operands(value: ast.expr) -> list[tuple[int | None, str]]:
    """(parameter, name) of operands that may carry a derivative through `value`
    (a missing rule counts as differentiable: the reverse sweep then refuses it)."""
    key = rule_key(value)
    return [(op.param, op.name) for op in call_operands(value)
            if operand_role(key, op, None) != ZERO]


def fancy_index(index: ast.expr, typed) -> bool:
    """Does a core subscript's index hold an array (advanced indexing: a gather that
    copies, and a scatter whose positions may repeat)?"""
    parts = index.elts if isinstance(index, ast.Tuple) else [index]
    return any(isinstance(p, ast.Name) and typed.is_array(p.id) for p in parts)


MISSING_RULE_HINT = ("use a function srcgrad knows (see docs/language.md), give your own "
                     "function a rule with srcgrad.custom_vjp, or wrap the argument in "
                     "srcgrad.stop_gradient if it should carry no gradient")


def missing_rule_message(key: str, op: Operand, array: bool, mode: str = "") -> str:
    """The message of a MissingRuleError for active operand `op` of operation `key`."""
    rule = rule_for(key)
    what = f"no {mode}derivative rule for '{key}'"
    if rule is None:
        return what + (f": {REFUSED[key]}" if key in REFUSED else "")
    return what + (" on arrays" if array else "") + f" with respect to {op.describe()}" \
        + f" ({op.name})"


def bound_arguments(rule, value: ast.expr) -> dict[str, ast.expr]:
    """The arguments of a core right-hand side by the rule's parameter names (positional
    operands by position, keywords by name)."""
    out = dict(zip(rule.params, operands(value)))
    for kw in getattr(value, "keywords", []) if isinstance(value, ast.Call) else []:
        i = rule.param_index(kw.arg)
        if i is not None:
            out[rule.params[i]] = kw.value
    return out


def _unbound_argument(rule, value: ast.Call) -> str | None:
    """An argument of the call the rule's parameters cannot bind (which bound_arguments
    would drop), described, or None."""
    args = operands(value)
    if len(args) > len(rule.params):
        return f"{len(args)} positional arguments (the rule takes {len(rule.params)})"
    for kw in value.keywords:
        if rule.param_index(kw.arg) is None:
            return f"the keyword argument '{kw.arg}'"
    return None


def sequence_layout(key: str, value: ast.Call, typed, result: str
                    ) -> list[tuple[str, ast.expr, ast.expr]]:
    """Where each element of a sequence function's tuple argument lands in its result:
    per element (take, axis, start), take "row" (one index along `axis`, at `start`)
    or "block" (the element's extent along `axis`, from `start`). `start` is an
    expression over the earlier elements' shapes."""
    kind = SEQUENCE_RULES[key]
    keywords = {k.arg: k.value for k in value.keywords}
    axis: ast.expr = value.args[1] if len(value.args) > 1 else keywords.get("axis", const(0))
    out_ndim = getattr(typed.types.get(result), "ndim", 1)

    def ndim(elt: ast.expr) -> int:
        typ = typed.types.get(elt.id) if isinstance(elt, ast.Name) else None
        return getattr(typ, "ndim", 0)

    out = []
    start: ast.expr = const(0)
    for elt in value.args[0].elts:
        nd = ndim(elt)
        if kind == "stack":
            take, ax = "row", axis
        elif kind == "concatenate":
            take, ax = "block", axis
        elif kind == "hstack":
            take, ax = ("row" if nd == 0 else "block"), const(0 if out_ndim == 1 else 1)
        else:  # vstack: rows; column_stack: columns (1-D elements are one of them)
            take = "row" if nd <= 1 else "block"
            ax = const(0 if kind == "vstack" else 1)
        out.append((take, ax, start))
        if take == "row":
            extent: ast.expr = const(1)
        elif isinstance(ax, ast.Constant) and ax.value is None:
            extent = ast.Attribute(load(elt.id), "size", ast.Load())
        else:
            extent = ast.Subscript(ast.Attribute(load(elt.id), "shape", ast.Load()),
                                   copy.deepcopy(ax), ast.Load())
        if isinstance(start, ast.Constant) and isinstance(extent, ast.Constant):
            start = const(start.value + extent.value)
        elif isinstance(start, ast.Constant) and start.value == 0:
            start = extent
        else:
            start = ast.BinOp(start, ast.Add(), extent)
    return out


@dataclass
class Analysis:
    active: set[str]
    position: dict[int, int] = field(default_factory=dict)   # id(stmt) -> number
    end: dict[int, int] = field(default_factory=dict)        # id(stmt) -> last number inside
    assigned_at: dict[str, list[int]] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=dict)      # name -> number of reads
    first_read: dict[str, int] = field(default_factory=dict)  # name -> earliest position
    dead: set[int] = field(default_factory=set)   # id(stmt): assignments of unused values
    varied: set[str] = field(default_factory=set)  # names that depend on a wrt input

    def pos(self, stmt: ast.stmt) -> int:
        return self.position[id(stmt)]

    def assigned_within(self, name: str, loop: ast.stmt) -> bool:
        start, end = self.position[id(loop)], self.end[id(loop)]
        return any(start <= p <= end for p in self.assigned_at.get(name, []))

    def stable(self, name: str, at: int, loops: list[ast.stmt]) -> bool:
        """True when the value of `name` read at position `at` (inside `loops`)
        is still in the variable when the reverse sweep reaches that point."""
        for p in self.assigned_at.get(name, []):
            if p >= at:
                return False
            for loop in loops:
                if self.position[id(loop)] <= p <= self.end[id(loop)]:
                    return False
        return True


def analyze(tree: ast.FunctionDef, typed: Typed, wrt: list[str],
            output: str | list[str] | None) -> Analysis:
    """Activity of every variable for differentiating `output` (a name, or the names
    of a returned tuple) with respect to `wrt`."""
    ana = Analysis(active=set())
    counter = [0]

    def number(body: list[ast.stmt]) -> None:
        for stmt in body:
            ana.position[id(stmt)] = counter[0]
            counter[0] += 1
            if isinstance(stmt, (ast.If, ast.For, ast.While)):
                number(stmt.body)
                number(stmt.orelse)
            ana.end[id(stmt)] = counter[0] - 1

    number(tree.body)
    for param in (a.arg for a in tree.args.args):
        ana.assigned_at.setdefault(param, []).append(-1)
    assigns: list[tuple[str, ast.expr]] = []

    def note_read(name: str, p: int) -> None:
        ana.reads[name] = ana.reads.get(name, 0) + 1
        ana.first_read[name] = min(ana.first_read.get(name, p), p)

    for stmt in walk_stmts(tree.body):
        p = ana.position[id(stmt)]
        if isinstance(stmt, ast.Assign) and store_of(stmt) is not None:
            # x[i] = v changes x's contents, not its binding: for activity it is an
            # assignment (x depends on v); for stability it is none.
            base = store_of(stmt)
            assigns.append((base, stmt.value))
            for r in [base] + names_read(stmt.targets[0].slice) + names_read(stmt.value):
                note_read(r, p)
        elif isinstance(stmt, ast.Assign):
            name = stmt.targets[0].id
            ana.assigned_at.setdefault(name, []).append(p)
            assigns.append((name, stmt.value))
            for r in names_read(stmt.value):
                note_read(r, p)
        elif isinstance(stmt, ast.For):
            ana.assigned_at.setdefault(stmt.target.id, []).append(p)
            for arg in stmt.iter.args:
                if isinstance(arg, ast.Name):
                    note_read(arg.id, p)
        elif isinstance(stmt, (ast.If, ast.While)):
            note_read(stmt.test.id, p)
        elif isinstance(stmt, ast.Return):
            for r in names_read(stmt.value):
                note_read(r, p)

    floats = {name for name in typed.types if typed.carries_float(name)}
    varied = {w for w in wrt if w in floats}
    changed = True
    while changed:
        changed = False
        for name, value in assigns:
            if name in floats and name not in varied and any(
                    arg in varied for _, arg in differentiable_operands(value)):
                varied.add(name)
                changed = True
    outputs = [output] if isinstance(output, str) else list(output or [])
    useful = {o for o in outputs if o in floats}
    changed = True
    while changed:
        changed = False
        for name, value in assigns:
            if name in useful:
                for _, arg in differentiable_operands(value):
                    if arg in floats and arg not in useful:
                        useful.add(arg)
                        changed = True
    ana.active = varied & useful
    ana.varied = varied
    ana.dead = dead_assignments(tree, outputs)
    return ana


def check_calls(tree: ast.FunctionDef, typed, ana: Analysis, cap) -> None:
    """Refuse, at its line, a call that passes a value depending on the wrt inputs to a
    function with no rule that is not on the non-differentiable list, when its result
    holds no floats (an integer, None from a function that writes into its argument):
    activity cannot follow such a result, so nothing else would refuse it. (A float
    result is refused where it is active, by the reverse and forward transforms; one the
    user passes to stop_gradient needs no rule.) Also refuse an active value srcgrad
    cannot give an adjoint: one that is not a float or a float array (a tuple, a list,
    an optional array, a complex number)."""
    for stmt in walk_stmts(tree.body):
        if not isinstance(stmt, ast.Assign) or not isinstance(stmt.value, ast.Call):
            continue
        key = rule_key(stmt.value)
        varied = [op for op in call_operands(stmt.value) if op.name in ana.varied]
        target = target_of(stmt)
        if varied and rule_for(key) is None and not typed.carries_float(target):
            node = located(stmt)
            raise cap.error(MissingRuleError, node, f"no derivative rule for '{key}'" + (
                f": {REFUSED[key]}" if key in REFUSED else ""), hint=MISSING_RULE_HINT)
        rule = rule_for(key)
        if varied and target in ana.active and rule is not None and not rule.nondiff:
            extra = _unbound_argument(rule, stmt.value)
            if extra is not None:
                # the rule's templates would never see it: a silently wrong derivative
                raise cap.error(MissingRuleError, located(stmt),
                                f"'{key}' with {extra}: srcgrad's derivative rule for it "
                                "does not take that argument", hint=MISSING_RULE_HINT)
    for stmt in walk_stmts(tree.body):
        t = target_of(stmt)
        if t is None or t not in ana.active or typed.is_float(t):
            continue
        typ = typed.types.get(t)
        node = located(stmt)
        raise cap.error(MissingRuleError, node,
                        f"no derivative rule for '{rule_key(stmt.value)}' with its result "
                        f"of type {typ} (srcgrad differentiates floats and float arrays)",
                        hint=MISSING_RULE_HINT)


def dead_assignments(tree: ast.FunctionDef, outputs: list[str]) -> set[int]:
    """Assignments ``t = value`` whose value never reaches the output: every path from
    the statement overwrites ``t`` before reading it, or reads it only to compute
    other such values or branch conditions.

    Activity is a property of names: ``x`` may be active while one of its values is
    not, as in ``x = math.sqrt(y); x = y`` or ``a = x; x *= c; return a``. The adjoint
    of such a statement is zero times its local derivative, and that product is NaN
    where the derivative is infinite (sqrt at 0, hypot at the origin) although the
    gradient is finite. JAX never forms it (the cotangent of an unused value is a
    symbolic zero); srcgrad skips the statement in the reverse sweep.

    A backward pass over the structured body computes the names whose current value
    reaches the output through assignments and stores (control dependences do not
    carry derivatives); loops are iterated to a fixed point. When unsure it keeps a
    name live, which only keeps an adjoint statement srcgrad would have emitted anyway.
    """
    dead: set[int] = set()
    if any(isinstance(s, (ast.For, ast.While)) and s.orelse for s in walk_stmts(tree.body)):
        return dead

    def block(body: list[ast.stmt], live: frozenset) -> frozenset:
        for stmt in reversed(body):
            live = one(stmt, live)
        return live

    def one(stmt: ast.stmt, live: frozenset) -> frozenset:
        if isinstance(stmt, ast.Assign) and store_of(stmt) is None \
                and target_of(stmt) is not None:
            t = target_of(stmt)
            if t not in live:
                dead.add(id(stmt))
                return live
            dead.discard(id(stmt))
            return (live - {t}) | set(names_read(stmt.value))
        if isinstance(stmt, ast.Assign) and store_of(stmt) is not None:
            if store_of(stmt) not in live:
                return live
            return live | set(names_read(stmt.targets[0])) | set(names_read(stmt.value))
        if isinstance(stmt, ast.If):
            return block(stmt.body, live) | block(stmt.orelse, live)
        if isinstance(stmt, (ast.For, ast.While)):
            head = live | (frozenset(names_read(stmt.iter))
                           if isinstance(stmt, ast.For) else frozenset())
            while True:
                new = live | block(stmt.body, head)
                if new == head:
                    return head
                head = new
        if isinstance(stmt, ast.Return):
            return frozenset(outputs) | frozenset(
                names_read(stmt.value) if stmt.value is not None else ())
        if isinstance(stmt, (ast.Break, ast.Continue, ast.Pass)):
            return live
        # anything else: keep every name it reads live
        names = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
        return live | names

    block(tree.body, frozenset())
    return dead


# Calls whose result may share memory with their first argument (a write into one is
# seen through the other): check_aliasing and the reverse sweep's taping decisions.
VIEW_FUNCS = frozenset({
    "np.transpose", "np.reshape", "np.ravel", "np.squeeze", "np.expand_dims",
    "np.atleast_1d", "np.atleast_2d", "np.atleast_3d", "np.asarray", "np.ascontiguousarray",
    "np.swapaxes", "np_ops.transpose_axes", "np_ops.asarray", "srcgrad.stop_gradient",
    "np.broadcast_to", "np.diag", "np.flip", "shapes.flip", "shapes.squeeze", "shapes.moveaxis",
    "shapes.rot90", "shapes.diagonal", "shapes.split_part", "shapes.trim_zeros"})


def view_source(value: ast.expr, typed) -> str | None:
    """The array a core right-hand side may share memory with: `A` for `A`, `A[i]`,
    `A[1:]`, `A.T`, `np.reshape(A, ...)` and the other VIEW_FUNCS; None for a new array
    (arithmetic, a call, advanced indexing, which copies) or a scalar."""
    if isinstance(value, ast.Name):
        source = value.id
    elif isinstance(value, (ast.Subscript, ast.Attribute)) and isinstance(value.value, ast.Name):
        if isinstance(value, ast.Subscript) and fancy_index(value.slice, typed):
            return None
        source = value.value.id
    elif isinstance(value, ast.Call) and dotted(value.func) in VIEW_FUNCS and value.args \
            and isinstance(value.args[0], ast.Name):
        source = value.args[0].id
    else:
        return None
    return source if typed.is_array(source) else None


def check_aliasing(tree: ast.FunctionDef, typed: Typed, cap) -> None:
    """Reject a write into an array that another variable read after the write may
    share memory with.

    `r = A[i]`, `r = A.T`, `r = A.reshape(...)` and `r = A` make views: writing into r
    changes A, and writing into A changes r. srcgrad's adjoint tracks one array per
    name, so reading the other name after such a write would give a silently wrong
    gradient: it is an error. The analysis follows the program: which names may share
    memory at each write (a forward pass: a view or a copy of the name links two names,
    any other binding unlinks one, branches join, loops iterate), and which names are
    read later (a backward pass). So a view read only before the write (the temporary
    in `B[i, :] = B[i, :] / s`), an array allocated anew each step and then bound to
    another name (`v = np.zeros(n); ...; u = v`), and a swap of two buffers
    (`u, v = v, u`) are fine."""
    links = _may_share(tree, typed)
    live = _live_after(tree)
    for stmt in walk_stmts(tree.body):
        base = store_of(stmt) if isinstance(stmt, ast.Assign) else None
        if base is None:
            continue
        shared = sorted(m for m in links[id(stmt)].get(base, ()) if m in live[id(stmt)])
        if shared:
            shown = ", ".join(m for m in shared if not m.startswith("_")) or "another array"
            node = located(stmt)
            raise cap.error(UnsupportedSyntaxError, node,
                            f"writing into '{base}', which may share memory with {shown} "
                            "(a view made by indexing, .T, reshape or plain assignment), "
                            "read after the write",
                            hint=f"make an independent array, e.g. {base} = {base}.copy(), "
                                 "or index the original array directly")


def _may_share(tree: ast.FunctionDef, typed) -> dict[int, dict[str, frozenset]]:
    """For each store statement, the names each array name may share memory with just
    before it: name -> names (symmetric)."""
    at: dict[int, dict[str, frozenset]] = {}

    def bind(state: dict, target: str, source: str | None) -> dict:
        state = {k: v - {target} for k, v in state.items() if k != target}
        if source is not None and source != target:
            group = state.get(source, frozenset()) | {source}
            for other in group:
                state[other] = state.get(other, frozenset()) | {target}
            state[target] = group
        return {k: v for k, v in state.items() if v}

    def join(a: dict, b: dict) -> dict:
        return {k: a.get(k, frozenset()) | b.get(k, frozenset()) for k in set(a) | set(b)}

    def block(body: list[ast.stmt], state: dict) -> dict:
        for stmt in body:
            state = one(stmt, state)
        return state

    def one(stmt: ast.stmt, state: dict) -> dict:
        if isinstance(stmt, ast.Assign) and store_of(stmt) is not None:
            at[id(stmt)] = join(at.get(id(stmt), {}), state)
            return state
        if isinstance(stmt, ast.Assign):
            target = stmt.targets[0].id
            source = view_source(stmt.value, typed) if typed.is_array(target) else None
            return bind(state, target, source)
        if isinstance(stmt, ast.If):
            return join(block(stmt.body, dict(state)), block(stmt.orelse, dict(state)))
        if isinstance(stmt, (ast.For, ast.While)):
            head = state
            while True:
                inside = bind(head, stmt.target.id, None) if isinstance(stmt, ast.For) \
                    else head
                new = join(head, block(stmt.body, inside))
                if new == head:
                    return head
                head = new
        return state

    block(tree.body, {})
    return at


def _live_after(tree: ast.FunctionDef) -> dict[int, frozenset]:
    """For each statement, the names some path reads after it before binding them again."""
    out: dict[int, frozenset] = {}

    def block(body: list[ast.stmt], live: frozenset) -> frozenset:
        for stmt in reversed(body):
            live = one(stmt, live)
        return live

    def one(stmt: ast.stmt, live: frozenset) -> frozenset:
        out[id(stmt)] = out.get(id(stmt), frozenset()) | live
        if isinstance(stmt, ast.Assign):
            read = set(names_read(stmt.value))
            if store_of(stmt) is not None:
                return live | read | set(names_read(stmt.targets[0]))
            return (live - {stmt.targets[0].id}) | read
        if isinstance(stmt, ast.If):
            return block(stmt.body, live) | block(stmt.orelse, live) | {stmt.test.id}
        if isinstance(stmt, (ast.For, ast.While)):
            head = live | set(names_read(stmt.iter) if isinstance(stmt, ast.For)
                              else [stmt.test.id])
            while True:
                body = block(stmt.body, head)
                if isinstance(stmt, ast.For):
                    body = body - {stmt.target.id}
                new = head | body
                if new == head:
                    return head
                head = new
        if isinstance(stmt, ast.Return):
            return live | set(names_read(stmt.value))
        return live | {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}

    block(tree.body, frozenset())
    return out
