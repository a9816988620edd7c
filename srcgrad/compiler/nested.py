"""Nested derivatives: a ``srcgrad.grad`` object called inside a differentiated function.

    dpot = srcgrad.grad(potential, wrt=0)

    def trajectory(w):
        ...
        force = dpot(x, w)      # a derivative inside the function srcgrad differentiates
        ...

The call becomes a call to a small function in srcgrad's language that computes
the inner gradient by forward mode: one tangent of ``potential`` (forward.py) per
coordinate of the differentiated argument, along the unit vectors. normalize
then inlines it like any user function, so the outer derivative (reverse mode,
or forward mode for ``jvp``) differentiates generated tangent code, as ``hvp``
does. Forward mode costs one pass of ``potential`` per coordinate, which suits
the small arguments (positions, a few parameters) that such inner gradients
usually have; an inner gradient over a large array is better written by hand.

The tangent code depends on the types of the call's arguments, which are known
only after type inference of the caller. So normalization runs twice when the
function has such a call:

1. the call is left as a plain call to a Numba *stand-in* with the same
   signature that returns zeros of the gradient's type; type inference of that
   version gives the argument types at every call site;
2. each derivative object gets its forward-mode function for those types, and
   normalization runs again, inlining it.

Functions without such calls are normalized once, as before.
"""

from __future__ import annotations

import ast
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
from numba.core import types as nbtypes

from ..errors import UnsupportedSyntaxError
from .containers import Container
from .core import assign, const, load
from .infer import arg_type_of, infer_types
from .normalize import Normalized, normalize

_LOCK = threading.RLock()
_STAND_INS: dict[int, object] = {}
_WRAPPERS: dict[tuple, object] = {}


@dataclass(frozen=True)
class DerivativeSpec:
    """What the compiler needs to know of a derivative object (srcgrad.grad of `fn`)
    called inside a differentiated function; the object's `spec` gives it."""

    fn: Callable
    name: str
    params: tuple[str, ...]
    wrt: tuple[int, ...]
    single: bool
    with_value: bool


@dataclass(frozen=True)
class TangentSource:
    """How the compiler gets tangent code for a nested derivative. The caller of the
    pipeline gives it (compiler/tangent.py makes one), so that nothing here imports the
    module that drives the pipeline: no import cycle.

    `source(fn, types, wrt)` returns (module text, tangent function name); `load(fn,
    types, wrt, text)` imports `text` (the tangent module and more) as a module."""

    source: Callable
    load: Callable


@dataclass
class Frame:
    """One normalization's calls to derivative objects. Without `resolved` (the first
    pass) each call becomes a plain call to a stand-in; with it, the function to inline
    for each object (id -> function). normalize asks `implementation`."""

    resolved: dict[DerivativeSpec, object] | None = None
    probed: bool = False

    def implementation(self, anf, targets: list[str], call: ast.Call, out: list[ast.stmt],
                       unpack: bool = False):
        """The function to inline for a call to a derivative object, or None after
        emitting a plain call to its stand-in (the first pass)."""
        spec = anf.cap.nested[call.func.id].spec
        if self.resolved is not None:
            return self.resolved[spec]
        self.probed = True
        probe = anf.namer.fresh("_nested")
        anf.constants[probe] = _stand_in(spec)
        args = [anf.call_arg(a, out) for a in call.args]
        keywords = [ast.keyword(k.arg, anf.call_arg(k.value, out)) for k in call.keywords]
        value = ast.Call(load(probe), args, keywords)
        if len(targets) == 1 and not unpack:
            anf.put(out, assign(targets[0], value))
            return None
        result = anf.temp()
        anf.put(out, assign(result, value))
        for k, target in enumerate(targets):
            anf.put(out, assign(target, ast.Subscript(load(result), const(k), ast.Load())))
        return None


