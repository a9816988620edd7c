"""Stage 2, fence: reject what srcgrad cannot differentiate, before any work.

Each rejection names the user's file, line and construct, and says what to
write instead.
"""

from __future__ import annotations

import ast

from ..errors import UnsupportedSyntaxError
from .capture import Captured, capture

# Constructs rejected outright: node type -> (construct, what to do instead).
_REJECTED: dict[type, tuple[str, str]] = {
    ast.Try: ("try/except", "remove the try statement; check inputs before calling"),
    ast.With: ("with", "move the with statement outside the differentiated function"),
    ast.AsyncWith: ("async with", "remove it"),
    ast.AsyncFor: ("async for", "use a plain for loop over range()"),
    ast.Raise: ("raise", "validate inputs before calling the differentiated function"),
    ast.Assert: ("assert", "check the condition outside the differentiated function"),
    ast.Delete: ("del", "remove the del statement"),
    ast.Global: ("global", "pass the value as an argument and return the result"),
    ast.Nonlocal: ("nonlocal", "pass the value as an argument and return the result"),
    ast.Import: ("import", "import at module level"),
    ast.ImportFrom: ("import", "import at module level"),
    ast.ClassDef: ("class definition", "define classes outside; pass numbers in"),
    ast.FunctionDef: ("nested function definition",
                      "a nested def is inlined when its name is bound once in the function "
                      "and it has no decorators; define it once, or at module level"),
    ast.AsyncFunctionDef: ("nested function definition", "define it at module level"),
    ast.Lambda: ("lambda", "bind it to a name, once in the function (g = lambda z: ...), "
                           "and call it, or write a def"),
    ast.Yield: ("yield", "return a value instead of yielding"),
    ast.YieldFrom: ("yield from", "return a value instead"),
    ast.Await: ("await", "remove it"),
    ast.SetComp: ("set comprehension", "write a for loop"),
    ast.DictComp: ("dict comprehension", "write a for loop"),
    ast.Set: ("set", "use separate variables"),
    ast.JoinedStr: ("f-string", "remove string work from the differentiated function"),
    ast.NamedExpr: ("assignment expression (:=)", "assign in a separate statement"),
    ast.Starred: ("starred expression", "pass arguments one by one"),
}
# Methods of dicts (resolved when the function is generated: containers.py)
CONTAINER_METHODS = {"keys", "values", "items", "get"}
# Builtins that build or take apart tuples, lists and dicts (containers.py)
CONTAINER_BUILTINS = {"dict", "zip", "tuple", "list", "sum"}
if hasattr(ast, "Match"):
    _REJECTED[ast.Match] = ("match", "use if/elif/else")
if hasattr(ast, "TryStar"):
    _REJECTED[ast.TryStar] = ("try/except*", "remove the try statement")


def fence(cap: Captured, callee: bool = False) -> Captured:
    """Raise UnsupportedSyntaxError on the first construct outside the language.
    A `callee` (a helper, inlined where it is called) may return nothing: a call
    to it may be a statement of its own, `fill(out, x)`."""
    tree = cap.tree
    args = tree.args
    if args.vararg or args.kwarg:
        raise cap.error(UnsupportedSyntaxError, tree, "*args and **kwargs are not supported",
                        hint="list the parameters one by one", construct="*args")
    cap.is_callee = callee
    _check_block(cap, tree.body, top=True)
    if cap.problems:
        node, message, hint = min(cap.problems, key=lambda p: (p[0].lineno, p[0].col_offset))
        raise cap.error(UnsupportedSyntaxError, node, message, hint=hint,
                        construct="name")
    if not callee and not _always_returns(tree.body):
        raise cap.error(UnsupportedSyntaxError, tree,
                        f"{tree.name} can reach its end without returning a value",
                        hint="end every path with `return <float expression>`",
                        construct="missing return")
    if not callee:
        _fence_callees(cap, [cap.fn])
    return cap


def returns_value(cap: Captured) -> bool:
    """Does every path of the function end in `return <value>`?"""
    tree = cap.tree
    bare = any(isinstance(n, ast.Return) and n.value is None for n in ast.walk(tree))
    return not bare and _always_returns(tree.body)


