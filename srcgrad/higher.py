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
        self._tangent = tangent_function(fn, jit)
        self._params = self._tangent.params
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
                    module = module_for_second_order(self._tangent, types, (self._i,))
                    name = self._tangent.cap.name
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
