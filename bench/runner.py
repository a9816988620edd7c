"""One workload, every peer side by side: checks, timings, first calls, memory, plot, docs.

A workload module (``bench/rosenbrock.py``, ``bench/ode.py``, ...) describes itself
with a :class:`Workload`: the user function that srcgrad differentiates (and Numba
compiles as the forward), how to make its arguments at each size, and its other
peers, built with the helpers here (:func:`hand_peer`, :func:`jax_peer`,
:func:`torch_peer`, :func:`autograd_peer`, :func:`tangent_peer`,
:func:`srcgrad_peer`, and the value-only :func:`numba_forward_peer` and
:func:`jax_forward_peer`).  Its ``main(argv)`` is ``runner.main_for(WORKLOAD, argv)``;
``python -m bench`` runs them all.

What a run does (:func:`run_workload`, its settings a :class:`Settings`):

1. builds every peer once (``jax.jit``, ``tangent.grad``, ``srcgrad.value_and_grad``);
   a peer whose library is not installed, or that cannot express the workload, is
   reported as *unavailable* with the reason, never dropped;
2. at the workload's ``check_sizes`` (small problems, other data settings), checks
   every peer as in 3. without timing it, and compares each compiled forward with
   the plain-Python function it compiles (``Peer.python``);
3. per size, smallest first, calls each peer once (compile/warm-up) and checks it:
   its value against the Numba forward, its gradient against 4th-order central finite
   differences of the forward along random unit directions (``w.fd_margin`` redraws a
   direction whose differences would straddle a kink), and against the reference peer
   (the hand-written adjoint where there is one) component by component
   (``common.check_close_scaled``).  A value-only peer (``kind="forward"``: another
   forward, JAX's ``jit`` of the function) is checked by its value alone.  A peer that
   disagrees or raises is *failed* with the reason and is not timed (at this size or
   any later one); if no peer agrees with the finite differences the workload itself is
   broken and the run stops with exit code 2;
4. times the forwards and all checked gradients, interleaved
   (``common.time_interleaved``): median, quartiles, IQR; a Python-taping peer
   (PyTorch, autograd, tangent) whose checked call lasted ``SLOW_CALL_SAMPLES``
   minimum samples or more is timed one call per sample after the others (its
   checked call was its warm-up; calibrating it would only repeat slow calls);
5. predicts the time of each peer but the forward, srcgrad and the hand-written
   adjoint at the next size, as a power of the workload's ``work`` fitted to the two
   largest sizes it ran; one predicted to need more than ``call_limit_s`` for one
   call is not run there: it is reported as *too slow at this size*, with that
   extrapolated time, marked as such.

A workload may have several srcgrad peers (the same math written two ways: ``gmm``'s
``srcgrad`` and ``srcgrad_scalar``, ``mlp``'s helper calls and their inlined form):
each gets the ratios, goals, tape and fresh-process measurements of ``srcgrad``, and
its gradient/forward ratio is against its own forward (``Peer.own_forward``).
srcgrad's tape comes from ``GradFunction.tape_bytes``; with ``tape_unit`` the section
also shows it per step, per example, ... beside the hand-written adjoint's
(``hand_tape_bytes``).

Quick and tiny runs (``MODE_DEFAULTS``) take fewer samples, draw no plot (``--plot``
draws it), and keep compiled code between runs: Numba's disk cache for the forward
and the hand-written adjoint, JAX's persistent compilation cache in
:func:`compile_cache_dir`; with warm caches a quick run spends its time on checks
and timing, not compiles.  The full run keeps neither, so its fresh-process first
calls measure real compiles.

After the sizes, a workload whose GradBench output takes many gradients (``particle`` and
``saddle``: an argmin by gradient descent) solves the eval with every peer that passed the
checks (``eval_output``; the outputs must agree: ``bench.nested.eval_outputs``), and a
workload's ``extra_tables`` hooks add measurements of their own (the RNN's JAX unrolled
loop); each returns a table for the workload's section.

Then, at the main size, in fresh processes (``python -m bench.runner child ...``):
first-call latency of every peer (build + first call at the smallest size:
transform + compile + one run), each srcgrad peer with an empty and then with the
same, now warm, ``SRCGRAD_CACHE_DIR`` (the second is the start-up of a second
process), and the extra peak resident memory of one gradient call at the main size
(``common.peak_rss_of_call``).

Output: ``<name>.json`` (``<name>_quick.json`` with ``--quick``) with the machine
description, a plot ``.png`` (log-log over the sizes; bars for a single size:
``bench.plots``), a table on stdout, and ``report.markdown_section`` for
``docs/benchmarks.md``.  They go to ``bench/results/local/`` (untracked; the run
prints the path) unless ``--save`` puts them in ``bench/results/``, the tracked
results the docs show, or ``--out-dir`` names another place.  ``python -m bench``
saves on its own only in the full run that regenerates ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import common
from bench.results import (SLOW_FAMILIES, peer_time, size_key,
                           srcgrad_peers)

MODES = ("full", "quick", "tiny")

# Per-mode defaults: timing samples, minimum sample duration, longest single call a
# peer may need before it is called "too slow at this size", seconds of samples per peer,
# fresh-process measurements, the fewest samples a slow peer gets, whether to draw the plot,
# and whether to keep compiled code between runs (Numba's disk cache for the forward and the
# hand-written adjoint, JAX's persistent compilation cache).  The full run leaves compile
# caches alone, so that its fresh-process first calls measure compiles.
MODE_DEFAULTS = {
    "full": {"repeats": 30, "min_sample_s": 5e-3, "call_limit_s": 3.0, "peer_seconds": 6.0,
             "fresh_processes": True, "min_repeats": 3, "plot": True, "cache_compiles": False},
    "quick": {"repeats": 5, "min_sample_s": 1e-3, "call_limit_s": 0.2, "peer_seconds": 0.3,
              "fresh_processes": False, "min_repeats": 2, "plot": False, "cache_compiles": True},
    "tiny": {"repeats": 3, "min_sample_s": 2e-4, "call_limit_s": 0.2, "peer_seconds": 0.1,
             "fresh_processes": False, "min_repeats": 2, "plot": False, "cache_compiles": True},
}

# Peers that are not run at a size where one call is predicted to exceed the limit (their time is
# extrapolated instead): every one but the Numba forward, srcgrad and the hand-written adjoint (JAX too:
# a JAX peer without jit runs Python per operation).
NEVER_SKIPPED = ("numba", "srcgrad", "hand")
# A Python-taping peer whose checked call took this many minimum sample durations is timed one call per
# sample, that checked call serving as its warm-up (no calibration calls).
SLOW_CALL_SAMPLES = 50
# A finite-difference direction is redrawn when a kink lies within this many steps of the point
# (``Workload.fd_margin``): the differences reach 4 steps out (steps h and 2h), a quarter more to spare.
FD_KINK_STEPS = 5.0


class Unavailable(Exception):
    """A peer cannot run this workload (library missing, construct not expressible)."""


# --------------------------------------------------------------------------
# optional libraries
# --------------------------------------------------------------------------

_LIBS: dict[str, Any] = {}


def load(lib: str):
    """Import ``jax`` (x64 on), ``torch``, ``autograd`` or ``tangent``; raise :class:`Unavailable` if missing."""
    if lib in _LIBS:
        mod = _LIBS[lib]
        if isinstance(mod, Unavailable):
            raise mod
        return mod
    if lib not in ("jax", "torch", "autograd", "tangent"):
        raise ValueError(lib)
    try:
        mod = importlib.import_module(lib)
        if lib == "jax":
            mod.config.update("jax_enable_x64", True)
    except Exception as exc:  # noqa: BLE001 - the peer is reported, not dropped
        err = Unavailable(f"{lib} is not installed ({common.describe_exception(exc, 150)})")
        _LIBS[lib] = err
        raise err from None
    _LIBS[lib] = mod
    return mod


def library_versions() -> dict:
    out = {}
    for lib in ("jax", "jaxlib", "torch", "autograd", "tangent", "matplotlib"):
        try:
            if lib == "tangent":
                from importlib import metadata
                out[lib] = metadata.version("tangent-ad")
            else:
                mod = importlib.import_module(lib)
                out[lib] = str(getattr(mod, "__version__", None) or __import__("importlib").metadata.version(lib))
        except Exception:  # noqa: BLE001
            out[lib] = None
    return out


# --------------------------------------------------------------------------
# peers
# --------------------------------------------------------------------------

@dataclasses.dataclass
class Peer:
    """One way to compute the workload's value and gradient (or, with ``kind="forward"``, its value alone).

    ``make()`` builds the callable once (it may raise :class:`Unavailable`);
    ``convert(args)`` turns the NumPy arguments of a size into what it takes;
    ``result(out)`` turns its output into ``(value or None, tuple of gradient arrays)``, or
    ``(value, gradients, extras)`` for a workload with ``extra_outputs`` (``extras`` maps each
    of those names to an array: a Hessian diagonal, a Newton direction, ...).
    ``own_forward`` names the value-only peer that computes the same function the same way
    (the denominator of this peer's gradient/forward ratio); ``python``, for a compiled
    forward, is the plain-Python function it compiles (compared at the check sizes).
    """

    name: str
    label: str
    family: str
    make: Callable[[], Callable]
    convert: Callable[[tuple], tuple] = tuple
    result: Callable[[Any], tuple] = None  # type: ignore[assignment]
    kind: str = "grad"  # "grad" | "forward"
    max_size: Any = None  # sizes past this one are not run (a fixed cap, with the reason in cap_reason)
    cap_reason: str = ""
    note: str = ""
    own_forward: str = "numba_fwd"
    python: Callable | None = None


def _as_grads(gs) -> tuple:
    if not isinstance(gs, (tuple, list)):
        gs = (gs,)
    return tuple(np.asarray(g, dtype=float) for g in gs)


def _value_only(out) -> tuple:
    return float(out), ()


def _value_and_grads(out) -> tuple:
    return float(out[0]), _as_grads(out[1])


def hand_peer(fn, label: str = "hand-written Numba adjoint", name: str = "hand", note: str = "") -> Peer:
    """A Numba function returning ``(value, grad_0, grad_1, ...)`` for the workload's ``wrt``."""
    return Peer(name, label, "hand", make=lambda: fn,
                result=lambda out: (float(out[0]), _as_grads(tuple(out[1:]))), note=note)


def unavailable_peer(name: str, family: str, reason: str, label: str | None = None) -> Peer:
    """A peer that cannot run this workload, kept in the tables with ``reason``."""
    def make():
        raise Unavailable(reason)
    return Peer(name, label or name, family, make=make)


def numba_forward_peer(fn, compiled=None, name: str = "numba_fwd",
                       label: str = "numba.njit of the user function (value only)") -> Peer:
    """The value of ``fn`` compiled by Numba (``compiled``, a ``numba.njit`` of it, if already made)."""
    def make():
        import numba
        return compiled if compiled is not None else numba.njit(fn)
    return Peer(name, label, "numba", make=make, result=_value_only, kind="forward", python=fn)


def jax_arrays(args) -> tuple:
    """The arguments with NumPy arrays as JAX arrays (float64: ``load`` turns x64 on)."""
    jnp = load("jax").numpy
    return tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)


