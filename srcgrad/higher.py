"""Forward mode and higher derivatives: jvp, jacobian, hvp, hessian, grad of grad.

Everything here composes source transforms. ``jvp`` compiles the tangent
function that forward.py writes. Second derivatives differentiate generated
source again: the tangent module also holds two small wrappers in srcgrad's
language, ``f_tangent(args, d_w)`` (the tangent alone) and ``f_d1(args)`` (the
tangent along 1.0, for a scalar argument), and reverse mode differentiates
those (``grad`` inlines the tangent function they call). So

* ``hvp(f)(x, v)`` is the gradient of ``x -> f'(x) v``: reverse over forward,
  one sweep of each, whatever the size of x;
* ``hessian(f)(x)`` is one ``hvp`` per coordinate of x;
* ``grad(grad(f))`` for a scalar argument is the gradient of ``f_d1``, and
  ``grad(grad(grad(f)))`` the gradient of the tangent of that, and so on.
"""

from __future__ import annotations

import threading

import numpy as np
from numba.core import types as nbtypes
from numba.core.errors import NumbaError

from .api import GradFunction, VJPFunction, _numba_rejected, note_user_line
from .capture import unwrap
from .errors import MissingRuleError, UsageError
from .infer import arg_type_of
from .pipeline import array_constants, front, generate, run_stage


def _is_float_type(typ) -> bool:
    return isinstance(typ, nbtypes.Float) or (
        isinstance(typ, nbtypes.Array) and isinstance(typ.dtype, nbtypes.Float))


class TangentFunction:
    """The compiled tangent (forward-mode) function of a user function, one
    specialization per argument types and set of differentiated arguments."""

    def __init__(self, fn, jit: bool = True) -> None:
        self._cap = front(fn)
        self._fn = unwrap(fn)
        self._params = list(self._cap.params)
        self._jit = jit
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
                    names = [self._params[i] for i in wrt]
                    gen = generate(self._cap, types, names, "jvp")
                    source = gen.source + _wrappers(gen.func_name, self._params, names, types,
                                                    wrt)
                    entry = self._sources[key] = (source, gen.func_name, gen.linemap)
        return entry[:2]

    def module(self, types: tuple, wrt: tuple[int, ...], source: str | None = None):
        """The tangent module (or `source`, the tangent module and more), imported."""
        from .jit import load_module
        if source is None:
            source = self.tangent_source(types, wrt)[0]
        return load_module(self._cap.name, source, array_constants(self._cap))

    def _build(self, types: tuple, wrt: tuple[int, ...]):
        from .jit import compiled
        source, func_name = self.tangent_source(types, wrt)
        arrays = array_constants(self._cap)
        fn = run_stage("compile", compiled, self._cap.name, source, func_name, self._jit,
                       arrays)
        return source, fn, self.module(types, wrt)

    def source_for(self, *args, wrt=None) -> str:
        types = tuple(arg_type_of(a) for a in args)
        return self.spec(types, self._wrt(types, wrt))[0]

    def _wrt(self, types: tuple, wrt) -> tuple[int, ...]:
        if wrt is None:
            return tuple(i for i, t in enumerate(types) if _is_float_type(t))
        wrt = (wrt,) if isinstance(wrt, (int, str)) else tuple(wrt)
        out = []
        for w in wrt:
            i = self._params.index(w) if isinstance(w, str) else int(w)
            if not _is_float_type(types[i]):
                raise UsageError(f"cannot differentiate {self._cap.name} with respect to "
                                 f"{self._params[i]!r}: it is {types[i]}, not a float or a "
                                 "float array")
            out.append(i)
        return tuple(out)

    def bind(self, args: tuple, kwargs: dict | None = None) -> tuple:
        """All arguments, in parameter order, as Python binds them (defaults filled in,
        keyword-only parameters included)."""
        if not kwargs and len(args) == len(self._params):
            return tuple(args)
        import inspect
        try:
            bound = inspect.signature(self._fn).bind(*args, **(kwargs or {}))
        except TypeError as exc:
            raise UsageError(f"{self._cap.name}(): {exc}") from None
        bound.apply_defaults()
        return tuple(bound.arguments[p] for p in self._params)

    def __call__(self, primals: tuple, tangents: tuple, wrt=None):
        primals, tangents = tuple(primals), tuple(tangents)
        if len(primals) < len(self._params):
            # parameters with defaults: bound as Python binds them, with zero tangents
            tangents = tangents + (0.0,) * (len(self._params) - len(primals))
            primals = self.bind(primals)
        if len(primals) != len(self._params):
            raise UsageError(f"{self._cap.name} takes {len(self._params)} arguments; jvp got "
                             f"{len(primals)} primals")
        types = tuple(arg_type_of(a) for a in primals)
        wrt = self._wrt(types, wrt)
        _, fn, _ = self.spec(types, wrt)
        ts = []
        for i in wrt:
            t = tangents[i]
            p = primals[i]
            if isinstance(p, np.ndarray):
                t = np.array(np.broadcast_to(np.asarray(t, dtype=p.dtype), p.shape))
            else:
                t = float(t)
            ts.append(t)
        try:
            return fn(*primals, *ts)
        except NumbaError as exc:
            raise _numba_rejected(exc, self._cap) from exc
        except Exception as exc:
            linemap = self._sources[(types, wrt)][2]
            note_user_line(exc, fn, linemap, self._cap, tuple(primals) + tuple(ts), "tangent")
            raise


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


