"""Independent gradient oracles for the srcgrad test-suite.

* :func:`central_fd_grad` -- 4th-order central finite differences (5-point stencil, the
  one formula of ``srcgrad.check.central_difference``).
* :func:`autograd_grad`   -- HIPS autograd run on the *same* source: the function is
  re-created from ``inspect.getsource`` with ``math`` swapped for a shim backed by
  ``autograd.numpy``, all other module globals preserved.
* :func:`assert_close`    -- elementwise ``|a - e| <= atol + rtol * |e|`` with a readable message.

Nothing here runs srcgrad's differentiation (only its finite-difference formula), so the
oracles can be validated on their own.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import textwrap
import types
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from srcgrad.check import central_difference

__all__ = ["FD_REL_STEP", "Case", "as_tuple", "assert_close", "autograd_failure",
           "autograd_grad", "central_fd_grad", "fd_partial", "wrt_indices"]


@dataclasses.dataclass(frozen=True)
class Case:
    """One corpus entry: a module-level function, the points to test it at, and ``wrt``.

    ``wrt`` is passed to srcgrad unchanged: an int, a parameter name, or a tuple of those.
    """

    name: str
    fn: Callable[..., float]
    points: list
    wrt: Any = 0

    def __repr__(self) -> str:  # short ids in pytest output
        return f"Case({self.name})"


# ----------------------------------------------------------------------------- helpers

def wrt_indices(fn: Callable, wrt: Any) -> tuple[int, ...]:
    """Normalise ``wrt`` (int, name, or tuple of those) to a tuple of positional indices."""
    params = list(inspect.signature(fn).parameters)
    items = wrt if isinstance(wrt, tuple) else (wrt,)
    out = []
    for w in items:
        if isinstance(w, str):
            out.append(params.index(w))
        else:
            idx = int(w)
            if idx < 0:
                idx += len(params)
            out.append(idx)
    return tuple(out)


def as_tuple(g: Any) -> tuple:
    """A gradient as a tuple (srcgrad returns a bare float for a single ``wrt``)."""
    return tuple(g) if isinstance(g, (tuple, list)) else (g,)


# ----------------------------------------------------------------------------- finite differences

#: relative FD step: ``h = FD_REL_STEP * max(1, |x|)``. With the 5-point stencil the
#: truncation error is ~h**4 * f^(5) / 30 and the rounding error ~1.5 * eps * |f| / h.
#: 1e-4 keeps both below ~1e-9 relative on the whole corpus (checked against autograd);
#: 1e-3 was too coarse for long product loops (e.g. x**150 terms: 1.6e-6 error).
FD_REL_STEP = 1e-4


def central_fd_grad(fn: Callable[..., float], args: Sequence, wrt: Any = 0,
                    rel_step: float = FD_REL_STEP) -> tuple[float, ...]:
    """Gradient of ``fn`` at ``args`` w.r.t. the float args in ``wrt`` by the 5-point stencil

        f'(x) ~ (f(x - 2h) - 8 f(x - h) + 8 f(x + h) - f(x + 2h)) / (12 h).

    Always returns a tuple (one entry per item of ``wrt``)."""
    args = list(args)
    grads = []
    for i in wrt_indices(fn, wrt):
        x = float(args[i])
        h = rel_step * max(1.0, abs(x))
        # make x + h exactly representable relative to x so the divisor is the true step
        h = (x + h) - x

        def f_at(t: float, i: int = i, x: float = x) -> float:
            a = list(args)
            a[i] = x + t
            return float(fn(*a))

        grads.append(central_difference(f_at, h))
    return tuple(grads)


def fd_partial(fn: Callable[..., float], args: Sequence, i: int, h: float = 1e-6) -> float:
    """d fn / d args[i] at `args` by the 4th-order central difference with step `h`."""
    def f_at(t: float) -> float:
        a = list(args)
        a[i] = a[i] + t
        return float(fn(*a))
    return central_difference(f_at, h)


# ----------------------------------------------------------------------------- autograd oracle

def _autograd_patch() -> None:
    """autograd's ArrayBox has no ``//`` operator; give it the non-differentiable
    ``floor_divide`` (gradient zero, as for Python floats). Only adds missing methods."""
    from autograd.numpy import numpy_wrapper as anp
    from autograd.numpy.numpy_boxes import ArrayBox

    if not hasattr(ArrayBox, "__floordiv__"):
        ArrayBox.__floordiv__ = lambda self, other: anp.floor_divide(self, other)
    if not hasattr(ArrayBox, "__rfloordiv__"):
        ArrayBox.__rfloordiv__ = lambda self, other: anp.floor_divide(other, self)


@functools.cache
def _math_shim() -> types.ModuleType | None:
    """A module that looks like ``math`` to the corpus but computes with autograd.numpy."""
    try:
        import autograd.numpy as anp
    except ImportError:
        return None
    _autograd_patch()

    def _log(x, base=None):
        return anp.log(x) if base is None else anp.log(x) / anp.log(base)

    shim = types.ModuleType("math_autograd_shim")
    # start from real math so constants (pi, e, inf, tau) and anything unmapped stay available
    for k in dir(math):
        if not k.startswith("__"):
            setattr(shim, k, getattr(math, k))
    mapping = {
        "sin": anp.sin, "cos": anp.cos, "tan": anp.tan,
        "asin": anp.arcsin, "acos": anp.arccos, "atan": anp.arctan, "atan2": anp.arctan2,
        "sinh": anp.sinh, "cosh": anp.cosh, "tanh": anp.tanh,
        "asinh": anp.arcsinh, "acosh": anp.arccosh, "atanh": anp.arctanh,
        "exp": anp.exp, "expm1": anp.expm1, "log": _log, "log1p": anp.log1p,
        "log10": anp.log10, "log2": anp.log2, "sqrt": anp.sqrt, "pow": anp.power,
        "hypot": anp.hypot, "fabs": anp.abs, "floor": anp.floor, "ceil": anp.ceil,
        "trunc": anp.trunc, "copysign": anp.copysign,
    }
    # anything unmapped stays the real math function, which raises TypeError on an
    # autograd box -> autograd_grad returns None rather than a wrong answer
    for k, v in mapping.items():
        setattr(shim, k, v)
    return shim


@functools.cache
def _autograd_version(fn: Callable) -> Callable | None:
    """``fn`` re-created from its own source with ``math`` -> the autograd shim."""
    shim = _math_shim()
    if shim is None:
        return None
    src = textwrap.dedent(inspect.getsource(fn))
    g = dict(fn.__globals__)  # keep module constants and helpers
    for name, val in list(g.items()):
        if val is math:
            g[name] = shim
    ns: dict = {}
    code = compile(src, inspect.getsourcefile(fn) or "<corpus>", "exec")
    exec(code, g, ns)  # noqa: S102 -- re-running the corpus's own source
    return ns[fn.__name__]


def autograd_grad(fn: Callable[..., float], args: Sequence, wrt: Any = 0) -> tuple | None:
    """Gradient by HIPS autograd on the same source, as a tuple; ``None`` if autograd
    cannot run this function (not installed, unsupported construct, ...)."""
    try:
        import autograd
        from autograd.tracer import Box
    except ImportError:
        return None
    try:
        agfn = _autograd_version(fn)
        if agfn is None:
            return None
        args = list(args)
        out = []
        for i in wrt_indices(fn, wrt):
            def partial(v, i=i):
                a = list(args)
                a[i] = v
                return agfn(*a)

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Output seems independent of input"
                d = autograd.grad(partial)(float(args[i]))
            if isinstance(d, Box):
                return None
            d = float(d)
            out.append(d)
        return tuple(out)
    except Exception:  # noqa: BLE001 -- any failure means "autograd cannot run it"
        return None


def autograd_failure(fn: Callable[..., float], args: Sequence, wrt: Any = 0) -> str | None:
    """The exception text autograd raises on ``fn`` (for diagnostics), or None if it runs."""
    import autograd

    try:
        agfn = _autograd_version(fn)
        i = wrt_indices(fn, wrt)[0]
        a = list(args)

        def partial(v):
            a[i] = v
            return agfn(*a)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            autograd.grad(partial)(float(args[i]))
        return None
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}"


# ----------------------------------------------------------------------------- comparison

def assert_close(actual: Any, expected: Any, rtol: float, atol: float = 0.0,
                 what: str = "") -> None:
    """Elementwise ``|actual - expected| <= atol + rtol * |expected|`` on scalars or tuples."""
    a = as_tuple(actual)
    e = as_tuple(expected)
    prefix = f"{what}: " if what else ""
    if len(a) != len(e):
        raise AssertionError(f"{prefix}length mismatch: actual {a!r} vs expected {e!r}")
    bad = []
    for k, (x, y) in enumerate(zip(a, e)):
        x = float(x)
        y = float(y)
        if math.isnan(x) or math.isnan(y):
            ok = math.isnan(x) and math.isnan(y)
        else:
            ok = abs(x - y) <= atol + rtol * abs(y)
        if not ok:
            err = abs(x - y)
            rel = err / abs(y) if y != 0 else math.inf
            bad.append(f"  [{k}] actual={x!r} expected={y!r} abs_err={err:.3g} "
                       f"rel_err={rel:.3g} (rtol={rtol:g}, atol={atol:g})")
    if bad:
        raise AssertionError(prefix + "values differ\n" + "\n".join(bad))