def _jax_jit(fn, static_argnums: Sequence[int], jit: bool) -> Callable:
    jax = load("jax")
    return common.blocking(jax.jit(fn, static_argnums=tuple(static_argnums)) if jit else fn)


def jax_peer(fn, wrt: Sequence[int], label: str, name: str = "jax", static_argnums: Sequence[int] = (),
             note: str = "", max_size=None, cap_reason: str = "", jit: bool = True,
             own_forward: str = "numba_fwd") -> Peer:
    """``jax.jit(jax.value_and_grad(fn, argnums=wrt))`` (float64); arrays passed as device arrays."""
    wrt = tuple(wrt)

    def make():
        return _jax_jit(load("jax").value_and_grad(fn, argnums=wrt), static_argnums, jit)

    return Peer(name, label, "jax", make=make, convert=jax_arrays, result=_value_and_grads, note=note,
                max_size=max_size, cap_reason=cap_reason, own_forward=own_forward)


def jax_forward_peer(fn, label: str, name: str = "jax_fwd", static_argnums: Sequence[int] = ()) -> Peer:
    """``jax.jit(fn)``, the value alone (float64; device arrays)."""
    return Peer(name, label, "jax", make=lambda: _jax_jit(fn, static_argnums, True), convert=jax_arrays,
                result=_value_only, kind="forward")


def torch_peer(fn, wrt: Sequence[int], label: str, name: str = "torch", note: str = "", max_size=None,
               cap_reason: str = "") -> Peer:
    """PyTorch eager autograd: wrt arguments as float64 tensors with ``requires_grad``; each call
    clears their ``.grad``, runs ``fn`` and ``backward()``."""
    wrt = tuple(wrt)

    def make():
        load("torch")

        def run(*targs):
            for i in wrt:
                targs[i].grad = None
            loss = fn(*targs)
            loss.backward()
            return loss, tuple(targs[i].grad for i in wrt)
        return run

    def convert(args):
        torch = load("torch")
        out = []
        for i, a in enumerate(args):
            if i in wrt:
                out.append(torch.tensor(a, dtype=torch.float64, requires_grad=True))
            elif isinstance(a, np.ndarray):
                out.append(torch.from_numpy(a))
            else:
                out.append(a)
        return tuple(out)

    def result(out):
        loss, grads = out
        return float(loss.detach()), tuple(np.zeros(()) if g is None else g.detach().numpy().astype(float)
                                           for g in grads)

    return Peer(name, label, "torch", make=make, convert=convert, result=result, note=note,
                max_size=max_size, cap_reason=cap_reason)


def autograd_peer(fn, wrt: Sequence[int], label: str, name: str = "autograd", note: str = "", max_size=None,
                  cap_reason: str = "") -> Peer:
    """HIPS autograd ``value_and_grad`` with respect to the tuple of the ``wrt`` arguments."""
    wrt = tuple(wrt)

    def make():
        autograd = load("autograd")

        def packed(params, others):
            full, p, o = [], iter(params), iter(others)
            for i in range(len(params) + len(others)):
                full.append(next(p) if i in wrt else next(o))
            return fn(*full)

        vg = autograd.value_and_grad(packed, 0)

        def run(*args):
            return vg(tuple(args[i] for i in wrt), tuple(a for i, a in enumerate(args) if i not in wrt))
        return run

    return Peer(name, label, "autograd", make=make, result=_value_and_grads, note=note, max_size=max_size,
                cap_reason=cap_reason)