def _fence_callees(cap: Captured, chain: list) -> None:
    """Fence every user function `cap` calls, directly or not, so that a problem
    in a helper is reported (at the helper's line) before anything runs."""
    for name, fn in cap.callees.items():
        if fn in chain:
            call = next(n for n in ast.walk(cap.tree) if isinstance(n, ast.Call)
                        and isinstance(n.func, ast.Name) and n.func.id == name)
            raise cap.error(UnsupportedSyntaxError, call, f"recursive call to '{name}'",
                            hint="srcgrad inlines calls between your functions, so it "
                                 "cannot follow recursion; rewrite it as a loop",
                            construct="recursion")
        callee = fence(capture(fn), callee=True)
        _fence_callees(callee, chain + [fn])


def _reject(cap: Captured, node: ast.AST, construct: str, hint: str):
    raise cap.error(UnsupportedSyntaxError, node, f"'{construct}' is not supported",
                    hint=hint, construct=construct)


def _check_block(cap: Captured, body: list[ast.stmt], top: bool = False,
                 in_loop: bool = False) -> None:
    for i, stmt in enumerate(body):
        if type(stmt) in _REJECTED:
            construct, hint = _REJECTED[type(stmt)]
            _reject(cap, stmt, construct, hint)
        if isinstance(stmt, ast.Expr):
            is_doc = top and i == 0 and isinstance(stmt.value, ast.Constant) \
                and isinstance(stmt.value.value, str)
            calls_helper = isinstance(stmt.value, ast.Call) \
                and isinstance(stmt.value.func, ast.Name) and cap.inlines(stmt.value.func.id)
            if calls_helper:  # fill(out, x): inlined for its writes into arrays
                _check_expr(cap, stmt.value)
            elif _is_call_to(cap, stmt.value, "print"):
                _check_print(cap, stmt.value)
            elif _in_place(cap, stmt.value):  # x.sort(), x.fill(v)
                for part in [stmt.value.func.value, *stmt.value.args,
                             *(k.value for k in stmt.value.keywords)]:
                    _check_expr(cap, part)
            elif not is_doc:
                _check_expr(cap, stmt.value)
                _reject(cap, stmt, "expression statement",
                        "an expression whose value is not assigned has no effect on the "
                        "result; remove it or assign it")
            continue
        if isinstance(stmt, (ast.For, ast.While)) and stmt.orelse:
            _reject(cap, stmt, f"{type(stmt).__name__.lower()}/else",
                    "set a flag before `break` and test it after the loop")
        if isinstance(stmt, ast.For):
            _check_for(cap, stmt)
        if isinstance(stmt, (ast.Break, ast.Continue)) and not in_loop:
            _reject(cap, stmt, type(stmt).__name__.lower(), "use it inside a loop")
        if isinstance(stmt, ast.Return) and stmt.value is None \
                and not getattr(cap, "is_callee", False):
            _reject(cap, stmt, "return without a value", "return a float expression")
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _check_target(cap, target)
        if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
            _check_target(cap, stmt.target, allow_tuple=False)
            if isinstance(stmt, ast.AnnAssign) and stmt.value is None:
                _reject(cap, stmt, "annotation without a value", "assign a value")
        if isinstance(stmt, ast.For):
            children = stmt.iter.args if isinstance(stmt.iter, ast.Call) else []
            if _is_call_to(cap, stmt.iter, "reversed") and len(children) == 1 \
                    and _is_call_to(cap, children[0], "range"):
                children = children[0].args   # reversed(range(a, b)): check a and b
        else:
            children = ast.iter_child_nodes(stmt)
        for child in children:
            if isinstance(child, ast.expr):
                _check_expr(cap, child)
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            loop = in_loop or isinstance(stmt, (ast.For, ast.While))
            _check_block(cap, stmt.body, in_loop=loop)
            _check_block(cap, stmt.orelse, in_loop=in_loop)


# Array attributes and methods a function may use (methods map to np functions).
ARRAY_ATTRIBUTES = {"T", "shape", "size", "ndim"}
ARRAY_METHODS = {"sum", "mean", "max", "min", "prod", "dot", "reshape", "copy", "cumsum",
                 "transpose", "astype", "ravel", "flatten", "item", "squeeze", "swapaxes",
                 "repeat", "clip", "cumprod", "diagonal", "take", "argsort", "argmax",
                 "argmin", "all", "any", "std", "var"}
# Methods that write into their array and return None: statements only (x.sort()).
IN_PLACE_METHODS = {"sort", "fill"}


