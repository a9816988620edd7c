"""Independent gradient oracles for srcgrad's NumPy-array tests.

* :func:`fd_grad_array`  -- central finite differences (2nd or 4th order) over every element
  of every array argument in ``wrt`` (and over scalar float arguments).
* :func:`fd_vjp`         -- the same for ``cotangent . f(args)`` (vector-valued ``f``).
* :func:`jax_grad`       -- JAX (``jax.numpy``, x64) run on the *same* source with ``np``
  swapped for ``jax.numpy``; ``None`` when JAX cannot run it (in-place item assignment,
  JAX not installed, ...).
* :func:`jax_vjp`        -- the same for a vector-valued ``f`` and a cotangent.
* :func:`has_inplace_writes` -- does the source assign to a subscript (``y[i] = ...``)?
* :func:`assert_allclose_grads` -- elementwise comparison of gradient tuples with a
  readable message naming the worst elements.

Oracles always work in float64: float32 arrays are upcast before differentiating, so a
float32 program is compared against the float64 gradient of the same mathematics.

Nothing here runs srcgrad's differentiation (only its finite-difference formula,
``srcgrad.check.central_difference``), so the oracles can be validated on their own.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import textwrap
import types
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from srcgrad.check import central_difference

from .oracles import wrt_indices

__all__ = ["FD_REL_STEP", "as_grad_tuple", "assert_allclose_grads", "fd_grad_array", "fd_vjp",
           "has_inplace_writes", "jax_available", "jax_failure", "jax_grad", "jax_vjp",
           "to_float64"]

#: relative FD step ``h = FD_REL_STEP * max(1, |x_i|)``; see :func:`fd_grad_array`.
FD_REL_STEP = 1e-4


# ----------------------------------------------------------------------------- helpers

def to_float64(a: Any) -> Any:
    """A float64 copy of a floating array / numpy float; other values unchanged.

    Arrays are always copied, so an oracle never shares memory with the caller."""
    if isinstance(a, np.ndarray):
        return a.astype(np.float64) if a.dtype.kind == "f" else a.copy()
    if isinstance(a, np.floating):
        return float(a)
    return a


def _fresh(args: Sequence) -> list:
    """Copies of the arguments (a program that writes into an argument cannot corrupt the
    point it is evaluated at)."""
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def as_grad_tuple(g: Any) -> tuple:
    """A gradient as a tuple of entries (a single ``wrt`` gives a bare array or float)."""
    return tuple(g) if isinstance(g, (tuple, list)) else (g,)


# ----------------------------------------------------------------------------- finite differences

def _step(x: float, rel_step: float) -> float:
    h = rel_step * max(1.0, abs(x))
    return (x + h) - x  # exactly representable relative to x, so the divisor is the true step


def fd_grad_array(fn: Callable[..., Any], args: Sequence, wrt: Any = 0, order: int = 4,
                  rel_step: float = FD_REL_STEP) -> tuple:
    """Gradient of scalar-valued ``fn`` at ``args`` w.r.t. the arguments in ``wrt`` by central
    finite differences, element by element, in float64.

    ``order=4``: ``(f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)) / (12 h)``;
    ``order=2``: ``(f(x+h) - f(x-h)) / (2 h)``; ``h = rel_step * max(1, |x_i|)``.

    Returns a tuple with one entry per ``wrt`` item: a float64 array of the argument's shape
    for an array argument, a float for a scalar argument. Every evaluation gets fresh copies
    of the arguments."""
    if order not in (2, 4):
        raise ValueError("order must be 2 or 4")
    base = [to_float64(a) for a in args]

    def f_at(i: int, idx: Any, v: float) -> float:
        a = _fresh(base)
        if idx is None:
            a[i] = v
        else:
            a[i][idx] = v
        return float(np.asarray(fn(*a), dtype=np.float64))

    def deriv(i: int, idx: Any, x: float) -> float:
        h = _step(x, rel_step)
        if order == 2:
            return (f_at(i, idx, x + h) - f_at(i, idx, x - h)) / (2.0 * h)
        return central_difference(lambda t: f_at(i, idx, x + t), h)

    out = []
    for i in wrt_indices(fn, wrt):
        a = base[i]
        if isinstance(a, np.ndarray):
            g = np.empty(a.shape, dtype=np.float64)
            for idx in np.ndindex(a.shape):
                g[idx] = deriv(i, idx, float(a[idx]))
            out.append(g)
        else:
            out.append(deriv(i, None, float(a)))
    return tuple(out)


def fd_vjp(fn: Callable[..., Any], args: Sequence, cotangent: Any, wrt: Any = 0, order: int = 4,
           rel_step: float = FD_REL_STEP) -> tuple:
    """``cotangent . d fn / d args[wrt]`` by finite differences of ``sum(fn(*args) * cotangent)``."""
    ct = np.asarray(cotangent, dtype=np.float64)

    def scalarized(*a):
        return float(np.sum(np.asarray(fn(*a), dtype=np.float64) * ct))

    # keep fn's signature so wrt names resolve
    scalarized.__signature__ = inspect.signature(fn)
    return fd_grad_array(scalarized, args, wrt, order=order, rel_step=rel_step)


# ----------------------------------------------------------------------------- JAX oracle

@functools.cache
def jax_available() -> bool:
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
    except ImportError:
        return False
    return True


@functools.cache
def _jnp_shim() -> types.ModuleType:
    """A module that looks like ``numpy`` to the corpus but computes with ``jax.numpy``."""
    import jax
    import jax.numpy as jnp

    shim = types.ModuleType("numpy_jax_shim")
    for k in dir(jnp):
        if not k.startswith("__"):
            setattr(shim, k, getattr(jnp, k))
    shim.linalg = jnp.linalg
    shim.stop_gradient = jax.lax.stop_gradient
    return shim


@functools.cache
def _srcgrad_shim() -> types.ModuleType:
    import jax

    shim = types.ModuleType("srcgrad_jax_shim")
    shim.stop_gradient = jax.lax.stop_gradient
    return shim


def _is_srcgrad_stop_gradient(v: Any) -> bool:
    return (callable(v) and getattr(v, "__name__", "") == "stop_gradient"
            and (getattr(v, "__module__", "") or "").split(".")[0] == "srcgrad")


@functools.cache
def _jax_version(fn: Callable) -> Callable:
    """``fn`` re-created from its own source with ``numpy`` -> ``jax.numpy`` and
    ``srcgrad.stop_gradient`` -> ``jax.lax.stop_gradient``; other globals kept."""
    import jax

    src = textwrap.dedent(inspect.getsource(fn))
    g = dict(fn.__globals__)
    for name, val in list(g.items()):
        if val is np:
            g[name] = _jnp_shim()
        elif isinstance(val, types.ModuleType) and val.__name__ == "srcgrad":
            g[name] = _srcgrad_shim()
        elif _is_srcgrad_stop_gradient(val):
            g[name] = jax.lax.stop_gradient
    ns: dict = {}
    code = compile(src, inspect.getsourcefile(fn) or "<corpus>", "exec")
    exec(code, g, ns)  # noqa: S102 -- re-running the corpus's own source
    return ns[fn.__name__]


def _jax_args(args: Sequence) -> list:
    import jax.numpy as jnp

    out = []
    for a in args:
        a = to_float64(a)
        out.append(jnp.asarray(a) if isinstance(a, np.ndarray) else a)
    return out


def _to_numpy_like(g: Any, arg: Any) -> Any:
    g = np.asarray(g, dtype=np.float64)
    return g if isinstance(arg, np.ndarray) else float(g)


def _run_jax(fn, args, wrt, cotangent=None):
    import jax

    jfn = _jax_version(fn)
    idx = wrt_indices(fn, wrt)
    jargs = _jax_args(args)

    def partial(*wrt_vals):
        a = list(jargs)
        for k, v in zip(idx, wrt_vals):
            a[k] = v
        return jfn(*a)

    argnums = tuple(range(len(idx)))
    primals = [jargs[k] for k in idx]
    if cotangent is None:
        def run(*p):
            return jax.grad(partial, argnums=argnums)(*p)
    else:
        ct = jax.numpy.asarray(np.asarray(cotangent, dtype=np.float64))

        def run(*p):
            return jax.vjp(partial, *p)[1](ct)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Under jax.jit the whole gradient compiles once (fast); Python control flow on
        # array values cannot be traced there, and then JAX runs op by op instead (each new
        # op/shape compiles on first use: seconds for a long program, but always right).
        try:
            grads = jax.jit(run)(*primals)
        except (jax.errors.ConcretizationTypeError, jax.errors.TracerIntegerConversionError,
                jax.errors.TracerArrayConversionError):
            grads = run(*primals)
    return tuple(_to_numpy_like(gk, args[k]) for gk, k in zip(grads, idx))


def jax_grad(fn: Callable[..., Any], args: Sequence, wrt: Any = 0) -> tuple | None:
    """Gradient of scalar-valued ``fn`` by JAX on the same source (float64), as a tuple with
    one entry per ``wrt`` item (array for an array argument, float for a scalar one);
    ``None`` if JAX cannot run this function."""
    if not jax_available():
        return None
    try:
        return _run_jax(fn, args, wrt)
    except Exception:  # noqa: BLE001 -- any failure means "JAX cannot run it"
        return None


def jax_vjp(fn: Callable[..., Any], args: Sequence, cotangent: Any, wrt: Any = 0) -> tuple | None:
    """``cotangent . d fn / d args[wrt]`` by ``jax.vjp`` on the same source; ``None`` if JAX
    cannot run it."""
    if not jax_available():
        return None
    try:
        return _run_jax(fn, args, wrt, cotangent)
    except Exception:  # noqa: BLE001
        return None


def jax_failure(fn: Callable[..., Any], args: Sequence, wrt: Any = 0) -> str | None:
    """The exception JAX raises on ``fn`` (for diagnostics), or None if it runs."""
    if not jax_available():
        return "jax is not installed"
    try:
        _run_jax(fn, args, wrt)
        return None
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}"


# ----------------------------------------------------------------------------- source facts

def has_inplace_writes(fn: Callable) -> bool:
    """Whether ``fn`` assigns to a subscript anywhere (``y[i] = v``, ``y[i] += v``,
    ``A[i, :] = row``, ``y[i], y[j] = ...``). JAX cannot run those."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))

    def subscript_target(t: ast.AST) -> bool:
        if isinstance(t, ast.Subscript):
            return True
        if isinstance(t, (ast.Tuple, ast.List)):
            return any(subscript_target(e) for e in t.elts)
        if isinstance(t, ast.Starred):
            return subscript_target(t.value)
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(subscript_target(t) for t in node.targets):
            return True
        if isinstance(node, (ast.AugAssign, ast.AnnAssign)) and subscript_target(node.target):
            return True
    return False