def tangent_peer(fn, wrt: Sequence[int], label: str, name: str = "tangent", note: str = "", max_size=None,
                 cap_reason: str = "") -> Peer:
    """``tangent.grad(fn, wrt, preserve_result=True)`` (tangent-ad): returns the gradients, then the value."""
    wrt = tuple(wrt)

    def make():
        tangent = load("tangent")
        try:
            return tangent.grad(fn, wrt=wrt, preserve_result=True, verbose=0)
        except Exception as exc:  # noqa: BLE001 - tangent's transform refused the function
            raise Unavailable(f"tangent.grad refused the function: {_tangent_reason(exc)}") from None

    def result(out):
        return float(out[-1]), _as_grads(tuple(out[:-1]))

    return Peer(name, label, "tangent", make=make, result=result, note=note, max_size=max_size,
                cap_reason=cap_reason)


def _tangent_reason(exc: BaseException) -> str:
    """The informative line of a tangent error (its messages start with banners)."""
    import re
    for ln in str(exc).splitlines():
        ln = ln.strip()
        if ln and set(ln) - set("=-") and "Tangent Error" not in ln and not ln.startswith("💡"):
            ln = re.sub(r"\x1b\[[0-9;]*m", "", ln)
            return f"{type(exc).__name__}: {ln}"[:240]
    return type(exc).__name__


def srcgrad_peer(fn, wrt: Sequence[int], label: str = "srcgrad.value_and_grad of the user function",
                 name: str = "srcgrad", own_forward: str = "numba_fwd") -> Peer:
    """``srcgrad.value_and_grad(fn, wrt=wrt)``."""
    wrt = tuple(wrt)

    def make():
        import srcgrad
        return srcgrad.value_and_grad(fn, wrt=wrt)

    return Peer(name, label, "srcgrad", make=make, result=_value_and_grads, own_forward=own_forward)


# --------------------------------------------------------------------------
# workloads
# --------------------------------------------------------------------------

@dataclasses.dataclass
class Workload:
    """A benchmark: the user function, its sizes and its peers (see the module docstring).

    ``main_size`` is the full run's main size (fresh-process memory, the plot's subtitle); a mode
    that does not run it uses its largest size.  ``wrt`` defaults to the first argument, as in
    ``srcgrad.grad``; ``wrt_names`` to the names of those parameters of ``fn``, and ``module``
    to ``fn``'s module.
    """

    name: str
    title: str
    fn: Callable
    args: Callable[[Any], tuple]
    sizes: dict
    main_size: Any
    peers: list
    description: str
    wrt: tuple = (0,)
    wrt_names: tuple | None = None
    module: str | None = None
    size_label: Callable[[Any], str] = lambda s: f"n={s:,}" if isinstance(s, int) else str(s)
    work: Callable[[Any], float] = lambda s: float(s)
    x_label: str = "n"
    kind: str = "loop"  # "scalar_loop" | "loop" | "array"
    reference: tuple = ("hand", "jax", "torch", "autograd", "tangent", "srcgrad")
    rtol_value: float = 1e-11
    rtol_peers: float = 1e-9
    floor_rel: float = 1e-6
    rtol_fd: float = 1e-6
    fd_step: float = 1e-3
    fd_directions: int = 3
    fd_relative: bool = False  # step = fd_step * largest |wrt argument| instead of fd_step
    # (args, direction) -> how far along the direction the nearest kink of the function lies (a ReLU's
    # switch, ...); a direction with one within FD_KINK_STEPS steps is redrawn
    fd_margin: Callable | None = None
    forward: Callable | None = None  # default numba.njit(fn)
    extra_check: Callable | None = None  # (size, args, value, grads) -> max error; raises common.CheckFailed
    hand_tape_bytes: Callable | None = None  # size -> bytes the hand adjoint stores
    # (unit, size -> how many units): the tape also shown per unit ("step", "example", ...)
    tape_unit: tuple | None = None
    # small sizes (and other data settings) where every peer is checked but not timed, in every mode
    check_sizes: tuple = ()
    timing: dict | None = None  # per-mode overrides of MODE_DEFAULTS, e.g. {"full": {"repeats": 10}}
    notes: tuple = ()
    # Outputs beyond the value and the gradient (names of the ``extras`` every peer's ``result``
    # returns), each compared with the reference peer's like a gradient, and a check every peer's
    # output must pass: ``peer_check(size, args, value, grads, extras) -> max error`` (raises
    # ``common.CheckFailed``), e.g. a Hessian diagonal against its closed form.
    extra_outputs: tuple = ()
    peer_check: Callable | None = None
    srcgrad: Peer | None = None  # default srcgrad_peer(fn, wrt): value_and_grad of the user function
    # GradBench's output where the eval takes many gradients (particle and saddle: an argmin by
    # gradient descent), computed after the sizes with every peer's built function:
    # ``eval_output(states, mode, say) -> dict``, ``states`` mapping each peer's name to
    # ``(Peer, callable or None, status)``.  The dict (``bench.nested.eval_outputs``) has a
    # ``description``, ``columns`` and ``table`` (rows of strings) for the workload's section,
    # and ``failures``: outputs that disagree, each a hard failure.
    eval_output: Callable | None = None
    # More measurements of the workload's own, the same signature and dict as eval_output (None: nothing
    # to add in this mode); each is a table in the workload's section.
    extra_tables: tuple = ()

    def __post_init__(self):
        self.wrt = tuple(self.wrt)
        if self.wrt_names is None:
            params = list(inspect.signature(self.fn).parameters)
            self.wrt_names = tuple(params[i] for i in self.wrt)
        if self.module is None:
            self.module = self.fn.__module__

    def all_peers(self) -> list:
        fwd = numba_forward_peer(self.fn, self.forward)
        return [fwd, self.srcgrad or srcgrad_peer(self.fn, self.wrt)] + list(self.peers)


def _size_from_json(v):
    return tuple(v) if isinstance(v, list) else v


