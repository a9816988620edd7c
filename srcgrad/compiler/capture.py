"""Stage 1, capture: read a function's source, parse it, resolve its globals.

The result remembers the file and line numbers so that every later error and
every comment in the generated source points at the user's own code.
"""

from __future__ import annotations

import ast
import builtins
import inspect
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
                  "enumerate", "dict", "zip", "tuple", "list", "sum"}


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
    """Parse `fn`'s source into a FunctionDef whose line numbers are the file's."""
    fn = unwrap(fn)
    if not isinstance(fn, types.FunctionType):
        raise UsageError(
            f"srcgrad differentiates Python functions, got {type(fn).__name__} {fn!r}; "
            "pass a function defined with `def` in a .py file")
    try:
        lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or fn.__code__.co_filename
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {fn.__qualname__} ({exc}); srcgrad transforms source "
            "code, so define the function in a .py file (not in the interactive prompt or "
            "with exec) and import it") from exc
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
    params = [a.arg for a in tree.args.posonlyargs + tree.args.args + tree.args.kwonlyargs]
    cap = Captured(fn=fn, name=tree.name, filename=filename, tree=tree,
                   file_lines=file_lines, params=params)
    _resolve_free_names(cap)
    return cap


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


def _resolve_free_names(cap: Captured) -> None:
    local = _assigned_names(cap.tree)
    scope = _scope(cap)
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
