"""The derivative objects: GradFunction (grad, value_and_grad) and VJPFunction (vjp).

A GradFunction holds one user function, captured and fenced when it is made; each new
combination of argument types gets its generated adjoint (compiler.pipeline.build) once,
kept with the tape buffers it last needed. Calling it binds the arguments, looks up the
compiled adjoint by a cheap key of their types, runs it, and returns the gradients in
the types of their arguments.
"""

from __future__ import annotations

import functools
import inspect
import threading

import numpy as np
from numba import typeof
from numba import types as nbtypes
from numba.core.errors import NumbaError

from .compiler.capture import DERIVATIVE, unwrap
from .compiler.containers import Arguments, Container, flatten_like, is_container, \
    is_float_type, rebuild
from .compiler.infer import argument_type
from .compiler.jit import announce_slow, note_user_line, njit_wrapper
from .compiler.nested import DerivativeSpec
from .compiler.pipeline import Built, build, front, generate
from .compiler.tangent import TANGENTS
from .errors import SrcgradError, UsageError, numba_rejected
from .tapelimit import Checkpointed, TapeInfo, TapeTooLarge, default_limit, parse_limit


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
                owner = getattr(fn, "__self__", None)
                if owner is not None and hasattr(owner, item):
                    raise UsageError(
                        f"wrt={item!r} is an attribute of the object {name} is a method of, "
                        f"not a parameter: srcgrad reads self.{item} as a constant. To "
                        f"differentiate with respect to it, give the method a parameter "
                        f"{item} and pass self.{item} in")
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


def _names_of(wrt, free: list[str], name: str):
    """wrt given by positions among a functools.partial's free parameters, as names."""
    single = not isinstance(wrt, (tuple, list))
    out = []
    for w in ([wrt] if single else wrt):
        if isinstance(w, int) and not isinstance(w, bool):
            if not -len(free) <= w < len(free):
                raise UsageError(f"wrt={w} is out of range: the partial of {name} leaves "
                                 f"{len(free)} parameter(s) free ({', '.join(free) or 'none'})")
            w = free[w]
        out.append(w)
    return out[0] if single else tuple(out)


_TAPE_DTYPES = {"f": np.float64, "i": np.int64, "b": np.bool_}
_TAPE_TYPES = {k: typeof(np.empty(1, d))
               for k, d in _TAPE_DTYPES.items()}
_NDARRAY = np.ndarray
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

    def run(self, built: Built, args: tuple, seed, unlimited: bool = False):
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
        limit = None if unlimited else default_limit()
        if limit is not None and sum(n * _TAPE_DTYPES[k]().itemsize
                                     for k, n in zip(kinds, need)) > limit:
            raise TapeTooLarge(limit)
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


def _adjoint_call(built: Built, args: tuple, seed) -> tuple:
    """The arguments of a generated adjoint: the function's, the seed, fresh tapes (and
    a checkpoint array with no room, for a checkpointed adjoint)."""
    ckp = (np.array([1 << 40, 1] + [0] * 14, np.int64),) if built.checkpointed else ()
    return tuple(args) + (seed,) + tuple(np.empty(4096, _TAPE_DTYPES[k])
                                         for k in built.tapes) + ckp