@dataclasses.dataclass
class Settings:
    """One run's settings: the mode's defaults (``MODE_DEFAULTS``, then the workload's ``timing``),
    overridden by the options given, and the sizes, peers and output place."""

    mode: str
    repeats: int
    min_sample_s: float
    call_limit_s: float
    peer_seconds: float
    fresh_processes: bool
    min_repeats: int
    plot: bool
    cache_compiles: bool
    sizes: list
    main_size: Any
    out_dir: Path
    skip_peers: tuple = ()
    only_peers: tuple = ()

    @classmethod
    def for_run(cls, w: Workload, mode: str, sizes: Sequence | None = None, out_dir=None,
                skip_peers: Sequence[str] = (), only_peers: Sequence[str] = (), **overrides) -> Settings:
        """``overrides``: any of ``MODE_DEFAULTS``' keys (None keeps the default)."""
        values = dict(MODE_DEFAULTS[mode])
        values.update((w.timing or {}).get(mode, {}))
        unknown = set(overrides) - set(values)
        if unknown:
            raise TypeError(f"unknown run settings: {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        sizes = list(sizes) if sizes else list(w.sizes[mode])
        return cls(mode=mode, sizes=sizes, main_size=w.main_size if w.main_size in sizes else sizes[-1],
                   out_dir=Path(out_dir) if out_dir is not None else common.LOCAL_RESULTS_DIR,
                   skip_peers=tuple(skip_peers), only_peers=tuple(only_peers), **values)

    def stem(self, name: str) -> str:
        """Where the run's files go, without the suffix."""
        return str(self.out_dir / (name + ("" if self.mode == "full" else f"_{self.mode}")))

    def wanted(self, peer: Peer) -> bool:
        return ((not self.only_peers or peer.name in self.only_peers or peer.name == "numba_fwd")
                and peer.name not in self.skip_peers)


class _PeerState:
    def __init__(self, peer: Peer):
        self.peer = peer
        self.fn = None
        self.status = "not run"  # ok | unavailable: ... | failed: ...
        self.make_s = None
        self.first_call_s = None
        self.last_size = None
        self.history: list[tuple[float, float]] = []  # (work, seconds per call) at the sizes it ran

    @property
    def alive(self) -> bool:
        return self.status in ("not run", "ok")


class _Run:
    """What one run of a workload gathers: its peers' states, the records of the sizes, the hard failures."""

    def __init__(self, w: Workload, settings: Settings, log: Callable[[str], None] | None):
        self.w = w
        self.settings = settings
        self.t_begin = time.perf_counter()
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))
        self.states = {p.name: _PeerState(p) for p in w.all_peers() if settings.wanted(p)}
        self.forward = self.states["numba_fwd"]
        self.hard: list[str] = []
        self.records: list[dict] = []
        self.checks: list[dict] = []
        self.notes = list(w.notes)

    def say(self, msg: str) -> None:
        self.log(f"[{self.w.name} {time.perf_counter() - self.t_begin:6.1f}s] {msg}")

    def peers(self) -> dict[str, Peer]:
        return {n: st.peer for n, st in self.states.items()}


def _exponent(history) -> float:
    """Growth exponent of time in work from the last two sizes a peer ran (1 with one size), in [1, 3]."""
    if len(history) < 2:
        return 1.0
    (w0, t0), (w1, t1) = history[-2], history[-1]
    if w1 <= w0 or t0 <= 0 or t1 <= 0:
        return 1.0
    return float(min(3.0, max(1.0, math.log(t1 / t0) / math.log(w1 / w0))))


def _predict(history, work: float) -> float:
    """Time of one call at ``work``, extrapolated from the largest size run with :func:`_exponent`."""
    w1, t1 = history[-1]
    return t1 * (work / w1) ** _exponent(history)


def _check_fd(label: str, ad, fd, rtol: float, noise) -> float:
    """Directional derivatives against finite differences: each must agree to ``rtol`` relative, or
    within its ``noise`` (how far the difference itself can be off).  Returns the largest relative
    error; raises ``common.CheckFailed``."""
    ad = np.asarray(ad, dtype=float)
    fd = np.asarray(fd, dtype=float)
    noise = np.broadcast_to(np.asarray(noise, dtype=float), fd.shape)
    if not (np.all(np.isfinite(ad)) and np.all(np.isfinite(fd))):
        raise common.CheckFailed(f"{label}: non-finite values: got={ad.tolist()} want={fd.tolist()}")
    diff = np.abs(ad - fd)
    bad = diff > np.maximum(rtol * np.abs(fd), noise)
    if np.any(bad):
        rows = [f"{label}: exceeds rtol={rtol:g} and the differences' own error"]
        rows += [f"    {i}: got {a!r} want {f!r} diff {dd:.3e} (fd error about {nz:.1e}){'  <-- FAIL' if b else ''}"
                 for i, (a, f, dd, nz, b) in enumerate(zip(ad, fd, diff, noise, bad))]
        raise common.CheckFailed("\n".join(rows))
    return float(np.max(diff / np.maximum(np.abs(fd), np.finfo(float).tiny)))


def _random_direction(args, wrt, rng):
    d = {i: rng.standard_normal(np.shape(args[i])) for i in wrt}
    norm = math.sqrt(sum(float(np.sum(np.square(v))) for v in d.values()))
    return {i: (v / norm if np.ndim(v) else float(v) / norm) for i, v in d.items()}


def _dot(grads, wrt, direction) -> float:
    return float(sum(np.sum(np.asarray(g) * direction[i]) for g, i in zip(grads, wrt)))


# --------------------------------------------------------------------------
# a run, step by step
# --------------------------------------------------------------------------

def run_workload(w: Workload, mode: str = "quick", log: Callable[[str], None] | None = None, **options) -> dict:
    """Run one workload in ``mode`` ("full", "quick", "tiny"); write JSON (+ PNG); return the result dict.

    ``options`` are :meth:`Settings.for_run`'s: ``sizes``, ``out_dir``, ``skip_peers``,
    ``only_peers`` and any key of ``MODE_DEFAULTS`` (``repeats``, ``plot``, ``fresh_processes``, ...).
    """
    settings = Settings.for_run(w, mode, **options)
    if settings.cache_compiles:
        enable_jax_compilation_cache()
    run = _Run(w, settings, log)
    machine = common.machine_info(("numpy", "numba", "llvmlite", "scipy", "srcgrad"))
    machine["versions"].update(library_versions())
    torch_threads = _torch_one_thread()
    try:
        _build(run)
        for k, size in enumerate(w.check_sizes):
            if not run.hard:
                _check_size(run, k, size)
        for si, size in enumerate(settings.sizes):
            if not run.hard:
                _run_size(run, si, size)
        tables = _tables_after_sizes(run)
        if run.hard:
            run.say("CHECK FAILED: " + " || ".join(run.hard))
        fresh = _fresh_process_measurements(run) if settings.fresh_processes and not run.hard else {}
        result = _result(run, machine, fresh, tables)
        _write(run, result)
        return result
    finally:
        if torch_threads is not None:
            load("torch").set_num_threads(torch_threads)


def _build(run: _Run) -> None:
    """Build every peer once; one that cannot be built is unavailable or failed, with the reason."""
    for st in run.states.values():
        t0 = time.perf_counter()
        try:
            st.fn = st.peer.make()
            st.make_s = time.perf_counter() - t0
            if run.settings.cache_compiles and st.peer.family in ("numba", "hand"):
                _enable_numba_cache(st.fn)
        except Unavailable as exc:
            st.status = f"unavailable: {exc}"
        except Exception as exc:  # noqa: BLE001
            st.status = f"failed: could not build: {common.describe_exception(exc)}"
        if not st.alive:
            run.say(f"{st.peer.name}: {st.status}")
    made = sorted(((st.make_s or 0.0, n) for n, st in run.states.items()), reverse=True)[:3]
    run.say(f"built the peers in {time.perf_counter() - run.t_begin:.1f} s since the start (slowest: "
            + ", ".join(f"{n} {common.fmt_time(t)}" for t, n in made) + ")")
    if not run.forward.alive:
        run.hard.append(f"Numba forward: {run.forward.status}")


def _new_record(run: _Run, size) -> dict:
    return {"size": size, "label": run.w.size_label(size), "work": run.w.work(size), "peers": {}, "max_err": {},
            "check_call_s": {}}


def _check_size(run: _Run, k: int, size) -> None:
    """One of the workload's check sizes: every peer checked (the forwards against plain Python too), not timed."""
    rec = _new_record(run, size)
    run.checks.append(rec)
    run.say(f"check {k + 1}/{len(run.w.check_sizes)} {rec['label']} ...")
    args = run.w.args(size)
    fd = _forward_and_differences(run, 999 - k, args, rec)
    if fd is None:
        return
    _check_python(run, args, rec)
    results = _call_peers(run, size, args, rec, timed=False)
    _check(run, size, args, rec, results, fd)


