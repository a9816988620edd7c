"""Stage 1, capture: read a function's source, parse it, resolve its globals.

The result remembers the file and line numbers so that every later error and
every comment in the generated source points at the user's own code.
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import linecache
import math
import textwrap
import types
from dataclasses import dataclass, field

import numpy as np

from ..errors import SourceUnavailableError, UnsupportedSyntaxError, UsageError
from .core import RUNTIME_MODULES

# Modules whose attributes the generated source may name directly.
KNOWN_MODULES = {"math": math, "np": np}

# Builtins a user function may call.
KNOWN_BUILTINS = {"abs", "min", "max", "float", "int", "round", "range", "len", "bool",
                  "enumerate", "dict", "zip", "tuple", "list", "sum", "reversed", "any",
                  "all", "print"}


def _qualified_function_names() -> dict[int, str]:
    """Map id(function object) -> canonical dotted name, for `from math import sin`."""
    table: dict[int, str] = {}
    for name in dir(math):
        obj = getattr(math, name)
        if callable(obj):
            table[id(obj)] = f"math.{name}"
    for name in KNOWN_BUILTINS:
        table[id(getattr(builtins, name))] = name
    return table


_FUNCTION_NAMES = _qualified_function_names()


@dataclass
class Captured:
    """A parsed user function and what its free names refer to."""

    fn: types.FunctionType
    name: str
    filename: str
    tree: ast.FunctionDef
    file_lines: list[str]
    params: list[str]
    # Free names read by the body, resolved: 'module' -> canonical module
    # name, 'function' -> canonical dotted function name, 'constant' -> value.
    modules: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)
    # user functions the body calls (inlined by normalize): name -> Python function
    callees: dict[str, types.FunctionType] = field(default_factory=dict)
    # srcgrad.grad / value_and_grad objects the body calls (nested derivatives, nested.py):
    # name -> the GradFunction
    nested: dict[str, object] = field(default_factory=dict)
    # functions with user rules (srcgrad.custom_vjp): canonical name -> CustomFunction
    customs: dict[str, object] = field(default_factory=dict)
    # Free names srcgrad cannot use: (node, message, hint), raised by the fence
    # after its syntax checks.
    problems: list[tuple[ast.AST, str, str]] = field(default_factory=list)

    def inlines(self, name: str) -> bool:
        """A user function or a derivative object, inlined where it is called."""
        return name in self.callees or name in self.nested

    def line_text(self, lineno: int) -> str:
        if 1 <= lineno <= len(self.file_lines):
            return self.file_lines[lineno - 1].strip()
        return ""

    def error(self, cls, node: ast.AST, message: str, hint: str = "", construct: str = ""):
        line = getattr(node, "lineno", 0)
        filename = self.filename
        if hasattr(line, "file"):  # a core.Loc: a line of a helper inlined into this function
            filename = line.file
            message = f"{message} (in {line.func}, inlined into {self.name})"
        return cls(message, filename, int(line or 0),
                   getattr(node, "col_offset", 0), construct=construct, hint=hint)


def unwrap(fn):
    """The plain Python function behind `fn` (a Numba dispatcher's `py_func`)."""
    py_func = getattr(fn, "py_func", None)
    if isinstance(py_func, types.FunctionType):
        return py_func
    return fn


def capture(fn) -> Captured:
    """Parse `fn`'s source into a FunctionDef whose line numbers are the file's. `fn` may
    be a function, a lambda, a bound method or classmethod (its object's attributes are
    constants, as globals), or a helper lifted out of another function (_lift_nested)."""
    fn = unwrap(fn)
    owner = None
    if inspect.ismethod(fn):
        owner, fn = fn.__self__, fn.__func__
    if not isinstance(fn, types.FunctionType):
        raise UsageError(
            f"srcgrad differentiates Python functions, got {type(fn).__name__} {fn!r}; "
            "pass a function defined with `def` or `lambda`, a method, or a "
            "functools.partial of one")
    lifted = getattr(fn, "__srcgrad_tree__", None)
    if lifted is not None:   # a nested def or lambda of a function being captured
        tree = copy.deepcopy(lifted)
        filename = fn.__code__.co_filename
        file_lines = linecache.getlines(filename) or []
        return _finish(fn, tree, filename, [line.rstrip("\n") for line in file_lines], owner)
    if fn.__name__ == "<lambda>":
        tree, filename, file_lines = _lambda_tree(fn)
        return _finish(fn, tree, filename, file_lines, owner)
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or fn.__code__.co_filename
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {fn.__qualname__} ({exc}); srcgrad transforms source "
            "code: define the function in a .py file, or in IPython or Jupyter (which keep "
            "the source of each cell), not at the plain interactive prompt, with python -c "
            "or with exec") from exc
    source = textwrap.dedent("".join(lines))
    try:
        module = ast.parse(source)
    except SyntaxError as exc:
        raise SourceUnavailableError(
            f"cannot parse the source of {fn.__qualname__} in {filename}: {exc}") from exc
    tree = module.body[0]
    if isinstance(tree, ast.AsyncFunctionDef):
        raise UnsupportedSyntaxError("async functions cannot be differentiated", filename,
                                     first, 0, construct="async def")
    if not isinstance(tree, ast.FunctionDef):
        raise SourceUnavailableError(
            f"{fn.__qualname__} is not defined by a `def` statement (a lambda?); "
            "write it with def in a .py file")
    ast.increment_lineno(tree, first - 1)
    tree.decorator_list = []
    try:
        file_lines = inspect.getsource(inspect.getmodule(fn)).splitlines() \
            if inspect.getmodule(fn) else []
    except (OSError, TypeError):
        file_lines = []
    if not file_lines:
        file_lines = [""] * (first - 1) + source.splitlines()
    return _finish(fn, tree, filename, file_lines, owner)