class GradFunction:
    """The gradient of a scalar function, generated as source and compiled.

    Calling it returns the gradient (or ``(value, gradient)`` for
    ``value_and_grad``). ``.source`` is the generated adjoint module.
    """

    _mode = "grad"
    srcgrad_role = DERIVATIVE   # what compiler.capture recognises: a derivative to nest

    def __init__(self, fn, wrt=0, jit: bool = True, with_value: bool = False,
                 tape_limit=None) -> None:
        # functools.partial: the function it wraps, with the bound arguments passed on
        # every call (constants, unless wrt names them)
        self._partial = fn if isinstance(fn, functools.partial) else None
        base = fn.func if self._partial is not None else fn
        self._cap = front(base)
        self._fn = unwrap(base)
        self._signature = inspect.signature(self._fn)
        self._params = list(self._cap.params)
        if self._partial is not None:
            free = list(inspect.signature(fn).parameters)
            if isinstance(wrt, int) or (isinstance(wrt, (tuple, list))
                                        and any(isinstance(w, int) for w in wrt)):
                # positions count the parameters the partial leaves free
                wrt = _names_of(wrt, free, self._cap.name)
        self._wrt, self._single = _resolve_wrt(wrt, self._params, self._cap.name, self._fn)
        self._wrt_names = [self._params[i] for i in self._wrt]
        self._jit = jit
        self._with_value = with_value
        self._specs: dict[tuple, Built] = {}
        # Python-scalar argument types -> (compiled function, convert gradients?)
        self._fast: dict[tuple, tuple] = {}
        self._seen: set = set()     # argument-type keys already called once
        self._calls: dict[tuple, object] = {}   # key -> the whole call (_runner)
        self._last: Built | None = None
        self._lock = threading.Lock()
        self._tapes = _Tapes()
        # tape_limit: loops run checkpointed within that many bytes (tapelimit.py)
        limit = parse_limit(tape_limit)
        self._ck = Checkpointed(limit) if limit is not None else None
        # the default: checkpointed specializations made when a tape would not fit
        self._auto: dict[tuple, Built] = {}
        self._auto_ck: Checkpointed | None = None
        functools.update_wrapper(self, self._fn)

    @property
    def spec(self) -> DerivativeSpec:
        """What a call of this derivative inside a differentiated function needs
        (compiler/nested.py): the function, its parameters, wrt, the result's form."""
        return DerivativeSpec(fn=self._fn, name=self._cap.name, params=tuple(self._params),
                              wrt=tuple(self._wrt), single=self._single,
                              with_value=self._with_value)

    def __repr__(self) -> str:
        kind = "value_and_grad" if self._with_value else "grad"
        return f"<srcgrad.{kind} of {self._cap.name} wrt {', '.join(self._wrt_names)}>"

    # arguments -------------------------------------------------------------

    def _bind(self, args: tuple, kwargs: dict) -> tuple:
        if self._partial is not None:
            args = tuple(self._partial.args) + tuple(args)
            kwargs = {**self._partial.keywords, **kwargs}
        elif not kwargs and len(args) == len(self._params):
            return args
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise UsageError(f"{self._cap.name}(): {exc}") from None
        bound.apply_defaults()
        return tuple(bound.arguments[p] for p in self._params)

    def _types(self, args: tuple) -> tuple:
        types = tuple(_arg_type(a, self._params[i]) for i, a in enumerate(args))
        for i in self._wrt:
            typ = types[i]
            if isinstance(typ, nbtypes.Array) and isinstance(typ.dtype, nbtypes.Float):
                continue
            if isinstance(typ, Container):
                if any(is_float_type(t) for _, t in typ.leaves()):
                    continue
                raise UsageError(
                    f"cannot differentiate with respect to {self._params[i]!r}: it is "
                    f"{typ}, which holds no float or float array (write 2.0, not 2). Pass "
                    "floats, or leave it out of wrt")
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
                    built = build(self._cap, types, self._wrt_names, self._jit, self._mode,
                                  TANGENTS, checkpoint=self._ck is not None)
                    self._specs[types] = built
        self._last = built
        return built

    def _run(self, args: tuple, kwargs: dict, seed=1.0):
        if kwargs or len(args) != len(self._params) or self._partial is not None:
            args = self._bind(args, kwargs)
        if any(type(a) in _CONTAINERS for a in args) and any(map(is_container, args)):
            return self._run_containers(args, seed)
        # A cheap key for the argument types (numba.typeof and hashing Numba types
        # cost microseconds, which is most of a small call): Python scalars by their
        # class, arrays by dtype, rank and flags (contiguity, writeable), not by
        # whether they own their data.
        key = tuple([(a.dtype, a.ndim, a.flags.num & _FLAGS_NOT_OWNDATA)
                     if type(a) is np.ndarray else type(a) for a in args])
        fast = self._fast.get(key)
        if fast is None:
            if key in self._seen:   # types the fast path does not keep (NumPy scalars)
                fast = self._prepare(args, key)
            else:                   # new types: generated and compiled now
                self._seen.add(key)
                with announce_slow(self._what, args):
                    return self._finish(self._prepare(args, key), args, seed)
        return self._finish(fast, args, seed)

    def _finish(self, fast: tuple, args: tuple, seed):
        built, convert = fast
        self._last = built
        value, grads, tape_bytes = self._call(built, args, seed)
        if convert:
            grads = tuple([_like(args[i], g) for i, g in zip(self._wrt, grads)])
        elif not self._jit:
            grads = tuple(float(g) for g in grads)
        return value, (grads[0] if self._single else grads), tape_bytes

    def _prepare(self, args: tuple, key: tuple) -> tuple:
        """(the adjoint, convert its gradients?) for arguments of types not seen before:
        generated (or read from the disk cache) and compiled; the fast path keeps it."""
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
            if self._partial is None and len(key) == len(self._params):
                self._calls[key] = self._runner(built, convert)
        return fast

    def _call(self, built: Built, args: tuple, seed) -> tuple:
        """(value, gradients, tape bytes) of the generated adjoint at `args` (as it takes
        them), with errors reported at the user's line."""
        try:
            return self._run_tapes(built, args, seed)
        except SrcgradError:
            raise
        except NumbaError as exc:
            raise numba_rejected(exc, self._cap.name, self._cap.filename) from exc
        except Exception as exc:
            note_user_line(exc, built.fn, built.linemap, self._cap,
                           _adjoint_call(built, args, seed))
            raise

    def _run_tapes(self, built: Built, args: tuple, seed) -> tuple:
        """(value, gradients, tape bytes): the adjoint run on this object's tapes."""
        if built.checkpointed:
            return self._ck.run(built.fn, built.tapes, args, seed)
        if built.tapes:
            try:
                return self._tapes.run(built, args, seed)
            except TapeTooLarge as big:
                # the tape would pass the default limit: run checkpointed within it
                types = self._types_of(built)
                ckb = self._auto.get(types)
                if ckb is None:
                    try:
                        ckb = build(self._cap, types, self._wrt_names, self._jit,
                                    self._mode, TANGENTS, checkpoint=True)
                    except SrcgradError:   # a loop it cannot checkpoint: as before
                        ckb = built
                    self._auto[types] = ckb
                if ckb is built:
                    return self._tapes.run(built, args, seed, unlimited=True)
                if self._auto_ck is None or self._auto_ck.limit != big.limit:
                    self._auto_ck = Checkpointed(big.limit)
                return self._auto_ck.run(ckb.fn, ckb.tapes, args, seed)
        value, grads, tape_bytes, _ = built.fn(*args, seed)
        return value, grads, tape_bytes

    @property
    def _what(self) -> str:
        kind = "value_and_grad" if self._with_value else self._mode
        return f"{kind} of {self._cap.name} wrt {', '.join(self._wrt_names)}"

    def _run_containers(self, args: tuple, seed):
        """A call with tuples, lists or dicts among the arguments: the generated function
        takes their leaves (compiler/containers.py); each container's gradient has its
        structure, with None for a leaf that is not a float or a float array."""
        types = self._types(args)
        if types not in self._specs:
            with announce_slow(self._what, args):
                self._specialize(types)
                return self._run_containers(args, seed)
        built = self._specialize(types)
        view = Arguments(args, types, self._wrt)
        value, grads, tape_bytes = self._call(built, view.flat, seed)
        out = view.regroup([_like(view.flat[k], g) for k, g in zip(view.slots, grads)])
        return value, (out[0] if self._single else tuple(out)), tape_bytes

    def __call__(self, *args, **kwargs):
        if not kwargs:   # argument types called before: one dict lookup, then Numba
            key = tuple(map(type, args))    # _run's key, cheaper when there is no array
            if _NDARRAY in key:
                key = tuple([(a.dtype, a.ndim, a.flags.num & _FLAGS_NOT_OWNDATA)
                             if type(a) is _NDARRAY else type(a) for a in args])
            run = self._calls.get(key)
            if run is not None:
                return run(args)
        value, grads, _ = self._run(args, kwargs)
        if self._with_value:
            return _like_value(value), grads
        return grads

    def _runner(self, built: Built, convert: bool):
        """The whole call for arguments of one key (__call__'s fast path): the compiled
        adjoint and what is taken from its result, with no other Python in between
        where that suffices. An exception is raised again through _call, which names
        the user's line."""
        fn, single, with_value = built.fn, self._single, self._with_value
        if built.tapes or built.checkpointed or convert or not self._jit:
            def run(args):
                value, grads, _ = self._finish((built, convert), args, 1.0)
                return (_like_value(value), grads) if with_value else grads
            return run

        def fail(args):
            self._call(built, args, 1.0)   # raises, with the user's line noted
            raise RuntimeError("srcgrad internal error: the adjoint raised only once")

        if single and not with_value:
            def run(args):
                try:
                    return fn(*args, 1.0)[1][0]
                except Exception:  # noqa: BLE001 - reported by fail()
                    fail(args)
        elif not with_value:
            def run(args):
                try:
                    return fn(*args, 1.0)[1]
                except Exception:  # noqa: BLE001
                    fail(args)
        else:
            def run(args):
                try:
                    out = fn(*args, 1.0)
                except Exception:  # noqa: BLE001
                    fail(args)
                return _like_value(out[0]), (out[1][0] if single else out[1])
        return run

    # ahead of time -----------------------------------------------------------

    def compile(self, *args, **kwargs) -> GradFunction:
        """Generate and compile the derivative for arguments like these now (they are
        not run), and return this object: ``g = srcgrad.grad(f).compile(x0, data)``.
        A later call with arguments of the same types starts at once; with the disk
        caches (docs/performance.md) so does the first call in a later process."""
        args = self._bind(args, kwargs)
        types = self._types(args)
        with announce_slow(self._what, args):
            built = self._specialize(types)
            if self._jit:
                flat = Arguments(args, types, self._wrt).flat
                tapes = tuple(_TAPE_TYPES[k] for k in built.tapes)
                if built.checkpointed:
                    tapes += (nbtypes.int64[::1],)
                if self._mode == "grad":   # a vjp's seed has the type of its value
                    built.fn.compile(tuple(typeof(a) for a in flat) + (nbtypes.float64,)
                                     + tapes)
                if built.primal is not None:
                    built.primal.compile(tuple(typeof(a) for a in flat))
        return self

    @property
    def njit(self):
        """The derivative as a Numba function, to call from your own ``@numba.njit``
        code (an optimizer loop with no Python in it). It takes the arguments as the
        function does (floats and arrays; no keywords) and returns what calling this
        object returns: the gradient, a tuple of them for a tuple wrt, and the value
        first for value_and_grad. It is compiled for the argument types of the last
        call (or ``.compile(...)``); call one of those first."""
        built = self._last
        if self._ck is not None:
            raise UsageError(f"{self!r}.njit is not available with tape_limit: its "
                             "checkpointed reverse sweep is sized from Python at each call")
        if built is None or not self._jit:
            raise UsageError(
                f"{self!r}.njit needs the argument types: call it once, or "
                ".compile(example arguments), with jit=True, before taking .njit")
        if any(isinstance(t, Container) for t in self._types_of(built)):
            raise UsageError(".njit takes floats and arrays (not tuples, lists or dicts): "
                             "pass the leaves as separate arguments")
        sizes = {k: len(b) for k, b in self._tapes.bufs.items()}
        return njit_wrapper(built, len(self._params), self._single, self._with_value, sizes)

    def compiled_for(self) -> list[tuple]:
        """The argument types this derivative has been generated for (Numba types, or
        Containers for tuples, lists and dicts), in the order they came."""
        return list(self._specs)

    def _types_of(self, built: Built) -> tuple:
        for types, b in self._specs.items():
            if b is built:
                return types
        return ()

    # inspection ------------------------------------------------------------

    def tape_bytes(self, *args, **kwargs) -> int:
        """Bytes of tape the gradient uses at these arguments."""
        return int(self._run(args, kwargs)[2])

    def tape_info(self, *args, **kwargs) -> TapeInfo:
        """Run the gradient at these arguments and say what its tape and checkpoints
        took (a gradient made with tape_limit)."""
        if self._ck is None:
            raise UsageError(f"{self!r} has no tape_limit; tape_bytes(...) gives its tape")
        self._run(args, kwargs)
        return self._ck.last

    def source_for(self, *args, **kwargs) -> str:
        """The generated adjoint module for arguments like these (no compile)."""
        types = self._types(self._bind(args, kwargs))
        if types in self._specs:
            return self._specs[types].source
        return generate(self._cap, types, self._wrt_names, self._mode, TANGENTS,
                        checkpoint=self._ck is not None).source

    @property
    def source(self) -> str:
        """The generated adjoint module: for the last call's argument types, or for
        float64 arguments before the first call."""
        if self._last is not None:
            return self._last.source
        return generate(self._cap, self.preview_types(), self._wrt_names, self._mode,
                        TANGENTS, checkpoint=self._ck is not None).source

    def preview_types(self) -> tuple:
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


