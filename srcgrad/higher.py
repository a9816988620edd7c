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

from .compiler.containers import Arguments, Container, is_container
from .compiler.infer import arg_type_of
from .compiler.tangent import module_for_second_order, tangent_function
from .errors import UsageError
from .gradfn import GradFunction, VJPFunction


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
    return tangent_function(fn, jit)(tuple(primals), tuple(tangents), wrt)


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
        self._tangent = tangent_function(fn, jit)
        self._params = self._tangent.params
        self._vjp: VJPFunction | None = None
        self._wrt = tuple(self._params.index(w) if isinstance(w, str) else int(w)
                          for w in ((wrt,) if self._single else wrt))

    def __call__(self, *args, **kwargs):
        args = self._tangent.bind(args, kwargs)
        types = self._tangent.types(args)
        view = Arguments(args, types, self._wrt)
        for i in self._wrt:   # a list of numbers is an array here, as NumPy takes it
            if isinstance(args[i], list) and all(isinstance(v, (int, float)) for v in args[i]):
                args = args[:i] + (np.asarray(args[i], dtype=np.float64),) + args[i + 1:]
                types = self._tangent.types(args)
                view = Arguments(args, types, self._wrt)
        if self._tangent.output(types, self._wrt) is not None:
            raise UsageError("jacobian of a function that returns a list, a dict or nested "
                             "tuples: take the jacobian of each of its values (a function "
                             "returning that one), or use vjp and jvp, which take them")
        mode = self._mode
        if mode == "auto":
            _, fn, _ = self._tangent.spec(types, self._wrt)
            value, _ = fn(*view.flat, *(_zero(view.flat[k]) for k in view.slots))
            n_in = sum(_size(view.flat[k]) for k in view.slots)
            mode = "fwd" if n_in <= _size(value) else "rev"
        per_slot = self._forward(view) if mode == "fwd" else self._reverse(view)
        out = view.regroup(per_slot)
        return out[0] if self._single else tuple(out)

    def _forward(self, view: Arguments) -> list:
        """One Jacobian per differentiated leaf: one jvp per coordinate of it."""
        _, fn, _ = self._tangent.spec(view.types, self._wrt)
        zeros = [_zero(view.flat[k]) for k in view.slots]
        results = []
        for s, k in enumerate(view.slots):
            x = view.flat[k]
            cols = []
            value = None
            for c in range(_size(x)):
                ts = zeros[:s] + [_basis(x, c)] + zeros[s + 1:]
                value, t = fn(*view.flat, *ts)
                cols.append(np.asarray(t, dtype=np.float64))
            if value is None:
                value, _ = fn(*view.flat, *zeros)
            vshape = np.shape(value)
            jac = np.stack(cols, axis=-1) if cols else np.zeros(vshape + (0,))
            results.append(jac.reshape(vshape + np.shape(x)))
        return results

    def _reverse(self, view: Arguments) -> list:
        """One Jacobian per differentiated leaf: one pullback per coordinate of the value."""
        if self._vjp is None:
            self._vjp = VJPFunction(self._fn, wrt=self._wrt, jit=self._jit)
        value, pullback = self._vjp.value_and_pullback(view.args, {})
        vshape = np.shape(value)
        rows: list[list] = [[] for _ in view.slots]
        for c in range(max(_size(value), 1) if vshape else 1):
            ct = _basis(np.asarray(value, dtype=np.float64), c) if vshape else 1.0
            grads = pullback(ct)
            flat = view.split(list(grads) if isinstance(grads, tuple) else [grads],
                              "a gradient")
            for r, g in zip(rows, flat):
                r.append(np.asarray(g, dtype=np.float64))
        return [np.stack(r, axis=0).reshape(vshape + np.shape(view.flat[k]))
                for k, r in zip(view.slots, rows)]


def _zero(x):
    return np.zeros_like(x) if isinstance(x, np.ndarray) else 0.0


def jacobian(fn, wrt=0, mode: str = "auto", *, jit: bool = True) -> JacobianFunction:
    """The Jacobian of `fn` with respect to argument(s) `wrt`, as a function of the
    arguments. Its shape is the value's shape followed by the argument's shape.
    ``mode="fwd"``: one jvp per input coordinate; ``"rev"``: one pullback per output
    coordinate; ``"auto"``: the one with fewer sweeps."""
    return JacobianFunction(fn, wrt=wrt, mode=mode, jit=jit)


# second order ---------------------------------------------------------------