# ----------------------------------------------------------------------------- comparison

def assert_allclose_grads(actual: Any, expected: Any, rtol: float, atol: float = 0.0,
                          what: str = "", scale_atol: bool = True) -> None:
    """Entry-by-entry, element-by-element ``|a - e| <= atol' + rtol * |e|``.

    With ``scale_atol`` the absolute slack of each entry is ``atol * max(1, max|e|)``: an
    element of a gradient whose other elements are large may carry absolute error of that
    size (FD rounding error is proportional to |f| / h, not to the element). Shapes must
    agree exactly."""
    a_t = as_grad_tuple(actual)
    e_t = as_grad_tuple(expected)
    prefix = f"{what}: " if what else ""
    if len(a_t) != len(e_t):
        raise AssertionError(f"{prefix}{len(a_t)} gradient entries, expected {len(e_t)}")
    problems = []
    for k, (a, e) in enumerate(zip(a_t, e_t)):
        a_arr = np.asarray(a, dtype=np.float64)
        e_arr = np.asarray(e, dtype=np.float64)
        if a_arr.shape != e_arr.shape:
            problems.append(f"  entry {k}: shape {a_arr.shape}, expected {e_arr.shape}")
            continue
        finite = e_arr[np.isfinite(e_arr)]
        slack = atol * max(1.0, float(np.max(np.abs(finite)))) if scale_atol and finite.size else atol
        err = np.abs(a_arr - e_arr)
        ok = (err <= slack + rtol * np.abs(e_arr)) | (np.isnan(a_arr) & np.isnan(e_arr))
        ok &= ~(np.isnan(a_arr) ^ np.isnan(e_arr))
        if not ok.all():
            bad = np.argwhere(~ok)
            lines = []
            for idx in bad[:8]:
                idx = tuple(int(i) for i in idx)
                x = float(a_arr[idx])
                y = float(e_arr[idx])
                rel = abs(x - y) / abs(y) if y != 0 else float("inf")
                lines.append(f"    [{', '.join(map(str, idx)) or '()'}] actual={x!r} expected={y!r} "
                             f"abs_err={abs(x - y):.3g} rel_err={rel:.3g}")
            more = f"\n    ... and {len(bad) - 8} more" if len(bad) > 8 else ""
            problems.append(f"  entry {k}: {len(bad)} of {a_arr.size} element(s) differ "
                            f"(rtol={rtol:g}, atol={slack:.3g})\n" + "\n".join(lines) + more
                            + f"\n    actual:   {np.array2string(a_arr, precision=6)}"
                            + f"\n    expected: {np.array2string(e_arr, precision=6)}")
    if problems:
        raise AssertionError(prefix + "gradients differ\n" + "\n".join(problems))