def _in_place(cap: Captured, node: ast.expr) -> bool:
    """x.sort(...) or x.fill(v), x a name: writes into x."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
        and node.func.attr in IN_PLACE_METHODS and isinstance(node.func.value, ast.Name) \
        and node.func.value.id not in cap.modules


def _is_call_to(cap: Captured, node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
        and cap.functions.get(node.func.id) == name


def _check_print(cap: Captured, call: ast.Call) -> None:
    """print(...) as a statement: run in the forward sweep as the function runs it.
    String constants may be among its arguments; sep= and end= only with their default
    values (Numba's print takes no keywords)."""
    for k in call.keywords:
        if {"sep": " ", "end": "\n"}.get(k.arg, 0) != getattr(k.value, "value", 1):
            _reject(cap, call, f"print(..., {k.arg or '**'}=...)",
                    "print takes values and string constants, separated by spaces (the "
                    "compiled print has no sep=, end= or file=)")
    for arg in call.args:
        if isinstance(arg, ast.JoinedStr):
            _reject(cap, arg, "f-string", "pass the values as arguments of their own: "
                    "print('x =', x)")
        if isinstance(arg, ast.Starred):
            _reject(cap, arg, "print(*values)", "pass the values one by one")
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            _check_expr(cap, arg)


def _check_for(cap: Captured, stmt: ast.For) -> None:
    it = stmt.iter
    hint = "loop over an index (`for i in range(n):`), an array (`for v in x:`) or " \
        "`for i, v in enumerate(x):`"
    if _is_call_to(cap, it, "range"):
        if it.keywords or not 1 <= len(it.args) <= 3:
            _reject(cap, stmt, "range() with these arguments", "use range(stop), "
                    "range(start, stop) or range(start, stop, step)")
        if not isinstance(stmt.target, ast.Name):
            _reject(cap, stmt, "for with a tuple target", "loop over one index variable")
    elif _is_call_to(cap, it, "enumerate"):
        target = stmt.target
        if len(it.args) != 1 or [k.arg for k in it.keywords] not in ([], ["start"]) \
                or not isinstance(it.args[0], (ast.Name, ast.Tuple, ast.List, ast.Call,
                                               ast.Subscript)) \
                or not (isinstance(target, ast.Tuple) and len(target.elts) == 2
                        and all(isinstance(e, ast.Name) for e in target.elts)):
            _reject(cap, stmt, "this enumerate() loop", hint)
    elif isinstance(it, ast.Name) and it.id not in cap.modules:
        _check_loop_target(cap, stmt, hint)
    elif isinstance(it, ast.Subscript):
        # for v in p["c"] (a container in a container: unrolled), for row in X[1:]
        _check_loop_target(cap, stmt, hint)
        _check_expr(cap, it)
    elif isinstance(it, (ast.Tuple, ast.List)) or _is_call_to(cap, it, "zip") \
            or _is_call_to(cap, it, "reversed") or (
            isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute)
            and it.func.attr in CONTAINER_METHODS and not it.args):
        # over a container (unrolled: containers.py): for k, v in d.items(), zip(xs, ys)
        _check_loop_target(cap, stmt, hint)
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute):
            _check_expr(cap, it.func.value)
    else:
        _reject(cap, stmt, "for over a non-range iterable", hint)


def _check_loop_target(cap: Captured, stmt: ast.For, hint: str) -> None:
    target = stmt.target
    if isinstance(target, ast.Name):
        return
    if not (isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts)):
        _reject(cap, stmt, "for with this target", hint)


def _check_target(cap: Captured, target: ast.expr, allow_tuple: bool = True) -> None:
    if isinstance(target, ast.Name):
        return
    if allow_tuple and isinstance(target, ast.Tuple):
        for elt in target.elts:
            if isinstance(elt, ast.Subscript):
                _check_target(cap, elt, allow_tuple=False)
            elif not isinstance(elt, ast.Name):
                _reject(cap, elt, "nested or starred tuple target", "assign names one by one")
        return
    if isinstance(target, ast.Subscript):
        base = target.value
        while isinstance(base, ast.Subscript):   # d["W"][i] = v
            _check_index(cap, base.slice)
            base = base.value
        if not isinstance(base, ast.Name):
            _reject(cap, target, "assignment into an expression",
                    "write into a named array: y[i] = v")
        _check_index(cap, target.slice)
        return
    if isinstance(target, ast.Attribute):
        _reject(cap, target, "assignment to an attribute", "use a local variable")
    _reject(cap, target, "this assignment target", "assign to a plain variable name")