def normalize_nested(cap, arg_types: tuple, tangents: TangentSource | None) -> Normalized:
    """``normalize(cap)``, resolving calls to derivative objects (two passes if any)."""
    frame = Frame()
    containers = {p: t for p, t in zip(cap.params, arg_types) if isinstance(t, Container)}
    norm = normalize(cap, nested=frame, containers=containers)
    if not frame.probed:
        return norm
    if tangents is None:
        raise UnsupportedSyntaxError(
            f"{cap.name} calls a derivative object, which this use of srcgrad cannot "
            "inline", cap.filename, cap.tree.lineno, 0, construct="nested derivative")
    typed = infer_types(norm, cap, norm.flat_types(arg_types, cap.params))
    sites = _call_sites(norm.tree, cap, norm.constants, typed)
    resolved = {key: _wrapper(spec, types, cap, line, tangents)
                for key, (spec, types, line) in sites.items()}
    return normalize(cap, nested=Frame(resolved), containers=containers)


def _call_sites(tree: ast.FunctionDef, cap, constants: dict, typed) -> dict:
    """spec -> (spec, argument types in its parameters' order, line), for each derivative
    object the first pass called (through its stand-in)."""
    sites: dict = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name)):
            continue
        spec = getattr(constants.get(node.value.func.id), "srcgrad_nested_spec", None)
        if spec is None:
            continue
        line = getattr(node, "srcline", None)

        def type_of(atom: ast.expr):
            if isinstance(atom, ast.Name):
                if atom.id in typed.types:
                    return typed.types[atom.id]
                return arg_type_of(constants[atom.id])
            if isinstance(atom, ast.Constant):
                return arg_type_of(atom.value)
            return arg_type_of(0.0)  # math.pi and the like
        call = node.value
        signature = inspect.signature(spec.fn)
        bound = signature.bind(*[type_of(a) for a in call.args],
                               **{k.arg: type_of(k.value) for k in call.keywords})
        types = []
        for name, param in signature.parameters.items():
            if name in bound.arguments:
                types.append(bound.arguments[name])
            else:
                types.append(arg_type_of(param.default))
        types = tuple(types)
        previous = sites.get(spec)
        if previous is not None and previous[1] != types:
            raise _error(cap, line, f"{spec.name}'s derivative is called with arguments "
                         f"of different types ({_show(previous[1])} and {_show(types)})",
                         "call it with the same kinds of arguments (floats, arrays of one "
                         "rank) everywhere in this function")
        sites[spec] = (spec, types, line)
    return sites


def _show(types: tuple) -> str:
    return "(" + ", ".join(str(t) for t in types) + ")"


def _error(cap, line, message: str, hint: str) -> UnsupportedSyntaxError:
    node = ast.Pass()
    node.lineno = line if line is not None else cap.tree.lineno
    node.col_offset = 0
    return cap.error(UnsupportedSyntaxError, node, message, hint=hint,
                     construct="nested derivative")


def _stand_in(spec: DerivativeSpec):
    """A compiled function with the derivative object's signature that returns zeros of
    its result's types: the first pass types the caller with it."""
    with _LOCK:
        fn = _STAND_INS.get(spec)
        if fn is not None:
            return fn
        params = list(spec.params)
        grads = [f"{params[i]} * 0.0" for i in spec.wrt]
        result = grads[0] if spec.single else "(" + ", ".join(grads) + ",)"
        if spec.with_value:
            result = f"(0.0, {result})"
        source = f"def stand_in({', '.join(params)}):\n    return {result}\n"
        namespace = {"np": np}
        exec(compile(source, f"<srcgrad stand-in for {spec.name}>", "exec"), namespace)
        py = namespace["stand_in"]
        py.__defaults__ = spec.fn.__defaults__
        fn = numba.njit(py)
        fn.srcgrad_nested_spec = spec
        _STAND_INS[spec] = fn
        return fn


