"""The public API: grad, value_and_grad, vjp, show, stop_gradient."""

from __future__ import annotations

from .compiler.tangent import TangentFunction
from .errors import UsageError
from .gradfn import GradFunction, VJPFunction
from .higher import DerivativeGrad
from .runtime import stop_gradient

__all__ = ["grad", "value_and_grad", "vjp", "show", "stop_gradient"]


_VJP_CACHE: dict = {}


def vjp(fn, *args, wrt=0, jit: bool = True, tape_limit=None, **kwargs):
    """``value, pullback = vjp(f, *args)``: f's value at args, and a function mapping a
    cotangent (an array of the value's shape, or a float) to gradients with respect to
    `wrt` (one for an int or name, a tuple for a tuple), as ``grad`` returns them.

    This is the ``y.backward(gradient)`` of PyTorch and ``jax.vjp`` of JAX. The pullback
    reruns the compiled forward sweep with the saved arguments.
    """
    key = (id(fn), repr(wrt), jit, tape_limit)
    entry = _VJP_CACHE.get(key)
    if entry is None or entry[0] is not fn:
        entry = (fn, VJPFunction(fn, wrt=wrt, jit=jit, tape_limit=tape_limit))
        _VJP_CACHE[key] = entry
    return entry[1].value_and_pullback(args, kwargs)


def _decorator(fn, wrt, jit, with_value, tape_limit=None):
    if fn is None:
        return lambda f: _decorator(f, wrt, jit, with_value, tape_limit)
    if isinstance(fn, (GradFunction, DerivativeGrad)) and not with_value:
        if tape_limit is not None:
            raise UsageError("tape_limit applies to the gradient of a function, not to a "
                             "gradient of a gradient: pass it to the inner grad")
        return DerivativeGrad(fn, wrt, jit)
    if isinstance(fn, (int, str, tuple, list)) and not callable(fn):
        raise UsageError(f"grad() takes the function first; to choose parameters write "
                         f"grad(f, wrt={fn!r}) or @grad(wrt={fn!r})")
    return GradFunction(fn, wrt=wrt, jit=jit, with_value=with_value, tape_limit=tape_limit)


def grad(fn=None, wrt=0, *, jit: bool = True, tape_limit=None):
    """The gradient of scalar-valued `fn` with respect to parameter(s) `wrt`.

    `wrt` is a position, a name, or a tuple of those (then a tuple of
    gradients comes back in that order). Works as ``grad(f)``, ``@grad`` and
    ``@grad(wrt=(0, 1))``. ``jit=False`` runs the same generated source as plain
    Python, for stepping through with pdb.

    ``tape_limit`` (bytes, or a string such as ``"64MB"``) bounds the memory of the
    reverse sweep: top-level loops then run checkpointed, recomputing iterations from
    stored states instead of taping them all (docs/memory.md).
    """
    return _decorator(fn, wrt, jit, with_value=False, tape_limit=tape_limit)


def value_and_grad(fn=None, wrt=0, *, jit: bool = True, tape_limit=None):
    """Like grad, but the returned function gives ``(value, gradient)``."""
    return _decorator(fn, wrt, jit, with_value=True, tape_limit=tape_limit)


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
