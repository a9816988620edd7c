"""Differential fuzzing of srcgrad: random programs in its language, and oracles to check them.

Generation
----------
:func:`programs` is a hypothesis strategy for :class:`Program` (module source with one or
more functions, the entry function's name, ``wrt``, evaluation points). The same generator
is driven by a plain :class:`random.Random` (:func:`random_program`) for long campaigns
(``python -m tests.support.fuzz_run``). Every choice goes through a :class:`Chooser`, whose
simplest answer is 0, so hypothesis shrinks towards short, flat programs.

Programs stay inside srcgrad's language (docs/language.md) and are well-behaved by
construction:

* every float variable and array element is kept within about ``[-VB, VB]``: a right-hand
  side whose static bound is larger is squashed (``math.tanh(e)``, ``math.sin(e)``, ...);
  ``*=`` multiplies by something in ``[-1, 1]``, ``/=`` divides by something ``>= 1``,
  ``+=`` adds a bounded term scaled by ``1 / (static trip count)``, swaps contract;
* ``exp`` only sees bounded arguments, ``log`` and ``sqrt`` only ``1.0 + e * e``-like ones,
  division only ``1.5 + e * e``-like denominators, indices are in range
  (``x[i]`` for ``i < len(x)``, ``x[(i + 1) % m]``, ``x[-1]``);
* every loop terminates: ``for`` loops have statically bounded ranges, ``while`` loops
  have a counter (``it0 < K and <data condition>``, or ``if <data condition>: break``);
  the product of trip counts around any statement is at most ``Profile.max_trips``;
* sums over data points (``_Gen.s_sum_loop``, weight ``Profile.sum_loop_weight`` among
  top-level statements): loops whose iterations are independent except for one accumulator
  (``tot = tot + e``), which srcgrad runs the adjoint of inside the forward sweep
  (srcgrad/fuse.py), and near misses that must not be fused (a local or the loop variable
  read after the loop, a second carried variable, the accumulator read in the body or
  updated twice or in a branch, an array store, a break, ...); features ``fused_sum``,
  ``fused_near_miss``, ``near_miss_<kind>``. ``Stats`` counts the programs srcgrad
  really fused (``FUSED_MARK`` in the generated source).
* arrays built from values (``Profile.new_prob`` sets how often): ``np.array([a, b * c,
  1.5])`` and ``np.asarray`` of L scalars (``arr_lit``), nested 2-D literals
  (``arr_lit_2d``), stacked arrays (``np.array([u, v * 2.0])``, ``np.stack``, ``np.vstack``,
  ``np.column_stack``, ``np.concatenate``/``np.hstack`` of slices that give length L back),
  list literals as arguments (``np.sum([a, a * b, 2.0])``, ``np.dot([a, 1.0], u[:2])``);
  matrices (``_Gen.s_matrix``) reduced with ``axis``/``keepdims``, ``@``, ``np.trace``,
  ``np.linalg.norm``, ``np.linalg.inv`` and ``np.linalg.matrix_power`` (of a well
  conditioned ``2 I + (0.4 / R) tanh(M)``), gathers of rows and columns;
* gathers ``u[idx]`` and scatters ``w[idx] = e``, ``w[idx] += e``, ``w[idx] *= e`` with
  repeated positions, where ``idx`` is a constant index array, a literal, the int-array
  parameter ``ids`` (values in 0..L-1) or a boolean mask; element reads and writes at
  ``idx[i]`` in loops;
* names rebound to another type (``ar0 = np.mean(np.tanh(ar0))``, ``s = np.ones(m) * s``,
  ``M0 = M0.reshape(6)``), double buffering (``nxt = np.zeros(m)`` each step, filled from
  ``cur``, then ``cur = nxt``) and swaps of two buffers (``cur, nxt = nxt, cur``);
* keyword-only parameters (helpers' ``*, sc=0.5`` and the entry's ``*, scale=...``), a
  float parameter passed as a 0-d array (returned values get ``+ 0.0``; ``a += e`` is
  written ``a = a + e`` so that no alias of the argument is written into);
* calls of every rule family of srcgrad/rules.py on safe arguments (``_NP_UNARY``,
  ``_MATH_UNARY``: arcsin only of ``0.9 * tanh(e)``, log of ``1.5 + e * e``, ...).
* the NumPy surface (``_Gen.s_surface``; ``Profile.surface_weight``, ``surface_prob``):
  linear algebra (det, slogdet, solve, cholesky of ``2 I + (0.4 / R) tanh(Q + Q.T)``
  (eigenvalues in [1.6, 2.4]), eigvalsh/eigh of ``diag(1, 2, 3) + (0.3 / R) tanh(Q + Q.T)``
  (eigenvalues at least 0.4 apart; eigenvectors only squared), pinv and lstsq of its
  columns, kron, cross, einsum with constant subscripts, tensordot, inner, vdot, norms with
  ord and axis), statistics (var/std with ddof and axis, average with positive weights,
  median, percentile/quantile with a constant or active q, cov, corrcoef of variables
  offset so that none is constant, ptp, the nan-functions with one NaN at a constant
  position, convolve, correlate, interp with constant or moving increasing knots,
  trapezoid, diff, cumprod), shapes and orders (sort, flip, roll, diag, tril/triu, take,
  repeat, swapaxes, expand_dims, squeeze, atleast_Nd, concatenate, tile, ravel/flatten,
  astype, .T, .item(k), x.fill(v), rot90, diagonal, append, insert, delete) reduced
  nonlinearly or with positional weights (so that a misplaced adjoint shows), the ufunc
  names (np.add ... np.logaddexp, np.sinc, np.fmax, np.float_power) and scipy.special
  (expit, logit of (0.05, 0.95), erf, erfc, gammaln of >= 1, log_expit, logsumexp,
  softmax, log_softmax with axis, xlogy).
* JAX habits (``_Gen.s_jax``; ``Profile.jax_prob`` of the programs, all with ``JAX``):
  a container parameter ``p`` after the arrays (a dict of floats, a vector ``"W"``, an
  int ``"k"`` and a float tuple ``"c"``; a tuple or list; a dict of a dict and a tuple; a
  list of ``(M, b)`` layers), differentiated with the other parameters (``wrt`` by index
  or by name); read as ``p["w"]``, ``p[0]``, ``a, b = p``, ``a, b = p["dec"]``,
  ``len(p)``, ``p.get("s", 1.0)``, ``"s" in p``, ``for M, b in p: h = np.tanh(M @ h +
  b)``; comprehensions over its float containers, local lists, dicts and tuples
  (``dct0 = dict(s=e, t=e)``, ``lst0[1] = e``) and bound comprehensions (``zs0 = [...]``,
  read at constant and run-time indices), reduced by ``sum``, ``min``, ``max``,
  ``np.sum``, ``np.array``, with ``zip``, ``enumerate(t, start=k)``, ``reversed``,
  ``d.items()``/``keys``/``values()``, per-example helper calls, ``any``/``all`` in
  conditions; loops over containers (unrolled by srcgrad: no jumps or return inside),
  ``enumerate(u, start=k)`` over arrays, ``reversed(range(...))``; lambdas (defaults,
  closures over the function's floats, never rebound to arrays: ``_Gen.pinned``) and a
  nested ``def`` (the last helper, maybe reading a local); the entry wrapped as
  ``f_entry = lambda ...: f(...)`` or ``functools.partial(f, n=2)``. Features
  ``cont_*``, ``comp_*``, ``for_*``, ``cond_any``/``all``/``key_in``, ``local_*``,
  ``lambda_*``, ``nested_def*``, ``entry_lambda``/``partial``, ``wrt_by_name``.

Checking
--------
:func:`check_program` runs ``srcgrad.value_and_grad`` on the program (``jit`` as asked)
at each point and compares

* the value with the plain function's (rtol ``VALUE_RTOL``);
* the gradient's structure: a container argument's is a container of the same kind
  (a dict with the same keys in the same order), a float per float leaf, an array of its
  shape per array leaf, None per int leaf;
* every gradient coordinate with 4th-order central finite differences of the plain
  function (relative step ``FD_REL_STEP``), evaluated on an *instrumented* copy of the
  program that records every ``if``/``while``/``a if c else b`` test and every
  ``min``/``max``/``abs`` choice (of several arguments or of a comprehension), every
  (elementwise) comparison, float ``%`` and the kinks
  of ``np.abs``, ``np.maximum``, ``np.clip``, ``np.fmod``, ``copysign``, ``np.max``, the
  permutation of sorts and order statistics, np.interp's intervals (``_KINKS``): a
  coordinate whose stencil points take other decisions than the centre is near a kink and
  is retried at a 16x smaller step, then skipped; a disagreement is confirmed at a 4x
  smaller step (finite differences that disagree with themselves are "unstable", skipped
  and counted);
* the gradient with HIPS autograd run on the same source (``math`` and ``np`` swapped for
  autograd's, with ``np.copy``, ``np.fmod``, ``copysign``, ``math.erf``, ... written with
  functions autograd differentiates), when the program has no in-place array writes
  (autograd has none: scatters and buffers are checked by finite differences). autograd
  is exact, so this also holds next to kinks; a disagreement only on a coordinate that is
  near a kink is not counted (the point may sit on the kink itself).

A program srcgrad rejects with a :class:`srcgrad.SrcgradError` is a *rejection* (a gap in
the language, counted and grouped by message), not a failure. An ``InternalError``, any
other exception, a wrong value, a wrong or non-finite gradient, or a modified argument is a
failure.
"""

from __future__ import annotations

import ast
import atexit
import copy
import dataclasses
import importlib.util
import itertools
import math
import os
import random
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

import srcgrad
from srcgrad.errors import InternalError, SrcgradError

__all__ = ["BIG", "FAST", "FULL", "JIT", "OPEN_BUGS", "Chooser", "Failure", "OpenBug", "Outcome",
           "Profile", "Program", "RandomChooser", "Stats", "Traced", "check_program",
           "check_source", "defines_before_use", "failure_signature", "load_module",
           "programs", "random_program", "shrink_program"]

VB = 3.0        # bound kept on every float variable and array element
WRAP = 30.0     # a sub-expression with a larger static bound is squashed
NMAX = 4        # the int parameter n is drawn from 0..NMAX
HELPER_MULT = 10  # helpers assume they are called this often (scales their += terms)
SUM_LOOP_POSITIVE = 75  # percent of them meant to be fused (the rest are near misses)

VALUE_RTOL = 1e-12
VALUE_ATOL = 1e-12
FD_REL_STEP = 1e-4
FD_RTOL = 1e-6
FD_ATOL = 1e-8      # times max(1, |f|, max |fd|): the floor for (nearly) zero coordinates
AG_RTOL = 1e-8
AG_ATOL = 1e-10     # times max(1, |f|, max |autograd|)
#: in generated source: a loop run as a sum of independent iterations (srcgrad/fuse.py)
FUSED_MARK = re.compile(r"\bu_\w+ = 1\.0")


# ============================================================================ choices

class Chooser:
    """Where the generator's choices come from. ``integer`` is the only primitive; its
    lowest value is always the simplest choice (what hypothesis shrinks towards)."""

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def chance(self, percent: int) -> bool:
        """True with probability ``percent`` / 100 (shrinks to False)."""
        return self.integer(0, 99) >= 100 - percent

    def pick(self, seq):
        return seq[self.integer(0, len(seq) - 1)]

    def weighted(self, options):
        """One value of ``[(weight, value), ...]`` (shrinks to the first)."""
        total = sum(w for w, _ in options)
        r = self.integer(0, total - 1)
        for w, v in options:
            if r < w:
                return v
            r -= w
        raise AssertionError("unreachable")


class RandomChooser(Chooser):
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return lo if lo >= hi else self.rng.randint(lo, hi)


class _HypothesisChooser(Chooser):
    def __init__(self, draw) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return lo if lo >= hi else self.draw(st.integers(lo, hi))


@dataclasses.dataclass(frozen=True)
class Profile:
    """Size limits of generated programs."""

    max_floats: int = 3        # float scalar parameters (x, y, z)
    max_arrays: int = 2        # float64 array parameters (u, v), length 2..5
    max_helpers: int = 2       # module-level helpers the entry function calls
    max_stmts: int = 6         # statements in the entry function's top-level block
    max_inner: int = 3         # statements in a nested block
    max_depth: int = 3         # nesting of compound statements
    max_expr: int = 3          # expression depth
    max_trips: int = 300       # static bound on the product of trip counts
    points: int = 2            # evaluation points per program
    array_prob: int = 60       # percent of programs with array parameters
    helper_stmts: int = 3      # statements in a helper's top-level block
    max_calls: int = 4         # helper call sites in a program (each is inlined)
    avoid: frozenset = frozenset()   # constructs left out (see OPEN_BUGS)
    sum_loop_weight: int = 2   # weight of a sum-over-data-points loop among top-level statements
    new_prob: int = 40         # percent: arrays from values, gathers, scatters, buffers, ...
    surface_weight: int = 4    # weight of a NumPy-surface statement (linalg, stats, shapes, ...)
    surface_prob: int = 100    # percent of programs that may have them
    jax_prob: int = 0          # percent of programs written with JAX habits (a container
    #                            parameter, comprehensions, lambdas, nested defs; _Gen.s_jax)
    jax_weight: int = 4        # weight of a JAX-habit statement among statements (there)

    def avoiding_open_bugs(self) -> Profile:
        """This profile without the constructs that trigger open srcgrad bugs."""
        return dataclasses.replace(self, avoid=frozenset(
            b.avoid for b in OPEN_BUGS.values() if b.avoid))


@dataclasses.dataclass(frozen=True)
class OpenBug:
    """A srcgrad bug found by this fuzzer and not fixed yet. ``avoid`` names a construct the
    generator can leave out (``Profile.avoid``; ``"aug_write_index"``: augmented element
    writes only at indices of at most one operation; ``"hypot_origin"``: ``math.hypot``
    never at (0, 0); ``"inactive_work_array"``: work arrays are copies of differentiated
    arrays) so that a test tier still finds *other* bugs; ``crash`` is a regex for the
    message of a crash that is recognised instead (reported as a known bug, not a
    failure). Its program is a ``Regression`` with ``open_bug=<key>`` in
    tests/test_fuzz.py, run as a strict xfail. When srcgrad fixes it, delete the entry and
    the regression's ``open_bug``."""

    summary: str
    avoid: str | None = None
    crash: str | None = None


#: Open bugs. Found and already fixed (see test_fuzz.REGRESSIONS): augmented element writes
#: at composite indices (silently wrong) and dead element reads (crash), ee955ba; in-place
#: writes into an array that depends on no differentiated argument (silently wrong), 31be66e;
#: Numba rejecting the adjoint of a loop with return in a branch on a constant, 13687a4;
#: NaN from the adjoint of an overwritten value with an infinite local derivative
#: (dead_singular_partial: sqrt(0), hypot(0, 0)), fixed by skipping dead assignments; the
#: same value overwritten only on the path taken at run time
#: (dead_at_run_time_singular_partial), fixed by guarding such terms with ``g != 0``.
OPEN_BUGS: dict[str, OpenBug] = {
    # found by the JAX-habit programs (_Gen.s_jax; /work/fuzzlogs/containers_BUGS.md)
}


# (the fast tier has surface statements in few programs: the first use of each runtime
# function costs seconds of Numba typing)
FAST = Profile(max_stmts=4, max_inner=2, max_depth=3, max_expr=2, max_trips=60, points=2,
               helper_stmts=2, max_calls=3, sum_loop_weight=4, new_prob=30, surface_weight=2,
               surface_prob=8, jax_prob=12)
FULL = Profile(jax_prob=25)
BIG = Profile(max_stmts=8, max_inner=4, max_depth=4, max_expr=3, max_trips=1000, max_helpers=3,
              helper_stmts=4, max_calls=6, jax_prob=25)
JIT = Profile(max_stmts=4, max_inner=2, max_depth=3, max_expr=2, max_trips=200, points=2,
              helper_stmts=2, max_calls=2, sum_loop_weight=3, jax_prob=25)
#: every program with JAX habits (``--profile jax``)
JAX = dataclasses.replace(FULL, jax_prob=100, surface_prob=30)


# ============================================================================ programs

@dataclasses.dataclass
class Program:
    source: str
    entry: str
    params: tuple[str, ...]
    wrt: tuple[int, ...]
    points: list[tuple]
    features: frozenset = frozenset()
    #: what srcgrad's ``wrt`` is given, when not ``wrt`` itself (parameter names)
    api_wrt: tuple | None = None

    def __repr__(self) -> str:
        pts = "\n".join(f"#   {_fmt_args(self.params, p)}" for p in self.points)
        return (f"Program(entry={self.entry!r}, wrt={self.wrt!r}) at points\n{pts}\n"
                f"{self.source}")


def _fmt_args(params, args) -> str:
    def f(a):
        if isinstance(a, np.ndarray):
            return f"np.array({a.tolist()!r})"
        if isinstance(a, dict):
            return "{" + ", ".join(f"{k!r}: {f(v)}" for k, v in a.items()) + "}"
        if isinstance(a, list):
            return "[" + ", ".join(f(v) for v in a) + "]"
        if isinstance(a, tuple):
            return "(" + ", ".join(f(v) for v in a) + ("," if len(a) == 1 else "") + ")"
        return repr(a)
    return ", ".join(f"{n}={f(a)}" for n, a in zip(params, args))


# small AST builders ----------------------------------------------------------------------

def _name(n: str) -> ast.Name:
    return ast.Name(n, ast.Load())


def _store(n: str) -> ast.Name:
    return ast.Name(n, ast.Store())


def _num(v) -> ast.expr:
    if v < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-v))
    return ast.Constant(v)


def _attr(path: str) -> ast.expr:
    mod, *rest = path.split(".")
    node: ast.expr = _name(mod)
    for part in rest:
        node = ast.Attribute(node, part, ast.Load())
    return node


def _meth(obj: ast.expr, name: str, *args, kw: list[tuple[str, ast.expr]] | None = None):
    """``obj.name(*args)``: a method call."""
    return ast.Call(ast.Attribute(obj, name, ast.Load()), list(args),
                    [ast.keyword(k, v) for k, v in (kw or [])])


def _list(elts) -> ast.List:
    return ast.List(list(elts), ast.Load())


def _tuple(elts) -> ast.Tuple:
    return ast.Tuple(list(elts), ast.Load())


def _int_array(values) -> ast.Call:
    """``np.array([2, 0, 0])``: a constant integer index array."""
    return _call("np.array", _list(_num(v) for v in values))


def _slice(lo=None, hi=None, step=None) -> ast.Slice:
    return ast.Slice(lo, hi, step)


def _call(fn: str, *args, kw: list[tuple[str, ast.expr]] | None = None) -> ast.Call:
    return ast.Call(_attr(fn), list(args), [ast.keyword(k, v) for k, v in (kw or [])])


def _bin(a, op, b) -> ast.BinOp:
    ops = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div, "**": ast.Pow,
           "%": ast.Mod, "@": ast.MatMult}
    return ast.BinOp(a, ops[op](), b)


def _cmp(a, op, b) -> ast.Compare:
    ops = {"<": ast.Lt, ">": ast.Gt, "<=": ast.LtE, ">=": ast.GtE, "==": ast.Eq, "!=": ast.NotEq}
    return ast.Compare(a, [ops[op]()], [b])


def _assign(target: str, value) -> ast.Assign:
    return ast.Assign([_store(target)], value)


def _aug(target, op, value) -> ast.AugAssign:
    ops = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div}
    return ast.AugAssign(target, ops[op](), value)


def _sub(arr: str, idx, store=False) -> ast.Subscript:
    return ast.Subscript(_name(arr), idx, ast.Store() if store else ast.Load())


def _funcdef(name: str, params: list[str], defaults: list, body: list,
             kwonly: list[tuple[str, ast.expr]] = ()) -> ast.FunctionDef:
    args = ast.arguments(posonlyargs=[], args=[ast.arg(a) for a in params], vararg=None,
                         kwonlyargs=[ast.arg(k) for k, _ in kwonly],
                         kw_defaults=[v for _, v in kwonly], kwarg=None, defaults=defaults)
    return ast.FunctionDef(name=name, args=args, body=body, decorator_list=[], returns=None,
                           type_comment=None)


def _cp(node):
    return copy.deepcopy(node)


def _size(node) -> int:
    return sum(1 for _ in ast.walk(node))


def _round(v: float) -> float:
    return float(f"{v:.2g}")


@dataclasses.dataclass
class _Scope:
    floats: list[str]
    arrays: list[str]                       # readable float arrays (all of length L)
    work: list[str]                         # writable arrays (a subset of arrays)
    ints: list[tuple[str, int, int]]        # (name, lowest, highest)
    temps: list[str] = dataclasses.field(default_factory=list)   # rebindable array temps
    ro: list[str] = dataclasses.field(default_factory=list)   # floats read but never assigned
    idxs: list[str] = dataclasses.field(default_factory=list)  # int index arrays (length L,
    #                                                            values in 0..L-1)
    # JAX habits (_Gen.s_jax): float leaves of containers (``p["w"]``, ``dct0["s"]``),
    # float array leaves (``p["W"]``, length L), float sequences to iterate, local lambdas
    cfloats: list = dataclasses.field(default_factory=list)     # ast.expr
    carrays: list = dataclasses.field(default_factory=list)     # ast.expr
    seqs: list = dataclasses.field(default_factory=list)        # _Seq
    lams: list = dataclasses.field(default_factory=list)        # (name, params, default)

    def child(self) -> _Scope:
        return _Scope(list(self.floats), list(self.arrays), list(self.work), list(self.ints),
                      list(self.temps), list(self.ro), list(self.idxs), list(self.cfloats),
                      list(self.carrays), list(self.seqs), list(self.lams))

    def assignable(self) -> list[str]:
        """The floats a statement may assign (all of them outside a sum loop's body)."""
        return [f for f in self.floats if f not in self.ro] if self.ro else self.floats


@dataclasses.dataclass(frozen=True)
class _Ctx:
    fn: str = "main"            # main | scalar | tuple | writer
    depth: int = 0
    mult: int = 1               # static bound on executions per call of the function
    loop: str | None = None     # innermost loop: for | while
    loops: int = 0
    branch: bool = False
    fuse: bool = False          # in a sum loop's body: no jumps, stores or array names
    unrolled: bool = False      # in a loop over a container (srcgrad unrolls it): no jumps
    #                             out of it, no return

    def enter(self, **kw) -> _Ctx:
        kw.setdefault("depth", self.depth + 1)
        return dataclasses.replace(self, **kw)


@dataclasses.dataclass
class _Seq:
    """A container of floats the program may iterate over: a tuple, list or dict leaf of
    the container parameter, a local container or a list comprehension's result."""

    expr: ast.expr                  # how it is read: p["c"], lst0, zs0
    n: int                          # its length
    keys: list | None = None        # a dict's keys (None: a tuple or list)
    writable: bool = False          # a local list or dict (its elements may be assigned)
    kind: str = "tuple"             # tuple | list | dict


@dataclasses.dataclass
class _Helper:
    name: str
    kind: str                               # scalar | tuple | writer
    floats: list[str]                       # positional float parameters
    array: str | None                       # array parameter (after the floats), if any
    kwargs: list[tuple[str, float]]         # keyword parameters with defaults
    cost: int = 1                           # static bound on loop trips per call
    jumps: bool = False                     # has break, continue or an early return
    arrays: bool = False                    # computes array values (array temporaries)
    kwonly: bool = False                    # the keyword parameters are keyword-only (after *)
    nested: bool = False                    # defined inside the entry function (nested def)


#: NumPy functions of one argument: name -> (argument kind, bound of the result for an
#: argument bounded by b). "any": any bounded argument; "unit": squashed into [-1, 1];
#: "unit09": 0.9 times that; "pos": 1.5 + e * e or 2 + sin(e) (>= 1; b is its upper bound).
_NP_UNARY = {
    "sin": ("any", lambda b: 1.0), "cos": ("any", lambda b: 1.0),
    "tanh": ("any", lambda b: 1.0), "arctan": ("any", lambda b: 1.6),
    "arcsinh": ("any", lambda b: math.asinh(b)), "square": ("any", lambda b: b * b),
    "abs": ("any", lambda b: b), "absolute": ("any", lambda b: b),
    "fabs": ("any", lambda b: b),
    "degrees": ("any", lambda b: 57.3 * b), "rad2deg": ("any", lambda b: 57.3 * b),
    "radians": ("any", lambda b: b / 57.2), "deg2rad": ("any", lambda b: b / 57.2),
    "tan": ("unit", lambda b: 1.6), "sinh": ("unit", lambda b: 1.2),
    "cosh": ("unit", lambda b: 1.6), "exp": ("unit", lambda b: math.e),
    "expm1": ("unit", lambda b: 1.8), "exp2": ("unit", lambda b: 2.0),
    "arcsin": ("unit09", lambda b: 1.2), "arccos": ("unit09", lambda b: 2.7),
    "arctanh": ("unit09", lambda b: 1.5),
    "log": ("pos", lambda b: math.log(b)), "log1p": ("pos", lambda b: math.log1p(b)),
    "log10": ("pos", lambda b: math.log10(b)), "log2": ("pos", lambda b: math.log2(b)),
    "sqrt": ("pos", lambda b: math.sqrt(b)), "cbrt": ("pos", lambda b: b ** (1 / 3)),
    "arccosh": ("pos", lambda b: math.acosh(b)),
}
#: math functions of one argument the older forms do not make (same kinds)
_MATH_UNARY = {
    "tan": ("unit", lambda b: 1.6), "asin": ("unit09", lambda b: 1.2),
    "acos": ("unit09", lambda b: 2.7), "sinh": ("unit", lambda b: 1.2),
    "cosh": ("unit", lambda b: 1.6), "asinh": ("any", lambda b: math.asinh(b)),
    "acosh": ("pos", lambda b: math.acosh(b)), "atanh": ("unit09", lambda b: 1.5),
    "expm1": ("unit", lambda b: 1.8), "exp2": ("unit", lambda b: 2.0),
    "log1p": ("pos", lambda b: math.log1p(b)), "log10": ("pos", lambda b: math.log10(b)),
    "log2": ("pos", lambda b: math.log2(b)), "fabs": ("any", lambda b: b),
    "erf": ("any", lambda b: 1.0), "erfc": ("any", lambda b: 2.0),
    "degrees": ("any", lambda b: 57.3 * b), "radians": ("any", lambda b: b / 57.2),
}


def _may_alias(e: ast.expr) -> bool:
    """Is the array expression possibly a view of (or the same array as) another array:
    a slice, ``.T``, a reshape, a transpose, ``np.asarray``?"""
    if isinstance(e, ast.Subscript):     # (p["W"], p[0]: a container's leaf itself)
        return isinstance(e.slice, (ast.Slice, ast.Constant))
    if isinstance(e, ast.Attribute):
        return e.attr == "T"
    if isinstance(e, ast.Call):
        fn = e.func
        return isinstance(fn, ast.Attribute) and fn.attr in ("reshape", "transpose", "asarray")
    return False


class _NoAugOnNames(ast.NodeTransformer):
    """``a += e`` -> ``a = a + e`` (for programs with a 0-d array parameter)."""

    def visit_AugAssign(self, node):
        if isinstance(node.target, ast.Name):
            return ast.Assign([_store(node.target.id)],
                              ast.BinOp(_name(node.target.id), node.op, node.value))
        return node


def _spec_leaves(spec, path=()):
    """``(path, leaf spec)`` of every leaf of a container structure (_Gen.container_spec)."""
    if spec[0] in ("tuple", "list", "dict"):
        items = spec[1] if spec[0] == "dict" else list(enumerate(spec[1]))
        for k, v in items:
            yield from _spec_leaves(v, path + (k,))
    else:
        yield path, spec


def _root(e: ast.expr) -> str | None:
    """The name a chain of subscripts reads from (``p`` of ``p["enc"]["w"]``)."""
    while isinstance(e, ast.Subscript):
        e = e.value
    return e.id if isinstance(e, ast.Name) else None


_FLOAT_POOL = list("abcdegqrst")
_LOOP_POOL = ["i", "j", "l"]