def _finish(fn, tree: ast.FunctionDef, filename: str, file_lines: list[str],
            owner) -> Captured:
    if owner is not None:   # a method: self's attributes become constants
        every = tree.args.posonlyargs + tree.args.args
        if not every:
            raise UsageError(f"the method {fn.__qualname__} takes no self argument")
        first = every[0].arg
        if tree.args.posonlyargs:
            tree.args.posonlyargs = tree.args.posonlyargs[1:]
        else:
            tree.args.args = tree.args.args[1:]
        _bind_owner(tree, first, owner)
    params = [a.arg for a in tree.args.posonlyargs + tree.args.args + tree.args.kwonlyargs]
    cap = Captured(fn=fn, name=tree.name, filename=filename, tree=tree,
                   file_lines=file_lines, params=params)
    owner_values = getattr(tree, "srcgrad_owner", {})
    _lift_nested(cap)
    _resolve_free_names(cap, {**getattr(fn, "__srcgrad_siblings__", {}), **owner_values})
    return cap


def _lambda_tree(fn) -> tuple[ast.FunctionDef, str, list[str]]:
    """A lambda's source as a FunctionDef: found in its file by its code object's first
    line and the positions of its instructions (two lambdas on one line are told apart
    by their columns)."""
    code = fn.__code__
    filename = inspect.getsourcefile(fn) or code.co_filename
    lines = linecache.getlines(filename)
    if not lines:
        raise SourceUnavailableError(
            f"cannot read the source of this lambda ({filename}); srcgrad transforms source "
            "code: define it in a .py file, or in IPython or Jupyter (which keep the source "
            "of each cell), not at the plain interactive prompt, with python -c or with "
            "exec")
    try:
        module = ast.parse("".join(lines))
    except SyntaxError as exc:
        raise SourceUnavailableError(f"cannot parse {filename}: {exc}") from exc
    # (the RESUME and RETURN instructions carry columns 0, 0: no source of their own)
    spots = [(p[0], p[2], p[1], p[3]) for p in code.co_positions()
             if p[0] is not None and p[2] is not None and (p[2], p[3]) != (0, 0)]
    names = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])

    def holds(node: ast.Lambda) -> bool:
        start = (node.body.lineno, node.body.col_offset)
        end = (node.body.end_lineno, node.body.end_col_offset)
        return all(start <= (l0, c0) and (l1, c1) <= end for l0, c0, l1, c1 in spots)

    found = [n for n in ast.walk(module) if isinstance(n, ast.Lambda)
             and n.lineno == code.co_firstlineno
             and [a.arg for a in n.args.posonlyargs + n.args.args + n.args.kwonlyargs] == names
             and holds(n)]
    if not found:
        raise SourceUnavailableError(
            f"cannot find the source of the lambda at {filename}:{code.co_firstlineno}; "
            "write it with def")
    lam = min(found, key=lambda n: (n.end_lineno - n.lineno, n.end_col_offset - n.col_offset))
    tree = _as_def(f"lambda_{code.co_firstlineno}", lam)
    return tree, filename, [line.rstrip("\n") for line in lines]