def _module_for_second_order(tangent: TangentFunction, types: tuple, wrt: tuple,
                             source: str | None = None):
    """The tangent module (or `source`, which holds it), after checking that reverse mode
    can differentiate it: its tangent rules for max/min reductions, products, maximum,
    clip, abs and where of arrays call runtime helpers that have no derivative rules of
    their own."""
    import re

    from .rules import _RUNTIME_NAMES
    if source is None:
        source = tangent.tangent_source(types, wrt)[0]
    module = tangent.module(types, wrt, source)
    for helper in sorted(_RUNTIME_NAMES):
        if re.search(rf"\b{helper}\(", source):
            primitive = "np." + helper.split("_grad")[0]
            cap = tangent._cap
            raise MissingRuleError(
                f"no second derivative through {primitive} of arrays: its tangent rule "
                f"({helper}) is not differentiable again", cap.filename, cap.tree.lineno, 0,
                hint="write that operation as a loop over elements (srcgrad differentiates "
                     "loops to any order)")
    return module


_TANGENTS: dict = {}
_TANGENTS_LOCK = threading.Lock()


def _tangent_function(fn, jit: bool) -> TangentFunction:
    key = (id(fn), jit)
    with _TANGENTS_LOCK:
        entry = _TANGENTS.get(key)
        if entry is None or entry[0] is not fn:
            entry = (fn, TangentFunction(fn, jit=jit))
            _TANGENTS[key] = entry
    return entry[1]


