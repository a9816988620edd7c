"""The tangent (forward-mode) function of a user function, built and compiled.

``TangentFunction(f)`` generates (stage forward, through the pipeline) and compiles
one tangent module per argument types and set of differentiated arguments. The
module also holds two small wrappers in srcgrad's language, ``f_tangent(args, d_w)``
(the tangent alone) and ``f_d1(args)`` (the tangent along 1.0, for a scalar
argument), which reverse mode differentiates for second derivatives (srcgrad's
``hvp``, ``hessian``, ``grad`` of ``grad``) and nested derivatives (nested.py, through
``TANGENTS``).
"""

from __future__ import annotations

import inspect
import re
import threading

import numpy as np
from numba.core import types as nbtypes
from numba.core.errors import NumbaError

from ..errors import MissingRuleError, UsageError, numba_rejected
from .capture import unwrap
from .containers import Arguments, Container, rebuild
from .infer import argument_type
from .jit import compiled, load_module, note_user_line
from .nested import TangentSource
from .pipeline import front, generate, run_stage
from .rules import RUNTIME_NAMES, rule_for


def _is_float_type(typ) -> bool:
    return isinstance(typ, nbtypes.Float) or (
        isinstance(typ, nbtypes.Array) and isinstance(typ.dtype, nbtypes.Float))


class TangentFunction:
    """The compiled tangent (forward-mode) function of a user function, one
    specialization per argument types and set of differentiated arguments."""

    def __init__(self, fn, jit: bool = True) -> None:
        self.cap = front(fn)
        self.fn = unwrap(fn)
        self.params = list(self.cap.params)
        self.jit = jit
        self._specs: dict[tuple, tuple] = {}
        self._sources: dict[tuple, tuple] = {}
        self._lock = threading.RLock()

    def spec(self, types: tuple, wrt: tuple[int, ...]):
        """(generated source, compiled f_jvp, module) for these types and wrt."""
        key = (types, wrt)
        entry = self._specs.get(key)
        if entry is None:
            with self._lock:
                entry = self._specs.get(key)
                if entry is None:
                    entry = self._build(types, wrt)
                    self._specs[key] = entry
        return entry

    def tangent_source(self, types: tuple, wrt: tuple[int, ...]) -> tuple[str, str]:
        """(the tangent module's source, the tangent function's name), not compiled."""
        key = (types, wrt)
        entry = self._sources.get(key)
        if entry is None:
            with self._lock:
                entry = self._sources.get(key)
                if entry is None:
                    names = [self.params[i] for i in wrt]
                    gen = generate(self.cap, types, names, "jvp", TANGENTS)
                    # container arguments: the wrappers take the leaves, as the tangent
                    # function does (gen.params, gen.wrt)
                    flat_wrt = tuple(gen.params.index(n) for n in gen.wrt)
                    source = gen.source + _wrappers(gen.func_name, list(gen.params),
                                                    list(gen.wrt), gen.arg_types, flat_wrt)
                    entry = self._sources[key] = (source, gen.func_name, gen.linemap,
                                                  gen.injected, gen.output)
        return entry[:2]

    def _injected(self, types: tuple, wrt: tuple[int, ...]) -> dict:
        self.tangent_source(types, wrt)
        return self._sources[(types, wrt)][3]

    def module(self, types: tuple, wrt: tuple[int, ...], source: str | None = None):
        """The tangent module (or `source`, the tangent module and more), imported."""
        if source is None:
            source = self.tangent_source(types, wrt)[0]
        return load_module(self.cap.name, source, self._injected(types, wrt))

    def output(self, types: tuple, wrt: tuple[int, ...]):
        """The structure of a returned list, dict or nested tuple (None for a float, an
        array or a flat tuple)."""
        self.tangent_source(types, wrt)
        return self._sources[(types, wrt)][4]

    def _build(self, types: tuple, wrt: tuple[int, ...]):
        source, func_name = self.tangent_source(types, wrt)
        fn = run_stage("compile", compiled, self.cap.name, source, func_name, self.jit,
                       self._injected(types, wrt))
        return source, fn, self.module(types, wrt)

    def types(self, args: tuple) -> tuple:
        """The argument types: Numba types, or Containers for tuples, lists and dicts."""
        return tuple(argument_type(a, p) for a, p in zip(args, self.params))

    def source_for(self, *args, wrt=None) -> str:
        types = self.types(args)
        return self.spec(types, self.wrt_indices(types, wrt))[0]

    def wrt_indices(self, types: tuple, wrt) -> tuple[int, ...]:
        """The indices of the differentiated arguments: `wrt` (positions or names), or every
        float and float-array argument."""
        if wrt is None:
            return tuple(i for i, t in enumerate(types) if _is_float_type(t) or (
                isinstance(t, Container) and any(_is_float_type(u) for _, u in t.leaves())))
        wrt = (wrt,) if isinstance(wrt, (int, str)) else tuple(wrt)
        out = []
        for w in wrt:
            i = self.params.index(w) if isinstance(w, str) else int(w)
            if isinstance(types[i], Container) and any(
                    _is_float_type(t) for _, t in types[i].leaves()):
                out.append(i)
                continue
            if not _is_float_type(types[i]):
                raise UsageError(f"cannot differentiate {self.cap.name} with respect to "
                                 f"{self.params[i]!r}: it is {types[i]}, not a float or a "
                                 "float array")
            out.append(i)
        return tuple(out)

    def bind(self, args: tuple, kwargs: dict | None = None) -> tuple:
        """All arguments, in parameter order, as Python binds them (defaults filled in,
        keyword-only parameters included)."""
        if not kwargs and len(args) == len(self.params):
            return tuple(args)
        try:
            bound = inspect.signature(self.fn).bind(*args, **(kwargs or {}))
        except TypeError as exc:
            raise UsageError(f"{self.cap.name}(): {exc}") from None
        bound.apply_defaults()
        return tuple(bound.arguments[p] for p in self.params)

    def __call__(self, primals: tuple, tangents: tuple, wrt=None):
        primals, tangents = tuple(primals), tuple(tangents)
        if len(primals) < len(self.params):
            # parameters with defaults: bound as Python binds them, with zero tangents
            tangents = tangents + (0.0,) * (len(self.params) - len(primals))
            primals = self.bind(primals)
        if len(primals) != len(self.params):
            raise UsageError(f"{self.cap.name} takes {len(self.params)} arguments; jvp got "
                             f"{len(primals)} primals")
        types = self.types(primals)
        wrt = self.wrt_indices(types, wrt)
        _, fn, _ = self.spec(types, wrt)
        view = Arguments(primals, types, wrt)
        try:
            given = view.split([tangents[i] for i in wrt], "the tangent")
        except TypeError as exc:
            raise UsageError(f"jvp: {exc}") from None
        ts = []
        for k, t in zip(view.slots, given):
            p = view.flat[k]
            if isinstance(p, np.ndarray):
                t = np.array(np.broadcast_to(np.asarray(t, dtype=p.dtype), p.shape))
            else:
                t = float(t)
            ts.append(t)
        try:
            value, tangent = fn(*view.flat, *ts)
        except NumbaError as exc:
            raise numba_rejected(exc, self.cap.name, self.cap.filename) from exc
        except Exception as exc:
            linemap = self._sources[(types, wrt)][2]
            note_user_line(exc, fn, linemap, self.cap, tuple(view.flat) + tuple(ts), "tangent")
            raise
        shape = self.output(types, wrt)
        if shape is not None:
            return rebuild(shape, iter(value)), rebuild(shape, iter(tangent))
        return value, tangent