class HVPFunction:
    """``hvp(f)(*args, v)``: the Hessian of scalar f in argument `wrt` times v."""

    def __init__(self, fn, wrt=0, jit: bool = True, tape_limit=None) -> None:
        if not isinstance(wrt, (int, str)):
            raise UsageError("hvp and hessian take one argument to differentiate (wrt=0)")
        self._limit = tape_limit   # the reverse sweep over the tangent (tapelimit.py)
        self._tangent = tangent_function(fn, jit)
        self._params = self._tangent.params
        self._i = self._params.index(wrt) if isinstance(wrt, str) else int(wrt)
        self._jit = jit
        self._grads: dict = {}
        self._lock = threading.Lock()

    def _grad_for(self, args) -> GradFunction:
        types = self._tangent.types(args)
        key = types
        g = self._grads.get(key)
        if g is None:
            with self._lock:
                g = self._grads.get(key)
                if g is None:
                    module = module_for_second_order(self._tangent, types, (self._i,))
                    name = self._tangent.cap.name
                    wrapper = getattr(module, f"{name}_tangent")
                    # a container argument: the wrapper takes its leaves
                    slots = Arguments(args, types, (self._i,)).slots
                    wrt = self._i if not isinstance(types[self._i], Container) \
                        else tuple(slots)
                    g = GradFunction(wrapper, wrt=wrt, jit=self._jit,
                                     tape_limit=self._limit)
                    self._grads[key] = g
        return g

    def __call__(self, *args, **kwargs):
        *args, v = args
        args = self._tangent.bind(tuple(args), kwargs)
        x = args[self._i]
        if is_container(x):
            return self._container_hvp(args, v)
        if isinstance(x, np.ndarray):
            v = np.array(np.broadcast_to(np.asarray(v, dtype=x.dtype), x.shape), order="C")
        else:
            v = float(v)
        return self._grad_for(args)(*args, v)

    def _container_hvp(self, args: tuple, v):
        """H v for a tuple, list or dict argument: v and the result have its structure."""
        types = self._tangent.types(args)
        view = Arguments(args, types, (self._i,))
        try:
            vs = view.split([v], "the vector v")
        except TypeError as exc:
            raise UsageError(f"hvp: {exc}") from None
        return view.regroup(self.flat_hvp(view, vs))[0]

    def flat_hvp(self, view: Arguments, vs: list) -> list:
        """H v with v and the result given per differentiated leaf (view.slots)."""
        leaves = [np.array(np.broadcast_to(np.asarray(t, dtype=view.flat[k].dtype),
                                           view.flat[k].shape), order="C")
                  if isinstance(view.flat[k], np.ndarray) else float(t)
                  for k, t in zip(view.slots, vs)]
        grads = self._grad_for(view.args)(*view.flat, *leaves)
        return list(grads) if isinstance(grads, tuple) else [grads]


def hvp(fn, wrt=0, *, jit: bool = True, tape_limit=None) -> HVPFunction:
    """The Hessian-vector product of scalar `fn`: ``hvp(f)(*args, v)`` is H v, with H
    the Hessian in argument `wrt`. Reverse mode over forward mode: about the cost of
    two gradients, whatever the size of the argument. ``tape_limit`` bounds the reverse
    sweep's memory as for ``grad``."""
    return HVPFunction(fn, wrt=wrt, jit=jit, tape_limit=tape_limit)


def hessian(fn, wrt=0, *, jit: bool = True, tape_limit=None):
    """The Hessian of scalar `fn` in argument `wrt`, as a function of the arguments:
    one Hessian-vector product per coordinate (shape: the argument's shape twice)."""
    h = HVPFunction(fn, wrt=wrt, jit=jit, tape_limit=tape_limit)

    def hessian_of(*args, **kwargs):
        args = h._tangent.bind(args, kwargs)
        x = args[h._i]
        if is_container(x):
            return _container_hessian(h, args)
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


def _container_hessian(h: HVPFunction, args: tuple):
    """The Hessian in a tuple, list or dict argument, as JAX gives it: the argument's
    structure of (its structure of blocks), block [a][b] of shape a.shape + b.shape."""
    types = h._tangent.types(args)
    view = Arguments(args, types, (h._i,))
    leaves = [view.flat[k] for k in view.slots]
    zeros = [_zero(x) for x in leaves]
    blocks = []
    for s, x in enumerate(leaves):
        rows = []
        for c in range(_size(x)):
            hv = h.flat_hvp(view, zeros[:s] + [_basis(x, c)] + zeros[s + 1:])
            rows.append([np.asarray(g, dtype=np.float64) for g in hv])
        row_blocks = []
        for t, y in enumerate(leaves):
            block = np.stack([r[t] for r in rows], axis=0).reshape(np.shape(x) + np.shape(y))
            row_blocks.append(float(block) if block.shape == () else block)
        blocks.append(view.regroup(row_blocks)[0])
    return view.regroup(blocks)[0]


def _compiled_rows(h: HVPFunction, args: tuple, x: np.ndarray, rows: np.ndarray) -> int:
    """Rows 1.. of the Hessian from one compiled loop over the basis vectors, calling
    the compiled Hessian-vector product directly (a Python call per row costs more
    than the row on small problems). The first row, already computed from Python, sized
    the tapes; the tangent never changes control flow, so every row needs the same
    tape. Returns how many rows are done (all, unless a tape overflowed anyway)."""
    g = h._grad_for(args)
    full = g._bind(tuple(args) + (_basis(x, 0),), {})
    built = g._specialize(g._types(full))
    if built.checkpointed:   # its tapes are sized per call (tapelimit.py): row by row
        return 1
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
                    tangent = tangent_function(inner._fn, inner._jit)
                    module = module_for_second_order(tangent, types, (i,))
                    wrapper = getattr(module, f"{tangent.cap.name}_d1")
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