def jvp(fn, primals, tangents, *, wrt=None, jit: bool = True):
    """``value, tangent = jvp(f, primals, tangents)``: f at `primals` and its
    directional derivative along `tangents`, by forward mode (JAX's ``jax.jvp``).

    `primals` and `tangents` are tuples, one entry per argument of f. Tangents of
    float and float-array arguments are used (an array tangent has its argument's
    shape, or broadcasts to it); those of other arguments (ints, bools) are ignored.
    ``wrt`` limits the differentiated arguments (others' tangents are ignored).
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise UsageError("jvp(f, primals, tangents) takes tuples: jvp(f, (x,), (v,))")
    if len(primals) != len(tangents):
        raise UsageError(f"jvp got {len(primals)} primals and {len(tangents)} tangents; "
                         "pass one tangent per argument")
    return _tangent_function(fn, jit)(tuple(primals), tuple(tangents), wrt)


# jacobian -----------------------------------------------------------------

def _size(x) -> int:
    return int(np.size(x))


def _basis(x, k: int):
    if isinstance(x, np.ndarray):
        e = np.zeros(x.size, dtype=x.dtype)
        e[k] = 1.0
        return e.reshape(x.shape)
    return 1.0


class JacobianFunction:
    def __init__(self, fn, wrt=0, mode: str = "auto", jit: bool = True) -> None:
        if mode not in ("auto", "fwd", "rev"):
            raise UsageError(f"jacobian mode must be 'auto', 'fwd' or 'rev', not {mode!r}")
        self._fn = fn
        self._mode = mode
        self._jit = jit
        self._single = isinstance(wrt, (int, str))
        self._wrt_spec = wrt
        self._tangent = _tangent_function(fn, jit)
        self._params = self._tangent._params
        self._vjp: VJPFunction | None = None
        self._wrt = tuple(self._params.index(w) if isinstance(w, str) else int(w)
                          for w in ((wrt,) if self._single else wrt))

    def __call__(self, *args, **kwargs):
        args = tuple(np.asarray(a, dtype=np.float64) if isinstance(a, list) else a
                     for a in self._tangent.bind(args, kwargs))
        mode = self._mode
        value = None
        if mode == "auto":
            types = tuple(arg_type_of(a) for a in args)
            _, fn, _ = self._tangent.spec(types, self._wrt)
            zeros = [np.zeros_like(args[i]) if isinstance(args[i], np.ndarray) else 0.0
                     for i in self._wrt]
            value, _ = fn(*args, *zeros)
            n_in = sum(_size(args[i]) for i in self._wrt)
            mode = "fwd" if n_in <= _size(value) else "rev"
        out = self._forward(args) if mode == "fwd" else self._reverse(args)
        return out[0] if self._single else out

    def _forward(self, args):
        types = tuple(arg_type_of(a) for a in args)
        _, fn, _ = self._tangent.spec(types, self._wrt)
        results = []
        for i in self._wrt:
            x = args[i]
            cols = []
            value = None
            for k in range(_size(x)):
                ts = [(_basis(x, k) if j == i else np.zeros_like(args[j])
                       if isinstance(args[j], np.ndarray) else 0.0) for j in self._wrt]
                value, t = fn(*args, *ts)
                cols.append(np.asarray(t, dtype=np.float64))
            vshape = np.shape(value)
            jac = np.stack(cols, axis=-1) if cols else np.zeros(vshape + (0,))
            results.append(jac.reshape(vshape + np.shape(x)))
        return tuple(results)

    def _reverse(self, args):
        if self._vjp is None:
            self._vjp = VJPFunction(self._fn, wrt=self._wrt, jit=self._jit)
        value, pullback = self._vjp.value_and_pullback(args, {})
        vshape = np.shape(value)
        rows = [[] for _ in self._wrt]
        for k in range(max(_size(value), 1) if vshape else 1):
            ct = _basis(np.asarray(value, dtype=np.float64), k) if vshape else 1.0
            grads = pullback(ct)
            for r, g in zip(rows, grads):
                r.append(np.asarray(g, dtype=np.float64))
        out = []
        for i, r in zip(self._wrt, rows):
            x = args[i]
            out.append(np.stack(r, axis=0).reshape(vshape + np.shape(x)))
        return tuple(out)


def jacobian(fn, wrt=0, mode: str = "auto", *, jit: bool = True) -> JacobianFunction:
    """The Jacobian of `fn` with respect to argument(s) `wrt`, as a function of the
    arguments. Its shape is the value's shape followed by the argument's shape.
    ``mode="fwd"``: one jvp per input coordinate; ``"rev"``: one pullback per output
    coordinate; ``"auto"``: the one with fewer sweeps."""
    return JacobianFunction(fn, wrt=wrt, mode=mode, jit=jit)


# second order ---------------------------------------------------------------

class HVPFunction:
    """``hvp(f)(*args, v)``: the Hessian of scalar f in argument `wrt` times v."""

    def __init__(self, fn, wrt=0, jit: bool = True) -> None:
        if not isinstance(wrt, (int, str)):
            raise UsageError("hvp and hessian take one argument to differentiate (wrt=0)")
        self._tangent = _tangent_function(fn, jit)
        self._params = self._tangent._params
        self._i = self._params.index(wrt) if isinstance(wrt, str) else int(wrt)
        self._jit = jit
        self._grads: dict = {}
        self._lock = threading.Lock()

    def _grad_for(self, args) -> GradFunction:
        types = tuple(arg_type_of(a) for a in args)
        key = types
        g = self._grads.get(key)
        if g is None:
            with self._lock:
                g = self._grads.get(key)
                if g is None:
                    module = _module_for_second_order(self._tangent, types, (self._i,))
                    name = self._tangent._cap.name
                    wrapper = getattr(module, f"{name}_tangent")
                    g = GradFunction(wrapper, wrt=self._i, jit=self._jit)
                    self._grads[key] = g
        return g

    def __call__(self, *args, **kwargs):
        *args, v = args
        args = self._tangent.bind(tuple(args), kwargs)
        x = args[self._i]
        if isinstance(x, np.ndarray):
            v = np.array(np.broadcast_to(np.asarray(v, dtype=x.dtype), x.shape), order="C")
        else:
            v = float(v)
        return self._grad_for(args)(*args, v)


def hvp(fn, wrt=0, *, jit: bool = True) -> HVPFunction:
    """The Hessian-vector product of scalar `fn`: ``hvp(f)(*args, v)`` is H v, with H
    the Hessian in argument `wrt`. Reverse mode over forward mode: about the cost of
    two gradients, whatever the size of the argument."""
    return HVPFunction(fn, wrt=wrt, jit=jit)


def hessian(fn, wrt=0, *, jit: bool = True):
    """The Hessian of scalar `fn` in argument `wrt`, as a function of the arguments:
    one Hessian-vector product per coordinate (shape: the argument's shape twice)."""
    h = HVPFunction(fn, wrt=wrt, jit=jit)

    def hessian_of(*args, **kwargs):
        args = h._tangent.bind(args, kwargs)
        x = args[h._i]
        if not isinstance(x, np.ndarray):
            return float(h(*args, 1.0))
        n = x.size
        rows = np.empty((n, n), dtype=np.float64)
        rows[0] = np.asarray(h(*args, _basis(x, 0)), dtype=np.float64).ravel()
        done = 1
        if jit and n > 1:
            done = _compiled_rows(h, args, x, rows)
        for k in range(done, n):
            rows[k] = np.asarray(h(*args, _basis(x, k)), dtype=np.float64).ravel()
        return rows.reshape(x.shape + x.shape)

    hessian_of.__name__ = f"hessian_of_{getattr(fn, '__name__', 'f')}"
    return hessian_of


def _compiled_rows(h: HVPFunction, args: tuple, x: np.ndarray, rows: np.ndarray) -> int:
    """Rows 1.. of the Hessian from one compiled loop over the basis vectors, calling
    the compiled Hessian-vector product directly (a Python call per row costs more
    than the row on small problems). The first row, already computed from Python, sized
    the tapes; the tangent never changes control flow, so every row needs the same
    tape. Returns how many rows are done (all, unless a tape overflowed anyway)."""
    g = h._grad_for(args)
    full = g._bind(tuple(args) + (_basis(x, 0),), {})
    built = g._specialize(g._types(full))
    bufs = g._tapes.sets.get(built.tapes, ()) if built.tapes else ()
    if built.tapes and not bufs:
        return 1
    driver = _row_driver(len(full) - 1, h._i, len(bufs))
    return int(driver(built.fn, rows, *full[:-1], *bufs))


_DRIVERS: dict = {}


def _row_driver(nargs: int, i: int, ntapes: int):
    """A compiled loop `drive(fn, rows, a0.., tapes..)` that fills rows[1:] with
    fn(a0.., e_k, 1.0, tapes..)'s gradient, for basis vectors e_k shaped like a_i."""
    key = (nargs, i, ntapes)
    if key not in _DRIVERS:
        import numba
        args = ", ".join(f"a{j}" for j in range(nargs))
        tapes = "".join(f", t{j}" for j in range(ntapes))
        source = (f"def drive(fn, rows, {args}{tapes}):\n"
                  f"    n = a{i}.size\n"
                  f"    for k in range(1, n):\n"
                  f"        e = np.zeros(n, a{i}.dtype)\n"
                  f"        e[k] = 1.0\n"
                  f"        out = fn({args}, e.reshape(a{i}.shape), 1.0{tapes})\n"
                  f"        if out[2] < 0:\n"
                  f"            return k\n"
                  f"        rows[k, :] = out[1][0].ravel()\n"
                  f"    return n\n")
        scope: dict = {"np": np}
        exec(compile(source, f"<srcgrad hessian rows {key}>", "exec"), scope)
        _DRIVERS[key] = numba.njit(error_model="numpy")(scope["drive"])
    return _DRIVERS[key]


class DerivativeGrad:
    """``grad(g)`` for ``g = grad(f)`` (or a ``grad`` of that) with one scalar
    argument: the gradient of f's derivative, by reverse mode over the tangent
    function of the function `g` differentiates."""

    def __init__(self, inner, wrt, jit: bool) -> None:
        if isinstance(inner, GradFunction) and (not inner._single or inner._with_value):
            raise UsageError("grad of a grad needs grad(f) of one argument (wrt an int or a "
                             "name), not value_and_grad or a tuple")
        self._inner = inner
        self._wrt = wrt
        self._jit = jit
        self._grads: dict = {}
        self._lock = threading.Lock()

    def _grad_for(self, args) -> GradFunction:
        types = tuple(arg_type_of(a) for a in args)
        g = self._grads.get(types)
        if g is None:
            with self._lock:
                g = self._grads.get(types)
                if g is None:
                    inner = self._inner if isinstance(self._inner, GradFunction) \
                        else self._inner._grad_for(args)
                    i = inner._wrt[0]
                    if not isinstance(types[i], nbtypes.Float):
                        raise UsageError("grad of a grad differentiates a scalar argument "
                                         "again; for arrays use srcgrad.hessian or hvp")
                    tangent = _tangent_function(inner._fn, inner._jit)
                    module = _module_for_second_order(tangent, types, (i,))
                    wrapper = getattr(module, f"{tangent._cap.name}_d1")
                    g = GradFunction(wrapper, wrt=self._wrt, jit=self._jit)
                    self._grads[types] = g
        return g

    def __call__(self, *args, **kwargs):
        args = self._base()._bind(args, kwargs)
        return self._grad_for(args)(*args)

    def source_for(self, *args, **kwargs) -> str:
        """The generated adjoint of the derivative for these arguments."""
        args = self._base()._bind(args, kwargs)
        return self._grad_for(args).source_for(*args)

    def _base(self) -> GradFunction:
        inner = self._inner
        while not isinstance(inner, GradFunction):
            inner = inner._inner
        return inner

    def _params(self) -> list[str]:
        return self._base()._params