def _wrappers(func: str, params: list[str], names: list[str], types, wrt) -> str:
    """Functions in srcgrad's language around the tangent function, for reverse mode
    to differentiate again."""
    base = func[:-len("_jvp")]
    taken = set(params)
    fresh = []
    for n in names:
        t = f"d_{n}"
        while t in taken:
            t = "d" + t
        taken.add(t)
        fresh.append(t)
    tangents = ", ".join(fresh)
    args = ", ".join(params)
    out = ["", "", f"def {base}_tangent({args}, {tangents}):",
           f'    """The tangent of {base} along {tangents} (for hvp)."""',
           f"    _value, _tangent = {func}({args}, {tangents})",
           "    return _tangent"]
    if len(wrt) == 1 and isinstance(types[wrt[0]], nbtypes.Float):
        out += ["", "", f"def {base}_d1({args}):",
                f'    """The derivative of {base} in {names[0]} (for grad of grad)."""',
                f"    _value, _tangent = {func}({args}, 1.0)",
                "    return _tangent"]
    return "\n".join(out) + "\n"


def module_for_second_order(tangent: TangentFunction, types: tuple, wrt: tuple,
                             source: str | None = None):
    """The tangent module (or `source`, which holds it), after checking that reverse mode
    can differentiate it: its tangent rules for max/min reductions, products, maximum,
    clip, abs and where of arrays call runtime helpers that have no derivative rules of
    their own."""

    if source is None:
        source = tangent.tangent_source(types, wrt)[0]
    module = tangent.module(types, wrt, source)
    for helper in sorted(RUNTIME_NAMES):
        if rule_for(f"srcgrad.{helper}") is None and re.search(rf"\b{helper}\(", source):
            primitive = "np." + helper.split("_grad")[0]
            cap = tangent.cap
            raise MissingRuleError(
                f"no second derivative through {primitive} of arrays: its tangent rule "
                f"({helper}) is not differentiable again", cap.filename, cap.tree.lineno, 0,
                hint="write that operation as a loop over elements (srcgrad differentiates "
                     "loops to any order)")
    return module


_TANGENTS: dict = {}
_TANGENTS_LOCK = threading.Lock()


def tangent_function(fn, jit: bool) -> TangentFunction:
    """The tangent function of `fn` (one object per function, its specializations kept)."""
    key = (id(fn), jit)
    with _TANGENTS_LOCK:
        entry = _TANGENTS.get(key)
        if entry is None or entry[0] is not fn:
            entry = (fn, TangentFunction(fn, jit=jit))
            _TANGENTS[key] = entry
    return entry[1]


# How the pipeline gets tangent code for a derivative called inside a function it
# differentiates (nested.py): passed to generate() by its callers.
TANGENTS = TangentSource(
    source=lambda fn, types, wrt: tangent_function(fn, True).tangent_source(types, wrt),
    load=lambda fn, types, wrt, text: module_for_second_order(tangent_function(fn, True),
                                                               types, wrt, text))