def _as_def(name: str, lam: ast.Lambda) -> ast.FunctionDef:
    """`lambda args: e` as `def name(args): return e`, at the lambda's place."""
    ret = ast.copy_location(ast.Return(lam.body), lam.body)
    tree = ast.FunctionDef(name=name, args=lam.args, body=[ret], decorator_list=[],
                           returns=None, type_comment=None, type_params=[])
    return ast.copy_location(tree, lam)


def _bind_owner(tree: ast.FunctionDef, self_name: str, owner) -> None:
    """`self.w` read in a method: the name `self_w`, bound to the attribute's value."""
    values: dict[str, object] = {}

    class Bind(ast.NodeTransformer):
        def visit_Attribute(self, node):
            self.generic_visit(node)
            if isinstance(node.value, ast.Name) and node.value.id == self_name \
                    and isinstance(node.ctx, ast.Load) and hasattr(owner, node.attr):
                name = f"{self_name}_{node.attr}"
                values[name] = getattr(owner, node.attr)
                return ast.copy_location(ast.Name(name, ast.Load()), node)
            return node
    Bind().visit(tree)
    tree.srcgrad_owner = values


def _lift_nested(cap: Captured) -> None:
    """Nested `def`s and `name = lambda ...` become helpers, inlined where they are called
    like module-level ones. A name is lifted when it is bound once in the function (in
    any block: the helper then exists from the start, which only differs from Python
    where Python would raise NameError).

    The enclosing function's locals a helper reads (directly or through another lifted
    helper it calls) become keyword-only parameters of it, and every call passes them
    (`g(t)` is `g(t, y=y)`): the value at the call, as Python's closure reads it, and a
    tuple, list or dict local is taken apart like any container argument."""
    bound: dict[str, int] = {}
    work: list[ast.AST] = list(cap.tree.body)
    while work:   # this function's own bindings: not those inside nested defs or lambdas
        node = work.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound[node.id] = bound.get(node.id, 0) + 1
        if isinstance(node, ast.FunctionDef):
            bound[node.name] = bound.get(node.name, 0) + 1
            continue
        if not isinstance(node, ast.Lambda):
            work.extend(ast.iter_child_nodes(node))
    found: dict[str, ast.FunctionDef] = {}

    def lift(stmts: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for stmt in stmts:
            inner = None
            if isinstance(stmt, ast.FunctionDef) and not stmt.decorator_list:
                inner = stmt
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                    and isinstance(stmt.targets[0], ast.Name) \
                    and isinstance(stmt.value, ast.Lambda):
                inner = _as_def(stmt.targets[0].id, stmt.value)
            if inner is not None and bound.get(inner.name) == 1 and inner.name not in found:
                found[inner.name] = inner
                continue
            for attr in ("body", "orelse"):
                block = getattr(stmt, attr, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt) \
                        and not isinstance(stmt, ast.FunctionDef):
                    setattr(stmt, attr, lift(block) or [ast.Pass()])
            out.append(stmt)
        return out

    cap.tree.body = lift(cap.tree.body) or [ast.Pass()]
    if not found:
        return
    outer = _assigned_names(cap.tree) - set(found)
    own = {name: _assigned_names(inner) for name, inner in found.items()}
    reads = {name: {n.id for n in ast.walk(inner) if isinstance(n, ast.Name)
                    and isinstance(n.ctx, ast.Load)} & (outer - own[name])
             for name, inner in found.items()}
    calls = {name: {n.func.id for n in ast.walk(inner) if isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Name) and n.func.id in found
                    and n.func.id not in own[name]}
             for name, inner in found.items()}
    changed = True
    while changed:   # what a helper's helpers read, it reads too
        changed = False
        for name in found:
            for callee in calls[name]:
                extra = reads[callee] - reads[name] - own[name]
                if extra:
                    reads[name] |= extra
                    changed = True
    for name, inner in found.items():
        for var in sorted(reads[name]):
            inner.args.kwonlyargs.append(ast.arg(var))
            inner.args.kw_defaults.append(None)
    for tree in [cap.tree, *found.values()]:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in found and not (
                        tree is not cap.tree and node.func.id in own.get(tree.name, ())):
                node.keywords += [ast.keyword(var, ast.Name(var, ast.Load()))
                                  for var in sorted(reads[node.func.id])]
    helpers: dict = {}
    for name, inner in found.items():
        module = ast.fix_missing_locations(ast.Module([copy.deepcopy(inner)], []))
        namespace: dict = {}
        exec(compile(module, cap.filename, "exec"), cap.fn.__globals__, namespace)  # noqa: S102
        helper = namespace[name]
        helper.__srcgrad_tree__ = inner
        helper.__srcgrad_outer__ = frozenset()
        helper.__srcgrad_siblings__ = helpers   # the helpers it may call, by name
        helpers[name] = helper
        cap.callees[name] = helper