def _run_size(run: _Run, si: int, size) -> None:
    """One timed size: call and check every peer, record the tapes, time the ones that passed."""
    rec = _new_record(run, size)
    run.records.append(rec)
    run.say(f"size {si + 1}/{len(run.settings.sizes)} {rec['label']}: building arguments, checking ...")
    t_size = time.perf_counter()
    args = run.w.args(size)
    fd = _forward_and_differences(run, 1234 + si, args, rec)
    if fd is None:
        return
    results = _call_peers(run, size, args, rec, timed=True)
    _check(run, size, args, rec, results, fd)
    if run.hard:
        return
    _record_tapes(run, size, args, rec, results)
    _time(run, size, args, rec, results, t_size)


def _forward_and_differences(run: _Run, seed: int, args, rec: dict) -> tuple | None:
    """The forward's value and finite differences along random directions at ``args``: ``(value,
    directions, differences, their error)``, or None (a hard failure) if the forward raised."""
    w, fwd = run.w, run.forward
    try:
        t0 = time.perf_counter()
        value = float(fwd.fn(*args))
        if fwd.first_call_s is None:
            fwd.first_call_s = time.perf_counter() - t0
        fwd.status = "ok"
    except Exception as exc:  # noqa: BLE001
        run.hard.append(f"{rec['label']}: Numba forward raised {common.describe_exception(exc)}")
        return None
    rec["value"] = value
    rec["peers"]["numba_fwd"] = {}
    step = w.fd_step
    if w.fd_relative:
        step *= max(float(np.max(np.abs(args[i]))) for i in w.wrt)
    directions = _fd_directions(w, args, np.random.default_rng(seed), step, rec)
    fds = [common.fd4_directional(fwd.fn, args, d, step) for d in directions]
    fds2 = [common.fd4_directional(fwd.fn, args, d, 2 * step) for d in directions]
    # How far the differences themselves can be trusted: rounding in f alone moves them by about
    # eps |f| / step, more where f sums many terms; the two steps' disagreement measures both that
    # and the truncation error.
    noise = [max(30.0 * np.finfo(float).eps * abs(value) / step, 4.0 * abs(a - b)) for a, b in zip(fds, fds2)]
    rec["fd_directional"] = fds
    rec["fd_noise"] = noise
    return value, directions, fds, noise


def _fd_directions(w: Workload, args, rng, step: float, rec: dict) -> list:
    """``w.fd_directions`` random unit directions in the wrt arguments, each redrawn (100 times at most)
    while ``w.fd_margin`` puts a kink of the function within ``FD_KINK_STEPS`` steps along it."""
    directions, redrawn = [], 0
    while len(directions) < w.fd_directions:
        d = _random_direction(args, w.wrt, rng)
        if w.fd_margin is not None and redrawn < 100 and w.fd_margin(args, d) <= FD_KINK_STEPS * step:
            redrawn += 1
            continue
        directions.append(d)
    if w.fd_margin is not None:
        rec["fd_directions_redrawn_near_kinks"] = redrawn
    return directions


def _check_python(run: _Run, args, rec: dict) -> None:
    """Every compiled forward against the plain-Python function it compiles (a hard failure if they differ)."""
    for name, st in run.states.items():
        if st.peer.python is None or not st.alive:
            continue
        try:
            got = float(st.fn(*st.peer.convert(args)))
            rec["max_err"][f"{name}_vs_python"] = common.check_close(
                f"{rec['label']}: {name} vs plain Python", got, float(st.peer.python(*args)), run.w.rtol_value)
        except Exception as exc:  # noqa: BLE001 - CheckFailed, or the plain function raised
            run.hard.append(common.describe_exception(exc, 700) if not isinstance(exc, common.CheckFailed)
                            else str(exc))


def _not_run_here(run: _Run, st: _PeerState, size) -> dict | None:
    """Why a peer is not called at ``size`` (failed before, capped, or predicted too slow), or None."""
    if not st.alive:
        return {"status": st.status}
    peer, w = st.peer, run.w
    if peer.max_size is not None and w.work(size) > w.work(peer.max_size):
        return {"status": f"not run: {peer.cap_reason or 'capped'}"}
    if st.history and peer.family not in NEVER_SKIPPED:
        predicted = _predict(st.history, w.work(size))
        limit = run.settings.call_limit_s
        if predicted > limit:
            run.say(f"{peer.name}: too slow at {w.size_label(size)} (one call predicted "
                    f"{common.fmt_time(predicted)} > limit {common.fmt_time(limit)}); extrapolated")
            return {"status": "too slow at this size", "extrapolated_s": predicted,
                    "extrapolated_from": st.last_size, "extrapolation_exponent": _exponent(st.history)}
    return None


def _call_peers(run: _Run, size, args, rec: dict, timed: bool) -> dict[str, tuple]:
    """Call every peer that runs at ``size`` once: ``{name: (value, grads, its arguments, extras)}``.

    At a timed size the call's time stands in, until the timing replaces it with the median, for
    the prediction of the next size's; a peer that raises is failed."""
    results: dict[str, tuple] = {}
    for name, st in run.states.items():
        if name == "numba_fwd":
            continue
        why = _not_run_here(run, st, size)
        if why is not None:
            rec["peers"][name] = why
            continue
        fargs = st.peer.convert(args)
        try:
            t0 = time.perf_counter()
            out = st.fn(*fargs)
            dt = time.perf_counter() - t0
            val, grads, *rest = st.peer.result(out)
        except Exception as exc:  # noqa: BLE001
            st.status = f"failed: {rec['label']}: raised {common.describe_exception(exc)}"
            rec["peers"][name] = {"status": st.status}
            run.say(f"{name}: {st.status}")
            continue
        if st.first_call_s is None:
            st.first_call_s = dt
        rec["check_call_s"][name] = dt  # where a run's time goes (compiles happen here)
        if timed:
            st.last_size = size
            st.history.append((run.w.work(size), dt))
        results[name] = (val, grads, fargs, rest[0] if rest else {})
    return results


def _check(run: _Run, size, args, rec: dict, results: dict, fd: tuple) -> None:
    """Check every result against the forward and the finite differences, then against the reference
    peer; a peer that fails is marked so and dropped from ``results``."""
    problems: dict[str, str] = {}
    agrees: list[str] = []
    for name, res in results.items():
        try:
            if _check_one(run, size, args, rec, name, res, fd):
                agrees.append(name)
        except common.CheckFailed as exc:
            problems[name] = "wrong answer: " + str(exc).replace("\n", " | ")[:700]
    ref = next((r for r in run.w.reference if r in agrees), None)
    if ref is None and any(run.states[n].peer.kind != "forward" for n in results):
        run.hard.append(f"{rec['label']}: no peer agrees with the finite differences: "
                        + "; ".join(f"{k}: {v}" for k, v in problems.items()))
    rec["reference"] = ref
    if ref is not None:
        _check_against_reference(run, size, args, rec, results, ref, problems)
    for name, why in problems.items():
        run.states[name].status = f"failed: {why}"
        rec["peers"][name] = {"status": run.states[name].status}
        run.say(f"{name}: FAILED at {rec['label']}: {why[:300]}")
        results.pop(name)