def _wrapper(spec: DerivativeSpec, types: tuple, cap, line, tangents: TangentSource):
    """The forward-mode gradient of the derivative object's function at these argument
    types: a function in srcgrad's language, in a generated module next to the tangent."""
    key = (spec, types)
    with _LOCK:
        if key in _WRAPPERS:
            return _WRAPPERS[key]
    name = spec.name
    params = list(spec.params)
    kinds = []
    for i in spec.wrt:
        typ = types[i]
        if isinstance(typ, nbtypes.Float):
            kinds.append(0)
        elif isinstance(typ, nbtypes.Array) and isinstance(typ.dtype, nbtypes.Float) \
                and typ.ndim in (1, 2):
            kinds.append(typ.ndim)
        else:
            raise _error(cap, line, f"cannot take {name}'s derivative inside a differentiated "
                         f"function with respect to {params[i]!r}, a {typ}",
                         "srcgrad nests derivatives with respect to floats and float "
                         "arrays of one or two dimensions")
    if spec.with_value and not spec.single:
        raise _error(cap, line, f"value_and_grad of {name} with several arguments cannot be "
                     "called inside a differentiated function (its result nests tuples)",
                     "call srcgrad.grad for the gradient and the function for the value")
    wrt = tuple(spec.wrt)
    source, func = tangents.source(spec.fn, types, wrt)
    wrapper_name = f"{name}_nested_grad"
    text = source + _wrapper_source(wrapper_name, func, params, wrt, kinds, spec.with_value,
                                    spec.single)
    module = tangents.load(spec.fn, types, wrt, text)
    fn = getattr(module, wrapper_name)
    fn.__defaults__ = spec.fn.__defaults__
    with _LOCK:
        _WRAPPERS[key] = fn
    return fn


def _wrapper_source(wrapper: str, func: str, params: list[str], wrt: tuple, kinds: list[int],
                    with_value: bool, single: bool) -> str:
    """``def <f>_nested_grad(params)``: the gradient along each unit vector, by calling
    the tangent function ``func(params, tangents)`` once per coordinate."""
    args = ", ".join(params)

    def zero(i: int, kind: int) -> str:
        return "0.0" if kind == 0 else f"np.zeros_like({params[i]})"

    lines = ["import numpy as np", "", "", f"def {wrapper}({args}):",
             f'    """The gradient of {func[:-len("_jvp")]} in '
             f'{", ".join(params[i] for i in wrt)}, by forward mode (srcgrad.nested)."""']
    outs = []
    for k, (i, kind) in enumerate(zip(wrt, kinds)):
        x = params[i]
        g = f"_g{k}"
        outs.append(g)

        def tangents(unit: str, k: int = k) -> str:
            return ", ".join(unit if j == k else zero(wrt[j], kinds[j])
                             for j in range(len(wrt)))
        if kind == 0:
            lines.append(f"    _value, {g} = {func}({args}, {tangents('1.0')})")
            continue
        lines.append(f"    {g} = np.zeros_like({x})")
        if kind == 1:
            lines += [f"    for _i in range({x}.shape[0]):",
                      f"        _e = np.zeros_like({x})",
                      "        _e[_i] = 1.0",
                      f"        _value, _d = {func}({args}, {tangents('_e')})",
                      f"        {g}[_i] = _d"]
        else:
            lines += [f"    for _i in range({x}.shape[0]):",
                      f"        for _j in range({x}.shape[1]):",
                      f"            _e = np.zeros_like({x})",
                      "            _e[_i, _j] = 1.0",
                      f"            _value, _d = {func}({args}, {tangents('_e')})",
                      f"            {g}[_i, _j] = _d"]
    result = outs[0] if single else "(" + ", ".join(outs) + ",)"
    if with_value:
        zeros = ", ".join(zero(i, kind) for i, kind in zip(wrt, kinds))
        lines.insert(5, f"    _value, _unused = {func}({args}, {zeros})")
        result = f"_value, {result}"
    lines.append(f"    return {result}")
    return "\n".join(lines) + "\n"