def _check_index(cap: Captured, index: ast.expr) -> None:
    """The index of a store: an expression, or a dict's key (a string constant)."""
    if not (isinstance(index, ast.Constant) and isinstance(index.value, str)):
        _check_expr(cap, index)


# Where a string constant may stand: (function, position, keyword). np.einsum's
# subscripts (and those of the linalg.einsum calls generated tangents hold), the ord of
# np.linalg.norm ('fro', 'nuc') and the p of np.linalg.cond.
_STRING_ARGUMENTS = {"np.einsum": (0, None), "linalg.einsum1": (0, None),
                     "linalg.einsum2": (0, None), "np.linalg.norm": (1, "ord"),
                     "np.linalg.cond": (1, "p")}


def _string_arguments(cap: Captured, expr: ast.expr) -> set[int]:
    """ids of the string constants `expr` passes where _STRING_ARGUMENTS allows them."""
    out: set[int] = set()
    for node in ast.walk(expr):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = cap.functions.get(func.id) if isinstance(func, ast.Name) else None
        if isinstance(func, ast.Attribute):
            root = _root_module(cap, func)
            path = [func.attr]
            inner = func.value
            while isinstance(inner, ast.Attribute):
                path.insert(0, inner.attr)
                inner = inner.value
            name = ".".join([root, *path]) if root else None
        if name not in _STRING_ARGUMENTS:
            continue
        position, keyword = _STRING_ARGUMENTS[name]
        args = [node.args[position]] if len(node.args) > position else []
        args += [k.value for k in node.keywords if k.arg == keyword]
        out |= {id(a) for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return out


def _ranges_allowed(cap: Captured, expr: ast.expr) -> set[int]:
    """ids of the range() calls that are a comprehension's iterable (unrolled when their
    bounds are constants: containers.py) or the argument of reversed()."""
    out: set[int] = set()
    for node in ast.walk(expr):
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            out |= {id(g.iter) for g in node.generators}
        if _is_call_to(cap, node, "reversed") and node.args:
            out.add(id(node.args[0]))
    return out


def _check_expr(cap: Captured, expr: ast.expr) -> None:
    none_args = {id(a) for n in ast.walk(expr) if isinstance(n, ast.Call)
                 for a in list(n.args) + [k.value for k in n.keywords]
                 if isinstance(a, ast.Constant) and a.value is None}
    strings = _string_arguments(cap, expr) | _container_keys(expr)
    ranges = _ranges_allowed(cap, expr)
    for node in ast.walk(expr):
        if isinstance(node, ast.Dict) and any(
                not (isinstance(k, ast.Constant) and isinstance(k.value, str))
                for k in node.keys):
            _reject(cap, node, "dict with keys other than strings",
                    "use string constants as keys: {'w': w, 'b': b}")
        if type(node) in _REJECTED:
            construct, hint = _REJECTED[type(node)]
            _reject(cap, node, construct, hint)
        if isinstance(node, ast.Constant) and node.value is None and id(node) in none_args:
            continue   # np.sum(x, axis=None): None as an argument of a call
        if isinstance(node, ast.Constant) and not isinstance(node.value, (bool, int, float)) \
                and id(node) not in strings:
            kind = type(node.value).__name__
            if node.value is None:
                kind = "None"
            hint = "use int and float values only"
            if isinstance(node.value, str):
                hint = ("srcgrad reads a string only as a dict key (p['w']), an argument of "
                        "print, the subscripts of np.einsum, or a NumPy option it names "
                        "(norm's ord='fro', mode=, kind=...); here it has no meaning in "
                        "compiled code: pass a number, or move the string out of the function")
            _reject(cap, node, f"{kind} constant", hint)
        if isinstance(node, ast.Call):
            is_method = isinstance(node.func, ast.Attribute) \
                and not _is_module_attribute(cap, node.func)
            to_callee = isinstance(node.func, ast.Name) and cap.inlines(node.func.id)
            to_dict = _is_call_to(cap, node, "dict") or (
                _is_call_to(cap, node, "enumerate")
                and [k.arg for k in node.keywords] == ["start"])
            if node.keywords and not is_method and not to_callee and not to_dict and not (
                    isinstance(node.func, ast.Attribute) and _is_module_attribute(cap, node.func)
                    and _root_module(cap, node.func) in ("np", "special", "linalg")) \
                    and not _is_scipy_special(cap, node.func):
                _reject(cap, node, "keyword arguments in a call",
                        "pass the arguments by position (keywords work for np.* and "
                        "scipy.special functions)")
            if any(k.arg is None for k in node.keywords):
                _reject(cap, node, "**kwargs in a call", "pass the arguments one by one")
            if not (_is_call_to(cap, node, "range") and id(node) in ranges):
                _check_callee(cap, node)
        if isinstance(node, ast.Attribute) and not _is_module_attribute(cap, node) \
                and not _is_array_attribute(cap, node):
            _reject(cap, node, f"attribute '.{node.attr}'",
                    "use math.* or np.* functions and constants, or the array attributes "
                    f"{', '.join(sorted(ARRAY_ATTRIBUTES))}")


def _container_keys(expr: ast.expr) -> set[int]:
    """ids of the string constants that are keys of dicts: in {...} literals, d["k"],
    "k" in d and d.get("k")."""
    out: set[int] = set()
    for node in ast.walk(expr):
        keys: list = []
        if isinstance(node, ast.Dict):
            keys = list(node.keys)
        elif isinstance(node, ast.Subscript):
            keys = [node.slice]
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            keys = [node.left]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "get" and node.args:
            keys = [node.args[0]]
        out |= {id(k) for k in keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return out


def _is_scipy_special(cap: Captured, func: ast.expr) -> bool:
    """A scipy.special function (however imported: capture made it a plain name)."""
    return isinstance(func, ast.Name) \
        and cap.functions.get(func.id, "").startswith("scipy.special.")


def _is_module_attribute(cap: Captured, node: ast.Attribute) -> bool:
    if isinstance(node.value, ast.Name) and node.value.id in cap.modules:
        return True
    # np.linalg.norm
    inner = node.value
    return isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) \
        and cap.modules.get(inner.value.id) == "np" and inner.attr == "linalg"


def _root_module(cap: Captured, node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return cap.modules.get(node.id) if isinstance(node, ast.Name) else None


def _is_array_attribute(cap: Captured, node: ast.Attribute) -> bool:
    """x.T, x.shape (or a method looked up for a call: x.sum)."""
    return node.attr in ARRAY_ATTRIBUTES | ARRAY_METHODS | CONTAINER_METHODS and not (
        isinstance(node.value, ast.Name) and node.value.id in cap.modules)


def _check_callee(cap: Captured, node: ast.Call) -> None:
    func = node.func
    if isinstance(func, ast.Name):
        if any(p[0] is func for p in cap.problems):
            return  # reported after the syntax checks
        if cap.inlines(func.id):
            return
        if func.id in cap.functions:
            if cap.functions[func.id] == "range":
                _reject(cap, node, "range() outside a for statement",
                        "use range() only as `for i in range(...)`")
            return
        _reject(cap, node, f"call to '{func.id}'",
                "call math.* functions, abs, min, max, float or int")
    if isinstance(func, ast.Attribute) and _is_module_attribute(cap, func):
        return
    if isinstance(func, ast.Attribute) and func.attr in ARRAY_METHODS | CONTAINER_METHODS:
        return
    if isinstance(func, ast.Attribute) and func.attr in IN_PLACE_METHODS:
        _reject(cap, node, f"'.{func.attr}()' as a value",
                f"x.{func.attr}(...) writes into x and returns None: write it as a statement "
                "of its own" + (", or use np.sort(x) for a sorted copy"
                                if func.attr == "sort" else ""))
    if isinstance(func, ast.Attribute) and func.attr in ("append", "extend", "insert", "pop",
                                                         "update", "setdefault"):
        _reject(cap, node, f"method '.{func.attr}()'",
                "srcgrad's tuples, lists and dicts keep the structure they are built with: "
                "build the whole container in one literal, or use an array (np.zeros(n), "
                "then x[i] = v)")
    if isinstance(func, ast.Lambda):
        _reject(cap, func, "lambda", _REJECTED[ast.Lambda][1])
    if isinstance(func, ast.Attribute):
        _reject(cap, node, f"method '.{func.attr}()'",
                f"use np.* functions, or the methods {', '.join(sorted(ARRAY_METHODS))}")
    _reject(cap, node, "this call", "call math.* functions, abs, min, max, float or int")


def _always_returns(body: list[ast.stmt]) -> bool:
    for stmt in body:
        if isinstance(stmt, ast.Return):
            return True
        if isinstance(stmt, ast.If) and _always_returns(stmt.body) \
                and _always_returns(stmt.orelse):
            return True
    return False