def _check_one(run: _Run, size, args, rec: dict, name: str, res: tuple, fd: tuple) -> bool:
    """One peer's output: value against the forward; gradient shapes and directional derivatives against
    the finite differences; the workload's own check.  True for a gradient peer that passed; raises
    ``common.CheckFailed``."""
    w, label = run.w, rec["label"]
    val, grads, _, extras = res
    value, directions, fds, noise = fd
    if val is not None:
        rec["max_err"][f"{name}_value"] = common.check_close(
            f"{label}: {name} value vs Numba forward", val, value, w.rtol_value)
    if run.states[name].peer.kind == "forward":
        return False
    if len(grads) != len(w.wrt):
        raise common.CheckFailed(f"{len(grads)} gradients, want {len(w.wrt)}")
    for g, i, nm in zip(grads, w.wrt, w.wrt_names):
        if np.shape(g) != np.shape(args[i]):
            raise common.CheckFailed(f"d/d{nm} has shape {np.shape(g)}, want {np.shape(args[i])}")
    missing = [k for k in w.extra_outputs if k not in extras]
    if missing:
        raise common.CheckFailed(f"no {', '.join(missing)} in the output")
    rec["max_err"][f"{name}_vs_fd4"] = _check_fd(f"{label}: {name} directional derivatives vs fd4",
                                                 [_dot(grads, w.wrt, d) for d in directions], fds, w.rtol_fd, noise)
    if w.peer_check is not None:
        rec["max_err"][f"{name}_own_check"] = w.peer_check(size, args, val, grads, extras)
    return True


def _check_against_reference(run: _Run, size, args, rec: dict, results: dict, ref: str, problems: dict) -> None:
    """The reference's own check (``extra_check``: a hard failure), then every other gradient and extra
    output against the reference's, component by component."""
    w, label = run.w, rec["label"]
    ref_val, ref_grads, _, ref_extras = results[ref]
    if w.extra_check is not None:
        try:
            rec["max_err"][f"{ref}_extra_check"] = w.extra_check(size, args, ref_val, ref_grads)
        except common.CheckFailed as exc:
            run.hard.append(f"{label}: reference {ref} fails the workload's own check: {exc}")
    for name, (_, grads, _, extras) in results.items():
        if name == ref or name in problems or run.states[name].peer.kind == "forward":
            continue
        try:
            errs = [common.check_close_scaled(f"{label}: {name} d/d{nm} vs {ref}", g, gr, w.rtol_peers, w.floor_rel)
                    for g, gr, nm in zip(grads, ref_grads, w.wrt_names)]
            errs += [common.check_close_scaled(f"{label}: {name} {k} vs {ref}", np.asarray(extras[k], float),
                                               np.asarray(ref_extras[k], float), w.rtol_peers, w.floor_rel)
                     for k in w.extra_outputs]
            rec["max_err"][f"{name}_vs_{ref}"] = max(errs) if errs else 0.0
        except common.CheckFailed as exc:
            problems[name] = "wrong answer: " + str(exc).replace("\n", " | ")[:700]


def _record_tapes(run: _Run, size, args, rec: dict, results: dict) -> None:
    """The tape of every srcgrad peer that passed (``tape_bytes``), what the hand-written adjoint stores, and
    how many of the workload's ``tape_unit`` the size has."""
    tapes = {}
    for name in results:
        st = run.states[name]
        if st.peer.family != "srcgrad" or not hasattr(st.fn, "tape_bytes"):
            continue
        try:
            tapes[name] = int(st.fn.tape_bytes(*args))
        except Exception as exc:  # noqa: BLE001
            rec.setdefault("tape_bytes_errors", {})[name] = common.describe_exception(exc)
    if run.w.hand_tape_bytes is not None and "hand" in results:
        tapes["hand"] = int(run.w.hand_tape_bytes(size))
    rec["tape_bytes"] = tapes
    if run.w.tape_unit is not None:
        rec["tape_units"] = float(run.w.tape_unit[1](size))


def _time(run: _Run, size, args, rec: dict, results: dict, t_size: float) -> None:
    """Time the forward and every peer that passed, record the medians and the ratios."""
    timed = {"numba_fwd": (run.forward.fn, args)}
    for name, (_, _, fargs, _) in results.items():
        run.states[name].status = "ok"
        timed[name] = (run.states[name].fn, fargs)
    t_timing = time.perf_counter()
    slowest = sorted(rec["check_call_s"].items(), key=lambda kv: -kv[1])[:3]
    run.say(f"{rec['label']}: checks took {t_timing - t_size:.1f} s (slowest calls: "
            + ", ".join(f"{n} {common.fmt_time(t)}" for n, t in slowest) + f"); timing {len(timed)} peers "
            f"({run.settings.repeats} repeats) ...")
    timings = _sample(run, timed, rec)
    rec["phase_s"] = {"checks": t_timing - t_size, "timing": time.perf_counter() - t_timing}
    for name, s in timings.items():
        s.pop("samples", None)
        rec["peers"].setdefault(name, {})
        rec["peers"][name].update({"status": "ok", "timing": s})
        if name != "numba_fwd":
            run.states[name].history[-1] = (run.w.work(size), s["median"])
    rec["ratios"] = _ratios(rec, run.peers())
    run.say(f"{rec['label']}: timing took {rec['phase_s']['timing']:.1f} s: "
            + ", ".join(f"{n} {common.fmt_time(s['median'])}" for n, s in timings.items()))


def _sample(run: _Run, timed: dict, rec: dict) -> dict:
    """Timing samples of every peer in ``timed``, interleaved; a slow Python-taping peer (one call = many
    minimum samples) needs no calibration and no warm-up (its checked call was one): it is timed one call
    per sample, after the others."""
    s = run.settings
    slow = {n: v for n, v in timed.items()
            if run.states[n].peer.family in SLOW_FAMILIES
            and rec["check_call_s"].get(n, 0.0) >= SLOW_CALL_SAMPLES * s.min_sample_s}

    def interleaved(peers):
        return common.time_interleaved(peers, s.repeats, s.min_sample_s, max_seconds_per_peer=s.peer_seconds,
                                       min_repeats=s.min_repeats)

    timings = interleaved({n: v for n, v in timed.items() if n not in slow})
    for n, (fn, fa) in slow.items():
        t = _time_one_call_samples(fn, fa, s.repeats, s.peer_seconds, s.min_repeats, s.min_sample_s)
        timings[n] = t if t is not None else interleaved({n: (fn, fa)})[n]  # faster than its checked call said
    return timings


def _tables_after_sizes(run: _Run) -> dict:
    """The eval's own output (an argmin over the gradient) and the workload's extra tables, each computed with
    every checked peer; their failures are hard failures."""
    out: dict = {"eval": None, "extra_tables": []}
    if run.hard:
        return out
    states = {n: (st.peer, st.fn, st.status) for n, st in run.states.items()}
    hooks = ([("eval", run.w.eval_output)] if run.w.eval_output is not None else []) + [
        ("extra", h) for h in run.w.extra_tables]
    for kind, hook in hooks:
        if kind == "eval":
            run.say("eval: solving GradBench's eval with every peer that passed the checks ...")
        try:
            table = hook(states, run.settings.mode, run.say)
        except Exception as exc:  # noqa: BLE001 - the workload's own code: a hard failure
            run.hard.append(f"{kind}: raised {common.describe_exception(exc)}")
            continue
        if table is None:
            continue
        run.hard += [f"{kind}: {f}" for f in table.get("failures", [])]
        if kind == "eval":
            out["eval"] = table
        else:
            out["extra_tables"].append(table)
    return out