@contextlib.contextmanager
def scalarize_off():
    """Stage scalarize off (SRCGRAD_SCALARIZE=0: the array rules) inside the block."""
    import os

    saved = os.environ.get("SRCGRAD_SCALARIZE")
    os.environ["SRCGRAD_SCALARIZE"] = "0"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["SRCGRAD_SCALARIZE"]
        else:
            os.environ["SRCGRAD_SCALARIZE"] = saved


def unscalarized_value_and_grad(fn, wrt, args):
    """srcgrad's value and gradient with stage scalarize off, uncompiled: what the
    scalarize tests compare the stage with."""
    import srcgrad

    with scalarize_off():
        return srcgrad.value_and_grad(fn, wrt=wrt, jit=False)(*args)


def check_scalarized(fn, args, wrt, name: str, jit: bool = False) -> None:
    """srcgrad's value equals the function's, and its gradient equals the one with stage
    scalarize off and the finite differences (the scalarize tests' common check)."""
    import pytest

    import srcgrad

    value, grads = srcgrad.value_and_grad(fn, wrt=wrt, jit=jit)(*args)
    assert value == pytest.approx(fn(*args), rel=1e-12)
    plain_value, plain = unscalarized_value_and_grad(fn, wrt, args)
    assert value == pytest.approx(plain_value, rel=1e-12)
    assert_allclose_grads(grads, plain, rtol=1e-10, atol=1e-12, what=f"{name}: vs array rules")
    assert_allclose_grads(grads, fd_grad_array(fn, args, wrt), rtol=1e-6, atol=1e-8,
                          what=f"{name}: vs finite differences")
