"""The public API: grad, value_and_grad, show, stop_gradient."""

from __future__ import annotations

import functools
import inspect
import threading

import numpy as np
from numba import types as nbtypes
from numba.core.errors import NumbaError
from numba.extending import register_jitable

from .capture import unwrap
from .errors import UsageError
from .infer import arg_type_of
from .pipeline import Built, InternalError, build, front


@register_jitable
def stop_gradient(x):
    """Identity in the forward pass; no gradient flows through it."""
    return x


def _resolve_wrt(wrt, params: list[str], name: str, fn=None) -> tuple[list[int], bool]:
    single = not isinstance(wrt, (tuple, list))
    items = [wrt] if single else list(wrt)
    if not items:
        raise UsageError("wrt is empty; name at least one parameter")
    indices = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise UsageError(f"wrt must be an int, a parameter name, or a tuple of those; "
                             f"got {item!r}")
        if isinstance(item, str):
            if item not in params:
                code = getattr(fn, "__code__", None)
                if code is not None and item in code.co_freevars + code.co_names:
                    kind = "a closure variable" if item in code.co_freevars else "a global"
                    raise UsageError(
                        f"wrt={item!r} is {kind} of {name}, not a parameter: srcgrad reads "
                        f"it as a constant and gives it no gradient. To differentiate with "
                        f"respect to it, make it a parameter of {name} and pass it in")
                raise UsageError(f"wrt={item!r} names no parameter of {name}; its parameters "
                                 f"are {', '.join(params) or '(none)'}")
            index = params.index(item)
        else:
            if not -len(params) <= item < len(params):
                raise UsageError(f"wrt={item} is out of range: {name} has {len(params)} "
                                 f"parameter(s) ({', '.join(params) or 'none'})")
            index = item % len(params)
        if index in indices:
            raise UsageError(f"wrt names parameter {params[index]!r} twice")
        indices.append(index)
    return indices, single


_TAPE_DTYPES = {"f": np.float64, "i": np.int64, "b": np.bool_}
_FLAGS_NOT_OWNDATA = ~0x4   # every ndarray.flags bit but NPY_ARRAY_OWNDATA
_KEYED = (float, int, bool, np.float64, np.float32, np.int64, np.int32)
KEEP_TAPE_BYTES = 1 << 30  # tape buffers larger than this are freed after each call