def _result(run: _Run, machine: dict, fresh: dict, tables: dict) -> dict:
    """The run's result: what the JSON file holds and the tables, plot and docs section are made from."""
    w, s = run.w, run.settings
    result = {
        "benchmark": w.name,
        "title": w.title,
        "description": w.description,
        "kind": w.kind,
        "mode": s.mode,
        "machine": machine,
        "config": {"repeats": s.repeats, "min_sample_s": s.min_sample_s, "call_limit_s": s.call_limit_s,
                   "peer_seconds": s.peer_seconds, "min_repeats": s.min_repeats,
                   "cache_compiles": s.cache_compiles, "sizes": s.sizes, "main_size": s.main_size,
                   "check_sizes": list(w.check_sizes),
                   "rtol_value": w.rtol_value, "rtol_peers": w.rtol_peers, "floor_rel": w.floor_rel,
                   "rtol_fd": w.rtol_fd, "fd_step": w.fd_step, "fd_directions": w.fd_directions,
                   "torch_threads": 1 if "torch" in _LIBS and not isinstance(_LIBS["torch"], Unavailable)
                   else None, "x_label": w.x_label,
                   "tape_unit": None if w.tape_unit is None else w.tape_unit[0]},
        "peers": {name: {"label": st.peer.label, "family": st.peer.family, "kind": st.peer.kind,
                         "own_forward": st.peer.own_forward, "status": st.status, "note": st.peer.note,
                         "make_s": st.make_s, "first_call_in_process_s": st.first_call_s,
                         "cap": None if st.peer.max_size is None else {"max_size": st.peer.max_size,
                                                                         "reason": st.peer.cap_reason}}
                  for name, st in run.states.items()},
        "checks": run.checks,
        "sizes": run.records,
        "fresh_process": fresh,
        "eval": tables["eval"],
        "extra_tables": tables["extra_tables"],
        "hard_failures": run.hard,
        "notes": run.notes,
    }
    result["goals"] = goals(result)
    result["total_wall_s"] = time.perf_counter() - run.t_begin
    return result


def _write(run: _Run, result: dict) -> None:
    """The JSON file, the plot, the table on stdout; says where they went."""
    from bench import plots, report
    stem = run.settings.stem(run.w.name)
    warning = common.load_warning(result["machine"])
    if warning:
        run.notes.append(warning)
    common.write_json(stem + ".json", result)
    t_out = time.perf_counter()
    if run.settings.plot:
        try:
            plots.plot_result(result, stem + ".png")
        except ImportError as exc:
            run.notes.append(f"no plot: {exc}")
            run.say(f"no plot: {exc}")
    report.print_result(result)
    run.say(f"wrote {stem}.json ({result['total_wall_s']:.1f} s; plot {time.perf_counter() - t_out:.1f} s)")


# --------------------------------------------------------------------------
# compile caches, timing helpers
# --------------------------------------------------------------------------