_CONTAINERS = (tuple, list, dict)


def _arg_type(value, name: str):
    """The Numba type of an argument, or the Container of a tuple, list or dict."""
    return argument_type(value, name)


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
    srcgrad_role = "vjp"   # not nested: its call gives (value, pullback)

    def __call__(self, *args, **kwargs):
        raise UsageError("use srcgrad.vjp(f, *args) to get (value, pullback)")

    def value_and_pullback(self, args: tuple, kwargs: dict):
        if kwargs or len(args) != len(self._params):
            args = self._bind(args, kwargs)
        types = self._types(args)
        view = Arguments(args, types, self._wrt)
        # Keep the arguments as they are now: the pullback reruns the forward sweep.
        flat = tuple(np.copy(a) if isinstance(a, np.ndarray) else a for a in view.flat)
        built = self._specialize(types)
        try:
            value = built.primal(*flat)
        except Exception as exc:
            note_user_line(exc, built.primal, built.linemap, self._cap, flat, "function")
            raise
        shape = built.output   # a returned list, dict or nested tuple: its structure
        flat_value = value

        def pullback(cotangent):
            if shape is not None:
                try:
                    cotangent = tuple(flatten_like(shape, cotangent, "the cotangent"))
                except TypeError as exc:
                    raise UsageError(f"{exc}: one cotangent per value the function "
                                     "returns, in the same structure") from None
            ct = _check_cotangent(cotangent, flat_value)
            try:
                _, grads, _ = self._run_tapes(built, flat, ct)
            except Exception as exc:
                note_user_line(exc, built.fn, built.linemap, self._cap,
                               _adjoint_call(built, flat, ct))
                raise
            out = view.regroup([_like(view.flat[k], g) for k, g in zip(view.slots, grads)])
            return out[0] if self._single else tuple(out)

        if shape is not None:
            value = rebuild(shape, iter(value))
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