def _assigned_names(tree: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in ast.walk(tree.args) if isinstance(a, ast.arg)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _user_function(value) -> types.FunctionType | None:
    """The Python function behind a user-defined callable (a plain function, or a
    Numba dispatcher's `py_func`), or None for library functions."""
    fn = unwrap(value)
    if inspect.ismethod(fn) and isinstance(fn.__func__, types.FunctionType):
        return fn if _user_function(fn.__func__) is not None else None
    if not isinstance(fn, types.FunctionType):
        return None
    module = getattr(fn, "__module__", "") or ""
    if module == "srcgrad" or module.startswith(("srcgrad.", "numpy", "numba", "math")):
        return None
    return fn


def _scope(cap: Captured) -> dict:
    fn = cap.fn
    scope = dict(vars(builtins))
    scope.update(fn.__globals__)
    if fn.__closure__:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            try:
                scope[name] = cell.cell_contents
            except ValueError:  # an empty cell: assigned after the function was made
                pass
    return scope


def _flatten_module_attributes(cap: Captured, scope: dict, local: set[str]) -> None:
    """`lib.helper(x)` and `lib.SCALE`, with `lib` a user module: rewrite the attribute
    to a plain name bound to its value, so the rest reads it like a global."""
    class Flatten(ast.NodeTransformer):
        def visit_Attribute(self, node):
            self.generic_visit(node)
            base = node.value
            if not (isinstance(base, ast.Name) and isinstance(base.ctx, ast.Load)) \
                    or base.id in local:
                return node
            module = scope.get(base.id)
            if not isinstance(module, types.ModuleType) or module in (math, np) \
                    or module.__name__.split(".")[0] in ("srcgrad", "numpy", "numba"):
                return node
            if not hasattr(module, node.attr):
                return node
            name = f"{base.id}_{node.attr}"
            while name in local or (name in scope and scope[name] is not getattr(
                    module, node.attr)):
                name += "_"
            scope[name] = getattr(module, node.attr)
            return ast.copy_location(ast.Name(name, ast.Load()), node)
    Flatten().visit(cap.tree)


def _resolve_free_names(cap: Captured, extra: dict | None = None) -> None:
    # the enclosing function's locals a lifted helper reads stay names (read at the call)
    local = _assigned_names(cap.tree) | getattr(cap.fn, "__srcgrad_outer__", frozenset())
    local -= set(cap.callees)
    scope = _scope(cap)
    scope.update(extra or {})
    _flatten_module_attributes(cap, scope, local)
    for node in ast.walk(cap.tree):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
            continue
        name = node.id
        if name in local or name in cap.modules or name in cap.functions \
                or name in cap.constants or name in cap.callees or name in cap.nested:
            continue
        if name in scope:
            value = scope[name]
        elif hasattr(builtins, name):
            value = getattr(builtins, name)
        else:
            cap.problems.append((node, f"name '{name}' is not defined",
                                 "define it as a parameter, a local variable or a global"))
            continue
        if isinstance(value, types.ModuleType):
            if value is math:
                cap.modules[name] = "math"
            elif value is np:
                cap.modules[name] = "np"
            elif value.__name__ == "srcgrad":
                cap.modules[name] = "srcgrad"
            elif value.__name__ in {f"srcgrad.runtime.{m}" for m in RUNTIME_MODULES}:
                cap.modules[name] = value.__name__.rpartition(".")[2]
            else:
                cap.problems.append((node, f"module '{value.__name__}' cannot be used here",
                                     "srcgrad understands the math and numpy modules"))
        elif isinstance(value, (bool, int, float, np.floating, np.integer)):
            cap.constants[name] = value
        elif isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
            cap.constants[name] = value  # read as a constant (never differentiated)
        elif _is_custom(value):
            # a function with a user rule: called as it is, under its canonical name
            cap.functions[name] = value.key
            cap.constants.update(value.globals())
            cap.customs[value.key] = value
        elif _is_derivative(value):
            cap.nested[name] = value
        elif id(value) in _FUNCTION_NAMES:
            cap.functions[name] = _FUNCTION_NAMES[id(value)]
        elif callable(value):
            qualified = _callable_name(name, value)
            if qualified:
                cap.functions[name] = qualified
            elif _user_function(value) is not None:
                cap.callees[name] = _user_function(value)
            else:
                cap.problems.append((node, f"'{name}' is a {type(value).__name__}, which "
                                     "srcgrad cannot call",
                                     "call user functions defined with def, math.* or np.*"))
        else:
            cap.problems.append((node, f"global '{name}' is a {type(value).__name__}, which "
                                 "srcgrad cannot read", "pass it as an argument instead"))


# What the face's objects say they are (a class attribute `srcgrad_role`), read instead of
# an isinstance check so that the compiler imports nothing of the face.
DERIVATIVE = "derivative"   # srcgrad.grad / value_and_grad: a derivative a function may call
CUSTOM = "custom"           # srcgrad.custom_vjp / non_differentiable: a function with a rule


def _is_derivative(value) -> bool:
    return getattr(type(value), "srcgrad_role", None) == DERIVATIVE


def _is_custom(value) -> bool:
    return getattr(type(value), "srcgrad_role", None) == CUSTOM


def _callable_name(name: str, value) -> str | None:
    module = getattr(value, "__module__", "") or ""
    qual = getattr(value, "__name__", name)
    if module == "srcgrad" or module.startswith("srcgrad."):
        return f"srcgrad.{qual}"
    special = _scipy_special_name(value)
    if special is not None:
        return special
    if module == "numpy.linalg":
        return f"np.linalg.{qual}"
    if isinstance(value, np.ufunc) or module.startswith("numpy"):
        return f"np.{qual}"
    return None


def canonical_name(value) -> str | None:
    """The name srcgrad knows a math, NumPy, scipy.special or builtin function by
    (`math.sin`, `np.absolute` for np.abs, `np.linalg.det`, `scipy.special.expit`), or
    None for other objects."""
    if id(value) in _FUNCTION_NAMES:
        return _FUNCTION_NAMES[id(value)]
    if callable(value):
        return _callable_name(getattr(value, "__name__", ""), value)
    return None


def _scipy_special_name(value) -> str | None:
    """'scipy.special.expit' for scipy.special's functions (many are NumPy ufuncs, so the
    test is by identity with the module's own attribute), else None."""
    module = getattr(value, "__module__", "") or ""
    if not (isinstance(value, np.ufunc) or module.startswith("scipy")):
        return None
    try:
        import scipy.special
    except ImportError:  # pragma: no cover - scipy is a dependency
        return None
    name = getattr(value, "__name__", None)
    if name and getattr(scipy.special, name, None) is value:
        return f"scipy.special.{name}"
    return None