class _Gen:
    def __init__(self, ch: Chooser, profile: Profile) -> None:
        self.ch = ch
        self.p = profile
        self.features: set[str] = set()
        self.helpers: list[_Helper] = []
        self.visible: list[_Helper] = []
        self.L = 0
        self.len_name: str | None = None
        self.in_helper = False
        self.param_write = False
        self.calls = 0
        self._helper_defs: list[tuple[_Helper, ast.FunctionDef]] = []
        self.must_use: list[str] = []       # names final() adds to the result (sum loops)
        self.array_exprs = 0                # array expressions generated so far
        self.sum_loops = 0
        self.zero_d = False
        self.mats = 0                       # matrices made so far (names M0, M1, ...)
        self.uses_scipy = False             # scipy.special calls (the module imports it)
        self.surface = False                # may make NumPy-surface statements
        self.jax = False                    # JAX habits: a container parameter, s_jax, ...
        self.pinned: set[str] = set()       # floats a closure reads: never rebound to arrays
        self.cont: tuple | None = None      # the container parameter's structure (spec)
        self.extra_terms: list = []         # terms final() adds (the container's leaves)
        self.nested_def: _Helper | None = None
        self._reset()

    # names -----------------------------------------------------------------------------

    def _reset(self) -> None:
        self.counts: Counter = Counter()
        self.peak = 1

    def fresh(self, kind: str) -> str:
        k = self.counts[kind]
        self.counts[kind] += 1
        if kind == "float":
            return _FLOAT_POOL[k] if k < len(_FLOAT_POOL) else f"a{k}"
        if kind == "loop":
            return _LOOP_POOL[k] if k < len(_LOOP_POOL) else f"i{k}"
        return {"count": "it", "work": "w", "temp": "ar", "elem": "el", "acc": "tot",
                "carry": "k", "cur": "cur", "nxt": "nxt", "lam": "g", "list": "lst",
                "dict": "dct", "tuple": "tup", "comp": "zs", "key": "key", "cint": "ck",
                "carr": "cw"}[kind] + str(k)

    def feat(self, *names: str) -> None:
        self.features.update(names)

    # the program -------------------------------------------------------------------------

    def program(self) -> Program:
        ch, p = self.ch, self.p
        floats = ["x", "y", "z"][:ch.integer(1, p.max_floats)]
        n_arrays = ch.integer(1, p.max_arrays) if p.max_arrays and ch.chance(p.array_prob) else 0
        arrays = ["u", "v"][:n_arrays]
        self.L = ch.integer(2, 5) if arrays else 0
        has_n = ch.chance(80)
        self.param_write = bool(arrays) and ch.chance(8)
        # an int-array parameter (gathers and scatters at positions, some repeated)
        has_ids = bool(arrays) and ch.chance(p.new_prob // 2)
        # a float parameter passed as a 0-d array
        zero_d = ch.chance(p.new_prob // 10)
        self.zero_d = zero_d
        # JAX habits: a container parameter p after the arrays, comprehensions, lambdas,
        # nested defs (not chance(), as for the surface below)
        self.jax = bool(p.jax_prob) and ch.integer(0, 99) < p.jax_prob
        if self.jax:
            self.cont = self.container_spec()
        for k in range(ch.integer(0, p.max_helpers)):
            self.helpers.append(self.helper(k, bool(arrays)))
        self.visible = list(self.helpers)
        if self.jax and self.helpers and self.helpers[-1].kind != "writer" and ch.chance(40):
            # the last helper (no other one calls it) is defined inside the entry function
            self.nested_def = self.helpers[-1]
            self.nested_def.nested = True
        # the entry function may have NumPy-surface statements (not chance(): hypothesis
        # draws the top of a range far more often than its share, and the fast tier must
        # stay fast)
        self.surface = bool(p.surface_weight) and ch.integer(0, 99) < p.surface_prob
        main = self.main(floats, arrays, has_n, has_ids)
        module = ast.Module(
            [ast.Import([ast.alias("math")]), ast.Import([ast.alias("numpy", "np")]),
             *([ast.Import([ast.alias("scipy.special")])] if self.uses_scipy else []),
             *[h[1] for h in self._helper_defs if not h[0].nested], main], [])
        cont = ["p"] if self.jax else []
        entry, bound_n = "f", False
        if self.jax and ch.chance(25):     # the entry is a lambda or a functools.partial
            entry = "f_entry"
            if has_n and ch.chance(50):
                n_value = ch.integer(0, NMAX)
                value = _call("functools.partial", _name("f"), kw=[("n", _num(n_value))])
                module.body.insert(0, ast.Import([ast.alias("functools")]))
                bound_n = True
                self.feat("entry_partial")
            else:
                names = floats + arrays + cont + (["ids"] if has_ids else []) \
                    + (["n"] if has_n else [])
                value = ast.Lambda(_funcdef("_", names, [], []).args,
                                   _call("f", *[_name(a) for a in names]))
                self.feat("entry_lambda")
            module.body.append(_assign(entry, value))
        if zero_d:      # x += e would write into the 0-d array (and every alias of it)
            module = _NoAugOnNames().visit(module)
        source = ast.unparse(ast.fix_missing_locations(module)) + "\n"
        params = tuple(floats + arrays + cont + (["ids"] if has_ids else [])
                       + (["n"] if has_n and not bound_n else []))
        wrt = tuple(range(len(floats) + len(arrays) + len(cont)))
        api_wrt = None
        if self.jax and ch.chance(30):     # wrt by name: grad(f, wrt=("x", "p"))
            api_wrt = tuple(params[i] for i in wrt)
            self.feat("wrt_by_name")
        points = []
        for _ in range(p.points):
            pt = [ch.integer(-1500, 1500) / 1000 for _ in floats]
            if zero_d:
                pt[-1] = np.array(pt[-1])
            pt += [np.array([ch.integer(-1500, 1500) / 1000 for _ in range(self.L)])
                   for _ in arrays]
            if self.jax:
                pt.append(self.cont_value(self.cont))
            if has_ids:
                pt.append(np.array([ch.integer(0, self.L - 1) for _ in range(self.L)]))
            if has_n and not bound_n:
                pt.append(ch.integer(0, NMAX))
            points.append(tuple(pt))
        if arrays:
            self.feat("array_param")
        if has_ids:
            self.feat("int_array_param")
        if zero_d:
            self.feat("param_0d")
        return Program(source, entry, params, wrt, points, frozenset(self.features), api_wrt)

    def main(self, floats, arrays, has_n, has_ids=False) -> ast.FunctionDef:
        self._reset()
        ch = self.ch
        sc = _Scope(list(floats), list(arrays), list(arrays) if self.param_write else [],
                    [("n", 0, NMAX)] if has_n else [])
        body: list[ast.stmt] = []
        kwonly: list[tuple[str, ast.expr]] = []
        if ch.chance(self.p.new_prob // 4):     # def f(x, u, *, scale=0.5)
            kwonly.append(("scale", _num(ch.integer(-10, 10) / 10)))
            sc.floats.append("scale")
            self.feat("entry_kwonly")
        if arrays:
            body.append(_assign("m", _call("len", _name(arrays[0]))))
            sc.ints.append(("m", self.L, self.L))
            self.len_name = "m"
            if has_ids:
                sc.idxs.append("ids")
            if ch.chance(self.p.new_prob // 2):   # a constant index array, some repeated
                body.append(_assign("idx", _int_array(self.positions(self.L))))
                sc.idxs.append("idx")
                self.feat("index_array_const")
        if self.jax:
            body += self.cont_prelude(sc)
        if self.nested_def is not None:     # before any call of it
            body += self.emit_nested_def(sc)
        for _ in range(ch.integer(1, 3)):
            name = self.fresh("float")
            init = ch.weighted([(3, "param"), (2, "const"), (2, "expr")])
            if init == "param":
                value = _name(ch.pick(floats))
            elif init == "const":
                value = _num(ch.integer(-10, 10) / 10)
            else:
                value, _ = self.squash(*self.fexpr(sc, _Ctx(), 1))
            body.append(_assign(name, value))
            sc.floats.append(name)
        if arrays and ch.chance(60):
            body += self.s_new_work(sc, _Ctx())
        body += self.block(sc, _Ctx(), 1, self.p.max_stmts)
        body.append(ast.Return(self.ret(self.final(sc))))
        params = floats + arrays + (["p"] if self.jax else []) + (["ids"] if has_ids else []) \
            + (["n"] if has_n else [])
        return _funcdef("f", params, [], body, kwonly)

    def ret(self, e: ast.expr) -> ast.expr:
        """A returned value: with a 0-d array parameter, ``e + 0.0`` (a float, not the
        0-d array itself)."""
        return _bin(e, "+", _num(0.0)) if self.zero_d else e

    def positions(self, k: int) -> list[int]:
        """``k`` positions in 0..L-1, some repeated (when k > 1)."""
        ch = self.ch
        out = [ch.integer(0, self.L - 1) for _ in range(k)]
        if k > 1 and len(set(out)) == k:
            out[ch.integer(1, k - 1)] = out[0]
        return out

    def final(self, sc: _Scope) -> ast.expr:
        ch = self.ch
        terms = []
        locals_ = [f for f in sc.floats if f not in ("x", "y", "z")]
        for name in (locals_ or sc.floats)[-3:]:
            if not terms or ch.chance(70):
                terms.append(_name(name))
        if ch.chance(30):
            terms.append(_name(ch.pick(sc.floats)))
        for t in self.extra_terms:     # the container parameter's leaves reach the output
            if ch.chance(60):
                terms.append(_cp(t))
        for name in self.must_use:     # a sum loop's result reaches the output
            if name in sc.floats and not any(isinstance(t, ast.Name) and t.id == name
                                             for t in terms):
                terms.append(_name(name))
        for w in sc.work + sc.temps:
            if ch.chance(70):
                form = ch.pick(["sum", "dot", "sumsq"])
                if form == "sum":
                    terms.append(_call("np.sum", _name(w)))
                    self.feat("np_sum")
                elif form == "dot":
                    terms.append(_call("np.dot", _name(w), _name(ch.pick(sc.arrays))))
                    self.feat("np_dot")
                else:
                    terms.append(_call("np.sum", _bin(_name(w), "*", _name(w))))
                    self.feat("np_sum", "arr_mul")
        out = terms[0]
        for t in terms[1:]:
            if ch.chance(40):
                t = _bin(_num(ch.integer(-20, 20) / 10), "*", t)
            out = _bin(out, ch.pick(["+", "-"]), t)
        return out

    # helpers ---------------------------------------------------------------------------

    def helper(self, k: int, has_arrays: bool) -> _Helper:
        ch = self.ch
        self._reset()
        self.in_helper = True
        self.visible = list(self.helpers)
        opts = [(3, "scalar"), (1, "tuple")]
        if has_arrays:
            opts.append((2, "writer"))
        kind = ch.weighted(opts)
        floats = ["p0", "p1"][:ch.integer(1, 2)]
        array = "buf" if kind == "writer" else ("arr" if has_arrays and ch.chance(40) else None)
        kwargs = [(nm, ch.integer(-10, 10) / 10) for nm in ["sc", "off"][:ch.integer(0, 2)]]
        h = _Helper(f"h{k}", kind, floats, array, kwargs)
        h.kwonly = bool(kwargs) and ch.chance(self.p.new_prob // 2)
        if h.kwonly:
            self.feat("helper_kwonly")
        sc = _Scope(floats + [nm for nm, _ in kwargs], [array] if array else [],
                    [array] if kind == "writer" else [], [])
        body: list[ast.stmt] = []
        saved_len = getattr(self, "len_name", None)
        self.len_name = None
        if array:
            body.append(_assign("m", _call("len", _name(array))))
            sc.ints.append(("m", self.L, self.L))
            self.len_name = "m"
        ctx = _Ctx(fn=kind, depth=1)
        arrays_before = self.array_exprs
        if kind == "writer":
            body += self.writer_loop(sc, ctx)
        body += self.block(sc, ctx, 0 if kind == "writer" else 1, self.p.helper_stmts)
        if kind == "scalar":
            body.append(ast.Return(self.squash(*self.fexpr(sc, ctx, self.ch.integer(0, 2)))[0]))
        elif kind == "tuple":
            body.append(ast.Return(ast.Tuple([self.squash(*self.fexpr(sc, ctx, 1))[0],
                                              self.squash(*self.fexpr(sc, ctx, 1))[0]],
                                             ast.Load())))
        self.len_name = saved_len
        self.in_helper = False
        h.cost = self.peak
        h.arrays = self.array_exprs > arrays_before
        returns = [nd for nd in ast.walk(ast.Module(body, [])) if isinstance(nd, ast.Return)]
        h.jumps = any(isinstance(nd, (ast.Break, ast.Continue))
                      for nd in ast.walk(ast.Module(body, []))) \
            or any(r is not body[-1] for r in returns)
        if kind == "writer":
            params = [array] + floats
        else:
            params = floats + ([array] if array else [])
        if h.kwonly:
            fdef = _funcdef(h.name, params, [], body, [(nm, _num(v)) for nm, v in kwargs])
        else:
            params += [nm for nm, _ in kwargs]
            fdef = _funcdef(h.name, params, [_num(v) for _, v in kwargs], body)
        self._helper_defs.append((h, fdef))
        return h

    def writer_loop(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """The loop every writer helper has: a write into ``buf`` at every (other) index."""
        ch = self.ch
        var = self.fresh("loop")
        form = ch.pick(["up", "step", "down"])
        m = _name("m")
        if form == "up":
            rng = _call("range", m)
        elif form == "step":
            rng = _call("range", _num(ch.integer(0, 1)), m, _num(2))
        else:
            rng = _call("range", _bin(m, "-", _num(1)), _num(-1), _num(-1))
        inner = sc.child()
        inner.ints.append((var, 0, self.L - 1))
        ictx = ctx.enter(mult=ctx.mult * self.L, loop="for", loops=ctx.loops + 1)
        self.peak = max(self.peak, ictx.mult)
        body = self.s_write(inner, ictx, index=_name(var))
        body += self.block(inner, ictx, 0, 2)
        return [ast.For(_store(var), rng, body, [])]

    def call_args(self, h: _Helper, sc: _Scope, ctx: _Ctx, array_arg: str | None = None):
        ch = self.ch
        self.calls += 1
        args = []
        if h.kind == "writer":
            args.append(_name(array_arg))
        for _ in h.floats:
            args.append(self.squash(*self.fexpr(sc, ctx, ch.integer(0, 1)))[0])
        if h.array and h.kind != "writer":
            args.append(_name(ch.pick(sc.arrays)))
        kws = []
        for nm, _ in h.kwargs:
            mode = ch.weighted([(2, "default"), (2, "keyword"), (1, "positional")])
            if mode == "keyword":
                kws.append((nm, self.squash(*self.fexpr(sc, ctx, 0))[0]))
                self.feat("helper_kw")
            elif mode == "positional" and not kws and not h.kwonly:
                args.append(self.squash(*self.fexpr(sc, ctx, 0))[0])
            else:
                self.feat("helper_default")
        if len(kws) > 1 and ch.chance(50):
            kws.reverse()
        if h.kind != "writer" and len(args) == 1 and not h.array and not kws and ch.chance(20):
            kws = [(h.floats[0], args.pop())]      # the only float parameter by keyword
            self.feat("helper_kw")
        if self.in_helper:
            self.feat("helper_calls_helper")
        if ctx.loops:
            self.feat("helper_in_loop")
        if ctx.branch:
            self.feat("helper_in_branch")
        call = _call(h.name, *args)
        call.keywords = [ast.keyword(k, v) for k, v in kws]
        return call

    def callable_helpers(self, sc: _Scope, ctx: _Ctx, kinds: tuple[str, ...]) -> list[_Helper]:
        if self.calls >= self.p.max_calls:
            return []
        return [h for h in self.visible if h.kind in kinds
                and ctx.mult * h.cost <= self.p.max_trips
                and not (ctx.fuse and (h.jumps or h.arrays))
                and (sc.work if h.kind == "writer" else sc.arrays if h.array else True)]

    # blocks and statements --------------------------------------------------------------

    def block(self, sc: _Scope, ctx: _Ctx, lo: int, hi: int) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for _ in range(self.ch.integer(lo, hi)):
            out += self.stmt(sc, ctx)
        return out

    def stmt(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        p = self.p
        opts = [(6, "assign"), (4, "aug")]
        if len(sc.assignable()) >= 2:
            opts.append((2, "swap"))
        if ctx.depth < p.max_depth:
            opts += [(3, "if"), (3, "for"), (2, "while")]
        if ctx.loop and not ctx.fuse:
            opts.append((2, "jump"))
        if ctx.fn in ("main", "scalar", "tuple") and not ctx.fuse and not ctx.unrolled \
                and (ctx.depth > (1 if ctx.fn != "main" else 0)):
            opts.append((1, "return"))
        if sc.work and not ctx.fuse:
            opts.append((3, "write"))
        if sc.arrays and self.len_name and not ctx.fuse:
            opts += [(1, "new_work"), (1, "arr_assign")]
        if sc.work and not ctx.fuse and self.callable_helpers(sc, ctx, ("writer",)):
            opts.append((2, "call_writer"))
        if self.callable_helpers(sc, ctx, ("tuple",)):
            opts.append((1, "call_tuple"))
        if p.new_prob and not ctx.fuse:
            # (scatters and buffers write in place: autograd cannot check those programs)
            w = max(1, p.new_prob // 20)
            opts.append((w, "matrix"))
            if sc.work and self.len_name:
                opts.append((1, "scatter"))
            if sc.arrays and self.len_name and ctx.mult * 2 * self.L <= p.max_trips \
                    and ctx.depth < p.max_depth:
                opts.append((1, "buffers"))
            if ctx.fn == "main" and ctx.depth == 0 and self.len_name:
                opts.append((1, "rebind_type"))
            # the NumPy surface: linear algebra, statistics, shapes, ufuncs, scipy.special
            if self.surface:
                opts.append((p.surface_weight, "surface"))
        if self.jax and not ctx.fuse:
            opts.append((p.jax_weight, "jax"))
        # last: hypothesis draws the highest choice often (its fast tier relies on many)
        if ctx.fn == "main" and ctx.depth == 0 and self.sum_loops < 2 and p.sum_loop_weight:
            opts.append((p.sum_loop_weight, "sum_loop"))
        kind = self.ch.weighted(opts)
        return getattr(self, "s_" + kind)(sc, ctx)

    def rhs(self, sc, ctx, limit=VB):
        return self.squash(*self.fexpr(sc, ctx, self.ch.integer(0, self.p.max_expr)), limit)[0]

    def s_assign(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        value = self.rhs(sc, ctx)
        targets = sc.assignable()
        if targets and ch.chance(60):
            target = ch.pick(targets)
            if target in ("x", "y", "z", "p0", "p1"):
                self.feat("param_reassign")
            if target.startswith("el"):
                self.feat("loop_var_rebind")
        else:
            target = self.fresh("float")
            sc.floats.append(target)
        if ctx.loops:
            self.feat("assign_in_loop")
        return [_assign(target, value)]

    def incr(self, ctx: _Ctx) -> float:
        mult = ctx.mult * (HELPER_MULT if ctx.fn != "main" else 1)
        return _round(self.ch.integer(1, 5) / 10 / mult)

    def bounded1(self, sc, ctx) -> ast.expr:
        """An expression with values in [-1, 1]."""
        ch = self.ch
        form = ch.weighted([(2, "const"), (2, "cos"), (2, "tanh"), (1, "sin"), (1, "sigmoid")])
        if form == "const":
            return _num(ch.integer(-95, 95) / 100)
        e = self.fexpr(sc, ctx, ch.integer(0, 1))[0]
        if form == "sigmoid":
            self.feat("math_tanh")
            return _bin(_num(0.5), "+", _bin(_num(0.5), "*", _call("math.tanh", e)))
        self.feat("math_" + form)
        return _call("math." + form, e)

    def denominator(self, sc, ctx) -> ast.expr:
        """An expression with values >= 1."""
        ch = self.ch
        e, b = self.fexpr(sc, ctx, ch.integer(0, 1))
        form = ch.pick(["sq", "abs", "cos"]) if _size(e) <= 6 else ch.pick(["abs", "cos"])
        if form == "sq":
            return _bin(_num(1.5), "+", _bin(e, "*", _cp(e)))
        if form == "abs":
            self.feat("abs")
            return _bin(_num(1.0), "+", _call("abs", e))
        self.feat("math_cos")
        return _bin(_num(2.0), "+", _call("math.cos", e))

    def s_aug(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        if not sc.assignable():
            return self.s_assign(sc, ctx)
        v = ch.pick(sc.assignable())
        target = _store(v)
        form = ch.weighted([(3, "add"), (2, "mul"), (2, "div"), (2, "relax")])
        self.feat("aug_" + form)
        if form == "add":
            term = _bin(_num(self.incr(ctx)), "*", self.rhs(sc, ctx, 1.0 * VB))
            return [_aug(target, ch.pick(["+", "-"]), term)]
        if form == "mul":
            return [_aug(target, "*", self.bounded1(sc, ctx))]
        if form == "div":
            return [_aug(target, "/", self.denominator(sc, ctx))]
        c = _num(ch.integer(1, 9) / 10)
        return [_aug(target, "+", _bin(c, "*", _bin(self.rhs(sc, ctx), "-", _name(v))))]

    def s_swap(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        names = sc.assignable()
        a = ch.pick(names)
        b = ch.pick([f for f in names if f != a])
        form = ch.weighted([(2, "mul"), (2, "affine"), (1, "parallel"), (1, "three")])
        if form == "three" and len(names) < 3:
            form = "mul"
        self.feat("swap")
        if form == "mul":
            values = [_name(b), _bin(_name(a), "*", self.bounded1(sc, ctx))]
            targets = [a, b]
        elif form == "affine":
            s = _call("math." + ch.pick(["tanh", "sin", "cos"]), self.fexpr(sc, ctx, 1)[0])
            values = [_name(b), _bin(_bin(_num(0.5), "*", _name(a)), "+", s)]
            targets = [a, b]
        elif form == "parallel":
            values = [self.rhs(sc, ctx), self.rhs(sc, ctx)]
            targets = [a, b]
        else:
            c = ch.pick([f for f in names if f not in (a, b)])
            values = [_name(b), _name(c), _bin(_name(a), "*", self.bounded1(sc, ctx))]
            targets = [a, b, c]
        return [ast.Assign([ast.Tuple([_store(t) for t in targets], ast.Store())],
                           ast.Tuple(values, ast.Load()))]

    def s_if(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        n_elif = ch.weighted([(3, 0), (2, 1), (1, 2)])
        has_else = ch.chance(50)
        inner = ctx.enter(branch=True)
        tests = [self.cond(sc, ctx) for _ in range(1 + n_elif)]
        bodies = [self.block(sc.child(), inner, 1, self.p.max_inner) for _ in tests]
        orelse = self.block(sc.child(), inner, 1, self.p.max_inner) if has_else else []
        self.feat("if")
        if n_elif:
            self.feat("elif")
        if has_else:
            self.feat("else")
        for t, b in reversed(list(zip(tests, bodies))):
            orelse = [ast.If(t, b, orelse)]
        return orelse

    def int_bounds(self, sc: _Scope, for_stop: bool) -> list[tuple[ast.expr, int, int, str]]:
        """Candidate range bounds: (expression, lowest value, highest value, what)."""
        out = [(_num(c), c, c, "const") for c in range(0, 6)]
        if for_stop:
            out.append((_num(-1), -1, -1, "const"))
        for name, lo, hi in sc.ints:
            what = "param" if name in ("n", "m") else "outer"
            out.append((_name(name), lo, hi, what))
            out.append((_bin(_name(name), "+", _num(1)), lo + 1, hi + 1, what))
        return out

    def s_for(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        opts = [(3, "stop"), (2, "start_stop"), (2, "step"), (2, "down")]
        if sc.arrays:
            opts += [(1, "iter"), (1, "enumerate")]
            if self.jax and "enumerate_start_array" not in self.p.avoid:
                opts.append((1, "enumerate_start"))
        form = ch.weighted(opts)
        inner = sc.child()
        reverse = self.jax and form in ("stop", "start_stop") and ch.chance(25) \
            and "reversed_range" not in self.p.avoid
        if form in ("iter", "enumerate", "enumerate_start"):
            trips = self.L
            if ctx.mult * trips > self.p.max_trips:
                return self.s_assign(sc, ctx)
            arr = ch.pick(sc.arrays)
            el = self.fresh("elem")
            inner.floats.append(el)
            if form == "iter":
                target, it = _store(el), _name(arr)
                self.feat("for_in_array")
            else:
                var = self.fresh("loop")
                start = 0 if form == "enumerate" else ch.integer(1, 2)
                inner.ints.append((var, start, start + self.L - 1))
                target = ast.Tuple([_store(var), _store(el)], ast.Store())
                it = _call("enumerate", _name(arr),
                           kw=[("start", _num(start))] if start else None)
                self.feat("for_enumerate" if form == "enumerate" else "for_enumerate_start_array")
        else:
            starts = self.int_bounds(sc, False)
            stops = self.int_bounds(sc, True)
            step = 1
            if form == "stop":
                start, stop = (_num(0), 0, 0, "const"), ch.pick(stops[1:])
            elif form in ("start_stop", "step"):
                start, stop = ch.pick(starts), ch.pick(stops)
                if form == "step":
                    step = ch.integer(2, 3)
            else:
                start, stop = ch.pick(starts), ch.pick(stops)
                step = -ch.integer(1, 2)
            if step > 0:
                span_hi, span_lo = stop[2] - start[1], stop[1] - start[2]
                var_lo, var_hi = start[1], stop[2] - 1
            else:
                span_hi, span_lo = start[2] - stop[1], start[1] - stop[2]
                var_lo, var_hi = stop[1] + 1, start[2]
            trips = max(0, -(-span_hi // abs(step)))
            if ctx.mult * max(trips, 1) > self.p.max_trips:
                if ctx.mult * 2 > self.p.max_trips:
                    return self.s_assign(sc, ctx)
                start, stop, step = (_num(0), 0, 0, "const"), (_num(2), 2, 2, "const"), 1
                trips, span_lo, var_lo, var_hi = 2, 2, 0, 1
            args = [stop[0]] if (start[3] == "const" and start[1] == 0 and step == 1) \
                else [start[0], stop[0]] + ([_num(step)] if step != 1 else [])
            var = self.fresh("loop")
            inner.ints.append((var, max(0, var_lo), max(0, var_lo, var_hi)))
            target, it = _store(var), _call("range", *args)
            if reverse:                     # for i in reversed(range(a, b))
                it = _call("reversed", it)
                self.feat("for_reversed_range")
            kinds = {start[3], stop[3]}
            self.feat("for_" + ("param" if "param" in kinds else "outer" if "outer" in kinds
                                else "const"))
            if step > 1:
                self.feat("for_step")
            if step < 0:
                self.feat("for_negstep")
            if span_lo <= 0:
                self.feat("for_maybe_zero_trip")
        ictx = ctx.enter(mult=ctx.mult * max(trips, 1), loop="for", loops=ctx.loops + 1)
        self.peak = max(self.peak, ictx.mult)
        if ctx.loops:
            self.feat("nested_loop")
        body = self.block(inner, ictx, 1, self.p.max_inner)
        return [ast.For(target, it, body, [])]

    def s_while(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        k = ch.integer(1, 6)
        while k > 1 and ctx.mult * k > self.p.max_trips:
            k -= 1
        if ctx.mult * k > self.p.max_trips:
            return self.s_assign(sc, ctx)
        cnt = self.fresh("count")
        inner = sc.child()
        ictx = ctx.enter(mult=ctx.mult * k, loop="while", loops=ctx.loops + 1)
        self.peak = max(self.peak, ictx.mult)
        form = ch.weighted([(3, "and"), (1, "and_rev")] + ([] if ctx.fuse else [(2, "break")]))
        data = self.cond(sc, ctx)
        limit = _cmp(_name(cnt), "<", _num(k))
        body: list[ast.stmt] = [_aug(_store(cnt), "+", _num(1))]
        inner.ints.append((cnt, 1, k))
        if form == "and":
            test = ast.BoolOp(ast.And(), [limit, data])
        elif form == "and_rev":
            test = ast.BoolOp(ast.And(), [data, limit])
        else:
            test = limit
            body.append(ast.If(self.cond(inner, ictx), [ast.Break()], []))
            self.feat("break")
        self.feat("while")
        body += self.block(inner, ictx, 1, self.p.max_inner)
        return [_assign(cnt, _num(0)), ast.While(test, body, [])]

    # sums over data points (srcgrad/fuse.py) ---------------------------------------------

    def s_sum_loop(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """A top-level loop summing independent iterations into one accumulator
        (``tot = tot + e``), whose adjoint srcgrad runs inside the forward sweep
        (srcgrad/fuse.py), or a near miss: the same loop with one thing that forbids that
        (a local read after the loop, a second carried variable, ...). Either way the
        gradient must be right. The body reads, and never assigns, the values from before
        the loop; it starts by defining its own locals, then branches, loops and math over
        them; it stores into no array and has no break or return (``_Ctx.fuse``)."""
        ch = self.ch
        self.sum_loops += 1
        has_arrays = bool(sc.arrays and self.len_name)
        misses = [(2, "read_after"), (2, "carried"), (2, "int_carried"), (2, "acc_read"),
                  (2, "break"), (1, "return"), (1, "sub_from"), (1, "two_acc"),
                  (1, "two_updates"), (2, "update_in_branch"), (1, "target_after")]
        if has_arrays:
            misses.append((2, "store"))
        positive = round(sum(w for w, _ in misses) * SUM_LOOP_POSITIVE / (100 - SUM_LOOP_POSITIVE))
        variant = ch.weighted([(positive, "sum"), *misses])
        if variant == "sum":
            self.feat("fused_sum")
        else:
            self.feat("fused_near_miss", "near_miss_" + variant)
        pre: list[ast.stmt] = []
        post: list[ast.stmt] = []
        if variant == "store" and not sc.work:
            pre += self.s_new_work(sc, ctx)
        # the accumulator
        reusable = [f for f in sc.assignable() if f not in ("x", "y", "z")]
        acc_form = ch.weighted([(4, "zero"), (1, "expr"), (1, "reuse")])
        if acc_form == "reuse" and reusable:
            acc = ch.pick(reusable)
            self.feat("fused_acc_reused")
        else:
            acc = self.fresh("acc")
            pre.append(_assign(acc, _num(0.0) if acc_form != "expr" else self.rhs(sc, ctx)))
        # the loop
        opts = [(2, "const")]
        if any(nm == "n" for nm, _, _ in sc.ints):
            opts.append((3, "n"))
        if has_arrays:
            opts += [(3, "m"), (2, "len"), (2, "shape"), (1, "start"), (1, "iter")]
        form = ch.weighted(opts)
        arr = ch.pick([a for a in sc.arrays if a in ("u", "v")]) if has_arrays else None
        var = elem = None
        m = _name(self.len_name) if has_arrays else None
        if form == "iter":
            elem = self.fresh("elem")
            target, it, lo, hi, trips = _store(elem), _name(arr), 0, 0, self.L
        else:
            var = self.fresh("loop")
            target = _store(var)
            if form == "const":
                k = ch.integer(1, 5)
                it, lo, hi = _call("range", _num(k)), 0, k - 1
            elif form == "n":
                it, lo, hi = _call("range", _name("n")), 0, NMAX - 1
            elif form == "m":
                it, lo, hi = _call("range", m), 0, self.L - 1
            elif form == "len":
                it, lo, hi = _call("range", _call("len", _name(arr))), 0, self.L - 1
            elif form == "shape":
                shape = ast.Attribute(_name(arr), "shape", ast.Load())
                it = _call("range", ast.Subscript(shape, _num(0), ast.Load()))
                lo, hi = 0, self.L - 1
            else:
                it, lo, hi = _call("range", _num(1), m), 1, self.L - 1
            trips = hi - lo + 1
        trips = max(trips, 1)
        self.feat("sum_range_" + form)
        ictx = ctx.enter(mult=ctx.mult * trips, loop="for", loops=ctx.loops + 1, fuse=True)
        self.peak = max(self.peak, ictx.mult)
        inner = sc.child()
        inner.floats = [f for f in inner.floats if f != acc]
        inner.ro = list(inner.floats)
        if var:
            inner.ints.append((var, lo, hi))
        if elem:
            inner.floats.append(elem)
        body: list[ast.stmt] = []
        carry = None
        if variant == "int_carried":
            carry = self.fresh("carry")
            pre.append(_assign(carry, _num(0)))
            inner.ints.append((carry, 0, self.L - 1 if has_arrays else trips))

        def data() -> ast.expr:
            """Something that changes from one iteration to the next."""
            if elem and ch.chance(70):
                return _name(elem)
            if carry and ch.chance(80):
                self.feat("int_in_float")
                return _sub(ch.pick(inner.arrays), _name(carry)) if has_arrays \
                    else _bin(_num(0.3), "*", _name(carry))
            if var and has_arrays:
                idx = _name(var) if hi < self.L else _bin(_name(var), "%", m)
                return _sub(ch.pick(inner.arrays), idx)
            params = [f for f in ("x", "y", "z") if f in inner.floats]
            if var and params:     # an active value, different in each iteration
                return _bin(_bin(_num(_round(ch.integer(1, 9) / 10 / max(hi, 1))), "*",
                                 _name(var)),
                            ch.pick(["+", "-", "*"]), _name(ch.pick(params)))
            return self.fleaf(inner, ictx)[0]

        # the iteration's own locals, each assigned before it is read
        locs: list[str] = []
        for k in range(ch.integer(1, 3)):
            name = self.fresh("float")
            how = ch.weighted([(4, "data"), (3, "expr"), (1, "zero")])
            if how == "data" or (carry and k == 0):
                leaf, b = self.fexpr(inner, ictx, ch.integer(0, 1))
                value = self.squash(_bin(data(), ch.pick(["*", "+", "-"]), leaf), VB * b)[0]
            elif how == "expr":
                value = self.rhs(inner, ictx)
            else:
                value = _num(0.0)
            if variant == "acc_read" and k == 0:
                value = _bin(value, "+", _bin(_num(0.5), "*", _call("math.tanh", _name(acc))))
                value = self.squash(value, VB + 0.5)[0]
            body.append(_assign(name, value))
            inner.floats.append(name)
            locs.append(name)
        cvar = None
        c = _round(ch.integer(5, 10) / 10 / trips)
        if variant == "carried":
            cvar = self.fresh("float")
            pre.append(_assign(cvar, self.rhs(sc, ctx) if ch.chance(50) else _num(0.5)))

        def carried() -> ast.stmt:
            if ch.chance(50):
                value = _call("math.sin", _bin(_name(cvar), "*", _name(ch.pick(locs))))
            else:
                value = _bin(_bin(_num(0.5), "*", _name(cvar)), "+",
                             _bin(_num(0.5), "*", _call("math.tanh", self.rhs(inner, ictx))))
            return _assign(cvar, value)

        def update() -> ast.stmt:
            """The accumulator's update, once, at the body's top level."""
            term = self.sum_term(inner, ictx, locs, c)
            if variant == "carried" and ch.chance(50):
                term = _bin(term, "+", _bin(_num(c), "*", _name(cvar)))
            if variant == "sub_from":
                uform = "rsub"
            else:
                uform = ch.weighted([(4, "add"), (2, "radd"), (2, "sub"), (1, "aug_add"),
                                     (1, "aug_sub")])
            if variant == "acc_read" and ch.chance(40):
                term = _bin(term, "*", _call("math.cos", _name(acc)))
            if variant == "sum":
                self.feat("sum_update_" + uform)
            if uform.startswith("aug"):
                return _aug(_store(acc), "+" if uform == "aug_add" else "-", term)
            a, t = _name(acc), term
            return _assign(acc, {"add": lambda: _bin(a, "+", t), "radd": lambda: _bin(t, "+", a),
                                 "sub": lambda: _bin(a, "-", t),
                                 "rsub": lambda: _bin(t, "-", a)}[uform]())

        # not last: what follows must not read the accumulator either
        early = ch.chance(25) and variant != "update_in_branch"
        if early:
            body.append(update())
        if variant == "carried" and ch.chance(50):
            body.append(carried())
            late_carry = False
        else:
            late_carry = variant == "carried"
        # an idiom of per-point losses
        if ch.chance(40):
            body += self.sum_idiom(inner, ictx, locs)
        body += self.block(inner, ictx, 0, self.p.max_inner)
        if variant in ("break", "return"):
            test = self.cond(inner, ictx)
            leave = ast.Break() if variant == "break" else \
                ast.Return(self.ret(self.rhs(inner, ictx)))
            body.append(ast.If(test, [leave], []))
        if late_carry:
            body.append(carried())
        if variant == "store":
            idx = (_name(var) if hi < self.L else _bin(_name(var), "%", m)) \
                if var and ch.chance(70) else None
            body += self.s_write(inner, ictx, index=idx)
        if variant == "update_in_branch":     # a conditional sum
            test = self.cond(inner, ictx)
            body.append(ast.If(test, [update()], [update()] if ch.chance(30) else []))
        elif not early:
            body.append(update())
        if variant == "two_updates":
            body.append(update())
        if variant == "two_acc":
            acc2 = self.fresh("acc")
            pre.append(_assign(acc2, _num(0.0)))
            body.append(_assign(acc2, _bin(_name(acc2), "+", self.sum_term(inner, ictx, locs, c))))
            sc.floats.append(acc2)
            self.must_use.append(acc2)
        if carry:
            step = ch.integer(1, 2)
            value = _bin(_bin(_name(carry), "+", _num(step)), "%", m) if has_arrays \
                else _bin(_name(carry), "+", _num(1))
            body.append(_assign(carry, value))
            if has_arrays:
                sc.ints.append((carry, 0, self.L - 1))
        # locals before and after the loop
        if variant == "target_after":        # the loop variable, after the loop
            if elem:
                pre.append(_assign(elem, _num(0.0)))
                read = _bin(_num(0.5), "*", _name(elem))
                sc.floats.append(elem)
            else:
                pre.append(_assign(var, _num(0)))
                read = _bin(_num(0.1), "*", _name(var))
                sc.ints.append((var, 0, hi))
            post.append(_assign(acc, _bin(_name(acc), "+", read)))
        if variant == "read_after":
            name = ch.pick(locs)
            pre.append(_assign(name, _num(0.0) if ch.chance(50) else self.rhs(sc, ctx)))
            post.append(_assign(acc, _bin(_name(acc), "+", _bin(_num(0.5), "*", _name(name)))))
            sc.floats.append(name)
        elif ch.chance(20):      # a local also defined before the loop, not read after it
            name = ch.pick(locs)
            pre.append(_assign(name, self.rhs(sc, ctx)))
            self.feat("sum_local_before")
        if acc not in sc.floats:
            sc.floats.append(acc)
        if cvar:
            sc.floats.append(cvar)
        if ch.chance(25):        # re-assigned (not read) after the loop, then used
            name = ch.pick(locs)
            post.append(_assign(name, self.rhs(sc, ctx)))
            if name not in sc.floats:
                sc.floats.append(name)
            self.feat("sum_local_after")
        self.must_use.append(acc)
        return pre + [ast.For(target, it, body, [])] + post

    def sum_term(self, sc: _Scope, ctx: _Ctx, locs: list[str], c: float) -> ast.expr:
        """What one iteration adds to the sum (mostly of its locals), scaled by ``c``
        (about 1 / trips) so that the sum stays within about [-VB, VB]."""
        ch = self.ch
        pool = locs + [f for f in sc.assignable() if f not in locs]
        base = _name(ch.pick(pool))
        form = ch.weighted([(3, "name"), (2, "mul"), (2, "fn"), (1, "expr")])
        if form == "name":
            e = base
        elif form == "mul":
            leaf, b = self.fexpr(sc, ctx, 1)
            e = self.squash(_bin(base, "*", leaf), VB * b)[0]
        elif form == "fn":
            fn = ch.pick(["tanh", "sin", "cos", "exp", "log", "sq"])
            self.feat("math_" + fn if fn != "sq" else "pow")
            if fn == "exp":
                e = _call("math.exp", _call("math.sin", base))
            elif fn == "log":
                e = _call("math.log", _bin(_num(1.0), "+", _bin(base, "*", _cp(base))))
            elif fn == "sq":
                e = _bin(_bin(base, "*", _cp(base)), "/", _num(3.0))
            else:
                e = _call("math." + fn, base)
        else:
            e = self.rhs(sc, ctx)
        if form == "name" and (c >= 0.5 or ch.chance(25)):
            return e        # tot = tot + loss (the sum reaches about trips * VB)
        return _bin(_num(c), "*", e)

    def sum_idiom(self, sc: _Scope, ctx: _Ctx, locs: list[str]) -> list[ast.stmt]:
        """A per-point computation: an inner sum, a running maximum, or a streaming
        log-sum-exp (``m = max(m, t)`` by branches, rescaling ``s``)."""
        ch = self.ch
        kind = ch.pick(["inner_sum", "running_max", "stream_lse"])
        K = self.L if self.len_name and ch.chance(60) else ch.integer(2, 4)
        if ctx.mult * K > self.p.max_trips:
            return []
        self.feat("sum_idiom_" + kind)
        j = self.fresh("loop")
        jsc = sc.child()
        jsc.ints.append((j, 0, K - 1))
        jctx = ctx.enter(mult=ctx.mult * K, loop="for", loops=ctx.loops + 1)
        self.peak = max(self.peak, jctx.mult)
        rng = _call("range", _name(self.len_name) if K == self.L and self.len_name else _num(K))
        if kind == "inner_sum":
            s = self.fresh("float")
            term = _bin(_num(_round(1.0 / K)), "*", self.rhs(jsc, jctx))
            upd = _aug(_store(s), "+", term) if ch.chance(30) else \
                _assign(s, _bin(_name(s), "+", term))
            sc.floats.append(s)
            self.feat("nested_loop")
            return [_assign(s, _num(0.0)), ast.For(_store(j), rng, [upd], [])]
        if kind == "running_max":
            mx = ch.pick(locs)
            t = self.fresh("float")
            once = ch.chance(40)        # one candidate, or one per inner iteration
            step = [_assign(t, self.rhs(sc, ctx) if once else self.rhs(jsc, jctx)),
                    ast.If(_cmp(_name(t), ch.pick([">", "<"]), _name(mx)),
                           [_assign(mx, _name(t))], [])]
            if once:
                return step
            self.feat("nested_loop")
            return [ast.For(_store(j), rng, step, [])]
        mx, s, t, out = (self.fresh("float") for _ in range(4))
        e0 = self.rhs(sc, ctx)
        jsc.floats.append(mx)
        loop = ast.For(_store(j), rng, [
            _assign(t, self.rhs(jsc, jctx)),
            ast.If(_cmp(_name(t), ">", _name(mx)),
                   [_assign(s, _bin(_bin(_name(s), "*", _call("math.exp",
                                                              _bin(_name(mx), "-", _name(t)))),
                                    "+", _num(1.0))),
                    _assign(mx, _name(t))],
                   [_assign(s, _bin(_name(s), "+", _call("math.exp",
                                                         _bin(_name(t), "-", _name(mx)))))])],
            [])
        sc.floats += [mx, out]
        self.feat("math_exp", "math_log", "if", "else", "nested_loop")
        return [_assign(mx, e0), _assign(s, _num(1.0)), loop,
                _assign(out, _bin(_num(0.5), "*", _bin(_call("math.log", _name(s)), "+",
                                                      _name(mx))))]

    def s_jump(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        kind = ch.pick(["break", "continue"])
        self.feat(kind)
        inner = ctx.enter(branch=True)
        test = self.cond(sc, ctx)
        pre = self.block(sc.child(), inner, 0, 1)
        return [ast.If(test, pre + [ast.Break() if kind == "break" else ast.Continue()], [])]

    def s_return(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        # (never inside a loop over a container: stmt() leaves it out there)
        inner = ctx.enter(branch=True)
        test = self.cond(sc, ctx)
        isc = sc.child()
        pre = self.block(isc, inner, 0, 1)
        if ctx.fn == "tuple":
            value = ast.Tuple([self.rhs(isc, ctx), self.rhs(isc, ctx)], ast.Load())
        else:
            value = self.rhs(isc, ctx)
            if ctx.fn == "main":
                value = self.ret(value)
        self.feat("return_early")
        if ctx.loops:
            self.feat("return_in_loop")
        if ctx.loops >= 2:
            self.feat("return_in_nested_loops")
        return [ast.If(test, pre + [ast.Return(value)], [])]

    def index(self, sc: _Scope, simple: bool = False) -> ast.expr:
        """An index expression in range for the program's arrays; ``simple``: at most one
        operation (a constant, ``i`` or ``i % m``)."""
        ch = self.ch
        L = self.L
        m = _name(self.len_name)
        ints = [(n, lo, hi) for n, lo, hi in sc.ints if n != "m"]
        opts = [(2, "const")]
        if ints:
            opts.append((4, "var"))
            if not simple:
                opts += [(2, "shift"), (1, "two"), (1, "neg"), (1, "rev"), (1, "min")]
                if sc.idxs:
                    opts.append((2, "gathered"))
        form = ch.weighted(opts)
        if form == "gathered":      # a position read from an index array: idx[i]
            name, lo, hi = ch.pick(ints)
            i = _name(name) if 0 <= lo and hi < L else _bin(_name(name), "%", m)
            self.feat("index_from_array")
            return _sub(ch.pick(sc.idxs), i)
        if form == "const":
            k = ch.integer(-L, L - 1)
            if k < 0:
                self.feat("index_negative")
            return _num(k)
        name, lo, hi = ch.pick(ints)
        i = _name(name)
        self.feat("index_computed")
        if form == "var":
            if 0 <= lo and hi < L:
                return i
            return _bin(i, "%", m)
        if form == "shift":
            return _bin(_bin(i, "+", _num(ch.integer(1, 3))), "%", m)
        if form == "two":
            other = ch.pick(ints)[0]
            return _bin(_bin(i, "+", _name(other)), "%", m)
        if form == "neg":
            self.feat("index_negative")
            return _bin(_num(-1), "-", _bin(i, "%", m))
        if form == "rev":
            return _bin(_bin(m, "-", _num(1)), "-", _bin(i, "%", m))
        self.feat("min")
        return _call("min", i, _bin(m, "-", _num(1)))

    def s_write(self, sc: _Scope, ctx: _Ctx, index: ast.expr | None = None) -> list[ast.stmt]:
        ch = self.ch
        w = ch.pick(sc.work)
        form = ch.weighted([(3, "set"), (3, "add"), (1, "mul"), (2, "mix")])
        simple = form in ("add", "mul") and "aug_write_index" in self.p.avoid
        idx = index if index is not None else self.index(sc, simple=simple)
        if w in ("u", "v"):
            self.feat("param_write")
        self.feat("elem_write", "elem_" + form)
        if ctx.loops:
            self.feat("elem_write_in_loop")
        if form == "set":
            return [ast.Assign([_sub(w, idx, True)], self.rhs(sc, ctx))]
        if form == "add":
            term = _bin(_num(self.incr(ctx)), "*", self.rhs(sc, ctx))
            return [_aug(_sub(w, idx, True), ch.pick(["+", "-"]), term)]
        if form == "mul":
            return [_aug(_sub(w, idx, True), "*", self.bounded1(sc, ctx))]
        other = _sub(w, self.index(sc))
        s = _call("math." + ch.pick(["tanh", "sin", "cos"]), self.fexpr(sc, ctx, 1)[0])
        value = _bin(_bin(_num(0.5), "*", other), "+", _bin(_num(0.5), "*", s))
        return [ast.Assign([_sub(w, idx, True)], value)]

    def s_new_work(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        rebind = [w for w in sc.work if w not in ("u", "v", "buf")]
        if rebind and ch.chance(30):
            name = ch.pick(rebind)
            self.feat("array_rebind")
        else:
            name = self.fresh("work")
        self.array_exprs += 1
        src = ch.pick([a for a in sc.arrays if a not in sc.temps] or sc.arrays)
        if "inactive_work_array" in self.p.avoid:   # copies of (active) arrays only
            form = ch.weighted([(3, "copy"), (1, "np_copy"), (1, "scaled")])
        else:
            form = ch.weighted([(3, "zeros"), (3, "copy"), (1, "zeros_like"), (1, "np_copy"),
                                (1, "ones"), (1, "scaled")])
        m = _name(self.len_name)
        value = {"zeros": lambda: _call("np.zeros", m),
                 "copy": lambda: ast.Call(ast.Attribute(_name(src), "copy", ast.Load()), [], []),
                 "zeros_like": lambda: _call("np.zeros_like", _name(src)),
                 "np_copy": lambda: _call("np.copy", _name(src)),
                 "ones": lambda: _call("np.ones", m),
                 "scaled": lambda: _bin(_name(src), "*", _num(ch.integer(1, 9) / 10))}[form]()
        self.feat("work_" + form)
        if ctx.loops:
            self.feat("work_in_loop")
        if name not in sc.work:
            sc.work.append(name)
            sc.arrays.append(name)
        return [_assign(name, value)]

    def s_arr_assign(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        e, b = self.aexpr(sc, ctx, ch.integer(1, 2))
        if isinstance(e, ast.Name) or b > VB or _may_alias(e):
            e = _call("np.tanh", e)
            self.feat("np_tanh")
        if sc.temps and ch.chance(40):
            name = ch.pick(sc.temps)
            self.feat("array_rebind")
        else:
            name = self.fresh("temp")
        stmt = _assign(name, e)
        if name not in sc.temps:
            sc.temps.append(name)
            sc.arrays.append(name)
        return [stmt]

    def s_call_writer(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        h = self.ch.pick(self.callable_helpers(sc, ctx, ("writer",)))
        self.peak = max(self.peak, ctx.mult * h.cost)
        self.feat("helper_writer")
        w = self.ch.pick([w for w in sc.work])
        return [ast.Expr(self.call_args(h, sc, ctx, array_arg=w))]

    def s_call_tuple(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        h = ch.pick(self.callable_helpers(sc, ctx, ("tuple",)))
        self.peak = max(self.peak, ctx.mult * h.cost)
        call = self.call_args(h, sc, ctx)
        targets = []
        for _ in range(2):
            if sc.assignable() and ch.chance(50):
                t = ch.pick(sc.assignable())
                if t in targets:
                    t = self.fresh("float")
            else:
                t = self.fresh("float")
            targets.append(t)
        for t in targets:
            if t not in sc.floats:
                sc.floats.append(t)
        self.feat("helper_tuple")
        return [ast.Assign([ast.Tuple([_store(t) for t in targets], ast.Store())], call)]

    # conditions and expressions ------------------------------------------------------------

    def cond(self, sc: _Scope, ctx: _Ctx, depth: int = 0) -> ast.expr:
        ch = self.ch
        ints = [(n, lo, hi) for n, lo, hi in sc.ints]
        opts = [(6, "const"), (2, "expr")]
        if ints:
            opts.append((2, "int"))
        opts.append((1, "chain"))
        if depth == 0:
            opts += [(1, "bool"), (1, "not")]
        if self.jax and sc.seqs:
            opts.append((2, "anyall"))
        if self.jax and any(q.keys for q in sc.seqs):
            opts.append((1, "key_in"))
        form = ch.weighted(opts)
        if form in ("anyall", "key_in"):
            return self.jax_cond(sc, ctx, form)
        if form != "int":
            self.feat("cond_data")
        if form == "const":
            e = self.fexpr(sc, ctx, ch.integer(0, 2))[0]
            if sc.floats and not any(isinstance(nd, ast.Name) for nd in ast.walk(e)) \
                    and not ch.chance(10):
                e = _bin(e, "+", _name(ch.pick(sc.floats)))
            return _cmp(e, ch.pick(["<", ">", "<=", ">="]), _num(ch.integer(-80, 80) / 100))
        if form == "expr":
            return _cmp(self.fexpr(sc, ctx, 1)[0], ch.pick(["<", ">"]), self.fexpr(sc, ctx, 1)[0])
        if form == "int":
            self.feat("cond_int")
            name, lo, hi = ch.pick(ints)
            sub = ch.pick(["mod", "lt", "eq", "gt_other"])
            if sub == "mod":
                return _cmp(_bin(_name(name), "%", _num(2)), "==", _num(ch.integer(0, 1)))
            if sub == "lt":
                return _cmp(_name(name), "<", _num(ch.integer(lo, hi + 1)))
            if sub == "eq":
                return _cmp(_name(name), "==", _num(ch.integer(lo, hi)))
            return _cmp(_name(name), ">", _name(ch.pick(ints)[0]))
        if form == "chain":
            self.feat("cond_chain")
            lo = ch.integer(-90, 30) / 100
            hi = lo + ch.integer(20, 120) / 100
            e = self.fexpr(sc, ctx, 1)[0]
            return ast.Compare(_num(lo), [ast.Lt(), ast.Lt()], [e, _num(_round(hi))])
        if form == "bool":
            self.feat("cond_bool")
            op = ch.pick([ast.And(), ast.Or()])
            return ast.BoolOp(op, [self.cond(sc, ctx, 1), self.cond(sc, ctx, 1)])
        self.feat("cond_not")
        return ast.UnaryOp(ast.Not(), self.cond(sc, ctx, 1))

    def squash(self, node, bound, limit=VB):
        if bound <= limit:
            return node, bound
        ch = self.ch
        form = ch.weighted([(3, "tanh"), (2, "sin"), (1, "scaled"), (1, "ratio")])
        if form == "ratio" and _size(node) > 8:
            form = "tanh"
        if form == "tanh":
            self.feat("math_tanh")
            return _call("math.tanh", node), 1.0
        if form == "sin":
            self.feat("math_sin")
            return _call("math.sin", node), 1.0
        if form == "scaled":
            self.feat("math_tanh")
            return _bin(_num(2.0), "*", _call("math.tanh", _bin(_num(0.5), "*", node))), 2.0
        self.feat("abs")
        return _bin(node, "/", _bin(_num(1.0), "+", _call("abs", _cp(node)))), 1.0

    def fleaf(self, sc: _Scope, ctx: _Ctx):
        ch = self.ch
        opts = [(5, "var"), (2, "const")]
        ints = [(n, lo, hi) for n, lo, hi in sc.ints]
        if ints:
            opts.append((1, "int"))
        if sc.arrays and self.len_name:
            opts += [(3, "elem")] + ([] if ctx.fuse else [(1, "reduce")])
            if self.p.new_prob and not ctx.fuse:
                opts.append((max(1, self.p.new_prob // 20), "reduce2"))
        if self.p.new_prob and not ctx.fuse and self.ch.chance(30):
            opts.append((1, "list"))
        scalars = self.callable_helpers(sc, ctx, ("scalar",))
        if scalars:
            opts.append((1, "call"))
        if self.jax:        # container leaves and elements, lambdas, len, get
            if sc.cfloats:
                opts.append((3, "cleaf"))
            if any(q.keys is None for q in sc.seqs):
                opts.append((2, "seq_elem"))
            if sc.lams:
                opts.append((2, "lam"))
            if sc.seqs:
                opts.append((1, "cont_len"))
            if any(q.keys for q in sc.seqs):
                opts.append((1, "cont_get"))
        form = ch.weighted(opts)
        if form in ("cleaf", "seq_elem", "lam", "cont_len", "cont_get"):
            return self.jax_leaf(sc, ctx, form)
        if form == "var" and not sc.floats:
            form = "const"
        if form == "var":
            return _name(ch.pick(sc.floats)), VB
        if form == "const":
            v = ch.integer(-200, 200) / 100
            return _num(v), abs(v)
        if form == "int":
            name, lo, hi = ch.pick(ints)
            c = ch.integer(1, 10) / 10
            self.feat("int_in_float")
            return _bin(_num(c), "*", _name(name)), c * max(abs(lo), abs(hi), 1)
        if form == "elem":
            self.feat("elem_read")
            return _sub(ch.pick(sc.arrays), self.index(sc)), VB
        if form == "reduce2":
            return self.reduce2(sc, ctx)
        if form == "list":
            return self.list_reduce(sc, ctx)
        if form == "reduce":
            kind = ch.pick(["sum", "dot", "sum_mul"])
            if kind == "sum":
                e, b = self.aexpr(sc, ctx, ch.integer(0, 1))
                self.feat("np_sum")
                return _call("np.sum", e), self.L * b
            e1, b1 = self.aexpr(sc, ctx, ch.integer(0, 1))
            e2, b2 = self.aexpr(sc, ctx, 0)
            if kind == "dot":
                self.feat("np_dot")
                return _call("np.dot", e1, e2), self.L * b1 * b2
            self.feat("np_sum", "arr_mul")
            return _call("np.sum", _bin(e1, "*", e2)), self.L * b1 * b2
        h = ch.pick(scalars)
        self.peak = max(self.peak, ctx.mult * h.cost)
        self.feat("helper_scalar")
        return self.call_args(h, sc, ctx), VB

    def fexpr(self, sc: _Scope, ctx: _Ctx, depth: int):
        """A float expression and a bound on its absolute value."""
        ch = self.ch
        if depth <= 0 or not ch.chance(75):
            return self.fleaf(sc, ctx)
        d = depth - 1
        form = ch.weighted([(4, "add"), (2, "sub"), (4, "mul"), (1, "div"), (1, "neg"),
                            (2, "sin"), (2, "cos"), (2, "tanh"), (1, "exp"), (1, "log"),
                            (1, "sqrt"), (1, "pow"), (1, "abs"), (1, "min"), (1, "max"),
                            (1, "ifexp"), (1, "np"), (1, "atan"), (1, "hypot")]
                           + ([(2, "mathx"), (2, "npx"), (1, "fmod")] if self.p.new_prob else []))
        if form in ("mathx", "npx", "fmod"):
            node, b = self.scalar_fn(sc, ctx, d, form)
            if b > WRAP:
                return self.squash(node, b, WRAP)
            return node, b
        if form in ("add", "sub", "mul"):
            (e1, b1), (e2, b2) = self.fexpr(sc, ctx, d), self.fexpr(sc, ctx, d)
            node, b = _bin(e1, {"add": "+", "sub": "-", "mul": "*"}[form], e2), \
                (b1 * b2 if form == "mul" else b1 + b2)
        elif form == "div":
            e1, b1 = self.fexpr(sc, ctx, d)
            node, b = _bin(e1, "/", self.denominator(sc, ctx)), b1
            self.feat("div")
        elif form == "neg":
            e1, b = self.fexpr(sc, ctx, d)
            node = ast.UnaryOp(ast.USub(), e1)
        elif form in ("sin", "cos", "tanh", "atan"):
            e1, _ = self.fexpr(sc, ctx, d)
            node, b = _call("math." + form, e1), (1.6 if form == "atan" else 1.0)
            self.feat("math_" + form)
        elif form == "exp":
            e1, _ = self.fexpr(sc, ctx, d)
            sub = ch.pick(["sin", "gauss", "tanh"])
            if sub == "gauss" and _size(e1) <= 6:
                arg = _bin(ast.UnaryOp(ast.USub(), e1), "*", _cp(e1))
            else:
                arg = _call("math." + ("sin" if sub == "sin" else "tanh"), e1)
            node, b = _call("math.exp", arg), math.e
            self.feat("math_exp")
        elif form in ("log", "sqrt"):
            e1, b1 = self.fexpr(sc, ctx, d)
            if _size(e1) <= 6 and ch.chance(60):
                arg, ba = _bin(_num(1.0), "+", _bin(e1, "*", _cp(e1))), 1 + b1 * b1
            else:
                arg, ba = _bin(_num(2.0), "+", _call("math.sin", e1)), 3.0
            node = _call("math." + form, arg)
            b = math.log(ba) if form == "log" else math.sqrt(ba)
            self.feat("math_" + form)
        elif form == "pow":
            e1, b1 = self.fexpr(sc, ctx, d)
            k = 3 if b1 <= 3 and ch.chance(30) else 2
            node, b = _bin(e1, "**", _num(k)), b1 ** k
            self.feat("pow")
        elif form == "abs":
            e1, b = self.fexpr(sc, ctx, d)
            node = _call("abs", e1)
            self.feat("abs")
        elif form in ("min", "max"):
            parts = [self.fexpr(sc, ctx, d) for _ in range(ch.weighted([(3, 2), (1, 3)]))]
            node, b = _call(form, *[e for e, _ in parts]), max(bb for _, bb in parts)
            self.feat(form)
        elif form == "ifexp":
            (e1, b1), (e2, b2) = self.fexpr(sc, ctx, d), self.fexpr(sc, ctx, d)
            node, b = ast.IfExp(self.cond(sc, ctx, 1), e1, e2), max(b1, b2)
            self.feat("ifexp")
        elif form == "np":
            e1, _ = self.fexpr(sc, ctx, d)
            fn = ch.pick(["sin", "cos", "tanh"])
            node, b = _call("np." + fn, e1), 1.0
            self.feat("np_scalar")
        else:  # hypot
            (e1, b1), (e2, b2) = self.fexpr(sc, ctx, d), self.fexpr(sc, ctx, d)
            if "hypot_origin" in self.p.avoid:  # never at the origin
                e2, b2 = _bin(_num(2.0), "+", _call("math.sin", e2)), 3.0
            node, b = _call("math.hypot", e1, e2), b1 + b2
            self.feat("math_hypot")
        if b > WRAP:
            return self.squash(node, b, WRAP)
        return node, b

    def aexpr(self, sc: _Scope, ctx: _Ctx, depth: int):
        """An array expression (length L) and a bound on its elements."""
        ch = self.ch
        self.array_exprs += 1
        if depth <= 0 or not ch.chance(70):
            if sc.carrays and ch.chance(30):       # p["W"]: an array leaf of the container
                self.feat("cont_array_read")
                return _cp(ch.pick(sc.carrays)), VB
            return _name(ch.pick(sc.arrays)), VB
        d = depth - 1
        opts = [(3, "add"), (1, "sub"), (3, "mul"), (2, "scale"), (1, "shift"),
                (2, "sin"), (2, "tanh"), (1, "cos"), (1, "exp")]
        if self.p.new_prob and self.len_name and not ctx.fuse:
            opts += [(2, "new_unary"), (2, "new_binary"), (2, "lit"), (2, "gather"),
                     (1, "concat"), (1, "cumsum"), (1, "full"), (1, "copyish"), (1, "stackmv"),
                     (1, "range")]
        form = ch.weighted(opts)
        if form.startswith("new_") or form in ("lit", "gather", "concat", "cumsum", "full",
                                              "copyish", "stackmv", "range"):
            node, b = self.aexpr_new(sc, ctx, d, form)
            if b > WRAP:
                self.feat("np_tanh")
                return _call("np.tanh", node), 1.0
            return node, b
        if form in ("add", "sub", "mul"):
            (e1, b1), (e2, b2) = self.aexpr(sc, ctx, d), self.aexpr(sc, ctx, d)
            node = _bin(e1, {"add": "+", "sub": "-", "mul": "*"}[form], e2)
            b = b1 * b2 if form == "mul" else b1 + b2
            self.feat("arr_" + form)
        elif form == "scale":
            (e1, b1), (s, bs) = self.aexpr(sc, ctx, d), self.fexpr(sc, ctx, 0)
            node, b = _bin(s, "*", e1), b1 * bs
            self.feat("arr_scale")
        elif form == "shift":
            (e1, b1), (s, bs) = self.aexpr(sc, ctx, d), self.fexpr(sc, ctx, 0)
            node, b = _bin(e1, "+", s), b1 + bs
            self.feat("arr_shift")
        elif form == "exp":
            e1, _ = self.aexpr(sc, ctx, d)
            node, b = _call("np.exp", _call("np.sin", e1)), math.e
            self.feat("np_exp", "np_sin")
        else:
            e1, _ = self.aexpr(sc, ctx, d)
            node, b = _call("np." + form, e1), 1.0
            self.feat("np_" + form)
        if b > WRAP:
            self.feat("np_tanh")
            return _call("np.tanh", node), 1.0
        return node, b

    # arrays from values, gathers and scatters, buffers, more rule families ---------------

    def arg_for(self, kind: str, e: ast.expr, b: float, arr: bool):
        """The argument a function of ``kind`` (see ``_NP_UNARY``) gets from ``e`` (bounded
        by ``b``), and the bound the function's bound is computed from."""
        ch = self.ch
        mod = "np." if arr else "math."
        if kind == "any":
            return e, b
        if kind in ("unit", "unit09"):
            u = _call(mod + ch.pick(["tanh", "sin"]), e)
            return (u, 1.0) if kind == "unit" else (_bin(_num(0.9), "*", u), 0.9)
        if _size(e) <= 6 and ch.chance(60):
            return _bin(_num(1.5), "+", _bin(e, "*", _cp(e))), 1.5 + b * b
        return _bin(_num(2.0), "+", _call(mod + "sin", e)), 3.0

    def scalar_fn(self, sc: _Scope, ctx: _Ctx, d: int, form: str):
        """A call of a math or NumPy function on scalars, on safe arguments."""
        ch = self.ch
        if form == "fmod":      # discontinuous where x / c crosses an integer (recorded)
            e1, _ = self.fexpr(sc, ctx, d)
            c = ch.pick([1.7, 2.5])
            if ch.chance(50):
                self.feat("float_mod")
                return _bin(e1, "%", _num(c)), c
            self.feat("npx_fmod")
            return _call("np.fmod", e1, _num(c)), c
        mod = "math" if form == "mathx" else "np"
        table = _MATH_UNARY if mod == "math" else _NP_UNARY
        binary = ["atan2", "pow", "copysign", "log_base", "hypot3"] if mod == "math" else \
            ["arctan2", "hypot", "power", "maximum", "minimum", "copysign", "clip"]
        name = ch.pick(list(table) + binary)
        self.feat(f"{mod}x_{name}" if mod == "np" else f"math_{name}")
        if name in table:
            kind, bf = table[name]
            e, b = self.fexpr(sc, ctx, d)
            arg, ba = self.arg_for(kind, e, b, False)
            return _call(f"{mod}.{name}", arg), bf(ba)
        (e1, b1), (e2, b2) = self.fexpr(sc, ctx, d), self.fexpr(sc, ctx, d)
        if name in ("atan2", "arctan2"):        # x >= 1: away from the origin
            return _call(f"{mod}.{name}", e1, self.denominator(sc, ctx)), 1.6
        if name in ("pow", "power"):
            base, bb = self.arg_for("pos", e1, b1, False)
            if ch.chance(30):
                k = ch.pick([0.5, 1.5, 2.0, -1.0])
                return _call(f"{mod}.{name}", base, _num(k)), max(bb ** k, 1.0)
            ex, _ = self.arg_for("unit", e2, b2, False)
            return _call(f"{mod}.{name}", base, ex), bb
        if name == "copysign":      # kinks at e1 = 0 and e2 = 0 (recorded)
            return _call(f"{mod}.copysign", e1, e2), b1
        if name == "log_base":
            arg, ba = self.arg_for("pos", e1, b1, False)
            return _call("math.log", arg, _num(ch.pick([2.0, 10.0, 3.0]))), math.log(ba)
        if name == "hypot3":
            e3, b3 = self.fexpr(sc, ctx, d)
            if "hypot_origin" in self.p.avoid:
                e2, b2 = _bin(_num(2.0), "+", _call("math.sin", e2)), 3.0
            self.feat("math_hypot")
            return _call("math.hypot", e1, e2, e3), b1 + b2 + b3
        if name == "hypot":
            if "hypot_origin" in self.p.avoid:
                e2, b2 = _bin(_num(2.0), "+", _call("math.sin", e2)), 3.0
            return _call("np.hypot", e1, e2), b1 + b2
        if name in ("maximum", "minimum"):
            return _call(f"np.{name}", e1, e2), max(b1, b2)
        lo = -ch.integer(1, 20) / 10
        hi = lo + ch.integer(5, 30) / 10
        # as np.minimum(np.maximum(...)): Numba has no np.clip of a float (docs/language.md
        # lists np.clip among the array functions; a float was always rejected), and a
        # one-element array would keep a sum loop from being fused
        self.feat("npx_minimum", "npx_maximum")
        return _call("np.minimum", _call("np.maximum", e1, _num(lo)), _num(_round(hi))), \
            max(abs(lo), abs(hi))

    def idx_array(self, sc: _Scope, k: int | None = None):
        """An index array of length L (or ``k``): a name of the scope or a literal."""
        ch = self.ch
        if k is None and sc.idxs and ch.chance(70):
            name = ch.pick(sc.idxs)
            self.feat("gather_param" if name == "ids" else "gather_const")
            return _name(name)
        self.feat("gather_inline")
        return _int_array(self.positions(self.L if k is None else k))

    def mask(self, sc: _Scope, ctx: _Ctx) -> ast.expr:
        """A boolean array of length L: data (the comparison is recorded), integer or
        constant."""
        ch = self.ch
        opts = [(3, "data"), (1, "const")] + ([(2, "int")] if sc.idxs else [])
        form = ch.weighted(opts)
        self.feat("mask_" + form)
        if form == "data":
            return _cmp(_name(ch.pick(sc.arrays)), ch.pick(["<", ">"]),
                        _num(ch.integer(-10, 10) / 10))
        if form == "int":
            return _cmp(_name(ch.pick(sc.idxs)), ch.pick([">", "<", "!="]),
                        _num(ch.integer(0, self.L - 1)))
        return _call("np.array", _list(ast.Constant(bool(ch.integer(0, 1)))
                                       for _ in range(self.L)))

    def small(self, sc: _Scope, ctx: _Ctx):
        """A bounded scalar expression (for array literals)."""
        return self.squash(*self.fexpr(sc, ctx, self.ch.integer(0, 1)))

    def aexpr_new(self, sc: _Scope, ctx: _Ctx, d: int, form: str):
        """The newer array forms (length L) and a bound on their elements."""
        ch = self.ch
        L = self.L
        m = _name(self.len_name)
        if form == "new_unary":
            name = ch.pick(list(_NP_UNARY))
            kind, bf = _NP_UNARY[name]
            e, b = self.aexpr(sc, ctx, d)
            arg, ba = self.arg_for(kind, e, b, True)
            self.feat("np_" + name)
            return _call("np." + name, arg), bf(ba)
        if form == "new_binary":
            name = ch.pick(["arctan2", "hypot", "power", "maximum", "minimum", "fmod", "where",
                            "clip"])
            self.feat("np_" + name)
            (e1, b1), (e2, b2) = self.aexpr(sc, ctx, d), self.aexpr(sc, ctx, d)
            if name == "arctan2":
                x, _ = self.arg_for("pos", e2, b2, True)
                return _call("np.arctan2", e1, x), 1.6
            if name == "hypot":
                if "hypot_origin" in self.p.avoid:
                    e2, b2 = _bin(_num(2.0), "+", _call("np.sin", e2)), 3.0
                return _call("np.hypot", e1, e2), b1 + b2
            if name == "power":
                base, bb = self.arg_for("pos", e1, b1, True)
                if ch.chance(40):
                    k = ch.pick([0.5, 2.0, 3.0, -1.0])
                    return _call("np.power", base, _num(k)), max(bb ** k, 1.0)
                ex, _ = self.arg_for("unit", e2, b2, True)
                return _call("np.power", base, ex), bb
            if name in ("maximum", "minimum"):
                if ch.chance(30):
                    e2, b2 = self.small(sc, ctx)
                    self.feat("np_" + name + "_scalar")
                return _call("np." + name, e1, e2), max(b1, b2)
            if name == "fmod":
                c = ch.pick([1.7, 2.5])
                return _call("np.fmod", e1, _num(c)), c
            if name == "where":
                e3, b3 = self.aexpr(sc, ctx, d)
                if ch.chance(50):
                    test = _cmp(e1, ch.pick(["<", ">"]), _num(ch.integer(-10, 10) / 10))
                else:
                    test = _cmp(_cp(e1), ch.pick(["<", ">"]), e3)
                return _call("np.where", test, e2, e3), max(b2, b3)
            lo = -ch.integer(1, 20) / 10
            hi = _round(lo + ch.integer(5, 30) / 10)
            return _call("np.clip", e1, _num(lo), _num(hi)), max(abs(lo), abs(hi))
        if form == "lit":
            elts, bs = zip(*[self.small(sc, ctx) for _ in range(L)])
            seq = _tuple(elts) if ch.chance(25) else _list(elts)
            fn = ch.weighted([(3, "np.array"), (1, "np.asarray")])
            self.feat("arr_lit" if fn == "np.array" else "arr_asarray_lit")
            return _call(fn, seq), max(bs)
        if form == "gather":
            e, b = self.aexpr(sc, ctx, d) if d and ch.chance(30) else (
                _name(ch.pick(sc.arrays)), VB)
            if ch.chance(25):       # positions through an index array: a[idx[::-1]]
                idx = ast.Subscript(self.idx_array(sc), _slice(step=_num(-1)), ast.Load()) \
                    if sc.idxs and ch.chance(50) else self.idx_array(sc)
            else:
                idx = self.idx_array(sc)
            self.feat("gather")
            return ast.Subscript(e, idx, ast.Load()), b
        if form == "concat":
            k = ch.integer(1, L - 1)
            a1, a2 = ch.pick(sc.arrays), ch.pick(sc.arrays)
            variant = ch.pick(["split", "rotate", "head", "tail"])
            sl = lambda a, lo, hi: ast.Subscript(_name(a), _slice(lo, hi), ast.Load())  # noqa: E731
            b = VB
            if variant == "split":
                parts = [sl(a1, None, _num(k)), sl(a2, _num(k), None)]
            elif variant == "rotate":
                parts = [sl(a1, _num(k), None), sl(a1, None, _num(k))]
            elif variant == "head":
                f, b = self.small(sc, ctx)
                parts = [_call("np.array", _list([f])), sl(a1, _num(1), None)]
            else:
                f, b = self.small(sc, ctx)
                parts = [sl(a1, None, _num(-1)), _call("np.array", _list([f]))]
            seq = _tuple(parts) if ch.chance(40) else _list(parts)
            fn = ch.pick(["np.concatenate", "np.hstack"])
            self.feat(fn.replace(".", "_"), "concat_" + variant)
            return _call(fn, seq), max(b, VB)
        if form == "cumsum":
            e, b = self.aexpr(sc, ctx, d)
            self.feat("np_cumsum")
            if ch.chance(30):
                return _meth(e, "cumsum"), L * b
            return _call("np.cumsum", e), L * b
        if form == "full":
            f, b = self.small(sc, ctx)
            if ch.chance(50):
                self.feat("np_full")
                return _call("np.full", m, f), b
            self.feat("np_full_like")
            return _call("np.full_like", _name(ch.pick(sc.arrays)), f), b
        if form == "copyish":
            e, b = self.aexpr(sc, ctx, d)
            kind = ch.pick(["array", "asarray", "copy", "contig", "rev", "transpose", "T",
                            "reshape", "np_reshape"])
            self.feat("np_" + kind)
            node = {"array": lambda: _call("np.array", e),
                    "asarray": lambda: _call("np.asarray", e),
                    "copy": lambda: _call("np.copy", e),
                    "contig": lambda: _call("np.ascontiguousarray", e),
                    "rev": lambda: ast.Subscript(e, _slice(step=_num(-1)), ast.Load()),
                    "transpose": lambda: _call("np.transpose", e),
                    "T": lambda: ast.Attribute(e, "T", ast.Load()),
                    "reshape": lambda: _meth(e, "reshape", m),
                    "np_reshape": lambda: _call("np.reshape", e, _tuple([m]))}[kind]()
            return node, b
        if form == "stackmv":
            (e1, b1), (e2, b2) = self.aexpr(sc, ctx, d), self.aexpr(sc, ctx, d)
            (f1, c1), (f2, c2) = self.small(sc, ctx), self.small(sc, ctx)
            coef = _call("np.array", _list([f1, f2]))
            bound = b1 * c1 + b2 * c2
            kind = ch.pick(["stack1", "column_stack", "vstack", "rows", "stack", "outer"])
            self.feat("stack_" + kind, "matvec")
            pair = (_tuple if ch.chance(40) else _list)([e1, e2])
            if kind == "stack1":
                return _bin(_call("np.stack", pair, kw=[("axis", _num(1))]), "@", coef), bound
            if kind == "column_stack":
                return _bin(_call("np.column_stack", pair), "@", coef), bound
            if kind == "vstack":
                return _bin(coef, "@", _call("np.vstack", pair)), bound
            if kind == "rows":
                return _call("np.dot", coef, _call("np.array", pair)), bound
            if kind == "stack":
                return _call("np.matmul", coef, _call("np.stack", pair)), bound
            e3, b3 = self.aexpr(sc, ctx, 0)
            return _bin(_call("np.outer", e1, e2), "@", e3), L * b1 * b2 * b3
        # range
        if ch.chance(50):
            c = ch.integer(1, 9) / 10
            self.feat("np_arange")
            return _bin(_num(c), "*", _call("np.arange", m)), c * (L - 1)
        lo = ch.integer(-15, 0) / 10
        hi = ch.integer(1, 15) / 10
        self.feat("np_linspace")
        return _call("np.linspace", _num(lo), _num(hi), m), max(abs(lo), hi)

    def reduce2(self, sc: _Scope, ctx: _Ctx):
        """A float from arrays by the newer reductions, products, norms, gathers, masks."""
        ch = self.ch
        L = self.L
        kind = ch.pick(["mean", "prod", "max", "min", "norm", "matmul", "trace_outer",
                        "gather", "mask", "list_dot", "cumsum_last", "lit_elem"])
        self.feat("reduce_" + kind)
        if kind in ("mean", "prod", "max", "min", "norm", "cumsum_last"):
            e, b = self.aexpr(sc, ctx, ch.integer(0, 1))
            if kind == "mean":
                return (_meth(e, "mean") if ch.chance(30) else _call("np.mean", e)), b
            if kind == "prod":
                t = _call("np.tanh", e)
                return (_meth(t, "prod") if ch.chance(30) else _call("np.prod", t)), 1.0
            if kind in ("max", "min"):
                form = ch.pick(["np", "amax", "method"])
                if form == "method":
                    return _meth(e, kind), b
                return _call("np." + (kind if form == "np" else "a" + kind), e), b
            if kind == "norm":
                ord_ = ch.pick([None, 1, 2])
                if ord_ is None:
                    return _call("np.linalg.norm", e), math.sqrt(L) * b
                return _call("np.linalg.norm", e, _num(ord_)), L * b
            return ast.Subscript(_call("np.cumsum", e), _num(-1), ast.Load()), L * b
        if kind in ("matmul", "trace_outer"):
            (e1, b1), (e2, b2) = self.aexpr(sc, ctx, ch.integer(0, 1)), self.aexpr(sc, ctx, 0)
            if kind == "trace_outer":
                return _call("np.trace", _call("np.outer", e1, e2)), L * b1 * b2
            form = ch.pick(["at", "matmul", "method"])
            node = {"at": lambda: _bin(e1, "@", e2), "matmul": lambda: _call("np.matmul", e1, e2),
                    "method": lambda: _meth(e1, "dot", e2)}[form]()
            return node, L * b1 * b2
        if kind == "gather":
            a = _name(ch.pick(sc.arrays))
            k = ch.integer(1, L + 2)
            idx = self.idx_array(sc, None if ch.chance(40) else k)
            k = L if isinstance(idx, ast.Name) else k
            if ch.chance(40):
                b2 = _name(ch.pick(sc.arrays))
                return _call("np.dot", ast.Subscript(a, idx, ast.Load()),
                             ast.Subscript(b2, _cp(idx), ast.Load())), k * VB * VB
            return _call("np.sum", ast.Subscript(a, idx, ast.Load())), k * VB
        if kind == "mask":
            a = _name(ch.pick(sc.arrays))
            self.feat("gather_mask")
            return _call("np.sum", ast.Subscript(a, self.mask(sc, ctx), ast.Load())), L * VB
        if kind == "list_dot":
            (f1, c1), (f2, c2) = self.small(sc, ctx), self.small(sc, ctx)
            a = ast.Subscript(_name(ch.pick(sc.arrays)), _slice(None, _num(2)), ast.Load())
            lst = _list([f1, f2])
            self.feat("list_arg")
            if ch.chance(50):
                return _call("np.dot", lst, a), (c1 + c2) * VB
            return _call("np.dot", a, lst), (c1 + c2) * VB
        k = ch.integer(2, 4)
        elts, bs = zip(*[self.small(sc, ctx) for _ in range(k)])
        self.feat("arr_lit")
        return ast.Subscript(_call("np.array", _list(elts)), _num(ch.integer(-k, k - 1)),
                             ast.Load()), max(bs)

    def list_reduce(self, sc: _Scope, ctx: _Ctx):
        """A NumPy reduction of a list literal of scalars: ``np.sum([a, a * b, 2.0])``."""
        ch = self.ch
        k = ch.integer(2, 3)
        items = []
        for _ in range(k):
            items.append(self.small(sc, ctx) if ch.chance(75) else
                         (lambda v: (_num(v), abs(v)))(ch.integer(-20, 20) / 10))
        elts, bs = zip(*items)
        fn = ch.pick(["sum", "mean", "max", "min", "prod", "dot"])
        self.feat("list_arg", "list_" + fn)
        if fn == "dot":
            other = [self.small(sc, ctx)[0] if ch.chance(50) else _num(ch.integer(-10, 10) / 10)
                     for _ in range(k)]
            return _call("np.dot", _list(elts), _list(other)), sum(bs) * VB
        seq = _list(elts)
        if fn == "prod":
            return _call("np.prod", seq), math.prod(max(b, 1.0) for b in bs)
        return _call("np." + fn, seq), (sum(bs) if fn == "sum" else max(bs))

    def s_matrix(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """A matrix from values (nested list literal, stacked arrays, stack/vstack/
        column_stack, outer product) and a float from it (reductions with axis and
        keepdims, products, trace, norm, inverse, matrix power, gathers of rows and
        columns, a reshape that rebinds the name to a 1-D array)."""
        ch = self.ch
        L = self.L
        name = f"M{self.mats}"
        self.mats += 1
        arrays = bool(sc.arrays and self.len_name)
        opts = [(2, "lit2")] + ([(2, "rows"), (2, "stack"), (1, "vstack"),
                                  (1, "column_stack"), (1, "outer")] if arrays else [])
        form = ch.weighted(opts)
        self.feat("matrix_" + form)
        if ctx.loops:
            self.feat("matrix_in_loop")
        if form == "lit2":
            R, C = ch.integer(1, 3), ch.integer(1, 3)
            rows = []
            for _ in range(R):
                elts = [self.small(sc, ctx)[0] for _ in range(C)]
                rows.append(_tuple(elts) if ch.chance(25) else _list(elts))
            seq = _tuple(rows) if ch.chance(25) else _list(rows)
            fn = ch.weighted([(3, "np.array"), (1, "np.asarray")])
            self.feat("arr_lit_2d")
            value, b = _call(fn, seq), VB
        elif form == "outer":
            (e1, b1), (e2, b2) = self.aexpr(sc, ctx, ch.integer(0, 1)), self.aexpr(sc, ctx, 0)
            value, b, R, C = _call("np.outer", e1, e2), b1 * b2, L, L
            self.feat("np_outer")
        else:
            k = ch.integer(2, 3)
            parts = [self.aexpr(sc, ctx, ch.integer(0, 1)) for _ in range(k)]
            b = max(bb for _, bb in parts)
            seq = (_tuple if ch.chance(40) else _list)([e for e, _ in parts])
            if form == "rows":
                value, R, C = _call("np.array", seq), k, L
                self.feat("arr_lit_rows")
            elif form == "stack":
                axis = ch.pick([None, 0, 1])
                value = _call("np.stack", seq, kw=[("axis", _num(axis))] if axis is not None
                              else [])
                R, C = (L, k) if axis == 1 else (k, L)
                self.feat("np_stack")
            elif form == "vstack":
                value, R, C = _call("np.vstack", seq), k, L
                self.feat("np_vstack")
            else:
                value, R, C = _call("np.column_stack", seq), L, k
                self.feat("np_column_stack")
        if b > VB and ch.chance(70):
            value, b = _call("np.tanh", value), 1.0
        out: list[ast.stmt] = [_assign(name, value)]
        M = _name(name)
        uses = ["sum", "sumsq", "mean", "axis", "gram", "elem", "gather", "norm", "transpose"]
        if arrays and C == L:
            uses.append("matvec")
        if arrays and R == L:
            uses.append("vecmat")
        if R == C:
            uses += ["trace", "inv", "matpow", "inv", "matpow"]
        if ctx.depth == 0 and ctx.fn == "main":
            uses += ["reshape", "reshape"]
        use = ch.pick(uses)
        self.feat("matrix_use_" + use)
        if use == "sum":
            e, eb = (_meth(M, "sum") if ch.chance(30) else _call("np.sum", M)), R * C * b
        elif use == "sumsq":
            e, eb = _call("np.sum", _bin(M, "*", _name(name))), R * C * b * b
        elif use == "mean":
            e, eb = _call("np.mean", M), b
        elif use == "axis":
            fn = ch.pick(["sum", "mean", "max", "min", "prod", "cumsum"])
            axis = ch.integer(0, 1)
            keep = fn != "cumsum" and ch.chance(30)
            kw = [("axis", _num(axis))] + ([("keepdims", ast.Constant(True))] if keep else [])
            arg = _call("np.tanh", M) if fn == "prod" else M
            self.feat(f"np_{fn}_axis" + ("_keepdims" if keep else ""))
            if fn != "cumsum" and ch.chance(30):
                red = _meth(arg, fn, kw=kw)
            else:
                red = _call("np." + fn, arg, kw=kw)
            n_red = (C if axis == 0 else R)      # length of the reduced vector
            eb = {"sum": R * C * b, "mean": b * n_red, "max": b * n_red, "min": b * n_red,
                  "prod": 1.0 * n_red, "cumsum": R * C * b * max(R, C)}[fn]
            if arrays and not keep and fn != "cumsum" and n_red == L and ch.chance(50):
                e, eb = _call("np.dot", red, _name(ch.pick(sc.arrays))), eb * VB * L
            else:
                e = _call("np.sum", red)
        elif use == "gram":
            form2 = ch.pick(["sum_mt", "trace_mtm", "dot", "matmul"])
            if form2 == "sum_mt":
                e = _call("np.sum", _bin(M, "@", ast.Attribute(_name(name), "T", ast.Load())))
            elif form2 == "trace_mtm":
                e = _call("np.trace", _bin(ast.Attribute(M, "T", ast.Load()), "@", _name(name)))
            elif form2 == "dot":
                e = _call("np.trace", _call("np.dot", M, _call("np.transpose", _name(name))))
            else:
                e = _call("np.sum", _call("np.matmul", ast.Attribute(M, "T", ast.Load()),
                                          _name(name)))
            eb = R * C * max(R, C) * b * b
            self.feat("matrix_gram_" + form2)
        elif use == "elem":
            i, j = ch.integer(-R, R - 1), ch.integer(-C, C - 1)
            if ch.chance(30):
                e = ast.Subscript(ast.Subscript(M, _num(i), ast.Load()), _num(j), ast.Load())
            else:
                e = ast.Subscript(M, _tuple([_num(i), _num(j)]), ast.Load())
            eb = b
        elif use == "gather":
            g = ch.pick(["rows", "cols", "row_elems"])
            self.feat("gather_" + g)
            if g == "rows":
                idx = _int_array([ch.integer(0, R - 1) for _ in range(ch.integer(1, 4))])
                e = _call("np.sum", ast.Subscript(M, idx, ast.Load()))
            elif g == "cols":
                idx = _int_array([ch.integer(0, C - 1) for _ in range(ch.integer(1, 4))])
                e = _call("np.sum", ast.Subscript(M, _tuple([_slice(), idx]), ast.Load()))
            else:
                idx = _int_array([ch.integer(0, C - 1) for _ in range(ch.integer(1, 4))])
                e = _call("np.sum", ast.Subscript(
                    M, _tuple([_num(ch.integer(0, R - 1)), idx]), ast.Load()))
            eb = 4 * max(R, C) * b
        elif use == "norm":
            e, eb = _call("np.linalg.norm", M), math.sqrt(R * C) * b
        elif use == "transpose":
            e = _call("np.sum", _bin(_call("np.transpose", M), "*",
                                     _call("np.transpose", _name(name))))
            eb = R * C * b * b
        elif use == "matvec":
            v = _name(ch.pick(sc.arrays))
            e = _call("np.sum", _bin(M, "@", v) if ch.chance(50) else _call("np.dot", M, v))
            eb = R * C * b * VB
        elif use == "vecmat":
            v = _name(ch.pick(sc.arrays))
            e = _call("np.sum", _bin(v, "@", M))
            eb = R * C * b * VB
        elif use == "trace":
            e, eb = _call("np.trace", M), R * b
        elif use in ("inv", "matpow"):
            # well conditioned: 2 I + (0.4 / R) tanh(M), eigenvalues in [1.6, 2.4]
            P = f"P{self.mats}"
            self.mats += 1
            out.append(_assign(P, _bin(_bin(_num(2.0), "*", _call("np.eye", _num(R))), "+",
                                       _bin(_num(_round(0.4 / R)), "*",
                                            _call("np.tanh", _name(name))))))
            if use == "inv":
                inv = _call("np.linalg.inv", _name(P))
                self.feat("np_linalg_inv")
                if ch.chance(40) and arrays and R == L:
                    e = _call("np.dot", _call("np.sum", inv, kw=[("axis", _num(0))]),
                              _name(ch.pick(sc.arrays)))
                    eb = R * L * VB
                else:
                    e, eb = _call("np.sum", inv), R * R * 1.0
            else:
                k = ch.integer(-3, 3)
                self.feat("np_matrix_power" + ("_neg" if k < 0 else ""))
                e = _call("np.sum", _call("np.linalg.matrix_power", _name(P), _num(k)))
                eb = R * R * 2.4 ** abs(k)
        else:   # reshape: the name rebound to a 1-D array
            n = R * C
            kind = ch.pick(["method", "np", "minus1"])
            new = {"method": lambda: _meth(M, "reshape", _num(n)),
                   "np": lambda: _call("np.reshape", M, _tuple([_num(n)])),
                   "minus1": lambda: _meth(M, "reshape", _num(-1))}[kind]()
            out.append(_assign(name, new))
            self.feat("rebind_type", "rebind_reshape")
            if arrays and n >= L:
                e = _call("np.dot", ast.Subscript(_name(name), _slice(None, _num(L)), ast.Load()),
                          _name(ch.pick(sc.arrays)))
                eb = L * b * VB
            else:
                e, eb = _call("np.sum", _bin(_name(name), "*", _name(name))), n * b * b
        value, _ = self.squash(e, eb)
        targets = sc.assignable()
        if targets and ch.chance(40):
            target = ch.pick(targets)
        else:
            target = self.fresh("float")
            sc.floats.append(target)
        out.append(_assign(target, value))
        return out

    def s_scatter(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """A fancy-index store: ``w[idx] = v``, ``w[idx] += v`` (repeated positions: the
        last write wins, ``+=`` adds once per distinct position), ``w[mask] = e``."""
        ch = self.ch
        L = self.L
        w = ch.pick(sc.work)
        where = ch.weighted([(3, "idx"), (2, "short"), (1, "mask")])
        if where == "idx":
            idx, k = self.idx_array(sc), L
        elif where == "short":
            k = ch.integer(1, L + 1)
            idx = _int_array(self.positions(k))
        else:
            idx, k = self.mask(sc, ctx), None
        form = ch.weighted([(3, "set"), (3, "add"), (1, "mul")])
        self.feat("scatter", "scatter_" + form, "scatter_" + where)
        if w in ("u", "v"):
            self.feat("param_write")
        if ctx.loops:
            self.feat("scatter_in_loop")
        # the value: a scalar, or an array of the positions' length
        if k is not None and k <= L and ch.chance(60):
            if k == L:
                e, b = self.aexpr(sc, ctx, ch.integer(0, 2))
            elif k < L:
                e, b = ast.Subscript(_name(ch.pick(sc.arrays)), _slice(None, _num(k)),
                                     ast.Load()), VB
            lim = 1.0 if form == "mul" else VB
            if b > lim or (form == "mul" and not isinstance(e, ast.Call)):
                e = _call("np.tanh", e)
            self.feat("scatter_array_value")
        else:
            e = self.bounded1(sc, ctx) if form == "mul" else self.rhs(sc, ctx)
        target = ast.Subscript(_name(w), idx, ast.Store())
        if form == "set":
            return [ast.Assign([target], e)]
        if form == "add":
            return [_aug(target, ch.pick(["+", "-"]), _bin(_num(self.incr(ctx)), "*", e))]
        return [_aug(target, "*", e)]

    def s_buffers(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """Double buffering (``nxt = np.zeros(m)`` each step, filled from ``cur``, then
        ``cur = nxt``) or a swap of two buffers (``cur, nxt = nxt, cur``) in a loop."""
        ch = self.ch
        L = self.L
        m = _name(self.len_name)
        K = ch.integer(1, 4)
        while K > 1 and ctx.mult * K * L > self.p.max_trips:
            K -= 1
        steps = _call("range", _num(K))
        if any(nm == "n" for nm, _, _ in sc.ints) and ch.chance(30) \
                and ctx.mult * NMAX * L <= self.p.max_trips:
            K, steps = NMAX, _call("range", _name("n"))
        cur, nxt = self.fresh("cur"), self.fresh("nxt")
        src = _name(ch.pick(sc.arrays))
        init = ch.pick(["copy", "np_copy", "array", "scaled", "tanh"])
        value = {"copy": lambda: _meth(src, "copy"), "np_copy": lambda: _call("np.copy", src),
                 "array": lambda: _call("np.array", src),
                 "scaled": lambda: _bin(src, "*", _num(ch.integer(1, 9) / 10)),
                 "tanh": lambda: _call("np.tanh", self.aexpr(sc, ctx, 1)[0])}[init]()
        form = ch.pick(["double", "swap"])
        self.feat("buffers_" + form)
        if ctx.loops:
            self.feat("buffers_in_loop")
        pre = [_assign(cur, value)]
        alloc = "copy" if "inactive_work_array" in self.p.avoid else \
            ch.pick(["zeros", "zeros_like", "copy"])
        fresh_buf = {"zeros": lambda: _call("np.zeros", m),
                     "zeros_like": lambda: _call("np.zeros_like", _name(cur)),
                     "copy": lambda: _meth(_name(cur), "copy")}[alloc]()
        if form == "swap":
            pre.append(_assign(nxt, fresh_buf))
        t = self.fresh("loop")
        outer_sc = sc.child()
        outer_sc.ints.append((t, 0, K - 1))
        octx = ctx.enter(mult=ctx.mult * K, loop="for", loops=ctx.loops + 1)
        body: list[ast.stmt] = []
        if form == "double":
            body.append(_assign(nxt, _cp(fresh_buf)))
        fill = ch.pick(["loop", "vector", "gather"] if sc.idxs else ["loop", "vector"])
        self.feat("buffers_fill_" + fill)
        c1 = ch.integer(2, 6) / 10
        c2 = _round(ch.integer(0, 9 - int(c1 * 10)) / 10)
        c3 = _round(1.0 - c1 - c2)
        if fill == "loop":
            i = self.fresh("loop")
            isc = outer_sc.child()
            isc.ints.append((i, 0, L - 1))
            isc.arrays.append(cur)
            ictx = octx.enter(mult=octx.mult * L, loop="for", loops=octx.loops + 1)
            self.peak = max(self.peak, ictx.mult)
            nb = ch.pick([_bin(_bin(_name(i), "+", _num(1)), "%", m),
                          _bin(_bin(_name(i), "+", _bin(m, "-", _num(1))), "%", m),
                          _name(i)])
            val = _bin(_bin(_num(c1), "*", _sub(cur, _name(i))), "+",
                       _bin(_num(c2), "*", _sub(cur, nb)))
            val = _bin(val, "+", _bin(_num(c3), "*", self.rhs(isc, ictx)))
            body.append(ast.For(_store(i), _call("range", m),
                                [ast.Assign([_sub(nxt, _name(i), True)], val)], []))
        else:
            self.peak = max(self.peak, octx.mult)
            osc = outer_sc.child()
            osc.arrays.append(cur)
            other = ast.Subscript(_name(cur), self.idx_array(sc), ast.Load()) \
                if fill == "gather" else \
                ast.Subscript(_name(cur), _slice(step=_num(-1)), ast.Load())
            e, b = self.aexpr(osc, octx, 1)
            if b > VB:
                e = _call("np.tanh", e)
            val = _bin(_bin(_bin(_num(c1), "*", _name(cur)), "+", _bin(_num(c2), "*", other)),
                       "+", _bin(_num(c3), "*", e))
            body.append(ast.Assign([ast.Subscript(_name(nxt), _slice(), ast.Store())], val))
        if form == "double":
            body.append(_assign(cur, _name(nxt)))
        else:
            body.append(ast.Assign([ast.Tuple([_store(cur), _store(nxt)], ast.Store())],
                                   _tuple([_name(nxt), _name(cur)])))
        sc.temps.append(cur)
        sc.arrays.append(cur)
        return pre + [ast.For(_store(t), steps, body, [])]

    def s_rebind_type(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """A name rebound to a value of another type: an array to a float
        (``ar0 = np.mean(np.tanh(ar0))``, ``w0 = w0.sum()``) or a float to an array
        (``s = np.ones(m) * s``)."""
        ch = self.ch
        m = _name(self.len_name)
        keep = set(self.must_use) | set(sc.ro) | {"x", "y", "z", "scale"} | self.pinned
        arrs = [a for a in sc.temps + [w for w in sc.work if w.startswith("w")]
                if a not in keep]
        flts = [f for f in sc.floats if f not in keep]
        if arrs and (not flts or ch.chance(50)):
            a = ch.pick(arrs)
            form = ch.pick(["mean_tanh", "sum_method", "dot", "max"])
            A = _name(a)
            value = {"mean_tanh": lambda: _call("np.mean", _call("np.tanh", A)),
                     "sum_method": lambda: _call("math.tanh", _meth(A, "sum")),
                     "dot": lambda: _call("math.tanh", _call("np.dot", A, A)),
                     "max": lambda: _call("np.max", _call("np.sin", A))}[form]()
            self.feat("rebind_type", "rebind_array_to_float")
            for lst in (sc.temps, sc.work, sc.arrays):
                if a in lst:
                    lst.remove(a)
            sc.floats.append(a)
            return [_assign(a, value)]
        if not flts:
            return self.s_assign(sc, ctx)
        f = ch.pick(flts)
        F = _name(f)
        form = ch.pick(["times", "full", "lit"] + (
            [] if "inactive_work_array" in self.p.avoid else ["ones"]))
        value = {"ones": lambda: _bin(_call("np.ones", m), "*", F),
                 "times": lambda: _bin(F, "*", _call("np.tanh", _name(ch.pick(sc.arrays)))),
                 "full": lambda: _call("np.full", m, F),
                 "lit": lambda: _call("np.array", _list(
                     [_name(f)] + [_bin(_num(ch.integer(-10, 10) / 10), "*", _name(f))
                                   for _ in range(self.L - 1)]))}[form]()
        self.feat("rebind_type", "rebind_float_to_array")
        sc.floats.remove(f)
        sc.temps.append(f)
        sc.arrays.append(f)
        return [_assign(f, value)]

    # JAX habits: a container parameter, comprehensions, lambdas, nested defs -----------
    # (docs/language.md, "Tuples, lists and dicts"; tests/test_jax_habits.py)

    def container_spec(self) -> tuple:
        """The structure of the container parameter ``p``: ``("float",)``, ``("int", v)``,
        ``("vec",)`` (length L), ``("mat",)`` (L x L), ``("tuple" | "list", [spec, ...])``
        or ``("dict", [(key, spec), ...])``."""
        ch, L = self.ch, self.L

        def floats(k):
            return [("float",) for _ in range(k)]

        opts = [(4, "dict"), (2, "tuple"), (1, "list"), (1, "nested")]
        if L:
            opts.append((1, "layers"))
        form = ch.weighted(opts)
        if form == "dict":
            items = [(k, ("float",)) for k in ["w", "b", "s", "lr"][:ch.integer(1, 4)]]
            if L and ch.chance(50):
                items.append(("W", ("vec",)))
            if ch.chance(25):
                items.append(("k", ("int", ch.integer(1, 3))))
            if ch.chance(40):
                items.append(("c", ("tuple", floats(ch.integer(2, 3)))))
            r = ch.integer(0, len(items) - 1)      # keys in any order (JAX sorts them)
            self.feat("cont_dict")
            return ("dict", items[r:] + items[:r])
        if form in ("tuple", "list"):
            elts = floats(ch.integer(1, 3))
            if L and ch.chance(40):
                elts.insert(ch.integer(0, len(elts)), ("vec",))
            if ch.chance(20):
                elts.append(("int", ch.integer(1, 3)))
            if ch.chance(30):
                elts.append(("tuple", floats(2)))
            self.feat("cont_" + form)
            return (form, elts)
        if form == "nested":
            inner = [("w", ("float",)), ("W", ("vec",)) if L else ("b", ("float",))]
            self.feat("cont_nested")
            return ("dict", [("enc", ("dict", inner)), ("dec", ("tuple", floats(2)))])
        self.feat("cont_layers")
        layer = ("tuple", [("mat",), ("vec",)])
        if ch.chance(50):
            return ("list", [layer, layer])
        return ("dict", [("layers", ("list", [layer, layer])), ("s", ("float",))])

    def cont_value(self, spec):
        """A value of the container structure ``spec`` (floats in [-1.5, 1.5], matrices'
        entries in [-0.75, 0.75], ints as given)."""
        ch, kind = self.ch, spec[0]
        if kind == "float":
            return ch.integer(-1500, 1500) / 1000
        if kind == "int":
            return spec[1]
        if kind == "vec":
            return np.array([ch.integer(-1500, 1500) / 1000 for _ in range(self.L)])
        if kind == "mat":
            return np.array([[ch.integer(-750, 750) / 1000 for _ in range(self.L)]
                             for _ in range(self.L)])
        if kind == "dict":
            return {k: self.cont_value(v) for k, v in spec[1]}
        values = [self.cont_value(v) for v in spec[1]]
        return tuple(values) if kind == "tuple" else values

    def cont_register(self, spec, expr, sc: _Scope, ints: list) -> None:
        """Put the leaves of the container ``spec`` (read as ``expr``) in scope: floats in
        ``cfloats``, arrays in ``carrays``, containers of floats in ``seqs``, lists of
        ``(M, b)`` layers in ``self.layers``, int leaves in ``ints``."""
        kind = spec[0]
        if kind == "float":
            sc.cfloats.append(expr)
        elif kind == "vec":
            sc.carrays.append(expr)
        elif kind == "int":
            ints.append((expr, spec[1]))
        elif kind in ("tuple", "list", "dict"):
            items = spec[1] if kind == "dict" else list(enumerate(spec[1]))
            if all(v[0] == "float" for _, v in items):
                sc.seqs.append(_Seq(expr, len(items),
                                    [k for k, _ in items] if kind == "dict" else None,
                                    False, kind))
            if kind == "list" and all(v[0] == "tuple" and [e[0] for e in v[1]] == ["mat", "vec"]
                                      for _, v in items):
                self.layers.append(expr)
                return
            for k, v in items:
                self.cont_register(v, ast.Subscript(_cp(expr), ast.Constant(k), ast.Load()),
                                   sc, ints)

    def cont_prelude(self, sc: _Scope) -> list[ast.stmt]:
        """The entry function's first reads of ``p``: its int leaves bound to names, an
        unpacking ``a, b, cw0 = p`` or some leaves bound to names (``b = p["w"]``)."""
        ch = self.ch
        body: list[ast.stmt] = []
        ints: list = []
        self.layers: list = []
        self.cont_register(self.cont, _name("p"), sc, ints)
        kind, items = self.cont
        flat = kind in ("tuple", "list") and all(v[0] in ("float", "vec", "int") for v in items)
        if flat and ch.chance(40) and not (kind == "list" and "list_unpack" in self.p.avoid):
            names = []
            for v in items:
                if v[0] == "float":
                    names.append(self.fresh("float"))
                    sc.floats.append(names[-1])
                elif v[0] == "vec":
                    names.append(self.fresh("carr"))
                    sc.arrays.append(names[-1])
                else:
                    names.append(self.fresh("cint"))
                    sc.ints.append((names[-1], v[1], v[1]))
            body.append(ast.Assign([ast.Tuple([_store(n) for n in names], ast.Store())],
                                   _name("p")))
            self.feat("cont_unpack" if kind == "tuple" else "cont_unpack_list")
        else:
            for expr, v in ints:
                name = self.fresh("cint")
                body.append(_assign(name, _cp(expr)))
                sc.ints.append((name, v, v))
            for expr in list(sc.cfloats):
                if ch.chance(25):
                    name = self.fresh("float")
                    body.append(_assign(name, _cp(expr)))
                    sc.floats.append(name)
                    self.feat("cont_bind")
            for expr in list(sc.carrays):
                if self.len_name and ch.chance(30):
                    name = self.fresh("carr")
                    body.append(_assign(name, _cp(expr)))
                    sc.arrays.append(name)
                    self.feat("cont_bind_array")
            for q in sc.seqs:       # a, b = p["dec"]
                if isinstance(q.expr, ast.Subscript) and q.keys is None and ch.chance(30):
                    names = [self.fresh("float") for _ in range(q.n)]
                    body.append(ast.Assign([ast.Tuple([_store(n) for n in names],
                                                      ast.Store())], _cp(q.expr)))
                    sc.floats += names
                    self.feat("cont_nested_unpack")
        if ints:
            self.feat("cont_int_leaf")
        if any(v[0] in ("vec", "mat") for _, v in _spec_leaves(self.cont)):
            self.feat("cont_array_leaf")
        # the container's leaves reach the output
        for expr in sc.cfloats:
            self.extra_terms.append(expr)
        for expr in sc.carrays:
            self.extra_terms.append(_call("np.sum", _call("np.sin", _cp(expr))))
        return body

    def emit_nested_def(self, sc: _Scope) -> list[ast.stmt]:
        """The nested helper's ``def`` inside the entry function; it may read one of the
        entry's floats (a closure: read at each call, so never rebound to an array)."""
        h = self.nested_def
        fdef = next(d for hh, d in self._helper_defs if hh is h)
        self.feat("nested_def")
        # (a name the helper assigns or takes is its own local, not the closure's)
        own = {n.id for n in ast.walk(fdef) if isinstance(n, ast.Name)
               and isinstance(n.ctx, ast.Store)} | {a.arg for a in ast.walk(fdef)
                                                     if isinstance(a, ast.arg)}
        outer = [f for f in sc.floats if f not in own]
        if outer and self.ch.chance(60):
            name = self.ch.pick(outer)
            self.pinned.add(name)
            ret = fdef.body[-1]
            factor = _bin(_num(0.75), "+", _bin(_num(0.25), "*", _call("math.tanh", _name(name))))
            if isinstance(ret.value, ast.Tuple):
                ret.value.elts[0] = _bin(ret.value.elts[0], "*", factor)
            else:
                ret.value = _bin(ret.value, "*", factor)
            self.feat("nested_def_closure")
        return [fdef]

    def s_jax(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """A statement written as a JAX user writes it: a reduction over a comprehension, a
        loop over a container, a local container, a lambda, a layer loop."""
        ch = self.ch
        opts = [(2, "local"), (2, "lambda")]
        if sc.seqs:
            opts += [(3, "comp_sum"), (2, "comp_minmax"), (2, "comp_list"), (3, "for_seq")]
            if self.len_name:
                opts.append((1, "np_array"))
        if any(q.writable for q in sc.seqs):
            opts.append((3, "write"))
        if self.jax and getattr(self, "layers", None) and self.len_name \
                and ctx.fn == "main":
            opts.append((2, "layers"))
        return getattr(self, "j_" + ch.weighted(opts))(sc, ctx)

    def target_float(self, sc: _Scope) -> str:
        targets = sc.assignable()
        if targets and self.ch.chance(30):
            return self.ch.pick(targets)
        name = self.fresh("float")
        sc.floats.append(name)
        return name

    def iter_source(self, sc: _Scope, ctx: _Ctx, comp: bool, prefix: str):
        """What a comprehension (``comp``) or a loop iterates over a container: (target,
        iterable, scope of the body, trip count, what to read in the body)."""
        ch = self.ch
        seqs = sc.seqs
        if not comp and "for_nested_container" in self.p.avoid:   # loops: over names only
            seqs = [q for q in seqs if isinstance(q.expr, ast.Name)]
        q = ch.pick(seqs)
        inner = sc.child()
        opts = []
        if q.keys is not None:
            opts += [(2, "keys"), (2, "items"), (2, "values")]
        else:
            opts += [(4, "plain"), (2, "enumerate"), (1, "reversed")]
            if [o for o in seqs if o.keys is None]:
                opts.append((2, "zip"))
            if not comp:
                opts.append((1, "range_len"))
            elif self.len_name and "comp_range" not in self.p.avoid:
                opts.append((1, "range"))
        form = ch.weighted(opts)
        self.feat(f"{prefix}_{form}")
        if q.keys is None and form not in ("range",):
            self.feat(f"{prefix}_over_{q.kind}")
        el = self.fresh("elem")
        if form in ("plain", "values", "reversed"):
            it = _cp(q.expr)
            if form == "values":
                it = _meth(it, "values")
            elif form == "reversed":
                it = _call("reversed", it)
            inner.floats.append(el)
            return _store(el), it, inner, q.n, _name(el)
        if form in ("keys", "items"):
            key = self.fresh("key")
            read = ast.Subscript(_cp(q.expr), _name(key), ast.Load())
            inner.cfloats.append(read)
            if form == "keys":
                return _store(key), _cp(q.expr), inner, q.n, _cp(read)
            inner.floats.append(el)
            return (ast.Tuple([_store(key), _store(el)], ast.Store()), _meth(_cp(q.expr), "items"),
                    inner, q.n, _name(el))
        if form == "enumerate":
            var = self.fresh("loop")
            start = 0
            if ch.chance(40) and not (comp and "comp_enumerate_start" in self.p.avoid):
                start = ch.integer(1, 2)
                self.feat(f"{prefix}_enumerate_start")
            inner.ints.append((var, start, start + q.n - 1))
            inner.floats.append(el)
            it = _call("enumerate", _cp(q.expr), kw=[("start", _num(start))] if start else None)
            return (ast.Tuple([_store(var), _store(el)], ast.Store()), it, inner, q.n,
                    _bin(_name(el), "*", _bin(_num(0.5), "*", _name(var))))
        if form == "zip":
            q2 = ch.pick([o for o in seqs if o.keys is None])
            el2 = self.fresh("elem")
            inner.floats += [el, el2]
            return (ast.Tuple([_store(el), _store(el2)], ast.Store()),
                    _call("zip", _cp(q.expr), _cp(q2.expr)), inner, min(q.n, q2.n),
                    _bin(_name(el), "*", _name(el2)))
        var = self.fresh("loop")
        if form == "range_len":     # for i in range(len(t)): ... t[i] ...
            inner.ints.append((var, 0, q.n - 1))
            read = ast.Subscript(_cp(q.expr), _name(var), ast.Load())
            inner.cfloats.append(read)
            return _store(var), _call("range", _call("len", _cp(q.expr))), inner, q.n, _cp(read)
        # sum(... u[i] ... for i in range(L))
        inner.ints.append((var, 0, self.L - 1))
        return (_store(var), _call("range", _num(self.L)), inner, self.L,
                _sub(ch.pick(sc.arrays), _name(var)))

    def comp_parts(self, sc: _Scope, ctx: _Ctx, prefix: str = "comp"):
        """The element expression (bounded by VB) and the generator of a comprehension."""
        ch = self.ch
        target, it, inner, n, read = self.iter_source(sc, ctx, True, prefix)
        ictx = ctx.enter(fuse=True, mult=ctx.mult * max(n, 1))
        scalars = self.callable_helpers(inner, ictx, ("scalar",))
        if scalars and ch.chance(30):      # per-example losses: sum(loss(w, xi) for xi in xs)
            h = ch.pick(scalars)
            self.peak = max(self.peak, ictx.mult * h.cost)
            e = self.call_args(h, inner, ictx)
            if e.args:
                e.args[0] = read
            elif e.keywords:
                e.keywords[0].value = read
            self.feat("comp_per_example")
            b = VB
        else:
            e, b = self.fexpr(inner, ictx, ch.integer(0, 2))
            e, b = _bin(read, ch.pick(["*", "+"]), e), VB * b + b
        e, _ = self.squash(e, b)
        return e, [ast.comprehension(target, it, [], 0)], n

    def j_comp_sum(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        form = ch.weighted([(3, "gen"), (2, "list"), (2, "np_sum"), (1, "direct")])
        if form == "direct":        # sum(t), sum(d.values())
            q = ch.pick(sc.seqs)
            it = _meth(_cp(q.expr), "values") if q.keys else _cp(q.expr)
            value, n = _call("sum", it), q.n
        else:
            e, gens, n = self.comp_parts(sc, ctx)
            if form == "gen":
                value = _call("sum", ast.GeneratorExp(e, gens))
            else:
                value = _call("sum" if form == "list" else "np.sum", ast.ListComp(e, gens))
        self.feat("comp_sum_" + form)
        value, _ = self.squash(value, n * VB)
        return [_assign(self.target_float(sc), value)]

    def j_comp_minmax(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        fn = ch.pick(["min", "max"])
        form = ch.weighted([(3, "gen"), (2, "list"), (1, "direct")])
        if form == "direct":
            q = ch.pick(sc.seqs)
            value = _call(fn, _meth(_cp(q.expr), "values") if q.keys else _cp(q.expr))
        else:
            e, gens, _ = self.comp_parts(sc, ctx)
            value = _call(fn, ast.GeneratorExp(e, gens) if form == "gen" else ast.ListComp(e, gens))
        self.feat(f"comp_{fn}", f"comp_{fn}_{form}")
        return [_assign(self.target_float(sc), value)]

    def j_comp_list(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """``zs0 = [e for el in t]``: a list read later by index, iterated, summed."""
        e, gens, n = self.comp_parts(sc, ctx)
        if n < 1:
            return self.j_comp_sum(sc, ctx)
        name = self.fresh("comp")
        sc.seqs.append(_Seq(_name(name), n, None, True, "list"))
        self.feat("comp_list_bound")
        return [_assign(name, ast.ListComp(e, gens))]

    def j_np_array(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """``ar0 = np.array([e for ...])``: an array when it has length L, else reduced."""
        e, gens, n = self.comp_parts(sc, ctx)
        value = _call("np.array", ast.ListComp(e, gens))
        self.feat("comp_np_array")
        if n == self.L and ctx.fn == "main":
            name = self.fresh("temp")
            sc.temps.append(name)
            sc.arrays.append(name)
            self.array_exprs += 1
            return [_assign(name, value)]
        return [_assign(self.target_float(sc), _call("np.mean", value))]

    def j_for_seq(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """A loop over a container (srcgrad unrolls it: no break, continue or return)."""
        if "for_nested_container" in self.p.avoid \
                and not any(isinstance(q.expr, ast.Name) for q in sc.seqs):
            return self.j_comp_sum(sc, ctx)
        target, it, inner, n, _ = self.iter_source(sc, ctx, False, "for")
        if ctx.mult * max(n, 1) > self.p.max_trips or ctx.depth >= self.p.max_depth:
            return self.j_comp_sum(sc, ctx)
        ictx = ctx.enter(mult=ctx.mult * max(n, 1), loop=None, loops=ctx.loops + 1,
                         unrolled=True)
        self.peak = max(self.peak, ictx.mult)
        body = self.block(inner, ictx, 1, self.p.max_inner)
        return [ast.For(target, it, body, [])]

    def j_local(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """A local container of floats: ``dct0 = {"s": e, "t": e}``, ``dict(s=e, t=e)``,
        ``lst0 = [e, e, 1.5]``, ``tup0 = (e, e)``."""
        ch = self.ch
        form = ch.weighted([(2, "dict"), (1, "dict_call"), (2, "list"), (1, "tuple")])
        k = ch.integer(2, 3)
        values = [self.rhs(sc, ctx) for _ in range(k)]
        if form == "list" and ch.chance(40):
            values[-1] = _num(ch.integer(-15, 15) / 10)
        self.feat("local_" + form)
        if form.startswith("dict"):
            keys = ["s", "t", "r"][:k]
            name = self.fresh("dict")
            value = (_call("dict", kw=list(zip(keys, values))) if form == "dict_call"
                     else ast.Dict([ast.Constant(kk) for kk in keys], values))
            sc.seqs.append(_Seq(_name(name), k, keys, True, "dict"))
            sc.cfloats += [ast.Subscript(_name(name), ast.Constant(kk), ast.Load()) for kk in keys]
        else:
            name = self.fresh(form)
            value = _list(values) if form == "list" else _tuple(values)
            sc.seqs.append(_Seq(_name(name), k, None, form == "list", form))
        return [_assign(name, value)]

    def j_write(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """``dct0["s"] += e``, ``lst0[1] = e``: writes into a local container's element."""
        ch = self.ch
        q = ch.pick([q for q in sc.seqs if q.writable])
        idx = ast.Constant(ch.pick(q.keys)) if q.keys else _num(ch.integer(-q.n, q.n - 1))
        target = ast.Subscript(_cp(q.expr), idx, ast.Store())
        self.feat("local_cont_write")
        if ch.chance(50):
            return [ast.Assign([target], self.rhs(sc, ctx))]
        term = _bin(_num(self.incr(ctx)), "*", self.rhs(sc, ctx))
        return [_aug(target, ch.pick(["+", "-"]), term)]

    def j_lambda(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """``g0 = lambda g0a, g0b=0.5: e``: its body may read the function's floats at each
        call (a closure; those are never rebound to arrays)."""
        ch = self.ch
        if "lambda_in_block" in self.p.avoid and ctx.depth != (0 if ctx.fn == "main" else 1):
            return self.j_local(sc, ctx)       # (lambdas at the top of a body only)
        name = self.fresh("lam")
        params = [f"{name}a"] + ([f"{name}b"] if ch.chance(40) else [])
        default = len(params) == 2 and ch.chance(50)
        outer = [f for f in sc.floats if f not in ("x", "y", "z")]
        reads = [ch.pick(outer)] if outer and ch.chance(50) else []
        self.pinned.update(reads)
        reads_p = "closure_reads_container" not in self.p.avoid
        bsc = _Scope(params + reads, [a for a in sc.arrays if a in ("u", "v")], [],
                     list(sc.ints), cfloats=[c for c in sc.cfloats
                                              if _root(c) == "p" and reads_p],
                     carrays=list(sc.carrays) if reads_p else [],
                     lams=list(sc.lams) if "lambda_calls_lambda" not in self.p.avoid else [])
        bctx = _Ctx(fn="scalar", depth=ctx.depth + 1, fuse=True, mult=ctx.mult)
        e, b = self.fexpr(bsc, bctx, ch.integer(1, 2))
        if not any(isinstance(nd, ast.Name) and nd.id in params for nd in ast.walk(e)):
            e, b = _bin(_name(params[0]), "*", e), VB * b
        e, _ = self.squash(e, b)
        args = _funcdef("_", params, [_num(0.5)] if default else [], []).args
        sc.lams.append((name, params, default))
        self.feat("lambda_def")
        if reads:
            self.feat("lambda_closure")
        if default:
            self.feat("lambda_default")
        return [_assign(name, ast.Lambda(args, e))]

    def j_layers(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        """``for M, b in p: h = np.tanh(M @ h + b)``: the layers of the container."""
        ch = self.ch
        h = self.fresh("temp")
        M, b = self.fresh("carr"), self.fresh("carr")
        e, _ = self.aexpr(sc, ctx, 1)
        step = _assign(h, _call("np.tanh", _bin(_bin(_name(M), "@", _name(h)), "+", _name(b))))
        loop = ast.For(ast.Tuple([_store(M), _store(b)], ast.Store()),
                       _cp(ch.pick(self.layers)), [step], [])
        sc.temps.append(h)
        sc.arrays.append(h)
        self.array_exprs += 1
        self.feat("cont_layers_loop")
        return [_assign(h, _call("np.tanh", e)), loop]

    def jax_leaf(self, sc: _Scope, ctx: _Ctx, form: str):
        """A float read from a container, a lambda's call, ``len`` or ``get`` of one."""
        ch = self.ch
        if form == "cleaf":
            self.feat("cont_read")
            return _cp(ch.pick(sc.cfloats)), VB
        if form == "seq_elem":
            q = ch.pick([q for q in sc.seqs if q.keys is None])
            ints = [(n, lo, hi) for n, lo, hi in sc.ints if n != "m"]
            if ints and ch.chance(40):      # known only at run time: np.array(t)[i]
                name, lo, hi = ch.pick(ints)
                idx = _name(name) if 0 <= lo and hi < q.n else _bin(_name(name), "%", _num(q.n))
                self.feat("seq_index_runtime")
            else:
                idx = _num(ch.integer(-q.n, q.n - 1))
                self.feat("seq_index")
            return ast.Subscript(_cp(q.expr), idx, ast.Load()), VB
        if form == "lam":
            name, params, default = ch.pick(sc.lams)
            args = [self.squash(*self.fexpr(sc, ctx, ch.integer(0, 1)))[0]
                    for _ in params[:1 if default and ch.chance(50) else len(params)]]
            call = _call(name, *args)
            if len(args) == 2 and default and ch.chance(50):
                call.keywords = [ast.keyword(params[1], call.args.pop())]
            self.feat("lambda_call")
            return call, VB
        if form == "cont_len":
            q = ch.pick(sc.seqs)
            c = ch.integer(1, 5) / 10
            self.feat("cont_len")
            return _bin(_num(c), "*", _call("len", _cp(q.expr))), c * q.n
        q = ch.pick([q for q in sc.seqs if q.keys])
        key = ch.pick(q.keys) if ch.chance(70) else "zz"
        d = ch.integer(-15, 15) / 10
        self.feat("cont_get")
        return _meth(_cp(q.expr), "get", ast.Constant(key), _num(d)), VB

    def jax_cond(self, sc: _Scope, ctx: _Ctx, form: str) -> ast.expr:
        """``any(e > c for el in t)``, ``all(...)``, ``"s" in d``."""
        ch = self.ch
        if form == "key_in":
            q = ch.pick([q for q in sc.seqs if q.keys])
            self.feat("cond_key_in")
            return ast.Compare(ast.Constant(ch.pick(q.keys) if ch.chance(60) else "zz"),
                               [ast.In()], [_cp(q.expr)])
        fn = ch.pick(["any", "all"])
        target, it, inner, n, read = self.iter_source(sc, ctx, True, "cond")
        ictx = ctx.enter(fuse=True, mult=ctx.mult * max(n, 1))
        e = _bin(read, "+", self.fexpr(inner, ictx, ch.integer(0, 1))[0]) if ch.chance(50) else read
        test = _cmp(e, ch.pick(["<", ">"]), _num(ch.integer(-80, 80) / 100))
        self.feat("cond_" + fn)
        return _call(fn, ast.GeneratorExp(test, [ast.comprehension(target, it, [], 0)]))

    # the NumPy surface: linear algebra, statistics, shapes, ufuncs, scipy.special -------
    # (srcgrad/compiler/rules.py's newer sections; runtime in srcgrad/runtime/{linalg,
    # stats,shapes}.py). Each family is a statement: temporaries (a matrix Q, a symmetric
    # positive definite S, ...), then a float from them, squashed into [-VB, VB].

    def vec_k(self, sc: _Scope, ctx: _Ctx, k: int):
        """A float vector of length ``k`` and a bound on its elements."""
        ch = self.ch
        if sc.arrays and self.len_name and not ctx.fuse:
            if k == self.L and ch.chance(60):
                return self.aexpr(sc, ctx, ch.integer(0, 1))
            if k <= self.L and ch.chance(50):
                return ast.Subscript(_name(ch.pick(sc.arrays)), _slice(None, _num(k)),
                                     ast.Load()), VB
        elts, bs = zip(*[self.small(sc, ctx) for _ in range(k)])
        return _call("np.array", _list(elts)), max(bs)

    def vec(self, sc: _Scope, ctx: _Ctx):
        """A float vector, its length and a bound on its elements."""
        k = self.L if sc.arrays and self.len_name and self.ch.chance(70) else \
            self.ch.integer(2, 4)
        e, b = self.vec_k(sc, ctx, k)
        return e, k, b

    def mat(self, sc: _Scope, ctx: _Ctx, R: int, C: int):
        """An R x C float matrix and a bound on its elements."""
        ch = self.ch
        form = ch.weighted([(3, "lit"), (2, "stack"), (1, "outer")])
        if form == "lit":
            rows = [_list(self.small(sc, ctx)[0] for _ in range(C)) for _ in range(R)]
            return _call("np.array", _list(rows)), VB
        if form == "stack":
            parts = [self.vec_k(sc, ctx, C) for _ in range(R)]
            b = max(bb for _, bb in parts)
            node = _call("np.stack", _list(e for e, _ in parts)) if R > 1 else \
                _call("np.atleast_2d", parts[0][0])
            return (node, b) if b <= VB else (_call("np.tanh", node), 1.0)
        e1, e2 = self.vec_k(sc, ctx, R)[0], self.vec_k(sc, ctx, C)[0]
        return _call("np.tanh", _call("np.outer", e1, e2)), 1.0

    def temp(self, out: list, value: ast.expr, prefix: str = "Q") -> ast.Name:
        name = f"{prefix}{self.mats}"
        self.mats += 1
        out.append(_assign(name, value))
        return _name(name)

    def sym(self, out, sc, ctx, R: int, diag: ast.expr, c: float) -> ast.Name:
        """``diag + c tanh(Q + Q.T)``: symmetric, eigenvalues within ``c R`` of diag's."""
        Q = self.temp(out, self.mat(sc, ctx, R, R)[0])
        return self.temp(out, _bin(diag, "+", _bin(_num(_round(c)), "*", _call(
            "np.tanh", _bin(Q, "+", ast.Attribute(_cp(Q), "T", ast.Load()))))), "S")

    def consts(self, k: int) -> ast.expr:
        """A constant vector of k distinct values."""
        return _call("np.array", _list(_num(_round(0.3 * j - 0.4 + self.ch.integer(0, 9) / 100))
                                       for j in range(k)))

    def s_surface(self, sc: _Scope, ctx: _Ctx) -> list[ast.stmt]:
        ch = self.ch
        fam = ch.weighted([(3, "linalg"), (3, "stats"), (3, "shapes"), (2, "ufunc"),
                           (2, "special")])
        out: list[ast.stmt] = []
        self.feat("surface_" + fam)
        e, eb = getattr(self, "surface_" + fam)(out, sc, ctx)
        value, _ = self.squash(e, eb)
        targets = sc.assignable()
        if targets and ch.chance(40):
            target = ch.pick(targets)
        else:
            target = self.fresh("float")
            sc.floats.append(target)
        if ctx.loops:
            self.feat("surface_in_loop")
        out.append(_assign(target, value))
        return out

    def to_float(self, node: ast.expr, size: int, b: float, shape=None):
        """A float from an array result whose elements are bounded by ``b``: a nonlinear
        or positional reduction (so that a wrong permutation of the adjoint shows)."""
        ch = self.ch
        form = ch.pick(["sumsq", "sin", "dot"] if shape is not None and len(shape) == 1
                       else ["sumsq", "sin", "sum"])
        if form == "sumsq":
            return _call("np.sum", _bin(node, "*", _cp(node))), size * b * b
        if form == "sin":
            return _call("np.sum", _call("np.sin", node)), float(size)
        if form == "dot":
            return _call("np.dot", node, _call("np.linspace", _num(-1.0), _num(1.0),
                                               _num(shape[0]))), size * b
        return _call("np.sum", node), size * b

    def surface_linalg(self, out, sc, ctx):
        ch = self.ch
        R = ch.integer(2, 3)
        kind = ch.pick(["det", "slogdet", "solve_v", "solve_m", "cholesky", "eigvalsh",
                        "eigh_vals", "eigh_vecs", "pinv", "lstsq", "kron", "cross", "einsum",
                        "tensordot", "inner", "vdot", "norm_vec", "norm_mat", "norm_axis"])
        self.feat("la_" + kind)
        spd = lambda: self.sym(out, sc, ctx, R, _bin(_num(2.0), "*", _call("np.eye", _num(R))),  # noqa: E731
                               0.4 / R)
        # separated eigenvalues 1, 2, (3) moved by at most 0.3
        sep = lambda: self.sym(out, sc, ctx, R, _call("np.diag", _call(  # noqa: E731
            "np.array", _list(_num(float(j + 1)) for j in range(R)))), 0.3 / R)
        if kind == "det":
            return _call("np.linalg.det", spd()), 2.4 ** R
        if kind == "slogdet":
            return ast.Subscript(_call("np.linalg.slogdet", spd()), _num(1), ast.Load()), 3.0
        if kind == "solve_v":
            S = spd()
            bv, bb = self.vec_k(sc, ctx, R)
            x = _call("np.linalg.solve", S, bv)
            return self.to_float(x, R, R * bb / 1.6, (R,))
        if kind == "solve_m":
            S = spd()
            C = ch.integer(1, 3)
            B, bb = self.mat(sc, ctx, R, C)
            return self.to_float(_call("np.linalg.solve", S, B), R * C, R * bb / 1.6)
        if kind == "cholesky":
            return self.to_float(_call("np.linalg.cholesky", spd()), R * R, 1.6)
        if kind == "eigvalsh":
            return _call("np.dot", _call("np.linalg.eigvalsh", sep()), self.consts(R)), 3.3 * R
        if kind == "eigh_vals":
            return ast.Subscript(ast.Subscript(_call("np.linalg.eigh", sep()), _num(0),
                                               ast.Load()), _num(ch.integer(-R, R - 1)),
                                 ast.Load()), 3.3
        if kind == "eigh_vecs":     # squares of eigenvectors' entries: sign-invariant
            V = ast.Subscript(_call("np.linalg.eigh", sep()), _num(1), ast.Load())
            if ch.chance(50):
                return _call("np.dot", _bin(ast.Subscript(V, _num(ch.integer(0, R - 1)),
                                                          ast.Load()), "**", _num(2)),
                             self.consts(R)), R * 1.0
            return _call("np.sum", _bin(_bin(V, "**", _num(2)), "*", _call(
                "np.arange", _num(float(R))))), R * R * 1.0
        if kind == "pinv":
            S = spd()
            k = ch.integer(1, R)
            A = S if k == R and ch.chance(50) else ast.Subscript(
                S, _tuple([_slice(), _slice(None, _num(k))]), ast.Load())
            return self.to_float(_call("np.linalg.pinv", A), R * k, 1 / 1.6)
        if kind == "lstsq":
            S = spd()
            k = ch.integer(1, R)
            bv, bb = self.vec_k(sc, ctx, R)
            A = ast.Subscript(S, _tuple([_slice(), _slice(None, _num(k))]), ast.Load())
            sol = ast.Subscript(_call("np.linalg.lstsq", A, bv, kw=[("rcond", ast.Constant(None))]),
                                _num(0), ast.Load())
            return self.to_float(sol, k, R * bb / 1.6, (k,))
        if kind == "kron":
            k1, k2 = ch.integer(1, 3), ch.integer(2, 3)
            (a, ba), (b, bb) = self.vec_k(sc, ctx, k1), self.vec_k(sc, ctx, k2)
            return self.to_float(_call("np.kron", a, b), k1 * k2, ba * bb, (k1 * k2,))
        if kind == "cross":
            (a, ba), (b, bb) = self.vec_k(sc, ctx, 3), self.vec_k(sc, ctx, 3)
            return self.to_float(_call("np.cross", a, b), 3, 2 * ba * bb, (3,))
        if kind == "einsum":
            Q, bq = self.mat(sc, ctx, R, R)
            Qn = self.temp(out, Q)
            (a, ba), (b, bb) = self.vec_k(sc, ctx, R), self.vec_k(sc, ctx, R)
            sub = ch.pick(["ij,j->i", "ij,ij->", "ii", "i,i", "ij->ji", "ij,jk->ik", "ij->i",
                           "i,j->ij", "ij,i->j", "ii->i"])
            self.feat("einsum_" + sub.replace(",", "_").replace("->", "_to_"))
            ops = {"ij,j->i": [Qn, a], "ij,ij->": [Qn, _call("np.tanh", _cp(Qn))],
                   "ii": [Qn], "i,i": [a, b], "ij->ji": [Qn], "ij,jk->ik": [Qn, _cp(Qn)],
                   "ij->i": [Qn], "i,j->ij": [a, b], "ij,i->j": [Qn, a], "ii->i": [Qn]}[sub]
            node = _call("np.einsum", ast.Constant(sub), *ops)
            bound = R * R * max(bq, ba, bb) ** 2
            if "->" in sub and not sub.endswith("->"):
                return self.to_float(node, R * R, bound)
            return node, bound
        if kind == "tensordot":
            S = spd()
            Q, bq = self.mat(sc, ctx, R, R)
            axes = ch.pick([1, 2, "pair", "pair2"])
            if axes == "pair":
                ax = _tuple([_list([_num(1)]), _list([_num(0)])])
            elif axes == "pair2":
                ax = _tuple([_list([_num(0)]), _list([_num(1)])])
            else:
                ax = _num(axes)
            node = _call("np.tensordot", S, Q, kw=[("axes", ax)])
            if axes == 2:
                return node, R * R * 2.4 * bq
            return self.to_float(node, R * R, R * 2.4 * bq)
        if kind == "inner":
            if ch.chance(50):
                (a, ba), (b, bb) = self.vec_k(sc, ctx, R), self.vec_k(sc, ctx, R)
                return _call("np.inner", a, b), R * ba * bb
            Q, bq = self.mat(sc, ctx, R, R)
            return self.to_float(_call("np.inner", Q, spd()), R * R, R * bq * 2.4)
        if kind == "vdot":
            if ch.chance(50):
                (a, ba), (b, bb) = self.vec_k(sc, ctx, R), self.vec_k(sc, ctx, R)
                return _call("np.vdot", a, b), R * ba * bb
            Q, bq = self.mat(sc, ctx, R, R)
            return _call("np.vdot", Q, spd()), R * R * bq * 2.4
        if kind == "norm_vec":
            a, k, ba = self.vec(sc, ctx)
            ord_ = ch.pick([None, 1, 2, 3, "inf"])
            args = [a] + ([] if ord_ is None else [_attr("np.inf") if ord_ == "inf" else _num(ord_)])
            return _call("np.linalg.norm", *args), k * ba
        if kind == "norm_mat":
            ord_ = ch.pick(["fro", "nuc", None, 2, -2])
            if ord_ in ("fro", None):
                Q, bq = self.mat(sc, ctx, R, ch.integer(1, 3))
                kw = [] if ord_ is None else [("ord", ast.Constant("fro"))]
                return _call("np.linalg.norm", Q, kw=kw), 3 * R * bq
            M = spd() if ord_ == "nuc" else sep()   # 2-norms: distinct singular values
            return _call("np.linalg.norm", M, ast.Constant(ord_) if ord_ == "nuc" else
                         _num(ord_)), 3.3 * R
        C = ch.integer(1, 3)
        Q, bq = self.mat(sc, ctx, R, C)
        axis = ch.integer(0, 1)
        ord_ = ch.pick([None, 1, 2])
        kw = [("axis", _num(axis))] + ([] if ord_ is None else [("ord", _num(ord_))])
        if ch.chance(30):
            kw.append(("keepdims", ast.Constant(True)))
        n = C if axis == 0 else R
        return self.to_float(_call("np.linalg.norm", Q, kw=kw), n, 3 * bq)

    def stats_input(self, out, sc, ctx, ddof: int = 0):
        """A vector or matrix for a statistic, its shape and element bound."""
        ch = self.ch
        if ch.chance(55):
            a, k, b = self.vec(sc, ctx)
            if k < 2 + ddof:
                a, b = self.vec_k(sc, ctx, 2 + ddof)
                k = 2 + ddof
            return a, (k,), b
        R, C = ch.integer(1 + ddof, 3), ch.integer(2, 3)
        Q, b = self.mat(sc, ctx, R, C)
        return self.temp(out, Q), (R, C), b

    def surface_stats(self, out, sc, ctx):
        ch = self.ch
        kind = ch.pick(["var", "std", "average", "median", "percentile", "quantile", "cov",
                        "corrcoef", "ptp", "nan", "convolve", "correlate", "interp",
                        "trapezoid", "diff", "cumprod"])
        self.feat("st_" + kind)
        if kind in ("var", "std"):
            ddof = ch.pick([0, 0, 1])
            a, shape, b = self.stats_input(out, sc, ctx, ddof)
            axis = None if len(shape) == 1 or ch.chance(30) else ch.integer(0, 1)
            if axis is not None and shape[axis] < 2 + ddof:
                axis = None
            kw = ([("axis", _num(axis))] if axis is not None else []) + \
                ([("ddof", _num(ddof))] if ddof else [])
            node = _meth(a, kind, kw=kw) if ch.chance(25) else _call("np." + kind, a, kw=kw)
            bound = 4 * b * b if kind == "var" else 2 * b
            if axis is None:
                return node, bound
            return self.to_float(node, shape[1 - axis], bound)
        if kind == "average":
            a, shape, b = self.stats_input(out, sc, ctx)
            axis = None if len(shape) == 1 or ch.chance(30) else ch.integer(0, 1)
            kw = [] if axis is None else [("axis", _num(axis))]
            if ch.chance(80):
                w = _call("np.exp", _call("np.sin", _bin(_cp(a), "*", _num(0.7))))
                kw.append(("weights", w))
            node = _call("np.average", a, kw=kw)
            return (node, b) if axis is None else self.to_float(node, shape[1 - axis], b)
        if kind in ("median", "percentile", "quantile", "ptp"):
            a, shape, b = self.stats_input(out, sc, ctx)
            axis = None if len(shape) == 1 or ch.chance(30) else ch.integer(0, 1)
            kw = [] if axis is None else [("axis", _num(axis))]
            if axis is not None and ch.chance(25) and kind != "ptp":
                kw.append(("keepdims", ast.Constant(True)))
            args = [a]
            if kind in ("percentile", "quantile"):
                scale = 100 if kind == "percentile" else 1
                if ch.chance(40):   # an active q (its derivative jumps where q (n - 1) is whole)
                    args.append(_bin(_num(0.5 * scale), "+", _bin(_num(0.4 * scale), "*",
                                                                  self.bounded1(sc, ctx))))
                    self.feat("st_active_q")
                else:
                    args.append(_num(ch.integer(5, 95) * scale / 100))
            node = _call("np." + kind, *args, kw=kw)
            bound = 2 * b if kind == "ptp" else b
            return (node, bound) if axis is None else self.to_float(node, shape[1 - axis], bound)
        if kind in ("cov", "corrcoef"):
            form = ch.pick(["mat", "pair", "rowvar"])
            if form == "pair":
                (a, ba), (c, bc) = [self.vec_k(sc, ctx, self.L if sc.arrays and self.len_name
                                                else 3) for _ in range(2)]
                n = self.L if sc.arrays and self.len_name else 3
                if kind == "corrcoef":      # never a constant variable
                    a = _bin(a, "+", _bin(_num(0.3), "*", _call("np.arange", _num(n))))
                    c = _bin(c, "-", _bin(_num(0.2), "*", _call("np.arange", _num(n))))
                args, size, b = [a, c], 4, max(ba, bc) + 0.3 * n
            else:
                R, C = ch.integer(2 if form == "rowvar" else 1, 3), ch.integer(2, 3)
                Q, b = self.mat(sc, ctx, R, C)
                if kind == "corrcoef":      # never a constant variable
                    if form == "rowvar":    # the variables are columns
                        off = _call("np.reshape", _call("np.arange", _num(float(R))),
                                    _tuple([_num(R), _num(1)]))
                    else:
                        off = _call("np.arange", _num(float(C)))
                    Q = _bin(Q, "+", _bin(_num(0.3), "*", off))
                    b += 0.9
                args, size = [Q], (C * C if form == "rowvar" else R * R)
            kw = []
            if form == "rowvar":
                kw.append(("rowvar", ast.Constant(False)))
            if kind == "cov" and ch.chance(30):
                kw.append(("ddof", _num(0)))
            node = _call("np." + kind, *args, kw=kw)
            bound = 1.0 if kind == "corrcoef" else 2 * b * b
            if form != "pair" and args and size == 1:
                return _call("np.sum", node), bound
            return self.to_float(node, size, bound)
        if kind == "nan":
            fn = ch.pick(["nansum", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin",
                          "nanprod", "nanmedian", "nanpercentile", "nanquantile"])
            self.feat("st_" + fn)
            a, k, b = self.vec(sc, ctx)
            if k >= 3 and ch.chance(60):    # one NaN at a constant position
                a = _call("np.where", _cmp(_call("np.arange", _num(k)), "==",
                                           _num(ch.integer(0, k - 1))), _attr("np.nan"), a)
                self.feat("st_nan_value")
            if fn == "nanprod":
                a, b = _call("np.tanh", a), 1.0
            args = [a]
            if fn in ("nanpercentile", "nanquantile"):
                args.append(_num(ch.integer(5, 95) * (100 if fn == "nanpercentile" else 1) / 100))
            return _call("np." + fn, *args), k * b * b + k * b
        if kind in ("convolve", "correlate"):
            a, k, ba = self.vec(sc, ctx)
            j = ch.integer(1, k)
            c, bc = self.vec_k(sc, ctx, j)
            n = k + j - 1 if kind == "convolve" else k - j + 1
            return self.to_float(_call("np." + kind, a, c), n, j * ba * bc, (n,))
        if kind == "interp":
            kp = ch.integer(2, 4)
            if ch.chance(50):
                xp = _call("np.array", _list(_num(_round(-2.0 + 4.0 * j / (kp - 1)
                                                         + ch.integer(-20, 20) / 100))
                                             for j in range(kp)))
                self.feat("st_interp_const_knots")
            else:   # knots that move (increasing)
                e, _ = self.vec_k(sc, ctx, kp)
                xp = _bin(_call("np.cumsum", _call("np.exp", _call("np.tanh", e))), "-",
                          _num(float(kp)))
                self.feat("st_interp_active_knots")
            fp, bf = self.vec_k(sc, ctx, kp)
            if ch.chance(50):
                return _call("np.interp", self.small(sc, ctx)[0], xp, fp), bf
            q, kq, _ = self.vec(sc, ctx)
            return self.to_float(_call("np.interp", q, xp, fp), kq, bf, (kq,))
        if kind == "trapezoid":
            a, shape, b = self.stats_input(out, sc, ctx)
            form = ch.pick(["plain", "dx", "x"])
            n = shape[-1] if len(shape) == 1 else None
            kw = []
            axis = -1
            if len(shape) == 2 and ch.chance(60):
                axis = ch.integer(0, 1)
                kw.append(("axis", _num(axis)))
            n = shape[axis]
            args = [a]
            if form == "dx":
                kw.append(("dx", _num(ch.integer(1, 9) / 10)))
            elif form == "x":
                e, _ = self.vec_k(sc, ctx, n)
                args.append(_call("np.cumsum", _call("np.exp", _call("np.tanh", e))))
            node = _call("np.trapezoid", *args, kw=kw)
            bound = 2.8 * n * b
            return (node, bound) if len(shape) == 1 else self.to_float(node, 3, bound)
        if kind == "diff":
            a, shape, b = self.stats_input(out, sc, ctx)
            kw = []
            if len(shape) == 1:
                nd = ch.integer(1, 2)
                if nd > 1:
                    kw.append(("n", _num(nd)))
                return self.to_float(_call("np.diff", a, kw=kw), shape[0], 4 * b)
            axis = ch.integer(0, 1)
            return self.to_float(_call("np.diff", a, kw=[("axis", _num(axis))]), 9, 2 * b)
        a, shape, b = self.stats_input(out, sc, ctx)
        t = _call("np.tanh", a)
        if len(shape) == 1:
            node = _meth(t, "cumprod") if ch.chance(30) else _call("np.cumprod", t)
            return self.to_float(node, shape[0], 1.0, shape)
        return self.to_float(_call("np.cumprod", t, kw=[("axis", _num(ch.integer(0, 1)))]),
                             9, 1.0)

    def surface_shapes(self, out, sc, ctx):
        ch = self.ch
        kind = ch.pick(["sort", "flip", "roll", "diag", "tri", "take", "repeat", "swapaxes",
                        "expand_dims", "squeeze", "atleast", "concatenate", "tile", "ravel",
                        "astype", "T", "item", "fill", "rot90", "diagonal", "append",
                        "insert", "delete"])
        self.feat("sh_" + kind)
        vecform = ch.chance(50)
        if vecform:
            a, k, b = self.vec(sc, ctx)
            shape = (k,)
        else:
            R, C = ch.integer(1, 3), ch.integer(2, 3)
            Q, b = self.mat(sc, ctx, R, C)
            a, shape = self.temp(out, Q), (R, C)
            k = R * C
        nd = len(shape)
        axis = ch.integer(0, nd - 1)
        axkw = [("axis", _num(axis))] if nd == 2 else []
        if kind == "sort":
            return self.to_float(_call("np.sort", a, kw=axkw), k, b, shape)
        if kind == "flip":
            return self.to_float(_call("np.flip", a, kw=axkw if ch.chance(60) else []), k, b,
                                 shape)
        if kind == "roll":
            return self.to_float(_call("np.roll", a, _num(ch.integer(-3, 3)), kw=axkw), k, b,
                                 shape)
        if kind == "diag":
            if nd == 1:
                kk = ch.integer(-1, 1)
                n = shape[0] + abs(kk)
                return self.to_float(_call("np.diag", a, kw=[("k", _num(kk))] if kk else []),
                                     n * n, b)
            kk = ch.integer(-1, 1)
            return self.to_float(_call("np.diag", a, kw=[("k", _num(kk))] if kk else []), 3, b)
        if kind == "tri":
            fn = ch.pick(["tril", "triu"])
            self.feat("sh_" + fn)
            kk = ch.integer(-1, 1)
            node = _call("np." + fn, a, kw=[("k", _num(kk))] if kk else [])
            return self.to_float(node, k * (shape[0] if nd == 1 else 1), b)
        if kind == "take":
            idx = _int_array([ch.integer(0, shape[axis] - 1) for _ in range(ch.integer(1, 4))])
            return self.to_float(_call("np.take", a, idx, kw=axkw), 4 * k, b)
        if kind == "repeat":
            r = ch.integer(1, 3)
            return self.to_float(_call("np.repeat", a, _num(r), kw=axkw), r * k, b)
        if kind == "swapaxes":
            if nd == 1:
                a = _call("np.atleast_2d", a)
            return self.to_float(_call("np.swapaxes", a, _num(0), _num(1)), k, b)
        if kind == "expand_dims":
            ax = ch.integer(0, nd)
            return self.to_float(_call("np.expand_dims", a, _num(ax)), k, b)
        if kind == "squeeze":
            ax = ch.integer(0, nd)
            e = _call("np.squeeze", _call("np.expand_dims", a, _num(ax)),
                      kw=[("axis", _num(ax))])
            return self.to_float(e, k, b, shape)
        if kind == "atleast":
            fn = ch.pick(["atleast_1d", "atleast_2d", "atleast_3d"])
            self.feat("sh_" + fn)
            return self.to_float(_call("np." + fn, a), k, b)
        if kind == "concatenate":
            if nd == 1:
                c, bc = self.vec_k(sc, ctx, ch.integer(1, 3))
                return self.to_float(_call("np.concatenate", _list([a, c])), k + 3, max(b, bc))
            R2 = ch.integer(1, 2)
            Q2, b2 = self.mat(sc, ctx, R2, shape[1]) if axis == 0 else \
                self.mat(sc, ctx, shape[0], R2)
            return self.to_float(_call("np.concatenate", _tuple([a, Q2]), kw=axkw), 2 * k + 6,
                                 max(b, b2))
        if kind == "tile":
            r = ch.integer(1, 3)
            reps = _num(r) if nd == 1 or ch.chance(40) else _tuple([_num(ch.integer(1, 2)),
                                                                     _num(r)])
            return self.to_float(_call("np.tile", a, reps), 6 * k, b)
        if kind == "ravel":
            form = ch.pick(["method", "np", "flatten"])
            self.feat("sh_ravel_" + form)
            node = _meth(a, "ravel") if form == "method" else (
                _call("np.ravel", a) if form == "np" else _meth(a, "flatten"))
            return self.to_float(node, k, b, (k,))
        if kind == "astype":
            return self.to_float(_meth(a, "astype", _attr("np.float64")), k, b, shape)
        if kind == "T":
            if nd == 1:
                return self.to_float(ast.Attribute(a, "T", ast.Load()), k, b, shape)
            v, bv = self.vec_k(sc, ctx, shape[0])
            return self.to_float(_bin(ast.Attribute(a, "T", ast.Load()), "@", v), shape[1],
                                 shape[0] * b * bv, (shape[1],))
        if kind == "item":
            return _meth(a, "item", _num(ch.integer(0, k - 1))), b
        if kind == "fill":      # x.fill(v) on a fresh array
            fresh = _call("np.zeros", _num(k)) if "inactive_work_array" not in self.p.avoid \
                else _bin(self.vec_k(sc, ctx, k)[0], "*", _num(1.0))
            F = self.temp(out, fresh, "F")
            f, bf = self.small(sc, ctx)
            out.append(ast.Expr(_meth(F, "fill", f)))
            other, bo = self.vec_k(sc, ctx, k)
            return _call("np.dot", _cp(F), other), k * bf * bo
        if kind == "rot90":
            if nd == 1:
                a = _call("np.atleast_2d", a)
            return self.to_float(_call("np.rot90", a, _num(ch.integer(1, 3))), k, b)
        if kind == "diagonal":
            if nd == 1:
                return self.to_float(_call("np.diagonal", _call("np.diag", a)), k, b, shape)
            return self.to_float(_call("np.diagonal", a), k, b)
        f, bf = self.small(sc, ctx)
        if nd == 2:
            a, shape = _meth(a, "ravel"), (k,)
        if kind == "append":
            return self.to_float(_call("np.append", a, f), k + 1, max(b, bf), (k + 1,))
        pos = ch.integer(0, k - 1)
        if kind == "insert":
            return self.to_float(_call("np.insert", a, _num(pos), f), k + 1, max(b, bf),
                                 (k + 1,))
        if k < 2:
            return self.to_float(a, k, b, (k,))
        return self.to_float(_call("np.delete", a, _num(pos)), k - 1, b, (k - 1,))

    def surface_ufunc(self, out, sc, ctx):
        ch = self.ch
        name = ch.pick(["add", "subtract", "multiply", "divide", "true_divide", "negative",
                        "positive", "logaddexp", "logaddexp2", "sinc", "fmax", "fmin",
                        "reciprocal", "float_power"])
        self.feat("uf_" + name)
        arr = bool(sc.arrays and self.len_name) and ch.chance(60)
        if arr:
            self.feat("uf_array")
            e = lambda: self.aexpr(sc, ctx, ch.integer(0, 1))  # noqa: E731
            sin = "np.sin"
        else:
            e = lambda: self.fexpr(sc, ctx, ch.integer(0, 1))  # noqa: E731
            sin = "math.sin"
        (e1, b1) = e()
        if name in ("negative", "positive"):
            node, b = _call("np." + name, e1), b1
        elif name == "sinc":
            node, b = _call("np.sinc", e1), 1.0
        elif name == "reciprocal":
            node, b = _call("np.reciprocal", _bin(_num(2.0), "+", _call(sin, e1))), 1.0
        elif name == "float_power":
            base, bb = self.arg_for("pos", e1, b1, arr)
            ex = _num(ch.pick([0.5, 1.5, 2.0, -1.0]))
            node, b = _call("np.float_power", base, ex), max(bb ** abs(ex.value if isinstance(
                ex, ast.Constant) else 1.0), 1.0)
        else:
            e2, b2 = e()
            if name in ("divide", "true_divide"):
                e2, b2 = _bin(_num(2.0), "+", _call(sin, e2)), 3.0
                node, b = _call("np." + name, e1, e2), b1
            else:
                node = _call("np." + name, e1, e2)
                b = {"add": b1 + b2, "subtract": b1 + b2, "multiply": b1 * b2,
                     "logaddexp": max(b1, b2) + 0.7, "logaddexp2": max(b1, b2) + 1.0,
                     "fmax": max(b1, b2), "fmin": max(b1, b2)}[name]
        if not arr:
            return node, b
        if b > WRAP:
            node, b = _call("np.tanh", node), 1.0
        return self.to_float(node, self.L, b, (self.L,))

    def surface_special(self, out, sc, ctx):
        ch = self.ch
        self.uses_scipy = True
        name = ch.pick(["expit", "logit", "erf", "erfc", "gammaln", "log_expit", "logsumexp",
                        "softmax", "log_softmax", "xlogy"])
        self.feat("sp_" + name)
        elementwise = name not in ("logsumexp", "softmax", "log_softmax")
        fn = "scipy.special." + name
        if elementwise:
            arr = bool(sc.arrays and self.len_name) and ch.chance(60)
            e1, b1 = self.aexpr(sc, ctx, ch.integer(0, 1)) if arr else \
                self.fexpr(sc, ctx, ch.integer(0, 1))
            mod = "np." if arr else "math."
            if name == "logit":     # in (0.05, 0.95)
                node, b = _call(fn, _bin(_num(0.5), "+", _bin(_num(0.45), "*",
                                                              _call(mod + "tanh", e1)))), 3.0
            elif name == "gammaln":
                arg, ba = self.arg_for("pos", e1, b1, arr)
                node, b = _call(fn, arg), max(ba, 1.0) * (1 + math.log(max(ba, 1.0)))
            elif name == "xlogy":
                e2, b2 = (self.aexpr(sc, ctx, 0) if arr else self.fexpr(sc, ctx, 0))
                y, by = self.arg_for("pos", e2, b2, arr)
                node, b = _call(fn, e1, y), b1 * math.log(max(by, 2.0))
            elif name == "log_expit":
                node, b = _call(fn, e1), b1 + 1.0
            else:
                node, b = _call(fn, e1), 2.0
            if not arr:
                return node, b
            if b > WRAP:
                node, b = _call("np.tanh", node), 1.0
            return self.to_float(node, self.L, b, (self.L,))
        if ch.chance(50):
            a, k, b = self.vec(sc, ctx)
            shape, kw = (k,), []
        else:
            R, C = ch.integer(1, 3), ch.integer(2, 3)
            Q, b = self.mat(sc, ctx, R, C)
            a, shape = self.temp(out, Q), (R, C)
            k = R * C
            kw = [("axis", _num(ch.integer(0, 1)))] if ch.chance(70) else []
        node = _call(fn, a, kw=kw)
        if name == "logsumexp":
            return (node, b + 2.0) if not kw else self.to_float(node, 3, b + 2.0)
        return self.to_float(node, k, 1.0 if name == "softmax" else b + 2.0,
                             shape if len(shape) == 1 else None)


def _generate(ch: Chooser, profile: Profile) -> Program:
    return _Gen(ch, profile).program()


def programs(profile: Profile = FAST) -> st.SearchStrategy[Program]:
    """Hypothesis strategy: random programs (with their evaluation points)."""
    @st.composite
    def _programs(draw):
        return _generate(_HypothesisChooser(draw), profile)
    return _programs()


def random_program(seed: Any, profile: Profile = FULL) -> Program:
    """The program for ``seed`` (any hashable), drawn with :class:`random.Random`."""
    return _generate(RandomChooser(random.Random(str(seed))), profile)


# ============================================================================ modules

_MODDIR: str | None = None
_COUNTER = itertools.count()


def _moddir() -> str:
    global _MODDIR
    if _MODDIR is None:
        _MODDIR = tempfile.mkdtemp(prefix="srcgrad_fuzz_modules_")
        atexit.register(shutil.rmtree, _MODDIR, True)
    return _MODDIR


def load_module(source: str):
    """Write ``source`` to a fresh .py file and import it (srcgrad reads source files)."""
    name = f"fuzzmod_{os.getpid()}_{next(_COUNTER)}"
    path = os.path.join(_moddir(), name + ".py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def unload_module(module) -> None:
    sys.modules.pop(module.__name__, None)


# ============================================================================ oracles

class _Instrument(ast.NodeTransformer):
    """Records every branch decision and every min/max/abs choice (see :class:`Traced`)."""

    def _test(self, node):
        self.generic_visit(node)
        node.test = ast.Call(_name("_rec"), [node.test], [])
        return node

    visit_If = visit_IfExp = _test

    def visit_While(self, node):
        self._test(node)
        node.body.insert(0, ast.Expr(ast.Call(_name("_tick"), [], [])))
        return node

    def visit_For(self, node):
        self.generic_visit(node)
        node.body.insert(0, ast.Expr(ast.Call(_name("_tick"), [], [])))
        return node

    def visit_Compare(self, node):
        # elementwise comparisons choose elements (np.where, masks): record every one
        self.generic_visit(node)
        return ast.Call(_name("_cmp"), [node], [])

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Mod):      # x % c jumps where x / c crosses an integer
            return ast.Call(_name("_mod"), [node.left, node.right], [])
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        fn = node.func
        if isinstance(fn, ast.Name) and fn.id in ("min", "max", "abs"):
            node.func = _name("_" + fn.id)
        elif isinstance(fn, ast.Attribute) and _dotted(fn).partition(".")[0] in ("math", "np") \
                and _dotted(fn).partition(".")[2] in _SINGULAR:
            node.args.insert(0, ast.Constant(_dotted(fn).partition(".")[2]))
            node.args.insert(0, fn)
            node.func = _name("_singular")
        elif isinstance(fn, ast.Attribute) and _dotted(fn) in _KINKS:
            node.args.insert(0, ast.Constant(_KINKS[_dotted(fn)]))
            node.args.insert(0, fn)
            node.func = _name("_kink")
        elif isinstance(fn, ast.Attribute) and fn.attr in ("max", "min") \
                and not (isinstance(fn.value, ast.Name) and fn.value.id in ("math", "np")):
            # a method: a.max(axis=0)
            node.args.insert(0, ast.Constant(fn.attr))
            node.args.insert(0, fn.value)
            node.func = _name("_kink_method")
        elif isinstance(fn, ast.Attribute) and fn.attr == "std" \
                and not (isinstance(fn.value, ast.Name) and fn.value.id in ("math", "np")):
            # a method: a.std(axis=0), singular where a lane is constant (as np.std)
            node.args.insert(0, fn.value)
            node.func = _name("_std_method")
        return node


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


#: functions with kinks or jumps (where the derivative changes): what the instrumented copy
#: records of their arguments at each call (see ``_kink_decision``)
_KINKS = {
    "np.abs": "sign", "np.absolute": "sign", "np.fabs": "sign", "math.fabs": "sign",
    "np.maximum": "order", "np.minimum": "order", "np.clip": "clip", "np.fmod": "fmod",
    "np.copysign": "copysign", "math.copysign": "copysign", "np.max": "extreme",
    "np.min": "extreme", "np.amax": "extreme", "np.amin": "extreme",
    "np.linalg.norm": "norm", "np.sign": "sign",
    "np.fmax": "order", "np.fmin": "order",
    # order statistics and sorts: the permutation that sorts the argument (and, for a
    # quantile, the pair of order statistics q picks)
    "np.sort": "rank", "np.median": "rank", "np.ptp": "rank", "np.nanmax": "rank",
    "np.nanmin": "rank", "np.nanmedian": "rank", "np.percentile": "rank",
    "np.quantile": "rank", "np.nanpercentile": "rank", "np.nanquantile": "rank",
    # piecewise linear: the interval of each point
    "np.interp": "interp",
}


def _kink_decision(kind, fn, args, kw, result):
    """What must stay the same between a finite-difference stencil's points."""
    a = [np.asarray(v) for v in args]
    if kind == "sign":
        return np.sign(a[0]).tolist()
    if kind == "order":
        return np.sign(a[0] - a[1]).tolist()
    if kind == "clip":
        lo, hi = kw.get("a_min", args[1] if len(args) > 1 else None), \
            kw.get("a_max", args[2] if len(args) > 2 else None)
        return (np.sign(a[0] - lo).tolist(), np.sign(a[0] - hi).tolist())
    if kind == "fmod":
        return np.trunc(a[0] / a[1]).tolist()
    if kind == "copysign":
        return (np.sign(a[0]).tolist(), np.signbit(a[1]).tolist())
    if kind == "norm":
        ord_ = kw.get("ord", args[1] if len(args) > 1 else None)
        axis = kw.get("axis", args[2] if len(args) > 2 else None)
        if ord_ in (np.inf, -np.inf):   # which element is the largest (smallest) in size
            m = np.abs(a[0])
            ref = np.max if ord_ > 0 else np.min
            return (np.sign(a[0]).tolist(),
                    np.equal(m, ref(m, axis=axis, keepdims=True)).tolist())
        return np.sign(a[0]).tolist() if ord_ is not None else None
    if kind == "rank":
        axis = kw.get("axis")
        x = a[0] if axis is not None else a[0].ravel()
        order = np.argsort(x, axis=-1 if axis is None else axis, kind="stable").tolist()
        name = fn.__name__
        if name in ("percentile", "quantile", "nanpercentile", "nanquantile"):
            q = np.asarray(kw.get("q", args[1] if len(args) > 1 else None), dtype=float)
            q = q / 100.0 if "percentile" in name else q
            n = x.shape[-1 if axis is None else axis]
            return order, np.floor(q * (n - 1)).tolist()
        return order
    if kind == "interp":
        return np.searchsorted(a[1], a[0]).tolist()
    # extreme: which elements reach the max / min (ties included)
    axis = kw.get("axis", args[1] if len(args) > 1 else None)
    ref = np.max if fn.__name__ in ("max", "amax") else np.min
    return np.equal(a[0], ref(a[0], axis=axis, keepdims=True)).tolist()


#: functions whose derivative is infinite or undefined where these are true of the arguments
_SINGULAR = {
    "sqrt": lambda x: np.any(np.asarray(x) == 0),
    "hypot": lambda *a: np.any(np.all([np.asarray(v) == 0 for v in a], axis=0)),
    # the 2-norm (and Frobenius norm) of a zero vector: its derivative x / |x| is 0 / 0
    "linalg.norm": lambda x, ord=None, axis=None, keepdims=False: _zero_norm(x, ord, axis),
    # the standard deviation of a constant lane: its derivative is 0 / 0
    "std": lambda x, axis=None, ddof=0, keepdims=False: _zero_var(x, axis),
    "nanstd": lambda x, axis=None, ddof=0, keepdims=False: _zero_var(x, axis, np.nanvar),
}


def _zero_var(x, axis, var=np.var) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(np.any(var(np.asarray(x), axis=axis) == 0))


def _zero_norm(x, ord, axis) -> bool:
    """Is a 2-norm (or Frobenius norm) taken of a zero vector (along ``axis``, of any lane)?
    Other orders are kinks there (recorded by ``_KINKS``)."""
    x = np.asarray(x)
    if axis is None:
        return ord in (None, 2, "fro") and not np.any(x)
    if ord not in (None, 2) or isinstance(axis, tuple):
        return False
    return bool(np.any(np.all(x == 0, axis=axis)))


class IterationLimit(Exception):
    """A traced program ran more loop iterations than its limit (it may not terminate)."""


class Traced:
    """An instrumented copy of a program: ``traced(args) -> (value, decisions)``, where
    ``decisions`` lists every ``if``/``while``/``a if c else b`` test outcome and every
    ``min``/``max``/``abs`` choice (ties and zeros marked). Same arithmetic as the plain
    function, so the same values. ``iterations`` counts loop iterations of the last call;
    more than ``limit`` raise :class:`IterationLimit`. ``singular`` names the functions the
    last call evaluated where their derivative is infinite or undefined (``sqrt`` at 0,
    ``hypot`` at the origin): there, a NaN or infinite gradient can be the convention."""

    def __init__(self, source: str, entry: str, limit: int = 100_000) -> None:
        tree = _Instrument().visit(ast.parse(source))
        ast.fix_missing_locations(tree)
        trace: list = []
        ticks = [0]
        singular: set = set()
        self._trace, self._ticks, self._singular = trace, ticks, singular

        def _rec(c):
            b = bool(c)
            trace.append(b)
            return b

        def _pick(fn, args):
            # min(a, b, c) or min(<comprehension>): the choice among the candidates
            items = list(args[0]) if len(args) == 1 else list(args)
            r = fn(items)
            k = next(i for i, a in enumerate(items) if a is r)
            tie = sum(1 for a in items if a == r) > 1
            trace.append((fn.__name__, k, tie))
            return r

        def _abs(x):
            trace.append(("abs", np.sign(x).tolist()))
            return abs(x)

        def _singular(fn, name, *args, **kw):
            if _SINGULAR[name](*args, **kw):
                singular.add(name)
            return fn(*args, **kw)

        def _tick():
            ticks[0] += 1
            if ticks[0] > limit:
                raise IterationLimit(f"more than {limit} loop iterations")

        def _cmp(c):
            trace.append(("cmp", np.asarray(c).tolist()))
            return c

        def _mod(a, b):
            if isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)):
                return a % b
            trace.append(("mod", np.floor(np.asarray(a) / np.asarray(b)).tolist()))
            return a % b

        def _kink(fn, kind, *args, **kw):
            r = fn(*args, **kw)
            trace.append((kind, _kink_decision(kind, fn, args, kw, r)))
            return r

        def _kink_method(obj, name, *args, **kw):
            r = getattr(obj, name)(*args, **kw)
            fn = np.max if name == "max" else np.min
            trace.append(("extreme", _kink_decision("extreme", fn, (obj,) + args, kw, r)))
            return r

        def _std_method(obj, *args, **kw):
            return _singular(np.std, "std", obj, *args, **kw)

        ns = {"_rec": _rec, "_min": lambda *a: _pick(min, a), "_max": lambda *a: _pick(max, a),
              "_abs": _abs, "_tick": _tick, "_singular": _singular, "_cmp": _cmp,
              "_mod": _mod, "_kink": _kink, "_kink_method": _kink_method,
              "_std_method": _std_method,
              "__name__": "fuzz_traced"}
        exec(compile(tree, "<fuzz-traced>", "exec"), ns)  # noqa: S102 -- our own program
        self.fn = ns[entry]

    @property
    def iterations(self) -> int:
        return self._ticks[0]

    @property
    def singular(self) -> frozenset:
        return frozenset(self._singular)

    def __call__(self, args):
        self._trace.clear()
        self._singular.clear()
        self._ticks[0] = 0
        value = self.fn(*_fresh(args))
        return float(value), tuple(self._trace)


def _fresh(args):
    return [_copy_tree(a) for a in args]


# containers (dicts, tuples, lists of floats, ints and arrays) as arguments ---------------

def _copy_tree(a):
    """A copy of ``a`` sharing no array and no container with it."""
    if isinstance(a, dict):
        return {k: _copy_tree(v) for k, v in a.items()}
    if isinstance(a, (tuple, list)):
        return type(a)(_copy_tree(v) for v in a)
    return a.copy() if isinstance(a, np.ndarray) else a


def _tree_leaves(a, path=()):
    """``(path, leaf)`` of every leaf of a (nested) container, in order; a value that is
    not a container is its own leaf, at path ``()``."""
    if isinstance(a, dict):
        for k, v in a.items():
            yield from _tree_leaves(v, path + (k,))
    elif isinstance(a, (tuple, list)):
        for k, v in enumerate(a):
            yield from _tree_leaves(v, path + (k,))
    else:
        yield path, a


def _at(a, path):
    for k in path:
        a = a[k]
    return a


def _with_leaf(a, path, value):
    """A copy of the container ``a`` (its containers, not its arrays) with the leaf at
    ``path`` replaced by ``value``."""
    if not path:
        return value
    k, rest = path[0], path[1:]
    if isinstance(a, dict):
        return {kk: (_with_leaf(v, rest, value) if kk == k else v) for kk, v in a.items()}
    return type(a)(_with_leaf(v, rest, value) if i == k else v for i, v in enumerate(a))


def _differentiable(leaf) -> bool:
    """Does srcgrad give this leaf a gradient (floats and float arrays; ints get None)?"""
    if isinstance(leaf, np.ndarray):
        return leaf.dtype.kind == "f"
    return isinstance(leaf, (float, np.floating))


def _structure_problem(g, a) -> str | None:
    """How the gradient ``g`` of the argument ``a`` fails to have its structure: a dict
    with the same keys in the same order, tuples for tuples, lists for lists, an array of
    the same shape for an array, a float for a float and None for an int."""
    if isinstance(a, dict):
        if not isinstance(g, dict) or list(g) != list(a):
            return f"not a dict with keys {list(a)}: {g!r}"
        return next(filter(None, (_structure_problem(g[k], a[k]) for k in a)), None)
    if isinstance(a, (tuple, list)):
        if type(g) is not type(a) or len(g) != len(a):
            return f"not a {type(a).__name__} of {len(a)}: {g!r}"
        return next(filter(None, (_structure_problem(x, y) for x, y in zip(g, a))), None)
    if isinstance(a, np.ndarray):
        ok = isinstance(g, np.ndarray) and g.shape == a.shape
        return None if ok else f"not an array of shape {a.shape}: {g!r}"
    if _differentiable(a):
        return None if isinstance(g, float) else f"not a float: {g!r}"
    return None if g is None else f"not None for the int {a!r}: {g!r}"


def _tree_equal(a, b) -> bool:
    if isinstance(a, (dict, tuple, list)):
        if type(a) is not type(b) or len(a) != len(b):
            return False
        if isinstance(a, dict):
            return list(a) == list(b) and all(_tree_equal(a[k], b[k]) for k in a)
        return all(_tree_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    return True


def has_inplace_writes(source: str) -> bool:
    """Does the module assign into a subscript (``w[i] = ...``, ``w[i] += ...``)?"""
    for node in ast.walk(ast.parse(source)):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AugAssign) else []
        if any(isinstance(t, ast.Subscript) for t in targets):
            return True
        # x.fill(v): autograd's boxes would be written into a plain array as floats
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("fill", "sort"):
            return True
    return False


def _autograd_fn(source: str, entry: str) -> Callable | None:
    """The entry function re-run from source with ``math`` and ``np`` backed by autograd."""
    try:
        import autograd.numpy as anp

        from .oracles import _math_shim
    except ImportError:
        return None
    shim = _math_shim()
    if shim is None:
        return None
    ns: dict = {"__name__": "fuzz_autograd"}
    exec(compile(source, "<fuzz-autograd>", "exec"), ns)  # noqa: S102 -- our own program
    ns["math"] = _AutogradMath(shim)
    ns["np"] = _AutogradNumpy(anp)
    if "scipy" in ns:
        ns["scipy"] = _AutogradScipy()
    return ns[entry]


class _AutogradScipy:
    """``scipy.special`` backed by autograd.scipy.special (with the functions it lacks
    written with ones it has)."""

    def __init__(self) -> None:
        import types

        import autograd.numpy as anp
        import autograd.scipy.special as asp

        def softmax(a, axis=None):
            return anp.exp(a - asp.logsumexp(a, axis=axis, keepdims=True))

        def log_softmax(a, axis=None):
            return a - asp.logsumexp(a, axis=axis, keepdims=True)

        self.special = types.SimpleNamespace(
            expit=asp.expit, logit=asp.logit, erf=asp.erf, erfc=asp.erfc,
            gammaln=asp.gammaln, logsumexp=asp.logsumexp, softmax=softmax,
            log_softmax=log_softmax, log_expit=lambda x: -anp.logaddexp(0.0, -x),
            xlogy=lambda x, y: x * anp.log(y))


class _AutogradNumpy:
    """autograd.numpy, with the functions autograd has no derivative for written with
    ones it has (same values and derivatives where the derivative exists)."""

    def __init__(self, anp) -> None:
        from autograd.tracer import getval
        self._anp = anp
        self.copy = self.ascontiguousarray = lambda a: anp.array(a) * 1.0
        self.fmod = lambda x, c: x - c * anp.trunc(x / c)
        self.copysign = lambda x, y: anp.abs(x) * np.where(np.signbit(getval(y)), -1.0, 1.0)
        self.deg2rad, self.rad2deg = anp.radians, anp.degrees
        # autograd's full_like has no derivative for the fill value (it gives 0)
        self.full_like = lambda a, v: anp.ones(np.shape(getval(a))) * v
        # autograd's tril/triu of a vector (NumPy: of the vector repeated as rows) give the
        # vector's adjoint as if each element were used once: make the rows explicit
        self.tril = lambda m, k=0: anp.tril(_rows(anp, m), k)
        self.triu = lambda m, k=0: anp.triu(_rows(anp, m), k)

    def __getattr__(self, name):
        return getattr(self._anp, name)


def _rows(anp, m):
    """A vector as the square matrix of its copies as rows (what np.tril does with it)."""
    return anp.outer(anp.ones(len(m)), m) if np.ndim(m) == 1 else m


class _AutogradMath:
    def __init__(self, shim) -> None:
        import autograd.numpy as anp
        from autograd.scipy.special import erf, erfc
        self._shim = shim
        self.erf, self.erfc = erf, erfc
        self.degrees, self.radians, self.exp2 = anp.degrees, anp.radians, anp.exp2
        self.copysign = _AutogradNumpy(anp).copysign

    def __getattr__(self, name):
        return getattr(self._shim, name)


def autograd_gradient(source: str, entry: str, args, wrt) -> list | None:
    """autograd's gradient (one entry per ``wrt``), or None if autograd cannot run it."""
    try:
        import autograd
        from autograd.tracer import Box
    except ImportError:
        return None
    fn = _autograd_fn(source, entry)
    if fn is None:
        return None
    out = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in wrt:
                if isinstance(args[i], (dict, tuple, list)):
                    out.append(_autograd_container(autograd.grad, fn, args, i))
                    if any(isinstance(g, Box) for _, g in _tree_leaves(out[-1])):
                        return None
                    continue
                g = autograd.grad(fn, i)(*_fresh(args))
                if isinstance(g, Box):
                    return None
                out.append(np.asarray(g, dtype=float))
    except Exception:  # noqa: BLE001 -- autograd cannot run this program
        return None
    return out


def _autograd_container(grad, fn, args, i):
    """autograd's gradient with respect to the container ``args[i]``, in its structure:
    autograd differentiates a function of the list of its float leaves (its int leaves,
    which autograd cannot take, stay ints), given the container rebuilt from them."""
    paths = [path for path, leaf in _tree_leaves(args[i]) if _differentiable(leaf)]

    def of_leaves(leaves):
        tree = _copy_tree(args[i])
        for path, v in zip(paths, leaves):
            tree = _with_leaf(tree, path, v)
        a = _fresh(args)
        a[i] = tree
        return fn(*a)

    from autograd.tracer import Box
    grads = grad(of_leaves)([_copy_tree(_at(args[i], path)) for path in paths])
    tree = args[i]
    for path, g in zip(paths, grads):   # (a Box: the caller gives up)
        tree = _with_leaf(tree, path, g if isinstance(g, Box) else np.asarray(g, dtype=float))
    return tree


# ============================================================================ checking

@dataclasses.dataclass
class Failure:
    kind: str            # crash | value | gradient | gradient-autograd | structure | mutated
    detail: str
    source: str
    entry: str
    wrt: tuple
    point: tuple
    params: tuple
    jit: bool
    api_wrt: tuple | None = None    # what srcgrad's wrt was given (names), if not wrt

    def describe(self) -> str:
        return (f"{self.kind} (jit={self.jit}) at {_fmt_args(self.params, self.point)}\n"
                f"{self.detail}\n--- program ---\n{self.source}")


@dataclasses.dataclass
class Outcome:
    status: str = "ok"                 # ok | rejected | failed | known | invalid
    rejection: str | None = None       # grouped message, for rejected programs
    invalid: str | None = None         # the generated program itself misbehaved
    failures: list = dataclasses.field(default_factory=list)
    known: list = dataclasses.field(default_factory=list)     # OPEN_BUGS names recognised
    points: int = 0                    # points at which srcgrad ran
    points_fd: int = 0                 # ... with every coordinate checked against FD
    points_kink: int = 0               # ... with a coordinate skipped as near a kink
    coords: int = 0
    coords_checked: int = 0
    coords_kink: int = 0
    coords_unstable: int = 0
    coords_singular: int = 0           # NaN/inf gradient where sqrt(0)/hypot(0, 0) is used
    coords_ag_nan: int = 0             # autograd NaN where srcgrad matches FD (not compared)
    points_autograd: int = 0           # points compared with autograd
    max_fd_err: float = 0.0            # worst |g - fd| / tolerance among passing coordinates
    max_ag_err: float = 0.0
    iterations: int = 0                # most loop iterations of one call
    fused: bool = False                # srcgrad ran a loop as a sum (FUSED_MARK)
    seconds: float = 0.0

    def report(self) -> str:
        if self.status == "rejected":
            return f"rejected: {self.rejection}"
        if self.status == "invalid":
            return f"invalid program: {self.invalid}"
        return "\n\n".join(f.describe() for f in self.failures) or "ok"


def rejection_key(exc: BaseException) -> str:
    """The error's class and first line without file:line:col, for grouping."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    first = re.sub(r"^\S*:\d+:\d+: ", "", first)
    first = re.sub(r"\bline \d+\b", "line N", first)
    return f"{type(exc).__name__}: {first[:160]}"


def _coords(args, wrt):
    """The coordinates ``(argument, path to a leaf, flat index or None)`` of every float
    (and float array element) of the ``wrt`` arguments, containers' leaves included (an
    int leaf has none)."""
    out = []
    for p in wrt:
        for path, leaf in _tree_leaves(args[p]):
            if isinstance(leaf, np.ndarray) and (path == () or _differentiable(leaf)):
                out += [(p, path, j) for j in range(leaf.size)]
            elif path == () or _differentiable(leaf):
                out.append((p, path, None))
    return out


def _coord_name(params, c) -> str:
    p, path, j = c
    return params[p] + "".join(f"[{k!r}]" for k in path) + ("" if j is None else f"[{j}]")


def _get(args, c) -> float:
    p, path, j = c
    leaf = _at(args[p], path)
    return float(leaf if j is None else leaf.flat[j])


def _shifted(args, c, delta):
    a = _fresh(args)
    p, path, j = c
    if j is None:
        a[p] = _with_leaf(a[p], path, _at(args[p], path) + delta)
    else:
        _at(a[p], path).flat[j] = _at(args[p], path).flat[j] + delta
    return a


def _flatten(grads, args, wrt) -> list[float]:
    """The gradient's values in the order of ``_coords``."""
    out = []
    for g, p in zip(grads, wrt):
        for path, leaf in _tree_leaves(args[p]):
            if isinstance(leaf, np.ndarray) and (path == () or _differentiable(leaf)):
                out += [float(v) for v in np.asarray(_at(g, path), dtype=float).ravel()]
            elif path == () or _differentiable(leaf):
                out.append(float(_at(g, path)))
    return out


def _fd(traced: Traced, args, c, h, trace0):
    """The 5-point central difference along coordinate c, or None if a stencil point takes
    other decisions than the centre (a kink, branch boundary or trip-count change)."""
    vals = []
    for s in (-2, -1, 1, 2):
        try:
            v, tr = traced(_shifted(args, c, s * h))
        except (ArithmeticError, ValueError, IterationLimit):
            return None

        if tr != trace0:
            return None
        vals.append(v)
    return (vals[0] - 8.0 * vals[1] + 8.0 * vals[2] - vals[3]) / (12.0 * h)


def _step(x: float, rel: float) -> float:
    h = rel * max(1.0, abs(x))
    return (x + h) - x


def _err(a: float, b: float, atol: float, rtol: float) -> float:
    """|a - b| measured in units of the tolerance (<= 1 passes)."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / (atol + rtol * abs(b))


def check_program(prog: Program, jit: bool = False, use_autograd: bool = True,
                  known: bool = False) -> Outcome:
    return check_source(prog.source, prog.entry, prog.wrt, prog.points, jit=jit,
                        use_autograd=use_autograd, params=prog.params, known=known,
                        api_wrt=prog.api_wrt)


def check_source(source: str, entry: str, wrt, points, jit: bool = False,
                 use_autograd: bool = True, params=None, known: bool = False,
                 api_wrt=None) -> Outcome:
    """Run srcgrad on ``entry`` of ``source`` at ``points`` and compare with the oracles.
    ``known``: a crash matching an :data:`OPEN_BUGS` message is recorded in
    ``Outcome.known`` instead of being a failure. ``api_wrt``: what srcgrad's ``wrt`` is
    given (parameter names) instead of ``wrt`` (their indices)."""
    out = _check(source, entry, wrt, points, jit, use_autograd, params, api_wrt)
    if known and out.failures:
        for f in list(out.failures):
            for name, bug in OPEN_BUGS.items():
                if bug.crash and f.kind == "crash" and re.search(bug.crash, f.detail):
                    out.failures.remove(f)
                    out.known.append(name)
                    break
        if not out.failures:
            out.status = "known"
    return out


def _check(source, entry, wrt, points, jit, use_autograd, params, api_wrt=None) -> Outcome:
    with warnings.catch_warnings():
        # NumPy's "invalid value" warnings from generated code: the numbers are checked
        warnings.simplefilter("ignore", RuntimeWarning)
        return _check_quietly(source, entry, wrt, points, jit, use_autograd, params, api_wrt)


def _check_quietly(source, entry, wrt, points, jit, use_autograd, params,
                   api_wrt=None) -> Outcome:
    t0 = time.perf_counter()
    out = Outcome()
    wrt = tuple(wrt)
    try:
        module = load_module(source)
        f = getattr(module, entry)
        traced = Traced(source, entry)
    except Exception as exc:  # noqa: BLE001
        out.status, out.invalid = "invalid", f"does not load: {exc!r}"
        return out
    params = tuple(params or f.__code__.co_varnames[:f.__code__.co_argcount])
    api_wrt = tuple(api_wrt) if api_wrt else None
    ag_ok = use_autograd and not has_inplace_writes(source)

    def fail(kind, detail, point):
        out.failures.append(Failure(kind, detail, source, entry, wrt, tuple(point), params, jit,
                                    api_wrt))

    try:
        try:
            vg = srcgrad.value_and_grad(f, wrt=api_wrt or wrt, jit=jit)
        except InternalError as exc:
            fail("crash", f"InternalError building the gradient: {exc}", points[0])
            vg = None
        except SrcgradError as exc:
            out.status, out.rejection = "rejected", rejection_key(exc)
            return out
        except Exception as exc:  # noqa: BLE001
            fail("crash", f"{type(exc).__name__} building the gradient: {exc}", points[0])
            vg = None
        for args in points if vg is not None else []:
            # the program itself, instrumented (first: it stops runaway loops) and plain
            try:
                v0, trace0 = traced(args)
                sing0 = traced.singular
                plain = f(*_fresh(args))
            except Exception as exc:  # noqa: BLE001
                out.status, out.invalid = "invalid", f"raises {exc!r} at {args!r}"
                return out
            out.iterations = max(out.iterations, traced.iterations)
            if not (isinstance(plain, (float, np.floating)) and math.isfinite(plain)
                    and (v0 == plain)):
                out.status, out.invalid = "invalid", f"value {plain!r} (traced {v0!r})"
                return out
            before = _fresh(args)
            try:
                value, grads = vg(*args)
            except InternalError as exc:
                fail("crash", f"InternalError: {exc}", args)
                break
            except SrcgradError as exc:
                out.status, out.rejection = "rejected", rejection_key(exc)
                return out
            except Exception as exc:  # noqa: BLE001
                what = f"{type(exc).__name__}: {exc}"
                if not jit and sing0 and isinstance(exc, ArithmeticError):
                    # uncompiled, 1 / sqrt(0) raises where compiled code gives inf: the
                    # convention if that value reaches the output (autograd: non-finite)
                    ag = autograd_gradient(source, entry, args, wrt) if ag_ok else None
                    a = _flatten(ag, args, wrt) if ag is not None else None
                    if a is None or not all(map(math.isfinite, a)):
                        out.points += 1
                        out.coords_singular += len(_coords(args, wrt))
                        continue
                    what += f" (where autograd's gradient is finite: {a!r})"
                fail("crash", what, args)
                break
            out.points += 1
            if not out.fused and hasattr(vg, "source_for"):
                try:
                    out.fused = FUSED_MARK.search(vg.source_for(*args)) is not None
                except Exception:  # noqa: BLE001 -- only statistics
                    pass
            if not all(_tree_equal(a, b) for a, b in zip(args, before)):
                fail("mutated", "the gradient call changed an array argument", before)
                args = before
            if _err(float(value), float(plain), VALUE_ATOL, VALUE_RTOL) > 1:
                fail("value", f"srcgrad value {float(value)!r} != function value {float(plain)!r}",
                     args)
            # structure
            if not isinstance(grads, tuple) or len(grads) != len(wrt):
                fail("structure", f"gradient {grads!r} is not a tuple of {len(wrt)}", args)
                continue
            bad = [f"{params[p]} ({_structure_problem(g, args[p])})" for g, p in zip(grads, wrt)
                   if _structure_problem(g, args[p])]
            if bad:
                fail("structure", f"gradient entries for {bad} have the wrong type or shape: "
                     f"{grads!r}", args)
                continue
            g = _flatten(grads, args, wrt)
            coords = _coords(args, wrt)
            out.coords += len(coords)
            # autograd (exact: also valid next to kinks), when it can run the program
            a = None
            if ag_ok:
                ag = autograd_gradient(source, entry, args, wrt)
                a = _flatten(ag, args, wrt) if ag is not None else None
            # finite differences, away from kinks
            fds: dict = {}
            steps: dict = {}
            for c in coords:
                h = _step(_get(args, c), FD_REL_STEP)
                d = _fd(traced, args, c, h, trace0)
                if d is None:
                    h = _step(_get(args, c), FD_REL_STEP / 16)
                    d = _fd(traced, args, c, h, trace0)
                if d is None:
                    out.coords_kink += 1
                    continue
                fds[c], steps[c] = d, h
            scale = max([1.0, abs(plain)] + [abs(d) for d in fds.values() if math.isfinite(d)])
            atol = FD_ATOL * scale
            kink = len(fds) < len(coords)
            mismatches = []
            fd_ok = set()       # coordinates where srcgrad matches finite differences
            for k, c in enumerate(coords):
                if c not in fds:
                    continue
                e = _err(g[k], fds[c], atol, FD_RTOL)
                if e <= 1:
                    out.coords_checked += 1
                    out.max_fd_err = max(out.max_fd_err, e)
                    fd_ok.add(c)
                    continue
                d2 = _fd(traced, args, c, steps[c] / 4, trace0)
                if d2 is None:
                    out.coords_kink += 1
                    kink = True
                    continue
                if _err(g[k], d2, atol, FD_RTOL) <= 1:
                    out.coords_checked += 1
                    fd_ok.add(c)
                    continue
                if _err(fds[c], d2, atol, FD_RTOL) > 1:
                    out.coords_unstable += 1
                    kink = True
                    continue
                note = ""
                if sing0 and not math.isfinite(g[k]):
                    # sqrt(0), hypot(0, 0) on the way: NaN/inf is the convention if that
                    # value reaches the output; autograd tells (it does not see dead code)
                    if a is None or not math.isfinite(a[k]):
                        out.coords_singular += 1
                        kink = True
                        continue
                    note = f", autograd {a[k]!r} (at {', '.join(sorted(sing0))} of 0)"
                mismatches.append(f"  d/d{_coord_name(params, c)}: srcgrad {g[k]!r}, "
                                  f"finite differences {fds[c]!r} (h={steps[c]:.3g}), "
                                  f"{d2!r} (h/4){note}")
            if mismatches:
                fail("gradient", "gradient differs from finite differences:\n"
                     + "\n".join(mismatches), args)
            if kink:
                out.points_kink += 1
            else:
                out.points_fd += 1
            if a is not None:
                out.points_autograd += 1
                ascale = max([1.0, abs(plain)] + [abs(v) for v in a if math.isfinite(v)])
                bad = []
                for k, c in enumerate(coords):
                    e = _err(g[k], a[k], AG_ATOL * ascale, AG_RTOL)
                    if e <= 1:
                        out.max_ag_err = max(out.max_ag_err, e)
                    elif sing0 and not math.isfinite(a[k]):
                        continue    # autograd's own NaN at a singular point
                    elif not math.isfinite(a[k]) and c in fd_ok:
                        # autograd's own NaN where srcgrad is finite and matches finite
                        # differences: np.prod's g * ans / x at a zero factor
                        out.coords_ag_nan += 1
                        continue
                    elif c in fds:  # not near a kink (the point may sit on one)
                        bad.append(f"  d/d{_coord_name(params, c)}: srcgrad {g[k]!r}, "
                                   f"autograd {a[k]!r}, finite differences {fds[c]!r}")
                if bad:
                    fail("gradient-autograd", "gradient differs from autograd:\n"
                         + "\n".join(bad), args)
    finally:
        unload_module(module)
        out.seconds = time.perf_counter() - t0
    if out.failures:
        out.status = "failed"
    return out


# ============================================================================ statistics

@dataclasses.dataclass
class Stats:
    programs: int = 0
    ok: int = 0
    rejected: Counter = dataclasses.field(default_factory=Counter)
    rejected_example: dict = dataclasses.field(default_factory=dict)   # message -> index
    invalid: list = dataclasses.field(default_factory=list)
    failures: list = dataclasses.field(default_factory=list)     # (index, Failure)
    known: Counter = dataclasses.field(default_factory=Counter)  # OPEN_BUGS name -> programs
    points: int = 0
    points_fd: int = 0
    points_kink: int = 0
    points_autograd: int = 0
    coords: int = 0
    coords_checked: int = 0
    coords_kink: int = 0
    coords_unstable: int = 0
    coords_singular: int = 0
    coords_ag_nan: int = 0
    max_fd_err: float = 0.0
    max_ag_err: float = 0.0
    max_iterations: int = 0
    fused: int = 0                     # programs srcgrad ran a loop of as a sum (fuse.py)
    seconds: float = 0.0
    features: Counter = dataclasses.field(default_factory=Counter)

    def add(self, outcome: Outcome, prog: Program | None = None, index: Any = None) -> None:
        self.programs += 1
        if prog is not None:
            self.features.update(prog.features)
        if outcome.status == "rejected":
            self.rejected[outcome.rejection] += 1
            self.rejected_example.setdefault(outcome.rejection, index)
        elif outcome.status == "invalid":
            self.invalid.append((index, outcome.invalid))
        elif outcome.status == "failed":
            self.failures += [(index, f) for f in outcome.failures]
        elif outcome.status == "ok":
            self.ok += 1
        self.known.update(set(outcome.known))
        for k in ("points", "points_fd", "points_kink", "points_autograd", "coords",
                  "coords_checked", "coords_kink", "coords_unstable", "coords_singular",
                  "coords_ag_nan", "seconds"):
            setattr(self, k, getattr(self, k) + getattr(outcome, k))
        self.max_fd_err = max(self.max_fd_err, outcome.max_fd_err)
        self.max_ag_err = max(self.max_ag_err, outcome.max_ag_err)
        self.max_iterations = max(self.max_iterations, outcome.iterations)
        self.fused += outcome.fused

    def summary(self) -> str:
        failed_programs = len({i for i, _ in self.failures})
        lines = [
            f"programs run:            {self.programs}",
            f"  all checks passed:     {self.ok}",
            f"  rejected by srcgrad:   {sum(self.rejected.values())}",
            f"  failed:                {failed_programs} ({len(self.failures)} failures)",
            f"  known open-bug crash:  {sum(self.known.values())} "
            f"({', '.join(f'{k}: {n}' for k, n in self.known.items()) or '-'})",
            f"  invalid (generator):   {len(self.invalid)}",
            f"points checked:          {self.points} "
            f"({self.points_fd} with every coordinate against FD, "
            f"{self.points_autograd} also against autograd)",
            f"points skipped near a kink: {self.points_kink} (some coordinate(s) skipped)",
            f"coordinates: {self.coords}; checked against FD {self.coords_checked}, skipped: "
            f"near a kink {self.coords_kink}, FD unstable {self.coords_unstable}, "
            f"NaN at sqrt(0)/hypot(0, 0)/norm(0) as autograd {self.coords_singular}; "
            f"autograd NaN where srcgrad matches FD (np.prod at 0) {self.coords_ag_nan}",
            f"worst passing error / tolerance: FD {self.max_fd_err:.3g}, "
            f"autograd {self.max_ag_err:.3g}",
            f"most loop iterations in one call: {self.max_iterations}",
            f"sums over data points: {self.features['fused_sum']} programs with one meant to "
            f"be fused, {self.features['fused_near_miss']} with a near miss; "
            f"{self.fused} programs with a loop srcgrad fused (fuse.py)",
            f"constructs generated: {len(self.features)} kinds; rarest: "
            + ", ".join(f"{k} {n}" for k, n in sorted(self.features.items(),
                                                      key=lambda kv: kv[1])[:6]),
            f"time in checks: {self.seconds:.1f} s",
        ]
        if self.rejected:
            lines.append("rejections by message:")
            lines += [f"  {n:5d}  {msg}" + (f" (e.g. program {self.rejected_example[msg]})"
                                            if self.rejected_example.get(msg) is not None else "")
                      for msg, n in self.rejected.most_common()]
        if self.failures:
            lines.append("failures by kind:")
            kinds = Counter(f.kind for _, f in self.failures)
            lines += [f"  {n:5d}  {k}" for k, n in kinds.most_common()]
        if self.invalid:
            lines.append("invalid programs (generator bugs):")
            lines += [f"  {i}: {msg}" for i, msg in self.invalid[:10]]
        return "\n".join(lines)


# ============================================================================ shrinking

def _edit_variants(node) -> list[tuple]:
    """One-step simplifications applicable at ``node``: delete a statement of one of its
    blocks, replace a compound statement by its body, replace an expression by a part."""
    out: list[tuple] = []
    for field in ("body", "orelse"):
        lst = getattr(node, field, None)
        if isinstance(lst, list) and lst and isinstance(lst[0], ast.stmt):
            for i, s in enumerate(lst):
                out.append(("del", field, i))
                if isinstance(s, (ast.If, ast.While, ast.For)):
                    out.append(("inline", field, i, "body"))
                    if s.orelse:
                        out.append(("inline", field, i, "orelse"))
    if isinstance(node, ast.expr):
        out += [("expr", k) for k in range(len(_expr_parts(node)))]
    return out


def _expr_parts(node) -> list:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and not isinstance(node.operand, ast.Constant):
        return [node.operand]
    if isinstance(node, ast.Call) and node.args:
        fn = node.func
        if isinstance(fn, ast.Name) and fn.id in ("min", "max", "abs", "float"):
            return list(node.args)
        if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) \
                and fn.value.id in ("math", "np") and fn.attr not in ("zeros", "ones"):
            return list(node.args)
    if isinstance(node, ast.IfExp):
        return [node.body, node.orelse]
    if isinstance(node, ast.BoolOp):
        return list(node.values)
    if isinstance(node, ast.Constant) and isinstance(node.value, float) \
            and node.value not in (0.5, 1.0):
        return [ast.Constant(0.5), ast.Constant(1.0)]
    return []


def _apply_edit(tree, node, edit) -> bool:
    if edit[0] == "del":
        lst = getattr(node, edit[1])
        del lst[edit[2]]
        if not lst and edit[1] == "body":
            lst.append(ast.Pass())
        return True
    if edit[0] == "inline":
        lst = getattr(node, edit[1])
        lst[edit[2]:edit[2] + 1] = getattr(lst[edit[2]], edit[3])
        return True
    return _replace(tree, node, copy.deepcopy(_expr_parts(node)[edit[1]]))


def _candidates(source: str):
    """Sources one simplification away from ``source``, outermost edits first."""
    n = sum(1 for _ in ast.walk(ast.parse(source)))
    for k in range(n):
        node = list(ast.walk(ast.parse(source)))[k]
        for edit in _edit_variants(node):
            tree = ast.parse(source)
            if _apply_edit(tree, list(ast.walk(tree))[k], edit):
                yield ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _replace(tree, old, new) -> bool:
    for node in ast.walk(tree):
        for field, value in ast.iter_fields(node):
            if value is old:
                setattr(node, field, new)
                return True
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return True
    return False


_BUILTINS = {"range", "len", "min", "max", "abs", "enumerate", "float", "int", "math", "np",
             "sum", "any", "all", "zip", "reversed", "dict", "list", "tuple", "functools",
             "scipy"}


class _Undefined(Exception):
    pass


def defines_before_use(source: str) -> bool:
    """Is every name read somewhere certainly assigned before (conservatively: names
    assigned in a loop body or in only one branch do not count after it)? Generated
    programs are; shrinking keeps them so (a read of an undefined name in code that
    never runs is valid Python, but not a program worth reporting)."""
    tree = ast.parse(source)
    glob = set(_BUILTINS) | {n.name for n in tree.body if isinstance(n, ast.FunctionDef)} \
        | {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
           if isinstance(t, ast.Name)}

    def reads(node, defined):
        # (names a comprehension or a lambda binds are defined inside it)
        own = {t.id for n in ast.walk(node) if isinstance(n, ast.comprehension)
               for t in ast.walk(n.target) if isinstance(t, ast.Name)}
        own |= {a.arg for n in ast.walk(node) if isinstance(n, ast.Lambda)
                for a in n.args.args}
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) \
                    and n.id not in defined and n.id not in glob and n.id not in own:
                raise _Undefined(n.id)

    def targets(t, defined):
        if isinstance(t, ast.Name):
            defined.add(t.id)
        elif isinstance(t, ast.Tuple):
            for e in t.elts:
                targets(e, defined)
        else:
            reads(t, defined)

    def block(stmts, defined):
        defined = set(defined)
        for s in stmts:
            if isinstance(s, ast.Assign):
                reads(s.value, defined)
                for t in s.targets:
                    targets(t, defined)
            elif isinstance(s, ast.AugAssign):
                reads(s.value, defined)
                if isinstance(s.target, ast.Name):
                    reads(ast.Name(s.target.id, ast.Load()), defined)
                else:
                    reads(s.target, defined)
            elif isinstance(s, (ast.Expr, ast.Return)):
                if s.value is not None:
                    reads(s.value, defined)
            elif isinstance(s, ast.If):
                reads(s.test, defined)
                defined = block(s.body, defined) & block(s.orelse, defined)
            elif isinstance(s, ast.For):
                reads(s.iter, defined)
                inner = set(defined)
                targets(s.target, inner)
                block(s.body, inner)
            elif isinstance(s, ast.While):
                reads(s.test, defined)
                block(s.body, defined)
            elif isinstance(s, ast.FunctionDef):    # a nested def: its body at its calls
                defined.add(s.name)
        return defined

    try:
        for fn in tree.body:
            if isinstance(fn, ast.FunctionDef):
                reads(ast.Tuple(fn.args.defaults + [d for d in fn.args.kw_defaults if d],
                                ast.Load()), set())
                block(fn.body, {a.arg for a in fn.args.args + fn.args.kwonlyargs})
    except _Undefined:
        return False
    return True


def failure_signature(f: Failure) -> str:
    """What a shrunk program must still show: the failure kind, and for a crash the
    exception (and srcgrad stage) it raises."""
    if f.kind == "crash":
        return f"crash: {f.detail[:90]}"
    return f.kind


def shrink_program(failure: Failure, budget: float = 120.0) -> str:
    """Greedy AST reduction of a failing program: repeatedly remove statements, replace
    ``if``/``while``/``for`` by their bodies and expressions by a part of them, keeping
    each step that still fails the same way (:func:`failure_signature`) at the failure's
    point with the same ``jit``. Returns the smallest source found within ``budget`` s."""
    sig = failure_signature(failure)

    def still_fails(src: str) -> bool:
        if not defines_before_use(src):
            return False
        try:
            o = check_source(src, failure.entry, failure.wrt, [failure.point], jit=failure.jit,
                             params=failure.params, api_wrt=failure.api_wrt)
        except Exception:  # noqa: BLE001
            return False
        return any(failure_signature(f) == sig for f in o.failures)

    deadline = time.monotonic() + budget
    best = failure.source
    seen = {best}
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for cand in _candidates(best):
            if time.monotonic() > deadline:
                break
            if cand in seen or len(cand) >= len(best):
                continue
            seen.add(cand)
            if still_fails(cand):
                best, improved = cand, True
                break
    return best
