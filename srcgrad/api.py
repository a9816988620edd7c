"""The public API: grad, value_and_grad, vjp, show, stop_gradient."""

from __future__ import annotations

from .compiler.tangent import TangentFunction
from .errors import UsageError
from .gradfn import GradFunction, VJPFunction
from .higher import DerivativeGrad
from .runtime import stop_gradient

__all__ = ["grad", "value_and_grad", "vjp", "show", "stop_gradient"]


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
    if mode == "fwd":
        if isinstance(g, (GradFunction, DerivativeGrad)) or not callable(g):
            raise UsageError("show(f, mode='fwd') takes the function itself, not its grad")
        tangent = TangentFunction(g, jit=False)
        if args is None:
            args = tuple(1.0 for _ in tangent.params)
        print(tangent.source_for(*args))
        return
    if isinstance(g, DerivativeGrad):
        print(g.source_for(*(args if args is not None else (1.0,) * len(g._params()))))
        return
    if not isinstance(g, GradFunction):
        raise UsageError(f"show() takes a function made by srcgrad.grad, got {g!r}")
    print(g.source_for(*args) if args is not None else g.source)
