"""Checks the corpus tests share: one value_and_grad object per case and mode, the
arguments copied and checked unchanged, and the gradients' structure (one entry per wrt
item, each with its argument's type, shape and dtype)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import srcgrad

from .oracles import wrt_indices

_VG_CACHE: dict[tuple, object] = {}


def value_and_grad(case, jit: bool = True):
    """``srcgrad.value_and_grad`` of a corpus case, built once per (case, jit) and shared
    by its points (a compile costs about a second)."""
    key = (case.fn, repr(case.wrt), jit)   # two corpora may name cases alike
    if key not in _VG_CACHE:
        _VG_CACHE[key] = srcgrad.value_and_grad(case.fn, wrt=case.wrt, jit=jit)
    return _VG_CACHE[key]


def copies(args) -> tuple:
    """The arguments, arrays copied (some programs write into an argument)."""
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def check_unmodified(before, after, where: str) -> None:
    for k, (b, a) in enumerate(zip(before, after)):
        if isinstance(b, np.ndarray):
            assert np.array_equal(a, b), f"{where}: argument {k} was modified in place"


def check_grad_structure(fn, wrt, args, grad, where: str) -> None:
    """One entry for an int/name ``wrt``, a tuple for a tuple ``wrt``; each entry has the
    type, dtype and shape of its argument (a Python float for a float argument)."""
    if isinstance(wrt, tuple):
        assert isinstance(grad, tuple), f"{where}: wrt={wrt!r} should give a tuple, got {type(grad)}"
        assert len(grad) == len(wrt), f"{where}: wrt={wrt!r} but got {len(grad)} entries"
        entries = grad
    else:
        assert not isinstance(grad, (tuple, list)), \
            f"{where}: wrt={wrt!r} should give a single gradient, got {type(grad)}"
        entries = (grad,)
    for k, g in zip(wrt_indices(fn, wrt), entries):
        arg = args[k]
        if isinstance(arg, np.ndarray):
            assert isinstance(g, np.ndarray), \
                f"{where}: gradient for argument {k} is {type(g).__name__}, not ndarray"
            assert g.shape == arg.shape, f"{where}: gradient shape {g.shape} != argument shape {arg.shape}"
            assert g.dtype == arg.dtype, f"{where}: gradient dtype {g.dtype} != argument dtype {arg.dtype}"
        else:
            assert type(g) is type(arg), \
                f"{where}: gradient for argument {k} is {type(g).__name__}, argument is {type(arg).__name__}"


def describe(case, args) -> str:
    """The call a failing check was, to paste: ``name(x=np.array([...]), ...) wrt=...``."""
    names = list(inspect.signature(case.fn).parameters)

    def show(a):
        if isinstance(a, np.ndarray):
            return f"np.array({np.array2string(a, precision=17, separator=', ')}, dtype=np.{a.dtype})"
        return repr(a)

    shown = ", ".join(f"{n}={show(a)}" for n, a in zip(names, args))
    return f"{case.name}({shown}) wrt={case.wrt!r}"


def check_points(cases) -> list:
    """(case, point, jit) parameters for the corpus checks: every program runs in the fast
    tier, compiled for every third program and as plain Python (jit=False: no Numba
    compile) for the rest, whose compiled run is in the slow tier (a compile costs
    seconds; the fast tier has a 10-minute budget on 2 cores)."""
    return [pytest.param(case, i, jit, id=f"{case.name}-{i}-{'jit' if jit else 'py'}",
                         marks=pytest.mark.slow if jit and k % 3 else ())
            for k, case in enumerate(cases) for i in range(len(case.points))
            for jit in ((True,) if k % 3 == 0 else (True, False))]
