"""Stage 4, types: read Numba's own type inference of the normalized primal.

The normalized function is compiled to Python bytecode and handed to Numba's
front end and type inference only (no code generation, ~10 ms). Numba unifies
the types of each variable over all its assignments, which is what activity
needs: a variable is a float if any assignment makes it one. Integers and
booleans are never active.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from dataclasses import dataclass

import numba
import numpy as np
from numba import typeof
from numba import types as nbtypes
from numba.core import compiler, typed_passes
from numba.core import errors as nberrors
from numba.core.registry import cpu_target
from numba.core.target_extension import target_override
from numba.core.targetconfig import ConfigStack

from .. import runtime
from ..errors import NonScalarOutputError, TypeInferenceError, UnsupportedSyntaxError, UsageError
from .capture import Captured
from .containers import is_container, structure
from .core import RUNTIME_MODULES
from .emit import emit_function
from .normalize import Normalized

_REFRESHED = False


@dataclass
class Typed:
    """Numba types of every variable of the normalized function."""

    types: dict[str, nbtypes.Type]
    return_type: nbtypes.Type
    arg_types: tuple[nbtypes.Type, ...]
    # names bound to values of incompatible types (an array, then a float: x = x.sum()),
    # which normalize.split_rebound gives one name per binding
    rebound: frozenset = frozenset()

    def is_float(self, name: str) -> bool:
        """A float scalar or a float array: the types that carry derivatives."""
        typ = self.types.get(name)
        if isinstance(typ, nbtypes.Array):
            return isinstance(typ.dtype, nbtypes.Float)
        return isinstance(typ, nbtypes.Float)

    def carries_float(self, name: str) -> bool:
        """Whether a value of this variable may hold floats that carry a derivative:
        a float, a float array, or an optional or tuple of those. Only float scalars
        and arrays get adjoints; the other kinds are refused where they become active
        (analyze.check_active_types), never treated as constants."""
        return _carries_float(self.types.get(name))

    def is_array(self, name: str) -> bool:
        return isinstance(self.types.get(name), nbtypes.Array)

    def kind(self, name: str) -> str:
        """Which tape holds a value: 'f' float, 'i' integer, 'b' boolean, 'a' array
        reference."""
        typ = self.types.get(name)
        if isinstance(typ, nbtypes.Array):
            return "a"
        if isinstance(typ, nbtypes.Boolean):
            return "b"
        if isinstance(typ, nbtypes.Integer):
            return "i"
        return "f"


def _carries_float(typ) -> bool:
    if isinstance(typ, (nbtypes.Float, nbtypes.Complex)):
        return True
    if isinstance(typ, nbtypes.Array):
        return isinstance(typ.dtype, (nbtypes.Float, nbtypes.Complex))
    if isinstance(typ, nbtypes.Optional):
        return _carries_float(typ.type)
    if isinstance(typ, nbtypes.BaseTuple):
        return any(_carries_float(t) for t in typ)
    if isinstance(typ, (nbtypes.List, nbtypes.ListType, nbtypes.Set)):
        return _carries_float(typ.dtype)
    return False


def namespace(constants: dict) -> dict:
    """Globals for typing normalized code: the modules it names and its constants. The
    name ``srcgrad`` is the runtime package here (what normalized code calls of srcgrad,
    stop_gradient and broadcast_like, lives there), so the compiler imports no face."""
    ns = {"math": math, "np": np, "srcgrad": runtime}
    ns.update({m: getattr(runtime, m) for m in RUNTIME_MODULES})
    ns.update(constants)
    return ns


def build_python_function(norm: Normalized, cap: Captured, name: str | None = None):
    emitted = emit_function(norm.tree)
    code = compile(emitted.text, f"<srcgrad normalized {cap.name}>", "exec")
    ns = namespace(norm.constants)
    exec(code, ns)
    return ns[norm.tree.name], emitted


def infer_types(norm: Normalized, cap: Captured, arg_types: tuple) -> Typed:
    """Numba's types for the normalized function; float constants meeting float32
    arrays are made float32 first (NumPy 2's rule), which may take a second pass."""
    for _ in range(3):
        partial = _infer(norm, cap, arg_types, raise_errors=False)
        if not weak_python_floats(norm.tree, partial):
            break
    return _infer(norm, cap, arg_types, raise_errors=True)


def _infer(norm: Normalized, cap: Captured, arg_types: tuple, raise_errors: bool) -> Typed:
    global _REFRESHED
    fn, emitted = build_python_function(norm, cap)
    typing_ctx = cpu_target.typing_context
    target_ctx = cpu_target.target_context
    if not _REFRESHED:
        typing_ctx.refresh()
        target_ctx.refresh()
        _REFRESHED = True
    try:
        interp = compiler.run_frontend(fn)
        with target_override("cpu"), warnings.catch_warnings(), \
                ConfigStack().enter(_compile_flags()):
            warnings.simplefilter("ignore", nberrors.NumbaPerformanceWarning)
            result = typed_passes.type_inference_stage(
                typing_ctx, target_ctx, interp, tuple(arg_types), None,
                raise_errors=raise_errors)
    except nberrors.TypingError as exc:
        raise _typing_error(exc, emitted, cap) from None
    except nberrors.NotDefinedError as exc:
        # a variable some path reads before any assignment (first assigned in a loop,
        # read by a later iteration): Numba cannot compile it
        error = _typing_error(exc, emitted, cap)
        name = re.search(r"Variable '([^']+)' is not defined", str(exc))
        shown = repr(name.group(1)) if name else "a variable"
        raise UnsupportedSyntaxError(
            f"{shown} may be read before it is assigned (for example first assigned in "
            "a loop and read by its next iteration); Numba compiles a variable only when "
            "every path to a read assigns it first", error.filename, error.lineno,
            hint=f"assign {name.group(1) if name else 'it'} before the loop, for example "
                 "to 0.0") from None
    table = {k: v for k, v in result.typemap.items() if not k.startswith("$")}
    for key in [k for k in table if k.startswith("arg.")]:
        table.setdefault(key[4:], table[key])
        del table[key]
    # Numba keeps a version suffix on some names (x.1): fold them into x.
    merged: dict[str, nbtypes.Type] = {}
    rebound = set()
    for key, typ in table.items():
        base = key.split(".")[0]
        if base in merged and merged[base] != typ:
            unified = typing_ctx.unify_pairs(merged[base], typ)
            if unified is None or _kind(unified) != _kind(typ) \
                    or _kind(unified) != _kind(merged[base]):
                rebound.add(base)
            merged[base] = unified if unified is not None else typ
        else:
            merged[base] = typ
    return Typed(types=merged, return_type=result.return_type, arg_types=tuple(arg_types),
                 rebound=frozenset(rebound))


_FLAGS: list = []


def _compile_flags():
    """The flags Numba compiles a generated module with (jit.py: njit(error_model=
    "numpy")). Numba keys the implementations of overloaded functions by the flags of
    the compilation that calls them, so typing under the same flags lets the compile
    of the adjoint reuse every implementation this stage built, instead of compiling
    each again."""
    if not _FLAGS:
        disp = numba.njit(error_model="numpy")(lambda: None)
        flags = compiler.Flags()
        disp.targetdescr.options.parse_as_flags(flags, disp.targetoptions)
        _FLAGS.append(disp._compiler._customize_flags(flags))
    return _FLAGS[0].copy()


def _kind(typ) -> tuple:
    """What a variable must keep across its bindings to be one variable: an array's
    number of dimensions, or being a scalar (ints and floats unify)."""
    if isinstance(typ, nbtypes.Array):
        return ("array", typ.ndim)
    if isinstance(typ, (nbtypes.Number, nbtypes.Boolean)):
        return ("scalar",)
    return (type(typ).__name__,)


def _typing_error(exc: Exception, emitted, cap: Captured) -> TypeInferenceError:
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    lineno = 0
    match = re.search(r'File "<srcgrad normalized [^>]*>", line (\d+)', message)
    if match:
        gen_line = int(match.group(1))
        if 1 <= gen_line <= len(emitted.linemap):
            lineno = emitted.linemap[gen_line - 1] or 0
    first = message.strip().splitlines()[0] if message.strip() else "typing failed"
    own = re.search(r"TypingError: (srcgrad\.[^\n]*)", message)
    if own:  # a restriction of srcgrad's own compiled functions says what to change
        first = own.group(1).strip()
    filename = cap.filename
    if hasattr(lineno, "file"):  # a line of an inlined helper (core.Loc)
        filename = lineno.file
        first = f"{first} (in {lineno.func}, inlined into {cap.name})"
    return TypeInferenceError(
        f"Numba cannot type this code: {first}", filename, int(lineno),
        hint="srcgrad compiles your function with Numba in nopython mode; use floats, ints "
             "and the math functions on them")


def check_output(typed: Typed, cap: Captured, mode: str = "grad") -> None:
    rt = typed.return_type
    if isinstance(rt, nbtypes.Float):
        return
    def differentiable(t) -> bool:
        return isinstance(t, nbtypes.Float) or (
            isinstance(t, nbtypes.Array) and isinstance(t.dtype, nbtypes.Float))
    if mode == "vjp" and differentiable(rt):
        return
    if mode == "vjp" and isinstance(rt, nbtypes.BaseTuple) and all(map(differentiable, rt)):
        return
    if isinstance(rt, nbtypes.Array):
        raise NonScalarOutputError(
            f"{cap.name} returns an array ({rt}), but grad needs a scalar float output; "
            "reduce it to a scalar (e.g. .sum()) or use srcgrad.vjp with a cotangent")
    if isinstance(rt, (nbtypes.BaseTuple,)):
        raise NonScalarOutputError(
            f"{cap.name} returns a tuple ({rt}); grad needs one float; return one value "
            "or use srcgrad.vjp")
    raise NonScalarOutputError(
        f"{cap.name} returns {rt}, not a float, so its gradient is not defined; "
        "return a float expression (an integer or boolean output has no gradient)")


def arg_type_of(value) -> nbtypes.Type:
    """The Numba type of one argument, with a fast path for Python scalars."""
    if type(value) is float:
        return nbtypes.float64
    if type(value) is int:
        return nbtypes.int64
    if type(value) is bool:
        return nbtypes.boolean
    if type(value) is np.ndarray:
        # numba.typeof of an array costs ~25 us; its type depends only on these
        flags = value.flags
        key = (value.dtype, value.ndim, flags.c_contiguous, flags.f_contiguous,
               flags.writeable, flags.aligned)
        typ = _ARRAY_TYPES.get(key)
        if typ is None:
            typ = _ARRAY_TYPES.setdefault(key, typeof(value))
        return typ
    if type(value) is dict or type(value) is list:
        raise UsageError(
            f"a {type(value).__name__} argument: check_grad and grad of a grad take floats "
            "and arrays so far (grad, value_and_grad, vjp, jvp, jacobian, hvp and hessian "
            "take tuples, lists and dicts): pass the leaves as separate arguments")
    return typeof(value)


def argument_type(value, name: str = ""):
    """The Numba type of an argument, or the containers.Container of a tuple, list or
    dict of them (the face takes those apart)."""
    if not is_container(value):
        return arg_type_of(value)
    try:
        return structure(value, arg_type_of)
    except TypeError as exc:
        raise UsageError(f"argument {name!r}: {exc}" if name else str(exc)) from None


_ARRAY_TYPES: dict = {}


__all__ = ["infer_types", "Typed", "arg_type_of", "argument_type", "check_output", "namespace",
           "build_python_function", "ast"]


def weak_python_floats(tree: ast.FunctionDef, typed: Typed) -> bool:
    """NumPy 2 keeps float32 when an array meets a Python float (NEP 50); Numba
    promotes to float64. Make such float constants float32 so both agree. Returns
    True when the tree changed (types must then be inferred again)."""
    changed = False
    for node in ast.walk(tree):
        if not isinstance(node, ast.BinOp):
            continue
        sides = (node.left, node.right)
        f32 = any(isinstance(s, ast.Name) and isinstance(typed.types.get(s.id), nbtypes.Array)
                  and typed.types[s.id].dtype == nbtypes.float32 for s in sides)
        if not f32:
            continue
        for attr in ("left", "right"):
            side = getattr(node, attr)
            if isinstance(side, ast.Constant) and type(side.value) is float:
                setattr(node, attr, ast.Constant(np.float32(side.value)))
                changed = True
    return changed