class _Tapes(threading.local):
    """The tape buffers of one gradient function, kept between calls (one set per
    thread), so that a steady state writes into memory that is already mapped.
    A call whose tapes are too small returns early (tape bytes -1) with the sizes
    it needed (see runtime.py); it is then run again on buffers that fit."""

    def __init__(self) -> None:
        self.bufs: dict[str, np.ndarray] = {}       # kind -> buffer
        self.sets: dict[str, tuple] = {}            # kinds -> the buffers, in order

    def run(self, built: Built, args: tuple, seed):
        kinds = built.tapes
        if not kinds:
            value, grads, nbytes, _ = built.fn(*args, seed)
            return value, grads, nbytes
        bufs = self.sets.get(kinds)
        if bufs is None:
            bufs = tuple(self.bufs[k] if k in self.bufs else np.empty(4096, _TAPE_DTYPES[k])
                         for k in kinds)
            self.sets[kinds] = bufs
        value, grads, nbytes, tops = built.fn(*args, seed, *bufs)
        if nbytes >= 0:
            return value, grads, nbytes
        need = [int(tops["fib".index(k)]) for k in kinds]
        bufs = tuple(b if n <= len(b) else np.empty(n + n // 8, _TAPE_DTYPES[k])
                     for k, n, b in zip(kinds, need, bufs))
        value, grads, nbytes, tops = built.fn(*args, seed, *bufs)
        if nbytes < 0:
            raise RuntimeError("srcgrad internal error: the forward sweep pushed more on a "
                               "second run with the same arguments")
        self.sets.clear()
        if sum(b.nbytes for b in bufs) <= KEEP_TAPE_BYTES:
            self.bufs.update(zip(kinds, bufs))
            self.sets[kinds] = bufs
        else:
            self.bufs.clear()
        return value, grads, nbytes


def _numba_rejected(exc: Exception, cap) -> InternalError:
    """Numba refused to compile a generated adjoint that type inference accepted:
    a srcgrad bug, reported as one (a SrcgradError), with Numba's message."""
    import re
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
    return InternalError(
        f"srcgrad failed in stage 'compile': Numba rejected the generated adjoint of "
        f"{cap.name} ({cap.filename}): {' '.join(line.strip() for line in text[:6])}. This is "
        f"a bug in srcgrad; please report it with the function. grad(..., jit=False) runs the "
        f"same source as plain Python meanwhile")


def note_user_line(exc: Exception, fn, linemap: list, cap, call: tuple | None = None,
                   what: str = "adjoint") -> None:
    """An exception raised inside generated function `fn`: note the user's line the
    failing generated line came from (`linemap`, the emitter's line map). Compiled code
    keeps no traceback, so it is located by running the same generated source
    uncompiled on copies of `call` (the generated function's arguments): nothing is
    spent unless something raised."""
    located: BaseException | None = exc
    if hasattr(fn, "py_func"):
        if call is None:
            return
        fn = fn.py_func
        located = _rerun_uncompiled(fn, call)
        if located is None:
            exc.add_note("srcgrad: compiled code raised this; the same generated code run "
                         "uncompiled (jit=False) on these arguments does not, so no line of "
                         "yours is known")
            return
    code = getattr(fn, "__code__", None)
    if code is None:
        return
    line = None
    tb = located.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == code.co_filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None or not 1 <= line <= len(linemap) or linemap[line - 1] is None:
        return
    src = linemap[line - 1]
    filename = getattr(src, "file", cap.filename)
    text = getattr(src, "text", None) or cap.line_text(int(src))
    exc.add_note(f"srcgrad: raised at line {line} of the generated {what}, which comes from "
                 f"{filename}:{int(src)}: {text}")


def _rerun_uncompiled(py_func, call: tuple) -> BaseException | None:
    """The exception the uncompiled generated function raises on copies of `call`."""
    copies = tuple(np.copy(a) if isinstance(a, np.ndarray) else a for a in call)
    try:
        py_func(*copies)
    except Exception as again:  # noqa: BLE001 - whatever it is, it locates the line
        return again
    return None


def _adjoint_call(built: Built, args: tuple, seed) -> tuple:
    """The arguments of a generated adjoint: the function's, the seed, fresh tapes."""
    return tuple(args) + (seed,) + tuple(np.empty(4096, _TAPE_DTYPES[k]) for k in built.tapes)


class GradFunction:
    """The gradient of a scalar function, generated as source and compiled.

    Calling it returns the gradient (or ``(value, gradient)`` for
    ``value_and_grad``). ``.source`` is the generated adjoint module.
    """

    _mode = "grad"

    def __init__(self, fn, wrt=0, jit: bool = True, with_value: bool = False) -> None:
        self._cap = front(fn)
        self._fn = unwrap(fn)
        self._signature = inspect.signature(self._fn)
        self._params = list(self._cap.params)
        self._wrt, self._single = _resolve_wrt(wrt, self._params, self._cap.name, self._fn)
        self._wrt_names = [self._params[i] for i in self._wrt]
        self._jit = jit
        self._with_value = with_value
        self._specs: dict[tuple, Built] = {}
        # Python-scalar argument types -> (compiled function, convert gradients?)
        self._fast: dict[tuple, tuple] = {}
        self._last: Built | None = None
        self._lock = threading.Lock()
        self._tapes = _Tapes()
        functools.update_wrapper(self, self._fn)

    def __repr__(self) -> str:
        kind = "value_and_grad" if self._with_value else "grad"
        return f"<srcgrad.{kind} of {self._cap.name} wrt {', '.join(self._wrt_names)}>"

    # arguments -------------------------------------------------------------

    def _bind(self, args: tuple, kwargs: dict) -> tuple:
        if not kwargs and len(args) == len(self._params):
            return args
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise UsageError(f"{self._cap.name}(): {exc}") from None
        bound.apply_defaults()
        return tuple(bound.arguments[p] for p in self._params)

    def _types(self, args: tuple) -> tuple:
        types = tuple(arg_type_of(a) for a in args)
        for i in self._wrt:
            typ = types[i]
            if isinstance(typ, nbtypes.Array) and isinstance(typ.dtype, nbtypes.Float):
                continue
            if not isinstance(typ, nbtypes.Float):
                hint = " (write 2.0, not 2)" if isinstance(typ, nbtypes.Integer) else ""
                if isinstance(typ, nbtypes.Array):
                    hint = " (convert it with .astype(np.float64))"
                raise UsageError(
                    f"cannot differentiate with respect to {self._params[i]!r}: it is "
                    f"{typ}, not a float or a float array{hint}. Pass floats, or leave it "
                    "out of wrt")
        return types

    def _specialize(self, types: tuple) -> Built:
        built = self._specs.get(types)
        if built is None:
            with self._lock:
                built = self._specs.get(types)
                if built is None:
                    built = build(self._cap, types, self._wrt_names, self._jit, self._mode)
                    self._specs[types] = built
        self._last = built
        return built

    def _run(self, args: tuple, kwargs: dict, seed=1.0):
        if kwargs or len(args) != len(self._params):
            args = self._bind(args, kwargs)
        # A cheap key for the argument types (numba.typeof and hashing Numba types
        # cost microseconds, which is most of a small call): Python scalars by their
        # class, arrays by dtype, rank and flags (contiguity, writeable), not by
        # whether they own their data.
        key = tuple([(a.dtype, a.ndim, a.flags.num & _FLAGS_NOT_OWNDATA)
                     if type(a) is np.ndarray else type(a) for a in args])
        fast = self._fast.get(key)
        if fast is None:
            built = self._specialize(self._types(args))
            # Gradients that need the type of their argument: compiled, a float
            # argument's is a float and an array's is already an array of its shape
            # and dtype (the adjoint allocates it so); NumPy scalars need converting.
            convert = any(not (self._jit and (key[i] is float or type(key[i]) is tuple))
                          for i in self._wrt) and not all(t in (float, int, bool) for t in key)
            fast = (built, convert)
            # other objects (tuples, NumPy scalars...) take the slow path every time
            if all(t in _KEYED or type(t) is tuple for t in key):
                self._fast[key] = fast
        built, convert = fast
        self._last = built
        try:
            if built.tapes:
                value, grads, tape_bytes = self._tapes.run(built, args, seed)
            else:
                value, grads, tape_bytes, _ = built.fn(*args, seed)
        except NumbaError as exc:
            raise _numba_rejected(exc, self._cap) from exc
        except Exception as exc:
            note_user_line(exc, built.fn, built.linemap, self._cap,
                           _adjoint_call(built, args, seed))
            raise
        if convert:
            grads = tuple([_like(args[i], g) for i, g in zip(self._wrt, grads)])
        elif not self._jit:
            grads = tuple(float(g) for g in grads)
        return value, (grads[0] if self._single else grads), tape_bytes

    def __call__(self, *args, **kwargs):
        value, grads, _ = self._run(args, kwargs)
        if self._with_value:
            return _like_value(value), grads
        return grads

    # inspection ------------------------------------------------------------

    def tape_bytes(self, *args, **kwargs) -> int:
        """Bytes of tape the gradient uses at these arguments."""
        return int(self._run(args, kwargs)[2])

    def source_for(self, *args, **kwargs) -> str:
        """The generated adjoint module for arguments like these (no compile)."""
        from .pipeline import generate
        types = self._types(self._bind(args, kwargs))
        if types in self._specs:
            return self._specs[types].source
        return generate(self._cap, types, self._wrt_names, self._mode).source

    @property
    def source(self) -> str:
        """The generated adjoint module: for the last call's argument types, or for
        float64 arguments before the first call."""
        if self._last is not None:
            return self._last.source
        from .pipeline import generate
        return generate(self._cap, self._preview_types(), self._wrt_names, self._mode).source

    def _preview_types(self) -> tuple:
        """Argument types to show source for before any call: from annotations
        (int, float, bool) or default values, else float64."""
        types = []
        for name in self._params:
            param = self._signature.parameters[name]
            hint = param.annotation
            if hint in (int, "int") or (hint is param.empty and type(param.default) is int):
                types.append(nbtypes.int64)
            elif hint in (bool, "bool") or type(param.default) is bool:
                types.append(nbtypes.boolean)
            else:
                types.append(nbtypes.float64)
        return tuple(types)


def _like(arg, g):
    """A gradient with the type of its argument."""
    if isinstance(arg, np.ndarray):
        if type(g) is np.ndarray and g.dtype == arg.dtype and g.shape == arg.shape:
            return g
        return np.asarray(g, dtype=arg.dtype).reshape(arg.shape)
    if isinstance(arg, np.floating):
        return type(arg)(g)
    return float(g)


def _like_value(value):
    if isinstance(value, (np.floating, float)):
        return float(value) if not isinstance(value, np.float32) else value
    return value


class VJPFunction(GradFunction):
    """Compiled primal and adjoint for vector-Jacobian products (see `vjp`)."""

    _mode = "vjp"

    def __call__(self, *args, **kwargs):
        raise UsageError("use srcgrad.vjp(f, *args) to get (value, pullback)")

    def value_and_pullback(self, args: tuple, kwargs: dict):
        if kwargs or len(args) != len(self._params):
            args = self._bind(args, kwargs)
        # Keep the arguments as they are now: the pullback reruns the forward sweep.
        args = tuple(np.copy(a) if isinstance(a, np.ndarray) else a for a in args)
        built = self._specialize(self._types(args))
        try:
            value = built.primal(*args)
        except Exception as exc:
            note_user_line(exc, built.primal, built.linemap, self._cap, args, "function")
            raise

        def pullback(cotangent):
            ct = _check_cotangent(cotangent, value)
            try:
                _, grads, _ = self._tapes.run(built, args, ct)
            except Exception as exc:
                note_user_line(exc, built.fn, built.linemap, self._cap,
                               _adjoint_call(built, args, ct))
                raise
            grads = tuple(_like(args[i], g) for i, g in zip(self._wrt, grads))
            return grads[0] if self._single else grads

        return value, pullback


def _check_cotangent(ct, value):
    if isinstance(value, tuple):  # a function returning several values: one each
        if not isinstance(ct, (tuple, list)) or len(ct) != len(value):
            raise UsageError(f"the function returns a tuple of {len(value)} values; pass a "
                             f"tuple of {len(value)} cotangents, one per value")
        return tuple(_check_cotangent(c, v) for c, v in zip(ct, value))
    if isinstance(value, np.ndarray):
        ct = np.asarray(ct, dtype=value.dtype)
        if ct.shape != value.shape:
            raise UsageError(f"the cotangent has shape {ct.shape}, but the function's value "
                             f"has shape {value.shape}; pass an array of the value's shape")
        return np.ascontiguousarray(ct)
    if isinstance(ct, np.ndarray) and ct.shape != ():
        raise UsageError(f"the function's value is a scalar; pass a scalar cotangent, not an "
                         f"array of shape {ct.shape}")
    return float(ct)


_VJP_CACHE: dict = {}


def vjp(fn, *args, wrt=0, jit: bool = True, **kwargs):
    """``value, pullback = vjp(f, *args)``: f's value at args, and a function mapping a
    cotangent (an array of the value's shape, or a float) to gradients with respect to
    `wrt` (one for an int or name, a tuple for a tuple), as ``grad`` returns them.

    This is the ``y.backward(gradient)`` of PyTorch and ``jax.vjp`` of JAX. The pullback
    reruns the compiled forward sweep with the saved arguments.
    """
    key = (id(fn), repr(wrt), jit)
    entry = _VJP_CACHE.get(key)
    if entry is None or entry[0] is not fn:
        entry = (fn, VJPFunction(fn, wrt=wrt, jit=jit))
        _VJP_CACHE[key] = entry
    return entry[1].value_and_pullback(args, kwargs)


def _decorator(fn, wrt, jit, with_value):
    if fn is None:
        return lambda f: GradFunction(f, wrt=wrt, jit=jit, with_value=with_value)
    from .higher import DerivativeGrad
    if isinstance(fn, (GradFunction, DerivativeGrad)) and not with_value:
        return DerivativeGrad(fn, wrt, jit)
    if isinstance(fn, (int, str, tuple, list)) and not callable(fn):
        raise UsageError(f"grad() takes the function first; to choose parameters write "
                         f"grad(f, wrt={fn!r}) or @grad(wrt={fn!r})")
    return GradFunction(fn, wrt=wrt, jit=jit, with_value=with_value)


def grad(fn=None, wrt=0, *, jit: bool = True):
    """The gradient of scalar-valued `fn` with respect to parameter(s) `wrt`.

    `wrt` is a position, a name, or a tuple of those (then a tuple of
    gradients comes back in that order). Works as ``grad(f)``, ``@grad`` and
    ``@grad(wrt=(0, 1))``. ``jit=False`` runs the same generated source as plain
    Python, for stepping through with pdb.
    """
    return _decorator(fn, wrt, jit, with_value=False)


def value_and_grad(fn=None, wrt=0, *, jit: bool = True):
    """Like grad, but the returned function gives ``(value, gradient)``."""
    return _decorator(fn, wrt, jit, with_value=True)


def show(g, mode: str = "rev", args: tuple | None = None) -> None:
    """Print generated source: the adjoint of a grad / value_and_grad function (and of
    a grad of a grad); with ``mode="fwd"``, the tangent module ``jvp`` compiles for a
    plain function `g`. ``args``: example arguments, for their types (default: floats)."""
    from .higher import DerivativeGrad, TangentFunction
    if mode == "fwd":
        if isinstance(g, (GradFunction, DerivativeGrad)) or not callable(g):
            raise UsageError("show(f, mode='fwd') takes the function itself, not its grad")
        tangent = TangentFunction(g, jit=False)
        if args is None:
            args = tuple(1.0 for _ in tangent._params)
        print(tangent.source_for(*args))
        return
    if isinstance(g, DerivativeGrad):
        print(g.source_for(*(args if args is not None else (1.0,) * len(g._params()))))
        return
    if not isinstance(g, GradFunction):
        raise UsageError(f"show() takes a function made by srcgrad.grad, got {g!r}")
    print(g.source_for(*args) if args is not None else g.source)