def compile_cache_dir() -> str:
    """Where quick and tiny runs keep JAX's compiled code (``$SRCGRAD_BENCH_CACHE_DIR``, default
    ``~/.cache/srcgrad-bench``)."""
    return os.environ.get("SRCGRAD_BENCH_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                     "srcgrad-bench")


def enable_jax_compilation_cache() -> None:
    """JAX's persistent compilation cache (a second quick run loads XLA's code instead of compiling)."""
    try:
        jax = load("jax")
        jax.config.update("jax_compilation_cache_dir", os.path.join(compile_cache_dir(), "jax"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except Exception:  # noqa: BLE001 - no JAX, or an older one: compile as usual
        pass


def _enable_numba_cache(fn) -> None:
    """Numba's disk cache for a dispatcher made without ``cache=True`` (the forward, a hand-written adjoint)."""
    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
        if isinstance(fn, Dispatcher) and isinstance(fn._cache, NullCache):
            fn.enable_caching()
    except Exception:  # noqa: BLE001 - e.g. a function without a source file: compile as usual
        pass


def _time_one_call_samples(fn, args, repeats: int, max_seconds: float, min_repeats: int,
                           min_sample_s: float) -> dict | None:
    """Samples of one call each (for a peer already warmed up by its checked call), as many as
    ``common.time_interleaved`` would take; None if one call is shorter than ``min_sample_s``."""
    import gc
    was = gc.isenabled()
    gc.disable()
    samples: list[float] = []
    try:
        while len(samples) < repeats and (len(samples) < min_repeats or sum(samples) < max_seconds):
            t0 = time.perf_counter()
            fn(*args)
            dt = time.perf_counter() - t0
            if not samples and dt < min_sample_s:
                return None
            samples.append(dt)
    finally:
        if was:
            gc.enable()
    out = common.summarize(samples)
    out["number"] = 1
    out["warmed_by_check"] = True
    return out


def _torch_one_thread() -> int | None:
    """Limit PyTorch to one thread (like Numba and srcgrad; steadier on a shared machine); return the old count."""
    try:
        torch = load("torch")
    except Unavailable:
        return None
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    return old


# --------------------------------------------------------------------------
# ratios and goals
# --------------------------------------------------------------------------

def _ratios(rec: dict, peers: Mapping[str, Peer]) -> dict:
    """Ratios of median times at one size: every gradient peer over the Numba forward (``x/forward``) and over
    its own forward where it has another (``x/<that forward>``), and every srcgrad peer over every other
    gradient peer (``srcgrad/x``)."""
    med = {n: p["timing"]["median"] for n, p in rec["peers"].items() if "timing" in p}
    grads = [n for n in med if n in peers and peers[n].kind != "forward"]
    out = {}
    for s in grads:
        if peers[s].family == "srcgrad":
            out.update({f"{s}/{n}": med[s] / med[n] for n in grads if n != s and med[n]})
    for n in grads:
        if med.get("numba_fwd"):
            out[f"{n}/forward"] = med[n] / med["numba_fwd"]
        own = peers[n].own_forward
        if own != "numba_fwd" and med.get(own):
            out[f"{n}/{own}"] = med[n] / med[own]
    return out


def goals(result: dict) -> dict:
    """Per size, for every srcgrad peer s: s/hand, s/<each JAX peer> (< 1: srcgrad faster), and <peer>/s for
    the PyTorch, autograd and tangent peers (> 1: srcgrad faster; ``<peer>/s_extrapolated`` when that peer's
    time is extrapolated)."""
    out: dict = {}
    peers = result["peers"]
    for rec in result["sizes"]:
        g: dict = {}
        for s in srcgrad_peers(result):
            ts, _ = peer_time(rec, s)
            if ts is None:
                continue
            for n in rec["peers"]:
                t, ex = peer_time(rec, n)
                if t is None or n == s or n not in peers or peers[n]["kind"] == "forward":
                    continue
                fam = peers[n]["family"]
                if n == "hand" or fam == "jax":
                    g[f"{s}/{n}"] = ts / t
                elif fam in SLOW_FAMILIES:
                    g[f"{n}/{s}"] = t / ts
                    if ex:
                        g[f"{n}/{s}_extrapolated"] = True
        if g or peer_time(rec, "srcgrad")[0] is not None:
            out[rec["label"]] = g
    return out


# --------------------------------------------------------------------------
# fresh processes: first call, start-up with a warm cache, peak memory
# --------------------------------------------------------------------------

def _module_name(w: Workload) -> str:
    """The importable name of the workload's module (``__main__`` under ``python -m bench.x``)."""
    if w.module != "__main__":
        return w.module
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    return spec.name if spec is not None else w.module


def _fresh_process_measurements(run: _Run) -> dict:
    s = run.settings
    out: dict = {"first_call_size": s.sizes[0], "memory_size": s.main_size, "peers": {}}
    for name, st in run.states.items():
        if st.status == "ok":
            out["peers"][name] = _fresh_runs(run, name)
    return out


def _fresh_runs(run: _Run, name: str) -> list[dict]:
    """A peer built and called in fresh processes: once, or for a srcgrad peer with an empty cache directory and
    then the same one, warm.  Memory at the main size if the peer ran there, else at the largest size it ran."""
    s = run.settings
    ran = [r["size"] for r in run.records if r["peers"].get(name, {}).get("status") == "ok"]
    mem_size = s.main_size if s.main_size in ran else (ran[-1] if ran else None)
    timeout = 900.0 if s.mode == "full" else 300.0
    srcgrad = run.states[name].peer.family == "srcgrad"
    cache = tempfile.mkdtemp(prefix="srcgrad-bench-cache-") if srcgrad else None
    runs = []
    try:
        for tag in ((" (empty cache)", " (warm cache)") if srcgrad else ("",)):
            run.say(f"fresh process: {name}{tag} ...")
            try:
                runs.append(_child(run.w, name, s.sizes[0], mem_size, cache, timeout))
            except Exception as exc:  # noqa: BLE001
                runs.append({"error": common.describe_exception(exc, 1000)})
                run.say(f"  {name}: fresh process failed: {common.describe_exception(exc)}")
    finally:
        if cache:
            shutil.rmtree(cache, ignore_errors=True)
    return runs


def _child(w: Workload, peer: str, first_size, mem_size, cache_dir, timeout: float) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(common.PROJECT_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH")
                                                                        else []))
    if cache_dir is not None:
        env["SRCGRAD_CACHE_DIR"] = str(cache_dir)
    cmd = [sys.executable, "-m", "bench.runner", "child", _module_name(w), w.name, peer, size_key(first_size),
           "null" if mem_size is None else size_key(mem_size)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=str(common.PROJECT_ROOT), env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    wall = time.perf_counter() - t0
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"rc={proc.returncode}: {proc.stderr[-1500:]}")
    res = json.loads(line[len("@@RESULT@@"):])
    res["process_wall_s"] = wall
    return res


def find_workload(module: str, name: str) -> Workload:
    """The workload called ``name`` among the module's (a module may define several)."""
    mod = importlib.import_module(module)
    found = [v for v in vars(mod).values() if isinstance(v, Workload) and v.name == name]
    if not found:
        raise LookupError(f"no workload {name!r} in {module}")
    return found[0]


def child_main(module: str, workload: str, peer_name: str, first_size_json: str, mem_size_json: str) -> int:
    """In a fresh process: build one peer, first call at the first size, then peak memory at ``mem_size``."""
    t_start = time.perf_counter()
    w = find_workload(module, workload)
    if peer_name.startswith("torch"):
        _torch_one_thread()
    peer = next(p for p in w.all_peers() if p.name == peer_name)
    t_import = time.perf_counter()
    first_size = _size_from_json(json.loads(first_size_json))
    args = peer.convert(w.args(first_size))
    t_args = time.perf_counter()
    fn = peer.make()
    t_make = time.perf_counter()
    fn(*args)
    t_first = time.perf_counter()
    steady = []
    for _ in range(3):
        a = time.perf_counter()
        fn(*args)
        steady.append(time.perf_counter() - a)
    res = {"import_s": t_import - t_start, "make_s": t_make - t_args, "first_call_s": t_first - t_make,
           "first_call_total_s": t_first - t_args, "steady_call_s": sorted(steady)[1],
           "to_first_result_s": t_first - t_start}
    mem_size = json.loads(mem_size_json)
    if mem_size is not None:
        mem_size = _size_from_json(mem_size)
        margs = peer.convert(w.args(mem_size))
        res["memory"] = common.peak_rss_of_call(fn, margs)
        res["memory"]["size"] = mem_size
        if peer.family == "srcgrad":
            try:
                res["memory"]["tape_bytes"] = int(fn.tape_bytes(*margs))
            except Exception:  # noqa: BLE001
                pass
    print("@@RESULT@@" + json.dumps(common._jsonable(res)), flush=True)
    return 0


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------

def main_for(w: Workload, argv=None, alternatives: Mapping[str, Workload] | None = None) -> int:
    """``python -m <module>``: run ``w`` (with ``--<flag>``, ``alternatives[flag]`` instead) in the mode and
    with the options of ``argv``; exit code 2 if a check failed."""
    alternatives = dict(alternatives or {})
    ap = argparse.ArgumentParser(prog=f"python -m {_module_name(w)}", description=w.title)
    for flag, other in alternatives.items():
        ap.add_argument(f"--{flag}", action="store_true", help=f"instead: {other.title} (writes {other.name}.json)")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, few repeats")
    ap.add_argument("--tiny", action="store_true", help="smallest sizes, no fresh processes (for tests)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--save", action="store_true",
                    help=f"write into bench/results (tracked) instead of {common.LOCAL_RESULTS_DIR.name}/")
    ap.add_argument("--out-dir", default=None, help="where the JSON and PNG go (default bench/results/local, "
                                                    "bench/results with --save)")
    ap.add_argument("--no-subprocess", action="store_true", help="skip the fresh-process measurements")
    ap.add_argument("--subprocess", action="store_true", help="measure in fresh processes even in quick/tiny mode")
    ap.add_argument("--skip-peers", default="", help="comma-separated peer names not to run")
    ap.add_argument("--only-peers", default="", help="comma-separated peer names to run (plus the forward)")
    ap.add_argument("--plot", action=argparse.BooleanOptionalAction, default=None,
                    help="draw the PNG plot (default: in a full run only)")
    opts = ap.parse_args(argv)
    chosen = next((o for f, o in alternatives.items() if getattr(opts, f.replace("-", "_"))), w)
    mode = "tiny" if opts.tiny else ("quick" if opts.quick else "full")
    res = run_workload(chosen, mode, repeats=opts.repeats, plot=opts.plot,
                       out_dir=opts.out_dir or (common.RESULTS_DIR if opts.save else None),
                       fresh_processes=False if opts.no_subprocess else (True if opts.subprocess else None),
                       skip_peers=[p for p in opts.skip_peers.split(",") if p],
                       only_peers=[p for p in opts.only_peers.split(",") if p])
    return 2 if res["hard_failures"] else 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "child":
        from bench import runner  # the workloads' Workload class is bench.runner's, not __main__'s
        sys.exit(runner.child_main(*sys.argv[2:7]))
    print("usage: python -m bench.runner child MODULE WORKLOAD PEER FIRST_SIZE_JSON MEM_SIZE_JSON", file=sys.stderr)
    sys.exit(2)
